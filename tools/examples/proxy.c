/* SPDX-License-Identifier: MIT */
/*
 * proxy: a TCP proxy on ropeio's engine that forwards every byte without
 * copying it, the example to copy for relaying streams.
 *
 *     proxy ADDRESS PORT UPSTREAM_ADDRESS UPSTREAM_PORT
 *
 * Each connection accepted on ADDRESS PORT is paired with a new
 * connection to the upstream, and bytes flow both ways until both streams
 * have ended (an end of stream is passed on with shutdown(2), so
 * half-closed protocols work) or either side fails; then both sockets are
 * closed. Port 0 asks the kernel for a free port, printed on stdout.
 * SIGINT or SIGTERM ends it cleanly.
 *
 * The shape:
 *
 * - One epoll loop, as in http-server.c: the listening socket, a
 *   self-pipe for the signals, rope_uring_fd(), and the upstream
 *   connections still being set up (a non-blocking connect(2) says it is
 *   done by making the socket writable). rope_uring_run(u, 0) after every
 *   wake-up.
 * - Each direction is a flow. Its receive (rope_uring_recv()) appends to
 *   the rope @in; the callback hands what arrived over to the rope @out
 *   with rope_move(), which moves chunks, not bytes. One send per flow is
 *   in flight: a snapshot of @out (rope_uring_send()), after which @out is
 *   emptied; bytes that arrive meanwhile gather in @out and go together
 *   in the next send, once this one has completed.
 * - Back-pressure: while a flow holds FLOW_MAX bytes or more (its send's
 *   and those waiting in @out), its receive is paused
 *   (rope_uring_recv_pause()), so a fast sender waits on TCP flow control
 *   for a slow reader instead of growing our memory.
 * - Teardown: rope_uring_close() on each socket ends its receive and its
 *   send, closes it, and calls back once, after their last callbacks; the
 *   connection is freed after both sockets' calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ropeio-engine.h"

#define FLOW_MAX (1u << 20)     /* bytes a flow holds before it pauses */
#define SEND_TIMEOUT_MS 30000   /* a peer that stops reading is dropped */

struct conn;

/* One direction of a connection: read @from, write @to. */
struct flow {
	struct conn *conn;
	int from, to;
	struct rope *in;        /* what the receive appended */
	struct rope *out;       /* moved out of @in, for the next send */
	size_t sending;         /* bytes of the send in flight; 0: none */
	bool paused;            /* FLOW_MAX reached: not reading @from */
	bool ended;             /* @from's stream ended */
	bool shut;              /* ... and that end was passed on to @to */
};

struct conn {
	struct flow up, down;   /* client to upstream, and back */
	int client, upstream;
	int open;               /* sockets whose close has not called back */
	bool closing;           /* conn_close() was called */
	struct conn *prev, *next;
};

static struct rope_uring *u;
static struct conn *conns;      /* every connection not yet freed */
static struct sockaddr_storage upstream_addr;
static socklen_t upstream_len;
static int ep, sig_pipe[2];
static char listener, signals;  /* epoll tags beside the connections */

static void on_sent(void *arg, ssize_t result);

/* ------------------------------------------------------------------------ */
/* Connections                                                              */
/* ------------------------------------------------------------------------ */

/* One socket's last callback; the second one frees the connection. */
static void
conn_closed(void *arg, ssize_t result)
{
	struct conn *c = arg;

	(void)result;
	if (--c->open)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	rope_free(c->up.in);
	rope_free(c->up.out);
	rope_free(c->down.in);
	rope_free(c->down.out);
	free(c);
}

/* End both sides: receives and sends end (their callbacks run with
 * -ECANCELED), both sockets are closed, and conn_closed() runs after
 * them. May be called from any callback, any number of times. */
static void
conn_close(struct conn *c)
{
	int fds[2] = { c->client, c->upstream };

	if (c->closing)
		return;
	c->closing = true;
	for (int i = 0; i < 2; i++) {
		int err;

		/* -EAGAIN, -EBUSY, -ENOMEM: the kernel would not take the
		 * cancellation yet; ask again. */
		while ((err = rope_uring_close(u, fds[i], ROPE_URING_CLOSE_FD,
					       conn_closed, c)) < 0 &&
		       err != -EINVAL)
			;
	}
}

/* ------------------------------------------------------------------------ */
/* Flows                                                                    */
/* ------------------------------------------------------------------------ */

/* Send what @f->out holds, unless a send is in flight already. */
static void
flow_send(struct flow *f)
{
	struct rope_snap *snap;
	size_t n = rope_size(f->out);

	if (f->sending || !n)
		return;
	/* The snapshot holds the chunks; @out is emptied for what comes
	 * next. */
	if (rope_snapshot(f->out, &snap) < 0) {
		conn_close(f->conn);
		return;
	}
	rope_truncate(f->out, 0);
	if (rope_uring_send(u, f->to, snap, 0, SIZE_MAX, 0, on_sent, f) < 0)
		conn_close(f->conn);
	else
		f->sending = n;
	rope_snap_unref(snap);          /* the send holds its own reference */
}

/* After the end of @f's stream has been sent on: shut @f->to for
 * writing, and close the connection when both flows have ended. */
static void
flow_shut(struct flow *f)
{
	struct conn *c = f->conn;

	if (f->shut || !f->ended || f->sending)
		return;
	f->shut = true;
	shutdown(f->to, SHUT_WR);
	if (c->up.shut && c->down.shut)
		conn_close(c);
}

/* Bytes arrived (@result > 0), or the receive ended: 0 at the end of the
 * stream, -ECANCELED after conn_close(), or an error. */
static void
on_recv(void *arg, ssize_t result)
{
	struct flow *f = arg;

	if (f->conn->closing)
		return;
	if (result < 0) {
		conn_close(f->conn);
		return;
	}
	if (result == 0) {
		f->ended = true;
		flow_shut(f);
		return;
	}
	/* Hand the chunks over: no byte is copied. */
	if (rope_move(f->out, f->in, SIZE_MAX) < 0) {
		conn_close(f->conn);
		return;
	}
	flow_send(f);
	if (!f->paused && f->sending + rope_size(f->out) >= FLOW_MAX &&
	    rope_uring_recv_pause(u, f->from) == 0)
		f->paused = true;
}

/* A send completed (or failed: the peer left, or it timed out). */
static void
on_sent(void *arg, ssize_t result)
{
	struct flow *f = arg;

	f->sending = 0;
	if (f->conn->closing)
		return;
	if (result < 0) {
		conn_close(f->conn);
		return;
	}
	flow_send(f);                   /* what gathered meanwhile */
	if (f->paused && f->sending + rope_size(f->out) < FLOW_MAX / 2 &&
	    rope_uring_recv_resume(u, f->from) == 0)
		f->paused = false;
	flow_shut(f);
}

static int
flow_start(struct conn *c, struct flow *f, int from, int to)
{
	f->conn = c;
	f->from = from;
	f->to = to;
	return rope_uring_recv(u, from, f->in, on_recv, f);
}

/* The upstream connection is up (or failed): start both flows. */
static void
conn_connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->closing)
		return;
	epoll_ctl(ep, EPOLL_CTL_DEL, c->upstream, NULL);
	if (getsockopt(c->upstream, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ||
	    err || flow_start(c, &c->up, c->client, c->upstream) < 0 ||
	    flow_start(c, &c->down, c->upstream, c->client) < 0)
		conn_close(c);
}

/* ------------------------------------------------------------------------ */
/* Accepting, and the loop                                                  */
/* ------------------------------------------------------------------------ */

/* A new connection for @client: its ropes, and a connect to the
 * upstream, which the loop watches until it is done. */
static void
conn_new(int client)
{
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1, up;

	if (!c || !(c->up.in = rope_new()) || !(c->up.out = rope_new()) ||
	    !(c->down.in = rope_new()) || !(c->down.out = rope_new()))
		goto fail;
	up = socket(upstream_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
	if (up < 0)
		goto fail;
	c->client = client;
	c->upstream = up;
	c->open = 2;
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
	/* What arrives goes on at once, not after the peer's ACK. */
	setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(up, (struct sockaddr *)&upstream_addr, upstream_len) == 0) {
		conn_connected(c);
	} else if (errno == EINPROGRESS) {
		struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, up, &ev) < 0)
			conn_close(c);
	} else {
		conn_close(c);
	}
	return;
fail:
	if (c) {
		rope_free(c->up.in);
		rope_free(c->up.out);
		rope_free(c->down.in);
		rope_free(c->down.out);
	}
	free(c);
	close(client);
}

static void
accept_all(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			conn_new(fd);
			continue;
		}
		/* EAGAIN: no more for now. EMFILE and the like: the next
		 * wake-up tries again (raise ulimit -n). */
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN)
			perror("accept4");
		return;
	}
}

/* Async-signal-safe: one write to the self-pipe, errno kept. */
static void
on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	if (write(sig_pipe[1], "", 1) < 0) {
		/* the pipe is full: a wake-up is already pending */
	}
	errno = saved;
}

static struct addrinfo *
resolve(const char *addr, const char *port, int flags)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = flags | AI_NUMERICHOST };
	struct addrinfo *ai;
	int err = getaddrinfo(addr, port, &hints, &ai);

	if (err) {
		fprintf(stderr, "%s: %s\n", addr, gai_strerror(err));
		return NULL;
	}
	return ai;
}

static int
listen_on(const char *addr, const char *port)
{
	struct addrinfo *ai = resolve(addr, port, AI_PASSIVE);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, one = 1;

	if (!ai)
		return -1;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		perror("listen");
		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	freeaddrinfo(ai);
	if (!strcmp(port, "0")) {
		/* The port the kernel chose, for whoever started us. */
		printf("%u\n", ntohs(ss.ss_family == AF_INET6 ?
			((struct sockaddr_in6 *)&ss)->sin6_port :
			((struct sockaddr_in *)&ss)->sin_port));
		fflush(stdout);
	}
	return fd;
}

/* Add @fd to the epoll set for readability, tagged @tag. */
static int
watch(int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct addrinfo *ai;
	int lfd = -1, ufd, status = 1;
	bool stop = false;

	if (argc != 5) {
		fprintf(stderr, "usage: %s ADDRESS PORT UPSTREAM_ADDRESS "
			"UPSTREAM_PORT\n", argv[0]);
		return 2;
	}
	ai = resolve(argv[3], argv[4], 0);
	if (!ai)
		return 2;
	memcpy(&upstream_addr, ai->ai_addr, ai->ai_addrlen);
	upstream_len = ai->ai_addrlen;
	freeaddrinfo(ai);

	if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0 ||
	    rope_uring_new(&u, 256) < 0) {
		fprintf(stderr, "out of memory or descriptors\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rope_uring_set_send_timeout(u, SEND_TIMEOUT_MS);

	ufd = rope_uring_fd(u);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || ufd < 0 || (lfd = listen_on(argv[1], argv[2])) < 0 ||
	    watch(lfd, &listener) < 0 || watch(ufd, u) < 0 ||
	    watch(sig_pipe[0], &signals) < 0)
		goto out;

	while (!stop) {
		struct epoll_event ev[16];
		int n = epoll_wait(ep, ev, 16, -1);

		/* io_uring's completions can interrupt any wait: retry. */
		if (n < 0 && errno != EINTR) {
			perror("epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++) {
			void *tag = ev[i].data.ptr;

			if (tag == &listener)
				accept_all(lfd);
			else if (tag == &signals)
				stop = true;
			else if (tag != u)
				conn_connected(tag);
		}
		/* Whatever woke us, the engine runs; an error (-EAGAIN: the
		 * kernel wants a pause) loses nothing. */
		rope_uring_run(u, 0);
	}
	status = 0;
out:
	/* Close every connection, then run until each one's last callback
	 * has freed it. */
	if (lfd >= 0)
		close(lfd);
	for (struct conn *c = conns; c; c = c->next)
		conn_close(c);
	while (conns)
		if (rope_uring_run(u, 1) < 0)
			break;
	if (ep >= 0)
		close(ep);
	rope_uring_free(u);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	return status;
}
