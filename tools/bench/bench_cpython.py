#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""CPython's io.BytesIO in the benchmark tour (tools/bench/ runs this).

The tour passes one JSON argument with the sizes and repetitions, and the
paths of the data it generated (the source bytes that appends are cut from,
the HTTP-like stream and its random splits), so that CPython does the same
work on the same bytes as the C peers. It prints one tab-separated line per
figure, which the tour reads:

    t <TAB> scenario <TAB> seconds <TAB> seconds ...   one per repetition
    m <TAB> scenario <TAB> kept <TAB> peak              tracemalloc, bytes
    i <TAB> key <TAB> value                             about this Python

Times come from runs without tracing; memory from one more run under
tracemalloc (kept: allocated after the operation minus before, with its
result held; peak: tracemalloc's peak during the operation minus before).

All repetitions run in this one process, one after another, so the times
are the tour's warm mode: the tour does not count the first repetition of
each scenario (it asks for one more than it shows).
"""
import gc
import io
import json
import sys
import time
import tracemalloc

NEEDLE = b"\r\n\r\n"
clock = time.perf_counter


def settle():
    """Before a timed run: collect garbage (the heap stays warm)."""
    gc.collect()


def out(kind, name, *values):
    print("\t".join([kind, name] + [repr(v) if isinstance(v, float) else
                                    str(v) for v in values]), flush=True)


def pieces(src, piece):
    """The pieces the C peers append, in order, cut as tools/bench/ cuts
    them: consecutive slices of src, starting over when the next would not
    fit. Slicing happens here, before any timing."""
    k = len(src) // piece
    return [src[i * piece:(i + 1) * piece] for i in range(k)]


def build(cycle, count):
    b = io.BytesIO()
    w = b.write
    k = len(cycle)
    for i in range(count):
        w(cycle[i % k])
    return b


def measure_mem(setup, op):
    """kept and peak of op() after setup(), both traced from before setup,
    so that a realloc the operation makes is seen as what it is."""
    gc.collect()
    tracemalloc.start()
    state = setup()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    held = op(state)
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del held, state
    return after - before, peak - before


# --------------------------------------------------------------------------
# Appends


def appends(name, cycle, count, reps):
    k = len(cycle)
    times = []
    for _ in range(reps):
        settle()
        t0 = clock()
        b = io.BytesIO()
        w = b.write
        if k == 1:
            p = cycle[0]
            for _ in range(count):
                w(p)
        else:
            for i in range(count):
                w(cycle[i % k])
        t = clock() - t0
        assert b.tell() == count * len(cycle[0])
        times.append(t)
        del b
    out("t", name, *times)
    kept, peak = measure_mem(lambda: None, lambda s: build(cycle, count))
    out("m", name, kept, peak)


# --------------------------------------------------------------------------
# getvalue, and writes while a value is held


def getvalue(cycle, count, reps):
    first, again = [], []
    for _ in range(reps):
        b = build(cycle, count)
        settle()
        t0 = clock()
        v = b.getvalue()
        first.append(clock() - t0)
        settle()
        t0 = clock()
        v2 = b.getvalue()
        again.append(clock() - t0)
        assert len(v) == len(v2) == count * len(cycle[0])
        del v, v2, b
    out("t", "getvalue_first", *first)
    out("t", "getvalue_again", *again)
    kept, peak = measure_mem(lambda: build(cycle, count),
                             lambda b: b.getvalue())
    out("m", "getvalue_first", kept, peak)

    def setup():
        b = build(cycle, count)
        return b, b.getvalue()
    kept, peak = measure_mem(setup, lambda s: s[0].getvalue())
    out("m", "getvalue_again", kept, peak)


def held(cycle, count, reps, mib):
    def w_end(data):
        def op(s):
            s[0].seek(0, 2)
            s[0].write(data)
        return op

    def w_start(s):
        s[0].seek(0)
        s[0].write(b"x")

    def setup():
        b = build(cycle, count)
        return b, b.getvalue()

    for name, op in (("held_append_1", w_end(b"x")),
                     ("held_append_1mib", w_end(mib)),
                     ("held_overwrite_1", w_start)):
        times = []
        for _ in range(reps):
            s = setup()
            settle()
            t0 = clock()
            op(s)
            times.append(clock() - t0)
            del s
        out("t", name, *times)
        kept, peak = measure_mem(setup, op)
        out("m", name, kept, peak)


# --------------------------------------------------------------------------
# The parser loop: append, then getvalue


def loop(name, cycle, count, reps, hold):
    times = []
    k = len(cycle)
    for _ in range(reps):
        keep = []
        acc = 0
        settle()
        t0 = clock()
        b = io.BytesIO()
        w, gv = b.write, b.getvalue
        for i in range(count):
            w(cycle[i % k])
            v = gv()
            acc += v[-1]
            if hold:
                keep.append(v)
            # Dropped: released before the next write, as in the C peers.
            del v
        times.append(clock() - t0)
        assert b.tell() == count * len(cycle[0]) and acc > 0
        del keep, b
    out("t", name, *times)


# --------------------------------------------------------------------------
# The HTTP-like parser: messages in random splits, find each header's end


def http(stream, splits, reps, messages):
    parts, pos = [], 0
    for n in splits:
        parts.append(stream[pos:pos + n])
        pos += n
    assert pos == len(stream)
    times = []
    for _ in range(reps):
        count = acc = 0
        settle()
        t0 = clock()
        b = io.BytesIO()
        scan = 0
        for part in parts:
            b.write(part)
            v = b.getvalue()
            start = 0
            while True:
                at = v.find(NEEDLE, start + scan)
                if at < 0:
                    break
                acc += v[start] + v[start + 3]
                count += 1
                start = at + 4
                scan = 0
            if start:
                # Consume: what is left becomes the new buffer.
                b = io.BytesIO()
                b.write(v[start:])
            n = len(v) - start
            scan = n - 3 if n > 3 else 0
            del v
        times.append(clock() - t0)
        assert count == messages, (count, messages)
    out("t", "http", *times)
    out("i", "http_check", acc)


# --------------------------------------------------------------------------
# Exports: getbuffer, and getvalue as the snapshot


def exports(cycle, count, reps):
    b = build(cycle, count)
    b.getvalue()  # trims the buffer once, as any later call would find it
    tb, ts = [], []
    for _ in range(reps):
        settle()
        t0 = clock()
        m = b.getbuffer()
        n = m.nbytes
        m.release()
        tb.append(clock() - t0)
        settle()
        t0 = clock()
        v = b.getvalue()
        del v
        ts.append(clock() - t0)
        assert n == count * len(cycle[0])
    out("t", "getbuffer", *tb)
    out("t", "snapshot", *ts)

    def gbuf(b):
        m = b.getbuffer()
        m.release()
    kept, peak = measure_mem(lambda: b, gbuf)
    out("m", "getbuffer", kept, peak)
    kept, peak = measure_mem(lambda: b, lambda b: b.getvalue())
    out("m", "snapshot", kept, peak)


def empty(count):
    keep = [None] * count

    def op(_):
        for i in range(count):
            keep[i] = io.BytesIO()
        return keep
    kept, peak = measure_mem(lambda: None, op)
    out("m", "mem_empty", kept / count, peak / count)
    out("i", "sizeof_empty", sys.getsizeof(io.BytesIO()))


def main():
    cfg = json.loads(sys.argv[1])
    with open(cfg["source"], "rb") as f:
        src = f.read()
    with open(cfg["stream"], "rb") as f:
        stream = f.read()
    with open(cfg["splits"], "rb") as f:
        raw = f.read()
    splits = [int.from_bytes(raw[i:i + 4], "little")
              for i in range(0, len(raw), 4)]
    hello = [b"Hello World"]
    mib = src[:1 << 20]
    out("i", "version", sys.version.split()[0])
    # The tour's groups (--only), and the scenarios in each.
    groups = {"memory": ["mem"], "appends": ["append11_50k", "append11_10m",
                                              "append1448", "append64k"],
              "getvalue": ["getvalue"], "held": ["held"],
              "loop": [entry[0] for entry in cfg["loop"]],
              "http": ["http"], "exports": ["exports"], "io": []}
    only = [n for g in cfg.get("only", "").split(",") if g
            for n in groups.get(g, [])]

    def want(name):
        return not cfg.get("only") or name in only

    for name, count, reps in cfg["append11"]:
        if want(name):
            appends(name, hello, count, reps)
    for name, piece, count, reps in cfg["net"]:
        if want(name):
            appends(name, pieces(src, piece), count, reps)
    c64 = pieces(src, cfg["build_piece"])
    if want("getvalue"):
        getvalue(c64, cfg["getvalue_count"], cfg["reps"])
    if want("held"):
        held(c64, cfg["held_count"], cfg["reps"], mib)
    c1448 = pieces(src, cfg["loop_piece"])
    for name, count, hold, reps in cfg["loop"]:
        if want(name):
            loop(name, c1448, count, reps, hold)
    if want("http"):
        http(stream, splits, cfg["reps"], cfg["messages"])
    if want("exports"):
        exports(c64, cfg["export_count"], cfg["export_reps"])
    if want("mem"):
        empty(cfg["empty_count"])


if __name__ == "__main__":
    main()
