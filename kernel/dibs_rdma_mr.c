// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_rdma: memory regions.
 *
 * The user's pages are pinned (ib_umem) and mapped contiguously into the
 * kernel (vmap), so both local access and dibs move_data() go straight to
 * them: no copy. On a device that lends (dibs_rdma_fabric.h), a region with
 * any remote access right is also registered as a DMB in that memory; a
 * direct peer addresses it by its DMB token, which the owner's responder
 * finds by the 32-bit rkey (dibs_rdma_resp.c). Elsewhere the owner's
 * responder places a placed peer's data itself.
 */
#include <linux/vmalloc.h>
#include <linux/xarray.h>

#include "dibs_rdma.h"

#define DIBS_RDMA_REMOTE_ACCESS	(IB_ACCESS_REMOTE_WRITE | IB_ACCESS_REMOTE_READ | \
				 IB_ACCESS_REMOTE_ATOMIC)

/*
 * Every MR of every dibs_rdma device by key (lkey == rkey): keys are unique
 * in this kernel, so a key of another device never names a local MR.
 * Lookups take a reference under the xarray lock; only dibs_rdma_mr_check()
 * looks up.
 */
static DEFINE_XARRAY_ALLOC1(dibs_rdma_mrs);
static u32 dibs_rdma_mr_next;

static struct dibs_rdma_mr *dibs_rdma_mr_get(u32 key)
{
	struct dibs_rdma_mr *mr;

	xa_lock(&dibs_rdma_mrs);
	mr = xa_load(&dibs_rdma_mrs, key);
	if (mr && !refcount_inc_not_zero(&mr->ref))
		mr = NULL;
	xa_unlock(&dibs_rdma_mrs);
	return mr;
}

void dibs_rdma_mr_put(struct dibs_rdma_mr *mr)
{
	if (refcount_dec_and_test(&mr->ref))
		complete(&mr->released);
}

/* Is [addr, addr + len) inside @mr? */
static bool dibs_rdma_mr_covers(const struct dibs_rdma_mr *mr, u64 addr, u64 len)
{
	return addr >= mr->iova && len <= mr->length &&
	       addr - mr->iova <= mr->length - len;
}

/**
 * dibs_rdma_mr_check() - find an MR and check it for one access
 * @ddev: the device the MR must be registered on
 * @pd: the protection domain it must belong to
 * @key: its lkey or rkey
 * @access: the IB_ACCESS_* rights the access needs; 0 for a local read
 * @addr: start of the range accessed
 * @len: length of the range accessed
 *
 * The one check of every path that touches MR memory: local SGEs of the
 * requester and the responder, and the responder's rkey check.
 *
 * Return: the MR, referenced (release with dibs_rdma_mr_put()), or NULL if
 * there is no such MR or the access is not allowed.
 */
struct dibs_rdma_mr *dibs_rdma_mr_check(struct dibs_rdma_dev *ddev,
					struct ib_pd *pd, u32 key, int access,
					u64 addr, u64 len)
{
	struct dibs_rdma_mr *mr = dibs_rdma_mr_lookup(ddev, pd, key);

	if (!mr)
		return NULL;
	if ((mr->access & access) != access ||
	    !dibs_rdma_mr_covers(mr, addr, len)) {
		dibs_rdma_mr_put(mr);
		return NULL;
	}
	return mr;
}

/**
 * dibs_rdma_mr_lookup() - find an MR of @ddev in @pd by key
 * @ddev: the device the MR must be registered on
 * @pd: the protection domain it must belong to
 * @key: its lkey or rkey
 *
 * Return: the MR, referenced (release with dibs_rdma_mr_put()), or NULL.
 */
struct dibs_rdma_mr *dibs_rdma_mr_lookup(struct dibs_rdma_dev *ddev,
					 struct ib_pd *pd, u32 key)
{
	struct dibs_rdma_mr *mr = dibs_rdma_mr_get(key);

	if (!mr)
		return NULL;
	if (mr->ddev != ddev || mr->ibmr.pd != pd) {
		dibs_rdma_mr_put(mr);
		return NULL;
	}
	return mr;
}

/* Map the pinned pages of @umem contiguously; returns the address of byte 0. */
static void *dibs_rdma_umem_vmap(struct ib_umem *umem)
{
	struct sg_page_iter piter;
	struct page **pages;
	unsigned long n = 0, npages;
	void *vaddr;

	npages = ib_umem_num_pages(umem);
	pages = kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return NULL;
	for_each_sgtable_page(&umem->sgt_append.sgt, &piter, 0) {
		if (n == npages)
			break;
		pages[n++] = sg_page_iter_page(&piter);
	}
	vaddr = n == npages ? vmap(pages, npages, VM_MAP, PAGE_KERNEL) : NULL;
	kvfree(pages);
	return vaddr ? vaddr + ib_umem_offset(umem) : NULL;
}

static void dibs_rdma_mr_free(struct dibs_rdma_mr *mr)
{
	if (mr->vaddr)
		vunmap((void *)((unsigned long)mr->vaddr & PAGE_MASK));
	ib_umem_release(mr->umem);
	kfree(mr);
}

struct ib_mr *dibs_rdma_reg_user_mr(struct ib_pd *pd, u64 start, u64 length,
				    u64 iova, int access, struct ib_udata *udata)
{
	struct dibs_rdma_dev *ddev = to_ddev(pd->device);
	struct dibs_rdma_mr *mr;
	u32 key;
	int rc;

	if (!length || ((access & DIBS_RDMA_REMOTE_ACCESS) &&
			length > DIBS_RDMA_MAX_MR_SIZE))
		return ERR_PTR(-EINVAL);
	/* optional flags (relaxed ordering) are hints a driver may ignore */
	if (access & ~(IB_ACCESS_LOCAL_WRITE | DIBS_RDMA_REMOTE_ACCESS |
		       IB_ACCESS_OPTIONAL))
		return ERR_PTR(-EOPNOTSUPP);

	mr = kzalloc(sizeof(*mr), GFP_KERNEL);
	if (!mr)
		return ERR_PTR(-ENOMEM);
	mr->ddev = ddev;
	mr->iova = iova;
	mr->length = length;
	mr->access = access;
	refcount_set(&mr->ref, 1);
	init_completion(&mr->released);

	mr->umem = ib_umem_get(pd->device, start, length, access);
	if (IS_ERR(mr->umem)) {
		rc = PTR_ERR(mr->umem);
		kfree(mr);
		return ERR_PTR(rc);
	}
	mr->vaddr = dibs_rdma_umem_vmap(mr->umem);
	if (!mr->vaddr) {
		rc = -ENOMEM;
		goto err_free;
	}
	if ((access & DIBS_RDMA_REMOTE_ACCESS) && ddev->lends) {
		mr->dmb.cpu_addr = mr->vaddr;
		mr->dmb.dmb_len = length;
		rc = dibs_register_dmb(ddev->dibs, &mr->dmb, &dibs_rdma_client);
		if (rc)
			goto err_free;
		mr->has_dmb = true;
	}
	rc = xa_alloc_cyclic(&dibs_rdma_mrs, &key, mr, XA_LIMIT(1, U32_MAX),
			     &dibs_rdma_mr_next, GFP_KERNEL);
	if (rc < 0)
		goto err_dmb;
	mr->ibmr.lkey = key;
	mr->ibmr.rkey = key;
	mr->ibmr.length = length;
	mr->ibmr.iova = iova;
	return &mr->ibmr;

err_dmb:
	if (mr->has_dmb)
		dibs_unregister_dmb(ddev->dibs, &mr->dmb);
err_free:
	dibs_rdma_mr_free(mr);
	return ERR_PTR(rc == -ENOSPC ? -ENOMEM : rc);
}

/*
 * rereg_mr is a new MR that replaces @ibmr: ib_core destroys the old one
 * (dibs_rdma_dereg_mr(), which revokes its windows) once this returned it,
 * and keeps the old one, unchanged, if this fails. So an access that found
 * the old MR sees the old translation and rights to the end, and the new
 * keys are only ever checked against the new ones. What @flags does not
 * change is taken from the old MR; an unchanged translation pins the pages
 * that back the old MR's addresses now.
 */
struct ib_mr *dibs_rdma_rereg_user_mr(struct ib_mr *ibmr, int flags, u64 start,
				      u64 length, u64 iova, int access,
				      struct ib_pd *pd, struct ib_udata *udata)
{
	struct dibs_rdma_mr *old = to_dmr(ibmr);

	if (!(flags & IB_MR_REREG_TRANS)) {
		start = old->umem->address;
		length = old->length;
		iova = old->iova;
	}
	if (!(flags & IB_MR_REREG_ACCESS))
		access = old->access;
	return dibs_rdma_reg_user_mr(pd, start, length, iova, access, udata);
}

int dibs_rdma_dereg_mr(struct ib_mr *ibmr, struct ib_udata *udata)
{
	struct dibs_rdma_mr *mr = to_dmr(ibmr);

	/* no new users; no window onto it; wait for operations that found it before */
	xa_erase(&dibs_rdma_mrs, ibmr->lkey);
	dibs_rdma_window_revoke_mr(mr);
	dibs_rdma_mr_put(mr);
	wait_for_completion(&mr->released);
	/* waits until the dibs device no longer touches the memory */
	if (mr->has_dmb)
		dibs_unregister_dmb(mr->ddev->dibs, &mr->dmb);
	dibs_rdma_mr_free(mr);
	return 0;
}
