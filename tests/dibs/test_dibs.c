// SPDX-License-Identifier: GPL-2.0
/*
 * test_dibs - self-test of the dibs layer and the loopback device
 *
 * Follows the lib/test_*.ko convention (Debian's 6.1 has no KUnit): the
 * cases run when the module loads, each prints "ok N name" or "not ok N
 * name" with the failing check, a summary line follows, and the load fails
 * with -EINVAL if any case failed. The module unloads cleanly afterwards.
 *
 * Needs dibs.ko and dibs_loopback.ko; creates its own loopback devices
 * (dibs_lo40 and up) and removes them again.
 */
#define pr_fmt(fmt) "test_dibs: " fmt

#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/dibs.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include "../../dibs/dibs_loopback.h"

MODULE_DESCRIPTION("dibs self-test");
MODULE_LICENSE("GPL");

#define TEST_DEV_ID	40
#define TEST_FABRIC	0x0042
#define TEST_DMB_LEN	(64 * 1024)
#define WAIT_MS		5000

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			pr_err("  %s:%d: check failed: %s\n", __func__,	\
			       __LINE__, #cond);			\
			return -EINVAL;					\
		}							\
	} while (0)

#define CHECK_RC(expr, want)						\
	do {								\
		int __rc = (expr), __want = (want);			\
		if (__rc != __want) {					\
			pr_err("  %s:%d: %s returned %d, expected %d\n",	\
			       __func__, __LINE__, #expr, __rc, __want);	\
			return -EINVAL;					\
		}							\
	} while (0)

/* ------------------------------------------------------------------------ */
/* Test clients: record every callback                                       */

#define TC_MAX_DEVS	16
#define TC_MAX_DMBS	8

struct tc_dev_rec {
	struct dibs_dev *dev;
	int adds;
	int dels;
};

struct tclient {
	struct dibs_client client;
	/* guards everything below */
	spinlock_t lock;
	wait_queue_head_t wq;
	struct tc_dev_rec devs[TC_MAX_DEVS];
	/* DMBs this client owns, unregistered in del_dev() */
	struct dibs_dmb *dmbs[TC_MAX_DMBS];
	struct dibs_dev *dmb_devs[TC_MAX_DMBS];
	/* handle_irq() */
	int irqs;
	unsigned int irq_idx;
	int irq_mask;		/* element bits seen, OR-ed */
	int irq_bad_context;
	/* handle_event(); it sleeps on @unblock while @block_events is set */
	bool block_events;
	struct completion unblock;
	int events;
	struct dibs_event last_event;
	struct dibs_dev *event_dev;
};

static struct tclient tcs[3];

static struct tc_dev_rec *tc_rec(struct tclient *tc, struct dibs_dev *dev)
{
	int i;

	for (i = 0; i < TC_MAX_DEVS; i++)
		if (tc->devs[i].dev == dev)
			return &tc->devs[i];
	for (i = 0; i < TC_MAX_DEVS; i++)
		if (!tc->devs[i].dev) {
			tc->devs[i].dev = dev;
			return &tc->devs[i];
		}
	return NULL;
}

static void tc_add(struct tclient *tc, struct dibs_dev *dev)
{
	struct tc_dev_rec *r;

	might_sleep();
	spin_lock(&tc->lock);
	r = tc_rec(tc, dev);
	if (r)
		r->adds++;
	spin_unlock(&tc->lock);
}

static void tc_del(struct tclient *tc, struct dibs_dev *dev)
{
	struct tc_dev_rec *r;
	int i;

	might_sleep();
	for (i = 0; i < TC_MAX_DMBS; i++) {
		if (tc->dmb_devs[i] != dev)
			continue;
		dibs_unregister_dmb(dev, tc->dmbs[i]);
		tc->dmb_devs[i] = NULL;
		tc->dmbs[i] = NULL;
	}
	spin_lock(&tc->lock);
	r = tc_rec(tc, dev);
	if (r)
		r->dels++;
	spin_unlock(&tc->lock);
}

static void tc_irq(struct tclient *tc, struct dibs_dev *dev, unsigned int idx,
		   u16 mask)
{
	/* must be process context, able to sleep */
	bool ok = in_task() && !irqs_disabled() &&
		  (!IS_ENABLED(CONFIG_PREEMPT_COUNT) || preemptible());

	spin_lock(&tc->lock);
	tc->irqs++;
	tc->irq_idx = idx;
	tc->irq_mask |= mask;
	if (!ok)
		tc->irq_bad_context++;
	spin_unlock(&tc->lock);
	wake_up(&tc->wq);
}

static void tc_event(struct tclient *tc, struct dibs_dev *dev,
		     const struct dibs_event *ev)
{
	if (READ_ONCE(tc->block_events))
		wait_for_completion(&tc->unblock);
	spin_lock(&tc->lock);
	tc->events++;
	tc->last_event = *ev;
	tc->event_dev = dev;
	spin_unlock(&tc->lock);
	wake_up(&tc->wq);
}

#define TCLIENT_OPS(n)							\
static void tc##n##_add(struct dibs_dev *d) { tc_add(&tcs[n], d); }	\
static void tc##n##_del(struct dibs_dev *d) { tc_del(&tcs[n], d); }	\
static void tc##n##_irq(struct dibs_dev *d, unsigned int i, u16 m)	\
{									\
	tc_irq(&tcs[n], d, i, m);					\
}									\
static void tc##n##_event(struct dibs_dev *d, const struct dibs_event *e) \
{									\
	tc_event(&tcs[n], d, e);					\
}									\
static const struct dibs_client_ops tc##n##_ops = {			\
	.add_dev = tc##n##_add,						\
	.del_dev = tc##n##_del,						\
	.handle_irq = tc##n##_irq,					\
	.handle_event = tc##n##_event,					\
}

TCLIENT_OPS(0);
TCLIENT_OPS(1);
TCLIENT_OPS(2);

static const struct dibs_client_ops *tc_ops[] = { &tc0_ops, &tc1_ops, &tc2_ops };

static void tc_reset(struct tclient *tc, int n, const char *name)
{
	memset(tc, 0, sizeof(*tc));
	spin_lock_init(&tc->lock);
	init_waitqueue_head(&tc->wq);
	init_completion(&tc->unblock);
	tc->client.name = name;
	tc->client.ops = tc_ops[n];
}

/* Read one of @tc's counters under its lock. */
static int tc_read(struct tclient *tc, const int *field)
{
	int n;

	spin_lock(&tc->lock);
	n = *field;
	spin_unlock(&tc->lock);
	return n;
}

/* add_dev() (or, with @dels, del_dev()) calls @tc saw for @dev */
static int tc_dev_calls(struct tclient *tc, struct dibs_dev *dev, bool dels)
{
	struct tc_dev_rec *r;
	int n;

	spin_lock(&tc->lock);
	r = tc_rec(tc, dev);
	n = r ? (dels ? r->dels : r->adds) : -1;
	spin_unlock(&tc->lock);
	return n;
}

#define tc_adds(tc, dev)	tc_dev_calls(tc, dev, false)
#define tc_dels(tc, dev)	tc_dev_calls(tc, dev, true)
#define tc_irqs(tc)		tc_read(tc, &(tc)->irqs)
#define tc_mask(tc)		tc_read(tc, &(tc)->irq_mask)
#define tc_events(tc)		tc_read(tc, &(tc)->events)

/* Remember @dmb as owned by @tc on @dev, so del_dev() releases it. */
static void tc_track(struct tclient *tc, struct dibs_dev *dev, struct dibs_dmb *dmb)
{
	int i;

	for (i = 0; i < TC_MAX_DMBS; i++) {
		if (!tc->dmbs[i]) {
			tc->dmbs[i] = dmb;
			tc->dmb_devs[i] = dev;
			return;
		}
	}
}

static unsigned int dev_dmbs(struct dibs_dev *dev)
{
	unsigned long flags;
	unsigned int n;

	spin_lock_irqsave(&dev->lock, flags);
	n = dev->dmb_count;
	spin_unlock_irqrestore(&dev->lock, flags);
	return n;
}

static bool mem_is(const u8 *p, u8 val, size_t len)
{
	return !memchr_inv(p, val, len);
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                     */

/* Remove a device a case created, if it did. */
static void lo_destroy(struct dibs_dev *dev)
{
	if (!IS_ERR_OR_NULL(dev))
		dibs_loopback_destroy(dev);
}

static int case_client_register_order(void)
{
	struct tclient *a = &tcs[0], *b = &tcs[1];
	struct dibs_dev *d1, *d2;
	int rc = 0;

	tc_reset(a, 0, "test_a");
	tc_reset(b, 1, "test_b");

	d1 = dibs_loopback_create(TEST_DEV_ID, DIBS_LOOPBACK_FABRIC);
	CHECK(!IS_ERR(d1));
	/* client registered after the device: add_dev once at registration */
	CHECK_RC(dibs_register_client(&a->client), 0);
	CHECK(tc_adds(a, d1) == 1);

	/* device registered after the client: add_dev once at dibs_dev_add */
	d2 = dibs_loopback_create(TEST_DEV_ID + 1, DIBS_LOOPBACK_FABRIC);
	if (IS_ERR(d2)) {
		rc = -EINVAL;
		goto out_d1;
	}
	if (tc_adds(a, d2) != 1 || tc_adds(a, d1) != 1) {
		pr_err("  add_dev counts %d/%d, expected 1/1\n",
		       tc_adds(a, d1), tc_adds(a, d2));
		rc = -EINVAL;
	}

	/* a second, late client sees both devices once */
	if (dibs_register_client(&b->client) || tc_adds(b, d1) != 1 ||
	    tc_adds(b, d2) != 1) {
		pr_err("  late client: add_dev counts %d/%d\n",
		       tc_adds(b, d1), tc_adds(b, d2));
		rc = -EINVAL;
	}
	/* device removal: del_dev once for each client */
	dibs_loopback_destroy(d2);
	if (tc_dels(a, d2) != 1 || tc_dels(b, d2) != 1 || tc_dels(a, d1) != 0) {
		pr_err("  device removal: del_dev counts %d/%d/%d\n",
		       tc_dels(a, d2), tc_dels(b, d2), tc_dels(a, d1));
		rc = -EINVAL;
	}
	/* client removal: del_dev once for the remaining device, not twice */
	dibs_unregister_client(&b->client);
	if (tc_dels(b, d1) != 1 || tc_dels(b, d2) != 1) {
		pr_err("  client removal: del_dev counts %d/%d\n",
		       tc_dels(b, d1), tc_dels(b, d2));
		rc = -EINVAL;
	}
	if (dibs_unregister_client(&b->client) != -EINVAL) {
		pr_err("  double unregister accepted\n");
		rc = -EINVAL;
	}
out_d1:
	dibs_unregister_client(&a->client);
	dibs_loopback_destroy(d1);
	if (!rc && (tc_dels(a, d1) != 1 || tc_adds(a, d1) != 1)) {
		pr_err("  final counts add %d del %d\n", tc_adds(a, d1), tc_dels(a, d1));
		rc = -EINVAL;
	}
	return rc;
}

static int case_client_limits(void)
{
	static const struct dibs_client_ops no_del = { .add_dev = tc0_add };
	struct dibs_client bad = { .name = "bad", .ops = &no_del };
	struct dibs_client many[MAX_DIBS_CLIENTS + 1];
	int i, n, rc = 0;

	CHECK_RC(dibs_register_client(&bad), -EINVAL);
	for (n = 0; n < ARRAY_SIZE(many); n++) {
		many[n].name = "many";
		many[n].ops = &tc0_ops;
		if (dibs_register_client(&many[n]))
			break;
	}
	/* other clients may be registered: at most MAX_DIBS_CLIENTS fit */
	if (n > MAX_DIBS_CLIENTS || n == ARRAY_SIZE(many)) {
		pr_err("  %d clients registered\n", n);
		rc = -EINVAL;
	}
	if (!rc && dibs_register_client(&many[n]) != -ENOSPC)
		rc = -EINVAL;
	for (i = 0; i < n; i++)
		dibs_unregister_client(&many[i]);
	return rc;
}

static int case_dmb_limits(void)
{
	struct tclient *a = &tcs[0];
	struct dibs_dmb *dmbs, one = {};
	struct dibs_dev *d;
	int i, n = 0, rc = 0;

	dmbs = vzalloc(array_size(DIBS_LO_MAX_DMBS + 1, sizeof(*dmbs)));
	if (!dmbs)
		return -ENOMEM;
	tc_reset(a, 0, "test_a");
	d = dibs_loopback_create(TEST_DEV_ID, DIBS_LOOPBACK_FABRIC);
	if (IS_ERR(d)) {
		vfree(dmbs);
		return PTR_ERR(d);
	}
	if (dibs_register_client(&a->client)) {
		rc = -EINVAL;
		goto out;
	}
	if (dibs_max_dmbs(d) != DIBS_LO_MAX_DMBS) {
		pr_err("  max_dmbs %d\n", dibs_max_dmbs(d));
		rc = -EINVAL;
	}
	/* bad lengths and indices */
	one.dmb_len = 0;
	if (dibs_register_dmb(d, &one, &a->client) != -EINVAL)
		rc = -EINVAL;
	one.dmb_len = DIBS_LO_MAX_DMB_LEN + 1;
	if (dibs_register_dmb(d, &one, &a->client) != -EINVAL)
		rc = -EINVAL;
	one.dmb_len = 64;
	one.idx = DIBS_LO_MAX_DMBS;
	if (dibs_register_dmb(d, &one, &a->client) != -EINVAL)
		rc = -EINVAL;
	if (rc)
		pr_err("  bad length or index accepted\n");

	/* fill the device, then one more must fail cleanly */
	for (n = 0; n < DIBS_LO_MAX_DMBS; n++) {
		dmbs[n].dmb_len = 64;
		if (dibs_register_dmb(d, &dmbs[n], &a->client))
			break;
	}
	if (n != DIBS_LO_MAX_DMBS || dev_dmbs(d) != DIBS_LO_MAX_DMBS) {
		pr_err("  registered %d DMBs, count %u\n", n, dev_dmbs(d));
		rc = -EINVAL;
	}
	dmbs[n].dmb_len = 64;
	if (dibs_register_dmb(d, &dmbs[n], &a->client) != -ENOSPC) {
		pr_err("  DMB beyond max_dmbs not refused with -ENOSPC\n");
		rc = -EINVAL;
	}
	/* a requested index that is taken */
	one.idx = 7;
	if (n > 7 && dibs_register_dmb(d, &one, &a->client) != -EBUSY) {
		pr_err("  taken index not refused\n");
		rc = -EINVAL;
	}
	/* tokens are distinct and nonzero (spot check) */
	for (i = 1; i < n; i++) {
		if (!dmbs[i].dmb_tok || dmbs[i].dmb_tok == dmbs[i - 1].dmb_tok) {
			pr_err("  token %d not unique\n", i);
			rc = -EINVAL;
			break;
		}
	}
	/* unregister with a wrong index or token is refused */
	if (n > 1) {
		one = dmbs[0];
		one.idx = dmbs[1].idx;
		if (dibs_unregister_dmb(d, &one) != -EINVAL)
			rc = -EINVAL;
		one = dmbs[0];
		one.dmb_tok ^= 1;
		if (dibs_unregister_dmb(d, &one) != -EINVAL)
			rc = -EINVAL;
		if (rc)
			pr_err("  bad unregister accepted\n");
	}
	for (i = 0; i < n; i++)
		if (dibs_unregister_dmb(d, &dmbs[i]))
			rc = -EINVAL;
	if (dev_dmbs(d)) {
		pr_err("  %u DMBs left after unregistering all\n", dev_dmbs(d));
		rc = -EINVAL;
	}
	/* and the indices are free again */
	one = (struct dibs_dmb){ .dmb_len = 64 };
	if (dibs_register_dmb(d, &one, &a->client) || dibs_unregister_dmb(d, &one))
		rc = -EINVAL;
	dibs_unregister_client(&a->client);
out:
	dibs_loopback_destroy(d);
	vfree(dmbs);
	return rc;
}

/* Wait until @tc has seen more than @before signals. */
static bool wait_irqs(struct tclient *tc, int before)
{
	return wait_event_timeout(tc->wq, tc_irqs(tc) > before,
				  msecs_to_jiffies(WAIT_MS)) > 0;
}

static int case_move_data(void)
{
	static const unsigned int sizes[] = { 1, 7, 8, 31, 32, 4096, 4097,
					      TEST_DMB_LEN };
	struct tclient *a = &tcs[0];
	struct dibs_dmb dmb = { .dmb_len = TEST_DMB_LEN };
	struct dibs_dev *d;
	u8 *src, *shadow;
	unsigned int i, off;
	int before, rc = 0;

	/* the cases read up to ARRAY_SIZE(sizes) bytes past a full DMB's worth */
	src = vmalloc(TEST_DMB_LEN + ARRAY_SIZE(sizes));
	shadow = vzalloc(TEST_DMB_LEN);
	tc_reset(a, 0, "test_a");
	d = dibs_loopback_create(TEST_DEV_ID, DIBS_LOOPBACK_FABRIC);
	if (!src || !shadow || IS_ERR(d)) {
		rc = -ENOMEM;
		goto out_free;
	}
	if (dibs_register_client(&a->client) ||
	    dibs_register_dmb(d, &dmb, &a->client)) {
		rc = -EINVAL;
		goto out_dev;
	}
	tc_track(a, d, &dmb);
	get_random_bytes(src, TEST_DMB_LEN + ARRAY_SIZE(sizes));

	/* without signal: bytes land exactly, no handle_irq */
	before = tc_irqs(a);
	for (i = 0; i < ARRAY_SIZE(sizes) && !rc; i++) {
		off = (sizes[i] * 13) % (TEST_DMB_LEN - sizes[i] + 1);
		if (dibs_move_data(d, dmb.dmb_tok, 0, false, off, src + i,
				   sizes[i])) {
			pr_err("  move_data size %u off %u failed\n", sizes[i], off);
			rc = -EINVAL;
		}
		memcpy(shadow + off, src + i, sizes[i]);
		if (memcmp(dmb.cpu_addr, shadow, TEST_DMB_LEN)) {
			pr_err("  DMB differs after size %u off %u\n", sizes[i], off);
			rc = -EINVAL;
		}
	}
	/* the last byte of the DMB is writable, the whole DMB at offset 0 too */
	if (dibs_move_data(d, dmb.dmb_tok, 0, false, TEST_DMB_LEN - 1, src, 1))
		rc = -EINVAL;
	msleep(20);
	if (tc_irqs(a) != before) {
		pr_err("  handle_irq without signal flag\n");
		rc = -EINVAL;
	}
	if (rc)
		goto out_dev;

	/* with signal: handle_irq with the DMB's index and element bit */
	spin_lock(&a->lock);
	a->irq_mask = 0;
	spin_unlock(&a->lock);
	before = tc_irqs(a);
	CHECK_RC(dibs_move_data(d, dmb.dmb_tok, 5, true, 100, src, 32), 0);
	CHECK(wait_irqs(a, before));
	spin_lock(&a->lock);
	if (a->irq_idx != dmb.idx || a->irq_mask != BIT(5) || a->irq_bad_context) {
		pr_err("  handle_irq idx %u (want %u) mask %#x (want %#lx) bad ctx %d\n",
		       a->irq_idx, dmb.idx, a->irq_mask, BIT(5), a->irq_bad_context);
		rc = -EINVAL;
	}
	spin_unlock(&a->lock);
	CHECK(!memcmp(dmb.cpu_addr + 100, src, 32));

	/* from softirq-like context (bh disabled) as SMC does */
	before = tc_irqs(a);
	local_bh_disable();
	rc = dibs_move_data(d, dmb.dmb_tok, 15, true, 0, src, 8);
	local_bh_enable();
	CHECK_RC(rc, 0);
	CHECK(wait_irqs(a, before));
	spin_lock(&a->lock);
	rc = a->irq_bad_context ? -EINVAL : 0;
	spin_unlock(&a->lock);
	CHECK(!rc);

	/* no signal is delivered for a DMB after it is unregistered */
	CHECK_RC(dibs_unregister_dmb(d, &dmb), 0);
	a->dmbs[0] = NULL;
	a->dmb_devs[0] = NULL;
	before = tc_irqs(a);
	dibs_dev_irq(d, dmb.idx, 1);
	msleep(20);
	CHECK(tc_irqs(a) == before);
out_dev:
	dibs_unregister_client(&a->client);
	lo_destroy(d);
out_free:
	vfree(src);
	vfree(shadow);
	return rc;
}

/* A client with irq_atomic gets handle_irq() inside dibs_dev_irq() */
static int case_irq_atomic(void)
{
	struct tclient *a = &tcs[0];
	struct dibs_dmb dmb = { .dmb_len = 4096 };
	struct dibs_dev *d;
	u8 buf[32] = { 1, 2, 3 };
	int rc, before;

	tc_reset(a, 0, "test_a");
	a->client.irq_atomic = true;
	d = dibs_loopback_create(TEST_DEV_ID, DIBS_LOOPBACK_FABRIC);
	if (IS_ERR(d))
		return PTR_ERR(d);
	rc = dibs_register_client(&a->client);
	if (!rc)
		rc = dibs_register_dmb(d, &dmb, &a->client);
	if (rc)
		goto out;
	tc_track(a, d, &dmb);

	/* delivered before move_data returns, from its (softirq-like) context */
	before = tc_irqs(a);
	local_bh_disable();
	rc = dibs_move_data(d, dmb.dmb_tok, 3, true, 64, buf, sizeof(buf));
	local_bh_enable();
	if (rc || tc_irqs(a) != before + 1 || a->irq_idx != dmb.idx ||
	    tc_mask(a) != BIT(3) || memcmp(dmb.cpu_addr + 64, buf, sizeof(buf))) {
		pr_err("  rc %d irqs %d (want %d) idx %u (want %u) mask %#x\n", rc,
		       tc_irqs(a), before + 1, a->irq_idx, dmb.idx, tc_mask(a));
		rc = -EINVAL;
		goto out;
	}
	/* two signals are two calls, not merged */
	dibs_dev_irq(d, dmb.idx, BIT(1));
	dibs_dev_irq(d, dmb.idx, BIT(2));
	if (tc_irqs(a) != before + 3) {
		pr_err("  %d calls for 2 more signals\n", tc_irqs(a) - before - 1);
		rc = -EINVAL;
		goto out;
	}
	/* none for an unregistered DMB */
	rc = dibs_unregister_dmb(d, &dmb);
	a->dmbs[0] = NULL;
	a->dmb_devs[0] = NULL;
	dibs_dev_irq(d, dmb.idx, 1);
	if (!rc && tc_irqs(a) != before + 3) {
		pr_err("  handle_irq for an unregistered DMB\n");
		rc = -EINVAL;
	}
out:
	dibs_unregister_client(&a->client);
	lo_destroy(d);
	return rc;
}

static int case_bad_input(void)
{
	struct tclient *a = &tcs[0];
	struct dibs_dmb dmb = { .dmb_len = 4096 }, pinned = { .dmb_len = 4096 };
	struct dibs_dev *d, *other, *f1, *f2;
	u8 buf[64];
	int rc = 0, before;

	memset(buf, 0x55, sizeof(buf));
	tc_reset(a, 0, "test_a");
	d = dibs_loopback_create(TEST_DEV_ID, DIBS_LOOPBACK_FABRIC);
	other = dibs_loopback_create(TEST_DEV_ID + 1, DIBS_LOOPBACK_FABRIC);
	f1 = dibs_loopback_create(TEST_DEV_ID + 2, TEST_FABRIC);
	f2 = dibs_loopback_create(TEST_DEV_ID + 3, TEST_FABRIC);
	if (IS_ERR(d) || IS_ERR(other) || IS_ERR(f1) || IS_ERR(f2)) {
		rc = -EINVAL;
		goto out;
	}
	if (dibs_register_client(&a->client) ||
	    dibs_register_dmb(d, &dmb, &a->client)) {
		rc = -EINVAL;
		goto out;
	}
	tc_track(a, d, &dmb);
	memset(dmb.cpu_addr, 0xaa, dmb.dmb_len);
	before = tc_irqs(a);

	/* every bad write is refused and writes nothing */
	if (dibs_move_data(d, dmb.dmb_tok ^ 0x1, 0, true, 0, buf, 8) != -ENOENT ||
	    dibs_move_data(d, 0, 0, true, 0, buf, 8) != -ENOENT ||
	    dibs_move_data(d, dmb.dmb_tok, 0, true, 4096 - 7, buf, 8) != -EINVAL ||
	    dibs_move_data(d, dmb.dmb_tok, 0, true, 4096, buf, 1) != -EINVAL ||
	    dibs_move_data(d, dmb.dmb_tok, 0, true, UINT_MAX, buf, 2) != -EINVAL ||
	    dibs_move_data(d, dmb.dmb_tok, 0, true, 8, buf, UINT_MAX) != -EINVAL ||
	    dibs_move_data(d, dmb.dmb_tok, 0, true, 0, buf, 0) != -EINVAL ||
	    dibs_move_data(d, dmb.dmb_tok, 0, true, 0, buf, 4097) != -EINVAL ||
	    dibs_move_data(d, dmb.dmb_tok, 16, true, 0, buf, 8) != -EINVAL ||
	    /* another loopback device on the private fabric cannot reach it */
	    dibs_move_data(other, dmb.dmb_tok, 0, true, 0, buf, 8) != -ENOENT ||
	    dibs_move_data(f1, dmb.dmb_tok, 0, true, 0, buf, 8) != -ENOENT) {
		pr_err("  a bad move_data was not refused as expected\n");
		rc = -EINVAL;
	}
	msleep(20);
	if (!mem_is(dmb.cpu_addr, 0xaa, dmb.dmb_len) || tc_irqs(a) != before) {
		pr_err("  a refused move_data wrote or signalled\n");
		rc = -EINVAL;
	}

	/* a DMB reserved for one remote device refuses the others */
	uuid_copy(&pinned.rgid, &f2->gid);
	if (dibs_register_dmb(f1, &pinned, &a->client)) {
		rc = -EINVAL;
		goto out;
	}
	tc_track(a, f1, &pinned);
	memset(pinned.cpu_addr, 0xaa, pinned.dmb_len);
	CHECK_RC(dibs_move_data(f1, pinned.dmb_tok, 0, false, 0, buf, 8), -EACCES);
	CHECK(mem_is(pinned.cpu_addr, 0xaa, pinned.dmb_len));
	CHECK_RC(dibs_move_data(f2, pinned.dmb_tok, 0, false, 0, buf, 8), 0);
	CHECK(!memcmp(pinned.cpu_addr, buf, 8));

	/* query_remote_gid: self, same fabric, other fabric, VLANs */
	CHECK_RC(dibs_query_remote_gid(d, &d->gid, 0, 0), 0);
	CHECK_RC(dibs_query_remote_gid(d, &other->gid, 0, 0), -ENETUNREACH);
	CHECK_RC(dibs_query_remote_gid(f1, &f2->gid, 0, 0), 0);
	CHECK_RC(dibs_query_remote_gid(f2, &f1->gid, 0, 0), 0);
	CHECK_RC(dibs_query_remote_gid(f1, &d->gid, 0, 0), -ENETUNREACH);
	CHECK_RC(dibs_query_remote_gid(f1, &f2->gid, 1, 100), -ENETUNREACH);
	CHECK_RC(dibs_query_remote_gid(f1, &f2->gid, 1, 4096), -EINVAL);
	CHECK_RC(dibs_add_vlan_id(f2, 100), 0);
	CHECK_RC(dibs_add_vlan_id(f2, 4096), -EINVAL);
	CHECK_RC(dibs_query_remote_gid(f1, &f2->gid, 1, 100), 0);
	CHECK_RC(dibs_del_vlan_id(f2, 100), 0);
	CHECK_RC(dibs_del_vlan_id(f2, 100), -ENOENT);
	CHECK_RC(dibs_query_remote_gid(f1, &f2->gid, 1, 100), -ENETUNREACH);
	CHECK(dibs_get_fabric_id(d) == DIBS_LOOPBACK_FABRIC);
	CHECK(dibs_get_fabric_id(f1) == TEST_FABRIC);
out:
	dibs_unregister_client(&a->client);
	lo_destroy(f2);
	lo_destroy(f1);
	lo_destroy(other);
	lo_destroy(d);
	return rc;
}

static int case_signal_event(void)
{
	struct tclient *a = &tcs[0];
	struct dibs_dev *f1, *f2, *lone;
	int before, rc = 0, i, sent, refused;

	tc_reset(a, 0, "test_a");
	f1 = dibs_loopback_create(TEST_DEV_ID, TEST_FABRIC);
	f2 = dibs_loopback_create(TEST_DEV_ID + 1, TEST_FABRIC);
	lone = dibs_loopback_create(TEST_DEV_ID + 2, DIBS_LOOPBACK_FABRIC);
	if (IS_ERR(f1) || IS_ERR(f2) || IS_ERR(lone) ||
	    dibs_register_client(&a->client)) {
		rc = -EINVAL;
		goto out;
	}
	before = tc_events(a);
	if (dibs_signal_event(f1, &f2->gid, 1, 3, 0x1234) ||
	    !wait_event_timeout(a->wq, tc_events(a) > before,
				msecs_to_jiffies(WAIT_MS))) {
		pr_err("  event not delivered\n");
		rc = -EINVAL;
		goto out_client;
	}
	spin_lock(&a->lock);
	if (a->event_dev != f2 || a->last_event.type != DIBS_SW_EVENT ||
	    a->last_event.subtype != 3 || a->last_event.data != 0x1234 ||
	    !uuid_equal(&a->last_event.gid, &f1->gid) || !a->last_event.time) {
		pr_err("  event fields wrong\n");
		rc = -EINVAL;
	}
	spin_unlock(&a->lock);
	/* to itself: accepted and dropped; unreachable: refused */
	before = tc_events(a);
	if (dibs_signal_event(f1, &f1->gid, 1, 3, 0) ||
	    dibs_signal_event(f1, &lone->gid, 1, 3, 0) != -ENETUNREACH ||
	    dibs_signal_event(lone, &f1->gid, 1, 3, 0) != -ENETUNREACH) {
		pr_err("  signal_event to self/unreachable wrong\n");
		rc = -EINVAL;
	}
	msleep(20);
	if (tc_events(a) != before) {
		pr_err("  unexpected event delivered\n");
		rc = -EINVAL;
	}

	/*
	 * A client sleeping in handle_event() while a peer floods it: the
	 * queue is bounded, the overflow is refused, nothing accepted is lost.
	 */
	WRITE_ONCE(a->block_events, true);
	for (i = 0, sent = 0, refused = 0; i < 1500; i++) {
		int r = dibs_signal_event(f1, &f2->gid, 1, 4, i);

		if (!r)
			sent++;
		else if (r == -ENOSPC)
			refused++;
	}
	WRITE_ONCE(a->block_events, false);
	complete_all(&a->unblock);
	if (!refused || sent + refused != 1500 ||
	    !wait_event_timeout(a->wq, tc_events(a) == before + sent,
				msecs_to_jiffies(WAIT_MS))) {
		pr_err("  flood: sent %d refused %d delivered %d\n", sent, refused,
		       tc_events(a) - before);
		rc = -EINVAL;
	}
out_client:
	dibs_unregister_client(&a->client);
out:
	lo_destroy(lone);
	lo_destroy(f2);
	lo_destroy(f1);
	return rc;
}

static int case_attach_detach(void)
{
	struct tclient *a = &tcs[0];
	struct dibs_dmb dmb = { .dmb_len = 8192 }, map = {}, lonemap = {};
	struct dibs_dev *f1, *f2, *lone;
	u8 buf[16];
	int rc = 0;

	memset(buf, 0x3c, sizeof(buf));
	tc_reset(a, 0, "test_a");
	f1 = dibs_loopback_create(TEST_DEV_ID, TEST_FABRIC);
	f2 = dibs_loopback_create(TEST_DEV_ID + 1, TEST_FABRIC);
	lone = dibs_loopback_create(TEST_DEV_ID + 2, DIBS_LOOPBACK_FABRIC);
	if (IS_ERR(f1) || IS_ERR(f2) || IS_ERR(lone) ||
	    dibs_register_client(&a->client)) {
		rc = -EINVAL;
		goto out;
	}
	if (!dibs_support_mmapped_rdmb(f1) ||
	    dibs_register_dmb(f1, &dmb, &a->client)) {
		rc = -EINVAL;
		goto out_client;
	}
	/* f2 maps f1's DMB and sees writes made through move_data */
	map.dmb_tok = dmb.dmb_tok;
	if (dibs_attach_dmb(f2, &map) || map.cpu_addr != dmb.cpu_addr ||
	    map.dmb_len != dmb.dmb_len || map.idx != dmb.idx) {
		pr_err("  attach failed or returned wrong mapping\n");
		rc = -EINVAL;
		dibs_unregister_dmb(f1, &dmb);
		goto out_client;
	}
	dibs_move_data(f2, dmb.dmb_tok, 0, false, 100, buf, sizeof(buf));
	if (memcmp(map.cpu_addr + 100, buf, sizeof(buf)))
		rc = -EINVAL;
	/* unknown and unreachable tokens cannot be attached */
	lonemap.dmb_tok = dmb.dmb_tok;
	if (dibs_attach_dmb(lone, &lonemap) != -ENOENT)
		rc = -EINVAL;
	lonemap.dmb_tok = dmb.dmb_tok ^ 2;
	if (dibs_attach_dmb(f2, &lonemap) != -ENOENT)
		rc = -EINVAL;
	/* the owner unregisters while attached: the mapping stays valid */
	if (dibs_unregister_dmb(f1, &dmb) || dev_dmbs(f1) != 0)
		rc = -EINVAL;
	memset(map.cpu_addr, 0x11, map.dmb_len);
	if (!mem_is(map.cpu_addr, 0x11, map.dmb_len))
		rc = -EINVAL;
	/* but the token is gone for new writers */
	if (dibs_move_data(f2, dmb.dmb_tok, 0, false, 0, buf, 1) != -ENOENT)
		rc = -EINVAL;
	if (dibs_detach_dmb(f2, map.dmb_tok) ||
	    dibs_detach_dmb(f2, map.dmb_tok) != -ENOENT) {
		pr_err("  detach/double detach wrong\n");
		rc = -EINVAL;
	}
	if (rc)
		pr_err("  attach/detach semantics wrong\n");

	/* a device removed while attached to a peer's DMB drops the mapping */
	dmb = (struct dibs_dmb){ .dmb_len = 4096 };
	map = (struct dibs_dmb){};
	if (dibs_register_dmb(f1, &dmb, &a->client)) {
		rc = -EINVAL;
		goto out_client;
	}
	tc_track(a, f1, &dmb);
	map.dmb_tok = dmb.dmb_tok;
	if (dibs_attach_dmb(f2, &map))
		rc = -EINVAL;
	dibs_loopback_destroy(f2);
	f2 = ERR_PTR(-ENODEV);
	if (dibs_move_data(f1, dmb.dmb_tok, 0, false, 0, buf, 4))
		rc = -EINVAL;
out_client:
	dibs_unregister_client(&a->client);
out:
	lo_destroy(lone);
	lo_destroy(f2);
	lo_destroy(f1);
	return rc;
}

static int case_remove_with_dmbs(void)
{
	struct tclient *a = &tcs[0], *leaky = &tcs[2];
	struct dibs_dmb dmbs[3] = {}, leak = { .dmb_len = 4096 }, map = {};
	struct dibs_dev *f1, *f2, *gone;
	int i, rc = 0;

	tc_reset(a, 0, "test_a");
	tc_reset(leaky, 2, "test_leaky");
	f1 = dibs_loopback_create(TEST_DEV_ID, TEST_FABRIC);
	f2 = dibs_loopback_create(TEST_DEV_ID + 1, TEST_FABRIC);
	if (IS_ERR(f1) || IS_ERR(f2) || dibs_register_client(&a->client) ||
	    dibs_register_client(&leaky->client)) {
		rc = -EINVAL;
		goto out;
	}
	/* a client that releases its DMBs in del_dev() */
	for (i = 0; i < ARRAY_SIZE(dmbs); i++) {
		dmbs[i].dmb_len = 4096 << i;
		if (dibs_register_dmb(f1, &dmbs[i], &a->client)) {
			rc = -EINVAL;
			goto out_clients;
		}
		tc_track(a, f1, &dmbs[i]);
	}
	/* one that does not (its del_dev has nothing tracked) */
	if (dibs_register_dmb(f1, &leak, &leaky->client)) {
		rc = -EINVAL;
		goto out_clients;
	}
	/* a peer keeps one of them attached */
	map.dmb_tok = dmbs[2].dmb_tok;
	CHECK_RC(dibs_attach_dmb(f2, &map), 0);
	/* signals in flight while the device goes away */
	dibs_move_data(f2, dmbs[0].dmb_tok, 0, true, 0, &map, 8);
	CHECK(dev_dmbs(f1) == 4);

	gone = f1;
	dibs_loopback_destroy(f1);
	f1 = ERR_PTR(-ENODEV);
	/* @gone is only a key now, never dereferenced */
	if (tc_dels(a, gone) != 1 || a->dmbs[0] || a->dmbs[1] || a->dmbs[2]) {
		pr_err("  del_dev did not release the client's DMBs\n");
		rc = -EINVAL;
	}
	/* the mapping survives the owner device and is released by detach */
	memset(map.cpu_addr, 0x5a, map.dmb_len);
	CHECK_RC(dibs_detach_dmb(f2, map.dmb_tok), 0);
	CHECK_RC(dibs_move_data(f2, leak.dmb_tok, 0, false, 0, &map, 8), -ENOENT);
out_clients:
	dibs_unregister_client(&leaky->client);
	dibs_unregister_client(&a->client);
out:
	lo_destroy(f2);
	lo_destroy(f1);
	return rc;
}

#define CONC_THREADS	4
#define CONC_ROUNDS	2000
#define CONC_CHUNK	256

struct conc_arg {
	struct dibs_dev *dev;
	u64 tok;
	int id;
	int errors;
	struct completion done;
};

static int conc_writer(void *data)
{
	struct conc_arg *arg = data;
	u8 chunk[CONC_CHUNK];
	int r;

	for (r = 0; r < CONC_ROUNDS; r++) {
		memset(chunk, (u8)(arg->id * 16 + r % 16), sizeof(chunk));
		if (dibs_move_data(arg->dev, arg->tok, arg->id, r % 8 == 0,
				   arg->id * CONC_CHUNK, chunk, sizeof(chunk)))
			arg->errors++;
		if (r % 64 == 0)
			cond_resched();
	}
	/* leave a recognisable final pattern */
	memset(chunk, (u8)(0xf0 + arg->id), sizeof(chunk));
	if (dibs_move_data(arg->dev, arg->tok, arg->id, true,
			   arg->id * CONC_CHUNK, chunk, sizeof(chunk)))
		arg->errors++;
	complete(&arg->done);
	return 0;
}

static int case_concurrent_move_data(void)
{
	struct tclient *a = &tcs[0];
	struct dibs_dmb dmb = { .dmb_len = CONC_THREADS * CONC_CHUNK };
	struct conc_arg args[CONC_THREADS];
	struct task_struct *t;
	struct dibs_dev *f1, *f2;
	int i, rc = 0, want = 0;

	tc_reset(a, 0, "test_a");
	f1 = dibs_loopback_create(TEST_DEV_ID, TEST_FABRIC);
	f2 = dibs_loopback_create(TEST_DEV_ID + 1, TEST_FABRIC);
	if (IS_ERR(f1) || IS_ERR(f2) || dibs_register_client(&a->client) ||
	    dibs_register_dmb(f1, &dmb, &a->client)) {
		rc = -EINVAL;
		goto out;
	}
	tc_track(a, f1, &dmb);
	for (i = 0; i < CONC_THREADS; i++) {
		args[i] = (struct conc_arg){ .dev = i % 2 ? f2 : f1,
					     .tok = dmb.dmb_tok, .id = i };
		init_completion(&args[i].done);
		want |= BIT(i);
	}
	for (i = 0; i < CONC_THREADS; i++) {
		t = kthread_run(conc_writer, &args[i], "test_dibs/%d", i);
		if (IS_ERR(t)) {
			complete(&args[i].done);
			args[i].errors++;
		}
	}
	for (i = 0; i < CONC_THREADS; i++)
		wait_for_completion(&args[i].done);
	for (i = 0; i < CONC_THREADS; i++) {
		if (args[i].errors ||
		    !mem_is(dmb.cpu_addr + i * CONC_CHUNK, 0xf0 + i, CONC_CHUNK)) {
			pr_err("  writer %d: %d errors or wrong final bytes\n", i,
			       args[i].errors);
			rc = -EINVAL;
		}
	}
	/* every element bit arrives; signals for one DMB may be merged */
	if (!wait_event_timeout(a->wq, tc_mask(a) == want,
				msecs_to_jiffies(WAIT_MS)) || a->irq_bad_context) {
		pr_err("  signal mask %#x, want %#x\n", a->irq_mask, want);
		rc = -EINVAL;
	}
out:
	dibs_unregister_client(&a->client);
	lo_destroy(f2);
	lo_destroy(f1);
	return rc;
}

struct lent_arg {
	struct dibs_dev *dev;
	u64 tok;
	bool detached;
	struct completion done;
};

static int lent_detacher(void *data)
{
	struct lent_arg *arg = data;

	msleep(100);
	WRITE_ONCE(arg->detached, true);
	dibs_detach_dmb(arg->dev, arg->tok);
	complete(&arg->done);
	return 0;
}

static int case_lent_memory(void)
{
	const u32 len = 8 << 20;	/* beyond what the device allocates itself */
	struct tclient *a = &tcs[0];
	struct dibs_dmb dmb = { .dmb_len = len }, map = {};
	struct lent_arg arg = {};
	struct task_struct *t;
	struct dibs_dev *f1, *f2;
	u8 buf[32], *mem;
	int rc = 0;

	memset(buf, 0x77, sizeof(buf));
	mem = vzalloc(len);
	tc_reset(a, 0, "test_a");
	f1 = dibs_loopback_create(TEST_DEV_ID, TEST_FABRIC);
	f2 = dibs_loopback_create(TEST_DEV_ID + 1, TEST_FABRIC);
	if (!mem || IS_ERR(f1) || IS_ERR(f2) || dibs_register_client(&a->client)) {
		rc = -EINVAL;
		goto out;
	}
	dmb.cpu_addr = mem;
	if (dibs_register_dmb(f1, &dmb, &a->client) || dmb.cpu_addr != mem) {
		pr_err("  lent memory refused or not used\n");
		rc = -EINVAL;
		goto out_client;
	}
	/* writes land in the lent memory, up to its last byte */
	if (dibs_move_data(f2, dmb.dmb_tok, 0, false, len - sizeof(buf), buf,
			   sizeof(buf)) || memcmp(mem + len - sizeof(buf), buf, sizeof(buf)))
		rc = -EINVAL;
	/* an attachment keeps unregister waiting until it is detached */
	map.dmb_tok = dmb.dmb_tok;
	if (dibs_attach_dmb(f2, &map) || map.cpu_addr != mem) {
		pr_err("  attach of lent memory failed\n");
		dibs_unregister_dmb(f1, &dmb);
		rc = -EINVAL;
		goto out_client;
	}
	arg = (struct lent_arg){ .dev = f2, .tok = dmb.dmb_tok };
	init_completion(&arg.done);
	t = kthread_run(lent_detacher, &arg, "test_dibs/lent");
	if (IS_ERR(t)) {
		dibs_detach_dmb(f2, dmb.dmb_tok);
		complete(&arg.done);
	}
	if (dibs_unregister_dmb(f1, &dmb))
		rc = -EINVAL;
	if (!IS_ERR(t) && !READ_ONCE(arg.detached)) {
		pr_err("  unregister of lent memory returned while attached\n");
		rc = -EINVAL;
	}
	wait_for_completion(&arg.done);
	if (dev_dmbs(f1))
		rc = -EINVAL;
out_client:
	dibs_unregister_client(&a->client);
out:
	lo_destroy(f2);
	lo_destroy(f1);
	vfree(mem);
	return rc;
}

/* ------------------------------------------------------------------------ */

static const struct {
	const char *name;
	int (*fn)(void);
} cases[] = {
	{ "client_register_order", case_client_register_order },
	{ "client_limits", case_client_limits },
	{ "dmb_limits", case_dmb_limits },
	{ "move_data", case_move_data },
	{ "irq_atomic", case_irq_atomic },
	{ "bad_input", case_bad_input },
	{ "signal_event", case_signal_event },
	{ "attach_detach", case_attach_detach },
	{ "remove_with_dmbs", case_remove_with_dmbs },
	{ "concurrent_move_data", case_concurrent_move_data },
	{ "lent_memory", case_lent_memory },
};

static int __init test_dibs_init(void)
{
	int i, failed = 0;

	pr_info("1..%zu\n", ARRAY_SIZE(cases));
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc = cases[i].fn();

		if (rc)
			failed++;
		pr_info("%sok %d %s\n", rc ? "not " : "", i + 1, cases[i].name);
	}
	pr_info("%zu cases: %zu passed, %d failed\n", ARRAY_SIZE(cases),
		ARRAY_SIZE(cases) - failed, failed);
	return failed ? -EINVAL : 0;
}

static void __exit test_dibs_exit(void)
{
}

module_init(test_dibs_init);
module_exit(test_dibs_exit);
