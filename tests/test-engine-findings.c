/* SPDX-License-Identifier: MIT */
/*
 * Edges of the engine that once failed, in both arms (io_uring and the
 * fallback): a receive started from another receive's callback, a
 * cancellation of a descriptor already closed, an epoll loop that must wake
 * for sends and for send deadlines, a dup() of a socket already received,
 * rope_uring_free() with a send whose only reader is the same engine, the
 * chunk cache across fork(), and misuse that both modes refuse alike.
 *
 * Cases that used to hang run in a child process, so a hang fails the test
 * (the child is killed) instead of the whole program.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine-arms.h"

/* Run @fn in a child process; true when it exits 0 within @seconds. */
static bool
in_child(int (*fn)(void), unsigned seconds)
{
	double end = t_now() + seconds;
	int status = 0;
	pid_t pid = fork();

	if (pid < 0)
		return false;
	if (pid == 0)
		_exit(fn());
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (t_now() > end) {
			fprintf(stderr, "child still running after %u s\n",
				seconds);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return false;
		}
		usleep(2000);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "child ended with status %#x\n", status);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Run the engine without blocking until *@flag is set or @seconds pass. */
static void
run_until(struct rope_uring *u, const bool *flag, double seconds)
{
	double end = t_now() + seconds;

	while (!*flag && t_now() < end) {
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
		usleep(500);
	}
}

static int
epoll_wait_retried(int ep, int ms)
{
	struct epoll_event ev;
	int n;

	do {
		n = epoll_wait(ep, &ev, 1, ms);
	} while (n < 0 && errno == EINTR);
	return n;
}

/* ------------------------------------------------------------------------ */
/* A receive started from another receive's callback                        */
/* ------------------------------------------------------------------------ */

struct starter {
	struct rope_uring *u;
	int own_fd, next_fd;
	struct rope *next_rope;
	struct t_received *next_x;
	struct t_received x;
	int started;        /* rope_uring_recv()'s result for next_fd */
	bool did;
};

/* On its first bytes: start receiving next_fd, and end itself, so that
 * it ends in the same pass in which the new receive was added. */
static void
starter_cb(void *arg, ssize_t n)
{
	struct starter *st = arg;

	t_on_recv(&st->x, n);
	if (n > 0 && !st->did) {
		st->did = true;
		st->started = rope_uring_recv(st->u, st->next_fd, st->next_rope,
					      t_on_recv, st->next_x);
		CU_ASSERT_EQUAL(rope_uring_cancel(st->u, st->own_fd), 0);
	}
}

static void
test_findings_recv_started_from_a_callback(void)
{
	struct rope_uring *u = t_engine();
	struct rope *ra = rope_new(), *rb = rope_new();
	struct t_received xb = { 0 };
	struct starter st = { 0 };
	int a[2], b[2];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	st = (struct starter){ .u = u, .own_fd = a[0], .next_fd = b[0],
			       .next_rope = rb, .next_x = &xb, .started = 1 };
	/* The receive that calls back is the engine's newest, first in
	 * whatever order it keeps. */
	CU_ASSERT_EQUAL(rope_uring_recv(u, a[0], ra, starter_cb, &st), 0);
	CU_ASSERT_EQUAL(write(a[1], "hello", 5), 5);
	run_until(u, &st.x.ended, 5);
	CU_ASSERT(st.x.ended);
	CU_ASSERT_EQUAL(st.x.end, -ECANCELED);
	CU_ASSERT_EQUAL(st.started, 0);
	T_EQUALS_STR(ra, "hello");
	/* The receive started from the callback works and ends. */
	CU_ASSERT_EQUAL(write(b[1], "world", 5), 5);
	close(b[1]);
	run_until(u, &xb.ended, 5);
	CU_ASSERT(xb.ended);
	CU_ASSERT_EQUAL(xb.end, 0);
	CU_ASSERT_EQUAL(xb.bytes, 5);
	T_EQUALS_STR(rb, "world");
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	rope_uring_free(u);
	rope_free(ra);
	rope_free(rb);
	close(a[0]);
	close(a[1]);
	close(b[0]);
}

/* ------------------------------------------------------------------------ */
/* rope_uring_cancel() of a descriptor closed while it was received          */
/* ------------------------------------------------------------------------ */

static int
cancel_closed(bool reuse)
{
	struct rope_uring *u = NULL;
	struct rope *r = rope_new();
	struct t_received x = { 0 };
	int s[2], other[2] = { -1, -1 }, fd;

	if (rope_uring_new(&u, 16) < 0 ||
	    rope_uring_is_fallback(u) != t_fallback_arm ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0)
		return 2;
	fd = s[0];
	if (rope_uring_recv(u, fd, r, t_on_recv, &x) < 0 ||
	    rope_uring_run(u, 0) < 0)
		return 3;
	close(fd);
	if (reuse) {
		/* The number now names another socket. */
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, other) < 0 ||
		    (other[0] != fd && other[1] != fd))
			return 4;
	}
	if (rope_uring_cancel(u, fd) != 0)
		return 5;
	for (int i = 0; i < 1000 && !x.ended; i++) {
		if (rope_uring_run(u, 0) < 0)
			return 6;
		usleep(1000);
	}
	if (!x.ended || x.end != -ECANCELED || rope_uring_pending(u))
		return 7;
	rope_uring_free(u);
	rope_free(r);
	close(s[1]);
	close(other[0]);
	close(other[1]);
	return 0;
}

static int
cancel_closed_fd(void)
{
	return cancel_closed(false);
}

static int
cancel_closed_and_reused_fd(void)
{
	return cancel_closed(true);
}

static void
test_findings_cancel_of_a_closed_descriptor(void)
{
	CU_ASSERT(in_child(cancel_closed_fd, 20));
	CU_ASSERT(in_child(cancel_closed_and_reused_fd, 20));
}

/* ------------------------------------------------------------------------ */
/* rope_uring_fd() wakes an epoll loop while sends have work                 */
/* ------------------------------------------------------------------------ */

static void
test_findings_fd_wakes_for_sends(void)
{
	const size_t len = 4u << 20;
	struct rope_uring *u = t_engine();
	struct rope *r = rope_new();
	struct epoll_event ev = { .events = EPOLLIN };
	struct t_sink sink = { .want = len, .step = 4096, .nap_us = 20 };
	struct outcome o = { 0 };
	struct rope_snap *s;
	uint8_t *data = malloc(len);
	int fds[2], ep = epoll_create1(0), silent = 0, small = 8192;
	pthread_t t;

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	CU_ASSERT_EQUAL(epoll_ctl(ep, EPOLL_CTL_ADD, rope_uring_fd(u), &ev), 0);
	t_pattern(data, len, 3);
	CU_ASSERT_EQUAL(rope_append(r, data, len), (ssize_t)len);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	CU_ASSERT_EQUAL(rope_uring_send(u, fds[0], s, 0, SIZE_MAX, 0, record,
					&o), 0);
	rope_snap_unref(s);
	sink.fd = fds[1];
	pthread_create(&t, NULL, t_sink_run, &sink);
	/* An epoll loop: wait on the engine's descriptor, then run it without
	 * blocking. While the reader drains the socket the send can go on, so
	 * the descriptor must not stay quiet for seconds. */
	CU_ASSERT(rope_uring_run(u, 0) >= 0);
	while (!o.calls) {
		if (epoll_wait_retried(ep, 5000) == 0) {
			silent++;
			break;
		}
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
	}
	CU_ASSERT_EQUAL(silent, 0);
	if (silent)
		rope_uring_cancel(u, fds[0]);
	shutdown(fds[0], SHUT_WR);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(o.result, (ssize_t)len);
	CU_ASSERT_EQUAL(sink.got, len);
	CU_ASSERT(sink.buf && memcmp(sink.buf, data, len) == 0);
	rope_uring_free(u);
	rope_free(r);
	free(sink.buf);
	free(data);
	close(ep);
	close(fds[0]);
	close(fds[1]);
}

/* ------------------------------------------------------------------------ */
/* A send deadline makes rope_uring_fd() readable                            */
/* ------------------------------------------------------------------------ */

static void
test_findings_fd_wakes_for_send_timeout(void)
{
	const size_t len = 8u << 20;
	struct rope_uring *u = t_engine();
	struct rope *r = rope_new();
	struct epoll_event ev = { .events = EPOLLIN };
	struct outcome o = { 0 };
	struct rope_snap *s;
	uint8_t *data = calloc(1, len);
	int fds[2], ep = epoll_create1(0), silent = 0;

	/* A peer that never reads. */
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	CU_ASSERT_EQUAL(epoll_ctl(ep, EPOLL_CTL_ADD, rope_uring_fd(u), &ev), 0);
	CU_ASSERT_EQUAL(rope_uring_set_send_timeout(u, 100), 0);
	CU_ASSERT_EQUAL(rope_append(r, data, len), (ssize_t)len);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	CU_ASSERT_EQUAL(rope_uring_send(u, fds[0], s, 0, SIZE_MAX, 0, record,
					&o), 0);
	rope_snap_unref(s);
	CU_ASSERT(rope_uring_run(u, 0) >= 0);
	for (int i = 0; i < 1000 && !o.calls; i++) {
		if (epoll_wait_retried(ep, 5000) == 0) {
			silent++;
			break;
		}
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
	}
	CU_ASSERT_EQUAL(silent, 0);
	CU_ASSERT_EQUAL(o.calls, 1);
	CU_ASSERT_EQUAL(o.result, -ETIMEDOUT);
	if (!o.calls)
		rope_uring_cancel(u, fds[0]);
	rope_uring_free(u);
	rope_free(r);
	free(data);
	close(ep);
	close(fds[0]);
	close(fds[1]);
}

/* ------------------------------------------------------------------------ */
/* One socket, one receive, whatever the descriptor                          */
/* ------------------------------------------------------------------------ */

static void
test_findings_recv_on_a_dup_is_busy(void)
{
	struct rope_uring *u = t_engine();
	struct rope *r = rope_new(), *r2 = rope_new();
	struct t_received x = { 0 }, y = { 0 };
	int fds[2], d;

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	d = dup(fds[0]);
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], r, t_on_recv, &x), 0);
	/* Two receives of one stream would split its bytes between ropes. */
	CU_ASSERT_EQUAL(rope_uring_recv(u, d, r2, t_on_recv, &y), -EBUSY);
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], r2, t_on_recv, &y), -EBUSY);
	CU_ASSERT_EQUAL(write(fds[1], "abc", 3), 3);
	close(fds[1]);
	run_until(u, &x.ended, 5);
	T_EQUALS_STR(r, "abc");
	CU_ASSERT_EQUAL(x.end, 0);
	CU_ASSERT_EQUAL(y.batches, 0);
	CU_ASSERT_EQUAL(rope_size(r2), 0);
	rope_uring_free(u);
	rope_free(r);
	rope_free(r2);
	close(d);
	close(fds[0]);
}

/* ------------------------------------------------------------------------ */
/* rope_uring_free() with a send whose reader is the same engine             */
/* ------------------------------------------------------------------------ */

static int
free_with_send_to_itself(void)
{
	const size_t len = 8u << 20;
	struct rope_uring *u = NULL;
	struct rope *out = rope_new(), *in = rope_new();
	struct t_received x = { 0 };
	struct outcome o = { 0 };
	struct rope_snap *s;
	uint8_t *data = malloc(len);
	uint8_t *got;
	size_t n;
	int fds[2], bad = 0;

	if (!data || rope_uring_new(&u, 16) < 0 ||
	    rope_uring_is_fallback(u) != t_fallback_arm ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
		return 2;
	t_pattern(data, len, 5);
	if (rope_append(out, data, len) != (ssize_t)len ||
	    rope_snapshot(out, &s) < 0 ||
	    rope_uring_send(u, fds[0], s, 0, SIZE_MAX, 0, record, &o) < 0 ||
	    rope_uring_recv(u, fds[1], in, t_on_recv, &x) < 0)
		return 3;
	rope_snap_unref(s);
	/* Far more than the socket buffers hold: the send completes only
	 * while the receive goes on reading. */
	rope_uring_free(u);
	got = t_contents(in, &n);
	if (o.calls != 1 || o.result != (ssize_t)len)
		bad |= 1 << 3;
	if (!x.ended || x.end != -ECANCELED)
		bad |= 1 << 4;
	if (n != len || memcmp(got, data, len) != 0)
		bad |= 1 << 5;
	free(got);
	free(data);
	rope_free(in);
	rope_free(out);
	close(fds[0]);
	close(fds[1]);
	return bad;
}

static void
test_findings_free_with_a_send_to_itself(void)
{
	CU_ASSERT(in_child(free_with_send_to_itself, 30));
}

/* ------------------------------------------------------------------------ */
/* The chunk cache across fork()                                             */
/* ------------------------------------------------------------------------ */

static atomic_bool churn_stop;

/* Chunks released to the cache and taken from it, as fast as can be. */
static void *
churn(void *arg)
{
	uint8_t buf[3000];

	(void)arg;
	memset(buf, 'c', sizeof(buf));
	while (!atomic_load(&churn_stop)) {
		struct rope *r = rope_new();

		for (int i = 0; i < 8; i++)
			rope_append(r, buf, sizeof(buf));
		rope_free(r);
	}
	return NULL;
}

static void
test_findings_cache_figures_after_fork(void)
{
	pthread_t t[2];
	int wrong = 0, forks = 200;

	atomic_store(&churn_stop, false);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, churn, NULL);
	for (int i = 0; i < forks; i++) {
		int status = 0;
		pid_t pid = fork();

		if (pid == 0) {
			struct rope_cache_stats st;

			/* The child's lists and figures must agree: an empty
			 * cache counts 0 bytes. */
			rope_cache_trim();
			_exit(rope_cache_stats(&st, sizeof(st)) == 0 &&
			      st.cached == 0 ? 0 : 1);
		}
		CU_ASSERT_FATAL(pid > 0);
		waitpid(pid, &status, 0);
		wrong += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	atomic_store(&churn_stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	if (wrong)
		fprintf(stderr, "%d of %d children saw wrong figures\n", wrong,
			forks);
	CU_ASSERT_EQUAL(wrong, 0);
}

/* ------------------------------------------------------------------------ */
/* Misuse refused alike by both modes                                        */
/* ------------------------------------------------------------------------ */

static void
test_findings_misuse_refused_alike(void)
{
	struct rope_uring *u = t_engine();
	struct rope *r = t_rope_from("data"), *in = rope_new();
	struct t_received x = { 0 };
	struct outcome o = { 0 };
	struct rope_snap *s;
	int fds[2], p[2];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	/* A write at a file offset needs a file that has offsets. */
	CU_ASSERT_EQUAL(rope_uring_pwrite(u, fds[0], s, 0, SIZE_MAX, 0,
					  record, &o), -ESPIPE);
	CU_ASSERT_EQUAL(rope_uring_pwrite(u, p[1], s, 0, SIZE_MAX, 0, record,
					  &o), -ESPIPE);
	/* A receive needs a socket. */
	CU_ASSERT_EQUAL(rope_uring_recv(u, p[0], in, t_on_recv, &x),
			-ENOTSOCK);
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	CU_ASSERT_EQUAL(rope_uring_run(u, 0), 0);
	CU_ASSERT_EQUAL(o.calls, 0);
	CU_ASSERT_EQUAL(x.batches, 0);
	CU_ASSERT(!x.ended);
	rope_snap_unref(s);
	rope_uring_free(u);
	rope_free(r);
	rope_free(in);
	close(fds[0]);
	close(fds[1]);
	close(p[0]);
	close(p[1]);
}

/* ------------------------------------------------------------------------ */
/* Cancelled callbacks come in one order in both modes                       */
/* ------------------------------------------------------------------------ */

struct ordered_recv {
	struct t_received x;
	int *counter;
	int order;
};

static void
ordered_recv_cb(void *arg, ssize_t n)
{
	struct ordered_recv *o = arg;

	t_on_recv(&o->x, n);
	if (n <= 0)
		o->order = (*o->counter)++;
}

static void
test_findings_cancelled_callbacks_in_queue_order(void)
{
	const size_t len = 8u << 20;
	struct rope_uring *u = t_engine();
	struct rope *r = rope_new(), *in = rope_new();
	struct outcome o[3] = { { 0 } };
	struct ordered_recv rx = { 0 };
	struct rope_snap *s;
	uint8_t *data = calloc(1, len);
	int fds[2], counter = 0;

	/* A peer that never reads: the first send is in the kernel's hands
	 * when it is cancelled, the two behind it are not started. */
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	rx.counter = &counter;
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], in, ordered_recv_cb, &rx),
			0);
	CU_ASSERT_EQUAL(rope_append(r, data, len), (ssize_t)len);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	for (int i = 0; i < 3; i++) {
		o[i].counter = &counter;
		CU_ASSERT_EQUAL(rope_uring_send(u, fds[0], s, 0,
						i ? 100 : SIZE_MAX, 0, record,
						&o[i]), 0);
	}
	rope_snap_unref(s);
	CU_ASSERT(rope_uring_run(u, 0) >= 0);
	CU_ASSERT_EQUAL(rope_uring_cancel(u, fds[0]), 0);
	for (int i = 0; i < 2000 && rope_uring_pending(u); i++) {
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
		usleep(500);
	}
	/* The requests in the order they were queued, then the receive. */
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(o[i].calls, 1);
		CU_ASSERT_EQUAL(o[i].result, -ECANCELED);
		CU_ASSERT_EQUAL(o[i].order, i);
	}
	CU_ASSERT(rx.x.ended);
	CU_ASSERT_EQUAL(rx.x.end, -ECANCELED);
	CU_ASSERT_EQUAL(rx.order, 3);
	rope_uring_free(u);
	rope_free(r);
	rope_free(in);
	free(data);
	close(fds[0]);
	close(fds[1]);
}

static const struct t_test tests[] = {
	{ "cancelled_callbacks_in_queue_order",
	  test_findings_cancelled_callbacks_in_queue_order },
	{ "cache_figures_after_fork", test_findings_cache_figures_after_fork },
	{ "cancel_of_a_closed_descriptor",
	  test_findings_cancel_of_a_closed_descriptor },
	{ "fd_wakes_for_send_timeout", test_findings_fd_wakes_for_send_timeout },
	{ "fd_wakes_for_sends", test_findings_fd_wakes_for_sends },
	{ "free_with_a_send_to_itself",
	  test_findings_free_with_a_send_to_itself },
	{ "misuse_refused_alike", test_findings_misuse_refused_alike },
	{ "recv_on_a_dup_is_busy", test_findings_recv_on_a_dup_is_busy },
	{ "recv_started_from_a_callback",
	  test_findings_recv_started_from_a_callback },
};

int
main(void)
{
	return t_run_engine_arms(tests, ARRAY_SIZE(tests), 240);
}
