#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# soak.sh KMOD_DIR PROVIDER SMCD_TOOL SOCK_TEST [SECONDS] - mixed traffic under churn,
# inside the VM (vm-debug.soak.mixed: the debug kernel, so that every checker watches).
#
# For SECONDS (default 120; $SOAK_SECONDS, for hours of it), at the same time:
#   - SMC-D streams over dibs_lo0, one after another, each 32 MiB with a 64-bit hash the
#     receiver checks, in mode SMCD (smc-sock-test bulk);
#   - RC verbs over dibs_lo1 and dibs_lo2 (fabric 0x10): ibv_rc_pingpong pairs with every
#     received buffer validated (-c);
#   - churn: loopback devices dibs_lo5..dibs_lo8 (fabric 0, which SMC-D leaves alone but
#     dibs_rdma gives an ib_device) added and removed, and the client module
#     test_dibs_client loaded and unloaded.
# Every stream, every pair and every churn step must succeed: nothing may be lost. The
# counts are printed; the runner then checks the kernel log (KASAN, lockdep, ...) and,
# after everything is unloaded, kmemleak.
set -u
K=${1:?usage: soak.sh KMOD_DIR PROVIDER SMCD_TOOL SOCK_TEST [SECONDS]}
export RDMAV_DRIVERS="${2:?provider}"
SMCD=${3:?smcd tool}
T=${4:?smc-sock-test}
SECS=${5:-${SOAK_SECONDS:-120}}
export K SMCD
. "$(dirname "$0")/../support/tap.sh"
. "$(dirname "$0")/../smc/smc-env.sh"

modprobe ib_uverbs || exit 1
smc_env_up
insmod "$K/kernel/dibs_rdma.ko" || exit 1
for d in 1 2; do
	echo "$d 0x10" >/sys/kernel/dibs_loopback/new_device || exit 1
done
end=$(($(date +%s) + SECS))
dir=$(mktemp -d)

smc_streams() { # count of good streams in $dir/smc.ok, first failure in $dir/smc.fail
	n=0
	while [ "$(date +%s)" -lt "$end" ]; do
		if ! timeout 120 "$T" bulk --bytes 32M --chunk 256K >"$dir/smc.log" 2>&1; then
			cp "$dir/smc.log" "$dir/smc.fail"
			break
		fi
		n=$((n + 1))
	done
	echo "$n" >"$dir/smc.ok"
}

verbs_pairs() {
	n=0 port=18515
	while [ "$(date +%s)" -lt "$end" ]; do
		timeout 150 ibv_rc_pingpong -d dibs_lo1 -p $port -c -s 4096 -n 200 >"$dir/srv.log" 2>&1 &
		srv=$!
		# the client connects once the server listens on its TCP port; a debug kernel under
		# churn can take tens of seconds to get there
		hex=$(printf ':%04X 00000000:0000 0A' $port)
		i=0
		while ! grep -q "$hex" /proc/net/tcp /proc/net/tcp6 && kill -0 $srv 2>/dev/null &&
			[ $i -lt 900 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		if ! timeout 60 ibv_rc_pingpong -d dibs_lo2 -p $port -c -s 4096 -n 200 127.0.0.1 \
			>"$dir/cli.log" 2>&1 || ! wait $srv; then
			cat "$dir/srv.log" "$dir/cli.log" >"$dir/verbs.fail"
			wait $srv 2>/dev/null
			break
		fi
		n=$((n + 1))
		port=$((port == 18599 ? 18515 : port + 1))
	done
	echo "$n" >"$dir/verbs.ok"
}

churn() {
	n=0
	while [ "$(date +%s)" -lt "$end" ]; do
		for d in 5 6 7 8; do
			echo "$d 0x0" >/sys/kernel/dibs_loopback/new_device || { echo "add dibs_lo$d" >"$dir/churn.fail"; break 2; }
		done
		insmod "$K/tests/dibs/test_dibs_client.ko" || { echo "insmod test_dibs_client" >"$dir/churn.fail"; break; }
		for d in 5 6 7 8; do
			echo "dibs_lo$d" >/sys/kernel/dibs_loopback/del_device || { echo "del dibs_lo$d" >"$dir/churn.fail"; break 2; }
		done
		rmmod test_dibs_client || { echo "rmmod test_dibs_client" >"$dir/churn.fail"; break; }
		n=$((n + 1))
	done
	echo "$n" >"$dir/churn.ok"
}

smc_streams &
p1=$!
verbs_pairs &
p2=$!
churn &
p3=$!
wait $p1 $p2 $p3

for what in smc verbs churn; do
	if [ -f "$dir/$what.fail" ]; then
		fail "$what: $(head -c 2000 "$dir/$what.fail")"
	fi
done
smc_n=$(cat "$dir/smc.ok") verbs_n=$(cat "$dir/verbs.ok") churn_n=$(cat "$dir/churn.ok")
echo "# soak: ${SECS} s: $smc_n SMC-D streams of 32 MiB (hash-checked), $verbs_n verbs pairs" \
	"(200 x 4 KiB validated each), $churn_n churn rounds (4 devices, 1 client module)"
[ "$smc_n" -gt 0 ] && ok "SMC-D streams" || fail "no SMC-D stream completed"
[ "$verbs_n" -gt 0 ] && ok "verbs pairs" || fail "no verbs pair completed"
[ "$churn_n" -gt 0 ] && ok "churn rounds" || fail "no churn round completed"

"$SMCD" ueid del "$SMC_ENV_UEID" >/dev/null 2>&1
expect "rmmod dibs_rdma" rmmod dibs_rdma
expect "rmmod dibs_smcd" rmmod dibs_smcd
expect "rmmod dibs_loopback" rmmod dibs_loopback
expect "rmmod dibs" rmmod dibs
rm -rf "$dir"
tap_done
