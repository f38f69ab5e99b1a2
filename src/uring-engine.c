/* SPDX-License-Identifier: MIT */
/*
 * The engine's front: the calls that choose a backend and hand work to it.
 * rope_uring_new() takes the first backend whose init succeeds, the ring
 * (uring-ring.c) then the poll loop (uring-poll.c), and no other code asks
 * which one it got: everything backend-specific goes through the table
 * (struct rope__backend). The front calls down into the backends and the
 * core; nothing calls up into it.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rope-priv.h"
#include "uring-priv.h"

/* Refused submissions rope_uring_free() retries, 1 ms apart, before it
 * ends what is left with -ECANCELED. */
#define FREE_RETRIES 100

/* In the order they are tried; the last one always works. The ring is
 * built where liburing was found. */
static const struct rope__backend *const backends[] = {
#ifdef ROPEIO_RING_BACKEND
	&rope__ring_backend,
#endif
	&rope__poll_backend,
};

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
	ret = rope__wake_init(u);
	if (ret < 0) {
		rope__free(u, sizeof(*u));
		return ret;
	}
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (backends[i]->init(u, entries) == 0) {
			u->be = backends[i];
			break;
		}
	*out = u;
	return 0;
}

ROPEIO_EXPORT bool
rope_uring_is_fallback(const struct rope_uring *u)
{
	return !u || u->be->plain_syscalls;
}

ROPEIO_EXPORT int
rope_uring_run(struct rope_uring *u, unsigned wait_nr)
{
	unsigned called = 0;
	int ret;

	if (!u)
		return -EINVAL;
	if (u->running)
		return -EBUSY;
	u->running = true;
	ret = u->be->run(u, wait_nr, &called);
	u->running = false;
	return ret < 0 ? ret : (int)called;
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
	u->be->exit(u);
	rope__requests_cancel_all(u);
	rope__closer_callbacks(u);
	rope__recv_fd_table_exit(u);
	rope__watch_exit(u);
	rope__free(u->fd_marks, u->fd_marks_n);
	rope__wake_exit(u);
	rope__free(u, sizeof(*u));
}

ROPEIO_EXPORT int
rope_uring_cancel(struct rope_uring *u, int fd)
{
	struct receiver *rc;
	bool found;

	if (!u || fd < 0)
		return -EINVAL;
	rc = rope__recv_cancel_fd(u, fd);
	found = rc != NULL;
	u->changes++;
	found |= rope__requests_cancel(u, fd);
	/* The caller may close @fd now: out of the watch set first (a dup(2)
	 * of it would keep it there, closed, for good), even when nothing
	 * was left to cancel (a receive stopped, but not yet looked at). */
	rope__watch_forget(u, fd);
	if (!found)
		return -ENOENT;
	return u->be->cancel_fd(u, fd, rc);
}

ROPEIO_EXPORT int
rope_uring_close(struct rope_uring *u, int fd, unsigned flags,
		 rope_uring_cb cb, void *arg)
{
	struct rope__closer *c;
	int ret;

	if (!u || fd < 0 || (flags & ~(unsigned)ROPE_URING_CLOSE_FD))
		return -EINVAL;
	c = rope__alloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (struct rope__closer){ .fd = fd, .cb = cb, .arg = arg,
				    .left = 1 };
	/* Nothing of the kernel's may hold @fd when it is closed. */
	ret = rope_uring_cancel(u, fd);
	if (ret < 0 && ret != -ENOENT) {
		rope__free(c, sizeof(*c));
		return ret;
	}
	c->left += rope__req_attach_closer(u, fd, c);
	c->left += rope__recv_attach_closer(u, fd, c);
	if (flags & ROPE_URING_CLOSE_FD) {
		int saved = errno;

		/* Linux frees the number whatever close() says: it is
		 * never closed again, the error goes to the callback. */
		if (close(fd) < 0)
			c->result = -errno;
		errno = saved;
	}
	u->pending++;
	u->changes++;
	rope__closer_one_done(u, c);
	return 0;
}

ROPEIO_EXPORT int
rope_uring_fd(struct rope_uring *u)
{
	if (!u)
		return -EINVAL;
	if (u->notify_fd >= 0)
		return u->notify_fd;
	return u->be->readiness_fd(u);
}
