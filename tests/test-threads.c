/* SPDX-License-Identifier: MIT */
/*
 * Values, snapshots and borrowed memory created on one thread and released
 * on others, while the creating thread keeps writing: the atomic counts and
 * the count-of-one shortcuts must hold. Meant for ThreadSanitizer (tools/test
 * --tsan), and checked for leaks and contents in every build.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

enum { SLOTS = 64, ROUNDS = 20000, READERS = 3 };

/* A mailbox of objects handed from the writer to the readers. */
static _Atomic(void *) values[SLOTS];
static _Atomic(void *) snaps[SLOTS];
static atomic_bool done;
static atomic_long checked;

static void *
reader(void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg;

	while (!atomic_load(&done) || i < 4 * SLOTS) {
		struct rope_bytes *b = atomic_exchange(&values[i % SLOTS], NULL);
		struct rope_snap *s = atomic_exchange(&snaps[i % SLOTS], NULL);

		if (b) {
			/* Read it, share it with a copy, drop both. */
			const uint8_t *d = rope_bytes_data(b);
			struct rope_bytes *b2 = rope_bytes_ref(b);

			if (rope_bytes_size(b) && d[0] != 'v')
				abort();
			rope_bytes_unref(b);
			rope_bytes_unref(b2);
			atomic_fetch_add(&checked, 1);
		}
		if (s) {
			struct iovec iov[4];

			if (rope_snap_iov(s, 0, SIZE_MAX, iov, 4) < 0)
				abort();
			rope_snap_unref(s);
			atomic_fetch_add(&checked, 1);
		}
		i += 7;
		if (atomic_load(&done) && i > 1000000)
			break;
	}
	return NULL;
}

static atomic_int released;

static void
count_release(void *data, size_t len, void *arg)
{
	atomic_fetch_add(&released, 1);
}

static void
test_threads_values_and_snapshots_released_elsewhere(void)
{
	size_t mem = t_mem_now();  /* before the rope itself */
	struct rope *r = rope_new();
	pthread_t t[READERS];
	int appended = 0;

	atomic_store(&done, false);
	atomic_store(&checked, 0);
	atomic_store(&released, 0);
	for (uintptr_t k = 0; k < READERS; k++)
		pthread_create(&t[k], NULL, reader, (void *)k);
	for (int i = 0; i < ROUNDS; i++) {
		struct rope_bytes *b;
		struct rope_snap *s;
		void *old;

		/* Keep writing: appends, overwrites of shared bytes, and
		 * borrowed memory released by whichever thread drops it. */
		if (rope_size(r) > 4096)
			rope_drain(r, 2048);
		rope_append(r, "0123456789", 10);
		if (i % 8 == 0 &&
		    rope_append_ref(r, "borrowed", 8, count_release, NULL) == 0)
			appended++;
		rope_seek(r, 0, SEEK_SET);
		rope_write(r, "value", 5);  /* what every reader checks */
		if (rope_getvalue(r, &b) == 0) {
			old = atomic_exchange(&values[i % SLOTS], b);
			rope_bytes_unref(old);
		}
		if (rope_snapshot(r, &s) == 0) {
			old = atomic_exchange(&snaps[(i * 3) % SLOTS], s);
			rope_snap_unref(old);
		}
	}
	atomic_store(&done, true);
	for (int k = 0; k < READERS; k++)
		pthread_join(t[k], NULL);
	for (int i = 0; i < SLOTS; i++) {
		rope_bytes_unref(atomic_exchange(&values[i], NULL));
		rope_snap_unref(atomic_exchange(&snaps[i], NULL));
	}
	T_CHECK(r);
	rope_free(r);
	CU_ASSERT(atomic_load(&checked) > 0);
	/* Every borrowed piece released once, by some thread; nothing
	 * leaked. */
	CU_ASSERT_EQUAL(atomic_load(&released), appended);
	CU_ASSERT_EQUAL(t_mem_now(), mem);
}

struct shared_value {
	struct rope_bytes *b;
	pthread_barrier_t *go;
};

static void *
drop_after_barrier(void *arg)
{
	struct shared_value *x = arg;

	pthread_barrier_wait(x->go);
	rope_bytes_unref(x->b);
	return NULL;
}

static void
test_threads_last_reference_races(void)
{
	enum { N = 8 };
	size_t mem = t_mem_now();

	/* N threads drop references to one value at the same instant: only
	 * one of them may free it. */
	for (int round = 0; round < 500; round++) {
		struct shared_value x[N];
		pthread_barrier_t go;
		pthread_t t[N];
		struct rope_bytes *b;

		CU_ASSERT_EQUAL_FATAL(rope_bytes_new(&b, "shared", 6), 0);
		pthread_barrier_init(&go, NULL, N);
		for (int k = 0; k < N; k++) {
			x[k].b = k ? rope_bytes_ref(b) : b;
			x[k].go = &go;
		}
		for (int k = 0; k < N; k++)
			pthread_create(&t[k], NULL, drop_after_barrier, &x[k]);
		for (int k = 0; k < N; k++)
			pthread_join(t[k], NULL);
		pthread_barrier_destroy(&go);
	}
	CU_ASSERT_EQUAL(t_mem_now(), mem);
}

static const struct t_test tests[] = {
	{ "last_reference_races", test_threads_last_reference_races },
	{ "values_and_snapshots_released_elsewhere", test_threads_values_and_snapshots_released_elsewhere },
};

int
main(void)
{
	return t_run("threads", tests, ARRAY_SIZE(tests));
}
