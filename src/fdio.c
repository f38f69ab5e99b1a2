/* SPDX-License-Identifier: MIT */
/*
 * Plain-syscall I/O between ropes and file descriptors: readv straight into
 * the rope's free tail space, and pwritev/sendmsg/writev from segments in
 * windows of at most IOV_MAX iovecs. No byte is copied in user space.
 *
 * These functions call libc, which may set errno; they save and restore it,
 * so that errno is never part of ropeio's interface.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rope-priv.h"

/* Reads into a fresh chunk ask for at least this much room, so that a
 * stream of socket reads does not become a stream of tiny chunks. */
#define READ_CHUNK_MIN (64u * 1024)

/* The values of struct rope's out_mode (0 is OUT_PROBE). */
enum out_mode {
	OUT_PROBE,   /* not known yet: try sendmsg, fall back to writev */
	OUT_SEND,    /* a socket: sendmsg(MSG_NOSIGNAL), never SIGPIPE */
	OUT_NOWAIT,  /* a socket, never blocking: MSG_DONTWAIT too */
	OUT_WRITEV,  /* a pipe, tty or file at its current offset */
	OUT_PWRITE,  /* a file at an explicit offset */
};

/* @more: bytes follow this call's (MSG_MORE to a socket, so a head and
 * the file range after it leave in full segments). */
static ssize_t
out_once(int fd, enum out_mode *mode, const struct iovec *iov, int cnt,
	 int64_t file_off, bool more)
{
	struct msghdr mh = { 0 };
	ssize_t w;

	switch (*mode) {
	case OUT_PWRITE:
		return rope__sys->pwritev(fd, iov, cnt, file_off);
	case OUT_WRITEV:
		return rope__sys->writev(fd, iov, cnt);
	case OUT_PROBE:
	case OUT_SEND:
	case OUT_NOWAIT:
		break;
	}
	mh.msg_iov = (struct iovec *)iov;
	mh.msg_iovlen = (size_t)cnt;
	w = rope__sys->sendmsg(fd, &mh, MSG_NOSIGNAL |
			       (*mode == OUT_NOWAIT ? MSG_DONTWAIT : 0) |
			       (more ? MSG_MORE : 0));
	if (w < 0 && errno == ENOTSOCK && *mode != OUT_NOWAIT) {
		/* Not a socket (any more: a remembered number may have been
		 * closed and reused for a pipe or a file). A send that must
		 * not block has no writev(2) to fall back on. */
		*mode = OUT_WRITEV;
		return rope__sys->writev(fd, iov, cnt);
	}
	if (w >= 0 && *mode == OUT_PROBE)
		*mode = OUT_SEND;
	return w;
}

/*
 * Whether a send that must not block (OUT_NOWAIT, the engine's poll
 * backend) may hand a file range to sendfile(2), which has no
 * MSG_DONTWAIT: only on a descriptor whose own O_NONBLOCK makes it return
 * EAGAIN rather than wait. One fcntl(2) per file range met, against a
 * send of up to a socket buffer.
 */
static bool
nowait_by_flag(int fd)
{
	int saved = errno, fl = fcntl(fd, F_GETFL);

	errno = saved;
	return fl >= 0 && (fl & O_NONBLOCK);
}

/*
 * Send up to @len bytes from coordinate @pos, in segment @i of @segs, when
 * that segment is a file range: by its descriptor (sendfile(2), or
 * copy_file_range(2) to a file at an offset). Where it is not one, where
 * the kernel will not (an O_APPEND file, a descriptor it cannot splice
 * to) or where it must not block (OUT_NOWAIT on a blocking socket), 0
 * says: write the mapped bytes instead.
 */
static ssize_t
file_out(const struct rope_seg *segs, size_t i, uint64_t pos, size_t len,
	 int fd, enum out_mode mode, int64_t file_off)
{
	int in;
	int64_t off;
	size_t left;
	ssize_t w;

	if (!rope__seg_file_at(segs, i, pos, &in, &off, &left))
		return 0;
	if (mode == OUT_NOWAIT && !nowait_by_flag(fd))
		return 0;
	len = MIN(len, left);
	w = rope__file_send(fd, in, off, len,
			    mode == OUT_PWRITE ? file_off : -1);
	if (w < 0 && (errno == EINVAL || errno == ENOSYS ||
		      errno == EXDEV || errno == EOPNOTSUPP))
		return 0;
	return w;
}

/*
 * Write @len bytes from coordinate @pos of a segment array to @fd. Loops
 * over windows and short writes until everything is written or the fd
 * refuses (EAGAIN on a full non-blocking socket, ENOSPC, EPIPE...). Returns
 * the bytes written, or -errno when none could be. File ranges go out by
 * their descriptor, the rest in windows of iovecs.
 */
static ssize_t
segs_write(const struct rope_seg *segs, size_t n, uint64_t pos, size_t len,
	   int fd, enum out_mode *mode, int64_t file_off)
{
	struct iovec iov[IOV_MAX];
	size_t done = 0;
	int saved = errno, err = 0;

	len = MIN(len, (size_t)SSIZE_MAX);
	while (done < len) {
		uint64_t at = pos + done;
		size_t i = rope__segs_find(segs, n, at);
		ssize_t w = file_out(segs, i, at, len - done, fd, *mode,
				     file_off + (int64_t)done);
		size_t span, cnt;

		if (w == 0) {
			span = rope__span_before_file(segs, n, i, at,
						      len - done);
			/* A file range the kernel would not take: its
			 * mapped bytes, one segment at a time. */
			if (span == 0)
				span = (size_t)MIN((uint64_t)(len - done),
						   segs[i].start +
						   segs[i].len - at);
			cnt = rope__segs_iov(segs, n, at, span, iov,
					     IOV_MAX);
			w = out_once(fd, mode, iov, (int)cnt,
				     file_off + (int64_t)done,
				     span < len - done);
		}

		if (w < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		if (w == 0)
			break;  /* nothing more will go: not an error */
		done += (size_t)w;
	}
	errno = saved;
	if (done == 0 && err)
		return -err;
	return (ssize_t)done;
}

static int
check_snap_range(const struct rope_snap *s, size_t off, int fd)
{
	if (!s || fd < 0 || (uint64_t)off > s->size)
		return -EINVAL;
	return 0;
}

ROPEIO_EXPORT ssize_t
rope_snap_write_fd(const struct rope_snap *s, size_t off, size_t len, int fd)
{
	int ret = check_snap_range(s, off, fd);
	enum out_mode mode = OUT_PROBE;

	if (ret < 0)
		return ret;
	len = (size_t)MIN((uint64_t)len, s->size - off);
	/* A snapshot is shared and const: what the fd is can be learned
	 * only for this call (once, not once per window). */
	return segs_write(s->segs, s->nseg, s->base + off, len, fd, &mode, 0);
}

ssize_t
rope__snap_send_nowait(const struct rope_snap *s, size_t off, size_t len,
		       int fd)
{
	enum out_mode mode = OUT_NOWAIT;

	return segs_write(s->segs, s->nseg, s->base + off, len, fd, &mode, 0);
}

ROPEIO_EXPORT ssize_t
rope_snap_pwrite(const struct rope_snap *s, size_t off, size_t len, int fd,
		 int64_t file_off)
{
	int ret = check_snap_range(s, off, fd);
	enum out_mode mode = OUT_PWRITE;

	if (ret < 0)
		return ret;
	if (file_off < 0)
		return -EINVAL;
	len = (size_t)MIN((uint64_t)len, s->size - off);
	if ((uint64_t)len > (uint64_t)INT64_MAX - (uint64_t)file_off)
		return -EOVERFLOW;
	return segs_write(s->segs, s->nseg, s->base + off, len, fd, &mode,
			  file_off);
}

/* What rope_read_fd and rope_write_fd refuse before touching the fd. */
static int
check_rope_fd(const struct rope *r, int fd)
{
	if (!r || fd < 0)
		return -EINVAL;
	if (r->closed)
		return -EBADF;
	return r->exports ? -EBUSY : 0;
}

/*
 * What rope_write_fd() calls first. A rope remembers what the descriptor it
 * wrote to last is, by number (invariant 8), because a failed sendmsg costs
 * a third to half of a small writev, and a per-call fstat(2) costs more
 * than the sendmsg it would save (research in the commit that added this).
 * A number can be closed and reused: a socket memory that meets a pipe or a
 * file falls back on ENOTSOCK, at the cost of one call; the other way round
 * (writev on what became a socket) would lose MSG_NOSIGNAL, so that memory
 * is forgotten whenever the caller empties the rope (rope_drain(),
 * rope_truncate()), which a rope handed to a new connection goes through.
 */
ROPEIO_EXPORT ssize_t
rope_write_fd(struct rope *r, int fd, size_t max)
{
	enum out_mode mode;
	ssize_t w = check_rope_fd(r, fd);

	if (w < 0)
		return w;
	mode = r->out_fd == fd ? (enum out_mode)r->out_mode : OUT_PROBE;
	/* The segments are used in place: nothing else can change the rope
	 * while this thread is in the syscall. */
	w = segs_write(r->segs, r->nseg, r->base,
		       (size_t)MIN((uint64_t)max, r->size), fd, &mode, 0);
	if (w > 0)
		rope_drain(r, (size_t)w);
	/* After the drain, which forgets: this drain is ours, not the
	 * caller's, and the fd is what we just learned. */
	if (mode != OUT_PROBE) {
		r->out_fd = fd;
		r->out_mode = (uint8_t)mode;
	}
	return w;
}

ROPEIO_EXPORT ssize_t
rope_read_fd(struct rope *r, int fd, size_t max)
{
	struct rope_chunk *fresh = NULL;
	struct iovec iov[2];
	uint8_t *tail;
	size_t room;
	ssize_t got = check_rope_fd(r, fd);
	int cnt = 0, saved;
	bool held = false;

	if (got < 0)
		return got;
	max = MIN(max, (size_t)SSIZE_MAX);
	if ((uint64_t)max > ROPE_MAX_SIZE - r->size)
		max = (size_t)(ROPE_MAX_SIZE - r->size);
	if (max == 0)
		return 0;

	/* Read into the tail room first, then into one fresh chunk; both
	 * exist before the read, so a failure changes nothing. Without a
	 * tail room, room held past a reference takes the read first, as it
	 * takes a write (rope.c), unless it is so small that reads would
	 * come up short. */
	room = rope__tail_reserve(r, &tail);  /* once: it may claim the room */
	if (!room && rope__held_reserve(r, &tail) >= MIN(max, (size_t)4096)) {
		held = true;
		room = rope__held_reserve(r, &tail);
		if (rope__segs_reserve(r, 1) < 0)
			return -ENOMEM;
	}
	room = MIN(room, max);
	if (room) {
		iov[cnt].iov_base = tail;
		iov[cnt++].iov_len = room;
	}
	if (room < max) {
		size_t want = max - room;
		size_t cap = MIN(want, MAX(rope__tail_size(r, 0),
					   (size_t)READ_CHUNK_MIN));

		/* The spare serves when it holds the whole read: a queue
		 * read and drained over and over reuses one chunk. */
		fresh = rope__tail_fresh(r, cap, cap);
		if (!fresh)
			return -ENOMEM;
		if (rope__segs_reserve(r, held ? 2 : 1) < 0) {
			rope__tail_discard(r, fresh);
			return -ENOMEM;
		}
		cap = MIN(fresh->cap, want);  /* a larger spare: no more */
		iov[cnt].iov_base = fresh->data;
		iov[cnt++].iov_len = cap;
	}

	saved = errno;
	got = rope__sys->readv(fd, iov, cnt);
	if (got < 0)
		got = -errno;
	errno = saved;
	if (got <= 0) {
		if (fresh)
			rope__tail_discard(r, fresh);
		return got;
	}
	if (room && held)
		rope__held_commit(r, MIN((size_t)got, room));
	else if (room)
		rope__tail_commit(r, MIN((size_t)got, room));
	if ((size_t)got > room)
		rope__tail_push(r, fresh, (size_t)got - room);
	else if (fresh)
		rope__tail_discard(r, fresh);
	return got;
}
