/* SPDX-License-Identifier: MIT */
/*
 * The watch set: one epoll instance holding the descriptors that plain
 * I/O waits on (the poll backend's receives and blocked sends, and the
 * ring backend's receives where the kernel has no provided buffer rings),
 * each with what it waits for, plus the wake-up eventfd.
 *
 * It changes only when a wish changes: a receive starts, ends, pauses, or
 * finds its rope refusing; a send finds its socket full, or has room
 * again. So a round costs what is ready, not what exists. The poll backend
 * once made a poll(2) set of every receiving socket each round and sorted
 * it into an epoll mirror after each run: with 4,000 idle keep-alive
 * connections beside 50 busy ones, the example server on it served 60,400
 * requests/s at 16.5 us of CPU each, against 148,300 and 5.6 us on the
 * ring backend.
 *
 * The set is level-triggered: a socket that still has bytes after its
 * round's one read is reported again by the next wait. A descriptor
 * closed while it is in the set leaves it by itself (unless a dup(2) of
 * it lives on), and its number may come back as another socket: so when a
 * number changes owner, the set is told again rather than trusted, and
 * rope_uring_cancel() takes a descriptor out before the caller closes it.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "uring-priv.h"

/* The events one wait takes; the rest are reported by the next. */
#define WATCH_EVENTS 256
/* epoll's data for the descriptors that are not sockets. */
#define WATCH_WAKE UINT64_MAX
#define WATCH_TIMER (UINT64_MAX - 1)

static int
watch_add_own(struct rope_uring *u, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
	int saved = errno, ret = 0;

	if (epoll_ctl(u->watch.fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		ret = -errno;
	errno = saved;
	return ret;
}

int
rope__watch_init(struct rope_uring *u)
{
	struct rope__watch *w = &u->watch;
	int saved = errno, ret;

	if (w->fd >= 0)
		return 0;
	w->events = rope__alloc(WATCH_EVENTS * sizeof(*w->events));
	if (!w->events)
		return -ENOMEM;
	w->fd = epoll_create1(EPOLL_CLOEXEC);
	if (w->fd < 0) {
		ret = -errno;
		errno = saved;
		rope__free(w->events, WATCH_EVENTS * sizeof(*w->events));
		w->events = NULL;
		return ret;
	}
	/* A wait must end on rope_uring_wake(). */
	ret = watch_add_own(u, u->wake_fd, WATCH_WAKE);
	if (ret < 0)
		rope__watch_exit(u);
	return ret;
}

void
rope__watch_exit(struct rope_uring *u)
{
	struct rope__watch *w = &u->watch;

	rope__close_keep_errno(w->fd);
	rope__free(w->events, WATCH_EVENTS * sizeof(*w->events));
	rope__free(w->slots, w->slots_n * sizeof(*w->slots));
	rope__free(w->out_fds, w->out_cap * sizeof(*w->out_fds));
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}

int
rope__watch_add_timer(struct rope_uring *u, int timer_fd)
{
	return watch_add_own(u, timer_fd, WATCH_TIMER);
}

/* Room in the slots for @fd. */
static int
slots_reserve(struct rope__watch *w, int fd)
{
	size_t n;
	struct rope__watch_slot *s;

	if ((size_t)fd < w->slots_n)
		return 0;
	n = MAX((size_t)fd + 1, MAX(2 * w->slots_n, (size_t)64));
	s = rope__realloc(w->slots, w->slots_n * sizeof(*s), n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s + w->slots_n, 0, (n - w->slots_n) * sizeof(*s));
	w->slots = s;
	w->slots_n = n;
	return 0;
}

/*
 * Make the set hold what @fd's slot wants. @told: the set may not hold
 * what the slot says (the number changed owner), so ask it even when
 * nothing seems to change. Whichever of ADD and MOD the slot's belief
 * picks, the other is tried when the set disagrees; a DEL that finds
 * nothing (the number was closed) is no error.
 */
static int
slot_sync(struct rope__watch *w, int fd, bool told)
{
	struct rope__watch_slot *s = &w->slots[fd];
	uint32_t want = (s->reader ? EPOLLIN : 0) | (s->want_out ? EPOLLOUT : 0);
	struct epoll_event ev = { .events = want, .data.u64 = (uint64_t)fd };
	int saved = errno, ret = 0;

	if (want == s->events && !told)
		return 0;
	if (!want) {
		epoll_ctl(w->fd, EPOLL_CTL_DEL, fd, NULL);
	} else if (s->events && !told) {
		if (epoll_ctl(w->fd, EPOLL_CTL_MOD, fd, &ev) < 0 &&
		    (errno != ENOENT ||
		     epoll_ctl(w->fd, EPOLL_CTL_ADD, fd, &ev) < 0))
			ret = -errno;
	} else if (epoll_ctl(w->fd, EPOLL_CTL_ADD, fd, &ev) < 0 &&
		   (errno != EEXIST ||
		    epoll_ctl(w->fd, EPOLL_CTL_MOD, fd, &ev) < 0)) {
		ret = -errno;
	}
	errno = saved;
	/* Refused: the set holds what it held (the caller takes its wish
	 * back, so the slot says so again). */
	if (ret < 0)
		return ret;
	w->watching += (want != 0) - (s->events != 0);
	s->events = (uint8_t)want;
	return ret;
}

int
rope__watch_reader(struct rope_uring *u, struct receiver *rc, bool want)
{
	struct rope__watch *w = &u->watch;
	struct rope__watch_slot *s;
	struct receiver *was;
	bool told;
	int ret;

	if (!want) {
		if ((size_t)rc->fd >= w->slots_n ||
		    w->slots[rc->fd].reader != rc)
			return 0;
		w->slots[rc->fd].reader = NULL;
		return slot_sync(w, rc->fd, false);
	}
	ret = rope__watch_init(u);
	if (ret == 0)
		ret = slots_reserve(w, rc->fd);
	if (ret < 0)
		return ret;
	s = &w->slots[rc->fd];
	if (s->reader == rc && (s->events & EPOLLIN))
		return 0;
	was = s->reader;
	told = was != rc;
	s->reader = rc;
	ret = slot_sync(w, rc->fd, told);
	if (ret < 0)
		s->reader = was;
	return ret;
}

void
rope__watch_forget(struct rope_uring *u, int fd)
{
	struct rope__watch *w = &u->watch;
	struct rope__watch_slot *s;

	if (fd < 0 || (size_t)fd >= w->slots_n)
		return;
	s = &w->slots[fd];
	s->reader = NULL;
	s->want_out = false;
	s->out_ready = false;
	slot_sync(w, fd, false);
}

void
rope__watch_out_begin(struct rope_uring *u)
{
	u->watch.round++;
}

int
rope__watch_out(struct rope_uring *u, int fd)
{
	struct rope__watch *w = &u->watch;
	struct rope__watch_slot *s;
	int ret = rope__watch_init(u);

	if (ret == 0)
		ret = slots_reserve(w, fd);
	if (ret < 0)
		return ret;
	s = &w->slots[fd];
	s->out_round = w->round;
	if (s->want_out)
		return 0;
	if (!s->out_listed && w->out_n == w->out_cap) {
		unsigned cap = w->out_cap ? 2 * w->out_cap : 16;
		int *a = rope__realloc(w->out_fds, w->out_cap * sizeof(*a),
				       cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		w->out_fds = a;
		w->out_cap = cap;
	}
	s->want_out = true;
	s->out_ready = false;
	ret = slot_sync(w, fd, false);
	if (ret < 0) {
		s->want_out = false;
		return ret;
	}
	if (!s->out_listed)
		w->out_fds[w->out_n++] = fd;
	s->out_listed = true;
	return 0;
}

void
rope__watch_out_end(struct rope_uring *u)
{
	struct rope__watch *w = &u->watch;

	for (unsigned i = 0; i < w->out_n;) {
		int fd = w->out_fds[i];
		struct rope__watch_slot *s = &w->slots[fd];

		if (s->want_out && s->out_round == w->round) {
			i++;
			continue;
		}
		if (s->want_out) {
			s->want_out = false;
			s->out_ready = false;
			slot_sync(w, fd, false);
		}
		s->out_listed = false;
		w->out_fds[i] = w->out_fds[--w->out_n];
	}
}

bool
rope__watch_out_ready(struct rope_uring *u, int fd)
{
	struct rope__watch *w = &u->watch;
	bool ready;

	if (fd < 0 || (size_t)fd >= w->slots_n)
		return false;
	ready = w->slots[fd].out_ready;
	w->slots[fd].out_ready = false;
	return ready;
}

int
rope__watch_wait(struct rope_uring *u, int timeout,
		 struct rope__watch_seen *seen)
{
	struct rope__watch *w = &u->watch;
	int saved = errno, n;

	memset(seen, 0, sizeof(*seen));
	if (w->fd < 0)
		return 0;
	do {
		n = rope__sys->epoll_wait(w->fd, w->events, WATCH_EVENTS,
					  timeout);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		n = -errno;
		errno = saved;
		return n;
	}
	for (int i = 0; i < n; i++) {
		uint64_t d = w->events[i].data.u64;
		uint32_t ev = w->events[i].events;
		struct rope__watch_slot *s;

		if (d == WATCH_WAKE) {
			seen->wake = true;
			continue;
		}
		if (d == WATCH_TIMER) {
			rope__eventfd_clear(u->timer_fd);  /* reads as one */
			continue;
		}
		if (d >= w->slots_n)
			continue;
		s = &w->slots[d];
		if (s->reader && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
			s->reader->plain.readable = true;
			rope__recv_mark(u, s->reader);
			seen->readers++;
		}
		if (s->want_out && (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))) {
			s->out_ready = true;
			seen->writers++;
		}
	}
	return n;
}
