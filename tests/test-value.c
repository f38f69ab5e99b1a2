/* SPDX-License-Identifier: MIT */
/*
 * getvalue() and struct rope_bytes: zero-copy when contiguous, flatten at
 * most once per change, cache, immutability, and the "append, then
 * getvalue" loop staying linear.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static bool
value_is(const struct rope_bytes *b, const void *want, size_t len)
{
	return rope_bytes_size(b) == len &&
	       memcmp(rope_bytes_data(b), want, len) == 0;
}

/* A rope of several segments: pieces appended by reference. */
static struct rope *
fragmented(const char *const *pieces, size_t n)
{
	struct rope *r = rope_new();

	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(rope_append_ref(r, pieces[i], strlen(pieces[i]),
						NULL, NULL), 0);
	return r;
}

static void
test_value_bad_arguments(void)
{
	struct rope *r = rope_new();
	struct rope_bytes *b = NULL;

	CU_ASSERT_EQUAL(rope_getvalue(NULL, &b), -EINVAL);
	CU_ASSERT_EQUAL(rope_getvalue(r, NULL), -EINVAL);
	CU_ASSERT_EQUAL(rope_bytes_new(NULL, "x", 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_bytes_new(&b, NULL, 1), -EINVAL);
	CU_ASSERT_PTR_NULL(b);
	CU_ASSERT_PTR_NULL(rope_bytes_data(NULL));
	CU_ASSERT_EQUAL(rope_bytes_size(NULL), 0);
	CU_ASSERT_PTR_NULL(rope_bytes_ref(NULL));
	rope_bytes_unref(NULL);
	rope_free(r);
}

static void
test_value_bytes_new_copies(void)
{
	char src[] = "payload";
	struct rope_bytes *b, *b2;

	CU_ASSERT_EQUAL(rope_bytes_new(&b, src, 7), 0);
	src[0] = 'X';
	CU_ASSERT(value_is(b, "payload", 7));
	b2 = rope_bytes_ref(b);
	CU_ASSERT_PTR_EQUAL(b2, b);
	rope_bytes_unref(b);
	CU_ASSERT(value_is(b2, "payload", 7));
	rope_bytes_unref(b2);
	CU_ASSERT_EQUAL(rope_bytes_new(&b, NULL, 0), 0);
	CU_ASSERT_EQUAL(rope_bytes_size(b), 0);
	rope_bytes_unref(b);
}

static void
test_value_cached_until_change(void)
{
	const char *const pieces[] = { "ab", "cd", "ef" };
	struct rope *r = fragmented(pieces, 3);
	struct rope_bytes *v1, *v2, *v3;
	struct rope_mem_stats before, after;

	CU_ASSERT_EQUAL(rope_getvalue(r, &v1), 0);
	rope_mem_stats(&before, sizeof(before));
	CU_ASSERT_EQUAL(rope_getvalue(r, &v2), 0);
	rope_mem_stats(&after, sizeof(after));
	/* The same value, and the second call allocates nothing. */
	CU_ASSERT_PTR_EQUAL(v1, v2);
	CU_ASSERT_EQUAL(after.allocs, before.allocs);
	/* A read or a seek is not a change. */
	rope_seek(r, 2, SEEK_SET);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v3), 0);
	CU_ASSERT_PTR_EQUAL(v3, v1);
	rope_bytes_unref(v3);
	/* A write is; so is a truncate. */
	CU_ASSERT_EQUAL(rope_write(r, "X", 1), 1);
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v3), 0);
	CU_ASSERT_PTR_NOT_EQUAL(v3, v1);
	CU_ASSERT(value_is(v3, "abXdef", 6));
	CU_ASSERT(value_is(v1, "abcdef", 6));
	rope_bytes_unref(v3);
	CU_ASSERT_EQUAL(rope_truncate(r, 4), 4);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v3), 0);
	CU_ASSERT(value_is(v3, "abXd", 4));
	rope_bytes_unref(v1);
	rope_bytes_unref(v2);
	rope_bytes_unref(v3);
	T_CHECK(r);
	rope_free(r);
}

static void
test_value_flatten_replaces_segments(void)
{
	const char *const pieces[] = { "one ", "two ", "three ", "four" };
	struct rope *r = fragmented(pieces, 4);
	struct rope_info info;
	struct rope_bytes *v;

	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	CU_ASSERT_EQUAL(info.segments, 4);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	CU_ASSERT(value_is(v, "one two three four", 18));
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	CU_ASSERT_EQUAL(info.segments, 1);
	/* The rope now reads from the flat copy. */
	T_EQUALS_STR(r, "one two three four");
	rope_bytes_unref(v);
	rope_free(r);
}

static void
test_value_independent_of_position(void)
{
	struct rope *r = t_rope_from("hello");
	struct rope_bytes *v;

	rope_seek(r, 100, SEEK_SET);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	CU_ASSERT(value_is(v, "hello", 5));
	CU_ASSERT_EQUAL(rope_tell(r), 100);
	rope_bytes_unref(v);
	rope_free(r);
}

static void
test_value_never_changes(void)
{
	struct rope *r = t_rope_from("0123456789");
	struct rope_bytes *v;

	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	rope_seek(r, 2, SEEK_SET);
	CU_ASSERT_EQUAL(rope_write(r, "ab", 2), 2);   /* overwrite */
	rope_seek(r, 0, SEEK_END);
	CU_ASSERT_EQUAL(rope_write(r, "tail", 4), 4); /* append */
	CU_ASSERT_EQUAL(rope_truncate(r, 3), 3);
	CU_ASSERT_EQUAL(rope_append(r, "XYZ", 3), 3); /* into freed room? */
	T_CHECK(r);
	T_EQUALS_STR(r, "01aXYZ");
	CU_ASSERT(value_is(v, "0123456789", 10));
	rope_free(r);
	CU_ASSERT(value_is(v, "0123456789", 10));
	rope_bytes_unref(v);
}

static void
test_value_while_exported_is_a_copy(void)
{
	struct rope *r = t_rope_from("abc");
	struct iovec iov[4];
	struct rope_bytes *v1, *v2;

	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 4), 1);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v1), 0);
	((char *)iov[0].iov_base)[0] = 'X';
	CU_ASSERT_EQUAL(rope_getvalue(r, &v2), 0);
	CU_ASSERT_PTR_NOT_EQUAL(v1, v2);
	CU_ASSERT(value_is(v1, "abc", 3));
	CU_ASSERT(value_is(v2, "Xbc", 3));
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_releasebuffer(r), 0);
	rope_bytes_unref(v1);
	rope_bytes_unref(v2);
	rope_free(r);
}

static void
test_value_zero_copy_when_contiguous(void)
{
	static uint8_t data[100000];
	struct rope *r;
	struct rope_bytes *v;
	struct rope_mem_stats before, after;

	t_pattern(data, sizeof(data), 0);
	CU_ASSERT_EQUAL(rope_new_from(&r, data, sizeof(data)), 0);
	rope_mem_stats(&before, sizeof(before));
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	rope_mem_stats(&after, sizeof(after));
	/* One small struct; the bytes are shared. */
	CU_ASSERT_EQUAL(after.allocs - before.allocs, 1);
	CU_ASSERT(after.total - before.total < 64);
	CU_ASSERT(value_is(v, data, sizeof(data)));
	T_CHECK(r);
	rope_bytes_unref(v);
	rope_free(r);

	/* So is a rope whose appends all fit the tail chunk. */
	r = rope_new();
	for (int i = 0; i < 10; i++)
		rope_write(r, "0123456789", 10);
	rope_mem_stats(&before, sizeof(before));
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	rope_mem_stats(&after, sizeof(after));
	CU_ASSERT(after.total - before.total < 64);
	rope_bytes_unref(v);
	rope_free(r);
}

static void
test_value_long_zero_run_is_flattened(void)
{
	struct rope *r = rope_new();
	struct rope_bytes *v;
	size_t n = 3u << 20;

	/* A zero run longer than the real zero block is virtual: its value
	 * must still be real, contiguous memory. */
	rope_seek(r, (int64_t)n, SEEK_SET);
	rope_write(r, "!", 1);
	CU_ASSERT_EQUAL(rope_truncate(r, (int64_t)n), (int64_t)n);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	CU_ASSERT_EQUAL(rope_bytes_size(v), n);
	{
		const uint8_t *p = rope_bytes_data(v);
		size_t nonzero = 0;

		for (size_t i = 0; i < n; i++)
			nonzero += p[i] != 0;
		CU_ASSERT_EQUAL(nonzero, 0);
	}
	T_CHECK(r);
	rope_bytes_unref(v);
	rope_free(r);
}

/*
 * The parser loop: append a piece, then getvalue, N times. Each getvalue
 * that copies everything would make the loop O(N x size); the rope must
 * keep it O(total bytes) whether or not earlier values are still held.
 */
static void
run_parser_loop(bool hold)
{
	enum { N = 2000, PIECE = 1000 };
	static uint8_t piece[PIECE];
	struct rope_bytes **held = calloc(N, sizeof(*held));
	struct rope_mem_stats before, after;
	struct rope *r = rope_new();
	uint64_t total = (uint64_t)N * PIECE;

	t_pattern(piece, sizeof(piece), 0);
	rope_mem_stats(&before, sizeof(before));
	for (int i = 0; i < N; i++) {
		struct rope_bytes *v;

		rope_write(r, piece, PIECE);
		CU_ASSERT_EQUAL_FATAL(rope_getvalue(r, &v), 0);
		CU_ASSERT_EQUAL(rope_bytes_size(v), (size_t)(i + 1) * PIECE);
		if (hold)
			held[i] = v;
		else
			rope_bytes_unref(v);
	}
	rope_mem_stats(&after, sizeof(after));
	T_CHECK(r);
	/* Quadratic would be about N/2 x total = 1000 x; linear stays a small
	 * constant times the bytes appended. */
	CU_ASSERT(after.total - before.total < 8 * total);
	for (int i = 0; hold && i < N; i++) {
		CU_ASSERT_EQUAL(memcmp((const uint8_t *)rope_bytes_data(held[i]) +
				       (size_t)i * PIECE, piece, PIECE), 0);
		rope_bytes_unref(held[i]);
	}
	free(held);
	rope_free(r);
}

static void
test_value_parser_loop_linear_dropped(void)
{
	run_parser_loop(false);
}

static void
test_value_parser_loop_linear_held(void)
{
	run_parser_loop(true);
}

static void *
unref_value(void *arg)
{
	rope_bytes_unref(arg);
	return NULL;
}

static void
test_value_released_on_another_thread(void)
{
	struct rope *r = rope_new();
	struct rope_bytes *v;
	pthread_t t;
	size_t before = t_mem_now();

	rope_write(r, "shared", 6);
	rope_append_ref(r, " ref", 4, NULL, NULL);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	rope_free(r);
	CU_ASSERT_EQUAL(pthread_create(&t, NULL, unref_value, v), 0);
	pthread_join(t, NULL);
	CU_ASSERT(t_mem_now() <= before);
}

static void
test_value_rope_from_bytes_shares(void)
{
	static uint8_t data[1 << 16];
	struct rope_bytes *v;
	struct rope *r;
	struct rope_mem_stats before, after;

	t_pattern(data, sizeof(data), 7);
	CU_ASSERT_EQUAL(rope_bytes_new(&v, data, sizeof(data)), 0);
	rope_mem_stats(&before, sizeof(before));
	CU_ASSERT_EQUAL(rope_new_from_bytes(&r, v), 0);
	rope_mem_stats(&after, sizeof(after));
	CU_ASSERT(after.total - before.total <= sizeof(struct rope));
	T_CHECK(r);
	CU_ASSERT(t_equals(r, data, sizeof(data)));
	CU_ASSERT_EQUAL(rope_tell(r), 0);
	/* Writes into the rope never reach the value. */
	CU_ASSERT_EQUAL(rope_write(r, "XY", 2), 2);
	rope_seek(r, 0, SEEK_END);
	CU_ASSERT_EQUAL(rope_write(r, "tail", 4), 4);
	T_CHECK(r);
	CU_ASSERT(value_is(v, data, sizeof(data)));
	rope_bytes_unref(v);
	/* ...and the rope still has its bytes once the value is gone. */
	memcpy(data, "XY", 2);
	{
		size_t n;
		uint8_t *got = t_contents(r, &n);

		CU_ASSERT_EQUAL(n, sizeof(data) + 4);
		CU_ASSERT(got && memcmp(got, data, sizeof(data)) == 0);
		CU_ASSERT(got && memcmp(got + sizeof(data), "tail", 4) == 0);
		free(got);
	}
	rope_free(r);

	/* The empty value gives an empty rope. */
	CU_ASSERT_EQUAL(rope_bytes_new(&v, "", 0), 0);
	CU_ASSERT_EQUAL(rope_new_from_bytes(&r, v), 0);
	CU_ASSERT_EQUAL(rope_size(r), 0);
	rope_bytes_unref(v);
	rope_free(r);
}

static const struct t_test tests[] = {
	{ "bad_arguments", test_value_bad_arguments },
	{ "bytes_new_copies", test_value_bytes_new_copies },
	{ "cached_until_change", test_value_cached_until_change },
	{ "flatten_replaces_segments", test_value_flatten_replaces_segments },
	{ "independent_of_position", test_value_independent_of_position },
	{ "long_zero_run_is_flattened", test_value_long_zero_run_is_flattened },
	{ "never_changes", test_value_never_changes },
	{ "parser_loop_linear_dropped", test_value_parser_loop_linear_dropped },
	{ "parser_loop_linear_held", test_value_parser_loop_linear_held },
	{ "released_on_another_thread", test_value_released_on_another_thread },
	{ "rope_from_bytes_shares", test_value_rope_from_bytes_shares },
	{ "while_exported_is_a_copy", test_value_while_exported_is_a_copy },
	{ "zero_copy_when_contiguous", test_value_zero_copy_when_contiguous },
};

int
main(void)
{
	return t_run("value", tests, ARRAY_SIZE(tests));
}
