// SPDX-License-Identifier: GPL-2.0
//
// The send queue ring (sq.hpp). The kernel's side is kernel/dibs_rdma_req.c.
#include "sq.hpp"

#include "dibs.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <utility>

namespace dibs::provider {

// the producer and the consumer on separate cache lines; entries as the kernel lays them out
static_assert(offsetof(dibs_rdma_sq_ring, cons) == 64 && DIBS_RDMA_SQ_RING_ENTRIES == 128);
static_assert(sizeof(dibs_rdma_send_wqe) == 56 + DIBS_RDMA_MAX_SGE * sizeof(ib_uverbs_sge));
// opcodes and flags go into the ring as ibv_post_send gets them
static_assert(int{IBV_WR_RDMA_WRITE} == int{IB_UVERBS_WR_RDMA_WRITE} &&
              int{IBV_WR_ATOMIC_FETCH_AND_ADD} == int{IB_UVERBS_WR_ATOMIC_FETCH_AND_ADD});

send_ring::send_ring(int cmd_fd, const dibs_rdma_create_qp_resp& resp)
    : batch_(std::min(resp.sq_num_wqe, max_batch)) {
    auto q = map_queue_ring<dibs_rdma_sq_ring, dibs_rdma_send_wqe>(
        cmd_fd, resp.sq_mmap_offset, resp.sq_mmap_len, DIBS_RDMA_SQ_RING_ENTRIES, resp.sq_num_wqe,
        "the send queue ring");
    map_ = std::move(q.map);
    ring_ = q.header;
    entries_ = q.entries;
}

int send_ring::add(const ibv_send_wr& wr) noexcept {
    if (wr.num_sge < 0 || wr.num_sge > DIBS_RDMA_MAX_SGE) {
        return EINVAL;
    }
    if (prod_ == first_) {
        // a batch starts where the kernel stopped (what the process wrote there is its own)
        prod_ = first_ = std::atomic_ref(ring_->cons).load(std::memory_order_acquire);
    } else if (pending() == batch_) {
        return ENOMEM;
    }
    dibs_rdma_send_wqe& e = entries_[prod_ & (entries_.size() - 1)];
    e.wr_id = wr.wr_id;
    e.opcode = wr.opcode;
    e.send_flags = wr.send_flags;
    e.imm_data = wr.imm_data;
    e.num_sge = static_cast<std::uint32_t>(wr.num_sge);
    if (wr.opcode == IBV_WR_ATOMIC_CMP_AND_SWP || wr.opcode == IBV_WR_ATOMIC_FETCH_AND_ADD) {
        e.remote_addr = wr.wr.atomic.remote_addr;
        e.compare_add = wr.wr.atomic.compare_add;
        e.swap = wr.wr.atomic.swap;
        e.rkey = wr.wr.atomic.rkey;
    } else {
        e.remote_addr = wr.wr.rdma.remote_addr;
        e.compare_add = 0;
        e.swap = 0;
        e.rkey = wr.wr.rdma.rkey;
    }
    e.reserved = 0;
    copy_sges({wr.sg_list, static_cast<std::size_t>(wr.num_sge)}, e.sge);
    ++prod_;
    return 0;
}

int send_ring::ring(ibv_qp& qp, std::uint32_t& bad) noexcept {
    // the entries before prod
    std::atomic_ref(ring_->prod).store(prod_, std::memory_order_release);
    ibv_send_wr* unused = nullptr;
    const int err = cmd_errno(ibv_cmd_post_send(&qp, nullptr, &unused));
    // the kernel read the entries before cons: they may be rewritten
    const std::uint32_t cons = std::atomic_ref(ring_->cons).load(std::memory_order_acquire);
    if (err != 0) {
        bad = std::atomic_ref(ring_->bad).load(std::memory_order_relaxed) - first_;
    }
    // executed, refused, or (the command failed) never to be: the next batch starts at cons
    prod_ = first_ = cons;
    return err;
}

} // namespace dibs::provider
