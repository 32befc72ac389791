// SPDX-License-Identifier: GPL-2.0
/*
 * test_dibs_client - a minimal dibs client for module load/unload tests
 *
 * Registers with dibs at load, owns one DMB on every device it is given and
 * releases it in del_dev(). The read-only parameters "added" and "removed"
 * count add_dev()/del_dev() calls; unloading prints both. Unlike test_dibs
 * it does not depend on dibs_loopback, so that driver can come and go under
 * a registered client.
 */
#define pr_fmt(fmt) "test_dibs_client: " fmt

#include <linux/dibs.h>
#include <linux/module.h>
#include <linux/slab.h>

MODULE_DESCRIPTION("dibs test client for load/unload order tests");
MODULE_LICENSE("GPL");

static int added;
module_param(added, int, 0444);
MODULE_PARM_DESC(added, "add_dev() calls seen");
static int removed;
module_param(removed, int, 0444);
MODULE_PARM_DESC(removed, "del_dev() calls seen");

static struct dibs_client test_client;

static void tcl_add_dev(struct dibs_dev *dev)
{
	struct dibs_dmb *dmb;

	added++;
	dmb = kzalloc(sizeof(*dmb), GFP_KERNEL);
	if (!dmb)
		return;
	dmb->dmb_len = 16384;
	if (dibs_register_dmb(dev, dmb, &test_client)) {
		dev_err(&dev->dev, "test_dibs_client: register_dmb failed\n");
		kfree(dmb);
		return;
	}
	dibs_set_priv(dev, &test_client, dmb);
}

static void tcl_del_dev(struct dibs_dev *dev)
{
	struct dibs_dmb *dmb = dibs_get_priv(dev, &test_client);

	removed++;
	if (!dmb)
		return;
	if (dibs_unregister_dmb(dev, dmb))
		dev_err(&dev->dev, "test_dibs_client: unregister_dmb failed\n");
	kfree(dmb);
	dibs_set_priv(dev, &test_client, NULL);
}

static const struct dibs_client_ops tcl_ops = {
	.add_dev = tcl_add_dev,
	.del_dev = tcl_del_dev,
};

static struct dibs_client test_client = {
	.name = "test_dibs_client",
	.ops = &tcl_ops,
};

static int __init tcl_init(void)
{
	return dibs_register_client(&test_client);
}

static void __exit tcl_exit(void)
{
	dibs_unregister_client(&test_client);
	pr_info("unloaded: added %d removed %d\n", added, removed);
}

module_init(tcl_init);
module_exit(tcl_exit);
