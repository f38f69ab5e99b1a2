/* SPDX-License-Identifier: MIT */
/*
 * A seeded, randomized differential test. Every operation runs against a
 * rope and against a flat reference model of BytesIO written below (one
 * malloc'd array, a size and a position), and after every step the two must
 * agree on the return value, the position, the size and every byte, and
 * rope__check() must pass. Values, snapshots, exports and rope_append_ref()
 * memory are held on the side with private copies and compared in full
 * after every step too, to prove that they never change behind the
 * caller's back.
 *
 * A run is reproducible: ROPEIO_SEED=n picks the seed (a fixed one by
 * default), ROPEIO_STEPS=n makes every run longer, and ROPEIO_TRACE=1 prints
 * each call as it is made, which is how a failure is shrunk by hand. The
 * first mismatch stops the run and prints the seed, the step and the calls
 * of that step.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* Every run performs at least this many operations, unless it fails. */
#define MODEL_STEPS 100000UL

/*
 * Streams above SIZE_SOFT are cut back within a few steps, and above
 * SIZE_HARD at once, so a run stays fast while some steps still see streams
 * past 1 MiB, where a zero gap is longer than the library's real zero block.
 */
#define SIZE_SOFT (256u * 1024)
#define SIZE_HARD (4u * 1024 * 1024)

/* The model is a flat array, so no write may land past this. */
#define MODEL_LIMIT (32u * 1024 * 1024)

#define MAX_VALUES 8
#define MAX_SNAPS 6
#define MAX_EXPORTS 3

/* Bytes after a read's length that the rope must leave alone. */
#define CANARY_LEN 64
#define CANARY 0xa7

#define DEFAULT_SEED UINT64_C(0x726f7065696f2d31)

/* What a run exercises besides writes, reads, seeks and truncates. */
enum {
	F_REFS = 1u << 0,     /* rope_append_ref() */
	F_VALUES = 1u << 1,   /* getvalue, values and snapshots */
	F_EXPORTS = 1u << 2,  /* getbuffer and writes through it */
	F_LIFE = 1u << 3,     /* close, free and reopen */
	F_TWIN = 1u << 4,     /* a second rope sharing the first one's bytes */
};

/* BytesIO as CPython implements it, on one flat array. */
struct model {
	uint8_t *buf;
	size_t size;
	size_t cap;
	uint64_t pos;       /* may exceed size */
	bool closed;
	unsigned exports;
	uint64_t gen;       /* bumped by every change of the contents */
};

struct held_value {
	struct rope_bytes *b;
	unsigned refs;      /* references we hold */
	uint8_t *copy;      /* what it held when it was taken */
	size_t len;
};

struct held_snap {
	struct rope_snap *s;
	unsigned refs;
	uint8_t *copy;
	size_t len;
};

struct held_export {
	struct iovec *iov;
	int n;
};

/*
 * The state that belongs to one rope. The run works on one rope at a time;
 * the other one, the twin, waits here until the two are swapped.
 */
struct stream {
	struct rope *r;
	struct model m;
	struct rope_bytes *cached;
	uint64_t cached_gen;
	bool cached_ok;
	struct held_export exps[MAX_EXPORTS];
	size_t nexps;
};

struct ctx;

/* One region handed to rope_append_ref() with release_ext(). */
struct ext {
	struct ctx *c;
	const void *addr;   /* the pointer the rope was given */
	uint8_t *mem;       /* our allocation, NULL once freed */
	uint8_t *copy;      /* the bytes it must keep */
	size_t len;
	unsigned releases;
	bool refused;       /* rope_append_ref() failed: never released */
};

struct ctx {
	const char *name;
	unsigned flags;
	uint64_t seed;      /* the ROPEIO_SEED that reproduces the run */
	uint64_t rng;
	unsigned long step;
	unsigned long steps;
	unsigned long done;
	bool failed;
	bool trace;
	char op[1024];      /* the calls of the current step */
	const char *where;  /* set while the twin is being checked */

	struct rope *r;
	struct model m;

	/* The last getvalue() result, to check that it is cached. */
	struct rope_bytes *cached;
	uint64_t cached_gen;
	bool cached_ok;

	struct held_value vals[MAX_VALUES];
	size_t nvals;
	struct held_snap snaps[MAX_SNAPS];
	size_t nsnaps;
	struct held_export exps[MAX_EXPORTS];
	size_t nexps;

	/* The twin: made from a value of the active rope, so the two share
	 * chunks, and writes to either must never reach the other. */
	struct stream twin;
	bool have_twin;

	struct ext **exts;  /* every region ever handed over */
	size_t nexts, exts_cap;
	struct ext **live;  /* those not yet released */
	size_t nlive, live_cap;

	uint8_t *data;      /* generated input */
	size_t data_cap;
	uint8_t *out;       /* the buffer operations read into */
	size_t out_cap;
	uint8_t *chk;       /* the buffer whole-stream compares read into */
	size_t chk_cap;

	unsigned long counts[32];
};

/* For the crash handler, which has no other way to find the run. */
static struct ctx *g_ctx;

/* Memory handed to rope_append_ref() with no release function. */
static uint8_t static_ext[8192];

/* ------------------------------------------------------------------------ */
/* Reporting                                                                */
/* ------------------------------------------------------------------------ */

static void __attribute__((format(printf, 4, 5)))
mismatch(struct ctx *c, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;

	/* Only the first mismatch is reported: later ones are consequences. */
	if (c->failed)
		return;
	c->failed = true;
	CU_assertImplementation(CU_FALSE, (unsigned int)line, expr, __FILE__,
				"", CU_FALSE);
	fprintf(stderr,
		"\nmodel %s: mismatch at step %lu (ROPEIO_SEED=%#" PRIx64 ")\n"
		"  calls: %s\n  check: %s (line %d)%s%s\n  ",
		c->name, c->step, c->seed, c->op, expr, line,
		c->where ? ", in " : "", c->where ? c->where : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define EXPECT(c, cond, ...)                                            \
	do {                                                            \
		if (unlikely(!(cond)))                                  \
			mismatch((c), __LINE__, #cond, __VA_ARGS__);    \
	} while (0)

/* Record a call of the current step, so a mismatch can show them all. */
static void __attribute__((format(printf, 2, 3)))
note(struct ctx *c, const char *fmt, ...)
{
	size_t used = strlen(c->op);
	va_list ap;

	if (used + 8 >= sizeof(c->op))
		return;
	if (used) {
		memcpy(c->op + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(c->op + used, sizeof(c->op) - used, fmt, ap);
	va_end(ap);
	if (c->trace)
		fprintf(stderr, "%lu: %s\n", c->step, c->op + used);
}

static size_t
first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i = 0;

	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* The crash handler may only use async-signal-safe calls. */
static void
put_str(const char *s)
{
	ssize_t ignored = write(STDERR_FILENO, s, strlen(s));

	(void)ignored;
}

static void
put_num(uint64_t v, unsigned base)
{
	char buf[24];
	size_t i = sizeof(buf);

	buf[--i] = '\0';
	do {
		buf[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	put_str(buf + i);
}

static struct sigaction old_segv, old_bus;

/*
 * A library bug may crash rather than return a wrong value; say which step
 * and seed did it, then give the fault back to the handler that was there
 * before (ASan's report, or the default core dump) by returning, which
 * makes the faulting access run again.
 */
static void
on_crash(int sig)
{
	const struct ctx *c = g_ctx;

	if (c) {
		put_str("\nmodel ");
		put_str(c->name);
		put_str(": signal ");
		put_num((uint64_t)sig, 10);
		put_str(" at step ");
		put_num(c->step, 10);
		put_str(" (ROPEIO_SEED=0x");
		put_num(c->seed, 16);
		put_str(")\n  calls: ");
		put_str(c->op);
		put_str("\n");
	}
	sigaction(sig, sig == SIGBUS ? &old_bus : &old_segv, NULL);
}

static void
crash_handler_install(struct ctx *c)
{
	struct sigaction sa;

	g_ctx = c;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_crash;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
}

static void
crash_handler_remove(void)
{
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	g_ctx = NULL;
}

/* ------------------------------------------------------------------------ */
/* Memory and randomness                                                    */
/* ------------------------------------------------------------------------ */

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "out of memory in test-model\n");
		exit(T_EXIT_SETUP);
	}
	return p;
}

static void *
xmalloc(size_t n)
{
	return xrealloc(NULL, n);
}

static uint8_t *
xdup(const void *p, size_t n)
{
	uint8_t *d = xmalloc(n);

	if (n)
		memcpy(d, p, n);
	return d;
}

/* Make *@buf hold at least @need bytes, growing geometrically. */
static uint8_t *
reserve(uint8_t **buf, size_t *cap, size_t need)
{
	if (need > *cap) {
		size_t n = MAX(need, *cap * 2);

		*buf = xrealloc(*buf, n);
		*cap = n;
	}
	return *buf;
}

static void
push_ptr(struct ext ***arr, size_t *n, size_t *cap, struct ext *e)
{
	if (*n == *cap) {
		*cap = MAX(*cap * 2, (size_t)64);
		*arr = xrealloc(*arr, *cap * sizeof(**arr));
	}
	(*arr)[(*n)++] = e;
}

/* splitmix64: small, fast and good enough to drive a test. */
static uint64_t
rnd(struct ctx *c)
{
	uint64_t z = (c->rng += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t
below(struct ctx *c, uint64_t n)
{
	return n ? rnd(c) % n : 0;
}

/* A number in [lo, hi]. */
static uint64_t
range(struct ctx *c, uint64_t lo, uint64_t hi)
{
	return lo + below(c, hi - lo + 1);
}

static bool
chance(struct ctx *c, unsigned percent)
{
	return below(c, 100) < percent;
}

/* A length weighted towards the interesting ones. */
static size_t
pick_len(struct ctx *c)
{
	unsigned k = (unsigned)below(c, 1000);

	if (k < 80)
		return 0;
	if (k < 230)
		return 1;
	if (k < 600)
		return range(c, 2, 64);
	if (k < 850)
		return range(c, 65, 1024);
	if (k < 960)
		return range(c, 1025, 8192);
	if (k < 990)
		return range(c, 8193, 65536);
	return range(c, 100 * 1024, 200 * 1024);
}

/* A length for a read starting at @from: often exactly what is left. */
static size_t
pick_read_len(struct ctx *c, uint64_t from)
{
	size_t left = from < c->m.size ? (size_t)(c->m.size - from) : 0;
	unsigned k = (unsigned)below(c, 100);

	if (k < 8)
		return 0;
	if (k < 16)
		return 1;
	if (k < 28)
		return left;
	if (k < 36)
		return left + range(c, 1, 100);
	if (k < 42)
		return left ? left - 1 : 0;
	return pick_len(c);
}

/* A stream offset: inside, at the end, or past it (rarely by over 1 MiB). */
static uint64_t
pick_target(struct ctx *c)
{
	uint64_t size = c->m.size;
	unsigned k = (unsigned)below(c, 1000);

	if (k < 150)
		return 0;
	if (k < 450)
		return below(c, size);
	if (k < 600)
		return size;
	if (k < 680)
		return c->m.pos;
	if (k < 720)
		return size > 16 ? size - range(c, 1, 16) : 0;
	if (k < 850)
		return size + range(c, 1, 64);
	if (k < 997)
		return size + range(c, 65, 65536);
	return size + range(c, 1u << 20, 3u << 19);
}

/* Fill the input buffer with @len bytes of one of a few kinds of data. */
static uint8_t *
gen_data(struct ctx *c, size_t len)
{
	uint8_t *d = reserve(&c->data, &c->data_cap, len + 1);
	size_t i;

	switch (below(c, 8)) {
	case 0:
		memset(d, 0, len);
		break;
	case 1:
		memset(d, '\n', len);
		break;
	case 2:
		/* Text: short lines. */
		for (i = 0; i < len; i++)
			d[i] = chance(c, 4) ? '\n' : (uint8_t)('a' + i % 26);
		break;
	default:
		for (i = 0; i < len; i += 8) {
			uint64_t x = rnd(c);

			memcpy(d + i, &x, MIN((size_t)8, len - i));
		}
		if (chance(c, 30)) {
			/* Random bytes with no line end at all. */
			for (i = 0; i < len; i++)
				if (d[i] == '\n')
					d[i] = '.';
		} else {
			for (i = 0; i < len / 40; i++)
				d[below(c, len)] = '\n';
		}
		break;
	}
	return d;
}

/* A buffer of @len bytes to read into, followed by a canary. */
static uint8_t *
out_buf(struct ctx *c, size_t len)
{
	uint8_t *o = reserve(&c->out, &c->out_cap, len + CANARY_LEN);

	memset(o, CANARY, len + CANARY_LEN);
	return o;
}

/* The rope may write only the @got bytes it reports. */
static void
check_canary(struct ctx *c, const uint8_t *buf, size_t len, int64_t got)
{
	size_t from = got > 0 ? (size_t)got : 0;

	if (!buf)
		return;
	for (size_t i = from; i < len + CANARY_LEN; i++) {
		if (buf[i] != CANARY) {
			mismatch(c, __LINE__, "buf[i] == CANARY",
				 "the call wrote byte %zu of the buffer, past the %zu it reported",
				 i, from);
			return;
		}
	}
}

/* ------------------------------------------------------------------------ */
/* The model: BytesIO semantics, straight from CPython                      */
/* ------------------------------------------------------------------------ */

static void
model_reset(struct ctx *c, const void *bytes, size_t len)
{
	struct model *m = &c->m;

	reserve(&m->buf, &m->cap, MAX(len, (size_t)4096));
	if (len)
		memcpy(m->buf, bytes, len);
	m->size = len;
	m->pos = 0;
	m->closed = false;
	m->exports = 0;
	m->gen++;
}

/* Put @n > 0 bytes at @p, zero-filling any gap after the end. */
static bool
model_put(struct ctx *c, uint64_t p, const uint8_t *d, size_t n)
{
	struct model *m = &c->m;

	if (p > MODEL_LIMIT || n > MODEL_LIMIT - p) {
		mismatch(c, __LINE__, "p + n <= MODEL_LIMIT",
			 "test bug: a write at %" PRIu64 " of %zu bytes", p, n);
		return false;
	}
	reserve(&m->buf, &m->cap, (size_t)p + n);
	if (p > m->size)
		memset(m->buf + m->size, 0, (size_t)p - m->size);
	memcpy(m->buf + p, d, n);
	if (p + n > m->size)
		m->size = (size_t)p + n;
	m->gen++;
	return true;
}

/* write() when !@append, else append(): the bytes go at the end and the
 * position stays. @buf is NULL only to test the error. */
static int64_t
model_write(struct ctx *c, const void *buf, size_t len, bool append)
{
	struct model *m = &c->m;
	uint64_t p;

	if (m->closed)
		return -EBADF;
	if (m->exports)
		return -EBUSY;
	if (!buf && len)
		return -EINVAL;
	p = append ? m->size : m->pos;
	if ((uint64_t)len > (uint64_t)INT64_MAX - p)
		return -EOVERFLOW;
	if (len == 0)
		return 0;
	if (!model_put(c, p, buf, len))
		return -EIO;
	if (!append)
		m->pos = p + len;
	return (int64_t)len;
}

static int64_t
model_truncate(struct ctx *c, int64_t size)
{
	struct model *m = &c->m;

	if (m->closed)
		return -EBADF;
	if (m->exports)
		return -EBUSY;
	if (size < 0)
		return -EINVAL;
	if ((uint64_t)size < m->size) {
		m->size = (size_t)size;
		m->gen++;
	}
	return size;
}

/* read(): the bytes are at m->buf + *at when the result is positive. */
static int64_t
model_drain(struct ctx *c, size_t len)
{
	struct model *m = &c->m;
	size_t n;

	if (m->closed)
		return -EBADF;
	if (m->exports)
		return -EBUSY;
	n = MIN(len, m->size);
	if (n) {
		memmove(m->buf, m->buf + n, m->size - n);
		m->size -= n;
		m->gen++;
	}
	m->pos = m->pos > n ? m->pos - n : 0;
	return (int64_t)n;
}

static int64_t
model_read(struct model *m, const void *buf, size_t len, uint64_t *at)
{
	size_t n;

	*at = m->pos;
	if (m->closed)
		return -EBADF;
	if (!buf && len)
		return -EINVAL;
	if (m->pos >= m->size)
		return 0;
	n = MIN(len, (size_t)(m->size - m->pos));
	m->pos += n;
	return (int64_t)n;
}

static int64_t
model_readline(struct model *m, const void *buf, size_t len, uint64_t *at)
{
	const uint8_t *nl;
	size_t limit, n;

	*at = m->pos;
	if (m->closed)
		return -EBADF;
	if (!buf && len)
		return -EINVAL;
	if (m->pos >= m->size || len == 0)
		return 0;
	limit = MIN(len, (size_t)(m->size - m->pos));
	nl = memchr(m->buf + m->pos, '\n', limit);
	n = nl ? (size_t)(nl - (m->buf + m->pos)) + 1 : limit;
	m->pos += n;
	return (int64_t)n;
}

static int64_t
model_pread(const struct model *m, const void *buf, size_t len, int64_t off)
{
	if (m->closed)
		return -EBADF;
	if (off < 0 || (!buf && len))
		return -EINVAL;
	if ((uint64_t)off >= m->size)
		return 0;
	return (int64_t)MIN(len, (size_t)(m->size - (uint64_t)off));
}

static int64_t
model_seek(struct model *m, int64_t off, int whence)
{
	int64_t base, res;

	if (m->closed)
		return -EBADF;
	switch (whence) {
	case SEEK_SET:
		if (off < 0)
			return -EINVAL;
		m->pos = (uint64_t)off;
		return off;
	case SEEK_CUR:
		base = (int64_t)m->pos;
		break;
	case SEEK_END:
		base = (int64_t)m->size;
		break;
	default:
		return -EINVAL;
	}
	if (__builtin_add_overflow(base, off, &res))
		return -EOVERFLOW;
	/* A negative relative result clamps to 0, as in CPython. */
	if (res < 0)
		res = 0;
	m->pos = (uint64_t)res;
	return res;
}

static int64_t
model_tell(const struct model *m)
{
	return m->closed ? -EBADF : (int64_t)m->pos;
}

static int64_t
model_close(struct ctx *c)
{
	struct model *m = &c->m;

	if (m->closed)
		return 0;
	if (m->exports)
		return -EBUSY;
	m->closed = true;
	m->size = 0;
	m->pos = 0;
	m->gen++;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Comparing the rope with the model                                        */
/* ------------------------------------------------------------------------ */

/* Position, size, every byte and the invariants, after every step. */
static void
check_state(struct ctx *c)
{
	const struct model *m = &c->m;
	struct rope *r = c->r;
	int64_t tell, got;
	size_t size;
	uint8_t *buf;

	EXPECT(c, rope_closed(r) == m->closed, "rope_closed() is %d, expected %d",
	       rope_closed(r), m->closed);
	EXPECT(c, rope__check(r) == 0, "the rope's invariants do not hold");
	size = rope_size(r);
	EXPECT(c, size == m->size, "rope_size() is %zu, expected %zu", size,
	       m->size);
	tell = rope_tell(r);
	EXPECT(c, tell == model_tell(m),
	       "rope_tell() is %" PRId64 ", expected %" PRId64, tell,
	       model_tell(m));
	if (c->failed)
		return;
	buf = reserve(&c->chk, &c->chk_cap, m->size + 16);
	got = rope_pread(r, buf, m->size + 16, 0);
	if (m->closed) {
		EXPECT(c, got == -EBADF,
		       "rope_pread() on a closed rope returned %" PRId64, got);
		return;
	}
	EXPECT(c, got == (int64_t)m->size,
	       "rope_pread() of everything returned %" PRId64 ", expected %zu",
	       got, m->size);
	if (!c->failed && m->size && memcmp(buf, m->buf, m->size)) {
		size_t i = first_diff(buf, m->buf, m->size);

		mismatch(c, __LINE__, "contents == model",
			 "byte %zu of %zu is %#x, expected %#x", i, m->size,
			 buf[i], m->buf[i]);
	}
}

static void
check_value(struct ctx *c, const struct held_value *h)
{
	const uint8_t *d = rope_bytes_data(h->b);
	size_t n = rope_bytes_size(h->b);

	EXPECT(c, n == h->len, "a held value now has %zu bytes, it had %zu", n,
	       h->len);
	EXPECT(c, d != NULL, "rope_bytes_data() of a held value is NULL");
	if (c->failed || !n || !memcmp(d, h->copy, n))
		return;
	mismatch(c, __LINE__, "value == its copy",
		 "a held value of %zu bytes changed at byte %zu", n,
		 first_diff(d, h->copy, n));
}

/* Compare the iovecs of [off, off + len) of a snapshot with its copy,
 * taking them @w at a time, and return how many there were. */
static int
walk_snap(struct ctx *c, const struct held_snap *h, size_t off, size_t len,
	  int w)
{
	struct iovec iov[16];
	size_t want = off < h->len ? MIN(len, h->len - off) : 0, done = 0;
	int total = 0;

	while (done < want && !c->failed) {
		int k = rope_snap_iov(h->s, off + done, done ? want - done : len,
				      iov, w);

		EXPECT(c, k >= 1 && k <= w,
		       "rope_snap_iov(off=%zu, iovcnt=%d) returned %d with %zu bytes left",
		       off + done, w, k, want - done);
		for (int i = 0; i < k && !c->failed; i++) {
			size_t n = iov[i].iov_len;

			EXPECT(c, n > 0 && n <= want - done,
			       "snapshot iovec %d has %zu bytes, %zu left", i, n,
			       want - done);
			if (c->failed)
				break;
			if (memcmp(iov[i].iov_base, h->copy + off + done, n)) {
				mismatch(c, __LINE__, "snapshot == its copy",
					 "a held snapshot of %zu bytes changed at byte %zu",
					 h->len,
					 off + done + first_diff(iov[i].iov_base,
								 h->copy + off + done,
								 n));
			}
			done += n;
		}
		total += k;
	}
	return total;
}

/* @full: walk all of it; otherwise one random range. */
static void
check_snap(struct ctx *c, const struct held_snap *h, bool full)
{
	struct iovec iov[4];
	size_t size = rope_snap_size(h->s), off, len;
	int count, walked;

	EXPECT(c, size == h->len, "a held snapshot now has %zu bytes, it had %zu",
	       size, h->len);
	if (c->failed)
		return;
	if (full) {
		count = rope_snap_iov(h->s, 0, SIZE_MAX, NULL, 0);
		EXPECT(c, count >= 0 && (size ? count >= 1 : count == 0),
		       "rope_snap_iov() counts %d iovecs for %zu bytes", count,
		       size);
		walked = walk_snap(c, h, 0, SIZE_MAX, (int)range(c, 1, 16));
		EXPECT(c, walked == count,
		       "the iovecs taken in windows number %d, the count was %d",
		       walked, count);
		count = rope_snap_iov(h->s, size + range(c, 1, 10), 1, NULL, 0);
		EXPECT(c, count == -EINVAL,
		       "rope_snap_iov() past the end returned %d", count);
		count = rope_snap_iov(h->s, size, SIZE_MAX, iov, 4);
		EXPECT(c, count == 0, "rope_snap_iov() at the end returned %d",
		       count);
		count = rope_snap_iov(h->s, 0, SIZE_MAX, iov, -1);
		EXPECT(c, count == -EINVAL,
		       "rope_snap_iov(iovcnt=-1) returned %d", count);
		if (size) {
			count = rope_snap_iov(h->s, 0, SIZE_MAX, iov, 0);
			EXPECT(c, count == 0,
			       "rope_snap_iov(iovcnt=0) filled %d", count);
		}
		return;
	}

	off = below(c, size + 1);
	switch (below(c, 5)) {
	case 0:
		len = 0;
		break;
	case 1:
		len = 1;
		break;
	case 2:
		len = SIZE_MAX;
		break;
	case 3:
		len = size - off + range(c, 1, 1000);
		break;
	default:
		len = below(c, size - off + 1);
		break;
	}
	count = rope_snap_iov(h->s, off, len, NULL, 0);
	EXPECT(c, count >= 0 && ((off == size || !len) ? count == 0 : count >= 1),
	       "rope_snap_iov(off=%zu, len=%zu) counts %d iovecs of %zu bytes",
	       off, len, count, size);
	if (c->failed)
		return;
	walked = walk_snap(c, h, off, len, (int)range(c, 1, 16));
	EXPECT(c, walked == count,
	       "the iovecs of [%zu, +%zu) taken in windows number %d, the count was %d",
	       off, len, walked, count);
}

/* An export's iovecs cover exactly the live contents. */
static void
check_export(struct ctx *c, const struct held_export *e)
{
	const struct model *m = &c->m;
	size_t done = 0;

	for (int i = 0; i < e->n && !c->failed; i++) {
		size_t n = e->iov[i].iov_len;

		EXPECT(c, n > 0 && n <= m->size - done,
		       "export iovec %d of %d has %zu bytes, %zu left", i, e->n,
		       n, m->size - done);
		if (c->failed)
			return;
		if (memcmp(e->iov[i].iov_base, m->buf + done, n)) {
			mismatch(c, __LINE__, "export == contents",
				 "exported byte %zu differs from the contents",
				 done + first_diff(e->iov[i].iov_base,
						   m->buf + done, n));
		}
		done += n;
	}
	EXPECT(c, done == m->size, "the export covers %zu bytes of %zu", done,
	       m->size);
}

/* The regions the rope still borrows must be as they were handed over. */
static void
check_exts(struct ctx *c)
{
	size_t w = 0;

	for (size_t i = 0; i < c->nlive; i++) {
		struct ext *e = c->live[i];

		if (e->releases || e->refused)
			continue;
		c->live[w++] = e;
		if (e->len && memcmp(e->mem, e->copy, e->len)) {
			mismatch(c, __LINE__, "borrowed memory unchanged",
				 "the rope wrote byte %zu of a %zu-byte append_ref() region",
				 first_diff(e->mem, e->copy, e->len), e->len);
		}
	}
	c->nlive = w;
}

/* Everything held on the side, in full. */
static void
check_held(struct ctx *c)
{
	for (size_t i = 0; i < c->nvals && !c->failed; i++)
		check_value(c, &c->vals[i]);
	for (size_t i = 0; i < c->nsnaps && !c->failed; i++)
		check_snap(c, &c->snaps[i], true);
	for (size_t i = 0; i < c->nexps && !c->failed; i++)
		check_export(c, &c->exps[i]);
	if (!c->failed)
		check_exts(c);
}

/* ------------------------------------------------------------------------ */
/* Held values, snapshots and borrowed memory                               */
/* ------------------------------------------------------------------------ */

static void
drop_value_at(struct ctx *c, size_t i)
{
	struct held_value *h = &c->vals[i];

	check_value(c, h);
	while (h->refs--)
		rope_bytes_unref(h->b);
	free(h->copy);
	*h = c->vals[--c->nvals];
}

static void
hold_value(struct ctx *c, struct rope_bytes *b, const uint8_t *bytes,
	   size_t len)
{
	struct held_value *h;

	if (c->nvals == MAX_VALUES)
		drop_value_at(c, below(c, MAX_VALUES));
	h = &c->vals[c->nvals++];
	h->b = b;
	h->refs = 1;
	h->copy = xdup(bytes, len);
	h->len = len;
	if (chance(c, 20)) {
		/* A second reference must keep it alive just the same. */
		EXPECT(c, rope_bytes_ref(b) == b, "rope_bytes_ref() changed the pointer");
		h->refs++;
	}
}

static void
drop_snap_at(struct ctx *c, size_t i)
{
	struct held_snap *h = &c->snaps[i];

	check_snap(c, h, true);
	while (h->refs--)
		rope_snap_unref(h->s);
	free(h->copy);
	*h = c->snaps[--c->nsnaps];
}

static void
hold_snap(struct ctx *c, struct rope_snap *s, const uint8_t *bytes, size_t len)
{
	struct held_snap *h;

	if (c->nsnaps == MAX_SNAPS)
		drop_snap_at(c, below(c, MAX_SNAPS));
	h = &c->snaps[c->nsnaps++];
	h->s = s;
	h->refs = 1;
	h->copy = xdup(bytes, len);
	h->len = len;
	if (chance(c, 20)) {
		EXPECT(c, rope_snap_ref(s) == s, "rope_snap_ref() changed the pointer");
		h->refs++;
	}
}

/*
 * The release function of every region handed over. It must run exactly
 * once, with what was handed over, after the bytes were last used. The
 * region is poisoned and freed here, so a use after the release shows up as
 * a content mismatch (or under ASan, as a use after free).
 */
static void
release_ext(void *data, size_t len, void *arg)
{
	struct ext *e = arg;
	struct ctx *c = e->c;

	e->releases++;
	EXPECT(c, e->releases == 1,
	       "an append_ref() region of %zu bytes was released %u times",
	       e->len, e->releases);
	EXPECT(c, !e->refused,
	       "an append_ref() region was released after the call failed");
	EXPECT(c, data == e->addr && len == e->len,
	       "release(%p, %zu) for a region handed over as (%p, %zu)", data,
	       len, e->addr, e->len);
	if (e->releases != 1 || !e->mem)
		return;
	if (e->len && memcmp(e->mem, e->copy, e->len)) {
		mismatch(c, __LINE__, "borrowed memory unchanged",
			 "at release, byte %zu of a %zu-byte append_ref() region had changed",
			 first_diff(e->mem, e->copy, e->len), e->len);
	}
	memset(e->mem, 0xdd, e->len);
	free(e->mem);
	free(e->copy);
	e->mem = NULL;
	e->copy = NULL;
}

/* A region of @len bytes of generated data, registered for tracking. */
static struct ext *
ext_new(struct ctx *c, size_t len)
{
	struct ext *e = xmalloc(sizeof(*e));

	memset(e, 0, sizeof(*e));
	e->c = c;
	e->len = len;
	e->mem = xdup(gen_data(c, len), len);
	e->copy = xdup(e->mem, len);
	e->addr = e->mem;
	push_ptr(&c->exts, &c->nexts, &c->exts_cap, e);
	push_ptr(&c->live, &c->nlive, &c->live_cap, e);
	return e;
}

/* rope_append_ref() failed: the memory is still ours. */
static void
ext_refused(struct ext *e)
{
	e->refused = true;
	free(e->mem);
	free(e->copy);
	e->mem = NULL;
	e->copy = NULL;
}

/* ------------------------------------------------------------------------ */
/* Operations. Each returns false when it does not apply right now.         */
/* ------------------------------------------------------------------------ */

static void
seek_to(struct ctx *c, uint64_t target)
{
	int64_t want, got;

	note(c, "seek(%" PRIu64 ", SEEK_SET)", target);
	want = model_seek(&c->m, (int64_t)target, SEEK_SET);
	got = rope_seek(c->r, (int64_t)target, SEEK_SET);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
}

static bool
op_write(struct ctx *c)
{
	size_t len;
	uint8_t *buf;
	int64_t want, got;

	if (chance(c, 30))
		seek_to(c, pick_target(c));
	len = pick_len(c);
	buf = gen_data(c, len);
	if (!len && chance(c, 30))
		buf = NULL;
	note(c, "write(%s, %zu) at pos %" PRIu64 " of size %zu",
	     buf ? "buf" : "NULL", len, c->m.pos, c->m.size);
	want = model_write(c, buf, len, false);
	got = rope_write(c->r, buf, len);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	return true;
}

static bool
op_writev(struct ctx *c)
{
	struct iovec iov[5];
	size_t lens[5], total = 0, off = 0;
	int n = (int)below(c, 6);
	const struct iovec *iovp = iov;
	uint8_t *data;
	int64_t want, got;
	char desc[128];
	int used = 0;

	if (chance(c, 30))
		seek_to(c, pick_target(c));
	for (int i = 0; i < n; i++) {
		lens[i] = chance(c, 25) ? 0 : pick_len(c);
		total += lens[i];
	}
	data = gen_data(c, total);
	desc[0] = '\0';
	for (int i = 0; i < n; i++) {
		/* An empty buffer may have a NULL base: that is no error. */
		iov[i].iov_base = lens[i] || chance(c, 50) ? data + off : NULL;
		iov[i].iov_len = lens[i];
		off += lens[i];
		used += snprintf(desc + used, sizeof(desc) - (size_t)used,
				 "%s{%s, %zu}", i ? ", " : "",
				 iov[i].iov_base ? "buf" : "NULL", lens[i]);
	}
	if (n == 0 && chance(c, 50))
		iovp = NULL;
	note(c, "writev([%s], %d) at pos %" PRIu64 " of size %zu", desc, n,
	     c->m.pos, c->m.size);
	want = model_write(c, data, total, false);
	got = rope_writev(c->r, iovp, n);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	return true;
}

static bool
op_append(struct ctx *c)
{
	size_t len;
	uint8_t *buf;
	int64_t want, got;

	/* Append ignores the position, even one past the end. */
	if (chance(c, 20))
		seek_to(c, pick_target(c));
	len = pick_len(c);
	buf = gen_data(c, len);
	if (!len && chance(c, 30))
		buf = NULL;
	note(c, "append(%s, %zu) at pos %" PRIu64 " of size %zu",
	     buf ? "buf" : "NULL", len, c->m.pos, c->m.size);
	want = model_write(c, buf, len, true);
	got = rope_append(c->r, buf, len);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	return true;
}

static bool
op_append_ref(struct ctx *c)
{
	struct model *m = &c->m;
	size_t len = pick_len(c);
	struct ext *e = NULL;
	const void *data;
	int64_t want, got;

	if (chance(c, 10)) {
		/* Memory that outlives every use needs no release. */
		size_t off = below(c, sizeof(static_ext));

		len = MIN(len, sizeof(static_ext) - off);
		data = static_ext + off;
	} else {
		e = ext_new(c, len);
		data = len || chance(c, 50) ? e->addr : NULL;
		e->addr = data;
	}
	note(c, "append_ref(%s, %zu, %s) at pos %" PRIu64 " of size %zu",
	     e ? (data ? "heap" : "NULL") : "static", len,
	     e ? "release" : "NULL", m->pos, m->size);
	want = model_write(c, data, len, true);
	if (want > 0)
		want = 0;
	got = rope_append_ref(c->r, data, len, e ? release_ext : NULL, e);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	if (!e || c->failed)
		return true;
	if (got < 0) {
		EXPECT(c, e->releases == 0,
		       "the region was released although the call failed");
		ext_refused(e);
	} else if (len == 0) {
		EXPECT(c, e->releases == 1,
		       "an empty region was not released at once (%u releases)",
		       e->releases);
	} else {
		EXPECT(c, e->releases == 0,
		       "the region was released while the rope uses it");
	}
	return true;
}

/* read and readline differ only in the calls they compare. */
static bool
read_like(struct ctx *c, const char *name,
	  int64_t (*model_fn)(struct model *, const void *, size_t, uint64_t *),
	  ssize_t (*rope_fn)(struct rope *, void *, size_t))
{
	size_t len = pick_read_len(c, c->m.pos);
	uint8_t *buf = out_buf(c, len);
	uint64_t at;
	int64_t want, got;

	if (!len && chance(c, 30))
		buf = NULL;
	note(c, "%s(%s, %zu) at pos %" PRIu64 " of size %zu", name,
	     buf ? "buf" : "NULL", len, c->m.pos, c->m.size);
	want = model_fn(&c->m, buf, len, &at);
	got = rope_fn(c->r, buf, len);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	if (!c->failed && got > 0 && memcmp(buf, c->m.buf + at, (size_t)got))
		mismatch(c, __LINE__, "bytes read == model",
			 "byte %zu of the %s differs",
			 first_diff(buf, c->m.buf + at, (size_t)got), name);
	if (!c->failed)
		check_canary(c, buf, len, got);
	return true;
}

static bool
op_read(struct ctx *c)
{
	return read_like(c, "read", model_read, rope_read);
}

static bool
op_readline(struct ctx *c)
{
	return read_like(c, "readline", model_readline, rope_readline);
}

static bool
op_pread(struct ctx *c)
{
	unsigned k = (unsigned)below(c, 100);
	int64_t off, want, got;
	size_t len;
	uint8_t *buf;

	if (k < 5)
		off = chance(c, 20) ? INT64_MIN : -(int64_t)range(c, 1, 100);
	else if (k < 8)
		off = INT64_MAX;
	else
		off = (int64_t)pick_target(c);
	len = pick_read_len(c, off < 0 ? 0 : (uint64_t)off);
	buf = out_buf(c, len);
	if (!len && chance(c, 30))
		buf = NULL;
	note(c, "pread(%s, %zu, %" PRId64 ") size %zu", buf ? "buf" : "NULL",
	     len, off, c->m.size);
	want = model_pread(&c->m, buf, len, off);
	got = rope_pread(c->r, buf, len, off);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	if (!c->failed && got > 0 && memcmp(buf, c->m.buf + off, (size_t)got))
		mismatch(c, __LINE__, "pread bytes == model",
			 "byte %zu of the pread differs",
			 first_diff(buf, c->m.buf + off, (size_t)got));
	if (!c->failed)
		check_canary(c, buf, len, got);
	return true;
}

static bool
op_seek(struct ctx *c)
{
	static const int bad_whence[] = { 3, -1, 7, INT_MAX, INT_MIN };
	struct model *m = &c->m;
	unsigned k = (unsigned)below(c, 100);
	int64_t off, want, got;
	int whence;

	if (k < 4) {
		whence = bad_whence[below(c, ARRAY_SIZE(bad_whence))];
		off = (int64_t)below(c, 100);
	} else if (k < 8) {
		whence = SEEK_SET;
		off = chance(c, 20) ? INT64_MIN : -(int64_t)range(c, 1, 1000);
	} else if (k < 10) {
		/* Past INT64_MAX: -EOVERFLOW, and the position stays. A base
		 * of 0 would not overflow, so clamp instead then. */
		whence = m->size && chance(c, 50) ? SEEK_END : SEEK_CUR;
		off = INT64_MAX;
		if (whence == SEEK_CUR && !m->pos)
			off = INT64_MIN;
	} else if (k < 16) {
		/* A negative relative result clamps to 0. */
		whence = chance(c, 50) ? SEEK_CUR : SEEK_END;
		off = chance(c, 20) ? INT64_MIN :
		      -(int64_t)((whence == SEEK_CUR ? m->pos : m->size) +
				 range(c, 1, 1000));
	} else {
		uint64_t t = pick_target(c);

		whence = (int)below(c, 3);
		if (whence == SEEK_SET)
			off = (int64_t)t;
		else if (whence == SEEK_CUR)
			off = (int64_t)t - (int64_t)m->pos;
		else
			off = (int64_t)t - (int64_t)m->size;
	}
	note(c, "seek(%" PRId64 ", %d) at pos %" PRIu64 " of size %zu", off,
	     whence, m->pos, m->size);
	want = model_seek(m, off, whence);
	got = rope_seek(c->r, off, whence);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	return true;
}

static void
truncate_to(struct ctx *c, int64_t size)
{
	struct rope_mem_stats before, after;
	int64_t want, got;

	note(c, "truncate(%" PRId64 ") at pos %" PRIu64 " of size %zu", size,
	     c->m.pos, c->m.size);
	want = model_truncate(c, size);
	rope_mem_stats(&before);
	got = rope_truncate(c->r, size);
	rope_mem_stats(&after);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	EXPECT(c, after.allocs == before.allocs,
	       "truncating allocated %" PRIu64 " times",
	       after.allocs - before.allocs);
}

static bool
op_truncate(struct ctx *c)
{
	const struct model *m = &c->m;
	unsigned k = (unsigned)below(c, 100);
	int64_t size;

	if (k < 30)
		size = (int64_t)below(c, m->size);
	else if (k < 45)
		size = (int64_t)m->pos;
	else if (k < 60)
		size = (int64_t)(m->size + range(c, 1, 100000));
	else if (k < 70)
		size = 0;
	else if (k < 80)
		size = (int64_t)m->size;
	else if (k < 88)
		size = chance(c, 20) ? INT64_MIN : -(int64_t)range(c, 1, 1000);
	else if (k < 92)
		size = INT64_MAX;
	else
		size = (int64_t)below(c, m->size + 100);
	truncate_to(c, size);
	return true;
}

/* Searching across chunks must agree with memmem on the flat model. */
static bool
op_find(struct ctx *c)
{
	const struct model *m = &c->m;
	size_t nlen = (size_t)range(c, 1, 16);
	int64_t from = (int64_t)below(c, m->size + 2), want, got;
	uint8_t nd[16];

	if (m->size && chance(c, 70)) {
		size_t at = (size_t)below(c, m->size);

		nlen = MIN(nlen, m->size - at);
		memcpy(nd, m->buf + at, nlen);
		if (chance(c, 30))
			nd[below(c, nlen)] ^= 1;
	} else {
		for (size_t i = 0; i < nlen; i++)
			nd[i] = chance(c, 75) ? 0 : (uint8_t)'a';
	}
	note(c, "find(%zu bytes, from %" PRId64 ") in size %zu", nlen, from,
	     m->size);
	if (m->closed) {
		want = -EBADF;
	} else {
		const uint8_t *p = (uint64_t)from + nlen <= m->size
			? memmem(m->buf + from, m->size - (size_t)from, nd, nlen)
			: NULL;

		want = p ? (int64_t)(p - m->buf) : -ENOENT;
	}
	got = rope_find(c->r, nd, nlen, from);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	return true;
}

/* Pulling a range together changes no byte; the pointer shows the range. */
static bool
op_pullup(struct ctx *c)
{
	const struct model *m = &c->m;
	size_t off = (size_t)below(c, m->size + 1);
	size_t len = (size_t)below(c, m->size - off + 1);
	const void *p = NULL;
	int got;

	note(c, "pullup(%zu, %zu) of size %zu", off, len, m->size);
	got = rope_pullup(c->r, (int64_t)off, len, &p);
	if (m->closed) {
		EXPECT(c, got == -EBADF, "returned %d on a closed rope", got);
		return true;
	}
	/* While exported, a range that needs a copy is refused; one that
	 * lies in one segment is not: the model cannot tell which. */
	EXPECT(c, got == 0 || (m->exports && got == -EBUSY), "returned %d",
	       got);
	if (got == 0 && len && !c->failed && memcmp(p, m->buf + off, len))
		mismatch(c, __LINE__, "pulled-up bytes == model",
			 "byte %zu of the range differs",
			 first_diff(p, m->buf + off, len));
	return true;
}

/* Draining consumes the front, like a queue; it never allocates. */
static bool
op_drain(struct ctx *c)
{
	const struct model *m = &c->m;
	unsigned k = (unsigned)below(c, 100);
	struct rope_mem_stats before, after;
	int64_t want, got;
	size_t len;

	if (k < 50)
		len = (size_t)below(c, m->size + 1);
	else if (k < 65)
		len = m->size;
	else if (k < 80)
		len = (size_t)below(c, 64);
	else if (k < 90)
		len = SIZE_MAX;
	else
		len = m->size + (size_t)range(c, 1, 1000);
	note(c, "drain(%zu) at pos %" PRIu64 " of size %zu", len, m->pos,
	     m->size);
	want = model_drain(c, len);
	rope_mem_stats(&before);
	got = rope_drain(c->r, len);
	rope_mem_stats(&after);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	EXPECT(c, after.allocs == before.allocs,
	       "draining allocated %" PRIu64 " times",
	       after.allocs - before.allocs);
	return true;
}

/* Positions near INT64_MAX: nothing may wrap, and nothing is allocated. */
static bool
op_overflow(struct ctx *c)
{
	struct model *m = &c->m;
	uint64_t d = below(c, 16), at;
	int64_t p = INT64_MAX - (int64_t)d, want, got;
	size_t len = (size_t)d + 1 + below(c, 8);
	uint8_t *buf = gen_data(c, len);
	struct iovec iov[2] = { { buf, 1 }, { buf + 1, len - 1 } };
	uint8_t *out = out_buf(c, 10);
	uint64_t was = m->pos;

	seek_to(c, (uint64_t)p);

	note(c, "read(buf, 10)");
	want = model_read(m, out, 10, &at);
	got = rope_read(c->r, out, 10);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);

	note(c, "readline(buf, 10)");
	want = model_readline(m, out, 10, &at);
	got = rope_readline(c->r, out, 10);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);

	note(c, "pread(buf, 10, %" PRId64 ")", p);
	want = model_pread(m, out, 10, p);
	got = rope_pread(c->r, out, 10, p);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);

	note(c, "write(buf, %zu) at pos %" PRId64, len, p);
	want = model_write(c, buf, len, false);
	got = rope_write(c->r, buf, len);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);

	note(c, "writev([{buf, 1}, {buf, %zu}], 2) at pos %" PRId64, len - 1, p);
	want = model_write(c, buf, len, false);
	got = rope_writev(c->r, iov, 2);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);

	note(c, "write(buf, 0)");
	want = model_write(c, buf, 0, false);
	got = rope_write(c->r, buf, 0);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);

	truncate_to(c, INT64_MAX);

	note(c, "seek(%" PRId64 ", SEEK_CUR)", (int64_t)d + 1);
	want = model_seek(m, (int64_t)d + 1, SEEK_CUR);
	got = rope_seek(c->r, (int64_t)d + 1, SEEK_CUR);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);

	got = rope_tell(c->r);
	EXPECT(c, got == model_tell(m),
	       "rope_tell() is %" PRId64 ", expected %" PRId64, got,
	       model_tell(m));

	/* Back where it was before any other operation runs: the model
	 * cannot write that far out. */
	seek_to(c, was);
	return true;
}

/* Bad arguments fail with -EINVAL and change nothing. */
static bool
op_badargs(struct ctx *c)
{
	static struct iovec many[IOV_MAX + 1];
	static int sentinel;
	struct model *m = &c->m;
	struct rope *r = c->r, *nr = (struct rope *)&sentinel;
	struct rope_bytes *b = NULL;
	struct rope_snap *s = NULL;
	struct rope_info info;
	uint8_t buf[16] = "0123456789abcde";
	struct iovec iov[2] = { { buf, 3 }, { NULL, 5 } };
	size_t len = range(c, 1, 200);
	struct ext *e;
	int64_t got;
	unsigned k = (unsigned)below(c, 14);

	if (k == 12) {
		note(c, "every call with a NULL rope");
		EXPECT(c, rope_write(NULL, buf, 1) == -EINVAL, "rope_write");
		EXPECT(c, rope_writev(NULL, iov, 1) == -EINVAL, "rope_writev");
		EXPECT(c, rope_append(NULL, buf, 1) == -EINVAL, "rope_append");
		EXPECT(c, rope_append_ref(NULL, buf, 1, NULL, NULL) == -EINVAL,
		       "rope_append_ref");
		EXPECT(c, rope_truncate(NULL, 0) == -EINVAL, "rope_truncate");
		EXPECT(c, rope_read(NULL, buf, 1) == -EINVAL, "rope_read");
		EXPECT(c, rope_readline(NULL, buf, 1) == -EINVAL,
		       "rope_readline");
		EXPECT(c, rope_pread(NULL, buf, 1, 0) == -EINVAL, "rope_pread");
		EXPECT(c, rope_seek(NULL, 0, SEEK_SET) == -EINVAL, "rope_seek");
		EXPECT(c, rope_tell(NULL) == -EINVAL, "rope_tell");
		EXPECT(c, rope_close(NULL) == -EINVAL, "rope_close");
		EXPECT(c, rope_closed(NULL), "rope_closed");
		EXPECT(c, rope_size(NULL) == 0, "rope_size");
		EXPECT(c, rope_getvalue(NULL, &b) == -EINVAL, "rope_getvalue");
		EXPECT(c, rope_snapshot(NULL, &s) == -EINVAL, "rope_snapshot");
		EXPECT(c, rope_getbuffer(NULL, NULL, 0) == -EINVAL,
		       "rope_getbuffer");
		EXPECT(c, rope_releasebuffer(NULL) == -EINVAL,
		       "rope_releasebuffer");
		EXPECT(c, rope_get_info(NULL, &info) == -EINVAL,
		       "rope_get_info");
		EXPECT(c, rope_snap_iov(NULL, 0, 1, NULL, 0) == -EINVAL,
		       "rope_snap_iov");
		EXPECT(c, rope_snap_size(NULL) == 0, "rope_snap_size");
		EXPECT(c, rope_bytes_size(NULL) == 0, "rope_bytes_size");
		rope_free(NULL);
		rope_bytes_unref(NULL);
		rope_snap_unref(NULL);
		return true;
	}
	if (k == 13) {
		note(c, "constructors with bad arguments");
		got = rope_new_from(&nr, NULL, len);
		EXPECT(c, got == -EINVAL && nr == (struct rope *)&sentinel,
		       "rope_new_from(&out, NULL, %zu) returned %" PRId64, len,
		       got);
		got = rope_new_from(NULL, buf, 3);
		EXPECT(c, got == -EINVAL, "rope_new_from(NULL, ...) returned %" PRId64,
		       got);
		got = rope_new_from_bytes(&nr, NULL);
		EXPECT(c, got == -EINVAL,
		       "rope_new_from_bytes(&out, NULL) returned %" PRId64, got);
		got = rope_bytes_new(&b, NULL, len);
		EXPECT(c, got == -EINVAL,
		       "rope_bytes_new(&out, NULL, %zu) returned %" PRId64, len,
		       got);
		got = rope_bytes_new(NULL, buf, 3);
		EXPECT(c, got == -EINVAL,
		       "rope_bytes_new(NULL, ...) returned %" PRId64, got);
		got = rope_bytes_new(&b, buf, 3);
		EXPECT(c, got == 0, "rope_bytes_new() returned %" PRId64, got);
		if (got == 0) {
			got = rope_new_from_bytes(NULL, b);
			EXPECT(c, got == -EINVAL,
			       "rope_new_from_bytes(NULL, b) returned %" PRId64,
			       got);
			rope_bytes_unref(b);
		}
		return true;
	}

	/* The header does not order -EINVAL against -EBADF and -EBUSY, so
	 * bad arguments are tried on an open, unexported rope. */
	if (m->closed || m->exports)
		return false;
	switch (k) {
	case 0:
		note(c, "write(NULL, %zu) at pos %" PRIu64 " of size %zu", len,
		     m->pos, m->size);
		got = rope_write(r, NULL, len);
		break;
	case 1:
		note(c, "append(NULL, %zu) at size %zu", len, m->size);
		got = rope_append(r, NULL, len);
		break;
	case 2:
		note(c, "writev(iov, -1)");
		got = rope_writev(r, iov, -1);
		break;
	case 3:
		/* All or nothing: the valid first buffer is not written. */
		note(c, "writev([{buf, 3}, {NULL, 5}], 2)");
		got = rope_writev(r, iov, 2);
		break;
	case 4:
		note(c, "writev(%d iovecs)", IOV_MAX + 1);
		many[0].iov_base = buf;
		many[0].iov_len = 1;
		got = rope_writev(r, many, IOV_MAX + 1);
		break;
	case 5:
		note(c, "append_ref(NULL, %zu, release)", len);
		e = ext_new(c, 0);
		e->addr = NULL;
		e->len = len;
		got = rope_append_ref(r, NULL, len, release_ext, e);
		EXPECT(c, e->releases == 0, "released after a failed call");
		/* Even if the rope took it, there are no bytes to check. */
		ext_refused(e);
		break;
	case 6:
		note(c, "read(NULL, %zu) at pos %" PRIu64 " of size %zu", len,
		     m->pos, m->size);
		got = rope_read(r, NULL, len);
		break;
	case 7:
		note(c, "readline(NULL, %zu) at pos %" PRIu64 " of size %zu",
		     len, m->pos, m->size);
		got = rope_readline(r, NULL, len);
		break;
	case 8:
		note(c, "pread(NULL, %zu, 0) size %zu", len, m->size);
		got = rope_pread(r, NULL, len, 0);
		break;
	case 9:
		note(c, "getbuffer(iov, -1)");
		got = rope_getbuffer(r, iov, -1);
		break;
	case 10:
		note(c, "getvalue(r, NULL)");
		got = rope_getvalue(r, NULL);
		break;
	default:
		note(c, "snapshot(r, NULL)");
		got = rope_snapshot(r, NULL);
		break;
	}
	EXPECT(c, got == -EINVAL, "returned %" PRId64 ", expected -EINVAL", got);
	return true;
}

static bool
op_info(struct ctx *c)
{
	const struct model *m = &c->m;
	struct rope_info info;
	int got;

	note(c, "get_info()");
	got = rope_get_info(c->r, &info);
	EXPECT(c, got == (m->closed ? -EBADF : 0), "returned %d", got);
	if (got == 0 && !c->failed) {
		EXPECT(c, info.size == m->size, "info.size %zu, size %zu",
		       info.size, m->size);
		EXPECT(c, info.segments <= m->size &&
			  (info.segments == 0) == (m->size == 0),
		       "%zu segments for %zu bytes", info.segments, m->size);
	}
	got = rope_get_info(c->r, NULL);
	EXPECT(c, got == -EINVAL, "get_info(r, NULL) returned %d", got);
	return true;
}

/* getvalue(), checked against the model and the cache. */
static struct rope_bytes *
take_value(struct ctx *c)
{
	const struct model *m = &c->m;
	struct rope_bytes *b = NULL, *b2 = NULL;
	const uint8_t *d;
	int got;

	note(c, "getvalue() of size %zu%s", m->size,
	     m->exports ? " while exported" : "");
	got = rope_getvalue(c->r, &b);
	EXPECT(c, got == (m->closed ? -EBADF : 0), "returned %d", got);
	if (got < 0 || c->failed)
		return NULL;
	d = rope_bytes_data(b);
	EXPECT(c, rope_bytes_size(b) == m->size && d,
	       "the value has %zu bytes at %p, expected %zu", rope_bytes_size(b),
	       (const void *)d, m->size);
	if (!c->failed && m->size && memcmp(d, m->buf, m->size))
		mismatch(c, __LINE__, "value == contents",
			 "byte %zu of the value differs",
			 first_diff(d, m->buf, m->size));
	if (m->exports) {
		/* Exported bytes can still change: each call copies anew. */
		c->cached_ok = false;
		if (m->size && chance(c, 30) && !c->failed) {
			got = rope_getvalue(c->r, &b2);
			EXPECT(c, got == 0 && b2 != b,
			       "a second getvalue() while exported returned %d, %s",
			       got, b2 == b ? "the same value" : "a new value");
			if (got == 0)
				rope_bytes_unref(b2);
		}
		return b;
	}
	if (c->cached_ok && c->cached_gen == m->gen)
		EXPECT(c, b == c->cached,
		       "getvalue() with no change since the last one returned a new value");
	c->cached = b;
	c->cached_gen = m->gen;
	c->cached_ok = true;
	return b;
}

static bool
op_getvalue(struct ctx *c)
{
	struct rope_bytes *b = take_value(c);

	if (!b || c->failed)
		return true;
	if (chance(c, 60))
		hold_value(c, b, c->m.buf, c->m.size);
	else
		rope_bytes_unref(b);
	return true;
}

static bool
op_drop_value(struct ctx *c)
{
	if (!c->nvals)
		return false;
	note(c, "drop a value");
	drop_value_at(c, below(c, c->nvals));
	return true;
}

static bool
op_bytes_new(struct ctx *c)
{
	size_t len = pick_len(c);
	uint8_t *data = gen_data(c, len);
	struct rope_bytes *b = NULL;
	int got;

	note(c, "bytes_new(buf, %zu)", len);
	got = rope_bytes_new(&b, data, len);
	EXPECT(c, got == 0, "returned %d", got);
	if (got == 0 && !c->failed)
		hold_value(c, b, data, len);
	if (!c->failed)
		check_value(c, &c->vals[c->nvals - 1]);
	return true;
}

static bool
op_snapshot(struct ctx *c)
{
	const struct model *m = &c->m;
	struct rope_snap *s = NULL;
	struct held_snap *h;
	int got;

	note(c, "snapshot() of size %zu%s", m->size,
	     m->exports ? " while exported" : "");
	got = rope_snapshot(c->r, &s);
	EXPECT(c, got == (m->closed ? -EBADF : 0), "returned %d", got);
	if (got < 0 || c->failed)
		return true;
	hold_snap(c, s, m->buf, m->size);
	h = &c->snaps[c->nsnaps - 1];
	check_snap(c, h, true);
	if (chance(c, 30) && !c->failed)
		drop_snap_at(c, c->nsnaps - 1);
	return true;
}

static bool
op_drop_snap(struct ctx *c)
{
	if (!c->nsnaps)
		return false;
	note(c, "drop a snapshot");
	drop_snap_at(c, below(c, c->nsnaps));
	return true;
}

static bool
op_check_snap(struct ctx *c)
{
	if (!c->nsnaps)
		return false;
	note(c, "snap_iov() of a random range");
	check_snap(c, &c->snaps[below(c, c->nsnaps)], false);
	return true;
}

/*
 * A zero gap around or above 1 MiB, the size of the library's real zero
 * block, often left as the end of the stream or as all of it: reading,
 * flattening, snapshotting and exporting such a run must still give zeros.
 */
static bool
op_gap(struct ctx *c)
{
	struct model *m = &c->m;
	uint64_t gap = range(c, (1u << 20) - 16, 5u << 19);
	size_t len = range(c, 1, 16);
	uint8_t *buf = gen_data(c, len);
	int64_t want, got;

	if (chance(c, 50))
		truncate_to(c, 0);
	seek_to(c, m->size + gap);
	note(c, "write(buf, %zu) at pos %" PRIu64 " of size %zu", len, m->pos,
	     m->size);
	want = model_write(c, buf, len, false);
	got = rope_write(c->r, buf, len);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	/* Cut into the gap, so the stream ends in zeros. */
	if (got > 0 && chance(c, 50))
		truncate_to(c, (int64_t)(m->size - range(c, len, len + 64)));
	if (!(c->flags & F_VALUES) || c->failed)
		return true;
	/* Held for long, values this large would make every step slow, so
	 * only some are kept. */
	if (chance(c, 50)) {
		struct rope_bytes *b = take_value(c);

		if (b && !c->failed && chance(c, 10))
			hold_value(c, b, m->buf, m->size);
		else
			rope_bytes_unref(b);
	}
	if (chance(c, 50) && !c->failed) {
		struct rope_snap *s = NULL;

		note(c, "snapshot() of size %zu", m->size);
		got = rope_snapshot(c->r, &s);
		EXPECT(c, got == (m->closed ? -EBADF : 0), "returned %" PRId64,
		       got);
		if (got == 0 && !c->failed) {
			hold_snap(c, s, m->buf, m->size);
			check_snap(c, &c->snaps[c->nsnaps - 1], true);
			if (chance(c, 90))
				drop_snap_at(c, c->nsnaps - 1);
		}
	}
	return true;
}

static bool
op_getbuffer(struct ctx *c)
{
	struct model *m = &c->m;
	struct iovec small[1], *iov;
	int count, got, extra;

	note(c, "getbuffer(NULL, 0) of size %zu", m->size);
	count = rope_getbuffer(c->r, NULL, (int)below(c, 4));
	if (m->closed) {
		EXPECT(c, count == -EBADF, "returned %d, expected -EBADF", count);
		got = rope_getbuffer(c->r, small, 1);
		EXPECT(c, got == -EBADF, "an export returned %d, expected -EBADF",
		       got);
		return true;
	}
	EXPECT(c, count >= 0 && (m->size ? count >= 1 : count == 0),
	       "counts %d iovecs for %zu bytes", count, m->size);
	if (c->failed || c->nexps == MAX_EXPORTS)
		return true;

	iov = xmalloc(((size_t)count + 3) * sizeof(*iov));
	if (count > 0 && chance(c, 20)) {
		note(c, "getbuffer(iov, %d)", count - 1);
		got = rope_getbuffer(c->r, count > 1 ? iov : small, count - 1);
		EXPECT(c, got == -ENOBUFS, "returned %d, expected -ENOBUFS", got);
	}
	if (chance(c, 10)) {
		note(c, "getbuffer(iov, -1)");
		got = rope_getbuffer(c->r, iov, -1);
		EXPECT(c, got == -EINVAL, "returned %d, expected -EINVAL", got);
	}
	if (c->failed) {
		free(iov);
		return true;
	}
	extra = (int)below(c, 3);
	memset(iov, 0xee, ((size_t)count + 3) * sizeof(*iov));
	note(c, "getbuffer(iov, %d)", count + extra);
	got = rope_getbuffer(c->r, iov, count + extra);
	EXPECT(c, got >= 0 && got <= count,
	       "returned %d, the count was %d", got, count);
	if (got < 0) {
		free(iov);
		return true;
	}
	m->exports++;
	m->gen++;
	c->cached_ok = false;
	c->exps[c->nexps].iov = iov;
	c->exps[c->nexps].n = got;
	c->nexps++;
	check_export(c, &c->exps[c->nexps - 1]);
	return true;
}

/* Write through an export: the contents change, nothing held does. */
static bool
op_export_write(struct ctx *c)
{
	struct model *m = &c->m;
	const struct held_export *e;
	size_t off, len, skip, done = 0;
	uint8_t *data;

	if (!c->nexps || !m->size)
		return false;
	e = &c->exps[below(c, c->nexps)];
	off = below(c, m->size);
	/* MIN() evaluates its arguments twice: pick the length first. */
	len = MAX(pick_len(c), (size_t)1);
	len = MIN(len, m->size - off);
	data = gen_data(c, len);
	note(c, "write %zu bytes through an export at offset %zu of %zu", len,
	     off, m->size);
	skip = off;
	for (int i = 0; i < e->n && done < len; i++) {
		size_t n = e->iov[i].iov_len;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		n = MIN(n - skip, len - done);
		memcpy((uint8_t *)e->iov[i].iov_base + skip, data + done, n);
		done += n;
		skip = 0;
	}
	EXPECT(c, done == len, "the export's iovecs held only %zu of %zu bytes",
	       done, len);
	memcpy(m->buf + off, data, len);
	m->gen++;
	check_held(c);
	return true;
}

static bool
op_releasebuffer(struct ctx *c)
{
	struct model *m = &c->m;
	int want, got;

	if (!c->nexps && !chance(c, 10))
		return false;
	note(c, "releasebuffer() with %u exports", m->exports);
	want = m->exports ? 0 : -EINVAL;
	got = rope_releasebuffer(c->r);
	EXPECT(c, got == want, "returned %d, expected %d", got, want);
	if (got == 0 && want == 0) {
		m->exports--;
		free(c->exps[--c->nexps].iov);
	}
	return true;
}

static bool
op_close(struct ctx *c)
{
	int64_t want;
	int got;

	note(c, "close() with %u exports%s", c->m.exports,
	     c->m.closed ? ", closed" : "");
	want = model_close(c);
	got = rope_close(c->r);
	EXPECT(c, got == want, "returned %d, expected %" PRId64, got, want);
	EXPECT(c, rope_closed(c->r) == c->m.closed, "rope_closed() is %d",
	       rope_closed(c->r));
	if (c->m.closed && !c->failed) {
		got = rope_close(c->r);
		EXPECT(c, got == 0, "closing again returned %d", got);
		c->cached_ok = false;
		/* Closing frees the contents, never what was taken from it. */
		check_held(c);
	}
	return true;
}

/* End every export, as the caller must before rope_free(). */
static void
release_all(struct ctx *c)
{
	while (c->nexps) {
		int got;

		note(c, "releasebuffer()");
		got = rope_releasebuffer(c->r);
		EXPECT(c, got == 0, "returned %d", got);
		c->m.exports--;
		free(c->exps[--c->nexps].iov);
	}
}

static bool
op_reopen(struct ctx *c)
{
	struct model *m = &c->m;
	struct rope_bytes *src = NULL, *b;
	const void *src_data = NULL;
	uint8_t *data;
	size_t len;
	int got = 0;
	unsigned k = (unsigned)below(c, 4);

	release_all(c);
	note(c, "free() of a%s rope of size %zu", m->closed ? " closed" : "n open",
	     m->size);
	rope_free(c->r);
	c->r = NULL;
	/* Values and snapshots outlive the rope. */
	check_held(c);
	if (c->failed)
		return true;

	if (k == 2 && !c->nvals)
		k = 3;
	switch (k) {
	case 0:
		note(c, "new()");
		c->r = rope_new();
		EXPECT(c, c->r != NULL, "rope_new() failed");
		model_reset(c, NULL, 0);
		break;
	case 1:
		len = pick_len(c);
		data = gen_data(c, len);
		note(c, "new_from(buf, %zu)", len);
		got = rope_new_from(&c->r, len || chance(c, 50) ? data : NULL,
				    len);
		EXPECT(c, got == 0 && c->r, "returned %d", got);
		model_reset(c, data, len);
		break;
	case 2:
		/* Share a held value, which must not change when the new
		 * rope is written. */
		src = c->vals[below(c, c->nvals)].b;
		len = rope_bytes_size(src);
		src_data = rope_bytes_data(src);
		note(c, "new_from_bytes(held value of %zu bytes)", len);
		got = rope_new_from_bytes(&c->r, src);
		EXPECT(c, got == 0 && c->r, "returned %d", got);
		model_reset(c, src_data, len);
		break;
	default:
		/* The caller may drop its reference at once. */
		len = pick_len(c);
		data = gen_data(c, len);
		note(c, "new_from_bytes(bytes_new(buf, %zu)), then unref", len);
		got = rope_bytes_new(&src, data, len);
		EXPECT(c, got == 0, "rope_bytes_new() returned %d", got);
		if (got < 0)
			return true;
		src_data = rope_bytes_data(src);
		got = rope_new_from_bytes(&c->r, src);
		EXPECT(c, got == 0 && c->r, "returned %d", got);
		rope_bytes_unref(src);
		model_reset(c, data, len);
		break;
	}
	c->cached_ok = false;
	if (c->failed || !src_data || !m->size || !chance(c, 50))
		return true;
	/* A rope made from a value holds it in one segment: getvalue()
	 * gives the same bytes back without copying them. */
	b = take_value(c);
	if (!b || c->failed)
		return true;
	EXPECT(c, rope_bytes_data(b) == src_data,
	       "getvalue() of a rope made from a value copied it");
	if (chance(c, 50))
		hold_value(c, b, m->buf, m->size);
	else
		rope_bytes_unref(b);
	return true;
}

#define SWAP(a, b)                                                      \
	do {                                                            \
		__typeof__(a) t_ = (a);                                 \
		(a) = (b);                                              \
		(b) = t_;                                               \
	} while (0)

/* Make the twin the rope that operations act on, and the other way round. */
static void
swap_twin(struct ctx *c)
{
	struct stream *t = &c->twin;
	struct held_export exps[MAX_EXPORTS];

	SWAP(c->r, t->r);
	SWAP(c->m, t->m);
	SWAP(c->cached, t->cached);
	SWAP(c->cached_gen, t->cached_gen);
	SWAP(c->cached_ok, t->cached_ok);
	SWAP(c->nexps, t->nexps);
	memcpy(exps, c->exps, sizeof(exps));
	memcpy(c->exps, t->exps, sizeof(exps));
	memcpy(t->exps, exps, sizeof(exps));
}

/* The twin must not have changed, whatever was done to the other rope. */
static void
check_twin(struct ctx *c)
{
	c->where = "the twin";
	swap_twin(c);
	check_state(c);
	for (size_t i = 0; i < c->nexps && !c->failed; i++)
		check_export(c, &c->exps[i]);
	swap_twin(c);
	c->where = NULL;
}

static void
twin_free(struct ctx *c)
{
	if (!c->have_twin)
		return;
	swap_twin(c);
	release_all(c);
	note(c, "free() the twin");
	rope_free(c->r);
	c->r = NULL;
	free(c->m.buf);
	memset(&c->m, 0, sizeof(c->m));
	swap_twin(c);
	c->have_twin = false;
}

/* Replace the twin with a rope made from the active one's contents: most
 * often from its value, so the two share chunks. */
static bool
op_fork(struct ctx *c)
{
	struct rope *nr = NULL;
	struct rope_bytes *b;
	int got;

	if (c->m.closed)
		return false;
	twin_free(c);
	if (c->failed)
		return true;
	if (chance(c, 20)) {
		note(c, "twin = new_from(buf, %zu)", c->m.size);
		got = rope_new_from(&nr, c->m.buf, c->m.size);
	} else {
		b = take_value(c);
		if (!b || c->failed)
			return true;
		note(c, "twin = new_from_bytes(that value)");
		got = rope_new_from_bytes(&nr, b);
		if (chance(c, 50))
			hold_value(c, b, c->m.buf, c->m.size);
		else
			rope_bytes_unref(b);
	}
	EXPECT(c, got == 0 && nr, "returned %d", got);
	if (got < 0 || !nr)
		return true;
	/* The twin slot is empty now: fill it from the active model. */
	swap_twin(c);
	c->r = nr;
	model_reset(c, c->twin.m.buf, c->twin.m.size);
	c->cached_ok = false;
	swap_twin(c);
	c->have_twin = true;
	return true;
}

static bool
op_swap(struct ctx *c)
{
	if (!c->have_twin)
		return false;
	note(c, "swap to the other rope");
	swap_twin(c);
	return true;
}

struct op_def {
	const char *name;
	bool (*fn)(struct ctx *c);
	unsigned weight;
	unsigned needs;     /* F_* flags the run must have */
};

static const struct op_def ops[] = {
	{ "write",         op_write,         160, 0 },
	{ "writev",        op_writev,         50, 0 },
	{ "append",        op_append,         50, 0 },
	{ "append_ref",    op_append_ref,     40, F_REFS },
	{ "read",          op_read,           90, 0 },
	{ "readline",      op_readline,       80, 0 },
	{ "pread",         op_pread,          60, 0 },
	{ "seek",          op_seek,          120, 0 },
	{ "truncate",      op_truncate,       40, 0 },
	{ "drain",         op_drain,          30, 0 },
	{ "find",          op_find,           25, 0 },
	{ "pullup",        op_pullup,         20, 0 },
	{ "overflow",      op_overflow,        4, 0 },
	{ "gap",           op_gap,             2, 0 },
	{ "badargs",       op_badargs,         8, 0 },
	{ "info",          op_info,            5, 0 },
	{ "getvalue",      op_getvalue,       40, F_VALUES },
	{ "drop_value",    op_drop_value,     20, F_VALUES },
	{ "bytes_new",     op_bytes_new,       5, F_VALUES },
	{ "snapshot",      op_snapshot,       30, F_VALUES },
	{ "drop_snap",     op_drop_snap,      15, F_VALUES },
	{ "check_snap",    op_check_snap,     25, F_VALUES },
	{ "getbuffer",     op_getbuffer,      10, F_EXPORTS },
	{ "export_write",  op_export_write,   40, F_EXPORTS },
	{ "releasebuffer", op_releasebuffer,  60, F_EXPORTS },
	{ "close",         op_close,           6, F_LIFE },
	{ "reopen",        op_reopen,          6, F_LIFE },
	{ "fork",          op_fork,            4, F_TWIN },
	{ "swap",          op_swap,           10, F_TWIN },
};

_Static_assert(ARRAY_SIZE(ops) <= ARRAY_SIZE(((struct ctx *)0)->counts),
	       "one counter per operation");

/* ------------------------------------------------------------------------ */
/* The run                                                                  */
/* ------------------------------------------------------------------------ */

static void
one_step(struct ctx *c)
{
	unsigned total = 0;

	/* A closed rope is reopened after a few steps of -EBADF. */
	if (c->m.closed && chance(c, 10)) {
		for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
			if (ops[i].fn == op_reopen)
				c->counts[i]++;
		op_reopen(c);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if ((ops[i].needs & c->flags) == ops[i].needs)
			total += ops[i].weight;
	for (;;) {
		unsigned pick = (unsigned)below(c, total);

		for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
			if ((ops[i].needs & c->flags) != ops[i].needs)
				continue;
			if (pick >= ops[i].weight) {
				pick -= ops[i].weight;
				continue;
			}
			if (ops[i].fn(c)) {
				c->counts[i]++;
				return;
			}
			break;
		}
	}
}

/* Keep the stream small enough that a run takes seconds. */
static void
bound_size(struct ctx *c)
{
	const struct model *m = &c->m;

	if (m->closed || m->exports)
		return;
	if (m->size > SIZE_HARD || (m->size > SIZE_SOFT && chance(c, 20)))
		truncate_to(c, (int64_t)below(c, 65536));
	if (!c->failed && m->pos > (uint64_t)m->size + (2u << 20))
		seek_to(c, pick_target(c));
}

static uint64_t
env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return dflt;
	v = strtoull(s, &end, 0);
	return *end ? dflt : (uint64_t)v;
}

/* Tear down in one place, whether the run passed or not. */
static void
finish(struct ctx *c)
{
	size_t unreleased = 0, twice = 0;

	for (int k = 0; k < 2; k++) {
		if (k == 1 && !c->have_twin)
			break;
		if (k == 1)
			swap_twin(c);
		/* The exports the model knows of; after a mismatch the rope
		 * may disagree, which is harmless here. */
		while (c->nexps) {
			rope_releasebuffer(c->r);
			free(c->exps[--c->nexps].iov);
		}
		c->m.exports = 0;
		note(c, "final free()");
		rope_free(c->r);
		c->r = NULL;
		if (k == 1) {
			free(c->m.buf);
			c->m.buf = NULL;
			swap_twin(c);
		}
	}
	if (!c->failed)
		check_held(c);
	while (c->nvals)
		drop_value_at(c, c->nvals - 1);
	while (c->nsnaps)
		drop_snap_at(c, c->nsnaps - 1);

	/* Nothing references the borrowed memory any more. */
	for (size_t i = 0; i < c->nexts; i++) {
		struct ext *e = c->exts[i];

		if (e->refused)
			continue;
		if (e->releases == 0)
			unreleased++;
		else if (e->releases > 1)
			twice++;
	}
	EXPECT(c, unreleased == 0 && twice == 0,
	       "of %zu append_ref() regions, %zu were never released and %zu more than once",
	       c->nexts, unreleased, twice);
	for (size_t i = 0; i < sizeof(static_ext); i++) {
		if (static_ext[i] != (uint8_t)(i * 7 + 3)) {
			mismatch(c, __LINE__, "static memory unchanged",
				 "the rope wrote byte %zu of static append_ref() memory",
				 i);
			break;
		}
	}
	for (size_t i = 0; i < c->nexts; i++) {
		free(c->exts[i]->mem);
		free(c->exts[i]->copy);
		free(c->exts[i]);
	}
	free(c->exts);
	free(c->live);
	free(c->m.buf);
	free(c->data);
	free(c->out);
	free(c->chk);
}

static void
run_model(const char *name, unsigned flags, uint64_t salt)
{
	struct ctx *c = xmalloc(sizeof(*c));
	size_t mem_before = t_mem_now();

	memset(c, 0, sizeof(*c));
	c->name = name;
	c->flags = flags;
	c->seed = env_u64("ROPEIO_SEED", DEFAULT_SEED);
	c->rng = c->seed ^ (salt * UINT64_C(0xd1342543de82ef95));
	c->steps = (unsigned long)env_u64("ROPEIO_STEPS", MODEL_STEPS);
	c->steps = MAX(c->steps, MODEL_STEPS);
	c->trace = env_u64("ROPEIO_TRACE", 0) != 0;
	for (size_t i = 0; i < sizeof(static_ext); i++)
		static_ext[i] = (uint8_t)(i * 7 + 3);
	model_reset(c, NULL, 0);
	c->r = rope_new();
	CU_ASSERT_PTR_NOT_NULL(c->r);
	if (!c->r) {
		free(c->m.buf);
		free(c);
		return;
	}
	crash_handler_install(c);

	for (c->step = 0; c->step < c->steps && !c->failed; c->step++) {
		c->op[0] = '\0';
		one_step(c);
		if (!c->failed)
			bound_size(c);
		if (!c->failed)
			check_state(c);
		if (!c->failed && c->have_twin)
			check_twin(c);
		if (!c->failed)
			check_held(c);
		if (!c->failed)
			c->done++;
	}
	c->op[0] = '\0';
	finish(c);
	crash_handler_remove();

	/* With every rope, value and snapshot gone, so is their memory. */
	EXPECT(c, t_mem_now() == mem_before,
	       "ropeio still holds %zd bytes after everything was freed",
	       (ssize_t)(t_mem_now() - mem_before));

	/* A run that did nothing must not pass. */
	CU_ASSERT(c->done >= MODEL_STEPS);
	printf("\n    %s: %lu steps, ROPEIO_SEED=%#" PRIx64 "\n    ", name,
	       c->done, c->seed);
	for (size_t i = 0, n = 0; i < ARRAY_SIZE(ops); i++)
		if (c->counts[i])
			printf("%s%s %lu", n++ ? ", " : "", ops[i].name,
			       c->counts[i]);
	printf("\n    ");
	fflush(stdout);
	free(c);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

/* Everything, with ropes closed, freed and rebuilt from values. */
static void
test_model_close_reopen(void)
{
	run_model("close_reopen",
		  F_REFS | F_VALUES | F_EXPORTS | F_LIFE | F_TWIN, 3);
}

/* Writes and reads mixed with values, snapshots, exports and a twin. */
static void
test_model_values_exports(void)
{
	run_model("values_exports", F_REFS | F_VALUES | F_EXPORTS | F_TWIN, 2);
}

/* Only the stream: writes, appends, reads, seeks and truncates. */
static void
test_model_write_read(void)
{
	run_model("write_read", F_REFS, 1);
}

static const struct t_test tests[] = {
	{ "close_reopen", test_model_close_reopen },
	{ "values_exports", test_model_values_exports },
	{ "write_read", test_model_write_read },
};

int
main(void)
{
	return t_run("model", tests, ARRAY_SIZE(tests));
}
