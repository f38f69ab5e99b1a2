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
        if not KEEP.match(page):
            continue
        with open(os.path.join(work, "man3", page)) as f:
            text = f.read()
        # Doxygen writes a backslash as \\, which troff reads twice inside
        # the quoted arguments of its summary lines (.RI "...'\\n'..."):
        # '\n' then prints as '0'. \(rs is a backslash in either place.
        text = text.replace("\\\\", "\\(rs")
        # A struct's page says nothing of the calls that use it, which are
        # documented on its header's page; and rope_mem_stats.3 is the
        # struct's page, not the function's. Point at the header's page.
        inc = re.search(r"#include <(ropeio(\\-uring)?)\\&\.h>", text)
        if inc and not page.startswith("ropeio"):
            text += '.SH "SEE ALSO"\n\\fB%s\\&.h\\fP(3)\n' % inc.group(1)
        with open(os.path.join(man3, page), "w") as f:
            f.write(text)
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
