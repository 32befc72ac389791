// SPDX-License-Identifier: GPL-2.0
//
// Queue pairs: create, modify, query and destroy are the uverbs commands. post_send and
// post_recv are the POST_SEND/POST_RECV commands: the kernel driver executes the work requests
// (kernel/dibs_rdma_req.c, kernel/dibs_rdma_resp.c).
#include "dibs.hpp"

#include <memory>

namespace dibs::provider {

ibv_qp* create_qp(ibv_pd* ibpd, ibv_qp_init_attr* attr) noexcept {
    return create_boundary([&] {
        auto qp = std::make_unique<dibs_qp>();
        struct ibv_create_qp cmd {};
        ib_uverbs_create_qp_resp resp{};
        check_cmd(ibv_cmd_create_qp(ibpd, &qp->ibqp, attr, &cmd, sizeof(cmd), &resp, sizeof(resp)),
                  "ibv_cmd_create_qp");
        return &qp.release()->ibqp;
    });
}

int modify_qp(ibv_qp* ibqp, ibv_qp_attr* attr, int attr_mask) noexcept {
    struct ibv_modify_qp cmd {};
    return cmd_errno(ibv_cmd_modify_qp(ibqp, attr, attr_mask, &cmd, sizeof(cmd)));
}

int query_qp(ibv_qp* ibqp, ibv_qp_attr* attr, int attr_mask, ibv_qp_init_attr* init_attr) noexcept {
    struct ibv_query_qp cmd {};
    return cmd_errno(ibv_cmd_query_qp(ibqp, attr, attr_mask, init_attr, &cmd, sizeof(cmd)));
}

int destroy_qp(ibv_qp* ibqp) noexcept {
    if (const int err = cmd_errno(ibv_cmd_destroy_qp(ibqp)); err != 0) {
        return err;
    }
    const std::unique_ptr<dibs_qp> qp{to_dibs_qp(ibqp)}; // released here
    return 0;
}

int post_send(ibv_qp* ibqp, ibv_send_wr* wr, ibv_send_wr** bad_wr) noexcept {
    return cmd_errno(ibv_cmd_post_send(ibqp, wr, bad_wr));
}

int post_recv(ibv_qp* ibqp, ibv_recv_wr* wr, ibv_recv_wr** bad_wr) noexcept {
    return cmd_errno(ibv_cmd_post_recv(ibqp, wr, bad_wr));
}

} // namespace dibs::provider
