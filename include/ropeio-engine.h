/* SPDX-License-Identifier: MIT */
#ifndef ROPEIO_ENGINE_H
#define ROPEIO_ENGINE_H

/**
 * @file ropeio-engine.h
 * The engine: snapshots sent to files and sockets, and sockets received
 * into ropes, on an io_uring ropeio owns, or on plain system calls in a
 * readiness loop where io_uring cannot be used (or was not built). It
 * needs no liburing: where the library was built without it, every call
 * here works, on the plain-syscall backend.
 *
 * Errors are negative errno values; errno is not used.
 */

#include <sys/types.h>

#include "ropeio.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Flags for rope_uring_send() and rope_uring_job_new(). */
enum {
	/** Sockets: send with IORING_OP_SENDMSG_ZC (zero copy). */
	ROPE_URING_ZC = 1u << 0,
};

/** Zero-copy figures of a job (all zero without ROPE_URING_ZC). */
struct rope_uring_zc_stats {
	uint64_t sends;        /**< SENDMSG_ZC requests that completed */
	uint64_t notifs;       /**< their notifications */
	uint64_t copied;       /**< notifications that said the kernel copied */
	uint64_t zc_bytes;     /**< bytes of sends the kernel did not copy */
	bool disabled;         /**< the job fell back to plain SENDMSG */
};

/* ------------------------------------------------------------------------ */
/* The engine                                                               */
/* ------------------------------------------------------------------------ */

/**
 * An engine owns an io_uring and runs jobs on it: it queues them when the
 * SQ is full, keeps one send in flight per socket (later sends to the same
 * fd wait their turn, so their bytes never interleave), retries -EINTR,
 * reaps CQEs in batches and calls each request's callback after the batch,
 * so a callback may queue more work but never re-enters the loop.
 *
 * Where io_uring cannot be used (setup fails with -EPERM, -ENOSYS,
 * -EOPNOTSUPP, ... under seccomp, kernel.io_uring_disabled or an old
 * kernel; or WRITEV/SENDMSG are missing), the same calls run on plain
 * syscalls inside rope_uring_run(), in a non-blocking readiness loop: files
 * with pwritev(2), sockets with sendmsg(2) (MSG_NOSIGNAL | MSG_DONTWAIT)
 * resumed when epoll(7) says they can take more, receives with readv(2)
 * when epoll says there is data. The epoll set holds the sockets that wait
 * and changes only when one starts or stops waiting, so a run costs what
 * is ready, not how many sockets are open. That set is one descriptor
 * (made with the engine, or at the first wait if the process had none to
 * spare) and one epoll watch per waiting socket: a receive that cannot
 * get its place ends with the error (-EMFILE, or -ENOSPC once
 * fs.epoll.max_user_watches is used up; -ENOMEM is retried), and so does
 * a send that must wait for room (-ENOMEM included). No socket
 * waits for another, whether they are blocking or not. File ranges (rope_append_file()) go by their
 * descriptor: to a file with copy_file_range(2), to an O_NONBLOCK socket
 * with sendfile(2) (EAGAIN waits for POLLOUT as for sendmsg); a blocking
 * socket gets their mapped bytes by sendmsg, since sendfile(2) has no
 * MSG_DONTWAIT. On io_uring, a send holding a file range goes to an
 * O_NONBLOCK socket the same way, inline (sendmsg and sendfile(2) until
 * the socket is full, then IORING_OP_POLL_ADD until it has room): the
 * kernel runs every IORING_OP_SPLICE in a worker thread, which costs a
 * small file more CPU than the send itself. To a blocking socket it goes
 * by IORING_OP_SPLICE through a pipe per request (ropeio-uring.h), as
 * with rope_uring_job_prep(). Setting the environment variable
 * ROPEIO_NO_URING=1
 * forces that fallback, for tests and for sandboxes that kill a process on
 * io_uring syscalls. A library built without liburing has the fallback
 * alone.
 *
 * What the engine asks of the kernel, found out at run time, and what it
 * does without each (tests/test-engine-features.c runs the engine with
 * each one turned off):
 * - a ring (io_uring_setup, 5.1) whose probe (5.6) lists IORING_OP_WRITEV
 *   and IORING_OP_SENDMSG: without them, the fallback above;
 * - IORING_SETUP_COOP_TASKRUN (5.19): without it (setup says -EINVAL), a
 *   ring without it, which the kernel interrupts for its completions;
 * - provided buffer rings (5.19): without them (registration fails),
 *   receives are epoll(7) and readv(2) on the ring backend, as in the
 *   fallback, with a multishot poll of that epoll set on the ring, so
 *   that rope_uring_fd() wakes for their bytes (and made readable at the
 *   end of a run that left bytes in a socket);
 * - multishot recv (6.0): without it (a multishot recv ends -EINVAL and a
 *   single-shot one on the same socket then works), every receive is a
 *   single-shot recv per arrival, as on AF_UNIX sockets on any kernel; a
 *   socket refused both ways ends its receive with -EINVAL alone;
 * - IORING_OP_SPLICE (5.7), for file ranges sent to blocking sockets
 *   (and by rope_uring_job_prep()): without it
 *   (the first splice ends -EINVAL), their mapped bytes by SENDMSG;
 * - IORING_OP_SENDMSG_ZC (6.1; its copy report 6.2): without it,
 *   ROPE_URING_ZC is ignored and sends are plain SENDMSG;
 * - IORING_OP_TIMEOUT (5.4), multishot poll (5.13) and a registered
 *   eventfd (5.2) for send deadlines, rope_uring_wake() and
 *   rope_uring_fd(), which kernels with the features above all have.
 */
struct rope_uring;

/**
 * Called once per request, from rope_uring_run() (or rope_uring_free()).
 * @param arg  the argument given with the request
 * @param result  bytes written, or the negative errno that stopped the
 *                request (-EPIPE, -ECONNRESET, -ENOSPC, ...)
 */
typedef void (*rope_uring_cb)(void *arg, ssize_t result);

/**
 * Create an engine with an SQ of @p entries (rounded up by the kernel; the
 * CQ is 4 times larger, for zero-copy notifications, and has at least
 * 8,192 entries, so that thousands of busy receives do not overflow it:
 * 128 KiB of kernel memory; a kernel that refuses that much gets 4 times
 * @p entries).
 *
 * @p entries bounds how much one submission carries, not who is served:
 * when the SQ fills in the middle of a round the engine submits what it
 * holds and carries on, so everything ready in a round gets its SQE, and
 * a CQ that overflows (more receives than entries) ends multishot
 * receives, which are re-armed in the order they ended, as are those that
 * found the receive buffers used up (beyond about 8,192 busy receives,
 * or a smaller CQ, that churn costs throughput and latency, not
 * fairness). So a busy connection waits about as
 * long as the others whatever @p entries is; a larger SQ only saves
 * system calls. A round of rope_uring_run() looks at the receives that
 * have something to do (bytes, an end, a call that changed them), not at
 * every receive, in both modes.
 *
 * @param out      receives the engine
 * @param entries  the SQ's size, at least 1
 * @return 0, with *@p out set, whether io_uring or the fallback is used
 *         (see rope_uring_is_fallback()); -EINVAL (NULL, @p entries 0),
 *         -ENOMEM, -EMFILE or -ENFILE (no descriptor for the wake-up
 *         eventfd of rope_uring_wake()).
 * @since 0.1
 */
ROPEIO_EXPORT int rope_uring_new(struct rope_uring **out, unsigned entries);

/**
 * Run every pending request to completion (callbacks included) while the
 * receives go on reading (a send's reader may be a receive of this same
 * engine), then stop every receive, then free the engine. A send to a
 * peer that never reads never completes: cancel it first
 * (rope_uring_cancel()) or set a send timeout
 * (rope_uring_set_send_timeout()), or this waits for it. Bytes received
 * for a rope that still refuses them (exported) are dropped, and that
 * receive ends with
 * -ECANCELED. A kernel that refuses submission (-EAGAIN, -EBUSY, -ENOMEM)
 * is asked again, 1 ms apart, for about 100 ms; requests it never took end
 * with -ECANCELED. Nothing is leaked either way. rope_uring_free(NULL)
 * does nothing. Must not be called from a callback.
 * @param u  the engine, or NULL
 * @since 0.1
 */
ROPEIO_EXPORT void rope_uring_free(struct rope_uring *u);

/**
 * Whether the engine runs without io_uring.
 * @param u  the engine
 * @return true when the engine runs on plain syscalls. @since 0.1
 */
ROPEIO_EXPORT bool rope_uring_is_fallback(const struct rope_uring *u);

/**
 * Queue a send of [@p off, @p off + @p len) of @p s to the stream socket
 * @p fd. It starts when no earlier request to @p fd is in flight.
 *
 * @param u    the engine
 * @param fd   the stream socket
 * @param s    the snapshot to send
 * @param off  the range's first byte
 * @param len  the range's length; SIZE_MAX for "to the end"
 * @param flags  0 or ROPE_URING_ZC (ignored by the fallback, and where the
 *               kernel lacks SENDMSG_ZC)
 * @param cb   called once when the send ends
 * @param arg  passed to @p cb as is
 *
 * Lifetime: the request holds its own reference to @p s until its callback
 * has run. On failure @p cb is never called.
 *
 * @return 0, -EINVAL (as rope_uring_job_new(), or NULL @p u),
 *         -ENOMEM.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_uring_send(struct rope_uring *u, int fd,
				  struct rope_snap *s, size_t off, size_t len,
				  unsigned flags, rope_uring_cb cb, void *arg);

/**
 * Queue a write of [@p off, @p off + @p len) of @p s to the file @p fd at
 * @p file_off. File writes run concurrently, each at its own offset.
 *
 * @param u         the engine
 * @param fd        the file
 * @param s         the snapshot to write
 * @param off       the range's first byte
 * @param len       the range's length; SIZE_MAX for "to the end"
 * @param file_off  where in the file the range goes
 * @param cb        called once when the write ends
 * @param arg       passed to @p cb as is
 * @return 0, -EINVAL, -EOVERFLOW, -ESPIPE (@p fd is a socket or a pipe,
 *         which has no offsets: use rope_uring_send()), -ENOMEM; on
 *         failure @p cb is never called.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_uring_pwrite(struct rope_uring *u, int fd,
				    struct rope_snap *s, size_t off,
				    size_t len, int64_t file_off,
				    rope_uring_cb cb, void *arg);

/**
 * Submit what is queued, reap completions and run the callbacks of
 * finished requests, until at least @p wait_nr callbacks have run, or
 * nothing is pending, or nothing can progress until the caller acts (every
 * receiving rope refuses bytes). With @p wait_nr 0 it never blocks, in
 * either mode.
 *
 * @param u        the engine
 * @param wait_nr  how many callbacks to wait for; 0 never blocks
 * @return the number of callbacks run, -EINVAL (NULL), -EBUSY (called from
 *         a callback), or an error of io_uring_submit() other than -EINTR
 *         (which is retried): -EBUSY, -EAGAIN or -ENOMEM when the kernel
 *         refuses more work for now (completions it wants reaped first
 *         are reaped, and submission tried again). Nothing is lost then:
 *         every request stays pending, and the next call carries on.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_uring_run(struct rope_uring *u, unsigned wait_nr);

/**
 * Receive from the stream socket @p fd into @p r: every byte that arrives
 * is appended at the end of @p r (whatever its position, which does not
 * move), until the peer closes, an error occurs or rope_uring_recv_stop().
 *
 * On io_uring this is a multishot recv on a ring of provided buffers of
 * 16 KiB (on an AF_UNIX socket a single-shot recv per arrival instead:
 * Linux 6.18's multishot recv there sometimes misses the end of the
 * stream), shared by the engine's receivers: 16 at first, doubled whenever
 * a receive finds none free, up to two per receiver and at most 1,024
 * (16 MiB). When receivers leave and the pool is over four buffers per
 * receiver, it goes back to two per receiver (16 at least): the buffers
 * beyond that are freed as receives hand them back (one per arrival; the
 * kernel's ring cannot be asked to return the ones it holds). A buffer
 * that comes back at least half full, when @p r has no tail room for its
 * bytes, becomes a chunk of @p r as it is, with no copy, and a fresh
 * buffer takes its place; any other fill is copied into the rope's tail
 * room and its buffer reused at once. So the chunks @p r holds are at
 * most about twice its bytes, as for any append. Where provided buffer
 * rings are missing, and in the fallback, it is epoll(7) plus one readv(2)
 * per round: into the tail room of @p r, then into one 64 KiB chunk that
 * the engine keeps for all its receives, whose bytes @p r then takes as it
 * takes a ring buffer's (the chunk itself when at least half full, else a
 * copy). An idle receive thus holds no buffer of its own in either mode.
 *
 * @p cb runs from rope_uring_run() with the number of bytes appended since
 * the previous call (> 0), and finally once with 0 at the end of the
 * stream, or -ECANCELED after rope_uring_recv_stop(), or the error that
 * ended the receive. After that final call the receive is gone; the data
 * stays in @p r. The same in both modes: a peer's reset ends it with
 * -ECONNRESET, or with 0 when the end of the stream was read before the
 * reset came (the kernel may drop unread bytes on a reset: what arrived is
 * always an intact prefix).
 *
 * While @p r refuses bytes (a getbuffer() export, or no memory), received
 * bytes wait for it, in order, in buffers taken out of the shared ring (so
 * other sockets keep receiving; small fills are packed together, so the
 * memory held is about the bytes, not a buffer per fill); once 1 MiB of
 * buffers waits, this socket alone stops being read until @p r has taken
 * them: nothing is dropped. The bound for one receiver is thus 1 MiB plus
 * what its socket filled in the round in which the engine noticed (at
 * most the pool); rope_uring_recv_stats() reports it. The fallback holds
 * nothing: a rope that refuses is not read.
 * Closing @p r (rope_close()) drops what has not been appended yet and
 * ends the receive with -EBADF at the next rope_uring_run(), in both modes.
 *
 * To close @p fd, see rope_uring_cancel() and rope_uring_close(): call one
 * of them before close(2), always.
 *
 * Lifetime: @p r must outlive the receive (its final callback).
 *
 * @param u    the engine
 * @param fd   the stream socket
 * @param r    the rope the bytes are appended to
 * @param cb   called as bytes arrive, and once at the end
 * @param arg  passed to @p cb as is
 * @return 0, -EINVAL (NULL, negative @p fd), -EBADF (closed rope, or
 *         @p fd not open), -EBUSY (@p fd's socket is being received
 *         already, through @p fd or any other descriptor of it, such as a
 *         dup()), -ENOTSOCK (@p fd is not a socket: a pipe or a file, in
 *         both modes), -ENOMEM.
 * @since 0.1
 */
ROPEIO_EXPORT int rope_uring_recv(struct rope_uring *u, int fd, struct rope *r,
				  rope_uring_cb cb, void *arg);

/**
 * Stop receiving from @p fd: its final callback (-ECANCELED) runs from a
 * later rope_uring_run(), after any bytes already received are appended.
 * In both modes, "already received" means taken from the socket by the
 * engine before the stop took effect (on io_uring, what the multishot
 * recv brought until its cancellation completed); bytes still in the
 * socket stay there, for whoever reads it next.
 * @param u   the engine
 * @param fd  the socket
 * @return 0, -EINVAL (NULL), -ENOENT (not receiving from @p fd).
 * @since 0.1
 */
ROPEIO_EXPORT int rope_uring_recv_stop(struct rope_uring *u, int fd);

/**
 * A deadline for every socket send of @p u: a send not finished @p ms
 * milliseconds after it started (it starts when no earlier send to the
 * same socket is unfinished) ends with -ETIMEDOUT, and what it had not
 * sent stays unsent (on io_uring its SQEs are cancelled). The socket's
 * stream is then cut short: close the connection. 0 (the default) lets
 * sends take as long as they take. It applies to sends already queued as
 * well, and makes rope_uring_free() give up on a peer that never reads.
 * File writes have no deadline. rope_uring_fd() becomes readable when a
 * deadline falls (a timeout request on io_uring, a timerfd in the
 * fallback's epoll set), so an event loop learns of it in time.
 *
 * @param u   the engine
 * @param ms  the deadline in milliseconds; 0 for none
 * @return 0, -EINVAL (NULL).
 * @since 0.2
 */
ROPEIO_EXPORT int rope_uring_set_send_timeout(struct rope_uring *u,
					      unsigned ms);

/**
 * Stop reading @p fd for now, keeping its receive: a rope that has enough
 * to chew on makes the peer wait (TCP flow control) instead of growing.
 * Bytes already received are still appended; the socket is read again
 * after rope_uring_recv_resume(). Takes effect at the next
 * rope_uring_run(). On io_uring this cancels the multishot recv and arms a
 * new one on resume.
 *
 * @param u   the engine
 * @param fd  the socket
 * @return 0, -EINVAL (NULL), -ENOENT (not receiving from @p fd).
 * @since 0.2
 */
ROPEIO_EXPORT int rope_uring_recv_pause(struct rope_uring *u, int fd);

/**
 * Read @p fd again after rope_uring_recv_pause(), from the next
 * rope_uring_run().
 * @param u   the engine
 * @param fd  the socket
 * @return 0, -EINVAL (NULL), -ENOENT (not receiving from @p fd).
 * @since 0.2
 */
ROPEIO_EXPORT int rope_uring_recv_resume(struct rope_uring *u, int fd);

/**
 * A high-water mark: while the receiving rope holds @p max bytes or more,
 * @p fd is not read (as if paused); once it holds fewer (you drained or
 * truncated it), reading goes on. 0 removes the limit (the default). The
 * engine looks at the rope's size when it runs, so in both modes the rope
 * may pass @p max by what arrived before it noticed, and never by more
 * than 16 MiB: one read in the fallback (at most 256 KiB), on io_uring
 * what the shared buffers held (at most the pool: 256 KiB while the
 * engine has one receiver, 16 MiB at most).
 * Call rope_uring_run() after draining.
 *
 * @param u    the engine
 * @param fd   the socket
 * @param max  the high-water mark in bytes; 0 for none
 * @return 0, -EINVAL (NULL), -ENOENT (not receiving from @p fd).
 * @since 0.2
 */
ROPEIO_EXPORT int rope_uring_recv_limit(struct rope_uring *u, int fd,
					size_t max);

/** rope_uring_recv_stats() flags: why a socket is not being read. */
enum {
	/** rope_uring_recv_pause() */
	ROPE_URING_RECV_PAUSED = 1u << 0,
	/** the rope holds its rope_uring_recv_limit() or more */
	ROPE_URING_RECV_LIMITED = 1u << 1,
	/** 1 MiB waits for a rope that refuses it (io_uring only) */
	ROPE_URING_RECV_HOLDING = 1u << 2,
	/** stopped, cancelled or ended: its final callback is due */
	ROPE_URING_RECV_ENDING = 1u << 3,
};

/**
 * What one receive has done and what it costs, for a server's operator.
 * Fields are only ever added at the end, every one 8 bytes.
 */
struct rope_uring_recv_stats {
	uint64_t received;    /**< bytes appended to the rope so far */
	uint64_t waiting;     /**< bytes received that wait for the rope,
				   which refuses them (exported, or no
				   memory); 0 in the fallback, which leaves
				   them in the socket */
	uint64_t held;        /**< memory the engine keeps for those bytes:
				   held chunks and shared buffers, whole */
	uint64_t adopted;     /**< bytes the rope took as the engine's
				   buffers, with no copy (io_uring) */
	uint64_t adopted_mem; /**< the capacity of those buffers: the
				   memory the rope got with them */
	uint64_t copied;      /**< bytes ropeio copied into the rope's tail
				   (io_uring's small fills) */
	uint64_t completions; /**< receives that brought bytes (CQEs, or
				   the fallback's reads) */
	uint64_t nobufs;      /**< times its multishot recv found no free
				   buffer and had to be armed again */
	uint64_t pool;        /**< memory of the engine's shared receive
				   buffers (every receiver's; 0 without
				   io_uring's) */
	uint64_t flags;       /**< ROPE_URING_RECV_* bits: why it is not
				   read now (0: it is) */
};

/**
 * Fill @p out with the figures of the receive on @p fd (see
 * rope_uring_recv()), one that is still reading or one whose final
 * callback has not run yet. Pass `sizeof(*out)` as @p size: a struct from
 * an older header, smaller than this one, gets only the fields it has room
 * for, and a later library keeps doing so as the struct grows.
 *
 * @param u     the engine
 * @param fd    the socket
 * @param out   receives the figures
 * @param size  the size of *@p out, in bytes: at least one field (8)
 * @return 0, -EINVAL (NULL, negative @p fd, @p size below 8), -ENOENT (no
 *         receive on @p fd).
 * @since 0.2
 */
ROPEIO_EXPORT int rope_uring_recv_stats(const struct rope_uring *u, int fd,
					struct rope_uring_recv_stats *out,
					size_t size);

/**
 * End every request to @p fd and its receive: each one's callback runs
 * (from a later rope_uring_run()) with -ECANCELED, after the bytes already
 * received are appended. In both modes the sends' callbacks come in the
 * order the sends were queued, then the receive's final callback.
 * Requests not started end at once; on io_uring, what the kernel is
 * working on is cancelled (IORING_OP_ASYNC_CANCEL of each of the engine's
 * requests on @p fd, by its own tag, so that it works when @p fd was
 * closed already or its number reused) and this call waits until the
 * kernel has let go of it: a send the kernel reports as already running
 * is waited for. Zero-copy
 * sends may still wait for their notification, which comes when the socket
 * lets go of the bytes (at the latest when it is closed).
 *
 * The rule, in both modes: rope_uring_cancel() (or rope_uring_close())
 * before close(2) of a descriptor the engine sends to or receives from.
 *
 *     rope_uring_cancel(u, fd);   // every request on fd ends
 *     close(fd);                  // the peer sees EOF
 *     rope_uring_run(u, 0);       // the -ECANCELED callbacks run
 *
 * The engine keeps no descriptor of its own per connection (one per
 * socket is all a server needs), so what close(2) alone does depends on
 * who holds the open file. On io_uring the kernel's request holds it: the
 * receive goes on, and the peer sees no end of stream until the receive is
 * cancelled. On the fallback nothing does: the socket closes at once (the
 * peer sees the end of the stream), and the receive waits, as on
 * io_uring, until it is cancelled (the fallback waits on its sockets with
 * epoll, which forgets a closed one without a word); if the number was
 * reused for another socket meanwhile, the old receive may read that
 * socket's bytes. Either way it is a bug of the caller's that this call, made first,
 * avoids. What stays safe after such a close: rope_uring_cancel() on the
 * number, closed or reused, ends the old receive and returns at once, and
 * rope_uring_recv() on a reused number is told apart by its file (it
 * starts a new receive and ends the old one with -EBADF).
 *
 * May be called from a callback.
 *
 * @param u   the engine
 * @param fd  the descriptor
 * @return 0, -EINVAL (NULL, negative @p fd), -ENOENT (nothing on @p fd),
 *         or an error of io_uring_submit() (-EAGAIN, -EBUSY, -ENOMEM: the
 *         requests are marked cancelled, but the kernel may still hold
 *         @p fd; call again before closing it).
 * @since 0.2
 */
ROPEIO_EXPORT int rope_uring_cancel(struct rope_uring *u, int fd);

/** rope_uring_close() flags. */
enum {
	/** close(2) the descriptor, once the kernel has let go of it */
	ROPE_URING_CLOSE_FD = 1u << 0,
};

/**
 * End a connection with one call: end every request on @p fd and its
 * receive, as rope_uring_cancel() does, close @p fd if @p flags has
 * ROPE_URING_CLOSE_FD, and call @p cb once, from a later
 * rope_uring_run() (or rope_uring_free()), when no other callback for
 * @p fd can come any more: after the -ECANCELED callback (or the result,
 * for one that had finished) of every request on @p fd, and the final
 * callback of its receive. Free the connection's state in @p cb.
 *
 * Inside @p cb, rope_uring_recv_stats(@p u, @p fd, ...) reports the
 * receive's final figures (-ENOENT when @p fd had no receive), even when
 * the number was closed and reused meanwhile.
 *
 * Replaces this pattern, which must count the -ECANCELED callbacks before
 * freeing anything:
 *
 *     rope_uring_cancel(u, fd);
 *     close(fd);
 *     // ... wait for every request's and the receive's last callback
 *
 * with:
 *
 *     rope_uring_close(u, fd, ROPE_URING_CLOSE_FD, conn_free, conn);
 *
 * The number @p fd is free as soon as this returns (with
 * ROPE_URING_CLOSE_FD): a socket accepted on it meanwhile is a new
 * connection, and its requests and receive are not waited for. Requests
 * queued on @p fd after this call are not waited for either. May be
 * called from a callback; counts as one in rope_uring_pending() until
 * @p cb has run. The same in both modes.
 *
 * @param u      the engine
 * @param fd     the descriptor
 * @param flags  0 or ROPE_URING_CLOSE_FD
 * @param cb     called once, last; its result is 0, or the error close(2)
 *               gave (the descriptor is closed all the same)
 * @param arg    passed to @p cb as is
 * @return 0 (whether or not anything was on @p fd), -EINVAL (NULL
 *         @p u, negative @p fd, unknown flags), -ENOMEM, or an error of
 *         io_uring_submit() (-EAGAIN, -EBUSY, -ENOMEM: as for
 *         rope_uring_cancel(); @p fd is not closed and @p cb not called:
 *         call again).
 * @since 0.3
 */
ROPEIO_EXPORT int rope_uring_close(struct rope_uring *u, int fd,
				   unsigned flags, rope_uring_cb cb,
				   void *arg);

/**
 * A descriptor for your own event loop (epoll, poll, libuv, ...): it
 * becomes readable when rope_uring_run(@p u, 0) has something to do. Wait
 * on it for readability, then call rope_uring_run(@p u, 0), which never
 * blocks. Also call rope_uring_run() after any call that adds work (a send,
 * a write, a receive, a cancellation) and after releasing a rope that
 * refused received bytes: those do not make the descriptor readable.
 *
 * On io_uring it is an eventfd the kernel signals for every completion;
 * in the fallback it is the epoll instance the engine itself waits on,
 * which holds the sockets whose receives want bytes and whose sends wait
 * for room (with the wake-up eventfd and a timerfd for send deadlines).
 * Either way only poll it: do not read, write or close it. It lives as
 * long as the engine. (On io_uring the
 * kernel delivers completions as task work, which may interrupt any wait
 * of the thread with EINTR, yours included: retry it, as loops do.)
 *
 * @param u  the engine
 * @return the descriptor (the same one on every call), -EINVAL (NULL), or
 *         the error that creating it gave (-EMFILE, -ENFILE, -ENOMEM).
 * @since 0.2
 */
ROPEIO_EXPORT int rope_uring_fd(struct rope_uring *u);

/**
 * End the wait of a rope_uring_run() on @p u: the run returns soon, with
 * the callbacks it has run so far (maybe 0), instead of waiting for more.
 * A wake-up that comes while no run waits ends the next run's wait.
 *
 * Any thread may call it, and so may a signal handler: it makes one
 * write(2) to an eventfd, and keeps errno as it was. It is the one call of
 * this header that may be made concurrently with the others.
 *
 * @param u  the engine
 * @return 0, -EINVAL (NULL).
 * @since 0.2
 */
ROPEIO_EXPORT int rope_uring_wake(struct rope_uring *u);

/**
 * How many requests have not called back yet.
 * @param u  the engine
 * @return requests queued or in flight whose callback has not run.
 */
ROPEIO_EXPORT unsigned rope_uring_pending(const struct rope_uring *u);

/** What an engine has done, for tuning and benchmarks. Fields are only
 * ever added at the end, and rope_uring_get_stats() is told the size of
 * yours. */
struct rope_uring_stats {
	uint64_t requests;     /**< requests completed */
	uint64_t bytes;        /**< bytes they wrote */
	uint64_t errors;       /**< requests that ended in an error */
	struct rope_uring_zc_stats zc; /**< zero copy, over all sends */
	uint64_t recv_bytes;   /**< bytes appended by receives */
	uint64_t recv_copied;  /**< ... of which ropeio copied in user space
				    (small fills; plain reads go straight
				    into the rope's memory) */
};

/**
 * Fill @p out with the engine's figures.
 *
 * Pass `sizeof(*out)` as @p size: a later library writes only the fields a
 * struct of that size has, so a program keeps working when the struct
 * grows (fields are only ever added at the end).
 *
 * @param u     the engine
 * @param out   receives the figures
 * @param size  the size of *@p out, in bytes
 * @return 0, -EINVAL (NULL, or @p size smaller than version 0.1's struct:
 *         a size from a later header is fine).
 * @since 0.1; the @p size parameter since 0.2 (a program built against 0.1
 *        keeps calling 0.1's version)
 */
ROPEIO_EXPORT int rope_uring_get_stats(const struct rope_uring *u,
				       struct rope_uring_stats *out,
				       size_t size);

#ifdef __cplusplus
}
#endif

#endif /* ROPEIO_ENGINE_H */
