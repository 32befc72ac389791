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

#include <linux/idr.h>
#include <linux/module.h>

#include "dibs_rdma.h"

MODULE_DESCRIPTION("RDMA verbs over dibs devices");
MODULE_LICENSE("GPL");

/* LIDs of all dibs_rdma devices (see "LID and GID scheme" in dibs_rdma.h) */
static DEFINE_IDA(dibs_rdma_lids);

static struct dibs_client dibs_rdma_client;

static const struct ib_device_ops dibs_rdma_dev_ops = {
	.owner = THIS_MODULE,
	.driver_id = RDMA_DRIVER_UNKNOWN,
	.uverbs_abi_ver = DIBS_RDMA_ABI_VERSION,

	.alloc_pd = dibs_rdma_alloc_pd,
	.alloc_ucontext = dibs_rdma_alloc_ucontext,
	.dealloc_pd = dibs_rdma_dealloc_pd,
	.dealloc_ucontext = dibs_rdma_dealloc_ucontext,
	.disassociate_ucontext = dibs_rdma_disassociate_ucontext,
	.get_link_layer = dibs_rdma_get_link_layer,
	.get_port_immutable = dibs_rdma_get_port_immutable,
	.query_device = dibs_rdma_query_device,
	.query_gid = dibs_rdma_query_gid,
	.query_pkey = dibs_rdma_query_pkey,
	.query_port = dibs_rdma_query_port,

	INIT_RDMA_OBJ_SIZE(ib_pd, dibs_rdma_pd, ibpd),
	INIT_RDMA_OBJ_SIZE(ib_ucontext, dibs_rdma_ucontext, ibuc),
};

static void dibs_rdma_add_dev(struct dibs_dev *dibs)
{
	struct dibs_rdma_dev *ddev;
	struct ib_device *ibdev;
	int lid, rc;

	ddev = ib_alloc_device(dibs_rdma_dev, ibdev);
	if (!ddev) {
		dev_err(&dibs->dev, "dibs_rdma: cannot allocate ib_device\n");
		return;
	}
	lid = ida_alloc_range(&dibs_rdma_lids, DIBS_RDMA_LID_MIN,
			      DIBS_RDMA_LID_MAX, GFP_KERNEL);
	if (lid < 0) {
		rc = lid;
		goto err_dealloc;
	}
	ddev->lid = lid;
	ddev->dibs = dibs;
	atomic_set(&ddev->nr_pds, 0);

	ibdev = &ddev->ibdev;
	ibdev->node_type = RDMA_NODE_IB_CA;
	ibdev->phys_port_cnt = 1;
	ibdev->num_comp_vectors = 1;
	/* the GID's interface id doubles as the node GUID */
	memcpy(&ibdev->node_guid, dibs->gid.b + 8, sizeof(ibdev->node_guid));
	strscpy(ibdev->node_desc, "dibs_rdma", sizeof(ibdev->node_desc));
	ibdev->uverbs_cmd_mask |= BIT_ULL(IB_USER_VERBS_CMD_GET_CONTEXT) |
				  BIT_ULL(IB_USER_VERBS_CMD_QUERY_DEVICE) |
				  BIT_ULL(IB_USER_VERBS_CMD_QUERY_PORT) |
				  BIT_ULL(IB_USER_VERBS_CMD_ALLOC_PD) |
				  BIT_ULL(IB_USER_VERBS_CMD_DEALLOC_PD);
	ib_set_device_ops(ibdev, &dibs_rdma_dev_ops);

	rc = ib_register_device(ibdev, dev_name(&dibs->dev), NULL);
	if (rc)
		goto err_lid;
	dibs_set_priv(dibs, &dibs_rdma_client, ddev);
	return;

err_lid:
	ida_free(&dibs_rdma_lids, ddev->lid);
err_dealloc:
	ib_dealloc_device(&ddev->ibdev);
	dev_err(&dibs->dev, "dibs_rdma: cannot register ib_device: %d\n", rc);
}

static void dibs_rdma_del_dev(struct dibs_dev *dibs)
{
	struct dibs_rdma_dev *ddev = dibs_get_priv(dibs, &dibs_rdma_client);
	u16 lid;

	if (!ddev)
		return;
	lid = ddev->lid;
	/* disassociates open user contexts: they see IBV_EVENT_DEVICE_FATAL */
	ib_unregister_device(&ddev->ibdev);
	ib_dealloc_device(&ddev->ibdev);
	ida_free(&dibs_rdma_lids, lid);
	dibs_set_priv(dibs, &dibs_rdma_client, NULL);
}

static const struct dibs_client_ops dibs_rdma_client_ops = {
	.add_dev = dibs_rdma_add_dev,
	.del_dev = dibs_rdma_del_dev,
};

static struct dibs_client dibs_rdma_client = {
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
	ida_destroy(&dibs_rdma_lids);
}

module_init(dibs_rdma_init);
module_exit(dibs_rdma_exit);
