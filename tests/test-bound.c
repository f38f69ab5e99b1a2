/* SPDX-License-Identifier: MIT */
/*
 * The memory bound (invariant 12 in rope-priv.h): what ropeio allocates for
 * a rope stays within ROPE_MEM_FACTOR times its bytes, plus ROPE_MEM_PER_SEG
 * per segment, plus ROPE_MEM_SLACK, whatever the sequence of calls. Each
 * test drives one pattern that once broke it and checks the bound after
 * every step, stopping at the first breach, so a regression fails fast
 * instead of allocating gigabytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char head16[] = "HTTP/1.1 200 OK\n";
static char body[64 << 10];

static void
no_release(void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	(void)arg;
}

/* A release callback that counts its calls in *@arg. */
static void
count_release(void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	++*(int *)arg;
}

/*
 * The bound, and the target for the patterns that broke it: at
 * most 4 times the bytes plus 1 MiB, measured with rope_mem_stats() from
 * before the rope was made. Prints the first breach.
 */
static bool
within_bound(const struct rope *r, size_t before, int step)
{
	size_t used = t_mem_now() - before;
	size_t target = 4 * rope_size(r) + (1u << 20);

	if (rope__mem_footprint(r) <= rope__mem_bound(r) && used <= target)
		return true;
	fprintf(stderr, "step %d: %zu bytes held, %zu allocated (footprint "
		"%zu, bound %zu)\n", step, rope_size(r), used,
		rope__mem_footprint(r), rope__mem_bound(r));
	return false;
}

/* Segments of @r that are runs of zeros (the zero chunk). */
static size_t
zero_segments(const struct rope *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nseg; i++)
		n += r->segs[i].chunk->kind == ROPE_CHUNK_ZERO;
	return n;
}

/* A server's response: a copied head, a referenced body, 1,000 times.
 * The tail chunk's doubling once made this 33 GB for 19,000 bytes. */
static void
test_bound_head_and_tiny_reference(void)
{
	size_t before = t_mem_now();
	struct rope *r = rope_new();
	int i;

	for (i = 0; i < 1000; i++) {
		CU_ASSERT_EQUAL_FATAL(rope_append(r, head16, 16), 16);
		CU_ASSERT_EQUAL_FATAL(rope_append_ref(r, body, 3, no_release,
						      NULL), 0);
		if (!within_bound(r, before, i))
			break;
	}
	CU_ASSERT_EQUAL(i, 1000);
	CU_ASSERT_EQUAL(rope_size(r), 19000);
	T_CHECK(r);
	rope_free(r);
}

static void
test_bound_head_and_body(void)
{
	size_t before = t_mem_now();
	struct rope *r = rope_new();
	int i;

	for (i = 0; i < 1000; i++) {
		CU_ASSERT_EQUAL_FATAL(rope_append(r, head16, 16), 16);
		CU_ASSERT_EQUAL_FATAL(rope_append_ref(r, body, 600, no_release,
						      NULL), 0);
		if (!within_bound(r, before, i))
			break;
	}
	CU_ASSERT_EQUAL(i, 1000);
	T_CHECK(r);
	rope_free(r);
}

/* The heads go to the room left before each reference: a few chunks,
 * not one per response. */
static void
test_bound_heads_share_the_room_before_references(void)
{
	struct rope *r = rope_new();
	struct t_mem_stats a, b;

	CU_ASSERT_EQUAL(rope_append(r, head16, 16), 16);
	t_mem_stats(&a);
	for (int i = 0; i < 100; i++) {
		rope_append_ref(r, body, 600, no_release, NULL);
		rope_append(r, head16, 16);
	}
	t_mem_stats(&b);
	/* 100 external chunk headers, the segment array's doublings (7)
	 * and a few tail chunks (1,600 bytes of heads: 256, 256, 512,
	 * 1,024): with a fresh chunk per head it would be 200. */
	CU_ASSERT(b.allocs + b.cache_hits - a.allocs - a.cache_hits <= 120);
	T_CHECK(r);
	rope_free(r);
}

/* Reads of a byte from a socket or pipe, each followed by a reference:
 * each read once took a fresh 64 KiB chunk (13 MB for 120 KB); the room
 * held past the reference takes the next read. */
static void
test_bound_reads_between_references(void)
{
	size_t before = t_mem_now();
	struct rope *r = rope_new();
	int p[2], i;

	CU_ASSERT_FATAL(pipe(p) == 0);
	for (i = 0; i < 200; i++) {
		CU_ASSERT_FATAL(write(p[1], "x", 1) == 1);
		CU_ASSERT_EQUAL_FATAL(rope_read_fd(r, p[0], 1 << 20), 1);
		CU_ASSERT_EQUAL_FATAL(rope_append_ref(r, body, 600, no_release,
						      NULL), 0);
		if (!within_bound(r, before, i))
			break;
	}
	CU_ASSERT_EQUAL(i, 200);
	T_CHECK(r);
	close(p[0]);
	close(p[1]);
	rope_free(r);
}

/* A parser that steps one byte past the end and writes one. */
static void
test_bound_one_byte_gaps(void)
{
	size_t before = t_mem_now();
	struct rope *r = rope_new();
	struct rope_info info;
	int i;

	for (i = 0; i < 300; i++) {
		CU_ASSERT_EQUAL_FATAL(rope_seek(r, 1, SEEK_END),
				      (int64_t)rope_size(r) + 1);
		CU_ASSERT_EQUAL_FATAL(rope_write(r, "y", 1), 1);
		if (!within_bound(r, before, i))
			break;
	}
	CU_ASSERT_EQUAL(i, 300);
	CU_ASSERT_EQUAL(zero_segments(r), 0);  /* gaps are zeros in the tail */
	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	CU_ASSERT(info.segments <= 3);  /* 600 bytes: 256 + 256 + 512 */
	T_CHECK(r);
	rope_free(r);
}

/* Sparse writes: gaps long enough to stay zero segments, so every write
 * ends a claim and needs a fresh chunk. Each of those once doubled the
 * next one's size (a reintroduced doubling fails here at about step 17). */
static void
test_bound_long_gaps(void)
{
	size_t before = t_mem_now();
	struct rope *r = rope_new();
	int i;

	for (i = 0; i < 300; i++) {
		CU_ASSERT_EQUAL_FATAL(rope_seek(r, ROPE_GAP_COPY_MAX + 1,
						SEEK_END),
				      (int64_t)rope_size(r) +
				      ROPE_GAP_COPY_MAX + 1);
		CU_ASSERT_EQUAL_FATAL(rope_write(r, "y", 1), 1);
		if (!within_bound(r, before, i))
			break;
	}
	CU_ASSERT_EQUAL(i, 300);
	CU_ASSERT_EQUAL(zero_segments(r), 300);
	T_CHECK(r);
	rope_free(r);
}

/* A gap longer than ROPE_GAP_COPY_MAX stays a zero segment; a shorter one
 * becomes zeros; either reads as zeros. */
static void
test_bound_gaps_short_copied_long_virtual(void)
{
	struct rope *r = rope_new();
	uint8_t buf[ROPE_GAP_COPY_MAX + 8];
	uint8_t zeros[ROPE_GAP_COPY_MAX + 8] = { 0 };

	rope_write(r, "a", 1);
	rope_seek(r, ROPE_GAP_COPY_MAX, SEEK_CUR);
	rope_write(r, "b", 1);
	CU_ASSERT_EQUAL(zero_segments(r), 0);
	rope_seek(r, ROPE_GAP_COPY_MAX + 1, SEEK_CUR);
	rope_write(r, "c", 1);
	CU_ASSERT_EQUAL(zero_segments(r), 1);
	CU_ASSERT_EQUAL(rope_size(r), 2 * ROPE_GAP_COPY_MAX + 4);
	CU_ASSERT_EQUAL(rope_pread(r, buf, ROPE_GAP_COPY_MAX, 1),
			ROPE_GAP_COPY_MAX);
	CU_ASSERT_EQUAL(memcmp(buf, zeros, ROPE_GAP_COPY_MAX), 0);
	CU_ASSERT_EQUAL(rope_pread(r, buf, ROPE_GAP_COPY_MAX + 1,
				   ROPE_GAP_COPY_MAX + 2), ROPE_GAP_COPY_MAX + 1);
	CU_ASSERT_EQUAL(memcmp(buf, zeros, ROPE_GAP_COPY_MAX + 1), 0);
	T_CHECK(r);
	rope_free(r);
}

/* A long stream drained to a few bytes gives its pages back, and the
 * next tail chunk follows the bytes left, not the history. */
static void
test_bound_drain_to_a_few_bytes(void)
{
	size_t before = t_mem_now();
	struct rope *r = rope_new();
	struct rope_info info;

	for (int i = 0; i < 256; i++)  /* 16 MiB: tail chunks of MiBs */
		CU_ASSERT_EQUAL_FATAL(rope_append(r, body, sizeof(body)),
				      (ssize_t)sizeof(body));
	CU_ASSERT_EQUAL(rope_drain(r, rope_size(r) - 10), (16 << 20) - 10);
	CU_ASSERT(within_bound(r, before, 0));
	CU_ASSERT(t_mem_now() - before < (64u << 10));
	rope_append(r, "0123456789", 10);
	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	CU_ASSERT(info.tail_room < (64u << 10));
	CU_ASSERT(within_bound(r, before, 1));
	T_CHECK(r);
	rope_free(r);
}

/* The same, with a snapshot sharing the chunk during the drain: the few
 * bytes left move out, so releasing the snapshot frees the chunk. */
static void
test_bound_drain_while_shared(void)
{
	size_t before = t_mem_now();
	struct rope *r = rope_new();
	struct rope_snap *s;
	uint8_t buf[10];

	for (int i = 0; i < 64; i++)  /* 4 MiB */
		rope_append(r, body, sizeof(body));
	CU_ASSERT_EQUAL_FATAL(rope_snapshot(r, &s), 0);
	rope_drain(r, rope_size(r) - 10);
	rope_snap_unref(s);
	CU_ASSERT(within_bound(r, before, 0));
	CU_ASSERT(t_mem_now() - before < (64u << 10));
	CU_ASSERT_EQUAL(rope_pread(r, buf, 10, 0), 10);
	CU_ASSERT_EQUAL(memcmp(buf, body + sizeof(body) - 10, 10), 0);
	T_CHECK(r);
	rope_free(r);
}

/* A truncate lets go of the caller's large block it no longer needs
 * (CPython's BytesIO(b).truncate(10) keeps none of b). */
static void
test_bound_truncate_releases_a_reference(void)
{
	struct rope *r = rope_new();
	char *big = malloc(1 << 20);
	int released = 0;

	CU_ASSERT_FATAL(big != NULL);
	memset(big, 'q', 1 << 20);
	CU_ASSERT_EQUAL(rope_append_ref(r, big, 1 << 20, count_release,
					&released), 0);
	CU_ASSERT_EQUAL(rope_truncate(r, 10), 10);
	CU_ASSERT_EQUAL(released, 1);
	memset(big, 'z', 1 << 20);  /* ours again: the rope must not see it */
	CU_ASSERT(t_equals(r, "qqqqqqqqqq", 10));
	T_CHECK(r);
	rope_free(r);
	free(big);
}

/* A sparse rope near INT64_MAX bytes: the bound saturates rather than
 * wrap around (four times the size does not fit in 64 bits). */
static void
test_bound_sparse_rope_near_the_limit(void)
{
	struct rope *r = rope_new();

	/* More than the slack, which hid the wrap for small ropes. */
	for (int i = 0; i < 16; i++)
		CU_ASSERT_EQUAL(rope_append(r, body, sizeof(body)),
				(ssize_t)sizeof(body));
	CU_ASSERT_EQUAL(rope_seek(r, INT64_MAX - 100, SEEK_SET),
			INT64_MAX - 100);
	CU_ASSERT_EQUAL(rope_write(r, "x", 1), 1);
	CU_ASSERT(rope__mem_bound(r) >= rope__mem_footprint(r));
	T_CHECK(r);
	rope_free(r);
}

/* The checker itself fails on a breach: a tail chunk sized as the old
 * doubling did, for one byte. */
static void
test_bound_checker_catches_a_breach(void)
{
	struct rope *r = rope_new();
	struct rope_chunk *c;

	CU_ASSERT_FATAL(rope__segs_reserve(r, 1) == 0);
	c = rope__tail_fresh(r, 1, 32u << 20);
	CU_ASSERT_FATAL(c != NULL);
	c->data[0] = 'x';
	rope__tail_push(r, c, 1);
	CU_ASSERT(rope__mem_footprint(r) > rope__mem_bound(r));
	CU_ASSERT_EQUAL(rope__check(r), -EUCLEAN);
	rope_free(r);
}

static const struct t_test tests[] = {
	{ "checker_catches_a_breach", test_bound_checker_catches_a_breach },
	{ "drain_to_a_few_bytes", test_bound_drain_to_a_few_bytes },
	{ "drain_while_shared", test_bound_drain_while_shared },
	{ "gaps_short_copied_long_virtual",
	  test_bound_gaps_short_copied_long_virtual },
	{ "head_and_body", test_bound_head_and_body },
	{ "head_and_tiny_reference", test_bound_head_and_tiny_reference },
	{ "heads_share_the_room_before_references",
	  test_bound_heads_share_the_room_before_references },
	{ "long_gaps", test_bound_long_gaps },
	{ "one_byte_gaps", test_bound_one_byte_gaps },
	{ "reads_between_references", test_bound_reads_between_references },
	{ "sparse_rope_near_the_limit",
	  test_bound_sparse_rope_near_the_limit },
	{ "truncate_releases_a_reference",
	  test_bound_truncate_releases_a_reference },
};

int
main(void)
{
	memset(body, 'b', sizeof(body));
	return t_run("bound", tests, ARRAY_SIZE(tests));
}
