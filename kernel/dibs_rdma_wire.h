/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dibs_rdma: the wire format - what a requester writes into its peer's
 * memory. Everything here is read by the receiving side from a DMB that the
 * peer can write at any time: every field is checked before it is used.
 */
#ifndef _DIBS_RDMA_WIRE_H
#define _DIBS_RDMA_WIRE_H

#include <linux/build_bug.h>
#include <linux/types.h>

/*
 * Receive ring
 * ------------
 * Every RC QP owns one DMB on its dibs device: a ring of DIBS_RDMA_RING_SLOTS
 * slots that its connected peer fills with SEND and WRITE_WITH_IMM messages
 * (move_data with the signal flag). The owner's responder drains it into
 * posted receive WQEs, in order; a message waits in the ring until a receive
 * is posted. The consumer index lives in the ring header, and the sender
 * reads it through attach_dmb() to know how much room is left.
 *
 * A slot is written in two move_data() calls: everything after @seq, then
 * @seq with the signal flag, so a slot whose @seq matches is complete.
 */
#define DIBS_RDMA_RING_SLOTS	64
#define DIBS_RDMA_SLOT_SIZE	4096

struct dibs_rdma_slot_hdr {
	u64 seq;	/* producer sequence number of this slot, + 1 */
	u32 opcode;	/* DIBS_RDMA_MSG_* */
	u32 len;	/* payload bytes in this slot */
	u32 total;	/* message length, or the RDMA write's length */
	u32 imm;	/* immediate data, network order */
	u32 flags;	/* DIBS_RDMA_SLOT_* */
	u32 src_qpn;
	u32 slid;	/* the sender's LID */
	u32 pad;
};

#define DIBS_RDMA_SLOT_DATA	(DIBS_RDMA_SLOT_SIZE - sizeof(struct dibs_rdma_slot_hdr))

/* message kinds (slot_hdr.opcode) */
#define DIBS_RDMA_MSG_SEND	1
#define DIBS_RDMA_MSG_WRITE_IMM	2

/* slot_hdr.flags */
#define DIBS_RDMA_SLOT_FIRST	BIT(0)
#define DIBS_RDMA_SLOT_LAST	BIT(1)
#define DIBS_RDMA_SLOT_IMM	BIT(2)
#define DIBS_RDMA_SLOT_SOLICITED BIT(3)

struct dibs_rdma_slot {
	struct dibs_rdma_slot_hdr hdr;
	u8 data[DIBS_RDMA_SLOT_DATA];
};

struct dibs_rdma_ring {
	/* slots consumed by the owner; read by the sender */
	u64 cons;
	/* bumped by the owner when its QP is reset: senders start over */
	u64 gen;
	u64 pad[6];
	struct dibs_rdma_slot slots[DIBS_RDMA_RING_SLOTS];
};

static_assert(sizeof(struct dibs_rdma_slot) == DIBS_RDMA_SLOT_SIZE);

#endif /* _DIBS_RDMA_WIRE_H */
