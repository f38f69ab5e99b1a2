/* SPDX-License-Identifier: MIT */
/*
 * A seeded, randomized differential test. Every operation runs against a
 * rope and against a flat reference model of BytesIO, in model.c (one
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
 *
 * This file is the driver: reporting, randomness, the run and the tests.
 * The operations are in model-ops.c; model.h is what the three share.
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

#include "model.h"

/* Every run performs at least this many operations, unless it fails. */
#define MODEL_STEPS 100000UL

/*
 * Streams above SIZE_SOFT are cut back within a few steps, and above
 * SIZE_HARD at once, so a run stays fast while some steps still see streams
 * past 1 MiB, where a zero gap is longer than the library's real zero block.
 */
#define SIZE_SOFT (256u * 1024)
#define SIZE_HARD (4u * 1024 * 1024)

/* Bytes after a read's length that the rope must leave alone. */
#define CANARY_LEN 64
#define CANARY 0xa7

#define DEFAULT_SEED UINT64_C(0x726f7065696f2d31)

/* For the crash handler, which has no other way to find the run. */
static struct ctx *g_ctx;

/* ------------------------------------------------------------------------ */
/* Reporting                                                                */
/* ------------------------------------------------------------------------ */

void __attribute__((format(printf, 5, 6)))
t_mismatch(struct ctx *c, const char *file, int line, const char *expr,
	   const char *fmt, ...)
{
	va_list ap;

	/* Only the first mismatch is reported: later ones are consequences. */
	if (c->failed)
		return;
	c->failed = true;
	CU_assertImplementation(CU_FALSE, (unsigned int)line, expr, file,
				"", CU_FALSE);
	fprintf(stderr,
		"\nmodel %s: mismatch at step %lu (ROPEIO_SEED=%#" PRIx64 ")\n"
		"  calls: %s\n  check: %s (%s:%d)%s%s\n  ",
		c->name, c->step, c->seed, c->op, expr, file, line,
		c->where ? ", in " : "", c->where ? c->where : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}


/* Record a call of the current step, so a mismatch can show them all. */
void __attribute__((format(printf, 2, 3)))
t_note(struct ctx *c, const char *fmt, ...)
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

size_t
t_first_diff(const uint8_t *a, const uint8_t *b, size_t n)
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

void *
t_xmalloc(size_t n)
{
	return xrealloc(NULL, n);
}

uint8_t *
t_xdup(const void *p, size_t n)
{
	uint8_t *d = t_xmalloc(n);

	if (n)
		memcpy(d, p, n);
	return d;
}

/* Make *@buf hold at least @need bytes, growing geometrically. */
uint8_t *
t_reserve(uint8_t **buf, size_t *cap, size_t need)
{
	if (need > *cap) {
		size_t n = MAX(need, *cap * 2);

		*buf = xrealloc(*buf, n);
		*cap = n;
	}
	return *buf;
}

void
t_push_ptr(struct ext ***arr, size_t *n, size_t *cap, struct ext *e)
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

uint64_t
t_below(struct ctx *c, uint64_t n)
{
	return n ? rnd(c) % n : 0;
}

/* A number in [lo, hi]. */
uint64_t
t_range(struct ctx *c, uint64_t lo, uint64_t hi)
{
	return lo + t_below(c, hi - lo + 1);
}

bool
t_chance(struct ctx *c, unsigned percent)
{
	return t_below(c, 100) < percent;
}

/* A length weighted towards the interesting ones. */
size_t
t_pick_len(struct ctx *c)
{
	unsigned k = (unsigned)t_below(c, 1000);

	if (k < 80)
		return 0;
	if (k < 230)
		return 1;
	if (k < 600)
		return t_range(c, 2, 64);
	if (k < 850)
		return t_range(c, 65, 1024);
	if (k < 960)
		return t_range(c, 1025, 8192);
	if (k < 990)
		return t_range(c, 8193, 65536);
	return t_range(c, 100 * 1024, 200 * 1024);
}

/* A length for a read starting at @from: often exactly what is left. */
size_t
t_pick_read_len(struct ctx *c, uint64_t from)
{
	size_t left = from < c->m.size ? (size_t)(c->m.size - from) : 0;
	unsigned k = (unsigned)t_below(c, 100);

	if (k < 8)
		return 0;
	if (k < 16)
		return 1;
	if (k < 28)
		return left;
	if (k < 36)
		return left + t_range(c, 1, 100);
	if (k < 42)
		return left ? left - 1 : 0;
	return t_pick_len(c);
}

/* A stream offset: inside, at the end, or past it (rarely by over 1 MiB). */
uint64_t
t_pick_target(struct ctx *c)
{
	uint64_t size = c->m.size;
	unsigned k = (unsigned)t_below(c, 1000);

	if (k < 150)
		return 0;
	if (k < 450)
		return t_below(c, size);
	if (k < 600)
		return size;
	if (k < 680)
		return c->m.pos;
	if (k < 720)
		return size > 16 ? size - t_range(c, 1, 16) : 0;
	if (k < 850)
		return size + t_range(c, 1, 64);
	if (k < 997)
		return size + t_range(c, 65, 65536);
	return size + t_range(c, 1u << 20, 3u << 19);
}

/* Fill the input buffer with @len bytes of one of a few kinds of data. */
uint8_t *
t_gen_data(struct ctx *c, size_t len)
{
	uint8_t *d = t_reserve(&c->data, &c->data_cap, len + 1);
	size_t i;

	switch (t_below(c, 8)) {
	case 0:
		memset(d, 0, len);
		break;
	case 1:
		memset(d, '\n', len);
		break;
	case 2:
		/* Text: short lines. */
		for (i = 0; i < len; i++)
			d[i] = t_chance(c, 4) ? '\n' : (uint8_t)('a' + i % 26);
		break;
	default:
		for (i = 0; i < len; i += 8) {
			uint64_t x = rnd(c);

			memcpy(d + i, &x, MIN((size_t)8, len - i));
		}
		if (t_chance(c, 30)) {
			/* Random bytes with no line end at all. */
			for (i = 0; i < len; i++)
				if (d[i] == '\n')
					d[i] = '.';
		} else {
			for (i = 0; i < len / 40; i++)
				d[t_below(c, len)] = '\n';
		}
		break;
	}
	return d;
}

/* A buffer of @len bytes to read into, followed by a canary. */
uint8_t *
t_out_buf(struct ctx *c, size_t len)
{
	uint8_t *o = t_reserve(&c->out, &c->out_cap, len + CANARY_LEN);

	memset(o, CANARY, len + CANARY_LEN);
	return o;
}

/* The rope may write only the @got bytes it reports. */
void
t_check_canary(struct ctx *c, const uint8_t *buf, size_t len, int64_t got)
{
	size_t from = got > 0 ? (size_t)got : 0;

	if (!buf)
		return;
	for (size_t i = from; i < len + CANARY_LEN; i++) {
		if (buf[i] != CANARY) {
			MISMATCH(c, "buf[i] == CANARY",
				 "the call wrote byte %zu of the buffer, past the %zu it reported",
				 i, from);
			return;
		}
	}
}

/* ------------------------------------------------------------------------ */
/* The run                                                                  */
/* ------------------------------------------------------------------------ */

/* Whether the run has every feature @op needs. */
static bool
op_applies(const struct ctx *c, const struct op_def *op)
{
	return (op->needs & c->flags) == op->needs;
}

static void
one_step(struct ctx *c)
{
	unsigned total = 0;

	/* A closed rope is reopened after a few steps of -EBADF. */
	if (c->m.closed && t_chance(c, 10)) {
		for (size_t i = 0; i < t_model_nops; i++)
			if (t_model_ops[i].fn == t_op_reopen)
				c->counts[i]++;
		t_op_reopen(c);
		return;
	}
	for (size_t i = 0; i < t_model_nops; i++)
		if (op_applies(c, &t_model_ops[i]))
			total += t_model_ops[i].weight;
	for (;;) {
		unsigned pick = (unsigned)t_below(c, total);

		for (size_t i = 0; i < t_model_nops; i++) {
			if (!op_applies(c, &t_model_ops[i]))
				continue;
			if (pick >= t_model_ops[i].weight) {
				pick -= t_model_ops[i].weight;
				continue;
			}
			if (t_model_ops[i].fn(c)) {
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
	if (m->size > SIZE_HARD || (m->size > SIZE_SOFT && t_chance(c, 20)))
		t_truncate_to(c, (int64_t)t_below(c, 65536));
	if (!c->failed && m->pos > (uint64_t)m->size + (2u << 20))
		t_seek_to(c, t_pick_target(c));
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
			t_swap_twin(c);
		/* The exports the model knows of; after a mismatch the rope
		 * may disagree, which is harmless here. */
		while (c->nexps) {
			rope_releasebuffer(c->r);
			free(c->exps[--c->nexps].iov);
		}
		c->m.exports = 0;
		t_note(c, "final free()");
		rope_free(c->r);
		c->r = NULL;
		if (k == 1) {
			free(c->m.buf);
			c->m.buf = NULL;
			t_swap_twin(c);
		}
	}
	if (!c->failed)
		t_check_held(c);
	while (c->nvals)
		t_drop_value_at(c, c->nvals - 1);
	while (c->nsnaps)
		t_drop_snap_at(c, c->nsnaps - 1);

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
	for (size_t i = 0; i < sizeof(t_static_ext); i++) {
		if (t_static_ext[i] != (uint8_t)(i * 7 + 3)) {
			MISMATCH(c, "static memory unchanged",
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

/* ------------------------------------------------------------------------ */
/* The allocator of F_SEAM runs                                             */
/* ------------------------------------------------------------------------ */

/* A block: its capacity, then its bytes. Every resize moves it, so the
 * rope must follow; the old bytes are scribbled over first. */
struct t_block {
	size_t cap;
	uint8_t bytes[];
};

static long t_blocks_live;
static unsigned long t_blocks_resized;

static void *
t_block_take(void *ctx, size_t cap, void **handle)
{
	struct t_block *b = malloc(sizeof(*b) + cap);

	if (!b)
		return NULL;
	b->cap = cap;
	t_blocks_live++;
	*handle = b;
	return b->bytes;
}

static void *
t_block_resize(void *ctx, void *handle, size_t used, size_t cap,
	       void **new_handle)
{
	struct t_block *old = handle, *b;

	if (used > cap || used > old->cap)
		abort();
	b = malloc(sizeof(*b) + cap);
	if (!b)
		return NULL;
	b->cap = cap;
	memcpy(b->bytes, old->bytes, used);
	memset(old->bytes, 0xdb, old->cap);
	free(old);
	t_blocks_resized++;
	*new_handle = b;
	return b->bytes;
}

static void
t_block_give(void *ctx, void *handle)
{
	t_blocks_live--;
	free(handle);
}

static const struct rope_allocator t_blocks = {
	NULL, t_block_take, t_block_resize, t_block_give,
};

void
t_model_seam(struct ctx *c)
{
	int got;

	if (!(c->flags & F_SEAM) || !c->r)
		return;
	got = rope_set_allocator(c->r, &t_blocks);
	EXPECT(c, got == 0, "rope_set_allocator() returned %d", got);
}

const uint8_t *
t_model_block_bytes(void *handle)
{
	return ((struct t_block *)handle)->bytes;
}

static void
run_model_steps(const char *name, unsigned flags, uint64_t salt,
		unsigned long min_steps)
{
	struct ctx *c = t_xmalloc(sizeof(*c));
	size_t mem_before = t_mem_now();

	memset(c, 0, sizeof(*c));
	c->name = name;
	c->flags = flags;
	c->seed = env_u64("ROPEIO_SEED", DEFAULT_SEED);
	c->rng = c->seed ^ (salt * UINT64_C(0xd1342543de82ef95));
	c->steps = (unsigned long)env_u64("ROPEIO_STEPS", min_steps);
	c->steps = MAX(c->steps, min_steps);
	c->trace = env_u64("ROPEIO_TRACE", 0) != 0;
	for (size_t i = 0; i < sizeof(t_static_ext); i++)
		t_static_ext[i] = (uint8_t)(i * 7 + 3);
	t_model_reset(c, NULL, 0);
	c->r = rope_new();
	CU_ASSERT_PTR_NOT_NULL(c->r);
	if (!c->r) {
		free(c->m.buf);
		free(c);
		return;
	}
	t_model_seam(c);
	crash_handler_install(c);

	for (c->step = 0; c->step < c->steps && !c->failed; c->step++) {
		c->op[0] = '\0';
		one_step(c);
		if (!c->failed)
			bound_size(c);
		if (!c->failed)
			t_check_state(c);
		if (!c->failed && c->have_twin)
			t_check_twin(c);
		if (!c->failed)
			t_check_held(c);
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
	EXPECT(c, t_blocks_live == 0, "%ld blocks were never given back",
	       t_blocks_live);

	/* A run that did nothing must not pass. */
	CU_ASSERT(c->done >= min_steps);
	printf("\n    %s: %lu steps, ROPEIO_SEED=%#" PRIx64 "\n    ", name,
	       c->done, c->seed);
	for (size_t i = 0, n = 0; i < t_model_nops; i++)
		if (c->counts[i])
			printf("%s%s %lu", n++ ? ", " : "", t_model_ops[i].name,
			       c->counts[i]);
	if (flags & F_SEAM)
		printf("; %lu seals succeeded, %lu blocks moved by resize",
		       c->seals, t_blocks_resized);
	printf("\n    ");
	fflush(stdout);
	free(c);
}

static void
run_model(const char *name, unsigned flags, uint64_t salt)
{
	run_model_steps(name, flags, salt, MODEL_STEPS);
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

/*
 * All of it with tail chunks from an allocator that moves every block it
 * resizes, and sealing, with runs of appends that end in a seal. A fifth
 * of the steps: what it adds is the allocator's part, and the runs above
 * already take minutes under ThreadSanitizer on two cores (a seal run
 * does several appends in one step, so a fifth costs what a quarter did
 * without them).
 */
static void
test_model_seam(void)
{
	run_model_steps("seam", F_REFS | F_VALUES | F_EXPORTS | F_LIFE |
			F_TWIN | F_SEAM, 4, MODEL_STEPS / 5);
}

static const struct t_test tests[] = {
	{ "close_reopen", test_model_close_reopen },
	{ "seam", test_model_seam },
	{ "values_exports", test_model_values_exports },
	{ "write_read", test_model_write_read },
};

int
main(void)
{
	return t_run("model", tests, ARRAY_SIZE(tests));
}
