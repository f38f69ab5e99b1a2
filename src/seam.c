/* SPDX-License-Identifier: MIT */
/*
 * The allocation seam: tail chunks whose bytes are blocks of the caller's
 * allocator (struct rope_allocator), grown in place so that an append-only
 * stream stays one chunk, and handed out whole by rope_seal_value().
 *
 * This is what lets a binding return its own string object from
 * getvalue() without a copy: CPython's BytesIO buffer is a bytes object
 * that realloc grows (mremap(2) for large blocks, no byte copied) and that
 * getvalue() shrinks to the exact size and returns. A rope whose tail
 * chunk is such a block can do the same.
 *
 * A seam chunk is an owned chunk in every rule (written in place when
 * private, claimed, kept as the spare) except where its memory comes from
 * and goes to. Sealed, it becomes an external chunk: immutable, as the
 * caller's object now is.
 */
#include <errno.h>
#include <string.h>

#include "rope-priv.h"

/* The header of a seam chunk around a block of @r's allocator. */
static struct rope_chunk_seam *
seam_header(struct rope *r, void *handle, void *p, size_t cap)
{
	struct rope_chunk_seam *s = rope__alloc(sizeof(*s));

	if (!s)
		return NULL;
	atomic_init(&s->base.refs, 1);
	s->base.kind = ROPE_CHUNK_OWNED;
	s->base.pages = false;
	s->base.seam = true;
	s->base.flat_id = 0;
	s->base.cap = cap;
	s->base.data = p;
	s->ctx = r->alloc.ctx;
	s->give = r->alloc.give;
	s->handle = handle;
	return s;
}

struct rope_chunk *
rope__seam_chunk_new(struct rope *r, size_t cap)
{
	struct rope_chunk_seam *s;
	void *handle = NULL, *p;

	s = seam_header(r, NULL, NULL, cap);
	if (!s)
		return NULL;
	p = r->alloc.take(r->alloc.ctx, cap, &handle);
	if (!p) {
		rope__free(s, sizeof(*s));
		return NULL;
	}
	s->base.data = p;
	s->handle = handle;
	return &s->base;
}

/* A chunk of the rope's own allocator: one a value from another rope
 * brought in (rope_new_from_bytes()) is that rope's allocator's. */
static bool
seam_ours(const struct rope *r, const struct rope_chunk *c)
{
	const struct rope_chunk_seam *sc = (const struct rope_chunk_seam *)c;

	return c->seam && sc->give == r->alloc.give && sc->ctx == r->alloc.ctx;
}

/*
 * The capacity a growing chunk takes when @need bytes must fit in it: the
 * growth of CPython's BytesIO (Modules/_io/bytesio.c, resize_buffer()).
 * A step of more than an eighth gets exactly what it needs, since big
 * writes rarely come in a steady run; smaller steps get an eighth more, so
 * a run of small appends resizes O(log n) times. Both keep the unused room
 * within an eighth of the size, which is what a stream holding a value
 * costs in CPython too.
 */
static size_t
grown_capacity(size_t cap, size_t need)
{
	if (need - cap > cap / 8 || need > SIZE_MAX - need / 8 - 8)
		return need;
	return need + need / 8 + 8;
}

int
rope__seam_grow(struct rope *r, size_t ext, const uint8_t *lo,
		const uint8_t *hi)
{
	struct rope_seg *s = r->nseg ? &r->segs[r->nseg - 1] : NULL;
	struct rope_chunk *c = s ? s->chunk : NULL;
	struct rope_chunk_seam *sc = (struct rope_chunk_seam *)c;
	size_t used, need, cap;
	void *handle = NULL;
	uint8_t *p;

	/*
	 * Only the rope may see the block: one reference (so no value, no
	 * snapshot, no other segment), nothing drained from its front (a
	 * queue would otherwise carry its consumed bytes along forever), and
	 * no source byte inside it, since the block may move.
	 */
	if (!c || !r->alloc.resize || !seam_ours(r, c) ||
	    c->kind != ROPE_CHUNK_OWNED ||
	    s->data != c->data || rope__chunk_refs(c) != 1 ||
	    (lo < c->data + c->cap && c->data < hi))
		return -EAGAIN;
	used = s->len;
	if (ext > SIZE_MAX - used)
		return -EAGAIN;
	need = used + ext;
	if (need <= c->cap)
		return -EAGAIN;  /* room the claim left out: not ours to grow */
	cap = grown_capacity(c->cap, need);
	p = r->alloc.resize(sc->ctx, sc->handle, used, cap, &handle);
	if (!p)
		return -ENOMEM;
	sc->handle = handle;
	c->data = p;
	c->cap = cap;
	s->data = p;
	rope__claim_tail(r);
	return 0;
}

ROPEIO_EXPORT int
rope_set_allocator(struct rope *r, const struct rope_allocator *a)
{
	if (!r || (a && (!a->take || !a->give)))
		return -EINVAL;
	if (r->closed)
		return -EBADF;
	if (r->size || r->exports)
		return -EBUSY;
	/* An empty rope may still hold a spare: it came from the other
	 * allocator, and the next tail chunk must come from this one. */
	if (r->spare) {
		rope__chunk_unref(r->spare);
		r->spare = NULL;
	}
	if (a)
		r->alloc = *a;
	else
		memset(&r->alloc, 0, sizeof(r->alloc));
	return 0;
}

ROPEIO_EXPORT int
rope_seal_value(struct rope *r, void **handle, size_t *len)
{
	struct rope_seg *s;
	struct rope_chunk *c;
	struct rope_chunk_seam *sc;
	void *h = NULL;
	uint8_t *p;

	if (!r || !handle || !len)
		return -EINVAL;
	if (r->closed)
		return -EBADF;
	if (r->exports)
		return -EBUSY;
	if (r->nseg != 1)
		return -EAGAIN;
	s = &r->segs[0];
	c = s->chunk;
	sc = (struct rope_chunk_seam *)c;
	if (!seam_ours(r, c) || s->data != c->data)
		return -EAGAIN;
	if (c->kind == ROPE_CHUNK_EXTERNAL) {
		/* Sealed before: still the whole block, or cut short by a
		 * truncate (the caller's object then says a wrong size). */
		if (s->len != c->cap)
			return -EAGAIN;
		*handle = sc->handle;
		*len = s->len;
		return 0;
	}
	/* Ours alone: the segment and perhaps the rope's own cached value,
	 * which goes below, since the block may move. */
	if (!rope__seg_private(r, 0))
		return -EAGAIN;
	if (c->cap > s->len && r->alloc.resize) {
		p = r->alloc.resize(sc->ctx, sc->handle, s->len, s->len, &h);
		if (p) {
			sc->handle = h;
			c->data = p;
			s->data = p;
		}
	}
	rope__drop_value(r);
	rope__claim_drop(r);
	c->cap = s->len;
	c->kind = ROPE_CHUNK_EXTERNAL;
	/* As after a flatten: a byte written after getvalue() should not
	 * take a block sized for the appends that came before. */
	rope__tail_restart(r);
	*handle = sc->handle;
	*len = s->len;
	return 0;
}

/*
 * The reverse of a seal, for a binding whose object made of the block has
 * gone back to being referenced by the rope alone (CPython checks its
 * buffer's refcount the same way before writing in place). Nothing else can
 * read the block then, so it may be written and grown again: an overwrite
 * after a getvalue() whose result was dropped costs the write, not a copy
 * of the stream, as it does in CPython.
 */
ROPEIO_EXPORT int
rope_unseal_value(struct rope *r)
{
	struct rope_seg *s;
	struct rope_chunk *c;
	int ret = rope__check_writable(r);

	if (ret < 0)
		return ret;
	if (r->nseg != 1 || r->value)
		return -EAGAIN;
	s = &r->segs[0];
	c = s->chunk;
	/* Sealed and whole: a truncate may have cut the caller's object
	 * short, and a snapshot or a value holds its own reference. */
	if (!seam_ours(r, c) || c->kind != ROPE_CHUNK_EXTERNAL ||
	    s->data != c->data || s->len != c->cap ||
	    rope__chunk_refs(c) != 1)
		return -EAGAIN;
	c->kind = ROPE_CHUNK_OWNED;
	rope__claim_recheck(r);
	return 0;
}

/*
 * The other way round: a binding that keeps a small stream in a block of
 * its own (as CPython's BytesIO keeps its buffer) hands it to a rope when
 * it first needs one, and the rope goes on growing it, with no byte
 * copied.
 */
ROPEIO_EXPORT int
rope_adopt_block(struct rope *r, void *handle, void *data, size_t len,
		 size_t cap)
{
	struct rope_chunk_seam *s;
	int ret;

	if (!r || !handle || !data || len == 0 || cap < len)
		return -EINVAL;
	if (r->closed)
		return -EBADF;
	if (r->exports || r->size || r->nseg)
		return -EBUSY;
	if (!r->alloc.take)
		return -EINVAL;
	s = seam_header(r, handle, data, cap);
	if (!s)
		return -ENOMEM;
	ret = rope__append_chunk(r, &s->base, len);
	if (ret < 0)
		rope__free(s, sizeof(*s));
	return ret;
}
