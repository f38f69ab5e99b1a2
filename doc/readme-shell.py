#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run every shell block of README.md as written, top to bottom.

    readme-shell.py README SOURCE

A copy of the source tree (git's files, committed or not, or the tree
without its build directories) stands for a fresh checkout; every ```sh
block of the README runs in it, in order, each in its own
`bash -e -o pipefail`, as a user would follow the README. Whatever a block
installs goes to a scratch prefix, not into the system:

- `meson install` honours DESTDIR, so it installs into DESTDIR/usr/local;
  pkg-config (PKG_CONFIG_PATH, PKG_CONFIG_SYSROOT_DIR) and man (MANPATH)
  look there; DESTDIR's other directories of /usr are links to the
  system's, for the packages pkg-config finds there;
- `sudo CMD` runs CMD as it is;
- `ldconfig` cannot make the scratch prefix's libraries visible to later
  blocks as it does for /usr/local: it leaves a mark, and the blocks after
  it run with LD_LIBRARY_PATH on the prefix's library directory. A README
  that does not run ldconfig after installing leaves the first program
  unable to find libropeio.so.0, as it did a user.

An HTML comment on the line before a block (GitHub does not show it) says
more, one of:

    <!-- shell: ports 8080 8081 -->  those port numbers, wherever they are
                                     in the block, become free ports
    <!-- shell: first.c is the C block above -->  the last ```c block
                                     before it, written to first.c first
    <!-- shell: slow: REASON -->     runs only with ROPEIO_README_SLOW=1
                                     (the whole suite, the tour): the test
                                     says it left it out, and why

Every process a block starts is in its own session, ended when the block
ends, and a block fails after 600 s. A ```python block runs with the venv's
python (venv/bin/python), which a block before it must have made: the
Python example runs against the module as pip installed it.

Exit status: 0 if every block ran and exited 0, 1 if one failed, 77
(skipped) inside another run of this test (tools/test in a slow block).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(\S*)(?:[ \t]+(\S+))?[ \t]*$")
NOTE = re.compile(r"^<!--\s*shell:\s*(.*?)\s*-->\s*$")
LIBDIRS = ["usr/local/lib/x86_64-linux-gnu", "usr/local/lib"]


def blocks(path):
    """(line of the first code line, language, code, note, last C block)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    last_c = None
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        note = ""
        if i and NOTE.match(lines[i - 1]):
            note = NOTE.match(lines[i - 1]).group(1)
        end = i + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        code = "\n".join(lines[i + 1:end]) + "\n"
        lang = m.group(1)
        yield i + 2, lang, code, note, last_c
        if lang == "c" and not m.group(2):
            last_c = code
        i = end + 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_source(src, dst):
    """The files a fresh clone would have, with today's changes."""
    try:
        files = subprocess.run(
            ["git", "-C", src, "ls-files", "-z", "-c", "-o",
             "--exclude-standard"], capture_output=True, check=True
        ).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns(
            "build", "build-*", ".git", "venv", "__pycache__"))
        return
    for f in files:
        if not f or not os.path.lexists(os.path.join(src, f)):
            continue
        os.makedirs(os.path.join(dst, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(os.path.join(src, f), os.path.join(dst, f),
                     follow_symlinks=False)


def preamble(scratch, root):
    mark = os.path.join(scratch, "ldconfig-ran")
    libs = ":".join(os.path.join(root, d) for d in LIBDIRS)
    return f"""
sudo() {{ "$@"; }}
ldconfig() {{ : > '{mark}'; }}
if [ -e '{mark}' ]; then export LD_LIBRARY_PATH='{libs}'; fi
"""


def main(argv):
    readme, source = argv[1:3]
    if os.environ.get("ROPEIO_README_SHELL"):
        print("skipped: inside another run of the README's shell blocks")
        return 77
    slow = os.environ.get("ROPEIO_README_SLOW") == "1"
    failed = ran = 0
    with tempfile.TemporaryDirectory(prefix="ropeio-readme-") as scratch:
        src = os.path.join(scratch, "checkout")
        root = os.path.join(scratch, "root")
        home = os.path.join(scratch, "home")
        os.makedirs(home)
        # The scratch root is the system but for its /usr/local: pkg-config
        # puts it before every path it gives (PKG_CONFIG_SYSROOT_DIR), the
        # system's packages' (python3, liburing) included.
        os.makedirs(os.path.join(root, "usr", "local"))
        for d in ("include", "lib", "share"):
            os.symlink(os.path.join("/usr", d), os.path.join(root, "usr", d))
        copy_source(source, src)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MESON", "PKG_CONFIG", "PYTHON",
                                    "LD_", "MALLOC_"))
               and k not in ("MANPATH", "DESTDIR")}
        env.update({
            "HOME": home,
            "ROPEIO_README_SHELL": "1",
            "ROPEIO_NO_INSTALL": "1",
            "DESTDIR": root,
            "PKG_CONFIG_SYSROOT_DIR": root,
            "PKG_CONFIG_PATH": ":".join(os.path.join(root, d, "pkgconfig")
                                        for d in LIBDIRS),
            "MANPATH": os.path.join(root, "usr/local/share/man"),
            "MANPAGER": "cat",
            "PAGER": "cat",
        })
        for line, lang, code, note, last_c in blocks(readme):
            where = f"{os.path.basename(readme)}:{line}"
            if lang == "python":
                py = os.path.join(src, "venv", "bin", "python")
                if not os.path.exists(py):
                    print(f"{where}: FAILED: a python block, and no block "
                          f"before it made the venv it would run in")
                    failed += 1
                    continue
                cmd = [py]
            elif lang == "sh":
                cmd = ["bash", "-e", "-o", "pipefail"]
            else:
                continue
            if note.startswith("slow"):
                if not slow:
                    print(f"{where}: not run ({note}; "
                          f"ROPEIO_README_SLOW=1 runs it)")
                    continue
            elif note.startswith("ports "):
                for port in note.split()[1:]:
                    code = re.sub(r"\b%s\b" % port, str(free_port()), code)
            elif re.match(r"\S+\.c is the C block above$", note):
                if last_c is None:
                    print(f"{where}: no C block above it")
                    failed += 1
                    continue
                with open(os.path.join(src, note.split()[0]), "w") as f:
                    f.write(last_c)
            elif note:
                print(f"{where}: unknown note '{note}'")
                failed += 1
                continue
            if lang == "sh":
                code = preamble(scratch, root) + code
            # From a file, with no input: a command that reads its standard
            # input would otherwise eat the rest of the block.
            script = os.path.join(scratch, "block-%d" % line)
            with open(script, "w") as f:
                f.write(code)
            proc = subprocess.Popen(cmd + [script], cwd=src, env=env,
                                    text=True, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                out, _ = proc.communicate(timeout=600)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
                out += "\n(timed out after 600 s)"
            finally:
                # What the block left running (a server it started).
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            ran += 1
            if proc.returncode:
                print(f"{where}: FAILED with status {proc.returncode}; "
                      f"the block:\n{code}\nits output:\n{out}")
                failed += 1
            else:
                tail = "\n".join(out.rstrip().split("\n")[-3:])
                print(f"{where}: ok\n    " + tail.replace("\n", "\n    "))
    print(f"{ran} blocks run, {failed} failed")
    return 1 if failed or not ran else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
