/* SPDX-License-Identifier: MIT */
#ifndef ROPEIO_URING_H
#define ROPEIO_URING_H

/**
 * @file ropeio-uring.h
 * Sending snapshots to files and sockets with io_uring, without copying:
 * jobs that fill the SQEs of a ring you own. The engine, which owns its
 * ring (or runs without one), is in ropeio-engine.h, which this header
 * includes; a program that uses the engine alone includes that one and
 * needs no liburing.
 *
 * A job sends the bytes [off, off + len) of a struct rope_snap to one file
 * descriptor. It holds a reference to the snapshot until it is freed, so the
 * rope it came from may be written, truncated or freed meanwhile: the bytes
 * that arrive are exactly the snapshot's.
 *
 * The job drives a ring you own, in liburing's prep/complete style:
 *
 *     rope_uring_job_new(&job, snap, 0, SIZE_MAX, fd, -1, 0);
 *     rope_uring_job_prep(job, &ring);           // fills SQEs
 *     io_uring_submit(&ring);
 *     ...
 *     io_uring_for_each_cqe(&ring, head, cqe) {
 *             struct rope_uring_job *j = rope_uring_cqe_job(cqe);
 *             if (j && rope_uring_job_complete(j, cqe) == 0)
 *                     rope_uring_job_prep(j, &ring);  // more to send
 *             ...
 *     }
 *
 * What it does on the wire, and why:
 *
 * - Files (@p file_off >= 0): IORING_OP_WRITEV windows of at most IOV_MAX
 *   iovecs, each at its own file offset, several in flight. A short write
 *   resubmits the rest of its window.
 * - Stream sockets (@p file_off == -1): one chain of linked
 *   IORING_OP_SENDMSG with MSG_WAITALL, and never a second chain while one is
 *   in flight: two independent sends on one TCP socket can interleave their
 *   bytes. A short send or a cancelled link resumes from the byte cursor.
 *   SENDMSG never raises SIGPIPE (the kernel adds MSG_NOSIGNAL); a closed
 *   peer gives -EPIPE or -ECONNRESET.
 * - File ranges (rope_append_file()) to a socket: IORING_OP_SPLICE from
 *   the file into a pipe of the job's own, linked to IORING_OP_SPLICE from
 *   the pipe to the socket, in the same chain as the SENDMSGs of the
 *   memory around them, so the file's pages never pass through user
 *   space. The pipe is made when the job first meets a file range (two
 *   descriptors, F_SETPIPE_SZ 256 KiB where the kernel allows, its default
 *   where not), moves at most its size per splice, and is closed by
 *   rope_uring_job_free(). Bytes a short or refused splice left in it go
 *   first in the next chain, and rope_uring_job_progress() counts only
 *   what reached the socket. A splice to a socket is done by the kernel's
 *   worker threads: on a blocking socket it waits there (a cancel
 *   interrupts it); on a non-blocking one, an EAGAIN is followed by a
 *   linked IORING_OP_POLL_ADD(POLLOUT) and the splice again. A file range
 *   needs two SQEs; with one free, the splice into the pipe goes alone.
 *   Where the ring cannot splice (-EINVAL: before 5.7) or no pipe can be
 *   made, the job sends the range's mapped bytes by SENDMSG. To a file
 *   destination, a file range is written from its mapping as any bytes.
 *   (The engine of ropeio-engine.h sends file ranges to O_NONBLOCK
 *   sockets by sendfile(2) instead, inline: a job of this API always
 *   works through its SQEs, since its caller waits for their CQEs.)
 * - Every request but a job's last asks MSG_MORE (SPLICE_F_MORE for a
 *   splice), so a small head and what follows it leave in full segments.
 * - With ROPE_URING_ZC, sockets use IORING_OP_SENDMSG_ZC, one request at a
 *   time (never linked: cancelled zero-copy links post notifications their
 *   first CQE did not announce), and ask the kernel to report whether it
 *   really avoided the copy. On loopback it never does; after 8
 *   notifications that all say "copied" the job switches to plain
 *   SENDMSG. A socket type without zero-copy support (AF_UNIX:
 *   -EOPNOTSUPP) falls back to plain SENDMSG by itself. File ranges go by
 *   splice all the same (their pages are the page cache's: no copy to
 *   avoid), in chains that hold no zero-copy send.
 *
 * The iovec arrays and message headers live in the job until its CQEs
 * arrive, which SQPOLL rings need.
 *
 * Which CQEs are ropeio's: every SQE a job fills carries a user_data with
 * its lowest bit set (a pointer to internal state, plus 1).
 * rope_uring_cqe_job() returns the job for such a CQE and NULL for any
 * other. If your own user_data values are odd, tell them apart some other
 * way before calling it.
 *
 * Errors are negative errno values, as in liburing; errno is not used.
 */

/*
 * liburing 2.3's header needs two POSIX names that strict ISO C hides
 * (gcc -std=c11, CMake's C_EXTENSIONS OFF): the type sigset_t and the macro
 * AT_FDCWD, used by its inline prep helpers. It defines _XOPEN_SOURCE and
 * _GNU_SOURCE itself to get them, but that only works when it is the first
 * header of the file; after any libc header (ropeio.h's, or the caller's)
 * the C library has already fixed what it exposes, and including
 * <signal.h> or <fcntl.h> again brings nothing. So, without defining
 * anything of ours that outlives this header:
 * - <sys/select.h> declares sigset_t whatever the feature macros, as
 *   POSIX requires of it (glibc and musl both do);
 * - AT_FDCWD, if the C library did not define it, is Linux's value (-100,
 *   <linux/fcntl.h>, which cannot be included beside <fcntl.h>) while
 *   <liburing.h> is read, and undefined after.
 * As this header now reads a libc header before <liburing.h>, liburing's
 * _GNU_SOURCE no longer turns on glibc's GNU extensions for the including
 * file: a file that wants them defines _GNU_SOURCE before its first
 * #include, as glibc asks.
 */
#include <sys/select.h>
#include <fcntl.h>
#ifndef AT_FDCWD
#define AT_FDCWD -100
#define ROPEIO_URING_AT_FDCWD_
#endif
#include <liburing.h>
#ifdef ROPEIO_URING_AT_FDCWD_
#undef AT_FDCWD
#undef ROPEIO_URING_AT_FDCWD_
#endif

#include "ropeio-engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One snapshot range being sent to one file descriptor. Opaque. */
struct rope_uring_job;

/**
 * Create a job sending [@p off, @p off + @p len) of @p s (clipped to its
 * end; SIZE_MAX means to the end) to @p fd.
 *
 * @param out  receives the new job; untouched on failure
 * @param s    the snapshot to send
 * @param off  the range's first byte
 * @param len  the range's length
 * @param fd   the file or socket
 * @param file_off  where in the file the range goes, for a regular file or
 *                  block device; -1 for a stream socket
 * @param flags     0 or ROPE_URING_ZC
 *
 * Lifetime: the job takes its own reference to @p s and drops it in
 * rope_uring_job_free(); the caller may drop its reference at once.
 *
 * @return 0, -EINVAL (NULL, @p off past the end, negative @p fd,
 *         @p file_off below -1, unknown flags), -EOVERFLOW (the file range
 *         would pass INT64_MAX), -ENOMEM.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_uring_job_new(struct rope_uring_job **out,
				     struct rope_snap *s, size_t off,
				     size_t len, int fd, int64_t file_off,
				     unsigned flags);

/**
 * Fill as many SQEs of @p ring as the job can use now, and return how
 * many. It does not submit them.
 *
 * A file job keeps up to 4 windows in flight; a socket job prepares a new
 * chain only when its previous one has completed. 0 means there is nothing
 * to prepare now: the job waits for CQEs, or is done, or found the SQ full.
 * When the SQ has too little room it prepares what fits (fewer file
 * windows, a shorter socket chain); submit and call it again. Before
 * waiting for a CQE, check rope_uring_job_inflight(): with nothing in
 * flight there is nothing to wait for.
 *
 * @param j     the job
 * @param ring  the ring whose SQEs it fills
 * @return the number of SQEs filled, -EINVAL (NULL), -ENOMEM.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_uring_job_prep(struct rope_uring_job *j,
				      struct io_uring *ring);

/**
 * The job a CQE belongs to.
 * @param cqe  a CQE of the ring
 * @return the job that filled the SQE this CQE completes, or NULL when the
 *         CQE is not ropeio's (its user_data is even, or zero).
 * @since 0.1
 */
ROPEIO_EXPORT struct rope_uring_job *
rope_uring_cqe_job(const struct io_uring_cqe *cqe);

/**
 * Account one CQE of @p j. Call it for every CQE rope_uring_cqe_job()
 * attributes to the job, zero-copy notifications included, then mark the
 * CQE seen as usual.
 *
 * @param j    the job
 * @param cqe  a CQE that rope_uring_cqe_job() attributed to @p j
 * @return 1 when the job has finished (see rope_uring_job_result()), 0 when
 *         it goes on: call rope_uring_job_prep() again, since a short
 *         write or the end of a chain may have left work to submit;
 *         -EINVAL when the CQE is not this job's.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_uring_job_complete(struct rope_uring_job *j,
					  const struct io_uring_cqe *cqe);

/**
 * How many CQEs a job still waits for.
 * @param j  the job, or NULL
 * @return the CQEs the job still expects (its SQEs in flight, zero-copy
 *         notifications included): 0 when nothing of it is in flight, so
 *         a job not done with 0 here waits for rope_uring_job_prep(),
 *         not for a CQE. 0 for NULL.
 * @since 0.1
 */
ROPEIO_EXPORT unsigned
rope_uring_job_inflight(const struct rope_uring_job *j);

/**
 * Whether a job has finished.
 * @param j  the job
 * @return true once every SQE of the job has completed (notifications
 *         included) and nothing is left to send, or an error stopped it.
 * @since 0.1
 */
ROPEIO_EXPORT bool rope_uring_job_done(const struct rope_uring_job *j);

/**
 * A job's result.
 * @param j  the job
 * @return the number of bytes sent when the job is done, or the first
 *         error that stopped it (-EPIPE, -ECONNRESET, -ENOSPC, ...), or
 *         -EINPROGRESS while it runs.
 * @since 0.1
 */
ROPEIO_EXPORT ssize_t rope_uring_job_result(const struct rope_uring_job *j);

/**
 * How far a job has got.
 * @param j  the job
 * @return the bytes confirmed written so far (for a socket, from the
 *         start of the range without a gap), whether the job failed or not.
 * @since 0.1
 */
ROPEIO_EXPORT size_t rope_uring_job_progress(const struct rope_uring_job *j);

/**
 * Fill @p out with the job's zero-copy figures.
 * @param j    the job
 * @param out  receives the figures
 * @return 0, -EINVAL (NULL).
 * @since 0.1
 */
ROPEIO_EXPORT int rope_uring_job_zc_stats(const struct rope_uring_job *j,
					  struct rope_uring_zc_stats *out);

/**
 * Free a job and drop its snapshot reference. rope_uring_job_free(NULL)
 * does nothing.
 *
 * @param j  the job, or NULL
 * @return 0, or -EBUSY (nothing freed) while any of its SQEs is still in
 *         flight: the kernel may still read its iovecs and bytes.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_uring_job_free(struct rope_uring_job *j);

#ifdef __cplusplus
}
#endif

#endif /* ROPEIO_URING_H */
