/* SPDX-License-Identifier: MIT */
/*
 * The HTTP servers the tour puts side by side, started and stopped as
 * processes of their own: the example server (tools/examples/http-server.c)
 * on io_uring and on the fallback, its libevent twin
 * (tools/bench/httpd-libevent.c) and nginx. What the tour reads of a
 * running server comes from /proc: its CPU time and its resident set.
 *
 * nginx runs as one process (master_process off, so the one process is
 * the worker) with a configuration written to a temporary directory: a
 * free loopback port, no access log, keep-alive without a request limit,
 * and the example's body. A body that fits a configuration token (nginx
 * cuts them at 4 KiB) is `return 200 "..."`; a larger one is a file in
 * that directory, kept open (open_file_cache) and read into one 64 KiB
 * output buffer: on loopback that ran at about 1.8x the requests/s of
 * sendfile with tcp_nopush (64 KiB, 50 connections, 5 alternations), so
 * nginx gets its faster way. nginx's own headers (Date, Server,
 * Connection, and Last-Modified for a file) stay: the same body, not the
 * same head.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

const char *const server_names[HTTPD_SERVERS] = {
	[SRV_URING] = "example server, engine on io_uring",
	[SRV_FALLBACK] = "example server, engine fallback",
	[SRV_LIBEVENT] = "libevent twin (bufferevent)",
	[SRV_NGINX] = "nginx, one worker",
	[SRV_ALT_URING] = "--httpd-alt server on io_uring",
	[SRV_ALT_FALLBACK] = "--httpd-alt server, fallback",
};

static char paths[HTTPD_SERVERS][PATH_MAX];
const char *server_skip[HTTPD_SERVERS];
const char *server_alt_args[8];
static const char NOT_ASKED[] = "no --httpd-alt";

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

/* @name on the PATH, or in the sbin directories a user's PATH may lack. */
static bool
on_path(char *out, size_t n, const char *name)
{
	char buf[4096];
	const char *path = getenv("PATH");

	snprintf(buf, sizeof(buf), "%s:/usr/sbin:/sbin:/usr/local/sbin",
		 path ? path : "/usr/bin:/bin");
	for (char *dir = strtok(buf, ":"); dir; dir = strtok(NULL, ":")) {
		snprintf(out, n, "%s/%s", dir, name);
		if (access(out, X_OK) == 0)
			return true;
	}
	return false;
}

void
servers_find(const char *example, const char *alt)
{
	bool example_found;

	if (example) {
		snprintf(paths[SRV_URING], PATH_MAX, "%s", example);
		example_found = access(example, X_OK) == 0;
	} else {
		example_found = beside_bench(paths[SRV_URING], PATH_MAX,
					     "examples/http-server");
	}
	strcpy(paths[SRV_FALLBACK], paths[SRV_URING]);
	server_skip[SRV_URING] = server_skip[SRV_FALLBACK] =
		example_found ? NULL : example ? "--httpd: not an executable" :
		SKIP_URING;
	server_skip[SRV_LIBEVENT] = beside_bench(paths[SRV_LIBEVENT],
		PATH_MAX, "httpd-libevent") ? NULL : SKIP_LIBEVENT;
	server_skip[SRV_NGINX] = on_path(paths[SRV_NGINX], PATH_MAX, "nginx") ?
		NULL : "nginx is not installed (apt-get install nginx-light)";
	snprintf(paths[SRV_ALT_URING], PATH_MAX, "%s", alt ? alt : "");
	strcpy(paths[SRV_ALT_FALLBACK], paths[SRV_ALT_URING]);
	server_skip[SRV_ALT_URING] = server_skip[SRV_ALT_FALLBACK] = !alt ?
		NOT_ASKED : access(alt, X_OK) == 0 ? NULL :
		"--httpd-alt: not an executable";
}

bool
server_shown(int kind)
{
	return server_skip[kind] != NOT_ASKED;
}

pid_t
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

		/* A server must not outlive a bench that dies or is
		 * interrupted. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
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

size_t
read_all(int fd, char *out, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got + 1 < n && (r = read(fd, out + got, n - 1 - got)) > 0)
		got += (size_t)r;
	out[got] = '\0';
	return got;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* A loopback port free now (nginx is told a port; it cannot print one). */
static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int
port_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static bool
port_open(int port)
{
	int fd = port_connect(port);

	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

int
http_answer(int fd, char *buf, size_t size, size_t *body)
{
	char *end, *cl;
	size_t got = 0, head;
	ssize_t n;

	for (;;) {
		n = read(fd, buf + got, size - 1 - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		cl = strcasestr(buf, "\r\nContent-Length:");
		if (end && cl && cl < end) {
			head = (size_t)(end + 4 - buf);
			*body = strtoul(cl + 17, NULL, 10);
			if (got >= head + *body)
				return strncmp(buf, "HTTP/1.1 200 ", 13) ?
				       -1 : (int)head;
		}
		if (got + 1 == size)
			return -1;
	}
}

const char *
server_check(const struct server *s, size_t body)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	size_t size = body + 4096, len;
	char *buf = malloc(size);
	const char *why = NULL;
	int fd = port_connect(s->port), head = -1;

	if (buf && fd >= 0 && write(fd, req, sizeof(req) - 1) ==
	    sizeof(req) - 1)
		head = http_answer(fd, buf, size, &len);
	if (head < 0)
		why = "no 200 answer to a GET";
	for (size_t i = 0; !why && i < body; i++)
		if (len != body || buf[head + i] != "Hello, world!"[i % 13])
			why = "its body is not the example's";
	if (fd >= 0)
		close(fd);
	free(buf);
	return why;
}

/* The body every server sends: "Hello, world!" repeated or cut to @n
 * bytes, as the example and its twin make it. */
static void
body_write(FILE *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fputc("Hello, world!"[i % 13], f);
}

/* Write nginx.conf into s->dir: serving the directory @root with
 * sendfile(2) (scen-static.c), or, @root NULL, answering with the body
 * (and its file). */
static bool
nginx_conf(struct server *s, size_t body, const char *root)
{
	char path[PATH_MAX];
	FILE *f;
	bool inline_body = body <= 2048;

	if (!inline_body && !root) {
		snprintf(path, sizeof(path), "%s/body", s->dir);
		if (!(f = fopen(path, "w")))
			return false;
		body_write(f, body);
		if (fclose(f))
			return false;
	}
	snprintf(path, sizeof(path), "%s/nginx.conf", s->dir);
	if (!(f = fopen(path, "w")))
		return false;
	/* The temporary paths are nginx's defaults moved into s->dir, so
	 * nothing is written outside it. */
	fprintf(f, "daemon off;\nmaster_process off;\nworker_processes 1;\n"
		"worker_rlimit_nofile 20000;\npid %s/nginx.pid;\n"
		"error_log %s/error.log error;\n"
		"events { worker_connections 10240; }\n"
		"http {\n  access_log off;\n  server_tokens off;\n"
		"  keepalive_requests 1000000000;\n"
		"  keepalive_timeout 600s;\n"
		"  types { }\n  default_type text/plain;\n"
		"  client_body_temp_path %s/body-temp;\n"
		"  proxy_temp_path %s/proxy-temp;\n"
		"  fastcgi_temp_path %s/fastcgi-temp;\n"
		"  uwsgi_temp_path %s/uwsgi-temp;\n"
		"  scgi_temp_path %s/scgi-temp;\n"
		"  etag off;\n%s"
		"  server {\n    listen 127.0.0.1:%d backlog=4096;\n"
		"    location / {\n", s->dir, s->dir, s->dir, s->dir, s->dir,
		s->dir, s->dir, root ? "  sendfile on;\n  tcp_nopush on;\n" :
		"  sendfile off;\n  output_buffers 2 64k;\n"
		"  open_file_cache max=16;\n", s->port);
	if (root) {
		fprintf(f, "      root %s;\n", root);
	} else if (inline_body) {
		fputs("      return 200 \"", f);
		body_write(f, body);
		fputs("\";\n", f);
	} else {
		fprintf(f, "      root %s;\n      try_files /body =404;\n",
			s->dir);
	}
	fputs("    }\n  }\n}\n", f);
	return fclose(f) == 0;
}

static void
dir_remove(const char *dir)
{
	static const char *const names[] = {
		"nginx.conf", "body", "nginx.pid", "error.log", "body-temp",
		"proxy-temp", "fastcgi-temp", "uwsgi-temp", "scgi-temp",
	};
	char path[PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (unlink(path) < 0)
			rmdir(path);    /* nginx's temporary directories */
	}
	rmdir(dir);
}

/* nginx's error log, to stderr, when it did not start. */
static void
nginx_log(const struct server *s)
{
	char path[PATH_MAX], buf[2048];
	int fd;

	snprintf(path, sizeof(path), "%s/error.log", s->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	read_all(fd, buf, sizeof(buf));
	close(fd);
	fprintf(stderr, "nginx's error log:\n%s", buf);
}

static const char *
nginx_start(struct server *s, size_t body, const char *root)
{
	char conf[PATH_MAX];
	const char *argv[] = { paths[SRV_NGINX], "-p", s->dir, "-c", conf,
			       "-e", "stderr", NULL };
	int fd;

	strcpy(s->dir, "/tmp/ropeio-nginx-XXXXXX");
	if (!mkdtemp(s->dir))
		return "could not make nginx's temporary directory";
	s->port = free_port();
	snprintf(conf, sizeof(conf), "%s/nginx.conf", s->dir);
	if (s->port < 0 || !nginx_conf(s, body, root)) {
		dir_remove(s->dir);
		return "could not write nginx's configuration";
	}
	s->pid = spawn(argv, false, &fd);
	close(fd);
	/* Ready when its port accepts (each probe costs it one
	 * connection that closes at once). */
	for (int i = 0; i < 500; i++) {
		if (port_open(s->port))
			return NULL;
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = 0;
			break;
		}
		sleep_ms(10);
	}
	nginx_log(s);
	server_stop(s);
	return "nginx did not start (its error log is above)";
}

/* server_start(), or with @root the files of that directory. */
static const char *
start(int kind, size_t body, const char *root, struct server *s)
{
	char port[16] = "", body_arg[24];
	const char *argv[16];
	int fd, argc = 0;

	*s = (struct server){ .kind = kind };
	if (server_skip[kind])
		return server_skip[kind];
	if (kind == SRV_NGINX)
		return nginx_start(s, body, root);
	snprintf(body_arg, sizeof(body_arg), "%zu", body);
	argv[argc++] = paths[kind];
	argv[argc++] = root ? "--root" : "--body";
	argv[argc++] = root ? root : body_arg;
	for (int i = 0; kind >= SRV_ALT_URING && server_alt_args[i]; i++)
		argv[argc++] = server_alt_args[i];
	argv[argc++] = "127.0.0.1";
	argv[argc++] = "0";
	argv[argc] = NULL;
	s->pid = spawn(argv, kind == SRV_FALLBACK || kind == SRV_ALT_FALLBACK,
		       &fd);
	/* The port, one line: the server keeps its stdout open. */
	if (read(fd, port, sizeof(port) - 1) <= 0 || atoi(port) <= 0) {
		close(fd);
		server_stop(s);
		return "the server did not start";
	}
	close(fd);
	s->port = atoi(port);
	return NULL;
}

const char *
server_start(int kind, size_t body, struct server *s)
{
	return start(kind, body, NULL, s);
}

const char *
server_start_root(int kind, const char *root, struct server *s)
{
	if (kind == SRV_LIBEVENT)
		return "the libevent twin serves no files";
	return start(kind, 0, root, s);
}

bool
server_stop(struct server *s)
{
	int status = 0;
	bool clean;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		for (int i = 0; i < 1000; i++) {
			if (waitpid(s->pid, &status, WNOHANG) == s->pid)
				break;
			if (i == 999) {
				kill(s->pid, SIGKILL);
				waitpid(s->pid, &status, 0);
			}
			sleep_ms(10);
		}
	}
	clean = s->pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (s->kind == SRV_NGINX && s->dir[0])
		dir_remove(s->dir);
	s->pid = 0;
	return clean;
}

double
proc_cpu(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long utime, stime;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NAN;
	read_all(fd, buf, sizeof(buf));
	close(fd);
	/* The fields after the command's closing parenthesis: state is the
	 * 3rd of the line, utime the 14th and stime the 15th. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu", &utime, &stime) != 2)
		return NAN;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

double
proc_rss(pid_t pid)
{
	char path[64], buf[4096], *p;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NAN;
	read_all(fd, buf, sizeof(buf));
	close(fd);
	p = strstr(buf, "VmRSS:");
	return p ? atof(p + 6) * 1024 : NAN;
}

int
servers_self_test(void)
{
	static const size_t bodies[] = { 13, 64 * KiB };
	int ran = 0, failed = 0;

	servers_find(NULL, NULL);
	for (int k = 0; k < SRV_ALT_URING; k++) {
		const char *why;

		for (size_t b = 0; b < ARRAY_SIZE(bodies); b++) {
			struct server s;

			if (server_skip[k]) {
				printf("skip %s: %s\n", server_names[k],
				       server_skip[k]);
				break;
			}
			why = server_start(k, bodies[b], &s);
			if (!why)
				why = server_check(&s, bodies[b]);
			if (!server_stop(&s) && !why)
				why = "it did not exit cleanly";
			printf("%s %s, %zu-byte body%s%s\n", why ? "FAIL" : "ok",
			       server_names[k], bodies[b], why ? ": " : "",
			       why ? why : "");
			failed += why != NULL;
			ran++;
		}
		/* The files of a directory (scen-static.c). */
		if (server_skip[k] || k == SRV_LIBEVENT)
			continue;
		why = static_self_test(k);
		printf("%s %s, files of a directory%s%s\n", why ? "FAIL" : "ok",
		       server_names[k], why ? ": " : "", why ? why : "");
		failed += why != NULL;
		ran++;
	}
	/* 77: meson's skip, when no server could run at all. */
	return failed ? 1 : ran ? 0 : 77;
}
