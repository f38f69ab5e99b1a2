#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run Doxygen on the public headers; fail on any warning.

    doxygen.py DOXYGEN DOXYFILE OUTDIR          the HTML manual, OUTDIR/html
    doxygen.py --check DOXYGEN DOXYFILE OUTDIR  the warnings alone (a test)

The man pages are manpages.py's, one page per function: Doxygen's, made
alongside because its checks of @param lists run while it writes them, are
dropped (they put every struct in a page named after it, which shadowed the
function of the same name, and each function's page was a link to its
header's).
"""
import os
import shutil
import subprocess
import sys



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
    shutil.rmtree(os.path.join(outdir, "html"), ignore_errors=True)
    shutil.move(os.path.join(work, "html"), os.path.join(outdir, "html"))
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
