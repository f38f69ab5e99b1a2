/* SPDX-License-Identifier: MIT */
/*
 * The engine without io_uring: plain syscalls in a non-blocking readiness
 * loop. Nothing in it may wait for one fd while another could progress: a
 * client that stops reading must not freeze the others, and a connection
 * that sends and receives at once must not wait for itself.
 *
 * Each round:
 *  1. every request that may start or go on does so without blocking:
 *     files are written whole (pwritev on a regular file does not wait for
 *     a peer), sockets get sendmsg(MSG_DONTWAIT) until the kernel's buffer
 *     is full; a socket request that got EAGAIN waits for POLLOUT;
 *  2. one poll(2) over every fd that waits: POLLOUT for those sends, POLLIN
 *     for every receive whose rope can take bytes. It blocks only when the
 *     caller wants callbacks and the round made no progress;
 *  3. receives read what poll found; callbacks run after the batch.
 * A run ends when enough callbacks ran, when nothing is pending, or when
 * nothing can progress without the caller (every receiving rope refuses).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "uring-priv.h"

int
rope__pollset_add(struct rope__pollset *ps, int fd, short events, void *who)
{
	if (ps->n == ps->cap) {
		/* One block: the pollfds, then the who pointers (a pollfd
		 * is 8 bytes, so they stay aligned). */
		unsigned cap = ps->cap ? 2 * ps->cap : 16;
		size_t one = sizeof(*ps->fds) + sizeof(*ps->who);
		struct pollfd *fds = rope__alloc(cap * one);

		if (!fds)
			return -ENOMEM;
		if (ps->n) {
			memcpy(fds, ps->fds, ps->n * sizeof(*fds));
			memcpy(fds + cap, ps->who, ps->n * sizeof(*ps->who));
		}
		rope__free(ps->fds, ps->cap * one);
		ps->fds = fds;
		ps->who = (void **)(fds + cap);
		ps->cap = cap;
	}
	ps->fds[ps->n] = (struct pollfd){ .fd = fd, .events = events };
	ps->who[ps->n++] = who;
	return 0;
}

void
rope__pollset_exit(struct rope__pollset *ps)
{
	rope__free(ps->fds, ps->cap * (sizeof(*ps->fds) + sizeof(*ps->who)));
	memset(ps, 0, sizeof(*ps));
}

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
	while (q->done < q->len) {
		ssize_t w = rope__snap_send_nowait(q->snap, q->off + q->done,
						   q->len - q->done, q->fd);

		if (w == -EAGAIN) {
			q->blocked = true;
			return false;
		}
		if (w <= 0) {
			*res = w < 0 ? w : -EIO;
			return true;
		}
		q->done += (size_t)w;
	}
	*res = (ssize_t)q->done;
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
		size_t before = q->done;
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
		if (q->blocked) {
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
		progress += q->done != before;
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
		if (q->blocked)
			ret = rope__pollset_add(ps, q->fd, POLLOUT, q);
	*recv_from = ps->n;
	if (ret == 0)
		ret = rope__recv_plain_add(u, ps);
	*wake_at = ps->n;
	if (ret == 0)
		ret = rope__pollset_add(ps, u->wake_fd, POLLIN, NULL);
	return ret;
}

/* poll(2), retried on EINTR; returns the ready count or -errno. */
static int
poll_set(struct rope__pollset *ps, int timeout)
{
	int saved = errno, n;

	do {
		n = rope__sys->poll(ps->fds, ps->n, timeout);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	errno = saved;
	return n;
}

int
rope__fallback_mirror(struct rope_uring *u)
{
	unsigned recv_from, wake_at;
	int ret;

	if (u->notify_fd < 0)
		return 0;
	rope__deadline_arm(u);
	ret = pollset_make(u, &recv_from, &wake_at);
	return ret < 0 ? ret : rope__notify_mirror(u, &u->ps);
}

/*
 * Rounds of steps 1 to 3 until the caller's callbacks have run, nothing is
 * pending, nothing can move without the caller, or rope_uring_wake() was
 * called. The wake-up alone is never waited for.
 */
int
rope__fallback_run(struct rope_uring *u, unsigned wait_nr, unsigned *called)
{
	bool block = false, woken = false;

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
		ret = poll_set(&u->ps, block ? rope__timeout_tick(u) : 0);
		if (ret < 0)
			return ret;
		if (ret > 0) {
			for (unsigned i = 0; i < recv_from; i++)
				if (u->ps.fds[i].revents) {
					((struct request *)u->ps.who[i])->blocked =
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
			return rope__fallback_mirror(u);
		/* Nothing moved and nothing can be waited for: every rope
		 * that receives refuses bytes. The caller must act. */
		if (!progress && !wake_at)
			return rope__fallback_mirror(u);
		block = !progress;
	}
}

int
rope__plain_recv_round(struct rope_uring *u, bool wait, unsigned *progress)
{
	unsigned n;
	int ready;

	*progress = 0;
	u->ps.n = 0;
	ready = rope__recv_plain_add(u, &u->ps);
	n = u->ps.n;
	if (ready < 0 || !n)
		return ready;
	/* A wait here must end on rope_uring_wake() too. */
	ready = rope__pollset_add(&u->ps, u->wake_fd, POLLIN, NULL);
	if (ready == 0)
		ready = poll_set(&u->ps, wait ? -1 : 0);
	if (ready > 0) {
		*progress = rope__recv_plain_ready(u, &u->ps, 0, n);
		if (u->ps.fds[n].revents && rope__wake_taken(u))
			u->woken = true;
	}
	return ready < 0 ? ready : (int)n;
}
