/* SPDX-License-Identifier: MIT */
/*
 * Scenario: static files over HTTP/1.1 keep-alive under wrk. Three files
 * of random bytes (64 KiB, 1 MiB, 16 MiB) in a temporary directory, read
 * once before the runs so that they are served from the page cache; the
 * example server with --root (tools/examples/http-server.c, the files
 * appended by reference with rope_append_file() and kept as snapshots
 * for the next requests, one fstatat(2) each) on io_uring and on the
 * fallback, and nginx (one worker, `sendfile on`, `tcp_nopush on`, its
 * default open(2) per request: its open_file_cache made no difference
 * beyond the noise in a side run) serving the same directory. Each a fresh
 * process on a loopback port of its own; wrk -t2 -c50 -dDs --latency
 * --timeout 10s drives it; the servers' order rotates every repetition.
 *
 * Reported, medians over the repetitions: requests/s, their ratio to
 * nginx's (the median of each repetition's ratio, the two run within
 * seconds of each other, so that a change in the machine's load moves
 * both), wrk's p99, the server's CPU per request; and the load average
 * before and after.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

const size_t static_sizes[STATIC_FILES] = { 64 * KiB, MiB, 16 * MiB };
static const char *const static_names[STATIC_FILES] = { "f64k", "f1m",
							 "f16m" };
static const int static_servers[] = { SRV_URING, SRV_FALLBACK, SRV_NGINX };

#define STATIC_REPS 15
#define NSERVERS ((int)ARRAY_SIZE(static_servers))

struct static_run {
	int n;
	double rps[STATIC_REPS], p99[STATIC_REPS], cpu[STATIC_REPS];
	int rep[STATIC_REPS];
	double errors;
	const char *skip;
};

static struct static_run runs[HTTPD_SERVERS][STATIC_FILES];
static const char *static_skip;
static int static_seconds;
static char dir[64], load_before[64], load_after[64];

/* The files, of random bytes; false when one could not be written. */
static bool
files_write(void)
{
	char path[PATH_MAX];

	strcpy(dir, "/tmp/ropeio-static-XXXXXX");
	if (!mkdtemp(dir))
		return false;
	for (int i = 0; i < STATIC_FILES; i++) {
		size_t n = static_sizes[i];
		uint8_t *buf = malloc(n);
		int fd;
		bool ok;

		snprintf(path, sizeof(path), "%s/%s", dir, static_names[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		for (size_t j = 0; buf && j < n; j++)
			buf[j] = (uint8_t)rng();
		ok = buf && fd >= 0 && write(fd, buf, n) == (ssize_t)n;
		free(buf);
		if (fd >= 0)
			close(fd);
		if (!ok)
			return false;
	}
	return true;
}

static void
files_remove(void)
{
	char path[PATH_MAX];

	for (int i = 0; i < STATIC_FILES; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, static_names[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* One GET of file @i: its whole length back with a 200? It also brings
 * the file into the page cache. */
static const char *
static_check(const struct server *s, int i)
{
	char req[128];
	size_t size = static_sizes[i] + 4096, len = 0;
	char *buf = malloc(size);
	int fd = port_connect(s->port), head = -1;

	snprintf(req, sizeof(req), "GET /%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		 "\r\n", static_names[i]);
	if (buf && fd >= 0 && write(fd, req, strlen(req)) ==
	    (ssize_t)strlen(req))
		head = http_answer(fd, buf, size, &len);
	if (fd >= 0)
		close(fd);
	free(buf);
	return head < 0 || len != static_sizes[i] ?
	       "no 200 answer with the file to a GET" : NULL;
}

const char *
static_self_test(int kind)
{
	const char *why;
	struct server srv;

	if (!files_write()) {
		files_remove();
		return "the files could not be written to /tmp";
	}
	why = server_start_root(kind, dir, &srv);
	for (int i = 0; !why && i < STATIC_FILES; i++)
		why = static_check(&srv, i);
	if (!why && !server_stop(&srv))
		why = "it did not exit cleanly";
	else if (why && srv.pid > 0)
		server_stop(&srv);
	files_remove();
	return why;
}

static const char *
static_once(int kind, int i, int rep)
{
	struct static_run *r = &runs[kind][i];
	char url[96], d_arg[16], out[8192];
	const char *wrk_argv[] = { "wrk", "-t2", "-c50", d_arg, "--latency",
				   "--timeout", "10s", url, NULL };
	const char *why;
	struct wrk_figures f;
	struct server srv;

	if ((why = server_start_root(kind, dir, &srv)))
		return why;
	if ((why = static_check(&srv, i))) {
		server_stop(&srv);
		return why;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s", srv.port,
		 static_names[i]);
	snprintf(d_arg, sizeof(d_arg), "-d%ds", static_seconds);
	why = wrk_measure(wrk_argv, srv.pid, out, sizeof(out), &f);
	if (!why && r->n < STATIC_REPS) {
		r->rps[r->n] = f.rps;
		r->p99[r->n] = f.p99;
		r->cpu[r->n] = f.cpu;
		r->rep[r->n] = rep;
		r->errors = fmax(r->errors, f.errors);
		r->n++;
	}
	if (!server_stop(&srv) && !why)
		why = "the server did not exit cleanly";
	return why;
}

void
scen_static(int reps, int seconds)
{
	int wfd, status;
	char version[256];
	pid_t pid;

	static_seconds = seconds;
	load_read(load_before, sizeof(load_before));
	for (int k = 0; k < NSERVERS; k++)
		for (int i = 0; i < STATIC_FILES; i++)
			runs[static_servers[k]][i] = (struct static_run){
				.skip = server_skip[static_servers[k]] };
	pid = spawn((const char *[]){ "wrk", "--version", NULL }, false, &wfd);
	read_all(wfd, version, sizeof(version));
	close(wfd);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) {
		static_skip = "wrk is not installed (apt-get install wrk)";
		return;
	}
	if (!files_write()) {
		static_skip = "the files could not be written to /tmp";
		files_remove();
		return;
	}
	for (int rep = 0; rep < reps && rep < STATIC_REPS; rep++)
		for (int i = 0; i < STATIC_FILES; i++)
			for (int k = 0; k < NSERVERS; k++) {
				int s = static_servers[(k + rep) % NSERVERS];
				const char *why;

				if (runs[s][i].skip)
					continue;
				fprintf(stderr, "[%6.1fs] static: %s, %zu B\n",
					now() - run_start, server_names[s],
					static_sizes[i]);
				if ((why = static_once(s, i, rep)))
					runs[s][i].skip = why;
			}
	files_remove();
	load_read(load_after, sizeof(load_after));
}

double
static_paired(int server, int file, double *rps, double *ng)
{
	const struct static_run *a = &runs[server][file];
	const struct static_run *b = &runs[SRV_NGINX][file];
	double v[STATIC_REPS];
	int n = 0;

	if (static_skip || a->skip || b->skip || !a->n || !b->n)
		return NAN;
	for (int i = 0; i < a->n; i++)
		for (int j = 0; j < b->n; j++)
			if (a->rep[i] == b->rep[j])
				v[n++] = a->rps[i] / b->rps[j];
	if (rps)
		*rps = median(a->rps, a->n);
	if (ng)
		*ng = median(b->rps, b->n);
	return median(v, n);
}

void
print_static(int num)
{
	int n = 0;

	for (int k = 0; k < NSERVERS && !n; k++)
		n = runs[static_servers[k]][0].n;
	printf("%d. Static files over HTTP/1.1 keep-alive, from the page "
	       "cache, under wrk -t2 -c50 -d%ds\n   (%d run%s each, the "
	       "servers' order rotating; medians; nothing pinned)\n\n", num,
	       static_seconds, n, n == 1 ? "" : "s");
	if (static_skip) {
		printf("   skipped: %s\n\n", static_skip);
		return;
	}
	printf("   load average %s before, %s after\n\n", load_before,
	       load_after);
	printf("   %-8s %-36s %9s %6s %9s %9s %6s\n", "file", "server",
	       "req/s", "/nginx", "MiB/s", "p99", "CPU/req");
	for (int i = 0; i < STATIC_FILES; i++) {
		for (int k = 0; k < NSERVERS; k++) {
			int s = static_servers[k];
			const struct static_run *r = &runs[s][i];
			char size[32], p99[16], vs[16] = "-";
			double rps;

			snprintf(size, sizeof(size), "%zu %s",
				 static_sizes[i] / (i ? MiB : KiB),
				 i ? "MiB" : "KiB");
			if (r->skip || !r->n) {
				printf("   %-8s %-36s skipped: %s\n", size,
				       server_names[s],
				       r->skip ? r->skip : "no run");
				continue;
			}
			rps = median(r->rps, r->n);
			fmt_latency(p99, sizeof(p99), median(r->p99, r->n));
			if (s != SRV_NGINX)
				snprintf(vs, sizeof(vs), "%.2fx",
					 static_paired(s, i, NULL, NULL));
			printf("   %-8s %-36s %9.0f %6s %9.0f %9s %6.0f us",
			       size, server_names[s], rps, vs,
			       rps * (double)static_sizes[i] / MiB, p99,
			       median(r->cpu, r->n) * 1e6);
			if (r->errors)
				printf("  (%.0f socket errors)", r->errors);
			putchar('\n');
		}
	}
	printf("\n   /nginx: the median of each repetition's ratio to nginx's "
	       "requests/s. The example\n   appends each file to the answer "
	       "with rope_append_file(); nginx sends it with\n   sendfile(2) "
	       "(tcp_nopush on). CPU/req: the server's user + system time "
	       "per request.\n\n");
}
