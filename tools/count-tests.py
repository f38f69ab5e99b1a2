#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Count test cases in a meson testlog.json: prints "passed failed".

Each CUnit binary prints a summary row "tests <total> <ran> <passed>
<failed> <inactive>". A Python unittest script (suite 'python') prints
"Ran <n> tests" and then "OK" or "FAILED (failures=F, errors=E, ...)":
its passed cases are n less the failures, errors, unexpected successes
and skips (a skipped case counts neither way). A binary that failed without one (a crash, a
sanitizer abort) or that is not a CUnit binary counts as one case, passed
or failed by its meson result; a binary whose summary shows no failure but
that meson failed (a leak report at exit) adds one failure.
"""
import json
import re
import sys

ROW = re.compile(r"^\s*tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", re.M)
RAN = re.compile(r"^Ran (\d+) tests? in [\d.]+s\s*\n\s*\n(OK|FAILED)(?: \(([^)]*)\))?",
                 re.M)


def unittest_counts(out):
    """(passed, failed) from unittest's last summary, or None."""
    runs = RAN.findall(out)
    if not runs:
        return None
    ran, _, detail = runs[-1]
    kinds = dict((k.strip(), int(v)) for k, v in
                 (kv.split("=") for kv in detail.split(",") if "=" in kv))
    failed = (kinds.get("failures", 0) + kinds.get("errors", 0) +
              kinds.get("unexpected successes", 0))
    passed = int(ran) - failed - kinds.get("skipped", 0)
    return passed, failed


def main(path):
    passed = failed = 0
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            ok = t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
            out = t.get("stdout", "") or ""
            rows = ROW.findall(out)
            counts = None if rows else unittest_counts(out)
            if counts:
                passed += counts[0]
                failed += counts[1]
                if not ok and counts[1] == 0:
                    failed += 1
            elif rows:
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
