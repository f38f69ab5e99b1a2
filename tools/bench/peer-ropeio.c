/* SPDX-License-Identifier: MIT */
/*
 * ropeio in the benchmark tour: its way of doing every scenario, through
 * the public API only (ropeio.h, ropeio-uring.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

void
rope_fill(struct rope *r, const struct feed *f)
{
	size_t off = 0;

	for (size_t i = 0; i < f->count; i++) {
		if (rope_write(r, f->src + off, f->piece) < 0)
			die("rope_write");
		off = feed_next(f, off);
	}
}

struct rope *
rope_built(const struct feed *f)
{
	struct rope *r = rope_new();

	if (!r)
		die("rope_new");
	rope_fill(r, f);
	return r;
}

uint8_t
rope_at(const void *o, size_t pos)
{
	uint8_t b = 0;

	if (rope_pread(o, &b, 1, (int64_t)pos) != 1)
		die("rope_pread");
	return b;
}

void
append_rope(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	struct rope *r;

	probe_start(p);
	r = rope_built(f);
	probe_stop(p);
	verify(f, rope_size(r), rope_at, r, "ropeio");
	rope_free(r);
}

/*
 * The bytes as one immutable value. ropeio flattens once and caches;
 * evbuffer_pullup() flattens in place (no separate value: its pointer is
 * valid until the next change); a contiguous buffer has its bytes in one
 * place already, but a value that outlives its next write is a copy
 * (g_bytes_new(), malloc + memcpy). The limit is one malloc + memcpy of the
 * bytes into fresh memory: exactly one copy, page faults included.
 */
void
gv_rope(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	struct rope *r = rope_built(f);
	struct rope_bytes *v, *v2;

	probe_start(&p[0]);
	if (rope_getvalue(r, &v) < 0)
		die("rope_getvalue");
	probe_stop(&p[0]);
	probe_start(&p[1]);
	if (rope_getvalue(r, &v2) < 0)
		die("rope_getvalue");
	probe_stop(&p[1]);
	verify(f, rope_bytes_size(v), flat_at, rope_bytes_data(v), "ropeio");
	verify(f, rope_bytes_size(v2), flat_at, rope_bytes_data(v2), "ropeio");
	rope_bytes_unref(v);
	rope_bytes_unref(v2);
	rope_free(r);
}

void
held_rope(struct probe *p, const void *arg)
{
	const struct held_arg *a = arg;
	struct rope *r = rope_built(a->f);
	struct rope_bytes *v;
	size_t len;
	const void *d = held_data(a->op, &len);

	if (rope_getvalue(r, &v) < 0)
		die("rope_getvalue");
	probe_start(p);
	rope_seek(r, 0, a->op == HELD_OVERWRITE_1 ? SEEK_SET : SEEK_END);
	if (rope_write(r, d, len) != (ssize_t)len)
		die("rope_write");
	probe_stop(p);
	verify(a->f, rope_bytes_size(v), flat_at, rope_bytes_data(v), "ropeio");
	rope_bytes_unref(v);
	rope_free(r);
}

void
loop_rope(struct probe *p, const void *arg)
{
	const struct loop_arg *a = arg;
	const struct feed *f = a->f;
	struct rope_bytes **keep = calloc(f->count, sizeof(*keep));
	struct rope *r;
	uint64_t acc = 0;
	size_t off = 0;

	probe_start(p);
	r = rope_new();
	for (size_t i = 0; i < f->count; i++) {
		struct rope_bytes *v;

		if (!r || rope_write(r, f->src + off, f->piece) < 0 ||
		    rope_getvalue(r, &v) < 0)
			die("rope_write/rope_getvalue");
		acc += ((const uint8_t *)rope_bytes_data(v))[rope_bytes_size(v) - 1];
		if (a->hold)
			keep[i] = v;
		else
			rope_bytes_unref(v);
		off = feed_next(f, off);
	}
	probe_stop(p);
	sink += acc;
	verify(f, rope_size(r), rope_at, r, "ropeio");
	for (size_t i = 0; a->hold && i < f->count; i++)
		rope_bytes_unref(keep[i]);
	free(keep);
	rope_free(r);
}

void
http_rope_find(struct probe *p, const void *arg)
{
	const struct http *h = arg;
	struct http_tally t = { 0 };
	const uint8_t *in = h->stream;
	struct rope *r;
	int64_t scan = 0;

	probe_start(p);
	r = rope_new();
	for (size_t i = 0; i < h->nsplits; in += h->splits[i++]) {
		int64_t at;
		uint8_t head[4];

		if (!r || rope_append(r, in, h->splits[i]) < 0)
			die("rope_append");
		while ((at = rope_find(r, CRLF2, 4, scan)) >= 0) {
			if (rope_pread(r, head, 4, 0) != 4 ||
			    rope_drain(r, (size_t)at + 4) < 0)
				die("rope_pread/rope_drain");
			http_seen(&t, head);
			scan = 0;
		}
		if (at != -ENOENT)
			die("rope_find: %lld", (long long)at);
		scan = (int64_t)resume_at(rope_size(r));
	}
	probe_stop(p);
	http_verify(h, &t, "ropeio rope_find");
	rope_free(r);
}

/* The "\r\n\r\n" matcher as a state machine: how much of the needle the
 * bytes seen so far end with (4: all of it). */
static unsigned
crlf2_step(unsigned state, uint8_t c)
{
	if (c == '\r')
		return state == 2 ? 3 : 1;
	if (c == '\n')
		return state == 1 ? 2 : state == 3 ? 4 : 0;
	return 0;
}

/*
 * rope_find() done by hand with a cursor: memmem() inside each contiguous
 * span that rope_cursor_peek() shows, the state machine across the joins.
 */
static int64_t
cursor_find_crlf2(const struct rope *r, int64_t from)
{
	struct rope_cursor c;
	unsigned state = 0;
	const void *span;
	ssize_t n;

	if (rope_cursor_init(&c, r, from) < 0)
		die("rope_cursor_init");
	while ((n = rope_cursor_peek(&c, &span)) > 0) {
		const uint8_t *s = span, *m;
		int64_t base = rope_cursor_tell(&c);
		size_t i = 0, len = (size_t)n;

		while (state && i < len)
			if ((state = crlf2_step(state, s[i++])) == 4)
				return base + (int64_t)i - 4;
		if (i < len && (m = memmem(s + i, len - i, CRLF2, 4)))
			return base + (m - s);
		/* A partial match at the end lies in the last 3 bytes. */
		for (size_t j = len > i + 3 ? len - 3 : i; j < len; j++)
			state = crlf2_step(state, s[j]);
		if (rope_cursor_skip(&c, len) < 0)
			die("rope_cursor_skip");
	}
	return -ENOENT;
}

void
http_rope_cursor(struct probe *p, const void *arg)
{
	const struct http *h = arg;
	struct http_tally t = { 0 };
	const uint8_t *in = h->stream;
	struct rope *r;
	int64_t scan = 0;

	probe_start(p);
	r = rope_new();
	for (size_t i = 0; i < h->nsplits; in += h->splits[i++]) {
		struct rope_cursor c;
		int64_t at;
		uint8_t head[4];

		if (!r || rope_append(r, in, h->splits[i]) < 0)
			die("rope_append");
		while ((at = cursor_find_crlf2(r, scan)) >= 0) {
			if (rope_cursor_init(&c, r, 0) < 0 ||
			    rope_cursor_read(&c, head, 4) != 4 ||
			    rope_drain(r, (size_t)at + 4) < 0)
				die("rope_cursor_read/rope_drain");
			http_seen(&t, head);
			scan = 0;
		}
		scan = (int64_t)resume_at(rope_size(r));
	}
	probe_stop(p);
	http_verify(h, &t, "ropeio rope_cursor");
	rope_free(r);
}

void
getbuffer_rope(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;
	int n;

	probe_start(p);
	n = rope_getbuffer(a->rope, NULL, 0);
	if (n < 0 || n > a->iovcnt ||
	    (n = rope_getbuffer(a->rope, a->iov, a->iovcnt)) < 0 ||
	    rope_releasebuffer(a->rope) < 0)
		die("rope_getbuffer");
	probe_stop(p);
	export_check(a, iov_sum(a->iov, n), "ropeio");
}

void
snapshot_rope(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;
	struct rope_snap *s;
	size_t n;

	probe_start(p);
	if (rope_snapshot(a->rope, &s) < 0)
		die("rope_snapshot");
	n = rope_snap_size(s);
	rope_snap_unref(s);
	probe_stop(p);
	export_check(a, n, "ropeio");
}

#ifdef HAVE_URING
static void
io_done(void *arg, ssize_t res)
{
	*(ssize_t *)arg = res;
}

static void
io_engine(struct probe *p, const struct io_arg *a, struct rope_uring *u)
{
	struct io_target t;
	ssize_t res = 0;
	int ret;

	target_open(&t, a);
	probe_start(p);
	if (a->tcp)
		ret = rope_uring_send(u, t.fd, a->snap, 0, SIZE_MAX, 0,
				      io_done, &res);
	else
		ret = rope_uring_pwrite(u, t.fd, a->snap, 0, SIZE_MAX, 0,
					io_done, &res);
	if (ret < 0)
		die("rope_uring_send/pwrite: %d", ret);
	while (rope_uring_pending(u))
		if ((ret = rope_uring_run(u, 1)) < 0)
			die("rope_uring_run: %d", ret);
	if (res != (ssize_t)a->len)
		die("the transfer ended with %zd", res);
	target_wait(&t, a);
	probe_stop(p);
	target_close(&t, a);
}

/* The engine of the process: in a cold child a new one, as a fresh
 * process would make (made and freed outside the timed window). */
static void
io_with(struct probe *p, const struct io_arg *a, bool fallback)
{
	struct rope_uring *u = engine_take(p, fallback ? a->fallback : a->uring,
					   fallback);

	if (!u)
		return;
	io_engine(p, a, u);
	engine_done(u);
}

void
io_uring(struct probe *p, const void *arg)
{
	io_with(p, arg, false);
}

void
io_fallback(struct probe *p, const void *arg)
{
	io_with(p, arg, true);
}

struct rope_uring *
engine_new(bool fallback)
{
	struct rope_uring *u;

	if (fallback)
		setenv("ROPEIO_NO_URING", "1", 1);
	else
		unsetenv("ROPEIO_NO_URING");
	if (rope_uring_new(&u, 64) < 0)
		die("rope_uring_new");
	unsetenv("ROPEIO_NO_URING");
	if (!fallback && rope_uring_is_fallback(u)) {
		rope_uring_free(u);
		return NULL;
	}
	return u;
}

struct rope_uring *
engine_take(struct probe *p, struct rope_uring *warm, bool fallback)
{
	struct rope_uring *u = bench_cold ? engine_new(fallback) : warm;

	if (!u)
		p->skip = "io_uring is unavailable here (the engine fell "
			  "back to plain syscalls)";
	return u;
}

void
engine_done(struct rope_uring *u)
{
	if (bench_cold)
		rope_uring_free(u);
}
#endif

void
empty_rope(struct probe *p, const void *arg UNUSED)
{
	struct rope **r = calloc(EMPTIES, sizeof(*r));

	probe_start(p);
	for (int i = 0; i < EMPTIES; i++)
		if (!(r[i] = rope_new()))
			die("rope_new");
	probe_stop(p);
	for (int i = 0; i < EMPTIES; i++)
		rope_free(r[i]);
	free(r);
	probe_scale(p, EMPTIES);
}

void
segment_rope(struct probe *p, const void *arg UNUSED)
{
	struct rope *r = rope_new();

	if (!r)
		die("rope_new");
	probe_start(p);
	for (size_t i = 0; i < PIECES; i++)
		if (rope_append_ref(r, ref_piece(i), 16, NULL, NULL) < 0)
			die("rope_append_ref");
	probe_stop(p);
	if (rope_size(r) != PIECES * 16)
		die("rope_append_ref lost bytes");
	rope_free(r);
	probe_scale(p, PIECES);
}

struct rope_info empty_info, seg_info;
double empty_own_bytes, empty_own_allocs;

void
rope_self_report(void)
{
	struct rope_mem_stats a, b;
	struct rope *r;

	rope_mem_stats(&a, sizeof(a));
	r = rope_new();
	rope_mem_stats(&b, sizeof(b));
	if (!r || rope_get_info(r, &empty_info, sizeof(empty_info)) < 0)
		die("rope_get_info");
	empty_own_bytes = (double)(b.allocated - a.allocated);
	empty_own_allocs = (double)(b.allocs - a.allocs);
	for (size_t i = 0; i < PIECES; i++)
		if (rope_append_ref(r, ref_piece(i), 16, NULL, NULL) < 0)
			die("rope_append_ref");
	rope_get_info(r, &seg_info, sizeof(seg_info));
	rope_free(r);
}


void
queue_rope(struct probe *p, const void *arg)
{
	const struct queue_arg *a = arg;
	const struct feed *f = a->f;
	struct rope *r = rope_new();
	uint8_t last[16];
	size_t off = 0, prev = 0;

	if (!r)
		die("rope_new");
	for (size_t i = 0; i < a->warmup + f->count; i++) {
		if (i == a->warmup)
			probe_start(p);
		if (rope_append(r, f->src + off, f->piece) < 0)
			die("rope_append");
		if (i + 1 == a->warmup + f->count &&
		    rope_pread(r, last, MIN(f->piece, 16), 0) < 0)
			die("rope_pread");
		if (rope_drain(r, f->piece) != (int64_t)f->piece)
			die("rope_drain");
		prev = off;
		off = feed_next(f, off);
	}
	probe_stop(p);
	queue_check(a, prev, last, "ropeio");
	rope_free(r);
	probe_scale(p, (double)f->count);
}

void
proxy_rope(struct probe *p, const void *arg)
{
	const struct queue_arg *a = arg;
	const struct feed *f = a->f;
	struct rope *r = rope_new();
	struct io_target t;
	size_t off = 0;

	if (!r)
		die("rope_new");
	proxy_open(&t, f->piece * (a->warmup + f->count));
	for (size_t i = 0; i < a->warmup + f->count; i++) {
		if (i == a->warmup)
			probe_start(p);
		if (rope_append(r, f->src + off, f->piece) < 0)
			die("rope_append");
		while (rope_size(r))
			if (rope_write_fd(r, t.fd, SIZE_MAX) <= 0)
				die("rope_write_fd");
		off = feed_next(f, off);
	}
	probe_stop(p);
	proxy_close(&t, f->piece * (a->warmup + f->count));
	rope_free(r);
	probe_scale(p, (double)f->count);
}
