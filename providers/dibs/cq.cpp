// SPDX-License-Identifier: GPL-2.0
//
// Completion queues: the kernel driver writes completions into a ring mapped into the process
// (struct dibs_rdma_cq_ring, include/uapi/rdma/dibs-rdma-abi.h), which poll_cq reads without a
// system call, together with the completions of work the provider executed itself (dibs_cq,
// bypass.hpp) and the receives it completes itself (recv.hpp). Only what the provider cannot
// drain itself costs one: the uverbs POLL_CQ command, which makes the kernel drain the receive
// rings of the CQ's QPs into the ring. req_notify_cq is the REQ_NOTIFY_CQ command.
#include "dibs.hpp"

#include <atomic>
#include <memory>
#include <span>

#include <sys/mman.h>

namespace dibs::provider {

namespace {

using create_cq_resp = driver_resp<ib_uverbs_create_cq_resp, dibs_rdma_create_cq_resp>;
static_assert(offsetof(create_cq_resp, drv) == sizeof(ib_uverbs_create_cq_resp));

void to_ibv_wc(const dibs_rdma_cqe& e, ibv_wc& wc) noexcept {
    wc = ibv_wc{};
    wc.wr_id = e.wr_id;
    wc.status = static_cast<ibv_wc_status>(e.status);
    wc.opcode = static_cast<ibv_wc_opcode>(e.opcode);
    wc.vendor_err = e.vendor_err;
    wc.byte_len = e.byte_len;
    wc.imm_data = e.imm_data;
    wc.qp_num = e.qp_num;
    wc.src_qp = e.src_qp;
    wc.wc_flags = e.wc_flags;
    wc.pkey_index = e.pkey_index;
    wc.slid = e.slid;
    wc.sl = e.sl;
    wc.dlid_path_bits = e.dlid_path_bits;
}

std::uint32_t ring_prod(const dibs_cq& cq) noexcept {
    return std::atomic_ref<std::uint32_t>(cq.ring->prod).load(std::memory_order_acquire);
}

/// Tells the kernel how many completions the provider holds (they take room in the CQ).
/// Caller holds cq.lock.
void publish_held(dibs_cq& cq) noexcept {
    std::atomic_ref<std::uint32_t>(cq.ring->held)
        .store(cq.local_count + cq.local_reserved, std::memory_order_relaxed);
}

} // namespace

std::size_t take_completions(dibs_cq& cq, std::span<ibv_wc> wc) noexcept {
    const std::uint32_t prod = ring_prod(cq);
    const std::uint32_t first = cq.cons;
    std::size_t n = 0;
    for (; n < wc.size(); ++n) {
        const bool ring_first =
            cq.cons != prod &&
            (cq.local_count == 0 ||
             static_cast<std::int32_t>(cq.local[cq.local_head].after - cq.cons) > 0);
        if (ring_first) {
            to_ibv_wc(cq.entries[cq.cons % cq.num_cqe], wc[n]);
            ++cq.cons;
        } else if (cq.local_count != 0) {
            to_ibv_wc(cq.local[cq.local_head].cqe, wc[n]);
            cq.local_head = (cq.local_head + 1) % cq.num_cqe;
            --cq.local_count;
            publish_held(cq);
        } else {
            break;
        }
    }
    if (cq.cons != first) {
        // the entries are read before the kernel may reuse them
        std::atomic_ref<std::uint32_t>(cq.ring->cons).store(cq.cons, std::memory_order_release);
    }
    return n;
}

ibv_cq* create_cq(ibv_context* ibctx, int cqe, ibv_comp_channel* channel,
                  int comp_vector) noexcept {
    return create_boundary([&] {
        auto cq = std::make_unique<dibs_cq>();
        struct ibv_create_cq cmd {};
        create_cq_resp resp{};
        check_cmd(ibv_cmd_create_cq(ibctx, cqe, channel, comp_vector, &cq->ibcq, &cmd, sizeof(cmd),
                                    &resp.core, sizeof(resp)),
                  "ibv_cmd_create_cq");
        void* ring = ::mmap(nullptr, resp.drv.mmap_len, PROT_READ | PROT_WRITE, MAP_SHARED,
                            ibctx->cmd_fd, static_cast<off_t>(resp.drv.mmap_offset));
        if (ring == MAP_FAILED || resp.drv.num_cqe == 0) {
            const int err = ring == MAP_FAILED ? errno : EPROTO;
            if (ring != MAP_FAILED) {
                ::munmap(ring, resp.drv.mmap_len);
            }
            (void)ibv_cmd_destroy_cq(&cq->ibcq);
            throw verbs_error(err, "mmap of the CQ ring");
        }
        cq->ring = static_cast<dibs_rdma_cq_ring*>(ring);
        cq->entries = std::span{
            reinterpret_cast<dibs_rdma_cqe*>(static_cast<char*>(ring) + DIBS_RDMA_CQ_RING_ENTRIES),
            resp.drv.num_cqe};
        cq->ring_len = resp.drv.mmap_len;
        cq->num_cqe = resp.drv.num_cqe;
        cq->local.resize(cq->num_cqe);
        return &cq.release()->ibcq;
    });
}

int destroy_cq(ibv_cq* ibcq) noexcept {
    if (const int err = cmd_errno(ibv_cmd_destroy_cq(ibcq)); err != 0) {
        return err;
    }
    const std::unique_ptr<dibs_cq> cq{to_dibs_cq(ibcq)}; // released here
    ::munmap(cq->ring, cq->ring_len);
    return 0;
}

int poll_cq(ibv_cq* ibcq, int num_entries, ibv_wc* wc) noexcept {
    dibs_cq& cq = *to_dibs_cq(ibcq);
    if (num_entries <= 0) {
        return 0;
    }
    const std::span<ibv_wc> out{wc, static_cast<std::size_t>(num_entries)};
    const std::lock_guard guard{cq.lock};
    std::size_t n = take_completions(cq, out);
    if (n != 0) {
        return static_cast<int>(n);
    }
    // Empty: drain the receive rings ourselves, each QP in turn first
    bool kernel = false;
    const std::size_t nqps = cq.rqps.size();
    for (std::size_t i = 0; i < nqps && n < out.size(); ++i) {
        kernel |= receive(*cq.rqps[(cq.next_rqp + i) % nqps], cq, out, n);
    }
    cq.next_rqp = nqps != 0 ? (cq.next_rqp + 1) % nqps : 0;
    if (kernel) {
        // what only the kernel can drain goes into the CQ ring: look again after it
        ibv_wc unused{};
        if (ibv_cmd_poll_cq(ibcq, 1, &unused) < 0 && n == 0) {
            return -1;
        }
        n += take_completions(cq, out.subspan(n));
    }
    return static_cast<int>(n);
}

bool reserve_local(dibs_cq& cq) noexcept {
    const std::lock_guard guard{cq.lock};
    const std::uint32_t used = ring_prod(cq) - cq.cons + cq.local_count + cq.local_reserved;
    if (used >= cq.num_cqe) {
        return false;
    }
    ++cq.local_reserved;
    publish_held(cq);
    return true;
}

void unreserve_local(dibs_cq& cq) noexcept {
    const std::lock_guard guard{cq.lock};
    --cq.local_reserved;
    publish_held(cq);
}

void push_local(dibs_cq& cq, const dibs_rdma_cqe& cqe) noexcept {
    const std::lock_guard guard{cq.lock};
    --cq.local_reserved;
    // reserved room: local_count < num_cqe
    cq.local[(cq.local_head + cq.local_count) % cq.num_cqe] = {cqe, ring_prod(cq)};
    ++cq.local_count;
    publish_held(cq);
}

int req_notify_cq(ibv_cq* ibcq, int solicited_only) noexcept {
    return cmd_errno(ibv_cmd_req_notify_cq(ibcq, solicited_only));
}

} // namespace dibs::provider
