/* SPDX-License-Identifier: MIT */
/*
 * io_uring fault injection (see fault-ring.h): a rope__uring table that
 * consults the plan, and the SQE rewriting that makes the kernel itself
 * produce the error, the short count or the cancelled link.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fault-ring.h"
#include "uring-ring-priv.h"

/* liburing 2.3 predates it (kernel 6.10). */
#ifndef IORING_NOP_INJECT_RESULT
#define IORING_NOP_INJECT_RESULT (1U << 0)
#endif

#define MAX_RULES 8

static struct t_ring_rule plan[MAX_RULES];
static unsigned seen[MAX_RULES];
static size_t nplan;
static unsigned hits;

static int setup_err, register_err;
static unsigned cq_max;  /* 0: any CQ size */
static unsigned refused_setup_flags;  /* setup flags answered -EINVAL */
static int probe_hide = -2;  /* an opcode the probe denies; -1: no probe */
static bool old_select_len;  /* buffer select with length 0 reads 0 bytes */
static struct { unsigned skip, count, seen; int err; } submit_fault;
static struct { unsigned count, seen; int err; } refuse_fault;
static struct { unsigned skip, count, every, seen; } sqe_fault;

/* Requests cut short: their iovecs must live until their CQE. */
struct cut {
	struct cut *next;
	struct msghdr mh;
	struct iovec iov[];
};
static struct cut *cuts;

/* Does @rule's opcode name @sqe? */
static bool
rule_matches(const struct t_ring_rule *rule, const struct io_uring_sqe *sqe)
{
	if (rule->opcode == T_RING_OP_RECV_MULTISHOT)
		return sqe->opcode == IORING_OP_RECV &&
		       (sqe->ioprio & IORING_RECV_MULTISHOT);
	return rule->opcode == -1 || rule->opcode == sqe->opcode;
}

static const struct t_ring_rule *
decide(const struct io_uring_sqe *sqe)
{
	const struct t_ring_rule *hit = NULL;

	for (size_t i = 0; i < nplan; i++) {
		if (!rule_matches(&plan[i], sqe))
			continue;
		if (t_fault_window(seen[i]++, plan[i].skip, plan[i].count,
				   plan[i].every) && !hit)
			hit = &plan[i];
	}
	return hit;
}

/* The SQE completes with @res and does nothing else. */
static void
make_nop(struct io_uring_sqe *sqe, int res)
{
	uint64_t data = sqe->user_data;
	uint8_t flags = sqe->flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK |
				      IOSQE_CQE_SKIP_SUCCESS);

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_NOP;
	sqe->fd = -1;
	sqe->flags = flags;
	sqe->user_data = data;
	sqe->rw_flags = IORING_NOP_INJECT_RESULT;
	sqe->len = (uint32_t)res;
}

/* Cut @iov to @keep bytes in a copy; NULL when it holds no more anyway.
 * The copy has only the entries it needs: soaks cut thousands. */
static struct cut *
cut_new(const struct iovec *iov, size_t cnt, size_t keep)
{
	size_t total = 0, n = 0, need = 0;
	struct cut *c;

	for (size_t i = 0; i < cnt; i++) {
		if (total < keep)
			need++;
		total += iov[i].iov_len;
	}
	if (total <= keep)
		return NULL;
	c = calloc(1, sizeof(*c) + (need ? need : 1) * sizeof(struct iovec));
	if (!c)
		abort();
	for (size_t i = 0; i < cnt && keep; i++) {
		c->iov[n] = iov[i];
		if (c->iov[n].iov_len > keep)
			c->iov[n].iov_len = keep;
		keep -= c->iov[n++].iov_len;
	}
	c->mh.msg_iov = c->iov;
	c->mh.msg_iovlen = n;
	c->next = cuts;
	cuts = c;
	return c;
}

/* Cut a write, send or splice to @keep bytes; false if it cannot be cut. */
static bool
make_short(struct io_uring_sqe *sqe, size_t keep)
{
	struct cut *c;

	switch (sqe->opcode) {
	case IORING_OP_WRITEV:
		c = cut_new((const struct iovec *)(uintptr_t)sqe->addr,
			    sqe->len, keep);
		if (!c)
			return false;
		sqe->addr = (uint64_t)(uintptr_t)c->iov;
		sqe->len = (uint32_t)c->mh.msg_iovlen;
		return true;
	case IORING_OP_SENDMSG:
	case IORING_OP_SENDMSG_ZC: {
		const struct msghdr *mh =
			(const struct msghdr *)(uintptr_t)sqe->addr;

		c = cut_new(mh->msg_iov, mh->msg_iovlen, keep);
		if (!c)
			return false;
		c->mh.msg_name = mh->msg_name;
		c->mh.msg_namelen = mh->msg_namelen;
		sqe->addr = (uint64_t)(uintptr_t)&c->mh;
		return true;
	}
	case IORING_OP_SPLICE:
		/* No memory to cut: a smaller count. */
		if (sqe->len <= keep)
			return false;
		sqe->len = (uint32_t)keep;
		return true;
	default:
		return false;
	}
}

/*
 * The SQEs from sqe_head to sqe_tail are not yet flushed to the kernel, and
 * the submission that follows flushes them all: each SQE is looked at once,
 * as long as this runs only right before a real submission.
 */
void
t_ring_rewrite(struct io_uring *ring)
{
	struct io_uring_sq *sq = &ring->sq;
	bool cancel_next = false;

	for (unsigned i = sq->sqe_head; i != sq->sqe_tail; i++) {
		struct io_uring_sqe *sqe = &sq->sqes[i & sq->ring_mask];
		const struct t_ring_rule *f;
		bool linked = sqe->flags & IOSQE_IO_LINK;

		if (cancel_next) {
			make_nop(sqe, -ECANCELED);
			cancel_next = false;
			continue;
		}
		if (old_select_len && sqe->opcode == IORING_OP_RECV &&
		    (sqe->flags & IOSQE_BUFFER_SELECT) && sqe->len == 0 &&
		    !(sqe->ioprio & IORING_RECV_MULTISHOT)) {
			/* A recv of 0 bytes returns 0 (on TCP at once, with
			 * nothing queued: as the end of the stream would). */
			make_nop(sqe, 0);
			hits++;
			continue;
		}
		f = decide(sqe);
		if (!f)
			continue;
		if (f->res < 0) {
			make_nop(sqe, f->res);
			hits++;
		} else if (make_short(sqe, f->keep)) {
			cancel_next = linked;
			hits++;
		}
	}
}

static int
f_queue_init_params(unsigned entries, struct io_uring *ring,
		    struct io_uring_params *p)
{
	if (setup_err) {
		hits++;
		return setup_err;
	}
	if (p->flags & refused_setup_flags) {
		hits++;
		return -EINVAL;  /* what a kernel without them says */
	}
	if (cq_max && (p->flags & IORING_SETUP_CQSIZE) && p->cq_entries > cq_max) {
		hits++;
		return -ENOMEM;  /* a kernel counting it against RLIMIT_MEMLOCK */
	}
	return rope__uring_real.queue_init_params(entries, ring, p);
}

static struct io_uring_probe *
f_get_probe_ring(struct io_uring *ring)
{
	struct io_uring_probe *p;

	if (probe_hide == -2)
		return rope__uring_real.get_probe_ring(ring);
	hits++;
	if (probe_hide == -1)
		return NULL;
	p = rope__uring_real.get_probe_ring(ring);
	if (p && probe_hide <= p->last_op)
		p->ops[probe_hide].flags &= ~(uint16_t)IO_URING_OP_SUPPORTED;
	return p;
}

static struct io_uring_sqe *
f_get_sqe(struct io_uring *ring)
{
	if (t_fault_window(sqe_fault.seen++, sqe_fault.skip, sqe_fault.count,
			   sqe_fault.every)) {
		hits++;
		return NULL;
	}
	return rope__uring_real.get_sqe(ring);
}

static int
f_submit(struct io_uring *ring, unsigned wait_nr, struct __kernel_timespec *ts)
{
	/* Refused submissions leave the SQ as it is: rewrite only what a
	 * real submission is about to take. */
	if (t_fault_window(submit_fault.seen++, submit_fault.skip,
			   submit_fault.count, 0)) {
		hits++;
		return submit_fault.err;
	}
	if (io_uring_cq_ready(ring) &&
	    t_fault_window(refuse_fault.seen++, 0, refuse_fault.count, 0)) {
		hits++;
		return refuse_fault.err;
	}
	t_ring_rewrite(ring);
	return rope__uring_real.submit(ring, wait_nr, ts);
}

static int
f_register_buf_ring(struct io_uring *ring, struct io_uring_buf_reg *reg,
		    unsigned flags)
{
	if (register_err) {
		hits++;
		return register_err;
	}
	return rope__uring_real.register_buf_ring(ring, reg, flags);
}

static const struct rope__uring_ops faulty = {
	.queue_init_params = f_queue_init_params,
	.get_probe_ring = f_get_probe_ring,
	.get_sqe = f_get_sqe,
	.submit = f_submit,
	.register_buf_ring = f_register_buf_ring,
};

void
t_ring_faults(const struct t_ring_rule *rules, size_t n)
{
	nplan = n < MAX_RULES ? n : MAX_RULES;
	memcpy(plan, rules, nplan * sizeof(*plan));
	memset(seen, 0, sizeof(seen));
	rope__uring_set(&faulty);
}

void
t_ring_fail_setup(int err)
{
	setup_err = err;
	rope__uring_set(&faulty);
}

void
t_ring_refuse_cq_over(unsigned max)
{
	cq_max = max;
	rope__uring_set(&faulty);
}

void
t_ring_refuse_setup_flags(unsigned flags)
{
	refused_setup_flags = flags;
	rope__uring_set(&faulty);
}

void
t_ring_old_select_len(void)
{
	old_select_len = true;
	rope__uring_set(&faulty);
}

void
t_ring_probe_hides(int opcode)
{
	probe_hide = opcode;
	rope__uring_set(&faulty);
}

void
t_ring_fail_register(int err)
{
	register_err = err;
	rope__uring_set(&faulty);
}

void
t_ring_fail_submit(unsigned skip, unsigned count, int err)
{
	submit_fault.skip = skip;
	submit_fault.count = count;
	submit_fault.seen = 0;
	submit_fault.err = err;
	rope__uring_set(&faulty);
}

void
t_ring_refuse_while_cqes(unsigned count, int err)
{
	refuse_fault.count = count;
	refuse_fault.seen = 0;
	refuse_fault.err = err;
	rope__uring_set(&faulty);
}

void
t_ring_sq_full(unsigned skip, unsigned count, unsigned every)
{
	sqe_fault.skip = skip;
	sqe_fault.count = count;
	sqe_fault.every = every;
	sqe_fault.seen = 0;
	rope__uring_set(&faulty);
}

void
t_ring_faults_off(void)
{
	rope__uring_set(NULL);
	nplan = 0;
	hits = 0;
	setup_err = register_err = 0;
	refused_setup_flags = 0;
	cq_max = 0;
	probe_hide = -2;
	old_select_len = false;
	memset(&submit_fault, 0, sizeof(submit_fault));
	memset(&sqe_fault, 0, sizeof(sqe_fault));
	memset(&refuse_fault, 0, sizeof(refuse_fault));
	while (cuts) {
		struct cut *c = cuts;

		cuts = c->next;
		free(c);
	}
}

unsigned
t_ring_hits(void)
{
	return hits;
}

bool
t_ring_can_inject(void)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	bool ok = false;

	if (io_uring_queue_init(2, &ring, 0) < 0)
		return false;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_nop(sqe);
	make_nop(sqe, -EIO);
	if (io_uring_submit_and_wait(&ring, 1) == 1 &&
	    io_uring_peek_cqe(&ring, &cqe) == 0) {
		ok = cqe->res == -EIO;
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	return ok;
}
