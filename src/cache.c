/* SPDX-License-Identifier: MIT */
/*
 * The chunk cache: owned chunks of the common capacities (the powers of two
 * that tail chunks take, ROPE_CHUNK_FIRST to ROPE_CHUNK_MAX) go to a free
 * list of their size class when released, and the next chunk of that class
 * comes from there instead of from malloc or mmap. Below ROPE_PAGE_MIN a
 * block is a chunk's one allocation (header and bytes); from there it is a
 * page chunk's pages alone (its small header goes back to malloc).
 *
 * Where freed memory goes back to a virtual machine's host, a fresh page
 * measured 15 to 36 us, so memory that stays ours and stays touched decides
 * most figures.
 *
 * Chunks are released on any thread (a value or snapshot dropped elsewhere),
 * so each class is a LIFO list behind its own mutex: uncontended, a lock and
 * an unlock cost about as much as glibc's own fast path, and a mutex is
 * plainly correct under ThreadSanitizer where a lock-free stack needs ABA
 * care. A process-wide byte count bounds the whole cache; it is reserved
 * before a block goes in, so the bound is never passed, even for a moment.
 *
 * The cache follows the bytes in flight, within a bound. A fixed limit
 * (4 MiB) served a queue, but a log shipper with 8 MiB in flight freed
 * 8 MiB at once when a send completed: half went back to the system and
 * was faulted in again by the next reads (136,587 page faults in a run
 * against 380 for a plain read/write loop). So a block refused only
 * because the cache is at its limit raises the cap instead, to the bytes
 * held plus that block, up to ROPE_CACHE_FOLLOW times the limit (16 MiB by
 * default): the cap is the high-water mark of what was freed and not yet
 * taken back. It falls back to the limit, and the excess is freed, once
 * no release has needed more than the limit for ROPE_CACHE_DECAY_MS
 * (looked at by the cache's own calls: an idle process keeps what it
 * held until its next chunk, or rope_cache_trim()). A limit of 0 is off:
 * nothing follows.
 *
 * The cache only stores blocks: the accounting of bytes in use and of what
 * the system gave is alloc.c's (rope__chunk_mem_*).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rope-priv.h"

/*
 * Under AddressSanitizer a cached block is poisoned but for its link, so a
 * use after the last unref is still reported, as it would be after free().
 */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define NCLASS 13  /* ROPE_CHUNK_FIRST << 0 .. ROPE_CHUNK_MAX */
_Static_assert((ROPE_CHUNK_FIRST << (NCLASS - 1)) == ROPE_CHUNK_MAX,
	       "one class per power of two");
_Static_assert(ROPE_PAGE_MIN > ROPE_CHUNK_FIRST &&
	       ROPE_PAGE_MIN <= ROPE_CHUNK_MAX &&
	       (ROPE_PAGE_MIN & (ROPE_PAGE_MIN - 1)) == 0,
	       "page chunks start at a class of their own");

/* A free block starts with the link to the next one. */
struct free_block {
	struct free_block *next;
};

struct size_class {
	pthread_mutex_t lock;
	_Atomic(struct free_block *) head;  /* written under the lock */
};

static struct size_class classes[NCLASS] = {
	[0 ... NCLASS - 1] = { .lock = PTHREAD_MUTEX_INITIALIZER },
};

static atomic_size_t held;         /* bytes in the lists, or reserved */
static atomic_size_t limit;
/* The cap above the limit while following (0: at the limit), and when
 * the cache last held more than its limit (CLOCK_MONOTONIC_COARSE, ms). */
static atomic_size_t grown;
static atomic_uint_fast64_t over_ms;
static atomic_uint decay_ms = ROPE_CACHE_DECAY_MS;
static atomic_uint_fast64_t hits;
static atomic_bool configured;
static pthread_once_t configure_once = PTHREAD_ONCE_INIT;

static bool
pow2(size_t x)
{
	return x && !(x & (x - 1));
}

/* The capacity of class @k's chunks. */
static size_t
class_cap(int k)
{
	return (size_t)ROPE_CHUNK_FIRST << k;
}

/* Class @k holds page chunks' pages (else whole small chunks). */
static bool
class_pages(int k)
{
	return class_cap(k) >= ROPE_PAGE_MIN;
}

/* The size of class @k's blocks. */
static size_t
class_size(int k)
{
	return class_pages(k) ? class_cap(k) : ROPE_CHUNK_HDR + class_cap(k);
}

/*
 * The class of a block of @size bytes, or -1 when it is not cached. A small
 * chunk's block is the header plus a power of two (never a power of two
 * itself); a page chunk's is a power of two, at least ROPE_PAGE_MIN.
 */
static int
class_of(size_t size)
{
	size_t cap = size;

	if (!pow2(size))
		cap = size - ROPE_CHUNK_HDR;  /* tiny sizes wrap: no class */
	if (!pow2(cap) || cap < ROPE_CHUNK_FIRST || cap > ROPE_CHUNK_MAX ||
	    (cap == size) != (cap >= ROPE_PAGE_MIN))
		return -1;
	return __builtin_ctzl(cap) - __builtin_ctzl(ROPE_CHUNK_FIRST);
}

/*
 * ROPEIO_CACHE_BYTES: a byte count with an optional K, M or G suffix
 * (powers of 1024); 0 turns the cache off. Anything else is ignored.
 */
static bool
parse_bytes(const char *s, size_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	v = strtoull(s, &end, 10);
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	default: break;
	}
	if (*end || v > (SIZE_MAX >> shift))
		return false;
	*out = (size_t)(v << shift);
	return true;
}

/*
 * fork() copies the lists into the child as they are. A class lock held by
 * another thread at that instant would stay locked in the child forever, so
 * every lock is taken around fork(), as glibc does for its arenas.
 *
 * The byte count is no part of any list: give() reserves its bytes before
 * it takes the lock, take() and trim_to() subtract theirs after letting it
 * go. A fork() between the two leaves the child counting a block that is
 * in no list, or not counting one that is, and no thread of the child will
 * ever settle it. So the child counts its lists again, while it holds
 * every lock and is the only thread there is.
 */
static void
fork_prepare(void)
{
	for (int k = 0; k < NCLASS; k++)
		pthread_mutex_lock(&classes[k].lock);
}

static void
fork_release(void)
{
	for (int k = NCLASS - 1; k >= 0; k--)
		pthread_mutex_unlock(&classes[k].lock);
}

static void
fork_child(void)
{
	size_t bytes = 0;

	for (int k = 0; k < NCLASS; k++)
		for (struct free_block *b = atomic_load_explicit(
			     &classes[k].head, memory_order_relaxed);
		     b; b = b->next)
			bytes += class_size(k);
	atomic_store_explicit(&held, bytes, memory_order_relaxed);
	fork_release();
}

static void
configure(void)
{
	size_t bytes = ROPE_CACHE_DEFAULT;

	parse_bytes(getenv("ROPEIO_CACHE_BYTES"), &bytes);
	atomic_store_explicit(&limit, bytes, memory_order_relaxed);
	pthread_atfork(fork_prepare, fork_release, fork_child);
	atomic_store_explicit(&configured, true, memory_order_release);
}

/* The environment is read once, on the first use of the cache. */
static inline void
ensure_configured(void)
{
	if (unlikely(!atomic_load_explicit(&configured, memory_order_acquire)))
		pthread_once(&configure_once, configure);
}

/* The block on top of @c's list, or NULL. */
static struct free_block *
pop(struct size_class *c)
{
	struct free_block *b;

	pthread_mutex_lock(&c->lock);
	b = atomic_load_explicit(&c->head, memory_order_relaxed);
	if (b)
		atomic_store_explicit(&c->head, b->next, memory_order_relaxed);
	pthread_mutex_unlock(&c->lock);
	return b;
}

static uint64_t
coarse_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The most the cache may hold now. */
static size_t
cap_now(void)
{
	return atomic_load_explicit(&limit, memory_order_relaxed) +
	       atomic_load_explicit(&grown, memory_order_relaxed);
}

/*
 * Held bytes would reach @want, past the cap: raise the cap to it if the
 * bound allows (true), as a cache that follows the bytes in flight.
 */
static bool
follow(size_t want)
{
	size_t lim = atomic_load_explicit(&limit, memory_order_relaxed);
	size_t g = atomic_load_explicit(&grown, memory_order_relaxed);

	if (!lim || want > lim * ROPE_CACHE_FOLLOW ||
	    lim * ROPE_CACHE_FOLLOW / ROPE_CACHE_FOLLOW != lim)
		return false;
	while (g < want - lim &&
	       !atomic_compare_exchange_weak_explicit(&grown, &g, want - lim,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
	return true;
}

static size_t trim_to(size_t keep);

/*
 * While the cap is raised: once no release has needed more than the limit
 * for decay_ms, let the cap fall back and free what is held past the
 * limit. Costs nothing while at the limit.
 */
static void
decay(void)
{
	if (likely(!atomic_load_explicit(&grown, memory_order_relaxed)))
		return;
	if (coarse_ms() - atomic_load_explicit(&over_ms, memory_order_relaxed) <
	    atomic_load_explicit(&decay_ms, memory_order_relaxed))
		return;
	atomic_store_explicit(&grown, 0, memory_order_relaxed);
	trim_to(atomic_load_explicit(&limit, memory_order_relaxed));
}

void
rope__cache_decay_set(unsigned ms)
{
	atomic_store_explicit(&decay_ms, ms, memory_order_relaxed);
}

void *
rope__cache_take(size_t size)
{
	int k = class_of(size);
	struct free_block *b;

	if (k < 0)
		return NULL;
	/* An unlocked peek: a miss costs no lock (a stale answer only
	 * means one miss, or one locked look at an empty list). */
	if (!atomic_load_explicit(&classes[k].head, memory_order_relaxed)) {
		decay();
		return NULL;
	}
	b = pop(&classes[k]);
	if (!b)
		return NULL;
	atomic_fetch_sub_explicit(&held, size, memory_order_relaxed);
	atomic_fetch_add_explicit(&hits, 1, memory_order_relaxed);
	UNPOISON(b, size);
	decay();
	return b;
}

bool
rope__cache_give(void *p, size_t size)
{
	int k = class_of(size);
	struct size_class *c;
	struct free_block *b = p;
	size_t was;

	if (k < 0)
		return false;
	ensure_configured();
	/* Reserve the bytes first: the bound holds at every instant. */
	was = atomic_fetch_add_explicit(&held, size, memory_order_relaxed);
	if (was + size > atomic_load_explicit(&limit, memory_order_relaxed))
		atomic_store_explicit(&over_ms, coarse_ms(),
				      memory_order_relaxed);
	if (was + size < was ||
	    (was + size > cap_now() && !follow(was + size))) {
		atomic_fetch_sub_explicit(&held, size, memory_order_relaxed);
		return false;
	}
	c = &classes[k];
	POISON((uint8_t *)p + sizeof(*b), size - sizeof(*b));
	pthread_mutex_lock(&c->lock);
	b->next = atomic_load_explicit(&c->head, memory_order_relaxed);
	atomic_store_explicit(&c->head, b, memory_order_relaxed);
	pthread_mutex_unlock(&c->lock);
	decay();
	return true;
}

/* Free blocks, largest class first, until at most @keep bytes are held. */
static size_t
trim_to(size_t keep)
{
	size_t freed = 0;

	for (int k = NCLASS - 1; k >= 0; k--) {
		struct size_class *c = &classes[k];
		size_t size = class_size(k);

		while (atomic_load_explicit(&held, memory_order_relaxed) >
		       keep) {
			struct free_block *b = pop(c);

			if (!b)
				break;
			atomic_fetch_sub_explicit(&held, size,
						  memory_order_relaxed);
			UNPOISON(b, size);
			if (class_pages(k))
				rope__pages_mem_return(b, size);
			else
				rope__chunk_mem_return(b, size);
			freed += size;
		}
	}
	return freed;
}

void
rope__cache_stats(size_t *bytes, size_t *max, uint64_t *nhits)
{
	ensure_configured();
	*bytes = atomic_load_explicit(&held, memory_order_relaxed);
	*max = atomic_load_explicit(&limit, memory_order_relaxed);
	*nhits = atomic_load_explicit(&hits, memory_order_relaxed);
}

ROPEIO_EXPORT int
rope_cache_stats(struct rope_cache_stats *out, size_t size)
{
	struct rope_cache_stats st;

	/* Version 0.2's struct is the smallest a caller can have: it gets
	 * the fields it has (a larger one, from a later header, keeps its
	 * extra fields as they are). */
	if (!out || size < ROPE_CACHE_STATS_SIZE_0_2)
		return -EINVAL;
	rope__cache_stats(&st.cached, &st.limit, &st.hits);
	st.cap = cap_now();
	memcpy(out, &st, MIN(size, sizeof(st)));
	return 0;
}

ROPEIO_EXPORT size_t
rope_cache_set_limit(size_t bytes)
{
	size_t old;

	ensure_configured();
	old = atomic_exchange_explicit(&limit, bytes, memory_order_relaxed);
	atomic_store_explicit(&grown, 0, memory_order_relaxed);
	trim_to(bytes);
	return old;
}

ROPEIO_EXPORT size_t
rope_cache_trim(void)
{
	/* Emptied, the cache starts again from its limit. */
	atomic_store_explicit(&grown, 0, memory_order_relaxed);
	return trim_to(0);
}
