/* SPDX-License-Identifier: MIT */
/*
 * Scenario: HTTP/1.1 keep-alive servers under wrk. The example server
 * (tools/examples/http-server.c) on io_uring and on the fallback, its
 * libevent twin (tools/bench/httpd-libevent.c) and nginx (one worker,
 * servers.c), each a fresh process on a loopback port of its own, at 50,
 * 500 and 2,000 connections with 13-byte and 64 KiB bodies. wrk -t2 -cN
 * -dDs --latency --timeout 10s drives it; the order of the servers
 * rotates every repetition. Nothing is pinned: the server and wrk's two
 * threads share the machine's cores, as they would on a small host.
 *
 * Reported, medians over the repetitions: requests/s and their ratio to
 * nginx's, wrk's p50 and p99, and the server's CPU per request (user plus
 * system time from /proc/PID/stat over the run, over wrk's requests).
 * Then one shorter run of each, apart, under `perf stat -e
 * raw_syscalls:sys_enter`: the server's syscalls per request (apart,
 * because counting slows every syscall, and nginx makes more).
 *
 * The servers are found beside the bench executable, nginx and perf on the
 * PATH, wrk on the PATH. One missing: its rows say why; wrk missing: the
 * table says why.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

const int httpd_conns[HTTPD_CONNS] = { 50, 500, 2000 };
const size_t httpd_bodies[HTTPD_BODIES] = { 13, 64 * KiB };

#define HTTPD_REPS 15

struct httpd_run {
	int n;
	double rps[HTTPD_REPS], p50[HTTPD_REPS], p99[HTTPD_REPS];
	double cpu[HTTPD_REPS];  /* seconds per request */
	int rep[HTTPD_REPS];     /* the repetition of each run */
	double errors;           /* wrk's socket errors, the most of a run */
	double sys;              /* syscalls per request, the counted run */
	const char *skip;
};

static struct httpd_run runs[HTTPD_SERVERS][HTTPD_BODIES][HTTPD_CONNS];
static const char *httpd_skip;  /* why the whole table is missing */
static const char *sys_skip;    /* why syscalls were not counted */
static int httpd_seconds, sys_seconds;
static char load_before[64], load_after[64];

/* wrk's latency "  99%  6.50ms": seconds. */
double
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

/* wrk's "  123456 requests in 3.00s": the requests. */
double
wrk_requests(const char *out)
{
	const char *p = strstr(out, " requests in ");

	if (!p)
		return NAN;
	while (p > out && p[-1] != '\n')
		p--;
	return atof(p);
}

/* wrk's "Socket errors: connect 0, read 0, write 0, timeout 12": their
 * sum (a server that holds a connection past the timeout costs one). */
double
wrk_errors(const char *out)
{
	const char *p = strstr(out, "Socket errors:");
	int c = 0, r = 0, w = 0, t = 0;

	if (!p)
		return 0;
	sscanf(p, "Socket errors: connect %d, read %d, write %d, timeout %d",
	       &c, &r, &w, &t);
	return c + r + w + t;
}

void
load_read(char *out, size_t n)
{
	int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
	char buf[128] = "";
	double a = NAN, b = NAN;

	if (fd >= 0) {
		read_all(fd, buf, sizeof(buf));
		close(fd);
	}
	sscanf(buf, "%lf %lf", &a, &b);
	snprintf(out, n, "%.2f (1 min), %.2f (5 min)", a, b);
}

/* perf stat counting the server's syscalls for @seconds, to a file. */
static pid_t
perf_start(pid_t server, int seconds, char *file)
{
	char pid_arg[16], secs[16];
	const char *argv[] = { "perf", "stat", "-e", "raw_syscalls:sys_enter",
			       "-x", ",", "-o", file, "-p", pid_arg, "--",
			       "sleep", secs, NULL };
	int fd;
	pid_t pid;

	strcpy(file, "/tmp/ropeio-perf-XXXXXX");
	fd = mkstemp(file);
	if (fd < 0)
		return -1;
	close(fd);
	snprintf(pid_arg, sizeof(pid_arg), "%d", (int)server);
	snprintf(secs, sizeof(secs), "%d", seconds);
	pid = spawn(argv, false, &fd);
	close(fd);
	return pid;
}

/* The count perf wrote, or NAN. */
static double
perf_count(pid_t perf, const char *file)
{
	char buf[4096], *line;
	double v = NAN;
	int fd, status;

	waitpid(perf, &status, 0);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	unlink(file);
	if (fd < 0)
		return NAN;
	read_all(fd, buf, sizeof(buf));
	close(fd);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return NAN;
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		if (line[0] >= '0' && line[0] <= '9' &&
		    strstr(line, "raw_syscalls:sys_enter"))
			v = atof(line);
	return v;
}

const char *
wrk_measure(const char *const argv[], pid_t server, char *out, size_t size,
	    struct wrk_figures *f)
{
	double cpu0 = proc_cpu(server), cpu1;
	const char *p;
	int wfd, status;
	pid_t wrk = spawn(argv, false, &wfd);

	read_all(wfd, out, size);
	close(wfd);
	waitpid(wrk, &status, 0);
	cpu1 = proc_cpu(server);
	f->requests = wrk_requests(out);
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
		return "wrk did not run (install wrk)";
	if ((p = strstr(out, "Requests/sec:")) == NULL || !(f->requests > 0))
		return "wrk printed no figures";
	if (strstr(out, "Non-2xx"))
		return "wrk saw answers other than 200";
	f->rps = atof(p + strlen("Requests/sec:"));
	f->p50 = wrk_latency(out, " 50%");
	f->p99 = wrk_latency(out, " 99%");
	f->cpu = (cpu1 - cpu0) / f->requests;
	f->errors = wrk_errors(out);
	return NULL;
}

/* One server, one wrk run: 0, or why it failed. With @count_sys, the
 * run is the shorter one under perf, and only its syscalls are kept. */
static const char *
httpd_once(int kind, int b, int c, bool count_sys, int rep)
{
	struct httpd_run *r = &runs[kind][b][c];
	char url[64], c_arg[16], d_arg[16], out[8192], perf_file[64];
	const char *wrk_argv[] = { "wrk", "-t2", c_arg, d_arg, "--latency",
				   "--timeout", "10s", url, NULL };
	const char *why = NULL;
	struct wrk_figures f;
	struct server srv;
	pid_t perf = -1;

	if ((why = server_start(kind, httpd_bodies[b], &srv)))
		return why;
	if ((why = server_check(&srv, httpd_bodies[b]))) {
		server_stop(&srv);
		return why;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", srv.port);
	snprintf(c_arg, sizeof(c_arg), "-c%d", httpd_conns[c]);
	snprintf(d_arg, sizeof(d_arg), "-d%ds",
		 count_sys ? sys_seconds : httpd_seconds);
	if (count_sys) {
		/* perf counts from before wrk starts until after it ends;
		 * an idle server makes no syscalls in between. */
		perf = perf_start(srv.pid, sys_seconds + 1, perf_file);
		nanosleep(&(struct timespec){ 0, 300000000 }, NULL);
	}
	why = wrk_measure(wrk_argv, srv.pid, out, sizeof(out), &f);
	if (count_sys) {
		double n = perf > 0 ? perf_count(perf, perf_file) : NAN;

		if (!why)
			r->sys = n / f.requests;
	} else if (!why && r->n < HTTPD_REPS) {
		r->rps[r->n] = f.rps;
		r->p50[r->n] = f.p50;
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

static void
progress(int kind, int b, int c, const char *what)
{
	fprintf(stderr, "[%6.1fs] httpd%s: %s, %zu B, %d connections\n",
		now() - run_start, what, server_names[kind], httpd_bodies[b],
		httpd_conns[c]);
}

void
scen_httpd(int reps, int seconds)
{
	char version[256];
	struct rlimit rl;
	int wfd, status;
	pid_t pid;

	httpd_seconds = seconds;
	sys_seconds = seconds <= 3 ? 1 : 2;
	load_read(load_before, sizeof(load_before));
	for (int s = 0; s < HTTPD_SERVERS; s++)
		for (int b = 0; b < HTTPD_BODIES; b++)
			for (int c = 0; c < HTTPD_CONNS; c++)
				runs[s][b][c] = (struct httpd_run){
					.skip = server_skip[s], .sys = NAN };
	/* Is wrk here? */
	pid = spawn((const char *[]){ "wrk", "--version", NULL }, false, &wfd);
	read_all(wfd, version, sizeof(version));
	close(wfd);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) {
		httpd_skip = "wrk is not installed (apt-get install wrk)";
		return;
	}
	/* Can perf count syscalls? */
	pid = spawn((const char *[]){ "perf", "stat", "-e",
		    "raw_syscalls:sys_enter", "true", NULL }, false, &wfd);
	read_all(wfd, version, sizeof(version));
	close(wfd);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		sys_skip = "perf cannot count syscalls here (install "
			   "linux-perf; it needs perf_event_paranoid <= 1 or "
			   "root)";
	/* 2,000 connections: both ends of each in this machine's
	 * processes, which inherit the limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (int rep = 0; rep < reps && rep < HTTPD_REPS; rep++)
		for (int b = 0; b < HTTPD_BODIES; b++)
			for (int c = 0; c < HTTPD_CONNS; c++)
				for (int k = 0; k < HTTPD_SERVERS; k++) {
					int s = (k + rep) % HTTPD_SERVERS;
					struct httpd_run *r = &runs[s][b][c];
					const char *why;

					if (r->skip)
						continue;
					progress(s, b, c, "");
					why = httpd_once(s, b, c, false, rep);
					if (why)
						r->skip = why;
				}
	for (int b = 0; b < HTTPD_BODIES && !sys_skip; b++)
		for (int c = 0; c < HTTPD_CONNS; c++)
			for (int s = 0; s < HTTPD_SERVERS; s++) {
				if (runs[s][b][c].skip)
					continue;
				progress(s, b, c, ", syscalls counted");
				httpd_once(s, b, c, true, 0);
			}
	load_read(load_after, sizeof(load_after));
}

bool
httpd_result(int server, int body, int conns, struct httpd_fig *f)
{
	const struct httpd_run *r = &runs[server][body][conns];

	if (httpd_skip || r->skip || !r->n)
		return false;
	f->n = r->n;
	f->rps = median(r->rps, r->n);
	f->rps_min = f->rps_max = r->rps[0];
	for (int i = 1; i < r->n; i++) {
		f->rps_min = fmin(f->rps_min, r->rps[i]);
		f->rps_max = fmax(f->rps_max, r->rps[i]);
	}
	f->p50 = median(r->p50, r->n);
	f->p99 = median(r->p99, r->n);
	f->cpu = median(r->cpu, r->n);
	f->sys = r->sys;
	f->errors = r->errors;
	return true;
}

double
httpd_paired(int server, int ref, int body, int conns, bool cpu)
{
	const struct httpd_run *a = &runs[server][body][conns];
	const struct httpd_run *b = &runs[ref][body][conns];
	double v[HTTPD_REPS];
	int n = 0;

	if (httpd_skip || a->skip || b->skip)
		return NAN;
	for (int i = 0; i < a->n; i++)
		for (int j = 0; j < b->n; j++)
			if (a->rep[i] == b->rep[j])
				v[n++] = cpu ? a->cpu[i] / b->cpu[j] :
					 a->rps[i] / b->rps[j];
	return median(v, n);
}

void
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

static void
print_row(int s, int b, int c, const struct httpd_fig *ng)
{
	struct httpd_fig f;
	char a[16], p[16], vs[16] = "-", cvs[16] = "-", sys[16] = "?";

	if (!httpd_result(s, b, c, &f)) {
		printf("   %-36s %5d   skipped: %s\n", server_names[s],
		       httpd_conns[c], runs[s][b][c].skip ?
		       runs[s][b][c].skip : "no run");
		return;
	}
	fmt_latency(a, sizeof(a), f.p50);
	fmt_latency(p, sizeof(p), f.p99);
	if (ng) {
		snprintf(vs, sizeof(vs), "%.2fx",
			 httpd_paired(s, SRV_NGINX, b, c, false));
		snprintf(cvs, sizeof(cvs), "%.2fx",
			 httpd_paired(s, SRV_NGINX, b, c, true));
	}
	if (!isnan(f.sys))
		snprintf(sys, sizeof(sys), "%.2f", f.sys);
	printf("   %-36s %5d %9.0f %4.0f%% %6s %9s %9s %6.1f us %6s %6s",
	       server_names[s], httpd_conns[c], f.rps,
	       100 * (f.rps_max - f.rps_min) / f.rps, vs, a, p, f.cpu * 1e6,
	       cvs, sys);
	if (f.errors)
		printf("  (%.0f socket errors)", f.errors);
	putchar('\n');
}

void
print_httpd(int num)
{
	int n = 0;

	for (int s = 0; s < HTTPD_SERVERS && !n; s++)
		n = runs[s][0][0].n;
	printf("%d. HTTP/1.1 keep-alive servers under wrk -t2 -cN -d%ds "
	       "--latency\n   (%d run%s each, the servers' order rotating; "
	       "medians; nothing pinned)\n\n", num, httpd_seconds, n,
	       n == 1 ? "" : "s");
	if (httpd_skip) {
		printf("   skipped: %s\n\n", httpd_skip);
		return;
	}
	printf("   load average %s before, %s after\n\n", load_before,
	       load_after);
	for (int b = 0; b < HTTPD_BODIES; b++) {
		printf("   %zu-byte body\n   %-36s %5s %9s %5s %6s %9s %9s %9s "
		       "%6s %6s\n", httpd_bodies[b], "server", "conns",
		       "req/s", "range", "/nginx", "p50", "p99", "CPU/req",
		       "/nginx", "sys/req");
		for (int c = 0; c < HTTPD_CONNS; c++) {
			struct httpd_fig ng;
			bool has_ng = httpd_result(SRV_NGINX, b, c, &ng);

			for (int s = 0; s < HTTPD_SERVERS; s++)
				if (server_shown(s))
					print_row(s, b, c,
						  has_ng ? &ng : NULL);
		}
		putchar('\n');
	}
	printf("   range: the runs' highest requests/s less their lowest, "
	       "over the median.\n");
	printf("   CPU/req: the server's user + system time over the run "
	       "(/proc/PID/stat, io_uring's\n   workers included) per "
	       "request; sys/req: its syscalls per request, from one %ds "
	       "run\n   apart under perf stat. The example is "
	       "tools/examples/http-server.c, its twin\n   "
	       "tools/bench/httpd-libevent.c (the same parser and bytes); "
	       "nginx answers with the same\n   body (return 200; above 2 KiB "
	       "a file read into one 64 KiB buffer) and its own\n   headers. "
	       "/nginx: the median of each repetition's ratio, the two run "
	       "within\n   seconds of each other, so that a change in the "
	       "machine's load moves both.\n\n",
	       sys_seconds);
	if (sys_skip)
		printf("   syscalls not counted: %s\n\n", sys_skip);
}
