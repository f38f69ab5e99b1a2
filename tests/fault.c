/* SPDX-License-Identifier: MIT */
/*
 * Plain-syscall fault injection (see fault.h): a rope__sys table whose
 * entries consult the plan, then either fail, cut the iovecs, or call the
 * real function.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "fault.h"
#include "rope-priv.h"

#define MAX_RULES 8

static struct t_sys_rule plan[MAX_RULES];
static unsigned seen[MAX_RULES];
static size_t nplan;
static unsigned hits;

/* The rule that hits this call of @call, or NULL: counts the call. */
static const struct t_sys_rule *
decide(enum t_sys_call call)
{
	const struct t_sys_rule *hit = NULL;

	for (size_t i = 0; i < nplan; i++) {
		if (plan[i].call != call)
			continue;
		if (t_fault_window(seen[i]++, plan[i].skip, plan[i].count,
				   plan[i].every) &&
		    !hit)
			hit = &plan[i];
	}
	if (hit)
		hits++;
	return hit;
}

/* Copy @iov into @out, holding at most @keep bytes; returns the count. */
static int
cut(const struct iovec *iov, int cnt, size_t keep, struct iovec *out)
{
	int n = 0;

	for (int i = 0; i < cnt && keep; i++) {
		out[n] = iov[i];
		if (out[n].iov_len > keep)
			out[n].iov_len = keep;
		keep -= out[n++].iov_len;
	}
	return n;
}

static ssize_t
f_readv(int fd, const struct iovec *iov, int cnt)
{
	const struct t_sys_rule *f = decide(T_SYS_READV);
	struct iovec c[IOV_MAX];

	if (!f)
		return readv(fd, iov, cnt);
	if (f->err) {
		errno = f->err;
		return -1;
	}
	return readv(fd, c, cut(iov, cnt, f->keep, c));
}

static ssize_t
f_writev(int fd, const struct iovec *iov, int cnt)
{
	const struct t_sys_rule *f = decide(T_SYS_WRITEV);
	struct iovec c[IOV_MAX];

	if (!f)
		return writev(fd, iov, cnt);
	if (f->err) {
		errno = f->err;
		return -1;
	}
	return writev(fd, c, cut(iov, cnt, f->keep, c));
}

static ssize_t
f_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	const struct t_sys_rule *f = decide(T_SYS_PWRITEV);
	struct iovec c[IOV_MAX];

	if (!f)
		return pwritev(fd, iov, cnt, off);
	if (f->err) {
		errno = f->err;
		return -1;
	}
	return pwritev(fd, c, cut(iov, cnt, f->keep, c), off);
}

static ssize_t
f_sendmsg(int fd, const struct msghdr *mh, int flags)
{
	const struct t_sys_rule *f = decide(T_SYS_SENDMSG);
	struct iovec c[IOV_MAX];
	struct msghdr m;

	if (!f)
		return sendmsg(fd, mh, flags);
	if (f->err) {
		errno = f->err;
		return -1;
	}
	m = *mh;
	m.msg_iov = c;
	m.msg_iovlen = (size_t)cut(mh->msg_iov, (int)mh->msg_iovlen, f->keep,
				   c);
	return sendmsg(fd, &m, flags);
}

static int
f_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
	const struct t_sys_rule *f = decide(T_SYS_EPOLL_WAIT);

	if (f && f->err) {
		errno = f->err;
		return -1;
	}
	return epoll_wait(epfd, events, maxevents, timeout);
}

/*
 * A file range's send by descriptor is a write like any other to the
 * rules: the bytes are read from the file and go through f_writev() (or
 * f_pwritev() at an offset), so a plan for writes covers it too.
 */
static ssize_t
f_sendfile(int out, int in, off_t *off, size_t count)
{
	static char buf[64 << 10];
	struct iovec v = { buf, 0 };
	ssize_t n = pread(in, buf, count < sizeof(buf) ? count : sizeof(buf),
			  *off), w;

	if (n <= 0)
		return n;
	v.iov_len = (size_t)n;
	w = f_writev(out, &v, 1);
	if (w > 0)
		*off += w;
	return w;
}

static ssize_t
f_copy_file_range(int in, off_t *in_off, int out, off_t *out_off, size_t len,
		  unsigned flags)
{
	static char buf[64 << 10];
	struct iovec v = { buf, 0 };
	ssize_t n = pread(in, buf, len < sizeof(buf) ? len : sizeof(buf),
			  *in_off), w;

	(void)flags;
	if (n <= 0)
		return n;
	v.iov_len = (size_t)n;
	w = f_pwritev(out, &v, 1, *out_off);
	if (w > 0) {
		*in_off += w;
		*out_off += w;
	}
	return w;
}

static const struct rope__sys faulty = {
	.readv = f_readv,
	.writev = f_writev,
	.pwritev = f_pwritev,
	.sendmsg = f_sendmsg,
	.epoll_wait = f_epoll_wait,
	.sendfile = f_sendfile,
	.copy_file_range = f_copy_file_range,
};

void
t_sys_faults(const struct t_sys_rule *rules, size_t n)
{
	nplan = n < MAX_RULES ? n : MAX_RULES;
	memcpy(plan, rules, nplan * sizeof(*plan));
	memset(seen, 0, sizeof(seen));
	hits = 0;
	rope__sys_set(&faulty);
}

void
t_sys_faults_off(void)
{
	rope__sys_set(NULL);
	nplan = 0;
}

unsigned
t_sys_hits(void)
{
	return hits;
}
