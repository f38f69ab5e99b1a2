/* SPDX-License-Identifier: MIT */
/*
 * A job: one snapshot range sent to one fd through a ring the caller owns.
 * The rules it follows were tested on this project's kernel and are
 * summarised in ropeio-uring.h: WRITEV windows at explicit offsets for
 * files; one linked chain of SENDMSG(MSG_WAITALL) at a time for sockets,
 * resumed from the byte cursor; SENDMSG_ZC notifications keyed by flag, not
 * by order.
 *
 * Each SQE in flight belongs to a slot, which keeps its iovec array and
 * message header until the CQE (SQPOLL rings read them late). The job keeps
 * a reference to the snapshot, so the bytes outlive every request.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <liburing.h>

#include "uring-ring-priv.h"

/* liburing 2.3 predates these (kernel 6.2, backported to 6.1.2). */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

#define JOB_SLOTS 4
/* One request moves at most this much; the kernel stops near 2 GiB. */
#define WINDOW_MAX (1u << 30)
/* Notifications that all say "copied" before a job stops asking for ZC. */
#define ZC_GIVE_UP 8

struct slot {
	struct rope_uring_job *job;
	uint64_t pos;        /* snapshot offset of the next byte to send */
	uint64_t end;        /* files: end of this slot's window */
	size_t want;         /* bytes asked by the request in flight */
	int res;             /* sockets: result in the current chain */
	bool busy;           /* a result CQE is expected */
	bool notif;          /* a zero-copy notification is expected */
	size_t zc_len;       /* bytes of the send that notification covers */
	struct msghdr mh;
	struct iovec *iov;
	size_t cap;          /* entries at iov */
};

struct rope_uring_job {
	struct rope_snap *snap;
	uint64_t off, end;   /* the range, in snapshot offsets */
	uint64_t next;       /* files: first byte no window has taken */
	uint64_t cursor;     /* sockets: first byte not confirmed sent */
	uint64_t written;    /* files: bytes confirmed written */
	int64_t file_off;    /* -1 for a socket */
	int fd;
	unsigned flags;
	int error;
	unsigned inflight;   /* CQEs still expected, notifications included */
	unsigned chain;      /* sockets: requests in the chain in flight */
	unsigned chain_got;  /* ... whose results have arrived */
	struct slot *order[JOB_SLOTS]; /* the chain, in send order */
	struct rope_uring_zc_stats zc;
	struct slot slots[JOB_SLOTS];
};

static bool
is_socket(const struct rope_uring_job *j)
{
	return j->file_off < 0;
}

ROPEIO_EXPORT int
rope_uring_job_new(struct rope_uring_job **out, struct rope_snap *s,
		   size_t off, size_t len, int fd, int64_t file_off,
		   unsigned flags)
{
	struct rope_uring_job *j;
	int ret;

	if (!out)
		return -EINVAL;
	ret = rope__uring_check(s, off, &len, fd, file_off, flags);
	if (ret < 0)
		return ret;
	j = rope__alloc(sizeof(*j));
	if (!j)
		return -ENOMEM;
	memset(j, 0, sizeof(*j));
	j->snap = rope_snap_ref(s);
	j->off = j->next = j->cursor = off;
	j->end = off + len;
	j->file_off = file_off;
	j->fd = fd;
	j->flags = file_off < 0 ? flags : 0;
	for (int i = 0; i < JOB_SLOTS; i++)
		j->slots[i].job = j;
	*out = j;
	return 0;
}

ROPEIO_EXPORT int
rope_uring_job_free(struct rope_uring_job *j)
{
	if (!j)
		return 0;
	if (j->inflight)
		return -EBUSY;
	for (int i = 0; i < JOB_SLOTS; i++)
		rope__free(j->slots[i].iov,
			   j->slots[i].cap * sizeof(struct iovec));
	rope_snap_unref(j->snap);
	rope__free(j, sizeof(*j));
	return 0;
}

/*
 * Describe [pos, end) of the snapshot in the slot's iovec array, at most
 * IOV_MAX entries and WINDOW_MAX bytes. The array starts small and doubles
 * when a window fills it. Returns the iovec count (>0) or -ENOMEM.
 */
static int
slot_fill(struct rope_uring_job *j, struct slot *s, uint64_t pos,
	  uint64_t end)
{
	const struct rope_snap *sn = j->snap;
	uint64_t len = MIN(end - pos, (uint64_t)WINDOW_MAX);
	size_t n = 0;

	for (;;) {
		if (s->cap)
			n = rope__segs_iov(sn->segs, sn->nseg, sn->base + pos,
					   len, s->iov, s->cap);
		if ((n && n < s->cap) || s->cap == IOV_MAX)
			break;
		{
			size_t cap = s->cap ? MIN(s->cap * 2, (size_t)IOV_MAX) : 8;
			struct iovec *iov = rope__realloc(
				s->iov, s->cap * sizeof(*iov), cap * sizeof(*iov));

			if (!iov) {
				if (n)
					break;  /* send what fits */
				return -ENOMEM;
			}
			s->iov = iov;
			s->cap = cap;
		}
	}
	s->want = 0;
	for (size_t i = 0; i < n; i++)
		s->want += s->iov[i].iov_len;
	s->pos = pos;
	return (int)n;
}

static void
sqe_own(struct io_uring_sqe *sqe, struct slot *s)
{
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)s | 1);
}

static int
prep_file(struct rope_uring_job *j, struct io_uring *ring)
{
	int prepared = 0;

	for (int i = 0; i < JOB_SLOTS && !j->error; i++) {
		struct slot *s = &j->slots[i];
		struct io_uring_sqe *sqe;
		bool resume;
		int n;

		if (s->busy)
			continue;
		/* A slot either resumes its short window or takes a new one. */
		resume = s->pos < s->end;
		if (!resume && j->next == j->end)
			continue;
		if (!io_uring_sq_space_left(ring))
			break;
		n = resume ? slot_fill(j, s, s->pos, s->end)
			   : slot_fill(j, s, j->next, j->end);
		if (n < 0)
			return prepared ? prepared : n;
		/* The window is taken only once it has its SQE. */
		sqe = rope__uring->get_sqe(ring);
		if (!sqe)
			break;
		if (!resume) {
			s->end = s->pos + s->want;
			j->next = s->end;
		}
		io_uring_prep_writev(sqe, j->fd, s->iov, (unsigned)n,
				     (uint64_t)j->file_off + (s->pos - j->off));
		sqe_own(sqe, s);
		s->busy = true;
		j->inflight++;
		prepared++;
	}
	return prepared;
}

static int
prep_socket(struct rope_uring_job *j, struct io_uring *ring)
{
	struct io_uring_sqe *sqes[JOB_SLOTS];
	unsigned space = io_uring_sq_space_left(ring);
	uint64_t pos = j->cursor;
	int n = 0;

	if (j->error || j->chain || pos == j->end)
		return 0;
	/*
	 * One chain at a time, from the cursor; slots whose zero-copy
	 * notification is pending keep their byte count for it.
	 *
	 * Zero-copy sends are never linked. On kernel 6.18, SENDMSG_ZC links
	 * cancelled by a short or failed head complete without F_MORE and
	 * still post a notification later, so F_MORE could not be trusted
	 * to say whether one comes. Alone, a ZC send is never cancelled.
	 */
	if (j->flags & ROPE_URING_ZC)
		space = MIN(space, 1u);
	for (int i = 0; i < JOB_SLOTS && pos < j->end && (unsigned)n < space;
	     i++) {
		struct slot *s = &j->slots[i];
		int cnt;

		if (s->busy || s->notif)
			continue;
		cnt = slot_fill(j, s, pos, j->end);
		if (cnt < 0) {
			if (!n)
				return cnt;
			break;
		}
		/* No SQE (a full SQ): send the chain as it stands. */
		sqes[n] = rope__uring->get_sqe(ring);
		if (!sqes[n])
			break;
		memset(&s->mh, 0, sizeof(s->mh));
		s->mh.msg_iov = s->iov;
		s->mh.msg_iovlen = (size_t)cnt;
		if (j->flags & ROPE_URING_ZC) {
			io_uring_prep_sendmsg_zc(sqes[n], j->fd, &s->mh,
						 MSG_WAITALL);
			sqes[n]->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
		} else {
			io_uring_prep_sendmsg(sqes[n], j->fd, &s->mh,
					      MSG_WAITALL);
		}
		sqe_own(sqes[n], s);
		s->busy = true;
		j->order[n++] = s;
		pos += s->want;
	}
	/* Link all but the last: the kernel runs them in order, and a short
	 * one cancels the rest, which we resume from the cursor. */
	for (int k = 0; k + 1 < n; k++)
		sqes[k]->flags |= IOSQE_IO_LINK;
	j->chain = (unsigned)n;
	j->chain_got = 0;
	j->inflight += (unsigned)n;
	return n;
}

ROPEIO_EXPORT int
rope_uring_job_prep(struct rope_uring_job *j, struct io_uring *ring)
{
	if (!j || !ring)
		return -EINVAL;
	return is_socket(j) ? prep_socket(j, ring) : prep_file(j, ring);
}

ROPEIO_EXPORT unsigned
rope_uring_job_inflight(const struct rope_uring_job *j)
{
	return j ? j->inflight : 0;
}

void
rope__uring_job_cancel(struct rope_uring_job *j)
{
	if (!j->error)
		j->error = -ECANCELED;
}

int
rope__uring_job_stop(struct rope_uring_job *j, struct io_uring *ring, int err)
{
	if (!j->error)
		j->error = err;
	for (int i = 0; i < JOB_SLOTS; i++) {
		struct slot *s = &j->slots[i];
		struct io_uring_sqe *sqe;

		if (!s->busy)
			continue;
		sqe = rope__uring->get_sqe(ring);
		if (!sqe)
			return -EAGAIN;
		/* Links after a cancelled SQE are cancelled by the kernel;
		 * asking for them too only gets -ENOENT or -EALREADY. */
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)s | 1, 0);
		io_uring_sqe_set_data64(sqe, 0);
	}
	return 0;
}

unsigned
rope__uring_job_busy(const struct rope_uring_job *j)
{
	unsigned n = 0;

	for (int i = 0; i < JOB_SLOTS; i++)
		n += j->slots[i].busy;
	return n;
}

void
rope__uring_job_abandon(struct rope_uring_job *j)
{
	j->inflight = 0;  /* all rope_uring_job_free() asks */
}

ROPEIO_EXPORT struct rope_uring_job *
rope_uring_cqe_job(const struct io_uring_cqe *cqe)
{
	uint64_t d = cqe ? io_uring_cqe_get_data64(cqe) : 0;

	if (!(d & 1))
		return NULL;
	return ((struct slot *)(uintptr_t)(d & ~(uint64_t)1))->job;
}

ROPEIO_EXPORT bool
rope_uring_job_done(const struct rope_uring_job *j)
{
	if (!j || j->inflight || j->chain)
		return false;
	if (j->error)
		return true;
	if (is_socket(j))
		return j->cursor == j->end;
	if (j->next < j->end)
		return false;
	for (int i = 0; i < JOB_SLOTS; i++)
		if (j->slots[i].pos < j->slots[i].end)
			return false;
	return true;
}

/* The job's first error is its result. */
static void
job_fail(struct rope_uring_job *j, int err)
{
	if (!j->error)
		j->error = err;
}

static void
complete_file(struct rope_uring_job *j, struct slot *s, int res)
{
	if (res == -EINTR || res == -EAGAIN)
		return;  /* the window is resubmitted as it was */
	if (res <= 0) {
		/* A write of nothing would loop forever: report it. */
		job_fail(j, res ? res : -EIO);
		s->pos = s->end;
		return;
	}
	j->written += (uint64_t)res;
	s->pos += (uint64_t)res;
}

/* All results of a chain are in: move the cursor over what was sent. */
static void
chain_done(struct rope_uring_job *j)
{
	for (unsigned k = 0; k < j->chain; k++) {
		struct slot *s = j->order[k];
		int res = s->res;

		if (res == -ECANCELED || res == -EINTR || res == -EAGAIN)
			break;
		if (res == -EOPNOTSUPP && (j->flags & ROPE_URING_ZC)) {
			/* No zero copy for this socket type (AF_UNIX). */
			j->flags &= ~(unsigned)ROPE_URING_ZC;
			j->zc.disabled = true;
			break;
		}
		if (res < 0) {
			job_fail(j, res);
			break;
		}
		if (res == 0) {
			job_fail(j, -EIO);
			break;
		}
		j->cursor += (uint64_t)res;
		if ((size_t)res < s->want)
			break;
	}
	j->chain = 0;
}

static void
complete_notif(struct rope_uring_job *j, struct slot *s, int res)
{
	s->notif = false;
	j->zc.notifs++;
	if ((uint32_t)res & IORING_NOTIF_USAGE_ZC_COPIED)
		j->zc.copied++;
	else
		j->zc.zc_bytes += s->zc_len;
	/* The kernel copies anyway (loopback, veth, no scatter-gather):
	 * zero copy only costs the notifications. */
	if (j->zc.copied >= ZC_GIVE_UP && !j->zc.zc_bytes &&
	    (j->flags & ROPE_URING_ZC)) {
		j->flags &= ~(unsigned)ROPE_URING_ZC;
		j->zc.disabled = true;
	}
}

ROPEIO_EXPORT int
rope_uring_job_complete(struct rope_uring_job *j,
			const struct io_uring_cqe *cqe)
{
	struct slot *s;

	if (!j || rope_uring_cqe_job(cqe) != j)
		return -EINVAL;
	s = (struct slot *)(uintptr_t)(io_uring_cqe_get_data64(cqe) & ~(uint64_t)1);
	if (cqe->flags & IORING_CQE_F_NOTIF) {
		/* Only a notification announced by F_MORE was counted. */
		if (s->notif) {
			j->inflight--;
			complete_notif(j, s, cqe->res);
		}
		return rope_uring_job_done(j);
	}
	j->inflight--;
	s->busy = false;
	if (!is_socket(j)) {
		complete_file(j, s, cqe->res);
		return rope_uring_job_done(j);
	}
	s->res = cqe->res;
	if (cqe->flags & IORING_CQE_F_MORE) {
		/* A zero-copy send: the bytes stay pinned until its
		 * notification, which may come long after (a TCP ACK). */
		s->notif = true;
		s->zc_len = cqe->res > 0 ? (size_t)cqe->res : 0;
		j->inflight++;
		j->zc.sends++;
	}
	if (++j->chain_got == j->chain)
		chain_done(j);
	return rope_uring_job_done(j);
}

ROPEIO_EXPORT ssize_t
rope_uring_job_result(const struct rope_uring_job *j)
{
	if (!j)
		return -EINVAL;
	if (!rope_uring_job_done(j))
		return -EINPROGRESS;
	if (j->error)
		return j->error;
	return (ssize_t)rope_uring_job_progress(j);
}

ROPEIO_EXPORT size_t
rope_uring_job_progress(const struct rope_uring_job *j)
{
	if (!j)
		return 0;
	return (size_t)(is_socket(j) ? j->cursor - j->off : j->written);
}

ROPEIO_EXPORT int
rope_uring_job_zc_stats(const struct rope_uring_job *j,
			struct rope_uring_zc_stats *out)
{
	if (!j || !out)
		return -EINVAL;
	*out = j->zc;
	return 0;
}
