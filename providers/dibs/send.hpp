// SPDX-License-Identifier: GPL-2.0
//
// Messages without the kernel: SEND and WRITE_WITH_IMM that the provider writes into the peer
// QP's receive ring (include/uapi/rdma/dibs-rdma-wire.h) through a ring window (the uapi
// header, "Ring windows"), slot by slot as the kernel driver writes them
// (kernel/dibs_rdma_req.c). The owner drains the ring into its posted receives: its provider
// in poll_cq (recv.hpp), or its kernel driver when signalled; the provider signals -
// the doorbell, a POST_SEND without work requests - only where the ring's armed word asks for
// it (the receive CQ is armed) or a message fills the ring.
#ifndef DIBS_PROVIDER_SEND_HPP
#define DIBS_PROVIDER_SEND_HPP

#include "bypass.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <infiniband/verbs.h>
#include <rdma/dibs-rdma-wire.h>

namespace dibs::provider {

/// One message for the peer's ring: the slot header fields that are the same in all its slots.
struct message {
    std::uint32_t opcode = 0; ///< DIBS_RDMA_MSG_SEND or DIBS_RDMA_MSG_WRITE_IMM
    std::uint64_t total = 0;  ///< bytes of the message (SEND) or of the RDMA WRITE
    std::uint32_t imm = 0;    ///< network order
    std::uint32_t flags = 0;  ///< DIBS_RDMA_SLOT_IMM, DIBS_RDMA_SLOT_SOLICITED
};

/// A QP's ring window onto its peer QP's receive ring, and where the QP writes next.
class peer_ring {
public:
    /// Opens the ring window of qp: 0, the kernel's errno (the uapi header lists them), or
    /// ENOMEM.
    [[nodiscard]] static int open(ibv_qp& qp, std::optional<peer_ring>& out) noexcept;
    /// Takes win, a ring window of the QP numbered src_qpn, whose port has LID slid.
    peer_ring(window&& win, std::uint32_t src_qpn, std::uint32_t slid) noexcept;

    /// False once the kernel revoked the window (see window::valid()).
    [[nodiscard]] bool valid() const noexcept { return win_.valid(); }
    /// The kernel may have written the ring since: find its tail again before the next message.
    void stale() noexcept { stale_ = true; }
    /// Is there room for a message of total data bytes (SEND) or none (WRITE_WITH_IMM)?
    [[nodiscard]] bool room(std::uint64_t data_bytes) noexcept;
    /// Writes a message that room() made room for; for a SEND, data is its bytes (data_bytes in
    /// all). Ends with a full fence, so valid() may be asked next. Returns true if the owner
    /// must be signalled.
    [[nodiscard]] bool put(const message& m, std::span<const std::span<std::byte>> data) noexcept;

private:
    [[nodiscard]] dibs_rdma_slot& slot(std::uint64_t seq) const noexcept;
    /// The first free slot: after the owner's consumer index, past the complete slots.
    [[nodiscard]] std::uint64_t tail() const noexcept;

    window win_;
    dibs_rdma_ring* ring_; ///< the window's bytes: header and slots only
    std::uint32_t src_qpn_;
    std::uint32_t slid_;
    std::uint64_t prod_ = 0; ///< next slot to write
    std::uint64_t cons_ = 0; ///< the owner's consumer index, as room() last read it
    std::uint64_t gen_ = 0;  ///< the owner's generation that prod_ belongs to
    bool stale_ = true;
};

/// Slots a message takes: one at least, then one per DIBS_RDMA_SLOT_DATA bytes of data.
[[nodiscard]] constexpr std::uint64_t slots_for(std::uint64_t data_bytes) noexcept {
    return data_bytes == 0 ? 1 : (data_bytes + DIBS_RDMA_SLOT_DATA - 1) / DIBS_RDMA_SLOT_DATA;
}

} // namespace dibs::provider

#endif // DIBS_PROVIDER_SEND_HPP
