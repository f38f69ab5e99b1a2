/* SPDX-License-Identifier: MIT */
/*
 * Scenarios: the everyday small cases, and memory against the bytes held.
 *
 * A small message's whole life (create, five small writes, take the value,
 * free) and a small message read back (create from 64 bytes, read them),
 * beside the same work on a malloc'd buffer, the limit for anything that
 * must allocate. The ways are a few lines each, so they live here rather
 * than in the peer files.
 *
 * Then the patterns that once made a rope's memory grow without bound: a
 * copied head and a referenced body per response, a parser stepping past
 * the end, sparse writes. Each reports what ropeio allocated for the rope
 * (rope_mem_stats()) per byte the rope holds: the README states the bound.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define LIVES 100000
#define SMALL_MSG 64

static const char *const parts[5] = {
	"HTTP/1.1 200 OK\r\n", "Server: ropeio\r\n", "Content-Length: 13\r\n",
	"\r\n", "Hello, World!",
};

static size_t part_len[5];

/* rope_new, five writes, getvalue, free: LIVES times. */
static void
life_rope(struct probe *p, const void *arg UNUSED)
{
	probe_start(p);
	for (int i = 0; i < LIVES; i++) {
		struct rope *r = rope_new();
		struct rope_bytes *v;

		if (!r)
			die("rope_new");
		for (int k = 0; k < 5; k++)
			rope_write(r, parts[k], part_len[k]);
		if (rope_getvalue(r, &v) < 0)
			die("rope_getvalue");
		sink += ((const uint8_t *)rope_bytes_data(v))[rope_bytes_size(v) - 1];
		rope_bytes_unref(v);
		rope_free(r);
	}
	probe_stop(p);
	probe_scale(p, LIVES);
}

/* The same on a malloc'd buffer: the value is the buffer itself. */
static void
life_malloc(struct probe *p, const void *arg UNUSED)
{
	probe_start(p);
	for (int i = 0; i < LIVES; i++) {
		char *b = malloc(256);
		size_t n = 0;

		if (!b)
			die("malloc");
		for (int k = 0; k < 5; k++) {
			memcpy(b + n, parts[k], part_len[k]);
			n += part_len[k];
		}
		escape(b);
		sink += (uint8_t)b[n - 1];
		free(b);
	}
	probe_stop(p);
	probe_scale(p, LIVES);
}

/* rope_new_from 64 bytes, read them back, free. */
static void
read64_rope(struct probe *p, const void *arg UNUSED)
{
	uint8_t out[SMALL_MSG];

	probe_start(p);
	for (int i = 0; i < LIVES; i++) {
		struct rope *r;

		if (rope_new_from(&r, src_bytes + (i & 1023), SMALL_MSG) < 0)
			die("rope_new_from");
		if (rope_read(r, out, sizeof(out)) != SMALL_MSG)
			die("rope_read");
		escape(out);
		sink += out[0];
		rope_free(r);
	}
	probe_stop(p);
	probe_scale(p, LIVES);
}

static void
read64_malloc(struct probe *p, const void *arg UNUSED)
{
	uint8_t out[SMALL_MSG];

	probe_start(p);
	for (int i = 0; i < LIVES; i++) {
		uint8_t *b = malloc(SMALL_MSG);

		if (!b)
			die("malloc");
		memcpy(b, src_bytes + (i & 1023), SMALL_MSG);
		escape(b);
		memcpy(out, b, SMALL_MSG);
		escape(out);
		sink += out[0];
		free(b);
	}
	probe_stop(p);
	probe_scale(p, LIVES);
}

static const struct way life_ways[] = {
	{ "ropeio", "ropeio rope_new, 5 x rope_write, rope_getvalue, "
	  "rope_free", life_rope, NULL },
	{ "limit", "malloc(256), 5 x memcpy, free", life_malloc, NULL },
};

static const struct way read64_ways[] = {
	{ "ropeio", "ropeio rope_new_from(64 B), rope_read, rope_free",
	  read64_rope, NULL },
	{ "limit", "malloc(64), memcpy in, memcpy out, free", read64_malloc,
	  NULL },
};

/* ------------------------------------------------------------------------ */
/* Memory against the bytes held                                            */
/* ------------------------------------------------------------------------ */

static void
no_release(void *data UNUSED, size_t len UNUSED, void *arg UNUSED)
{
}

/* One step of a pattern, @i-th. */
typedef void (*pattern_fn)(struct rope *r, size_t i);

static void
head_ref3(struct rope *r, size_t i)
{
	rope_append(r, "HTTP/1.1 200 OK\n", 16);
	rope_append_ref(r, src_bytes + (i * 32) % (SRC_LEN - 32), 3,
			no_release, NULL);
}

static void
head_ref600(struct rope *r, size_t i)
{
	rope_append(r, "HTTP/1.1 200 OK\n", 16);
	rope_append_ref(r, src_bytes + (i * 1024) % (SRC_LEN - 1024), 600,
			no_release, NULL);
}

static void
gap1_write1(struct rope *r, size_t i UNUSED)
{
	rope_seek(r, 1, SEEK_END);
	rope_write(r, "y", 1);
}

static void
gap4k_write1(struct rope *r, size_t i UNUSED)
{
	rope_seek(r, 4096, SEEK_END);
	rope_write(r, "y", 1);
}

struct pattern {
	pattern_fn step;
	size_t count, held;
};

/* Build the rope; report what ropeio allocated for it (rope_mem_stats(),
 * as the probe's kept). */
static void
pattern_rope(struct probe *p, const void *arg)
{
	const struct pattern *pat = arg;
	struct rope_mem_stats a, b;
	struct rope *r;
	size_t held;

	probe_start(p);
	rope_mem_stats(&a, sizeof(a));
	r = rope_new();
	if (!r)
		die("rope_new");
	for (size_t i = 0; i < pat->count; i++)
		pat->step(r, i);
	rope_mem_stats(&b, sizeof(b));
	probe_stop(p);
	held = rope_size(r);
	rope_free(r);
	if (held != pat->held)
		die("pattern: %zu bytes held, expected %zu", held, pat->held);
	p->kept = (double)(b.allocated - a.allocated);
}

static const struct way pattern_ways[] = {
	{ "ropeio", "ropeio: allocated for the rope", pattern_rope, NULL },
};

void
scen_small(int reps)
{
	static const struct {
		const char *id, *what;
		struct pattern pat;
	} pats[] = {
		{ "amp_head_ref3", "1,000 x (append 16 B, append_ref 3 B)",
		  { head_ref3, 1000, 19000 } },
		{ "amp_head_ref600", "100 x (append 16 B, append_ref 600 B)",
		  { head_ref600, 100, 61600 } },
		{ "amp_gap1", "300 x (seek 1 past the end, write 1 B)",
		  { gap1_write1, 300, 600 } },
		{ "amp_gap4k", "300 x (seek 4 KiB past the end, write 1 B)",
		  { gap4k_write1, 300, 300 * 4097 } },
	};
	struct scen *s;

	for (int k = 0; k < 5; k++)
		part_len[k] = strlen(parts[k]);
	s = scen_new("small_life", 0, 0, "a small message's life: new, 5 "
		     "writes (66 B), getvalue, free (per message, %d runs)",
		     reps);
	measure(s, life_ways, ARRAY_SIZE(life_ways), NULL, reps, 1);
	s = scen_new("small_read64", 0, 0, "a small message read back: "
		     "from 64 B, read 64 B, free (per message, %d runs)", reps);
	measure(s, read64_ways, ARRAY_SIZE(read64_ways), NULL, reps, 1);
	for (size_t i = 0; i < ARRAY_SIZE(pats); i++) {
		s = scen_new(pats[i].id, COL_NOTIME | COL_KEPT, 0,
			     "memory for a rope of %zu bytes: %s",
			     pats[i].pat.held, pats[i].what);
		measure_n(&s, 1, pattern_ways, ARRAY_SIZE(pattern_ways),
			  &pats[i].pat, 1, 0, false);
		if (i == ARRAY_SIZE(pats) - 1)
			s->note = "heap kept: what ropeio allocated for the "
				  "rope (rope_mem_stats), beside the bytes "
				  "in the title; referenced bytes are the "
				  "caller's. The bound: 4 x bytes + 192 B per "
				  "segment + 256 KiB; version 0.2 allocated "
				  "33 GB for the first row.";
	}
}
