/* SPDX-License-Identifier: MIT */
/*
 * Scenario: the HTTP example server (tools/examples/http-server.c) under
 * wrk, beside the same server on libevent's bufferevent
 * (tools/bench/httpd-libevent.c). Each server is a fresh process on a
 * port of its own; wrk -t2 -cN -dDs --latency runs against it at 50 and
 * 500 connections, the order of the servers rotating every repetition.
 * Nothing is pinned: the server and wrk's two threads share the machine's
 * cores, as they would on a small host. Reported: requests/s and wrk's
 * p50 and p99 latency, medians over the repetitions.
 *
 * The servers are found beside the bench executable; wrk on the PATH.
 * Either missing: the table says why and the targets are not measured.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define HTTPD_REPS 9

static const char *const server_names[HTTPD_SERVERS] = {
	"ropeio engine, io_uring",
	"ropeio engine, fallback (ROPEIO_NO_URING=1)",
	"libevent bufferevent",
};

static const int conn_counts[HTTPD_CONNS] = { 50, 500 };

struct httpd_run {
	int n;
	double rps[HTTPD_REPS], p50[HTTPD_REPS], p99[HTTPD_REPS];
	const char *skip;
};

static struct httpd_run runs[HTTPD_SERVERS][HTTPD_CONNS];
static const char *httpd_skip;  /* why the whole table is missing */
static int httpd_seconds;

/* The executable @name in the bench's own directory (or below it). */
static bool
beside_bench(char *out, size_t n, const char *name)
{
	char self[PATH_MAX - 64];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (len <= 0)
		return false;
	self[len] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return false;
	*slash = '\0';
	snprintf(out, n, "%s/%s", self, name);
	return access(out, X_OK) == 0;
}

/* Start @argv with its stdout on a pipe (*@fd) and its stderr on
 * /dev/null; @no_uring sets ROPEIO_NO_URING=1 in the child. */
static pid_t
spawn(const char *const argv[], bool no_uring, int *fd)
{
	int p[2];
	pid_t pid;

	if (pipe(p) < 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(p[1], 1);
		if (null >= 0)
			dup2(null, 2);
		close(p[0]);
		close(p[1]);
		if (no_uring)
			setenv("ROPEIO_NO_URING", "1", 1);
		else
			unsetenv("ROPEIO_NO_URING");
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	*fd = p[0];
	return pid;
}

static size_t
read_all(int fd, char *out, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got + 1 < n && (r = read(fd, out + got, n - 1 - got)) > 0)
		got += (size_t)r;
	out[got] = '\0';
	return got;
}

/* wrk's latency "  99%  6.50ms": seconds. */
static double
wrk_latency(const char *out, const char *pct)
{
	const char *p = strstr(out, pct);
	char unit[8] = "";
	double v;

	if (!p || sscanf(p + strlen(pct), "%lf%7s", &v, unit) != 2)
		return NAN;
	if (!strcmp(unit, "us"))
		return v * 1e-6;
	if (!strcmp(unit, "ms"))
		return v * 1e-3;
	if (!strcmp(unit, "s"))
		return v;
	if (!strcmp(unit, "m"))
		return v * 60;
	return NAN;
}

/* One server, one wrk run: 0, or why it failed. */
static const char *
httpd_once(const char *path, bool no_uring, int conns, struct httpd_run *r)
{
	char port[16] = "", url[64], c_arg[16], d_arg[16], out[8192];
	const char *srv_argv[] = { path, "127.0.0.1", "0", NULL };
	const char *wrk_argv[] = { "wrk", "-t2", c_arg, d_arg, "--latency", url,
			     NULL };
	const char *why = NULL, *p;
	int sfd, wfd, status;
	pid_t srv, wrk;

	srv = spawn(srv_argv, no_uring, &sfd);
	/* The port, one line: the server keeps its stdout open. */
	if (read(sfd, port, sizeof(port) - 1) <= 0 || atoi(port) <= 0) {
		close(sfd);
		kill(srv, SIGKILL);
		waitpid(srv, NULL, 0);
		return "the server did not start";
	}
	close(sfd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", atoi(port));
	snprintf(c_arg, sizeof(c_arg), "-c%d", conns);
	snprintf(d_arg, sizeof(d_arg), "-d%ds", httpd_seconds);
	wrk = spawn(wrk_argv, false, &wfd);
	read_all(wfd, out, sizeof(out));
	close(wfd);
	waitpid(wrk, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
		why = "wrk did not run (install wrk)";
	else if ((p = strstr(out, "Requests/sec:")) == NULL)
		why = "wrk printed no figures";
	else if (strstr(out, "Non-2xx") || strstr(out, "Socket errors"))
		why = "wrk saw errors";
	if (!why && r->n < HTTPD_REPS) {
		r->rps[r->n] = atof(p + strlen("Requests/sec:"));
		r->p50[r->n] = wrk_latency(out, " 50%");
		r->p99[r->n] = wrk_latency(out, " 99%");
		r->n++;
	}
	kill(srv, SIGTERM);
	waitpid(srv, &status, 0);
	if (!why && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		why = "the server did not exit cleanly";
	return why;
}

void
scen_httpd(int reps, int seconds)
{
	char paths[HTTPD_SERVERS][PATH_MAX];
	bool found[HTTPD_SERVERS];
	char version[256];
	struct rlimit rl;
	int wfd, status;
	pid_t pid;

	httpd_seconds = seconds;
	found[0] = found[1] = beside_bench(paths[0], PATH_MAX,
					   "examples/http-server");
	strcpy(paths[1], paths[0]);
	found[2] = beside_bench(paths[2], PATH_MAX, "httpd-libevent");
	for (int s = 0; s < HTTPD_SERVERS; s++)
		for (int c = 0; c < HTTPD_CONNS; c++)
			runs[s][c].skip = !found[s] ? (s == 2 ? SKIP_LIBEVENT :
				SKIP_URING) : NULL;
	/* Is wrk here? */
	pid = spawn((const char *[]){ "wrk", "--version", NULL }, false, &wfd);
	read_all(wfd, version, sizeof(version));
	close(wfd);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) {
		httpd_skip = "wrk is not installed (apt-get install wrk)";
		return;
	}
	/* 500 connections: both ends of each in this machine's processes. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (int rep = 0; rep < reps && rep < HTTPD_REPS; rep++) {
		for (int c = 0; c < HTTPD_CONNS; c++) {
			for (int k = 0; k < HTTPD_SERVERS; k++) {
				int s = (k + rep) % HTTPD_SERVERS;
				const char *why;

				if (runs[s][c].skip)
					continue;
				fprintf(stderr, "[%6.1fs] httpd: %s, %d "
					"connections\n", now() - run_start,
					server_names[s], conn_counts[c]);
				why = httpd_once(paths[s], s == 1,
						 conn_counts[c], &runs[s][c]);
				if (why)
					runs[s][c].skip = why;
			}
		}
	}
}

bool
httpd_result(int server, int conns, double *rps, double *p50, double *p99)
{
	const struct httpd_run *r = &runs[server][conns];

	if (httpd_skip || r->skip || !r->n)
		return false;
	*rps = median(r->rps, r->n);
	*p50 = median(r->p50, r->n);
	*p99 = median(r->p99, r->n);
	return true;
}

static void
fmt_latency(char *out, size_t n, double s)
{
	if (isnan(s))
		snprintf(out, n, "?");
	else if (s < 1e-3)
		snprintf(out, n, "%.0f us", s * 1e6);
	else if (s < 1)
		snprintf(out, n, "%.2f ms", s * 1e3);
	else
		snprintf(out, n, "%.2f s", s);
}

void
print_httpd(int num)
{
	int n = runs[2][0].n ? runs[2][0].n : runs[0][0].n;

	printf("%d. HTTP/1.1 keep-alive server under wrk -t2 -cN -d%ds "
	       "--latency (%d run%s; 13-byte body; nothing pinned)\n\n",
	       num, httpd_seconds, n, n == 1 ? "" : "s");
	if (httpd_skip) {
		printf("   skipped: %s\n\n", httpd_skip);
		return;
	}
	printf("   %-44s %5s %11s %10s %10s %8s\n", "server", "conns",
	       "requests/s", "p50", "p99", "vs libev");
	for (int c = 0; c < HTTPD_CONNS; c++) {
		double lrps = NAN, l50, l99;

		if (!httpd_result(2, c, &lrps, &l50, &l99))
			lrps = NAN;
		for (int s = 0; s < HTTPD_SERVERS; s++) {
			double rps, p50, p99;
			char a[16], b[16];

			if (!httpd_result(s, c, &rps, &p50, &p99)) {
				printf("   %-44s %5d   skipped: %s\n",
				       server_names[s], conn_counts[c],
				       runs[s][c].skip ? runs[s][c].skip :
				       "no run");
				continue;
			}
			fmt_latency(a, sizeof(a), p50);
			fmt_latency(b, sizeof(b), p99);
			printf("   %-44s %5d %11.0f %10s %10s %7.2fx\n",
			       server_names[s], conn_counts[c], rps, a, b,
			       rps / lrps);
		}
	}
	printf("\n   The engine's server is tools/examples/http-server.c; "
	       "libevent's is\n   tools/bench/httpd-libevent.c: the same "
	       "parser and responses, byte for byte.\n\n");
}
