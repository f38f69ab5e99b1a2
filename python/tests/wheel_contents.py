#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Build the wheel as the README says, and check what it holds.

    wheel_contents.py SOURCE VERSION

In a venv made with `/usr/bin/python3 -m venv --system-site-packages`
(the system's meson-python and meson, as on Debian 12), `pip wheel
--no-build-isolation` builds the wheel from SOURCE. It must hold the
module, its stub, py.typed, the license and the metadata, nothing else
(no libropeio.so, .a, .pc, header or HTML page); its version must be
VERSION (meson.build's); installed in the venv, `ropeio.__version__` and
the distribution's version must be VERSION too, and it must work.

Exit 77 (skipped) where /usr/bin/python3 has no venv or no mesonpy.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

SYSTEM_PYTHON = "/usr/bin/python3"

# Every file the wheel may hold; each must be there.
WANTED = [
    ("the module", r"ropeio/_ropeio\.cpython-[^/]+\.so"),
    ("the package", r"ropeio/__init__\.py"),
    ("the stub", r"ropeio/__init__\.pyi"),
    ("py.typed", r"ropeio/py\.typed"),
    ("the license", r"ropeio-[^/]+\.dist-info/LICENSE"),
    ("METADATA", r"ropeio-[^/]+\.dist-info/METADATA"),
    ("WHEEL", r"ropeio-[^/]+\.dist-info/WHEEL"),
    ("RECORD", r"ropeio-[^/]+\.dist-info/RECORD"),
]
# meson-python puts pure files under .data/purelib/ or .data/platlib/.
DATA = re.compile(r"^ropeio-[^/]+\.data/(purelib|platlib)/")


def run(cmd, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode:
        print("FAILED: %s\n%s%s" % (" ".join(cmd), res.stdout, res.stderr))
        sys.exit(1)
    return res.stdout


def copy_source(src, dst):
    """The files of the tree, git's (committed or not) where it is a
    checkout, else all but build directories."""
    try:
        files = subprocess.run(
            ["git", "-C", src, "ls-files", "-z", "-c", "-o",
             "--exclude-standard"], capture_output=True, check=True
        ).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns(
            "build", "build-*", ".git", "venv", ".mesonpy-*"))
        return
    for f in files:
        if f and os.path.lexists(os.path.join(src, f)):
            os.makedirs(os.path.join(dst, os.path.dirname(f)), exist_ok=True)
            shutil.copy2(os.path.join(src, f), os.path.join(dst, f),
                         follow_symlinks=False)


def main(argv):
    source, version = argv[1:3]
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        print("skipped: no %s" % SYSTEM_PYTHON)
        return 77
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import mesonpy, venv"],
                           capture_output=True)
    if probe.returncode:
        print("skipped: %s has no mesonpy or venv "
              "(apt-get install python3-mesonpy python3-venv)" % SYSTEM_PYTHON)
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        venv = os.path.join(tmp, "venv")
        run([SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", venv])
        py = os.path.join(venv, "bin", "python")
        dist = os.path.join(tmp, "dist")
        # From a copy: meson-python writes its native file and build
        # directory into the source tree it builds.
        copy = os.path.join(tmp, "ropeio")
        copy_source(source, copy)
        run([py, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
             "--no-index", "-w", dist, copy])
        wheels = [w for w in os.listdir(dist) if w.endswith(".whl")]
        if len(wheels) != 1:
            print("FAILED: pip made %s, not one wheel" % wheels)
            return 1
        wheel = os.path.join(dist, wheels[0])
        names = zipfile.ZipFile(wheel).namelist()
        print("%s:" % wheels[0])
        for n in names:
            print("  " + n)
        failed = 0
        if not wheels[0].startswith("ropeio-%s-" % version):
            print("FAILED: the wheel's version is not meson.build's, %s"
                  % version)
            failed = 1
        plain = [DATA.sub("", n) for n in names]
        for what, pattern in WANTED:
            if not any(re.fullmatch(pattern, n) for n in plain):
                print("FAILED: no %s (%s) in the wheel" % (what, pattern))
                failed = 1
        for n, p in zip(names, plain):
            if not any(re.fullmatch(pat, p) for _, pat in WANTED):
                print("FAILED: the wheel holds %s, which is not the "
                      "module's" % n)
                failed = 1
        # Installed from the wheel, out of the source tree.
        run([py, "-m", "pip", "install", "--no-deps", "--no-index", wheel])
        got = run([py, "-c",
                   "import importlib.metadata as m, ropeio\n"
                   "b = ropeio.BytesIO(b'abc'); b.seek(0, 2); b.write(b'd')\n"
                   "assert b.getvalue() == b'abcd'\n"
                   "print(ropeio.__version__, m.version('ropeio'))"],
                  cwd=tmp).split()
        if got != [version, version]:
            print("FAILED: ropeio.__version__ and the distribution's "
                  "version are %s, meson.build's is %s" % (got, version))
            failed = 1
        if not failed:
            print("the wheel holds the module, its stub, py.typed, the "
                  "license and the metadata; version %s" % version)
        return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv))
