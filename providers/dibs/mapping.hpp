// SPDX-License-Identifier: GPL-2.0
//
// Memory of the kernel driver mapped into the process through the uverbs file: CQ and queue
// rings, direct windows (include/uapi/rdma/dibs-rdma-abi.h).
#ifndef DIBS_PROVIDER_MAPPING_HPP
#define DIBS_PROVIDER_MAPPING_HPP

#include <cstddef>
#include <cstdint>
#include <span>

#include <infiniband/verbs.h>
#include <rdma/ib_user_verbs.h>

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

/// A queue ring as the kernel describes it in its CREATE_QP response: a Header, then `num`
/// entries of `entry_size` bytes from byte `entries_at` on, `num` a power of two or 0. Checks
/// the description and maps the ring read-write; throws verbs_error naming `what`: EPROTO for
/// a description that cannot be, else mmap's errno.
[[nodiscard]] mapping map_queue_ring(int fd, std::uint64_t offset, std::uint64_t len,
                                     std::size_t entries_at, std::size_t entry_size,
                                     std::uint32_t num, const char* what);

/// The same, typed: the ring's header and its entries in the mapping.
template <class Header, class Entry>
struct queue_ring {
    mapping map;
    Header* header = nullptr;
    std::span<Entry> entries;
};

template <class Header, class Entry>
[[nodiscard]] queue_ring<Header, Entry> map_queue_ring(int fd, std::uint64_t offset,
                                                       std::uint64_t len, std::size_t entries_at,
                                                       std::uint32_t num, const char* what) {
    queue_ring<Header, Entry> r{
        map_queue_ring(fd, offset, len, entries_at, sizeof(Entry), num, what), nullptr, {}};
    const std::span<std::byte> bytes{r.map.data(), r.map.size()};
    // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): the layout of the uapi header
    r.header = reinterpret_cast<Header*>(bytes.data());
    r.entries = {reinterpret_cast<Entry*>(bytes.subspan(entries_at).data()), num};
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
    return r;
}

/// Copies a work request's scatter/gather list into a queue ring entry's `sge` array (at most
/// its size; the caller has checked that the list fits).
inline void copy_sges(std::span<const ibv_sge> sges, std::span<ib_uverbs_sge> out) noexcept {
    for (std::size_t i = 0; i < sges.size() && i < out.size(); ++i) {
        out[i] = {.addr = sges[i].addr, .length = sges[i].length, .lkey = sges[i].lkey};
    }
}

} // namespace dibs::provider

#endif // DIBS_PROVIDER_MAPPING_HPP
