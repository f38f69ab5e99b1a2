/* SPDX-License-Identifier: MIT */
/*
 * getbuffer() exports and snapshots: no copy when nothing is shared, the
 * -EBUSY rule while exported, unsharing before writable export, and the
 * immutability and iovec ranges of snapshots.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Concatenate iovecs into a malloc'd buffer. */
static uint8_t *
gather(const struct iovec *iov, int n, size_t *len)
{
	size_t total = 0, off = 0;
	uint8_t *buf;

	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	buf = malloc(total ? total : 1);
	for (int i = 0; i < n; i++) {
		memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	*len = total;
	return buf;
}

/* The whole snapshot, through rope_snap_iov in windows of @window. */
static bool
snap_is(const struct rope_snap *s, const void *want, size_t len, int window)
{
	struct iovec iov[8];
	size_t off = 0;
	bool ok = rope_snap_size(s) == len;

	while (ok && off < len) {
		int n = rope_snap_iov(s, off, SIZE_MAX, iov, MIN(window, 8));
		size_t got;
		uint8_t *buf;

		if (n <= 0)
			return false;
		buf = gather(iov, n, &got);
		ok = got <= len - off && memcmp(buf, (const uint8_t *)want + off,
						got) == 0;
		free(buf);
		off += got;
	}
	return ok;
}

static struct rope *
three_segments(void)
{
	struct rope *r = rope_new();

	rope_append_ref(r, "ref-one|", 8, NULL, NULL);
	rope_append(r, "own-two|", 8);
	rope_append_ref(r, "ref-three", 9, NULL, NULL);
	return r;
}

static void
test_export_blocks_mutations(void)
{
	struct rope *r = t_rope_from("abcdef");
	struct iovec iov[4], w = { (void *)"x", 1 };
	struct rope_bytes *v;
	struct rope_snap *s;
	char buf[8];

	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 4), 1);
	CU_ASSERT_EQUAL(rope_write(r, "x", 1), -EBUSY);
	CU_ASSERT_EQUAL(rope_write(r, "", 0), -EBUSY);
	CU_ASSERT_EQUAL(rope_writev(r, &w, 1), -EBUSY);
	CU_ASSERT_EQUAL(rope_append(r, "x", 1), -EBUSY);
	CU_ASSERT_EQUAL(rope_append_ref(r, "x", 1, NULL, NULL), -EBUSY);
	CU_ASSERT_EQUAL(rope_truncate(r, 2), -EBUSY);
	CU_ASSERT_EQUAL(rope_truncate(r, 100), -EBUSY);
	CU_ASSERT_EQUAL(rope_close(r), -EBUSY);
	CU_ASSERT(!rope_closed(r));
	/* Reads, seeks, values and snapshots still work. */
	CU_ASSERT_EQUAL(rope_read(r, buf, 3), 3);
	CU_ASSERT_EQUAL(rope_seek(r, 1, SEEK_SET), 1);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	T_CHECK(r);
	T_EQUALS_STR(r, "abcdef");
	CU_ASSERT_EQUAL(rope_releasebuffer(r), 0);
	CU_ASSERT_EQUAL(rope_write(r, "x", 1), 1);
	T_EQUALS_STR(r, "axcdef");
	rope_bytes_unref(v);
	rope_snap_unref(s);
	rope_free(r);
}

static void
test_export_count_mode_and_enobufs(void)
{
	struct rope *r = three_segments();
	struct iovec iov[8];
	int n;

	n = rope_getbuffer(r, NULL, 0);
	/* The two borrowed pieces are not neighbours, so each becomes its
	 * own private chunk: three iovecs. */
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 2), -ENOBUFS);
	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, -1), -EINVAL);
	CU_ASSERT_EQUAL(rope_getbuffer(NULL, iov, 8), -EINVAL);
	/* Neither of those exported anything. */
	CU_ASSERT_EQUAL(rope_write(r, "", 0), 0);
	CU_ASSERT_EQUAL(rope_releasebuffer(r), -EINVAL);
	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 8), 3);
	CU_ASSERT_EQUAL(rope_releasebuffer(r), 0);
	T_CHECK(r);
	rope_free(r);
}

static void
test_export_empty_rope_is_exported(void)
{
	struct rope *r = rope_new();
	struct iovec iov[1];

	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 1), 0);
	CU_ASSERT_EQUAL(rope_write(r, "x", 1), -EBUSY);
	CU_ASSERT_EQUAL(rope_releasebuffer(r), 0);
	CU_ASSERT_EQUAL(rope_write(r, "x", 1), 1);
	rope_free(r);
}

static void
test_export_nests(void)
{
	struct rope *r = t_rope_from("abc");
	struct iovec a[2], b[2];

	CU_ASSERT_EQUAL(rope_getbuffer(r, a, 2), 1);
	CU_ASSERT_EQUAL(rope_getbuffer(r, b, 2), 1);
	CU_ASSERT_PTR_EQUAL(a[0].iov_base, b[0].iov_base);
	CU_ASSERT_EQUAL(rope_releasebuffer(r), 0);
	CU_ASSERT_EQUAL(rope_write(r, "x", 1), -EBUSY);
	CU_ASSERT_EQUAL(rope_releasebuffer(r), 0);
	CU_ASSERT_EQUAL(rope_releasebuffer(r), -EINVAL);
	CU_ASSERT_EQUAL(rope_write(r, "x", 1), 1);
	rope_free(r);
}

static void
test_export_no_copy_when_private(void)
{
	struct rope *r = rope_new();
	struct iovec iov[64];
	struct rope_mem_stats before, after;
	uint8_t data[20000];
	int n;

	t_pattern(data, sizeof(data), 0);
	for (size_t off = 0; off < sizeof(data); off += 1000)
		rope_write(r, data + off, 1000);
	rope_mem_stats(&before, sizeof(before));
	n = rope_getbuffer(r, iov, 64);
	rope_mem_stats(&after, sizeof(after));
	CU_ASSERT(n > 1);
	CU_ASSERT_EQUAL(after.allocs, before.allocs);
	{
		size_t len;
		uint8_t *buf = gather(iov, n, &len);

		CU_ASSERT_EQUAL(len, sizeof(data));
		CU_ASSERT_EQUAL(memcmp(buf, data, len), 0);
		free(buf);
	}
	rope_releasebuffer(r);
	rope_free(r);
}

static void
test_export_unshares_values_and_borrowed_memory(void)
{
	struct rope *r = three_segments();
	struct rope_bytes *v;
	struct rope_snap *s;
	struct iovec iov[8];
	int n;

	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	n = rope_getbuffer(r, iov, 8);
	/* The snapshot shares all three segments: one run, one new chunk. */
	CU_ASSERT_EQUAL(n, 1);
	T_CHECK(r);
	/* Write every exported byte: nobody else may see it. */
	for (int i = 0; i < n; i++)
		memset(iov[i].iov_base, '#', iov[i].iov_len);
	T_EQUALS_STR(r, "#########################");
	CU_ASSERT(snap_is(s, "ref-one|own-two|ref-three", 25, 8));
	rope_releasebuffer(r);
	rope_snap_unref(s);

	/* A held value is unshared from too (CPython copies it as well). */
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 8), 1);
	memset(iov[0].iov_base, '=', 3);
	CU_ASSERT_EQUAL(memcmp(rope_bytes_data(v), "####", 4), 0);
	rope_releasebuffer(r);
	rope_bytes_unref(v);
	T_CHECK(r);
	rope_free(r);
}

/*
 * A snapshot released on another thread while getbuffer() runs turns shared
 * segments private mid-call (the header allows releasing on any thread).
 * The export must still never need more iovecs than it planned: the bytes
 * past the caller's array are canaries.
 */
static struct rope_snap *race_snap;
static atomic_int race_go;

static void *
race_release(void *spin)
{
	while (!atomic_load(&race_go))
		;
	for (volatile long k = 0; k < (long)spin; k++)
		;
	rope_snap_unref(race_snap);
	return NULL;
}

static void
test_export_snapshot_released_meanwhile(void)
{
	enum { SEGS = 2000, GUARD = 64 };
	static uint8_t data[2 * SEGS];
	int overruns = 0;

	memset(data, 'a', sizeof(data));
	for (int it = 0; it < 200; it++) {
		struct iovec iov[1 + GUARD];
		struct rope_snap *first;
		struct rope *r;
		pthread_t t;
		int n;

		/* Every other byte overwritten while a snapshot is held: SEGS
		 * separate chunks. A second snapshot shares them all, so the
		 * export plans one run and one iovec. */
		CU_ASSERT_EQUAL_FATAL(rope_new_from(&r, data, sizeof(data)), 0);
		rope_snapshot(r, &first);
		for (int i = 0; i < SEGS; i++) {
			rope_seek(r, 2 * i + 1, SEEK_SET);
			rope_write(r, "b", 1);
		}
		rope_snapshot(r, &race_snap);
		CU_ASSERT_EQUAL(rope_getbuffer(r, NULL, 0), 1);
		memset(iov, 0x5a, sizeof(iov));
		atomic_store(&race_go, 0);
		pthread_create(&t, NULL, race_release, (void *)(long)(it % 50 * 200));
		atomic_store(&race_go, 1);
		n = rope_getbuffer(r, iov, 1);
		pthread_join(t, NULL);
		CU_ASSERT(n == 1 || n == -ENOBUFS);
		for (int g = 1; g <= GUARD; g++) {
			const uint8_t *p = (const uint8_t *)&iov[g];

			for (size_t b = 0; b < sizeof(iov[g]); b++)
				overruns += p[b] != 0x5a;
		}
		if (n >= 0)
			rope_releasebuffer(r);
		T_CHECK(r);
		rope_snap_unref(first);
		rope_free(r);
	}
	CU_ASSERT_EQUAL(overruns, 0);
}

static void
test_export_unshares_zero_gap(void)
{
	/* A gap longer than ROPE_GAP_COPY_MAX stays a zero segment. */
	enum { GAP = ROPE_GAP_COPY_MAX + 100 };
	struct rope *r = rope_new(), *other = rope_new();
	static char want[GAP + 1], buf[GAP];
	struct iovec iov[4];
	int n;

	rope_seek(r, GAP, SEEK_SET);
	rope_write(r, "x", 1);
	rope_seek(other, GAP, SEEK_SET);
	rope_write(other, "y", 1);
	n = rope_getbuffer(r, iov, 4);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(iov[0].iov_len, GAP);
	memset(iov[0].iov_base, 'Z', iov[0].iov_len);
	rope_releasebuffer(r);
	memset(want, 'Z', GAP);
	want[GAP] = 'x';
	CU_ASSERT(t_equals(r, want, GAP + 1));
	/* The shared zero chunk was not written. */
	memset(want, 0, GAP);
	CU_ASSERT_EQUAL(rope_pread(other, buf, GAP, 0), GAP);
	CU_ASSERT_EQUAL(memcmp(buf, want, GAP), 0);
	T_CHECK(r);
	T_CHECK(other);
	rope_free(r);
	rope_free(other);
}

static void
test_export_value_cache_dropped(void)
{
	struct rope *r = t_rope_from("abc");
	struct rope_bytes *v1, *v2;
	struct iovec iov[2];

	CU_ASSERT_EQUAL(rope_getvalue(r, &v1), 0);
	rope_bytes_unref(v1);
	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 2), 1);
	memcpy(iov[0].iov_base, "xyz", 3);
	CU_ASSERT_EQUAL(rope_releasebuffer(r), 0);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v2), 0);
	CU_ASSERT(rope_bytes_size(v2) == 3 &&
		  memcmp(rope_bytes_data(v2), "xyz", 3) == 0);
	rope_bytes_unref(v2);
	T_CHECK(r);
	rope_free(r);
}

static void
test_snap_bad_arguments(void)
{
	struct rope *r = t_rope_from("abc");
	struct rope_snap *s = NULL;
	struct iovec iov[2];

	CU_ASSERT_EQUAL(rope_snapshot(NULL, &s), -EINVAL);
	CU_ASSERT_EQUAL(rope_snapshot(r, NULL), -EINVAL);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	CU_ASSERT_EQUAL(rope_snap_iov(NULL, 0, 1, iov, 2), -EINVAL);
	CU_ASSERT_EQUAL(rope_snap_iov(s, 4, 1, iov, 2), -EINVAL);
	CU_ASSERT_EQUAL(rope_snap_iov(s, 0, 1, iov, -1), -EINVAL);
	CU_ASSERT_EQUAL(rope_snap_iov(s, 3, SIZE_MAX, iov, 2), 0);
	CU_ASSERT_EQUAL(rope_snap_iov(s, 0, 0, iov, 2), 0);
	CU_ASSERT_EQUAL(rope_snap_iov(s, 0, SIZE_MAX, iov, 0), 0);
	CU_ASSERT_EQUAL(rope_snap_size(NULL), 0);
	CU_ASSERT_PTR_NULL(rope_snap_ref(NULL));
	rope_snap_unref(NULL);
	rope_snap_unref(s);
	rope_free(r);
}

static void
test_snap_copies_nothing(void)
{
	struct rope *r = rope_new();
	static uint8_t data[1 << 20];
	struct rope_mem_stats before, after;
	struct rope_info info;
	struct rope_snap *s;

	t_pattern(data, sizeof(data), 0);
	for (size_t off = 0; off < sizeof(data); off += 4096)
		rope_write(r, data + off, 4096);
	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	rope_mem_stats(&before, sizeof(before));
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	rope_mem_stats(&after, sizeof(after));
	/* One allocation: a header and one entry per segment. */
	CU_ASSERT_EQUAL(after.allocs - before.allocs, 1);
	CU_ASSERT(after.total - before.total <=
		  64 + info.segments * info.segment_bytes);
	CU_ASSERT(snap_is(s, data, sizeof(data), 3));
	rope_snap_unref(s);
	rope_free(r);
}

static void
test_snap_never_changes(void)
{
	struct rope *r = t_rope_from("0123456789");
	struct rope_snap *s, *s2;

	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	rope_seek(r, 3, SEEK_SET);
	CU_ASSERT_EQUAL(rope_write(r, "abc", 3), 3);
	CU_ASSERT_EQUAL(rope_truncate(r, 5), 5);
	CU_ASSERT_EQUAL(rope_append(r, "WXYZ", 4), 4);
	rope_seek(r, 20, SEEK_SET);
	CU_ASSERT_EQUAL(rope_write(r, "!", 1), 1);
	T_CHECK(r);
	CU_ASSERT(t_equals(r, "012abWXYZ\0\0\0\0\0\0\0\0\0\0\0!", 21));
	CU_ASSERT(snap_is(s, "0123456789", 10, 8));
	s2 = rope_snap_ref(s);
	rope_free(r);
	rope_snap_unref(s);
	CU_ASSERT(snap_is(s2, "0123456789", 10, 1));
	rope_snap_unref(s2);
}

static void
test_snap_iov_ranges(void)
{
	struct rope *r = three_segments();  /* 8 + 8 + 9 bytes */
	struct rope_snap *s;
	struct iovec iov[4];
	size_t len;
	uint8_t *buf;
	int n;

	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	CU_ASSERT_EQUAL(rope_snap_iov(s, 0, SIZE_MAX, NULL, 0), 3);
	CU_ASSERT_EQUAL(rope_snap_iov(s, 4, 8, NULL, 0), 2);
	CU_ASSERT_EQUAL(rope_snap_iov(s, 9, 3, NULL, 0), 1);

	n = rope_snap_iov(s, 4, 8, iov, 4);
	buf = gather(iov, n, &len);
	CU_ASSERT_EQUAL(len, 8);
	CU_ASSERT_EQUAL(memcmp(buf, "one|own-", 8), 0);
	free(buf);

	/* A small array covers a prefix: never more than it holds. */
	n = rope_snap_iov(s, 2, SIZE_MAX, iov, 1);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(iov[0].iov_len, 6);

	/* A length past the end is clipped. */
	n = rope_snap_iov(s, 20, 1000, iov, 4);
	buf = gather(iov, n, &len);
	CU_ASSERT_EQUAL(len, 5);
	CU_ASSERT_EQUAL(memcmp(buf, "three", 5), 0);
	free(buf);
	rope_snap_unref(s);
	rope_free(r);
}

static void
test_snap_splits_long_zero_runs(void)
{
	struct rope *r = rope_new();
	struct rope_snap *s;
	struct iovec iov[8];
	size_t gap = (5u << 20) / 2;  /* 2.5 MiB */
	size_t total = 0;
	int n;

	rope_seek(r, (int64_t)gap, SEEK_SET);
	rope_write(r, "!", 1);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	n = rope_snap_iov(s, 0, SIZE_MAX, NULL, 0);
	CU_ASSERT_EQUAL(n, 4);  /* 1 MiB + 1 MiB + 0.5 MiB + "!" */
	CU_ASSERT_EQUAL(rope_snap_iov(s, 0, SIZE_MAX, iov, 8), 4);
	for (int i = 0; i < 4; i++) {
		CU_ASSERT(iov[i].iov_len <= (1u << 20));
		total += iov[i].iov_len;
	}
	CU_ASSERT_EQUAL(total, gap + 1);
	CU_ASSERT_EQUAL(((char *)iov[3].iov_base)[0], '!');
	CU_ASSERT_EQUAL(((char *)iov[1].iov_base)[12345], 0);
	rope_snap_unref(s);
	rope_free(r);
}

static void
test_snap_counts_huge_gap_quickly(void)
{
	struct rope *r = rope_new();
	struct rope_snap *s;
	struct iovec iov[4];

	/* 2^62 zero bytes are 2^42 pieces of 1 MiB: counting them one by one
	 * would take hours; the count is arithmetic, and too big for an int. */
	CU_ASSERT_EQUAL(rope_seek(r, INT64_C(1) << 62, SEEK_SET),
			INT64_C(1) << 62);
	CU_ASSERT_EQUAL(rope_write(r, "!", 1), 1);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	CU_ASSERT_EQUAL(rope_snap_iov(s, 0, SIZE_MAX, NULL, 0), -EOVERFLOW);
	CU_ASSERT_EQUAL(rope_snap_iov(s, 0, SIZE_MAX, iov, 4), 4);
	CU_ASSERT_EQUAL(rope_snap_iov(s, (size_t)1 << 62, SIZE_MAX, NULL, 0), 1);
	CU_ASSERT_EQUAL(rope_snap_iov(s, 5, 3u << 20, NULL, 0), 3);
	CU_ASSERT_EQUAL(rope_snap_iov(s, 5, (3u << 20) + 1, NULL, 0), 4);
	rope_snap_unref(s);
	rope_free(r);
}

static void
test_snap_while_exported_is_a_copy(void)
{
	struct rope *r = t_rope_from("abc");
	struct iovec iov[2];
	struct rope_snap *s;

	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 2), 1);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	memcpy(iov[0].iov_base, "XYZ", 3);
	CU_ASSERT(snap_is(s, "abc", 3, 2));
	rope_releasebuffer(r);
	rope_snap_unref(s);
	rope_free(r);
}

static const struct t_test tests[] = {
	{ "blocks_mutations", test_export_blocks_mutations },
	{ "count_mode_and_enobufs", test_export_count_mode_and_enobufs },
	{ "empty_rope_is_exported", test_export_empty_rope_is_exported },
	{ "nests", test_export_nests },
	{ "no_copy_when_private", test_export_no_copy_when_private },
	{ "snap_bad_arguments", test_snap_bad_arguments },
	{ "snap_copies_nothing", test_snap_copies_nothing },
	{ "snap_counts_huge_gap_quickly", test_snap_counts_huge_gap_quickly },
	{ "snap_iov_ranges", test_snap_iov_ranges },
	{ "snap_never_changes", test_snap_never_changes },
	{ "snap_splits_long_zero_runs", test_snap_splits_long_zero_runs },
	{ "snap_while_exported_is_a_copy", test_snap_while_exported_is_a_copy },
	{ "snapshot_released_meanwhile", test_export_snapshot_released_meanwhile },
	{ "unshares_values_and_borrowed_memory", test_export_unshares_values_and_borrowed_memory },
	{ "unshares_zero_gap", test_export_unshares_zero_gap },
	{ "value_cache_dropped", test_export_value_cache_dropped },
};

int
main(void)
{
	return t_run("export", tests, ARRAY_SIZE(tests));
}
