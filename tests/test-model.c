/* SPDX-License-Identifier: MIT */
/*
 * A seeded, randomized differential test. Every operation of the op table
 * (model-table.c) runs against a
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
 * The fuzz target (tests/fuzz) runs the same table from the fuzzer's
 * bytes; model.h says how the files fit. This file is the PRNG's driver:
 * the seed, the crash report, how long each run is, and the tests.
 *
 * How long: MODEL_STEPS steps per run on a plain or ASan build. Under
 * ThreadSanitizer and valgrind every step costs 10 to 50 times more, and
 * buys little: the harness is one thread, so TSan can only repeat what
 * the plain arm proves, and valgrind adds uninitialised reads to what
 * ASan finds. There a run is a fifth (valgrind) or a tenth (TSan) as
 * long: 10,000 steps (2,000 for the seam) still reach every operation,
 * the rarest (gap, far) a few to a few dozen times, the common ones
 * hundreds to thousands. ROPEIO_STEPS sets a floor on any build.
 * (TSan is known when building; valgrind at run time, from meson's
 * valgrind setup, ROPEIO_VALGRIND=1, or from valgrind's own request.)
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

#include "model.h"

/* Every run performs at least this many operations, unless it fails. */
#define MODEL_STEPS 100000UL

#define DEFAULT_SEED UINT64_C(0x726f7065696f2d31)

#if defined(__SANITIZE_THREAD__)
#define T_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define T_TSAN 1
#endif
#endif

/* For the crash handler, which has no other way to find the run. */
static struct ctx *g_ctx;

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
		put_str(" (");
		put_str(c->origin);
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

/* Whether valgrind runs us: meson's valgrind setup says so in the
 * environment (the header may be missing where the test was built), and
 * valgrind itself can tell a run started by hand. */
static bool
under_valgrind(void)
{
	if (getenv("ROPEIO_VALGRIND"))
		return true;
#ifdef RUNNING_ON_VALGRIND
	if (RUNNING_ON_VALGRIND)
		return true;
#endif
	return false;
}

/* A run's length on this build: see the top of the file for why. */
static unsigned long
scaled_steps(unsigned long steps)
{
#ifdef T_TSAN
	return steps / 10;
#else
	return under_valgrind() ? steps / 5 : steps;
#endif
}

static void
cunit_mismatch(struct ctx *c, const char *file, int line, const char *expr)
{
	(void)c;
	CU_assertImplementation(CU_FALSE, (unsigned int)line, expr, file, "",
				CU_FALSE);
}

static void
run_model_steps(const char *name, unsigned flags, uint64_t salt,
		unsigned long min_steps)
{
	struct ctx *c = t_xmalloc(sizeof(*c));

	memset(c, 0, sizeof(*c));
	min_steps = scaled_steps(min_steps);
	c->on_mismatch = cunit_mismatch;
	c->seed = env_u64("ROPEIO_SEED", DEFAULT_SEED);
	snprintf(c->origin, sizeof(c->origin), "ROPEIO_SEED=%#" PRIx64,
		 c->seed);
	c->rng = c->seed ^ (salt * UINT64_C(0xd1342543de82ef95));
	c->steps = (unsigned long)env_u64("ROPEIO_STEPS", min_steps);
	c->steps = MAX(c->steps, min_steps);
	c->trace = env_u64("ROPEIO_TRACE", 0) != 0;
	t_model_start(c, name, flags);
	if (c->failed) {
		t_model_finish(c);
		free(c);
		return;
	}
	crash_handler_install(c);
	while (t_model_step(c))
		;
	t_model_finish(c);
	crash_handler_remove();

	/* A run that did nothing must not pass. */
	CU_ASSERT(c->done >= min_steps);
	printf("\n    %s: %lu steps, ROPEIO_SEED=%#" PRIx64 "\n    ", name,
	       c->done, c->seed);
	t_model_print_counts(c, stdout);
	if (flags & F_SEAM)
		printf("; %lu seals succeeded, %lu resizes (%lu moved a block)",
		       c->seals, c->blocks_resized, c->blocks_moved);
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
