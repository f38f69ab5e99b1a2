/* SPDX-License-Identifier: MIT */
#ifndef ROPEIO_TESTS_MODEL_H
#define ROPEIO_TESTS_MODEL_H

/*
 * The randomized differential test (test-model), shared between its files:
 * - model.c: the flat BytesIO model, the comparison of the rope with it
 *   after every step, and what is held on the side (values, snapshots,
 *   borrowed memory);
 * - model-ops.c: the operations, each one step on the rope and the model;
 * - test-model.c: the driver: reporting, randomness, the run, the tests.
 * test-model.c says what the test proves and how a run is reproduced.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define MAX_VALUES 8
#define MAX_SNAPS 6
#define MAX_EXPORTS 3

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
	unsigned long seals;  /* rope_seal_value() calls that succeeded */
};

/* One kind of step, chosen at random by its weight. */
struct op_def {
	const char *name;
	bool (*fn)(struct ctx *c);
	unsigned weight;
	unsigned needs;     /* F_* flags the run must have */
};

/* Every operation (model-ops.c), and how many there are. */
extern const struct op_def t_model_ops[];
extern const size_t t_model_nops;

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
/* test-model.c: reporting, memory and randomness                           */
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

/* ------------------------------------------------------------------------ */
/* model.c: the model, the comparison, what is held on the side             */
/* ------------------------------------------------------------------------ */

void t_model_reset(struct ctx *c, const void *bytes, size_t len);
/* A rope the run made gets its tail chunks from the test's allocator
 * (F_SEAM), which moves every block it resizes. */
void t_model_seam(struct ctx *c);
const uint8_t *t_model_block_bytes(void *handle);
int64_t t_model_write(struct ctx *c, const void *buf, size_t len, bool append);
int64_t t_model_truncate(struct ctx *c, int64_t size);
int64_t t_model_drain(struct ctx *c, size_t len);
int64_t t_model_read(struct model *m, const void *buf, size_t len,
		     uint64_t *at);
int64_t t_model_readline(struct model *m, const void *buf, size_t len,
			 uint64_t *at);
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
