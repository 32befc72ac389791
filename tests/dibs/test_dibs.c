// SPDX-License-Identifier: GPL-2.0
/*
 * test_dibs - self-test of the dibs layer and the loopback device
 *
 * Follows the lib/test_*.ko convention (Debian's 6.1 has no KUnit): the
 * cases run when the module loads, each prints "ok N name" or "not ok N
 * name" with the failing check, a summary line follows, and the load fails
 * with -EINVAL if any case failed. The module unloads cleanly afterwards.
 *
 * A failed check is counted against its case and jumps to the case's
 * cleanup, whose labels undo the case's steps in reverse: a failure never
 * leaves a client registered, a DMB or an attachment behind or a device
 * alive, so the other cases still run on a clean dibs layer. The runner
 * checks that after every case, and reports the result only after all
 * cases have cleaned up.
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
#define TEST_DEVS	4	/* dibs_lo40 .. dibs_lo43 */
#define TEST_FABRIC	0x0042
#define TEST_DMB_LEN	(64 * 1024)
#define WAIT_MS		5000

/* ------------------------------------------------------------------------ */
/* Checks                                                                    */

/* failed checks of the running case */
static int checks_failed;

/*
 * A check prints where and what failed, counts the failure against the
 * running case and returns whether it held; FAIL() is a failed check that
 * says more. The case then jumps to its cleanup:
 *
 *	if (!CHECK_RC(dibs_register_client(&a->client), 0))
 *		goto destroy_dev;
 */
static bool check_cond(bool ok, const char *fn, int line, const char *what)
{
	if (!ok) {
		pr_err("  %s:%d: check failed: %s\n", fn, line, what);
		checks_failed++;
	}
	return ok;
}

static bool check_rc(int rc, int want, const char *fn, int line,
		     const char *what)
{
	if (rc != want) {
		pr_err("  %s:%d: %s returned %d, expected %d\n", fn, line, what,
		       rc, want);
		checks_failed++;
	}
	return rc == want;
}

#define CHECK(cond)		check_cond(!!(cond), __func__, __LINE__, #cond)
#define CHECK_RC(expr, want)	check_rc((expr), (want), __func__, __LINE__, #expr)

/* A failed check that explains itself with a message of its own. */
static __printf(3, 4) void fail_at(const char *fn, int line, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	pr_err("  %s:%d: %pV", fn, line, &vaf);
	va_end(args);
	checks_failed++;
}

#define FAIL(fmt, ...)		fail_at(__func__, __LINE__, fmt, ##__VA_ARGS__)

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

/* The callbacks of client tcs[n]: dibs tells them only the device. */
#define TCLIENT_OPS(n)							\
static struct tclient *const tc##n = &tcs[n];				\
static void tc##n##_add(struct dibs_dev *d) { tc_add(tc##n, d); }	\
static void tc##n##_del(struct dibs_dev *d) { tc_del(tc##n, d); }	\
static void tc##n##_irq(struct dibs_dev *d, unsigned int i, u16 m)	\
{									\
	tc_irq(tc##n, d, i, m);						\
}									\
static void tc##n##_event(struct dibs_dev *d, const struct dibs_event *e) \
{									\
	tc_event(tc##n, d, e);						\
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

static int tc_adds(struct tclient *tc, struct dibs_dev *dev)
{
	return tc_dev_calls(tc, dev, false);
}

static int tc_dels(struct tclient *tc, struct dibs_dev *dev)
{
	return tc_dev_calls(tc, dev, true);
}

static int tc_irqs(struct tclient *tc)
{
	return tc_read(tc, &tc->irqs);
}

static int tc_mask(struct tclient *tc)
{
	return tc_read(tc, &tc->irq_mask);
}

static int tc_events(struct tclient *tc)
{
	return tc_read(tc, &tc->events);
}

/*
 * Remember @dmb as owned by @tc on @dev, so del_dev() releases it: when
 * the device goes or when the client unregisters, the cleanup of a case.
 */
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
	FAIL("%s tracks more than %d DMBs\n", tc->client.name, TC_MAX_DMBS);
}

/* Unregister a tracked DMB; once that worked, del_dev() leaves it alone. */
static int tc_unregister_dmb(struct tclient *tc, struct dibs_dev *dev,
			     struct dibs_dmb *dmb)
{
	int i, rc;

	rc = dibs_unregister_dmb(dev, dmb);
	if (rc)
		return rc;
	for (i = 0; i < TC_MAX_DMBS; i++) {
		if (tc->dmbs[i] == dmb) {
			tc->dmbs[i] = NULL;
			tc->dmb_devs[i] = NULL;
		}
	}
	return 0;
}

/*
 * Register a DMB that should be refused, and unregister it again should
 * it be accepted: the result of dibs_register_dmb().
 */
static int try_register_dmb(struct dibs_dev *dev, struct dibs_dmb *dmb,
			    struct dibs_client *client)
{
	int rc = dibs_register_dmb(dev, dmb, client);

	if (!rc)
		dibs_unregister_dmb(dev, dmb);
	return rc;
}

/*
 * Attach a DMB that should be refused, and detach it again should the
 * attach work: the result of dibs_attach_dmb().
 */
static int try_attach_dmb(struct dibs_dev *dev, struct dibs_dmb *dmb)
{
	int rc = dibs_attach_dmb(dev, dmb);

	if (!rc)
		dibs_detach_dmb(dev, dmb->dmb_tok);
	return rc;
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
/* Test devices dibs_lo<TEST_DEV_ID + slot>                                  */

/* the devices the running case created, so the runner can see leftovers */
static struct dibs_dev *test_devs[TEST_DEVS];

static struct dibs_dev *lo_create(unsigned int slot, u16 fabric_id)
{
	struct dibs_dev *dev;

	dev = dibs_loopback_create(TEST_DEV_ID + slot, fabric_id);
	if (!IS_ERR(dev))
		test_devs[slot] = dev;
	return dev;
}

/* Remove a device a case created, if it did, and forget it. */
static void lo_destroy(struct dibs_dev **devp)
{
	struct dibs_dev *dev = *devp;
	unsigned int slot;

	*devp = NULL;
	if (IS_ERR_OR_NULL(dev))
		return;
	for (slot = 0; slot < TEST_DEVS; slot++)
		if (test_devs[slot] == dev)
			test_devs[slot] = NULL;
	dibs_loopback_destroy(dev);
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                     */

static void case_client_register_order(void)
{
	struct tclient *a = &tcs[0], *b = &tcs[1];
	struct dibs_dev *d1, *d2 = NULL, *gone;

	tc_reset(a, 0, "test_a");
	tc_reset(b, 1, "test_b");

	d1 = lo_create(0, DIBS_LOOPBACK_FABRIC);
	if (!CHECK(!IS_ERR(d1)))
		return;
	/* client registered after the device: add_dev once at registration */
	if (!CHECK_RC(dibs_register_client(&a->client), 0))
		goto destroy_devs;
	if (!CHECK(tc_adds(a, d1) == 1))
		goto unregister_clients;

	/* device registered after the client: add_dev once at dibs_dev_add */
	d2 = lo_create(1, DIBS_LOOPBACK_FABRIC);
	if (!CHECK(!IS_ERR(d2)))
		goto unregister_clients;
	if (tc_adds(a, d2) != 1 || tc_adds(a, d1) != 1) {
		FAIL("add_dev counts %d/%d, expected 1/1\n",
		     tc_adds(a, d1), tc_adds(a, d2));
		goto unregister_clients;
	}

	/* a second, late client sees both devices once */
	if (dibs_register_client(&b->client) || tc_adds(b, d1) != 1 ||
	    tc_adds(b, d2) != 1) {
		FAIL("late client: add_dev counts %d/%d\n",
		     tc_adds(b, d1), tc_adds(b, d2));
		goto unregister_clients;
	}
	/* device removal: del_dev once for each client */
	gone = d2;
	lo_destroy(&d2);
	/* @gone is only a key now, never dereferenced */
	if (tc_dels(a, gone) != 1 || tc_dels(b, gone) != 1 ||
	    tc_dels(a, d1) != 0) {
		FAIL("device removal: del_dev counts %d/%d/%d\n",
		     tc_dels(a, gone), tc_dels(b, gone), tc_dels(a, d1));
		goto unregister_clients;
	}
	/* client removal: del_dev once for the remaining device, not twice */
	dibs_unregister_client(&b->client);
	if (tc_dels(b, d1) != 1 || tc_dels(b, gone) != 1) {
		FAIL("client removal: del_dev counts %d/%d\n",
		     tc_dels(b, d1), tc_dels(b, gone));
		goto unregister_clients;
	}
	if (!CHECK_RC(dibs_unregister_client(&b->client), -EINVAL))
		goto unregister_clients;

	/* the last client, then the last device: no more calls */
	dibs_unregister_client(&a->client);
	gone = d1;
	lo_destroy(&d1);
	if (tc_dels(a, gone) != 1 || tc_adds(a, gone) != 1)
		FAIL("final counts add %d del %d\n", tc_adds(a, gone),
		     tc_dels(a, gone));
	return;

unregister_clients:
	dibs_unregister_client(&b->client);
	dibs_unregister_client(&a->client);
destroy_devs:
	lo_destroy(&d2);
	lo_destroy(&d1);
}

static void case_client_limits(void)
{
	static const struct dibs_client_ops no_del = { .add_dev = tc0_add };
	struct dibs_client bad = { .name = "bad", .ops = &no_del };
	struct dibs_client many[MAX_DIBS_CLIENTS + 1];
	int i, n = 0, rc;

	if (!CHECK_RC(dibs_register_client(&bad), -EINVAL))
		goto unregister_clients;
	for (n = 0; n < ARRAY_SIZE(many); n++) {
		many[n].name = "many";
		many[n].ops = &tc0_ops;
		if (dibs_register_client(&many[n]))
			break;
	}
	/* other clients may be registered: at most MAX_DIBS_CLIENTS fit */
	if (n > MAX_DIBS_CLIENTS || n == ARRAY_SIZE(many)) {
		FAIL("%d clients registered\n", n);
		goto unregister_clients;
	}
	rc = dibs_register_client(&many[n]);
	if (!rc)
		n++;
	CHECK_RC(rc, -ENOSPC);
unregister_clients:
	for (i = 0; i < n; i++)
		dibs_unregister_client(&many[i]);
	dibs_unregister_client(&bad);
}

static void case_dmb_limits(void)
{
	struct tclient *a = &tcs[0];
	struct dibs_dmb *dmbs, one = {};
	struct dibs_dev *d;
	int i, n = 0;

	dmbs = vzalloc(array_size(DIBS_LO_MAX_DMBS + 1, sizeof(*dmbs)));
	if (!CHECK(dmbs))
		return;
	tc_reset(a, 0, "test_a");
	d = lo_create(0, DIBS_LOOPBACK_FABRIC);
	if (!CHECK(!IS_ERR(d)))
		goto free_dmbs;
	if (!CHECK_RC(dibs_register_client(&a->client), 0))
		goto destroy_dev;
	if (!CHECK_RC(dibs_max_dmbs(d), DIBS_LO_MAX_DMBS))
		goto unregister_client;
	/* bad lengths and indices */
	one.dmb_len = 0;
	if (!CHECK_RC(try_register_dmb(d, &one, &a->client), -EINVAL))
		goto unregister_client;
	one.dmb_len = DIBS_LO_MAX_DMB_LEN + 1;
	if (!CHECK_RC(try_register_dmb(d, &one, &a->client), -EINVAL))
		goto unregister_client;
	one.dmb_len = 64;
	one.idx = DIBS_LO_MAX_DMBS;
	if (!CHECK_RC(try_register_dmb(d, &one, &a->client), -EINVAL))
		goto unregister_client;

	/* fill the device, then one more must fail cleanly */
	for (n = 0; n < DIBS_LO_MAX_DMBS; n++) {
		dmbs[n].dmb_len = 64;
		if (dibs_register_dmb(d, &dmbs[n], &a->client))
			break;
	}
	if (n != DIBS_LO_MAX_DMBS || dev_dmbs(d) != DIBS_LO_MAX_DMBS) {
		FAIL("registered %d DMBs, count %u\n", n, dev_dmbs(d));
		goto unregister_dmbs;
	}
	dmbs[n].dmb_len = 64;
	if (!CHECK_RC(try_register_dmb(d, &dmbs[n], &a->client), -ENOSPC))
		goto unregister_dmbs;
	/* a requested index that is taken */
	one.idx = 7;
	if (!CHECK_RC(try_register_dmb(d, &one, &a->client), -EBUSY))
		goto unregister_dmbs;
	/* tokens are distinct and nonzero (spot check) */
	for (i = 1; i < n; i++) {
		if (!dmbs[i].dmb_tok || dmbs[i].dmb_tok == dmbs[i - 1].dmb_tok) {
			FAIL("token %d not unique\n", i);
			goto unregister_dmbs;
		}
	}
	/* unregister with a wrong index or token is refused */
	one = dmbs[0];
	one.idx = dmbs[1].idx;
	if (!CHECK_RC(dibs_unregister_dmb(d, &one), -EINVAL))
		goto unregister_dmbs;
	one = dmbs[0];
	one.dmb_tok ^= 1;
	if (!CHECK_RC(dibs_unregister_dmb(d, &one), -EINVAL))
		goto unregister_dmbs;
	for (; n > 0; n--) {
		if (!CHECK_RC(dibs_unregister_dmb(d, &dmbs[n - 1]), 0))
			goto unregister_dmbs;
	}
	if (dev_dmbs(d)) {
		FAIL("%u DMBs left after unregistering all\n", dev_dmbs(d));
		goto unregister_client;
	}
	/* and the indices are free again */
	one = (struct dibs_dmb){ .dmb_len = 64 };
	if (!CHECK_RC(dibs_register_dmb(d, &one, &a->client), 0))
		goto unregister_client;
	CHECK_RC(dibs_unregister_dmb(d, &one), 0);
unregister_dmbs:
	for (; n > 0; n--)
		dibs_unregister_dmb(d, &dmbs[n - 1]);
unregister_client:
	dibs_unregister_client(&a->client);
destroy_dev:
	lo_destroy(&d);
free_dmbs:
	vfree(dmbs);
}

/* Wait until @tc has seen more than @before signals. */
static bool wait_irqs(struct tclient *tc, int before)
{
	return wait_event_timeout(tc->wq, tc_irqs(tc) > before,
				  msecs_to_jiffies(WAIT_MS)) > 0;
}

static void case_move_data(void)
{
	static const unsigned int sizes[] = { 1, 7, 8, 31, 32, 4096, 4097,
					      TEST_DMB_LEN };
	struct tclient *a = &tcs[0];
	struct dibs_dmb dmb = { .dmb_len = TEST_DMB_LEN };
	struct dibs_dev *d = NULL;
	u8 *src, *shadow;
	unsigned int i, off;
	int before, rc;

	/* the cases read up to ARRAY_SIZE(sizes) bytes past a full DMB's worth */
	src = vmalloc(TEST_DMB_LEN + ARRAY_SIZE(sizes));
	shadow = vzalloc(TEST_DMB_LEN);
	if (!CHECK(src && shadow))
		goto free_bufs;
	tc_reset(a, 0, "test_a");
	d = lo_create(0, DIBS_LOOPBACK_FABRIC);
	if (!CHECK(!IS_ERR(d)))
		goto free_bufs;
	if (!CHECK_RC(dibs_register_client(&a->client), 0))
		goto destroy_dev;
	if (!CHECK_RC(dibs_register_dmb(d, &dmb, &a->client), 0))
		goto unregister_client;
	tc_track(a, d, &dmb);
	get_random_bytes(src, TEST_DMB_LEN + ARRAY_SIZE(sizes));

	/* without signal: bytes land exactly, no handle_irq */
	before = tc_irqs(a);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		off = (sizes[i] * 13) % (TEST_DMB_LEN - sizes[i] + 1);
		if (dibs_move_data(d, dmb.dmb_tok, 0, false, off, src + i,
				   sizes[i])) {
			FAIL("move_data size %u off %u failed\n", sizes[i], off);
			goto unregister_client;
		}
		memcpy(shadow + off, src + i, sizes[i]);
		if (memcmp(dmb.cpu_addr, shadow, TEST_DMB_LEN)) {
			FAIL("DMB differs after size %u off %u\n", sizes[i], off);
			goto unregister_client;
		}
	}
	/* the last byte of the DMB is writable, the whole DMB at offset 0 too */
	if (!CHECK_RC(dibs_move_data(d, dmb.dmb_tok, 0, false, TEST_DMB_LEN - 1,
				     src, 1), 0))
		goto unregister_client;
	msleep(20);
	if (tc_irqs(a) != before) {
		FAIL("handle_irq without signal flag\n");
		goto unregister_client;
	}

	/* with signal: handle_irq with the DMB's index and element bit */
	spin_lock(&a->lock);
	a->irq_mask = 0;
	spin_unlock(&a->lock);
	before = tc_irqs(a);
	if (!CHECK_RC(dibs_move_data(d, dmb.dmb_tok, 5, true, 100, src, 32), 0) ||
	    !CHECK(wait_irqs(a, before)))
		goto unregister_client;
	spin_lock(&a->lock);
	rc = a->irq_idx != dmb.idx || a->irq_mask != BIT(5) || a->irq_bad_context;
	if (rc)
		FAIL("handle_irq idx %u (want %u) mask %#x (want %#lx) bad ctx %d\n",
		     a->irq_idx, dmb.idx, a->irq_mask, BIT(5), a->irq_bad_context);
	spin_unlock(&a->lock);
	if (rc || !CHECK(!memcmp(dmb.cpu_addr + 100, src, 32)))
		goto unregister_client;

	/* from softirq-like context (bh disabled) as SMC does */
	before = tc_irqs(a);
	local_bh_disable();
	rc = dibs_move_data(d, dmb.dmb_tok, 15, true, 0, src, 8);
	local_bh_enable();
	if (!CHECK_RC(rc, 0) || !CHECK(wait_irqs(a, before)))
		goto unregister_client;
	spin_lock(&a->lock);
	rc = a->irq_bad_context;
	spin_unlock(&a->lock);
	if (!CHECK(!rc))
		goto unregister_client;

	/* no signal is delivered for a DMB after it is unregistered */
	if (!CHECK_RC(tc_unregister_dmb(a, d, &dmb), 0))
		goto unregister_client;
	before = tc_irqs(a);
	dibs_dev_irq(d, dmb.idx, 1);
	msleep(20);
	CHECK(tc_irqs(a) == before);
unregister_client:
	dibs_unregister_client(&a->client);
destroy_dev:
	lo_destroy(&d);
free_bufs:
	vfree(src);
	vfree(shadow);
}

/* A client with irq_atomic gets handle_irq() inside dibs_dev_irq() */
static void case_irq_atomic(void)
{
	struct tclient *a = &tcs[0];
	struct dibs_dmb dmb = { .dmb_len = 4096 };
	struct dibs_dev *d;
	u8 buf[32] = { 1, 2, 3 };
	int rc, before;

	tc_reset(a, 0, "test_a");
	a->client.irq_atomic = true;
	d = lo_create(0, DIBS_LOOPBACK_FABRIC);
	if (!CHECK(!IS_ERR(d)))
		return;
	if (!CHECK_RC(dibs_register_client(&a->client), 0))
		goto destroy_dev;
	if (!CHECK_RC(dibs_register_dmb(d, &dmb, &a->client), 0))
		goto unregister_client;
	tc_track(a, d, &dmb);

	/* delivered before move_data returns, from its (softirq-like) context */
	before = tc_irqs(a);
	local_bh_disable();
	rc = dibs_move_data(d, dmb.dmb_tok, 3, true, 64, buf, sizeof(buf));
	local_bh_enable();
	if (rc || tc_irqs(a) != before + 1 || a->irq_idx != dmb.idx ||
	    tc_mask(a) != BIT(3) || memcmp(dmb.cpu_addr + 64, buf, sizeof(buf))) {
		FAIL("rc %d irqs %d (want %d) idx %u (want %u) mask %#x\n", rc,
		     tc_irqs(a), before + 1, a->irq_idx, dmb.idx, tc_mask(a));
		goto unregister_client;
	}
	/* two signals are two calls, not merged */
	dibs_dev_irq(d, dmb.idx, BIT(1));
	dibs_dev_irq(d, dmb.idx, BIT(2));
	if (tc_irqs(a) != before + 3) {
		FAIL("%d calls for 2 more signals\n", tc_irqs(a) - before - 1);
		goto unregister_client;
	}
	/* none for an unregistered DMB */
	if (!CHECK_RC(tc_unregister_dmb(a, d, &dmb), 0))
		goto unregister_client;
	dibs_dev_irq(d, dmb.idx, 1);
	if (tc_irqs(a) != before + 3)
		FAIL("handle_irq for an unregistered DMB\n");
unregister_client:
	dibs_unregister_client(&a->client);
destroy_dev:
	lo_destroy(&d);
}

static void case_bad_input(void)
{
	struct tclient *a = &tcs[0];
	struct dibs_dmb dmb = { .dmb_len = 4096 }, pinned = { .dmb_len = 4096 };
	struct dibs_dev *d, *other, *f1, *f2;
	u8 buf[64];
	int before;

	memset(buf, 0x55, sizeof(buf));
	tc_reset(a, 0, "test_a");
	d = lo_create(0, DIBS_LOOPBACK_FABRIC);
	other = lo_create(1, DIBS_LOOPBACK_FABRIC);
	f1 = lo_create(2, TEST_FABRIC);
	f2 = lo_create(3, TEST_FABRIC);
	if (!CHECK(!IS_ERR(d) && !IS_ERR(other) && !IS_ERR(f1) && !IS_ERR(f2)))
		goto destroy_devs;
	if (!CHECK_RC(dibs_register_client(&a->client), 0))
		goto destroy_devs;
	if (!CHECK_RC(dibs_register_dmb(d, &dmb, &a->client), 0))
		goto unregister_client;
	tc_track(a, d, &dmb);
	memset(dmb.cpu_addr, 0xaa, dmb.dmb_len);
	before = tc_irqs(a);

	/* every bad write is refused and writes nothing */
	if (!CHECK_RC(dibs_move_data(d, dmb.dmb_tok ^ 0x1, 0, true, 0, buf, 8), -ENOENT) ||
	    !CHECK_RC(dibs_move_data(d, 0, 0, true, 0, buf, 8), -ENOENT) ||
	    !CHECK_RC(dibs_move_data(d, dmb.dmb_tok, 0, true, 4096 - 7, buf, 8), -EINVAL) ||
	    !CHECK_RC(dibs_move_data(d, dmb.dmb_tok, 0, true, 4096, buf, 1), -EINVAL) ||
	    !CHECK_RC(dibs_move_data(d, dmb.dmb_tok, 0, true, UINT_MAX, buf, 2), -EINVAL) ||
	    !CHECK_RC(dibs_move_data(d, dmb.dmb_tok, 0, true, 8, buf, UINT_MAX), -EINVAL) ||
	    !CHECK_RC(dibs_move_data(d, dmb.dmb_tok, 0, true, 0, buf, 0), -EINVAL) ||
	    !CHECK_RC(dibs_move_data(d, dmb.dmb_tok, 0, true, 0, buf, 4097), -EINVAL) ||
	    !CHECK_RC(dibs_move_data(d, dmb.dmb_tok, 16, true, 0, buf, 8), -EINVAL) ||
	    /* another loopback device on the private fabric cannot reach it */
	    !CHECK_RC(dibs_move_data(other, dmb.dmb_tok, 0, true, 0, buf, 8), -ENOENT) ||
	    !CHECK_RC(dibs_move_data(f1, dmb.dmb_tok, 0, true, 0, buf, 8), -ENOENT))
		goto unregister_client;
	msleep(20);
	if (!mem_is(dmb.cpu_addr, 0xaa, dmb.dmb_len) || tc_irqs(a) != before) {
		FAIL("a refused move_data wrote or signalled\n");
		goto unregister_client;
	}

	/* a DMB reserved for one remote device refuses the others */
	uuid_copy(&pinned.rgid, &f2->gid);
	if (!CHECK_RC(dibs_register_dmb(f1, &pinned, &a->client), 0))
		goto unregister_client;
	tc_track(a, f1, &pinned);
	memset(pinned.cpu_addr, 0xaa, pinned.dmb_len);
	if (!CHECK_RC(dibs_move_data(f1, pinned.dmb_tok, 0, false, 0, buf, 8),
		      -EACCES) ||
	    !CHECK(mem_is(pinned.cpu_addr, 0xaa, pinned.dmb_len)) ||
	    !CHECK_RC(dibs_move_data(f2, pinned.dmb_tok, 0, false, 0, buf, 8), 0) ||
	    !CHECK(!memcmp(pinned.cpu_addr, buf, 8)))
		goto unregister_client;

	/* query_remote_gid: self, same fabric, other fabric, VLANs */
	if (!CHECK_RC(dibs_query_remote_gid(d, &d->gid, 0, 0), 0) ||
	    !CHECK_RC(dibs_query_remote_gid(d, &other->gid, 0, 0), -ENETUNREACH) ||
	    !CHECK_RC(dibs_query_remote_gid(f1, &f2->gid, 0, 0), 0) ||
	    !CHECK_RC(dibs_query_remote_gid(f2, &f1->gid, 0, 0), 0) ||
	    !CHECK_RC(dibs_query_remote_gid(f1, &d->gid, 0, 0), -ENETUNREACH) ||
	    !CHECK_RC(dibs_query_remote_gid(f1, &f2->gid, 1, 100), -ENETUNREACH) ||
	    !CHECK_RC(dibs_query_remote_gid(f1, &f2->gid, 1, 4096), -EINVAL))
		goto unregister_client;
	if (!CHECK_RC(dibs_add_vlan_id(f2, 100), 0) ||
	    !CHECK_RC(dibs_add_vlan_id(f2, 4096), -EINVAL) ||
	    !CHECK_RC(dibs_query_remote_gid(f1, &f2->gid, 1, 100), 0) ||
	    !CHECK_RC(dibs_del_vlan_id(f2, 100), 0) ||
	    !CHECK_RC(dibs_del_vlan_id(f2, 100), -ENOENT) ||
	    !CHECK_RC(dibs_query_remote_gid(f1, &f2->gid, 1, 100), -ENETUNREACH))
		goto unregister_client;
	if (!CHECK(dibs_get_fabric_id(d) == DIBS_LOOPBACK_FABRIC))
		goto unregister_client;
	CHECK(dibs_get_fabric_id(f1) == TEST_FABRIC);
unregister_client:
	dibs_unregister_client(&a->client);
destroy_devs:
	lo_destroy(&f2);
	lo_destroy(&f1);
	lo_destroy(&other);
	lo_destroy(&d);
}

static void case_signal_event(void)
{
	struct tclient *a = &tcs[0];
	struct dibs_dev *f1, *f2, *lone;
	int before, i, sent, refused;
	bool bad;

	tc_reset(a, 0, "test_a");
	f1 = lo_create(0, TEST_FABRIC);
	f2 = lo_create(1, TEST_FABRIC);
	lone = lo_create(2, DIBS_LOOPBACK_FABRIC);
	if (!CHECK(!IS_ERR(f1) && !IS_ERR(f2) && !IS_ERR(lone)))
		goto destroy_devs;
	if (!CHECK_RC(dibs_register_client(&a->client), 0))
		goto destroy_devs;
	before = tc_events(a);
	if (dibs_signal_event(f1, &f2->gid, 1, 3, 0x1234) ||
	    !wait_event_timeout(a->wq, tc_events(a) > before,
				msecs_to_jiffies(WAIT_MS))) {
		FAIL("event not delivered\n");
		goto unregister_client;
	}
	spin_lock(&a->lock);
	bad = a->event_dev != f2 || a->last_event.type != DIBS_SW_EVENT ||
	      a->last_event.subtype != 3 || a->last_event.data != 0x1234 ||
	      !uuid_equal(&a->last_event.gid, &f1->gid) || !a->last_event.time;
	spin_unlock(&a->lock);
	if (bad) {
		FAIL("event fields wrong\n");
		goto unregister_client;
	}
	/* to itself: accepted and dropped; unreachable: refused */
	before = tc_events(a);
	if (dibs_signal_event(f1, &f1->gid, 1, 3, 0) ||
	    dibs_signal_event(f1, &lone->gid, 1, 3, 0) != -ENETUNREACH ||
	    dibs_signal_event(lone, &f1->gid, 1, 3, 0) != -ENETUNREACH) {
		FAIL("signal_event to self/unreachable wrong\n");
		goto unregister_client;
	}
	msleep(20);
	if (tc_events(a) != before) {
		FAIL("unexpected event delivered\n");
		goto unregister_client;
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
				msecs_to_jiffies(WAIT_MS)))
		FAIL("flood: sent %d refused %d delivered %d\n", sent, refused,
		     tc_events(a) - before);
unregister_client:
	/* unregistering waits for queued events: never leave one blocked */
	WRITE_ONCE(a->block_events, false);
	complete_all(&a->unblock);
	dibs_unregister_client(&a->client);
destroy_devs:
	lo_destroy(&lone);
	lo_destroy(&f2);
	lo_destroy(&f1);
}

static void case_attach_detach(void)
{
	struct tclient *a = &tcs[0];
	struct dibs_dmb dmb = { .dmb_len = 8192 }, map = {}, lonemap = {};
	struct dibs_dev *f1, *f2, *lone;
	bool attached = false;
	u8 buf[16];

	memset(buf, 0x3c, sizeof(buf));
	tc_reset(a, 0, "test_a");
	f1 = lo_create(0, TEST_FABRIC);
	f2 = lo_create(1, TEST_FABRIC);
	lone = lo_create(2, DIBS_LOOPBACK_FABRIC);
	if (!CHECK(!IS_ERR(f1) && !IS_ERR(f2) && !IS_ERR(lone)))
		goto destroy_devs;
	if (!CHECK_RC(dibs_register_client(&a->client), 0))
		goto destroy_devs;
	if (!CHECK(dibs_support_mmapped_rdmb(f1)) ||
	    !CHECK_RC(dibs_register_dmb(f1, &dmb, &a->client), 0))
		goto unregister_client;
	tc_track(a, f1, &dmb);
	/* f2 maps f1's DMB and sees writes made through move_data */
	map.dmb_tok = dmb.dmb_tok;
	if (!CHECK_RC(dibs_attach_dmb(f2, &map), 0))
		goto unregister_client;
	attached = true;
	if (map.cpu_addr != dmb.cpu_addr || map.dmb_len != dmb.dmb_len ||
	    map.idx != dmb.idx) {
		FAIL("attach returned a wrong mapping\n");
		goto detach;
	}
	dibs_move_data(f2, dmb.dmb_tok, 0, false, 100, buf, sizeof(buf));
	if (!CHECK(!memcmp(map.cpu_addr + 100, buf, sizeof(buf))))
		goto detach;
	/* unknown and unreachable tokens cannot be attached */
	lonemap.dmb_tok = dmb.dmb_tok;
	if (!CHECK_RC(try_attach_dmb(lone, &lonemap), -ENOENT))
		goto detach;
	lonemap.dmb_tok = dmb.dmb_tok ^ 2;
	if (!CHECK_RC(try_attach_dmb(f2, &lonemap), -ENOENT))
		goto detach;
	/* the owner unregisters while attached: the mapping stays valid */
	if (!CHECK_RC(tc_unregister_dmb(a, f1, &dmb), 0) ||
	    !CHECK(dev_dmbs(f1) == 0))
		goto detach;
	memset(map.cpu_addr, 0x11, map.dmb_len);
	if (!CHECK(mem_is(map.cpu_addr, 0x11, map.dmb_len)))
		goto detach;
	/* but the token is gone for new writers */
	if (!CHECK_RC(dibs_move_data(f2, dmb.dmb_tok, 0, false, 0, buf, 1),
		      -ENOENT))
		goto detach;
	if (dibs_detach_dmb(f2, map.dmb_tok) ||
	    dibs_detach_dmb(f2, map.dmb_tok) != -ENOENT) {
		FAIL("detach/double detach wrong\n");
		goto detach;
	}
	attached = false;

	/* a device removed while attached to a peer's DMB drops the mapping */
	dmb = (struct dibs_dmb){ .dmb_len = 4096 };
	map = (struct dibs_dmb){};
	if (!CHECK_RC(dibs_register_dmb(f1, &dmb, &a->client), 0))
		goto unregister_client;
	tc_track(a, f1, &dmb);
	map.dmb_tok = dmb.dmb_tok;
	if (!CHECK_RC(dibs_attach_dmb(f2, &map), 0))
		goto unregister_client;
	lo_destroy(&f2);
	CHECK_RC(dibs_move_data(f1, dmb.dmb_tok, 0, false, 0, buf, 4), 0);
	goto unregister_client;

detach:
	if (attached)
		dibs_detach_dmb(f2, map.dmb_tok);
unregister_client:
	dibs_unregister_client(&a->client);
destroy_devs:
	lo_destroy(&lone);
	lo_destroy(&f2);
	lo_destroy(&f1);
}

static void case_remove_with_dmbs(void)
{
	struct tclient *a = &tcs[0], *leaky = &tcs[2];
	struct dibs_dmb dmbs[3] = {}, leak = { .dmb_len = 4096 }, map = {};
	struct dibs_dev *f1, *f2, *gone;
	bool attached = false;
	int i;

	tc_reset(a, 0, "test_a");
	tc_reset(leaky, 2, "test_leaky");
	f1 = lo_create(0, TEST_FABRIC);
	f2 = lo_create(1, TEST_FABRIC);
	if (!CHECK(!IS_ERR(f1) && !IS_ERR(f2)))
		goto destroy_devs;
	if (!CHECK_RC(dibs_register_client(&a->client), 0) ||
	    !CHECK_RC(dibs_register_client(&leaky->client), 0))
		goto unregister_clients;
	/* a client that releases its DMBs in del_dev() */
	for (i = 0; i < ARRAY_SIZE(dmbs); i++) {
		dmbs[i].dmb_len = 4096 << i;
		if (!CHECK_RC(dibs_register_dmb(f1, &dmbs[i], &a->client), 0))
			goto unregister_clients;
		tc_track(a, f1, &dmbs[i]);
	}
	/* one that does not (its del_dev has nothing tracked) */
	if (!CHECK_RC(dibs_register_dmb(f1, &leak, &leaky->client), 0))
		goto unregister_clients;
	/* a peer keeps one of them attached */
	map.dmb_tok = dmbs[2].dmb_tok;
	if (!CHECK_RC(dibs_attach_dmb(f2, &map), 0))
		goto unregister_leak;
	attached = true;
	/* signals in flight while the device goes away */
	dibs_move_data(f2, dmbs[0].dmb_tok, 0, true, 0, &map, 8);
	if (!CHECK(dev_dmbs(f1) == 4))
		goto detach;

	gone = f1;
	lo_destroy(&f1);
	/* @gone is only a key now, never dereferenced */
	if (tc_dels(a, gone) != 1 || a->dmbs[0] || a->dmbs[1] || a->dmbs[2]) {
		FAIL("del_dev did not release the client's DMBs\n");
		goto detach;
	}
	/* the mapping survives the owner device and is released by detach */
	memset(map.cpu_addr, 0x5a, map.dmb_len);
	if (!CHECK_RC(dibs_detach_dmb(f2, map.dmb_tok), 0))
		goto detach;
	attached = false;
	CHECK_RC(dibs_move_data(f2, leak.dmb_tok, 0, false, 0, &map, 8), -ENOENT);
detach:
	if (attached)
		dibs_detach_dmb(f2, map.dmb_tok);
unregister_leak:
	/* what the leaky client would leave if the case ends early */
	if (!IS_ERR_OR_NULL(f1))
		dibs_unregister_dmb(f1, &leak);
unregister_clients:
	dibs_unregister_client(&leaky->client);
	dibs_unregister_client(&a->client);
destroy_devs:
	lo_destroy(&f2);
	lo_destroy(&f1);
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

static void case_concurrent_move_data(void)
{
	struct tclient *a = &tcs[0];
	struct dibs_dmb dmb = { .dmb_len = CONC_THREADS * CONC_CHUNK };
	struct conc_arg args[CONC_THREADS];
	struct task_struct *t;
	struct dibs_dev *f1, *f2;
	int i, want = 0;

	tc_reset(a, 0, "test_a");
	f1 = lo_create(0, TEST_FABRIC);
	f2 = lo_create(1, TEST_FABRIC);
	if (!CHECK(!IS_ERR(f1) && !IS_ERR(f2)))
		goto destroy_devs;
	if (!CHECK_RC(dibs_register_client(&a->client), 0))
		goto destroy_devs;
	if (!CHECK_RC(dibs_register_dmb(f1, &dmb, &a->client), 0))
		goto unregister_client;
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
	/* the writers use @args and the DMB: no way out before they are done */
	for (i = 0; i < CONC_THREADS; i++)
		wait_for_completion(&args[i].done);
	for (i = 0; i < CONC_THREADS; i++) {
		if (args[i].errors ||
		    !mem_is(dmb.cpu_addr + i * CONC_CHUNK, 0xf0 + i, CONC_CHUNK)) {
			FAIL("writer %d: %d errors or wrong final bytes\n", i,
			     args[i].errors);
			goto unregister_client;
		}
	}
	/* every element bit arrives; signals for one DMB may be merged */
	if (!wait_event_timeout(a->wq, tc_mask(a) == want,
				msecs_to_jiffies(WAIT_MS)) || a->irq_bad_context)
		FAIL("signal mask %#x, want %#x\n", tc_mask(a), want);
unregister_client:
	dibs_unregister_client(&a->client);
destroy_devs:
	lo_destroy(&f2);
	lo_destroy(&f1);
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

static void case_lent_memory(void)
{
	const u32 len = 8 << 20;	/* beyond what the device allocates itself */
	struct tclient *a = &tcs[0];
	struct dibs_dmb dmb = { .dmb_len = len }, map = {};
	struct lent_arg arg = {};
	struct task_struct *t;
	struct dibs_dev *f1, *f2;
	bool early;
	u8 buf[32], *mem;
	int rc;

	memset(buf, 0x77, sizeof(buf));
	mem = vzalloc(len);
	if (!CHECK(mem))
		return;
	tc_reset(a, 0, "test_a");
	f1 = lo_create(0, TEST_FABRIC);
	f2 = lo_create(1, TEST_FABRIC);
	if (!CHECK(!IS_ERR(f1) && !IS_ERR(f2)))
		goto destroy_devs;
	if (!CHECK_RC(dibs_register_client(&a->client), 0))
		goto destroy_devs;
	dmb.cpu_addr = mem;
	/* unregistering the client unregisters the DMB, before @mem is freed */
	if (!CHECK_RC(dibs_register_dmb(f1, &dmb, &a->client), 0))
		goto unregister_client;
	tc_track(a, f1, &dmb);
	if (!CHECK(dmb.cpu_addr == mem))
		goto unregister_client;
	/* writes land in the lent memory, up to its last byte */
	if (!CHECK_RC(dibs_move_data(f2, dmb.dmb_tok, 0, false, len - sizeof(buf),
				     buf, sizeof(buf)), 0) ||
	    !CHECK(!memcmp(mem + len - sizeof(buf), buf, sizeof(buf))))
		goto unregister_client;
	/* an attachment keeps unregister waiting until it is detached */
	map.dmb_tok = dmb.dmb_tok;
	if (!CHECK_RC(dibs_attach_dmb(f2, &map), 0))
		goto unregister_client;
	if (!CHECK(map.cpu_addr == mem))
		goto detach;
	arg = (struct lent_arg){ .dev = f2, .tok = dmb.dmb_tok };
	init_completion(&arg.done);
	t = kthread_run(lent_detacher, &arg, "test_dibs/lent");
	if (!CHECK(!IS_ERR(t)))
		goto detach;
	/* the detacher owns the attachment now */
	rc = tc_unregister_dmb(a, f1, &dmb);
	early = !READ_ONCE(arg.detached);
	wait_for_completion(&arg.done);
	if (!CHECK_RC(rc, 0))
		goto unregister_client;
	if (early) {
		FAIL("unregister of lent memory returned while attached\n");
		goto unregister_client;
	}
	CHECK(!dev_dmbs(f1));
	goto unregister_client;

detach:
	/* a lent DMB's unregister, in del_dev(), waits for this */
	dibs_detach_dmb(f2, map.dmb_tok);
unregister_client:
	dibs_unregister_client(&a->client);
destroy_devs:
	lo_destroy(&f2);
	lo_destroy(&f1);
	vfree(mem);
}

/* ------------------------------------------------------------------------ */

static const struct {
	const char *name;
	void (*fn)(void);
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

/*
 * A case must leave no client registered and no device behind. Should one
 * do so anyway, fail it and clean up after it, so that the next cases and
 * the module's unload find the dibs layer as it was.
 */
static void check_leftovers(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(tcs); i++) {
		/* its tracked DMBs lived in the case's frame: forget them */
		memset(tcs[i].dmbs, 0, sizeof(tcs[i].dmbs));
		memset(tcs[i].dmb_devs, 0, sizeof(tcs[i].dmb_devs));
		if (!dibs_unregister_client(&tcs[i].client))
			FAIL("left client %s registered\n", tcs[i].client.name);
	}
	for (i = 0; i < TEST_DEVS; i++) {
		if (test_devs[i]) {
			FAIL("left dibs_lo%u behind\n", TEST_DEV_ID + i);
			lo_destroy(&test_devs[i]);
		}
	}
}

static int __init test_dibs_init(void)
{
	int i, failed = 0;

	pr_info("1..%zu\n", ARRAY_SIZE(cases));
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		checks_failed = 0;
		cases[i].fn();
		check_leftovers();
		if (checks_failed)
			failed++;
		pr_info("%sok %d %s\n", checks_failed ? "not " : "", i + 1,
			cases[i].name);
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
