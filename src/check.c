/* SPDX-License-Identifier: MIT */
/*
 * rope__check(): verify the invariants listed in rope-priv.h. Tests call it
 * after every mutation; it is never called by the library itself.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "rope-priv.h"

#define FAIL(...)                                                       \
	do {                                                            \
		fprintf(stderr, "rope__check: " __VA_ARGS__);           \
		fputc('\n', stderr);                                    \
		return -EUCLEAN;                                        \
	} while (0)

static int
check_seg(const struct rope_seg *s, size_t i)
{
	const struct rope_chunk *c = s->chunk;

	if (!c)
		FAIL("segment %zu has no chunk", i);
	if (s->len == 0)
		FAIL("segment %zu is empty", i);
	switch (c->kind) {
	case ROPE_CHUNK_ZERO:
		if (s->data != c->data)
			FAIL("zero segment %zu does not point at the zero block", i);
		return 0;
	case ROPE_CHUNK_OWNED:
	case ROPE_CHUNK_EXTERNAL:
		break;
	default:
		FAIL("segment %zu: bad chunk kind %d", i, (int)c->kind);
	}
	if (rope__chunk_refs(c) == 0)
		FAIL("segment %zu: chunk has no references", i);
	if (s->data < c->data || s->len > c->cap ||
	    (size_t)(s->data - c->data) > c->cap - s->len)
		FAIL("segment %zu lies outside its chunk", i);
	return 0;
}

static bool
contiguous(const struct rope_seg *a, const struct rope_seg *b)
{
	if (a->chunk != b->chunk)
		return false;
	return a->chunk->kind == ROPE_CHUNK_ZERO || a->data + a->len == b->data;
}

static int
chunk_order(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const struct rope_chunk *const *)a;
	uintptr_t y = (uintptr_t)*(const struct rope_chunk *const *)b;

	return x < y ? -1 : x > y;
}

/* The value's reference to @c, when only the rope holds the value. */
static size_t
value_ref(const struct rope *r, const struct rope_chunk *c)
{
	return r->value && r->value->chunk == c &&
	       atomic_load(&r->value->refs) == 1;
}

/*
 * Invariant 12's count. The chunks are sorted by address so that each is
 * counted once however many segments reference it; a chunk counts when
 * all its references are the rope's (its segments', its own cached
 * value's and the held room's). The scratch array is plain malloc, not the allocation seam:
 * checking must not move the failure sweeps' count. Without it (out of
 * memory) only the struct and the arrays are counted.
 */
size_t
rope__mem_footprint(const struct rope *r)
{
	size_t total = sizeof(*r), n = 0;
	const struct rope_chunk **v;

	if (r->seg_mem != r->inline_segs)
		total += r->seg_cap * sizeof(struct rope_seg);
	if (r->spare)
		total += rope__chunk_footprint(r->spare);
	if (r->value && atomic_load(&r->value->refs) == 1)
		total += sizeof(*r->value);
	v = malloc((r->nseg + 1) * sizeof(*v));
	if (!v)
		return total;
	for (size_t i = 0; i < r->nseg; i++)
		if (r->segs[i].chunk->kind != ROPE_CHUNK_ZERO)
			v[n++] = r->segs[i].chunk;
	qsort(v, n, sizeof(*v), chunk_order);
	for (size_t i = 0, j; i < n; i = j) {
		const struct rope_chunk *c = v[i];

		for (j = i + 1; j < n && v[j] == c; j++)
			;
		if (rope__chunk_refs(c) !=
		    (j - i) + value_ref(r, c) + (r->held == c))
			continue;
		if (c->kind == ROPE_CHUNK_OWNED)
			total += rope__chunk_footprint(c);
		else  /* the caller's bytes: only the header is ours */
			total += sizeof(struct rope_chunk_external);
	}
	free(v);
	return total;
}

/* Saturating: a sparse rope may hold up to INT64_MAX bytes of zero runs,
 * and four times that does not fit in a size_t. */
size_t
rope__mem_bound(const struct rope *r)
{
	size_t bound;

	if (__builtin_mul_overflow((size_t)r->size, (size_t)ROPE_MEM_FACTOR,
				   &bound) ||
	    __builtin_add_overflow(bound, ROPE_MEM_PER_SEG * r->nseg, &bound) ||
	    __builtin_add_overflow(bound, (size_t)ROPE_MEM_SLACK, &bound))
		return SIZE_MAX;
	return bound;
}

int
rope__check(const struct rope *r)
{
	uint64_t total;
	const struct rope_seg *last;

	if (!r)
		FAIL("NULL rope");
	if (r->segs < r->seg_mem || r->nseg > r->seg_cap ||
	    (size_t)(r->segs - r->seg_mem) > r->seg_cap - r->nseg)
		FAIL("%zu segments at entry %td of an array of %zu", r->nseg,
		     r->segs - r->seg_mem, r->seg_cap);
	if ((r->seg_mem == r->inline_segs) != (r->seg_cap == ROPE_INLINE_SEGS))
		FAIL("inline array and capacity disagree");
	if (r->size > ROPE_MAX_SIZE || r->pos > ROPE_MAX_SIZE)
		FAIL("size %" PRIu64 " or position %" PRIu64 " too large",
		     r->size, r->pos);
	if (r->closed) {
		if (r->nseg || r->size || r->value || r->exports ||
		    r->tail_chunk || r->put_end || r->spare || r->held)
			FAIL("a closed rope still holds something");
		return 0;
	}
	total = r->base;
	for (size_t i = 0; i < r->nseg; i++) {
		int ret = check_seg(&r->segs[i], i);

		if (ret < 0)
			return ret;
		if (r->segs[i].start != total)
			FAIL("segment %zu starts at %" PRIu64 ", expected %" PRIu64,
			     i, r->segs[i].start, total);
		if (i && contiguous(&r->segs[i - 1], &r->segs[i]))
			FAIL("segments %zu and %zu should have been merged",
			     i - 1, i);
		total += r->segs[i].len;
	}
	if (total - r->base != r->size)
		FAIL("segments hold %" PRIu64 " bytes, size is %" PRIu64,
		     total - r->base, r->size);

	last = r->nseg ? &r->segs[r->nseg - 1] : NULL;
	if (!r->tail_chunk) {
		if (r->tail_ptr || r->tail_end)
			FAIL("tail room without a claim");
	} else {
		const struct rope_chunk *c = r->tail_chunk;
		uint64_t reach;

		if (!last || last->chunk != c)
			FAIL("the claimed chunk is not the last segment's");
		if (c->kind != ROPE_CHUNK_OWNED)
			FAIL("claim on a chunk that is not owned");
		if (r->tail_ptr != last->data + last->len)
			FAIL("the claim does not start at the last segment's end");
		/* The claim ends at the chunk's end, or short of it where
		 * the stream would pass ROPE_MAX_SIZE. Drains move base and
		 * size together, so base + size + room stays what it was. */
		if (r->tail_end < r->tail_ptr)
			FAIL("the claim ends before it starts");
		if (r->size + rope__tail_room(r) > ROPE_MAX_SIZE)
			FAIL("the claim reaches past the largest stream");
		if (r->tail_end > c->data + c->cap ||
		    (r->tail_end != c->data + c->cap &&
		     !__builtin_add_overflow(r->base + r->size,
					     rope__tail_room(r), &reach) &&
		     reach < ROPE_MAX_SIZE))
			FAIL("the claim does not end at the chunk's end");
	}
	/* Invariant 10: the put area is closed, or open only where the fast
	 * path may write. */
	if (r->put_end != r->tail_ptr) {
		if (r->put_end != r->tail_end)
			FAIL("the put area ends neither at its start nor at "
			     "the claim's end");
		if (r->put_len != &last->len)
			FAIL("the put area counts into another segment");
		if (r->pos != r->size)
			FAIL("the put area is open at position %" PRIu64
			     " of %" PRIu64 " bytes", r->pos, r->size);
		if (r->value)
			FAIL("the put area is open with a value cached");
		if (r->exports)
			FAIL("the put area is open while exported");
	}
	if (r->own_chunk) {
		size_t n = 0;

		for (size_t i = 0; i < r->nseg; i++)
			n += r->segs[i].chunk == r->own_chunk;
		if (n == 0 ||
		    (r->own_count != n && r->own_count != SIZE_MAX / 2))
			FAIL("%zu segments reference the counted chunk, "
			     "the count says %zu", n, r->own_count);
	}
	if (r->next_chunk < ROPE_CHUNK_FIRST || r->next_chunk > ROPE_TAIL_MAX)
		FAIL("next chunk size %zu out of range", r->next_chunk);
	if (r->spare) {
		const struct rope_chunk *c = r->spare;

		if (c->kind != ROPE_CHUNK_OWNED || c->cap > ROPE_SPARE_MAX)
			FAIL("the spare is not a small owned chunk");
		if (rope__chunk_refs(c) != 1)
			FAIL("the spare has %zu references",
			     rope__chunk_refs(c));
		for (size_t i = 0; i < r->nseg; i++)
			if (r->segs[i].chunk == c)
				FAIL("segment %zu lies in the spare", i);
	}

	if (r->held) {
		const struct rope_chunk *c = r->held;

		if (c->kind != ROPE_CHUNK_OWNED || c->seam)
			FAIL("the held room is not in an owned chunk");
		if (r->held_ptr < c->data || r->held_end < r->held_ptr ||
		    r->held_end > c->data + c->cap)
			FAIL("the held room lies outside its chunk");
		for (size_t i = 0; i < r->nseg; i++) {
			const struct rope_seg *s = &r->segs[i];

			if (s->chunk == c && s->data < r->held_end &&
			    r->held_ptr < s->data + s->len)
				FAIL("segment %zu lies in the held room", i);
		}
	}
	if (rope__mem_footprint(r) > rope__mem_bound(r))
		FAIL("%zu bytes allocated for a rope of %" PRIu64 " (bound %zu)",
		     rope__mem_footprint(r), r->size, rope__mem_bound(r));

	if (r->value) {
		const struct rope_bytes *b = r->value;

		if (r->exports)
			FAIL("a value is cached while an export is alive");
		if (b->size != r->size)
			FAIL("cached value of %zu bytes, rope of %" PRIu64,
			     b->size, r->size);
		if (r->nseg != 1 || b->chunk != last->chunk ||
		    b->data != last->data)
			FAIL("the cached value is not the rope's one segment");
	}
	return 0;
}
