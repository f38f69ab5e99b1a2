/* SPDX-License-Identifier: MIT */
/*
 * The sharing rules, checked through the memory accounting: what each
 * operation on a large rope really allocates. These are the seeds'
 * scenarios (a 50 MiB BytesIO built from 1 MiB writes), where CPython
 * copies the whole buffer on the first write after getvalue().
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define MiB (1u << 20)
#define ROPE_MIB 50

static uint8_t chunk_data[MiB];

/* 50 appends of 1 MiB, as the seeds do. */
static struct rope *
build_50mib(void)
{
	struct rope *r = rope_new();

	t_pattern(chunk_data, MiB, 0);
	for (int i = 0; i < ROPE_MIB; i++)
		CU_ASSERT_EQUAL(rope_write(r, chunk_data, MiB), MiB);
	return r;
}

/* Bytes allocated (retained) and peak extra over @before. */
struct cost {
	long long retained;
	size_t peak;
};

static struct rope_mem_stats mark;

static void
cost_start(void)
{
	rope_mem_reset_peak();
	rope_mem_stats(&mark, sizeof(mark));
}

static struct cost
cost_end(void)
{
	struct rope_mem_stats now;
	struct cost c;

	rope_mem_stats(&now, sizeof(now));
	c.retained = (long long)now.allocated - (long long)mark.allocated;
	c.peak = now.peak - mark.allocated;
	return c;
}

static void
test_sharing_getvalue_flattens_once(void)
{
	struct rope *r = build_50mib();
	struct rope_bytes *v, *v2;
	struct cost c;

	cost_start();
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	c = cost_end();
	/* One copy at the peak, and the old chunks are gone afterwards:
	 * the flat chunk replaced them, so memory is not doubled. */
	CU_ASSERT(c.peak <= (size_t)ROPE_MIB * MiB + 4096);
	CU_ASSERT(c.retained < 64 * 1024);
	cost_start();
	CU_ASSERT_EQUAL(rope_getvalue(r, &v2), 0);
	c = cost_end();
	CU_ASSERT_PTR_EQUAL(v, v2);
	CU_ASSERT_EQUAL(c.peak, 0);
	T_CHECK(r);
	rope_bytes_unref(v);
	rope_bytes_unref(v2);
	rope_free(r);
}

static void
test_sharing_getbuffer_copies_nothing(void)
{
	struct rope *r = build_50mib();
	struct iovec iov[64];
	struct cost c;
	int n;

	cost_start();
	n = rope_getbuffer(r, iov, 64);
	c = cost_end();
	CU_ASSERT(n > 0);
	CU_ASSERT_EQUAL(c.peak, 0);
	rope_releasebuffer(r);
	rope_free(r);
}

static void
test_sharing_read_costs_only_the_caller_buffer(void)
{
	struct rope *r = build_50mib();
	uint8_t *buf = malloc(MiB);
	struct cost c;

	rope_seek(r, 10 * MiB, SEEK_SET);
	cost_start();
	CU_ASSERT_EQUAL(rope_read(r, buf, MiB), MiB);
	c = cost_end();
	CU_ASSERT_EQUAL(c.peak, 0);
	CU_ASSERT_EQUAL(memcmp(buf, chunk_data, MiB), 0);
	free(buf);
	rope_free(r);
}

static void
test_sharing_snapshot_copies_nothing(void)
{
	struct rope *r = build_50mib();
	struct rope_snap *s;
	struct cost c;

	cost_start();
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	c = cost_end();
	CU_ASSERT(c.peak < 64 * 1024);
	/* The rope stays writable; appending costs the append only. */
	cost_start();
	CU_ASSERT_EQUAL(rope_write(r, chunk_data, MiB), MiB);
	c = cost_end();
	CU_ASSERT(c.peak < 2 * MiB);
	rope_snap_unref(s);
	rope_free(r);
}

static void
test_sharing_write_after_getvalue_costs_the_write(void)
{
	struct rope *r = build_50mib();
	struct rope_bytes *v;
	struct cost c;

	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);

	/* CPython: +56 MiB for a 1-byte append while the value is held. */
	cost_start();
	CU_ASSERT_EQUAL(rope_write(r, "x", 1), 1);
	c = cost_end();
	CU_ASSERT(c.peak < 2 * MiB);

	/* A 1 MiB append. */
	cost_start();
	CU_ASSERT_EQUAL(rope_write(r, chunk_data, MiB), MiB);
	c = cost_end();
	CU_ASSERT(c.peak < 2 * MiB);

	/* A 1-byte overwrite at the start: CPython copies 50 MiB. */
	rope_seek(r, 0, SEEK_SET);
	cost_start();
	CU_ASSERT_EQUAL(rope_write(r, "y", 1), 1);
	c = cost_end();
	CU_ASSERT(c.peak < 2 * MiB);
	T_CHECK(r);

	/* The value held through all of it is untouched. */
	CU_ASSERT_EQUAL(rope_bytes_size(v), (size_t)ROPE_MIB * MiB);
	for (int i = 0; i < ROPE_MIB; i++)
		CU_ASSERT_EQUAL(memcmp((const uint8_t *)rope_bytes_data(v) +
				       (size_t)i * MiB, chunk_data, MiB), 0);
	rope_bytes_unref(v);
	rope_free(r);
}

static void
test_sharing_overwrite_costs_the_range(void)
{
	struct rope *r = build_50mib();
	struct rope_snap *s;
	uint8_t *k = calloc(1, 100000);
	struct cost c;

	/* An overwrite of k bytes over shared memory costs O(k), even when
	 * it spans several chunks. */
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	rope_seek(r, 3 * MiB - 50000, SEEK_SET);
	cost_start();
	CU_ASSERT_EQUAL(rope_write(r, k, 100000), 100000);
	c = cost_end();
	CU_ASSERT(c.peak < 100000 + 4096);
	T_CHECK(r);
	rope_snap_unref(s);
	free(k);
	rope_free(r);
}

static void
test_sharing_unshared_overwrite_is_in_place(void)
{
	struct rope *r = build_50mib();
	struct rope_bytes *v;
	struct cost c;

	/* Once the value is dropped the bytes are private again. */
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	rope_bytes_unref(v);
	rope_seek(r, 12345, SEEK_SET);
	cost_start();
	CU_ASSERT_EQUAL(rope_write(r, "in place", 8), 8);
	c = cost_end();
	CU_ASSERT_EQUAL(c.peak, 0);
	T_CHECK(r);
	rope_free(r);
}

static void
test_sharing_split_chunk_is_private_again(void)
{
	struct rope *r = rope_new();
	struct rope_snap *s;
	struct rope_mem_stats before, after;
	struct iovec iov[8];
	static uint8_t data[3 * ROPE_COW_BLOCK];

	/* A snapshot makes an overwrite split the chunk (around the block
	 * that holds it); once the snapshot is gone, both remainders are
	 * this rope's alone, and further overwrites there must be in place
	 * again. */
	t_pattern(data, sizeof(data), 0);
	rope_write(r, data, sizeof(data));
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	rope_seek(r, ROPE_COW_BLOCK + 10, SEEK_SET);
	CU_ASSERT_EQUAL(rope_write(r, "0123456789", 10), 10);
	rope_snap_unref(s);
	rope_seek(r, 50, SEEK_SET);
	rope_mem_stats(&before, sizeof(before));
	CU_ASSERT_EQUAL(rope_write(r, "in place", 8), 8);
	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 8), 3);
	rope_mem_stats(&after, sizeof(after));
	CU_ASSERT_EQUAL(after.allocs, before.allocs);
	rope_releasebuffer(r);
	memcpy(data + ROPE_COW_BLOCK + 10, "0123456789", 10);
	memcpy(data + 50, "in place", 8);
	CU_ASSERT(t_equals(r, data, sizeof(data)));
	T_CHECK(r);
	rope_free(r);
}

static void
test_sharing_per_segment_overhead_reported(void)
{
	struct rope *r = rope_new();
	struct rope_info info;

	for (int i = 0; i < 1000; i++)
		rope_append_ref(r, "0123456789", 10, NULL, NULL);
	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	CU_ASSERT_EQUAL(info.segments, 1000);
	CU_ASSERT_EQUAL(info.segment_bytes, sizeof(struct rope_seg));
	CU_ASSERT(info.segment_bytes <= 32);
	CU_ASSERT(info.overhead >= info.segments * info.segment_bytes);
	CU_ASSERT(info.overhead <= sizeof(struct rope) +
				   2 * info.segments * info.segment_bytes);
	rope_free(r);
}

static const struct t_test tests[] = {
	{ "getbuffer_copies_nothing", test_sharing_getbuffer_copies_nothing },
	{ "getvalue_flattens_once", test_sharing_getvalue_flattens_once },
	{ "overwrite_costs_the_range", test_sharing_overwrite_costs_the_range },
	{ "per_segment_overhead_reported", test_sharing_per_segment_overhead_reported },
	{ "read_costs_only_the_caller_buffer", test_sharing_read_costs_only_the_caller_buffer },
	{ "snapshot_copies_nothing", test_sharing_snapshot_copies_nothing },
	{ "split_chunk_is_private_again", test_sharing_split_chunk_is_private_again },
	{ "unshared_overwrite_is_in_place", test_sharing_unshared_overwrite_is_in_place },
	{ "write_after_getvalue_costs_the_write", test_sharing_write_after_getvalue_costs_the_write },
};

int
main(void)
{
	return t_run("sharing", tests, ARRAY_SIZE(tests));
}
