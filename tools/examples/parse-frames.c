/* SPDX-License-Identifier: MIT */
/*
 * A parser that flattens lazily: a text header block, then length-prefixed
 * binary frames, read out of a rope as the bytes arrive in small pieces.
 *
 *   PROTO/1\r\n                       the header block: text lines,
 *   Frames: 40\r\n                    ended by an empty line
 *   \r\n
 *   [type u16be][length u32be][payload][sum u32le]    x 40
 *
 * Nothing is copied to parse it:
 *
 *   rope_find()    finds the end of the header block across any number of
 *                  chunks;
 *   rope_pullup()  makes just that block contiguous for memchr() and
 *                  strtoul() (a copy only when it spans chunks), and a
 *                  text payload likewise;
 *   a cursor       reads the integers across chunk boundaries and walks a
 *                  binary payload with rope_cursor_peek(), which points
 *                  into the chunks themselves.
 *
 * An incomplete frame is left where it is until more bytes come: the
 * cursor lives on the stack, so giving up costs nothing. The program checks
 * every frame's type, length and checksum against what it generated and
 * exits with status 1 on any difference.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ropeio.h>

#define FRAMES 40
#define TEXT 1			/* a frame type whose payload is text */
#define BLOB 2			/* ... and one whose payload is binary */

struct parser {
	int in_body;		/* past the header block */
	unsigned long frames;	/* the header's Frames: value */
	unsigned seen;		/* frames parsed */
	size_t pulled;		/* bytes rope_pullup() made contiguous */
	int bad;
};

/* Parse "Name: value" lines in [p, p + len): the block is contiguous. */
static void parse_headers(struct parser *ps, const char *p, size_t len)
{
	const char *end = p + len;

	while (p < end) {
		const char *eol = memchr(p, '\r', end - p);

		if (!eol)
			break;
		if (eol - p > 8 && memcmp(p, "Frames: ", 8) == 0)
			ps->frames = strtoul(p + 8, NULL, 10);
		printf("header: %.*s\n", (int)(eol - p), p);
		p = eol + 2;
	}
}

/* One frame at the front of the rope, if it is all there: 1, else 0. */
static int parse_frame(struct parser *ps, struct rope *r)
{
	struct rope_cursor c;
	uint16_t type;
	uint32_t len, sum = 0, want;

	if (rope_cursor_init(&c, r, 0) < 0 ||
	    rope_cursor_u16be(&c, &type) < 0 || rope_cursor_u32be(&c, &len) < 0 ||
	    rope_cursor_remaining(&c) < (size_t)len + 4)
		return 0;		/* incomplete: wait for more bytes */
	if (type == TEXT) {
		const void *p;

		/* Contiguous, for string functions: copies only if split. */
		if (rope_pullup(r, 6, len, &p) < 0)
			return ps->bad = 1, 0;
		for (uint32_t i = 0; i < len; i++)
			sum += ((const unsigned char *)p)[i];
		ps->pulled += len;
		if (ps->seen % 10 == 0)
			printf("frame %u: text \"%.*s\"\n", ps->seen, (int)len,
			       (const char *)p);
		rope_cursor_skip(&c, len);
	} else {
		/* Binary: walk it in place, one segment's run at a time. */
		uint32_t left = len;

		while (left > 0) {
			const unsigned char *p;
			ssize_t run = rope_cursor_peek(&c, (const void **)&p);

			if (run <= 0)
				return ps->bad = 1, 0;
			if ((size_t)run > left)
				run = left;
			for (ssize_t i = 0; i < run; i++)
				sum += p[i];
			rope_cursor_skip(&c, run);
			left -= run;
		}
	}
	rope_cursor_u32le(&c, &want);
	if (sum != want || type != (ps->seen % 3 ? BLOB : TEXT)) {
		fprintf(stderr, "frame %u: type %u, sum %u, want %u\n",
			ps->seen, type, sum, want);
		ps->bad = 1;
	}
	ps->seen++;
	return rope_drain(r, 6 + (size_t)len + 4) > 0;
}

/* Parse what the rope holds; keep what is incomplete for later. */
static void parse(struct parser *ps, struct rope *r)
{
	if (!ps->in_body) {
		int64_t end = rope_find(r, "\r\n\r\n", 4, 0);
		const void *block;

		if (end < 0)
			return;		/* -ENOENT: the block is not all here */
		if (rope_pullup(r, 0, end + 2, &block) < 0) {
			ps->bad = 1;
			return;
		}
		ps->pulled += end + 2;
		parse_headers(ps, block, end + 2);
		rope_drain(r, end + 4);
		ps->in_body = 1;
	}
	while (!ps->bad && parse_frame(ps, r))
		;
}

/* Append a big-endian or little-endian integer of n bytes. */
static size_t put(unsigned char *p, uint32_t v, int n, int big)
{
	for (int i = 0; i < n; i++)
		p[i] = v >> (8 * (big ? n - 1 - i : i));
	return n;
}

/* The stream a peer would send: the header block and FRAMES frames. */
static size_t generate(unsigned char *out)
{
	size_t len = sprintf((char *)out, "PROTO/1\r\nSender: the example\r\n"
			     "Frames: %d\r\n\r\n", FRAMES);

	for (unsigned f = 0; f < FRAMES; f++) {
		uint32_t n = f % 3 ? 1000 + 997 * f : 20 + f, sum = 0;

		len += put(out + len, f % 3 ? BLOB : TEXT, 2, 1);
		len += put(out + len, n, 4, 1);
		for (uint32_t i = 0; i < n; i++) {
			out[len + i] = f % 3 ? (unsigned char)(i * 7 + f) :
					       "abcdefghijklmnopqrstuvwxyz"[i % 26];
			sum += out[len + i];
		}
		len += n;
		len += put(out + len, sum, 4, 0);
	}
	return len;
}

int main(void)
{
	static unsigned char wire[1 << 20];
	size_t len = generate(wire), off = 0, step = 1;
	struct parser ps = { 0 };
	struct rope *r = rope_new();
	struct rope_info info;

	/* The bytes arrive in pieces of 1 to 4,093 bytes, as from a socket. */
	while (r && off < len && !ps.bad) {
		size_t piece = step < len - off ? step : len - off;

		if (rope_append(r, wire + off, piece) < 0)
			break;
		off += piece;
		step = (step * 5 + 3) % 4093 + 1;
		parse(&ps, r);
	}
	if (!r || rope_get_info(r, &info, sizeof(info)) < 0)
		return 1;
	printf("%u of %lu frames, %zu bytes received, %zu made contiguous, "
	       "%zu left\n", ps.seen, ps.frames, len, ps.pulled, info.size);
	rope_free(r);
	return ps.bad || ps.seen != FRAMES || ps.frames != FRAMES ||
	       info.size != 0 || off != len;
}
