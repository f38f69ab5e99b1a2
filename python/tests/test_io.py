# SPDX-License-Identifier: MIT
"""Beyond io.BytesIO: snapshots and their chunk views, send() and
write_to() on real sockets and files, threads that send with the GIL
released (and release adopted objects without it), find(),
readline_delim(), drain(); and the docstrings and the stub."""
import ast
import io
import os
import select
import socket
import sys
import tempfile
import threading
import time
import unittest

import ropeio

MIB = 1 << 20


def recv_all(sock, n):
    got = bytearray()
    while len(got) < n:
        chunk = sock.recv(min(1 << 16, n - len(got)))
        if not chunk:
            break
        got += chunk
    return bytes(got)


class Snapshots(unittest.TestCase):
    def test_chunks_are_readonly_views_that_keep_the_bytes(self):
        # Three chunks: an adopted object, then appends, which would grow
        # one block but for the snapshot that shares it after the first.
        parts = [bytes([65 + i]) * (MIB + i) for i in range(3)]
        s = ropeio.BytesIO(parts[0])
        s.seek(0, 2)
        s.write(parts[1])
        mid = s.snapshot()
        s.write(parts[2])
        del mid
        snap = s.snapshot()
        self.assertEqual(len(snap), sum(map(len, parts)))
        s.seek(0)
        s.write(b"changed")
        s.truncate(10)
        views = list(snap)
        self.assertGreaterEqual(len(views), 3)
        self.assertTrue(all(isinstance(v, memoryview) and v.readonly
                            for v in views))
        with self.assertRaises(TypeError):
            views[0][0] = 1
        del snap, s
        self.assertEqual(b"".join(bytes(v) for v in views), b"".join(parts))

    def test_release_and_context(self):
        s = ropeio.BytesIO(b"abc")
        with s.snapshot() as snap:
            self.assertEqual(bytes(snap), b"abc")
        self.assertRaises(ValueError, len, snap)
        self.assertRaises(ValueError, iter, snap)
        s.close()
        self.assertRaises(ValueError, s.snapshot)

    def test_views_keep_the_chunks_after_release(self):
        data = bytes(bytearray(b"v" * 5000))
        rc = sys.getrefcount(data)
        s = ropeio.BytesIO(data)
        snap = s.snapshot()
        s.close()
        views = list(snap)
        snap.release()
        self.assertEqual(sys.getrefcount(data), rc + 1)
        self.assertEqual(b"".join(bytes(v) for v in views), data)
        del views
        self.assertEqual(sys.getrefcount(data), rc)

    def test_empty(self):
        snap = ropeio.BytesIO().snapshot()
        self.assertEqual((len(snap), list(snap), bytes(snap)), (0, [], b""))


class FileDescriptors(unittest.TestCase):
    def test_write_to_a_file(self):
        s = ropeio.BytesIO()
        for i in range(4):
            s.write(bytes([48 + i]) * 100000)
        s.seek(7)
        want = s.getvalue()
        s.write(b"later")
        with tempfile.TemporaryFile() as f:
            self.assertEqual(s.write_to(f), len(want))
            self.assertEqual(s.snapshot().write_to(f.fileno(), 5),
                             len(want) - 5)
            f.seek(0)
            got = f.read()
        want = s.getvalue()
        self.assertEqual(got, want + want[5:])
        self.assertEqual(s.tell(), 12)

    def test_send_to_a_socket_object_and_an_fd(self):
        a, b = socket.socketpair()
        with a, b:
            s = ropeio.BytesIO(b"hello ")
            s.seek(0, 2)
            s.write(b"world")
            self.assertEqual(s.send(a), 11)
            self.assertEqual(s.send(a.fileno()), 11)
            self.assertEqual(recv_all(b, 22), b"hello world" * 2)
            self.assertEqual(s.drain(6), 6)
            self.assertEqual((s.getvalue(), s.tell()), (b"world", 5))

    def test_errors_are_oserrors(self):
        a, b = socket.socketpair()
        s = ropeio.BytesIO(b"x" * 100)
        b.close()
        with a:
            self.assertRaises(BrokenPipeError, s.send, a)
        self.assertRaises(OSError, s.write_to, 1 << 20)
        self.assertRaises(TypeError, s.send, "sock")
        s.close()
        self.assertRaises(ValueError, s.send, 1)

    def test_threads_send_snapshots_with_the_gil_released(self):
        s = ropeio.BytesIO()
        payload = bytes(range(256)) * 4096       # 1 MiB
        for _ in range(4):
            s.write(payload)
        results = {}

        def sender(i, snap, sock):
            sent = 0
            while sent < len(snap):
                sent += snap.send(sock, sent)
            sock.shutdown(socket.SHUT_WR)

        def reader(i, sock, n):
            results[i] = recv_all(sock, n + 1)

        threads, socks, wants = [], [], []
        for i in range(4):
            snap = s.snapshot()
            wants.append(bytes(snap))
            a, b = socket.socketpair()
            socks += [a, b]
            threads.append(threading.Thread(target=sender,
                                            args=(i, snap, a)))
            threads.append(threading.Thread(target=reader,
                                            args=(i, b, len(snap))))
            # The stream keeps changing while the snapshots are sent.
            s.seek(i * 1000)
            s.write(b"!" * 5000)
        for t in threads:
            t.start()
        ticks = 0
        while any(t.is_alive() for t in threads):
            ticks += 1                        # this thread keeps running
            s.write(b".")
            time.sleep(0.001)
        for t in threads:
            t.join()
        for sock in socks:
            sock.close()
        self.assertEqual([results[i] for i in range(4)], wants)
        self.assertNotEqual(wants[0], wants[3])

    def test_adopted_bytes_released_off_the_gil(self):
        # The stream closes while a send holds the only other reference:
        # the sending thread drops it with the GIL released, so the
        # release callback must take the GIL itself.
        data = bytes(bytearray(b"q" * (8 * MIB)))
        rc = sys.getrefcount(data)
        s = ropeio.BytesIO(data)
        a, b = socket.socketpair()
        out = {}

        def sender():
            out["sent"] = s.send(a)

        t = threading.Thread(target=sender)
        t.start()
        # Bytes arriving mean the send has its snapshot; 8 MiB is more
        # than the socket buffers hold, so it then blocks until we read.
        readable, _, _ = select.select([b], [], [], 30)
        self.assertEqual(readable, [b])
        s.close()
        self.assertEqual(sys.getrefcount(data), rc + 1)
        got = recv_all(b, len(data))
        t.join()
        a.close()
        b.close()
        self.assertEqual((out["sent"], got), (len(data), data))
        self.assertEqual(sys.getrefcount(data), rc)


class Parsing(unittest.TestCase):
    def chunked(self):
        s = ropeio.BytesIO()
        s.write(b"a" * (MIB - 2) + b"\r\n")
        s.write(b"\r\nbody" + b"b" * MIB)
        s.write(b"NEEDLE".join([b"c" * 10, b"d" * 10]))
        s.seek(0)
        return s

    def test_find_across_chunks(self):
        s = self.chunked()
        v = s.getvalue()
        s = self.chunked()
        for sub, start in [(b"\r\n\r\n", 0), (b"NEEDLE", 0), (b"a\r", 5),
                           (b"zz", 0), (b"", 3), (b"b", -5), (b"a", -1),
                           (b"", len(v) + 1), (b"d", len(v))]:
            self.assertEqual(s.find(sub, start), v.find(sub, start),
                             (sub, start))
        self.assertEqual(s.find(bytearray(b"body")), v.find(b"body"))
        self.assertRaises(TypeError, s.find, "str")

    def test_readline_delim(self):
        s = self.chunked()
        head = s.readline_delim(b"\r\n\r\n")
        self.assertEqual(head, b"a" * (MIB - 2) + b"\r\n\r\n")
        self.assertEqual(s.readline_delim(b"NEEDLE", 4), b"body")
        self.assertEqual(s.readline_delim(b"NEEDLE")[-16:],
                         b"c" * 10 + b"NEEDLE")
        self.assertEqual(s.readline_delim(b"NEEDLE"), b"d" * 10)
        self.assertEqual(s.readline_delim(b"x"), b"")
        self.assertRaises(ValueError, s.readline_delim, b"")
        s.close()
        self.assertRaises(ValueError, s.readline_delim, b"\n")

    def test_drain(self):
        s = ropeio.BytesIO(b"0123456789")
        s.seek(4)
        self.assertEqual(s.drain(3), 3)
        self.assertEqual((s.getvalue(), s.tell()), (b"3456789", 1))
        self.assertEqual(s.drain(100), 7)
        self.assertEqual((s.getvalue(), s.tell()), (b"", 0))
        self.assertRaises(ValueError, s.drain, -1)
        with s.getbuffer():
            self.assertRaises(BufferError, s.drain, 1)


class Docs(unittest.TestCase):
    def public(self, cls):
        return {n for n in vars(cls) if not n.startswith("_") or n in
                ("__getstate__", "__setstate__", "__sizeof__")}

    def test_every_method_has_a_docstring(self):
        for cls in (ropeio.BytesIO, ropeio.Snapshot):
            for name in self.public(cls):
                doc = getattr(cls, name).__doc__
                self.assertTrue(doc and len(doc) > 10, (cls, name))

    def test_bytesio_has_every_method_of_io_bytesio(self):
        for name in dir(io.BytesIO):
            self.assertTrue(hasattr(ropeio.BytesIO, name), name)

    def test_the_stub_names_every_method(self):
        path = os.path.join(os.path.dirname(ropeio.__file__),
                            "__init__.pyi")
        with open(path) as f:
            tree = ast.parse(f.read())
        stub = {}
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                stub[node.name] = {n.name for n in node.body
                                   if isinstance(n, ast.FunctionDef)}
        for cls in (ropeio.BytesIO, ropeio.Snapshot):
            missing = self.public(cls) - stub[cls.__name__]
            self.assertEqual(missing, set(), cls)

    def test_the_readme_example_runs(self):
        readme = os.path.join(os.path.dirname(__file__), "..", "..",
                              "README.md")
        with open(readme) as f:
            text = f.read()
        block = text.split("```python\n", 1)[1].split("```", 1)[0]
        out = io.StringIO()
        old, sys.stdout = sys.stdout, out
        try:
            exec(compile(block, "README.md", "exec"), {})
        finally:
            sys.stdout = old
        self.assertTrue(out.getvalue())


if __name__ == "__main__":
    unittest.main(testRunner=unittest.TextTestRunner(stream=sys.stdout,
                                                     verbosity=2))
