# SPDX-License-Identifier: MIT
# Sourced by tools/run and tools/test: install what the build needs when it
# is missing. On Debian and Ubuntu it uses apt-get (as root, or with sudo);
# elsewhere it says what to install and stops.

# Debian packages: the build, the tests (CUnit, a C++ compiler for the
# header test) and the io_uring layer's liburing.
ROPEIO_DEPS="meson ninja-build pkg-config gcc g++ libcunit1-dev liburing-dev"

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
