# SPDX-License-Identifier: MIT
"""The sharing rules in Python, and the references behind them: adopted
bytes objects released exactly once, values that outlive the stream,
writes with a value held that cost the written bytes only, and exports
that garbage collection releases."""
import gc
import io
import sys
import tracemalloc
import unittest
import weakref

import ropeio

MIB = 1 << 20


def fresh(n, fill=b"x"):
    """A new bytes object nobody else references (not a cached constant)."""
    return bytes(bytearray(fill * n))


def allocated():
    return ropeio.mem_stats()["allocated"]


class Adoption(unittest.TestCase):
    def test_bytes_adopted_not_copied(self):
        b = fresh(MIB)
        before = allocated()
        s = ropeio.BytesIO(b)
        self.assertLess(allocated() - before, 4096)
        self.assertIs(s.getvalue(), b)
        self.assertIs(s.read(), b)

    def test_adopted_released_once_with_the_stream(self):
        b = fresh(1000)
        rc = sys.getrefcount(b)
        s = ropeio.BytesIO(b)
        self.assertEqual(sys.getrefcount(b), rc + 1)
        s.getvalue()
        s.getvalue()
        self.assertEqual(sys.getrefcount(b), rc + 1)
        del s
        self.assertEqual(sys.getrefcount(b), rc)

    def test_adopted_released_by_the_last_snapshot(self):
        b = fresh(1000)
        rc = sys.getrefcount(b)
        s = ropeio.BytesIO(b)
        snap = s.snapshot()
        s.close()
        self.assertEqual(sys.getrefcount(b), rc + 1)
        views = list(snap)
        del snap
        self.assertEqual(sys.getrefcount(b), rc + 1)
        self.assertEqual(b"".join(bytes(v) for v in views), b)
        del views
        self.assertEqual(sys.getrefcount(b), rc)

    def test_overwrite_keeps_the_rest_shared(self):
        b = fresh(1000)
        rc = sys.getrefcount(b)
        s = ropeio.BytesIO(b)
        s.write(b"abc")
        self.assertEqual(b, b"x" * 1000)
        self.assertEqual(s.getvalue(), b"abc" + b"x" * 997)
        # getvalue() made a new object: the old one is let go.
        self.assertEqual(sys.getrefcount(b), rc)

    def test_bytearray_and_subclass_are_copied(self):
        class B(bytes):
            pass
        ba = bytearray(b"abc")
        rc = sys.getrefcount(ba)
        s = ropeio.BytesIO(ba)
        self.assertEqual(sys.getrefcount(ba), rc)
        ba[0] = ord("z")
        self.assertEqual(s.getvalue(), b"abc")
        sb = B(b"def")
        rc = sys.getrefcount(sb)
        s = ropeio.BytesIO(sb)
        self.assertEqual(sys.getrefcount(sb), rc)
        self.assertIs(type(s.getvalue()), bytes)

    def test_reinit_and_setstate_release(self):
        b = fresh(100)
        rc = sys.getrefcount(b)
        s = ropeio.BytesIO(b)
        s.__init__(b"other")
        self.assertEqual(sys.getrefcount(b), rc)
        s = ropeio.BytesIO(b)
        s.__setstate__((b"state", 0, None))
        self.assertEqual(sys.getrefcount(b), rc)


class Values(unittest.TestCase):
    def build(self, n=8, size=MIB):
        s = ropeio.BytesIO()
        for i in range(n):
            s.write(bytes([65 + i]) * size)
        return s

    def test_value_is_cached_until_a_change(self):
        s = self.build()
        v = s.getvalue()
        self.assertIs(s.getvalue(), v)
        s.seek(3)
        s.read(10)
        self.assertIs(s.getvalue(), v)
        s.write(b"z")
        w = s.getvalue()
        self.assertIsNot(w, v)
        self.assertEqual(v[3 + 10], 65)
        self.assertEqual(w[3 + 10], ord("z"))

    def test_value_outlives_the_stream(self):
        s = self.build(2)
        v = s.getvalue()
        snap = s.snapshot()
        del s
        gc.collect()
        # The snapshot shares v's memory, as the stream did.
        self.assertEqual(sys.getrefcount(v), 3)
        self.assertEqual(bytes(snap), v)
        del snap
        self.assertEqual(sys.getrefcount(v), 2)
        self.assertEqual(v, b"A" * MIB + b"B" * MIB)

    def test_value_is_held_once(self):
        s = self.build()
        v = s.getvalue()
        # The stream's chunks went back: it shares v now.
        before = allocated()
        self.assertIs(s.getvalue(), v)
        self.assertEqual(allocated(), before)
        self.assertLess(allocated(), MIB)
        del v

    def test_write_with_value_held_costs_the_written_bytes(self):
        s = self.build()
        v = s.getvalue()
        before = allocated()
        s.write(b"y")
        self.assertLess(allocated() - before, 64 * 1024)
        s.seek(0)
        before = allocated()
        s.write(b"y")
        self.assertLess(allocated() - before, 64 * 1024)
        s.seek(0, 2)
        before = allocated()
        s.write(b"z" * MIB)
        self.assertLess(allocated() - before, MIB + 64 * 1024)
        self.assertEqual(v[:1], b"A")
        self.assertEqual(len(v), 8 * MIB)

    def test_getvalue_while_exported_is_a_fresh_copy(self):
        s = ropeio.BytesIO(b"abcdef")
        with s.getbuffer() as m:
            v1 = s.getvalue()
            m[0] = ord("Z")
            v2 = s.getvalue()
            self.assertEqual((v1, v2), (b"abcdef", b"Zbcdef"))
        self.assertEqual(s.getvalue(), b"Zbcdef")


class Exports(unittest.TestCase):
    def test_view_over_many_chunks(self):
        s = ropeio.BytesIO()
        for i in range(5):
            s.write(bytes([48 + i]) * 300000)
        v = s.getvalue()
        s.write(b"tail")
        m = s.getbuffer()
        self.assertEqual(bytes(m), v + b"tail")
        m[0] = ord("!")
        for call in (lambda: s.write(b"x"), lambda: s.truncate(0),
                     s.close, lambda: s.drain(1),
                     lambda: s.__setstate__((b"", 0, None)),
                     lambda: s.__init__(b"")):
            self.assertRaises(BufferError, call)
        self.assertFalse(s.closed)
        m.release()
        self.assertEqual(v[0], 48)
        self.assertEqual(s.getvalue()[:2], b"!0")
        s.write(b"ok")

    def test_slices_keep_the_export(self):
        s = ropeio.BytesIO(b"0123456789")
        m = s.getbuffer()
        part = m[2:4]
        m.release()
        self.assertRaises(BufferError, s.write, b"x")
        del part
        s.write(b"x")

    def test_exports_released_by_garbage_collection(self):
        for cls in (io.BytesIO, ropeio.BytesIO):
            seen = []
            old = sys.unraisablehook
            sys.unraisablehook = lambda u: seen.append(u)
            try:
                s = cls(b"abcdef")
                s.view = s.getbuffer()   # a cycle through the view
                ref = weakref.ref(s)
                del s
                gc.collect()
            finally:
                sys.unraisablehook = old
            self.assertIsNone(ref(), cls)
            # Only io's finalizer complaint may show (close() refused
            # while exported); never a crash or a leak.
            for u in seen:
                self.assertIsInstance(u.exc_value, BufferError)

    def test_views_released_by_refcount(self):
        s = ropeio.BytesIO(b"abc")
        for _ in range(100):
            m = s.getbuffer()
            m[0] = ord("A")
            del m
        s.write(b"d")
        self.assertEqual(s.getvalue(), b"dbc")


class NoCopy(unittest.TestCase):
    """A stream written by appends lives in one block laid out as a bytes
    object, which getvalue() returns without copying it, as CPython's
    io.BytesIO returns its buffer."""

    def setUp(self):
        gc.collect()
        tracemalloc.start()

    def tearDown(self):
        tracemalloc.stop()

    def test_first_getvalue_allocates_no_second_copy(self):
        s = ropeio.BytesIO()
        for i in range(8):
            s.write(bytes([65 + i]) * MIB)
        # Small appends leave room in the block, which getvalue() trims.
        for i in range(1000):
            s.write(b"Hello World")
        current = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        ropeio.mem_reset_peak()
        lib = ropeio.mem_stats()["allocated"]
        v = s.getvalue()
        after, peak = tracemalloc.get_traced_memory()
        # No allocation of the stream's size, by Python or the library;
        # the block was only shrunk to the size.
        self.assertLess(peak - current, 64 * 1024)
        self.assertLess(after - current, 4096)
        self.assertLess(ropeio.mem_stats()["peak"] - lib, 64 * 1024)
        self.assertLess(after, current)
        self.assertEqual(len(v), 8 * MIB + 11000)
        self.assertEqual(v[MIB - 1:MIB + 1], b"AB")
        self.assertEqual(v[8 * MIB - 1:8 * MIB + 11], b"HHello World")
        self.assertIs(s.getvalue(), v)
        s.seek(0)
        self.assertIs(s.read(), v)
        self.assertEqual(hash(v), hash(bytes(bytearray(v))))

    def test_values_held_across_writes_keep_their_bytes(self):
        s = ropeio.BytesIO()
        for i in range(100):
            s.write(b"%05d" % i)
        v = s.getvalue()
        want = bytes(bytearray(v))
        s.write(b"tail")
        s.seek(0)
        s.write(b"head")
        s.seek(0, 2)
        s.write(b"z" * MIB)
        w = s.getvalue()
        self.assertEqual(v, want)
        self.assertEqual(w[:4], b"head")
        self.assertEqual(w[4:500], want[4:])
        self.assertEqual(w[500:504], b"tail")
        self.assertEqual(len(w), 504 + MIB)
        s.truncate(10)
        self.assertEqual(s.getvalue(), b"head" + want[4:10])
        self.assertEqual((v, len(w)), (want, 504 + MIB))

    def test_value_released_once(self):
        s = ropeio.BytesIO()
        for _ in range(4):
            s.write(fresh(MIB))
        v = s.getvalue()
        # The caller's reference, getrefcount's and the stream's.
        self.assertEqual(sys.getrefcount(v), 3)
        snap = s.snapshot()
        del s
        self.assertEqual(sys.getrefcount(v), 3)
        del snap
        self.assertEqual(sys.getrefcount(v), 2)
        before = tracemalloc.get_traced_memory()[0]
        del v
        self.assertGreaterEqual(before - tracemalloc.get_traced_memory()[0],
                                4 * MIB)

    def test_blocks_go_back(self):
        start = tracemalloc.get_traced_memory()[0]
        Leaks.workload(self)
        for _ in range(3):
            s = ropeio.BytesIO()
            for i in range(5000):
                s.write(b"Hello World")
            v = s.getvalue()
            s.write(b"!")
            snap = s.snapshot()
            s.getvalue()
            del s, v, snap
        gc.collect()
        self.assertLess(tracemalloc.get_traced_memory()[0] - start, 16384)


class Leaks(unittest.TestCase):
    """Everything the library allocated for a workload goes back once the
    streams, values, views and snapshots are gone (LeakSanitizer cannot
    watch an interpreter, see meson.build)."""

    def workload(self):
        s = ropeio.BytesIO(fresh(3000))
        for i in range(200):
            s.write(bytes([i]) * (i * 37 % 5000))
            if i % 7 == 0:
                v = s.getvalue()
            if i % 11 == 0:
                with s.getbuffer() as m:
                    m[0] = 1
            if i % 13 == 0:
                snap = s.snapshot()
                list(snap)
            if i % 17 == 0:
                s.seek(i)
                s.truncate()
            if i % 19 == 0:
                s.drain(100)
                s.find(b"\x05\x06")
                s.seek(0)
                s.readlines()
        t = ropeio.BytesIO()
        t.__setstate__(s.__getstate__())
        del v, snap, s, t

    def test_allocation_returns_to_its_start(self):
        # What the chunk cache keeps is taken from the system and not
        # given back: empty it at both ends.
        gc.collect()
        ropeio.cache_trim()
        start = ropeio.mem_stats()
        self.workload()
        gc.collect()
        self.assertGreaterEqual(ropeio.cache_trim(), 0)
        end = ropeio.mem_stats()
        self.assertEqual(end["cached"], 0)
        self.assertGreater(end["allocs"], start["allocs"] + 100)
        self.assertEqual(end["allocated"], start["allocated"])
        self.assertEqual(end["allocs"] - start["allocs"],
                         end["frees"] - start["frees"])


if __name__ == "__main__":
    unittest.main(testRunner=unittest.TextTestRunner(stream=sys.stdout,
                                                     verbosity=2))
