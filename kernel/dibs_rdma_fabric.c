// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_rdma: the fabric (see dibs_rdma_fabric.h): the LID directory of this
 * kernel, requests to local peers as direct calls into the destination
 * device's responder, and connect events to and from peers in other kernels.
 */
#include <linux/jhash.h>
#include <linux/mm.h>
#include <linux/xarray.h>

#include "dibs_rdma.h"

/*
 * All dibs_rdma devices of this kernel by LID. Lookups take an ib_device
 * reference under the xarray lock; unregistering a device waits for those
 * references.
 */
static DEFINE_XARRAY_ALLOC(dibs_rdma_lids);

/* how long a requester waits for the answer to a connect event */
#define DIBS_RDMA_CONNECT_TIMEOUT_MS	2000

static_assert(DIBS_RDMA_MAX_QP + 1 <= DIBS_RDMA_EV_QPN_MASK);

/*
 * Does @dibs accept memory lent by its client as a DMB (dibs_loopback)? Then
 * memory regions are DMBs and local peers are direct; otherwise the owner
 * places the data (dibs-rdma-wire.h, "Requests").
 */
static bool dibs_rdma_dev_lends(struct dibs_dev *dibs)
{
	struct dibs_dmb dmb = { .dmb_len = PAGE_SIZE };
	void *page = (void *)get_zeroed_page(GFP_KERNEL);
	bool lends;

	if (!page)
		return false;
	dmb.cpu_addr = page;
	lends = !dibs_register_dmb(dibs, &dmb, &dibs_rdma_client);
	if (lends)
		dibs_unregister_dmb(dibs, &dmb);
	free_page((unsigned long)page);
	return lends;
}

/* The interface id of a dibs GID with a zero second half (see the header). */
#define DIBS_RDMA_GID_SHORT	0xfe

/* A dibs GID in verbs form (dibs_rdma_fabric.h, "LID and GID scheme"). */
static void dibs_rdma_verbs_gid(const uuid_t *uuid, union ib_gid *gid)
{
	static const u8 zero[8];

	BUILD_BUG_ON(sizeof(gid->raw) != sizeof(uuid->b));
	memcpy(gid->raw, uuid->b, sizeof(gid->raw));
	if (!memcmp(uuid->b + 8, zero, sizeof(zero))) {
		gid->raw[8] = DIBS_RDMA_GID_SHORT;
		memcpy(gid->raw + 9, uuid->b + 1, 7);
	}
}

/* The dibs GID that verbs GID @gid names. */
static void dibs_rdma_dibs_gid(const union ib_gid *gid, uuid_t *uuid)
{
	memcpy(uuid->b, gid->raw, sizeof(uuid->b));
	if (gid->raw[8] == DIBS_RDMA_GID_SHORT &&
	    !memcmp(gid->raw + 9, gid->raw + 1, 7))
		memset(uuid->b + 8, 0, 8);
}

int dibs_rdma_fabric_add_dev(struct dibs_rdma_dev *ddev)
{
	u32 lid, next = DIBS_RDMA_LID_MIN;
	int rc;

	ddev->lends = dibs_rdma_dev_lends(ddev->dibs);
	dibs_rdma_verbs_gid(&ddev->dibs->gid, &ddev->gid);
	/*
	 * A device that cannot lend may have peers in other kernels, whose
	 * LIDs we do not know: start at a point drawn from the GID, so that
	 * two systems' LIDs almost never match and a QP addressed by a
	 * remote LID fails to connect instead of reaching a local QP.
	 */
	if (!ddev->lends)
		next += jhash(ddev->gid.raw, sizeof(ddev->gid.raw), 0) %
			(DIBS_RDMA_LID_MAX - DIBS_RDMA_LID_MIN + 1);

	/* not found by lookups until registered: ib_device_try_get() fails */
	rc = xa_alloc_cyclic(&dibs_rdma_lids, &lid, ddev,
			     XA_LIMIT(DIBS_RDMA_LID_MIN, DIBS_RDMA_LID_MAX),
			     &next, GFP_KERNEL);
	if (rc < 0)
		return rc;
	ddev->lid = lid;
	return 0;
}

void dibs_rdma_fabric_del_dev(struct dibs_rdma_dev *ddev)
{
	/* no new lookups; unregistering the ib_device waits for those in progress */
	xa_erase(&dibs_rdma_lids, ddev->lid);
}

static struct dibs_rdma_dev *dibs_rdma_dev_by_lid(u16 lid)
{
	struct dibs_rdma_dev *ddev;

	xa_lock(&dibs_rdma_lids);
	ddev = xa_load(&dibs_rdma_lids, lid);
	if (ddev && !ib_device_try_get(&ddev->ibdev))
		ddev = NULL;
	xa_unlock(&dibs_rdma_lids);
	return ddev;
}

static struct dibs_rdma_dev *dibs_rdma_dev_by_gid(const union ib_gid *gid)
{
	struct dibs_rdma_dev *ddev, *found = NULL;
	unsigned long lid;

	xa_lock(&dibs_rdma_lids);
	xa_for_each(&dibs_rdma_lids, lid, ddev) {
		if (!memcmp(ddev->gid.raw, gid->raw, sizeof(gid->raw)) &&
		    ib_device_try_get(&ddev->ibdev)) {
			found = ddev;
			break;
		}
	}
	xa_unlock(&dibs_rdma_lids);
	return found;
}

void dibs_rdma_fabric_init_qp(struct dibs_rdma_qp *qp)
{
	spin_lock_init(&qp->remote.lock);
	init_completion(&qp->remote.answered);
}

/* The QP is reset: forget the connection. Caller holds sq_lock. */
void dibs_rdma_fabric_reset_qp(struct dibs_rdma_qp *qp)
{
	lockdep_assert_held(&qp->sq_lock);
	WRITE_ONCE(qp->remote.ring_tok, 0);
}

/*
 * Connect to a QP in another kernel: one CONNECT event, one answer, kept
 * for the connection. Caller holds sq_lock.
 */
static enum ib_wc_status dibs_rdma_connect_remote(struct dibs_rdma_qp *qp,
						  struct dibs_rdma_peer *peer)
{
	struct dibs_rdma_remote *r = &qp->remote;
	struct dibs_dev *dibs = qp->ddev->dibs;
	unsigned long flags;
	uuid_t gid;
	u64 tok;
	int rc;

	lockdep_assert_held(&qp->sq_lock);
	peer->qpn = qp->dest_qpn;
	peer->placed = true;
	if (r->ring_tok) {
		peer->ring_tok = r->ring_tok;
		return IB_WC_SUCCESS;
	}
	dibs_rdma_dibs_gid(&qp->dgid, &gid);
	if (qp->dest_qpn > DIBS_RDMA_EV_QPN_MASK ||
	    dibs_query_remote_gid(dibs, &gid, 0, 0))
		return IB_WC_RETRY_EXC_ERR;

	spin_lock_irqsave(&r->lock, flags);
	r->waiting = true;
	r->answer = 0;
	reinit_completion(&r->answered);
	spin_unlock_irqrestore(&r->lock, flags);
	rc = dibs_signal_event(dibs, &gid, 1,
			       DIBS_RDMA_EV_CODE(DIBS_RDMA_EV_CONNECT, qp->dest_qpn,
						 qp->ibqp.qp_num),
			       qp->ring_dmb.dmb_tok);
	if (!rc &&
	    !wait_for_completion_timeout(&r->answered,
					 msecs_to_jiffies(DIBS_RDMA_CONNECT_TIMEOUT_MS)))
		rc = -ETIMEDOUT;
	spin_lock_irqsave(&r->lock, flags);
	r->waiting = false;
	tok = r->answer;
	spin_unlock_irqrestore(&r->lock, flags);
	if (rc || !tok)
		return IB_WC_RETRY_EXC_ERR;
	WRITE_ONCE(r->ring_tok, tok);
	peer->ring_tok = tok;
	return IB_WC_SUCCESS;
}

enum ib_wc_status dibs_rdma_fabric_connect(struct dibs_rdma_qp *qp,
					   struct dibs_rdma_peer *peer)
{
	const struct dibs_rdma_conn_req req = {
		.gid = &qp->ddev->gid,
		.lid = qp->ddev->lid,
		.qpn = qp->ibqp.qp_num,
		.qp_type = qp->ibqp.qp_type,
		.ring_tok = qp->ring_dmb.dmb_tok,
	};
	enum ib_wc_status st;

	peer->placed = false;
	peer->dev = qp->has_grh ? dibs_rdma_dev_by_gid(&qp->dgid) :
				  dibs_rdma_dev_by_lid(qp->dlid);
	if (!peer->dev)
		return qp->has_grh ? dibs_rdma_connect_remote(qp, peer) :
				     IB_WC_RETRY_EXC_ERR;
	peer->qpn = qp->dest_qpn;
	peer->placed = !qp->ddev->lends || !peer->dev->lends;
	if (dibs_query_remote_gid(qp->ddev->dibs, &peer->dev->dibs->gid, 0, 0))
		st = IB_WC_RETRY_EXC_ERR;
	else
		st = dibs_rdma_resp_connect(peer->dev, peer->qpn, &req,
					    &peer->ring_tok);
	if (st != IB_WC_SUCCESS)
		dibs_rdma_fabric_disconnect(peer);
	return st;
}

void dibs_rdma_fabric_disconnect(struct dibs_rdma_peer *peer)
{
	if (peer->dev)
		ib_device_put(&peer->dev->ibdev);
	peer->dev = NULL;
}

enum ib_wc_status dibs_rdma_fabric_target(struct dibs_rdma_peer *peer, u32 rkey,
					  u64 raddr, u64 len, int access,
					  struct dibs_rdma_target *t)
{
	return dibs_rdma_resp_check_rkey(peer->dev, peer->qpn, rkey, raddr, len,
					 access, t);
}

enum ib_wc_status dibs_rdma_fabric_window(struct dibs_rdma_peer *peer, u32 rkey,
					  struct dibs_rdma_target *t)
{
	t->mr = NULL;
	if (peer->placed)
		return IB_WC_REM_INV_REQ_ERR;
	return dibs_rdma_resp_check_window(peer->dev, peer->qpn, rkey, t);
}

void dibs_rdma_fabric_target_done(struct dibs_rdma_target *t)
{
	if (t->mr)
		dibs_rdma_mr_put(t->mr);
	t->mr = NULL;
}

/* A CONNECT event from a peer in another kernel: check it, answer it. */
static void dibs_rdma_answer_connect(struct dibs_rdma_dev *ddev,
				     const struct dibs_event *ev)
{
	u32 dqpn = DIBS_RDMA_EV_DQPN(ev->subtype);
	u32 sqpn = DIBS_RDMA_EV_SQPN(ev->subtype);
	union ib_gid gid;
	const struct dibs_rdma_conn_req req = {
		.gid = &gid,
		.qpn = sqpn,
		.qp_type = IB_QPT_MAX,
		.ring_tok = ev->data,
	};
	enum ib_wc_status st;
	u64 tok = 0;

	dibs_rdma_verbs_gid(&ev->gid, &gid);
	st = dibs_rdma_resp_connect(ddev, dqpn, &req, &tok);
	dibs_signal_event(ddev->dibs, &ev->gid, 1,
			  DIBS_RDMA_EV_CODE(st == IB_WC_SUCCESS ?
					    DIBS_RDMA_EV_ACCEPT :
					    DIBS_RDMA_EV_REFUSE, sqpn, dqpn),
			  st == IB_WC_SUCCESS ? tok : 0);
}

/* An answer to our CONNECT: hand it to the QP waiting for it, if any. */
static void dibs_rdma_take_answer(struct dibs_rdma_dev *ddev,
				  const struct dibs_event *ev)
{
	struct dibs_rdma_qp *qp = dibs_rdma_qp_get(ddev, DIBS_RDMA_EV_DQPN(ev->subtype));
	unsigned long flags;
	union ib_gid gid;

	if (!qp)
		return;
	dibs_rdma_verbs_gid(&ev->gid, &gid);
	spin_lock_irqsave(&qp->remote.lock, flags);
	/* while waiting, the waiter holds sq_lock: the destination is stable */
	if (qp->remote.waiting &&
	    !memcmp(qp->dgid.raw, gid.raw, sizeof(gid.raw)) &&
	    DIBS_RDMA_EV_SQPN(ev->subtype) == qp->dest_qpn) {
		qp->remote.answer = DIBS_RDMA_EV_KIND(ev->subtype) ==
				    DIBS_RDMA_EV_ACCEPT ? ev->data : 0;
		qp->remote.waiting = false;
		complete(&qp->remote.answered);
	}
	spin_unlock_irqrestore(&qp->remote.lock, flags);
	dibs_rdma_qp_put(qp);
}

/* A peer is gone: its connected QPs go to the error state. */
static void dibs_rdma_peer_gone(struct dibs_rdma_dev *ddev, const uuid_t *uuid)
{
	struct dibs_rdma_qp *qp;
	unsigned long qpn;
	union ib_gid gid;

	dibs_rdma_verbs_gid(uuid, &gid);
	for (qpn = 0; qpn <= DIBS_RDMA_MAX_QP + 1; qpn++) {
		qp = dibs_rdma_qp_get(ddev, qpn);
		if (!qp)
			continue;
		/* racy reads: a QP connecting right now fails on its own */
		if (READ_ONCE(qp->remote.ring_tok) &&
		    !memcmp(qp->dgid.raw, gid.raw, sizeof(gid.raw))) {
			ibdev_info(&ddev->ibdev, "QP %lu: peer %pUb is gone\n",
				   qpn, uuid);
			dibs_rdma_qp_fatal(qp);
		}
		dibs_rdma_qp_put(qp);
	}
}

void dibs_rdma_fabric_event(struct dibs_rdma_dev *ddev,
			    const struct dibs_event *ev)
{
	if (ev->type == DIBS_DEV_EVENT && ev->subtype == DIBS_DEV_DISABLED) {
		dibs_rdma_peer_gone(ddev, &ev->gid);
		return;
	}
	if (ev->type != DIBS_SW_EVENT || !DIBS_RDMA_EV_IS_OURS(ev->subtype))
		return;
	switch (DIBS_RDMA_EV_KIND(ev->subtype)) {
	case DIBS_RDMA_EV_CONNECT:
		dibs_rdma_answer_connect(ddev, ev);
		break;
	case DIBS_RDMA_EV_ACCEPT:
	case DIBS_RDMA_EV_REFUSE:
		dibs_rdma_take_answer(ddev, ev);
		break;
	}
}
