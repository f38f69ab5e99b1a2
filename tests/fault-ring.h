/* SPDX-License-Identifier: MIT */
#ifndef ROPEIO_TESTS_FAULT_RING_H
#define ROPEIO_TESTS_FAULT_RING_H

/*
 * Fault injection for io_uring, through the library's seam (rope__uring in
 * uring-priv.h). The ring stays real: faults are made by the kernel.
 *
 * SQE rules match the SQEs about to be submitted by opcode (or -1: any;
 * or T_RING_OP_RECV_MULTISHOT: multishot recvs only, not single-shot ones),
 * let @skip through and hit the next @count, or one in @every of them
 * (counted as in fault.h):
 *
 * - with @res < 0 the SQE becomes a NOP that completes with @res
 *   (IORING_NOP_INJECT_RESULT, kernel 6.10+), keeping its user_data and
 *   its link: the kernel fails the SQEs linked after it with -ECANCELED,
 *   as after any failure;
 * - with @res == 0 a WRITEV, SENDMSG or SENDMSG_ZC is cut to at most
 *   @keep bytes (the iovecs are copied), so the kernel does a real short
 *   write or send. A cut send that is linked to more makes the next SQE a
 *   NOP failing with -ECANCELED, so the rest of the chain is cancelled as
 *   the kernel cancels it after a short MSG_WAITALL send.
 *
 * The other faults: ring setup and buffer ring registration failing with
 * an error, submission returning an error before anything is submitted,
 * and get_sqe() returning NULL as for a full SQ.
 */

#include <stdbool.h>
#include <liburing.h>

#include "fault.h"

/* Not an io_uring opcode: a rule for multishot recvs alone. */
#define T_RING_OP_RECV_MULTISHOT 0x10000

struct t_ring_rule {
	int opcode;
	unsigned skip, count;
	int res;
	size_t keep;
	unsigned every;
};

/* Install @n SQE rules (copied), replacing any other. */
void t_ring_faults(const struct t_ring_rule *rules, size_t n);

/* io_uring_queue_init_params() fails with @err (< 0). */
void t_ring_fail_setup(int err);

/* io_uring_queue_init_params() fails with -ENOMEM when asked for a CQ of
 * more than @max entries (0: no limit). */
void t_ring_refuse_cq_over(unsigned max);

/* io_uring_queue_init_params() fails with -EINVAL when asked for any of
 * the setup @flags, as a kernel older than them does. */
void t_ring_refuse_setup_flags(unsigned flags);

/* io_uring_get_probe_ring() says @opcode is unsupported, or, with -1,
 * fails (NULL). */
void t_ring_probe_hides(int opcode);

/* A single-shot recv with buffer select and length 0 reads 0 bytes and
 * returns 0, as before 6.0, where length 0 did not yet mean "the whole
 * buffer". */
void t_ring_old_select_len(void);

/* io_uring_register_buf_ring() fails with @err (< 0). */
void t_ring_fail_register(int err);

/* Submission returns @err without submitting, in its calls [skip, +count). */
void t_ring_fail_submit(unsigned skip, unsigned count, int err);

/* Submission returns @err, @count times, whenever CQEs wait to be reaped:
 * what a kernel whose CQ overflowed does until it is drained. */
void t_ring_refuse_while_cqes(unsigned count, int err);

/* get_sqe() returns NULL: @count times after @skip calls, in one call of
 * @every (0 or 1: in each). */
void t_ring_sq_full(unsigned skip, unsigned count, unsigned every);

/* Remove every ring fault. Call with nothing in flight: it frees the
 * copies of the requests it cut. */
void t_ring_faults_off(void);

/* Faults injected (every kind) since the last t_ring_faults_off(). */
unsigned t_ring_hits(void);

/* Apply the SQE rules to the SQEs @ring is about to submit: for tests that
 * drive a ring of their own, before io_uring_submit(). */
void t_ring_rewrite(struct io_uring *ring);

/* Does this kernel complete a NOP with an injected result? */
bool t_ring_can_inject(void);

#endif
