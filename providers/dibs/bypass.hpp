// SPDX-License-Identifier: GPL-2.0
//
// The kernel-bypass data path: RDMA WRITE, READ and atomics that the provider executes itself,
// through direct windows (include/uapi/rdma/dibs-rdma-abi.h, "Direct windows"), SEND and
// WRITE_WITH_IMM that it writes into the peer's receive ring through a ring window (send.hpp),
// all completed in the CQ next to what the kernel completes.
//
// What goes this way: a WR of a connected RC or UC QP whose peer the kernel lets it map (a
// direct peer: dibs_loopback) - for RDMA and atomics, on RC only, onto a target MR whose
// rights include reading, inside the MR's whole pages; for a message, one that fits in the
// room left in the peer's ring - with local SGEs that pass the checks the kernel makes (mr_table),
// while the send CQ is not armed (an armed CQ's event is the kernel's to raise) and has room.
// Everything else goes to the kernel through the send queue ring (sq.hpp), one doorbell per run of
// consecutive such WRs, in order with what the provider executes: both are synchronous. With
// DIBS_RDMA_BYPASS=0 in the environment, everything is a POST_SEND with its WRs.
#ifndef DIBS_PROVIDER_BYPASS_HPP
#define DIBS_PROVIDER_BYPASS_HPP

#include "mapping.hpp"
#include "verbs_abi.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <span>
#include <unordered_map>

#include <rdma/dibs-rdma-abi.h>

namespace dibs::provider {

/// The context's MRs by lkey: the checks the kernel makes on a local SGE (dibs_rdma_mr_check()).
class mr_table {
public:
    void add(std::uint32_t lkey, const void* addr, std::uint64_t length, const ibv_pd* pd,
             int access);
    void remove(std::uint32_t lkey) noexcept;
    /// Is [addr, addr + len) inside MR lkey of pd, which allows access (0 or LOCAL_WRITE)?
    [[nodiscard]] bool check(std::uint32_t lkey, const ibv_pd* pd, std::uint64_t addr,
                             std::uint64_t len, int access) const noexcept;

private:
    struct entry {
        std::uint64_t addr;
        std::uint64_t length;
        const ibv_pd* pd;
        int access;
    };
    mutable std::shared_mutex lock_;
    std::unordered_map<std::uint32_t, entry> by_lkey_;
};

/// A direct window of a QP onto one peer MR.
class window {
public:
    /// Opens a window of qp onto rkey; returns 0 or the kernel's errno (the uapi header lists
    /// them), or ENOMEM.
    [[nodiscard]] static int open(ibv_qp& qp, std::uint32_t rkey,
                                  std::unique_ptr<window>& out) noexcept;
    /// Opens a ring window of qp onto its peer QP's receive ring (offset 0 = the ring's first
    /// byte; "Ring windows" in the uapi header); errors as for open().
    [[nodiscard]] static int open_ring(ibv_qp& qp, std::unique_ptr<window>& out) noexcept;
    /// Opens an own-ring window of qp onto its own receive ring (offset 0 = the ring's first
    /// byte; "Receiving in the process" in the uapi header); errors as for open().
    [[nodiscard]] static int open_own_ring(ibv_qp& qp, std::unique_ptr<window>& out) noexcept;
    window() = default; ///< closed; open() makes real ones

    [[nodiscard]] std::uint32_t rkey() const noexcept { return rkey_; }
    /// The window's bytes for [raddr, raddr + len), if they lie inside it and it grants
    /// access (IBV_ACCESS_REMOTE_*); else empty.
    [[nodiscard]] std::span<std::byte> reach(std::uint64_t raddr, std::uint64_t len,
                                             int access) const noexcept;
    /// False once the kernel revoked the window. After an operation, call it behind a full
    /// fence: true then means that the operation reached the MR while it was the MR.
    [[nodiscard]] bool valid() const noexcept;

private:
    [[nodiscard]] static int open(ibv_qp& qp, std::uint16_t method, const std::uint32_t* rkey,
                                  std::unique_ptr<window>& out) noexcept;

    mapping data_;
    mapping state_;
    std::uint32_t rkey_ = 0;
    std::uint64_t iova_ = 0;
    std::uint64_t length_ = 0;
    int access_ = 0;
};

struct dibs_qp;
struct dibs_context;
class peer_ring;

/// A WR resolved for the bypass data path: its local memory, the window memory, the ring.
struct plan {
    std::array<std::span<std::byte>, DIBS_RDMA_MAX_SGE> local{};
    std::size_t nsge = 0;
    std::uint64_t total = 0;
    std::span<std::byte> remote; ///< total bytes of the window (RDMA, atomics, WRITE_WITH_IMM)
    window* win = nullptr;
    peer_ring* ring = nullptr; ///< SEND, WRITE_WITH_IMM
};

/// Can wr go the bypass data path (see the top of this file)? Fills p if so; may open a
/// window, but touches no data. Caller holds qp.sq_lock.
[[nodiscard]] bool prepare(const dibs_context& ctx, dibs_qp& qp, const ibv_send_wr& wr,
                           plan& p) noexcept;

/// What execute() did with a WR.
enum class outcome {
    done,   ///< executed, and completed if it had to be
    kernel, ///< not executed: post it to the kernel
};

/// Executes a prepared WR. Caller holds qp.sq_lock and has posted every earlier WR.
[[nodiscard]] outcome execute(dibs_qp& qp, const ibv_send_wr& wr, const plan& p) noexcept;

/// Is the bypass data path on? Read once per process: DIBS_RDMA_BYPASS=0 turns it off.
[[nodiscard]] bool bypass_enabled() noexcept;

} // namespace dibs::provider

#endif // DIBS_PROVIDER_BYPASS_HPP
