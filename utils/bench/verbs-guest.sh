#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# verbs-guest.sh KMOD_DIR PROVIDER MEMCPY_BW - the guest half of utils/bench/bench-verbs.
#
# In one VM: loads dibs, dibs_loopback and dibs_rdma (device dibs_lo0) and
# rdma_rxe on lo (device rxe0), runs the same perftest cases on both, and
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

for dev in dibs_lo0 rxe0; do
	for size in 4096 65536; do
		pair "$dev" ib_write_bw -s "$size" -n "$N" &&
			echo "RESULT write_bw_$size $dev $(figure "$size" 4) MB/s"
	done
	for tool in ib_write_lat ib_send_lat ib_read_lat; do
		pair "$dev" "$tool" -s 2 -n "$N" &&
			echo "RESULT ${tool#ib_}_2 $dev $(figure 2 5) us"
	done
done
for size in 4096 65536; do
	echo "RESULT memcpy_$size cpu $("$MEMCPY" "$size" 2 | awk '{ print $3 }') MB/s"
done
