# SPDX-License-Identifier: MIT
# Sourced by tools/run and tools/test: install what the build needs when it
# is missing. On Debian and Ubuntu it uses apt-get (as root, or with sudo);
# elsewhere it says what to install and stops. ROPEIO_NO_INSTALL=1 turns
# it off (the build then finds what it finds).

# Debian packages: the build, the tests (CUnit, a C++ compiler for the
# header test, curl for the HTTP example's test, abigail-tools for the ABI
# check against the last release, musl-tools for the test that builds on
# musl, man-db for the man pages' test, wrk for the README's HTTP block,
# which the test readme-shell runs) and the io_uring layer's liburing.
ROPEIO_DEPS="meson ninja-build pkg-config gcc g++ libcunit1-dev liburing-dev
curl abigail-tools musl-tools man-db wrk"

# The Python module and its tests (suite 'python'): the headers,
# meson-python and venv (for pip install in a venv, as the README and the
# tests readme-shell and wheel-contents do), CPython's own test package,
# whose name carries the version of the distribution's python3 (3.11 on
# Debian 12: libpython3.11-testsuite), and mypy, which checks the stub
# (mypy --strict and stubtest). meson pulls in python3 itself.
ropeio_python_deps() {
	local py=/usr/bin/python3 ver

	[ -x "$py" ] || py=python3
	ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' \
		2>/dev/null) || return 0
	echo "python3-dev python3-mesonpy python3-venv libpython$ver-testsuite python3-mypy"
}

# The reference manual (doc/): Doxygen, for the build that makes it and
# runs its test (tools/test's plain build; the sanitizer builds skip it).
ROPEIO_DOCS_DEPS="doxygen"

ropeio_missing() {
	local pkg missing=""

	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
			grep -q "install ok installed" || missing="$missing $pkg"
	done
	echo "$missing"
}

ropeio_install() {
	local missing sudo=""

	[ -n "${ROPEIO_NO_INSTALL:-}" ] && return 0
	if ! command -v dpkg-query >/dev/null 2>&1; then
		for tool in meson ninja pkg-config cc; do
			command -v "$tool" >/dev/null 2>&1 || {
				echo "ropeio: '$tool' is missing. Install meson (>= 1.0)," \
				     "ninja, pkg-config, a C compiler, CUnit and liburing." >&2
				exit 1
			}
		done
		return 0
	fi
	missing=$(ropeio_missing "$@")
	[ -z "$missing" ] && return 0
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	echo "ropeio: installing$missing"
	$sudo apt-get update -qq >/dev/null &&
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
			$missing >/dev/null ||
		{ echo "ropeio: apt-get install$missing failed" >&2; exit 1; }
}

# The benchmark tour's peers (libevent, GLib), its chart (gnuplot), the
# HTTP servers' load generator (wrk), nginx beside the example server, and
# perf for their syscalls. Each is optional: the tour compiles out a peer
# that is missing and says it skipped it, prints no chart without gnuplot,
# skips the servers' table without wrk, and says so in nginx's rows
# without nginx and in the syscall column without perf. gnuplot-nox is
# gnuplot without X11 or Qt; any gnuplot already installed will do.
ROPEIO_BENCH_DEPS="libevent-dev libglib2.0-dev gnuplot-nox wrk nginx-light
linux-perf"

ropeio_install_optional() {
	local missing="" pkg sudo=""

	[ -n "${ROPEIO_NO_INSTALL:-}" ] && return 0
	command -v dpkg-query >/dev/null 2>&1 || return 0
	for pkg in $(ropeio_missing "$@"); do
		[ "$pkg" = gnuplot-nox ] && command -v gnuplot >/dev/null 2>&1 &&
			continue
		# Any nginx will do; installing nginx-light beside another
		# flavour could make apt-get remove that one.
		[ "$pkg" = nginx-light ] && { command -v nginx ||
			[ -x /usr/sbin/nginx ]; } >/dev/null 2>&1 && continue
		[ "$pkg" = linux-perf ] && command -v perf >/dev/null 2>&1 &&
			continue
		missing="$missing $pkg"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "ropeio: not installing$missing (not root, no" \
			     "sudo); the tour skips what needs them" >&2
			return 0
		fi
		sudo="sudo"
	fi
	echo "ropeio: installing$missing (the tour's peers and chart)"
	$sudo apt-get update -qq >/dev/null 2>&1 || true
	# One at a time, so that one that fails does not stop the others.
	for pkg in $missing; do
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
			"$pkg" >/dev/null 2>&1 ||
			echo "ropeio: could not install $pkg; the tour skips" \
			     "what needs it" >&2
	done
}
