/* SPDX-License-Identifier: MIT */
/*
 * What an idle connection costs the engine, in both arms: the bytes
 * allocated per armed receive (its rope included), before any data and
 * after one small message was received and drained, and the descriptors
 * it holds. Counted by rope_mem_stats() and /proc/self/fd, never timed.
 *
 * The target is the issue's: at most 1 KB per idle connection, of which a
 * receive and its rope may take IDLE_RECV_MAX_BYTES. What all
 * receives share is counted apart: the ring's buffer pool (it grows with
 * the receivers that find it empty, up to its bound) and the chunk plain
 * reads overflow into.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine-arms.h"
#include "uring-priv.h"

#define IDLE_N 256
/* A server's idle connection is a receive with its rope, a rope to answer
 * from and the server's own struct: the receive's part of the 1,024 bytes
 * may be at most this. */
#define IDLE_RECV_MAX_BYTES 640

/* The message a keep-alive client sends once: a small request. */
static const char request[] =
	"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

struct idle_conn {
	struct rope *r;
	struct t_received x;
};

struct idle {
	struct rope_uring *u;
	int fds[IDLE_N][2];
	struct idle_conn c[IDLE_N];
	int opened;
};

/* A server's receive callback: every message is parsed (here: counted)
 * and drained at once. */
static void
on_recv_drain(void *arg, ssize_t n)
{
	struct idle_conn *c = arg;

	t_on_recv(&c->x, n);
	if (n > 0)
		CU_ASSERT_EQUAL(rope_drain(c->r, rope_size(c->r)), n);
}

static size_t
allocated_now(void)
{
	struct rope_mem_stats st;

	CU_ASSERT_EQUAL(rope_mem_stats(&st, sizeof(st)), 0);
	return st.allocated;
}

/* What every receive of @u shares: the buffers of the ring's pool and
 * the plain reads' chunk. */
static size_t
shared_now(const struct rope_uring *u)
{
	size_t n = 0;

	for (unsigned bid = 0; u->bufs && bid < u->nbuf_high; bid++)
		if (u->bufs[bid].chunk)
			n += rope__chunk_footprint(u->bufs[bid].chunk);
	if (u->plain_chunk)
		n += rope__chunk_footprint(u->plain_chunk);
	return n;
}

/* Bytes allocated now, the engine's shared ones left out. */
static size_t
own_now(const struct rope_uring *u)
{
	return allocated_now() - shared_now(u);
}

static int
fds_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Run until every receive has taken @want bytes, or 5 s. */
static bool
run_until_received(struct idle *s, size_t want)
{
	double end = t_now() + 5;

	for (;;) {
		bool all = true;

		CU_ASSERT(rope_uring_run(s->u, 0) >= 0);
		for (int i = 0; i < s->opened && all; i++)
			all = s->c[i].x.bytes >= want;
		if (all)
			return true;
		if (t_now() > end)
			return false;
		usleep(200);
	}
}

/*
 * The engine, with its shared set-up done (one receive made it), then
 * IDLE_N receives armed: *@per their allocation each (rope included),
 * *@fds_per the descriptors each holds beyond its socket pair.
 */
static bool
idle_open(struct idle *s, double *per, double *fds_per)
{
	struct rope *warm_rope = rope_new();
	struct t_received warm_x = { 0 };
	size_t before;
	int warm[2], fds_before;

	memset(s, 0, sizeof(*s));
	s->u = t_engine();
	if (!s->u || !warm_rope ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, warm) < 0)
		return false;
	CU_ASSERT_EQUAL(rope_uring_recv(s->u, warm[0], warm_rope, t_on_recv,
					&warm_x), 0);
	CU_ASSERT(rope_uring_run(s->u, 0) >= 0);
	for (int i = 0; i < IDLE_N; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, s->fds[i]) < 0)
			return false;
	fds_before = fds_open();
	before = own_now(s->u);
	for (int i = 0; i < IDLE_N; i++) {
		struct idle_conn *c = &s->c[i];

		c->r = rope_new();
		if (!c->r || rope_uring_recv(s->u, s->fds[i][0], c->r,
					     on_recv_drain, c) < 0)
			return false;
		s->opened++;
	}
	CU_ASSERT(rope_uring_run(s->u, 0) >= 0);
	CU_ASSERT(rope_uring_run(s->u, 0) >= 0);
	*per = (double)(own_now(s->u) - before) / IDLE_N;
	*fds_per = (double)(fds_open() - fds_before) / IDLE_N;
	CU_ASSERT_EQUAL(rope_uring_close(s->u, warm[0], ROPE_URING_CLOSE_FD,
					 NULL, NULL), 0);
	while (rope_uring_pending(s->u) > (unsigned)IDLE_N)
		CU_ASSERT(rope_uring_run(s->u, 0) >= 0);
	close(warm[1]);
	rope_free(warm_rope);
	return true;
}

static void
idle_close(struct idle *s)
{
	for (int i = 0; i < s->opened; i++)
		CU_ASSERT_EQUAL(rope_uring_close(s->u, s->fds[i][0],
						 ROPE_URING_CLOSE_FD, NULL,
						 NULL), 0);
	while (rope_uring_pending(s->u))
		CU_ASSERT(rope_uring_run(s->u, 0) >= 0);
	rope_uring_free(s->u);
	for (int i = 0; i < IDLE_N; i++) {
		rope_free(s->c[i].r);
		close(s->fds[i][1]);
		if (i >= s->opened)
			close(s->fds[i][0]);
	}
}

static void
test_memory_armed_receive_without_data(void)
{
	static struct idle s;
	double per = 0, fds_per = 1;

	CU_ASSERT_FATAL(idle_open(&s, &per, &fds_per));
	fprintf(stderr, "\n    %s: armed, no data: %.0f B, %.2f fds per "
		"receive ", t_fallback_arm ? "fallback" : "io_uring", per,
		fds_per);
	CU_ASSERT(per <= IDLE_RECV_MAX_BYTES);
	/* The socket alone: no descriptor of the engine's per receive. */
	CU_ASSERT(fds_per < 0.01);
	idle_close(&s);
}

/*
 * One request in, read and drained by the callback, as a keep-alive server
 * leaves it: no more than the armed receive cost (the rope lets its spare
 * go to the chunk cache; 288 bytes more each before).
 */
static void
test_memory_idle_after_one_message(void)
{
	static struct idle s;
	double per = 0, fds_per = 1, after;
	size_t before;

	CU_ASSERT_FATAL(idle_open(&s, &per, &fds_per));
	before = own_now(s.u) - (size_t)(per * IDLE_N);
	for (int i = 0; i < IDLE_N; i++)
		CU_ASSERT_EQUAL(write(s.fds[i][1], request,
				      sizeof(request) - 1),
				(ssize_t)sizeof(request) - 1);
	CU_ASSERT(run_until_received(&s, sizeof(request) - 1));
	for (int i = 0; i < IDLE_N; i++)
		CU_ASSERT_EQUAL(rope_size(s.c[i].r), 0);
	CU_ASSERT(rope_uring_run(s.u, 0) >= 0);
	after = (double)(own_now(s.u) - before) / IDLE_N;
	fprintf(stderr, "\n    %s: one message, drained: %.0f B per "
		"receive, %zu B shared ", t_fallback_arm ? "fallback" :
		"io_uring", after, shared_now(s.u));
	CU_ASSERT(after <= IDLE_RECV_MAX_BYTES);
	CU_ASSERT(after <= per + 32);
	idle_close(&s);
}

/*
 * The engine holds no descriptor of its own, so close(2) without
 * rope_uring_cancel() first is noticed as the header says: in both modes
 * the receive goes on, unnoticed, until it is cancelled; on the fallback
 * the peer sees the end of the stream at once, on io_uring the kernel's
 * request keeps the socket open until then.
 */
static void
test_memory_close_without_cancel(void)
{
	struct rope_uring *u = t_engine();
	struct rope *r = rope_new();
	struct t_received x = { 0 };
	char c;
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], r, t_on_recv, &x), 0);
	CU_ASSERT(rope_uring_run(u, 0) >= 0);
	close(fds[0]);
	for (int i = 0; i < 20 && !x.ended; i++) {
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
		usleep(1000);
	}
	CU_ASSERT(!x.ended);
	if (t_fallback_arm) {
		CU_ASSERT_EQUAL(read(fds[1], &c, 1), 0);  /* end of stream */
	} else {
		CU_ASSERT_EQUAL(recv(fds[1], &c, 1, MSG_DONTWAIT), -1);
		CU_ASSERT_EQUAL(errno, EAGAIN);  /* still open */
	}
	CU_ASSERT_EQUAL(rope_uring_cancel(u, fds[0]), 0);
	while (!x.ended && rope_uring_run(u, 1) >= 0)
		;
	CU_ASSERT_EQUAL(x.end, -ECANCELED);
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	rope_uring_free(u);
	rope_free(r);
	close(fds[1]);
}

static const struct t_test tests[] = {
	{ "armed_receive_without_data",
	  test_memory_armed_receive_without_data },
	{ "close_without_cancel", test_memory_close_without_cancel },
	{ "idle_after_one_message", test_memory_idle_after_one_message },
};

int
main(void)
{
	return t_run_engine_arms(tests, ARRAY_SIZE(tests), 60);
}
