/* SPDX-License-Identifier: MIT */
/*
 * Scenario: memory per idle keep-alive connection. Each HTTP server of
 * servers.c (13-byte body) answers one request, then IDLE_CONNS
 * connections that each send one request, read its answer and stay open;
 * the server's resident set (VmRSS) over what it was after that first
 * request, divided by the connections, is what one idle connection costs
 * it. The kernel's socket buffers are not in it: only what the server
 * itself holds.
 *
 * wrk cannot hold connections idle, so the client is here: blocking
 * sockets opened in batches (a batch fits every server's listen backlog),
 * each batch's requests sent, then their answers read. It needs a
 * descriptor per connection here, and the server one: the limit is raised
 * to its hard limit, and a hard limit too low for the count says so
 * instead of measuring fewer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define IDLE_REPS 5
#define IDLE_BATCH 100

struct idle_run {
	int n;
	double per[IDLE_REPS], before[IDLE_REPS], after[IDLE_REPS];
	const char *skip;
};

static struct idle_run idle_runs[HTTPD_SERVERS];
static const char *idle_skip;
static int idle_conns;

/* Open [@from, @to) of @fds, each with one request answered. */
static const char *
idle_batch(int port, int *fds, int from, int to)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

	for (int i = from; i < to; i++)
		if ((fds[i] = port_connect(port)) < 0)
			return "a connection was refused";
	for (int i = from; i < to; i++)
		if (write(fds[i], req, sizeof(req) - 1) != sizeof(req) - 1)
			return "a request could not be sent";
	for (int i = from; i < to; i++) {
		char buf[1024];
		size_t body;

		if (http_answer(fds[i], buf, sizeof(buf), &body) < 0)
			return "an answer was missing or not 200";
	}
	return NULL;
}

static const char *
idle_once(int kind, int *fds)
{
	struct idle_run *r = &idle_runs[kind];
	struct timespec settle = { 0, 500000000 };
	const char *why;
	struct server srv;
	double before, after;
	int open = 0;

	if ((why = server_start(kind, 13, &srv)))
		return why;
	/* The first request sets up what any number of connections share. */
	why = idle_batch(srv.port, fds, 0, 1);
	if (fds[0] >= 0)
		close(fds[0]);
	nanosleep(&settle, NULL);
	before = proc_rss(srv.pid);
	while (!why && open < idle_conns) {
		int to = MIN(open + IDLE_BATCH, idle_conns);

		why = idle_batch(srv.port, fds, open, to);
		open = to;
	}
	nanosleep(&settle, NULL);
	after = proc_rss(srv.pid);
	for (int i = 0; i < open; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (!server_stop(&srv) && !why)
		why = "the server did not exit cleanly";
	if (!why && r->n < IDLE_REPS) {
		r->before[r->n] = before;
		r->after[r->n] = after;
		r->per[r->n++] = (after - before) / idle_conns;
	}
	return why;
}

void
scen_idle(int conns, int reps)
{
	struct rlimit rl;
	int *fds;

	idle_conns = conns;
	for (int s = 0; s < HTTPD_SERVERS; s++)
		idle_runs[s] = (struct idle_run){ .skip = server_skip[s] };
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Every server holds one descriptor per connection. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 ||
	    rl.rlim_cur < (rlim_t)conns + 64) {
		idle_skip = "the descriptor limit is too low (ulimit -Hn must "
			    "be at least the connections, and 64)";
		return;
	}
	fds = malloc((size_t)conns * sizeof(*fds));
	if (!fds)
		die("malloc");
	for (int rep = 0; rep < reps && rep < IDLE_REPS; rep++) {
		for (int k = 0; k < HTTPD_SERVERS; k++) {
			int s = (k + rep) % HTTPD_SERVERS;
			const char *why;

			if (idle_runs[s].skip)
				continue;
			fprintf(stderr, "[%6.1fs] idle: %s, %d connections\n",
				now() - run_start, server_names[s], conns);
			if ((why = idle_once(s, fds)))
				idle_runs[s].skip = why;
		}
	}
	free(fds);
}

double
idle_result(int server)
{
	const struct idle_run *r = &idle_runs[server];

	if (idle_skip || r->skip || !r->n)
		return NAN;
	return median(r->per, r->n);
}

void
print_idle(int num)
{
	int n = 0;

	for (int s = 0; s < HTTPD_SERVERS && !n; s++)
		n = idle_runs[s].n;
	printf("%d. %d idle keep-alive connections, one request each: the "
	       "server's resident set\n   (VmRSS) over its own after one "
	       "request (%d run%s; medians)\n\n", num, idle_conns, n,
	       n == 1 ? "" : "s");
	if (idle_skip) {
		printf("   skipped: %s\n\n", idle_skip);
		return;
	}
	printf("   %-36s %12s %12s %12s\n", "server", "before", "after",
	       "per conn.");
	for (int s = 0; s < HTTPD_SERVERS; s++) {
		const struct idle_run *r = &idle_runs[s];

		if (!server_shown(s))
			continue;
		if (isnan(idle_result(s))) {
			printf("   %-36s skipped: %s\n", server_names[s],
			       r->skip ? r->skip : "no run");
			continue;
		}
		printf("   %-36s %9.1f MiB %9.1f MiB %10.0f B\n",
		       server_names[s], median(r->before, r->n) / MiB,
		       median(r->after, r->n) / MiB, idle_result(s));
	}
	printf("\n   The kernel's socket buffers are not counted: only what "
	       "each server holds itself.\n\n");
}
