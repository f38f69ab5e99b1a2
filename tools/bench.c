/* SPDX-License-Identifier: MIT */
/*
 * bench: the benchmark tour. ropeio beside its peers, measured in one run on
 * the same data, sizes and work:
 *
 *   ropeio                    this library
 *   libevent evbuffer         when libevent was found at build time
 *   GLib GByteArray           when GLib was found at build time
 *   a realloc-doubling buffer written here (struct rbuf)
 *   CPython io.BytesIO        tools/bench_cpython.py, run by the tour
 *   the limit                 memcpy into a preallocated array, one write(2)
 *                             of contiguous bytes, memmem over a flat stream
 *
 * Every figure is the median and range of several repetitions, shown as a
 * ratio to the best peer and to the limit. The tables go to stdout, every
 * figure and the machine to a JSON file, and a chart to a PNG when gnuplot
 * is installed. Then a "targets" section checks DESIGN.md section 5.
 *
 * Usage: bench [--full] [--out DIR] [--script PATH] [--python PATH]
 *              [--no-python] [--reps N] [--only GROUP,...]
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ropeio.h"
#ifdef HAVE_URING
#include "ropeio-uring.h"
#endif
#ifdef HAVE_LIBEVENT
#include <event2/buffer.h>
#include <event2/event.h>
#endif
#ifdef HAVE_GLIB
#include <glib.h>
#endif

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED __attribute__((unused))
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

/* The source that network-sized appends are cut from: larger than the
 * caches' faster levels, so no peer appends from L1. */
#define SRC_LEN (4 * MiB)
/* Large buffers are built from pieces of this size, as a socket delivers. */
#define BUILD_PIECE (64 * KiB)
#define LOOP_PIECE 1448

/* Why a peer compiled out is skipped. */
#define SKIP_LIBEVENT "libevent was not found at build time (install " \
		      "libevent-dev, then rebuild)"
#define SKIP_GLIB "GLib was not found at build time (install " \
		  "libglib2.0-dev, then rebuild)"
#define SKIP_URING "ropeio was built without liburing"

/* Results go here so that no loop can be optimized away. */
static volatile uint64_t sink;

/* Make the compiler assume @p's memory was read and written. */
static inline void
escape(const void *p)
{
	__asm__ volatile("" : : "g"(p) : "memory");
}

static void __attribute__((noreturn, format(printf, 1, 2)))
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

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: the same stream of numbers on every run and machine. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* A number in [lo, hi]. */
static size_t
rng_range(size_t lo, size_t hi)
{
	return lo + (size_t)(rng() % (hi - lo + 1));
}

/* ------------------------------------------------------------------------ */
/* Heap accounting, the same for every peer                                 */
/* ------------------------------------------------------------------------ */

/*
 * The bench defines malloc() and its relatives. The dynamic linker binds
 * every library in the process (ropeio, libevent, GLib, libc itself) to
 * these, and they forward to glibc's allocator, counting each block's
 * malloc_usable_size(): what it really takes, not what was asked. So each
 * peer's memory is counted by one method, ropeio's included (its own
 * rope_mem_stats() is reported beside). Not under AddressSanitizer, whose
 * allocator must see every call.
 */
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_COUNTED 0
#else
#define HEAP_COUNTED 1
#endif

struct heap_now {
	size_t now, peak;
	uint64_t total, allocs;
};

static struct {
	atomic_size_t now, peak;
	atomic_uint_fast64_t total, allocs;
} heap;

static void
heap_read(struct heap_now *h)
{
	h->now = atomic_load_explicit(&heap.now, memory_order_relaxed);
	h->peak = atomic_load_explicit(&heap.peak, memory_order_relaxed);
	h->total = atomic_load_explicit(&heap.total, memory_order_relaxed);
	h->allocs = atomic_load_explicit(&heap.allocs, memory_order_relaxed);
}

static void
heap_reset_peak(void)
{
	atomic_store_explicit(&heap.peak,
			      atomic_load_explicit(&heap.now,
						   memory_order_relaxed),
			      memory_order_relaxed);
}

#if HEAP_COUNTED
static void
heap_peak_update(size_t now_b)
{
	size_t peak = atomic_load_explicit(&heap.peak, memory_order_relaxed);

	while (now_b > peak &&
	       !atomic_compare_exchange_weak_explicit(&heap.peak, &peak, now_b,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

static void
heap_add(size_t n)
{
	size_t now_b = atomic_fetch_add_explicit(&heap.now, n,
						 memory_order_relaxed) + n;

	atomic_fetch_add_explicit(&heap.total, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&heap.allocs, 1, memory_order_relaxed);
	heap_peak_update(now_b);
}

static void
heap_sub(size_t n)
{
	atomic_fetch_sub_explicit(&heap.now, n, memory_order_relaxed);
}

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t align, size_t size);
void __libc_free(void *p);

static void *
counted(void *p)
{
	if (p)
		heap_add(malloc_usable_size(p));
	return p;
}

void *
malloc(size_t size)
{
	return counted(__libc_malloc(size));
}

void *
calloc(size_t n, size_t size)
{
	return counted(__libc_calloc(n, size));
}

void
free(void *p)
{
	if (p)
		heap_sub(malloc_usable_size(p));
	__libc_free(p);
}

/*
 * glibc marks a block it mapped by itself (IS_MMAPPED: bit 1 of the size
 * word before the block). realloc() moves such a block with mremap(2),
 * which moves pages without copying them: the old and new blocks never
 * hold memory at the same time, unlike a move inside the heap.
 */
static bool
block_mapped(const void *p)
{
	return ((const size_t *)p)[-1] & 2;
}

void *
realloc(void *p, size_t size)
{
	size_t old = p ? malloc_usable_size(p) : 0, neu;
	bool mapped = p && block_mapped(p);
	void *q = __libc_realloc(p, size);

	if (!q) {
		if (p && size == 0)    /* glibc freed it */
			heap_sub(old);
		return NULL;
	}
	neu = malloc_usable_size(q);
	if (p && q != p && !(mapped && block_mapped(q))) {
		/* Copied: both blocks existed at the peak. */
		heap_add(neu);
		heap_sub(old);
	} else if (neu >= old) {
		heap_add(neu - old);
		atomic_fetch_sub_explicit(&heap.allocs, p ? 1 : 0,
					  memory_order_relaxed);
	} else {
		heap_sub(old - neu);
	}
	return q;
}

void *
memalign(size_t align, size_t size)
{
	return counted(__libc_memalign(align, size));
}

void *
aligned_alloc(size_t align, size_t size)
{
	return counted(__libc_memalign(align, size));
}

int
posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	p = counted(__libc_memalign(align, size));
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *
valloc(size_t size)
{
	return counted(__libc_memalign((size_t)sysconf(_SC_PAGESIZE), size));
}

void *
pvalloc(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return counted(__libc_memalign(page, (size + page - 1) & ~(page - 1)));
}
#endif /* HEAP_COUNTED */

/* ------------------------------------------------------------------------ */
/* Resident memory                                                          */
/* ------------------------------------------------------------------------ */

/* VmRSS and VmHWM in bytes, read without stdio so that reading them
 * allocates nothing the heap counters would see. */
static void
rss_read(double *rss, double *hwm)
{
	char buf[4096], *p;
	ssize_t n;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	*rss = *hwm = NAN;
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	if ((p = strstr(buf, "VmRSS:")))
		*rss = strtod(p + 6, NULL) * 1024;
	if ((p = strstr(buf, "VmHWM:")))
		*hwm = strtod(p + 6, NULL) * 1024;
}

/* Whether VmHWM can be reset; without it RSS peaks mean nothing. */
static bool rss_resets = true;

/* Reset VmHWM to the current RSS (Linux 4.0 and later). */
static void
rss_reset_peak(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "5", 1) != 1)
		rss_resets = false;
	if (fd >= 0)
		close(fd);
}

/* ------------------------------------------------------------------------ */
/* Probes: one timed operation, its time and its memory                     */
/* ------------------------------------------------------------------------ */

struct probe {
	const char *skip;        /* set by a peer that cannot do this */
	double t0, rss0;
	struct heap_now h0;
	struct rope_mem_stats o0;
	/* Results. Bytes; "own" is ropeio's rope_mem_stats(). */
	double t;
	double kept, peak, total, allocs, rss_peak;
	double own_kept, own_peak, own_total;
};

/*
 * Start measuring. Freed heap memory goes back to the kernel first, so that
 * every peer starts from the same state whatever ran before it, and the
 * resident peak is reset; neither is inside the timed window.
 */
static void
probe_start(struct probe *p)
{
	double hwm;

	malloc_trim(0);
	rss_reset_peak();
	rss_read(&p->rss0, &hwm);
	rope_mem_stats(&p->o0);
	heap_reset_peak();
	heap_read(&p->h0);
	rope_mem_reset_peak();
	p->t0 = now();
}

static void
probe_stop(struct probe *p)
{
	double t1 = now(), rss, hwm;
	struct heap_now h;
	struct rope_mem_stats o;

	heap_read(&h);
	rope_mem_stats(&o);
	rss_read(&rss, &hwm);
	p->t = t1 - p->t0;
	p->kept = HEAP_COUNTED ? (double)h.now - (double)p->h0.now : NAN;
	p->peak = HEAP_COUNTED ? (double)h.peak - (double)p->h0.now : NAN;
	p->total = HEAP_COUNTED ? (double)(h.total - p->h0.total) : NAN;
	p->allocs = HEAP_COUNTED ? (double)(h.allocs - p->h0.allocs) : NAN;
	p->rss_peak = rss_resets ? hwm - p->rss0 : NAN;
	p->own_kept = (double)o.allocated - (double)p->o0.allocated;
	p->own_peak = (double)o.peak - (double)p->o0.allocated;
	p->own_total = (double)(o.total - p->o0.total);
}

/* Per-object figures from a probe over @n objects. */
static void
probe_scale(struct probe *p, double n)
{
	p->t /= n;
	p->kept /= n;
	p->peak /= n;
	p->total /= n;
	p->allocs /= n;
	p->rss_peak /= n;
	p->own_kept /= n;
	p->own_peak /= n;
	p->own_total /= n;
}

/* ------------------------------------------------------------------------ */
/* Figures and scenarios                                                    */
/* ------------------------------------------------------------------------ */

#define MAX_REPS 48
#define MAX_FIGS 10
#define MAX_SCENS 32

/* The columns a scenario's table shows besides the times. */
enum {
	COL_KEPT = 1 << 0,       /* heap kept after the operation */
	COL_PEAK = 1 << 1,       /* heap peak during it */
	COL_RSS = 1 << 2,        /* resident peak during it */
	COL_TOTAL = 1 << 3,      /* heap allocated during it */
	COL_ALLOCS = 1 << 4,     /* allocations during it */
	COL_MBS = 1 << 5,        /* throughput */
	COL_FIRST = 1 << 6,      /* throughput of the untimed first run */
	COL_NOTIME = 1 << 7,     /* memory only: no time columns */
};

struct fig {
	const char *peer;        /* ropeio, evbuffer, gbytearray, realloc,
				    cpython, limit, or ref: a reference that
				    is neither a peer nor the limit */
	const char *label;       /* what was called */
	const char *skip;        /* why it was not measured */
	bool tracemalloc;        /* CPython: memory from tracemalloc */
	int n;
	double t[MAX_REPS];
	double kept[MAX_REPS], peak[MAX_REPS], total[MAX_REPS];
	double allocs[MAX_REPS], rss[MAX_REPS];
	double own_kept[MAX_REPS], own_peak[MAX_REPS], own_total[MAX_REPS];
	double first;            /* the warm-up run, seconds */
	/* Derived by scen_finish(). */
	double med, min, max, vs_best, vs_limit;
};

struct scen {
	const char *id;
	char title[160];
	const char *note;
	double bytes;            /* the data each run works on (MB/s) */
	unsigned cols;
	int nfig;
	struct fig fig[MAX_FIGS];
	double best;             /* the best peer's median */
	double limit;            /* the limit's median, or NAN */
};

static struct scen scens[MAX_SCENS];
static int nscens;

static struct scen *
scen_new(const char *id, unsigned cols, double bytes, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static struct scen *
scen_new(const char *id, unsigned cols, double bytes, const char *fmt, ...)
{
	struct scen *s;
	va_list ap;

	if (nscens == MAX_SCENS)
		die("too many scenarios");
	s = &scens[nscens++];
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->cols = cols;
	s->bytes = bytes;
	va_start(ap, fmt);
	vsnprintf(s->title, sizeof(s->title), fmt, ap);
	va_end(ap);
	return s;
}

static struct scen *
scen_find(const char *id)
{
	for (int i = 0; i < nscens; i++)
		if (!strcmp(scens[i].id, id))
			return &scens[i];
	return NULL;
}

static struct fig *
fig_new(struct scen *s, const char *peer, const char *label)
{
	struct fig *f;

	if (s->nfig == MAX_FIGS)
		die("too many figures in %s", s->id);
	f = &s->fig[s->nfig++];
	memset(f, 0, sizeof(*f));
	f->peer = peer;
	f->label = label;
	f->first = NAN;
	return f;
}

static void
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

/* The median of @n values (NAN when none); @v is left as it was. */
static double
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

/* Medians, ranges, and the ratios to the best peer and to the limit. */
static void
scen_finish(struct scen *s)
{
	s->best = s->limit = NAN;
	for (int i = 0; i < s->nfig; i++) {
		struct fig *f = &s->fig[i];

		f->med = median(f->t, f->n);
		range(f->t, f->n, &f->min, &f->max);
		if (!f->n || isnan(f->med))
			continue;
		if (!strcmp(f->peer, "limit"))
			s->limit = f->med;
		else if (strcmp(f->peer, "ref") &&
			 (isnan(s->best) || f->med < s->best))
			s->best = f->med;
	}
	for (int i = 0; i < s->nfig; i++) {
		struct fig *f = &s->fig[i];

		f->vs_best = f->med / s->best;
		f->vs_limit = f->med / s->limit;
	}
}

/* The figure of @peer in scenario @id (its best variant), or NULL. */
static const struct fig *
fig_get(const char *id, const char *peer)
{
	const struct scen *s = scen_find(id);
	const struct fig *best = NULL;

	for (int i = 0; s && i < s->nfig; i++) {
		const struct fig *f = &s->fig[i];

		if (!strcmp(f->peer, peer) && f->n &&
		    (!best || f->med < best->med))
			best = f;
	}
	return best;
}

/* The figure of @peer whose label starts with @label, or NULL. */
static const struct fig *
fig_get_label(const char *id, const char *peer, const char *label)
{
	const struct scen *s = scen_find(id);

	for (int i = 0; s && i < s->nfig; i++) {
		const struct fig *f = &s->fig[i];

		if (!strcmp(f->peer, peer) && f->n &&
		    !strncmp(f->label, label, strlen(label)))
			return f;
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Running peers side by side                                               */
/* ------------------------------------------------------------------------ */

/*
 * One peer's way of doing a scenario: one repetition. It fills one probe
 * per scenario measured together (a getvalue run times the first call,
 * then the second), or sets the probe's skip when it cannot do one.
 */
struct way {
	const char *peer;
	const char *label;
	void (*run)(struct probe *p, const void *arg);
	const char *skip;        /* when run is NULL */
};

#define MAX_TOGETHER 2

static double run_start;

/*
 * Run every way @reps times, repetitions outermost so that a slow moment
 * of the machine hits every peer alike. The first @warmup repetitions are
 * not counted; the first one's time is kept as the "first run".
 */
static void
measure_n(struct scen **s, int ns, const struct way *w, int nw,
	  const void *arg, int reps, int warmup)
{
	struct fig *f[MAX_FIGS][MAX_TOGETHER];
	double t0 = now();

	if (ns > MAX_TOGETHER || nw > MAX_FIGS)
		die("measure_n: %d scenarios, %d ways", ns, nw);
	for (int i = 0; i < nw; i++) {
		for (int k = 0; k < ns; k++) {
			f[i][k] = fig_new(s[k], w[i].peer, w[i].label);
			f[i][k]->skip = w[i].run ? NULL : w[i].skip;
		}
	}
	for (int rep = 0; rep < warmup + reps; rep++) {
		for (int i = 0; i < nw; i++) {
			struct probe p[MAX_TOGETHER] = { { 0 } };

			if (!w[i].run)
				continue;
			w[i].run(p, arg);
			for (int k = 0; k < ns; k++) {
				if (f[i][k]->skip)
					continue;
				if (p[k].skip)
					f[i][k]->skip = p[k].skip;
				else if (rep == 0 && warmup)
					f[i][k]->first = p[k].t;
				else if (rep >= warmup)
					fig_add(f[i][k], &p[k]);
			}
		}
	}
	for (int k = 0; k < ns; k++)
		fprintf(stderr, "bench: %5.1f s  %s (%.1f s)\n",
			now() - run_start, s[k]->title, now() - t0);
}

static void
measure(struct scen *s, const struct way *w, int nw, const void *arg,
	int reps, int warmup)
{
	measure_n(&s, 1, w, nw, arg, reps, warmup);
}

/* ------------------------------------------------------------------------ */
/* CPython: tools/bench_cpython.py, run once, before the C peers            */
/* ------------------------------------------------------------------------ */

struct py_fig {
	char id[32];
	int n;
	double t[MAX_REPS];
	double kept, peak;
	bool has_mem;
};

static struct {
	bool ran;
	const char *why;         /* why it did not run */
	char version[32];
	double sizeof_empty;
	double http_check;
	int n;
	struct py_fig f[MAX_SCENS];
} py = { .why = "not run (--no-python)" };

static struct py_fig *
py_get(const char *id, bool create)
{
	for (int i = 0; i < py.n; i++)
		if (!strcmp(py.f[i].id, id))
			return &py.f[i];
	if (!create || py.n == MAX_SCENS)
		return NULL;
	memset(&py.f[py.n], 0, sizeof(py.f[0]));
	snprintf(py.f[py.n].id, sizeof(py.f[0].id), "%s", id);
	return &py.f[py.n++];
}

/* One line of the script's output: "kind <TAB> name <TAB> values...". */
static void
py_line(char *line)
{
	char *kind = strtok(line, "\t\n"), *name = strtok(NULL, "\t\n");
	char *v = strtok(NULL, "\t\n");
	struct py_fig *f;

	if (!kind || !name || !v)
		return;
	if (!strcmp(kind, "i")) {
		if (!strcmp(name, "version"))
			snprintf(py.version, sizeof(py.version), "%s", v);
		else if (!strcmp(name, "sizeof_empty"))
			py.sizeof_empty = strtod(v, NULL);
		else if (!strcmp(name, "http_check"))
			py.http_check = strtod(v, NULL);
		return;
	}
	f = py_get(name, true);
	if (!f)
		return;
	if (!strcmp(kind, "t")) {
		for (; v && f->n < MAX_REPS; v = strtok(NULL, "\t\n"))
			f->t[f->n++] = strtod(v, NULL);
	} else if (!strcmp(kind, "m")) {
		char *pk = strtok(NULL, "\t\n");

		f->kept = strtod(v, NULL);
		f->peak = pk ? strtod(pk, NULL) : NAN;
		f->has_mem = true;
	}
}

/* Run @python @script @config with its stdout on a pipe, no shell. */
static void
py_run(const char *python, const char *script, const char *config)
{
	int fds[2], status;
	char line[8192];
	pid_t pid;
	FILE *in;

	if (access(script, R_OK) < 0) {
		py.why = "tools/bench_cpython.py not found (--script)";
		return;
	}
	if (pipe(fds) < 0)
		die("pipe: %s", strerror(errno));
	fprintf(stderr, "bench: CPython io.BytesIO (%s), all scenarios\n",
		script);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execlp(python, python, script, config, (char *)NULL);
		fprintf(stderr, "bench: cannot run %s: %s\n", python,
			strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	in = fdopen(fds[0], "r");
	while (in && fgets(line, sizeof(line), in))
		py_line(line);
	if (in)
		fclose(in);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && py.version[0]) {
		py.ran = true;
		py.why = NULL;
	} else {
		py.why = "the script failed (its error is above)";
	}
	fprintf(stderr, "bench: %5.1f s  CPython %s\n", now() - run_start,
		py.ran ? "done" : "failed");
}

/* Add CPython's figure for @id to @s (or the reason it is missing). */
static void
py_add(struct scen *s, const char *id, const char *label)
{
	struct fig *f = fig_new(s, "cpython", label);
	const struct py_fig *p = py_get(id, false);

	if (!py.ran || !p || (!p->n && !p->has_mem)) {
		f->skip = py.ran ? "not measured" : py.why;
		return;
	}
	f->tracemalloc = true;
	/* A memory-only figure is one repetition without a time. */
	for (int i = 0; i < (p->n ? p->n : 1); i++) {
		struct probe pr = {
			.t = p->n ? p->t[i] : NAN,
			.kept = p->has_mem ? p->kept : NAN,
			.peak = p->has_mem ? p->peak : NAN,
			.total = NAN, .allocs = NAN, .rss_peak = NAN,
			.own_kept = NAN, .own_peak = NAN, .own_total = NAN,
		};
		fig_add(f, &pr);
	}
}

/* ------------------------------------------------------------------------ */
/* The data every peer appends                                              */
/* ------------------------------------------------------------------------ */

/* @count appends of @piece bytes cut from @src, consecutively, starting
 * over when the next piece would not fit in @period bytes. */
struct feed {
	const uint8_t *src;
	size_t period, piece, count;
};

static uint8_t *src_bytes;   /* SRC_LEN bytes */

static inline size_t
feed_next(const struct feed *f, size_t off)
{
	off += f->piece;
	return off + f->piece > f->period ? 0 : off;
}

static size_t
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

static struct feed
feed_net(size_t piece, size_t bytes)
{
	return (struct feed){ src_bytes, SRC_LEN, piece, bytes / piece };
}

/* Check a few bytes of what a peer built, through its own API. */
static void
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

/* ------------------------------------------------------------------------ */
/* The peers' buffers                                                       */
/* ------------------------------------------------------------------------ */

/* ropeio */

static void
rope_fill(struct rope *r, const struct feed *f)
{
	size_t off = 0;

	for (size_t i = 0; i < f->count; i++) {
		if (rope_write(r, f->src + off, f->piece) < 0)
			die("rope_write");
		off = feed_next(f, off);
	}
}

static struct rope *
rope_built(const struct feed *f)
{
	struct rope *r = rope_new();

	if (!r)
		die("rope_new");
	rope_fill(r, f);
	return r;
}

static uint8_t
rope_at(const void *o, size_t pos)
{
	uint8_t b = 0;

	if (rope_pread(o, &b, 1, (int64_t)pos) != 1)
		die("rope_pread");
	return b;
}

/* The realloc-doubling buffer: what most C programs write by hand. */

struct rbuf {
	uint8_t *data;
	size_t len, cap;
};

static void
rbuf_grow(struct rbuf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 64;
	uint8_t *p;

	while (cap - b->len < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		die("realloc");
	b->data = p;
	b->cap = cap;
}

static inline void
rbuf_append(struct rbuf *b, const void *p, size_t n)
{
	if (n > b->cap - b->len)
		rbuf_grow(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Drop the first @n bytes, moving the rest to the front. */
static void
rbuf_consume(struct rbuf *b, size_t n)
{
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

static void
rbuf_fill(struct rbuf *b, const struct feed *f)
{
	size_t off = 0;

	for (size_t i = 0; i < f->count; i++) {
		rbuf_append(b, f->src + off, f->piece);
		off = feed_next(f, off);
	}
}

static void
rbuf_free(struct rbuf *b)
{
	free(b->data);
	*b = (struct rbuf){ 0 };
}

static uint8_t
rbuf_at(const void *o, size_t pos)
{
	return ((const struct rbuf *)o)->data[pos];
}

/* An immutable value of a contiguous buffer: a copy, as nothing else
 * survives the buffer's next write. */
static uint8_t *
copy_of(const void *p, size_t n)
{
	uint8_t *v = malloc(n ? n : 1);

	if (!v)
		die("malloc");
	memcpy(v, p, n);
	return v;
}

/* The limit: memcpy into an array allocated and touched beforehand. */

static uint8_t *limit_buf;
static size_t limit_cap;

static void
limit_prepare(size_t n)
{
	if (n <= limit_cap)
		return;
	free(limit_buf);
	limit_buf = malloc(n);
	if (!limit_buf)
		die("malloc");
	memset(limit_buf, 1, n);
	limit_cap = n;
}

static size_t
limit_fill(uint8_t *dst, const struct feed *f)
{
	size_t off = 0, len = 0;

	for (size_t i = 0; i < f->count; i++) {
		memcpy(dst + len, f->src + off, f->piece);
		len += f->piece;
		off = feed_next(f, off);
	}
	escape(dst);
	return len;
}

static uint8_t
flat_at(const void *o, size_t pos)
{
	return ((const uint8_t *)o)[pos];
}

#ifdef HAVE_LIBEVENT
static struct evbuffer *
evb_built(const struct feed *f)
{
	struct evbuffer *b = evbuffer_new();
	size_t off = 0;

	if (!b)
		die("evbuffer_new");
	for (size_t i = 0; i < f->count; i++) {
		if (evbuffer_add(b, f->src + off, f->piece) < 0)
			die("evbuffer_add");
		off = feed_next(f, off);
	}
	return b;
}

static uint8_t
evb_at(const void *o, size_t pos)
{
	struct evbuffer *b = (struct evbuffer *)o;
	struct evbuffer_ptr ptr;
	uint8_t c = 0;

	if (evbuffer_ptr_set(b, &ptr, pos, EVBUFFER_PTR_SET) < 0 ||
	    evbuffer_copyout_from(b, &ptr, &c, 1) != 1)
		die("evbuffer_copyout_from");
	return c;
}
#define EVB(fn) fn, NULL
#else
#define EVB(fn) NULL, SKIP_LIBEVENT
#endif

#ifdef HAVE_GLIB
static GByteArray *
gba_built(const struct feed *f)
{
	GByteArray *a = g_byte_array_new();
	size_t off = 0;

	for (size_t i = 0; i < f->count; i++) {
		g_byte_array_append(a, f->src + off, (guint)f->piece);
		off = feed_next(f, off);
	}
	return a;
}

static uint8_t
gba_at(const void *o, size_t pos)
{
	return ((const GByteArray *)o)->data[pos];
}
#define GBA(fn) fn, NULL
#else
#define GBA(fn) NULL, SKIP_GLIB
#endif

/* ------------------------------------------------------------------------ */
/* Scenarios 1-2: appends                                                   */
/* ------------------------------------------------------------------------ */

/* Each run creates the buffer and appends: that is what is timed. */

static void
append_rope(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	struct rope *r;

	probe_start(p);
	r = rope_built(f);
	probe_stop(p);
	verify(f, rope_size(r), rope_at, r, "ropeio");
	rope_free(r);
}

static void
append_rbuf(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	struct rbuf b = { 0 };

	probe_start(p);
	rbuf_fill(&b, f);
	probe_stop(p);
	verify(f, b.len, rbuf_at, &b, "realloc buffer");
	rbuf_free(&b);
}

static void
append_limit(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	size_t n;

	probe_start(p);
	n = limit_fill(limit_buf, f);
	probe_stop(p);
	verify(f, n, flat_at, limit_buf, "limit");
}

#ifdef HAVE_LIBEVENT
static void
append_evb(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	struct evbuffer *b;

	probe_start(p);
	b = evb_built(f);
	probe_stop(p);
	verify(f, evbuffer_get_length(b), evb_at, b, "evbuffer");
	evbuffer_free(b);
}
#endif

#ifdef HAVE_GLIB
static void
append_gba(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	GByteArray *a;

	probe_start(p);
	a = gba_built(f);
	probe_stop(p);
	verify(f, a->len, gba_at, a, "GByteArray");
	g_byte_array_free(a, TRUE);
}
#endif

/* Not the limit, but what it costs with the page faults every peer pays:
 * the same memcpy calls into one array malloc'd just before. */
static void
append_fresh(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	uint8_t *dst;
	size_t n;

	probe_start(p);
	dst = malloc(feed_bytes(f));
	if (!dst)
		die("malloc");
	n = limit_fill(dst, f);
	probe_stop(p);
	verify(f, n, flat_at, dst, "fresh memcpy");
	free(dst);
}

static const struct way append_ways[] = {
	{ "ropeio", "ropeio rope_write", append_rope, NULL },
	{ "evbuffer", "evbuffer_add", EVB(append_evb) },
	{ "gbytearray", "g_byte_array_append", GBA(append_gba) },
	{ "realloc", "realloc buffer (doubling)", append_rbuf, NULL },
	{ "limit", "limit: memcpy, preallocated", append_limit, NULL },
	{ "ref", "(memcpy into a fresh malloc)", append_fresh, NULL },
};

static void
scen_appends(const char *id, const struct feed *f, int reps, int warmup,
	     const char *what)
{
	struct scen *s = scen_new(id, COL_MBS | COL_KEPT | COL_PEAK | COL_RSS,
				  (double)feed_bytes(f), "%s (%d runs)", what,
				  reps);

	limit_prepare(feed_bytes(f));
	measure(s, append_ways, ARRAY_SIZE(append_ways), f, reps, warmup);
	py_add(s, id, "CPython BytesIO.write");
	if (strcmp(id, "append11_50k"))
		return;
	s->note = "In the append tables, timed: creating the buffer and "
		  "every append. kept: heap "
		  "held by the result. The limit copies into an array "
		  "allocated and touched before; the row in parentheses is "
		  "not a peer: the same copies into an array malloc'd just "
		  "before, so with the page faults that every peer pays for "
		  "fresh memory.";
}

/* ------------------------------------------------------------------------ */
/* Scenario 3: getvalue of a large buffer, first and repeated call          */
/* ------------------------------------------------------------------------ */

/*
 * The bytes as one immutable value. ropeio flattens once and caches;
 * evbuffer_pullup() flattens in place (no separate value: its pointer is
 * valid until the next change); a contiguous buffer has its bytes in one
 * place already, but a value that outlives its next write is a copy
 * (g_bytes_new(), malloc + memcpy). The limit is one malloc + memcpy of the
 * bytes into fresh memory: exactly one copy, page faults included.
 */
static void
gv_rope(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	struct rope *r = rope_built(f);
	struct rope_bytes *v, *v2;

	probe_start(&p[0]);
	if (rope_getvalue(r, &v) < 0)
		die("rope_getvalue");
	probe_stop(&p[0]);
	probe_start(&p[1]);
	if (rope_getvalue(r, &v2) < 0)
		die("rope_getvalue");
	probe_stop(&p[1]);
	verify(f, rope_bytes_size(v), flat_at, rope_bytes_data(v), "ropeio");
	verify(f, rope_bytes_size(v2), flat_at, rope_bytes_data(v2), "ropeio");
	rope_bytes_unref(v);
	rope_bytes_unref(v2);
	rope_free(r);
}

static void
gv_rbuf(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	struct rbuf b = { 0 };
	uint8_t *v[2];

	rbuf_fill(&b, f);
	for (int k = 0; k < 2; k++) {
		probe_start(&p[k]);
		v[k] = copy_of(b.data, b.len);
		probe_stop(&p[k]);
	}
	for (int k = 0; k < 2; k++) {
		verify(f, b.len, flat_at, v[k], "realloc buffer");
		free(v[k]);
	}
	rbuf_free(&b);
}

static void
gv_limit(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	uint8_t *v;

	probe_start(&p[0]);
	v = copy_of(limit_buf, feed_bytes(f));
	probe_stop(&p[0]);
	p[1].skip = "no limit for a cached value";
	verify(f, feed_bytes(f), flat_at, v, "limit");
	free(v);
}

#ifdef HAVE_LIBEVENT
static void
gv_evb(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	struct evbuffer *b = evb_built(f);
	const uint8_t *v[2];

	for (int k = 0; k < 2; k++) {
		probe_start(&p[k]);
		v[k] = evbuffer_pullup(b, -1);
		probe_stop(&p[k]);
		if (!v[k])
			die("evbuffer_pullup");
	}
	verify(f, evbuffer_get_length(b), flat_at, v[1], "evbuffer");
	evbuffer_free(b);
}
#endif

#ifdef HAVE_GLIB
static void
gv_gba(struct probe *p, const void *arg)
{
	const struct feed *f = arg;
	GByteArray *arr = gba_built(f);
	GBytes *v[2];

	for (int k = 0; k < 2; k++) {
		probe_start(&p[k]);
		v[k] = g_bytes_new(arr->data, arr->len);
		probe_stop(&p[k]);
	}
	for (int k = 0; k < 2; k++) {
		verify(f, g_bytes_get_size(v[k]), flat_at,
		       g_bytes_get_data(v[k], NULL), "GByteArray");
		g_bytes_unref(v[k]);
	}
	g_byte_array_free(arr, TRUE);
}
#endif

static const struct way gv_ways[] = {
	{ "ropeio", "ropeio rope_getvalue", gv_rope, NULL },
	{ "evbuffer", "evbuffer_pullup(-1)", EVB(gv_evb) },
	{ "gbytearray", "g_bytes_new (a copy)", GBA(gv_gba) },
	{ "realloc", "realloc buffer: malloc+memcpy", gv_rbuf, NULL },
	{ "limit", "limit: malloc+memcpy, flat", gv_limit, NULL },
};

static void
scen_getvalue(size_t bytes, int reps)
{
	struct feed f = feed_net(BUILD_PIECE, bytes);
	unsigned cols = COL_KEPT | COL_PEAK | COL_RSS;
	struct scen *s[2];

	limit_prepare(bytes);
	limit_fill(limit_buf, &f);
	s[0] = scen_new("getvalue_first", cols, (double)bytes,
			"getvalue of %zu MiB built by 64 KiB appends: first "
			"call (%d runs)", bytes / MiB, reps);
	s[1] = scen_new("getvalue_again", cols, (double)bytes,
			"getvalue of %zu MiB: a second call, the first value "
			"still held (%d runs)", bytes / MiB, reps);
	measure_n(s, 2, gv_ways, ARRAY_SIZE(gv_ways), &f, reps, 0);
	py_add(s[0], "getvalue_first", "CPython BytesIO.getvalue");
	py_add(s[1], "getvalue_again", "CPython BytesIO.getvalue");
	s[0]->note = "peak: heap above the start during the call (the extra "
		     "peak); kept: after it, with the value held. evbuffer "
		     "makes its new chain a power of two. The contiguous "
		     "buffers need a copy for a value that stays as it is "
		     "after their next write; their bytes themselves are "
		     "already contiguous.";
}

/* ------------------------------------------------------------------------ */
/* Scenario 4: a write while a value is held                                */
/* ------------------------------------------------------------------------ */

enum held_op { HELD_APPEND_1, HELD_APPEND_1MIB, HELD_OVERWRITE_1 };

struct held_arg {
	const struct feed *f;
	enum held_op op;
};

static const void *
held_data(enum held_op op, size_t *len)
{
	*len = op == HELD_APPEND_1MIB ? MiB : 1;
	return op == HELD_APPEND_1MIB ? src_bytes : (const void *)"x";
}

static void
held_rope(struct probe *p, const void *arg)
{
	const struct held_arg *a = arg;
	struct rope *r = rope_built(a->f);
	struct rope_bytes *v;
	size_t len;
	const void *d = held_data(a->op, &len);

	if (rope_getvalue(r, &v) < 0)
		die("rope_getvalue");
	probe_start(p);
	rope_seek(r, 0, a->op == HELD_OVERWRITE_1 ? SEEK_SET : SEEK_END);
	if (rope_write(r, d, len) != (ssize_t)len)
		die("rope_write");
	probe_stop(p);
	verify(a->f, rope_bytes_size(v), flat_at, rope_bytes_data(v), "ropeio");
	rope_bytes_unref(v);
	rope_free(r);
}

static void
held_rbuf(struct probe *p, const void *arg)
{
	const struct held_arg *a = arg;
	struct rbuf b = { 0 };
	size_t len;
	const void *d = held_data(a->op, &len);
	uint8_t *v;

	rbuf_fill(&b, a->f);
	v = copy_of(b.data, b.len);
	probe_start(p);
	if (a->op == HELD_OVERWRITE_1)
		b.data[0] = 'x';
	else
		rbuf_append(&b, d, len);
	probe_stop(p);
	verify(a->f, feed_bytes(a->f), flat_at, v, "realloc buffer");
	free(v);
	rbuf_free(&b);
}

#ifdef HAVE_LIBEVENT
static void
held_evb(struct probe *p, const void *arg)
{
	const struct held_arg *a = arg;
	struct evbuffer *b = evb_built(a->f);
	size_t len;
	const void *d = held_data(a->op, &len);

	if (a->op == HELD_OVERWRITE_1) {
		p->skip = "evbuffer has no overwrite";
		evbuffer_free(b);
		return;
	}
	if (!evbuffer_pullup(b, -1))
		die("evbuffer_pullup");
	probe_start(p);
	if (evbuffer_add(b, d, len) < 0)
		die("evbuffer_add");
	probe_stop(p);
	evbuffer_free(b);
}
#endif

#ifdef HAVE_GLIB
static void
held_gba(struct probe *p, const void *arg)
{
	const struct held_arg *a = arg;
	GByteArray *arr = gba_built(a->f);
	size_t len;
	const void *d = held_data(a->op, &len);
	GBytes *v = g_bytes_new(arr->data, arr->len);

	probe_start(p);
	if (a->op == HELD_OVERWRITE_1)
		arr->data[0] = 'x';
	else
		g_byte_array_append(arr, d, (guint)len);
	probe_stop(p);
	verify(a->f, g_bytes_get_size(v), flat_at, g_bytes_get_data(v, NULL),
	       "GByteArray");
	g_bytes_unref(v);
	g_byte_array_free(arr, TRUE);
}
#endif

static const struct way held_ways[] = {
	{ "ropeio", "ropeio rope_write", held_rope, NULL },
	{ "evbuffer", "evbuffer_add (after pullup)", EVB(held_evb) },
	{ "gbytearray", "GByteArray (value: a copy)", GBA(held_gba) },
	{ "realloc", "realloc buffer (value: a copy)", held_rbuf, NULL },
};

static void
scen_held(size_t bytes, int reps)
{
	static const struct {
		const char *id, *what;
	} ops[] = {
		[HELD_APPEND_1] = { "held_append_1", "append 1 byte" },
		[HELD_APPEND_1MIB] = { "held_append_1mib", "append 1 MiB" },
		[HELD_OVERWRITE_1] = { "held_overwrite_1",
				       "overwrite 1 byte at 0" },
	};
	struct feed f = feed_net(BUILD_PIECE, bytes);

	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		struct held_arg a = { &f, (enum held_op)i };
		struct scen *s = scen_new(ops[i].id, COL_KEPT | COL_PEAK | COL_RSS,
					  (double)bytes, "value of %zu MiB held: %s (%d runs)",
					  bytes / MiB, ops[i].what, reps);

		measure(s, held_ways, ARRAY_SIZE(held_ways), &a, reps, 0);
		py_add(s, ops[i].id, "CPython BytesIO.write");
		if (i == ARRAY_SIZE(ops) - 1)
			s->note = "the contiguous buffers paid for their value "
				  "with a copy at getvalue (above); evbuffer's "
				  "\"value\" is its pullup pointer, which is "
				  "not immutable.";
	}
}

/* ------------------------------------------------------------------------ */
/* Scenario 5: the parser loop, append then getvalue                        */
/* ------------------------------------------------------------------------ */

/*
 * After every append of 1,448 bytes the parser needs all the bytes so far,
 * contiguous, and reads the last one. Dropped: each value is released
 * before the next append; held: every value is kept until the end (they
 * must not change), which for a contiguous buffer means a copy each time.
 */
struct loop_arg {
	const struct feed *f;    /* count = the number of appends */
	bool hold;
};

static void
loop_rope(struct probe *p, const void *arg)
{
	const struct loop_arg *a = arg;
	const struct feed *f = a->f;
	struct rope_bytes **keep = calloc(f->count, sizeof(*keep));
	struct rope *r;
	uint64_t acc = 0;
	size_t off = 0;

	probe_start(p);
	r = rope_new();
	for (size_t i = 0; i < f->count; i++) {
		struct rope_bytes *v;

		if (!r || rope_write(r, f->src + off, f->piece) < 0 ||
		    rope_getvalue(r, &v) < 0)
			die("rope_write/rope_getvalue");
		acc += ((const uint8_t *)rope_bytes_data(v))[rope_bytes_size(v) - 1];
		if (a->hold)
			keep[i] = v;
		else
			rope_bytes_unref(v);
		off = feed_next(f, off);
	}
	probe_stop(p);
	sink += acc;
	verify(f, rope_size(r), rope_at, r, "ropeio");
	for (size_t i = 0; a->hold && i < f->count; i++)
		rope_bytes_unref(keep[i]);
	free(keep);
	rope_free(r);
}

static void
loop_rbuf(struct probe *p, const void *arg)
{
	const struct loop_arg *a = arg;
	const struct feed *f = a->f;
	uint8_t **keep = calloc(f->count, sizeof(*keep));
	struct rbuf b = { 0 };
	uint64_t acc = 0;
	size_t off = 0;

	probe_start(p);
	for (size_t i = 0; i < f->count; i++) {
		rbuf_append(&b, f->src + off, f->piece);
		if (a->hold)
			keep[i] = copy_of(b.data, b.len);
		acc += a->hold ? keep[i][b.len - 1] : b.data[b.len - 1];
		off = feed_next(f, off);
	}
	probe_stop(p);
	sink += acc;
	verify(f, b.len, rbuf_at, &b, "realloc buffer");
	for (size_t i = 0; a->hold && i < f->count; i++)
		free(keep[i]);
	free(keep);
	rbuf_free(&b);
}

static void
loop_limit(struct probe *p, const void *arg)
{
	const struct loop_arg *a = arg;
	const struct feed *f = a->f;
	uint64_t acc = 0;
	size_t off = 0, len = 0;

	if (a->hold) {
		p->skip = "no limit for held values";
		return;
	}
	probe_start(p);
	for (size_t i = 0; i < f->count; i++) {
		memcpy(limit_buf + len, f->src + off, f->piece);
		len += f->piece;
		escape(limit_buf);
		acc += limit_buf[len - 1];
		off = feed_next(f, off);
	}
	probe_stop(p);
	sink += acc;
	verify(f, len, flat_at, limit_buf, "limit");
}

#ifdef HAVE_LIBEVENT
static void
loop_evb(struct probe *p, const void *arg)
{
	const struct loop_arg *a = arg;
	const struct feed *f = a->f;
	struct evbuffer *b;
	uint64_t acc = 0;
	size_t off = 0;

	if (a->hold) {
		p->skip = "evbuffer has no immutable value";
		return;
	}
	probe_start(p);
	b = evbuffer_new();
	for (size_t i = 0; i < f->count; i++) {
		const uint8_t *v;

		if (!b || evbuffer_add(b, f->src + off, f->piece) < 0 ||
		    !(v = evbuffer_pullup(b, -1)))
			die("evbuffer_add/evbuffer_pullup");
		acc += v[evbuffer_get_length(b) - 1];
		off = feed_next(f, off);
	}
	probe_stop(p);
	sink += acc;
	verify(f, evbuffer_get_length(b), evb_at, b, "evbuffer");
	evbuffer_free(b);
}
#endif

#ifdef HAVE_GLIB
static void
loop_gba(struct probe *p, const void *arg)
{
	const struct loop_arg *a = arg;
	const struct feed *f = a->f;
	GBytes **keep = calloc(f->count, sizeof(*keep));
	GByteArray *arr;
	uint64_t acc = 0;
	size_t off = 0;

	probe_start(p);
	arr = g_byte_array_new();
	for (size_t i = 0; i < f->count; i++) {
		g_byte_array_append(arr, f->src + off, (guint)f->piece);
		if (a->hold) {
			keep[i] = g_bytes_new(arr->data, arr->len);
			acc += ((const uint8_t *)g_bytes_get_data(keep[i], NULL))
				[arr->len - 1];
		} else {
			acc += arr->data[arr->len - 1];
		}
		off = feed_next(f, off);
	}
	probe_stop(p);
	sink += acc;
	verify(f, arr->len, gba_at, arr, "GByteArray");
	for (size_t i = 0; a->hold && i < f->count; i++)
		g_bytes_unref(keep[i]);
	free(keep);
	g_byte_array_free(arr, TRUE);
}
#endif

/* The same runs in both variants; the labels say what each peer's value
 * is. */
static const struct way loop_ways[2][5] = {
	{
		{ "ropeio", "ropeio write + getvalue", loop_rope, NULL },
		{ "evbuffer", "evbuffer_add + pullup", EVB(loop_evb) },
		{ "gbytearray", "GByteArray: append, ->data",
		  GBA(loop_gba) },
		{ "realloc", "realloc buffer: append, ->data", loop_rbuf,
		  NULL },
		{ "limit", "limit: memcpy, preallocated", loop_limit, NULL },
	}, {
		{ "ropeio", "ropeio write + getvalue", loop_rope, NULL },
		{ "evbuffer", "evbuffer_add + pullup", EVB(loop_evb) },
		{ "gbytearray", "GByteArray: append, g_bytes_new",
		  GBA(loop_gba) },
		{ "realloc", "realloc buffer: append, a copy", loop_rbuf,
		  NULL },
		{ "limit", "limit: memcpy, preallocated", loop_limit, NULL },
	},
};

static void
scen_loop(const size_t dropped[2], const size_t held[2], int reps_dropped,
	  int reps_held)
{
	static const struct {
		const char *id;
		bool hold, large;
	} runs[] = {
		{ "loop_dropped_small", false, false },
		{ "loop_dropped_large", false, true },
		{ "loop_held_small", true, false },
		{ "loop_held_large", true, true },
	};

	limit_prepare(MAX(dropped[1], held[1]) * LOOP_PIECE);
	for (size_t i = 0; i < ARRAY_SIZE(runs); i++) {
		const size_t *sizes = runs[i].hold ? held : dropped;
		size_t n = sizes[runs[i].large];
		struct feed f = { src_bytes, SRC_LEN, LOOP_PIECE, n };
		struct loop_arg a = { &f, runs[i].hold };
		int reps = runs[i].hold ? reps_held : reps_dropped;
		struct scen *s = scen_new(runs[i].id, COL_MBS,
					  (double)feed_bytes(&f),
					  "parser loop: %zu x (append 1,448 B, "
					  "getvalue), values %s (%d runs)", n,
					  runs[i].hold ? "held" : "dropped",
					  reps);

		measure(s, loop_ways[a.hold], ARRAY_SIZE(loop_ways[0]), &a,
			reps, 0);
		py_add(s, runs[i].id, "CPython write + getvalue");
	}
}

/* ------------------------------------------------------------------------ */
/* Scenario 6: an HTTP-like parser over random splits                       */
/* ------------------------------------------------------------------------ */

/*
 * A stream of request headers, each ending in "\r\n\r\n", arrives in random
 * pieces of 1 to 4,096 bytes. After each piece the parser looks for every
 * complete header (resuming its search 3 bytes before where the last one
 * stopped), reads its first 4 bytes, and consumes it. Every peer does
 * exactly that; the limit looks for the same ends in the whole stream,
 * already contiguous.
 */
struct http {
	uint8_t *stream;
	size_t len;
	uint32_t *splits;
	size_t nsplits;
	size_t messages;
	uint64_t check;          /* the sum of each header's bytes 0 and 3 */
};

static const char CRLF2[] = "\r\n\r\n";

static size_t
http_message(char *out, size_t room)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "HEAD" };
	size_t n = (size_t)snprintf(out, room, "%s /r/%u HTTP/1.1\r\n"
				    "Host: example.com\r\n",
				    methods[rng() % 4], (unsigned)(rng() % 100000));
	size_t headers = rng_range(2, 24);

	for (size_t h = 0; h < headers; h++) {
		size_t vlen = rng_range(8, 80);

		n += (size_t)snprintf(out + n, room - n, "X-H%zu: ", h);
		for (size_t i = 0; i < vlen; i++)
			out[n++] = "abcdefghijklmnopqrstuvwxyz0123456789"[rng() % 36];
		out[n++] = '\r';
		out[n++] = '\n';
	}
	memcpy(out + n, "\r\n", 2);
	return n + 2;
}

static void
http_generate(struct http *h, size_t target)
{
	size_t cap = target + 4 * KiB, left;

	*h = (struct http){ .stream = malloc(cap) };
	if (!h->stream)
		die("malloc");
	while (h->len < target) {
		char msg[4 * KiB];
		size_t n = http_message(msg, sizeof(msg));

		memcpy(h->stream + h->len, msg, n);
		h->check += (uint8_t)msg[0] + (uint8_t)msg[3];
		h->len += n;
		h->messages++;
	}
	h->splits = malloc((h->len + 1) * sizeof(*h->splits));
	if (!h->splits)
		die("malloc");
	for (left = h->len; left; ) {
		size_t n = rng_range(1, 4096);

		n = n < left ? n : left;
		h->splits[h->nsplits++] = (uint32_t)n;
		left -= n;
	}
}

/* What every parser counts, to be checked against the generator. */
struct http_tally {
	size_t messages;
	uint64_t check;
};

static void
http_seen(struct http_tally *t, const uint8_t head[4])
{
	t->messages++;
	t->check += head[0] + head[3];
}

static void
http_verify(const struct http *h, const struct http_tally *t, const char *who)
{
	if (t->messages != h->messages || t->check != h->check)
		die("%s parsed %zu messages (check %llu), not %zu (%llu)", who,
		    t->messages, (unsigned long long)t->check, h->messages,
		    (unsigned long long)h->check);
	sink += t->check;
}

/* Where the next search starts: 3 bytes before the end, for a "\r\n\r\n"
 * that the next piece completes. */
static size_t
resume_at(size_t len)
{
	return len > 3 ? len - 3 : 0;
}

static void
http_rope_find(struct probe *p, const void *arg)
{
	const struct http *h = arg;
	struct http_tally t = { 0 };
	const uint8_t *in = h->stream;
	struct rope *r;
	int64_t scan = 0;

	probe_start(p);
	r = rope_new();
	for (size_t i = 0; i < h->nsplits; in += h->splits[i++]) {
		int64_t at;
		uint8_t head[4];

		if (!r || rope_append(r, in, h->splits[i]) < 0)
			die("rope_append");
		while ((at = rope_find(r, CRLF2, 4, scan)) >= 0) {
			if (rope_pread(r, head, 4, 0) != 4 ||
			    rope_drain(r, (size_t)at + 4) < 0)
				die("rope_pread/rope_drain");
			http_seen(&t, head);
			scan = 0;
		}
		if (at != -ENOENT)
			die("rope_find: %lld", (long long)at);
		scan = (int64_t)resume_at(rope_size(r));
	}
	probe_stop(p);
	http_verify(h, &t, "ropeio rope_find");
	rope_free(r);
}

/* The "\r\n\r\n" matcher as a state machine: how much of the needle the
 * bytes seen so far end with (4: all of it). */
static unsigned
crlf2_step(unsigned state, uint8_t c)
{
	if (c == '\r')
		return state == 2 ? 3 : 1;
	if (c == '\n')
		return state == 1 ? 2 : state == 3 ? 4 : 0;
	return 0;
}

/*
 * rope_find() done by hand with a cursor: memmem() inside each contiguous
 * span that rope_cursor_peek() shows, the state machine across the joins.
 */
static int64_t
cursor_find_crlf2(const struct rope *r, int64_t from)
{
	struct rope_cursor c;
	unsigned state = 0;
	const void *span;
	ssize_t n;

	if (rope_cursor_init(&c, r, from) < 0)
		die("rope_cursor_init");
	while ((n = rope_cursor_peek(&c, &span)) > 0) {
		const uint8_t *s = span, *m;
		int64_t base = rope_cursor_tell(&c);
		size_t i = 0, len = (size_t)n;

		while (state && i < len)
			if ((state = crlf2_step(state, s[i++])) == 4)
				return base + (int64_t)i - 4;
		if (i < len && (m = memmem(s + i, len - i, CRLF2, 4)))
			return base + (m - s);
		/* A partial match at the end lies in the last 3 bytes. */
		for (size_t j = len > i + 3 ? len - 3 : i; j < len; j++)
			state = crlf2_step(state, s[j]);
		if (rope_cursor_skip(&c, len) < 0)
			die("rope_cursor_skip");
	}
	return -ENOENT;
}

static void
http_rope_cursor(struct probe *p, const void *arg)
{
	const struct http *h = arg;
	struct http_tally t = { 0 };
	const uint8_t *in = h->stream;
	struct rope *r;
	int64_t scan = 0;

	probe_start(p);
	r = rope_new();
	for (size_t i = 0; i < h->nsplits; in += h->splits[i++]) {
		struct rope_cursor c;
		int64_t at;
		uint8_t head[4];

		if (!r || rope_append(r, in, h->splits[i]) < 0)
			die("rope_append");
		while ((at = cursor_find_crlf2(r, scan)) >= 0) {
			if (rope_cursor_init(&c, r, 0) < 0 ||
			    rope_cursor_read(&c, head, 4) != 4 ||
			    rope_drain(r, (size_t)at + 4) < 0)
				die("rope_cursor_read/rope_drain");
			http_seen(&t, head);
			scan = 0;
		}
		scan = (int64_t)resume_at(rope_size(r));
	}
	probe_stop(p);
	http_verify(h, &t, "ropeio rope_cursor");
	rope_free(r);
}

static void
http_rbuf(struct probe *p, const void *arg)
{
	const struct http *h = arg;
	struct http_tally t = { 0 };
	const uint8_t *in = h->stream;
	struct rbuf b = { 0 };
	size_t scan = 0;

	probe_start(p);
	for (size_t i = 0; i < h->nsplits; in += h->splits[i++]) {
		const uint8_t *m;

		rbuf_append(&b, in, h->splits[i]);
		while ((m = memmem(b.data + scan, b.len - scan, CRLF2, 4))) {
			http_seen(&t, b.data);
			rbuf_consume(&b, (size_t)(m - b.data) + 4);
			scan = 0;
		}
		scan = resume_at(b.len);
	}
	probe_stop(p);
	http_verify(h, &t, "realloc buffer");
	rbuf_free(&b);
}

static void
http_limit(struct probe *p, const void *arg)
{
	const struct http *h = arg;
	struct http_tally t = { 0 };
	const uint8_t *at = h->stream, *end = h->stream + h->len, *m;

	probe_start(p);
	while ((m = memmem(at, (size_t)(end - at), CRLF2, 4))) {
		http_seen(&t, at);
		at = m + 4;
	}
	probe_stop(p);
	http_verify(h, &t, "limit");
}

#ifdef HAVE_LIBEVENT
static void
http_evb_search(struct probe *p, const void *arg)
{
	const struct http *h = arg;
	struct http_tally t = { 0 };
	const uint8_t *in = h->stream;
	struct evbuffer *b;
	size_t scan = 0;

	probe_start(p);
	b = evbuffer_new();
	for (size_t i = 0; i < h->nsplits; in += h->splits[i++]) {
		struct evbuffer_ptr from, at;
		uint8_t head[4];

		if (!b || evbuffer_add(b, in, h->splits[i]) < 0)
			die("evbuffer_add");
		for (;;) {
			if (evbuffer_ptr_set(b, &from, scan,
					     EVBUFFER_PTR_SET) < 0)
				die("evbuffer_ptr_set");
			at = evbuffer_search(b, CRLF2, 4, &from);
			if (at.pos < 0)
				break;
			if (evbuffer_copyout(b, head, 4) != 4 ||
			    evbuffer_drain(b, (size_t)at.pos + 4) < 0)
				die("evbuffer_copyout/evbuffer_drain");
			http_seen(&t, head);
			scan = 0;
		}
		scan = resume_at(evbuffer_get_length(b));
	}
	probe_stop(p);
	http_verify(h, &t, "evbuffer_search");
	evbuffer_free(b);
}

static void
http_evb_pullup(struct probe *p, const void *arg)
{
	const struct http *h = arg;
	struct http_tally t = { 0 };
	const uint8_t *in = h->stream;
	struct evbuffer *b;
	size_t scan = 0;

	probe_start(p);
	b = evbuffer_new();
	for (size_t i = 0; i < h->nsplits; in += h->splits[i++]) {
		const uint8_t *v, *m;
		size_t len;

		if (!b || evbuffer_add(b, in, h->splits[i]) < 0)
			die("evbuffer_add");
		for (;;) {
			len = evbuffer_get_length(b);
			v = evbuffer_pullup(b, -1);
			if (!v || !(m = memmem(v + scan, len - scan, CRLF2, 4)))
				break;
			http_seen(&t, v);
			if (evbuffer_drain(b, (size_t)(m - v) + 4) < 0)
				die("evbuffer_drain");
			scan = 0;
		}
		scan = resume_at(evbuffer_get_length(b));
	}
	probe_stop(p);
	http_verify(h, &t, "evbuffer_pullup");
	evbuffer_free(b);
}
#endif

#ifdef HAVE_GLIB
static void
http_gba(struct probe *p, const void *arg)
{
	const struct http *h = arg;
	struct http_tally t = { 0 };
	const uint8_t *in = h->stream;
	GByteArray *a;
	size_t scan = 0;

	probe_start(p);
	a = g_byte_array_new();
	for (size_t i = 0; i < h->nsplits; in += h->splits[i++]) {
		const uint8_t *m;

		g_byte_array_append(a, in, h->splits[i]);
		while ((m = memmem(a->data + scan, a->len - scan, CRLF2, 4))) {
			http_seen(&t, a->data);
			g_byte_array_remove_range(a, 0,
						  (guint)(m - a->data) + 4);
			scan = 0;
		}
		scan = resume_at(a->len);
	}
	probe_stop(p);
	http_verify(h, &t, "GByteArray");
	g_byte_array_free(a, TRUE);
}
#endif

static const struct way http_ways[] = {
	{ "ropeio", "ropeio rope_find", http_rope_find, NULL },
	{ "ropeio", "ropeio struct rope_cursor", http_rope_cursor, NULL },
	{ "evbuffer", "evbuffer_search", EVB(http_evb_search) },
	{ "evbuffer", "evbuffer_pullup + memmem", EVB(http_evb_pullup) },
	{ "gbytearray", "GByteArray + memmem", GBA(http_gba) },
	{ "realloc", "realloc buffer + memmem", http_rbuf, NULL },
	{ "limit", "limit: memmem, flat stream", http_limit, NULL },
};

static void
scen_http(const struct http *h, int reps)
{
	struct scen *s = scen_new("http", COL_MBS, (double)h->len,
				  "HTTP-like parser: %zu headers, %.1f MiB in "
				  "%zu random splits of 1-4096 B (%d runs)",
				  h->messages, (double)h->len / MiB,
				  h->nsplits, reps);

	measure(s, http_ways, ARRAY_SIZE(http_ways), h, reps, 0);
	py_add(s, "http", "CPython getvalue().find");
	if (py.ran && py.http_check != (double)h->check)
		die("CPython's parser saw other bytes (check %.0f, not %llu)",
		    py.http_check, (unsigned long long)h->check);
}

/* ------------------------------------------------------------------------ */
/* Scenario 7: exports, getbuffer and snapshots                             */
/* ------------------------------------------------------------------------ */

/*
 * Each peer's buffer is built once; then each repetition exports it and
 * releases the export. getbuffer: iovecs over the live bytes
 * (evbuffer_peek; a contiguous buffer is its own one iovec). Snapshot: an
 * immutable view that survives later writes (evbuffer_add_buffer_reference
 * into a new evbuffer; a contiguous buffer needs a copy).
 */
/* The rope's segments in the exports scenario, for the targets. */
static size_t export_segments;

struct export_arg {
	const struct feed *f;
	struct iovec *iov;
	int iovcnt;
	struct rope *rope;
	struct rbuf rbuf;
#ifdef HAVE_LIBEVENT
	struct evbuffer *evb;
#endif
#ifdef HAVE_GLIB
	GByteArray *gba;
#endif
};

static size_t
iov_sum(const struct iovec *iov, int n)
{
	size_t sum = 0;

	for (int i = 0; i < n; i++)
		sum += iov[i].iov_len;
	return sum;
}

static void
export_check(const struct export_arg *a, size_t n, const char *who)
{
	if (n != feed_bytes(a->f))
		die("%s exported %zu bytes", who, n);
}

static void
getbuffer_rope(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;
	int n;

	probe_start(p);
	n = rope_getbuffer(a->rope, NULL, 0);
	if (n < 0 || n > a->iovcnt ||
	    (n = rope_getbuffer(a->rope, a->iov, a->iovcnt)) < 0 ||
	    rope_releasebuffer(a->rope) < 0)
		die("rope_getbuffer");
	probe_stop(p);
	export_check(a, iov_sum(a->iov, n), "ropeio");
}

static void
snapshot_rope(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;
	struct rope_snap *s;
	size_t n;

	probe_start(p);
	if (rope_snapshot(a->rope, &s) < 0)
		die("rope_snapshot");
	n = rope_snap_size(s);
	rope_snap_unref(s);
	probe_stop(p);
	export_check(a, n, "ropeio");
}

static void
getbuffer_rbuf(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;

	probe_start(p);
	a->iov[0] = (struct iovec){ a->rbuf.data, a->rbuf.len };
	escape(a->iov);
	probe_stop(p);
	export_check(a, a->iov[0].iov_len, "realloc buffer");
}

static void
snapshot_rbuf(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;
	uint8_t *v;

	probe_start(p);
	v = copy_of(a->rbuf.data, a->rbuf.len);
	free(v);
	probe_stop(p);
	export_check(a, a->rbuf.len, "realloc buffer");
}

#ifdef HAVE_LIBEVENT
static void
getbuffer_evb(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;
	int n;

	probe_start(p);
	n = evbuffer_peek(a->evb, -1, NULL, NULL, 0);
	if (n < 0 || n > a->iovcnt ||
	    (n = evbuffer_peek(a->evb, -1, NULL, a->iov, n)) < 0)
		die("evbuffer_peek");
	probe_stop(p);
	export_check(a, iov_sum(a->iov, n), "evbuffer");
}

static void
snapshot_evb(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;
	struct evbuffer *s;
	size_t n;

	probe_start(p);
	s = evbuffer_new();
	if (!s || evbuffer_add_buffer_reference(s, a->evb) < 0)
		die("evbuffer_add_buffer_reference");
	n = evbuffer_get_length(s);
	evbuffer_free(s);
	probe_stop(p);
	export_check(a, n, "evbuffer");
}
#endif

#ifdef HAVE_GLIB
static void
getbuffer_gba(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;

	probe_start(p);
	a->iov[0] = (struct iovec){ a->gba->data, a->gba->len };
	escape(a->iov);
	probe_stop(p);
	export_check(a, a->iov[0].iov_len, "GByteArray");
}

static void
snapshot_gba(struct probe *p, const void *arg)
{
	const struct export_arg *a = arg;
	GBytes *v;
	size_t n;

	probe_start(p);
	v = g_bytes_new(a->gba->data, a->gba->len);
	n = g_bytes_get_size(v);
	g_bytes_unref(v);
	probe_stop(p);
	export_check(a, n, "GByteArray");
}
#endif

static const struct way getbuffer_ways[] = {
	{ "ropeio", "ropeio rope_getbuffer", getbuffer_rope, NULL },
	{ "evbuffer", "evbuffer_peek", EVB(getbuffer_evb) },
	{ "gbytearray", "GByteArray: data, len", GBA(getbuffer_gba) },
	{ "realloc", "realloc buffer: data, len", getbuffer_rbuf, NULL },
};

static const struct way snapshot_ways[] = {
	{ "ropeio", "ropeio rope_snapshot", snapshot_rope, NULL },
	{ "evbuffer", "evbuffer_add_buffer_reference", EVB(snapshot_evb) },
	{ "gbytearray", "g_bytes_new (a copy)", GBA(snapshot_gba) },
	{ "realloc", "realloc buffer: a copy", snapshot_rbuf, NULL },
};

static void
scen_exports(size_t bytes, int reps)
{
	struct feed f = feed_net(BUILD_PIECE, bytes);
	struct export_arg a = { .f = &f };
	struct rope_info info;
	struct scen *s;

	a.rope = rope_built(&f);
	rbuf_fill(&a.rbuf, &f);
#ifdef HAVE_LIBEVENT
	a.evb = evb_built(&f);
#endif
#ifdef HAVE_GLIB
	a.gba = gba_built(&f);
#endif
	rope_get_info(a.rope, &info);
	/* evbuffer holds one chain per 64 KiB append. */
	a.iovcnt = (int)(f.count + info.segments + 16);
	a.iov = calloc((size_t)a.iovcnt, sizeof(*a.iov));
	if (!a.iov)
		die("calloc");
	export_segments = info.segments;
	s = scen_new("getbuffer", COL_TOTAL | COL_ALLOCS, (double)bytes,
		     "getbuffer of %zu MiB in %zu ropeio segments: export and "
		     "release (%d runs)", bytes / MiB, info.segments, reps);
	measure(s, getbuffer_ways, ARRAY_SIZE(getbuffer_ways), &a, reps, 0);
	py_add(s, "getbuffer", "CPython getbuffer + release");
	s = scen_new("snapshot", COL_TOTAL | COL_ALLOCS, (double)bytes,
		     "snapshot of %zu MiB: take and release (%d runs)",
		     bytes / MiB, reps);
	measure(s, snapshot_ways, ARRAY_SIZE(snapshot_ways), &a, reps, 0);
	py_add(s, "snapshot", "CPython getvalue (shared)");
	s->note = "allocated: heap bytes allocated during the call (freed "
		  "after); CPython: tracemalloc's peak.";
	rope_free(a.rope);
	rbuf_free(&a.rbuf);
#ifdef HAVE_LIBEVENT
	evbuffer_free(a.evb);
#endif
#ifdef HAVE_GLIB
	g_byte_array_free(a.gba, TRUE);
#endif
	free(a.iov);
}

/* ------------------------------------------------------------------------ */
/* Scenario 8: a large rope to a file and to a loopback TCP socket          */
/* ------------------------------------------------------------------------ */

struct io_arg {
	bool tcp;
	const struct feed *f;
	struct rope_snap *snap;  /* the rope's bytes */
	const uint8_t *flat;     /* the same bytes, contiguous */
	size_t len;
#ifdef HAVE_URING
	struct rope_uring *uring, *fallback;
#endif
};

/* The receiving end of the TCP connection: reads everything, then ends. */
struct reader {
	pthread_t thread;
	int fd;
	size_t want, got;
};

static void *
reader_run(void *arg)
{
	struct reader *r = arg;
	static char buf[MiB];

	while (r->got < r->want) {
		ssize_t n = read(r->fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		r->got += (size_t)n;
	}
	return NULL;
}

static void
tcp_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		die("listen: %s", strerror(errno));
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect: %s", strerror(errno));
	fds[1] = accept(l, NULL, NULL);
	if (fds[1] < 0)
		die("accept: %s", strerror(errno));
	close(l);
}

/* The descriptor to write to: an unlinked file in /tmp (page cache) or the
 * sending end of a loopback connection whose reader is running. */
struct io_target {
	int fd;
	struct reader rd;
};

static void
target_open(struct io_target *t, const struct io_arg *a)
{
	if (a->tcp) {
		int fds[2];

		tcp_pair(fds);
		t->fd = fds[0];
		t->rd = (struct reader){ .fd = fds[1], .want = a->len };
		if (pthread_create(&t->rd.thread, NULL, reader_run, &t->rd))
			die("pthread_create");
	} else {
		char path[] = "/tmp/ropeio-bench-XXXXXX";

		t->fd = mkstemp(path);
		if (t->fd < 0)
			die("mkstemp: %s", strerror(errno));
		unlink(path);
	}
}

/* Wait until every byte has arrived (a socket's reader has read them). */
static void
target_wait(struct io_target *t, const struct io_arg *a)
{
	struct stat st;

	if (a->tcp) {
		shutdown(t->fd, SHUT_WR);
		pthread_join(t->rd.thread, NULL);
		if (t->rd.got != a->len)
			die("the reader got %zu bytes, not %zu", t->rd.got,
			    a->len);
	} else if (fstat(t->fd, &st) < 0 || (size_t)st.st_size != a->len) {
		die("the file holds the wrong size");
	}
}

static void
target_close(struct io_target *t, const struct io_arg *a)
{
	close(t->fd);
	if (a->tcp)
		close(t->rd.fd);
}

static void
io_write(struct probe *p, const void *arg)
{
	const struct io_arg *a = arg;
	struct io_target t;
	size_t off = 0;

	target_open(&t, a);
	probe_start(p);
	while (off < a->len) {
		ssize_t w = write(t.fd, a->flat + off, a->len - off);

		if (w <= 0)
			die("write: %s", strerror(errno));
		off += (size_t)w;
	}
	target_wait(&t, a);
	probe_stop(p);
	target_close(&t, a);
}

#ifdef HAVE_URING
static void
io_done(void *arg, ssize_t res)
{
	*(ssize_t *)arg = res;
}

static void
io_engine(struct probe *p, const struct io_arg *a, struct rope_uring *u)
{
	struct io_target t;
	ssize_t res = 0;
	int ret;

	target_open(&t, a);
	probe_start(p);
	if (a->tcp)
		ret = rope_uring_send(u, t.fd, a->snap, 0, SIZE_MAX, 0,
				      io_done, &res);
	else
		ret = rope_uring_pwrite(u, t.fd, a->snap, 0, SIZE_MAX, 0,
					io_done, &res);
	if (ret < 0)
		die("rope_uring_send/pwrite: %d", ret);
	while (rope_uring_pending(u))
		if ((ret = rope_uring_run(u, 1)) < 0)
			die("rope_uring_run: %d", ret);
	if (res != (ssize_t)a->len)
		die("the transfer ended with %zd", res);
	target_wait(&t, a);
	probe_stop(p);
	target_close(&t, a);
}

static void
io_uring(struct probe *p, const void *arg)
{
	const struct io_arg *a = arg;

	if (!a->uring) {
		p->skip = "io_uring is unavailable here (the engine fell "
			  "back to plain syscalls)";
		return;
	}
	io_engine(p, a, a->uring);
}

static void
io_fallback(struct probe *p, const void *arg)
{
	io_engine(p, arg, ((const struct io_arg *)arg)->fallback);
}
#define URING(fn) fn, NULL
#else
#define URING(fn) NULL, SKIP_URING
#endif

#ifdef HAVE_LIBEVENT
/* evbuffer_write() drains what it wrote, so each run writes a fresh
 * evbuffer, built (by copying appends, not timed) before the clock starts. */
static void
io_evb(struct probe *p, const void *arg)
{
	const struct io_arg *a = arg;
	struct evbuffer *b = evb_built(a->f);
	struct io_target t;

	target_open(&t, a);
	probe_start(p);
	while (evbuffer_get_length(b))
		if (evbuffer_write(b, t.fd) < 0)
			die("evbuffer_write: %s", strerror(errno));
	target_wait(&t, a);
	probe_stop(p);
	target_close(&t, a);
	evbuffer_free(b);
}
#endif

static const struct way io_ways[] = {
	{ "ropeio", "ropeio io_uring engine", URING(io_uring) },
	{ "ropeio", "ropeio fallback (ROPEIO_NO_URING)", URING(io_fallback) },
	{ "evbuffer", "evbuffer_write loop", EVB(io_evb) },
	{ "limit", "limit: one write(), flat", io_write, NULL },
};

#ifdef HAVE_URING
/* An engine, forced onto plain syscalls or not; NULL when io_uring was
 * wanted but is not available. */
static struct rope_uring *
engine_new(bool fallback)
{
	struct rope_uring *u;

	if (fallback)
		setenv("ROPEIO_NO_URING", "1", 1);
	else
		unsetenv("ROPEIO_NO_URING");
	if (rope_uring_new(&u, 64) < 0)
		die("rope_uring_new");
	unsetenv("ROPEIO_NO_URING");
	if (!fallback && rope_uring_is_fallback(u)) {
		rope_uring_free(u);
		return NULL;
	}
	return u;
}
#endif

static void
scen_io(size_t bytes, int reps)
{
	struct feed f = feed_net(BUILD_PIECE, bytes);
	struct rope *r = rope_built(&f);
	struct io_arg a = { .f = &f, .len = bytes };
	uint8_t *flat = malloc(bytes);

	if (!flat || rope_snapshot(r, &a.snap) < 0 ||
	    rope_pread(r, flat, bytes, 0) != (ssize_t)bytes)
		die("setting up the I/O scenario");
	a.flat = flat;
#ifdef HAVE_URING
	a.uring = engine_new(false);
	a.fallback = engine_new(true);
#endif
	for (int tcp = 0; tcp < 2; tcp++) {
		struct scen *s;

		a.tcp = tcp;
		s = scen_new(tcp ? "io_tcp" : "io_file",
			     COL_MBS | COL_FIRST | COL_TOTAL, (double)bytes,
			     "write %zu MiB (64 KiB appends) to %s (%d runs "
			     "after a first one)", bytes / MiB,
			     tcp ? "a loopback TCP socket, read by a thread"
				 : "a file in /tmp (page cache)", reps);
		measure(s, io_ways, ARRAY_SIZE(io_ways), &a, reps, 1);
		if (tcp)
			s->note = "timed: until the last byte is in the file "
				  "or read by the other end. allocated: heap "
				  "allocated during the transfer. first: the "
				  "untimed first run (a new ring starts its "
				  "kernel workers).";
	}
#ifdef HAVE_URING
	rope_uring_free(a.uring);
	rope_uring_free(a.fallback);
#endif
	rope_snap_unref(a.snap);
	rope_free(r);
	free(flat);
}

/* ------------------------------------------------------------------------ */
/* Scenario 9: memory per empty buffer and per segment                      */
/* ------------------------------------------------------------------------ */

#define EMPTIES 1000
#define PIECES 10000

/* Pieces appended by reference: 16 bytes every 32, so no two are
 * adjacent and each stays its own segment. */
static const uint8_t *
ref_piece(size_t i)
{
	return src_bytes + (i * 32) % (SRC_LEN - 32);
}

static void
empty_rope(struct probe *p, const void *arg UNUSED)
{
	struct rope **r = calloc(EMPTIES, sizeof(*r));

	probe_start(p);
	for (int i = 0; i < EMPTIES; i++)
		if (!(r[i] = rope_new()))
			die("rope_new");
	probe_stop(p);
	for (int i = 0; i < EMPTIES; i++)
		rope_free(r[i]);
	free(r);
	probe_scale(p, EMPTIES);
}

static void
empty_rbuf(struct probe *p, const void *arg UNUSED)
{
	struct rbuf **b = calloc(EMPTIES, sizeof(*b));

	probe_start(p);
	for (int i = 0; i < EMPTIES; i++)
		if (!(b[i] = calloc(1, sizeof(**b))))
			die("calloc");
	probe_stop(p);
	for (int i = 0; i < EMPTIES; i++)
		free(b[i]);
	free(b);
	probe_scale(p, EMPTIES);
}

static void
segment_rope(struct probe *p, const void *arg UNUSED)
{
	struct rope *r = rope_new();

	if (!r)
		die("rope_new");
	probe_start(p);
	for (size_t i = 0; i < PIECES; i++)
		if (rope_append_ref(r, ref_piece(i), 16, NULL, NULL) < 0)
			die("rope_append_ref");
	probe_stop(p);
	if (rope_size(r) != PIECES * 16)
		die("rope_append_ref lost bytes");
	rope_free(r);
	probe_scale(p, PIECES);
}

#ifdef HAVE_LIBEVENT
static void
empty_evb(struct probe *p, const void *arg UNUSED)
{
	struct evbuffer **b = calloc(EMPTIES, sizeof(*b));

	probe_start(p);
	for (int i = 0; i < EMPTIES; i++)
		if (!(b[i] = evbuffer_new()))
			die("evbuffer_new");
	probe_stop(p);
	for (int i = 0; i < EMPTIES; i++)
		evbuffer_free(b[i]);
	free(b);
	probe_scale(p, EMPTIES);
}

static void
segment_evb(struct probe *p, const void *arg UNUSED)
{
	struct evbuffer *b = evbuffer_new();

	if (!b)
		die("evbuffer_new");
	probe_start(p);
	for (size_t i = 0; i < PIECES; i++)
		if (evbuffer_add_reference(b, ref_piece(i), 16, NULL, NULL) < 0)
			die("evbuffer_add_reference");
	probe_stop(p);
	if (evbuffer_get_length(b) != PIECES * 16)
		die("evbuffer_add_reference lost bytes");
	evbuffer_free(b);
	probe_scale(p, PIECES);
}
#endif

#ifdef HAVE_GLIB
static void
empty_gba(struct probe *p, const void *arg UNUSED)
{
	GByteArray **a = calloc(EMPTIES, sizeof(*a));

	probe_start(p);
	for (int i = 0; i < EMPTIES; i++)
		a[i] = g_byte_array_new();
	probe_stop(p);
	for (int i = 0; i < EMPTIES; i++)
		g_byte_array_free(a[i], TRUE);
	free(a);
	probe_scale(p, EMPTIES);
}
#endif

static const struct way empty_ways[] = {
	{ "ropeio", "ropeio rope_new", empty_rope, NULL },
	{ "evbuffer", "evbuffer_new", EVB(empty_evb) },
	{ "gbytearray", "g_byte_array_new", GBA(empty_gba) },
	{ "realloc", "realloc buffer (its struct)", empty_rbuf, NULL },
};

static const struct way segment_ways[] = {
	{ "ropeio", "ropeio rope_append_ref", segment_rope, NULL },
	{ "evbuffer", "evbuffer_add_reference", EVB(segment_evb) },
};

/* ropeio's own view of itself, for the JSON and the targets. */
static struct rope_info empty_info, seg_info;
static double empty_own_bytes, empty_own_allocs;

static void
rope_self_report(void)
{
	struct rope_mem_stats a, b;
	struct rope *r;

	rope_mem_stats(&a);
	r = rope_new();
	rope_mem_stats(&b);
	if (!r || rope_get_info(r, &empty_info) < 0)
		die("rope_get_info");
	empty_own_bytes = (double)(b.allocated - a.allocated);
	empty_own_allocs = (double)(b.allocs - a.allocs);
	for (size_t i = 0; i < PIECES; i++)
		if (rope_append_ref(r, ref_piece(i), 16, NULL, NULL) < 0)
			die("rope_append_ref");
	rope_get_info(r, &seg_info);
	rope_free(r);
}

static void
scen_memory(void)
{
	struct scen *s;

	s = scen_new("mem_empty", COL_NOTIME | COL_KEPT | COL_ALLOCS, 0,
		     "memory per empty buffer (mean of %d)", EMPTIES);
	measure(s, empty_ways, ARRAY_SIZE(empty_ways), NULL, 1, 0);
	py_add(s, "mem_empty", "CPython BytesIO()");
	s = scen_new("mem_segment", COL_NOTIME | COL_KEPT | COL_ALLOCS, 0,
		     "memory per piece appended by reference (16-byte pieces, "
		     "mean of %d)", PIECES);
	measure(s, segment_ways, ARRAY_SIZE(segment_ways), NULL, 1, 0);
	rope_self_report();
	s->note = "GByteArray, the realloc buffer and CPython cannot append "
		  "by reference.";
}

/* ------------------------------------------------------------------------ */
/* The tables                                                               */
/* ------------------------------------------------------------------------ */

static const char *
peer_name(const char *peer)
{
	static const struct {
		const char *id, *name;
	} names[] = {
		{ "ropeio", "ropeio" },
		{ "evbuffer", "libevent evbuffer" },
		{ "gbytearray", "GLib GByteArray" },
		{ "realloc", "realloc-doubling buffer" },
		{ "cpython", "CPython io.BytesIO" },
		{ "limit", "the limit" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(names[i].id, peer))
			return names[i].name;
	return peer;
}

/* A unit for @s seconds: the scale to multiply by and its name. */
static double
time_unit(double s, const char **name)
{
	if (s < 1e-6) {
		*name = "ns";
		return 1e9;
	}
	if (s < 1e-3) {
		*name = "us";
		return 1e6;
	}
	if (s < 1) {
		*name = "ms";
		return 1e3;
	}
	*name = "s";
	return 1;
}

static void
fmt_time(char *out, size_t n, double s)
{
	const char *unit;
	double k = time_unit(s, &unit);

	if (isnan(s))
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%.3g %s", s * k, unit);
}

static void
fmt_range(char *out, size_t n, double lo, double hi)
{
	const char *unit;
	double k = time_unit(hi, &unit);

	if (isnan(lo))
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%.3g-%.3g %s", lo * k, hi * k, unit);
}

static void
fmt_bytes(char *out, size_t n, double b, bool mark)
{
	double a = fabs(b);
	const char *star = mark ? "*" : "";

	if (isnan(b))
		snprintf(out, n, "-");
	else if (a < 10 * KiB)
		snprintf(out, n, "%+.0f B%s", b, star);
	else if (a < 1000 * KiB)
		snprintf(out, n, "%+.1f KiB%s", b / KiB, star);
	else if (a < 1000 * MiB)
		snprintf(out, n, "%+.1f MiB%s", b / MiB, star);
	else
		snprintf(out, n, "%+.2f GiB%s", b / GiB, star);
}

static void
fmt_ratio(char *out, size_t n, double r)
{
	if (isnan(r) || isinf(r))
		snprintf(out, n, "-");
	else if (r < 0.01)
		snprintf(out, n, "%.1g", r);
	else if (r < 10)
		snprintf(out, n, "%.2f", r);
	else
		snprintf(out, n, "%.0f", r);
}

static void
fmt_rate(char *out, size_t n, double bytes, double s)
{
	if (isnan(s) || s <= 0 || bytes <= 0)
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%.0f", bytes / s / 1e6);
}

static const struct {
	unsigned col;
	const char *head;
} mem_cols[] = {
	{ COL_KEPT, "heap kept" },
	{ COL_PEAK, "heap peak" },
	{ COL_RSS, "RSS peak" },
	{ COL_TOTAL, "allocated" },
	{ COL_ALLOCS, "allocs" },
};

static double
fig_mem(const struct fig *f, unsigned col)
{
	switch (col) {
	case COL_KEPT:
		return median(f->kept, f->n);
	case COL_PEAK:
		return median(f->peak, f->n);
	case COL_RSS:
		return median(f->rss, f->n);
	case COL_TOTAL:
		return f->tracemalloc ? median(f->peak, f->n)
				      : median(f->total, f->n);
	default:
		return median(f->allocs, f->n);
	}
}

static void
print_head(const struct scen *s)
{
	printf("   %-34s", "");
	if (!(s->cols & COL_NOTIME))
		printf(" %9s %17s %6s %7s", "median", "min-max", "x best",
		       "x limit");
	if (s->cols & COL_MBS)
		printf(" %6s", "MB/s");
	if (s->cols & COL_FIRST)
		printf(" %6s", "first");
	for (size_t c = 0; c < ARRAY_SIZE(mem_cols); c++)
		if (s->cols & mem_cols[c].col)
			printf(" %11s", mem_cols[c].head);
	printf("\n");
}

static void
print_fig(const struct scen *s, const struct fig *f)
{
	char a[32], b[32], c[32], d[32];

	printf("   %-34s", f->label);
	if (f->skip || !f->n) {
		printf(" skipped: %s\n", f->skip ? f->skip : "not measured");
		return;
	}
	if (!(s->cols & COL_NOTIME)) {
		fmt_time(a, sizeof(a), f->med);
		fmt_range(b, sizeof(b), f->min, f->max);
		fmt_ratio(c, sizeof(c), f->vs_best);
		fmt_ratio(d, sizeof(d), f->vs_limit);
		printf(" %9s %17s %6s %7s", a, b, c, d);
	}
	if (s->cols & COL_MBS) {
		fmt_rate(a, sizeof(a), s->bytes, f->med);
		printf(" %6s", a);
	}
	if (s->cols & COL_FIRST) {
		fmt_rate(a, sizeof(a), s->bytes, f->first);
		printf(" %6s", a);
	}
	for (size_t i = 0; i < ARRAY_SIZE(mem_cols); i++) {
		unsigned col = mem_cols[i].col;
		double v = fig_mem(f, col);

		if (!(s->cols & col))
			continue;
		if (col == COL_ALLOCS)
			snprintf(a, sizeof(a), isnan(v) ? "-" : "%.1f", v);
		else
			fmt_bytes(a, sizeof(a), v, f->tracemalloc);
		printf(" %11s", a);
	}
	printf("\n");
}

/* Wrap @text at 76 columns, indented by 3. */
static void
print_note(const char *text)
{
	const char *p = text;

	while (*p) {
		size_t n = strlen(p), cut = n;

		if (n > 76) {
			cut = 76;
			while (cut > 0 && p[cut] != ' ')
				cut--;
			if (!cut)
				cut = 76;
		}
		printf("   %.*s\n", (int)cut, p);
		p += cut;
		while (*p == ' ')
			p++;
	}
}

static void
print_scen(int num, const struct scen *s)
{
	printf("%d. %s\n\n", num, s->title);
	print_head(s);
	for (int i = 0; i < s->nfig; i++)
		print_fig(s, &s->fig[i]);
	if (s->note) {
		printf("\n");
		print_note(s->note);
	}
	printf("\n");
}

/* The parser loop's cost per byte with 4x the appends, relative to 1x:
 * 1 when the loop is O(total bytes), 4 when it is O(appends x size). */
static double
loop_growth(const char *kind, int fig)
{
	char small[32], large[32];
	const struct scen *a, *b;

	snprintf(small, sizeof(small), "loop_%s_small", kind);
	snprintf(large, sizeof(large), "loop_%s_large", kind);
	a = scen_find(small);
	b = scen_find(large);
	if (!a || !b || fig >= a->nfig || !a->fig[fig].n || !b->fig[fig].n)
		return NAN;
	return (b->fig[fig].med / b->bytes) / (a->fig[fig].med / a->bytes);
}

static void
print_loop_growth(void)
{
	const struct scen *d[2] = { scen_find("loop_dropped_small"),
				    scen_find("loop_dropped_large") };
	const struct scen *h[2] = { scen_find("loop_held_small"),
				    scen_find("loop_held_large") };

	if (!d[0] || !d[1] || !h[0] || !h[1])
		return;
	printf("   The loop's cost per byte with 4x the appends (dropped: "
	       "%.0f instead of %.0f;\n   held: %.0f instead of %.0f), over "
	       "the cost per byte at 1x. 1 means\n   O(total bytes), 4 means "
	       "O(appends x size); caches and page faults add some.\n\n",
	       d[1]->bytes / LOOP_PIECE, d[0]->bytes / LOOP_PIECE,
	       h[1]->bytes / LOOP_PIECE, h[0]->bytes / LOOP_PIECE);
	printf("   %-34s %9s %9s\n", "", "dropped", "held");
	for (int i = 0; i < d[0]->nfig; i++) {
		char a[16], b[16];

		fmt_ratio(a, sizeof(a), loop_growth("dropped", i));
		fmt_ratio(b, sizeof(b), loop_growth("held", i));
		printf("   %-34s %9s %9s\n", peer_name(d[0]->fig[i].peer), a,
		       b);
	}
	printf("\n");
}

/* ------------------------------------------------------------------------ */
/* The targets of DESIGN.md section 5                                       */
/* ------------------------------------------------------------------------ */

enum { NOT_MET, MET, NOT_MEASURED, REPORTED };

struct target {
	char what[160];
	char measured[160];
	int status;
};

static struct target targets[32];
static int ntargets;

static struct target *
target_new(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct target *
target_new(const char *fmt, ...)
{
	struct target *t = &targets[ntargets++];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->what, sizeof(t->what), fmt, ap);
	va_end(ap);
	t->status = NOT_MEASURED;
	snprintf(t->measured, sizeof(t->measured), "not measured");
	return t;
}

/* A ratio target: met when @r is at most (or at least) @bound. @what
 * says what the ratio is. */
static void
target_ratio(struct target *t, double r, double bound, bool at_most,
	     const char *what)
{
	if (isnan(r))
		return;
	snprintf(t->measured, sizeof(t->measured), "%.3g = %s", r, what);
	t->status = (at_most ? r <= bound : r >= bound) ? MET : NOT_MET;
}

/* Add context to a target's measurement: @pre, @v, @post. */
static void
target_note(struct target *t, const char *pre, double v, const char *post)
{
	size_t n = strlen(t->measured);

	if (t->status != NOT_MEASURED && !isnan(v))
		snprintf(t->measured + n, sizeof(t->measured) - n,
			 "%s%.3g%s", pre, v, post);
}

static double
ratio(const struct fig *a, const struct fig *b)
{
	return a && b ? a->med / b->med : NAN;
}

static void
targets_appends(void)
{
	static const char *const ids[] = { "append11_50k", "append11_10m" };
	static const char *const what[] = { "50,000", "10 million" };
	const struct fig *r;
	struct target *t;

	if (!scen_find(ids[0]))
		return;         /* not run (--only) */
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		r = fig_get(ids[i], "ropeio");
		t = target_new("11-byte appends (%s): within 1.5x of appending "
			       "into a preallocated array", what[i]);
		target_ratio(t, ratio(r, fig_get(ids[i], "limit")), 1.5, true,
			     "ropeio's time / the limit's");
		target_note(t, " (", ratio(r, fig_get(ids[i], "ref")),
			    " over the same memcpy into a fresh malloc)");
		target_ratio(target_new("11-byte appends (%s): at least 3x "
					"faster than evbuffer_add", what[i]),
			     ratio(fig_get(ids[i], "evbuffer"), r), 3, false,
			     "evbuffer_add's time / ropeio's");
	}
	r = fig_get("append64k", "ropeio");
	t = target_new("64 KiB appends: at least 0.8x of memcpy bandwidth");
	target_ratio(t, ratio(fig_get("append64k", "limit"), r), 0.8, false,
		     "memcpy's time (preallocated) / ropeio's");
	target_note(t, " (", ratio(fig_get("append64k", "ref"), r),
		    " with memcpy into a fresh malloc)");
}

static void
targets_getvalue(void)
{
	const struct scen *s = scen_find("getvalue_first");
	const struct fig *first = fig_get("getvalue_first", "ropeio");
	const struct fig *again = fig_get("getvalue_again", "ropeio");
	struct target *t;
	double mib = s ? s->bytes / MiB : 0;

	if (!s)
		return;

	target_ratio(target_new("getvalue of %.0f MiB, first call: no more "
				"than one memcpy (<= 1.10x malloc+memcpy; 10%% "
				"for noise)", mib),
		     ratio(first, fig_get("getvalue_first", "limit")), 1.10,
		     true, "ropeio's time / one malloc+memcpy's");
	target_ratio(target_new("getvalue of %.0f MiB, repeated call: O(1) "
				"(<= 0.1%% of the first call)", mib),
		     ratio(again, first), 0.001, true,
		     "the second call's time / the first's");
	t = target_new("getvalue of %.0f MiB: extra peak memory no more than "
		       "one chunk (1 MiB, the largest that appends make), "
		       "resident", mib);
	if (first && s) {
		double rss = median(first->rss, first->n);
		double peak = median(first->peak, first->n);

		snprintf(t->measured, sizeof(t->measured), "RSS +%.1f MiB, "
			 "heap +%.1f MiB (%.3fx the data)", rss / MiB,
			 peak / MiB, peak / s->bytes);
		t->status = rss <= MiB + 64 * KiB ? MET : NOT_MET;
	}
}

static void
targets_held(void)
{
	static const struct {
		const char *id, *what;
		double write;
	} ops[] = {
		{ "held_append_1", "append 1 B", 1 },
		{ "held_append_1mib", "append 1 MiB", MiB },
		{ "held_overwrite_1", "overwrite 1 B", 1 },
	};

	if (!scen_find(ops[0].id))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		const struct fig *f = fig_get(ops[i].id, "ropeio");
		struct target *t = target_new("value held, %s: memory grows by "
					      "the write (<= write + 64 KiB)",
					      ops[i].what);
		double kept, peak;

		if (!f)
			continue;
		kept = median(f->own_kept, f->n);
		peak = median(f->own_peak, f->n);
		snprintf(t->measured, sizeof(t->measured), "kept %+.0f B, "
			 "peak %+.0f B (rope_mem_stats)", kept, peak);
		t->status = fmax(kept, peak) <= ops[i].write + 64 * KiB
			    ? MET : NOT_MET;
	}
}

static void
targets_loop(void)
{
	static const char *const kinds[] = { "dropped", "held" };

	if (!scen_find("loop_dropped_small"))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		target_ratio(target_new("parser loop (append, then getvalue), "
					"values %s: O(total bytes) (cost per "
					"byte at 4x the appends <= 2x, the "
					"midpoint of 1x and 4x)", kinds[i]),
			     loop_growth(kinds[i], 0), 2, true,
			     "ropeio's time per byte at 4x the appends / "
			     "at 1x");
}

static void
targets_exports(void)
{
	static const char *const ids[] = { "getbuffer", "snapshot" };

	if (!scen_find(ids[0]))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		const struct fig *f = fig_get(ids[i], "ropeio");
		const struct scen *s = scen_find(ids[i]);
		struct target *t;
		double total;

		t = target_new("%s of %.0f MiB: zero bytes copied (ropeio "
			       "allocates < 1%% of the data during the call)",
			       ids[i], s ? s->bytes / MiB : 0);
		if (!f || !s)
			continue;
		total = median(f->own_total, f->n);
		snprintf(t->measured, sizeof(t->measured), "%.0f B allocated "
			 "(rope_mem_stats) for %zu segments; %.0f ns per "
			 "segment", total,
			 export_segments,
			 f->med * 1e9 / (double)export_segments);
		t->status = total < s->bytes / 100 ? MET : NOT_MET;
	}
}

static void
targets_io(void)
{
	static const char *const ids[] = { "io_file", "io_tcp" };
	static const char *const ways[] = { "ropeio io_uring",
					    "ropeio fallback" };

	if (!scen_find(ids[0]))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		for (size_t w = 0; w < ARRAY_SIZE(ways); w++) {
			const struct fig *f = fig_get_label(ids[i], "ropeio",
							    ways[w]);

			target_ratio(target_new("%s to a %s: at least 0.95x "
						"of one write() of the flat "
						"bytes", ways[w],
						i ? "loopback TCP socket"
						  : "file"),
				     ratio(fig_get(ids[i], "limit"), f), 0.95,
				     false, "write()'s time / ropeio's");
		}
	}
}

static void
targets_memory(void)
{
	const struct fig *e = fig_get("mem_empty", "ropeio");
	const struct fig *s = fig_get("mem_segment", "ropeio");
	struct target *t;

	if (!scen_find("mem_empty"))
		return;
	t = target_new("an empty rope allocates nothing beyond its struct");
	if (e) {
		snprintf(t->measured, sizeof(t->measured),
			 "%.0f allocation(s) of %.0f B (rope_mem_stats); "
			 "the struct: %zu B", empty_own_allocs,
			 empty_own_bytes, empty_info.overhead);
		t->status = empty_own_allocs == 1 &&
			    empty_own_bytes == (double)empty_info.overhead
			    ? MET : NOT_MET;
	}
	t = target_new("per-segment overhead: small, and reported");
	if (s) {
		snprintf(t->measured, sizeof(t->measured), "%zu B per segment "
			 "entry (rope_get_info); %.1f B per piece appended by "
			 "reference (rope_mem_stats)", seg_info.segment_bytes,
			 median(s->own_kept, s->n));
		t->status = REPORTED;
	}
}

static void
targets_compute(void)
{
	targets_appends();
	targets_getvalue();
	targets_held();
	targets_loop();
	targets_exports();
	targets_io();
	targets_memory();
}

static const char *
status_name(int status)
{
	static const char *const names[] = {
		[NOT_MET] = "NOT MET",
		[MET] = "met",
		[NOT_MEASURED] = "not measured",
		[REPORTED] = "reported",
	};

	return names[status];
}

static void
print_targets(void)
{
	int met = 0, not_met = 0;

	printf("Targets (DESIGN.md section 5), from the medians above\n\n");
	for (int i = 0; i < ntargets; i++) {
		const struct target *t = &targets[i];

		printf("   %-12s %s\n   %-12s %s\n", status_name(t->status),
		       t->what, "", t->measured);
		met += t->status == MET;
		not_met += t->status == NOT_MET;
	}
	printf("\n   %d met, %d not met, %d not measured or only reported\n\n",
	       met, not_met, ntargets - met - not_met);
}

/* ------------------------------------------------------------------------ */
/* The machine                                                              */
/* ------------------------------------------------------------------------ */

static struct {
	char uname[512];
	char cpu[128];
	long nproc;
	char date[64];
	char compiler[96];
	char libevent[32];
	char glib[32];
	bool uring;
} machine;

static void
machine_read(void)
{
	struct utsname u;
	char line[256];
	FILE *f;
	time_t t = time(NULL);

	if (uname(&u) == 0)
		snprintf(machine.uname, sizeof(machine.uname), "%s %s %s %s",
			 u.sysname, u.release, u.version, u.machine);
	machine.nproc = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(machine.cpu, sizeof(machine.cpu), "unknown");
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && colon) {
			snprintf(machine.cpu, sizeof(machine.cpu), "%s",
				 colon + 2);
			machine.cpu[strcspn(machine.cpu, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	strftime(machine.date, sizeof(machine.date), "%Y-%m-%dT%H:%M:%SZ",
		 gmtime(&t));
#if defined(__clang__)
	snprintf(machine.compiler, sizeof(machine.compiler), "clang %s",
		 __clang_version__);
#elif defined(__GNUC__)
	snprintf(machine.compiler, sizeof(machine.compiler), "gcc %s",
		 __VERSION__);
#endif
#ifdef __OPTIMIZE__
	strncat(machine.compiler, ", optimized",
		sizeof(machine.compiler) - strlen(machine.compiler) - 1);
#else
	strncat(machine.compiler, ", NOT optimized",
		sizeof(machine.compiler) - strlen(machine.compiler) - 1);
#endif
#ifdef HAVE_LIBEVENT
	snprintf(machine.libevent, sizeof(machine.libevent), "%s",
		 event_get_version());
#endif
#ifdef HAVE_GLIB
	snprintf(machine.glib, sizeof(machine.glib), "%u.%u.%u",
		 glib_major_version, glib_minor_version, glib_micro_version);
#endif
#ifdef HAVE_URING
	{
		struct rope_uring *e = engine_new(false);

		machine.uring = e != NULL;
		rope_uring_free(e);
	}
#endif
}

static void
print_intro(const char *mode)
{
	printf("ropeio %d.%d.%d benchmark tour (%s), %s\n",
	       ROPEIO_VERSION_MAJOR, ROPEIO_VERSION_MINOR, ROPEIO_VERSION_PATCH,
	       mode, machine.date);
	printf("machine: %s; %ld CPUs, %s; %s\n", machine.uname, machine.nproc,
	       machine.cpu, machine.compiler);
	printf("peers: libevent %s, GLib %s, CPython %s, a realloc-doubling "
	       "buffer; io_uring %s\n\n",
	       machine.libevent[0] ? machine.libevent : "(skipped)",
	       machine.glib[0] ? machine.glib : "(skipped)",
	       py.ran ? py.version : "(skipped)",
	       machine.uring ? "available" : "unavailable");
	printf("How to read it. Times: median, min-max of the runs. x best: "
	       "the median over\nthe best peer's median (the limit is not a "
	       "peer); x limit: over the limit's\nmedian; lower is better. "
	       "MB/s: 10^6 bytes per second at the median.\n");
	printf("Memory, with the method of each column: heap kept / heap peak "
	       "/ allocated:\nbytes from malloc (every block's "
	       "malloc_usable_size, counted by the bench's\nmalloc wrapper, "
	       "the same for every C peer and ropeio), after the operation /\n"
	       "at its peak / allocated during it; values marked * are "
	       "CPython's, from\ntracemalloc. RSS peak: resident memory "
	       "(VmHWM, reset by /proc/self/clear_refs)\nabove the start.\n"
	       "Every run, C or Python, starts with freed heap returned to "
	       "the kernel\n(malloc_trim): each peer pays the page faults of "
	       "the memory it touches.\n\n");
	if (!HEAP_COUNTED)
		printf("This build uses AddressSanitizer: heap columns are "
		       "not measured.\n\n");
	if (!rss_resets)
		printf("/proc/self/clear_refs cannot reset VmHWM here: RSS "
		       "peaks are not measured.\n\n");
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                     */
/* ------------------------------------------------------------------------ */

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void
json_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.9g", v);
}

static void
json_array(FILE *f, const double *v, int n)
{
	fputc('[', f);
	for (int i = 0; i < n; i++) {
		if (i)
			fputs(", ", f);
		json_num(f, v[i]);
	}
	fputc(']', f);
}

static void
json_fig(FILE *f, const struct fig *g)
{
	fputs("        {\"peer\": ", f);
	json_str(f, g->peer);
	fputs(", \"label\": ", f);
	json_str(f, g->label);
	if (g->skip || !g->n) {
		fputs(", \"skipped\": ", f);
		json_str(f, g->skip ? g->skip : "not measured");
		fputs("}", f);
		return;
	}
	fprintf(f, ", \"memory_method\": \"%s\",\n         \"seconds\": ",
		g->tracemalloc ? "tracemalloc" : "malloc_usable_size");
	json_array(f, g->t, g->n);
	fputs(", \"median\": ", f);
	json_num(f, g->med);
	fputs(", \"min\": ", f);
	json_num(f, g->min);
	fputs(", \"max\": ", f);
	json_num(f, g->max);
	fputs(", \"vs_best\": ", f);
	json_num(f, g->vs_best);
	fputs(", \"vs_limit\": ", f);
	json_num(f, g->vs_limit);
	fputs(", \"first_run\": ", f);
	json_num(f, g->first);
	fputs(",\n         \"heap_kept\": ", f);
	json_array(f, g->kept, g->n);
	fputs(", \"heap_peak\": ", f);
	json_array(f, g->peak, g->n);
	fputs(", \"heap_allocated\": ", f);
	json_array(f, g->total, g->n);
	fputs(", \"allocations\": ", f);
	json_array(f, g->allocs, g->n);
	fputs(", \"rss_peak\": ", f);
	json_array(f, g->rss, g->n);
	if (!strcmp(g->peer, "ropeio")) {
		fputs(",\n         \"rope_mem_stats_kept\": ", f);
		json_array(f, g->own_kept, g->n);
		fputs(", \"rope_mem_stats_peak\": ", f);
		json_array(f, g->own_peak, g->n);
		fputs(", \"rope_mem_stats_total\": ", f);
		json_array(f, g->own_total, g->n);
	}
	fputs("}", f);
}

static void
json_scen(FILE *f, const struct scen *s)
{
	fputs("    {\"id\": ", f);
	json_str(f, s->id);
	fputs(", \"title\": ", f);
	json_str(f, s->title);
	fputs(", \"bytes\": ", f);
	json_num(f, s->bytes);
	fputs(", \"best_peer_median\": ", f);
	json_num(f, s->best);
	fputs(", \"limit_median\": ", f);
	json_num(f, s->limit);
	fputs(",\n      \"figures\": [\n", f);
	for (int i = 0; i < s->nfig; i++) {
		json_fig(f, &s->fig[i]);
		fputs(i + 1 < s->nfig ? ",\n" : "\n", f);
	}
	fputs("      ]}", f);
}

static void
json_machine(FILE *f, const char *mode)
{
	fputs("  \"mode\": ", f);
	json_str(f, mode);
	fprintf(f, ",\n  \"ropeio\": \"%d.%d.%d\",\n  \"machine\": {\"uname\": ",
		ROPEIO_VERSION_MAJOR, ROPEIO_VERSION_MINOR,
		ROPEIO_VERSION_PATCH);
	json_str(f, machine.uname);
	fprintf(f, ", \"nproc\": %ld, \"cpu\": ", machine.nproc);
	json_str(f, machine.cpu);
	fputs(", \"date\": ", f);
	json_str(f, machine.date);
	fputs(", \"compiler\": ", f);
	json_str(f, machine.compiler);
	fputs(", \"libevent\": ", f);
	json_str(f, machine.libevent);
	fputs(", \"glib\": ", f);
	json_str(f, machine.glib);
	fputs(", \"python\": ", f);
	json_str(f, py.ran ? py.version : "");
	fputs(", \"python_sizeof_empty_bytesio\": ", f);
	json_num(f, py.ran ? py.sizeof_empty : NAN);
	fprintf(f, ", \"io_uring\": %s},\n", machine.uring ? "true" : "false");
	fputs("  \"memory_methods\": {\"heap\": \"malloc_usable_size of every "
	      "block, counted by the bench's malloc wrapper\", \"cpython\": "
	      "\"tracemalloc\", \"rss\": \"VmHWM above VmRSS at the start, "
	      "after clear_refs 5\"},\n", f);
}

static void
json_write(const char *path, const char *mode)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die("%s: %s", path, strerror(errno));
	fputs("{\n", f);
	json_machine(f, mode);
	fprintf(f, "  \"ropeio_self\": {\"empty_rope_bytes\": %.0f, "
		"\"empty_rope_allocations\": %.0f, \"struct_bytes\": %zu, "
		"\"segment_entry_bytes\": %zu, \"overhead_with_%d_segments\": "
		"%zu},\n", empty_own_bytes, empty_own_allocs,
		empty_info.overhead, seg_info.segment_bytes, PIECES,
		seg_info.overhead);
	fputs("  \"loop_growth\": {", f);
	for (int i = 0; i < MAX_FIGS; i++) {
		const struct scen *s = scen_find("loop_dropped_small");

		if (!s || i >= s->nfig)
			break;
		fprintf(f, "%s\n    ", i ? "," : "");
		json_str(f, s->fig[i].peer);
		fputs(": {\"dropped\": ", f);
		json_num(f, loop_growth("dropped", i));
		fputs(", \"held\": ", f);
		json_num(f, loop_growth("held", i));
		fputs("}", f);
	}
	fputs("},\n  \"scenarios\": [\n", f);
	for (int i = 0; i < nscens; i++) {
		json_scen(f, &scens[i]);
		fputs(i + 1 < nscens ? ",\n" : "\n", f);
	}
	fputs("  ],\n  \"targets\": [\n", f);
	for (int i = 0; i < ntargets; i++) {
		fputs("    {\"target\": ", f);
		json_str(f, targets[i].what);
		fputs(", \"measured\": ", f);
		json_str(f, targets[i].measured);
		fputs(", \"status\": ", f);
		json_str(f, status_name(targets[i].status));
		fputs(i + 1 < ntargets ? "},\n" : "}\n", f);
	}
	fputs("  ]\n}\n", f);
	if (fclose(f))
		die("%s: %s", path, strerror(errno));
}

/* ------------------------------------------------------------------------ */
/* The chart                                                                */
/* ------------------------------------------------------------------------ */

static const struct {
	const char *id, *name;
} chart_scens[] = {
	{ "append11_50k", "11 B x 50k" },
	{ "append11_10m", "11 B x 10M" },
	{ "append1448", "1448 B" },
	{ "append64k", "64 KiB" },
	{ "getvalue_first", "getvalue, 1st" },
	{ "loop_dropped_large", "loop, dropped" },
	{ "loop_held_large", "loop, held" },
	{ "http", "HTTP parser" },
	{ "io_file", "write, file" },
	{ "io_tcp", "write, TCP" },
};

static const char *const chart_peers[] = {
	"ropeio", "evbuffer", "gbytearray", "realloc", "cpython", "limit",
};

static bool
have_gnuplot(void)
{
	return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

/* Whether @peer has a figure in any scenario of the chart. */
static bool
chart_has(const char *peer)
{
	for (size_t i = 0; i < ARRAY_SIZE(chart_scens); i++)
		if (fig_get(chart_scens[i].id, peer))
			return true;
	return false;
}

/* Each peer's best variant over the best peer, per scenario; returns the
 * number of rows. */
static int
chart_data(FILE *f)
{
	int rows = 0;

	for (size_t i = 0; i < ARRAY_SIZE(chart_scens); i++) {
		const struct scen *s = scen_find(chart_scens[i].id);

		if (!s || isnan(s->best))
			continue;
		rows++;
		fprintf(f, "\"%s\"", chart_scens[i].name);
		for (size_t p = 0; p < ARRAY_SIZE(chart_peers); p++) {
			const struct fig *g = fig_get(s->id, chart_peers[p]);

			if (g && !isnan(g->med))
				fprintf(f, " %.6g", g->med / s->best);
			else
				fputs(" ?", f);
		}
		fputc('\n', f);
	}
	return rows;
}

static void
chart_script(FILE *f, const char *dat, const char *png, const char *mode)
{
	fprintf(f, "set terminal pngcairo size 1400,720 font 'sans,11'\n"
		"set output '%s'\n"
		"set title \"ropeio benchmark tour (%s), %s: each peer's "
		"median time over the best peer's (its best variant)\\n%s, "
		"%ld CPUs\"\n"
		"set datafile missing '?'\n"
		"set style data histograms\n"
		"set style histogram clustered gap 1\n"
		"set style fill solid 0.85 border -1\n"
		"set boxwidth 0.9\n"
		"set logscale y 10\n"
		"set yrange [0.01:*]\n"
		"set grid ytics mytics\n"
		"set ylabel 'time / best peer (log scale; 1 = best peer, "
		"lower is better)'\n"
		"set xtics nomirror\n"
		"set key outside bottom center horizontal\n"
		"set arrow from graph 0, first 1 to graph 1, first 1 nohead "
		"dt 2 lw 1.5 lc rgb '#555555'\n",
		png, mode, machine.date, machine.cpu, machine.nproc);
	fprintf(f, "plot '%s' using 2:xtic(1) title 'ropeio' lc rgb "
		"'#1f77b4'", dat);
	for (size_t p = 1; p < ARRAY_SIZE(chart_peers); p++) {
		static const char *const colors[] = {
			"", "#ff7f0e", "#2ca02c", "#9467bd", "#d62728",
			"#7f7f7f",
		};

		if (chart_has(chart_peers[p]))
			fprintf(f, ", '' using %zu title '%s' lc rgb '%s'",
				p + 2, peer_name(chart_peers[p]), colors[p]);
	}
	fputc('\n', f);
}

/* Write the chart; print where it is, or why there is none. */
static void
chart_write(const char *base, const char *mode)
{
	char dat[4200], gp[4200], png[4200], cmd[8500];
	FILE *f;
	int rows;

	if (!have_gnuplot()) {
		printf("PNG: none (gnuplot is not installed)\n");
		return;
	}
	snprintf(dat, sizeof(dat), "%s.dat", base);
	snprintf(gp, sizeof(gp), "%s.gp", base);
	snprintf(png, sizeof(png), "%s.png", base);
	if (!(f = fopen(dat, "w")))
		die("%s: %s", dat, strerror(errno));
	rows = chart_data(f);
	fclose(f);
	if (!rows) {
		printf("PNG: none (no timed scenario in the chart was run)\n");
		return;
	}
	if (!(f = fopen(gp, "w")))
		die("%s: %s", gp, strerror(errno));
	chart_script(f, dat, png, mode);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "gnuplot '%s'", gp);
	fflush(NULL);
	if (system(cmd) == 0)
		printf("PNG: %s\n", png);
	else
		printf("PNG: none (gnuplot failed on %s)\n", gp);
}

/* ------------------------------------------------------------------------ */
/* Modes and main                                                           */
/* ------------------------------------------------------------------------ */

struct config {
	const char *mode;
	int reps;                /* the large scenarios */
	int reps_50k, reps_10m, reps_export, reps_io, reps_loop, reps_held;
	size_t net, getvalue, held, http, exports, io;
	/* Appends in the parser loop, {small, large}: the held variant is
	 * smaller because contiguous peers copy O(appends x size) there. */
	size_t loop_dropped[2], loop_held[2];
	const char *only;        /* a comma-separated list of groups, or NULL */
};

static const char GROUPS[] = "memory,appends,getvalue,held,loop,http,exports,io";

static bool
wanted(const struct config *c, const char *group)
{
	size_t n = strlen(group);

	for (const char *p = c->only; p; p = strchr(p, ',')) {
		p += *p == ',';
		if (!strncmp(p, group, n) && (p[n] == ',' || !p[n]))
			return true;
	}
	return !c->only;
}

static const struct config quick = {
	.mode = "quick", .reps = 5,
	.reps_50k = 21, .reps_10m = 5, .reps_export = 11, .reps_io = 9,
	.reps_loop = 11, .reps_held = 5,
	.net = 128 * MiB, .getvalue = 128 * MiB, .held = 50 * MiB,
	.http = 8 * MiB, .exports = 128 * MiB, .io = 128 * MiB,
	.loop_dropped = { 1000, 4000 }, .loop_held = { 250, 1000 },
};

static const struct config full = {
	.mode = "full", .reps = 7,
	.reps_50k = 31, .reps_10m = 9, .reps_export = 11, .reps_io = 7,
	.reps_loop = 11, .reps_held = 5,
	.net = GiB, .getvalue = GiB, .held = 50 * MiB,
	.http = 64 * MiB, .exports = GiB, .io = GiB,
	.loop_dropped = { 2000, 8000 }, .loop_held = { 500, 2000 },
};

/* The files CPython reads, so that it works on the same bytes. */
struct shared_files {
	char dir[64], source[96], stream[96], splits[96];
};

static void
write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const uint8_t *p = data;

	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			die("%s: %s", path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}

static void
shared_write(struct shared_files *sf, const struct http *h)
{
	snprintf(sf->dir, sizeof(sf->dir), "/tmp/ropeio-bench-XXXXXX");
	if (!mkdtemp(sf->dir))
		die("mkdtemp: %s", strerror(errno));
	snprintf(sf->source, sizeof(sf->source), "%s/source", sf->dir);
	snprintf(sf->stream, sizeof(sf->stream), "%s/stream", sf->dir);
	snprintf(sf->splits, sizeof(sf->splits), "%s/splits", sf->dir);
	write_file(sf->source, src_bytes, SRC_LEN);
	write_file(sf->stream, h->stream, h->len);
	/* Little-endian uint32, which is what this machine stores. */
	write_file(sf->splits, h->splits, h->nsplits * sizeof(*h->splits));
}

static void
shared_remove(const struct shared_files *sf)
{
	unlink(sf->source);
	unlink(sf->stream);
	unlink(sf->splits);
	rmdir(sf->dir);
}

static void
python_config(char *out, size_t n, const struct config *c,
	      const struct shared_files *sf, const struct http *h)
{
	snprintf(out, n,
		 "{\"source\": \"%s\", \"stream\": \"%s\", \"splits\": \"%s\", "
		 "\"append11\": [[\"append11_50k\", 50000, %d], "
		 "[\"append11_10m\", 10000000, %d]], "
		 "\"net\": [[\"append1448\", 1448, %zu, %d], "
		 "[\"append64k\", 65536, %zu, %d]], "
		 "\"build_piece\": %zu, \"getvalue_count\": %zu, "
		 "\"held_count\": %zu, \"reps\": %d, \"loop_piece\": %d, "
		 "\"loop\": [[\"loop_dropped_small\", %zu, false, %d], "
		 "[\"loop_dropped_large\", %zu, false, %d], "
		 "[\"loop_held_small\", %zu, true, %d], "
		 "[\"loop_held_large\", %zu, true, %d]], "
		 "\"messages\": %zu, \"export_count\": %zu, "
		 "\"export_reps\": %d, \"empty_count\": %d, "
		 "\"only\": \"%s\"}",
		 sf->source, sf->stream, sf->splits, c->reps_50k, c->reps_10m,
		 c->net / 1448, c->reps, c->net / (64 * KiB), c->reps,
		 BUILD_PIECE, c->getvalue / BUILD_PIECE, c->held / BUILD_PIECE,
		 c->reps, LOOP_PIECE, c->loop_dropped[0], c->reps_loop,
		 c->loop_dropped[1], c->reps_loop, c->loop_held[0],
		 c->reps_held, c->loop_held[1], c->reps_held, h->messages,
		 c->exports / BUILD_PIECE, c->reps_export, EMPTIES,
		 c->only ? c->only : "");
}

static void
usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--full] [--out DIR] [--script PATH] "
		"[--python PATH] [--no-python] [--reps N] [--only GROUPS]\n"
		"  --full       1 GiB scenarios and more runs (several "
		"minutes); default: quick\n"
		"  --out DIR    where bench-MODE.json and .png go (default: .)\n"
		"  --script     tools/bench_cpython.py (default: that path)\n"
		"  --reps N     runs of the large scenarios\n"
		"  --only       some of %s\n", argv0, GROUPS);
	exit(2);
}

static void
run_all(const struct config *c, const struct http *h)
{
	struct feed hello = { (const uint8_t *)"Hello World", 11, 11, 50000 };
	struct feed hello10m = hello, f1448, f64k;
	char what[2][64];

	hello10m.count = 10000000;
	f1448 = feed_net(1448, c->net);
	f64k = feed_net(64 * KiB, c->net);
	snprintf(what[0], sizeof(what[0]), "1,448-byte appends to %zu MiB",
		 c->net / MiB);
	snprintf(what[1], sizeof(what[1]), "64 KiB appends to %zu MiB",
		 c->net / MiB);
	if (wanted(c, "memory"))
		scen_memory();
	if (wanted(c, "appends")) {
		scen_appends("append11_50k", &hello, c->reps_50k, 1,
			     "11-byte appends: 50,000 x \"Hello World\"");
		scen_appends("append11_10m", &hello10m, c->reps_10m, 0,
			     "11-byte appends: 10 million x \"Hello World\"");
		scen_appends("append1448", &f1448, c->reps, 0, what[0]);
		scen_appends("append64k", &f64k, c->reps, 0, what[1]);
	}
	if (wanted(c, "getvalue"))
		scen_getvalue(c->getvalue, c->reps);
	if (wanted(c, "held"))
		scen_held(c->held, c->reps);
	if (wanted(c, "loop"))
		scen_loop(c->loop_dropped, c->loop_held, c->reps_loop,
			  c->reps_held);
	if (wanted(c, "http"))
		scen_http(h, c->reps);
	if (wanted(c, "exports"))
		scen_exports(c->exports, c->reps_export);
	if (wanted(c, "io"))
		scen_io(c->io, c->reps_io);
}

int
main(int argc, char **argv)
{
	struct config cfg = quick, *c = &cfg;
	const char *out = ".", *script = "tools/bench_cpython.py";
	const char *python = "python3";
	bool use_python = true;
	char base[4096], json[4200], config[4096];
	struct shared_files sf;
	struct http h;
	int reps = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--full"))
			cfg = full;
		else if (!strcmp(argv[i], "--quick"))
			cfg = quick;
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--script") && i + 1 < argc)
			script = argv[++i];
		else if (!strcmp(argv[i], "--python") && i + 1 < argc)
			python = argv[++i];
		else if (!strcmp(argv[i], "--no-python"))
			use_python = false;
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			cfg.only = argv[++i];
		else
			usage(argv[0]);
	}
	if (reps > 0)
		cfg.reps = reps < MAX_REPS ? reps : MAX_REPS;
	snprintf(base, sizeof(base), "%s/bench-%s", out, c->mode);
	snprintf(json, sizeof(json), "%s.json", base);
	/* Fail now rather than after the measurements. */
	if (mkdir(out, 0777) < 0 && errno != EEXIST)
		die("%s: %s", out, strerror(errno));
	if (access(out, W_OK) < 0)
		die("%s: %s", out, strerror(errno));
	run_start = now();
	src_bytes = malloc(SRC_LEN);
	if (!src_bytes)
		die("malloc");
	for (size_t i = 0; i < SRC_LEN; i++)
		src_bytes[i] = (uint8_t)rng();
	http_generate(&h, c->http);
	machine_read();
	if (use_python) {
		shared_write(&sf, &h);
		python_config(config, sizeof(config), c, &sf, &h);
		py_run(python, script, config);
		shared_remove(&sf);
	}
	run_all(c, &h);
	for (int i = 0; i < nscens; i++)
		scen_finish(&scens[i]);
	targets_compute();

	print_intro(c->mode);
	for (int i = 0; i < nscens; i++) {
		print_scen(i + 1, &scens[i]);
		if (!strcmp(scens[i].id, "loop_held_large"))
			print_loop_growth();
	}
	print_targets();

	json_write(json, c->mode);
	printf("JSON: %s\n", json);
	chart_write(base, c->mode);
	printf("(checksum %llu)\n", (unsigned long long)sink);
	free(h.stream);
	free(h.splits);
	free(src_bytes);
	free(limit_buf);
	return 0;
}
