// SPDX-License-Identifier: GPL-2.0
//
// Memory of the kernel driver mapped into the process through the uverbs file: CQ and receive
// queue rings, direct windows (include/uapi/rdma/dibs-rdma-abi.h).
#ifndef DIBS_PROVIDER_MAPPING_HPP
#define DIBS_PROVIDER_MAPPING_HPP

#include <cstddef>
#include <cstdint>

namespace dibs::provider {

/// One shared mapping of the uverbs file; unmapped when destroyed.
class mapping {
public:
    mapping() = default;
    /// Maps len bytes at offset of fd; throws verbs_error naming `what` on failure.
    mapping(int fd, std::size_t len, int prot, std::uint64_t offset, const char* what);
    ~mapping();
    mapping(const mapping&) = delete;
    mapping& operator=(const mapping&) = delete;
    mapping(mapping&& other) noexcept;
    mapping& operator=(mapping&& other) noexcept;

    [[nodiscard]] std::byte* data() const noexcept { return static_cast<std::byte*>(addr_); }
    [[nodiscard]] std::size_t size() const noexcept { return len_; }

private:
    void* addr_ = nullptr;
    std::size_t len_ = 0;
};

} // namespace dibs::provider

#endif // DIBS_PROVIDER_MAPPING_HPP
