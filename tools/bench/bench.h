/* SPDX-License-Identifier: MIT */
/*
 * bench.h: how the pieces of the benchmark tour fit together. Private to
 * tools/bench/; nothing here is ropeio's API.
 *
 * The tour puts ropeio beside its peers, measured in one run on the same
 * data, sizes and work:
 *
 *   ropeio                    this library                 peer-ropeio.c
 *   libevent evbuffer         when libevent was found      peer-evbuffer.c
 *   GLib GByteArray           when GLib was found          peer-glib.c
 *   a realloc-doubling buffer written here (struct rbuf)   peer-rbuf.c
 *   CPython io.BytesIO        bench_cpython.py, run by     peer-cpython.c
 *                             the tour
 *   the limit                 memcpy into a preallocated   peer-limit.c
 *                             array, one write(2) of
 *                             contiguous bytes, memmem
 *
 * The pieces, in the order a run goes through them:
 *
 *   main.c        the modes (quick, full), the options, the order of the
 *                 scenario groups
 *   harness.c     the clock, the fixed random stream, the data every peer
 *                 appends (struct feed), figures and scenarios (struct fig,
 *                 struct scen), their statistics, and measure(), which runs
 *                 the ways of a scenario repetition after repetition
 *   memprobe.c    what one timed operation cost (struct probe): the heap
 *                 counted by the bench's own malloc(), VmRSS/VmHWM,
 *                 ropeio's rope_mem_stats()
 *   peer-*.c      one peer each: its buffer, and its way of doing every
 *                 scenario it can do. A way is one repetition: it sets up
 *                 untimed, calls probe_start(), does the work,
 *                 probe_stop(), checks the result untimed.
 *   scen-*.c      one group of scenarios each: the data, the table of the
 *                 peers' ways (struct way), and the tables it adds
 *   servers.c     the HTTP servers (the example, its libevent twin,
 *                 nginx) as processes, for scen-httpd.c, scen-idle.c and
 *                 scen-static.c
 *   report.c      the tables on stdout, the machine, how to read them
 *   targets.c     the targets (the README's "Targets"), met or not, from
 *                 the medians
 *   json.c        every figure and the machine, to bench-MODE.json
 *   chart.c       the gnuplot chart, bench-MODE.png, when gnuplot is here,
 *                 and its figures as the README's table (--markdown)
 *
 * A peer missing at build time is compiled out (its file is not built, its
 * HAVE_ macro not defined): the scenario tables then carry the reason
 * instead of a function (EVB(), GBA(), URING()), and the tour prints it.
 */
#ifndef ROPEIO_BENCH_H
#define ROPEIO_BENCH_H

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ropeio.h"
#ifdef HAVE_URING
#include "ropeio-uring.h"
#endif
#ifdef HAVE_LIBEVENT
#include <event2/buffer.h>
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
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
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

/* A way's function and skip reason, for the scenario tables. */
#ifdef HAVE_LIBEVENT
#define EVB(fn) fn, NULL
#else
#define EVB(fn) NULL, SKIP_LIBEVENT
#endif
#ifdef HAVE_GLIB
#define GBA(fn) fn, NULL
#else
#define GBA(fn) NULL, SKIP_GLIB
#endif
#ifdef HAVE_URING
#define URING(fn) fn, NULL
#else
#define URING(fn) NULL, SKIP_URING
#endif

/* ------------------------------------------------------------------------ */
/* harness.c: the clock, the random stream, the data                        */
/* ------------------------------------------------------------------------ */

/* Results go here so that no loop can be optimized away. */
extern volatile uint64_t sink;

/* Make the compiler assume @p's memory was read and written. */
static inline void
escape(const void *p)
{
	__asm__ volatile("" : : "g"(p) : "memory");
}

void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
double now(void);
/* xorshift64*: the same stream of numbers on every run and machine. */
uint64_t rng(void);
/* A number in [lo, hi]. */
size_t rng_range(size_t lo, size_t hi);

/* When the run started, for the progress lines on stderr. */
extern double run_start;

/* @count appends of @piece bytes cut from @src, consecutively, starting
 * over when the next piece would not fit in @period bytes. */
struct feed {
	const uint8_t *src;
	size_t period, piece, count;
};

/* SRC_LEN bytes from rng(): what network-sized appends are cut from. */
extern uint8_t *src_bytes;

static inline size_t
feed_next(const struct feed *f, size_t off)
{
	off += f->piece;
	return off + f->piece > f->period ? 0 : off;
}

size_t feed_bytes(const struct feed *f);
struct feed feed_net(size_t piece, size_t bytes);
/* Check a few bytes of what a peer built, through its own API. */
void verify(const struct feed *f, size_t size,
	    uint8_t (*at)(const void *, size_t), const void *obj,
	    const char *who);
/* verify()'s reader for contiguous bytes. */
uint8_t flat_at(const void *o, size_t pos);
/* An immutable value of a contiguous buffer: a copy, as nothing else
 * survives the buffer's next write. */
uint8_t *copy_of(const void *p, size_t n);

/* ------------------------------------------------------------------------ */
/* memprobe.c: what one timed operation cost                                */
/* ------------------------------------------------------------------------ */

/* The bench counts the heap with its own malloc(), except under
 * AddressSanitizer or ThreadSanitizer, whose allocators must see every
 * call (ThreadSanitizer's crashed on the bench's at its first call). */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
	__has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HEAP_COUNTED 0
#else
#define HEAP_COUNTED 1
#endif

/* The bench's heap counters at one moment. */
struct heap_now {
	size_t now, peak;
	uint64_t total, allocs;
};

struct probe {
	const char *skip;        /* set by a peer that cannot do this */
	double t0, rss0, pss0;
	long minflt0;
	struct heap_now h0;
	struct rope_mem_stats o0;
	/* Results. Bytes; "own" is ropeio's rope_mem_stats(). */
	double t;
	double kept, peak, total, allocs, rss_peak, rss_kept, pss_kept;
	double faults;           /* minor page faults (getrusage), never
				    scaled by probe_scale() */
	double own_kept, own_peak, own_total;
};

/* Whether VmHWM can be reset; without it RSS peaks mean nothing. */
extern bool rss_resets;

void probe_start(struct probe *p);
void probe_stop(struct probe *p);
/* Per-object figures from a probe over @n objects. */
void probe_scale(struct probe *p, double n);

/* ------------------------------------------------------------------------ */
/* harness.c: figures, scenarios, and running the ways                      */
/* ------------------------------------------------------------------------ */

#define MAX_REPS 48
#define MAX_FIGS 20
#define MAX_SCENS 48

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
	COL_RSS_KEPT = 1 << 8,   /* resident after it (with COL_RSS) */
	COL_PSS_KEPT = 1 << 9,   /* proportional set after it (with COL_RSS) */
	COL_TAKEN = 1 << 10,     /* bytes taken from the system: ropeio's
				    rope_mem_stats() total, the heap counter's
				    for the others */
	COL_FAULTS = 1 << 11,    /* minor page faults during it */
};

/* One row of a table: one way of one peer, over the repetitions. */
struct fig {
	const char *peer;        /* ropeio, evbuffer, gbytearray, realloc,
				    cpython, limit, or ref: a reference that
				    is neither a peer nor the limit */
	const char *label;       /* what was called */
	const char *skip;        /* why it was not measured */
	const char *mode;        /* "cold", "warm", or "" (memory only) */
	bool tracemalloc;        /* CPython: memory from tracemalloc */
	int n;
	double t[MAX_REPS];
	double kept[MAX_REPS], peak[MAX_REPS], total[MAX_REPS];
	double allocs[MAX_REPS], rss[MAX_REPS];
	double rss_kept[MAX_REPS], pss_kept[MAX_REPS], faults[MAX_REPS];
	double own_kept[MAX_REPS], own_peak[MAX_REPS], own_total[MAX_REPS];
	double first;            /* the warm-up run, seconds */
	/* Derived by scen_finish(). */
	double med, min, max, vs_best, vs_limit;
};

/* One table. */
struct scen {
	const char *id;
	char title[160];
	const char *note;
	double bytes;            /* the data each run works on (MB/s) */
	double count;            /* the messages of a queue run, or 0 */
	unsigned cols;
	int nfig;
	struct fig fig[MAX_FIGS];
	/* The best peer's median and the limit's (NAN when none), warm
	 * [0] and cold [1]. A cold row without a cold limit is compared
	 * with the warm one. */
	double best[2], limit[2];
};

extern struct scen scens[MAX_SCENS];
extern int nscens;

struct scen *scen_new(const char *id, unsigned cols, double bytes,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
struct scen *scen_find(const char *id);
struct fig *fig_new(struct scen *s, const char *peer, const char *label);
void fig_add(struct fig *f, const struct probe *p);
/* The median of @n values (NAN when none); @v is left as it was. */
double median(const double *v, int n);
/* Medians, ranges, and the ratios to the best peer and to the limit. */
void scen_finish(struct scen *s);
/* The figure of @peer in scenario @id and @mode (its best variant), or
 * NULL. */
const struct fig *fig_get(const char *id, const char *peer,
			  const char *mode);
/* The figure of @peer and @mode whose label starts with @label, or NULL. */
const struct fig *fig_get_label(const char *id, const char *peer,
				const char *label, const char *mode);

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

/*
 * The two modes of every table. Warm: the same work repeated in this
 * process, the first repetition not counted. Cold: the first use in a
 * fresh process, a child forked for each repetition, ropeio's chunk cache
 * and freed heap returned to the kernel (cold_trim) when it starts and
 * again at probe_start().
 * bench_cold is true inside such a child; a way that holds per-process
 * state (an io_uring engine) makes its own there, and a way that is warm
 * by design (memcpy into an array touched before) skips with WARM_ONLY.
 */
extern bool bench_cold;

#define WARM_ONLY "warm only: the array is allocated and touched before"

/* Run each way @reps times warm (after @warmup uncounted repetitions, at
 * least one) and cold_reps(@reps) times cold, unless @cold is false (a
 * table of bytes, the same in both modes). */
void measure_n(struct scen **s, int ns, const struct way *w, int nw,
	       const void *arg, int reps, int warmup, bool cold);
void measure(struct scen *s, const struct way *w, int nw, const void *arg,
	     int reps, int warmup);
int cold_reps(int reps);
/* What a cold run does first, and again at probe_start(): ropeio's chunk
 * cache trimmed (rope_cache_trim), then the heap (malloc_trim). */
void cold_trim(void);
/* --self-test: one cold repetition after the parent filled ropeio's cache;
 * returns the exit status (0 when the child started cold). */
int harness_self_test(void);

/* ------------------------------------------------------------------------ */
/* The scenarios' arguments, shared by the peers                            */
/* ------------------------------------------------------------------------ */

/* scen-held.c: a write while a value is held. */
enum held_op { HELD_APPEND_1, HELD_APPEND_1MIB, HELD_OVERWRITE_1 };

struct held_arg {
	const struct feed *f;
	enum held_op op;
};

const void *held_data(enum held_op op, size_t *len);

/* scen-loop.c: the parser loop, append then getvalue. */
struct loop_arg {
	const struct feed *f;    /* count = the number of appends */
	bool hold;
};

/* The parser loop's cost per byte with 4x the appends, relative to 1x. */
double loop_growth(const char *kind, int fig);

/* scen-http.c: an HTTP-like stream in random splits. */
struct http {
	uint8_t *stream;
	size_t len;
	uint32_t *splits;
	size_t nsplits;
	size_t messages;
	uint64_t check;          /* the sum of each header's bytes 0 and 3 */
};

/* What every parser counts, to be checked against the generator. */
struct http_tally {
	size_t messages;
	uint64_t check;
};

static const char CRLF2[] = "\r\n\r\n";

void http_generate(struct http *h, size_t target);
void http_seen(struct http_tally *t, const uint8_t head[4]);
void http_verify(const struct http *h, const struct http_tally *t,
		 const char *who);
/* Where the next search starts: 3 bytes before the end, for a "\r\n\r\n"
 * that the next piece completes. */
size_t resume_at(size_t len);

/* peer-rbuf.c: the realloc-doubling buffer. */
struct rbuf {
	uint8_t *data;
	size_t len, cap;
};

/* scen-exports.c: getbuffer and snapshots of a buffer built once. */
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

/* The rope's segments in the exports scenario, for the targets. */
extern size_t export_segments;

size_t iov_sum(const struct iovec *iov, int n);
void export_check(const struct export_arg *a, size_t n, const char *who);

/* scen-io.c: a large rope to a file and to a loopback TCP socket. */
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

/* The descriptor to write to: an unlinked file in /tmp (page cache) or the
 * sending end of a loopback connection whose reader is running. */
struct io_target {
	int fd;
	struct reader rd;
};

void target_open(struct io_target *t, const struct io_arg *a);
void target_wait(struct io_target *t, const struct io_arg *a);
void target_close(struct io_target *t, const struct io_arg *a);

/* scen-queue.c: append a message, drain it, repeat. scen-proxy.c: the same
 * with a send in between, over an AF_UNIX socketpair. The first @warmup
 * messages are not measured (steady state); the probe covers @f->count. */
struct queue_arg {
	const struct feed *f;
	size_t warmup;
};

/* Check the last message, still in the buffer, against the source. */
void queue_check(const struct queue_arg *a, size_t off, const uint8_t *got,
		 const char *who);
/* The sending end of a socketpair whose reader thread reads @bytes. */
void proxy_open(struct io_target *t, size_t bytes);
/* Wait for the reader to have read everything, then close both ends. */
void proxy_close(struct io_target *t, size_t bytes);
/* write(2) until all of @p is written, or die. */
void write_all(int fd, const void *p, size_t n);
/* A file of @bytes cut from src_bytes, already unlinked, in the page
 * cache: what the file-to-socket scenarios send. Its descriptor, or die. */
int data_file(size_t bytes);
void *reader_run(void *arg);

/* scen-memory.c: memory per empty buffer and per segment. */
#define EMPTIES 1000
#define PIECES 10000

const uint8_t *ref_piece(size_t i);

/* ------------------------------------------------------------------------ */
/* The peers                                                                */
/* ------------------------------------------------------------------------ */

/* peer-ropeio.c */
void rope_fill(struct rope *r, const struct feed *f);
struct rope *rope_built(const struct feed *f);
uint8_t rope_at(const void *o, size_t pos);
void append_rope(struct probe *p, const void *arg);
void gv_rope(struct probe *p, const void *arg);
void held_rope(struct probe *p, const void *arg);
void loop_rope(struct probe *p, const void *arg);
void http_rope_find(struct probe *p, const void *arg);
void http_rope_cursor(struct probe *p, const void *arg);
void getbuffer_rope(struct probe *p, const void *arg);
void snapshot_rope(struct probe *p, const void *arg);
void empty_rope(struct probe *p, const void *arg);
void queue_rope(struct probe *p, const void *arg);
void proxy_rope(struct probe *p, const void *arg);
void segment_rope(struct probe *p, const void *arg);
#ifdef HAVE_URING
void io_uring(struct probe *p, const void *arg);
void io_fallback(struct probe *p, const void *arg);
/* An engine, forced onto plain syscalls or not; NULL when io_uring was
 * wanted but is not available. */
struct rope_uring *engine_new(bool fallback);
/* The engine a way runs on: @warm, or in a cold child a new one (made and
 * freed outside the timed window); NULL, with the probe skipped, where
 * io_uring is wanted but not there. engine_done() frees a cold one. */
struct rope_uring *engine_take(struct probe *p, struct rope_uring *warm,
			       bool fallback);
void engine_done(struct rope_uring *u);
#endif
/* ropeio's own view of itself, for the JSON and the targets. */
extern struct rope_info empty_info, seg_info;
extern double empty_own_bytes, empty_own_allocs;
void rope_self_report(void);

/* peer-rbuf.c */
void rbuf_fill(struct rbuf *b, const struct feed *f);
void rbuf_free(struct rbuf *b);
void append_rbuf(struct probe *p, const void *arg);
void gv_rbuf(struct probe *p, const void *arg);
void held_rbuf(struct probe *p, const void *arg);
void loop_rbuf(struct probe *p, const void *arg);
void http_rbuf(struct probe *p, const void *arg);
void getbuffer_rbuf(struct probe *p, const void *arg);
void snapshot_rbuf(struct probe *p, const void *arg);
void empty_rbuf(struct probe *p, const void *arg);
void queue_rbuf(struct probe *p, const void *arg);
void proxy_rbuf(struct probe *p, const void *arg);

/* peer-limit.c */
extern uint8_t *limit_buf;
void limit_prepare(size_t n);
size_t limit_fill(uint8_t *dst, const struct feed *f);
void append_limit(struct probe *p, const void *arg);
void append_fresh(struct probe *p, const void *arg);
void gv_limit(struct probe *p, const void *arg);
void loop_limit(struct probe *p, const void *arg);
void http_limit(struct probe *p, const void *arg);
void io_write(struct probe *p, const void *arg);
void queue_limit(struct probe *p, const void *arg);
void proxy_limit(struct probe *p, const void *arg);

/* peer-evbuffer.c */
#ifdef HAVE_LIBEVENT
struct evbuffer *evb_built(const struct feed *f);
void append_evb(struct probe *p, const void *arg);
void gv_evb(struct probe *p, const void *arg);
void held_evb(struct probe *p, const void *arg);
void loop_evb(struct probe *p, const void *arg);
void http_evb_search(struct probe *p, const void *arg);
void http_evb_pullup(struct probe *p, const void *arg);
void getbuffer_evb(struct probe *p, const void *arg);
void snapshot_evb(struct probe *p, const void *arg);
void io_evb(struct probe *p, const void *arg);
void empty_evb(struct probe *p, const void *arg);
void segment_evb(struct probe *p, const void *arg);
void queue_evb(struct probe *p, const void *arg);
void proxy_evb(struct probe *p, const void *arg);
#endif

/* peer-glib.c */
#ifdef HAVE_GLIB
GByteArray *gba_built(const struct feed *f);
void append_gba(struct probe *p, const void *arg);
void gv_gba(struct probe *p, const void *arg);
void held_gba(struct probe *p, const void *arg);
void loop_gba(struct probe *p, const void *arg);
void http_gba(struct probe *p, const void *arg);
void getbuffer_gba(struct probe *p, const void *arg);
void snapshot_gba(struct probe *p, const void *arg);
void empty_gba(struct probe *p, const void *arg);
void queue_gba(struct probe *p, const void *arg);
void proxy_gba(struct probe *p, const void *arg);
#endif

/* ------------------------------------------------------------------------ */
/* main.c: the modes                                                        */
/* ------------------------------------------------------------------------ */

struct config {
	const char *mode;
	int reps;                /* the large scenarios */
	int reps_50k, reps_10m, reps_export, reps_io, reps_loop, reps_held;
	int reps_queue;
	int reps_httpd, httpd_seconds;  /* wrk runs and their length */
	/* Messages in the queue, 40 B, 1,448 B, 16 KiB; in the proxy loop. */
	size_t queue[3], proxy;
	size_t net, getvalue, held, http, exports, io;
	/* Appends in the parser loop, {small, large}: the held variant is
	 * smaller because contiguous peers copy O(appends x size) there. */
	size_t loop_dropped[2], loop_held[2];
	const char *only;        /* a comma-separated list of groups, or NULL */
};

/* ------------------------------------------------------------------------ */
/* peer-cpython.c: bench_cpython.py, run once, before the C peers          */
/* ------------------------------------------------------------------------ */

struct py_fig {
	char id[32];
	int n;
	double t[MAX_REPS];
	double kept, peak;
	bool has_mem;
};

struct py_state {
	bool ran;
	const char *why;         /* why it did not run */
	char version[32];
	double sizeof_empty;
	double http_check;
	int n;
	struct py_fig f[MAX_SCENS];
};

extern struct py_state py;

/* The files CPython reads, so that it works on the same bytes. */
struct shared_files {
	char dir[64], source[96], stream[96], splits[96];
};

void shared_write(struct shared_files *sf, const struct http *h);
void shared_remove(const struct shared_files *sf);
void python_config(char *out, size_t n, const struct config *c,
		   const struct shared_files *sf, const struct http *h);
/* Run @python @script @config with its stdout on a pipe, no shell. */
void py_run(const char *python, const char *script, const char *config);
/* Add CPython's figure for @id to @s (or the reason it is missing). */
void py_add(struct scen *s, const char *id, const char *label);

/* ------------------------------------------------------------------------ */
/* The scenario groups, called by main.c in this order                      */
/* ------------------------------------------------------------------------ */

void scen_memory(void);
/* scen-small.c: a small message's life, and memory per byte held. */
void scen_small(int reps);
void scen_appends(const char *id, const struct feed *f, int reps, int warmup,
		  const char *what);
void scen_getvalue(size_t bytes, int reps);
void scen_held(size_t bytes, int reps);
void scen_loop(const size_t dropped[2], const size_t held[2],
	       int reps_dropped, int reps_held);
void scen_http(const struct http *h, int reps);
void scen_exports(size_t bytes, int reps);
void scen_io(size_t bytes, int reps);
void scen_queue(const size_t counts[3], int reps);
void scen_proxy(size_t count, int reps);
/* servers.c: the HTTP servers, started as processes of their own. */
/* The example server and, with --httpd-alt, another build of it (another
 * ring size, say) on both backends; its libevent twin; nginx. */
enum { SRV_URING, SRV_FALLBACK, SRV_LIBEVENT, SRV_NGINX, SRV_ALT_URING,
       SRV_ALT_FALLBACK, HTTPD_SERVERS };

struct server {
	int kind;
	pid_t pid;
	int port;
	char dir[64];            /* nginx's configuration and files */
};

extern const char *const server_names[HTTPD_SERVERS];
/* Why a server cannot run (not built, not installed), or NULL. */
extern const char *server_skip[HTTPD_SERVERS];
/* More arguments for the other build (--httpd-alt-arg), NULL-terminated. */
extern const char *server_alt_args[8];

/* Look for the servers: the example (@example, or the build's), @alt
 * (or none), the libevent twin, nginx. */
void servers_find(const char *example, const char *alt);
/* Whether @kind has rows: the other build only when asked for. */
bool server_shown(int kind);
/* Start @kind answering every request with a @body-byte body, on a free
 * loopback port: NULL, or why not. */
const char *server_start(int kind, size_t body, struct server *s);
/* Start @kind serving the files of the directory @root (the example with
 * --root, nginx with sendfile): NULL, or why not. */
const char *server_start_root(int kind, const char *root, struct server *s);
/* Whether @s answers a GET with 200 and the example's @body bytes: NULL,
 * or why not. */
const char *server_check(const struct server *s, size_t body);
/* A blocking loopback connection to @port, or -1. */
int port_connect(int port);
/* Read one whole answer into @buf (head and *@body bytes of body, from its
 * Content-Length): the head's length when it is a 200, or -1. */
int http_answer(int fd, char *buf, size_t size, size_t *body);
/* --check-servers: start every server found with both bodies and check
 * its answer; the exit status (77 when none could run). */
int servers_self_test(void);
/* SIGTERM, wait: whether it exited with status 0. */
bool server_stop(struct server *s);
/* Start @argv with its stdout on a pipe (*@fd) and its stderr on
 * /dev/null; @no_uring sets ROPEIO_NO_URING=1 in the child. */
pid_t spawn(const char *const argv[], bool no_uring, int *fd);
size_t read_all(int fd, char *out, size_t n);
/* A process's user + system time (seconds) and resident set (bytes). */
double proc_cpu(pid_t pid);
double proc_rss(pid_t pid);
void fmt_latency(char *out, size_t n, double s);

/* scen-httpd.c: the HTTP servers under wrk; its own table. */
#define HTTPD_CONNS 3            /* 50, 500 and 2,000 connections */
#define HTTPD_BODIES 2           /* 13 B and 64 KiB */
extern const int httpd_conns[HTTPD_CONNS];
extern const size_t httpd_bodies[HTTPD_BODIES];

/* One server's medians at one body and load. */
struct httpd_fig {
	int n;
	double rps, p50, p99;
	double rps_min, rps_max; /* the runs' range */
	double cpu;              /* seconds of CPU per request */
	double sys;              /* syscalls per request, or NAN */
	double errors;           /* wrk's socket errors, the most of a run */
};

void scen_httpd(int reps, int seconds);
/* The median over the repetitions of @server's requests/s (or, @cpu, CPU
 * per request) over @ref's in the same repetition; NAN when none. */
double httpd_paired(int server, int ref, int body, int conns, bool cpu);
void print_httpd(int num);
/* The medians of @server at body index @body and connection count index
 * @conns, or false. */
bool httpd_result(int server, int body, int conns, struct httpd_fig *f);

/* scen-idle.c: memory per idle keep-alive connection; its own table. */
#define IDLE_CONNS 9000
void scen_idle(int conns, int reps);
void print_idle(int num);
/* Resident bytes per connection of @server, or NAN. */
double idle_result(int server);

/* scen-httpd.c's readings of wrk's output and of the load average, for
 * scen-static.c too. */
double wrk_latency(const char *out, const char *pct);
/* What one wrk run measured of a server: requests (total and per second),
 * latency percentiles (ms), the server's CPU per request (s), and wrk's
 * socket errors. */
struct wrk_figures {
	double requests, rps, p50, p99, cpu, errors;
};
/* Run wrk (@argv) against the server @server, its output into @out: NULL
 * with *@f filled, or why the run gives no figures. */
const char *wrk_measure(const char *const argv[], pid_t server, char *out,
			size_t size, struct wrk_figures *f);
double wrk_requests(const char *out);
double wrk_errors(const char *out);
void load_read(char *out, size_t n);

/* scen-static.c: static files under wrk; its own table. */
#define STATIC_FILES 3           /* 64 KiB, 1 MiB, 16 MiB */
extern const size_t static_sizes[STATIC_FILES];
void scen_static(int reps, int seconds);
/* --check-servers: @kind serves each file of a directory whole (NULL), or
 * why not. */
const char *static_self_test(int kind);
void print_static(int num);
/* The median over the repetitions of @server's requests/s over nginx's
 * in the same repetition, at file index @file; NAN when none. Its
 * requests/s in *@rps and nginx's in *@ng. */
double static_paired(int server, int file, double *rps, double *ng);

/* scen-shipper.c: a file to a socket, 8 MiB in flight. */
void scen_shipper(size_t bytes, int reps);
/* scen-files.c: a file range (rope_append_file) to a socket. */
void scen_files(size_t bytes, int reps);

/* ------------------------------------------------------------------------ */
/* The report                                                               */
/* ------------------------------------------------------------------------ */

/* report.c */
struct machine {
	char uname[512];
	char cpu[128];
	long nproc;
	char date[64];
	char compiler[96];
	char libevent[32];
	char glib[32];
	bool uring;
};

extern struct machine machine;

void machine_read(void);
const char *peer_name(const char *peer);
void fmt_ratio(char *out, size_t n, double r);
void fmt_time(char *out, size_t n, double s);
void print_intro(const char *mode);
void print_scen(int num, const struct scen *s);
void print_loop_growth(void);

/* targets.c */
enum { NOT_MET, MET, NOT_MEASURED, REPORTED };

#define MAX_TARGETS 96

struct target {
	char what[200];
	char measured[200];
	int status;
};

extern struct target targets[MAX_TARGETS];
extern int ntargets;

void targets_compute(void);
const char *status_name(int status);
void print_targets(void);

/* json.c */
void json_write(const char *path, const char *mode);

/* chart.c */
void chart_write(const char *base, const char *mode);
/* The chart's figures as the README's markdown table, to @path. */
void chart_markdown(const char *path, const char *mode);

#endif /* ROPEIO_BENCH_H */
