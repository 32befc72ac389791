// SPDX-License-Identifier: GPL-2.0
/*
 * test_dibs_xvm - the dibs API between two guests on the cross-VM device
 *
 * Loaded in both guests of tests/ivshmem/cross-vm.sh, case dmb, on their
 * dibs_ivshmem device (dibs_iv*), with the other guest's GID as "peer":
 *
 *   role=writer  says READY (a dibs event) at load and waits for the owner's
 *                token (another event), then moves data
 *                into the owner's DMB with and without a signal, reads and
 *                writes it through attach_dmb(), sends an event, and tries
 *                every bad input the API takes: each must fail with its
 *                errno and write nothing. Then it tells the owner (an event).
 *   role=owner   registers a DMB, sends its token to the writer (at load and
 *                again on READY: either guest may load first); "done" once
 *                the writer is. Writing 1 to the parameter "verify" then
 *                checks the DMB byte for byte, the one signal (its index and
 *                mask; it may be delivered after the writer's last event)
 *                and the writer's event.
 *
 * Results go to the kernel log as TAP lines; the parameters "done" and
 * "failures" (read-only) tell the script how it went.
 */
#define pr_fmt(fmt) "test_dibs_xvm: " fmt

#include <linux/dibs.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uuid.h>
#include <linux/wait.h>

MODULE_DESCRIPTION("dibs API test between two guests (cross-VM device)");
MODULE_LICENSE("GPL");

static char *role;
module_param(role, charp, 0444);
MODULE_PARM_DESC(role, "owner or writer");
static char *peer;
module_param(peer, charp, 0444);
MODULE_PARM_DESC(peer, "GID (uuid) of the other guest's device");
static int done;
module_param(done, int, 0444);
MODULE_PARM_DESC(done, "1 when this side has finished");
static int failures;
module_param(failures, int, 0444);
MODULE_PARM_DESC(failures, "failed checks");

#define XVM_DMB_LEN	65536
#define XVM_SIGNAL_BIT	3
/* event codes between the two modules (not SMC-D's 1 and 2, not dibs_rdma's) */
#define XVM_EV_TOKEN	0x7e570001
#define XVM_EV_HELLO	0x7e570002
#define XVM_EV_DONE	0x7e570003
#define XVM_EV_READY	0x7e570004
#define XVM_HELLO_INFO	0x1234abcd5678ef00ULL

/*
 * What the writer writes: [0, 4096) by move_data, [60000, end) with a
 * signal, [8192, +4096) through the attachment.
 */
#define XVM_A_OFF	0
#define XVM_A_LEN	4096
#define XVM_B_OFF	60000
#define XVM_B_LEN	(XVM_DMB_LEN - XVM_B_OFF)
#define XVM_C_OFF	8192
#define XVM_C_LEN	4096

static struct dibs_client xvm_client;
static struct dibs_dev *xvm_dev;	/* the dibs_iv device, set in add_dev */
static uuid_t xvm_peer;
static struct dibs_dmb xvm_dmb;		/* owner: the DMB */
static int xvm_checks;
/* owner: what arrived (event work and irq delivery are process context) */
static int xvm_irqs, xvm_irq_idx = -1, xvm_irq_mask;
static bool xvm_hello;
static int xvm_writer_failures = -1;
static DECLARE_WAIT_QUEUE_HEAD(xvm_irq_wait);

static void xvm_check(bool ok, const char *what)
{
	xvm_checks++;
	if (ok) {
		pr_info("ok %d - %s\n", xvm_checks, what);
	} else {
		failures++;
		pr_err("not ok %d - %s\n", xvm_checks, what);
	}
}

static u8 xvm_byte(char pattern, u32 off)
{
	return (u8)(pattern * 31 + off * 7 + (off >> 8));
}

static void xvm_fill(u8 *buf, char pattern, u32 off, u32 len)
{
	u32 i;

	for (i = 0; i < len; i++)
		buf[i] = xvm_byte(pattern, off + i);
}

/* Is [off, off + len) of @p pattern @pattern (0: zeros)? */
static bool xvm_is(const u8 *p, char pattern, u32 off, u32 len)
{
	u32 i;

	for (i = 0; i < len; i++)
		if (p[off + i] != (pattern ? xvm_byte(pattern, off + i) : 0))
			return false;
	return true;
}

/* ---- writer ---------------------------------------------------------- */

static void xvm_writer_run(u64 tok)
{
	struct dibs_dmb map = { .dmb_tok = tok };
	u64 bad_rand = tok ^ BIT_ULL(40);
	u64 bad_idx = (tok & ~0xff00ULL) | (0xffULL << 8);
	u64 bad_slot = (tok & ~0xffULL) | 7;
	uuid_t stranger;
	u8 *buf;
	int rc;

	buf = kmalloc(XVM_DMB_LEN, GFP_KERNEL);
	if (!buf) {
		xvm_check(false, "allocate the writer's buffer");
		return;
	}
	xvm_check(!dibs_query_remote_gid(xvm_dev, &xvm_peer, 0, 0),
		  "query_remote_gid(owner) succeeds");
	generate_random_uuid(stranger.b);
	xvm_check(dibs_query_remote_gid(xvm_dev, &stranger, 0, 0) == -ENETUNREACH,
		  "query_remote_gid(unknown GID) is -ENETUNREACH");

	xvm_fill(buf, 'A', XVM_A_OFF, XVM_A_LEN);
	xvm_check(!dibs_move_data(xvm_dev, tok, 0, false, XVM_A_OFF, buf, XVM_A_LEN),
		  "move_data 4096 bytes at 0, no signal");

	/* bad inputs: each fails and writes nothing (the owner checks the bytes) */
	memset(buf, 0xee, XVM_DMB_LEN);
	rc = dibs_move_data(xvm_dev, tok, 0, false, XVM_DMB_LEN, buf, 1);
	xvm_check(rc == -EINVAL, "move_data at the DMB's end is -EINVAL");
	rc = dibs_move_data(xvm_dev, tok, 0, false, XVM_DMB_LEN - 100, buf, 101);
	xvm_check(rc == -EINVAL, "move_data across the DMB's end is -EINVAL");
	rc = dibs_move_data(xvm_dev, tok, 0, false, 100, buf, 0);
	xvm_check(rc == -EINVAL, "move_data of 0 bytes is -EINVAL");
	rc = dibs_move_data(xvm_dev, tok, 0, false, UINT_MAX, buf, 16);
	xvm_check(rc == -EINVAL, "move_data at offset UINT_MAX is -EINVAL");
	rc = dibs_move_data(xvm_dev, tok, 16, true, 100, buf, 16);
	xvm_check(rc == -EINVAL, "move_data with signal index 16 is -EINVAL");
	rc = dibs_move_data(xvm_dev, bad_rand, 0, false, 100, buf, 16);
	xvm_check(rc == -ENOENT, "move_data with a wrong random part is -ENOENT");
	rc = dibs_move_data(xvm_dev, bad_idx, 0, false, 100, buf, 16);
	xvm_check(rc == -ENOENT, "move_data with DMB index 255 is -ENOENT");
	rc = dibs_move_data(xvm_dev, bad_slot, 0, false, 100, buf, 16);
	xvm_check(rc == -ENOENT, "move_data to an empty peer slot is -ENOENT");
	rc = dibs_move_data(xvm_dev, 0, 0, false, 100, buf, 16);
	xvm_check(rc == -ENOENT, "move_data with token 0 is -ENOENT");
	map.dmb_tok = bad_rand;
	xvm_check(dibs_attach_dmb(xvm_dev, &map) == -ENOENT,
		  "attach_dmb of a wrong token is -ENOENT");
	xvm_check(dibs_detach_dmb(xvm_dev, tok) == -ENOENT,
		  "detach_dmb of a DMB not attached is -ENOENT");

	xvm_fill(buf, 'B', XVM_B_OFF, XVM_B_LEN);
	xvm_check(!dibs_move_data(xvm_dev, tok, XVM_SIGNAL_BIT, true, XVM_B_OFF,
				  buf, XVM_B_LEN),
		  "move_data up to the DMB's end, with signal bit 3");

	map.dmb_tok = tok;
	rc = dibs_attach_dmb(xvm_dev, &map);
	xvm_check(!rc && map.cpu_addr && map.dmb_len >= XVM_DMB_LEN,
		  "attach_dmb of the owner's DMB");
	if (!rc) {
		xvm_check(xvm_is(map.cpu_addr, 'A', XVM_A_OFF, XVM_A_LEN) &&
			  xvm_is(map.cpu_addr, 'B', XVM_B_OFF, XVM_B_LEN) &&
			  xvm_is(map.cpu_addr, 0, XVM_A_LEN, XVM_B_OFF - XVM_A_LEN),
			  "the attachment reads what move_data wrote, byte for byte");
		xvm_fill(buf, 'C', XVM_C_OFF, XVM_C_LEN);
		memcpy(map.cpu_addr + XVM_C_OFF, buf, XVM_C_LEN);
		xvm_check(!dibs_detach_dmb(xvm_dev, tok), "detach_dmb");
	}
	xvm_check(!dibs_signal_event(xvm_dev, &xvm_peer, 1, XVM_EV_HELLO,
				     XVM_HELLO_INFO),
		  "signal_event to the owner");
	kfree(buf);
}

/* ---- owner ----------------------------------------------------------- */

static void xvm_owner_verify(void)
{
	const u8 *p = xvm_dmb.cpu_addr;

	xvm_check(!xvm_writer_failures, "the writer's checks passed");
	/* signals and events are delivered separately: the signal may come last */
	wait_event_timeout(xvm_irq_wait, READ_ONCE(xvm_irqs), 5 * HZ);
	xvm_check(xvm_is(p, 'A', XVM_A_OFF, XVM_A_LEN), "bytes [0, 4096) are the writer's");
	xvm_check(xvm_is(p, 'C', XVM_C_OFF, XVM_C_LEN),
		  "bytes [8192, 12288), written through the attachment, are the writer's");
	xvm_check(xvm_is(p, 'B', XVM_B_OFF, XVM_B_LEN),
		  "bytes [60000, 65536), moved with a signal, are the writer's");
	xvm_check(xvm_is(p, 0, XVM_A_LEN, XVM_C_OFF - XVM_A_LEN) &&
		  xvm_is(p, 0, XVM_C_OFF + XVM_C_LEN,
			 XVM_B_OFF - XVM_C_OFF - XVM_C_LEN),
		  "nothing else changed (no bad input wrote)");
	xvm_check(xvm_irqs == 1 && xvm_irq_idx == xvm_dmb.idx &&
		  xvm_irq_mask == BIT(XVM_SIGNAL_BIT),
		  "one signal for the DMB with mask bit 3");
	xvm_check(xvm_hello, "the writer's event arrived with its GID and data");
}

static void xvm_irq(struct dibs_dev *dev, unsigned int idx, u16 mask)
{
	xvm_irq_idx = idx;
	xvm_irq_mask = mask;
	WRITE_ONCE(xvm_irqs, xvm_irqs + 1);
	wake_up(&xvm_irq_wait);
}

static void xvm_event(struct dibs_dev *dev, const struct dibs_event *ev)
{
	if (dev != xvm_dev || ev->type != DIBS_SW_EVENT ||
	    !uuid_equal(&ev->gid, &xvm_peer))
		return;
	switch (ev->subtype) {
	case XVM_EV_TOKEN:	/* at the writer; a second copy is ignored */
		if (done)
			break;
		xvm_writer_run(ev->data);
		dibs_signal_event(xvm_dev, &xvm_peer, 1, XVM_EV_DONE, failures);
		WRITE_ONCE(done, 1);
		break;
	case XVM_EV_HELLO:	/* at the owner */
		xvm_hello = ev->data == XVM_HELLO_INFO;
		break;
	case XVM_EV_READY:	/* at the owner */
		if (xvm_dmb.cpu_addr)
			dibs_signal_event(xvm_dev, &xvm_peer, 1, XVM_EV_TOKEN,
					  xvm_dmb.dmb_tok);
		break;
	case XVM_EV_DONE:	/* at the owner */
		xvm_writer_failures = (int)ev->data;
		WRITE_ONCE(done, 1);
		break;
	}
}

static void xvm_add_dev(struct dibs_dev *dev)
{
	int rc;

	if (xvm_dev || strncmp(dev_name(&dev->dev), "dibs_iv", 7))
		return;
	xvm_dev = dev;
	if (strcmp(role, "owner")) {
		/* the owner may not be there yet: it sends its token when it loads */
		dibs_signal_event(dev, &xvm_peer, 1, XVM_EV_READY, 0);
		return;
	}
	xvm_dmb.dmb_len = XVM_DMB_LEN;
	rc = dibs_register_dmb(dev, &xvm_dmb, &xvm_client);
	xvm_check(!rc, "register a 64 KiB DMB");
	if (rc)
		return;
	xvm_check(xvm_is(xvm_dmb.cpu_addr, 0, 0, XVM_DMB_LEN), "the new DMB is zeroed");
	/* the writer may not be there yet: it says READY when it loads */
	dibs_signal_event(dev, &xvm_peer, 1, XVM_EV_TOKEN, xvm_dmb.dmb_tok);
}

static void xvm_del_dev(struct dibs_dev *dev)
{
	if (dev != xvm_dev)
		return;
	if (xvm_dmb.cpu_addr)
		dibs_unregister_dmb(dev, &xvm_dmb);
	xvm_dmb.cpu_addr = NULL;
	xvm_dev = NULL;
}

/* owner: "echo 1 > .../parameters/verify" runs the checks (after "done") */
static int xvm_verify_set(const char *val, const struct kernel_param *kp)
{
	if (!READ_ONCE(done) || !role || strcmp(role, "owner") || !xvm_dmb.cpu_addr)
		return -EINVAL;
	xvm_owner_verify();
	return 0;
}

static const struct kernel_param_ops xvm_verify_ops = {
	.set = xvm_verify_set,
};

module_param_cb(verify, &xvm_verify_ops, NULL, 0200);
MODULE_PARM_DESC(verify, "owner: write 1 to check the DMB, the signal and the event");

static const struct dibs_client_ops xvm_ops = {
	.add_dev = xvm_add_dev,
	.del_dev = xvm_del_dev,
	.handle_irq = xvm_irq,
	.handle_event = xvm_event,
};

static struct dibs_client xvm_client = {
	.name = "test_dibs_xvm",
	.ops = &xvm_ops,
};

static int __init xvm_init(void)
{
	if (!role || (strcmp(role, "owner") && strcmp(role, "writer")) ||
	    !peer || uuid_parse(peer, &xvm_peer)) {
		pr_err("role=owner|writer and peer=<uuid> are required\n");
		return -EINVAL;
	}
	return dibs_register_client(&xvm_client);
}

static void __exit xvm_exit(void)
{
	dibs_unregister_client(&xvm_client);
	pr_info("%d checks, %d failed\n", xvm_checks, failures);
}

module_init(xvm_init);
module_exit(xvm_exit);
