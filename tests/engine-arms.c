/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine-arms.h"

bool t_fallback_arm;

void
record(void *arg, ssize_t result)
{
	struct outcome *o = arg;

	o->calls++;
	o->result = result;
	if (o->counter)
		o->order = (*o->counter)++;
}

void *
t_source_run(void *arg)
{
	struct t_source *src = arg;
	size_t off = 0, i = 0;

	while (off < src->len) {
		/* MIN evaluates its arguments twice: no i++ inside it. */
		size_t piece = 1 + (i++ * 48271) % src->max_piece;
		size_t n = MIN(piece, src->len - off);
		ssize_t w = write(src->fd, src->data + off, n);

		if (w <= 0)
			break;
		off += (size_t)w;
		if (src->nap_us)
			usleep(src->nap_us);
	}
	if (src->reset) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(src->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(src->fd);
	return NULL;
}

struct rope_uring *
t_engine(void)
{
	struct rope_uring *u = NULL;

	CU_ASSERT_EQUAL(rope_uring_new(&u, 16), 0);
	if (u && t_fallback_arm)
		CU_ASSERT(rope_uring_is_fallback(u));
	return u;
}

static int
use_ring(void)
{
	t_fallback_arm = false;
	return unsetenv("ROPEIO_NO_URING");
}

static int
use_fallback(void)
{
	t_fallback_arm = true;
	return setenv("ROPEIO_NO_URING", "1", 1);
}

int
t_run_engine_arms(const struct t_test *tests, size_t n, unsigned alarm_s)
{
	struct rope_uring *probe;
	unsigned failed;
	bool ring_ok;

	if (t_loopback_down("engine"))
		return T_EXIT_SKIP;
	/* The ring arm needs io_uring; the fallback arm runs anywhere. */
	unsetenv("ROPEIO_NO_URING");
	if (rope_uring_new(&probe, 8) < 0)
		return T_EXIT_SETUP;
	ring_ok = !rope_uring_is_fallback(probe);
	rope_uring_free(probe);
	/* valgrind cannot follow io_uring (meson.build): a binary it runs
	 * outside suite 'uring' gets the fallback arm. */
	if (getenv("ROPEIO_VALGRIND"))
		ring_ok = false;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return T_EXIT_SETUP;
	for (int arm = ring_ok ? 0 : 1; arm < 2; arm++) {
		CU_pSuite s = CU_add_suite(arm ? "engine-fallback" : "engine-ring",
					   arm ? use_fallback : use_ring, NULL);

		for (size_t i = 0; s && i < n; i++)
			CU_add_test(s, tests[i].name, tests[i].fn);
	}
	if (!ring_ok)
		fprintf(stderr, "no io_uring here: the fallback arm only\n");
	/* A test that would wait forever fails here instead. */
	alarm(alarm_s);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
