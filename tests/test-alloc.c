/* SPDX-License-Identifier: MIT */
/*
 * The allocation seam: exact accounting of bytes, peak and counts, and the
 * failure hook the OOM sweep relies on.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "common.h"

static void
test_alloc_accounts_bytes_and_counts(void)
{
	struct rope_mem_stats a, b, c;
	void *p, *q;

	rope_mem_stats(&a, sizeof(a));
	p = rope__alloc(1000);
	CU_ASSERT_PTR_NOT_NULL(p);
	rope_mem_stats(&b, sizeof(b));
	CU_ASSERT_EQUAL(b.allocated - a.allocated, 1000);
	CU_ASSERT_EQUAL(b.allocs - a.allocs, 1);
	CU_ASSERT_EQUAL(b.total - a.total, 1000);
	q = rope__realloc(p, 1000, 3000);
	CU_ASSERT_PTR_NOT_NULL(q);
	rope_mem_stats(&c, sizeof(c));
	CU_ASSERT_EQUAL(c.allocated - a.allocated, 3000);
	rope__free(q, 3000);
	rope__free(NULL, 123);
	rope_mem_stats(&c, sizeof(c));
	CU_ASSERT_EQUAL(c.allocated, a.allocated);
	CU_ASSERT_EQUAL(c.frees - a.frees, 2);  /* realloc's and free's */
	CU_ASSERT_EQUAL(rope_mem_stats(NULL, sizeof(c)), -EINVAL);
}

static void
test_alloc_peak_and_reset(void)
{
	struct rope_mem_stats st;
	void *p;

	rope_mem_reset_peak();
	rope_mem_stats(&st, sizeof(st));
	CU_ASSERT_EQUAL(st.peak, st.allocated);
	p = rope__alloc(1 << 20);
	rope__free(p, 1 << 20);
	rope_mem_stats(&st, sizeof(st));
	CU_ASSERT(st.peak >= st.allocated + (1 << 20));
	rope_mem_reset_peak();
	rope_mem_stats(&st, sizeof(st));
	CU_ASSERT_EQUAL(st.peak, st.allocated);
}

static void
test_alloc_fail_at_nth(void)
{
	void *p[3];

	rope__alloc_fail_at(2);
	p[0] = rope__alloc(16);
	p[1] = rope__alloc(16);
	p[2] = rope__alloc(16);
	/* The failure fires once, then allocation works again. */
	CU_ASSERT_PTR_NOT_NULL(p[0]);
	CU_ASSERT_PTR_NOT_NULL(p[1]);
	CU_ASSERT_PTR_NULL(p[2]);
	p[2] = rope__alloc(16);
	CU_ASSERT_PTR_NOT_NULL(p[2]);
	CU_ASSERT_EQUAL(rope__alloc_fail_at(-1), 4);
	for (int i = 0; i < 3; i++)
		rope__free(p[i], 16);
	rope__alloc_fail_at(0);
	CU_ASSERT_PTR_NULL(rope__realloc(NULL, 0, 16));
	rope__alloc_fail_at(-1);
}

static void
test_alloc_rope_frees_everything(void)
{
	size_t before = t_mem_now();
	struct rope *r = rope_new();
	struct rope_bytes *v;
	struct rope_snap *s;

	for (int i = 0; i < 1000; i++) {
		rope_write(r, "0123456789abcdef", 16);
		rope_append_ref(r, "ref", 3, NULL, NULL);
	}
	rope_getvalue(r, &v);
	rope_snapshot(r, &s);
	rope_free(r);
	CU_ASSERT(t_mem_now() > before);
	rope_bytes_unref(v);
	rope_snap_unref(s);
	CU_ASSERT_EQUAL(t_mem_now(), before);
}

static void *
churn(void *arg)
{
	for (int i = 0; i < 5000; i++)
		rope__free(rope__alloc(64), 64);
	return arg;
}

static void
test_alloc_counters_are_thread_safe(void)
{
	size_t before = t_mem_now();
	pthread_t t[4];

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(t_mem_now(), before);
}

/* struct rope_mem_stats starts with version 0.1's layout, which
 * programs built against 0.1 allocate (0.1's rope_mem_stats writes just
 * that): it may only grow at the end. */
static void
test_alloc_mem_stats_keeps_its_0_1_layout(void)
{
	struct mem_stats_0_1 {
		size_t allocated, peak;
		uint64_t total, allocs, frees;
	};

	CU_ASSERT(sizeof(struct rope_mem_stats) >=
		  sizeof(struct mem_stats_0_1));
	CU_ASSERT_EQUAL(ROPE_MEM_STATS_SIZE_0_1, sizeof(struct mem_stats_0_1));
	CU_ASSERT_EQUAL(offsetof(struct rope_mem_stats, total),
			offsetof(struct mem_stats_0_1, total));
	CU_ASSERT_EQUAL(offsetof(struct rope_mem_stats, frees),
			offsetof(struct mem_stats_0_1, frees));
}

/* rope_cache_stats() writes no more than the size it is told, and
 * refuses a size smaller than its first version's struct. */
static void
test_alloc_cache_stats_writes_only_its_size(void)
{
	unsigned char big[sizeof(struct rope_cache_stats) + 16];
	struct rope_cache_stats st;

	memset(big, 0xa5, sizeof(big));
	CU_ASSERT_EQUAL(rope_cache_stats((struct rope_cache_stats *)big,
					 sizeof(big)), 0);
	for (size_t i = sizeof(st); i < sizeof(big); i++)
		CU_ASSERT_EQUAL(big[i], 0xa5);
	/* Version 0.2's struct ended before cap: it is the smallest taken,
	 * and gets its own fields only. */
	memset(big, 0xa5, sizeof(big));
	CU_ASSERT_EQUAL(rope_cache_stats((struct rope_cache_stats *)big,
					 offsetof(struct rope_cache_stats, cap)),
			0);
	for (size_t i = offsetof(struct rope_cache_stats, cap);
	     i < sizeof(big); i++)
		CU_ASSERT_EQUAL(big[i], 0xa5);
	CU_ASSERT_EQUAL(rope_cache_stats(&st, offsetof(struct rope_cache_stats,
						       cap) - 1),
			-EINVAL);
	CU_ASSERT_EQUAL(rope_cache_stats(NULL, sizeof(st)), -EINVAL);
	CU_ASSERT_EQUAL(rope_cache_stats(&st, sizeof(st)), 0);
	CU_ASSERT(st.cached <= st.limit);
}

static const struct t_test tests[] = {
	{ "accounts_bytes_and_counts", test_alloc_accounts_bytes_and_counts },
	{ "cache_stats_writes_only_its_size",
	  test_alloc_cache_stats_writes_only_its_size },
	{ "counters_are_thread_safe", test_alloc_counters_are_thread_safe },
	{ "fail_at_nth", test_alloc_fail_at_nth },
	{ "mem_stats_keeps_its_0_1_layout",
	  test_alloc_mem_stats_keeps_its_0_1_layout },
	{ "peak_and_reset", test_alloc_peak_and_reset },
	{ "rope_frees_everything", test_alloc_rope_frees_everything },
};

int
main(void)
{
	return t_run("alloc", tests, ARRAY_SIZE(tests));
}
