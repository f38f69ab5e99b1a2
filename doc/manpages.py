#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the manual's man pages from the public headers' comments.

    manpages.py VERSION CHANGELOG README OUTDIR HEADER...

The pages' date is VERSION's in CHANGELOG ("## [0.2.0] - 2026-12-07"), or
"unreleased": the same sources make the same pages.

One page per public function in OUTDIR/man3 (NAME, SYNOPSIS, DESCRIPTION,
RETURN VALUE, ERRORS, THREAD SAFETY, NOTES, SEE ALSO), as liburing's are,
and three pages in OUTDIR/man7: ropeio(7), the model and the API by
topic; ropeio-memory(7), the memory ropeio owns (the design prose of
ropeio.h's memory sections); ropeio-engine(7), the io_uring layer.

Everything comes from the headers: a function's /** */ block, the structs,
callbacks and flags its prototype or text names (shown in its SYNOPSIS or
DESCRIPTION, so no page is named after a struct and shadows a function of
the same name, as rope_mem_stats is both), the meaning of an error code its
@return list names without saying why (from ropeio.h's table of errors),
the threads rule of its header, and as its EXAMPLE the smallest C block of
README that calls it (the README's C blocks are compiled by a test). A
function whose @return names no error gets "None" under ERRORS (ENOMEM
where it returns NULL for it), so each page shows the three sections.

Doxygen still makes the HTML manual and checks the comments (doxygen.py).
"""
import os
import re
import sys

FUNC = re.compile(r"\b(rope_\w+)\s*\(")
ERRNO = re.compile(r"-(E[A-Z0-9]+)\b")

# What an error code means where a @return list names it bare: ropeio.h's
# own table first (read from its @file block), then these, for the codes
# that only the I/O layer returns.
GENERIC = {
    "EAGAIN": "the descriptor would block; try again when it is ready.",
    "ECANCELED": "the request was cancelled.",
    "ECONNRESET": "the peer reset the connection.",
    "EEXIST": "there is one already.",
    "EFBIG": "the file would grow past its limit.",
    "EINTR": "a signal interrupted the call.",
    "EINPROGRESS": "not an error: the request is still running.",
    "EIO": "an I/O error.",
    "EMFILE": "the process has no descriptor left.",
    "ENFILE": "the system has no descriptor left.",
    "ENOENT": "there is none.",
    "ENOSPC": "no space left on the device.",
    "ENOSYS": "the kernel lacks the call.",
    "EOPNOTSUPP": "the descriptor does not support it.",
    "EPERM": "not permitted.",
    "EPIPE": "the peer closed its end.",
    "ETIMEDOUT": "the deadline passed.",
}


class Decl:
    """One documented declaration: its comment and its C text."""

    def __init__(self, header, comment, code, section):
        self.header = header
        self.comment = comment
        self.code = code
        self.section = section
        self.name = None
        self.kind = None
        flat = " ".join(code.split())
        m = FUNC.search(flat)
        if flat.startswith("typedef"):
            self.kind = "typedef"
            t = re.search(r"\(\*\s*(\w+)\)", flat)
            self.name = t.group(1) if t else None
        elif flat.startswith("struct") and "{" in flat:
            self.kind = "struct"
            self.name = flat.split()[1]
        elif flat.startswith("enum"):
            self.kind = "enum"
            self.name = " ".join(re.findall(r"\b(ROPE\w+)\s*=", flat))
        elif flat.startswith("struct") and flat.endswith(";"):
            self.kind = "opaque"
            self.name = flat.split()[1].rstrip(";")
        elif m and flat.startswith("ROPEIO_EXPORT"):
            self.kind = "function"
            self.name = m.group(1)
            self.proto = flat.replace("ROPEIO_EXPORT ", "")


def strip_comment(text):
    """The text of a /** */ or /* */ block, without its stars."""
    body = re.sub(r"^/\*\*?|\*/$", "", text.strip())
    lines = []
    for line in body.split("\n"):
        line = re.sub(r"^\s*\* ?", "", line, count=1) \
            if re.match(r"^\s*\*", line) else line.strip()
        lines.append(line.rstrip())
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def parse(path):
    """The header's documented declarations, its plain prose comments
    (with the section banner above each) and its @file block."""
    src = open(path, encoding="utf-8").read()
    header = os.path.basename(path)
    decls, prose, filedoc = [], [], ""
    section = ""
    pos = 0
    token = re.compile(r"/\*.*?\*/", re.S)
    while True:
        m = token.search(src, pos)
        if not m:
            break
        text = m.group(0)
        pos = m.end()
        banner = re.fullmatch(r"/\* (.*?)\s*\*/", text)
        if banner and not text.startswith("/**"):
            if not re.fullmatch(r"[- ]*", banner.group(1)) and \
                    "SPDX" not in text:
                section = banner.group(1)
            continue
        if text.startswith("/**<"):
            continue
        if not text.startswith("/**"):
            # A plain comment of several lines at file scope, after the
            # first banner: the design prose of its section.
            line_start = src.rfind("\n", 0, m.start()) + 1
            if section and m.start() == line_start and "\n" in text:
                prose.append((section, strip_comment(text)))
            continue
        body = strip_comment(text)
        if body.startswith("@file"):
            filedoc = body.split("\n", 1)[1]
            continue
        if body.startswith(("@def", "@var")):
            continue
        # The declaration that follows: up to its ';' at brace depth 0,
        # skipping member comments.
        depth, i = 0, pos
        while i < len(src):
            if src.startswith("/*", i):
                i = src.index("*/", i) + 2
                continue
            c = src[i]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            elif c == ";" and depth == 0:
                break
            elif c == "#" and depth == 0 and src[pos:i].strip() == "":
                break
            i += 1
        code = src[pos:i + 1].strip()
        if code.startswith("#"):
            continue
        d = Decl(header, body, code, section)
        if d.kind:
            decls.append(d)
    return header, decls, prose, filedoc


# ---------------------------------------------------------------- troff

def esc(text):
    """Escape for troff, then the header comments' markup."""
    # The comments write a backslash as Doxygen wants it, doubled ('\\n').
    text = text.replace("\\\\", "\\").replace("\\", "\\e")
    text = re.sub(r"`([^`]+)`", lambda m: "\\fB" + m.group(1) + "\\fR", text)
    text = re.sub(r"\*?@p\s+(\w+)", lambda m: "\\fI" + m.group(0)
                  .replace("@p", "").replace(" ", "") + "\\fR", text)
    text = re.sub(r"\b(rope_\w+)\(\)", r"\\fB\1\\fR()", text)
    text = re.sub(r"\b(\w+)\((\d)\)", r"\\fB\1\\fR(\2)", text)
    text = text.replace("-", "\\-")
    return text


def esc_code(text):
    """Escape a line of C for troff: no markup, tabs as 8 spaces."""
    return text.replace("\\", "\\e").replace("\t", "        ")


def readme_examples(path):
    """[(is a fragment, code)] of the README's C blocks, which its test
    readme-snippets compiles (and runs, for whole programs)."""
    out, lines = [], open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^```c(?:[ \t]+(\S+))?[ \t]*$", lines[i])
        if not m:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        out.append((m.group(1) == "fragment", "\n".join(lines[i + 1:end])))
        i = end + 1
    return out


def line(text):
    """One output line that troff must not read as a request."""
    return ("\\&" + text) if text[:1] in (".", "'") else text


def paragraphs(text):
    """Split prose into (kind, lines): 'p' a paragraph, 'li' a list item,
    'pre' lines kept as they are (indented blocks: code, tables)."""
    out = []
    for block in re.split(r"\n\s*\n", text.strip("\n")):
        lines = block.split("\n")
        if all(l.startswith("  ") for l in lines if l.strip()):
            out.append(("pre", [l[2:] if l.startswith("  ") else l
                                for l in lines]))
            continue
        cur = None
        for l in lines:
            if l.startswith("- "):
                cur = ("li", [l[2:]])
                out.append(cur)
            elif cur is None:
                cur = ("p", [l])
                out.append(cur)
            else:
                cur[1].append(l.strip())
    return out


def render(text):
    """Prose to troff."""
    res = []
    for kind, lines in paragraphs(text):
        if kind == "pre":
            res.append(".PP\n.nf\n.RS 4\n" + "\n".join(
                line(esc(l)) for l in lines) + "\n.RE\n.fi")
        elif kind == "li":
            res.append(".IP \\(bu 2\n" + line(esc(" ".join(lines))))
        else:
            res.append(".PP\n" + line(esc(" ".join(lines))))
    return "\n".join(res)


def split_tags(comment):
    """A function's comment: its prose, @param pairs, @return, @since."""
    prose, params, ret, since = [], [], "", ""
    tag = None
    lines = []
    for raw in comment.split("\n") + [""]:
        lines += re.sub(r"\s+(@(?:param|return|since)\b)", r"\n\1",
                        raw).split("\n")
    for raw in lines:
        m = re.match(r"^@(param|return|since)\s*(.*)$", raw)
        if m:
            tag = m.group(1)
            if tag == "param":
                name, _, rest = m.group(2).partition(" ")
                params.append([name, rest.strip()])
            elif tag == "return":
                ret = m.group(2)
            else:
                since = m.group(2)
            continue
        if tag and raw.strip():
            if tag == "param":
                params[-1][1] += " " + raw.strip()
            elif tag == "return":
                ret += " " + raw.strip()
            else:
                since += " " + raw.strip()
            continue
        tag = None
        prose.append(raw)
    return "\n".join(prose).strip(), params, ret.strip(), since.strip()


def brief(text):
    """The first sentence, for NAME: up to the first '.' or ':' outside
    parentheses, lower case unless it starts with a name ("NULL")."""
    first = " ".join(text.split("\n\n")[0].split())
    depth, end = 0, len(first)
    for i, c in enumerate(first):
        # max(): a half-open range "[off, off + len)" closes no parenthesis.
        depth = max(0, depth + {"(": 1, ")": -1}.get(c, 0))
        if depth == 0 and c in ".:" and (i + 1 == len(first)
                                          or first[i + 1] == " "):
            end = i
            break
    s = first[:end]
    w = s.split(" ", 1)[0]
    if w[:1].isupper() and (len(w) == 1 or w[1:].islower()):
        s = s[0].lower() + s[1:]
    return s


def errors_of(ret, table):
    """[(code, why)] from a @return list: its parenthesis, or the table."""
    out = []
    for m in ERRNO.finditer(ret):
        code = m.group(1)
        rest = ret[m.end():]
        why = ""
        p = re.match(r"\s*\(", rest)
        if p:
            depth, j = 0, p.end() - 1
            for j in range(p.end() - 1, len(rest)):
                depth += {"(": 1, ")": -1}.get(rest[j], 0)
                if depth == 0:
                    break
            why = rest[p.end():j].strip()
            why = why[0].upper() + why[1:] + "." if why else ""
        if not why:
            why = table.get(code) or GENERIC.get(code, "")
            why = why[:1].upper() + why[1:]
        if code not in [c for c, _ in out]:
            out.append((code, why))
    return out


def errno_table(filedoc):
    """ropeio.h's table: lines '  -EBADF   the rope is closed (...)'."""
    table = {}
    for m in re.finditer(r"^\s+-(E[A-Z]+)\s+(.+)$", filedoc, re.M):
        why = re.sub(r"\s*\(Python: [^)]*\)", "", m.group(2)).strip()
        table[m.group(1)] = why[0].upper() + why[1:] + "."
    return table


def synopsis(d):
    """.BI lines for a prototype: the names of parameters in italics."""
    proto = d.proto.rstrip(";")
    head, _, args = proto.partition("(")
    args = args[:-1]
    parts = [a.strip() for a in args.split(",")]
    # One parameter a line past 70 columns, aligned after the '(', as
    # liburing's pages do: .nf does not wrap.
    wrap = len(proto) > 70
    pad = " " * (len(head) + 1)
    res = '.BI "' + head + "("
    for i, a in enumerate(parts):
        last = i == len(parts) - 1
        sep = ");" if last else ("," if wrap else ", ")
        m = re.match(r"^(.*?[\s*])(\w+)$", a)
        if a == "void" or not m:
            res += a + sep + '"'
        else:
            res += m.group(1) + '" ' + m.group(2) + ' "' + sep + '"'
        if not last:
            res += ('\n.BI "' + pad) if wrap else ""
            if not wrap:
                res = res[:-1]
    return res


def code_block(d):
    """A struct, enum or typedef as the header has it, its comment first."""
    body = re.sub(r"/\*\*<?", "/*", d.code)
    prose, params, ret, _ = split_tags(d.comment)
    text = render(prose)
    for name, what in params:
        text += "\n.TP\n.I %s\n%s" % (name, line(esc(what)))
    if ret:
        text += "\n.PP\nReturns " + line(esc(ret))
    text += "\n.PP\n.nf\n.RS 4\n"
    text += "\n".join(line(esc(l.replace("\t", "        ")))
                      for l in body.split("\n"))
    return text + "\n.RE\n.fi"


def th(name, sec, version, date):
    return ('.TH "%s" %s "%s" "ropeio %s" "ropeio Manual"\n'
            % (name, sec, date, version))


def see_also(names):
    return ".SH SEE ALSO\n" + ",\n".join(
        "\\fB%s\\fR(%s)" % (n, s) for n, s in names) + "\n"


def function_page(d, ctx, version, date):
    prose, params, ret, since = split_tags(d.comment)
    threads, notes, desc = [], [], []
    for para in re.split(r"\n\s*\n", prose):
        if re.match(r"(Threads|Thread safety):", para):
            threads.append(para)
        elif re.match(r"(Lifetime|Cost):", para):
            notes.append(para)
        else:
            desc.append(para)
    out = th(d.name, 3, version, date)
    out += ".SH NAME\n%s \\- %s\n" % (d.name, esc(brief(prose)))
    out += ".SH SYNOPSIS\n.nf\n.B #include <%s>\n.PP\n%s\n.fi\n" % (
        d.header, synopsis(d))
    pc = "ropeio-uring" if d.header == "ropeio-uring.h" else "ropeio"
    out += (".PP\nCompile and link with \\fB$(pkg-config \\-\\-cflags "
            "\\-\\-libs %s)\\fR.\n" % pc)
    out += ".SH DESCRIPTION\n" + render("\n\n".join(desc)) + "\n"
    if params:
        out += ".PP\nThe parameters:\n"
        for name, text in params:
            out += ".TP\n.I %s\n%s\n" % (name, line(esc(text)))
    # The structs and callbacks its prototype names, and the flags it or
    # its text names.
    proto_words = set(re.findall(r"\w+", d.proto))
    words = proto_words | set(re.findall(r"\w+", " ".join(
        [prose, ret] + [p[1] for p in params])))
    for t in ctx["types"]:
        names = t.name.split()
        if t.kind == "enum" and (any(n in words for n in names) or
                                 re.search(r"\b%s\(\)" % d.name,
                                           t.comment)) or \
                t.kind != "enum" and any(n in proto_words for n in names):
            out += ".SS %s\n" % esc(
                "struct " + t.name if t.kind == "struct" else
                "Flags" if t.kind == "enum" else t.name)
            out += code_block(t) + "\n"
    out += ".SH RETURN VALUE\n"
    rtype = d.proto.split(d.name)[0].strip()
    if ret:
        out += ".PP\n" + line(esc(ret)) + "\n"
    elif rtype == "void":
        out += ".PP\nNone.\n"
    out += ".SH ERRORS\n"
    errs = errors_of(ret, ctx["errno"])
    if not errs and re.search(r"\bNULL\b.*\bmemory\b", ret):
        errs = [("ENOMEM", "Memory is exhausted: the call returns NULL "
                 "(and sets no errno).")]
    if errs:
        for code, why in errs:
            out += ".TP\n.B \\-%s\n%s\n" % (code, line(esc(why)))
        out += (".PP\nA failing call leaves its rope, value, snapshot or "
                "engine as it was, and never reads or sets \\fIerrno\\fR.\n")
    else:
        out += ".PP\nNone: this function cannot fail.\n"
    out += ".SH THREAD SAFETY\n"
    out += render("\n\n".join(threads)) + "\n" if threads else ""
    out += render(ctx["threads"][d.header]) + "\n"
    if notes:
        out += ".SH NOTES\n" + render("\n\n".join(notes)) + "\n"
    calls = [c for c in ctx["examples"]
             if re.search(r"\b%s\s*\(" % d.name, c[1])]
    if calls:
        fragment, code = min(calls, key=lambda c: len(c[1]))
        out += ".SH EXAMPLE\n.PP\n"
        out += ("A fragment of the README (what it uses without declaring "
                "is declared around it there):\n" if fragment else
                "A whole program, from the README:\n")
        out += ".PP\n.nf\n.RS 4\n" + "\n".join(
            line(esc_code(l)) for l in code.split("\n")) + "\n.RE\n.fi\n"
    if since:
        out += ".SH VERSIONS\n.PP\nSince ropeio " + esc(since) + ".\n"
    refs = []
    for n in re.findall(r"\b(rope_\w+)\(\)", prose + " " + ret):
        if n != d.name and n in ctx["functions"] and (n, 3) not in refs:
            refs.append((n, 3))
    refs.append(("ropeio", 7))
    if d.header == "ropeio-uring.h":
        refs.append(("ropeio-engine", 7))
    if "Memory" in d.section or "memory" in d.section:
        refs.append(("ropeio-memory", 7))
    out += see_also(refs)
    return out


def index(decls, sections=None):
    """A list of functions by section, each with its NAME line."""
    out, last = "", None
    for d in decls:
        if d.kind != "function":
            continue
        if sections and not any(s in d.section for s in sections):
            continue
        if d.section != last:
            out += ".SS %s\n" % esc(d.section or (
                "Jobs on your ring" if d.header == "ropeio-uring.h"
                else "Version"))
            last = d.section
        prose = split_tags(d.comment)[0]
        out += ".TP\n.BR %s (3)\n%s\n" % (d.name, line(esc(brief(prose))))
    return out


def main(argv):
    version, changelog, readme, outdir = argv[1:5]
    m = re.search(r"^## \[%s\] - (\d{4}-\d\d-\d\d)" % re.escape(version),
                  open(changelog, encoding="utf-8").read(), re.M)
    date = m.group(1) if m else "unreleased"
    headers = [parse(p) for p in argv[5:]]
    ctx = {"types": [], "functions": set(), "errno": {}, "threads": {},
           "examples": readme_examples(readme)}
    for header, decls, prose, filedoc in headers:
        ctx["types"] += [d for d in decls
                         if d.kind in ("struct", "enum", "typedef")]
        ctx["functions"] |= {d.name for d in decls if d.kind == "function"}
        ctx["errno"].update(errno_table(filedoc))
        m = re.search(r"^Threads:.*?(?=\n\s*\n|\Z)", filedoc, re.S | re.M)
        ctx["threads"][header] = m.group(0) if m else ""
    core = next(h for h in headers if h[0] == "ropeio.h")
    if "ropeio-uring.h" not in ctx["threads"] or \
            not ctx["threads"]["ropeio-uring.h"]:
        ctx["threads"]["ropeio-uring.h"] = (
            "Threads: one thread uses a given engine, and a job, at a "
            "time; rope_uring_wake() is the one call that any thread or a "
            "signal handler may make concurrently with the others.")
    man3 = os.path.join(outdir, "man3")
    man7 = os.path.join(outdir, "man7")
    for d in (man3, man7):
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            os.unlink(os.path.join(d, old))
    count = 0
    for header, decls, prose, filedoc in headers:
        for d in decls:
            if d.kind != "function":
                continue
            with open(os.path.join(man3, d.name + ".3"), "w") as f:
                f.write(function_page(d, ctx, version, date))
            count += 1

    # ropeio(7): the model, the errors, the threads, and every call.
    header, decls, prose, filedoc = core
    alld = [d for h in headers for d in h[1]]
    page = th("ropeio", 7, version, date)
    page += ".SH NAME\nropeio \\- %s\n" % esc(
        filedoc.split("\n")[0].split(": ", 1)[-1].rstrip("."))
    page += ".SH SYNOPSIS\n.nf\n.B #include <ropeio.h>\n.fi\n"
    page += ".SH DESCRIPTION\n" + render(filedoc.split("\n", 1)[1]) + "\n"
    for section, text in prose:
        if "emory" not in section:
            page += ".SS %s\n%s\n" % (esc(section), render(text))
    has_uring = any(h[0] == "ropeio-uring.h" for h in headers)
    page += ".SH FUNCTIONS\n" + index(alld) + see_also(
        [("ropeio-memory", 7)] + ([("ropeio-engine", 7)] if has_uring
                                  else []) +
        [("rope_new", 3), ("rope_write", 3), ("rope_getvalue", 3),
         ("rope_snapshot", 3)])
    with open(os.path.join(man7, "ropeio.7"), "w") as f:
        f.write(page)

    # ropeio-memory(7): the chunk cache, page chunks, the allocation seam.
    page = th("ropeio-memory", 7, version, date)
    page += ".SH NAME\nropeio-memory \\- the memory ropeio owns: the " \
            "chunk cache, page chunks and the allocation seam\n"
    page += ".SH SYNOPSIS\n.nf\n.B #include <ropeio.h>\n.fi\n"
    page += ".SH DESCRIPTION\n"
    mem = [(s, t) for s, t in prose if "emory" in s]
    if not mem:
        sys.exit("manpages.py: no design prose in ropeio.h's memory "
                 "sections (plain /* */ comments under their banners)")
    for section, text in mem:
        # A comment that opens with a short title ("The chunk cache.") is
        # headed by it, else by its section's banner.
        m = re.match(r"([^.\n]{1,40})\.\s", text)
        if m:
            section, text = m.group(1), text[m.end():]
        page += ".SS %s\n%s\n" % (esc(section), render(text))
    for t in decls:
        if t.kind == "struct" and "emory" in t.section:
            page += ".SS struct %s\n%s\n" % (esc(t.name), code_block(t))
    page += ".SH FUNCTIONS\n" + index(decls, ["emory"])
    page += see_also([("ropeio", 7), ("rope_mem_stats", 3),
                      ("rope_cache_stats", 3), ("rope_set_allocator", 3),
                      ("rope_seal_value", 3)])
    with open(os.path.join(man7, "ropeio-memory.7"), "w") as f:
        f.write(page)

    # ropeio-engine(7): the io_uring layer, its jobs and its engine.
    uring = [h for h in headers if h[0] == "ropeio-uring.h"]
    if uring:
        header, decls, prose, filedoc = uring[0]
        page = th("ropeio-engine", 7, version, date)
        page += ".SH NAME\nropeio-engine \\- %s\n" % esc(brief(
            filedoc))
        page += ".SH SYNOPSIS\n.nf\n.B #include <ropeio-uring.h>\n.fi\n"
        page += ".PP\nCompile and link with \\fB$(pkg-config \\-\\-cflags " \
                "\\-\\-libs ropeio-uring)\\fR.\n"
        page += ".SH DESCRIPTION\n.SS Jobs on your ring\n" + render(
            filedoc.split("\n", 1)[1]) + "\n"
        for d in decls:
            if d.kind == "opaque" and d.name == "rope_uring":
                page += ".SS The engine\n" + render(d.comment) + "\n"
        # Design prose in plain comments under the header's banners.
        for section, text in prose:
            page += ".SS %s\n%s\n" % (esc(section), render(text))
        page += ".SH FUNCTIONS\n" + index(decls)
        page += see_also([("ropeio", 7), ("rope_uring_new", 3),
                          ("rope_uring_run", 3), ("rope_uring_recv", 3),
                          ("io_uring", 7)])
        with open(os.path.join(man7, "ropeio-engine.7"), "w") as f:
            f.write(page)
    print("manpages.py: %d function pages, %d section-7 pages"
          % (count, len(os.listdir(man7))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
