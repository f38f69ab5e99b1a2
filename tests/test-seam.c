/* SPDX-License-Identifier: MIT */
/*
 * The allocation seam: a rope's tail chunks from the caller's allocator
 * (rope_set_allocator), grown in place so that an append-only stream stays
 * one block, handed out whole by rope_seal_value(), taken back by
 * rope_unseal_value(), and a caller's block adopted by rope_adopt_block().
 *
 * The allocator here is plain malloc with a ledger: every live handle is
 * listed, so a block given back twice, or never, or one the allocator
 * never made, fails the test. It can move every block it resizes (so the
 * library must follow the move) and fail its Nth call (the OOM sweep).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define T_MAX_LIVE 64

struct t_block {
	size_t cap;
	uint8_t bytes[];
};

struct t_alloc {
	struct t_block *live[T_MAX_LIVE];
	pthread_mutex_t lock;
	long takes, resizes, gives, bad_gives;
	long fail_at;       /* < 0: never; else calls until one fails */
	bool move;          /* every resize moves the block */
	size_t last_cap;    /* the capacity of the last take or resize */
};

static bool
t_fail_now(struct t_alloc *a)
{
	if (a->fail_at < 0)
		return false;
	return a->fail_at-- == 0;
}

static void
t_live_swap(struct t_alloc *a, struct t_block *old, struct t_block *b)
{
	for (int i = 0; i < T_MAX_LIVE; i++) {
		if (a->live[i] == old) {
			a->live[i] = b;
			return;
		}
	}
	if (b)
		abort();  /* more live blocks than a test makes */
	a->bad_gives++;  /* given back twice, or never taken */
}

static void *
t_take(void *ctx, size_t cap, void **handle)
{
	struct t_alloc *a = ctx;
	struct t_block *b;

	if (t_fail_now(a))
		return NULL;
	b = malloc(sizeof(*b) + cap);
	if (!b)
		return NULL;
	b->cap = cap;
	pthread_mutex_lock(&a->lock);
	t_live_swap(a, NULL, b);
	a->takes++;
	a->last_cap = cap;
	pthread_mutex_unlock(&a->lock);
	*handle = b;
	return b->bytes;
}

static void *
t_resize(void *ctx, void *handle, size_t used, size_t cap, void **new_handle)
{
	struct t_alloc *a = ctx;
	struct t_block *old = handle, *b;

	if (used > cap || used > old->cap)
		abort();  /* the library broke the contract */
	if (t_fail_now(a))
		return NULL;
	if (a->move) {
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		memcpy(b->bytes, old->bytes, used);
		memset(old->bytes, 0xdd, old->cap);  /* stale reads show */
		free(old);
	} else {
		b = realloc(old, sizeof(*b) + cap);
		if (!b)
			return NULL;
	}
	b->cap = cap;
	pthread_mutex_lock(&a->lock);
	t_live_swap(a, old, b);
	a->resizes++;
	a->last_cap = cap;
	pthread_mutex_unlock(&a->lock);
	*new_handle = b;
	return b->bytes;
}

static void
t_give(void *ctx, void *handle)
{
	struct t_alloc *a = ctx;

	pthread_mutex_lock(&a->lock);
	t_live_swap(a, handle, NULL);
	a->gives++;
	pthread_mutex_unlock(&a->lock);
	free(handle);
}

static struct t_alloc ta;

static struct rope_allocator
t_alloc_init(bool move)
{
	struct rope_allocator a = { &ta, t_take, t_resize, t_give };

	memset(&ta.live, 0, sizeof(ta.live));
	ta.takes = ta.resizes = ta.gives = ta.bad_gives = 0;
	ta.fail_at = -1;
	ta.move = move;
	return a;
}

/* Every block taken was given back exactly once. */
#define T_ALL_GIVEN()                                                   \
	do {                                                            \
		CU_ASSERT_EQUAL(ta.gives, ta.takes);                    \
		CU_ASSERT_EQUAL(ta.bad_gives, 0);                       \
	} while (0)

static struct rope *
t_seam_rope(bool move)
{
	struct rope_allocator a = t_alloc_init(move);
	struct rope *r = rope_new();

	if (!r || rope_set_allocator(r, &a) < 0)
		exit(T_EXIT_SETUP);
	return r;
}

static uint8_t big[1 << 20];

static size_t
t_segments(const struct rope *r)
{
	struct rope_info info;

	return rope_get_info(r, &info, sizeof(info)) == 0 ? info.segments : 0;
}

/* ------------------------------------------------------------------------ */

static void
t_append_stays_one_block(bool move)
{
	struct rope *r = t_seam_rope(move);
	uint8_t *want = malloc(50000 * 11 + 8 * sizeof(big));
	size_t n = 0, len = 0;
	void *h = NULL;

	for (int i = 0; i < 50000; i++) {
		CU_ASSERT_EQUAL(rope_write(r, "Hello World", 11), 11);
		memcpy(want + n, "Hello World", 11);
		n += 11;
	}
	for (int i = 0; i < 8; i++) {
		t_pattern(big, sizeof(big), n);
		CU_ASSERT_EQUAL(rope_write(r, big, sizeof(big)), sizeof(big));
		memcpy(want + n, big, sizeof(big));
		n += sizeof(big);
	}
	T_CHECK(r);
	CU_ASSERT_EQUAL(t_segments(r), 1);
	CU_ASSERT_EQUAL(ta.takes, 1);
	CU_ASSERT(ta.resizes > 1);
	CU_ASSERT(t_equals(r, want, n));

	/* Sealed: the block holds exactly the stream, shrunk to its size. */
	CU_ASSERT_EQUAL(rope_seal_value(r, &h, &len), 0);
	CU_ASSERT_EQUAL(len, n);
	CU_ASSERT(h && ((struct t_block *)h)->cap == n);
	CU_ASSERT(h && memcmp(((struct t_block *)h)->bytes, want, n) == 0);
	CU_ASSERT(t_equals(r, want, n));
	T_CHECK(r);
	CU_ASSERT_EQUAL(ta.gives, 0);
	rope_free(r);
	T_ALL_GIVEN();
	free(want);
}

static void
test_seam_append_stays_one_block(void)
{
	t_append_stays_one_block(false);
}

static void
test_seam_append_stays_one_block_moving(void)
{
	t_append_stays_one_block(true);
}

/* Values and snapshots keep their bytes while the tail grows or is
 * sealed; a tail they share is not resized but followed by a new block. */
static void
test_seam_values_and_snapshots_keep_bytes(void)
{
	struct rope *r = t_seam_rope(true);
	struct rope_bytes *v = NULL;
	struct rope_snap *s = NULL;
	struct iovec iov[4];
	void *h = NULL;
	size_t len = 0;
	int n;

	CU_ASSERT_EQUAL(rope_write(r, "first", 5), 5);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	/* Shared: sealing is refused, the rope as it was. */
	CU_ASSERT_EQUAL(rope_seal_value(r, &h, &len), -EAGAIN);
	T_EQUALS_STR(r, "first");
	for (int i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(rope_write(r, big, 1000), 1000);
	CU_ASSERT_EQUAL(rope_size(r), 5 + 100 * 1000);
	CU_ASSERT_EQUAL(rope_bytes_size(v), 5);
	CU_ASSERT(memcmp(rope_bytes_data(v), "first", 5) == 0);
	n = rope_snap_iov(s, 0, SIZE_MAX, iov, 4);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT(n == 1 && iov[0].iov_len == 5 &&
		  memcmp(iov[0].iov_base, "first", 5) == 0);
	/* The shared block kept its bytes; the appends went to a second one. */
	CU_ASSERT_EQUAL(t_segments(r), 2);
	CU_ASSERT_EQUAL(ta.takes, 2);
	T_CHECK(r);

	/* Sealed whole after a flatten: a value taken first keeps its bytes. */
	rope_bytes_unref(v);
	rope_snap_unref(s);
	CU_ASSERT_EQUAL(rope_truncate(r, 0), 0);
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_SET), 0);
	CU_ASSERT_EQUAL(rope_write(r, "second", 6), 6);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	rope_bytes_unref(v);  /* only the rope's cache holds it now */
	CU_ASSERT_FATAL(rope_seal_value(r, &h, &len) == 0 && h);
	CU_ASSERT_EQUAL(len, 6);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	CU_ASSERT(rope_bytes_data(v) == ((struct t_block *)h)->bytes);
	CU_ASSERT_EQUAL(rope_write(r, "!", 1), 1);
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_SET), 0);
	CU_ASSERT_EQUAL(rope_write(r, "S", 1), 1);
	T_EQUALS_STR(r, "Second!");
	CU_ASSERT(memcmp(((struct t_block *)h)->bytes, "second", 6) == 0);
	CU_ASSERT(memcmp(rope_bytes_data(v), "second", 6) == 0);
	n = rope_snap_iov(s, 0, SIZE_MAX, iov, 4);
	CU_ASSERT(n == 1 && iov[0].iov_len == 6 &&
		  memcmp(iov[0].iov_base, "second", 6) == 0);
	T_CHECK(r);
	rope_free(r);
	/* The value and the snapshot still hold the sealed block. */
	CU_ASSERT_EQUAL(ta.gives + 1, ta.takes);
	rope_bytes_unref(v);
	CU_ASSERT_EQUAL(ta.gives + 1, ta.takes);
	rope_snap_unref(s);
	T_ALL_GIVEN();
}

/* Each refusal leaves the rope exactly as it was. */
static void
test_seam_seal_refusals(void)
{
	struct rope *r = t_seam_rope(false), *o;
	struct iovec iov[2];
	void *h = (void *)&h;
	size_t len = 7;
	int64_t pos;

	CU_ASSERT_EQUAL(rope_seal_value(NULL, &h, &len), -EINVAL);
	CU_ASSERT_EQUAL(rope_seal_value(r, NULL, &len), -EINVAL);
	CU_ASSERT_EQUAL(rope_seal_value(r, &h, NULL), -EINVAL);
	CU_ASSERT_EQUAL(rope_seal_value(r, &h, &len), -EAGAIN);  /* empty */

	CU_ASSERT_EQUAL(rope_write(r, "abcdef", 6), 6);
	pos = rope_tell(r);
	CU_ASSERT_EQUAL(rope_getbuffer(r, iov, 2), 1);
	CU_ASSERT_EQUAL(rope_seal_value(r, &h, &len), -EBUSY);
	CU_ASSERT_EQUAL(rope_releasebuffer(r), 0);

	/* Two segments. */
	CU_ASSERT_EQUAL(rope_append_ref(r, "gh", 2, NULL, NULL), 0);
	CU_ASSERT_EQUAL(rope_seal_value(r, &h, &len), -EAGAIN);
	T_EQUALS_STR(r, "abcdefgh");
	CU_ASSERT_EQUAL(rope_truncate(r, 6), 6);

	/* Drained from the front: the block's first byte is not the
	 * stream's. */
	CU_ASSERT_EQUAL(rope_drain(r, 1), 1);
	CU_ASSERT_EQUAL(rope_seal_value(r, &h, &len), -EAGAIN);
	T_EQUALS_STR(r, "bcdef");

	/* Another rope shares the block. */
	CU_ASSERT_EQUAL(rope_truncate(r, 0), 0);
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_SET), 0);
	CU_ASSERT_EQUAL(rope_write(r, "xyz", 3), 3);
	{
		struct rope_bytes *v;

		CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
		CU_ASSERT_EQUAL(rope_new_from_bytes(&o, v), 0);
		rope_bytes_unref(v);
	}
	CU_ASSERT_EQUAL(rope_seal_value(r, &h, &len), -EAGAIN);
	/* No allocator there. */
	CU_ASSERT_EQUAL(rope_seal_value(o, &h, &len), -EAGAIN);
	rope_free(o);
	pos = rope_tell(r);
	CU_ASSERT(h == (void *)&h && len == 7);  /* untouched by refusals */
	T_EQUALS_STR(r, "xyz");
	CU_ASSERT_EQUAL(rope_tell(r), pos);
	T_CHECK(r);

	/* A truncate after sealing: the block says another size. */
	CU_ASSERT_EQUAL(rope_seal_value(r, &h, &len), 0);
	CU_ASSERT_EQUAL(rope_truncate(r, 2), 2);
	CU_ASSERT_EQUAL(rope_seal_value(r, &h, &len), -EAGAIN);
	T_EQUALS_STR(r, "xy");

	CU_ASSERT_EQUAL(rope_close(r), 0);
	CU_ASSERT_EQUAL(rope_seal_value(r, &h, &len), -EBADF);
	rope_free(r);
	T_ALL_GIVEN();
}

/* Sealing twice in a row hands out the same block, and a sealed block is
 * never written or resized again. */
static void
test_seam_sealed_is_immutable(void)
{
	struct rope *r = t_seam_rope(false);
	struct rope_snap *s = NULL;
	void *h = NULL, *h2 = NULL;
	size_t len = 0, len2 = 0;

	CU_ASSERT_EQUAL(rope_write(r, "hello", 5), 5);
	CU_ASSERT_EQUAL(rope_seal_value(r, &h, &len), 0);
	CU_ASSERT_EQUAL(rope_seal_value(r, &h2, &len2), 0);
	CU_ASSERT(h == h2 && len == 5 && len2 == 5);
	/* Held, so that the block outlives the rope's use of it. */
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_SET), 0);
	CU_ASSERT_EQUAL(rope_write(r, "J", 1), 1);
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_END), 5);
	/* A new block, and a small one: sealing restarts the growth. */
	CU_ASSERT_EQUAL(rope_write(r, "!", 1), 1);
	CU_ASSERT_EQUAL(ta.last_cap, ROPE_CHUNK_FIRST);
	for (int i = 1; i < 1000; i++)
		CU_ASSERT_EQUAL(rope_write(r, "!", 1), 1);
	/* The appends grew a second block, never the sealed one. */
	CU_ASSERT_EQUAL(ta.takes, 2);
	CU_ASSERT(ta.resizes > 0);
	CU_ASSERT_EQUAL(((struct t_block *)h)->cap, 5);
	CU_ASSERT(memcmp(((struct t_block *)h)->bytes, "hello", 5) == 0);
	CU_ASSERT_EQUAL(rope_size(r), 1005);
	CU_ASSERT_EQUAL(rope_seal_value(r, &h2, &len2), -EAGAIN);
	T_CHECK(r);
	rope_free(r);
	rope_snap_unref(s);
	T_ALL_GIVEN();
}

static void
test_seam_set_allocator(void)
{
	struct rope_allocator a = t_alloc_init(false), bad = a;
	struct rope *r = rope_new();
	struct rope_info info;

	CU_ASSERT_EQUAL(rope_set_allocator(NULL, &a), -EINVAL);
	bad.take = NULL;
	CU_ASSERT_EQUAL(rope_set_allocator(r, &bad), -EINVAL);
	bad = a;
	bad.give = NULL;
	CU_ASSERT_EQUAL(rope_set_allocator(r, &bad), -EINVAL);

	/* A rope with bytes refuses; emptied, it lets its spare go. */
	CU_ASSERT_EQUAL(rope_write(r, "spare", 5), 5);
	CU_ASSERT_EQUAL(rope_set_allocator(r, &a), -EBUSY);
	T_EQUALS_STR(r, "spare");
	CU_ASSERT_EQUAL(rope_drain(r, 5), 5);
	CU_ASSERT(r->spare != NULL);
	CU_ASSERT_EQUAL(rope_set_allocator(r, &a), 0);
	CU_ASSERT(r->spare == NULL);
	CU_ASSERT_EQUAL(rope_write(r, "x", 1), 1);
	CU_ASSERT_EQUAL(ta.takes, 1);

	/* Back to ropeio's memory once empty again. */
	CU_ASSERT_EQUAL(rope_truncate(r, 0), 0);
	CU_ASSERT_EQUAL(rope_set_allocator(r, NULL), 0);
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_SET), 0);
	CU_ASSERT_EQUAL(rope_write(r, "y", 1), 1);
	CU_ASSERT_EQUAL(ta.takes, 1);
	CU_ASSERT_EQUAL(rope_get_info(r, &info, sizeof(info)), 0);
	T_EQUALS_STR(r, "y");
	CU_ASSERT_EQUAL(rope_close(r), 0);
	CU_ASSERT_EQUAL(rope_set_allocator(r, &a), -EBADF);
	rope_free(r);
	T_ALL_GIVEN();
}

/* ------------------------------------------------------------------------ */
/* The out-of-memory sweep                                                  */
/* ------------------------------------------------------------------------ */

/* Rope states: one block with room; one block full, so a write resizes;
 * the same with a snapshot held, so a write takes a new block. */
static struct rope *
t_state(int k, struct rope_snap **snap)
{
	struct rope *r = t_seam_rope(k == 1);

	*snap = NULL;
	if (k >= 1) {
		for (int i = 0; i < 300; i++)
			rope_write(r, big + i, 1000);
	}
	if (k == 2)
		rope_snapshot(r, snap);
	if (k == 3)
		rope_write(r, "small", 5);
	return r;
}

static long
t_op(struct rope *r, int op)
{
	struct iovec iov[2] = { { big, 70000 }, { big + 5, 11 } };

	switch (op) {
	case 0:
		return rope_write(r, "eleven byte", 11);
	case 1:
		return rope_write(r, big, 300000);
	case 2:
		return rope_writev(r, iov, 2);
	default:
		return rope_append(r, big, 5000);
	}
}

/*
 * One point of the sweep: state @k, operation @op, the allocator's call
 * @n failing (or the library's own allocation @n when @lib). True once
 * the operation succeeded; until then it must fail with -ENOMEM and leave
 * the rope, the memory and the allocator's blocks as they were.
 */
static bool
t_sweep_point(int k, int op, bool lib, long n)
{
	struct rope_snap *snap;
	struct rope *r = t_state(k, &snap);
	size_t len, mem = t_mem_now();
	long live = ta.takes - ta.gives, ret;
	uint8_t *before = t_contents(r, &len);
	int64_t pos = rope_tell(r);

	if (lib)
		rope__alloc_fail_at(n);
	else
		ta.fail_at = n;
	ret = t_op(r, op);
	rope__alloc_fail_at(-1);
	ta.fail_at = -1;
	if (ret < 0) {
		CU_ASSERT_EQUAL(ret, -ENOMEM);
		CU_ASSERT(t_equals(r, before, len));
		CU_ASSERT_EQUAL(rope_tell(r), pos);
		CU_ASSERT_EQUAL(t_mem_now(), mem);
		CU_ASSERT_EQUAL(ta.takes - ta.gives, live);
	}
	T_CHECK(r);
	free(before);
	rope_snap_unref(snap);
	rope_free(r);
	T_ALL_GIVEN();
	return ret >= 0;
}

static void
test_seam_oom_sweep(void)
{
	for (int k = 0; k < 4; k++) {
		for (int op = 0; op < 4; op++) {
			for (int lib = 0; lib < 2; lib++) {
				long n = 0;

				while (n < 20 && !t_sweep_point(k, op, lib, n))
					n++;
				CU_ASSERT(n < 20);
			}
		}
	}
}

/* ------------------------------------------------------------------------ */
/* give() on another thread                                                 */
/* ------------------------------------------------------------------------ */

static void *
t_release_snap(void *arg)
{
	rope_snap_unref(arg);
	return NULL;
}

static void
test_seam_given_back_on_another_thread(void)
{
	struct rope *r = t_seam_rope(false);
	struct rope_snap *s = NULL;
	pthread_t t;

	for (int i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(rope_write(r, big, 4096), 4096);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	rope_free(r);
	CU_ASSERT_EQUAL(ta.gives, 0);
	CU_ASSERT_EQUAL(pthread_create(&t, NULL, t_release_snap, s), 0);
	pthread_join(t, NULL);
	T_ALL_GIVEN();
}

/* A sealed block whose value was dropped is the rope's again: written in
 * place and grown, handed out anew, no other block taken. */
static void
test_seam_unseal(void)
{
	struct rope *r = t_seam_rope(false);
	void *h = NULL, *h2 = NULL;
	size_t len = 0;

	CU_ASSERT_EQUAL(rope_write(r, "hello", 5), 5);
	CU_ASSERT_EQUAL(rope_unseal_value(r), -EAGAIN);  /* not sealed */
	CU_ASSERT_EQUAL(rope_seal_value(r, &h, &len), 0);
	CU_ASSERT_EQUAL(rope_unseal_value(r), 0);
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_SET), 0);
	CU_ASSERT_EQUAL(rope_write(r, "J", 1), 1);
	T_EQUALS_STR(r, "Jello");
	CU_ASSERT(h && memcmp(((struct t_block *)h)->bytes, "Jello", 5) == 0);
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_END), 5);
	CU_ASSERT_EQUAL(rope_write(r, " world", 6), 6);
	T_CHECK(r);
	CU_ASSERT_EQUAL(t_segments(r), 1);
	CU_ASSERT_EQUAL(ta.takes, 1);
	CU_ASSERT_EQUAL(rope_seal_value(r, &h2, &len), 0);
	CU_ASSERT_EQUAL(len, 11);
	CU_ASSERT(h2 && memcmp(((struct t_block *)h2)->bytes, "Jello world",
			       11) == 0);
	T_CHECK(r);
	rope_free(r);
	T_ALL_GIVEN();
}

/* Anything else that references the sealed block, or a stream that is
 * not that block whole, keeps it sealed and the rope as it was. */
static void
test_seam_unseal_refusals(void)
{
	struct rope *r = t_seam_rope(false);
	struct rope_bytes *v = NULL;
	struct rope_snap *s = NULL;
	struct iovec iov;
	void *h = NULL;
	size_t len = 0;

	CU_ASSERT_EQUAL(rope_unseal_value(NULL), -EINVAL);
	CU_ASSERT_EQUAL(rope_write(r, "hello", 5), 5);
	CU_ASSERT_EQUAL(rope_seal_value(r, &h, &len), 0);
	CU_ASSERT_EQUAL(rope_snapshot(r, &s), 0);
	CU_ASSERT_EQUAL(rope_unseal_value(r), -EAGAIN);
	rope_snap_unref(s);
	CU_ASSERT_EQUAL(rope_getvalue(r, &v), 0);
	CU_ASSERT_EQUAL(rope_unseal_value(r), -EAGAIN);  /* a value */
	rope_bytes_unref(v);
	CU_ASSERT_EQUAL(rope_getbuffer(r, &iov, 1), 1);
	CU_ASSERT_EQUAL(rope_unseal_value(r), -EBUSY);
	rope_releasebuffer(r);
	T_CHECK(r);
	/* Cut short: the caller's object says another size. */
	CU_ASSERT_EQUAL(rope_truncate(r, 3), 3);
	CU_ASSERT_EQUAL(rope_unseal_value(r), -EAGAIN);
	T_EQUALS_STR(r, "hel");
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_close(r), 0);
	CU_ASSERT_EQUAL(rope_unseal_value(r), -EBADF);
	rope_free(r);
	T_ALL_GIVEN();
}

/* A block of the caller's becomes the empty rope's own tail chunk: its
 * room written into, grown, sealed, given back once. */
static void
test_seam_adopt_block(void)
{
	struct rope *r = t_seam_rope(false);
	void *h = NULL, *h2 = NULL;
	size_t len = 0;
	uint8_t *p = t_take(&ta, 16, &h);

	CU_ASSERT_FATAL(p != NULL);
	memcpy(p, "abc", 3);
	CU_ASSERT_EQUAL(rope_adopt_block(r, h, p, 3, 16), 0);
	T_CHECK(r);
	T_EQUALS_STR(r, "abc");
	CU_ASSERT_EQUAL(rope_seek(r, 0, SEEK_END), 3);
	CU_ASSERT_EQUAL(rope_write(r, "defghij", 7), 7);  /* in its room */
	CU_ASSERT_EQUAL(ta.resizes, 0);
	CU_ASSERT_EQUAL(rope_write(r, big, 100), 100);  /* grows it */
	CU_ASSERT_EQUAL(ta.takes, 1);
	CU_ASSERT_EQUAL(t_segments(r), 1);
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_seal_value(r, &h2, &len), 0);
	CU_ASSERT_EQUAL(len, 110);
	CU_ASSERT(h2 && memcmp(((struct t_block *)h2)->bytes, "abcdefghij",
			       10) == 0);
	rope_free(r);
	T_ALL_GIVEN();
}

static void
test_seam_adopt_block_refusals(void)
{
	struct rope *r = t_seam_rope(false), *plain = rope_new();
	void *h = NULL;
	uint8_t *p = t_take(&ta, 8, &h);

	CU_ASSERT_FATAL(p != NULL && plain != NULL);
	CU_ASSERT_EQUAL(rope_adopt_block(NULL, h, p, 1, 8), -EINVAL);
	CU_ASSERT_EQUAL(rope_adopt_block(r, NULL, p, 1, 8), -EINVAL);
	CU_ASSERT_EQUAL(rope_adopt_block(r, h, p, 0, 8), -EINVAL);
	CU_ASSERT_EQUAL(rope_adopt_block(r, h, p, 9, 8), -EINVAL);
	CU_ASSERT_EQUAL(rope_adopt_block(plain, h, p, 1, 8), -EINVAL);
	/* Out of memory: nothing changed, the block still the caller's. */
	rope__alloc_fail_at(0);
	CU_ASSERT_EQUAL(rope_adopt_block(r, h, p, 1, 8), -ENOMEM);
	rope__alloc_fail_at(-1);
	CU_ASSERT_EQUAL(rope_size(r), 0);
	T_CHECK(r);
	CU_ASSERT_EQUAL(rope_write(r, "x", 1), 1);
	CU_ASSERT_EQUAL(rope_adopt_block(r, h, p, 1, 8), -EBUSY);
	T_EQUALS_STR(r, "x");
	CU_ASSERT_EQUAL(rope_close(r), 0);
	CU_ASSERT_EQUAL(rope_adopt_block(r, h, p, 1, 8), -EBADF);
	t_give(&ta, h);
	rope_free(r);
	rope_free(plain);
	T_ALL_GIVEN();
}

static const struct t_test tests[] = {
	{ "adopt_block", test_seam_adopt_block },
	{ "adopt_block_refusals", test_seam_adopt_block_refusals },
	{ "append_stays_one_block", test_seam_append_stays_one_block },
	{ "append_stays_one_block_moving",
	  test_seam_append_stays_one_block_moving },
	{ "given_back_on_another_thread",
	  test_seam_given_back_on_another_thread },
	{ "oom_sweep", test_seam_oom_sweep },
	{ "seal_refusals", test_seam_seal_refusals },
	{ "sealed_is_immutable", test_seam_sealed_is_immutable },
	{ "set_allocator", test_seam_set_allocator },
	{ "unseal", test_seam_unseal },
	{ "unseal_refusals", test_seam_unseal_refusals },
	{ "values_and_snapshots_keep_bytes",
	  test_seam_values_and_snapshots_keep_bytes },
};

int
main(void)
{
	pthread_mutex_init(&ta.lock, NULL);
	return t_run("seam", tests, ARRAY_SIZE(tests));
}
