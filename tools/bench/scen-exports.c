/* SPDX-License-Identifier: MIT */
/*
 * Scenarios: exports, getbuffer and snapshots.
 *
 * Each peer's buffer is built once; then each repetition exports it and
 * releases the export. getbuffer: iovecs over the live bytes
 * (evbuffer_peek; a contiguous buffer is its own one iovec). Snapshot: an
 * immutable view that survives later writes (evbuffer_add_buffer_reference
 * into a new evbuffer; a contiguous buffer needs a copy).
 */
#include <stdlib.h>

#include "bench.h"

size_t export_segments;

size_t
iov_sum(const struct iovec *iov, int n)
{
	size_t sum = 0;

	for (int i = 0; i < n; i++)
		sum += iov[i].iov_len;
	return sum;
}

void
export_check(const struct export_arg *a, size_t n, const char *who)
{
	if (n != feed_bytes(a->f))
		die("%s exported %zu bytes", who, n);
}

static const struct way getbuffer_ways[] = {
	{ "ropeio", "ropeio rope_getbuffer", getbuffer_rope, NULL },
	{ "evbuffer", "evbuffer_peek", EVB(getbuffer_evb) },
	{ "gbytearray", "GByteArray: data, len", GBA(getbuffer_gba) },
	{ "realloc", "realloc buffer: data, len", getbuffer_rbuf, NULL },
};

static const struct way snapshot_ways[] = {
	{ "ropeio", "ropeio rope_snapshot", snapshot_rope, NULL },
	{ "evbuffer", "evbuffer_add_buffer_reference", EVB(snapshot_evb) },
	{ "gbytearray", "g_bytes_new (a copy)", GBA(snapshot_gba) },
	{ "realloc", "realloc buffer: a copy", snapshot_rbuf, NULL },
};

void
scen_exports(size_t bytes, int reps)
{
	struct feed f = feed_net(BUILD_PIECE, bytes);
	struct export_arg a = { .f = &f };
	struct rope_info info;
	struct scen *s;

	a.rope = rope_built(&f);
	rbuf_fill(&a.rbuf, &f);
#ifdef HAVE_LIBEVENT
	a.evb = evb_built(&f);
#endif
#ifdef HAVE_GLIB
	a.gba = gba_built(&f);
#endif
	rope_get_info(a.rope, &info, sizeof(info));
	/* evbuffer holds one chain per 64 KiB append. */
	a.iovcnt = (int)(f.count + info.segments + 16);
	a.iov = calloc((size_t)a.iovcnt, sizeof(*a.iov));
	if (!a.iov)
		die("calloc");
	export_segments = info.segments;
	s = scen_new("getbuffer", COL_TOTAL | COL_ALLOCS, (double)bytes,
		     "getbuffer of %zu MiB in %zu ropeio segments: export and "
		     "release (%d runs)", bytes / MiB, info.segments, reps);
	measure(s, getbuffer_ways, ARRAY_SIZE(getbuffer_ways), &a, reps, 0);
	py_add(s, "getbuffer", "CPython getbuffer + release");
	s = scen_new("snapshot", COL_TOTAL | COL_ALLOCS, (double)bytes,
		     "snapshot of %zu MiB: take and release (%d runs)",
		     bytes / MiB, reps);
	measure(s, snapshot_ways, ARRAY_SIZE(snapshot_ways), &a, reps, 0);
	py_add(s, "snapshot", "CPython getvalue (shared)");
	s->note = "allocated: heap bytes allocated during the call (freed "
		  "after); CPython: tracemalloc's peak.";
	rope_free(a.rope);
	rbuf_free(&a.rbuf);
#ifdef HAVE_LIBEVENT
	evbuffer_free(a.evb);
#endif
#ifdef HAVE_GLIB
	g_byte_array_free(a.gba, TRUE);
#endif
	free(a.iov);
}
