# SPDX-License-Identifier: MIT
"""CPython's own io.BytesIO tests (test.test_memoryio.CBytesIOTest, from
the Python that runs this script) run against ropeio.BytesIO.

Skipped, and why (the README lists them too):
- test_sizeof: it measures io.BytesIO itself (it never uses the class under
  test) against CPython's private struct layout.
- test_cow_write: it checks that an overwrite makes CPython copy its
  whole buffer and drop the initial bytes object. ropeio does not copy
  there by design: it keeps sharing that object and replaces only the
  written range. (test_cow_truncate runs: a truncate that cuts most of
  the stream keeps a copy of the rest and lets the object go, as CPython
  does.)
"""
import io
import sys
import unittest

import ropeio

try:
    from test import test_memoryio
except ImportError:
    print("test.test_memoryio is missing: install libpython3.X-testsuite")
    sys.exit(77)

SKIPPED = {
    "test_sizeof": "measures io.BytesIO's private layout, not ioclass",
    "test_cow_write": "ropeio copies the written range only",
}


class RopeBytesIOTest(test_memoryio.CBytesIOTest):
    ioclass = ropeio.BytesIO
    UnsupportedOperation = io.UnsupportedOperation


for name, why in SKIPPED.items():
    setattr(RopeBytesIOTest, name, unittest.skip(why)(lambda self: None))


def main():
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(RopeBytesIOTest)
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
