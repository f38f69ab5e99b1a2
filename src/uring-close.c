/* SPDX-License-Identifier: MIT */
/*
 * Closing a connection with one call: rope_uring_close() ends everything
 * on a descriptor (as rope_uring_cancel() does), closes it when asked, and
 * calls back once when no other callback for it can come. The closer
 * counts the callbacks it waits for: those of the requests and the receive
 * on the descriptor when it was called, each of which ends with
 * -ECANCELED (or its own result, when it had finished already). The count
 * starts at one more, held while the closer is set up, so that it cannot
 * become due half made.
 */
#include <errno.h>
#include <unistd.h>

#include "uring-priv.h"

void
rope__closer_one_done(struct rope_uring *u, struct rope__closer *c)
{
	if (--c->left)
		return;
	c->next = NULL;
	*u->closers_due_tail = c;
	u->closers_due_tail = &c->next;
}

unsigned
rope__closer_callbacks(struct rope_uring *u)
{
	unsigned n = 0;

	while (u->closers_due) {
		struct rope__closer *c = u->closers_due;

		u->closers_due = c->next;
		if (!u->closers_due)
			u->closers_due_tail = &u->closers_due;
		u->pending--;
		u->closing = c;
		if (c->cb)
			c->cb(c->arg, c->result);
		u->closing = NULL;
		rope__free(c, sizeof(*c));
		n++;
	}
	return n;
}

ROPEIO_EXPORT int
rope_uring_close(struct rope_uring *u, int fd, unsigned flags,
		 rope_uring_cb cb, void *arg)
{
	struct rope__closer *c;
	int ret;

	if (!u || fd < 0 || (flags & ~(unsigned)ROPE_URING_CLOSE_FD))
		return -EINVAL;
	c = rope__alloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (struct rope__closer){ .fd = fd, .cb = cb, .arg = arg,
				    .left = 1 };
	/* Nothing of the kernel's may hold @fd when it is closed. */
	ret = rope_uring_cancel(u, fd);
	if (ret < 0 && ret != -ENOENT) {
		rope__free(c, sizeof(*c));
		return ret;
	}
	c->left += rope__req_attach_closer(u, fd, c);
	c->left += rope__recv_attach_closer(u, fd, c);
	if (flags & ROPE_URING_CLOSE_FD) {
		int saved = errno;

		/* Linux frees the number whatever close() says: it is
		 * never closed again, the error goes to the callback. */
		if (close(fd) < 0)
			c->result = -errno;
		errno = saved;
	}
	u->pending++;
	u->changes++;
	rope__closer_one_done(u, c);
	return 0;
}
