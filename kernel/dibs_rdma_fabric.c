// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_rdma: the fabric inside one kernel (see dibs_rdma_fabric.h): the LID
 * directory, and requests delivered as direct calls into the destination
 * device's responder.
 */
#include <linux/xarray.h>

#include "dibs_rdma.h"

/*
 * All dibs_rdma devices of this kernel by LID. Lookups take an ib_device
 * reference under the xarray lock; unregistering a device waits for those
 * references.
 */
static DEFINE_XARRAY_ALLOC(dibs_rdma_lids);

int dibs_rdma_fabric_add_dev(struct dibs_rdma_dev *ddev)
{
	u32 lid;
	int rc;

	/* not found by lookups until registered: ib_device_try_get() fails */
	rc = xa_alloc(&dibs_rdma_lids, &lid, ddev,
		      XA_LIMIT(DIBS_RDMA_LID_MIN, DIBS_RDMA_LID_MAX), GFP_KERNEL);
	if (rc)
		return rc;
	ddev->lid = lid;
	return 0;
}

void dibs_rdma_fabric_del_dev(struct dibs_rdma_dev *ddev)
{
	/* no new lookups; unregistering the ib_device waits for those in progress */
	xa_erase(&dibs_rdma_lids, ddev->lid);
}

static struct dibs_rdma_dev *dibs_rdma_dev_by_lid(u16 lid)
{
	struct dibs_rdma_dev *ddev;

	xa_lock(&dibs_rdma_lids);
	ddev = xa_load(&dibs_rdma_lids, lid);
	if (ddev && !ib_device_try_get(&ddev->ibdev))
		ddev = NULL;
	xa_unlock(&dibs_rdma_lids);
	return ddev;
}

static struct dibs_rdma_dev *dibs_rdma_dev_by_gid(const union ib_gid *gid)
{
	struct dibs_rdma_dev *ddev, *found = NULL;
	unsigned long lid;

	xa_lock(&dibs_rdma_lids);
	xa_for_each(&dibs_rdma_lids, lid, ddev) {
		if (!memcmp(ddev->dibs->gid.b, gid->raw, sizeof(gid->raw)) &&
		    ib_device_try_get(&ddev->ibdev)) {
			found = ddev;
			break;
		}
	}
	xa_unlock(&dibs_rdma_lids);
	return found;
}

enum ib_wc_status dibs_rdma_fabric_connect(struct dibs_rdma_qp *qp,
					   struct dibs_rdma_peer *peer)
{
	const struct dibs_rdma_conn_req req = {
		.gid = qp->ddev->dibs->gid.b,
		.lid = qp->ddev->lid,
		.qpn = qp->ibqp.qp_num,
	};
	enum ib_wc_status st;

	peer->dev = qp->has_grh ? dibs_rdma_dev_by_gid(&qp->dgid) :
				  dibs_rdma_dev_by_lid(qp->dlid);
	if (!peer->dev)
		return IB_WC_RETRY_EXC_ERR;
	peer->qpn = qp->dest_qpn;
	if (dibs_query_remote_gid(qp->ddev->dibs, &peer->dev->dibs->gid, 0, 0))
		st = IB_WC_RETRY_EXC_ERR;
	else
		st = dibs_rdma_resp_connect(peer->dev, peer->qpn, &req,
					    &peer->ring_tok);
	if (st != IB_WC_SUCCESS)
		dibs_rdma_fabric_disconnect(peer);
	return st;
}

void dibs_rdma_fabric_disconnect(struct dibs_rdma_peer *peer)
{
	if (peer->dev)
		ib_device_put(&peer->dev->ibdev);
	peer->dev = NULL;
}

enum ib_wc_status dibs_rdma_fabric_target(struct dibs_rdma_peer *peer, u32 rkey,
					  u64 raddr, u64 len, int access,
					  struct dibs_rdma_target *t)
{
	return dibs_rdma_resp_check_rkey(peer->dev, peer->qpn, rkey, raddr, len,
					 access, t);
}

void dibs_rdma_fabric_target_done(struct dibs_rdma_target *t)
{
	if (t->mr)
		dibs_rdma_mr_put(t->mr);
	t->mr = NULL;
}
