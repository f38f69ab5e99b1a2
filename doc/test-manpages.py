#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Read every public function's man page as a user would.

    test-manpages.py DOCDIR HEADER...

The functions are the headers' exported declarations (found here with a
pattern of their own, not with manpages.py's parser, so a function the
generator misses fails). For each one, `man -l DOCDIR/man3/NAME.3` must
show NAME naming it, a SYNOPSIS with its prototype, and RETURN VALUE and
ERRORS sections; `man -M DOCDIR NAME` must show that same function's page
(no page of another kind, a struct's, under its name); lexgrog, which
mandb uses for `man -k`, must read its NAME line; and man must not warn
about any page, section 7's included.
"""
import os
import re
import shutil
import subprocess
import sys

DECL = re.compile(r"^ROPEIO_EXPORT\s[^;]*?\b(rope_\w+)\s*\(", re.M)
SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "RETURN VALUE", "ERRORS",
            "SEE ALSO")


def man(args):
    env = dict(os.environ, MANWIDTH="200", MAN_KEEP_FORMATTING="",
               LC_ALL="C.UTF-8", MANPAGER="cat", PAGER="cat")
    env.pop("MANPATH", None)
    res = subprocess.run(["man", "--warnings"] + args, env=env,
                         capture_output=True, text=True)
    return res.returncode, res.stdout, res.stderr


def sections(text):
    """{heading: body} of a rendered page."""
    out, cur = {}, None
    for line in text.split("\n"):
        if line and not line[0].isspace() and line.strip() == line \
                and line.upper() == line and "(" not in line:
            cur = line.strip()
            out[cur] = ""
        elif cur:
            out[cur] += line.strip() + " "
    # Justified text has runs of spaces.
    return {k: " ".join(v.split()) for k, v in out.items()}


def main(argv):
    docdir, headers = argv[1], argv[2:]
    if not shutil.which("man"):
        print("skipped: no man (apt-get install man-db)")
        return 77
    names = []
    for h in headers:
        names += DECL.findall(open(h, encoding="utf-8").read())
    failed = 0
    man3 = os.path.join(docdir, "man3")
    for name in names:
        page = os.path.join(man3, name + ".3")
        if not os.path.exists(page):
            print("FAILED: %s has no page (%s)" % (name, page))
            failed += 1
            continue
        rc, out, err = man(["-l", page])
        secs = sections(out)
        why = []
        if rc or err.strip():
            why.append("man -l says: %s" % err.strip())
        for s in SECTIONS:
            if s not in secs:
                why.append("no %s section" % s)
        if not secs.get("NAME", "").startswith(name + " - "):
            why.append("NAME is not %s's: %r" % (name, secs.get("NAME")))
        if not re.search(r"\b%s\(" % name, secs.get("SYNOPSIS", "")):
            why.append("SYNOPSIS has no prototype of %s" % name)
        if not secs.get("ERRORS", "").strip():
            why.append("ERRORS is empty")
        # By name, as `man NAME` finds it once installed.
        rc2, out2, err2 = man(["-M", docdir, "3", name])
        if rc2 or not sections(out2).get("NAME", "").startswith(
                name + " - "):
            why.append("`man 3 %s` does not show the function's page"
                       % name)
        # man -k and apropos read NAME through lexgrog, as mandb does.
        if shutil.which("lexgrog"):
            lex = subprocess.run(["lexgrog", page], capture_output=True,
                                 text=True)
            if lex.returncode or ('"%s - ' % name) not in lex.stdout:
                why.append("lexgrog (man -k) reads no NAME: %s"
                           % (lex.stdout + lex.stderr).strip())
        if why:
            print("FAILED: %s: %s" % (name, "; ".join(why)))
            failed += 1
    extra = sorted(set(p[:-2] for p in os.listdir(man3)) - set(names))
    for p in extra:
        print("FAILED: man3/%s.3 is no public function's page" % p)
        failed += 1
    for page in ("ropeio", "ropeio-memory", "ropeio-engine"):
        path = os.path.join(docdir, "man7", page + ".7")
        if page == "ropeio-engine" and not any(
                h.endswith("ropeio-uring.h") for h in headers):
            continue
        if not os.path.exists(path):
            print("FAILED: no %s(7)" % page)
            failed += 1
            continue
        rc, out, err = man(["-l", path])
        secs = sections(out)
        if rc or err.strip() or "DESCRIPTION" not in secs:
            print("FAILED: %s(7): %s" % (page, err.strip() or
                                         "no DESCRIPTION"))
            failed += 1
    print("%d function pages read, %d failed" % (len(names), failed))
    return 1 if failed or not names else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
