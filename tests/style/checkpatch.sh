#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch.sh SRCDIR - the kernel's own style checkers over the project's kernel C.
#
# Runs the pinned 6.1 kernel's scripts/checkpatch.pl --strict and scripts/kernel-doc -none
# (fetched by utils/vm/fetch-kernel-source) over every .c and .h in dibs/ (with
# dibs/include/linux/dibs.h), kernel/, smcd/, tests/dibs/, tests/ivshmem/ and tests/runner/.
# Fails on any ERROR, WARNING or CHECK of checkpatch and on any kernel-doc warning, printing each as
# file:line: LEVEL:TYPE: message.
set -uo pipefail

src=${1:?usage: checkpatch.sh SRCDIR}
dirs=(dibs kernel smcd tests/dibs tests/ivshmem tests/runner)

# checkpatch types that cannot apply to an out-of-tree tree (style types are never ignored):
ignore=(
	# asks for a MAINTAINERS update when files are added or moved: there is none out of tree
	FILE_PATH_CHANGES
	# "code should be for the version to which it is merged": this code is not merged, it
	# builds against the one pinned kernel
	LINUX_VERSION_CODE
)

die() { echo "checkpatch.sh: $*" >&2; exit 1; }

scripts=$("$src/utils/vm/fetch-kernel-source" --print scripts) ||
	die "no kernel checkers: run utils/setup as root (or utils/vm/fetch-kernel-source)"
for s in checkpatch.pl spelling.txt const_structs.checkpatch kernel-doc; do
	[ -f "$scripts/$s" ] || die "$scripts/$s missing: rerun utils/vm/fetch-kernel-source"
done

# Tracked and new (not ignored) files; a plain find outside a git checkout.
cd "$src" || die "cannot enter $src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
		"${dirs[@]/%//*.c}" "${dirs[@]/%//*.h}" | sort -u)
else
	mapfile -t files < <(find "${dirs[@]}" -type f -name '*.[ch]' | sort)
fi
[ ${#files[@]} -gt 0 ] || die "no kernel sources found under $src"
# a tracked file deleted in the working tree is not checked
existing=()
for f in "${files[@]}"; do
	[ -f "$f" ] && existing+=("$f")
done
files=("${existing[@]}")

failed=0
# checkpatch prints one line per finding ("file:line: LEVEL:TYPE: message") and a total per
# file with findings; its exit status covers ERROR and WARNING but not every CHECK.
out=$(perl "$scripts/checkpatch.pl" --strict --no-tree --terse --show-types --no-summary \
	--ignore "$(IFS=,; echo "${ignore[*]}")" -f "${files[@]}" 2>&1)
findings=$(grep -E ': (ERROR|WARNING|CHECK):' <<<"$out")
if [ -n "$findings" ] || grep -qv '^$' <<<"$out"; then
	echo "checkpatch --strict (the 6.1 kernel's scripts/checkpatch.pl) reports:"
	grep -v '^$' <<<"$out"
	echo "checkpatch: $(grep -c . <<<"$findings") finding(s) in" \
		"$(cut -d: -f1 <<<"$findings" | sort -u | grep -c .) file(s)"
	failed=1
fi

out=$(perl "$scripts/kernel-doc" -none -Werror "${files[@]}" 2>&1)
if [ -n "$out" ]; then
	echo "kernel-doc -none (the 6.1 kernel's scripts/kernel-doc) reports:"
	echo "$out"
	failed=1
fi

if [ "$failed" -eq 0 ]; then
	echo "checkpatch.sh: ${#files[@]} files clean (checkpatch --strict, kernel-doc)"
fi
exit "$failed"
