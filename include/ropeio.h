/* SPDX-License-Identifier: MIT */
#ifndef ROPEIO_H
#define ROPEIO_H

/**
 * @file ropeio.h
 * ropeio: Python's io.BytesIO in C, built as a rope of refcounted chunks.
 *
 * A struct rope is a seekable byte stream with BytesIO's semantics (write at
 * the position, overwrite, zero-fill past the end, truncate, read, readline,
 * getvalue, getbuffer, close), stored as an ordered list of segments, each a
 * window {offset, length} into a refcounted chunk of bytes.
 *
 * How to use it well:
 *
 * - Appending never copies old data. Small writes fill the free space at the
 *   end of the last chunk; new chunks double in size as they fill, up to
 *   32 MiB, and a write larger than that gets a chunk of its own size.
 *   rope_append_ref() adds your own memory without copying it at all.
 *
 * - Memory follows the bytes: whatever the calls, what ropeio allocates for
 *   a rope stays within 4 times the bytes it holds, plus 192 bytes per
 *   segment, plus 256 KiB (the README's "Memory" section says what counts).
 *
 * - rope_getvalue() returns an immutable, refcounted struct rope_bytes. It
 *   copies nothing when the contents already sit in one segment; otherwise it
 *   copies once, and the flat copy then replaces the rope's segments, so the
 *   memory is not doubled. The value is cached until the next change.
 *
 * - Values and snapshots never change. A later write into bytes that one of
 *   them still references replaces only the written range with new memory
 *   (an overwrite of k bytes costs k bytes; one of less than 4 KiB costs the
 *   aligned 4 KiB around it, so that the next ones there are in place), and
 *   appends go to fresh space. CPython copies the whole buffer in both
 *   cases.
 *
 * - rope_snapshot() is what I/O sends: an immutable list of chunk references
 *   whose iovecs can be taken in ranges with rope_snap_iov(). The rope stays
 *   writable while a snapshot is alive.
 *
 * - rope_getbuffer() exports the live bytes as writable iovecs, like
 *   memoryview. While an export is alive every mutation fails with -EBUSY.
 *
 * Errors: every function that can fail returns a negative errno and leaves
 * the rope exactly as it was, byte for byte. errno is never read or set.
 *
 *   -EBADF      the rope is closed (Python: ValueError)
 *   -EBUSY      a getbuffer() export is alive (Python: BufferError)
 *   -EINVAL     a bad argument: NULL, a negative size, a bad whence
 *   -EOVERFLOW  a size or position past INT64_MAX
 *   -ENOMEM     an allocation failed
 *
 * Threads: one thread uses a given rope at a time. Values and snapshots may
 * be read, referenced and released from any thread; chunk reference counts
 * are atomic.
 *
 * Positions and sizes are bytes; positions are int64_t like off_t, so a
 * stream is never larger than INT64_MAX bytes.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ROPEIO_BUILDING) && defined(__GNUC__)
#define ROPEIO_EXPORT __attribute__((visibility("default")))
#else
#define ROPEIO_EXPORT
#endif

#define ROPEIO_VERSION_MAJOR 0
#define ROPEIO_VERSION_MINOR 2
#define ROPEIO_VERSION_PATCH 0

/** @def ROPEIO_VERSION_MAJOR
 * The major version of this header: a new one may break the API. */
/** @def ROPEIO_VERSION_MINOR
 * The minor version of this header: a new one adds to the API. */
/** @def ROPEIO_VERSION_PATCH
 * The patch version of this header: fixes only. */

/** The version of this header as one number, MAJOR * 10000 + MINOR * 100 +
 * PATCH (200 for 0.2.0), to compare with rope_version(). */
#define ROPEIO_VERSION_NUMBER (ROPEIO_VERSION_MAJOR * 10000 + \
			       ROPEIO_VERSION_MINOR * 100 + \
			       ROPEIO_VERSION_PATCH)

/**
 * The version of the library the program runs with, as one number made
 * like ROPEIO_VERSION_NUMBER. The header a program was compiled with may
 * be older than the library: the library keeps every call of the
 * releases before it with the same soname (libropeio.so.0), so a program
 * needs a library at least as new as its header (compare
 * rope_version() >= ROPEIO_VERSION_NUMBER when that matters).
 *
 * @return the library's version number, 200 for 0.2.0.
 * @since 0.2
 */
ROPEIO_EXPORT int rope_version(void);

/**
 * The version of the library the program runs with, as a string.
 * @return a static string, "0.2.0" for 0.2.0.
 * @since 0.2
 */
ROPEIO_EXPORT const char *rope_version_string(void);

/** The stream. Opaque; create with rope_new(), destroy with rope_free(). */
struct rope;

/** An immutable, refcounted, contiguous value: the analogue of Python bytes. */
struct rope_bytes;

/** An immutable, refcounted view of a rope's contents at one instant. */
struct rope_snap;

/**
 * Called once when memory handed to rope_append_ref() is no longer used.
 *
 * @param data  the pointer that was passed to rope_append_ref()
 * @param len   the length that was passed to rope_append_ref()
 * @param arg   the argument that was passed to rope_append_ref()
 *
 * It may run on any thread that drops the last reference: the thread that
 * frees the rope, or one that releases a value or snapshot covering the bytes.
 */
typedef void (*rope_release_fn)(void *data, size_t len, void *arg);

/* ------------------------------------------------------------------------ */
/* Life cycle                                                               */
/* ------------------------------------------------------------------------ */

/**
 * Create an empty, open rope at position 0.
 *
 * An empty rope allocates its struct and nothing else.
 *
 * @return the rope, or NULL when memory is exhausted (the only failure).
 * @since 0.1
 */
ROPEIO_EXPORT struct rope *rope_new(void);

/**
 * Create a rope holding a copy of @p len bytes at @p data, at position 0:
 * BytesIO(bytearray(...)).
 *
 * Lifetime: @p data is copied and is not referenced after return.
 *
 * @param out   receives the new rope; untouched on failure
 * @param data  the bytes to copy; may be NULL when @p len is 0
 * @param len   how many bytes
 * @return 0, -EINVAL if @p out is NULL or @p data is NULL with @p len > 0,
 *         -EOVERFLOW if @p len exceeds INT64_MAX, -ENOMEM.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_new_from(struct rope **out, const void *data,
				size_t len);

/**
 * Create a rope whose contents are the value @p b, without copying it, at
 * position 0: BytesIO(bytes_object).
 *
 * Lifetime: the rope takes its own reference to the bytes behind @p b; the
 * caller keeps its reference and may release it at any time. The value never
 * changes: writes into the rope replace the written range with new memory.
 *
 * @param out  receives the new rope; untouched on failure
 * @param b    the value the rope starts with
 * @return 0, -EINVAL if @p out or @p b is NULL, -ENOMEM.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_new_from_bytes(struct rope **out, struct rope_bytes *b);

/**
 * Free a rope and drop its references to chunks. rope_free(NULL) does
 * nothing. Values and snapshots taken from the rope stay valid.
 *
 * The caller must release a getbuffer() export before freeing: its iovecs
 * point into memory that this call may free.
 * @param r  the rope, or NULL
 * @since 0.1
 */
ROPEIO_EXPORT void rope_free(struct rope *r);

/**
 * Close the rope: free its contents now. Afterwards every operation but
 * rope_closed(), rope_close(), rope_size() and rope_free() fails with -EBADF.
 * Closing a closed rope does nothing and returns 0.
 *
 * @param r  the rope
 * @return 0, -EINVAL if @p r is NULL, -EBUSY while a getbuffer() export is
 *         alive (the rope stays open).
 * @since 0.1
 */
ROPEIO_EXPORT int rope_close(struct rope *r);

/**
 * Whether the rope is closed.
 * @param r  the rope, or NULL
 * @return true once rope_close() has succeeded (and for NULL).
 * @since 0.1
 */
ROPEIO_EXPORT bool rope_closed(const struct rope *r);

/**
 * The stream's size.
 * @param r  the rope, or NULL
 * @return the number of bytes in the stream; 0 for a closed rope or NULL.
 * The position may be larger (see rope_seek()).
 * @since 0.1
 */
ROPEIO_EXPORT size_t rope_size(const struct rope *r);

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */
/* ------------------------------------------------------------------------ */

/**
 * Write @p len bytes at the position and advance it: BytesIO.write().
 *
 * Inside the stream the bytes overwrite; past the end they extend it; if the
 * position is past the end, the gap is filled with zero bytes first (a gap
 * of more than 512 bytes costs no memory: it is a run of the shared zero
 * chunk; a shorter one is written as zeros with the bytes, which costs less
 * than a run and the fresh chunk after it). A write of 0
 * bytes changes nothing and returns 0 (but still fails on a closed or
 * exported rope, as in CPython).
 *
 * Cost: appending copies only the new bytes. Overwriting bytes that nobody
 * else references happens in place; overwriting bytes that a value, a
 * snapshot or another rope references allocates exactly the written range.
 *
 * Small appends: a write at the end that fits the tail chunk's free room
 * takes a fast path, one bound check and the copy (inline up to 16 bytes).
 * It stays out of line, inside the library, on purpose: inlined into the
 * caller from this header, it would make a prefix of struct rope and of
 * its segments part of the ABI, and a fast path compiled into programs
 * could never be fixed or changed by a new library (what inlining gained
 * when measured is in the README's tour).
 *
 * Lifetime: @p buf is copied and is not referenced after return. It may
 * point into the rope itself (a rope_pullup() pointer, a getvalue() of
 * it): the bytes written are those at @p buf before the call, as with
 * memmove(), however the ranges overlap (such an overwrite goes into new
 * memory rather than in place).
 *
 * @param r    the rope
 * @param buf  the bytes to write
 * @param len  how many bytes
 * @return @p len, -EBADF, -EBUSY, -EINVAL (NULL with @p len > 0),
 *         -EOVERFLOW (the end would pass INT64_MAX), -ENOMEM.
 * @since 0.1
 */
ROPEIO_EXPORT ssize_t rope_write(struct rope *r, const void *buf, size_t len);

/**
 * Write the @p iovcnt buffers of @p iov at the position as one write:
 * BytesIO.writelines(). All of them are written or none.
 *
 * @param r       the rope
 * @param iov     the buffers, in order
 * @param iovcnt  how many buffers (0 to IOV_MAX)
 * @return the total length, -EBADF, -EBUSY, -EINVAL (@p iovcnt negative or
 *         past IOV_MAX, a NULL base with a nonzero length), -EOVERFLOW,
 *         -ENOMEM.
 * @since 0.1
 */
ROPEIO_EXPORT ssize_t rope_writev(struct rope *r, const struct iovec *iov,
				  int iovcnt);

/**
 * Append @p len bytes at the end of the stream, whatever the position, and
 * leave the position where it is: evbuffer_add(). Useful for queues where
 * one side appends and the other reads.
 *
 * @param r    the rope
 * @param buf  the bytes to append
 * @param len  how many bytes
 * @return @p len, -EBADF, -EBUSY, -EINVAL, -EOVERFLOW, -ENOMEM.
 * @since 0.1
 */
ROPEIO_EXPORT ssize_t rope_append(struct rope *r, const void *buf, size_t len);

/**
 * Append @p len bytes at @p data to the end of the stream without copying
 * them: evbuffer_add_reference(), IOBuf::takeOwnership(). The position does
 * not move.
 *
 * Lifetime: on success the rope borrows the memory until @p release runs,
 * exactly once, when no rope, value or snapshot references the bytes any
 * more (immediately if @p len is 0). The bytes must stay valid and
 * unmodified until then; ropeio never writes into them (an overwrite or a
 * getbuffer() export copies). On failure @p release is never called and the
 * caller still owns the memory.
 *
 * @param r     the rope
 * @param data  the caller's memory, referenced in place
 * @param len   how many bytes of it
 * @param release  may be NULL for memory that outlives every use (static data)
 * @param arg      passed to @p release as is
 * @return 0, -EBADF, -EBUSY, -EINVAL (NULL @p data with @p len > 0),
 *         -EOVERFLOW, -ENOMEM.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_append_ref(struct rope *r, const void *data, size_t len,
				  rope_release_fn release, void *arg);

/**
 * Cut the stream to @p size bytes: BytesIO.truncate(size).
 *
 * The position never moves, even when it is now past the end, and a size
 * past the end does not extend the stream (it returns @p size all the same,
 * as CPython does). Truncating to 0 empties the rope as a full rope_drain()
 * does. Truncating never fails for want of memory; it lets go of what it
 * cuts: when a few bytes are left of a large block, a page chunk only the
 * rope holds gives its other pages back in place, and the bytes left of
 * any other block (shared, or the caller's, whose release callback then
 * runs) move to a small chunk of their own (the only allocation, skipped if
 * refused), as CPython's truncate frees what it cuts.
 *
 * To truncate at the position, pass rope_tell(r).
 *
 * @param r     the rope
 * @param size  the new size, at least 0
 * @return @p size, -EBADF, -EBUSY, -EINVAL (@p size negative).
 * @since 0.1
 */
ROPEIO_EXPORT int64_t rope_truncate(struct rope *r, int64_t size);

/**
 * Remove the first @p len bytes of the stream (all of it if @p len is
 * larger): evbuffer_drain(). Chunks that only held drained bytes are freed
 * once nobody else references them. The position moves back with the data
 * (by @p len, stopping at 0), so it keeps pointing at the same byte.
 *
 * A queue appends with rope_append() or rope_read_fd(), and consumes with
 * rope_read() and rope_drain(), or with rope_write_fd(), which drains what
 * it wrote.
 *
 * A drain that empties the rope keeps its last chunk (up to 64 KiB, when
 * nothing else references it) as a spare for the next append, and the
 * following chunks are sized after the bytes that passed through since the
 * rope was last empty: a queue of messages of similar size allocates
 * nothing once it has run a little. rope_close() and rope_free() free the
 * spare; rope_get_info() counts it in the overhead. A drain that leaves a
 * few bytes of a large block lets the rest go, as rope_truncate() does.
 *
 * @param r    the rope
 * @param len  how many bytes to remove from the front
 * @return the number of bytes removed, -EBADF, -EBUSY, -EINVAL (NULL).
 * @since 0.1
 */
ROPEIO_EXPORT int64_t rope_drain(struct rope *r, size_t len);

/* ------------------------------------------------------------------------ */
/* Reading and position                                                     */
/* ------------------------------------------------------------------------ */

/**
 * Copy up to @p len bytes from the position into @p buf and advance:
 * BytesIO.read(n) and readinto(b). At or past the end it returns 0 and the
 * position does not move.
 *
 * @param r    the rope
 * @param buf  where the bytes go
 * @param len  the most bytes to copy
 * @return the number of bytes copied (at most SSIZE_MAX), -EBADF, -EINVAL
 *         (NULL @p buf with @p len > 0).
 * @since 0.1
 */
ROPEIO_EXPORT ssize_t rope_read(struct rope *r, void *buf, size_t len);

/**
 * Copy bytes from the position up to and including the next '\\n', or to the
 * end, but no more than @p len: BytesIO.readline(len). Advances past what it
 * copied. Whether the line was complete is whether the last byte is '\\n'.
 *
 * @param r    the rope
 * @param buf  where the line goes
 * @param len  the most bytes to copy
 * @return the number of bytes copied, -EBADF, -EINVAL.
 * @since 0.1
 */
ROPEIO_EXPORT ssize_t rope_readline(struct rope *r, void *buf, size_t len);

/**
 * Copy up to @p len bytes starting at offset @p off into @p buf, without
 * moving the position (pread(2) on the stream).
 *
 * @param r    the rope
 * @param buf  where the bytes go
 * @param len  the most bytes to copy
 * @param off  the offset in the stream to read from
 * @return the number of bytes copied (0 at or past the end), -EBADF,
 *         -EINVAL (@p off negative, NULL @p buf with @p len > 0).
 * @since 0.1
 */
ROPEIO_EXPORT ssize_t rope_pread(const struct rope *r, void *buf, size_t len,
				 int64_t off);

/**
 * Move the position: BytesIO.seek(off, whence).
 *
 * SEEK_SET takes @p off as is (a negative one is -EINVAL); SEEK_CUR adds it to
 * the position and SEEK_END to the size, and a negative result clamps to 0.
 * The position may go past the end; nothing changes until a write.
 *
 * @param r       the rope
 * @param off     the offset, relative to @p whence
 * @param whence  SEEK_SET, SEEK_CUR or SEEK_END
 * @return the new position, -EBADF, -EINVAL (bad @p whence, negative SEEK_SET
 *         offset), -EOVERFLOW (the result would pass INT64_MAX).
 * @since 0.1
 */
ROPEIO_EXPORT int64_t rope_seek(struct rope *r, int64_t off, int whence);

/**
 * The position: BytesIO.tell().
 * @param r  the rope
 * @return the position (it may exceed the size), -EBADF, -EINVAL (NULL).
 * @since 0.1
 */
ROPEIO_EXPORT int64_t rope_tell(const struct rope *r);

/* ------------------------------------------------------------------------ */
/* Values: getvalue()                                                       */
/* ------------------------------------------------------------------------ */

/**
 * Return the whole contents as one immutable value: BytesIO.getvalue().
 *
 * Cost: when the contents sit in one segment (a fresh rope_new_from(), a
 * rope written by appends that fit one chunk, or any rope after an earlier
 * getvalue()), no byte is copied. When most bytes lie in page chunks (see
 * the chunk cache below) that nothing but the rope references, their pages
 * are moved with mremap(2) into one range, with no byte copied and no
 * memory added; only small head chunks and unaligned edges are copied.
 * Otherwise the contents are copied once into one chunk, releasing each
 * source chunk as soon as its bytes are copied; the flat chunk then
 * replaces the rope's segments, so memory is not doubled. Values and
 * snapshots that share a chunk keep their bytes: such a chunk is copied,
 * never moved. The value is cached: a second call with no change in between
 * returns the same value. While a getbuffer() export is alive the value is a
 * fresh copy each time, since the exported bytes can still change.
 *
 * Lifetime: *@p out holds a reference the caller must drop with
 * rope_bytes_unref(). The value stays valid and unchanged after any later
 * operation on the rope, including rope_free().
 *
 * @param r    the rope
 * @param out  receives a reference to the value
 * @return 0, -EBADF, -EINVAL (NULL), -ENOMEM.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_getvalue(struct rope *r, struct rope_bytes **out);

/**
 * Make a value holding a copy of @p len bytes at @p data.
 * @param out   receives the new value
 * @param data  the bytes to copy; may be NULL when @p len is 0
 * @param len   how many bytes
 * @return 0, -EINVAL, -ENOMEM.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_bytes_new(struct rope_bytes **out, const void *data,
				 size_t len);

/**
 * The value's bytes.
 * @param b  the value
 * @return the first byte of the value. Valid while a reference is held; for
 *         an empty value, a valid pointer to no bytes.
 * @since 0.1
 */
ROPEIO_EXPORT const void *rope_bytes_data(const struct rope_bytes *b);

/**
 * The value's length.
 * @param b  the value
 * @return the value's length in bytes. @since 0.1
 */
ROPEIO_EXPORT size_t rope_bytes_size(const struct rope_bytes *b);

/**
 * Take another reference.
 * @param b  the value
 * @return @p b.
 * @since 0.1
 */
ROPEIO_EXPORT struct rope_bytes *rope_bytes_ref(struct rope_bytes *b);

/**
 * Drop a reference; the last one frees the value (any thread may drop it).
 * rope_bytes_unref(NULL) does nothing.
 * @param b  the value, or NULL
 * @since 0.1
 */
ROPEIO_EXPORT void rope_bytes_unref(struct rope_bytes *b);

/* ------------------------------------------------------------------------ */
/* Exports: getbuffer()                                                     */
/* ------------------------------------------------------------------------ */

/**
 * Export the live bytes as writable iovecs, in order, without copying:
 * BytesIO.getbuffer(). Writes through the iovecs change the rope's contents
 * (and nothing else: bytes that a value, snapshot, another rope or
 * rope_append_ref() memory shares are first copied into private memory,
 * adjacent shared runs into one chunk each, as CPython unshares).
 *
 * Call it with @p iov NULL to learn how many iovecs the export needs; that
 * call exports nothing. Then call it with an array of at least that many.
 *
 * Lifetime: the iovecs stay valid until the matching rope_releasebuffer().
 * While any export is alive, every mutation (write, writev, append,
 * append_ref, truncate) and rope_close() fail with -EBUSY; reads, seeks,
 * getvalue (a copy) and snapshots (a copy) still work. Exports nest: each
 * successful call needs its own rope_releasebuffer().
 *
 * On failure nothing is exported, and the array's contents are unspecified
 * (it is used as scratch while planning).
 *
 * @param r       the rope
 * @param iov     the array that receives the iovecs, or NULL to count them
 * @param iovcnt  the array's length
 * @return the number of iovecs (0 for an empty rope, which is still
 *         exported), -EBADF, -EINVAL (@p iovcnt negative), -ENOBUFS (@p iovcnt
 *         is smaller than needed), -EOVERFLOW (counting: more than INT_MAX
 *         iovecs), -ENOMEM.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_getbuffer(struct rope *r, struct iovec *iov,
				 int iovcnt);

/**
 * End one export made by rope_getbuffer().
 * @param r  the rope
 * @return 0, -EINVAL (NULL, or no export alive).
 * @since 0.1
 */
ROPEIO_EXPORT int rope_releasebuffer(struct rope *r);

/* ------------------------------------------------------------------------ */
/* Snapshots                                                                */
/* ------------------------------------------------------------------------ */

/**
 * Take an immutable snapshot of the contents: one reference per segment,
 * no byte copied (except while a getbuffer() export is alive, when the
 * exported bytes could still change and are copied once).
 *
 * The rope stays fully usable: later writes, truncates or rope_free() never
 * change what the snapshot holds.
 *
 * Lifetime: *@p out holds a reference; drop it with rope_snap_unref().
 *
 * @param r    the rope
 * @param out  receives a reference to the snapshot
 * @return 0, -EBADF, -EINVAL (NULL), -ENOMEM.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_snapshot(struct rope *r, struct rope_snap **out);

/**
 * Take another reference.
 * @param s  the snapshot
 * @return @p s.
 * @since 0.1
 */
ROPEIO_EXPORT struct rope_snap *rope_snap_ref(struct rope_snap *s);

/**
 * Drop a reference; the last one frees the snapshot and drops its chunk
 * references (any thread may do it). rope_snap_unref(NULL) does nothing.
 * @param s  the snapshot, or NULL
 * @since 0.1
 */
ROPEIO_EXPORT void rope_snap_unref(struct rope_snap *s);

/**
 * The snapshot's length.
 * @param s  the snapshot
 * @return the snapshot's length in bytes. @since 0.1
 */
ROPEIO_EXPORT size_t rope_snap_size(const struct rope_snap *s);

/**
 * Describe the bytes [@p off, @p off + @p len) of a snapshot as read-only
 * iovecs (clipped to the snapshot's end; @p len SIZE_MAX means "to the end").
 *
 * With @p iov NULL it only counts the iovecs the whole range needs. With an
 * array it fills at most @p iovcnt of them, in order, and returns how many it
 * filled; if that is fewer than the range needs, the iovecs cover a prefix of
 * the range (sum their lengths to continue from there). A long run of zero
 * bytes (a gap) is described in pieces of at most 1 MiB.
 *
 * Lifetime: the iovecs point into the snapshot and stay valid while the
 * caller holds a reference to it. The bytes must not be written through them.
 *
 * @param s       the snapshot
 * @param off     the first byte of the range
 * @param len     the range's length; SIZE_MAX for "to the end"
 * @param iov     the array that receives the iovecs, or NULL to count them
 * @param iovcnt  the array's length
 * @return the number of iovecs, -EINVAL (NULL @p s, @p off past the end,
 *         @p iovcnt negative), -EOVERFLOW (the count passes INT_MAX).
 * @since 0.1
 */
ROPEIO_EXPORT int rope_snap_iov(const struct rope_snap *s, size_t off,
				size_t len, struct iovec *iov, int iovcnt);

/* ------------------------------------------------------------------------ */
/* Composing ropes: share, move, format, reserve                            */
/* ------------------------------------------------------------------------ */

/**
 * Append bytes [@p off, @p off + @p len) of snapshot @p s to the end of
 * @p r by reference: evbuffer_add_buffer_reference(), Cord::Append(Cord).
 * The position does not move.
 *
 * The rope takes its own references to the snapshot's chunks; the caller
 * may drop the snapshot at once. The sharing rules hold both ways: writing
 * to @p r never changes the snapshot (or the rope it came from), and
 * writing to that rope never changes @p r. A window of a block much larger
 * than what @p r will hold (more than twice its bytes plus 128 KiB) is
 * copied instead, so that a few bytes never keep a large block alive (the
 * memory bound in the README).
 *
 * Cost: one segment per chunk the range crosses; no byte copied but those
 * windows.
 *
 * @param r    the rope appended to
 * @param s    the snapshot the bytes come from
 * @param off  the first byte of the range in @p s
 * @param len  the range's length
 * @return 0, -EBADF (@p r closed), -EBUSY (@p r exported), -EINVAL (NULL,
 *         or the range passes the snapshot's end), -EOVERFLOW, -ENOMEM;
 *         on failure @p r is unchanged.
 * @since 0.3
 */
ROPEIO_EXPORT int rope_append_snap(struct rope *r, const struct rope_snap *s,
				   size_t off, size_t len);

/**
 * Move the first @p len bytes of @p src (all of them if it holds fewer) to
 * the end of @p dst, sharing chunks: evbuffer_remove_buffer(),
 * IOBuf::split(). @p src loses them as rope_drain() removes them (its
 * position moves back with its data); @p dst's position does not move.
 *
 * Whole chunks change hands; a chunk the cut falls inside is split by
 * reference, both ropes keeping their part, neither able to write into the
 * other's (the sharing rules). As in rope_append_snap(), a window of a
 * block far larger than what @p dst will hold is copied instead.
 *
 * A proxy forwards what it received with one call per turn:
 * `rope_move(out, in, rope_size(in))`.
 *
 * @param dst  the rope appended to
 * @param src  the rope the bytes are taken from
 * @param len  how many bytes to move
 * @return the bytes moved, -EBADF (either closed), -EBUSY (either
 *         exported), -EINVAL (NULL, or @p dst == @p src), -EOVERFLOW,
 *         -ENOMEM; on failure neither rope changed.
 * @since 0.3
 */
ROPEIO_EXPORT int64_t rope_move(struct rope *dst, struct rope *src,
				size_t len);

/**
 * Append formatted text, as printf(3) formats it (without the terminating
 * NUL): evbuffer_add_printf(). The position does not move.
 *
 * The text is formatted straight into the tail's free room when it fits
 * there, so no temporary buffer and no second copy; otherwise into a fresh
 * tail chunk of the right size (formatting twice).
 *
 * @param r    the rope
 * @param fmt  a printf(3) format
 * @return the bytes appended, -EBADF, -EBUSY, -EINVAL (NULL), -EILSEQ (a
 *         conversion failed, as vsnprintf(3) reports), -EOVERFLOW,
 *         -ENOMEM; on failure the rope is unchanged.
 * @since 0.3
 */
ROPEIO_EXPORT ssize_t rope_printf(struct rope *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * rope_printf() with a va_list, as vprintf(3) is printf(3) with one.
 * @param r    the rope
 * @param fmt  a printf(3) format
 * @param ap   its arguments (left as vsnprintf(3) leaves them: va_end()
 *             them; do not use them again)
 * @return as rope_printf().
 * @since 0.3
 */
ROPEIO_EXPORT ssize_t rope_vprintf(struct rope *r, const char *fmt,
				   va_list ap)
	__attribute__((format(printf, 2, 0)));

/**
 * Hand out at least @p min bytes of writable space at the end of the
 * stream, for the caller to fill (read(2), a TLS or zlib library writing
 * straight in), then rope_commit() the bytes written:
 * evbuffer_reserve_space(), IOBuf::writableTail().
 *
 * The space is the tail's free room and, when that holds less than @p min,
 * a fresh chunk after it: one iovec, or two when @p iovcnt allows (with
 * @p iovcnt 1 and too little room, the fresh chunk alone). The iovecs may
 * hold more than @p min; @p min 0 asks for whatever is at hand (at least
 * one byte). Nothing counts as part of the stream until rope_commit().
 *
 * One reservation at a time: a second rope_reserve() replaces the first. A
 * call in between that changes the stream's end or its segments (a write
 * at or past the end, a drain, a truncate, an append, a getvalue() that
 * flattens, a getbuffer(), a close) cancels it, and rope_commit() then
 * fails with -ECANCELED: reserve again. Reads, seeks and snapshots do not.
 *
 * @param r       the rope
 * @param min     the least room wanted, in bytes
 * @param iov     receives the space
 * @param iovcnt  the array's length (1 or more)
 * @return the number of iovecs filled (1 or 2), -EBADF, -EBUSY, -EINVAL
 *         (NULL, @p iovcnt < 1), -EOVERFLOW, -ENOMEM; the stream never
 *         changes.
 * @since 0.3
 */
ROPEIO_EXPORT int rope_reserve(struct rope *r, size_t min, struct iovec *iov,
			       int iovcnt);

/**
 * Append the first @p len bytes written into the space rope_reserve() handed
 * out (the first iovec's, then the second's) and end the reservation. 0
 * ends it with nothing appended. The position does not move.
 *
 * @param r    the rope
 * @param len  the bytes written, at most the space reserved
 * @return @p len, -ECANCELED (a call in between cancelled the
 *         reservation: nothing appended), -ENOENT (no reservation),
 *         -EINVAL (NULL, or @p len more than reserved: the reservation
 *         stands), -EBADF, -EOVERFLOW.
 * @since 0.3
 */
ROPEIO_EXPORT ssize_t rope_commit(struct rope *r, size_t len);

/**
 * Append bytes [@p off, @p off + @p len) of the regular file @p fd to the
 * end of the stream, by reference: evbuffer_add_file(), Netty's
 * FileRegion. The position does not move.
 *
 * The rope keeps its own duplicate of the descriptor (the caller may close
 * @p fd at once) and maps the range read-only, reading nothing until a byte
 * is wanted. Reads, getvalue(), getbuffer(), pullup, cursors and
 * snapshots see the file's bytes through the mapping, and an overwrite
 * copies as for any memory the rope does not own. What sends the range
 * hands the kernel its descriptor, so the file's pages never pass through
 * user space:
 * - rope_write_fd(), rope_snap_write_fd(), rope_snap_pwrite():
 *   sendfile(2) to a socket or pipe, copy_file_range(2) to a file at an
 *   offset;
 * - the engine (ropeio-engine.h) on io_uring: sendfile(2) to an
 *   O_NONBLOCK socket, inline, waiting with IORING_OP_POLL_ADD when it is
 *   full; to a blocking socket, and always from rope_uring_job_prep(),
 *   IORING_OP_SPLICE through a pipe of the job's own; to a file, a WRITEV
 *   of the mapped bytes (the kernel copies once either way);
 * - the engine's poll backend: sendfile(2) to a socket that is O_NONBLOCK,
 *   copy_file_range(2) to a file.
 *
 * Where the kernel will not (a file system that cannot splice, an
 * O_APPEND file, a ring without IORING_OP_SPLICE, no descriptor left for
 * the pipe) and to a blocking socket on the poll backend (sendfile(2)
 * cannot be told not to wait), the mapped bytes are written instead. A
 * send to a socket whose peer is gone gets -EPIPE or -ECONNRESET, never
 * SIGPIPE (it is blocked in the calling thread around sendfile(2)).
 *
 * The file must not change while a rope, value or snapshot holds the
 * range, as for sendfile(2): a file truncated under it makes a read of the
 * lost bytes raise SIGBUS. The range is released (unmapped, the duplicate
 * closed) when nothing references it.
 *
 * @param r    the rope
 * @param fd   a regular file open for reading
 * @param off  the range's first byte in the file
 * @param len  its length (0 appends nothing)
 * @return 0, -EBADF (@p r closed, or @p fd not open), -EBUSY (@p r
 *         exported), -EINVAL (NULL, @p fd negative or not a regular file,
 *         @p off negative, the range past the file's end), -EOVERFLOW,
 *         -ENOMEM, -EMFILE (no descriptor left for the duplicate), or what
 *         mmap(2) refuses with; on failure the rope is unchanged.
 * @since 0.3
 */
ROPEIO_EXPORT int rope_append_file(struct rope *r, int fd, int64_t off,
				   size_t len);

/* ------------------------------------------------------------------------ */
/* Parsing across chunks, without flattening                                */
/* ------------------------------------------------------------------------ */

/**
 * Find the first occurrence of the @p len bytes at @p needle in the stream,
 * starting at or after offset @p from: evbuffer_search(), Cord::Find().
 * Matches may span any number of chunks.
 *
 * Cost: O(bytes searched + segments), however the stream is cut:
 * memmem(3) inside each segment of at least 2 x @p len bytes, and a
 * Knuth-Morris-Pratt matcher over shorter segments and the @p len - 1 bytes
 * on either side of each boundary.
 *
 * @param r       the rope
 * @param needle  the bytes to look for
 * @param len     the needle's length
 * @param from    the offset the search starts at
 * @return the offset of the match, -ENOENT when there is none (an empty
 *         needle matches at @p from if that is within the stream), -EBADF,
 *         -EINVAL (NULL, @p from negative), -ENOMEM (only for a needle of
 *         more than 1 KiB, whose matcher table is allocated).
 * @since 0.1
 */
ROPEIO_EXPORT int64_t rope_find(const struct rope *r, const void *needle,
				size_t len, int64_t from);

/**
 * rope_readline() with a delimiter of your choice: copy from the position
 * up to and including the first occurrence of the @p dlen bytes at
 * @p delim ("\n", "\r\n", "\r\n\r\n", any string), or to the end, but no
 * more than @p len bytes; advance past what was copied. The search stops at
 * @p len bytes, so a long line costs only what is copied.
 *
 * @param r      the rope
 * @param buf    where the line goes
 * @param len    the most bytes to copy
 * @param delim  the delimiter
 * @param dlen   the delimiter's length (at least 1)
 * @return the number of bytes copied (the line is complete when it ends
 *         with the delimiter), -EBADF, -EINVAL (NULL, empty delimiter),
 *         -ENOMEM (a delimiter longer than 1 KiB).
 * @since 0.1
 */
ROPEIO_EXPORT ssize_t rope_readline_delim(struct rope *r, void *buf,
					  size_t len, const void *delim,
					  size_t dlen);

/**
 * Make the bytes [@p off, @p off + @p len) contiguous and point *@p out at
 * them: evbuffer_pullup() for one range, leaving the rest of the rope as it
 * is. When the range already lies in one segment nothing is copied;
 * otherwise the range is copied once into a new chunk that replaces exactly
 * those segments (the contents do not change, so values, snapshots and the
 * position are unaffected). As in rope_getvalue(), the pages of page
 * chunks that lie wholly in a large range and that nothing but the rope
 * references are moved instead of copied.
 *
 * Lifetime: *@p out stays valid until the next call that changes the rope
 * (a write, truncate, drain, close or free; reads, seeks, snapshots and
 * other pullups of ranges that do not overlap it are fine). Do not write
 * through it.
 *
 * @param r    the rope
 * @param off  the range's first byte
 * @param len  the range's length
 * @param out  receives a pointer to the contiguous bytes
 * @return 0, -EBADF, -EBUSY (exported, and a copy is needed), -EINVAL
 *         (NULL, @p off negative, the range past the end), -ENOMEM.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_pullup(struct rope *r, int64_t off, size_t len,
			      const void **out);

/**
 * A read position over a rope or a snapshot that reads bytes and integers
 * across chunks without flattening: folly's io::Cursor. It lives on your
 * stack; its fields are private. Each read is O(bytes read) (plus
 * O(log segments) when the rope changed since the cursor's last step).
 *
 * A cursor over a rope reads the rope as it is at each call and does not
 * move the rope's own position; one over a snapshot reads bytes that can
 * never change, from any thread.
 */
struct rope_cursor {
	/* Private: do not alter or rely on these. */
	const struct rope *rope;
	const struct rope_snap *snap;
	uint64_t off;
	size_t seg;
	void *reserved[4];
};
/** @var rope_cursor::rope
 * Private: the rope the cursor reads, or NULL for a snapshot's cursor. */
/** @var rope_cursor::snap
 * Private: the snapshot the cursor reads, or NULL for a rope's cursor. */
/** @var rope_cursor::off
 * Private: the offset of the next byte to read. */
/** @var rope_cursor::seg
 * Private: a hint, the segment that held the last byte read. */
/** @var rope_cursor::reserved
 * Private: room for later versions, set by rope_cursor_init() and
 * rope_cursor_init_snap(). Version 0.1's cursor ended before it: the
 * library tells the cursors that programs built against 0.1 place (with
 * the 0.1 versions of those calls) from the others, and never touches
 * the room of theirs. */

/**
 * Place @p c at offset @p off of @p r (the rope is borrowed: it must
 * outlive the cursor's use).
 * @param c    the cursor to place
 * @param r    the rope it reads
 * @param off  the offset it starts at
 * @return 0, -EBADF (closed), -EINVAL (NULL, @p off negative or past the
 *         end).
 * @since 0.1
 */
ROPEIO_EXPORT int rope_cursor_init(struct rope_cursor *c, const struct rope *r,
				   int64_t off);

/**
 * Place @p c at offset @p off of snapshot @p s (borrowed; hold a reference
 * while the cursor is used).
 * @param c    the cursor to place
 * @param s    the snapshot it reads
 * @param off  the offset it starts at
 * @return 0, -EINVAL.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_cursor_init_snap(struct rope_cursor *c,
					const struct rope_snap *s, int64_t off);

/**
 * The cursor's offset.
 *
 * A cursor over a rope follows its byte: after rope_drain() it is on the
 * same byte as before, at an offset smaller by the bytes drained, and a
 * cursor whose byte was drained is stale (every call returns -ESTALE; place
 * it again). Overwrites, truncates and appends are read as they are when
 * the cursor reads: it reads what is at its place now. (Before 0.3 a cursor
 * kept its offset across a drain and read other bytes.)
 *
 * @param c  the cursor
 * @return the cursor's offset in the stream, -EINVAL (NULL), -ESTALE (its
 *         byte was drained), -EBADF (the rope was closed). @since 0.1
 */
ROPEIO_EXPORT int64_t rope_cursor_tell(const struct rope_cursor *c);

/**
 * How many bytes the cursor has left to read.
 * @param c  the cursor
 * @return the bytes from the cursor to the end. @since 0.1
 */
ROPEIO_EXPORT size_t rope_cursor_remaining(const struct rope_cursor *c);

/**
 * Copy up to @p len bytes at the cursor into @p buf and advance.
 * @param c    the cursor
 * @param buf  where the bytes go
 * @param len  the most bytes to copy
 * @return the number of bytes copied (fewer at the end), -EINVAL,
 *         -ESTALE (its byte was drained: rope_cursor_tell()), -EBADF.
 * @since 0.1
 */
ROPEIO_EXPORT ssize_t rope_cursor_read(struct rope_cursor *c, void *buf,
				       size_t len);

/**
 * Advance by @p len bytes.
 * @param c    the cursor
 * @param len  how many bytes to step over
 * @return 0, -ENODATA (fewer than @p len bytes remain; the cursor does not
 *         move), -EINVAL, -ESTALE, -EBADF.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_cursor_skip(struct rope_cursor *c, size_t len);

/**
 * Point *@p out at the contiguous bytes at the cursor, within one segment,
 * without copying or advancing: a zero-copy view for a parser's fast path.
 * @param c    the cursor
 * @param out  receives a pointer to the bytes at the cursor
 * @return how many bytes *@p out covers (0 at the end), -EINVAL, -ESTALE,
 *         -EBADF.
 * Lifetime: as rope_pullup().
 * @since 0.1
 */
ROPEIO_EXPORT ssize_t rope_cursor_peek(const struct rope_cursor *c,
				       const void **out);

/**
 * Read one byte at the cursor and advance. Wider unsigned integers of 2, 4
 * or 8 bytes come from rope_cursor_u16be() ... rope_cursor_u64le(), big
 * endian (network order: the _be calls) or little endian (_le).
 * @param c  the cursor
 * @param v  receives the byte; untouched on failure
 * @return 0, -ENODATA (not enough bytes left; nothing read, the cursor
 *         does not move), -EINVAL, -ESTALE, -EBADF (as rope_cursor_read()).
 * @since 0.1
 */
ROPEIO_EXPORT int rope_cursor_u8(struct rope_cursor *c, uint8_t *v);

/**
 * Read a 16-bit unsigned integer (2 bytes) at the cursor, big endian (network order), and
 * advance by 2.
 * @param c  the cursor
 * @param v  receives the integer; untouched on failure
 * @return 0, -ENODATA (fewer than 2 bytes left; the cursor does not move),
 *         -EINVAL (NULL), -ESTALE, -EBADF (as rope_cursor_read()).
 * @since 0.1
 */
ROPEIO_EXPORT int rope_cursor_u16be(struct rope_cursor *c, uint16_t *v);

/**
 * Read a 16-bit unsigned integer (2 bytes) at the cursor, little endian, and
 * advance by 2.
 * @param c  the cursor
 * @param v  receives the integer; untouched on failure
 * @return 0, -ENODATA (fewer than 2 bytes left; the cursor does not move),
 *         -EINVAL (NULL), -ESTALE, -EBADF (as rope_cursor_read()).
 * @since 0.1
 */
ROPEIO_EXPORT int rope_cursor_u16le(struct rope_cursor *c, uint16_t *v);

/**
 * Read a 32-bit unsigned integer (4 bytes) at the cursor, big endian (network order), and
 * advance by 4.
 * @param c  the cursor
 * @param v  receives the integer; untouched on failure
 * @return 0, -ENODATA (fewer than 4 bytes left; the cursor does not move),
 *         -EINVAL (NULL), -ESTALE, -EBADF (as rope_cursor_read()).
 * @since 0.1
 */
ROPEIO_EXPORT int rope_cursor_u32be(struct rope_cursor *c, uint32_t *v);

/**
 * Read a 32-bit unsigned integer (4 bytes) at the cursor, little endian, and
 * advance by 4.
 * @param c  the cursor
 * @param v  receives the integer; untouched on failure
 * @return 0, -ENODATA (fewer than 4 bytes left; the cursor does not move),
 *         -EINVAL (NULL), -ESTALE, -EBADF (as rope_cursor_read()).
 * @since 0.1
 */
ROPEIO_EXPORT int rope_cursor_u32le(struct rope_cursor *c, uint32_t *v);

/**
 * Read a 64-bit unsigned integer (8 bytes) at the cursor, big endian (network order), and
 * advance by 8.
 * @param c  the cursor
 * @param v  receives the integer; untouched on failure
 * @return 0, -ENODATA (fewer than 8 bytes left; the cursor does not move),
 *         -EINVAL (NULL), -ESTALE, -EBADF (as rope_cursor_read()).
 * @since 0.1
 */
ROPEIO_EXPORT int rope_cursor_u64be(struct rope_cursor *c, uint64_t *v);

/**
 * Read a 64-bit unsigned integer (8 bytes) at the cursor, little endian, and
 * advance by 8.
 * @param c  the cursor
 * @param v  receives the integer; untouched on failure
 * @return 0, -ENODATA (fewer than 8 bytes left; the cursor does not move),
 *         -EINVAL (NULL), -ESTALE, -EBADF (as rope_cursor_read()).
 * @since 0.1
 */
ROPEIO_EXPORT int rope_cursor_u64le(struct rope_cursor *c, uint64_t *v);

/* ------------------------------------------------------------------------ */
/* File descriptors: plain syscalls, no copy in user space                  */
/* ------------------------------------------------------------------------ */

/**
 * Read up to @p max bytes from @p fd and append them at the end of the
 * stream, whatever the position (which does not move): evbuffer_read().
 *
 * One readv(2) fills the free space at the end of the tail chunk and, when
 * that is smaller than @p max, one fresh chunk; nothing passes through an
 * intermediate buffer. A fresh chunk is at least 64 KiB (or @p max), so
 * socket reads do not fragment the rope.
 *
 * Like read(2) it may return fewer bytes than asked, and 0 at end of file.
 * On any error the rope is unchanged.
 *
 * @param r    the rope
 * @param fd   the descriptor to read from
 * @param max  the most bytes to read
 * @return the bytes appended, 0 at end of file, -EBADF (closed rope),
 *         -EBUSY (exported), -EINVAL (NULL, negative @p fd), -ENOMEM, or the
 *         negated errno of readv(2) (-EAGAIN, -EINTR, -ECONNRESET, ...).
 * @since 0.1
 */
ROPEIO_EXPORT ssize_t rope_read_fd(struct rope *r, int fd, size_t max);

/**
 * Write up to @p max bytes from the front of the stream to @p fd, then
 * drain what was written (rope_drain()): evbuffer_write_atmost(). For a
 * queue that appends at the end and flushes from the front.
 *
 * Sockets are written with sendmsg(2) and MSG_NOSIGNAL, so a closed peer
 * gives -EPIPE, never SIGPIPE. Other descriptors use writev(2) (a pipe
 * whose reader is gone raises SIGPIPE there, as with write(2)). Windows of
 * at most IOV_MAX iovecs; short writes are continued until the descriptor
 * refuses, EINTR is retried.
 *
 * The rope remembers which of the two @p fd took, so later calls with the
 * same descriptor try no sendmsg(2) on a pipe or file. Should the number
 * be closed and reused, a socket's number now a pipe or file costs one
 * refused sendmsg(2); so that a pipe's or file's number now a socket is
 * never written with writev(2), the rope forgets what it knew whenever the
 * caller empties it (rope_drain() or rope_truncate() to 0, even of an
 * empty rope), as a rope passed on to a new connection should be.
 *
 * @param r    the rope
 * @param fd   the descriptor to write to
 * @param max  the most bytes to write
 * @return the bytes written and drained. When an error stops it after some
 *         progress, that progress is returned and the error comes on the
 *         next call, as with write(2). Otherwise -EBADF, -EBUSY, -EINVAL,
 *         or the negated errno of the syscall (-EAGAIN, -EPIPE, ...).
 * @since 0.1
 */
ROPEIO_EXPORT ssize_t rope_write_fd(struct rope *r, int fd, size_t max);

/**
 * Write the bytes [@p off, @p off + @p len) of a snapshot (clipped to its
 * end) to @p fd at its current offset: sendmsg(2) with MSG_NOSIGNAL for a
 * socket, writev(2) otherwise, in windows of at most IOV_MAX iovecs,
 * looping over short writes. The snapshot is not changed; to continue after
 * a short result, call again with @p off advanced by it.
 *
 * @param s    the snapshot
 * @param off  the range's first byte
 * @param len  the range's length; SIZE_MAX for "to the end"
 * @param fd   the descriptor to write to
 * @return the bytes written (see rope_write_fd() for partial progress),
 *         -EINVAL (NULL, @p off past the end, negative @p fd), or the
 *         negated errno of the syscall.
 * @since 0.1
 */
ROPEIO_EXPORT ssize_t rope_snap_write_fd(const struct rope_snap *s, size_t off,
					 size_t len, int fd);

/**
 * Write the bytes [@p off, @p off + @p len) of a snapshot to the file @p fd
 * at file offset @p file_off with pwritev(2), in windows of at most IOV_MAX
 * iovecs, looping over short writes. The file offset of @p fd is not used
 * or moved, so several of these may run on one file at once.
 *
 * @param s         the snapshot
 * @param off       the range's first byte
 * @param len       the range's length; SIZE_MAX for "to the end"
 * @param fd        the file to write to
 * @param file_off  where in the file the range goes
 * @return the bytes written (see rope_write_fd() for partial progress),
 *         -EINVAL (as rope_snap_write_fd(), or @p file_off negative),
 *         -EOVERFLOW (the end would pass INT64_MAX), or the negated errno of
 *         pwritev(2) (-ENOSPC, -EFBIG, -ESPIPE for a pipe or socket, ...).
 * @since 0.1
 */
ROPEIO_EXPORT ssize_t rope_snap_pwrite(const struct rope_snap *s, size_t off,
				       size_t len, int fd, int64_t file_off);

/* ------------------------------------------------------------------------ */
/* Memory accounting                                                        */
/* ------------------------------------------------------------------------ */

/**
 * Process-wide figures for memory allocated by ropeio.
 *
 * Bytes in use and bytes taken from the system differ by what the chunk
 * cache holds (rope_cache_stats()): the memory ropeio has from the system
 * now is `allocated` plus the cache's `cached`.
 *
 * Its first five fields are version 0.1's layout; later fields are only
 * ever added at the end, and rope_mem_stats() is told the size of yours.
 */
struct rope_mem_stats {
	size_t allocated;   /**< bytes in use now (headers included); the
				 chunk cache's are not */
	size_t peak;        /**< the most in use at once since the last reset */
	uint64_t total;     /**< bytes ever taken from the system: what a loop
				 really cost (a chunk the cache gives back
				 takes nothing) */
	uint64_t allocs;    /**< allocations taken from the system since the
				 process started (cache hits are not) */
	uint64_t frees;     /**< allocations given back to the system since the
				 process started (those the cache keeps are
				 not) */
};

/**
 * Fill @p out with the process-wide allocation figures. Memory handed in by
 * rope_append_ref() is the caller's and is not counted.
 *
 * Pass `sizeof(*out)` as @p size: a later library writes only the fields a
 * struct of that size has, so a program keeps working when the struct
 * grows (fields are only ever added at the end).
 *
 * @param out   receives the figures
 * @param size  the size of *@p out, in bytes
 * @return 0, -EINVAL (NULL, or @p size smaller than version 0.1's
 *         struct: a size from a later header is fine).
 * @since 0.1; the @p size parameter and the return value since 0.2 (a
 *        program built against 0.1 keeps calling 0.1's version)
 */
ROPEIO_EXPORT int rope_mem_stats(struct rope_mem_stats *out, size_t size);

/** Set the peak to the amount allocated now. @since 0.1 */
ROPEIO_EXPORT void rope_mem_reset_peak(void);

/*
 * The chunk cache. A chunk of bytes that ropeio owns, released by whichever
 * thread drops its last reference, goes to a process-wide cache when its
 * capacity is one of the common ones (the powers of two from 256 bytes to
 * 1 MiB that most tail chunks take) and the cache has room; the next chunk of
 * that size comes from the cache instead of malloc. Memory that stays
 * ropeio's stays touched: a queue, a proxy loop or a server that builds and
 * drops ropes takes nothing new from the system once warm.
 *
 * The cache holds a byte limit: 4 MiB by default, or what the
 * environment variable ROPEIO_CACHE_BYTES says when the cache is first used
 * (a byte count, with an optional K, M or G suffix for powers of 1024;
 * 0 turns the cache off; it is read once), or what rope_cache_set_limit()
 * sets. It follows the bytes in flight beyond that, within a bound: when
 * more is released at once than the limit holds (a send of 8 MiB that
 * completes), the cache keeps it, up to four times the limit (16 MiB by
 * default), so the next chunks need no fresh pages. Once it has held no
 * more than its limit for a second, it frees the excess at its next use
 * (an idle process keeps it until then, or until rope_cache_trim()).
 * Every call is thread-safe.
 *
 * Chunks of 128 KiB and more are page chunks: their bytes are whole pages
 * that ropeio maps itself (mmap(2), private and anonymous), page-aligned,
 * with the chunk's header apart; from 2 MiB they are 2 MiB-aligned and
 * advised MADV_HUGEPAGE where transparent huge pages are enabled ("always"
 * or "madvise" in /sys/kernel/mm/transparent_hugepage/enabled, read once).
 * Smaller chunks, and so small ropes, stay in malloc's heap. Page chunks up
 * to 1 MiB are rounded up to a power of two (pages never touched cost
 * nothing), so the cache keeps their pages like the rest.
 *
 * fork(): the child gets a copy of the cache and of every page chunk, as it
 * gets a copy of every heap page: the pages stay shared copy-on-write until
 * one side writes them, and count in the RSS of both (PSS splits them).
 * The cache's locks are held across fork(), so the child may use ropeio at
 * once (an async-signal-safe context aside, as with malloc). A child that
 * will not use ropeio's cached memory can give it back with
 * rope_cache_trim().
 */

/**
 * Set the chunk cache's limit, and trim it to that at once (a cap raised
 * to follow the bytes in flight falls back to it). The cache may hold up
 * to four times the limit while it follows a burst of released chunks.
 * 0 turns the cache off (and empties it). The limit bounds the cache alone:
 * chunks in use are not counted against it.
 *
 * @param bytes  the new limit, in bytes
 * @return the previous limit.
 * @since 0.2
 */
ROPEIO_EXPORT size_t rope_cache_set_limit(size_t bytes);

/**
 * What the chunk cache holds and has done, process-wide. Fields are only
 * ever added at the end, and rope_cache_stats() is told the size of yours.
 */
struct rope_cache_stats {
	size_t cached;      /**< bytes the cache holds now, free for the next
				 chunks */
	size_t limit;       /**< the most it may hold, see
				 rope_cache_set_limit() */
	uint64_t hits;      /**< chunks it served since the process started */
	size_t cap;         /**< the most it may hold now: the limit, or up
				 to four times it while it follows the bytes
				 in flight (@since 0.3) */
};

/**
 * Fill @p out with the chunk cache's figures. Pass `sizeof(*out)` as
 * @p size: a later library writes only the fields a struct of that size
 * has, so a program keeps working when the struct grows.
 *
 * @param out   receives the figures
 * @param size  the size of *@p out, in bytes
 * @return 0, -EINVAL (NULL, or @p size smaller than version 0.2's
 *         struct: a size from a later header is fine).
 * @since 0.2
 */
ROPEIO_EXPORT int rope_cache_stats(struct rope_cache_stats *out, size_t size);

/**
 * Give every chunk the cache holds back to the system (free(3)); the limit
 * stays as it is, a cap raised to follow the bytes in flight falls back to
 * it, and the cache fills again as chunks are released. For a process that
 * goes idle, or a child after fork().
 *
 * @return the bytes given back.
 * @since 0.2
 */
ROPEIO_EXPORT size_t rope_cache_trim(void);

/** What one rope costs, for tuning and for the benchmarks. Fields are only
 * ever added at the end, and rope_get_info() is told the size of yours. */
struct rope_info {
	size_t size;           /**< bytes in the stream */
	size_t segments;       /**< segments in use */
	size_t segment_bytes;  /**< bytes one segment costs in the rope */
	size_t overhead;       /**< the struct, its segment array and the
				    spare chunk an emptied rope keeps for
				    its next append, in bytes */
	size_t tail_room;      /**< free bytes left in the tail chunk */
};

/**
 * Describe @p r's layout.
 *
 * Pass `sizeof(*out)` as @p size: a later library writes only the fields a
 * struct of that size has.
 *
 * @param r     the rope
 * @param out   receives the figures
 * @param size  the size of *@p out, in bytes
 * @return 0, -EINVAL (NULL, or @p size smaller than version 0.1's struct),
 *         -EBADF.
 * @since 0.1; the @p size parameter since 0.2 (a program built against 0.1
 *        keeps calling 0.1's version)
 */
ROPEIO_EXPORT int rope_get_info(const struct rope *r, struct rope_info *out,
				size_t size);

/* ------------------------------------------------------------------------ */
/* Chunk memory from the caller: the allocation seam                        */
/* ------------------------------------------------------------------------ */

/*
 * A rope may take the memory of its tail chunks from the caller instead of
 * ropeio's heap and pages, so that the stream's bytes end up where the
 * caller wants the final value: a language binding allocates them as the
 * string object getvalue() will return (Python's bytes), and that value
 * then costs no copy. With an allocator set:
 *
 * - every fresh tail chunk (appends, writes past the end, rope_read_fd())
 *   is taken from it; chunks that replace bytes in the middle of the stream,
 *   flattened values and exported copies stay ropeio's own;
 * - a tail chunk that only the rope references, not exported, whose first
 *   byte is the stream's (nothing drained from it), grows in place through
 *   resize() when an append does not fit, as CPython's BytesIO buffer does:
 *   by what the write needs, or by an eighth once the step is that small.
 *   An append-only stream so stays one chunk, with no old byte copied by
 *   ropeio (realloc(3) moves large blocks with mremap(2));
 * - rope_seal_value() hands the one chunk holding the whole stream to the
 *   caller as the value, exactly its size; rope_unseal_value() takes it
 *   back once the caller's object is unreferenced, and rope_adopt_block()
 *   makes a block the caller filled itself an empty rope's tail chunk.
 *
 * ropeio counts only the chunks' headers in rope_mem_stats(), never the
 * caller's bytes, and never caches them.
 */

/**
 * Where a rope's tail chunks come from (see rope_set_allocator()).
 *
 * A handle names one block for the allocator; ropeio never looks into it.
 * Each block is given back exactly once, by give(), when no rope, value or
 * snapshot references its bytes any more.
 *
 * Threads: take() and resize() run on the thread that uses the rope, in the
 * call that writes. give() runs on whichever thread drops the last
 * reference: the one that frees the rope, or one that releases a value or
 * snapshot elsewhere, so it must be safe there (a Python binding takes the
 * GIL in it). @p ctx must stay valid until the last block is given back,
 * which may be after the rope is freed.
 *
 * This struct keeps its layout: programs built against 0.2 pass exactly
 * this much, so a later version that needs more adds a call of its own.
 */
struct rope_allocator {
	/** Passed to each callback as is. */
	void *ctx;
	/**
	 * A block of at least @p cap bytes: returns its first byte and stores
	 * its handle in *@p handle, or returns NULL when there is no memory
	 * (the call that needed it then fails with -ENOMEM, or ropeio uses a
	 * smaller chunk).
	 */
	void *(*take)(void *ctx, size_t cap, void **handle);
	/**
	 * Grow or shrink the block @p handle to at least @p cap bytes,
	 * keeping its first @p used bytes (@p used <= @p cap): realloc(3).
	 * Returns the block's first byte, which may have moved, and stores
	 * its handle, which may have changed, in *@p new_handle; or NULL,
	 * leaving the block, its bytes and its handle as they were. May be
	 * NULL in the struct: blocks never change size then.
	 */
	void *(*resize)(void *ctx, void *handle, size_t used, size_t cap,
			void **new_handle);
	/** Give the block @p handle back; ropeio never uses it again. */
	void (*give)(void *ctx, void *handle);
};

/**
 * Take @p r's tail chunks from @p a from now on, or from ropeio again when
 * @p a is NULL. Only an empty rope may change allocator: chunks already made
 * keep the allocator that made them. The struct is copied; the callbacks
 * and @p ctx must outlive every block taken (see struct rope_allocator).
 * A spare chunk an emptied rope kept is let go.
 *
 * @param r  the rope, empty
 * @param a  the allocator, or NULL for ropeio's own memory
 * @return 0, -EBADF, -EBUSY (the rope holds bytes, or an export is alive),
 *         -EINVAL (NULL @p r; take() or give() NULL in @p a).
 * @since 0.2
 */
ROPEIO_EXPORT int rope_set_allocator(struct rope *r,
				     const struct rope_allocator *a);

/**
 * Hand the block that holds the whole stream to the caller as the value:
 * getvalue() without a copy, for a binding whose blocks are its string
 * objects.
 *
 * It succeeds only when the stream is exactly one segment, starting at the
 * first byte of a block from the rope's allocator, and nothing else (a
 * value, a snapshot, another rope) references that block; or when an
 * earlier call already sealed it and nothing changed since. The block is
 * first shrunk to the stream's size through resize() (if that fails it
 * keeps its room, unused). From then on it is sealed: ropeio never writes
 * into it or resizes it again; a write copies what it changes, as for
 * memory of rope_append_ref(). The rope keeps referencing it, and give()
 * runs when the last reference goes, as before.
 *
 * Lifetime: *@p handle is borrowed from the rope. It names the block until
 * the next call that changes the rope, or until the caller has taken a
 * reference of its own at its level (a Python binding turns the block into
 * a bytes object and takes a reference to that). Any other result leaves
 * the rope exactly as it was.
 *
 * @param r       the rope
 * @param handle  receives the block's handle
 * @param len     receives the stream's size, the bytes at the block's start
 * @return 0, -EBADF, -EBUSY (an export is alive), -EINVAL (NULL),
 *         -EAGAIN (empty, several segments, not one of the allocator's
 *         blocks, or a block something else references: call
 *         rope_getvalue(), which copies).
 * @since 0.2
 */
ROPEIO_EXPORT int rope_seal_value(struct rope *r, void **handle, size_t *len);

/**
 * Take back the block rope_seal_value() handed out, so that the rope may
 * write into it and grow it again, once the caller's object made of it is
 * referenced by nothing but the rope (a Python binding checks that its
 * bytes object's refcount is 1, as CPython's BytesIO does before writing
 * into its buffer). An overwrite after a getvalue() whose result was
 * dropped then costs the written bytes, not a copy of the stream.
 *
 * Lifetime: the caller promises that nothing reads the block any more
 * except through the rope; from here on the block is the rope's again, and
 * the next rope_seal_value() hands it out anew, perhaps moved.
 *
 * @param r  the rope
 * @return 0, -EBADF, -EBUSY (an export is alive), -EINVAL (NULL),
 *         -EAGAIN (the stream is not exactly that one sealed block, whole,
 *         or a snapshot or value references it: nothing changes).
 * @since 0.3
 */
ROPEIO_EXPORT int rope_unseal_value(struct rope *r);

/**
 * Make a block of the rope's allocator the contents of the empty rope @p r,
 * without copying: the reverse of rope_seal_value(), for a binding that
 * keeps a small stream in a block of its own (as CPython's BytesIO keeps
 * its buffer) and hands it to a rope when it first needs one. The rope then
 * owns the block as if it had taken it itself: it writes into its room,
 * grows it through resize(), and gives it back through give().
 *
 * Lifetime: on success the block is the rope's; the caller must not touch
 * it again. On failure it stays the caller's and the rope is unchanged.
 *
 * @param r       the rope: open, empty, with an allocator set
 * @param handle  the block's handle, as take() would have returned it
 * @param data    where its bytes start, as take() would have returned it
 * @param len     the bytes it holds (> 0)
 * @param cap     the bytes it has room for (>= @p len)
 * @return 0, -EBADF, -EBUSY (the rope is not empty, or an export is
 *         alive), -EINVAL (NULL, @p len 0, @p cap < @p len, no allocator),
 *         -EOVERFLOW, -ENOMEM.
 * @since 0.3
 */
ROPEIO_EXPORT int rope_adopt_block(struct rope *r, void *handle, void *data,
				   size_t len, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* ROPEIO_H */
