// SPDX-License-Identifier: GPL-2.0
//
// The receive queue ring (include/uapi/rdma/dibs-rdma-abi.h, "Receive queue ring"): the QP's
// receive queue, mapped at create - or an SRQ's ("Shared receive queue ring"), which only the
// kernel consumes (srq.cpp). post_recv writes WQEs into it without a system call; the
// kernel reads them when a message arrives, or the provider itself while it holds the drain
// (recv.hpp). The kernel is entered - a POST_RECV without work
// requests, once per post_recv call - only when it asked for it: a message waits for a
// receive, or the QP is in the error state and what is posted must be flushed.
#ifndef DIBS_PROVIDER_RQ_HPP
#define DIBS_PROVIDER_RQ_HPP

#include "mapping.hpp"

#include <cstdint>
#include <span>

#include <infiniband/verbs.h>
#include <rdma/dibs-rdma-abi.h>

namespace dibs::provider {

class recv_ring {
public:
    recv_ring() = default; ///< none yet: create_qp maps one before the QP is used
    /// Maps the ring the kernel described in its CREATE_QP response; throws verbs_error.
    recv_ring(int cmd_fd, const dibs_rdma_create_qp_resp& resp);
    /// Maps an SRQ's ring, from its CREATE_SRQ response; throws verbs_error.
    recv_ring(int cmd_fd, const dibs_rdma_create_srq_resp& resp);

    /// Writes wr into the next entry: 0, EINVAL (too many SGEs) or ENOMEM (the ring is full).
    /// The kernel sees it after publish().
    [[nodiscard]] int post(const ibv_recv_wr& wr) noexcept;
    /// Hands what post() wrote to the kernel; true if the kernel asked for a doorbell.
    [[nodiscard]] bool publish() noexcept;

    // The drain ("Receiving in the process" in the uapi header), for recv.cpp; not for an SRQ.
    // Callers hold the QP's rq_lock; all but claim() also hold the drain.
    /// Takes the drain if nobody holds it.
    [[nodiscard]] bool claim() noexcept;
    /// Gives it back; true if the kernel asked for it meanwhile (make a POLL_CQ command).
    [[nodiscard]] bool release() noexcept;
    /// The receive ring's next slot, and the next entry to consume, where the last drain stopped.
    [[nodiscard]] std::uint64_t rx_cons() const noexcept;
    [[nodiscard]] std::uint32_t cons() const noexcept;
    /// Entry idx if it is posted, else nullptr.
    [[nodiscard]] const dibs_rdma_recv_wqe* posted(std::uint32_t idx) const noexcept;
    /// Publishes where this drain stopped: the entries before cons may be reused.
    void consumed(std::uint64_t rx_cons, std::uint32_t cons) noexcept;

private:
    recv_ring(int cmd_fd, std::uint64_t offset, std::uint64_t len, std::uint32_t num,
              const char* what);

    mapping map_;
    dibs_rdma_rq_ring* ring_ = nullptr;
    std::span<dibs_rdma_recv_wqe> entries_; ///< a power of two of them, or none
    std::uint32_t prod_ = 0;                ///< next entry to write
    std::uint32_t published_ = 0;           ///< ring_->prod as last stored
};

} // namespace dibs::provider

#endif // DIBS_PROVIDER_RQ_HPP
