// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_rdma: shared receive queues.
 *
 * An SRQ is a receive queue ring (the uapi header, "Shared receive queue
 * ring") that the process maps and posts into without a system call. The
 * kernel is its only consumer: when a message of an attached QP needs a
 * receive, that QP's drain (dibs_rdma_resp.c) takes the next entry here,
 * under the SRQ's lock, and keeps its copy in the QP's rx_wqe until the
 * message completes. A message that finds the SRQ empty waits, and asks for
 * a doorbell - POST_SRQ_RECV - after which the waiting QPs drain again.
 */
#include <linux/vmalloc.h>

#include "dibs_rdma.h"

/* Receives posted into *@n; false if prod is impossible (the process broke it). */
static bool dibs_rdma_srq_posted(struct dibs_rdma_srq *srq, u32 *n)
{
	lockdep_assert_held(&srq->lock);
	/* pairs with the poster's release of prod: its entries are written */
	*n = smp_load_acquire(&srq->ring->prod) - srq->cons;
	return *n <= srq->num;
}

int dibs_rdma_create_srq(struct ib_srq *ibsrq, struct ib_srq_init_attr *init,
			 struct ib_udata *udata)
{
	struct dibs_rdma_dev *ddev = to_ddev(ibsrq->device);
	struct dibs_rdma_srq *srq = to_dsrq(ibsrq);
	struct dibs_rdma_create_srq_resp resp = {};
	struct ib_srq_attr *attr = &init->attr;
	struct dibs_rdma_mmap_entry *e;
	size_t len;
	int rc;

	/* no XRC: there are no XRC domains (alloc_xrcd is not offered) */
	if (init->srq_type != IB_SRQT_BASIC)
		return -EOPNOTSUPP;
	if (!attr->max_wr || attr->max_wr > DIBS_RDMA_MAX_WR ||
	    attr->max_sge > DIBS_RDMA_MAX_SGE || attr->srq_limit > attr->max_wr)
		return -EINVAL;
	/* the provider's response buffer: the ring is memory it maps */
	if (udata && udata->outlen < sizeof(resp))
		udata = NULL;
	if (atomic_inc_return(&ddev->nr_srqs) > DIBS_RDMA_MAX_SRQ) {
		rc = -ENOMEM;
		goto err_count;
	}
	spin_lock_init(&srq->lock);
	mutex_init(&srq->qps_lock);
	INIT_LIST_HEAD(&srq->qps);
	/* the ring's indices wrap at 2^32 */
	srq->num = roundup_pow_of_two(attr->max_wr);
	srq->limit = attr->srq_limit;
	len = PAGE_ALIGN(DIBS_RDMA_RQ_RING_ENTRIES +
			 array_size(srq->num, sizeof(*srq->wqe)));
	if (udata) {
		e = dibs_rdma_mmap_alloc(udata, len);
		if (IS_ERR(e)) {
			rc = PTR_ERR(e);
			goto err_count;
		}
		srq->entry = e;
		srq->ring = e->vaddr;
		resp.mmap_offset = rdma_user_mmap_get_offset(&e->rdma);
		resp.mmap_len = len;
		resp.num_wqe = srq->num;
		rc = ib_copy_to_udata(udata, &resp, sizeof(resp));
		if (rc)
			goto err_entry;
	} else {
		srq->ring = vzalloc(len);
		if (!srq->ring) {
			rc = -ENOMEM;
			goto err_count;
		}
	}
	srq->wqe = (void *)srq->ring + DIBS_RDMA_RQ_RING_ENTRIES;
	attr->max_wr = srq->num;
	attr->max_sge = DIBS_RDMA_MAX_SGE;
	return 0;

err_entry:
	rdma_user_mmap_entry_remove(&e->rdma);
err_count:
	atomic_dec(&ddev->nr_srqs);
	return rc;
}

/* ib_core refuses while QPs are attached: nothing takes entries any more. */
int dibs_rdma_destroy_srq(struct ib_srq *ibsrq, struct ib_udata *udata)
{
	struct dibs_rdma_srq *srq = to_dsrq(ibsrq);

	/* a mapping the process still has keeps the memory */
	if (srq->entry)
		rdma_user_mmap_entry_remove(&srq->entry->rdma);
	else
		vfree(srq->ring);
	atomic_dec(&to_ddev(ibsrq->device)->nr_srqs);
	return 0;
}

/* The limit only: resizing is not offered (no IB_DEVICE_SRQ_RESIZE). */
int dibs_rdma_modify_srq(struct ib_srq *ibsrq, struct ib_srq_attr *attr,
			 enum ib_srq_attr_mask mask, struct ib_udata *udata)
{
	struct dibs_rdma_srq *srq = to_dsrq(ibsrq);
	unsigned long flags;

	if (mask & ~(IB_SRQ_MAX_WR | IB_SRQ_LIMIT))
		return -EINVAL;
	if (mask & IB_SRQ_MAX_WR)
		return -EOPNOTSUPP;
	if (!(mask & IB_SRQ_LIMIT))
		return 0;
	if (attr->srq_limit > srq->num)
		return -EINVAL;
	spin_lock_irqsave(&srq->lock, flags);
	srq->limit = attr->srq_limit;
	spin_unlock_irqrestore(&srq->lock, flags);
	return 0;
}

int dibs_rdma_query_srq(struct ib_srq *ibsrq, struct ib_srq_attr *attr)
{
	struct dibs_rdma_srq *srq = to_dsrq(ibsrq);

	attr->max_wr = srq->num;
	attr->max_sge = DIBS_RDMA_MAX_SGE;
	attr->srq_limit = READ_ONCE(srq->limit);
	return 0;
}

/* Post @wr into the ring as the process would. Caller holds srq->lock. */
static int dibs_rdma_srq_post(struct dibs_rdma_srq *srq,
			      const struct ib_recv_wr *wr)
{
	u32 n, prod;

	if (wr->num_sge < 0 || wr->num_sge > DIBS_RDMA_MAX_SGE)
		return -EINVAL;
	if (!dibs_rdma_srq_posted(srq, &n))
		return -EINVAL;
	if (n == srq->num)
		return -ENOMEM;
	prod = srq->cons + n;
	dibs_rdma_recv_wqe_set(&srq->wqe[prod & (srq->num - 1)], wr);
	/* the entry before prod (dibs_rdma_srq_posted()) */
	smp_store_release(&srq->ring->prod, prod + 1);
	return 0;
}

/*
 * POST_SRQ_RECV: the work requests go into the ring; with them or without
 * (the process's doorbell after it posted into the ring itself), the QPs
 * whose messages wait for a receive drain again. The kick is cleared first:
 * a QP that is still without a receive sets it again (dibs_rdma_srq_take()).
 */
int dibs_rdma_post_srq_recv(struct ib_srq *ibsrq, const struct ib_recv_wr *wr,
			    const struct ib_recv_wr **bad_wr)
{
	struct dibs_rdma_srq *srq = to_dsrq(ibsrq);
	struct dibs_rdma_qp *qp;
	unsigned long flags;
	int rc = 0;

	spin_lock_irqsave(&srq->lock, flags);
	for (; wr; wr = wr->next) {
		rc = dibs_rdma_srq_post(srq, wr);
		if (rc) {
			*bad_wr = wr;
			break;
		}
	}
	WRITE_ONCE(srq->ring->kick, 0);
	spin_unlock_irqrestore(&srq->lock, flags);

	mutex_lock(&srq->qps_lock);
	list_for_each_entry(qp, &srq->qps, srq_entry)
		dibs_rdma_rq_doorbell(qp);
	mutex_unlock(&srq->qps_lock);
	return rc;
}

/* @qp, new, takes its receives from its SRQ from now on. */
void dibs_rdma_srq_attach(struct dibs_rdma_qp *qp)
{
	struct dibs_rdma_srq *srq = to_dsrq(qp->ibqp.srq);

	mutex_lock(&srq->qps_lock);
	list_add_tail(&qp->srq_entry, &srq->qps);
	mutex_unlock(&srq->qps_lock);
}

/* @qp is being destroyed: no doorbell reaches it any more. */
void dibs_rdma_srq_detach(struct dibs_rdma_qp *qp)
{
	struct dibs_rdma_srq *srq = to_dsrq(qp->ibqp.srq);

	mutex_lock(&srq->qps_lock);
	list_del(&qp->srq_entry);
	mutex_unlock(&srq->qps_lock);
}

/*
 * Take the next receive of @qp's SRQ into qp->rx_wqe, for the message at the
 * head of @qp's ring. Return: 1 if taken, 0 if none is posted (the poster
 * rings after its next post; @qp drains again then), -EINVAL if the ring or
 * the entry is broken. The limit event fires when fewer than the limit
 * remain. Caller holds qp->rq_lock.
 */
int dibs_rdma_srq_take(struct dibs_rdma_qp *qp)
{
	struct dibs_rdma_srq *srq = to_dsrq(qp->ibqp.srq);
	struct ib_event ev = {
		.device = srq->ibsrq.device,
		.element.srq = &srq->ibsrq,
		.event = IB_EVENT_SRQ_LIMIT_REACHED,
	};
	bool limit = false;
	unsigned long flags;
	int rc = 1;
	u32 n;

	lockdep_assert_held(&qp->rq_lock);
	spin_lock_irqsave(&srq->lock, flags);
	if (!dibs_rdma_srq_posted(srq, &n)) {
		rc = -EINVAL;
		goto out;
	}
	if (!n) {
		WRITE_ONCE(srq->ring->kick, DIBS_RDMA_RQ_WAITING);
		/* the kick is visible before we read prod again (the uapi header) */
		smp_mb();
		if (!dibs_rdma_srq_posted(srq, &n)) {
			rc = -EINVAL;
			goto out;
		}
	}
	qp->rq_waiting = !n;
	if (!n) {
		rc = 0;
		goto out;
	}
	/* one copy: the process may rewrite the entry once cons has passed it */
	memcpy(&qp->rx_wqe, &srq->wqe[srq->cons & (srq->num - 1)],
	       sizeof(qp->rx_wqe));
	srq->cons++;
	/* our reads of the entry come before the poster's rewrite */
	smp_store_release(&srq->ring->cons, srq->cons);
	if (srq->limit && n - 1 < srq->limit) {
		srq->limit = 0;
		limit = true;
	}
	if (qp->rx_wqe.num_sge > DIBS_RDMA_MAX_SGE)
		rc = -EINVAL;
	else
		qp->rx_loaded = true;
out:
	spin_unlock_irqrestore(&srq->lock, flags);
	if (limit && srq->ibsrq.event_handler)
		srq->ibsrq.event_handler(&ev, srq->ibsrq.srq_context);
	return rc;
}
