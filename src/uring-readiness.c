/* SPDX-License-Identifier: MIT */
/*
 * Readiness under both backends: which receivers a round looks at, the
 * receivers by descriptor number and by open file, and the ring backend's
 * round of plain reads (where the kernel has no provided buffer rings).
 *
 * A round costs what is ready, not what exists. The ring backend's rounds
 * once walked every receiver three times (deliver, arm, callbacks) and
 * once more to clear plain reads' refusals: 11 % of a server's time at
 * 2,000 connections, most of them idle. Now a receiver is looked at when
 * it is marked ready: a CQE of its came, a call changed it (started,
 * stopped, paused, resumed, limited, cancelled), or it waits for
 * something only a round can retry (bytes its rope refused, an SQE or a
 * buffer it did not get, a limit its rope may fall below). Marks keep
 * their order, so a receiver left waiting (no buffer to arm with) is first
 * in the next round: the pool's buffers go to receivers in turn, not to
 * the same ones every round. A rope closed by rope_close() has no engine
 * call to mark it: the rounds compare a count of rope_close() calls on
 * ropes that were received into (rope__closes, rope.c) and walk every
 * receiver once when it moved.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "uring-priv.h"

void
rope__recv_mark(struct rope_uring *u, struct receiver *rc)
{
	if (rc->ready)
		return;
	rc->ready = true;
	rc->ready_next = NULL;
	if (u->ready_last)
		u->ready_last->ready_next = rc;
	else
		u->ready_head = rc;
	u->ready_last = rc;
}

void
rope__recv_mark_all(struct rope_uring *u)
{
	for (struct receiver *rc = u->recvs; rc; rc = rc->next)
		rope__recv_mark(u, rc);
}

struct receiver *
rope__recv_ready_take(struct rope_uring *u)
{
	struct receiver *head = u->ready_head;

	u->ready_head = u->ready_last = NULL;
	return head;
}

void
rope__recv_round_add(struct rope_uring *u, struct receiver *rc)
{
	if (rc->in_round)
		return;
	rc->in_round = true;
	rc->round_next = NULL;
	if (u->round_last)
		u->round_last->round_next = rc;
	else
		u->round_head = rc;
	u->round_last = rc;
}

struct receiver *
rope__recv_round_take(struct rope_uring *u)
{
	struct receiver *rc = u->round_head;

	if (!rc)
		return NULL;
	u->round_head = rc->round_next;
	if (!u->round_head)
		u->round_last = NULL;
	rc->in_round = false;
	rc->round_next = NULL;
	return rc;
}

void
rope__recv_check_closes(struct rope_uring *u)
{
	unsigned long closes = atomic_load_explicit(&rope__closes,
						    memory_order_acquire);

	if (closes == u->closes_seen)
		return;
	u->closes_seen = closes;
	for (struct receiver *rc = u->recvs; rc; rc = rc->next)
		if (rope_closed(rc->r))
			rope__recv_mark(u, rc);
}

/* The chain of open file (@dev, @ino) in u->by_file. */
static struct receiver **
file_slot(const struct rope_uring *u, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino ^ ((uint64_t)dev << 29)) *
		     0x9e3779b97f4a7c15ull;

	return &u->by_file[(h >> 32) & (u->by_file_n - 1)];
}

/* Room in the fd table for @fd, and in the file table for one more. */
static int
tables_reserve(struct rope_uring *u, size_t fd)
{
	if (fd >= u->by_fd_n) {
		size_t n = MAX(fd + 1, MAX(2 * u->by_fd_n, (size_t)64));
		struct receiver **t = rope__realloc(u->by_fd,
						    u->by_fd_n * sizeof(*t),
						    n * sizeof(*t));

		if (!t)
			return -ENOMEM;
		memset(t + u->by_fd_n, 0, (n - u->by_fd_n) * sizeof(*t));
		u->by_fd = t;
		u->by_fd_n = n;
	}
	if (u->recv_n + 1 > u->by_file_n) {
		/* At most one receiver per chain on average: rehash. */
		size_t n = MAX(2 * u->by_file_n, (size_t)64);
		struct receiver **t = rope__alloc(n * sizeof(*t));

		if (!t)
			return -ENOMEM;
		memset(t, 0, n * sizeof(*t));
		rope__free(u->by_file, u->by_file_n * sizeof(*t));
		u->by_file = t;
		u->by_file_n = n;
		for (struct receiver *rc = u->recvs; rc; rc = rc->next) {
			struct receiver **slot = file_slot(u, rc->dev, rc->ino);

			rc->file_next = *slot;
			*slot = rc;
		}
	}
	return 0;
}

int
rope__recv_link(struct rope_uring *u, struct receiver *rc)
{
	struct receiver **slot;

	if (tables_reserve(u, (size_t)rc->fd) < 0)
		return -ENOMEM;
	rc->fd_next = u->by_fd[rc->fd];
	u->by_fd[rc->fd] = rc;
	slot = file_slot(u, rc->dev, rc->ino);
	rc->file_next = *slot;
	*slot = rc;
	rc->next = u->recvs;
	rc->prev = NULL;
	if (rc->next)
		rc->next->prev = rc;
	u->recvs = rc;
	u->recv_n++;
	return 0;
}

struct receiver *
rope__recv_file_first(const struct rope_uring *u, dev_t dev, ino_t ino)
{
	return u->by_file_n ? *file_slot(u, dev, ino) : NULL;
}

struct receiver *
rope__recv_fd_first(const struct rope_uring *u, int fd)
{
	return fd >= 0 && (size_t)fd < u->by_fd_n ? u->by_fd[fd] : NULL;
}

/* Take @rc out of a singly linked list through the field at @off. */
static void
list_drop(struct receiver **head, struct receiver **last,
	  struct receiver *rc, size_t off)
{
	struct receiver *prev = NULL;

	for (struct receiver *p = *head; p;
	     prev = p, p = *(struct receiver **)((char *)p + off)) {
		struct receiver *next;

		if (p != rc)
			continue;
		next = *(struct receiver **)((char *)p + off);
		if (prev)
			*(struct receiver **)((char *)prev + off) = next;
		else
			*head = next;
		if (last && *last == rc)
			*last = prev;
		return;
	}
}

void
rope__recv_unlink(struct rope_uring *u, struct receiver *rc)
{
	/* Out of the watch set, if it is there for @rc... */
	rope__watch_reader(u, rc, false);
	/* ... off the receivers' list... */
	if (rc->prev)
		rc->prev->next = rc->next;
	else
		u->recvs = rc->next;
	if (rc->next)
		rc->next->prev = rc->prev;
	u->recv_n--;
	/* ... its fd's chain, and the round's lists (rarely on them: a
	 * receiver is freed by the callbacks pass, which took it off the
	 * round list, and it is seldom marked since). */
	list_drop(&u->by_fd[rc->fd], NULL, rc,
		  offsetof(struct receiver, fd_next));
	list_drop(file_slot(u, rc->dev, rc->ino), NULL, rc,
		  offsetof(struct receiver, file_next));
	if (rc->ready)
		list_drop(&u->ready_head, &u->ready_last, rc,
			  offsetof(struct receiver, ready_next));
	if (rc->in_round)
		list_drop(&u->round_head, &u->round_last, rc,
			  offsetof(struct receiver, round_next));
	rc->ready = rc->in_round = false;
}

void
rope__recv_fd_table_exit(struct rope_uring *u)
{
	rope__free(u->by_fd, u->by_fd_n * sizeof(*u->by_fd));
	rope__free(u->by_file, u->by_file_n * sizeof(*u->by_file));
	u->by_fd = u->by_file = NULL;
	u->by_fd_n = u->by_file_n = 0;
}

int
rope__plain_recv_round(struct rope_uring *u, bool wait, unsigned *progress)
{
	struct rope__watch_seen seen;
	int ret;

	*progress = 0;
	if (!u->recv_plain)
		return 0;
	*progress = rope__recv_plain_visit(u);
	if (!u->watch.watching)
		return 0;
	ret = rope__watch_wait(u, wait ? -1 : 0, &seen);
	if (ret < 0)
		return ret;
	if (seen.wake && rope__wake_taken(u))
		u->woken = true;
	if (seen.readers)
		*progress += rope__recv_plain_visit(u);
	return (int)u->watch.watching;
}
