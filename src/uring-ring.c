/* SPDX-License-Identifier: MIT */
/*
 * The ring backend: an io_uring ropeio owns. Requests run as jobs
 * (uring-job.c) whose SQEs it submits and whose CQEs it reaps in batches;
 * receives are multishot recvs on the provided buffer ring that
 * uring-recv.c keeps. rope_uring_fd() is an eventfd registered with the
 * ring: the kernel signals it for every CQE. The wake-up eventfd is watched
 * by a multishot poll in the ring, so that rope_uring_wake() posts a CQE
 * and ends a wait in io_uring_enter() (one eventfd cannot do both: a CQE
 * would signal it, which would post a CQE, and so on).
 *
 * It calls down into the core (uring-core.c, uring-recv.c) only.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "rope-priv.h"
#include "uring-ring-priv.h"

/* Rounds in a row that may find the SQ full and empty before a run gives
 * up with -EAGAIN (only a refusing kernel, or a test, does that). */
#define STARVED_ROUNDS_MAX 64
/* The most SQEs one job's prep takes (its slots, uring-job.c). */
#define JOB_SQES_MAX 4

/*
 * Make room in the SQ for @need SQEs: when it has less, submit what it
 * holds now, without waiting. Work prepared late in a round must find an
 * SQE as surely as work prepared early, whatever the size the caller gave
 * the ring: with 2,000 connections on a 256-entry SQ, the sends of the
 * receivers first in line filled it every round, the run went on round
 * after round for their new requests, and the receivers further on were
 * not re-armed for seconds (a p99 of 1.2 to 2.4 s; 20 ms with a 2,048-entry
 * SQ). A submission that fails leaves the SQ full: its work counts as
 * starved, as before.
 */
void
rope__ring_room(struct rope_uring *u, unsigned need)
{
	struct io_uring *ring = &u->ring->ring;
	int ret;

	need = MIN(need, ring->sq.ring_entries);
	if (io_uring_sq_space_left(ring) >= need || !io_uring_sq_ready(ring))
		return;
	do {
		ret = rope__uring->submit(ring, 0, NULL);
	} while (ret == -EINTR);
	if (ret >= 0)
		u->count.early_submits++;
}

/*
 * The CQ's size: 4 per SQ entry (zero-copy notifications), and at least
 * CQ_MIN. Every receive is a multishot that may post a CQE in any round,
 * so a CQ smaller than the busy receivers overflows: the kernel keeps the
 * CQEs, but ends the multishots that overflowed, and each must be re-armed
 * (and its buffer refilled) a round later. With 2,000 connections on the
 * example's 1,024-entry CQ that churn cost a fifth of the throughput and
 * left a p99 of 0.1 to 2 s; with 8,192 entries, 21 ms, 20 % more requests
 * and 20 % less CPU per request. It costs the kernel 16 bytes an entry
 * (128 KiB). A kernel that refuses it (an old one counting ring memory
 * against RLIMIT_MEMLOCK) gets 4 per SQ entry, as before.
 */
#define CQ_MIN 8192u

static int
ring_init_params(struct rope_uring *u, unsigned entries, unsigned flags,
		 unsigned cq)
{
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE | flags,
				     .cq_entries = cq };

	return rope__uring->queue_init_params(entries, &u->ring->ring, &p);
}

/* Decide once, at creation, whether the ring can be used. */
static bool
ring_setup(struct rope_uring *u, unsigned entries)
{
	struct io_uring_probe *probe;
	const char *no = getenv("ROPEIO_NO_URING");
	unsigned cq = MAX(entries * 4, CQ_MIN), flags;
	bool ok;
	int ret;

	if (no && no[0] && strcmp(no, "0") != 0)
		return false;
	/*
	 * Cooperative task running: the kernel runs the ring's deferred work
	 * (a multishot receive's data, a send's completion) when this thread
	 * next enters it, instead of interrupting the thread for it. A thread
	 * asleep is still woken. Under a server's load the interruptions were
	 * a fifth of its time, most of it spinning on socket locks that the
	 * peer held. A kernel older than 5.19 refuses the flag (-EINVAL):
	 * then the ring is made without it. IORING_SETUP_TASKRUN_FLAG is
	 * left out: with it, a wait for a multishot receive's CQE sometimes
	 * never ended (example-recv-lines hung 3 times in 20).
	 */
	flags = IORING_SETUP_COOP_TASKRUN;
	ret = ring_init_params(u, entries, flags, cq);
	if (ret == -EINVAL) {
		flags = 0;
		ret = ring_init_params(u, entries, flags, cq);
	}
	if (ret == -ENOMEM && cq > entries * 4)
		ret = ring_init_params(u, entries, flags, entries * 4);
	/* Any failure means no ring: -EPERM (seccomp, io_uring_disabled),
	 * -ENOSYS (no kernel support), -EOPNOTSUPP, -ENOMEM, -EINVAL... */
	if (ret < 0)
		return false;
	probe = rope__uring->get_probe_ring(&u->ring->ring);
	ok = probe && io_uring_opcode_supported(probe, IORING_OP_WRITEV) &&
	     io_uring_opcode_supported(probe, IORING_OP_SENDMSG);
	u->zc_ok = probe &&
		   io_uring_opcode_supported(probe, IORING_OP_SENDMSG_ZC);
	if (probe)
		io_uring_free_probe(probe);
	if (!ok)
		io_uring_queue_exit(&u->ring->ring);
	return ok;
}

static int
ring_init(struct rope_uring *u, unsigned entries)
{
	u->ring = rope__alloc(sizeof(*u->ring));
	if (!u->ring)
		return -ENOMEM;
	memset(u->ring, 0, sizeof(*u->ring));
	if (!ring_setup(u, entries)) {
		rope__free(u->ring, sizeof(*u->ring));
		u->ring = NULL;
		return -ENOTSUP;
	}
	return 0;
}

static void
ring_wake_arm(struct rope_uring *u)
{
	struct io_uring_sqe *sqe;

	if (u->ring->wake_armed)
		return;
	/* A full SQ: the next round tries again. */
	sqe = rope__uring->get_sqe(&u->ring->ring);
	if (!sqe)
		return;
	io_uring_prep_poll_multishot(sqe, u->wake_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)u | URING_TAG_WAKE);
	u->ring->wake_armed = true;
}

/* The timeout request's user_data: tagged as the wake-up's, with the
 * address of the field it keeps instead of the engine's. */
static uint64_t
timer_tag(struct rope_uring *u)
{
	return (uint64_t)(uintptr_t)&u->ring->timer_due_ms | URING_TAG_WAKE;
}

static uint64_t
watch_tag(struct rope_uring *u)
{
	return (uint64_t)(uintptr_t)&u->ring->watch_armed | URING_TAG_WAKE;
}

/*
 * Receives by plain reads (a kernel without provided buffer rings) wait in
 * the watch set (uring-watch.c), not in the ring: a multishot poll of that
 * epoll instance makes its readiness a CQE, so that the eventfd
 * rope_uring_fd() is is signalled for a peer's bytes as for any
 * completion. Without it an epoll loop on rope_uring_fd() slept through
 * them. Bytes a run leaves behind: ring_watch_pending().
 */
static void
ring_watch_arm(struct rope_uring *u)
{
	struct io_uring_sqe *sqe;

	if (!u->recv_plain || u->watch.fd < 0 || u->ring->watch_armed)
		return;
	/* A full SQ: the next round tries again. */
	sqe = rope__uring->get_sqe(&u->ring->ring);
	if (!sqe)
		return;
	io_uring_prep_poll_multishot(sqe, u->watch.fd, POLLIN);
	io_uring_sqe_set_data64(sqe, watch_tag(u));
	u->ring->watch_armed = true;
}

static void
ring_wake_reap(struct rope_uring *u, const struct io_uring_cqe *cqe)
{
	if (io_uring_cqe_get_data64(cqe) == timer_tag(u)) {
		u->ring->timer_due_ms = 0;  /* fired, or cancelled */
		return;
	}
	if (io_uring_cqe_get_data64(cqe) == watch_tag(u)) {
		/* Its CQE has signalled the eventfd; the plain round reads. */
		if (!(cqe->flags & IORING_CQE_F_MORE))
			u->ring->watch_armed = false;
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE))
		u->ring->wake_armed = false;
	if (cqe->res > 0)
		u->woken = true;
}

/* Make rope_uring_fd() readable when the next send deadline falls: a
 * timeout request, whose CQE signals the eventfd. Deadlines are whole
 * milliseconds rounded down, so it is set a millisecond late rather than
 * early. A send deadline is no event of any descriptor: without it, an
 * epoll loop would never be told to make the run that ends the send. */
static void
ring_deadline_arm(struct rope_uring *u)
{
	uint64_t due = rope__next_deadline_ms(u);
	int saved = errno;

	if (u->notify_fd < 0 || !due)
		return;
	due++;
	if (!u->ring->timer_due_ms || due < u->ring->timer_due_ms) {
		uint64_t now = rope__now_ms(), wait = due > now ? due - now : 0;
		struct __kernel_timespec ts = {
			.tv_sec = (long long)(wait / 1000),
			.tv_nsec = (long long)(wait % 1000) * 1000000,
		};
		struct io_uring_sqe *sqe = rope__uring->get_sqe(&u->ring->ring);

		/* A full SQ: the loop's own waits still end in time. */
		if (!sqe)
			return;
		io_uring_prep_timeout(sqe, &ts, 0, 0);
		io_uring_sqe_set_data64(sqe, timer_tag(u));
		/* The kernel reads @ts while the SQE is submitted. */
		if (rope__uring->submit(&u->ring->ring, 0, NULL) >= 0)
			u->ring->timer_due_ms = due;
		errno = saved;
	}
}

/*
 * Start what may start and let every started job fill SQEs. A job that
 * cannot get memory for its request ends with -ENOMEM. Returns the number
 * of jobs with SQEs in flight; *@starved counts those left with nothing in
 * flight because no SQE was to be had, which must not be waited for.
 */
static unsigned
ring_prep_requests(struct rope_uring *u, unsigned *starved)
{
	struct request **link = &u->queue, *q;
	unsigned running = 0;
	bool marks = rope__req_marks_ready(u);

	while ((q = *link)) {
		int ret = 0;

		if (!q->ring.job) {
			if (q->file_off < 0 &&
			    (marks ? u->fd_marks[q->fd] :
			     rope__req_socket_busy(u, q))) {
				link = &q->next;
				continue;
			}
			if (q->cancelled) {
				rope__req_finish(u, link, q, -ECANCELED);
				continue;
			}
			ret = rope_uring_job_new(&q->ring.job, q->snap, q->off,
						 q->len, q->fd, q->file_off,
						 q->flags);
			q->backend_holds = ret == 0;
			if (ret == 0)
				rope__uring_job_engine(q->ring.job);
		}
		if (ret == 0) {
			rope__ring_room(u, JOB_SQES_MAX);
			ret = rope_uring_job_prep(q->ring.job, &u->ring->ring);
		}
		if (ret < 0 && (!q->ring.job ||
				rope_uring_job_free(q->ring.job) == 0)) {
			q->ring.job = NULL;
			q->backend_holds = false;
			rope__req_finish(u, link, q, ret);
			continue;
		}
		if (q->ring.job && rope_uring_job_done(q->ring.job)) {
			rope__req_finish(u, link, q, rope_uring_job_result(q->ring.job));
			continue;
		}
		if (!q->ring.timed_out && rope__req_expired(u, q))
			q->ring.timed_out = rope__uring_job_stop(q->ring.job, &u->ring->ring,
							    -ETIMEDOUT) == 0;
		if (rope_uring_job_inflight(q->ring.job))
			running++;
		else
			++*starved;
		if (marks && q->file_off < 0)
			u->fd_marks[q->fd] = 1;
		link = &q->next;
	}
	/* Every mark was set by a request still queued: clear them. */
	for (q = u->queue; marks && q; q = q->next)
		if (q->file_off < 0)
			u->fd_marks[q->fd] = 0;
	return running;
}

/*
 * Submit, and wait for a CQE when @wait, for at most @wait_ms when it is
 * not negative (plain receivers to poll as well, send timeouts to check).
 *
 * -EINTR is retried. -EBUSY and -EAGAIN may mean the kernel wants its
 * completions reaped first (a CQ that overflowed, on older kernels): with
 * CQEs to reap (overflowed ones are flushed into the CQ first) that is no
 * error, the loop reaps them and submits again. Otherwise the error goes to
 * the caller, with every request still queued or in flight for the next
 * rope_uring_run(): its SQEs stay in the SQ until a submission takes them.
 */
static int
ring_submit(struct rope_uring *u, bool wait, int wait_ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = wait_ms / 1000,
		.tv_nsec = (long long)(wait_ms % 1000) * 1000 * 1000,
	};
	int ret;

	do {
		ret = rope__uring->submit(&u->ring->ring, wait ? 1 : 0,
					  wait && wait_ms >= 0 ? &ts : NULL);
	} while (ret == -EINTR);
	if (ret == -EBUSY || ret == -EAGAIN) {
		if (!io_uring_cq_ready(&u->ring->ring) &&
		    io_uring_cq_has_overflow(&u->ring->ring))
			io_uring_get_events(&u->ring->ring);
		if (io_uring_cq_ready(&u->ring->ring))
			return 0;
	}
	return ret < 0 && ret != -ETIME ? ret : 0;
}

/* Hand every ready CQE to its job, as one batch. */
static void
ring_reap(struct rope_uring *u)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	io_uring_for_each_cqe(&u->ring->ring, head, cqe) {
		uint64_t d = io_uring_cqe_get_data64(cqe);

		if ((d & URING_TAG_MASK) == URING_TAG_JOB)
			rope_uring_job_complete(rope_uring_cqe_job(cqe), cqe);
		else if ((d & URING_TAG_MASK) == URING_TAG_WAKE)
			ring_wake_reap(u, cqe);
		else
			rope__recv_reap(u, cqe);  /* ignores the rest */
		seen++;
	}
	io_uring_cq_advance(&u->ring->ring, seen);
}

/*
 * A run's last callbacks may have let a receive go on with no engine call
 * to say so (an export of its rope released, its rope drained below its
 * limit): look at the receivers still marked once more, and submit what
 * that prepared (a multishot re-armed, the watch set's poll), so that the
 * kernel, and the eventfd rope_uring_fd() is, wait for them. True when no
 * bytes moved.
 */
static bool
ring_settle(struct rope_uring *u, unsigned *called)
{
	uint64_t before = u->stats.recv_bytes;
	unsigned starved = 0;

	ring_watch_arm(u);
	if (!u->ready_head) {
		if (io_uring_sq_ready(&u->ring->ring))
			ring_submit(u, false, -1);
		return true;
	}
	rope__recv_prep(u, &starved);
	rope__recv_plain_visit(u);  /* no buffer rings: plain reads */
	*called += rope__engine_callbacks(u);
	if (io_uring_sq_ready(&u->ring->ring) && ring_submit(u, false, -1) == 0)
		ring_reap(u);
	return u->stats.recv_bytes == before;
}

/*
 * A plain receive reads its socket once a round (at most RECV_PLAIN_MAX),
 * and bytes a run leaves there bring no new wake-up: the watch set's
 * multishot poll does not fire for them, and an epoll loop on
 * rope_uring_fd() slept with bytes to read (a TCP peer's last 120 KiB of
 * 1 MiB, for 5 s, in test-engine-features). The set is level-triggered:
 * when it still reports a reader at the end of a run, the eventfd says so
 * (the readers found are marked for the next run).
 */
static void
ring_watch_pending(struct rope_uring *u)
{
	struct rope__watch_seen seen;
	uint64_t one = 1;
	int saved = errno;

	if (!u->recv_plain || u->notify_fd < 0 || !u->watch.watching)
		return;
	if (rope__watch_wait(u, 0, &seen) > 0 && seen.readers &&
	    write(u->notify_fd, &one, sizeof(one)) < 0)
		errno = saved;  /* EAGAIN: it is readable already */
}

/* Rounds of prepare, callbacks, submit and reap, until @wait_nr callbacks
 * ran (counted in *@called_out), nothing can progress, or a wake-up. */
static int
ring_run(struct rope_uring *u, unsigned wait_nr, unsigned *called_out)
{
	unsigned called = 0, dry = 0;
	bool woken = false;
	int ret = 0;

	if (u->notify_fd >= 0)
		rope__eventfd_clear(u->notify_fd);
again:
	for (;;) {
		unsigned busy, starved = 0, progress, changes = u->changes;
		int polled, wait_ms;
		bool more, fresh;

		ring_wake_arm(u);
		ring_watch_arm(u);
		u->count.rounds++;
		busy = ring_prep_requests(u, &starved) + rope__recv_prep(u, &starved);
		called += rope__engine_callbacks(u);
		/* rope_uring_wake(): no more waiting in this run. */
		if (u->woken && rope__wake_taken(u))
			woken = true;
		more = called < wait_nr && !woken;
		/* Plain receivers (no provided buffer rings) may block in
		 * poll() only when nothing is in flight on the ring. */
		polled = rope__plain_recv_round(u, more && !busy && !starved,
						&progress);
		if (polled < 0) {
			ret = polled;
			break;
		}
		called += rope__engine_callbacks(u);
		if (u->woken && rope__wake_taken(u))
			woken = true;
		more = called < wait_nr && !woken;
		/* A callback queued work (or stopped some): take it up in
		 * this run, not at the next one nobody may make. */
		fresh = u->changes != changes;
		if (starved) {
			/*
			 * Work found the SQ full. Waiting now could wait for
			 * a CQE that only such work would bring (an idle
			 * receive holds the ring meanwhile), so submit what is
			 * there without waiting and prepare again. The SQ
			 * empties as it is submitted; rounds that found it
			 * full with nothing in it end the run with -EAGAIN.
			 */
			if (io_uring_sq_ready(&u->ring->ring))
				dry = 0;
			else if (++dry > STARVED_ROUNDS_MAX) {
				ret = -EAGAIN;
				break;
			}
			ret = ring_submit(u, false, -1);
			if (ret < 0)
				break;
			ring_reap(u);
			continue;
		}
		dry = 0;
		if (!busy) {
			/* A round without progress (a rope that stays
			 * exported) ends the run rather than spinning. */
			if (fresh || (polled && more && progress))
				continue;
			break;
		}
		wait_ms = rope__timeout_tick(u);
		if (polled > 0 && (wait_ms < 0 || wait_ms > 10))
			wait_ms = 10;
		ret = ring_submit(u, more, wait_ms);
		if (ret < 0)
			break;
		if (!io_uring_cq_ready(&u->ring->ring) && !more && !polled && !fresh)
			break;
		ring_reap(u);
	}
	if (ret >= 0 && !ring_settle(u, &called))
		goto again;
	ring_deadline_arm(u);
	if (ret >= 0)
		ring_watch_pending(u);
	*called_out = called;
	return ret;
}

/* Is anything of the kernel's still working on @fd: a request's SQE whose
 * result has not come, or the receive @rc's multishot? Zero-copy
 * notifications do not count: they come when the socket lets go of the
 * bytes. */
static bool
fd_in_kernel(const struct rope_uring *u, int fd, const struct receiver *rc)
{
	for (const struct request *q = u->queue; q; q = q->next)
		if (q->fd == fd && q->ring.job && rope__uring_job_busy(q->ring.job))
			return true;
	return rc && rope__recv_in_kernel(rc);
}

/* Ask the kernel to cancel what it holds of @fd's requests and of @rc;
 * false when the SQ had no room for every cancellation. */
static bool
cancel_ask(struct rope_uring *u, int fd, struct receiver *rc)
{
	bool all = true;

	for (struct request *q = u->queue; q; q = q->next) {
		if (q->fd != fd || !q->ring.job || q->ring.cancel_asked ||
		    !rope__uring_job_busy(q->ring.job))
			continue;
		if (rope__uring_job_stop(q->ring.job, &u->ring->ring, -ECANCELED) == 0)
			q->ring.cancel_asked = true;
		else
			all = false;
	}
	return (!rc || rope__recv_cancel_ask(u, rc)) && all;
}

/*
 * Ask the kernel to cancel every request on @fd, and reap until none is
 * left in its hands (their CQEs are accounted; callbacks wait for the next
 * run). A request the kernel cannot cancel (-EALREADY: it is running) is
 * waited for.
 *
 * Each SQE is cancelled by its user_data, not by descriptor: the caller
 * may have closed @fd already, or the number may name another file now,
 * and a cancellation by descriptor then finds nothing, so the wait for the
 * request would last until the old peer sent something.
 */
static int
cancel_in_kernel(struct rope_uring *u, int fd, struct receiver *rc)
{
	unsigned tries = 0;
	int ret;

	while (!cancel_ask(u, fd, rc)) {
		if (++tries > STARVED_ROUNDS_MAX)
			return -EAGAIN;
		ret = ring_submit(u, false, -1);
		if (ret < 0)
			return ret;
		ring_reap(u);
	}
	while (fd_in_kernel(u, fd, rc) || io_uring_sq_ready(&u->ring->ring)) {
		ret = ring_submit(u, fd_in_kernel(u, fd, rc), -1);
		if (ret < 0)
			return ret;
		ring_reap(u);
	}
	return 0;
}

static void
ring_exit(struct rope_uring *u)
{
	rope__recv_exit(u);
	io_uring_queue_exit(&u->ring->ring);
	/* No CQE can come now: every job may be freed. */
	for (struct request *q = u->queue; q; q = q->next)
		if (q->ring.job)
			rope__uring_job_abandon(q->ring.job);
	rope__close_keep_errno(u->notify_fd);
	u->notify_fd = -1;
	rope__free(u->ring, sizeof(*u->ring));
	u->ring = NULL;
}

static void
ring_request_cancel(struct rope_uring *u, struct request *q)
{
	(void)u;
	rope__uring_job_cancel(q->ring.job);
}

/* Add the job's zero-copy figures to the engine's, and free it. */
static void
ring_request_end(struct rope_uring *u, struct request *q)
{
	struct rope_uring_zc_stats zc;

	if (rope_uring_job_zc_stats(q->ring.job, &zc) == 0) {
		u->stats.zc.sends += zc.sends;
		u->stats.zc.notifs += zc.notifs;
		u->stats.zc.copied += zc.copied;
		u->stats.zc.zc_bytes += zc.zc_bytes;
		u->stats.zc.disabled |= zc.disabled;
	}
	rope_uring_job_free(q->ring.job);
	q->ring.job = NULL;
	q->backend_holds = false;
}

/* An eventfd the kernel signals for every CQE. */
static int
ring_readiness_fd(struct rope_uring *u)
{
	int saved = errno, fd, ret = 0;

	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		errno = saved;
		return ret;
	}
	ret = io_uring_register_eventfd(&u->ring->ring, fd);
	if (ret < 0) {
		rope__close_keep_errno(fd);
		return ret;
	}
	u->notify_fd = fd;
	return fd;
}

const struct rope__backend rope__ring_backend = {
	.plain_syscalls = false,
	.init = ring_init,
	.exit = ring_exit,
	.run = ring_run,
	.recv_start = rope__recv_pool_setup,
	.cancel_fd = cancel_in_kernel,
	.readiness_fd = ring_readiness_fd,
	.request_cancel = ring_request_cancel,
	.request_end = ring_request_end,
};
