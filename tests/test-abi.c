/* SPDX-License-Identifier: MIT */
/*
 * What a program built against 0.1 sees of the shared library: the calls
 * whose signature or struct changed in 0.2, called through their 0.1
 * symbol versions with 0.1's structs (guard bytes after each, which must
 * stay untouched), and the layouts those structs keep as their prefix.
 * abidiff does not compare a function whose symbol moved to a new default
 * version (the 'abi' test), so these are checked here. Also the size
 * argument the 0.2 calls take, and the version calls.
 *
 * Links the shared library alone, as a program does; built only where
 * the linker versions symbols.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ropeio.h"
#ifdef T_HAVE_URING
#include "ropeio-uring.h"
#endif

#define GUARD 0xa5
#define GUARD_LEN 32

/* Version 0.1's structs, as programs built against 0.1 have them. */
struct mem_stats_0_1 {
	size_t allocated, peak;
	uint64_t total, allocs, frees;
};

struct info_0_1 {
	size_t size, segments, segment_bytes, overhead, tail_room;
};

struct cursor_0_1 {
	const struct rope *rope;
	const struct rope_snap *snap;
	uint64_t off;
	size_t seg;
};

/* 0.1's struct rope_uring_stats, its zero-copy figures inline. */
struct uring_stats_0_1 {
	uint64_t requests, bytes, errors;
	uint64_t zc_sends, zc_notifs, zc_copied, zc_bytes;
	bool zc_disabled;
	uint64_t recv_bytes, recv_copied;
};

/* The 0.1 symbols, bound as a program linked against 0.1 binds them. */
void t_mem_stats_0_1(struct mem_stats_0_1 *out);
int t_get_info_0_1(const struct rope *r, struct info_0_1 *out);
int t_cursor_init_0_1(struct cursor_0_1 *c, const struct rope *r,
		      int64_t off);
int t_cursor_init_snap_0_1(struct cursor_0_1 *c, const struct rope_snap *s,
			   int64_t off);
__asm__(".symver t_mem_stats_0_1, rope_mem_stats@ROPEIO_0.1");
__asm__(".symver t_get_info_0_1, rope_get_info@ROPEIO_0.1");
__asm__(".symver t_cursor_init_0_1, rope_cursor_init@ROPEIO_0.1");
__asm__(".symver t_cursor_init_snap_0_1, rope_cursor_init_snap@ROPEIO_0.1");
#ifdef T_HAVE_URING
int t_uring_get_stats_0_1(const struct rope_uring *u,
			  struct uring_stats_0_1 *out);
__asm__(".symver t_uring_get_stats_0_1, rope_uring_get_stats@ROPEIO_0.1");
#endif

/* A struct of @size bytes followed by guard bytes. */
struct guarded {
	unsigned char bytes[256 + GUARD_LEN];
	size_t size;
};

static void *
t_guarded(struct guarded *g, size_t size)
{
	memset(g->bytes, GUARD, sizeof(g->bytes));
	g->size = size;
	return g->bytes;
}

static bool
t_guard_intact(const struct guarded *g)
{
	for (size_t i = g->size; i < g->size + GUARD_LEN; i++)
		if (g->bytes[i] != GUARD)
			return false;
	return true;
}

static struct rope *
t_rope(const char *s)
{
	struct rope *r = NULL;

	CU_ASSERT_EQUAL_FATAL(rope_new_from(&r, s, strlen(s)), 0);
	return r;
}

static void
test_abi_cursor_0_1_stays_in_its_struct(void)
{
	struct rope *r = t_rope("hello, world");
	struct rope_snap *s = NULL;
	struct guarded g;
	struct cursor_0_1 *c = t_guarded(&g, sizeof(*c));
	char buf[8] = "";
	uint8_t b = 0;

	/* Placed by 0.1's call, then used by the calls every version has. */
	CU_ASSERT_EQUAL(t_cursor_init_0_1(c, r, 7), 0);
	CU_ASSERT(t_guard_intact(&g));
	CU_ASSERT_EQUAL(rope_cursor_read((struct rope_cursor *)c, buf, 5), 5);
	CU_ASSERT_EQUAL(memcmp(buf, "world", 5), 0);
	CU_ASSERT_EQUAL(rope_cursor_tell((struct rope_cursor *)c), 12);
	CU_ASSERT(t_guard_intact(&g));
	CU_ASSERT_EQUAL(t_cursor_init_0_1(c, NULL, 0), -EINVAL);

	CU_ASSERT_EQUAL_FATAL(rope_snapshot(r, &s), 0);
	c = t_guarded(&g, sizeof(*c));
	CU_ASSERT_EQUAL(t_cursor_init_snap_0_1(c, s, 0), 0);
	CU_ASSERT(t_guard_intact(&g));
	CU_ASSERT_EQUAL(rope_cursor_u8((struct rope_cursor *)c, &b), 0);
	CU_ASSERT_EQUAL(b, 'h');
	CU_ASSERT_EQUAL(rope_cursor_skip((struct rope_cursor *)c, 3), 0);
	CU_ASSERT_EQUAL(rope_cursor_remaining((struct rope_cursor *)c), 8);
	CU_ASSERT(t_guard_intact(&g));
	rope_snap_unref(s);
	rope_free(r);
}

static void
test_abi_cursor_reserved_starts_zeroed(void)
{
	struct rope *r = t_rope("abc");
	struct rope_cursor c;
	char buf[4];

	memset(&c, 0xff, sizeof(c));
	CU_ASSERT_EQUAL(rope_cursor_init(&c, r, 1), 0);
	for (size_t i = 0; i < sizeof(c.reserved) / sizeof(c.reserved[0]); i++)
		CU_ASSERT_PTR_NULL(c.reserved[i]);
	CU_ASSERT_EQUAL(rope_cursor_read(&c, buf, sizeof(buf)), 2);
	CU_ASSERT_EQUAL(memcmp(buf, "bc", 2), 0);
	rope_free(r);
}

static void
test_abi_get_info_0_1_writes_its_struct(void)
{
	struct rope *r = t_rope("abc");
	struct guarded g;
	struct info_0_1 *in = t_guarded(&g, sizeof(*in));

	CU_ASSERT_EQUAL(t_get_info_0_1(r, in), 0);
	CU_ASSERT(t_guard_intact(&g));
	CU_ASSERT_EQUAL(in->size, 3);
	CU_ASSERT_EQUAL(in->segments, 1);
	CU_ASSERT_EQUAL(t_get_info_0_1(NULL, in), -EINVAL);
	rope_free(r);
}

static void
test_abi_layouts_keep_0_1_prefix(void)
{
	/* The fields 0.1 had stay where they were; only the end grows. */
	CU_ASSERT(sizeof(struct rope_mem_stats) >= sizeof(struct mem_stats_0_1));
	CU_ASSERT_EQUAL(offsetof(struct rope_mem_stats, peak),
			offsetof(struct mem_stats_0_1, peak));
	CU_ASSERT_EQUAL(offsetof(struct rope_mem_stats, frees),
			offsetof(struct mem_stats_0_1, frees));
	CU_ASSERT(sizeof(struct rope_info) >= sizeof(struct info_0_1));
	CU_ASSERT_EQUAL(offsetof(struct rope_info, size),
			offsetof(struct info_0_1, size));
	CU_ASSERT_EQUAL(offsetof(struct rope_info, overhead),
			offsetof(struct info_0_1, overhead));
	CU_ASSERT_EQUAL(offsetof(struct rope_info, tail_room),
			offsetof(struct info_0_1, tail_room));
	CU_ASSERT(sizeof(struct rope_cursor) >= sizeof(struct cursor_0_1));
	CU_ASSERT_EQUAL(offsetof(struct rope_cursor, off),
			offsetof(struct cursor_0_1, off));
	CU_ASSERT_EQUAL(offsetof(struct rope_cursor, reserved),
			sizeof(struct cursor_0_1));
#ifdef T_HAVE_URING
	CU_ASSERT(sizeof(struct rope_uring_stats) >=
		  sizeof(struct uring_stats_0_1));
	CU_ASSERT_EQUAL(offsetof(struct rope_uring_stats, zc) +
			offsetof(struct rope_uring_zc_stats, disabled),
			offsetof(struct uring_stats_0_1, zc_disabled));
	CU_ASSERT_EQUAL(offsetof(struct rope_uring_stats, recv_copied),
			offsetof(struct uring_stats_0_1, recv_copied));
#endif
}

static void
test_abi_mem_stats_0_1_writes_its_struct(void)
{
	struct guarded g;
	struct mem_stats_0_1 *old = t_guarded(&g, sizeof(*old));
	struct rope_mem_stats now;

	t_mem_stats_0_1(old);
	CU_ASSERT(t_guard_intact(&g));
	CU_ASSERT_EQUAL(rope_mem_stats(&now, sizeof(now)), 0);
	CU_ASSERT_EQUAL(old->allocs, now.allocs);
	CU_ASSERT_EQUAL(old->total, now.total);
	t_mem_stats_0_1(NULL);  /* 0.1 ignored NULL */
}

static void
test_abi_sized_calls_write_only_their_size(void)
{
	struct rope *r = t_rope("abc");
	struct guarded g;
	struct rope_mem_stats st;
	struct rope_info in;

	/* A struct from a later, larger header: the fields this version
	 * has are written, the rest is left alone. */
	CU_ASSERT_EQUAL(rope_mem_stats(t_guarded(&g, sizeof(st)),
				       sizeof(st) + GUARD_LEN), 0);
	CU_ASSERT(t_guard_intact(&g));
	CU_ASSERT_EQUAL(rope_get_info(r, t_guarded(&g, sizeof(in)), sizeof(in) +
				      GUARD_LEN), 0);
	CU_ASSERT(t_guard_intact(&g));
	/* Smaller than 0.1's struct: refused, nothing written. */
	CU_ASSERT_EQUAL(rope_mem_stats(t_guarded(&g, 0),
				       sizeof(struct mem_stats_0_1) - 1),
			-EINVAL);
	CU_ASSERT(t_guard_intact(&g));
	CU_ASSERT_EQUAL(rope_get_info(r, t_guarded(&g, 0),
				      sizeof(struct info_0_1) - 1), -EINVAL);
	CU_ASSERT(t_guard_intact(&g));
	CU_ASSERT_EQUAL(rope_mem_stats(NULL, sizeof(st)), -EINVAL);
	CU_ASSERT_EQUAL(rope_get_info(r, &in, sizeof(in)), 0);
	CU_ASSERT_EQUAL(in.size, 3);
	rope_free(r);
}

#ifdef T_HAVE_URING
static void
test_abi_uring_stats_both_versions(void)
{
	struct rope_uring *u = NULL;
	struct guarded g;
	struct rope_uring_stats st;

	/* rope_uring_new() falls back where io_uring is refused. */
	CU_ASSERT_EQUAL_FATAL(rope_uring_new(&u, 8), 0);
	CU_ASSERT_EQUAL(t_uring_get_stats_0_1(u,
			t_guarded(&g, sizeof(struct uring_stats_0_1))), 0);
	CU_ASSERT(t_guard_intact(&g));
	CU_ASSERT_EQUAL(rope_uring_get_stats(u, t_guarded(&g, sizeof(st)),
					     sizeof(st) + GUARD_LEN), 0);
	CU_ASSERT(t_guard_intact(&g));
	CU_ASSERT_EQUAL(rope_uring_get_stats(u, &st, sizeof(st) - 1), -EINVAL);
	CU_ASSERT_EQUAL(rope_uring_get_stats(u, &st, sizeof(st)), 0);
	CU_ASSERT_EQUAL(st.requests, 0);
	rope_uring_free(u);
}
#endif

static void
test_abi_version_matches_header(void)
{
	char want[32];

	snprintf(want, sizeof(want), "%d.%d.%d", ROPEIO_VERSION_MAJOR,
		 ROPEIO_VERSION_MINOR, ROPEIO_VERSION_PATCH);
	CU_ASSERT_EQUAL(rope_version(), ROPEIO_VERSION_NUMBER);
	CU_ASSERT_EQUAL(ROPEIO_VERSION_NUMBER, ROPEIO_VERSION_MAJOR * 10000 +
			ROPEIO_VERSION_MINOR * 100 + ROPEIO_VERSION_PATCH);
	CU_ASSERT_STRING_EQUAL(rope_version_string(), want);
}

static const struct {
	const char *name;
	CU_TestFunc fn;
} tests[] = {
	{ "cursor_0_1_stays_in_its_struct", test_abi_cursor_0_1_stays_in_its_struct },
	{ "cursor_reserved_starts_zeroed", test_abi_cursor_reserved_starts_zeroed },
	{ "get_info_0_1_writes_its_struct", test_abi_get_info_0_1_writes_its_struct },
	{ "layouts_keep_0_1_prefix", test_abi_layouts_keep_0_1_prefix },
	{ "mem_stats_0_1_writes_its_struct", test_abi_mem_stats_0_1_writes_its_struct },
	{ "sized_calls_write_only_their_size", test_abi_sized_calls_write_only_their_size },
#ifdef T_HAVE_URING
	{ "uring_stats_both_versions", test_abi_uring_stats_both_versions },
#endif
	{ "version_matches_header", test_abi_version_matches_header },
};

int
main(void)
{
	CU_pSuite s;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	s = CU_add_suite("abi", NULL, NULL);
	for (size_t i = 0; s && i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			s = NULL;
	if (!s) {
		CU_cleanup_registry();
		return 99;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
