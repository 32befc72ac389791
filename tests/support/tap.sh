#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# tap.sh - sourced by the shell tests that run in the VM: TAP-style checks
# and one summary line. A test script ends with "tap_done", whose status is
# the script's.
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $*"; }
fail() { failed=$((failed + 1)); echo "not ok - $*"; }
# expect DESC CMD...: CMD must succeed
expect() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else fail "$d ($*)"; fi; }
# refuse DESC CMD...: CMD must fail
refuse() { d=$1; shift; if "$@" >/dev/null 2>&1; then fail "$d ($* succeeded)"; else ok "$d"; fi; }
# equal DESC GOT WANT
equal() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (got '$2', want '$3')"; fi; }
tap_done() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
