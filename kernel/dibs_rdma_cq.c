// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_rdma: completion queues.
 *
 * A kernel array of work completions, polled through ib_uverbs (POLL_CQ).
 * Completion events follow req_notify_cq(); a full CQ raises
 * IB_EVENT_CQ_ERR and drops the completion.
 */
#include <linux/slab.h>

#include "dibs_rdma.h"

int dibs_rdma_create_cq(struct ib_cq *ibcq, const struct ib_cq_init_attr *attr,
			struct ib_udata *udata)
{
	struct dibs_rdma_dev *ddev = to_ddev(ibcq->device);
	struct dibs_rdma_cq *cq = to_dcq(ibcq);

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
	cq->size = attr->cqe + 1;
	cq->queue = kvcalloc(cq->size, sizeof(*cq->queue), GFP_KERNEL);
	if (!cq->queue) {
		atomic_dec(&ddev->nr_cqs);
		return -ENOMEM;
	}
	ibcq->cqe = attr->cqe;
	return 0;
}

int dibs_rdma_destroy_cq(struct ib_cq *ibcq, struct ib_udata *udata)
{
	struct dibs_rdma_cq *cq = to_dcq(ibcq);

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
 * only after the dibs signal's work item ran.
 *
 * Context: process context (ib_uverbs POLL_CQ).
 */
int dibs_rdma_poll_cq(struct ib_cq *ibcq, int num, struct ib_wc *wc)
{
	struct dibs_rdma_cq *cq = to_dcq(ibcq);
	int n = dibs_rdma_cq_take(cq, num, wc);

	if (n || !num || in_atomic() || irqs_disabled())
		return n;
	dibs_rdma_cq_drain_rings(cq);
	return dibs_rdma_cq_take(cq, num, wc);
}

int dibs_rdma_req_notify_cq(struct ib_cq *ibcq, enum ib_cq_notify_flags flags)
{
	struct dibs_rdma_cq *cq = to_dcq(ibcq);
	unsigned long irqflags;
	int rc = 0;

	spin_lock_irqsave(&cq->lock, irqflags);
	/* a pending "next" request is not weakened to "solicited" */
	if (cq->notify != IB_CQ_NEXT_COMP)
		cq->notify = flags & IB_CQ_SOLICITED_MASK;
	if ((flags & IB_CQ_REPORT_MISSED_EVENTS) && cq->count)
		rc = 1;
	spin_unlock_irqrestore(&cq->lock, irqflags);
	return rc;
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
	if (cq->count == cq->size - 1) {
		overflow = !cq->overflow;
		cq->overflow = true;
	} else {
		cq->queue[(cq->head + cq->count) % cq->size] = *wc;
		cq->count++;
		if (cq->notify == IB_CQ_NEXT_COMP ||
		    (cq->notify == IB_CQ_SOLICITED &&
		     (solicited || wc->status != IB_WC_SUCCESS))) {
			cq->notify = 0;
			event = true;
		}
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
