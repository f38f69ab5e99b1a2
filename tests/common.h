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

/* Register @tests as one suite, run them, return the process exit code. */
int t_run(const char *suite, const struct t_test *tests, size_t n);

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

#endif
