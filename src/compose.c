/* SPDX-License-Identifier: MIT */
/*
 * Ropes that compose: bytes taken from a snapshot or another rope by
 * reference (rope_append_snap(), rope_move()), formatted straight into the
 * tail (rope_printf()), and space written by the caller before it counts
 * (rope_reserve(), rope_commit()).
 *
 * Every call plans, allocates (the only step that can fail) and commits, as
 * rope.c's writes do. Chunks taken by reference are shared: the sharing
 * rules keep writes to either side from showing in the other, since a
 * shared chunk is never written in place and its room never claimed. A
 * window of a block much larger than the rope's bytes is copied instead
 * (invariant 12: a rope never keeps a large block alive for a few bytes).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rope-priv.h"

/* ------------------------------------------------------------------------ */
/* Windows of another segment array                                        */
/* ------------------------------------------------------------------------ */

/*
 * Append [@off, @off + @len) of the segments @segs (@n of them, the first
 * at coordinate @base) to @r: by reference, or copied where the window
 * would keep a large block alive. @r and the segments may not be the same
 * rope's. Returns 0 or -ENOMEM, with @r unchanged on failure.
 */
static int
append_windows(struct rope *r, const struct rope_seg *segs, size_t n,
	       uint64_t base, uint64_t off, size_t len)
{
	size_t first, last, copy_len = 0, at = 0;
	struct rope_chunk *copy = NULL;

	if (len == 0)
		return 0;
	first = rope__segs_find(segs, n, base + off);
	last = rope__segs_find(segs, n, base + off + len - 1);
	/* Plan: how many bytes go to a copy. */
	for (size_t i = first; i <= last; i++) {
		const struct rope_seg *s = &segs[i];
		uint64_t a = MAX(s->start, base + off);
		uint64_t b = MIN(s->start + s->len, base + off + len);

		if (!rope__window_kept(s->chunk, (size_t)(b - a)))
			copy_len += (size_t)(b - a);
	}
	/* Allocate. */
	if (copy_len) {
		copy = rope__chunk_new(copy_len);
		if (!copy)
			return -ENOMEM;
	}
	if (rope__segs_reserve(r, last - first + 1) < 0) {
		if (copy)
			rope__chunk_unref(copy);
		return -ENOMEM;
	}
	/* Commit. */
	rope__drop_value(r);
	for (size_t i = first; i <= last; i++) {
		const struct rope_seg *s = &segs[i];
		uint64_t a = MAX(s->start, base + off);
		uint64_t b = MIN(s->start + s->len, base + off + len);
		size_t skip = (size_t)(a - s->start), wlen = (size_t)(b - a);

		if (rope__window_kept(s->chunk, wlen)) {
			uint8_t *data = s->chunk->kind == ROPE_CHUNK_ZERO ?
					s->data : s->data + skip;

			rope__chunk_ref(s->chunk);
			rope__append_window(r, s->chunk, data, wlen);
		} else {
			rope__seg_copyout(s, skip, copy->data + at, wlen);
			rope__chunk_ref(copy);
			rope__append_window(r, copy, copy->data + at, wlen);
			at += wlen;
		}
	}
	if (copy)
		rope__chunk_unref(copy);  /* the segments hold it now */
	return 0;
}

ROPEIO_EXPORT int
rope_append_snap(struct rope *r, const struct rope_snap *s, size_t off,
		 size_t len)
{
	int ret = rope__check_writable(r);

	if (ret < 0)
		return ret;
	if (!s || off > s->size || len > s->size - off)
		return -EINVAL;
	ret = rope__check_extent(r->size, len);
	if (ret < 0)
		return ret;
	return append_windows(r, s->segs, s->nseg, s->base, off, len);
}

ROPEIO_EXPORT int64_t
rope_move(struct rope *dst, struct rope *src, size_t len)
{
	int ret;
	size_t n;

	if (!dst || !src || dst == src)
		return -EINVAL;
	ret = rope__check_writable(dst);
	if (ret == 0)
		ret = rope__check_writable(src);
	if (ret < 0)
		return ret;
	n = (size_t)MIN((uint64_t)len, src->size);
	ret = rope__check_extent(dst->size, n);
	if (ret < 0)
		return ret;
	/* The windows take their own references; the drain then lets go of
	 * src's, so a chunk moves whole with no count left behind, and a
	 * chunk split at the end stays referenced by both. */
	ret = append_windows(dst, src->segs, src->nseg, src->base, 0, n);
	if (ret < 0)
		return ret;
	rope_drain(src, n);
	return (int64_t)n;
}

/* ------------------------------------------------------------------------ */
/* Formatting into the tail                                                 */
/* ------------------------------------------------------------------------ */

ROPEIO_EXPORT ssize_t
rope_vprintf(struct rope *r, const char *fmt, va_list ap)
{
	struct rope_chunk *fresh;
	uint8_t *tail;
	size_t room;
	va_list again;
	int n, ret = rope__check_writable(r);

	if (ret < 0)
		return ret;
	if (!fmt)
		return -EINVAL;
	if (rope__segs_reserve(r, 1) < 0)
		return -ENOMEM;
	/* The room first: vsnprintf() writes its NUL there too, which is
	 * free space nobody sees. */
	room = rope__tail_reserve(r, &tail);
	va_copy(again, ap);
	n = vsnprintf(room ? (char *)tail : NULL, room, fmt, ap);
	if (n < 0) {
		va_end(again);
		return -EILSEQ;
	}
	ret = rope__check_extent(r->size, (size_t)n);
	if (ret < 0) {
		va_end(again);
		return ret;
	}
	if ((size_t)n < room) {
		va_end(again);
		if (n)
			rope__tail_commit(r, (size_t)n);
		return n;
	}
	/* Too long for the room: a fresh tail chunk, formatted again. */
	fresh = rope__tail_fresh(r, (size_t)n + 1,
				 rope__tail_size(r, (size_t)n + 1));
	if (!fresh) {
		va_end(again);
		return -ENOMEM;
	}
	vsnprintf((char *)fresh->data, (size_t)n + 1, fmt, again);
	va_end(again);
	rope__tail_push(r, fresh, (size_t)n);
	return n;
}

ROPEIO_EXPORT ssize_t
rope_printf(struct rope *r, const char *fmt, ...)
{
	va_list ap;
	ssize_t n;

	va_start(ap, fmt);
	n = rope_vprintf(r, fmt, ap);
	va_end(ap);
	return n;
}

/* ------------------------------------------------------------------------ */
/* Reserve, write, commit                                                   */
/* ------------------------------------------------------------------------ */

/* What a reservation saw: a commit is good only if all of it still holds. */
static bool
reservation_stands(const struct rope *r)
{
	const struct rope_reservation *v = r->resv;

	return v && v->active && r->size == v->size && r->base == v->base &&
	       r->nseg == v->nseg && r->tail_chunk == v->tail_chunk &&
	       r->tail_ptr == v->tail_ptr && !r->exports;
}

void
rope__reservation_drop(struct rope *r)
{
	if (!r->resv || !r->resv->active)
		return;  /* the common case: nothing to clear */
	if (r->resv->chunk)
		rope__chunk_unref(r->resv->chunk);
	memset(r->resv, 0, sizeof(*r->resv));
}

void
rope__reservation_free(struct rope *r)
{
	rope__reservation_drop(r);
	rope__free(r->resv, sizeof(*r->resv));
	r->resv = NULL;
}

ROPEIO_EXPORT int
rope_reserve(struct rope *r, size_t min, struct iovec *iov, int iovcnt)
{
	struct rope_chunk *fresh = NULL;
	uint8_t *tail;
	size_t room, want;
	int ret = rope__check_writable(r), cnt = 0;

	if (ret < 0)
		return ret;
	if (!iov || iovcnt < 1)
		return -EINVAL;
	ret = rope__check_extent(r->size, min);
	if (ret < 0)
		return ret;
	/* Its record is made at the first reservation and kept until the
	 * rope is freed: a rope that never reserves does not pay for it. */
	if (!r->resv) {
		r->resv = rope__alloc(sizeof(*r->resv));
		if (!r->resv)
			return -ENOMEM;
		memset(r->resv, 0, sizeof(*r->resv));
	}
	if (rope__segs_reserve(r, 1) < 0)
		return -ENOMEM;
	room = rope__tail_reserve(r, &tail);
	/* One iovec: the room if it is enough, else a chunk that is. */
	if (room >= MAX(min, (size_t)1) || (room && iovcnt > 1)) {
		iov[cnt].iov_base = tail;
		iov[cnt++].iov_len = room;
	} else {
		room = 0;
	}
	if (room < MAX(min, (size_t)1)) {
		want = MAX(min - room, (size_t)1);
		fresh = rope__tail_fresh(r, want, rope__tail_size(r, want));
		if (!fresh)
			return -ENOMEM;
		if (fresh == r->spare)
			r->spare = NULL;  /* the reservation holds it now */
		want = fresh->cap;
		iov[cnt].iov_base = fresh->data;
		iov[cnt++].iov_len = want;
	}
	rope__reservation_drop(r);
	rope__put_close(r);  /* the fast path would write into the room */
	*r->resv = (struct rope_reservation){
		.active = true, .chunk = fresh, .room = room,
		.fresh = fresh ? fresh->cap : 0, .size = r->size,
		.base = r->base, .nseg = r->nseg, .tail_chunk = r->tail_chunk,
		.tail_ptr = r->tail_ptr,
	};
	return cnt;
}

ROPEIO_EXPORT ssize_t
rope_commit(struct rope *r, size_t len)
{
	struct rope_reservation v;
	int ret;

	if (!r)
		return -EINVAL;
	if (r->closed)
		return -EBADF;
	if (!r->resv || !r->resv->active)
		return -ENOENT;
	if (!reservation_stands(r)) {
		rope__reservation_drop(r);
		return -ECANCELED;
	}
	v = *r->resv;
	if (len > v.room + v.fresh)
		return -EINVAL;  /* the reservation stands */
	ret = rope__check_extent(r->size, len);
	if (ret < 0)
		return ret;
	memset(r->resv, 0, sizeof(*r->resv));
	if (len && v.room)
		rope__tail_commit(r, MIN(len, v.room));
	if (len > v.room) {
		rope__tail_push(r, v.chunk, len - v.room);
		/* A large reservation of which little was written keeps no
		 * more room than the rope's bytes warrant. */
		rope__claim_trim(r);
	} else if (v.chunk) {
		rope__chunk_unref(v.chunk);
	}
	return (ssize_t)len;
}
