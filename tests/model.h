/* SPDX-License-Identifier: MIT */
#ifndef ROPEIO_TESTS_MODEL_H
#define ROPEIO_TESTS_MODEL_H

/*
 * The differential harness, one op table driven two ways: by a PRNG in
 * test-model, by the fuzzer's bytes in tests/fuzz. Its files:
 * - model.c: the flat BytesIO model, the comparison of the rope with it
 *   after every step, and what is held on the side (values, snapshots,
 *   borrowed memory);
 * - model-table.c: the op table, the one place that lists the operations;
 * - model-ops.c, model-ops-io.c: the operations, each one step on the rope
 *   and the model, drawing its arguments with t_below() and friends;
 * - model-run.c: where draws come from, reporting, the step loop, the
 *   teardown;
 * - test-model.c (CUnit, PRNG) and fuzz/rope-ops.c (libFuzzer, bytes): the
 *   two drivers. test-model.c says what the test proves and how a run is
 *   reproduced.
 *
 * To add an operation: write `bool op_x(struct ctx *c)` in a model-ops
 * file (draw the arguments, make the call on c->r and the same on c->m,
 * compare with EXPECT; return false when it does not apply now), declare
 * it below, and give it a line at the end of model-table.c. Both drivers run it from then on, and
 * rope__check() and the whole-state comparison follow it every step.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"

#define MAX_VALUES 8
#define MAX_SNAPS 6
#define MAX_EXPORTS 3
#define MAX_SEALS 4

/* What a run exercises besides writes, reads, seeks and truncates. */
enum {
	F_REFS = 1u << 0,     /* rope_append_ref() */
	F_VALUES = 1u << 1,   /* getvalue, values and snapshots */
	F_EXPORTS = 1u << 2,  /* getbuffer and writes through it */
	F_LIFE = 1u << 3,     /* close, free and reopen */
	F_TWIN = 1u << 4,     /* a second rope sharing the first one's bytes */
	F_SEAM = 1u << 5,     /* tail chunks from an allocator; sealing */
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

/* A block rope_seal_value() handed out, held past the seal. */
struct held_seal {
	void *handle;
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

/* One region handed to rope_append_ref() with t_release_ext(). */
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
	char origin[64];    /* how to reproduce the run, for reports */

	/* Where draws come from (model-run.c): the PRNG, or @in. */
	uint64_t rng;
	const uint8_t *in;  /* the fuzzer's bytes, or NULL */
	size_t in_left;
	bool recording;     /* keep the PRNG's draws in @rec as bytes */
	uint8_t *rec;
	size_t rec_len, rec_cap;
	uint64_t only;      /* recording: pick only these ops (bit i) */
	unsigned misses;    /* ops picked this step that did not apply */

	/* Called after a mismatch is printed (CUnit's assert, or abort). */
	void (*on_mismatch)(struct ctx *c, const char *file, int line,
			    const char *expr);
	size_t mem_before;
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
	struct held_seal sealed[MAX_SEALS];
	size_t nseals;

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

	unsigned long counts[64];
	unsigned long seals;  /* rope_seal_value() calls that succeeded */

	/* The F_SEAM allocator (model-run.c). */
	unsigned move_every;  /* resize k moves the block when k % it is 0 */
	long blocks_live;
	unsigned long blocks_resized, blocks_moved;

	int pipe[2];        /* non-blocking, empty between operations */
};

/*
 * One kind of step, picked by its weight among those whose needs the run
 * has. @fn draws its arguments (t_below() and the t_pick_*() helpers, so
 * the same code serves the PRNG and the fuzzer), calls the rope and the
 * model, and compares; it returns false when it does not apply right now,
 * and another is picked.
 */
struct op_def {
	const char *name;
	bool (*fn)(struct ctx *c);
	unsigned weight;
	unsigned needs;     /* F_* flags the run must have */
};

/* Every operation (model-table.c), and how many there are. */
extern const struct op_def t_model_ops[];
extern const size_t t_model_nops;

/* The operations, for the table. */
bool op_write(struct ctx *c);
bool op_writev(struct ctx *c);
bool op_append(struct ctx *c);
bool op_append_ref(struct ctx *c);
bool op_read(struct ctx *c);
bool op_readline(struct ctx *c);
bool op_readline_delim(struct ctx *c);
bool op_pread(struct ctx *c);
bool op_seek(struct ctx *c);
bool op_truncate(struct ctx *c);
bool op_drain(struct ctx *c);
bool op_find(struct ctx *c);
bool op_pullup(struct ctx *c);
bool op_cursor(struct ctx *c);
bool op_overflow(struct ctx *c);
bool op_far(struct ctx *c);
bool op_gap(struct ctx *c);
bool op_badargs(struct ctx *c);
bool op_info(struct ctx *c);
bool op_getvalue(struct ctx *c);
bool op_drop_value(struct ctx *c);
bool op_bytes_new(struct ctx *c);
bool op_snapshot(struct ctx *c);
bool op_drop_snap(struct ctx *c);
bool op_check_snap(struct ctx *c);
bool op_getbuffer(struct ctx *c);
bool op_export_write(struct ctx *c);
bool op_releasebuffer(struct ctx *c);
bool op_close(struct ctx *c);
bool t_op_reopen(struct ctx *c);
bool op_fork(struct ctx *c);
bool op_swap(struct ctx *c);
bool op_seal(struct ctx *c);
bool op_seal_run(struct ctx *c);
bool op_write_fd(struct ctx *c);
bool op_read_fd(struct ctx *c);
bool op_oom(struct ctx *c);
bool op_append_snap(struct ctx *c);
bool op_move(struct ctx *c);
bool op_printf(struct ctx *c);
bool op_reserve(struct ctx *c);
bool op_append_file(struct ctx *c);

/* Memory handed to rope_append_ref() with no release function. */
extern uint8_t t_static_ext[8192];

/*
 * A mismatch between the rope and the model fails the run: the first one
 * is reported with the file and line of the check that found it.
 */
#define MISMATCH(c, expr, ...)                                          \
	t_mismatch((c), __FILE__, __LINE__, (expr), __VA_ARGS__)

#define EXPECT(c, cond, ...)                                            \
	do {                                                            \
		if (unlikely(!(cond)))                                  \
			MISMATCH((c), #cond, __VA_ARGS__);              \
	} while (0)

/* ------------------------------------------------------------------------ */
/* model-run.c: reporting, memory, draws, the run                           */
/* ------------------------------------------------------------------------ */

void __attribute__((format(printf, 5, 6)))
t_mismatch(struct ctx *c, const char *file, int line, const char *expr,
	   const char *fmt, ...);
void __attribute__((format(printf, 2, 3)))
t_note(struct ctx *c, const char *fmt, ...);
size_t t_first_diff(const uint8_t *a, const uint8_t *b, size_t n);
void *t_xmalloc(size_t n);
uint8_t *t_xdup(const void *p, size_t n);
uint8_t *t_reserve(uint8_t **buf, size_t *cap, size_t need);
void t_push_ptr(struct ext ***arr, size_t *n, size_t *cap, struct ext *e);
uint64_t t_below(struct ctx *c, uint64_t n);
uint64_t t_range(struct ctx *c, uint64_t lo, uint64_t hi);
bool t_chance(struct ctx *c, unsigned percent);
size_t t_pick_len(struct ctx *c);
size_t t_pick_read_len(struct ctx *c, uint64_t from);
uint64_t t_pick_target(struct ctx *c);
uint8_t *t_gen_data(struct ctx *c, size_t len);
uint8_t *t_out_buf(struct ctx *c, size_t len);
void t_check_canary(struct ctx *c, const uint8_t *buf, size_t len, int64_t got);

/* A run: start (the source set first: c->rng or c->in), steps, finish. */
void t_model_start(struct ctx *c, const char *name, unsigned flags);
bool t_model_step(struct ctx *c);
void t_model_finish(struct ctx *c);
void t_model_print_counts(const struct ctx *c, FILE *f);
void t_model_dict(FILE *f);

/* ------------------------------------------------------------------------ */
/* model.c: the model, the comparison, what is held on the side             */
/* ------------------------------------------------------------------------ */

void t_model_reset(struct ctx *c, const void *bytes, size_t len);
/* A rope the run made gets its tail chunks from the test's allocator
 * (F_SEAM), which moves every block it resizes. */
void t_model_seam(struct ctx *c);
const uint8_t *t_model_block_bytes(void *handle);
void t_model_hold_seal(struct ctx *c, void *handle, size_t len);
void t_model_check_seal(struct ctx *c, const struct held_seal *h);
void t_model_drop_seal_at(struct ctx *c, size_t i);
int64_t t_model_write(struct ctx *c, const void *buf, size_t len, bool append);
int64_t t_model_truncate(struct ctx *c, int64_t size);
int64_t t_model_drain(struct ctx *c, size_t len);
int64_t t_model_read(struct model *m, const void *buf, size_t len,
		     uint64_t *at);
int64_t t_model_readline(struct model *m, const void *buf, size_t len,
			 uint64_t *at);
int64_t t_model_readline_delim(struct model *m, const void *buf, size_t len,
			       const void *delim, size_t dlen, uint64_t *at);
int64_t t_model_pread(const struct model *m, const void *buf, size_t len,
		      int64_t off);
int64_t t_model_seek(struct model *m, int64_t off, int whence);
int64_t t_model_tell(const struct model *m);
int64_t t_model_close(struct ctx *c);
void t_check_state(struct ctx *c);
void t_check_value(struct ctx *c, const struct held_value *h);
void t_check_snap(struct ctx *c, const struct held_snap *h, bool full);
void t_check_export(struct ctx *c, const struct held_export *e);
void t_check_held(struct ctx *c);
void t_drop_value_at(struct ctx *c, size_t i);
void t_hold_value(struct ctx *c, struct rope_bytes *b, const uint8_t *bytes,
		  size_t len);
void t_drop_snap_at(struct ctx *c, size_t i);
void t_hold_snap(struct ctx *c, struct rope_snap *s, const uint8_t *bytes,
		 size_t len);
void t_release_ext(void *data, size_t len, void *arg);
struct ext *t_ext_new(struct ctx *c, size_t len);
void t_ext_refused(struct ext *e);

/* ------------------------------------------------------------------------ */
/* model-ops.c: helpers the run uses besides the operations                 */
/* ------------------------------------------------------------------------ */

void t_seek_to(struct ctx *c, uint64_t target);
void t_truncate_to(struct ctx *c, int64_t size);
bool t_op_reopen(struct ctx *c);
void t_swap_twin(struct ctx *c);
void t_check_twin(struct ctx *c);

#endif
