/* SPDX-License-Identifier: MIT */
#ifndef ROPE_PRIV_H
#define ROPE_PRIV_H

/*
 * Private structures of ropeio and the invariants that rope__check()
 * verifies. Read this before any .c file.
 *
 * A chunk is a refcounted block of bytes. A segment is a window
 * {chunk, data, len} into one chunk, plus `start`, the stream offset of its
 * first byte. A rope is an array of segments in stream order. A value
 * (struct rope_bytes) is one window; a snapshot is a frozen array of
 * segments. Every segment, value and snapshot entry holds one reference to
 * its chunk.
 *
 * Invariants of an open rope (checked by rope__check()):
 *  1. every segment has len > 0; segs[0].start == base and each start is
 *     the previous start + len; the lengths add up to size. Starts are in
 *     segment coordinates: stream offset x is coordinate base + x, so
 *     draining the front (base grows) moves no other segment;
 *  2. a segment lies inside its chunk (the zero chunk excepted: a zero
 *     segment is a virtual run of zero bytes of any length);
 *  3. two neighbouring segments are never contiguous in the same chunk
 *     (they would have been merged), so a rope whose bytes are contiguous
 *     has exactly one segment;
 *  4. the tail claim (tail_chunk) is either NULL, with tail_ptr and
 *     tail_end NULL, or the chunk of the last segment, with tail_ptr at
 *     that segment's end and tail_end at the chunk's end (or short of it,
 *     so that size + the room never passes ROPE_MAX_SIZE: the append fast
 *     paths check only the room). A rope claims a chunk's free
 *     space when it allocated the chunk, or when nobody else references the
 *     chunk at all (after a truncate, or once a value it came from is
 *     released); either way no value, snapshot or other rope can see the
 *     bytes written there;
 *  5. a cached value covers exactly the contents (it is dropped by every
 *     change), and exists only while no export is alive;
 *  6. the spare is NULL or an owned chunk of at most ROPE_SPARE_MAX bytes
 *     that the rope alone references (one reference, held by `spare`): no
 *     segment, value or snapshot covers any of its bytes, so all of them
 *     are free. It is the tail chunk a drain or truncate emptied the rope
 *     of, kept so that the next append need not allocate; a fresh tail
 *     chunk is taken from it when it holds what must be written. It is not
 *     the tail claim (which needs a last segment) and may coexist with one;
 *  7. next_chunk lies in [ROPE_CHUNK_FIRST, ROPE_TAIL_MAX]. It is the
 *     capacity of the next fresh tail chunk, decided in one place
 *     (rope__tail_size() and its helpers in rope.c): it doubles only when
 *     a tail chunk was filled (the claim ran out of room), shrinks to
 *     twice what the last tail chunk took when anything else ended its
 *     claim (a reference, a gap, a cut), restarts from the traffic when
 *     the rope empties, and never gives a chunk much larger than the
 *     rope's own bytes: a queue of small messages keeps small chunks
 *     however long it runs, and a claim broken a thousand times costs a
 *     thousand small chunks, not a thousand doublings;
 *  8. out_fd is -1 or the descriptor rope_write_fd() last wrote to, and
 *     out_mode what that call learned it to be (a socket or not, fdio.c).
 *     A drain or truncate by the caller that empties the rope, and a
 *     close, forget it (out_fd = -1);
 *  9. own_chunk, when set, is referenced by exactly own_count segments
 *     (or own_count is SIZE_MAX / 2: they overlap), so the count never
 *     outlives a change of the segments;
 * 10. the put area [tail_ptr, put_end) is where rope_write() may append
 *     with one bound check. It is closed (put_end == tail_ptr, so it holds
 *     no byte) unless the rope has a claim, the position is at the end, no
 *     value is cached and no export is alive; then it may be open
 *     (put_end == tail_end, and put_len points at the last segment's
 *     len). Whatever breaks one of those conditions closes it
 *     (rope__put_close()): a seek, an append that leaves the position
 *     behind (rope_append(), rope_read_fd(), a receive), getvalue(),
 *     getbuffer(), a truncate, every change of the claim or of the
 *     segments (rope__claim_recheck()) and every move of the segment
 *     array. Reads move the position only from short of the end, where
 *     the area is closed already. Only a write that ends at the end opens
 *     it again.
 * 11. a seam chunk (seam.c) is OWNED, and may be written, claimed, kept as
 *     the spare and resized, until rope_seal_value() makes it EXTERNAL
 *     (rope_unseal_value() makes it OWNED again once its one segment,
 *     covering all of it, is its only reference);
 *     it is resized only while it is the last segment's chunk, its one
 *     reference that segment's, and the segment starts at its first byte.
 * 12. memory follows the bytes: what the library allocated for an open
 *     rope (rope__mem_footprint(): its struct, its segment array, its
 *     spare, its cached value, and every chunk that nothing but the rope
 *     keeps alive, each counted once) is at most ROPE_MEM_FACTOR times
 *     its size, plus ROPE_MEM_PER_SEG per segment, plus ROPE_MEM_SLACK.
 *     A chunk that a value, a snapshot or
 *     another rope also holds is theirs to count. What keeps it: tail
 *     sizing (invariant 7); a gap too small to be worth a segment is
 *     written as zeros (ROPE_GAP_COPY_MAX); room left before a reference
 *     is kept for the next write (invariant 13); a
 *     drain or truncate that leaves a large chunk mostly unused moves
 *     the bytes left to a chunk of their size and shrinks the segment
 *     array (rope.c's rope_shrink()).
 * 13. held is NULL, or an owned chunk (never a seam chunk) whose free room
 *     [held_ptr, held_end) the rope claimed before a reference or an
 *     adopted chunk was appended after it, kept so that the next small
 *     write lands there instead of in a fresh chunk (a response built of
 *     a copied head and a referenced body uses one chunk for many heads).
 *     It holds one reference; no segment covers any byte of the room; it
 *     counts as the rope's own when deciding whether bytes are private.
 *     A write that needs more than the room, a drain, a truncate, a
 *     flatten and a close let it go.
 * A closed rope has no segments, size 0, no value, no export, no spare,
 * nothing held.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ropeio.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* The largest stream: positions are int64_t, like off_t, and a segment's
 * length is a size_t (the smaller limit on 32-bit systems). */
#define ROPE_MAX_SIZE ((uint64_t)INT64_MAX < (uint64_t)SIZE_MAX ? \
		       (uint64_t)INT64_MAX : (uint64_t)SIZE_MAX)

/*
 * Tail chunks start at this capacity and double up to ROPE_TAIL_MAX; the
 * cache keeps chunks up to ROPE_CHUNK_MAX. Past 2 MiB tail chunks are page
 * chunks on huge pages: 128 MiB of 64 KiB appends fault 694 times instead
 * of 32,780 when the tail grows to 32 MiB rather than stopping at 1 MiB.
 */
#define ROPE_CHUNK_FIRST 256
#define ROPE_CHUNK_MAX (1u << 20)

/*
 * ThreadSanitizer shadows every mapping, and resets the shadow of a fresh
 * one: a 32 MiB tail made a fill and getvalue 2 to 4 times slower there
 * (610 ms against 160 to 290 ms for 32 MiB), enough to time the model test
 * out. What it checks does not depend on the tail's size, so under it the
 * tail stops at ROPE_CHUNK_MAX.
 */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define ROPE_TAIL_MAX ROPE_CHUNK_MAX
#else
#define ROPE_TAIL_MAX (32u << 20)
#endif

/*
 * The largest spare chunk a rope keeps once emptied (invariant 6). It holds
 * a fresh read of rope_read_fd (64 KiB). An idle rope costs at most this
 * much besides its struct, and only the pages it wrote are resident.
 */
#define ROPE_SPARE_MAX (64u * 1024)

/*
 * The memory bound of invariant 12: allocation <= FACTOR x size + SLACK.
 * The slack covers what a rope may hold whatever its size: the spare
 * (64 KiB), one read chunk of rope_read_fd() or a tail restarted after the
 * rope emptied (64 KiB each), headers and the struct. The factor covers
 * the tail's room (a fresh tail chunk is at most about the rope's size),
 * a flatten's spare capacity and page rounding.
 */
#define ROPE_MEM_FACTOR 4
#define ROPE_MEM_SLACK (256u << 10)

/*
 * The per-segment term: a segment costs its entry (32 bytes, in an array
 * kept at most four times the live entries) and, for a reference, the
 * header of its external chunk. A reference of 3 bytes costs that however
 * short it is: the caller chose the reference, and copying it instead
 * would break rope_append_ref()'s promise about the memory's lifetime.
 */
#define ROPE_MEM_PER_SEG 192

/*
 * A gap (a write past the end) of at most this many bytes is written as
 * zeros into the tail rather than kept as a zero segment: the segment and
 * the fresh tail chunk after it would cost more than the zeros.
 */
#define ROPE_GAP_COPY_MAX 512

/* A zero segment is exported in iovecs of at most this many bytes. */
#define ROPE_ZERO_LEN (1u << 20)

/* An overwrite of fewer shared bytes than this replaces the aligned block
 * (in segment coordinates) around them, so repeated small overwrites leave
 * at most a few segments per block and later ones land in place. */
#define ROPE_COW_BLOCK 4096

/* Segments kept inside struct rope before the array moves to the heap. */
#define ROPE_INLINE_SEGS 2

/* ------------------------------------------------------------------------ */
/* Calls whose signature or struct changed after 0.1                        */
/* ------------------------------------------------------------------------ */

/*
 * rope_mem_stats(), rope_get_info(), rope_uring_get_stats() (a size
 * argument) and rope_cursor_init*() (a larger cursor) changed in 0.2.
 * The internal library implements them under internal names (below).
 * Where the linker versions symbols, the shared library exports each
 * under two versions, from compat*.c: 0.2's as the default, and 0.1's,
 * which a program linked against 0.1 keeps calling. Everything else that
 * links the internal library (the tests, the Python module, a linker
 * without versions) gets the plain public names from latest*.c. No
 * object defines both, so no link depends on the order of its objects.
 */
int rope__mem_stats(struct rope_mem_stats *out, size_t size);
int rope__get_info(const struct rope *r, struct rope_info *out, size_t size);
int rope__cursor_init(struct rope_cursor *c, const struct rope *r,
		      int64_t off);
int rope__cursor_init_snap(struct rope_cursor *c, const struct rope_snap *s,
			   int64_t off);

/* Version 0.1's struct sizes: a caller's struct is never smaller. */
#define ROPE_SIZE_TO(type, last) \
	(offsetof(struct type, last) + sizeof(((struct type *)0)->last))
#define ROPE_MEM_STATS_SIZE_0_1 ROPE_SIZE_TO(rope_mem_stats, frees)
#define ROPE_INFO_SIZE_0_1 ROPE_SIZE_TO(rope_info, tail_room)
#define ROPE_CURSOR_SIZE_0_1 ROPE_SIZE_TO(rope_cursor, seg)

/*
 * A cursor placed by a program built against 0.1 (rope_cursor_init@0.1)
 * ends before `reserved`. Its hint carries this bit, which every cursor
 * call keeps, so that a later version that uses the room can tell.
 */
#define ROPE_CURSOR_SMALL ((size_t)1 << (sizeof(size_t) * 8 - 1))

/* parse.c: place a cursor as 0.1 did (its fields only) and mark it. */
int rope__cursor_init_small(struct rope_cursor *c, const struct rope *r,
			    const struct rope_snap *s, int64_t off);

/* ------------------------------------------------------------------------ */
/* alloc.c: the one allocation seam                                         */
/* ------------------------------------------------------------------------ */

void *rope__alloc(size_t size);
void *rope__realloc(void *p, size_t old_size, size_t new_size);
void rope__free(void *p, size_t size);

/*
 * Giving memory back without an allocation (so without a failure): a block
 * shrunk to @new_size (NULL when realloc() would not: the block is as it
 * was), and @len bytes of whole pages, inside a page chunk, unmapped.
 */
void *rope__realloc_shrink(void *p, size_t old_size, size_t new_size);

/* alloc-counts.c: rope_mem_stats()'s total, allocs and frees, counted per
 * thread (no atomic add on the hot path) and summed when read. */
void rope__count_taken(uint64_t bytes, uint64_t allocs);
void rope__count_freed(void);
void rope__counts_read(uint64_t *total, uint64_t *allocs, uint64_t *frees);
void rope__pages_mem_trim(void *p, size_t len);

/*
 * Owned chunks' memory (header and bytes, @size in all): from the chunk
 * cache when it holds a block of that size, else from malloc; released to
 * the cache when it has room, else to free. Counted as above; the failure
 * hook below fails a cache hit like a malloc.
 */
void *rope__chunk_mem(size_t size);
void rope__chunk_mem_free(void *p, size_t size);

/* A block the cache lets go of goes back to the system (cache.c's trim). */
void rope__chunk_mem_return(void *p, size_t size);

/* The same for a page chunk's bytes: @size whole pages (rope__page_round). */
void *rope__pages_mem(size_t size);
void rope__pages_mem_free(void *p, size_t size);
void rope__pages_mem_return(void *p, size_t size);

/*
 * Flattening by moving pages (remap.c): a range of @len bytes reserved
 * (through the failure hook; counted as one allocation and no bytes yet);
 * a chunk whose @cap bytes left it, @moved of them into a reserved range
 * (its mapping is gone); the range filled, @moved of its bytes moved in
 * rather than taken from the system.
 */
void *rope__pages_reserve(size_t len);
void rope__pages_unreserve(void *p, size_t len);
void rope__pages_gone(size_t cap, size_t moved);
void rope__pages_reserved(size_t len, size_t moved);

/* ------------------------------------------------------------------------ */
/* pages.c: ropeio's own pages                                              */
/* ------------------------------------------------------------------------ */

/* Chunks from this capacity are page chunks; from ROPE_HUGE_MIN they are
 * 2 MiB-aligned and advised MADV_HUGEPAGE where huge pages are enabled.
 * Below ROPE_PAGE_MIN (a spare, a read of rope_read_fd, a small rope's
 * chunks) memory stays malloc's: 100,000 idle ropes map no pages. */
#define ROPE_PAGE_MIN (128u << 10)
#define ROPE_HUGE_MIN (2u << 20)

/* @cap rounded up to whole pages; 0 when that overflows. */
size_t rope__page_round(size_t cap);
/* Whether transparent huge pages may be advised (read once). */
bool rope__pages_huge(void);
/* Map @len bytes (whole pages), or NULL. No accounting, no hook. */
void *rope__pages_map(size_t len);
void rope__pages_unmap(void *p, size_t len);

/*
 * Test hook: make the allocation @nth from now fail (0 = the next one);
 * a negative @nth turns failures off. Returns the number of allocations
 * attempted since the last call, so a sweep can tell when an operation
 * stopped allocating.
 */
long rope__alloc_fail_at(long nth);

/* ------------------------------------------------------------------------ */
/* cache.c: released chunks kept for reuse                                  */
/* ------------------------------------------------------------------------ */

/*
 * Invariants of the cache: every block in it has the size of an owned chunk
 * of a power-of-two capacity from ROPE_CHUNK_FIRST to ROPE_CHUNK_MAX (its
 * class) and lies in that class's list; no chunk, segment, value or snapshot
 * points into it; the bytes it holds (plus blocks being put in) never pass
 * the cap: the limit, which is ROPE_CACHE_DEFAULT until the environment
 * variable ROPEIO_CACHE_BYTES or rope_cache_set_limit() says otherwise, or
 * more while the cache follows the bytes in flight (at most
 * ROPE_CACHE_FOLLOW times the limit; back to the limit after
 * ROPE_CACHE_DECAY_MS at or below it, or at a trim). Its blocks are
 * counted neither in `allocated` nor as freed.
 */
#define ROPE_CACHE_DEFAULT (4u << 20)
#define ROPE_CACHE_FOLLOW 4
#define ROPE_CACHE_DECAY_MS 1000
#define ROPE_CACHE_STATS_SIZE_0_2 ROPE_SIZE_TO(rope_cache_stats, hits)

/* A cached block of exactly @size bytes, or NULL. The blocks are an owned
 * chunk's one allocation (header and bytes) or a page chunk's pages. */
void *rope__cache_take(size_t size);
/* Keep @p (@size bytes) if its size is cached and the limit allows. */
bool rope__cache_give(void *p, size_t size);
void rope__cache_stats(size_t *bytes, size_t *limit, uint64_t *hits);
/* Test hook: how long the cache must stay at or below its limit before a
 * raised cap falls back (ROPE_CACHE_DECAY_MS by default). */
void rope__cache_decay_set(unsigned ms);

/* ------------------------------------------------------------------------ */
/* sys.c: the I/O seam                                                      */
/* ------------------------------------------------------------------------ */

/*
 * Every system call that moves bytes (fdio.c, the engine's fallback and its
 * plain receivers) is made through rope__sys, so a test can swap the table
 * to inject errors, interruptions and short counts. Each entry behaves as
 * the libc call of the same name: -1 with errno set on failure.
 */
struct epoll_event;

struct rope__sys {
	ssize_t (*readv)(int fd, const struct iovec *iov, int cnt);
	ssize_t (*writev)(int fd, const struct iovec *iov, int cnt);
	ssize_t (*pwritev)(int fd, const struct iovec *iov, int cnt,
			   off_t off);
	ssize_t (*sendmsg)(int fd, const struct msghdr *mh, int flags);
	int (*epoll_wait)(int epfd, struct epoll_event *events, int maxevents,
			  int timeout);
	/* File ranges (filerange.c) go out by descriptor. */
	ssize_t (*sendfile)(int out, int in, off_t *off, size_t count);
	ssize_t (*copy_file_range)(int in, off_t *in_off, int out,
				   off_t *out_off, size_t len, unsigned flags);
};

extern const struct rope__sys rope__sys_real;
extern const struct rope__sys *rope__sys;

/* Test hook: install @ops (NULL: the real calls) before any I/O starts;
 * returns the table it replaces. Not thread-safe, by design. */
const struct rope__sys *rope__sys_set(const struct rope__sys *ops);

/* ------------------------------------------------------------------------ */
/* chunk.c                                                                  */
/* ------------------------------------------------------------------------ */

enum rope_chunk_kind {
	ROPE_CHUNK_OWNED,     /* header and bytes in one allocation */
	ROPE_CHUNK_EXTERNAL,  /* the caller's memory, freed by a callback */
	ROPE_CHUNK_ZERO,      /* the static zero chunk; never freed */
};

/*
 * An owned chunk is either one allocation, header and bytes (pages false),
 * or, from ROPE_PAGE_MIN bytes, a page chunk (pages true): the header is
 * allocated apart and data is cap bytes of whole pages from ropeio's own
 * mmap, page-aligned (2 MiB-aligned from ROPE_HUGE_MIN). Both are written
 * in place under the same rules; only their memory differs.
 */
struct rope_chunk {
	atomic_size_t refs;
	uint8_t kind;         /* enum rope_chunk_kind */
	bool pages;           /* an owned chunk's bytes are its own pages */
	bool seam;            /* its bytes are a rope allocator's block */
	uint32_t flat_id;     /* nonzero: made by the getvalue() with this id */
	size_t cap;           /* bytes at data (for ZERO: ROPE_ZERO_LEN) */
	uint8_t *data;
};

/* An owned chunk's header, rounded so the bytes after it are 16-aligned. */
#define ROPE_CHUNK_HDR ((sizeof(struct rope_chunk) + 15) & ~(size_t)15)

struct rope_chunk_external {
	struct rope_chunk base;
	rope_release_fn release;
	void *arg;
};

/*
 * A chunk whose bytes are a block of a rope's allocator (seam.c): the header
 * is ropeio's, the bytes the caller's, given back through @give. It is
 * OWNED while the rope may write and resize it, and becomes EXTERNAL,
 * never written or resized again, once rope_seal_value() handed it out.
 */
struct rope_chunk_seam {
	struct rope_chunk base;
	void *ctx;
	void (*give)(void *ctx, void *handle);
	void *handle;
};

extern struct rope_chunk rope__zero_chunk;

struct rope_chunk *rope__chunk_new(size_t cap);
struct rope_chunk *rope__chunk_new_external(const void *data, size_t len,
					    rope_release_fn release, void *arg);
void rope__chunk_ref(struct rope_chunk *c);
void rope__chunk_unref(struct rope_chunk *c);

/* Bytes an owned chunk takes from the allocator, header included. */
size_t rope__chunk_footprint(const struct rope_chunk *c);

/*
 * How many references a chunk has right now. Other threads may lower it at
 * any moment (releasing a value or snapshot), but can raise it only through
 * a reference they already hold, so a count the rope reads can only be too
 * high, never too low: see seg_exclusive() in rope.c for the one subtlety.
 */
static inline size_t
rope__chunk_refs(const struct rope_chunk *c)
{
	return atomic_load_explicit(&c->refs, memory_order_acquire);
}

/* ------------------------------------------------------------------------ */
/* segs.c: arrays of segments                                               */
/* ------------------------------------------------------------------------ */

struct rope_seg {
	struct rope_chunk *chunk;
	uint8_t *data;        /* first byte (zero segments: the zero block) */
	size_t len;
	uint64_t start;       /* stream offset of data[0] */
};

/* Index of the segment holding coordinate @pos (within the array). */
size_t rope__segs_find(const struct rope_seg *segs, size_t n, uint64_t pos);

/* Copy @len bytes of @seg starting @off bytes into it. */
void rope__seg_copyout(const struct rope_seg *seg, size_t off, void *dst,
		       size_t len);

/*
 * Describe @len bytes from coordinate @pos of a segment array as iovecs, at
 * most @max of them (@iov may be NULL to count only). Returns the count, or
 * the count needed when @iov is NULL.
 */
size_t rope__segs_iov(const struct rope_seg *segs, size_t n, uint64_t pos,
		      uint64_t len, struct iovec *iov, size_t max);

/* ------------------------------------------------------------------------ */
/* The rope                                                                 */
/* ------------------------------------------------------------------------ */

/*
 * A reservation (rope_reserve()): the tail room handed out (@room bytes at
 * tail_ptr) and a fresh chunk after it (@fresh bytes, one reference held
 * here), and what the rope looked like then: rope_commit() takes it only
 * if nothing of that changed (compose.c).
 */
struct rope_reservation {
	bool active;
	struct rope_chunk *chunk;
	size_t room, fresh;
	uint64_t size, base;
	size_t nseg;
	const struct rope_chunk *tail_chunk;
	const uint8_t *tail_ptr;
};

struct rope {
	struct rope_seg *segs;   /* the first segment, inside seg_mem */
	size_t nseg;
	struct rope_seg *seg_mem; /* inline_segs or a heap array */
	size_t seg_cap;          /* entries at seg_mem */
	uint64_t pos;            /* may exceed size; apart from size, so
				    that the fast path adds to each alone */
	uint64_t base;           /* segment coordinate of stream offset 0;
				    it only grows (drains), so a cursor's
				    coordinate follows its byte */
	uint64_t empty_base;     /* base when the rope last emptied: the
				    traffic since is base + size - this */
	uint64_t size;

	/* The tail claim, invariant 4: free space this rope may append into. */
	struct rope_chunk *tail_chunk;
	uint8_t *tail_base;      /* the claimed chunk's first byte: the part
				    used is known after the chunk is gone */
	uint8_t *tail_ptr;
	uint8_t *tail_end;
	uint8_t *put_end;        /* invariant 10: tail_ptr or tail_end */
	size_t *put_len;         /* while open: the last segment's len */
	size_t next_chunk;       /* capacity of the next tail chunk */
	uint64_t shrink_mark;    /* the most bytes held since segments in the
				    middle were last looked at (rope.c's
				    rope_shrink()) */
	struct rope_chunk *spare; /* invariant 6: a free chunk, or NULL */
	struct rope_chunk *held;  /* invariant 13: room kept past a reference */
	uint8_t *held_ptr;
	uint8_t *held_end;
	int out_fd;              /* invariant 8: fdio.c's memory of an fd */
	uint8_t out_mode;

	/* How many segments reference own_chunk (or NULL): counted when
	 * needed, forgotten whenever segments are added or dropped. */
	const struct rope_chunk *own_chunk;
	size_t own_count;

	/* Where tail chunks come from (seam.c); take NULL: ropeio's own. */
	struct rope_allocator alloc;

	struct rope_reservation *resv; /* compose.c: NULL until the first
					  rope_reserve(), then kept */

	struct rope_bytes *value;     /* cached getvalue() result, or NULL */
	uint32_t flat_id;             /* id of the last flatten, 0 if none */
	unsigned exports;
	bool closed;
	bool received;                /* an engine receives into it: its
					 close is counted (uring-readiness.c) */

	struct rope_seg inline_segs[ROPE_INLINE_SEGS];
};

struct rope_bytes {
	atomic_size_t refs;
	struct rope_chunk *chunk;  /* NULL only for the static empty value */
	const uint8_t *data;
	size_t size;
};

struct rope_snap {
	atomic_size_t refs;
	size_t nseg;
	uint64_t base;           /* as in struct rope: segs[0].start */
	uint64_t size;
	struct rope_seg segs[];
};

/* The segment holding stream offset @off (< size) of @r. */
static inline size_t
rope__find(const struct rope *r, uint64_t off)
{
	return rope__segs_find(r->segs, r->nseg, r->base + off);
}

/* The stream offset where @s starts. */
static inline uint64_t
rope__seg_off(const struct rope *r, const struct rope_seg *s)
{
	return s->start - r->base;
}

/* The free bytes of the tail claim (0 without one). */
static inline size_t
rope__tail_room(const struct rope *r)
{
	return (size_t)((uintptr_t)r->tail_end - (uintptr_t)r->tail_ptr);
}

/* Close the put area (invariant 10): the next rope_write() takes the
 * slow path, which checks everything and opens it again when it may. */
static inline void
rope__put_close(struct rope *r)
{
	r->put_end = r->tail_ptr;
}

/* The last segment, or NULL. */
static inline struct rope_seg *
rope__last_seg(const struct rope *r)
{
	return r->nseg ? &r->segs[r->nseg - 1] : NULL;
}

/* @n bytes just written at tail_ptr become the end of the last segment.
 * The position stays, so the put area closes. */
static inline void
rope__tail_advance(struct rope *r, size_t n)
{
	r->segs[r->nseg - 1].len += n;
	r->size += n;
	r->tail_ptr += n;
	rope__put_close(r);
}

/*
 * Open the put area when every condition of invariant 10 holds: after a
 * write that ends at the end, the next one may take the fast path. A
 * write that leaves the position short of the end keeps it closed.
 */
static inline void
rope__put_open(struct rope *r)
{
	if (r->tail_chunk && r->pos == r->size && !r->value && !r->exports) {
		r->put_end = r->tail_end;
		r->put_len = &r->segs[r->nseg - 1].len;
	}
}

/* The free bytes of the held room (invariant 13; 0 without one). */
static inline size_t
rope__held_room(const struct rope *r)
{
	return (size_t)((uintptr_t)r->held_end - (uintptr_t)r->held_ptr);
}

/*
 * rope.c, for write.c: claim the room after the last segment (in @c);
 * append a segment (consuming a reference; merged with the last when
 * contiguous); cut the stream to @size bytes; keep the claim's room as
 * the held room before another chunk follows it; the room a write may
 * fill (the claim's, or after a last segment only the rope holds).
 */
void rope__claim_set(struct rope *r, struct rope_chunk *c);
void rope__segs_push(struct rope *r, struct rope_chunk *c, uint8_t *data,
		     size_t len);
void rope__segs_cut(struct rope *r, uint64_t size);
void rope__claim_hold(struct rope *r);
size_t rope__room_available(const struct rope *r);

/* rope.c */
int rope__segs_reserve(struct rope *r, size_t extra);
void rope__segs_replace_all(struct rope *r, struct rope_chunk *c, size_t len);
void rope__drop_value(struct rope *r);
void rope__segs_replace(struct rope *r, uint64_t a, uint64_t b,
			struct rope_chunk *c, uint8_t *data);
void rope__claim_recheck(struct rope *r);
void rope__claim_tail(struct rope *r);
void rope__claim_drop(struct rope *r);
/* A claimed page chunk's room beyond the rope's size (or 64 KiB) goes back
 * to the system, in place (invariant 12). */
void rope__claim_trim(struct rope *r);
bool rope__seg_private(struct rope *r, size_t i);
void rope__flatten_into(const struct rope *r, uint8_t *dst);

/*
 * remap.c. For getvalue(): flatten into @dst releasing each chunk as soon
 * as its bytes are copied, leaving every segment on the zero chunk for the
 * caller to replace.
 *
 * For getvalue() and rope_pullup() of the stream bytes [a, b), when most of
 * them lie in page chunks only the rope holds: prepare allocates a flat
 * page chunk's header and range, of @cap bytes when that is more than
 * b - a so that appends after a getvalue() find room (m->c stays NULL when
 * moving does not apply; -ENOMEM when memory is refused, nothing changed);
 * cancel gives them back; commit (cannot fail) moves those pages and copies
 * the rest into it, leaves the segments wholly inside [a, b) on the zero chunk, and
 * returns the chunk, holding [a, b) at its start, for the caller to put in
 * their place.
 */
void rope__flatten_consume(struct rope *r, uint8_t *dst);

struct rope__remap {
	struct rope_chunk *c;  /* the header, NULL: nothing prepared */
	uint8_t *dst;          /* the reserved range */
	size_t len;
	uint64_t a, b;
};

int rope__remap_prepare(struct rope *r, uint64_t a, uint64_t b, size_t cap,
			struct rope__remap *m);
void rope__remap_cancel(struct rope__remap *m);
struct rope_chunk *rope__remap_commit(struct rope *r, struct rope__remap *m);

/*
 * Appending bytes that arrive from outside (fdio.c): reserve returns the
 * free room after the last segment (claiming it when the rope alone holds
 * the chunk) and where it starts; commit makes @n of those bytes part of
 * the stream; push appends a fresh chunk holding @n bytes as the new tail,
 * consuming the caller's reference. The caller reserved one segment.
 */
size_t rope__tail_reserve(struct rope *r, uint8_t **ptr);
/* The held room (invariant 13) for a read when there is no claim, and the
 * commit of @n bytes read into it (rope.c). */
size_t rope__held_reserve(const struct rope *r, uint8_t **ptr);
void rope__held_commit(struct rope *r, size_t n);
void rope__tail_commit(struct rope *r, size_t n);
void rope__tail_push(struct rope *r, struct rope_chunk *c, size_t n);

/*
 * Tail sizing, the one owner of next_chunk (invariant 7). tail_size is the
 * capacity a fresh tail chunk that must hold @need bytes gets now (at least
 * @need); tail_restart makes the next one small again (after a flatten
 * hands the rope one large chunk); tail_limit caps the next one at @max
 * (a receive copying a buffer wants a chunk no larger than its buffers).
 */
size_t rope__tail_size(const struct rope *r, size_t need);
void rope__tail_restart(struct rope *r);
void rope__tail_limit(struct rope *r, size_t max);

/*
 * A chunk to become the new tail, for at least @need bytes: the spare when
 * it holds @need, else a new chunk of @cap (>= @need) bytes, or NULL. The
 * spare stays the spare until rope__tail_push() takes it; a caller that
 * fails before then hands the chunk to rope__tail_discard(), which frees it
 * unless it is the spare.
 */
struct rope_chunk *rope__tail_fresh(struct rope *r, size_t need, size_t cap);
void rope__tail_discard(struct rope *r, struct rope_chunk *c);
/* An empty rope lets its spare go (to the chunk cache): the engine's call
 * for a receive's rope drained in its callback, so that an idle connection
 * holds no chunk (rope.c). */
void rope__spare_release(struct rope *r);

/*
 * fdio.c: send [@off, @off + @len) of @s (in range) to the stream socket
 * @fd without ever blocking (MSG_DONTWAIT): the bytes sent, or -EAGAIN
 * when the socket's buffer is full, or another -errno. File ranges go by
 * sendfile(2) when @fd is O_NONBLOCK, else as their mapped bytes.
 */
ssize_t rope__snap_send_nowait(const struct rope_snap *s, size_t off,
			       size_t len, int fd);

/*
 * Append the first @n bytes of an owned chunk nobody else references, as
 * they are, consuming the caller's reference on success (receive buffers
 * become rope chunks this way). Fails like rope_append(), leaving the
 * chunk to the caller.
 */
int rope__append_chunk(struct rope *r, struct rope_chunk *c, size_t n);

/*
 * seam.c. A fresh tail chunk of @cap bytes from the rope's allocator, or
 * NULL. grow makes room for @ext more bytes after the last segment by
 * resizing its chunk, when that is a seam chunk the rope alone holds, its
 * segment starts at the chunk's first byte, and the source bytes
 * [@lo, @hi) do not lie in it (they would move); 0 once the room is
 * there (the claim is set), -EAGAIN when the chunk cannot grow, -ENOMEM
 * when the allocator refused. Either failure leaves the rope as it was.
 */
struct rope_chunk *rope__seam_chunk_new(struct rope *r, size_t cap);
int rope__seam_grow(struct rope *r, size_t ext, const uint8_t *lo,
		    const uint8_t *hi);

/*
 * rope.c, for the other files that change a rope: the checks every change
 * makes (0, or -EINVAL, -EBADF, -EBUSY; -EOVERFLOW for @n bytes at @p past
 * ROPE_MAX_SIZE), and appending a window of a chunk someone else may also
 * hold (consuming one reference; the caller reserved the segment).
 */
int rope__check_writable(const struct rope *r);
int rope__check_extent(uint64_t p, size_t n);
void rope__append_window(struct rope *r, struct rope_chunk *c, uint8_t *data,
			 size_t len);

/*
 * filerange.c: whether @c is a file range (rope_append_file()), and then
 * the rope's descriptor for it and the file offset of c->data[0]; and a
 * send of @len bytes of @in at @off to @out by the kernel (sendfile(2), or
 * copy_file_range(2) to @out_off when >= 0; SIGPIPE never raised): the
 * bytes sent, or -1 with errno.
 */
bool rope__chunk_file(const struct rope_chunk *c, int *fd, int64_t *off);
ssize_t rope__file_send(int out, int in, int64_t off, size_t len,
			int64_t out_off);

/*
 * filerange.c, for what sends segments (fdio.c, the engine's jobs): whether
 * coordinate @pos (in segment @i of @segs) lies in a file range, and then
 * its descriptor, the file offset of @pos and the bytes from @pos to the
 * segment's end; and how many of the @len bytes from @pos come before the
 * next file range (all @len when none does).
 */
bool rope__seg_file_at(const struct rope_seg *segs, size_t i, uint64_t pos,
		       int *fd, int64_t *off, size_t *len);
size_t rope__span_before_file(const struct rope_seg *segs, size_t n, size_t i,
			      uint64_t pos, size_t len);

/* compose.c: let a reservation go (its fresh chunk with it); free its
 * record too (the rope is freed or closed). */
void rope__reservation_drop(struct rope *r);
void rope__reservation_free(struct rope *r);

/*
 * rope.c: whether a window of @len bytes of @c may stay a window, or should
 * give its block back (trimmed, or copied out): a rope never keeps a large
 * block alive for a few bytes of it (invariant 12). The measure is the
 * window's own bytes, not the rope's: several windows of large blocks in
 * one rope must each be worth its block. Zero runs, and blocks of up to
 * 128 KiB (every heap chunk), always stay.
 */
bool rope__window_kept(const struct rope_chunk *c, size_t len);

/* value.c */
extern struct rope_bytes rope__empty_bytes;

/* check.c: 0 when every invariant holds, else -EUCLEAN after a message. */
int rope__check(const struct rope *r);

/* check.c: the bytes invariant 12 counts for @r, and its bound. */
size_t rope__mem_footprint(const struct rope *r);
size_t rope__mem_bound(const struct rope *r);

#endif /* ROPE_PRIV_H */
