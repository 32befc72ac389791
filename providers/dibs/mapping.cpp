// SPDX-License-Identifier: GPL-2.0
//
// Memory mapped through the uverbs file (mapping.hpp).
#include "mapping.hpp"

#include "dibs.hpp"

#include <bit>
#include <cerrno>
#include <string>
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

mapping map_queue_ring(int fd, std::uint64_t offset, std::uint64_t len, std::size_t entries_at,
                       std::size_t entry_size, std::uint32_t num, const char* what) {
    if ((num != 0 && !std::has_single_bit(num)) || len < entries_at + num * entry_size) {
        throw verbs_error(EPROTO, (std::string{what} + " the kernel described").c_str());
    }
    return mapping{fd, len, PROT_READ | PROT_WRITE, offset,
                   ("mmap of " + std::string{what}).c_str()};
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
