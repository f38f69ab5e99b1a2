#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compile every C snippet of README.md against the built library.

Each ```c block of the README is one of two kinds:

- A whole program (it defines main): compiled as it stands, linked against
  the library of this build and run; it must exit with status 0.
- A fragment, marked ```c fragment: compiled (not linked, not run) inside
  a function, `void snippet(void) { ... }`, after <errno.h>, <stdio.h>,
  <stdlib.h>, <string.h>, <unistd.h>, <sys/uio.h> and <ropeio.h> (and
  <ropeio-uring.h> when it names rope_uring_). What a fragment uses without
  declaring it (a socket, a callback, a rope) comes from an HTML comment
  on the line before the block, which GitHub does not show:

      <!-- snippet: extern int sock; void on_sent(...); -->

  Its text goes at file scope, before the function.

A snippet that uses the io_uring layer is skipped when the layer is not
built. Every snippet is compiled with -Wall -Wextra -Werror (a fragment
may leave a variable unused: what it computes is for the code around it),
and with
#line directives, so the compiler's messages name README.md and the
snippet's own lines; a failure prints README.md:LINE and fails the test.

Usage: snippets.py README INCLUDE_DIR LIB_DIR URING(true|false) CC [ARG...]
"""
import os
import re
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(\S*)(?:[ \t]+(\S+))?[ \t]*$")
CONTEXT = re.compile(r"^<!--\s*snippet:(.*?)-->\s*$", re.S)
HEADERS = ["errno.h", "stdio.h", "stdlib.h", "string.h", "unistd.h",
           "sys/uio.h", "ropeio.h"]
FLAGS = ["-std=gnu11", "-Wall", "-Wextra", "-Werror"]


def snippets(path):
    """Yield (line of the first code line, kind, code, (context, its
    line))."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        lang, kind = m.group(1), m.group(2) or ""
        context, cline = "", 0
        if i and lines[i - 1].rstrip().endswith("-->"):
            j = i - 1
            while j > 0 and "<!--" not in lines[j]:
                j -= 1
            c = CONTEXT.match("\n".join(lines[j:i]))
            if c:
                context, cline = c.group(1), j + 1
        start = i + 1
        end = start
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        if lang == "c":
            yield (start + 1, kind, "\n".join(lines[start:end]),
                   (context, cline))
        i = end + 1


def source(line, kind, code, context, readme):
    """The C file for one snippet, with #line directives into the README."""
    name = os.path.basename(readme)
    if kind != "fragment":
        return f'#line {line} "{name}"\n{code}\n'
    heads = HEADERS + (["ropeio-uring.h"] if "rope_uring_" in code else [])
    out = "".join(f"#include <{h}>\n" for h in heads)
    if context[0]:
        out += f'#line {context[1]} "{name}"\n{context[0]}\n'
    return out + (f"void snippet(void);\nvoid snippet(void)\n{{\n"
                  f'#line {line} "{name}"\n{code}\n}}\n')


def main(argv):
    readme, incdir, libdir, uring = argv[1:5]
    cc = argv[5:]
    failed = done = 0
    with tempfile.TemporaryDirectory() as tmp:
        for line, kind, code, context in snippets(readme):
            where = f"{os.path.basename(readme)}:{line}"
            if kind not in ("", "fragment"):
                print(f"{where}: unknown kind '{kind}' (```c or ```c "
                      f"fragment)")
                failed += 1
                continue
            if "rope_uring_" in code and uring != "true":
                print(f"{where}: skipped (no io_uring layer in this build)")
                continue
            whole = kind != "fragment"
            if whole and not re.search(r"\bint\s+main\s*\(", code):
                print(f"{where}: a ```c block without main(): mark it "
                      f"```c fragment")
                failed += 1
                continue
            src = os.path.join(tmp, f"snippet-{line}.c")
            exe = os.path.join(tmp, f"snippet-{line}")
            with open(src, "w") as f:
                f.write(source(line, kind, code, context, readme))
            cmd = cc + FLAGS + ["-I" + incdir, src]
            if whole:
                cmd += ["-o", exe, "-L" + libdir, "-lropeio",
                        "-Wl,-rpath," + libdir]
            else:
                cmd += ["-c", "-o", exe + ".o", "-Wno-unused-variable",
                        "-Wno-unused-but-set-variable"]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode:
                print(f"{where}: the snippet does not compile:\n"
                      f"{res.stderr}")
                failed += 1
                continue
            if whole:
                run = subprocess.run([exe], capture_output=True, text=True)
                if run.returncode:
                    print(f"{where}: the program exited with "
                          f"{run.returncode}:\n{run.stdout}{run.stderr}")
                    failed += 1
                    continue
            done += 1
            print(f"{where}: ok ({'ran' if whole else 'compiled'})")
    print(f"{done} snippets ok, {failed} failed")
    return 1 if failed or not done else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
