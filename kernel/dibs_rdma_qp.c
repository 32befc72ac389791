// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_rdma: RC and UC queue pairs - the objects, their lookups and the
 * state machine. The requester is dibs_rdma_req.c, the responder (receive ring,
 * receive queue) dibs_rdma_resp.c.
 */
#include <linux/log2.h>
#include <linux/slab.h>

#include "dibs_rdma.h"

/* A referenced QP from @xa (by qp_num or by ring index), or NULL. */
static struct dibs_rdma_qp *dibs_rdma_qp_lookup(struct xarray *xa,
						unsigned long index)
{
	struct dibs_rdma_qp *qp;

	xa_lock(xa);
	qp = xa_load(xa, index);
	if (qp && !refcount_inc_not_zero(&qp->ref))
		qp = NULL;
	xa_unlock(xa);
	return qp;
}

struct dibs_rdma_qp *dibs_rdma_qp_get(struct dibs_rdma_dev *ddev, u32 qpn)
{
	return dibs_rdma_qp_lookup(&ddev->qps, qpn);
}

struct dibs_rdma_qp *dibs_rdma_qp_by_ring(struct dibs_rdma_dev *ddev,
					  unsigned int idx)
{
	return dibs_rdma_qp_lookup(&ddev->rings, idx);
}

void dibs_rdma_qp_put(struct dibs_rdma_qp *qp)
{
	if (refcount_dec_and_test(&qp->ref))
		complete(&qp->released);
}

/* Move @qp to the error state. Caller holds rq_lock. */
void dibs_rdma_qp_error_locked(struct dibs_rdma_qp *qp)
{
	lockdep_assert_held(&qp->rq_lock);
	WRITE_ONCE(qp->state, IB_QPS_ERR);
	dibs_rdma_window_revoke_qp(qp, false);
	dibs_rdma_flush_rq(qp);
	dibs_rdma_resp_reset(qp);
}

void dibs_rdma_qp_error(struct dibs_rdma_qp *qp)
{
	mutex_lock(&qp->rq_lock);
	dibs_rdma_qp_error_locked(qp);
	mutex_unlock(&qp->rq_lock);
}

/* The connection is lost (the peer is gone): error state and an async event. */
void dibs_rdma_qp_fatal(struct dibs_rdma_qp *qp)
{
	struct ib_event ev = {
		.device = qp->ibqp.device,
		.element.qp = &qp->ibqp,
		.event = IB_EVENT_QP_FATAL,
	};

	if (READ_ONCE(qp->state) == IB_QPS_ERR)
		return;
	dibs_rdma_qp_error(qp);
	if (qp->ibqp.event_handler)
		qp->ibqp.event_handler(&ev, qp->ibqp.qp_context);
}

int dibs_rdma_create_qp(struct ib_qp *ibqp, struct ib_qp_init_attr *attr,
			struct ib_udata *udata)
{
	struct dibs_rdma_dev *ddev = to_ddev(ibqp->device);
	struct dibs_rdma_qp *qp = to_dqp(ibqp);
	struct dibs_rdma_create_qp_resp resp = {};
	struct ib_qp_cap *cap = &attr->cap;
	struct dibs_rdma_cq *rcq;
	u32 qpn;
	int rc;

	/* the provider's response buffer: both queues are rings it maps */
	if (udata && udata->outlen < sizeof(resp))
		udata = NULL;

	if ((attr->qp_type != IB_QPT_RC && attr->qp_type != IB_QPT_UC) ||
	    attr->create_flags)
		return -EOPNOTSUPP;
	/* a queue of 0: a QP that only is the target of RDMA needs none */
	if (cap->max_send_wr > DIBS_RDMA_MAX_WR ||
	    cap->max_recv_wr > DIBS_RDMA_MAX_WR ||
	    cap->max_send_sge > DIBS_RDMA_MAX_SGE ||
	    cap->max_recv_sge > DIBS_RDMA_MAX_SGE ||
	    cap->max_inline_data > DIBS_RDMA_MAX_INLINE)
		return -EINVAL;
	cap->max_send_sge = DIBS_RDMA_MAX_SGE;
	cap->max_recv_sge = DIBS_RDMA_MAX_SGE;
	/* the receive ring's indices wrap at 2^32 */
	if (cap->max_recv_wr)
		cap->max_recv_wr = roundup_pow_of_two(cap->max_recv_wr);
	/* receives come from the SRQ: the QP's own queue has none */
	if (attr->srq) {
		cap->max_recv_wr = 0;
		cap->max_recv_sge = 0;
	}
	cap->max_inline_data = DIBS_RDMA_MAX_INLINE;

	qp->ddev = ddev;
	refcount_set(&qp->ref, 1);
	init_completion(&qp->released);
	mutex_init(&qp->sq_lock);
	mutex_init(&qp->rq_lock);
	dibs_rdma_fabric_init_qp(qp);
	qp->state = IB_QPS_RESET;
	qp->sig_all = attr->sq_sig_type == IB_SIGNAL_ALL_WR;
	qp->cap = *cap;
	qp->kept.path_mtu = IB_MTU_4096;

	qp->tx_slot = kzalloc(sizeof(*qp->tx_slot), GFP_KERNEL);
	qp->wqe_ctx = dibs_rdma_wqe_ctx_alloc();
	if (!qp->tx_slot || !qp->wqe_ctx) {
		rc = -ENOMEM;
		goto err_free;
	}
	rc = dibs_rdma_rq_create(qp, udata, &resp);
	if (rc)
		goto err_free;
	if (udata) {
		rc = dibs_rdma_sq_create(qp, udata, &resp);
		if (rc)
			goto err_rq;
		rc = ib_copy_to_udata(udata, &resp, sizeof(resp));
		if (rc)
			goto err_sq;
	}
	qp->ring_dmb.dmb_len = sizeof(struct dibs_rdma_ring);
	rc = dibs_register_dmb(ddev->dibs, &qp->ring_dmb, &dibs_rdma_client);
	if (rc)
		goto err_sq;
	qp->ring = qp->ring_dmb.cpu_addr;
	qp->ring->armed = 1;	/* until a drain finds the receive CQ unarmed */

	rc = xa_alloc(&ddev->qps, &qpn, qp, XA_LIMIT(2, DIBS_RDMA_MAX_QP + 1),
		      GFP_KERNEL);
	if (rc)
		goto err_dmb;
	rc = xa_insert(&ddev->rings, qp->ring_dmb.idx, qp, GFP_KERNEL);
	if (rc)
		goto err_qpn;
	ibqp->qp_num = qpn;

	rcq = to_dcq(attr->recv_cq);
	mutex_lock(&rcq->rqps_lock);
	list_add_tail(&qp->rcq_entry, &rcq->rqps);
	mutex_unlock(&rcq->rqps_lock);
	if (attr->srq)
		dibs_rdma_srq_attach(qp);
	return 0;

err_qpn:
	xa_erase(&ddev->qps, qpn);
err_dmb:
	dibs_unregister_dmb(ddev->dibs, &qp->ring_dmb);
err_sq:
	dibs_rdma_sq_destroy(qp);
err_rq:
	dibs_rdma_rq_destroy(qp);
err_free:
	kfree(qp->wqe_ctx);
	kfree(qp->tx_slot);
	return rc == -EBUSY ? -ENOMEM : rc;
}

int dibs_rdma_destroy_qp(struct ib_qp *ibqp, struct ib_udata *udata)
{
	struct dibs_rdma_qp *qp = to_dqp(ibqp);
	struct dibs_rdma_dev *ddev = qp->ddev;
	struct dibs_rdma_cq *rcq = to_dcq(ibqp->recv_cq);

	mutex_lock(&rcq->rqps_lock);
	list_del(&qp->rcq_entry);
	mutex_unlock(&rcq->rqps_lock);
	if (ibqp->srq)
		dibs_rdma_srq_detach(qp);
	xa_erase(&ddev->rings, qp->ring_dmb.idx);
	xa_erase(&ddev->qps, ibqp->qp_num);
	dibs_rdma_qp_put(qp);
	wait_for_completion(&qp->released);

	dibs_rdma_window_revoke_qp(qp, false);
	dibs_rdma_detach_peer(qp);
	dibs_rdma_resp_reset(qp);
	dibs_unregister_dmb(ddev->dibs, &qp->ring_dmb);
	dibs_rdma_sq_destroy(qp);
	dibs_rdma_rq_destroy(qp);
	kfree(qp->wqe_ctx);
	kfree(qp->tx_slot);
	return 0;
}

/* Forget queued messages and posted receives. Caller holds both locks. */
static void dibs_rdma_qp_reset(struct dibs_rdma_qp *qp)
{
	u64 gen = qp->ring->gen;

	dibs_rdma_detach_peer(qp);
	dibs_rdma_fabric_reset_qp(qp);
	dibs_rdma_resp_reset(qp);
	WRITE_ONCE(qp->reply_tok, 0);
	dibs_rdma_rq_reset(qp);
	qp->ring_cons = 0;
	qp->ring_served = 0;
	memset(qp->ring, 0, sizeof(*qp->ring));
	qp->ring->armed = 1;
	/* a sender still attached notices and starts over at slot 0 */
	smp_store_release(&qp->ring->gen, gen + 1);
}

/* Keep what @attr sets that only query_qp reports. Caller holds both locks. */
static void dibs_rdma_qp_keep(struct dibs_rdma_qp *qp,
			      const struct ib_qp_attr *attr, int mask)
{
	if (mask & IB_QP_PATH_MTU)
		qp->kept.path_mtu = attr->path_mtu;
	if (mask & IB_QP_SQ_PSN)
		qp->kept.sq_psn = attr->sq_psn & DIBS_RDMA_PSN_MASK;
	if (mask & IB_QP_RQ_PSN)
		qp->kept.rq_psn = attr->rq_psn & DIBS_RDMA_PSN_MASK;
	if (mask & IB_QP_TIMEOUT)
		qp->kept.timeout = attr->timeout;
	if (mask & IB_QP_RETRY_CNT)
		qp->kept.retry_cnt = attr->retry_cnt;
	if (mask & IB_QP_RNR_RETRY)
		qp->kept.rnr_retry = attr->rnr_retry;
	if (mask & IB_QP_MIN_RNR_TIMER)
		qp->kept.min_rnr_timer = attr->min_rnr_timer;
	if (mask & IB_QP_MAX_QP_RD_ATOMIC)
		qp->kept.max_rd_atomic = attr->max_rd_atomic;
	if (mask & IB_QP_MAX_DEST_RD_ATOMIC)
		qp->kept.max_dest_rd_atomic = attr->max_dest_rd_atomic;
	if (mask & IB_QP_AV) {
		const struct ib_global_route *grh = rdma_ah_read_grh(&attr->ah_attr);

		qp->kept.sl = rdma_ah_get_sl(&attr->ah_attr);
		qp->kept.static_rate = rdma_ah_get_static_rate(&attr->ah_attr);
		if (rdma_ah_get_ah_flags(&attr->ah_attr) & IB_AH_GRH) {
			qp->kept.flow_label = grh->flow_label;
			qp->kept.sgid_index = grh->sgid_index;
			qp->kept.hop_limit = grh->hop_limit;
			qp->kept.traffic_class = grh->traffic_class;
		}
	}
}

int dibs_rdma_modify_qp(struct ib_qp *ibqp, struct ib_qp_attr *attr, int mask,
			struct ib_udata *udata)
{
	struct dibs_rdma_qp *qp = to_dqp(ibqp);
	enum ib_qp_state cur, new;
	bool keep_rings;
	int rc = 0;

	if (mask & ~IB_QP_ATTR_STANDARD_BITS)
		return -EOPNOTSUPP;

	mutex_lock(&qp->sq_lock);
	mutex_lock(&qp->rq_lock);
	cur = mask & IB_QP_CUR_STATE ? attr->cur_qp_state : qp->state;
	new = mask & IB_QP_STATE ? attr->qp_state : cur;
	if (cur != qp->state || !ib_modify_qp_is_ok(cur, new, ibqp->qp_type, mask)) {
		rc = -EINVAL;
		goto out;
	}
	if ((mask & IB_QP_PORT) && attr->port_num != 1) {
		rc = -EINVAL;
		goto out;
	}
	if ((mask & IB_QP_PKEY_INDEX) && attr->pkey_index != 0) {
		rc = -EINVAL;
		goto out;
	}
	if ((mask & IB_QP_PATH_MTU) &&
	    (attr->path_mtu < IB_MTU_256 || attr->path_mtu > IB_MTU_4096)) {
		rc = -EINVAL;
		goto out;
	}
	if (((mask & IB_QP_MAX_QP_RD_ATOMIC) &&
	     attr->max_rd_atomic > DIBS_RDMA_MAX_RD_ATOM) ||
	    ((mask & IB_QP_MAX_DEST_RD_ATOMIC) &&
	     attr->max_dest_rd_atomic > DIBS_RDMA_MAX_RD_ATOM)) {
		rc = -EINVAL;
		goto out;
	}
	if (mask & IB_QP_AV) {
		const struct ib_global_route *grh = rdma_ah_read_grh(&attr->ah_attr);

		qp->has_grh = rdma_ah_get_ah_flags(&attr->ah_attr) & IB_AH_GRH;
		if (qp->has_grh)
			qp->dgid = grh->dgid;
		qp->dlid = rdma_ah_get_dlid(&attr->ah_attr);
	}
	if (mask & IB_QP_ACCESS_FLAGS)
		WRITE_ONCE(qp->access, attr->qp_access_flags);
	if (mask & IB_QP_DEST_QPN)
		qp->dest_qpn = attr->dest_qp_num;
	dibs_rdma_qp_keep(qp, attr, mask);

	if (mask & IB_QP_STATE) {
		if (new == IB_QPS_RESET)
			dibs_rdma_qp_reset(qp);
		else if (new == IB_QPS_ERR)
			dibs_rdma_qp_error_locked(qp);
		WRITE_ONCE(qp->state, new);
	}
	/*
	 * What a window was opened under may have changed: the state, the
	 * rights. A ring window onto this QP depends only on the QP taking
	 * messages from the same peer: it stays through RTR to RTS.
	 */
	keep_rings = !(mask & (IB_QP_AV | IB_QP_DEST_QPN)) &&
		     (new == IB_QPS_RTR || new == IB_QPS_RTS);
	dibs_rdma_window_revoke_qp(qp, keep_rings);
out:
	mutex_unlock(&qp->rq_lock);
	mutex_unlock(&qp->sq_lock);
	return rc;
}

int dibs_rdma_query_qp(struct ib_qp *ibqp, struct ib_qp_attr *attr, int mask,
		       struct ib_qp_init_attr *init)
{
	struct dibs_rdma_qp *qp = to_dqp(ibqp);

	memset(attr, 0, sizeof(*attr));
	memset(init, 0, sizeof(*init));
	mutex_lock(&qp->sq_lock);
	attr->qp_state = qp->state;
	attr->cur_qp_state = qp->state;
	attr->path_mtu = qp->kept.path_mtu;
	attr->qp_access_flags = qp->access;
	attr->cap = qp->cap;
	attr->dest_qp_num = qp->dest_qpn;
	attr->port_num = 1;
	attr->sq_psn = qp->kept.sq_psn;
	attr->rq_psn = qp->kept.rq_psn;
	attr->timeout = qp->kept.timeout;
	attr->retry_cnt = qp->kept.retry_cnt;
	attr->rnr_retry = qp->kept.rnr_retry;
	attr->min_rnr_timer = qp->kept.min_rnr_timer;
	attr->max_rd_atomic = qp->kept.max_rd_atomic;
	attr->max_dest_rd_atomic = qp->kept.max_dest_rd_atomic;
	attr->ah_attr.type = RDMA_AH_ATTR_TYPE_IB;
	rdma_ah_set_dlid(&attr->ah_attr, qp->dlid);
	rdma_ah_set_port_num(&attr->ah_attr, 1);
	rdma_ah_set_sl(&attr->ah_attr, qp->kept.sl);
	rdma_ah_set_static_rate(&attr->ah_attr, qp->kept.static_rate);
	if (qp->has_grh)
		rdma_ah_set_grh(&attr->ah_attr, &qp->dgid, qp->kept.flow_label,
				qp->kept.sgid_index, qp->kept.hop_limit,
				qp->kept.traffic_class);
	mutex_unlock(&qp->sq_lock);

	init->qp_type = ibqp->qp_type;
	init->send_cq = ibqp->send_cq;
	init->recv_cq = ibqp->recv_cq;
	init->srq = ibqp->srq;
	init->cap = qp->cap;
	init->sq_sig_type = qp->sig_all ? IB_SIGNAL_ALL_WR : IB_SIGNAL_REQ_WR;
	return 0;
}

