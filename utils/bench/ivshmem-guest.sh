#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# ivshmem-guest.sh KMOD_DIR PROVIDER SMCD_TOOL SMC_BENCH - the guest half of
# utils/bench/bench-ivshmem, run in both guests of utils/vm/vm-group --guests 2 --link.
#
# Loads dibs, dibs_ivshmem and dibs_rdma (device dibs_iv0, the cross-VM device),
# rdma_rxe on the guests' network link (device rxe0), and SMC-D over dibs_iv0
# (dibs_smcd, a user EID). Every case is a server in guest 0 and a client in
# guest 1: the same perftest cases on dibs_iv0 and rxe0, then dibs-smc-bench
# over AF_SMC (mode SMCD checked) and TCP between the guests' link addresses.
# Guest 1 prints one "RESULT <case> <device> <value> <unit>" line per figure;
# everything else is the tools' own output.
set -u
K=$1
export RDMAV_DRIVERS=$2
SMCD=$3
BENCH=$4
N=${BENCH_ITERS:-1000}
SECS=${BENCH_SECONDS:-5}
G=${DIBS_GUEST:?not in a vm-group guest}
export K SMCD
HERE=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/smc/smc-env.sh
. "$HERE/tests/smc/smc-env.sh"
# shellcheck source=tests/support/guest-link.sh
. "$HERE/tests/support/guest-link.sh"

smc_env_up ivshmem
modprobe ib_uverbs && modprobe rdma_rxe || exit 1
insmod "$K/kernel/dibs_rdma.ko" || exit 1
guest_link_up
rdma link add rxe0 type rxe netdev "$GUEST_LINK_DEV" || exit 1
i=0
while [ "$(wc -l </sys/class/dibs/dibs_iv0/device/peers)" -lt 2 ]; do
	[ "$i" -lt 600 ] || { echo "ivshmem-guest: dibs_iv0 has no peer" >&2; exit 1; }
	sleep 0.1
	i=$((i + 1))
done
# rxe (RoCE v2) between the guests: the GID of the link's IPv4 address
rxe_gid=""
for f in /sys/class/infiniband/rxe0/ports/1/gids/*; do
	case $(cat "$f") in
	0000:0000:0000:0000:0000:ffff:*) rxe_gid=${f##*/}; break ;;
	esac
done
[ -n "$rxe_gid" ] || { echo "ivshmem-guest: rxe0 has no IPv4 GID" >&2; exit 1; }

port=18515 ready=7700
# pair DEVICE TOOL ARGS...: perftest server in guest 0, client in guest 1 (output in /tmp/cli.log)
pair() {
	dev=$1 tool=$2
	shift 2
	port=$((port + 1)) ready=$((ready + 1))
	case $dev in
	rxe0) gid=$rxe_gid ;;
	*) gid=0 ;;
	esac
	if [ "$G" = 0 ]; then
		timeout 300 "$tool" -d "$dev" -x "$gid" -F -p "$port" "$@" >/tmp/srv.log 2>&1 &
		spid=$!
		hex=$(printf '%04X' "$port")
		i=0
		while ! grep -q ":$hex 00000000:0000 0A" /proc/net/tcp &&
			kill -0 "$spid" 2>/dev/null && [ "$i" -lt 300 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		guest_ready "$ready"
		wait "$spid"
		return
	fi
	guest_wait_ready "$ready" 120 || return 1
	timeout 300 "$tool" -d "$dev" -x "$gid" -F -p "$port" "$@" "$DIBS_PEER_ADDR" >/tmp/cli.log 2>&1
	rc=$?
	cat /tmp/cli.log >&2
	return $rc
}
# the row for SIZE of a perftest table: column COL
figure() { [ -f /tmp/cli.log ] && awk -v s="$1" -v c="$2" '$1 == s && NF >= c { v = $c } END { print v }' /tmp/cli.log; }
# result LINE: guest 1 prints the figure
result() { [ "$G" = 0 ] || echo "RESULT $*"; }

for dev in dibs_iv0 rxe0; do
	for size in 4096 65536; do
		pair "$dev" ib_write_bw -s "$size" -n "$N" &&
			result "write_bw_$size $dev $(figure "$size" 4) MB/s"
	done
	for tool in ib_write_lat ib_send_lat ib_read_lat; do
		pair "$dev" "$tool" -s 2 -n "$N" &&
			result "${tool#ib_}_2 $dev $(figure 2 5) us"
	done
done

# smc FAMILY MODE: dibs-smc-bench server in guest 0, client in guest 1 (its line on stdout)
smc() {
	fam=$1 mode=$2
	port=$((port + 1)) ready=$((ready + 1))
	expect=any
	[ "$fam" = smc ] && expect=smcd
	set -- --family "$fam" --mode "$mode" --duration "$SECS" --iters "$N" --port "$port"
	if [ "$G" = 0 ]; then
		"$BENCH" "$@" --role server --addr "$DIBS_GUEST_ADDR" >/tmp/srv.log 2>&1 &
		spid=$!
		wait_for /tmp/srv.log "server on" 30
		guest_ready "$ready"
		wait "$spid"
		return
	fi
	guest_wait_ready "$ready" 120 || return 1
	"$BENCH" "$@" --role client --addr "$DIBS_PEER_ADDR" --expect "$expect"
}
for mode in stream rr; do
	for fam in smc tcp; do
		smc "$fam" "$mode" || echo "# $mode $fam: exit $?" >&2
	done
done
"$SMCD" ueid del "$SMC_ENV_UEID" >/dev/null 2>&1
exit 0
