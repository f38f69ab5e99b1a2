/* SPDX-License-Identifier: MIT */
/*
 * libevent's evbuffer in the benchmark tour: its way of doing every
 * scenario it can. Built only when libevent was found (HAVE_LIBEVENT).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct evbuffer *
evb_built(const struct feed *f)
{
	struct evbuffer *b = evbuffer_new();
	size_t off = 0;

	if (!b)
		die("evbuffer_new");
	for (size_t i = 0; i < f->count; i++) {
		if (evbuffer_add(b, f->src + off, f->piece) < 0)
			die("evbuffer_add");
		off = feed_next(f, off);
	}
	return b;
}

static uint8_t
evb_at(const void *o, size_t pos)
{
	struct evbuffer *b = (struct evbuffer *)o;
	struct evbuffer_ptr ptr;
	uint8_t c = 0;

	if (evbuffer_ptr_set(b, &ptr, pos, EVBUFFER_PTR_SET) < 0 ||
	    evbuffer_copyout_from(b, &ptr, &c, 1) != 1)
		die("evbuffer_copyout_from");
	return c;
}

void
append_evb(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	struct evbuffer *b;

	probe_start(p);
	b = evb_built(f);
	probe_stop(p);
	verify(f, evbuffer_get_length(b), evb_at, b, "evbuffer");
	evbuffer_free(b);
}

void
gv_evb(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	struct evbuffer *b = evb_built(f);
	const uint8_t *v[2];

	for (int k = 0; k < 2; k++) {
		probe_start(&p[k]);
		v[k] = evbuffer_pullup(b, -1);
		probe_stop(&p[k]);
		if (!v[k])
			die("evbuffer_pullup");
	}
	verify(f, evbuffer_get_length(b), flat_at, v[1], "evbuffer");
	evbuffer_free(b);
}

void
held_evb(struct probe *p, const void *arg)
{
	const struct held_arg *a = arg;
	struct evbuffer *b = evb_built(a->f);
	size_t len;
	const void *d = held_data(a->op, &len);

	if (a->op == HELD_OVERWRITE_1) {
		p->skip = "evbuffer has no overwrite";
		evbuffer_free(b);
		return;
	}
	if (!evbuffer_pullup(b, -1))
		die("evbuffer_pullup");
	probe_start(p);
	if (evbuffer_add(b, d, len) < 0)
		die("evbuffer_add");
	probe_stop(p);
	evbuffer_free(b);
}

void
loop_evb(struct probe *p, const void *arg)
{
	const struct loop_arg *a = arg;
	const struct feed *f = a->f;
	struct evbuffer *b;
	uint64_t acc = 0;
	size_t off = 0;

	if (a->hold) {
		p->skip = "evbuffer has no immutable value";
		return;
	}
	probe_start(p);
	b = evbuffer_new();
	for (size_t i = 0; i < f->count; i++) {
		const uint8_t *v;

		if (!b || evbuffer_add(b, f->src + off, f->piece) < 0 ||
		    !(v = evbuffer_pullup(b, -1)))
			die("evbuffer_add/evbuffer_pullup");
		acc += v[evbuffer_get_length(b) - 1];
		off = feed_next(f, off);
	}
	probe_stop(p);
	sink += acc;
	verify(f, evbuffer_get_length(b), evb_at, b, "evbuffer");
	evbuffer_free(b);
}

void
http_evb_search(struct probe *p, const void *arg)
{
	const struct http *h = arg;
	struct http_tally t = { 0 };
	const uint8_t *in = h->stream;
	struct evbuffer *b;
	size_t scan = 0;

	probe_start(p);
	b = evbuffer_new();
	for (size_t i = 0; i < h->nsplits; in += h->splits[i++]) {
		struct evbuffer_ptr from, at;
		uint8_t head[4];

		if (!b || evbuffer_add(b, in, h->splits[i]) < 0)
			die("evbuffer_add");
		for (;;) {
			if (evbuffer_ptr_set(b, &from, scan,
					     EVBUFFER_PTR_SET) < 0)
				die("evbuffer_ptr_set");
			at = evbuffer_search(b, CRLF2, 4, &from);
			if (at.pos < 0)
				break;
			if (evbuffer_copyout(b, head, 4) != 4 ||
			    evbuffer_drain(b, (size_t)at.pos + 4) < 0)
				die("evbuffer_copyout/evbuffer_drain");
			http_seen(&t, head);
			scan = 0;
		}
		scan = resume_at(evbuffer_get_length(b));
	}
	probe_stop(p);
	http_verify(h, &t, "evbuffer_search");
	evbuffer_free(b);
}

void
http_evb_pullup(struct probe *p, const void *arg)
{
	const struct http *h = arg;
	struct http_tally t = { 0 };
	const uint8_t *in = h->stream;
	struct evbuffer *b;
	size_t scan = 0;

	probe_start(p);
	b = evbuffer_new();
	for (size_t i = 0; i < h->nsplits; in += h->splits[i++]) {
		const uint8_t *v, *m;
		size_t len;

		if (!b || evbuffer_add(b, in, h->splits[i]) < 0)
			die("evbuffer_add");
		for (;;) {
			len = evbuffer_get_length(b);
			v = evbuffer_pullup(b, -1);
			if (!v || !(m = memmem(v + scan, len - scan, CRLF2, 4)))
				break;
			http_seen(&t, v);
			if (evbuffer_drain(b, (size_t)(m - v) + 4) < 0)
				die("evbuffer_drain");
			scan = 0;
		}
		scan = resume_at(evbuffer_get_length(b));
	}
	probe_stop(p);
	http_verify(h, &t, "evbuffer_pullup");
	evbuffer_free(b);
}

void
getbuffer_evb(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;
	int n;

	probe_start(p);
	n = evbuffer_peek(a->evb, -1, NULL, NULL, 0);
	if (n < 0 || n > a->iovcnt ||
	    (n = evbuffer_peek(a->evb, -1, NULL, a->iov, n)) < 0)
		die("evbuffer_peek");
	probe_stop(p);
	export_check(a, iov_sum(a->iov, n), "evbuffer");
}

void
snapshot_evb(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;
	struct evbuffer *s;
	size_t n;

	probe_start(p);
	s = evbuffer_new();
	if (!s || evbuffer_add_buffer_reference(s, a->evb) < 0)
		die("evbuffer_add_buffer_reference");
	n = evbuffer_get_length(s);
	evbuffer_free(s);
	probe_stop(p);
	export_check(a, n, "evbuffer");
}

/* evbuffer_write() drains what it wrote, so each run writes a fresh
 * evbuffer, built (by copying appends, not timed) before the clock starts. */
void
io_evb(struct probe *p, const void *arg)
{
	const struct io_arg *a = arg;
	struct evbuffer *b = evb_built(a->f);
	struct io_target t;

	target_open(&t, a);
	probe_start(p);
	while (evbuffer_get_length(b))
		if (evbuffer_write(b, t.fd) < 0)
			die("evbuffer_write: %s", strerror(errno));
	target_wait(&t, a);
	probe_stop(p);
	target_close(&t, a);
	evbuffer_free(b);
}

void
empty_evb(struct probe *p, const void *arg UNUSED)
{
	struct evbuffer **b = calloc(EMPTIES, sizeof(*b));

	probe_start(p);
	for (int i = 0; i < EMPTIES; i++)
		if (!(b[i] = evbuffer_new()))
			die("evbuffer_new");
	probe_stop(p);
	for (int i = 0; i < EMPTIES; i++)
		evbuffer_free(b[i]);
	free(b);
	probe_scale(p, EMPTIES);
}

void
segment_evb(struct probe *p, const void *arg UNUSED)
{
	struct evbuffer *b = evbuffer_new();

	if (!b)
		die("evbuffer_new");
	probe_start(p);
	for (size_t i = 0; i < PIECES; i++)
		if (evbuffer_add_reference(b, ref_piece(i), 16, NULL, NULL) < 0)
			die("evbuffer_add_reference");
	probe_stop(p);
	if (evbuffer_get_length(b) != PIECES * 16)
		die("evbuffer_add_reference lost bytes");
	evbuffer_free(b);
	probe_scale(p, PIECES);
}

void
queue_evb(struct probe *p, const void *arg)
{
	const struct queue_arg *a = arg;
	const struct feed *f = a->f;
	struct evbuffer *b = evbuffer_new();
	uint8_t last[16];
	size_t off = 0, prev = 0;

	if (!b)
		die("evbuffer_new");
	for (size_t i = 0; i < a->warmup + f->count; i++) {
		if (i == a->warmup)
			probe_start(p);
		if (evbuffer_add(b, f->src + off, f->piece) < 0)
			die("evbuffer_add");
		if (i + 1 == a->warmup + f->count &&
		    evbuffer_copyout(b, last, MIN(f->piece, 16)) < 0)
			die("evbuffer_copyout");
		if (evbuffer_drain(b, f->piece) < 0)
			die("evbuffer_drain");
		prev = off;
		off = feed_next(f, off);
	}
	probe_stop(p);
	queue_check(a, prev, last, "evbuffer");
	evbuffer_free(b);
	probe_scale(p, (double)f->count);
}

void
proxy_evb(struct probe *p, const void *arg)
{
	const struct queue_arg *a = arg;
	const struct feed *f = a->f;
	struct evbuffer *b = evbuffer_new();
	struct io_target t;
	size_t off = 0;

	if (!b)
		die("evbuffer_new");
	proxy_open(&t, f->piece * (a->warmup + f->count));
	for (size_t i = 0; i < a->warmup + f->count; i++) {
		if (i == a->warmup)
			probe_start(p);
		if (evbuffer_add(b, f->src + off, f->piece) < 0)
			die("evbuffer_add");
		while (evbuffer_get_length(b))
			if (evbuffer_write(b, t.fd) <= 0)
				die("evbuffer_write: %s", strerror(errno));
		off = feed_next(f, off);
	}
	probe_stop(p);
	proxy_close(&t, f->piece * (a->warmup + f->count));
	evbuffer_free(b);
	probe_scale(p, (double)f->count);
}
