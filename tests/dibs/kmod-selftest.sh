#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kmod-selftest.sh KO - load a lib/test_*-style self-test module inside the VM,
# print its report from the kernel log, and unload it again. Fails if the load
# fails (a case failed), if the report has no clean summary, or if the unload
# fails.
set -u
ko=${1:?usage: kmod-selftest.sh KO}
name=$(basename "$ko" .ko)

insmod "$ko"
rc=$?
dmesg | sed -n "s/^\[[ 0-9.]*\] $name: //p"
if [ "$rc" -ne 0 ]; then
	echo "$name: load failed: a case failed or the module could not load"
	exit 1
fi
if ! dmesg | grep -Eq "$name: [0-9]+ cases: [0-9]+ passed, 0 failed"; then
	echo "$name: no clean summary line in the kernel log"
	exit 1
fi
rmmod "$name" || { echo "$name: unload failed"; exit 1; }
