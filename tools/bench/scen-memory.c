/* SPDX-License-Identifier: MIT */
/*
 * Scenarios: memory per empty buffer and per piece appended by reference.
 */

#include "bench.h"

/* Pieces appended by reference: 16 bytes every 32, so no two are
 * adjacent and each stays its own segment. */
const uint8_t *
ref_piece(size_t i)
{
	return src_bytes + (i * 32) % (SRC_LEN - 32);
}

static const struct way empty_ways[] = {
	{ "ropeio", "ropeio rope_new", empty_rope, NULL },
	{ "evbuffer", "evbuffer_new", EVB(empty_evb) },
	{ "gbytearray", "g_byte_array_new", GBA(empty_gba) },
	{ "realloc", "realloc buffer (its struct)", empty_rbuf, NULL },
};

static const struct way segment_ways[] = {
	{ "ropeio", "ropeio rope_append_ref", segment_rope, NULL },
	{ "evbuffer", "evbuffer_add_reference", EVB(segment_evb) },
};

void
scen_memory(void)
{
	struct scen *s;

	s = scen_new("mem_empty", COL_NOTIME | COL_KEPT | COL_ALLOCS, 0,
		     "memory per empty buffer (mean of %d)", EMPTIES);
	measure_n(&s, 1, empty_ways, ARRAY_SIZE(empty_ways), NULL, 1, 0,
		  false);
	py_add(s, "mem_empty", "CPython BytesIO()");
	s = scen_new("mem_segment", COL_NOTIME | COL_KEPT | COL_ALLOCS, 0,
		     "memory per piece appended by reference (16-byte pieces, "
		     "mean of %d)", PIECES);
	measure_n(&s, 1, segment_ways, ARRAY_SIZE(segment_ways), NULL, 1,
		  0, false);
	rope_self_report();
	s->note = "GByteArray, the realloc buffer and CPython cannot append "
		  "by reference.";
}
