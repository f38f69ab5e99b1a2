/* SPDX-License-Identifier: MIT */
/*
 * httpd-libevent: the HTTP example server (tools/examples/http-server.c)
 * on libevent's bufferevent, for the tour's comparison only. The same
 * options, the same parsing and responses (tools/examples/http-head.c,
 * shared by both), the same bytes on the wire; only the buffers and the
 * loop differ: bufferevents read into and write from evbuffers, the body
 * added by reference (evbuffer_add_reference).
 *
 *     httpd-libevent [--body N] [ADDRESS [PORT]]     (127.0.0.1 8080)
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "../examples/http-head.h"

#define MAX_HEAD 8192

struct conn {
	struct bufferevent *bev;
	size_t skip;            /* body bytes still to drain */
	bool closing;           /* free once the output is written */
	struct conn *prev, *next;
};

static struct conn *conns;
static char *body;
static size_t body_len;

static void
conn_free(struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);       /* closes the socket */
	free(c);
}

/* The answer to @req (NULL: rejected, 400 and close), as the example
 * builds it: the head copied, the body by reference. */
static int
respond(struct evbuffer *out, const struct http_request *req)
{
	char head[256];
	size_t n = http_response_head(head, sizeof(head), req, body_len);

	if (evbuffer_add(out, head, n) < 0)
		return -ENOMEM;
	if (req && !req->head_only &&
	    evbuffer_add_reference(out, body, body_len, NULL, NULL) < 0)
		return -ENOMEM;
	return 0;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	char head[MAX_HEAD + 1];

	while (!c->closing) {
		size_t size = evbuffer_get_length(in);
		struct evbuffer_ptr end;
		struct http_request req;

		if (c->skip) {
			size_t n = c->skip < size ? c->skip : size;

			evbuffer_drain(in, n);
			c->skip -= n;
			if (c->skip)
				break;
			continue;
		}
		end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		if (end.pos < 0) {
			if (size <= MAX_HEAD)
				break;
			respond(out, NULL);
			c->closing = true;
			break;
		}
		if ((size_t)end.pos + 4 > MAX_HEAD) {
			respond(out, NULL);
			c->closing = true;
			break;
		}
		evbuffer_remove(in, head, (size_t)end.pos + 4);
		head[end.pos + 4] = '\0';
		if (!http_parse_head(head, &req) || respond(out, &req) < 0) {
			respond(out, NULL);
			c->closing = true;
			break;
		}
		c->skip = req.body_bytes;
		c->closing = !req.keep;
	}
	if (c->closing)
		bufferevent_disable(bev, EV_READ);
}

/* The output is written: close if that was the last answer. */
static void
on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing)
		conn_free(c);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	/* The end of the stream with answers still going out: finish. */
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    evbuffer_get_length(bufferevent_get_output(bev))) {
		c->closing = true;
		bufferevent_disable(bev, EV_READ);
		return;
	}
	conn_free(c);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
	  int salen, void *arg)
{
	struct event_base *base = arg;
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c)
		c->bev = bufferevent_socket_new(base, fd,
						BEV_OPT_CLOSE_ON_FREE);
	if (!c || !c->bev) {
		free(c);
		close(fd);
		return;
	}
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *port = "8080";
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct evconnlistener *l;
	struct event_base *base;
	struct event *sint, *sterm;
	struct addrinfo *ai;
	int argi = 1, err;

	if (argi + 1 < argc && !strcmp(argv[argi], "--body")) {
		body_len = strtoul(argv[argi + 1], NULL, 10);
		argi += 2;
	} else {
		body_len = 13;
	}
	if (argi < argc)
		addr = argv[argi++];
	if (argi < argc)
		port = argv[argi++];
	if (argi < argc || body_len > (1u << 30)) {
		fprintf(stderr, "usage: %s [--body N] [ADDRESS [PORT]]\n",
			argv[0]);
		return 2;
	}
	body = malloc(body_len + 1);
	for (size_t i = 0; body && i < body_len; i++)
		body[i] = "Hello, world!"[i % 13];
	err = getaddrinfo(addr, port, &hints, &ai);
	if (err) {
		fprintf(stderr, "%s: %s\n", addr, gai_strerror(err));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	l = base ? evconnlistener_new_bind(base, on_accept, base,
			LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
			LEV_OPT_CLOSE_ON_EXEC, SOMAXCONN, ai->ai_addr,
			(int)ai->ai_addrlen) : NULL;
	freeaddrinfo(ai);
	if (!body || !l) {
		perror("listen");
		return 1;
	}
	/* The signals are caught before the port is printed: whoever
	 * started us may stop us as soon as it has read it. */
	sint = evsignal_new(base, SIGINT, on_signal, base);
	sterm = evsignal_new(base, SIGTERM, on_signal, base);
	evsignal_add(sint, NULL);
	evsignal_add(sterm, NULL);
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &len);
	if (!strcmp(port, "0")) {
		printf("%u\n", ntohs(ss.ss_family == AF_INET6 ?
			((struct sockaddr_in6 *)&ss)->sin6_port :
			((struct sockaddr_in *)&ss)->sin_port));
		fflush(stdout);
	}
	event_base_dispatch(base);

	evconnlistener_free(l);
	while (conns)
		conn_free(conns);
	event_free(sint);
	event_free(sterm);
	event_base_free(base);
	free(body);
	return 0;
}
