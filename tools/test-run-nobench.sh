#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tools/run on a build without the bench: it must say why and stop with
# status 1, instead of failing on a file that is not there. Two such
# builds: the tools turned off, and, where musl-gcc is installed (Debian's
# musl-tools), musl itself, which lacks the __libc_malloc and malloc_trim
# the bench needs. musl-gcc cannot use the host's libraries, so that build
# looks for none (PKG_CONFIG_LIBDIR points nowhere). Installs nothing.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ROPEIO_NO_INSTALL=1
fail=0

# check NAME BUILD-DIR TEXT: tools/run on BUILD-DIR prints TEXT, exits 1.
check() {
	local out status=0

	out=$(cd "$src" && ROPEIO_BUILD_DIR="$2" tools/run 2>&1) || status=$?
	if [ "$status" -eq 1 ] && grep -q "$3" <<<"$out" &&
	   ! grep -q "No such file" <<<"$out"; then
		echo "ok: $1"
	else
		echo "FAILED: $1 (status $status)"
		fail=1
	fi
	sed 's/^/    /' <<<"$out"
}

lean=(-Dtests=disabled -Ddocs=disabled -Dpython=disabled)
meson setup "${lean[@]}" "$tmp/off" "$src" -Dtools=disabled >"$tmp/log" 2>&1 ||
	{ cat "$tmp/log"; exit 99; }
check "tools off" "$tmp/off" "meson configure .* -Dtools=enabled"

if command -v musl-gcc >/dev/null 2>&1; then
	export PKG_CONFIG_LIBDIR=/nonexistent
	CC=musl-gcc meson setup "${lean[@]}" "$tmp/musl" "$src" >"$tmp/log" 2>&1 ||
		{ cat "$tmp/log"; exit 99; }
	check "musl" "$tmp/musl" "the bench needs glibc"
else
	echo "musl: not checked (no musl-gcc)"
fi
exit $fail
