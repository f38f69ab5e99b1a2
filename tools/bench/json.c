/* SPDX-License-Identifier: MIT */
/*
 * The tour's JSON: the machine, every figure of every scenario (each
 * repetition, not only the medians) and the targets, to bench-MODE.json.
 */
#include <errno.h>
#include <string.h>

#include "bench.h"

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
	fputs(", \"mode\": ", f);
	json_str(f, g->mode);
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
	fputs(", \"rss_kept\": ", f);
	json_array(f, g->rss_kept, g->n);
	fputs(", \"pss_kept\": ", f);
	json_array(f, g->pss_kept, g->n);
	fputs(", \"minor_faults\": ", f);
	json_array(f, g->faults, g->n);
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
	json_num(f, s->best[0]);
	fputs(", \"best_peer_median_cold\": ", f);
	json_num(f, s->best[1]);
	fputs(", \"limit_median\": ", f);
	json_num(f, s->limit[0]);
	fputs(", \"limit_median_cold\": ", f);
	json_num(f, s->limit[1]);
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
	      "\"tracemalloc\", \"pss\": \"Pss of /proc/self/smaps_rollup "
	      "after, minus before\", \"rss\": \"VmHWM above VmRSS at the "
	      "start, "
	      "after clear_refs 5\"},\n", f);
}

/* The HTTP servers' medians and the idle connections' memory. */
static void
json_servers(FILE *f)
{
	bool first = true;

	fputs("  \"httpd\": [", f);
	for (int b = 0; b < HTTPD_BODIES; b++)
		for (int c = 0; c < HTTPD_CONNS; c++)
			for (int s = 0; s < HTTPD_SERVERS; s++) {
				struct httpd_fig g;

				if (!httpd_result(s, b, c, &g))
					continue;
				fprintf(f, "%s\n    {\"server\": ",
					first ? "" : ",");
				json_str(f, server_names[s]);
				fprintf(f, ", \"body\": %zu, \"connections\": "
					"%d, \"runs\": %d, \"requests_per_s\": ",
					httpd_bodies[b], httpd_conns[c], g.n);
				json_num(f, g.rps);
				fputs(", \"requests_per_s_min\": ", f);
				json_num(f, g.rps_min);
				fputs(", \"requests_per_s_max\": ", f);
				json_num(f, g.rps_max);
				fputs(", \"vs_nginx_paired\": ", f);
				json_num(f, httpd_paired(s, SRV_NGINX, b, c,
							 false));
				fputs(", \"cpu_vs_nginx_paired\": ", f);
				json_num(f, httpd_paired(s, SRV_NGINX, b, c,
							 true));
				fputs(", \"p50_s\": ", f);
				json_num(f, g.p50);
				fputs(", \"p99_s\": ", f);
				json_num(f, g.p99);
				fputs(", \"cpu_s_per_request\": ", f);
				json_num(f, g.cpu);
				fputs(", \"syscalls_per_request\": ", f);
				json_num(f, g.sys);
				fputs(", \"socket_errors\": ", f);
				json_num(f, g.errors);
				fputc('}', f);
				first = false;
			}
	fprintf(f, "],\n  \"idle_%d_connections_rss_bytes_per_connection\": "
		"{", IDLE_CONNS);
	for (int s = 0; s < HTTPD_SERVERS; s++) {
		fputs(s ? ", " : "", f);
		json_str(f, server_names[s]);
		fputs(": ", f);
		json_num(f, idle_result(s));
	}
	fputs("},\n", f);
}

void
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
		char key[64];

		if (!s || i >= s->nfig)
			break;
		/* One key per row: the peer and its mode. */
		snprintf(key, sizeof(key), "%s %s", s->fig[i].peer,
			 s->fig[i].mode);
		fprintf(f, "%s\n    ", i ? "," : "");
		json_str(f, key);
		fputs(": {\"dropped\": ", f);
		json_num(f, loop_growth("dropped", i));
		fputs(", \"held\": ", f);
		json_num(f, loop_growth("held", i));
		fputs("}", f);
	}
	fputs("},\n", f);
	json_servers(f);
	fputs("  \"scenarios\": [\n", f);
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

