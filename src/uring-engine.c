/* SPDX-License-Identifier: MIT */
/*
 * The engine: a ring ropeio owns, driving jobs (uring-job.c) for its
 * callers, or plain syscalls (fdio.c) where io_uring cannot be used.
 *
 * Requests wait in one list, in the order they were queued. A request
 * starts when the ring has room and, for a socket, when no earlier request
 * to the same fd is unfinished: two sends in flight on one TCP socket can
 * interleave their bytes. Finished requests move to a second list, and
 * their callbacks run only after the whole batch of CQEs was consumed.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <liburing.h>

#include "rope-priv.h"
#include "uring-priv.h"

/* Rounds in a row that may find the SQ full and empty before a run gives
 * up with -EAGAIN (only a refusing kernel, or a test, does that). */
#define STARVED_ROUNDS_MAX 64
/* Refused submissions rope_uring_free() retries, 1 ms apart, before it
 * ends what is left with -ECANCELED. */
#define FREE_RETRIES 100

/* Decide once, at creation, whether the ring can be used. */
static bool
ring_setup(struct rope_uring *u, unsigned entries)
{
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE };
	struct io_uring_probe *probe;
	const char *no = getenv("ROPEIO_NO_URING");
	bool ok;
	int ret;

	if (no && no[0] && strcmp(no, "0") != 0)
		return false;
	p.cq_entries = entries * 4;
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
	p.flags |= IORING_SETUP_COOP_TASKRUN;
	ret = rope__uring->queue_init_params(entries, &u->ring, &p);
	if (ret == -EINVAL) {
		p = (struct io_uring_params){ .flags = IORING_SETUP_CQSIZE,
					      .cq_entries = entries * 4 };
		ret = rope__uring->queue_init_params(entries, &u->ring, &p);
	}
	/* Any failure means no ring: -EPERM (seccomp, io_uring_disabled),
	 * -ENOSYS (no kernel support), -EOPNOTSUPP, -ENOMEM, -EINVAL... */
	if (ret < 0)
		return false;
	probe = rope__uring->get_probe_ring(&u->ring);
	ok = probe && io_uring_opcode_supported(probe, IORING_OP_WRITEV) &&
	     io_uring_opcode_supported(probe, IORING_OP_SENDMSG);
	u->zc_ok = probe &&
		   io_uring_opcode_supported(probe, IORING_OP_SENDMSG_ZC);
	if (probe)
		io_uring_free_probe(probe);
	if (!ok)
		io_uring_queue_exit(&u->ring);
	return ok;
}

ROPEIO_EXPORT int
rope_uring_new(struct rope_uring **out, unsigned entries)
{
	struct rope_uring *u;
	int ret;

	if (!out || !entries)
		return -EINVAL;
	u = rope__alloc(sizeof(*u));
	if (!u)
		return -ENOMEM;
	memset(u, 0, sizeof(*u));
	u->queue_tail = &u->queue;
	u->done_tail = &u->done;
	u->closers_due_tail = &u->closers_due;
	ret = rope__notify_init(u);
	if (ret < 0) {
		rope__free(u, sizeof(*u));
		return ret;
	}
	u->fallback = !ring_setup(u, entries);
	*out = u;
	return 0;
}

ROPEIO_EXPORT bool
rope_uring_is_fallback(const struct rope_uring *u)
{
	return !u || u->fallback;
}

ROPEIO_EXPORT unsigned
rope_uring_pending(const struct rope_uring *u)
{
	return u ? u->pending : 0;
}

/* As rope_mem_stats(): from 0.1's size up, the fields the struct has. */
int
rope__uring_get_stats(const struct rope_uring *u, struct rope_uring_stats *out,
		      size_t size)
{
	if (!u || !out || size < ROPE_URING_STATS_SIZE_0_1)
		return -EINVAL;
	memcpy(out, &u->stats, MIN(size, sizeof(u->stats)));
	return 0;
}

/*
 * A socket or a pipe has no offsets: io_uring's WRITEV writes to it anyway
 * and pwritev(2) refuses, so both modes refuse it when it is queued. A
 * descriptor fstat() cannot see fails in the callback, in both modes.
 */
static bool
seekable(int fd)
{
	struct stat st;
	int saved = errno;
	bool no = fstat(fd, &st) == 0 &&
		  (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode));

	errno = saved;
	return !no;
}

static int
request_queue(struct rope_uring *u, int fd, struct rope_snap *s, size_t off,
      size_t len, int64_t file_off, unsigned flags, rope_uring_cb cb,
      void *arg)
{
	struct request *q;
	int ret;

	if (!u)
		return -EINVAL;
	ret = rope__uring_check(s, off, &len, fd, file_off, flags);
	if (ret < 0)
		return ret;
	if (file_off >= 0 && !seekable(fd))
		return -ESPIPE;
	q = rope__alloc(sizeof(*q));
	if (!q)
		return -ENOMEM;
	*q = (struct request){
		.snap = rope_snap_ref(s), .off = off, .len = len, .fd = fd,
		.file_off = file_off, .cb = cb, .arg = arg,
		.flags = u->zc_ok ? flags : 0,
	};
	*u->queue_tail = q;
	u->queue_tail = &q->next;
	u->pending++;
	u->changes++;
	return 0;
}

ROPEIO_EXPORT int
rope_uring_send(struct rope_uring *u, int fd, struct rope_snap *s,
		size_t off, size_t len, unsigned flags, rope_uring_cb cb,
		void *arg)
{
	return request_queue(u, fd, s, off, len, -1, flags, cb, arg);
}

ROPEIO_EXPORT int
rope_uring_pwrite(struct rope_uring *u, int fd, struct rope_snap *s,
		  size_t off, size_t len, int64_t file_off, rope_uring_cb cb,
		  void *arg)
{
	if (file_off < 0)
		return -EINVAL;
	return request_queue(u, fd, s, off, len, file_off, 0, cb, arg);
}

/* Move @q (at *@link in the queue) to the done list. */
void
rope__req_finish(struct rope_uring *u, struct request **link, struct request *q,
		 ssize_t res)
{
	*link = q->next;
	if (u->queue_tail == &q->next)
		u->queue_tail = link;
	q->next = NULL;
	q->result = res;
	*u->done_tail = q;
	u->done_tail = &q->next;
}

static void
req_free(struct request *q)
{
	rope_uring_job_free(q->job);
	rope_snap_unref(q->snap);
	rope__free(q, sizeof(*q));
}

/* Run the callbacks of finished requests; returns how many ran. */
static unsigned
req_callbacks(struct rope_uring *u)
{
	unsigned n = 0;

	while (u->done) {
		struct request *q = u->done;
		struct rope_uring_zc_stats zc;

		u->done = q->next;
		if (!u->done)
			u->done_tail = &u->done;
		u->pending--;
		u->stats.requests++;
		if (q->result < 0)
			u->stats.errors++;
		else
			u->stats.bytes += (uint64_t)q->result;
		if (q->job && rope_uring_job_zc_stats(q->job, &zc) == 0) {
			u->stats.zc.sends += zc.sends;
			u->stats.zc.notifs += zc.notifs;
			u->stats.zc.copied += zc.copied;
			u->stats.zc.zc_bytes += zc.zc_bytes;
			u->stats.zc.disabled |= zc.disabled;
		}
		if (q->cb)
			q->cb(q->arg, q->result);
		if (q->closer)
			rope__closer_one_done(u, q->closer);
		req_free(q);
		n++;
	}
	return n;
}

/* Every callback that is due, requests' then receives'. A callback may
 * have released a rope that refused received bytes: try those again. */
unsigned
rope__engine_callbacks(struct rope_uring *u)
{
	unsigned n = req_callbacks(u);

	n += rope__recv_callbacks(u);
	/* Last: a closer's callback comes after every other of its fd. */
	n += rope__closer_callbacks(u);
	if (n)
		rope__recv_plain_retry(u);
	return n;
}

/* ------------------------------------------------------------------------ */
/* The ring                                                                 */
/* ------------------------------------------------------------------------ */

/* Is an earlier request to the same socket still unfinished? */
bool
rope__req_socket_busy(const struct rope_uring *u, const struct request *q)
{
	for (const struct request *p = u->queue; p != q; p = p->next)
		if (p->fd == q->fd && p->file_off < 0)
			return true;
	return false;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool
rope__req_expired(const struct rope_uring *u, struct request *q)
{
	uint64_t now;

	if (!u->send_timeout_ms || q->file_off >= 0)
		return false;
	now = now_ms();
	if (!q->since_ms) {
		q->since_ms = now;  /* it starts now */
		return false;
	}
	return now - q->since_ms >= u->send_timeout_ms;
}

int
rope__timeout_tick(const struct rope_uring *u)
{
	if (!u->send_timeout_ms)
		return -1;
	for (const struct request *q = u->queue; q; q = q->next)
		if (q->file_off < 0)
			return (int)MIN(MAX(u->send_timeout_ms / 4, 1u), 250u);
	return -1;
}

uint64_t
rope__next_deadline_ms(const struct rope_uring *u)
{
	uint64_t first = 0;

	if (!u->send_timeout_ms)
		return 0;
	for (const struct request *q = u->queue; q; q = q->next)
		if (q->file_off < 0 && q->since_ms &&
		    (!first || q->since_ms < first))
			first = q->since_ms;
	return first ? first + u->send_timeout_ms : 0;
}

ROPEIO_EXPORT int
rope_uring_set_send_timeout(struct rope_uring *u, unsigned ms)
{
	if (!u)
		return -EINVAL;
	u->send_timeout_ms = ms;
	return 0;
}

/*
 * ring_prep_requests() and the fallback's pass ask of socket requests whether an
 * unfinished request on the same socket comes before them in the queue.
 * Walking the queue from its head for each (rope__req_socket_busy()) made
 * a pass quadratic: 7 % of a server's time at 500 connections. So a pass
 * marks each socket as it meets an unfinished request on it, in an array
 * indexed by descriptor, made large enough for every queued socket first.
 * Without memory for it, the pass walks, as before.
 */
bool
rope__req_marks_ready(struct rope_uring *u)
{
	size_t need = 0, n;
	uint8_t *m;

	for (const struct request *q = u->queue; q; q = q->next)
		if (q->file_off < 0 && (size_t)q->fd >= need)
			need = (size_t)q->fd + 1;
	if (need <= u->fd_marks_n)
		return true;
	n = MAX(need, 2 * u->fd_marks_n);
	m = rope__realloc(u->fd_marks, u->fd_marks_n, n);
	if (!m)
		return false;
	memset(m + u->fd_marks_n, 0, n - u->fd_marks_n);
	u->fd_marks = m;
	u->fd_marks_n = n;
	return true;
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

		if (!q->job) {
			if (q->file_off < 0 &&
			    (marks ? u->fd_marks[q->fd] :
			     rope__req_socket_busy(u, q))) {
				link = &q->next;
				continue;
			}
			ret = rope_uring_job_new(&q->job, q->snap, q->off,
						 q->len, q->fd, q->file_off,
						 q->flags);
		}
		if (ret == 0)
			ret = rope_uring_job_prep(q->job, &u->ring);
		if (ret < 0 && (!q->job || rope_uring_job_free(q->job) == 0)) {
			q->job = NULL;
			rope__req_finish(u, link, q, ret);
			continue;
		}
		if (q->job && rope_uring_job_done(q->job)) {
			rope__req_finish(u, link, q, rope_uring_job_result(q->job));
			continue;
		}
		if (!q->timed_out && rope__req_expired(u, q))
			q->timed_out = rope__uring_job_stop(q->job, &u->ring,
							    -ETIMEDOUT) == 0;
		if (rope_uring_job_inflight(q->job))
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
		ret = rope__uring->submit(&u->ring, wait ? 1 : 0,
					  wait && wait_ms >= 0 ? &ts : NULL);
	} while (ret == -EINTR);
	if (ret == -EBUSY || ret == -EAGAIN) {
		if (!io_uring_cq_ready(&u->ring) &&
		    io_uring_cq_has_overflow(&u->ring))
			io_uring_get_events(&u->ring);
		if (io_uring_cq_ready(&u->ring))
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

	io_uring_for_each_cqe(&u->ring, head, cqe) {
		uint64_t d = io_uring_cqe_get_data64(cqe);

		if ((d & URING_TAG_MASK) == URING_TAG_JOB)
			rope_uring_job_complete(rope_uring_cqe_job(cqe), cqe);
		else if ((d & URING_TAG_MASK) == URING_TAG_WAKE)
			rope__wake_reap(u, cqe);
		else
			rope__recv_reap(u, cqe);  /* ignores the rest */
		seen++;
	}
	io_uring_cq_advance(&u->ring, seen);
}

ROPEIO_EXPORT int
rope_uring_run(struct rope_uring *u, unsigned wait_nr)
{
	unsigned called = 0, dry = 0;
	bool woken = false;
	int ret = 0;

	if (!u)
		return -EINVAL;
	if (u->running)
		return -EBUSY;
	u->running = true;
	/* The caller may have released a rope that refused bytes. */
	rope__recv_plain_retry(u);
	if (u->fallback) {
		ret = rope__fallback_run(u, wait_nr, &called);
		u->running = false;
		return ret < 0 ? ret : (int)called;
	}
	rope__notify_clear(u);
	for (;;) {
		unsigned busy, starved = 0, progress, changes = u->changes;
		int polled, wait_ms;
		bool more, fresh;

		rope__wake_arm(u);
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
			if (io_uring_sq_ready(&u->ring))
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
		if (!io_uring_cq_ready(&u->ring) && !more && !polled && !fresh)
			break;
		ring_reap(u);
	}
	rope__deadline_arm(u);
	u->running = false;
	return ret < 0 ? ret : (int)called;
}

/* The ring is gone: end every request left with -ECANCELED. */
static void
cancel_all(struct rope_uring *u)
{
	while (u->queue) {
		struct request *q = u->queue;

		/* No CQE can come now: the job may be freed. */
		if (q->job)
			rope__uring_job_abandon(q->job);
		rope__req_finish(u, &u->queue, q, -ECANCELED);
		req_callbacks(u);  /* which may queue more: ended too */
	}
}

static bool
requests_left(const struct rope_uring *u)
{
	return u->queue || u->done;
}

static bool
anything_left(const struct rope_uring *u)
{
	return u->pending;
}

/* Run while @left(u), until nothing more can progress; a kernel that
 * refuses work for now gets a moment, FREE_RETRIES times. */
static void
run_out(struct rope_uring *u, bool (*left)(const struct rope_uring *u))
{
	unsigned refused = 0;

	while (left(u)) {
		int ret = rope_uring_run(u, 1);

		if (ret == 0)
			break;  /* nothing more can progress */
		if (ret > 0) {
			refused = 0;
			continue;
		}
		if (++refused > FREE_RETRIES)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 1000 * 1000 }, NULL);
	}
}

ROPEIO_EXPORT void
rope_uring_free(struct rope_uring *u)
{
	if (!u)
		return;
	/* Requests first, while the receives go on reading: the only reader
	 * of a send may be a receive of this engine. Then the receives. */
	run_out(u, requests_left);
	rope__recv_stop_all(u);
	run_out(u, anything_left);
	/* What still waits can never finish: a receive whose rope refuses
	 * its bytes (exported), or requests the kernel kept refusing. */
	rope__recv_abandon(u);
	if (!u->fallback) {
		rope__recv_exit(u);
		io_uring_queue_exit(&u->ring);
	}
	cancel_all(u);
	rope__closer_callbacks(u);
	rope__pollset_exit(&u->ps);
	rope__free(u->fd_marks, u->fd_marks_n);
	rope__notify_exit(u);
	rope__free(u, sizeof(*u));
}

/* Is anything of the kernel's still working on @fd: a request's SQE whose
 * result has not come, or the receive @rc's multishot? Zero-copy
 * notifications do not count: they come when the socket lets go of the
 * bytes. */
static bool
fd_in_kernel(const struct rope_uring *u, int fd, const struct receiver *rc)
{
	for (const struct request *q = u->queue; q; q = q->next)
		if (q->fd == fd && q->job && rope__uring_job_busy(q->job))
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
		if (q->fd != fd || !q->job || q->cancel_asked ||
		    !rope__uring_job_busy(q->job))
			continue;
		if (rope__uring_job_stop(q->job, &u->ring, -ECANCELED) == 0)
			q->cancel_asked = true;
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
	while (fd_in_kernel(u, fd, rc) || io_uring_sq_ready(&u->ring)) {
		ret = ring_submit(u, fd_in_kernel(u, fd, rc), -1);
		if (ret < 0)
			return ret;
		ring_reap(u);
	}
	return 0;
}

unsigned
rope__req_attach_closer(struct rope_uring *u, int fd, struct rope__closer *c)
{
	unsigned n = 0;

	for (struct request *q = u->queue; q; q = q->next)
		if (q->fd == fd && !q->closer) {
			q->closer = c;
			n++;
		}
	for (struct request *q = u->done; q; q = q->next)
		if (q->fd == fd && !q->closer) {
			q->closer = c;
			n++;
		}
	return n;
}

ROPEIO_EXPORT int
rope_uring_cancel(struct rope_uring *u, int fd)
{
	struct request **link, *q;
	struct receiver *rc;
	bool found;

	if (!u || fd < 0)
		return -EINVAL;
	rc = rope__recv_cancel_fd(u, fd);
	found = rc != NULL;
	u->changes++;
	for (link = &u->queue; (q = *link);) {
		if (q->fd != fd) {
			link = &q->next;
			continue;
		}
		found = true;
		if (!q->job) {
			/* Not started: nothing of it is in the kernel. */
			rope__req_finish(u, link, q, -ECANCELED);
			continue;
		}
		rope__uring_job_cancel(q->job);
		link = &q->next;
	}
	if (!found)
		return -ENOENT;
	return u->fallback ? 0 : cancel_in_kernel(u, fd, rc);
}
