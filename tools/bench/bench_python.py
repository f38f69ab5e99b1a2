#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""io.BytesIO and ropeio.BytesIO side by side: the BytesIO article's table,
then the small operations Python code is made of, then three memory cases.

    PYTHONPATH=build/python python3 tools/bench/bench_python.py [reps] [rows]

rows: "article", "small", "memory" or "all" (the default).

The small rows time a loop of one everyday pattern (tiny streams, short
reads and writes, line iteration, header patching...), warm: one untimed
run of each class first, then reps runs (15 by default) in alternating
order. Each run repeats the pattern n times, n fixed per row so that a
run of io.BytesIO takes about 20 ms. CPU time (time.process_time) and
wall time (time.perf_counter) are both medians over the runs, printed per
pattern with the ratio ropeio / io.

The memory rows: truncate() keeping nothing of what it cut, the peak of
seek-past-the-end, write, fill the gap, getvalue() (h5py's pattern), and a
write far past the end (raises MemoryError at the write in CPython).

Rows: build 50 x 1 MiB; read() of it; getbuffer(); getvalue() first and
second; with the value held, a 1-byte write, a 1 MiB write and a 1-byte
overwrite; and the concatenation article's 50,000 x write(b"Hello World")
loop followed by getvalue().

Time: the median of reps runs (7 by default), the two classes in rotating
order, each run on a fresh stream built untimed. Memory: each row once more
per class in a forked child, so that every figure starts from the same heap:
- traced: what the operation allocated and still holds with its result
  held (kept), and the most it held at once (peak), over what was there
  before the operation. For io.BytesIO that is tracemalloc; ropeio's own
  chunks (and its structures) are malloc'ed by the library, which
  tracemalloc does not see, so its figures add the library's own count
  (ropeio.mem_stats()) to tracemalloc's. The blocks appended bytes live in
  are Python memory, which tracemalloc counts and the library does not.
  The two peaks are summed, an upper bound when they do not coincide.
- RSS: the resident set after the operation minus before (kept), and its
  high-water mark during the operation minus before (peak; the kernel's
  VmHWM, reset through /proc/self/clear_refs).
"""
import gc
import io
import json
import os
import statistics
import struct
import sys
import time
import tracemalloc

import ropeio

MIB = 1 << 20
CHUNK = b"X" * MIB
HELLO = b"Hello World"
CLASSES = [("io.BytesIO", io.BytesIO), ("ropeio.BytesIO", ropeio.BytesIO)]


def build(cls):
    f = cls()
    for _ in range(50):
        f.write(CHUNK)
    return f


def held(cls):
    f = build(cls)
    return f, f.getvalue()


def op_read(st):
    st.seek(0)
    return st.read()


def op_overwrite(st):
    st[0].seek(0)
    return st[0].write(b"x")


def op_loop(cls):
    f = cls()
    w = f.write
    for _ in range(50000):
        w(HELLO)
    return f.getvalue()


# (name, setup(cls) -> state, op(cls, state) -> result to hold)
ROWS = [
    ("build 50 x 1 MiB", lambda cls: None, lambda cls, st: build(cls)),
    ("read()", build, lambda cls, st: op_read(st)),
    ("getbuffer()", build, lambda cls, st: st.getbuffer()),
    ("getvalue() first", build, lambda cls, st: st.getvalue()),
    ("getvalue() second", held, lambda cls, st: st[0].getvalue()),
    ("write 1 B, value held", held, lambda cls, st: st[0].write(b"x")),
    ("write 1 MiB, value held", held, lambda cls, st: st[0].write(CHUNK)),
    ("overwrite 1 B, value held", held, lambda cls, st: op_overwrite(st)),
    ("50,000 x write(11 B) + getvalue()", lambda cls: None,
     lambda cls, st: op_loop(cls)),
]


# ---------------------------------------------------------------------------
# The small rows: each op(f, n) runs one everyday pattern n times.
# ---------------------------------------------------------------------------

B64 = bytes(range(64))
B4K = bytes(i % 251 for i in range(4096))
LINES = b"".join(b"line %04d of a text file, some words\n" % i
                 for i in range(100))
PIECES = [b"piece %d, " % i for i in range(10)]
W1, W16, W100 = b"x", b"0123456789abcdef", b"y" * 100
MSG = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
HDR16 = b"PK\x03\x04" + b"\x00" * 12


def s_tiny(cls, f, n):
    for _ in range(n):
        g = cls()
        w = g.write
        w(b"GET / HTTP/1.1\r\n")
        w(b"Host: example\r\n")
        w(b"Accept: */*\r\n")
        w(b"X-Id: 42\r\n")
        w(b"\r\n")
        g.getvalue()


def s_read64(cls, f, n):
    for _ in range(n):
        cls(B64).read()


def s_reuse(cls, f, n):
    seek, trunc, write, getvalue = f.seek, f.truncate, f.write, f.getvalue
    for _ in range(n):
        seek(0)
        trunc()
        write(MSG)
        getvalue()


def s_read1(cls, f, n):
    for _ in range(n):
        f.seek(0)
        r = f.read
        while r(1):
            pass


def s_readline(cls, f, n):
    for _ in range(n):
        f.seek(0)
        rl = f.readline
        while rl():
            pass


def s_iter(cls, f, n):
    for _ in range(n):
        f.seek(0)
        for line in f:
            pass


def s_getbuffer(cls, f, n):
    for _ in range(n):
        g = cls()
        g.write(B64)
        g.write(B64)
        m = g.getbuffer()
        m[0]
        m.release()


def s_writelines(cls, f, n):
    for _ in range(n):
        g = cls()
        g.writelines(PIECES)
        g.getvalue()


def s_unpack(cls, f, n):
    unpack = struct.unpack
    for _ in range(n):
        f.seek(0)
        r = f.read
        for _ in range(1024):
            unpack("<I", r(4))


def s_writes(data):
    def op(cls, f, n):
        for _ in range(n):
            g = cls()
            w = g.write
            for _ in range(100):
                w(data)
    return op


def s_overwrite(cls, f, n):
    seek, write, getvalue = f.seek, f.write, f.getvalue
    for _ in range(n):
        seek(4)
        write(HDR16)
        getvalue()


def with_bytes(data):
    return lambda cls: cls(data)


def appended(size):
    def setup(cls):
        f = cls()
        f.write(b"z" * size)
        f.getvalue()
        return f
    return setup


# (name, setup(cls) -> f or None, op(cls, f, n), patterns per run, n)
SMALL = [
    ("BytesIO(), 5 writes, getvalue()", lambda cls: None, s_tiny, 1, 20000),
    ("BytesIO(64 B).read()", lambda cls: None, s_read64, 1, 60000),
    ("reuse: seek 0, truncate, write, getvalue", lambda cls: cls(), s_reuse,
     1, 40000),
    ("read(1) over 4 KiB", with_bytes(B4K), s_read1, 4096, 10),
    ("readline() over 100 lines", with_bytes(LINES), s_readline, 100, 600),
    ("for line in f, 100 lines", with_bytes(LINES), s_iter, 100, 800),
    ("2 appends, getbuffer(), release", lambda cls: None, s_getbuffer, 1,
     30000),
    ("writelines(10 pieces), getvalue()", lambda cls: None, s_writelines, 1,
     30000),
    ("struct.unpack(read(4)) over 4 KiB", with_bytes(B4K), s_unpack, 1024,
     40),
    ("100 x write(1 B)", lambda cls: None, s_writes(W1), 100, 2000),
    ("100 x write(16 B)", lambda cls: None, s_writes(W16), 100, 2000),
    ("100 x write(100 B)", lambda cls: None, s_writes(W100), 100, 2000),
    ("overwrite 16 B, getvalue() dropped, 64 KiB", appended(64 << 10),
     s_overwrite, 1, 30000),
    ("overwrite 16 B, getvalue() dropped, 1 MiB", appended(MIB),
     s_overwrite, 1, 30000),
]


def time_small(row, reps):
    """CPU and wall medians per pattern, warm, alternating order."""
    name, setup, op, per, n = row
    cpu = {label: [] for label, _ in CLASSES}
    wall = {label: [] for label, _ in CLASSES}
    for rep in range(-1, reps):
        k = rep % len(CLASSES)
        for label, cls in CLASSES[k:] + CLASSES[:k]:
            f = setup(cls)
            gc.collect()
            c0, w0 = time.process_time(), time.perf_counter()
            op(cls, f, n)
            c1, w1 = time.process_time(), time.perf_counter()
            if rep >= 0:  # the first round only warms up
                cpu[label].append((c1 - c0) / (n * per))
                wall[label].append((w1 - w0) / (n * per))
            del f
    med = statistics.median
    return ({label: med(v) for label, v in cpu.items()},
            {label: med(v) for label, v in wall.items()})


def ns(t):
    return "%.0f ns" % (t * 1e9) if t < 1e-5 else "%.1f us" % (t * 1e6)


def run_small(reps, results):
    print("Small rows: time per pattern, warm, medians of %d alternating "
          "runs; ratio = ropeio / io\n" % reps)
    print("| pattern | CPU io | CPU ropeio | CPU ratio | wall io "
          "| wall ropeio | wall ratio |")
    print("|" + "---|" * 7)
    io_l, ro_l = CLASSES[0][0], CLASSES[1][0]
    for row in SMALL:
        cpu, wall = time_small(row, reps)
        print("| %s | %s | %s | %.2fx | %s | %s | %.2fx |" % (
            row[0], ns(cpu[io_l]), ns(cpu[ro_l]), cpu[ro_l] / cpu[io_l],
            ns(wall[io_l]), ns(wall[ro_l]), wall[ro_l] / wall[io_l]),
            flush=True)
        results.append({"row": row[0], "cpu": cpu, "wall": wall})
    print()


# ---------------------------------------------------------------------------
# The memory rows, measured like the article's table (memory_child).
# ---------------------------------------------------------------------------

BIG = 50 * MIB
FILL = bytes(BIG)


def m_truncate_setup(cls):
    return cls(b"t" * BIG)  # only the stream holds the bytes


def m_gap_fill(cls, st):
    f = cls()
    f.seek(BIG - 1)
    f.write(b"x")
    f.seek(0)
    f.write(memoryview(FILL)[:BIG - 1])
    return f.getvalue()


def m_far(cls, st):
    f = cls()
    f.seek(1 << 40)
    try:
        f.write(b"x")
    except MemoryError:
        return "MemoryError at the write"
    try:
        f.getvalue()
    except MemoryError:
        return "write succeeded; MemoryError at getvalue()"
    return "write and getvalue() succeeded"


MEMORY = [
    ("BytesIO(50 MiB).truncate(10)", m_truncate_setup,
     lambda cls, st: st.truncate(10) and st),
    ("seek 50 MiB, write 1 B, fill the gap, getvalue()", lambda cls: None,
     m_gap_fill),
]


def run_memory(results):
    print("Memory rows: kept / peak over the operation, tracemalloc plus "
          "the library's count, and RSS\n")
    print("| operation | traced io | traced ropeio | RSS io | RSS ropeio |")
    print("|" + "---|" * 5)
    for row in MEMORY:
        m = {label: measure_memory(row, cls) for label, cls in CLASSES}
        cells = [row[0]]
        for key, pk in (("kept", "peak"), ("rss_kept", "rss_peak")):
            for label, _ in CLASSES:
                mm = m[label]
                cells.append(mm.get("error") or
                             "%s / %s" % (mib(mm[key]), mib(mm[pk])))
        print("| " + " | ".join(cells) + " |", flush=True)
        results.append({"row": row[0], "memory": m})
    for label, cls in CLASSES:
        print("seek(2**40); write(b'x') on %s: %s" % (label, m_far(cls, None)))
    print()


def proc_status():
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                fields[k] = int(v.split()[0]) * 1024
    return fields


def reset_hwm():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_child(row, cls):
    """One measurement, in the forked child: returns a dict."""
    name, setup, op = row
    gc.collect()
    tracemalloc.start()
    st = setup(cls)
    gc.collect()
    t0 = tracemalloc.get_traced_memory()[0]
    r0 = ropeio.mem_stats()["allocated"]
    ropeio.mem_reset_peak()
    tracemalloc.reset_peak()
    hwm_ok = reset_hwm()
    rss0 = proc_status()["VmRSS"]
    res = op(cls, st)
    t1, tpeak = tracemalloc.get_traced_memory()
    rs = ropeio.mem_stats()
    status = proc_status()
    out = {
        "kept": t1 - t0 + rs["allocated"] - r0,
        "peak": tpeak - t0 + rs["peak"] - r0,
        "rss_kept": status["VmRSS"] - rss0,
        "rss_peak": status["VmHWM"] - rss0 if hwm_ok else None,
    }
    del res, st
    return out


def measure_memory(row, cls):
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rd)
        try:
            data = json.dumps(memory_child(row, cls)).encode()
        except BaseException as e:  # report it to the parent
            data = json.dumps({"error": repr(e)}).encode()
        os.write(wr, data)
        os._exit(0)
    os.close(wr)
    chunks = []
    while True:
        b = os.read(rd, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(rd)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks))


def measure_time(row, reps):
    name, setup, op = row
    times = {label: [] for label, _ in CLASSES}
    for rep in range(reps):
        k = rep % len(CLASSES)
        for label, cls in CLASSES[k:] + CLASSES[:k]:
            st = setup(cls)
            gc.collect()
            t = time.perf_counter()
            res = op(cls, st)
            times[label].append(time.perf_counter() - t)
            del res, st
    return {label: statistics.median(v) for label, v in times.items()}


def mib(n):
    if n is None:
        return "n/a"
    if abs(n) < 64 * 1024:
        return "%+.1f KiB" % (n / 1024)
    return "%+.2f MiB" % (n / MIB)


def ms(t):
    return "%.3f ms" % (t * 1e3)


def run_article(reps, results):
    print("The article's table: one operation on 50 MiB, median of %d "
          "runs\n" % reps)
    head = ("| operation | time io | time ropeio | traced kept/peak io "
            "| traced kept/peak ropeio | RSS kept/peak io "
            "| RSS kept/peak ropeio |")
    print(head)
    print("|" + "---|" * 7)
    for row in ROWS:
        t = measure_time(row, reps)
        m = {label: measure_memory(row, cls) for label, cls in CLASSES}
        cells = [row[0], ms(t["io.BytesIO"]), ms(t["ropeio.BytesIO"])]
        for key in ("kept", "rss_kept"):
            for label, _ in CLASSES:
                mm = m[label]
                if "error" in mm:
                    cells.append(mm["error"])
                    continue
                peak = mm["peak" if key == "kept" else "rss_peak"]
                cells.append("%s / %s" % (mib(mm[key]), mib(peak)))
        print("| " + " | ".join(cells) + " |", flush=True)
        results.append({"row": row[0], "time": t, "memory": m})
    print()


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    which = sys.argv[2] if len(sys.argv) > 2 else "all"
    print("Python %s, ropeio %s\n" %
          (sys.version.split()[0], ropeio.__version__))
    results = []
    if which in ("all", "article"):
        run_article(reps or 7, results)
    if which in ("all", "small"):
        run_small(reps or 15, results)
    if which in ("all", "memory"):
        run_memory(results)
    if os.environ.get("ROPEIO_BENCH_JSON"):
        with open(os.environ["ROPEIO_BENCH_JSON"], "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
