/* SPDX-License-Identifier: MIT */
/*
 * CPython's io.BytesIO in the benchmark tour: tools/bench/bench_cpython.py,
 * run once before the C peers, on the same bytes (written to files it reads),
 * with the same sizes and repetitions (one JSON argument). Its figures are
 * added to each table by py_add().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

struct py_state py = { .why = "not run (--no-python)" };

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

void
py_run(const char *python, const char *script, const char *config)
{
	int fds[2], status;
	char line[8192];
	pid_t pid;
	FILE *in;

	if (access(script, R_OK) < 0) {
		py.why = "tools/bench/bench_cpython.py not found "
			 "(--script)";
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

void
py_add(struct scen *s, const char *id, const char *label)
{
	struct fig *f = fig_new(s, "cpython", label);
	const struct py_fig *p = py_get(id, false);

	/* One process, so warm; a table of bytes only has no modes. */
	f->mode = s->cols & COL_NOTIME ? "" : "warm";
	if (!py.ran || !p || (!p->n && !p->has_mem)) {
		f->skip = py.ran ? "not measured" : py.why;
		return;
	}
	f->tracemalloc = true;
	if (p->n > 1)
		f->first = p->t[0];
	/* A memory-only figure is one repetition without a time; of several,
	 * the first is not counted (warm). */
	for (int i = p->n > 1; i < (p->n ? p->n : 1); i++) {
		struct probe pr = {
			.t = p->n ? p->t[i] : NAN,
			.kept = p->has_mem ? p->kept : NAN,
			.peak = p->has_mem ? p->peak : NAN,
			.total = NAN, .allocs = NAN, .rss_peak = NAN,
			.rss_kept = NAN, .pss_kept = NAN, .faults = NAN,
			.own_kept = NAN, .own_peak = NAN, .own_total = NAN,
		};
		fig_add(f, &pr);
	}
}

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

void
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

void
shared_remove(const struct shared_files *sf)
{
	unlink(sf->source);
	unlink(sf->stream);
	unlink(sf->splits);
	rmdir(sf->dir);
}

void
python_config(char *out, size_t n, const struct config *c,
	      const struct shared_files *sf, const struct http *h)
{
	/* One repetition more than the tables count: the first is warm-up. */
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
		 sf->source, sf->stream, sf->splits, 1 + c->reps_50k,
		 1 + c->reps_10m, c->net / 1448, 1 + c->reps,
		 c->net / (64 * KiB), 1 + c->reps, BUILD_PIECE,
		 c->getvalue / BUILD_PIECE, c->held / BUILD_PIECE, 1 + c->reps,
		 LOOP_PIECE, c->loop_dropped[0], 1 + c->reps_loop,
		 c->loop_dropped[1], 1 + c->reps_loop, c->loop_held[0],
		 1 + c->reps_held, c->loop_held[1], 1 + c->reps_held,
		 h->messages, c->exports / BUILD_PIECE, 1 + c->reps_export,
		 EMPTIES,
		 c->only ? c->only : "");
}
