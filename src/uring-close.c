/* SPDX-License-Identifier: MIT */
/*
 * Closing a connection with one call: rope_uring_close() (in the front,
 * uring-engine.c) ends everything on a descriptor, as rope_uring_cancel()
 * does, closes it when asked, and calls back once when no other callback
 * for it can come. Here, in the core, the closers' bookkeeping: a closer
 * counts the callbacks it waits for: those of the requests and the receive
 * on the descriptor when it was called, each of which ends with
 * -ECANCELED (or its own result, when it had finished already). The count
 * starts at one more, held while the closer is set up, so that it cannot
 * become due half made.
 */
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
