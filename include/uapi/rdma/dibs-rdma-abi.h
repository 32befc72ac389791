/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause) */
/*
 * dibs-rdma: the ABI between the kernel RDMA driver (kernel/, dibs_rdma.ko)
 * and the rdma-core provider (providers/dibs/, libdibs-rdmav34.so).
 *
 * This header is the only definition of that ABI; both sides include it.
 * Types are fixed width; structures are padded to 8 bytes explicitly.
 *
 * Device matching: an out-of-tree driver cannot add an rdma_driver_id, so
 * the kernel registers with RDMA_DRIVER_UNKNOWN and names every ib_device
 * after its dibs device ("dibs_lo0", ...). The provider matches devices
 * whose name starts with DIBS_RDMA_NAME_PREFIX and whose uverbs ABI version
 * is DIBS_RDMA_ABI_VERSION.
 */
#ifndef DIBS_RDMA_ABI_H
#define DIBS_RDMA_ABI_H

#include <linux/types.h>
#include <rdma/ib_user_ioctl_cmds.h>
#include <rdma/ib_user_verbs.h>

#define DIBS_RDMA_ABI_VERSION	4
#define DIBS_RDMA_NAME_PREFIX	"dibs_"

/* scatter/gather entries per work request, in both queues */
#define DIBS_RDMA_MAX_SGE	16
/* completions a CQ holds at most (a power of two: a ring's num_cqe) */
#define DIBS_RDMA_MAX_CQE	65536

/*
 * Completion queue ring
 * ---------------------
 * A CQ created with a dibs_rdma_create_cq_resp response buffer is a ring
 * mapped into the process: mmap(mmap_len bytes at mmap_offset of the uverbs
 * file) gives a struct dibs_rdma_cq_ring followed by num_cqe struct
 * dibs_rdma_cqe entries (DIBS_RDMA_CQ_RING_ENTRIES bytes in). The kernel
 * writes entry prod % num_cqe, then advances prod (release). The process
 * reads entries from cons up to prod (acquire) and advances cons (release);
 * the kernel reads cons only to see how much room is left. notify is the
 * kernel's arming state of the CQ (0, or the IB_CQ_* flags of the last
 * req_notify_cq that no completion has answered yet): a provider that
 * completes work itself leaves that work to the kernel while it is
 * nonzero, so that an armed CQ's event fires; held is how many completions
 * of its own it holds outside the ring, which the kernel counts as used
 * when it looks for room (at most num_cqe of them). Values of
 * status, opcode and wc_flags are those of struct ib_uverbs_wc. The uverbs
 * POLL_CQ command on such a CQ returns no entries; it drains the receive
 * rings of the CQ's QPs into the ring. num_cqe is the smallest power of
 * two that is at least the cqe asked for.
 *
 * RESIZE_CQ answers with a dibs_rdma_create_cq_resp too, for a new ring.
 * The process publishes cons (and held) before the command; the kernel
 * moves the entries from cons up to prod into the new ring as entries 0
 * up to the new prod, with cons 0 and held and notify carried over, and
 * no longer writes the old ring (the process unmaps it). If the entries
 * outstanding and held do not fit, the command fails with EINVAL and the
 * old ring stays in use.
 */
struct dibs_rdma_cqe {
	__aligned_u64 wr_id;
	__u32 status;
	__u32 opcode;
	__u32 vendor_err;
	__u32 byte_len;
	__u32 imm_data;		/* network order */
	__u32 qp_num;
	__u32 src_qp;
	__u32 wc_flags;
	__u16 pkey_index;
	__u16 slid;
	__u8 sl;
	__u8 dlid_path_bits;
	__u8 port_num;
	__u8 reserved;
};

struct dibs_rdma_cq_ring {
	__u32 prod;		/* written by the kernel */
	__u32 notify;		/* written by the kernel */
	__u32 pad0[14];
	__u32 cons;		/* written by the process */
	__u32 held;		/* written by the process */
	__u32 pad1[14];
};

#define DIBS_RDMA_CQ_RING_ENTRIES	sizeof(struct dibs_rdma_cq_ring)

/* driver part of the CREATE_CQ and RESIZE_CQ responses */
struct dibs_rdma_create_cq_resp {
	__aligned_u64 mmap_offset;
	__aligned_u64 mmap_len;
	__u32 num_cqe;
	__u32 reserved;
};

/*
 * Receive queue ring
 * ------------------
 * A QP created with a dibs_rdma_create_qp_resp response buffer has its
 * receive queue in a ring mapped into the process: mmap(mmap_len bytes at
 * mmap_offset of the uverbs file) gives a struct dibs_rdma_rq_ring followed
 * by num_wqe struct dibs_rdma_recv_wqe entries (DIBS_RDMA_RQ_RING_ENTRIES
 * bytes in); num_wqe is the QP's max_recv_wr, a power of two or 0 (a QP
 * without receive queue: nothing can be posted). Indices run
 * freely and wrap at 2^32; entry i is i % num_wqe.
 *
 * The process posts a receive by writing entry prod, then advancing prod
 * (release); at most num_wqe entries are posted (prod - cons <= num_wqe).
 * The kernel reads entries from cons up to prod (acquire), copies each once
 * when a message needs it, and advances cons (release) when it completed
 * it: the entry may then be reused. While the process holds the drain
 * ("Receiving in the process", below), it is the consumer itself. POST_RECV writes the ring the same way.
 *
 * The kernel sets kick when it needs a doorbell - a POST_RECV command
 * without work requests - after the next post: DIBS_RDMA_RQ_WAITING (a
 * message waits for a receive: the kernel looks at prod again only when
 * told) or DIBS_RDMA_RQ_FLUSH (the QP is in the error state: the kernel
 * completes what is posted with IB_WC_WR_FLUSH_ERR). The process stores
 * prod, then makes a full fence, then reads kick; the kernel stores kick,
 * then makes a full fence, then reads prod: so either the kernel sees the
 * new receive or the process sees the kick.
 *
 * What the process writes is checked: a prod more than num_wqe ahead of
 * cons, or an entry with more than DIBS_RDMA_MAX_SGE entries, moves the QP
 * to the error state; the buffers are checked like those of POST_RECV.
 * Moving the QP to RESET forgets what is posted: cons becomes prod.
 */
struct dibs_rdma_recv_wqe {
	__aligned_u64 wr_id;
	__u32 num_sge;
	__u32 reserved;
	struct ib_uverbs_sge sge[DIBS_RDMA_MAX_SGE];
};

struct dibs_rdma_rq_ring {
	__u32 prod;		/* written by the process */
	__u32 pad0[15];
	/* the consumer's: the kernel's, or the process's while it drains */
	__u32 cons;
	__u32 kick;		/* written by the kernel: DIBS_RDMA_RQ_* */
	__u32 rx_owner;		/* DIBS_RDMA_RX_*: "Receiving in the process" */
	__u32 reserved;
	__aligned_u64 rx_cons;	/* the receive ring's next slot */
	__u32 pad1[10];
};

#define DIBS_RDMA_RQ_RING_ENTRIES	sizeof(struct dibs_rdma_rq_ring)
#define DIBS_RDMA_RQ_WAITING		(1U << 0)
#define DIBS_RDMA_RQ_FLUSH		(1U << 1)

/*
 * Shared receive queue ring
 * -------------------------
 * An SRQ created with a dibs_rdma_create_srq_resp response buffer is a
 * ring of the receive queue ring's layout, mapped the same way (mmap_offset,
 * mmap_len), with num_wqe entries, a power of two. The process posts into
 * it as into a receive queue ring; only the kernel consumes: it takes an
 * entry for a message of an attached QP - copies it once and advances cons
 * (release) at once, so the entry may be reused while the message is still
 * being placed - and completes it in that QP's receive CQ. kick is
 * DIBS_RDMA_RQ_WAITING while a message of an attached QP waits for a
 * receive: the process then makes a doorbell after its next post, a
 * POST_SRQ_RECV command without work requests, with the fences of the
 * receive queue ring. rx_owner and rx_cons are unused: the QPs of an SRQ
 * are drained by the kernel only (OPEN_OWN_RING answers EOPNOTSUPP).
 *
 * A prod more than num_wqe ahead of cons, or an entry with more than
 * DIBS_RDMA_MAX_SGE entries, moves the QP whose message needed it to the
 * error state, as its own receive queue ring would. The SRQ limit event
 * (IB_EVENT_SRQ_LIMIT_REACHED) fires when the kernel takes an entry and
 * fewer than the armed limit remain posted; it disarms the limit.
 */
struct dibs_rdma_create_srq_resp {
	__aligned_u64 mmap_offset;
	__aligned_u64 mmap_len;
	__u32 num_wqe;
	__u32 reserved;
};

/*
 * Receiving in the process
 * ------------------------
 * The QP's own receive ring (struct dibs_rdma_ring, dibs-rdma-wire.h) can be
 * mapped into its process: DIBS_RDMA_METHOD_QP_OPEN_OWN_RING answers with a
 * struct dibs_rdma_window_resp as for a ring window (below), but for the
 * ring's whole pages (its header and slots at least), for a QP in RTR
 * or RTS whose receive queue and receive CQ are rings, on a device whose
 * rings are its own memory. The provider then drains the ring itself - it
 * matches messages with the receive queue ring's entries and completes them
 * in poll_cq - while it holds the drain, rx_owner:
 *
 *   0				nobody drains
 *   DIBS_RDMA_RX_KERNEL	the kernel drains (it holds the QP's locks)
 *   DIBS_RDMA_RX_USER		the process drains
 *   DIBS_RDMA_RX_PENDING	with RX_USER: the kernel wanted to drain
 *
 * The process takes the drain with a compare-and-swap from 0 to RX_USER; if
 * that fails it leaves the ring alone: the kernel is draining, and what it
 * completes appears in the CQ ring. Holding it, the process reads the CQ
 * ring first (what the kernel completed before comes first), then the
 * ring's next slot rx_cons and the receive queue's next entry cons, both
 * read here, and writes both back - and the ring header's cons, which the
 * sender reads - before it gives the drain back with an exchange to 0. If
 * the old value had RX_PENDING, it makes a POLL_CQ command next: the kernel
 * drains then. A kernel that finds RX_USER sets RX_PENDING and leaves the
 * ring; holding the drain, it reads rx_cons and cons here first and writes
 * them back when it is done. So exactly one side drains at a time, each
 * where the other stopped, and nothing the kernel must do is lost: a
 * message a kernel sender signalled, a flush of the error state.
 *
 * The process drains only while its receive CQ is not armed (the CQ ring's
 * notify is 0, read while it holds the drain): an armed CQ's event is the
 * kernel's to raise. It then clears the ring's armed word, so that senders
 * stop signalling; the kernel sets it again, before it drains, whenever the
 * CQ is armed. Errors of the method: EINVAL (not RC or UC, not in RTR or RTS),
 * EOPNOTSUPP (no such rings on this QP or device), ENOSPC (as for windows). It completes only whole messages that need no checks beyond
 * the local ones: a SEND all of whose slots are in the ring, into a receive
 * whose buffers pass the checks of POST_RECV (local write, in an MR of the
 * QP's PD), or a WRITE_WITH_IMM. At anything else it stops and makes a POLL_CQ command:
 * the kernel completes it, with an error where that is the outcome.
 *
 * What the process writes here only misleads its own QP: the kernel checks
 * rx_cons and cons as it checks prod, and bounds its attempts to take the
 * drain. Moving the QP to RESET sets both to 0 and gives the drain back.
 * The own ring's window is revoked like a ring window, and also by every
 * modify of the QP: the provider opens it again when it needs it.
 */
#define DIBS_RDMA_RX_KERNEL		(1U << 0)
#define DIBS_RDMA_RX_USER		(1U << 1)
#define DIBS_RDMA_RX_PENDING		(1U << 2)

/*
 * Send queue ring
 * ---------------
 * With the same response buffer, the send queue is a ring mapped into the
 * process too: mmap(sq_mmap_len bytes at sq_mmap_offset) gives a struct
 * dibs_rdma_sq_ring followed by sq_num_wqe struct dibs_rdma_send_wqe
 * entries (DIBS_RDMA_SQ_RING_ENTRIES bytes in); sq_num_wqe is a power of
 * two. Indices run freely and wrap at 2^32; entry i is i % sq_num_wqe.
 *
 * The process writes the work requests it leaves to the kernel into entries
 * from prod on, advances prod (release) and rings the doorbell: a POST_SEND
 * command without work requests. The kernel copies each entry from cons up
 * to prod (acquire) once, executes it as POST_SEND executes a work request,
 * and advances cons (release) - all before the command returns. So the ring
 * holds one batch at a time, at most sq_num_wqe entries: the provider rings
 * when the ring is full, and before it executes a work request itself (what
 * was posted before goes first). A doorbell that finds the ring empty is
 * the ring windows' signal (below). Values of opcode and send_flags are
 * those of struct ib_uverbs_send_wr; inline data (IB_SEND_INLINE) is read
 * from the SGEs' addresses during the doorbell, as POST_SEND reads it.
 *
 * What the process writes is checked: an entry POST_SEND would refuse (its
 * opcode, more than DIBS_RDMA_MAX_SGE SGEs, the QP not in RTS or ERR: EINVAL;
 * a QP created with max_send_wr 0: ENOMEM), or a prod more than sq_num_wqe
 * ahead of cons (EINVAL), ends the doorbell: the command fails with that
 * errno, bad is the index of the entry refused (cons for a broken prod),
 * and cons becomes prod - the entries after it are not executed, as
 * ibv_post_send posts nothing after its bad_wr.
 */
struct dibs_rdma_send_wqe {
	__aligned_u64 wr_id;
	__u32 opcode;
	__u32 send_flags;
	__u32 imm_data;		/* network order */
	__u32 num_sge;
	__aligned_u64 remote_addr;
	__aligned_u64 compare_add;	/* atomics */
	__aligned_u64 swap;		/* compare and swap */
	__u32 rkey;
	__u32 reserved;
	struct ib_uverbs_sge sge[DIBS_RDMA_MAX_SGE];
};

struct dibs_rdma_sq_ring {
	__u32 prod;		/* written by the process */
	__u32 pad0[15];
	__u32 cons;		/* written by the kernel */
	__u32 bad;		/* written by the kernel */
	__u32 pad1[14];
};

#define DIBS_RDMA_SQ_RING_ENTRIES	sizeof(struct dibs_rdma_sq_ring)

/* driver part of the CREATE_QP response: the receive and the send queue ring */
struct dibs_rdma_create_qp_resp {
	__aligned_u64 mmap_offset;
	__aligned_u64 mmap_len;
	__u32 num_wqe;
	__u32 sq_num_wqe;
	__aligned_u64 sq_mmap_offset;
	__aligned_u64 sq_mmap_len;
};

/*
 * Direct windows
 * --------------
 * A connected RC QP whose peer QP is in the same kernel, on a device that
 * lends memory (dibs_loopback), can have windows: the peer's MR @rkey mapped
 * into the process, so the provider performs RDMA READ, WRITE and atomics on
 * it with the CPU. DIBS_RDMA_METHOD_QP_OPEN_WINDOW (a driver method of
 * UVERBS_OBJECT_QP) makes the owner's checks once - the peer QP connected
 * back, the MR in that QP's PD, the rights of both - and answers with a
 * struct dibs_rdma_window_resp:
 *
 *   [iova, iova + length)	the part of the MR the window maps: its whole
 *				pages (a partial first or last page is not
 *				mapped - its other bytes are not the MR's)
 *   access			IB_ACCESS_REMOTE_* rights the window grants:
 *				those of the MR and of the peer QP; a window
 *				is readable, so it is opened only where the
 *				rights allow reading (READ or ATOMIC): x86 has
 *				no write-only pages
 *   mmap_offset		mmap(length bytes, PROT_READ [| PROT_WRITE],
 *				MAP_SHARED) of the uverbs file maps the data
 *   state_offset		mmap(one page, PROT_READ, MAP_SHARED) maps a
 *				struct dibs_rdma_window_state
 *
 * Errors of the method: EINVAL (QP not in RTS or not RC: a UC QP has no
 * READ, so no direct windows), ENOTCONN (the peer QP is not connected
 * back), EOPNOTSUPP (the peer is not direct), EACCES (no
 * such MR for that QP, or no rights that allow a window), ENOSPC (DIBS_RDMA_MAX_WINDOWS open on the QP), ERANGE
 * (the MR has no whole page).
 *
 * Revocation: deregistering the MR, any modify or destroy of either QP, the
 * QP moving to the error state, or the device going away revoke the window:
 * the kernel clears state.valid, then unmaps the data and only then lets the
 * pages go. An access after that reaches a page of the window's own (reads
 * give zeros or what the process wrote there itself). So the provider does
 * an operation, then a full fence, then reads state.valid: if it is still 1,
 * the operation touched the MR while it was the MR. If not, the outcome is
 * unknown: the provider leaves a READ or WRITE to the kernel, which executes
 * it again (both are idempotent) and completes it the way it would have
 * without the window; an atomic, which must not be done twice, completes
 * with IBV_WC_RETRY_EXC_ERR (an RC requester that got no answer: done or
 * not) and moves the QP to the error state. A revoked window
 * is never valid again; the provider unmaps it and may open a new one.
 *
 * mmap errors: EINVAL (an offset no window has, a revoked window's data, a
 * length past its end, MAP_PRIVATE), EACCES (a window of another context,
 * PROT_WRITE without the right or on the state page).
 */
enum dibs_rdma_qp_methods {
	DIBS_RDMA_METHOD_QP_OPEN_WINDOW = (1U << UVERBS_ID_NS_SHIFT),
	DIBS_RDMA_METHOD_QP_OPEN_RING,
	DIBS_RDMA_METHOD_QP_OPEN_OWN_RING,	/* the attributes of OPEN_RING */
};

enum dibs_rdma_open_window_attrs {
	DIBS_RDMA_ATTR_OPEN_WINDOW_QP = (1U << UVERBS_ID_NS_SHIFT),
	DIBS_RDMA_ATTR_OPEN_WINDOW_RKEY,	/* __u32 */
	DIBS_RDMA_ATTR_OPEN_WINDOW_RESP,	/* struct dibs_rdma_window_resp */
};

/*
 * Ring windows
 * ------------
 * DIBS_RDMA_METHOD_QP_OPEN_RING opens a window of a connected RC or UC QP
 * (whose peer QP is of its type) onto its peer QP's receive ring (struct
 * dibs_rdma_ring, dibs-rdma-wire.h), with the conditions and errors of OPEN_WINDOW up to the MR checks, which it has
 * none of: the ring is where the peer QP takes our messages, and its owner
 * checks everything it reads there. The answer is a struct
 * dibs_rdma_window_resp whose iova 0 is the ring's first byte, whose length
 * covers the ring's header and slots, and whose access is
 * IB_ACCESS_REMOTE_WRITE (the mapping is readable and writable). Its
 * revocation and mmap rules are those of a direct window, except that a
 * modify of the peer QP keeps it if it leaves the peer in RTR or RTS with
 * the same destination: the ring stays the same ring.
 *
 * The provider then writes SEND and WRITE_WITH_IMM messages into the slots
 * itself, as the kernel driver would, and signals only where the ring's
 * armed word asks for it (dibs-rdma-wire.h): with the doorbell, a POST_SEND
 * command without work requests, which makes the kernel signal the peer.
 * While the QP has had a ring window, the kernel driver finds the ring's
 * tail again before each message it writes itself: both may write it, one
 * after the other, as the provider serialises its posts. A SEND whose ring
 * window is revoked while it is written may or may not have arrived: on RC
 * it completes with IBV_WC_RETRY_EXC_ERR and the QP moves to the error
 * state, as for an atomic; on UC, which has no acknowledgments, it
 * completes successfully, as a message lost on the way does.
 */
enum dibs_rdma_open_ring_attrs {
	DIBS_RDMA_ATTR_OPEN_RING_QP = (1U << UVERBS_ID_NS_SHIFT),
	DIBS_RDMA_ATTR_OPEN_RING_RESP,	/* struct dibs_rdma_window_resp */
};

#define DIBS_RDMA_MAX_WINDOWS	64	/* per QP */

struct dibs_rdma_window_resp {
	__aligned_u64 mmap_offset;
	__aligned_u64 state_offset;
	__aligned_u64 iova;
	__aligned_u64 length;
	__u32 access;
	__u32 reserved;
};

struct dibs_rdma_window_state {
	__u32 valid;		/* 1 until the window is revoked */
	__u32 reserved;
};

#endif /* DIBS_RDMA_ABI_H */
