/* SPDX-License-Identifier: MIT */
/*
 * Appending network data: read a socket into a rope, then frame lines.
 *
 * A peer (a child process here) sends "line <n> <text>\r\n" records in
 * pieces of odd sizes, so lines arrive split anywhere, as they do on a real
 * network. The reader appends whatever arrives to a rope, which copies
 * nothing it already holds, and cuts complete lines off the front:
 *
 *   rope_find()            is there a whole line yet? (no copy)
 *   rope_readline_delim()  copy one line out, delimiter included
 *   rope_drain()           free what was consumed
 *
 * It does this twice: with rope_read_fd() (one readv(2) straight into the
 * rope's memory) and, where the io_uring layer is built, with
 * rope_uring_recv() (the engine appends as data arrives and calls back).
 * Each line is checked against what the peer sent; any difference, or a
 * line lost, makes the program exit with status 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ropeio.h>
#ifdef HAVE_URING
#include <ropeio-uring.h>
#endif

#define LINES 5000

/* The n-th record the peer sends; both sides make it the same way. */
static int make_line(char *buf, size_t size, unsigned n)
{
	return snprintf(buf, size, "line %u %.*s\r\n", n, (int)(n % 61),
			"the quick brown fox jumps over the lazy dog, again and again");
}

/* The peer: every record, sent in pieces of 1 to 97 bytes. */
static void peer(int fd)
{
	static char out[LINES * 96];
	size_t len = 0, off = 0, step = 1;

	for (unsigned n = 0; n < LINES; n++)
		len += make_line(out + len, sizeof(out) - len, n);
	while (off < len) {
		size_t piece = step < len - off ? step : len - off;
		ssize_t w = write(fd, out + off, piece);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			_exit(1);
		off += w;
		step = step % 97 + 13;
	}
	close(fd);
	_exit(0);
}

/* A connected pair of stream sockets, the far end written by a child. */
static int start_peer(pid_t *pid)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (*pid == 0) {
		close(sv[0]);
		peer(sv[1]);
	}
	close(sv[1]);
	return sv[0];
}

struct reader {
	struct rope *r;
	unsigned lines;		/* complete lines framed so far */
	int bad;		/* a line differed from what was sent */
};

/*
 * Cut every complete line off the front of the rope. The position stays
 * at 0: rope_readline_delim() advances it past the line, and rope_drain()
 * removes the line and moves the position back with the data.
 */
static void frame_lines(struct reader *rd)
{
	char line[128], want[128];
	int64_t end;

	while ((end = rope_find(rd->r, "\r\n", 2, 0)) >= 0) {
		size_t len = (size_t)end + 2;
		ssize_t n;

		if (len > sizeof(line)) {	/* longer than any record */
			rd->bad = 1;
			return;
		}
		n = rope_readline_delim(rd->r, line, len, "\r\n", 2);
		if (n != (ssize_t)len || rope_drain(rd->r, len) != (int64_t)len) {
			rd->bad = 1;
			return;
		}
		if (make_line(want, sizeof(want), rd->lines) != n ||
		    memcmp(line, want, len) != 0) {
			fprintf(stderr, "line %u differs: %.*s", rd->lines,
				(int)n, line);
			rd->bad = 1;
		}
		rd->lines++;
	}
}

/* rope_read_fd(): append up to 64 KiB per call until the peer closes. */
static int with_read_fd(struct reader *rd, int fd)
{
	ssize_t n;

	while ((n = rope_read_fd(rd->r, fd, 65536)) != 0) {
		if (n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		frame_lines(rd);
	}
	return 0;
}

#ifdef HAVE_URING
/* Called from rope_uring_run(): > 0 bytes appended, 0 at the end. */
static void on_recv(void *arg, ssize_t result)
{
	struct reader *rd = arg;

	if (result < 0)
		rd->bad = 1;
	frame_lines(rd);
}

/* rope_uring_recv(): the engine appends; frame in its callback. */
static int with_uring(struct reader *rd, int fd)
{
	struct rope_uring *u;
	int ret = rope_uring_new(&u, 64);

	if (ret < 0)
		return ret;
	ret = rope_uring_recv(u, fd, rd->r, on_recv, rd);
	/* Run until the final callback (the peer's close) has run. */
	while (ret == 0 && rope_uring_pending(u) > 0) {
		int n = rope_uring_run(u, 1);

		if (n < 0)
			ret = n;
	}
	printf("engine: %s\n", rope_uring_is_fallback(u) ?
	       "plain syscalls (io_uring unavailable)" : "io_uring");
	rope_uring_free(u);
	return ret;
}
#endif

static int run(const char *name, int (*how)(struct reader *, int))
{
	struct reader rd = { .r = rope_new() };
	pid_t pid;
	int fd, status, ret;

	if (!rd.r || (fd = start_peer(&pid)) < 0)
		return 1;
	ret = how(&rd, fd);
	close(fd);
	waitpid(pid, &status, 0);
	if (ret < 0 || rd.bad || rd.lines != LINES || rope_size(rd.r) != 0 ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "%s: %u of %u lines (error %d)\n", name,
			rd.lines, LINES, ret);
		rope_free(rd.r);
		return 1;
	}
	printf("%s: %u lines framed, all as sent\n", name, rd.lines);
	rope_free(rd.r);
	return 0;
}

int main(void)
{
	int failed = run("rope_read_fd", with_read_fd);

#ifdef HAVE_URING
	failed |= run("rope_uring_recv", with_uring);
#endif
	return failed;
}
