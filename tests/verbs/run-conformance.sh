#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run-conformance.sh [--device DEV] KMOD_DIR PROVIDER TEST_BINARY [ARGS...] - the verbs
# conformance suite (tests/verbs/test_*.cpp) inside the VM.
#
# Loads ib_uverbs, dibs, dibs_loopback (dibs_lo0, fabric 0xffff: reaches only itself) and
# dibs_rdma, adds dibs_lo1 and dibs_lo2 on fabric 0x10 (they reach each other), points
# libibverbs at the build tree's provider (RDMAV_DRIVERS=PROVIDER) and runs the Boost.Test
# binary with ARGS (default: log every test case with its time).
#
# --device dibs_iv0 also loads dibs_ivshmem (in a utils/vm/vm-group guest) and runs the
# one-device fixtures on dibs_iv0 (VERBS_CONFORMANCE_DEVICE, see conformance.hpp): pick the
# suites that use them with ARGS (--run_test=...).
set -u
DEV=""
if [ "${1:-}" = --device ]; then
	DEV=${2:?--device needs a device name}
	shift 2
fi
K=${1:?usage: run-conformance.sh [--device DEV] KMOD_DIR PROVIDER TEST_BINARY [ARGS...]}
export RDMAV_DRIVERS="${2:?provider}"
bin=${3:?test binary}
shift 3

modprobe ib_uverbs || { echo "cannot load ib_uverbs"; exit 1; }
for ko in dibs/dibs.ko dibs/dibs_loopback.ko kernel/dibs_rdma.ko; do
	insmod "$K/$ko" || { echo "cannot load $K/$ko"; exit 1; }
done
for dev in 1 2; do
	echo "$dev 0x10" > /sys/kernel/dibs_loopback/new_device ||
		{ echo "cannot add dibs_lo$dev"; exit 1; }
done
if [ -n "$DEV" ]; then
	case $DEV in
	dibs_iv*) insmod "$K/dibs/dibs_ivshmem.ko" || { echo "cannot load dibs_ivshmem"; exit 1; } ;;
	esac
	i=0
	until [ -e "/sys/class/infiniband/$DEV" ]; do
		[ "$i" -lt 100 ] || { echo "no ib_device $DEV"; exit 1; }
		sleep 0.1
		i=$((i + 1))
	done
	export VERBS_CONFORMANCE_DEVICE="$DEV"
	echo "one-device suites on $DEV"
fi

export BOOST_TEST_LOG_LEVEL="${BOOST_TEST_LOG_LEVEL:-test_suite}"
export BOOST_TEST_REPORT_LEVEL="${BOOST_TEST_REPORT_LEVEL:-short}"
export BOOST_TEST_COLOR_OUTPUT="${BOOST_TEST_COLOR_OUTPUT:-no}"
start=$(date +%s)
"$bin" "$@"
rc=$?
echo "verbs.conformance: exit $rc after $(($(date +%s) - start)) s"
exit "$rc"
