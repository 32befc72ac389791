// SPDX-License-Identifier: GPL-2.0
/*
 * dibs - Direct Internal Buffer Sharing: the class module
 *
 * Keeps the registries of clients and devices, the sysfs class "dibs",
 * the DMB-to-client bookkeeping, and delivers signals (handle_irq) and
 * events (handle_event) to clients in process context.
 */
#define pr_fmt(fmt) "dibs: " fmt

#include <linux/bitmap.h>
#include <linux/dibs.h>
#include <linux/err.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

MODULE_DESCRIPTION("Direct Internal Buffer Sharing class");
MODULE_LICENSE("GPL");

/* signals handled per run of a device's work item before it requeues */
#define DIBS_IRQ_BATCH	64
/* undelivered events per device; more are dropped (a peer may flood us) */
#define DIBS_MAX_EVENTS	1024

/* Registered clients by id. Guarded by clients_lock. */
static struct dibs_client *clients[MAX_DIBS_CLIENTS];
/* Lock order: dibs_dev_list.mutex, then clients_lock, then dibs_dev.lock. */
static DEFINE_MUTEX(clients_lock);

/* All added devices. */
static struct {
	struct list_head list;
	/* guards list, and serialises client and device (un)registration */
	struct mutex mutex;
} dibs_dev_list = {
	.list = LIST_HEAD_INIT(dibs_dev_list.list),
	.mutex = __MUTEX_INITIALIZER(dibs_dev_list.mutex),
};

static struct class *dibs_class;
/* runs every device's delivery work */
static struct workqueue_struct *dibs_wq;

struct dibs_event_entry {
	struct list_head list;
	struct dibs_event event;
};

/* ------------------------------------------------------------------------ */
/* Clients                                                                   */

int dibs_register_client(struct dibs_client *client)
{
	struct dibs_dev *dibs;
	unsigned long flags;
	int i;

	if (!client || !client->ops || !client->ops->add_dev ||
	    !client->ops->del_dev)
		return -EINVAL;

	mutex_lock(&dibs_dev_list.mutex);
	mutex_lock(&clients_lock);
	for (i = 0; i < MAX_DIBS_CLIENTS; i++)
		if (!clients[i])
			break;
	if (i == MAX_DIBS_CLIENTS) {
		mutex_unlock(&clients_lock);
		mutex_unlock(&dibs_dev_list.mutex);
		return -ENOSPC;
	}
	client->id = i;
	clients[i] = client;
	mutex_unlock(&clients_lock);

	list_for_each_entry(dibs, &dibs_dev_list.list, list) {
		dibs->priv[i] = NULL;
		client->ops->add_dev(dibs);
		spin_lock_irqsave(&dibs->lock, flags);
		dibs->subs[i] = client;
		spin_unlock_irqrestore(&dibs->lock, flags);
	}
	mutex_unlock(&dibs_dev_list.mutex);
	return 0;
}
EXPORT_SYMBOL_GPL(dibs_register_client);

/* Count the DMBs of @dibs that client @id still owns. Caller holds lock. */
static unsigned int dibs_dmbs_of_client(struct dibs_dev *dibs, u8 id)
{
	unsigned int i, n = 0;

	for (i = 0; i < dibs->max_dmbs; i++)
		n += dibs->dmb_clientid_arr[i] == id;
	return n;
}

/*
 * Detach client @id from @dibs: no new deliveries, wait for running ones,
 * then del_dev(). Caller holds dibs_dev_list.mutex.
 */
static void dibs_detach_client(struct dibs_dev *dibs, struct dibs_client *client)
{
	unsigned long flags;
	unsigned int left;

	spin_lock_irqsave(&dibs->lock, flags);
	dibs->subs[client->id] = NULL;
	spin_unlock_irqrestore(&dibs->lock, flags);
	flush_work(&dibs->work);

	client->ops->del_dev(dibs);

	spin_lock_irqsave(&dibs->lock, flags);
	left = dibs_dmbs_of_client(dibs, client->id);
	spin_unlock_irqrestore(&dibs->lock, flags);
	if (left)
		dev_err(&dibs->dev, "client %s left %u DMBs registered\n",
			client->name, left);
	dibs->priv[client->id] = NULL;
}

int dibs_unregister_client(struct dibs_client *client)
{
	struct dibs_dev *dibs;

	mutex_lock(&dibs_dev_list.mutex);
	mutex_lock(&clients_lock);
	if (client->id >= MAX_DIBS_CLIENTS || clients[client->id] != client) {
		mutex_unlock(&clients_lock);
		mutex_unlock(&dibs_dev_list.mutex);
		return -EINVAL;
	}
	mutex_unlock(&clients_lock);

	list_for_each_entry(dibs, &dibs_dev_list.list, list)
		dibs_detach_client(dibs, client);

	mutex_lock(&clients_lock);
	clients[client->id] = NULL;
	mutex_unlock(&clients_lock);
	mutex_unlock(&dibs_dev_list.mutex);
	return 0;
}
EXPORT_SYMBOL_GPL(dibs_unregister_client);

/* ------------------------------------------------------------------------ */
/* Client wrappers of the device operations                                  */

u16 dibs_get_fabric_id(struct dibs_dev *dev)
{
	return dev->ops->get_fabric_id(dev);
}
EXPORT_SYMBOL_GPL(dibs_get_fabric_id);

int dibs_query_remote_gid(struct dibs_dev *dev, const uuid_t *rgid,
			  u32 vid_valid, u32 vid)
{
	return dev->ops->query_remote_gid(dev, rgid, vid_valid, vid);
}
EXPORT_SYMBOL_GPL(dibs_query_remote_gid);

int dibs_max_dmbs(struct dibs_dev *dev)
{
	return dev->max_dmbs;
}
EXPORT_SYMBOL_GPL(dibs_max_dmbs);

int dibs_register_dmb(struct dibs_dev *dev, struct dibs_dmb *dmb,
		      struct dibs_client *client)
{
	unsigned long flags;
	int rc;

	rc = dev->ops->register_dmb(dev, dmb, client);
	if (rc)
		return rc;
	if (WARN_ON_ONCE(dmb->idx >= dev->max_dmbs)) {
		dev->ops->unregister_dmb(dev, dmb);
		return -EIO;
	}
	spin_lock_irqsave(&dev->lock, flags);
	dev->dmb_clientid_arr[dmb->idx] = client->id;
	dev->dmb_count++;
	spin_unlock_irqrestore(&dev->lock, flags);
	return 0;
}
EXPORT_SYMBOL_GPL(dibs_register_dmb);

int dibs_unregister_dmb(struct dibs_dev *dev, struct dibs_dmb *dmb)
{
	unsigned long flags;
	u8 owner;
	int rc;

	if (dmb->idx >= dev->max_dmbs)
		return -EINVAL;
	/*
	 * Forget the owner before the driver frees the index: a DMB registered
	 * right after may get the same index, and must keep its owner.
	 */
	spin_lock_irqsave(&dev->lock, flags);
	owner = dev->dmb_clientid_arr[dmb->idx];
	dev->dmb_clientid_arr[dmb->idx] = NO_DIBS_CLIENT;
	/* a signal still pending for this index is not for a later owner */
	__clear_bit(dmb->idx, dev->irq_pending);
	dev->irq_mask[dmb->idx] = 0;
	spin_unlock_irqrestore(&dev->lock, flags);

	rc = dev->ops->unregister_dmb(dev, dmb);

	spin_lock_irqsave(&dev->lock, flags);
	if (rc)
		dev->dmb_clientid_arr[dmb->idx] = owner;
	else
		dev->dmb_count--;
	spin_unlock_irqrestore(&dev->lock, flags);
	return rc;
}
EXPORT_SYMBOL_GPL(dibs_unregister_dmb);

int dibs_move_data(struct dibs_dev *dev, u64 dmb_tok, unsigned int idx,
		   bool sf, unsigned int offset, void *data, unsigned int size)
{
	return dev->ops->move_data(dev, dmb_tok, idx, sf, offset, data, size);
}
EXPORT_SYMBOL_GPL(dibs_move_data);

int dibs_add_vlan_id(struct dibs_dev *dev, u64 vlan_id)
{
	if (!dev->ops->add_vlan_id)
		return -EOPNOTSUPP;
	return dev->ops->add_vlan_id(dev, vlan_id);
}
EXPORT_SYMBOL_GPL(dibs_add_vlan_id);

int dibs_del_vlan_id(struct dibs_dev *dev, u64 vlan_id)
{
	if (!dev->ops->del_vlan_id)
		return -EOPNOTSUPP;
	return dev->ops->del_vlan_id(dev, vlan_id);
}
EXPORT_SYMBOL_GPL(dibs_del_vlan_id);

int dibs_signal_event(struct dibs_dev *dev, const uuid_t *rgid,
		      u32 trigger_irq, u32 event_code, u64 info)
{
	if (!dev->ops->signal_event)
		return -EOPNOTSUPP;
	return dev->ops->signal_event(dev, rgid, trigger_irq, event_code, info);
}
EXPORT_SYMBOL_GPL(dibs_signal_event);

bool dibs_support_mmapped_rdmb(struct dibs_dev *dev)
{
	return dev->ops->support_mmapped_rdmb &&
	       dev->ops->support_mmapped_rdmb(dev);
}
EXPORT_SYMBOL_GPL(dibs_support_mmapped_rdmb);

int dibs_attach_dmb(struct dibs_dev *dev, struct dibs_dmb *dmb)
{
	if (!dibs_support_mmapped_rdmb(dev))
		return -EOPNOTSUPP;
	return dev->ops->attach_dmb(dev, dmb);
}
EXPORT_SYMBOL_GPL(dibs_attach_dmb);

int dibs_detach_dmb(struct dibs_dev *dev, u64 token)
{
	if (!dibs_support_mmapped_rdmb(dev))
		return -EOPNOTSUPP;
	return dev->ops->detach_dmb(dev, token);
}
EXPORT_SYMBOL_GPL(dibs_detach_dmb);

/* ------------------------------------------------------------------------ */
/* Delivery of signals and events in process context                        */

void dibs_dev_irq(struct dibs_dev *dibs, unsigned int idx, u16 dmbemask)
{
	struct dibs_client *client;
	unsigned long flags;
	u8 cid;

	spin_lock_irqsave(&dibs->lock, flags);
	if (dibs->removed || idx >= dibs->max_dmbs ||
	    dibs->dmb_clientid_arr[idx] == NO_DIBS_CLIENT) {
		spin_unlock_irqrestore(&dibs->lock, flags);
		return;
	}
	cid = dibs->dmb_clientid_arr[idx];
	client = cid < MAX_DIBS_CLIENTS ? dibs->subs[cid] : NULL;
	if (client && client->irq_atomic) {
		/* under the lock: never after the client's del_dev() */
		if (client->ops->handle_irq)
			client->ops->handle_irq(dibs, idx, dmbemask);
		spin_unlock_irqrestore(&dibs->lock, flags);
		return;
	}
	dibs->irq_mask[idx] |= dmbemask;
	__set_bit(idx, dibs->irq_pending);
	spin_unlock_irqrestore(&dibs->lock, flags);
	queue_work(dibs_wq, &dibs->work);
}
EXPORT_SYMBOL_GPL(dibs_dev_irq);

int dibs_dev_event(struct dibs_dev *dibs, const struct dibs_event *event)
{
	struct dibs_event_entry *e;
	unsigned long flags;
	int rc;

	e = kmalloc(sizeof(*e), GFP_ATOMIC);
	if (!e)
		return -ENOMEM;
	e->event = *event;
	if (!e->event.time)
		e->event.time = ktime_get_real_ns();

	spin_lock_irqsave(&dibs->lock, flags);
	if (dibs->removed || dibs->nr_events >= DIBS_MAX_EVENTS) {
		rc = dibs->removed ? -ENODEV : -ENOSPC;
		spin_unlock_irqrestore(&dibs->lock, flags);
		kfree(e);
		dev_dbg_ratelimited(&dibs->dev, "event dropped: %d\n", rc);
		return rc;
	}
	list_add_tail(&e->list, &dibs->events);
	dibs->nr_events++;
	spin_unlock_irqrestore(&dibs->lock, flags);
	queue_work(dibs_wq, &dibs->work);
	return 0;
}
EXPORT_SYMBOL_GPL(dibs_dev_event);

static void dibs_deliver_events(struct dibs_dev *dibs)
{
	struct dibs_event_entry *e;
	struct dibs_client *client;
	unsigned long flags;
	int i;

	for (;;) {
		spin_lock_irqsave(&dibs->lock, flags);
		e = list_first_entry_or_null(&dibs->events,
					     struct dibs_event_entry, list);
		if (e) {
			list_del(&e->list);
			dibs->nr_events--;
		}
		spin_unlock_irqrestore(&dibs->lock, flags);
		if (!e)
			return;

		/*
		 * A client unregistering meanwhile clears its subs[] entry and
		 * then flushes this work, so it is not called after del_dev().
		 */
		for (i = 0; i < MAX_DIBS_CLIENTS; i++) {
			spin_lock_irqsave(&dibs->lock, flags);
			client = dibs->subs[i];
			spin_unlock_irqrestore(&dibs->lock, flags);
			if (client && client->ops->handle_event)
				client->ops->handle_event(dibs, &e->event);
		}
		kfree(e);
	}
}

/* Return: true if signals are left for another run. */
static bool dibs_deliver_irqs(struct dibs_dev *dibs)
{
	struct dibs_client *client;
	unsigned int idx, n;
	unsigned long flags;
	u16 mask;
	u8 cid;

	for (n = 0; n < DIBS_IRQ_BATCH; n++) {
		spin_lock_irqsave(&dibs->lock, flags);
		idx = find_next_bit(dibs->irq_pending, dibs->max_dmbs,
				    dibs->irq_next);
		if (idx >= dibs->max_dmbs)
			idx = find_first_bit(dibs->irq_pending, dibs->max_dmbs);
		if (idx >= dibs->max_dmbs) {
			spin_unlock_irqrestore(&dibs->lock, flags);
			return false;
		}
		__clear_bit(idx, dibs->irq_pending);
		mask = dibs->irq_mask[idx];
		dibs->irq_mask[idx] = 0;
		dibs->irq_next = idx + 1;
		cid = dibs->dmb_clientid_arr[idx];
		client = cid < MAX_DIBS_CLIENTS ? dibs->subs[cid] : NULL;
		spin_unlock_irqrestore(&dibs->lock, flags);

		if (client && client->ops->handle_irq)
			client->ops->handle_irq(dibs, idx, mask);
		cond_resched();
	}
	return true;
}

static void dibs_dev_work(struct work_struct *work)
{
	struct dibs_dev *dibs = container_of(work, struct dibs_dev, work);

	dibs_deliver_events(dibs);
	if (dibs_deliver_irqs(dibs))
		queue_work(dibs_wq, &dibs->work);
}

/* ------------------------------------------------------------------------ */
/* Devices                                                                   */

static ssize_t gid_show(struct device *dev, struct device_attribute *attr,
			char *buf)
{
	struct dibs_dev *dibs = container_of(dev, struct dibs_dev, dev);

	return sysfs_emit(buf, "%pUb\n", &dibs->gid);
}
static DEVICE_ATTR_RO(gid);

static ssize_t fabric_id_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	struct dibs_dev *dibs = container_of(dev, struct dibs_dev, dev);

	return sysfs_emit(buf, "0x%04x\n", dibs_get_fabric_id(dibs));
}
static DEVICE_ATTR_RO(fabric_id);

static ssize_t max_dmbs_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct dibs_dev *dibs = container_of(dev, struct dibs_dev, dev);

	return sysfs_emit(buf, "%u\n", dibs->max_dmbs);
}
static DEVICE_ATTR_RO(max_dmbs);

static ssize_t dmbs_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct dibs_dev *dibs = container_of(dev, struct dibs_dev, dev);
	unsigned long flags;
	unsigned int n;

	spin_lock_irqsave(&dibs->lock, flags);
	n = dibs->dmb_count;
	spin_unlock_irqrestore(&dibs->lock, flags);
	return sysfs_emit(buf, "%u\n", n);
}
static DEVICE_ATTR_RO(dmbs);

static struct attribute *dibs_dev_attrs[] = {
	&dev_attr_gid.attr,
	&dev_attr_fabric_id.attr,
	&dev_attr_max_dmbs.attr,
	&dev_attr_dmbs.attr,
	NULL,
};
ATTRIBUTE_GROUPS(dibs_dev);

static void dibs_dev_free_arrays(struct dibs_dev *dibs)
{
	kfree(dibs->dmb_clientid_arr);
	bitmap_free(dibs->irq_pending);
	kfree(dibs->irq_mask);
	dibs->dmb_clientid_arr = NULL;
	dibs->irq_pending = NULL;
	dibs->irq_mask = NULL;
}

/* Pairs with dibs_dev_alloc(): runs when the last reference is put. */
static void dibs_dev_release(struct device *dev)
{
	struct dibs_dev *dibs = container_of(dev, struct dibs_dev, dev);

	dibs_dev_free_arrays(dibs);
	kfree(dibs);
}

struct dibs_dev *dibs_dev_alloc(void)
{
	struct dibs_dev *dibs;

	dibs = kzalloc(sizeof(*dibs), GFP_KERNEL);
	if (!dibs)
		return NULL;
	spin_lock_init(&dibs->lock);
	INIT_LIST_HEAD(&dibs->list);
	INIT_LIST_HEAD(&dibs->events);
	INIT_WORK(&dibs->work, dibs_dev_work);
	dibs->dev.class = dibs_class;
	dibs->dev.groups = dibs_dev_groups;
	dibs->dev.release = dibs_dev_release;
	device_initialize(&dibs->dev);
	return dibs;
}
EXPORT_SYMBOL_GPL(dibs_dev_alloc);

static bool dibs_dev_ops_valid(const struct dibs_dev_ops *ops)
{
	bool mm = ops->support_mmapped_rdmb;

	if (!ops->get_fabric_id || !ops->query_remote_gid || !ops->max_dmbs ||
	    !ops->register_dmb || !ops->unregister_dmb || !ops->move_data)
		return false;
	/* the mmapped-rdmb trio is all or nothing */
	return mm == !!ops->attach_dmb && mm == !!ops->detach_dmb;
}

int dibs_dev_add(struct dibs_dev *dibs)
{
	unsigned long flags;
	int max, i, rc;

	if (!dibs->ops || !dibs_dev_ops_valid(dibs->ops))
		return -EINVAL;
	max = dibs->ops->max_dmbs();
	if (max <= 0)
		return -EINVAL;

	dibs->max_dmbs = max;
	dibs->dmb_clientid_arr = kmalloc(max, GFP_KERNEL);
	dibs->irq_pending = bitmap_zalloc(max, GFP_KERNEL);
	dibs->irq_mask = kcalloc(max, sizeof(*dibs->irq_mask), GFP_KERNEL);
	if (!dibs->dmb_clientid_arr || !dibs->irq_pending || !dibs->irq_mask) {
		rc = -ENOMEM;
		goto free_arrays;
	}
	memset(dibs->dmb_clientid_arr, NO_DIBS_CLIENT, max);

	rc = device_add(&dibs->dev);
	if (rc)
		goto free_arrays;

	mutex_lock(&dibs_dev_list.mutex);
	mutex_lock(&clients_lock);
	for (i = 0; i < MAX_DIBS_CLIENTS; i++) {
		if (!clients[i])
			continue;
		dibs->priv[i] = NULL;
		clients[i]->ops->add_dev(dibs);
		spin_lock_irqsave(&dibs->lock, flags);
		dibs->subs[i] = clients[i];
		spin_unlock_irqrestore(&dibs->lock, flags);
	}
	mutex_unlock(&clients_lock);
	list_add_tail(&dibs->list, &dibs_dev_list.list);
	mutex_unlock(&dibs_dev_list.mutex);
	return 0;

free_arrays:
	dibs_dev_free_arrays(dibs);
	return rc;
}
EXPORT_SYMBOL_GPL(dibs_dev_add);

void dibs_dev_del(struct dibs_dev *dibs)
{
	struct dibs_event_entry *e, *tmp;
	unsigned long flags;
	LIST_HEAD(events);
	int i;

	mutex_lock(&dibs_dev_list.mutex);
	mutex_lock(&clients_lock);
	for (i = 0; i < MAX_DIBS_CLIENTS; i++)
		if (clients[i])
			dibs_detach_client(dibs, clients[i]);
	mutex_unlock(&clients_lock);
	list_del_init(&dibs->list);
	mutex_unlock(&dibs_dev_list.mutex);

	spin_lock_irqsave(&dibs->lock, flags);
	dibs->removed = true;
	list_splice_init(&dibs->events, &events);
	dibs->nr_events = 0;
	spin_unlock_irqrestore(&dibs->lock, flags);
	cancel_work_sync(&dibs->work);
	list_for_each_entry_safe(e, tmp, &events, list)
		kfree(e);

	device_del(&dibs->dev);
}
EXPORT_SYMBOL_GPL(dibs_dev_del);

static int __init dibs_init(void)
{
	int rc;

	dibs_wq = alloc_workqueue("dibs", WQ_HIGHPRI | WQ_MEM_RECLAIM, 0);
	if (!dibs_wq)
		return -ENOMEM;
	dibs_class = class_create(THIS_MODULE, "dibs");
	if (IS_ERR(dibs_class)) {
		rc = PTR_ERR(dibs_class);
		pr_err("cannot create class dibs: %d\n", rc);
		goto err_wq;
	}
	return 0;

err_wq:
	destroy_workqueue(dibs_wq);
	return rc;
}

static void __exit dibs_exit(void)
{
	class_destroy(dibs_class);
	destroy_workqueue(dibs_wq);
}

module_init(dibs_init);
module_exit(dibs_exit);
