#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# smc-env.sh - sourced by the SMC-D VM tests: load SMC and SMC-D over dibs.
#
#   K=<build>/kmod SMCD=<build>/utils/smc/smcd . tests/smc/smc-env.sh
#   smc_env_up            # smc, smc_diag, dibs, dibs_loopback (dibs_lo0), dibs_smcd,
#                         # and the user EID that SMC-D v2 needs on x86
#   smc_env_up nodev      # the same without any dibs device (dibs_loopback nr_devs=0)
#   smc_env_up noueid     # no user EID (SMC-D v2 cannot be negotiated)
#   smc_env_up ivshmem    # the cross-VM device (dibs_ivshmem) instead of loopback devices
#
# and wait_for FILE PATTERN SECONDS. The case scripts' helpers (fail, run, finish, show) are
# in smc-helpers.sh: its fail exits, unlike tap.sh's, so TAP scripts do not source it.
#
# Everything is loaded with insmod from $K, so a test runs against the build tree.
# Exits the shell with a message when a step fails.

SMC_ENV_UEID=${SMC_ENV_UEID:-DIBS-RDMA-SMCD}

smc_env_die() {
	echo "smc-env: $*" >&2
	exit 1
}

smc_env_up() {
	: "${K:?smc-env: set K to the kernel module build directory}"
	: "${SMCD:?smc-env: set SMCD to the smcd tool}"
	nr=1
	ueid=1
	dev=loopback
	for opt in "$@"; do
		case $opt in
		nodev) nr=0 ;;
		noueid) ueid=0 ;;
		ivshmem) dev=ivshmem ;;
		*) smc_env_die "unknown option $opt" ;;
		esac
	done
	modprobe smc || smc_env_die "cannot load smc"
	modprobe smc_diag || smc_env_die "cannot load smc_diag"
	insmod "$K/dibs/dibs.ko" || smc_env_die "cannot load dibs.ko"
	if [ "$dev" = ivshmem ]; then
		insmod "$K/dibs/dibs_ivshmem.ko" || smc_env_die "cannot load dibs_ivshmem.ko"
		[ -e /sys/class/dibs/dibs_iv0 ] || smc_env_die "no dibs_iv0 (no ivshmem-doorbell device?)"
	else
		insmod "$K/dibs/dibs_loopback.ko" nr_devs=$nr || smc_env_die "cannot load dibs_loopback.ko"
	fi
	insmod "$K/smcd/dibs_smcd.ko" || smc_env_die "cannot load dibs_smcd.ko"
	if [ "$ueid" = 1 ]; then
		"$SMCD" ueid add "$SMC_ENV_UEID" || smc_env_die "cannot add user EID $SMC_ENV_UEID"
	fi
}

# wait_for FILE PATTERN SECONDS: until FILE has a line matching PATTERN
wait_for() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		[ "$i" -lt $(($3 * 10)) ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
}
