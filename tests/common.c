/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

/* Whether @name is among the comma-separated names in $ROPEIO_TESTS (all
 * are, when it is unset or empty). */
static bool
t_selected(const char *name)
{
	const char *list = getenv("ROPEIO_TESTS"), *p;
	size_t len = strlen(name);

	if (!list || !*list)
		return true;
	for (p = list; (p = strstr(p, name)); p += len)
		if ((p == list || p[-1] == ',') && (!p[len] || p[len] == ','))
			return true;
	return false;
}

int
t_run(const char *suite, const struct t_test *tests, size_t n)
{
	CU_pSuite s;
	unsigned int failed;
	size_t added = 0;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return T_EXIT_SETUP;
	s = CU_add_suite(suite, NULL, NULL);
	if (!s) {
		CU_cleanup_registry();
		return T_EXIT_SETUP;
	}
	for (size_t i = 0; i < n; i++) {
		if (!t_selected(tests[i].name))
			continue;
		if (!CU_add_test(s, tests[i].name, tests[i].fn)) {
			CU_cleanup_registry();
			return T_EXIT_SETUP;
		}
		added++;
	}
	/* A selection that names no test is a mistake, not a pass. */
	if (!added) {
		fprintf(stderr, "%s: no test matches ROPEIO_TESTS=%s\n", suite,
			getenv("ROPEIO_TESTS"));
		CU_cleanup_registry();
		return T_EXIT_SETUP;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

uint8_t *
t_contents(const struct rope *r, size_t *len)
{
	size_t n = rope_size(r);
	uint8_t *buf;

	*len = n;
	if (n == 0)
		return NULL;
	buf = malloc(n);
	if (!buf) {
		fprintf(stderr, "out of memory in a test\n");
		exit(T_EXIT_SETUP);
	}
	if (rope_pread(r, buf, n, 0) != (ssize_t)n) {
		free(buf);
		*len = SIZE_MAX;
		return NULL;
	}
	return buf;
}

bool
t_equals(const struct rope *r, const void *want, size_t len)
{
	size_t n;
	uint8_t *got = t_contents(r, &n);
	bool same = n == len && (len == 0 || memcmp(got, want, len) == 0);

	free(got);
	return same;
}

struct rope *
t_rope_from(const char *s)
{
	struct rope *r;

	if (rope_new_from(&r, s, strlen(s)) < 0) {
		fprintf(stderr, "rope_new_from failed in a test\n");
		exit(T_EXIT_SETUP);
	}
	return r;
}

size_t
t_mem_now(void)
{
	struct rope_mem_stats st;

	rope_mem_stats(&st, sizeof(st));
	return st.allocated;
}

void
t_pattern(uint8_t *buf, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t x = off + i;

		buf[i] = (uint8_t)(x * 31 + (x >> 8) * 7 + 1);
	}
}

int
t_tmpfile(void)
{
	char path[] = "/tmp/ropeio-test-XXXXXX";
	int fd = mkstemp(path);

	if (fd >= 0)
		unlink(path);
	return fd;
}

bool
t_file_is(int fd, int64_t at, const void *want, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	size_t done = 0;
	bool same;

	while (buf && done < len) {
		ssize_t n = pread(fd, buf + done, len - done,
				  (off_t)(at + (int64_t)done));

		if (n <= 0)
			break;
		done += (size_t)n;
	}
	same = buf && done == len && memcmp(buf, want, len) == 0;
	free(buf);
	return same;
}

struct rope *
t_many_chunks(size_t n, size_t maxlen, uint64_t seed, uint8_t **data,
	      size_t *len)
{
	struct rope *r = rope_new();
	size_t total = 0, off = 0;
	uint8_t *d;

	for (size_t i = 0; i < n; i++)
		total += 1 + (i * 7919) % maxlen;
	d = malloc(total);
	if (!r || !d) {
		fprintf(stderr, "out of memory in a test\n");
		exit(T_EXIT_SETUP);
	}
	t_pattern(d, total, seed);
	for (size_t i = 0; i < n; i++) {
		size_t l = 1 + (i * 7919) % maxlen;

		if (rope_append_ref(r, d + off, l, NULL, NULL) < 0) {
			fprintf(stderr, "rope_append_ref failed in a test\n");
			exit(T_EXIT_SETUP);
		}
		off += l;
	}
	*data = d;
	*len = total;
	return r;
}

int
t_tcp_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0) {
		if (l >= 0)
			close(l);
		return -1;
	}
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(l);
		return -1;
	}
	fds[1] = accept(l, NULL, NULL);
	close(l);
	return fds[1] < 0 ? -1 : 0;
}

bool
t_loopback_down(const char *suite)
{
	int fds[2], err;

	errno = 0;
	if (t_tcp_pair(fds) == 0) {
		close(fds[0]);
		close(fds[1]);
		return false;
	}
	err = errno;
	printf("%s: skipped: TCP on loopback (127.0.0.1) does not work here "
	       "(%s); bring the loopback interface up to run it\n", suite,
	       err ? strerror(err) : "no error code");
	fflush(stdout);
	return true;
}

void
t_set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

void *
t_sink_run(void *arg)
{
	struct t_sink *k = arg;

	k->buf = malloc(k->want ? k->want : 1);
	while (k->buf && k->got < k->want) {
		ssize_t n = read(k->fd, k->buf + k->got,
				 MIN(k->step, k->want - k->got));

		if (n <= 0)
			break;
		k->got += (size_t)n;
		if (k->nap_us)
			usleep(k->nap_us);
	}
	if (k->close_after)
		close(k->fd);
	return NULL;
}

void
t_on_recv(void *arg, ssize_t n)
{
	struct t_received *x = arg;

	if (n > 0) {
		x->bytes += (uint64_t)n;
		x->batches++;
	} else {
		x->ended = true;
		x->end = n;
	}
}

double
t_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
t_mem_stats(struct t_mem_stats *out)
{
	struct rope_mem_stats m;
	struct rope_cache_stats c;

	rope_mem_stats(&m, sizeof(m));
	if (rope_cache_stats(&c, sizeof(c)) != 0)
		memset(&c, 0xff, sizeof(c));  /* a failure shows in any test */
	*out = (struct t_mem_stats){
		.allocated = m.allocated, .peak = m.peak, .total = m.total,
		.allocs = m.allocs, .frees = m.frees, .cached = c.cached,
		.cache_limit = c.limit, .cache_hits = c.hits,
	};
}
