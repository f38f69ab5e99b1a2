/* SPDX-License-Identifier: MIT */
/*
 * Memory that ropeio keeps for reuse: the spare chunk of an emptied rope
 * and the chunk sizes that follow the traffic. Allocations are counted with
 * rope_mem_stats() and rope_cache_stats() (t_mem_stats), so a loop that
 * allocates once too often fails here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define WARMUP 1000
#define MESSAGES 1000000

static const char msg40[] = "0123456789012345678901234567890123456789";

/* Chunks and other blocks taken since @a, from the system or the chunk
 * cache (the spare must serve, not the cache), and bytes from the system. */
static uint64_t
t_allocs_since(const struct t_mem_stats *a, uint64_t *bytes)
{
	struct t_mem_stats b;

	t_mem_stats(&b);
	*bytes = b.total - a->total;
	return b.allocs - a->allocs + b.cache_hits - a->cache_hits;
}

static void
test_memory_queue_drain_allocates_nothing(void)
{
	struct rope *r = rope_new();
	struct t_mem_stats a;
	uint64_t bytes;
	char out[40];
	int bad = 0;

	for (int i = 0; i < WARMUP; i++) {
		rope_write(r, msg40, 40);
		rope_drain(r, 40);
	}
	t_mem_stats(&a);
	for (int i = 0; i < MESSAGES; i++) {
		bad += rope_write(r, msg40, 40) != 40;
		if (i % 4096 == 0) {
			bad += rope_pread(r, out, 40, 0) != 40 ||
			       memcmp(out, msg40, 40) != 0;
			bad += rope__check(r) != 0;
		}
		bad += rope_drain(r, 40) != 40;
	}
	CU_ASSERT_EQUAL(t_allocs_since(&a, &bytes), 0);
	CU_ASSERT_EQUAL(bytes, 0);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(rope_size(r), 0);
	T_CHECK(r);
	rope_free(r);
}

static void
test_memory_queue_truncate_allocates_nothing(void)
{
	struct rope *r = rope_new();
	struct t_mem_stats a;
	uint64_t bytes;
	int bad = 0;

	for (int i = 0; i < WARMUP; i++) {
		rope_append(r, msg40, 40);
		rope_truncate(r, 0);
	}
	t_mem_stats(&a);
	for (int i = 0; i < MESSAGES; i++) {
		bad += rope_append(r, msg40, 40) != 40;
		if (i % 4096 == 0)
			bad += !t_equals(r, msg40, 40) || rope__check(r) != 0;
		bad += rope_truncate(r, 0) != 0;
	}
	CU_ASSERT_EQUAL(t_allocs_since(&a, &bytes), 0);
	CU_ASSERT_EQUAL(bytes, 0);
	CU_ASSERT_EQUAL(bad, 0);
	T_CHECK(r);
	rope_free(r);
}

static void
test_memory_queue_read_fd_allocates_nothing(void)
{
	struct rope *r = rope_new();
	struct t_mem_stats a;
	uint64_t bytes;
	int p[2], bad = 0;

	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	for (int i = 0; i < 100000; i++) {
		if (i == WARMUP)
			t_mem_stats(&a);
		bad += write(p[1], msg40, 40) != 40;
		bad += rope_read_fd(r, p[0], 1 << 20) != 40;
		if (i % 4096 == 0)
			bad += !t_equals(r, msg40, 40) || rope__check(r) != 0;
		bad += rope_drain(r, 40) != 40;
	}
	CU_ASSERT_EQUAL(t_allocs_since(&a, &bytes), 0);
	CU_ASSERT_EQUAL(bytes, 0);
	CU_ASSERT_EQUAL(bad, 0);
	close(p[0]);
	close(p[1]);
	rope_free(r);
}

/* Messages written in pieces grow past their first chunk: the rope learns
 * their size and settles on one chunk that holds a whole message. */
static void
test_memory_queue_of_pieces_settles(void)
{
	struct rope *r = rope_new();
	struct t_mem_stats a;
	uint64_t bytes;

	for (int i = 0; i < 20000; i++) {
		if (i == WARMUP)
			t_mem_stats(&a);
		for (int k = 0; k < 36; k++)  /* 1,440 bytes */
			rope_write(r, msg40, 40);
		rope_drain(r, 1440);
	}
	CU_ASSERT_EQUAL(t_allocs_since(&a, &bytes), 0);
	T_CHECK(r);
	rope_free(r);
}

/* A long stream does not make every later message pay for its chunks. */
static void
test_memory_chunk_size_follows_traffic(void)
{
	static uint8_t kib[1024];
	struct rope *r = rope_new();
	struct rope_info info;

	for (int i = 0; i < 8192; i++)
		rope_write(r, kib, sizeof(kib));
	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	CU_ASSERT_EQUAL(rope_drain(r, 8u << 20), 8 << 20);
	CU_ASSERT_EQUAL(rope_write(r, msg40, 40), 40);
	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	CU_ASSERT(info.tail_room + 40 <= ROPE_SPARE_MAX);
	CU_ASSERT(info.overhead <= sizeof(struct rope) + ROPE_SPARE_MAX + 64);
	T_CHECK(r);
	rope_free(r);
}

static void
test_memory_spare_counted_and_freed_by_close(void)
{
	size_t before = t_mem_now();
	struct rope *r = rope_new();
	struct rope_info info;

	CU_ASSERT_EQUAL(t_mem_now() - before, sizeof(struct rope));
	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	CU_ASSERT_EQUAL(info.overhead, sizeof(struct rope));
	rope_write(r, msg40, 40);
	rope_drain(r, 40);
	/* Empty, but keeping its tail chunk as the spare. */
	CU_ASSERT(t_mem_now() - before > sizeof(struct rope));
	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	CU_ASSERT_EQUAL(info.overhead, t_mem_now() - before);
	CU_ASSERT_EQUAL(info.size, 0);
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_close(r), 0);
	CU_ASSERT_EQUAL(t_mem_now() - before, sizeof(struct rope));
	T_CHECK(r);
	rope_free(r);
	CU_ASSERT_EQUAL(t_mem_now(), before);

	/* rope_free of a rope holding a spare frees it too. */
	r = rope_new();
	rope_write(r, msg40, 40);
	CU_ASSERT_EQUAL(rope_truncate(r, 0), 0);
	CU_ASSERT(t_mem_now() - before > sizeof(struct rope));
	rope_free(r);
	CU_ASSERT_EQUAL(t_mem_now(), before);
}

/* Bytes a value or snapshot still sees never become the spare. */
static void
test_memory_spare_never_shared(void)
{
	struct rope *r = rope_new();
	struct rope_bytes *v;
	struct rope_snap *s;
	struct iovec iov[2];
	int n;

	rope_write(r, "hello", 5);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	rope_drain(r, 5);
	rope_write(r, "XXXXXXXX", 8);
	CU_ASSERT_EQUAL(memcmp(rope_bytes_data(v), "hello", 5), 0);
	rope_bytes_unref(v);

	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	CU_ASSERT_EQUAL(rope_truncate(r, 0), 0);
	rope_append(r, "YYYYYYYY", 8);
	n = rope_snap_iov(s, 0, 8, iov, 2);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT(n == 1 && iov[0].iov_len == 8 &&
		  memcmp(iov[0].iov_base, "XXXXXXXX", 8) == 0);
	rope_snap_unref(s);
	T_EQUALS_STR(r, "YYYYYYYY");
	T_CHECK(r);
	rope_free(r);
}

/* The spare is used only when it holds the write; the spare too small for
 * a larger write gives way to that write's chunk, never kept beside it. */
static void
test_memory_spare_too_small_gives_way(void)
{
	static uint8_t big[20000];
	size_t before = t_mem_now();
	struct rope *r = rope_new();
	struct rope_info info;

	t_pattern(big, sizeof(big), 0);
	rope_write(r, msg40, 40);
	rope_drain(r, 40);
	rope_write(r, big, sizeof(big));
	CU_ASSERT(t_equals(r, big, sizeof(big)));
	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	CU_ASSERT_EQUAL(info.overhead, sizeof(struct rope));
	CU_ASSERT(t_mem_now() - before <
		  sizeof(struct rope) + sizeof(big) + 64 + info.tail_room);
	T_CHECK(r);
	rope_free(r);
}

/* ------------------------------------------------------------------------ */
/* Page chunks                                                              */
/* ------------------------------------------------------------------------ */

static uint8_t big[3u << 20];

/* The VmFlags of the mapping holding @p in /proc/self/smaps, or "". */
static void
t_vm_flags(const void *p, char *out, size_t outlen)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;

	out[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			size_t n = MIN(strlen(line + 8), outlen - 1);

			memcpy(out, line + 8, n);
			out[n] = 0;
			break;
		}
	}
	fclose(f);
}

static void
test_memory_page_chunk_header_apart(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct rope *r = rope_new();
	struct rope_chunk *c;

	t_pattern(big, 300000, 0);
	CU_ASSERT_EQUAL(rope_write(r, big, 300000), 300000);
	CU_ASSERT(t_equals(r, big, 300000));
	c = r->segs[r->nseg - 1].chunk;
	CU_ASSERT(c->pages);
	CU_ASSERT_EQUAL((uintptr_t)c->data % page, 0);
	CU_ASSERT_EQUAL(c->cap % page, 0);
	CU_ASSERT(c->cap >= 300000);
	CU_ASSERT((uint8_t *)c + sizeof(*c) <= c->data ||
		  (uint8_t *)c >= c->data + c->cap);
	/* Its room is the rest of its pages, and appends land there. */
	CU_ASSERT_EQUAL(rope__tail_room(r), c->cap - 300000);
	CU_ASSERT_EQUAL(rope_write(r, "tail", 4), 4);
	CU_ASSERT_EQUAL(r->nseg, 1);
	T_CHECK(r);
	rope_free(r);
}

static void
test_memory_huge_chunk_aligned_and_advised(void)
{
	struct rope_chunk *c = rope__chunk_new(3u << 20);
	char flags[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT(c->pages);
	CU_ASSERT_EQUAL((uintptr_t)c->data % (2u << 20), 0);
	memset(c->data, 1, c->cap);
	t_vm_flags(c->data, flags, sizeof(flags));
	CU_ASSERT(flags[0] != 0);
	/* "hg": advised MADV_HUGEPAGE, when the system allows it. */
	if (rope__pages_huge()) {
		CU_ASSERT_PTR_NOT_NULL(strstr(flags, " hg"));
	} else {
		CU_ASSERT_PTR_NULL(strstr(flags, " hg"));
	}
	rope__chunk_unref(c);
}

/* Small ropes, spares and the reads of rope_read_fd stay malloc's. */
static void
test_memory_small_ropes_map_no_pages(void)
{
	struct rope *r = rope_new();
	int p[2];

	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	rope_write(r, big, 100000);
	CU_ASSERT(!r->segs[0].chunk->pages);
	rope_drain(r, 100000);
	CU_ASSERT(r->spare == NULL || !r->spare->pages);
	CU_ASSERT_EQUAL(write(p[1], big, 4000), 4000);
	CU_ASSERT_EQUAL(rope_read_fd(r, p[0], SIZE_MAX), 4000);
	CU_ASSERT(!r->segs[0].chunk->pages);
	T_CHECK(r);
	rope_free(r);
	close(p[0]);
	close(p[1]);
}

/* Header and pages are two allocations; either failing fails the write,
 * and the rope and the counts are as they were. */
static void
test_memory_page_chunk_oom(void)
{
	struct rope *r = t_rope_from("keep");
	size_t mem = t_mem_now();
	long n;

	rope_seek(r, 0, SEEK_END);
	for (n = 0; n < 10; n++) {
		ssize_t ret;

		rope__alloc_fail_at(n);
		ret = rope_write(r, big, 300000);
		rope__alloc_fail_at(-1);
		if (ret != -ENOMEM) {
			CU_ASSERT_EQUAL(ret, 300000);
			break;
		}
		CU_ASSERT_EQUAL(t_mem_now(), mem);
		T_EQUALS_STR(r, "keep");
		T_CHECK(r);
	}
	CU_ASSERT(n >= 2);  /* the header and the mapping each failed once */
	T_CHECK(r);
	rope_free(r);
}

/* ------------------------------------------------------------------------ */
/* getvalue() by moving pages                                               */
/* ------------------------------------------------------------------------ */

/* A rope of @n writes of @len pattern bytes each. */
static struct rope *
t_rope_of_writes(int n, size_t len)
{
	static uint8_t buf[(1u << 20) + 5000];
	struct rope *r = rope_new();
	uint64_t off = 0;

	for (int i = 0; i < n; i++, off += len) {
		t_pattern(buf, len, off);
		CU_ASSERT_EQUAL(rope_write(r, buf, len), (ssize_t)len);
	}
	return r;
}

/* True when @b holds the pattern's first @len bytes. */
static bool
t_value_is_pattern(struct rope_bytes *b, size_t len)
{
	static uint8_t want[64u << 20];

	if (rope_bytes_size(b) != len || len > sizeof(want))
		return false;
	t_pattern(want, len, 0);
	return memcmp(rope_bytes_data(b), want, len) == 0;
}

/* 50 writes of 1 MiB: every page moves, none is copied or added. */
static void
test_memory_getvalue_moves_pages(void)
{
	struct rope *r = t_rope_of_writes(50, 1u << 20);
	struct t_mem_stats a, b;
	struct rope_bytes *v;

	rope_mem_reset_peak();
	t_mem_stats(&a);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	t_mem_stats(&b);
	CU_ASSERT(t_value_is_pattern(v, 50u << 20));
	CU_ASSERT(b.total - a.total < 64 * 1024);
	CU_ASSERT(b.peak - a.allocated < 64 * 1024);
	CU_ASSERT(b.allocated <= a.allocated + 64 * 1024);
	CU_ASSERT_EQUAL((uintptr_t)rope_bytes_data(v) % 4096, 0);
	T_CHECK(r);
	/* The rope goes on in the flat chunk; the value keeps its bytes. */
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_SET), 0);
	CU_ASSERT_EQUAL(rope_write(r, "new", 3), 3);
	CU_ASSERT(t_value_is_pattern(v, 50u << 20));
	T_CHECK(r);
	rope_bytes_unref(v);
	rope_free(r);
}

/*
 * The parser loop, append then getvalue with the values dropped: a moved
 * flat chunk has room to grow, like a copied one, so the appends after it
 * stay in its one segment and the next getvalue() costs nothing. Without
 * the room every getvalue() moved or copied the whole stream again.
 */
static void
test_memory_getvalue_moved_leaves_room_for_appends(void)
{
	struct rope *r = t_rope_of_writes(8, 1u << 20);
	struct rope_bytes *v, *w;
	struct rope_info info;
	uint8_t piece[1448];

	memset(piece, 'p', sizeof(piece));
	for (int round = 0; round < 3; round++) {
		CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
		rope_bytes_unref(v);
		CU_ASSERT_EQUAL(rope_append(r, piece, sizeof(piece)),
				(ssize_t)sizeof(piece));
		/* From the second flatten on (the first is exact, as a
		 * copy's is), the piece goes into the flat chunk's room. */
		CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
		CU_ASSERT_EQUAL(info.segments, round ? 1u : 2u);
	}
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	CU_ASSERT_EQUAL(rope_getvalue(r, &w), 0);
	CU_ASSERT_PTR_EQUAL(v, w);
	CU_ASSERT_EQUAL(rope_bytes_size(v), (8u << 20) + 3 * sizeof(piece));
	{
		uint8_t *want = malloc(8u << 20);
		const uint8_t *got = rope_bytes_data(v);

		t_pattern(want, 8u << 20, 0);
		CU_ASSERT(memcmp(got, want, 8u << 20) == 0);
		CU_ASSERT(got[(8u << 20) + 3 * sizeof(piece) - 1] == 'p');
		free(want);
	}
	T_CHECK(r);
	rope_bytes_unref(v);
	rope_bytes_unref(w);
	rope_free(r);
}

/* 64 KiB appends: the small head is copied, the page chunks move; odd
 * sizes leave edges that are copied. */
static void
test_memory_getvalue_moves_appends_and_edges(void)
{
	size_t sizes[] = { 64 * 1024, (1u << 20) + 1000 };
	int counts[] = { 128, 6 };

	for (int k = 0; k < 2; k++) {
		struct rope *r = t_rope_of_writes(counts[k], sizes[k]);
		size_t size = rope_size(r);
		struct t_mem_stats a, b;
		struct rope_bytes *v;

		t_mem_stats(&a);
		CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
		t_mem_stats(&b);
		CU_ASSERT(t_value_is_pattern(v, size));
		CU_ASSERT(b.total - a.total < size / 4);
		T_CHECK(r);
		rope_bytes_unref(v);
		rope_free(r);
	}
}

/* Chunks a snapshot shares are copied, never moved: it keeps its bytes. */
static void
test_memory_getvalue_copies_shared(void)
{
	struct rope *r = t_rope_of_writes(4, 1u << 20);
	struct t_mem_stats a, b;
	struct rope_bytes *v;
	struct rope_snap *s;
	struct rope *back;
	struct iovec iov[8];
	int n;

	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	t_mem_stats(&a);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	t_mem_stats(&b);
	CU_ASSERT(t_value_is_pattern(v, 4u << 20));
	CU_ASSERT(b.total - a.total >= (4u << 20));  /* a real copy */
	n = rope_snap_iov(s, 0, SIZE_MAX, iov, 8);
	CU_ASSERT_EQUAL(n, 4);
	back = rope_new();
	for (int i = 0; i < n; i++)
		rope_write(back, iov[i].iov_base, iov[i].iov_len);
	CU_ASSERT(t_equals(back, rope_bytes_data(v), 4u << 20));
	rope_free(back);
	rope_snap_unref(s);
	rope_bytes_unref(v);
	T_CHECK(r);
	rope_free(r);
}

/* Each allocation refused in turn (the value, the flat chunk's header,
 * the reserved range): -ENOMEM and the rope as it was; then the pages
 * move. */
static void
test_memory_getvalue_remap_oom(void)
{
	struct rope *r = t_rope_of_writes(4, 1u << 20);
	struct rope_bytes *v = NULL;
	size_t mem = t_mem_now(), nseg = r->nseg;
	long n;

	for (n = 0; n < 10; n++) {
		int ret;

		rope__alloc_fail_at(n);
		ret = rope_getvalue(r, &v);
		rope__alloc_fail_at(-1);
		if (ret == 0)
			break;
		CU_ASSERT_EQUAL(ret, -ENOMEM);
		CU_ASSERT_EQUAL(t_mem_now(), mem);
		CU_ASSERT_EQUAL(r->nseg, nseg);
		T_CHECK(r);
	}
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT(t_value_is_pattern(v, 4u << 20));
	CU_ASSERT(t_equals(r, rope_bytes_data(v), 4u << 20));
	T_CHECK(r);
	rope_bytes_unref(v);
	rope_free(r);
}

/* A large pullup of private page chunks moves them too; segments only
 * partly inside the range are copied and keep the rest. */
static void
test_memory_pullup_moves_pages(void)
{
	static uint8_t want[4u << 20];
	struct rope *r = t_rope_of_writes(4, 1u << 20);
	struct t_mem_stats a, b;
	struct rope_snap *snap;
	const void *p;

	t_pattern(want, sizeof(want), 0);
	t_mem_stats(&a);
	CU_ASSERT_EQUAL(rope_pullup(r, 1 << 20, 2u << 20, &p), 0);
	t_mem_stats(&b);
	CU_ASSERT(memcmp(p, want + (1u << 20), 2u << 20) == 0);
	CU_ASSERT(b.total - a.total < 64 * 1024);
	CU_ASSERT_EQUAL(r->nseg, 3);
	CU_ASSERT(t_equals(r, want, sizeof(want)));
	T_CHECK(r);

	/* [1 MiB - 4 KiB, 4 MiB): the flat chunk and the last segment move,
	 * the first segment's part is copied, and it keeps its first
	 * 1020 KiB. */
	t_mem_stats(&a);
	CU_ASSERT_EQUAL(rope_pullup(r, (1 << 20) - 4096,
				    (3u << 20) + 4096, &p), 0);
	t_mem_stats(&b);
	CU_ASSERT(memcmp(p, want + (1u << 20) - 4096, (3u << 20) + 4096) == 0);
	CU_ASSERT(b.total - a.total < 64 * 1024);
	CU_ASSERT_EQUAL(r->nseg, 2);
	CU_ASSERT(t_equals(r, want, sizeof(want)));
	T_CHECK(r);

	/* With a snapshot held nothing moves, and it keeps its bytes. */
	CU_ASSERT_EQUAL(rope_snapshot(r, &snap), 0);
	CU_ASSERT_EQUAL(rope_pullup(r, 0, 4u << 20, &p), 0);
	CU_ASSERT(memcmp(p, want, sizeof(want)) == 0);
	rope_free(r);
	r = rope_new();
	{
		struct iovec iov[2];
		int n = rope_snap_iov(snap, 0, SIZE_MAX, iov, 2);

		CU_ASSERT_EQUAL(n, 2);
		for (int i = 0; i < n; i++)
			rope_write(r, iov[i].iov_base, iov[i].iov_len);
	}
	CU_ASSERT(t_equals(r, want, sizeof(want)));
	rope_snap_unref(snap);
	rope_free(r);
}

/* A stream of 64 KiB appends grows its tail past 2 MiB, onto huge-page
 * aligned page chunks, up to ROPE_TAIL_MAX. */
static void
test_memory_stream_tail_grows_to_huge_pages(void)
{
	struct rope *r = t_rope_of_writes(1024, 64 * 1024);
	size_t largest = 0;

	for (size_t i = 0; i < r->nseg; i++) {
		const struct rope_chunk *c = r->segs[i].chunk;

		largest = MAX(largest, c->cap);
		if (c->cap >= ROPE_HUGE_MIN)
			CU_ASSERT_EQUAL((uintptr_t)c->data % ROPE_HUGE_MIN, 0);
	}
	CU_ASSERT(largest >= MIN(ROPE_HUGE_MIN * 4, ROPE_TAIL_MAX));
	CU_ASSERT(largest <= ROPE_TAIL_MAX);
	/* 64 MiB in few segments (in 1 MiB ones under ThreadSanitizer). */
	CU_ASSERT(r->nseg < (ROPE_TAIL_MAX > ROPE_CHUNK_MAX ? 40 : 100));
	T_CHECK(r);
	rope_free(r);
}

static const struct t_test tests[] = {
	{ "chunk_size_follows_traffic",
	  test_memory_chunk_size_follows_traffic },
	{ "getvalue_copies_shared", test_memory_getvalue_copies_shared },
	{ "getvalue_moved_leaves_room_for_appends",
	  test_memory_getvalue_moved_leaves_room_for_appends },
	{ "getvalue_moves_appends_and_edges",
	  test_memory_getvalue_moves_appends_and_edges },
	{ "getvalue_moves_pages", test_memory_getvalue_moves_pages },
	{ "getvalue_remap_oom", test_memory_getvalue_remap_oom },
	{ "huge_chunk_aligned_and_advised",
	  test_memory_huge_chunk_aligned_and_advised },
	{ "page_chunk_header_apart", test_memory_page_chunk_header_apart },
	{ "page_chunk_oom", test_memory_page_chunk_oom },
	{ "pullup_moves_pages", test_memory_pullup_moves_pages },
	{ "queue_drain_allocates_nothing",
	  test_memory_queue_drain_allocates_nothing },
	{ "queue_of_pieces_settles", test_memory_queue_of_pieces_settles },
	{ "queue_read_fd_allocates_nothing",
	  test_memory_queue_read_fd_allocates_nothing },
	{ "queue_truncate_allocates_nothing",
	  test_memory_queue_truncate_allocates_nothing },
	{ "small_ropes_map_no_pages", test_memory_small_ropes_map_no_pages },
	{ "stream_tail_grows_to_huge_pages",
	  test_memory_stream_tail_grows_to_huge_pages },
	{ "spare_counted_and_freed_by_close",
	  test_memory_spare_counted_and_freed_by_close },
	{ "spare_never_shared", test_memory_spare_never_shared },
	{ "spare_too_small_gives_way", test_memory_spare_too_small_gives_way },
};

int
main(void)
{
	return t_run("memory", tests, ARRAY_SIZE(tests));
}
