#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# verbs-devices.sh KMOD_DIR [RDMAV_DRIVERS] - dibs_rdma registers one ib_device
# per dibs device, with an ACTIVE port, a unique LID and the dibs GID as GID 0,
# and follows dibs devices as they come and go. With RDMAV_DRIVERS (the build
# tree's provider), ibv_devices and ibv_devinfo -v must list and describe them.
# Runs inside the VM as root with no dibs module loaded.
set -u
K=${1:?usage: verbs-devices.sh KMOD_DIR [RDMAV_DRIVERS]}
PROVIDER=${2:-}
. "$(dirname "$0")/../support/tap.sh"
ibdevs() { ls /sys/class/infiniband 2>/dev/null | tr '\n' ' '; }
# the GID as sysfs shows it for a uuid "aabbccdd-eeff-..."
uuid_to_gid() { tr -d '-' | sed 's/\(....\)/\1:/g; s/:$//'; }

expect "modprobe ib_uverbs" modprobe ib_uverbs
expect "insmod dibs" insmod "$K/dibs/dibs.ko"
expect "insmod dibs_loopback nr_devs=2" insmod "$K/dibs/dibs_loopback.ko" nr_devs=2
expect "insmod dibs_rdma" insmod "$K/kernel/dibs_rdma.ko"
equal "one ib_device per dibs device" "$(ibdevs)" "dibs_lo0 dibs_lo1 "

for d in dibs_lo0 dibs_lo1; do
	P=/sys/class/infiniband/$d/ports/1
	equal "$d: port ACTIVE" "$(cat $P/state)" "4: ACTIVE"
	equal "$d: link layer" "$(cat $P/link_layer)" "InfiniBand"
	equal "$d: GID 0 is the dibs GID" "$(cat $P/gids/0)" \
		"$(uuid_to_gid < /sys/class/dibs/$d/gid)"
	equal "$d: pkey 0" "$(cat $P/pkeys/0)" "0xffff"
	expect "$d: has a uverbs device" sh -c "grep -qx $d /sys/class/infiniband_verbs/uverbs*/ibdev"
done
l0=$(cat /sys/class/infiniband/dibs_lo0/ports/1/lid)
l1=$(cat /sys/class/infiniband/dibs_lo1/ports/1/lid)
expect "LIDs are nonzero" test "$l0" != 0x0 -a "$l1" != 0x0
expect "LIDs are unique" test "$l0" != "$l1"
expect "rdma link shows both ports ACTIVE" sh -c \
	'[ "$(rdma link | grep -c "state ACTIVE physical_state LINK_UP")" -eq 2 ]'

if [ -n "$PROVIDER" ]; then
	export RDMAV_DRIVERS="$PROVIDER"
	expect "ibv_devices lists dibs_lo0" sh -c 'ibv_devices | grep -q "dibs_lo0"'
	expect "ibv_devices lists dibs_lo1" sh -c 'ibv_devices | grep -q "dibs_lo1"'
	expect "ibv_devinfo -v succeeds" ibv_devinfo -v -d dibs_lo0
	expect "ibv_devinfo: port active with the LID" sh -c \
		"ibv_devinfo -d dibs_lo0 | grep -q 'state:.*PORT_ACTIVE' && ibv_devinfo -d dibs_lo0 | grep -q 'port_lid:.*$(printf %d "$l0")'"
	ibv_devinfo -v -d dibs_lo0
	# a device of another provider, with a known driver id, beside ours
	expect "add rxe0 on lo" sh -c 'modprobe rdma_rxe && rdma link add rxe0 type rxe netdev lo'
	expect "ibv_devices with rxe0 present" sh -c \
		'ibv_devices > /tmp/devs && grep -q dibs_lo0 /tmp/devs && grep -q rxe0 /tmp/devs'
	expect "ibv_devinfo of dibs_lo0 with rxe0 present" ibv_devinfo -d dibs_lo0
	expect "remove rxe0" rdma link delete rxe0
fi

echo "# dibs devices coming and going"
expect "add dibs_lo5" sh -c 'echo 5 > /sys/kernel/dibs_loopback/new_device'
equal "ib_device follows" "$(ibdevs)" "dibs_lo0 dibs_lo1 dibs_lo5 "
expect "delete dibs_lo1" sh -c 'echo dibs_lo1 > /sys/kernel/dibs_loopback/del_device'
equal "its ib_device is gone" "$(ibdevs)" "dibs_lo0 dibs_lo5 "
expect "a new device reuses the freed LID range" sh -c 'echo 6 > /sys/kernel/dibs_loopback/new_device'
l5=$(cat /sys/class/infiniband/dibs_lo5/ports/1/lid)
l6=$(cat /sys/class/infiniband/dibs_lo6/ports/1/lid)
expect "LIDs still unique" test "$l0" != "$l5" -a "$l0" != "$l6" -a "$l5" != "$l6"
expect "rmmod dibs_rdma with devices present" rmmod dibs_rdma
equal "no ib_devices left" "$(ibdevs)" ""
expect "insmod dibs_rdma again" insmod "$K/kernel/dibs_rdma.ko"
equal "ib_devices back" "$(ibdevs)" "dibs_lo0 dibs_lo5 dibs_lo6 "
expect "rmmod dibs_loopback under dibs_rdma" rmmod dibs_loopback
equal "ib_devices removed with it" "$(ibdevs)" ""
expect "rmmod dibs_rdma" rmmod dibs_rdma
expect "rmmod dibs" rmmod dibs

tap_done
