/* SPDX-License-Identifier: MIT */
/*
 * The one allocation seam. Every byte ropeio allocates passes through here,
 * so the accounting in rope_mem_stats() is exact and a test can make the Nth
 * allocation fail. Callers pass the size back on free, which keeps the
 * accounting free of hidden headers.
 *
 * Owned chunks come and go through rope__chunk_mem*, which put the chunk
 * cache (cache.c) before the allocator. `allocated` and `peak` count bytes
 * in use; `total`, `allocs` and `frees` count what the system gave and got
 * back, so a cache hit adds to the first two only, and a chunk the cache
 * keeps adds to neither `frees` nor `allocated`.
 *
 * The failure hook counts every chunk acquisition, a cache hit as much as a
 * malloc: where the Nth allocation fails does not depend on what the cache
 * happens to hold, so the OOM sweep reaches the same paths with the cache
 * on, off or emptied.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rope-priv.h"

static atomic_size_t mem_allocated;
static atomic_size_t mem_peak;
/* total, allocs and frees are counted per thread: alloc-counts.c. */

/* Failure injection: < 0 means off; otherwise the countdown to a failure. */
static atomic_long fail_countdown = -1;
static atomic_long attempts;

/* Whether a test ever used the hook: until then no attempt is counted, so
 * a program pays one load per allocation for it, not an atomic add. */
static atomic_bool hooked;

static bool
should_fail(void)
{
	long left;

	if (likely(!atomic_load_explicit(&hooked, memory_order_relaxed)))
		return false;
	atomic_fetch_add_explicit(&attempts, 1, memory_order_relaxed);
	left = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
	if (likely(left < 0))
		return false;
	atomic_store_explicit(&fail_countdown, left - 1, memory_order_relaxed);
	return left == 0;
}

/* @size more bytes in use. */
static void
in_use_add(size_t size)
{
	size_t now, peak;

	now = atomic_fetch_add_explicit(&mem_allocated, size,
					memory_order_relaxed) + size;
	peak = atomic_load_explicit(&mem_peak, memory_order_relaxed);
	while (now > peak &&
	       !atomic_compare_exchange_weak_explicit(&mem_peak, &peak, now,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/* @size bytes taken from the system and put in use. */
static void
account_add(size_t size)
{
	rope__count_taken(size, 1);
	in_use_add(size);
}

static void
account_sub(size_t size)
{
	atomic_fetch_sub_explicit(&mem_allocated, size, memory_order_relaxed);
	rope__count_freed();
}

void *
rope__alloc(size_t size)
{
	void *p;

	if (should_fail())
		return NULL;
	p = malloc(size);
	if (p)
		account_add(size);
	return p;
}

void *
rope__realloc(void *p, size_t old_size, size_t new_size)
{
	void *q;

	if (should_fail())
		return NULL;
	q = realloc(p, new_size);
	if (!q)
		return NULL;
	if (p)
		account_sub(old_size);
	account_add(new_size);
	return q;
}

/*
 * Shrink a block: never fails (where realloc() refuses, the block stays as
 * it was and NULL says so) and is no allocation, so the failure hook and
 * the counts of allocations leave it alone; only the bytes in use fall.
 */
void *
rope__realloc_shrink(void *p, size_t old_size, size_t new_size)
{
	void *q = realloc(p, new_size);

	if (q)
		atomic_fetch_sub_explicit(&mem_allocated, old_size - new_size,
					  memory_order_relaxed);
	return q;
}

void
rope__pages_mem_trim(void *p, size_t len)
{
	atomic_fetch_sub_explicit(&mem_allocated, len, memory_order_relaxed);
	rope__pages_unmap(p, len);
}

void
rope__free(void *p, size_t size)
{
	if (!p)
		return;
	account_sub(size);
	free(p);
}

/*
 * Chunk memory, heap or pages: from the cache when it has a block of that
 * size (in use again, taken from nobody), else from the system through
 * @take; released to the cache when it has room, else to the system
 * through @give.
 */
static void *
mem_take(size_t size, void *(*take)(size_t))
{
	void *p;

	if (should_fail())
		return NULL;
	p = rope__cache_take(size);
	if (p) {
		in_use_add(size);
		return p;
	}
	p = take(size);
	if (p)
		account_add(size);
	return p;
}

static void
mem_give(void *p, size_t size, void (*give)(void *, size_t))
{
	atomic_fetch_sub_explicit(&mem_allocated, size, memory_order_relaxed);
	if (!rope__cache_give(p, size))
		give(p, size);
}

void *
rope__chunk_mem(size_t size)
{
	return mem_take(size, malloc);
}

void
rope__chunk_mem_free(void *p, size_t size)
{
	mem_give(p, size, rope__chunk_mem_return);
}

void
rope__chunk_mem_return(void *p, size_t size)
{
	rope__count_freed();
	free(p);
}

void *
rope__pages_mem(size_t size)
{
	return mem_take(size, rope__pages_map);
}

void
rope__pages_mem_free(void *p, size_t size)
{
	mem_give(p, size, rope__pages_mem_return);
}

void
rope__pages_mem_return(void *p, size_t size)
{
	rope__count_freed();
	rope__pages_unmap(p, size);
}

void *
rope__pages_reserve(size_t len)
{
	void *p;

	if (should_fail())
		return NULL;
	p = rope__pages_map(len);
	if (p)
		rope__count_taken(0, 1);
	return p;
}

void
rope__pages_unreserve(void *p, size_t len)
{
	rope__count_freed();
	rope__pages_unmap(p, len);
}

void
rope__pages_gone(size_t cap, size_t moved)
{
	atomic_fetch_sub_explicit(&mem_allocated, cap, memory_order_relaxed);
	rope__count_freed();
}

void
rope__pages_reserved(size_t len, size_t moved)
{
	rope__count_taken(len - moved, 0);
	in_use_add(len);
}

long
rope__alloc_fail_at(long nth)
{
	atomic_store_explicit(&hooked, true, memory_order_relaxed);
	atomic_store_explicit(&fail_countdown, nth < 0 ? -1 : nth,
			      memory_order_relaxed);
	return atomic_exchange_explicit(&attempts, 0, memory_order_relaxed);
}

/* A struct of @size bytes, from 0.1's up, gets the fields it has; bytes
 * past this version's struct stay as they are. */
int
rope__mem_stats(struct rope_mem_stats *out, size_t size)
{
	struct rope_mem_stats st;

	if (!out || size < ROPE_MEM_STATS_SIZE_0_1)
		return -EINVAL;
	st.allocated = atomic_load_explicit(&mem_allocated,
					    memory_order_relaxed);
	st.peak = atomic_load_explicit(&mem_peak, memory_order_relaxed);
	rope__counts_read(&st.total, &st.allocs, &st.frees);
	memcpy(out, &st, MIN(size, sizeof(st)));
	return 0;
}

ROPEIO_EXPORT void
rope_mem_reset_peak(void)
{
	atomic_store_explicit(&mem_peak,
			      atomic_load_explicit(&mem_allocated,
						   memory_order_relaxed),
			      memory_order_relaxed);
}
