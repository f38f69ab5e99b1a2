/* SPDX-License-Identifier: MIT */
#ifndef ROPEIO_TEST_ENGINE_ARMS_H
#define ROPEIO_TEST_ENGINE_ARMS_H

/*
 * The engine's tests run twice: once on io_uring ("engine-ring") and once
 * on the plain-syscall fallback forced by ROPEIO_NO_URING=1
 * ("engine-fallback"). Where io_uring is unavailable, the fallback arm
 * only.
 */
#include "common.h"
#include "ropeio-engine.h"

/* Is this a ThreadSanitizer build? (gcc says so with __SANITIZE_THREAD__,
 * clang with __has_feature.) */
static inline bool
t_under_tsan(void)
{
#if defined(__SANITIZE_THREAD__)
	return true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
	return true;
#endif
#endif
	return false;
}

/* True while the fallback arm runs. */
extern bool t_fallback_arm;

/* A new engine of 16 entries in the current arm (asserted). */
struct rope_uring *t_engine(void);

/* Records what a request's callback saw. */
struct outcome {
	int calls;
	ssize_t result;
	int order;          /* the value of *counter when it was called */
	int *counter;
};

void record(void *arg, ssize_t result);

/* A peer that writes @len bytes of @data to @fd in pieces of 1 to
 * @max_piece bytes (napping @nap_us between them), then closes @fd (with a
 * reset when @reset): run it on a thread with t_source_run. */
struct t_source {
	int fd;
	size_t len, max_piece;
	unsigned nap_us;
	bool reset;
	uint8_t *data;
};

void *t_source_run(void *arg);

/* Register @tests in both arms, run them, and return the exit status. A
 * test that hangs is ended by SIGALRM after @alarm_s seconds. */
int t_run_engine_arms(const struct t_test *tests, size_t n,
		      unsigned alarm_s);

#endif
