/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dibs_rdma: the fabric - how a requester reaches its peer.
 *
 * THIS INTERFACE'S IMPLEMENTATION, dibs_rdma_fabric.c, IS THE ONLY CODE THAT
 * ASSUMES BOTH ENDS SHARE ONE KERNEL.
 *
 * Requests and answers
 * --------------------
 * A requester never reads its peer's objects (the peer device, its QPs, its
 * MRs). It asks the peer's responder, which checks the request against its
 * own tables, as an RC responder checks what arrives on a wire (rxe's
 * check_rkey), and answers:
 *
 *   connect  "Is your QP @dest_qpn ready to receive, and connected back to
 *            my GID or LID and my QP?"  Answer: a status, and the DMB token
 *            of that QP's receive ring.
 *   target   "May I access [@raddr, @raddr + @len) of your MR @rkey with
 *            @access, on behalf of my QP?"  Answer: a status, and the DMB
 *            token and offset to move the data to or from. The owner keeps
 *            that memory registered until the requester says it is done
 *            (dibs_rdma_fabric_target_done()).
 *
 * The data itself moves through the dibs API of the requester's own device
 * (move_data, attach_dmb), by token, never through a peer's kernel address.
 *
 * Inside one kernel (dibs_loopback), a request is a direct call into the
 * destination device's responder (dibs_rdma_resp.c), which is found in the
 * kernel-wide LID directory below. A dibs device whose peers are other
 * systems carries the same requests and answers as messages to the peer and
 * back; only dibs_rdma_fabric.c has to learn that.
 *
 * LID and GID scheme
 * ------------------
 * GID index 0 of port 1 is the dibs device's GID: the 16 bytes of its uuid,
 * so a verbs peer GID names the dibs device directly. The LID is unique
 * among all dibs_rdma devices of this kernel (the extent of a loopback
 * fabric): allocated from 1 up in the unicast range when the device is added,
 * released when it goes away. There is no subnet manager; the port is ACTIVE
 * as soon as the device is registered. A QP's destination is found by GID
 * when the address has a GRH, else by LID, and must be reachable on the dibs
 * fabric (dibs_query_remote_gid()).
 */
#ifndef _DIBS_RDMA_FABRIC_H
#define _DIBS_RDMA_FABRIC_H

#include <rdma/ib_verbs.h>

struct dibs_rdma_dev;
struct dibs_rdma_mr;
struct dibs_rdma_qp;

#define DIBS_RDMA_LID_MIN	1
#define DIBS_RDMA_LID_MAX	0xbfff

/* A connected peer QP, as the requester knows it after connect. */
struct dibs_rdma_peer {
	u32 qpn;
	u64 ring_tok;		/* its receive ring's DMB */
	/* private to dibs_rdma_fabric.c: the referenced destination */
	struct dibs_rdma_dev *dev;
};

/* The answer to a target request. */
struct dibs_rdma_target {
	u64 dmb_tok;
	u64 offset;		/* of raddr within the DMB */
	/* private to dibs_rdma_fabric.c: the owner's MR, held until done */
	struct dibs_rdma_mr *mr;
};

/* What a connect request tells the responder about the requester. */
struct dibs_rdma_conn_req {
	const u8 *gid;		/* the requester's dibs GID, 16 bytes */
	u16 lid;
	u32 qpn;
};

int dibs_rdma_fabric_add_dev(struct dibs_rdma_dev *ddev);
void dibs_rdma_fabric_del_dev(struct dibs_rdma_dev *ddev);

enum ib_wc_status dibs_rdma_fabric_connect(struct dibs_rdma_qp *qp,
					   struct dibs_rdma_peer *peer);
void dibs_rdma_fabric_disconnect(struct dibs_rdma_peer *peer);
enum ib_wc_status dibs_rdma_fabric_target(struct dibs_rdma_peer *peer, u32 rkey,
					  u64 raddr, u64 len, int access,
					  struct dibs_rdma_target *t);
void dibs_rdma_fabric_target_done(struct dibs_rdma_target *t);

#endif /* _DIBS_RDMA_FABRIC_H */
