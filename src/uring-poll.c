/* SPDX-License-Identifier: MIT */
/*
 * The poll backend, where io_uring cannot be used: plain syscalls in a
 * non-blocking readiness loop. Nothing in it may wait for one fd while
 * another could progress: a client that stops reading must not freeze the
 * others, and a connection that sends and receives at once must not wait
 * for itself. It calls down into the core (uring-core.c, uring-recv.c,
 * uring-readiness.c, uring-watch.c) only, and needs no liburing.
 *
 * Each round:
 *  1. every request that may start or go on does so without blocking:
 *     files are written whole (pwritev on a regular file does not wait for
 *     a peer), sockets get sendmsg(MSG_DONTWAIT) until the kernel's buffer
 *     is full; a socket request that got EAGAIN waits for EPOLLOUT in the
 *     watch set. File ranges go by copy_file_range(2) to files and by
 *     sendfile(2) to O_NONBLOCK sockets (fdio.c), so their pages stay in
 *     the kernel;
 *  2. the receivers marked ready are looked at: one read each for those
 *     the last wait found readable (uring-recv.c);
 *  3. one epoll_wait(2) on the watch set, which holds every socket a
 *     receive waits on and every one a send waits on, and changes only
 *     when one of those wishes does: a round costs what is ready. It
 *     blocks only when the caller wants callbacks and the round made no
 *     progress; what it found is read in the same round, and callbacks
 *     run after the batch.
 * A run ends when enough callbacks ran, when nothing is pending, or when
 * nothing can progress without the caller (every receiving rope refuses).
 * rope_uring_fd() is the watch set itself, with a timerfd for the next
 * send deadline in it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "uring-priv.h"

/* A file request, written whole: regular files do not wait for a peer. */
static ssize_t
file_write(const struct request *q)
{
	ssize_t w = rope_snap_pwrite(q->snap, q->off, q->len, q->fd,
				     q->file_off);

	if (w >= 0 && (size_t)w < q->len) {
		/* Short without an error: the file refuses more. */
		size_t done = (size_t)w;

		do {
			w = rope_snap_pwrite(q->snap, q->off + done,
					     q->len - done, q->fd,
					     q->file_off + (int64_t)done);
			if (w > 0)
				done += (size_t)w;
		} while (w > 0 && done < q->len);
		if (w < 0)
			return w;
		return done == q->len ? (ssize_t)done : -EIO;
	}
	return w;
}

/*
 * Send what the socket takes now. Returns true when the request is over
 * (*@res: the bytes sent, or the error), false when it waits for POLLOUT.
 */
static bool
socket_send(struct request *q, ssize_t *res)
{
	while (q->poll.done < q->len) {
		ssize_t w = rope__snap_send_nowait(q->snap, q->off + q->poll.done,
						   q->len - q->poll.done, q->fd);

		if (w == -EAGAIN) {
			q->poll.blocked = true;
			return false;
		}
		if (w <= 0) {
			*res = w < 0 ? w : -EIO;
			return true;
		}
		q->poll.done += (size_t)w;
	}
	*res = (ssize_t)q->poll.done;
	return true;
}

/* Step 1: start or continue every request that may go now. Returns how
 * many moved bytes or ended. */
static unsigned
requests_step(struct rope_uring *u)
{
	struct request **link = &u->queue, *q;
	unsigned progress = 0;
	bool marks = rope__req_marks_ready(u);

	rope__watch_out_begin(u);
	while ((q = *link)) {
		size_t before = q->poll.done;
		ssize_t res;
		int ret;

		if (q->file_off >= 0) {
			rope__req_finish(u, link, q, file_write(q));
			progress++;
			continue;
		}
		/* A socket request waits for those before it (marked as
		 * this pass met them, see rope__req_marks_ready()). */
		if (marks ? u->fd_marks[q->fd] : rope__req_socket_busy(u, q)) {
			link = &q->next;
			continue;
		}
		if (rope__req_expired(u, q)) {
			rope__req_finish(u, link, q, -ETIMEDOUT);
			progress++;
			continue;
		}
		if (q->poll.blocked && rope__watch_out_ready(u, q->fd))
			q->poll.blocked = false;
		if (!q->poll.blocked && socket_send(q, &res)) {
			rope__req_finish(u, link, q, res);
			progress++;
			continue;
		}
		progress += q->poll.done != before;
		/* It waits for room: in the watch set for EPOLLOUT. No room
		 * there, and it can never be waited for. */
		ret = rope__watch_out(u, q->fd);
		if (ret < 0) {
			rope__req_finish(u, link, q, ret);
			progress++;
			continue;
		}
		if (marks)
			u->fd_marks[q->fd] = 1;
		link = &q->next;
	}
	for (q = u->queue; marks && q; q = q->next)
		if (q->file_off < 0)
			u->fd_marks[q->fd] = 0;
	/* Those no send waits on any more leave the set. */
	rope__watch_out_end(u);
	return progress;
}

/* The timerfd fires at the next send deadline (whole milliseconds
 * rounded down: it is set a millisecond late rather than early); 0
 * disarms it. */
static void
poll_deadline_arm(struct rope_uring *u)
{
	uint64_t due = rope__next_deadline_ms(u);
	struct itimerspec its = { 0 };
	int saved = errno;

	if (u->timer_fd < 0)
		return;
	if (due) {
		due++;
		its.it_value.tv_sec = (time_t)(due / 1000);
		its.it_value.tv_nsec = (long)(due % 1000) * 1000000;
	}
	timerfd_settime(u->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
	errno = saved;
}

/*
 * Rounds of steps 1 to 3 until the caller's callbacks have run, nothing is
 * pending, nothing can move without the caller, or rope_uring_wake() was
 * called. The wake-up alone is never waited for.
 */
static int
poll_run(struct rope_uring *u, unsigned wait_nr, unsigned *called)
{
	bool block = false, woken = false;

	for (;;) {
		unsigned changes = u->changes, progress;
		struct rope__watch_seen seen;
		int ret;

		u->count.rounds++;
		progress = requests_step(u);
		progress += rope__recv_plain_visit(u);
		*called += rope__engine_callbacks(u);
		if (*called >= wait_nr || !u->pending || woken)
			block = false;
		/* A wait ends in time to look at the send timeouts. */
		ret = rope__watch_wait(u, block ? rope__timeout_tick(u) : 0,
				       &seen);
		if (ret < 0)
			return ret;
		if (seen.wake && rope__wake_taken(u))
			woken = true;
		if (seen.readers) {
			progress += rope__recv_plain_visit(u);
			*called += rope__engine_callbacks(u);
		}
		/*
		 * Work that needs no waiting goes on in this run, woken or
		 * not: a callback queued some, or the wait found sends
		 * writable. Left for the next run, an epoll loop on
		 * rope_uring_fd() might never be told to make that run.
		 */
		if (u->changes != changes || seen.writers)
			continue;
		if (*called >= wait_nr || !u->pending || woken ||
		    (!progress && !seen.readers && !u->watch.watching)) {
			/* Done: enough callbacks, or nothing moved and nothing
			 * can be waited for (every rope that receives refuses:
			 * the caller must act). But those callbacks may have
			 * changed what receivers want (a rope drained below
			 * its limit, an export released) with no call to say
			 * so: look at them once more, so that the watch set,
			 * which rope_uring_fd() is, waits for them. */
			if (!rope__recv_plain_visit(u))
				break;
			*called += rope__engine_callbacks(u);
			continue;
		}
		block = !progress && !seen.readers;
	}
	poll_deadline_arm(u);
	return 0;
}

static int
poll_readiness_fd(struct rope_uring *u)
{
	int saved = errno, fd, ret;

	ret = rope__watch_init(u);
	if (ret < 0)
		return ret;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		errno = saved;
		return ret;
	}
	ret = rope__watch_add_timer(u, fd);
	if (ret < 0) {
		rope__close_keep_errno(fd);
		return ret;
	}
	u->timer_fd = fd;
	poll_deadline_arm(u);
	/* The watch set holds what the next run waits on. */
	u->notify_fd = u->watch.fd;
	return u->notify_fd;
}

/* Always available: receives are plain reads. */
static int
poll_init(struct rope_uring *u, unsigned entries)
{
	(void)entries;
	u->recv_plain = true;
	/* The watch set now, so that a process short of descriptors finds
	 * out at once; failing that, when first needed. */
	(void)rope__watch_init(u);
	return 0;
}

/* The watch set, rope_uring_fd(), is the core's to close. */
static void
poll_exit(struct rope_uring *u)
{
	rope__close_keep_errno(u->timer_fd);
	u->notify_fd = u->timer_fd = -1;
}

static int
poll_recv_start(struct rope_uring *u)
{
	(void)u;
	return 0;
}

/* Nothing of the kernel's holds a descriptor between runs. */
static int
poll_cancel_fd(struct rope_uring *u, int fd, struct receiver *rc)
{
	(void)u;
	(void)fd;
	(void)rc;
	return 0;
}

/* Its requests never have a job. */
static void
poll_request_none(struct rope_uring *u, struct request *q)
{
	(void)u;
	(void)q;
}

const struct rope__backend rope__poll_backend = {
	.plain_syscalls = true,
	.init = poll_init,
	.exit = poll_exit,
	.run = poll_run,
	.recv_start = poll_recv_start,
	.cancel_fd = poll_cancel_fd,
	.readiness_fd = poll_readiness_fd,
	.request_cancel = poll_request_none,
	.request_end = poll_request_none,
};
