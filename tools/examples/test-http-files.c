/* SPDX-License-Identifier: MIT */
/*
 * The HTTP example server's static files (http-server --root DIR), driven
 * as a user drives it: curl fetches 64 KiB, 1 MiB and 16 MiB files of
 * random bytes on one keep-alive connection, compared byte for byte with
 * the files; a raw client asks for what must not be served (missing
 * files, directories, ".." in every spelling, absolute paths) and for
 * HEAD. Each suite starts its own server, on io_uring and forced onto the
 * fallback (ROPEIO_NO_URING=1), and checks that it exits cleanly on
 * SIGTERM (status 0: under ASan a leak fails it).
 *
 * Usage: test-http-files SERVER [CURL]. An alarm ends a hang.
 */
#include <CUnit/Basic.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-net.h"

static const char *server_path, *curl_path;
static char dir[64] = "/tmp/ropeio-files-XXXXXX", root[PATH_MAX];
static pid_t server;
static int port;

static const struct t_file files[] = {
	{ "f64k", 64 * 1024 },
	{ "f1m", 1024 * 1024 },
	{ "sub/f16m", 16 * 1024 * 1024 },
	{ "empty", 0 },
};

/* Send @req on a new connection; read the answer until the server closes
 * (every request here says Connection: close) into @out, or its first
 * @size - 1 bytes. */
static bool
t_ask(const char *req, char *out, size_t size)
{
	int fd = t_connect(port);
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return false;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		close(fd);
		return false;
	}
	while (got + 1 < size && (n = recv(fd, out + got, size - 1 - got, 0)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
	return n == 0 || got + 1 == size;
}

/* The status line of the answer to GET @target, or "" */
static void
t_status(const char *method, const char *target, char *status, size_t n)
{
	char req[512], out[1024];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: t\r\n"
		 "Connection: close\r\n\r\n", method, target);
	status[0] = '\0';
	if (t_ask(req, out, sizeof(out)))
		snprintf(status, n, "%.*s", (int)strcspn(out, "\r"), out);
}

static void
test_files_byte_exact(void)
{
	char cmd[4096], out[256], got[3][PATH_MAX + 16];
	int len = 0;

	if (!curl_path) {
		printf("  [curl not found: skipped]\n");
		return;
	}
	/* The three files on one connection: one connect, then reuse. */
	len = snprintf(cmd, sizeof(cmd), "%s -s --max-time 30 -w "
		       "'%%{http_code} %%{num_connects} %%{size_download}\\n'",
		       curl_path);
	for (int i = 0; i < 3; i++) {
		snprintf(got[i], sizeof(got[i]), "%s/got%d", dir, i);
		len += snprintf(cmd + len, sizeof(cmd) - (size_t)len,
				" -o %s http://127.0.0.1:%d/%s", got[i], port,
				files[i].name);
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

static void
test_files_refused(void)
{
	static const struct { const char *target, *status; } cases[] = {
		{ "/missing", "HTTP/1.1 404 Not Found" },
		{ "/sub", "HTTP/1.1 404 Not Found" },        /* a directory */
		{ "/", "HTTP/1.1 404 Not Found" },
		{ "/sub/", "HTTP/1.1 404 Not Found" },
		{ "/../secret", "HTTP/1.1 403 Forbidden" },
		{ "/sub/../../secret", "HTTP/1.1 403 Forbidden" },
		{ "/sub/..", "HTTP/1.1 403 Forbidden" },
		{ "/%2e%2e/secret", "HTTP/1.1 403 Forbidden" },
		{ "/sub/%2E%2e/f64k", "HTTP/1.1 403 Forbidden" },
		{ "/..%2fsecret", "HTTP/1.1 403 Forbidden" },
		/* Absolute: under the root, not the machine's /. */
		{ "//etc/passwd", "HTTP/1.1 404 Not Found" },
		{ "/%2fetc/passwd", "HTTP/1.1 404 Not Found" },
		{ "/f64k%00", "HTTP/1.1 400 Bad Request" },
		{ "/f64k%zz", "HTTP/1.1 400 Bad Request" },
		{ "f64k", "HTTP/1.1 400 Bad Request" },
		/* What is served: a query ignored, escapes decoded. */
		{ "/f64k?x=1", "HTTP/1.1 200 OK" },
		{ "/%66%36%34k", "HTTP/1.1 200 OK" },
		{ "/sub/./f16m", "HTTP/1.1 200 OK" },
		{ "/empty", "HTTP/1.1 200 OK" },
	};
	char status[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t_status("GET", cases[i].target, status, sizeof(status));
		if (strcmp(status, cases[i].status))
			fprintf(stderr, "  %s: %s\n", cases[i].target, status);
		CU_ASSERT_STRING_EQUAL(status, cases[i].status);
	}
}

static void
test_files_head(void)
{
	char out[1024];

	/* HEAD: the file's length, no body, and the answer to the next
	 * request on the same connection right after it. */
	CU_ASSERT(t_ask("HEAD /f1m HTTP/1.1\r\n\r\n"
			"GET /empty HTTP/1.1\r\nConnection: close\r\n\r\n",
			out, sizeof(out)));
	CU_ASSERT_STRING_EQUAL(out,
		"HTTP/1.1 200 OK\r\nServer: ropeio\r\n"
		"Content-Type: application/octet-stream\r\n"
		"Content-Length: 1048576\r\n\r\n"
		"HTTP/1.1 200 OK\r\nServer: ropeio\r\n"
		"Content-Type: application/octet-stream\r\n"
		"Content-Length: 0\r\nConnection: close\r\n\r\n");
	CU_ASSERT(t_ask("GET /nope HTTP/1.0\r\n\r\n", out, sizeof(out)));
	CU_ASSERT_STRING_EQUAL(out,
		"HTTP/1.1 404 Not Found\r\nServer: ropeio\r\n"
		"Content-Type: text/plain\r\nContent-Length: 13\r\n"
		"Connection: close\r\n\r\n404 Not Found");
}

static int
unlink_under_root(const char *name)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	return unlink(path);
}

/* The body of the answer to GET @target (Connection: close), or "". */
static void
t_body(const char *target, char *body, size_t n)
{
	char req[256], out[1024], *p;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nConnection: close"
		 "\r\n\r\n", target);
	body[0] = '\0';
	if (t_ask(req, out, sizeof(out)) && (p = strstr(out, "\r\n\r\n")))
		snprintf(body, n, "%s", p + 4);
}

/* Write @text to @name under the root: in place, or by a rename over it. */
static bool
t_put(const char *name, const char *text, bool rename_over)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(rename_over ? tmp : path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f))
		return false;
	return !rename_over || rename(tmp, path) == 0;
}

/* The server keeps files it served: one replaced, changed in place (a
 * later time) or removed is seen as it is now. */
static void
test_files_changed(void)
{
	char body[256];

	CU_ASSERT_FATAL(t_put("changing", "first", false));
	t_body("/changing", body, sizeof(body));
	CU_ASSERT_STRING_EQUAL(body, "first");
	CU_ASSERT(t_put("changing", "second, longer", true));
	t_body("/changing", body, sizeof(body));
	CU_ASSERT_STRING_EQUAL(body, "second, longer");
	usleep(20000);  /* a later time, even on coarse clocks; the same size */
	CU_ASSERT(t_put("changing", "third, longer!", false));
	t_body("/changing", body, sizeof(body));
	CU_ASSERT_STRING_EQUAL(body, "third, longer!");
	CU_ASSERT(t_put("changing", "fourth, equal!", true));
	t_body("/changing", body, sizeof(body));
	CU_ASSERT_STRING_EQUAL(body, "fourth, equal!");
	CU_ASSERT(unlink_under_root("changing") == 0);
	t_body("/changing", body, sizeof(body));
	CU_ASSERT_STRING_EQUAL(body, "404 Not Found");
}

static int
start(bool fallback)
{
	const char *argv[] = { server_path, "--root", root, "127.0.0.1", "0",
			       NULL };

	port = t_start(argv, fallback, &server);
	return port > 0 ? 0 : -1;
}

static int init_ring(void) { return start(false); }
static int init_fallback(void) { return start(true); }

static int
clean_exit(void)
{
	int status = t_stop(server);

	if (status != 0)
		fprintf(stderr, "the server exited with %d\n", status);
	return status != 0;
}

/* The files: random bytes, and a secret beside the root. */
static bool
make_tree(void)
{
	char path[PATH_MAX + 32];

	if (!t_make_root(dir, root, sizeof(root), files,
			 sizeof(files) / sizeof(files[0])))
		return false;
	snprintf(path, sizeof(path), "%s/secret", dir);
	return t_random_file(path, 10);
}

int
main(int argc, char **argv)
{
	static const char *const names[] = {
		"http-server --root (io_uring)", "http-server --root (fallback)",
	};
	static int (*const inits[])(void) = { init_ring, init_fallback };
	static const struct t_case cases[] = {
		{ "files byte for byte", test_files_byte_exact },
		{ "refused and missing", test_files_refused },
		{ "HEAD, HTTP/1.0", test_files_head },
		{ "files changed", test_files_changed },
	};
	int status;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SERVER [CURL]\n", argv[0]);
		return 2;
	}
	server_path = argv[1];
	curl_path = argc > 2 && argv[2][0] ? argv[2] : NULL;
	signal(SIGPIPE, SIG_IGN);
	if (t_loopback_down("http-files"))
		return 77;
	if (!make_tree()) {
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
