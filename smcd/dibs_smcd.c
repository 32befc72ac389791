// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_smcd - SMC-D over dibs devices, for the smc module of Linux 6.1
 *
 * A dibs client that registers every dibs device as an SMC-D device with
 * the kernel's own smc module (smcd_alloc_dev() / smcd_register_dev(), the
 * API that s390's ISM driver uses in 6.1), so AF_SMC sockets negotiate
 * SMC-D on it and move their data through DMBs. Upstream Linux made SMC-D
 * itself a dibs client in 6.18; this module is that glue for 6.1.
 *
 * GID scheme: SMC-D in 6.1 names devices by a u64 GID, dibs by a uuid. The
 * SMC-D GID is the uuid's first 8 bytes, big endian (as upstream's SMC-D
 * does with a dibs GID). Mapping back, a GID of a device this module knows
 * gives that device's uuid; any other GID gives a uuid of its 8 bytes and
 * zeros (ISM GIDs are 64-bit). Two local devices whose GIDs collide are
 * refused.
 *
 * CHID scheme: SMC-D v2 offers devices by (CHID, GID) and the server looks
 * for a device with the same CHID. The CHID is the dibs fabric id: devices
 * that can reach each other share it. smc skips a CHID of 0, so devices on
 * fabric 0 are not registered.
 *
 * EID scheme: SMC-D v2 needs an EID both ends share. On x86 smc matches
 * only user EIDs (SEID matching is s390-only), added with
 * "smcd ueid add NAME" (utils/smc). The system EID below only has to mark
 * the devices v2 capable (byte 24 or 28 not '0').
 *
 * Parent device: the smc netlink device dump reads the SMC-D device's
 * parent as a struct pci_dev (vendor, device, name). Each SMC-D device
 * therefore hangs below a pci_dev-shaped device that is not on the PCI bus,
 * named like the dibs device, so the dump reports the dibs device's name as
 * PCI id, and the PCI ids below as vendor and device. No PCI device can
 * have vendor 0xffff (a config read of an absent device returns it), so
 * these ids never collide with hardware: the device id tells a dibs device
 * on a fabric (DIBS) from a loopback device that reaches only itself
 * (DIBS-LO, fabric DIBS_LOOPBACK_FABRIC, as upstream's
 * smc_ism_is_loopback() decides it). smcd (utils/smc) shows them as the
 * types "DIBS" and "DIBS-LO", where smc-tools shows IBM's ISM (1014:04ed)
 * as "ISM"; keep utils/smc/smc_common.hpp in sync.
 */
#define pr_fmt(fmt) "dibs_smcd: " fmt

#include <linux/dibs.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <net/smc.h>

#include <asm/unaligned.h>

MODULE_DESCRIPTION("SMC-D over dibs devices");
MODULE_LICENSE("GPL");

/* PCI ids of the pci_dev-shaped parent (see the file comment) */
#define DIBS_SMCD_PCI_VENDOR		0xffff
#define DIBS_SMCD_PCI_DEVICE		0xd1b5
#define DIBS_SMCD_PCI_DEVICE_LO		0xd1b0

/* an EID is 32 characters (net/smc/smc_clc.h, not exported) */
#define DIBS_SMCD_EID_LEN	32
/* bytes 24 and 28 are not '0': SMC-D v2 capable */
static u8 dibs_smcd_seid[DIBS_SMCD_EID_LEN + 1] = "DIBS-SMCD-SEID-LINUX-X86-1.0-001";

struct dibs_smcd_dev {
	/* parent of the SMC-D device; owns this structure (see file comment) */
	struct pci_dev parent;
	struct dibs_dev *dibs;
	struct smcd_dev *smcd;
	/* SMC-D GID of @dibs */
	u64 gid;
	/* on dibs_smcd_devs */
	struct list_head list;
};

/*
 * All registered devices, for mapping a peer's SMC-D GID to its uuid.
 * Guarded by dibs_smcd_lock; smc calls the ops from softirq context too.
 */
static LIST_HEAD(dibs_smcd_devs);
static DEFINE_SPINLOCK(dibs_smcd_lock);

static struct dibs_client dibs_smcd_client;

static u64 dibs_smcd_gid(const uuid_t *uuid)
{
	return get_unaligned_be64(uuid->b);
}

static void dibs_smcd_uuid(u64 gid, uuid_t *uuid)
{
	struct dibs_smcd_dev *sd;
	unsigned long flags;

	spin_lock_irqsave(&dibs_smcd_lock, flags);
	list_for_each_entry(sd, &dibs_smcd_devs, list) {
		if (sd->gid == gid) {
			uuid_copy(uuid, &sd->dibs->gid);
			goto out;
		}
	}
	*uuid = uuid_null;
	put_unaligned_be64(gid, uuid->b);
out:
	spin_unlock_irqrestore(&dibs_smcd_lock, flags);
}

static struct dibs_dev *to_dibs(struct smcd_dev *smcd)
{
	return ((struct dibs_smcd_dev *)smcd->priv)->dibs;
}

/* SMC-D operations ---------------------------------------------------- */

static int dibs_smcd_query_rgid(struct smcd_dev *smcd, u64 rgid,
				u32 vid_valid, u32 vid)
{
	uuid_t uuid;

	/* SMC-D v2 asks with the reserved VLAN id for "on any VLAN" */
	if (vid_valid && vid == ISM_RESERVED_VLANID)
		vid_valid = 0;
	dibs_smcd_uuid(rgid, &uuid);
	return dibs_query_remote_gid(to_dibs(smcd), &uuid, vid_valid, vid);
}

static int dibs_smcd_register_dmb(struct smcd_dev *smcd, struct smcd_dmb *dmb)
{
	struct dibs_dmb ddmb = {
		.dmb_len = dmb->dmb_len,
		.idx = dmb->sba_idx,
		.vlan_valid = dmb->vlan_valid,
		.vlan_id = dmb->vlan_id,
	};
	int rc;

	dibs_smcd_uuid(dmb->rgid, &ddmb.rgid);
	rc = dibs_register_dmb(to_dibs(smcd), &ddmb, &dibs_smcd_client);
	if (rc)
		return rc;
	dmb->dmb_tok = ddmb.dmb_tok;
	dmb->sba_idx = ddmb.idx;
	dmb->cpu_addr = ddmb.cpu_addr;
	/*
	 * smc takes a DMB with dma_addr 0 for unregistered and would never
	 * unregister it; dibs devices without DMA report 0.
	 */
	dmb->dma_addr = ddmb.dma_addr ?: (dma_addr_t)virt_to_phys(ddmb.cpu_addr);
	return 0;
}

static int dibs_smcd_unregister_dmb(struct smcd_dev *smcd,
				    struct smcd_dmb *dmb)
{
	struct dibs_dmb ddmb = {
		.dmb_tok = dmb->dmb_tok,
		.cpu_addr = dmb->cpu_addr,
		.dmb_len = dmb->dmb_len,
		.idx = dmb->sba_idx,
		.dma_addr = dmb->dma_addr,
	};

	return dibs_unregister_dmb(to_dibs(smcd), &ddmb);
}

static int dibs_smcd_add_vlan_id(struct smcd_dev *smcd, u64 vlan_id)
{
	return dibs_add_vlan_id(to_dibs(smcd), vlan_id);
}

static int dibs_smcd_del_vlan_id(struct smcd_dev *smcd, u64 vlan_id)
{
	return dibs_del_vlan_id(to_dibs(smcd), vlan_id);
}

static int dibs_smcd_signal_event(struct smcd_dev *smcd, u64 rgid,
				  u32 trigger_irq, u32 event_code, u64 info)
{
	uuid_t uuid;

	/*
	 * Both ends of a same-device connection have this GID: the peer's
	 * SHUTDOWN would come back to this device and terminate every link
	 * group with peer GID == own GID, so events to self are dropped.
	 */
	if (rgid == smcd->local_gid)
		return 0;
	dibs_smcd_uuid(rgid, &uuid);
	return dibs_signal_event(to_dibs(smcd), &uuid, trigger_irq, event_code,
				 info);
}

/* Context: softirq, under smc's spinlocks: dibs move_data must not sleep. */
static int dibs_smcd_move_data(struct smcd_dev *smcd, u64 dmb_tok,
			       unsigned int idx, bool sf, unsigned int offset,
			       void *data, unsigned int size)
{
	return dibs_move_data(to_dibs(smcd), dmb_tok, idx, sf, offset, data,
			      size);
}

static u8 *dibs_smcd_get_system_eid(void)
{
	return dibs_smcd_seid;
}

static u16 dibs_smcd_get_chid(struct smcd_dev *smcd)
{
	return dibs_get_fabric_id(to_dibs(smcd));
}

static const struct smcd_ops dibs_smcd_ops = {
	.query_remote_gid = dibs_smcd_query_rgid,
	.register_dmb = dibs_smcd_register_dmb,
	.unregister_dmb = dibs_smcd_unregister_dmb,
	.add_vlan_id = dibs_smcd_add_vlan_id,
	.del_vlan_id = dibs_smcd_del_vlan_id,
	.signal_event = dibs_smcd_signal_event,
	.move_data = dibs_smcd_move_data,
	.get_system_eid = dibs_smcd_get_system_eid,
	.get_chid = dibs_smcd_get_chid,
};

/* dibs client ----------------------------------------------------------- */

static void dibs_smcd_handle_irq(struct dibs_dev *dibs, unsigned int idx,
				 u16 dmbemask)
{
	struct dibs_smcd_dev *sd = dibs_get_priv(dibs, &dibs_smcd_client);

	if (sd)
		smcd_handle_irq(sd->smcd, idx, dmbemask);
}

static void dibs_smcd_handle_event(struct dibs_dev *dibs,
				   const struct dibs_event *event)
{
	struct dibs_smcd_dev *sd = dibs_get_priv(dibs, &dibs_smcd_client);
	struct smcd_event ev = {
		.code = event->subtype,
		.time = event->time,
		.info = event->data,
	};

	if (!sd)
		return;
	switch (event->type) {
	case DIBS_BUF_EVENT:
		ev.type = ISM_EVENT_DMB;
		ev.tok = event->buffer_tok;
		break;
	case DIBS_DEV_EVENT:
		/* a peer device is gone: smc terminates its link groups */
		ev.type = ISM_EVENT_GID;
		ev.tok = dibs_smcd_gid(&event->gid);
		break;
	case DIBS_SW_EVENT:
		ev.type = ISM_EVENT_SWR;
		ev.tok = dibs_smcd_gid(&event->gid);
		break;
	default:
		return;
	}
	smcd_handle_event(sd->smcd, &ev);
}

static void dibs_smcd_parent_release(struct device *dev)
{
	kfree(container_of(dev, struct dibs_smcd_dev, parent.dev));
}

static bool dibs_smcd_gid_taken(u64 gid)
{
	struct dibs_smcd_dev *sd;
	bool taken = false;

	spin_lock_irq(&dibs_smcd_lock);
	list_for_each_entry(sd, &dibs_smcd_devs, list)
		taken |= sd->gid == gid;
	spin_unlock_irq(&dibs_smcd_lock);
	return taken;
}

static void dibs_smcd_add_dev(struct dibs_dev *dibs)
{
	struct dibs_smcd_dev *sd;
	int rc;

	if (!dibs_get_fabric_id(dibs)) {
		dev_info(&dibs->dev, "dibs_smcd: fabric 0 has no SMC-D CHID, not used\n");
		return;
	}
	if (dibs_smcd_gid_taken(dibs_smcd_gid(&dibs->gid))) {
		dev_err(&dibs->dev, "dibs_smcd: SMC-D GID %016llx is taken, not used\n",
			dibs_smcd_gid(&dibs->gid));
		return;
	}

	sd = kzalloc(sizeof(*sd), GFP_KERNEL);
	if (!sd)
		goto err;
	sd->dibs = dibs;
	sd->gid = dibs_smcd_gid(&dibs->gid);
	INIT_LIST_HEAD(&sd->list);
	sd->parent.vendor = DIBS_SMCD_PCI_VENDOR;
	sd->parent.device = dibs_get_fabric_id(dibs) == DIBS_LOOPBACK_FABRIC ?
			    DIBS_SMCD_PCI_DEVICE_LO : DIBS_SMCD_PCI_DEVICE;
	device_initialize(&sd->parent.dev);
	sd->parent.dev.parent = &dibs->dev;
	sd->parent.dev.release = dibs_smcd_parent_release;
	rc = dev_set_name(&sd->parent.dev, "%s", dev_name(&dibs->dev));
	if (!rc)
		rc = device_add(&sd->parent.dev);
	if (rc)
		goto err_put;

	sd->smcd = smcd_alloc_dev(&sd->parent.dev, dev_name(&dibs->dev),
				  &dibs_smcd_ops, dibs_max_dmbs(dibs));
	if (!sd->smcd)
		goto err_del;
	sd->smcd->priv = sd;
	sd->smcd->local_gid = sd->gid;

	spin_lock_irq(&dibs_smcd_lock);
	list_add_tail(&sd->list, &dibs_smcd_devs);
	spin_unlock_irq(&dibs_smcd_lock);
	dibs_set_priv(dibs, &dibs_smcd_client, sd);

	rc = smcd_register_dev(sd->smcd);
	if (rc)
		goto err_unlist;
	dev_info(&dibs->dev, "dibs_smcd: SMC-D device %s, GID %016llx, CHID 0x%04x\n",
		 dev_name(&dibs->dev), sd->gid, dibs_get_fabric_id(dibs));
	return;

err_unlist:
	dibs_set_priv(dibs, &dibs_smcd_client, NULL);
	spin_lock_irq(&dibs_smcd_lock);
	list_del(&sd->list);
	spin_unlock_irq(&dibs_smcd_lock);
	/* smc destroys it only in smcd_unregister_dev(), smcd_free_dev() does not */
	destroy_workqueue(sd->smcd->event_wq);
	smcd_free_dev(sd->smcd);
err_del:
	device_del(&sd->parent.dev);
err_put:
	put_device(&sd->parent.dev);
err:
	dev_err(&dibs->dev, "dibs_smcd: cannot register an SMC-D device\n");
}

static void dibs_smcd_del_dev(struct dibs_dev *dibs)
{
	struct dibs_smcd_dev *sd = dibs_get_priv(dibs, &dibs_smcd_client);

	if (!sd)
		return;
	/* terminates the device's link groups and waits until they are freed */
	smcd_unregister_dev(sd->smcd);
	spin_lock_irq(&dibs_smcd_lock);
	list_del(&sd->list);
	spin_unlock_irq(&dibs_smcd_lock);
	dibs_set_priv(dibs, &dibs_smcd_client, NULL);
	smcd_free_dev(sd->smcd);
	device_unregister(&sd->parent.dev);
}

static const struct dibs_client_ops dibs_smcd_client_ops = {
	.add_dev = dibs_smcd_add_dev,
	.del_dev = dibs_smcd_del_dev,
	.handle_irq = dibs_smcd_handle_irq,
	.handle_event = dibs_smcd_handle_event,
};

static struct dibs_client dibs_smcd_client = {
	.name = "dibs_smcd",
	.ops = &dibs_smcd_client_ops,
	/* smcd_handle_irq() only schedules the connection's tasklet */
	.irq_atomic = true,
};

static int __init dibs_smcd_init(void)
{
	BUILD_BUG_ON(sizeof(dibs_smcd_seid) != DIBS_SMCD_EID_LEN + 1);
	return dibs_register_client(&dibs_smcd_client);
}

static void __exit dibs_smcd_exit(void)
{
	dibs_unregister_client(&dibs_smcd_client);
}

module_init(dibs_smcd_init);
module_exit(dibs_smcd_exit);
