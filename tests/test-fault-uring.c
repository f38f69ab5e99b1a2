/* SPDX-License-Identifier: MIT */
/*
 * The io_uring layer under injected faults (fault-ring.h, fault.h), on a
 * real ring, real files and real sockets: ring setup and buffer ring
 * registration failing, CQEs with -EIO, -ENOSPC, -EINTR, -EPIPE and short
 * counts made by the kernel itself, -ECANCELED in a linked chain, a full
 * SQ, interrupted and refused submission, receives that end early, the
 * fallback's syscalls failing, and an allocation failure at every point of
 * a send and a receive.
 *
 * After every fault: the request ends with the error or is retried to the
 * end, every byte that arrived is the snapshot's byte at that offset, the
 * rope is unchanged, and once the engine is freed nothing is left
 * allocated. Skips (exit 77) where no ring can be made or NOPs cannot
 * inject results (kernels before 6.10).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "fault-ring.h"
#include "uring-ring-priv.h"
#include "ropeio-uring.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

struct outcome {
	int calls;
	ssize_t result;
};

static void
record(void *arg, ssize_t result)
{
	struct outcome *o = arg;

	o->calls++;
	o->result = result;
}

/* A snapshot of @n chunks (3000 make three IOV_MAX windows), with its
 * bytes; the rope it came from stays alive in *@rp, to be compared. */
static struct rope_snap *
t_snap(size_t n, size_t maxlen, uint64_t seed, struct rope **rp,
       uint8_t **data, size_t *len)
{
	struct rope_snap *s = NULL;

	*rp = t_many_chunks(n, maxlen, seed, data, len);
	CU_ASSERT_EQUAL(rope_snapshot(*rp, &s), 0);
	return s;
}

/* The bytes of the first IOV_MAX chunks of t_many_chunks(n, 100, ...). */
static size_t
first_window(void)
{
	size_t n = 0;

	for (size_t i = 0; i < IOV_MAX; i++)
		n += 1 + (i * 7919) % 100;
	return n;
}

/* Run @u until @o has been called (or 1,000 rounds without it). */
static void
t_run_until(struct rope_uring *u, const int *calls, int want)
{
	for (int i = 0; i < 1000 && *calls < want; i++)
		if (rope_uring_run(u, (unsigned)(want - *calls)) < 0)
			continue;  /* an injected submit error: again */
}

/* A thread writing @len bytes to @fd, then closing it. */
struct source {
	int fd;
	const uint8_t *data;
	size_t len;
};

static void *
source_run(void *arg)
{
	struct source *src = arg;
	size_t done = 0;

	while (done < src->len) {
		ssize_t w = write(src->fd, src->data + done,
				  MIN(src->len - done, (size_t)7777));

		if (w <= 0)
			break;
		done += (size_t)w;
	}
	close(src->fd);
	return NULL;
}

/*
 * Drive one job on the test's own ring: rewrite the SQEs with the fault
 * plan, submit, and hand every CQE to the job, recording the results.
 * Returns false on a 5 s wait without a CQE.
 */
struct cqe_log {
	int res[256];
	int n;
};

static bool
t_drive_faulty(struct io_uring *ring, struct rope_uring_job *j,
	       struct cqe_log *log)
{
	for (int rounds = 0; rounds < 100000; rounds++) {
		struct __kernel_timespec ts = { .tv_sec = 5 };
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		if (rope_uring_job_prep(j, ring) < 0)
			return false;
		if (rope_uring_job_done(j))
			return true;
		t_ring_rewrite(ring);
		io_uring_submit(ring);
		if (io_uring_wait_cqe_timeout(ring, &cqe, &ts) < 0)
			return false;
		io_uring_for_each_cqe(ring, head, cqe) {
			if (!(cqe->flags & IORING_CQE_F_NOTIF) &&
			    log->n < (int)ARRAY_SIZE(log->res))
				log->res[log->n++] = cqe->res;
			rope_uring_job_complete(rope_uring_cqe_job(cqe), cqe);
			seen++;
		}
		io_uring_cq_advance(ring, seen);
	}
	return false;
}

static int
logged_n(const struct cqe_log *log, int res)
{
	int n = 0;

	for (int i = 0; i < log->n; i++)
		n += log->res[i] == res;
	return n;
}

static bool
logged(const struct cqe_log *log, int res)
{
	return logged_n(log, res) > 0;
}

/* ------------------------------------------------------------------------ */
/* Setup and registration                                                   */
/* ------------------------------------------------------------------------ */

/*
 * A small engine's CQ still holds thousands of receives' CQEs: one that
 * overflows ends multishots, whose re-arming cost a server at 2,000
 * connections a fifth of its throughput and a p99 of up to 2 s. A kernel
 * that refuses the large CQ (-ENOMEM) gets the small one.
 */
static void
test_fault_cq_holds_many_receives(void)
{
	struct rope_uring *u = NULL;

	CU_ASSERT_EQUAL_FATAL(rope_uring_new(&u, 8), 0);
	CU_ASSERT_FATAL(!rope_uring_is_fallback(u));
	CU_ASSERT(u->ring->ring.cq.ring_entries >= 8192);
	rope_uring_free(u);
	t_ring_refuse_cq_over(1024);
	CU_ASSERT_EQUAL_FATAL(rope_uring_new(&u, 8), 0);
	CU_ASSERT_EQUAL(t_ring_hits(), 1);
	t_ring_faults_off();
	CU_ASSERT_FATAL(!rope_uring_is_fallback(u));
	CU_ASSERT_EQUAL(u->ring->ring.cq.ring_entries, 32);
	rope_uring_free(u);
}

static void
test_fault_setup_fails_into_fallback(void)
{
	static const int errs[] = { -ENOMEM, -EPERM, -ENOSYS };

	for (size_t i = 0; i < ARRAY_SIZE(errs); i++) {
		uint8_t *data, got[65536];
		size_t len;
		struct rope *r;
		struct rope_snap *s = t_snap(300, 100, i, &r, &data, &len);
		struct rope_uring *u = NULL;
		struct outcome a = { 0 }, b = { 0 };
		int fd = t_tmpfile(), sv[2];

		CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		CU_ASSERT_FATAL(len < sizeof(got));
		t_ring_fail_setup(errs[i]);
		CU_ASSERT_EQUAL(rope_uring_new(&u, 8), 0);
		/* -ENOMEM is asked again with the small CQ (uring-ring.c). */
		CU_ASSERT_EQUAL(t_ring_hits(), errs[i] == -ENOMEM ? 2 : 1);
		t_ring_faults_off();
		CU_ASSERT_FATAL(u != NULL);
		CU_ASSERT(rope_uring_is_fallback(u));
		/* The same requests run on plain syscalls. */
		CU_ASSERT_EQUAL(rope_uring_pwrite(u, fd, s, 0, SIZE_MAX, 0,
						  record, &a), 0);
		CU_ASSERT_EQUAL(rope_uring_send(u, sv[0], s, 0, SIZE_MAX, 0,
						record, &b), 0);
		CU_ASSERT_EQUAL(rope_uring_run(u, 2), 2);
		CU_ASSERT_EQUAL(a.result, (ssize_t)len);
		CU_ASSERT_EQUAL(b.result, (ssize_t)len);
		CU_ASSERT(t_file_is(fd, 0, data, len));
		CU_ASSERT_EQUAL(read(sv[1], got, sizeof(got)), (ssize_t)len);
		CU_ASSERT(memcmp(got, data, len) == 0);
		rope_uring_free(u);
		rope_snap_unref(s);
		rope_free(r);
		free(data);
		close(fd);
		close(sv[0]);
		close(sv[1]);
	}
}

static void
test_fault_probe_decides(void)
{
	/* No probe, or no WRITEV: the fallback. No SENDMSG_ZC: the ring,
	 * with ROPE_URING_ZC ignored. */
	static const int hidden[] = { -1, IORING_OP_WRITEV, IORING_OP_SENDMSG,
				      IORING_OP_SENDMSG_ZC };

	for (size_t i = 0; i < ARRAY_SIZE(hidden); i++) {
		uint8_t got[64];
		struct rope *r = t_rope_from("probed bytes");
		struct rope_snap *s;
		struct rope_uring *u = NULL;
		struct rope_uring_stats st;
		struct outcome a = { 0 };
		int sv[2];

		CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		rope_snapshot(r, &s);
		t_ring_probe_hides(hidden[i]);
		CU_ASSERT_EQUAL(rope_uring_new(&u, 8), 0);
		CU_ASSERT_EQUAL(t_ring_hits(), 1);
		t_ring_faults_off();
		CU_ASSERT_EQUAL(rope_uring_is_fallback(u),
				hidden[i] != IORING_OP_SENDMSG_ZC);
		CU_ASSERT_EQUAL(rope_uring_send(u, sv[0], s, 0, SIZE_MAX,
						ROPE_URING_ZC, record, &a), 0);
		CU_ASSERT_EQUAL(rope_uring_run(u, 1), 1);
		CU_ASSERT_EQUAL(a.result, 12);
		CU_ASSERT_EQUAL(read(sv[1], got, sizeof(got)), 12);
		CU_ASSERT(memcmp(got, "probed bytes", 12) == 0);
		rope_uring_get_stats(u, &st, sizeof(st));
		CU_ASSERT_EQUAL(st.zc.sends, 0);
		rope_uring_free(u);
		rope_snap_unref(s);
		rope_free(r);
		close(sv[0]);
		close(sv[1]);
	}
}

static void
test_fault_register_fails(void)
{
	uint8_t data[5000];
	struct rope_uring *u = NULL;
	struct rope *r = rope_new();
	struct t_received x = { 0 };
	size_t before;
	int sv[2];

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	t_pattern(data, sizeof(data), 7);
	CU_ASSERT_EQUAL(rope_uring_new(&u, 8), 0);
	before = t_mem_now();
	/* No memory for the buffer ring: the receive is refused, cleanly. */
	t_ring_fail_register(-ENOMEM);
	CU_ASSERT_EQUAL(rope_uring_recv(u, sv[0], r, t_on_recv, &x), -ENOMEM);
	CU_ASSERT_EQUAL(t_ring_hits(), 1);
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	CU_ASSERT_EQUAL(t_mem_now(), before);
	/* No provided buffer rings in this kernel: plain reads. */
	t_ring_fail_register(-EINVAL);
	CU_ASSERT_EQUAL(rope_uring_recv(u, sv[0], r, t_on_recv, &x), 0);
	t_ring_faults_off();
	CU_ASSERT_EQUAL(write(sv[1], data, sizeof(data)),
			(ssize_t)sizeof(data));
	close(sv[1]);
	for (int i = 0; i < 1000 && !x.ended; i++)
		rope_uring_run(u, 1);
	CU_ASSERT(x.ended);
	CU_ASSERT_EQUAL(x.end, 0);
	CU_ASSERT(t_equals(r, data, sizeof(data)));
	T_CHECK(r);
	rope_uring_free(u);
	rope_free(r);
	close(sv[0]);
}

/* ------------------------------------------------------------------------ */
/* CQE faults on files                                                      */
/* ------------------------------------------------------------------------ */

static void
test_fault_file_errors_surface(void)
{
	static const int errs[] = { -EIO, -ENOSPC, -EFBIG, -ECANCELED };

	for (size_t i = 0; i < ARRAY_SIZE(errs); i++) {
		/* The second window and every one after it fail. */
		const struct t_ring_rule rule = {
			IORING_OP_WRITEV, .skip = 1, .count = T_FAULT_ALWAYS,
			.res = errs[i],
		};
		size_t before = t_mem_now(), len;
		uint8_t *data;
		struct rope *r;
		struct rope_snap *s = t_snap(3000, 100, i, &r, &data, &len);
		struct rope_uring *u = NULL;
		struct outcome a = { 0 };
		int fd = t_tmpfile();

		t_ring_faults(&rule, 1);
		CU_ASSERT_EQUAL(rope_uring_new(&u, 8), 0);
		CU_ASSERT(!rope_uring_is_fallback(u));
		CU_ASSERT_EQUAL(rope_uring_pwrite(u, fd, s, 0, SIZE_MAX, 0,
						  record, &a), 0);
		t_run_until(u, &a.calls, 1);
		CU_ASSERT_EQUAL(a.calls, 1);
		CU_ASSERT_EQUAL(a.result, errs[i]);
		CU_ASSERT(t_ring_hits() >= 1);
		rope_uring_free(u);
		t_ring_faults_off();
		/* The first window went, and only it; the rope is as it
		 * was. */
		CU_ASSERT(t_file_is(fd, 0, data, first_window()));
		CU_ASSERT_EQUAL(lseek(fd, 0, SEEK_END),
				(off_t)first_window());
		CU_ASSERT(t_equals(r, data, len));
		T_CHECK(r);
		rope_snap_unref(s);
		rope_free(r);
		CU_ASSERT_EQUAL(t_mem_now(), before);
		free(data);
		close(fd);
	}
}

static void
test_fault_file_eintr_and_short_retried(void)
{
	const struct t_ring_rule rules[] = {
		{ IORING_OP_WRITEV, .skip = 0, .count = 2, .res = -EINTR },
		{ IORING_OP_WRITEV, .skip = 2, .count = 4, .keep = 4097 },
		{ IORING_OP_WRITEV, .skip = 6, .count = 1, .res = -EAGAIN },
	};
	size_t len;
	uint8_t *data;
	struct rope *r;
	struct rope_snap *s = t_snap(3000, 100, 11, &r, &data, &len);
	struct rope_uring *u = NULL;
	struct outcome a = { 0 };
	int fd = t_tmpfile();

	t_ring_faults(rules, ARRAY_SIZE(rules));
	CU_ASSERT_EQUAL(rope_uring_new(&u, 8), 0);
	CU_ASSERT_EQUAL(rope_uring_pwrite(u, fd, s, 0, SIZE_MAX, 100, record,
					  &a), 0);
	t_run_until(u, &a.calls, 1);
	CU_ASSERT_EQUAL(a.result, (ssize_t)len);
	CU_ASSERT_EQUAL(t_ring_hits(), 7);
	rope_uring_free(u);
	t_ring_faults_off();
	CU_ASSERT(t_file_is(fd, 100, data, len));
	rope_snap_unref(s);
	rope_free(r);
	free(data);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* CQE faults on sockets: linked chains, on the caller's ring               */
/* ------------------------------------------------------------------------ */

/*
 * One job sending a 3-window snapshot (a chain of three linked SENDMSG)
 * over TCP to a reader thread, under @rule. Returns the job's result; the
 * log holds every CQE result, *@progress the job's progress.
 */
static ssize_t
chain_under(const struct t_ring_rule *rule, unsigned flags,
	    struct cqe_log *log, size_t *progress)
{
	size_t len;
	uint8_t *data;
	struct rope *r;
	struct rope_snap *s = t_snap(3000, 100, 21, &r, &data, &len);
	struct rope_uring_job *j = NULL;
	struct io_uring ring;
	struct t_sink k;
	pthread_t t;
	ssize_t res = -1;
	int fds[2];

	memset(log, 0, sizeof(*log));
	CU_ASSERT_FATAL(t_tcp_pair(fds) == 0);
	CU_ASSERT_FATAL(io_uring_queue_init(8, &ring, 0) == 0);
	k = (struct t_sink){ .fd = fds[1], .want = len, .step = 65536 };
	pthread_create(&t, NULL, t_sink_run, &k);
	t_ring_faults(rule, 1);
	CU_ASSERT_EQUAL(rope_uring_job_new(&j, s, 0, SIZE_MAX, fds[0], -1,
					   flags), 0);
	CU_ASSERT(t_drive_faulty(&ring, j, log));
	CU_ASSERT(t_ring_hits() >= 1);
	res = rope_uring_job_result(j);
	*progress = rope_uring_job_progress(j);
	/* The reader stops at the end of the stream. */
	shutdown(fds[0], SHUT_WR);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(k.got, *progress);
	CU_ASSERT(k.buf && memcmp(k.buf, data, k.got) == 0);
	CU_ASSERT_EQUAL(rope_uring_job_free(j), 0);
	io_uring_queue_exit(&ring);
	t_ring_faults_off();
	CU_ASSERT(t_equals(r, data, len));
	rope_snap_unref(s);
	rope_free(r);
	free(k.buf);
	free(data);
	close(fds[0]);
	close(fds[1]);
	return res >= 0 && (size_t)res != len ? -1 : res;
}

static void
test_fault_chain_head_interrupted_resumes(void)
{
	const struct t_ring_rule rule = {
		IORING_OP_SENDMSG, .count = 1, .res = -EINTR,
	};
	struct cqe_log log;
	size_t progress;

	CU_ASSERT(chain_under(&rule, 0, &log, &progress) > 0);
	/* The kernel cancelled the rest of the chain; the job resumed. */
	CU_ASSERT(logged(&log, -EINTR));
	CU_ASSERT(logged(&log, -ECANCELED));
}

static void
test_fault_chain_short_head_resumes(void)
{
	const struct t_ring_rule rule = {
		IORING_OP_SENDMSG, .count = 2, .keep = 1000,
	};
	struct cqe_log log;
	size_t progress;

	CU_ASSERT(chain_under(&rule, 0, &log, &progress) > 0);
	CU_ASSERT(logged(&log, 1000));
	/* The NOP after the cut one, and the link the kernel cancelled. */
	CU_ASSERT(logged_n(&log, -ECANCELED) >= 2);
}

static void
test_fault_chain_error_mid_chain(void)
{
	static const int errs[] = { -EPIPE, -ECONNRESET, -EIO };

	for (size_t i = 0; i < ARRAY_SIZE(errs); i++) {
		/* The second send of the chain fails, the third is cancelled:
		 * exactly the first window arrived. */
		const struct t_ring_rule rule = {
			IORING_OP_SENDMSG, .skip = 1, .count = T_FAULT_ALWAYS,
			.res = errs[i],
		};
		struct cqe_log log;
		size_t progress;

		CU_ASSERT_EQUAL(chain_under(&rule, 0, &log, &progress),
				errs[i]);
		CU_ASSERT(progress > 0);
		CU_ASSERT(logged(&log, -ECANCELED));
	}
}

static void
test_fault_zc_send_interrupted(void)
{
	/* Zero-copy sends go one at a time: each fault is retried alone. */
	const struct t_ring_rule rule = {
		IORING_OP_SENDMSG_ZC, .skip = 1, .count = 2, .res = -EINTR,
	};
	struct cqe_log log;
	size_t progress;

	CU_ASSERT(chain_under(&rule, ROPE_URING_ZC, &log, &progress) > 0);
	CU_ASSERT(logged(&log, -EINTR));
}

/* ------------------------------------------------------------------------ */
/* The engine: a full SQ, submission faults                                 */
/* ------------------------------------------------------------------------ */

/*
 * A file write and a TCP send of one 3-window snapshot through an engine
 * with whatever faults are installed; both must complete in full.
 */
static void
engine_both_complete(unsigned entries)
{
	size_t len;
	uint8_t *data;
	struct rope *r;
	struct rope_snap *s = t_snap(3000, 100, 31, &r, &data, &len);
	struct rope_uring *u = NULL;
	struct outcome a = { 0 }, b = { 0 };
	struct t_sink k;
	pthread_t t;
	int fd = t_tmpfile(), fds[2];

	CU_ASSERT_FATAL(t_tcp_pair(fds) == 0);
	k = (struct t_sink){ .fd = fds[1], .want = len, .step = 65536 };
	pthread_create(&t, NULL, t_sink_run, &k);
	CU_ASSERT_EQUAL(rope_uring_new(&u, entries), 0);
	CU_ASSERT(!rope_uring_is_fallback(u));
	CU_ASSERT_EQUAL(rope_uring_pwrite(u, fd, s, 0, SIZE_MAX, 0, record,
					  &a), 0);
	CU_ASSERT_EQUAL(rope_uring_send(u, fds[0], s, 0, SIZE_MAX, 0, record,
					&b), 0);
	/* One run: no fault may end it before both callbacks have run. */
	CU_ASSERT_EQUAL(rope_uring_run(u, 2), 2);
	CU_ASSERT_EQUAL(a.result, (ssize_t)len);
	CU_ASSERT_EQUAL(b.result, (ssize_t)len);
	rope_uring_free(u);
	pthread_join(t, NULL);
	CU_ASSERT(t_file_is(fd, 0, data, len));
	CU_ASSERT_EQUAL(k.got, len);
	CU_ASSERT(k.buf && memcmp(k.buf, data, len) == 0);
	rope_snap_unref(s);
	rope_free(r);
	free(k.buf);
	free(data);
	close(fd);
	close(fds[0]);
	close(fds[1]);
}

static void
test_fault_sq_full(void)
{
	/* NULL from get_sqe at the start (nothing in flight yet), in the
	 * middle of a chain, and for a long stretch. */
	static const unsigned windows[][2] = {
		{ 0, 3 }, { 1, 1 }, { 2, 4 }, { 0, 40 }, { 5, 2 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(windows); i++) {
		t_ring_sq_full(windows[i][0], windows[i][1], 0);
		engine_both_complete(8);
		CU_ASSERT_EQUAL(t_ring_hits(), windows[i][1]);
		t_ring_faults_off();
	}
}

static void
test_fault_submit_interrupted(void)
{
	t_ring_fail_submit(0, 5, -EINTR);
	engine_both_complete(8);
	CU_ASSERT_EQUAL(t_ring_hits(), 5);
	t_ring_faults_off();
}

static void
test_fault_submit_refused(void)
{
	static const int errs[] = { -EBUSY, -EAGAIN, -ENOMEM };

	for (size_t i = 0; i < ARRAY_SIZE(errs); i++) {
		struct rope *r = t_rope_from("0123456789");
		struct rope_snap *s;
		struct rope_uring *u = NULL;
		struct outcome a = { 0 };
		int fd = t_tmpfile();

		rope_snapshot(r, &s);
		CU_ASSERT_EQUAL(rope_uring_new(&u, 8), 0);
		CU_ASSERT_EQUAL(rope_uring_pwrite(u, fd, s, 0, SIZE_MAX, 0,
						  record, &a), 0);
		/* Refused with nothing to reap: the error comes back and the
		 * request stays pending; the next run completes it. */
		t_ring_fail_submit(0, 1, errs[i]);
		CU_ASSERT_EQUAL(rope_uring_run(u, 1), errs[i]);
		CU_ASSERT_EQUAL(t_ring_hits(), 1);
		CU_ASSERT_EQUAL(rope_uring_pending(u), 1);
		CU_ASSERT_EQUAL(a.calls, 0);
		CU_ASSERT_EQUAL(rope_uring_run(u, 1), 1);
		CU_ASSERT_EQUAL(a.result, 10);
		CU_ASSERT(t_file_is(fd, 0, "0123456789", 10));
		rope_uring_free(u);
		t_ring_faults_off();
		rope_snap_unref(s);
		rope_free(r);
		close(fd);
	}
}

static void
test_fault_submit_refused_until_reaped(void)
{
	/* A kernel whose CQ overflowed refuses submission until the CQEs
	 * are reaped: the engine must reap, not retry forever. */
	struct rope_uring *u = NULL;
	struct rope *r = rope_new();
	struct t_received x = { 0 };
	int sv[2];

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CU_ASSERT_EQUAL(rope_uring_new(&u, 8), 0);
	CU_ASSERT_EQUAL(rope_uring_recv(u, sv[0], r, t_on_recv, &x), 0);
	CU_ASSERT_EQUAL(rope_uring_run(u, 0), 0);   /* armed */
	CU_ASSERT_EQUAL(write(sv[1], "ping", 4), 4);
	usleep(20000);                              /* its CQE is posted */
	t_ring_refuse_while_cqes(T_FAULT_ALWAYS, -EBUSY);
	CU_ASSERT_EQUAL(rope_uring_run(u, 1), 1);
	CU_ASSERT(t_ring_hits() >= 1);
	CU_ASSERT_EQUAL(x.bytes, 4);
	T_EQUALS_STR(r, "ping");
	close(sv[1]);
	for (int i = 0; i < 100 && !x.ended; i++)
		rope_uring_run(u, 1);
	CU_ASSERT_EQUAL(x.end, 0);
	rope_uring_free(u);
	t_ring_faults_off();
	rope_free(r);
	close(sv[0]);
}

static void
test_fault_sq_full_beside_an_idle_receive(void)
{
	/* A receive that never gets data holds the ring; a write that
	 * found the SQ full must not wait for that receive's CQE. */
	struct rope_uring *u = NULL;
	struct rope *idle = rope_new(), *r = t_rope_from("written");
	struct rope_snap *s;
	struct t_received x = { 0 };
	struct outcome a = { 0 };
	int sv[2], fd = t_tmpfile();

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	rope_snapshot(r, &s);
	CU_ASSERT_EQUAL(rope_uring_new(&u, 8), 0);
	CU_ASSERT_EQUAL(rope_uring_recv(u, sv[0], idle, t_on_recv, &x), 0);
	CU_ASSERT_EQUAL(rope_uring_run(u, 0), 0);   /* armed */
	t_ring_sq_full(0, 1, 0);
	CU_ASSERT_EQUAL(rope_uring_pwrite(u, fd, s, 0, SIZE_MAX, 0, record,
					  &a), 0);
	CU_ASSERT_EQUAL(rope_uring_run(u, 1), 1);
	CU_ASSERT_EQUAL(t_ring_hits(), 1);
	CU_ASSERT_EQUAL(a.result, 7);
	CU_ASSERT(t_file_is(fd, 0, "written", 7));
	/* The same for the cancellation a stop sends. */
	t_ring_sq_full(0, 1, 0);
	CU_ASSERT_EQUAL(rope_uring_recv_stop(u, sv[0]), 0);
	CU_ASSERT_EQUAL(rope_uring_run(u, 1), 1);
	CU_ASSERT_EQUAL(x.end, -ECANCELED);
	rope_uring_free(u);
	t_ring_faults_off();
	rope_snap_unref(s);
	rope_free(r);
	rope_free(idle);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

static void
test_fault_sq_of_one_many_receivers(void)
{
	/* No injected fault: a 1-entry SQ and three receivers, data only
	 * for the one that gets the SQE last. */
	struct rope_uring *u = NULL;
	struct rope *r[3];
	struct t_received x[3] = { { 0 } };
	int sv[3][2];

	CU_ASSERT_EQUAL(rope_uring_new(&u, 1), 0);
	for (int i = 0; i < 3; i++) {
		r[i] = rope_new();
		CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]) ==
				0);
		CU_ASSERT_EQUAL(rope_uring_recv(u, sv[i][0], r[i], t_on_recv,
						&x[i]), 0);
	}
	/* Receivers are armed newest first: the oldest waits longest. */
	CU_ASSERT_EQUAL(write(sv[0][1], "late", 4), 4);
	CU_ASSERT_EQUAL(rope_uring_run(u, 1), 1);
	T_EQUALS_STR(r[0], "late");
	for (int i = 0; i < 3; i++) {
		close(sv[i][1]);
		while (!x[i].ended && rope_uring_run(u, 1) >= 0)
			;
		CU_ASSERT_EQUAL(x[i].end, 0);
	}
	rope_uring_free(u);
	for (int i = 0; i < 3; i++) {
		rope_free(r[i]);
		close(sv[i][0]);
	}
}

static void
test_fault_sq_full_forever(void)
{
	/* A SQ that never has room (only a test can make one): the run
	 * ends with -EAGAIN instead of spinning, and loses nothing. */
	struct rope *r = t_rope_from("patience");
	struct rope_snap *s;
	struct rope_uring *u = NULL;
	struct outcome a = { 0 };
	int fd = t_tmpfile();

	rope_snapshot(r, &s);
	CU_ASSERT_EQUAL(rope_uring_new(&u, 8), 0);
	CU_ASSERT_EQUAL(rope_uring_pwrite(u, fd, s, 0, SIZE_MAX, 0, record,
					  &a), 0);
	t_ring_sq_full(0, T_FAULT_ALWAYS, 0);
	CU_ASSERT_EQUAL(rope_uring_run(u, 0), -EAGAIN);
	CU_ASSERT_EQUAL(rope_uring_run(u, 1), -EAGAIN);
	CU_ASSERT_EQUAL(rope_uring_pending(u), 1);
	CU_ASSERT_EQUAL(a.calls, 0);
	t_ring_faults_off();
	CU_ASSERT_EQUAL(rope_uring_run(u, 1), 1);
	CU_ASSERT_EQUAL(a.result, 8);
	CU_ASSERT(t_file_is(fd, 0, "patience", 8));
	rope_uring_free(u);
	rope_snap_unref(s);
	rope_free(r);
	close(fd);
}

static void
test_fault_free_while_submission_refused(void)
{
	size_t before = t_mem_now();
	struct rope *r = t_rope_from("0123456789");
	struct rope_snap *s;
	struct outcome a = { 0 }, b = { 0 };
	int fd = t_tmpfile();

	rope_snapshot(r, &s);
	/* Refused a few times: free still runs the write to its end. */
	for (int persistent = 0; persistent < 2; persistent++) {
		struct rope_uring *u = NULL;
		struct outcome *o = persistent ? &b : &a;

		CU_ASSERT_EQUAL(rope_uring_new(&u, 8), 0);
		CU_ASSERT_EQUAL(rope_uring_pwrite(u, fd, s, 0, SIZE_MAX, 0,
						  record, o), 0);
		t_ring_fail_submit(0, persistent ? T_FAULT_ALWAYS : 3,
				   -EAGAIN);
		rope_uring_free(u);
		t_ring_faults_off();
		CU_ASSERT_EQUAL(o->calls, 1);
	}
	CU_ASSERT_EQUAL(a.result, 10);
	CU_ASSERT(t_file_is(fd, 0, "0123456789", 10));
	/* Refused for good: the request ends, cancelled, and nothing
	 * leaks. */
	CU_ASSERT_EQUAL(b.result, -ECANCELED);
	rope_snap_unref(s);
	rope_free(r);
	CU_ASSERT_EQUAL(t_mem_now(), before);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* Receives                                                                 */
/* ------------------------------------------------------------------------ */

static void
test_fault_recv_rearmed_after_transient_errors(void)
{
	const struct t_ring_rule rules[] = {
		{ IORING_OP_RECV, .skip = 0, .count = 1, .res = -ENOBUFS },
		{ IORING_OP_RECV, .skip = 1, .count = 1, .res = -EINTR },
		{ IORING_OP_RECV, .skip = 2, .count = 1, .res = -EAGAIN },
	};
	size_t len = 300000;
	uint8_t *data = malloc(len);
	struct rope_uring *u = NULL;
	struct rope *r = rope_new();
	struct t_received x = { 0 };
	struct source src;
	pthread_t t;
	int fds[2];

	CU_ASSERT_FATAL(t_tcp_pair(fds) == 0);
	t_pattern(data, len, 41);
	src = (struct source){ .fd = fds[1], .data = data, .len = len };
	t_ring_faults(rules, ARRAY_SIZE(rules));
	CU_ASSERT_EQUAL(rope_uring_new(&u, 8), 0);
	CU_ASSERT_EQUAL(rope_uring_recv(u, fds[0], r, t_on_recv, &x), 0);
	pthread_create(&t, NULL, source_run, &src);
	for (int i = 0; i < 100000 && !x.ended; i++)
		rope_uring_run(u, 1);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(t_ring_hits(), 3);
	CU_ASSERT(x.ended);
	CU_ASSERT_EQUAL(x.end, 0);
	CU_ASSERT_EQUAL(x.bytes, len);
	CU_ASSERT(t_equals(r, data, len));
	T_CHECK(r);
	rope_uring_free(u);
	t_ring_faults_off();
	rope_free(r);
	free(data);
	close(fds[0]);
}

static void
test_fault_recv_error_ends_it_losing_nothing(void)
{
	const struct t_ring_rule rule = {
		IORING_OP_RECV, .count = 1, .res = -ECONNRESET,
	};
	struct rope_uring *u = NULL;
	struct rope *r = t_rope_from("kept:");
	struct t_received x = { 0 };
	char got[16];
	int sv[2];

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CU_ASSERT_EQUAL(write(sv[1], "unread", 6), 6);
	t_ring_faults(&rule, 1);
	CU_ASSERT_EQUAL(rope_uring_new(&u, 8), 0);
	CU_ASSERT_EQUAL(rope_uring_recv(u, sv[0], r, t_on_recv, &x), 0);
	for (int i = 0; i < 1000 && !x.ended; i++)
		rope_uring_run(u, 1);
	CU_ASSERT(x.ended);
	CU_ASSERT_EQUAL(x.end, -ECONNRESET);
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	rope_uring_free(u);
	t_ring_faults_off();
	/* The rope is as it was; the bytes are still in the socket. */
	T_EQUALS_STR(r, "kept:");
	CU_ASSERT_EQUAL(read(sv[0], got, sizeof(got)), 6);
	CU_ASSERT(memcmp(got, "unread", 6) == 0);
	rope_free(r);
	close(sv[0]);
	close(sv[1]);
}

static void
test_fault_recv_stop_when_cancel_fails(void)
{
	/* The first cancellation fails as if the receive were running
	 * (-EALREADY): the stop must be sent again, and end. */
	const struct t_ring_rule rule = {
		IORING_OP_ASYNC_CANCEL, .count = 1, .res = -EALREADY,
	};
	struct rope_uring *u = NULL;
	struct rope *r = rope_new();
	struct t_received x = { 0 };
	int sv[2];

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	t_ring_faults(&rule, 1);
	CU_ASSERT_EQUAL(rope_uring_new(&u, 8), 0);
	CU_ASSERT_EQUAL(rope_uring_recv(u, sv[0], r, t_on_recv, &x), 0);
	CU_ASSERT_EQUAL(rope_uring_run(u, 0), 0);   /* armed */
	CU_ASSERT_EQUAL(rope_uring_recv_stop(u, sv[0]), 0);
	for (int i = 0; i < 1000 && !x.ended; i++)
		rope_uring_run(u, 1);
	CU_ASSERT_EQUAL(t_ring_hits(), 1);
	CU_ASSERT(x.ended);
	CU_ASSERT_EQUAL(x.end, -ECANCELED);
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	rope_uring_free(u);
	t_ring_faults_off();
	rope_free(r);
	close(sv[0]);
	close(sv[1]);
}

/* ------------------------------------------------------------------------ */
/* The fallback's syscalls                                                  */
/* ------------------------------------------------------------------------ */

static struct rope_uring *
t_fallback_engine(void)
{
	struct rope_uring *u = NULL;

	t_ring_fail_setup(-EPERM);
	CU_ASSERT_EQUAL(rope_uring_new(&u, 8), 0);
	t_ring_faults_off();
	CU_ASSERT(u && rope_uring_is_fallback(u));
	return u;
}

static void
test_fault_fallback_syscalls(void)
{
	const struct t_sys_rule file_rules[] = {
		{ T_SYS_PWRITEV, .skip = 0, .count = 2, .err = EINTR },
		{ T_SYS_PWRITEV, .skip = 2, .count = 3, .keep = 1000 },
	};
	const struct t_sys_rule sock_rules[] = {
		{ T_SYS_SENDMSG, .skip = 0, .count = 2, .err = EAGAIN },
		{ T_SYS_EPOLL_WAIT, .skip = 0, .count = 1, .err = EINTR },
		{ T_SYS_SENDMSG, .skip = 2, .count = 1, .keep = 10 },
	};
	const struct t_sys_rule full[] = {
		{ T_SYS_PWRITEV, .skip = 0, .count = 1, .keep = 1000 },
		{ T_SYS_PWRITEV, .skip = 1, .count = T_FAULT_ALWAYS,
		  .err = ENOSPC },
	};
	size_t len;
	uint8_t *data, got[65536];
	struct rope *r;
	struct rope_snap *s = t_snap(300, 100, 51, &r, &data, &len);
	struct rope_uring *u = t_fallback_engine();
	struct outcome a = { 0 }, b = { 0 }, c = { 0 };
	int fd = t_tmpfile(), sv[2];

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CU_ASSERT_FATAL(len < sizeof(got));
	t_sys_faults(file_rules, ARRAY_SIZE(file_rules));
	rope_uring_pwrite(u, fd, s, 0, SIZE_MAX, 0, record, &a);
	CU_ASSERT_EQUAL(rope_uring_run(u, 1), 1);
	CU_ASSERT_EQUAL(a.result, (ssize_t)len);
	CU_ASSERT_EQUAL(t_sys_hits(), 5);
	CU_ASSERT(t_file_is(fd, 0, data, len));

	t_sys_faults(sock_rules, ARRAY_SIZE(sock_rules));
	rope_uring_send(u, sv[0], s, 0, SIZE_MAX, 0, record, &b);
	CU_ASSERT_EQUAL(rope_uring_run(u, 1), 1);
	CU_ASSERT_EQUAL(b.result, (ssize_t)len);
	CU_ASSERT(t_sys_hits() >= 3);
	CU_ASSERT_EQUAL(read(sv[1], got, sizeof(got)), (ssize_t)len);
	CU_ASSERT(memcmp(got, data, len) == 0);

	/* A short write, then the disk is full: the request fails. */
	t_sys_faults(full, ARRAY_SIZE(full));
	rope_uring_pwrite(u, fd, s, 0, SIZE_MAX, (int64_t)len, record, &c);
	CU_ASSERT_EQUAL(rope_uring_run(u, 1), 1);
	CU_ASSERT_EQUAL(c.result, -ENOSPC);
	/* The short one, ENOSPC ending that call with its progress, and
	 * ENOSPC again for the rest. */
	CU_ASSERT_EQUAL(t_sys_hits(), 3);
	CU_ASSERT(t_file_is(fd, (int64_t)len, data, 1000));
	t_sys_faults_off();
	rope_uring_free(u);
	CU_ASSERT(t_equals(r, data, len));
	rope_snap_unref(s);
	rope_free(r);
	free(data);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

static void
test_fault_fallback_recv(void)
{
	const struct t_sys_rule rules[] = {
		{ T_SYS_READV, .skip = 0, .count = 1, .err = EINTR },
		{ T_SYS_READV, .skip = 1, .count = 3, .keep = 10 },
		{ T_SYS_EPOLL_WAIT, .skip = 0, .count = 1, .err = EINTR },
	};
	const struct t_sys_rule reset = {
		T_SYS_READV, .skip = 0, .count = 1, .err = ECONNRESET,
	};
	uint8_t data[3000];
	struct rope_uring *u = t_fallback_engine();
	struct rope *r = rope_new(), *r2 = t_rope_from("kept");
	struct t_received x = { 0 }, y = { 0 };
	int sv[2], sv2[2];

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2) == 0);
	t_pattern(data, sizeof(data), 61);
	CU_ASSERT_EQUAL(write(sv[1], data, sizeof(data)),
			(ssize_t)sizeof(data));
	close(sv[1]);
	t_sys_faults(rules, ARRAY_SIZE(rules));
	CU_ASSERT_EQUAL(rope_uring_recv(u, sv[0], r, t_on_recv, &x), 0);
	for (int i = 0; i < 1000 && !x.ended; i++)
		rope_uring_run(u, 1);
	CU_ASSERT_EQUAL(t_sys_hits(), 5);
	CU_ASSERT_EQUAL(x.end, 0);
	CU_ASSERT(t_equals(r, data, sizeof(data)));

	CU_ASSERT_EQUAL(write(sv2[1], "x", 1), 1);
	t_sys_faults(&reset, 1);
	CU_ASSERT_EQUAL(rope_uring_recv(u, sv2[0], r2, t_on_recv, &y), 0);
	for (int i = 0; i < 1000 && !y.ended; i++)
		rope_uring_run(u, 1);
	t_sys_faults_off();
	CU_ASSERT_EQUAL(y.end, -ECONNRESET);
	T_EQUALS_STR(r2, "kept");
	rope_uring_free(u);
	rope_free(r);
	rope_free(r2);
	close(sv[0]);
	close(sv2[0]);
	close(sv2[1]);
}

/* ------------------------------------------------------------------------ */
/* Out of memory at every allocation of a send, a write and a receive       */
/* ------------------------------------------------------------------------ */

/* One round of the sweep: returns true when the failure at @nth fired. */
static bool
oom_round(long nth, bool fallback, const uint8_t *data, size_t len,
	  struct rope_snap *s, unsigned *failed)
{
	size_t before = t_mem_now();
	uint8_t got[65536], in[5000];
	struct rope_uring *u = NULL;
	struct rope *rx = t_rope_from("rx:");
	struct outcome a = { 0 }, b = { 0 };
	struct t_received x = { 0 };
	int fd = t_tmpfile(), sv[2], sr[2], ret;
	bool fired, queued_a, queued_b, receiving;

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sr) == 0);
	t_pattern(in, sizeof(in), (uint64_t)nth);
	CU_ASSERT_EQUAL(write(sr[1], in, sizeof(in)), (ssize_t)sizeof(in));
	close(sr[1]);
	if (fallback)
		t_ring_fail_setup(-EPERM);
	rope__alloc_fail_at(nth);
	ret = rope_uring_new(&u, 8);
	t_ring_faults_off();
	if (ret < 0) {
		CU_ASSERT_EQUAL(ret, -ENOMEM);
		goto out;
	}
	ret = rope_uring_pwrite(u, fd, s, 0, SIZE_MAX, 0, record, &a);
	CU_ASSERT(ret == 0 || ret == -ENOMEM);
	queued_a = ret == 0;
	ret = rope_uring_send(u, sv[0], s, 0, SIZE_MAX, 0, record, &b);
	CU_ASSERT(ret == 0 || ret == -ENOMEM);
	queued_b = ret == 0;
	ret = rope_uring_recv(u, sr[0], rx, t_on_recv, &x);
	CU_ASSERT(ret == 0 || ret == -ENOMEM);
	receiving = ret == 0;
	for (int i = 0; i < 1000 && rope_uring_pending(u); i++)
		rope_uring_run(u, 1);
	CU_ASSERT_EQUAL(rope_uring_pending(u), 0);
	rope_uring_free(u);
	/* Each request either went whole or failed with -ENOMEM. */
	if (queued_a) {
		CU_ASSERT_EQUAL(a.calls, 1);
		CU_ASSERT(a.result == (ssize_t)len || a.result == -ENOMEM);
		if (a.result == (ssize_t)len)
			CU_ASSERT(t_file_is(fd, 0, data, len));
	}
	if (queued_b) {
		CU_ASSERT_EQUAL(b.calls, 1);
		CU_ASSERT(b.result == (ssize_t)len || b.result == -ENOMEM);
		if (b.result == (ssize_t)len) {
			CU_ASSERT_EQUAL(read(sv[1], got, sizeof(got)),
					(ssize_t)len);
			CU_ASSERT(memcmp(got, data, len) == 0);
		}
	}
	/* A receive that started takes every byte, retrying allocations. */
	if (receiving) {
		CU_ASSERT(x.ended);
		CU_ASSERT_EQUAL(x.end, 0);
		CU_ASSERT_EQUAL(x.bytes, sizeof(in));
		CU_ASSERT(rope_size(rx) == 3 + sizeof(in) &&
			  rope_pread(rx, got, sizeof(in), 3) ==
			  (ssize_t)sizeof(in) &&
			  memcmp(got, in, sizeof(in)) == 0);
	}
	*failed += (queued_a && a.result < 0) + (queued_b && b.result < 0) +
		   !queued_a + !queued_b + !receiving;
out:
	fired = rope__alloc_fail_at(-1) > nth;
	T_CHECK(rx);
	rope_free(rx);
	CU_ASSERT_EQUAL(t_mem_now(), before);
	close(fd);
	close(sv[0]);
	close(sv[1]);
	close(sr[0]);
	return fired;
}

static void
oom_sweep(bool fallback)
{
	size_t len;
	uint8_t *data;
	struct rope *r;
	struct rope_snap *s = t_snap(1500, 20, 71, &r, &data, &len);
	unsigned failed = 0;
	long nth;

	for (nth = 0; nth < 5000; nth++)
		if (!oom_round(nth, fallback, data, len, s, &failed))
			break;
	printf("  [%s: %ld allocation points, %u requests failed]\n",
	       fallback ? "fallback" : "ring", nth, failed);
	/* The fallback allocates little (the engine, the requests, one
	 * receive and its chunk); the ring far more. */
	CU_ASSERT(nth > (fallback ? 3 : 30) && nth < 5000);
	CU_ASSERT(failed > 0);
	CU_ASSERT(t_equals(r, data, len));
	rope_snap_unref(s);
	rope_free(r);
	free(data);
}

static void
test_fault_oom_sweep_ring(void)
{
	oom_sweep(false);
}

static void
test_fault_oom_sweep_fallback(void)
{
	oom_sweep(true);
}

/* Tests whose faults need no injected NOP results. */
static const struct t_test tests[] = {
	{ "cq_holds_many_receives", test_fault_cq_holds_many_receives },
	{ "fallback_recv", test_fault_fallback_recv },
	{ "fallback_syscalls", test_fault_fallback_syscalls },
	{ "free_while_submission_refused",
	  test_fault_free_while_submission_refused },
	{ "oom_sweep_fallback", test_fault_oom_sweep_fallback },
	{ "oom_sweep_ring", test_fault_oom_sweep_ring },
	{ "probe_decides", test_fault_probe_decides },
	{ "register_fails", test_fault_register_fails },
	{ "setup_fails_into_fallback", test_fault_setup_fails_into_fallback },
	{ "sq_full", test_fault_sq_full },
	{ "sq_full_beside_an_idle_receive",
	  test_fault_sq_full_beside_an_idle_receive },
	{ "sq_full_forever", test_fault_sq_full_forever },
	{ "sq_of_one_many_receivers", test_fault_sq_of_one_many_receivers },
	{ "submit_interrupted", test_fault_submit_interrupted },
	{ "submit_refused", test_fault_submit_refused },
	{ "submit_refused_until_reaped",
	  test_fault_submit_refused_until_reaped },
};

/* Tests whose faults are NOPs completing with an injected result. */
static const struct t_test inject_tests[] = {
	{ "chain_error_mid_chain", test_fault_chain_error_mid_chain },
	{ "chain_head_interrupted_resumes",
	  test_fault_chain_head_interrupted_resumes },
	{ "chain_short_head_resumes", test_fault_chain_short_head_resumes },
	{ "file_eintr_and_short_retried",
	  test_fault_file_eintr_and_short_retried },
	{ "file_errors_surface", test_fault_file_errors_surface },
	{ "recv_error_ends_it_losing_nothing",
	  test_fault_recv_error_ends_it_losing_nothing },
	{ "recv_rearmed_after_transient_errors",
	  test_fault_recv_rearmed_after_transient_errors },
	{ "recv_stop_when_cancel_fails",
	  test_fault_recv_stop_when_cancel_fails },
	{ "zc_send_interrupted", test_fault_zc_send_interrupted },
};

int
main(void)
{
	struct rope_uring *probe = NULL;
	bool inject;
	CU_pSuite suite;
	unsigned failed;

	if (t_loopback_down("fault-uring"))
		return T_EXIT_SKIP;
	unsetenv("ROPEIO_NO_URING");
	if (rope_uring_new(&probe, 8) < 0)
		return T_EXIT_SETUP;
	if (rope_uring_is_fallback(probe)) {
		rope_uring_free(probe);
		fprintf(stderr, "no io_uring here: skipped\n");
		return T_EXIT_SKIP;
	}
	rope_uring_free(probe);
	inject = t_ring_can_inject();
	if (!inject)
		fprintf(stderr, "NOPs cannot inject results (kernel < 6.10): "
				"%zu tests left out\n", ARRAY_SIZE(inject_tests));
	/* A fault that makes the engine wait forever fails here, fast. */
	alarm(240);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return T_EXIT_SETUP;
	suite = CU_add_suite("fault-uring", NULL, NULL);
	for (size_t i = 0; suite && i < ARRAY_SIZE(tests); i++)
		CU_add_test(suite, tests[i].name, tests[i].fn);
	for (size_t i = 0; suite && inject && i < ARRAY_SIZE(inject_tests); i++)
		CU_add_test(suite, inject_tests[i].name, inject_tests[i].fn);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
