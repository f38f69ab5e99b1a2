/* SPDX-License-Identifier: MIT */
/*
 * The harness of the benchmark tour: the clock, the fixed random stream,
 * the data every peer appends, figures and scenarios with their
 * statistics, and measure(), which runs the peers' ways side by side.
 */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

volatile uint64_t sink;

void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

size_t
rng_range(size_t lo, size_t hi)
{
	return lo + (size_t)(rng() % (hi - lo + 1));
}

/* ------------------------------------------------------------------------ */
/* Figures and scenarios                                                    */
/* ------------------------------------------------------------------------ */

struct scen scens[MAX_SCENS];
int nscens;

struct scen *
scen_new(const char *id, unsigned cols, double bytes, const char *fmt, ...)
{
	struct scen *s;
	va_list ap;

	if (nscens == MAX_SCENS)
		die("too many scenarios");
	s = &scens[nscens++];
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->cols = cols | (cols & COL_RSS ? COL_RSS_KEPT | COL_PSS_KEPT : 0);
	s->bytes = bytes;
	va_start(ap, fmt);
	vsnprintf(s->title, sizeof(s->title), fmt, ap);
	va_end(ap);
	return s;
}

struct scen *
scen_find(const char *id)
{
	for (int i = 0; i < nscens; i++)
		if (!strcmp(scens[i].id, id))
			return &scens[i];
	return NULL;
}

struct fig *
fig_new(struct scen *s, const char *peer, const char *label)
{
	struct fig *f;

	if (s->nfig == MAX_FIGS)
		die("too many figures in %s", s->id);
	f = &s->fig[s->nfig++];
	memset(f, 0, sizeof(*f));
	f->peer = peer;
	f->label = label;
	f->mode = "warm";
	f->first = NAN;
	return f;
}

void
fig_add(struct fig *f, const struct probe *p)
{
	int i = f->n;

	if (i == MAX_REPS)
		return;
	f->t[i] = p->t;
	f->kept[i] = p->kept;
	f->peak[i] = p->peak;
	f->total[i] = p->total;
	f->allocs[i] = p->allocs;
	f->rss[i] = p->rss_peak;
	f->rss_kept[i] = p->rss_kept;
	f->pss_kept[i] = p->pss_kept;
	f->faults[i] = p->faults;
	f->own_kept[i] = p->own_kept;
	f->own_peak[i] = p->own_peak;
	f->own_total[i] = p->own_total;
	f->n++;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
median(const double *v, int n)
{
	double s[MAX_REPS];

	if (n <= 0)
		return NAN;
	memcpy(s, v, sizeof(*v) * (size_t)n);
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void
range(const double *v, int n, double *lo, double *hi)
{
	*lo = *hi = NAN;
	for (int i = 0; i < n; i++) {
		if (i == 0 || v[i] < *lo)
			*lo = v[i];
		if (i == 0 || v[i] > *hi)
			*hi = v[i];
	}
}

void
scen_finish(struct scen *s)
{
	s->best[0] = s->best[1] = s->limit[0] = s->limit[1] = NAN;
	for (int i = 0; i < s->nfig; i++) {
		struct fig *f = &s->fig[i];
		int m = !strcmp(f->mode, "cold");

		f->med = median(f->t, f->n);
		range(f->t, f->n, &f->min, &f->max);
		if (!f->n || isnan(f->med))
			continue;
		if (!strcmp(f->peer, "limit"))
			s->limit[m] = f->med;
		else if (strcmp(f->peer, "ref") &&
			 (isnan(s->best[m]) || f->med < s->best[m]))
			s->best[m] = f->med;
	}
	for (int i = 0; i < s->nfig; i++) {
		struct fig *f = &s->fig[i];
		int m = !strcmp(f->mode, "cold");

		f->vs_best = f->med / s->best[m];
		f->vs_limit = f->med / (isnan(s->limit[m]) ? s->limit[0]
							   : s->limit[m]);
	}
}

const struct fig *
fig_get(const char *id, const char *peer, const char *mode)
{
	const struct scen *s = scen_find(id);
	const struct fig *best = NULL;

	for (int i = 0; s && i < s->nfig; i++) {
		const struct fig *f = &s->fig[i];

		if (!strcmp(f->peer, peer) && !strcmp(f->mode, mode) &&
		    f->n && (!best || f->med < best->med))
			best = f;
	}
	return best;
}

const struct fig *
fig_get_label(const char *id, const char *peer, const char *label,
	      const char *mode)
{
	const struct scen *s = scen_find(id);

	for (int i = 0; s && i < s->nfig; i++) {
		const struct fig *f = &s->fig[i];

		if (!strcmp(f->peer, peer) && !strcmp(f->mode, mode) &&
		    f->n && !strncmp(f->label, label, strlen(label)))
			return f;
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Running peers side by side                                               */
/* ------------------------------------------------------------------------ */

double run_start;

bool bench_cold;

int
cold_reps(int reps)
{
	return reps < 9 ? MIN(reps, 3) : reps / 3;
}

/*
 * A fresh process has nothing cached: give back the chunks ropeio's cache
 * kept (a forked child inherits the parent's), then the heap malloc kept.
 * Without the first, a cold ropeio row would take its chunks from the
 * parent's cache, touched and free, while every peer paid for fresh pages.
 */
void
cold_trim(void)
{
	struct rope_cache_stats cs;

	rope_cache_trim();
	if (rope_cache_stats(&cs, sizeof(cs)) < 0 || cs.cached)
		die("a cold run: the chunk cache still holds %zu B", cs.cached);
	malloc_trim(0);
}

static void
io_all(int fd, void *buf, size_t len, bool out)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = out ? write(fd, p, len) : read(fd, p, len);

		if (n <= 0)
			die("a cold run's pipe: %s",
			    n ? strerror(errno) : "EOF");
		p += n;
		len -= (size_t)n;
	}
}

/* One repetition of @w in a child of its own: the cold mode. */
static void
run_cold(const struct way *w, struct probe *p, const void *arg)
{
	size_t len = sizeof(*p) * MAX_TOGETHER;
	int fds[2], status;
	pid_t pid;

	fflush(NULL);
	if (pipe(fds) < 0 || (pid = fork()) < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		bench_cold = true;
		cold_trim();
		w->run(p, arg);
		io_all(fds[1], p, len, true);
		_exit(0);
	}
	close(fds[1]);
	io_all(fds[0], p, len, false);
	close(fds[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		die("a cold run of %s failed", w->label);
}

static void
fig_take(struct fig *f, const struct probe *p, bool first)
{
	if (f->skip)
		return;
	if (p->skip)
		f->skip = p->skip;
	else if (first)
		f->first = p->t;
	else
		fig_add(f, p);
}

/*
 * Run every way @reps times, repetitions outermost so that a slow moment
 * of the machine hits every peer alike. The order of the ways rotates by
 * one every repetition: what a way leaves behind (a heap grown, the page
 * cache filled, a socket's buffers) falls on a different way each time, so
 * that the medians do not depend on which way runs after which. The first
 * @warmup repetitions (at least one) are not counted; the first one's time
 * is kept as the "first run". Then the cold repetitions, each in a child.
 * Each way's warm row comes first, its cold row after it.
 */
void
measure_n(struct scen **s, int ns, const struct way *w, int nw,
	  const void *arg, int reps, int warmup, bool cold)
{
	struct fig *f[MAX_FIGS][MAX_TOGETHER][2] = { { { NULL } } };
	int ncold = cold ? cold_reps(reps) : 0;
	double t0 = now();

	if (ns > MAX_TOGETHER || nw > MAX_FIGS / 2)
		die("measure_n: %d scenarios, %d ways", ns, nw);
	warmup = MAX(warmup, 1);
	for (int i = 0; i < nw; i++) {
		for (int k = 0; k < ns; k++) {
			for (int m = 0; m < (ncold ? 2 : 1); m++) {
				struct fig *g = fig_new(s[k], w[i].peer,
							w[i].label);

				g->mode = !cold ? "" : m ? "cold" : "warm";
				g->skip = w[i].run ? NULL : w[i].skip;
				f[i][k][m] = g;
			}
		}
	}
	for (int rep = 0; rep < warmup + reps + ncold; rep++) {
		bool is_cold = rep >= warmup + reps;

		for (int j = 0; j < nw; j++) {
			struct probe p[MAX_TOGETHER] = { { 0 } };
			int i = (j + rep) % nw;

			if (!w[i].run || (is_cold && f[i][0][1]->skip))
				continue;
			if (is_cold)
				run_cold(&w[i], p, arg);
			else
				w[i].run(p, arg);
			for (int k = 0; k < ns; k++) {
				if (!is_cold && rep < warmup && rep)
					continue;
				fig_take(f[i][k][is_cold], &p[k],
					 !is_cold && rep == 0);
			}
		}
	}
	for (int k = 0; k < ns; k++)
		fprintf(stderr, "bench: %5.1f s  %s (%.1f s)\n",
			now() - run_start, s[k]->title, now() - t0);
}

void
measure(struct scen *s, const struct way *w, int nw, const void *arg,
	int reps, int warmup)
{
	measure_n(&s, 1, w, nw, arg, reps, warmup, true);
}

/* ------------------------------------------------------------------------ */
/* The data every peer appends                                              */
/* ------------------------------------------------------------------------ */

uint8_t *src_bytes;

size_t
feed_bytes(const struct feed *f)
{
	return f->piece * f->count;
}

static uint8_t
feed_byte(const struct feed *f, size_t pos)
{
	size_t k = f->period / f->piece, i = pos / f->piece;

	return f->src[(i % k) * f->piece + pos % f->piece];
}

struct feed
feed_net(size_t piece, size_t bytes)
{
	return (struct feed){ src_bytes, SRC_LEN, piece, bytes / piece };
}

void
verify(const struct feed *f, size_t size, uint8_t (*at)(const void *, size_t),
       const void *obj, const char *who)
{
	size_t want = feed_bytes(f);

	if (size != want)
		die("%s holds %zu bytes, not %zu", who, size, want);
	for (int i = 0; i < 8 && size; i++) {
		size_t pos = i == 0 ? 0 : i == 1 ? size - 1 : rng() % size;
		uint8_t b = at(obj, pos);

		if (b != feed_byte(f, pos))
			die("%s: wrong byte at %zu", who, pos);
		sink += b;
	}
}

uint8_t
flat_at(const void *o, size_t pos)
{
	return ((const uint8_t *)o)[pos];
}

uint8_t *
copy_of(const void *p, size_t n)
{
	uint8_t *v = malloc(n ? n : 1);

	if (!v)
		die("malloc");
	memcpy(v, p, n);
	return v;
}

/* ------------------------------------------------------------------------ */
/* --self-test: the cold mode is cold                                       */
/* ------------------------------------------------------------------------ */

#define SELF_PIECES 64

/* Build a rope of SELF_PIECES x LOOP_PIECE bytes, as the tables do. */
static struct rope *
self_rope(void)
{
	struct rope *r = rope_new();

	if (!r)
		die("rope_new");
	for (int i = 0; i < SELF_PIECES; i++)
		if (rope_write(r, src_bytes + i * LOOP_PIECE, LOOP_PIECE) !=
		    LOOP_PIECE)
			die("rope_write");
	return r;
}

/* The way: what the cache held when the probe started (in kept), and what
 * building the rope took from the system (own_total). */
static void
self_way(struct probe *p, const void *arg)
{
	struct rope_cache_stats cs;
	struct rope *r;

	probe_start(p);
	if (rope_cache_stats(&cs, sizeof(cs)) < 0)
		die("rope_cache_stats");
	r = self_rope();
	probe_stop(p);
	p->kept = (double)cs.cached;
	rope_free(r);
}

/*
 * The parent fills ropeio's cache with the chunks a rope of the tables'
 * kind takes, then runs one cold repetition: it must start with the cache
 * empty and take its chunks from the system, as a fresh process does.
 * Returns the exit status.
 */
int
harness_self_test(void)
{
	static const struct way w = { "ropeio", "cold self-test", self_way,
				      NULL };
	struct probe p[MAX_TOGETHER] = { { 0 } };
	struct rope_cache_stats cs;
	bool ok;

	src_bytes = malloc(SELF_PIECES * LOOP_PIECE);
	if (!src_bytes)
		die("malloc");
	for (size_t i = 0; i < SELF_PIECES * LOOP_PIECE; i++)
		src_bytes[i] = (uint8_t)rng();
	rope_free(self_rope());
	if (rope_cache_stats(&cs, sizeof(cs)) < 0 || !cs.cached) {
		printf("self-test: the cache kept nothing to inherit "
		       "(ROPEIO_CACHE_BYTES=0?): skipped\n");
		free(src_bytes);
		return 77;
	}
	run_cold(&w, p, NULL);
	ok = p[0].kept == 0 && p[0].own_total > 0;
	printf("self-test: the parent's cache held %zu B; the cold child "
	       "started with %.0f B cached and took %.0f B from the system: "
	       "%s\n", cs.cached, p[0].kept, p[0].own_total,
	       ok ? "ok" : "FAILED");
	free(src_bytes);
	return ok ? 0 : 1;
}
