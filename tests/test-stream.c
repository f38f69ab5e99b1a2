/* SPDX-License-Identifier: MIT */
/*
 * The BytesIO rules, one test each: write, writev, append, read, readline,
 * pread, seek, tell, truncate, close, and the errors of each. The rules are
 * those of CPython 3.11's io.BytesIO (see the research note on its
 * semantics); the test names say which rule.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void
test_stream_append_fills_tail_without_new_chunks(void)
{
	struct rope *r = rope_new();
	struct rope_info info;
	struct rope_mem_stats before, after;
	int i;

	/* 10,000 appends of 11 bytes must not mean 10,000 allocations: small
	 * writes fill the tail chunk, which grows geometrically. */
	rope_mem_stats(&before, sizeof(before));
	for (i = 0; i < 10000; i++)
		CU_ASSERT_EQUAL(rope_write(r, "Hello World", 11), 11);
	rope_mem_stats(&after, sizeof(after));
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_size(r), 110000);
	CU_ASSERT(after.allocs - before.allocs < 20);
	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	CU_ASSERT(info.segments < 20);
	rope_free(r);
}

static void
test_stream_bad_arguments_einval(void)
{
	struct rope *r = t_rope_from("abc");
	struct rope *out = NULL;
	struct iovec iov = { NULL, 1 };
	char c;

	CU_ASSERT_EQUAL(rope_write(NULL, "x", 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_write(r, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_append(r, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_append_ref(r, NULL, 1, NULL, NULL), -EINVAL);
	CU_ASSERT_EQUAL(rope_writev(r, &iov, 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_writev(r, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_writev(r, &iov, -1), -EINVAL);
	CU_ASSERT_EQUAL(rope_writev(r, &iov, IOV_MAX + 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_read(r, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_readline(r, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_pread(r, &c, 1, -1), -EINVAL);
	CU_ASSERT_EQUAL(rope_new_from(NULL, "x", 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_new_from(&out, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_new_from_bytes(&out, NULL), -EINVAL);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_EQUAL(rope_tell(NULL), -EINVAL);
	CU_ASSERT_EQUAL(rope_seek(NULL, 0, SEEK_SET), -EINVAL);
	CU_ASSERT_EQUAL(rope_truncate(NULL, 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_close(NULL), -EINVAL);
	CU_ASSERT_EQUAL(rope_size(NULL), 0);
	CU_ASSERT(rope_closed(NULL));
	rope_free(NULL);
	/* Also with tail room, where the append fast path would run. */
	rope_free(r);
	r = rope_new();
	CU_ASSERT_EQUAL(rope_write(r, "abc", 3), 3);
	CU_ASSERT_EQUAL(rope_write(r, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_append(r, NULL, 1), -EINVAL);
	rope_seek(r, 0, SEEK_SET);
	/* A NULL buffer with length 0 is fine, as in write(fd, NULL, 0). */
	CU_ASSERT_EQUAL(rope_write(r, NULL, 0), 0);
	CU_ASSERT_EQUAL(rope_read(r, NULL, 0), 0);
	T_CHECK(r);
	T_EQUALS_STR(r, "abc");
	CU_ASSERT_EQUAL(rope_tell(r), 0);
	rope_free(r);
}

static void
test_stream_close_blocks_everything(void)
{
	struct rope *r = t_rope_from("abc");
	struct rope_bytes *b = NULL;
	struct rope_snap *s = NULL;
	struct iovec iov[1] = { { (void *)"x", 1 } };
	char buf[4];

	CU_ASSERT(!rope_closed(r));
	CU_ASSERT_EQUAL(rope_close(r), 0);
	CU_ASSERT(rope_closed(r));
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_write(r, "x", 1), -EBADF);
	CU_ASSERT_EQUAL(rope_write(r, "x", 0), -EBADF);
	CU_ASSERT_EQUAL(rope_writev(r, iov, 1), -EBADF);
	CU_ASSERT_EQUAL(rope_append(r, "x", 1), -EBADF);
	CU_ASSERT_EQUAL(rope_append_ref(r, "x", 1, NULL, NULL), -EBADF);
	CU_ASSERT_EQUAL(rope_read(r, buf, 1), -EBADF);
	CU_ASSERT_EQUAL(rope_readline(r, buf, 1), -EBADF);
	CU_ASSERT_EQUAL(rope_pread(r, buf, 1, 0), -EBADF);
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_SET), -EBADF);
	CU_ASSERT_EQUAL(rope_tell(r), -EBADF);
	CU_ASSERT_EQUAL(rope_truncate(r, 0), -EBADF);
	CU_ASSERT_EQUAL(rope_getvalue(r, &b), -EBADF);
	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 1), -EBADF);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), -EBADF);
	CU_ASSERT_PTR_NULL(b);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_EQUAL(rope_size(r), 0);
	/* A second close is a no-op, as in CPython. */
	CU_ASSERT_EQUAL(rope_close(r), 0);
	rope_free(r);
}

static void
test_stream_close_frees_contents(void)
{
	size_t before = t_mem_now();
	struct rope *r = rope_new();
	static uint8_t big[1 << 20];

	CU_ASSERT_EQUAL(rope_write(r, big, sizeof(big)), (ssize_t)sizeof(big));
	CU_ASSERT(t_mem_now() - before > sizeof(big));
	CU_ASSERT_EQUAL(rope_close(r), 0);
	/* Only the struct is left once the buffer is discarded. */
	CU_ASSERT(t_mem_now() - before <= sizeof(struct rope));
	rope_free(r);
	CU_ASSERT_EQUAL(t_mem_now(), before);
}

static void
test_stream_empty_rope_allocates_only_its_struct(void)
{
	size_t before = t_mem_now();
	struct rope *r = rope_new();
	struct rope_bytes *b;
	char c;

	CU_ASSERT_PTR_NOT_NULL(r);
	CU_ASSERT_EQUAL(t_mem_now() - before, sizeof(struct rope));
	CU_ASSERT_EQUAL(rope_size(r), 0);
	CU_ASSERT_EQUAL(rope_tell(r), 0);
	CU_ASSERT_EQUAL(rope_read(r, &c, 1), 0);
	CU_ASSERT_EQUAL(rope_getvalue(r, &b), 0);
	CU_ASSERT_EQUAL(rope_bytes_size(b), 0);
	CU_ASSERT_PTR_NOT_NULL(rope_bytes_data(b));
	CU_ASSERT_EQUAL(t_mem_now() - before, sizeof(struct rope));
	rope_bytes_unref(b);
	T_CHECK(r);
	rope_free(r);
	CU_ASSERT_EQUAL(t_mem_now(), before);
}

static void
test_stream_new_from_copies(void)
{
	char src[] = "hello";
	struct rope *r;

	CU_ASSERT_EQUAL(rope_new_from(&r, src, 5), 0);
	src[0] = 'J';
	T_CHECK(r);
	T_EQUALS_STR(r, "hello");
	CU_ASSERT_EQUAL(rope_tell(r), 0);
	rope_free(r);
	CU_ASSERT_EQUAL(rope_new_from(&r, NULL, 0), 0);
	CU_ASSERT_EQUAL(rope_size(r), 0);
	rope_free(r);
}

static void
test_stream_pread_does_not_move(void)
{
	struct rope *r = t_rope_from("0123456789");
	char buf[16] = { 0 };

	CU_ASSERT_EQUAL(rope_seek(r, 2, SEEK_SET), 2);
	CU_ASSERT_EQUAL(rope_pread(r, buf, 4, 5), 4);
	CU_ASSERT_NSTRING_EQUAL(buf, "5678", 4);
	CU_ASSERT_EQUAL(rope_pread(r, buf, 16, 8), 2);
	CU_ASSERT_EQUAL(rope_pread(r, buf, 16, 10), 0);
	CU_ASSERT_EQUAL(rope_pread(r, buf, 16, 1000), 0);
	CU_ASSERT_EQUAL(rope_tell(r), 2);
	rope_free(r);
}

static void
test_stream_read_across_chunks(void)
{
	struct rope *r = rope_new();
	uint8_t want[5000], got[5000];
	size_t done = 0;

	/* Pieces of assorted sizes give a rope of several chunks. */
	t_pattern(want, sizeof(want), 0);
	for (size_t off = 0, n = 1; off < sizeof(want); off += n, n = n * 3 + 1)
		rope_write(r, want + off, MIN(n, sizeof(want) - off));
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_SET), 0);
	while (done < sizeof(got)) {
		ssize_t n = rope_read(r, got + done, 333);

		CU_ASSERT(n > 0);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	CU_ASSERT_EQUAL(done, sizeof(want));
	CU_ASSERT_EQUAL(memcmp(got, want, sizeof(want)), 0);
	CU_ASSERT_EQUAL(rope_read(r, got, 1), 0);
	T_CHECK(r);
	rope_free(r);
}

static void
test_stream_read_past_end_does_not_move(void)
{
	struct rope *r = t_rope_from("abc");
	char buf[8];

	CU_ASSERT_EQUAL(rope_read(r, buf, 8), 3);
	CU_ASSERT_NSTRING_EQUAL(buf, "abc", 3);
	CU_ASSERT_EQUAL(rope_tell(r), 3);
	CU_ASSERT_EQUAL(rope_read(r, buf, 8), 0);
	CU_ASSERT_EQUAL(rope_seek(r, 10, SEEK_SET), 10);
	CU_ASSERT_EQUAL(rope_read(r, buf, 8), 0);
	CU_ASSERT_EQUAL(rope_tell(r), 10);
	CU_ASSERT_EQUAL(rope_read(r, buf, 0), 0);
	rope_free(r);
}

static void
test_stream_readline_splits_on_newline(void)
{
	struct rope *r = rope_new();
	char buf[64];

	/* The lines straddle chunk boundaries on purpose. */
	rope_append(r, "first li", 8);
	rope_append_ref(r, "ne\nsec", 6, NULL, NULL);
	rope_append(r, "ond\n\nlast", 9);
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_readline(r, buf, sizeof(buf)), 11);
	CU_ASSERT_NSTRING_EQUAL(buf, "first line\n", 11);
	CU_ASSERT_EQUAL(rope_readline(r, buf, 3), 3);
	CU_ASSERT_NSTRING_EQUAL(buf, "sec", 3);
	CU_ASSERT_EQUAL(rope_readline(r, buf, sizeof(buf)), 4);
	CU_ASSERT_NSTRING_EQUAL(buf, "ond\n", 4);
	CU_ASSERT_EQUAL(rope_readline(r, buf, sizeof(buf)), 1);
	CU_ASSERT_EQUAL(rope_readline(r, buf, 0), 0);
	CU_ASSERT_EQUAL(rope_readline(r, buf, sizeof(buf)), 4);
	CU_ASSERT_NSTRING_EQUAL(buf, "last", 4);
	CU_ASSERT_EQUAL(rope_readline(r, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(rope_tell(r), 23);
	rope_free(r);
}

static void
test_stream_readline_through_zero_gap(void)
{
	struct rope *r = rope_new();
	char buf[16];

	CU_ASSERT_EQUAL(rope_seek(r, 4, SEEK_SET), 4);
	CU_ASSERT_EQUAL(rope_write(r, "a\nb", 3), 3);
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_SET), 0);
	CU_ASSERT_EQUAL(rope_readline(r, buf, sizeof(buf)), 6);
	CU_ASSERT_EQUAL(memcmp(buf, "\0\0\0\0a\n", 6), 0);
	rope_free(r);
}

static void
test_stream_seek_clamps_and_rejects(void)
{
	struct rope *r = t_rope_from("0123456789");

	CU_ASSERT_EQUAL(rope_seek(r, -1, SEEK_SET), -EINVAL);
	CU_ASSERT_EQUAL(rope_seek(r, 0, 3), -EINVAL);
	CU_ASSERT_EQUAL(rope_seek(r, 0, -1), -EINVAL);
	CU_ASSERT_EQUAL(rope_tell(r), 0);
	CU_ASSERT_EQUAL(rope_seek(r, 4, SEEK_SET), 4);
	CU_ASSERT_EQUAL(rope_seek(r, 3, SEEK_CUR), 7);
	CU_ASSERT_EQUAL(rope_seek(r, -100, SEEK_CUR), 0);
	CU_ASSERT_EQUAL(rope_seek(r, -3, SEEK_END), 7);
	CU_ASSERT_EQUAL(rope_seek(r, -100, SEEK_END), 0);
	CU_ASSERT_EQUAL(rope_seek(r, 5, SEEK_END), 15);
	CU_ASSERT_EQUAL(rope_tell(r), 15);
	CU_ASSERT_EQUAL(rope_seek(r, INT64_MAX, SEEK_SET), INT64_MAX);
	CU_ASSERT_EQUAL(rope_seek(r, 1, SEEK_CUR), -EOVERFLOW);
	CU_ASSERT_EQUAL(rope_tell(r), INT64_MAX);
	CU_ASSERT_EQUAL(rope_seek(r, INT64_MAX, SEEK_END), -EOVERFLOW);
	/* Seeking changes no content. */
	T_EQUALS_STR(r, "0123456789");
	T_CHECK(r);
	rope_free(r);
}

static void
test_stream_truncate_keeps_position(void)
{
	struct rope *r = t_rope_from("0123456789");

	CU_ASSERT_EQUAL(rope_seek(r, 8, SEEK_SET), 8);
	CU_ASSERT_EQUAL(rope_truncate(r, 2), 2);
	T_CHECK(r);
	T_EQUALS_STR(r, "01");
	CU_ASSERT_EQUAL(rope_tell(r), 8);
	/* The next write zero-fills up to the position. */
	CU_ASSERT_EQUAL(rope_write(r, "Z", 1), 1);
	T_CHECK(r);
	CU_ASSERT(t_equals(r, "01\0\0\0\0\0\0Z", 9));
	rope_free(r);
}

static void
test_stream_truncate_never_extends(void)
{
	struct rope *r = t_rope_from("0123");

	CU_ASSERT_EQUAL(rope_truncate(r, 100), 100);
	T_EQUALS_STR(r, "0123");
	CU_ASSERT_EQUAL(rope_truncate(r, -1), -EINVAL);
	CU_ASSERT_EQUAL(rope_truncate(r, 4), 4);
	CU_ASSERT_EQUAL(rope_truncate(r, 0), 0);
	CU_ASSERT_EQUAL(rope_size(r), 0);
	CU_ASSERT_EQUAL(rope_tell(r), 0);
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_write(r, "ab", 2), 2);
	T_EQUALS_STR(r, "ab");
	rope_free(r);
}

static void
test_stream_truncate_then_append_reuses_private_room(void)
{
	struct rope *r = rope_new();
	struct rope_mem_stats before, after;
	uint8_t buf[1000];

	t_pattern(buf, sizeof(buf), 0);
	rope_write(r, buf, 100);
	CU_ASSERT_EQUAL(rope_truncate(r, 50), 50);
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_END), 50);
	/* Nobody else saw the cut bytes, so the room is reused. */
	rope_mem_stats(&before, sizeof(before));
	CU_ASSERT_EQUAL(rope_write(r, "xyz", 3), 3);
	rope_mem_stats(&after, sizeof(after));
	CU_ASSERT_EQUAL(after.allocs, before.allocs);
	T_CHECK(r);
	memcpy(buf + 50, "xyz", 3);
	CU_ASSERT(t_equals(r, buf, 53));
	rope_free(r);
}

static int release_count;
static void *release_last;

static void
count_release(void *data, size_t len, void *arg)
{
	release_count++;
	release_last = data;
	CU_ASSERT_PTR_EQUAL(arg, &release_count);
	(void)len;
}

static void
test_stream_append_ref_borrows_until_last_user(void)
{
	struct rope *r = t_rope_from("head:");
	struct rope_bytes *b = NULL;
	char mem[] = "borrowed";
	struct rope_mem_stats before, after;

	release_count = 0;
	rope_mem_stats(&before, sizeof(before));
	CU_ASSERT_EQUAL(rope_append_ref(r, mem, 8, count_release,
					&release_count), 0);
	rope_mem_stats(&after, sizeof(after));
	/* Only a small header is allocated: the bytes are not copied. */
	CU_ASSERT(after.allocated - before.allocated < 64);
	T_CHECK(r);
	T_EQUALS_STR(r, "head:borrowed");
	CU_ASSERT_EQUAL(rope_tell(r), 0);

	/* Overwriting borrowed bytes copies the range, never writes them. */
	CU_ASSERT_EQUAL(rope_seek(r, 5, SEEK_SET), 5);
	CU_ASSERT_EQUAL(rope_write(r, "BOR", 3), 3);
	T_CHECK(r);
	T_EQUALS_STR(r, "head:BORrowed");
	CU_ASSERT_STRING_EQUAL(mem, "borrowed");

	/* A value keeps the memory alive after the rope lets go of it. */
	rope_seek(r, 0, SEEK_SET);
	CU_ASSERT_EQUAL(rope_getvalue(r, &b), 0);
	CU_ASSERT_EQUAL(release_count, 1);  /* flattened: no longer used */
	rope_bytes_unref(b);
	rope_free(r);
	CU_ASSERT_EQUAL(release_count, 1);
	CU_ASSERT_PTR_EQUAL(release_last, mem);

	/* Zero length: released at once. */
	r = rope_new();
	CU_ASSERT_EQUAL(rope_append_ref(r, mem, 0, count_release,
					&release_count), 0);
	CU_ASSERT_EQUAL(release_count, 2);
	CU_ASSERT_EQUAL(rope_size(r), 0);
	rope_free(r);
}

static void
test_stream_append_ref_released_by_snapshot(void)
{
	struct rope *r = rope_new();
	struct rope_snap *s;
	char mem[] = "kept";

	release_count = 0;
	CU_ASSERT_EQUAL(rope_append_ref(r, mem, 4, count_release,
					&release_count), 0);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	rope_free(r);
	CU_ASSERT_EQUAL(release_count, 0);
	rope_snap_unref(s);
	CU_ASSERT_EQUAL(release_count, 1);
}

static void
test_stream_append_ignores_position(void)
{
	struct rope *r = t_rope_from("abc");

	CU_ASSERT_EQUAL(rope_seek(r, 1, SEEK_SET), 1);
	CU_ASSERT_EQUAL(rope_append(r, "de", 2), 2);
	CU_ASSERT_EQUAL(rope_tell(r), 1);
	T_EQUALS_STR(r, "abcde");
	CU_ASSERT_EQUAL(rope_seek(r, 10, SEEK_SET), 10);
	CU_ASSERT_EQUAL(rope_append(r, "f", 1), 1);
	T_EQUALS_STR(r, "abcdef");
	CU_ASSERT_EQUAL(rope_append(r, "", 0), 0);
	T_CHECK(r);
	rope_free(r);
}

static void
test_stream_write_empty_changes_nothing(void)
{
	struct rope *r = t_rope_from("abc");

	/* Past the end, a write of 0 bytes must not zero-fill. */
	CU_ASSERT_EQUAL(rope_seek(r, 10, SEEK_SET), 10);
	CU_ASSERT_EQUAL(rope_write(r, "", 0), 0);
	CU_ASSERT_EQUAL(rope_size(r), 3);
	CU_ASSERT_EQUAL(rope_tell(r), 10);
	T_CHECK(r);
	rope_free(r);
}

static void
test_stream_write_extends_past_end(void)
{
	struct rope *r = t_rope_from("abcd");

	CU_ASSERT_EQUAL(rope_seek(r, 2, SEEK_SET), 2);
	CU_ASSERT_EQUAL(rope_write(r, "XYZW", 4), 4);
	T_CHECK(r);
	T_EQUALS_STR(r, "abXYZW");
	CU_ASSERT_EQUAL(rope_tell(r), 6);
	rope_free(r);
}

static void
test_stream_write_gap_zero_fills(void)
{
	struct rope *r = t_rope_from("abc");
	struct rope_mem_stats before, after;

	CU_ASSERT_EQUAL(rope_seek(r, 6, SEEK_SET), 6);
	CU_ASSERT_EQUAL(rope_write(r, "X", 1), 1);
	T_CHECK(r);
	CU_ASSERT(t_equals(r, "abc\0\0\0X", 7));
	rope_free(r);

	/* A gap of a gibibyte costs no memory: it is a run of the zero
	 * chunk, however long. */
	r = rope_new();
	rope_mem_stats(&before, sizeof(before));
	CU_ASSERT_EQUAL(rope_seek(r, (int64_t)1 << 30, SEEK_SET), 1 << 30);
	CU_ASSERT_EQUAL(rope_write(r, "end", 3), 3);
	rope_mem_stats(&after, sizeof(after));
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_size(r), (1u << 30) + 3);
	CU_ASSERT(after.allocated - before.allocated < 4096);
	{
		char buf[8];

		CU_ASSERT_EQUAL(rope_pread(r, buf, 8, (1 << 30) - 5), 8);
		CU_ASSERT_EQUAL(memcmp(buf, "\0\0\0\0\0end", 8), 0);
	}
	rope_free(r);
}

static void
test_stream_write_overflow_rejected(void)
{
	struct rope *r = t_rope_from("abc");

	CU_ASSERT_EQUAL(rope_seek(r, INT64_MAX - 1, SEEK_SET), INT64_MAX - 1);
	CU_ASSERT_EQUAL(rope_write(r, "xy", 2), -EOVERFLOW);
	CU_ASSERT_EQUAL(rope_write(r, "x", SIZE_MAX), -EOVERFLOW);
	T_CHECK(r);
	T_EQUALS_STR(r, "abc");
	CU_ASSERT_EQUAL(rope_tell(r), INT64_MAX - 1);
	rope_free(r);
}

/* Drains of nearly INT64_MAX bytes, twice: the segments' coordinates
 * (stream offset + drained bytes) must not wrap around 2^64. */
static void
test_stream_drains_past_int64_max_keep_bytes(void)
{
	struct rope *r = rope_new();
	char buf[4] = { 0 };

	for (int round = 0; round < 3; round++) {
		CU_ASSERT_EQUAL(rope_seek(r, INT64_MAX - 3, SEEK_SET),
				INT64_MAX - 3);
		CU_ASSERT_EQUAL(rope_write(r, "ef", 2), 2);
		T_CHECK(r);
		CU_ASSERT_EQUAL(rope_pread(r, buf, 3, INT64_MAX - 4), 3);
		CU_ASSERT_EQUAL(memcmp(buf, "\0ef", 3), 0);
		CU_ASSERT_EQUAL(rope_find(r, "ef", 2, 5), INT64_MAX - 3);
		CU_ASSERT_EQUAL(rope_drain(r, INT64_MAX - 5), INT64_MAX - 5);
		CU_ASSERT_EQUAL(rope_size(r), 4);
		T_CHECK(r);
		CU_ASSERT_EQUAL(rope_pread(r, buf, 4, 0), 4);
		CU_ASSERT_EQUAL(memcmp(buf, "\0\0ef", 4), 0);
		CU_ASSERT_EQUAL(rope_append(r, "g", 1), 1);
		T_CHECK(r);
	}
	rope_free(r);
}

/* The tail's free room must never take the stream past INT64_MAX: the
 * append fast path checks only the room. */
static void
test_stream_write_overflow_rejected_in_tail_room(void)
{
	struct rope *r = rope_new();
	char big[200] = { 0 };

	CU_ASSERT_EQUAL(rope_seek(r, INT64_MAX - 10, SEEK_SET), INT64_MAX - 10);
	CU_ASSERT_EQUAL(rope_write(r, "a", 1), 1);
	CU_ASSERT_EQUAL(rope_write(r, big, sizeof(big)), -EOVERFLOW);
	CU_ASSERT_EQUAL(rope_append(r, big, sizeof(big)), -EOVERFLOW);
	CU_ASSERT_EQUAL(rope_size(r), (size_t)INT64_MAX - 9);
	CU_ASSERT_EQUAL(rope_tell(r), INT64_MAX - 9);
	T_CHECK(r);
	/* Up to the limit exactly, then not one byte more. */
	CU_ASSERT_EQUAL(rope_write(r, big, 9), 9);
	CU_ASSERT_EQUAL(rope_tell(r), INT64_MAX);
	CU_ASSERT_EQUAL(rope_write(r, "b", 1), -EOVERFLOW);
	CU_ASSERT_EQUAL(rope_append(r, "b", 1), -EOVERFLOW);
	CU_ASSERT_EQUAL(rope_size(r), (size_t)INT64_MAX);
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_END), INT64_MAX);
	T_CHECK(r);
	/* A drain makes room again. */
	CU_ASSERT_EQUAL(rope_drain(r, 5), 5);
	CU_ASSERT_EQUAL(rope_append(r, "cd", 2), 2);
	CU_ASSERT_EQUAL(rope_size(r), (size_t)INT64_MAX - 3);
	T_CHECK(r);
	rope_free(r);
}

static void
test_stream_write_overwrites_in_place(void)
{
	struct rope *r = t_rope_from("0123456789");
	struct rope_mem_stats before, after;

	CU_ASSERT_EQUAL(rope_seek(r, 3, SEEK_SET), 3);
	rope_mem_stats(&before, sizeof(before));
	CU_ASSERT_EQUAL(rope_write(r, "abc", 3), 3);
	rope_mem_stats(&after, sizeof(after));
	/* Nobody else references the bytes: no allocation at all. */
	CU_ASSERT_EQUAL(after.allocs, before.allocs);
	T_CHECK(r);
	T_EQUALS_STR(r, "012abc6789");
	CU_ASSERT_EQUAL(rope_tell(r), 6);
	rope_free(r);
}

static void
test_stream_writev_is_one_write(void)
{
	struct rope *r = t_rope_from("0123456789");
	struct iovec iov[4] = {
		{ (void *)"", 0 }, { (void *)"ab", 2 }, { (void *)"", 0 }, { (void *)"cde", 3 },
	};

	CU_ASSERT_EQUAL(rope_seek(r, 8, SEEK_SET), 8);
	CU_ASSERT_EQUAL(rope_writev(r, iov, 4), 5);
	T_CHECK(r);
	T_EQUALS_STR(r, "01234567abcde");
	CU_ASSERT_EQUAL(rope_tell(r), 13);
	CU_ASSERT_EQUAL(rope_writev(r, iov, 0), 0);
	CU_ASSERT_EQUAL(rope_writev(r, NULL, 0), 0);
	CU_ASSERT_EQUAL(rope_tell(r), 13);
	rope_free(r);
}

static void
test_stream_writev_overflow_rejected(void)
{
	struct rope *r = t_rope_from("abc");
	struct iovec iov[2] = { { (void *)"a", SIZE_MAX }, { (void *)"b", 2 } };

	CU_ASSERT_EQUAL(rope_writev(r, iov, 2), -EOVERFLOW);
	T_EQUALS_STR(r, "abc");
	rope_free(r);
}

static const struct t_test tests[] = {
	{ "append_fills_tail_without_new_chunks", test_stream_append_fills_tail_without_new_chunks },
	{ "append_ignores_position", test_stream_append_ignores_position },
	{ "append_ref_borrows_until_last_user", test_stream_append_ref_borrows_until_last_user },
	{ "append_ref_released_by_snapshot", test_stream_append_ref_released_by_snapshot },
	{ "bad_arguments_einval", test_stream_bad_arguments_einval },
	{ "close_blocks_everything", test_stream_close_blocks_everything },
	{ "close_frees_contents", test_stream_close_frees_contents },
	{ "drains_past_int64_max_keep_bytes", test_stream_drains_past_int64_max_keep_bytes },
	{ "empty_rope_allocates_only_its_struct", test_stream_empty_rope_allocates_only_its_struct },
	{ "new_from_copies", test_stream_new_from_copies },
	{ "pread_does_not_move", test_stream_pread_does_not_move },
	{ "read_across_chunks", test_stream_read_across_chunks },
	{ "read_past_end_does_not_move", test_stream_read_past_end_does_not_move },
	{ "readline_splits_on_newline", test_stream_readline_splits_on_newline },
	{ "readline_through_zero_gap", test_stream_readline_through_zero_gap },
	{ "seek_clamps_and_rejects", test_stream_seek_clamps_and_rejects },
	{ "truncate_keeps_position", test_stream_truncate_keeps_position },
	{ "truncate_never_extends", test_stream_truncate_never_extends },
	{ "truncate_then_append_reuses_private_room", test_stream_truncate_then_append_reuses_private_room },
	{ "write_empty_changes_nothing", test_stream_write_empty_changes_nothing },
	{ "write_extends_past_end", test_stream_write_extends_past_end },
	{ "write_gap_zero_fills", test_stream_write_gap_zero_fills },
	{ "write_overflow_rejected", test_stream_write_overflow_rejected },
	{ "write_overflow_rejected_in_tail_room", test_stream_write_overflow_rejected_in_tail_room },
	{ "write_overwrites_in_place", test_stream_write_overwrites_in_place },
	{ "writev_is_one_write", test_stream_writev_is_one_write },
	{ "writev_overflow_rejected", test_stream_writev_overflow_rejected },
};

int
main(void)
{
	return t_run("stream", tests, ARRAY_SIZE(tests));
}
