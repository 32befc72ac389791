#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# smc-case.sh KMOD_DIR SMCD_TOOL SOCK_TEST CASE - one SMC-D socket test inside the VM.
#
# Loads SMC-D over dibs with tests/smc/smc-env.sh (smc, smc_diag, dibs, dibs_loopback with
# dibs_lo0, dibs_smcd, a user EID) and runs smc-sock-test (SOCK_TEST) for CASE:
#
#   echo            messages of 1 B .. 1 MiB echoed over one connection, mode SMCD
#   bulk_1g         1 GiB with a 64-bit hash checked by the receiver, mode SMCD
#   concurrent_200  200 connections open at once, each echoing, all SMCD
#   fallback_nodev  no dibs device: connections fall back (0x03030000), data still right
#   peer_killed     kill -9 the receiver of a stream: the sender ends with a connection error,
#                   not a hang; the same with the sender killed; then SMCD works again
#   device_removed  remove dibs_lo0 under a stream: the stream ends with an error, not a
#                   hang; new connections fall back; dibs_lo0 re-created: SMCD again
#   malformed_clc   plain TCP junk and hand-made broken CLC messages at an AF_SMC listener;
#                   it stays healthy and still serves SMCD
#   netns_veth      server and client in two network namespaces joined by a veth pair:
#                   echo and a hash-checked bulk in mode SMCD, each end checked in its own
#                   namespace
#
# Every smc-sock-test run has a hard time limit (timeout(1), or finish() for background runs,
# which are started directly so that kill -9 reaches them), so a hang fails the case.
set -u
K=${1:?usage: smc-case.sh KMOD_DIR SMCD_TOOL SOCK_TEST CASE}
SMCD=${2:?smcd tool}
T=${3:?smc-sock-test}
CASE=${4:?case}
TEST=smc.$CASE
export K SMCD
# shellcheck source=tests/smc/smc-env.sh
. "$(dirname "$0")/smc-env.sh"
# shellcheck source=tests/smc/smc-helpers.sh
. "$(dirname "$0")/smc-helpers.sh"

LOG=/tmp/smc-case
mkdir -p "$LOG"

# stream_kill VICTIM: a receiver (server) and a sender (client) process stream until VICTIM
# (receiver or sender) is killed with SIGKILL; the survivor must end with a connection error
# (exit 3) within 30 s, naming the broken connection.
stream_kill() {
	victim=$1 port=$((7000 + $$ % 1000))
	"$T" bulk --role server --port "$port" > "$LOG/recv" 2>&1 &
	recv=$!
	"$T" bulk --role client --port "$port" --bytes 0 > "$LOG/send" 2>&1 &
	send=$!
	wait_for "$LOG/send" "^bulk: streaming" 30 || { show "$LOG/recv" "$LOG/send"; fail "the stream did not start"; }
	sleep 2
	if [ "$victim" = receiver ]; then
		kill -9 "$recv"
		survivor=$send
	else
		kill -9 "$send"
		survivor=$recv
	fi
	start=$(date +%s)
	finish "$survivor" 30
	rc=$?
	took=$(($(date +%s) - start))
	finish "$recv" 5
	finish "$send" 5
	show "$LOG/recv" "$LOG/send"
	echo "  $victim killed: the other side exited $rc after $took s"
	[ "$rc" -eq 3 ] || fail "after the $victim was killed the other side exited $rc, expected 3 (connection error)"
	grep -q "connection error" "$LOG/recv" "$LOG/send" || fail "no connection error message"
}

case $CASE in
echo)
	smc_env_up
	run 0 120 echo --count 100
	run 0 60 echo --tcp --count 20
	;;
bulk_1g)
	smc_env_up
	run 0 200 bulk --bytes 1G --chunk 1M
	;;
concurrent_200)
	smc_env_up
	run 0 200 concurrent --conns 200 --count 2
	;;
fallback_nodev)
	smc_env_up nodev
	[ ! -e /sys/class/dibs/dibs_lo0 ] || fail "dibs_lo0 exists with nr_devs=0"
	run 0 120 echo --count 30 --expect fallback=0x03030000
	run 0 120 bulk --bytes 64M --chunk 256K --expect fallback=0x03030000
	run 0 120 concurrent --conns 20 --expect fallback=0x03030000
	# the test can fail: SMCD is not what these connections get
	run 1 60 echo --count 1 --expect smcd
	;;
peer_killed)
	smc_env_up
	stream_kill receiver
	stream_kill sender
	run 0 60 echo --count 20
	;;
device_removed)
	smc_env_up
	"$T" bulk --bytes 0 --chunk 256K > "$LOG/bulk" 2>&1 &
	pid=$!
	wait_for "$LOG/bulk" "^bulk: streaming" 30 || { show "$LOG/bulk"; fail "the stream did not start"; }
	sleep 2
	echo "+ echo dibs_lo0 > /sys/kernel/dibs_loopback/del_device"
	start=$(date +%s)
	echo dibs_lo0 > /sys/kernel/dibs_loopback/del_device || fail "cannot remove dibs_lo0"
	finish "$pid" 60
	rc=$?
	took=$(($(date +%s) - start))
	show "$LOG/bulk"
	echo "  dibs_lo0 removed: the stream exited $rc after $took s"
	[ "$rc" -eq 3 ] || fail "the stream exited $rc after dibs_lo0 was removed, expected 3 (connection error)"
	[ ! -e /sys/class/dibs/dibs_lo0 ] || fail "dibs_lo0 is still there"
	run 0 60 echo --count 10 --expect fallback=0x03030000
	echo "+ echo 0 > /sys/kernel/dibs_loopback/new_device"
	echo 0 > /sys/kernel/dibs_loopback/new_device || fail "cannot re-create dibs_lo0"
	[ -e /sys/class/dibs/dibs_lo0 ] || fail "dibs_lo0 was not re-created"
	run 0 60 echo --count 20
	run 0 120 bulk --bytes 64M --chunk 256K
	;;
malformed_clc)
	smc_env_up
	modprobe tun || fail "cannot load tun"
	run 0 150 garbage
	;;
netns_veth)
	smc_env_up
	ns=smcpeer
	ip netns add $ns || fail "cannot add network namespace $ns"
	ip link add smcv0 type veth peer name smcv1 netns $ns || fail "cannot add the veth pair"
	if ! { ip addr add 10.99.0.1/24 dev smcv0 && ip link set smcv0 up &&
		ip -n $ns addr add 10.99.0.2/24 dev smcv1 && ip -n $ns link set smcv1 up &&
		ip -n $ns link set lo up; }; then
		fail "cannot configure the veth pair"
	fi
	for cmd in "echo --count 30" "bulk --bytes 256M --chunk 1M"; do
		port=$((7100 + $$ % 500))
		# shellcheck disable=SC2086 # $cmd is a command and its options
		ip netns exec $ns "$T" $cmd --role server --addr 10.99.0.2 --port $port \
			> "$LOG/server" 2>&1 &
		srv=$!
		# shellcheck disable=SC2086
		run 0 120 $cmd --role client --addr 10.99.0.2 --port $port
		finish "$srv" 30
		rc=$?
		show "$LOG/server"
		[ "$rc" -eq 0 ] || fail "server in $ns ($cmd) exited $rc"
	done
	;;
*)
	fail "unknown case"
	;;
esac
echo "PASS: $TEST"
