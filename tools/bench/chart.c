/* SPDX-License-Identifier: MIT */
/*
 * The tour's summary: each peer's median over the best peer's, per
 * scenario, drawn by gnuplot into bench-MODE.png when gnuplot is installed,
 * and the same figures as a markdown table (--markdown FILE), the one the
 * README shows beside the chart (tools/run --readme puts both there).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const struct {
	const char *id, *name;
} chart_scens[] = {
	{ "append11_50k", "11 B x 50k" },
	{ "append11_10m", "11 B x 10M" },
	{ "append1448", "1448 B" },
	{ "append64k", "64 KiB" },
	{ "getvalue_first", "getvalue" },
	{ "loop_dropped_large", "loop, dropped" },
	{ "loop_held_large", "loop, held" },
	{ "http", "HTTP parser" },
	{ "io_file", "write, file" },
	{ "io_tcp", "write, TCP" },
	{ "queue40", "queue, 40 B" },
	{ "proxy16k", "proxy, 16 KiB" },
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
		if (fig_get(chart_scens[i].id, peer, "warm"))
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

		if (!s || isnan(s->best[0]))
			continue;
		rows++;
		fprintf(f, "\"%s\"", chart_scens[i].name);
		for (size_t p = 0; p < ARRAY_SIZE(chart_peers); p++) {
			const struct fig *g = fig_get(s->id, chart_peers[p],
						     "warm");

			if (g && !isnan(g->med))
				fprintf(f, " %.6g", g->med / s->best[0]);
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
		"warm median time over the best peer's (its best "
		"variant)\\n%s, "
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
void
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
/* The same summary as a markdown table                                     */
/* ------------------------------------------------------------------------ */

static void
md_ratio(FILE *f, const struct fig *g, double best)
{
	char r[32];

	if (!g || isnan(g->med) || isnan(best)) {
		fputs(" - |", f);
		return;
	}
	fmt_ratio(r, sizeof(r), g->med / best);
	fprintf(f, " %s |", r);
}

/* The HTTP servers: time per request over the best server's, from the
 * requests/s; ropeio's best mode, libevent's twin in evbuffer's column,
 * nginx's in the row's name. */
static void
md_httpd(FILE *f, bool peer[])
{
	for (int b = 0; b < HTTPD_BODIES; b++) {
		for (int c = 0; c < HTTPD_CONNS; c++) {
			double rps[SRV_ALT_URING], best = 0, mine;
			struct httpd_fig g;
			char r[32], ng[48] = "";

			/* The other build of the example is not a peer. */
			for (int s = 0; s < SRV_ALT_URING; s++) {
				rps[s] = httpd_result(s, b, c, &g) ? g.rps : 0;
				best = fmax(best, rps[s]);
			}
			mine = fmax(rps[SRV_URING], rps[SRV_FALLBACK]);
			if (!mine || !best)
				continue;
			if (rps[SRV_NGINX]) {
				fmt_ratio(r, sizeof(r), best / rps[SRV_NGINX]);
				snprintf(ng, sizeof(ng), "; nginx %s", r);
			}
			fprintf(f, "| HTTP server, %zu B, %d conn.%s | %.0f "
				"req/s |", httpd_bodies[b], httpd_conns[c], ng,
				mine);
			for (size_t p = 0; p < ARRAY_SIZE(chart_peers); p++) {
				bool lib = !strcmp(chart_peers[p], "evbuffer");

				if (!peer[p])
					continue;
				if (p == 0 || (lib && rps[SRV_LIBEVENT])) {
					fmt_ratio(r, sizeof(r), best /
						  (p ? rps[SRV_LIBEVENT] :
						   mine));
					fprintf(f, " %s |", r);
				} else {
					fputs(" - |", f);
				}
			}
			fputs(" - |\n", f);
		}
	}
}

/*
 * Write @path: the run's machine, one table (a row per scenario of the
 * chart, a column per peer: its warm median over the best peer's; ropeio's
 * own median; ropeio's cold median over the best cold peer's), and the
 * targets' tally with those not met.
 */
void
chart_markdown(const char *path, const char *mode)
{
	bool peer[ARRAY_SIZE(chart_peers)];
	int met = 0, not_met = 0;
	size_t uname_len = strcspn(machine.uname, "#");
	FILE *load = fopen("/proc/loadavg", "r");
	double load1, load5;
	FILE *f = fopen(path, "w");

	if (!f)
		die("%s: %s", path, strerror(errno));
	for (size_t p = 0; p < ARRAY_SIZE(chart_peers); p++)
		peer[p] = chart_has(chart_peers[p]);
	/* The kernel's name and release, without its build string. */
	while (uname_len && (machine.uname[uname_len - 1] == ' ' ||
			     machine.uname[uname_len - 1] == '#'))
		uname_len--;
	fprintf(f, "The %s tour, %s; %.*s, %ld CPUs (%s); %s", mode,
		machine.date, (int)uname_len, machine.uname, machine.nproc,
		machine.cpu, machine.compiler);
	/* How busy the machine was: the figures are only worth that. */
	if (load && fscanf(load, "%lf %lf", &load1, &load5) == 2)
		fprintf(f, "; load average %.2f (1 min), %.2f (5 min) as "
			"it ended", load1, load5);
	if (load)
		fclose(load);
	fputs(".\n\n", f);
	fputs("| scenario | ropeio, warm median |", f);
	for (size_t p = 0; p < ARRAY_SIZE(chart_peers); p++)
		if (peer[p])
			fprintf(f, " %s |", peer_name(chart_peers[p]));
	fputs(" ropeio, cold |\n|---|---:|", f);
	for (size_t p = 0; p < ARRAY_SIZE(chart_peers); p++)
		if (peer[p])
			fputs("---:|", f);
	fputs("---:|\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(chart_scens); i++) {
		const struct scen *s = scen_find(chart_scens[i].id);
		const struct fig *r;
		char t[32];

		if (!s || isnan(s->best[0]))
			continue;
		r = fig_get(s->id, "ropeio", "warm");
		fmt_time(t, sizeof(t), r ? r->med : NAN);
		fprintf(f, "| %s | %s |", chart_scens[i].name, t);
		for (size_t p = 0; p < ARRAY_SIZE(chart_peers); p++)
			if (peer[p])
				md_ratio(f, fig_get(s->id, chart_peers[p],
						    "warm"), s->best[0]);
		md_ratio(f, fig_get(s->id, "ropeio", "cold"), s->best[1]);
		fputc('\n', f);
	}
	md_httpd(f, peer);
	for (int i = 0; i < ntargets; i++) {
		met += targets[i].status == MET;
		not_met += targets[i].status == NOT_MET;
	}
	fprintf(f, "\nTargets in this run: %d met, %d not met, %d only "
		"reported or not measured.", met, not_met,
		ntargets - met - not_met);
	if (not_met)
		fputs(" Not met:\n\n", f);
	else
		fputc('\n', f);
	for (int i = 0; i < ntargets; i++)
		if (targets[i].status == NOT_MET)
			fprintf(f, "- %s: %s\n", targets[i].what,
				targets[i].measured);
	if (fclose(f))
		die("%s: %s", path, strerror(errno));
	printf("Markdown: %s\n", path);
}
