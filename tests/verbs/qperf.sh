#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# qperf.sh KMOD_DIR PROVIDER - qperf's RC and UC tests over dibs_lo0 inside the VM, server
# and client in the one guest (their control connection on 127.0.0.1).
#
# Loads ib_uverbs, dibs, dibs_loopback and dibs_rdma; PROVIDER is the build tree's provider for
# RDMAV_DRIVERS. Every test must exit 0 and report a figure above zero (bw, send_bw and
# recv_bw, latency or msg_rate); the ver_* tests check the atomics' results themselves. UD and
# XRC are not supported by dibs yet (README): they are not run. rc_bi_bw and uc_bi_bw run with
# 16 KiB messages: both ends first post qperf's whole queue (1024 sends) in one ibv_post_send,
# which dibs executes before it returns; with 64 KiB messages and another VM test beside this
# one (two TCG guests on two host CPUs), that first post outlasted the 1 s window about half the
# time and the test reported 0 received.
set -u
K=${1:?usage: qperf.sh KMOD_DIR PROVIDER}
export RDMAV_DRIVERS="${2:?provider}"
TESTS="rc_bw rc_lat rc_rdma_write_bw rc_rdma_write_lat rc_rdma_write_poll_lat rc_rdma_read_bw
rc_rdma_read_lat rc_compare_swap_mr rc_fetch_add_mr ver_rc_compare_swap ver_rc_fetch_add uc_bw
uc_lat uc_rdma_write_bw uc_rdma_write_lat uc_rdma_write_poll_lat rc_bi_bw uc_bi_bw"

modprobe ib_uverbs || exit 1
for ko in dibs/dibs.ko dibs/dibs_loopback.ko kernel/dibs_rdma.ko; do
	m=$(basename "$ko" .ko)
	[ -d "/sys/module/$m" ] || insmod "$K/$ko" || { echo "cannot load $ko"; exit 1; }
done

qperf > /tmp/qperf-server.log 2>&1 &
spid=$!
# until the server listens on its port (19765 = 0x4D35), on IPv6 (which takes IPv4 too) or IPv4
i=0
while ! grep -q ':4D35 0\{8,32\}:0000 0A' /proc/net/tcp6 /proc/net/tcp && [ "$i" -lt 300 ]; do
	kill -0 "$spid" 2>/dev/null || { echo "FAIL: qperf server exited"; cat /tmp/qperf-server.log; exit 1; }
	sleep 0.1
	i=$((i + 1))
done
[ "$i" -lt 300 ] || { echo "FAIL: the qperf server did not listen"; exit 1; }

fail=0
for t in $TESTS; do
	case $t in
	*_bi_bw) size="-m 16K" ;;
	*) size="" ;;
	esac
	# shellcheck disable=SC2086 # $size is empty or two words
	timeout 60 qperf -t 1 $size -i dibs_lo0:1 127.0.0.1 "$t" > /tmp/qperf.log 2>&1
	rc=$?
	cat /tmp/qperf.log
	# each figure line is "    <name>  =  <value> <unit>"
	if [ "$rc" -ne 0 ]; then
		echo "FAIL: qperf $t exited $rc"
		fail=1
	elif ! awk '$2 == "=" { n++; if ($3 + 0 <= 0) bad++ } END { exit !(n > 0 && !bad) }' \
		/tmp/qperf.log; then
		echo "FAIL: qperf $t reported no figure above zero"
		fail=1
	fi
done
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
[ "$fail" -eq 0 ] && echo "PASS: $(echo "$TESTS" | wc -w) qperf tests"
exit "$fail"
