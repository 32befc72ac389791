// SPDX-License-Identifier: GPL-2.0
//
// Completion queues: the kernel driver writes completions into a ring mapped into the process
// (struct dibs_rdma_cq_ring, include/uapi/rdma/dibs-rdma-abi.h), which poll_cq reads without a
// system call, together with the completions of work the provider executed itself (dibs_cq,
// bypass.hpp) and the receives it completes itself (recv.hpp). Only what the provider cannot
// drain itself costs one: the uverbs POLL_CQ command, which makes the kernel drain the receive
// rings of the CQ's QPs into the ring. req_notify_cq is the REQ_NOTIFY_CQ command; resize_cq
// maps the new ring the kernel moved the outstanding completions into.
#include "dibs.hpp"

#include <atomic>
#include <bit>
#include <memory>
#include <span>
#include <utility>

namespace dibs::provider {

namespace {

using create_cq_resp = driver_resp<ib_uverbs_create_cq_resp, dibs_rdma_create_cq_resp>;
static_assert(offsetof(create_cq_resp, drv) == sizeof(ib_uverbs_create_cq_resp));

/// RESIZE_CQ's response, laid out as driver_resp would: the kernel's core part ends in a true
/// flexible array, which C++ cannot nest.
struct resize_cq_resp {
    std::uint32_t cqe;
    std::uint32_t reserved;
    dibs_rdma_create_cq_resp drv;
};
static_assert(offsetof(resize_cq_resp, drv) == sizeof(ib_uverbs_resize_cq_resp));

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
    return std::atomic_ref<std::uint32_t>(cq.ring.header->prod).load(std::memory_order_acquire);
}

/// Tells the kernel how many completions the provider holds (they take room in the CQ).
/// Caller holds cq.lock.
void publish_held(dibs_cq& cq) noexcept {
    std::atomic_ref<std::uint32_t>(cq.ring.header->held)
        .store(cq.local_count + cq.local_reserved, std::memory_order_relaxed);
}

/// Maps the ring a CREATE_CQ or RESIZE_CQ response describes.
queue_ring<dibs_rdma_cq_ring, dibs_rdma_cqe> map_ring(const ibv_cq& ibcq,
                                                      const dibs_rdma_create_cq_resp& drv) {
    if (drv.num_cqe == 0) {
        throw verbs_error(EPROTO, "CQ ring the kernel described");
    }
    return map_queue_ring<dibs_rdma_cq_ring, dibs_rdma_cqe>(ibcq.context->cmd_fd, drv.mmap_offset,
                                                            drv.mmap_len, DIBS_RDMA_CQ_RING_ENTRIES,
                                                            drv.num_cqe, "CQ ring");
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
            to_ibv_wc(cq.ring.entries[cq.cons % cq.num_cqe], wc[n]);
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
        std::atomic_ref<std::uint32_t>(cq.ring.header->cons)
            .store(cq.cons, std::memory_order_release);
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
        try {
            cq->ring = map_ring(cq->ibcq, resp.drv);
            cq->num_cqe = resp.drv.num_cqe;
            cq->local.resize(cq->num_cqe);
        } catch (...) {
            (void)ibv_cmd_destroy_cq(&cq->ibcq);
            throw;
        }
        return &cq.release()->ibcq;
    });
}

int resize_cq(ibv_cq* ibcq, int cqe) noexcept {
    dibs_cq& cq = *to_dibs_cq(ibcq);
    return errno_boundary([&] {
        if (cqe < 1 || cqe > DIBS_RDMA_MAX_CQE) {
            return EINVAL;
        }
        // room for our own completions in the new size, before the kernel lets go of the old ring
        std::vector<dibs_cq::local_cqe> local(std::bit_ceil(static_cast<unsigned>(cqe)));
        const std::lock_guard guard{cq.lock};
        // cons and held are published (take_completions, publish_held): the kernel moves the
        // entries from cons on
        struct ibv_resize_cq cmd {};
        resize_cq_resp resp{};
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the same leading fields
        auto* core = reinterpret_cast<ib_uverbs_resize_cq_resp*>(&resp);
        const int err =
            cmd_errno(ibv_cmd_resize_cq(ibcq, cqe, &cmd, sizeof(cmd), core, sizeof(resp)));
        if (err != 0) {
            return err; // EINVAL: the outstanding completions do not fit; the old ring stays
        }
        // From here on the kernel writes only the new ring: failing to map it loses the CQ
        if (resp.drv.num_cqe != local.size()) {
            throw verbs_error(EPROTO, "CQ ring the kernel resized");
        }
        cq.ring = map_ring(cq.ibcq, resp.drv);
        // our completions in order, each behind the same ring entries as before: those moved
        // to the front of the new ring, renumbered from the old cons
        for (std::uint32_t i = 0; i < cq.local_count; ++i) {
            dibs_cq::local_cqe e = cq.local[(cq.local_head + i) % cq.num_cqe];
            e.after = static_cast<std::int32_t>(e.after - cq.cons) > 0 ? e.after - cq.cons : 0;
            local[i] = e;
        }
        cq.local = std::move(local);
        cq.local_head = 0;
        cq.num_cqe = resp.drv.num_cqe;
        cq.cons = 0;
        return 0;
    });
}

int destroy_cq(ibv_cq* ibcq) noexcept {
    if (const int err = cmd_errno(ibv_cmd_destroy_cq(ibcq)); err != 0) {
        return err;
    }
    const std::unique_ptr<dibs_cq> cq{to_dibs_cq(ibcq)}; // released here, with its ring
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
