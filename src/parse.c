/* SPDX-License-Identifier: MIT */
/*
 * Parser helpers: find a byte string across chunks, readline with any
 * delimiter, pull one range together, and a cursor that reads integers
 * across chunks. None of them flattens the rope, and each costs what it
 * touches.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "rope-priv.h"

/* Needles up to this long search with a prefix table on the stack. */
#define FIND_STACK_NEEDLE 1024

static bool
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * A Knuth-Morris-Pratt matcher over the byte stream, for the bytes near
 * segment boundaries and inside short segments: each byte is looked at a
 * bounded number of times on average, however the rope is cut. @q is how
 * many bytes of the needle the bytes fed so far end with.
 */
struct kmp {
	const uint8_t *nd;
	size_t nlen;
	size_t q;
	size_t *border;  /* border[k]: longest proper border of nd[0..k] */
	size_t stack[FIND_STACK_NEEDLE];
};

static int
kmp_init(struct kmp *k)
{
	size_t b = 0;

	if (k->border)
		return 0;
	if (k->nlen > FIND_STACK_NEEDLE) {
		if (k->nlen > SIZE_MAX / sizeof(*k->border))
			return -ENOMEM;
		k->border = rope__alloc(k->nlen * sizeof(*k->border));
		if (!k->border)
			return -ENOMEM;
	} else {
		k->border = k->stack;
	}
	k->border[0] = 0;
	for (size_t i = 1; i < k->nlen; i++) {
		while (b && k->nd[i] != k->nd[b])
			b = k->border[b - 1];
		if (k->nd[i] == k->nd[b])
			b++;
		k->border[i] = b;
	}
	return 0;
}

static void
kmp_exit(struct kmp *k)
{
	if (k->border && k->border != k->stack)
		rope__free(k->border, k->nlen * sizeof(*k->border));
}

/* Feed @n bytes; on a match, the number of them fed up to its last byte. */
static size_t
kmp_feed(struct kmp *k, const uint8_t *p, size_t n)
{
	const uint8_t *nd = k->nd;
	size_t q = k->q;

	for (size_t i = 0; i < n; i++) {
		while (q && nd[q] != p[i])
			q = k->border[q - 1];
		if (nd[q] == p[i] && ++q == k->nlen) {
			k->q = q;
			return i + 1;
		}
	}
	k->q = q;
	return 0;
}

/* Feed the @n bytes of a segment from @off into it (zero runs are virtual:
 * the real zero block is fed piece by piece). */
static size_t
kmp_feed_seg(struct kmp *k, const struct rope_seg *s, size_t off, size_t n)
{
	size_t done = 0, m;

	if (s->chunk->kind != ROPE_CHUNK_ZERO)
		return kmp_feed(k, s->data + off, n);
	while (done < n) {
		size_t piece = MIN(n - done, (size_t)ROPE_ZERO_LEN);

		m = kmp_feed(k, s->data, piece);
		if (m)
			return done + m;
		done += piece;
	}
	return 0;
}

/*
 * The first match of @nd (@nlen > 0 bytes) that starts at or after @from
 * and ends at or before @end, in time linear in the bytes and segments
 * looked at. Short segments go through the matcher byte by byte. In a long
 * one, the matcher first finishes the matches begun before it (they end
 * within its first @nlen - 1 bytes), memmem(3) searches its own bytes, and
 * the matcher restarts on its last @nlen - 1 bytes, which are all a match
 * crossing its end can start with.
 */
static int64_t
find_range(const struct rope *r, const uint8_t *nd, size_t nlen,
	   uint64_t from, uint64_t end)
{
	struct kmp k;  /* not zeroed: its table is large */
	bool zero_needle = all_zero(nd, nlen);
	int64_t ret = -ENOENT;

	k.nd = nd;
	k.nlen = nlen;
	k.q = 0;
	k.border = NULL;
	if (from > end || nlen > end - from)
		return -ENOENT;
	for (size_t i = rope__find(r, from); i < r->nseg; i++) {
		const struct rope_seg *s = &r->segs[i];
		uint64_t s0 = rope__seg_off(r, s);
		uint64_t lo = MAX(from, s0), hi = MIN(s0 + s->len, end);
		size_t off = (size_t)(lo - s0), len = (size_t)(hi - lo), m;

		if (lo >= end)
			break;
		if (len / 2 < nlen) {
			/* Short: every byte through the matcher. */
			if (kmp_init(&k) < 0) {
				ret = -ENOMEM;
				break;
			}
			m = kmp_feed_seg(&k, s, off, len);
			if (m) {
				ret = (int64_t)(lo + m - nlen);
				break;
			}
			continue;
		}
		if (k.q) {
			m = kmp_feed_seg(&k, s, off, nlen - 1);
			if (m) {
				ret = (int64_t)(lo + m - nlen);
				break;
			}
		}
		if (s->chunk->kind == ROPE_CHUNK_ZERO) {
			if (zero_needle) {
				ret = (int64_t)lo;
				break;
			}
		} else {
			const uint8_t *p = memmem(s->data + off, len, nd, nlen);

			if (p) {
				ret = (int64_t)(s0 + (uint64_t)(p - s->data));
				break;
			}
		}
		if (hi == end)
			break;
		k.q = 0;
		if (nlen == 1)
			continue;
		if (kmp_init(&k) < 0) {
			ret = -ENOMEM;
			break;
		}
		kmp_feed_seg(&k, s, off + len - (nlen - 1), nlen - 1);
	}
	kmp_exit(&k);
	return ret;
}

ROPEIO_EXPORT int64_t
rope_find(const struct rope *r, const void *needle, size_t len, int64_t from)
{
	if (!r || (!needle && len) || from < 0)
		return -EINVAL;
	if (r->closed)
		return -EBADF;
	if (len == 0)
		return (uint64_t)from <= r->size ? from : -ENOENT;
	return find_range(r, needle, len, (uint64_t)from, r->size);
}

ROPEIO_EXPORT ssize_t
rope_readline_delim(struct rope *r, void *buf, size_t len, const void *delim,
		    size_t dlen)
{
	uint64_t limit;
	int64_t at;
	ssize_t n;

	if (!r || (!buf && len) || !delim || !dlen)
		return -EINVAL;
	if (r->closed)
		return -EBADF;
	if (r->pos >= r->size || len == 0)
		return 0;
	limit = MIN((uint64_t)MIN(len, (size_t)SSIZE_MAX), r->size - r->pos);
	at = find_range(r, delim, dlen, r->pos, r->pos + limit);
	if (at == -ENOMEM)
		return -ENOMEM;
	if (at >= 0)
		limit = (uint64_t)at + dlen - r->pos;
	n = rope_pread(r, buf, (size_t)limit, (int64_t)r->pos);
	if (n > 0)
		r->pos += (uint64_t)n;
	return n;
}

ROPEIO_EXPORT int
rope_pullup(struct rope *r, int64_t off, size_t len, const void **out)
{
	const struct rope_seg *s;
	struct rope_chunk *c;
	struct rope__remap m;
	uint64_t s0, a;

	if (!r || !out || off < 0)
		return -EINVAL;
	if (r->closed)
		return -EBADF;
	a = (uint64_t)off;
	if (a > r->size || len > r->size - a)
		return -EINVAL;
	if (len == 0) {
		*out = rope__zero_chunk.data;
		return 0;
	}
	s = &r->segs[rope__find(r, a)];
	s0 = rope__seg_off(r, s);
	if (a + len <= s0 + s->len &&
	    (s->chunk->kind != ROPE_CHUNK_ZERO || len <= ROPE_ZERO_LEN)) {
		/* Already contiguous: no copy. */
		*out = s->chunk->kind == ROPE_CHUNK_ZERO ? s->data
							  : s->data + (a - s0);
		return 0;
	}
	if (r->exports)
		return -EBUSY;
	/* A large range of private page chunks moves its pages (remap.c);
	 * anything else is copied. */
	if (rope__remap_prepare(r, a, a + len, len, &m) < 0)
		return -ENOMEM;
	c = m.c ? NULL : rope__chunk_new(len);
	if ((!m.c && !c) || rope__segs_reserve(r, 2) < 0) {
		rope__remap_cancel(&m);
		if (c)
			rope__chunk_unref(c);
		return -ENOMEM;
	}
	if (m.c)
		c = rope__remap_commit(r, &m);
	else
		rope_pread(r, c->data, len, off);
	/* Same bytes, fewer segments: no value or position changes. */
	rope__segs_replace(r, a, a + len, c, c->data);
	*out = c->data;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Cursors                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * A cursor follows the bytes. It keeps its place as a segment coordinate
 * (struct rope's base + offset), which a drain does not move: after a drain
 * the cursor is on the same byte, at a smaller offset. A cursor whose byte
 * was drained is stale (-ESTALE): it cannot say which byte it is on. An
 * overwrite, a truncate or an append is read as it is when the cursor
 * reads: the cursor reads what is at its place now.
 */

/* The segments a cursor walks: its rope's (which may have changed since
 * the last call) or its snapshot's. */
struct view {
	const struct rope_seg *segs;
	size_t nseg;
	uint64_t base, size;
};

/* The view, and the cursor's offset in it; -EBADF (the rope was closed)
 * or -ESTALE (its byte was drained). */
static int
view_of(const struct rope_cursor *c, struct view *v, uint64_t *off)
{
	if (c->rope) {
		if (c->rope->closed)
			return -EBADF;
		*v = (struct view){ c->rope->segs, c->rope->nseg,
				    c->rope->base, c->rope->size };
	} else {
		*v = (struct view){ c->snap->segs, c->snap->nseg,
				    c->snap->base, c->snap->size };
	}
	if (c->off < v->base)
		return -ESTALE;
	*off = c->off - v->base;
	return 0;
}

/* The segment holding the cursor's byte: the remembered one when it still
 * does (O(1) for a cursor that walks forward), else a binary search. */
static size_t
locate(const struct rope_cursor *c, const struct view *v)
{
	uint64_t pos = c->off;
	size_t i = c->seg & ~ROPE_CURSOR_SMALL;

	if (i < v->nseg && v->segs[i].start <= pos &&
	    pos < v->segs[i].start + v->segs[i].len)
		return i;
	if (i + 1 < v->nseg && v->segs[i + 1].start <= pos &&
	    pos < v->segs[i + 1].start + v->segs[i + 1].len)
		return i + 1;
	return rope__segs_find(v->segs, v->nseg, pos);
}

/*
 * Place @c over @r or @s, writing version 0.1's fields only: a cursor of
 * a program built against 0.1 ends there (ROPE_CURSOR_SMALL marks it).
 */
static int
cursor_place(struct rope_cursor *c, const struct rope *r,
	     const struct rope_snap *s, int64_t off, size_t mark)
{
	uint64_t size, base;

	if (!c || (!r && !s))
		return -EINVAL;
	if (r && r->closed)
		return -EBADF;
	size = r ? r->size : s->size;
	base = r ? r->base : s->base;
	if (off < 0 || (uint64_t)off > size)
		return -EINVAL;
	c->rope = r;
	c->snap = s;
	c->off = base + (uint64_t)off;
	c->seg = mark;
	return 0;
}

int
rope__cursor_init_small(struct rope_cursor *c, const struct rope *r,
			const struct rope_snap *s, int64_t off)
{
	return cursor_place(c, r, s, off, ROPE_CURSOR_SMALL);
}

/* 0.2's cursor has room after 0.1's fields: it starts zeroed. */
static int
cursor_init(struct rope_cursor *c, const struct rope *r,
	    const struct rope_snap *s, int64_t off)
{
	int ret = cursor_place(c, r, s, off, 0);

	if (ret == 0)
		memset(c->reserved, 0, sizeof(c->reserved));
	return ret;
}

int
rope__cursor_init(struct rope_cursor *c, const struct rope *r, int64_t off)
{
	return r ? cursor_init(c, r, NULL, off) : -EINVAL;
}

int
rope__cursor_init_snap(struct rope_cursor *c, const struct rope_snap *s,
		       int64_t off)
{
	return s ? cursor_init(c, NULL, s, off) : -EINVAL;
}

ROPEIO_EXPORT int64_t
rope_cursor_tell(const struct rope_cursor *c)
{
	struct view v;
	uint64_t off;
	int ret;

	if (!c)
		return -EINVAL;
	ret = view_of(c, &v, &off);
	return ret < 0 ? ret : (int64_t)off;
}

/* The bytes after the cursor, or view_of()'s error. */
static int64_t
cursor_left(const struct rope_cursor *c)
{
	struct view v;
	uint64_t off;
	int ret = view_of(c, &v, &off);

	if (ret < 0)
		return ret;
	return off < v.size ? (int64_t)(v.size - off) : 0;
}

ROPEIO_EXPORT size_t
rope_cursor_remaining(const struct rope_cursor *c)
{
	int64_t left = c ? cursor_left(c) : 0;

	return left > 0 ? (size_t)left : 0;
}

ROPEIO_EXPORT ssize_t
rope_cursor_read(struct rope_cursor *c, void *buf, size_t len)
{
	struct view v;
	uint64_t off;
	size_t done = 0;
	int ret;

	if (!c || (!buf && len))
		return -EINVAL;
	ret = view_of(c, &v, &off);
	if (ret < 0)
		return ret;
	if (off >= v.size)
		return 0;
	len = (size_t)MIN((uint64_t)MIN(len, (size_t)SSIZE_MAX),
			  v.size - off);
	while (done < len) {
		size_t i = locate(c, &v);
		const struct rope_seg *s = &v.segs[i];
		size_t skip = (size_t)(c->off - s->start);
		size_t n = MIN(s->len - skip, len - done);

		rope__seg_copyout(s, skip, (uint8_t *)buf + done, n);
		done += n;
		c->off += n;
		c->seg = i | (c->seg & ROPE_CURSOR_SMALL);
	}
	return (ssize_t)done;
}

ROPEIO_EXPORT int
rope_cursor_skip(struct rope_cursor *c, size_t len)
{
	int64_t left;

	if (!c)
		return -EINVAL;
	left = cursor_left(c);
	if (left < 0)
		return (int)left;
	if ((uint64_t)len > (uint64_t)left)
		return -ENODATA;
	c->off += len;
	return 0;
}

ROPEIO_EXPORT ssize_t
rope_cursor_peek(const struct rope_cursor *c, const void **out)
{
	const struct rope_seg *s;
	struct view v;
	uint64_t off;
	size_t skip;
	int ret;

	if (!c || !out)
		return -EINVAL;
	ret = view_of(c, &v, &off);
	if (ret < 0)
		return ret;
	if (off >= v.size) {
		*out = rope__zero_chunk.data;
		return 0;
	}
	s = &v.segs[locate(c, &v)];
	skip = (size_t)(c->off - s->start);
	if (s->chunk->kind == ROPE_CHUNK_ZERO) {
		/* A zero run is virtual: show as much as the real block. */
		*out = s->data;
		return (ssize_t)MIN(s->len - skip, (size_t)ROPE_ZERO_LEN);
	}
	*out = s->data + skip;
	return (ssize_t)(s->len - skip);
}

/* Read exactly @n bytes or nothing. */
static int
read_exact(struct rope_cursor *c, uint8_t *b, size_t n)
{
	int64_t left;

	if (!c)
		return -EINVAL;
	left = cursor_left(c);
	if (left < 0)
		return (int)left;
	if ((uint64_t)left < n)
		return -ENODATA;
	rope_cursor_read(c, b, n);
	return 0;
}

static uint64_t
be(const uint8_t *b, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

static uint64_t
le(const uint8_t *b, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i-- > 0;)
		v = v << 8 | b[i];
	return v;
}

/* One definition per width and byte order. */
#define CURSOR_INT(name, type, n, order)                                \
	ROPEIO_EXPORT int                                               \
	rope_cursor_##name(struct rope_cursor *c, type *v)              \
	{                                                               \
		uint8_t b[n];                                           \
		int ret;                                                \
									\
		if (!v)                                                 \
			return -EINVAL;                                 \
		ret = read_exact(c, b, n);                              \
		if (ret == 0)                                           \
			*v = (type)order(b, n);                         \
		return ret;                                             \
	}

CURSOR_INT(u8, uint8_t, 1, be)
CURSOR_INT(u16be, uint16_t, 2, be)
CURSOR_INT(u16le, uint16_t, 2, le)
CURSOR_INT(u32be, uint32_t, 4, be)
CURSOR_INT(u32le, uint32_t, 4, le)
CURSOR_INT(u64be, uint64_t, 8, be)
CURSOR_INT(u64le, uint64_t, 8, le)
