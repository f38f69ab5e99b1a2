/* SPDX-License-Identifier: MIT */
/*
 * The ring backend's receiving (see uring-recv.c for the whole design): the
 * provided buffer ring every receiving socket shares, one multishot recv
 * per socket (or single-shot recvs: socket_is_local()), their
 * cancellations and CQEs. The buffers' bookkeeping and the receivers
 * themselves are the core's (uring-recv.c).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "uring-ring-priv.h"

static void
ring_add(struct rope_uring *u, unsigned bid)
{
	struct rbuf *b = &u->bufs[bid];

	io_uring_buf_ring_add(u->ring->br, b->chunk->data, RECV_BUFSZ, (uint16_t)bid,
			      io_uring_buf_ring_mask(RECV_RING),
			      (int)u->added++);
	b->in_ring = true;
}

/* A buffer id the pool no longer uses, back from the kernel with its bytes
 * gone: nothing of it is left to free. */
static bool
retired_and_free(const struct rbuf *b)
{
	return !b->in_ring && !b->len && !b->chunk;
}

/*
 * Put every empty buffer id back, with a fresh chunk where needed, and
 * publish them with one tail update; returns how many are in the ring.
 *
 * Ids from u->nbuf on were given up by a shrink: the ring still holds
 * those the kernel has not taken (a buffer cannot be taken back from a
 * provided buffer ring), so each is freed when a receive has used it and
 * its bytes have gone to a rope, and is not put back.
 */
static unsigned
pool_refill(struct rope_uring *u)
{
	unsigned in_ring = 0;

	for (unsigned bid = 0; bid < u->nbuf_high; bid++) {
		struct rbuf *b = &u->bufs[bid];

		if (!b->in_ring && !b->len && bid >= u->nbuf) {
			/* Retired by a shrink, and back: free it. */
			if (b->chunk)
				rope__chunk_unref(b->chunk);
			b->chunk = NULL;
		} else if (!b->in_ring && !b->len) {
			if (!b->chunk)
				b->chunk = rope__chunk_new(RECV_BUFSZ);
			if (b->chunk)
				ring_add(u, bid);
		}
		in_ring += b->in_ring;
	}
	while (u->nbuf_high > u->nbuf &&
	       retired_and_free(&u->bufs[u->nbuf_high - 1]))
		u->nbuf_high--;
	if (u->added) {
		io_uring_buf_ring_advance(u->ring->br, (int)u->added);
		u->added = 0;
	}
	return in_ring;
}

/* Keep u->ring->recv_kernel, the receivers with a multishot or its
 * cancellation in the kernel's hands, up to date after @rc changed from
 * @was. */
static void
kernel_count(struct rope_uring *u, const struct receiver *rc, bool was)
{
	bool now = rope__recv_in_kernel(rc);

	if (now && !was)
		u->ring->recv_kernel++;
	else if (was && !now)
		u->ring->recv_kernel--;
}

static int
buffers_setup(struct rope_uring *u)
{
	struct io_uring_buf_reg reg = { 0 };
	size_t bytes = RECV_RING * sizeof(struct io_uring_buf);
	void *mem;
	int ret;

	u->bufs = rope__alloc(RECV_RING * sizeof(*u->bufs));
	if (!u->bufs)
		return -ENOMEM;
	memset(u->bufs, 0, RECV_RING * sizeof(*u->bufs));
	/* The ring must be page aligned: its own mapping. */
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (mem == MAP_FAILED) {
		rope__free(u->bufs, RECV_RING * sizeof(*u->bufs));
		u->bufs = NULL;
		return -ENOMEM;
	}
	reg.ring_addr = (uint64_t)(uintptr_t)mem;
	reg.ring_entries = RECV_RING;
	reg.bgid = RECV_BGID;
	ret = rope__uring->register_buf_ring(&u->ring->ring, &reg, 0);
	if (ret < 0) {
		munmap(mem, bytes);
		rope__free(u->bufs, RECV_RING * sizeof(*u->bufs));
		u->bufs = NULL;
		return ret;
	}
	u->ring->br = mem;
	u->ring->br_bytes = bytes;
	u->nbuf = u->nbuf_high = RECV_NBUF_MIN;
	io_uring_buf_ring_init(u->ring->br);
	pool_refill(u);
	return 0;
}

int
rope__recv_pool_setup(struct rope_uring *u)
{
	int ret = buffers_setup(u);

	/* No provided buffer rings in this kernel: receive with plain reads
	 * instead, like the poll backend. */
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0)
		u->recv_plain = true;
	return 0;
}

void
rope__recv_exit(struct rope_uring *u)
{
	if (!u->ring->br)
		return;
	io_uring_unregister_buf_ring(&u->ring->ring, RECV_BGID);
	munmap(u->ring->br, u->ring->br_bytes);
	for (unsigned bid = 0; bid < u->nbuf_high; bid++)
		if (u->bufs[bid].chunk)
			rope__chunk_unref(u->bufs[bid].chunk);
	rope__free(u->bufs, RECV_RING * sizeof(*u->bufs));
	u->ring->br = NULL;
	u->bufs = NULL;
}

/*
 * Is @fd an AF_UNIX socket? Those get a single-shot recv per arm, not a
 * multishot one: on Linux 6.18 a multishot recv on an AF_UNIX stream
 * socket whose peer closes while bytes are still arriving sometimes reads
 * the last bytes, finds the queue empty, and waits for a wake-up the close
 * has already given: the end of the stream never comes (no CQE; seen in
 * 1 % to 57 % of the rounds of a bare liburing program, more on a busy
 * machine). TCP's multishot recv, and a single-shot recv on AF_UNIX, never
 * missed it in the same rounds. A single-shot recv costs an SQE per
 * arrival, which a local socket can spare.
 */
static bool
socket_is_local(int fd)
{
	int domain = 0;
	socklen_t len = sizeof(domain);
	int saved = errno;
	bool local = getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
		     domain == AF_UNIX;

	errno = saved;
	return local;
}

/* Both return false when the SQ is full: the next round tries again. */
static bool
receiver_arm(struct rope_uring *u, struct receiver *rc)
{
	struct io_uring_sqe *sqe;
	bool was;

	if (!rc->multishot.kind_known) {
		rc->multishot.single = u->ring->no_multishot ||
				       socket_is_local(rc->fd);
		rc->multishot.kind_known = true;
	}
	rope__ring_room(u, 1);
	sqe = rope__uring->get_sqe(&u->ring->ring);

	if (!sqe)
		return false;
	/* Length 0 means "the whole buffer" only from 6.0 on, with multishot
	 * recv: before, a single-shot recv read 0 bytes and looked like the
	 * end of the stream. The kernel cuts the length to the buffer's. */
	if (rc->multishot.single)
		io_uring_prep_recv(sqe, rc->fd, NULL, RECV_BUFSZ, 0);
	else
		io_uring_prep_recv_multishot(sqe, rc->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = RECV_BGID;
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)rc | URING_TAG_RECV);
	was = rope__recv_in_kernel(rc);
	rc->multishot.armed = true;
	rc->multishot.cancel_sent = false;
	kernel_count(u, rc, was);
	return true;
}

static bool
receiver_cancel_sqe(struct rope_uring *u, struct receiver *rc)
{
	struct io_uring_sqe *sqe;
	bool was = rope__recv_in_kernel(rc);

	rope__ring_room(u, 1);
	sqe = rope__uring->get_sqe(&u->ring->ring);

	if (!sqe)
		return false;
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)rc | URING_TAG_RECV,
			       0);
	/* Its CQE always comes (no CQE_SKIP_SUCCESS): until it has, @rc must
	 * stay, and a cancellation that failed is sent again. */
	io_uring_sqe_set_data64(sqe,
				(uint64_t)(uintptr_t)rc | URING_TAG_CANCEL);
	rc->multishot.cancel_sent = true;
	rc->multishot.cancel_inflight = true;
	kernel_count(u, rc, was);
	return true;
}

bool
rope__recv_cancel_ask(struct rope_uring *u, struct receiver *rc)
{
	return !rc->multishot.armed || rc->multishot.cancel_sent ||
	       receiver_cancel_sqe(u, rc);
}

/*
 * Should @rc be looked at in the next round even if nothing happens to it?
 * When its rope refused bytes (it may take them any time), when it could
 * not get what it needs (an SQE, a buffer to arm with), and while its rope
 * holds its limit (the rope may shrink with no call of the engine's).
 * Anything else comes with a CQE or a call, which marks it.
 */
static bool
recv_watch(const struct receiver *rc)
{
	bool reading = rope__receiver_reads(rc);

	if (rc->n || rc->held_n)
		return true;
	if (rc->multishot.armed && !reading && !rc->multishot.cancel_sent)
		return true;
	if (rc->stopping || rc->ended)
		return false;
	if (rc->limit && rope_size(rc->r) >= rc->limit)
		return true;
	return reading && !rope__recv_in_kernel(rc);
}

unsigned
rope__recv_prep(struct rope_uring *u, unsigned *starved)
{
	struct receiver *list, *rc, *next;
	bool has_buffer;
	unsigned cap;

	if (u->recv_plain || !u->ring->br)
		return 0;
	rope__recv_check_closes(u);
	/* Only the receivers marked ready, in the order they were marked. */
	list = rope__recv_ready_take(u);
	for (rc = list; rc; rc = rc->ready_next) {
		rope__receiver_check_rope(rc);
		rope__receiver_deliver(u, rc);
		u->count.recv_visits++;
	}
	cap = MIN(MAX(2 * u->recv_n, RECV_NBUF_MIN), RECV_RING);
	if (u->recv_nobufs) {
		/* A receive found the pool empty: double it, up to two
		 * buffers per receiver. */
		if (u->nbuf < cap)
			u->nbuf = MIN(2 * u->nbuf, cap);
		u->nbuf_high = MAX(u->nbuf_high, u->nbuf);
		u->recv_nobufs = false;
	} else if (u->nbuf > 2 * cap) {
		/* Receivers left (a burst of connections is over): back to
		 * two buffers per receiver. Growing back takes the same
		 * doublings, so a count of receivers that moves by less than
		 * half neither grows nor shrinks it. */
		u->nbuf = cap;
	}
	/*
	 * Arm only with a buffer to fill: otherwise the multishot would end
	 * at once (-ENOBUFS), again and again. A multishot that finds the
	 * pool empty ends and is re-armed here, in the order its CQE came:
	 * with 2,000 busy connections on a pool of 1,024 that is most of
	 * them, and re-arming in one fixed order (the receivers' list) gave
	 * the buffers to the same receivers every round: some connections
	 * were served a few times in 5 s against a median of hundreds, a
	 * p99 of 1 to 2 s.
	 */
	has_buffer = pool_refill(u) > 0;
	for (rc = list; rc; rc = next) {
		bool reading;

		next = rc->ready_next;
		rc->ready = false;
		rc->ready_next = NULL;
		if (rc->held_bytes >= RECV_HOLD_MAX)
			rc->held_full = true;
		else if (!rc->held_n)
			rc->held_full = false;
		reading = rope__receiver_reads(rc);
		if (rc->multishot.armed && !reading && !rc->multishot.cancel_sent &&
		    !receiver_cancel_sqe(u, rc))
			++*starved;
		if (rc->stopping && !rc->multishot.armed)
			rope__receiver_end(rc, rc->stop_res);
		/* Re-arm after the multishot ended (-ENOBUFS, a full CQ, a
		 * pause that is over). */
		if (reading && !rope__recv_in_kernel(rc) && has_buffer &&
		    !receiver_arm(u, rc))
			++*starved;
		rope__recv_round_add(u, rc);
		if (recv_watch(rc))
			rope__recv_mark(u, rc);
	}
	return u->ring->recv_kernel;
}

bool
rope__recv_reap(struct rope_uring *u, const struct io_uring_cqe *cqe)
{
	uint64_t d = io_uring_cqe_get_data64(cqe);
	struct receiver *rc;
	bool was;

	if (d && (d & URING_TAG_MASK) == URING_TAG_CANCEL) {
		rc = (struct receiver *)(uintptr_t)d;
		was = rope__recv_in_kernel(rc);
		rc->multishot.cancel_inflight = false;
		kernel_count(u, rc, was);
		rope__recv_mark(u, rc);
		/* 0: cancelled; -ENOENT: it had ended by itself. Anything
		 * else (-EALREADY) leaves it running: try again. */
		if (cqe->res < 0 && cqe->res != -ENOENT)
			rc->multishot.cancel_sent = false;
		return true;
	}
	if ((d & URING_TAG_MASK) != URING_TAG_RECV)
		return false;
	rc = (struct receiver *)(uintptr_t)(d & ~(uint64_t)URING_TAG_MASK);
	was = rope__recv_in_kernel(rc);
	rope__recv_mark(u, rc);
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		struct rbuf *b = &u->bufs[bid];

		b->in_ring = false;
		if (cqe->res > 0) {
			b->len = (uint32_t)cqe->res;
			rope__receiver_fifo_push(u, rc, bid);
			rc->completions++;
		}
	}
	/*
	 * A kernel with provided buffer rings but no multishot recv (5.19)
	 * refuses every one with -EINVAL. So may a socket that cannot be
	 * read (an AF_UNIX one never connected), on any kernel: this
	 * receiver tries a single-shot recv next, and only when that one
	 * works are all receivers given single-shot recvs; when it is
	 * refused too, the receive ends with -EINVAL. (It used to switch the
	 * whole engine to plain reads, stranding the bytes of receives
	 * already in the kernel.)
	 */
	if (cqe->res == -EINVAL && !rc->completions && !rc->stopping &&
	    !rc->multishot.single) {
		rc->multishot.armed = false;
		rc->multishot.single = true;
		rc->multishot.probing = true;
		kernel_count(u, rc, was);
		return true;
	}
	if (rc->multishot.probing && cqe->res >= 0) {
		rc->multishot.probing = false;
		u->ring->no_multishot = true;
	}
	if (cqe->res == -ENOBUFS) {
		rc->nobufs++;
		u->recv_nobufs = true;  /* the pool grows next round */
	}
	/* Out of buffers, or interrupted: re-armed by the next round. A
	 * cancellation of ours ends it only when it was a stop (a pause
	 * re-arms later). A cancellation by fd comes with stopping set. */
	if (cqe->res == -ECANCELED && (rc->stopping || rc->multishot.cancel_sent)) {
		if (rc->stopping)
			rope__receiver_end(rc, rc->stop_res);
	} else if (cqe->res == 0) {
		rope__receiver_end(rc, 0);
	} else if (cqe->res < 0 && cqe->res != -ENOBUFS &&
		   cqe->res != -EINTR && cqe->res != -EAGAIN) {
		rope__receiver_end(rc, cqe->res);
	}
	if (!(cqe->flags & IORING_CQE_F_MORE))
		rc->multishot.armed = false;
	kernel_count(u, rc, was);
	return true;
}
