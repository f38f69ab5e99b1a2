#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The seeds' scenarios on CPython's io.BytesIO, for the tour to compare.

Prints one tab-separated line per scenario:
    id <TAB> retained bytes <TAB> peak extra bytes <TAB> best seconds
Memory comes from tracemalloc (retained = after - before with the result
held; peak = tracemalloc's peak after reset_peak, minus before); time is
the best of several runs without tracing.
"""
import io
import sys
import time
import tracemalloc

MIB = 1 << 20
CHUNK = b"x" * MIB
RUNS = 5


def build():
    b = io.BytesIO()
    for _ in range(50):
        b.write(CHUNK)
    return b


def s_build(b, keep):
    keep.append(build())


def s_read_all(b, keep):
    b.seek(0)
    keep.append(b.read())


def s_read_1mib(b, keep):
    b.seek(10 * MIB)
    keep.append(b.read(MIB))


def s_getbuffer(b, keep):
    keep.append(b.getbuffer())


def s_getvalue(b, keep):
    keep.append(b.getvalue())


def s_append_1(b, keep):
    b.seek(0, 2)
    b.write(b"x")


def s_append_1mib(b, keep):
    b.seek(0, 2)
    b.write(CHUNK)


def s_overwrite_1(b, keep):
    b.seek(0)
    b.write(b"x")


def setup_value_held(b, keep):
    keep.append(b.getvalue())


def setup_value_dropped(b, keep):
    b.getvalue()


def setup_exported(b, keep):
    keep.append(b.getbuffer())


def no_setup(b, keep):
    pass


# (id, setup not measured, operation measured); ids match tools/tour.c.
SCENARIOS = [
    ("build", no_setup, s_build),
    ("read_all", no_setup, s_read_all),
    ("read_1mib", no_setup, s_read_1mib),
    ("getbuffer", no_setup, s_getbuffer),
    ("getvalue", no_setup, s_getvalue),
    ("getvalue_again", setup_value_held, s_getvalue),
    ("held_append_1", setup_value_held, s_append_1),
    ("held_append_1mib", setup_value_held, s_append_1mib),
    ("held_overwrite_1", setup_value_held, s_overwrite_1),
    ("dropped_append_1", setup_value_dropped, s_append_1),
    ("getvalue_exported", setup_exported, s_getvalue),
]


def measure(setup, fn):
    best = float("inf")
    for _ in range(RUNS):
        b, keep = build(), []
        setup(b, keep)
        t0 = time.perf_counter()
        fn(b, keep)
        best = min(best, time.perf_counter() - t0)
        del keep
    # Trace from before the build, as the seed article does, so that a
    # realloc that trims or grows the buffer is seen as what it is.
    tracemalloc.start()
    b, keep = build(), []
    setup(b, keep)
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    fn(b, keep)
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return after - before, peak - before, best



def hello_world(n):
    best, med = [], []
    for _ in range(21):
        b = io.BytesIO()
        w = b.write
        t0 = time.perf_counter()
        for _ in range(n):
            w(b"Hello World")
        v = b.getvalue()
        best.append(time.perf_counter() - t0)
        assert len(v) == 11 * n
    best.sort()
    return best[0], best[len(best) // 2]


def main():
    lo, mid = hello_world(50000)
    print(f"hello_world\t{lo:.9f}\t{mid:.9f}\t0")
    for name, setup, fn in SCENARIOS:
        retained, peak, best = measure(setup, fn)
        print(f"{name}\t{retained}\t{peak}\t{best:.9f}")
    print(f"python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
