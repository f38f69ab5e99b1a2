/* SPDX-License-Identifier: MIT */
/*
 * Scenarios: the parser loop, append then getvalue.
 *
 * After every append of 1,448 bytes the parser needs all the bytes so far,
 * contiguous, and reads the last one. Dropped: each value is released
 * before the next append; held: every value is kept until the end (they
 * must not change), which for a contiguous buffer means a copy each time.
 */

#include "bench.h"

/* The same runs in both variants; the labels say what each peer's value
 * is. */
static const struct way loop_ways[2][5] = {
	{
		{ "ropeio", "ropeio write + getvalue", loop_rope, NULL },
		{ "evbuffer", "evbuffer_add + pullup", EVB(loop_evb) },
		{ "gbytearray", "GByteArray: append, ->data",
		  GBA(loop_gba) },
		{ "realloc", "realloc buffer: append, ->data", loop_rbuf,
		  NULL },
		{ "limit", "limit: memcpy, preallocated", loop_limit, NULL },
	}, {
		{ "ropeio", "ropeio write + getvalue", loop_rope, NULL },
		{ "evbuffer", "evbuffer_add + pullup", EVB(loop_evb) },
		{ "gbytearray", "GByteArray: append, g_bytes_new",
		  GBA(loop_gba) },
		{ "realloc", "realloc buffer: append, a copy", loop_rbuf,
		  NULL },
		{ "limit", "limit: memcpy, preallocated", loop_limit, NULL },
	},
};

void
scen_loop(const size_t dropped[2], const size_t held[2], int reps_dropped,
	  int reps_held)
{
	static const struct {
		const char *id;
		bool hold, large;
	} runs[] = {
		{ "loop_dropped_small", false, false },
		{ "loop_dropped_large", false, true },
		{ "loop_held_small", true, false },
		{ "loop_held_large", true, true },
	};

	limit_prepare(MAX(dropped[1], held[1]) * LOOP_PIECE);
	for (size_t i = 0; i < ARRAY_SIZE(runs); i++) {
		const size_t *sizes = runs[i].hold ? held : dropped;
		size_t n = sizes[runs[i].large];
		struct feed f = { src_bytes, SRC_LEN, LOOP_PIECE, n };
		struct loop_arg a = { &f, runs[i].hold };
		int reps = runs[i].hold ? reps_held : reps_dropped;
		struct scen *s = scen_new(runs[i].id, COL_MBS,
					  (double)feed_bytes(&f),
					  "parser loop: %zu x (append 1,448 B, "
					  "getvalue), values %s (%d runs)", n,
					  runs[i].hold ? "held" : "dropped",
					  reps);

		measure(s, loop_ways[a.hold], ARRAY_SIZE(loop_ways[0]), &a,
			reps, 0);
		py_add(s, runs[i].id, "CPython write + getvalue");
	}
}

/* The parser loop's cost per byte with 4x the appends, relative to 1x:
 * 1 when the loop is O(total bytes), 4 when it is O(appends x size). */
double
loop_growth(const char *kind, int fig)
{
	char small[32], large[32];
	const struct scen *a, *b;

	snprintf(small, sizeof(small), "loop_%s_small", kind);
	snprintf(large, sizeof(large), "loop_%s_large", kind);
	a = scen_find(small);
	b = scen_find(large);
	if (!a || !b || fig >= a->nfig || !a->fig[fig].n || !b->fig[fig].n)
		return NAN;
	return (b->fig[fig].med / b->bytes) / (a->fig[fig].med / a->bytes);
}
