/* SPDX-License-Identifier: MIT */
/*
 * Values (struct rope_bytes) and getvalue(): flatten lazily, at most once
 * per change, and cache the result.
 */
#include <errno.h>
#include <string.h>

#include "rope-priv.h"

/* The value of every empty rope: static, never counted, never freed. */
struct rope_bytes rope__empty_bytes = {
	.refs = 1,
	.chunk = NULL,
	.data = (const uint8_t *)"",
	.size = 0,
};

/* Wrap @size bytes at @data in @c as a value, consuming the caller's
 * reference to @c on success only. */
static struct rope_bytes *
bytes_wrap(struct rope_chunk *c, const uint8_t *data, size_t size)
{
	struct rope_bytes *b = rope__alloc(sizeof(*b));

	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->chunk = c;
	b->data = data;
	b->size = size;
	return b;
}

ROPEIO_EXPORT int
rope_bytes_new(struct rope_bytes **out, const void *data, size_t len)
{
	struct rope_chunk *c;
	struct rope_bytes *b;

	if (!out || (!data && len))
		return -EINVAL;
	if (len == 0) {
		*out = &rope__empty_bytes;
		return 0;
	}
	c = rope__chunk_new(len);
	if (!c)
		return -ENOMEM;
	b = bytes_wrap(c, c->data, len);
	if (!b) {
		rope__chunk_unref(c);
		return -ENOMEM;
	}
	memcpy(c->data, data, len);
	*out = b;
	return 0;
}

ROPEIO_EXPORT const void *
rope_bytes_data(const struct rope_bytes *b)
{
	return b ? b->data : NULL;
}

ROPEIO_EXPORT size_t
rope_bytes_size(const struct rope_bytes *b)
{
	return b ? b->size : 0;
}

ROPEIO_EXPORT struct rope_bytes *
rope_bytes_ref(struct rope_bytes *b)
{
	if (b && b != &rope__empty_bytes)
		atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

ROPEIO_EXPORT void
rope_bytes_unref(struct rope_bytes *b)
{
	if (!b || b == &rope__empty_bytes)
		return;
	if (atomic_load_explicit(&b->refs, memory_order_acquire) == 1 ||
	    atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
		rope__chunk_unref(b->chunk);
		rope__free(b, sizeof(*b));
	}
}

/* A copy of the contents that the rope does not keep (used while an export
 * can still change the bytes). */
static int
value_copy(const struct rope *r, struct rope_bytes **out)
{
	struct rope_chunk *c = rope__chunk_new((size_t)r->size);
	struct rope_bytes *b;

	if (!c)
		return -ENOMEM;
	b = bytes_wrap(c, c->data, (size_t)r->size);
	if (!b) {
		rope__chunk_unref(c);
		return -ENOMEM;
	}
	rope__flatten_into(r, c->data);
	*out = b;
	return 0;
}

/*
 * How much room a flat chunk gets. The first flatten is exact, so
 * getvalue() of a large rope costs one copy and no slack. When the rope is
 * flattened again and still starts with the previous flat chunk, the caller
 * is in an "append, then getvalue" loop: half the size again as room makes
 * the following appends land in the flat chunk, so the loop costs
 * O(total bytes) instead of O(appends x size).
 */
static size_t
flat_capacity(const struct rope *r)
{
	size_t size = (size_t)r->size;

	/* Compared by id, not by address: the old chunk may have been freed
	 * and its address reused. */
	if (r->flat_id && r->segs[0].chunk->flat_id == r->flat_id &&
	    size <= SIZE_MAX / 3 * 2)
		return size + size / 2;
	return size;
}

/* Flatten ids are process-wide so two ropes never mistake each other's. */
static atomic_uint flat_ids;

static uint32_t
next_flat_id(void)
{
	uint32_t id;

	do
		id = atomic_fetch_add_explicit(&flat_ids, 1,
					       memory_order_relaxed) + 1;
	while (id == 0);
	return id;
}

/* A flat copy of the contents, with room when the loop needs it. */
static struct rope_chunk *
flatten(struct rope *r, size_t cap)
{
	struct rope_chunk *c = NULL;

	/* Without memory for the room, an exact copy still serves the call
	 * (so an OOM sweep sees one more allocation attempt here). */
	if (cap > r->size)
		c = rope__chunk_new(cap);
	if (!c)
		c = rope__chunk_new((size_t)r->size);
	if (c)
		rope__flatten_consume(r, c->data);
	return c;
}

ROPEIO_EXPORT int
rope_getvalue(struct rope *r, struct rope_bytes **out)
{
	struct rope_chunk *c;
	struct rope_bytes *b;

	if (!r || !out)
		return -EINVAL;
	if (r->closed)
		return -EBADF;
	if (r->exports)
		return value_copy(r, out);
	if (r->value) {
		*out = rope_bytes_ref(r->value);
		return 0;
	}
	if (r->size == 0) {
		*out = &rope__empty_bytes;
		return 0;
	}
	if (r->nseg == 1 && (r->segs[0].chunk->kind != ROPE_CHUNK_ZERO ||
			     r->segs[0].len <= ROPE_ZERO_LEN)) {
		/* Already contiguous: share the segment, copy nothing. (A
		 * zero run longer than the real zero block is virtual and
		 * must be flattened.) */
		c = r->segs[0].chunk;
		b = bytes_wrap(c, r->segs[0].data, r->segs[0].len);
		if (!b)
			return -ENOMEM;
		rope__chunk_ref(c);
	} else {
		struct rope__remap m;

		/* Allocate both first: after the copy nothing may fail. */
		b = bytes_wrap(NULL, NULL, (size_t)r->size);
		if (!b)
			return -ENOMEM;
		/* Pages that can move do; else a copy. */
		if (rope__remap_prepare(r, 0, r->size, flat_capacity(r),
					&m) < 0)
			c = NULL;
		else if (m.c)
			c = rope__remap_commit(r, &m);
		else
			c = flatten(r, flat_capacity(r));
		if (!c) {
			rope__free(b, sizeof(*b));
			return -ENOMEM;
		}
		rope__chunk_ref(c);  /* one for the value, one for the rope */
		b->chunk = c;
		b->data = c->data;
		rope__segs_replace_all(r, c, (size_t)r->size);
		r->flat_id = c->flat_id = next_flat_id();
		/* Growth after a flatten starts small again: a byte written
		 * after getvalue() should not reserve a megabyte. */
		rope__tail_restart(r);
	}
	r->value = b;
	rope__put_close(r);  /* a write must drop the value first */
	*out = rope_bytes_ref(b);
	return 0;
}
