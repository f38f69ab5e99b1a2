/* SPDX-License-Identifier: MIT */
/*
 * The put area: rope_write()'s fast path for appends (invariant 10 in
 * rope-priv.h). It is one bound check, so everything that forbids it must
 * close it. Each test opens it with a write at the end, does one thing
 * that must close it, and checks that the next write behaves as BytesIO
 * says, which it would not if the fast path had taken it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* Whether the next rope_write() of @len bytes may take the fast path. */
static bool
t_put_open(const struct rope *r, size_t len)
{
	return r->put_end != r->tail_ptr &&
	       (size_t)(r->put_end - r->tail_ptr) >= len;
}

/* A rope holding @s, written by appends so that its put area is open. */
static struct rope *
t_put_rope(const char *s)
{
	struct rope *r = rope_new();

	if (!r) {
		fprintf(stderr, "out of memory in a test\n");
		_exit(T_EXIT_SETUP);
	}
	CU_ASSERT_EQUAL(rope_write(r, s, strlen(s)), (ssize_t)strlen(s));
	return r;
}

static void
test_put_append_leaves_position_behind(void)
{
	struct rope *r = t_put_rope("abc");

	CU_ASSERT(t_put_open(r, 2));
	/* rope_append() does not move the position: it stays at 3. */
	CU_ASSERT_EQUAL(rope_append(r, "def", 3), 3);
	CU_ASSERT_FALSE(t_put_open(r, 1));
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_write(r, "XY", 2), 2);
	T_CHECK(r);
	T_EQUALS_STR(r, "abcXYf");
	CU_ASSERT_EQUAL(rope_tell(r), 5);
	rope_free(r);
}

static void
test_put_check_sees_open_area_off_end(void)
{
	struct rope *r = t_put_rope("abc");

	/* The invariant checker itself: an area left open with the position
	 * short of the end is reported. */
	T_CHECK(r);
	r->pos = 1;
	CU_ASSERT_EQUAL(rope__check(r), -EUCLEAN);
	r->pos = 3;
	T_CHECK(r);
	r->put_end = r->tail_ptr + 1;  /* neither closed nor the claim's end */
	CU_ASSERT_EQUAL(rope__check(r), -EUCLEAN);
	rope__put_close(r);
	T_CHECK(r);
	rope_free(r);
}

static void
test_put_close_then_write_ebadf(void)
{
	struct rope *r = t_put_rope("abc");

	CU_ASSERT_EQUAL(rope_close(r), 0);
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_write(r, "d", 1), -EBADF);
	CU_ASSERT_EQUAL(rope_size(r), 0);
	rope_free(r);
}

static void
test_put_every_length_copies_right(void)
{
	struct rope *r = rope_new();
	uint8_t src[64], want[64 * 65 / 2];
	size_t at = 0;

	/* Lengths 1 to 64 cross every branch of the short copy and the
	 * long one; each write starts at a different alignment. */
	for (size_t len = 1; len <= 64; len++) {
		t_pattern(src, len, at);
		memcpy(want + at, src, len);
		CU_ASSERT_EQUAL(rope_write(r, src, len), (ssize_t)len);
		at += len;
	}
	T_CHECK(r);
	CU_ASSERT(t_equals(r, want, at));
	CU_ASSERT_EQUAL(rope_tell(r), (int64_t)at);
	rope_free(r);
}

static void
test_put_getbuffer_then_write_ebusy(void)
{
	struct rope *r = t_put_rope("abc");
	struct iovec iov[4];

	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 4), 1);
	CU_ASSERT_FALSE(t_put_open(r, 1));
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_write(r, "d", 1), -EBUSY);
	T_EQUALS_STR(r, "abc");
	CU_ASSERT_EQUAL(rope_releasebuffer(r), 0);
	/* Released, the slow path writes and opens the area again. */
	CU_ASSERT_EQUAL(rope_write(r, "d", 1), 1);
	CU_ASSERT(t_put_open(r, 1));
	T_CHECK(r);
	T_EQUALS_STR(r, "abcd");
	rope_free(r);
}

static void
test_put_getvalue_then_write_drops_value(void)
{
	struct rope *r = t_put_rope("hello");
	struct rope_bytes *v = NULL, *v2 = NULL;

	/* One segment: getvalue() shares it and caches the value. */
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	CU_ASSERT_FALSE(t_put_open(r, 1));
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_write(r, " world", 6), 6);
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v2), 0);
	CU_ASSERT_PTR_NOT_EQUAL(v, v2);
	CU_ASSERT_EQUAL(rope_bytes_size(v), 5);
	CU_ASSERT_EQUAL(memcmp(rope_bytes_data(v), "hello", 5), 0);
	CU_ASSERT_EQUAL(rope_bytes_size(v2), 11);
	if (rope_bytes_size(v2) == 11)
		CU_ASSERT_EQUAL(memcmp(rope_bytes_data(v2), "hello world", 11),
				0);
	rope_bytes_unref(v);
	rope_bytes_unref(v2);
	rope_free(r);
}

static void
test_put_int64_max_boundary(void)
{
	struct rope *r = rope_new();
	int64_t at = INT64_MAX - 5;

	/* A gap up to 5 bytes short of the limit, then one byte: the tail
	 * chunk has room for 255 more, the stream for 4. */
	CU_ASSERT_EQUAL(rope_seek(r, at, SEEK_SET), at);
	CU_ASSERT_EQUAL(rope_write(r, "a", 1), 1);
	CU_ASSERT(t_put_open(r, 4));
	CU_ASSERT_FALSE(t_put_open(r, 5));
	CU_ASSERT_EQUAL(rope_write(r, "bcdef", 5), -EOVERFLOW);
	CU_ASSERT_EQUAL(rope_write(r, "bcd", 3), 3);
	CU_ASSERT_EQUAL(rope_write(r, "ef", 2), -EOVERFLOW);
	CU_ASSERT_EQUAL(rope_write(r, "e", 1), 1);
	CU_ASSERT_EQUAL(rope_tell(r), INT64_MAX);
	CU_ASSERT_EQUAL(rope_write(r, "f", 1), -EOVERFLOW);
	CU_ASSERT_EQUAL(rope_size(r), (size_t)INT64_MAX);
	T_CHECK(r);
	rope_free(r);
}

static void
test_put_read_fd_leaves_position_behind(void)
{
	struct rope *r = t_put_rope("abc");
	int p[2];

	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	CU_ASSERT_EQUAL(write(p[1], "def", 3), 3);
	/* Read into the tail room: the position stays at 3. */
	CU_ASSERT_EQUAL(rope_read_fd(r, p[0], 3), 3);
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_write(r, "XY", 2), 2);
	T_CHECK(r);
	T_EQUALS_STR(r, "abcXYf");
	close(p[0]);
	close(p[1]);
	rope_free(r);
}

static void
test_put_seek_back_then_write_overwrites(void)
{
	struct rope *r = t_put_rope("abcdef");

	CU_ASSERT_EQUAL(rope_seek(r, 1, SEEK_SET), 1);
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_write(r, "XY", 2), 2);
	T_CHECK(r);
	T_EQUALS_STR(r, "aXYdef");
	/* Back at the end, a slow write opens the area again. */
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_END), 6);
	CU_ASSERT_EQUAL(rope_write(r, "g", 1), 1);
	CU_ASSERT(t_put_open(r, 1));
	CU_ASSERT_EQUAL(rope_write(r, "h", 1), 1);
	T_CHECK(r);
	T_EQUALS_STR(r, "aXYdefgh");
	rope_free(r);
}

static void
test_put_seek_past_end_then_write_fills_gap(void)
{
	struct rope *r = t_put_rope("ab");

	CU_ASSERT_EQUAL(rope_seek(r, 2, SEEK_CUR), 4);
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_write(r, "c", 1), 1);
	T_CHECK(r);
	CU_ASSERT(t_equals(r, "ab\0\0c", 5));
	rope_free(r);
}

static void
test_put_snapshot_keeps_area_open(void)
{
	struct rope *r = t_put_rope("abc");
	struct rope_snap *s = NULL;
	struct iovec iov[2];

	/* A snapshot covers only its bytes, so appends stay fast. */
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	CU_ASSERT(t_put_open(r, 1));
	CU_ASSERT_EQUAL(rope_write(r, "def", 3), 3);
	T_CHECK(r);
	T_EQUALS_STR(r, "abcdef");
	CU_ASSERT_EQUAL(rope_snap_size(s), 3);
	CU_ASSERT_EQUAL(rope_snap_iov(s, 0, SIZE_MAX, iov, 2), 1);
	CU_ASSERT_EQUAL(memcmp(iov[0].iov_base, "abc", 3), 0);
	rope_snap_unref(s);
	rope_free(r);
}

static void
test_put_truncate_below_position_fills_gap(void)
{
	struct rope *r = t_put_rope("abcdef");

	/* The position stays at 6, past the new end. */
	CU_ASSERT_EQUAL(rope_truncate(r, 2), 2);
	CU_ASSERT_FALSE(t_put_open(r, 1));
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_write(r, "g", 1), 1);
	T_CHECK(r);
	CU_ASSERT(t_equals(r, "ab\0\0\0\0g", 7));
	rope_free(r);
}

static const struct t_test tests[] = {
	{ "append_leaves_position_behind", test_put_append_leaves_position_behind },
	{ "check_sees_open_area_off_end", test_put_check_sees_open_area_off_end },
	{ "close_then_write_ebadf", test_put_close_then_write_ebadf },
	{ "every_length_copies_right", test_put_every_length_copies_right },
	{ "getbuffer_then_write_ebusy", test_put_getbuffer_then_write_ebusy },
	{ "getvalue_then_write_drops_value", test_put_getvalue_then_write_drops_value },
	{ "int64_max_boundary", test_put_int64_max_boundary },
	{ "read_fd_leaves_position_behind", test_put_read_fd_leaves_position_behind },
	{ "seek_back_then_write_overwrites", test_put_seek_back_then_write_overwrites },
	{ "seek_past_end_then_write_fills_gap", test_put_seek_past_end_then_write_fills_gap },
	{ "snapshot_keeps_area_open", test_put_snapshot_keeps_area_open },
	{ "truncate_below_position_fills_gap", test_put_truncate_below_position_fills_gap },
};

int
main(void)
{
	return t_run("put", tests, ARRAY_SIZE(tests));
}
