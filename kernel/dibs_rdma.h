/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dibs_rdma: one ib_device per dibs device.
 */
#ifndef _DIBS_RDMA_H
#define _DIBS_RDMA_H

#include <linux/dibs.h>
#include <rdma/ib_verbs.h>
#include <rdma/dibs-rdma-abi.h>

/* Limits the driver reports (and will enforce). */
#define DIBS_RDMA_MAX_PD	1024
#define DIBS_RDMA_VENDOR_ID	0xffffff	/* no IEEE OUI: a software device */

/*
 * LID and GID scheme
 * ------------------
 * GID index 0 of port 1 is the dibs device's GID: the 16 bytes of its uuid,
 * so a verbs peer GID names the dibs device directly. The LID is unique
 * among all dibs_rdma devices of this kernel (the extent of a loopback
 * fabric): allocated from 1 up in the unicast range, released when the
 * device goes away. There is no subnet manager; the port is ACTIVE as soon
 * as the device is registered.
 */
#define DIBS_RDMA_LID_MIN	1
#define DIBS_RDMA_LID_MAX	0xbfff

struct dibs_rdma_dev {
	struct ib_device ibdev;
	/* the dibs device; valid until del_dev() unregisters us */
	struct dibs_dev *dibs;
	u16 lid;
	/* protection domains allocated, at most DIBS_RDMA_MAX_PD */
	atomic_t nr_pds;
};

struct dibs_rdma_ucontext {
	struct ib_ucontext ibuc;
};

struct dibs_rdma_pd {
	struct ib_pd ibpd;
};

static inline struct dibs_rdma_dev *to_ddev(struct ib_device *ibdev)
{
	return container_of(ibdev, struct dibs_rdma_dev, ibdev);
}

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
int dibs_rdma_alloc_pd(struct ib_pd *ibpd, struct ib_udata *udata);
int dibs_rdma_dealloc_pd(struct ib_pd *ibpd, struct ib_udata *udata);

#endif /* _DIBS_RDMA_H */
