// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_rdma: completion queues.
 *
 * A user CQ is a ring mapped into the process (struct dibs_rdma_cq_ring in
 * the uapi header): the provider polls it without a system call. A CQ
 * created without the provider's response buffer keeps struct ib_wc entries
 * and is polled through POLL_CQ. Completion events follow req_notify_cq();
 * a full CQ raises IB_EVENT_CQ_ERR and drops the completion.
 */
#include <linux/slab.h>
#include <rdma/uverbs_ioctl.h>

#include "dibs_rdma.h"

static int dibs_rdma_cq_map(struct dibs_rdma_cq *cq, struct ib_udata *udata)
{
	struct dibs_rdma_create_cq_resp resp = {};
	size_t len = PAGE_ALIGN(DIBS_RDMA_CQ_RING_ENTRIES +
				array_size(cq->size, sizeof(*cq->ring_cqe)));
	struct dibs_rdma_mmap_entry *e;
	int rc;

	e = dibs_rdma_mmap_alloc(udata, len);
	if (IS_ERR(e))
		return PTR_ERR(e);
	cq->ring = e->vaddr;
	cq->ring_cqe = e->vaddr + DIBS_RDMA_CQ_RING_ENTRIES;
	cq->ring_entry = e;
	resp.mmap_offset = rdma_user_mmap_get_offset(&e->rdma);
	resp.mmap_len = len;
	resp.num_cqe = cq->size;
	rc = ib_copy_to_udata(udata, &resp, sizeof(resp));
	if (rc) {
		rdma_user_mmap_entry_remove(&e->rdma);
		cq->ring = NULL;
	}
	return rc;
}

int dibs_rdma_create_cq(struct ib_cq *ibcq, const struct ib_cq_init_attr *attr,
			struct ib_udata *udata)
{
	struct dibs_rdma_dev *ddev = to_ddev(ibcq->device);
	struct dibs_rdma_cq *cq = to_dcq(ibcq);
	int rc;

	if (attr->flags)
		return -EOPNOTSUPP;
	if (attr->cqe < 1 || attr->cqe > DIBS_RDMA_MAX_CQE)
		return -EINVAL;
	if (atomic_inc_return(&ddev->nr_cqs) > DIBS_RDMA_MAX_CQ) {
		atomic_dec(&ddev->nr_cqs);
		return -ENOMEM;
	}
	spin_lock_init(&cq->lock);
	mutex_init(&cq->rqps_lock);
	INIT_LIST_HEAD(&cq->rqps);
	cq->size = attr->cqe;
	if (udata && udata->outlen >= sizeof(struct dibs_rdma_create_cq_resp)) {
		rc = dibs_rdma_cq_map(cq, udata);
	} else {
		/* one slot stays free to tell full from empty */
		cq->size = attr->cqe + 1;
		cq->queue = kvcalloc(cq->size, sizeof(*cq->queue), GFP_KERNEL);
		rc = cq->queue ? 0 : -ENOMEM;
	}
	if (rc) {
		atomic_dec(&ddev->nr_cqs);
		return rc;
	}
	ibcq->cqe = attr->cqe;
	return 0;
}

int dibs_rdma_destroy_cq(struct ib_cq *ibcq, struct ib_udata *udata)
{
	struct dibs_rdma_cq *cq = to_dcq(ibcq);

	if (cq->ring)
		rdma_user_mmap_entry_remove(&cq->ring_entry->rdma);
	kvfree(cq->queue);
	atomic_dec(&to_ddev(ibcq->device)->nr_cqs);
	return 0;
}

static int dibs_rdma_cq_take(struct dibs_rdma_cq *cq, int num, struct ib_wc *wc)
{
	unsigned long flags;
	int n;

	spin_lock_irqsave(&cq->lock, flags);
	for (n = 0; n < num && cq->count; n++) {
		wc[n] = cq->queue[cq->head];
		cq->head = (cq->head + 1) % cq->size;
		cq->count--;
	}
	spin_unlock_irqrestore(&cq->lock, flags);
	return n;
}

/*
 * An empty CQ drains the receive rings of its QPs before it answers: a
 * busy-polling receiver sees a message as soon as it is in the ring, not
 * only after the dibs signal's work item ran. A mapped CQ is read by the
 * process itself: for it this only drains.
 *
 * Context: process context (ib_uverbs POLL_CQ).
 */
int dibs_rdma_poll_cq(struct ib_cq *ibcq, int num, struct ib_wc *wc)
{
	struct dibs_rdma_cq *cq = to_dcq(ibcq);
	int n = cq->ring ? 0 : dibs_rdma_cq_take(cq, num, wc);

	if (n || in_atomic() || irqs_disabled())
		return n;
	dibs_rdma_cq_drain_rings(cq);
	return cq->ring ? 0 : dibs_rdma_cq_take(cq, num, wc);
}

/* Entries not yet consumed. Caller holds cq->lock. */
static u32 dibs_rdma_cq_used(struct dibs_rdma_cq *cq)
{
	/* the process may write anything to cons: only ever used as a count */
	/* the process's own completions (held) take room too */
	return cq->ring ? cq->ring_prod - READ_ONCE(cq->ring->cons) +
			  min(READ_ONCE(cq->ring->held), cq->size) :
			  cq->count;
}

/* Arm or disarm; a user CQ's ring shows it to the provider. Caller holds cq->lock. */
static void dibs_rdma_cq_set_notify(struct dibs_rdma_cq *cq, u8 notify)
{
	cq->notify = notify;
	if (cq->ring)
		WRITE_ONCE(cq->ring->notify, notify);
}

int dibs_rdma_req_notify_cq(struct ib_cq *ibcq, enum ib_cq_notify_flags flags)
{
	struct dibs_rdma_cq *cq = to_dcq(ibcq);
	unsigned long irqflags;
	int rc = 0;

	spin_lock_irqsave(&cq->lock, irqflags);
	/* a pending "next" request is not weakened to "solicited" */
	if (cq->notify != IB_CQ_NEXT_COMP)
		dibs_rdma_cq_set_notify(cq, flags & IB_CQ_SOLICITED_MASK);
	if ((flags & IB_CQ_REPORT_MISSED_EVENTS) && dibs_rdma_cq_used(cq))
		rc = 1;
	spin_unlock_irqrestore(&cq->lock, irqflags);
	/* a user CQ is armed by REQ_NOTIFY_CQ, in process context */
	if (cq->ring)
		dibs_rdma_cq_arm_rings(cq);
	return rc;
}

/* Append @wc. Caller holds cq->lock. Return: false if the CQ is full. */
static bool dibs_rdma_cq_append(struct dibs_rdma_cq *cq, const struct ib_wc *wc)
{
	struct dibs_rdma_cqe *e;

	if (!cq->ring) {
		if (cq->count == cq->size - 1)
			return false;
		cq->queue[(cq->head + cq->count) % cq->size] = *wc;
		cq->count++;
		return true;
	}
	if (dibs_rdma_cq_used(cq) >= cq->size)
		return false;
	e = &cq->ring_cqe[cq->ring_prod % cq->size];
	*e = (struct dibs_rdma_cqe){
		.wr_id = wc->wr_id,
		.status = wc->status,
		.opcode = wc->opcode,
		.vendor_err = wc->vendor_err,
		.byte_len = wc->byte_len,
		.imm_data = (__force u32)wc->ex.imm_data,
		.qp_num = wc->qp->qp_num,
		.src_qp = wc->src_qp,
		.wc_flags = wc->wc_flags,
		.pkey_index = wc->pkey_index,
		.slid = wc->slid,
		.sl = wc->sl,
		.dlid_path_bits = wc->dlid_path_bits,
		.port_num = wc->port_num,
	};
	/* the entry before the index that publishes it */
	smp_store_release(&cq->ring->prod, ++cq->ring_prod);
	return true;
}

/*
 * Add a completion to @cq and raise the completion event if armed.
 *
 * Context: process context or softirq.
 */
void dibs_rdma_cq_post(struct dibs_rdma_cq *cq, const struct ib_wc *wc,
		       bool solicited)
{
	struct ib_cq *ibcq = &cq->ibcq;
	bool event = false, overflow = false;
	unsigned long flags;

	spin_lock_irqsave(&cq->lock, flags);
	if (!dibs_rdma_cq_append(cq, wc)) {
		overflow = !cq->overflow;
		cq->overflow = true;
	} else if (cq->notify == IB_CQ_NEXT_COMP ||
		   (cq->notify == IB_CQ_SOLICITED &&
		    (solicited || wc->status != IB_WC_SUCCESS))) {
		dibs_rdma_cq_set_notify(cq, 0);
		event = true;
	}
	spin_unlock_irqrestore(&cq->lock, flags);

	if (overflow && ibcq->event_handler) {
		struct ib_event ev = {
			.device = ibcq->device,
			.event = IB_EVENT_CQ_ERR,
			.element.cq = ibcq,
		};

		ibcq->event_handler(&ev, ibcq->cq_context);
	}
	if (event && ibcq->comp_handler)
		ibcq->comp_handler(ibcq, ibcq->cq_context);
}
