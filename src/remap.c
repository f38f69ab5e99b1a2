/* SPDX-License-Identifier: MIT */
/*
 * Flattening that moves pages instead of copying bytes (getvalue()).
 *
 * A page chunk that only the rope references (one reference: its segment's)
 * can give its pages away: mremap(2) moves them into one reserved range at
 * the place of their bytes in the stream, with no byte copied and no page
 * added. That needs the segment's bytes to sit at the same offset within a
 * page as their place in the stream does; a large write or a run of 64 KiB
 * appends gives exactly that. Everything else (small head chunks, the
 * unaligned edges of a moved segment, chunks a value, snapshot or other
 * rope shares) is copied. 128 x 1 MiB moved in 4 to 6 ms against 500 ms
 * for malloc and memcpy, on a machine where fresh pages are dear.
 *
 * Both flattens here consume the segments they flatten whole: each chunk
 * is released as soon as its bytes are in the flat copy, so a copy's extra
 * peak stays near one chunk. They run in the commit phase of getvalue() or
 * rope_pullup(), after every allocation succeeded, and cannot fail; the
 * segments they leave point at the zero chunk (whose references cost
 * nothing) until the caller replaces them. A segment only partly inside a
 * pulled-up range keeps its chunk, and its part is copied.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rope-priv.h"

/* Give segment @s's chunk up once its bytes are copied or moved. */
static void
seg_consumed(struct rope_seg *s)
{
	rope__chunk_unref(s->chunk);
	s->chunk = &rope__zero_chunk;
}

void
rope__flatten_consume(struct rope *r, uint8_t *dst)
{
	for (size_t i = 0; i < r->nseg; i++) {
		struct rope_seg *s = &r->segs[i];

		rope__seg_copyout(s, 0, dst, s->len);
		dst += s->len;
		seg_consumed(s);
	}
}

/*
 * The whole pages of segment @s (at stream offset @off) that can move:
 * [*lo, *hi) bytes into the segment, both page boundaries in the source and
 * in the flat range alike. False when the chunk is not a page chunk the
 * rope alone holds, or no whole page lines up.
 */
static bool
seg_movable(const struct rope_seg *s, uint64_t off, size_t page, size_t *lo,
	    size_t *hi)
{
	uintptr_t a = (uintptr_t)s->data;

	if (s->chunk->kind != ROPE_CHUNK_OWNED || !s->chunk->pages ||
	    rope__chunk_refs(s->chunk) != 1 || a % page != off % page)
		return false;
	*lo = (page - a % page) % page;
	*hi = (size_t)((a + s->len) / page * page - a);
	return *hi > *lo;
}

/* Move segment @s's whole pages [lo, hi) to @d (its place in the flat
 * range), copy its edges, and unmap what is left of its chunk. */
static bool
seg_move(struct rope_seg *s, uint8_t *d, size_t lo, size_t hi,
	 size_t *moved)
{
	struct rope_chunk *c = s->chunk;
	uint8_t *end = c->data + c->cap;

	if (mremap(s->data + lo, hi - lo, hi - lo,
		   MREMAP_MAYMOVE | MREMAP_FIXED, d + lo) == MAP_FAILED)
		return false;
	memcpy(d, s->data, lo);
	memcpy(d + hi, s->data + hi, s->len - hi);
	if (s->data + lo > c->data)
		rope__pages_unmap(c->data, (size_t)(s->data + lo - c->data));
	if (s->data + hi < end)
		rope__pages_unmap(s->data + hi, (size_t)(end - s->data - hi));
	*moved += hi - lo;
	/* The chunk now owns no pages: freeing it frees its header alone,
	 * and its bytes are counted by the caller. */
	rope__pages_gone(c->cap, hi - lo);
	c->cap = 0;
	c->data = NULL;
	return true;
}

/* Segment @s, at stream offset @off, lies wholly inside [a, b). */
static bool
seg_inside(const struct rope_seg *s, uint64_t off, uint64_t a, uint64_t b)
{
	return off >= a && off + s->len <= b;
}

int
rope__remap_prepare(struct rope *r, uint64_t a, uint64_t b, size_t cap,
		    struct rope__remap *m)
{
	size_t page = rope__page_round(1), movable = 0, lo, hi;
	size_t size = (size_t)(b - a);

	memset(m, 0, sizeof(*m));
	if (size < ROPE_PAGE_MIN)
		return 0;
	for (size_t i = rope__find(r, a); i < r->nseg; i++) {
		const struct rope_seg *s = &r->segs[i];
		uint64_t off = rope__seg_off(r, s);

		if (off >= b)
			break;
		if (seg_inside(s, off, a, b) &&
		    seg_movable(s, off - a, page, &lo, &hi))
			movable += hi - lo;
	}
	/* Worth a range of its own only when most bytes can move. Refused
	 * memory fails the call rather than fall back to a copy, which
	 * would need more of it. */
	if (movable < size / 2)
		return 0;
	/* Room past the bytes costs address space only: pages nobody
	 * touches are never backed. */
	m->len = rope__page_round(MAX(size, cap));
	m->c = rope__alloc(sizeof(*m->c));
	if (!m->c)
		return -ENOMEM;
	m->dst = rope__pages_reserve(m->len);
	if (!m->dst) {
		rope__free(m->c, sizeof(*m->c));
		m->c = NULL;
		return -ENOMEM;
	}
	m->a = a;
	m->b = b;
	return 0;
}

void
rope__remap_cancel(struct rope__remap *m)
{
	if (!m->c)
		return;
	rope__pages_unreserve(m->dst, m->len);
	rope__free(m->c, sizeof(*m->c));
	m->c = NULL;
}

struct rope_chunk *
rope__remap_commit(struct rope *r, struct rope__remap *m)
{
	size_t page = rope__page_round(1), moved = 0, lo, hi;
	struct rope_chunk *c = m->c;

	/* Nothing below fails: a refused mremap copies that segment. */
	for (size_t i = rope__find(r, m->a); i < r->nseg; i++) {
		struct rope_seg *s = &r->segs[i];
		uint64_t off = rope__seg_off(r, s);
		uint64_t from = MAX(off, m->a), to = MIN(off + s->len, m->b);

		if (off >= m->b)
			break;
		if (!seg_inside(s, off, m->a, m->b)) {
			/* Its remainder stays in the rope: copy our part. */
			rope__seg_copyout(s, (size_t)(from - off),
					  m->dst + (from - m->a),
					  (size_t)(to - from));
			continue;
		}
		if (!seg_movable(s, off - m->a, page, &lo, &hi) ||
		    !seg_move(s, m->dst + (off - m->a), lo, hi, &moved))
			rope__seg_copyout(s, 0, m->dst + (off - m->a), s->len);
		seg_consumed(s);
	}
	rope__pages_reserved(m->len, moved);
	atomic_init(&c->refs, 1);
	c->kind = ROPE_CHUNK_OWNED;
	c->pages = true;
	c->seam = false;
	c->flat_id = 0;
	c->cap = m->len;
	c->data = m->dst;
	m->c = NULL;
	return c;
}
