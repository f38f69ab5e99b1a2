/* SPDX-License-Identifier: MIT */
/*
 * GLib's GByteArray in the benchmark tour: its way of doing every scenario
 * it can. An immutable value of it is a GBytes, a copy. Built only when GLib
 * was found (HAVE_GLIB).
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

GByteArray *
gba_built(const struct feed *f)
{
	GByteArray *a = g_byte_array_new();
	size_t off = 0;

	for (size_t i = 0; i < f->count; i++) {
		g_byte_array_append(a, f->src + off, (guint)f->piece);
		off = feed_next(f, off);
	}
	return a;
}

static uint8_t
gba_at(const void *o, size_t pos)
{
	return ((const GByteArray *)o)->data[pos];
}

void
append_gba(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	GByteArray *a;

	probe_start(p);
	a = gba_built(f);
	probe_stop(p);
	verify(f, a->len, gba_at, a, "GByteArray");
	g_byte_array_free(a, TRUE);
}

void
gv_gba(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	GByteArray *arr = gba_built(f);
	GBytes *v[2];

	for (int k = 0; k < 2; k++) {
		probe_start(&p[k]);
		v[k] = g_bytes_new(arr->data, arr->len);
		probe_stop(&p[k]);
	}
	for (int k = 0; k < 2; k++) {
		verify(f, g_bytes_get_size(v[k]), flat_at,
		       g_bytes_get_data(v[k], NULL), "GByteArray");
		g_bytes_unref(v[k]);
	}
	g_byte_array_free(arr, TRUE);
}

void
held_gba(struct probe *p, const void *arg)
{
	const struct held_arg *a = arg;
	GByteArray *arr = gba_built(a->f);
	size_t len;
	const void *d = held_data(a->op, &len);
	GBytes *v = g_bytes_new(arr->data, arr->len);

	probe_start(p);
	if (a->op == HELD_OVERWRITE_1)
		arr->data[0] = 'x';
	else
		g_byte_array_append(arr, d, (guint)len);
	probe_stop(p);
	verify(a->f, g_bytes_get_size(v), flat_at, g_bytes_get_data(v, NULL),
	       "GByteArray");
	g_bytes_unref(v);
	g_byte_array_free(arr, TRUE);
}

void
loop_gba(struct probe *p, const void *arg)
{
	const struct loop_arg *a = arg;
	const struct feed *f = a->f;
	GBytes **keep = calloc(f->count, sizeof(*keep));
	GByteArray *arr;
	uint64_t acc = 0;
	size_t off = 0;

	probe_start(p);
	arr = g_byte_array_new();
	for (size_t i = 0; i < f->count; i++) {
		g_byte_array_append(arr, f->src + off, (guint)f->piece);
		if (a->hold) {
			keep[i] = g_bytes_new(arr->data, arr->len);
			acc += ((const uint8_t *)g_bytes_get_data(keep[i], NULL))
				[arr->len - 1];
		} else {
			acc += arr->data[arr->len - 1];
		}
		off = feed_next(f, off);
	}
	probe_stop(p);
	sink += acc;
	verify(f, arr->len, gba_at, arr, "GByteArray");
	for (size_t i = 0; a->hold && i < f->count; i++)
		g_bytes_unref(keep[i]);
	free(keep);
	g_byte_array_free(arr, TRUE);
}

void
http_gba(struct probe *p, const void *arg)
{
	const struct http *h = arg;
	struct http_tally t = { 0 };
	const uint8_t *in = h->stream;
	GByteArray *a;
	size_t scan = 0;

	probe_start(p);
	a = g_byte_array_new();
	for (size_t i = 0; i < h->nsplits; in += h->splits[i++]) {
		const uint8_t *m;

		g_byte_array_append(a, in, h->splits[i]);
		while ((m = memmem(a->data + scan, a->len - scan, CRLF2, 4))) {
			http_seen(&t, a->data);
			g_byte_array_remove_range(a, 0,
						  (guint)(m - a->data) + 4);
			scan = 0;
		}
		scan = resume_at(a->len);
	}
	probe_stop(p);
	http_verify(h, &t, "GByteArray");
	g_byte_array_free(a, TRUE);
}

void
getbuffer_gba(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;

	probe_start(p);
	a->iov[0] = (struct iovec){ a->gba->data, a->gba->len };
	escape(a->iov);
	probe_stop(p);
	export_check(a, a->iov[0].iov_len, "GByteArray");
}

void
snapshot_gba(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;
	GBytes *v;
	size_t n;

	probe_start(p);
	v = g_bytes_new(a->gba->data, a->gba->len);
	n = g_bytes_get_size(v);
	g_bytes_unref(v);
	probe_stop(p);
	export_check(a, n, "GByteArray");
}

void
empty_gba(struct probe *p, const void *arg UNUSED)
{
	GByteArray **a = calloc(EMPTIES, sizeof(*a));

	probe_start(p);
	for (int i = 0; i < EMPTIES; i++)
		a[i] = g_byte_array_new();
	probe_stop(p);
	for (int i = 0; i < EMPTIES; i++)
		g_byte_array_free(a[i], TRUE);
	free(a);
	probe_scale(p, EMPTIES);
}

void
queue_gba(struct probe *p, const void *arg)
{
	const struct queue_arg *a = arg;
	const struct feed *f = a->f;
	GByteArray *b = g_byte_array_new();
	uint8_t last[16];
	size_t off = 0, prev = 0;

	for (size_t i = 0; i < a->warmup + f->count; i++) {
		if (i == a->warmup)
			probe_start(p);
		g_byte_array_append(b, f->src + off, (guint)f->piece);
		if (i + 1 == a->warmup + f->count)
			memcpy(last, b->data, MIN(f->piece, 16));
		g_byte_array_remove_range(b, 0, (guint)f->piece);
		prev = off;
		off = feed_next(f, off);
	}
	probe_stop(p);
	queue_check(a, prev, last, "GByteArray");
	g_byte_array_free(b, TRUE);
	probe_scale(p, (double)f->count);
}

void
proxy_gba(struct probe *p, const void *arg)
{
	const struct queue_arg *a = arg;
	const struct feed *f = a->f;
	GByteArray *b = g_byte_array_new();
	struct io_target t;
	size_t off = 0;

	proxy_open(&t, f->piece * (a->warmup + f->count));
	for (size_t i = 0; i < a->warmup + f->count; i++) {
		if (i == a->warmup)
			probe_start(p);
		g_byte_array_append(b, f->src + off, (guint)f->piece);
		write_all(t.fd, b->data, b->len);
		g_byte_array_remove_range(b, 0, b->len);
		off = feed_next(f, off);
	}
	probe_stop(p);
	proxy_close(&t, f->piece * (a->warmup + f->count));
	g_byte_array_free(b, TRUE);
	probe_scale(p, (double)f->count);
}
