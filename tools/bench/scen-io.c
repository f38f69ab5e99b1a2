/* SPDX-License-Identifier: MIT */
/*
 * Scenarios: a large rope to a file and to a loopback TCP socket.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

void *
reader_run(void *arg)
{
	struct reader *r = arg;
	static char buf[MiB];

	while (r->got < r->want) {
		ssize_t n = read(r->fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		r->got += (size_t)n;
	}
	return NULL;
}

static void
tcp_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		die("listen: %s", strerror(errno));
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect: %s", strerror(errno));
	fds[1] = accept(l, NULL, NULL);
	if (fds[1] < 0)
		die("accept: %s", strerror(errno));
	close(l);
}

void
target_open(struct io_target *t, const struct io_arg *a)
{
	if (a->tcp) {
		int fds[2];

		tcp_pair(fds);
		t->fd = fds[0];
		t->rd = (struct reader){ .fd = fds[1], .want = a->len };
		if (pthread_create(&t->rd.thread, NULL, reader_run, &t->rd))
			die("pthread_create");
	} else {
		char path[] = "/tmp/ropeio-bench-XXXXXX";

		t->fd = mkstemp(path);
		if (t->fd < 0)
			die("mkstemp: %s", strerror(errno));
		unlink(path);
	}
}

/* Wait until every byte has arrived (a socket's reader has read them). */
void
target_wait(struct io_target *t, const struct io_arg *a)
{
	struct stat st;

	if (a->tcp) {
		shutdown(t->fd, SHUT_WR);
		pthread_join(t->rd.thread, NULL);
		if (t->rd.got != a->len)
			die("the reader got %zu bytes, not %zu", t->rd.got,
			    a->len);
	} else if (fstat(t->fd, &st) < 0 || (size_t)st.st_size != a->len) {
		die("the file holds the wrong size");
	}
}

void
target_close(struct io_target *t, const struct io_arg *a)
{
	close(t->fd);
	if (a->tcp)
		close(t->rd.fd);
}

static const struct way io_ways[] = {
	{ "ropeio", "ropeio io_uring engine", URING(io_uring) },
	{ "ropeio", "ropeio fallback (ROPEIO_NO_URING)", URING(io_fallback) },
	{ "evbuffer", "evbuffer_write loop", EVB(io_evb) },
	{ "limit", "limit: one write(), flat", io_write, NULL },
};

void
scen_io(size_t bytes, int reps)
{
	struct feed f = feed_net(BUILD_PIECE, bytes);
	struct rope *r = rope_built(&f);
	struct io_arg a = { .f = &f, .len = bytes };
	uint8_t *flat = malloc(bytes);

	if (!flat || rope_snapshot(r, &a.snap) < 0 ||
	    rope_pread(r, flat, bytes, 0) != (ssize_t)bytes)
		die("setting up the I/O scenario");
	a.flat = flat;
#ifdef HAVE_URING
	a.uring = engine_new(false);
	a.fallback = engine_new(true);
#endif
	for (int tcp = 0; tcp < 2; tcp++) {
		struct scen *s;

		a.tcp = tcp;
		s = scen_new(tcp ? "io_tcp" : "io_file",
			     COL_MBS | COL_FIRST | COL_TOTAL, (double)bytes,
			     "write %zu MiB (64 KiB appends) to %s (%d runs "
			     "after a first one)", bytes / MiB,
			     tcp ? "a loopback TCP socket, read by a thread"
				 : "a file in /tmp (page cache)", reps);
		measure(s, io_ways, ARRAY_SIZE(io_ways), &a, reps, 1);
		if (tcp)
			s->note = "timed: until the last byte is in the file "
				  "or read by the other end. allocated: heap "
				  "allocated during the transfer. first: the "
				  "untimed first run (a new ring starts its "
				  "kernel workers).";
	}
#ifdef HAVE_URING
	rope_uring_free(a.uring);
	rope_uring_free(a.fallback);
#endif
	rope_snap_unref(a.snap);
	rope_free(r);
	free(flat);
}
