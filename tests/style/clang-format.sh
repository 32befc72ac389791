#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# clang-format.sh SRCDIR - every tracked C++ file (*.cpp, *.hpp) is formatted by the
# repository's .clang-format.
#
# Runs clang-format --dry-run --Werror on each file and fails listing the files that are
# not formatted, with clang-format's first findings for each. Kernel C and include/uapi
# (kernel style, its own .clang-format) are not C++ files and are not checked here.
set -uo pipefail

src=${1:?usage: clang-format.sh SRCDIR}

die() { echo "clang-format.sh: $*" >&2; exit 1; }

cf=$(command -v clang-format || command -v clang-format-14) ||
	die "clang-format missing: run utils/setup as root (apt-get install clang-format)"
cd "$src" || die "cannot enter $src"
[ -f .clang-format ] || die "$src/.clang-format missing"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "$src is not a git checkout"
mapfile -t files < <(git ls-files -- '*.cpp' '*.hpp')
[ ${#files[@]} -gt 0 ] || die "no tracked C++ files in $src"

bad=()
for f in "${files[@]}"; do
	[ -f "$f" ] || continue	# deleted in the working tree
	if ! out=$("$cf" --dry-run --Werror --style=file "$f" 2>&1); then
		bad+=("$f")
		echo "$f: not formatted (.clang-format, $("$cf" --version | grep -o 'version [0-9.]*')):"
		grep -E '^[^ ].*: error:' <<<"$out" | head -n 3 | sed 's/^/    /'
		n=$(grep -cE ': error:' <<<"$out")
		[ "$n" -gt 3 ] && echo "    ... $((n - 3)) more"
	fi
done
if [ ${#bad[@]} -gt 0 ]; then
	echo "clang-format.sh: ${#bad[@]} of ${#files[@]} C++ files not formatted" \
		"(fix with: clang-format -i FILE):"
	printf '  %s\n' "${bad[@]}"
	exit 1
fi
echo "clang-format.sh: ${#files[@]} C++ files formatted"
