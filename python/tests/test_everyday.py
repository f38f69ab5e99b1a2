# SPDX-License-Identifier: MIT
"""The everyday cases: ropeio.BytesIO is an io.BytesIO (and io.BytesIO's
own methods never see another buffer), an overwrite after a dropped
getvalue() writes in place, truncate lets go of what it cuts, a gap filled
later is not copied by getvalue(), a write far past the end fails at the
write, and the small reads come from the stream's own memory."""
import _pyio
import copy
import importlib.util
import io
import os
import pickle
import subprocess
import sys
import tempfile
import tracemalloc
import unittest

import ropeio

MIB = 1 << 20


def fresh(n, fill=b"x"):
    """A new bytes object nobody else references (not a cached constant)."""
    return bytes(bytearray(fill * n))


def traced_peak(fn):
    """What fn() allocated at most at once, tracemalloc plus the library's
    own count (its chunk headers and structures)."""
    tracemalloc.start()
    try:
        ropeio.mem_reset_peak()
        r0 = ropeio.mem_stats()["allocated"]
        t0 = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        tpeak = tracemalloc.get_traced_memory()[1]
        rpeak = ropeio.mem_stats()["peak"]
    finally:
        tracemalloc.stop()
    return tpeak - t0 + rpeak - r0


# Arguments for calling io.BytesIO's methods unbound on a ropeio stream.
BASE_ARGS = {
    "write": (b"zz",), "writelines": ([b"zz"],), "seek": (0,),
    "readinto": (bytearray(4),), "readinto1": (bytearray(4),),
    "__init__": (b"other",), "__setstate__": ((b"other", 0, None),),
    "truncate": (0,),
}
# Methods of io.BytesIO's bases that work through the stream's own
# methods (readinto1 calls read1, __iter__ returns self...), or that
# concern the object rather than its contents.
NOT_DATA = {"__iter__", "readinto1", "__enter__", "__exit__", "__del__",
            "__sizeof__", "fileno", "detach", "__new__", "__init_subclass__",
            "__subclasshook__", "__class__", "__dir__", "__format__",
            "__reduce__", "__reduce_ex__", "__getattribute__",
            "__setattr__", "__delattr__", "__repr__", "__str__",
            "__hash__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__",
            "__ge__", "__getstate__" if sys.version_info >= (3, 11) and
            not hasattr(io.BytesIO, "__getstate__") else "",
            "_checkClosed", "_checkReadable", "_checkSeekable",
            "_checkWritable"}


class Subtype(unittest.TestCase):
    def test_isinstance(self):
        self.assertTrue(ropeio._ropeio._derives_from_bytesio)
        f = ropeio.BytesIO(b"abc")
        self.assertIsInstance(f, io.BytesIO)
        self.assertIsInstance(f, io.BufferedIOBase)
        self.assertTrue(issubclass(ropeio.BytesIO, io.BytesIO))

    def test_base_methods_never_return_other_data(self):
        """io.BytesIO.getvalue(x) and the rest raise: the base's buffer is
        never set, even by io.BytesIO.__init__ or __setstate__."""
        for data in (b"", b"secret data"):
            f = ropeio.BytesIO(data)
            f.seek(0, 2)
            f.write(b"!")
            for name in sorted(dir(io.BytesIO)):
                m = getattr(io.BytesIO, name)
                if name in NOT_DATA or not callable(m):
                    continue
                with self.subTest(name=name, data=data):
                    with self.assertRaises((ValueError, BufferError)):
                        m(f, *BASE_ARGS.get(name, ()))
            # Nothing above touched the stream.
            self.assertEqual(f.getvalue(), data + b"!" if data else b"!")

    def test_base_new_refused(self):
        with self.assertRaises(TypeError):
            io.BytesIO.__new__(ropeio.BytesIO)

    def test_python_subclass(self):
        class Sub(ropeio.BytesIO):
            def __init__(self, data=b"", tag=None):
                super().__init__(data)
                self.tag = tag

        s = Sub(b"one\ntwo\n", tag="t")
        self.assertIsInstance(s, io.BytesIO)
        self.assertIsInstance(s, ropeio.BytesIO)
        self.assertEqual(list(s), [b"one\n", b"two\n"])
        s.write(b"three")
        self.assertEqual(s.getvalue(), b"one\ntwo\nthree")
        c = copy.deepcopy(s)
        self.assertEqual((type(c), c.getvalue(), c.tag),
                         (Sub, b"one\ntwo\nthree", "t"))
        # A subclass that initialises through io.BytesIO is refused.
        class Wrong(ropeio.BytesIO):
            def __init__(self, data):
                io.BytesIO.__init__(self, data)
        with self.assertRaises(BufferError):
            Wrong(b"x")

    def test_pickle_and_copy(self):
        f = ropeio.BytesIO(b"abcdef")
        f.seek(2)
        for g in (pickle.loads(pickle.dumps(f)), copy.copy(f),
                  copy.deepcopy(f)):
            self.assertIs(type(g), ropeio.BytesIO)
            self.assertEqual((g.getvalue(), g.tell()), (b"abcdef", 2))

    def test_pyio_is_not_a_base(self):
        """_pyio's classes are pure Python: neither io.BytesIO nor
        ropeio.BytesIO derives from them."""
        self.assertNotIsInstance(ropeio.BytesIO(), _pyio.BytesIO)
        self.assertNotIsInstance(io.BytesIO(), _pyio.BytesIO)


def stream(rope):
    """An empty stream, with a rope already (rope=True) or without one (a
    stream's own block until a call needs a rope)."""
    f = ropeio.BytesIO()
    if rope:
        f.snapshot().release()  # needs a rope
    return f


class InPlace(unittest.TestCase):
    def test_overwrite_after_dropped_value_costs_the_write(self):
        for rope in (False, True):
            with self.subTest(rope=rope):
                self.overwrite_after_dropped_value(rope)

    def overwrite_after_dropped_value(self, rope):
        f = stream(rope)
        f.write(fresh(8 * MIB))
        f.getvalue()  # dropped at once, as zipfile's patching does

        def patch():
            for _ in range(4):
                f.seek(4)
                f.write(b"PK\x03\x04" * 4)
                f.getvalue()

        self.assertLess(traced_peak(patch), 64 * 1024)
        v = f.getvalue()
        self.assertEqual(v[:24], b"xxxx" + b"PK\x03\x04" * 4 + b"xxxx")
        self.assertEqual(len(v), 8 * MIB)

    def test_value_held_is_not_changed(self):
        f = ropeio.BytesIO()
        f.write(b"0123456789" * 10)
        v = f.getvalue()
        h = hash(v)
        snap = f.snapshot()
        f.seek(0)
        f.write(b"abc")
        self.assertEqual(v, b"0123456789" * 10)
        self.assertEqual(hash(v), h)
        self.assertEqual(bytes(snap), b"0123456789" * 10)
        self.assertEqual(f.getvalue(), b"abc" + (b"0123456789" * 10)[3:])

    def test_snapshot_held_is_not_changed(self):
        f = ropeio.BytesIO()
        f.write(b"0123456789" * 10)
        f.getvalue()
        snap = f.snapshot()
        f.seek(0)
        f.write(b"abc")
        self.assertEqual(bytes(snap), b"0123456789" * 10)

    def test_hash_of_a_rewritten_value(self):
        """A value hashed, dropped, then written over in place: the next
        value's hash is that of its new bytes, not a stale one."""
        f = ropeio.BytesIO()
        f.write(b"hello world, hello")
        hash(f.getvalue())
        f.seek(0)
        f.write(b"J")
        v = f.getvalue()
        self.assertEqual(v, b"Jello world, hello")
        self.assertEqual(hash(v), hash(b"Jello world, hello"))
        del v
        f.seek(0, 2)
        f.write(b" and more")  # grows the block taken back
        v = f.getvalue()
        self.assertEqual(v, b"Jello world, hello and more")
        self.assertEqual(hash(v), hash(bytes(bytearray(v))))


class Truncate(unittest.TestCase):
    def test_truncate_lets_go_of_what_it_cuts(self):
        b = fresh(4 * MIB)
        rc = sys.getrefcount(b)
        f = ropeio.BytesIO(b)
        f.write(b"abc")
        self.assertGreater(sys.getrefcount(b), rc)
        f.truncate(10)
        self.assertEqual(sys.getrefcount(b), rc)
        self.assertEqual(f.getvalue(), b"abc" + b"x" * 7)
        self.assertEqual(f.tell(), 3)

    def test_mild_truncate_keeps_sharing(self):
        """Keeping most of a shared object: no copy, as before."""
        b = fresh(4 * MIB)
        f = ropeio.BytesIO(b)
        self.assertLess(traced_peak(lambda: f.truncate(3 * MIB)), 64 * 1024)
        self.assertEqual(f.getvalue(), b[:3 * MIB])

    def test_truncate_unread_adopted(self):
        b = fresh(4 * MIB)
        rc = sys.getrefcount(b)
        f = ropeio.BytesIO(b)
        f.truncate(10)
        self.assertEqual(sys.getrefcount(b), rc)
        self.assertEqual(f.getvalue(), b"x" * 10)


class Gaps(unittest.TestCase):
    def test_gap_then_fill_getvalue_not_copied(self):
        for rope in (False, True):
            with self.subTest(rope=rope):
                self.gap_then_fill(rope)

    def gap_then_fill(self, rope):
        n = 16 * MIB
        fill = memoryview(bytes(n))[:n - 1]

        def h5():
            f = stream(rope)
            f.seek(n - 1)
            f.write(b"x")
            f.seek(0)
            f.write(fill)
            v = f.getvalue()
            self.assertEqual(len(v), n)
            self.assertEqual(v[-2:], b"\0x")

        # CPython: the stream once (n); a copy at getvalue() would be 2n.
        self.assertLess(traced_peak(h5), n + n // 4)

    def test_gap_reads_zeros(self):
        f = ropeio.BytesIO(b"ab")
        f.seek(10)
        f.write(b"z")
        self.assertEqual(f.getvalue(), b"ab" + b"\0" * 8 + b"z")
        f.seek(1)
        self.assertEqual(f.read(3), b"b\0\0")

    def test_far_write_fails_at_the_write(self):
        f = ropeio.BytesIO(b"abc")
        f.seek(1 << 40)
        with self.assertRaises(MemoryError):
            f.write(b"x")
        self.assertEqual((f.getvalue(), f.tell()), (b"abc", 1 << 40))
        f.seek(0, 2)
        self.assertEqual(f.write(b"d"), 1)
        self.assertEqual(f.getvalue(), b"abcd")


class SmallReads(unittest.TestCase):
    def test_read1_returns_the_cached_byte(self):
        f = ropeio.BytesIO(b"ab")
        f.seek(0, 2)
        f.write(b"cd")  # a rope now, not the adopted object
        f.seek(0)
        self.assertIs(f.read(1), bytes([ord("a")]))
        self.assertIs(f.read(1), b"bc"[:1])

    def test_bytes_stream_makes_no_rope_to_read(self):
        b = fresh(64)
        before = ropeio.mem_stats()["allocs"]
        f = ropeio.BytesIO(b)
        self.assertIs(f.read(), b)
        f.seek(0)
        self.assertEqual(f.readline(), b)
        f.seek(3)
        self.assertEqual(f.read(2), b"xx")
        self.assertEqual(ropeio.mem_stats()["allocs"], before)

    def test_reads_follow_every_change(self):
        """The window over the stream's memory never outlives a change."""
        f = ropeio.BytesIO(b"line one\nline two\n")
        self.assertEqual(f.readline(), b"line one\n")
        f.seek(0)
        f.write(b"LINE")
        f.seek(0)
        self.assertEqual(f.readline(), b"LINE one\n")
        f.getvalue()
        f.seek(0)
        f.write(b"l")
        f.seek(0)
        self.assertEqual(f.read(4), b"lINE")
        m = f.getbuffer()
        m[0:1] = b"Q"
        self.assertEqual(f.read(5), b" one\n")
        f.seek(0)
        self.assertEqual(f.read(1), b"Q")
        m.release()
        f.truncate(5)
        f.seek(0)
        self.assertEqual(list(f), [b"QINE "])
        f.drain(2)
        self.assertEqual((f.tell(), f.read()), (3, b""))
        f.seek(0)
        self.assertEqual(f.read(), b"NE ")


class OwnBlock(unittest.TestCase):
    """A stream without a rope keeps its bytes in a block of its own; the
    first call that needs a rope takes the block over, views and all."""

    def test_view_survives_the_rope(self):
        for make_rope_first in (False, True):
            f = ropeio.BytesIO()
            f.write(b"abcdef")
            if make_rope_first:
                f.snapshot().release()
            m = f.getbuffer()
            s = f.snapshot()  # needs a rope: made while exported
            m[0] = ord("Z")
            self.assertEqual(bytes(s), b"abcdef")
            self.assertEqual(f.getvalue(), b"Zbcdef")
            self.assertEqual(f.find(b"Z"), 0)
            with self.assertRaises(BufferError):
                f.write(b"!")
            m.release()
            f.seek(0, 2)
            f.write(b"!")
            self.assertEqual((f.getvalue(), bytes(s)),
                             (b"Zbcdef!", b"abcdef"))

    def test_value_held_then_written(self):
        f = ropeio.BytesIO()
        f.write(b"x" * 1000)
        v = f.getvalue()
        f.write(b"y")  # a rope now: v is adopted, not copied
        self.assertEqual(v, b"x" * 1000)
        self.assertEqual(f.getvalue(), b"x" * 1000 + b"y")

    def test_getvalue_while_exported_is_a_copy(self):
        f = ropeio.BytesIO()
        f.write(b"hello")
        m = f.getbuffer()
        v = f.getvalue()
        m[0] = ord("J")
        self.assertEqual((v, f.getvalue()), (b"hello", b"Jello"))
        m.release()

    def test_truncate_shared_value_copies_what_it_keeps(self):
        f = ropeio.BytesIO()
        f.write(b"0123456789")
        v = f.getvalue()
        f.truncate(4)
        self.assertEqual((v, f.getvalue()), (b"0123456789", b"0123"))


USER = """\
import io
import ropeio

def patch(b: io.BytesIO) -> bytes:
    b.seek(0)
    b.write(bytearray(b"PK"))
    b.writelines([memoryview(b"\\x03"), b"\\x04"])
    return b.getvalue()

b: io.BytesIO = ropeio.BytesIO()
b.write(bytearray(b"xxxx"))
r = ropeio.BytesIO(bytearray(b"ab"))
n: int = r.readinto(bytearray(2)) + r.find(b"P")
with r.snapshot() as snap:
    views: list[memoryview] = list(snap)
print(patch(b), patch(r), n, views)
"""


@unittest.skipUnless(importlib.util.find_spec("mypy"), "mypy not installed")
class Stub(unittest.TestCase):
    """The stub: mypy --strict accepts it and a program that passes a
    ropeio.BytesIO where io.BytesIO is annotated, and stubtest finds it
    true to the module."""

    def mypy(self, *args):
        pkg = os.path.dirname(os.path.dirname(ropeio.__file__))
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, MYPYPATH=pkg)
            cache = (["--cache-dir", os.path.join(tmp, "cache")]
                     if args[0] == "mypy" else [])
            r = subprocess.run([sys.executable, "-m", *args, *cache],
                               cwd=pkg, env=env, capture_output=True,
                               text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_mypy_strict(self):
        self.mypy("mypy", "--strict", "-p", "ropeio")

    def test_stubtest(self):
        self.mypy("mypy.stubtest", "ropeio")

    def test_user_program_strict(self):
        with tempfile.NamedTemporaryFile("w", suffix=".py",
                                         delete=False) as f:
            f.write(USER)
        try:
            self.mypy("mypy", "--strict", f.name)
        finally:
            os.unlink(f.name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
