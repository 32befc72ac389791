// SPDX-License-Identifier: GPL-2.0
/*
 * test_checkers - commits one bug at load so that the VM runner's self-tests
 * can show that the debug kernel's checkers report it and vm-run fails the
 * run: bug=uaf (KASAN), bug=leak (kmemleak), bug=lockdep (a lock order
 * inversion) or bug=sleep (sleeping in atomic context). Loads successfully
 * in every case: the failure must come from the kernel's report alone. Never
 * loaded outside these tests.
 */
#define pr_fmt(fmt) "test_checkers: " fmt

#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

MODULE_DESCRIPTION("commits one bug at load, for the VM runner's self-tests");
MODULE_LICENSE("GPL");

static char *bug = "";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "uaf, leak, lockdep or sleep");

static DEFINE_MUTEX(lock_a);
static DEFINE_MUTEX(lock_b);
static DEFINE_SPINLOCK(atomic_lock);

/* the pointer is read back after kfree(): KASAN reports use-after-free */
static noinline int tc_uaf(void)
{
	char *p = kmalloc(32, GFP_KERNEL);
	char c;

	if (!p)
		return -ENOMEM;
	kfree(p);
	c = READ_ONCE(p[8]);
	return c == 42;
}

/* nothing refers to the allocation once this returns */
static noinline void tc_leak(void)
{
	char *p = kmalloc(64, GFP_KERNEL);

	if (p)
		memset(p, 0x5a, 64);
}

/* a then b, later b then a: lockdep reports the possible deadlock */
static void tc_lockdep(void)
{
	mutex_lock(&lock_a);
	mutex_lock(&lock_b);
	mutex_unlock(&lock_b);
	mutex_unlock(&lock_a);
	mutex_lock(&lock_b);
	mutex_lock(&lock_a);
	mutex_unlock(&lock_a);
	mutex_unlock(&lock_b);
}

/* a GFP_KERNEL allocation may sleep: not under a spinlock */
static void tc_sleep(void)
{
	spin_lock(&atomic_lock);
	kfree(kmalloc(8, GFP_KERNEL));
	spin_unlock(&atomic_lock);
}

static int __init test_checkers_init(void)
{
	if (!strcmp(bug, "uaf"))
		tc_uaf();
	else if (!strcmp(bug, "leak"))
		tc_leak();
	else if (!strcmp(bug, "lockdep"))
		tc_lockdep();
	else if (!strcmp(bug, "sleep"))
		tc_sleep();
	else
		return -EINVAL;
	return 0;
}

static void __exit test_checkers_exit(void)
{
}

module_init(test_checkers_init);
module_exit(test_checkers_exit);
