#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run-faults.sh KMOD_DIR PROVIDER SMCD_TOOL TEST_BINARY SUITE - one suite of the fault
# injection test (test_faults.cpp) inside the VM, on the debug kernel.
#
# Loads ib_uverbs, smc, smc_diag, dibs, dibs_loopback (dibs_lo0), dibs_rdma and dibs_smcd
# (with a user EID), so that adding a device runs every client's add_dev; sets failslab and
# fail_page_alloc to fail only in tasks that ask for it (task-filter; the test arms
# /proc/thread-self/fail-nth or make-it-fail around one call), for GFP_KERNEL allocations
# too (ignore-gfp-wait N), 25% of the time under make-it-fail, without a stack dump per
# failure (verbose 0). Afterwards every DMB count must be back where it was and every
# module must unload; vm-run --kmemleak then reads kmemleak's findings.
set -u
K=${1:?usage: run-faults.sh KMOD_DIR PROVIDER SMCD_TOOL TEST_BINARY SUITE}
export RDMAV_DRIVERS="${2:?provider}"
SMCD=${3:?smcd tool}
bin=${4:?test binary}
suite=${5:?suite}
export TEST_DIBS_CLIENT_KO=$K/tests/dibs/test_dibs_client.ko
. "$(dirname "$0")/../support/tap.sh"

F=/sys/kernel/debug
[ -d $F/failslab ] || { echo "no $F/failslab: not the debug kernel"; exit 1; }
modprobe ib_uverbs || exit 1
modprobe smc || exit 1
modprobe smc_diag || exit 1
for ko in dibs/dibs.ko dibs/dibs_loopback.ko kernel/dibs_rdma.ko smcd/dibs_smcd.ko; do
	insmod "$K/$ko" || { echo "cannot load $K/$ko"; exit 1; }
done
"$SMCD" ueid add DIBS-FAULTS || exit 1
dmbs() { cat /sys/class/dibs/*/dmbs 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
before=$(dmbs)

for f in failslab fail_page_alloc; do
	echo N >$F/$f/ignore-gfp-wait
	echo Y >$F/$f/task-filter
	echo 0 >$F/$f/verbose
	echo 25 >$F/$f/probability
	echo 1 >$F/$f/interval
	echo -1 >$F/$f/times
done

export BOOST_TEST_LOG_LEVEL=message BOOST_TEST_REPORT_LEVEL=short BOOST_TEST_COLOR_OUTPUT=no
"$bin" --run_test="$suite"
equal "suite $suite" "$?" 0

echo 0 >$F/failslab/probability
echo 0 >$F/fail_page_alloc/probability
"$SMCD" ueid del DIBS-FAULTS >/dev/null 2>&1
# SMC keeps a link group's DMBs for reuse until the group or its device goes.
expect "rmmod dibs_smcd" rmmod dibs_smcd
equal "DMBs back to where they were" "$(dmbs)" "$before"
expect "rmmod dibs_rdma" rmmod dibs_rdma
expect "rmmod dibs_loopback" rmmod dibs_loopback
expect "rmmod dibs" rmmod dibs
tap_done
