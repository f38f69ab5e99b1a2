/* SPDX-License-Identifier: MIT */
/*
 * Living in someone else's loop: rope_uring_fd() gives a descriptor that
 * an epoll or poll loop waits on, and rope_uring_wake() ends a
 * rope_uring_run() that waits, from any thread or a signal handler.
 *
 * On io_uring the notification fd is an eventfd registered with the ring:
 * the kernel signals it for every CQE. The wake-up is a second eventfd,
 * watched by a multishot poll in the ring, so that writing it posts a CQE
 * and ends a wait in io_uring_enter(). (One eventfd cannot do both: a CQE
 * would signal it, which would post a CQE, and so on.)
 *
 * In the fallback the notification fd is an epoll instance that mirrors,
 * after each run, the poll set the next run would wait on (the wake-up
 * eventfd included); the fallback's own polls include the wake-up too.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "uring-priv.h"

int
rope__notify_init(struct rope_uring *u)
{
	int saved = errno;

	u->notify_fd = -1;
	u->timer_fd = -1;
	u->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->wake_fd < 0) {
		int err = errno;

		errno = saved;
		return -err;
	}
	return 0;
}

static void
close_keep_errno(int fd)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
}

void
rope__notify_exit(struct rope_uring *u)
{
	close_keep_errno(u->notify_fd);
	close_keep_errno(u->timer_fd);
	close_keep_errno(u->wake_fd);
	rope__free(u->mirror, u->mirror_cap * sizeof(*u->mirror));
	u->notify_fd = u->wake_fd = u->timer_fd = -1;
}

ROPEIO_EXPORT int
rope_uring_wake(struct rope_uring *u)
{
	uint64_t one = 1;
	int saved = errno, ret = 0;

	if (!u)
		return -EINVAL;
	/* write(2) is async-signal-safe. EAGAIN means the counter is full:
	 * a wake-up is pending already. */
	if (write(u->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		ret = -errno;
	errno = saved;
	return ret;
}

/* Read an eventfd back to zero; true when it had been written. */
static bool
eventfd_clear(int fd)
{
	uint64_t v;
	int saved = errno;
	bool was = read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v);

	errno = saved;
	return was;
}

bool
rope__wake_taken(struct rope_uring *u)
{
	bool woken = u->woken;

	u->woken = false;
	return eventfd_clear(u->wake_fd) || woken;
}

void
rope__notify_clear(struct rope_uring *u)
{
	if (u->notify_fd >= 0 && !u->fallback)
		eventfd_clear(u->notify_fd);
	/* A timerfd reads as an eventfd does: 8 bytes, the expirations. */
	if (u->timer_fd >= 0)
		eventfd_clear(u->timer_fd);
}

void
rope__wake_arm(struct rope_uring *u)
{
	struct io_uring_sqe *sqe;

	if (u->wake_armed)
		return;
	/* A full SQ: the next round tries again. */
	sqe = rope__uring->get_sqe(&u->ring);
	if (!sqe)
		return;
	io_uring_prep_poll_multishot(sqe, u->wake_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)u | URING_TAG_WAKE);
	u->wake_armed = true;
}

/* The timeout request's user_data: tagged as the wake-up's, with the
 * address of the field it keeps instead of the engine's. */
static uint64_t
timer_tag(struct rope_uring *u)
{
	return (uint64_t)(uintptr_t)&u->timer_due_ms | URING_TAG_WAKE;
}

void
rope__wake_reap(struct rope_uring *u, const struct io_uring_cqe *cqe)
{
	if (io_uring_cqe_get_data64(cqe) == timer_tag(u)) {
		u->timer_due_ms = 0;  /* fired, or cancelled */
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE))
		u->wake_armed = false;
	if (cqe->res > 0)
		u->woken = true;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * A send deadline is no event of any descriptor: without a timer, an epoll
 * loop would never be told to make the run that ends the send with
 * -ETIMEDOUT. Deadlines are whole milliseconds rounded down, so the timer
 * is set a millisecond late rather than early.
 */
void
rope__deadline_arm(struct rope_uring *u)
{
	uint64_t due = rope__next_deadline_ms(u);
	int saved = errno;

	if (u->notify_fd < 0)
		return;
	if (due)
		due++;
	if (u->fallback) {
		struct itimerspec its = {
			.it_value = { .tv_sec = (time_t)(due / 1000),
				      .tv_nsec = (long)(due % 1000) * 1000000 },
		};

		/* 0 disarms it. */
		if (u->timer_fd >= 0)
			timerfd_settime(u->timer_fd, TFD_TIMER_ABSTIME, &its,
					NULL);
		errno = saved;
		return;
	}
	if (due && (!u->timer_due_ms || due < u->timer_due_ms)) {
		uint64_t now = now_ms(), wait = due > now ? due - now : 0;
		struct __kernel_timespec ts = {
			.tv_sec = (long long)(wait / 1000),
			.tv_nsec = (long long)(wait % 1000) * 1000000,
		};
		struct io_uring_sqe *sqe = rope__uring->get_sqe(&u->ring);

		/* A full SQ: the loop's own waits still end in time. */
		if (!sqe)
			return;
		io_uring_prep_timeout(sqe, &ts, 0, 0);
		io_uring_sqe_set_data64(sqe, timer_tag(u));
		/* The kernel reads @ts while the SQE is submitted. */
		if (rope__uring->submit(&u->ring, 0, NULL) >= 0)
			u->timer_due_ms = due;
		errno = saved;
	}
}

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
 * Fallback: make the epoll set hold exactly @ps's entries (one per fd,
 * their events merged), changing only what differs from the last time.
 * Closed descriptors left the set by themselves; errors for those are
 * ignored.
 */
int
rope__notify_mirror(struct rope_uring *u, const struct rope__pollset *ps)
{
	struct pollfd *now;
	unsigned n = 0, i = 0, j = 0;
	int saved = errno;

	if (u->notify_fd < 0 || !u->fallback)
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

/* Fallback: a timerfd for send deadlines, in the epoll set @ep for good
 * (the mirror leaves descriptors it did not add alone). */
static int
timer_add(struct rope_uring *u, int ep)
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

ROPEIO_EXPORT int
rope_uring_fd(struct rope_uring *u)
{
	int saved = errno, fd, ret = 0;

	if (!u)
		return -EINVAL;
	if (u->notify_fd >= 0)
		return u->notify_fd;
	if (u->fallback) {
		fd = epoll_create1(EPOLL_CLOEXEC);
		if (fd >= 0 && (ret = timer_add(u, fd)) < 0) {
			close(fd);
			fd = -1;
		}
	} else {
		fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (fd >= 0) {
			ret = io_uring_register_eventfd(&u->ring, fd);
			if (ret < 0) {
				close(fd);
				fd = -1;
			}
		}
	}
	if (fd < 0 && !ret)
		ret = -errno;
	errno = saved;
	if (fd < 0)
		return ret;
	u->notify_fd = fd;
	/* What the fallback waits on now: the next run's set. */
	if (u->fallback) {
		ret = rope__fallback_mirror(u);
		if (ret < 0) {
			close_keep_errno(fd);
			close_keep_errno(u->timer_fd);
			u->notify_fd = u->timer_fd = -1;
			return ret;
		}
	}
	return fd;
}
