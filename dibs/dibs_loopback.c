// SPDX-License-Identifier: GPL-2.0
/*
 * dibs loopback devices
 *
 * Software dibs devices dibs_lo0, dibs_lo1, ...: a DMB is kernel memory and
 * move_data() is a copy into it (dibs_copy.h).
 *
 * Fabrics
 * -------
 * A device created with fabric id DIBS_LOOPBACK_FABRIC (the default) reaches
 * only itself, as upstream's loopback device. Devices created with the same
 * other fabric id form a software fabric and reach each other, which lets
 * two "hosts" be modelled in one kernel. DMB tokens are random 64-bit values,
 * unique across all loopback devices.
 *
 * Control interface (root only)
 * -----------------------------
 *   /sys/kernel/dibs_loopback/new_device  write "[ID [FABRIC]]": create
 *	dibs_lo<ID> (lowest free ID if none given) on FABRIC (decimal or
 *	0x-hex, default 0xffff). EEXIST, EINVAL, ENOSPC on failure.
 *   /sys/kernel/dibs_loopback/del_device  write "dibs_lo<ID>": remove it.
 *	ENODEV if there is no such loopback device.
 * Module parameter nr_devs (default 1) sets how many devices load creates.
 */
#define pr_fmt(fmt) "dibs_loopback: " fmt

#include <linux/bitops.h>
#include <linux/capability.h>
#include <linux/err.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/wait_bit.h>

#include "dibs_copy.h"
#include "dibs_loopback.h"

MODULE_DESCRIPTION("dibs loopback devices");
MODULE_LICENSE("GPL");

#define DIBS_DMA_ADDR_INVALID	(~(dma_addr_t)0)
/* move_data() signals element idx as bit idx of a u16 mask */
#define DIBS_LO_MAX_DMBE	BITS_PER_TYPE(u16)

static unsigned int nr_devs = 1;
module_param(nr_devs, uint, 0444);
MODULE_PARM_DESC(nr_devs, "number of loopback devices created at load (default 1)");

/*
 * Guards the token hash, the device list and every device's attached list.
 * Taken with _bh: move_data() may run in softirq context.
 */
static DEFINE_RWLOCK(dibs_lo_lock);
static DEFINE_HASHTABLE(dibs_lo_dmb_ht, DIBS_LO_DMBS_HASH_BITS);
static LIST_HEAD(dibs_lo_devs);
/* Serialises device creation and removal; taken before dibs_lo_lock. */
static DEFINE_MUTEX(dibs_lo_ctl_mutex);

static struct kobject *dibs_lo_kobj;

static struct dibs_lo_dev *to_lo(struct dibs_dev *dibs)
{
	return dibs->drv_priv;
}

static bool dibs_lo_reachable(struct dibs_lo_dev *from, struct dibs_lo_dev *to)
{
	return from == to || (from->fabric_id == to->fabric_id &&
			      from->fabric_id != DIBS_LOOPBACK_FABRIC);
}

/* Caller holds dibs_lo_lock. */
static struct dibs_lo_dmb_node *dibs_lo_lookup(u64 token)
{
	struct dibs_lo_dmb_node *node;

	hash_for_each_possible(dibs_lo_dmb_ht, node, list, token)
		if (node->token == token)
			return node;
	return NULL;
}

/*
 * Find a DMB that @lo may write to (move_data, attach). Caller holds
 * dibs_lo_lock. Tokens of unreachable devices look unknown.
 */
static struct dibs_lo_dmb_node *dibs_lo_find_writable(struct dibs_lo_dev *lo,
						      u64 token, int *rc)
{
	struct dibs_lo_dmb_node *node = dibs_lo_lookup(token);

	if (!node || !dibs_lo_reachable(lo, to_lo(node->owner))) {
		*rc = -ENOENT;
		return NULL;
	}
	if (!uuid_is_null(&node->rgid) && !uuid_equal(&node->rgid, &lo->dibs->gid)) {
		*rc = -EACCES;
		return NULL;
	}
	return node;
}

/* Caller holds dibs_lo_lock. */
static struct dibs_lo_dev *dibs_lo_find_peer(struct dibs_lo_dev *lo,
					     const uuid_t *gid)
{
	struct dibs_lo_dev *peer;

	list_for_each_entry(peer, &dibs_lo_devs, list)
		if (uuid_equal(&peer->dibs->gid, gid) && dibs_lo_reachable(lo, peer))
			return peer;
	return NULL;
}

static void dibs_lo_node_put(struct dibs_lo_dmb_node *node)
{
	if (!refcount_dec_and_test(&node->refcnt)) {
		/* an unregister of lent memory may wait for the last user */
		if (node->lent)
			wake_up_var(&node->refcnt);
		return;
	}
	if (!node->lent)
		kfree(node->cpu_addr);
	put_device(&node->owner->dev);
	kfree(node);
}

/*
 * Drop the registration reference of an unhashed node. Lent memory goes back
 * to the client on return, so wait until no move_data or attachment uses it.
 */
static void dibs_lo_node_release(struct dibs_lo_dmb_node *node)
{
	if (node->lent)
		wait_var_event(&node->refcnt, refcount_read(&node->refcnt) == 1);
	dibs_lo_node_put(node);
}

static u16 dibs_lo_get_fabric_id(struct dibs_dev *dibs)
{
	return to_lo(dibs)->fabric_id;
}

static int dibs_lo_query_remote_gid(struct dibs_dev *dibs, const uuid_t *rgid,
				    u32 vid_valid, u32 vid)
{
	struct dibs_lo_dev *peer;
	int rc = -ENETUNREACH;

	if (vid_valid && vid >= DIBS_LO_VLANS)
		return -EINVAL;
	read_lock_bh(&dibs_lo_lock);
	peer = dibs_lo_find_peer(to_lo(dibs), rgid);
	if (peer && (!vid_valid || test_bit(vid, peer->vlans)))
		rc = 0;
	read_unlock_bh(&dibs_lo_lock);
	return rc;
}

static int dibs_lo_max_dmbs(void)
{
	return DIBS_LO_MAX_DMBS;
}

static int dibs_lo_alloc_idx(struct dibs_lo_dev *lo, u32 want, u32 *idx)
{
	unsigned long i;

	if (want) {
		if (want >= DIBS_LO_MAX_DMBS)
			return -EINVAL;
		if (test_and_set_bit(want, lo->sba_idx_mask))
			return -EBUSY;
		*idx = want;
		return 0;
	}
	do {
		i = find_first_zero_bit(lo->sba_idx_mask, DIBS_LO_MAX_DMBS);
		if (i >= DIBS_LO_MAX_DMBS)
			return -ENOSPC;
	} while (test_and_set_bit(i, lo->sba_idx_mask));
	*idx = i;
	return 0;
}

static int dibs_lo_register_dmb(struct dibs_dev *dibs, struct dibs_dmb *dmb,
				struct dibs_client *client)
{
	struct dibs_lo_dev *lo = to_lo(dibs);
	struct dibs_lo_dmb_node *node;
	u32 idx;
	u64 tok;
	int rc;

	if (!dmb->dmb_len || dmb->dmb_len > (dmb->cpu_addr ? DIBS_LO_MAX_LENT_LEN :
					      DIBS_LO_MAX_DMB_LEN))
		return -EINVAL;
	rc = dibs_lo_alloc_idx(lo, dmb->idx, &idx);
	if (rc)
		return rc;

	node = kzalloc(sizeof(*node), GFP_KERNEL);
	if (!node) {
		rc = -ENOMEM;
		goto err_idx;
	}
	node->lent = dmb->cpu_addr;
	node->cpu_addr = node->lent ? dmb->cpu_addr :
		kzalloc(dmb->dmb_len, GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY |
			__GFP_NOMEMALLOC);
	if (!node->cpu_addr) {
		rc = -ENOMEM;
		goto err_node;
	}
	node->len = dmb->dmb_len;
	node->sba_idx = idx;
	node->dma_addr = DIBS_DMA_ADDR_INVALID;
	uuid_copy(&node->rgid, &dmb->rgid);
	node->owner = dibs;
	refcount_set(&node->refcnt, 1);
	get_device(&dibs->dev);

	write_lock_bh(&dibs_lo_lock);
	do {
		tok = get_random_u64();
	} while (!tok || dibs_lo_lookup(tok));
	node->token = tok;
	hash_add(dibs_lo_dmb_ht, &node->list, tok);
	write_unlock_bh(&dibs_lo_lock);

	dmb->dmb_tok = tok;
	dmb->cpu_addr = node->cpu_addr;
	dmb->idx = idx;
	dmb->dma_addr = node->dma_addr;
	return 0;

err_node:
	kfree(node);
err_idx:
	clear_bit(idx, lo->sba_idx_mask);
	return rc;
}

static int dibs_lo_unregister_dmb(struct dibs_dev *dibs, struct dibs_dmb *dmb)
{
	struct dibs_lo_dmb_node *node;

	write_lock_bh(&dibs_lo_lock);
	node = dibs_lo_lookup(dmb->dmb_tok);
	if (!node || node->owner != dibs || node->sba_idx != dmb->idx) {
		write_unlock_bh(&dibs_lo_lock);
		return -EINVAL;
	}
	hash_del(&node->list);
	write_unlock_bh(&dibs_lo_lock);

	dibs_lo_node_release(node);
	clear_bit(dmb->idx, to_lo(dibs)->sba_idx_mask);
	return 0;
}

static int dibs_lo_move_data(struct dibs_dev *dibs, u64 dmb_tok,
			     unsigned int idx, bool sf, unsigned int offset,
			     void *data, unsigned int size)
{
	struct dibs_lo_dmb_node *node;
	int rc = 0;

	if (!size || idx >= DIBS_LO_MAX_DMBE)
		return -EINVAL;

	read_lock_bh(&dibs_lo_lock);
	node = dibs_lo_find_writable(to_lo(dibs), dmb_tok, &rc);
	if (node && (offset > node->len || size > node->len - offset)) {
		rc = -EINVAL;
		node = NULL;
	}
	if (node)
		refcount_inc(&node->refcnt);
	read_unlock_bh(&dibs_lo_lock);
	if (!node)
		return rc;

	dibs_copy_to_dmb(node->cpu_addr + offset, data, size);
	if (sf)
		dibs_dev_irq(node->owner, node->sba_idx, BIT(idx));
	dibs_lo_node_put(node);
	return 0;
}

static int dibs_lo_add_vlan_id(struct dibs_dev *dibs, u64 vlan_id)
{
	if (vlan_id >= DIBS_LO_VLANS)
		return -EINVAL;
	set_bit(vlan_id, to_lo(dibs)->vlans);
	return 0;
}

static int dibs_lo_del_vlan_id(struct dibs_dev *dibs, u64 vlan_id)
{
	if (vlan_id >= DIBS_LO_VLANS)
		return -EINVAL;
	if (!test_and_clear_bit(vlan_id, to_lo(dibs)->vlans))
		return -ENOENT;
	return 0;
}

/*
 * The event reaches the clients of the device with GID @rgid as a
 * DIBS_SW_EVENT carrying the sender's GID. Loopback has no interrupts to
 * suppress, so @trigger_irq is ignored. An event to the device itself is
 * dropped: a client would take its own SHUTDOWN as the peer's.
 */
static int dibs_lo_signal_event(struct dibs_dev *dibs, const uuid_t *rgid,
				u32 trigger_irq, u32 event_code, u64 info)
{
	struct dibs_lo_dev *lo = to_lo(dibs), *peer;
	struct dibs_event ev = {
		.type = DIBS_SW_EVENT,
		.subtype = event_code,
		.data = info,
	};
	int rc = 0;

	uuid_copy(&ev.gid, &dibs->gid);
	read_lock_bh(&dibs_lo_lock);
	peer = dibs_lo_find_peer(lo, rgid);
	if (!peer)
		rc = -ENETUNREACH;
	else if (peer != lo)
		rc = dibs_dev_event(peer->dibs, &ev);
	read_unlock_bh(&dibs_lo_lock);
	return rc;
}

static int dibs_lo_support_mmapped_rdmb(struct dibs_dev *dibs)
{
	return 1;
}

static int dibs_lo_attach_dmb(struct dibs_dev *dibs, struct dibs_dmb *dmb)
{
	struct dibs_lo_dev *lo = to_lo(dibs);
	struct dibs_lo_dmb_node *node;
	struct dibs_lo_attach *a;
	int rc = 0;

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	write_lock_bh(&dibs_lo_lock);
	node = dibs_lo_find_writable(lo, dmb->dmb_tok, &rc);
	if (node) {
		refcount_inc(&node->refcnt);
		a->node = node;
		list_add_tail(&a->list, &lo->attached);
	}
	write_unlock_bh(&dibs_lo_lock);
	if (!node) {
		kfree(a);
		return rc;
	}
	dmb->cpu_addr = node->cpu_addr;
	dmb->dmb_len = node->len;
	dmb->idx = node->sba_idx;
	dmb->dma_addr = node->dma_addr;
	return 0;
}

static int dibs_lo_detach_dmb(struct dibs_dev *dibs, u64 token)
{
	struct dibs_lo_attach *a, *found = NULL;

	write_lock_bh(&dibs_lo_lock);
	list_for_each_entry(a, &to_lo(dibs)->attached, list) {
		if (a->node->token == token) {
			list_del(&a->list);
			found = a;
			break;
		}
	}
	write_unlock_bh(&dibs_lo_lock);
	if (!found)
		return -ENOENT;
	dibs_lo_node_put(found->node);
	kfree(found);
	return 0;
}

static const struct dibs_dev_ops dibs_lo_ops = {
	.get_fabric_id = dibs_lo_get_fabric_id,
	.query_remote_gid = dibs_lo_query_remote_gid,
	.max_dmbs = dibs_lo_max_dmbs,
	.register_dmb = dibs_lo_register_dmb,
	.unregister_dmb = dibs_lo_unregister_dmb,
	.move_data = dibs_lo_move_data,
	.add_vlan_id = dibs_lo_add_vlan_id,
	.del_vlan_id = dibs_lo_del_vlan_id,
	.signal_event = dibs_lo_signal_event,
	.support_mmapped_rdmb = dibs_lo_support_mmapped_rdmb,
	.attach_dmb = dibs_lo_attach_dmb,
	.detach_dmb = dibs_lo_detach_dmb,
};

/* ------------------------------------------------------------------------ */
/* Device creation and removal; callers hold dibs_lo_ctl_mutex.             */

static struct dibs_lo_dev *dibs_lo_find_id(unsigned int id)
{
	struct dibs_lo_dev *lo;

	list_for_each_entry(lo, &dibs_lo_devs, list)
		if (lo->id == id)
			return lo;
	return NULL;
}

static int dibs_lo_free_id(void)
{
	unsigned int id;

	for (id = 0; id < DIBS_LO_MAX_DEVS; id++)
		if (!dibs_lo_find_id(id))
			return id;
	return -ENOSPC;
}

static struct dibs_dev *dibs_lo_dev_create(int id, u16 fabric_id)
{
	struct dibs_lo_dev *lo;
	struct dibs_dev *dibs;
	int rc;

	if (id < 0)
		id = dibs_lo_free_id();
	if (id < 0)
		return ERR_PTR(id);
	if (id >= DIBS_LO_MAX_DEVS)
		return ERR_PTR(-EINVAL);
	if (dibs_lo_find_id(id))
		return ERR_PTR(-EEXIST);

	lo = kzalloc(sizeof(*lo), GFP_KERNEL);
	if (!lo)
		return ERR_PTR(-ENOMEM);
	lo->id = id;
	lo->fabric_id = fabric_id;
	INIT_LIST_HEAD(&lo->attached);

	dibs = dibs_dev_alloc();
	if (!dibs) {
		rc = -ENOMEM;
		goto err_lo;
	}
	lo->dibs = dibs;
	dibs->drv_priv = lo;
	dibs->ops = &dibs_lo_ops;
	uuid_gen(&dibs->gid);
	rc = dev_set_name(&dibs->dev, "dibs_lo%d", id);
	if (rc)
		goto err_put;

	/* listed first: clients' add_dev() may query the fabric */
	write_lock_bh(&dibs_lo_lock);
	list_add_tail(&lo->list, &dibs_lo_devs);
	write_unlock_bh(&dibs_lo_lock);

	rc = dibs_dev_add(dibs);
	if (rc)
		goto err_unlist;
	return dibs;

err_unlist:
	write_lock_bh(&dibs_lo_lock);
	list_del(&lo->list);
	write_unlock_bh(&dibs_lo_lock);
err_put:
	/* pairs with dibs_dev_alloc() */
	put_device(&dibs->dev);
err_lo:
	kfree(lo);
	return ERR_PTR(rc);
}

static void dibs_lo_dev_remove(struct dibs_lo_dev *lo)
{
	struct dibs_dev *dibs = lo->dibs;
	struct dibs_lo_dmb_node *node;
	struct dibs_lo_attach *a, *atmp;
	struct hlist_node *tmp;
	HLIST_HEAD(orphans);
	LIST_HEAD(attached);
	int bkt;

	/* clients unregister their DMBs and detach in del_dev() */
	dibs_dev_del(dibs);

	write_lock_bh(&dibs_lo_lock);
	list_del(&lo->list);
	list_splice_init(&lo->attached, &attached);
	hash_for_each_safe(dibs_lo_dmb_ht, bkt, tmp, node, list) {
		if (node->owner != dibs)
			continue;
		hash_del(&node->list);
		hlist_add_head(&node->list, &orphans);
	}
	write_unlock_bh(&dibs_lo_lock);

	hlist_for_each_entry_safe(node, tmp, &orphans, list)
		dibs_lo_node_release(node);
	list_for_each_entry_safe(a, atmp, &attached, list) {
		dibs_lo_node_put(a->node);
		kfree(a);
	}
	dibs->drv_priv = NULL;
	kfree(lo);
	/* pairs with dibs_dev_alloc(); nodes still in use hold their own */
	put_device(&dibs->dev);
}

/**
 * dibs_loopback_create() - create loopback device dibs_lo<@id>
 * @id: device index, below DIBS_LO_MAX_DEVS
 * @fabric_id: fabric of the device (DIBS_LOOPBACK_FABRIC: reaches itself only)
 *
 * Context: process context.
 * Return: the registered device, or ERR_PTR(-EEXIST, -EINVAL, -ENOMEM, ...)
 */
struct dibs_dev *dibs_loopback_create(unsigned int id, u16 fabric_id)
{
	struct dibs_dev *dibs;

	if (id >= DIBS_LO_MAX_DEVS)
		return ERR_PTR(-EINVAL);
	mutex_lock(&dibs_lo_ctl_mutex);
	dibs = dibs_lo_dev_create(id, fabric_id);
	mutex_unlock(&dibs_lo_ctl_mutex);
	return dibs;
}
EXPORT_SYMBOL_GPL(dibs_loopback_create);

/**
 * dibs_loopback_destroy() - remove a loopback device
 * @dibs: a device returned by dibs_loopback_create()
 *
 * Context: process context.
 * Return: 0, or -ENODEV if @dibs is not a present loopback device
 */
int dibs_loopback_destroy(struct dibs_dev *dibs)
{
	struct dibs_lo_dev *lo;
	int rc = -ENODEV;

	mutex_lock(&dibs_lo_ctl_mutex);
	list_for_each_entry(lo, &dibs_lo_devs, list) {
		if (lo->dibs == dibs) {
			dibs_lo_dev_remove(lo);
			rc = 0;
			break;
		}
	}
	mutex_unlock(&dibs_lo_ctl_mutex);
	return rc;
}
EXPORT_SYMBOL_GPL(dibs_loopback_destroy);

/* ------------------------------------------------------------------------ */
/* sysfs control interface                                                   */

/* Copy a sysfs write into @buf as a trimmed string. */
static char *dibs_lo_ctl_arg(char *buf, size_t size, const char *in, size_t count)
{
	if (count >= size)
		return ERR_PTR(-EINVAL);
	memcpy(buf, in, count);
	buf[count] = '\0';
	return strim(buf);
}

static ssize_t new_device_store(struct kobject *kobj, struct kobj_attribute *attr,
				const char *buf, size_t count)
{
	u16 fabric_id = DIBS_LOOPBACK_FABRIC;
	char tmp[32], *s, *tok;
	struct dibs_dev *dibs;
	unsigned int id;
	int want = -1;
	int rc;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	s = dibs_lo_ctl_arg(tmp, sizeof(tmp), buf, count);
	if (IS_ERR(s))
		return PTR_ERR(s);

	tok = strsep(&s, " \t");
	if (*tok) {
		rc = kstrtouint(tok, 10, &id);
		if (rc || id >= DIBS_LO_MAX_DEVS)
			return -EINVAL;
		want = id;
		s = s ? skip_spaces(s) : NULL;
		if (s && *s) {
			tok = strsep(&s, " \t");
			rc = kstrtou16(tok, 0, &fabric_id);
			if (rc)
				return -EINVAL;
			if (s && *skip_spaces(s))
				return -EINVAL;
		}
	}

	mutex_lock(&dibs_lo_ctl_mutex);
	dibs = dibs_lo_dev_create(want, fabric_id);
	mutex_unlock(&dibs_lo_ctl_mutex);
	return IS_ERR(dibs) ? PTR_ERR(dibs) : count;
}

static struct kobj_attribute new_device_attr = __ATTR_WO(new_device);

static ssize_t del_device_store(struct kobject *kobj, struct kobj_attribute *attr,
				const char *buf, size_t count)
{
	struct dibs_lo_dev *lo;
	char tmp[32], *name;
	int rc = -ENODEV;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	name = dibs_lo_ctl_arg(tmp, sizeof(tmp), buf, count);
	if (IS_ERR(name))
		return -ENODEV;

	mutex_lock(&dibs_lo_ctl_mutex);
	list_for_each_entry(lo, &dibs_lo_devs, list) {
		if (!strcmp(dev_name(&lo->dibs->dev), name)) {
			dibs_lo_dev_remove(lo);
			rc = 0;
			break;
		}
	}
	mutex_unlock(&dibs_lo_ctl_mutex);
	return rc ? rc : count;
}

static struct kobj_attribute del_device_attr = __ATTR_WO(del_device);

static struct attribute *dibs_lo_ctl_attrs[] = {
	&new_device_attr.attr,
	&del_device_attr.attr,
	NULL,
};

static const struct attribute_group dibs_lo_ctl_group = {
	.attrs = dibs_lo_ctl_attrs,
};

static void dibs_lo_remove_all(void)
{
	struct dibs_lo_dev *lo;

	mutex_lock(&dibs_lo_ctl_mutex);
	while ((lo = list_first_entry_or_null(&dibs_lo_devs,
					      struct dibs_lo_dev, list)))
		dibs_lo_dev_remove(lo);
	mutex_unlock(&dibs_lo_ctl_mutex);
}

static int __init dibs_lo_init(void)
{
	struct dibs_dev *dibs;
	unsigned int i;
	int rc;

	if (nr_devs > DIBS_LO_MAX_DEVS) {
		pr_err("nr_devs %u exceeds %u\n", nr_devs, DIBS_LO_MAX_DEVS);
		return -EINVAL;
	}
	dibs_lo_kobj = kobject_create_and_add("dibs_loopback", kernel_kobj);
	if (!dibs_lo_kobj)
		return -ENOMEM;
	rc = sysfs_create_group(dibs_lo_kobj, &dibs_lo_ctl_group);
	if (rc)
		goto err_kobj;

	for (i = 0; i < nr_devs; i++) {
		dibs = dibs_loopback_create(i, DIBS_LOOPBACK_FABRIC);
		if (IS_ERR(dibs)) {
			rc = PTR_ERR(dibs);
			pr_err("cannot create dibs_lo%u: %d\n", i, rc);
			goto err_devs;
		}
	}
	return 0;

err_devs:
	dibs_lo_remove_all();
err_kobj:
	kobject_put(dibs_lo_kobj);
	return rc;
}

static void __exit dibs_lo_exit(void)
{
	/* no control writes once the files are gone */
	kobject_put(dibs_lo_kobj);
	dibs_lo_remove_all();
}

module_init(dibs_lo_init);
module_exit(dibs_lo_exit);
