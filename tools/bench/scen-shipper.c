/* SPDX-License-Identifier: MIT */
/*
 * Scenario: a log shipper. A file (in the page cache) goes to a loopback
 * TCP socket whose other end a thread reads. Through the engine, double
 * buffered: read 8 MiB into a rope (rope_read_fd, 1 MiB at a time),
 * queue a send of its snapshot (rope_uring_send), drain the rope, and
 * read the next 8 MiB while that one is in flight, running the engine
 * until it completes when the next is ready. Beside it, the plain loop
 * every shipper starts as: read() into one buffer, write() it out,
 * blocking. Reported: throughput and minor page faults (getrusage): the
 * 8 MiB a completed send releases at once go to the chunk cache, which
 * follows the bytes in flight (up to four times its 4 MiB limit), so the
 * next reads fault nothing in. With the cache fixed at 4 MiB, half went
 * back to the system and was faulted in again (a row here once measured
 * that beside a 16 MiB cache; setting the limit back trimmed the cache
 * under the rows after it, so it is gone).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define SHIP_READ (1 * MiB)       /* one read() or rope_read_fd() */
#define SHIP_BLOCK (8 * MiB)      /* one send: the bytes in flight */
#define SHIP_LOOP_BUF (256 * KiB) /* the plain loop's buffer */

struct ship_arg {
	int file;
	size_t len;
#ifdef HAVE_URING
	struct rope_uring *uring, *fallback;
#endif
};

static void
ship_start(const struct ship_arg *a, struct io_target *t,
	   struct io_arg *io)
{
	*io = (struct io_arg){ .tcp = true, .len = a->len };
	if (lseek(a->file, 0, SEEK_SET) < 0)
		die("lseek: %s", strerror(errno));
	target_open(t, io);
}

static void
ship_loop(struct probe *p, const void *arg)
{
	const struct ship_arg *a = arg;
	static uint8_t buf[SHIP_LOOP_BUF];
	struct io_target t;
	struct io_arg io;
	size_t off = 0;

	memset(buf, 0, sizeof(buf));
	ship_start(a, &t, &io);
	probe_start(p);
	while (off < a->len) {
		ssize_t n = read(a->file, buf, MIN(sizeof(buf), a->len - off));

		if (n <= 0)
			die("read: %s", n ? strerror(errno) : "end of file");
		write_all(t.fd, buf, (size_t)n);
		off += (size_t)n;
	}
	target_wait(&t, &io);
	probe_stop(p);
	target_close(&t, &io);
}

#ifdef HAVE_URING
static void
ship_sent(void *arg, ssize_t res)
{
	*(ssize_t *)arg = res;
}

static void
ship_engine(struct probe *p, const struct ship_arg *a, struct rope_uring *u)
{
	struct rope *r = rope_new();
	struct io_target t;
	struct io_arg io;
	size_t off = 0, sending = 0;
	ssize_t res = 0;
	int ret;

	if (!r)
		die("rope_new");
	ship_start(a, &t, &io);
	probe_start(p);
	while (off < a->len || rope_size(r) || sending) {
		size_t ready = rope_size(r);
		struct rope_snap *snap;
		ssize_t n;

		if (sending && rope_uring_pending(u) == 0) {
			if (res != (ssize_t)sending)
				die("a send of %zu bytes ended with %zd",
				    sending, res);
			sending = 0;
		}
		if (!sending && (ready == SHIP_BLOCK ||
				 (ready && off == a->len))) {
			/* The block goes out; the next is read meanwhile. */
			if (rope_snapshot(r, &snap) < 0)
				die("rope_snapshot");
			res = 0;
			ret = rope_uring_send(u, t.fd, snap, 0, SIZE_MAX, 0,
					      ship_sent, &res);
			rope_snap_unref(snap);  /* the send holds its own */
			if (ret < 0 || rope_drain(r, ready) < 0)
				die("rope_uring_send: %d", ret);
			sending = ready;
		} else if (off < a->len && ready < SHIP_BLOCK) {
			n = rope_read_fd(r, a->file, MIN(SHIP_READ, MIN(
					 SHIP_BLOCK - ready, a->len - off)));
			if (n <= 0)
				die("rope_read_fd: %zd", n);
			off += (size_t)n;
		} else {
			/* The next block is ready: wait for this one. */
			if ((ret = rope_uring_run(u, 1)) < 0)
				die("rope_uring_run: %d", ret);
			continue;
		}
		if ((ret = rope_uring_run(u, 0)) < 0)
			die("rope_uring_run: %d", ret);
	}
	target_wait(&t, &io);
	probe_stop(p);
	target_close(&t, &io);
	rope_free(r);
}

static void
ship_with(struct probe *p, const struct ship_arg *a, bool fallback)
{
	struct rope_uring *u = engine_take(p, fallback ? a->fallback : a->uring,
					   fallback);

	if (!u)
		return;
	ship_engine(p, a, u);
	engine_done(u);
}

static void
ship_uring(struct probe *p, const void *arg)
{
	ship_with(p, arg, false);
}

static void
ship_fallback(struct probe *p, const void *arg)
{
	ship_with(p, arg, true);
}
#endif

static const struct way ship_ways[] = {
	{ "ropeio", "ropeio engine, io_uring", URING(ship_uring) },
	{ "ropeio", "ropeio engine, fallback", URING(ship_fallback) },
	{ "limit", "plain read()/write() loop", ship_loop, NULL },
};

void
scen_shipper(size_t bytes, int reps)
{
	struct ship_arg a = { .len = bytes };
	struct scen *s;

	a.file = data_file(bytes);
#ifdef HAVE_URING
	a.uring = engine_new(false);
	a.fallback = engine_new(true);
#endif
	s = scen_new("shipper", COL_MBS | COL_FAULTS, (double)bytes,
		     "log shipper: a %zu MiB file (page cache) to a loopback "
		     "TCP socket, 8 MiB in flight (%d runs)", bytes / MiB,
		     reps);
	measure(s, ship_ways, ARRAY_SIZE(ship_ways), &a, reps, 1);
	s->note = "timed: until the reader thread has read the last byte. "
		  "The engine sends 8 MiB blocks of a rope (read 1 MiB at a "
		  "time), the next read while one is in flight; the loop "
		  "reads and writes 256 KiB with one buffer.";
#ifdef HAVE_URING
	rope_uring_free(a.uring);
	rope_uring_free(a.fallback);
#endif
	close(a.file);
}
