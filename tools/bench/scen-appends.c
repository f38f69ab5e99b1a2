/* SPDX-License-Identifier: MIT */
/*
 * Scenarios: appends. Each run creates the buffer and appends: that is
 * what is timed.
 */
#include <string.h>

#include "bench.h"

static const struct way append_ways[] = {
	{ "ropeio", "ropeio rope_write", append_rope, NULL },
	{ "evbuffer", "evbuffer_add", EVB(append_evb) },
	{ "gbytearray", "g_byte_array_append", GBA(append_gba) },
	{ "realloc", "realloc buffer (doubling)", append_rbuf, NULL },
	{ "limit", "limit: memcpy, preallocated", append_limit, NULL },
	{ "ref", "(memcpy into a fresh malloc)", append_fresh, NULL },
};

void
scen_appends(const char *id, const struct feed *f, int reps, int warmup,
	     const char *what)
{
	struct scen *s = scen_new(id, COL_MBS | COL_KEPT | COL_PEAK | COL_RSS,
				  (double)feed_bytes(f), "%s (%d runs)", what,
				  reps);

	limit_prepare(feed_bytes(f));
	measure(s, append_ways, ARRAY_SIZE(append_ways), f, reps, warmup);
	py_add(s, id, "CPython BytesIO.write");
	if (strcmp(id, "append11_50k"))
		return;
	s->note = "In the append tables, timed: creating the buffer and "
		  "every append. kept: heap "
		  "held by the result. The limit copies into an array "
		  "allocated and touched before; the row in parentheses is "
		  "not a peer: the same copies into an array malloc'd just "
		  "before; cold, with the page faults that every peer pays "
		  "for fresh memory.";
}
