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
	for opt in "$@"; do
		case $opt in
		nodev) nr=0 ;;
		noueid) ueid=0 ;;
		*) smc_env_die "unknown option $opt" ;;
		esac
	done
	modprobe smc || smc_env_die "cannot load smc"
	modprobe smc_diag || smc_env_die "cannot load smc_diag"
	insmod "$K/dibs/dibs.ko" || smc_env_die "cannot load dibs.ko"
	insmod "$K/dibs/dibs_loopback.ko" nr_devs=$nr || smc_env_die "cannot load dibs_loopback.ko"
	insmod "$K/smcd/dibs_smcd.ko" || smc_env_die "cannot load dibs_smcd.ko"
	if [ "$ueid" = 1 ]; then
		"$SMCD" ueid add "$SMC_ENV_UEID" || smc_env_die "cannot add user EID $SMC_ENV_UEID"
	fi
}
