/* SPDX-License-Identifier: MIT */
/*
 * The proxy example, driven with real clients: http-server --root behind
 * it, and curl fetching 64 KiB, 1 MiB and 16 MiB files of random bytes
 * through it on one keep-alive connection, compared byte for byte; an
 * upload; wrk for two seconds at 50 connections; an echo server behind
 * it, to which 8 MiB go and come back through both flows at once
 * (back-pressure), then a half-close that must travel both ways; an
 * upstream that never reads, which must stop the client rather than grow
 * the proxy; an upstream that refuses; and a clean exit on SIGTERM with connections
 * open (status 0: under ASan a leak fails it). Each suite runs both
 * processes on io_uring, or both forced onto the fallback.
 *
 * Usage: test-proxy PROXY SERVER [CURL [WRK]]. An alarm ends a hang.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-net.h"

#define ECHO_BYTES (8u << 20)

static const char *proxy_path, *server_path, *curl_path, *wrk_path;
static char dir[64] = "/tmp/ropeio-proxy-XXXXXX", root[PATH_MAX];
static pid_t server, proxy;
static int proxy_port;
static bool fallback;

static const struct t_file files[] = {
	{ "f64k", 64 * 1024 },
	{ "f1m", 1024 * 1024 },
	{ "f16m", 16 * 1024 * 1024 },
};

/* A proxy in front of 127.0.0.1:@port, in the suite's mode. */
static int
proxy_start(int port, pid_t *pid)
{
	char up[16];
	const char *argv[] = { proxy_path, "127.0.0.1", "0", "127.0.0.1", up,
			       NULL };

	snprintf(up, sizeof(up), "%d", port);
	return t_start(argv, fallback, pid);
}

static void
test_curl_files(void)
{
	char cmd[4096], out[256], got[3][PATH_MAX + 16];
	int len;

	if (!curl_path) {
		printf("  [curl not found: skipped]\n");
		return;
	}
	len = snprintf(cmd, sizeof(cmd), "%s -s --max-time 30 -w "
		       "'%%{http_code} %%{num_connects} %%{size_download}\\n'",
		       curl_path);
	for (int i = 0; i < 3; i++) {
		snprintf(got[i], sizeof(got[i]), "%s/got%d", dir, i);
		len += snprintf(cmd + len, sizeof(cmd) - (size_t)len,
				" -o %s http://127.0.0.1:%d/%s", got[i],
				proxy_port, files[i].name);
	}
	CU_ASSERT_EQUAL_FATAL(t_run(cmd, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "200 1 65536\n200 0 1048576\n"
			       "200 0 16777216\n");
	for (int i = 0; i < 3; i++) {
		char want[PATH_MAX + 16];

		snprintf(want, sizeof(want), "%s/%s", root, files[i].name);
		CU_ASSERT(t_same_file(got[i], want));
		unlink(got[i]);
	}
}

/* 16 MiB up (the server skips a request's body), the answer down. */
static void
test_curl_upload(void)
{
	char cmd[PATH_MAX + 512], out[256];

	if (!curl_path) {
		printf("  [curl not found: skipped]\n");
		return;
	}
	snprintf(cmd, sizeof(cmd), "%s -s --max-time 30 -o /dev/null -w "
		 "'%%{http_code} %%{size_upload} %%{size_download}' "
		 "-H 'Expect:' --data-binary @%s/f16m "
		 "http://127.0.0.1:%d/f64k", curl_path, root, proxy_port);
	CU_ASSERT_EQUAL(t_run(cmd, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "200 16777216 65536");
}

static void
test_wrk(void)
{
	char cmd[1024], out[4096];

	if (!wrk_path) {
		printf("  [wrk not found: skipped]\n");
		return;
	}
	snprintf(cmd, sizeof(cmd), "%s -t2 -c50 -d2s --timeout 5s "
		 "http://127.0.0.1:%d/f64k", wrk_path, proxy_port);
	CU_ASSERT_EQUAL_FATAL(t_run(cmd, out, sizeof(out)), 0);
	/* Every answer a 200, no socket error, and some answers. */
	CU_ASSERT_PTR_NULL(strstr(out, "Non-2xx"));
	CU_ASSERT_PTR_NULL(strstr(out, "Socket errors"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Requests/sec:"));
	if (strstr(out, "Non-2xx") || strstr(out, "Socket errors"))
		fprintf(stderr, "%s", out);
}

/* An echo server for one connection: what comes in goes back; at the
 * end of the stream, the end goes back too. Returns its port. */
static int
echo_start(pid_t *pid)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(l, 1) < 0 || getsockname(l, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	*pid = fork();
	if (*pid == 0) {
		char buf[65536];
		int fd = accept(l, NULL, NULL);
		ssize_t n;

		while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			for (ssize_t off = 0, w; off < n; off += w)
				if ((w = write(fd, buf + off,
					       (size_t)(n - off))) <= 0)
					_exit(1);
		shutdown(fd, SHUT_WR);
		_exit(0);
	}
	close(l);
	return ntohs(sa.sin_port);
}

/* 8 MiB both ways at once through the proxy, then a half-close from the
 * client that comes back as the end of the echoed stream. */
static void
test_echo(void)
{
	unsigned char *src = malloc(ECHO_BYTES), *dst = malloc(ECHO_BYTES);
	size_t sent = 0, got = 0;
	pid_t echo = -1, p2 = -1;
	int eport, pport, fd = -1, status = -1;
	bool eof = false, shut = false;

	CU_ASSERT_FATAL(src && dst);
	for (size_t i = 0; i < ECHO_BYTES; i++)
		src[i] = (unsigned char)(i * 2654435761u >> 13);
	eport = echo_start(&echo);
	CU_ASSERT_FATAL(eport > 0);
	pport = proxy_start(eport, &p2);
	CU_ASSERT(pport > 0);
	if (pport > 0)
		fd = t_connect(pport);
	CU_ASSERT(fd >= 0);
	while (fd >= 0 && !eof) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (sent < ECHO_BYTES)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, 5000) <= 0)
			break;
		if (pfd.revents & POLLOUT) {
			n = send(fd, src + sent, ECHO_BYTES - sent,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			if (sent == ECHO_BYTES && !shut) {
				shutdown(fd, SHUT_WR);
				shut = true;
			}
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, dst + got, ECHO_BYTES - got + (got ==
				 ECHO_BYTES), MSG_DONTWAIT);
			if (n == 0)
				eof = true;
			else if (n > 0)
				got += (size_t)n;
			else if (errno != EAGAIN)
				break;
		}
	}
	CU_ASSERT_EQUAL(sent, ECHO_BYTES);
	CU_ASSERT_EQUAL(got, ECHO_BYTES);
	CU_ASSERT(eof);
	CU_ASSERT(got == ECHO_BYTES && !memcmp(src, dst, ECHO_BYTES));
	if (fd >= 0)
		close(fd);
	if (p2 > 0)
		CU_ASSERT_EQUAL(t_stop(p2), 0);
	if (echo > 0) {
		waitpid(echo, &status, 0);
		CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	free(src);
	free(dst);
}

/* An upstream that never reads: the client must come to a stop (TCP
 * flow control) after the sockets' buffers and the proxy's 1 MiB per
 * flow, rather than the proxy taking everything into memory. */
static void
test_backpressure(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port, fd;
	static char buf[1 << 16];
	size_t sent = 0, cap = 256u << 20;
	pid_t p2 = -1;

	/* The handshake completes in the backlog: no accept, no read. */
	CU_ASSERT_FATAL(l >= 0 && bind(l, (struct sockaddr *)&sa,
				      sizeof(sa)) == 0 && listen(l, 4) == 0 &&
			getsockname(l, (struct sockaddr *)&sa, &len) == 0);
	port = proxy_start(ntohs(sa.sin_port), &p2);
	CU_ASSERT(port > 0);
	fd = port > 0 ? t_connect(port) : -1;
	CU_ASSERT(fd >= 0);
	/* Write until nothing goes for half a second (or @cap went). */
	while (fd >= 0 && sent < cap) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t n;

		if (poll(&pfd, 1, 500) <= 0)
			break;
		n = send(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			break;
		if (n > 0)
			sent += (size_t)n;
	}
	/* The kernel's buffers on loopback hold some MiB each; the proxy
	 * adds at most about 2 MiB. 64 MiB is far above both. */
	printf("  [%zu MiB went before the client had to wait]\n",
	       sent >> 20);
	CU_ASSERT(sent < (64u << 20));
	if (fd >= 0)
		close(fd);
	if (p2 > 0)
		CU_ASSERT_EQUAL(t_stop(p2), 0);
	close(l);
}

/* An upstream that refuses: the client's connection is closed. */
static void
test_upstream_refuses(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port, fd;
	pid_t p2 = -1;
	char c;

	/* A port bound but not listening: connect(2) is refused. */
	CU_ASSERT_FATAL(l >= 0 && bind(l, (struct sockaddr *)&sa,
				      sizeof(sa)) == 0 &&
			getsockname(l, (struct sockaddr *)&sa, &len) == 0);
	port = proxy_start(ntohs(sa.sin_port), &p2);
	CU_ASSERT(port > 0);
	if (port > 0) {
		fd = t_connect(port);
		CU_ASSERT(fd >= 0);
		if (fd >= 0) {
			ssize_t n = recv(fd, &c, 1, 0);

			CU_ASSERT(n == 0 || (n < 0 && errno == ECONNRESET));
			close(fd);
		}
		CU_ASSERT_EQUAL(t_stop(p2), 0);
	}
	close(l);
}

static int
start(bool fb)
{
	const char *argv[] = { server_path, "--root", root, "127.0.0.1", "0",
			       NULL };
	int port;

	fallback = fb;
	port = t_start(argv, fallback, &server);
	if (port < 0)
		return -1;
	proxy_port = proxy_start(port, &proxy);
	return proxy_port > 0 ? 0 : -1;
}

static int init_ring(void) { return start(false); }
static int init_fallback(void) { return start(true); }

/* SIGTERM with connections open, one of them half a request: both
 * processes end cleanly, within 10 s. */
static int
clean_exit(void)
{
	int fds[3], status;

	for (int i = 0; i < 3; i++)
		fds[i] = t_connect(proxy_port);
	if (fds[0] >= 0)
		send(fds[0], "GET /f1m HTTP/1.1\r\nHo", 21, MSG_NOSIGNAL);
	usleep(100000);
	status = t_stop(proxy);
	if (status != 0)
		fprintf(stderr, "the proxy exited with %d\n", status);
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (t_stop(server) != 0) {
		fprintf(stderr, "the server did not exit cleanly\n");
		status = 1;
	}
	return status != 0;
}

int
main(int argc, char **argv)
{
	static const char *const names[] = {
		"proxy (io_uring)", "proxy (fallback)",
	};
	static int (*const inits[])(void) = { init_ring, init_fallback };
	static const struct t_case cases[] = {
		{ "curl, files byte for byte", test_curl_files },
		{ "curl, 16 MiB upload", test_curl_upload },
		{ "echo both ways, half-close", test_echo },
		{ "upstream never reads", test_backpressure },
		{ "upstream refuses", test_upstream_refuses },
		{ "wrk, 50 connections", test_wrk },
	};
	int status;

	if (argc < 3) {
		fprintf(stderr, "usage: %s PROXY SERVER [CURL [WRK]]\n",
			argv[0]);
		return 2;
	}
	proxy_path = argv[1];
	server_path = argv[2];
	curl_path = argc > 3 && argv[3][0] ? argv[3] : NULL;
	wrk_path = argc > 4 && argv[4][0] ? argv[4] : NULL;
	signal(SIGPIPE, SIG_IGN);
	if (t_loopback_down("proxy"))
		return 77;
	if (!t_make_root(dir, root, sizeof(root), files,
			 sizeof(files) / sizeof(files[0]))) {
		perror("the test's files");
		t_remove_tree(dir);
		return 99;
	}
	alarm(150);             /* a hang anywhere ends in SIGALRM */
	status = t_run_arms(names, inits, 2, clean_exit, cases,
			    sizeof(cases) / sizeof(cases[0]));
	t_remove_tree(dir);
	return status;
}
