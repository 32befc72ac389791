/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause) */
/*
 * dibs-rdma: the wire format - what a requester writes into its peer's
 * memory: the kernel driver (kernel/dibs_rdma_req.c) and, through a ring
 * window (dibs-rdma-abi.h, "Ring windows"), the provider. Everything here is
 * read by the receiving side from a DMB that the peer can write at any time:
 * every field is checked before it is used.
 */
#ifndef DIBS_RDMA_WIRE_H
#define DIBS_RDMA_WIRE_H

#include <linux/types.h>

/*
 * Receive ring
 * ------------
 * Every RC and UC QP owns one DMB on its dibs device: a ring of
 * DIBS_RDMA_RING_SLOTS slots that its connected peer fills with messages
 * (move_data with the signal flag). The owner's responder drains it in
 * order. SEND and WRITE_WITH_IMM are delivered into posted receive WQEs; a
 * message waits in the ring until a receive is posted - also on UC, where
 * the IB spec drops a message that finds no receive: dibs delivers it
 * later instead, which no UC consumer can rely on either way. The consumer index lives in the ring
 * header, and the sender reads it through attach_dmb() to know how much room
 * is left.
 *
 * A slot is written in two steps: everything after @seq, then @seq, so a
 * slot whose @seq matches is complete. The last slot of a message, and one
 * that fills the ring, carry the signal flag: the owner's drain takes every
 * complete slot. A sender that writes the ring through a window signals
 * only where the owner asked for it in @armed (see struct dibs_rdma_ring).
 *
 * Requests (placed mode)
 * ----------------------
 * Where the peer's memory regions are not DMBs the requester can move data
 * into (the peer is another kernel, or the device cannot lend memory), RDMA
 * WRITE, READ and atomics are requests in the same ring, and the owner's
 * responder checks them against its own tables and places the data itself:
 *
 *   DIBS_RDMA_MSG_WRITE	slots carrying the data for [raddr, + total)
 *   DIBS_RDMA_MSG_READ		[raddr, + total), total <= DIBS_RDMA_RESP_DATA
 *   DIBS_RDMA_MSG_CMP_SWAP, DIBS_RDMA_MSG_FETCH_ADD	8 bytes at raddr
 *
 * The last slot of a request is answered in the requester's own ring: READ
 * data into @resp_data, then the fields of @resp after @id, then @id, the
 * request's @id echoed. The requester waits for that answer; its status is
 * the requester's completion status. Requests are served in ring order, so
 * a WRITE then a SEND arrive in that order.
 */
#define DIBS_RDMA_RING_SLOTS	64
#define DIBS_RDMA_SLOT_SIZE	4096
#define DIBS_RDMA_RESP_DATA	65536

struct dibs_rdma_slot_hdr {
	__u64 seq;	/* producer sequence number of this slot, + 1 */
	__u32 opcode;	/* DIBS_RDMA_MSG_* */
	__u32 len;	/* payload bytes in this slot */
	__u32 total;	/* message length, or the RDMA operation's length */
	__u32 imm;	/* immediate data, network order */
	__u32 flags;	/* DIBS_RDMA_SLOT_* */
	__u32 src_qpn;
	__u32 slid;	/* the sender's LID */
	__u32 rkey;	/* requests */
	__u64 raddr;	/* requests: the first byte addressed */
	__u64 id;		/* requests: echoed in the answer */
	__u64 compare;	/* CMP_SWAP: compare; FETCH_ADD: add */
	__u64 swap;	/* CMP_SWAP */
};

#define DIBS_RDMA_SLOT_HDR_SIZE	72	/* sizeof(struct dibs_rdma_slot_hdr) */
#define DIBS_RDMA_SLOT_DATA	(DIBS_RDMA_SLOT_SIZE - DIBS_RDMA_SLOT_HDR_SIZE)

/* message kinds (slot_hdr.opcode) */
#define DIBS_RDMA_MSG_SEND	1
#define DIBS_RDMA_MSG_WRITE_IMM	2
#define DIBS_RDMA_MSG_WRITE	3
#define DIBS_RDMA_MSG_READ	4
#define DIBS_RDMA_MSG_CMP_SWAP	5
#define DIBS_RDMA_MSG_FETCH_ADD	6

/* slot_hdr.flags */
#define DIBS_RDMA_SLOT_FIRST	(1U << 0)
#define DIBS_RDMA_SLOT_LAST	(1U << 1)
#define DIBS_RDMA_SLOT_IMM	(1U << 2)
#define DIBS_RDMA_SLOT_SOLICITED (1U << 3)

struct dibs_rdma_slot {
	struct dibs_rdma_slot_hdr hdr;
	__u8 data[DIBS_RDMA_SLOT_DATA];
};

/* The answer to a request, written by the peer into the requester's ring. */
struct dibs_rdma_resp {
	__u64 id;		/* the request answered; written last */
	__u32 status;	/* enum ib_wc_status */
	__u32 len;	/* READ: bytes in resp_data */
	__u64 orig;	/* atomics: the value before the operation */
	__u64 pad[5];
};

/*
 * The ring header. @cons, @gen and @armed are the owner's - its kernel
 * driver's, and @cons and @armed also its process's while that drains the
 * ring (dibs-rdma-abi.h, "Receiving in the process"); a sender only reads
 * them (the owner keeps its own copies: what a sender writes there misleads
 * only that sender). @armed is nonzero while the owner wants a
 * signal after each message: its receive CQ is armed (req_notify_cq) or is
 * a kernel CQ. The owner sets it, makes a full fence and then drains the
 * ring; a sender writes a slot, makes a full fence and then reads @armed:
 * so either the owner finds the message or the sender signals it. A signal
 * is a move_data() with the signal flag - of the slot's @seq from the
 * kernel, of @bell (which the owner ignores) for the doorbell that a
 * provider rings through its kernel driver.
 */
struct dibs_rdma_ring {
	/* slots consumed by the owner; read by the sender */
	__u64 cons;
	/* bumped by the owner when its QP is reset: senders start over */
	__u64 gen;
	__u32 armed;
	__u32 reserved;
	__u64 bell;
	__u64 pad[4];
	/* written by the peer: the answer to our last request */
	struct dibs_rdma_resp resp;
	struct dibs_rdma_slot slots[DIBS_RDMA_RING_SLOTS];
	__u8 resp_data[DIBS_RDMA_RESP_DATA];
};


/*
 * Connect events
 * --------------
 * A requester whose peer is another kernel learns the peer QP's ring token
 * with a dibs event (signal_event) to the peer's GID, and the peer answers
 * the same way. The 32-bit event code carries a marker, the kind and both
 * QP numbers; the 64-bit info carries a ring token:
 *
 *   CONNECT  dqpn = the peer's QP, sqpn = ours, info = our ring's token
 *   ACCEPT   dqpn = the QP that asked, sqpn = the answering QP, info = its
 *            ring's token
 *   REFUSE   the same, info = 0: no such QP, or not connected back
 *
 * Codes without the marker belong to other clients (SMC-D uses 1 and 2).
 */
#define DIBS_RDMA_EV_MARK	0xd1U
#define DIBS_RDMA_EV_CONNECT	1U
#define DIBS_RDMA_EV_ACCEPT	2U
#define DIBS_RDMA_EV_REFUSE	3U
#define DIBS_RDMA_EV_QPN_BITS	11
#define DIBS_RDMA_EV_QPN_MASK	((1U << DIBS_RDMA_EV_QPN_BITS) - 1)
#define DIBS_RDMA_EV_CODE(kind, dqpn, sqpn) \
	(DIBS_RDMA_EV_MARK << 24 | (kind) << 22 | \
	 ((dqpn) & DIBS_RDMA_EV_QPN_MASK) << DIBS_RDMA_EV_QPN_BITS | \
	 ((sqpn) & DIBS_RDMA_EV_QPN_MASK))
#define DIBS_RDMA_EV_IS_OURS(code)	((code) >> 24 == DIBS_RDMA_EV_MARK)
#define DIBS_RDMA_EV_KIND(code)		(((code) >> 22) & 3)
#define DIBS_RDMA_EV_DQPN(code) \
	(((code) >> DIBS_RDMA_EV_QPN_BITS) & DIBS_RDMA_EV_QPN_MASK)
#define DIBS_RDMA_EV_SQPN(code)		((code) & DIBS_RDMA_EV_QPN_MASK)

#endif /* DIBS_RDMA_WIRE_H */
