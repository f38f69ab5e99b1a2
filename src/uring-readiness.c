/* SPDX-License-Identifier: MIT */
/*
 * Readiness helpers under both backends: a growable poll(2) set, and one
 * round of plain reads for receivers that poll says are readable (the poll
 * backend's receives, and the ring backend's where the kernel has no
 * provided buffer rings).
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

/* poll(2), retried on EINTR; returns the ready count or -errno. */
int
rope__poll_set(struct rope__pollset *ps, int timeout)
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
		ready = rope__poll_set(&u->ps, wait ? -1 : 0);
	if (ready > 0) {
		*progress = rope__recv_plain_ready(u, &u->ps, 0, n);
		if (u->ps.fds[n].revents && rope__wake_taken(u))
			u->woken = true;
	}
	return ready < 0 ? ready : (int)n;
}
