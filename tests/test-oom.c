/* SPDX-License-Identifier: MIT */
/*
 * The out-of-memory sweep: for every operation that can allocate, on ropes
 * in several states, fail allocation N for N = 0, 1, 2, ... until the
 * operation succeeds. At each failure the result must be -ENOMEM, the
 * invariants must hold, the contents, size and position must be unchanged,
 * and not one byte may have leaked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static uint8_t big[300000];

/* ------------------------------------------------------------------------ */
/* Rope states                                                              */
/* ------------------------------------------------------------------------ */

struct state {
	struct rope *r;
	struct rope_bytes *value;  /* held by the "user" */
	struct rope_snap *snap;    /* held by the "user" */
};

static struct rope *
fragmented(void)
{
	struct rope *r = rope_new();

	for (int i = 0; i < 6; i++) {
		rope_append(r, big + i * 1000, 700 + i * 300);
		rope_append_ref(r, "borrowed", 8, NULL, NULL);
	}
	return r;
}

static void
state_fresh(struct state *st)
{
	CU_ASSERT_EQUAL(rope_new_from(&st->r, big, 5000), 0);
}

static void
state_fragmented(struct state *st)
{
	st->r = fragmented();
}

static void
state_value_held(struct state *st)
{
	st->r = fragmented();
	CU_ASSERT_EQUAL(rope_getvalue(st->r, &st->value), 0);
}

static void
state_snapshot_held(struct state *st)
{
	st->r = fragmented();
	CU_ASSERT_EQUAL(rope_snapshot(st->r, &st->snap), 0);
}

static void
state_gap(struct state *st)
{
	st->r = rope_new();
	rope_write(st->r, big, 100);
	rope_seek(st->r, 5000, SEEK_SET);
	rope_write(st->r, big, 100);
}

/* Two shared segments fill the inline array: a split must move it. */
static void
state_inline_full_shared(struct state *st)
{
	CU_ASSERT_EQUAL(rope_bytes_new(&st->value, big, 6000), 0);
	CU_ASSERT_EQUAL(rope_new_from_bytes(&st->r, st->value), 0);
	rope_append_ref(st->r, big, 3000, NULL, NULL);
}

/* Emptied by a drain, so it keeps a spare chunk, then given borrowed
 * bytes: an append may take the spare, and must give it back on failure. */
static void
state_spare(struct state *st)
{
	st->r = rope_new();
	rope_write(st->r, big, 5000);
	rope_drain(st->r, 5000);
	rope_append_ref(st->r, big + 100, 5000, NULL, NULL);
}

/* Page chunks only the rope holds: getvalue moves their pages, after the
 * value, a chunk header and the reserved range were allocated. */
static void
state_pages(struct state *st)
{
	st->r = rope_new();
	for (int i = 0; i < 3; i++)
		rope_write(st->r, big, sizeof(big));
}

static const struct {
	const char *name;
	void (*make)(struct state *);
} states[] = {
	{ "fresh", state_fresh },
	{ "fragmented", state_fragmented },
	{ "gap", state_gap },
	{ "inline full, shared", state_inline_full_shared },
	{ "pages", state_pages },
	{ "snapshot held", state_snapshot_held },
	{ "spare", state_spare },
	{ "value held", state_value_held },
};

/* ------------------------------------------------------------------------ */
/* Operations: each returns the library's result and may hand back an      */
/* object to free on success.                                               */
/* ------------------------------------------------------------------------ */

struct result {
	struct rope_bytes *value;
	struct rope_snap *snap;
	struct rope *rope;
	int exported;
};

/* Where each operation starts, as a fraction of the size (the sweep
 * seeks there before the failure point is armed). */
enum where { AT_START, AT_THIRD, AT_END_MINUS_10, AT_END, PAST_END };

static int64_t
position(struct rope *r, enum where w)
{
	int64_t size = (int64_t)rope_size(r);

	switch (w) {
	case AT_START:
		return 2;
	case AT_THIRD:
		return size / 3;
	case AT_END_MINUS_10:
		return size - 10;
	case AT_END:
		return size;
	case PAST_END:
		return size + 1000;
	}
	return 0;
}

static long
op_write_large(struct rope *r, struct result *res)
{
	return rope_write(r, big, sizeof(big));
}

static long
op_write_small(struct rope *r, struct result *res)
{
	return rope_write(r, "eleven byte", 11);
}

static long
op_write_1500(struct rope *r, struct result *res)
{
	return rope_write(r, big, 1500);
}

static long
op_write_4000(struct rope *r, struct result *res)
{
	return rope_write(r, big, 4000);
}

static long
op_write_50(struct rope *r, struct result *res)
{
	return rope_write(r, big, 50);
}

static long
op_writev(struct rope *r, struct result *res)
{
	struct iovec iov[3] = {
		{ big, 10 }, { big + 10, 3000 }, { big, 7 },
	};

	return rope_writev(r, iov, 3);
}

static long
op_append(struct rope *r, struct result *res)
{
	return rope_append(r, big, 2000);
}

static long
op_append_ref(struct rope *r, struct result *res)
{
	return rope_append_ref(r, big, 64, NULL, NULL);
}

static long
op_truncate(struct rope *r, struct result *res)
{
	return rope_truncate(r, (int64_t)rope_size(r) / 2);
}

static long
op_getvalue(struct rope *r, struct result *res)
{
	return rope_getvalue(r, &res->value);
}

static long
op_getbuffer(struct rope *r, struct result *res)
{
	static struct iovec iov[64];
	int ret = rope_getbuffer(r, iov, 64);

	res->exported = ret >= 0;
	return ret;
}

static long
op_snapshot(struct rope *r, struct result *res)
{
	return rope_snapshot(r, &res->snap);
}

static long
op_new_from_bytes(struct rope *r, struct result *res)
{
	struct rope_bytes *b;
	long ret;

	/* The value is made before the sweep point matters: its own
	 * allocation failing is a valid -ENOMEM too. */
	ret = rope_bytes_new(&b, big, 777);
	if (ret < 0)
		return ret;
	ret = rope_new_from_bytes(&res->rope, b);
	rope_bytes_unref(b);
	return ret;
}

static long
op_read_fd(struct rope *r, struct result *res)
{
	int p[2];
	long ret;

	/* More than the tail room, so a fresh chunk is needed. */
	if (pipe(p) < 0 || write(p[1], big, 4000) != 4000)
		return -EIO;
	ret = rope_read_fd(r, p[0], 4000);
	close(p[0]);
	close(p[1]);
	return ret;
}

static long
op_pullup_all(struct rope *r, struct result *res)
{
	const void *p;

	return rope_pullup(r, 0, rope_size(r), &p);
}

static long
op_drain(struct rope *r, struct result *res)
{
	return rope_drain(r, rope_size(r) / 2);
}

static long
op_new_from(struct rope *r, struct result *res)
{
	return rope_new_from(&res->rope, big, 999);
}

static const struct {
	const char *name;
	enum where where;
	long (*fn)(struct rope *, struct result *);
} ops[] = {
	{ "append", AT_START, op_append },
	{ "append_ref", AT_START, op_append_ref },
	{ "drain", AT_START, op_drain },
	{ "getbuffer", AT_START, op_getbuffer },
	{ "getvalue", AT_START, op_getvalue },
	{ "new_from", AT_START, op_new_from },
	{ "new_from_bytes", AT_START, op_new_from_bytes },
	{ "pullup_all", AT_START, op_pullup_all },
	{ "read_fd", AT_START, op_read_fd },
	{ "snapshot", AT_START, op_snapshot },
	{ "truncate", AT_START, op_truncate },
	{ "write_append_large", AT_END, op_write_large },
	{ "write_append_small", AT_END, op_write_small },
	{ "write_overwrite_and_extend", AT_END_MINUS_10, op_write_4000 },
	{ "write_overwrite_middle", AT_THIRD, op_write_1500 },
	{ "write_past_end", PAST_END, op_write_50 },
	{ "writev", AT_START, op_writev },
};

static void
result_release(struct rope *r, struct result *res)
{
	rope_bytes_unref(res->value);
	rope_snap_unref(res->snap);
	rope_free(res->rope);
	if (res->exported)
		rope_releasebuffer(r);
	memset(res, 0, sizeof(*res));
}

static void
state_release(struct state *st)
{
	rope_bytes_unref(st->value);
	rope_snap_unref(st->snap);
	rope_free(st->r);
	memset(st, 0, sizeof(*st));
}

/* Sweep one operation on one state, rebuilding the state for every N. */
static int
sweep(size_t si, size_t oi)
{
	int failures = 0;

	for (long n = 0; n < 1000; n++) {
		struct state st = { 0 };
		struct result res = { 0 };
		uint8_t *before_bytes, *after_bytes;
		size_t before_len, after_len, mem_before;
		int64_t pos_before;
		long ret;

		states[si].make(&st);
		pos_before = position(st.r, ops[oi].where);
		CU_ASSERT_EQUAL(rope_seek(st.r, pos_before, SEEK_SET),
				pos_before);
		mem_before = t_mem_now();
		before_bytes = t_contents(st.r, &before_len);

		rope__alloc_fail_at(n);
		ret = ops[oi].fn(st.r, &res);
		rope__alloc_fail_at(-1);

		if (ret != -ENOMEM) {
			CU_ASSERT(ret >= 0);
			if (ret < 0)
				fprintf(stderr, "%s on %s: %ld at N=%ld\n",
					ops[oi].name, states[si].name, ret, n);
			CU_ASSERT_EQUAL(rope__check(st.r), 0);
			result_release(st.r, &res);
			free(before_bytes);
			state_release(&st);
			return failures;
		}
		failures++;
		/* All or nothing: same bytes and position, invariants hold,
		 * and not a byte leaked. */
		after_bytes = t_contents(st.r, &after_len);
		CU_ASSERT_EQUAL(rope__check(st.r), 0);
		CU_ASSERT_EQUAL(after_len, before_len);
		CU_ASSERT(before_len == after_len &&
			  (before_len == 0 ||
			   memcmp(before_bytes, after_bytes, before_len) == 0));
		CU_ASSERT_EQUAL(t_mem_now(), mem_before);
		CU_ASSERT_EQUAL(rope_tell(st.r), pos_before);
		free(before_bytes);
		free(after_bytes);
		state_release(&st);
	}
	CU_FAIL("operation never succeeded");
	return failures;
}

static void
test_oom_every_operation_all_or_nothing(void)
{
	int total_failures = 0;

	t_pattern(big, sizeof(big), 0);
	for (size_t si = 0; si < ARRAY_SIZE(states); si++)
		for (size_t oi = 0; oi < ARRAY_SIZE(ops); oi++)
			total_failures += sweep(si, oi);
	/* The sweep must really have injected failures. */
	CU_ASSERT(total_failures > 50);
}

static void
test_oom_rope_new_returns_null(void)
{
	struct rope *r;

	rope__alloc_fail_at(0);
	r = rope_new();
	rope__alloc_fail_at(-1);
	CU_ASSERT_PTR_NULL(r);
	r = rope_new();
	CU_ASSERT_PTR_NOT_NULL(r);
	rope_free(r);
}

static void
test_oom_bytes_new(void)
{
	struct rope_bytes *b = NULL;
	size_t mem = t_mem_now();

	for (long n = 0; n < 2; n++) {
		rope__alloc_fail_at(n);
		CU_ASSERT_EQUAL(rope_bytes_new(&b, "abc", 3), -ENOMEM);
		rope__alloc_fail_at(-1);
		CU_ASSERT_PTR_NULL(b);
		CU_ASSERT_EQUAL(t_mem_now(), mem);
	}
	CU_ASSERT_EQUAL(rope_bytes_new(&b, "abc", 3), 0);
	rope_bytes_unref(b);
}

static int oom_released;

static void
oom_release(void *data, size_t len, void *arg)
{
	oom_released++;
}

static void
test_oom_append_ref_keeps_ownership(void)
{
	struct rope *r = rope_new();

	/* Fill the inline segment slots, so the next append_ref must grow
	 * the array: two allocations that can each fail. */
	rope_append_ref(r, "a", 1, NULL, NULL);
	rope_append_ref(r, "b", 1, NULL, NULL);
	oom_released = 0;
	for (long n = 0; n < 2; n++) {
		rope__alloc_fail_at(n);
		CU_ASSERT_EQUAL(rope_append_ref(r, "c", 1, oom_release, NULL),
				-ENOMEM);
		rope__alloc_fail_at(-1);
		/* On failure the caller still owns the memory. */
		CU_ASSERT_EQUAL(oom_released, 0);
		T_EQUALS_STR(r, "ab");
		T_CHECK(r);
	}
	CU_ASSERT_EQUAL(rope_append_ref(r, "c", 1, oom_release, NULL), 0);
	rope_free(r);
	CU_ASSERT_EQUAL(oom_released, 1);
}

static const struct t_test tests[] = {
	{ "append_ref_keeps_ownership", test_oom_append_ref_keeps_ownership },
	{ "bytes_new", test_oom_bytes_new },
	{ "every_operation_all_or_nothing", test_oom_every_operation_all_or_nothing },
	{ "rope_new_returns_null", test_oom_rope_new_returns_null },
};

int
main(void)
{
	return t_run("oom", tests, ARRAY_SIZE(tests));
}
