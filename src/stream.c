/* SPDX-License-Identifier: MIT */
/*
 * Reading and the position: read, readline, pread, seek, tell. None of
 * these allocates or changes the contents.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "rope-priv.h"

static int
check_open(const struct rope *r)
{
	if (!r)
		return -EINVAL;
	return r->closed ? -EBADF : 0;
}

/* Copy up to @len bytes from offset @off; returns how many. */
static size_t
copyout(const struct rope *r, uint64_t off, void *dst, size_t len)
{
	uint8_t *d = dst;
	size_t done = 0;

	if (off >= r->size)
		return 0;
	len = (size_t)MIN((uint64_t)len, r->size - off);
	len = MIN(len, (size_t)SSIZE_MAX);
	for (size_t i = rope__find(r, off); done < len; i++) {
		const struct rope_seg *s = &r->segs[i];
		size_t skip = (size_t)(off + done - rope__seg_off(r, s));
		size_t n = MIN(s->len - skip, len - done);

		rope__seg_copyout(s, skip, d + done, n);
		done += n;
	}
	return done;
}

ROPEIO_EXPORT ssize_t
rope_read(struct rope *r, void *buf, size_t len)
{
	size_t n;
	int ret = check_open(r);

	if (ret < 0)
		return ret;
	if (!buf && len)
		return -EINVAL;
	n = copyout(r, r->pos, buf, len);
	r->pos += n;
	return (ssize_t)n;
}

ROPEIO_EXPORT ssize_t
rope_pread(const struct rope *r, void *buf, size_t len, int64_t off)
{
	int ret = check_open(r);

	if (ret < 0)
		return ret;
	if (off < 0 || (!buf && len))
		return -EINVAL;
	return (ssize_t)copyout(r, (uint64_t)off, buf, len);
}

/* Length of the line at the position: through the first '\n' within the
 * next @limit bytes, or @limit. Zero runs hold no '\n'. */
static size_t
line_length(const struct rope *r, size_t limit)
{
	uint64_t off = r->pos;
	size_t seen = 0;

	for (size_t i = rope__find(r, off); seen < limit; i++) {
		const struct rope_seg *s = &r->segs[i];
		size_t skip = (size_t)(off + seen - rope__seg_off(r, s));
		size_t n = MIN(s->len - skip, limit - seen);
		const uint8_t *nl = NULL;

		if (s->chunk->kind != ROPE_CHUNK_ZERO)
			nl = memchr(s->data + skip, '\n', n);
		if (nl)
			return seen + (size_t)(nl - (s->data + skip)) + 1;
		seen += n;
	}
	return limit;
}

ROPEIO_EXPORT ssize_t
rope_readline(struct rope *r, void *buf, size_t len)
{
	size_t limit, n;
	int ret = check_open(r);

	if (ret < 0)
		return ret;
	if (!buf && len)
		return -EINVAL;
	if (r->pos >= r->size || len == 0)
		return 0;
	limit = (size_t)MIN((uint64_t)len, r->size - r->pos);
	limit = MIN(limit, (size_t)SSIZE_MAX);
	n = copyout(r, r->pos, buf, line_length(r, limit));
	r->pos += n;
	return (ssize_t)n;
}

ROPEIO_EXPORT int64_t
rope_seek(struct rope *r, int64_t off, int whence)
{
	int64_t base, pos;
	int ret = check_open(r);

	if (ret < 0)
		return ret;
	/* Wherever it lands, the next write checks it on the slow path. */
	rope__put_close(r);
	switch (whence) {
	case SEEK_SET:
		if (off < 0)
			return -EINVAL;
		r->pos = (uint64_t)off;
		return off;
	case SEEK_CUR:
		base = (int64_t)r->pos;
		break;
	case SEEK_END:
		base = (int64_t)r->size;
		break;
	default:
		return -EINVAL;
	}
	if (__builtin_add_overflow(base, off, &pos))
		return -EOVERFLOW;
	/* As CPython does, a negative relative result clamps to 0. */
	if (pos < 0)
		pos = 0;
	r->pos = (uint64_t)pos;
	return pos;
}

ROPEIO_EXPORT int64_t
rope_tell(const struct rope *r)
{
	int ret = check_open(r);

	return ret < 0 ? ret : (int64_t)r->pos;
}
