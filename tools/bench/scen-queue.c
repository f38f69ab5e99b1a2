/* SPDX-License-Identifier: MIT */
/*
 * Scenarios: a queue. Append a message, drain it, repeat: what a server's
 * output buffer does for every response, and its input buffer for every
 * request. Messages of 40 B (a small reply), 1,448 B (one TCP segment) and
 * 16 KiB (a large one), cut from the source bytes. After a warm-up of the
 * same work, untimed, each run reports per message the time and the bytes
 * taken from the system (ropeio: its rope_mem_stats() total; the others:
 * the heap counter's), and the page faults of the whole run. In steady
 * state a queue should take nothing from the system.
 */
#include <string.h>

#include "bench.h"

void
queue_check(const struct queue_arg *a, size_t off, const uint8_t *got,
	    const char *who)
{
	size_t n = MIN(a->f->piece, 16);

	if (memcmp(got, a->f->src + off, n))
		die("%s: the last message holds other bytes", who);
	sink += got[0];
}

static const struct way queue_ways[] = {
	{ "ropeio", "ropeio rope_append + rope_drain", queue_rope, NULL },
	{ "evbuffer", "evbuffer_add + evbuffer_drain", EVB(queue_evb) },
	{ "gbytearray", "GByteArray: append, remove_range",
	  GBA(queue_gba) },
	{ "realloc", "realloc buffer: append, consume", queue_rbuf, NULL },
	{ "limit", "limit: memcpy, preallocated", queue_limit, NULL },
};

void
scen_queue(const size_t counts[3], int reps)
{
	static const struct {
		const char *id, *what;
		size_t piece;
	} sizes[] = {
		{ "queue40", "40 B", 40 },
		{ "queue1448", "1,448 B", 1448 },
		{ "queue16k", "16 KiB", 16 * KiB },
	};

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct feed f = feed_net(sizes[i].piece,
					 sizes[i].piece * counts[i]);
		struct queue_arg a = { &f, MAX(counts[i] / 10, 100) };
		struct scen *s;
		struct fig *py_fig;

		s = scen_new(sizes[i].id, COL_MBS | COL_TAKEN | COL_FAULTS,
			     (double)sizes[i].piece,
			     "queue: %zu x (append %s, drain), after %zu more "
			     "(%d runs)", counts[i], sizes[i].what, a.warmup,
			     reps);
		s->count = (double)counts[i];
		measure(s, queue_ways, ARRAY_SIZE(queue_ways), &a, reps, 0);
		py_fig = fig_new(s, "cpython", "CPython BytesIO");
		py_fig->skip = "io.BytesIO has no drain (not measured)";
		if (i == ARRAY_SIZE(sizes) - 1)
			s->note = "time and taken/msg: per message; faults: "
				  "minor page faults over the whole run "
				  "(getrusage). taken/msg: bytes allocated "
				  "per message, by rope_mem_stats() for "
				  "ropeio, by the bench's malloc counter for "
				  "the others; 0 means the queue reuses its "
				  "memory.";
	}
}
