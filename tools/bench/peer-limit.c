/* SPDX-License-Identifier: MIT */
/*
 * The limit of the benchmark tour: what no buffer can beat. memcpy into an
 * array allocated and touched beforehand, one write(2) of contiguous bytes,
 * memmem over a flat stream. And one reference that is not the limit: the
 * same memcpy into an array malloc'd just before (append_fresh).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

uint8_t *limit_buf;
static size_t limit_cap;

void
limit_prepare(size_t n)
{
	if (n <= limit_cap)
		return;
	free(limit_buf);
	limit_buf = malloc(n);
	if (!limit_buf)
		die("malloc");
	memset(limit_buf, 1, n);
	limit_cap = n;
}

size_t
limit_fill(uint8_t *dst, const struct feed *f)
{
	size_t off = 0, len = 0;

	for (size_t i = 0; i < f->count; i++) {
		memcpy(dst + len, f->src + off, f->piece);
		len += f->piece;
		off = feed_next(f, off);
	}
	escape(dst);
	return len;
}

void
append_limit(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	size_t n;

	if (bench_cold) {
		p->skip = WARM_ONLY;
		return;
	}
	probe_start(p);
	n = limit_fill(limit_buf, f);
	probe_stop(p);
	verify(f, n, flat_at, limit_buf, "limit");
}

/* Not the limit, but what it costs with the page faults every peer pays:
 * the same memcpy calls into one array malloc'd just before. */
void
append_fresh(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	uint8_t *dst;
	size_t n;

	probe_start(p);
	dst = malloc(feed_bytes(f));
	if (!dst)
		die("malloc");
	n = limit_fill(dst, f);
	probe_stop(p);
	verify(f, n, flat_at, dst, "fresh memcpy");
	free(dst);
}

void
gv_limit(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	uint8_t *v;

	probe_start(&p[0]);
	v = copy_of(limit_buf, feed_bytes(f));
	probe_stop(&p[0]);
	p[1].skip = "no limit for a cached value";
	verify(f, feed_bytes(f), flat_at, v, "limit");
	free(v);
}

void
loop_limit(struct probe *p, const void *arg)
{
	const struct loop_arg *a = arg;
	const struct feed *f = a->f;
	uint64_t acc = 0;
	size_t off = 0, len = 0;

	if (a->hold || bench_cold) {
		p->skip = a->hold ? "no limit for held values" : WARM_ONLY;
		return;
	}
	probe_start(p);
	for (size_t i = 0; i < f->count; i++) {
		memcpy(limit_buf + len, f->src + off, f->piece);
		len += f->piece;
		escape(limit_buf);
		acc += limit_buf[len - 1];
		off = feed_next(f, off);
	}
	probe_stop(p);
	sink += acc;
	verify(f, len, flat_at, limit_buf, "limit");
}

void
http_limit(struct probe *p, const void *arg)
{
	const struct http *h = arg;
	struct http_tally t = { 0 };
	const uint8_t *at = h->stream, *end = h->stream + h->len, *m;

	probe_start(p);
	while ((m = memmem(at, (size_t)(end - at), CRLF2, 4))) {
		http_seen(&t, at);
		at = m + 4;
	}
	probe_stop(p);
	http_verify(h, &t, "limit");
}

void
io_write(struct probe *p, const void *arg)
{
	const struct io_arg *a = arg;
	struct io_target t;
	size_t off = 0;

	target_open(&t, a);
	probe_start(p);
	while (off < a->len) {
		ssize_t w = write(t.fd, a->flat + off, a->len - off);

		if (w <= 0)
			die("write: %s", strerror(errno));
		off += (size_t)w;
	}
	target_wait(&t, a);
	probe_stop(p);
	target_close(&t, a);
}

/* A queue whose array was allocated and touched before: copy in, and
 * "drain" by starting over. */
void
queue_limit(struct probe *p, const void *arg)
{
	const struct queue_arg *a = arg;
	const struct feed *f = a->f;
	size_t off = 0, prev = 0;

	if (bench_cold) {
		p->skip = WARM_ONLY;
		return;
	}
	limit_prepare(f->piece);
	for (size_t i = 0; i < a->warmup + f->count; i++) {
		if (i == a->warmup)
			probe_start(p);
		memcpy(limit_buf, f->src + off, f->piece);
		escape(limit_buf);
		prev = off;
		off = feed_next(f, off);
	}
	probe_stop(p);
	queue_check(a, prev, limit_buf, "limit");
	probe_scale(p, (double)f->count);
}

/* No buffer at all: each message written from where it already is. */
void
proxy_limit(struct probe *p, const void *arg)
{
	const struct queue_arg *a = arg;
	const struct feed *f = a->f;
	struct io_target t;
	size_t off = 0;

	proxy_open(&t, f->piece * (a->warmup + f->count));
	for (size_t i = 0; i < a->warmup + f->count; i++) {
		if (i == a->warmup)
			probe_start(p);
		write_all(t.fd, f->src + off, f->piece);
		off = feed_next(f, off);
	}
	probe_stop(p);
	proxy_close(&t, f->piece * (a->warmup + f->count));
	probe_scale(p, (double)f->count);
}
