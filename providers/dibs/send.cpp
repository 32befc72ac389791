// SPDX-License-Identifier: GPL-2.0
//
// Messages into the peer's receive ring through a ring window (send.hpp). The owner checks
// everything it reads from the ring; what is checked here is the ring's own state, which the
// owner writes: its consumer index and generation.
#include "send.hpp"

#include "dibs.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

namespace dibs::provider {

static_assert(sizeof(dibs_rdma_slot_hdr) == DIBS_RDMA_SLOT_HDR_SIZE &&
              sizeof(dibs_rdma_slot) == DIBS_RDMA_SLOT_SIZE);
static_assert(offsetof(dibs_rdma_slot_hdr, seq) == 0 && offsetof(dibs_rdma_ring, slots) == 128);

int peer_ring::open(ibv_qp& qp, std::optional<peer_ring>& out) noexcept {
    ibv_port_attr port{};
    if (const int err = query_port(qp.context, 1, &port); err != 0) {
        return err;
    }
    std::unique_ptr<window> win;
    if (const int err = window::open_ring(qp, win); err != 0) {
        return err;
    }
    // the kernel maps the header and every slot, and grants writing
    if (win->reach(0, offsetof(dibs_rdma_ring, resp_data), IBV_ACCESS_REMOTE_WRITE).empty()) {
        return EPROTO;
    }
    out.emplace(std::move(*win), qp.qp_num, port.lid);
    return 0;
}

// NOLINTNEXTLINE(bugprone-easily-swappable-parameters): named as the slot header names them
peer_ring::peer_ring(window&& win, std::uint32_t src_qpn, std::uint32_t slid) noexcept
    : win_(std::move(win))
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the layout of the wire header
    , ring_(reinterpret_cast<dibs_rdma_ring*>(
          win_.reach(0, offsetof(dibs_rdma_ring, resp_data), IBV_ACCESS_REMOTE_WRITE).data()))
    , src_qpn_(src_qpn)
    , slid_(slid) {}

dibs_rdma_slot& peer_ring::slot(std::uint64_t seq) const noexcept {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-constant-array-index): the index is masked
    return ring_->slots[seq % DIBS_RDMA_RING_SLOTS];
}

std::uint64_t peer_ring::tail() const noexcept {
    std::uint64_t p = std::atomic_ref(ring_->cons).load(std::memory_order_acquire);
    for (unsigned int n = 0; n < DIBS_RDMA_RING_SLOTS; ++n, ++p) {
        if (std::atomic_ref(slot(p).hdr.seq).load(std::memory_order_relaxed) != p + 1) {
            break;
        }
    }
    return p;
}

bool peer_ring::room(std::uint64_t data_bytes) noexcept {
    // pairs with the owner's release of gen at reset: a new generation starts over
    const std::uint64_t gen = std::atomic_ref(ring_->gen).load(std::memory_order_acquire);
    if (stale_ || gen != gen_) {
        prod_ = tail();
        gen_ = gen;
        stale_ = false;
    }
    // pairs with the owner's release of cons after it read the slots before it
    cons_ = std::atomic_ref(ring_->cons).load(std::memory_order_acquire);
    const std::uint64_t used = prod_ - cons_; // more than the ring holds: not the owner's
    return used <= DIBS_RDMA_RING_SLOTS && slots_for(data_bytes) <= DIBS_RDMA_RING_SLOTS - used;
}

bool peer_ring::put(const message& m, std::span<const std::span<std::byte>> data) noexcept {
    dibs_rdma_slot_hdr h{};
    h.opcode = m.opcode;
    h.total = static_cast<std::uint32_t>(m.total);
    h.imm = m.imm;
    h.src_qpn = src_qpn_;
    h.slid = slid_;
    h.flags = DIBS_RDMA_SLOT_FIRST;
    std::uint64_t left = m.opcode == DIBS_RDMA_MSG_SEND ? m.total : 0;
    std::size_t i = 0;   // data span
    std::size_t off = 0; // in it
    do {
        dibs_rdma_slot& s = slot(prod_);
        // gather the next slot's worth
        std::uint32_t len = 0;
        while (left != 0 && len < DIBS_RDMA_SLOT_DATA && i < data.size()) {
            const std::size_t n =
                std::min<std::size_t>(DIBS_RDMA_SLOT_DATA - len, data[i].size() - off);
            std::memcpy(std::span{s.data}.subspan(len).data(), data[i].subspan(off).data(), n);
            len += static_cast<std::uint32_t>(n);
            off += n;
            if (off == data[i].size()) {
                ++i;
                off = 0;
            }
        }
        left -= len;
        h.len = len;
        if (left == 0) {
            h.flags |= DIBS_RDMA_SLOT_LAST | m.flags;
        }
        // the body first, then the sequence number that makes the slot complete
        const auto body = std::as_bytes(std::span{&h, 1}).subspan(sizeof(h.seq));
        std::memcpy(std::as_writable_bytes(std::span{&s.hdr, 1}).subspan(sizeof(h.seq)).data(),
                    body.data(), body.size());
        std::atomic_ref(s.hdr.seq).store(prod_ + 1, std::memory_order_release);
        ++prod_;
        h.flags &= ~DIBS_RDMA_SLOT_FIRST;
    } while (left != 0);
    // the slots before armed (the owner's side: dibs_rdma_cq_arm_rings()), and before valid()
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const bool armed = std::atomic_ref(ring_->armed).load(std::memory_order_relaxed) != 0;
    return armed || prod_ - cons_ >= DIBS_RDMA_RING_SLOTS;
}

} // namespace dibs::provider
