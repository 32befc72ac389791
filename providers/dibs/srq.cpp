// SPDX-License-Identifier: GPL-2.0
//
// Shared receive queues: create, modify, query and destroy are the uverbs commands.
// post_srq_recv writes the SRQ's ring (rq.hpp, kernel/dibs_rdma_srq.c) and enters the kernel
// only when it asked for a doorbell: a message of an attached QP waits for a receive. With
// DIBS_RDMA_BYPASS=0 it is the uverbs command.
#include "dibs.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

namespace dibs::provider {

namespace {

/// CREATE_SRQ's response, laid out as driver_resp would: the kernel's core part ends in a true
/// flexible array, which C++ cannot nest (as RESIZE_CQ's, cq.cpp).
struct create_srq_resp {
    std::uint32_t srq_handle;
    std::uint32_t max_wr;
    std::uint32_t max_sge;
    std::uint32_t srqn;
    dibs_rdma_create_srq_resp drv;
};
static_assert(offsetof(create_srq_resp, drv) == sizeof(ib_uverbs_create_srq_resp) &&
              offsetof(create_srq_resp, srqn) == offsetof(ib_uverbs_create_srq_resp, srqn));

} // namespace

ibv_srq* create_srq(ibv_pd* ibpd, ibv_srq_init_attr* attr) noexcept {
    return create_boundary([&] {
        auto srq = std::make_unique<dibs_srq>();
        struct ibv_create_srq cmd {};
        create_srq_resp resp{};
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the same leading fields
        auto* core = reinterpret_cast<ib_uverbs_create_srq_resp*>(&resp);
        check_cmd(
            ibv_cmd_create_srq(ibpd, &srq->ibsrq, attr, &cmd, sizeof(cmd), core, sizeof(resp)),
            "ibv_cmd_create_srq");
        try {
            srq->rq = recv_ring{ibpd->context->cmd_fd, resp.drv};
        } catch (...) {
            (void)ibv_cmd_destroy_srq(&srq->ibsrq);
            throw;
        }
        return &srq.release()->ibsrq;
    });
}

int modify_srq(ibv_srq* ibsrq, ibv_srq_attr* attr, int attr_mask) noexcept {
    struct ibv_modify_srq cmd {};
    return cmd_errno(ibv_cmd_modify_srq(ibsrq, attr, attr_mask, &cmd, sizeof(cmd)));
}

int query_srq(ibv_srq* ibsrq, ibv_srq_attr* attr) noexcept {
    struct ibv_query_srq cmd {};
    return cmd_errno(ibv_cmd_query_srq(ibsrq, attr, &cmd, sizeof(cmd)));
}

int destroy_srq(ibv_srq* ibsrq) noexcept {
    // EBUSY while QPs are attached: the SRQ stays alive and the caller may retry
    if (const int err = cmd_errno(ibv_cmd_destroy_srq(ibsrq)); err != 0) {
        return err;
    }
    const std::unique_ptr<dibs_srq> owned{to_dibs_srq(ibsrq)}; // released here
    return 0;
}

int post_srq_recv(ibv_srq* ibsrq, ibv_recv_wr* wr, ibv_recv_wr** bad_wr) noexcept {
    if (!to_dibs_context(ibsrq->context)->bypass) {
        return cmd_errno(ibv_cmd_post_srq_recv(ibsrq, wr, bad_wr));
    }
    dibs_srq& srq = *to_dibs_srq(ibsrq);
    int err = 0;
    bool doorbell = false;
    {
        const std::lock_guard guard{srq.lock};
        for (; wr != nullptr; wr = wr->next) {
            err = srq.rq.post(*wr);
            if (err != 0) {
                *bad_wr = wr;
                break;
            }
        }
        doorbell = srq.rq.publish();
    }
    if (doorbell) {
        // The WRs are posted whatever it returns: it fails only when the SRQ is gone in the
        // kernel (device removed), which the next completion or command reports.
        ibv_recv_wr* unused = nullptr;
        (void)ibv_cmd_post_srq_recv(ibsrq, nullptr, &unused);
    }
    return err;
}

} // namespace dibs::provider
