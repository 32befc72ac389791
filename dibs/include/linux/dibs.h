/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Direct Internal Buffer Sharing (dibs)
 *
 * Out-of-tree implementation for kernels without CONFIG_DIBS, API-compatible
 * with the upstream <linux/dibs.h> (Linux 6.18): the structures, constants and
 * functions of that header keep their names and signatures. In addition,
 * clients reach device operations only through the dibs_*() wrappers below
 * and drivers report signals and events through dibs_dev_irq() and
 * dibs_dev_event(), so that neither side touches the other's internals.
 */
#ifndef _DIBS_H
#define _DIBS_H

#include <linux/device.h>
#include <linux/spinlock.h>
#include <linux/uuid.h>
#include <linux/workqueue.h>

/* Concept
 * -------
 * Systems that share hardware (one machine, one hypervisor) form a dibs
 * fabric. A dibs device on a fabric lets a remote device on the same fabric
 * write into a DMB (Direct Memory Buffer) that a local client registered. A
 * DMB is named by a 64-bit token that is unique within its fabric and has
 * exactly one owning device; a write may raise a signal that the owning
 * client receives through handle_irq(). Devices are named by a GID (a uuid),
 * unique within a fabric. How peers learn each other's GIDs and tokens is not
 * part of dibs.
 */

struct dibs_dev;

/* DMB - Direct Memory Buffer
 * --------------------------
 */
struct dibs_dmb {
	/* token of this DMB, unique per fabric; set by register_dmb() */
	u64 dmb_tok;
	/* GID of the only remote device allowed to write; null uuid = any */
	uuid_t rgid;
	/*
	 * buffer address, set by register_dmb() / attach_dmb(). A client may
	 * set it before register_dmb() to lend its own memory (kernel virtual,
	 * dmb_len bytes, valid until unregister_dmb() returns) to devices that
	 * support that (loopback); others refuse with -EOPNOTSUPP.
	 */
	void *cpu_addr;
	/* buffer length in bytes */
	u32 dmb_len;
	/* index of this DMB on its owning device (signals are routed by it) */
	u32 idx;
	/* VLAN support (deprecated) */
	u32 vlan_valid;
	u32 vlan_id;
	/* for the device driver's use */
	dma_addr_t dma_addr;
};

/* Events
 * ------
 */
enum dibs_event_type {
	DIBS_BUF_EVENT,
	DIBS_DEV_EVENT,
	DIBS_SW_EVENT,
	DIBS_OTHER_TYPE
};

enum dibs_event_subtype {
	DIBS_BUF_UNREGISTERED,
	DIBS_DEV_DISABLED,
	DIBS_DEV_ERR_STATE,
	DIBS_OTHER_SUBTYPE
};

struct dibs_event {
	u32 type;
	u32 subtype;
	/* GID of the device that caused the event */
	uuid_t gid;
	/* token of the DMB concerned, if any */
	u64 buffer_tok;
	u64 time;
	/* event specific data */
	u64 data;
};

/* Clients
 * -------
 */
#define MAX_DIBS_CLIENTS	8
#define NO_DIBS_CLIENT		0xff

struct dibs_client_ops {
	/**
	 * add_dev() - a dibs device is available to this client
	 * @dev: the device
	 *
	 * Called by dibs_register_client() for every present device, and for
	 * every device registered later. @dev is usable until del_dev().
	 *
	 * Context: process context; may sleep.
	 */
	void (*add_dev)(struct dibs_dev *dev);
	/**
	 * del_dev() - a dibs device goes away for this client
	 * @dev: the device
	 *
	 * Called when @dev is unregistered, and for every device by
	 * dibs_unregister_client(). No handle_irq() or handle_event() for
	 * @dev runs for this client any more when this is called. The client
	 * unregisters its DMBs and detaches attached DMBs before returning.
	 *
	 * Context: process context; may sleep.
	 */
	void (*del_dev)(struct dibs_dev *dev);
	/**
	 * handle_irq() - a DMB owned by this client was written with a signal
	 * @dev: the device owning the DMB
	 * @idx: index of the DMB on @dev (dibs_dmb.idx)
	 * @dmbemask: the DMB element bits signalled since the last call
	 *
	 * Signals for one DMB are delivered in order and never concurrently;
	 * signals that arrive while a call is pending are merged into one.
	 *
	 * Context: process context (a dibs work item); may sleep. With
	 * dibs_client.irq_atomic: the context of dibs_dev_irq(), atomic.
	 */
	void (*handle_irq)(struct dibs_dev *dev, unsigned int idx, u16 dmbemask);
	/**
	 * handle_event() - an event from the device or the fabric
	 * @dev: the device that received the event
	 * @event: the event; valid only during the call
	 *
	 * Context: process context (a dibs work item); may sleep.
	 */
	void (*handle_event)(struct dibs_dev *dev,
			     const struct dibs_event *event);
};

struct dibs_client {
	/* client name for logging and debugging purposes */
	const char *name;
	const struct dibs_client_ops *ops;
	/*
	 * Set before dibs_register_client() if handle_irq() only schedules
	 * work and never sleeps (SMC-D's schedules a tasklet): dibs_dev_irq()
	 * then calls it directly, in the driver's context (any context, up to
	 * hard irq) with the device's lock held, instead of from a work item.
	 * Such a handler must not call into dibs for the device. One work item
	 * hop less on every signal; signals are not merged.
	 */
	bool irq_atomic;
	/* client index - assigned and used by the dibs layer */
	u8 id;
};

/**
 * dibs_register_client() - register a client with the dibs layer
 * @client: the client; name and ops set, ops->add_dev/del_dev mandatory
 *
 * Calls client->ops->add_dev() for every present device.
 *
 * Context: process context; takes the device list mutex.
 * Return: 0, -EINVAL for incomplete ops, -ENOSPC if MAX_DIBS_CLIENTS are
 * registered already.
 */
int dibs_register_client(struct dibs_client *client);
/**
 * dibs_unregister_client() - unregister a client from the dibs layer
 * @client: a registered client
 *
 * Stops signal and event delivery to @client, waits for running handlers
 * and calls client->ops->del_dev() for every present device.
 *
 * Context: process context; takes the device list mutex.
 * Return: 0, or -EINVAL if @client is not registered.
 */
int dibs_unregister_client(struct dibs_client *client);

/* Devices
 * -------
 */

/*
 * Fabric id of loopback devices: a device with this fabric id can only reach
 * itself (compare dibs_dev.gid, or use query_remote_gid()).
 */
#define DIBS_LOOPBACK_FABRIC	0xFFFF

/*
 * Operations of a dibs device driver. All are mandatory except the last six:
 * add_vlan_id/del_vlan_id (deprecated), signal_event, and the mmapped-rdmb
 * trio support_mmapped_rdmb/attach_dmb/detach_dmb (all set or all NULL).
 * Clients call them through the dibs_*() wrappers, never directly.
 */
struct dibs_dev_ops {
	/**
	 * get_fabric_id() - fabric id of a device
	 * @dev: local device
	 *
	 * Devices with different fabric ids cannot communicate; equal ids are
	 * necessary but not sufficient (query_remote_gid() decides), except
	 * for DIBS_LOOPBACK_FABRIC, where a device reaches only itself.
	 *
	 * Return: the 16-bit fabric id
	 */
	u16 (*get_fabric_id)(struct dibs_dev *dev);
	/**
	 * query_remote_gid() - can @dev reach the device with GID @rgid?
	 * @dev: local device
	 * @rgid: GID of the remote device
	 * @vid_valid: whether @vid is given
	 * @vid: VLAN id the remote device must belong to
	 *
	 * Return: 0 if reachable, a negative errno otherwise
	 */
	int (*query_remote_gid)(struct dibs_dev *dev, const uuid_t *rgid,
				u32 vid_valid, u32 vid);
	/**
	 * max_dmbs() - number of DMBs a device of this driver can hold
	 *
	 * Return: maximum number of DMBs; DMB indices are below it
	 */
	int (*max_dmbs)(void);
	/**
	 * register_dmb() - allocate and register a DMB
	 * @dev: local device that owns the DMB
	 * @dmb: in: dmb_len, rgid, idx (0 = any), vlan, cpu_addr (NULL, or
	 *	 memory lent by the client); out: dmb_tok, cpu_addr, idx, dma_addr
	 * @client: the owning client
	 *
	 * Return: 0, -EINVAL for a bad length, -ENOSPC if no index is free,
	 * -ENOMEM, -EOPNOTSUPP if lent memory is not supported
	 */
	int (*register_dmb)(struct dibs_dev *dev, struct dibs_dmb *dmb,
			    struct dibs_client *client);
	/**
	 * unregister_dmb() - unregister and free a DMB
	 * @dev: the device that owns the DMB
	 * @dmb: the DMB as filled by register_dmb()
	 *
	 * For lent memory, waits until no device accesses it any more
	 * (attachments included): the client may free it on return.
	 *
	 * Context: process context when the memory was lent.
	 * Return: 0, or -EINVAL if @dev owns no DMB with this token
	 */
	int (*unregister_dmb)(struct dibs_dev *dev, struct dibs_dmb *dmb);
	/**
	 * move_data() - write into a (remote) DMB
	 * @dev: local device
	 * @dmb_tok: token of the target DMB
	 * @idx: DMB element index (0..15) signalled when @sf is set
	 * @sf: signal flag: raise handle_irq() at the DMB's owner
	 * @offset: offset into the DMB
	 * @data: source buffer
	 * @size: number of bytes
	 *
	 * Nothing is written unless the whole range is valid.
	 *
	 * Context: any context but hard irq; does not sleep.
	 * Return: 0, -EINVAL for a bad range, size or idx, -ENOENT for an
	 * unknown or unreachable token, -EACCES if the DMB is reserved for
	 * another remote device
	 */
	int (*move_data)(struct dibs_dev *dev, u64 dmb_tok, unsigned int idx,
			 bool sf, unsigned int offset, void *data,
			 unsigned int size);
	/**
	 * add_vlan_id() - make @dev a member of a VLAN (optional, deprecated)
	 * @dev: local device
	 * @vlan_id: VLAN id
	 *
	 * Return: 0 or a negative errno
	 */
	int (*add_vlan_id)(struct dibs_dev *dev, u64 vlan_id);
	/**
	 * del_vlan_id() - leave a VLAN (optional, deprecated)
	 * @dev: local device
	 * @vlan_id: VLAN id
	 *
	 * Return: 0 or a negative errno
	 */
	int (*del_vlan_id)(struct dibs_dev *dev, u64 vlan_id);
	/**
	 * signal_event() - send an event to a remote device (optional)
	 * @dev: local device
	 * @rgid: GID of the remote device
	 * @trigger_irq: whether the remote side should be interrupted
	 * @event_code: event code, delivered as dibs_event.subtype
	 * @info: event data, delivered as dibs_event.data
	 *
	 * Return: 0 or a negative errno
	 */
	int (*signal_event)(struct dibs_dev *dev, const uuid_t *rgid,
			    u32 trigger_irq, u32 event_code, u64 info);
	/**
	 * support_mmapped_rdmb() - can remote DMBs be attached? (optional)
	 * @dev: local device
	 *
	 * Return: nonzero if attach_dmb() is supported
	 */
	int (*support_mmapped_rdmb)(struct dibs_dev *dev);
	/**
	 * attach_dmb() - map a remote DMB for direct access (optional)
	 * @dev: local device
	 * @dmb: in: dmb_tok; out: cpu_addr, dmb_len, idx, dma_addr
	 *
	 * The mapping stays valid until detach_dmb(), even if the owner
	 * unregisters the DMB meanwhile.
	 *
	 * Return: 0 or a negative errno
	 */
	int (*attach_dmb)(struct dibs_dev *dev, struct dibs_dmb *dmb);
	/**
	 * detach_dmb() - undo one attach_dmb() (optional)
	 * @dev: local device
	 * @token: token of the attached DMB
	 *
	 * Return: 0, or -ENOENT if @dev has no attachment of @token
	 */
	int (*detach_dmb)(struct dibs_dev *dev, u64 token);
};

struct dibs_dev {
	struct list_head list;
	struct device dev;
	/* To be filled by the device driver before dibs_dev_add(): */
	const struct dibs_dev_ops *ops;
	uuid_t gid;
	/* private pointer of the device driver */
	void *drv_priv;

	/* private pointer per client, for client use only */
	void *priv[MAX_DIBS_CLIENTS];

	/*
	 * Take this lock (irqsave) before accessing any of the fields below.
	 * Lock order: dibs device list mutex, clients mutex, this lock.
	 */
	spinlock_t lock;
	/* owning client id per DMB index (NO_DIBS_CLIENT if free) */
	u8 *dmb_clientid_arr;
	/* registered clients by id; NULL while a client is not attached */
	struct dibs_client *subs[MAX_DIBS_CLIENTS];

	/* dibs core private; guarded by @lock as well: */
	/* DMB indices with undelivered signals, and their element masks */
	unsigned long *irq_pending;
	u16 *irq_mask;
	/* search position in irq_pending, for fairness between DMBs */
	unsigned int irq_next;
	/* queued struct dibs_event_entry, oldest first, and their number */
	struct list_head events;
	unsigned int nr_events;
	/* number of registered DMBs, and the size of the arrays above */
	unsigned int dmb_count;
	unsigned int max_dmbs;
	/* set by dibs_dev_del(): no new signals or events are queued */
	bool removed;
	/* delivers signals and events in process context */
	struct work_struct work;
};

static inline void dibs_set_priv(struct dibs_dev *dev,
				 struct dibs_client *client, void *priv)
{
	dev->priv[client->id] = priv;
}

static inline void *dibs_get_priv(struct dibs_dev *dev,
				  struct dibs_client *client)
{
	return dev->priv[client->id];
}

/* Functions for clients: one per device operation. */
u16 dibs_get_fabric_id(struct dibs_dev *dev);
int dibs_query_remote_gid(struct dibs_dev *dev, const uuid_t *rgid,
			  u32 vid_valid, u32 vid);
int dibs_max_dmbs(struct dibs_dev *dev);
int dibs_register_dmb(struct dibs_dev *dev, struct dibs_dmb *dmb,
		      struct dibs_client *client);
int dibs_unregister_dmb(struct dibs_dev *dev, struct dibs_dmb *dmb);
int dibs_move_data(struct dibs_dev *dev, u64 dmb_tok, unsigned int idx,
		   bool sf, unsigned int offset, void *data,
		   unsigned int size);
int dibs_add_vlan_id(struct dibs_dev *dev, u64 vlan_id);
int dibs_del_vlan_id(struct dibs_dev *dev, u64 vlan_id);
int dibs_signal_event(struct dibs_dev *dev, const uuid_t *rgid,
		      u32 trigger_irq, u32 event_code, u64 info);
bool dibs_support_mmapped_rdmb(struct dibs_dev *dev);
int dibs_attach_dmb(struct dibs_dev *dev, struct dibs_dmb *dmb);
int dibs_detach_dmb(struct dibs_dev *dev, u64 token);

/* ------- End of client-only functions ----------- */

/* Functions for device drivers: */
/**
 * dibs_dev_alloc() - allocate and initialise a device structure
 *
 * The returned device is initialised (device_initialize()): from here on,
 * release it with put_device(&dibs->dev), never kfree().
 *
 * Return: the device, or NULL
 */
struct dibs_dev *dibs_dev_alloc(void);
/**
 * dibs_dev_add() - register a device with the dibs layer and all clients
 * @dibs: device from dibs_dev_alloc() with name, ops, gid, drv_priv set
 *
 * Context: process context.
 * Return: 0 or a negative errno
 */
int dibs_dev_add(struct dibs_dev *dibs);
/**
 * dibs_dev_del() - unregister a device from all clients and the dibs layer
 * @dibs: a device added with dibs_dev_add()
 *
 * Calls del_dev() of every client; signals and events arriving later are
 * dropped. The driver still owns its reference (put_device()).
 *
 * Context: process context.
 */
void dibs_dev_del(struct dibs_dev *dibs);
/**
 * dibs_dev_irq() - report a signal for a DMB owned by @dibs
 * @dibs: the device owning the DMB
 * @idx: the DMB's index on @dibs
 * @dmbemask: DMB element bits
 *
 * Queues handle_irq() for the DMB's owning client. Signals for a DMB that
 * is not registered are dropped.
 *
 * Context: any context.
 */
void dibs_dev_irq(struct dibs_dev *dibs, unsigned int idx, u16 dmbemask);
/**
 * dibs_dev_event() - report an event on @dibs to all its clients
 * @dibs: the device
 * @event: the event, copied
 *
 * Context: any context.
 * Return: 0, or -ENOMEM / -ENOSPC (queue full) / -ENODEV (device removed) if
 * the event was dropped
 */
int dibs_dev_event(struct dibs_dev *dibs, const struct dibs_event *event);

#endif /* _DIBS_H */
