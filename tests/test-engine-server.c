/* SPDX-License-Identifier: MIT */
/*
 * The engine as a server lives in it, in both arms (io_uring and the
 * fallback): a rope that refuses bytes beside others that do not, a peer
 * that stops reading, a connection that sends and receives at once, many
 * receivers, and the ways a receive ends (its rope closed, the socket
 * cancelled and closed, a descriptor number reused). Each case once made
 * the engine wait forever or lose track; a hang here ends in SIGALRM.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine-arms.h"

/* Run the engine without blocking until *@flag is set or @seconds pass;
 * every call must return. */
static void
run_until(struct rope_uring *u, const bool *flag, double seconds)
{
	double end = t_now() + seconds;

	while (!*flag && t_now() < end) {
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
		usleep(500);
	}
}

struct bytes_at_least {
	const struct t_received *x;
	uint64_t n;
	bool done;
};

/* Like run_until, for a receive that has taken at least @w->n bytes. */
static void
run_until_received(struct rope_uring *u, struct bytes_at_least *w,
		   double seconds)
{
	double end = t_now() + seconds;

	while (w->x->bytes < w->n && t_now() < end) {
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
		usleep(500);
	}
	w->done = w->x->bytes >= w->n;
}

/* Is @fd's peer closed (a read sees the end of the stream) within 2 s? */
static bool
sees_eof(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&p, 1, 2000) == 1 && read(fd, &c, 1) == 0;
}

/* epoll_wait for one event, as an event loop calls it: io_uring's task
 * work can interrupt any wait of the thread (EINTR), and loops retry. */
static int
epoll_wait_retried(int ep, int ms)
{
	struct epoll_event got;
	int n;

	do {
		n = epoll_wait(ep, &got, 1, ms);
	} while (n < 0 && errno == EINTR);
	return n;
}

/* ------------------------------------------------------------------------ */

/*
 * One receiving rope is exported while its peer sends 32 MB: the other
 * socket's 7 bytes must still arrive, and the refusing socket must stop
 * being read rather than hold unbounded memory.
 */
static void
test_engine_server_refusing_rope_stalls_no_other(void)
{
	size_t len = 32u << 20, before = t_mem_now();
	struct rope_uring *u = t_engine();
	struct rope *a = t_rope_from("A"), *b = rope_new();
	struct t_source src = { .len = len, .max_piece = 100000 };
	struct t_received xa = { 0 }, xb = { 0 };
	struct bytes_at_least wb = { &xb, 7, false };
	struct iovec iov[2];
	uint8_t *want;
	pthread_t t;
	int fa[2], fb[2];

	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fa), 0);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fb), 0);
	src.data = malloc(len);
	t_pattern(src.data, len, 17);
	src.fd = fa[1];
	CU_ASSERT_EQUAL(rope_getbuffer(a, iov, 2), 1);
	CU_ASSERT_EQUAL(rope_uring_recv(u, fa[0], a, t_on_recv, &xa), 0);
	CU_ASSERT_EQUAL(rope_uring_recv(u, fb[0], b, t_on_recv, &xb), 0);
	pthread_create(&t, NULL, t_source_run, &src);
	/* Let A's bytes pile up, then B's peer speaks. */
	for (int i = 0; i < 200; i++) {
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
		usleep(500);
	}
	CU_ASSERT_EQUAL(write(fb[1], "7 bytes", 7), 7);
	run_until_received(u, &wb, 10);
	CU_ASSERT(wb.done);
	T_EQUALS_STR(b, "7 bytes");
	T_EQUALS_STR(a, "A");
	CU_ASSERT_EQUAL(xa.bytes, 0);
	/* A's socket stopped being read: what the engine holds for it is
	 * bounded (1 MiB held, plus what the ring's 64 buffers of 64 KiB
	 * took before the cancellation, plus the ring itself; the socket's
	 * buffer stays with the kernel), well below the 32 MB sent. */
	CU_ASSERT(t_mem_now() - before < (12u << 20));
	printf("  [held while exported: %zu KiB]\n",
	       (t_mem_now() - before) >> 10);
	CU_ASSERT_EQUAL(rope_releasebuffer(a), 0);
	while (!xa.ended && rope_uring_run(u, 1) >= 0)
		;
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(xa.end, 0);
	CU_ASSERT_EQUAL(xa.bytes, len);
	want = malloc(len + 1);
	want[0] = 'A';
	memcpy(want + 1, src.data, len);
	CU_ASSERT(t_equals(a, want, len + 1));
	T_CHECK(a);
	CU_ASSERT_EQUAL(rope_uring_cancel(u, fb[0]), 0);
	rope_uring_free(u);
	CU_ASSERT_EQUAL(xb.end, -ECANCELED);
	rope_free(a);
	rope_free(b);
	free(want);
	free(src.data);
	close(fa[0]);
	close(fb[0]);
	close(fb[1]);
}

/*
 * A client that stops reading: a send of 8 MB to it cannot finish, and
 * rope_uring_run(u, 0) must neither block on it nor hold up another
 * client's send. Cancelling the stuck one ends it with -ECANCELED.
 */
static void
test_engine_server_peer_that_stops_reading(void)
{
	size_t big = 8u << 20;
	uint8_t *data = malloc(big), got[1000];
	struct rope_uring *u = t_engine();
	struct rope *r = rope_new();
	struct outcome stuck = { 0 }, other = { 0 };
	struct rope_snap *s;
	bool other_done = false;
	int fx[2], fy[2];

	t_pattern(data, big, 3);
	CU_ASSERT_EQUAL(rope_write(r, data, big), (ssize_t)big);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fx), 0);
	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fy), 0);
	CU_ASSERT_EQUAL(rope_uring_send(u, fx[0], s, 0, SIZE_MAX, 0, record,
					&stuck), 0);
	CU_ASSERT_EQUAL(rope_uring_send(u, fy[0], s, 0, sizeof(got), 0,
					record, &other), 0);
	for (double end = t_now() + 10; !other_done && t_now() < end;) {
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
		other_done = other.calls == 1;
	}
	CU_ASSERT(other_done);
	CU_ASSERT_EQUAL(other.result, (ssize_t)sizeof(got));
	CU_ASSERT_EQUAL(read(fy[1], got, sizeof(got)), (ssize_t)sizeof(got));
	CU_ASSERT(memcmp(got, data, sizeof(got)) == 0);
	CU_ASSERT_EQUAL(stuck.calls, 0);
	CU_ASSERT_EQUAL(rope_uring_pending(u), 1);
	/* The stuck send is cancelled; then the socket may be closed. */
	CU_ASSERT_EQUAL(rope_uring_cancel(u, fx[0]), 0);
	close(fx[0]);
	CU_ASSERT_EQUAL(rope_uring_run(u, 1), 1);
	CU_ASSERT_EQUAL(stuck.calls, 1);
	CU_ASSERT_EQUAL(stuck.result, -ECANCELED);
	CU_ASSERT_EQUAL(rope_uring_cancel(u, fx[0]), -ENOENT);
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	rope_uring_free(u);
	rope_snap_unref(s);
	rope_free(r);
	free(data);
	close(fx[1]);
	close(fy[0]);
	close(fy[1]);
}

struct echo_peer {
	int fd;
	size_t len;
	const uint8_t *out;
	uint8_t *in;
	size_t got;
};

/* Writes everything first, and only then reads: a peer that a blocking
 * sender on the other side would deadlock with. */
static void *
echo_peer_run(void *arg)
{
	struct echo_peer *p = arg;
	size_t off = 0;

	while (off < p->len) {
		ssize_t w = write(p->fd, p->out + off, p->len - off);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	while (p->got < p->len) {
		ssize_t n = read(p->fd, p->in + p->got, p->len - p->got);

		if (n <= 0)
			break;
		p->got += (size_t)n;
	}
	return NULL;
}

/* One connection sends 8 MB while 8 MB come in on it. */
static void
test_engine_server_send_and_receive_on_one_socket(void)
{
	size_t len = 8u << 20;
	struct rope_uring *u = t_engine();
	struct rope *out = rope_new(), *in = rope_new();
	struct echo_peer peer = { .len = len };
	struct t_received x = { 0 };
	struct outcome sent = { 0 };
	struct rope_snap *s;
	uint8_t *mine = malloc(len), *theirs = malloc(len);
	pthread_t t;
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	t_pattern(mine, len, 1);
	t_pattern(theirs, len, 2);
	peer.fd = fds[1];
	peer.out = theirs;
	peer.in = malloc(len);
	CU_ASSERT_EQUAL(rope_write(out, mine, len), (ssize_t)len);
	CU_ASSERT_EQUAL(rope_snapshot(out, &s), 0);
	CU_ASSERT_EQUAL(rope_uring_send(u, fds[0], s, 0, SIZE_MAX, 0, record,
					&sent), 0);
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], in, t_on_recv, &x), 0);
	pthread_create(&t, NULL, echo_peer_run, &peer);
	while ((sent.calls == 0 || x.bytes < len) &&
	       rope_uring_run(u, 1) >= 0)
		;
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(sent.result, (ssize_t)len);
	CU_ASSERT_EQUAL(peer.got, len);
	CU_ASSERT(memcmp(peer.in, mine, len) == 0);
	CU_ASSERT_EQUAL(x.bytes, len);
	CU_ASSERT(t_equals(in, theirs, len));
	CU_ASSERT_EQUAL(rope_uring_cancel(u, fds[0]), 0);
	rope_uring_free(u);
	rope_snap_unref(s);
	rope_free(out);
	rope_free(in);
	free(mine);
	free(theirs);
	free(peer.in);
	close(fds[0]);
	close(fds[1]);
}

/* @n socket pairs, each received into a rope of its own by @u, and a
 * run that arms the receives. */
static void
receivers_start(struct rope_uring *u, int n, int fds[][2],
		     struct rope **r, struct t_received *x)
{
	memset(x, 0, (size_t)n * sizeof(*x));
	for (int i = 0; i < n; i++) {
		CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0,
						 fds[i]), 0);
		r[i] = rope_new();
		CU_ASSERT_EQUAL(rope_uring_recv(u, fds[i][0], r[i], t_on_recv,
						&x[i]), 0);
	}
	CU_ASSERT(rope_uring_run(u, 0) >= 0);
}

/* No cap on receivers: 100 open connections (a keep-alive server's),
 * each with a few bytes to give, the oldest included. */
static void
test_engine_server_hundred_receivers(void)
{
	enum { N = 100 };
	struct rope_uring *u = t_engine();
	struct rope *r[N];
	struct t_received x[N];
	int fds[N][2], ended = 0, heard = 0;

	receivers_start(u, N, fds, r, x);
	for (int i = 0; i < N; i++) {
		char msg[16];
		int n = snprintf(msg, sizeof(msg), "client %d", i);

		CU_ASSERT_EQUAL(write(fds[i][1], msg, (size_t)n), n);
	}
	for (double end = t_now() + 10; heard < N && t_now() < end;) {
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
		heard = 0;
		for (int i = 0; i < N; i++)
			heard += x[i].bytes > 0;
	}
	CU_ASSERT_EQUAL(heard, N);
	for (int i = 0; i < N; i++)
		close(fds[i][1]);
	for (double end = t_now() + 10; ended < N && t_now() < end;) {
		CU_ASSERT(rope_uring_run(u, 1) >= 0);
		ended = 0;
		for (int i = 0; i < N; i++)
			ended += x[i].ended;
	}
	CU_ASSERT_EQUAL(ended, N);
	for (int i = 0; i < N; i++) {
		char msg[16];
		int n = snprintf(msg, sizeof(msg), "client %d", i);

		CU_ASSERT_EQUAL(x[i].end, 0);
		CU_ASSERT(t_equals(r[i], msg, (size_t)n));
	}
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	rope_uring_free(u);
	for (int i = 0; i < N; i++) {
		rope_free(r[i]);
		close(fds[i][0]);
	}
}

/* rope_close() on a rope being received into ends the receive (-EBADF)
 * at once, with the peer still connected and silent. */
static void
test_engine_server_closed_rope_ends_its_receive(void)
{
	struct rope_uring *u = t_engine();
	struct rope *r = rope_new();
	struct t_received x = { 0 };
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], r, t_on_recv, &x), 0);
	CU_ASSERT_EQUAL(rope_uring_run(u, 0), 0);
	CU_ASSERT_EQUAL(rope_close(r), 0);
	run_until(u, &x.ended, 5);
	CU_ASSERT(x.ended);
	CU_ASSERT_EQUAL(x.end, -EBADF);
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	/* The engine let go of the socket: closing it ends the stream. */
	close(fds[0]);
	CU_ASSERT(sees_eof(fds[1]));
	rope_uring_free(u);
	rope_free(r);
	close(fds[1]);
}

/* The close sequence: cancel, then close; the peer sees the end of the
 * stream at once, and the receive's callback says -ECANCELED. */
static void
test_engine_server_cancel_then_close(void)
{
	struct rope_uring *u = t_engine();
	struct rope *r = rope_new();
	struct t_received x = { 0 };
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	CU_ASSERT_EQUAL(rope_uring_cancel(NULL, fds[0]), -EINVAL);
	CU_ASSERT_EQUAL(rope_uring_cancel(u, fds[0]), -ENOENT);
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], r, t_on_recv, &x), 0);
	CU_ASSERT_EQUAL(write(fds[1], "hello", 5), 5);
	while (x.bytes < 5 && rope_uring_run(u, 1) >= 0)
		;
	CU_ASSERT_EQUAL(rope_uring_cancel(u, fds[0]), 0);
	close(fds[0]);
	CU_ASSERT(sees_eof(fds[1]));
	CU_ASSERT_EQUAL(rope_uring_run(u, 1), 1);
	CU_ASSERT(x.ended);
	CU_ASSERT_EQUAL(x.end, -ECANCELED);
	T_EQUALS_STR(r, "hello");
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	rope_uring_free(u);
	rope_free(r);
	close(fds[1]);
}

/*
 * A descriptor closed without a cancel, its number reused by a new
 * connection: rope_uring_recv() on it starts a new receive (not -EBUSY),
 * the old one ends with -EBADF and lets go of its socket.
 */
static void
test_engine_server_reused_descriptor_number(void)
{
	struct rope_uring *u = t_engine();
	struct rope *old_r = rope_new(), *new_r = rope_new();
	struct t_received xo = { 0 }, xn = { 0 };
	int p[2], q[2], num;

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, q), 0);
	num = p[0];
	CU_ASSERT_EQUAL(rope_uring_recv(u, num, old_r, t_on_recv, &xo), 0);
	CU_ASSERT_EQUAL(rope_uring_run(u, 0), 0);
	/* The same number, another socket. */
	CU_ASSERT_EQUAL(dup2(q[0], num), num);
	close(q[0]);
	CU_ASSERT_EQUAL(rope_uring_recv(u, num, new_r, t_on_recv, &xn), 0);
	CU_ASSERT_EQUAL(rope_uring_recv(u, num, new_r, t_on_recv, &xn),
			-EBUSY);
	run_until(u, &xo.ended, 5);
	CU_ASSERT_EQUAL(xo.end, -EBADF);
	CU_ASSERT(sees_eof(p[1]));
	CU_ASSERT_EQUAL(write(q[1], "new", 3), 3);
	close(q[1]);
	while (!xn.ended && rope_uring_run(u, 1) >= 0)
		;
	CU_ASSERT_EQUAL(xn.end, 0);
	T_EQUALS_STR(new_r, "new");
	CU_ASSERT_EQUAL(rope_size(old_r), 0);
	rope_uring_free(u);
	rope_free(old_r);
	rope_free(new_r);
	close(num);
	close(p[1]);
}

struct waker {
	struct rope_uring *u;
	pthread_t target;       /* signal it instead when by_signal */
	bool by_signal;
};

static struct rope_uring *wake_me;

static void
on_sigusr1(int sig)
{
	(void)sig;
	rope_uring_wake(wake_me);
}

static void *
waker_run(void *arg)
{
	struct waker *w = arg;

	usleep(100 * 1000);
	if (w->by_signal)
		pthread_kill(w->target, SIGUSR1);
	else
		rope_uring_wake(w->u);
	return NULL;
}

/* A run waiting for a callback that will not come (an idle receive) ends
 * when another thread, or a signal handler, calls rope_uring_wake(). */
static void
test_engine_server_wake_ends_a_waiting_run(void)
{
	struct rope_uring *u = t_engine();
	struct rope *r = rope_new();
	struct t_received x = { 0 };
	struct sigaction sa = { .sa_handler = on_sigusr1 }, old;
	struct waker w = { .u = u, .target = pthread_self() };
	pthread_t t;
	int fds[2];

	CU_ASSERT_EQUAL(rope_uring_wake(NULL), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], r, t_on_recv, &x), 0);
	pthread_create(&t, NULL, waker_run, &w);
	CU_ASSERT_EQUAL(rope_uring_run(u, 1), 0);
	pthread_join(t, NULL);
	/* From a signal handler, which interrupts the wait itself. Not under
	 * ThreadSanitizer, which defers a signal's handler until the thread
	 * leaves a system call it does not intercept: io_uring_enter(), which
	 * liburing makes directly. */
	if (t_under_tsan()) {
		printf("  [the signal case is left out under TSan]\n");
		goto received;
	}
	wake_me = u;
	sigaction(SIGUSR1, &sa, &old);
	w.by_signal = true;
	pthread_create(&t, NULL, waker_run, &w);
	CU_ASSERT_EQUAL(rope_uring_run(u, 1), 0);
	pthread_join(t, NULL);
	sigaction(SIGUSR1, &old, NULL);
received:
	/* Waking does not end anything: the receive still takes bytes. */
	CU_ASSERT_EQUAL(write(fds[1], "still", 5), 5);
	while (x.bytes < 5 && rope_uring_run(u, 1) >= 0)
		;
	T_EQUALS_STR(r, "still");
	CU_ASSERT_FALSE(x.ended);
	CU_ASSERT_EQUAL(rope_uring_cancel(u, fds[0]), 0);
	rope_uring_free(u);
	CU_ASSERT_EQUAL(x.end, -ECANCELED);
	rope_free(r);
	close(fds[0]);
	close(fds[1]);
}

/* The engine inside an epoll loop: its fd turns readable when there is
 * work, and is quiet when there is none. */
static void
test_engine_server_fd_in_an_epoll_loop(void)
{
	struct rope_uring *u = t_engine();
	struct rope *in = rope_new(), *out = t_rope_from("pong");
	struct t_received x = { 0 };
	struct outcome sent = { 0 };
	struct epoll_event ev = { .events = EPOLLIN };
	struct rope_snap *s;
	int fds[2], ep = epoll_create1(0), fd = rope_uring_fd(u);
	char buf[8];

	CU_ASSERT(fd >= 0);
	CU_ASSERT_EQUAL(rope_uring_fd(u), fd);
	CU_ASSERT_EQUAL(rope_uring_fd(NULL), -EINVAL);
	CU_ASSERT_EQUAL(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], in, t_on_recv, &x), 0);
	CU_ASSERT_EQUAL(rope_uring_run(u, 0), 0);
	CU_ASSERT_EQUAL(epoll_wait_retried(ep, 100), 0);  /* quiet */
	CU_ASSERT_EQUAL(write(fds[1], "ping", 4), 4);
	for (int i = 0; i < 10 && x.bytes < 4; i++) {
		CU_ASSERT_EQUAL(epoll_wait_retried(ep, 2000), 1);
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
	}
	T_EQUALS_STR(in, "ping");
	CU_ASSERT_EQUAL(epoll_wait_retried(ep, 100), 0);  /* quiet again */
	/* A send's completion wakes the loop too. */
	CU_ASSERT_EQUAL(rope_snapshot(out, &s), 0);
	CU_ASSERT_EQUAL(rope_uring_send(u, fds[0], s, 0, SIZE_MAX, 0, record,
					&sent), 0);
	rope_snap_unref(s);
	CU_ASSERT(rope_uring_run(u, 0) >= 0);
	for (int i = 0; i < 10 && !sent.calls; i++) {
		CU_ASSERT_EQUAL(epoll_wait_retried(ep, 2000), 1);
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
	}
	CU_ASSERT_EQUAL(sent.result, 4);
	CU_ASSERT_EQUAL(read(fds[1], buf, sizeof(buf)), 4);
	CU_ASSERT(memcmp(buf, "pong", 4) == 0);
	CU_ASSERT_EQUAL(rope_uring_cancel(u, fds[0]), 0);
	rope_uring_free(u);
	rope_free(in);
	rope_free(out);
	close(ep);
	close(fds[0]);
	close(fds[1]);
}

/* Pause and resume: nothing is read while paused, nothing is lost. */
static void
test_engine_server_recv_pause_and_resume(void)
{
	struct rope_uring *u = t_engine();
	struct rope *r = rope_new();
	struct t_received x = { 0 };
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	CU_ASSERT_EQUAL(rope_uring_recv_pause(u, fds[0]), -ENOENT);
	CU_ASSERT_EQUAL(rope_uring_recv_pause(NULL, fds[0]), -EINVAL);
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], r, t_on_recv, &x), 0);
	CU_ASSERT_EQUAL(rope_uring_run(u, 0), 0);
	CU_ASSERT_EQUAL(rope_uring_recv_pause(u, fds[0]), 0);
	CU_ASSERT_EQUAL(rope_uring_run(u, 0), 0);
	CU_ASSERT_EQUAL(write(fds[1], "later", 5), 5);
	for (int i = 0; i < 100; i++) {
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
		usleep(1000);
	}
	CU_ASSERT_EQUAL(rope_size(r), 0);
	CU_ASSERT_FALSE(x.ended);
	CU_ASSERT_EQUAL(rope_uring_recv_resume(u, fds[0]), 0);
	while (x.bytes < 5 && rope_uring_run(u, 1) >= 0)
		;
	T_EQUALS_STR(r, "later");
	close(fds[1]);
	while (!x.ended && rope_uring_run(u, 1) >= 0)
		;
	CU_ASSERT_EQUAL(x.end, 0);
	rope_uring_free(u);
	rope_free(r);
	close(fds[0]);
}

/* A high-water mark: the rope stops growing near it while the peer has
 * more to send, and reading goes on as it is drained. */
static void
test_engine_server_recv_limit(void)
{
	size_t len = 16u << 20, limit = 100000, got = 0, peak = 0;
	struct rope_uring *u = t_engine();
	struct rope *r = rope_new();
	struct t_source src = { .len = len, .max_piece = 100000 };
	struct t_received x = { 0 };
	uint8_t *seen = malloc(len);
	pthread_t t;
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	src.data = malloc(len);
	t_pattern(src.data, len, 23);
	src.fd = fds[1];
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], r, t_on_recv, &x), 0);
	CU_ASSERT_EQUAL(rope_uring_recv_limit(u, fds[0], limit), 0);
	pthread_create(&t, NULL, t_source_run, &src);
	while (!x.ended) {
		size_t n;

		/* Let it fill up to the limit and stall there... */
		for (int i = 0; i < 20; i++) {
			CU_ASSERT(rope_uring_run(u, 0) >= 0);
			usleep(200);
		}
		n = rope_size(r);
		peak = MAX(peak, n);
		/* ...then consume, as a parser would. */
		if (got + n > len)
			break;
		CU_ASSERT_EQUAL(rope_read(r, seen + got, n), (ssize_t)n);
		rope_drain(r, n);
		got += n;
	}
	got += (size_t)rope_read(r, seen + got, len - got);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(x.end, 0);
	CU_ASSERT_EQUAL(got, len);
	CU_ASSERT(got == len && memcmp(seen, src.data, len) == 0);
	/* The fallback passes the mark by one read at most; io_uring by
	 * what its shared buffers held when it noticed. */
	CU_ASSERT(peak >= limit);
	CU_ASSERT(peak < limit + (t_fallback_arm ? 256u << 10 : 4u << 20));
	printf("  [limit %zu: the rope peaked at %zu]\n", limit, peak);
	rope_uring_free(u);
	rope_free(r);
	free(seen);
	free(src.data);
	close(fds[0]);
}

struct echo {
	struct rope_uring *u;
	int fd;
	struct rope *in;
	struct outcome sent;
	bool heard;
};

/* The receive's callback answers at once, as a server's does. */
static void
echo_on_data(void *arg, ssize_t n)
{
	struct echo *e = arg;
	struct rope_snap *s;

	if (n <= 0)
		return;
	e->heard = true;
	CU_ASSERT_EQUAL(rope_snapshot(e->in, &s), 0);
	CU_ASSERT_EQUAL(rope_uring_send(e->u, e->fd, s, 0, SIZE_MAX, 0,
					record, &e->sent), 0);
	rope_snap_unref(s);
	rope_drain(e->in, (size_t)n);
}

/* Work a callback queues starts in the run that called it: a loop that
 * runs the engine only when its fd turns readable must not stall. */
static void
test_engine_server_callback_work_starts_in_the_same_run(void)
{
	struct rope_uring *u = t_engine();
	struct echo e = { .u = u, .in = rope_new() };
	struct epoll_event ev = { .events = EPOLLIN };
	struct pollfd p = { .events = POLLIN };
	int fds[2], ep = epoll_create1(0);
	char buf[8];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	e.fd = fds[0];
	p.fd = fds[1];
	CU_ASSERT_EQUAL(epoll_ctl(ep, EPOLL_CTL_ADD, rope_uring_fd(u), &ev),
			0);
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], e.in, echo_on_data, &e),
			0);
	CU_ASSERT_EQUAL(rope_uring_run(u, 0), 0);
	CU_ASSERT_EQUAL(write(fds[1], "ping", 4), 4);
	for (int i = 0; i < 10 && !e.heard; i++) {
		CU_ASSERT_EQUAL(epoll_wait_retried(ep, 2000), 1);
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
	}
	CU_ASSERT(e.heard);
	/* No more runs: the answer must be on its way already. */
	CU_ASSERT_EQUAL(poll(&p, 1, 2000), 1);
	CU_ASSERT_EQUAL(read(fds[1], buf, sizeof(buf)), 4);
	CU_ASSERT(memcmp(buf, "ping", 4) == 0);
	CU_ASSERT_EQUAL(rope_uring_cancel(u, fds[0]), 0);
	rope_uring_free(u);
	rope_free(e.in);
	close(ep);
	close(fds[0]);
	close(fds[1]);
}

struct closer {
	struct rope_uring *u;
	int fd;
	int calls;
	ssize_t result;
};

/* A send's callback that closes its connection, as servers do. */
static void
close_on_sent(void *arg, ssize_t result)
{
	struct closer *c = arg;

	c->calls++;
	c->result = result;
	CU_ASSERT_EQUAL(rope_uring_cancel(c->u, c->fd), 0);
}

/* rope_uring_cancel() from a callback, with a receive on the same socket
 * in the watch set (or the ring) of the very run that calls it. */
static void
test_engine_server_cancel_from_a_callback(void)
{
	struct rope_uring *u = t_engine();
	struct rope *in = rope_new(), *out = t_rope_from("bye");
	struct t_received x = { 0 };
	struct rope_snap *s;
	struct closer c = { .u = u };
	char buf[8];
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	c.fd = fds[0];
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], in, t_on_recv, &x), 0);
	CU_ASSERT_EQUAL(rope_snapshot(out, &s), 0);
	CU_ASSERT_EQUAL(rope_uring_send(u, fds[0], s, 0, SIZE_MAX, 0,
					close_on_sent, &c), 0);
	rope_snap_unref(s);
	/* Bytes to read in the same run, so the receive is polled. */
	CU_ASSERT_EQUAL(write(fds[1], "hi", 2), 2);
	for (int i = 0; i < 100 && !x.ended; i++)
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
	CU_ASSERT_EQUAL(c.calls, 1);
	CU_ASSERT_EQUAL(c.result, 3);
	CU_ASSERT(x.ended);
	CU_ASSERT_EQUAL(x.end, -ECANCELED);
	CU_ASSERT_EQUAL(read(fds[1], buf, sizeof(buf)), 3);
	close(fds[0]);
	/* The socket is closed for good. (In the fallback "hi" may still be
	 * unread in it, and closing a Unix socket with unread bytes resets
	 * the peer instead of ending its stream.) */
	{
		struct pollfd p = { .fd = fds[1], .events = POLLIN };
		ssize_t n = -1;

		CU_ASSERT_EQUAL(poll(&p, 1, 2000), 1);
		n = read(fds[1], buf, 1);
		CU_ASSERT(n == 0 || (n < 0 && errno == ECONNRESET));
	}
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	rope_uring_free(u);
	rope_free(in);
	rope_free(out);
	close(fds[1]);
}

/* A deadline per send: a peer that never reads gets -ETIMEDOUT, a send
 * behind it on the same socket too, one to a reader is unaffected, and
 * rope_uring_free() gives up on such a peer instead of waiting forever. */
static void
test_engine_server_send_timeout(void)
{
	size_t big = 8u << 20;
	uint8_t *data = malloc(big), got[100];
	struct rope_uring *u = t_engine();
	struct rope *r = rope_new();
	struct outcome stuck = { 0 }, behind = { 0 }, fine = { 0 },
		       at_free = { 0 };
	struct rope_snap *s;
	int fx[2], fy[2];
	double t0;

	t_pattern(data, big, 9);
	CU_ASSERT_EQUAL(rope_write(r, data, big), (ssize_t)big);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fx), 0);
	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fy), 0);
	CU_ASSERT_EQUAL(rope_uring_set_send_timeout(NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_uring_set_send_timeout(u, 200), 0);
	CU_ASSERT_EQUAL(rope_uring_send(u, fx[0], s, 0, SIZE_MAX, 0, record,
					&stuck), 0);
	CU_ASSERT_EQUAL(rope_uring_send(u, fx[0], s, 0, 10, 0, record,
					&behind), 0);
	CU_ASSERT_EQUAL(rope_uring_send(u, fy[0], s, 0, sizeof(got), 0,
					record, &fine), 0);
	t0 = t_now();
	while ((!stuck.calls || !behind.calls || !fine.calls) &&
	       rope_uring_run(u, 1) >= 0)
		;
	CU_ASSERT_EQUAL(fine.result, (ssize_t)sizeof(got));
	CU_ASSERT_EQUAL(stuck.result, -ETIMEDOUT);
	/* The one behind it started after it, and had no reader either:
	 * its own deadline, or its bytes went (10 fit in the buffer). */
	CU_ASSERT(behind.result == -ETIMEDOUT || behind.result == 10);
	CU_ASSERT(t_now() - t0 >= 0.2 && t_now() - t0 < 10);
	CU_ASSERT_EQUAL(read(fy[1], got, sizeof(got)), (ssize_t)sizeof(got));
	CU_ASSERT(memcmp(got, data, sizeof(got)) == 0);
	/* Freeing with a send stuck on a peer that never reads. */
	CU_ASSERT_EQUAL(rope_uring_send(u, fy[0], s, 0, SIZE_MAX, 0, record,
					&at_free), 0);
	rope_uring_free(u);
	CU_ASSERT_EQUAL(at_free.calls, 1);
	CU_ASSERT_EQUAL(at_free.result, -ETIMEDOUT);
	rope_snap_unref(s);
	rope_free(r);
	free(data);
	close(fx[0]);
	close(fx[1]);
	close(fy[0]);
	close(fy[1]);
}

/* ------------------------------------------------------------------------ */
/* Receive memory: the per-receive report and its bounds                    */
/* ------------------------------------------------------------------------ */

/* The figures of the receive on @fd (asserted to exist). */
static struct rope_uring_recv_stats
recv_stats(struct rope_uring *u, int fd)
{
	struct rope_uring_recv_stats st;

	memset(&st, 0, sizeof(st));
	CU_ASSERT_EQUAL(rope_uring_recv_stats(u, fd, &st, sizeof(st)), 0);
	return st;
}

/* Cancel the receives of the first @n socket pairs, free @u, their ropes
 * and the sockets. */
static void
receivers_end(struct rope_uring *u, int n, int fds[][2], struct rope **r)
{
	for (int i = 0; i < n; i++)
		CU_ASSERT_EQUAL(rope_uring_cancel(u, fds[i][0]), 0);
	rope_uring_free(u);
	for (int i = 0; i < n; i++) {
		rope_free(r[i]);
		close(fds[i][0]);
		close(fds[i][1]);
	}
}

/*
 * The report: bytes received equal bytes sent and were either adopted or
 * copied (io_uring) or read straight into the rope (the fallback); the
 * rope got at most twice the adopted bytes as buffer memory; pause shows;
 * bad arguments, and an fd without a receive, are refused; a smaller
 * size writes only the whole fields it covers.
 */
static void
test_engine_server_recv_stats_report(void)
{
	size_t len = 300000;
	struct rope_uring *u = t_engine();
	struct rope *r = rope_new();
	struct t_source src = { .len = len, .max_piece = 40000 };
	struct t_received x = { 0 };
	struct bytes_at_least w = { &x, len, false };
	struct rope_uring_recv_stats st;
	uint8_t raw[sizeof(st)];
	pthread_t t;
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	CU_ASSERT_EQUAL(rope_uring_recv_stats(u, fds[0], &st, sizeof(st)),
			-ENOENT);
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], r, t_on_recv, &x), 0);
	CU_ASSERT_EQUAL(rope_uring_recv_stats(NULL, fds[0], &st, sizeof(st)),
			-EINVAL);
	CU_ASSERT_EQUAL(rope_uring_recv_stats(u, fds[0], NULL, sizeof(st)),
			-EINVAL);
	CU_ASSERT_EQUAL(rope_uring_recv_stats(u, -1, &st, sizeof(st)),
			-EINVAL);
	CU_ASSERT_EQUAL(rope_uring_recv_stats(u, fds[0], &st, 7), -EINVAL);
	CU_ASSERT_EQUAL(rope_uring_recv_stats(u, fds[1], &st, sizeof(st)),
			-ENOENT);
	src.data = malloc(len);
	t_pattern(src.data, len, 5);
	/* The peer does not close: the receive must still be there. */
	src.fd = dup(fds[1]);
	pthread_create(&t, NULL, t_source_run, &src);
	run_until_received(u, &w, 10);
	pthread_join(t, NULL);
	CU_ASSERT(w.done);
	st = recv_stats(u, fds[0]);
	CU_ASSERT_EQUAL(st.received, len);
	CU_ASSERT_EQUAL(st.received, x.bytes);
	CU_ASSERT(t_equals(r, src.data, len));
	CU_ASSERT_EQUAL(st.waiting, 0);
	CU_ASSERT_EQUAL(st.held, 0);
	CU_ASSERT(st.completions >= 1 && st.completions <= len);
	CU_ASSERT_EQUAL(st.flags, 0);
	if (rope_uring_is_fallback(u)) {
		/* readv into the rope's room first, the rest adopted or
		 * copied as the ring's buffers are. */
		CU_ASSERT(st.adopted + st.copied <= len);
		CU_ASSERT_EQUAL(st.pool, 0);
	} else {
		CU_ASSERT_EQUAL(st.adopted + st.copied, len);
		CU_ASSERT(st.pool > 0);
	}
	/* Adopted only when at least half full. */
	CU_ASSERT(st.adopted_mem <= 2 * st.adopted);
	printf("  [%llu bytes: %llu adopted in %llu B of buffers, %llu "
	       "copied, %llu completions, %llu without a buffer]\n",
	       (unsigned long long)st.received,
	       (unsigned long long)st.adopted,
	       (unsigned long long)st.adopted_mem,
	       (unsigned long long)st.copied,
	       (unsigned long long)st.completions,
	       (unsigned long long)st.nobufs);
	CU_ASSERT_EQUAL(rope_uring_recv_pause(u, fds[0]), 0);
	CU_ASSERT_EQUAL(recv_stats(u, fds[0]).flags, ROPE_URING_RECV_PAUSED);
	CU_ASSERT_EQUAL(rope_uring_recv_resume(u, fds[0]), 0);
	CU_ASSERT_EQUAL(rope_uring_recv_limit(u, fds[0], 1000), 0);
	CU_ASSERT_EQUAL(recv_stats(u, fds[0]).flags, ROPE_URING_RECV_LIMITED);
	/* A struct of one field and a half gets the one field. */
	memset(raw, 0xa5, sizeof(raw));
	CU_ASSERT_EQUAL(rope_uring_recv_stats(u, fds[0], (void *)raw, 12), 0);
	memcpy(&st.received, raw, sizeof(st.received));
	CU_ASSERT_EQUAL(st.received, len);
	for (size_t i = sizeof(st.received); i < sizeof(raw); i++)
		CU_ASSERT_EQUAL(raw[i], 0xa5);
	/* Cancelled: ending until its final callback has run, then gone. */
	CU_ASSERT_EQUAL(rope_uring_cancel(u, fds[0]), 0);
	CU_ASSERT(recv_stats(u, fds[0]).flags & ROPE_URING_RECV_ENDING);
	run_until(u, &x.ended, 5);
	CU_ASSERT_EQUAL(x.end, -ECANCELED);
	CU_ASSERT_EQUAL(rope_uring_recv_stats(u, fds[0], &st, sizeof(st)),
			-ENOENT);
	rope_uring_free(u);
	rope_free(r);
	free(src.data);
	close(fds[0]);
	close(fds[1]);
}

/*
 * Bytes that arrive while the rope is exported wait in the engine, and the
 * report says so; small fills are packed, so what is held is about the
 * bytes, not a 16 KiB buffer per fill. Released, the rope takes them and
 * nothing is held any more. The fallback holds nothing: it leaves the
 * bytes in the socket.
 */
static void
test_engine_server_recv_stats_held_while_exported(void)
{
	enum { FILLS = 300, FILL = 100 };
	struct rope_uring *u = t_engine();
	struct rope *r = t_rope_from("A");
	struct t_received x = { 0 };
	struct bytes_at_least w = { &x, FILLS * FILL, false };
	struct rope_uring_recv_stats st;
	struct iovec iov[1];
	uint8_t *data = malloc(1 + FILLS * FILL);
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	data[0] = 'A';
	t_pattern(data + 1, FILLS * FILL, 11);
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], r, t_on_recv, &x), 0);
	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 1), 1);
	/* One small write per run: each its own completion. */
	for (int i = 0; i < FILLS; i++) {
		CU_ASSERT_EQUAL(write(fds[1], data + 1 + i * FILL, FILL),
				FILL);
		for (int k = 0; k < 3; k++) {
			CU_ASSERT(rope_uring_run(u, 0) >= 0);
			usleep(100);
		}
	}
	st = recv_stats(u, fds[0]);
	CU_ASSERT_EQUAL(st.received, 0);
	CU_ASSERT_EQUAL(x.bytes, 0);
	if (rope_uring_is_fallback(u)) {
		CU_ASSERT_EQUAL(st.waiting, 0);
		CU_ASSERT_EQUAL(st.held, 0);
	} else {
		CU_ASSERT_EQUAL(st.waiting, FILLS * FILL);
		CU_ASSERT(st.held > 0);
		/* Packed: within one buffer of the bytes (a buffer per fill
		 * would be 4.9 MB, or 1 MiB once the socket stops). */
		CU_ASSERT(st.held <= st.waiting + 16384);
		/* More fills than the 64 buffers that once stopped it. */
		CU_ASSERT(st.completions > 64);
	}
	printf("  [%llu bytes waiting in %llu completions: %llu B held]\n",
	       (unsigned long long)st.waiting,
	       (unsigned long long)st.completions,
	       (unsigned long long)st.held);
	CU_ASSERT_EQUAL(rope_releasebuffer(r), 0);
	run_until_received(u, &w, 10);
	CU_ASSERT(w.done);
	CU_ASSERT(t_equals(r, data, 1 + FILLS * FILL));
	st = recv_stats(u, fds[0]);
	CU_ASSERT_EQUAL(st.received, FILLS * FILL);
	CU_ASSERT_EQUAL(st.waiting, 0);
	CU_ASSERT_EQUAL(st.held, 0);
	CU_ASSERT_EQUAL(rope_uring_cancel(u, fds[0]), 0);
	rope_uring_free(u);
	rope_free(r);
	free(data);
	close(fds[0]);
	close(fds[1]);
}

struct spray {
	int *fds;
	int n;
	size_t each, piece;
};

/* Writes @each bytes to every fd, @piece at a time, round robin. */
static void *
spray_run(void *arg)
{
	struct spray *sp = arg;
	uint8_t *buf = malloc(sp->piece);
	size_t *sent = calloc((size_t)sp->n, sizeof(*sent));
	int left = sp->n;

	memset(buf, 'm', sp->piece);
	while (left) {
		for (int i = 0; i < sp->n; i++) {
			size_t n = MIN(sp->piece, sp->each - sent[i]);
			ssize_t got;

			if (!n)
				continue;
			got = write(sp->fds[i], buf, n);
			if (got > 0)
				sent[i] += (size_t)got;
			left -= sent[i] == sp->each;
		}
	}
	free(buf);
	free(sent);
	return NULL;
}

/*
 * 200 connections of 100 KB each, sent 16 KiB at a time: the memory the
 * library counts once everything is in the ropes is at most 1.5 times the
 * bytes, beside the shared pool (adopting every buffer a quarter full and
 * doubling the rope's next chunk with each made it 2x), and the pool grew
 * to at most two buffers per receiver.
 */
static void
test_engine_server_recv_memory_many_connections(void)
{
	enum { N = 200 };
	size_t each = 100000, before, used, pool = 0;
	struct rope_uring *u = t_engine();
	struct rope *r[N];
	struct t_received x[N];
	struct spray sp = { .n = N, .each = each, .piece = 16384 };
	int fds[N][2], writers[N], full = 0;
	uint64_t adopted = 0, adopted_mem = 0, received = 0;
	pthread_t t;

	memset(x, 0, sizeof(x));
	rope_cache_trim();
	before = t_mem_now();
	for (int i = 0; i < N; i++) {
		CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds[i]), 0);
		writers[i] = fds[i][1];
		r[i] = rope_new();
		CU_ASSERT_EQUAL(rope_uring_recv(u, fds[i][0], r[i], t_on_recv,
						&x[i]), 0);
	}
	sp.fds = writers;
	pthread_create(&t, NULL, spray_run, &sp);
	for (double end = t_now() + 30; full < N && t_now() < end;) {
		CU_ASSERT(rope_uring_run(u, 1) >= 0);
		full = 0;
		for (int i = 0; i < N; i++)
			full += x[i].bytes == each;
	}
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(full, N);
	used = t_mem_now() - before;
	for (int i = 0; i < N; i++) {
		struct rope_uring_recv_stats st = recv_stats(u, fds[i][0]);

		received += st.received;
		adopted += st.adopted;
		adopted_mem += st.adopted_mem;
		pool = st.pool;
	}
	CU_ASSERT_EQUAL(received, (uint64_t)N * each);
	CU_ASSERT(adopted_mem <= 2 * adopted);
	CU_ASSERT(pool <= 2 * N * 16384);
	CU_ASSERT(used <= pool + (size_t)(1.5 * N * each));
	printf("  [%d x %zu B: %.2fx of the bytes counted, beside a pool of "
	       "%zu KiB]\n", N, each, (double)(used - pool) / (N * each),
	       pool >> 10);
	receivers_end(u, N, fds, r);
}

/* A keep-alive request on each of the first @n sockets, then run @u until
 * all of them are heard (@round requests in all on each) or 10 s passed;
 * returns how many were heard. */
static int
pool_round(struct rope_uring *u, int n, int fds[][2],
	   const struct t_received *x, int round)
{
	static const char msg[] = "GET / HTTP/1.1\r\n\r\n";
	int heard = 0;

	for (int i = 0; i < n; i++)
		CU_ASSERT_EQUAL(write(fds[i][1], msg, 18), 18);
	for (double end = t_now() + 10; heard < n && t_now() < end;) {
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
		heard = 0;
		for (int i = 0; i < n; i++)
			heard += x[i].bytes == (uint64_t)round * 18;
	}
	return heard;
}

/*
 * Many sockets with a message each at once, round after round, as a
 * keep-alive server sees them: after the first rounds the pool has grown,
 * and no receive finds it empty any more (with a fixed 64 buffers three
 * in four completions were -ENOBUFS, each costing its socket a round).
 */
static void
test_engine_server_recv_pool_grows_with_receivers(void)
{
	enum { N = 300, ROUNDS = 8 };
	struct rope_uring *u = t_engine();
	struct rope *r[N];
	struct t_received x[N];
	int fds[N][2];
	uint64_t nobufs_late = 0;

	receivers_start(u, N, fds, r, x);
	for (int round = 1; round <= ROUNDS; round++) {
		uint64_t nobufs = 0;

		CU_ASSERT_EQUAL(pool_round(u, N, fds, x, round), N);
		for (int i = 0; i < N; i++)
			nobufs += recv_stats(u, fds[i][0]).nobufs;
		if (round == ROUNDS / 2)
			nobufs_late = nobufs;
		if (round == ROUNDS)
			nobufs_late = nobufs - nobufs_late;
	}
	/* The last half of the rounds: no receive found the pool empty. */
	CU_ASSERT_EQUAL(nobufs_late, 0);
	CU_ASSERT(recv_stats(u, fds[0][0]).pool <= 2 * N * 16384u);
	printf("  [-ENOBUFS in the last %d rounds: %llu]\n", ROUNDS / 2,
	       (unsigned long long)nobufs_late);
	receivers_end(u, N, fds, r);
}

/*
 * The pool gives back what a burst of receivers made it grow to: 300
 * sockets grow it to two buffers each, then all but 5 are cancelled, and
 * as the last 5 go on receiving the buffers the kernel hands back beyond
 * the 16 the pool keeps are freed (the ring cannot be asked to give back
 * those it holds, so it takes traffic: one buffer per arrival here). The
 * pool used to stay at its largest until rope_uring_free().
 */
static void
test_engine_server_recv_pool_shrinks_when_receivers_leave(void)
{
	enum { N = 300, KEPT = 5, GROW_ROUNDS = 4 };
	struct rope_uring *u = t_engine();
	struct rope_mem_stats mem;
	struct rope *r[N];
	struct t_received x[N];
	int fds[N][2], rounds = 0;
	uint64_t grown, pool, allocated_grown;

	receivers_start(u, N, fds, r, x);
	for (int round = 1; round <= GROW_ROUNDS; round++)
		CU_ASSERT_EQUAL(pool_round(u, N, fds, x, round), N);
	grown = recv_stats(u, fds[0][0]).pool;
	for (int i = KEPT; i < N; i++) {
		CU_ASSERT_EQUAL(rope_uring_cancel(u, fds[i][0]), 0);
		close(fds[i][0]);
		close(fds[i][1]);
	}
	CU_ASSERT(rope_uring_run(u, 0) >= 0);
	for (int i = KEPT; i < N; i++)
		rope_free(r[i]);
	CU_ASSERT_EQUAL(rope_mem_stats(&mem, sizeof(mem)), 0);
	allocated_grown = mem.allocated;
	pool = grown;
	while (pool > 16 * 16384u && rounds < 1000) {
		rounds++;
		CU_ASSERT_EQUAL_FATAL(pool_round(u, KEPT, fds, x,
						 GROW_ROUNDS + rounds), KEPT);
		for (int i = 0; i < KEPT; i++) {
			int64_t size = (int64_t)rope_size(r[i]);

			CU_ASSERT_EQUAL(rope_drain(r[i], size), size);
		}
		pool = recv_stats(u, fds[0][0]).pool;
	}
	CU_ASSERT_EQUAL(rope_mem_stats(&mem, sizeof(mem)), 0);
	printf("  [pool %llu KiB after %d receivers, %llu KiB after %d rounds "
	       "of %d; allocated %lld KiB less]\n",
	       (unsigned long long)grown >> 10, N,
	       (unsigned long long)pool >> 10, rounds, KEPT,
	       ((long long)allocated_grown - (long long)mem.allocated) >> 10);
	if (!t_fallback_arm) {
		CU_ASSERT(grown >= 256 * 16384u);
		CU_ASSERT(pool <= 16 * 16384u);
		/* The buffers' memory went back, not only the count. */
		CU_ASSERT(mem.allocated + (grown - pool) / 2 <= allocated_grown);
	} else {
		CU_ASSERT_EQUAL(grown, 0);  /* no pool: plain reads */
	}
	receivers_end(u, KEPT, fds, r);
}

static const struct t_test tests[] = {
	{ "callback_work_starts_in_the_same_run",
	  test_engine_server_callback_work_starts_in_the_same_run },
	{ "cancel_from_a_callback", test_engine_server_cancel_from_a_callback },
	{ "cancel_then_close", test_engine_server_cancel_then_close },
	{ "closed_rope_ends_its_receive",
	  test_engine_server_closed_rope_ends_its_receive },
	{ "fd_in_an_epoll_loop", test_engine_server_fd_in_an_epoll_loop },
	{ "hundred_receivers", test_engine_server_hundred_receivers },
	{ "peer_that_stops_reading",
	  test_engine_server_peer_that_stops_reading },
	{ "recv_limit", test_engine_server_recv_limit },
	{ "recv_memory_many_connections",
	  test_engine_server_recv_memory_many_connections },
	{ "recv_pause_and_resume", test_engine_server_recv_pause_and_resume },
	{ "recv_pool_grows_with_receivers",
	  test_engine_server_recv_pool_grows_with_receivers },
	{ "recv_pool_shrinks_when_receivers_leave",
	  test_engine_server_recv_pool_shrinks_when_receivers_leave },
	{ "recv_stats_held_while_exported",
	  test_engine_server_recv_stats_held_while_exported },
	{ "recv_stats_report", test_engine_server_recv_stats_report },
	{ "refusing_rope_stalls_no_other",
	  test_engine_server_refusing_rope_stalls_no_other },
	{ "reused_descriptor_number",
	  test_engine_server_reused_descriptor_number },
	{ "send_and_receive_on_one_socket",
	  test_engine_server_send_and_receive_on_one_socket },
	{ "send_timeout", test_engine_server_send_timeout },
	{ "wake_ends_a_waiting_run", test_engine_server_wake_ends_a_waiting_run },
};

int
main(void)
{
	return t_run_engine_arms(tests, ARRAY_SIZE(tests), 240);
}
