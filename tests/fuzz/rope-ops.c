/* SPDX-License-Identifier: MIT */
/*
 * The differential fuzz target. The input is a script of operations; each
 * runs on a rope and on a model of BytesIO (sparse bytes, a size, a
 * position: model.h), and after every step the two must agree on the
 * result, the position, the size and the bytes the step touched (with a
 * margin), and rope__check() must pass. At the end of the script every
 * byte is compared, and so is every value, snapshot and borrowed buffer
 * held on the side (each also when it is dropped). Any disagreement
 * aborts, so libFuzzer keeps the input.
 *
 * The model is sparse, so scripts reach far: seeks near INT64_MAX, writes
 * and appends there (and the -EOVERFLOW past it), gaps of exabytes. Only
 * the real bytes are bounded, by DENSE_MAX.
 *
 * Two operations move bytes through a pipe, rope_write_fd() and
 * rope_read_fd(), under a fault the script picks (fault.h): none, a short
 * count, EINTR, or an error; what went through the pipe must be what the
 * model says.
 *
 * Each operation is one byte (its number, modulo the count) followed by the
 * bytes of its arguments; data to write is generated from a seed byte, so
 * a short input drives long writes.
 *
 * A script whose first byte is 0xc0 or more (a quarter of them) runs on a
 * rope whose tail chunks come from the allocator below (the allocation
 * seam): it counts takes, resizes and gives, moves blocks on some resizes,
 * and holds the blocks rope_seal_value() hands out, which must keep their
 * bytes. At the end every block must have been given back exactly once.
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
#include "model.h"
#include "rope-priv.h"
#include "ropeio.h"

/* Real bytes in the model; operations that would pass it are skipped. */
#define DENSE_MAX (3u << 20)
/* Operations that make the whole stream real (getvalue, getbuffer) only
 * run on streams up to this size. */
#define FLAT_MAX (4u << 20)
/* Bytes compared around what a step touched. */
#define MARGIN (2 * ROPE_COW_BLOCK)
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

/*
 * Data to write: byte i of seed s is a newline where (i + s) % 41 == 0,
 * else a letter, 'a' + (7 s + i) % 23. Both periods together repeat every
 * 943 bytes, so every seed's bytes are a window of one pattern, copied
 * rather than computed byte by byte (which the fuzzer's instrumentation
 * makes slow).
 */
#define GEN_PERIOD (41 * 23)
#define GEN_MAX 300000

static void
gen(uint8_t *b, size_t n, unsigned seed)
{
	static uint8_t pattern[GEN_PERIOD + GEN_MAX];
	static bool ready;
	size_t j = 0;

	if (!ready) {
		for (size_t k = 0; k < sizeof(pattern); k++)
			pattern[k] = k % 41 == 0 ? '\n'
						 : (uint8_t)('a' + k % 23);
		ready = true;
	}
	/* The window whose first byte is byte 0 of this seed. */
	while (j % 41 != seed % 41 || j % 23 != (7 * seed) % 23)
		j++;
	while (n > 0) {
		size_t k = MIN(n, (size_t)GEN_MAX);

		memcpy(b, pattern + j, k);
		b += k;
		n -= k;
		j = (j + k) % GEN_PERIOD;
	}
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
	uint8_t *copy;       /* a value's bytes */
	size_t len;
	struct model snap;   /* a snapshot's bytes */
};

/* A block of the seam's allocator. */
struct blk {
	size_t cap;
	unsigned refs;       /* the rope's, and each sealed value held here */
	bool given;          /* give() ran */
	uint8_t bytes[];
};

/* The seam's allocator: what it did in this script. */
struct seam {
	bool on;
	unsigned move_every; /* resize number k moves the block when k % it
			      * is 0 */
	unsigned long takes, resizes, moves, gives, live;
};

/* Over every script run in this process, for the replay driver. */
static struct {
	unsigned long scripts, seals, refused, resizes, moves;
} totals;

struct ext {
	uint8_t *mem;
	size_t len;
	uint8_t *copy;
	unsigned releases;
};

struct state {
	struct rope *r;
	struct model m;
	uint64_t pos;
	uint64_t lo, hi;     /* what the step touched, to compare */
	bool closed;
	unsigned exports;
	struct iovec exp[64]; /* the live export's iovecs */
	int nexp;
	struct held values[MAX_HELD], snaps[MAX_HELD];
	struct held seals[MAX_HELD]; /* sealed blocks: obj is a struct blk */
	struct seam seam;
	struct ext *exts[256];
	unsigned nexts;
	int pipe[2];         /* non-blocking, empty between operations */
};

/* The step touched [lo, lo + n): compare it after the step. */
static void
touched(struct state *st, uint64_t lo, uint64_t n)
{
	st->lo = MIN(st->lo, lo);
	st->hi = MAX(st->hi, lo + n);
}

static void
model_put(struct state *st, uint64_t p, const uint8_t *d, size_t n)
{
	m_put(&st->m, p, d, n);
	touched(st, p, n);
}

/* The model's bytes [at, at + n), in a malloc'd buffer. */
static uint8_t *
model_bytes(const struct state *st, uint64_t at, size_t n)
{
	uint8_t *b = malloc(n + 1);

	CHECK(b);
	m_read(&st->m, at, b, n);
	return b;
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
check_held(const struct held *v, const struct held *s)
{
	if (v && v->obj)
		CHECK(rope_bytes_size(v->obj) == v->len &&
		      !memcmp(rope_bytes_data(v->obj), v->copy, v->len));
	if (s && s->obj) {
		const struct rope_snap *sn = s->obj;

		CHECK(sn->size == s->snap.size);
		CHECK(m_equals_segs(&s->snap, sn->segs, sn->nseg, sn->base));
	}
}

/* A sealed block keeps the bytes it had when sealed. */
static void
check_seal(const struct held *h)
{
	const struct blk *b = h->obj;

	if (b)
		CHECK(b->cap == h->len && !memcmp(b->bytes, h->copy, h->len));
}

/*
 * After every step: the invariants, the size and position, and the bytes
 * the step touched with a margin either side (blocks copied around an
 * overwrite included), capped so a step costs what it did, not the
 * stream.
 */
static void
check_step(struct state *st)
{
	uint64_t size = st->m.size, lo, hi;
	uint8_t *back, *want;

	CHECK(rope__check(st->r) == 0);
	CHECK(rope_closed(st->r) == st->closed);
	if (!st->closed) {
		CHECK(rope_size(st->r) == size);
		CHECK(rope_tell(st->r) == (int64_t)st->pos);
	}
	if (!st->closed && st->lo < st->hi && st->lo < size) {
		lo = st->lo > MARGIN ? st->lo - MARGIN : 0;
		hi = MIN(MIN(st->hi, lo + (1u << 20)) + MARGIN, size);
		back = malloc((size_t)(hi - lo) + 1);
		want = model_bytes(st, lo, (size_t)(hi - lo));
		CHECK(rope_pread(st->r, back, (size_t)(hi - lo), (int64_t)lo) ==
		      (ssize_t)(hi - lo));
		CHECK(memcmp(back, want, (size_t)(hi - lo)) == 0);
		free(back);
		free(want);
	}
	st->lo = UINT64_MAX;
	st->hi = 0;
}

/* At the end of a script: every byte, and everything held on the side. */
static void
check_all(struct state *st)
{
	CHECK(rope__check(st->r) == 0);
	if (!st->closed) {
		CHECK(rope_size(st->r) == st->m.size);
		CHECK(m_equals_segs(&st->m, st->r->segs, st->r->nseg,
				    st->r->base));
	}
	for (int i = 0; i < MAX_HELD; i++) {
		check_held(&st->values[i], &st->snaps[i]);
		check_seal(&st->seals[i]);
	}
	for (unsigned i = 0; i < st->nexts; i++)
		if (!st->exts[i]->releases)
			CHECK(!memcmp(st->exts[i]->mem, st->exts[i]->copy,
				      st->exts[i]->len));
}

static void
drop(struct held *h, bool snap)
{
	check_held(snap ? NULL : h, snap ? h : NULL);
	if (snap)
		rope_snap_unref(h->obj);
	else
		rope_bytes_unref(h->obj);
	free(h->copy);
	m_exit(&h->snap);
	memset(h, 0, sizeof(*h));
}

/* ------------------------------------------------------------------------ */
/* The seam's allocator                                                     */
/* ------------------------------------------------------------------------ */

static void
blk_unref(struct seam *a, struct blk *b)
{
	if (--b->refs)
		return;
	a->live--;
	free(b);
}

static void *
seam_take(void *ctx, size_t cap, void **handle)
{
	struct seam *a = ctx;
	struct blk *b = malloc(sizeof(*b) + cap);

	CHECK(b);
	b->cap = cap;
	b->refs = 1;
	b->given = false;
	a->takes++;
	a->live++;
	*handle = b;
	return b->bytes;
}

/* Grow or shrink in place, or (now and then) move: the old bytes are
 * scribbled over, so a rope that still reads them disagrees. */
static void *
seam_resize(void *ctx, void *handle, size_t used, size_t cap,
	    void **new_handle)
{
	struct seam *a = ctx;
	struct blk *old = handle, *b;

	/* Only a block that the rope alone holds, never a sealed one. */
	CHECK(!old->given && old->refs == 1);
	CHECK(used <= cap && used <= old->cap);
	if (++a->resizes % a->move_every == 0) {
		b = malloc(sizeof(*b) + cap);
		CHECK(b);
		memcpy(b, old, sizeof(*b) + used);
		memset(old->bytes, 0xdd, old->cap);
		free(old);
		a->moves++;
	} else {
		b = realloc(old, sizeof(*b) + cap);
		CHECK(b);
	}
	b->cap = cap;
	*new_handle = b;
	return b->bytes;
}

static void
seam_give(void *ctx, void *handle)
{
	struct seam *a = ctx;
	struct blk *b = handle;

	CHECK(!b->given);
	b->given = true;
	a->gives++;
	blk_unref(a, b);
}

/* A new rope of the script: the seam's allocator when the script asked. */
static void
seam_attach(struct state *st)
{
	const struct rope_allocator a = {
		&st->seam, seam_take, seam_resize, seam_give,
	};

	if (st->seam.on && !rope_size(st->r))
		CHECK(rope_set_allocator(st->r, &a) == 0);
}

static void
drop_seal(struct state *st, struct held *h)
{
	check_seal(h);
	blk_unref(&st->seam, h->obj);
	free(h->copy);
	memset(h, 0, sizeof(*h));
}

/* The error every mutation gets before anything else. */
static int
mutate_err(const struct state *st)
{
	return st->closed ? -EBADF : st->exports ? -EBUSY : 0;
}

/* What a write of @n bytes at @p gets before it is tried: 0, or an error. */
static ssize_t
write_err(const struct state *st, uint64_t p, size_t n)
{
	int err = mutate_err(st);

	if (err)
		return err;
	if (n && n > ROPE_MAX_SIZE - p)
		return -EOVERFLOW;
	return 0;
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
	uint64_t at = append ? st->m.size : st->pos;
	ssize_t want = write_err(st, at, n), got;

	gen(d, n, seed);
	if (!want && st->m.dense + n > DENSE_MAX) {
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
	want = write_err(st, st->pos, total);
	if (want || st->m.dense + total <= DENSE_MAX) {
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

	want = (int)write_err(st, st->m.size, n);
	if (st->nexts == 256 || (!want && st->m.dense + n > DENSE_MAX))
		return;
	e = calloc(1, sizeof(*e));
	e->mem = malloc(n + 1);
	e->copy = malloc(n + 1);
	e->len = n;
	gen(e->mem, n, take(s, 1));
	memcpy(e->copy, e->mem, n);
	st->exts[st->nexts++] = e;
	got = rope_append_ref(st->r, e->mem, n, release_ext, e);
	CHECK(got == want);
	if (!want)
		model_put(st, st->m.size, e->mem, n);
	else
		e->releases = 1;  /* refused: the memory stays ours */
	CHECK(n || want || e->releases == 1);
}

static void
op_read(struct state *st, struct script *s, int kind)
{
	size_t n = take_len(s);
	uint8_t *b = malloc(n + 1), *m;
	uint64_t at = st->pos;
	ssize_t want, got;

	if (kind == 0)
		got = rope_read(st->r, b, n);
	else if (kind == 1)
		got = rope_readline(st->r, b, n);
	else
		got = rope_readline_delim(st->r, b, n, "\na", 2);
	if (st->closed) {
		CHECK(got == -EBADF);
		free(b);
		return;
	}
	{
		uint64_t avail = at < st->m.size ? st->m.size - at : 0;
		size_t lim = (size_t)MIN((uint64_t)n, avail);

		m = model_bytes(st, at, lim);
		want = (ssize_t)lim;
		if (kind && lim) {
			const uint8_t *hit = kind == 1
				? memchr(m, '\n', lim)
				: memmem(m, lim, "\na", 2);

			if (hit)
				want = hit - m + (kind == 1 ? 1 : 2);
		}
		st->pos += (uint64_t)want;
	}
	CHECK(got == want);
	if (got > 0)
		CHECK(!memcmp(b, m, (size_t)got));
	free(m);
	free(b);
}

/*
 * An offset: mostly small, sometimes far (shifted up to 2^62), sometimes
 * within a few bytes of INT64_MAX, where the stream's limit lies.
 */
static int64_t
take_offset(struct script *s, unsigned how)
{
	int64_t off = (int64_t)(int32_t)take(s, 4);

	switch (how % 4) {
	case 2:
		return INT64_MAX - (int64_t)(take(s, 2) % 300);
	case 3:
		return (int64_t)((uint64_t)(uint32_t)off << (take(s, 1) % 31)) *
		       (off < 0 ? -1 : 1);
	default:
		return off % (int64_t)(DENSE_MAX / 2);
	}
}

static void
op_seek(struct state *st, struct script *s)
{
	unsigned k = take(s, 1), whence = k % 4;
	int64_t off = take_offset(s, k / 4);
	int64_t want, got, base, to;

	got = rope_seek(st->r, off, (int)whence);
	if (st->closed)
		want = -EBADF;
	else if (whence == 3 || (whence == SEEK_SET && off < 0))
		want = -EINVAL;
	else {
		base = whence == SEEK_SET ? 0 : whence == SEEK_CUR
						 ? (int64_t)st->pos
						 : (int64_t)st->m.size;
		if (__builtin_add_overflow(base, off, &to)) {
			want = -EOVERFLOW;
		} else {
			want = to < 0 ? 0 : to;
			st->pos = (uint64_t)want;
		}
	}
	CHECK(got == want);
}

static void
op_truncate(struct state *st, struct script *s)
{
	int64_t n = (int64_t)(take(s, 3) % (st->m.size + 2000)) - 2;
	int64_t want = mutate_err(st), got;

	got = rope_truncate(st->r, n);
	if (!want) {
		want = n < 0 ? -EINVAL : n;
		if (n >= 0 && (uint64_t)n < st->m.size) {
			m_truncate(&st->m, (uint64_t)n);
			touched(st, n > 64 ? (uint64_t)n - 64 : 0, 64);
		}
	}
	CHECK(got == want);
}

static void
op_drain(struct state *st, struct script *s)
{
	size_t n = take_len(s);
	int64_t want = mutate_err(st), got;

	/* Sometimes all but a few bytes of a stream of any size, so that
	 * drains add up past INT64_MAX. */
	if (n % 64 == 63) {
		uint64_t keep = take(s, 1) % 8;

		n = (size_t)(st->m.size - MIN(keep, st->m.size));
	}

	got = rope_drain(st->r, n);
	if (!want) {
		n = (size_t)MIN((uint64_t)n, st->m.size);
		m_drain(&st->m, n);
		st->pos = st->pos > n ? st->pos - n : 0;
		want = (int64_t)n;
		touched(st, 0, 64);
	}
	CHECK(got == want);
}

static void
op_getvalue(struct state *st, struct script *s, bool keep)
{
	struct held *h = &st->values[take(s, 1) % MAX_HELD];
	struct rope_bytes *b = NULL, *b2 = NULL;
	uint8_t *m;
	int got;

	if (!st->closed && st->m.size > FLAT_MAX)
		return;
	got = rope_getvalue(st->r, &b);
	CHECK(got == (st->closed ? -EBADF : 0));
	if (got)
		return;
	m = model_bytes(st, 0, (size_t)st->m.size);
	CHECK(rope_bytes_size(b) == st->m.size &&
	      !memcmp(rope_bytes_data(b), m, (size_t)st->m.size));
	/* The cache: no change, the same value (unless exported). */
	CHECK(rope_getvalue(st->r, &b2) == 0);
	CHECK(st->exports || b2 == b);
	rope_bytes_unref(b2);
	if (!keep) {
		rope_bytes_unref(b);
		free(m);
		return;
	}
	if (h->obj)
		drop(h, false);
	h->obj = b;
	h->len = (size_t)st->m.size;
	h->copy = m;
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
	m_copy(&h->snap, &st->m);
}

static void
op_getbuffer(struct state *st)
{
	int need, got;

	if (st->exports)
		return;  /* one export at a time keeps the model simple */
	if (!st->closed && st->m.size > FLAT_MAX)
		return;  /* it would make every zero real */
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
	uint64_t off = 0, at = take(s, 3) % (st->m.size + 1);
	uint8_t x = (uint8_t)take(s, 1);

	if (!st->exports || !st->m.size || at == st->m.size)
		return;
	for (int i = 0; i < st->nexp; i++) {
		if (at < off + st->exp[i].iov_len) {
			((uint8_t *)st->exp[i].iov_base)[at - off] = x;
			model_put(st, at, &x, 1);
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
	uint64_t size = st->m.size;
	size_t n = 1 + take(s, 1) % 12;
	uint64_t from = take(s, 3) % (size + 3);
	uint8_t nd[12];
	int64_t want, got;

	unsigned how = take(s, 1) % 4;

	if (size && how == 0 && !st->closed) {
		/* Aim across a segment boundary, where the search is
		 * hardest: the needle starts a little before the end of the
		 * segment holding a random byte. */
		struct rope_cursor c;
		const void *p;
		uint64_t at = take(s, 3) % size;
		size_t back = 1 + take(s, 1) % n;   /* MIN evaluates twice: */
		size_t early = take(s, 1) % 4;      /* take() outside it */
		ssize_t seg;

		rope_cursor_init(&c, st->r, (int64_t)at);
		seg = rope_cursor_peek(&c, &p);
		at += (uint64_t)seg;
		at -= MIN(at, (uint64_t)back);
		n = (size_t)MIN((uint64_t)n, size - at);
		m_read(&st->m, at, nd, n);
		from = at - MIN(at, (uint64_t)early);
	} else if (size && how != 3) {
		uint64_t at = take(s, 3) % size;

		n = (size_t)MIN((uint64_t)n, size - at);
		m_read(&st->m, at, nd, n);
	} else {
		gen(nd, n, take(s, 1));
	}
	got = rope_find(st->r, nd, n, (int64_t)from);
	want = st->closed ? -EBADF : m_find(&st->m, nd, n, from);
	CHECK(got == want);
}

static void
op_pullup(struct state *st, struct script *s)
{
	uint64_t off = take(s, 3) % (st->m.size + 1);
	size_t n = (size_t)(take(s, 3) % MIN(st->m.size - off + 1,
					     (uint64_t)(1u << 18)));
	const void *p = NULL;
	int got = rope_pullup(st->r, (int64_t)off, n, &p);
	uint8_t *m;

	if (st->closed) {
		CHECK(got == -EBADF);
		return;
	}
	CHECK(got == 0 || (st->exports && got == -EBUSY));
	if (got == 0 && n) {
		m = model_bytes(st, off, n);
		CHECK(!memcmp(p, m, n));
		free(m);
	}
	touched(st, off, n);
}

/* Compare a cursor's integers with the model's bytes at @off. */
static void
op_cursor(struct state *st, struct script *s)
{
	uint64_t off = take(s, 3) % (st->m.size + 1);
	struct rope_cursor c;
	uint8_t m[12];
	uint32_t v32;
	uint64_t v64, w = 0;
	int got = rope_cursor_init(&c, st->r, (int64_t)off);
	size_t at = 0;

	if (st->closed) {
		CHECK(got == -EBADF);
		return;
	}
	CHECK(got == 0);
	m_read(&st->m, off, m, sizeof(m));
	got = rope_cursor_u32be(&c, &v32);
	CHECK(got == (off + 4 <= st->m.size ? 0 : -ENODATA));
	if (!got) {
		CHECK(v32 == ((uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 |
			      (uint32_t)m[2] << 8 | m[3]));
		off += 4;
		at = 4;
	}
	got = rope_cursor_u64le(&c, &v64);
	CHECK(got == (off + 8 <= st->m.size ? 0 : -ENODATA));
	if (!got) {
		for (int i = 7; i >= 0; i--)
			w = w << 8 | m[at + (size_t)i];
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
		m_exit(&st->m);
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
	m_exit(&st->m);
	if (h->obj) {
		/* Start from a value without copying it. */
		CHECK(rope_new_from_bytes(&st->r, h->obj) == 0);
		model_put(st, 0, h->copy, h->len);
	} else {
		st->r = rope_new();
		CHECK(st->r);
	}
	seam_attach(st);
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
	size_t total = st->closed ? 0 : (size_t)MIN((uint64_t)max, st->m.size);
	uint8_t *b = malloc(65536), *m;
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

		m = model_bytes(st, 0, n);
		CHECK(!memcmp(b, m, n));
		free(m);
		m_drain(&st->m, n);
		st->pos = st->pos > n ? st->pos - n : 0;
		touched(st, 0, 64);
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

	if (st->m.dense + n > DENSE_MAX) {
		free(d);
		free(rest);
		return;
	}
	/* It takes no more than the stream can still grow by. */
	if (!st->closed)
		max = (size_t)MIN((uint64_t)max, ROPE_MAX_SIZE - st->m.size);
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
		model_put(st, st->m.size, d, (size_t)got);
	/* What was not taken is still in the pipe, in order. */
	CHECK(pipe_empty(st, rest, 65536) == n - (size_t)MAX(got, 0));
	CHECK(!memcmp(rest, d + MAX(got, 0), n - (size_t)MAX(got, 0)));
	free(d);
	free(rest);
}

/*
 * Hand the stream's block out as the value. Refused (-EAGAIN) unless the
 * stream is one private block of the allocator's, which the model does not
 * track; the step's check then sees the rope unchanged. Sealed, the block
 * holds exactly the stream, a second call hands out the same, and the
 * script keeps a reference to it, as a binding's string object would.
 */
static void
op_seal(struct state *st, struct script *s)
{
	struct held *h = &st->seals[take(s, 1) % MAX_HELD];
	void *handle = NULL, *again = NULL;
	size_t len = 0, len2 = 0;
	struct blk *b;
	int got = rope_seal_value(st->r, &handle, &len);

	if (st->closed || st->exports) {
		CHECK(got == (st->closed ? -EBADF : -EBUSY));
		return;
	}
	CHECK(got == 0 || got == -EAGAIN);
	touched(st, 0, st->m.size);
	if (got) {
		totals.refused++;
		return;
	}
	totals.seals++;
	b = handle;
	CHECK(len == st->m.size && len > 0 && !b->given && b->cap == len);
	CHECK(rope_seal_value(st->r, &again, &len2) == 0);
	CHECK(again == handle && len2 == len);
	if (h->obj)
		drop_seal(st, h);
	h->obj = b;
	h->len = len;
	h->copy = model_bytes(st, 0, len);
	CHECK(!memcmp(b->bytes, h->copy, len));
	b->refs++;
}

/* ------------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the scripts run so far reached of the seam (the replay driver
 * prints it). */
void t_fuzz_seam_report(FILE *f);

void
t_fuzz_seam_report(FILE *f)
{
	fprintf(f, "seam: %lu scripts, %lu seals (%lu refused), "
		"%lu resizes (%lu moved)\n", totals.scripts, totals.seals,
		totals.refused, totals.resizes, totals.moves);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script s = { data, size };
	struct state st = { 0 };
	struct rope_mem_stats before, after;

	rope_mem_stats(&before, sizeof(before));
	st.r = rope_new();
	CHECK(st.r);
	CHECK(pipe2(st.pipe, O_NONBLOCK | O_CLOEXEC) == 0);
	m_init(&st.m);
	st.lo = UINT64_MAX;
	/* A first byte of 0xc0 or more picks the seam: its low bits say how
	 * often a resize moves the block (every one, every other...). */
	if (size && data[0] >= 0xc0) {
		st.seam.on = true;
		st.seam.move_every = 1 + take(&s, 1) % 4;
		totals.scripts++;
	}
	seam_attach(&st);
	while (s.left) {
		unsigned op = take(&s, 1);

		/* On the seam, the top sixteen operation bytes seal; other
		 * scripts keep the meaning they always had. */
		if (st.seam.on && op >= 0xf0) {
			op_seal(&st, &s);
			check_step(&st);
			continue;
		}
		switch (op % 24) {
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
		check_step(&st);
	}
	check_all(&st);
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
		if (st.seals[i].obj)
			drop_seal(&st, &st.seals[i]);
	}
	/* Every block the allocator made was given back once, and freed. */
	CHECK(st.seam.gives == st.seam.takes && !st.seam.live);
	totals.resizes += st.seam.resizes;
	totals.moves += st.seam.moves;
	for (unsigned i = 0; i < st.nexts; i++) {
		CHECK(st.exts[i]->releases == 1);
		free(st.exts[i]->mem);
		free(st.exts[i]->copy);
		free(st.exts[i]);
	}
	m_exit(&st.m);
	close(st.pipe[0]);
	close(st.pipe[1]);
	rope_mem_stats(&after, sizeof(after));
	CHECK(after.allocated == before.allocated);
	return 0;
}
