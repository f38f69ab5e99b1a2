/* SPDX-License-Identifier: MIT */
/*
 * Parser helpers: rope_find against memmem on the flat bytes (thousands of
 * random searches over ropes of tiny chunks and zero runs), readline with
 * delimiters, pullup, and cursors over ropes and snapshots.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t
rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? rng % n : 0;
}

/* A rope of pieces of 1..@maxpiece bytes from a 3-letter alphabet (many
 * near matches), mixing copies, borrowed memory and zero gaps (a seek past
 * the end, then one 'a'); the flat bytes go to *@flat. */
static struct rope *
mixed_rope(size_t len, size_t maxpiece, uint8_t **flat)
{
	struct rope *r = rope_new();
	uint8_t *f = malloc(len);
	size_t off = 0;

	for (size_t i = 0; i < len; i++)
		f[i] = (uint8_t)"abc"[rnd(3)];
	while (off < len) {
		size_t want = 1 + (size_t)rnd(maxpiece);  /* MIN evaluates twice */
		size_t n = MIN(want, len - off);
		unsigned how = (unsigned)rnd(10);

		if (how < 2 && off + n < len) {
			memset(f + off, 0, n);
			f[off + n] = 'a';
			rope_seek(r, (int64_t)(off + n), SEEK_SET);
			rope_write(r, "a", 1);
			n++;
		} else if (how < 5) {
			rope_append_ref(r, f + off, n, NULL, NULL);
		} else {
			rope_append(r, f + off, n);
		}
		off += n;
	}
	*flat = f;
	return r;
}

static int64_t
flat_find(const uint8_t *f, size_t len, const uint8_t *nd, size_t nlen,
	  size_t from)
{
	const uint8_t *p;

	if (nlen == 0)
		return from <= len ? (int64_t)from : -ENOENT;
	if (from > len)
		return -ENOENT;
	p = memmem(f + from, len - from, nd, nlen);
	return p ? (int64_t)(p - f) : -ENOENT;
}

static void
test_parse_find_matches_memmem(void)
{
	int mismatches = 0, found = 0, runs = 0;

	for (int round = 0; round < 6; round++) {
		size_t len = 2000 + (size_t)rnd(20000);
		uint8_t *f;
		struct rope *r = mixed_rope(len, round % 2 ? 3 : 40, &f);
		struct rope_info info;

		CU_ASSERT(t_equals(r, f, len));
		T_CHECK(r);
		rope_get_info(r, &info, sizeof(info));
		for (int k = 0; k < 1500; k++) {
			size_t nlen = (size_t)rnd(k % 10 ? 8 : 1500) + 1;
			size_t from = (size_t)rnd(len + 2);
			uint8_t nd[1600];
			int64_t want, got;

			/* Needles taken from the data (so they occur),
			 * sometimes altered, sometimes all zeros. */
			if (k % 7 == 0) {
				memset(nd, 0, nlen);
			} else {
				size_t at = (size_t)rnd(len);

				nlen = MIN(nlen, len - at);
				memcpy(nd, f + at, nlen);
				if (k % 3 == 0)
					nd[rnd(nlen)] ^= 0x40;
			}
			want = flat_find(f, len, nd, nlen, from);
			got = rope_find(r, nd, nlen, (int64_t)from);
			mismatches += want != got;
			found += want >= 0;
			runs++;
		}
		rope_free(r);
		free(f);
	}
	CU_ASSERT_EQUAL(mismatches, 0);
	/* The test must search for things that are there, too. */
	CU_ASSERT(found > runs / 3);
}

/*
 * A text of long runs of one letter (the worst case for a matcher that
 * restarts at every boundary) cut at random, with gaps of zeros; needles
 * with long periodic prefixes: a...ab, (ab)...abc, zeros then one byte.
 */
static struct rope *
periodic_rope(uint8_t *f, size_t len, size_t maxpiece)
{
	struct rope *r = rope_new();
	size_t off = 0;

	for (size_t i = 0; i < len; i++)
		f[i] = rnd(300) ? (i % 2 && rnd(2) ? 'b' : 'a') : 'c';
	for (size_t i = 0; i < len; i++)
		if (i % 4096 < 600 && (i / 4096) % 3 == 1)
			f[i] = i % 2 ? 'b' : 'a';  /* ababab... */
	while (off < len) {
		size_t want = 1 + (size_t)rnd(maxpiece);  /* not inside MIN */
		size_t n = MIN(want, len - off);

		if (rnd(len / 16) < maxpiece && off + n < len) {
			/* A zero run, then the byte after it (about 30 of
			 * them: each costs a fresh tail chunk). */
			memset(f + off, 0, n);
			rope_seek(r, (int64_t)(off + n), SEEK_SET);
			rope_write(r, f + off + n, 1);
			n++;
		} else if (rnd(len / 16) < maxpiece) {
			/* Some copies too (each after a borrowed piece also
			 * costs a fresh tail chunk). */
			rope_append(r, f + off, n);
		} else {
			rope_append_ref(r, f + off, n, NULL, NULL);
		}
		off += n;
	}
	return r;
}

static void
test_parse_find_periodic_needles_any_cut(void)
{
	static const size_t pieces[] = { 1, 3, 16, 700, 5000 };
	const size_t len = 60000;
	uint8_t *f = malloc(len), nd[3000];
	int mismatches = 0, found = 0, runs = 0;

	for (size_t round = 0; round < 2 * ARRAY_SIZE(pieces); round++) {
		size_t maxpiece = pieces[round % ARRAY_SIZE(pieces)];
		struct rope *r = periodic_rope(f, len, maxpiece);

		CU_ASSERT(t_equals(r, f, len));
		for (int k = 0; k < 300; k++) {
			size_t nlen = 1 + (size_t)rnd(k % 3 ? 40 : 2500);
			size_t from = (size_t)rnd(len);
			int64_t want, got;

			switch (k % 5) {
			case 0:    /* a...ab */
				memset(nd, 'a', nlen);
				nd[nlen - 1] = 'b';
				break;
			case 1:    /* abab...abc, or ...aba */
				for (size_t i = 0; i < nlen; i++)
					nd[i] = i % 2 ? 'b' : 'a';
				nd[nlen - 1] = k % 2 ? 'c' : nd[nlen - 1];
				break;
			case 2:    /* zeros, then a letter */
				memset(nd, 0, nlen);
				nd[nlen - 1] = k % 4 ? 'a' : 0;
				break;
			default: { /* from the text: it occurs */
				size_t at = (size_t)rnd(len);

				nlen = MIN(nlen, len - at);
				memcpy(nd, f + at, nlen);
				from = k % 2 ? (size_t)rnd(at + 1) : from;
				break;
			}
			}
			want = flat_find(f, len, nd, nlen, from);
			got = rope_find(r, nd, nlen, (int64_t)from);
			mismatches += want != got;
			found += want >= 0;
			runs++;
		}
		T_CHECK(r);
		rope_free(r);
	}
	CU_ASSERT_EQUAL(mismatches, 0);
	CU_ASSERT(found > runs / 3);
	free(f);
}

static void
test_parse_find_state_across_long_segments(void)
{
	struct rope *r = rope_new();

	/* "aaa" | "xya" "zzzz" "aab" | "b": the matcher state after the
	 * second piece must come from its own end, not from its head: "a"
	 * there and "aab" at its end are not "aaab". The third piece ends a
	 * match begun in the second. */
	rope_append_ref(r, "aaa", 3, NULL, NULL);
	rope_append_ref(r, "xyazzzzaab", 10, NULL, NULL);
	rope_append_ref(r, "b", 1, NULL, NULL);
	CU_ASSERT_EQUAL(rope_find(r, "aaab", 4, 0), -ENOENT);
	CU_ASSERT_EQUAL(rope_find(r, "aabb", 4, 0), 10);
	CU_ASSERT_EQUAL(rope_find(r, "aaax", 4, 0), 0);
	CU_ASSERT_EQUAL(rope_find(r, "ax", 2, 0), 2);
	CU_ASSERT_EQUAL(rope_find(r, "bb", 2, 0), 12);
	CU_ASSERT_EQUAL(rope_find(r, "bb", 2, 13), -ENOENT);
	T_CHECK(r);
	rope_free(r);
}

static void
test_parse_find_basics(void)
{
	struct rope *r = rope_new();
	struct rope_mem_stats a, b;

	rope_append_ref(r, "GET / HTTP/1.1\r", 15, NULL, NULL);
	rope_append_ref(r, "\n", 1, NULL, NULL);
	rope_append_ref(r, "Host: x\r\n\r", 10, NULL, NULL);
	rope_append_ref(r, "\nbody", 5, NULL, NULL);
	rope_mem_stats(&a, sizeof(a));
	/* "GET / HTTP/1.1\r" "\n" "Host: x\r\n\r" "\nbody": the blank
	 * line's CR LF CR LF sits at 23..26, across two pieces. */
	CU_ASSERT_EQUAL(rope_find(r, "\r\n\r\n", 4, 0), 23);
	CU_ASSERT_EQUAL(rope_find(r, "\r\n", 2, 0), 14);
	CU_ASSERT_EQUAL(rope_find(r, "\r\n", 2, 15), 23);
	CU_ASSERT_EQUAL(rope_find(r, "body", 4, 0), 27);
	CU_ASSERT_EQUAL(rope_find(r, "body!", 5, 0), -ENOENT);
	CU_ASSERT_EQUAL(rope_find(r, "G", 1, 1), -ENOENT);
	CU_ASSERT_EQUAL(rope_find(r, "", 0, 31), 31);
	CU_ASSERT_EQUAL(rope_find(r, "", 0, 32), -ENOENT);
	CU_ASSERT_EQUAL(rope_find(r, "x", 1, 1000), -ENOENT);
	rope_mem_stats(&b, sizeof(b));
	/* Short needles search without allocating. */
	CU_ASSERT_EQUAL(b.allocs, a.allocs);
	CU_ASSERT_EQUAL(rope_find(NULL, "x", 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_find(r, NULL, 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_find(r, "x", 1, -1), -EINVAL);
	rope_close(r);
	CU_ASSERT_EQUAL(rope_find(r, "x", 1, 0), -EBADF);
	rope_free(r);
}

static void
test_parse_find_in_long_zero_runs(void)
{
	struct rope *r = rope_new();
	uint8_t zeros[8] = { 0 };

	rope_write(r, "head", 4);
	rope_seek(r, 3u << 20, SEEK_SET);  /* three megabytes of zeros */
	rope_write(r, "\0\0tail", 6);
	CU_ASSERT_EQUAL(rope_find(r, zeros, 8, 0), 4);
	CU_ASSERT_EQUAL(rope_find(r, zeros, 8, 2u << 20), 2u << 20);
	CU_ASSERT_EQUAL(rope_find(r, "\0tail", 5, 0), (3u << 20) + 1);
	CU_ASSERT_EQUAL(rope_find(r, "d\0", 2, 0), 3);
	rope_free(r);
}

static void
test_parse_find_oom_for_big_needle(void)
{
	static uint8_t big[3000];
	struct rope *r = rope_new();

	memset(big, 'q', sizeof(big));
	rope_append_ref(r, big, 1500, NULL, NULL);
	rope_append_ref(r, big, 1500, NULL, NULL);
	rope__alloc_fail_at(0);
	CU_ASSERT_EQUAL(rope_find(r, big, 2000, 0), -ENOMEM);
	rope__alloc_fail_at(-1);
	CU_ASSERT_EQUAL(rope_find(r, big, 2000, 0), 0);
	CU_ASSERT_EQUAL(rope_find(r, big, 2000, 1001), -ENOENT);
	rope_free(r);
}

static void
test_parse_readline_delim(void)
{
	struct rope *r = rope_new();
	char buf[64];

	rope_append_ref(r, "line one\r", 9, NULL, NULL);
	rope_append_ref(r, "\nline two\r\n\r", 12, NULL, NULL);
	rope_append_ref(r, "\nbody without end", 17, NULL, NULL);
	CU_ASSERT_EQUAL(rope_readline_delim(r, buf, sizeof(buf), "\r\n", 2), 10);
	CU_ASSERT_NSTRING_EQUAL(buf, "line one\r\n", 10);
	/* The limit cuts a line short. */
	CU_ASSERT_EQUAL(rope_readline_delim(r, buf, 4, "\r\n", 2), 4);
	CU_ASSERT_NSTRING_EQUAL(buf, "line", 4);
	CU_ASSERT_EQUAL(rope_readline_delim(r, buf, sizeof(buf), "\r\n", 2), 6);
	CU_ASSERT_NSTRING_EQUAL(buf, " two\r\n", 6);
	CU_ASSERT_EQUAL(rope_readline_delim(r, buf, sizeof(buf), "\r\n", 2), 2);
	CU_ASSERT_EQUAL(rope_readline_delim(r, buf, sizeof(buf), "\r\n", 2), 16);
	CU_ASSERT_NSTRING_EQUAL(buf, "body without end", 16);
	CU_ASSERT_EQUAL(rope_readline_delim(r, buf, sizeof(buf), "\r\n", 2), 0);
	/* A blank-line delimiter, from the start: "two\r\n\r\n" ends at 22. */
	rope_seek(r, 0, SEEK_SET);
	CU_ASSERT_EQUAL(rope_readline_delim(r, buf, sizeof(buf), "\r\n\r\n", 4),
			22);
	CU_ASSERT_EQUAL(rope_tell(r), 22);
	CU_ASSERT_EQUAL(rope_readline_delim(r, buf, 1, "", 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_readline_delim(r, NULL, 1, "\n", 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_readline_delim(NULL, buf, 1, "\n", 1), -EINVAL);
	rope_free(r);
}

static void
test_parse_pullup_copies_only_across_segments(void)
{
	struct rope *r = rope_new();
	struct rope_mem_stats a, b;
	struct rope_info info;
	struct rope_snap *s;
	const void *p;

	rope_append_ref(r, "0123456789", 10, NULL, NULL);
	rope_append_ref(r, "abcdefghij", 10, NULL, NULL);
	rope_append_ref(r, "KLMNOPQRST", 10, NULL, NULL);
	rope_seek(r, 7, SEEK_SET);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	/* Within one segment: a pointer into it, nothing allocated. */
	rope_mem_stats(&a, sizeof(a));
	CU_ASSERT_EQUAL(rope_pullup(r, 12, 5, &p), 0);
	rope_mem_stats(&b, sizeof(b));
	CU_ASSERT_EQUAL(b.allocs, a.allocs);
	CU_ASSERT_EQUAL(memcmp(p, "cdefg", 5), 0);
	/* Across three segments: one chunk of exactly the range. */
	rope_mem_stats(&a, sizeof(a));
	CU_ASSERT_EQUAL(rope_pullup(r, 8, 15, &p), 0);
	rope_mem_stats(&b, sizeof(b));
	CU_ASSERT(b.total - a.total < 15 + 64 + 128);
	CU_ASSERT_EQUAL(memcmp(p, "89abcdefghijKLM", 15), 0);
	T_CHECK(r);
	rope_get_info(r, &info, sizeof(info));
	CU_ASSERT_EQUAL(info.segments, 3);  /* [01234567][89...KLM][NOPQRST] */
	CU_ASSERT_EQUAL(rope_tell(r), 7);
	CU_ASSERT(t_equals(r, "0123456789abcdefghijKLMNOPQRST", 30));
	/* The snapshot still sees its own chunks, unchanged. */
	{
		struct iovec iov[4];

		CU_ASSERT_EQUAL(rope_snap_iov(s, 0, SIZE_MAX, iov, 4), 3);
	}
	rope_snap_unref(s);
	/* The whole rope, then an append. */
	CU_ASSERT_EQUAL(rope_pullup(r, 0, 30, &p), 0);
	CU_ASSERT_EQUAL(memcmp(p, "0123456789abcdefghijKLMNOPQRST", 30), 0);
	CU_ASSERT_EQUAL(rope_append(r, "!", 1), 1);
	T_CHECK(r);
	CU_ASSERT(t_equals(r, "0123456789abcdefghijKLMNOPQRST!", 31));
	rope_free(r);
}

/* Writing the rope's own bytes back into it (through a pullup pointer)
 * writes them as they were before the call, whatever the overlap. */
static void
test_parse_pullup_pointer_written_back(void)
{
	enum { N = 200000, K = 100000 };
	uint8_t *want = malloc(N), *got = malloc(N + 1);
	static const size_t shifts[] = { 1, 3, K / 2 };
	struct rope *r;
	const void *p;

	/* Each shift over one chunk, then over two (the overwrite then
	 * spans both, and the source lies in the first). */
	for (size_t i = 0; i < 2 * ARRAY_SIZE(shifts); i++) {
		size_t d = shifts[i % ARRAY_SIZE(shifts)];

		t_pattern(want, N, 7);
		r = t_rope_from("");
		if (i < ARRAY_SIZE(shifts)) {
			CU_ASSERT_EQUAL(rope_write(r, want, N), N);
		} else {
			CU_ASSERT_EQUAL(rope_write(r, want, K), K);
			CU_ASSERT_EQUAL(rope_write(r, want + K, N - K), N - K);
		}
		CU_ASSERT_EQUAL(rope_pullup(r, 0, K, &p), 0);
		/* Forward (the destination after the source)... */
		CU_ASSERT_EQUAL(rope_seek(r, (int64_t)d, SEEK_SET), (int64_t)d);
		CU_ASSERT_EQUAL(rope_write(r, p, K), K);
		memmove(want + d, want, K);
		CU_ASSERT_EQUAL(rope_pread(r, got, N + 1, 0), N);
		CU_ASSERT(memcmp(got, want, N) == 0);
		/* ...and backward. */
		CU_ASSERT_EQUAL(rope_pullup(r, (int64_t)d, K, &p), 0);
		CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_SET), 0);
		CU_ASSERT_EQUAL(rope_write(r, p, K), K);
		memmove(want, want + d, K);
		CU_ASSERT_EQUAL(rope_pread(r, got, N + 1, 0), N);
		CU_ASSERT(memcmp(got, want, N) == 0);
		T_CHECK(r);
		rope_free(r);
	}
	/* An overwrite that extends the stream: the bytes that go past the
	 * end come from the range being overwritten. */
	r = t_rope_from("abcdef");
	CU_ASSERT_EQUAL(rope_pullup(r, 0, 6, &p), 0);
	CU_ASSERT_EQUAL(rope_seek(r, 3, SEEK_SET), 3);
	CU_ASSERT_EQUAL(rope_write(r, p, 6), 6);
	T_EQUALS_STR(r, "abcabcdef");
	T_CHECK(r);
	rope_free(r);
	free(want);
	free(got);
}

static void
test_parse_pullup_errors_and_zeros(void)
{
	struct rope *r = rope_new();
	struct iovec iov[4];
	const void *p;

	rope_write(r, "ab", 2);
	rope_seek(r, (2u << 20) + 2, SEEK_SET);
	rope_write(r, "z", 1);
	/* Inside the zero run, within the real block: no copy. */
	CU_ASSERT_EQUAL(rope_pullup(r, 10, 1000, &p), 0);
	CU_ASSERT_EQUAL(((const uint8_t *)p)[999], 0);
	/* Longer than the real zero block: a copy. */
	CU_ASSERT_EQUAL(rope_pullup(r, 1, (2u << 20) + 1, &p), 0);
	CU_ASSERT_EQUAL(((const uint8_t *)p)[0], 'b');
	CU_ASSERT_EQUAL(((const uint8_t *)p)[2u << 20], 0);
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_pullup(r, 0, 0, &p), 0);
	CU_ASSERT_EQUAL(rope_pullup(r, -1, 1, &p), -EINVAL);
	CU_ASSERT_EQUAL(rope_pullup(r, 0, (2u << 20) + 4, &p), -EINVAL);
	CU_ASSERT_EQUAL(rope_pullup(r, 0, 1, NULL), -EINVAL);
	rope_free(r);

	r = rope_new();
	rope_append_ref(r, "abc", 3, NULL, NULL);
	rope_append_ref(r, "def", 3, NULL, NULL);
	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 4), 1);  /* unshared: 1 chunk */
	CU_ASSERT_EQUAL(rope_pullup(r, 1, 4, &p), 0);   /* no copy needed */
	rope_releasebuffer(r);
	rope_free(r);

	r = rope_new();
	rope_append(r, "abc", 3);
	rope_append_ref(r, "def", 3, NULL, NULL);
	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 4), 2);
	CU_ASSERT_EQUAL(rope_pullup(r, 1, 4, &p), -EBUSY);
	rope_releasebuffer(r);
	rope__alloc_fail_at(0);
	CU_ASSERT_EQUAL(rope_pullup(r, 1, 4, &p), -ENOMEM);
	rope__alloc_fail_at(-1);
	T_CHECK(r);
	CU_ASSERT(t_equals(r, "abcdef", 6));
	rope_close(r);
	CU_ASSERT_EQUAL(rope_pullup(r, 0, 0, &p), -EBADF);
	rope_free(r);
}

static void
test_parse_cursor_integers_across_chunks(void)
{
	static const uint8_t bytes[] = {
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
		0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	};
	struct rope *r = rope_new();
	struct rope_cursor c;
	uint64_t v64;
	uint32_t v32;
	uint16_t v16;
	uint8_t v8;

	/* One byte per segment: every integer spans chunks. */
	for (size_t i = 0; i < sizeof(bytes); i++)
		rope_append_ref(r, &bytes[i], 1, NULL, NULL);
	CU_ASSERT_EQUAL(rope_cursor_init(&c, r, 0), 0);
	CU_ASSERT_EQUAL(rope_cursor_u8(&c, &v8), 0);
	CU_ASSERT_EQUAL(v8, 0x01);
	CU_ASSERT_EQUAL(rope_cursor_u16be(&c, &v16), 0);
	CU_ASSERT_EQUAL(v16, 0x0203);
	CU_ASSERT_EQUAL(rope_cursor_u16le(&c, &v16), 0);
	CU_ASSERT_EQUAL(v16, 0x0504);
	CU_ASSERT_EQUAL(rope_cursor_u32be(&c, &v32), 0);
	CU_ASSERT_EQUAL(v32, 0x06070809);
	CU_ASSERT_EQUAL(rope_cursor_u32le(&c, &v32), 0);
	CU_ASSERT_EQUAL(v32, 0x0d0c0b0a);
	CU_ASSERT_EQUAL(rope_cursor_u64be(&c, &v64), 0);
	CU_ASSERT_EQUAL(v64, 0x0e0f101112131415ull);
	CU_ASSERT_EQUAL(rope_cursor_tell(&c), 21);
	CU_ASSERT_EQUAL(rope_cursor_remaining(&c), 10);
	/* Not enough for 8 more after skipping 3: nothing moves. */
	CU_ASSERT_EQUAL(rope_cursor_skip(&c, 3), 0);
	CU_ASSERT_EQUAL(rope_cursor_u64le(&c, &v64), -ENODATA);
	CU_ASSERT_EQUAL(rope_cursor_tell(&c), 24);
	CU_ASSERT_EQUAL(rope_cursor_u32le(&c, &v32), 0);
	CU_ASSERT_EQUAL(v32, 0x1c1b1a19);
	CU_ASSERT_EQUAL(rope_cursor_skip(&c, 4), -ENODATA);
	CU_ASSERT_EQUAL(rope_cursor_skip(&c, 3), 0);
	CU_ASSERT_EQUAL(rope_cursor_u8(&c, &v8), -ENODATA);
	CU_ASSERT_EQUAL(rope_cursor_read(&c, &v8, 1), 0);
	/* The rope's own position never moved. */
	CU_ASSERT_EQUAL(rope_tell(r), 0);
	rope_free(r);
}

static void
test_parse_cursor_over_snapshot_and_changes(void)
{
	struct rope *r = rope_new();
	struct rope_cursor cr, cs;
	struct rope_snap *s;
	const void *p;
	char buf[16];

	rope_append(r, "hello ", 6);
	rope_append_ref(r, "world", 5, NULL, NULL);
	rope_snapshot(r, &s);
	CU_ASSERT_EQUAL(rope_cursor_init_snap(&cs, s, 4), 0);
	CU_ASSERT_EQUAL(rope_cursor_init(&cr, r, 4), 0);
	/* The rope changes under the rope cursor (its segment array moves);
	 * the snapshot cursor sees the old bytes. */
	for (int i = 0; i < 50; i++)
		rope_append_ref(r, "!", 1, NULL, NULL);
	rope_seek(r, 0, SEEK_SET);
	rope_write(r, "HELLO", 5);
	CU_ASSERT_EQUAL(rope_cursor_read(&cr, buf, 7), 7);
	CU_ASSERT_NSTRING_EQUAL(buf, "O world", 7);
	CU_ASSERT_EQUAL(rope_cursor_read(&cs, buf, 16), 7);
	CU_ASSERT_NSTRING_EQUAL(buf, "o world", 7);
	CU_ASSERT_EQUAL(rope_cursor_remaining(&cs), 0);
	/* peek: the contiguous bytes at the cursor. */
	CU_ASSERT_EQUAL(rope_cursor_init_snap(&cs, s, 2), 0);
	CU_ASSERT_EQUAL(rope_cursor_peek(&cs, &p), 4);
	CU_ASSERT_EQUAL(memcmp(p, "llo ", 4), 0);
	CU_ASSERT_EQUAL(rope_cursor_skip(&cs, 4), 0);
	CU_ASSERT_EQUAL(rope_cursor_peek(&cs, &p), 5);
	CU_ASSERT_EQUAL(memcmp(p, "world", 5), 0);
	CU_ASSERT_EQUAL(rope_cursor_init_snap(&cs, s, 12), -EINVAL);
	CU_ASSERT_EQUAL(rope_cursor_init(&cr, r, -1), -EINVAL);
	CU_ASSERT_EQUAL(rope_cursor_init(NULL, r, 0), -EINVAL);
	CU_ASSERT_EQUAL(rope_cursor_u8(NULL, (uint8_t *)buf), -EINVAL);
	rope_snap_unref(s);
	rope_free(r);
}

static void
test_parse_cursor_walks_many_segments(void)
{
	uint8_t *data;
	size_t len;
	struct rope *r = t_many_chunks(5000, 50, 7, &data, &len);
	struct rope_cursor c;
	uint8_t *back = malloc(len);
	size_t got = 0;

	CU_ASSERT_EQUAL(rope_cursor_init(&c, r, 0), 0);
	while (got < len) {
		ssize_t n = rope_cursor_read(&c, back + got, 1 + got % 97);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	CU_ASSERT_EQUAL(got, len);
	CU_ASSERT_EQUAL(memcmp(back, data, len), 0);
	free(back);
	free(data);
	rope_free(r);
}

static const struct t_test tests[] = {
	{ "cursor_integers_across_chunks", test_parse_cursor_integers_across_chunks },
	{ "cursor_over_snapshot_and_changes", test_parse_cursor_over_snapshot_and_changes },
	{ "cursor_walks_many_segments", test_parse_cursor_walks_many_segments },
	{ "find_basics", test_parse_find_basics },
	{ "find_in_long_zero_runs", test_parse_find_in_long_zero_runs },
	{ "find_matches_memmem", test_parse_find_matches_memmem },
	{ "find_oom_for_big_needle", test_parse_find_oom_for_big_needle },
	{ "find_periodic_needles_any_cut", test_parse_find_periodic_needles_any_cut },
	{ "find_state_across_long_segments", test_parse_find_state_across_long_segments },
	{ "pullup_copies_only_across_segments", test_parse_pullup_copies_only_across_segments },
	{ "pullup_errors_and_zeros", test_parse_pullup_errors_and_zeros },
	{ "pullup_pointer_written_back", test_parse_pullup_pointer_written_back },
	{ "readline_delim", test_parse_readline_delim },
};

int
main(void)
{
	return t_run("parse", tests, ARRAY_SIZE(tests));
}
