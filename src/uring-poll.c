/* SPDX-License-Identifier: MIT */
/*
 * The poll backend, where io_uring cannot be used: plain syscalls in a
 * non-blocking readiness loop. Nothing in it may wait for one fd while
 * another could progress: a client that stops reading must not freeze the
 * others, and a connection that sends and receives at once must not wait
 * for itself. It calls down into the core (uring-core.c, uring-recv.c,
 * uring-readiness.c) only, and needs no liburing.
 *
 * Each round:
 *  1. every request that may start or go on does so without blocking:
 *     files are written whole (pwritev on a regular file does not wait for
 *     a peer), sockets get sendmsg(MSG_DONTWAIT) until the kernel's buffer
 *     is full; a socket request that got EAGAIN waits for POLLOUT. File
 *     ranges go by copy_file_range(2) to files and by sendfile(2) to
 *     O_NONBLOCK sockets (fdio.c), so their pages stay in the kernel;
 *  2. one poll(2) over every fd that waits: POLLOUT for those sends, POLLIN
 *     for every receive whose rope can take bytes. It blocks only when the
 *     caller wants callbacks and the round made no progress;
 *  3. receives read what poll found; callbacks run after the batch.
 * A run ends when enough callbacks ran, when nothing is pending, or when
 * nothing can progress without the caller (every receiving rope refuses).
 */
#include <errno.h>
#include <poll.h>
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

	while ((q = *link)) {
		size_t before = q->poll.done;
		ssize_t res;

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
		if (q->poll.blocked) {
			if (marks)
				u->fd_marks[q->fd] = 1;
			link = &q->next;
			continue;
		}
		if (socket_send(q, &res)) {
			rope__req_finish(u, link, q, res);
			progress++;
			continue;
		}
		progress += q->poll.done != before;
		if (marks)
			u->fd_marks[q->fd] = 1;
		link = &q->next;
	}
	for (q = u->queue; marks && q; q = q->next)
		if (q->file_off < 0)
			u->fd_marks[q->fd] = 0;
	return progress;
}

/*
 * Step 2's set: POLLOUT for blocked sends, then POLLIN for receives, then
 * the wake-up eventfd. Returns 0 with *@recv_from and *@wake_at telling
 * where the receives' entries and the wake-up's are, or -ENOMEM.
 */
static int
pollset_make(struct rope_uring *u, unsigned *recv_from, unsigned *wake_at)
{
	struct rope__pollset *ps = &u->ps;
	int ret = 0;

	ps->n = 0;
	for (struct request *q = u->queue; q && ret == 0; q = q->next)
		if (q->poll.blocked)
			ret = rope__pollset_add(ps, q->fd, POLLOUT, q);
	*recv_from = ps->n;
	if (ret == 0)
		ret = rope__recv_plain_add(u, ps);
	*wake_at = ps->n;
	if (ret == 0)
		ret = rope__pollset_add(ps, u->wake_fd, POLLIN, NULL);
	return ret;
}

/*
 * rope_uring_fd() here is an epoll instance that mirrors, after each run,
 * the poll set the next run would wait on (the wake-up eventfd included),
 * plus a timerfd for the next send deadline.
 */
static int
mirror_cmp(const void *a, const void *b)
{
	const struct pollfd *x = a, *y = b;

	return (x->fd > y->fd) - (x->fd < y->fd);
}

static int
epoll_set(int ep, int op, const struct pollfd *p)
{
	struct epoll_event ev = {
		.events = (p->events & POLLIN ? EPOLLIN : 0) |
			  (p->events & POLLOUT ? EPOLLOUT : 0),
		.data.fd = p->fd,
	};

	return epoll_ctl(ep, op, p->fd, &ev);
}

/*
 * Make the epoll set hold exactly @ps's entries (one per fd,
 * their events merged), changing only what differs from the last time.
 * Closed descriptors left the set by themselves; errors for those are
 * ignored.
 */
static int
epoll_mirror(struct rope_uring *u, const struct rope__pollset *ps)
{
	struct pollfd *now;
	unsigned n = 0, i = 0, j = 0;
	int saved = errno;

	if (u->notify_fd < 0)
		return 0;
	now = rope__alloc((ps->n ? ps->n : 1) * sizeof(*now));
	if (!now)
		return -ENOMEM;
	memcpy(now, ps->fds, ps->n * sizeof(*now));
	qsort(now, ps->n, sizeof(*now), mirror_cmp);
	for (unsigned k = 0; k < ps->n; k++) {
		if (n && now[n - 1].fd == now[k].fd)
			now[n - 1].events |= now[k].events;
		else
			now[n++] = now[k];
	}
	while (i < u->mirror_n || j < n) {
		struct pollfd *was = i < u->mirror_n ? &u->mirror[i] : NULL;
		struct pollfd *is = j < n ? &now[j] : NULL;

		if (is && (!was || is->fd < was->fd)) {
			if (epoll_set(u->notify_fd, EPOLL_CTL_ADD, is) < 0 &&
			    errno == EEXIST)
				epoll_set(u->notify_fd, EPOLL_CTL_MOD, is);
			j++;
		} else if (!is || was->fd < is->fd) {
			epoll_ctl(u->notify_fd, EPOLL_CTL_DEL, was->fd, NULL);
			i++;
		} else {
			if (was->events != is->events &&
			    epoll_set(u->notify_fd, EPOLL_CTL_MOD, is) < 0 &&
			    errno == ENOENT)
				epoll_set(u->notify_fd, EPOLL_CTL_ADD, is);
			i++;
			j++;
		}
	}
	errno = saved;
	rope__free(u->mirror, u->mirror_cap * sizeof(*u->mirror));
	u->mirror = now;
	u->mirror_n = n;
	u->mirror_cap = ps->n ? ps->n : 1;
	return 0;
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

/* Mirror the set the next run waits on. */
static int
poll_mirror_update(struct rope_uring *u)
{
	unsigned recv_from, wake_at;
	int ret;

	if (u->notify_fd < 0)
		return 0;
	poll_deadline_arm(u);
	ret = pollset_make(u, &recv_from, &wake_at);
	return ret < 0 ? ret : epoll_mirror(u, &u->ps);
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

	if (u->timer_fd >= 0)
		rope__eventfd_clear(u->timer_fd);  /* reads as an eventfd */

	for (;;) {
		unsigned changes = u->changes, writable = 0;
		unsigned progress = requests_step(u), recv_from, wake_at;
		int ret;

		/* Callbacks before the poll set is made: one may cancel a
		 * receive, which frees it, and the set points at receives. */
		*called += rope__engine_callbacks(u);
		ret = pollset_make(u, &recv_from, &wake_at);
		if (ret < 0)
			return ret;
		if (*called >= wait_nr || !u->pending || !wake_at || woken)
			block = false;
		/* A wait ends in time to look at the send timeouts. */
		ret = rope__poll_set(&u->ps, block ? rope__timeout_tick(u) : 0);
		if (ret < 0)
			return ret;
		if (ret > 0) {
			for (unsigned i = 0; i < recv_from; i++)
				if (u->ps.fds[i].revents) {
					((struct request *)u->ps.who[i])->poll.blocked =
						false;
					writable++;
				}
			progress += writable;
			progress += rope__recv_plain_ready(u, &u->ps, recv_from,
							   wake_at);
			if (u->ps.fds[wake_at].revents && rope__wake_taken(u))
				woken = true;
			*called += rope__engine_callbacks(u);
		}
		/*
		 * Work that needs no waiting goes on in this run, woken or
		 * not: a callback queued some, or poll found sends writable.
		 * Left for the next run, it would be in no set that
		 * rope_uring_fd() mirrors, and an epoll loop would never be
		 * told to make that run.
		 */
		if (u->changes != changes || writable)
			continue;
		if (*called >= wait_nr || !u->pending || woken)
			return poll_mirror_update(u);
		/* Nothing moved and nothing can be waited for: every rope
		 * that receives refuses bytes. The caller must act. */
		if (!progress && !wake_at)
			return poll_mirror_update(u);
		block = !progress;
	}
}

/* A timerfd for send deadlines, in the epoll set @ep for good
 * (the mirror leaves descriptors it did not add alone). */
static int
poll_timer_add(struct rope_uring *u, int ep)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	u->timer_fd = fd;
	return 0;
}

static int
poll_readiness_fd(struct rope_uring *u)
{
	int saved = errno, fd, ret;

	fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		errno = saved;
		return ret;
	}
	ret = poll_timer_add(u, fd);
	if (ret == 0) {
		u->notify_fd = fd;
		/* What it waits on now: the next run's set. */
		ret = poll_mirror_update(u);
	}
	if (ret < 0) {
		rope__close_keep_errno(fd);
		rope__close_keep_errno(u->timer_fd);
		u->notify_fd = u->timer_fd = -1;
		return ret;
	}
	return fd;
}

/* Always available: receives are plain reads. */
static int
poll_init(struct rope_uring *u, unsigned entries)
{
	(void)entries;
	u->recv_plain = true;
	return 0;
}

static void
poll_exit(struct rope_uring *u)
{
	rope__close_keep_errno(u->notify_fd);
	rope__close_keep_errno(u->timer_fd);
	rope__free(u->mirror, u->mirror_cap * sizeof(*u->mirror));
	u->mirror = NULL;
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
