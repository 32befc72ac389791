// SPDX-License-Identifier: GPL-2.0
//
// Memory mapped through the uverbs file (mapping.hpp).
#include "mapping.hpp"

#include "dibs.hpp"

#include <cerrno>
#include <utility>

#include <sys/mman.h>

namespace dibs::provider {

mapping::mapping(int fd, std::size_t len, int prot, std::uint64_t offset, const char* what)
    : addr_(::mmap(nullptr, len, prot, MAP_SHARED, fd, static_cast<off_t>(offset)))
    , len_(len) {
    if (addr_ == MAP_FAILED) {
        addr_ = nullptr;
        throw verbs_error(errno, what);
    }
}

mapping::~mapping() {
    if (addr_ != nullptr) {
        ::munmap(addr_, len_);
    }
}

mapping::mapping(mapping&& other) noexcept
    : addr_(std::exchange(other.addr_, nullptr))
    , len_(std::exchange(other.len_, 0)) {}

mapping& mapping::operator=(mapping&& other) noexcept {
    if (this != &other) {
        mapping old{std::move(*this)};
        addr_ = std::exchange(other.addr_, nullptr);
        len_ = std::exchange(other.len_, 0);
    }
    return *this;
}

} // namespace dibs::provider
