/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dibs_rdma: the fabric - how a requester reaches its peer.
 *
 * THIS INTERFACE'S IMPLEMENTATION, dibs_rdma_fabric.c, IS THE ONLY CODE THAT
 * KNOWS WHETHER BOTH ENDS SHARE ONE KERNEL.
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
 *   window   "May my process map your MR @rkey, on behalf of my QP?"
 *            Direct peers only (below). Answer: a status, the MR's extent
 *            and the remote rights that both the MR and the QP grant, and
 *            the DMB token of the MR; held like a target. What the window
 *            is, and how it is revoked, is dibs_rdma_window.c's.
 *
 * The data itself moves through the dibs API of the requester's own device
 * (move_data, attach_dmb), by token, never through a peer's kernel address.
 *
 * Direct and placed peers
 * -----------------------
 * Inside one kernel, on a device that lends memory (dibs_loopback), a
 * request is a direct call into the destination device's responder
 * (dibs_rdma_resp.c), which is found in the kernel-wide LID directory below,
 * and the target MR is itself a DMB: a direct peer.
 *
 * A peer in another kernel (a dibs device whose fabric spans systems, such
 * as dibs_ivshmem) is asked with a connect event and answers with one
 * (dibs-rdma-wire.h, "Connect events"); the answer is kept for the QP's
 * connection. Its memory regions are private memory of that system, so
 * target requests travel through the ring as requests that the owner checks
 * and serves (dibs-rdma-wire.h, "Requests"): a placed peer. A local peer on
 * a device that cannot lend memory is placed, too.
 *
 * A peer in another kernel is named by its GID: the address must have a GRH
 * (ibv_rc_pingpong -g, perftest -x). LIDs are unique within one kernel only;
 * on a device that cannot lend they start at a point drawn from the GID, so
 * that a QP addressed by another system's LID fails to connect (almost
 * always) rather than reach a local QP.
 * When the dibs device reports a peer gone (DIBS_DEV_DISABLED with its GID),
 * the QPs connected to it move to the error state.
 *
 * LID and GID scheme
 * ------------------
 * GID index 0 of port 1 is the dibs device's GID: the 16 bytes of its uuid,
 * so a verbs peer GID names the dibs device directly - except that a dibs GID
 * whose last 8 bytes are zero (ISM-style 64-bit GIDs, as dibs_ivshmem's, so
 * that SMC-D names remote devices exactly) gets the interface id 0xfe and
 * its bytes 1-7: verbs tools take a zero interface id for "no GID"
 * (ibv_rc_pingpong then addresses by LID), and the node GUID is the
 * interface id. 0xfe cannot start the second half of an RFC 4122 uuid, so
 * the mapping is one to one (dibs_rdma_fabric.c). The LID is unique
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
	/* the owner serves RDMA and atomics from its ring: no target requests */
	bool placed;
	/* private to dibs_rdma_fabric.c: the referenced local destination */
	struct dibs_rdma_dev *dev;
};

/*
 * A QP's connection to a peer in another kernel (private to
 * dibs_rdma_fabric.c): @ring_tok is the answer kept for the connection
 * (sq_lock); @lock guards the answer being waited for.
 */
struct dibs_rdma_remote {
	u64 ring_tok;
	spinlock_t lock;	/* guards waiting, answer */
	bool waiting;
	u64 answer;		/* the peer's ring token; 0 if refused */
	struct completion answered;
};

/* The answer to a target or window request. */
struct dibs_rdma_target {
	u64 dmb_tok;
	u64 offset;		/* of raddr within the DMB */
	/* window: the MR's extent, and the rights the MR and the QP grant */
	u64 iova;
	u64 length;
	int access;
	/*
	 * the owner's MR, held until done: private to dibs_rdma_fabric.c,
	 * except that a window (dibs_rdma_window.c, direct peers only)
	 * remembers which MR it maps and whether it may still map it
	 */
	struct dibs_rdma_mr *mr;
};

/* What a connect request tells the responder about the requester. */
struct dibs_rdma_conn_req {
	const union ib_gid *gid;	/* the requester's GID */
	u16 lid;		/* 0 from another kernel */
	u32 qpn;
	/*
	 * RC or UC, which must be the responder's type too; IB_QPT_MAX from
	 * another kernel, whose CONNECT does not say (that kernel posts only
	 * what the type of its QP allows)
	 */
	enum ib_qp_type qp_type;
	u64 ring_tok;		/* the requester's ring: answers go there */
};

int dibs_rdma_fabric_add_dev(struct dibs_rdma_dev *ddev);
void dibs_rdma_fabric_del_dev(struct dibs_rdma_dev *ddev);
void dibs_rdma_fabric_event(struct dibs_rdma_dev *ddev,
			    const struct dibs_event *ev);
void dibs_rdma_fabric_init_qp(struct dibs_rdma_qp *qp);
void dibs_rdma_fabric_reset_qp(struct dibs_rdma_qp *qp);

enum ib_wc_status dibs_rdma_fabric_connect(struct dibs_rdma_qp *qp,
					   struct dibs_rdma_peer *peer);
void dibs_rdma_fabric_disconnect(struct dibs_rdma_peer *peer);
enum ib_wc_status dibs_rdma_fabric_target(struct dibs_rdma_peer *peer, u32 rkey,
					  u64 raddr, u64 len, int access,
					  struct dibs_rdma_target *t);
void dibs_rdma_fabric_target_done(struct dibs_rdma_target *t);
enum ib_wc_status dibs_rdma_fabric_window(struct dibs_rdma_peer *peer, u32 rkey,
					  struct dibs_rdma_target *t);

#endif /* _DIBS_RDMA_FABRIC_H */
