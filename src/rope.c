/* SPDX-License-Identifier: MIT */
/*
 * The rope: life cycle, the segment array, the tail claim, tail sizing and
 * the memory the rope keeps (invariants 7, 12 and 13), drain and truncate.
 * The write path is in write.c, reads and positions in stream.c, values in
 * value.c, exports and snapshots in export.c.
 *
 * Every mutation runs in three phases: plan (read-only), allocate (the only
 * step that can fail; on failure everything allocated so far is freed), and
 * commit (cannot fail). That is what makes every error leave the rope
 * exactly as it was.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "rope-priv.h"

/* ------------------------------------------------------------------------ */
/* The segment array                                                        */
/* ------------------------------------------------------------------------ */

/* Move the live segments to the head of their array. */
static void
segs_compact(struct rope *r)
{
	if (r->segs != r->seg_mem) {
		memmove(r->seg_mem, r->segs, r->nseg * sizeof(*r->segs));
		r->segs = r->seg_mem;
	}
}

/*
 * Make room for @extra more segments after the last. Segments drained from
 * the front leave a gap at the head of the array. The live segments move
 * down into it only when it is at least half the array: a queue that drains
 * one segment and appends one would otherwise move the whole array on every
 * append. Otherwise the array grows geometrically, and the live segments
 * move down first, so the copy is paid once per doubling. Neither step
 * changes the contents, so a failure leaves the rope as it was.
 */
int
rope__segs_reserve(struct rope *r, size_t extra)
{
	struct rope_seg *segs;
	size_t want, cap, front = (size_t)(r->segs - r->seg_mem);

	if (extra > SIZE_MAX - r->nseg)
		return -ENOMEM;
	want = r->nseg + extra;
	if (front + want <= r->seg_cap)
		return 0;
	rope__put_close(r);  /* the array moves: put_len with it */
	if (front && front >= r->seg_cap / 2 && want <= r->seg_cap) {
		segs_compact(r);
		return 0;
	}
	cap = MAX(r->seg_cap * 2, (size_t)8);
	while (cap < want)
		cap *= 2;
	if (cap > SIZE_MAX / sizeof(*segs))
		return -ENOMEM;
	if (r->seg_mem == r->inline_segs) {
		segs = rope__alloc(cap * sizeof(*segs));
		if (!segs)
			return -ENOMEM;
		memcpy(segs, r->segs, r->nseg * sizeof(*segs));
	} else {
		/* Moving down first changes nothing a failure could see. */
		segs_compact(r);
		segs = rope__realloc(r->seg_mem, r->seg_cap * sizeof(*segs),
				     cap * sizeof(*segs));
		if (!segs)
			return -ENOMEM;
	}
	r->segs = r->seg_mem = segs;
	r->seg_cap = cap;
	return 0;
}

static void
claim_drop(struct rope *r)
{
	r->tail_chunk = NULL;
	r->tail_base = NULL;
	r->tail_ptr = NULL;
	r->tail_end = NULL;
	r->put_end = NULL;
}

/*
 * Of @room free bytes after the end, those the stream may still grow by:
 * the fast paths check only the room, so it never reaches past
 * ROPE_MAX_SIZE (invariant 4).
 */
static inline size_t
room_within_max(const struct rope *r, size_t room)
{
	return (size_t)MIN((uint64_t)room, ROPE_MAX_SIZE - r->size);
}

/* Claim the free space after the last segment, which must lie in @c.
 * The put area stays closed: the write that asked opens it. */
void
rope__claim_set(struct rope *r, struct rope_chunk *c)
{
	struct rope_seg *s = rope__last_seg(r);

	r->tail_chunk = c;
	r->tail_base = c->data;
	r->tail_ptr = s->data + s->len;
	r->tail_end = r->tail_ptr + room_within_max(r, (size_t)(c->data +
						c->cap - r->tail_ptr));
	rope__put_close(r);
}

/* The claim, for seam.c: on the last segment's chunk, or none. */
void
rope__claim_tail(struct rope *r)
{
	rope__claim_set(r, rope__last_seg(r)->chunk);
}

void
rope__claim_drop(struct rope *r)
{
	claim_drop(r);
}

/*
 * Make the first segment start at coordinate 0 again. Coordinates are
 * uint64_t: with base at most ROPE_MAX_SIZE and the size too, base + size
 * cannot wrap around. A drain calls this once base passes ROPE_MAX_SIZE,
 * which takes that many drained bytes, so its O(segments) is paid for.
 * Cursors keep coordinates (parse.c): one placed before this would follow
 * the wrong byte. It takes 2^63 drained bytes, so it is left at that.
 */
static void
segs_rebase(struct rope *r)
{
	for (size_t i = 0; i < r->nseg; i++)
		r->segs[i].start -= r->base;
	r->base = 0;
	/* A claim cut short at ROPE_MAX_SIZE is measured again from here
	 * (rope__check relies on base + size + room for it). */
	if (r->tail_chunk)
		rope__claim_set(r, r->tail_chunk);
}

/* Segments were added or dropped: the count of own references is stale. */
static inline void
own_forget(struct rope *r)
{
	r->own_chunk = NULL;
}

/* ------------------------------------------------------------------------ */
/* Tail sizing: the one owner of next_chunk (invariant 7)                   */
/* ------------------------------------------------------------------------ */

/* The smallest power of two from ROPE_CHUNK_FIRST that holds @n bytes,
 * at most @max. */
static size_t
pow2_within(uint64_t n, size_t max)
{
	size_t cap = ROPE_CHUNK_FIRST;

	while (cap < n && cap < max)
		cap *= 2;
	return cap;
}

/* A fresh tail chunk must hold @need bytes: it gets next_chunk, or @need
 * when that is more (a large write gets a chunk of its own size). */
size_t
rope__tail_size(const struct rope *r, size_t need)
{
	return MAX(r->next_chunk, need);
}

/*
 * A drain or truncate left @r->size bytes (not none: an empty rope starts
 * again from its traffic, segs_empty()): the next chunk follows the bytes
 * left, not the history, so a few bytes left of a long stream are not
 * followed by a chunk sized for all of it.
 */
static void
tail_after_cut(struct rope *r)
{
	r->next_chunk = MIN(r->next_chunk,
			    pow2_within(r->size, ROPE_TAIL_MAX));
}

/* A tail chunk of @cap bytes was filled: the next one may be twice as
 * large, but no more than twice the chunk that filled, so that fills of
 * small chunks (a held room, an adopted buffer) cannot double the size
 * past what the rope uses. */
static void
tail_filled(struct rope *r, size_t next, size_t cap)
{
	size_t twice = next < ROPE_TAIL_MAX ? next * 2 : ROPE_TAIL_MAX;

	r->next_chunk = MIN(twice, pow2_within((uint64_t)cap * 2,
					       ROPE_TAIL_MAX));
}

/*
 * Something other than filling ended the claim (a reference or a gap after
 * it, a cut): the chunk was not outgrown, so the next one need hold no
 * more than twice what this one took. A server appending a copied head and
 * a referenced body per response keeps getting small chunks.
 */
static void
tail_cut_short(struct rope *r)
{
	size_t used = (size_t)(r->tail_ptr - r->tail_base);

	r->next_chunk = MIN(r->next_chunk,
			    pow2_within((uint64_t)used * 2, ROPE_TAIL_MAX));
}

static void claim_trim(struct rope *r);

/* Let the held room go (invariant 13). */
static void
held_drop(struct rope *r)
{
	if (r->held) {
		rope__chunk_unref(r->held);
		r->held = NULL;
		r->held_ptr = r->held_end = NULL;
	}
}

/*
 * A chunk the rope did not size (a reference, an adopted buffer) is about
 * to follow the tail: keep the claim's room for the next write rather than
 * lose it, as long as it is worth more than the reference the rope takes.
 * Seam chunks are left alone: their resizing rules want one reference.
 */
void
rope__claim_hold(struct rope *r)
{
	struct rope_chunk *c = r->tail_chunk;

	claim_trim(r);  /* a room larger than the rope is not worth holding */
	if (!c || c->seam || rope__tail_room(r) < 64)
		return;
	held_drop(r);
	rope__chunk_ref(c);
	r->held = c;
	r->held_ptr = r->tail_ptr;
	r->held_end = r->tail_end;
}


void
rope__tail_restart(struct rope *r)
{
	r->next_chunk = ROPE_CHUNK_FIRST;
}

void
rope__tail_limit(struct rope *r, size_t max)
{
	r->next_chunk = MIN(r->next_chunk, MAX(max, (size_t)ROPE_CHUNK_FIRST));
}

/*
 * After segments were cut or replaced, keep the claim only if the last
 * segment still ends exactly where the claimed free space begins. Any other
 * case gives the claim up: bytes between the segment's new end and the old
 * claim may be referenced by a value or a snapshot. Every change of the
 * segments passes here (or forgets the own count itself).
 */
void
rope__claim_recheck(struct rope *r)
{
	struct rope_seg *s = rope__last_seg(r);

	own_forget(r);
	rope__put_close(r);  /* put_len may point at another segment now */
	if (r->tail_chunk &&
	    (!s || s->chunk != r->tail_chunk ||
	     s->data + s->len != r->tail_ptr)) {
		tail_cut_short(r);
		claim_drop(r);
	}
}

/*
 * The claim is about to end with a segment of another chunk after it (a
 * reference, a window, a gap, a fresh chunk): the claimed chunk becomes a
 * segment in the middle, whose room nobody will use. A page chunk gives
 * back the pages of a room larger than the rope's bytes (or 64 KiB) in
 * place: a reservation of 180 KB of which 18 KB were committed, then a
 * reference, would otherwise keep the rest (invariant 12).
 */
void
rope__claim_trim(struct rope *r)
{
	claim_trim(r);
}

static void
claim_trim(struct rope *r)
{
	struct rope_chunk *c = r->tail_chunk;
	uintptr_t page;
	size_t keep = MAX((size_t)r->size, (size_t)ROPE_MEM_SLACK / 4);
	uint8_t *from, *end;

	if (!c || rope__tail_room(r) <= keep || c->kind != ROPE_CHUNK_OWNED ||
	    !c->pages || c->seam)
		return;
	page = (uintptr_t)rope__page_round(1);
	from = (uint8_t *)(((uintptr_t)r->tail_ptr + keep + page - 1) &
			   ~(page - 1));
	end = c->data + c->cap;
	if (from >= end)
		return;
	rope__pages_mem_trim(from, (size_t)(end - from));
	c->cap = (size_t)(from - c->data);
	c->flat_id = 0;
	rope__claim_set(r, c);
}

/*
 * Append a segment, consuming one reference to @c that the caller holds.
 * A segment that continues the last one in the same chunk is merged into it
 * (invariant 3). The caller has reserved room for one segment.
 */
void
rope__segs_push(struct rope *r, struct rope_chunk *c, uint8_t *data,
		size_t len)
{
	struct rope_seg *s = rope__last_seg(r);

	if (unlikely(r->tail_chunk && c != r->tail_chunk &&
		     rope__tail_room(r) > ROPE_MEM_SLACK / 4))
		claim_trim(r);
	if (s && s->chunk == c &&
	    (c->kind == ROPE_CHUNK_ZERO || s->data + s->len == data)) {
		s->len += len;
		rope__chunk_unref(c);
	} else {
		s = &r->segs[r->nseg++];
		s->chunk = c;
		s->data = data;
		s->len = len;
		s->start = r->base + r->size;
	}
	r->size += len;
	rope__claim_recheck(r);
}

/* For compose.c: append a window of @c, consuming a reference, keeping
 * the claim's room for later writes (rope__claim_hold()). The caller reserved
 * the segment. */
void
rope__append_window(struct rope *r, struct rope_chunk *c, uint8_t *data,
		    size_t len)
{
	rope__claim_hold(r);
	rope__segs_push(r, c, data, len);
	/* A window of the claimed chunk itself that ends where the claim
	 * begins (a snapshot of this rope appended to it) keeps the claim:
	 * the room is the claim's, and must not be held twice. */
	if (r->tail_chunk && r->tail_chunk == r->held)
		held_drop(r);
}

/* For fdio.c: the held room, when there is no claim, and where it starts
 * (0 and nothing otherwise); nothing changes. */
size_t
rope__held_reserve(const struct rope *r, uint8_t **ptr)
{
	if (r->tail_chunk || !r->held)
		return 0;
	*ptr = r->held_ptr;
	return rope__held_room(r);
}

/* @n bytes were written at the start of the held room: they become a new
 * segment, and what is left of the room the claim (the held reference
 * becomes the segment's). The caller reserved the segment. */
void
rope__held_commit(struct rope *r, size_t n)
{
	struct rope_chunk *c = r->held;
	uint8_t *p = r->held_ptr;

	r->held = NULL;
	r->held_ptr = r->held_end = NULL;
	rope__drop_value(r);
	rope__segs_push(r, c, p, n);
	rope__claim_set(r, c);
}

/* Cut the stream to @size bytes, dropping references of whole segments. */
void
rope__segs_cut(struct rope *r, uint64_t size)
{
	while (r->nseg && rope__seg_off(r, &r->segs[r->nseg - 1]) >= size)
		rope__chunk_unref(r->segs[--r->nseg].chunk);
	if (r->nseg) {
		struct rope_seg *s = &r->segs[r->nseg - 1];

		s->len = (size_t)(size - rope__seg_off(r, s));
	}
	r->size = size;
	rope__claim_recheck(r);
}

/* Let the spare go, to the cache or the allocator. */
static void
spare_drop(struct rope *r)
{
	if (r->spare) {
		rope__chunk_unref(r->spare);
		r->spare = NULL;
	}
}

void
rope__spare_release(struct rope *r)
{
	if (!r->size)
		spare_drop(r);
}

/*
 * The tail chunk @c of a rope just emptied, with the reference the caller
 * took on it: it becomes the spare when the rope alone held it (the count
 * can only be too high, see rope__chunk_refs()) and it is larger than the
 * spare there is, else the reference goes.
 */
static void
spare_offer(struct rope *r, struct rope_chunk *c)
{
	if (rope__chunk_refs(c) == 1 && (!r->spare || r->spare->cap < c->cap)) {
		spare_drop(r);
		c->flat_id = 0;  /* its bytes are nobody's flatten any more */
		r->spare = c;
	} else {
		rope__chunk_unref(c);
	}
}

/*
 * The capacity a tail chunk starts from once the rope has emptied after
 * @traffic bytes went through it: the smallest power of two that would
 * have held them, between ROPE_CHUNK_FIRST and ROPE_SPARE_MAX. A queue of
 * 40-byte messages goes on with 256-byte chunks, one of 1,448-byte replies
 * with 2 KiB; a stream that ran long starts again at 64 KiB and doubles.
 */
static size_t
chunk_after_empty(uint64_t traffic)
{
	size_t cap = ROPE_CHUNK_FIRST;

	while (cap < ROPE_SPARE_MAX && cap < traffic)
		cap *= 2;
	return cap;
}

/*
 * Empty the stream (a drain of everything, a truncate to 0; the caller
 * dropped the cached value). The tail chunk may become the spare, and the
 * next chunk size follows the traffic, not the history (invariants 6, 7).
 */
static void
segs_empty(struct rope *r)
{
	struct rope_seg *s = rope__last_seg(r);
	struct rope_chunk *keep = NULL;
	uint64_t end = r->base + r->size;
	uint64_t traffic = end - r->empty_base;

	if (s && s->chunk->kind == ROPE_CHUNK_OWNED &&
	    s->chunk->cap <= ROPE_SPARE_MAX) {
		keep = s->chunk;
		rope__chunk_ref(keep);
	}
	rope__segs_cut(r, 0);
	r->segs = r->seg_mem;
	/* Coordinates go on from the end, so that a cursor on a drained
	 * byte stays stale and one at the end reads what comes next. */
	r->base = r->empty_base = end <= ROPE_MAX_SIZE ? end : 0;
	if (keep)
		spare_offer(r, keep);
	r->next_chunk = chunk_after_empty(traffic);
	r->out_fd = -1;
}

static void
segs_release(struct rope *r)
{
	spare_drop(r);
	held_drop(r);
	rope__reservation_free(r);
	for (size_t i = 0; i < r->nseg; i++)
		rope__chunk_unref(r->segs[i].chunk);
	if (r->seg_mem != r->inline_segs)
		rope__free(r->seg_mem, r->seg_cap * sizeof(*r->seg_mem));
	r->segs = r->seg_mem = r->inline_segs;
	r->seg_cap = ROPE_INLINE_SEGS;
	r->nseg = 0;
	r->base = 0;
	r->size = 0;
	claim_drop(r);
	own_forget(r);
	r->out_fd = -1;
}

/*
 * Replace every segment with one segment over the first @len bytes of @c,
 * consuming the caller's reference, and claim the chunk's free space.
 * Cannot fail: the array only shrinks.
 */
void
rope__segs_replace_all(struct rope *r, struct rope_chunk *c, size_t len)
{
	held_drop(r);
	for (size_t i = 0; i < r->nseg; i++)
		rope__chunk_unref(r->segs[i].chunk);
	r->segs = r->seg_mem;
	r->nseg = 0;
	r->size = 0;  /* base stays: the bytes keep their coordinates */
	claim_drop(r);
	rope__segs_push(r, c, c->data, len);
	if (c->kind == ROPE_CHUNK_OWNED)
		rope__claim_set(r, c);
}

/*
 * Replace the stream bytes [a, b) (inside the stream, a < b) by one segment
 * over @data in @c, consuming the caller's reference. At most two segments
 * are added (a split leaves a left and a right remainder), and the caller
 * has reserved them.
 */
void
rope__segs_replace(struct rope *r, uint64_t a, uint64_t b, struct rope_chunk *c,
	     uint8_t *data)
{
	size_t i = rope__find(r, a);
	size_t j = rope__find(r, b - 1);
	struct rope_seg left = r->segs[i], right = r->segs[j];
	struct rope_seg mid = { c, data, (size_t)(b - a), r->base + a };
	struct rope_seg repl[3];
	size_t n = 0, k;

	/* From here on a and b are segment coordinates. */
	a += r->base;
	b += r->base;
	left.len = (size_t)(a - left.start);
	if (right.chunk->kind != ROPE_CHUNK_ZERO)  /* zero runs are virtual */
		right.data += b - right.start;
	right.len = (size_t)(right.start + right.len - b);
	right.start = b;

	/* The remainders keep the references of segs[i] and segs[j]; any
	 * other segment in between loses its reference. */
	if (left.len)
		repl[n++] = left;
	repl[n++] = mid;
	if (right.len)
		repl[n++] = right;
	for (k = i; k <= j; k++) {
		struct rope_chunk *old = r->segs[k].chunk;
		bool kept = (k == i && left.len) || (k == j && right.len);

		if (k == i && k == j && left.len && right.len)
			rope__chunk_ref(old);  /* one chunk, two remainders */
		else if (!kept)
			rope__chunk_unref(old);
	}
	memmove(&r->segs[i + n], &r->segs[j + 1],
		(r->nseg - j - 1) * sizeof(*r->segs));
	memcpy(&r->segs[i], repl, n * sizeof(*repl));
	r->nseg = r->nseg - (j - i + 1) + n;
	rope__claim_recheck(r);
}

/* ------------------------------------------------------------------------ */
/* Privacy: may these bytes be written in place?                            */
/* ------------------------------------------------------------------------ */

/*
 * True when the rope's cached value covers @c and nobody but the rope holds
 * that value.
 */
static bool
value_only_ours(const struct rope *r, const struct rope_chunk *c)
{
	return r->value && r->value->chunk == c &&
	       atomic_load_explicit(&r->value->refs, memory_order_acquire) == 1;
}

/*
 * The references to @s's chunk that are certainly ours: the segment's own
 * and, perhaps, the cached value's.
 *
 * The order of the two loads matters. Another thread can take a chunk
 * reference only through something that already holds one, such as a value
 * it is about to release. Reading the value's count first means that when it
 * reads 1, any reference taken through the value beforehand is visible in the
 * chunk's count read next (the release synchronizes with our acquire), and
 * none can be taken after. Counts only fall behind our back; they never rise.
 */
static bool
seg_exclusive(const struct rope *r, const struct rope_seg *s, size_t *mine,
	      size_t *refs)
{
	const struct rope_chunk *c = s->chunk;

	if (c->kind != ROPE_CHUNK_OWNED)
		return false;
	*mine = 1 + value_only_ours(r, c) + (r->held == c);
	*refs = rope__chunk_refs(c);
	return *refs == *mine;
}

/*
 * How many segments of this rope reference @c. An overwrite of shared bytes
 * splits a segment into remainders around the new bytes, and once the
 * sharer is gone all those references are ours. The count is kept until
 * the segments change, so overwrites that follow cost no scan. Segments of
 * one chunk whose bytes overlap, or lie out of order, would see each
 * other's writes: they make the chunk count as shared.
 */
static size_t
own_refs(struct rope *r, const struct rope_chunk *c)
{
	const uint8_t *end = NULL;
	size_t n = 0;

	if (r->own_chunk == c)
		return r->own_count;
	for (size_t j = 0; j < r->nseg; j++) {
		const struct rope_seg *o = &r->segs[j];

		if (o->chunk != c)
			continue;
		if (end && o->data < end) {
			n = SIZE_MAX / 2;
			break;
		}
		end = o->data + o->len;
		n++;
	}
	r->own_chunk = c;
	r->own_count = n;
	return n;
}

/*
 * May segs[i] be written in place? Yes when its chunk is our own heap memory
 * and every reference to it is ours: this segment, the cached value when
 * only the rope holds it, and other segments of this rope. The value's
 * count is read before the chunk's, as in seg_exclusive().
 */
bool
rope__seg_private(struct rope *r, size_t i)
{
	const struct rope_chunk *c = r->segs[i].chunk;
	size_t mine, refs;

	if (seg_exclusive(r, &r->segs[i], &mine, &refs))
		return true;
	if (c->kind != ROPE_CHUNK_OWNED)
		return false;
	mine = value_only_ours(r, c) + own_refs(r, c) + (r->held == c);
	return rope__chunk_refs(c) == mine;
}

/*
 * Free space we may append into: our claim, or the room after the last
 * segment when nobody else references its chunk at all (after a truncate,
 * or in a chunk that came from a value that has since been released).
 */
size_t
rope__room_available(const struct rope *r)
{
	const struct rope_seg *s = rope__last_seg(r);
	size_t mine, refs;

	if (r->tail_chunk)
		return rope__tail_room(r);
	if (s && seg_exclusive(r, s, &mine, &refs))
		return room_within_max(r, (size_t)(s->chunk->data +
						   s->chunk->cap - s->data -
						   s->len));
	return 0;
}

void
rope__drop_value(struct rope *r)
{
	if (r->value) {
		rope_bytes_unref(r->value);
		r->value = NULL;
	}
}

/* ------------------------------------------------------------------------ */
/* The checks every change makes                                            */
/* ------------------------------------------------------------------------ */

int
rope__check_writable(const struct rope *r)
{
	if (!r)
		return -EINVAL;
	if (r->closed)
		return -EBADF;
	if (r->exports)
		return -EBUSY;
	return 0;
}

int
rope__check_extent(uint64_t p, size_t n)
{
	if ((uint64_t)n > ROPE_MAX_SIZE - MIN(p, ROPE_MAX_SIZE) ||
	    n > (size_t)SSIZE_MAX)
		return -EOVERFLOW;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Shrinking: memory follows the bytes after a drain or truncate            */
/* ------------------------------------------------------------------------ */

/*
 * The segment array after many segments went: it keeps at most four times
 * the live ones (then twice), and moves back inline when they fit there. A
 * queue that swings between few and many segments pays the copy once per
 * swing. Shrinking cannot fail: where realloc() refuses, the array stays.
 */
static void
segs_shrink(struct rope *r)
{
	size_t cap = 8, bytes;
	struct rope_seg *segs;

	if (r->seg_mem == r->inline_segs || r->seg_cap <= 64 ||
	    r->seg_cap / 4 <= r->nseg)
		return;
	rope__put_close(r);  /* the array moves: put_len with it */
	segs_compact(r);
	bytes = r->seg_cap * sizeof(*segs);
	if (r->nseg <= ROPE_INLINE_SEGS) {
		memcpy(r->inline_segs, r->seg_mem, r->nseg * sizeof(*segs));
		rope__free(r->seg_mem, bytes);
		r->segs = r->seg_mem = r->inline_segs;
		r->seg_cap = ROPE_INLINE_SEGS;
		return;
	}
	while (cap < r->nseg * 2)
		cap *= 2;
	segs = rope__realloc_shrink(r->seg_mem, bytes, cap * sizeof(*segs));
	if (!segs)
		return;
	r->segs = r->seg_mem = segs;
	r->seg_cap = cap;
}

/* The pages of a page chunk only the rope holds outside segment @s go
 * back to the system, in place: nothing copied, nothing allocated. */
static void
seg_trim_pages(struct rope *r, struct rope_seg *s)
{
	struct rope_chunk *c = s->chunk;
	uintptr_t page = (uintptr_t)rope__page_round(1);
	uint8_t *lo, *hi, *end = c->data + c->cap;

	lo = (uint8_t *)((uintptr_t)s->data & ~(page - 1));
	hi = (uint8_t *)(((uintptr_t)(s->data + s->len) + page - 1) &
			 ~(page - 1));
	if (lo > c->data)
		rope__pages_mem_trim(c->data, (size_t)(lo - c->data));
	if (hi < end)
		rope__pages_mem_trim(hi, (size_t)(end - hi));
	c->data = lo;
	c->cap = (size_t)(hi - lo);
	c->flat_id = 0;  /* no longer a flatten's whole block */
	if (c == r->tail_chunk)
		rope__claim_set(r, c);
}

/*
 * Segment @i, at an end of the stream after a drain or truncate, holds a
 * few bytes of a large block (ropeio's or the caller's): the rope must
 * not keep the block alive for them (invariant 12; CPython's truncate
 * frees what it cuts). A page chunk only the rope holds gives back the
 * pages around them. Any other block is left to its other holders: the
 * bytes move to a chunk of their size, at most half the block, which the
 * bytes cut from it paid for. Out of memory, the rope keeps the block: the
 * bytes are right either way.
 */
bool
rope__window_kept(const struct rope_chunk *c, size_t len)
{
	size_t block;

	if (c->kind == ROPE_CHUNK_ZERO)
		return true;
	/* An owned chunk's allocation, or the caller's memory under an
	 * external chunk. */
	block = c->kind == ROPE_CHUNK_OWNED ? rope__chunk_footprint(c) : c->cap;
	return (uint64_t)block <= 2 * (uint64_t)len + ROPE_MEM_SLACK / 2;
}

static void
seg_shrink(struct rope *r, size_t i)
{
	struct rope_seg *s = &r->segs[i];
	struct rope_chunk *c = s->chunk, *fresh;
	size_t mine, refs;

	if (rope__window_kept(c, s->len))
		return;
	if (c->kind == ROPE_CHUNK_OWNED && c->pages && !c->seam &&
	    seg_exclusive(r, s, &mine, &refs)) {
		seg_trim_pages(r, s);
		return;
	}
	/* Any other block, a seam block included (the allocator's, which
	 * a value may hold): the bytes move to ropeio's own chunk. */
	fresh = rope__chunk_new(MAX(s->len,
				    pow2_within(s->len, ROPE_TAIL_MAX)));
	if (!fresh)
		return;
	memcpy(fresh->data, s->data, s->len);
	s->chunk = fresh;
	s->data = fresh->data;
	own_forget(r);
	if (c == r->tail_chunk && i == r->nseg - 1)
		rope__claim_set(r, fresh);
	rope__chunk_unref(c);
}

/*
 * After bytes were cut from the front or the end, of a rope that held
 * @before bytes: invariant 12. The segments at the ends, which the cut
 * reached, give back what they no longer need. A segment in the middle can
 * hold a few bytes of a large block too (one the rope held a fair share of
 * before it was cut down): once the rope has halved since the last look,
 * every segment is looked at, which costs less than the bytes cut since
 * (each segment holds one at least).
 */
static void
rope_shrink(struct rope *r, uint64_t before)
{
	r->shrink_mark = MAX(r->shrink_mark, before);
	if (r->nseg) {
		tail_after_cut(r);
		seg_shrink(r, 0);
		if (r->nseg > 1)
			seg_shrink(r, r->nseg - 1);
	}
	if (r->size < r->shrink_mark / 2) {
		for (size_t i = 1; i + 1 < r->nseg; i++)
			seg_shrink(r, i);
		r->shrink_mark = r->size;
	}
	segs_shrink(r);
}

ROPEIO_EXPORT int64_t
rope_truncate(struct rope *r, int64_t size)
{
	int ret = rope__check_writable(r);

	if (ret < 0)
		return ret;
	if (size < 0)
		return -EINVAL;
	if ((uint64_t)size < r->size) {
		uint64_t before = r->size;

		rope__put_close(r);  /* the position may be past the end now */
		rope__drop_value(r);
		held_drop(r);
		if (size == 0)
			segs_empty(r);
		else
			rope__segs_cut(r, (uint64_t)size);
		rope_shrink(r, before);
	}
	if (size == 0)
		r->out_fd = -1;  /* even if it was empty: invariant 8 */
	return size;
}

ROPEIO_EXPORT int64_t
rope_drain(struct rope *r, size_t len)
{
	struct rope_seg *s;
	uint64_t n, cut, before;
	size_t i;
	int ret = rope__check_writable(r);

	if (ret < 0)
		return ret;
	n = MIN((uint64_t)len, r->size);
	if (r->size == n)
		r->out_fd = -1;  /* empty, even if it was: invariant 8 */
	if (n == 0)
		return 0;
	rope__drop_value(r);
	held_drop(r);
	before = r->size;
	if (n == r->size) {
		segs_empty(r);
	} else {
		/* Whole segments go, and their chunks with them when nobody
		 * else holds them; the array's head just moves past them. */
		i = rope__find(r, n);
		for (size_t k = 0; k < i; k++)
			rope__chunk_unref(r->segs[k].chunk);
		s = &r->segs[i];
		cut = r->base + n - s->start;
		if (s->chunk->kind != ROPE_CHUNK_ZERO)
			s->data += cut;
		s->len -= (size_t)cut;
		s->start += cut;
		r->segs += i;
		r->nseg -= i;
		r->base += n;
		r->size -= n;
		own_forget(r);
		if (r->base > ROPE_MAX_SIZE)
			segs_rebase(r);
	}
	rope_shrink(r, before);
	r->pos = r->pos > n ? r->pos - n : 0;
	return (int64_t)n;
}

/* ------------------------------------------------------------------------ */
/* Appending from outside: the hooks fdio.c reads into                      */
/* ------------------------------------------------------------------------ */

size_t
rope__tail_reserve(struct rope *r, uint8_t **ptr)
{
	size_t room = rope__room_available(r);

	/* Claiming the room after an exclusive last segment changes no
	 * byte, so it is safe even if the caller then fails. */
	if (room && !r->tail_chunk)
		rope__claim_set(r, rope__last_seg(r)->chunk);
	*ptr = r->tail_ptr;
	return room;
}

void
rope__tail_commit(struct rope *r, size_t n)
{
	rope__drop_value(r);
	rope__tail_advance(r, n);
}

/*
 * Append @n bytes at the start of @c as the new tail and claim the room
 * after them. @sized: the rope chose the chunk for this write (a fresh tail
 * chunk, or the spare), so the claim and any held room before it are done
 * with; otherwise (an adopted buffer) the held room stays for later writes
 * and the growth of tail chunks does not count it.
 */
static void
tail_push(struct rope *r, struct rope_chunk *c, size_t n, bool sized)
{
	/* A claim still alive here ran out of room: the caller filled it
	 * before taking a fresh chunk; a held room did too, or it would
	 * have been used. Pushing ends the claim, which would count as cut
	 * short; filling is what decides. */
	size_t filled = r->tail_chunk ? r->tail_chunk->cap :
			r->held ? r->held->cap : 0;
	size_t next = r->next_chunk;

	if (sized)
		held_drop(r);
	if (r->spare == c)
		r->spare = NULL;
	else
		spare_drop(r);
	rope__drop_value(r);
	rope__segs_push(r, c, c->data, n);
	rope__claim_set(r, c);
	if (!sized)
		r->next_chunk = next;
	else if (filled)
		tail_filled(r, next, filled);
}

/*
 * The chunk the rope appended into becomes its tail. When it was the spare,
 * the spare is used up; when it was not, a spare too small for this traffic
 * goes too, so that an idle rope never keeps two chunks.
 */
void
rope__tail_push(struct rope *r, struct rope_chunk *c, size_t n)
{
	tail_push(r, c, n, true);
}

struct rope_chunk *
rope__tail_fresh(struct rope *r, size_t need, size_t cap)
{
	if (r->spare && r->spare->cap >= need)
		return r->spare;
	if (r->alloc.take)
		return rope__seam_chunk_new(r, cap);
	return rope__chunk_new(cap);
}

void
rope__tail_discard(struct rope *r, struct rope_chunk *c)
{
	if (c != r->spare)
		rope__chunk_unref(c);
}

int
rope__append_chunk(struct rope *r, struct rope_chunk *c, size_t n)
{
	int ret = rope__check_writable(r);

	if (ret < 0)
		return ret;
	ret = rope__check_extent(r->size, n);
	if (ret < 0)
		return ret;
	if (rope__segs_reserve(r, 1) < 0)
		return -ENOMEM;
	/* The rope alone holds the chunk now: its free space is ours. It
	 * is no tail chunk the rope chose, so the next one's size stays:
	 * a receive that adopts many buffers between small copies would
	 * otherwise double it with every buffer (a 100 KB stream ended in
	 * a 256 KiB tail chunk). */
	rope__claim_hold(r);
	tail_push(r, c, n, false);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                               */
/* ------------------------------------------------------------------------ */

static void
rope_init(struct rope *r)
{
	memset(r, 0, sizeof(*r));
	r->segs = r->seg_mem = r->inline_segs;
	r->seg_cap = ROPE_INLINE_SEGS;
	r->next_chunk = ROPE_CHUNK_FIRST;
	r->out_fd = -1;
}

ROPEIO_EXPORT struct rope *
rope_new(void)
{
	struct rope *r = rope__alloc(sizeof(*r));

	if (r)
		rope_init(r);
	return r;
}

ROPEIO_EXPORT int
rope_new_from(struct rope **out, const void *data, size_t len)
{
	struct rope_chunk *c = NULL;
	struct rope *r;

	if (!out || (!data && len))
		return -EINVAL;
	if ((uint64_t)len > ROPE_MAX_SIZE)
		return -EOVERFLOW;
	if (len) {
		c = rope__chunk_new(len);
		if (!c)
			return -ENOMEM;
	}
	r = rope_new();
	if (!r) {
		if (c)
			rope__chunk_unref(c);
		return -ENOMEM;
	}
	if (c) {
		memcpy(c->data, data, len);
		rope__segs_push(r, c, c->data, len);
		rope__claim_set(r, c);
	}
	*out = r;
	return 0;
}

ROPEIO_EXPORT int
rope_new_from_bytes(struct rope **out, struct rope_bytes *b)
{
	struct rope *r;

	if (!out || !b)
		return -EINVAL;
	r = rope_new();
	if (!r)
		return -ENOMEM;
	if (b->size) {
		/* No claim: the chunk's free space belongs to whoever
		 * allocated it. */
		rope__chunk_ref(b->chunk);
		rope__segs_push(r, b->chunk, (uint8_t *)b->data, b->size);
	}
	*out = r;
	return 0;
}

ROPEIO_EXPORT void
rope_free(struct rope *r)
{
	if (!r)
		return;
	rope__drop_value(r);
	segs_release(r);
	rope__free(r, sizeof(*r));
}

/* Closes of ropes an engine received into, so far: the engine's rounds
 * look for receives whose rope was closed only when it moved
 * (uring-readiness.c). Other ropes' closes do not count. */
atomic_ulong rope__closes;

ROPEIO_EXPORT int
rope_close(struct rope *r)
{
	if (!r)
		return -EINVAL;
	if (r->closed)
		return 0;
	if (r->exports)
		return -EBUSY;
	rope__drop_value(r);
	segs_release(r);
	r->pos = 0;
	r->closed = true;
	if (r->received)
		atomic_fetch_add_explicit(&rope__closes, 1,
					  memory_order_release);
	return 0;
}

ROPEIO_EXPORT bool
rope_closed(const struct rope *r)
{
	return !r || r->closed;
}

ROPEIO_EXPORT size_t
rope_size(const struct rope *r)
{
	return r ? (size_t)r->size : 0;
}

/* As rope_mem_stats(): from 0.1's size up, the fields the struct has. */
int
rope__get_info(const struct rope *r, struct rope_info *out, size_t size)
{
	struct rope_info in;

	if (!r || !out || size < ROPE_INFO_SIZE_0_1)
		return -EINVAL;
	if (r->closed)
		return -EBADF;
	in.size = (size_t)r->size;
	in.segments = r->nseg;
	in.segment_bytes = sizeof(struct rope_seg);
	in.overhead = sizeof(*r);
	if (r->seg_mem != r->inline_segs)
		in.overhead += r->seg_cap * sizeof(struct rope_seg);
	if (r->spare)
		in.overhead += rope__chunk_footprint(r->spare);
	in.tail_room = rope__tail_room(r);
	memcpy(out, &in, MIN(size, sizeof(in)));
	return 0;
}

void
rope__flatten_into(const struct rope *r, uint8_t *dst)
{
	for (size_t i = 0; i < r->nseg; i++) {
		rope__seg_copyout(&r->segs[i], 0, dst, r->segs[i].len);
		dst += r->segs[i].len;
	}
}
