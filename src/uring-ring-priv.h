/* SPDX-License-Identifier: MIT */
#ifndef ROPE_URING_RING_PRIV_H
#define ROPE_URING_RING_PRIV_H

/*
 * The ring backend's private state: what needs liburing. The core and the
 * poll backend include uring-priv.h alone.
 *
 * user_data of the engine's SQEs: jobs' have the low bits 01 (a slot
 * pointer + 1, see uring-job.c), receives' 10 (a struct receiver pointer
 * + 2), cancellations of a receive 00 (the struct receiver pointer
 * itself), the wake-up poll 11 (the engine + 3), the deadline timeout
 * and the watch set's poll 11 too (their field's address + 3), and
 * cancellations of a job's SQEs 0 (no CQE anybody waits for).
 */

#include <liburing.h>

#include "ropeio-uring.h"
#include "uring-priv.h"

struct rope__ring {
	struct io_uring ring;
	bool wake_armed;             /* its multishot poll is armed */
	bool watch_armed;            /* the watch set's multishot poll is */
	uint64_t timer_due_ms;       /* when the armed timeout for the next
					send deadline fires; 0: none */
	/* The provided buffer ring (uring-ring-recv.c): one group, set up at
	 * the first rope_uring_recv(), shared by every receiving socket; the
	 * buffers themselves are the core's pool (u->bufs). */
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	unsigned recv_kernel;        /* receivers with a multishot or its
					cancellation in the kernel's hands */
	bool no_multishot;           /* a multishot recv was refused and a
					single-shot one then worked on the
					same socket (5.19): single-shot
					recvs for every receiver */
};

#define URING_TAG_MASK 3u
#define URING_TAG_JOB 1u
#define URING_TAG_RECV 2u
#define URING_TAG_CANCEL 0u
#define URING_TAG_WAKE 3u            /* the engine's wake-up poll */


/*
 * The io_uring seam (uring-ops.c): every liburing call of ropeio that can
 * fail or run out of room. get_sqe may return NULL at any time, and every
 * caller copes, as it must for a full SQ. submit submits, then waits for
 * @wait_nr CQEs (for at most @ts when it is not NULL); it returns what
 * io_uring_submit_and_wait_timeout() would, -ETIME included.
 */
struct rope__uring_ops {
	int (*queue_init_params)(unsigned entries, struct io_uring *ring,
				 struct io_uring_params *p);
	struct io_uring_probe *(*get_probe_ring)(struct io_uring *ring);
	struct io_uring_sqe *(*get_sqe)(struct io_uring *ring);
	int (*submit)(struct io_uring *ring, unsigned wait_nr,
		      struct __kernel_timespec *ts);
	int (*register_buf_ring)(struct io_uring *ring,
				 struct io_uring_buf_reg *reg, unsigned flags);
};

extern const struct rope__uring_ops rope__uring_real;
extern const struct rope__uring_ops *rope__uring;

/* Test hook: install @ops (NULL: the real ones), from the thread that runs
 * the engines and jobs, between calls; the tables hold no state. Returns
 * the table it replaces. */
const struct rope__uring_ops *
rope__uring_set(const struct rope__uring_ops *ops);

/* uring-job.c: what a job's splice pipe asks F_SETPIPE_SZ for (0: the
 * kernel's default); tests make it tiny. */
extern size_t rope__uring_pipe_want;

/* uring-job.c: forget the job's SQEs once the ring is gone (no CQE can
 * come), so that rope_uring_job_free() frees it. */
void rope__uring_job_abandon(struct rope_uring_job *j);

/* uring-job.c: the job is an engine's, which checks whether it is done
 * after every prep: it may send inline (see prep_inline()). */
void rope__uring_job_engine(struct rope_uring_job *j);
/* uring-job.c: end the job with -ECANCELED: it prepares nothing more and
 * is done once its SQEs in flight have completed. */
void rope__uring_job_cancel(struct rope_uring_job *j);
/* uring-job.c: end the job with @err and ask the kernel to cancel its SQEs
 * in flight (-EAGAIN: the SQ was full; call again). */
int rope__uring_job_stop(struct rope_uring_job *j, struct io_uring *ring,
			 int err);
/* uring-job.c: its SQEs whose result CQE has not come (notifications of
 * zero-copy sends, which wait for the socket, left out). */
unsigned rope__uring_job_busy(const struct rope_uring_job *j);

/* uring-ring.c: submit now, without waiting, when the SQ has room for
 * fewer than @need SQEs, so that whatever is prepared later in the round
 * still finds one (see there). */
void rope__ring_room(struct rope_uring *u, unsigned need);

/* uring-ring-recv.c. pool_setup() is the ring's recv_start: the provided
 * buffer ring, or plain reads when the kernel has none (-ENOMEM:
 * neither). prep() cancels, arms and re-arms multishot recvs (returns how
 * many are in the kernel's hands, counts in *@starved those the SQ had no
 * room for); reap() takes a receive's CQE (false: not one). */
int rope__recv_pool_setup(struct rope_uring *u);
void rope__recv_exit(struct rope_uring *u);
unsigned rope__recv_prep(struct rope_uring *u, unsigned *starved);
bool rope__recv_reap(struct rope_uring *u, const struct io_uring_cqe *cqe);
/* Ask the kernel to cancel @rc's multishot recv by its user_data (the
 * descriptor may be closed, or name another file now), unless that was
 * asked already or nothing is armed. False when the SQ is full. */
bool rope__recv_cancel_ask(struct rope_uring *u, struct receiver *rc);

#endif /* ROPE_URING_RING_PRIV_H */
