/* SPDX-License-Identifier: MIT */
/*
 * The engine's core, under both backends (uring-ring.c, uring-poll.c): the
 * request queue and its finishing, callbacks, the per-socket ordering
 * marks, send deadlines, the wake-up eventfd. Receivers' life cycle is in
 * uring-recv.c, closers in uring-close.c, beside it. Nothing here knows
 * which backend runs: the backends call down into it, and the front
 * (uring-engine.c) chooses the backend.
 *
 * Requests wait in one list, in the order they were queued. A request
 * starts when the backend has room and, for a socket, when no earlier
 * request to the same fd is unfinished: two sends in flight on one TCP
 * socket can interleave their bytes. Finished requests move to a second
 * list, and their callbacks run only after the backend's batch.
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rope-priv.h"
#include "uring-priv.h"

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
has_offsets(int fd)
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
	if (file_off >= 0 && !has_offsets(fd))
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
req_free(struct rope_uring *u, struct request *q)
{
	if (q->backend_holds)
		u->be->request_end(u, q);
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

		u->done = q->next;
		if (!u->done)
			u->done_tail = &u->done;
		u->pending--;
		u->stats.requests++;
		if (q->result < 0)
			u->stats.errors++;
		else
			u->stats.bytes += (uint64_t)q->result;
		if (q->cb)
			q->cb(q->arg, q->result);
		if (q->closer)
			rope__closer_one_done(u, q->closer);
		req_free(u, q);
		n++;
	}
	return n;
}

/* Every callback that is due, requests' then receives'. (A receiver whose
 * rope refused bytes is looked at every round: a callback that releases
 * the rope needs to tell nobody.) */
unsigned
rope__engine_callbacks(struct rope_uring *u)
{
	unsigned n = req_callbacks(u);

	n += rope__recv_callbacks(u);
	/* Last: a closer's callback comes after every other of its fd. */
	n += rope__closer_callbacks(u);
	return n;
}

/* Is an earlier request to the same socket still unfinished? */
bool
rope__req_socket_busy(const struct rope_uring *u, const struct request *q)
{
	for (const struct request *p = u->queue; p != q; p = p->next)
		if (p->fd == q->fd && p->file_off < 0)
			return true;
	return false;
}

uint64_t
rope__now_ms(void)
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
	now = rope__now_ms();
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
 * The backends' passes over the queue ask of socket requests whether an
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

/* The backend is gone (its exit let go of the kernel's part of every
 * request): end every request left with -ECANCELED. */
void
rope__requests_cancel_all(struct rope_uring *u)
{
	while (u->queue) {
		struct request *q = u->queue;

		rope__req_finish(u, &u->queue, q, -ECANCELED);
		req_callbacks(u);  /* which may queue more: ended too */
	}
}

bool
rope__requests_cancel(struct rope_uring *u, int fd)
{
	struct request **link, *q;
	bool found = false, started = false;

	for (link = &u->queue; (q = *link);) {
		if (q->fd != fd) {
			link = &q->next;
			continue;
		}
		found = true;
		if (q->backend_holds) {
			u->be->request_cancel(u, q);
			started = true;
		} else if (!started) {
			/* Not started: nothing of it is in the kernel. */
			rope__req_finish(u, link, q, -ECANCELED);
			continue;
		} else {
			/* Behind one the kernel still holds: it ends when
			 * that one has, so that callbacks come in the order
			 * the requests were queued, as in the poll backend. */
			q->cancelled = true;
		}
		link = &q->next;
	}
	return found;
}

/* ------------------------------------------------------------------------ */
/* The wake-up: rope_uring_wake() from any thread or a signal handler       */
/* ------------------------------------------------------------------------ */

int
rope__wake_init(struct rope_uring *u)
{
	int saved = errno;

	u->notify_fd = -1;
	u->timer_fd = -1;
	u->watch.fd = -1;
	u->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->wake_fd < 0) {
		int err = errno;

		errno = saved;
		return -err;
	}
	return 0;
}

void
rope__close_keep_errno(int fd)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
}

void
rope__wake_exit(struct rope_uring *u)
{
	rope__close_keep_errno(u->wake_fd);
	u->wake_fd = -1;
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
bool
rope__eventfd_clear(int fd)
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
	return rope__eventfd_clear(u->wake_fd) || woken;
}
