#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# smcd-lifecycle.sh KMOD_DIR - dibs_smcd registers one SMC-D device per dibs
# device with the smc module, follows dibs devices as they come and go, skips
# devices it cannot use, and loads and unloads in every order that must work.
# Runs inside the VM as root with no dibs module loaded.
set -u
K=${1:?usage: smcd-lifecycle.sh KMOD_DIR}
. "$(dirname "$0")/../support/tap.sh"
DIBS=$K/dibs/dibs.ko
LO=$K/dibs/dibs_loopback.ko
SMCD=$K/smcd/dibs_smcd.ko
CTL=/sys/kernel/dibs_loopback

# the SMC-D device of dibs device $1: below a pci_dev-shaped parent named alike
smcd_dev() { test -d "/sys/class/dibs/$1/$1/$1"; }
# the SMC-D devices present, by name
smcd_devs() {
	for d in /sys/class/dibs/*; do
		n=${d##*/}
		[ -d "$d/$n/$n" ] && printf '%s ' "$n"
	done
}
log_has() { dmesg | grep -q "$1"; }

expect "modprobe smc" modprobe smc
expect "insmod dibs" insmod "$DIBS"
expect "insmod dibs_smcd before any device" insmod "$SMCD"
equal "no SMC-D device yet" "$(smcd_devs)" ""
expect "insmod dibs_loopback nr_devs=2" insmod "$LO" nr_devs=2
equal "one SMC-D device per dibs device" "$(smcd_devs)" "dibs_lo0 dibs_lo1 "
expect "smc logged the SMC-D device" log_has "smc: adding smcd device dibs_lo0"
gid=$(tr -d '-' < /sys/class/dibs/dibs_lo0/gid | cut -c1-16)
expect "SMC-D GID is the first 8 bytes of the dibs GID" \
	log_has "dibs_lo0: dibs_smcd: SMC-D device dibs_lo0, GID $gid, CHID 0xffff"
refuse "rmmod smc while dibs_smcd uses it" rmmod smc
refuse "rmmod dibs while dibs_smcd uses it" rmmod dibs

expect "add a device on fabric 0x10" sh -c "echo '5 0x10' > $CTL/new_device"
expect "it becomes an SMC-D device with CHID 0x0010" \
	log_has "dibs_lo5: dibs_smcd: SMC-D device dibs_lo5, GID .*, CHID 0x0010"
expect "add a device on fabric 0" sh -c "echo '6 0' > $CTL/new_device"
refuse "fabric 0 has no CHID: no SMC-D device" smcd_dev dibs_lo6
expect "the reason is logged" log_has "dibs_lo6: dibs_smcd: fabric 0 has no SMC-D CHID"
expect "remove dibs_lo5" sh -c "echo dibs_lo5 > $CTL/del_device"
expect "smc logged its removal" log_has "smc: removing smcd device dibs_lo5"
expect "remove dibs_lo6" sh -c "echo dibs_lo6 > $CTL/del_device"
equal "SMC-D devices follow dibs devices" "$(smcd_devs)" "dibs_lo0 dibs_lo1 "

expect "rmmod dibs_smcd with devices present" rmmod dibs_smcd
equal "no SMC-D device left" "$(smcd_devs)" ""
expect "dibs devices stay" test -d /sys/class/dibs/dibs_lo1
expect "insmod dibs_smcd again" insmod "$SMCD"
equal "devices registered again" "$(smcd_devs)" "dibs_lo0 dibs_lo1 "
expect "rmmod dibs_loopback under dibs_smcd" rmmod dibs_loopback
equal "SMC-D devices gone with them" "$(smcd_devs)" ""
expect "insmod dibs_loopback again" insmod "$LO"
equal "dibs_lo0 is an SMC-D device again" "$(smcd_devs)" "dibs_lo0 "
expect "rmmod dibs_smcd" rmmod dibs_smcd
expect "rmmod dibs_loopback" rmmod dibs_loopback
expect "rmmod dibs" rmmod dibs
expect "rmmod smc" rmmod smc
tap_done
