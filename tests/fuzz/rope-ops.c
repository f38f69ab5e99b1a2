/* SPDX-License-Identifier: MIT */
/*
 * The differential fuzz target: the harness's op table (tests/model.h),
 * driven by the fuzzer's bytes instead of a PRNG. Every decision of a run
 * is a draw that takes the next bytes of the input (tests/model-run.c says
 * how many); so the fuzzer steers which operation runs and with what,
 * and every operation test-model runs, the fuzzer runs. After every step
 * rope__check() must pass and the rope must agree with the flat model in
 * every byte, and so must every value, snapshot, export and borrowed region
 * held on the side; at the end everything must have been given back. Any
 * disagreement prints the step and its calls, then aborts, so libFuzzer
 * keeps the input.
 *
 * The input: its first byte picks the run's features (the low six bits,
 * the F_* flags of model.h); the rest are draws until they run out. A run
 * has at most MAX_STEPS steps.
 *
 * Built two ways: with -Dfuzz=true as a libFuzzer binary, and always as
 * part of test-fuzz-replay, which runs the seed corpus and every saved
 * crash input under the normal test suite, and records new seeds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define MAX_STEPS 20000UL
#define FLAGS_ALL 0x3fu

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Over every input run in this process, for the replay driver. */
static unsigned long totals[64], total_steps, total_seals, total_moves;

static void
fuzz_mismatch(struct ctx *c, const char *file, int line, const char *expr)
{
	(void)c;
	(void)file;
	(void)line;
	(void)expr;
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx *c;

	if (!size)
		return 0;
	c = t_xmalloc(sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->in = data + 1;
	c->in_left = size - 1;
	c->steps = MAX_STEPS;
	c->on_mismatch = fuzz_mismatch;
	c->trace = getenv("ROPEIO_TRACE") != NULL;
	snprintf(c->origin, sizeof(c->origin), "a fuzz input of %zu bytes",
		 size);
	t_model_start(c, "fuzz", data[0] & FLAGS_ALL);
	while (t_model_step(c))
		;
	t_model_finish(c);
	for (size_t i = 0; i < t_model_nops; i++)
		totals[i] += c->counts[i];
	total_steps += c->done;
	total_seals += c->seals;
	total_moves += c->blocks_moved;
	free(c);
	return 0;
}

/* What the inputs run so far reached, for the replay driver. */
void t_fuzz_report(FILE *f);

void
t_fuzz_report(FILE *f)
{
	struct ctx sum = { 0 };

	memcpy(sum.counts, totals, sizeof(totals));
	fprintf(f, "%lu steps: ", total_steps);
	t_model_print_counts(&sum, f);
	fprintf(f, "; %lu seals, %lu blocks moved\n", total_seals, total_moves);
}

/*
 * A PRNG run of @steps steps with @flags (and, if @only is not 0, picking
 * only the operations whose bits are set), recorded as a fuzz input: the
 * bytes that replay it step for step. Returns a malloc'd buffer.
 */
uint8_t *t_fuzz_record(uint64_t seed, unsigned flags, uint64_t only,
		       unsigned long steps, size_t *len);

uint8_t *
t_fuzz_record(uint64_t seed, unsigned flags, uint64_t only,
	      unsigned long steps, size_t *len)
{
	struct ctx *c = t_xmalloc(sizeof(*c));
	uint8_t *out;

	memset(c, 0, sizeof(*c));
	c->rng = seed;
	c->recording = true;
	c->only = only;
	c->trace = getenv("ROPEIO_TRACE") != NULL;
	c->steps = MIN(steps, MAX_STEPS);
	c->on_mismatch = fuzz_mismatch;
	snprintf(c->origin, sizeof(c->origin), "recording seed %#llx",
		 (unsigned long long)seed);
	t_model_start(c, "record", flags & FLAGS_ALL);
	while (t_model_step(c))
		;
	/* The teardown's draws are not the run's: a replay makes them
	 * from an input that has run out. */
	c->recording = false;
	t_model_finish(c);
	out = t_xmalloc(c->rec_len + 1);
	out[0] = (uint8_t)(flags & FLAGS_ALL);
	memcpy(out + 1, c->rec, c->rec_len);
	*len = c->rec_len + 1;
	free(c->rec);
	free(c);
	return out;
}
