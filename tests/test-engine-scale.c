/* SPDX-License-Identifier: MIT */
/*
 * The engine under many receivers, in both arms: every busy receiver is
 * served in turn whatever the size of the ring, and a round costs what is
 * ready, not what exists. Counted, not timed: callbacks per receiver, and
 * the receivers the rounds looked at (the engine's own count).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine-arms.h"
#include "uring-priv.h"

/* Room for @pairs socketpairs and the engine's own descriptors (each
 * receive holds a dup in the fallback): false when the limit is lower. */
static bool
fds_for(unsigned pairs)
{
	struct rlimit rl;
	rlim_t need = 3 * (rlim_t)pairs + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return false;
	if (rl.rlim_cur >= need)
		return true;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		return false;
	rl.rlim_cur = need;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

struct conn {
	struct rope_uring *u;
	struct rope *r;
	int fd, peer;
	unsigned served;         /* callbacks with bytes */
	int end;                 /* the final callback's result; 1: none */
	struct rope_snap *reply;
};

#define FAIR_PAIRS 300
#define FAIR_ROUNDS 12

/* One served connection's views of the others when it reached the last
 * round: the fewest times any of them had been served. */
static unsigned fair_min_at_end = UINT32_MAX;
static bool fair_ended;
static struct conn *fair_conns;

/* Like a server: take the request, answer it, and (FAIR_ROUNDS times)
 * let the peer send the next one at once. */
static void
fair_cb(void *arg, ssize_t res)
{
	struct conn *c = arg;

	if (res <= 0) {
		c->end = (int)res;
		return;
	}
	rope_truncate(c->r, 0);
	c->served++;
	CU_ASSERT_EQUAL(rope_uring_send(c->u, c->fd, c->reply, 0, SIZE_MAX, 0,
					NULL, NULL), 0);
	if (c->served < FAIR_ROUNDS) {
		CU_ASSERT_EQUAL(write(c->peer, "q", 1), 1);
	} else if (!fair_ended) {
		fair_ended = true;
		for (unsigned i = 0; i < FAIR_PAIRS; i++)
			fair_min_at_end = MIN(fair_min_at_end,
					      fair_conns[i].served);
	}
}

/*
 * 300 busy receivers on an engine of 8 entries: each callback queues a
 * send (an SQE) and its peer sends again at once. When the first
 * connection has been served FAIR_ROUNDS times, every other must have been
 * served too, nearly as often. Before, the sends and re-arms of the
 * receivers first in line took the small SQ every round, the run went on
 * round after round for them, and the rest were never read (served 0
 * times); a server's p99 at 2,000 connections was 1 to 2 s.
 */
static void
test_scale_busy_receivers_served_in_turn(void)
{
	struct rope_uring *u = NULL;
	struct rope *reply_r = rope_new();
	struct rope_snap *reply;
	struct conn *cs = calloc(FAIR_PAIRS, sizeof(*cs));
	unsigned runs = 0;

	CU_ASSERT_FATAL(cs != NULL && reply_r != NULL);
	if (!fds_for(FAIR_PAIRS)) {
		printf("(descriptor limit too low: skipped) ");
		free(cs);
		rope_free(reply_r);
		return;
	}
	CU_ASSERT_EQUAL_FATAL(rope_uring_new(&u, 8), 0);
	CU_ASSERT_EQUAL(rope_append(reply_r, "ok", 2), 2);
	CU_ASSERT_EQUAL_FATAL(rope_snapshot(reply_r, &reply), 0);
	fair_conns = cs;
	fair_ended = false;
	fair_min_at_end = UINT32_MAX;
	for (unsigned i = 0; i < FAIR_PAIRS; i++) {
		int sv[2];

		CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		cs[i] = (struct conn){ .u = u, .r = rope_new(), .fd = sv[0],
				       .peer = sv[1], .end = 1, .reply = reply };
		CU_ASSERT_FATAL(cs[i].r != NULL);
		CU_ASSERT_EQUAL(rope_uring_recv(u, sv[0], cs[i].r, fair_cb,
						&cs[i]), 0);
		CU_ASSERT_EQUAL(write(sv[1], "q", 1), 1);
	}
	while (!fair_ended && runs++ < 100000)
		CU_ASSERT(rope_uring_run(u, 1) >= 0);
	CU_ASSERT(fair_ended);
	/* Served in turn: each at least half as often as the first. */
	CU_ASSERT(fair_min_at_end >= FAIR_ROUNDS / 2);
	if (fair_min_at_end < FAIR_ROUNDS / 2)
		printf("(fewest served %u of %u) ", fair_min_at_end,
		       FAIR_ROUNDS);
	for (unsigned i = 0; i < FAIR_PAIRS; i++)
		CU_ASSERT_EQUAL(rope_uring_cancel(u, cs[i].fd), 0);
	while (rope_uring_pending(u) && rope_uring_run(u, 1) > 0)
		;
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	rope_uring_free(u);
	for (unsigned i = 0; i < FAIR_PAIRS; i++) {
		CU_ASSERT_EQUAL(cs[i].end, -ECANCELED);
		close(cs[i].fd);
		close(cs[i].peer);
		rope_free(cs[i].r);
	}
	rope_snap_unref(reply);
	rope_free(reply_r);
	free(cs);
}

#define IDLE_PAIRS 1000
#define ACTIVE_RUNS 200

static void
count_cb(void *arg, ssize_t res)
{
	struct conn *c = arg;

	if (res > 0) {
		c->served++;
		rope_truncate(c->r, 0);
	} else {
		c->end = (int)res;
	}
}

/*
 * 1,000 idle receivers and one that gets a byte before every run: the
 * rounds look at about one receiver each, not a thousand, and a call on
 * one receiver finds it without walking the others, in both modes. Before,
 * each round of the ring walked every receiver to deliver, to arm and for
 * callbacks (11 % of a server's time at 2,000 connections); the fallback's
 * walked them all to make a poll(2) set and for callbacks, and now waits
 * on an epoll set that changes only when a receiver's wish does.
 */
static void
test_scale_round_costs_what_is_ready(void)
{
	struct rope_uring *u = NULL;
	struct conn *cs = calloc(IDLE_PAIRS + 1, sizeof(*cs));
	struct conn *hot;
	uint64_t visits, rounds;

	CU_ASSERT_FATAL(cs != NULL);
	if (!fds_for(IDLE_PAIRS + 1)) {
		printf("(descriptor limit too low: skipped) ");
		free(cs);
		return;
	}
	CU_ASSERT_EQUAL_FATAL(rope_uring_new(&u, 64), 0);
	for (unsigned i = 0; i <= IDLE_PAIRS; i++) {
		int sv[2];

		CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		cs[i] = (struct conn){ .u = u, .r = rope_new(), .fd = sv[0],
				       .peer = sv[1], .end = 1 };
		CU_ASSERT_FATAL(cs[i].r != NULL);
		CU_ASSERT_EQUAL(rope_uring_recv(u, sv[0], cs[i].r, count_cb,
						&cs[i]), 0);
	}
	/* Starting, pausing and resuming one more compares a few receivers
	 * (a hash by open file, a table by fd), not a thousand. */
	{
		int sv[2];
		uint64_t before = u->count.lookups;

		CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		CU_ASSERT_EQUAL(rope_uring_recv(u, sv[0], cs[0].r, NULL, NULL),
				0);
		CU_ASSERT_EQUAL(rope_uring_recv_pause(u, sv[0]), 0);
		CU_ASSERT_EQUAL(rope_uring_recv_resume(u, sv[0]), 0);
		CU_ASSERT(u->count.lookups - before <= 16);
		CU_ASSERT_EQUAL(rope_uring_cancel(u, sv[0]), 0);
		close(sv[0]);
		close(sv[1]);
	}
	hot = &cs[IDLE_PAIRS / 2];
	/* Every receive armed, and nothing more to do. */
	for (int i = 0; i < 4; i++)
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
	visits = u->count.recv_visits;
	rounds = u->count.rounds;
	for (unsigned i = 0; i < ACTIVE_RUNS; i++) {
		unsigned before = hot->served;

		CU_ASSERT_EQUAL(write(hot->peer, "x", 1), 1);
		while (hot->served == before)
			CU_ASSERT(rope_uring_run(u, 1) >= 0);
	}
	CU_ASSERT_EQUAL(hot->served, ACTIVE_RUNS);
	{
		uint64_t v = u->count.recv_visits - visits;
		uint64_t n = u->count.rounds - rounds;

		/* The hot receiver, twice a round (the round and its
		 * callbacks), and rounds that looked at nobody. */
		CU_ASSERT(n >= ACTIVE_RUNS);
		CU_ASSERT(v <= 4 * (uint64_t)ACTIVE_RUNS);
		if (v > 4 * (uint64_t)ACTIVE_RUNS)
			printf("(%llu receivers looked at in %llu rounds) ",
			       (unsigned long long)v, (unsigned long long)n);
	}
	for (unsigned i = 0; i <= IDLE_PAIRS; i++) {
		if (i != IDLE_PAIRS / 2)
			CU_ASSERT_EQUAL(cs[i].served, 0);
		CU_ASSERT_EQUAL(rope_uring_cancel(u, cs[i].fd), 0);
	}
	while (rope_uring_pending(u) && rope_uring_run(u, 1) > 0)
		;
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	rope_uring_free(u);
	for (unsigned i = 0; i <= IDLE_PAIRS; i++) {
		CU_ASSERT_EQUAL(cs[i].end, -ECANCELED);
		close(cs[i].fd);
		close(cs[i].peer);
		rope_free(cs[i].r);
	}
	free(cs);
}

/*
 * An idle receiver whose rope is closed still ends with -EBADF at the next
 * run, though no CQE or call marks it ready: rope_close() is counted, and
 * the rounds look at every receiver when the count moved.
 */
static void
test_scale_closed_rope_of_an_idle_receiver(void)
{
	struct rope_uring *u = t_engine();
	struct conn cs[3];

	for (unsigned i = 0; i < 3; i++) {
		int sv[2];

		CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		cs[i] = (struct conn){ .u = u, .r = rope_new(), .fd = sv[0],
				       .peer = sv[1], .end = 1 };
		CU_ASSERT_EQUAL(rope_uring_recv(u, sv[0], cs[i].r, count_cb,
						&cs[i]), 0);
	}
	for (int i = 0; i < 3; i++)
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
	CU_ASSERT_EQUAL(rope_close(cs[1].r), 0);
	for (int i = 0; i < 20 && cs[1].end == 1; i++)
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
	CU_ASSERT_EQUAL(cs[1].end, -EBADF);
	CU_ASSERT_EQUAL(cs[0].end, 1);
	CU_ASSERT_EQUAL(cs[2].end, 1);
	/* The others still read. */
	CU_ASSERT_EQUAL(write(cs[2].peer, "y", 1), 1);
	for (int i = 0; i < 100 && !cs[2].served; i++)
		CU_ASSERT(rope_uring_run(u, 1) >= 0);
	CU_ASSERT_EQUAL(cs[2].served, 1);
	rope_uring_free(u);
	for (unsigned i = 0; i < 3; i++) {
		close(cs[i].fd);
		close(cs[i].peer);
		rope_free(cs[i].r);
	}
}

static const struct t_test tests[] = {
	{ "busy_receivers_served_in_turn",
	  test_scale_busy_receivers_served_in_turn },
	{ "round_costs_what_is_ready", test_scale_round_costs_what_is_ready },
	{ "closed_rope_of_an_idle_receiver",
	  test_scale_closed_rope_of_an_idle_receiver },
};

int
main(void)
{
	return t_run_engine_arms(tests, ARRAY_SIZE(tests), 240);
}
