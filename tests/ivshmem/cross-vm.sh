#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# cross-vm.sh KMOD_DIR SMCD_TOOL DIBSCTL SOCK_TEST CASE [PROVIDER [TOOL]] - one cross-VM case, run in
# every guest of utils/vm/vm-group (DIBS_GUEST says which) with the cross-VM dibs device dibs_iv0:
#
#   peers         3 guests see each other (dibsctl show dibs_iv0 lists 2 peers); guest 2
#                 unloads dibs_ivshmem and loads it again: guests 0 and 1 log it leaving and
#                 joining again (a new GID)
#   dmb           2 guests: test_dibs_xvm.ko, the dibs API across the guests - guest 0 owns a
#                 DMB, guest 1 moves data into it (with and without a signal), reads and writes
#                 it through attach_dmb, sends an event and tries every bad input; guest 0
#                 checks the DMB byte for byte, the signal and the event (TAP lines in dmesg)
#   smc           2 guests (--link): smcss -D on both ends shows a stream's connection in mode
#                 SMCD; AF_SMC echo, a 1 GiB hash-checked stream from guest 1 to guest 0 and
#                 200 connections open at once, mode SMCD on both ends (checked through
#                 smc_diag)
#   smc_killed    2 guests (--link): guest 1 streams to guest 0 and runs ibv_rc_pingpong with
#                 it (PROVIDER for libibverbs); guest 0's QEMU is then killed: guest 1's stream
#                 must end with a connection error (exit 3) and the ping-pong with a failure
#                 (its QP goes to the error state) within 20 s of the peer's timeout
#                 (DIBS_IVSHMEM_PEER_TIMEOUT_MS), no hang
#   smc_device_back  2 guests (--link): AF_SMC echo from guest 1 to guest 0 in mode SMCD;
#                 guest 0 unloads its cross-VM device: the next connection falls back to TCP;
#                 guest 0 loads it again: the next one is SMCD again
#   verbs_errors  2 guests (--link): TOOL (dibs-verbs-errors-across) as server in guest 0 and
#                 client in guest 1: data checks, ordering and the owner's error completions
#                 from another kernel (bad rkey, past the end, no remote right), reconnects
#   hostile       2 guests (--link, --host-cmd dibs-region-scribbler): while an AF_SMC stream
#                 and an ibv_rc_pingpong run from guest 1 to guest 0 (PROVIDER for libibverbs),
#                 guest 1 has the host rewrite random parts of the region for 15 s. The
#                 traffic may fail; it must end within its timeouts. Both kernels must have logged what
#                 they refused, stay free of oopses and warnings (vm-run's dmesg check),
#                 unload every module, and then either bind the device again or report the
#                 region broken.
set -u
K=${1:?usage: cross-vm.sh KMOD_DIR SMCD_TOOL DIBSCTL SOCK_TEST CASE}
SMCD=${2:?smcd tool}
DIBSCTL=${3:?dibsctl}
T=${4:?smc-sock-test}
CASE=${5:?case}
PROVIDER=${6:-}
TOOL=${7:-}
TEST=ivshmem.$CASE
G=${DIBS_GUEST:?not in a vm-group guest}
export K SMCD
HERE=$(dirname "$0")
# shellcheck source=tests/smc/smc-env.sh
. "$HERE/../smc/smc-env.sh"
# shellcheck source=tests/smc/smc-helpers.sh
. "$HERE/../smc/smc-helpers.sh"
# shellcheck source=tests/support/guest-link.sh
. "$HERE/../support/guest-link.sh"

LOG=/tmp/cross-vm
mkdir -p "$LOG"
PEERS=/sys/class/dibs/dibs_iv0/device/peers

# wait_peers N SECONDS: until dibs_iv0 lists N slots (itself included)
wait_peers() {
	i=0
	while [ "$(cat $PEERS 2>/dev/null | wc -l)" -ne "$1" ]; do
		[ "$i" -lt $(($2 * 10)) ] || fail "dibs_iv0 lists $(cat $PEERS 2>/dev/null | wc -l) slots, not $1: $(cat $PEERS 2>/dev/null)"
		sleep 0.1
		i=$((i + 1))
	done
}

# wait_log PATTERN COUNT SECONDS: until dmesg has COUNT lines matching PATTERN
wait_log() {
	i=0
	while [ "$(dmesg | grep -c "$1")" -lt "$2" ]; do
		[ "$i" -lt $(($3 * 2)) ] || fail "dmesg has $(dmesg | grep -c "$1") lines '$1', not $2"
		sleep 0.5
		i=$((i + 1))
	done
}

# smc_verbs_up: SMC-D and verbs over dibs_iv0 (PROVIDER for libibverbs), the link up, the peer seen
smc_verbs_up() {
	[ -n "$PROVIDER" ] || fail "case $CASE needs PROVIDER"
	export RDMAV_DRIVERS="$PROVIDER"
	smc_env_up ivshmem
	modprobe ib_uverbs || fail "cannot load ib_uverbs"
	insmod "$K/kernel/dibs_rdma.ko" || fail "cannot load dibs_rdma.ko"
	guest_link_up
	wait_peers 2 60
}

case $CASE in
peers)
	insmod "$K/dibs/dibs.ko" || fail "cannot load dibs.ko"
	insmod "$K/dibs/dibs_ivshmem.ko" || fail "cannot load dibs_ivshmem.ko"
	wait_peers 3 60
	"$DIBSCTL" show dibs_iv0 | sed "s/^/  guest $G: /"
	[ "$("$DIBSCTL" show dibs_iv0 | grep -c '^peer ')" = 2 ] || fail "dibsctl does not list 2 peers"
	if [ "$G" = 2 ]; then
		sleep 2
		rmmod dibs_ivshmem || fail "cannot unload dibs_ivshmem"
		sleep 1
		insmod "$K/dibs/dibs_ivshmem.ko" || fail "cannot load dibs_ivshmem.ko again"
		wait_peers 3 60
		# stay until the others have seen the new GID (they look every 100 ms)
		sleep 4
	else
		wait_log 'peer [0-9] (.*) left$' 1 60
		wait_log 'peer [0-9] (.*) joined$' 3 60
		dmesg | grep 'dibs_ivshmem' | sed 's/^/  /'
	fi
	rmmod dibs_ivshmem || fail "cannot unload dibs_ivshmem"
	rmmod dibs || fail "cannot unload dibs"
	;;
dmb)
	insmod "$K/dibs/dibs.ko" || fail "cannot load dibs.ko"
	insmod "$K/dibs/dibs_ivshmem.ko" || fail "cannot load dibs_ivshmem.ko"
	wait_peers 2 60
	other=$(awk '$3 == "peer" { print $2 }' "$PEERS")
	[ -n "$other" ] || fail "no peer GID in $PEERS"
	role=writer
	[ "$G" = 0 ] && role=owner
	# either may load first: the writer says READY at load, the owner sends its token at
	# load and again on READY
	insmod "$K/tests/ivshmem/test_dibs_xvm.ko" role=$role peer="$other" || fail "cannot load test_dibs_xvm.ko"
	p=/sys/module/test_dibs_xvm/parameters
	i=0
	while [ "$(cat $p/done)" != 1 ]; do
		[ "$i" -lt 300 ] || { dmesg | grep test_dibs_xvm; fail "the $role did not finish"; }
		sleep 0.1
		i=$((i + 1))
	done
	if [ "$G" = 0 ]; then
		echo 1 >$p/verify || fail "the owner cannot verify"
	fi
	dmesg | grep 'test_dibs_xvm' | sed 's/^/  /'
	[ "$(cat $p/failures)" = 0 ] || fail "$(cat $p/failures) checks failed at the $role"
	# the owner unloads last: the writer's side may still touch its DMB until done
	[ "$G" = 0 ] && sleep 1
	rmmod test_dibs_xvm || fail "cannot unload test_dibs_xvm"
	rmmod dibs_ivshmem || fail "cannot unload dibs_ivshmem"
	rmmod dibs || fail "cannot unload dibs"
	;;
smc)
	smc_env_up ivshmem
	guest_link_up
	wait_peers 2 60
	# smcss on both ends shows the connection of a stream from guest 1 to guest 0 as SMCD
	SMCSS=$(dirname "$SMCD")/smcss
	smcss_shows() { # smcss_shows ADDR:PORT: a line of smcss -D with it, mode SMCD
		"$SMCSS" -D | sed "s/^/  guest $G: /"
		"$SMCSS" -D | grep "$1" | grep -q ' SMCD ' || fail "smcss does not show $1 in mode SMCD"
	}
	if [ "$G" = 0 ]; then
		"$T" bulk --bytes 0 --role server --addr "$DIBS_GUEST_ADDR" --port 7200 >"$LOG/server" 2>&1 &
		srv=$!
		sleep 0.5
		guest_ready 7290
		guest_wait_ready 7291 60 || fail "guest 1 did not start its stream"
		smcss_shows "$DIBS_GUEST_ADDR:7200"
		guest_ready 7292
		finish "$srv" 60
		show "$LOG/server"
	else
		guest_wait_ready 7290 60 || fail "guest 0 did not get ready"
		"$T" bulk --bytes 0 --chunk 64K --role client --addr "$DIBS_PEER_ADDR" --port 7200 \
			>"$LOG/bulk" 2>&1 &
		pid=$!
		wait_for "$LOG/bulk" "^bulk: streaming" 30 || { show "$LOG/bulk"; fail "the stream did not start"; }
		smcss_shows "$DIBS_PEER_ADDR:7200"
		guest_ready 7291
		guest_wait_ready 7292 60 || fail "guest 0 did not look"
		kill "$pid"
		wait "$pid"
	fi
	n=0
	for cmd in "echo --count 30" "bulk --bytes 1G --chunk 1M" "concurrent --conns 200 --count 2"; do
		n=$((n + 1))
		port=$((7200 + n))
		if [ "$G" = 0 ]; then
			# shellcheck disable=SC2086 # $cmd is a command and its options
			"$T" $cmd --role server --addr "$DIBS_GUEST_ADDR" --port $port >"$LOG/server" 2>&1 &
			srv=$!
			sleep 0.5
			guest_ready $((7300 + n))
			finish "$srv" 300
			rc=$?
			show "$LOG/server"
			[ "$rc" -eq 0 ] || fail "server ($cmd) exited $rc"
		else
			guest_wait_ready $((7300 + n)) 60 || fail "guest 0 did not get ready"
			# shellcheck disable=SC2086
			run 0 300 $cmd --role client --addr "$DIBS_PEER_ADDR" --port $port
		fi
	done
	"$SMCD" ueid del "$SMC_ENV_UEID" >/dev/null 2>&1
	rmmod dibs_smcd || fail "cannot unload dibs_smcd"
	rmmod dibs_ivshmem || fail "cannot unload dibs_ivshmem"
	;;
smc_killed)
	smc_verbs_up
	pp="ibv_rc_pingpong -d dibs_iv0 -g 0 -n 100000000"
	if [ "$G" = 0 ]; then
		"$T" bulk --bytes 0 --role server --addr "$DIBS_GUEST_ADDR" --port 7400 >"$LOG/server" 2>&1 &
		# shellcheck disable=SC2086 # $pp is a command and its options
		$pp >"$LOG/pingpong" 2>&1 &
		sleep 0.5
		guest_ready 7401
		# until guest 1's stream and ping-pong run (the ping-pong past its TCP exchange)
		guest_wait_ready 7402 120 || fail "guest 1 did not get its traffic going"
		sleep 2
		echo "guest 0: asking the runner to kill this QEMU"
		echo kill >/run/vm-run/request
		sleep 600
		fail "still running"
	fi
	guest_wait_ready 7401 60 || fail "guest 0 did not get ready"
	"$T" bulk --bytes 0 --chunk 256K --role client --addr "$DIBS_PEER_ADDR" --port 7400 \
		>"$LOG/bulk" 2>&1 &
	pid=$!
	# shellcheck disable=SC2086
	stdbuf -oL $pp "$DIBS_PEER_ADDR" >"$LOG/pingpong" 2>&1 &
	pps=$!
	wait_for "$LOG/bulk" "^bulk: streaming" 30 || { show "$LOG/bulk"; fail "the stream did not start"; }
	wait_for "$LOG/pingpong" "remote address" 60 || { show "$LOG/pingpong"; fail "the ping-pong did not connect"; }
	guest_ready 7402
	wait_log 'peer [0-9] (.*) timed out$' 1 60
	start=$(date +%s)
	finish "$pid" 20
	rc=$?
	show "$LOG/bulk"
	echo "  guest 0 timed out; the stream exited $rc after $(($(date +%s) - start)) s more"
	[ "$rc" -eq 3 ] || fail "the stream exited $rc, expected 3 (connection error)"
	# the ping-pong's QP went to the error state with the peer: its receives are flushed
	finish "$pps" 20
	rc=$?
	show "$LOG/pingpong"
	echo "  ibv_rc_pingpong exited $rc after $(($(date +%s) - start)) s"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "ibv_rc_pingpong exited $rc, expected a failure, not a hang"
	dmesg | grep -q 'dibs_iv0: QP [0-9]*: peer .* is gone' || fail "dibs_rdma did not log the QP's peer gone"
	"$SMCD" ueid del "$SMC_ENV_UEID" >/dev/null 2>&1
	for m in dibs_rdma dibs_smcd dibs_ivshmem; do
		rmmod $m || fail "cannot unload $m"
	done
	;;
smc_device_back)
	# guest 0's device leaves (dibs_ivshmem unloaded) and comes back
	smc_env_up ivshmem
	guest_link_up
	wait_peers 2 60
	if [ "$G" = 0 ]; then
		for step in 1 2 3; do
			"$T" echo --count 5 --role server --addr "$DIBS_GUEST_ADDR" --port $((7600 + step)) \
				--expect any >"$LOG/server$step" 2>&1 &
			srv=$!
			sleep 0.5
			guest_ready $((7610 + step))
			finish "$srv" 120
			rc=$?
			show "$LOG/server$step"
			[ "$rc" -eq 0 ] || fail "server $step exited $rc"
			case $step in
			1)
				rmmod dibs_smcd || fail "cannot unload dibs_smcd"
				rmmod dibs_ivshmem || fail "cannot unload dibs_ivshmem"
				;;
			2)
				insmod "$K/dibs/dibs_ivshmem.ko" || fail "cannot load dibs_ivshmem again"
				insmod "$K/smcd/dibs_smcd.ko" || fail "cannot load dibs_smcd again"
				wait_peers 2 60
				;;
			esac
		done
	else
		for step in 1 2 3; do
			guest_wait_ready $((7610 + step)) 120 || fail "guest 0 did not get ready for step $step"
			case $step in
			1) want=smcd ;;
			2) want=fallback ;;
			3) want=smcd ;;
			esac
			# after the leave, the peer must be gone here before SMC-D is tried again
			[ "$step" != 2 ] || wait_log 'peer [0-9] (.*) left$' 1 30
			[ "$step" != 3 ] || wait_log 'peer [0-9] (.*) joined$' 2 60
			echo "  step $step: expecting $want"
			run 0 120 echo --count 5 --role client --addr "$DIBS_PEER_ADDR" --port $((7600 + step)) \
				--expect $want
		done
	fi
	"$SMCD" ueid del "$SMC_ENV_UEID" >/dev/null 2>&1
	rmmod dibs_smcd || fail "cannot unload dibs_smcd"
	rmmod dibs_ivshmem || fail "cannot unload dibs_ivshmem"
	;;
verbs_errors)
	[ -n "$PROVIDER" ] && [ -n "$TOOL" ] || fail "case verbs_errors needs PROVIDER and TOOL"
	export RDMAV_DRIVERS="$PROVIDER"
	insmod "$K/dibs/dibs.ko" || fail "cannot load dibs.ko"
	insmod "$K/dibs/dibs_ivshmem.ko" || fail "cannot load dibs_ivshmem.ko"
	modprobe ib_uverbs || fail "cannot load ib_uverbs"
	insmod "$K/kernel/dibs_rdma.ko" || fail "cannot load dibs_rdma.ko"
	guest_link_up
	wait_peers 2 60
	if [ "$G" = 0 ]; then
		timeout 120 "$TOOL" --role server --port 7900 || fail "the server's checks failed"
	else
		timeout 120 "$TOOL" --role client --addr "$DIBS_PEER_ADDR" --port 7900 ||
			fail "the client's checks failed"
	fi
	for m in dibs_rdma dibs_ivshmem dibs; do
		rmmod $m || fail "cannot unload $m"
	done
	;;
hostile)
	smc_verbs_up
	pp="ibv_rc_pingpong -d dibs_iv0 -g 0 -n 1000000 -s 4096"
	if [ "$G" = 0 ]; then
		timeout 45 "$T" bulk --bytes 0 --role server --addr "$DIBS_GUEST_ADDR" --port 7500 \
			>"$LOG/server" 2>&1 &
		srv=$!
		# shellcheck disable=SC2086 # $pp is a command and its options
		timeout 45 $pp >"$LOG/pingpong" 2>&1 &
		pps=$!
		sleep 1
		guest_ready 7501
	else
		guest_wait_ready 7501 60 || fail "guest 0 did not get ready"
		timeout 45 "$T" bulk --bytes 64G --chunk 256K --role client --addr "$DIBS_PEER_ADDR" \
			--port 7500 >"$LOG/client" 2>&1 &
		srv=$!
		# shellcheck disable=SC2086
		timeout 45 $pp "$DIBS_PEER_ADDR" >"$LOG/pingpong" 2>&1 &
		pps=$!
		sleep 5
		echo "guest 1: asking the host to scribble over the region"
		echo host >/run/vm-run/request
	fi
	start=$(date +%s)
	# the traffic has to end within its timeouts (45 s; a message the scribbler destroyed
	# leaves a ping-pong waiting for it: that is the application's, not the kernel's)
	finish "$srv" 60
	echo "  guest $G: the AF_SMC stream exited $?"
	finish "$pps" 60
	echo "  guest $G: ibv_rc_pingpong exited $?"
	show "$LOG/pingpong"
	# the scribbler writes for 15 s (guest 0 starts its clock a little earlier)
	left=$((start + 20 - $(date +%s)))
	[ "$left" -le 0 ] || sleep "$left"
	refused=$(dmesg | grep -c 'dibs_ivshmem.*\(corrupt\|refused\|bad\|full\)')
	dmesg | grep 'dibs_ivshmem' | tail -n 20 | sed 's/^/  /'
	[ "$refused" -gt 0 ] || fail "dibs_ivshmem logged nothing it refused"
	echo "  guest $G: dibs_ivshmem logged $refused refusals"
	"$SMCD" ueid del "$SMC_ENV_UEID" >/dev/null 2>&1
	for m in dibs_rdma dibs_smcd dibs_ivshmem; do
		timeout 60 rmmod $m || fail "cannot unload $m"
	done
	# the region may be broken now: the device comes back or is refused with a reason
	insmod "$K/dibs/dibs_ivshmem.ko" || fail "cannot load dibs_ivshmem again"
	if [ -e /sys/class/dibs/dibs_iv0 ]; then
		echo "  guest $G: dibs_iv0 is back: $(tr '\n' ';' <"$PEERS")"
	else
		dmesg | grep 'dibs_ivshmem' | tail -n 1 | grep -q 'magic\|version\|size\|layout\|fabric\|slots' ||
			fail "dibs_iv0 did not come back, and no reason was logged"
		echo "  guest $G: the device was refused: $(dmesg | grep dibs_ivshmem | tail -n 1)"
	fi
	rmmod dibs_ivshmem || fail "cannot unload dibs_ivshmem"
	;;
*)
	fail "unknown case"
	;;
esac
echo "guest $G: ok"
