/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dibs_rdma: one ib_device per dibs device - the objects, limits and the
 * functions the files share. Files follow the data path: dibs_rdma_req.c
 * (requester), dibs_rdma_resp.c (responder), dibs-rdma-wire.h (what goes
 * into a peer's memory), dibs_rdma_fabric.h (how a peer is reached).
 */
#ifndef _DIBS_RDMA_H
#define _DIBS_RDMA_H

#include <linux/dibs.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/xarray.h>
#include <rdma/ib_umem.h>
#include <rdma/ib_verbs.h>
#include <rdma/uverbs_ioctl.h>
#include <rdma/dibs-rdma-abi.h>
#include <rdma/dibs-rdma-wire.h>

#include "dibs_rdma_fabric.h"

/* Limits the driver reports and enforces. */
#define DIBS_RDMA_MAX_PD	1024
#define DIBS_RDMA_MAX_QP	1024
#define DIBS_RDMA_MAX_CQ	1024
#define DIBS_RDMA_MAX_SRQ	1024
#define DIBS_RDMA_MAX_WR	4096
#define DIBS_RDMA_MAX_INLINE	256
/* entries of a send queue ring: one batch, executed during its doorbell */
#define DIBS_RDMA_SQ_WQES	64
#define DIBS_RDMA_MAX_MR	0x100000
/* a remotely accessible MR is one DMB: at most this long */
#define DIBS_RDMA_MAX_MR_SIZE	BIT_ULL(31)
#define DIBS_RDMA_MAX_MSG	BIT(24)
#define DIBS_RDMA_MAX_RD_ATOM	16
/* a PSN is 24 bits wide, as on an IB wire */
#define DIBS_RDMA_PSN_MASK	GENMASK(23, 0)
#define DIBS_RDMA_VENDOR_ID	0xffffff	/* no IEEE OUI: a software device */
/* how long a SEND waits for room in the peer's receive ring (RNR) */
#define DIBS_RDMA_RNR_TIMEOUT_MS	2000
/* how long a request waits for its answer: the peer may be RNR-blocked */
#define DIBS_RDMA_ANSWER_TIMEOUT_MS	(2 * DIBS_RDMA_RNR_TIMEOUT_MS)

struct dibs_rdma_dev {
	struct ib_device ibdev;
	/* the dibs device; valid until del_dev() unregisters us */
	struct dibs_dev *dibs;
	u16 lid;
	/* the dibs device takes our memory as DMBs (dibs_rdma_fabric.h) */
	bool lends;
	/* GID index 0: the dibs GID in verbs form (dibs_rdma_fabric.h) */
	union ib_gid gid;
	atomic_t nr_pds;
	atomic_t nr_cqs;
	atomic_t nr_srqs;
	/* QPs by qp_num, and by the DMB index of their receive ring */
	struct xarray qps;
	struct xarray rings;
};

struct dibs_rdma_ucontext {
	struct ib_ucontext ibuc;
};

struct dibs_rdma_pd {
	struct ib_pd ibpd;
};

/*
 * A memory region: the user's pages pinned (umem) and mapped contiguously
 * (vmap); with remote access, on a device that lends, it is also a DMB lent
 * to the dibs device. Its owner's responder finds it by rkey. lkey == rkey.
 */
struct dibs_rdma_mr {
	struct ib_mr ibmr;
	struct dibs_rdma_dev *ddev;
	struct ib_umem *umem;
	void *vaddr;		/* kernel address of iova */
	u64 iova;
	u64 length;
	int access;
	bool has_dmb;
	struct dibs_dmb dmb;
	/* no window may be opened onto it (guarded by the window registry lock) */
	bool windows_closed;
	/* lookups by key hold a reference; dereg waits for them */
	refcount_t ref;
	struct completion released;
};

/* memory a process maps: freed when both the object and the mapping are gone */
struct dibs_rdma_mmap_entry {
	struct rdma_user_mmap_entry rdma;
	void *vaddr;		/* vmalloc_user() */
};

struct dibs_rdma_cq {
	struct ib_cq ibcq;
	/* guards everything below; taken with irqsave */
	spinlock_t lock;
	/*
	 * A user CQ is a ring mapped into the process (see the uapi header);
	 * a CQ without one keeps ib_wc entries in @queue.
	 */
	struct dibs_rdma_cq_ring *ring;
	struct dibs_rdma_cqe *ring_cqe;	/* the entries after *ring */
	struct dibs_rdma_mmap_entry *ring_entry;
	u32 ring_prod;		/* the kernel's own copy of ring->prod */
	struct ib_wc *queue;
	u32 size;		/* ring: entries (2^n); queue: ibcq.cqe + 1 */
	u32 head;		/* next to poll */
	u32 count;		/* valid entries */
	u8 notify;		/* 0, IB_CQ_NEXT_COMP or IB_CQ_SOLICITED */
	bool overflow;

	/*
	 * QPs whose receive completions go here, so that polling an empty
	 * CQ can drain their rings without waiting for the dibs signal's
	 * work item. Guarded by rqps_lock (a mutex: polling may sleep).
	 */
	struct mutex rqps_lock;
	struct list_head rqps;
};

/*
 * A shared receive queue: a receive queue ring (the uapi header, "Shared
 * receive queue ring") that the process may map and write, so prod and the
 * entries are untrusted, as a QP's. The kernel is its only consumer: the
 * drains of the attached QPs take entries under @lock.
 */
struct dibs_rdma_srq {
	struct ib_srq ibsrq;
	/* guards cons, limit and the kernel's own posts; taken with irqsave */
	spinlock_t lock;
	struct dibs_rdma_rq_ring *ring;
	struct dibs_rdma_recv_wqe *wqe;	/* the entries after *ring */
	/* the mapping that owns ring; NULL: the SRQ owns it (vfree) */
	struct dibs_rdma_mmap_entry *entry;
	u32 num;		/* entries, a power of two */
	u32 cons;		/* the kernel's copy of ring->cons */
	u32 limit;		/* the armed limit, 0: none */
	/*
	 * The attached QPs, for the doorbell: a message of theirs may wait for
	 * a receive. Guarded by qps_lock, taken before a QP's rq_lock.
	 */
	struct mutex qps_lock;
	struct list_head qps;
};

struct dibs_rdma_qp {
	struct ib_qp ibqp;
	struct dibs_rdma_dev *ddev;
	/* lookups by qpn/ring index hold a reference; destroy waits for them */
	refcount_t ref;
	struct completion released;

	/* serialises post_send and state changes */
	struct mutex sq_lock;
	/* serialises the receive side: RQ, ring draining */
	struct mutex rq_lock;

	enum ib_qp_state state;
	int access;		/* qp_access_flags */
	bool sig_all;
	struct ib_qp_cap cap;
	/* destination, set at RTR */
	u32 dest_qpn;
	u16 dlid;
	bool has_grh;
	union ib_gid dgid;
	/*
	 * What modify_qp set that the transport does not act on - there is
	 * no wire: no packets, paths, timers, retries or PSNs - kept for
	 * query_qp to report as set. Like the destination, written under
	 * sq_lock and rq_lock, read under sq_lock.
	 */
	struct {
		enum ib_mtu path_mtu;
		u32 sq_psn;
		u32 rq_psn;
		u32 flow_label;
		u8 timeout;
		u8 retry_cnt;
		u8 rnr_retry;
		u8 min_rnr_timer;
		u8 max_rd_atomic;
		u8 max_dest_rd_atomic;
		u8 sl;
		u8 static_rate;
		u8 sgid_index;
		u8 hop_limit;
		u8 traffic_class;
	} kept;

	/* on the receive CQ's rqps list */
	struct list_head rcq_entry;
	/* on the SRQ's qps list (with an SRQ) */
	struct list_head srq_entry;

	/*
	 * The receive queue: a ring the process may map and write (the uapi
	 * header), so prod and the entries are untrusted - read through
	 * dibs_rdma_rq_posted() and copied before use. Guarded by rq_lock.
	 */
	struct dibs_rdma_rq_ring *rq_ring;
	struct dibs_rdma_recv_wqe *rq_wqe;	/* the entries after *rq_ring */
	/* the mapping that owns rq_ring; NULL: the QP owns it (vfree) */
	struct dibs_rdma_mmap_entry *rq_entry;
	u32 rq_num;		/* entries, a power of two or 0 */
	u32 rq_cons;		/* the kernel's copy of rq_ring->cons while it drains */
	bool rq_waiting;	/* DIBS_RDMA_RQ_WAITING is set in rq_ring->kick */
	/* bytes of the current multi-slot message already placed */
	u32 rx_off;
	/* UC: the current message is dropped, its slots skipped to its last */
	bool rx_drop;
	/* with an SRQ: rx_wqe holds a receive taken from it, not completed yet */
	bool rx_loaded;
	/* with an SRQ: IB_EVENT_QP_LAST_WQE_REACHED was raised (until RESET) */
	bool last_wqe;
	/* the receive of the current message: entry rq_cons, copied at its first slot */
	struct dibs_rdma_recv_wqe rx_wqe;
	/* the WRITE request being served: its MR, next address, bytes left */
	struct dibs_rdma_mr *wr_mr;
	u64 wr_addr;
	u32 wr_left;
	enum ib_wc_status wr_status;
	/*
	 * the connected requester's ring, for answers: written by the connect
	 * request (without our locks: WRITE_ONCE), read by the drain
	 */
	u64 reply_tok;

	/* our receive ring, a DMB on our dibs device */
	struct dibs_dmb ring_dmb;
	struct dibs_rdma_ring *ring;
	/* the next slot: loaded from rq_ring->rx_cons when the drain is taken */
	u64 ring_cons;		/* rq_lock */
	/* the kernel holds the drain (rq_lock; the uapi header, rx_owner) */
	bool rx_claimed;
	/* requests in slots before this index are served (rq_lock) */
	u64 ring_served;

	/* the peer's ring (sq_lock): attached while connected */
	struct dibs_dmb peer_ring_dmb;
	struct dibs_rdma_ring *peer_ring;
	u64 peer_gen;
	u64 peer_prod;
	/*
	 * a ring window was opened (sq_lock): the provider writes the peer's
	 * ring too, so peer_prod is found again before each message
	 */
	bool ring_shared;
	/* bounce buffer for one outgoing slot (sq_lock) */
	struct dibs_rdma_slot *tx_slot;
	/*
	 * The send queue ring (the uapi header), NULL without the provider's
	 * response buffer. The process writes it, so prod and the entries are
	 * untrusted: each entry is copied once, then checked as POST_SEND
	 * checks a work request. sq_cons is the kernel's own copy of cons.
	 * Guarded by sq_lock.
	 */
	struct dibs_rdma_sq_ring *sq_ring;
	struct dibs_rdma_send_wqe *sq_wqe;	/* the entries after *sq_ring */
	struct dibs_rdma_mmap_entry *sq_entry;	/* owns sq_ring */
	u32 sq_cons;
	/* the id of our last request to a placed peer (sq_lock) */
	u64 req_id;
	/* the connection to a peer in another kernel */
	struct dibs_rdma_remote remote;
	/* what the work request being executed resolved to (sq_lock) */
	struct dibs_rdma_wqe_ctx *wqe_ctx;
	/* direct windows opened on this QP (guarded by the window registry lock) */
	u32 nr_windows;
};

static inline struct dibs_rdma_dev *to_ddev(struct ib_device *ibdev)
{
	return container_of(ibdev, struct dibs_rdma_dev, ibdev);
}

static inline struct dibs_rdma_cq *to_dcq(struct ib_cq *ibcq)
{
	return container_of(ibcq, struct dibs_rdma_cq, ibcq);
}

static inline struct dibs_rdma_srq *to_dsrq(struct ib_srq *ibsrq)
{
	return container_of(ibsrq, struct dibs_rdma_srq, ibsrq);
}

static inline struct dibs_rdma_qp *to_dqp(struct ib_qp *ibqp)
{
	return container_of(ibqp, struct dibs_rdma_qp, ibqp);
}

/* UC: no READ or atomics, and what the responder refuses is lost, not reported */
static inline bool dibs_rdma_qp_is_uc(const struct dibs_rdma_qp *qp)
{
	return qp->ibqp.qp_type == IB_QPT_UC;
}

/* The remote rights @qp grants its peer: a UC QP takes only RDMA WRITEs. */
static inline int dibs_rdma_qp_remote_access(const struct dibs_rdma_qp *qp)
{
	int access = READ_ONCE(qp->access);

	return dibs_rdma_qp_is_uc(qp) ? access & IB_ACCESS_REMOTE_WRITE : access;
}

static inline struct dibs_rdma_mr *to_dmr(struct ib_mr *ibmr)
{
	return container_of(ibmr, struct dibs_rdma_mr, ibmr);
}

extern struct dibs_client dibs_rdma_client;

/* dibs_rdma_verbs.c */
int dibs_rdma_query_device(struct ib_device *ibdev, struct ib_device_attr *attr,
			   struct ib_udata *udata);
int dibs_rdma_query_port(struct ib_device *ibdev, u32 port,
			 struct ib_port_attr *attr);
int dibs_rdma_get_port_immutable(struct ib_device *ibdev, u32 port,
				 struct ib_port_immutable *immutable);
enum rdma_link_layer dibs_rdma_get_link_layer(struct ib_device *ibdev, u32 port);
int dibs_rdma_query_gid(struct ib_device *ibdev, u32 port, int index,
			union ib_gid *gid);
int dibs_rdma_query_pkey(struct ib_device *ibdev, u32 port, u16 index, u16 *pkey);
int dibs_rdma_alloc_ucontext(struct ib_ucontext *ibuc, struct ib_udata *udata);
void dibs_rdma_dealloc_ucontext(struct ib_ucontext *ibuc);
void dibs_rdma_disassociate_ucontext(struct ib_ucontext *ibuc);
int dibs_rdma_mmap(struct ib_ucontext *ibuc, struct vm_area_struct *vma);
struct dibs_rdma_mmap_entry *dibs_rdma_mmap_alloc(struct ib_udata *udata,
						  size_t len);
void dibs_rdma_mmap_free(struct rdma_user_mmap_entry *rdma);
int dibs_rdma_alloc_pd(struct ib_pd *ibpd, struct ib_udata *udata);
int dibs_rdma_dealloc_pd(struct ib_pd *ibpd, struct ib_udata *udata);

/* dibs_rdma_mr.c */
struct ib_mr *dibs_rdma_reg_user_mr(struct ib_pd *pd, u64 start, u64 length,
				    u64 iova, int access, struct ib_udata *udata);
struct ib_mr *dibs_rdma_rereg_user_mr(struct ib_mr *ibmr, int flags, u64 start,
				      u64 length, u64 iova, int access,
				      struct ib_pd *pd, struct ib_udata *udata);
int dibs_rdma_dereg_mr(struct ib_mr *ibmr, struct ib_udata *udata);
struct dibs_rdma_mr *dibs_rdma_mr_check(struct dibs_rdma_dev *ddev,
					struct ib_pd *pd, u32 key, int access,
					u64 addr, u64 len);
struct dibs_rdma_mr *dibs_rdma_mr_lookup(struct dibs_rdma_dev *ddev,
					 struct ib_pd *pd, u32 key);
void dibs_rdma_mr_put(struct dibs_rdma_mr *mr);

/* dibs_rdma_cq.c */
int dibs_rdma_create_cq(struct ib_cq *ibcq, const struct ib_cq_init_attr *attr,
			struct ib_udata *udata);
int dibs_rdma_destroy_cq(struct ib_cq *ibcq, struct ib_udata *udata);
int dibs_rdma_resize_cq(struct ib_cq *ibcq, int cqe, struct ib_udata *udata);
int dibs_rdma_poll_cq(struct ib_cq *ibcq, int num, struct ib_wc *wc);
int dibs_rdma_req_notify_cq(struct ib_cq *ibcq, enum ib_cq_notify_flags flags);
void dibs_rdma_cq_post(struct dibs_rdma_cq *cq, const struct ib_wc *wc,
		       bool solicited);

/* dibs_rdma_qp.c */
int dibs_rdma_create_qp(struct ib_qp *ibqp, struct ib_qp_init_attr *attr,
			struct ib_udata *udata);
int dibs_rdma_modify_qp(struct ib_qp *ibqp, struct ib_qp_attr *attr, int mask,
			struct ib_udata *udata);
int dibs_rdma_query_qp(struct ib_qp *ibqp, struct ib_qp_attr *attr, int mask,
		       struct ib_qp_init_attr *init);
int dibs_rdma_destroy_qp(struct ib_qp *ibqp, struct ib_udata *udata);
struct dibs_rdma_qp *dibs_rdma_qp_get(struct dibs_rdma_dev *ddev, u32 qpn);
struct dibs_rdma_qp *dibs_rdma_qp_by_ring(struct dibs_rdma_dev *ddev,
					  unsigned int idx);
void dibs_rdma_qp_put(struct dibs_rdma_qp *qp);
void dibs_rdma_qp_error_locked(struct dibs_rdma_qp *qp);
void dibs_rdma_qp_error(struct dibs_rdma_qp *qp);
void dibs_rdma_qp_fatal(struct dibs_rdma_qp *qp);

/* dibs_rdma_srq.c */
int dibs_rdma_create_srq(struct ib_srq *ibsrq, struct ib_srq_init_attr *init,
			 struct ib_udata *udata);
int dibs_rdma_modify_srq(struct ib_srq *ibsrq, struct ib_srq_attr *attr,
			 enum ib_srq_attr_mask mask, struct ib_udata *udata);
int dibs_rdma_query_srq(struct ib_srq *ibsrq, struct ib_srq_attr *attr);
int dibs_rdma_destroy_srq(struct ib_srq *ibsrq, struct ib_udata *udata);
int dibs_rdma_post_srq_recv(struct ib_srq *ibsrq, const struct ib_recv_wr *wr,
			    const struct ib_recv_wr **bad_wr);
void dibs_rdma_srq_attach(struct dibs_rdma_qp *qp);
void dibs_rdma_srq_detach(struct dibs_rdma_qp *qp);
int dibs_rdma_srq_take(struct dibs_rdma_qp *qp);

/* dibs_rdma_resp.c */
int dibs_rdma_rq_create(struct dibs_rdma_qp *qp, struct ib_udata *udata,
			struct dibs_rdma_create_qp_resp *resp);
void dibs_rdma_rq_destroy(struct dibs_rdma_qp *qp);
void dibs_rdma_rq_reset(struct dibs_rdma_qp *qp);
void dibs_rdma_flush_rq(struct dibs_rdma_qp *qp);
int dibs_rdma_post_recv(struct ib_qp *ibqp, const struct ib_recv_wr *wr,
			const struct ib_recv_wr **bad_wr);
void dibs_rdma_ring_irq(struct dibs_dev *dibs, unsigned int idx, u16 mask);
void dibs_rdma_rq_doorbell(struct dibs_rdma_qp *qp);
void dibs_rdma_recv_wqe_set(struct dibs_rdma_recv_wqe *wqe,
			    const struct ib_recv_wr *wr);
void dibs_rdma_cq_drain_rings(struct dibs_rdma_cq *cq);
void dibs_rdma_cq_arm_rings(struct dibs_rdma_cq *cq);
void dibs_rdma_resp_reset(struct dibs_rdma_qp *qp);
enum ib_wc_status dibs_rdma_resp_connect(struct dibs_rdma_dev *ddev, u32 qpn,
					 const struct dibs_rdma_conn_req *req,
					 u64 *ring_tok);
enum ib_wc_status dibs_rdma_resp_check_window(struct dibs_rdma_dev *ddev,
					      u32 qpn, u32 rkey,
					      struct dibs_rdma_target *t);
enum ib_wc_status dibs_rdma_resp_check_rkey(struct dibs_rdma_dev *ddev, u32 qpn,
					    u32 rkey, u64 raddr, u64 len,
					    int access,
					    struct dibs_rdma_target *t);

/* dibs_rdma_req.c */
int dibs_rdma_post_send(struct ib_qp *ibqp, const struct ib_send_wr *wr,
			const struct ib_send_wr **bad_wr);
void dibs_rdma_detach_peer(struct dibs_rdma_qp *qp);
struct dibs_rdma_wqe_ctx *dibs_rdma_wqe_ctx_alloc(void);
int dibs_rdma_sq_create(struct dibs_rdma_qp *qp, struct ib_udata *udata,
			struct dibs_rdma_create_qp_resp *resp);
void dibs_rdma_sq_destroy(struct dibs_rdma_qp *qp);

/* dibs_rdma_window.c */
extern const struct uapi_definition dibs_rdma_uapi_defs[];
bool dibs_rdma_is_window_mmap(const struct vm_area_struct *vma);
int dibs_rdma_window_mmap(struct ib_ucontext *ibuc, struct vm_area_struct *vma);
void dibs_rdma_window_revoke_mr(struct dibs_rdma_mr *mr);
void dibs_rdma_window_revoke_qp(struct dibs_rdma_qp *qp, bool keep_rings);

#endif /* _DIBS_RDMA_H */
