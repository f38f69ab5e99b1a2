/* SPDX-License-Identifier: MIT */
/*
 * rope_uring_close(), in both arms (io_uring and the fallback): one call
 * ends every request and the receive on a descriptor, closes it, and calls
 * back once, after every other callback for it, with the receive's final
 * figures readable from there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine-arms.h"

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

/* A connection's callbacks, numbered in the order they ran. */
struct conn {
	struct rope_uring *u;
	int fd;
	int counter;
	struct outcome send1, send2;
	struct t_received in;
	int in_end_order;
	/* the close callback */
	int closes;
	ssize_t close_result;
	int close_order;
	int stats_ret;
	struct rope_uring_recv_stats stats;
	bool closed;
	bool close_from_recv;
};

static void
conn_recv(void *arg, ssize_t n)
{
	struct conn *c = arg;

	t_on_recv(&c->in, n);
	if (n <= 0)
		c->in_end_order = c->counter++;
}

static void
conn_closed(void *arg, ssize_t result)
{
	struct conn *c = arg;

	c->closes++;
	c->close_result = result;
	c->close_order = c->counter++;
	c->stats_ret = rope_uring_recv_stats(c->u, c->fd, &c->stats,
					     sizeof(c->stats));
	c->closed = true;
}

static bool
fd_is_open(int fd)
{
	int saved = errno;
	bool open = fcntl(fd, F_GETFD) >= 0;

	errno = saved;
	return open;
}

static void
test_close_ends_everything_then_calls_back_once(void)
{
	const size_t len = 8u << 20;
	struct rope_uring *u = t_engine();
	struct rope *in = rope_new(), *out = rope_new();
	struct conn c = { .u = u };
	struct rope_snap *s;
	uint8_t *data = calloc(1, len);
	char buf[4096];
	int fds[2];
	ssize_t n;

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	c.fd = fds[0];
	c.send1.counter = c.send2.counter = &c.counter;
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], in, conn_recv, &c), 0);
	CU_ASSERT_EQUAL(write(fds[1], "request", 7), 7);
	for (int i = 0; i < 2000 && c.in.bytes < 7; i++) {
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
		usleep(500);
	}
	CU_ASSERT_EQUAL(c.in.bytes, 7);
	/* The peer does not read: the first send never ends by itself, the
	 * second waits behind it. */
	CU_ASSERT_EQUAL(rope_append(out, data, len), (ssize_t)len);
	CU_ASSERT_EQUAL(rope_snapshot(out, &s), 0);
	CU_ASSERT_EQUAL(rope_uring_send(u, fds[0], s, 0, SIZE_MAX, 0, record,
					&c.send1), 0);
	CU_ASSERT_EQUAL(rope_uring_send(u, fds[0], s, 0, 10, 0, record,
					&c.send2), 0);
	rope_snap_unref(s);
	CU_ASSERT(rope_uring_run(u, 0) >= 0);
	CU_ASSERT_EQUAL(rope_uring_close(u, fds[0], ROPE_URING_CLOSE_FD,
					 conn_closed, &c), 0);
	CU_ASSERT(!fd_is_open(fds[0]));
	CU_ASSERT_EQUAL(c.closes, 0);  /* from a later run */
	run_until(u, &c.closed, 5);
	CU_ASSERT_EQUAL(c.closes, 1);
	CU_ASSERT_EQUAL(c.close_result, 0);
	CU_ASSERT_EQUAL(c.send1.calls, 1);
	CU_ASSERT_EQUAL(c.send1.result, -ECANCELED);
	CU_ASSERT_EQUAL(c.send2.calls, 1);
	CU_ASSERT_EQUAL(c.send2.result, -ECANCELED);
	CU_ASSERT(c.in.ended);
	CU_ASSERT_EQUAL(c.in.end, -ECANCELED);
	/* Last of all, after every callback of the descriptor. */
	CU_ASSERT_EQUAL(c.close_order, 3);
	CU_ASSERT(c.send1.order < c.close_order);
	CU_ASSERT(c.send2.order < c.close_order);
	CU_ASSERT(c.in_end_order < c.close_order);
	/* The receive's final figures, from the close callback. */
	CU_ASSERT_EQUAL(c.stats_ret, 0);
	CU_ASSERT_EQUAL(c.stats.received, 7);
	CU_ASSERT(c.stats.flags & ROPE_URING_RECV_ENDING);
	T_EQUALS_STR(in, "request");
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	/* And the peer sees the end of the stream after what was sent. */
	t_set_nonblock(fds[1]);
	for (int i = 0; i < 4000; i++) {
		n = read(fds[1], buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0)
			usleep(500);
	}
	CU_ASSERT_EQUAL(n, 0);
	rope_uring_free(u);
	rope_free(in);
	rope_free(out);
	free(data);
	close(fds[1]);
}

static void
test_close_with_nothing_on_the_descriptor(void)
{
	struct rope_uring *u = t_engine();
	struct conn c = { .u = u };
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	c.fd = fds[0];
	CU_ASSERT_EQUAL(rope_uring_close(u, fds[0], ROPE_URING_CLOSE_FD,
					 conn_closed, &c), 0);
	CU_ASSERT(!fd_is_open(fds[0]));
	CU_ASSERT_EQUAL(rope_uring_pending(u), 1);
	CU_ASSERT_EQUAL(rope_uring_run(u, 1), 1);
	CU_ASSERT_EQUAL(c.closes, 1);
	CU_ASSERT_EQUAL(c.close_result, 0);
	CU_ASSERT_EQUAL(c.stats_ret, -ENOENT);
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	/* Without the flag the descriptor stays open. */
	CU_ASSERT_EQUAL(rope_uring_close(u, fds[1], 0, conn_closed, &c), 0);
	CU_ASSERT(fd_is_open(fds[1]));
	CU_ASSERT_EQUAL(rope_uring_run(u, 1), 1);
	CU_ASSERT_EQUAL(c.closes, 2);
	CU_ASSERT_EQUAL(rope_uring_close(NULL, 3, 0, NULL, NULL), -EINVAL);
	CU_ASSERT_EQUAL(rope_uring_close(u, -1, 0, NULL, NULL), -EINVAL);
	CU_ASSERT_EQUAL(rope_uring_close(u, fds[1], 0x10, NULL, NULL),
			-EINVAL);
	rope_uring_free(u);
	close(fds[1]);
}

/* The receive's data callback closes its own connection. */
static void
conn_recv_closes(void *arg, ssize_t n)
{
	struct conn *c = arg;

	conn_recv(arg, n);
	if (n > 0 && !c->close_from_recv) {
		c->close_from_recv = true;
		CU_ASSERT_EQUAL(rope_uring_close(c->u, c->fd,
						 ROPE_URING_CLOSE_FD,
						 conn_closed, c), 0);
	}
}

static void
test_close_from_the_receive_callback(void)
{
	struct rope_uring *u = t_engine();
	struct rope *in = rope_new();
	struct conn c = { .u = u };
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	c.fd = fds[0];
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], in, conn_recv_closes, &c),
			0);
	CU_ASSERT_EQUAL(write(fds[1], "bye", 3), 3);
	run_until(u, &c.closed, 5);
	CU_ASSERT_EQUAL(c.closes, 1);
	CU_ASSERT(c.in.ended);
	CU_ASSERT_EQUAL(c.in.end, -ECANCELED);
	CU_ASSERT(c.in_end_order < c.close_order);
	CU_ASSERT_EQUAL(c.stats_ret, 0);
	CU_ASSERT_EQUAL(c.stats.received, 3);
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	rope_uring_free(u);
	rope_free(in);
	close(fds[1]);
}

/* rope_uring_free() runs a close's callback that no run did. */
static void
test_close_then_free(void)
{
	struct rope_uring *u = t_engine();
	struct rope *in = rope_new();
	struct conn c = { .u = u };
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	c.fd = fds[0];
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], in, conn_recv, &c), 0);
	CU_ASSERT(rope_uring_run(u, 0) >= 0);
	CU_ASSERT_EQUAL(rope_uring_close(u, fds[0], ROPE_URING_CLOSE_FD,
					 conn_closed, &c), 0);
	rope_uring_free(u);
	CU_ASSERT_EQUAL(c.closes, 1);
	CU_ASSERT(c.in.ended);
	CU_ASSERT(c.in_end_order < c.close_order);
	rope_free(in);
	close(fds[1]);
}

static const struct t_test tests[] = {
	{ "ends_everything_then_calls_back_once",
	  test_close_ends_everything_then_calls_back_once },
	{ "from_the_receive_callback", test_close_from_the_receive_callback },
	{ "then_free", test_close_then_free },
	{ "with_nothing_on_the_descriptor",
	  test_close_with_nothing_on_the_descriptor },
};

int
main(void)
{
	return t_run_engine_arms(tests, ARRAY_SIZE(tests), 240);
}
