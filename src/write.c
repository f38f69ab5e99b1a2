/* SPDX-License-Identifier: MIT */
/*
 * The write path: rope_write() and its put area, rope_append(),
 * rope_writev() and rope_append_ref(). A write is planned (read-only),
 * allocated (the only step that can fail) and committed (cannot fail), so
 * an error leaves the rope exactly as it was. The segment array, the claim
 * and the memory rules it follows are rope.c's.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "rope-priv.h"

/* A cursor over the caller's iovecs, so write and writev share one path. */
struct src {
	const struct iovec *iov;
	size_t off;
	size_t zeros;            /* zero bytes that come before the iovecs */
};

/* The lowest and highest address of the next @len source bytes. */
static void
src_bounds(const struct src *src, size_t len, const uint8_t **lo,
	   const uint8_t **hi)
{
	const struct iovec *iov = src->iov;
	size_t off = src->off;

	*lo = (const uint8_t *)UINTPTR_MAX;
	*hi = NULL;
	len -= MIN(len, src->zeros);  /* zeros lie nowhere */
	for (; len > 0; iov++, off = 0) {
		size_t n = MIN(len, iov->iov_len - off);
		const uint8_t *p;

		/* An empty buffer may have a NULL base: no arithmetic on it. */
		if (n == 0)
			continue;
		p = (const uint8_t *)iov->iov_base + off;
		*lo = MIN(*lo, p);
		*hi = MAX(*hi, p + n);
		len -= n;
	}
}

static void
src_copy(struct src *src, uint8_t *dst, size_t len)
{
	if (src->zeros) {
		size_t z = MIN(len, src->zeros);

		memset(dst, 0, z);
		dst += z;
		len -= z;
		src->zeros -= z;
	}
	while (len > 0) {
		size_t n = MIN(len, src->iov->iov_len - src->off);

		/* Empty buffers may have a NULL base: step over them, since
		 * memcpy from NULL is undefined even for zero bytes. */
		if (n == 0) {
			src->iov++;
			continue;
		}
		memcpy(dst, (const uint8_t *)src->iov->iov_base + src->off, n);
		dst += n;
		len -= n;
		src->off += n;
		if (src->off == src->iov->iov_len) {
			src->iov++;
			src->off = 0;
		}
	}
}

/*
 * May [a, b) be overwritten in place from source bytes that lie within
 * [lo, hi)? Only if every segment there is private and none of them holds
 * source bytes: a caller may write the rope's own bytes back into it (a
 * pullup pointer), and an overwrite in place would then read bytes it has
 * already changed. A fresh chunk reads the whole source first.
 */
static bool
range_in_place(struct rope *r, uint64_t a, uint64_t b,
	       const uint8_t *lo, const uint8_t *hi)
{
	for (size_t i = rope__find(r, a);
	     i < r->nseg && rope__seg_off(r, &r->segs[i]) < b; i++) {
		const struct rope_seg *s = &r->segs[i];

		if (!rope__seg_private(r, i) ||
		    (s->data < hi && lo < s->data + s->len))
			return false;
	}
	return true;
}

/* Overwrite [a, b) of private segments in place. */
static void
write_in_place(struct rope *r, uint64_t a, uint64_t b, struct src *src)
{
	for (size_t i = rope__find(r, a); a < b; i++) {
		struct rope_seg *s = &r->segs[i];
		size_t off = (size_t)(a - rope__seg_off(r, s));
		size_t n = (size_t)MIN((uint64_t)(s->len - off), b - a);

		src_copy(src, s->data + off, n);
		a += n;
	}
}

/* A stream range [a, b) an overwrite of shared bytes replaces. */
struct block {
	uint64_t a, b;
};

/*
 * Widen a small overwrite of shared bytes, [p, p + ov), to the aligned
 * ROPE_COW_BLOCK around it, within the stream. Alignment is in segment
 * coordinates, which drains do not move, so later overwrites of the same
 * block find it private and write in place, and a rope cut by many
 * overwrites keeps a few segments per block. Returns false for an
 * overwrite big enough to cost its own bytes only.
 */
static bool
cow_block(const struct rope *r, uint64_t p, size_t ov, struct block *blk)
{
	uint64_t head = (r->base + p) % ROPE_COW_BLOCK;
	uint64_t tail = (ROPE_COW_BLOCK - (r->base + p + ov) % ROPE_COW_BLOCK) %
			ROPE_COW_BLOCK;

	if (ov >= ROPE_COW_BLOCK)
		return false;
	blk->a = p - MIN(p, head);
	blk->b = p + ov + MIN(tail, r->size - p - ov);
	return true;
}

/* The block's new bytes: the rope's around the overwrite, @src's in it.
 * The source is read last and whole, so it may lie in the rope itself. */
static void
cow_block_fill(const struct rope *r, const struct block *blk,
	       struct rope_chunk *fresh, uint64_t p, size_t ov, struct src *src)
{
	size_t head = (size_t)(p - blk->a);

	rope_pread(r, fresh->data, head, (int64_t)blk->a);
	rope_pread(r, fresh->data + head + ov, (size_t)(blk->b - p - ov),
		   (int64_t)(p + ov));
	src_copy(src, fresh->data + head, ov);
}

/*
 * How a write of @n bytes at stream offset @p lands. It splits into: an
 * overwrite of [p, ov_end) inside the stream; a gap of zeros when p is
 * past the end; and an extension past the end, which first fills the tail
 * room and then goes into one fresh chunk. When the overwritten bytes are
 * not all private, the overwrite and the extension together go into one
 * fresh chunk instead (or, for a small overwrite alone, the aligned block
 * around it), which costs O(n) memory.
 */
struct write_plan {
	uint64_t p, ov_end;
	size_t n, ov, ext;
	uint64_t gap;            /* zeros kept as a zero segment */
	size_t room;             /* extension bytes the tail room takes */
	size_t fresh_len;        /* bytes the fresh chunk takes */
	size_t head;             /* rope bytes before p the fresh chunk takes
				    (the extension case; see widen()) */
	bool in_place;           /* the overwrite is private: in place */
	bool use_held;           /* the fresh bytes go to the held room */
	struct block blk;        /* a copied block, when blk.b > blk.a */
	struct rope_chunk *fresh;
};

/*
 * Bytes [*a, *b) of the stream are to be replaced by a fresh chunk. What is
 * left of the segments the range cuts stays a window of their blocks; a
 * window of a block far larger than the rope would keep it alive for a few
 * bytes once its other holders let go (invariant 12), so the range widens
 * to take those bytes into the fresh chunk instead.
 */
static void
widen(const struct rope *r, uint64_t *a, uint64_t *b)
{
	const struct rope_seg *s;
	uint64_t from, to;

	if (*a < r->size) {
		s = &r->segs[rope__find(r, *a)];
		from = rope__seg_off(r, s);  /* what is left: [from, *a) */
		if (from < *a &&
		    !rope__window_kept(s->chunk, (size_t)(*a - from)))
			*a = from;
	}
	if (*b > *a && *b < r->size) {
		s = &r->segs[rope__find(r, *b - 1)];
		to = rope__seg_off(r, s) + s->len;  /* the right: [*b, to) */
		if (to > *b && !rope__window_kept(s->chunk, (size_t)(to - *b)))
			*b = to;
	}
}

/* Plan the write: read-only but for a seam chunk that may grow in place,
 * which changes nothing but the chunk's place. */
static void
write_plan(struct rope *r, struct write_plan *w, struct src *src)
{
	uint64_t p = w->p, end = p + w->n, size = r->size;
	const uint8_t *lo, *hi;

	w->ov_end = MIN(end, size);
	w->ov = p < size ? (size_t)(w->ov_end - p) : 0;
	w->gap = p > size ? p - size : 0;
	w->ext = end > size ? (size_t)(end - MAX(p, size)) : 0;
	w->room = 0;
	w->in_place = true;
	w->use_held = false;
	w->head = 0;
	w->blk.a = w->blk.b = 0;
	w->fresh = NULL;
	if (w->ov) {
		src_bounds(src, w->n, &lo, &hi);
		w->in_place = range_in_place(r, p, w->ov_end, lo, hi);
	}
	if (w->in_place) {
		if (w->gap == 0)
			w->room = MIN(rope__room_available(r), w->ext);
		/* A tail chunk from the rope's allocator grows rather than
		 * start a new segment, so the stream stays one block. Where
		 * it cannot, or the allocator refuses, a fresh chunk will do;
		 * either way nothing has changed but the chunk's place. */
		if (w->room < w->ext && w->gap == 0 && r->alloc.resize) {
			if (!w->ov)
				src_bounds(src, w->n, &lo, &hi);
			if (rope__seam_grow(r, w->ext, lo, hi) == 0)
				w->room = w->ext;
		}
		w->fresh_len = w->ext - w->room;
		w->use_held = w->fresh_len && !w->room && !w->gap &&
			      !r->tail_chunk &&
			      rope__held_room(r) >= w->fresh_len;
	} else if (!w->ext) {
		/* A range inside: the aligned block around a small one, or
		 * the range itself, and what widen() adds. */
		if (!cow_block(r, p, w->ov, &w->blk)) {
			w->blk.a = p;
			w->blk.b = w->ov_end;
		}
		widen(r, &w->blk.a, &w->blk.b);
		w->fresh_len = (size_t)(w->blk.b - w->blk.a);
	} else {
		uint64_t a = p, b = size;

		widen(r, &a, &b);
		w->head = (size_t)(p - a);
		w->fresh_len = w->head + w->ov + w->ext;
	}
}

/* Allocate what the plan needs: the only step that can fail. */
static int
write_alloc(struct rope *r, struct write_plan *w)
{
	if (w->fresh_len && !w->use_held) {
		/* A chunk that ends the stream gets tail room to grow into
		 * (the spare, when it holds the bytes); one replacing bytes in
		 * the middle is exact. */
		if (w->ext)
			w->fresh = rope__tail_fresh(r, w->fresh_len,
					rope__tail_size(r, w->fresh_len));
		else
			w->fresh = rope__chunk_new(w->fresh_len);
		if (!w->fresh)
			return -ENOMEM;
	}
	/* Segments the commit may add: a replaced range splits one segment
	 * into three; a gap and a fresh tail chunk add one each. */
	if (rope__segs_reserve(r, (w->in_place ? 0 : 2) + (w->gap ? 1 : 0) +
				  ((w->fresh || w->use_held) && w->in_place ?
				   1 : 0)) < 0) {
		if (w->fresh)
			rope__tail_discard(r, w->fresh);
		return -ENOMEM;
	}
	return 0;
}

/* Commit a write whose overwritten bytes are shared: fresh bytes replace
 * them (a block around a small overwrite, or everything from p on). */
static void
write_commit_copy(struct rope *r, struct write_plan *w, struct src *src)
{
	struct rope_chunk *fresh = w->fresh;

	if (w->blk.b > w->blk.a) {
		cow_block_fill(r, &w->blk, fresh, w->p, w->ov, src);
		rope__segs_replace(r, w->blk.a, w->blk.b, fresh, fresh->data);
		return;
	}
	/* The extension: the head widen() took first, from the rope as it
	 * is, then the source, which may lie in the rope itself. */
	rope_pread(r, fresh->data, w->head, (int64_t)(w->p - w->head));
	src_copy(src, fresh->data + w->head, w->fresh_len - w->head);
	rope__segs_cut(r, w->p - w->head);
	rope__tail_push(r, fresh, w->fresh_len);
}

/* Commit a write whose overwritten bytes are private: in place, then the
 * gap, the tail room and the fresh chunk, in stream order. */
static void
write_commit_in_place(struct rope *r, struct write_plan *w, struct src *src)
{
	if (w->ov)
		write_in_place(r, w->p, w->ov_end, src);
	if (w->gap)
		rope__segs_push(r, &rope__zero_chunk, rope__zero_chunk.data,
				w->gap);
	if (w->room) {
		if (!r->tail_chunk)
			rope__claim_set(r, rope__last_seg(r)->chunk);
		src_copy(src, r->tail_ptr, w->room);
		rope__tail_advance(r, w->room);
	}
	if (w->use_held) {
		src_copy(src, r->held_ptr, w->fresh_len);
		rope__held_commit(r, w->fresh_len);
	}
	if (w->fresh) {
		src_copy(src, w->fresh->data, w->fresh_len);
		rope__tail_push(r, w->fresh, w->fresh_len);
	}
}

/*
 * Write @n bytes from @src at stream offset @p (the caller checked that the
 * rope is open, not exported, n > 0 and p + n <= ROPE_MAX_SIZE). A small
 * gap becomes zeros written with the bytes (ROPE_GAP_COPY_MAX), so that
 * a parser stepping past the end a byte at a time keeps one tail chunk.
 */
static int
write_at(struct rope *r, uint64_t p, struct src *src, size_t n)
{
	struct write_plan w = { .p = p, .n = n };
	int ret;

	if (p > r->size && p - r->size <= ROPE_GAP_COPY_MAX) {
		src->zeros = (size_t)(p - r->size);
		w.p = r->size;
		w.n = n + src->zeros;
	}
	write_plan(r, &w, src);
	ret = write_alloc(r, &w);
	if (ret < 0) {
		src->zeros = 0;
		return ret;
	}
	rope__drop_value(r);
	if (w.in_place)
		write_commit_in_place(r, &w, src);
	else
		write_commit_copy(r, &w, src);
	return 0;
}

/*
 * memcpy() of 1 to 16 bytes without the call: two overlapping loads and
 * two stores of 8, 4 or 1 bytes cover every length. All loads come before
 * the stores, so even overlapping ranges would copy right.
 */
static inline void
copy_small(uint8_t *dst, const uint8_t *src, size_t n)
{
	if (n >= 8) {
		uint64_t a, b;

		memcpy(&a, src, 8);
		memcpy(&b, src + n - 8, 8);
		memcpy(dst, &a, 8);
		memcpy(dst + n - 8, &b, 8);
	} else if (n >= 4) {
		uint32_t a, b;

		memcpy(&a, src, 4);
		memcpy(&b, src + n - 4, 4);
		memcpy(dst, &a, 4);
		memcpy(dst + n - 4, &b, 4);
	} else {
		uint8_t a = src[0], b = src[n / 2], c = src[n - 1];

		dst[0] = a;
		dst[n / 2] = b;
		dst[n - 1] = c;
	}
}

/* Copy @len (> 0) bytes to the tail: short ones inline, as most appends
 * of network protocols and logs are. */
static inline void
tail_copy(uint8_t *dst, const void *buf, size_t len)
{
	if (len <= 16)
		copy_small(dst, buf, len);
	else
		memcpy(dst, buf, len);
}

/* Append into the claimed tail room; the caller checked that it fits and
 * that no value is cached and no export alive. */
static inline void
append_fast(struct rope *r, const void *buf, size_t len)
{
	tail_copy(r->tail_ptr, buf, len);
	rope__tail_advance(r, len);
}

static ssize_t
write_iov(struct rope *r, uint64_t p, const struct iovec *iov, size_t n,
	  bool advance)
{
	struct src src = { iov, 0, 0 };
	int ret;

	ret = rope__check_extent(p, n);
	if (ret < 0)
		return ret;
	if (n == 0)
		return 0;
	ret = write_at(r, p, &src, n);
	if (ret < 0)
		return ret;
	if (advance)
		r->pos = p + n;
	return (ssize_t)n;
}

/* One buffer written at the position (@at_pos: rope_write) or appended
 * at the end (rope_append), off the fast paths: the checks, the write,
 * and the put area reopened. */
static ssize_t
write_buf(struct rope *r, const void *buf, size_t len, bool at_pos)
{
	struct iovec iov = { (void *)buf, len };
	ssize_t ret = rope__check_writable(r);

	if (ret < 0)
		return ret;
	if (!buf && len)
		return -EINVAL;
	ret = write_iov(r, at_pos ? r->pos : r->size, &iov, len, at_pos);
	if (ret > 0)
		rope__put_open(r);
	return ret;
}

/* Everything rope_write() does but its fast path; apart, so that the
 * fast path saves no register and sets up no frame. */
static __attribute__((noinline)) ssize_t
write_slow(struct rope *r, const void *buf, size_t len)
{
	return write_buf(r, buf, len, true);
}

/* @len bytes copied to the open put area become part of the stream: the
 * last segment, the size and the position (equal here) move together. */
static inline ssize_t
put_advance(struct rope *r, uint8_t *p, size_t len)
{
	r->tail_ptr = p + len;
	*r->put_len += len;
	r->size += len;
	r->pos += len;
	return (ssize_t)len;
}

/* A put of more than 16 bytes: apart too, as memcpy() is a call. */
static __attribute__((noinline)) ssize_t
put_long(struct rope *r, const void *buf, size_t len)
{
	uint8_t *p = r->tail_ptr;

	memcpy(p, buf, len);
	return put_advance(r, p, len);
}

/*
 * The fast path is the put area (invariant 10): one bound check covers the
 * position, the cached value, exports, a closed rope and ROPE_MAX_SIZE,
 * since each of them keeps the area closed. len 0 never takes it (len - 1
 * wraps), so a closed or exported rope still says so. A short copy is
 * inline; everything else is a tail call, so no register is saved.
 */
ROPEIO_EXPORT ssize_t
rope_write(struct rope *r, const void *buf, size_t len)
{
	if (likely(r && buf && len - 1 < (size_t)((uintptr_t)r->put_end -
						  (uintptr_t)r->tail_ptr))) {
		uint8_t *p = r->tail_ptr;

		if (unlikely(len > 16))
			return put_long(r, buf, len);
		copy_small(p, buf, len);
		return put_advance(r, p, len);
	}
	return write_slow(r, buf, len);
}

ROPEIO_EXPORT ssize_t
rope_append(struct rope *r, const void *buf, size_t len)
{
	if (likely(r && buf && len - 1 < rope__tail_room(r) && !r->value &&
		   !r->exports)) {
		append_fast(r, buf, len);
		return (ssize_t)len;
	}
	return write_buf(r, buf, len, false);
}

ROPEIO_EXPORT ssize_t
rope_writev(struct rope *r, const struct iovec *iov, int iovcnt)
{
	size_t total = 0;
	ssize_t n;
	int ret, i;

	ret = rope__check_writable(r);
	if (ret < 0)
		return ret;
	if (iovcnt < 0 || iovcnt > IOV_MAX || (!iov && iovcnt))
		return -EINVAL;
	for (i = 0; i < iovcnt; i++) {
		if (!iov[i].iov_base && iov[i].iov_len)
			return -EINVAL;
		if (__builtin_add_overflow(total, iov[i].iov_len, &total))
			return -EOVERFLOW;
	}
	n = write_iov(r, r->pos, iov, total, true);
	if (n > 0)
		rope__put_open(r);
	return n;
}

ROPEIO_EXPORT int
rope_append_ref(struct rope *r, const void *data, size_t len,
		rope_release_fn release, void *arg)
{
	struct rope_chunk *c;
	int ret;

	ret = rope__check_writable(r);
	if (ret < 0)
		return ret;
	if (!data && len)
		return -EINVAL;
	ret = rope__check_extent(r->size, len);
	if (ret < 0)
		return ret;
	if (len == 0) {
		/* Nothing to reference: the memory is released at once. */
		if (release)
			release((void *)data, 0, arg);
		return 0;
	}
	c = rope__chunk_new_external(data, len, release, arg);
	if (!c)
		return -ENOMEM;
	if (rope__segs_reserve(r, 1) < 0) {
		/* The caller keeps ownership on failure: no release. */
		((struct rope_chunk_external *)c)->release = NULL;
		rope__chunk_unref(c);
		return -ENOMEM;
	}
	rope__drop_value(r);
	rope__claim_hold(r);
	rope__segs_push(r, c, c->data, len);
	return 0;
}

