/* SPDX-License-Identifier: MIT */
/*
 * bench: the benchmark tour. ropeio beside its peers, measured in one run on
 * the same data, sizes and work (bench.h says which file does what).
 *
 * Every figure is the median and range of several repetitions, shown as a
 * ratio to the best peer and to the limit. The tables go to stdout, every
 * figure and the machine to a JSON file, and a chart to a PNG when gnuplot
 * is installed. Then a "targets" section checks the targets the README
 * states.
 *
 * Usage: bench [--full] [--out DIR] [--script PATH] [--python PATH]
 *              [--no-python] [--reps N] [--only GROUP,...] [--markdown FILE]
 *              [--httpd PATH] [--httpd-alt PATH] [--httpd-alt-arg ARG]...
 *              [--httpd-reps N] [--httpd-seconds N]
 *        bench --self-test
 *        bench --check-servers
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

static const char GROUPS[] = "memory,small,appends,getvalue,held,loop,http,"
			     "exports,io,queue,proxy,shipper,files,httpd,idle,"
			     "static";

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
	.reps_loop = 11, .reps_held = 5, .reps_queue = 5,
	.reps_httpd = 1, .httpd_seconds = 3,
	.queue = { 200000, 50000, 10000 }, .proxy = 5000,
	.net = 128 * MiB, .getvalue = 128 * MiB, .held = 50 * MiB,
	.http = 8 * MiB, .exports = 128 * MiB, .io = 128 * MiB,
	.loop_dropped = { 1000, 4000 }, .loop_held = { 250, 1000 },
};

static const struct config full = {
	.mode = "full", .reps = 7,
	.reps_50k = 31, .reps_10m = 9, .reps_export = 11, .reps_io = 7,
	.reps_loop = 11, .reps_held = 5, .reps_queue = 7,
	.reps_httpd = 5, .httpd_seconds = 5,
	.queue = { 1000000, 200000, 50000 }, .proxy = 20000,
	.net = GiB, .getvalue = GiB, .held = 50 * MiB,
	.http = 64 * MiB, .exports = GiB, .io = GiB,
	.loop_dropped = { 2000, 8000 }, .loop_held = { 500, 2000 },
};

static void
usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--full] [--out DIR] [--script PATH] "
		"[--python PATH] [--no-python] [--reps N] [--only GROUPS]\n"
		"       [--markdown FILE] [--httpd PATH] [--httpd-alt PATH]\n"
		"       [--httpd-alt-arg ARG]... [--httpd-reps N] "
		"[--httpd-seconds N] | --self-test | --check-servers\n"
		"  --full       1 GiB scenarios and more runs (several "
		"minutes); default: quick\n"
		"  --out DIR    where bench-MODE.json and .png go (default: .)\n"
		"  --script     the CPython script (default: "
		"tools/bench/bench_cpython.py)\n"
		"  --reps N     runs of the large scenarios\n"
		"  --only       some of %s\n"
		"  --markdown   also write the chart's figures as the README's "
		"table to FILE\n"
		"  --httpd PATH     the example HTTP server to measure "
		"(default: the build's)\n"
		"  --httpd-alt PATH another build of it, measured beside it\n"
		"  --httpd-alt-arg ARG  one more argument for that one, "
		"before its address\n"
		"  --httpd-reps N, --httpd-seconds N  wrk runs per server "
		"and load, and their length\n"
		"  --self-test  check that a cold run starts cold, and exit\n"
		"  --check-servers  check that every HTTP server found sends "
		"the example's body, and exit\n",
		argv0, GROUPS);
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
	if (wanted(c, "small"))
		scen_small(c->reps_50k);
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
	if (wanted(c, "queue"))
		scen_queue(c->queue, c->reps_queue);
	if (wanted(c, "proxy"))
		scen_proxy(c->proxy, c->reps_queue);
	if (wanted(c, "shipper"))
		scen_shipper(c->io, c->reps_io);
	if (wanted(c, "files"))
		scen_files(16 * MiB, c->reps_io);
	if (wanted(c, "httpd"))
		scen_httpd(c->reps_httpd, c->httpd_seconds);
	if (wanted(c, "idle"))
		scen_idle(IDLE_CONNS, c->reps_httpd);
	/* Ratios need pairs: three repetitions at least. */
	if (wanted(c, "static"))
		scen_static(MAX(c->reps_httpd, 3), c->httpd_seconds);
}

int
main(int argc, char **argv)
{
	struct config cfg = quick, *c = &cfg;
	const char *out = ".", *script = "tools/bench/bench_cpython.py";
	const char *python = "python3", *markdown = NULL;
	const char *httpd = NULL, *alt = NULL;
	bool use_python = true;
	int httpd_reps = 0, httpd_seconds = 0, nargs = 0;
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
		else if (!strcmp(argv[i], "--markdown") && i + 1 < argc)
			markdown = argv[++i];
		else if (!strcmp(argv[i], "--httpd") && i + 1 < argc)
			httpd = argv[++i];
		else if (!strcmp(argv[i], "--httpd-alt") && i + 1 < argc)
			alt = argv[++i];
		else if (!strcmp(argv[i], "--httpd-alt-arg") && i + 1 < argc &&
			 nargs + 1 < (int)ARRAY_SIZE(server_alt_args))
			server_alt_args[nargs++] = argv[++i];
		else if (!strcmp(argv[i], "--httpd-reps") && i + 1 < argc)
			httpd_reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--httpd-seconds") && i + 1 < argc)
			httpd_seconds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--self-test") && argc == 2)
			return harness_self_test();
		else if (!strcmp(argv[i], "--check-servers") && argc == 2)
			return servers_self_test();
		else
			usage(argv[0]);
	}
	if (reps > 0)
		cfg.reps = reps < MAX_REPS ? reps : MAX_REPS;
	if (httpd_reps > 0)
		cfg.reps_httpd = httpd_reps;
	if (httpd_seconds > 0)
		cfg.httpd_seconds = httpd_seconds;
	servers_find(httpd, alt);
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
	if (wanted(c, "httpd"))
		print_httpd(nscens + 1);
	if (wanted(c, "idle"))
		print_idle(nscens + 1 + wanted(c, "httpd"));
	if (wanted(c, "static"))
		print_static(nscens + 1 + wanted(c, "httpd") +
			     wanted(c, "idle"));
	print_targets();

	json_write(json, c->mode);
	printf("JSON: %s\n", json);
	chart_write(base, c->mode);
	if (markdown)
		chart_markdown(markdown, c->mode);
	printf("(checksum %llu)\n", (unsigned long long)sink);
	free(h.stream);
	free(h.splits);
	free(src_bytes);
	free(limit_buf);
	return 0;
}
