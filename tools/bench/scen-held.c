/* SPDX-License-Identifier: MIT */
/*
 * Scenarios: a write while a value of the buffer is held.
 */

#include "bench.h"

const void *
held_data(enum held_op op, size_t *len)
{
	*len = op == HELD_APPEND_1MIB ? MiB : 1;
	return op == HELD_APPEND_1MIB ? src_bytes : (const void *)"x";
}

static const struct way held_ways[] = {
	{ "ropeio", "ropeio rope_write", held_rope, NULL },
	{ "evbuffer", "evbuffer_add (after pullup)", EVB(held_evb) },
	{ "gbytearray", "GByteArray (value: a copy)", GBA(held_gba) },
	{ "realloc", "realloc buffer (value: a copy)", held_rbuf, NULL },
};

void
scen_held(size_t bytes, int reps)
{
	static const struct {
		const char *id, *what;
	} ops[] = {
		[HELD_APPEND_1] = { "held_append_1", "append 1 byte" },
		[HELD_APPEND_1MIB] = { "held_append_1mib", "append 1 MiB" },
		[HELD_OVERWRITE_1] = { "held_overwrite_1",
				       "overwrite 1 byte at 0" },
	};
	struct feed f = feed_net(BUILD_PIECE, bytes);

	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		struct held_arg a = { &f, (enum held_op)i };
		struct scen *s = scen_new(ops[i].id, COL_KEPT | COL_PEAK | COL_RSS,
					  (double)bytes, "value of %zu MiB held: %s (%d runs)",
					  bytes / MiB, ops[i].what, reps);

		measure(s, held_ways, ARRAY_SIZE(held_ways), &a, reps, 0);
		py_add(s, ops[i].id, "CPython BytesIO.write");
		if (i == ARRAY_SIZE(ops) - 1)
			s->note = "the contiguous buffers paid for their value "
				  "with a copy at getvalue (above); evbuffer's "
				  "\"value\" is its pullup pointer, which is "
				  "not immutable.";
	}
}
