/* SPDX-License-Identifier: MIT */
/*
 * http-server: an HTTP/1.1 keep-alive server on ropeio's engine, the
 * example to copy for network use.
 *
 *     http-server [--body N | --root DIR] [ADDRESS [PORT]]  (127.0.0.1 8080)
 *
 * Every request gets "200 OK" and a static body (N bytes, by default
 * "Hello, world!"); with --root, GET /path gets the file DIR/path
 * (http-files.c), appended to the answer by reference with
 * rope_append_file(): the server never reads it, the engine sends it.
 * Port 0 asks the kernel for a free port, printed on stdout. SIGINT or
 * SIGTERM ends it cleanly.
 *
 * The shape, which is the shape of any server on the engine:
 *
 * - One epoll loop waits on the listening socket, on a self-pipe for the
 *   signals, and on rope_uring_fd(): readable when the engine has work.
 *   After every wake-up, rope_uring_run(u, 0) runs what is ready; it never
 *   blocks. It is also called after queuing work, which does not make the
 *   engine's descriptor readable by itself.
 * - Each connection receives into its own rope (rope_uring_recv()). The
 *   receive callback parses every complete request in place (rope_find,
 *   rope_pread: the rope is never flattened), answers each by appending
 *   to an output rope (the body by reference: no copy), and sends one
 *   snapshot of it per batch (rope_uring_send()). Pipelined requests are
 *   thus answered in one send. The output rope is emptied once its
 *   snapshot is taken, so all connections share one.
 * - A connection is closed with one call, rope_uring_close(), from any
 *   callback: it ends the receive and the sends, closes the socket, and
 *   calls back once after their last callbacks, where the connection is
 *   freed.
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

#include "http-files.h"
#include "http-head.h"

#define MAX_HEAD 8192           /* a request head larger than this: 400 */
#define MAX_SENDS 16            /* sends in flight before we stop reading */
#define SEND_TIMEOUT_MS 10000   /* a peer that stops reading is dropped */

static void on_sent(void *arg, ssize_t result);

struct conn {
	int fd;
	struct rope *in;        /* bytes received, not yet parsed */
	size_t searched;        /* bytes of @in known to hold no "\r\n\r\n" */
	size_t skip;            /* body bytes still to drain */
	unsigned sends;         /* sends in flight */
	bool paused;            /* reading stopped while MAX_SENDS are out */
	bool closing;           /* close once every send has completed */
	bool closed;            /* rope_uring_close() was called */
	struct conn *prev, *next;
};

static struct rope_uring *u;
static struct conn *conns;      /* every connection not yet freed */
static char *body;
static size_t body_len;
static int root = -1;           /* --root: the directory served */
/* The responses of the batch being answered, for every connection: a
 * batch is snapshotted and the rope emptied before the callback returns
 * (the snapshot keeps the bytes), so one rope serves them all and an idle
 * connection holds only its receive rope. */
static struct rope *answers;
static int sig_pipe[2];

/* ------------------------------------------------------------------------ */
/* Connections                                                              */
/* ------------------------------------------------------------------------ */

/* The engine's last callback for the connection: nothing of it is left
 * in the engine, so it is freed. */
static void
conn_free(void *arg, ssize_t result)
{
	struct conn *c = arg;

	(void)result;
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	rope_free(c->in);
	free(c);
}

/* End the connection: its receive and sends end (their callbacks run with
 * -ECANCELED), the socket is closed, and conn_free() runs after them. May
 * be called from any callback. */
static void
conn_close(struct conn *c)
{
	int err;

	if (c->closed)
		return;
	/* -EAGAIN, -EBUSY, -ENOMEM: the kernel would not take the
	 * cancellation yet; ask again. */
	while ((err = rope_uring_close(u, c->fd, ROPE_URING_CLOSE_FD,
				       conn_free, c)) < 0 && err != -EINVAL)
		;
	c->closed = true;
}

/* ------------------------------------------------------------------------ */
/* Requests and responses                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Append the answer to @req to @answers: the head copied, the body by
 * reference (static memory: no release function). @req NULL: the request
 * was rejected, "400 Bad Request" and close.
 */
static int
respond(struct conn *c, const struct http_request *req)
{
	char head[256];
	size_t n;

	if (req && root >= 0)
		return http_file_respond(answers, root, req);
	n = http_response_head(head, sizeof(head), req, body_len);
	if (rope_append(answers, head, n) < 0)
		return -ENOMEM;
	if (req && !req->head_only &&
	    rope_append_ref(answers, body, body_len, NULL, NULL) < 0)
		return -ENOMEM;
	return 0;
}

/*
 * Parse and answer every complete request in c->in, draining what was
 * parsed, then send the batch's responses as one snapshot.
 */
static void
serve(struct conn *c)
{
	struct rope_snap *snap;
	char head[MAX_HEAD + 1];

	while (!c->closing) {
		size_t size = rope_size(c->in), from;
		struct http_request req;
		int64_t end;

		/* The rest of a body we do not read: drop it as it comes. */
		if (c->skip) {
			size_t n = c->skip < size ? c->skip : size;

			rope_drain(c->in, n);
			c->skip -= n;
			if (c->skip)
				break;
			continue;
		}
		/* The end of the head may span chunks: rope_find sees across
		 * them. Resume where the previous search stopped. */
		from = c->searched > 3 ? c->searched - 3 : 0;
		end = rope_find(c->in, "\r\n\r\n", 4, (int64_t)from);
		if (end < 0) {
			c->searched = size;
			if (size <= MAX_HEAD)
				break;          /* wait for more bytes */
			respond(c, NULL);
			c->closing = true;
			break;
		}
		c->searched = 0;
		if ((size_t)end + 4 > MAX_HEAD) {
			respond(c, NULL);
			c->closing = true;
			break;
		}
		/* Copy the head out (at most 8 KiB) and parse it. */
		rope_pread(c->in, head, (size_t)end + 4, 0);
		head[end + 4] = '\0';
		rope_drain(c->in, (size_t)end + 4);
		if (!http_parse_head(head, &req) || respond(c, &req) < 0) {
			respond(c, NULL);
			c->closing = true;
			break;
		}
		c->skip = req.body_bytes;
		c->closing = !req.keep;
	}
	if (!rope_size(answers))
		return;
	/* The snapshot holds the bytes (and the reference to the body);
	 * @answers is emptied for the next batch. */
	if (rope_snapshot(answers, &snap) < 0) {
		conn_close(c);
		return;
	}
	rope_truncate(answers, 0);
	if (rope_uring_send(u, c->fd, snap, 0, SIZE_MAX, 0, on_sent, c) < 0) {
		rope_snap_unref(snap);
		conn_close(c);
		return;
	}
	rope_snap_unref(snap);          /* the send holds its own reference */
	/* Back-pressure: a client that pipelines without reading our
	 * answers waits (TCP flow control) instead of growing our queue. */
	if (++c->sends >= MAX_SENDS && !c->paused) {
		rope_uring_recv_pause(u, c->fd);
		c->paused = true;
	}
}

/* ------------------------------------------------------------------------ */
/* The engine's callbacks                                                   */
/* ------------------------------------------------------------------------ */

/* A batch of responses is sent (or failed: the peer left, or the send
 * timed out). */
static void
on_sent(void *arg, ssize_t result)
{
	struct conn *c = arg;

	c->sends--;
	if (result < 0) {
		conn_close(c);
	} else if (c->closing && !c->sends) {
		conn_close(c);    /* Connection: close, answered */
	} else if (c->paused && c->sends < MAX_SENDS / 2 && !c->closed) {
		rope_uring_recv_resume(u, c->fd);
		c->paused = false;
	}
}

/* Bytes arrived (@result > 0), or the receive ended: 0 at the end of the
 * stream, -ECANCELED after our own conn_close(), or an error. */
static void
on_recv(void *arg, ssize_t result)
{
	struct conn *c = arg;

	if (result > 0) {
		if (!c->closed)
			serve(c);
		return;
	}
	if (result == 0 && c->sends)
		c->closing = true;      /* answer what was asked, then close */
	else
		conn_close(c);
}

/* ------------------------------------------------------------------------ */
/* Accepting, and the loop                                                  */
/* ------------------------------------------------------------------------ */

static void
accept_all(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;
		int one = 1;

		if (fd < 0) {
			/* EAGAIN: no more for now. EMFILE and the like: the
			 * next wake-up tries again (raise ulimit -n). */
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				perror("accept4");
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		/* Small answers go out at once, not after the peer's ACK. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (c)
			c->in = rope_new();
		if (!c || !c->in ||
		    rope_uring_recv(u, fd, c->in, on_recv, c) < 0) {
			if (c)
				rope_free(c->in);
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->next = conns;
		if (conns)
			conns->prev = c;
		conns = c;
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

static int
listen_on(const char *addr, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct addrinfo *ai;
	int fd, one = 1, err;

	err = getaddrinfo(addr, port, &hints, &ai);
	if (err) {
		fprintf(stderr, "%s: %s\n", addr, gai_strerror(err));
		return -1;
	}
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

/* Add @fd to the epoll set for readability. */
static int
watch(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *port = "8080";
	struct sigaction sa = { .sa_handler = on_signal };
	int lfd, ep, ufd, argi = 1, status = 1;
	bool stop = false;

	body_len = 13;
	if (argi + 1 < argc && !strcmp(argv[argi], "--body")) {
		body_len = strtoul(argv[argi + 1], NULL, 10);
		argi += 2;
	} else if (argi + 1 < argc && !strcmp(argv[argi], "--root")) {
		root = open(argv[argi + 1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root < 0) {
			perror(argv[argi + 1]);
			return 2;
		}
		argi += 2;
	}
	if (argi < argc)
		addr = argv[argi++];
	if (argi < argc)
		port = argv[argi++];
	if (argi < argc || body_len > (1u << 30)) {
		fprintf(stderr, "usage: %s [--body N | --root DIR] "
			"[ADDRESS [PORT]]\n", argv[0]);
		return 2;
	}
	/* The body: "Hello, world!" repeated (or cut) to body_len bytes. */
	body = malloc(body_len + 1);
	for (size_t i = 0; body && i < body_len; i++)
		body[i] = "Hello, world!"[i % 13];

	answers = rope_new();
	if (!body || !answers || pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0 ||
	    rope_uring_new(&u, 256) < 0) {
		fprintf(stderr, "out of memory or descriptors\n");
		return 1;
	}
	/* A dropped connection must not kill us: the engine never raises
	 * SIGPIPE, but be safe for any other write. */
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rope_uring_set_send_timeout(u, SEND_TIMEOUT_MS);

	lfd = listen_on(addr, port);
	ufd = rope_uring_fd(u);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0 || ufd < 0 || ep < 0 || watch(ep, lfd) < 0 ||
	    watch(ep, ufd) < 0 || watch(ep, sig_pipe[0]) < 0)
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
			if (ev[i].data.fd == lfd)
				accept_all(lfd);
			else if (ev[i].data.fd == sig_pipe[0])
				stop = true;
		}
		/* Whatever woke us, the engine runs: callbacks, and the
		 * receives and sends queued since the last run.
		 * An error (-EAGAIN: the kernel wants a pause) loses nothing;
		 * the next run carries on. */
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
	rope_free(answers);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	free(body);
	if (root >= 0)
		close(root);
	http_files_free();
	return status;
}
