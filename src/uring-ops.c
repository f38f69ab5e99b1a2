/* SPDX-License-Identifier: MIT */
/*
 * The io_uring seam: the liburing calls that can fail or run out of room,
 * behind one table, as sys.c does for plain system calls. liburing enters
 * the kernel with raw syscalls, so interposing libc cannot reach them; a
 * test installs its own table instead (tests/fault-ring.c) to make ring
 * setup fail, to hide opcodes from the probe, to refuse SQEs as a full SQ does, to interrupt submission,
 * or to rewrite the SQEs about to be submitted so that the kernel itself
 * completes them with an error or a short count.
 */
#include <liburing.h>

#include "uring-ring-priv.h"

static int
real_submit(struct io_uring *ring, unsigned wait_nr,
	    struct __kernel_timespec *ts)
{
	struct io_uring_cqe *cqe;

	if (!wait_nr)
		return io_uring_submit(ring);
	if (ts)
		return io_uring_submit_and_wait_timeout(ring, &cqe, wait_nr, ts,
							NULL);
	return io_uring_submit_and_wait(ring, wait_nr);
}

const struct rope__uring_ops rope__uring_real = {
	.queue_init_params = io_uring_queue_init_params,
	.get_probe_ring = io_uring_get_probe_ring,
	.get_sqe = io_uring_get_sqe,
	.submit = real_submit,
	.register_buf_ring = io_uring_register_buf_ring,
};

const struct rope__uring_ops *rope__uring = &rope__uring_real;

const struct rope__uring_ops *
rope__uring_set(const struct rope__uring_ops *ops)
{
	const struct rope__uring_ops *old = rope__uring;

	rope__uring = ops ? ops : &rope__uring_real;
	return old;
}
