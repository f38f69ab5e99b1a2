/* SPDX-License-Identifier: MIT */
/*
 * Ropes that compose (compose.c): rope_append_snap(), rope_move(),
 * rope_printf(), rope_reserve() with rope_commit(), and cursors that follow
 * their bytes through drains (parse.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* A rope of @n pieces of @piece bytes each, each its own chunk. */
static struct rope *
pieces(size_t n, size_t piece, uint8_t **data)
{
	struct rope *r = rope_new();

	*data = malloc(n * piece);
	t_pattern(*data, n * piece, 0);
	for (size_t i = 0; i < n; i++) {
		/* A drain empties the rope's claim: each piece is a chunk. */
		CU_ASSERT_EQUAL(rope_append_ref(r, *data + i * piece, piece,
						NULL, NULL), 0);
	}
	return r;
}

static void
test_compose_append_snap_shares(void)
{
	struct rope *a = t_rope_from("hello, world"), *b = rope_new();
	struct rope_snap *s;
	size_t before;

	CU_ASSERT_EQUAL_FATAL(rope_snapshot(a, &s), 0);
	before = t_mem_now();
	CU_ASSERT_EQUAL(rope_append_snap(b, s, 7, 5), 0);
	CU_ASSERT(t_mem_now() - before < 256);  /* a segment, no copy */
	T_EQUALS_STR(b, "world");
	/* Writing to either never shows in the other. */
	CU_ASSERT_EQUAL(rope_seek(b, 0, SEEK_SET), 0);
	CU_ASSERT_EQUAL(rope_write(b, "W", 1), 1);
	CU_ASSERT_EQUAL(rope_seek(a, 7, SEEK_SET), 7);
	CU_ASSERT_EQUAL(rope_write(a, "w0", 2), 2);
	CU_ASSERT_EQUAL(rope_append(b, "!", 1), 1);
	T_EQUALS_STR(b, "World!");
	T_EQUALS_STR(a, "hello, w0rld");
	/* The snapshot may go; b keeps its bytes. */
	rope_snap_unref(s);
	T_EQUALS_STR(b, "World!");
	T_CHECK(a);
	T_CHECK(b);
	rope_free(a);
	rope_free(b);
}

/* A rope's own snapshot appended to it: the window ends where the tail's
 * room begins, so the room stays the claim's, held once. Appends after
 * it go to the room, and the bytes of both copies stay right. */
static void
test_compose_append_own_snapshot(void)
{
	struct rope *r = rope_new();
	struct rope_snap *s;
	char big[1000];

	memset(big, 'q', sizeof(big));
	CU_ASSERT_EQUAL(rope_write(r, "a", 1), 1);
	CU_ASSERT_EQUAL_FATAL(rope_snapshot(r, &s), 0);
	CU_ASSERT_EQUAL(rope_append_snap(r, s, 0, 1), 0);
	rope_snap_unref(s);
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_append(r, "bc", 2), 2);
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_append_ref(r, "R", 1, NULL, NULL), 0);
	CU_ASSERT_EQUAL(rope_append(r, big, sizeof(big)), (ssize_t)sizeof(big));
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_append(r, "z", 1), 1);
	{
		uint8_t *got;
		size_t n;

		got = t_contents(r, &n);
		CU_ASSERT(n == 1006 && memcmp(got, "aabcR", 5) == 0 &&
			  got[5] == 'q' && got[1004] == 'q' && got[1005] == 'z');
		free(got);
	}
	T_CHECK(r);
	rope_free(r);
}

static void
test_compose_append_snap_bad_range(void)
{
	struct rope *a = t_rope_from("abc"), *b = t_rope_from("x");
	struct rope_snap *s;

	CU_ASSERT_EQUAL_FATAL(rope_snapshot(a, &s), 0);
	CU_ASSERT_EQUAL(rope_append_snap(b, s, 2, 2), -EINVAL);
	CU_ASSERT_EQUAL(rope_append_snap(b, s, 4, 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_append_snap(b, NULL, 0, 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_append_snap(NULL, s, 0, 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_append_snap(b, s, 3, 0), 0);
	T_EQUALS_STR(b, "x");
	rope_close(b);
	CU_ASSERT_EQUAL(rope_append_snap(b, s, 0, 1), -EBADF);
	rope_snap_unref(s);
	rope_free(a);
	rope_free(b);
}

/* 1 MiB appended from a snapshot to 1,000 ropes: segment entries, not
 * copies (the issue's target: at most 8 MiB in all). */
static void
test_compose_append_snap_to_many(void)
{
	enum { ROPES = 1000 };
	static uint8_t big[1 << 20];
	struct rope *src = rope_new(), **r = calloc(ROPES, sizeof(*r));
	struct rope_snap *s;
	size_t before;
	int bad = 0;

	t_pattern(big, sizeof(big), 0);
	CU_ASSERT_EQUAL(rope_append(src, big, sizeof(big)),
			(ssize_t)sizeof(big));
	CU_ASSERT_EQUAL_FATAL(rope_snapshot(src, &s), 0);
	before = t_mem_now();
	for (int i = 0; i < ROPES; i++) {
		r[i] = rope_new();
		bad += rope_append_snap(r[i], s, 0, sizeof(big)) != 0;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(t_mem_now() - before <= (8u << 20));
	CU_ASSERT(t_equals(r[ROPES - 1], big, sizeof(big)));
	for (int i = 0; i < ROPES; i++) {
		T_CHECK(r[i]);
		rope_free(r[i]);
	}
	free(r);
	rope_snap_unref(s);
	rope_free(src);
}

static void
test_compose_move_splits_by_reference(void)
{
	uint8_t *data;
	struct rope *src = pieces(8, 64 << 10, &data), *dst = t_rope_from("<");
	size_t before = t_mem_now();

	/* 512 KiB minus a bit: seven whole chunks and part of the eighth. */
	CU_ASSERT_EQUAL(rope_move(dst, src, (512 << 10) - 100),
			(512 << 10) - 100);
	CU_ASSERT(t_mem_now() - before <= (64u << 10));
	CU_ASSERT_EQUAL(rope_size(src), 100);
	CU_ASSERT_EQUAL(rope_size(dst), 1 + (512 << 10) - 100);
	CU_ASSERT(t_equals(src, data + (512 << 10) - 100, 100));
	{
		uint8_t *got;
		size_t n;

		got = t_contents(dst, &n);
		CU_ASSERT(got && got[0] == '<' &&
			  memcmp(got + 1, data, n - 1) == 0);
		free(got);
	}
	/* More than src holds moves what it holds. */
	CU_ASSERT_EQUAL(rope_move(dst, src, 1000), 100);
	CU_ASSERT_EQUAL(rope_size(src), 0);
	T_CHECK(src);
	T_CHECK(dst);
	rope_free(src);
	rope_free(dst);
	free(data);
}

static void
test_compose_move_then_write_either(void)
{
	struct rope *src = t_rope_from("abcdef"), *dst = rope_new();

	CU_ASSERT_EQUAL(rope_move(dst, src, 3), 3);
	/* The chunk is split by reference: neither side's writes show in
	 * the other, appends included. */
	CU_ASSERT_EQUAL(rope_append(dst, "XYZ", 3), 3);
	CU_ASSERT_EQUAL(rope_write(src, "!", 1), 1);  /* at position 0 */
	T_EQUALS_STR(dst, "abcXYZ");
	T_EQUALS_STR(src, "!ef");
	CU_ASSERT_EQUAL(rope_move(src, src, 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_move(NULL, src, 1), -EINVAL);
	T_CHECK(src);
	T_CHECK(dst);
	rope_free(src);
	rope_free(dst);
}

/* The out-of-memory sweep: each failure leaves both ropes as they were. */
static void
test_compose_move_oom(void)
{
	uint8_t *data;
	struct rope *src = pieces(5, 1000, &data), *dst = rope_new();
	int64_t got = -ENOMEM;

	for (long nth = 0; got == -ENOMEM && nth < 100; nth++) {
		rope__alloc_fail_at(nth);
		got = rope_move(dst, src, 4500);
		rope__alloc_fail_at(-1);
		if (got == -ENOMEM) {
			CU_ASSERT_EQUAL(rope_size(dst), 0);
			CU_ASSERT(t_equals(src, data, 5000));
		}
		T_CHECK(src);
		T_CHECK(dst);
	}
	CU_ASSERT_EQUAL(got, 4500);
	CU_ASSERT(t_equals(dst, data, 4500));
	CU_ASSERT(t_equals(src, data + 4500, 500));
	rope_free(src);
	rope_free(dst);
	free(data);
}

static void
test_compose_printf(void)
{
	struct rope *r = t_rope_from("n=");
	char big[5000];

	CU_ASSERT_EQUAL(rope_printf(r, "%d, %s", 42, "ok"), 6);
	T_EQUALS_STR(r, "n=42, ok");
	CU_ASSERT_EQUAL(rope_tell(r), 0);  /* appended: the position stays */
	CU_ASSERT_EQUAL(rope_printf(r, "%s", ""), 0);
	/* Longer than any room: a fresh chunk. */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	CU_ASSERT_EQUAL(rope_printf(r, "[%s]", big), (ssize_t)sizeof(big) + 1);
	CU_ASSERT_EQUAL(rope_size(r), 8 + sizeof(big) + 1);
	CU_ASSERT_EQUAL(rope_printf(r, NULL), -EINVAL);
	CU_ASSERT_EQUAL(rope_printf(NULL, "x"), -EINVAL);
	T_CHECK(r);
	rope_close(r);
	CU_ASSERT_EQUAL(rope_printf(r, "x"), -EBADF);
	rope_free(r);
}

static void
test_compose_reserve_commit(void)
{
	struct rope *r = t_rope_from("head:");
	struct iovec iov[2];
	int n;

	n = rope_reserve(r, 10000, iov, 2);
	CU_ASSERT(n == 1 || n == 2);
	CU_ASSERT(iov[0].iov_len + (n == 2 ? iov[1].iov_len : 0) >= 10000);
	memset(iov[0].iov_base, 'a', iov[0].iov_len);
	if (n == 2)
		memset(iov[1].iov_base, 'b', iov[1].iov_len);
	CU_ASSERT_EQUAL(rope_size(r), 5);  /* nothing counts yet */
	CU_ASSERT_EQUAL(rope_commit(r, 10000), 10000);
	CU_ASSERT_EQUAL(rope_size(r), 10005);
	{
		uint8_t *got;
		size_t len, first = MIN(iov[0].iov_len, (size_t)10000);
		bool ok = true;

		got = t_contents(r, &len);
		for (size_t i = 0; i < 10000; i++)
			ok = ok && got[5 + i] == (i < first ? 'a' : 'b');
		CU_ASSERT(ok);
		free(got);
	}
	CU_ASSERT_EQUAL(rope_commit(r, 1), -ENOENT);
	T_CHECK(r);
	rope_free(r);
}

static void
test_compose_reserve_cancelled(void)
{
	struct rope *r = t_rope_from("abc");
	struct iovec iov[1];

	CU_ASSERT_EQUAL(rope_reserve(r, 4, iov, 1), 1);
	memcpy(iov[0].iov_base, "defg", 4);
	CU_ASSERT_EQUAL(rope_commit(r, iov[0].iov_len + 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_append(r, "X", 1), 1);  /* cancels */
	CU_ASSERT_EQUAL(rope_commit(r, 4), -ECANCELED);
	T_EQUALS_STR(r, "abcX");
	/* A read and a seek do not cancel. */
	CU_ASSERT_EQUAL(rope_reserve(r, 2, iov, 1), 1);
	memcpy(iov[0].iov_base, "yz", 2);
	{
		char b[2];

		CU_ASSERT_EQUAL(rope_read(r, b, 2), 2);
	}
	CU_ASSERT_EQUAL(rope_commit(r, 2), 2);
	T_EQUALS_STR(r, "abcXyz");
	/* Reserving on a closed rope, or freeing with one pending. */
	CU_ASSERT_EQUAL(rope_reserve(r, 1 << 20, iov, 1), 1);
	T_CHECK(r);
	rope_free(r);  /* the fresh chunk goes with it (ASan: no leak) */
}

/* A drain no longer makes a cursor read the wrong bytes: it follows its
 * byte, and one whose byte was drained says so. */
static void
test_compose_cursor_follows_drain(void)
{
	struct rope *r = t_rope_from("0123456789");
	struct rope_cursor at4, at1;
	uint8_t b;

	CU_ASSERT_EQUAL(rope_cursor_init(&at4, r, 4), 0);
	CU_ASSERT_EQUAL(rope_cursor_init(&at1, r, 1), 0);
	CU_ASSERT_EQUAL(rope_drain(r, 3), 3);
	CU_ASSERT_EQUAL(rope_cursor_tell(&at4), 1);
	CU_ASSERT_EQUAL(rope_cursor_u8(&at4, &b), 0);
	CU_ASSERT_EQUAL(b, '4');
	CU_ASSERT_EQUAL(rope_cursor_remaining(&at4), 5);
	CU_ASSERT_EQUAL(rope_cursor_u8(&at1, &b), -ESTALE);
	CU_ASSERT_EQUAL(rope_cursor_tell(&at1), -ESTALE);
	CU_ASSERT_EQUAL(rope_cursor_skip(&at1, 1), -ESTALE);
	CU_ASSERT_EQUAL(rope_cursor_remaining(&at1), 0);
	/* A getvalue that flattens keeps the bytes' places. */
	CU_ASSERT_EQUAL(rope_append_ref(r, "ab", 2, NULL, NULL), 0);
	{
		struct rope_bytes *v;

		CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
		rope_bytes_unref(v);
	}
	CU_ASSERT_EQUAL(rope_cursor_u8(&at4, &b), 0);
	CU_ASSERT_EQUAL(b, '5');
	/* Emptied: stale unless at the end, where it reads what comes. */
	CU_ASSERT_EQUAL(rope_cursor_skip(&at4, 6), 0);
	CU_ASSERT_EQUAL(rope_drain(r, rope_size(r)), 9);
	CU_ASSERT_EQUAL(rope_append(r, "Z", 1), 1);
	CU_ASSERT_EQUAL(rope_cursor_u8(&at4, &b), 0);
	CU_ASSERT_EQUAL(b, 'Z');
	rope_close(r);
	CU_ASSERT_EQUAL(rope_cursor_u8(&at4, &b), -EBADF);
	rope_free(r);
}

/* A file of @len pattern bytes, or -1. */
static int
pattern_file(size_t len, uint8_t **data)
{
	int fd = t_tmpfile();

	*data = malloc(len);
	if (fd < 0 || !*data)
		return -1;
	t_pattern(*data, len, 0);
	if (write(fd, *data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 16 MiB of a file: a segment, not a copy; read through the mapping, sent
 * to a TCP socket by sendfile(2) and to a file by copy_file_range(2),
 * byte for byte. */
static void
test_compose_file_range(void)
{
	enum { LEN = 16 << 20, OFF = 1000 };
	size_t span = LEN - 2 * OFF, before;
	struct rope *r = rope_new();
	struct rope_snap *s;
	struct t_sink sink = { 0 };
	uint8_t *data, buf[64];
	int fd = pattern_file(LEN, &data), fds[2], out;
	pthread_t t;
	ssize_t w;

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(rope_append(r, "<", 1), 1);
	before = t_mem_now();
	CU_ASSERT_EQUAL_FATAL(rope_append_file(r, fd, OFF, span), 0);
	CU_ASSERT(t_mem_now() - before <= (1u << 20));
	close(fd);  /* the rope has its own */
	CU_ASSERT_EQUAL(rope_append(r, ">", 1), 1);
	CU_ASSERT_EQUAL(rope_size(r), span + 2);
	CU_ASSERT_EQUAL(rope_pread(r, buf, 64, 1 + span - 64), 64);
	CU_ASSERT_EQUAL(memcmp(buf, data + OFF + span - 64, 64), 0);

	/* To a file at an offset. */
	CU_ASSERT_EQUAL_FATAL(rope_snapshot(r, &s), 0);
	out = t_tmpfile();
	CU_ASSERT_EQUAL(rope_snap_pwrite(s, 1, span, out, 5), (ssize_t)span);
	CU_ASSERT(t_file_is(out, 5, data + OFF, span));
	close(out);

	/* To a socket, drained as it goes. */
	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	sink.fd = fds[1];
	sink.want = span + 2;
	sink.step = 1 << 20;
	sink.close_after = true;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, t_sink_run, &sink), 0);
	while (rope_size(r) > 0) {
		w = rope_write_fd(r, fds[0], SIZE_MAX);
		if (w < 0)
			break;
	}
	CU_ASSERT_EQUAL(rope_size(r), 0);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(sink.got, span + 2);
	CU_ASSERT(sink.buf && sink.buf[0] == '<' && sink.buf[span + 1] == '>' &&
		  memcmp(sink.buf + 1, data + OFF, span) == 0);
	free(sink.buf);
	close(fds[0]);
	rope_snap_unref(s);
	T_CHECK(r);
	rope_free(r);
	free(data);
}

static void
test_compose_file_range_bad_input(void)
{
	struct rope *r = t_rope_from("x");
	uint8_t *data;
	int fd = pattern_file(100, &data), p[2];

	CU_ASSERT_FATAL(fd >= 0 && pipe(p) == 0);
	CU_ASSERT_EQUAL(rope_append_file(r, -1, 0, 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_append_file(r, fd, -1, 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_append_file(r, fd, 50, 51), -EINVAL);
	CU_ASSERT_EQUAL(rope_append_file(r, fd, 101, 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_append_file(r, p[0], 0, 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_append_file(NULL, fd, 0, 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_append_file(r, fd, 100, 0), 0);
	T_EQUALS_STR(r, "x");
	/* An overwrite copies: the file never changes. */
	CU_ASSERT_EQUAL(rope_append_file(r, fd, 10, 5), 0);
	CU_ASSERT_EQUAL(rope_seek(r, 2, SEEK_SET), 2);
	CU_ASSERT_EQUAL(rope_write(r, "Z", 1), 1);
	CU_ASSERT(t_file_is(fd, 0, data, 100));
	close(p[0]);
	close(p[1]);
	close(fd);
	CU_ASSERT_EQUAL(rope_append_file(r, fd, 0, 1), -EBADF);
	T_CHECK(r);
	rope_free(r);
	free(data);
}

/* A peer that closed: -EPIPE from sendfile(2), and no SIGPIPE (its
 * default action would end this test binary). */
static void
test_compose_file_range_peer_gone(void)
{
	struct rope *r = rope_new();
	uint8_t *data;
	int fd = pattern_file(1 << 20, &data), fds[2];
	ssize_t w = 0;

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	close(fds[1]);
	CU_ASSERT_EQUAL(rope_append_file(r, fd, 0, 1 << 20), 0);
	for (int i = 0; i < 8 && w >= 0; i++)
		w = rope_write_fd(r, fds[0], SIZE_MAX);
	CU_ASSERT(w == -EPIPE || w == -ECONNRESET);
	close(fds[0]);
	close(fd);
	rope_free(r);
	free(data);
}

static const struct t_test tests[] = {
	{ "append_own_snapshot", test_compose_append_own_snapshot },
	{ "append_snap_bad_range", test_compose_append_snap_bad_range },
	{ "append_snap_shares", test_compose_append_snap_shares },
	{ "append_snap_to_many", test_compose_append_snap_to_many },
	{ "cursor_follows_drain", test_compose_cursor_follows_drain },
	{ "file_range", test_compose_file_range },
	{ "file_range_bad_input", test_compose_file_range_bad_input },
	{ "file_range_peer_gone", test_compose_file_range_peer_gone },
	{ "move_oom", test_compose_move_oom },
	{ "move_splits_by_reference", test_compose_move_splits_by_reference },
	{ "move_then_write_either", test_compose_move_then_write_either },
	{ "printf", test_compose_printf },
	{ "reserve_cancelled", test_compose_reserve_cancelled },
	{ "reserve_commit", test_compose_reserve_commit },
};

int
main(void)
{
	return t_run("compose", tests, ARRAY_SIZE(tests));
}
