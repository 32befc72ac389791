#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# verbs-across.sh KMOD_DIR PROVIDER - verbs between two guests of utils/vm/vm-group --guests 2
# --link over the cross-VM device dibs_iv0: ibv_rc_pingpong (buffers checked) and perftest's
# eight tools, each a client/server pair of tests/support/verbs-pair.sh with the server in
# guest 0 and the client in guest 1. Every pair runs even if one before it failed; the case
# fails if any did.
set -u
K=${1:?usage: verbs-across.sh KMOD_DIR PROVIDER}
P=${2:?provider}
PAIR="$(dirname "$0")/../support/verbs-pair.sh"
: "${DIBS_GUEST:?not in a vm-group guest}"

n=0 failed=""
while read -r run; do
	n=$((n + 1))
	# shellcheck disable=SC2086 # $run is a tool and its options
	if PAIR_PORT=$((7600 + 4 * n)) sh "$PAIR" "$K" "$P" $run; then
		echo "ok $n - $run"
	else
		echo "not ok $n - $run"
		failed="$failed
  $run"
	fi
done <<'RUNS'
ibv_rc_pingpong -n 100 -c
ib_write_bw -n 200
ib_write_lat -n 200
ib_send_bw -n 200
ib_send_lat -n 200
ib_read_bw -n 200
ib_read_lat -n 200
ib_atomic_bw -n 200
ib_atomic_lat -n 200
RUNS
[ -z "$failed" ] || { echo "FAIL: guest $DIBS_GUEST:$failed"; exit 1; }
echo "PASS: guest $DIBS_GUEST: $n verbs pairs across the guests"
