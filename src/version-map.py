#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# version-map.py IN OUT URING: write the library's version script.
#
# IN (src/ropeio.map) lists every exported symbol, the io_uring jobs'
# among them. When liburing is not there (URING is "false"), the engine is
# built on its poll backend alone, and OUT leaves out the jobs' lines
# (rope_uring_job_*, rope_uring_cqe_job): a linker that refuses a version script naming
# a symbol the library lacks (--no-undefined-version, lld's default from
# version 16) would otherwise fail the link. A "global:" that is left with
# no symbol after it goes too, since the linkers reject it.
import sys


def is_symbol(line, prefix=''):
    return line.strip().startswith(prefix) and line.strip().endswith(';')


def is_comment(line):
    s = line.strip()
    return s.startswith('/*') or (s.startswith('*') and s != '*;')


def main():
    src, dst, uring = sys.argv[1], sys.argv[2], sys.argv[3] == 'true'
    with open(src) as f:
        lines = f.readlines()
    if not uring:
        lines = [l for l in lines if not is_symbol(l, 'rope_uring_job_')
                 and not is_symbol(l, 'rope_uring_cqe_job')]
    out = []
    for i, line in enumerate(lines):
        if line.strip() == 'global:':
            rest = [l.strip() for l in lines[i + 1:]
                    if l.strip() and not is_comment(l)]
            if not rest or rest[0] in ('local:', '}') or \
               rest[0].startswith('}'):
                continue
        out.append(line)
    with open(dst, 'w') as f:
        f.writelines(out)


if __name__ == '__main__':
    main()
