// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_rdma - RDMA verbs over dibs devices
 *
 * A dibs client that registers one ib_device, named like its dibs device,
 * with the kernel RDMA core for every dibs device, and unregisters it when
 * the dibs device goes away. User space reaches it through ib_uverbs and
 * the rdma-core provider in providers/dibs.
 */
#define pr_fmt(fmt) "dibs_rdma: " fmt

#include <linux/module.h>

#include "dibs_rdma.h"

MODULE_DESCRIPTION("RDMA verbs over dibs devices");
MODULE_LICENSE("GPL");

static const struct ib_device_ops dibs_rdma_dev_ops = {
	.owner = THIS_MODULE,
	.driver_id = RDMA_DRIVER_UNKNOWN,
	.uverbs_abi_ver = DIBS_RDMA_ABI_VERSION,

	.alloc_pd = dibs_rdma_alloc_pd,
	.alloc_ucontext = dibs_rdma_alloc_ucontext,
	.create_cq = dibs_rdma_create_cq,
	.create_qp = dibs_rdma_create_qp,
	.create_srq = dibs_rdma_create_srq,
	.dealloc_pd = dibs_rdma_dealloc_pd,
	.dealloc_ucontext = dibs_rdma_dealloc_ucontext,
	.dereg_mr = dibs_rdma_dereg_mr,
	.destroy_cq = dibs_rdma_destroy_cq,
	.destroy_qp = dibs_rdma_destroy_qp,
	.destroy_srq = dibs_rdma_destroy_srq,
	.disassociate_ucontext = dibs_rdma_disassociate_ucontext,
	.get_link_layer = dibs_rdma_get_link_layer,
	.get_port_immutable = dibs_rdma_get_port_immutable,
	.mmap = dibs_rdma_mmap,
	.mmap_free = dibs_rdma_mmap_free,
	.modify_qp = dibs_rdma_modify_qp,
	.modify_srq = dibs_rdma_modify_srq,
	.poll_cq = dibs_rdma_poll_cq,
	.post_recv = dibs_rdma_post_recv,
	.post_send = dibs_rdma_post_send,
	.post_srq_recv = dibs_rdma_post_srq_recv,
	.query_device = dibs_rdma_query_device,
	.query_gid = dibs_rdma_query_gid,
	.query_pkey = dibs_rdma_query_pkey,
	.query_port = dibs_rdma_query_port,
	.query_qp = dibs_rdma_query_qp,
	.query_srq = dibs_rdma_query_srq,
	.reg_user_mr = dibs_rdma_reg_user_mr,
	.req_notify_cq = dibs_rdma_req_notify_cq,
	.rereg_user_mr = dibs_rdma_rereg_user_mr,
	.resize_cq = dibs_rdma_resize_cq,

	INIT_RDMA_OBJ_SIZE(ib_cq, dibs_rdma_cq, ibcq),
	INIT_RDMA_OBJ_SIZE(ib_pd, dibs_rdma_pd, ibpd),
	INIT_RDMA_OBJ_SIZE(ib_qp, dibs_rdma_qp, ibqp),
	INIT_RDMA_OBJ_SIZE(ib_srq, dibs_rdma_srq, ibsrq),
	INIT_RDMA_OBJ_SIZE(ib_ucontext, dibs_rdma_ucontext, ibuc),
};

static void dibs_rdma_add_dev(struct dibs_dev *dibs)
{
	struct dibs_rdma_dev *ddev;
	struct ib_device *ibdev;
	int rc;

	ddev = ib_alloc_device(dibs_rdma_dev, ibdev);
	if (!ddev) {
		dev_err(&dibs->dev, "dibs_rdma: cannot allocate ib_device\n");
		return;
	}
	ddev->dibs = dibs;
	rc = dibs_rdma_fabric_add_dev(ddev);
	if (rc)
		goto err_dealloc;
	atomic_set(&ddev->nr_pds, 0);
	atomic_set(&ddev->nr_cqs, 0);
	xa_init_flags(&ddev->qps, XA_FLAGS_ALLOC);
	xa_init(&ddev->rings);

	ibdev = &ddev->ibdev;
	ibdev->node_type = RDMA_NODE_IB_CA;
	ibdev->phys_port_cnt = 1;
	ibdev->num_comp_vectors = 1;
	/* the GID's interface id doubles as the node GUID */
	memcpy(&ibdev->node_guid, ddev->gid.raw + 8, sizeof(ibdev->node_guid));
	strscpy(ibdev->node_desc, "dibs_rdma", sizeof(ibdev->node_desc));
	/* the core presets the mask for every command but these */
	ibdev->uverbs_cmd_mask |= BIT_ULL(IB_USER_VERBS_CMD_POLL_CQ) |
				  BIT_ULL(IB_USER_VERBS_CMD_POST_RECV) |
				  BIT_ULL(IB_USER_VERBS_CMD_POST_SEND) |
				  BIT_ULL(IB_USER_VERBS_CMD_POST_SRQ_RECV) |
				  BIT_ULL(IB_USER_VERBS_CMD_REQ_NOTIFY_CQ);
	ib_set_device_ops(ibdev, &dibs_rdma_dev_ops);
	/* the driver's own methods: direct windows (dibs_rdma_window.c) */
	ibdev->driver_def = dibs_rdma_uapi_defs;

	rc = ib_register_device(ibdev, dev_name(&dibs->dev), NULL);
	if (rc)
		goto err_lid;
	dibs_set_priv(dibs, &dibs_rdma_client, ddev);
	return;

err_lid:
	dibs_rdma_fabric_del_dev(ddev);
err_dealloc:
	ib_dealloc_device(&ddev->ibdev);
	dev_err(&dibs->dev, "dibs_rdma: cannot register ib_device: %d\n", rc);
}

static void dibs_rdma_del_dev(struct dibs_dev *dibs)
{
	struct dibs_rdma_dev *ddev = dibs_get_priv(dibs, &dibs_rdma_client);

	if (!ddev)
		return;
	/* no new lookups; unregistering waits for those in progress */
	dibs_rdma_fabric_del_dev(ddev);
	/* disassociates open user contexts: they see IBV_EVENT_DEVICE_FATAL */
	ib_unregister_device(&ddev->ibdev);
	ib_dealloc_device(&ddev->ibdev);
	dibs_set_priv(dibs, &dibs_rdma_client, NULL);
}

static void dibs_rdma_handle_event(struct dibs_dev *dibs,
				   const struct dibs_event *ev)
{
	struct dibs_rdma_dev *ddev = dibs_get_priv(dibs, &dibs_rdma_client);

	if (ddev)
		dibs_rdma_fabric_event(ddev, ev);
}

static const struct dibs_client_ops dibs_rdma_client_ops = {
	.add_dev = dibs_rdma_add_dev,
	.del_dev = dibs_rdma_del_dev,
	.handle_irq = dibs_rdma_ring_irq,
	.handle_event = dibs_rdma_handle_event,
};

struct dibs_client dibs_rdma_client = {
	.name = "dibs_rdma",
	.ops = &dibs_rdma_client_ops,
};

static int __init dibs_rdma_init(void)
{
	return dibs_register_client(&dibs_rdma_client);
}

static void __exit dibs_rdma_exit(void)
{
	dibs_unregister_client(&dibs_rdma_client);
}

module_init(dibs_rdma_init);
module_exit(dibs_rdma_exit);
