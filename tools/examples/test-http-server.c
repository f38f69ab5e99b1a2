/* SPDX-License-Identifier: MIT */
/*
 * The HTTP example server, driven from outside as a user drives it: curl,
 * and a raw-socket client that checks every response byte for byte.
 * Keep-alive, pipelining, requests split byte by byte, bodies,
 * Connection: close, HTTP/1.0, bad requests, clients that leave
 * mid-request, 200 connections at once, and a clean exit on SIGTERM (exit
 * status 0: under ASan a leak fails it). Each suite starts its own server,
 * on io_uring and forced onto the fallback (ROPEIO_NO_URING=1).
 *
 * Usage: test-http-server SERVER [CURL [NAME]]. With NAME, one suite of
 * that name runs SERVER as it is: the tour's libevent twin passes the
 * same cases, which keeps its responses the example's byte for byte.
 * Every socket read has a 5 s timeout and the whole run an alarm, so a
 * server that hangs fails.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test-net.h"

#define OK_HEAD "HTTP/1.1 200 OK\r\nServer: ropeio\r\n" \
		"Content-Type: text/plain\r\nContent-Length: 13\r\n"
#define OK OK_HEAD "\r\nHello, world!"
#define OK_CLOSE OK_HEAD "Connection: close\r\n\r\nHello, world!"
#define OK_KEEP10 OK_HEAD "Connection: keep-alive\r\n\r\nHello, world!"
#define BAD "HTTP/1.1 400 Bad Request\r\nServer: ropeio\r\n" \
	    "Content-Type: text/plain\r\nContent-Length: 0\r\n" \
	    "Connection: close\r\n\r\n"
#define GET "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
#define CONNS 200

static const char *server_path, *curl_path;
static pid_t server;
static int port;

/* ------------------------------------------------------------------------ */
/* The server process                                                       */
/* ------------------------------------------------------------------------ */

/* Start the server on port 0 (with "--body @body" unless NULL),
 * @fallback forcing plain syscalls; keep the port it prints. */
static int
start(bool fallback, const char *body)
{
	const char *argv[] = { server_path, "--body", body, "127.0.0.1", "0",
			       NULL };
	const char *plain[] = { server_path, "127.0.0.1", "0", NULL };

	port = t_start(body ? argv : plain, fallback, &server);
	return port > 0 ? 0 : -1;
}

static int
stop(void)
{
	return t_stop(server);
}

/* ------------------------------------------------------------------------ */
/* A raw client                                                             */
/* ------------------------------------------------------------------------ */

/* A connection to the server; every write its own segment, for the split
 * requests. */
static int
client(void)
{
	int fd = t_connect(port), one = 1;

	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static bool
t_send(int fd, const char *s)
{
	size_t n = strlen(s);

	return send(fd, s, n, MSG_NOSIGNAL) == (ssize_t)n;
}

/* Read exactly strlen(@want) bytes and compare them; false on a
 * difference, a timeout or an early end. */
static bool
t_expect(int fd, const char *want)
{
	size_t n = strlen(want), got = 0;
	char *buf = malloc(n + 1);
	bool same;

	while (buf && got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	same = buf && got == n && !memcmp(buf, want, n);
	if (!same && buf)
		fprintf(stderr, "  got %zu of %zu bytes: %.*s\n", got, n,
			(int)got, buf);
	free(buf);
	return same;
}

/* Does the server close the connection (nothing more, then EOF)? */
static bool
t_eof(int fd)
{
	char c;

	return recv(fd, &c, 1, 0) == 0;
}

/* ------------------------------------------------------------------------ */
/* The cases                                                                */
/* ------------------------------------------------------------------------ */

static void
test_keep_alive(void)
{
	int fd = client();

	CU_ASSERT_FATAL(fd >= 0);
	for (int i = 0; i < 5; i++) {
		CU_ASSERT(t_send(fd, GET));
		CU_ASSERT(t_expect(fd, OK));
	}
	/* HEAD: the same head, no body (the next answer follows it). */
	CU_ASSERT(t_send(fd, "HEAD / HTTP/1.1\r\n\r\n" GET));
	CU_ASSERT(t_expect(fd, OK_HEAD "\r\n" OK));
	close(fd);
}

static void
test_pipelined(void)
{
	char req[16 * sizeof(GET) + 64] = "";
	int fd = client();

	CU_ASSERT_FATAL(fd >= 0);
	for (int i = 0; i < 15; i++)
		strcat(req, GET);
	/* A body, skipped, then the last request. */
	strcat(req, "POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde");
	strcat(req, GET);
	CU_ASSERT(t_send(fd, req));
	for (int i = 0; i < 17; i++)
		CU_ASSERT(t_expect(fd, OK));
	close(fd);
}

static void
test_split(void)
{
	const char *req = "POST /split HTTP/1.1\r\nHost: t\r\n"
			  "Content-Length: 7\r\n\r\n1234567" GET;
	int fd = client();

	CU_ASSERT_FATAL(fd >= 0);
	for (const char *p = req; *p; p++) {
		char one[2] = { *p, 0 };

		CU_ASSERT(t_send(fd, one));
		usleep(200);
	}
	CU_ASSERT(t_expect(fd, OK OK));
	close(fd);
}

static void
test_connection_close(void)
{
	int fd = client();

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(t_send(fd, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
	CU_ASSERT(t_expect(fd, OK_CLOSE));
	CU_ASSERT(t_eof(fd));
	close(fd);

	/* HTTP/1.0 closes unless asked to keep the connection. */
	fd = client();
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(t_send(fd, "GET / HTTP/1.0\r\n"
			 "Connection: Keep-Alive\r\n\r\n"));
	CU_ASSERT(t_expect(fd, OK_KEEP10));
	CU_ASSERT(t_send(fd, "GET / HTTP/1.0\r\n\r\n"));
	CU_ASSERT(t_expect(fd, OK_CLOSE));
	CU_ASSERT(t_eof(fd));
	close(fd);

	/* The end of the stream after a request: answered, then closed. */
	fd = client();
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(t_send(fd, GET GET));
	shutdown(fd, SHUT_WR);
	CU_ASSERT(t_expect(fd, OK OK));
	CU_ASSERT(t_eof(fd));
	close(fd);
}

static void
test_bad_requests(void)
{
	static const char *const bad[] = {
		"GARBAGE\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
		"GET / HTTP/1.1\r\nno colon\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = client();

		CU_ASSERT_FATAL(fd >= 0);
		/* A good request first: its answer comes before the 400. */
		CU_ASSERT(t_send(fd, GET));
		CU_ASSERT(t_send(fd, bad[i]));
		CU_ASSERT(t_expect(fd, OK BAD));
		CU_ASSERT(t_eof(fd));
		close(fd);
	}
}

static void
test_leave_mid_request(void)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int fd;

	/* Half a head, then gone; half a body, then reset. */
	fd = client();
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(t_send(fd, "GET / HTTP/1.1\r\nHo"));
	close(fd);
	fd = client();
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(t_send(fd, "POST / HTTP/1.1\r\n"
			 "Content-Length: 99\r\n\r\nab"));
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	/* Many requests, then gone without reading the answers. */
	fd = client();
	CU_ASSERT_FATAL(fd >= 0);
	for (int i = 0; i < 50; i++)
		CU_ASSERT(t_send(fd, GET));
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	/* The server goes on. */
	usleep(50000);
	fd = client();
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(t_send(fd, GET));
	CU_ASSERT(t_expect(fd, OK));
	close(fd);
}

static void
test_concurrent(void)
{
	int fds[CONNS], ok = 0;

	for (int i = 0; i < CONNS; i++)
		fds[i] = client();
	/* Every connection open at once; each asks in turn, four times. */
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < CONNS; i++)
			if (fds[i] >= 0 && !t_send(fds[i], GET))
				break;
		for (int i = 0; i < CONNS; i++)
			ok += fds[i] >= 0 && t_expect(fds[i], OK);
	}
	CU_ASSERT_EQUAL(ok, 4 * CONNS);
	for (int i = 0; i < CONNS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Run curl with @args and compare its stdout with @want. */
static void
t_curl(const char *args, const char *want)
{
	char cmd[1024], out[4096];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s -s --max-time 5 %s", curl_path, args);
	p = popen(cmd, "r");
	CU_ASSERT_FATAL(p != NULL);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	CU_ASSERT_EQUAL(pclose(p), 0);
	CU_ASSERT_STRING_EQUAL(out, want);
}

static void
test_curl(void)
{
	char args[512];

	if (!curl_path) {
		printf("  [curl not found: skipped]\n");
		return;
	}
	/* Three requests on one connection: one connect, then reuse. */
	snprintf(args, sizeof(args), "-w ' %%{http_code} %%{num_connects}\\n' "
		 "http://127.0.0.1:%d/a http://127.0.0.1:%d/b "
		 "-d hello http://127.0.0.1:%d/c", port, port, port);
	t_curl(args, "Hello, world! 200 1\nHello, world! 200 0\n"
		 "Hello, world! 200 0\n");
	snprintf(args, sizeof(args), "-I http://127.0.0.1:%d/", port);
	t_curl(args, "HTTP/1.1 200 OK\r\nServer: ropeio\r\n"
		 "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\n");
}

/* A large body, through curl: every byte, on io_uring and off. */
static void
test_large_body(bool fallback)
{
	char args[256], want[64];
	int status;

	CU_ASSERT_FATAL(stop() == 0);
	CU_ASSERT_FATAL(start(fallback, "1000000") == 0);
	if (curl_path) {
		snprintf(args, sizeof(args), "-o /dev/null -o /dev/null -w "
			 "'%%{size_download}' http://127.0.0.1:%d/ "
			 "http://127.0.0.1:%d/", port, port);
		snprintf(want, sizeof(want), "10000001000000");
		t_curl(args, want);
	}
	status = stop();
	CU_ASSERT_EQUAL(status, 0);
	CU_ASSERT_FATAL(start(fallback, NULL) == 0);
}

static void test_large_body_ring(void) { test_large_body(false); }
static void test_large_body_fallback(void) { test_large_body(true); }

static int init_ring(void) { return start(false, NULL); }
static int init_fallback(void) { return start(true, NULL); }

/* The suite's server ends cleanly: exit status 0, within 10 s. */
static int
clean_exit(void)
{
	int status = stop();

	if (status != 0)
		fprintf(stderr, "the server exited with %d\n", status);
	return status != 0;
}

int
main(int argc, char **argv)
{
	struct {
		const char *name;
		CU_InitializeFunc init;
		CU_TestFunc large;
	} arms[] = {
		{ "http-server (io_uring)", init_ring, test_large_body_ring },
		{ "http-server (fallback)", init_fallback,
		  test_large_body_fallback },
	};
	size_t narms = sizeof(arms) / sizeof(arms[0]);
	struct rlimit rl;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SERVER [CURL [NAME]]\n", argv[0]);
		return 2;
	}
	server_path = argv[1];
	curl_path = argc > 2 && argv[2][0] ? argv[2] : NULL;
	if (argc > 3) {
		arms[0].name = argv[3];
		narms = 1;
	}
	/* 200 connections and their server ends. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024) {
		rl.rlim_cur = rl.rlim_max < 1024 ? rl.rlim_max : 1024;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	if (t_loopback_down("http-server"))
		return 77;
	alarm(120);             /* a hang anywhere ends in SIGALRM */
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	for (size_t i = 0; i < narms; i++) {
		CU_pSuite s = CU_add_suite(arms[i].name, arms[i].init,
					   clean_exit);

		CU_add_test(s, "keep-alive", test_keep_alive);
		CU_add_test(s, "pipelined", test_pipelined);
		CU_add_test(s, "split byte by byte", test_split);
		CU_add_test(s, "Connection: close", test_connection_close);
		CU_add_test(s, "bad requests", test_bad_requests);
		CU_add_test(s, "leave mid-request", test_leave_mid_request);
		CU_add_test(s, "200 connections", test_concurrent);
		CU_add_test(s, "curl", test_curl);
		CU_add_test(s, "large body, exit", arms[i].large);
	}
	return t_run_registered();
}
