#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Count CUnit test cases in a meson testlog.json: prints "passed failed".

Each CUnit binary prints a summary row "tests <total> <ran> <passed>
<failed> <inactive>". A binary that failed without one (a crash, a
sanitizer abort) or that is not a CUnit binary counts as one case, passed
or failed by its meson result; a binary whose summary shows no failure but
that meson failed (a leak report at exit) adds one failure.
"""
import json
import re
import sys

ROW = re.compile(r"^\s*tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", re.M)


def main(path):
    passed = failed = 0
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            ok = t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
            rows = ROW.findall(t.get("stdout", "") or "")
            if rows:
                _, _, p, fl, _ = map(int, rows[-1])
                passed += p
                failed += fl
                if not ok and fl == 0:
                    failed += 1
            elif t.get("result") == "SKIP":
                continue
            elif ok:
                passed += 1
            else:
                failed += 1
    print(passed, failed)


if __name__ == "__main__":
    main(sys.argv[1])
