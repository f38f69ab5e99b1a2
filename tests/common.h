/* SPDX-License-Identifier: MIT */
#ifndef ROPEIO_TESTS_COMMON_H
#define ROPEIO_TESTS_COMMON_H

/*
 * Helpers shared by the test binaries (prefix t_). Tests link the internal
 * static library, so they can call rope__check() and the allocation hook.
 */

#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rope-priv.h"
#include "ropeio.h"

/* meson: exit 77 is a skip, 99 a setup error. */
#define T_EXIT_SKIP 77
#define T_EXIT_SETUP 99

struct t_test {
	const char *name;
	CU_TestFunc fn;
};

/* Register @tests as one suite, run them, return the process exit code.
 * ROPEIO_TESTS=a,b runs only the tests named (meson runs a long binary
 * as several tests this way, in parallel). */
int t_run(const char *suite, const struct t_test *tests, size_t n);

/* For a binary whose tests need TCP on loopback: true, after saying so on
 * stdout, where it does not work (a container without `lo` up); main()
 * then returns T_EXIT_SKIP rather than fail. */
bool t_loopback_down(const char *suite);

/* Assert the rope's invariants (non-fatal). */
#define T_CHECK(r) CU_ASSERT_EQUAL(rope__check(r), 0)

/* The whole contents, in a malloc'd buffer (NULL for an empty rope). */
uint8_t *t_contents(const struct rope *r, size_t *len);

/* True when the rope holds exactly @len bytes equal to @want. */
bool t_equals(const struct rope *r, const void *want, size_t len);
#define T_EQUALS_STR(r, s) CU_ASSERT(t_equals((r), (s), sizeof(s) - 1))

/* A rope built from a C string (aborts the test binary on ENOMEM). */
struct rope *t_rope_from(const char *s);

/* Bytes currently allocated by ropeio. */
size_t t_mem_now(void);

/* Fill @buf with a recognisable pattern starting at stream offset @off. */
void t_pattern(uint8_t *buf, size_t len, uint64_t off);

/* ------------------------------------------------------------------------ */
/* I/O helpers: real files and sockets                                      */
/* ------------------------------------------------------------------------ */

/* An unlinked temporary file, or -1. */
int t_tmpfile(void);

/* rope_mem_stats() and rope_cache_stats() in one, for the tests. */
struct t_mem_stats {
	size_t allocated, peak;
	uint64_t total, allocs, frees;
	size_t cached, cache_limit;
	uint64_t cache_hits;
};

void t_mem_stats(struct t_mem_stats *out);

/* Seconds on the monotonic clock. */
double t_now(void);

/* True when the file holds @len bytes equal to @want at offset @at. */
bool t_file_is(int fd, int64_t at, const void *want, size_t len);

/*
 * A rope of @n borrowed chunks (rope_append_ref) of 1 to @maxlen bytes,
 * each its own segment, filled with t_pattern(seed); *@data receives the
 * bytes (free it after the rope) and *@len their count.
 */
struct rope *t_many_chunks(size_t n, size_t maxlen, uint64_t seed,
			   uint8_t **data, size_t *len);

/* A connected TCP pair on loopback: fds[0] connected to fds[1]. */
int t_tcp_pair(int fds[2]);

void t_set_nonblock(int fd);

/*
 * A reader thread (pthread_create(&t, NULL, t_sink_run, &sink)): reads
 * @want bytes from @fd into @buf (malloc'd; free it), @step at a time,
 * sleeping @nap_us between reads to make the writer's sends short, and
 * closes @fd at the end if @close_after.
 */
struct t_sink {
	int fd;
	size_t want, got, step;
	unsigned nap_us;
	bool close_after;
	uint8_t *buf;
};

void *t_sink_run(void *arg);

/*
 * What a receive reported to its callback: t_on_recv(&x, n) as the
 * rope_uring_recv() callback adds the bytes of each delivery (and counts
 * them) and records the final result.
 */
struct t_received {
	uint64_t bytes;
	int batches;
	bool ended;
	ssize_t end;
};

void t_on_recv(void *arg, ssize_t n);

#endif
