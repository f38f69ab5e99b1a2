/* SPDX-License-Identifier: MIT */
/*
 * The I/O seam: the system calls ropeio makes to move bytes, behind one
 * table. The library always calls through rope__sys; a test installs a
 * table of its own to make a call fail, come up short or be interrupted,
 * exactly where the real call would have been made (tests/fault.c).
 * Interposing libc would work for these calls too, but not for io_uring,
 * whose seam (uring-ops.c) follows the same pattern.
 */
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rope-priv.h"

const struct rope__sys rope__sys_real = {
	.readv = readv,
	.writev = writev,
	.pwritev = pwritev,
	.sendmsg = sendmsg,
	.epoll_wait = epoll_wait,
	.sendfile = sendfile,
	.copy_file_range = copy_file_range,
};

const struct rope__sys *rope__sys = &rope__sys_real;

const struct rope__sys *
rope__sys_set(const struct rope__sys *ops)
{
	const struct rope__sys *old = rope__sys;

	rope__sys = ops ? ops : &rope__sys_real;
	return old;
}
