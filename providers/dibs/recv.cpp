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

/// A message at the head of the ring, all of whose slots are there.
struct whole_message {
    std::uint64_t slots = 0;   ///< 0: some are still to come
    dibs_rdma_slot_hdr last{}; ///< its last slot's header: the flags and the immediate
};

/// The message whose first slot is h, at index next: whole, still to come, or - malformed, or
/// longer than the ring (the kernel consumes those slot by slot) - nullopt: the kernel's.
std::optional<whole_message> find_message(dibs_rdma_ring& ring, std::uint64_t next,
                                          const dibs_rdma_slot_hdr& h) noexcept {
    if ((h.flags & DIBS_RDMA_SLOT_FIRST) == 0 || h.len > DIBS_RDMA_SLOT_DATA) {
        return std::nullopt;
    }
    if (h.opcode == DIBS_RDMA_MSG_WRITE_IMM) {
        const bool ok = (h.flags & DIBS_RDMA_SLOT_LAST) != 0 && h.len == 0;
        return ok ? std::optional{whole_message{1, h}} : std::nullopt;
    }
    if (h.opcode != DIBS_RDMA_MSG_SEND ||
        h.total > std::uint64_t{DIBS_RDMA_RING_SLOTS} * DIBS_RDMA_SLOT_DATA) {
        return std::nullopt;
    }
    dibs_rdma_slot_hdr g = h;
    std::uint64_t sum = h.len;
    for (std::uint64_t k = 1;; ++k) {
        if ((g.flags & DIBS_RDMA_SLOT_LAST) != 0) {
            return sum == h.total ? std::optional{whole_message{k, g}} : std::nullopt;
        }
        if (k == DIBS_RDMA_RING_SLOTS) {
            return std::nullopt;
        }
        // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-constant-array-index): the index is masked
        dibs_rdma_slot& slot = ring.slots[(next + k) % DIBS_RDMA_RING_SLOTS];
        if (std::atomic_ref(slot.hdr.seq).load(std::memory_order_acquire) != next + k + 1) {
            return whole_message{}; // the rest is still to come
        }
        std::memcpy(&g, &slot.hdr, sizeof(g)); // once: the peer may rewrite the slot
        if (g.opcode != DIBS_RDMA_MSG_SEND || (g.flags & DIBS_RDMA_SLOT_FIRST) != 0 ||
            g.len > DIBS_RDMA_SLOT_DATA || g.total != h.total) {
            return std::nullopt;
        }
        sum += g.len;
    }
}

/// The buffers of e that total bytes reach, if they pass the kernel's checks
/// (dibs_rdma_place(): each, whole, in an MR of pd with local write); nullopt leaves the
/// message to the kernel, which completes it with the error.
std::optional<std::span<const ib_uverbs_sge>> receive_buffers(const mr_table& mrs, const ibv_pd* pd,
                                                              const dibs_rdma_recv_wqe& e,
                                                              std::uint64_t total) noexcept {
    const std::span<const ib_uverbs_sge> sges =
        std::span{e.sge}.first(std::min<std::size_t>(e.num_sge, DIBS_RDMA_MAX_SGE));
    std::uint64_t left = total;
    std::size_t used = 0;
    for (; used < sges.size() && left != 0; ++used) {
        const ib_uverbs_sge& sge = sges[used];
        if (sge.length != 0 &&
            !mrs.check(sge.lkey, pd, sge.addr, sge.length, IBV_ACCESS_LOCAL_WRITE)) {
            return std::nullopt;
        }
        left -= std::min<std::uint64_t>(left, sge.length);
    }
    if (left != 0) {
        return std::nullopt; // too long for the receive
    }
    return sges.first(used);
}

/// Copies data into the buffers sges, at byte off of them (which receive_buffers() checked).
void scatter(std::span<const ib_uverbs_sge> sges, std::uint64_t off,
             std::span<const std::byte> data) noexcept {
    for (const ib_uverbs_sge& sge : sges) {
        if (data.empty()) {
            break;
        }
        if (off >= sge.length) {
            off -= sge.length;
            continue;
        }
        const std::size_t len = std::min<std::uint64_t>(data.size(), sge.length - off);
        // NOLINTNEXTLINE(performance-no-int-to-ptr,cppcoreguidelines-pro-type-reinterpret-cast)
        std::memcpy(reinterpret_cast<void*>(sge.addr + off), data.data(), len);
        data = data.subspan(len);
        off = 0;
    }
}

/// Places the SEND m, whose first slot is at next, into e's buffers; false: the kernel's.
bool place(const mr_table& mrs, const ibv_pd* pd, const dibs_rdma_recv_wqe& e, dibs_rdma_ring& ring,
           std::uint64_t next, const dibs_rdma_slot_hdr& first, const whole_message& m) noexcept {
    const auto bufs = receive_buffers(mrs, pd, e, first.total);
    if (!bufs) {
        return false;
    }
    std::uint64_t off = 0;
    for (std::uint64_t k = 0; k < m.slots; ++k) {
        // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-constant-array-index): the index is masked
        dibs_rdma_slot& slot = ring.slots[(next + k) % DIBS_RDMA_RING_SLOTS];
        // find_message() checked the lengths; bound them again, the peer may rewrite them
        const auto len =
            std::min<std::uint64_t>({std::atomic_ref(slot.hdr.len).load(std::memory_order_relaxed),
                                     DIBS_RDMA_SLOT_DATA, first.total - off});
        scatter(*bufs, off, std::as_bytes(std::span{slot.data}).first(len));
        off += len;
    }
    return true;
}

/// The completion of the message whose first and last slot headers are h and last, into
/// receive e, as the kernel writes it.
void complete(const dibs_qp& qp, const dibs_rdma_slot_hdr& h, const dibs_rdma_slot_hdr& last,
              const dibs_rdma_recv_wqe& e, ibv_wc& wc) noexcept {
    wc = ibv_wc{};
    wc.wr_id = e.wr_id;
    wc.status = IBV_WC_SUCCESS;
    wc.opcode = h.opcode == DIBS_RDMA_MSG_SEND ? IBV_WC_RECV : IBV_WC_RECV_RDMA_WITH_IMM;
    wc.byte_len = h.total;
    wc.qp_num = qp.ibqp.qp_num;
    wc.src_qp = h.src_qpn;
    wc.slid = static_cast<std::uint16_t>(h.slid);
    if ((last.flags & DIBS_RDMA_SLOT_IMM) != 0) {
        wc.wc_flags = IBV_WC_WITH_IMM;
        wc.imm_data = last.imm;
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
    for (; n < out.size(); ++n, ++rq_next) {
        // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-constant-array-index): the index is masked
        dibs_rdma_slot& slot = ring.slots[next % DIBS_RDMA_RING_SLOTS];
        // pairs with the sender's release of seq after the slot's body
        if (std::atomic_ref(slot.hdr.seq).load(std::memory_order_acquire) != next + 1) {
            break;
        }
        dibs_rdma_slot_hdr h{};
        std::memcpy(&h, &slot.hdr, sizeof(h)); // once: the peer may rewrite the slot
        const std::optional<whole_message> m = find_message(ring, next, h);
        if (!m) {
            kernel = true;
            break;
        }
        const dibs_rdma_recv_wqe* e = qp.rq.posted(rq_next);
        if (m->slots == 0 || e == nullptr) {
            break; // the message is still being written, or waits for a receive
        }
        if (h.opcode == DIBS_RDMA_MSG_SEND && !place(mrs, qp.ibqp.pd, *e, ring, next, h, *m)) {
            kernel = true;
            break;
        }
        complete(qp, h, m->last, *e, out[n]);
        next += m->slots;
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
    // an SRQ's entries are taken by the kernel only (the uapi header)
    if (!ctx.bypass || qp.ibqp.srq != nullptr) {
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
    if (std::atomic_ref(cq.ring.header->notify).load(std::memory_order_relaxed) == 0) {
        // what the kernel completed before we took the drain comes first
        n += take_completions(cq, out.subspan(n));
        kernel = drain(*ctx.mrs, qp, *qp.own, out, n);
    }
    return qp.rq.release() || kernel;
}

} // namespace dibs::provider
