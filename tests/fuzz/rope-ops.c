/* SPDX-License-Identifier: MIT */
/*
 * The differential fuzz target. The input is a script of operations; each
 * runs on a rope and on a flat model of BytesIO (one array, a size, a
 * position), and after every step the two must agree on the result, the
 * position, the size and every byte, rope__check() must pass, and every
 * value, snapshot and borrowed buffer held on the side must be unchanged.
 * Any disagreement aborts, so libFuzzer keeps the input.
 *
 * Two operations move bytes through a pipe, rope_write_fd() and
 * rope_read_fd(), under a fault the script picks (fault.h): none, a short
 * count, EINTR, or an error; what went through the pipe must be what the
 * model says.
 *
 * Each operation is one byte (its number, modulo the count) followed by the
 * bytes of its arguments; data to write is generated from a seed byte, so
 * a short input drives long writes. Streams are kept under a few MiB.
 *
 * Built two ways: with -Dfuzz=true as a libFuzzer binary, and always as
 * part of test-fuzz-replay, which runs the seed corpus and every saved
 * crash input under the normal test suite.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "rope-priv.h"
#include "ropeio.h"

#define MAX_SIZE (3u << 20)
#define MAX_HELD 4

/* ------------------------------------------------------------------------ */
/* Reading the script                                                       */
/* ------------------------------------------------------------------------ */

struct script {
	const uint8_t *p;
	size_t left;
};

static unsigned
take(struct script *s, unsigned bytes)
{
	unsigned v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		v = v << 8 | (s->left ? *s->p : 0);
		if (s->left) {
			s->p++;
			s->left--;
		}
	}
	return v;
}

/* A length: mostly small, sometimes big enough to cross chunk sizes. */
static size_t
take_len(struct script *s)
{
	unsigned k = take(s, 1);

	if (k < 200)
		return k % 64;
	if (k < 250)
		return take(s, 2) % 5000;
	return take(s, 3) % 300000;
}

static void
gen(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (i + seed) % 41 == 0 ? '\n'
					    : (uint8_t)('a' + (seed * 7 + i) % 23);
}

#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "rope-ops: %s failed at %s:%d\n", \
				#cond, __FILE__, __LINE__);             \
			abort();                                        \
		}                                                       \
	} while (0)

/* ------------------------------------------------------------------------ */
/* The model and what is held on the side                                   */
/* ------------------------------------------------------------------------ */

struct held {
	void *obj;           /* struct rope_bytes or struct rope_snap */
	uint8_t *copy;
	size_t len;
};

struct ext {
	uint8_t *mem;
	size_t len;
	uint8_t *copy;
	unsigned releases;
};

struct state {
	struct rope *r;
	uint8_t *m;          /* the model's bytes */
	size_t size, cap;
	uint64_t pos;
	bool closed;
	unsigned exports;
	struct iovec exp[64]; /* the live export's iovecs */
	int nexp;
	struct held values[MAX_HELD], snaps[MAX_HELD];
	struct ext *exts[256];
	unsigned nexts;
	int pipe[2];         /* non-blocking, empty between operations */
};

static void
model_reserve(struct state *st, size_t n)
{
	if (n > st->cap) {
		st->cap = n + n / 2 + 64;
		st->m = realloc(st->m, st->cap);
		CHECK(st->m);
	}
}

/* BytesIO's write at @p: zero-fill a gap, overwrite, extend. */
static void
model_put(struct state *st, uint64_t p, const uint8_t *d, size_t n)
{
	if (!n)
		return;
	model_reserve(st, p + n);
	if (p > st->size)
		memset(st->m + st->size, 0, p - st->size);
	memcpy(st->m + p, d, n);
	if (p + n > st->size)
		st->size = p + n;
}

static void
release_ext(void *data, size_t len, void *arg)
{
	struct ext *e = arg;

	CHECK(data == e->mem && len == e->len);
	CHECK(memcmp(e->mem, e->copy, len) == 0);  /* never written */
	e->releases++;
	CHECK(e->releases == 1);
}

static void
check_all(struct state *st)
{
	uint8_t *back;

	CHECK(rope__check(st->r) == 0);
	CHECK(rope_closed(st->r) == st->closed);
	if (!st->closed) {
		CHECK(rope_size(st->r) == st->size);
		CHECK(rope_tell(st->r) == (int64_t)st->pos);
		back = malloc(st->size + 1);
		CHECK(rope_pread(st->r, back, st->size, 0) == (ssize_t)st->size);
		CHECK(memcmp(back, st->m, st->size) == 0);
		free(back);
	}
	for (int i = 0; i < MAX_HELD; i++) {
		struct held *v = &st->values[i], *s = &st->snaps[i];

		if (v->obj)
			CHECK(rope_bytes_size(v->obj) == v->len &&
			      !memcmp(rope_bytes_data(v->obj), v->copy, v->len));
		if (s->obj) {
			struct iovec iov[32];
			size_t off = 0;

			CHECK(rope_snap_size(s->obj) == s->len);
			while (off < s->len) {
				int n = rope_snap_iov(s->obj, off, SIZE_MAX, iov, 32);

				CHECK(n > 0);
				for (int k = 0; k < n; k++) {
					CHECK(!memcmp(iov[k].iov_base,
						      s->copy + off,
						      iov[k].iov_len));
					off += iov[k].iov_len;
				}
			}
		}
	}
	for (unsigned i = 0; i < st->nexts; i++)
		if (!st->exts[i]->releases)
			CHECK(!memcmp(st->exts[i]->mem, st->exts[i]->copy,
				      st->exts[i]->len));
}

static void
drop(struct held *h, bool snap)
{
	if (snap)
		rope_snap_unref(h->obj);
	else
		rope_bytes_unref(h->obj);
	free(h->copy);
	memset(h, 0, sizeof(*h));
}

/* The error every mutation gets before anything else. */
static int
mutate_err(const struct state *st)
{
	return st->closed ? -EBADF : st->exports ? -EBUSY : 0;
}

/* ------------------------------------------------------------------------ */
/* Operations                                                               */
/* ------------------------------------------------------------------------ */

static void
op_write(struct state *st, struct script *s, bool append)
{
	size_t n = take_len(s);
	unsigned seed = take(s, 1);
	uint8_t *d = malloc(n + 1);
	uint64_t at = append ? st->size : st->pos;
	ssize_t want, got;

	gen(d, n, seed);
	want = mutate_err(st);
	if (!want && at + n > MAX_SIZE) {
		free(d);
		return;
	}
	got = append ? rope_append(st->r, d, n) : rope_write(st->r, d, n);
	if (!want) {
		want = (ssize_t)n;
		model_put(st, at, d, n);
		if (!append && n)
			st->pos = at + n;
	}
	CHECK(got == want);
	free(d);
}

static void
op_writev(struct state *st, struct script *s)
{
	struct iovec iov[4];
	uint8_t *d[4];
	int cnt = (int)(take(s, 1) % 5);
	size_t total = 0;
	ssize_t want, got;

	for (int i = 0; i < cnt; i++) {
		size_t n = take_len(s) % 3000;

		d[i] = malloc(n + 1);
		gen(d[i], n, take(s, 1));
		iov[i].iov_base = n ? d[i] : NULL;
		iov[i].iov_len = n;
		total += n;
	}
	want = mutate_err(st);
	if (want || st->pos + total <= MAX_SIZE) {
		got = rope_writev(st->r, iov, cnt);
		if (!want) {
			want = (ssize_t)total;
			for (int i = 0; i < cnt; i++) {
				model_put(st, st->pos, d[i], iov[i].iov_len);
				st->pos += iov[i].iov_len;
			}
		}
		CHECK(got == want);
	}
	for (int i = 0; i < cnt; i++)
		free(d[i]);
}

static void
op_append_ref(struct state *st, struct script *s)
{
	size_t n = take_len(s) % 20000;
	struct ext *e;
	int want, got;

	if (st->nexts == 256 || st->size + n > MAX_SIZE)
		return;
	e = calloc(1, sizeof(*e));
	e->mem = malloc(n + 1);
	e->copy = malloc(n + 1);
	e->len = n;
	gen(e->mem, n, take(s, 1));
	memcpy(e->copy, e->mem, n);
	st->exts[st->nexts++] = e;
	want = mutate_err(st);
	got = rope_append_ref(st->r, e->mem, n, release_ext, e);
	CHECK(got == want);
	if (!want)
		model_put(st, st->size, e->mem, n);
	else
		e->releases = 1;  /* refused: the memory stays ours */
	CHECK(n || want || e->releases == 1);
}

static void
op_read(struct state *st, struct script *s, int kind)
{
	size_t n = take_len(s);
	uint8_t *b = malloc(n + 1);
	uint64_t at = st->pos;
	ssize_t want, got;

	if (kind == 0)
		got = rope_read(st->r, b, n);
	else if (kind == 1)
		got = rope_readline(st->r, b, n);
	else
		got = rope_readline_delim(st->r, b, n, "\na", 2);
	if (st->closed) {
		want = -EBADF;
	} else {
		size_t avail = at < st->size ? st->size - at : 0, lim = MIN(n, avail);

		want = (ssize_t)lim;
		if (kind && lim) {
			const uint8_t *hit = kind == 1
				? memchr(st->m + at, '\n', lim)
				: memmem(st->m + at, lim, "\na", 2);

			if (hit)
				want = hit - (st->m + at) + (kind == 1 ? 1 : 2);
		}
		st->pos += (uint64_t)want;
	}
	CHECK(got == want);
	if (got > 0)
		CHECK(!memcmp(b, st->m + at, (size_t)got));
	free(b);
}

static void
op_seek(struct state *st, struct script *s)
{
	unsigned whence = take(s, 1) % 4;
	int64_t off = (int64_t)(int32_t)take(s, 4) % (int64_t)(MAX_SIZE / 2);
	int64_t want, got, base;

	got = rope_seek(st->r, off, (int)whence);
	if (st->closed)
		want = -EBADF;
	else if (whence == 3 || (whence == SEEK_SET && off < 0))
		want = -EINVAL;
	else {
		base = whence == SEEK_SET ? 0 : whence == SEEK_CUR
						 ? (int64_t)st->pos
						 : (int64_t)st->size;
		want = base + off < 0 ? 0 : base + off;
		st->pos = (uint64_t)want;
	}
	CHECK(got == want);
}

static void
op_truncate(struct state *st, struct script *s)
{
	int64_t n = (int64_t)(take(s, 3) % (st->size + 2000)) - 2;
	int64_t want = mutate_err(st), got;

	got = rope_truncate(st->r, n);
	if (!want) {
		want = n < 0 ? -EINVAL : n;
		if (n >= 0 && (uint64_t)n < st->size)
			st->size = (size_t)n;
	}
	CHECK(got == want);
}

static void
op_drain(struct state *st, struct script *s)
{
	size_t n = take_len(s);
	int64_t want = mutate_err(st), got;

	got = rope_drain(st->r, n);
	if (!want) {
		n = MIN(n, st->size);
		memmove(st->m, st->m + n, st->size - n);
		st->size -= n;
		st->pos = st->pos > n ? st->pos - n : 0;
		want = (int64_t)n;
	}
	CHECK(got == want);
}

static void
op_getvalue(struct state *st, struct script *s, bool keep)
{
	struct held *h = &st->values[take(s, 1) % MAX_HELD];
	struct rope_bytes *b = NULL, *b2 = NULL;
	int got = rope_getvalue(st->r, &b);

	CHECK(got == (st->closed ? -EBADF : 0));
	if (got)
		return;
	CHECK(rope_bytes_size(b) == st->size &&
	      !memcmp(rope_bytes_data(b), st->m, st->size));
	/* The cache: no change, the same value (unless exported). */
	CHECK(rope_getvalue(st->r, &b2) == 0);
	CHECK(st->exports || b2 == b);
	rope_bytes_unref(b2);
	if (!keep) {
		rope_bytes_unref(b);
		return;
	}
	if (h->obj)
		drop(h, false);
	h->obj = b;
	h->len = st->size;
	h->copy = malloc(st->size + 1);
	memcpy(h->copy, st->m, st->size);
}

static void
op_snapshot(struct state *st, struct script *s)
{
	struct held *h = &st->snaps[take(s, 1) % MAX_HELD];
	struct rope_snap *sn = NULL;
	int got = rope_snapshot(st->r, &sn);

	CHECK(got == (st->closed ? -EBADF : 0));
	if (got)
		return;
	if (h->obj)
		drop(h, true);
	h->obj = sn;
	h->len = st->size;
	h->copy = malloc(st->size + 1);
	memcpy(h->copy, st->m, st->size);
}

static void
op_getbuffer(struct state *st)
{
	int need, got;

	if (st->exports)
		return;  /* one export at a time keeps the model simple */
	need = rope_getbuffer(st->r, NULL, 0);
	if (st->closed) {
		CHECK(need == -EBADF);
		return;
	}
	if (need < 0 || need > 64)
		return;
	got = rope_getbuffer(st->r, st->exp, 64);
	CHECK(got == need);
	st->nexp = got;
	st->exports = 1;
}

/* Write through the export: the rope changes, nobody else does. */
static void
op_export_write(struct state *st, struct script *s)
{
	size_t off = 0, at = take(s, 3) % (st->size + 1);
	uint8_t x = (uint8_t)take(s, 1);

	if (!st->exports || !st->size || at == st->size)
		return;
	for (int i = 0; i < st->nexp; i++) {
		if (at < off + st->exp[i].iov_len) {
			((uint8_t *)st->exp[i].iov_base)[at - off] = x;
			st->m[at] = x;
			return;
		}
		off += st->exp[i].iov_len;
	}
	CHECK(!"export shorter than the stream");
}

static void
op_release(struct state *st)
{
	int got = rope_releasebuffer(st->r);

	CHECK(got == (st->exports ? 0 : -EINVAL));
	st->exports = 0;
}

static void
op_find(struct state *st, struct script *s)
{
	size_t n = 1 + take(s, 1) % 12, from = take(s, 3) % (st->size + 3);
	uint8_t nd[12];
	int64_t want, got;

	unsigned how = take(s, 1) % 4;

	if (st->size && how == 0 && !st->closed) {
		/* Aim across a segment boundary, where the search is
		 * hardest: the needle starts a little before the end of the
		 * segment holding a random byte. */
		struct rope_cursor c;
		const void *p;
		size_t at = take(s, 3) % st->size;
		size_t back = 1 + take(s, 1) % n;   /* MIN evaluates twice: */
		size_t early = take(s, 1) % 4;      /* take() outside it */
		ssize_t seg;

		rope_cursor_init(&c, st->r, (int64_t)at);
		seg = rope_cursor_peek(&c, &p);
		at += (size_t)seg;
		at -= MIN(at, back);
		n = MIN(n, st->size - at);
		memcpy(nd, st->m + at, n);
		from = at - MIN(at, early);
	} else if (st->size && how != 3) {
		size_t at = take(s, 3) % st->size;

		n = MIN(n, st->size - at);
		memcpy(nd, st->m + at, n);
	} else {
		gen(nd, n, take(s, 1));
	}
	got = rope_find(st->r, nd, n, (int64_t)from);
	if (st->closed) {
		want = -EBADF;
	} else {
		const uint8_t *hit = from + n <= st->size
			? memmem(st->m + from, st->size - from, nd, n) : NULL;

		want = hit ? hit - st->m : -ENOENT;
	}
	CHECK(got == want);
}

static void
op_pullup(struct state *st, struct script *s)
{
	size_t off = take(s, 3) % (st->size + 1);
	size_t n = take(s, 3) % (st->size - off + 1);
	const void *p = NULL;
	int got = rope_pullup(st->r, (int64_t)off, n, &p);

	if (st->closed) {
		CHECK(got == -EBADF);
		return;
	}
	CHECK(got == 0 || (st->exports && got == -EBUSY));
	if (got == 0 && n)
		CHECK(!memcmp(p, st->m + off, n));
}

static void
op_cursor(struct state *st, struct script *s)
{
	size_t off = take(s, 3) % (st->size + 1);
	struct rope_cursor c;
	uint32_t v32;
	uint64_t v64;
	int got = rope_cursor_init(&c, st->r, (int64_t)off);

	if (st->closed) {
		CHECK(got == -EBADF);
		return;
	}
	CHECK(got == 0);
	got = rope_cursor_u32be(&c, &v32);
	CHECK(got == (off + 4 <= st->size ? 0 : -ENODATA));
	if (!got) {
		const uint8_t *m = st->m + off;

		CHECK(v32 == ((uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 |
			      (uint32_t)m[2] << 8 | m[3]));
		off += 4;
	}
	got = rope_cursor_u64le(&c, &v64);
	CHECK(got == (off + 8 <= st->size ? 0 : -ENODATA));
	if (!got) {
		uint64_t w = 0;

		for (int i = 7; i >= 0; i--)
			w = w << 8 | st->m[off + (size_t)i];
		CHECK(v64 == w);
	}
}

static void
op_close(struct state *st)
{
	int got = rope_close(st->r);

	CHECK(got == (st->exports && !st->closed ? -EBUSY : 0));
	if (!got) {
		st->closed = true;
		st->size = 0;
		st->pos = 0;
	}
}

static void
op_reopen(struct state *st, struct script *s)
{
	struct held *h = &st->values[take(s, 1) % MAX_HELD];

	if (st->exports)
		return;
	rope_free(st->r);
	st->closed = false;
	st->pos = 0;
	if (h->obj) {
		/* Start from a value without copying it. */
		CHECK(rope_new_from_bytes(&st->r, h->obj) == 0);
		model_reserve(st, h->len);
		memcpy(st->m, h->copy, h->len);
		st->size = h->len;
	} else {
		st->r = rope_new();
		CHECK(st->r);
		st->size = 0;
	}
}

/* Empty the pipe into @b (at most @cap bytes); returns how many. */
static size_t
pipe_empty(struct state *st, uint8_t *b, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while ((n = read(st->pipe[0], b + got, cap - got)) > 0)
		got += (size_t)n;
	return got;
}

/* Flush the front into the pipe (at most its 64 KiB) under a fault. */
static void
op_write_fd(struct state *st, struct script *s)
{
	size_t max = take_len(s) % 65536, k = take(s, 2) % 5000;
	unsigned fault = take(s, 1) % 4;
	const struct t_sys_rule rules[][2] = {
		{ { T_SYS_WRITEV, .count = 1, .keep = k },
		  { T_SYS_WRITEV, .skip = 1, .count = T_FAULT_ALWAYS,
		    .err = EAGAIN } },
		{ { T_SYS_WRITEV, .count = 2, .err = EINTR } },
		{ { T_SYS_WRITEV, .count = T_FAULT_ALWAYS, .err = EIO } },
	};
	size_t total = st->closed ? 0 : MIN(max, st->size);
	uint8_t *b = malloc(65536);
	ssize_t want = mutate_err(st), got;

	if (fault)
		t_sys_faults(rules[fault - 1], fault == 1 ? 2 : 1);
	errno = ERANGE;
	got = rope_write_fd(st->r, st->pipe[1], max);
	CHECK(errno == ERANGE);
	t_sys_faults_off();
	if (!want) {
		/* A short write continued into EAGAIN gives its progress;
		 * a write of nothing ends the call with 0. */
		if (fault == 1 && k < total)
			want = (ssize_t)k;
		else if (fault == 3 && total)
			want = -EIO;
		else
			want = (ssize_t)total;
	}
	CHECK(got == want);
	CHECK(pipe_empty(st, b, 65536) == (size_t)MAX(got, 0));
	if (got > 0) {
		size_t n = (size_t)got;

		CHECK(!memcmp(b, st->m, n));
		memmove(st->m, st->m + n, st->size - n);
		st->size -= n;
		st->pos = st->pos > n ? st->pos - n : 0;
	}
	free(b);
}

/* Fill the pipe, then append what rope_read_fd() takes under a fault. */
static void
op_read_fd(struct state *st, struct script *s)
{
	size_t n = take_len(s) % 60000, max = take_len(s);
	size_t k = 1 + take(s, 2) % 5000;
	unsigned fault = take(s, 1) % 4;
	const struct t_sys_rule rules[] = {
		{ T_SYS_READV, .count = 1, .keep = k },
		{ T_SYS_READV, .count = 1, .err = EINTR },
		{ T_SYS_READV, .count = 1, .err = EIO },
	};
	uint8_t *d = malloc(n + 1), *rest = malloc(65536);
	ssize_t want = mutate_err(st), got;

	if (st->size + n > MAX_SIZE) {
		free(d);
		free(rest);
		return;
	}
	gen(d, n, take(s, 1));
	CHECK(write(st->pipe[1], d, n) == (ssize_t)n);
	if (fault)
		t_sys_faults(&rules[fault - 1], 1);
	errno = ERANGE;
	got = rope_read_fd(st->r, st->pipe[0], max);
	CHECK(errno == ERANGE);
	t_sys_faults_off();
	if (!want) {
		size_t lim = MIN(max, n);

		if (!max)
			want = 0;
		else if (fault == 2 || fault == 3)
			want = fault == 2 ? -EINTR : -EIO;
		else if (!n)
			want = -EAGAIN;  /* an empty non-blocking pipe */
		else
			want = (ssize_t)(fault == 1 ? MIN(lim, k) : lim);
	}
	CHECK(got == want);
	if (got > 0)
		model_put(st, st->size, d, (size_t)got);
	/* What was not taken is still in the pipe, in order. */
	CHECK(pipe_empty(st, rest, 65536) == n - (size_t)MAX(got, 0));
	CHECK(!memcmp(rest, d + MAX(got, 0), n - (size_t)MAX(got, 0)));
	free(d);
	free(rest);
}

/* ------------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script s = { data, size };
	struct state st = { 0 };
	struct rope_mem_stats before, after;

	rope_mem_stats(&before);
	st.r = rope_new();
	CHECK(st.r);
	CHECK(pipe2(st.pipe, O_NONBLOCK | O_CLOEXEC) == 0);
	/* Never NULL, so comparing zero bytes of it is defined. */
	model_reserve(&st, 64);
	while (s.left) {
		switch (take(&s, 1) % 24) {
		case 0: case 1: op_write(&st, &s, false); break;
		case 2: op_write(&st, &s, true); break;
		case 3: op_writev(&st, &s); break;
		case 4: op_append_ref(&st, &s); break;
		case 5: op_read(&st, &s, 0); break;
		case 6: op_read(&st, &s, 1); break;
		case 7: op_read(&st, &s, 2); break;
		case 8: case 9: op_seek(&st, &s); break;
		case 10: op_truncate(&st, &s); break;
		case 11: op_drain(&st, &s); break;
		case 12: op_getvalue(&st, &s, true); break;
		case 13: op_getvalue(&st, &s, false); break;
		case 14: op_snapshot(&st, &s); break;
		case 15: op_getbuffer(&st); break;
		case 16: op_export_write(&st, &s); break;
		case 17: op_release(&st); break;
		case 18: op_find(&st, &s); break;
		case 19: op_pullup(&st, &s); break;
		case 20: op_cursor(&st, &s); break;
		case 21: take(&s, 1) % 8 ? op_close(&st) : op_reopen(&st, &s);
			 break;
		case 22: op_write_fd(&st, &s); break;
		case 23: op_read_fd(&st, &s); break;
		}
		check_all(&st);
	}
	/* Everything goes back: the rope, the values, the snapshots; every
	 * borrowed buffer is released exactly once, and no byte leaks. */
	if (st.exports)
		rope_releasebuffer(st.r);
	rope_free(st.r);
	for (int i = 0; i < MAX_HELD; i++) {
		if (st.values[i].obj)
			drop(&st.values[i], false);
		if (st.snaps[i].obj)
			drop(&st.snaps[i], true);
	}
	for (unsigned i = 0; i < st.nexts; i++) {
		CHECK(st.exts[i]->releases == 1);
		free(st.exts[i]->mem);
		free(st.exts[i]->copy);
		free(st.exts[i]);
	}
	free(st.m);
	close(st.pipe[0]);
	close(st.pipe[1]);
	rope_mem_stats(&after);
	CHECK(after.allocated == before.allocated);
	return 0;
}
