#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run Doxygen on the public headers; fail on any warning.

    doxygen.py DOXYGEN DOXYFILE OUTDIR          the manual: OUTDIR/html and
                                                OUTDIR/man3, one page a call
    doxygen.py --check DOXYGEN DOXYFILE OUTDIR  the warnings alone (a test)

Doxygen's man pages with MAN_LINKS include one page per member of every
struct too ("size.3", "off.3"): names that would collide with other
packages' pages in man3. Only the pages named after the API (rope_*,
ROPE*, the two headers) are kept.
"""
import os
import re
import shutil
import subprocess
import sys

KEEP = re.compile(r"^(rope_\w+|ROPE\w+|ropeio(-uring)?\.h)\.3$")


def main(argv):
    check = argv[:1] == ["--check"]
    if check:
        argv = argv[1:]
    doxygen, doxyfile, outdir = argv
    work = os.path.join(outdir, "doxygen.tmp")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)  # OUTDIR too, for --check
    with open(doxyfile) as f:
        config = f.read()
    config += "\nOUTPUT_DIRECTORY = %s\n" % work
    # --check makes the same output as the build: Doxygen checks the @param
    # lists while it writes HTML and man pages, and not all of it for XML
    # alone (which then reports every call as undocumented).
    run = subprocess.run([doxygen, "-"], input=config, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)
    if run.returncode != 0 or "warning:" in run.stderr \
            or "error:" in run.stderr:
        print("doxygen: the headers' comments have warnings (above)",
              file=sys.stderr)
        return 1
    if check:
        shutil.rmtree(work)
        print("doxygen: no warnings")
        return 0
    for name in ("html", "man3"):
        shutil.rmtree(os.path.join(outdir, name), ignore_errors=True)
    shutil.move(os.path.join(work, "html"), os.path.join(outdir, "html"))
    man3 = os.path.join(outdir, "man3")
    os.makedirs(man3)
    for page in sorted(os.listdir(os.path.join(work, "man3"))):
        if KEEP.match(page):
            shutil.move(os.path.join(work, "man3", page),
                        os.path.join(man3, page))
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
