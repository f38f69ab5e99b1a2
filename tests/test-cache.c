/* SPDX-License-Identifier: MIT */
/*
 * The chunk cache: hits take nothing from the system, the byte limit holds,
 * trimming gives everything back, the environment variable is read once,
 * the failure hook still fails a hit, chunks released on other threads are
 * reused by the owner (meant for ThreadSanitizer too), fork() leaves the
 * child a usable cache, and the cache follows a burst of bytes in flight
 * (within its bound) so the next burst maps nothing new.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

/* main() sets this before the cache is first used. */
#define ENV_LIMIT (3u << 20)

/* The footprint of a cached 4 KiB chunk. */
#define FP4K (ROPE_CHUNK_HDR + 4096)

static struct t_mem_stats
t_stats(void)
{
	struct t_mem_stats st;

	t_mem_stats(&st);
	return st;
}

static void
test_cache_bound_holds(void)
{
	size_t old = rope_cache_set_limit(3 * FP4K);
	struct rope_chunk *c[20];
	struct t_mem_stats a, b;

	rope_cache_trim();
	a = t_stats();
	CU_ASSERT_EQUAL(a.cached, 0);
	CU_ASSERT_EQUAL(a.cache_limit, 3 * FP4K);
	for (int i = 0; i < 20; i++)
		c[i] = rope__chunk_new(4096);
	for (int i = 0; i < 20; i++)
		if (c[i])
			rope__chunk_unref(c[i]);
	b = t_stats();
	/* Following the bytes released, the cache keeps up to four times
	 * its limit: twelve kept, eight given back; none in use. */
	CU_ASSERT_EQUAL(b.cached, 12 * FP4K);
	CU_ASSERT_EQUAL(b.frees - a.frees, 8);
	CU_ASSERT_EQUAL(b.allocated, a.allocated);
	/* Lowering the limit trims at once, and the cap with it. */
	CU_ASSERT_EQUAL(rope_cache_set_limit(FP4K), 3 * FP4K);
	b = t_stats();
	CU_ASSERT_EQUAL(b.cached, FP4K);
	CU_ASSERT_EQUAL(b.frees - a.frees, 19);
	rope_cache_set_limit(old);
	rope_cache_trim();
}

static void
test_cache_env_read_once(void)
{
	struct t_mem_stats st;

	/* The suite leaves the limit as it found it: this is the value
	 * ROPEIO_CACHE_BYTES gave at the first use. */
	st = t_stats();
	CU_ASSERT_EQUAL(st.cache_limit, ENV_LIMIT);
	setenv("ROPEIO_CACHE_BYTES", "1K", 1);
	rope__chunk_unref(rope__chunk_new(4096));
	st = t_stats();
	CU_ASSERT_EQUAL(st.cache_limit, ENV_LIMIT);
	rope_cache_trim();
}

static void
test_cache_hit_takes_nothing_from_system(void)
{
	size_t old = rope_cache_set_limit(1 << 20);
	struct t_mem_stats a, b;
	struct rope_chunk *c, *d;

	rope_cache_trim();
	c = rope__chunk_new(4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	memset(c->data, 'x', 4096);
	rope__chunk_unref(c);
	a = t_stats();
	CU_ASSERT_EQUAL(a.cached, FP4K);
	d = rope__chunk_new(4096);
	b = t_stats();
	CU_ASSERT_PTR_EQUAL(d, c);  /* the same memory, still touched */
	CU_ASSERT_EQUAL(b.total, a.total);
	CU_ASSERT_EQUAL(b.allocs, a.allocs);
	CU_ASSERT_EQUAL(b.cache_hits - a.cache_hits, 1);
	CU_ASSERT_EQUAL(b.cached, 0);
	CU_ASSERT_EQUAL(b.allocated - a.allocated, FP4K);
	CU_ASSERT_EQUAL(d->cap, 4096);
	CU_ASSERT_EQUAL(rope__chunk_refs(d), 1);
	rope__chunk_unref(d);
	rope_cache_set_limit(old);
	rope_cache_trim();
}

/*
 * Only the classes tail chunks take are cached; an exact small size and a
 * page chunk past the largest class are not. A page chunk up to that class
 * is rounded up to one, so it is cached whatever size was asked.
 */
static void
test_cache_odd_sizes_go_to_the_system(void)
{
	struct t_mem_stats a, b;
	struct rope_chunk *c;

	rope_cache_trim();
	a = t_stats();
	rope__chunk_unref(rope__chunk_new(1000));
	rope__chunk_unref(rope__chunk_new((2u << 20)));
	b = t_stats();
	CU_ASSERT_EQUAL(b.cached, 0);
	/* A page chunk is two: its header and its pages. */
	CU_ASSERT_EQUAL(b.frees - a.frees, 3);
	rope__chunk_unref(rope__chunk_new(256));
	c = rope__chunk_new(300000);
	CU_ASSERT_EQUAL_FATAL(c->cap, 512 * 1024);
	rope__chunk_unref(c);
	b = t_stats();
	/* A small chunk is cached whole, a page chunk's pages alone. */
	CU_ASSERT_EQUAL(b.cached, ROPE_CHUNK_HDR + 256 + 512 * 1024);
	rope_cache_trim();
}

static void
test_cache_off_keeps_nothing(void)
{
	size_t old = rope_cache_set_limit(0);
	struct t_mem_stats a, b;

	a = t_stats();
	CU_ASSERT_EQUAL(a.cached, 0);
	rope__chunk_unref(rope__chunk_new(4096));
	b = t_stats();
	CU_ASSERT_EQUAL(b.cached, 0);
	CU_ASSERT_EQUAL(b.frees - a.frees, 1);
	CU_ASSERT_EQUAL(b.cache_hits, a.cache_hits);
	rope_cache_set_limit(old);
}

/* The failure hook fails a chunk the cache could have served: an OOM
 * sweep fails the same operations whatever the cache holds. */
static void
test_cache_seam_fails_a_hit(void)
{
	struct rope *r = rope_new();
	struct t_mem_stats a, b;
	size_t mem;

	rope__chunk_unref(rope__chunk_new(4096));
	a = t_stats();
	CU_ASSERT_EQUAL(a.cached, FP4K);
	rope__alloc_fail_at(0);
	CU_ASSERT_PTR_NULL(rope__chunk_new(4096));
	rope__alloc_fail_at(-1);
	b = t_stats();
	CU_ASSERT_EQUAL(b.cached, FP4K);
	CU_ASSERT_EQUAL(b.cache_hits, a.cache_hits);
	/* And through a rope: all or nothing, nothing lost. */
	mem = t_mem_now();
	rope__alloc_fail_at(0);
	CU_ASSERT_EQUAL(rope_write(r, (char[4096]){ 0 }, 4096), -ENOMEM);
	rope__alloc_fail_at(-1);
	CU_ASSERT_EQUAL(t_mem_now(), mem);
	CU_ASSERT_EQUAL(rope_size(r), 0);
	CU_ASSERT_EQUAL(t_stats().cached, FP4K);
	CU_ASSERT_EQUAL(rope_write(r, (char[4096]){ 0 }, 4096), 4096);
	CU_ASSERT_EQUAL(t_stats().cached, 0);
	T_CHECK(r);
	rope_free(r);
	rope_cache_trim();
}

static void
test_cache_trim_gives_everything_back(void)
{
	struct t_mem_stats a, b;
	struct rope_chunk *c[6];
	size_t want = 0;

	rope_cache_trim();
	for (int i = 0; i < 6; i++)
		c[i] = rope__chunk_new((size_t)ROPE_CHUNK_FIRST << (2 * i));
	for (int i = 0; i < 6; i++) {
		/* The last one's header is not cached: it is a page chunk. */
		want += rope__chunk_footprint(c[i]) -
			(c[i]->pages ? sizeof(*c[i]) : 0);
		rope__chunk_unref(c[i]);
	}
	a = t_stats();
	CU_ASSERT_EQUAL(a.cached, want);
	CU_ASSERT_EQUAL(rope_cache_trim(), want);
	b = t_stats();
	CU_ASSERT_EQUAL(b.cached, 0);
	CU_ASSERT_EQUAL(b.frees - a.frees, 6);
	CU_ASSERT_EQUAL(b.allocated, a.allocated);
	CU_ASSERT_EQUAL(rope_cache_trim(), 0);
}

/* ------------------------------------------------------------------------ */
/* Following the bytes in flight                                            */
/* ------------------------------------------------------------------------ */

enum { BURST_CHUNK = 128 * 1024, BURST_N = 24 };  /* 3 MiB of page chunks */

static long
minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* Take @n chunks, write every byte, release them all at once: what a
 * shipper does with the blocks of one send. */
static void
burst(int n)
{
	struct rope_chunk *c[64];

	for (int i = 0; i < n; i++) {
		c[i] = rope__chunk_new(BURST_CHUNK);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c[i]);
		memset(c[i]->data, i, BURST_CHUNK);
	}
	for (int i = 0; i < n; i++)
		rope__chunk_unref(c[i]);
}

static size_t
cache_cap(void)
{
	struct rope_cache_stats st;

	CU_ASSERT_EQUAL(rope_cache_stats(&st, sizeof(st)), 0);
	return st.cap;
}

static void
test_cache_follows_the_bytes_in_flight(void)
{
	const size_t lim = 1u << 20;
	size_t old = rope_cache_set_limit(lim);
	struct t_mem_stats a, b;
	long faults;

	rope_cache_trim();
	CU_ASSERT_EQUAL(cache_cap(), lim);
	burst(BURST_N);
	a = t_stats();
	/* Three times the limit released at once: all kept. */
	CU_ASSERT_EQUAL(a.cached, (size_t)BURST_N * BURST_CHUNK);
	CU_ASSERT_EQUAL(cache_cap(), (size_t)BURST_N * BURST_CHUNK);
	/* The second burst maps nothing new: no allocation from the
	 * system but the page chunks' small headers, and (nearly) no page
	 * faults where 768 pages were written (a fixed 1 MiB cache faulted
	 * in 512 of them again). */
	faults = minor_faults();
	burst(BURST_N);
	faults = minor_faults() - faults;
	b = t_stats();
	CU_ASSERT(b.total - a.total <= BURST_N * 64);  /* headers alone */
	CU_ASSERT(faults < BURST_N * BURST_CHUNK / 4096 / 8);
	printf("  [second burst: %ld page faults, %llu bytes from the "
	       "system]\n", faults, (unsigned long long)(b.total - a.total));
	/* The bound: at most four times the limit, however much goes. */
	burst(48);
	b = t_stats();
	CU_ASSERT_EQUAL(b.cached, 4 * lim);
	CU_ASSERT_EQUAL(cache_cap(), 4 * lim);
	/* Idle (no release past the limit for the decay time, 0 here):
	 * its next use lets the cap fall back and frees the excess. */
	rope__cache_decay_set(0);
	rope__chunk_unref(rope__chunk_new(4096));
	b = t_stats();
	CU_ASSERT(b.cached <= lim);
	CU_ASSERT_EQUAL(cache_cap(), lim);
	rope__cache_decay_set(ROPE_CACHE_DECAY_MS);
	/* A trim empties it and the cap starts again from the limit. */
	burst(BURST_N);
	CU_ASSERT(cache_cap() > lim);
	rope_cache_trim();
	b = t_stats();
	CU_ASSERT_EQUAL(b.cached, 0);
	CU_ASSERT_EQUAL(cache_cap(), lim);
	rope_cache_set_limit(old);
}

/* ------------------------------------------------------------------------ */
/* Threads: releases elsewhere, reuse by the owner                          */
/* ------------------------------------------------------------------------ */

enum { SLOTS = 32, ROUNDS = 20000, RELEASERS = 2, MSG = 4096 };

static _Atomic(struct rope_snap *) mailbox[SLOTS];
static atomic_bool done;
static atomic_long bad, released;

/* Check a snapshot's bytes (every byte is its round's mark), then drop
 * it: its chunk goes to the cache from this thread. */
static void
t_check_and_drop(struct rope_snap *s)
{
	struct iovec iov[2];
	int n = rope_snap_iov(s, 0, MSG, iov, 2);
	const uint8_t *p;

	if (n != 1 || iov[0].iov_len != MSG) {
		atomic_fetch_add(&bad, 1);
	} else {
		p = iov[0].iov_base;
		for (size_t k = 1; k < MSG; k++)
			if (p[k] != p[0])
				atomic_fetch_add(&bad, 1);
	}
	rope_snap_unref(s);
	atomic_fetch_add(&released, 1);
}

static void *
releaser(void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg;

	while (!atomic_load(&done)) {
		struct rope_snap *s = atomic_exchange(&mailbox[i % SLOTS],
						      NULL);

		if (s)
			t_check_and_drop(s);
		i += 5;
	}
	return NULL;
}

static void
test_cache_released_elsewhere_reused_by_owner(void)
{
	size_t mem = t_mem_now();
	struct t_mem_stats a, b;
	pthread_t t[RELEASERS];
	static uint8_t msg[MSG];

	atomic_store(&done, false);
	atomic_store(&bad, 0);
	atomic_store(&released, 0);
	rope_cache_trim();
	a = t_stats();
	for (uintptr_t k = 0; k < RELEASERS; k++)
		pthread_create(&t[k], NULL, releaser, (void *)k);
	for (int i = 0; i < ROUNDS; i++) {
		struct rope *r = rope_new();
		struct rope_snap *s = NULL;

		/* A fresh rope each round: its 4 KiB chunk comes from the
		 * cache whenever a releaser has put one back. */
		memset(msg, 'a' + i % 26, MSG);
		if (!r || rope_write(r, msg, MSG) != MSG ||
		    rope_snapshot(r, &s) < 0)
			atomic_fetch_add(&bad, 1);
		rope_free(r);
		if (s) {
			s = atomic_exchange(&mailbox[i % SLOTS], s);
			if (s)
				t_check_and_drop(s);
		}
	}
	atomic_store(&done, true);
	for (int k = 0; k < RELEASERS; k++)
		pthread_join(t[k], NULL);
	for (int i = 0; i < SLOTS; i++) {
		struct rope_snap *s = atomic_exchange(&mailbox[i], NULL);

		if (s)
			t_check_and_drop(s);
	}
	b = t_stats();
	CU_ASSERT_EQUAL(atomic_load(&bad), 0);
	CU_ASSERT_EQUAL(atomic_load(&released), ROUNDS);
	/* Most chunks were reused: of the three allocations a round makes
	 * (rope, chunk, snapshot), the chunk mostly came from the cache. */
	CU_ASSERT(b.cache_hits - a.cache_hits > ROUNDS / 2);
	CU_ASSERT(b.allocs - a.allocs < 3 * ROUNDS - ROUNDS / 2);
	CU_ASSERT(b.cached <= b.cache_limit);
	CU_ASSERT_EQUAL(t_mem_now(), mem);
	rope_cache_trim();
}

/* ------------------------------------------------------------------------ */
/* fork()                                                                   */
/* ------------------------------------------------------------------------ */

static void *
hammer(void *arg)
{
	while (!atomic_load(&done))
		rope__chunk_unref(rope__chunk_new(4096));
	return arg;
}

/*
 * Another thread takes and releases chunks while the main thread forks: a
 * class lock held at that instant would deadlock the child, which then
 * dies of its alarm before it can say it got through. (The child says so
 * on a pipe rather than by its exit status, which valgrind replaces when
 * it finds the other thread's chunk lost in the child.)
 */
static void
test_cache_fork_child_can_allocate(void)
{
	pthread_t t;
	int failed = 0;

	atomic_store(&done, false);
	pthread_create(&t, NULL, hammer, NULL);
	for (int i = 0; i < 200; i++) {
		int status = 0, p[2];
		char said = 0;
		pid_t pid;

		if (pipe(p) < 0) {
			failed++;
			break;
		}
		pid = fork();
		if (pid == 0) {
			struct rope *r;
			bool ok;

			close(p[0]);
			alarm(5);
			r = rope_new();
			ok = r && rope_write(r, (char[4096]){ 0 },
					     4096) == 4096;
			rope_free(r);
			rope_cache_trim();
			if (ok && write(p[1], "k", 1) != 1)
				ok = false;
			_exit(ok ? 0 : 1);
		}
		close(p[1]);
		if (pid < 0 || read(p[0], &said, 1) != 1 || said != 'k')
			failed++;
		if (pid > 0)
			waitpid(pid, &status, 0);
		close(p[0]);
	}
	atomic_store(&done, true);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(failed, 0);
	rope_cache_trim();
}

static const struct t_test tests[] = {
	{ "bound_holds", test_cache_bound_holds },
	{ "env_read_once", test_cache_env_read_once },
	{ "follows_the_bytes_in_flight",
	  test_cache_follows_the_bytes_in_flight },
	{ "fork_child_can_allocate", test_cache_fork_child_can_allocate },
	{ "hit_takes_nothing_from_system",
	  test_cache_hit_takes_nothing_from_system },
	{ "odd_sizes_go_to_the_system", test_cache_odd_sizes_go_to_the_system },
	{ "off_keeps_nothing", test_cache_off_keeps_nothing },
	{ "released_elsewhere_reused_by_owner",
	  test_cache_released_elsewhere_reused_by_owner },
	{ "seam_fails_a_hit", test_cache_seam_fails_a_hit },
	{ "trim_gives_everything_back", test_cache_trim_gives_everything_back },
};

int
main(void)
{
	/* Before anything uses the cache: its limit comes from here. */
	setenv("ROPEIO_CACHE_BYTES", "3M", 1);
	return t_run("cache", tests, ARRAY_SIZE(tests));
}
