/* SPDX-License-Identifier: MIT */
/* test-net: see test-net.h. */
#include "test-net.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

bool
t_loopback_down(const char *name)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c = -1, err = 0;

	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(l, 1) < 0 || getsockname(l, (struct sockaddr *)&sa, &len) < 0 ||
	    (c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		err = errno ? errno : EIO;
	if (c >= 0)
		close(c);
	if (l >= 0)
		close(l);
	if (err)
		printf("%s: skipped: TCP on loopback (127.0.0.1) does not work "
		       "here (%s); bring the loopback interface up to run it\n",
		       name, strerror(err));
	return err != 0;
}

int
t_start(const char *const argv[], bool fallback, pid_t *pid)
{
	int out[2];
	char line[32] = "";
	ssize_t n;

	if (pipe(out) < 0)
		return -1;
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (*pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		if (fallback)
			setenv("ROPEIO_NO_URING", "1", 1);
		else
			unsetenv("ROPEIO_NO_URING");
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	n = read(out[0], line, sizeof(line) - 1);   /* the alarm bounds it */
	close(out[0]);
	return n > 0 && atoi(line) > 0 ? atoi(line) : -1;
}

int
t_stop(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	for (int i = 0; i < 1000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) :
			       128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

int
t_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
t_run(const char *cmd, char *out, size_t size)
{
	FILE *p = popen(cmd, "r");
	size_t n;
	int status;

	if (!p)
		return -1;
	n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	status = pclose(p);
	return status < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool
t_same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	char ba[65536], bb[65536];
	bool same = fa && fb;

	while (same) {
		size_t na = fread(ba, 1, sizeof(ba), fa);
		size_t nb = fread(bb, 1, sizeof(bb), fb);

		same = na == nb && !memcmp(ba, bb, na);
		if (!na || !nb)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

bool
t_random_file(const char *path, size_t n)
{
	FILE *f = fopen(path, "wb");
	unsigned long long x = (unsigned long long)n * 0x9e3779b97f4a7c15ull + 1;
	bool ok = f != NULL;

	/* xorshift: bytes that no shift or repetition could fake. */
	for (size_t i = 0; ok && i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ok = fputc((int)(x >> 32) & 0xff, f) != EOF;
	}
	if (f && fclose(f))
		ok = false;
	return ok;
}

void
t_remove_tree(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

bool
t_make_root(char *dir, char *root, size_t root_size,
	    const struct t_file *files, size_t n)
{
	char path[PATH_MAX + 32];

	if (!mkdtemp(dir))
		return false;
	snprintf(root, root_size, "%s/root", dir);
	if (mkdir(root, 0700) < 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *slash = strrchr(files[i].name, '/');

		if (slash) {
			snprintf(path, sizeof(path), "%s/%.*s", root,
				 (int)(slash - files[i].name), files[i].name);
			if (mkdir(path, 0700) < 0 && errno != EEXIST)
				return false;
		}
		snprintf(path, sizeof(path), "%s/%s", root, files[i].name);
		if (!t_random_file(path, files[i].size))
			return false;
	}
	return true;
}

int
t_run_registered(void)
{
	unsigned failed;

	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() +
		 CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

int
t_run_arms(const char *const names[], int (*const inits[])(void),
	   size_t narms, int (*clean)(void), const struct t_case *cases,
	   size_t n)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	for (size_t i = 0; i < narms; i++) {
		CU_pSuite s = CU_add_suite(names[i], inits[i], clean);

		for (size_t k = 0; k < n; k++)
			CU_add_test(s, cases[k].name, cases[k].fn);
	}
	return t_run_registered();
}
