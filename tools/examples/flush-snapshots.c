/* SPDX-License-Identifier: MIT */
/*
 * Flushing a rope to a file and to a socket while the program keeps
 * changing it.
 *
 * I/O sends a snapshot, not the rope: rope_snapshot() takes a reference to
 * each chunk, copying no byte, and the snapshot never changes afterwards.
 * The rope stays writable: an overwrite of bytes the snapshot holds goes
 * to new memory, an append to fresh space. So the program snapshots, hands
 * the snapshot to the kernel, changes the rope at once, and what arrives is
 * exactly what the snapshot held.
 *
 * Three ways to write, each to a file and to a socket:
 *
 *   writev     rope_snap_pwrite() / rope_snap_write_fd() of the snapshot,
 *              rope_write_fd() to flush a queue and drain what it wrote
 *   io_uring   rope_uring_pwrite() / rope_uring_send(), queued on an
 *              engine; the rope is changed before the engine runs them
 *
 * Each write is compared with a plain copy of the bytes taken when the
 * snapshot was; any difference makes the program exit with status 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ropeio.h>
#ifdef HAVE_URING
#include <ropeio-uring.h>
#endif

#define ROUNDS 8

static int failed;

static void check(const char *what, const void *got, size_t got_len,
		  const void *want, size_t want_len)
{
	int ok = got_len == want_len && memcmp(got, want, want_len) == 0;

	printf("%-36s %6zu bytes, %s\n", what, got_len,
	       ok ? "as snapshotted" : "DIFFERENT");
	failed |= !ok;
}

/* Change the rope the way a program would: overwrite its start, append. */
static void change(struct rope *r, int round)
{
	char rec[4096];

	memset(rec, 'a' + round % 26, sizeof(rec));
	rope_seek(r, 0, SEEK_SET);
	rope_write(r, "CHANGED!", 8);		/* bytes a snapshot holds */
	rope_append(r, rec, sizeof(rec));	/* fresh bytes at the end */
}

/*
 * The snapshot's bytes, copied out for the comparison: rope_snap_iov()
 * with no array counts the iovecs, then fills an array that large.
 */
static void *copy_of(struct rope_snap *s)
{
	int n = rope_snap_iov(s, 0, SIZE_MAX, NULL, 0);
	struct iovec *iov = calloc(n > 0 ? n : 1, sizeof(*iov));
	char *buf = malloc(rope_snap_size(s) + 1), *p = buf;

	if (!iov || !buf || rope_snap_iov(s, 0, SIZE_MAX, iov, n) != n) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	for (int i = 0; i < n; i++)
		p = (char *)memcpy(p, iov[i].iov_base, iov[i].iov_len) +
		    iov[i].iov_len;
	free(iov);
	return buf;
}

/* Read exactly len bytes (or until EOF) from a socket or a file. */
static size_t read_all(int fd, char *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = off < 0 ? read(fd, buf + got, len - got) :
				      pread(fd, buf + got, len - got, off + got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

static void with_writev(struct rope *r, int file, int sock, int peer)
{
	struct rope_snap *s;
	char *want, *got;
	size_t len;

	if (rope_snapshot(r, &s) < 0) {
		failed = 1;
		return;
	}
	want = copy_of(s);
	len = rope_snap_size(s);
	change(r, 1);				/* the snapshot stays as it was */
	got = malloc(len + 1);

	rope_snap_pwrite(s, 0, SIZE_MAX, file, 0);
	check("writev: file (rope_snap_pwrite)", got,
	      read_all(file, got, len, 0), want, len);
	rope_snap_write_fd(s, 0, SIZE_MAX, sock);
	check("writev: socket (rope_snap_write_fd)", got,
	      read_all(peer, got, len, -1), want, len);

	/* A queue: rope_write_fd() sends the front and drains it. */
	free(want);
	want = malloc(rope_size(r));
	len = rope_pread(r, want, rope_size(r), 0);
	while (rope_size(r) > 0)
		if (rope_write_fd(r, sock, SIZE_MAX) < 0)
			break;
	got = realloc(got, len);
	check("writev: socket (rope_write_fd)", got,
	      read_all(peer, got, len, -1), want, len);
	free(want);
	free(got);
	rope_snap_unref(s);
}

#ifdef HAVE_URING
static void done(void *arg, ssize_t result)
{
	*(ssize_t *)arg = result;
}

static void with_uring(struct rope *r, int file, int sock, int peer)
{
	struct rope_uring *u;
	struct rope_snap *s[ROUNDS];
	char *want[ROUNDS], *got;
	ssize_t res[2 * ROUNDS];
	size_t total = 0;

	if (rope_uring_new(&u, 64) < 0) {
		failed = 1;
		return;
	}
	printf("engine: %s\n", rope_uring_is_fallback(u) ?
	       "plain syscalls (io_uring unavailable)" : "io_uring");
	change(r, 0);				/* the writev part drained it */
	/*
	 * Snapshot, queue, change, round after round: each request holds its
	 * own reference, so the program drops its own at once.
	 */
	for (int i = 0; i < ROUNDS; i++) {
		if (rope_snapshot(r, &s[i]) < 0)
			exit(1);
		want[i] = copy_of(s[i]);
		rope_uring_pwrite(u, file, s[i], 0, SIZE_MAX, total, done,
				  &res[2 * i]);
		rope_uring_send(u, sock, s[i], 0, SIZE_MAX, 0, done,
				&res[2 * i + 1]);
		total += rope_snap_size(s[i]);
		change(r, i);
	}
	/*
	 * An event loop: poll the engine's descriptor beside the socket we
	 * read, and run the engine (which never blocks with 0) when it is
	 * readable. The engine must run once first, to submit what is queued.
	 */
	got = malloc(total);
	size_t off = 0, sent = 0;
	struct pollfd pfd[2] = {
		{ .fd = rope_uring_fd(u), .events = POLLIN },
		{ .fd = peer, .events = POLLIN },
	};

	while (rope_uring_run(u, 0) >= 0 &&
	       (rope_uring_pending(u) > 0 || off < total)) {
		if (poll(pfd, 2, 5000) <= 0 && errno != EINTR)
			break;			/* nothing for 5 s: give up */
		if (pfd[1].revents & POLLIN) {
			ssize_t n = recv(peer, got + off, total - off,
					 MSG_DONTWAIT);
			off += n > 0 ? n : 0;
		}
	}
	rope_uring_free(u);
	for (int i = 0; i < ROUNDS; i++) {
		size_t len = rope_snap_size(s[i]);

		check("io_uring: socket (rope_uring_send)", got + sent,
		      res[2 * i + 1] == (ssize_t)len ? len : 0, want[i], len);
		sent += len;
	}
	sent = 0;
	for (int i = 0; i < ROUNDS; i++) {
		size_t len = rope_snap_size(s[i]);

		check("io_uring: file (rope_uring_pwrite)", got,
		      res[2 * i] == (ssize_t)len ?
		      read_all(file, got, len, sent) : 0, want[i], len);
		sent += len;
		free(want[i]);
		rope_snap_unref(s[i]);
	}
	free(got);
}
#endif

int main(void)
{
	char path[] = "/tmp/ropeio-flush-XXXXXX";
	int file = mkstemp(path), sv[2];
	struct rope *r = rope_new();

	if (file < 0 || !r || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 1;
	unlink(path);
	/* Some content in several chunks, to start with. */
	for (int i = 0; i < 4; i++)
		change(r, i);

	with_writev(r, file, sv[0], sv[1]);
#ifdef HAVE_URING
	with_uring(r, file, sv[0], sv[1]);
#endif
	rope_free(r);
	close(sv[0]);
	close(sv[1]);
	close(file);
	return failed;
}
