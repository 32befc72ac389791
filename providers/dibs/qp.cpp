// SPDX-License-Identifier: GPL-2.0
//
// Queue pairs: create, modify, query and destroy are the uverbs commands. post_send executes
// what it can itself (bypass.hpp) and writes the rest into the send queue ring (sq.hpp), one
// doorbell per run of consecutive WRs (kernel/dibs_rdma_req.c); post_recv writes the receive
// queue ring (rq.hpp, kernel/dibs_rdma_resp.c), which the receive CQ's poll_cq drains
// (recv.hpp). With DIBS_RDMA_BYPASS=0 all are the uverbs commands.
#include "dibs.hpp"

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

namespace dibs::provider {

namespace {

using create_qp_resp = driver_resp<ib_uverbs_create_qp_resp, dibs_rdma_create_qp_resp>;
static_assert(offsetof(create_qp_resp, drv) == sizeof(ib_uverbs_create_qp_resp));

/// Consecutive WRs for the kernel, written into the send queue ring so that one doorbell takes
/// them all.
class kernel_run {
public:
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): orig_ (below)
    explicit kernel_run(dibs_qp& qp) noexcept : qp_(qp) {}

    /// Adds wr; rings first if the batch is full. Returns 0 or an errno (bad_wr set): what came
    /// before a WR refused is executed.
    int add(ibv_send_wr* wr, ibv_send_wr** bad_wr) noexcept {
        int err = qp_.sq.add(*wr);
        if (err == ENOMEM) {
            if (err = post(bad_wr); err != 0) {
                return err;
            }
            err = qp_.sq.add(*wr);
        }
        if (err != 0) {
            if (const int first = post(bad_wr); first != 0) {
                return first;
            }
            *bad_wr = wr;
            return err;
        }
        // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-constant-array-index): n_ < max_batch
        orig_[n_++] = wr;
        return 0;
    }

    /// Rings the doorbell. Returns 0 or an errno, with bad_wr at the caller's WR that failed.
    int post(ibv_send_wr** bad_wr) noexcept {
        if (n_ == 0) {
            return 0;
        }
        std::uint32_t bad = 0;
        const int err = qp_.sq.ring(qp_.ibqp, bad);
        if (qp_.ring) {
            qp_.ring->stale(); // the kernel may have written messages into it
        }
        if (err != 0) {
            // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-constant-array-index)
            *bad_wr = orig_[bad < n_ ? bad : 0];
        }
        n_ = 0;
        return err;
    }

private:
    dibs_qp& qp_;
    // filled up to n_ before use: not zeroed on every post_send
    std::array<ibv_send_wr*, send_ring::max_batch> orig_; // NOLINT(*-pro-type-member-init)
    std::size_t n_ = 0;
};

/// The windows were opened under what a modify may change: forget them (the kernel revoked
/// them already).
void forget_windows(dibs_qp& qp) noexcept {
    qp.windows.clear();
    qp.refused.clear();
    qp.no_windows = false;
    qp.ring.reset();
    qp.no_ring = false;
    qp.own.reset();
    qp.no_own = false;
}

/// Adds qp to, or removes it from, the QPs its receive CQ drains.
void watch_receives(dibs_qp& qp, bool on) {
    dibs_cq& cq = *to_dibs_cq(qp.ibqp.recv_cq);
    const std::lock_guard guard{cq.lock};
    if (on) {
        cq.rqps.push_back(&qp);
    } else {
        std::erase(cq.rqps, &qp);
    }
}

} // namespace

ibv_qp* create_qp(ibv_pd* ibpd, ibv_qp_init_attr* attr) noexcept {
    return create_boundary([&] {
        auto qp = std::make_unique<dibs_qp>();
        struct ibv_create_qp cmd {};
        create_qp_resp resp{};
        check_cmd(
            ibv_cmd_create_qp(ibpd, &qp->ibqp, attr, &cmd, sizeof(cmd), &resp.core, sizeof(resp)),
            "ibv_cmd_create_qp");
        qp->sig_all = attr->sq_sig_all != 0;
        qp->max_send_wr = attr->cap.max_send_wr; // as the kernel answered
        try {
            qp->rq = recv_ring{ibpd->context->cmd_fd, resp.drv};
            qp->sq = send_ring{ibpd->context->cmd_fd, resp.drv};
            watch_receives(*qp, true);
        } catch (...) {
            (void)ibv_cmd_destroy_qp(&qp->ibqp);
            throw;
        }
        return &qp.release()->ibqp;
    });
}

int modify_qp(ibv_qp* ibqp, ibv_qp_attr* attr, int attr_mask) noexcept {
    dibs_qp& qp = *to_dibs_qp(ibqp);
    struct ibv_modify_qp cmd {};
    const std::scoped_lock guard{qp.sq_lock, qp.rq_lock};
    const int err = cmd_errno(ibv_cmd_modify_qp(ibqp, attr, attr_mask, &cmd, sizeof(cmd)));
    if (err == 0) {
        forget_windows(qp);
        if ((attr_mask & IBV_QP_STATE) != 0) {
            qp.state = attr->qp_state;
        }
    }
    return err;
}

int query_qp(ibv_qp* ibqp, ibv_qp_attr* attr, int attr_mask, ibv_qp_init_attr* init_attr) noexcept {
    struct ibv_query_qp cmd {};
    return cmd_errno(ibv_cmd_query_qp(ibqp, attr, attr_mask, init_attr, &cmd, sizeof(cmd)));
}

int destroy_qp(ibv_qp* ibqp) noexcept {
    dibs_qp& qp = *to_dibs_qp(ibqp);
    watch_receives(qp, false); // a poll no longer reaches it
    if (const int err = cmd_errno(ibv_cmd_destroy_qp(ibqp)); err != 0) {
        return errno_boundary([&] {
            watch_receives(qp, true);
            return err;
        });
    }
    const std::unique_ptr<dibs_qp> owned{&qp}; // released here
    return 0;
}

int post_send(ibv_qp* ibqp, ibv_send_wr* wr, ibv_send_wr** bad_wr) noexcept {
    const dibs_context& ctx = *to_dibs_context(ibqp->context);
    if (!ctx.bypass) {
        return cmd_errno(ibv_cmd_post_send(ibqp, wr, bad_wr));
    }
    dibs_qp& qp = *to_dibs_qp(ibqp);
    if (qp.max_send_wr == 0 && wr != nullptr) {
        *bad_wr = wr; // no send queue to post to, as the kernel answers too
        return ENOMEM;
    }
    const std::lock_guard guard{qp.sq_lock};
    kernel_run run{qp};
    for (; wr != nullptr; wr = wr->next) {
        plan p;
        if (prepare(ctx, qp, *wr, p)) {
            // what came before first: the kernel executes it synchronously
            if (const int err = run.post(bad_wr); err != 0) {
                return err;
            }
            if (execute(qp, *wr, p) == outcome::done) {
                continue;
            }
        }
        if (const int err = run.add(wr, bad_wr); err != 0) {
            return err;
        }
    }
    return run.post(bad_wr);
}

int post_recv(ibv_qp* ibqp, ibv_recv_wr* wr, ibv_recv_wr** bad_wr) noexcept {
    dibs_qp& qp = *to_dibs_qp(ibqp);
    if (!to_dibs_context(ibqp->context)->bypass) {
        return cmd_errno(ibv_cmd_post_recv(ibqp, wr, bad_wr));
    }
    if (ibqp->srq != nullptr && wr != nullptr) {
        *bad_wr = wr; // its receives are the SRQ's, as the kernel answers too
        return EINVAL;
    }
    int err = 0;
    bool doorbell = false;
    {
        const std::lock_guard guard{qp.rq_lock};
        for (; wr != nullptr; wr = wr->next) {
            err = qp.state == IBV_QPS_RESET ? EINVAL : qp.rq.post(*wr);
            if (err != 0) {
                *bad_wr = wr;
                break;
            }
        }
        doorbell = qp.rq.publish();
    }
    if (doorbell) {
        // The WRs are posted whatever it returns: it fails only when the QP is gone in the
        // kernel (device removed), which the QP's next completion or command reports.
        ibv_recv_wr* unused = nullptr;
        (void)ibv_cmd_post_recv(ibqp, nullptr, &unused);
    }
    return err;
}

} // namespace dibs::provider
