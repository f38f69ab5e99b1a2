/* SPDX-License-Identifier: MIT */
/*
 * Plain-syscall I/O on real descriptors: drain, rope_read_fd into the tail
 * room, rope_write_fd from the front, and snapshot writes to files, pipes,
 * socketpairs with small buffers (short writes) and TCP on loopback, with a
 * snapshot of more than IOV_MAX chunks sent while the rope is mutated.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* The whole file, read back with pread. */
static uint8_t *
t_file_contents(int fd, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;

	if (fstat(fd, &st) < 0)
		return NULL;
	*len = (size_t)st.st_size;
	buf = malloc(*len ? *len : 1);
	while (buf && done < *len) {
		ssize_t n = pread(fd, buf + done, *len - done, (off_t)done);

		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return buf;
}

/* ------------------------------------------------------------------------ */
/* drain                                                                    */
/* ------------------------------------------------------------------------ */

static void
test_fdio_drain_moves_front_and_position(void)
{
	struct rope *r = t_rope_from("0123456789");

	rope_append(r, "abcdef", 6);
	CU_ASSERT_EQUAL(rope_seek(r, 12, SEEK_SET), 12);
	CU_ASSERT_EQUAL(rope_drain(r, 4), 4);
	T_CHECK(r);
	T_EQUALS_STR(r, "456789abcdef");
	CU_ASSERT_EQUAL(rope_tell(r), 8);  /* still at 'c' */
	CU_ASSERT_EQUAL(rope_drain(r, 10), 10);
	T_CHECK(r);
	T_EQUALS_STR(r, "ef");
	CU_ASSERT_EQUAL(rope_tell(r), 0);
	CU_ASSERT_EQUAL(rope_drain(r, 100), 2);
	CU_ASSERT_EQUAL(rope_size(r), 0);
	CU_ASSERT_EQUAL(rope_drain(r, 5), 0);
	T_CHECK(r);
	/* A drained rope works like a new one. */
	CU_ASSERT_EQUAL(rope_write(r, "xyz", 3), 3);
	T_EQUALS_STR(r, "xyz");
	T_CHECK(r);
	rope_free(r);
}

static void
test_fdio_drain_errors(void)
{
	struct rope *r = t_rope_from("abc");
	struct iovec iov[2];

	CU_ASSERT_EQUAL(rope_drain(NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 2), 1);
	CU_ASSERT_EQUAL(rope_drain(r, 1), -EBUSY);
	rope_releasebuffer(r);
	rope_close(r);
	CU_ASSERT_EQUAL(rope_drain(r, 1), -EBADF);
	rope_free(r);
}

static void
test_fdio_drain_frees_chunks(void)
{
	static uint8_t mib[1 << 20];
	struct rope *r = rope_new();
	size_t before;

	for (int i = 0; i < 8; i++)
		rope_append(r, mib, sizeof(mib));
	before = t_mem_now();
	CU_ASSERT_EQUAL(rope_drain(r, 6u << 20), 6 << 20);
	/* Six of the eight megabytes went back. */
	CU_ASSERT(before - t_mem_now() >= (5u << 20));
	T_CHECK(r);
	rope_free(r);
}

static void
test_fdio_drain_as_a_queue(void)
{
	enum { STEPS = 3000 };
	struct rope *r = rope_new();
	uint8_t *model = malloc(STEPS * 500), got[500];
	size_t in = 0, out = 0;
	int bad = 0;

	/* Append (copied or borrowed) and consume in different sizes many
	 * times, comparing every consumed byte with a flat model: the head
	 * gap of the segment array must be reclaimed, and values and
	 * snapshots must keep working on a drained rope. */
	for (int i = 0; i < STEPS && !bad; i++) {
		size_t a = 1 + (size_t)(i * 37) % 499;
		size_t d = (size_t)(i * 53) % 450;

		t_pattern(model + in, a, in);
		if (i % 3) {
			CU_ASSERT_EQUAL(rope_append(r, model + in, a), (ssize_t)a);
		} else {
			CU_ASSERT_EQUAL(rope_append_ref(r, model + in, a, NULL,
							NULL), 0);
		}
		in += a;
		d = MIN(d, in - out);
		CU_ASSERT_EQUAL(rope_pread(r, got, d, 0), (ssize_t)d);
		bad |= memcmp(got, model + out, d) != 0;
		CU_ASSERT_EQUAL(rope_drain(r, d), (int64_t)d);
		out += d;
		CU_ASSERT_EQUAL(rope_size(r), in - out);
		if (i % 100 == 0) {
			struct rope_bytes *v;
			struct rope_snap *s;

			CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
			CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
			bad |= rope_bytes_size(v) != in - out ||
			       memcmp(rope_bytes_data(v), model + out,
				      in - out) != 0;
			CU_ASSERT_EQUAL(rope_snap_size(s), in - out);
			rope_bytes_unref(v);
			rope_snap_unref(s);
		}
		bad |= rope__check(r) != 0;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(t_equals(r, model + out, in - out));
	rope_free(r);
	free(model);
}

static void
test_fdio_drain_then_snapshot_ranges(void)
{
	struct rope *r = rope_new();
	struct rope_snap *s;
	struct iovec iov[8];
	int n;

	rope_append_ref(r, "first|", 6, NULL, NULL);
	rope_append_ref(r, "second|", 7, NULL, NULL);
	rope_append_ref(r, "third", 5, NULL, NULL);
	CU_ASSERT_EQUAL(rope_drain(r, 8), 8);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	n = rope_snap_iov(s, 0, SIZE_MAX, iov, 8);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(iov[0].iov_len, 5);
	CU_ASSERT_EQUAL(memcmp(iov[0].iov_base, "cond|", 5), 0);
	n = rope_snap_iov(s, 6, 2, iov, 8);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(memcmp(iov[0].iov_base, "hi", 2), 0);
	rope_snap_unref(s);
	rope_free(r);
}

/* ------------------------------------------------------------------------ */
/* rope_read_fd                                                             */
/* ------------------------------------------------------------------------ */

static void
test_fdio_read_fd_appends(void)
{
	struct rope *r = t_rope_from("head:");
	int p[2];

	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	CU_ASSERT_EQUAL(write(p[1], "piped data", 10), 10);
	rope_seek(r, 2, SEEK_SET);
	CU_ASSERT_EQUAL(rope_read_fd(r, p[0], 4), 4);
	CU_ASSERT_EQUAL(rope_read_fd(r, p[0], 100), 6);
	T_CHECK(r);
	T_EQUALS_STR(r, "head:piped data");
	CU_ASSERT_EQUAL(rope_tell(r), 2);
	close(p[1]);
	CU_ASSERT_EQUAL(rope_read_fd(r, p[0], 100), 0);  /* EOF */
	T_EQUALS_STR(r, "head:piped data");
	close(p[0]);
	rope_free(r);
}

static void
test_fdio_read_fd_errors_leave_rope(void)
{
	struct rope *r = t_rope_from("keep");
	struct iovec iov[1];
	size_t mem;
	int p[2];

	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	t_set_nonblock(p[0]);
	mem = t_mem_now();
	CU_ASSERT_EQUAL(rope_read_fd(r, p[0], 100), -EAGAIN);
	CU_ASSERT_EQUAL(rope_read_fd(r, 12345, 100), -EBADF);
	CU_ASSERT_EQUAL(rope_read_fd(r, -1, 100), -EINVAL);
	CU_ASSERT_EQUAL(rope_read_fd(NULL, p[0], 100), -EINVAL);
	CU_ASSERT_EQUAL(rope_read_fd(r, p[0], 0), 0);
	CU_ASSERT_EQUAL(t_mem_now(), mem);
	T_EQUALS_STR(r, "keep");
	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 1), 1);
	CU_ASSERT_EQUAL(rope_read_fd(r, p[0], 100), -EBUSY);
	rope_releasebuffer(r);
	/* Out of memory: nothing is read, nothing lost from the pipe. */
	CU_ASSERT_EQUAL(write(p[1], "data", 4), 4);
	rope__alloc_fail_at(0);
	CU_ASSERT_EQUAL(rope_read_fd(r, p[0], 100), -ENOMEM);
	rope__alloc_fail_at(-1);
	T_EQUALS_STR(r, "keep");
	CU_ASSERT_EQUAL(rope_read_fd(r, p[0], 100), 4);
	T_EQUALS_STR(r, "keepdata");
	T_CHECK(r);
	rope_close(r);
	CU_ASSERT_EQUAL(rope_read_fd(r, p[0], 100), -EBADF);
	close(p[0]);
	close(p[1]);
	rope_free(r);
}

static void
test_fdio_read_fd_fills_tail_room_first(void)
{
	struct rope *r = rope_new();
	struct rope_mem_stats a, b;
	int p[2];

	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	rope_write(r, "x", 1);  /* a 256-byte tail chunk with room */
	CU_ASSERT_EQUAL(write(p[1], "0123456789", 10), 10);
	rope_mem_stats(&a, sizeof(a));
	CU_ASSERT_EQUAL(rope_read_fd(r, p[0], 10), 10);
	rope_mem_stats(&b, sizeof(b));
	CU_ASSERT_EQUAL(b.allocs, a.allocs);
	T_EQUALS_STR(r, "x0123456789");
	T_CHECK(r);
	close(p[0]);
	close(p[1]);
	rope_free(r);
}

static void
test_fdio_read_fd_whole_file(void)
{
	size_t len = (5u << 20) + 12345, got = 0, calls = 0;
	uint8_t *data = malloc(len);
	struct rope *r = rope_new();
	struct rope_info info;
	int fd = t_tmpfile();

	t_pattern(data, len, 0);
	CU_ASSERT_EQUAL_FATAL(pwrite(fd, data, len, 0), (ssize_t)len);
	lseek(fd, 0, SEEK_SET);
	for (;;) {
		ssize_t n = rope_read_fd(r, fd, 1u << 20);

		CU_ASSERT(n >= 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		calls++;
	}
	CU_ASSERT_EQUAL(got, len);
	CU_ASSERT(t_equals(r, data, len));
	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	/* One readv per call, into the tail room and one fresh chunk. */
	CU_ASSERT(info.segments <= calls);
	CU_ASSERT(calls < 40);
	T_CHECK(r);
	free(data);
	close(fd);
	rope_free(r);
}

/* ------------------------------------------------------------------------ */
/* Writing snapshots and ropes                                              */
/* ------------------------------------------------------------------------ */

static void
test_fdio_snap_pwrite_more_than_iov_max(void)
{
	uint8_t *data, *file;
	size_t len, flen;
	struct rope *r = t_many_chunks(3000, 4000, 0, &data, &len);
	struct rope_snap *s;
	int fd = t_tmpfile();

	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	CU_ASSERT(rope_snap_iov(s, 0, SIZE_MAX, NULL, 0) > IOV_MAX);
	/* Two halves at explicit offsets, second half first. */
	CU_ASSERT_EQUAL(rope_snap_pwrite(s, len / 2, SIZE_MAX, fd, 100 + len / 2),
			(ssize_t)(len - len / 2));
	CU_ASSERT_EQUAL(rope_snap_pwrite(s, 0, len / 2, fd, 100),
			(ssize_t)(len / 2));
	file = t_file_contents(fd, &flen);
	CU_ASSERT_EQUAL(flen, len + 100);
	CU_ASSERT(file && memcmp(file + 100, data, len) == 0);
	/* The file offset was not used. */
	CU_ASSERT_EQUAL(lseek(fd, 0, SEEK_CUR), 0);
	free(file);
	rope_snap_unref(s);
	rope_free(r);
	free(data);
	close(fd);
}

static void
test_fdio_snap_write_errors(void)
{
	struct rope *r = t_rope_from("abc");
	struct rope_snap *s;
	int p[2];

	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	CU_ASSERT_EQUAL(rope_snap_pwrite(NULL, 0, 1, p[1], 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_snap_pwrite(s, 4, 1, p[1], 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_snap_pwrite(s, 0, 1, p[1], -1), -EINVAL);
	CU_ASSERT_EQUAL(rope_snap_pwrite(s, 0, 1, -1, 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_snap_pwrite(s, 0, 3, p[1], 0), -ESPIPE);
	CU_ASSERT_EQUAL(rope_snap_pwrite(s, 0, 3, 9999, 0), -EBADF);
	CU_ASSERT_EQUAL(rope_snap_pwrite(s, 0, 3, p[1], INT64_MAX - 1),
			-EOVERFLOW);
	CU_ASSERT_EQUAL(rope_snap_write_fd(s, 3, 10, p[1]), 0);
	/* A pipe takes writev. */
	CU_ASSERT_EQUAL(rope_snap_write_fd(s, 1, 10, p[1]), 2);
	{
		char buf[4];

		CU_ASSERT_EQUAL(read(p[0], buf, 4), 2);
		CU_ASSERT_EQUAL(memcmp(buf, "bc", 2), 0);
	}
	rope_snap_unref(s);
	rope_free(r);
	close(p[0]);
	close(p[1]);
}

static void
test_fdio_write_fd_to_file_drains(void)
{
	uint8_t *data, *file;
	size_t len, flen;
	struct rope *r = t_many_chunks(2500, 3000, 0, &data, &len);
	int fd = t_tmpfile();

	CU_ASSERT_EQUAL(rope_write_fd(r, fd, 1000), 1000);
	CU_ASSERT_EQUAL(rope_size(r), len - 1000);
	CU_ASSERT_EQUAL(rope_write_fd(r, fd, SIZE_MAX), (ssize_t)(len - 1000));
	CU_ASSERT_EQUAL(rope_size(r), 0);
	T_CHECK(r);
	file = t_file_contents(fd, &flen);
	CU_ASSERT_EQUAL(flen, len);
	CU_ASSERT(file && memcmp(file, data, len) == 0);
	CU_ASSERT_EQUAL(rope_write_fd(r, fd, SIZE_MAX), 0);
	free(file);
	free(data);
	close(fd);
	rope_free(r);
}

static void
test_fdio_write_fd_short_writes_nonblocking(void)
{
	uint8_t *data;
	size_t len, sent = 0;
	struct rope *r = t_many_chunks(1500, 2000, 0, &data, &len);
	int sv[2], small = 4096, rounds = 0;
	struct t_sink k;
	pthread_t t;

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	t_set_nonblock(sv[0]);
	/* Nobody reads yet: the first flush stops short with what fitted. */
	{
		ssize_t w = rope_write_fd(r, sv[0], SIZE_MAX);

		CU_ASSERT(w > 0 && (size_t)w < len);
		CU_ASSERT_EQUAL(rope_size(r), len - (size_t)w);
		CU_ASSERT_EQUAL(rope_write_fd(r, sv[0], SIZE_MAX), -EAGAIN);
		sent = (size_t)w;
	}
	k = (struct t_sink){ .fd = sv[1], .want = len, .step = 3000 };
	pthread_create(&t, NULL, t_sink_run, &k);
	while (rope_size(r) > 0 && rounds < 1000000) {
		ssize_t w = rope_write_fd(r, sv[0], SIZE_MAX);

		if (w > 0)
			sent += (size_t)w;
		else if (w == -EAGAIN)
			usleep(100);
		else
			break;
		rounds++;
	}
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(sent, len);
	CU_ASSERT_EQUAL(k.got, len);
	CU_ASSERT(k.buf && memcmp(k.buf, data, len) == 0);
	T_CHECK(r);
	free(k.buf);
	free(data);
	close(sv[0]);
	close(sv[1]);
	rope_free(r);
}

static void
test_fdio_write_fd_peer_closed_epipe(void)
{
	struct rope *r = t_rope_from("undelivered");
	void (*old)(int) = signal(SIGPIPE, SIG_DFL);
	int sv[2];

	/* With SIGPIPE at its default, a writev would kill this process;
	 * sendmsg(MSG_NOSIGNAL) reports EPIPE instead. */
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	CU_ASSERT_EQUAL(rope_write_fd(r, sv[0], SIZE_MAX), -EPIPE);
	T_EQUALS_STR(r, "undelivered");
	T_CHECK(r);
	signal(SIGPIPE, old);
	close(sv[0]);
	rope_free(r);
}

/*
 * The writer never waits: a sender thread sends a snapshot of 3,000
 * chunks over TCP while this thread overwrites, appends, truncates and
 * finally frees the rope. The receiver must get exactly the snapshot.
 */
struct sender {
	struct rope_snap *s;
	int fd;
	ssize_t sent;
};

static void *
sender_run(void *arg)
{
	struct sender *x = arg;
	size_t off = 0, size = rope_snap_size(x->s);

	while (off < size) {
		ssize_t w = rope_snap_write_fd(x->s, off, SIZE_MAX, x->fd);

		if (w <= 0) {
			x->sent = w;
			return NULL;
		}
		off += (size_t)w;
	}
	x->sent = (ssize_t)off;
	rope_snap_unref(x->s);
	return NULL;
}

static void
test_fdio_snapshot_sent_while_rope_changes(void)
{
	uint8_t *data, junk[5000];
	size_t len;
	struct rope *r = t_many_chunks(3000, 4000, 0, &data, &len);
	struct sender x = { 0 };
	struct t_sink k;
	pthread_t ts, tk;
	int fds[2] = { -1, -1 };

	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	memset(junk, '#', sizeof(junk));
	CU_ASSERT_EQUAL(rope_snapshot(r, &x.s), 0);
	x.fd = fds[0];
	k = (struct t_sink){ .fd = fds[1], .want = len, .step = 65536,
			   .nap_us = 200 };
	pthread_create(&tk, NULL, t_sink_run, &k);
	pthread_create(&ts, NULL, sender_run, &x);
	for (int i = 0; i < 200; i++) {
		rope_seek(r, (int64_t)((size_t)i * 9973 % len), SEEK_SET);
		rope_write(r, junk, 1 + (size_t)i * 31 % sizeof(junk));
		rope_append(r, junk, 100);
		if (i % 50 == 49)
			rope_truncate(r, (int64_t)rope_size(r) / 2);
	}
	rope_free(r);
	pthread_join(ts, NULL);
	pthread_join(tk, NULL);
	CU_ASSERT_EQUAL(x.sent, (ssize_t)len);
	CU_ASSERT_EQUAL(k.got, len);
	CU_ASSERT(k.buf && memcmp(k.buf, data, len) == 0);
	free(k.buf);
	free(data);
	close(fds[0]);
	close(fds[1]);
}

static const struct t_test tests[] = {
	{ "drain_as_a_queue", test_fdio_drain_as_a_queue },
	{ "drain_errors", test_fdio_drain_errors },
	{ "drain_frees_chunks", test_fdio_drain_frees_chunks },
	{ "drain_moves_front_and_position", test_fdio_drain_moves_front_and_position },
	{ "drain_then_snapshot_ranges", test_fdio_drain_then_snapshot_ranges },
	{ "read_fd_appends", test_fdio_read_fd_appends },
	{ "read_fd_errors_leave_rope", test_fdio_read_fd_errors_leave_rope },
	{ "read_fd_fills_tail_room_first", test_fdio_read_fd_fills_tail_room_first },
	{ "read_fd_whole_file", test_fdio_read_fd_whole_file },
	{ "snap_pwrite_more_than_iov_max", test_fdio_snap_pwrite_more_than_iov_max },
	{ "snap_write_errors", test_fdio_snap_write_errors },
	{ "snapshot_sent_while_rope_changes", test_fdio_snapshot_sent_while_rope_changes },
	{ "write_fd_peer_closed_epipe", test_fdio_write_fd_peer_closed_epipe },
	{ "write_fd_short_writes_nonblocking", test_fdio_write_fd_short_writes_nonblocking },
	{ "write_fd_to_file_drains", test_fdio_write_fd_to_file_drains },
};

int
main(void)
{
	if (t_loopback_down("fdio"))
		return T_EXIT_SKIP;
	return t_run("fdio", tests, ARRAY_SIZE(tests));
}
