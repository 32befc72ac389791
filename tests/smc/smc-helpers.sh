#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# smc-helpers.sh - sourced by the SMC-D case scripts (smc-case.sh, tests/ivshmem/cross-vm.sh)
# after smc-env.sh: fail (prints "FAIL: $TEST: ..." and exits 1), run, finish, show. T is
# smc-sock-test, TEST the test's name. TAP scripts (tap.sh's fail counts) do not source it.

fail() {
	echo "FAIL: $TEST: $*"
	exit 1
}

# run WANT LIMIT ARGS...: smc-sock-test ARGS must exit WANT within LIMIT seconds
run() {
	want=$1 limit=$2
	shift 2
	echo "+ smc-sock-test $*"
	start=$(date +%s)
	timeout "$limit" "$T" "$@"
	rc=$?
	echo "  exit $rc after $(($(date +%s) - start)) s"
	[ "$rc" -ne 124 ] || fail "smc-sock-test $*: still running after $limit s"
	[ "$rc" -eq "$want" ] || fail "smc-sock-test $*: exit $rc, expected $want"
}

# finish PID LIMIT: wait for a background smc-sock-test; prints and returns its status,
# or 124 if it is still running after LIMIT seconds (then it is killed)
finish() {
	i=0
	while kill -0 "$1" 2>/dev/null && [ "$i" -lt $(($2 * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -9 "$1"
		wait "$1"
		return 124
	fi
	wait "$1"
}

show() { # show FILE...: the logs of background runs
	for f in "$@"; do
		echo "--- $f"
		cat "$f"
	done
}
