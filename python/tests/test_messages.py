# SPDX-License-Identifier: MIT
"""Every method of io.BytesIO called with good and bad arguments, on an
open, a closed and an exported stream: ropeio.BytesIO must give the same
result, or the same exception with the same message (the class name
aside)."""
import array
import io
import sys
import unittest

import ropeio


class IntLike:
    def __init__(self, n): self.n = n
    def __index__(self): return self.n
def calls():
    nc = memoryview(b"abcdef")[::2]
    yield "read('x')", lambda f: f.read('x')
    yield "read(1.5)", lambda f: f.read(1.5)
    yield "read(2**70)", lambda f: f.read(2**70)
    yield "read(1,2)", lambda f: f.read(1, 2)
    yield "read(size=1)", lambda f: f.read(size=1)
    yield "read(IntLike(2))", lambda f: f.read(IntLike(2))
    yield "read1()", lambda f: f.read1()
    yield "read1(1,2)", lambda f: f.read1(1, 2)
    yield "seek()", lambda f: f.seek()
    yield "seek(1.5)", lambda f: f.seek(1.5)
    yield "seek(2**63)", lambda f: f.seek(2**63)
    yield "seek(0,5)", lambda f: f.seek(0, 5)
    yield "seek(-1)", lambda f: f.seek(-1)
    yield "seek(-1, 5)", lambda f: f.seek(-1, 5)
    yield "seek(0,1.5)", lambda f: f.seek(0, 1.5)
    yield "seek(0,2**40)", lambda f: f.seek(0, 2**40)
    yield "seek(sys.maxsize,1)", lambda f: (f.seek(5), f.seek(2**63-1, 1))
    yield "seek(maxsize)", lambda f: f.seek(2**63-1)
    yield "seek(1,2)", lambda f: f.seek(1, 2)
    yield "seek(IntLike)", lambda f: f.seek(IntLike(3))
    yield "seek(0, whence=1)", lambda f: f.seek(0, whence=1)
    yield "write('s')", lambda f: f.write('s')
    yield "write(None)", lambda f: f.write(None)
    yield "write(nc)", lambda f: f.write(nc)
    yield "write(array)", lambda f: f.write(array.array('i', [1, 2]))
    yield "write()", lambda f: f.write()
    yield "truncate('x')", lambda f: f.truncate('x')
    yield "truncate(-1)", lambda f: f.truncate(-1)
    yield "truncate(2**70)", lambda f: f.truncate(2**70)
    yield "truncate(1.0)", lambda f: f.truncate(1.0)
    yield "truncate(IntLike)", lambda f: f.truncate(IntLike(2))
    yield "readinto(b'abc')", lambda f: f.readinto(b'abc')
    yield "readinto(None)", lambda f: f.readinto(None)
    yield "readinto(array)", lambda f: (lambda a: (f.readinto(a), a.tolist()))(array.array('i', [0, 0]))
    yield "readinto1(bytearray)", lambda f: (lambda a: (f.readinto1(a), a))(bytearray(3))
    yield "readlines(IntLike)", lambda f: f.readlines(IntLike(1))
    yield "readlines('x')", lambda f: f.readlines('x')
    yield "readlines(2**70)", lambda f: f.readlines(2**70)
    yield "readlines(1)", lambda f: f.readlines(1)
    yield "readline(1.0)", lambda f: f.readline(1.0)
    yield "readline(None)", lambda f: f.readline(None)
    yield "writelines(None)", lambda f: f.writelines(None)
    yield "writelines([1])", lambda f: f.writelines([b'x', 1])
    yield "getbuffer(1)", lambda f: f.getbuffer(1)
    yield "getvalue(1)", lambda f: f.getvalue(1)
    yield "detach", lambda f: f.detach()
    yield "fileno", lambda f: f.fileno()
    yield "setstate(list)", lambda f: f.__setstate__([b'', 0, None])
    yield "setstate((b'',0.0,None))", lambda f: f.__setstate__((b'', 0.0, None))
    yield "setstate((b'',-1,None))", lambda f: f.__setstate__((b'', -1, None))
    yield "setstate((b'',0,0))", lambda f: f.__setstate__((b'', 0, 0))
    yield "setstate(('u',0,None))", lambda f: f.__setstate__(('u', 0, None))
    yield "setstate((b'ab',5,{'a':1}))", lambda f: (f.__setstate__((b'ab', 5, {'a': 1})), f.a, f.tell(), f.getvalue())
    yield "init(1,2)", lambda f: f.__init__(1, 2)
    yield "init(foo=1)", lambda f: f.__init__(foo=1)
    yield "init('s')", lambda f: f.__init__('s')
    yield "init(initial_bytes=b'q')", lambda f: (f.__init__(initial_bytes=b'q'), f.getvalue(), f.tell())
    yield "init(bytearray)", lambda f: (f.__init__(bytearray(b'zz')), f.getvalue(), f.tell())
    yield "init(None)", lambda f: (f.__init__(None), f.getvalue(), f.closed)
    yield "init()", lambda f: (f.__init__(), f.getvalue(), f.closed)
    yield "enter", lambda f: f.__enter__() is f
    yield "exit", lambda f: (f.__exit__(None, None, None), f.closed)
    yield "next", lambda f: next(f)
    yield "iter is self", lambda f: iter(f) is f
    yield "readable etc", lambda f: (f.readable(), f.writable(), f.seekable(), f.isatty(), f.flush())
    yield "tell(1)", lambda f: f.tell(1)
    yield "close(1)", lambda f: f.close(1)
    yield "getstate", lambda f: f.__getstate__()
    yield "pickle proto 1", lambda f: __import__('pickle').dumps(f, 1)
    yield "copy", lambda f: __import__('copy').copy(f).getvalue()
    yield "deepcopy", lambda f: __import__('copy').deepcopy(f).getvalue()
    yield "dict", lambda f: (setattr(f, 'x', 1), f.__dict__)
    yield "weakref", lambda f: __import__('weakref').ref(f)() is f
    yield "sizeof int", lambda f: isinstance(f.__sizeof__(), int)
    yield "truncate()", lambda f: (f.seek(3), f.truncate(), f.getvalue(), f.tell())
    # ropeio.BytesIO derives from io.BytesIO: the same classes above it.
    yield "repr type", lambda f: tuple(c for c in type(f).__mro__
                                       if c.__module__ != "ropeio")

def outcomes(cls, closed, exported):
    out = []
    for name, fn in calls():
        f = cls(b"line1\nline2\nline3\n")
        view = f.getbuffer() if exported else None
        if closed:
            f.close()
        try:
            r = ("ok", repr(fn(f)))
        except Exception as e:
            msg = str(e).replace("_io.BytesIO", "X")
            r = ("exc", type(e).__name__, msg.replace("ropeio.BytesIO", "X"))
        out.append((name, r))
        del view
    return out


class Messages(unittest.TestCase):
    def compare(self, closed, exported):
        want = outcomes(io.BytesIO, closed, exported)
        got = outcomes(ropeio.BytesIO, closed, exported)
        self.assertEqual(len(want), len(got))
        for (name, a), (_, b) in zip(want, got):
            self.assertEqual(a, b, name)

    def test_open(self):
        self.compare(False, False)

    def test_closed(self):
        self.compare(True, False)

    def test_exported(self):
        self.compare(False, True)


if __name__ == "__main__":
    unittest.main(testRunner=unittest.TextTestRunner(stream=sys.stdout,
                                                     verbosity=2))
