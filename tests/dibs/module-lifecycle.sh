#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# module-lifecycle.sh KMOD_DIR - load and unload dibs, dibs_loopback and a
# client in every order that must work, and check that the orders that must
# not work are refused. Runs inside the VM as root (utils/vm/vm-run), with no
# dibs module loaded. KMOD_DIR is the Kbuild output (build/kmod).
set -u
K=${1:?usage: module-lifecycle.sh KMOD_DIR}
DIBS=$K/dibs/dibs.ko
LO=$K/dibs/dibs_loopback.ko
CL=$K/tests/dibs/test_dibs_client.ko
P=/sys/module/test_dibs_client/parameters
. "$(dirname "$0")/../support/tap.sh"
ndevs() { ls /sys/class/dibs 2>/dev/null | wc -l; }
sum_dmbs() { cat /sys/class/dibs/*/dmbs 2>/dev/null | awk '{s += $1} END {print s + 0}'; }

for round in 1 2; do
	echo "# round $round: client first, then the device driver"
	expect "insmod dibs" insmod "$DIBS"
	expect "class dibs exists" test -d /sys/class/dibs
	refuse "dibs_loopback refuses nr_devs=99" \
		insmod "$LO" nr_devs=99
	expect "insmod client" insmod "$CL"
	equal "client sees no device yet" "$(cat $P/added)" 0
	expect "insmod dibs_loopback nr_devs=3" insmod "$LO" nr_devs=3
	equal "three devices" "$(ndevs)" 3
	equal "client got add_dev 3 times" "$(cat $P/added)" 3
	equal "one DMB per device registered" "$(sum_dmbs)" 3
	refuse "rmmod dibs while in use" rmmod dibs
	expect "add a device at run time" sh -c 'echo 7 > /sys/kernel/dibs_loopback/new_device'
	equal "client got add_dev for it" "$(cat $P/added)" 4
	equal "four DMBs" "$(sum_dmbs)" 4
	expect "remove it" sh -c 'echo dibs_lo7 > /sys/kernel/dibs_loopback/del_device'
	equal "client got del_dev for it" "$(cat $P/removed)" 1
	expect "rmmod dibs_loopback under a registered client" rmmod dibs_loopback
	equal "no devices left" "$(ndevs)" 0
	equal "client got del_dev for all" "$(cat $P/removed)" 4
	expect "reload dibs_loopback" insmod "$LO"
	equal "client got add_dev again" "$(cat $P/added)" 5
	equal "one DMB" "$(sum_dmbs)" 1
	expect "rmmod client while a device is present" rmmod test_dibs_client
	equal "client released its DMB" "$(sum_dmbs)" 0
	expect "client reported balanced counts" sh -c \
		'dmesg | tail -n 20 | grep -q "test_dibs_client: unloaded: added 5 removed 5"'

	echo "# round $round: device driver first, then the client"
	expect "insmod client with a device present" insmod "$CL"
	equal "client got add_dev for it" "$(cat $P/added)" 1
	refuse "rmmod dibs while the client holds it" rmmod dibs
	expect "rmmod dibs_loopback" rmmod dibs_loopback
	equal "client got del_dev" "$(cat $P/removed)" 1
	expect "rmmod client" rmmod test_dibs_client
	expect "rmmod dibs" rmmod dibs
	refuse "class dibs is gone" test -d /sys/class/dibs
done

echo "# loopback without clients, with devices added and removed"
expect "insmod dibs" insmod "$DIBS"
expect "insmod dibs_loopback nr_devs=0" insmod "$LO" nr_devs=0
equal "no devices" "$(ndevs)" 0
for i in 1 2 3 4 5; do
	echo "$i 0x10" > /sys/kernel/dibs_loopback/new_device || fail "add dibs_lo$i"
done
equal "five devices" "$(ndevs)" 5
equal "fabric of an added device" "$(cat /sys/class/dibs/dibs_lo3/fabric_id)" 0x0010
expect "rmmod dibs_loopback with devices present" rmmod dibs_loopback
expect "rmmod dibs" rmmod dibs
refuse "dibs_loopback refuses nr_devs beyond its limit" sh -c "insmod $DIBS && insmod $LO nr_devs=65"
rmmod dibs 2>/dev/null

tap_done
