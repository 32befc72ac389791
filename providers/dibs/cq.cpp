// SPDX-License-Identifier: GPL-2.0
//
// Completion queues. For now the kernel owns the CQ ring: poll_cq issues the uverbs POLL_CQ
// command and req_notify_cq the REQ_NOTIFY_CQ command. A ring mapped into the process (polled
// without a system call) replaces both once the uapi header defines its layout.
#include "dibs.hpp"

#include <memory>

namespace dibs::provider {

ibv_cq* create_cq(ibv_context* ibctx, int cqe, ibv_comp_channel* channel,
                  int comp_vector) noexcept {
    return create_boundary([&] {
        auto cq = std::make_unique<dibs_cq>();
        struct ibv_create_cq cmd {};
        ib_uverbs_create_cq_resp resp{};
        check_cmd(ibv_cmd_create_cq(ibctx, cqe, channel, comp_vector, &cq->ibcq, &cmd, sizeof(cmd),
                                    &resp, sizeof(resp)),
                  "ibv_cmd_create_cq");
        return &cq.release()->ibcq;
    });
}

int destroy_cq(ibv_cq* ibcq) noexcept {
    if (const int err = cmd_errno(ibv_cmd_destroy_cq(ibcq)); err != 0) {
        return err;
    }
    const std::unique_ptr<dibs_cq> cq{to_dibs_cq(ibcq)}; // released here
    return 0;
}

int poll_cq(ibv_cq* ibcq, int num_entries, ibv_wc* wc) noexcept {
    // The number of completions, or a negative value on error (ibv_poll_cq's contract).
    return ibv_cmd_poll_cq(ibcq, num_entries, wc);
}

int req_notify_cq(ibv_cq* ibcq, int solicited_only) noexcept {
    return cmd_errno(ibv_cmd_req_notify_cq(ibcq, solicited_only));
}

} // namespace dibs::provider
