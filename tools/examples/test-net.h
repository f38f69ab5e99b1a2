/* SPDX-License-Identifier: MIT */
/*
 * test-net: what the tests of the network examples share
 * (test-http-server.c, test-http-files.c, test-proxy.c): starting a server
 * that prints its port, stopping it with SIGTERM, loopback connections,
 * curl, a tree of files to serve, comparing files, and running the cases
 * once per mode of the engine.
 */
#ifndef TEST_NET_H
#define TEST_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* True, after saying so under @name, where TCP on loopback does not work
 * (a container without `lo` up): the test then exits 77 (skipped). */
bool t_loopback_down(const char *name);

/* Start @argv (its port 0) with ROPEIO_NO_URING=1 when @fallback; its
 * pid in *@pid. Returns the port it printed, or -1. */
int t_start(const char *const argv[], bool fallback, pid_t *pid);

/* SIGTERM, then wait up to 10 s: the exit status (128 + the signal for
 * one that was killed), or -1 on a hang (then it is killed). */
int t_stop(pid_t pid);

/* A blocking connection to 127.0.0.1:@port, 5 s timeouts; or -1. */
int t_connect(int port);

/* Run the shell command @cmd; its stdout (cut to @size - 1 bytes) into
 * @out. Returns its exit status, or -1. */
int t_run(const char *cmd, char *out, size_t size);

/* Are the files @a and @b the same bytes? */
bool t_same_file(const char *a, const char *b);

/* Write @n random bytes to @path. */
bool t_random_file(const char *path, size_t n);

/* Remove the directory @dir and all it holds (a test's temporary tree). */
void t_remove_tree(const char *dir);

/* A file to serve: its path under the root, and its size. */
struct t_file {
	const char *name;
	size_t size;
};

/* Make a fresh temporary directory from the template @dir (changed in
 * place), the root @dir/root (into @root, @root_size bytes), and @n files
 * of random bytes under it; a name's directory ("sub/" in "sub/f") is
 * made first. False, with errno set, on failure. */
bool t_make_root(char *dir, char *root, size_t root_size,
		 const struct t_file *files, size_t n);

/* One test case, and a suite's setup per mode of the engine. */
struct t_case {
	const char *name;
	void (*fn)(void);
};

/* Run every CUnit suite registered, verbosely, clean the registry up, and
 * return the exit status: 0 when nothing failed, 1 otherwise. */
int t_run_registered(void);

/* Register @cases in one CUnit suite per arm (@names[i], set up by
 * @inits[i], the io_uring arm then the fallback's; @narms of them), each
 * ended by @clean, run them verbosely, and return the exit status: 0 when
 * nothing failed, 1 otherwise. */
int t_run_arms(const char *const names[], int (*const inits[])(void),
	       size_t narms, int (*clean)(void), const struct t_case *cases,
	       size_t n);

#endif /* TEST_NET_H */
