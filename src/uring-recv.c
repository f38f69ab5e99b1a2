/* SPDX-License-Identifier: MIT */
/*
 * Receiving into ropes, the core part: receivers' life cycle, their
 * statistics, the shared buffer pool's bookkeeping, and plain reads. The
 * ring backend's part (the provided buffer ring, multishot recvs, their
 * CQEs) is in uring-ring-recv.c. With io_uring: a provided buffer ring and
 * one multishot recv per socket (single-shot recvs, one per arrival, on
 * AF_UNIX sockets and kernels without multishot recv). Every buffer is an
 * owned rope chunk.
 * When one comes back at least half full and the rope has no room for its
 * bytes, the chunk itself
 * is appended to the rope (no copy) and a fresh chunk takes its buffer id
 * in the ring; any other fill is copied into the rope's tail room and the
 * same buffer goes back at once, so small messages pin no buffer and a
 * chunk the rope adopts is always at least half full.
 *
 * The pool starts with RECV_NBUF_MIN buffers. Every multishot that finds
 * none (-ENOBUFS) ends, and is re-armed a round later: with hundreds of
 * busy sockets and a fixed pool, most receives did nothing but that, and
 * the sockets late in each round waited for many rounds (a keep-alive
 * server's p99 at 500 connections was 0.5 to 0.9 s). So a round that saw
 * -ENOBUFS doubles the pool, up to two buffers per receiver and at most
 * RECV_RING. When receivers leave and it is over four per receiver, it
 * goes back to two: the ids beyond are freed as the kernel hands them back
 * (uring-ring-recv.c, pool_refill()).
 *
 * Each buffer id is either in the ring, or holding received bytes that wait
 * in their socket's FIFO until the rope accepts them, or empty and due for
 * a refill. The kernel may never see one id twice, so nothing is added back
 * that is still out (the research for this project saw data overwritten
 * exactly that way).
 *
 * The buffers are shared by every receiving socket, so one rope that
 * refuses bytes (exported: -EBUSY; or out of memory) must not hold them: its
 * waiting buffers leave the ring for good (their chunks move to the
 * receiver's own held list, and fresh chunks take their ids), and once it
 * holds RECV_HOLD_MAX bytes its multishot recv is cancelled, so that only
 * that socket stops being read (back-pressure, not loss) until the rope has
 * taken everything.
 *
 * Plain reads (the poll backend, or a ring without buffer rings) read
 * into the rope's tail room and then into one chunk the engine keeps for
 * every receiver (RECV_PLAIN_CHUNK): what overflows the room is handed to
 * the rope as a ring buffer is (adopted when at least half full, else
 * copied into a tail chunk of at most RECV_BUFSZ). Reading into a fresh
 * chunk of the rope's own instead, as rope_read_fd() does, left a 64 KiB
 * chunk (its spare) in every idle connection's rope.
 *
 * The engine reads the caller's descriptor itself, with no dup of its
 * own: a dup cost a second descriptor per connection (at most about 9,990
 * connections under a limit of 20,000). So the rule is libuv's and
 * libevent's: rope_uring_cancel() or rope_uring_close() before close(2).
 * A descriptor closed without them ends its receive with -EBADF at the
 * next round (poll reports it invalid); one closed and reused for another
 * socket before that round cannot be told apart by the poll backend, and
 * the header says so. A new rope_uring_recv() on the reused number ends the
 * old receive first (the file differs).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "uring-priv.h"

/* ------------------------------------------------------------------------ */
/* Starting and stopping                                                    */
/* ------------------------------------------------------------------------ */

static void recv_free(struct receiver *rc);

/* The receive still reading from descriptor number @fd, if any. */
static struct receiver *
recv_find(struct rope_uring *u, int fd)
{
	for (struct receiver *rc = rope__recv_fd_first(u, fd); rc;
	     rc = rc->fd_next) {
		u->count.lookups++;
		if (!rc->stopping && !rc->ended)
			return rc;
	}
	return NULL;
}

/* The receive still reading the open file @st describes, if any. */
static struct receiver *
recv_find_file(struct rope_uring *u, const struct stat *st)
{
	for (struct receiver *rc = rope__recv_file_first(u, st->st_dev,
							st->st_ino);
	     rc; rc = rc->file_next) {
		u->count.lookups++;
		if (rc->dev == st->st_dev && rc->ino == st->st_ino &&
		    !rc->stopping && !rc->ended)
			return rc;
	}
	return NULL;
}

void
rope__receiver_end(struct receiver *rc, int res)
{
	if (!rc->ended) {
		rc->ended = true;
		rc->end_res = res;
	}
}

void
rope__receiver_stop(struct receiver *rc, int res)
{
	if (!rc->stopping) {
		rc->stopping = true;
		rc->stop_res = res;
	}
}

static bool
receiver_plain_reads(const struct rope_uring *u)
{
	return u->recv_plain;
}

ROPEIO_EXPORT int
rope_uring_recv(struct rope_uring *u, int fd, struct rope *r,
		rope_uring_cb cb, void *arg)
{
	struct receiver *rc, *old;
	struct stat st;
	int saved = errno;

	if (!u || !r || fd < 0)
		return -EINVAL;
	if (rope_closed(r))
		return -EBADF;
	if (fstat(fd, &st) < 0) {
		errno = saved;
		return -EBADF;
	}
	/* A receive needs a socket: a pipe would read on one mode and end
	 * with -ENOTSOCK on the other. */
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	/* One receive per socket, whatever descriptor names it: two would
	 * split one stream between two ropes. */
	if (recv_find_file(u, &st))
		return -EBUSY;
	old = recv_find(u, fd);
	if (!u->recv_plain && !u->nbuf) {
		int ret = u->be->recv_start(u);

		if (ret < 0)
			return ret;
	}
	rc = rope__alloc(sizeof(*rc));
	if (!rc)
		return -ENOMEM;
	memset(rc, 0, sizeof(*rc));
	rc->first = rc->last = NO_BUF;
	rc->fd = fd;
	rc->dev = st.st_dev;
	rc->ino = st.st_ino;
	if (rope__recv_link(u, rc) < 0) {
		recv_free(rc);
		return -ENOMEM;
	}
	/* The number was closed and now names another file: the receive
	 * that had it can never be reached by it again. */
	if (old) {
		rope__receiver_stop(old, -EBADF);
		rope__recv_mark(u, old);
	}
	rc->r = r;
	r->received = true;  /* its rope_close() is counted */
	rc->cb = cb;
	rc->arg = arg;
	rope__recv_mark(u, rc);
	u->pending++;
	u->changes++;
	return 0;
}

ROPEIO_EXPORT int
rope_uring_recv_stop(struct rope_uring *u, int fd)
{
	struct receiver *rc = u ? recv_find(u, fd) : NULL;

	if (!rc)
		return u ? -ENOENT : -EINVAL;
	rope__receiver_stop(rc, -ECANCELED);
	rope__recv_mark(u, rc);
	/* Plain reads: it will not read again, so it leaves the watch set
	 * now, before the caller may close the socket. */
	if (receiver_plain_reads(u))
		rope__watch_reader(u, rc, false);
	u->changes++;
	return 0;
}

struct receiver *
rope__recv_cancel_fd(struct rope_uring *u, int fd)
{
	struct receiver *rc = recv_find(u, fd);

	if (!rc)
		return NULL;
	rope__receiver_stop(rc, -ECANCELED);
	rope__recv_mark(u, rc);
	/* Plain reads: nothing reads it any more, so it has ended, and the
	 * caller may close the socket at once (it leaves the watch set
	 * first: closed, a dup(2) of it would keep it there). */
	if (receiver_plain_reads(u)) {
		rope__receiver_end(rc, -ECANCELED);
		rope__watch_reader(u, rc, false);
	}
	return rc;
}

static int
set_pause(struct rope_uring *u, int fd, bool pause)
{
	struct receiver *rc = u ? recv_find(u, fd) : NULL;

	if (!rc)
		return u ? -ENOENT : -EINVAL;
	rc->user_paused = pause;
	rope__recv_mark(u, rc);
	u->changes++;
	return 0;
}

ROPEIO_EXPORT int
rope_uring_recv_pause(struct rope_uring *u, int fd)
{
	return set_pause(u, fd, true);
}

ROPEIO_EXPORT int
rope_uring_recv_resume(struct rope_uring *u, int fd)
{
	return set_pause(u, fd, false);
}

ROPEIO_EXPORT int
rope_uring_recv_limit(struct rope_uring *u, int fd, size_t max)
{
	struct receiver *rc = u ? recv_find(u, fd) : NULL;

	if (!rc)
		return u ? -ENOENT : -EINVAL;
	rc->limit = max;
	rope__recv_mark(u, rc);
	u->changes++;
	return 0;
}

/* The receive on descriptor @fd: the one still reading it, else one that
 * is ending (its final callback has not run). */
static const struct receiver *
recv_lookup(const struct rope_uring *u, int fd)
{
	const struct receiver *ending = NULL;

	for (const struct receiver *rc = rope__recv_fd_first(u, fd); rc;
	     rc = rc->fd_next) {
		if (!rc->stopping && !rc->ended)
			return rc;
		ending = ending ? ending : rc;
	}
	return ending;
}

/* @rc's figures, as rope_uring_recv_stats() reports them. */
static void
recv_stats_fill(const struct rope_uring *u, const struct receiver *rc,
		struct rope_uring_recv_stats *st)
{
	*st = (struct rope_uring_recv_stats){ 0 };
	st->received = rc->received;
	st->adopted = rc->adopted;
	st->adopted_mem = rc->adopted_mem;
	st->copied = rc->copied;
	for (unsigned i = 0; i < rc->held_n; i++)
		st->waiting += rc->held[rc->held_head + i].len;
	for (unsigned bid = rc->first, i = 0; i < rc->n;
	     bid = u->bufs[bid].next, i++)
		st->waiting += u->bufs[bid].len;
	st->held = rc->held_bytes + (uint64_t)rc->n * RECV_BUFSZ;
	st->completions = rc->completions;
	st->nobufs = rc->nobufs;
	for (unsigned bid = 0; u->bufs && bid < u->nbuf_high; bid++)
		st->pool += u->bufs[bid].chunk ? RECV_BUFSZ : 0;
	st->flags = (rc->user_paused ? ROPE_URING_RECV_PAUSED : 0) |
		    (rc->limit && rope_size(rc->r) >= rc->limit ?
		     ROPE_URING_RECV_LIMITED : 0) |
		    (rc->held_full ? ROPE_URING_RECV_HOLDING : 0) |
		    (rc->stopping || rc->ended ? ROPE_URING_RECV_ENDING : 0);
}

ROPEIO_EXPORT int
rope_uring_recv_stats(const struct rope_uring *u, int fd,
		      struct rope_uring_recv_stats *out, size_t size)
{
	struct rope_uring_recv_stats st = { 0 };
	const struct receiver *rc;

	/* Every field is 8 bytes: a caller's struct from an older header
	 * gets the whole fields it has room for, and no byte past them. */
	_Static_assert(sizeof(st) % sizeof(uint64_t) == 0, "8-byte fields");
	if (!u || !out || fd < 0 || size < sizeof(uint64_t))
		return -EINVAL;
	/* Inside a rope_uring_close() callback: the receive it waited for
	 * is gone, its final figures stay. */
	if (u->closing && u->closing->fd == fd && u->closing->has_stats) {
		st = u->closing->stats;
	} else {
		rc = recv_lookup(u, fd);
		if (!rc)
			return -ENOENT;
		recv_stats_fill(u, rc, &st);
	}
	memcpy(out, &st, MIN(size, sizeof(st)) & ~(sizeof(uint64_t) - 1));
	return 0;
}

unsigned
rope__recv_attach_closer(struct rope_uring *u, int fd,
			 struct rope__closer *c)
{
	unsigned n = 0;

	for (struct receiver *rc = rope__recv_fd_first(u, fd); rc;
	     rc = rc->fd_next)
		if (!rc->closer) {
			rc->closer = c;
			n++;
		}
	return n;
}

bool
rope__recv_in_kernel(const struct receiver *rc)
{
	return rc->multishot.armed || rc->multishot.cancel_inflight;
}

void
rope__recv_stop_all(struct rope_uring *u)
{
	for (struct receiver *rc = u->recvs; rc; rc = rc->next)
		rope__receiver_stop(rc, -ECANCELED);
	rope__recv_mark_all(u);
}

/* ------------------------------------------------------------------------ */
/* The loop's hooks                                                         */
/* ------------------------------------------------------------------------ */

/* The buffer of the oldest bytes in @rc's FIFO (rc->n must be > 0). */
static struct rbuf *
fifo_head(struct rope_uring *u, struct receiver *rc)
{
	return &u->bufs[rc->first];
}

static void
fifo_pop(struct rope_uring *u, struct receiver *rc)
{
	rc->first = u->bufs[rc->first].next;
	if (--rc->n == 0)
		rc->first = rc->last = NO_BUF;
}

void
rope__receiver_fifo_push(struct rope_uring *u, struct receiver *rc,
			 unsigned bid)
{
	u->bufs[bid].next = NO_BUF;
	if (rc->n++)
		u->bufs[rc->last].next = (uint16_t)bid;
	else
		rc->first = (uint16_t)bid;
	rc->last = (uint16_t)bid;
}

/*
 * Append @len received bytes in @c to the rope: the chunk itself when it
 * is at least half full and the rope's tail room cannot take them
 * (*@adopted: the rope has the reference now), else a copy into the tail
 * room, which the rope grows as it does for any append. Either way the
 * rope's chunks hold at most about twice its bytes.
 */
static int
receiver_give(struct rope_uring *u, struct receiver *rc, struct rope_chunk *c,
     uint32_t len, bool *adopted)
{
	int ret;

	*adopted = false;
	if (len >= c->cap / 2 && len > rope__tail_room(rc->r)) {
		ret = rope__append_chunk(rc->r, c, len);
		*adopted = ret == 0;
		if (*adopted) {
			rc->adopted += len;
			rc->adopted_mem += c->cap;
		}
	} else {
		ssize_t w;

		/* A copy that needs a fresh tail chunk gets one of at most
		 * a buffer's size on the ring: the rope's doubling would make
		 * rooms that later full buffers are copied into instead of
		 * adopted. Plain reads go into the tail's room first, so
		 * there the rope's own sizing serves: the next reads land in
		 * the rope without a copy (with 16 KiB tails, a reader faster
		 * than its writer copied 13 % of a 6 MiB stream). A rope its
		 * callback drains gives the chunk back (rope__spare_release). */
		if (len > rope__tail_room(rc->r) && !u->recv_plain)
			rope__tail_limit(rc->r, RECV_BUFSZ);
		w = rope_append(rc->r, c->data, len);

		ret = w < 0 ? (int)w : 0;
		if (ret == 0) {
			u->stats.recv_copied += len;
			rc->copied += len;
		}
	}
	if (ret == 0) {
		u->stats.recv_bytes += len;
		rc->received += len;
		rc->delivered += len;
	} else if (ret == -EBADF) {
		/* The rope was closed: nobody will read these. */
		rope__receiver_stop(rc, -EBADF);
		rope__receiver_end(rc, -EBADF);
		ret = 0;
	}
	return ret;
}

/*
 * Take a waiting buffer's bytes out of the pool: copied into the newest
 * held chunk when they fit in its room (the buffer is reused at once), or
 * else the buffer's chunk itself goes to the held list, its id getting a
 * fresh chunk at the next refill. Small fills thus share held chunks: what
 * a refusing rope holds is about its bytes, not a buffer per fill.
 */
static bool
receiver_hold(struct receiver *rc, struct rbuf *b)
{
	if (rc->held_n) {
		struct held *h = &rc->held[rc->held_head + rc->held_n - 1];

		if (h->chunk->cap - h->len >= b->len) {
			memcpy(h->chunk->data + h->len, b->chunk->data, b->len);
			h->len += b->len;
			b->len = 0;
			return true;
		}
	}
	if (rc->held_head + rc->held_n == rc->held_cap) {
		if (rc->held_head) {
			memmove(rc->held, rc->held + rc->held_head,
				rc->held_n * sizeof(*rc->held));
			rc->held_head = 0;
		} else {
			unsigned cap = rc->held_cap ? 2 * rc->held_cap : 8;
			struct held *h = rope__realloc(
				rc->held, rc->held_cap * sizeof(*h),
				cap * sizeof(*h));

			if (!h)
				return false;
			rc->held = h;
			rc->held_cap = cap;
		}
	}
	rc->held[rc->held_head + rc->held_n++] =
		(struct held){ b->chunk, b->len };
	rc->held_bytes += RECV_BUFSZ;
	b->chunk = NULL;
	b->len = 0;
	return true;
}

static void
held_pop(struct receiver *rc)
{
	rc->held_head++;
	rc->held_bytes -= RECV_BUFSZ;
	if (--rc->held_n == 0)
		rc->held_head = 0;
}

/*
 * Append waiting bytes to the rope, in order, while it accepts them. When
 * it refuses (-EBUSY, -ENOMEM), the buffers still in the pool are held
 * instead, so that other sockets keep theirs (if the held list cannot grow,
 * they stay in the pool: nothing is lost either way).
 */
void
rope__receiver_deliver(struct rope_uring *u, struct receiver *rc)
{
	bool adopted;

	while (rc->held_n) {
		struct held *h = &rc->held[rc->held_head];

		if (receiver_give(u, rc, h->chunk, h->len, &adopted) < 0)
			goto refused;
		if (!adopted)
			rope__chunk_unref(h->chunk);
		held_pop(rc);
	}
	while (rc->n) {
		struct rbuf *b = fifo_head(u, rc);

		if (receiver_give(u, rc, b->chunk, b->len, &adopted) < 0)
			goto refused;
		if (adopted)
			b->chunk = NULL;  /* the rope's now */
		b->len = 0;
		fifo_pop(u, rc);
	}
	return;
refused:
	while (rc->n && receiver_hold(rc, fifo_head(u, rc)))
		fifo_pop(u, rc);
}

/* Drop whatever waits: nobody will take it. */
static void
drop_waiting(struct rope_uring *u, struct receiver *rc)
{
	while (rc->held_n) {
		rope__chunk_unref(rc->held[rc->held_head].chunk);
		held_pop(rc);
	}
	while (rc->n) {
		fifo_head(u, rc)->len = 0;
		fifo_pop(u, rc);
	}
}

static void
recv_free(struct receiver *rc)
{
	rope__free(rc->held, rc->held_cap * sizeof(*rc->held));
	rope__free(rc, sizeof(*rc));
}

/* Should the socket be read now? Not once stopped or ended, not while
 * the rope has too much waiting for it, while the caller paused it, or
 * while the rope holds its limit. */
bool
rope__receiver_reads(const struct receiver *rc)
{
	return !rc->stopping && !rc->ended && !rc->held_full &&
	       !rc->user_paused && (!rc->limit || rope_size(rc->r) < rc->limit);
}

/* A receive whose rope was closed ends: nothing will read it. */
void
rope__receiver_check_rope(struct receiver *rc)
{
	if (rope_closed(rc->r))
		rope__receiver_stop(rc, -EBADF);
}

/* @rc's callbacks that are due; frees it after its final one. */
static unsigned
recv_callback(struct rope_uring *u, struct receiver *rc)
{
	unsigned called = 0;

	u->count.recv_visits++;
	if (rc->delivered) {
		uint64_t n = rc->delivered;

		rc->delivered = 0;
		if (rc->cb)
			rc->cb(rc->arg, (ssize_t)n);
		called++;
		/* Drained by its callback: the connection waits for its next
		 * message holding no chunk (its spare goes to the chunk
		 * cache, where the next message's tail comes from). 9,000
		 * idle connections each kept one. */
		rope__spare_release(rc->r);
	}
	/* Done once nothing is in flight and nothing waits. */
	if (rc->ended && !rc->multishot.armed && !rc->multishot.cancel_inflight &&
	    !rc->n && !rc->held_n) {
		rope__recv_unlink(u, rc);
		u->pending--;
		if (rc->closer) {
			recv_stats_fill(u, rc, &rc->closer->stats);
			rc->closer->has_stats = true;
		}
		if (rc->cb)
			rc->cb(rc->arg, rc->end_res);
		if (rc->closer)
			rope__closer_one_done(u, rc->closer);
		recv_free(rc);
		called++;
	}
	return called;
}

/* The rounds queue the receivers they looked at: only those can have a
 * callback due. Receivers are freed only here. */
unsigned
rope__recv_callbacks(struct rope_uring *u)
{
	struct receiver *rc;
	unsigned called = 0;

	while ((rc = rope__recv_round_take(u)))
		called += recv_callback(u, rc);
	return called;
}

void
rope__recv_abandon(struct rope_uring *u)
{
	/* Bytes no rope would take while the engine goes away: drop them,
	 * end every receive, and run the final callbacks. */
	for (struct receiver *rc = u->recvs; rc; rc = rc->next) {
		drop_waiting(u, rc);
		rc->multishot.armed = false;
		rc->multishot.cancel_inflight = false;  /* never reaped now */
		rope__receiver_end(rc, -ECANCELED);
		rope__recv_round_add(u, rc);
	}
	rope__recv_callbacks(u);
	if (u->plain_chunk) {
		rope__chunk_unref(u->plain_chunk);
		u->plain_chunk = NULL;
	}
}

/* ------------------------------------------------------------------------ */
/* Plain reads: the fallback, and kernels without provided buffer rings     */
/* ------------------------------------------------------------------------ */

/*
 * One read for @rc: into its rope's tail room, then into the engine's
 * chunk, whose bytes go to the rope as a ring buffer's do. Returns the
 * bytes read, 0 at the end of the stream, or -errno: -EBUSY or -ENOMEM
 * when the rope cannot take bytes now (nothing was read then).
 */
static ssize_t
plain_read(struct rope_uring *u, struct receiver *rc)
{
	struct rope *r = rc->r;
	struct rope_chunk *c = u->plain_chunk;
	struct iovec iov[2];
	uint8_t *tail;
	size_t room;
	ssize_t got;
	bool adopted;
	int cnt = 0, saved, ret;

	ret = rope__check_writable(r);
	if (ret < 0)
		return ret;
	if (!c) {
		c = u->plain_chunk = rope__chunk_new(RECV_PLAIN_CHUNK);
		if (!c)
			return -ENOMEM;
	}
	/* Whatever is read must have a place: a segment for the chunk, were
	 * a copy to find no memory (reserved before the read, so nothing
	 * read is ever lost). */
	if (rope__segs_reserve(r, 1) < 0)
		return -ENOMEM;
	room = MIN(rope__tail_reserve(r, &tail), RECV_PLAIN_MAX);
	ret = rope__check_extent(r->size, room + c->cap);
	if (ret < 0)
		return ret;
	if (room)
		iov[cnt++] = (struct iovec){ tail, room };
	iov[cnt++] = (struct iovec){ c->data, c->cap };
	saved = errno;
	got = rope__sys->readv(rc->fd, iov, cnt);
	if (got < 0)
		got = -errno;
	errno = saved;
	if (got <= 0)
		return got;
	if (room)
		rope__tail_commit(r, MIN((size_t)got, room));
	if ((size_t)got > room) {
		uint32_t rest = (uint32_t)((size_t)got - room);

		ret = receiver_give(u, rc, c, rest, &adopted);
		/* No memory for a copy: the chunk itself takes the bytes
		 * (the segment is reserved), however full. */
		if (ret < 0) {
			ret = rope__append_chunk(r, c, rest);
			adopted = ret == 0;
			if (adopted) {
				u->stats.recv_bytes += rest;
				rc->received += rest;
				rc->delivered += rest;
				rc->adopted += rest;
				rc->adopted_mem += c->cap;
			}
		}
		if (adopted)
			u->plain_chunk = NULL;  /* the rope's now */
		if (ret < 0)
			return ret;
		rc->received += room;
		rc->delivered += room;
		u->stats.recv_bytes += room;
	} else {
		rc->received += (uint64_t)got;
		rc->delivered += (uint64_t)got;
		u->stats.recv_bytes += (uint64_t)got;
	}
	rc->completions++;
	return got;
}

/* Look at one receiver of plain reads (see rope__recv_plain_visit()). */
static unsigned
plain_visit(struct rope_uring *u, struct receiver *rc)
{
	unsigned moved = 0;
	bool reads;
	int ret;

	u->count.recv_visits++;
	rope__receiver_check_rope(rc);
	if (rc->stopping)
		rope__receiver_end(rc, rc->stop_res);
	if (rope__receiver_reads(rc) && rc->plain.readable) {
		/* One read per round: the socket may block (it is the
		 * caller's, as it is), and the wait said one read will not.
		 * Bytes left are reported by the next wait. */
		ssize_t got = plain_read(u, rc);

		rc->plain.refused = got == -EBUSY || got == -ENOMEM;
		if (got > 0 || got == -EAGAIN) {
			rc->plain.readable = false;
			moved = got > 0;
		} else if (got == 0 || (!rc->plain.refused && got != -EINTR)) {
			rope__receiver_end(rc, (int)got);
			moved = 1;
		}
	}
	reads = rope__receiver_reads(rc);
	ret = rope__watch_reader(u, rc, reads && !rc->plain.refused);
	if (ret < 0 && ret != -ENOMEM) {
		/* The set will not take it (-ENOSPC: the user's epoll
		 * watches are used up; -EBADF: closed): it can never be
		 * waited for. */
		rope__receiver_end(rc, ret);
		moved = 1;
	}
	/* Looked at again next round: its rope may take bytes again, or
	 * fall below its limit, with no call to say so; or memory for its
	 * place in the watch set may be found. */
	if (!rc->ended && !rc->stopping &&
	    (rc->plain.refused || ret == -ENOMEM ||
	     (rc->limit && rope_size(rc->r) >= rc->limit) ||
	     (rc->plain.readable && reads)))
		rope__recv_mark(u, rc);
	rope__recv_round_add(u, rc);
	return moved;
}

unsigned
rope__recv_plain_visit(struct rope_uring *u)
{
	struct receiver *rc, *next;
	unsigned moved = 0;

	if (!u->recv_plain)
		return 0;
	rope__recv_check_closes(u);
	for (rc = rope__recv_ready_take(u); rc; rc = next) {
		next = rc->ready_next;
		rc->ready = false;
		rc->ready_next = NULL;
		moved += plain_visit(u, rc);
	}
	return moved;
}
