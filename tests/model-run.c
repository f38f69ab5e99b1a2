/* SPDX-License-Identifier: MIT */
/*
 * The run of the differential harness, shared by test-model and the fuzz
 * target: where its numbers come from, reporting, the step loop and the
 * teardown that proves nothing leaked. model.h says how the files fit.
 *
 * Every decision a run makes (which operation, its arguments, its data's
 * seed) is one draw, t_below(c, n). A draw comes from one of two sources:
 * - a PRNG (splitmix64) seeded by ROPEIO_SEED: test-model;
 * - the fuzzer's bytes: a draw below n takes the next 1, 2, 4 or 8 bytes
 *   (as many as n needs), big-endian, modulo n; past the end every draw
 *   is 0 and the run stops at the next step.
 * A PRNG run may record its draws in that byte form (t_model_record): the
 * bytes then replay the same run through the fuzz target, which is how
 * the seed corpus is made (tests/fuzz/replay.c --record).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"

/*
 * Streams above SIZE_SOFT are cut back within a few steps, and above
 * SIZE_HARD at once, so a run stays fast while some steps still see streams
 * past 1 MiB, where a zero gap is longer than the library's real zero block.
 */
#define SIZE_SOFT (256u * 1024)
#define SIZE_SOFT_FUZZ (32u * 1024)
#define SIZE_HARD (4u * 1024 * 1024)

/* Bytes after a read's length that the rope must leave alone. */
#define CANARY_LEN 64
#define CANARY 0xa7

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
	fprintf(stderr,
		"\nmodel %s: mismatch at step %lu (%s)\n"
		"  calls: %s\n  check: %s (%s:%d)%s%s\n  ",
		c->name, c->step, c->origin, c->op, expr, file, line,
		c->where ? ", in " : "", c->where ? c->where : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c->on_mismatch)
		c->on_mismatch(c, file, line, expr);
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

/* ------------------------------------------------------------------------ */
/* Memory                                                                   */
/* ------------------------------------------------------------------------ */

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "out of memory in the model harness\n");
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

/* ------------------------------------------------------------------------ */
/* Draws                                                                    */
/* ------------------------------------------------------------------------ */

/* splitmix64: small, fast and good enough to drive a test. */
static uint64_t
splitmix(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* How many input bytes a draw below @n takes. */
static unsigned
draw_width(uint64_t n)
{
	return n <= 1u << 8 ? 1 : n <= 1u << 16 ? 2 : n <= UINT64_C(1) << 32
							  ? 4 : 8;
}

static void
record(struct ctx *c, uint64_t v, unsigned w)
{
	uint8_t *p = t_reserve(&c->rec, &c->rec_cap, c->rec_len + 8);

	for (unsigned i = 0; i < w; i++)
		p[c->rec_len++] = (uint8_t)(v >> (8 * (w - 1 - i)));
}

uint64_t
t_below(struct ctx *c, uint64_t n)
{
	unsigned w;
	uint64_t v = 0;

	if (n <= 1)
		return 0;
	w = draw_width(n);
	if (!c->in) {
		v = splitmix(&c->rng) % n;
		if (c->recording)
			record(c, v, w);
		return v;
	}
	for (unsigned i = 0; i < w; i++) {
		v = v << 8 | (c->in_left ? *c->in : 0);
		if (c->in_left) {
			c->in++;
			c->in_left--;
		}
	}
	return v % n;
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

/*
 * Fill the input buffer with @len bytes of one of a few kinds of data. The
 * kind and a seed are draws; the bytes come from a PRNG on that seed, so a
 * fuzz input of a few bytes still drives long writes of varied data.
 */
uint8_t *
t_gen_data(struct ctx *c, size_t len)
{
	uint8_t *d = t_reserve(&c->data, &c->data_cap, len + 1);
	unsigned kind = (unsigned)t_below(c, 8);
	uint64_t state = t_below(c, UINT64_C(1) << 32);
	size_t i;

	switch (kind) {
	case 0:
		memset(d, 0, len);
		break;
	case 1:
		memset(d, '\n', len);
		break;
	case 2:
		/* Text: short lines. */
		for (i = 0; i < len; i++)
			d[i] = splitmix(&state) % 25 == 0
				? '\n' : (uint8_t)('a' + i % 26);
		break;
	default:
		for (i = 0; i < len; i += 8) {
			uint64_t x = splitmix(&state);

			memcpy(d + i, &x, MIN((size_t)8, len - i));
		}
		if (kind == 3) {
			/* Random bytes with no line end at all. */
			for (i = 0; i < len; i++)
				if (d[i] == '\n')
					d[i] = '.';
		} else {
			for (i = 0; i < len / 40; i++)
				d[splitmix(&state) % len] = '\n';
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
/* The allocator of F_SEAM runs                                             */
/* ------------------------------------------------------------------------ */

/* A block: its capacity, then its bytes. Resize number k moves the block
 * when k % move_every is 0 (scribbling over the old bytes first, so a rope
 * that still reads them disagrees), else resizes it in place if it can.
 * A sealed block is held by the run too, as a binding's string object
 * would hold it, and freed when both have let go. */
struct t_block {
	size_t cap;
	unsigned refs;      /* the rope's, and the run's if sealed */
	bool given;         /* the rope gave it back */
	uint8_t bytes[];
};

static void
block_unref(struct ctx *c, struct t_block *b)
{
	if (--b->refs)
		return;
	c->blocks_live--;
	free(b);
}

static void *
t_block_take(void *ctx, size_t cap, void **handle)
{
	struct ctx *c = ctx;
	struct t_block *b = malloc(sizeof(*b) + cap);

	if (!b)
		return NULL;
	b->cap = cap;
	b->refs = 1;
	b->given = false;
	c->blocks_live++;
	*handle = b;
	return b->bytes;
}

static void *
t_block_resize(void *ctx, void *handle, size_t used, size_t cap,
	       void **new_handle)
{
	struct ctx *c = ctx;
	struct t_block *old = handle, *b;

	if (used > cap || used > old->cap)
		abort();
	/* Only a block the rope alone holds, never a sealed one. */
	EXPECT(c, !old->given && old->refs == 1,
	       "resize of a block %s", old->given ? "given back" : "sealed");
	if (++c->blocks_resized % c->move_every == 0) {
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		memcpy(b, old, sizeof(*b) + used);
		memset(old->bytes, 0xdb, old->cap);
		free(old);
		c->blocks_moved++;
	} else {
		b = realloc(old, sizeof(*b) + cap);
		if (!b)
			return NULL;
	}
	b->cap = cap;
	*new_handle = b;
	return b->bytes;
}

static void
t_block_give(void *ctx, void *handle)
{
	struct ctx *c = ctx;
	struct t_block *b = handle;

	EXPECT(c, !b->given, "a block was given back twice");
	b->given = true;
	block_unref(c, b);
}

void
t_model_seam(struct ctx *c)
{
	const struct rope_allocator a = {
		c, t_block_take, t_block_resize, t_block_give,
	};
	int got;

	if (!(c->flags & F_SEAM) || !c->r)
		return;
	got = rope_set_allocator(c->r, &a);
	EXPECT(c, got == 0, "rope_set_allocator() returned %d", got);
}

const uint8_t *
t_model_block_bytes(void *handle)
{
	return ((struct t_block *)handle)->bytes;
}

/* Keep a sealed block, and a copy of what it must go on holding. */
void
t_model_hold_seal(struct ctx *c, void *handle, size_t len)
{
	struct t_block *b = handle;
	struct held_seal *h;

	EXPECT(c, !b->given && b->cap == len,
	       "a sealed block of %zu bytes holds %zu%s", b->cap, len,
	       b->given ? ", given back" : "");
	if (c->failed)
		return;
	if (c->nseals == MAX_SEALS)
		t_model_drop_seal_at(c, t_below(c, MAX_SEALS));
	b->refs++;
	h = &c->sealed[c->nseals++];
	h->handle = b;
	h->copy = t_xdup(b->bytes, len);
	h->len = len;
}

/* A sealed block keeps the bytes it had when sealed, whatever the rope
 * did since. */
void
t_model_check_seal(struct ctx *c, const struct held_seal *h)
{
	const struct t_block *b = h->handle;

	if (memcmp(b->bytes, h->copy, h->len))
		MISMATCH(c, "sealed block unchanged",
			 "byte %zu of a sealed block of %zu changed",
			 t_first_diff(b->bytes, h->copy, h->len), h->len);
}

void
t_model_drop_seal_at(struct ctx *c, size_t i)
{
	struct held_seal *h = &c->sealed[i];

	t_model_check_seal(c, h);
	block_unref(c, h->handle);
	free(h->copy);
	*h = c->sealed[--c->nseals];
}

/* ------------------------------------------------------------------------ */
/* The run                                                                  */
/* ------------------------------------------------------------------------ */

/* Whether the run has every feature @op needs and the caller allows it. */
static bool
op_applies(const struct ctx *c, size_t i)
{
	const struct op_def *op = &t_model_ops[i];

	return (op->needs & c->flags) == op->needs;
}

static bool
op_allowed(const struct ctx *c, size_t i)
{
	return op_applies(c, i) &&
	       (!c->only || (c->only >> i & 1));
}

/*
 * Pick an operation by weight, over the whole table: where a draw below
 * the total weight falls. One that the run's features rule out is a miss
 * and the caller picks again; so an operation is always the same draw
 * values, whatever the features (the fuzz dictionary names them, see
 * t_model_dict()). While recording with a restriction to some operations
 * (c->only), the pick is made uniformly among those alone, and recorded
 * as the draw that picks it without the restriction, so the bytes replay
 * the same run.
 */
static size_t
pick_op(struct ctx *c)
{
	uint64_t total = 0, allowed = 0, pick, at = 0;  /* allowed: ops */
	size_t i;

	for (i = 0; i < t_model_nops; i++) {
		total += t_model_ops[i].weight;
		if (op_allowed(c, i))
			allowed++;
	}
	if (!c->only || c->in || !allowed || c->misses > 64) {
		pick = t_below(c, total);
		for (i = 0; i + 1 < t_model_nops; i++) {
			if (pick < t_model_ops[i].weight)
				break;
			pick -= t_model_ops[i].weight;
		}
		return i;
	}
	/* Uniform among the allowed: a seed meant for a rare operation
	 * gets it as often as the others. */
	pick = splitmix(&c->rng) % allowed;
	for (i = 0; i < t_model_nops; i++) {
		if (op_allowed(c, i) && !pick--)
			break;
		at += t_model_ops[i].weight;
	}
	if (c->recording)
		record(c, at, draw_width(total));
	return i;
}

/* A libFuzzer dictionary: the draw that picks each operation. */
void
t_model_dict(FILE *f)
{
	uint64_t total = 0, at = 0;
	unsigned w;

	for (size_t i = 0; i < t_model_nops; i++)
		total += t_model_ops[i].weight;
	w = draw_width(total);
	fprintf(f, "# The fuzz target's operations: the draw that picks each "
		"(made by\n# test-fuzz-replay --dict from tests/model-table.c)."
		"\n");
	for (size_t i = 0; i < t_model_nops; i++) {
		fprintf(f, "op_%s=\"", t_model_ops[i].name);
		for (unsigned k = 0; k < w; k++)
			fprintf(f, "\\x%02x",
				(unsigned)(at >> (8 * (w - 1 - k)) & 0xff));
		fprintf(f, "\"\n");
		at += t_model_ops[i].weight;
	}
}

static void
one_step(struct ctx *c)
{
	/* A closed rope is reopened after a few steps of -EBADF. */
	if (c->m.closed && t_chance(c, 10)) {
		for (size_t i = 0; i < t_model_nops; i++)
			if (t_model_ops[i].fn == t_op_reopen)
				c->counts[i]++;
		t_op_reopen(c);
		return;
	}
	for (c->misses = 0;; c->misses++) {
		size_t i = pick_op(c);

		if (op_applies(c, i) && t_model_ops[i].fn(c)) {
			c->counts[i]++;
			return;
		}
		/* Out of input, every op draws 0: stop rather than spin. */
		if (c->in && !c->in_left)
			return;
	}
}

/*
 * Keep the stream small enough that a run takes seconds. Every step
 * compares the whole stream and all that is held, so a fuzz input, which
 * wants many short executions, keeps it smaller still: cut back past
 * SIZE_SOFT_FUZZ at even odds (a gap past 1 MiB still lasts a few steps).
 */
static void
bound_size(struct ctx *c)
{
	const struct model *m = &c->m;
	size_t soft = c->in ? SIZE_SOFT_FUZZ : SIZE_SOFT;

	if (m->closed || m->exports)
		return;
	if (m->size > SIZE_HARD ||
	    (m->size > soft && t_chance(c, c->in ? 50 : 20)))
		t_truncate_to(c, (int64_t)t_below(c, 65536));
	if (!c->failed && m->pos > (uint64_t)m->size + (2u << 20))
		t_seek_to(c, t_pick_target(c));
}

void
t_model_start(struct ctx *c, const char *name, unsigned flags)
{
	c->name = name;
	c->flags = flags;
	c->move_every = 1 + (unsigned)t_below(c, 4);
	c->mem_before = t_mem_now();
	for (size_t i = 0; i < sizeof(t_static_ext); i++)
		t_static_ext[i] = (uint8_t)(i * 7 + 3);
	if (pipe2(c->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		fprintf(stderr, "model: pipe2: %s\n", strerror(errno));
		exit(T_EXIT_SETUP);
	}
	t_model_reset(c, NULL, 0);
	c->r = rope_new();
	EXPECT(c, c->r != NULL, "rope_new() failed");
	t_model_seam(c);
}

/* One step and every check after it; false when the run is over. */
bool
t_model_step(struct ctx *c)
{
	if (c->failed || c->step >= c->steps || (c->in && !c->in_left))
		return false;
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
	c->step++;
	return !c->failed;
}

/* Tear down in one place, whether the run passed or not. */
void
t_model_finish(struct ctx *c)
{
	size_t unreleased = 0, twice = 0;

	c->op[0] = '\0';
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
	while (c->nseals)
		t_model_drop_seal_at(c, c->nseals - 1);

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
	close(c->pipe[0]);
	close(c->pipe[1]);

	/* With every rope, value and snapshot gone, so is their memory. */
	EXPECT(c, t_mem_now() == c->mem_before,
	       "ropeio still holds %zd bytes after everything was freed",
	       (ssize_t)(t_mem_now() - c->mem_before));
	EXPECT(c, c->blocks_live == 0, "%ld blocks were never given back",
	       c->blocks_live);
}

/* "write 12, read 3, ...": how often each operation ran. */
void
t_model_print_counts(const struct ctx *c, FILE *f)
{
	for (size_t i = 0, n = 0; i < t_model_nops; i++)
		if (c->counts[i])
			fprintf(f, "%s%s %lu", n++ ? ", " : "",
				t_model_ops[i].name, c->counts[i]);
}
