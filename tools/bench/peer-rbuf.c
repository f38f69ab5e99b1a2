/* SPDX-License-Identifier: MIT */
/*
 * The realloc-doubling buffer in the benchmark tour: what most C programs
 * write by hand (struct rbuf), and its way of doing every scenario. An
 * immutable value of it is a copy, as nothing else survives its next write.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void
rbuf_grow(struct rbuf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 64;
	uint8_t *p;

	while (cap - b->len < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		die("realloc");
	b->data = p;
	b->cap = cap;
}

static inline void
rbuf_append(struct rbuf *b, const void *p, size_t n)
{
	if (n > b->cap - b->len)
		rbuf_grow(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Drop the first @n bytes, moving the rest to the front. */
static void
rbuf_consume(struct rbuf *b, size_t n)
{
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void
rbuf_fill(struct rbuf *b, const struct feed *f)
{
	size_t off = 0;

	for (size_t i = 0; i < f->count; i++) {
		rbuf_append(b, f->src + off, f->piece);
		off = feed_next(f, off);
	}
}

void
rbuf_free(struct rbuf *b)
{
	free(b->data);
	*b = (struct rbuf){ 0 };
}

static uint8_t
rbuf_at(const void *o, size_t pos)
{
	return ((const struct rbuf *)o)->data[pos];
}

void
append_rbuf(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	struct rbuf b = { 0 };

	probe_start(p);
	rbuf_fill(&b, f);
	probe_stop(p);
	verify(f, b.len, rbuf_at, &b, "realloc buffer");
	rbuf_free(&b);
}

void
gv_rbuf(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	struct rbuf b = { 0 };
	uint8_t *v[2];

	rbuf_fill(&b, f);
	for (int k = 0; k < 2; k++) {
		probe_start(&p[k]);
		v[k] = copy_of(b.data, b.len);
		probe_stop(&p[k]);
	}
	for (int k = 0; k < 2; k++) {
		verify(f, b.len, flat_at, v[k], "realloc buffer");
		free(v[k]);
	}
	rbuf_free(&b);
}

void
held_rbuf(struct probe *p, const void *arg)
{
	const struct held_arg *a = arg;
	struct rbuf b = { 0 };
	size_t len;
	const void *d = held_data(a->op, &len);
	uint8_t *v;

	rbuf_fill(&b, a->f);
	v = copy_of(b.data, b.len);
	probe_start(p);
	if (a->op == HELD_OVERWRITE_1)
		b.data[0] = 'x';
	else
		rbuf_append(&b, d, len);
	probe_stop(p);
	verify(a->f, feed_bytes(a->f), flat_at, v, "realloc buffer");
	free(v);
	rbuf_free(&b);
}

void
loop_rbuf(struct probe *p, const void *arg)
{
	const struct loop_arg *a = arg;
	const struct feed *f = a->f;
	uint8_t **keep = calloc(f->count, sizeof(*keep));
	struct rbuf b = { 0 };
	uint64_t acc = 0;
	size_t off = 0;

	probe_start(p);
	for (size_t i = 0; i < f->count; i++) {
		rbuf_append(&b, f->src + off, f->piece);
		if (a->hold)
			keep[i] = copy_of(b.data, b.len);
		acc += a->hold ? keep[i][b.len - 1] : b.data[b.len - 1];
		off = feed_next(f, off);
	}
	probe_stop(p);
	sink += acc;
	verify(f, b.len, rbuf_at, &b, "realloc buffer");
	for (size_t i = 0; a->hold && i < f->count; i++)
		free(keep[i]);
	free(keep);
	rbuf_free(&b);
}

void
http_rbuf(struct probe *p, const void *arg)
{
	const struct http *h = arg;
	struct http_tally t = { 0 };
	const uint8_t *in = h->stream;
	struct rbuf b = { 0 };
	size_t scan = 0;

	probe_start(p);
	for (size_t i = 0; i < h->nsplits; in += h->splits[i++]) {
		const uint8_t *m;

		rbuf_append(&b, in, h->splits[i]);
		while ((m = memmem(b.data + scan, b.len - scan, CRLF2, 4))) {
			http_seen(&t, b.data);
			rbuf_consume(&b, (size_t)(m - b.data) + 4);
			scan = 0;
		}
		scan = resume_at(b.len);
	}
	probe_stop(p);
	http_verify(h, &t, "realloc buffer");
	rbuf_free(&b);
}

void
getbuffer_rbuf(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;

	probe_start(p);
	a->iov[0] = (struct iovec){ a->rbuf.data, a->rbuf.len };
	escape(a->iov);
	probe_stop(p);
	export_check(a, a->iov[0].iov_len, "realloc buffer");
}

void
snapshot_rbuf(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;
	uint8_t *v;

	probe_start(p);
	v = copy_of(a->rbuf.data, a->rbuf.len);
	free(v);
	probe_stop(p);
	export_check(a, a->rbuf.len, "realloc buffer");
}

void
empty_rbuf(struct probe *p, const void *arg UNUSED)
{
	struct rbuf **b = calloc(EMPTIES, sizeof(*b));

	probe_start(p);
	for (int i = 0; i < EMPTIES; i++)
		if (!(b[i] = calloc(1, sizeof(**b))))
			die("calloc");
	probe_stop(p);
	for (int i = 0; i < EMPTIES; i++)
		free(b[i]);
	free(b);
	probe_scale(p, EMPTIES);
}

void
queue_rbuf(struct probe *p, const void *arg)
{
	const struct queue_arg *a = arg;
	const struct feed *f = a->f;
	struct rbuf b = { 0 };
	uint8_t last[16];
	size_t off = 0, prev = 0;

	for (size_t i = 0; i < a->warmup + f->count; i++) {
		if (i == a->warmup)
			probe_start(p);
		rbuf_append(&b, f->src + off, f->piece);
		if (i + 1 == a->warmup + f->count)
			memcpy(last, b.data, MIN(f->piece, 16));
		rbuf_consume(&b, f->piece);
		prev = off;
		off = feed_next(f, off);
	}
	probe_stop(p);
	queue_check(a, prev, last, "realloc buffer");
	rbuf_free(&b);
	probe_scale(p, (double)f->count);
}

void
proxy_rbuf(struct probe *p, const void *arg)
{
	const struct queue_arg *a = arg;
	const struct feed *f = a->f;
	struct rbuf b = { 0 };
	struct io_target t;
	size_t off = 0;

	proxy_open(&t, f->piece * (a->warmup + f->count));
	for (size_t i = 0; i < a->warmup + f->count; i++) {
		if (i == a->warmup)
			probe_start(p);
		rbuf_append(&b, f->src + off, f->piece);
		write_all(t.fd, b.data, b.len);
		rbuf_consume(&b, b.len);
		off = feed_next(f, off);
	}
	probe_stop(p);
	proxy_close(&t, f->piece * (a->warmup + f->count));
	rbuf_free(&b);
	probe_scale(p, (double)f->count);
}
