/* SPDX-License-Identifier: MIT */
/*
 * The io_uring jobs on a real ring: files (more than IOV_MAX chunks, a
 * small SQ, two jobs at once), TCP on loopback with a slow reader (short
 * sends resumed from the cursor), AF_UNIX, a peer that closes mid-send, and
 * zero-copy sends. Skips (exit 77) only when no ring can be made.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "ropeio-uring.h"

/*
 * Drive jobs on @ring until all are done: submit, wait (5 s at most, so a
 * lost CQE fails the test instead of hanging it), hand each CQE to its
 * job, prepare again. Returns false on a timeout or a foreign CQE.
 */
static bool
t_drive(struct io_uring *ring, struct rope_uring_job **jobs, int n)
{
	for (int rounds = 0; rounds < 1000000; rounds++) {
		struct __kernel_timespec ts = { .tv_sec = 5 };
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		bool all = true;

		for (int i = 0; i < n; i++) {
			if (rope_uring_job_prep(jobs[i], ring) < 0)
				return false;
			all &= rope_uring_job_done(jobs[i]);
		}
		if (all)
			return true;
		io_uring_submit(ring);
		if (io_uring_wait_cqe_timeout(ring, &cqe, &ts) < 0)
			return false;
		io_uring_for_each_cqe(ring, head, cqe) {
			struct rope_uring_job *j = rope_uring_cqe_job(cqe);

			if (!j)
				return false;
			rope_uring_job_complete(j, cqe);
			seen++;
		}
		io_uring_cq_advance(ring, seen);
	}
	return false;
}

static struct io_uring ring;

/* ------------------------------------------------------------------------ */

static void
test_uring_bad_arguments(void)
{
	struct rope *r = t_rope_from("abc");
	struct rope_uring_job *j = NULL;
	struct rope_snap *s;
	struct io_uring_cqe fake = { .user_data = 0x1000 };

	rope_snapshot(r, &s);
	CU_ASSERT_EQUAL(rope_uring_job_new(NULL, s, 0, 1, 1, -1, 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_uring_job_new(&j, NULL, 0, 1, 1, -1, 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_uring_job_new(&j, s, 4, 1, 1, -1, 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_uring_job_new(&j, s, 0, 1, -1, -1, 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_uring_job_new(&j, s, 0, 1, 1, -2, 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_uring_job_new(&j, s, 0, 1, 1, -1, 0x80), -EINVAL);
	CU_ASSERT_EQUAL(rope_uring_job_new(&j, s, 0, 3, 1, INT64_MAX - 1, 0),
			-EOVERFLOW);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_PTR_NULL(rope_uring_cqe_job(&fake));
	CU_ASSERT_PTR_NULL(rope_uring_cqe_job(NULL));
	CU_ASSERT_EQUAL(rope_uring_job_prep(NULL, &ring), -EINVAL);
	CU_ASSERT_EQUAL(rope_uring_job_free(NULL), 0);
	/* An empty range is done at once and prepares nothing. */
	CU_ASSERT_EQUAL(rope_uring_job_new(&j, s, 3, SIZE_MAX, 1, 0, 0), 0);
	CU_ASSERT(rope_uring_job_done(j));
	CU_ASSERT_EQUAL(rope_uring_job_prep(j, &ring), 0);
	CU_ASSERT_EQUAL(rope_uring_job_result(j), 0);
	CU_ASSERT_EQUAL(rope_uring_job_free(j), 0);
	rope_snap_unref(s);
	rope_free(r);
}

static void
test_uring_file_more_than_iov_max(void)
{
	uint8_t *data;
	size_t len, mem = t_mem_now();
	struct rope *r = t_many_chunks(3000, 4000, 0, &data, &len);
	struct rope_uring_job *j;
	struct rope_snap *s;
	struct io_uring small;
	int fd = t_tmpfile();

	/* A 2-entry SQ forces the windows to be prepared in turns. */
	CU_ASSERT_EQUAL_FATAL(io_uring_queue_init(2, &small, 0), 0);
	rope_snapshot(r, &s);
	CU_ASSERT(rope_snap_iov(s, 0, SIZE_MAX, NULL, 0) > IOV_MAX);
	CU_ASSERT_EQUAL(rope_uring_job_new(&j, s, 0, SIZE_MAX, fd, 10, 0), 0);
	rope_snap_unref(s);
	rope_free(r);  /* the job keeps the bytes */
	CU_ASSERT(t_drive(&small, &j, 1));
	CU_ASSERT_EQUAL(rope_uring_job_result(j), (ssize_t)len);
	CU_ASSERT(t_file_is(fd, 10, data, len));
	CU_ASSERT_EQUAL(rope_uring_job_free(j), 0);
	CU_ASSERT_EQUAL(t_mem_now(), mem);
	io_uring_queue_exit(&small);
	free(data);
	close(fd);
}

static void
test_uring_file_two_jobs_one_ring(void)
{
	uint8_t *data;
	size_t len;
	struct rope *r = t_many_chunks(2000, 3000, 0, &data, &len);
	struct rope_uring_job *jobs[2];
	struct rope_snap *s;
	int fd = t_tmpfile();

	rope_snapshot(r, &s);
	CU_ASSERT_EQUAL(rope_uring_job_new(&jobs[0], s, len / 3, SIZE_MAX, fd,
					   (int64_t)(len / 3), 0), 0);
	CU_ASSERT_EQUAL(rope_uring_job_new(&jobs[1], s, 0, len / 3, fd, 0, 0),
			0);
	CU_ASSERT(t_drive(&ring, jobs, 2));
	CU_ASSERT_EQUAL(rope_uring_job_result(jobs[0]),
			(ssize_t)(len - len / 3));
	CU_ASSERT_EQUAL(rope_uring_job_result(jobs[1]), (ssize_t)(len / 3));
	CU_ASSERT(t_file_is(fd, 0, data, len));
	rope_uring_job_free(jobs[0]);
	rope_uring_job_free(jobs[1]);
	rope_snap_unref(s);
	rope_free(r);
	free(data);
	close(fd);
}

static void
test_uring_file_error_reported(void)
{
	struct rope *r = t_rope_from("no place to go");
	struct rope_uring_job *j;
	struct rope_snap *s;
	int fd = open("/dev/null", O_RDONLY);

	/* Writing to a read-only descriptor fails in the CQE. */
	rope_snapshot(r, &s);
	CU_ASSERT_EQUAL(rope_uring_job_new(&j, s, 0, SIZE_MAX, fd, 0, 0), 0);
	CU_ASSERT(t_drive(&ring, &j, 1));
	CU_ASSERT_EQUAL(rope_uring_job_result(j), -EBADF);
	CU_ASSERT_EQUAL(rope_uring_job_progress(j), 0);
	rope_uring_job_free(j);
	rope_snap_unref(s);
	T_EQUALS_STR(r, "no place to go");
	rope_free(r);
	close(fd);
}

/* Send a many-chunk rope over a socket pair to a slow reader while the
 * rope is changed and freed; the reader must get the snapshot's bytes. */
static void
send_and_check(int fds[2], unsigned flags, struct rope_uring_zc_stats *zc)
{
	uint8_t *data, junk[3000];
	size_t len, mem = t_mem_now();
	struct rope *r = t_many_chunks(3000, 4000, 0, &data, &len);
	struct rope_uring_job *j;
	struct rope_snap *s;
	struct t_sink k = { .fd = fds[1], .step = 32768, .nap_us = 100 };
	pthread_t t;
	int small = 16384;

	/* A small send buffer and a slow reader make the kernel stop
	 * mid-chain, so sends are short or cancelled and resumed. */
	setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	rope_snapshot(r, &s);
	CU_ASSERT_EQUAL(rope_uring_job_new(&j, s, 0, SIZE_MAX, fds[0], -1,
					   flags), 0);
	rope_snap_unref(s);
	memset(junk, '#', sizeof(junk));
	rope_seek(r, 100, SEEK_SET);
	rope_write(r, junk, sizeof(junk));
	rope_truncate(r, 5000);
	rope_free(r);
	k.want = len;
	pthread_create(&t, NULL, t_sink_run, &k);
	CU_ASSERT(t_drive(&ring, &j, 1));
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(rope_uring_job_result(j), (ssize_t)len);
	CU_ASSERT_EQUAL(k.got, len);
	CU_ASSERT(k.buf && memcmp(k.buf, data, len) == 0);
	rope_uring_job_zc_stats(j, zc);
	CU_ASSERT_EQUAL(rope_uring_job_free(j), 0);
	CU_ASSERT_EQUAL(t_mem_now(), mem);
	free(k.buf);
	free(data);
}

static void
test_uring_socket_tcp_slow_reader(void)
{
	struct rope_uring_zc_stats zc;
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	send_and_check(fds, 0, &zc);
	CU_ASSERT_EQUAL(zc.sends, 0);
	close(fds[0]);
	close(fds[1]);
}

static void
test_uring_socket_unix(void)
{
	struct rope_uring_zc_stats zc;
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	send_and_check(fds, 0, &zc);
	close(fds[0]);
	close(fds[1]);
}

static void
test_uring_zc_tcp_loopback_copies(void)
{
	struct rope_uring_zc_stats zc;
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	send_and_check(fds, ROPE_URING_ZC, &zc);
	/* Loopback always copies (the kernel documents it): every
	 * notification says so, and no byte counts as zero-copy. */
	CU_ASSERT(zc.sends > 0);
	CU_ASSERT_EQUAL(zc.notifs, zc.sends);
	CU_ASSERT_EQUAL(zc.copied, zc.notifs);
	CU_ASSERT_EQUAL(zc.zc_bytes, 0);
	printf("  [zc over TCP loopback: %llu sends, %llu notifications, "
	       "%llu copied, %llu bytes zero-copy%s]\n",
	       (unsigned long long)zc.sends, (unsigned long long)zc.notifs,
	       (unsigned long long)zc.copied, (unsigned long long)zc.zc_bytes,
	       zc.disabled ? ", switched to plain sends" : "");
	close(fds[0]);
	close(fds[1]);
}

static void
test_uring_zc_gives_up_when_always_copied(void)
{
	uint8_t *data;
	size_t len;
	struct rope *r = t_many_chunks(12 * IOV_MAX, 300, 0, &data, &len);
	struct rope_uring_zc_stats zc;
	struct rope_uring_job *j;
	struct rope_snap *s;
	struct t_sink k;
	pthread_t t;
	int fds[2];

	/* Twelve windows: after eight "copied" notifications the job stops
	 * paying for zero copy and sends the rest plainly. */
	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	k = (struct t_sink){ .fd = fds[1], .want = len, .step = 65536 };
	pthread_create(&t, NULL, t_sink_run, &k);
	rope_snapshot(r, &s);
	CU_ASSERT_EQUAL(rope_uring_job_new(&j, s, 0, SIZE_MAX, fds[0], -1,
					   ROPE_URING_ZC), 0);
	CU_ASSERT(t_drive(&ring, &j, 1));
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(rope_uring_job_result(j), (ssize_t)len);
	CU_ASSERT(k.buf && memcmp(k.buf, data, len) == 0);
	rope_uring_job_zc_stats(j, &zc);
	CU_ASSERT(zc.disabled);
	CU_ASSERT(zc.sends >= 8 && zc.sends < 12);
	CU_ASSERT_EQUAL(zc.copied, zc.notifs);
	rope_uring_job_free(j);
	rope_snap_unref(s);
	rope_free(r);
	free(k.buf);
	free(data);
	close(fds[0]);
	close(fds[1]);
}

static void
test_uring_zc_unix_falls_back(void)
{
	struct rope_uring_zc_stats zc;
	int fds[2];

	/* AF_UNIX has no zero copy (-EOPNOTSUPP): the job goes on with
	 * plain sends, and the bytes still arrive in order. */
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	send_and_check(fds, ROPE_URING_ZC, &zc);
	CU_ASSERT(zc.disabled);
	CU_ASSERT_EQUAL(zc.zc_bytes, 0);
	close(fds[0]);
	close(fds[1]);
}

static void
test_uring_peer_closes_mid_send(void)
{
	uint8_t *data;
	size_t len, mem = t_mem_now();
	struct rope *r = t_many_chunks(3000, 4000, 0, &data, &len);
	struct rope_uring_job *j;
	struct rope_snap *s;
	struct t_sink k;
	pthread_t t;
	int fds[2], small = 16384;
	ssize_t res;

	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	/* The reader takes 100 KiB, then closes its end. */
	k = (struct t_sink){ .fd = fds[1], .want = 100000, .step = 10000,
			   .close_after = true };
	pthread_create(&t, NULL, t_sink_run, &k);
	rope_snapshot(r, &s);
	CU_ASSERT_EQUAL(rope_uring_job_new(&j, s, 0, SIZE_MAX, fds[0], -1, 0),
			0);
	rope_snap_unref(s);
	CU_ASSERT(t_drive(&ring, &j, 1));
	pthread_join(t, NULL);
	res = rope_uring_job_result(j);
	CU_ASSERT(res == -EPIPE || res == -ECONNRESET);
	CU_ASSERT(rope_uring_job_progress(j) < len);
	CU_ASSERT_EQUAL(memcmp(k.buf, data, k.got), 0);
	CU_ASSERT_EQUAL(rope_uring_job_free(j), 0);
	/* Nothing lost from the rope, nothing leaked by the job. */
	CU_ASSERT(t_equals(r, data, len));
	rope_free(r);
	CU_ASSERT_EQUAL(t_mem_now(), mem);
	free(k.buf);
	free(data);
	close(fds[0]);
}

static void
test_uring_free_refused_while_in_flight(void)
{
	struct rope *r = t_rope_from("in flight");
	struct rope_uring_job *j;
	struct rope_snap *s;
	int fd = t_tmpfile();

	rope_snapshot(r, &s);
	CU_ASSERT_EQUAL(rope_uring_job_new(&j, s, 0, SIZE_MAX, fd, 0, 0), 0);
	CU_ASSERT_EQUAL(rope_uring_job_prep(j, &ring), 1);
	CU_ASSERT_EQUAL(rope_uring_job_free(j), -EBUSY);
	CU_ASSERT(t_drive(&ring, &j, 1));
	CU_ASSERT_EQUAL(rope_uring_job_result(j), 9);
	CU_ASSERT_EQUAL(rope_uring_job_free(j), 0);
	rope_snap_unref(s);
	rope_free(r);
	close(fd);
}

static const struct t_test tests[] = {
	{ "bad_arguments", test_uring_bad_arguments },
	{ "file_error_reported", test_uring_file_error_reported },
	{ "file_more_than_iov_max", test_uring_file_more_than_iov_max },
	{ "file_two_jobs_one_ring", test_uring_file_two_jobs_one_ring },
	{ "free_refused_while_in_flight", test_uring_free_refused_while_in_flight },
	{ "peer_closes_mid_send", test_uring_peer_closes_mid_send },
	{ "socket_tcp_slow_reader", test_uring_socket_tcp_slow_reader },
	{ "socket_unix", test_uring_socket_unix },
	{ "zc_gives_up_when_always_copied", test_uring_zc_gives_up_when_always_copied },
	{ "zc_tcp_loopback_copies", test_uring_zc_tcp_loopback_copies },
	{ "zc_unix_falls_back", test_uring_zc_unix_falls_back },
};

int
main(void)
{
	int ret = io_uring_queue_init(64, &ring, 0);

	if (ret < 0) {
		fprintf(stderr, "no io_uring here (%d): skipping\n", ret);
		return T_EXIT_SKIP;
	}
	if (t_loopback_down("uring")) {
		io_uring_queue_exit(&ring);
		return T_EXIT_SKIP;
	}
	ret = t_run("uring", tests, ARRAY_SIZE(tests));
	io_uring_queue_exit(&ring);
	return ret;
}
