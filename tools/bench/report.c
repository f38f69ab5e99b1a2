/* SPDX-License-Identifier: MIT */
/*
 * The tour's report on stdout: the machine and how to read the tables,
 * then one table per scenario (medians, ranges, ratios, memory).
 */
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LIBEVENT
#include <event2/event.h>
#endif

#include "bench.h"

const char *
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

void
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

void
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
	{ COL_RSS_KEPT, "RSS kept" },
	{ COL_PSS_KEPT, "PSS kept" },
	{ COL_TOTAL, "allocated" },
	{ COL_ALLOCS, "allocs" },
	{ COL_TAKEN, "taken/msg" },
	{ COL_FAULTS, "faults" },
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
	case COL_RSS_KEPT:
		return median(f->rss_kept, f->n);
	case COL_PSS_KEPT:
		return median(f->pss_kept, f->n);
	case COL_TAKEN:
		return !strcmp(f->peer, "ropeio") ? median(f->own_total, f->n)
						  : median(f->total, f->n);
	case COL_FAULTS:
		return median(f->faults, f->n);
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
	printf("   %-34s %-4s", "", "");
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

	printf("   %-34s %-4s", f->label, f->mode);
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
		else if (col == COL_FAULTS)
			snprintf(a, sizeof(a), isnan(v) ? "-" : "%.0f", v);
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

void
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

void
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
		printf("   %-29s %-4s %9s %9s\n",
		       peer_name(d[0]->fig[i].peer), d[0]->fig[i].mode, a, b);
	}
	printf("\n");
}

struct machine machine;

void
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

void
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
	       "the median over the\nbest peer's median (the limit is not a "
	       "peer); x limit: over the limit's median;\nlower is better; "
	       "both compare rows of the same mode (a cold row without a "
	       "cold\nlimit: the warm limit). MB/s: 10^6 bytes per second at "
	       "the median. "
	       "The ways of\na table run one repetition after another, in an "
	       "order that rotates every\nrepetition.\nTwo modes. warm: the "
	       "same work repeated in one process, the first repetition\nnot "
	       "counted, the heap as the repetitions before left it. cold: "
	       "the first use in\na fresh process (a child forked for each "
	       "repetition), ropeio's chunk cache and\nfreed heap returned "
	       "to the kernel (rope_cache_trim, malloc_trim) before it, so\n"
	       "it pays the page faults of the memory it touches. The "
	       "limit's preallocated\narray is warm only. "
	       "CPython runs "
	       "all its\nrepetitions in one process: its rows are warm. The "
	       "runs in a title are the warm\nones; a third as many run cold "
	       "(at least 3, or as many as warm).\n");
	printf("Memory, with the method of each column: heap kept / heap peak "
	       "/ allocated:\nbytes from malloc (every block's "
	       "malloc_usable_size, counted by the bench's\nmalloc wrapper, "
	       "the same for every C peer and ropeio), after the operation /\n"
	       "at its peak / allocated during it; values marked * are "
	       "CPython's, from\ntracemalloc. RSS peak: resident memory "
	       "(VmHWM, reset by /proc/self/clear_refs)\nabove the start. "
	       "RSS kept / PSS kept: resident memory after the operation "
	       "above\nthe start, as VmRSS and as Pss (smaps_rollup: pages "
	       "shared with other\nprocesses, such as a cold run's parent, "
	       "divided among them).\n\n");
	if (!HEAP_COUNTED)
		printf("This build uses a sanitizer: heap columns are "
		       "not measured.\n\n");
	if (!rss_resets)
		printf("/proc/self/clear_refs cannot reset VmHWM here: RSS "
		       "peaks are not measured.\n\n");
}
