/* SPDX-License-Identifier: MIT */
/*
 * A file range as a segment (rope_append_file()): evbuffer_add_file(),
 * Netty's FileRegion.
 *
 * The range is mapped read-only (mmap(2), MAP_PRIVATE, nothing read until
 * touched) and becomes an external chunk whose release unmaps it and closes
 * the rope's own duplicate of the descriptor. So everything that reads
 * bytes (reads, getvalue, getbuffer, pullup, cursors, snapshots' iovecs)
 * works on it unchanged, and an overwrite copies as for any memory the
 * rope does not own. What sends it recognises it by its release function
 * and hands the kernel the descriptor instead, so its pages never pass
 * through user space there: fdio.c and the engine's poll backend with
 * sendfile(2) and copy_file_range(2), the engine's io_uring jobs with
 * IORING_OP_SPLICE through a pipe (uring-job.c).
 *
 * The file must not change while a rope holds the range (as for sendfile):
 * a file truncated under a mapping raises SIGBUS on access.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rope-priv.h"

/* What a file chunk's release needs, and what a sender needs. */
struct file_range {
	int fd;                /* the rope's own duplicate */
	int64_t off;           /* the file offset of the chunk's first byte */
	void *map;             /* the whole mapping, page-aligned */
	size_t map_len;
};

static void
file_release(void *data, size_t len, void *arg)
{
	struct file_range *f = arg;

	(void)data;
	(void)len;
	munmap(f->map, f->map_len);
	close(f->fd);
	rope__free(f, sizeof(*f));
}

bool
rope__chunk_file(const struct rope_chunk *c, int *fd, int64_t *off)
{
	const struct rope_chunk_external *e;
	const struct file_range *f;

	if (c->kind != ROPE_CHUNK_EXTERNAL)
		return false;
	e = (const struct rope_chunk_external *)c;
	if (e->release != file_release)
		return false;
	f = e->arg;
	*fd = f->fd;
	*off = f->off;
	return true;
}

bool
rope__seg_file_at(const struct rope_seg *segs, size_t i, uint64_t pos,
		  int *fd, int64_t *off, size_t *len)
{
	const struct rope_seg *s = &segs[i];

	if (!rope__chunk_file(s->chunk, fd, off))
		return false;
	*off += (s->data - s->chunk->data) + (int64_t)(pos - s->start);
	*len = (size_t)(s->start + s->len - pos);
	return true;
}

size_t
rope__span_before_file(const struct rope_seg *segs, size_t n, size_t i,
		       uint64_t pos, size_t len)
{
	size_t span = 0;
	int fd;
	int64_t off;

	for (; i < n && span < len; i++) {
		if (rope__chunk_file(segs[i].chunk, &fd, &off))
			break;
		span += (size_t)(segs[i].start + segs[i].len -
				 MAX(pos, segs[i].start));
	}
	return MIN(span, len);
}

ROPEIO_EXPORT int
rope_append_file(struct rope *r, int fd, int64_t off, size_t len)
{
	struct rope_chunk *c;
	struct file_range *f;
	struct stat st;
	size_t page = rope__page_round(1), head;
	int saved = errno, ret = rope__check_writable(r);

	if (ret < 0)
		return ret;
	if (fd < 0 || off < 0)
		return -EINVAL;
	ret = rope__check_extent(r->size, len);
	if (ret < 0)
		return ret;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		errno = saved;
		return ret;
	}
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)len > (uint64_t)st.st_size ||
	    (uint64_t)off > (uint64_t)st.st_size - len)
		return -EINVAL;  /* past the end: a mapping would fault */
	if (len == 0)
		return 0;
	f = rope__alloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	head = (size_t)off % page;
	f->off = off;
	f->map_len = head + len;
	f->map = mmap(NULL, f->map_len, PROT_READ, MAP_PRIVATE, fd,
		      off - (int64_t)head);
	if (f->map == MAP_FAILED) {
		ret = -errno;
		errno = saved;
		rope__free(f, sizeof(*f));
		return ret;
	}
	f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (f->fd < 0) {
		ret = -errno;
		errno = saved;
		munmap(f->map, f->map_len);
		rope__free(f, sizeof(*f));
		return ret;
	}
	c = rope__chunk_new_external((uint8_t *)f->map + head, len,
				     file_release, f);
	if (!c || rope__segs_reserve(r, 1) < 0) {
		if (c) {
			/* Its release would free what we free below. */
			((struct rope_chunk_external *)c)->release = NULL;
			rope__chunk_unref(c);
		}
		munmap(f->map, f->map_len);
		close(f->fd);
		rope__free(f, sizeof(*f));
		errno = saved;
		return -ENOMEM;
	}
	rope__drop_value(r);
	rope__append_window(r, c, c->data, len);
	errno = saved;
	return 0;
}

/*
 * Send @len bytes of a file at @off to @out: sendfile(2) to a socket or a
 * pipe at its offset, copy_file_range(2) to a file at @out_off (>= 0).
 * sendfile(2) has no MSG_NOSIGNAL: SIGPIPE is blocked in this thread around
 * it, and one it raised is taken back, so a peer that closed costs -EPIPE
 * as sendmsg(MSG_NOSIGNAL) does. Returns the bytes sent or -1 with errno.
 *
 * Three system calls where nothing goes wrong: the mask and the send. Only
 * a send that did not take everything can have raised SIGPIPE, so only
 * then is the pending set read; and a SIGPIPE already pending before the
 * call (the caller's own, kept) can be so only if this thread had it
 * blocked: an unblocked one would have been delivered.
 */
ssize_t
rope__file_send(int out, int in, int64_t off, size_t len, int64_t out_off)
{
	sigset_t pipe_only, old, pending;
	struct timespec zero = { 0, 0 };
	bool was_pending = false;
	off_t in_off = (off_t)off;
	ssize_t w;
	int err;

	if (out_off >= 0) {
		off_t o = (off_t)out_off;

		return rope__sys->copy_file_range(in, &in_off, out, &o, len,
						  0);
	}
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
	if (sigismember(&old, SIGPIPE)) {
		sigpending(&pending);
		was_pending = sigismember(&pending, SIGPIPE);
	}
	w = rope__sys->sendfile(out, in, &in_off, len);
	err = errno;
	/* A send that went partly through may raise it too. */
	if (w != (ssize_t)len && !was_pending) {
		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE))
			sigtimedwait(&pipe_only, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return w;
}
