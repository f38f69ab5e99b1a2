/* SPDX-License-Identifier: MIT */
#ifndef ROPEIO_TESTS_FAULT_H
#define ROPEIO_TESTS_FAULT_H

/*
 * Fault injection for plain system calls, through the library's seam
 * (rope__sys in rope-priv.h). A fault plan is a list of rules; each rule
 * matches one kind of call, lets @skip matching calls through, then fails
 * the next @count of them (or, with @every > 1, one in @every of them,
 * @count times):
 *
 * - with @err > 0 the call is not made and returns -1 with errno = @err;
 * - with @err == 0 the call is made with its iovecs cut to at most @keep
 *   bytes: a real short read or write (0 gives a read or write of nothing).
 *
 * Every matching rule counts the call; the first one whose window is open
 * decides what happens to it. t_sys_hits() says how many calls were hit,
 * so a test can check that its fault really fired.
 */

#include <limits.h>
#include <stddef.h>

enum t_sys_call {
	T_SYS_READV,
	T_SYS_WRITEV,
	T_SYS_PWRITEV,
	T_SYS_SENDMSG,
	T_SYS_EPOLL_WAIT, /* the engine's readiness wait; @err only */
};

/* A @count that never runs out. */
#define T_FAULT_ALWAYS UINT_MAX

struct t_sys_rule {
	enum t_sys_call call;
	unsigned skip, count;
	int err;
	size_t keep;
	unsigned every;
};

/* Install a plan of @n rules (copied), replacing any other. */
void t_sys_faults(const struct t_sys_rule *rules, size_t n);

/* Remove the plan: every call is real again. */
void t_sys_faults_off(void);

/* Calls hit since the plan was installed. */
unsigned t_sys_hits(void);

/*
 * The counting shared with fault-ring.c: is the call numbered @seen (0 for
 * the first) hit? After @skip calls, one in @every (0 or 1: each one) is,
 * @count times.
 */
static inline int
t_fault_window(unsigned seen, unsigned skip, unsigned count, unsigned every)
{
	if (seen < skip)
		return 0;
	seen -= skip;
	if (every > 1) {
		if (seen % every)
			return 0;
		seen /= every;
	}
	return count == T_FAULT_ALWAYS || seen < count;
}

#endif
