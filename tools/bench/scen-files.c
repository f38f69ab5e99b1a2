/* SPDX-License-Identifier: MIT */
/*
 * Scenario: a file range to a socket. A 16 MiB file (in the page cache)
 * goes to a loopback TCP socket whose other end a thread reads, 8 times
 * over one connection, each time as a server sends a static file: a fresh
 * rope, rope_append_file(), a snapshot, a send. Through the engine on
 * io_uring (IORING_OP_SPLICE through a pipe) and on the poll backend
 * (sendfile(2) on a non-blocking socket), by rope_snap_write_fd()
 * (sendfile(2), blocking), and the limit: a plain sendfile(2) loop.
 * Reported: throughput, minor page faults (getrusage) and the resident
 * peak: a send that wrote the range from its mapping faults it in, and
 * the process holds those pages until the range is released.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "bench.h"

#define FILES_SENDS 8  /* sends of the file per run, one connection */

struct files_arg {
	int file;
	size_t len;  /* the file's */
#ifdef HAVE_URING
	struct rope_uring *uring, *fallback;
#endif
};

static void
files_start(const struct files_arg *a, struct io_target *t,
	    struct io_arg *io)
{
	*io = (struct io_arg){ .tcp = true, .len = a->len * FILES_SENDS };
	target_open(t, io);
}

static void
files_stop(struct probe *p, struct io_target *t, struct io_arg *io)
{
	target_wait(t, io);
	probe_stop(p);
	target_close(t, io);
}

/* The rope a server would make for one response, and its snapshot. */
static struct rope_snap *
files_snap(const struct files_arg *a)
{
	struct rope *r = rope_new();
	struct rope_snap *s;

	if (!r || rope_append_file(r, a->file, 0, a->len) < 0 ||
	    rope_snapshot(r, &s) < 0)
		die("rope_append_file");
	rope_free(r);  /* the snapshot holds the range */
	return s;
}

static void
files_sendfile(struct probe *p, const void *arg)
{
	const struct files_arg *a = arg;
	struct io_target t;
	struct io_arg io;

	files_start(a, &t, &io);
	probe_start(p);
	for (int i = 0; i < FILES_SENDS; i++) {
		off_t off = 0;

		while ((size_t)off < a->len) {
			ssize_t w = sendfile(t.fd, a->file, &off,
					     a->len - (size_t)off);

			if (w <= 0)
				die("sendfile: %s", w ? strerror(errno) : "0");
		}
	}
	files_stop(p, &t, &io);
}

static void
files_plain(struct probe *p, const void *arg)
{
	const struct files_arg *a = arg;
	struct io_target t;
	struct io_arg io;

	files_start(a, &t, &io);
	probe_start(p);
	for (int i = 0; i < FILES_SENDS; i++) {
		struct rope_snap *s = files_snap(a);
		size_t done = 0;

		while (done < a->len) {
			ssize_t w = rope_snap_write_fd(s, done, a->len - done,
						       t.fd);

			if (w <= 0)
				die("rope_snap_write_fd: %zd", w);
			done += (size_t)w;
		}
		rope_snap_unref(s);
	}
	files_stop(p, &t, &io);
}

#ifdef HAVE_URING
static void
files_sent(void *arg, ssize_t res)
{
	*(ssize_t *)arg = res;
}

static void
files_engine(struct probe *p, const struct files_arg *a, bool fallback,
	     bool blocking)
{
	struct rope_uring *u = engine_take(p, fallback ? a->fallback : a->uring,
					   fallback);
	struct io_target t;
	struct io_arg io;

	if (!u)
		return;
	files_start(a, &t, &io);
	if (!blocking && fcntl(t.fd, F_SETFL, fcntl(t.fd, F_GETFL) |
			       O_NONBLOCK) < 0)
		die("fcntl: %s", strerror(errno));
	probe_start(p);
	for (int i = 0; i < FILES_SENDS; i++) {
		struct rope_snap *s = files_snap(a);
		ssize_t res = 0;
		int ret = rope_uring_send(u, t.fd, s, 0, SIZE_MAX, 0,
					  files_sent, &res);

		rope_snap_unref(s);  /* the send holds its own */
		if (ret < 0)
			die("rope_uring_send: %d", ret);
		while (rope_uring_pending(u))
			if ((ret = rope_uring_run(u, 1)) < 0)
				die("rope_uring_run: %d", ret);
		if (res != (ssize_t)a->len)
			die("a send of %zu bytes ended with %zd", a->len, res);
	}
	files_stop(p, &t, &io);
	engine_done(u);
}

static void
files_uring(struct probe *p, const void *arg)
{
	files_engine(p, arg, false, false);
}

static void
files_uring_blocking(struct probe *p, const void *arg)
{
	files_engine(p, arg, false, true);
}

static void
files_fallback(struct probe *p, const void *arg)
{
	files_engine(p, arg, true, false);
}
#endif

static const struct way files_ways[] = {
	{ "ropeio", "ropeio engine, io_uring", URING(files_uring) },
	{ "ropeio", "ropeio io_uring, blocking socket",
	  URING(files_uring_blocking) },
	{ "ropeio", "ropeio engine, fallback", URING(files_fallback) },
	{ "ropeio", "rope_snap_write_fd", files_plain, NULL },
	{ "limit", "plain sendfile() loop", files_sendfile, NULL },
};

void
scen_files(size_t bytes, int reps)
{
	struct files_arg a = { .len = bytes };
	struct scen *s;

	a.file = data_file(bytes);
#ifdef HAVE_URING
	a.uring = engine_new(false);
	a.fallback = engine_new(true);
#endif
	s = scen_new("files", COL_MBS | COL_FAULTS | COL_RSS,
		     (double)bytes * FILES_SENDS,
		     "a %zu MiB file range (page cache) to a loopback TCP "
		     "socket, %d times (%d runs)", bytes / MiB, FILES_SENDS,
		     reps);
	measure(s, files_ways, ARRAY_SIZE(files_ways), &a, reps, 1);
	s->note = "timed: until the reader thread has read the last byte. "
		  "Each send is a fresh rope with rope_append_file() of the "
		  "whole file; the engine's socket is non-blocking but for "
		  "the row that says otherwise.";
#ifdef HAVE_URING
	rope_uring_free(a.uring);
	rope_uring_free(a.fallback);
#endif
	close(a.file);
}
