/* SPDX-License-Identifier: MIT */
/*
 * The engine on kernels that lack its optional features, one at a time:
 * only this machine's kernel can be booted here, so each feature is turned
 * off through the io_uring seam (tests/fault-ring.c), the way an older
 * kernel answers the probe or the setup, and the same workload runs. What
 * the engine does without each one is what include/ropeio-engine.h and
 * README.md state:
 *
 *   cooperative task running refused (-EINVAL, before 5.19): a ring
 *       without it;
 *   no SENDMSG_ZC in the probe (before 6.1): ROPE_URING_ZC is ignored;
 *   no provided buffer rings (registration -EINVAL, before 5.19):
 *       receives are plain reads on the ring backend;
 *   no multishot recv (-EINVAL, 5.19): single-shot recvs, one per
 *       arrival (as for AF_UNIX sockets on any kernel);
 *   no WRITEV or SENDMSG in the probe, or no ring at all: the poll
 *       backend.
 *
 * The workload: a file write, 1 MiB sent by the engine on a Unix socket
 * pair and on a TCP connection whose other ends the same engine receives,
 * an epoll loop on rope_uring_fd() (which must also wake for bytes written
 * by a peer outside the engine), and the connections ended with
 * rope_uring_close().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine-arms.h"
#include "fault-ring.h"

struct closed {
	bool done;
	ssize_t result;
};

static void
on_closed(void *arg, ssize_t result)
{
	struct closed *c = arg;

	c->done = true;
	c->result = result;
}

/* When the workload gives up: a feature's fallback that never finishes
 * fails it instead of hanging it. */
static double workload_deadline;

/* The caller's loop, once: wait up to @ms for rope_uring_fd() (in @ep),
 * then run what is ready. False (asserted) when the wait timed out, or
 * the workload's time is up. */
static bool
wait_and_run(int ep, struct rope_uring *u, int ms)
{
	struct epoll_event e;
	int k;

	if (t_now() > workload_deadline) {
		CU_FAIL("the workload took more than 30 s");
		return false;
	}
	do {
		k = epoll_wait(ep, &e, 1, ms);
	} while (k < 0 && errno == EINTR);
	CU_ASSERT(k > 0);
	if (k <= 0)
		return false;
	CU_ASSERT(rope_uring_run(u, 0) >= 0);
	return true;
}

/* The bytes the workload sends on each connection. */
#define WORKLOAD_LEN (1u << 20)

/* One of the workload's connections: its two ends, what the engine
 * received and sent on it, and its close. */
struct conn {
	int fd[2];
	struct rope *in;
	struct t_received x;
	struct outcome sent;
	struct closed closed;
};

/* All bytes received and all sends and writes called back? */
static bool
workload_done(const struct conn *conns, const struct outcome *written)
{
	for (int k = 0; k < 2; k++)
		if (conns[k].x.bytes < WORKLOAD_LEN || !conns[k].sent.calls)
			return false;
	return written->calls > 0;
}

/*
 * The workload, on an engine made while the fault is installed; the fault
 * stays for the whole run. Two connections at once, a Unix socket pair
 * and a TCP one: the ring backend receives them differently (single-shot
 * recvs on AF_UNIX), and a fallback taken for one kind must not strand
 * the other's bytes.
 */
static void
workload(bool want_fallback, unsigned send_flags)
{
	const size_t len = WORKLOAD_LEN;
	struct rope_uring *u = NULL;
	struct rope *out = rope_new();
	struct epoll_event ev = { .events = EPOLLIN };
	struct outcome written = { 0 };
	struct conn conns[2];
	struct rope_snap *s;
	uint8_t *data = malloc(len), *got;
	int ep = epoll_create1(0), fd = t_tmpfile();
	size_t n;

	memset(conns, 0, sizeof(conns));
	workload_deadline = t_now() + 30;
	CU_ASSERT_EQUAL_FATAL(rope_uring_new(&u, 16), 0);
	CU_ASSERT_EQUAL(rope_uring_is_fallback(u), want_fallback);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0,
					 conns[0].fd), 0);
	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(conns[1].fd), 0);
	CU_ASSERT_EQUAL(epoll_ctl(ep, EPOLL_CTL_ADD, rope_uring_fd(u), &ev), 0);
	t_pattern(data, len, 9);
	CU_ASSERT_EQUAL(rope_append(out, data, len), (ssize_t)len);
	CU_ASSERT_EQUAL(rope_snapshot(out, &s), 0);
	for (int k = 0; k < 2; k++) {
		struct conn *c = &conns[k];

		c->in = rope_new();
		CU_ASSERT_EQUAL(rope_uring_recv(u, c->fd[0], c->in, t_on_recv,
						&c->x), 0);
		CU_ASSERT_EQUAL(rope_uring_send(u, c->fd[1], s, 0, SIZE_MAX,
						send_flags, record, &c->sent),
				0);
	}
	CU_ASSERT_EQUAL(rope_uring_pwrite(u, fd, s, 0, SIZE_MAX, 0, record,
					  &written), 0);
	rope_snap_unref(s);
	CU_ASSERT(rope_uring_run(u, 0) >= 0);
	for (int i = 0; i < 10000 && !workload_done(conns, &written); i++)
		if (!wait_and_run(ep, u, 5000))
			break;
	CU_ASSERT(workload_done(conns, &written));
	CU_ASSERT_EQUAL(written.result, (ssize_t)len);
	CU_ASSERT(t_file_is(fd, 0, data, len));
	for (int k = 0; k < 2; k++) {
		struct conn *c = &conns[k];

		CU_ASSERT_EQUAL(c->sent.result, (ssize_t)len);
		got = t_contents(c->in, &n);
		CU_ASSERT_EQUAL(n, len);
		CU_ASSERT(n == len && memcmp(got, data, len) == 0);
		free(got);
		/* Bytes from a peer outside the engine, with nothing else
		 * going on: rope_uring_fd() alone must wake the loop for
		 * them, each time. */
		for (size_t want = len + 4; want <= len + 12; want += 4) {
			/* Not blocking: a receive that stopped reading must
			 * fail the test, not hang it. */
			CU_ASSERT_EQUAL(send(c->fd[1], "ping", 4, MSG_DONTWAIT),
					4);
			for (int i = 0; i < 100 && c->x.bytes < want; i++)
				if (!wait_and_run(ep, u, 2000))
					break;
			CU_ASSERT_EQUAL(c->x.bytes, want);
		}
		CU_ASSERT_EQUAL(rope_uring_close(u, c->fd[0],
						 ROPE_URING_CLOSE_FD, on_closed,
						 &c->closed), 0);
	}
	for (int i = 0; i < 2000 && !(conns[0].closed.done &&
				      conns[1].closed.done); i++) {
		CU_ASSERT(rope_uring_run(u, 0) >= 0);
		usleep(500);
	}
	for (int k = 0; k < 2; k++) {
		struct conn *c = &conns[k];

		CU_ASSERT(c->closed.done);
		CU_ASSERT_EQUAL(c->closed.result, 0);
		CU_ASSERT(c->x.ended);
		CU_ASSERT_EQUAL(c->x.end, -ECANCELED);
		rope_free(c->in);
		close(c->fd[1]);
	}
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	rope_uring_free(u);
	rope_free(out);
	free(data);
	close(ep);
	close(fd);
}

static void
test_features_all(void)
{
	workload(false, 0);
}

static void
test_features_no_coop_taskrun(void)
{
	t_ring_refuse_setup_flags(IORING_SETUP_COOP_TASKRUN);
	workload(false, 0);
	CU_ASSERT_EQUAL(t_ring_hits(), 1);
	t_ring_faults_off();
}

static void
test_features_no_sendmsg_zc(void)
{
	t_ring_probe_hides(IORING_OP_SENDMSG_ZC);
	workload(false, ROPE_URING_ZC);
	CU_ASSERT_EQUAL(t_ring_hits(), 1);
	t_ring_faults_off();
}

static void
test_features_no_buffer_rings(void)
{
	t_ring_fail_register(-EINVAL);
	workload(false, 0);
	CU_ASSERT_EQUAL(t_ring_hits(), 1);
	t_ring_faults_off();
}

static void
test_features_no_multishot_recv(void)
{
	static const struct t_ring_rule rule = {
		.opcode = T_RING_OP_RECV_MULTISHOT, .count = 1000,
		.res = -EINVAL,
	};

	/* 5.19: no multishot recv, and a single-shot recv with buffer
	 * select reads no more than the length it is given. */
	t_ring_faults(&rule, 1);
	t_ring_old_select_len();
	workload(false, 0);
	CU_ASSERT(t_ring_hits() >= 1);
	t_ring_faults_off();
}

static void
test_features_no_writev(void)
{
	t_ring_probe_hides(IORING_OP_WRITEV);
	workload(true, 0);
	t_ring_faults_off();
}

static void
test_features_no_ring(void)
{
	t_ring_fail_setup(-ENOSYS);
	workload(true, 0);
	t_ring_faults_off();
}

int
main(void)
{
	static const struct t_test tests[] = {
		{ "all", test_features_all },
		{ "no_buffer_rings", test_features_no_buffer_rings },
		{ "no_coop_taskrun", test_features_no_coop_taskrun },
		{ "no_multishot_recv", test_features_no_multishot_recv },
		{ "no_ring", test_features_no_ring },
		{ "no_sendmsg_zc", test_features_no_sendmsg_zc },
		{ "no_writev", test_features_no_writev },
	};
	struct rope_uring *probe;
	bool ring;

	/* Each case turns one feature off on a ring: it needs one. */
	if (rope_uring_new(&probe, 8) < 0)
		return T_EXIT_SETUP;
	ring = !rope_uring_is_fallback(probe);
	rope_uring_free(probe);
	if (!ring || !t_ring_can_inject()) {
		fprintf(stderr, "SKIP: no io_uring, or a kernel without "
				"IORING_NOP_INJECT_RESULT\n");
		return T_EXIT_SKIP;
	}
	alarm(240);
	return t_run("engine-features", tests, ARRAY_SIZE(tests));
}
