/* SPDX-License-Identifier: MIT */
/*
 * Scenario: a proxy loop. Append 16 KiB, send it with the peer's own write
 * path (rope_write_fd, evbuffer_write, write() for the flat buffers) over
 * an AF_UNIX socketpair whose other end a thread reads, drain what was
 * sent, repeat. Reported per message like the queue, after a warm-up.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

void
write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);

		if (w <= 0)
			die("write: %s", strerror(errno));
		b += w;
		n -= (size_t)w;
	}
}

int
data_file(size_t bytes)
{
	char path[] = "/tmp/ropeio-bench-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		die("mkstemp: %s", strerror(errno));
	unlink(path);
	for (size_t off = 0; off < bytes; off += SRC_LEN)
		write_all(fd, src_bytes, MIN(SRC_LEN, bytes - off));
	return fd;
}

void
proxy_open(struct io_target *t, size_t bytes)
{
	int fds[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
		die("socketpair: %s", strerror(errno));
	t->fd = fds[0];
	t->rd = (struct reader){ .fd = fds[1], .want = bytes };
	if (pthread_create(&t->rd.thread, NULL, reader_run, &t->rd))
		die("pthread_create");
}

void
proxy_close(struct io_target *t, size_t bytes)
{
	shutdown(t->fd, SHUT_WR);
	pthread_join(t->rd.thread, NULL);
	if (t->rd.got != bytes)
		die("the reader got %zu bytes, not %zu", t->rd.got, bytes);
	close(t->fd);
	close(t->rd.fd);
}

static const struct way proxy_ways[] = {
	{ "ropeio", "ropeio rope_write_fd", proxy_rope, NULL },
	{ "evbuffer", "evbuffer_write", EVB(proxy_evb) },
	{ "gbytearray", "GByteArray: write(), remove_range",
	  GBA(proxy_gba) },
	{ "realloc", "realloc buffer: write(), consume", proxy_rbuf, NULL },
	{ "limit", "limit: write() from the source", proxy_limit, NULL },
};

void
scen_proxy(size_t count, int reps)
{
	struct feed f = feed_net(16 * KiB, 16 * KiB * count);
	struct queue_arg a = { &f, MAX(count / 10, 100) };
	struct scen *s;
	struct fig *py_fig;

	s = scen_new("proxy16k", COL_MBS | COL_TAKEN | COL_FAULTS,
		     (double)f.piece, "proxy loop: %zu x (append 16 KiB, send "
		     "over a socketpair, drain), after %zu more (%d runs)",
		     count, a.warmup, reps);
	s->count = (double)count;
	measure(s, proxy_ways, ARRAY_SIZE(proxy_ways), &a, reps, 0);
	py_fig = fig_new(s, "cpython", "CPython BytesIO");
	py_fig->skip = "io.BytesIO has no drain (not measured)";
	s->note = "timed: until the last message is written; the reader "
		  "thread reads on. The limit writes from the source, with "
		  "no buffer at all.";
}
