/* SPDX-License-Identifier: MIT */
/*
 * iobench: write a rope to a file and to a TCP socket on loopback, side by
 * side in one run: the io_uring engine, the plain-syscall fallback, and one
 * write(2) of the same bytes already contiguous (the limit). Prints the
 * median and range of several runs, in MB/s, and the ratios.
 *
 * Each way gets a fresh engine and one untimed warm-up run, whose time is
 * printed as "first": a new ring pays for starting its kernel workers on
 * its first large buffered file writes, and that cost is real for a
 * short-lived engine.
 *
 * Usage: iobench [MiB] [runs] [chunk KiB]    (defaults: 256 5 64)
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ropeio-uring.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
die(const char *what)
{
	fprintf(stderr, "iobench: %s failed\n", what);
	exit(1);
}

/* ------------------------------------------------------------------------ */

struct drain {
	int fd;
	size_t want;
};

static void *
drain_run(void *arg)
{
	struct drain *d = arg;
	static char buf[1 << 20];
	size_t got = 0;

	while (got < d->want) {
		ssize_t n = read(d->fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return NULL;
}

static void
tcp_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(l, 1) < 0 || getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		die("listen");
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fds[0], (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	fds[1] = accept(l, NULL, NULL);
	close(l);
}

static void
ignore(void *arg, ssize_t res)
{
	*(ssize_t *)arg = res;
}

enum how { HOW_URING, HOW_FALLBACK, HOW_WRITE };

/* One timed run on engine @u (NULL for the plain write): seconds. */
static double
run_once(struct rope_uring *u, bool to_socket, struct rope_snap *s,
	 const uint8_t *flat, size_t len)
{
	struct drain d = { .want = len };
	pthread_t t;
	ssize_t res = 0;
	double t0, t1;
	int fds[2] = { -1, -1 }, fd;
	char path[] = "/tmp/ropeio-iobench-XXXXXX";

	if (to_socket) {
		tcp_pair(fds);
		fd = fds[0];
		d.fd = fds[1];
		pthread_create(&t, NULL, drain_run, &d);
	} else {
		fd = mkstemp(path);
		if (fd < 0)
			die("mkstemp");
		unlink(path);
	}
	t0 = now();
	if (!u) {
		size_t off = 0;

		while (off < len) {
			ssize_t w = write(fd, flat + off, len - off);

			if (w <= 0)
				die("write");
			off += (size_t)w;
		}
		res = (ssize_t)len;
	} else if (to_socket) {
		rope_uring_send(u, fd, s, 0, SIZE_MAX, 0, ignore, &res);
		rope_uring_run(u, 1);
	} else {
		rope_uring_pwrite(u, fd, s, 0, SIZE_MAX, 0, ignore, &res);
		rope_uring_run(u, 1);
	}
	if (to_socket)
		pthread_join(t, NULL);
	t1 = now();
	if (res != (ssize_t)len)
		die("the transfer");
	close(fd);
	if (to_socket)
		close(fds[1]);
	return t1 - t0;
}

int
main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	size_t chunk = (argc > 3 ? strtoul(argv[3], NULL, 10) : 64) * 1024;
	size_t len = mib << 20;
	const char *names[] = { "io_uring", "fallback", "one write()" };
	uint8_t *flat = malloc(len);
	struct rope *r = rope_new();
	struct rope_snap *s;
	struct rope_info info;
	struct rope_mem_stats m0, m1;

	if (!flat || !r || runs < 1 || !chunk)
		die("setup");
	for (size_t i = 0; i < len; i++)
		flat[i] = (uint8_t)(i * 131 + 7);
	for (size_t off = 0; off < len; off += chunk)
		if (rope_append(r, flat + off, chunk < len - off ? chunk
								  : len - off) < 0)
			die("rope_append");
	rope_snapshot(r, &s);
	rope_get_info(r, &info, sizeof(info));
	printf("iobench: %zu MiB rope in %zu segments (appended %zu KiB at a "
	       "time); %d warm runs each after a first one, median [min-max] "
	       "MB/s\n\n", mib, info.segments, chunk / 1024, runs);
	for (int target = 0; target < 2; target++) {
		double med[3];

		printf("%s\n", target ? "TCP socket on loopback (reader thread)"
				      : "file (page cache)");
		for (int how = 0; how < 3; how++) {
			double *t = calloc((size_t)runs, sizeof(*t)), first;
			struct rope_uring *u = NULL;

			if (how != HOW_WRITE) {
				if (how == HOW_FALLBACK)
					setenv("ROPEIO_NO_URING", "1", 1);
				else
					unsetenv("ROPEIO_NO_URING");
				if (rope_uring_new(&u, 64) < 0)
					die("rope_uring_new");
				if ((how == HOW_URING) == rope_uring_is_fallback(u))
					die("the engine mode");
			}
			first = run_once(u, target, s, flat, len);
			rope_mem_stats(&m0, sizeof(m0));
			for (int i = 0; i < runs; i++)
				t[i] = run_once(u, target, s, flat, len);
			rope_mem_stats(&m1, sizeof(m1));
			rope_uring_free(u);
			qsort(t, (size_t)runs, sizeof(*t), cmp);
			med[how] = (double)len / t[runs / 2] / 1e6;
			printf("  %-12s %8.0f  [%.0f-%.0f]  first %6.0f",
			       names[how], med[how],
			       (double)len / t[runs - 1] / 1e6,
			       (double)len / t[0] / 1e6, (double)len / first / 1e6);
			if (how != HOW_WRITE)
				printf("   ropeio allocated %.1f KiB per run",
				       (double)(m1.total - m0.total) / runs / 1024);
			printf("\n");
			free(t);
		}
		printf("  ratio to one write(): io_uring %.2f, fallback %.2f\n\n",
		       med[0] / med[2], med[1] / med[2]);
	}
	rope_snap_unref(s);
	rope_free(r);
	free(flat);
	return 0;
}
