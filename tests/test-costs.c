/* SPDX-License-Identifier: MIT */
/*
 * Costs that must not grow with the rope, counted rather than timed: the
 * segment entries a queue moves, and what overwrites of shared and
 * formerly shared bytes allocate and leave behind.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char msg[] = "0123456789abcdef";

/*
 * Segment entries moved so far: the array's head moves forward by itself
 * when the front is drained, so any other change of r->segs across an
 * append is a move (or a reallocation) of every live entry.
 */
struct moves {
	const struct rope_seg *head;
	uint64_t entries;
};

static void
t_moves_note(struct moves *m, const struct rope *r, size_t live_before)
{
	if (r->segs != m->head)
		m->entries += live_before;
	m->head = r->segs;
}

static void
test_costs_queue_at_capacity_moves_little(void)
{
	const size_t depth = 131071, steps = 1000000;
	struct rope *r = rope_new();
	struct moves m = { NULL, 0 };
	size_t i;

	/* One segment per message: references are never merged. */
	for (i = 0; i < depth; i++)
		CU_ASSERT_EQUAL_FATAL(rope_append_ref(r, msg, 1 + i % 16, NULL,
						      NULL), 0);
	m.head = r->segs;
	/* Drain one, append one: amortized O(1) entries moved per step.
	 * Stop as soon as the bound is broken, not after hours of it. */
	for (i = 0; i < steps && m.entries <= 4 * (i + depth); i++) {
		size_t live;

		CU_ASSERT_EQUAL(rope_drain(r, 1 + i % 16), 1 + i % 16);
		m.head = r->segs;
		live = r->nseg;
		CU_ASSERT_EQUAL(rope_append_ref(r, msg, 1 + (depth + i) % 16,
						NULL, NULL), 0);
		t_moves_note(&m, r, live);
	}
	CU_ASSERT_EQUAL(i, steps);
	CU_ASSERT(m.entries <= 4 * (steps + depth));
	CU_ASSERT_EQUAL(r->nseg, depth);
	T_CHECK(r);
	rope_free(r);
}

static uint64_t rng = 0x2545f4914f6cdd1du;

static uint64_t
rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % n;
}

/* True when the snapshot holds exactly @len bytes equal to @want. */
static bool
t_snap_is(const struct rope_snap *s, const uint8_t *want, size_t len)
{
	struct rope_cursor c;
	uint8_t *got = malloc(len + 1);
	bool same;

	same = rope_snap_size(s) == len &&
	       rope_cursor_init_snap(&c, s, 0) == 0 &&
	       rope_cursor_read(&c, got, len) == (ssize_t)len &&
	       memcmp(got, want, len) == 0;
	free(got);
	return same;
}

/* 1-byte overwrites at random places, mirrored in @flat. */
static void
t_scribble(struct rope *r, uint8_t *flat, size_t len, int n)
{
	for (int k = 0; k < n; k++) {
		size_t at = (size_t)rnd(len);
		uint8_t x = (uint8_t)rnd(256);

		rope_seek(r, (int64_t)at, SEEK_SET);
		CU_ASSERT_EQUAL(rope_write(r, &x, 1), 1);
		flat[at] = x;
	}
}

static void
test_costs_overwrites_of_shared_bytes_leave_few_segments(void)
{
	const size_t len = 10u << 20, mib = 1u << 20;
	uint8_t *flat = malloc(len), *old = malloc(len);
	struct rope *r = rope_new();
	struct rope_snap *s;
	struct rope_mem_stats before, after;
	struct rope_info info;
	size_t blocks = len / ROPE_COW_BLOCK;

	t_pattern(flat, len, 0);
	for (size_t off = 0; off < len; off += mib)
		CU_ASSERT_EQUAL(rope_write(r, flat + off, mib), (ssize_t)mib);
	memcpy(old, flat, len);
	CU_ASSERT_EQUAL_FATAL(rope_snapshot(r, &s), 0);

	/* With the snapshot held, each overwrite copies the block around
	 * it once: the segments stay a few per block, not two per write. */
	t_scribble(r, flat, len, 20000);
	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	CU_ASSERT(info.segments <= 2 * blocks + 2 * (len / mib));
	CU_ASSERT(t_snap_is(s, old, len));
	T_CHECK(r);

	/* Once it is released, every byte is the rope's alone again, however
	 * many segments share one chunk: overwrites are in place. */
	rope_snap_unref(s);
	rope_mem_stats(&before, sizeof(before));
	t_scribble(r, flat, len, 20000);
	rope_mem_stats(&after, sizeof(after));
	CU_ASSERT_EQUAL(after.allocs, before.allocs);
	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	CU_ASSERT(info.segments <= 2 * blocks + 2 * (len / mib));
	CU_ASSERT(t_equals(r, flat, len));
	T_CHECK(r);
	rope_free(r);
	free(flat);
	free(old);
}

static void
test_costs_value_and_snapshot_see_no_overwrite(void)
{
	const size_t len = 5 * ROPE_COW_BLOCK + 123;
	uint8_t *flat = malloc(len + 5), *old = malloc(len);
	struct rope *r = rope_new();
	struct rope_bytes *v;
	struct rope_snap *s;

	/* A block copied for an overwrite takes its other bytes from the
	 * rope: the value and the snapshot keep theirs, the rope gets both. */
	t_pattern(flat, len, 7);
	CU_ASSERT_EQUAL(rope_write(r, flat, len), (ssize_t)len);
	memcpy(old, flat, len);
	CU_ASSERT_EQUAL_FATAL(rope_getvalue(r, &v), 0);
	CU_ASSERT_EQUAL_FATAL(rope_snapshot(r, &s), 0);
	t_scribble(r, flat, len, 300);
	rope_seek(r, (int64_t)len - 5, SEEK_SET);
	CU_ASSERT_EQUAL(rope_write(r, "0123456789", 10), 10);
	memcpy(flat + len - 5, "0123456789", 10);
	CU_ASSERT(t_equals(r, flat, len + 5));
	CU_ASSERT(t_snap_is(s, old, len));
	CU_ASSERT(rope_bytes_size(v) == len &&
		  memcmp(rope_bytes_data(v), old, len) == 0);
	T_CHECK(r);
	rope_snap_unref(s);
	rope_bytes_unref(v);
	rope_free(r);
	free(flat);
	free(old);
}

static const struct t_test tests[] = {
	{ "overwrites_of_shared_bytes_leave_few_segments", test_costs_overwrites_of_shared_bytes_leave_few_segments },
	{ "queue_at_capacity_moves_little", test_costs_queue_at_capacity_moves_little },
	{ "value_and_snapshot_see_no_overwrite", test_costs_value_and_snapshot_see_no_overwrite },
};

int
main(void)
{
	return t_run("costs", tests, ARRAY_SIZE(tests));
}
