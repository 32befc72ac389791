#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-link.sh - sourced in a guest of utils/vm/vm-group --link: guest_link_up brings the
# private link between the two guests up (virtio-net, DIBS_GUEST_ADDR/24) and waits until
# DIBS_PEER_ADDR answers a ping (at most 60 s); GUEST_LINK_DEV names the interface. A link
# that is up already (an earlier call) is kept. Exits the shell with a message on failure.

guest_link_up() {
	: "${DIBS_GUEST_ADDR:?guest-link: not in a vm-group --link guest}"
	GUEST_LINK_DEV=$(ip -o -4 addr show 2>/dev/null |
		awk -v a="$DIBS_GUEST_ADDR/24" '$4 == a { print $2; exit }')
	[ -z "$GUEST_LINK_DEV" ] || return 0
	modprobe virtio_net || { echo "guest-link: cannot load virtio_net" >&2; exit 1; }
	i=0
	while :; do
		GUEST_LINK_DEV=""
		for d in /sys/class/net/*; do
			[ "${d##*/}" = lo ] || [ ! -e "$d" ] || { GUEST_LINK_DEV=${d##*/}; break; }
		done
		[ -n "$GUEST_LINK_DEV" ] && break
		[ "$i" -lt 50 ] || { echo "guest-link: no network device" >&2; exit 1; }
		sleep 0.1
		i=$((i + 1))
	done
	ip link set lo up
	if ! { ip addr add "$DIBS_GUEST_ADDR/24" dev "$GUEST_LINK_DEV" &&
		ip link set "$GUEST_LINK_DEV" up; }; then
		echo "guest-link: cannot configure $GUEST_LINK_DEV" >&2
		exit 1
	fi
	i=0
	until busybox ping -c 1 -W 1 "$DIBS_PEER_ADDR" >/dev/null 2>&1; do
		[ "$i" -lt 120 ] || { echo "guest-link: $DIBS_PEER_ADDR does not answer" >&2; exit 1; }
		sleep 0.5
		i=$((i + 1))
	done
}

# guest_ready PORT: tell the peer that this guest is ready (one connection to PORT);
# guest_wait_ready PORT SECONDS: wait until the peer is (connects to its PORT).
guest_ready() {
	busybox nc -l -p "$1" </dev/null >/dev/null 2>&1 &
}
guest_wait_ready() {
	i=0
	until busybox nc -w 1 "$DIBS_PEER_ADDR" "$1" </dev/null >/dev/null 2>&1; do
		[ "$i" -lt $(($2 * 2)) ] || return 1
		sleep 0.5
		i=$((i + 1))
	done
}
