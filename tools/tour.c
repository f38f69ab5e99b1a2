/* SPDX-License-Identifier: MIT */
/*
 * The tour: the seeds' scenarios replayed on ropeio, beside CPython's
 * io.BytesIO measured in the same run (tools/seeds.py), when python3 is
 * there.
 *
 *   1. 50,000 appends of "Hello World", then getvalue.
 *   2. A 50 MiB stream built from 50 writes of 1 MiB, and what each of
 *      read, getbuffer, getvalue and a write after getvalue costs in
 *      memory (retained with the result held, and peak) and in time.
 *
 * Usage: tour [--python PATH] [--seeds PATH] [--no-python]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ropeio.h"

#define MiB (1u << 20)
#define RUNS 5

static uint8_t chunk[MiB];

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident memory now and at its peak (VmRSS, VmHWM), in bytes. */
static void
rss(double *now_b, double *peak_b)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	*now_b = *peak_b = -1;
	while (f && fgets(line, sizeof(line), f)) {
		double kib;

		if (sscanf(line, "VmRSS: %lf", &kib) == 1)
			*now_b = kib * 1024;
		else if (sscanf(line, "VmHWM: %lf", &kib) == 1)
			*peak_b = kib * 1024;
	}
	if (f)
		fclose(f);
}

/* Reset VmHWM to the current RSS (Linux 4.0 and later). */
static void
rss_reset_peak(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

static void
die(const char *what, long ret)
{
	fprintf(stderr, "tour: %s failed: %ld\n", what, ret);
	exit(1);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ------------------------------------------------------------------------ */
/* CPython's figures, from tools/seeds.py run in this tour                  */
/* ------------------------------------------------------------------------ */

struct py_row {
	char id[32];
	double a, b, c;
};

static struct py_row py_rows[32];
static int py_nrows;
static char py_version[32];

static void
run_python(const char *python, const char *seeds)
{
	char cmd[1024], line[256];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' '%s' 2>/dev/null", python, seeds);
	f = popen(cmd, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && py_nrows < 32) {
		struct py_row *r = &py_rows[py_nrows];

		if (sscanf(line, "python %31s", py_version) == 1)
			continue;
		if (sscanf(line, "%31s %lf %lf %lf", r->id, &r->a, &r->b,
			   &r->c) == 4)
			py_nrows++;
	}
	pclose(f);
}

static const struct py_row *
py_find(const char *id)
{
	for (int i = 0; i < py_nrows; i++)
		if (strcmp(py_rows[i].id, id) == 0)
			return &py_rows[i];
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Scenario 1: 50,000 appends of "Hello World"                              */
/* ------------------------------------------------------------------------ */

static void
hello_world(void)
{
	enum { N = 50000, REPS = 21 };
	double t[REPS];
	struct rope_mem_stats a, b;
	uint64_t allocs = 0;
	const struct py_row *py = py_find("hello_world");

	for (int rep = 0; rep < REPS; rep++) {
		struct rope *r = rope_new();
		struct rope_bytes *v;
		double t0;

		if (!r)
			die("rope_new", -1);
		rope_mem_stats(&a, sizeof(a));
		t0 = now();
		for (int i = 0; i < N; i++)
			if (rope_write(r, "Hello World", 11) != 11)
				die("rope_write", -1);
		if (rope_getvalue(r, &v) < 0 ||
		    rope_bytes_size(v) != 11u * N)
			die("rope_getvalue", -1);
		t[rep] = now() - t0;
		rope_mem_stats(&b, sizeof(b));
		allocs = b.allocs - a.allocs;
		rope_bytes_unref(v);
		rope_free(r);
	}
	qsort(t, REPS, sizeof(t[0]), cmp_double);
	printf("1. 50,000 appends of \"Hello World\", then getvalue "
	       "(%d runs)\n\n", REPS);
	printf("   %-26s %10s %10s %12s\n", "", "min", "median",
	       "allocations");
	printf("   %-26s %7.3f ms %7.3f ms %12llu\n", "ropeio rope_write",
	       t[0] * 1e3, t[REPS / 2] * 1e3, (unsigned long long)allocs);
	if (py)
		printf("   %-26s %7.3f ms %7.3f ms %12s\n",
		       "CPython BytesIO.write", py->a * 1e3, py->b * 1e3, "-");
	if (py)
		printf("\n   ropeio is %.0fx faster (medians).\n",
		       py->b / t[REPS / 2]);
	printf("\n");
}

/* ------------------------------------------------------------------------ */
/* Scenario 2: what each operation on a 50 MiB stream costs                 */
/* ------------------------------------------------------------------------ */

/* What a scenario holds on to, released after measuring. */
struct held {
	struct rope_bytes *v[2];
	uint8_t *buf;
	int exported;
	struct rope_snap *snap;
};

static struct rope *
build(void)
{
	struct rope *r = rope_new();

	for (int i = 0; i < 50; i++)
		if (!r || rope_write(r, chunk, MiB) != MiB)
			die("build", -1);
	return r;
}

static void
check(long ret, const char *what)
{
	if (ret < 0)
		die(what, ret);
}

static void
s_read_all(struct rope *r, struct held *h)
{
	/* read() copies into the caller's buffer; the buffer is the
	 * caller's memory, not ropeio's, so it is not in the figure. */
	rope_seek(r, 0, SEEK_SET);
	check(rope_read(r, h->buf, 50u * MiB), "read");
}

static void
s_read_1mib(struct rope *r, struct held *h)
{
	rope_seek(r, 10 * MiB, SEEK_SET);
	check(rope_read(r, h->buf, MiB), "read");
}

static void
s_getbuffer(struct rope *r, struct held *h)
{
	static struct iovec iov[256];

	check(rope_getbuffer(r, iov, 256), "getbuffer");
	h->exported = 1;
}

static void
s_getvalue(struct rope *r, struct held *h)
{
	check(rope_getvalue(r, &h->v[0]), "getvalue");
}

static void
s_append_1(struct rope *r, struct held *h)
{
	rope_seek(r, 0, SEEK_END);
	check(rope_write(r, "x", 1), "write");
}

static void
s_append_1mib(struct rope *r, struct held *h)
{
	rope_seek(r, 0, SEEK_END);
	check(rope_write(r, chunk, MiB), "write");
}

static void
s_overwrite_1(struct rope *r, struct held *h)
{
	rope_seek(r, 0, SEEK_SET);
	check(rope_write(r, "x", 1), "write");
}

static void
s_snapshot(struct rope *r, struct held *h)
{
	check(rope_snapshot(r, &h->snap), "snapshot");
}

/* Setups run before the measurement starts. */
static void
setup_value_held(struct rope *r, struct held *h)
{
	check(rope_getvalue(r, &h->v[1]), "getvalue");
}

static void
setup_value_dropped(struct rope *r, struct held *h)
{
	struct rope_bytes *v;

	check(rope_getvalue(r, &v), "getvalue");
	rope_bytes_unref(v);
}

static void
setup_snapshot(struct rope *r, struct held *h)
{
	s_snapshot(r, h);
}

static struct rope *built;

static void
s_build(struct rope *r, struct held *h)
{
	built = build();
}

/* Ids match tools/seeds.py, which runs the same setups on CPython. */
static const struct scenario {
	const char *id;
	const char *label;
	void (*setup)(struct rope *, struct held *);
	void (*fn)(struct rope *, struct held *);
} scenarios[] = {
	{ "build", "build: 50 x write(1 MiB)", NULL, s_build },
	{ "read_all", "seek(0); read()", NULL, s_read_all },
	{ "read_1mib", "seek(10 MiB); read(1 MiB)", NULL, s_read_1mib },
	{ "getbuffer", "getbuffer()", NULL, s_getbuffer },
	{ "getvalue", "getvalue(), first call", NULL, s_getvalue },
	{ "getvalue_again", "getvalue(), second call", setup_value_held, s_getvalue },
	{ "held_append_1", "value held: append 1 B", setup_value_held, s_append_1 },
	{ "held_append_1mib", "value held: append 1 MiB", setup_value_held, s_append_1mib },
	{ "held_overwrite_1", "value held: overwrite 1 B at 0", setup_value_held, s_overwrite_1 },
	{ "dropped_append_1", "value dropped: append 1 B", setup_value_dropped, s_append_1 },
	{ "getvalue_exported", "getbuffer held: getvalue()", s_getbuffer, s_getvalue },
	{ "snapshot", "snapshot()", NULL, s_snapshot },
	{ "snapshot_write", "snapshot held: overwrite 1 B at 0", setup_snapshot, s_overwrite_1 },
};

static void
held_release(struct rope *r, struct held *h)
{
	rope_bytes_unref(h->v[0]);
	rope_bytes_unref(h->v[1]);
	rope_snap_unref(h->snap);
	if (h->exported)
		rope_releasebuffer(r);
	h->v[0] = h->v[1] = NULL;
	h->snap = NULL;
	h->exported = 0;
	rope_free(built);
	built = NULL;
}

static void
mib(char *out, size_t n, double bytes)
{
	double a = bytes < 0 ? -bytes : bytes;

	if (a >= 64 * 1024)
		snprintf(out, n, "%+.2f MiB", bytes / MiB);
	else
		snprintf(out, n, "%+.0f B", bytes);
}

static void
operations(void)
{
	struct held h = { .buf = malloc(50u * MiB) };

	if (!h.buf)
		die("malloc", -1);
	/* Touch the read buffer now so it does not show in the RSS peaks. */
	memset(h.buf, 0, 50u * MiB);
	printf("2. A 50 MiB stream from 50 writes of 1 MiB: what each "
	       "operation costs\n");
	printf("   kept: allocated afterwards with the result held; peak: "
	       "the most allocated\n   meanwhile; RSS peak: resident memory "
	       "(VmHWM) above the start; time: best\n   of %d runs. CPython's "
	       "kept and peak come from tracemalloc.\n\n", RUNS);
	printf("   %-34s %12s %12s %12s %9s | %12s %12s %9s\n", "operation",
	       "ropeio kept", "peak", "RSS peak", "time", "CPython kept",
	       "peak", "time");
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		const struct scenario *s = &scenarios[i];
		const struct py_row *py = py_find(s->id);
		struct rope_mem_stats a, b;
		double best = 1e9, rss_peak = 0;
		char kept[32], peak[32], rp[32], pk[32], pp[32];

		for (int rep = 0; rep < RUNS; rep++) {
			struct rope *r = build();
			double t0, rss0, hwm0, rss1, hwm1;

			if (s->setup)
				s->setup(r, &h);
			rope_mem_reset_peak();
			rope_mem_stats(&a, sizeof(a));
			rss_reset_peak();
			rss(&rss0, &hwm0);
			t0 = now();
			s->fn(r, &h);
			t0 = now() - t0;
			rss(&rss1, &hwm1);
			rope_mem_stats(&b, sizeof(b));
			if (t0 < best)
				best = t0;
			if (rep == 0 || hwm1 - rss0 < rss_peak)
				rss_peak = hwm1 - rss0;
			held_release(r, &h);
			rope_free(r);
		}
		mib(kept, sizeof(kept), (double)b.allocated - (double)a.allocated);
		mib(peak, sizeof(peak), (double)(b.peak - a.allocated));
		mib(rp, sizeof(rp), rss_peak);
		printf("   %-34s %12s %12s %12s %6.3f ms |", s->label, kept,
		       peak, rp, best * 1e3);
		if (py) {
			mib(pk, sizeof(pk), py->a);
			mib(pp, sizeof(pp), py->b);
			printf(" %12s %12s %6.3f ms\n", pk, pp, py->c * 1e3);
		} else {
			printf(" %12s %12s %9s\n", "-", "-", "-");
		}
	}
	printf("\n   read() copies into the caller's buffer, which is the "
	       "caller's memory.\n");
	free(h.buf);
}

int
main(int argc, char **argv)
{
	const char *python = "python3", *seeds = "tools/seeds.py";
	int use_python = 1;
	time_t t = time(NULL);
	char date[64];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--python") && i + 1 < argc)
			python = argv[++i];
		else if (!strcmp(argv[i], "--seeds") && i + 1 < argc)
			seeds = argv[++i];
		else if (!strcmp(argv[i], "--no-python"))
			use_python = 0;
		else {
			fprintf(stderr, "usage: %s [--python PATH] [--seeds "
				"PATH] [--no-python]\n", argv[0]);
			return 2;
		}
	}
	for (size_t i = 0; i < MiB; i++)
		chunk[i] = (uint8_t)('x' + i % 3);
	if (use_python)
		run_python(python, seeds);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&t));
	printf("ropeio %d.%d.%d tour, %s\n", ROPEIO_VERSION_MAJOR,
	       ROPEIO_VERSION_MINOR, ROPEIO_VERSION_PATCH, date);
	if (py_nrows)
		printf("CPython %s measured in the same run (tools/seeds.py)\n\n",
		       py_version[0] ? py_version : "?");
	else
		printf("CPython: not measured (python3 or tools/seeds.py "
		       "missing)\n\n");
	hello_world();
	operations();
	return 0;
}
