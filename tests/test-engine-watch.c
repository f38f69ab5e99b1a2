/* SPDX-License-Identifier: MIT */
/*
 * An event loop that waits on rope_uring_fd() and calls
 * rope_uring_run(u, 0) when it is readable, in both arms: it must be woken
 * for every receive that can go on, including those a callback let go on
 * with no engine call to say so (a rope drained below its limit, an export
 * released), and never by a socket the engine has let go of (stopped,
 * then closed by rope_uring_close() while a dup(2) of it lives on).
 *
 * On the fallback rope_uring_fd() is the epoll set the engine waits on,
 * kept by changes (src/uring-watch.c); each case here once failed there.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "engine-arms.h"

/* The caller's loop: wait up to 100 ms for rope_uring_fd(), run what is
 * ready, until *@bytes reaches @want or 50 waits passed. */
static void
loop_until(struct rope_uring *u, const uint64_t *bytes, uint64_t want)
{
	struct pollfd p = { .fd = rope_uring_fd(u), .events = POLLIN };

	for (int i = 0; i < 50 && *bytes < want; i++) {
		int n = poll(&p, 1, 100);

		if (n > 0) {
			CU_ASSERT(rope_uring_run(u, 0) >= 0);
		} else if (n < 0) {
			CU_ASSERT_EQUAL(errno, EINTR);
		}
	}
}

/* End the receives on @a and @b (-1: none) with rope_uring_close(),
 * closing them, run until nothing is pending, and free @u. */
static void
close_and_free(struct rope_uring *u, int a, int b)
{
	CU_ASSERT_EQUAL(rope_uring_close(u, a, ROPE_URING_CLOSE_FD, NULL, NULL),
			0);
	if (b >= 0)
		CU_ASSERT_EQUAL(rope_uring_close(u, b, ROPE_URING_CLOSE_FD,
						 NULL, NULL), 0);
	while (rope_uring_pending(u) && rope_uring_run(u, 1) > 0)
		;
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	rope_uring_free(u);
}

/* ------------------------------------------------------------------------ */
/* A rope at its limit, drained by its own callback                         */
/* ------------------------------------------------------------------------ */

struct draining {
	struct t_received x;
	struct rope *r;
};

static void
drain_cb(void *arg, ssize_t n)
{
	struct draining *d = arg;

	t_on_recv(&d->x, n);
	if (n > 0)
		CU_ASSERT(rope_drain(d->r, rope_size(d->r)) >= 0);
}

static void
test_watch_limit_drained_by_its_callback(void)
{
	struct rope_uring *u = t_engine();
	struct draining d = { .r = rope_new() };
	char buf[100];
	int sv[2];

	memset(buf, 'x', sizeof(buf));
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CU_ASSERT_EQUAL(rope_uring_recv(u, sv[0], d.r, drain_cb, &d), 0);
	CU_ASSERT_EQUAL(rope_uring_recv_limit(u, sv[0], 10), 0);
	CU_ASSERT(rope_uring_fd(u) >= 0);
	CU_ASSERT(rope_uring_run(u, 0) >= 0);
	CU_ASSERT_EQUAL(write(sv[1], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	loop_until(u, &d.x.bytes, 100);
	CU_ASSERT_EQUAL(d.x.bytes, 100);
	/* The callback drained the rope below its limit: the next bytes
	 * must wake the loop. */
	CU_ASSERT_EQUAL(write(sv[1], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	loop_until(u, &d.x.bytes, 200);
	CU_ASSERT_EQUAL(d.x.bytes, 200);
	close_and_free(u, sv[0], -1);
	rope_free(d.r);
	close(sv[1]);
}

/* ------------------------------------------------------------------------ */
/* An export released by another receive's callback                         */
/* ------------------------------------------------------------------------ */

struct releaser {
	struct t_received x;
	struct rope *exported;
	bool released;
};

static void
release_cb(void *arg, ssize_t n)
{
	struct releaser *rl = arg;

	t_on_recv(&rl->x, n);
	if (n > 0 && !rl->released) {
		CU_ASSERT_EQUAL(rope_releasebuffer(rl->exported), 0);
		rl->released = true;
	}
}

static void
test_watch_export_released_by_a_callback(void)
{
	struct rope_uring *u = t_engine();
	struct rope *a = t_rope_from("hdr"), *b = rope_new();
	struct releaser rl = { .exported = a };
	struct t_received xa = { 0 };
	struct iovec iov[4];
	int sa[2], sb[2];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sa), 0);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sb), 0);
	CU_ASSERT(rope_getbuffer(a, iov, 4) > 0);  /* a refuses bytes */
	CU_ASSERT_EQUAL(rope_uring_recv(u, sa[0], a, t_on_recv, &xa), 0);
	CU_ASSERT_EQUAL(rope_uring_recv(u, sb[0], b, release_cb, &rl), 0);
	CU_ASSERT(rope_uring_run(u, 0) >= 0);
	CU_ASSERT_EQUAL(write(sa[1], "aaaa", 4), 4);
	/* a's bytes are refused: a few wake-ups, nothing received. */
	for (int i = 0; i < 3; i++) {
		struct pollfd p = { .fd = rope_uring_fd(u), .events = POLLIN };

		if (poll(&p, 1, 50) > 0)
			CU_ASSERT(rope_uring_run(u, 0) >= 0);
	}
	CU_ASSERT_EQUAL(xa.bytes, 0);
	/* b's callback releases a's export: a's bytes must come without
	 * any other call. */
	CU_ASSERT_EQUAL(write(sb[1], "bbbb", 4), 4);
	loop_until(u, &xa.bytes, 4);
	CU_ASSERT(rl.released);
	CU_ASSERT_EQUAL(xa.bytes, 4);
	CU_ASSERT(t_equals(a, "hdraaaa", 7));
	close_and_free(u, sa[0], sb[0]);
	rope_free(a);
	rope_free(b);
	close(sa[1]);
	close(sb[1]);
}

/* ------------------------------------------------------------------------ */
/* A receive stopped, then its socket closed while a dup of it lives on     */
/* ------------------------------------------------------------------------ */

static void
on_closed(void *arg, ssize_t res)
{
	CU_ASSERT_EQUAL(res, 0);
	*(bool *)arg = true;
}

static void
test_watch_stopped_then_closed_with_a_dup_alive(void)
{
	struct rope_uring *u = t_engine();
	struct rope *old_r = rope_new(), *new_r = rope_new();
	struct t_received xo = { 0 }, xn = { 0 };
	struct pollfd p = { .events = POLLIN };
	bool closed = false;
	int sa[2], sb[2], dup_fd, num, busy = 0;

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sa), 0);
	num = sa[0];
	dup_fd = dup(num);  /* the open file outlives the number */
	CU_ASSERT_FATAL(dup_fd >= 0);
	p.fd = rope_uring_fd(u);
	CU_ASSERT_EQUAL(rope_uring_recv(u, num, old_r, t_on_recv, &xo), 0);
	CU_ASSERT(rope_uring_run(u, 0) >= 0);
	CU_ASSERT_EQUAL(rope_uring_recv_stop(u, num), 0);
	CU_ASSERT_EQUAL(rope_uring_close(u, num, ROPE_URING_CLOSE_FD, on_closed,
					 &closed), 0);
	for (int i = 0; i < 100 && !closed; i++)
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
	CU_ASSERT(closed);
	CU_ASSERT(xo.ended);
	/* The number comes back as a blocking socket that gets a receive. */
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sb), 0);
	CU_ASSERT_EQUAL(sb[0], num);
	CU_ASSERT_EQUAL(rope_uring_recv(u, sb[0], new_r, t_on_recv, &xn), 0);
	CU_ASSERT(rope_uring_run(u, 0) >= 0);
	/* The old peer writes into the file the dup keeps open: nothing may
	 * wake the loop for it, nor read the new socket for it (a blocking
	 * read there would never return). */
	CU_ASSERT_EQUAL(write(sa[1], "late", 4), 4);
	for (int i = 0; i < 200; i++)
		if (poll(&p, 1, 0) > 0) {
			busy++;
			CU_ASSERT(rope_uring_run(u, 0) >= 0);
		}
	CU_ASSERT(busy <= 10);
	CU_ASSERT_EQUAL(xn.bytes, 0);
	/* The new socket is received as any other. */
	CU_ASSERT_EQUAL(write(sb[1], "new", 3), 3);
	loop_until(u, &xn.bytes, 3);
	CU_ASSERT_EQUAL(xn.bytes, 3);
	CU_ASSERT(t_equals(new_r, "new", 3));
	close_and_free(u, sb[0], -1);
	rope_free(old_r);
	rope_free(new_r);
	close(dup_fd);
	close(sa[1]);
	close(sb[1]);
}

static const struct t_test tests[] = {
	{ "limit_drained_by_its_callback",
	  test_watch_limit_drained_by_its_callback },
	{ "export_released_by_a_callback",
	  test_watch_export_released_by_a_callback },
	{ "stopped_then_closed_with_a_dup_alive",
	  test_watch_stopped_then_closed_with_a_dup_alive },
};

int
main(void)
{
	return t_run_engine_arms(tests, ARRAY_SIZE(tests), 60);
}
