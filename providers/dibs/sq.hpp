// SPDX-License-Identifier: GPL-2.0
//
// The send queue ring (include/uapi/rdma/dibs-rdma-abi.h, "Send queue ring"): the QP's send
// queue, mapped at create. post_send writes the work requests it leaves to the kernel into it
// and rings the doorbell - a POST_SEND without work requests - once per batch: when the batch
// is full, before it executes a work request itself, and at its end. The kernel executes the
// batch during the doorbell (kernel/dibs_rdma_req.c), so the ring is empty between doorbells.
#ifndef DIBS_PROVIDER_SQ_HPP
#define DIBS_PROVIDER_SQ_HPP

#include "mapping.hpp"

#include <cstdint>
#include <span>

#include <infiniband/verbs.h>
#include <rdma/dibs-rdma-abi.h>

namespace dibs::provider {

class send_ring {
public:
    /// The most entries one doorbell takes (fewer if the kernel's ring is smaller).
    static constexpr std::uint32_t max_batch = 64;

    send_ring() = default; ///< none yet: create_qp maps one before the QP is used
    /// Maps the ring the kernel described in its CREATE_QP response; throws verbs_error.
    send_ring(int cmd_fd, const dibs_rdma_create_qp_resp& resp);

    /// Writes wr into the next entry: 0, EINVAL (too many SGEs) or ENOMEM (the batch is full:
    /// ring() first).
    [[nodiscard]] int add(const ibv_send_wr& wr) noexcept;
    /// Entries add() wrote since the last doorbell.
    [[nodiscard]] std::uint32_t pending() const noexcept { return prod_ - first_; }
    /// The doorbell for what add() wrote: 0, or the errno, with `bad` the position in the batch
    /// of the entry the kernel refused (the kernel executed those before it, and none after).
    [[nodiscard]] int ring(ibv_qp& qp, std::uint32_t& bad) noexcept;

private:
    mapping map_;
    dibs_rdma_sq_ring* ring_ = nullptr;
    std::span<dibs_rdma_send_wqe> entries_; ///< a power of two of them
    std::uint32_t batch_ = 0;               ///< entries per doorbell
    std::uint32_t prod_ = 0;                ///< next entry to write
    std::uint32_t first_ = 0;               ///< the batch's first entry: the kernel's cons
};

} // namespace dibs::provider

#endif // DIBS_PROVIDER_SQ_HPP
