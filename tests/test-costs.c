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

static const struct t_test tests[] = {
	{ "queue_at_capacity_moves_little", test_costs_queue_at_capacity_moves_little },
};

int
main(void)
{
	return t_run("costs", tests, ARRAY_SIZE(tests));
}
