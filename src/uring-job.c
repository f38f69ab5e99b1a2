/* SPDX-License-Identifier: MIT */
/*
 * A job: one snapshot range sent to one fd through a ring the caller owns.
 * The rules it follows were tested on this project's kernel and are
 * summarised in ropeio-uring.h: WRITEV windows at explicit offsets for
 * files; one linked chain of SENDMSG(MSG_WAITALL) at a time for sockets,
 * resumed from the byte cursor; SENDMSG_ZC notifications keyed by flag, not
 * by order.
 *
 * File ranges (rope_append_file()) go to a socket by IORING_OP_SPLICE
 * through a pipe of the job's own, made when the job first meets one: a
 * splice from the file into the pipe, linked to a splice from the pipe to
 * the socket, in the same chain as the SENDMSGs around them, so the file's
 * pages never pass through user space. Bytes a chain left in the pipe (a
 * short or refused splice to the socket) are the chain's first request the
 * next time, before anything else; the cursor counts only what reached the
 * socket. To a file destination, a file range stays a WRITEV of its
 * mapping: the kernel copies it once either way.
 *
 * Each SQE in flight belongs to a slot, which keeps its iovec array and
 * message header until the CQE (SQPOLL rings read them late). The job keeps
 * a reference to the snapshot, so the bytes outlive every request.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

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
/* A pipe's unit: a splice into it takes at most one page per buffer. */
#define PIPE_PAGE 4096u
/* A new pipe's capacity (16 buffers), unless its user has too many. */
#define PIPE_DEFAULT (16u * PIPE_PAGE)

/*
 * What a job's pipe asks F_SETPIPE_SZ for. 256 KiB moves a 16 MiB file in
 * 64 round trips and stays within the default per-user soft limit
 * (fs.pipe-user-pages-soft, 64 MiB) for 256 jobs at once; the kernel
 * allocates the pages' slots, not the pages (those are the page cache's).
 * Where it refuses (EPERM past that limit), the pipe keeps its default.
 */
size_t rope__uring_pipe_want = 256u * 1024;

/* What each SQE of a socket's chain does. */
enum slot_op {
	OP_SEND,        /* SENDMSG (or SENDMSG_ZC) of memory segments */
	OP_FILE_PIPE,   /* SPLICE from a file range into the job's pipe */
	OP_PIPE_SOCK,   /* SPLICE from the pipe to the socket */
	OP_POLL,        /* POLL_ADD(POLLOUT): the last splice said EAGAIN */
};

struct slot {
	struct rope_uring_job *job;
	uint64_t pos;        /* snapshot offset of the next byte to send */
	uint64_t end;        /* files: end of this slot's window */
	size_t want;         /* bytes asked by the request in flight */
	int res;             /* sockets: result in the current chain */
	bool busy;           /* a result CQE is expected */
	uint8_t op;          /* sockets: enum slot_op */
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
	int pipe[2];         /* sockets: for file ranges; -1 until one */
	size_t pipe_cap;     /* its capacity */
	size_t piped;        /* bytes in it: [cursor, cursor + piped) */
	bool wait_out;       /* a splice to the socket said EAGAIN */
	bool spliced;        /* a splice from a file went through */
	bool no_splice;      /* file ranges go as mapped bytes */
	bool engine;         /* an engine's: may send inline (prep_inline) */
	uint8_t inline_mode; /* INLINE_UNKNOWN, INLINE_YES or INLINE_NO */
	struct slot slots[JOB_SLOTS];
};

static void job_fail(struct rope_uring_job *j, int err);

/* Whether an engine's job sends inline (prep_inline), learned once. */
enum { INLINE_UNKNOWN, INLINE_YES, INLINE_NO };

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
	j->pipe[0] = j->pipe[1] = -1;
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
	if (j->pipe[0] >= 0) {
		int saved = errno;

		close(j->pipe[0]);
		close(j->pipe[1]);
		errno = saved;
	}
	rope_snap_unref(j->snap);
	rope__free(j, sizeof(*j));
	return 0;
}

/*
 * The job's pipe, made the first time it meets a file range, at @pos.
 * Without one (no descriptor left), the job sends file ranges as mapped
 * bytes: slower, but the send goes through.
 *
 * Its capacity is what F_SETPIPE_SZ answers; a job with no more than the
 * default's 64 KiB left (a small static file) keeps the default and asks
 * nothing. Should the real capacity be smaller (a user past
 * fs.pipe-user-pages-soft gets two pages), the splice into the empty pipe
 * only comes up short, which a chain handles as any short transfer.
 */
static bool
pipe_ready(struct rope_uring_job *j, uint64_t pos)
{
	int saved = errno, cap = -1;

	if (j->pipe[0] >= 0)
		return true;
	if (j->no_splice)
		return false;
	if (pipe2(j->pipe, O_CLOEXEC) < 0) {
		errno = saved;
		j->pipe[0] = j->pipe[1] = -1;
		j->no_splice = true;
		return false;
	}
	if (rope__uring_pipe_want &&
	    (j->end - pos > PIPE_DEFAULT ||
	     rope__uring_pipe_want < PIPE_DEFAULT))
		cap = fcntl(j->pipe[1], F_SETPIPE_SZ,
			    (int)MIN(rope__uring_pipe_want, (size_t)INT_MAX));
	j->pipe_cap = cap >= (int)PIPE_PAGE ? (size_t)cap : PIPE_DEFAULT;
	errno = saved;
	return true;
}

/*
 * Whether the snapshot offset @pos is in a file range that goes by splice
 * (then its descriptor, the file offset of @pos, and the bytes to send
 * from it: to the segment's end, the job's end, and what the pipe holds);
 * or else how many bytes from @pos, up to @end, come before one (*@len).
 */
static bool
file_at(struct rope_uring_job *j, uint64_t pos, uint64_t end, int *fd,
	int64_t *off, size_t *len)
{
	const struct rope_snap *sn = j->snap;
	uint64_t at = sn->base + pos;
	size_t i = rope__segs_find(sn->segs, sn->nseg, at);
	size_t want = (size_t)MIN(end - pos, (uint64_t)WINDOW_MAX);

	if (!j->no_splice &&
	    rope__seg_file_at(sn->segs, i, at, fd, off, len) &&
	    pipe_ready(j, pos)) {
		/* A splice into the pipe fills one buffer per page touched:
		 * an offset inside a page costs one buffer's room. */
		*len = MIN(MIN(*len, want),
			   j->pipe_cap - (size_t)(*off % PIPE_PAGE));
		return true;
	}
	*len = j->no_splice ? want
		: rope__span_before_file(sn->segs, sn->nseg, i, at, want);
	return false;
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

/* A slot free for a new SQE (no result and no notification pending). */
static struct slot *
slot_free(struct rope_uring_job *j)
{
	for (int i = 0; i < JOB_SLOTS; i++)
		if (!j->slots[i].busy && !j->slots[i].notif)
			return &j->slots[i];
	return NULL;
}

/* Take an SQE for slot @s doing @op over @want bytes from @pos, as the
 * chain's next, or NULL (a full SQ). */
static struct io_uring_sqe *
chain_add(struct rope_uring_job *j, struct io_uring *ring,
	  struct io_uring_sqe **sqes, int *n, struct slot *s,
	  enum slot_op op, uint64_t pos, size_t want)
{
	struct io_uring_sqe *sqe = rope__uring->get_sqe(ring);

	if (!sqe)
		return NULL;
	s->op = (uint8_t)op;
	s->pos = pos;
	s->want = want;
	sqe_own(sqe, s);
	s->busy = true;
	j->order[*n] = s;
	sqes[(*n)++] = sqe;
	return sqe;
}

/*
 * MSG_MORE when the job has bytes after @pos: a response's head and the
 * file range after it leave in full segments (as nginx's TCP_NOPUSH does),
 * not as a small packet of their own; the job's last request pushes.
 */
static int
more_after(const struct rope_uring_job *j, uint64_t pos)
{
	return pos < j->end ? MSG_MORE : 0;
}

/*
 * The pipe's bytes to the socket: SPLICE, after a POLL_ADD(POLLOUT) when
 * the last one found the socket's buffer full (a splice to a non-blocking
 * socket says EAGAIN and is not retried by the kernel, unlike SENDMSG).
 * Returns false when no SQE or slot was left for it (the poll may then be
 * a chain of its own, and the splice waits for the next).
 */
static bool
chain_pipe_out(struct rope_uring_job *j, struct io_uring *ring,
	       struct io_uring_sqe **sqes, int *n, unsigned space,
	       uint64_t pos, size_t len)
{
	struct io_uring_sqe *sqe;
	struct slot *s;

	if (j->wait_out) {
		if ((unsigned)*n + 1 > space || !(s = slot_free(j)))
			return false;
		sqe = chain_add(j, ring, sqes, n, s, OP_POLL, pos, 0);
		if (!sqe)
			return false;
		io_uring_prep_poll_add(sqe, j->fd, POLLOUT);
		j->wait_out = false;
	}
	if ((unsigned)*n + 1 > space || !(s = slot_free(j)))
		return false;
	sqe = chain_add(j, ring, sqes, n, s, OP_PIPE_SOCK, pos, len);
	if (!sqe)
		return false;
	io_uring_prep_splice(sqe, j->pipe[0], -1, j->fd, -1, (unsigned)len,
			     more_after(j, pos + len) ? SPLICE_F_MORE : 0);
	return true;
}

/*
 * An engine's send with a file range, to a non-blocking socket, is written
 * inline: sendmsg(MSG_DONTWAIT) for memory and sendfile(2) for file
 * ranges, as the poll backend does, until the socket's buffer is full;
 * then a lone POLL_ADD(POLLOUT) waits, and the next prep writes on.
 * The kernel runs every IORING_OP_SPLICE in a worker thread, two per file
 * piece: for the small files a server sends, those switches cost more CPU
 * than the send itself (a 64 KiB file: 26 us a request by splice, 10 by
 * the mapping). sendfile(2) touches no user mapping either. A job of the
 * public API keeps to SQEs (its caller waits for their CQEs), and so does
 * a blocking socket (sendfile would block the engine's thread).
 *
 * Returns -1 where the job does not send inline, else the SQEs prepared
 * (0 once the job is done, inline, or has failed).
 */
static int
prep_inline(struct rope_uring_job *j, struct io_uring *ring)
{
	struct io_uring_sqe *sqe;
	struct slot *s;
	ssize_t w;

	if (j->inline_mode == INLINE_UNKNOWN) {
		const struct rope_snap *sn = j->snap;
		uint64_t at = sn->base + j->cursor;
		size_t len = (size_t)MIN(j->end - j->cursor,
					 (uint64_t)SIZE_MAX);
		size_t i = rope__segs_find(sn->segs, sn->nseg, at);
		int saved = errno, fl;

		j->inline_mode = INLINE_NO;
		if (j->engine && !(j->flags & ROPE_URING_ZC) && !j->piped &&
		    rope__span_before_file(sn->segs, sn->nseg, i, at, len) <
			    len &&
		    (fl = fcntl(j->fd, F_GETFL)) >= 0 && (fl & O_NONBLOCK))
			j->inline_mode = INLINE_YES;
		errno = saved;
	}
	if (j->inline_mode != INLINE_YES)
		return -1;
	w = rope__snap_send_nowait(j->snap, (size_t)j->cursor,
				   (size_t)MIN(j->end - j->cursor,
					       (uint64_t)SSIZE_MAX),
				   j->fd);
	if (w > 0)
		j->cursor += (uint64_t)w;
	else if (w == 0)
		w = -EIO;  /* a send of nothing would loop forever */
	if (w < 0 && w != -EAGAIN && w != -EINTR) {
		job_fail(j, (int)w);
		return 0;
	}
	if (j->cursor == j->end)
		return 0;
	/* The socket's buffer is full: wait for room, as a chain of one. */
	s = slot_free(j);
	if (!s || !(sqe = rope__uring->get_sqe(ring)))
		return 0;  /* the next round tries again */
	io_uring_prep_poll_add(sqe, j->fd, POLLOUT);
	s->op = OP_POLL;
	s->pos = j->cursor;
	s->want = 0;
	sqe_own(sqe, s);
	s->busy = true;
	j->order[0] = s;
	j->chain = 1;
	j->chain_got = 0;
	j->inflight++;
	return 1;
}

static int
prep_socket(struct rope_uring_job *j, struct io_uring *ring)
{
	struct io_uring_sqe *sqes[JOB_SLOTS];
	unsigned space = MIN(io_uring_sq_space_left(ring), (unsigned)JOB_SLOTS);
	uint64_t pos = j->cursor;
	int n = 0, err = 0;

	if (j->error || j->chain || pos == j->end)
		return 0;
	n = prep_inline(j, ring);
	if (n >= 0)
		return n;
	n = 0;
	/* What the pipe holds is the next bytes on the wire. */
	if (j->piped) {
		if (!chain_pipe_out(j, ring, sqes, &n, space, pos, j->piped))
			goto link;
		pos += j->piped;
	}
	/*
	 * One chain at a time, from the cursor; slots whose zero-copy
	 * notification is pending keep their byte count for it.
	 *
	 * Zero-copy sends are never linked. On kernel 6.18, SENDMSG_ZC links
	 * cancelled by a short or failed head complete without F_MORE and
	 * still post a notification later, so F_MORE could not be trusted
	 * to say whether one comes. Alone, a ZC send is never cancelled.
	 * File ranges go by splice all the same: the pages are the page
	 * cache's, which no copy could avoid better.
	 */
	while (pos < j->end && (unsigned)n < space) {
		struct io_uring_sqe *sqe;
		struct slot *s = slot_free(j);
		size_t len;
		int64_t off;
		int in, cnt;

		if (!s)
			break;
		if (file_at(j, pos, j->end, &in, &off, &len)) {
			/* Both halves, or neither: bytes left in the pipe
			 * are correct, but take a chain more. Alone, the
			 * first half (an SQ of one entry). */
			if (n && (unsigned)n + 2 > space)
				break;
			sqe = chain_add(j, ring, sqes, &n, s, OP_FILE_PIPE, pos,
					len);
			if (!sqe)
				break;
			io_uring_prep_splice(sqe, in, off, j->pipe[1], -1,
					     (unsigned)len, 0);
			if (!chain_pipe_out(j, ring, sqes, &n, space, pos, len))
				break;
			pos += len;
			continue;
		}
		if ((j->flags & ROPE_URING_ZC) && n)
			break;
		cnt = slot_fill(j, s, pos, pos + len);
		if (cnt < 0) {
			err = cnt;
			break;
		}
		/* No SQE (a full SQ): send the chain as it stands. */
		sqe = chain_add(j, ring, sqes, &n, s, OP_SEND, pos, s->want);
		if (!sqe)
			break;
		memset(&s->mh, 0, sizeof(s->mh));
		s->mh.msg_iov = s->iov;
		s->mh.msg_iovlen = (size_t)cnt;
		if (j->flags & ROPE_URING_ZC) {
			io_uring_prep_sendmsg_zc(sqe, j->fd, &s->mh,
						 MSG_WAITALL |
						 more_after(j, pos + s->want));
			sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
			pos += s->want;
			break;
		}
		io_uring_prep_sendmsg(sqe, j->fd, &s->mh,
				      MSG_WAITALL | more_after(j, pos + s->want));
		pos += s->want;
	}
link:
	if (!n)
		return err;
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
rope__uring_job_engine(struct rope_uring_job *j)
{
	j->engine = true;
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

/*
 * All results of a chain are in: move the cursor over what reached the
 * socket, and count what a splice left in the pipe. The first short,
 * failed or cancelled request ends the walk: the kernel cancelled the
 * links after it.
 */
static void
chain_done(struct rope_uring_job *j)
{
	for (unsigned k = 0; k < j->chain; k++) {
		struct slot *s = j->order[k];
		int res = s->res;

		if (res == -ECANCELED || res == -EINTR)
			break;
		if (res == -EAGAIN) {
			/* Only a splice to a non-blocking socket says so. */
			j->wait_out = s->op == OP_PIPE_SOCK;
			break;
		}
		if (s->op == OP_POLL) {
			if (res < 0) {
				job_fail(j, res);
				break;
			}
			continue;
		}
		if (res == -EOPNOTSUPP && s->op == OP_SEND &&
		    (j->flags & ROPE_URING_ZC)) {
			/* No zero copy for this socket type (AF_UNIX). */
			j->flags &= ~(unsigned)ROPE_URING_ZC;
			j->zc.disabled = true;
			break;
		}
		if (res == -EINVAL && s->op == OP_FILE_PIPE && !j->spliced) {
			/* A ring without IORING_OP_SPLICE (before 5.7), or a
			 * file system that cannot splice: mapped bytes. */
			j->no_splice = true;
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
		if (s->op == OP_FILE_PIPE) {
			j->spliced = true;
			j->piped += (size_t)res;
		} else {
			if (s->op == OP_PIPE_SOCK)
				j->piped -= (size_t)res;
			j->cursor += (uint64_t)res;
		}
		/* A short splice into the pipe fails its link, so the
		 * splice out of it comes back -ECANCELED; if it ran all the
		 * same, it sent what there was, and its result says so. */
		if ((size_t)res < s->want && s->op != OP_FILE_PIPE)
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
