/* SPDX-License-Identifier: MIT */
/*
 * Scenario: an HTTP-like parser over random splits.
 *
 * A stream of request headers, each ending in "\r\n\r\n", arrives in random
 * pieces of 1 to 4,096 bytes. After each piece the parser looks for every
 * complete header (resuming its search 3 bytes before where the last one
 * stopped), reads its first 4 bytes, and consumes it. Every peer does
 * exactly that; the limit looks for the same ends in the whole stream,
 * already contiguous.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static size_t
http_message(char *out, size_t room)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "HEAD" };
	size_t n = (size_t)snprintf(out, room, "%s /r/%u HTTP/1.1\r\n"
				    "Host: example.com\r\n",
				    methods[rng() % 4], (unsigned)(rng() % 100000));
	size_t headers = rng_range(2, 24);

	for (size_t h = 0; h < headers; h++) {
		size_t vlen = rng_range(8, 80);

		n += (size_t)snprintf(out + n, room - n, "X-H%zu: ", h);
		for (size_t i = 0; i < vlen; i++)
			out[n++] = "abcdefghijklmnopqrstuvwxyz0123456789"[rng() % 36];
		out[n++] = '\r';
		out[n++] = '\n';
	}
	memcpy(out + n, "\r\n", 2);
	return n + 2;
}

void
http_generate(struct http *h, size_t target)
{
	size_t cap = target + 4 * KiB, left;

	*h = (struct http){ .stream = malloc(cap) };
	if (!h->stream)
		die("malloc");
	while (h->len < target) {
		char msg[4 * KiB];
		size_t n = http_message(msg, sizeof(msg));

		memcpy(h->stream + h->len, msg, n);
		h->check += (uint8_t)msg[0] + (uint8_t)msg[3];
		h->len += n;
		h->messages++;
	}
	h->splits = malloc((h->len + 1) * sizeof(*h->splits));
	if (!h->splits)
		die("malloc");
	for (left = h->len; left; ) {
		size_t n = rng_range(1, 4096);

		n = n < left ? n : left;
		h->splits[h->nsplits++] = (uint32_t)n;
		left -= n;
	}
}

void
http_seen(struct http_tally *t, const uint8_t head[4])
{
	t->messages++;
	t->check += head[0] + head[3];
}

void
http_verify(const struct http *h, const struct http_tally *t, const char *who)
{
	if (t->messages != h->messages || t->check != h->check)
		die("%s parsed %zu messages (check %llu), not %zu (%llu)", who,
		    t->messages, (unsigned long long)t->check, h->messages,
		    (unsigned long long)h->check);
	sink += t->check;
}

/* Where the next search starts: 3 bytes before the end, for a "\r\n\r\n"
 * that the next piece completes. */
size_t
resume_at(size_t len)
{
	return len > 3 ? len - 3 : 0;
}

static const struct way http_ways[] = {
	{ "ropeio", "ropeio rope_find", http_rope_find, NULL },
	{ "ropeio", "ropeio struct rope_cursor", http_rope_cursor, NULL },
	{ "evbuffer", "evbuffer_search", EVB(http_evb_search) },
	{ "evbuffer", "evbuffer_pullup + memmem", EVB(http_evb_pullup) },
	{ "gbytearray", "GByteArray + memmem", GBA(http_gba) },
	{ "realloc", "realloc buffer + memmem", http_rbuf, NULL },
	{ "limit", "limit: memmem, flat stream", http_limit, NULL },
};

void
scen_http(const struct http *h, int reps)
{
	struct scen *s = scen_new("http", COL_MBS, (double)h->len,
				  "HTTP-like parser: %zu headers, %.1f MiB in "
				  "%zu random splits of 1-4096 B (%d runs)",
				  h->messages, (double)h->len / MiB,
				  h->nsplits, reps);

	measure(s, http_ways, ARRAY_SIZE(http_ways), h, reps, 0);
	py_add(s, "http", "CPython getvalue().find");
	if (py.ran && py.http_check != (double)h->check)
		die("CPython's parser saw other bytes (check %.0f, not %llu)",
		    py.http_check, (unsigned long long)h->check);
}
