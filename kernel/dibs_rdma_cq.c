// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_rdma: completion queues.
 *
 * A user CQ is a ring mapped into the process (struct dibs_rdma_cq_ring in
 * the uapi header): the provider polls it without a system call. A CQ
 * created without the provider's response buffer keeps struct ib_wc entries
 * and is polled through POLL_CQ. Completion events follow req_notify_cq();
 * a full CQ raises IB_EVENT_CQ_ERR and drops the completion. resize_cq()
 * moves the completions not yet polled into a new ring or queue.
 */
#include <linux/slab.h>
#include <rdma/uverbs_ioctl.h>

#include "dibs_rdma.h"

/*
 * A ring of @num_cqe entries (a power of two: the free-running u32 indices
 * of the uapi header wrap around without a jump), its mapping described in
 * @udata's response. Return: the mmap entry, or an ERR_PTR.
 */
static struct dibs_rdma_mmap_entry *
dibs_rdma_cq_ring_alloc(struct ib_udata *udata, u32 num_cqe)
{
	struct dibs_rdma_create_cq_resp resp = {};
	size_t len = PAGE_ALIGN(DIBS_RDMA_CQ_RING_ENTRIES +
				array_size(num_cqe, sizeof(struct dibs_rdma_cqe)));
	struct dibs_rdma_mmap_entry *e;
	int rc;

	if (udata->outlen < sizeof(resp))
		return ERR_PTR(-EINVAL);
	e = dibs_rdma_mmap_alloc(udata, len);
	if (IS_ERR(e))
		return e;
	resp.mmap_offset = rdma_user_mmap_get_offset(&e->rdma);
	resp.mmap_len = len;
	resp.num_cqe = num_cqe;
	rc = ib_copy_to_udata(udata, &resp, sizeof(resp));
	if (rc) {
		rdma_user_mmap_entry_remove(&e->rdma);
		return ERR_PTR(rc);
	}
	return e;
}

/* Make @e the ring of @cq. Caller holds cq->lock, or owns a new CQ. */
static void dibs_rdma_cq_set_ring(struct dibs_rdma_cq *cq,
				  struct dibs_rdma_mmap_entry *e, u32 num_cqe)
{
	cq->ring = e->vaddr;
	cq->ring_cqe = e->vaddr + DIBS_RDMA_CQ_RING_ENTRIES;
	cq->ring_entry = e;
	cq->size = num_cqe;
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
	if (udata && udata->outlen >= sizeof(struct dibs_rdma_create_cq_resp)) {
		u32 num_cqe = roundup_pow_of_two(attr->cqe);
		struct dibs_rdma_mmap_entry *e;

		e = dibs_rdma_cq_ring_alloc(udata, num_cqe);
		rc = PTR_ERR_OR_ZERO(e);
		if (!rc)
			dibs_rdma_cq_set_ring(cq, e, num_cqe);
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
	ibcq->cqe = cq->ring ? cq->size : attr->cqe;
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

/*
 * Move the entries the process has not consumed yet (cons up to prod: cons
 * is the process's, so the count is checked) into @e, as entries 0..n-1.
 * Caller holds cq->lock. Return: 0, or -EINVAL if they do not fit.
 */
static int dibs_rdma_cq_move_ring(struct dibs_rdma_cq *cq,
				  struct dibs_rdma_mmap_entry *e, u32 num_cqe)
{
	struct dibs_rdma_cq_ring *ring = e->vaddr;
	struct dibs_rdma_cqe *cqe = e->vaddr + DIBS_RDMA_CQ_RING_ENTRIES;
	u32 cons = READ_ONCE(cq->ring->cons);
	u32 held = READ_ONCE(cq->ring->held);
	u32 used = cq->ring_prod - cons;
	u32 i;

	if (used > cq->size || held > cq->size || used + held > num_cqe)
		return -EINVAL;
	for (i = 0; i < used; i++)
		cqe[i] = cq->ring_cqe[(cons + i) % cq->size];
	ring->cons = 0;
	ring->held = held;
	ring->notify = cq->notify;
	/* the entries before the index that publishes them */
	smp_store_release(&ring->prod, used);
	cq->ring_prod = used;
	dibs_rdma_cq_set_ring(cq, e, num_cqe);
	return 0;
}

/* As dibs_rdma_cq_move_ring(), for a CQ without a ring. Caller holds cq->lock. */
static int dibs_rdma_cq_move_queue(struct dibs_rdma_cq *cq, struct ib_wc *queue,
				   u32 size)
{
	u32 i;

	if (cq->count >= size)
		return -EINVAL;
	for (i = 0; i < cq->count; i++)
		queue[i] = cq->queue[(cq->head + i) % cq->size];
	swap(cq->queue, queue);
	cq->head = 0;
	cq->size = size;
	return 0;
}

/*
 * Give @ibcq room for @cqe completions, keeping those not yet polled, in
 * order. A user CQ gets a new ring: the response describes it as
 * CREATE_CQ's does, and the old one is no longer written (the uapi header).
 * Fewer entries than are outstanding is -EINVAL; the CQ is then unchanged.
 *
 * Context: process context (ib_uverbs RESIZE_CQ, or ib_resize_cq()).
 */
int dibs_rdma_resize_cq(struct ib_cq *ibcq, int cqe, struct ib_udata *udata)
{
	struct dibs_rdma_cq *cq = to_dcq(ibcq);
	struct dibs_rdma_mmap_entry *e = NULL, *old;
	struct ib_wc *queue = NULL;
	unsigned long flags;
	u32 size;
	int rc;

	if (cqe < 1 || cqe > DIBS_RDMA_MAX_CQE)
		return -EINVAL;
	if (cq->ring) {
		size = roundup_pow_of_two(cqe);
		e = dibs_rdma_cq_ring_alloc(udata, size);
		if (IS_ERR(e))
			return PTR_ERR(e);
	} else {
		size = cqe + 1;
		queue = kvcalloc(size, sizeof(*queue), GFP_KERNEL);
		if (!queue)
			return -ENOMEM;
	}

	spin_lock_irqsave(&cq->lock, flags);
	if (e) {
		old = cq->ring_entry;
		rc = dibs_rdma_cq_move_ring(cq, e, size);
	} else {
		/* on success @queue is the old one */
		rc = dibs_rdma_cq_move_queue(cq, queue, size);
	}
	spin_unlock_irqrestore(&cq->lock, flags);

	/* the process may still have the old ring mapped: freed at munmap */
	if (e)
		rdma_user_mmap_entry_remove(rc ? &e->rdma : &old->rdma);
	kvfree(queue);
	if (!rc)
		ibcq->cqe = cq->ring ? size : cqe;
	return rc;
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
