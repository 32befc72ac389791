// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_rdma: direct windows - a direct peer's MR mapped into the requester's
 * process, so that its provider does RDMA READ, WRITE and atomics with the
 * CPU, without a system call (the ABI: include/uapi/rdma/dibs-rdma-abi.h,
 * "Direct windows"); and ring windows - the peer QP's receive ring mapped
 * the same way, so that the provider writes SEND and WRITE_WITH_IMM
 * messages into it itself ("Ring windows"); and own-ring windows - a QP's
 * own receive ring mapped into its process, which drains it ("Receiving in
 * the process").
 *
 * Opening: DIBS_RDMA_METHOD_QP_OPEN_WINDOW asks the fabric the window
 * question (dibs_rdma_fabric.h) on behalf of an RTS QP: the peer QP must be
 * direct and connected back, the MR in its PD, and the rights of both allow
 * reading (the mapping is readable; x86 has no write-only pages). The
 * window attaches the MR's DMB on the requester's dibs device - the dibs
 * way to map a peer's buffer (support_mmapped_rdmb, attach_dmb) - and maps
 * the whole pages of the MR only: the other bytes of a partial page are not
 * the MR's. A ring window asks nothing beyond the connect: the ring is where
 * the peer QP takes messages from us, and every byte of it is one that we
 * may write with move_data() already (the owner checks all it reads there).
 * An own-ring window maps the QP's own ring DMB, which the QP owns: nothing
 * to attach; it is the QP's own messages that its process reads there.
 *
 * Mapping: VM_PFNMAP, filled by the fault handler. No page reference is
 * taken: the owner's pin (ib_umem), or the owner's ring DMB, must outlive
 * every PTE, which is what revocation guarantees (the attached DMB keeps
 * the ring's memory until the window detaches it). VM_DONTCOPY: a child of
 * fork() has no window; VM_PFNMAP also keeps the pages from being pinned
 * again (ibv_reg_mr of the window fails) or reached through /proc/<pid>/mem.
 * A process that got the uverbs file from another maps only windows of that
 * file's context - the same objects it could post work requests on.
 *
 * Revocation, and why no access reaches memory that is no longer the MR:
 *   1. under w->lock, valid is cleared and the state page says so. A fault
 *      takes w->lock and maps the MR's page only while valid; after this
 *      point every fault maps the window's sink page instead.
 *   2. unmap_mapping_range() removes every PTE a fault installed before 1
 *      from every mapping of the window and flushes the TLBs. After it
 *      returns, no CPU reaches the MR's pages through the window.
 *   3. only then the DMB is detached and the revoker (dereg_mr, destroy_qp,
 *      ...) goes on to unpin the pages or free the QP.
 * The provider checks state.valid after each operation, behind a full
 * fence: if it still reads 1, the operation's accesses came before 1, so
 * before 2, so they reached the MR while it was the MR. A process is never
 * killed by a revocation: it reads the sink page instead.
 *
 * Revokers: deregistering the MR (dibs_rdma_window_revoke_mr()), any modify
 * or destroy of either QP and the error state (dibs_rdma_window_revoke_qp());
 * a ring window stays while its owner moves from RTR to RTS or changes
 * anything but its state and destination: what the ring is stays the same.
 * An own-ring window is the QP's own (w->qp): every modify revokes it.
 * The owner's process exiting (also by SIGKILL) deregisters its MRs and
 * destroys its QPs; removing the device destroys both sides' objects.
 *
 * Locking: dibs_rdma_windows_lock guards the registry, every window's qp
 * and mapping, dibs_rdma_mr.windows_closed and dibs_rdma_qp.nr_windows; it
 * is held from an open's checks to its registration, and across a
 * revocation, so that a revoker returns only once its windows are gone -
 * also those another revoker found first. Order: sq_lock, rq_lock, then
 * dibs_rdma_windows_lock, then w->lock; the fault path takes w->lock under
 * the mmap lock and nothing else.
 */
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/vmalloc.h>
#include <rdma/uverbs_ioctl.h>

#define UVERBS_MODULE_NAME dibs_rdma
#include <rdma/uverbs_named_ioctl.h>

#include "dibs_rdma.h"

/*
 * mmap offsets of windows, in pages: above those of rdma_user_mmap_entry
 * (32 bits), DIBS_RDMA_WINDOW_SPAN pages per window id. Page
 * DIBS_RDMA_WINDOW_STATE of a window's span is its state page; its data
 * starts at page 0 (an MR has at most DIBS_RDMA_MAX_MR_SIZE bytes).
 */
#define DIBS_RDMA_WINDOW_PGOFF	BIT_ULL(40)
#define DIBS_RDMA_WINDOW_SHIFT	20
#define DIBS_RDMA_WINDOW_SPAN	BIT_ULL(DIBS_RDMA_WINDOW_SHIFT)
#define DIBS_RDMA_WINDOW_STATE	(DIBS_RDMA_WINDOW_SPAN - 1)
#define DIBS_RDMA_WINDOW_MAX_ID	((1U << 20) - 1)

static_assert(DIBS_RDMA_MAX_MR_SIZE / PAGE_SIZE < DIBS_RDMA_WINDOW_STATE);

struct dibs_rdma_window {
	/* one for the registry, one per VMA */
	struct kref ref;
	u32 id;
	u64 pgoff;		/* of data page 0 */
	/* identities only, never dereferenced: the context that may map it */
	struct ib_ucontext *uctx;
	/* the owner's MR (NULL for a ring window) and QP, for the revokers */
	struct dibs_rdma_mr *mr;
	struct dibs_rdma_dev *peer_dev;
	u32 peer_qpn;
	/* the requester QP; NULL once revoked (dibs_rdma_windows_lock) */
	struct dibs_rdma_qp *qp;
	/* the uverbs file's mapping, once mapped (dibs_rdma_windows_lock) */
	struct address_space *mapping;
	/* the MR's or peer ring's DMB, attached on qp's dibs device while valid */
	struct dibs_dmb dmb;
	bool attached;		/* false: an own-ring window */
	void *base;		/* kernel address of data page 0 */
	bool vmapped;		/* base is a vmap (an MR's), else linear (a ring) */
	unsigned long npages;
	u64 iova;		/* of data page 0 */
	int access;
	/* guards valid against the fault handler */
	struct mutex lock;
	bool valid;
	struct dibs_rdma_window_state *state;	/* a page of its own */
	struct page *sink;	/* what a revoked window maps */
};

/* windows by id (dibs_rdma_windows_lock for changes, xa lock for loads) */
static DEFINE_XARRAY_ALLOC1(dibs_rdma_windows);
static DEFINE_MUTEX(dibs_rdma_windows_lock);

/* Free what dibs_rdma_window_alloc() allocated. */
static void dibs_rdma_window_free(struct dibs_rdma_window *w)
{
	free_page((unsigned long)w->state);
	if (w->sink)
		__free_page(w->sink);
	mutex_destroy(&w->lock);
	kfree(w);
}

static void dibs_rdma_window_release(struct kref *ref)
{
	dibs_rdma_window_free(container_of(ref, struct dibs_rdma_window, ref));
	module_put(THIS_MODULE);
}

/* Revoke @w (see the top of this file). Caller holds dibs_rdma_windows_lock. */
static void dibs_rdma_window_revoke(struct dibs_rdma_window *w)
{
	lockdep_assert_held(&dibs_rdma_windows_lock);
	mutex_lock(&w->lock);
	w->valid = false;
	WRITE_ONCE(w->state->valid, 0);
	mutex_unlock(&w->lock);
	/* the state before the zap: a provider that still reads 1 came first */
	smp_mb();
	if (w->mapping)
		unmap_mapping_range(w->mapping, (loff_t)w->pgoff << PAGE_SHIFT,
				    (loff_t)w->npages << PAGE_SHIFT, 1);
	if (w->attached)
		dibs_detach_dmb(w->qp->ddev->dibs, w->dmb.dmb_tok);
	xa_erase(&dibs_rdma_windows, w->id);
	w->qp->nr_windows--;
	w->qp = NULL;
	kref_put(&w->ref, dibs_rdma_window_release);
}

void dibs_rdma_window_revoke_mr(struct dibs_rdma_mr *mr)
{
	struct dibs_rdma_window *w;
	unsigned long id;

	mutex_lock(&dibs_rdma_windows_lock);
	mr->windows_closed = true;
	xa_for_each(&dibs_rdma_windows, id, w)
		if (w->mr == mr)
			dibs_rdma_window_revoke(w);
	mutex_unlock(&dibs_rdma_windows_lock);
}

/*
 * Revoke the windows @qp opened, and those opened onto @qp's peer side -
 * except, with @keep_rings, ring windows onto @qp's receive ring.
 */
void dibs_rdma_window_revoke_qp(struct dibs_rdma_qp *qp, bool keep_rings)
{
	struct dibs_rdma_window *w;
	unsigned long id;

	mutex_lock(&dibs_rdma_windows_lock);
	xa_for_each(&dibs_rdma_windows, id, w)
		if (w->qp == qp || (w->peer_dev == qp->ddev &&
				    w->peer_qpn == qp->ibqp.qp_num &&
				    (w->mr || !keep_rings)))
			dibs_rdma_window_revoke(w);
	mutex_unlock(&dibs_rdma_windows_lock);
}

static int dibs_rdma_wc_errno(enum ib_wc_status st)
{
	return st == IB_WC_REM_INV_REQ_ERR ? -EOPNOTSUPP :
	       st == IB_WC_REM_ACCESS_ERR ? -EACCES : -ENOTCONN;
}

/*
 * Attach the DMB of @t and set up @w's data pages: the whole pages of the
 * MR. Caller holds dibs_rdma_windows_lock.
 */
static int dibs_rdma_window_attach(struct dibs_rdma_window *w,
				   struct dibs_rdma_qp *qp,
				   const struct dibs_rdma_target *t)
{
	unsigned long head;

	w->dmb = (struct dibs_dmb){ .dmb_tok = t->dmb_tok };
	if (dibs_attach_dmb(qp->ddev->dibs, &w->dmb))
		return -EOPNOTSUPP;
	/* lent memory is the owner's vmap of its pinned pages */
	if (!is_vmalloc_addr(w->dmb.cpu_addr) || w->dmb.dmb_len != t->length) {
		dibs_detach_dmb(qp->ddev->dibs, w->dmb.dmb_tok);
		return -EOPNOTSUPP;
	}
	head = offset_in_page(w->dmb.cpu_addr) ?
	       PAGE_SIZE - offset_in_page(w->dmb.cpu_addr) : 0;
	if (t->length < head + PAGE_SIZE) {
		dibs_detach_dmb(qp->ddev->dibs, w->dmb.dmb_tok);
		return -ERANGE;
	}
	w->attached = true;
	w->base = w->dmb.cpu_addr + head;
	w->vmapped = true;
	w->iova = t->iova + head;
	w->npages = (t->length - head) >> PAGE_SHIFT;
	w->access = t->access;
	return 0;
}

/* The part of a ring a sender writes: its header and slots. */
#define DIBS_RDMA_RING_WINDOW_PAGES \
	DIV_ROUND_UP(offsetof(struct dibs_rdma_ring, resp_data), PAGE_SIZE)

/*
 * Attach the peer's receive ring @ring_tok and set up @w's data pages: the
 * ring's header and slots. Caller holds dibs_rdma_windows_lock.
 */
static int dibs_rdma_window_attach_ring(struct dibs_rdma_window *w,
					struct dibs_rdma_qp *qp, u64 ring_tok)
{
	w->dmb = (struct dibs_dmb){ .dmb_tok = ring_tok };
	if (dibs_attach_dmb(qp->ddev->dibs, &w->dmb))
		return -ENOTCONN;
	/* a ring is the device's own memory: page-aligned, in the linear map */
	if (offset_in_page(w->dmb.cpu_addr) || !virt_addr_valid(w->dmb.cpu_addr) ||
	    w->dmb.dmb_len < DIBS_RDMA_RING_WINDOW_PAGES * PAGE_SIZE) {
		dibs_detach_dmb(qp->ddev->dibs, w->dmb.dmb_tok);
		return -EOPNOTSUPP;
	}
	w->attached = true;
	w->base = w->dmb.cpu_addr;
	w->vmapped = false;
	w->iova = 0;
	w->npages = DIBS_RDMA_RING_WINDOW_PAGES;
	w->access = IB_ACCESS_REMOTE_WRITE;
	return 0;
}

/*
 * The ring a QP owns, for its process to drain: its whole pages (a ring
 * window maps only the header and slots, what a sender writes). Caller holds
 * rq_lock.
 */
static int dibs_rdma_window_own_ring(struct dibs_rdma_window *w,
				     struct dibs_rdma_qp *qp)
{
	void *ring = qp->ring_dmb.cpu_addr;

	/* an SRQ's entries are taken by the kernel only (the uapi header) */
	if (!qp->rq_entry || qp->ibqp.srq || !to_dcq(qp->ibqp.recv_cq)->ring ||
	    offset_in_page(ring) || !virt_addr_valid(ring) ||
	    qp->ring_dmb.dmb_len < DIBS_RDMA_RING_WINDOW_PAGES * PAGE_SIZE)
		return -EOPNOTSUPP;
	w->base = ring;
	w->vmapped = false;
	w->iova = 0;
	w->npages = qp->ring_dmb.dmb_len >> PAGE_SHIFT;
	w->access = IB_ACCESS_REMOTE_WRITE;
	return 0;
}

static struct dibs_rdma_window *dibs_rdma_window_alloc(void)
{
	struct dibs_rdma_window *w = kzalloc(sizeof(*w), GFP_KERNEL);

	if (!w)
		return NULL;
	kref_init(&w->ref);
	mutex_init(&w->lock);
	w->state = (void *)get_zeroed_page(GFP_KERNEL);
	w->sink = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!w->state || !w->sink) {
		dibs_rdma_window_free(w);
		return NULL;
	}
	return w;
}

/*
 * Register @w, set up for @qp, as a window of @uctx, and describe it in
 * @resp. Caller holds dibs_rdma_windows_lock.
 */
static int dibs_rdma_window_add(struct dibs_rdma_window *w,
				struct dibs_rdma_qp *qp, struct ib_ucontext *uctx,
				struct dibs_rdma_window_resp *resp)
{
	int rc;

	rc = xa_alloc(&dibs_rdma_windows, &w->id, w,
		      XA_LIMIT(1, DIBS_RDMA_WINDOW_MAX_ID), GFP_KERNEL);
	if (rc)
		return rc == -EBUSY ? -ENOSPC : rc;
	w->pgoff = DIBS_RDMA_WINDOW_PGOFF + ((u64)w->id << DIBS_RDMA_WINDOW_SHIFT);
	w->uctx = uctx;
	w->qp = qp;
	w->valid = true;
	w->state->valid = 1;
	qp->nr_windows++;
	__module_get(THIS_MODULE);
	*resp = (struct dibs_rdma_window_resp){
		.mmap_offset = w->pgoff << PAGE_SHIFT,
		.state_offset = (w->pgoff + DIBS_RDMA_WINDOW_STATE) << PAGE_SHIFT,
		.iova = w->iova,
		.length = (u64)w->npages << PAGE_SHIFT,
		.access = w->access,
	};
	return 0;
}

/*
 * Open a window of @qp onto its peer's MR @rkey, or with @ring onto the peer
 * QP's receive ring; fills @resp.
 */
static int dibs_rdma_window_open(struct dibs_rdma_qp *qp, struct ib_ucontext *uctx,
				 bool ring, u32 rkey,
				 struct dibs_rdma_window_resp *resp)
{
	struct dibs_rdma_target t = {};
	struct dibs_rdma_peer peer = {};
	struct dibs_rdma_window *w;
	enum ib_wc_status st;
	int rc;

	w = dibs_rdma_window_alloc();
	if (!w)
		return -ENOMEM;
	mutex_lock(&qp->sq_lock);
	mutex_lock(&dibs_rdma_windows_lock);
	rc = -EINVAL;
	if (READ_ONCE(qp->state) != IB_QPS_RTS)
		goto out_unlock;
	/* only a device that lends has direct peers: ask no peer in another kernel */
	rc = -EOPNOTSUPP;
	if (!qp->ddev->lends)
		goto out_unlock;
	rc = -ENOSPC;
	if (qp->nr_windows >= DIBS_RDMA_MAX_WINDOWS)
		goto out_unlock;
	st = dibs_rdma_fabric_connect(qp, &peer);
	if (st == IB_WC_SUCCESS && !ring)
		st = dibs_rdma_fabric_window(&peer, rkey, &t);
	rc = dibs_rdma_wc_errno(st);
	if (st != IB_WC_SUCCESS)
		goto out_done;
	if (ring) {
		rc = peer.placed ? -EOPNOTSUPP :
		     dibs_rdma_window_attach_ring(w, qp, peer.ring_tok);
	} else {
		rc = -EACCES;
		if (!(t.access & (IB_ACCESS_REMOTE_READ | IB_ACCESS_REMOTE_ATOMIC)) ||
		    t.mr->windows_closed)
			goto out_done;
		rc = dibs_rdma_window_attach(w, qp, &t);
	}
	if (rc)
		goto out_done;
	w->mr = t.mr;
	w->peer_dev = peer.dev;
	w->peer_qpn = peer.qpn;
	rc = dibs_rdma_window_add(w, qp, uctx, resp);
	if (rc) {
		dibs_detach_dmb(qp->ddev->dibs, w->dmb.dmb_tok);
		goto out_done;
	}
	/* the provider writes the peer's ring too: find its tail each time */
	qp->ring_shared |= ring;
	w = NULL;	/* the registry's now */
out_done:
	dibs_rdma_fabric_target_done(&t);
	dibs_rdma_fabric_disconnect(&peer);
out_unlock:
	mutex_unlock(&dibs_rdma_windows_lock);
	mutex_unlock(&qp->sq_lock);
	if (w)
		dibs_rdma_window_free(w);
	return rc;
}

/* Open an own-ring window of @qp: its receive ring, for its process. */
static int dibs_rdma_window_open_own(struct dibs_rdma_qp *qp,
				     struct ib_ucontext *uctx,
				     struct dibs_rdma_window_resp *resp)
{
	struct dibs_rdma_window *w;
	enum ib_qp_state state;
	int rc;

	w = dibs_rdma_window_alloc();
	if (!w)
		return -ENOMEM;
	mutex_lock(&qp->rq_lock);
	mutex_lock(&dibs_rdma_windows_lock);
	state = READ_ONCE(qp->state);
	rc = -EINVAL;
	if (state != IB_QPS_RTR && state != IB_QPS_RTS)
		goto out_unlock;
	rc = -EOPNOTSUPP;
	if (!qp->ddev->lends)
		goto out_unlock;
	rc = -ENOSPC;
	if (qp->nr_windows >= DIBS_RDMA_MAX_WINDOWS)
		goto out_unlock;
	rc = dibs_rdma_window_own_ring(w, qp);
	if (!rc)
		rc = dibs_rdma_window_add(w, qp, uctx, resp);
	if (!rc)
		w = NULL;	/* the registry's now */
out_unlock:
	mutex_unlock(&dibs_rdma_windows_lock);
	mutex_unlock(&qp->rq_lock);
	if (w)
		dibs_rdma_window_free(w);
	return rc;
}

static void dibs_rdma_window_vm_open(struct vm_area_struct *vma)
{
	struct dibs_rdma_window *w = vma->vm_private_data;

	kref_get(&w->ref);
}

static void dibs_rdma_window_vm_close(struct vm_area_struct *vma)
{
	struct dibs_rdma_window *w = vma->vm_private_data;

	kref_put(&w->ref, dibs_rdma_window_release);
}

static vm_fault_t dibs_rdma_window_fault(struct vm_fault *vmf)
{
	struct dibs_rdma_window *w = vmf->vma->vm_private_data;
	u64 idx = vmf->pgoff - w->pgoff;
	struct page *page;
	vm_fault_t ret;

	if (idx == DIBS_RDMA_WINDOW_STATE)
		return vmf_insert_pfn(vmf->vma, vmf->address,
				      PHYS_PFN(virt_to_phys(w->state)));
	if (idx >= w->npages)
		return VM_FAULT_SIGBUS;
	mutex_lock(&w->lock);
	if (!w->valid)
		page = w->sink;
	else if (w->vmapped)
		page = vmalloc_to_page(w->base + (idx << PAGE_SHIFT));
	else
		page = virt_to_page(w->base + (idx << PAGE_SHIFT));
	ret = vmf_insert_pfn(vmf->vma, vmf->address, page_to_pfn(page));
	mutex_unlock(&w->lock);
	return ret;
}

static const struct vm_operations_struct dibs_rdma_window_vm_ops = {
	.open = dibs_rdma_window_vm_open,
	.close = dibs_rdma_window_vm_close,
	.fault = dibs_rdma_window_fault,
};

bool dibs_rdma_is_window_mmap(const struct vm_area_struct *vma)
{
	return vma->vm_pgoff >= DIBS_RDMA_WINDOW_PGOFF;
}

/* Check a mapping of window data or state against @w. */
static int dibs_rdma_window_check_vma(const struct dibs_rdma_window *w,
				      struct vm_area_struct *vma)
{
	u64 idx = vma->vm_pgoff - w->pgoff;
	unsigned long n = vma_pages(vma);
	bool writable = w->access & (IB_ACCESS_REMOTE_WRITE |
				     IB_ACCESS_REMOTE_ATOMIC);

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (idx == DIBS_RDMA_WINDOW_STATE)
		return n != 1 ? -EINVAL : vma->vm_flags & VM_WRITE ? -EACCES : 0;
	if (!w->valid || idx >= w->npages || n > w->npages - idx)
		return -EINVAL;
	return (vma->vm_flags & VM_WRITE) && !writable ? -EACCES : 0;
}

int dibs_rdma_window_mmap(struct ib_ucontext *ibuc, struct vm_area_struct *vma)
{
	u64 id = (vma->vm_pgoff - DIBS_RDMA_WINDOW_PGOFF) >> DIBS_RDMA_WINDOW_SHIFT;
	struct dibs_rdma_window *w;
	int rc;

	if (id == 0 || id > DIBS_RDMA_WINDOW_MAX_ID)
		return -EINVAL;
	mutex_lock(&dibs_rdma_windows_lock);
	w = xa_load(&dibs_rdma_windows, id);
	rc = !w ? -EINVAL : w->uctx != ibuc ? -EACCES :
	     dibs_rdma_window_check_vma(w, vma);
	if (!rc && w->mapping && w->mapping != vma->vm_file->f_mapping)
		rc = -EINVAL;
	if (rc)
		goto out;
	w->mapping = vma->vm_file->f_mapping;
	if (vma->vm_pgoff - w->pgoff == DIBS_RDMA_WINDOW_STATE ||
	    !(w->access & (IB_ACCESS_REMOTE_WRITE | IB_ACCESS_REMOTE_ATOMIC)))
		vma->vm_flags &= ~VM_MAYWRITE;
	vma->vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP |
			 VM_DONTCOPY;
	vma->vm_private_data = w;
	vma->vm_ops = &dibs_rdma_window_vm_ops;
	kref_get(&w->ref);
out:
	mutex_unlock(&dibs_rdma_windows_lock);
	return rc;
}

enum dibs_rdma_window_kind {
	DIBS_RDMA_WINDOW_MR,
	DIBS_RDMA_WINDOW_RING,
	DIBS_RDMA_WINDOW_OWN_RING,
};

/* The methods: open a window of @ibqp, answer in attribute @resp_id. */
static int dibs_rdma_window_method(struct uverbs_attr_bundle *attrs,
				   struct ib_qp *ibqp,
				   enum dibs_rdma_window_kind kind, u32 rkey,
				   u16 resp_id)
{
	struct dibs_rdma_window_resp resp;
	struct ib_ucontext *uctx;
	int rc;

	uctx = ib_uverbs_get_ucontext(attrs);
	if (IS_ERR(uctx))
		return PTR_ERR(uctx);
	/* a UC QP may not READ: only its rings may be windows */
	if (ibqp->qp_type != IB_QPT_RC &&
	    (ibqp->qp_type != IB_QPT_UC || kind == DIBS_RDMA_WINDOW_MR))
		return -EINVAL;
	if (kind == DIBS_RDMA_WINDOW_OWN_RING)
		rc = dibs_rdma_window_open_own(to_dqp(ibqp), uctx, &resp);
	else
		rc = dibs_rdma_window_open(to_dqp(ibqp), uctx,
					   kind == DIBS_RDMA_WINDOW_RING, rkey,
					   &resp);
	if (rc)
		return rc;
	/* on failure the window stays until the QP is modified or destroyed */
	return uverbs_copy_to(attrs, resp_id, &resp, sizeof(resp));
}

static int UVERBS_HANDLER(DIBS_RDMA_METHOD_QP_OPEN_WINDOW)(struct uverbs_attr_bundle *attrs)
{
	struct ib_qp *ibqp = uverbs_attr_get_obj(attrs, DIBS_RDMA_ATTR_OPEN_WINDOW_QP);
	u32 rkey;
	int rc;

	rc = uverbs_copy_from(&rkey, attrs, DIBS_RDMA_ATTR_OPEN_WINDOW_RKEY);
	if (rc)
		return rc;
	return dibs_rdma_window_method(attrs, ibqp, DIBS_RDMA_WINDOW_MR, rkey,
				       DIBS_RDMA_ATTR_OPEN_WINDOW_RESP);
}

DECLARE_UVERBS_NAMED_METHOD(DIBS_RDMA_METHOD_QP_OPEN_WINDOW,
			    UVERBS_ATTR_IDR(DIBS_RDMA_ATTR_OPEN_WINDOW_QP,
					    UVERBS_OBJECT_QP, UVERBS_ACCESS_READ,
					    UA_MANDATORY),
			    UVERBS_ATTR_PTR_IN(DIBS_RDMA_ATTR_OPEN_WINDOW_RKEY,
					       UVERBS_ATTR_TYPE(u32),
					       UA_MANDATORY),
			    UVERBS_ATTR_PTR_OUT(DIBS_RDMA_ATTR_OPEN_WINDOW_RESP,
						UVERBS_ATTR_STRUCT(struct dibs_rdma_window_resp,
								   reserved),
						UA_MANDATORY));

static int UVERBS_HANDLER(DIBS_RDMA_METHOD_QP_OPEN_RING)(struct uverbs_attr_bundle *attrs)
{
	struct ib_qp *ibqp = uverbs_attr_get_obj(attrs, DIBS_RDMA_ATTR_OPEN_RING_QP);

	return dibs_rdma_window_method(attrs, ibqp, DIBS_RDMA_WINDOW_RING, 0,
				       DIBS_RDMA_ATTR_OPEN_RING_RESP);
}

DECLARE_UVERBS_NAMED_METHOD(DIBS_RDMA_METHOD_QP_OPEN_RING,
			    UVERBS_ATTR_IDR(DIBS_RDMA_ATTR_OPEN_RING_QP,
					    UVERBS_OBJECT_QP, UVERBS_ACCESS_READ,
					    UA_MANDATORY),
			    UVERBS_ATTR_PTR_OUT(DIBS_RDMA_ATTR_OPEN_RING_RESP,
						UVERBS_ATTR_STRUCT(struct dibs_rdma_window_resp,
								   reserved),
						UA_MANDATORY));

static int UVERBS_HANDLER(DIBS_RDMA_METHOD_QP_OPEN_OWN_RING)(struct uverbs_attr_bundle *attrs)
{
	struct ib_qp *ibqp = uverbs_attr_get_obj(attrs, DIBS_RDMA_ATTR_OPEN_RING_QP);

	return dibs_rdma_window_method(attrs, ibqp, DIBS_RDMA_WINDOW_OWN_RING, 0,
				       DIBS_RDMA_ATTR_OPEN_RING_RESP);
}

DECLARE_UVERBS_NAMED_METHOD(DIBS_RDMA_METHOD_QP_OPEN_OWN_RING,
			    UVERBS_ATTR_IDR(DIBS_RDMA_ATTR_OPEN_RING_QP,
					    UVERBS_OBJECT_QP, UVERBS_ACCESS_READ,
					    UA_MANDATORY),
			    UVERBS_ATTR_PTR_OUT(DIBS_RDMA_ATTR_OPEN_RING_RESP,
						UVERBS_ATTR_STRUCT(struct dibs_rdma_window_resp,
								   reserved),
						UA_MANDATORY));

ADD_UVERBS_METHODS(dibs_rdma_qp_methods, UVERBS_OBJECT_QP,
		   &UVERBS_METHOD(DIBS_RDMA_METHOD_QP_OPEN_WINDOW),
		   &UVERBS_METHOD(DIBS_RDMA_METHOD_QP_OPEN_RING),
		   &UVERBS_METHOD(DIBS_RDMA_METHOD_QP_OPEN_OWN_RING));

const struct uapi_definition dibs_rdma_uapi_defs[] = {
	UAPI_DEF_CHAIN_OBJ_TREE(UVERBS_OBJECT_QP, &dibs_rdma_qp_methods),
	{}
};
