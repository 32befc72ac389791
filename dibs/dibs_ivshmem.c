// SPDX-License-Identifier: GPL-2.0
/*
 * dibs_ivshmem - a cross-VM dibs device on QEMU's ivshmem-doorbell
 *
 * Guests of one host that share a region (the ivshmem-doorbell PCI device,
 * 1af4:1110: shared memory in BAR2, doorbell registers in BAR0, one MSI-X
 * vector per doorbell) each get one dibs device, dibs_iv<N>, on the fabric
 * named in the region's header. A DMB lives in the owner's arena in the
 * region, so a peer's move_data() is a memcpy() into shared memory, and a
 * signal is a message in the owner's ring for the sender plus a doorbell.
 * The layout, the peer lifecycle and the trust model are described in
 * <linux/dibs_ivshmem.h>; the region is written by the host's server
 * (utils/vm/ivshmem-server) before any guest starts.
 *
 * What this driver reads from the region is untrusted: it checks every
 * offset, length, index and token it reads there before using it, reads
 * each such value once, and keeps a private copy of everything it published
 * itself (its DMBs, its GID), which it never re-reads from the region.
 *
 * Peers: the watchdog (every DIBS_IVSHMEM_HEARTBEAT_MS) advances this
 * guest's heartbeat, scans the peer table and drains the rings (a safety
 * net for a lost doorbell). A peer that joins is logged; one that leaves,
 * or whose heartbeat stands still for DIBS_IVSHMEM_PEER_TIMEOUT_MS, is
 * reported to the clients as DIBS_DEV_EVENT/DIBS_DEV_DISABLED with its GID
 * (SMC-D terminates its link groups with it), so a peer that is killed is
 * noticed within the timeout plus one watchdog period.
 *
 * GIDs are 64 random bits followed by 64 zero bits, as ISM's 64-bit GIDs
 * are carried in a dibs uuid, so that SMC-D in 6.1 (64-bit GIDs) names a
 * remote device exactly.
 *
 * Attachments (attach_dmb()) point into the owner's arena and stay mapped
 * until detach_dmb(), but the owner cannot see them: after it unregisters
 * the DMB, the range may be reused for another of its DMBs.
 */
#define pr_fmt(fmt) "dibs_ivshmem: " fmt

#include <linux/bitmap.h>
#include <linux/dibs.h>
#include <linux/dibs_ivshmem.h>
#include <linux/genalloc.h>
#include <linux/idr.h>
#include <linux/if_vlan.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>

#include "dibs_copy.h"

MODULE_DESCRIPTION("cross-VM dibs device on QEMU ivshmem-doorbell");
MODULE_LICENSE("GPL");

#define DIBS_IV_VENDOR		0x1af4
#define DIBS_IV_DEVICE		0x1110
/* move_data() signals element idx as bit idx of a u16 mask */
#define DIBS_IV_MAX_DMBE	BITS_PER_TYPE(u16)
/* how long a sender waits for room in a full ring */
#define DIBS_IV_RING_WAIT_US	2000

#define DIBS_IV_TOKEN_SLOT(tok)	((u32)(tok) & 0xff)
#define DIBS_IV_TOKEN_IDX(tok)	((u32)((tok) >> 8) & 0xff)

static_assert(DIBS_IVSHMEM_MAX_PEERS <= 256 && DIBS_IVSHMEM_MAX_DMBS <= 256);
static_assert((DIBS_IVSHMEM_RING_ENTRIES & (DIBS_IVSHMEM_RING_ENTRIES - 1)) == 0);
static_assert(sizeof(struct dibs_ivshmem_peer) == DIBS_IVSHMEM_PAGE);
static_assert(sizeof(struct dibs_ivshmem_hdr) <= DIBS_IVSHMEM_PAGE);

/* A DMB this guest owns: the private copy of its directory entry. */
struct dibs_iv_dmb {
	u64 token;
	u32 off;
	u32 len;
	uuid_t rgid;
	void *cpu_addr;
};

/* What this guest knows of another slot. */
struct dibs_iv_peer {
	bool live;
	u64 epoch;
	uuid_t gid;
	u64 heartbeat;
	/* jiffies when heartbeat last moved */
	unsigned long seen;
	/* an epoch that timed out: ignored until the slot has another */
	u64 dead_epoch;
};

struct dibs_iv_attach {
	struct list_head list;
	u64 token;
};

struct dibs_iv_dev {
	struct pci_dev *pdev;
	struct dibs_dev *dibs;
	void __iomem *regs;
	/* BAR2, mapped for the device's lifetime */
	void *region;
	/* checked copies of the header, never re-read */
	u64 section_size;
	u16 fabric_id;
	/* own slot (IVPosition) and section */
	u32 self;
	struct dibs_ivshmem_peer *me;
	int id;
	int irq;
	/* own arena; gen_pool has its own locking */
	struct gen_pool *arena;

	/* guards dmbs, dmb_used and attached; taken in any context */
	spinlock_t dmb_lock;
	struct dibs_iv_dmb dmbs[DIBS_IVSHMEM_MAX_DMBS];
	DECLARE_BITMAP(dmb_used, DIBS_IVSHMEM_MAX_DMBS);
	struct list_head attached;

	/* guards peers, vlans and nr_vlans (and their copy in *me) */
	spinlock_t peer_lock;
	struct dibs_iv_peer peers[DIBS_IVSHMEM_MAX_PEERS];
	u16 vlans[DIBS_IVSHMEM_MAX_VLANS];
	u32 nr_vlans;

	/* tx_lock[i] serialises this guest's senders into slot i's ring */
	spinlock_t tx_lock[DIBS_IVSHMEM_MAX_PEERS];
	/* guards rx_cons: the next message to read in each own ring */
	spinlock_t rx_lock;
	u32 rx_cons[DIBS_IVSHMEM_MAX_PEERS];

	/* only the watchdog touches these */
	struct delayed_work watchdog;
	u64 heartbeat;
	unsigned long last_watch;
};

static DEFINE_IDA(dibs_iv_ida);

static struct dibs_iv_dev *to_iv(struct dibs_dev *dibs)
{
	return dibs->drv_priv;
}

/* ---- the region: every pointer into it is computed here --------------- */

static void *dibs_iv_section(struct dibs_iv_dev *iv, u32 slot)
{
	return iv->region + DIBS_IVSHMEM_PAGE + (u64)slot * iv->section_size;
}

static struct dibs_ivshmem_peer *dibs_iv_peer_info(struct dibs_iv_dev *iv,
						   u32 slot)
{
	return dibs_iv_section(iv, slot);
}

static struct dibs_ivshmem_dmb_desc *dibs_iv_desc(struct dibs_iv_dev *iv,
						  u32 slot, u32 idx)
{
	struct dibs_ivshmem_dmb_desc *dir;

	dir = dibs_iv_section(iv, slot) + DIBS_IVSHMEM_DIR_OFF;
	return &dir[idx];
}

static struct dibs_ivshmem_ring *dibs_iv_ring(struct dibs_iv_dev *iv,
					      u32 receiver, u32 sender)
{
	struct dibs_ivshmem_ring *rings;

	rings = dibs_iv_section(iv, receiver) + DIBS_IVSHMEM_RINGS_OFF;
	return &rings[sender];
}

static void *dibs_iv_arena(struct dibs_iv_dev *iv, u32 slot)
{
	return dibs_iv_section(iv, slot) + DIBS_IVSHMEM_ARENA_OFF;
}

static u64 dibs_iv_arena_size(struct dibs_iv_dev *iv)
{
	return iv->section_size - DIBS_IVSHMEM_ARENA_OFF;
}

/* The header as this driver was built for it; -EINVAL names what differs. */
static int dibs_iv_check_header(struct pci_dev *pdev, const void *region,
				u64 bar_len, u64 *section_size, u16 *fabric_id)
{
	const struct dibs_ivshmem_hdr *h = region;
	u32 version = le32_to_cpu(READ_ONCE(h->version));
	u32 hdr_size = le32_to_cpu(READ_ONCE(h->hdr_size));
	u64 size = le64_to_cpu(READ_ONCE(h->region_size));
	u64 sect = le64_to_cpu(READ_ONCE(h->section_size));
	u16 fabric = le16_to_cpu(READ_ONCE(h->fabric_id));

	if (le64_to_cpu(READ_ONCE(h->magic)) != DIBS_IVSHMEM_MAGIC) {
		pci_info(pdev, "BAR2 holds no dibs region (no magic): not used\n");
		return -ENODEV;
	}
	if (version != DIBS_IVSHMEM_VERSION || hdr_size != sizeof(*h)) {
		pci_err(pdev, "region version %u (header %u bytes), want %u (%zu)\n",
			version, hdr_size, DIBS_IVSHMEM_VERSION, sizeof(*h));
		return -EINVAL;
	}
	if (size != bar_len || !is_power_of_2(size) ||
	    size < DIBS_IVSHMEM_MIN_REGION) {
		pci_err(pdev, "region size %llu, BAR2 %llu bytes\n", size, bar_len);
		return -EINVAL;
	}
	if (le16_to_cpu(READ_ONCE(h->max_peers)) != DIBS_IVSHMEM_MAX_PEERS ||
	    le16_to_cpu(READ_ONCE(h->max_dmbs)) != DIBS_IVSHMEM_MAX_DMBS ||
	    le16_to_cpu(READ_ONCE(h->ring_entries)) != DIBS_IVSHMEM_RING_ENTRIES ||
	    le64_to_cpu(READ_ONCE(h->section_off)) != DIBS_IVSHMEM_PAGE ||
	    le64_to_cpu(READ_ONCE(h->arena_off)) != DIBS_IVSHMEM_ARENA_OFF ||
	    sect != DIBS_IVSHMEM_SECTION_SIZE(size) ||
	    sect < DIBS_IVSHMEM_ARENA_OFF + (1ULL << 20)) {
		pci_err(pdev, "region layout does not match this driver's\n");
		return -EINVAL;
	}
	if (!fabric || fabric == DIBS_LOOPBACK_FABRIC) {
		pci_err(pdev, "region fabric id 0x%04x is reserved\n", fabric);
		return -EINVAL;
	}
	*section_size = sect;
	*fabric_id = fabric;
	return 0;
}

static void dibs_iv_read_gid(const struct dibs_ivshmem_peer *info, uuid_t *gid)
{
	memcpy(gid->b, info->gid, sizeof(gid->b));
}

static void dibs_iv_doorbell(struct dibs_iv_dev *iv, u32 slot)
{
	/* writel() orders the ring's stores before the doorbell */
	writel(slot << 16, iv->regs + DIBS_IVSHMEM_REG_DOORBELL);
}

/* ---- peers ---------------------------------------------------------------- */

/* Slot of the live peer with GID @gid, or -ENETUNREACH. Caller holds peer_lock. */
static int dibs_iv_find_peer(struct dibs_iv_dev *iv, const uuid_t *gid)
{
	u32 i;

	for (i = 0; i < DIBS_IVSHMEM_MAX_PEERS; i++)
		if (i != iv->self && iv->peers[i].live &&
		    uuid_equal(&iv->peers[i].gid, gid))
			return i;
	return -ENETUNREACH;
}

static bool dibs_iv_peer_live(struct dibs_iv_dev *iv, u32 slot)
{
	unsigned long flags;
	bool live;

	spin_lock_irqsave(&iv->peer_lock, flags);
	live = iv->peers[slot].live;
	spin_unlock_irqrestore(&iv->peer_lock, flags);
	return live;
}

static void dibs_iv_peer_gone(struct dibs_iv_dev *iv, u32 slot,
			      const uuid_t *gid, const char *why)
{
	struct dibs_event ev = {
		.type = DIBS_DEV_EVENT,
		.subtype = DIBS_DEV_DISABLED,
		.time = ktime_get_real_seconds(),
	};

	pci_info(iv->pdev, "peer %u (%pUb) %s\n", slot, gid, why);
	uuid_copy(&ev.gid, gid);
	if (dibs_dev_event(iv->dibs, &ev))
		pci_warn(iv->pdev, "peer %u: event lost\n", slot);
}

/* A valid GID for a new peer: not null, not ours, not another live peer's. */
static bool dibs_iv_gid_ok(struct dibs_iv_dev *iv, const uuid_t *gid)
{
	return !uuid_is_null(gid) && !uuid_equal(gid, &iv->dibs->gid) &&
	       dibs_iv_find_peer(iv, gid) < 0;
}

/* One look at slot @slot's table entry; reports what changed. */
static void dibs_iv_scan_peer(struct dibs_iv_dev *iv, u32 slot, bool stalled)
{
	struct dibs_ivshmem_peer *info = dibs_iv_peer_info(iv, slot);
	struct dibs_iv_peer *p = &iv->peers[slot];
	const char *gone = NULL;
	bool joined = false;
	unsigned long flags;
	uuid_t gid, old_gid;
	u32 state;
	u64 epoch, hb;

	state = le32_to_cpu(READ_ONCE(info->state));
	epoch = le64_to_cpu(READ_ONCE(info->epoch));
	hb = le64_to_cpu(READ_ONCE(info->heartbeat));
	/* the GID is published before LIVE */
	smp_rmb();
	dibs_iv_read_gid(info, &gid);

	spin_lock_irqsave(&iv->peer_lock, flags);
	if (p->live) {
		if (state != DIBS_IVSHMEM_PEER_LIVE) {
			gone = "left";
		} else if (epoch != p->epoch) {
			gone = "was replaced";
		} else if (hb != p->heartbeat || stalled) {
			p->heartbeat = hb;
			p->seen = jiffies;
		} else if (time_after(jiffies, p->seen +
				      msecs_to_jiffies(DIBS_IVSHMEM_PEER_TIMEOUT_MS))) {
			gone = "timed out";
			p->dead_epoch = epoch;
		}
		if (gone) {
			p->live = false;
			uuid_copy(&old_gid, &p->gid);
		}
	}
	if (!p->live && state == DIBS_IVSHMEM_PEER_LIVE && epoch &&
	    epoch != p->dead_epoch && dibs_iv_gid_ok(iv, &gid)) {
		p->live = true;
		p->epoch = epoch;
		uuid_copy(&p->gid, &gid);
		p->heartbeat = hb;
		p->seen = jiffies;
		joined = true;
	}
	spin_unlock_irqrestore(&iv->peer_lock, flags);

	if (gone)
		dibs_iv_peer_gone(iv, slot, &old_gid, gone);
	if (joined)
		pci_info(iv->pdev, "peer %u (%pUb) joined\n", slot, &gid);
}

/* ---- receive: own rings --------------------------------------------------- */

static void dibs_iv_handle_msg(struct dibs_iv_dev *iv, u32 sender,
			       const struct dibs_ivshmem_msg *m)
{
	struct dibs_event ev = { .type = DIBS_SW_EVENT };
	u32 type = le32_to_cpu(m->type);
	u32 idx = le32_to_cpu(m->idx);
	u16 mask = le32_to_cpu(m->mask);
	unsigned long flags;
	bool ok;

	if (type == DIBS_IVSHMEM_MSG_SIGNAL) {
		if (idx >= DIBS_IVSHMEM_MAX_DMBS)
			return;
		spin_lock_irqsave(&iv->dmb_lock, flags);
		ok = test_bit(idx, iv->dmb_used) &&
		     iv->dmbs[idx].token == le64_to_cpu(m->token);
		spin_unlock_irqrestore(&iv->dmb_lock, flags);
		/* a signal for a DMB unregistered meanwhile is stale: dropped */
		if (ok && mask)
			dibs_dev_irq(iv->dibs, idx, mask);
	} else if (type == DIBS_IVSHMEM_MSG_EVENT) {
		spin_lock_irqsave(&iv->peer_lock, flags);
		ok = iv->peers[sender].live;
		uuid_copy(&ev.gid, &iv->peers[sender].gid);
		spin_unlock_irqrestore(&iv->peer_lock, flags);
		if (!ok)
			return;
		ev.subtype = le32_to_cpu(m->code);
		ev.data = le64_to_cpu(m->info);
		ev.time = ktime_get_real_seconds();
		dibs_dev_event(iv->dibs, &ev);
	}
	/* anything else (a zeroed entry of a ring cleared on join) is skipped */
}

/* Reads every own ring up to its producer. Any context. */
static void dibs_iv_drain(struct dibs_iv_dev *iv)
{
	struct dibs_ivshmem_ring *ring;
	struct dibs_ivshmem_msg m;
	unsigned long flags;
	u32 s, prod, cons, e;

	spin_lock_irqsave(&iv->rx_lock, flags);
	for (s = 0; s < DIBS_IVSHMEM_MAX_PEERS; s++) {
		if (s == iv->self)
			continue;
		ring = dibs_iv_ring(iv, iv->self, s);
		prod = le32_to_cpu(READ_ONCE(ring->prod));
		cons = iv->rx_cons[s];
		if (prod == cons)
			continue;
		if (prod - cons > DIBS_IVSHMEM_RING_ENTRIES) {
			dev_warn_ratelimited(&iv->pdev->dev,
					     "ring of slot %u corrupt (prod %u, cons %u): skipped\n",
					     s, prod, cons);
			cons = prod;
		}
		/* entries are written before prod */
		smp_rmb();
		for (; cons != prod; cons++) {
			e = cons & (DIBS_IVSHMEM_RING_ENTRIES - 1);
			memcpy(&m, &ring->msg[e], sizeof(m));
			dibs_iv_handle_msg(iv, s, &m);
		}
		/* the entries are read before the sender may reuse them */
		smp_mb();
		WRITE_ONCE(ring->cons, cpu_to_le32(cons));
		iv->rx_cons[s] = cons;
	}
	spin_unlock_irqrestore(&iv->rx_lock, flags);
}

static irqreturn_t dibs_iv_irq(int irq, void *data)
{
	dibs_iv_drain(data);
	return IRQ_HANDLED;
}

/* ---- send: other peers' rings --------------------------------------------- */

/* Appends @m to the ring for this guest in slot @slot's section. */
static int dibs_iv_send(struct dibs_iv_dev *iv, u32 slot,
			const struct dibs_ivshmem_msg *m)
{
	struct dibs_ivshmem_ring *ring = dibs_iv_ring(iv, slot, iv->self);
	unsigned long flags;
	ktime_t deadline = 0;
	u32 prod, cons;
	int rc = 0;

	spin_lock_irqsave(&iv->tx_lock[slot], flags);
	for (;;) {
		prod = le32_to_cpu(READ_ONCE(ring->prod));
		cons = le32_to_cpu(READ_ONCE(ring->cons));
		if (prod - cons < DIBS_IVSHMEM_RING_ENTRIES)
			break;
		if (prod - cons > DIBS_IVSHMEM_RING_ENTRIES) {
			dev_warn_ratelimited(&iv->pdev->dev,
					     "ring to slot %u corrupt (prod %u, cons %u)\n",
					     slot, prod, cons);
			rc = -EIO;
			goto unlock;
		}
		/*
		 * Full: the receiver is behind. Remind it, then spin a little
		 * (callers may be atomic); a receiver that is gone times out.
		 */
		if (!deadline) {
			deadline = ktime_add_us(ktime_get(), DIBS_IV_RING_WAIT_US);
			dibs_iv_doorbell(iv, slot);
		} else if (ktime_after(ktime_get(), deadline)) {
			dev_warn_ratelimited(&iv->pdev->dev, "ring to slot %u full\n",
					     slot);
			rc = -EBUSY;
			goto unlock;
		}
		cpu_relax();
	}
	/* the receiver has read the entry before it moved cons past it */
	smp_mb();
	memcpy(&ring->msg[prod & (DIBS_IVSHMEM_RING_ENTRIES - 1)], m, sizeof(*m));
	/* the entry (and the data written before it) before prod */
	smp_wmb();
	WRITE_ONCE(ring->prod, cpu_to_le32(prod + 1));
	dibs_iv_doorbell(iv, slot);
unlock:
	spin_unlock_irqrestore(&iv->tx_lock[slot], flags);
	return rc;
}

/* ---- dibs_dev_ops ------------------------------------------------------------ */

static u16 dibs_iv_get_fabric_id(struct dibs_dev *dibs)
{
	return to_iv(dibs)->fabric_id;
}

/* Whether peer @slot published VLAN @vid; the count is clamped, not trusted. */
static bool dibs_iv_peer_has_vlan(struct dibs_iv_dev *iv, u32 slot, u32 vid)
{
	const struct dibs_ivshmem_peer *info = dibs_iv_peer_info(iv, slot);
	u32 n = le32_to_cpu(READ_ONCE(info->nr_vlans)), i;

	for (i = 0; i < min_t(u32, n, DIBS_IVSHMEM_MAX_VLANS); i++)
		if (le16_to_cpu(READ_ONCE(info->vlan[i])) == vid)
			return true;
	return false;
}

/* Whether this device has VLAN @vid (its private set). Caller holds peer_lock. */
static bool dibs_iv_own_vlan(struct dibs_iv_dev *iv, u32 vid)
{
	u32 i;

	for (i = 0; i < iv->nr_vlans; i++)
		if (iv->vlans[i] == vid)
			return true;
	return false;
}

static int dibs_iv_query_remote_gid(struct dibs_dev *dibs, const uuid_t *rgid,
				    u32 vid_valid, u32 vid)
{
	struct dibs_iv_dev *iv = to_iv(dibs);
	unsigned long flags;
	bool self;
	int slot;

	spin_lock_irqsave(&iv->peer_lock, flags);
	self = uuid_equal(rgid, &dibs->gid);
	slot = self ? iv->self : dibs_iv_find_peer(iv, rgid);
	if (self && vid_valid && !dibs_iv_own_vlan(iv, vid))
		slot = -ENETUNREACH;
	spin_unlock_irqrestore(&iv->peer_lock, flags);
	if (slot < 0)
		return slot;
	if (!self && vid_valid && !dibs_iv_peer_has_vlan(iv, slot, vid))
		return -ENETUNREACH;
	return 0;
}

static int dibs_iv_max_dmbs(void)
{
	return DIBS_IVSHMEM_MAX_DMBS;
}

static int dibs_iv_register_dmb(struct dibs_dev *dibs, struct dibs_dmb *dmb,
				struct dibs_client *client)
{
	struct dibs_iv_dev *iv = to_iv(dibs);
	struct dibs_ivshmem_dmb_desc *desc;
	struct dibs_iv_dmb *d;
	unsigned long flags, addr;
	u32 len, idx;
	u64 tok;
	int rc;

	if (dmb->cpu_addr)
		return -EOPNOTSUPP;
	if (!dmb->dmb_len || dmb->dmb_len > dibs_iv_arena_size(iv))
		return -EINVAL;
	if (dmb->idx >= DIBS_IVSHMEM_MAX_DMBS)
		return -EINVAL;
	len = PAGE_ALIGN(dmb->dmb_len);
	addr = gen_pool_alloc(iv->arena, len);
	if (!addr)
		return -ENOMEM;
	memset((void *)addr, 0, len);

	spin_lock_irqsave(&iv->dmb_lock, flags);
	if (dmb->idx) {
		idx = dmb->idx;
		rc = test_bit(idx, iv->dmb_used) ? -EBUSY : 0;
	} else {
		idx = find_first_zero_bit(iv->dmb_used, DIBS_IVSHMEM_MAX_DMBS);
		rc = idx < DIBS_IVSHMEM_MAX_DMBS ? 0 : -ENOSPC;
	}
	if (rc) {
		spin_unlock_irqrestore(&iv->dmb_lock, flags);
		goto err_free;
	}
	__set_bit(idx, iv->dmb_used);
	do {
		tok = (get_random_u64() << 16) | (idx << 8) | iv->self;
	} while (!(tok >> 16));
	d = &iv->dmbs[idx];
	d->token = tok;
	d->off = addr - (unsigned long)dibs_iv_arena(iv, iv->self);
	d->len = len;
	d->rgid = dmb->rgid;
	d->cpu_addr = (void *)addr;

	/* publish the entry, its token last */
	desc = dibs_iv_desc(iv, iv->self, idx);
	WRITE_ONCE(desc->off, cpu_to_le32(d->off));
	WRITE_ONCE(desc->len, cpu_to_le32(len));
	memcpy(desc->rgid, d->rgid.b, sizeof(desc->rgid));
	/* pairs with the smp_rmb() in dibs_iv_locate(): the entry before its token */
	smp_wmb();
	WRITE_ONCE(desc->token, cpu_to_le64(tok));
	spin_unlock_irqrestore(&iv->dmb_lock, flags);

	dmb->dmb_tok = tok;
	dmb->cpu_addr = d->cpu_addr;
	dmb->idx = idx;
	dmb->dma_addr = 0;
	return 0;

err_free:
	gen_pool_free(iv->arena, addr, len);
	return rc;
}

static int dibs_iv_unregister_dmb(struct dibs_dev *dibs, struct dibs_dmb *dmb)
{
	struct dibs_iv_dev *iv = to_iv(dibs);
	unsigned long flags, addr;
	u32 idx = dmb->idx, len;

	if (idx >= DIBS_IVSHMEM_MAX_DMBS)
		return -EINVAL;
	spin_lock_irqsave(&iv->dmb_lock, flags);
	if (!test_bit(idx, iv->dmb_used) || iv->dmbs[idx].token != dmb->dmb_tok) {
		spin_unlock_irqrestore(&iv->dmb_lock, flags);
		return -EINVAL;
	}
	WRITE_ONCE(dibs_iv_desc(iv, iv->self, idx)->token, 0);
	/* the cleared token before any reuse of the entry (dibs_iv_locate()) */
	smp_wmb();
	addr = (unsigned long)iv->dmbs[idx].cpu_addr;
	len = iv->dmbs[idx].len;
	memset(&iv->dmbs[idx], 0, sizeof(iv->dmbs[idx]));
	__clear_bit(idx, iv->dmb_used);
	spin_unlock_irqrestore(&iv->dmb_lock, flags);

	gen_pool_free(iv->arena, addr, len);
	return 0;
}

/*
 * Where DMB @tok is: its address and length, from the private table for an
 * own DMB, else from its owner's directory entry, checked against the
 * layout. -ENOENT for an unknown token or a peer that is not live, -EACCES
 * if the DMB is reserved for another device.
 */
static int dibs_iv_locate(struct dibs_iv_dev *iv, u64 tok, void **addr,
			  u32 *len)
{
	u32 slot = DIBS_IV_TOKEN_SLOT(tok), idx = DIBS_IV_TOKEN_IDX(tok);
	struct dibs_ivshmem_dmb_desc *desc;
	unsigned long flags;
	u32 off, n;
	uuid_t rgid;
	int rc = 0;

	/* the token came from a peer (SMC-D's CLC, a verbs rkey): its fields too */
	if (slot >= DIBS_IVSHMEM_MAX_PEERS || idx >= DIBS_IVSHMEM_MAX_DMBS || !tok)
		return -ENOENT;
	if (slot == iv->self) {
		spin_lock_irqsave(&iv->dmb_lock, flags);
		if (!test_bit(idx, iv->dmb_used) || iv->dmbs[idx].token != tok)
			rc = -ENOENT;
		else if (!uuid_is_null(&iv->dmbs[idx].rgid) &&
			 !uuid_equal(&iv->dmbs[idx].rgid, &iv->dibs->gid))
			rc = -EACCES;
		*addr = iv->dmbs[idx].cpu_addr;
		*len = iv->dmbs[idx].len;
		spin_unlock_irqrestore(&iv->dmb_lock, flags);
		return rc;
	}
	if (!dibs_iv_peer_live(iv, slot))
		return -ENOENT;
	desc = dibs_iv_desc(iv, slot, idx);
	if (le64_to_cpu(READ_ONCE(desc->token)) != tok)
		return -ENOENT;
	/* the entry is published before its token */
	smp_rmb();
	off = le32_to_cpu(READ_ONCE(desc->off));
	n = le32_to_cpu(READ_ONCE(desc->len));
	memcpy(rgid.b, desc->rgid, sizeof(rgid.b));
	/*
	 * Still the same token: the fields are this DMB's, not those of one
	 * registered at the index meanwhile (the owner clears the token before
	 * it rewrites them). A hostile owner can lie anyway; the checks below
	 * keep the access inside its arena.
	 */
	smp_rmb();
	if (le64_to_cpu(READ_ONCE(desc->token)) != tok)
		return -ENOENT;
	if (!n || off > dibs_iv_arena_size(iv) || n > dibs_iv_arena_size(iv) - off) {
		dev_warn_ratelimited(&iv->pdev->dev,
				     "slot %u DMB %u: bad range [%u, +%u): refused\n",
				     slot, idx, off, n);
		return -ENOENT;
	}
	if (!uuid_is_null(&rgid) && !uuid_equal(&rgid, &iv->dibs->gid))
		return -EACCES;
	*addr = dibs_iv_arena(iv, slot) + off;
	*len = n;
	return 0;
}

static int dibs_iv_move_data(struct dibs_dev *dibs, u64 dmb_tok,
			     unsigned int idx, bool sf, unsigned int offset,
			     void *data, unsigned int size)
{
	struct dibs_iv_dev *iv = to_iv(dibs);
	u32 slot = DIBS_IV_TOKEN_SLOT(dmb_tok), len;
	struct dibs_ivshmem_msg m = {};
	void *addr;
	int rc;

	if (!size || idx >= DIBS_IV_MAX_DMBE)
		return -EINVAL;
	rc = dibs_iv_locate(iv, dmb_tok, &addr, &len);
	if (rc)
		return rc;
	if (offset > len || size > len - offset)
		return -EINVAL;
	dibs_copy_to_dmb(addr + offset, data, size);
	if (!sf)
		return 0;
	if (slot == iv->self) {
		dibs_dev_irq(dibs, DIBS_IV_TOKEN_IDX(dmb_tok), BIT(idx));
		return 0;
	}
	m.type = cpu_to_le32(DIBS_IVSHMEM_MSG_SIGNAL);
	m.idx = cpu_to_le32(DIBS_IV_TOKEN_IDX(dmb_tok));
	m.token = cpu_to_le64(dmb_tok);
	m.mask = cpu_to_le32(BIT(idx));
	return dibs_iv_send(iv, slot, &m);
}

/* Publishes the VLAN set. Caller holds peer_lock. */
static void dibs_iv_publish_vlans(struct dibs_iv_dev *iv)
{
	u32 i;

	for (i = 0; i < iv->nr_vlans; i++)
		WRITE_ONCE(iv->me->vlan[i], cpu_to_le16(iv->vlans[i]));
	WRITE_ONCE(iv->me->nr_vlans, cpu_to_le32(iv->nr_vlans));
}

static int dibs_iv_add_vlan_id(struct dibs_dev *dibs, u64 vlan_id)
{
	struct dibs_iv_dev *iv = to_iv(dibs);
	unsigned long flags;
	int rc = 0;

	if (vlan_id >= VLAN_N_VID)
		return -EINVAL;
	spin_lock_irqsave(&iv->peer_lock, flags);
	if (dibs_iv_own_vlan(iv, vlan_id))
		goto unlock;
	if (iv->nr_vlans == DIBS_IVSHMEM_MAX_VLANS) {
		rc = -ENOSPC;
		goto unlock;
	}
	iv->vlans[iv->nr_vlans++] = vlan_id;
	dibs_iv_publish_vlans(iv);
unlock:
	spin_unlock_irqrestore(&iv->peer_lock, flags);
	return rc;
}

static int dibs_iv_del_vlan_id(struct dibs_dev *dibs, u64 vlan_id)
{
	struct dibs_iv_dev *iv = to_iv(dibs);
	unsigned long flags;
	int rc = -ENOENT;
	u32 i;

	spin_lock_irqsave(&iv->peer_lock, flags);
	for (i = 0; i < iv->nr_vlans; i++) {
		if (iv->vlans[i] == vlan_id) {
			iv->vlans[i] = iv->vlans[--iv->nr_vlans];
			dibs_iv_publish_vlans(iv);
			rc = 0;
			break;
		}
	}
	spin_unlock_irqrestore(&iv->peer_lock, flags);
	return rc;
}

/*
 * The peer receives DIBS_SW_EVENT with this device's GID. As on loopback,
 * an event to the device itself is dropped, and the doorbell always rings.
 */
static int dibs_iv_signal_event(struct dibs_dev *dibs, const uuid_t *rgid,
				u32 trigger_irq, u32 event_code, u64 info)
{
	struct dibs_iv_dev *iv = to_iv(dibs);
	struct dibs_ivshmem_msg m = {
		.type = cpu_to_le32(DIBS_IVSHMEM_MSG_EVENT),
		.code = cpu_to_le32(event_code),
		.info = cpu_to_le64(info),
	};
	unsigned long flags;
	int slot;

	if (uuid_equal(rgid, &dibs->gid))
		return 0;
	spin_lock_irqsave(&iv->peer_lock, flags);
	slot = dibs_iv_find_peer(iv, rgid);
	spin_unlock_irqrestore(&iv->peer_lock, flags);
	if (slot < 0)
		return slot;
	return dibs_iv_send(iv, slot, &m);
}

static int dibs_iv_support_mmapped_rdmb(struct dibs_dev *dibs)
{
	return 1;
}

static int dibs_iv_attach_dmb(struct dibs_dev *dibs, struct dibs_dmb *dmb)
{
	struct dibs_iv_dev *iv = to_iv(dibs);
	struct dibs_iv_attach *a;
	unsigned long flags;
	void *addr;
	u32 len;
	int rc;

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	rc = dibs_iv_locate(iv, dmb->dmb_tok, &addr, &len);
	if (rc) {
		kfree(a);
		return rc;
	}
	a->token = dmb->dmb_tok;
	spin_lock_irqsave(&iv->dmb_lock, flags);
	list_add_tail(&a->list, &iv->attached);
	spin_unlock_irqrestore(&iv->dmb_lock, flags);
	dmb->cpu_addr = addr;
	dmb->dmb_len = len;
	dmb->idx = DIBS_IV_TOKEN_IDX(dmb->dmb_tok);
	dmb->dma_addr = 0;
	return 0;
}

static int dibs_iv_detach_dmb(struct dibs_dev *dibs, u64 token)
{
	struct dibs_iv_dev *iv = to_iv(dibs);
	struct dibs_iv_attach *a, *found = NULL;
	unsigned long flags;

	spin_lock_irqsave(&iv->dmb_lock, flags);
	list_for_each_entry(a, &iv->attached, list) {
		if (a->token == token) {
			list_del(&a->list);
			found = a;
			break;
		}
	}
	spin_unlock_irqrestore(&iv->dmb_lock, flags);
	if (!found)
		return -ENOENT;
	kfree(found);
	return 0;
}

static const struct dibs_dev_ops dibs_iv_ops = {
	.get_fabric_id = dibs_iv_get_fabric_id,
	.query_remote_gid = dibs_iv_query_remote_gid,
	.max_dmbs = dibs_iv_max_dmbs,
	.register_dmb = dibs_iv_register_dmb,
	.unregister_dmb = dibs_iv_unregister_dmb,
	.move_data = dibs_iv_move_data,
	.add_vlan_id = dibs_iv_add_vlan_id,
	.del_vlan_id = dibs_iv_del_vlan_id,
	.signal_event = dibs_iv_signal_event,
	.support_mmapped_rdmb = dibs_iv_support_mmapped_rdmb,
	.attach_dmb = dibs_iv_attach_dmb,
	.detach_dmb = dibs_iv_detach_dmb,
};

/* ---- watchdog ---------------------------------------------------------------- */

static void dibs_iv_watch(struct dibs_iv_dev *iv)
{
	unsigned long now = jiffies;
	bool stalled;
	u32 i;

	/*
	 * If this guest itself did not run for a while, the peers' standing
	 * heartbeats say nothing about them: start their clocks anew.
	 */
	stalled = time_after(now, iv->last_watch +
			     msecs_to_jiffies(DIBS_IVSHMEM_PEER_TIMEOUT_MS / 2));
	iv->last_watch = now;
	WRITE_ONCE(iv->me->heartbeat, cpu_to_le64(++iv->heartbeat));
	for (i = 0; i < DIBS_IVSHMEM_MAX_PEERS; i++)
		if (i != iv->self)
			dibs_iv_scan_peer(iv, i, stalled);
	dibs_iv_drain(iv);
}

static void dibs_iv_watchdog(struct work_struct *work)
{
	struct dibs_iv_dev *iv = container_of(to_delayed_work(work),
					      struct dibs_iv_dev, watchdog);

	dibs_iv_watch(iv);
	schedule_delayed_work(&iv->watchdog,
			      msecs_to_jiffies(DIBS_IVSHMEM_HEARTBEAT_MS));
}

/* ---- sysfs: the PCI device's "peers" ------------------------------------------- */

/* One line per live slot: "<slot> <gid> self|peer". */
static ssize_t peers_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct dibs_iv_dev *iv = dev_get_drvdata(dev);
	unsigned long flags;
	int len = 0;
	u32 i;

	spin_lock_irqsave(&iv->peer_lock, flags);
	for (i = 0; i < DIBS_IVSHMEM_MAX_PEERS; i++) {
		if (i == iv->self)
			len += sysfs_emit_at(buf, len, "%u %pUb self\n", i,
					     &iv->dibs->gid);
		else if (iv->peers[i].live)
			len += sysfs_emit_at(buf, len, "%u %pUb peer\n", i,
					     &iv->peers[i].gid);
	}
	spin_unlock_irqrestore(&iv->peer_lock, flags);
	return len;
}
static DEVICE_ATTR_RO(peers);

static struct attribute *dibs_iv_attrs[] = {
	&dev_attr_peers.attr,
	NULL,
};
ATTRIBUTE_GROUPS(dibs_iv);

/* ---- PCI driver ------------------------------------------------------------------ */

/* Takes the own slot: clears the section's tables, publishes GID and epoch. */
static void dibs_iv_join(struct dibs_iv_dev *iv)
{
	struct dibs_ivshmem_peer *me = iv->me;
	unsigned long flags;
	u64 epoch;

	memset(me, 0, DIBS_IVSHMEM_ARENA_OFF);
	memset(iv->rx_cons, 0, sizeof(iv->rx_cons));
	/* unique among the peers seen so far; a later clash is refused by them */
	spin_lock_irqsave(&iv->peer_lock, flags);
	do {
		uuid_gen(&iv->dibs->gid);
		memset(&iv->dibs->gid.b[8], 0, 8);
	} while (dibs_iv_find_peer(iv, &iv->dibs->gid) >= 0);
	spin_unlock_irqrestore(&iv->peer_lock, flags);
	do {
		epoch = get_random_u64();
	} while (!epoch);
	memcpy(me->gid, iv->dibs->gid.b, sizeof(me->gid));
	WRITE_ONCE(me->epoch, cpu_to_le64(epoch));
	/* everything above before LIVE */
	smp_wmb();
	WRITE_ONCE(me->state, cpu_to_le32(DIBS_IVSHMEM_PEER_LIVE));
}

static int dibs_iv_probe(struct pci_dev *pdev, const struct pci_device_id *ent)
{
	resource_size_t bar2 = pci_resource_start(pdev, 2);
	u64 bar2_len = pci_resource_len(pdev, 2);
	struct dibs_iv_dev *iv;
	struct dibs_dev *dibs;
	u32 i;
	int rc;

	rc = pcim_enable_device(pdev);
	if (rc)
		return rc;
	rc = pcim_iomap_regions(pdev, BIT(0), KBUILD_MODNAME);
	if (rc)
		return rc;
	if (!bar2_len || !devm_request_mem_region(&pdev->dev, bar2, bar2_len,
						  KBUILD_MODNAME))
		return -EBUSY;

	iv = devm_kzalloc(&pdev->dev, sizeof(*iv), GFP_KERNEL);
	if (!iv)
		return -ENOMEM;
	iv->pdev = pdev;
	iv->regs = pcim_iomap_table(pdev)[0];
	iv->region = devm_memremap(&pdev->dev, bar2, bar2_len, MEMREMAP_WB);
	if (IS_ERR(iv->region))
		return PTR_ERR(iv->region);
	rc = dibs_iv_check_header(pdev, iv->region, bar2_len, &iv->section_size,
				  &iv->fabric_id);
	if (rc)
		return rc;
	iv->self = readl(iv->regs + DIBS_IVSHMEM_REG_IVPOSITION);
	if (iv->self >= DIBS_IVSHMEM_MAX_PEERS) {
		pci_err(pdev, "peer id %u: the region has slots for %u peers\n",
			iv->self, DIBS_IVSHMEM_MAX_PEERS);
		return -ENOSPC;
	}
	iv->me = dibs_iv_peer_info(iv, iv->self);
	spin_lock_init(&iv->dmb_lock);
	spin_lock_init(&iv->peer_lock);
	spin_lock_init(&iv->rx_lock);
	for (i = 0; i < DIBS_IVSHMEM_MAX_PEERS; i++)
		spin_lock_init(&iv->tx_lock[i]);
	INIT_LIST_HEAD(&iv->attached);
	INIT_DELAYED_WORK(&iv->watchdog, dibs_iv_watchdog);

	iv->arena = devm_gen_pool_create(&pdev->dev, PAGE_SHIFT, -1, NULL);
	if (IS_ERR(iv->arena))
		return PTR_ERR(iv->arena);
	rc = gen_pool_add(iv->arena, (unsigned long)dibs_iv_arena(iv, iv->self),
			  dibs_iv_arena_size(iv), -1);
	if (rc)
		return rc;

	iv->id = ida_alloc(&dibs_iv_ida, GFP_KERNEL);
	if (iv->id < 0)
		return iv->id;
	dibs = dibs_dev_alloc();
	if (!dibs) {
		rc = -ENOMEM;
		goto err_ida;
	}
	iv->dibs = dibs;
	dibs->drv_priv = iv;
	dibs->ops = &dibs_iv_ops;
	dibs->dev.parent = &pdev->dev;
	rc = dev_set_name(&dibs->dev, "dibs_iv%d", iv->id);
	if (rc)
		goto err_put;

	/* the own slot before the doorbell: drain() reads its rings */
	dibs_iv_join(iv);

	/* without bus mastering QEMU drops every MSI-X message */
	pci_set_master(pdev);
	rc = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSIX);
	if (rc < 0) {
		pci_err(pdev, "no MSI-X vector (ivshmem-plain has none: use ivshmem-doorbell): %d\n",
			rc);
		goto err_leave;
	}
	iv->irq = pci_irq_vector(pdev, 0);
	rc = request_irq(iv->irq, dibs_iv_irq, 0, dev_name(&dibs->dev), iv);
	if (rc)
		goto err_vectors;

	pci_set_drvdata(pdev, iv);
	/*
	 * Know the peers before clients look for them; the watchdog starts
	 * once the device is added, so that no peer event precedes the device.
	 */
	iv->last_watch = jiffies;
	dibs_iv_watch(iv);
	rc = dibs_dev_add(dibs);
	if (rc)
		goto err_irq;
	schedule_delayed_work(&iv->watchdog,
			      msecs_to_jiffies(DIBS_IVSHMEM_HEARTBEAT_MS));
	pci_info(pdev, "%s: slot %u, gid %pUb, fabric 0x%04x, %llu MiB region\n",
		 dev_name(&dibs->dev), iv->self, &dibs->gid, iv->fabric_id,
		 bar2_len >> 20);
	return 0;

err_irq:
	free_irq(iv->irq, iv);
err_vectors:
	pci_free_irq_vectors(pdev);
err_leave:
	WRITE_ONCE(iv->me->state, cpu_to_le32(DIBS_IVSHMEM_PEER_FREE));
err_put:
	/* pairs with dibs_dev_alloc() */
	put_device(&dibs->dev);
err_ida:
	ida_free(&dibs_iv_ida, iv->id);
	return rc;
}

static void dibs_iv_remove(struct pci_dev *pdev)
{
	struct dibs_iv_dev *iv = pci_get_drvdata(pdev);
	struct dibs_iv_attach *a, *tmp;
	u32 i;

	/* clients unregister their DMBs and detach in del_dev() */
	dibs_dev_del(iv->dibs);
	cancel_delayed_work_sync(&iv->watchdog);
	WRITE_ONCE(iv->me->state, cpu_to_le32(DIBS_IVSHMEM_PEER_FREE));
	free_irq(iv->irq, iv);
	pci_free_irq_vectors(pdev);

	/* a client that left DMBs behind: the pool must be empty when destroyed */
	for_each_set_bit(i, iv->dmb_used, DIBS_IVSHMEM_MAX_DMBS) {
		pci_warn(pdev, "DMB %u still registered at removal\n", i);
		gen_pool_free(iv->arena, (unsigned long)iv->dmbs[i].cpu_addr,
			      iv->dmbs[i].len);
	}
	list_for_each_entry_safe(a, tmp, &iv->attached, list) {
		list_del(&a->list);
		kfree(a);
	}
	iv->dibs->drv_priv = NULL;
	/* pairs with dibs_dev_alloc() */
	put_device(&iv->dibs->dev);
	ida_free(&dibs_iv_ida, iv->id);
}

static const struct pci_device_id dibs_iv_ids[] = {
	{ PCI_DEVICE(DIBS_IV_VENDOR, DIBS_IV_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, dibs_iv_ids);

static struct pci_driver dibs_iv_driver = {
	.name = KBUILD_MODNAME,
	.id_table = dibs_iv_ids,
	.probe = dibs_iv_probe,
	.remove = dibs_iv_remove,
	.dev_groups = dibs_iv_groups,
};
module_pci_driver(dibs_iv_driver);
