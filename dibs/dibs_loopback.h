/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dibs loopback: software dibs devices whose DMB writes are memcpy()s
 * within this kernel.
 */
#ifndef _DIBS_LOOPBACK_H
#define _DIBS_LOOPBACK_H

#include <linux/dibs.h>
#include <linux/hashtable.h>
#include <linux/refcount.h>
#include <linux/types.h>

#define DIBS_LO_DMBS_HASH_BITS	12
#define DIBS_LO_MAX_DMBS	5000
/* largest DMB the device allocates: physically contiguous, as SMC needs */
#define DIBS_LO_MAX_DMB_LEN	(4U << 20)
/* largest DMB in memory lent by the client */
#define DIBS_LO_MAX_LENT_LEN	BIT(31)
/* loopback devices dibs_lo0 .. dibs_lo<DIBS_LO_MAX_DEVS - 1> */
#define DIBS_LO_MAX_DEVS	64
#define DIBS_LO_VLANS		4096

/*
 * A registered DMB. Lives in the global token hash while registered; each
 * attachment and each in-flight move_data holds a reference, and the last
 * reference frees the buffer, so a DMB unregistered while attached stays
 * mapped until detached.
 */
struct dibs_lo_dmb_node {
	struct hlist_node list;
	u64 token;
	u32 len;
	u32 sba_idx;
	void *cpu_addr;
	dma_addr_t dma_addr;
	/* only this remote device may write; null = any device on the fabric */
	uuid_t rgid;
	/* the owning device, referenced (get_device) while the node lives */
	struct dibs_dev *owner;
	/* cpu_addr is the client's memory: unregister waits for other refs */
	bool lent;
	refcount_t refcnt;
};

/* One attach_dmb() of a device: a reference on the attached node. */
struct dibs_lo_attach {
	struct list_head list;
	struct dibs_lo_dmb_node *node;
};

struct dibs_lo_dev {
	struct dibs_dev *dibs;
	/* on dibs_lo_devs, guarded by dibs_lo_lock */
	struct list_head list;
	unsigned int id;
	u16 fabric_id;
	/* DMB indices in use (atomic bitops) */
	DECLARE_BITMAP(sba_idx_mask, DIBS_LO_MAX_DMBS);
	/* VLANs this device belongs to (atomic bitops) */
	DECLARE_BITMAP(vlans, DIBS_LO_VLANS);
	/* struct dibs_lo_attach of this device, guarded by dibs_lo_lock */
	struct list_head attached;
};

struct dibs_dev *dibs_loopback_create(unsigned int id, u16 fabric_id);
int dibs_loopback_destroy(struct dibs_dev *dibs);

#endif /* _DIBS_LOOPBACK_H */
