// SPDX-License-Identifier: GPL-2.0
//
// The dibs rdma-core provider (libdibs-rdmav34.so): its objects, the C boundary, and the verbs
// implemented in verbs.cpp, cq.cpp and qp.cpp. dibs.cpp registers the provider and holds the
// one verbs_context_ops table.
//
// Objects: each embeds the libibverbs object as its first member (to_dibs_*() convert back).
// The provider allocates and frees them all, except the context: libibverbs calloc()s that one
// (_verbs_init_and_alloc_context), so it is a trivial type released with free().
//
// The C boundary: libibverbs calls the ops through C function pointers, so no exception may
// leave them. Slow-path verbs run their body through create_boundary()/errno_boundary(), which
// turn any exception into an errno value; the fast-path verbs (poll, post, notify) cannot
// throw and are plain noexcept forwarders.
#ifndef DIBS_PROVIDER_DIBS_HPP
#define DIBS_PROVIDER_DIBS_HPP

#include "bypass.hpp"
#include "recv.hpp"
#include "rq.hpp"
#include "send.hpp"
#include "sq.hpp"
#include "verbs_abi.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <system_error>
#include <type_traits>
#include <unordered_set>
#include <vector>

#include <rdma/dibs-rdma-abi.h>

namespace dibs::provider {

/// A uverbs response with the driver's part: it follows the core part, whose driver_data[] is
/// where it starts (the layout kern-abi.h gives requests with a driver payload). Nesting a
/// structure that ends in a flexible array is a GNU extension.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
template <class Core, class Driver>
struct driver_resp {
    Core core;
    Driver drv;
};
#pragma GCC diagnostic pop

// ---- objects ----------------------------------------------------------------------------------

struct dibs_device {
    verbs_device ibdev;
};

/// Allocated by libibverbs with calloc(sizeof(dibs_context)): keep it trivial.
struct dibs_context {
    verbs_context ibctx;
    bool bypass;   ///< the bypass data path is on (bypass.hpp)
    mr_table* mrs; ///< owned: created by alloc_context, deleted by free_context
};

struct dibs_pd {
    ibv_pd ibpd;
};

struct dibs_mr {
    verbs_mr vmr;
};

/// A CQ whose ring is mapped into the process (see the uapi header): poll_cq reads it without a
/// system call. resize_cq replaces the ring, under lock.
///
/// Completions of work the provider executed itself (bypass.hpp) wait in `local`, each with the
/// ring's producer index at the time it completed: ring entries before that index come first,
/// so that each QP's completions stay in order. Room for them is reserved before the work is
/// done, so that a completion is never lost.
struct dibs_cq {
    struct local_cqe {
        dibs_rdma_cqe cqe;
        std::uint32_t after; ///< ring entries before this producer index come first
    };

    ibv_cq ibcq;
    std::mutex lock; ///< guards what follows: verbs allow polling one CQ from several threads
    queue_ring<dibs_rdma_cq_ring, dibs_rdma_cqe> ring;
    std::uint32_t num_cqe = 0;    ///< ring.entries.size()
    std::uint32_t cons = 0;       ///< next ring entry to read
    std::vector<local_cqe> local; ///< num_cqe slots, a ring
    std::uint32_t local_head = 0;
    std::uint32_t local_count = 0;
    std::uint32_t local_reserved = 0;
    std::vector<dibs_qp*> rqps; ///< the QPs whose receives complete here (recv.hpp)
    std::size_t next_rqp = 0;   ///< where the next poll starts among them
};

/// A QP, its queue rings, and what the bypass data path keeps about it.
struct dibs_qp {
    ibv_qp ibqp;
    std::mutex sq_lock; ///< serialises post_send, and modify_qp against it
    /// serialises post_recv and the drain (recv.hpp; under the receive CQ's lock), and
    /// modify_qp against them (after sq_lock)
    std::mutex rq_lock;
    recv_ring rq;                ///< rq_lock
    std::optional<own_ring> own; ///< rq_lock: the own-ring window, opened on first use
    bool no_own = false;         ///< rq_lock: the kernel refused one: until the next modify
    bool sig_all = false;
    std::uint32_t max_send_wr = 0;      ///< 0: no send queue, every post_send is ENOMEM
    ibv_qp_state state = IBV_QPS_RESET; ///< as last set by modify_qp (both locks)
    // the rest: sq_lock
    send_ring sq;
    bool no_windows = false; ///< the kernel said this connection cannot have any
    std::vector<std::unique_ptr<window>> windows;
    std::unordered_set<std::uint32_t> refused; ///< rkeys the kernel opened no window onto
    std::optional<peer_ring> ring; ///< onto the peer's receive ring, opened on first use
    bool no_ring = false;          ///< the kernel refused one: until the next modify
};

/// An SRQ: its ring (rq.hpp) mapped at create; post_srq_recv writes it without a system call,
/// and only the kernel consumes it (the QPs of an SRQ are drained by the kernel: recv.hpp).
struct dibs_srq {
    ibv_srq ibsrq;
    std::mutex lock; ///< serialises post_srq_recv
    recv_ring rq;    ///< lock
};

static_assert(std::is_standard_layout_v<dibs_device> && offsetof(dibs_device, ibdev) == 0);
static_assert(std::is_trivial_v<dibs_context> && offsetof(dibs_context, ibctx) == 0);
static_assert(std::is_standard_layout_v<dibs_pd> && offsetof(dibs_pd, ibpd) == 0);
static_assert(std::is_standard_layout_v<dibs_mr> && offsetof(dibs_mr, vmr) == 0);
static_assert(std::is_standard_layout_v<dibs_cq> && offsetof(dibs_cq, ibcq) == 0);
static_assert(std::is_standard_layout_v<dibs_qp> && offsetof(dibs_qp, ibqp) == 0);
static_assert(std::is_standard_layout_v<dibs_srq> && offsetof(dibs_srq, ibsrq) == 0);

// A standard-layout object and its first member are pointer-interconvertible: these casts are
// the container_of of the C providers.
// NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast)
[[nodiscard]] inline dibs_device* to_dibs_device(verbs_device* ibdev) noexcept {
    return reinterpret_cast<dibs_device*>(ibdev);
}
[[nodiscard]] inline dibs_context* to_dibs_context(ibv_context* ibctx) noexcept {
    return reinterpret_cast<dibs_context*>(verbs_get_ctx(ibctx));
}
[[nodiscard]] inline dibs_pd* to_dibs_pd(ibv_pd* ibpd) noexcept {
    return reinterpret_cast<dibs_pd*>(ibpd);
}
[[nodiscard]] inline dibs_mr* to_dibs_mr(verbs_mr* vmr) noexcept {
    return reinterpret_cast<dibs_mr*>(vmr);
}
[[nodiscard]] inline dibs_cq* to_dibs_cq(ibv_cq* ibcq) noexcept {
    return reinterpret_cast<dibs_cq*>(ibcq);
}
[[nodiscard]] inline dibs_qp* to_dibs_qp(ibv_qp* ibqp) noexcept {
    return reinterpret_cast<dibs_qp*>(ibqp);
}
[[nodiscard]] inline dibs_srq* to_dibs_srq(ibv_srq* ibsrq) noexcept {
    return reinterpret_cast<dibs_srq*>(ibsrq);
}
// NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)

// ---- the C boundary ---------------------------------------------------------------------------

/// A failed step inside the provider: the errno value and the call that failed. Never leaves
/// the provider.
class verbs_error : public std::system_error {
public:
    verbs_error(int errnum, const char* call)
        : std::system_error(errnum, std::generic_category(), call) {}
};

/// Converts what an ibv_cmd_* call returned into an errno value: 0 on success, otherwise a
/// positive errno (most calls return it; a few return -1 with errno set, or -errno).
[[nodiscard]] inline int cmd_errno(int ret) noexcept {
    if (ret > 0) {
        return ret;
    }
    if (ret == -1) {
        return errno != 0 ? errno : EIO;
    }
    return -ret;
}

/// Throws verbs_error unless the ibv_cmd_* call `call` returned success.
inline void check_cmd(int ret, const char* call) {
    if (const int err = cmd_errno(ret); err != 0) {
        throw verbs_error(err, call);
    }
}

/// The errno value for the exception being handled. Call only inside a catch block.
[[nodiscard]] int current_exception_errno() noexcept;

/// Runs a verb that returns a pointer: the result of body(), or nullptr with errno set.
template <class Body>
[[nodiscard]] auto create_boundary(Body&& body) noexcept -> decltype(body()) {
    try {
        return body();
    } catch (...) {
        errno = current_exception_errno();
        return nullptr;
    }
}

/// Runs a verb that returns 0 or an errno value; body() returns that value or throws.
template <class Body>
[[nodiscard]] int errno_boundary(Body&& body) noexcept {
    try {
        return body();
    } catch (...) {
        return current_exception_errno();
    }
}

// ---- verbs (the ops installed by alloc_context) -----------------------------------------------

// verbs.cpp: device, port, protection domain, memory region.
int query_device_ex(ibv_context* ibctx, const ibv_query_device_ex_input* input,
                    ibv_device_attr_ex* attr, std::size_t attr_size) noexcept;
int query_port(ibv_context* ibctx, std::uint8_t port_num, ibv_port_attr* attr) noexcept;
ibv_pd* alloc_pd(ibv_context* ibctx) noexcept;
int dealloc_pd(ibv_pd* ibpd) noexcept;
ibv_mr* reg_mr(ibv_pd* ibpd, void* addr, std::size_t length, std::uint64_t hca_va,
               int access) noexcept;
int rereg_mr(verbs_mr* vmr, int flags, ibv_pd* ibpd, void* addr, std::size_t length,
             int access) noexcept;
int dereg_mr(verbs_mr* vmr) noexcept;

// cq.cpp: completion queues, read from the ring mapped at create, with what recv.hpp drains
// (POLL_CQ when the kernel must drain).
/// Reads up to wc.size() completions of the ring and the provider's own, in order. Caller holds
/// cq.lock.
[[nodiscard]] std::size_t take_completions(dibs_cq& cq, std::span<ibv_wc> wc) noexcept;
/// Reserves room for one completion the provider will add; false if the CQ is full.
[[nodiscard]] bool reserve_local(dibs_cq& cq) noexcept;
void unreserve_local(dibs_cq& cq) noexcept;
/// Adds a completion for which room was reserved.
void push_local(dibs_cq& cq, const dibs_rdma_cqe& cqe) noexcept;
ibv_cq* create_cq(ibv_context* ibctx, int cqe, ibv_comp_channel* channel, int comp_vector) noexcept;
int resize_cq(ibv_cq* ibcq, int cqe) noexcept;
int destroy_cq(ibv_cq* ibcq) noexcept;
int poll_cq(ibv_cq* ibcq, int num_entries, ibv_wc* wc) noexcept;
int req_notify_cq(ibv_cq* ibcq, int solicited_only) noexcept;

// qp.cpp: queue pairs; receives go into the receive queue ring (rq.hpp), sends to bypass.hpp
// or the send queue ring (sq.hpp).
ibv_qp* create_qp(ibv_pd* ibpd, ibv_qp_init_attr* attr) noexcept;
int modify_qp(ibv_qp* ibqp, ibv_qp_attr* attr, int attr_mask) noexcept;
int query_qp(ibv_qp* ibqp, ibv_qp_attr* attr, int attr_mask, ibv_qp_init_attr* init_attr) noexcept;
int destroy_qp(ibv_qp* ibqp) noexcept;
int post_send(ibv_qp* ibqp, ibv_send_wr* wr, ibv_send_wr** bad_wr) noexcept;
int post_recv(ibv_qp* ibqp, ibv_recv_wr* wr, ibv_recv_wr** bad_wr) noexcept;

// srq.cpp: shared receive queues; receives go into the SRQ's ring (rq.hpp).
ibv_srq* create_srq(ibv_pd* ibpd, ibv_srq_init_attr* attr) noexcept;
int modify_srq(ibv_srq* ibsrq, ibv_srq_attr* attr, int attr_mask) noexcept;
int query_srq(ibv_srq* ibsrq, ibv_srq_attr* attr) noexcept;
int destroy_srq(ibv_srq* ibsrq) noexcept;
int post_srq_recv(ibv_srq* ibsrq, ibv_recv_wr* wr, ibv_recv_wr** bad_wr) noexcept;

} // namespace dibs::provider

#endif // DIBS_PROVIDER_DIBS_HPP
