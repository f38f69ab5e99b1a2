#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# engine-layers.py NM ARCHIVE SRCDIR: check that the engine's files call
# down only.
#
# ARCHIVE is the internal static library; NM lists, for each of its
# uring-*.o objects, the symbols it defines and those it uses. A file may
# use what files of a lower layer define, and what its own layer's do,
# except that the two backends never use each other. The layers, bottom
# up, are those src/uring-priv.h and README.md draw. Files of the core and
# the poll backend must use no liburing function, nor include <liburing.h>
# or the ring's private header (read in SRCDIR). Where liburing was not
# found, the ring's files are not built, and are not looked for.
#
# Exit 0 when all holds, 1 with each offending use listed otherwise.
import re
import subprocess
import sys

LAYERS = [
    ('seam', ['uring-ops', 'uring-check']),
    ('jobs', ['uring-job']),
    ('core', ['uring-core', 'uring-recv', 'uring-close', 'uring-readiness',
              'uring-watch']),
    ('backends', ['uring-ring', 'uring-ring-recv', 'uring-poll']),
    ('front', ['uring-engine']),
]
# The backends: files of one may use each other, never the other's.
BACKEND = {'uring-ring': 'ring', 'uring-ring-recv': 'ring',
           'uring-poll': 'poll'}
RING_ONLY = ['uring-ops', 'uring-job', 'uring-ring', 'uring-ring-recv']
# Files that must not need liburing.
NO_LIBURING = ['uring-check', 'uring-core', 'uring-recv', 'uring-close',
               'uring-readiness', 'uring-watch', 'uring-poll',
               'uring-engine']


def layer_of(name):
    for i, (_, files) in enumerate(LAYERS):
        if name in files:
            return i
    return None


def main():
    nm, archive, srcdir = sys.argv[1], sys.argv[2], sys.argv[3]
    out = subprocess.run([nm, '-A', archive], check=True,
                         capture_output=True, text=True).stdout
    defined, used = {}, {}
    for line in out.splitlines():
        # archive:member.o:  value T symbol   or   archive:member.o:  U symbol
        m = re.match(r'^[^:]*:([^:]+)\.c\.o:\s*(?:[0-9a-f]+\s+)?(\w)\s+(\S+)$',
                     line)
        if not m:
            continue
        obj, kind, sym = m.groups()
        obj = obj.rsplit('/', 1)[-1]  # a thin archive names paths
        if layer_of(obj) is None:
            continue
        used.setdefault(obj, set())
        if kind == 'U':
            used[obj].add(sym)
        elif kind.isupper():
            defined[sym] = obj
    ring = any(f in used for f in RING_ONLY)
    missing = [f for _, files in LAYERS for f in files
               if f not in used and (ring or f not in RING_ONLY)]
    if missing:
        print('no object for', ', '.join(missing), 'in', archive)
        return 1
    bad = []
    for obj, syms in sorted(used.items()):
        here = layer_of(obj)
        for sym in sorted(syms):
            if obj in NO_LIBURING and sym.startswith('io_uring_'):
                bad.append(f'{obj}.c uses liburing\'s {sym}')
            owner = defined.get(sym)
            if owner is None or owner == obj:
                continue
            # The front names the ring's table where it is built.
            if obj in NO_LIBURING and owner in RING_ONLY and \
               sym != 'rope__ring_backend':
                bad.append(f'{obj}.c uses {sym} of {owner}.c, which '
                           f'needs liburing')
            there = layer_of(owner)
            if there > here or (there == here and
                                BACKEND.get(obj) != BACKEND.get(owner)):
                bad.append(f'{obj}.c ({LAYERS[here][0]}) calls {sym} of '
                           f'{owner}.c ({LAYERS[there][0]})')
    for f in NO_LIBURING:
        with open(f'{srcdir}/{f}.c') as src:
            for inc in re.findall(r'^#include [<"]([^>"]+)[>"]', src.read(),
                                  re.M):
                if inc in ('liburing.h', 'uring-ring-priv.h',
                           'ropeio-uring.h'):
                    bad.append(f'{f}.c includes {inc}')
    for b in bad:
        print(b)
    if not bad:
        print('the engine\'s files call down only:',
              ' < '.join(n for n, _ in LAYERS))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
