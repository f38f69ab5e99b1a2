/* SPDX-License-Identifier: MIT */
/*
 * The monotonic allocation counts of rope_mem_stats(): bytes taken from the
 * system (`total`), allocations and frees. They are added to on every
 * allocation, and an atomic add per count was most of the cost of a small
 * rope's life (five of them per allocation and free). So each thread adds
 * to counts of its own, with a plain load and store that only it makes; a
 * reader sums every thread's. A thread's counts fold into `retired` when it
 * exits. `allocated` and `peak` stay one process-wide atomic in alloc.c:
 * the peak needs the sum at every step.
 *
 * A thread whose block cannot be allocated counts into `shared` with
 * atomic adds, as every thread did before.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "rope-priv.h"

struct thread_counts {
	/* Written by the owning thread only; read by any (relaxed). */
	atomic_uint_fast64_t total, allocs, frees;
	struct thread_counts *next, *prev;
};

static pthread_mutex_t counts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct thread_counts *counts_list;  /* live threads' counts */
static struct thread_counts retired, shared;
static pthread_key_t counts_key;
static pthread_once_t counts_once = PTHREAD_ONCE_INIT;
static bool counts_keyed;

static __thread struct thread_counts *my_counts
	__attribute__((tls_model("initial-exec")));

static inline void
bump(atomic_uint_fast64_t *v, uint64_t n)
{
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) +
			      n, memory_order_relaxed);
}

static inline void
add(atomic_uint_fast64_t *v, uint64_t n)
{
	atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

static uint64_t
get(const atomic_uint_fast64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

/* At thread exit: the counts fold into `retired`, the block goes. */
static void
counts_retire(void *arg)
{
	struct thread_counts *c = arg;

	pthread_mutex_lock(&counts_lock);
	add(&retired.total, get(&c->total));
	add(&retired.allocs, get(&c->allocs));
	add(&retired.frees, get(&c->frees));
	if (c->prev)
		c->prev->next = c->next;
	else
		counts_list = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&counts_lock);
	my_counts = NULL;
	free(c);
}

/* A fork leaves the lock as the parent's threads had it: hold it across. */
static void
counts_lock_take(void)
{
	pthread_mutex_lock(&counts_lock);
}

static void
counts_lock_give(void)
{
	pthread_mutex_unlock(&counts_lock);
}

static void
counts_init(void)
{
	counts_keyed = pthread_key_create(&counts_key, counts_retire) == 0;
	pthread_atfork(counts_lock_take, counts_lock_give, counts_lock_give);
}

/* This thread's counts, registered on first use, or `shared`. */
static struct thread_counts *
counts_mine(void)
{
	struct thread_counts *c = my_counts;

	if (likely(c))
		return c;
	pthread_once(&counts_once, counts_init);
	c = counts_keyed ? calloc(1, sizeof(*c)) : NULL;
	if (!c)
		return &shared;
	if (pthread_setspecific(counts_key, c) != 0) {
		free(c);
		return &shared;
	}
	pthread_mutex_lock(&counts_lock);
	c->next = counts_list;
	if (counts_list)
		counts_list->prev = c;
	counts_list = c;
	pthread_mutex_unlock(&counts_lock);
	my_counts = c;
	return c;
}

void
rope__count_taken(uint64_t bytes, uint64_t allocs)
{
	struct thread_counts *c = counts_mine();

	if (unlikely(c == &shared)) {
		add(&c->total, bytes);
		add(&c->allocs, allocs);
		return;
	}
	bump(&c->total, bytes);
	bump(&c->allocs, allocs);
}

void
rope__count_freed(void)
{
	struct thread_counts *c = counts_mine();

	if (unlikely(c == &shared))
		add(&c->frees, 1);
	else
		bump(&c->frees, 1);
}

void
rope__counts_read(uint64_t *total, uint64_t *allocs, uint64_t *frees)
{
	uint64_t t, a, f;

	pthread_mutex_lock(&counts_lock);
	t = get(&retired.total) + get(&shared.total);
	a = get(&retired.allocs) + get(&shared.allocs);
	f = get(&retired.frees) + get(&shared.frees);
	for (const struct thread_counts *c = counts_list; c; c = c->next) {
		t += get(&c->total);
		a += get(&c->allocs);
		f += get(&c->frees);
	}
	pthread_mutex_unlock(&counts_lock);
	*total = t;
	*allocs = a;
	*frees = f;
}
