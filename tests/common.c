/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int
t_run(const char *suite, const struct t_test *tests, size_t n)
{
	CU_pSuite s;
	unsigned int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return T_EXIT_SETUP;
	s = CU_add_suite(suite, NULL, NULL);
	if (!s) {
		CU_cleanup_registry();
		return T_EXIT_SETUP;
	}
	for (size_t i = 0; i < n; i++) {
		if (!CU_add_test(s, tests[i].name, tests[i].fn)) {
			CU_cleanup_registry();
			return T_EXIT_SETUP;
		}
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

uint8_t *
t_contents(const struct rope *r, size_t *len)
{
	size_t n = rope_size(r);
	uint8_t *buf;

	*len = n;
	if (n == 0)
		return NULL;
	buf = malloc(n);
	if (!buf) {
		fprintf(stderr, "out of memory in a test\n");
		exit(T_EXIT_SETUP);
	}
	if (rope_pread(r, buf, n, 0) != (ssize_t)n) {
		free(buf);
		*len = SIZE_MAX;
		return NULL;
	}
	return buf;
}

bool
t_equals(const struct rope *r, const void *want, size_t len)
{
	size_t n;
	uint8_t *got = t_contents(r, &n);
	bool same = n == len && (len == 0 || memcmp(got, want, len) == 0);

	free(got);
	return same;
}

struct rope *
t_rope_from(const char *s)
{
	struct rope *r;

	if (rope_new_from(&r, s, strlen(s)) < 0) {
		fprintf(stderr, "rope_new_from failed in a test\n");
		exit(T_EXIT_SETUP);
	}
	return r;
}

size_t
t_mem_now(void)
{
	struct rope_mem_stats st;

	rope_mem_stats(&st);
	return st.allocated;
}

void
t_pattern(uint8_t *buf, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t x = off + i;

		buf[i] = (uint8_t)(x * 31 + (x >> 8) * 7 + 1);
	}
}
