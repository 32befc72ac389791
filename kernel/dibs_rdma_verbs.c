// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_rdma: device, port and protection domain verbs.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <rdma/ib_mad.h>

#include "dibs_rdma.h"

int dibs_rdma_query_device(struct ib_device *ibdev, struct ib_device_attr *attr,
			   struct ib_udata *udata)
{
	if (udata->inlen || udata->outlen)
		return -EINVAL;

	memset(attr, 0, sizeof(*attr));
	attr->vendor_id = DIBS_RDMA_VENDOR_ID;
	attr->hw_ver = DIBS_RDMA_ABI_VERSION;
	attr->sys_image_guid = ibdev->node_guid;
	/* what modify_qp honours (a checked cur_qp_state), and the GUID above */
	attr->device_cap_flags = IB_DEVICE_CURR_QP_STATE_MOD |
				 IB_DEVICE_SYS_IMAGE_GUID;
	attr->max_pd = DIBS_RDMA_MAX_PD;
	attr->max_qp = DIBS_RDMA_MAX_QP;
	attr->max_qp_wr = DIBS_RDMA_MAX_WR;
	attr->max_send_sge = DIBS_RDMA_MAX_SGE;
	attr->max_recv_sge = DIBS_RDMA_MAX_SGE;
	attr->max_sge_rd = DIBS_RDMA_MAX_SGE;
	attr->max_cq = DIBS_RDMA_MAX_CQ;
	attr->max_srq = DIBS_RDMA_MAX_SRQ;
	attr->max_srq_wr = DIBS_RDMA_MAX_WR;
	attr->max_srq_sge = DIBS_RDMA_MAX_SGE;
	attr->max_cqe = DIBS_RDMA_MAX_CQE;
	attr->max_mr = DIBS_RDMA_MAX_MR;
	/* a remotely accessible MR is one DMB (a lent DMB on loopback) */
	attr->max_mr_size = DIBS_RDMA_MAX_MR_SIZE;
	attr->page_size_cap = PAGE_SIZE;
	attr->max_qp_rd_atom = DIBS_RDMA_MAX_RD_ATOM;
	attr->max_qp_init_rd_atom = DIBS_RDMA_MAX_RD_ATOM;
	attr->max_res_rd_atom = DIBS_RDMA_MAX_RD_ATOM * DIBS_RDMA_MAX_QP;
	/* atomics are CPU atomics on the target memory */
	attr->atomic_cap = IB_ATOMIC_GLOB;
	attr->max_pkeys = 1;
	return 0;
}

int dibs_rdma_query_port(struct ib_device *ibdev, u32 port,
			 struct ib_port_attr *attr)
{
	struct dibs_rdma_dev *ddev = to_ddev(ibdev);

	/* the core zeroes *attr */
	attr->state = IB_PORT_ACTIVE;
	attr->phys_state = IB_PORT_PHYS_STATE_LINK_UP;
	attr->max_mtu = IB_MTU_4096;
	attr->active_mtu = IB_MTU_4096;
	attr->gid_tbl_len = 1;
	attr->pkey_tbl_len = 1;
	attr->lid = ddev->lid;
	attr->sm_lid = 0;
	attr->lmc = 0;
	attr->max_vl_num = 1;
	attr->max_msg_sz = DIBS_RDMA_MAX_MSG;
	attr->active_width = IB_WIDTH_1X;
	attr->active_speed = IB_SPEED_EDR;
	return 0;
}

int dibs_rdma_get_port_immutable(struct ib_device *ibdev, u32 port,
				 struct ib_port_immutable *immutable)
{
	struct ib_port_attr attr = {};
	int rc;

	rc = ib_query_port(ibdev, port, &attr);
	if (rc)
		return rc;
	immutable->pkey_tbl_len = attr.pkey_tbl_len;
	immutable->gid_tbl_len = attr.gid_tbl_len;
	/* IB transport without MADs: no SMI/GSI QPs, no subnet manager */
	immutable->core_cap_flags = RDMA_CORE_PORT_IBA_IB;
	immutable->max_mad_size = 0;
	return 0;
}

enum rdma_link_layer dibs_rdma_get_link_layer(struct ib_device *ibdev, u32 port)
{
	return IB_LINK_LAYER_INFINIBAND;
}

int dibs_rdma_query_gid(struct ib_device *ibdev, u32 port, int index,
			union ib_gid *gid)
{
	struct dibs_rdma_dev *ddev = to_ddev(ibdev);

	if (index != 0)
		return -EINVAL;
	*gid = ddev->gid;
	return 0;
}

int dibs_rdma_query_pkey(struct ib_device *ibdev, u32 port, u16 index, u16 *pkey)
{
	if (index != 0)
		return -EINVAL;
	*pkey = IB_DEFAULT_PKEY_FULL;
	return 0;
}

int dibs_rdma_alloc_ucontext(struct ib_ucontext *ibuc, struct ib_udata *udata)
{
	return 0;
}

void dibs_rdma_dealloc_ucontext(struct ib_ucontext *ibuc)
{
}

/*
 * The device goes away while a process still has it open. Its mapped CQ
 * rings are plain memory that stays valid until unmapped (the pages are
 * referenced by the mapping), so there is nothing to revoke here; its
 * windows are revoked when ib_uverbs destroys the QPs and MRs. Having this op
 * lets ib_uverbs disassociate the context (the process gets
 * IBV_EVENT_DEVICE_FATAL) instead of blocking the removal until it exits.
 */
void dibs_rdma_disassociate_ucontext(struct ib_ucontext *ibuc)
{
}

int dibs_rdma_mmap(struct ib_ucontext *ibuc, struct vm_area_struct *vma)
{
	struct rdma_user_mmap_entry *rdma;
	int rc;

	if (dibs_rdma_is_window_mmap(vma))
		return dibs_rdma_window_mmap(ibuc, vma);
	rdma = rdma_user_mmap_entry_get(ibuc, vma);
	if (!rdma)
		return -EINVAL;
	rc = remap_vmalloc_range(vma, container_of(rdma, struct dibs_rdma_mmap_entry,
						   rdma)->vaddr, 0);
	rdma_user_mmap_entry_put(rdma);
	return rc;
}

/*
 * @len bytes of zeroed memory (page aligned) that the process of @udata may
 * map at the offset of the returned entry. The entry owns the memory: after
 * rdma_user_mmap_entry_remove(), dibs_rdma_mmap_free() frees it once the
 * last mapping is gone. ERR_PTR on failure.
 */
struct dibs_rdma_mmap_entry *dibs_rdma_mmap_alloc(struct ib_udata *udata,
						  size_t len)
{
	struct dibs_rdma_ucontext *uctx =
		rdma_udata_to_drv_context(udata, struct dibs_rdma_ucontext, ibuc);
	struct dibs_rdma_mmap_entry *e;
	int rc;

	e = kzalloc(sizeof(*e), GFP_KERNEL);
	if (!e)
		return ERR_PTR(-ENOMEM);
	e->vaddr = vmalloc_user(len);
	if (!e->vaddr) {
		rc = -ENOMEM;
		goto err_free_entry;
	}
	rc = rdma_user_mmap_entry_insert(&uctx->ibuc, &e->rdma, len);
	if (rc)
		goto err_free_mem;
	return e;

err_free_mem:
	vfree(e->vaddr);
err_free_entry:
	kfree(e);
	return ERR_PTR(rc);
}

void dibs_rdma_mmap_free(struct rdma_user_mmap_entry *rdma)
{
	struct dibs_rdma_mmap_entry *e =
		container_of(rdma, struct dibs_rdma_mmap_entry, rdma);

	vfree(e->vaddr);
	kfree(e);
}

int dibs_rdma_alloc_pd(struct ib_pd *ibpd, struct ib_udata *udata)
{
	struct dibs_rdma_dev *ddev = to_ddev(ibpd->device);

	if (atomic_inc_return(&ddev->nr_pds) > DIBS_RDMA_MAX_PD) {
		atomic_dec(&ddev->nr_pds);
		return -ENOMEM;
	}
	return 0;
}

int dibs_rdma_dealloc_pd(struct ib_pd *ibpd, struct ib_udata *udata)
{
	atomic_dec(&to_ddev(ibpd->device)->nr_pds);
	return 0;
}
