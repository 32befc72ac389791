#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# verbs-guest.sh KMOD_DIR PROVIDER MEMCPY_BW - the guest half of utils/bench/bench-verbs.
#
# In one VM: loads dibs, dibs_loopback and dibs_rdma (device dibs_lo0) and
# rdma_rxe on lo (device rxe0), runs the same perftest cases on dibs_lo0 with
# the provider's bypass data path and with DIBS_RDMA_BYPASS=0, and on rxe0, and
# measures single-thread memcpy. Prints one "RESULT <case> <device> <value>
# <unit>" line per figure; everything else is the tools' own output.
set -u
K=$1
export RDMAV_DRIVERS=$2
MEMCPY=$3
N=${BENCH_ITERS:-1000}

modprobe ib_uverbs && modprobe rdma_rxe || exit 1
insmod "$K/dibs/dibs.ko" && insmod "$K/dibs/dibs_loopback.ko" &&
	insmod "$K/kernel/dibs_rdma.ko" || exit 1
rdma link add rxe0 type rxe netdev lo || exit 1
port=18515

# pair DEVICE TOOL ARGS...: run a server/client pair, client output on stdout
pair() {
	dev=$1 tool=$2
	shift 2
	port=$((port + 1))
	timeout 300 "$tool" -d "$dev" -F -p "$port" "$@" > /tmp/srv.log 2>&1 &
	spid=$!
	# wait until the server listens on its port, not a fixed time
	hex=$(printf '%04X' "$port")
	i=0
	while ! grep -q ":$hex 00000000:0000 0A" /proc/net/tcp &&
		kill -0 "$spid" 2>/dev/null && [ "$i" -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	timeout 300 "$tool" -d "$dev" -F -p "$port" "$@" 127.0.0.1 > /tmp/cli.log 2>&1
	rc=$?
	wait
	cat /tmp/cli.log >&2
	return $rc
}

# the row for SIZE of a perftest table: column COL
figure() { awk -v s="$1" -v c="$2" '$1 == s && NF >= c { v = $c } END { print v }' /tmp/cli.log; }

# MODE is dibs_lo0 (the provider's bypass data path), dibs_lo0-kernel (DIBS_RDMA_BYPASS=0:
# everything through the kernel) or rxe0
for mode in dibs_lo0 dibs_lo0-kernel rxe0; do
	case $mode in
	dibs_lo0-kernel) dev=dibs_lo0 && export DIBS_RDMA_BYPASS=0 ;;
	*) dev=$mode && unset DIBS_RDMA_BYPASS ;;
	esac
	for size in 2 64 4096 65536 1048576; do
		pair "$dev" ib_write_bw -s "$size" -n "$N" &&
			echo "RESULT write_bw_$size $mode $(figure "$size" 4) MB/s"
	done
	for size in 4096 65536 1048576; do
		pair "$dev" ib_read_bw -s "$size" -n "$N" &&
			echo "RESULT read_bw_$size $mode $(figure "$size" 4) MB/s"
	done
	# message rate (column 5: Mpps), one QP and four
	pair "$dev" ib_write_bw -s 64 -n "$N" &&
		echo "RESULT msgrate_64 $mode $(figure 64 5) Mpps"
	pair "$dev" ib_write_bw -s 64 -q 4 -n "$N" &&
		echo "RESULT msgrate_64_q4 $mode $(figure 64 5) Mpps"
	for tool in ib_write_lat ib_send_lat ib_read_lat; do
		pair "$dev" "$tool" -s 2 -n "$N" &&
			echo "RESULT ${tool#ib_}_2 $mode $(figure 2 5) us"
	done
	# completion events (-e; perftest has none for WRITE)
	pair "$dev" ib_send_lat -e -s 2 -n "$N" &&
		echo "RESULT send_lat_e_2 $mode $(figure 2 5) us"
	pair "$dev" ib_read_bw -e -s 65536 -n "$N" &&
		echo "RESULT read_bw_e_65536 $mode $(figure 65536 4) MB/s"
done
for size in 64 4096 65536 1048576; do
	echo "RESULT memcpy_$size cpu $("$MEMCPY" "$size" 2 | awk '{ print $3 }') MB/s"
done
