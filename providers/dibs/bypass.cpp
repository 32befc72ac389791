// SPDX-License-Identifier: GPL-2.0
//
// The kernel-bypass data path (bypass.hpp): direct windows, the local SGE checks, and the
// execution of RDMA WRITE, READ and atomics with the CPU.
#include "bypass.hpp"

#include "dibs.hpp"
#include "send.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <span>
#include <string_view>
#include <utility>

#include <rdma/ib_user_ioctl_cmds.h>
#include <rdma/rdma_user_ioctl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace dibs::provider {

// ---- mr_table ---------------------------------------------------------------------------------

void mr_table::add(std::uint32_t lkey, const void* addr, std::uint64_t length, const ibv_pd* pd,
                   int access) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): WRs carry addresses
    const auto start = reinterpret_cast<std::uintptr_t>(addr);
    const std::unique_lock guard{lock_};
    by_lkey_.insert_or_assign(lkey, entry{start, length, pd, access});
}

void mr_table::remove(std::uint32_t lkey) noexcept {
    const std::unique_lock guard{lock_};
    by_lkey_.erase(lkey);
}

bool mr_table::check(std::uint32_t lkey, const ibv_pd* pd, std::uint64_t addr, std::uint64_t len,
                     int access) const noexcept {
    const std::shared_lock guard{lock_};
    const auto it = by_lkey_.find(lkey);
    if (it == by_lkey_.end()) {
        return false;
    }
    const entry& e = it->second;
    return e.pd == pd && (e.access & access) == access && addr >= e.addr && len <= e.length &&
           addr - e.addr <= e.length - len;
}

// ---- window -----------------------------------------------------------------------------------

namespace {

/// DIBS_RDMA_METHOD_QP_OPEN_WINDOW (with rkey), DIBS_RDMA_METHOD_QP_OPEN_RING or
/// DIBS_RDMA_METHOD_QP_OPEN_OWN_RING (without): the uverbs ioctl with its attributes
/// (rdma/rdma_user_ioctl_cmds.h).
int ioctl_open(const ibv_qp& qp, std::uint16_t method, const std::uint32_t* rkey,
               dibs_rdma_window_resp& resp) noexcept {
    constexpr std::size_t max_attrs = 3;
    const std::size_t nattrs = rkey != nullptr ? 3 : 2;
    ib_uverbs_ioctl_hdr hdr{};
    std::array<ib_uverbs_attr, max_attrs> attrs{};
    hdr.length = static_cast<std::uint16_t>(sizeof(hdr) + nattrs * sizeof(ib_uverbs_attr));
    hdr.object_id = UVERBS_OBJECT_QP;
    hdr.num_attrs = static_cast<std::uint16_t>(nattrs);
    hdr.driver_id = RDMA_DRIVER_UNKNOWN;
    attrs[0].data = qp.handle;
    ib_uverbs_attr& out = attrs.at(nattrs - 1);
    if (rkey != nullptr) {
        hdr.method_id = method;
        attrs[0].attr_id = DIBS_RDMA_ATTR_OPEN_WINDOW_QP;
        attrs[1].attr_id = DIBS_RDMA_ATTR_OPEN_WINDOW_RKEY;
        attrs[1].len = sizeof(*rkey);
        attrs[1].data = *rkey; // up to 8 bytes go inline
        out.attr_id = DIBS_RDMA_ATTR_OPEN_WINDOW_RESP;
    } else {
        hdr.method_id = method;
        attrs[0].attr_id = DIBS_RDMA_ATTR_OPEN_RING_QP;
        out.attr_id = DIBS_RDMA_ATTR_OPEN_RING_RESP;
    }
    out.len = sizeof(resp);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the ABI carries addresses
    out.data = reinterpret_cast<std::uintptr_t>(&resp);
    // the header's attrs[] is a flexible array: the command is one buffer
    alignas(8) std::array<std::byte, sizeof(hdr) + sizeof(attrs)> cmd{};
    std::memcpy(cmd.data(), &hdr, sizeof(hdr));
    std::memcpy(std::span{cmd}.subspan(sizeof(hdr)).data(), attrs.data(),
                nattrs * sizeof(ib_uverbs_attr));
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): ioctl(2)
    if (::ioctl(qp.context->cmd_fd, RDMA_VERBS_IOCTL, cmd.data()) != 0) {
        return errno != 0 ? errno : EIO;
    }
    return 0;
}

constexpr int window_write_rights = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_ATOMIC;

} // namespace

int window::open(ibv_qp& qp, std::uint32_t rkey, std::unique_ptr<window>& out) noexcept {
    return open(qp, DIBS_RDMA_METHOD_QP_OPEN_WINDOW, &rkey, out);
}

int window::open_ring(ibv_qp& qp, std::unique_ptr<window>& out) noexcept {
    return open(qp, DIBS_RDMA_METHOD_QP_OPEN_RING, nullptr, out);
}

int window::open_own_ring(ibv_qp& qp, std::unique_ptr<window>& out) noexcept {
    return open(qp, DIBS_RDMA_METHOD_QP_OPEN_OWN_RING, nullptr, out);
}

int window::open(ibv_qp& qp, std::uint16_t method, const std::uint32_t* rkey,
                 std::unique_ptr<window>& out) noexcept {
    dibs_rdma_window_resp resp{};
    if (const int err = ioctl_open(qp, method, rkey, resp); err != 0) {
        return err;
    }
    // The window stays open in the kernel until the QP is modified or destroyed, so a
    // failure here only costs its slot.
    return errno_boundary([&] {
        auto w = std::make_unique<window>();
        const int prot = PROT_READ | ((resp.access & window_write_rights) != 0 ? PROT_WRITE : 0);
        const char* what = method == DIBS_RDMA_METHOD_QP_OPEN_WINDOW ? "mmap of a direct window"
                           : method == DIBS_RDMA_METHOD_QP_OPEN_RING ? "mmap of a ring window"
                                                                     : "mmap of an own-ring window";
        w->data_ = mapping{qp.context->cmd_fd, resp.length, prot, resp.mmap_offset, what};
        w->state_ = mapping{qp.context->cmd_fd, sizeof(dibs_rdma_window_state), PROT_READ,
                            resp.state_offset, "mmap of a direct window's state"};
        w->rkey_ = rkey != nullptr ? *rkey : 0;
        w->iova_ = resp.iova;
        w->length_ = resp.length;
        w->access_ = static_cast<int>(resp.access);
        out = std::move(w);
        return 0;
    });
}

std::span<std::byte> window::reach(std::uint64_t raddr, std::uint64_t len,
                                   int access) const noexcept {
    if ((access_ & access) != access || raddr < iova_ || len > length_ ||
        raddr - iova_ > length_ - len) {
        return {};
    }
    return std::span{data_.data(), data_.size()}.subspan(raddr - iova_, len);
}

bool window::valid() const noexcept {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the page is the struct
    auto* state = reinterpret_cast<dibs_rdma_window_state*>(state_.data());
    return std::atomic_ref<std::uint32_t>(state->valid).load(std::memory_order_acquire) == 1;
}

// ---- execution --------------------------------------------------------------------------------

namespace {

constexpr std::uint64_t max_inline = 256;   // DIBS_RDMA_MAX_INLINE of the kernel driver
constexpr std::uint64_t max_msg = 1U << 24; // DIBS_RDMA_MAX_MSG

bool is_atomic(ibv_wr_opcode op) noexcept {
    return op == IBV_WR_ATOMIC_CMP_AND_SWP || op == IBV_WR_ATOMIC_FETCH_AND_ADD;
}

bool is_send(ibv_wr_opcode op) noexcept {
    return op == IBV_WR_SEND || op == IBV_WR_SEND_WITH_IMM;
}

/// A message in the peer's ring: SEND, or the immediate of WRITE_WITH_IMM.
bool is_message(ibv_wr_opcode op) noexcept {
    return is_send(op) || op == IBV_WR_RDMA_WRITE_WITH_IMM;
}

/// The local SGEs, checked as the kernel checks them; false sends the WR to the kernel (which
/// completes it with the error).
bool resolve_local(const dibs_context& ctx, const dibs_qp& qp, const ibv_send_wr& wr, plan& p) {
    const bool local_write = wr.opcode == IBV_WR_RDMA_READ || is_atomic(wr.opcode);
    if (wr.num_sge < 0 || static_cast<std::size_t>(wr.num_sge) > p.local.size()) {
        return false;
    }
    const std::span<const ibv_sge> sges{wr.sg_list, static_cast<std::size_t>(wr.num_sge)};
    const bool inline_data = !local_write && (wr.send_flags & IBV_SEND_INLINE) != 0;
    for (const ibv_sge& sge : sges) {
        if (sge.length == 0) {
            continue;
        }
        if (!inline_data && !ctx.mrs->check(sge.lkey, qp.ibqp.pd, sge.addr, sge.length,
                                            local_write ? IBV_ACCESS_LOCAL_WRITE : 0)) {
            return false;
        }
        // NOLINTBEGIN(performance-no-int-to-ptr,cppcoreguidelines-pro-type-reinterpret-cast,
        // cppcoreguidelines-pro-bounds-constant-array-index): the WR names process memory;
        // nsge < local.size() (checked above)
        p.local[p.nsge++] = {reinterpret_cast<std::byte*>(sge.addr), sge.length};
        // NOLINTEND(performance-no-int-to-ptr,cppcoreguidelines-pro-type-reinterpret-cast,
        // cppcoreguidelines-pro-bounds-constant-array-index)
        p.total += sge.length;
    }
    // an empty SEND is a message; an empty RDMA operation is the kernel's
    return (p.total != 0 || is_send(wr.opcode)) && p.total <= (inline_data ? max_inline : max_msg);
}

/// The QP's window onto rkey, opened on first use; nullptr if there is none.
window* find_window(dibs_qp& qp, std::uint32_t rkey) noexcept {
    const auto it = std::find_if(qp.windows.begin(), qp.windows.end(),
                                 [rkey](const auto& w) { return w->rkey() == rkey; });
    if (it != qp.windows.end()) {
        if ((*it)->valid()) {
            return it->get();
        }
        qp.windows.erase(it); // revoked: unmapped here; a new one may be opened
    }
    if (qp.no_windows || qp.refused.contains(rkey)) {
        return nullptr;
    }
    std::unique_ptr<window> w;
    const int err = window::open(qp.ibqp, rkey, w);
    if (err == EOPNOTSUPP || err == ENOTCONN || err == EINVAL) {
        qp.no_windows = true; // until the QP is modified
        return nullptr;
    }
    if (err != 0) {
        // a QP that names ever more keys without a window stops asking
        constexpr std::size_t max_refused = 1024;
        try {
            qp.refused.insert(rkey);
        } catch (...) {
            qp.no_windows = true;
        }
        qp.no_windows = qp.no_windows || qp.refused.size() >= max_refused;
        return nullptr;
    }
    try {
        qp.windows.push_back(std::move(w));
    } catch (...) {
        return nullptr; // w unmapped here
    }
    return qp.windows.back().get();
}

/// Where a WR goes in the peer's memory, and the right it needs there.
struct remote_target {
    std::uint64_t raddr;
    std::uint32_t rkey;
    int right;
};

remote_target target_of(const ibv_send_wr& wr) noexcept {
    switch (wr.opcode) {
    case IBV_WR_RDMA_WRITE:
    case IBV_WR_RDMA_WRITE_WITH_IMM:
        return {wr.wr.rdma.remote_addr, wr.wr.rdma.rkey, IBV_ACCESS_REMOTE_WRITE};
    case IBV_WR_RDMA_READ:
        return {wr.wr.rdma.remote_addr, wr.wr.rdma.rkey, IBV_ACCESS_REMOTE_READ};
    default:
        return {wr.wr.atomic.remote_addr, wr.wr.atomic.rkey, IBV_ACCESS_REMOTE_ATOMIC};
    }
}

/// The window memory the WR works on; false sends the WR to the kernel.
bool resolve_remote(dibs_qp& qp, const ibv_send_wr& wr, plan& p) {
    const remote_target t = target_of(wr);
    if (is_atomic(wr.opcode) &&
        (p.nsge != 1 || p.total != sizeof(std::uint64_t) || t.raddr % sizeof(std::uint64_t) != 0)) {
        return false;
    }
    p.win = find_window(qp, t.rkey);
    p.remote = p.win != nullptr ? p.win->reach(t.raddr, p.total, t.right) : std::span<std::byte>{};
    return !p.remote.empty();
}

/// The QP's ring window, opened on first use; nullptr if there is none.
peer_ring* find_ring(dibs_qp& qp) noexcept {
    if (qp.ring && qp.ring->valid()) {
        return &*qp.ring;
    }
    qp.ring.reset(); // revoked: unmapped here; a new one may be opened
    if (qp.no_ring || peer_ring::open(qp.ibqp, qp.ring) != 0) {
        qp.no_ring = true; // until the QP is modified
        return nullptr;
    }
    return &*qp.ring;
}

/// The ring the message goes into, if it has room there; false sends the WR to the kernel.
bool resolve_ring(dibs_qp& qp, const ibv_send_wr& wr, plan& p) {
    p.ring = find_ring(qp);
    return p.ring != nullptr && p.ring->room(is_send(wr.opcode) ? p.total : 0);
}

message message_of(const ibv_send_wr& wr, const plan& p) noexcept {
    message m;
    m.opcode = is_send(wr.opcode) ? DIBS_RDMA_MSG_SEND : DIBS_RDMA_MSG_WRITE_IMM;
    m.total = p.total;
    if (wr.opcode != IBV_WR_SEND) {
        m.imm = wr.imm_data; // network order in both
        m.flags |= DIBS_RDMA_SLOT_IMM;
    }
    if ((wr.send_flags & IBV_SEND_SOLICITED) != 0) {
        m.flags |= DIBS_RDMA_SLOT_SOLICITED;
    }
    return m;
}

/// Does the RDMA operation; for an atomic, the original value goes to the local buffer.
void perform(const ibv_send_wr& wr, const plan& p) noexcept {
    std::span<std::byte> remote = p.remote; // p.total bytes: the local SGEs' sum
    switch (wr.opcode) {
    case IBV_WR_RDMA_WRITE:
    case IBV_WR_RDMA_WRITE_WITH_IMM:
        for (const auto& l : std::span{p.local}.first(p.nsge)) {
            std::memcpy(remote.data(), l.data(), l.size());
            remote = remote.subspan(l.size());
        }
        break;
    case IBV_WR_RDMA_READ:
        for (const auto& l : std::span{p.local}.first(p.nsge)) {
            std::memcpy(l.data(), remote.data(), l.size());
            remote = remote.subspan(l.size());
        }
        break;
    default: {
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): 8-byte aligned (checked)
        std::atomic_ref<std::uint64_t> target{*reinterpret_cast<std::uint64_t*>(remote.data())};
        std::uint64_t orig = 0;
        if (wr.opcode == IBV_WR_ATOMIC_FETCH_AND_ADD) {
            orig = target.fetch_add(wr.wr.atomic.compare_add);
        } else {
            orig = wr.wr.atomic.compare_add;
            target.compare_exchange_strong(orig, wr.wr.atomic.swap);
        }
        std::memcpy(p.local[0].data(), &orig, sizeof(orig));
        break;
    }
    }
}

ibv_wc_opcode wc_opcode(ibv_wr_opcode op) noexcept {
    switch (op) {
    case IBV_WR_SEND:
    case IBV_WR_SEND_WITH_IMM:
        return IBV_WC_SEND;
    case IBV_WR_RDMA_READ:
        return IBV_WC_RDMA_READ;
    case IBV_WR_ATOMIC_CMP_AND_SWP:
        return IBV_WC_COMP_SWAP;
    case IBV_WR_ATOMIC_FETCH_AND_ADD:
        return IBV_WC_FETCH_ADD;
    default:
        return IBV_WC_RDMA_WRITE;
    }
}

bool cq_armed(dibs_cq& cq) noexcept {
    const std::lock_guard guard{cq.lock}; // resize_cq replaces the ring
    return std::atomic_ref<std::uint32_t>(cq.ring.header->notify).load(std::memory_order_acquire) !=
           0;
}

/// An atomic or a message whose window was revoked under it may or may not have been done:
/// completed with RETRY_EXC_ERR, as an RC requester that got no answer, and the QP goes to the
/// error state.
void fail_unknown(dibs_qp& qp) noexcept {
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_ERR;
    struct ibv_modify_qp cmd {};
    if (ibv_cmd_modify_qp(&qp.ibqp, &attr, IBV_QP_STATE, &cmd, sizeof(cmd)) == 0) {
        qp.state = IBV_QPS_ERR;
    }
    qp.windows.clear();
    qp.ring.reset();
}

/// Writes the message into the peer's ring; true if the owner must be signalled. A ring
/// window revoked under it leaves the outcome unknown: on RC, status becomes RETRY_EXC_ERR; on
/// UC, which has no acknowledgments, the message may just have been lost.
bool put_message(dibs_qp& qp, const ibv_send_wr& wr, const plan& p,
                 ibv_wc_status& status) noexcept {
    // put() ends with the fence that valid() needs
    const bool signal = p.ring->put(message_of(wr, p), std::span{p.local}.first(p.nsge));
    if (!p.ring->valid()) {
        if (qp.ibqp.qp_type == IBV_QPT_UC) {
            qp.ring.reset();
        } else {
            fail_unknown(qp);
            status = IBV_WC_RETRY_EXC_ERR;
        }
        return false;
    }
    return signal;
}

/// The owner asked for a signal: POST_SEND without work requests. Whatever it returns, the
/// message is in the ring: it fails only when the QP is gone in the kernel, which the next
/// work request reports.
void ring_doorbell(dibs_qp& qp) noexcept {
    ibv_send_wr* unused = nullptr;
    (void)ibv_cmd_post_send(&qp.ibqp, nullptr, &unused);
}

} // namespace

bool prepare(const dibs_context& ctx, dibs_qp& qp, const ibv_send_wr& wr, plan& p) noexcept {
    const bool rdma = wr.opcode == IBV_WR_RDMA_WRITE || wr.opcode == IBV_WR_RDMA_READ ||
                      wr.opcode == IBV_WR_RDMA_WRITE_WITH_IMM || is_atomic(wr.opcode);
    if (qp.state != IBV_QPS_RTS || (!rdma && !is_send(wr.opcode))) {
        return false;
    }
    try {
        return !cq_armed(*to_dibs_cq(qp.ibqp.send_cq)) && resolve_local(ctx, qp, wr, p) &&
               (!rdma || resolve_remote(qp, wr, p)) &&
               (!is_message(wr.opcode) || resolve_ring(qp, wr, p));
    } catch (...) {
        return false;
    }
}

outcome execute(dibs_qp& qp, const ibv_send_wr& wr, const plan& p) noexcept {
    // the kernel may have written the ring since prepare(): the WRs posted before this one
    if (p.ring != nullptr && !p.ring->room(is_send(wr.opcode) ? p.total : 0)) {
        return outcome::kernel;
    }
    const bool atomic = is_atomic(wr.opcode);
    dibs_cq& cq = *to_dibs_cq(qp.ibqp.send_cq);
    const bool signaled = qp.sig_all || (wr.send_flags & IBV_SEND_SIGNALED) != 0;
    // an atomic or a message may fail after the fact: its completion needs room even when
    // unsignaled
    const bool needs_room = signaled || atomic || p.ring != nullptr;
    const bool reserved = needs_room && reserve_local(cq);
    if (needs_room && !reserved) {
        return outcome::kernel; // the kernel reports the overflow
    }

    ibv_wc_status status = IBV_WC_SUCCESS;
    if (p.win != nullptr) {
        perform(wr, p);
        // the accesses before the check (see window::valid)
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (!p.win->valid()) {
            if (!atomic) {
                if (reserved) {
                    unreserve_local(cq);
                }
                return outcome::kernel; // done again by the kernel, which has the last word
            }
            fail_unknown(qp);
            status = IBV_WC_RETRY_EXC_ERR;
        }
    }
    const bool signal =
        status == IBV_WC_SUCCESS && p.ring != nullptr && put_message(qp, wr, p, status);
    if (reserved && (signaled || status != IBV_WC_SUCCESS)) {
        dibs_rdma_cqe cqe{};
        cqe.wr_id = wr.wr_id;
        cqe.status = status;
        cqe.opcode = wc_opcode(wr.opcode);
        cqe.qp_num = qp.ibqp.qp_num;
        push_local(cq, cqe);
    } else if (reserved) {
        unreserve_local(cq);
    }
    // the send completes before the receive the signal may complete (a QP connected to
    // itself, or sharing the CQ with its peer, sees them in that order, as from the kernel)
    if (signal) {
        ring_doorbell(qp);
    }
    return outcome::done;
}

bool bypass_enabled() noexcept {
    static const bool enabled = [] {
        const char* v = std::getenv("DIBS_RDMA_BYPASS"); // NOLINT(concurrency-mt-unsafe)
        return v == nullptr || std::string_view{v} != "0";
    }();
    return enabled;
}

} // namespace dibs::provider
