// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_rdma: the requester - post_send.
 *
 * Work requests execute synchronously in the caller's context, in order:
 * those of a POST_SEND command, or the entries of the send queue ring that
 * the process wrote before its doorbell (dibs_rdma_sq_drain()).
 * To a direct peer (dibs_rdma_fabric.h):
 *   RDMA WRITE		dibs move_data() into the target MR's DMB
 *   RDMA READ, atomics	attach_dmb() of the target MR's DMB, copy or atomic
 *			op on it, detach_dmb()
 * To a placed peer, RDMA WRITE, READ and atomics are requests in the peer
 * QP's receive ring, and the WR completes when the owner's answer arrives in
 * our ring (dibs-rdma-wire.h, "Requests"). To both:
 *   SEND, WRITE_WITH_IMM	slots in the peer QP's receive ring + signal
 * The peer is reached through the fabric: its responder checks that its QP
 * is connected back to us and, for RDMA and atomics, that the target MR
 * belongs to that QP's PD, allows the access and covers the range - in
 * answer to a target request, or when it serves a placed request. A failed
 * check completes the WR with an error, moves the QP to the error state and
 * flushes what follows; nothing is written.
 */
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/uaccess.h>

#include "dibs_rdma.h"

/* the wire format's sizes, which the provider checks the same way */
static_assert(sizeof(struct dibs_rdma_slot_hdr) == DIBS_RDMA_SLOT_HDR_SIZE);
static_assert(sizeof(struct dibs_rdma_slot) == DIBS_RDMA_SLOT_SIZE);
static_assert(sizeof(struct dibs_rdma_resp) == 64);

/* A local SGE resolved to kernel memory. */
struct dibs_rdma_lsge {
	void *vaddr;
	u32 len;
};

/* Everything one work request needs, resolved up front. */
struct dibs_rdma_wqe_ctx {
	struct dibs_rdma_qp *qp;
	const struct ib_send_wr *wr;
	struct dibs_rdma_lsge lsge[DIBS_RDMA_MAX_SGE];
	struct dibs_rdma_mr *lmr[DIBS_RDMA_MAX_SGE];
	int nsge;
	u64 total;
	u8 inline_buf[DIBS_RDMA_MAX_INLINE];
	/* the connected peer (peer.dev is NULL while not connected) */
	struct dibs_rdma_peer peer;
	/* a send queue ring entry, copied, and the work request made of it */
	struct dibs_rdma_send_wqe sq_wqe;
	union {
		struct ib_send_wr send;
		struct ib_rdma_wr rdma;
		struct ib_atomic_wr atomic;
	} sq_wr;
	struct ib_sge sq_sge[DIBS_RDMA_MAX_SGE];
};

/* One per QP, reused for every work request under sq_lock. */
struct dibs_rdma_wqe_ctx *dibs_rdma_wqe_ctx_alloc(void)
{
	return kmalloc(sizeof(struct dibs_rdma_wqe_ctx), GFP_KERNEL);
}

void dibs_rdma_detach_peer(struct dibs_rdma_qp *qp)
{
	if (!qp->peer_ring)
		return;
	dibs_detach_dmb(qp->ddev->dibs, qp->peer_ring_dmb.dmb_tok);
	qp->peer_ring = NULL;
	qp->peer_prod = 0;
}

static void dibs_rdma_ctx_release(struct dibs_rdma_wqe_ctx *c)
{
	int i;

	for (i = 0; i < c->nsge; i++)
		if (c->lmr[i])
			dibs_rdma_mr_put(c->lmr[i]);
	dibs_rdma_fabric_disconnect(&c->peer);
}

/* Resolve the local SGEs (or inline data) of the WR. */
static enum ib_wc_status dibs_rdma_resolve_local(struct dibs_rdma_wqe_ctx *c,
						 bool write)
{
	const struct ib_send_wr *wr = c->wr;
	struct dibs_rdma_qp *qp = c->qp;
	int i;

	if ((wr->send_flags & IB_SEND_INLINE) && !write) {
		for (i = 0; i < wr->num_sge; i++) {
			u32 len = wr->sg_list[i].length;

			if (c->total + len > DIBS_RDMA_MAX_INLINE)
				return IB_WC_LOC_LEN_ERR;
			/* post_send runs in the process that posted the WR */
			if (copy_from_user(c->inline_buf + c->total,
					   u64_to_user_ptr(wr->sg_list[i].addr), len))
				return IB_WC_LOC_PROT_ERR;
			c->total += len;
		}
		if (c->total) {
			c->lsge[0].vaddr = c->inline_buf;
			c->lsge[0].len = c->total;
			c->lmr[0] = NULL;	/* no MR reference to drop */
			c->nsge = 1;
		}
		return IB_WC_SUCCESS;
	}

	for (i = 0; i < wr->num_sge; i++) {
		const struct ib_sge *sge = &wr->sg_list[i];
		struct dibs_rdma_mr *mr;

		if (!sge->length)
			continue;
		mr = dibs_rdma_mr_check(qp->ddev, qp->ibqp.pd, sge->lkey,
					write ? IB_ACCESS_LOCAL_WRITE : 0,
					sge->addr, sge->length);
		c->lmr[c->nsge] = mr;
		c->nsge++;
		if (!mr)
			return IB_WC_LOC_PROT_ERR;
		c->lsge[c->nsge - 1].vaddr = mr->vaddr + (sge->addr - mr->iova);
		c->lsge[c->nsge - 1].len = sge->length;
		c->total += sge->length;
	}
	if (c->total > DIBS_RDMA_MAX_MSG)
		return IB_WC_LOC_LEN_ERR;
	return IB_WC_SUCCESS;
}

/*
 * The first free slot of a ring: after the receiver's consumer index, past
 * the messages still waiting (their slots carry the expected sequence).
 */
static u64 dibs_rdma_ring_tail(struct dibs_rdma_ring *ring)
{
	/* pairs with the receiver's smp_store_release() of cons */
	u64 p = smp_load_acquire(&ring->cons);
	unsigned int n;

	for (n = 0; n < DIBS_RDMA_RING_SLOTS; n++, p++)
		if (READ_ONCE(ring->slots[p % DIBS_RDMA_RING_SLOTS].hdr.seq) != p + 1)
			break;
	return p;
}

/*
 * Attach the connected peer's receive ring (once per connection), and find
 * its tail again when we come back after our own reset, the peer was reset
 * (its generation changed), or the provider may have written it since.
 */
static int dibs_rdma_attach_peer(struct dibs_rdma_wqe_ctx *c)
{
	struct dibs_rdma_qp *qp = c->qp;
	u64 gen;

	if (!qp->peer_ring || qp->peer_ring_dmb.dmb_tok != c->peer.ring_tok) {
		dibs_rdma_detach_peer(qp);
		qp->peer_ring_dmb = (struct dibs_dmb){ .dmb_tok = c->peer.ring_tok };
		if (dibs_attach_dmb(qp->ddev->dibs, &qp->peer_ring_dmb))
			return -ENOENT;
		qp->peer_ring = qp->peer_ring_dmb.cpu_addr;
		qp->peer_gen = ~0ULL;	/* no generation matches: find the tail */
	}
	/* pairs with the owner's smp_store_release() of gen at reset */
	gen = smp_load_acquire(&qp->peer_ring->gen);
	if (gen == qp->peer_gen && !qp->ring_shared)
		return 0;
	qp->peer_gen = gen;
	qp->peer_prod = dibs_rdma_ring_tail(qp->peer_ring);
	return 0;
}

/* Signal the owner of the peer's ring: a move_data() of its bell. */
static int dibs_rdma_ring_bell(struct dibs_rdma_qp *qp)
{
	u64 bell = 1;

	return dibs_move_data(qp->ddev->dibs, qp->peer_ring_dmb.dmb_tok, 0, true,
			      offsetof(struct dibs_rdma_ring, bell), &bell,
			      sizeof(bell));
}

/*
 * Write one slot into the peer's ring; waits while the ring is full. Only
 * the last slot of a message, and one that fills the ring, signal the
 * owner: its drain takes every complete slot, so one signal per message is
 * enough, and a full ring must be drained before we can go on. A ring full
 * of what the provider wrote may never have been signalled: the wait
 * starts with a signal.
 */
static enum ib_wc_status dibs_rdma_put_slot(struct dibs_rdma_wqe_ctx *c,
					    struct dibs_rdma_slot *slot, u32 len)
{
	struct dibs_rdma_qp *qp = c->qp;
	unsigned long deadline = jiffies + msecs_to_jiffies(DIBS_RDMA_RNR_TIMEOUT_MS);
	u64 tok = qp->peer_ring_dmb.dmb_tok, seq, cons;
	unsigned int off;
	bool sf, rang = false;

	for (;;) {
		/* pairs with the receiver's smp_store_release() of cons after it read the slot */
		cons = smp_load_acquire(&qp->peer_ring->cons);
		if (qp->peer_prod - cons < DIBS_RDMA_RING_SLOTS)
			break;
		if (time_after(jiffies, deadline))
			return IB_WC_RNR_RETRY_EXC_ERR;
		if (!rang && dibs_rdma_ring_bell(qp))
			return IB_WC_REM_OP_ERR;
		rang = true;
		usleep_range(20, 100);
	}
	sf = (slot->hdr.flags & DIBS_RDMA_SLOT_LAST) ||
	     qp->peer_prod + 1 - cons >= DIBS_RDMA_RING_SLOTS;
	off = offsetof(struct dibs_rdma_ring,
		       slots[qp->peer_prod % DIBS_RDMA_RING_SLOTS]);
	/* the body first, then the sequence number (with the signal) */
	if (dibs_move_data(qp->ddev->dibs, tok, 0, false, off + sizeof(u64),
			   (u8 *)slot + sizeof(u64),
			   sizeof(slot->hdr) - sizeof(u64) + len))
		return IB_WC_REM_OP_ERR;
	/* pairs with the receiver's smp_rmb() after it saw seq */
	smp_wmb();
	seq = qp->peer_prod + 1;
	if (dibs_move_data(qp->ddev->dibs, tok, 0, sf, off, &seq, sizeof(seq)))
		return IB_WC_REM_OP_ERR;
	qp->peer_prod++;
	return IB_WC_SUCCESS;
}

static enum ib_wc_status dibs_rdma_direct_write(struct dibs_rdma_wqe_ctx *c)
{
	const struct ib_rdma_wr *wr = rdma_wr(c->wr);
	struct dibs_rdma_target t;
	enum ib_wc_status st;
	u64 off;
	int i;

	st = dibs_rdma_fabric_target(&c->peer, wr->rkey, wr->remote_addr,
				     c->total, IB_ACCESS_REMOTE_WRITE, &t);
	if (st != IB_WC_SUCCESS)
		return st;
	off = t.offset;
	for (i = 0; i < c->nsge; i++) {
		if (dibs_move_data(c->qp->ddev->dibs, t.dmb_tok, 0, false, off,
				   c->lsge[i].vaddr, c->lsge[i].len)) {
			st = IB_WC_REM_ACCESS_ERR;
			break;
		}
		off += c->lsge[i].len;
	}
	dibs_rdma_fabric_target_done(&t);
	return st;
}

/* READ and atomics to a direct peer: map the target DMB, work on it, unmap. */
static enum ib_wc_status dibs_rdma_direct_read_atomic(struct dibs_rdma_wqe_ctx *c,
						      u32 rkey, u64 raddr)
{
	const struct ib_send_wr *wr = c->wr;
	bool atomic = wr->opcode != IB_WR_RDMA_READ;
	struct dibs_rdma_target t;
	struct dibs_dmb map = {};
	enum ib_wc_status st;
	u64 orig;
	void *p;
	int i;

	st = dibs_rdma_fabric_target(&c->peer, rkey, raddr, c->total,
				     atomic ? IB_ACCESS_REMOTE_ATOMIC :
					      IB_ACCESS_REMOTE_READ, &t);
	if (st != IB_WC_SUCCESS)
		return st;
	if (!c->total)
		goto out;

	map.dmb_tok = t.dmb_tok;
	if (dibs_attach_dmb(c->qp->ddev->dibs, &map)) {
		st = IB_WC_REM_ACCESS_ERR;
		goto out;
	}
	p = map.cpu_addr + t.offset;
	if (wr->opcode == IB_WR_ATOMIC_CMP_AND_SWP) {
		orig = cmpxchg64((u64 *)p, atomic_wr(wr)->compare_add,
				 atomic_wr(wr)->swap);
		memcpy(c->lsge[0].vaddr, &orig, sizeof(orig));
	} else if (wr->opcode == IB_WR_ATOMIC_FETCH_AND_ADD) {
		orig = atomic64_fetch_add(atomic_wr(wr)->compare_add,
					  (atomic64_t *)p);
		memcpy(c->lsge[0].vaddr, &orig, sizeof(orig));
	} else {
		for (i = 0; i < c->nsge; i++) {
			memcpy(c->lsge[i].vaddr, p, c->lsge[i].len);
			p += c->lsge[i].len;
		}
	}
	dibs_detach_dmb(c->qp->ddev->dibs, map.dmb_tok);
out:
	dibs_rdma_fabric_target_done(&t);
	return st;
}

/* Start a new message in the bounce slot: its header, nothing else. */
static struct dibs_rdma_slot *dibs_rdma_msg_start(struct dibs_rdma_wqe_ctx *c,
						  u32 opcode)
{
	struct dibs_rdma_slot *slot = c->qp->tx_slot;

	memset(&slot->hdr, 0, sizeof(slot->hdr));
	slot->hdr.opcode = opcode;
	slot->hdr.total = c->total;
	slot->hdr.src_qpn = c->qp->ibqp.qp_num;
	slot->hdr.slid = c->qp->ddev->lid;
	slot->hdr.flags = DIBS_RDMA_SLOT_FIRST;
	return slot;
}

/*
 * Send the message started in the bounce slot: with @data, the WR's local
 * data in as many slots as it takes; the last slot gets @last_flags.
 */
static enum ib_wc_status dibs_rdma_put_msg(struct dibs_rdma_wqe_ctx *c,
					   bool data, u32 last_flags)
{
	struct dibs_rdma_slot *slot = c->qp->tx_slot;
	u64 left = data ? c->total : 0;
	enum ib_wc_status st;
	u32 sge_off = 0;
	int i = 0;

	if (dibs_rdma_attach_peer(c))
		return IB_WC_RETRY_EXC_ERR;
	do {
		u32 len = 0;

		/* gather the next slot's worth from the local SGEs */
		while (data && len < DIBS_RDMA_SLOT_DATA && i < c->nsge) {
			u32 n = min_t(u32, DIBS_RDMA_SLOT_DATA - len,
				      c->lsge[i].len - sge_off);

			memcpy(slot->data + len, c->lsge[i].vaddr + sge_off, n);
			len += n;
			sge_off += n;
			if (sge_off == c->lsge[i].len) {
				i++;
				sge_off = 0;
			}
		}
		left -= len;
		slot->hdr.len = len;
		if (!left)
			slot->hdr.flags |= DIBS_RDMA_SLOT_LAST | last_flags;
		st = dibs_rdma_put_slot(c, slot, len);
		slot->hdr.flags &= ~DIBS_RDMA_SLOT_FIRST;
	} while (st == IB_WC_SUCCESS && left);
	return st;
}

/*
 * Wait for the placed peer's answer to request @id in our ring. The peer
 * wrote it: only statuses the protocol answers with are taken.
 */
static enum ib_wc_status dibs_rdma_wait_answer(struct dibs_rdma_qp *qp, u64 id,
					       struct dibs_rdma_resp *r)
{
	unsigned long deadline = jiffies +
				 msecs_to_jiffies(DIBS_RDMA_ANSWER_TIMEOUT_MS);
	struct dibs_rdma_resp *ans = &qp->ring->resp;

	while (READ_ONCE(ans->id) != id) {
		if (READ_ONCE(qp->state) == IB_QPS_ERR ||
		    time_after(jiffies, deadline))
			return IB_WC_RETRY_EXC_ERR;
		usleep_range(10, 50);
	}
	/* the fields were written before the id */
	smp_rmb();
	r->status = READ_ONCE(ans->status);
	r->len = READ_ONCE(ans->len);
	r->orig = READ_ONCE(ans->orig);
	switch (r->status) {
	case IB_WC_SUCCESS:
	case IB_WC_REM_ACCESS_ERR:
	case IB_WC_REM_INV_REQ_ERR:
		return r->status;
	default:
		return IB_WC_REM_OP_ERR;
	}
}

/* Send request @opcode for [raddr, + len) and wait for its answer. */
static enum ib_wc_status dibs_rdma_request(struct dibs_rdma_wqe_ctx *c,
					   u32 opcode, u32 rkey, u64 raddr,
					   u32 len, struct dibs_rdma_resp *r)
{
	const struct ib_atomic_wr *awr = atomic_wr(c->wr);
	struct dibs_rdma_slot *slot = dibs_rdma_msg_start(c, opcode);
	enum ib_wc_status st;

	slot->hdr.total = len;
	slot->hdr.rkey = rkey;
	slot->hdr.raddr = raddr;
	slot->hdr.id = ++c->qp->req_id;
	if (opcode == DIBS_RDMA_MSG_CMP_SWAP || opcode == DIBS_RDMA_MSG_FETCH_ADD) {
		slot->hdr.compare = awr->compare_add;
		slot->hdr.swap = awr->swap;
	}
	st = dibs_rdma_put_msg(c, opcode == DIBS_RDMA_MSG_WRITE, 0);
	if (st != IB_WC_SUCCESS)
		return st;
	return dibs_rdma_wait_answer(c->qp, slot->hdr.id, r);
}

/* Copy @len bytes of @src to the WR's local SGEs, from byte @off of them. */
static void dibs_rdma_scatter(struct dibs_rdma_wqe_ctx *c, u64 off,
			      const u8 *src, u32 len)
{
	int i;

	for (i = 0; i < c->nsge && len; i++) {
		u32 n;

		if (off >= c->lsge[i].len) {
			off -= c->lsge[i].len;
			continue;
		}
		n = min_t(u64, len, c->lsge[i].len - off);
		memcpy(c->lsge[i].vaddr + off, src, n);
		src += n;
		len -= n;
		off = 0;
	}
}

/* READ from a placed peer: answered in pieces of DIBS_RDMA_RESP_DATA. */
static enum ib_wc_status dibs_rdma_placed_read(struct dibs_rdma_wqe_ctx *c,
					       u32 rkey, u64 raddr)
{
	struct dibs_rdma_resp r;
	enum ib_wc_status st;
	u64 done = 0;

	do {
		u32 n = min_t(u64, c->total - done, DIBS_RDMA_RESP_DATA);

		st = dibs_rdma_request(c, DIBS_RDMA_MSG_READ, rkey, raddr + done,
				       n, &r);
		if (st == IB_WC_SUCCESS && r.len != n)
			st = IB_WC_REM_OP_ERR;
		if (st != IB_WC_SUCCESS)
			return st;
		dibs_rdma_scatter(c, done, c->qp->ring->resp_data, n);
		done += n;
	} while (done < c->total);
	return IB_WC_SUCCESS;
}

static enum ib_wc_status dibs_rdma_write(struct dibs_rdma_wqe_ctx *c)
{
	const struct ib_rdma_wr *wr = rdma_wr(c->wr);
	struct dibs_rdma_resp r;

	if (!c->peer.placed)
		return dibs_rdma_direct_write(c);
	return dibs_rdma_request(c, DIBS_RDMA_MSG_WRITE, wr->rkey,
				 wr->remote_addr, c->total, &r);
}

static enum ib_wc_status dibs_rdma_read_atomic(struct dibs_rdma_wqe_ctx *c)
{
	const struct ib_send_wr *wr = c->wr;
	struct dibs_rdma_resp r;
	enum ib_wc_status st;
	u64 raddr;
	u32 rkey;

	if (wr->opcode == IB_WR_RDMA_READ) {
		raddr = rdma_wr(wr)->remote_addr;
		rkey = rdma_wr(wr)->rkey;
		if (!c->peer.placed)
			return dibs_rdma_direct_read_atomic(c, rkey, raddr);
		return dibs_rdma_placed_read(c, rkey, raddr);
	}
	raddr = atomic_wr(wr)->remote_addr;
	rkey = atomic_wr(wr)->rkey;
	if (c->total != sizeof(u64) || c->nsge != 1)
		return IB_WC_LOC_LEN_ERR;
	if (raddr % sizeof(u64))
		return IB_WC_REM_INV_REQ_ERR;
	if (!c->peer.placed)
		return dibs_rdma_direct_read_atomic(c, rkey, raddr);
	st = dibs_rdma_request(c, wr->opcode == IB_WR_ATOMIC_CMP_AND_SWP ?
				  DIBS_RDMA_MSG_CMP_SWAP : DIBS_RDMA_MSG_FETCH_ADD,
			       rkey, raddr, sizeof(u64), &r);
	if (st == IB_WC_SUCCESS)
		memcpy(c->lsge[0].vaddr, &r.orig, sizeof(r.orig));
	return st;
}

static enum ib_wc_status dibs_rdma_send(struct dibs_rdma_wqe_ctx *c)
{
	const struct ib_send_wr *wr = c->wr;
	bool write_imm = wr->opcode == IB_WR_RDMA_WRITE_WITH_IMM;
	bool imm = wr->opcode == IB_WR_SEND_WITH_IMM || write_imm;
	struct dibs_rdma_slot *slot;
	enum ib_wc_status st;

	if (write_imm) {
		st = dibs_rdma_write(c);
		if (st != IB_WC_SUCCESS)
			return st;
	}
	slot = dibs_rdma_msg_start(c, write_imm ? DIBS_RDMA_MSG_WRITE_IMM :
						  DIBS_RDMA_MSG_SEND);
	if (imm) {
		slot->hdr.imm = (__force u32)wr->ex.imm_data;
		slot->hdr.flags |= DIBS_RDMA_SLOT_IMM;
	}
	return dibs_rdma_put_msg(c, !write_imm,
				 wr->send_flags & IB_SEND_SOLICITED ?
				 DIBS_RDMA_SLOT_SOLICITED : 0);
}

static enum ib_wc_opcode dibs_rdma_wc_opcode(enum ib_wr_opcode op)
{
	switch (op) {
	case IB_WR_RDMA_READ:
		return IB_WC_RDMA_READ;
	case IB_WR_SEND:
	case IB_WR_SEND_WITH_IMM:
		return IB_WC_SEND;
	case IB_WR_ATOMIC_CMP_AND_SWP:
		return IB_WC_COMP_SWAP;
	case IB_WR_ATOMIC_FETCH_AND_ADD:
		return IB_WC_FETCH_ADD;
	default:
		return IB_WC_RDMA_WRITE;
	}
}

static enum ib_wc_status dibs_rdma_execute(struct dibs_rdma_qp *qp,
					   const struct ib_send_wr *wr)
{
	struct dibs_rdma_wqe_ctx *c = qp->wqe_ctx;
	enum ib_wc_status st;
	bool local_write = wr->opcode == IB_WR_RDMA_READ ||
			   wr->opcode == IB_WR_ATOMIC_CMP_AND_SWP ||
			   wr->opcode == IB_WR_ATOMIC_FETCH_AND_ADD;

	lockdep_assert_held(&qp->sq_lock);
	/* reset what is read before written: the SGE table and the inline buffer are not */
	c->qp = qp;
	c->wr = wr;
	c->nsge = 0;
	c->total = 0;
	c->peer.dev = NULL;
	st = dibs_rdma_resolve_local(c, local_write);
	if (st == IB_WC_SUCCESS)
		st = dibs_rdma_fabric_connect(qp, &c->peer);
	if (st != IB_WC_SUCCESS)
		goto out;

	switch (wr->opcode) {
	case IB_WR_RDMA_WRITE:
		st = dibs_rdma_write(c);
		break;
	case IB_WR_RDMA_READ:
	case IB_WR_ATOMIC_CMP_AND_SWP:
	case IB_WR_ATOMIC_FETCH_AND_ADD:
		st = dibs_rdma_read_atomic(c);
		break;
	default:
		st = dibs_rdma_send(c);
		break;
	}
out:
	dibs_rdma_ctx_release(c);
	return st;
}

/*
 * POST_SEND without work requests and an empty send queue ring: the
 * provider wrote a message into the peer's ring through its ring window,
 * and the owner asked for a signal.
 * Nothing to report: a peer that is gone shows in the next work request.
 */
static void dibs_rdma_doorbell(struct dibs_rdma_qp *qp)
{
	struct dibs_rdma_wqe_ctx *c = qp->wqe_ctx;

	lockdep_assert_held(&qp->sq_lock);
	if (READ_ONCE(qp->state) != IB_QPS_RTS)
		return;
	c->qp = qp;
	c->nsge = 0;
	c->peer.dev = NULL;
	if (dibs_rdma_fabric_connect(qp, &c->peer) == IB_WC_SUCCESS &&
	    !c->peer.placed && !dibs_rdma_attach_peer(c))
		dibs_rdma_ring_bell(qp);
	dibs_rdma_ctx_release(c);
}

/* What a QP of @qp's type may post: UC has no READ and no atomics. */
static bool dibs_rdma_opcode_ok(const struct dibs_rdma_qp *qp,
				enum ib_wr_opcode op)
{
	switch (op) {
	case IB_WR_RDMA_WRITE:
	case IB_WR_RDMA_WRITE_WITH_IMM:
	case IB_WR_SEND:
	case IB_WR_SEND_WITH_IMM:
		return true;
	case IB_WR_RDMA_READ:
	case IB_WR_ATOMIC_CMP_AND_SWP:
	case IB_WR_ATOMIC_FETCH_AND_ADD:
		return !dibs_rdma_qp_is_uc(qp);
	default:
		return false;
	}
}

/*
 * Did the responder's side fail @st - the peer unreachable, not connected
 * back, refusing the rkey or the request, never making room? A UC requester
 * gets no acknowledgment: for it such a message is lost, not failed.
 */
static bool dibs_rdma_status_is_remote(enum ib_wc_status st)
{
	switch (st) {
	case IB_WC_REM_ACCESS_ERR:
	case IB_WC_REM_INV_REQ_ERR:
	case IB_WC_REM_OP_ERR:
	case IB_WC_RETRY_EXC_ERR:
	case IB_WC_RNR_RETRY_EXC_ERR:
		return true;
	default:
		return false;
	}
}

/*
 * Execute one work request, or flush it in the error state: 0, -EINVAL, or
 * -ENOMEM on a QP without a send queue (max_send_wr 0).
 */
static int dibs_rdma_post_one(struct dibs_rdma_qp *qp,
			      const struct ib_send_wr *wr)
{
	struct ib_wc wc = {
		.wr_id = wr->wr_id,
		.opcode = dibs_rdma_wc_opcode(wr->opcode),
		.qp = &qp->ibqp,
	};
	enum ib_qp_state state = READ_ONCE(qp->state);

	lockdep_assert_held(&qp->sq_lock);
	if (!qp->cap.max_send_wr)
		return -ENOMEM;
	if (!dibs_rdma_opcode_ok(qp, wr->opcode) || wr->num_sge < 0 ||
	    wr->num_sge > qp->cap.max_send_sge ||
	    (state != IB_QPS_RTS && state != IB_QPS_ERR))
		return -EINVAL;
	if (state == IB_QPS_ERR) {
		wc.status = IB_WC_WR_FLUSH_ERR;
	} else {
		wc.status = dibs_rdma_execute(qp, wr);
		if (wc.status != IB_WC_SUCCESS)
			dibs_rdma_detach_peer(qp);
		if (dibs_rdma_qp_is_uc(qp) &&
		    dibs_rdma_status_is_remote(wc.status))
			wc.status = IB_WC_SUCCESS;	/* lost on the way */
		if (wc.status != IB_WC_SUCCESS)
			dibs_rdma_qp_error(qp);
	}
	if (wc.status != IB_WC_SUCCESS || qp->sig_all ||
	    (wr->send_flags & IB_SEND_SIGNALED))
		dibs_rdma_cq_post(to_dcq(qp->ibqp.send_cq), &wc, false);
	return 0;
}

/*
 * The send queue ring (the uapi header, "Send queue ring") of a new QP whose
 * process gave the provider's response buffer (@udata), described in @resp.
 */
int dibs_rdma_sq_create(struct dibs_rdma_qp *qp, struct ib_udata *udata,
			struct dibs_rdma_create_qp_resp *resp)
{
	size_t len = PAGE_ALIGN(DIBS_RDMA_SQ_RING_ENTRIES +
				DIBS_RDMA_SQ_WQES * sizeof(*qp->sq_wqe));
	struct dibs_rdma_mmap_entry *e;

	e = dibs_rdma_mmap_alloc(udata, len);
	if (IS_ERR(e))
		return PTR_ERR(e);
	qp->sq_entry = e;
	qp->sq_ring = e->vaddr;
	qp->sq_wqe = e->vaddr + DIBS_RDMA_SQ_RING_ENTRIES;
	resp->sq_mmap_offset = rdma_user_mmap_get_offset(&e->rdma);
	resp->sq_mmap_len = len;
	resp->sq_num_wqe = DIBS_RDMA_SQ_WQES;
	return 0;
}

/* Nothing reads the ring any more; a mapping the process still has keeps it. */
void dibs_rdma_sq_destroy(struct dibs_rdma_qp *qp)
{
	if (qp->sq_entry)
		rdma_user_mmap_entry_remove(&qp->sq_entry->rdma);
	qp->sq_entry = NULL;
	qp->sq_ring = NULL;
	qp->sq_wqe = NULL;
}

/*
 * Entry @idx of the send queue ring, copied out of the process's reach and
 * made a work request in the QP's context, or NULL if no work request has
 * so many SGEs. The rest is checked by dibs_rdma_post_one().
 */
static const struct ib_send_wr *dibs_rdma_sq_entry(struct dibs_rdma_qp *qp,
						   u32 idx)
{
	struct dibs_rdma_wqe_ctx *c = qp->wqe_ctx;
	const struct dibs_rdma_send_wqe *e = &c->sq_wqe;
	struct ib_send_wr *wr = &c->sq_wr.send;
	u32 i;

	memcpy(&c->sq_wqe, &qp->sq_wqe[idx % DIBS_RDMA_SQ_WQES], sizeof(*e));
	if (e->num_sge > DIBS_RDMA_MAX_SGE)
		return NULL;
	for (i = 0; i < e->num_sge; i++) {
		c->sq_sge[i].addr = e->sge[i].addr;
		c->sq_sge[i].length = e->sge[i].length;
		c->sq_sge[i].lkey = e->sge[i].lkey;
	}
	memset(&c->sq_wr, 0, sizeof(c->sq_wr));
	wr->wr_id = e->wr_id;
	wr->sg_list = c->sq_sge;
	wr->num_sge = e->num_sge;
	wr->opcode = e->opcode;
	wr->send_flags = e->send_flags;
	wr->ex.imm_data = (__force __be32)e->imm_data;
	switch (wr->opcode) {
	case IB_WR_ATOMIC_CMP_AND_SWP:
	case IB_WR_ATOMIC_FETCH_AND_ADD:
		c->sq_wr.atomic.remote_addr = e->remote_addr;
		c->sq_wr.atomic.compare_add = e->compare_add;
		c->sq_wr.atomic.swap = e->swap;
		c->sq_wr.atomic.rkey = e->rkey;
		break;
	default:
		c->sq_wr.rdma.remote_addr = e->remote_addr;
		c->sq_wr.rdma.rkey = e->rkey;
		break;
	}
	return wr;
}

/*
 * The doorbell of a send queue ring with entries up to @prod: execute them
 * in order. An entry refused ends it (the uapi header): 0 or its errno.
 */
static int dibs_rdma_sq_drain(struct dibs_rdma_qp *qp, u32 prod)
{
	struct dibs_rdma_sq_ring *ring = qp->sq_ring;
	u32 bad = qp->sq_cons;
	int rc = -EINVAL;

	lockdep_assert_held(&qp->sq_lock);
	if (prod - qp->sq_cons > DIBS_RDMA_SQ_WQES)
		goto refuse;
	for (; qp->sq_cons != prod; qp->sq_cons++) {
		const struct ib_send_wr *wr = dibs_rdma_sq_entry(qp, qp->sq_cons);

		rc = wr ? dibs_rdma_post_one(qp, wr) : -EINVAL;
		if (rc) {
			bad = qp->sq_cons;
			goto refuse;
		}
	}
	/* the entries were copied: the process may write them again */
	smp_store_release(&ring->cons, qp->sq_cons);
	return 0;

refuse:
	WRITE_ONCE(ring->bad, bad);
	qp->sq_cons = prod;
	/* bad before cons: the process reads cons, then bad */
	smp_store_release(&ring->cons, prod);
	return rc;
}

int dibs_rdma_post_send(struct ib_qp *ibqp, const struct ib_send_wr *wr,
			const struct ib_send_wr **bad_wr)
{
	struct dibs_rdma_qp *qp = to_dqp(ibqp);
	int rc = 0;

	mutex_lock(&qp->sq_lock);
	if (!wr) {
		/* pairs with the process's release of prod: the entries are written */
		u32 prod = qp->sq_ring ? smp_load_acquire(&qp->sq_ring->prod) :
					 qp->sq_cons;

		if (prod != qp->sq_cons)
			rc = dibs_rdma_sq_drain(qp, prod);
		else
			dibs_rdma_doorbell(qp);
	}
	for (; wr; wr = wr->next) {
		rc = dibs_rdma_post_one(qp, wr);
		if (rc) {
			*bad_wr = wr;
			break;
		}
	}
	mutex_unlock(&qp->sq_lock);
	return rc;
}
