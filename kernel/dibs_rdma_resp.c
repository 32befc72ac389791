// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_rdma: the responder - what arrives from a connected peer.
 *
 * Messages (SEND, WRITE_WITH_IMM) arrive as slots in the QP's receive ring
 * (dibs-rdma-wire.h) with a dibs signal; they are drained into posted
 * receive WQEs in order, by the signal's handle_irq, by post_recv, or by a
 * poll of an empty CQ - or by the process itself, which then holds the drain
 * (dibs_rdma_rx_claim()). The receive WQEs are in the receive queue ring that
 * the process maps and writes itself (the uapi header). A direct peer's RDMA
 * WRITE, READ and atomics move data by DMB token after the owner's checks
 * here: dibs_rdma_resp_connect() and dibs_rdma_resp_check_rkey() answer the
 * requests of dibs_rdma_fabric.h. A placed peer's arrive as requests in the
 * ring, which the drain checks the same way, serves and answers
 * (dibs_rdma_serve()).
 */
#include <linux/vmalloc.h>

#include "dibs_rdma.h"

/*
 * The answer to a connect request: is @qpn of @ddev ready to receive,
 * connected back to the requester, by GID or by LID, and of its type? A UC
 * requester with a ring window writes our ring itself: it must not find an
 * RC responder there that serves READs.
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
	    (req->qp_type == IB_QPT_MAX || req->qp_type == qp->ibqp.qp_type) &&
	    (qp->has_grh ? !memcmp(qp->dgid.raw, req->gid->raw, sizeof(qp->dgid.raw)) :
			   qp->dlid == req->lid)) {
		*ring_tok = qp->ring_dmb.dmb_tok;
		WRITE_ONCE(qp->reply_tok, req->ring_tok);
		st = IB_WC_SUCCESS;
	}
	dibs_rdma_qp_put(qp);
	return st;
}

/*
 * MR @rkey of the PD of @qpn of @ddev, lent as a DMB, into @t (which holds
 * it until dibs_rdma_fabric_target_done()), with the remote rights the MR and
 * the QP both grant. A target request (@window false) must also be allowed
 * @access by both over [@raddr, @raddr + @len).
 */
static enum ib_wc_status dibs_rdma_resp_target(struct dibs_rdma_dev *ddev,
					       u32 qpn, u32 rkey, bool window,
					       int access, u64 raddr, u64 len,
					       struct dibs_rdma_target *t)
{
	struct dibs_rdma_qp *qp = dibs_rdma_qp_get(ddev, qpn);
	struct dibs_rdma_mr *mr = NULL;
	int qp_access;

	t->mr = NULL;
	if (!qp)
		return IB_WC_RETRY_EXC_ERR;
	qp_access = dibs_rdma_qp_remote_access(qp);
	if (window)
		mr = dibs_rdma_mr_lookup(ddev, qp->ibqp.pd, rkey);
	else if (qp_access & access)
		mr = dibs_rdma_mr_check(ddev, qp->ibqp.pd, rkey, access, raddr,
					len);
	dibs_rdma_qp_put(qp);
	if (!mr)
		return IB_WC_REM_ACCESS_ERR;
	if (!mr->has_dmb) {
		dibs_rdma_mr_put(mr);
		return IB_WC_REM_ACCESS_ERR;
	}
	t->mr = mr;
	t->dmb_tok = mr->dmb.dmb_tok;
	t->offset = window ? 0 : raddr - mr->iova;
	t->iova = mr->iova;
	t->length = mr->length;
	t->access = qp_access & mr->access & (IB_ACCESS_REMOTE_WRITE |
					      IB_ACCESS_REMOTE_READ |
					      IB_ACCESS_REMOTE_ATOMIC);
	return IB_WC_SUCCESS;
}

/*
 * The answer to a target request for @qpn of @ddev: MR @rkey must belong to
 * the QP's PD, allow @access (and the QP must, too) and cover the range.
 */
enum ib_wc_status dibs_rdma_resp_check_rkey(struct dibs_rdma_dev *ddev, u32 qpn,
					    u32 rkey, u64 raddr, u64 len,
					    int access,
					    struct dibs_rdma_target *t)
{
	return dibs_rdma_resp_target(ddev, qpn, rkey, false, access, raddr, len,
				     t);
}

/* The answer to a window request: the MR's extent and rights, whatever they are. */
enum ib_wc_status dibs_rdma_resp_check_window(struct dibs_rdma_dev *ddev,
					      u32 qpn, u32 rkey,
					      struct dibs_rdma_target *t)
{
	return dibs_rdma_resp_target(ddev, qpn, rkey, true, 0, 0, 0, t);
}

/*
 * The receive queue ring
 * ----------------------
 * The process may write prod and every entry at any time. The kernel reads
 * prod only through dibs_rdma_rq_posted(), an entry's buffers only from the
 * copy dibs_rdma_rq_load() takes, and never trusts what it wrote itself:
 * the process may have rewritten it.
 */

/* Receives posted into *@n; false if prod is impossible (the process broke it). */
static bool dibs_rdma_rq_posted(struct dibs_rdma_qp *qp, u32 *n)
{
	/* pairs with the poster's release of prod: its entries are written */
	*n = smp_load_acquire(&qp->rq_ring->prod) - qp->rq_cons;
	return *n <= qp->rq_num;
}

static struct dibs_rdma_recv_wqe *dibs_rdma_rq_entry(struct dibs_rdma_qp *qp,
						     u32 idx)
{
	return &qp->rq_wqe[idx & (qp->rq_num - 1)];
}

/* The receive in rx_wqe is done with: the poster may reuse its entry. */
static void dibs_rdma_rq_consume(struct dibs_rdma_qp *qp)
{
	if (qp->ibqp.srq) {
		qp->rx_loaded = false;	/* its entry was freed when taken */
		return;
	}
	qp->rq_cons++;
	/* our reads of the entry come before the poster's rewrite */
	smp_store_release(&qp->rq_ring->cons, qp->rq_cons);
}

/* Forget every posted receive: cons becomes prod, whatever prod is. */
static void dibs_rdma_rq_forget(struct dibs_rdma_qp *qp)
{
	qp->rq_cons = READ_ONCE(qp->rq_ring->prod);
	WRITE_ONCE(qp->rq_ring->cons, qp->rq_cons);
	qp->rx_off = 0;
	qp->rx_drop = false;
	qp->rx_loaded = false;
}

/* Ask the poster for a doorbell after its next post (or stop asking: 0). */
static void dibs_rdma_rq_kick(struct dibs_rdma_qp *qp, u32 kick)
{
	WRITE_ONCE(qp->rq_ring->kick, kick);
	qp->rq_waiting = kick & DIBS_RDMA_RQ_WAITING;
	/* the kick is visible before we read prod again (the uapi header) */
	smp_mb();
}

/*
 * The drain, shared with a process that drains the ring itself (the uapi
 * header, "Receiving in the process"). Only a user QP's process can take
 * it; the kernel takes it under rq_lock, which serialises the kernel's own
 * drains, and then reloads where the process stopped. The process may write
 * anything to rx_owner: a bounded number of attempts, then the QP's
 * receives wait - they are that process's own.
 */
#define DIBS_RDMA_RX_TRIES	8

static bool dibs_rdma_rx_claim(struct dibs_rdma_qp *qp)
{
	u32 old = 0, new, cur;
	int i;

	lockdep_assert_held(&qp->rq_lock);
	if (!qp->rq_entry) {
		qp->rx_claimed = true;
		return true;
	}
	for (i = 0; i < DIBS_RDMA_RX_TRIES; i++) {
		new = old & DIBS_RDMA_RX_USER ? old | DIBS_RDMA_RX_PENDING :
						DIBS_RDMA_RX_KERNEL;
		/* full barrier: the process's writes before its release are seen */
		cur = cmpxchg(&qp->rq_ring->rx_owner, old, new);
		if (cur != old) {
			old = cur;
			continue;
		}
		if (old & DIBS_RDMA_RX_USER)
			return false;	/* its release makes it ask us again */
		qp->ring_cons = READ_ONCE(qp->rq_ring->rx_cons);
		qp->rq_cons = READ_ONCE(qp->rq_ring->cons);
		qp->rx_claimed = true;
		return true;
	}
	return false;
}

static void dibs_rdma_rx_release(struct dibs_rdma_qp *qp)
{
	qp->rx_claimed = false;
	if (!qp->rq_entry)
		return;
	WRITE_ONCE(qp->rq_ring->rx_cons, qp->ring_cons);
	/* what we wrote before the process may take the drain */
	smp_store_release(&qp->rq_ring->rx_owner, 0);
}

/*
 * Copy the receive at rq_cons into rx_wqe, for the message at the head of
 * the ring. False if none is posted (the poster then rings the doorbell
 * after its next post) or the ring is broken (the QP is then in error).
 */
static bool dibs_rdma_rq_load(struct dibs_rdma_qp *qp)
{
	u32 n;
	int rc;

	if (qp->ibqp.srq) {
		/* a receive taken stays ours until its message completes */
		if (qp->rx_loaded)
			return true;
		rc = dibs_rdma_srq_take(qp);
		if (rc < 0)
			goto err_broken;
		return rc;
	}
	if (!dibs_rdma_rq_posted(qp, &n))
		goto err_broken;
	if (!n && !qp->rq_waiting) {
		dibs_rdma_rq_kick(qp, DIBS_RDMA_RQ_WAITING);
		/* posted before the poster could see the kick */
		if (!dibs_rdma_rq_posted(qp, &n))
			goto err_broken;
	}
	if (!n)
		return false;
	if (qp->rq_waiting)
		dibs_rdma_rq_kick(qp, 0);
	/* one copy: the process may rewrite the entry while we use it */
	memcpy(&qp->rx_wqe, dibs_rdma_rq_entry(qp, qp->rq_cons),
	       sizeof(qp->rx_wqe));
	if (qp->rx_wqe.num_sge > qp->cap.max_recv_sge)
		goto err_broken;
	return true;

err_broken:
	dibs_rdma_qp_error_locked(qp);
	return false;
}

/*
 * The receive queue of a new QP, for qp->cap.max_recv_wr (a power of two,
 * or 0: every post is ENOMEM) receives. With @udata (the provider's
 * response buffer), the ring is memory the process maps, described in
 * @resp; otherwise the QP owns it.
 */
int dibs_rdma_rq_create(struct dibs_rdma_qp *qp, struct ib_udata *udata,
			struct dibs_rdma_create_qp_resp *resp)
{
	struct dibs_rdma_mmap_entry *e;
	size_t len;

	qp->rq_num = qp->cap.max_recv_wr;
	len = PAGE_ALIGN(DIBS_RDMA_RQ_RING_ENTRIES +
			 array_size(qp->rq_num, sizeof(*qp->rq_wqe)));
	if (!udata) {
		qp->rq_ring = vzalloc(len);
		if (!qp->rq_ring)
			return -ENOMEM;
		qp->rq_wqe = (void *)qp->rq_ring + DIBS_RDMA_RQ_RING_ENTRIES;
		return 0;
	}
	e = dibs_rdma_mmap_alloc(udata, len);
	if (IS_ERR(e))
		return PTR_ERR(e);
	qp->rq_entry = e;
	qp->rq_ring = e->vaddr;
	qp->rq_wqe = e->vaddr + DIBS_RDMA_RQ_RING_ENTRIES;
	resp->mmap_offset = rdma_user_mmap_get_offset(&e->rdma);
	resp->mmap_len = len;
	resp->num_wqe = qp->rq_num;
	return 0;
}

/* Nothing reads the ring any more; a mapping the process still has keeps it. */
void dibs_rdma_rq_destroy(struct dibs_rdma_qp *qp)
{
	if (qp->rq_entry)
		rdma_user_mmap_entry_remove(&qp->rq_entry->rdma);
	else
		vfree(qp->rq_ring);
	qp->rq_entry = NULL;
	qp->rq_ring = NULL;
	qp->rq_wqe = NULL;
}

/* Forget what is posted (modify to RESET). Caller holds rq_lock. */
void dibs_rdma_rq_reset(struct dibs_rdma_qp *qp)
{
	lockdep_assert_held(&qp->rq_lock);
	dibs_rdma_rq_forget(qp);
	dibs_rdma_rq_kick(qp, 0);
	qp->last_wqe = false;
	WRITE_ONCE(qp->rq_ring->rx_cons, 0);
	WRITE_ONCE(qp->rq_ring->rx_owner, 0);
}

/*
 * With an SRQ, the QP in error takes no more receives from it: tell its
 * consumer once, as the IB spec asks (the QP may be destroyed now without
 * losing any of the SRQ's receives).
 */
static void dibs_rdma_rx_last_wqe(struct dibs_rdma_qp *qp)
{
	struct ib_event ev = {
		.device = qp->ibqp.device,
		.element.qp = &qp->ibqp,
		.event = IB_EVENT_QP_LAST_WQE_REACHED,
	};

	if (!qp->ibqp.srq || qp->last_wqe)
		return;
	qp->last_wqe = true;
	if (qp->ibqp.event_handler)
		qp->ibqp.event_handler(&ev, qp->ibqp.qp_context);
}

/*
 * Complete every posted receive with a flush error, and ask the poster to
 * ring for the ones it posts later. With an SRQ, only the receive taken for
 * a message is the QP's: the SRQ's entries stay posted for the others.
 * Caller holds the drain; the QP is in error.
 */
static void dibs_rdma_rx_flush(struct dibs_rdma_qp *qp)
{
	struct ib_wc wc = {
		.status = IB_WC_WR_FLUSH_ERR,
		.opcode = IB_WC_RECV,
		.qp = &qp->ibqp,
	};
	u32 n;

	if (qp->rx_loaded) {
		wc.wr_id = qp->rx_wqe.wr_id;
		qp->rx_loaded = false;
		dibs_rdma_cq_post(to_dcq(qp->ibqp.recv_cq), &wc, false);
	}
	dibs_rdma_rx_last_wqe(qp);
	dibs_rdma_rq_kick(qp, DIBS_RDMA_RQ_FLUSH);
	qp->rx_off = 0;
	qp->rx_drop = false;
	if (!dibs_rdma_rq_posted(qp, &n)) {
		/* what is posted is unknown: start over at prod */
		dibs_rdma_rq_forget(qp);
		return;
	}
	for (; n; n--) {
		wc.wr_id = READ_ONCE(dibs_rdma_rq_entry(qp, qp->rq_cons)->wr_id);
		dibs_rdma_rq_consume(qp);
		dibs_rdma_cq_post(to_dcq(qp->ibqp.recv_cq), &wc, false);
	}
}

/*
 * The QP went to the error state: flush, unless a drain holds it - the
 * kernel's flushes when it is done, the process's hands over to POLL_CQ,
 * which does. Caller holds rq_lock.
 */
void dibs_rdma_flush_rq(struct dibs_rdma_qp *qp)
{
	lockdep_assert_held(&qp->rq_lock);
	if (qp->rx_claimed || !dibs_rdma_rx_claim(qp))
		return;
	dibs_rdma_rx_flush(qp);
	dibs_rdma_rx_release(qp);
}

/*
 * Copy @len bytes from @src into the receive WQE's buffers at @off. Returns
 * an ib_wc_status: local protection and length errors are the receiver's.
 */
static enum ib_wc_status dibs_rdma_place(struct dibs_rdma_qp *qp,
					 const struct dibs_rdma_recv_wqe *wqe,
					 u32 off, const void *src, u32 len)
{
	enum ib_wc_status status = IB_WC_SUCCESS;
	u32 i;

	for (i = 0; i < wqe->num_sge && len; i++) {
		const struct ib_uverbs_sge *sge = &wqe->sge[i];
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

/* Forget the WRITE request being served. Caller holds rq_lock (or owns @qp). */
void dibs_rdma_resp_reset(struct dibs_rdma_qp *qp)
{
	if (qp->wr_mr)
		dibs_rdma_mr_put(qp->wr_mr);
	qp->wr_mr = NULL;
	qp->wr_left = 0;
}

/*
 * Answer a request in the requester's ring: READ data, then the fields,
 * then the id (dibs-rdma-wire.h). A requester that is gone or a token that
 * is wrong leave the request unanswered: the requester times out.
 */
static void dibs_rdma_answer(struct dibs_rdma_qp *qp, u64 id,
			     enum ib_wc_status st, const void *data, u32 len,
			     u64 orig)
{
	struct dibs_dev *dibs = qp->ddev->dibs;
	u64 tok = READ_ONCE(qp->reply_tok);
	struct dibs_rdma_resp r = {
		.status = st,
		.len = len,
		.orig = orig,
	};
	unsigned int off = offsetof(struct dibs_rdma_ring, resp);

	if (!tok)
		return;
	if (len && dibs_move_data(dibs, tok, 0, false,
				  offsetof(struct dibs_rdma_ring, resp_data),
				  (void *)data, len))
		return;
	if (dibs_move_data(dibs, tok, 0, false, off + sizeof(r.id),
			   (u8 *)&r + sizeof(r.id), sizeof(r) - sizeof(r.id)))
		return;
	/* the requester reads the fields after it saw the id */
	smp_wmb();
	r.id = id;
	dibs_move_data(dibs, tok, 0, false, off, &r.id, sizeof(r.id));
}

/* The MR a request of the connected peer may access, or NULL. */
static struct dibs_rdma_mr *dibs_rdma_req_mr(struct dibs_rdma_qp *qp,
					     const struct dibs_rdma_slot_hdr *h,
					     int access)
{
	if (h->src_qpn != qp->dest_qpn || !(dibs_rdma_qp_remote_access(qp) & access))
		return NULL;
	return dibs_rdma_mr_check(qp->ddev, qp->ibqp.pd, h->rkey, access,
				  h->raddr, h->total);
}

/* One slot of a WRITE request: place its data, answer at its last slot. */
static void dibs_rdma_serve_write(struct dibs_rdma_qp *qp,
				  const struct dibs_rdma_slot_hdr *h,
				  const u8 *data)
{
	u32 len = h->len;

	if (h->flags & DIBS_RDMA_SLOT_FIRST) {
		dibs_rdma_resp_reset(qp);
		qp->wr_mr = dibs_rdma_req_mr(qp, h, IB_ACCESS_REMOTE_WRITE);
		qp->wr_status = qp->wr_mr ? IB_WC_SUCCESS : IB_WC_REM_ACCESS_ERR;
		qp->wr_addr = h->raddr;
		qp->wr_left = h->total;
	} else if (!qp->wr_mr && qp->wr_status == IB_WC_SUCCESS) {
		qp->wr_status = IB_WC_REM_INV_REQ_ERR;	/* no FIRST slot */
	}
	if (qp->wr_status == IB_WC_SUCCESS) {
		/* the range was checked for all of wr_left at the first slot */
		if (len > DIBS_RDMA_SLOT_DATA || len > qp->wr_left) {
			qp->wr_status = IB_WC_REM_INV_REQ_ERR;
		} else {
			memcpy(qp->wr_mr->vaddr + (qp->wr_addr - qp->wr_mr->iova),
			       data, len);
			qp->wr_addr += len;
			qp->wr_left -= len;
		}
	}
	if (!(h->flags & DIBS_RDMA_SLOT_LAST))
		return;
	if (qp->wr_status == IB_WC_SUCCESS && qp->wr_left)
		qp->wr_status = IB_WC_REM_INV_REQ_ERR;	/* short */
	dibs_rdma_answer(qp, h->id, qp->wr_status, NULL, 0, 0);
	dibs_rdma_resp_reset(qp);
}

/* A READ or atomic request: one slot, served and answered at once. */
static void dibs_rdma_serve_read_atomic(struct dibs_rdma_qp *qp,
					const struct dibs_rdma_slot_hdr *h)
{
	bool read = h->opcode == DIBS_RDMA_MSG_READ;
	struct dibs_rdma_mr *mr;
	u64 orig = 0;
	void *p;

	if (read ? h->total > DIBS_RDMA_RESP_DATA :
		   h->total != sizeof(u64) || h->raddr % sizeof(u64)) {
		dibs_rdma_answer(qp, h->id, IB_WC_REM_INV_REQ_ERR, NULL, 0, 0);
		return;
	}
	mr = dibs_rdma_req_mr(qp, h, read ? IB_ACCESS_REMOTE_READ :
					    IB_ACCESS_REMOTE_ATOMIC);
	if (!mr) {
		dibs_rdma_answer(qp, h->id, IB_WC_REM_ACCESS_ERR, NULL, 0, 0);
		return;
	}
	p = mr->vaddr + (h->raddr - mr->iova);
	if (read) {
		dibs_rdma_answer(qp, h->id, IB_WC_SUCCESS, p, h->total, 0);
	} else {
		if (h->opcode == DIBS_RDMA_MSG_CMP_SWAP)
			orig = cmpxchg64((u64 *)p, h->compare, h->swap);
		else
			orig = atomic64_fetch_add(h->compare, (atomic64_t *)p);
		dibs_rdma_answer(qp, h->id, IB_WC_SUCCESS, NULL, 0, orig);
	}
	dibs_rdma_mr_put(mr);
}

static bool dibs_rdma_is_request(u32 opcode)
{
	return opcode >= DIBS_RDMA_MSG_WRITE && opcode <= DIBS_RDMA_MSG_FETCH_ADD;
}

/* Serve the request in the slot with index @idx, if it was not served yet. */
static void dibs_rdma_serve(struct dibs_rdma_qp *qp, u64 idx,
			    const struct dibs_rdma_slot_hdr *h,
			    const struct dibs_rdma_slot *slot)
{
	if (idx < qp->ring_served)
		return;
	if (h->opcode == DIBS_RDMA_MSG_WRITE)
		dibs_rdma_serve_write(qp, h, slot->data);
	else
		dibs_rdma_serve_read_atomic(qp, h);
	qp->ring_served = idx + 1;
}

/*
 * The message at the head of the ring waits for a receive WQE: serve the
 * requests queued behind it now, as a direct peer's RDMA lands at once, and
 * consume them later in ring order. SENDs that completed at the requester
 * are accepted; the requests after them must not wait for the receiver.
 */
static void dibs_rdma_serve_ahead(struct dibs_rdma_qp *qp)
{
	u64 idx = max(qp->ring_served, qp->ring_cons + 1);

	for (; idx - qp->ring_cons < DIBS_RDMA_RING_SLOTS; idx++) {
		struct dibs_rdma_slot *slot =
			&qp->ring->slots[idx % DIBS_RDMA_RING_SLOTS];
		struct dibs_rdma_slot_hdr h;

		if (READ_ONCE(slot->hdr.seq) != idx + 1)
			break;
		/* the slot's body was written before its seq */
		smp_rmb();
		memcpy(&h, &slot->hdr, sizeof(h));
		if (dibs_rdma_is_request(h.opcode))
			dibs_rdma_serve(qp, idx, &h, slot);
	}
}

/*
 * The ring's armed word (dibs-rdma-wire.h): a sender that writes our ring
 * through a window signals us only while it is set. It is set when the QP
 * is created or reset, and by dibs_rdma_cq_arm_rings() when the receive CQ
 * is armed; a drain sets it to whether a user CQ is armed: a process that
 * polls drains the ring itself (poll_cq, or POLL_CQ of an empty CQ). A
 * kernel CQ's QPs keep it: their consumers may poll where a drain cannot
 * run. The CQ's lock orders this against arming: the armer sets notify
 * under it first. A process that drains clears it too (the uapi header),
 * possibly just after an armer set it: the armer's drain then waits for
 * that process to hand over, and sets it again here, before it reads the
 * slots.
 */
static void dibs_rdma_ring_set_armed(struct dibs_rdma_qp *qp)
{
	struct dibs_rdma_cq *rcq = to_dcq(qp->ibqp.recv_cq);
	unsigned long flags;
	u32 armed;

	if (!rcq->ring)
		return;
	spin_lock_irqsave(&rcq->lock, flags);
	armed = rcq->notify ? 1 : 0;
	spin_unlock_irqrestore(&rcq->lock, flags);
	if (READ_ONCE(qp->ring->armed) == armed)
		return;
	WRITE_ONCE(qp->ring->armed, armed);
	/* armed before the slots are read; pairs with the sender's fence */
	smp_mb();
}

/* Deliver complete messages from our ring to posted receives, serve requests. */
static void dibs_rdma_drain(struct dibs_rdma_qp *qp)
{
	struct dibs_rdma_ring *ring = qp->ring;

	lockdep_assert_held(&qp->rq_lock);
	if (!dibs_rdma_rx_claim(qp))
		return;
	dibs_rdma_ring_set_armed(qp);
	while (qp->state == IB_QPS_RTR || qp->state == IB_QPS_RTS) {
		struct dibs_rdma_slot *slot;
		struct dibs_rdma_slot_hdr h;
		struct dibs_rdma_recv_wqe *wqe;
		struct ib_wc wc = {};
		enum ib_wc_status status;

		slot = &ring->slots[qp->ring_cons % DIBS_RDMA_RING_SLOTS];
		if (READ_ONCE(slot->hdr.seq) != qp->ring_cons + 1) {
			/* nothing waits for a receive (the process drained it) */
			if (qp->rq_waiting)
				dibs_rdma_rq_kick(qp, 0);
			break;
		}
		/* the slot's body was written before its seq */
		smp_rmb();
		/* one copy: the peer may rewrite the slot while we look at it */
		memcpy(&h, &slot->hdr, sizeof(h));
		if (dibs_rdma_is_request(h.opcode)) {
			dibs_rdma_serve(qp, qp->ring_cons, &h, slot);
			qp->ring_cons++;
			/* pairs with the sender's smp_load_acquire() of cons */
			smp_store_release(&ring->cons, qp->ring_cons);
			continue;
		}
		/*
		 * UC: a sender that found no room for the rest of a message
		 * (RNR) gave up on it, which is no error on UC: the next
		 * message's first slot ends the one that is lost.
		 */
		if ((qp->rx_off || qp->rx_drop) && dibs_rdma_qp_is_uc(qp) &&
		    (h.flags & DIBS_RDMA_SLOT_FIRST)) {
			qp->rx_off = 0;
			qp->rx_drop = false;
		}
		if (!qp->rx_off && !qp->rx_drop && !dibs_rdma_rq_load(qp)) {
			/* the message waits for post_recv (receiver not ready) */
			if (qp->state != IB_QPS_ERR)
				dibs_rdma_serve_ahead(qp);
			break;
		}
		wqe = &qp->rx_wqe;
		status = IB_WC_SUCCESS;
		/* the slots of a message being dropped are only skipped */
		if (!qp->rx_drop && h.opcode == DIBS_RDMA_MSG_SEND)
			status = dibs_rdma_place(qp, wqe, qp->rx_off, slot->data,
						 min_t(u32, h.len,
						       DIBS_RDMA_SLOT_DATA));
		else if (!qp->rx_drop && h.opcode != DIBS_RDMA_MSG_WRITE_IMM)
			status = IB_WC_REM_INV_REQ_ERR;
		qp->rx_off += h.len;
		qp->ring_cons++;
		/* tell the sender the slot is free */
		smp_store_release(&ring->cons, qp->ring_cons);
		/*
		 * UC: a message the responder refuses (too long for the
		 * receive, malformed) is silently dropped; the receive stays
		 * posted for the next one. A receive buffer that is not
		 * writable is the receiver's own error, reported as on RC.
		 */
		if (status != IB_WC_SUCCESS && status != IB_WC_LOC_PROT_ERR &&
		    dibs_rdma_qp_is_uc(qp))
			qp->rx_drop = true;
		if (qp->rx_drop) {
			if (h.flags & DIBS_RDMA_SLOT_LAST) {
				qp->rx_drop = false;
				qp->rx_off = 0;
			}
			continue;
		}
		if (!(h.flags & DIBS_RDMA_SLOT_LAST) && status == IB_WC_SUCCESS)
			continue;

		wc.wr_id = wqe->wr_id;
		wc.status = status;
		wc.opcode = h.opcode == DIBS_RDMA_MSG_WRITE_IMM ?
			    IB_WC_RECV_RDMA_WITH_IMM : IB_WC_RECV;
		wc.byte_len = h.total;
		wc.qp = &qp->ibqp;
		wc.src_qp = h.src_qpn;
		wc.slid = h.slid;
		wc.port_num = 1;
		if (h.flags & DIBS_RDMA_SLOT_IMM) {
			wc.wc_flags |= IB_WC_WITH_IMM;
			wc.ex.imm_data = (__force __be32)h.imm;
		}
		dibs_rdma_rq_consume(qp);
		qp->rx_off = 0;
		/*
		 * In the error state before the completion that tells why is
		 * in the CQ ring, where a process may poll it at once; the
		 * flush follows the completion.
		 */
		if (status != IB_WC_SUCCESS)
			WRITE_ONCE(qp->state, IB_QPS_ERR);
		dibs_rdma_cq_post(to_dcq(qp->ibqp.recv_cq), &wc,
				  h.flags & DIBS_RDMA_SLOT_SOLICITED);
		if (status != IB_WC_SUCCESS)
			dibs_rdma_qp_error_locked(qp);
	}
	if (qp->state == IB_QPS_ERR)
		dibs_rdma_rx_flush(qp);
	dibs_rdma_rx_release(qp);
}

/* Write @wr into @wqe as the process would (@wr's num_sge is checked). */
void dibs_rdma_recv_wqe_set(struct dibs_rdma_recv_wqe *wqe,
			    const struct ib_recv_wr *wr)
{
	int i;

	wqe->wr_id = wr->wr_id;
	wqe->num_sge = wr->num_sge;
	for (i = 0; i < wr->num_sge; i++) {
		wqe->sge[i].addr = wr->sg_list[i].addr;
		wqe->sge[i].length = wr->sg_list[i].length;
		wqe->sge[i].lkey = wr->sg_list[i].lkey;
	}
}

/* Post @wr into the ring as the process would. Caller holds rq_lock. */
static int dibs_rdma_rq_post(struct dibs_rdma_qp *qp, const struct ib_recv_wr *wr)
{
	u32 n, prod;

	if (qp->state == IB_QPS_RESET || wr->num_sge < 0 ||
	    wr->num_sge > qp->cap.max_recv_sge)
		return -EINVAL;
	if (!dibs_rdma_rq_posted(qp, &n)) {
		dibs_rdma_qp_error_locked(qp);
		return -EINVAL;
	}
	if (n == qp->rq_num)
		return -ENOMEM;
	prod = qp->rq_cons + n;
	dibs_rdma_recv_wqe_set(dibs_rdma_rq_entry(qp, prod), wr);
	/* the entry before prod (dibs_rdma_rq_posted()) */
	smp_store_release(&qp->rq_ring->prod, prod + 1);
	return 0;
}

/*
 * POST_RECV: the work requests go into the ring. Without any, it is the
 * process's doorbell after it posted into the ring itself.
 */
int dibs_rdma_post_recv(struct ib_qp *ibqp, const struct ib_recv_wr *wr,
			const struct ib_recv_wr **bad_wr)
{
	struct dibs_rdma_qp *qp = to_dqp(ibqp);
	int rc = 0;

	/* a QP of an SRQ has no receive queue of its own */
	if (wr && ibqp->srq) {
		*bad_wr = wr;
		return -EINVAL;
	}
	mutex_lock(&qp->rq_lock);
	for (; wr; wr = wr->next) {
		rc = dibs_rdma_rq_post(qp, wr);
		if (rc) {
			*bad_wr = wr;
			break;
		}
	}
	/* in the error state, this flushes */
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

/*
 * @cq was armed: ask the senders that write its QPs' rings through windows
 * for a signal, then drain what they wrote before they could see that (the
 * fence pairs with the one a sender makes between its slot and reading
 * armed, dibs-rdma-wire.h).
 *
 * Context: process context (req_notify_cq of a user CQ).
 */
void dibs_rdma_cq_arm_rings(struct dibs_rdma_cq *cq)
{
	struct dibs_rdma_qp *qp;

	mutex_lock(&cq->rqps_lock);
	list_for_each_entry(qp, &cq->rqps, rcq_entry)
		WRITE_ONCE(qp->ring->armed, 1);
	/* armed before the slots are read; pairs with the sender's fence */
	smp_mb();
	list_for_each_entry(qp, &cq->rqps, rcq_entry) {
		mutex_lock(&qp->rq_lock);
		dibs_rdma_drain(qp);
		mutex_unlock(&qp->rq_lock);
	}
	mutex_unlock(&cq->rqps_lock);
}

/* The SRQ of @qp got receives: a message that waits for one may take it. */
void dibs_rdma_rq_doorbell(struct dibs_rdma_qp *qp)
{
	mutex_lock(&qp->rq_lock);
	if (qp->rq_waiting)
		dibs_rdma_drain(qp);
	mutex_unlock(&qp->rq_lock);
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
