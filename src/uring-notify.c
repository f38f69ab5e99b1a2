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
#include <unistd.h>

#include "uring-priv.h"

int
rope__notify_init(struct rope_uring *u)
{
	int saved = errno;

	u->notify_fd = -1;
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
	close_keep_errno(u->wake_fd);
	rope__free(u->mirror, u->mirror_cap * sizeof(*u->mirror));
	u->notify_fd = u->wake_fd = -1;
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

void
rope__wake_reap(struct rope_uring *u, const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		u->wake_armed = false;
	if (cqe->res > 0)
		u->woken = true;
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
			u->notify_fd = -1;
			return ret;
		}
	}
	return fd;
}
