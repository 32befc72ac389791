#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# verbs-pair.sh KMOD_DIR PROVIDER TOOL [ARGS...] - run a verbs client/server
# pair (perftest's ib_*_bw / ib_*_lat, or ibv_rc_pingpong) over dibs_lo0
# inside the VM, and check the figures it reports.
#
# Loads ib_uverbs, dibs, dibs_loopback and dibs_rdma (those not loaded yet);
# PROVIDER is the build tree's provider for RDMAV_DRIVERS. Server and client
# run on the same device and exchange their addresses over TCP on 127.0.0.1.
# Fails if either side fails or times out, or if a bandwidth/latency figure is
# missing or zero.
#
# Across guests (in a utils/vm/vm-group --guests 2 --link guest, DIBS_GUEST
# set): loads dibs_ivshmem instead of dibs_loopback and runs over dibs_iv0,
# the server in guest 0 and the client in guest 1, which reaches it over the
# guests' link. Peers in another kernel are named by GID, so the tools get
# -x 0 (perftest) or -g 0 (ibv_rc_pingpong). PAIR_PORT (default 7600) to
# PAIR_PORT + 3 are the ports the guests use to say "server ready" and to
# pass the client's verdict.
set -u
K=${1:?usage: verbs-pair.sh KMOD_DIR PROVIDER TOOL [ARGS...]}
export RDMAV_DRIVERS=${2:?provider}
tool=${3:?tool}
shift 3
T=${PAIR_TIMEOUT:-120}
G=${DIBS_GUEST:-}
PORT=${PAIR_PORT:-7600}

# load KO...: insmod those of the build tree not loaded yet
load() {
	for ko in "$@"; do
		m=$(basename "$ko" .ko)
		[ -d "/sys/module/$m" ] || insmod "$K/$ko" || { echo "cannot load $ko"; exit 1; }
	done
}
modprobe ib_uverbs || exit 1
if [ -n "$G" ]; then
	load dibs/dibs.ko dibs/dibs_ivshmem.ko kernel/dibs_rdma.ko
	ibdev=dibs_iv0 gid="-x 0"
	HERE=$(dirname "$0")
	# shellcheck source=tests/support/guest-link.sh
	. "$HERE/guest-link.sh"
	guest_link_up
	# both guests must see each other on the device before the client connects
	i=0
	while [ "$(wc -l </sys/class/dibs/dibs_iv0/device/peers)" -lt 2 ]; do
		[ "$i" -lt 600 ] || { echo "FAIL: dibs_iv0 has no peer"; exit 1; }
		sleep 0.1
		i=$((i + 1))
	done
else
	load dibs/dibs.ko dibs/dibs_loopback.ko kernel/dibs_rdma.ko
	ibdev=dibs_lo0 gid=""
fi

case $tool in
ibv_rc_pingpong | ibv_uc_pingpong | ibv_srq_pingpong) dev="-d $ibdev ${gid:+-g 0}" ;;
*) dev="-d $ibdev -F $gid" ;;
esac

# run_pair: one server/client run, logs in /tmp/server.log and /tmp/client.log
run_pair() {
	case $G in
	"") run_local "$@" ;;
	0) run_server "$@" ;;
	*) run_client "$@" ;;
	esac
}

# wait_listen PID: until the server PID listens on its TCP port (18515 = 0x4853), not a fixed time
wait_listen() {
	i=0
	while ! grep -q ':4853 00000000:0000 0A' /proc/net/tcp && kill -0 "$1" 2>/dev/null &&
		[ "$i" -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# across guests: guest 0 serves and guest 1 is the client
run_server() {
	# shellcheck disable=SC2086 # $dev is several words on purpose
	timeout "$T" "$tool" $dev "$@" > /tmp/server.log 2>&1 &
	spid=$!
	wait_listen "$spid"
	guest_ready "$PORT"
	wait "$spid"
	src=$?
	echo "=== server ($tool $*) in guest 0: exit $src"
	cat /tmp/server.log
	[ "$src" -eq 0 ] || { echo "FAIL: $tool server exited $src"; exit 1; }
}
run_client() {
	guest_wait_ready "$PORT" 60 || { echo "FAIL: the server in guest 0 did not start"; exit 1; }
	# shellcheck disable=SC2086
	timeout "$T" "$tool" $dev "$@" "$DIBS_PEER_ADDR" > /tmp/client.log 2>&1
	crc=$?
	echo "=== client ($tool $*) in guest $G: exit $crc"
	cat /tmp/client.log
	[ "$crc" -eq 0 ] || { echo "FAIL: $tool client exited $crc"; tell_server 1; exit 1; }
}
# The client's verdict for the server guest: 0 pass, 1 fail, 2 run once more. It is told
# by which port the client guest listens on (PORT + 1 + verdict) until guest 0 connects.
tell_server() {
	busybox nc -l -p $((PORT + 1 + $1)) </dev/null >/dev/null 2>&1 &
	lpid=$!
	i=0
	while kill -0 "$lpid" 2>/dev/null; do
		[ "$i" -lt 240 ] || { kill "$lpid"; return 1; }
		sleep 0.5
		i=$((i + 1))
	done
}
hear_client() {
	i=0
	while [ "$i" -lt 120 ]; do
		for v in 0 1 2; do
			if busybox nc -w 1 "$DIBS_PEER_ADDR" $((PORT + 1 + v)) </dev/null >/dev/null 2>&1; then
				echo "$v"
				return
			fi
		done
		sleep 0.5
		i=$((i + 1))
	done
}

run_local() {
	# shellcheck disable=SC2086 # $dev is two words on purpose
	timeout "$T" "$tool" $dev "$@" > /tmp/server.log 2>&1 &
	spid=$!
	wait_listen "$spid"
	# shellcheck disable=SC2086
	timeout "$T" "$tool" $dev "$@" 127.0.0.1 > /tmp/client.log 2>&1
	crc=$?
	wait "$spid"
	src=$?
	echo "=== server ($tool $*): exit $src"
	cat /tmp/server.log
	echo "=== client: exit $crc"
	cat /tmp/client.log
	[ "$src" -eq 0 ] && [ "$crc" -eq 0 ] || { echo "FAIL: $tool exited $src/$crc"; exit 1; }
}

# Figures: perftest prints a table after a "#bytes" header; ibv_rc_pingpong,
# ibv_uc_pingpong and ibv_srq_pingpong a
# "N bytes in S seconds = R Mbit/sec" line.
#
# perftest turns cycles into time with a clock rate it calibrates against
# gettimeofday() before every row. Under TCG (more often on the debug kernel)
# a host-side stall can spoil that fit; perftest then prints "Correlation
# coefficient r^2: ... < 0.9" (glued to the previous row) and reports zeros for
# the next row. Such a row measured no time, but its iterations still ran:
# every row must report the iterations asked for (-n, times -q), which only completed
# work requests give, and a zero figure is excused only right after that
# warning, in at most half of the rows and never all. A run that fails only
# because too many rows lost their calibration (a single-size run has one row)
# is run once more, and the second run must pass the same checks.
iters=0 qps=1 prev=""
for a in "$@"; do
	case $prev in
	-n) iters=$a ;;
	-q) qps=$a ;;
	esac
	prev=$a
done
iters=$((iters * qps)) # perftest counts the iterations of all QPs
perftest_rows() { # $1 = column that must be > 0 on every row, $2 = 1 if bandwidth
	awk -v col="$1" -v bw="$2" -v iters="$iters" '
		/^ *#bytes/ { t = 1; next }
		t && NF >= col && $1 ~ /^[0-9]+$/ {
			n++
			if (iters && $2 != iters) { short++; bad++ }
			else if ($col + 0 <= 0) { if (spoilt) excused++; else bad++ }
			if ($4 + 0 > best) best = $4 + 0
			spoilt = 0
		}
		/Correlation coefficient r\^2/ { spoilt = 1 }
		END {
			if (short) printf "FAIL: %d row(s) without the %d iterations asked for\n", short, iters
			if (excused) printf "note: %d row(s) had no clock calibration\n", excused
			if (n > 0 && !bad && excused * 2 <= n && (!bw || best > 0)) exit 0
			# 2: nothing wrong but the calibration
			exit n > 0 && !bad && excused ? 2 : 1
		}' /tmp/client.log
}
# check: 0 if the figures are right, 2 if only the calibration failed, else 1
check() {
	case $tool in
	ibv_rc_pingpong | ibv_uc_pingpong | ibv_srq_pingpong)
		awk '/bytes in .* seconds =/ { if ($7 + 0 > 0) ok = 1 } END { exit !ok }' \
			/tmp/client.log || { echo "FAIL: no throughput line"; return 1; }
		;;
	*_bw)
		# columns: #bytes #iterations BW_peak BW_average MsgRate. Every row
		# needs a message rate; tiny sizes may print a bandwidth of 0.00 MB/s,
		# so only the best average bandwidth must be non-zero.
		perftest_rows 5 1
		;;
	*_lat)
		# columns: #bytes #iterations t_min t_max t_typical t_avg ...
		perftest_rows 5 0
		;;
	esac
}

# the server guest learns the client's verdict; the client checks the figures
verdict() {
	if [ "$G" = 0 ]; then
		rc=$(hear_client)
		[ -n "$rc" ] || { echo "FAIL: no verdict from the client guest"; exit 1; }
		[ "$rc" = 1 ] && echo "FAIL: the client in guest 1 failed (see its output)"
		return "$rc"
	fi
	check
	rc=$?
	[ -z "$G" ] || tell_server "$rc" || { echo "FAIL: cannot reach guest 0"; exit 1; }
	return "$rc"
}

run_pair "$@"
verdict
rc=$?
if [ "$rc" -eq 2 ]; then
	echo "note: too many rows without clock calibration: the pair runs once more"
	run_pair "$@"
	verdict
	rc=$?
fi
case $rc in
0) ;;
2) echo "FAIL: $tool: missing or zero figures (no clock calibration, twice)"; exit 1 ;;
*) echo "FAIL: $tool: missing or zero figures"; exit 1 ;;
esac
echo "PASS: $tool $*"
