// SPDX-License-Identifier: GPL-2.0
//
// The receive queue ring (rq.hpp). The kernel's side is kernel/dibs_rdma_resp.c.
#include "rq.hpp"

#include "dibs.hpp"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <utility>

namespace dibs::provider {

// the producer and the consumer on separate cache lines; entries as the kernel lays them out
static_assert(offsetof(dibs_rdma_rq_ring, cons) == 64 && DIBS_RDMA_RQ_RING_ENTRIES == 128);
static_assert(offsetof(dibs_rdma_rq_ring, rx_cons) % 8 == 0);
static_assert(sizeof(dibs_rdma_recv_wqe) == 16 + DIBS_RDMA_MAX_SGE * sizeof(ib_uverbs_sge));

// 0 entries: a QP without receive queue (every post is ENOMEM), or one of an SRQ
recv_ring::recv_ring(int cmd_fd, const dibs_rdma_create_qp_resp& resp)
    : recv_ring(cmd_fd, resp.mmap_offset, resp.mmap_len, resp.num_wqe, "the receive queue ring") {}

recv_ring::recv_ring(int cmd_fd, const dibs_rdma_create_srq_resp& resp)
    : recv_ring(cmd_fd, resp.mmap_offset, resp.mmap_len, resp.num_wqe, "the SRQ's ring") {}

// NOLINTNEXTLINE(bugprone-easily-swappable-parameters): the fields of the responses, in order
recv_ring::recv_ring(int cmd_fd, std::uint64_t offset, std::uint64_t len, std::uint32_t num,
                     const char* what) {
    auto q = map_queue_ring<dibs_rdma_rq_ring, dibs_rdma_recv_wqe>(
        cmd_fd, offset, len, DIBS_RDMA_RQ_RING_ENTRIES, num, what);
    map_ = std::move(q.map);
    ring_ = q.header;
    entries_ = q.entries;
}

int recv_ring::post(const ibv_recv_wr& wr) noexcept {
    if (wr.num_sge < 0 || wr.num_sge > DIBS_RDMA_MAX_SGE) {
        return EINVAL;
    }
    // the kernel read the entries before cons: they may be rewritten
    const std::uint32_t cons = std::atomic_ref(ring_->cons).load(std::memory_order_acquire);
    if (prod_ - cons >= entries_.size()) {
        return ENOMEM;
    }
    dibs_rdma_recv_wqe& e = entries_[prod_ & (entries_.size() - 1)];
    e.wr_id = wr.wr_id;
    e.num_sge = static_cast<std::uint32_t>(wr.num_sge);
    e.reserved = 0;
    copy_sges({wr.sg_list, static_cast<std::size_t>(wr.num_sge)}, e.sge);
    ++prod_;
    return 0;
}

bool recv_ring::publish() noexcept {
    if (prod_ == published_) {
        return false;
    }
    // the entries before prod
    std::atomic_ref(ring_->prod).store(prod_, std::memory_order_release);
    published_ = prod_;
    // store prod, full fence, read kick: the kernel does the reverse (the uapi header)
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return std::atomic_ref(ring_->kick).load(std::memory_order_relaxed) != 0;
}

bool recv_ring::claim() noexcept {
    std::uint32_t expected = 0;
    // pairs with the kernel's release of the drain: what it wrote before is seen
    return std::atomic_ref(ring_->rx_owner)
        .compare_exchange_strong(expected, DIBS_RDMA_RX_USER, std::memory_order_acquire,
                                 std::memory_order_relaxed);
}

bool recv_ring::release() noexcept {
    const std::uint32_t old =
        std::atomic_ref(ring_->rx_owner).exchange(0, std::memory_order_acq_rel);
    return (old & DIBS_RDMA_RX_PENDING) != 0;
}

std::uint64_t recv_ring::rx_cons() const noexcept {
    return std::atomic_ref(ring_->rx_cons).load(std::memory_order_relaxed);
}

std::uint32_t recv_ring::cons() const noexcept {
    return std::atomic_ref(ring_->cons).load(std::memory_order_relaxed);
}

const dibs_rdma_recv_wqe* recv_ring::posted(std::uint32_t idx) const noexcept {
    // posts and drains both hold rq_lock: everything posted is published
    const std::uint32_t ahead = published_ - idx;
    return ahead != 0 && ahead <= entries_.size() ? &entries_[idx & (entries_.size() - 1)]
                                                  : nullptr;
}

// NOLINTNEXTLINE(bugprone-easily-swappable-parameters): named as the uapi header names them
void recv_ring::consumed(std::uint64_t rx_cons, std::uint32_t cons) noexcept {
    std::atomic_ref(ring_->rx_cons).store(rx_cons, std::memory_order_relaxed);
    // the entries were read before post() may rewrite them
    std::atomic_ref(ring_->cons).store(cons, std::memory_order_release);
}

} // namespace dibs::provider
