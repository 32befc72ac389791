// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_rdma: the responder - what arrives from a connected peer.
 *
 * Messages (SEND, WRITE_WITH_IMM) arrive as slots in the QP's receive ring
 * (dibs_rdma_wire.h) with a dibs signal; they are drained into posted
 * receive WQEs in order, by the signal's handle_irq, by post_recv, or by a
 * poll of an empty CQ. RDMA WRITE, READ and atomics move data by DMB token
 * after the owner's checks here: dibs_rdma_resp_connect() and
 * dibs_rdma_resp_check_rkey() answer the requests of dibs_rdma_fabric.h.
 */
#include "dibs_rdma.h"

/*
 * The answer to a connect request: is @qpn of @ddev ready to receive and
 * connected back to the requester, by GID or by LID?
 */
enum ib_wc_status dibs_rdma_resp_connect(struct dibs_rdma_dev *ddev, u32 qpn,
					 const struct dibs_rdma_conn_req *req,
					 u64 *ring_tok)
{
	enum ib_wc_status st = IB_WC_RETRY_EXC_ERR;
	struct dibs_rdma_qp *qp = dibs_rdma_qp_get(ddev, qpn);
	enum ib_qp_state state;

	if (!qp)
		return st;
	state = READ_ONCE(qp->state);
	if ((state == IB_QPS_RTR || state == IB_QPS_RTS) &&
	    qp->dest_qpn == req->qpn &&
	    (qp->has_grh ? !memcmp(qp->dgid.raw, req->gid, sizeof(qp->dgid.raw)) :
			   qp->dlid == req->lid)) {
		*ring_tok = qp->ring_dmb.dmb_tok;
		st = IB_WC_SUCCESS;
	}
	dibs_rdma_qp_put(qp);
	return st;
}

/*
 * The answer to a target request for @qpn of @ddev: MR @rkey must belong to
 * the QP's PD, allow @access (and the QP must, too) and cover the range. On
 * success @t holds the MR until dibs_rdma_fabric_target_done().
 */
enum ib_wc_status dibs_rdma_resp_check_rkey(struct dibs_rdma_dev *ddev, u32 qpn,
					    u32 rkey, u64 raddr, u64 len,
					    int access,
					    struct dibs_rdma_target *t)
{
	struct dibs_rdma_qp *qp = dibs_rdma_qp_get(ddev, qpn);
	struct dibs_rdma_mr *mr = NULL;

	t->mr = NULL;
	if (!qp)
		return IB_WC_RETRY_EXC_ERR;
	if (READ_ONCE(qp->access) & access)
		mr = dibs_rdma_mr_check(ddev, qp->ibqp.pd, rkey, access, raddr,
					len);
	dibs_rdma_qp_put(qp);
	if (!mr)
		return IB_WC_REM_ACCESS_ERR;
	t->mr = mr;
	t->dmb_tok = mr->dmb.dmb_tok;
	t->offset = raddr - mr->iova;
	return IB_WC_SUCCESS;
}

/*
 * Copy @len bytes from @src into the receive WQE's buffers at @off. Returns
 * an ib_wc_status: local protection and length errors are the receiver's.
 */
static enum ib_wc_status dibs_rdma_place(struct dibs_rdma_qp *qp,
					 struct dibs_rdma_recv_wqe *wqe,
					 u32 off, const void *src, u32 len)
{
	enum ib_wc_status status = IB_WC_SUCCESS;
	u32 i;

	for (i = 0; i < wqe->num_sge && len; i++) {
		struct ib_sge *sge = &wqe->sge[i];
		struct dibs_rdma_mr *mr;
		u32 n;

		if (off >= sge->length) {
			off -= sge->length;
			continue;
		}
		n = min(len, sge->length - off);
		mr = dibs_rdma_mr_check(qp->ddev, qp->ibqp.pd, sge->lkey,
					IB_ACCESS_LOCAL_WRITE, sge->addr,
					sge->length);
		if (!mr)
			return IB_WC_LOC_PROT_ERR;
		memcpy(mr->vaddr + (sge->addr - mr->iova) + off, src, n);
		dibs_rdma_mr_put(mr);
		src += n;
		len -= n;
		off = 0;
	}
	if (len)
		status = IB_WC_LOC_LEN_ERR;
	return status;
}

/* Deliver complete messages from our ring to posted receives. */
static void dibs_rdma_drain(struct dibs_rdma_qp *qp)
{
	struct dibs_rdma_ring *ring = qp->ring;

	lockdep_assert_held(&qp->rq_lock);
	while (qp->state == IB_QPS_RTR || qp->state == IB_QPS_RTS) {
		struct dibs_rdma_slot *slot;
		struct dibs_rdma_recv_wqe *wqe;
		struct ib_wc wc = {};
		enum ib_wc_status status;
		u32 flags;

		slot = &ring->slots[qp->ring_cons % DIBS_RDMA_RING_SLOTS];
		if (READ_ONCE(slot->hdr.seq) != qp->ring_cons + 1)
			break;
		/* the slot's body was written before its seq */
		smp_rmb();
		if (!qp->rq_count)
			break;	/* waits for post_recv (receiver not ready) */
		wqe = &qp->rq[qp->rq_head];
		flags = slot->hdr.flags;
		status = IB_WC_SUCCESS;
		if (slot->hdr.opcode == DIBS_RDMA_MSG_SEND)
			status = dibs_rdma_place(qp, wqe, qp->rx_off, slot->data,
						 min_t(u32, slot->hdr.len,
						       DIBS_RDMA_SLOT_DATA));
		qp->rx_off += slot->hdr.len;
		qp->ring_cons++;
		/* tell the sender the slot is free */
		smp_store_release(&ring->cons, qp->ring_cons);
		if (!(flags & DIBS_RDMA_SLOT_LAST) && status == IB_WC_SUCCESS)
			continue;

		wc.wr_id = wqe->wr_id;
		wc.status = status;
		wc.opcode = slot->hdr.opcode == DIBS_RDMA_MSG_SEND ?
			    IB_WC_RECV : IB_WC_RECV_RDMA_WITH_IMM;
		wc.byte_len = slot->hdr.total;
		wc.qp = &qp->ibqp;
		wc.src_qp = slot->hdr.src_qpn;
		wc.slid = slot->hdr.slid;
		wc.port_num = 1;
		if (flags & DIBS_RDMA_SLOT_IMM) {
			wc.wc_flags |= IB_WC_WITH_IMM;
			wc.ex.imm_data = (__force __be32)slot->hdr.imm;
		}
		qp->rq_head = (qp->rq_head + 1) % qp->cap.max_recv_wr;
		qp->rq_count--;
		qp->rx_off = 0;
		dibs_rdma_cq_post(to_dcq(qp->ibqp.recv_cq), &wc,
				  flags & DIBS_RDMA_SLOT_SOLICITED);
		if (status != IB_WC_SUCCESS)
			dibs_rdma_qp_error_locked(qp);
	}
}

int dibs_rdma_post_recv(struct ib_qp *ibqp, const struct ib_recv_wr *wr,
			const struct ib_recv_wr **bad_wr)
{
	struct dibs_rdma_qp *qp = to_dqp(ibqp);
	int rc = 0;

	mutex_lock(&qp->rq_lock);
	for (; wr; wr = wr->next) {
		struct dibs_rdma_recv_wqe *wqe;

		if (qp->state == IB_QPS_RESET || wr->num_sge < 0 ||
		    wr->num_sge > qp->cap.max_recv_sge) {
			rc = -EINVAL;
			break;
		}
		if (qp->rq_count == qp->cap.max_recv_wr) {
			rc = -ENOMEM;
			break;
		}
		wqe = &qp->rq[(qp->rq_head + qp->rq_count) % qp->cap.max_recv_wr];
		wqe->wr_id = wr->wr_id;
		wqe->num_sge = wr->num_sge;
		memcpy(wqe->sge, wr->sg_list, wr->num_sge * sizeof(*wr->sg_list));
		qp->rq_count++;
	}
	if (rc)
		*bad_wr = wr;
	if (qp->state == IB_QPS_ERR)
		dibs_rdma_flush_rq(qp);
	else
		dibs_rdma_drain(qp);
	mutex_unlock(&qp->rq_lock);
	return rc;
}

/* Drain the rings of the QPs that complete receives on @cq (see poll_cq). */
void dibs_rdma_cq_drain_rings(struct dibs_rdma_cq *cq)
{
	struct dibs_rdma_qp *qp;

	mutex_lock(&cq->rqps_lock);
	list_for_each_entry(qp, &cq->rqps, rcq_entry) {
		/* a QP being drained by the signal's work item is taken care of */
		if (!mutex_trylock(&qp->rq_lock))
			continue;
		dibs_rdma_drain(qp);
		mutex_unlock(&qp->rq_lock);
	}
	mutex_unlock(&cq->rqps_lock);
}

/* dibs signal on one of our rings: a peer wrote a message. */
void dibs_rdma_ring_irq(struct dibs_dev *dibs, unsigned int idx, u16 mask)
{
	struct dibs_rdma_dev *ddev = dibs_get_priv(dibs, &dibs_rdma_client);
	struct dibs_rdma_qp *qp;

	if (!ddev)
		return;
	qp = dibs_rdma_qp_by_ring(ddev, idx);
	if (!qp)
		return;
	mutex_lock(&qp->rq_lock);
	dibs_rdma_drain(qp);
	mutex_unlock(&qp->rq_lock);
	dibs_rdma_qp_put(qp);
}
