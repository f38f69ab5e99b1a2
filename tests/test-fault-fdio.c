/* SPDX-License-Identifier: MIT */
/*
 * Plain-syscall I/O under injected faults (fault.h): short writes and
 * reads, EINTR, EIO, ENOSPC, EPIPE and writes of nothing, made where the
 * library makes its system calls, on real files, pipes and sockets. After
 * every fault the rope holds exactly the bytes that did not go, the bytes
 * that did go are the rope's first ones, in order, errno is as it was, and
 * nothing is leaked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "fault.h"

/* The rope holds exactly @data[@from, @len). */
static bool
holds_from(const struct rope *r, const uint8_t *data, size_t from, size_t len)
{
	return rope__check(r) == 0 && t_equals(r, data + from, len - from);
}

/* ------------------------------------------------------------------------ */
/* rope_write_fd                                                            */
/* ------------------------------------------------------------------------ */

static void
test_fault_write_short_then_eio_drains_what_went(void)
{
	const struct t_sys_rule rules[] = {
		{ T_SYS_WRITEV, .skip = 0, .count = 1, .keep = 1000 },
		{ T_SYS_WRITEV, .skip = 1, .count = 1, .err = EIO },
	};
	uint8_t *data;
	size_t len;
	struct rope *r = t_many_chunks(3000, 200, 1, &data, &len);
	int fd = t_tmpfile();

	CU_ASSERT_FATAL(fd >= 0);
	t_sys_faults(rules, ARRAY_SIZE(rules));
	errno = ERANGE;
	/* A short write, then an error: the progress comes first. */
	CU_ASSERT_EQUAL(rope_write_fd(r, fd, SIZE_MAX), 1000);
	CU_ASSERT_EQUAL(errno, ERANGE);
	CU_ASSERT_EQUAL(t_sys_hits(), 2);
	CU_ASSERT(holds_from(r, data, 1000, len));
	CU_ASSERT(t_file_is(fd, 0, data, 1000));
	/* The fault is gone: the rest follows, in order. */
	t_sys_faults_off();
	CU_ASSERT_EQUAL(rope_write_fd(r, fd, SIZE_MAX), (ssize_t)(len - 1000));
	CU_ASSERT_EQUAL(rope_size(r), 0);
	CU_ASSERT(t_file_is(fd, 0, data, len));
	rope_free(r);
	free(data);
	close(fd);
}

static void
test_fault_write_error_first_changes_nothing(void)
{
	static const int errs[] = { EIO, ENOSPC, EFBIG, EAGAIN };

	for (size_t i = 0; i < ARRAY_SIZE(errs); i++) {
		const struct t_sys_rule rule = {
			T_SYS_WRITEV, .count = T_FAULT_ALWAYS, .err = errs[i],
		};
		uint8_t *data;
		size_t len, before;
		struct rope *r = t_many_chunks(100, 50, i, &data, &len);
		int fd = t_tmpfile();

		before = t_mem_now();
		t_sys_faults(&rule, 1);
		CU_ASSERT_EQUAL(rope_write_fd(r, fd, SIZE_MAX), -errs[i]);
		CU_ASSERT_EQUAL(rope_write_fd(r, fd, 10), -errs[i]);
		t_sys_faults_off();
		CU_ASSERT(holds_from(r, data, 0, len));
		CU_ASSERT_EQUAL(t_mem_now(), before);
		CU_ASSERT_EQUAL(lseek(fd, 0, SEEK_END), 0);
		rope_free(r);
		free(data);
		close(fd);
	}
}

static void
test_fault_write_eintr_is_retried(void)
{
	const struct t_sys_rule rule = {
		T_SYS_WRITEV, .count = 3, .err = EINTR,
	};
	uint8_t *data;
	size_t len;
	struct rope *r = t_many_chunks(2000, 100, 2, &data, &len);
	int fd = t_tmpfile();

	t_sys_faults(&rule, 1);
	CU_ASSERT_EQUAL(rope_write_fd(r, fd, SIZE_MAX), (ssize_t)len);
	CU_ASSERT_EQUAL(t_sys_hits(), 3);
	t_sys_faults_off();
	CU_ASSERT_EQUAL(rope_size(r), 0);
	T_CHECK(r);
	CU_ASSERT(t_file_is(fd, 0, data, len));
	rope_free(r);
	free(data);
	close(fd);
}

static void
test_fault_write_many_short_writes(void)
{
	/* Every write takes at most 7 bytes: 1,000s of calls, one rope. */
	const struct t_sys_rule rule = {
		T_SYS_WRITEV, .count = T_FAULT_ALWAYS, .keep = 7,
	};
	uint8_t *data;
	size_t len;
	struct rope *r = t_many_chunks(500, 30, 3, &data, &len);
	int fd = t_tmpfile();

	t_sys_faults(&rule, 1);
	CU_ASSERT_EQUAL(rope_write_fd(r, fd, 5000), 5000);
	CU_ASSERT(holds_from(r, data, 5000, len));
	CU_ASSERT_EQUAL(rope_write_fd(r, fd, SIZE_MAX), (ssize_t)(len - 5000));
	CU_ASSERT(t_sys_hits() >= len / 7);
	t_sys_faults_off();
	CU_ASSERT(t_file_is(fd, 0, data, len));
	rope_free(r);
	free(data);
	close(fd);
}

static void
test_fault_write_of_nothing_is_not_progress(void)
{
	const struct t_sys_rule rule = {
		T_SYS_WRITEV, .count = 1, .keep = 0,
	};
	struct rope *r = t_rope_from("still here");
	int fd = t_tmpfile();

	t_sys_faults(&rule, 1);
	CU_ASSERT_EQUAL(rope_write_fd(r, fd, SIZE_MAX), 0);
	t_sys_faults_off();
	T_EQUALS_STR(r, "still here");
	rope_free(r);
	close(fd);
}

static void
test_fault_send_epipe_and_short_on_socket(void)
{
	const struct t_sys_rule rules[] = {
		{ T_SYS_SENDMSG, .skip = 0, .count = 1, .keep = 333 },
		{ T_SYS_SENDMSG, .skip = 1, .count = 2, .err = EPIPE },
		{ T_SYS_SENDMSG, .skip = 3, .count = 1, .err = ECONNRESET },
	};
	uint8_t *data, got[4096];
	size_t len;
	struct rope *r = t_many_chunks(40, 100, 4, &data, &len);
	int sv[2];

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CU_ASSERT_FATAL(len < sizeof(got));
	t_sys_faults(rules, ARRAY_SIZE(rules));
	CU_ASSERT_EQUAL(rope_write_fd(r, sv[0], SIZE_MAX), 333);
	CU_ASSERT_EQUAL(rope_write_fd(r, sv[0], SIZE_MAX), -EPIPE);
	CU_ASSERT_EQUAL(rope_write_fd(r, sv[0], SIZE_MAX), -ECONNRESET);
	CU_ASSERT_EQUAL(t_sys_hits(), 4);
	t_sys_faults_off();
	CU_ASSERT(holds_from(r, data, 333, len));
	CU_ASSERT_EQUAL(rope_write_fd(r, sv[0], SIZE_MAX),
			(ssize_t)(len - 333));
	close(sv[0]);
	CU_ASSERT_EQUAL(read(sv[1], got, sizeof(got)), (ssize_t)len);
	CU_ASSERT(memcmp(got, data, len) == 0);
	rope_free(r);
	free(data);
	close(sv[1]);
}

/* ------------------------------------------------------------------------ */
/* rope_read_fd                                                             */
/* ------------------------------------------------------------------------ */

static void
test_fault_read_errors_change_nothing(void)
{
	static const int errs[] = { EINTR, EIO, ECONNRESET, EAGAIN };
	int p[2];

	CU_ASSERT_FATAL(pipe(p) == 0);
	CU_ASSERT_EQUAL(write(p[1], "abcdef", 6), 6);
	for (size_t i = 0; i < ARRAY_SIZE(errs); i++) {
		const struct t_sys_rule rule = {
			T_SYS_READV, .count = 1, .err = errs[i],
		};
		struct rope *r = t_rope_from("head:");
		size_t before = t_mem_now();

		t_sys_faults(&rule, 1);
		errno = ERANGE;
		/* Asking for more than the tail room needs a fresh chunk,
		 * which the failed read must give back. */
		CU_ASSERT_EQUAL(rope_read_fd(r, p[0], 1 << 20), -errs[i]);
		CU_ASSERT_EQUAL(errno, ERANGE);
		CU_ASSERT_EQUAL(t_sys_hits(), 1);
		t_sys_faults_off();
		T_CHECK(r);
		T_EQUALS_STR(r, "head:");
		CU_ASSERT_EQUAL(t_mem_now(), before);
		rope_free(r);
	}
	/* Nothing was read from the pipe by the failed calls. */
	{
		struct rope *r = rope_new();

		CU_ASSERT_EQUAL(rope_read_fd(r, p[0], 100), 6);
		T_EQUALS_STR(r, "abcdef");
		rope_free(r);
	}
	close(p[0]);
	close(p[1]);
}

static void
test_fault_read_short_keeps_order(void)
{
	/* Reads of 1, 2, ... bytes: pieces pile up in order. */
	uint8_t data[3000];
	struct rope *r = rope_new();
	size_t total = 0;
	int p[2];

	CU_ASSERT_FATAL(pipe(p) == 0);
	t_pattern(data, sizeof(data), 5);
	CU_ASSERT_EQUAL(write(p[1], data, sizeof(data)), (ssize_t)sizeof(data));
	for (size_t k = 1; total < sizeof(data); k++) {
		const struct t_sys_rule rule = {
			T_SYS_READV, .count = 1, .keep = k,
		};
		ssize_t got;

		t_sys_faults(&rule, 1);
		got = rope_read_fd(r, p[0], SIZE_MAX);
		t_sys_faults_off();
		CU_ASSERT_EQUAL(got, (ssize_t)MIN(k, sizeof(data) - total));
		if (got <= 0)
			break;
		total += (size_t)got;
		T_CHECK(r);
	}
	CU_ASSERT(t_equals(r, data, sizeof(data)));
	rope_free(r);
	close(p[0]);
	close(p[1]);
}

/* ------------------------------------------------------------------------ */
/* Snapshot writes                                                          */
/* ------------------------------------------------------------------------ */

static void
test_fault_snap_pwrite_short_eintr_enospc(void)
{
	const struct t_sys_rule rules[] = {
		{ T_SYS_PWRITEV, .skip = 0, .count = 2, .err = EINTR },
		{ T_SYS_PWRITEV, .skip = 2, .count = 3, .keep = 4097 },
		{ T_SYS_PWRITEV, .skip = 5, .count = T_FAULT_ALWAYS,
		  .err = ENOSPC },
	};
	uint8_t *data;
	size_t len;
	struct rope *r = t_many_chunks(3000, 100, 6, &data, &len);
	struct rope_snap *s;
	int fd = t_tmpfile();

	CU_ASSERT_FATAL(rope_snapshot(r, &s) == 0);
	t_sys_faults(rules, ARRAY_SIZE(rules));
	/* Two interruptions retried, three short writes continued, then the
	 * disk is full: the progress, then the error. */
	CU_ASSERT_EQUAL(rope_snap_pwrite(s, 0, SIZE_MAX, fd, 10), 3 * 4097);
	CU_ASSERT_EQUAL(rope_snap_pwrite(s, 3 * 4097, SIZE_MAX, fd,
					 10 + 3 * 4097), -ENOSPC);
	CU_ASSERT_EQUAL(t_sys_hits(), 7);
	t_sys_faults_off();
	CU_ASSERT(t_file_is(fd, 10, data, 3 * 4097));
	CU_ASSERT_EQUAL(rope_snap_pwrite(s, 3 * 4097, SIZE_MAX, fd,
					 10 + 3 * 4097),
			(ssize_t)(len - 3 * 4097));
	CU_ASSERT(t_file_is(fd, 10, data, len));
	/* The snapshot and the rope never changed. */
	CU_ASSERT(holds_from(r, data, 0, len));
	rope_snap_unref(s);
	rope_free(r);
	free(data);
	close(fd);
}

/* Count every sendmsg and writev (each call goes through whole). */
static const struct t_sys_rule count_out[] = {
	{ .call = T_SYS_SENDMSG, .count = T_FAULT_ALWAYS, .keep = SIZE_MAX },
	{ .call = T_SYS_WRITEV, .count = T_FAULT_ALWAYS, .keep = SIZE_MAX },
};

/* Append @n bytes of a message and write them to @fd; read them back
 * from @in. True when all of it went through. */
static bool
t_send_one(struct rope *r, int fd, int in, size_t n)
{
	char msg[64], got[64];

	t_pattern((uint8_t *)msg, n, n);
	return rope_append(r, msg, n) == (ssize_t)n &&
	       rope_write_fd(r, fd, SIZE_MAX) == (ssize_t)n &&
	       read(in, got, sizeof(got)) == (ssize_t)n &&
	       memcmp(got, msg, n) == 0 && rope_size(r) == 0;
}

/* A rope written to a pipe learns once that it is no socket: one sendmsg
 * in a hundred calls, not a hundred. */
static void
test_fault_write_fd_probes_a_pipe_once(void)
{
	struct rope *r = rope_new();
	int p[2], bad = 0;

	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	t_sys_faults(count_out, ARRAY_SIZE(count_out));
	for (int i = 0; i < 100; i++)
		bad += !t_send_one(r, p[1], p[0], 40);
	CU_ASSERT_EQUAL(t_sys_hits(), 1 + 100);
	t_sys_faults_off();
	CU_ASSERT_EQUAL(bad, 0);
	T_CHECK(r);
	rope_free(r);
	close(p[0]);
	close(p[1]);
}

/* A socket is written with sendmsg alone, every time. */
static void
test_fault_write_fd_socket_only_sendmsg(void)
{
	struct rope *r = rope_new();
	int sv[2], bad = 0;

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t_sys_faults(count_out, ARRAY_SIZE(count_out));
	for (int i = 0; i < 100; i++)
		bad += !t_send_one(r, sv[0], sv[1], 40);
	CU_ASSERT_EQUAL(t_sys_hits(), 100);
	t_sys_faults_off();
	CU_ASSERT_EQUAL(bad, 0);
	rope_free(r);
	close(sv[0]);
	close(sv[1]);
}

/*
 * A remembered number closed and reused: a socket's number given to a pipe
 * costs one failed sendmsg, then writev; a pipe's number given to a socket
 * is probed again once the caller empties the rope (so a socket is never
 * written with writev, which would lose MSG_NOSIGNAL).
 */
static void
test_fault_write_fd_number_reused(void)
{
	struct rope *r = rope_new();
	int sv[2], p[2], fd, bad = 0;

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	fd = dup(sv[0]);
	CU_ASSERT_FATAL(fd >= 0);
	bad += !t_send_one(r, fd, sv[1], 40);           /* a socket */
	CU_ASSERT_EQUAL_FATAL(dup2(p[1], fd), fd);      /* now a pipe */
	t_sys_faults(count_out, ARRAY_SIZE(count_out));
	bad += !t_send_one(r, fd, p[0], 40);
	CU_ASSERT_EQUAL(t_sys_hits(), 2);  /* sendmsg refused, writev */
	bad += !t_send_one(r, fd, p[0], 40);
	CU_ASSERT_EQUAL(t_sys_hits(), 3);  /* writev alone */
	t_sys_faults_off();

	/* The caller empties the rope before it serves a new connection
	 * that got the same number: the memory goes with it. */
	CU_ASSERT_EQUAL(rope_truncate(r, 0), 0);
	CU_ASSERT_EQUAL_FATAL(dup2(sv[0], fd), fd);     /* a socket again */
	t_sys_faults(count_out, 1);  /* sendmsg only */
	bad += !t_send_one(r, fd, sv[1], 40);
	CU_ASSERT_EQUAL(t_sys_hits(), 1);  /* sendmsg, not writev */
	t_sys_faults_off();
	CU_ASSERT_EQUAL(bad, 0);
	T_CHECK(r);
	rope_free(r);
	close(fd);
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

static const struct t_test tests[] = {
	{ "read_errors_change_nothing", test_fault_read_errors_change_nothing },
	{ "read_short_keeps_order", test_fault_read_short_keeps_order },
	{ "send_epipe_and_short_on_socket",
	  test_fault_send_epipe_and_short_on_socket },
	{ "snap_pwrite_short_eintr_enospc",
	  test_fault_snap_pwrite_short_eintr_enospc },
	{ "write_eintr_is_retried", test_fault_write_eintr_is_retried },
	{ "write_fd_number_reused", test_fault_write_fd_number_reused },
	{ "write_fd_probes_a_pipe_once",
	  test_fault_write_fd_probes_a_pipe_once },
	{ "write_fd_socket_only_sendmsg",
	  test_fault_write_fd_socket_only_sendmsg },
	{ "write_error_first_changes_nothing",
	  test_fault_write_error_first_changes_nothing },
	{ "write_many_short_writes", test_fault_write_many_short_writes },
	{ "write_of_nothing_is_not_progress",
	  test_fault_write_of_nothing_is_not_progress },
	{ "write_short_then_eio_drains_what_went",
	  test_fault_write_short_then_eio_drains_what_went },
};

int
main(void)
{
	return t_run("fault-fdio", tests, ARRAY_SIZE(tests));
}
