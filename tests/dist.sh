#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `meson dist` makes the release tarball, and the tarball is a release: it
# holds the sources, the license and the changelog, is named after
# meson.build's version (the one version: the header, the .pc files, the
# wheel and ropeio.__version__ all take it from there), and builds and
# installs from itself, with no git: the library, its pkg-config file at
# that version, the man pages and the license, and no Python package
# (python=auto installs none). Installs into a scratch DESTDIR only.
#
# meson dist archives what git has committed (uncommitted changes are left
# out, with --allow-dirty), so this checks the last commit's tree.
#
# Usage: dist.sh SOURCE BUILD VERSION
set -u
src=$1 build=$2 version=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

if ! git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	echo "skipped: $src is not a git checkout, which meson dist needs"
	exit 77
fi
if ! out=$(meson dist -C "$build" --no-tests --allow-dirty \
		--formats xztar 2>&1); then
	echo "FAILED: meson dist:"
	echo "$out"
	exit 1
fi
tarball=$build/meson-dist/ropeio-$version.tar.xz
if [ ! -f "$tarball" ]; then
	echo "FAILED: no $tarball:"
	echo "$out"
	exit 1
fi
echo "ok: meson dist made $(basename "$tarball")"
tar -C "$tmp" -xf "$tarball"
dir=$tmp/ropeio-$version
for f in meson.build meson_options.txt LICENSE README.md CHANGELOG.md \
	 pyproject.toml include/ropeio.h doc/manpages.py; do
	if [ ! -f "$dir/$f" ]; then
		echo "FAILED: the tarball has no $f"
		fail=1
	fi
done
if ! grep -q "^## \[$version\] - [0-9]\{4\}-[0-9][0-9]-[0-9][0-9]" \
		"$dir/CHANGELOG.md"; then
	echo "note: CHANGELOG.md has no dated entry for $version (a release" \
	     "needs one; between releases this is expected)"
fi

# Built from the tarball alone, into a scratch root.
root=$tmp/root
if ! out=$(meson setup "$tmp/build" "$dir" -Dtests=disabled \
		-Dtools=disabled 2>&1 && ninja -C "$tmp/build" 2>&1 &&
	   DESTDIR=$root meson install -C "$tmp/build" 2>&1); then
	echo "FAILED: the tarball does not build and install:"
	echo "$out"
	exit 1
fi
echo "ok: the tarball builds and installs"
libdir=$(meson introspect --buildoptions "$tmp/build" |
	 python3 -c 'import json,sys; print({o["name"]: o["value"]
		for o in json.load(sys.stdin)}["libdir"])')
for f in "lib/libropeio.so.$version" share/doc/ropeio/LICENSE \
	 share/man/man3/rope_write.3 share/man/man3/rope_mem_stats.3 \
	 share/man/man7/ropeio.7 include/ropeio.h; do
	f=${f/#lib\//$libdir/}
	if [ ! -e "$root/usr/local/$f" ]; then
		echo "FAILED: meson install put no $f in the prefix"
		fail=1
	fi
done
pc=$root/usr/local/$libdir/pkgconfig/ropeio.pc
if ! grep -qx "Version: $version" "$pc"; then
	echo "FAILED: $pc is not version $version"
	fail=1
fi
if find "$root" -name '__init__.py' -path '*ropeio*' | grep -q .; then
	echo "FAILED: a plain meson install installed a Python package:"
	find "$root" -path '*ropeio/__init__.py'
	fail=1
fi
[ $fail = 0 ] && echo "ok: library, ropeio.pc $version, man pages," \
	"license; no Python package"
exit $fail
