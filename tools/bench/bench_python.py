#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The BytesIO article's table in Python: io.BytesIO and ropeio.BytesIO
side by side, one row per operation.

    PYTHONPATH=build/python python3 tools/bench/bench_python.py [reps]

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


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    print("Python %s, ropeio %s, %d repetitions (time: median)\n" %
          (sys.version.split()[0], ropeio.__version__, reps))
    head = ("| operation | time io | time ropeio | traced kept/peak io "
            "| traced kept/peak ropeio | RSS kept/peak io "
            "| RSS kept/peak ropeio |")
    print(head)
    print("|" + "---|" * 7)
    results = []
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
    if os.environ.get("ROPEIO_BENCH_JSON"):
        with open(os.environ["ROPEIO_BENCH_JSON"], "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
