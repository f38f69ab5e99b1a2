/* SPDX-License-Identifier: MIT */
#ifndef ROPE_URING_PRIV_H
#define ROPE_URING_PRIV_H

/*
 * The engine's private state, without liburing (the ring backend's own is
 * in uring-ring-priv.h). Its files, each calling only those below it
 * (tests/engine-layers.py checks it, README.md draws it):
 *
 *   front     uring-engine.c: the public calls that pick a backend and
 *             hand work to it (rope_uring_new, _run, _free, _cancel,
 *             _close, _fd)
 *   backends  uring-ring.c + uring-ring-recv.c (io_uring) | uring-poll.c
 *             (readiness loop on the watch set), behind struct
 *             rope__backend; neither
 *             calls the other
 *   core      uring-core.c (requests, callbacks, ordering marks, deadlines,
 *             wake-up), uring-recv.c (receivers, buffer pool, plain
 *             reads), uring-close.c (closers), uring-readiness.c (ready
 *             lists, receivers by fd and by file), uring-watch.c (the
 *             epoll set plain I/O waits on)
 *   jobs      uring-job.c (one snapshot to one fd on a ring)
 *   seam      uring-ops.c (the liburing calls that can fail), uring-check.c
 *
 * Only the ring backend, the jobs and the seam need liburing.
 */

#include "rope-priv.h"

#include "ropeio-engine.h"

/* Version 0.1's struct rope_uring_stats: a caller's is never smaller. */
#define ROPE_URING_STATS_SIZE_0_1 ROPE_SIZE_TO(rope_uring_stats, recv_copied)

/* rope_uring_get_stats(), exported by compat-uring.c or latest-uring.c
 * (see rope__mem_stats in rope-priv.h). */
int rope__uring_get_stats(const struct rope_uring *u,
			  struct rope_uring_stats *out, size_t size);

/* rope.c: rope_close() calls so far on ropes that were received into
 * (see uring-readiness.c). */
extern atomic_ulong rope__closes;

struct rope_uring_job;  /* uring-job.c: the ring backend's */
struct rope__ring;      /* uring-ring-priv.h */
/* Receivers (uring-recv.c, and the ring backend's uring-ring-recv.c). */
#define RECV_BGID 0x726f
/* The ring's entries: the most buffers the pool may grow to. */
#define RECV_RING 1024
/* The buffers a pool starts with. */
#define RECV_NBUF_MIN 16
#define RECV_BUFSZ (16u * 1024)
/* Bytes plain reads may take from one socket in a round. */
#define RECV_PLAIN_MAX (256u * 1024)
/* The chunk plain reads overflow into, one per engine (uring-recv.c). */
#define RECV_PLAIN_CHUNK (64u * 1024)
/* Buffer memory a refusing rope may hold before its socket stops being
 * read (counted in whole buffers, whatever their fill). */
#define RECV_HOLD_MAX (1024u * 1024)
#define NO_BUF UINT16_MAX

struct rbuf {
	struct rope_chunk *chunk;  /* NULL when a refill found no memory */
	uint32_t len;              /* received bytes awaiting delivery */
	bool in_ring;
	uint16_t next;             /* the next id in its receiver's FIFO */
};

/* A buffer taken out of the ring for a rope that refused it. */
struct held {
	struct rope_chunk *chunk;
	uint32_t len;
};

struct receiver {
	/* Ordered by size, so that nothing pads: one per connection, and an
	 * idle server holds thousands (tests/test-engine-memory.c). */
	struct receiver *next, *prev;  /* u->recvs */
	/* uring-readiness.c: the rounds look only at the receivers marked
	 * ready (a CQE came, the watch set found them readable, a call
	 * changed them, or they wait for something the round must retry), in
	 * the order they were marked; the callbacks pass only at those the
	 * round looked at. */
	struct receiver *ready_next, *round_next;
	struct receiver *fd_next;    /* the others on the same fd number */
	struct receiver *file_next;  /* the others in the same file chain */
	struct rope *r;
	rope_uring_cb cb;
	void *arg;
	size_t limit;        /* rope_uring_recv_limit(); 0: none */
	uint64_t delivered;  /* bytes appended since the last callback */
	struct rope__closer *closer;  /* rope_uring_close() waits for it */
	dev_t dev;           /* the open file, so that a reused number */
	ino_t ino;           /* is told apart */
	/* rope_uring_recv_stats(): what it has done so far. */
	uint64_t received, adopted, adopted_mem, copied, completions;
	uint64_t nobufs;
	/* Bytes waiting for the rope, in order: first the held buffers, then
	 * the FIFO of buffer ids still in the engine's pool (linked through
	 * their rbuf's next). */
	struct held *held;
	unsigned held_head, held_n, held_cap;
	uint32_t held_bytes; /* buffer memory held (RECV_BUFSZ each): at
				most RECV_HOLD_MAX and a round's fills */
	unsigned n;          /* ids in the FIFO */
	uint16_t first, last;
	int fd;              /* the caller's descriptor */
	int stop_res;        /* the final result of a stop */
	int end_res;         /* 0 at end of stream, else -errno */
	bool stopping : 1;   /* stopped, cancelled, or the rope was closed */
	bool held_full : 1;  /* too much held: not read until it is taken */
	bool user_paused : 1; /* rope_uring_recv_pause() */
	bool ended : 1;      /* no more data will come */
	bool ready : 1;      /* on the ready list (uring-readiness.c) */
	bool in_round : 1;   /* looked at by this round */
	/* How it reads: with plain reads (the poll backend, or a ring without
	 * buffer rings or multishot recv), or a multishot recv on the ring. */
	struct {
		bool readable : 1;   /* the watch set said so, and it has
					not been read since */
		bool refused : 1;    /* its rope refused the last read: out
					of the watch set, tried every round */
	} plain;
	struct {
		bool armed : 1;      /* a multishot recv is in flight */
		bool cancel_sent : 1; /* its cancellation was submitted */
		bool cancel_inflight : 1; /* ... and its CQE has not arrived */
		bool kind_known : 1; /* single is set (at the first arm) */
		bool single : 1;     /* single-shot recvs instead: an AF_UNIX
					socket, or a kernel without multishot
					recv (uring-ring-recv.c says why) */
		bool probing : 1;    /* its multishot was refused: does a
					single-shot recv work on it? */
	} multishot;
};


/*
 * rope_uring_close() (uring-close.c): its callback waits for @left
 * callbacks, those of the requests and the receive on @fd when it was
 * called; each one that runs takes one off (rope__closer_one_done()).
 */
struct rope__closer {
	struct rope__closer *next;   /* in the engine's due list */
	int fd;
	unsigned left;
	int result;                  /* 0, or close(2)'s error */
	rope_uring_cb cb;
	void *arg;
	bool has_stats;              /* the receive's final figures: */
	struct rope_uring_recv_stats stats;
};

/* A send or a file write, queued (uring-core.c). The core's fields, then
 * the part that the engine's backend owns: only that backend reads it. */
struct request {
	struct request *next;
	struct rope_snap *snap;
	size_t off, len;
	int fd;
	int64_t file_off;            /* -1: a socket */
	unsigned flags;
	rope_uring_cb cb;
	void *arg;
	ssize_t result;
	uint64_t since_ms;           /* sockets: when it started; 0: not yet */
	bool cancelled;              /* cancelled before it started: ends
					once those before it on its fd have */
	bool backend_holds;          /* the backend keeps state for it (a
					ring job): it is cancelled and ended
					through the table */
	struct rope__closer *closer; /* rope_uring_close() waits for it */
	union {
		struct {                     /* uring-ring.c */
			struct rope_uring_job *job;  /* once started */
			bool timed_out;      /* its job was stopped */
			bool cancel_asked;   /* rope_uring_cancel() asked the
						kernel to cancel its SQEs */
		} ring;
		struct {                     /* uring-poll.c */
			size_t done;         /* bytes sent so far */
			bool blocked;        /* waits for POLLOUT */
		} poll;
	};
};

/*
 * The watch set (uring-watch.c): an epoll instance of the descriptors plain
 * I/O waits on. A slot per descriptor number says what the set holds for
 * it and why.
 */
struct rope__watch_slot {
	struct receiver *reader;     /* the receive waiting for bytes */
	uint32_t out_round;          /* the pass that last saw a send wait */
	uint8_t events;              /* EPOLLIN | EPOLLOUT in the set; 0: out */
	bool want_out : 1;           /* a send waits for room */
	bool out_ready : 1;          /* ... and a wait found some */
	bool out_listed : 1;         /* in out_fds (once, whatever want_out) */
};

struct epoll_event;

struct rope__watch {
	int fd;                      /* the epoll instance; -1 until needed */
	struct epoll_event *events;  /* one wait's results */
	struct rope__watch_slot *slots;  /* by descriptor number */
	size_t slots_n;
	unsigned watching;           /* descriptors in the set (its own
					eventfd and timerfd aside) */
	int *out_fds;                /* the numbers whose send waits */
	unsigned out_n, out_cap;
	uint32_t round;              /* the poll backend's passes */
};

/* What one wait found. */
struct rope__watch_seen {
	unsigned readers;            /* receives marked readable */
	unsigned writers;            /* descriptors with room for a send */
	bool wake;                   /* the wake-up eventfd was written */
};

/*
 * A backend: how an engine does its I/O and waits for it, the ring's way
 * (uring-ring.c) or the poll loop's (uring-poll.c). The front
 * (uring-engine.c) takes the first whose init succeeds; everything that
 * differs between them is behind these calls.
 */
struct rope__backend {
	bool plain_syscalls;         /* rope_uring_is_fallback() */
	/* 0, or this backend cannot be used here (the next is tried). */
	int (*init)(struct rope_uring *u, unsigned entries);
	/* Let go of the kernel's resources; no CQE can come after it. */
	void (*exit)(struct rope_uring *u);
	/* Rounds until @wait_nr callbacks ran (counted in *@called), nothing
	 * can progress, or a wake-up: rope_uring_run() without its checks. */
	int (*run)(struct rope_uring *u, unsigned wait_nr, unsigned *called);
	/* The first receive is about to start: set up what receiving needs
	 * (or set u->recv_plain); -ENOMEM refuses the receive. */
	int (*recv_start)(struct rope_uring *u);
	/* rope_uring_cancel() marked everything on @fd cancelled: make the
	 * kernel let go of what it holds of it (and of @rc, if not NULL). */
	int (*cancel_fd)(struct rope_uring *u, int fd, struct receiver *rc);
	/* Make u->notify_fd for rope_uring_fd(); returns it or -errno. */
	int (*readiness_fd)(struct rope_uring *u);
	/* A started request (q->job set) is cancelled: it prepares nothing
	 * more, and ends once the kernel has let go of it. */
	void (*request_cancel)(struct rope_uring *u, struct request *q);
	/* Its callback ran: account and free what the backend kept for it. */
	void (*request_end)(struct rope_uring *u, struct request *q);
};

extern const struct rope__backend rope__ring_backend;  /* uring-ring.c */
extern const struct rope__backend rope__poll_backend;  /* uring-poll.c */

struct rope_uring {
	const struct rope__backend *be;
	struct rope__ring *ring;     /* the ring backend's own state */
	bool zc_ok;                  /* the kernel has SENDMSG_ZC */
	bool running;                /* inside rope_uring_run() */
	bool recv_plain;             /* receives are plain reads: the poll
					backend, or no provided buffer rings */
	struct request *queue;           /* queued or in flight, in order */
	struct request **queue_tail;
	struct request *done;            /* finished, callback not yet run */
	struct request **done_tail;
	unsigned pending;
	unsigned changes;            /* calls that gave the loop work: a
					callback's are taken up in its run */
	struct rope_uring_stats stats;
	/* rope_uring_close(): closers whose callback is due, in order, and
	 * the one whose callback runs now (rope_uring_recv_stats() reads its
	 * figures). */
	struct rope__closer *closers_due;
	struct rope__closer **closers_due_tail;
	const struct rope__closer *closing;
	struct rope__watch watch;    /* plain I/O's epoll set (uring-watch.c) */
	unsigned send_timeout_ms;    /* 0: sends wait for as long as it takes */
	/* A backend's pass over the queue: a mark per descriptor, set while
	 * the pass has seen an unfinished socket request on it, else 0. */
	uint8_t *fd_marks;
	size_t fd_marks_n;

	/* rope_uring_fd() (the backends) and rope_uring_wake() (the core). */
	int notify_fd;               /* -1 until rope_uring_fd() */
	int wake_fd;                 /* an eventfd rope_uring_wake() writes */
	bool woken;                  /* ring: its CQE came */
	int timer_fd;                /* poll backend: a timerfd in the watch
					set, for the next send deadline */

	/* Receiving (uring-recv.c): one provided buffer group, set up at the
	 * first rope_uring_recv(), shared by every receiving socket. */
	struct receiver *recvs;
	unsigned recv_n;             /* receivers in recvs */
	/* uring-readiness.c: the ready and round lists (see struct
	 * receiver), the receivers by fd number (chained through fd_next) and
	 * by open file (through file_next),
	 * and rope_close()'s count when the rounds last looked. */
	struct receiver *ready_head, *ready_last;
	struct receiver *round_head, *round_last;
	struct receiver **by_fd;
	size_t by_fd_n;
	struct receiver **by_file;   /* by (dev, ino): a hash of chains */
	size_t by_file_n;            /* a power of two, or 0 */
	unsigned long closes_seen;
	struct rbuf *bufs;
	unsigned nbuf;               /* ids in use: the pool grows with
					receivers that find it empty, and
					shrinks when receivers leave */
	unsigned nbuf_high;          /* ids that may still hold a chunk or
					sit in the ring: those from nbuf on
					are freed as the kernel gives them
					back (uring-ring-recv.c) */
	unsigned added;              /* buffers added since the last advance */
	bool recv_nobufs;            /* a receive found no buffer */
	struct rope_chunk *plain_chunk;  /* plain reads' overflow, or NULL */

	/* What the loop did, for the tests that hold it to the rule that a
	 * round costs what is ready, not what exists (test-engine-scale.c):
	 * rounds, receivers visited by them, submissions made mid-round to
	 * free SQEs (rope__ring_room()), receivers a lookup by fd or by file
	 * compared. */
	struct {
		uint64_t rounds, recv_visits, early_submits, lookups;
	} count;
};

/* uring-core.c: the requests, for the backends. */
void rope__req_finish(struct rope_uring *u, struct request **link,
		      struct request *q, ssize_t res);
bool rope__req_socket_busy(const struct rope_uring *u, const struct request *q);
/* Make fd_marks cover every queued socket (all 0 between passes); false
 * without memory: ask rope__req_socket_busy() instead. */
bool rope__req_marks_ready(struct rope_uring *u);
/* Has socket request @q, started now or before, run for longer than the
 * engine's send timeout? */
bool rope__req_expired(const struct rope_uring *u, struct request *q);
/* How long a wait may last before a send timeout must be looked at, in
 * ms; -1: no limit. */
int rope__timeout_tick(const struct rope_uring *u);
/* When the earliest deadline of a started socket request falls, in ms of
 * CLOCK_MONOTONIC; 0: none. */
uint64_t rope__next_deadline_ms(const struct rope_uring *u);
unsigned rope__engine_callbacks(struct rope_uring *u);
uint64_t rope__now_ms(void);
/* Mark every request on @fd cancelled (ending those not started); true
 * when there was one. */
bool rope__requests_cancel(struct rope_uring *u, int fd);
/* The backend is gone: end every request left with -ECANCELED. */
void rope__requests_cancel_all(struct rope_uring *u);
/* uring-core.c: the wake-up eventfd, and helpers that keep errno. */
int rope__wake_init(struct rope_uring *u);
void rope__wake_exit(struct rope_uring *u);
/* Was rope_uring_wake() called since the last time? (Clears it.) */
bool rope__wake_taken(struct rope_uring *u);
/* Read an eventfd (or a timerfd) back to zero; true when it was set. */
bool rope__eventfd_clear(int fd);
void rope__close_keep_errno(int fd);

/* uring-close.c. one_done() counts one callback of the closer's as run;
 * callbacks() runs the closers' callbacks that are due (how many ran). */
void rope__closer_one_done(struct rope_uring *u, struct rope__closer *c);
unsigned rope__closer_callbacks(struct rope_uring *u);
/* uring-engine.c: make @c wait for the callback of every request on @fd
 * that has not had it (queued, in flight or finished); how many. */
unsigned rope__req_attach_closer(struct rope_uring *u, int fd,
				 struct rope__closer *c);
/* uring-recv.c: make @c wait for the final callback of every receive on
 * @fd that has not had it (one still reading, or ending); how many. */
unsigned rope__recv_attach_closer(struct rope_uring *u, int fd,
				  struct rope__closer *c);

/* uring-readiness.c: which receivers a round looks at. mark() puts @rc
 * on the ready list (once); take() detaches that list, in order (walk it
 * through ready_next, reading it before marking again); round_add() queues
 * @rc for the callbacks pass, round_take() pops the next; check_closes()
 * marks the receivers whose rope was closed since it last looked (a
 * rope_close() anywhere makes it walk them all, once). */
void rope__recv_mark(struct rope_uring *u, struct receiver *rc);
void rope__recv_mark_all(struct rope_uring *u);
struct receiver *rope__recv_ready_take(struct rope_uring *u);
void rope__recv_round_add(struct rope_uring *u, struct receiver *rc);
struct receiver *rope__recv_round_take(struct rope_uring *u);
void rope__recv_check_closes(struct rope_uring *u);
/* The receivers, by descriptor number and by open file: link() adds @rc
 * (its fd, dev and ino set) to u->recvs and both tables (-ENOMEM: no
 * room, nothing changed); fd_first() is the newest on @fd (the rest follow
 * through fd_next), file_first() the head of the chain (dev, ino) is on
 * (through file_next; compare dev and ino); unlink() takes @rc off every
 * list (before it is freed). */
int rope__recv_link(struct rope_uring *u, struct receiver *rc);
struct receiver *rope__recv_fd_first(const struct rope_uring *u, int fd);
struct receiver *rope__recv_file_first(const struct rope_uring *u, dev_t dev,
				       ino_t ino);
void rope__recv_unlink(struct rope_uring *u, struct receiver *rc);
void rope__recv_fd_table_exit(struct rope_uring *u);

/* uring-readiness.c: the ring backend's receives without provided buffer
 * rings: read those marked ready, then wait on the watch set (blocking
 * when @wait, ended by rope_uring_wake() too) and read what it found;
 * returns how many wait for bytes or -errno, *@progress how many moved. */
int rope__plain_recv_round(struct rope_uring *u, bool wait,
			   unsigned *progress);

/*
 * uring-watch.c: the watch set. init() makes it (with the wake-up eventfd
 * in it; the calls below make it when needed), exit() lets it go.
 * reader() puts @rc's socket in it for EPOLLIN when @want, else takes it
 * out if @rc is the one it is there for. forget() takes @fd out for good
 * (before the caller closes it). The poll backend's sends: each pass over
 * them starts with out_begin(), calls out() for each descriptor whose send
 * waits for room, and ends with out_end(), which takes out those no send
 * waits on any more; out_ready() says whether a wait found room on @fd
 * (and forgets it). wait() waits up to @timeout ms (-1: no limit), marks
 * the receives it found readable, and says what else it found; it
 * returns the events seen or -errno. Errors are -ENOMEM, or epoll's.
 */
int rope__watch_init(struct rope_uring *u);
void rope__watch_exit(struct rope_uring *u);
int rope__watch_add_timer(struct rope_uring *u, int timer_fd);
int rope__watch_reader(struct rope_uring *u, struct receiver *rc, bool want);
void rope__watch_forget(struct rope_uring *u, int fd);
void rope__watch_out_begin(struct rope_uring *u);
int rope__watch_out(struct rope_uring *u, int fd);
void rope__watch_out_end(struct rope_uring *u);
bool rope__watch_out_ready(struct rope_uring *u, int fd);
int rope__watch_wait(struct rope_uring *u, int timeout,
		     struct rope__watch_seen *seen);

/* uring-recv.c, called by the backends. */
unsigned rope__recv_callbacks(struct rope_uring *u);
/* Stop the receive on @fd (-ECANCELED) and return it; one of plain reads
 * has ended at once (nothing holds the socket). NULL when @fd has none. */
struct receiver *rope__recv_cancel_fd(struct rope_uring *u, int fd);
/* Has @rc a multishot recv, or its cancellation, in the kernel's hands?
 * Valid until the next rope__recv_callbacks(), which may free it. */
bool rope__recv_in_kernel(const struct receiver *rc);
void rope__recv_stop_all(struct rope_uring *u);
/* Plain reads (the fallback, or no provided buffer rings): look at the
 * receivers marked ready, in order: end those stopped or whose rope was
 * closed, read once from each the watch set found readable, keep the set
 * in step with what each wants, and queue them for the callbacks pass.
 * A receiver whose rope refuses, or holds its limit, is looked at again
 * every round (the rope may take bytes again with no call to say so).
 * Returns how many read bytes or ended. */
unsigned rope__recv_plain_visit(struct rope_uring *u);
void rope__recv_abandon(struct rope_uring *u);
/* For the ring backend's receiving (uring-ring-recv.c): a receiver ends
 * (no more data will come) or is stopped (its multishot is to be
 * cancelled) with @res, the first time only; whether its socket should be
 * read now; a closed rope stops it; received bytes are appended in order
 * while the rope takes them; buffer @bid joins its FIFO. */
void rope__receiver_end(struct receiver *rc, int res);
void rope__receiver_stop(struct receiver *rc, int res);
bool rope__receiver_reads(const struct receiver *rc);
void rope__receiver_check_rope(struct receiver *rc);
void rope__receiver_deliver(struct rope_uring *u, struct receiver *rc);
void rope__receiver_fifo_push(struct rope_uring *u, struct receiver *rc,
			      unsigned bid);

/* uring-check.c: validate a range to send, clipping *@len to the snapshot
 * (the engine's requests and the jobs both check with it). */
int rope__uring_check(const struct rope_snap *s, size_t off, size_t *len,
		      int fd, int64_t file_off, unsigned flags);

#endif /* ROPE_URING_PRIV_H */
