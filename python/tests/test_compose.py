# SPDX-License-Identifier: MIT
"""Streams that compose: append_snapshot() takes a snapshot's range by
reference and move_from() moves the front of one stream to another, both
sharing memory, neither letting a write on one side show on the other."""
import unittest

import ropeio


class AppendSnapshot(unittest.TestCase):
    def test_shares_and_stays_apart(self):
        a = ropeio.BytesIO(b"hello, world")
        b = ropeio.BytesIO(b"<")
        snap = a.snapshot()
        self.assertEqual(b.append_snapshot(snap, 7, 5), 5)
        self.assertEqual(b.getvalue(), b"<world")
        self.assertEqual(b.tell(), 0)  # appended: the position stays
        a.seek(7)
        a.write(b"W")
        b.seek(1)
        b.write(b"w0")
        self.assertEqual(a.getvalue(), b"hello, World")
        self.assertEqual(b.getvalue(), b"<w0rld")
        snap.release()
        self.assertEqual(b.getvalue(), b"<w0rld")

    def test_defaults_take_the_rest(self):
        a = ropeio.BytesIO(b"0123456789")
        snap = a.snapshot()
        b = ropeio.BytesIO()
        self.assertEqual(b.append_snapshot(snap), 10)
        self.assertEqual(b.append_snapshot(snap, 8), 2)
        self.assertEqual(b.append_snapshot(snap, 3, None), 7)
        self.assertEqual(b.getvalue(), b"0123456789" + b"89" + b"3456789")

    def test_bad_arguments(self):
        snap = ropeio.BytesIO(b"abc").snapshot()
        b = ropeio.BytesIO(b"x")
        for args, exc in [((snap, 4), ValueError), ((snap, 1, 3), ValueError),
                          ((snap, -1), ValueError), ((snap, 0, -1), ValueError),
                          ((b"abc",), TypeError), ((), TypeError)]:
            with self.assertRaises(exc, msg=repr(args)):
                b.append_snapshot(*args)
        self.assertEqual(b.getvalue(), b"x")
        snap.release()
        with self.assertRaises(ValueError):
            b.append_snapshot(snap)
        b.close()
        with self.assertRaises(ValueError):
            b.append_snapshot(ropeio.BytesIO(b"a").snapshot())

    def test_refused_while_exported(self):
        b = ropeio.BytesIO(b"abc")
        snap = b.snapshot()
        view = b.getbuffer()
        with self.assertRaises(BufferError):
            b.append_snapshot(snap)
        view.release()
        self.assertEqual(b.append_snapshot(snap), 3)


class MoveFrom(unittest.TestCase):
    def test_moves_the_front(self):
        src = ropeio.BytesIO(b"abcdef")
        src.seek(4)
        dst = ropeio.BytesIO(b"<")
        self.assertEqual(dst.move_from(src, 3), 3)
        self.assertEqual(dst.getvalue(), b"<abc")
        self.assertEqual(src.getvalue(), b"def")
        self.assertEqual(src.tell(), 1)  # moved back with its data
        self.assertEqual(dst.tell(), 0)
        self.assertEqual(dst.move_from(src, 100), 3)
        self.assertEqual(src.getvalue(), b"")
        self.assertEqual(dst.getvalue(), b"<abcdef")

    def test_writes_stay_apart(self):
        src = ropeio.BytesIO()
        src.write(b"abcdef")
        dst = ropeio.BytesIO()
        dst.move_from(src, 3)
        dst.write(b"X")          # at 0, in the moved bytes
        src.write(b"!")          # at the end
        dst.seek(0, 2)
        dst.write(b"Z")
        self.assertEqual(dst.getvalue(), b"XbcZ")
        self.assertEqual(src.getvalue(), b"def!")

    def test_bad_arguments(self):
        a, b = ropeio.BytesIO(b"ab"), ropeio.BytesIO(b"cd")
        with self.assertRaises(ValueError):
            a.move_from(a, 1)
        with self.assertRaises(TypeError):
            a.move_from(b"cd", 1)
        with self.assertRaises(ValueError):
            a.move_from(b, -1)
        view = b.getbuffer()
        with self.assertRaises(BufferError):
            a.move_from(b, 1)
        view.release()
        b.close()
        with self.assertRaises(ValueError):
            a.move_from(b, 1)
        self.assertEqual(a.getvalue(), b"ab")


if __name__ == "__main__":
    unittest.main(verbosity=2)
