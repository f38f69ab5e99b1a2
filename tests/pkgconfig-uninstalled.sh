#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A program built with meson's uninstalled pkg-config files (the ones
# `meson devenv` puts on PKG_CONFIG_PATH) compiles, links and runs against
# this build: ropeio-uninstalled.pc must point at the source's include/ and
# the build's src/, and ropeio-uring-uninstalled.pc (when the io_uring
# layer is built) reaches them through it.
#
# Usage: pkgconfig-uninstalled.sh SOURCE BUILD URING(true|false) CC [ARG...]
set -u
src=$1 build=$2 uring=$3
shift 3
cc=("$@")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PKG_CONFIG_PATH="$build/meson-uninstalled"
unset PKG_CONFIG_LIBDIR
fail=0

# check NAME PACKAGE FILE: build FILE with PACKAGE's flags alone, run it.
check() {
	local flags out want

	if ! flags=$(pkg-config --cflags --libs "$2"); then
		echo "FAILED: pkg-config $2"
		fail=1
		return
	fi
	echo "$2: $flags"
	for want in "-I$src/include" "-L$build/src"; do
		case " $flags " in
		*" $want "*) ;;
		*) echo "FAILED: $2 lacks $want"; fail=1 ;;
		esac
	done
	# shellcheck disable=SC2086
	if ! "${cc[@]}" -o "$tmp/$1" "$3" $flags 2>"$tmp/err"; then
		echo "FAILED: $1 does not build with $2's flags:"
		cat "$tmp/err"
		fail=1
		return
	fi
	if ! out=$(LD_LIBRARY_PATH="$build/src" "$tmp/$1" 2>&1); then
		echo "FAILED: $1 did not run: $out"
		fail=1
		return
	fi
	echo "$1: ran"
}

check core ropeio "$src/tools/example.c"
if [ "$uring" = true ]; then
	cat >"$tmp/uring.c" <<'PROGRAM'
#include <ropeio-uring.h>

int main(void)
{
	struct rope_uring *u;
	int err = rope_uring_new(&u, 8);

	if (err < 0)
		return 1;
	rope_uring_free(u);
	return 0;
}
PROGRAM
	check uring ropeio-uring "$tmp/uring.c"
fi
exit $fail
