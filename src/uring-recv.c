/* SPDX-License-Identifier: MIT */
/*
 * Receiving into ropes: a provided buffer ring and one multishot recv per
 * socket. Every buffer is an owned rope chunk. When one comes back well
 * filled, the chunk itself is appended to the rope (no copy) and a fresh
 * chunk takes its buffer id in the ring; a small fill is copied into the
 * rope's tail room and the same buffer goes back at once, so tiny messages
 * do not pin 64 KiB each.
 *
 * Each buffer id is either in the ring, or holding received bytes that wait
 * in their socket's FIFO until the rope accepts them (a rope that is
 * exported refuses with -EBUSY: the bytes wait, in order, and the ring runs
 * dry, which stops the socket: back-pressure, not loss), or empty and due
 * for a refill. The kernel may never see one id twice, so nothing is added
 * back that is still out (the research for this project saw data
 * overwritten exactly that way).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "uring-priv.h"

#define RECV_BGID 0x726f
#define RECV_NBUF 64
#define RECV_BUFSZ (64u * 1024)
/* Fills below this are copied and their buffer recycled. */
#define RECV_ADOPT_MIN (RECV_BUFSZ / 4)
/* Bytes one fallback read may take. */
#define RECV_PLAIN_MAX (256u * 1024)

struct rbuf {
	struct rope_chunk *chunk;  /* NULL when a refill found no memory */
	uint32_t len;              /* received bytes awaiting delivery */
	bool in_ring;
};

struct recv {
	struct recv *next;
	int fd;
	struct rope *r;
	rope_uring_cb cb;
	void *arg;
	bool armed;          /* a multishot recv is in flight */
	bool stopping;       /* rope_uring_recv_stop() was called */
	bool cancel_sent;    /* ... and its cancellation was submitted */
	bool cancel_inflight; /* whose CQE has not arrived */
	bool ended;          /* no more data will come */
	int end;             /* 0 at end of stream, else -errno */
	uint64_t delivered;  /* bytes appended since the last callback */
	unsigned head, n;    /* the FIFO of buffer ids awaiting delivery */
	uint16_t fifo[RECV_NBUF];
};

/* ------------------------------------------------------------------------ */
/* The buffer ring                                                          */
/* ------------------------------------------------------------------------ */

static void
ring_add(struct rope_uring *u, unsigned bid)
{
	struct rbuf *b = &u->bufs[bid];

	io_uring_buf_ring_add(u->br, b->chunk->data, RECV_BUFSZ, (uint16_t)bid,
			      io_uring_buf_ring_mask(u->nbuf), (int)u->added++);
	b->in_ring = true;
}

/* Put every empty buffer id back, with a fresh chunk where needed, and
 * publish them with one tail update. */
static void
refill(struct rope_uring *u)
{
	for (unsigned bid = 0; bid < u->nbuf; bid++) {
		struct rbuf *b = &u->bufs[bid];

		if (b->in_ring || b->len)
			continue;
		if (!b->chunk)
			b->chunk = rope__chunk_new(RECV_BUFSZ);
		if (b->chunk)
			ring_add(u, bid);
	}
	if (u->added) {
		io_uring_buf_ring_advance(u->br, (int)u->added);
		u->added = 0;
	}
}

static int
buffers_setup(struct rope_uring *u)
{
	struct io_uring_buf_reg reg = { 0 };
	size_t bytes = RECV_NBUF * sizeof(struct io_uring_buf);
	void *mem;
	int ret;

	u->bufs = rope__alloc(RECV_NBUF * sizeof(*u->bufs));
	if (!u->bufs)
		return -ENOMEM;
	memset(u->bufs, 0, RECV_NBUF * sizeof(*u->bufs));
	/* The ring must be page aligned: its own mapping. */
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (mem == MAP_FAILED) {
		rope__free(u->bufs, RECV_NBUF * sizeof(*u->bufs));
		u->bufs = NULL;
		return -ENOMEM;
	}
	reg.ring_addr = (uint64_t)(uintptr_t)mem;
	reg.ring_entries = RECV_NBUF;
	reg.bgid = RECV_BGID;
	ret = rope__uring->register_buf_ring(&u->ring, &reg, 0);
	if (ret < 0) {
		munmap(mem, bytes);
		rope__free(u->bufs, RECV_NBUF * sizeof(*u->bufs));
		u->bufs = NULL;
		return ret;
	}
	u->br = mem;
	u->br_bytes = bytes;
	u->nbuf = RECV_NBUF;
	io_uring_buf_ring_init(u->br);
	refill(u);
	return 0;
}

void
rope__recv_exit(struct rope_uring *u)
{
	if (!u->br)
		return;
	io_uring_unregister_buf_ring(&u->ring, RECV_BGID);
	munmap(u->br, u->br_bytes);
	for (unsigned bid = 0; bid < u->nbuf; bid++)
		if (u->bufs[bid].chunk)
			rope__chunk_unref(u->bufs[bid].chunk);
	rope__free(u->bufs, RECV_NBUF * sizeof(*u->bufs));
	u->br = NULL;
	u->bufs = NULL;
}

/* ------------------------------------------------------------------------ */
/* Starting and stopping                                                    */
/* ------------------------------------------------------------------------ */

static struct recv *
recv_find(struct rope_uring *u, int fd)
{
	for (struct recv *rc = u->recvs; rc; rc = rc->next)
		if (rc->fd == fd)
			return rc;
	return NULL;
}

ROPEIO_EXPORT int
rope_uring_recv(struct rope_uring *u, int fd, struct rope *r,
		rope_uring_cb cb, void *arg)
{
	struct recv *rc;

	if (!u || !r || fd < 0)
		return -EINVAL;
	if (rope_closed(r))
		return -EBADF;
	if (recv_find(u, fd))
		return -EBUSY;
	if (!u->fallback && !u->br) {
		int ret = buffers_setup(u);

		/* No provided buffer rings in this kernel: receive with
		 * plain reads instead, like the fallback. */
		if (ret == -ENOMEM)
			return ret;
		if (ret < 0)
			u->recv_plain = true;
	}
	rc = rope__alloc(sizeof(*rc));
	if (!rc)
		return -ENOMEM;
	memset(rc, 0, sizeof(*rc));
	rc->fd = fd;
	rc->r = r;
	rc->cb = cb;
	rc->arg = arg;
	rc->next = u->recvs;
	u->recvs = rc;
	u->pending++;
	return 0;
}

ROPEIO_EXPORT int
rope_uring_recv_stop(struct rope_uring *u, int fd)
{
	struct recv *rc = u ? recv_find(u, fd) : NULL;

	if (!rc)
		return u ? -ENOENT : -EINVAL;
	rc->stopping = true;
	return 0;
}

void
rope__recv_stop_all(struct rope_uring *u)
{
	for (struct recv *rc = u->recvs; rc; rc = rc->next)
		rc->stopping = true;
}


/* ------------------------------------------------------------------------ */
/* The loop's hooks                                                         */
/* ------------------------------------------------------------------------ */

static void
fifo_pop(struct recv *rc)
{
	rc->head = (rc->head + 1) % RECV_NBUF;
	rc->n--;
}

static void
end(struct recv *rc, int res)
{
	if (!rc->ended) {
		rc->ended = true;
		rc->end = res;
	}
}

/* Append waiting buffers to the rope, in order, while it accepts them. */
static void
deliver(struct rope_uring *u, struct recv *rc)
{
	while (rc->n) {
		struct rbuf *b = &u->bufs[rc->fifo[rc->head]];
		int ret;

		if (b->len >= RECV_ADOPT_MIN) {
			ret = rope__append_chunk(rc->r, b->chunk, b->len);
			if (ret == 0)
				b->chunk = NULL;  /* the rope's now */
		} else {
			ssize_t w = rope_append(rc->r, b->chunk->data, b->len);

			ret = w < 0 ? (int)w : 0;
			if (ret == 0)
				u->stats.recv_copied += b->len;
		}
		if (ret == 0)
			u->stats.recv_bytes += b->len;
		if (ret == -EBADF) {
			/* The rope was closed: nobody will read these. */
			end(rc, ret);
			ret = 0;
		} else if (ret < 0) {
			return;  /* -EBUSY, -ENOMEM: try again next round */
		} else {
			rc->delivered += b->len;
		}
		b->len = 0;
		fifo_pop(rc);
	}
}

/* Both return false when the SQ is full: the next round tries again. */
static bool
arm(struct rope_uring *u, struct recv *rc)
{
	struct io_uring_sqe *sqe = rope__uring->get_sqe(&u->ring);

	if (!sqe)
		return false;
	io_uring_prep_recv_multishot(sqe, rc->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = RECV_BGID;
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)rc | URING_TAG_RECV);
	rc->armed = true;
	return true;
}

static bool
cancel(struct rope_uring *u, struct recv *rc)
{
	struct io_uring_sqe *sqe = rope__uring->get_sqe(&u->ring);

	if (!sqe)
		return false;
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)rc | URING_TAG_RECV,
			       0);
	/* Its CQE always comes (no CQE_SKIP_SUCCESS): until it has, @rc must
	 * stay, and a cancellation that failed is sent again. */
	io_uring_sqe_set_data64(sqe,
				(uint64_t)(uintptr_t)rc | URING_TAG_CANCEL);
	rc->cancel_sent = true;
	rc->cancel_inflight = true;
	return true;
}

unsigned
rope__recv_prep(struct rope_uring *u, unsigned *starved)
{
	unsigned active = 0;

	if (u->recv_plain || !u->br)
		return 0;
	for (struct recv *rc = u->recvs; rc; rc = rc->next)
		deliver(u, rc);
	refill(u);
	for (struct recv *rc = u->recvs; rc; rc = rc->next) {
		bool has_buffer = false;

		if (rc->stopping && !rc->ended) {
			if (!rc->armed)
				end(rc, -ECANCELED);
			else if (!rc->cancel_sent && !cancel(u, rc))
				++*starved;
		}
		/* Re-arm after the multishot ended (-ENOBUFS, or a full CQ),
		 * but only with a buffer to fill: otherwise it would end at
		 * once, again and again. */
		for (unsigned bid = 0; bid < u->nbuf && !has_buffer; bid++)
			has_buffer = u->bufs[bid].in_ring;
		if (!rc->armed && !rc->ended && has_buffer && !arm(u, rc))
			++*starved;
		active += rc->armed || rc->cancel_inflight;
	}
	return active;
}

bool
rope__recv_reap(struct rope_uring *u, const struct io_uring_cqe *cqe)
{
	uint64_t d = io_uring_cqe_get_data64(cqe);
	struct recv *rc;

	if (d && (d & URING_TAG_MASK) == URING_TAG_CANCEL) {
		rc = (struct recv *)(uintptr_t)d;
		rc->cancel_inflight = false;
		/* 0: cancelled; -ENOENT: it had ended by itself. Anything
		 * else (-EALREADY) leaves it running: try again. */
		if (cqe->res < 0 && cqe->res != -ENOENT)
			rc->cancel_sent = false;
		return true;
	}
	if ((d & URING_TAG_MASK) != URING_TAG_RECV)
		return false;
	rc = (struct recv *)(uintptr_t)(d & ~(uint64_t)URING_TAG_MASK);
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		struct rbuf *b = &u->bufs[bid];

		b->in_ring = false;
		if (cqe->res > 0) {
			b->len = (uint32_t)cqe->res;
			rc->fifo[(rc->head + rc->n++) % RECV_NBUF] =
				(uint16_t)bid;
		}
	}
	/* Out of buffers, or interrupted: re-armed by the next round. */
	if (cqe->res == 0)
		end(rc, 0);
	else if (cqe->res < 0 && cqe->res != -ENOBUFS &&
		 cqe->res != -EINTR && cqe->res != -EAGAIN)
		end(rc, rc->stopping && cqe->res == -ECANCELED ? -ECANCELED
							       : cqe->res);
	if (!(cqe->flags & IORING_CQE_F_MORE))
		rc->armed = false;
	return true;
}

unsigned
rope__recv_callbacks(struct rope_uring *u)
{
	struct recv **link = &u->recvs, *rc;
	unsigned called = 0;

	while ((rc = *link)) {
		if (rc->delivered) {
			uint64_t n = rc->delivered;

			rc->delivered = 0;
			if (rc->cb)
				rc->cb(rc->arg, (ssize_t)n);
			called++;
		}
		/* Done once nothing is in flight and nothing waits. */
		if (rc->ended && !rc->armed && !rc->cancel_inflight && !rc->n) {
			*link = rc->next;
			u->pending--;
			if (rc->cb)
				rc->cb(rc->arg, rc->end);
			rope__free(rc, sizeof(*rc));
			called++;
			continue;
		}
		link = &rc->next;
	}
	return called;
}

void
rope__recv_abandon(struct rope_uring *u)
{
	/* Bytes no rope would take while the engine goes away: drop them,
	 * end every receive, and run the final callbacks. */
	for (struct recv *rc = u->recvs; rc; rc = rc->next) {
		while (rc->n) {
			u->bufs[rc->fifo[rc->head]].len = 0;
			fifo_pop(rc);
		}
		rc->armed = false;
		rc->cancel_inflight = false;  /* never reaped now */
		end(rc, -ECANCELED);
	}
	rope__recv_callbacks(u);
}

/* ------------------------------------------------------------------------ */
/* Plain reads: the fallback, and kernels without provided buffer rings     */
/* ------------------------------------------------------------------------ */

unsigned
rope__recv_fallback(struct rope_uring *u, bool wait, unsigned *progress)
{
	struct pollfd p[64];
	struct recv *who[64];
	unsigned n = 0;

	*progress = 0;
	if (!u->fallback && !u->recv_plain)
		return 0;
	for (struct recv *rc = u->recvs; rc && n < 64; rc = rc->next) {
		if (rc->stopping)
			end(rc, -ECANCELED);
		if (rc->ended)
			continue;
		p[n] = (struct pollfd){ .fd = rc->fd, .events = POLLIN };
		who[n++] = rc;
	}
	if (!n || rope__sys->poll(p, n, wait ? -1 : 0) <= 0)
		return n;
	for (unsigned i = 0; i < n; i++) {
		ssize_t got;

		if (!p[i].revents)
			continue;
		got = rope_read_fd(who[i]->r, who[i]->fd, RECV_PLAIN_MAX);
		if (got > 0) {
			/* readv fills the rope's own memory: no copy here,
			 * but the kernel copies, as for every plain read. */
			who[i]->delivered += (uint64_t)got;
			u->stats.recv_bytes += (uint64_t)got;
			++*progress;
		} else if (got == 0) {
			end(who[i], 0);
			++*progress;
		} else if (got != -EAGAIN && got != -EINTR && got != -EBUSY &&
			   got != -ENOMEM) {
			end(who[i], (int)got);
			++*progress;
		}
	}
	return n;
}
