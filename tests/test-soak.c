/* SPDX-License-Identifier: MIT */
/*
 * The soak: for a bounded time (ROPEIO_SOAK_SECONDS, 15 by default) random
 * operations keep changing a rope while snapshots of it go, through the
 * engine, to a TCP socket on loopback and to a file. Every byte received
 * and every byte in the file must be what the snapshot held when it was
 * taken; nothing may leak.
 *
 * The time is shared by two runs: one as it is, one under transient faults
 * made by the kernel (fault-ring.h): short writes and sends, -EINTR that
 * cancels the rest of a chain, and a full SQ, every few requests. They
 * must all be retried: no request may fail and no byte may differ.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "fault-ring.h"
#include "ropeio-uring.h"

/* Bytes sent to each target, at most: the checks keep a copy. */
#define SOAK_BYTES (192u << 20)
/* The least work a soak does, however slow the build: the run goes on past
 * its time until this many bursts of changes have been made and sent. A
 * floor of work, not of speed: speed belongs in the benchmark tour. */
#define SOAK_MIN_BURSTS 10

/* A growing byte string: what the receiver and the file must hold. */
struct bytes {
	uint8_t *p;
	size_t len, cap;
};

static void
bytes_add(struct bytes *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

/* Reads the socket until EOF into a byte string. */
struct receiver {
	int fd;
	struct bytes got;
};

static void *
receive_all(void *arg)
{
	struct receiver *rv = arg;
	uint8_t buf[65536];

	for (;;) {
		ssize_t n = read(rv->fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		bytes_add(&rv->got, buf, (size_t)n);
	}
	return NULL;
}

static void
sent(void *arg, ssize_t res)
{
	long *failures = arg;

	if (res < 0)
		++*failures;
}

/* Each of the two runs takes half of ROPEIO_SOAK_SECONDS (15 s). */
static double
soak_seconds(void)
{
	const char *env = getenv("ROPEIO_SOAK_SECONDS");

	return (env ? atof(env) : 15) / 2;
}

/* Transient faults only: each one is retried by the job. */
static void
faults_on(void)
{
	static const struct t_ring_rule rules[] = {
		{ IORING_OP_WRITEV, .count = T_FAULT_ALWAYS, .every = 5,
		  .keep = 4097 },
		{ IORING_OP_WRITEV, .skip = 2, .count = T_FAULT_ALWAYS,
		  .every = 11, .res = -EINTR },
		{ IORING_OP_SENDMSG, .count = T_FAULT_ALWAYS, .every = 7,
		  .keep = 1500 },
		{ IORING_OP_SENDMSG, .skip = 3, .count = T_FAULT_ALWAYS,
		  .every = 13, .res = -EINTR },
	};

	t_ring_faults(rules, ARRAY_SIZE(rules));
	t_ring_sq_full(0, T_FAULT_ALWAYS, 17);
}

static void
soak(bool faulty)
{
	double seconds = soak_seconds(), end;
	struct bytes want_sock = { 0 }, want_file = { 0 };
	struct receiver rv = { 0 };
	struct rope_uring *u = NULL;
	struct rope *r = rope_new();
	uint8_t buf[8192];
	uint64_t rng = 88172645463325252ull, ops = 0, snaps = 0, bursts = 0;
	long failures = 0;
	size_t mem = t_mem_now() - sizeof(struct rope), file_off = 0;
	pthread_t t;
	int fds[2], fd = t_tmpfile();

	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	CU_ASSERT_EQUAL_FATAL(rope_uring_new(&u, 64), 0);
	if (faulty)
		faults_on();
	rv.fd = fds[1];
	pthread_create(&t, NULL, receive_all, &rv);
	end = t_now() + seconds;
	for (; t_now() < end || bursts < SOAK_MIN_BURSTS; bursts++) {
		/* A burst of changes... */
		for (int k = 0; k < 2000; k++, ops++) {
			uint64_t x;
			size_t n, size = rope_size(r);

			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			x = rng;
			n = 1 + (size_t)(x >> 8) % 3000;
			t_pattern(buf, MIN(n, sizeof(buf)), x);
			switch (x % 8) {
			case 0: case 1:
				rope_append(r, buf, n);
				break;
			case 2:
				rope_seek(r, (int64_t)((x >> 20) % (size + 1)),
					  SEEK_SET);
				rope_write(r, buf, n);
				break;
			case 3:
				rope_append_ref(r, "borrowed bytes", 14, NULL,
						NULL);
				break;
			case 4:
				if (size > 200000)
					rope_drain(r, size / 3);
				break;
			case 5:
				if (size > 300000)
					rope_truncate(r, (int64_t)(size / 2));
				break;
			case 6: {
				const void *p;

				if (size > 10)
					rope_pullup(r, (int64_t)(size / 3),
						    MIN((size_t)5000, size / 3),
						    &p);
				break;
			}
			default:
				rope_seek(r, 0, SEEK_END);
				rope_write(r, buf, n % 64);
			}
		}
		/* ...then a snapshot to the socket and one to the file,
		 * recording what each must deliver (up to a volume that
		 * keeps the run's memory and disk modest). */
		for (int target = 0; target < 2 && want_sock.len < SOAK_BYTES;
		     target++) {
			struct rope_snap *s;
			uint8_t *copy;
			size_t len;

			CU_ASSERT_EQUAL_FATAL(rope_snapshot(r, &s), 0);
			len = rope_snap_size(s);
			copy = malloc(len + 1);
			CU_ASSERT_EQUAL(rope_pread(r, copy, len, 0), (ssize_t)len);
			if (target == 0) {
				bytes_add(&want_sock, copy, len);
				CU_ASSERT_EQUAL(rope_uring_send(u, fds[0], s, 0,
								SIZE_MAX, 0,
								sent, &failures), 0);
			} else {
				bytes_add(&want_file, copy, len);
				CU_ASSERT_EQUAL(rope_uring_pwrite(u, fd, s, 0,
								  SIZE_MAX,
								  (int64_t)file_off,
								  sent, &failures), 0);
				file_off += len;
			}
			rope_snap_unref(s);
			free(copy);
			snaps++;
		}
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
		if (rope__check(r) != 0) {
			CU_FAIL("invariants broken");
			break;
		}
	}
	rope_uring_free(u);  /* completes every request */
	if (faulty) {
		printf("  [soak under faults: %u injected]\n", t_ring_hits());
		/* Half the snapshots go to the file, each in one WRITEV at
		 * least, and every 5th WRITEV is cut: a floor that holds
		 * however slow the build (sanitizers) makes the run. */
		CU_ASSERT(snaps >= 10 && t_ring_hits() >= snaps / 10);
		t_ring_faults_off();
	}
	shutdown(fds[0], SHUT_WR);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(failures, 0);
	CU_ASSERT_EQUAL(rv.got.len, want_sock.len);
	CU_ASSERT(rv.got.len == want_sock.len &&
		  memcmp(rv.got.p, want_sock.p, want_sock.len) == 0);
	CU_ASSERT(t_file_is(fd, 0, want_file.p, want_file.len));
	printf("  [soak: %.0f s, %llu operations, %llu snapshots, %zu bytes "
	       "to the socket, %zu to the file]\n", seconds,
	       (unsigned long long)ops, (unsigned long long)snaps,
	       want_sock.len, want_file.len);
	rope_free(r);
	CU_ASSERT_EQUAL(t_mem_now(), mem);
	free(rv.got.p);
	free(want_sock.p);
	free(want_file.p);
	close(fds[0]);
	close(fds[1]);
	close(fd);
}

static void
test_soak_snapshots_out_while_the_rope_changes(void)
{
	soak(false);
}

static void
test_soak_snapshots_out_under_transient_faults(void)
{
	/* The faults are NOPs with injected results: kernel 6.10 on. */
	if (!t_ring_can_inject()) {
		printf("  [skipped: NOPs cannot inject results here]\n");
		return;
	}
	soak(true);
}

static const struct t_test tests[] = {
	{ "snapshots_out_under_transient_faults",
	  test_soak_snapshots_out_under_transient_faults },
	{ "snapshots_out_while_the_rope_changes",
	  test_soak_snapshots_out_while_the_rope_changes },
};

int
main(void)
{
	if (t_loopback_down("soak"))
		return T_EXIT_SKIP;
	return t_run("soak", tests, ARRAY_SIZE(tests));
}
