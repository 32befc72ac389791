// SPDX-License-Identifier: GPL-2.0
//
// Receiving without the kernel (recv.hpp). The kernel's side, which this mirrors for whole
// messages, is dibs_rdma_drain() in kernel/dibs_rdma_resp.c.
#include "recv.hpp"

#include "dibs.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <utility>

namespace dibs::provider {

int own_ring::open(ibv_qp& qp, std::optional<own_ring>& out) noexcept {
    std::unique_ptr<window> win;
    if (const int err = window::open_own_ring(qp, win); err != 0) {
        return err;
    }
    // the kernel maps the header and every slot, and grants writing (cons, armed)
    if (win->reach(0, offsetof(dibs_rdma_ring, resp_data), IBV_ACCESS_REMOTE_WRITE).empty()) {
        return EPROTO;
    }
    out.emplace(std::move(*win));
    return 0;
}

own_ring::own_ring(window&& win) noexcept
    : win_(std::move(win))
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the layout of the wire header
    , ring_(reinterpret_cast<dibs_rdma_ring*>(
          win_.reach(0, offsetof(dibs_rdma_ring, resp_data), IBV_ACCESS_REMOTE_WRITE).data())) {}

namespace {

constexpr std::uint32_t whole_message = DIBS_RDMA_SLOT_FIRST | DIBS_RDMA_SLOT_LAST;

/// Is h a message the provider completes itself? The rest is the kernel's.
bool is_simple(const dibs_rdma_slot_hdr& h) noexcept {
    if ((h.flags & whole_message) != whole_message) {
        return false;
    }
    if (h.opcode == DIBS_RDMA_MSG_SEND) {
        return h.len == h.total && h.len <= DIBS_RDMA_SLOT_DATA;
    }
    return h.opcode == DIBS_RDMA_MSG_WRITE_IMM && h.len == 0;
}

/// Places data into e's buffers if they pass the kernel's checks (dibs_rdma_place(): each
/// buffer the data reaches, whole, in an MR of pd with local write); false leaves the message
/// to the kernel, which completes it with the error.
bool place(const mr_table& mrs, const ibv_pd* pd, const dibs_rdma_recv_wqe& e,
           std::span<const std::byte> data) noexcept {
    const std::span<const ib_uverbs_sge> sges =
        std::span{e.sge}.first(std::min<std::size_t>(e.num_sge, DIBS_RDMA_MAX_SGE));
    std::size_t left = data.size();
    std::size_t used = 0; // buffers the data reaches
    for (; used < sges.size() && left != 0; ++used) {
        const ib_uverbs_sge& sge = sges[used];
        if (sge.length != 0 &&
            !mrs.check(sge.lkey, pd, sge.addr, sge.length, IBV_ACCESS_LOCAL_WRITE)) {
            return false;
        }
        left -= std::min<std::size_t>(left, sge.length);
    }
    if (left != 0) {
        return false; // too long for the receive
    }
    for (const ib_uverbs_sge& sge : sges.first(used)) {
        const std::size_t len = std::min<std::size_t>(data.size(), sge.length);
        // NOLINTNEXTLINE(performance-no-int-to-ptr,cppcoreguidelines-pro-type-reinterpret-cast)
        std::memcpy(reinterpret_cast<void*>(sge.addr), data.data(), len);
        data = data.subspan(len);
    }
    return true;
}

/// The completion of message h into receive e, as the kernel writes it.
void complete(const dibs_qp& qp, const dibs_rdma_slot_hdr& h, const dibs_rdma_recv_wqe& e,
              ibv_wc& wc) noexcept {
    wc = ibv_wc{};
    wc.wr_id = e.wr_id;
    wc.status = IBV_WC_SUCCESS;
    wc.opcode = h.opcode == DIBS_RDMA_MSG_SEND ? IBV_WC_RECV : IBV_WC_RECV_RDMA_WITH_IMM;
    wc.byte_len = h.total;
    wc.qp_num = qp.ibqp.qp_num;
    wc.src_qp = h.src_qpn;
    wc.slid = static_cast<std::uint16_t>(h.slid);
    if ((h.flags & DIBS_RDMA_SLOT_IMM) != 0) {
        wc.wc_flags = IBV_WC_WITH_IMM;
        wc.imm_data = h.imm;
    }
}

/// Is there a message at the ring's next slot, and a receive for it? Read without the drain, to
/// spare an empty poll taking it: whatever the kernel is doing, it cannot want the drain from a
/// process that does not hold it.
bool has_work(const dibs_qp& qp, const own_ring& own) noexcept {
    const std::uint64_t next = qp.rq.rx_cons();
    // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-constant-array-index): the index is masked
    dibs_rdma_slot& slot = own.ring().slots[next % DIBS_RDMA_RING_SLOTS];
    return std::atomic_ref(slot.hdr.seq).load(std::memory_order_relaxed) == next + 1 &&
           qp.rq.posted(qp.rq.cons()) != nullptr;
}

/// Drains whole messages into out while there are receives for them. Caller holds the drain.
/// Returns true if it stopped at something for the kernel.
bool drain(const mr_table& mrs, dibs_qp& qp, const own_ring& own, std::span<ibv_wc> out,
           std::size_t& n) noexcept {
    dibs_rdma_ring& ring = own.ring();
    // senders stop signalling: this process polls (the kernel sets it again when armed)
    if (std::atomic_ref(ring.armed).load(std::memory_order_relaxed) != 0) {
        std::atomic_ref(ring.armed).store(0, std::memory_order_relaxed);
    }
    const std::size_t first = n;
    std::uint64_t next = qp.rq.rx_cons();
    std::uint32_t rq_next = qp.rq.cons();
    bool kernel = false;
    for (; n < out.size(); ++n, ++next, ++rq_next) {
        // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-constant-array-index): the index is masked
        dibs_rdma_slot& slot = ring.slots[next % DIBS_RDMA_RING_SLOTS];
        // pairs with the sender's release of seq after the slot's body
        if (std::atomic_ref(slot.hdr.seq).load(std::memory_order_acquire) != next + 1) {
            break;
        }
        dibs_rdma_slot_hdr h{};
        std::memcpy(&h, &slot.hdr, sizeof(h)); // once: the peer may rewrite the slot
        if (!is_simple(h)) {
            kernel = true;
            break;
        }
        const dibs_rdma_recv_wqe* e = qp.rq.posted(rq_next);
        if (e == nullptr) {
            break; // the message waits for a receive
        }
        if (h.opcode == DIBS_RDMA_MSG_SEND &&
            !place(mrs, qp.ibqp.pd, *e, std::as_bytes(std::span{slot.data}).first(h.len))) {
            kernel = true;
            break;
        }
        complete(qp, h, *e, out[n]);
    }
    if (n == first) {
        return kernel;
    }
    // A window revoked while we read it (the QP's error state, the device going away) may
    // have shown us its sink page: the outcome of these receives is then the kernel's, which
    // flushes them. Valid behind a full fence: every read came before the revocation.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!own.valid()) {
        n = first;
        return true;
    }
    qp.rq.consumed(next, rq_next);
    // the slots were read before the sender may rewrite them
    std::atomic_ref(ring.cons).store(next, std::memory_order_release);
    return kernel;
}

} // namespace

bool receive(dibs_qp& qp, dibs_cq& cq, std::span<ibv_wc> out, std::size_t& n) noexcept {
    const dibs_context& ctx = *to_dibs_context(qp.ibqp.context);
    if (!ctx.bypass) {
        return true;
    }
    const std::lock_guard guard{qp.rq_lock};
    if (qp.state == IBV_QPS_RESET || qp.state == IBV_QPS_INIT) {
        return false; // nothing arrives
    }
    if (qp.state != IBV_QPS_RTR && qp.state != IBV_QPS_RTS) {
        return true; // the error state: the kernel flushes
    }
    if (!qp.own && (qp.no_own || own_ring::open(qp.ibqp, qp.own) != 0)) {
        qp.no_own = true; // until the next modify
        return true;
    }
    if (!qp.own->valid()) {
        return true; // revoked: the kernel's
    }
    if (!has_work(qp, *qp.own)) {
        return false;
    }
    if (!qp.rq.claim()) {
        return false; // the kernel drains: its completions go into the CQ ring
    }
    bool kernel = true;
    // an armed CQ's event is the kernel's to raise: it drains
    if (std::atomic_ref(cq.ring->notify).load(std::memory_order_relaxed) == 0) {
        // what the kernel completed before we took the drain comes first
        n += take_completions(cq, out.subspan(n));
        kernel = drain(*ctx.mrs, qp, *qp.own, out, n);
    }
    return qp.rq.release() || kernel;
}

} // namespace dibs::provider
