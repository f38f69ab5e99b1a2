/* SPDX-License-Identifier: MIT */
/*
 * Scenarios: getvalue of a large buffer, first and repeated call.
 *
 * The bytes as one immutable value. ropeio flattens once and caches;
 * evbuffer_pullup() flattens in place (no separate value: its pointer is
 * valid until the next change); a contiguous buffer has its bytes in one
 * place already, but a value that outlives its next write is a copy
 * (g_bytes_new(), malloc + memcpy). The limit is one malloc + memcpy of the
 * bytes into fresh memory: exactly one copy, page faults included.
 */

#include "bench.h"

static const struct way gv_ways[] = {
	{ "ropeio", "ropeio rope_getvalue", gv_rope, NULL },
	{ "evbuffer", "evbuffer_pullup(-1)", EVB(gv_evb) },
	{ "gbytearray", "g_bytes_new (a copy)", GBA(gv_gba) },
	{ "realloc", "realloc buffer: malloc+memcpy", gv_rbuf, NULL },
	{ "limit", "limit: malloc+memcpy, flat", gv_limit, NULL },
};

void
scen_getvalue(size_t bytes, int reps)
{
	struct feed f = feed_net(BUILD_PIECE, bytes);
	unsigned cols = COL_KEPT | COL_PEAK | COL_RSS;
	struct scen *s[2];

	limit_prepare(bytes);
	limit_fill(limit_buf, &f);
	s[0] = scen_new("getvalue_first", cols, (double)bytes,
			"getvalue of %zu MiB built by 64 KiB appends: first "
			"call (%d runs)", bytes / MiB, reps);
	s[1] = scen_new("getvalue_again", cols, (double)bytes,
			"getvalue of %zu MiB: a second call, the first value "
			"still held (%d runs)", bytes / MiB, reps);
	measure_n(s, 2, gv_ways, ARRAY_SIZE(gv_ways), &f, reps, 0, true);
	py_add(s[0], "getvalue_first", "CPython BytesIO.getvalue");
	py_add(s[1], "getvalue_again", "CPython BytesIO.getvalue");
	s[0]->note = "peak: heap above the start during the call (the extra "
		     "peak); kept: after it, with the value held. evbuffer "
		     "makes its new chain a power of two. The contiguous "
		     "buffers need a copy for a value that stays as it is "
		     "after their next write; their bytes themselves are "
		     "already contiguous.";
}
