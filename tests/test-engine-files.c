/* SPDX-License-Identifier: MIT */
/*
 * File ranges (rope_append_file()) sent to sockets: on the plain path
 * (rope_snap_write_fd()) and by the engine on both backends (every test
 * runs once on io_uring and once on the poll backend). A real 16 MiB
 * temporary file, TCP on loopback and AF_UNIX socketpairs, a reader
 * thread that checks every byte.
 *
 * That the file's pages never pass through user space is checked on the
 * mapping itself: the rope maps the range and touches nothing, so the
 * mapping's resident set in /proc/self/smaps stays empty unless a send
 * wrote its bytes from there (the kernel's copy from user memory faults
 * every page in).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "engine-arms.h"
#ifdef T_HAVE_URING
#include "fault-ring.h"
#include "uring-ring-priv.h"
#endif

#define MiB (1024u * 1024)
#define BIG (16u * MiB)
/* The file: BIG bytes and a page more, so that ranges may start inside a
 * page; byte i is t_pattern's byte i. */
#define FILE_SIZE (BIG + 8192u)
/* Memory pieces' bytes: t_pattern from here, so none equals the file's. */
#define MEM_PAT (1ull << 40)

/* ------------------------------------------------------------------------ */

static int the_file = -1;

static int
file_get(void)
{
	uint8_t *buf;

	if (the_file >= 0)
		return the_file;
	the_file = t_tmpfile();
	buf = malloc(MiB);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	for (size_t off = 0; the_file >= 0 && off < FILE_SIZE; off += MiB) {
		size_t n = MIN((size_t)MiB, FILE_SIZE - off);

		t_pattern(buf, n, off);
		CU_ASSERT_EQUAL(pwrite(the_file, buf, n, (off_t)off),
				(ssize_t)n);
	}
	free(buf);
	CU_ASSERT_FATAL(the_file >= 0);
	return the_file;
}

/* One piece of a rope: a file range at @off, or @len memory bytes with
 * the pattern from MEM_PAT + @off. */
struct piece {
	bool file;
	uint64_t off;
	size_t len;
};

static uint64_t
pieces_len(const struct piece *p, size_t n)
{
	uint64_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += p[i].len;
	return len;
}

static struct rope *
rope_of(const struct piece *p, size_t n)
{
	struct rope *r = rope_new();

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	for (size_t i = 0; i < n; i++) {
		if (p[i].file) {
			CU_ASSERT_EQUAL(rope_append_file(r, file_get(),
							 (int64_t)p[i].off,
							 p[i].len), 0);
		} else {
			uint8_t *buf = malloc(p[i].len);

			CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
			t_pattern(buf, p[i].len, MEM_PAT + p[i].off);
			CU_ASSERT_EQUAL(rope_append(r, buf, p[i].len),
					(ssize_t)p[i].len);
			free(buf);
		}
	}
	CU_ASSERT_EQUAL(rope_size(r), pieces_len(p, n));
	return r;
}

/*
 * A reader thread: reads @fd to its end, checking each byte against the
 * pieces, and closes it. With @stop_after, it resets the connection
 * after that many bytes instead.
 */
struct check {
	int fd;
	const struct piece *p;
	size_t n;
	uint64_t stop_after;
	uint64_t got;
	bool wrong;
};

static void *
check_run(void *arg)
{
	struct check *c = arg;
	size_t cap = 256 * 1024, i = 0;
	uint64_t in_piece = 0;
	uint8_t *buf = malloc(cap), *want = malloc(cap);

	while (buf && want) {
		size_t ask = c->stop_after ?
			(size_t)MIN((uint64_t)cap, c->stop_after - c->got) : cap;
		ssize_t got = ask ? read(c->fd, buf, ask) : 0;
		size_t k = 0;

		if (got <= 0)
			break;
		while (k < (size_t)got) {
			const struct piece *p = &c->p[i];
			size_t m;

			if (i == c->n) {
				c->wrong = true;  /* more than was sent */
				break;
			}
			m = (size_t)MIN((uint64_t)got - k, p->len - in_piece);
			t_pattern(want, m, (p->file ? 0 : MEM_PAT) + p->off +
				  in_piece);
			if (memcmp(buf + k, want, m) != 0)
				c->wrong = true;
			k += m;
			in_piece += m;
			if (in_piece == p->len) {
				i++;
				in_piece = 0;
			}
		}
		c->got += (uint64_t)got;
	}
	if (c->stop_after) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(c->fd);
	free(buf);
	free(want);
	return NULL;
}

/* Resident kB of the mapping that holds @p, from /proc/self/smaps; -1
 * when none does. */
static long
mapping_rss_kb(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		/* A mapping's first line; its fields' names are not
		 * hex digits followed by a dash. */
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && sscanf(line, "Rss: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* Resident kB of the mapping under the snapshot's byte @off. */
static long
snap_rss_kb(const struct rope_snap *s, size_t off)
{
	struct iovec iov;

	if (rope_snap_iov(s, off, 1, &iov, 1) != 1)
		return -1;
	return mapping_rss_kb(iov.iov_base);
}

static int
fds_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* How a test sends. */
enum how {
	PLAIN,   /* rope_snap_write_fd() on a blocking socket, in a loop */
	ENGINE,  /* rope_uring_send() in the current arm */
};

/* Send all of @s to @fd; the result as the engine's callback sees it. */
static ssize_t
send_all(enum how how, struct rope_snap *s, int fd, unsigned flags)
{
	struct rope_uring *u;
	struct outcome o = { 0 };
	size_t len = rope_snap_size(s), done = 0;

	if (how == PLAIN) {
		while (done < len) {
			ssize_t w = rope_snap_write_fd(s, done, len - done, fd);

			if (w < 0)
				return w;
			if (w == 0)
				return -EIO;
			done += (size_t)w;
		}
		return (ssize_t)done;
	}
	u = t_engine();
	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	CU_ASSERT_EQUAL_FATAL(rope_uring_send(u, fd, s, 0, len, flags, record,
					      &o), 0);
	while (!o.calls && rope_uring_run(u, 1) >= 0)
		;
	CU_ASSERT_EQUAL(o.calls, 1);
	rope_uring_free(u);
	return o.result;
}

/* A connected pair: TCP on loopback or AF_UNIX; the sender's end
 * non-blocking unless @blocking. */
static void
pair_make(bool tcp, bool blocking, int fds[2])
{
	if (tcp) {
		CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	} else {
		CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds),
				      0);
	}
	if (!blocking)
		t_set_nonblock(fds[0]);
}

/*
 * Send the rope of @p to a fresh pair and check it arrived whole. Returns
 * the mapping's resident kB under the first file piece afterwards (0 when
 * there is none), with the rope still holding it.
 */
static long
send_checked(enum how how, bool tcp, bool blocking, const struct piece *p,
	     size_t n, unsigned flags, uint64_t *alloc_total)
{
	struct t_mem_stats before, after;
	struct check c = { .p = p, .n = n };
	struct rope_snap *s;
	struct rope *r;
	pthread_t t;
	int fds[2];
	long rss = 0;
	ssize_t res;

	pair_make(tcp, blocking || how == PLAIN, fds);
	c.fd = fds[1];
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, check_run, &c), 0);
	t_mem_stats(&before);
	r = rope_of(p, n);
	CU_ASSERT_EQUAL_FATAL(rope_snapshot(r, &s), 0);
	res = send_all(how, s, fds[0], flags);
	t_mem_stats(&after);
	close(fds[0]);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(res, (ssize_t)pieces_len(p, n));
	CU_ASSERT_EQUAL(c.got, pieces_len(p, n));
	CU_ASSERT_FALSE(c.wrong);
	for (size_t i = 0, off = 0; i < n; off += p[i++].len)
		if (p[i].file) {
			rss = snap_rss_kb(s, off);
			break;
		}
	if (alloc_total)
		*alloc_total = after.total - before.total;
	rope_snap_unref(s);
	rope_free(r);
	return rss;
}

/* ------------------------------------------------------------------------ */

/* 16 MiB from inside a page, allocating at most 1 MiB, and none of it
 * through the mapping: plain, then the engine. */
static void
big_file(bool tcp)
{
	const struct piece p[] = { { true, 4095, BIG } };
	uint64_t total;
	long rss;

	rss = send_checked(PLAIN, tcp, true, p, 1, 0, &total);
	CU_ASSERT(total <= MiB);
	CU_ASSERT_EQUAL(rss, 0);

	rss = send_checked(ENGINE, tcp, false, p, 1, 0, &total);
	CU_ASSERT(total <= MiB);
	if (rss != 0 || total > MiB)
		fprintf(stderr, "\n  %s %s: %ld kB mapped, %llu bytes "
			"allocated\n", t_fallback_arm ? "poll" : "ring",
			tcp ? "tcp" : "unix", rss,
			(unsigned long long)total);
	CU_ASSERT_EQUAL(rss, 0);
}

static void
test_files_tcp(void)
{
	big_file(true);
}

static void
test_files_unix(void)
{
	big_file(false);
}

/* Memory and file pieces in turn, the file ones of every size and
 * alignment: memory segments around them keep their order. */
static const struct piece mixed[] = {
	{ false, 0, 1000 }, { true, 0, 3 * MiB + 17 }, { false, 5000, 70000 },
	{ true, 4097, 1 }, { true, 12345, 5000 }, { false, 1, 1 },
	{ true, 8191, 600 * 1024 }, { false, 300000, 200000 },
	{ true, BIG, 8192 },
};

static void
test_files_mixed(void)
{
	CU_ASSERT_EQUAL(send_checked(PLAIN, true, true, mixed,
				     ARRAY_SIZE(mixed), 0, NULL), 0);
	CU_ASSERT_EQUAL(send_checked(ENGINE, true, false, mixed,
				     ARRAY_SIZE(mixed), 0, NULL), 0);
	CU_ASSERT_EQUAL(send_checked(ENGINE, false, false, mixed,
				     ARRAY_SIZE(mixed), 0, NULL), 0);
}

/* ROPE_URING_ZC: memory by zero-copy sends, files by splice all the same. */
static void
test_files_zc(void)
{
	CU_ASSERT_EQUAL(send_checked(ENGINE, true, false, mixed,
				     ARRAY_SIZE(mixed), ROPE_URING_ZC, NULL),
			0);
}

/* A blocking socket: the ring splices on (in the kernel's workers); the
 * poll backend, which must not block, writes the mapped bytes. */
static void
test_files_blocking_socket(void)
{
	long rss = send_checked(ENGINE, true, true, mixed, ARRAY_SIZE(mixed),
				0, NULL);

	if (!t_fallback_arm)
		CU_ASSERT_EQUAL(rss, 0);
}

/*
 * A one-page pipe and a one-page socket buffer: every splice is short or
 * finds the socket full, so bytes wait in the pipe and the socket is
 * polled, and still every byte arrives once, in order.
 */
static void
test_files_tiny_pipe(void)
{
	const struct piece p[] = {
		{ false, 0, 777 }, { true, 100, 2 * MiB + 3 },
		{ false, 0, 4096 }, { true, 1, 12289 }, { false, 9, 9 },
	};
	struct check c = { .p = p, .n = ARRAY_SIZE(p) };
	int fds[2], small = 4096;
	struct rope_snap *s;
	struct rope *r;
	pthread_t t;
#ifdef T_HAVE_URING
	size_t was = rope__uring_pipe_want;

	rope__uring_pipe_want = 4096;
#endif
	pair_make(true, false, fds);
	CU_ASSERT_EQUAL(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small,
				   sizeof(small)), 0);
	c.fd = fds[1];
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, check_run, &c), 0);
	r = rope_of(p, ARRAY_SIZE(p));
	CU_ASSERT_EQUAL_FATAL(rope_snapshot(r, &s), 0);
	CU_ASSERT_EQUAL(send_all(ENGINE, s, fds[0], 0),
			(ssize_t)pieces_len(p, ARRAY_SIZE(p)));
	close(fds[0]);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(c.got, pieces_len(p, ARRAY_SIZE(p)));
	CU_ASSERT_FALSE(c.wrong);
	CU_ASSERT_EQUAL(snap_rss_kb(s, 777), 0);
	rope_snap_unref(s);
	rope_free(r);
#ifdef T_HAVE_URING
	rope__uring_pipe_want = was;
#endif
}

/*
 * The peer resets the connection 1 MiB into the file: the send ends with
 * its error, and nothing stays behind (no pipe, no byte allocated).
 */
static void
peer_closes(enum how how)
{
	const struct piece p[] = { { false, 0, 1000 }, { true, 0, BIG } };
	struct check c = { .p = p, .n = ARRAY_SIZE(p), .stop_after = MiB };
	size_t mem = t_mem_now();
	int fds[2], open_before = fds_open();
	struct rope_snap *s;
	struct rope *r;
	pthread_t t;
	ssize_t res;

	pair_make(true, how == PLAIN, fds);
	c.fd = fds[1];
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, check_run, &c), 0);
	r = rope_of(p, ARRAY_SIZE(p));
	CU_ASSERT_EQUAL_FATAL(rope_snapshot(r, &s), 0);
	res = send_all(how, s, fds[0], 0);
	pthread_join(t, NULL);
	CU_ASSERT(res == -EPIPE || res == -ECONNRESET);
	if (res != -EPIPE && res != -ECONNRESET)
		fprintf(stderr, "\n  peer closed: %zd\n", res);
	CU_ASSERT_FALSE(c.wrong);
	close(fds[0]);
	rope_snap_unref(s);
	rope_free(r);
	CU_ASSERT_EQUAL(fds_open(), open_before);
	CU_ASSERT_EQUAL(t_mem_now(), mem);
}

static void
test_files_peer_closes(void)
{
	peer_closes(PLAIN);
	peer_closes(ENGINE);
}

/*
 * A peer that never reads, and a send deadline (or rope_uring_cancel()):
 * the send ends with -ETIMEDOUT (-ECANCELED) whether the socket blocks
 * (the ring's splice then waits in the kernel's worker, and must be
 * cancelled there) or not, and the pipe goes with the job.
 */
static void
stuck_peer(bool blocking, bool cancel)
{
	const struct piece p[] = { { true, 0, BIG } };
	int fds[2], open_before = fds_open();
	struct rope_uring *u = t_engine();
	struct outcome o = { 0 };
	struct rope_snap *s;
	struct rope *r = rope_of(p, 1);

	pair_make(true, blocking, fds);
	CU_ASSERT_EQUAL_FATAL(rope_snapshot(r, &s), 0);
	if (!cancel)
		CU_ASSERT_EQUAL(rope_uring_set_send_timeout(u, 100), 0);
	CU_ASSERT_EQUAL(rope_uring_send(u, fds[0], s, 0, BIG, 0, record, &o),
			0);
	if (cancel) {
		/* Until the socket's buffer is full and the send waits. */
		for (int i = 0; i < 20; i++) {
			CU_ASSERT(rope_uring_run(u, 0) >= 0);
			usleep(5000);
		}
		CU_ASSERT_EQUAL(o.calls, 0);
		CU_ASSERT_EQUAL(rope_uring_cancel(u, fds[0]), 0);
	}
	while (!o.calls && rope_uring_run(u, 1) >= 0)
		;
	CU_ASSERT_EQUAL(o.result, cancel ? -ECANCELED : -ETIMEDOUT);
	rope_uring_free(u);
	rope_snap_unref(s);
	rope_free(r);
	close(fds[0]);
	close(fds[1]);
	CU_ASSERT_EQUAL(fds_open(), open_before);
}

static void
test_files_stuck_peer(void)
{
	stuck_peer(false, false);
	stuck_peer(true, false);
	stuck_peer(false, true);
	stuck_peer(true, true);
}

#ifdef T_HAVE_URING
/*
 * A job on a ring of the caller's with one, then two SQ entries: a file
 * range takes two linked splices (and a poll after EAGAIN), and a ring
 * of one entry must still make progress, one SQE at a time.
 */
static void
job_on_ring(unsigned entries)
{
	struct check c = { .p = mixed, .n = ARRAY_SIZE(mixed) };
	struct rope_uring_job *j = NULL;
	struct io_uring ring;
	struct rope_snap *s;
	struct rope *r = rope_of(mixed, ARRAY_SIZE(mixed));
	int fds[2];
	pthread_t t;

	CU_ASSERT_EQUAL_FATAL(io_uring_queue_init(entries, &ring, 0), 0);
	pair_make(true, false, fds);
	c.fd = fds[1];
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, check_run, &c), 0);
	CU_ASSERT_EQUAL_FATAL(rope_snapshot(r, &s), 0);
	CU_ASSERT_EQUAL_FATAL(rope_uring_job_new(&j, s, 0, SIZE_MAX, fds[0],
						 -1, 0), 0);
	while (!rope_uring_job_done(j)) {
		struct io_uring_cqe *cqe;

		CU_ASSERT(rope_uring_job_prep(j, &ring) >= 0);
		CU_ASSERT_FATAL(rope_uring_job_inflight(j) > 0);
		CU_ASSERT(io_uring_submit_and_wait(&ring, 1) >= 0);
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			rope_uring_job_complete(rope_uring_cqe_job(cqe), cqe);
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	CU_ASSERT_EQUAL(rope_uring_job_result(j),
			(ssize_t)pieces_len(mixed, ARRAY_SIZE(mixed)));
	CU_ASSERT_EQUAL(rope_uring_job_free(j), 0);
	close(fds[0]);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(c.got, pieces_len(mixed, ARRAY_SIZE(mixed)));
	CU_ASSERT_FALSE(c.wrong);
	CU_ASSERT_EQUAL(snap_rss_kb(s, 1000), 0);
	rope_snap_unref(s);
	rope_free(r);
	io_uring_queue_exit(&ring);
}

static void
test_files_job_small_sq(void)
{
	if (t_fallback_arm)
		return;  /* the job API is the ring's */
	job_on_ring(1);
	job_on_ring(2);
}

/*
 * A ring that cannot splice (the first SPLICE ends -EINVAL, as before 5.7
 * or on a file system without splice_read): the job sends the file ranges
 * as mapped bytes, and every byte still arrives.
 */
static void
test_files_no_splice(void)
{
	const struct t_ring_rule rule = {
		.opcode = IORING_OP_SPLICE, .count = 1, .res = -EINVAL,
	};

	if (t_fallback_arm)
		return;
	t_ring_faults(&rule, 1);
	CU_ASSERT(send_checked(ENGINE, true, true, mixed, ARRAY_SIZE(mixed),
			       0, NULL) > 0);  /* from the mapping */
	CU_ASSERT_EQUAL(t_ring_hits(), 1);
	t_ring_faults_off();
}

/* A splice that fails mid-file fails the send with its error, and the
 * job's pipe is closed with it. */
static void
test_files_splice_fails(void)
{
	const struct t_ring_rule rule = {
		.opcode = IORING_OP_SPLICE, .skip = 5, .count = 1,
		.res = -ECONNRESET,
	};
	const struct piece p[] = { { true, 0, BIG } };
	int fds[2], open_before = fds_open();
	struct rope_snap *s;
	struct rope *r;

	if (t_fallback_arm)
		return;
	r = rope_of(p, 1);
	pair_make(true, true, fds);  /* blocking: the engine splices */
	CU_ASSERT_EQUAL_FATAL(rope_snapshot(r, &s), 0);
	/* A peer that reads and discards: no check thread needed, since
	 * the send ends early. */
	{
		struct t_sink k = { .fd = fds[1], .want = BIG, .step = MiB };
		pthread_t t;

		CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, t_sink_run, &k),
				      0);
		t_ring_faults(&rule, 1);
		CU_ASSERT_EQUAL(send_all(ENGINE, s, fds[0], 0), -ECONNRESET);
		t_ring_faults_off();
		close(fds[0]);
		pthread_join(t, NULL);
		free(k.buf);
	}
	close(fds[1]);
	rope_snap_unref(s);
	rope_free(r);
	CU_ASSERT_EQUAL(fds_open(), open_before);
}

/*
 * Splices cut short, into the pipe and out of it (the requests linked
 * after each are cancelled, as the kernel does): the bytes a splice to the
 * socket did not take go first in the next chain, and the cursor stays
 * exact.
 */
static void
test_files_short_splices(void)
{
	const struct t_ring_rule rule = {
		.opcode = IORING_OP_SPLICE, .count = T_FAULT_ALWAYS,
		.every = 3, .keep = 1000,
	};

	if (t_fallback_arm)
		return;
	t_ring_faults(&rule, 1);
	CU_ASSERT_EQUAL(send_checked(ENGINE, true, true, mixed,
				     ARRAY_SIZE(mixed), 0, NULL), 0);
	CU_ASSERT(t_ring_hits() > 5);
	t_ring_faults_off();
}

/*
 * To a non-blocking socket, the engine on io_uring sends a file range
 * inline (sendfile(2), then POLL_ADD while the socket is full), not by
 * SPLICE: a ring whose every SPLICE would fail does not matter to it, and
 * the file's pages still never pass through the mapping (send_checked).
 * The peer reads in small steps, so the socket fills and the send waits.
 */
static void
test_files_inline_when_nonblocking(void)
{
	const struct t_ring_rule rule = {
		.opcode = IORING_OP_SPLICE, .count = T_FAULT_ALWAYS,
		.res = -EIO,
	};

	if (t_fallback_arm)
		return;
	t_ring_faults(&rule, 1);
	CU_ASSERT_EQUAL(send_checked(ENGINE, true, false, mixed,
				     ARRAY_SIZE(mixed), 0, NULL), 0);
	CU_ASSERT_EQUAL(t_ring_hits(), 0);
	t_ring_faults_off();
}

/* No SQE every third time it is asked for: a chain stops wherever that
 * falls (between the two splices of a pair too), and resumes exactly. */
static void
test_files_sq_full(void)
{
	if (t_fallback_arm)
		return;
	t_ring_sq_full(1, T_FAULT_ALWAYS, 3);
	CU_ASSERT_EQUAL(send_checked(ENGINE, true, true, mixed,
				     ARRAY_SIZE(mixed), 0, NULL), 0);
	CU_ASSERT(t_ring_hits() > 0);
	t_ring_faults_off();
}
#endif

/*
 * sendfile(2) raises SIGPIPE, which ropeio takes back: also where the
 * caller blocks SIGPIPE itself, and then a SIGPIPE of the caller's that
 * was pending before the send is still pending after it.
 */
static bool
sigpipe_pending(void)
{
	sigset_t set;

	sigpending(&set);
	return sigismember(&set, SIGPIPE);
}

static ssize_t
send_to_gone_peer(void)
{
	const struct piece p[] = { { true, 0, MiB } };
	struct rope *r = rope_of(p, 1);
	struct rope_snap *s;
	int fds[2];
	ssize_t w = 0;

	CU_ASSERT_EQUAL_FATAL(t_tcp_pair(fds), 0);
	close(fds[1]);
	CU_ASSERT_EQUAL_FATAL(rope_snapshot(r, &s), 0);
	for (int i = 0; i < 8 && w >= 0; i++)
		w = rope_snap_write_fd(s, 0, MiB, fds[0]);
	close(fds[0]);
	rope_snap_unref(s);
	rope_free(r);
	return w;
}

static void
test_files_sigpipe_blocked(void)
{
	struct timespec zero = { 0, 0 };
	sigset_t pipe_only, old;
	ssize_t w;

	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
	while (sigtimedwait(&pipe_only, NULL, &zero) == SIGPIPE)
		;
	/* Blocked, none pending: none is left behind. */
	w = send_to_gone_peer();
	CU_ASSERT(w == -EPIPE || w == -ECONNRESET);
	CU_ASSERT_FALSE(sigpipe_pending());
	/* The caller's own, pending before: still there after. */
	pthread_kill(pthread_self(), SIGPIPE);
	CU_ASSERT_TRUE(sigpipe_pending());
	w = send_to_gone_peer();
	CU_ASSERT(w == -EPIPE || w == -ECONNRESET);
	CU_ASSERT_TRUE(sigpipe_pending());
	while (sigtimedwait(&pipe_only, NULL, &zero) == SIGPIPE)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static const struct t_test tests[] = {
	{ "files_tcp", test_files_tcp },
	{ "files_unix", test_files_unix },
	{ "files_mixed", test_files_mixed },
	{ "files_zc", test_files_zc },
	{ "files_blocking_socket", test_files_blocking_socket },
	{ "files_tiny_pipe", test_files_tiny_pipe },
	{ "files_peer_closes", test_files_peer_closes },
	{ "files_stuck_peer", test_files_stuck_peer },
	{ "files_sigpipe_blocked", test_files_sigpipe_blocked },
#ifdef T_HAVE_URING
	{ "files_job_small_sq", test_files_job_small_sq },
	{ "files_no_splice", test_files_no_splice },
	{ "files_splice_fails", test_files_splice_fails },
	{ "files_short_splices", test_files_short_splices },
	{ "files_sq_full", test_files_sq_full },
	{ "files_inline_when_nonblocking", test_files_inline_when_nonblocking },
#endif
};

int
main(void)
{
	int ret = t_run_engine_arms(tests, ARRAY_SIZE(tests), 240);

	if (the_file >= 0)
		close(the_file);
	return ret;
}
