/* SPDX-License-Identifier: MIT */
/*
 * Run fuzz inputs through the fuzz target without libFuzzer: every file
 * named on the command line, or every file in a directory named there. The
 * seed corpus and every saved crash input run this way in the normal test
 * suite, under gcc, the sanitizers and valgrind alike.
 *
 * It also makes seeds: a PRNG run of the harness, recorded as the input
 * that replays it (see rope-ops.c):
 *
 *   test-fuzz-replay --record FILE SEED FLAGS STEPS [OP,OP...]
 *
 * FLAGS are model.h's F_* bits (0x3f: all); the ops, if named, are the
 * only ones the run picks (names as in tests/model-table.c). And with
 * --dict it prints the libFuzzer dictionary of the operations.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void t_fuzz_report(FILE *f);
uint8_t *t_fuzz_record(uint64_t seed, unsigned flags, uint64_t only,
		       unsigned long steps, size_t *len);

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;

	if (!f || fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		if (f)
			fclose(f);
		return -1;
	}
	rewind(f);
	buf = malloc((size_t)len + 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)len);  /* aborts on a finding */
	free(buf);
	return 0;
}

/* --record FILE SEED FLAGS STEPS [OPS] */
static int
record(int argc, char **argv)
{
	uint64_t only = 0;
	uint8_t *buf;
	size_t len;
	FILE *f;

	if (argc < 6) {
		fprintf(stderr, "usage: %s --record FILE SEED FLAGS STEPS "
			"[OP,OP...]\n", argv[0]);
		return 2;
	}
	if (argc > 6) {
		char *list = strdup(argv[6]), *save = NULL;

		for (char *t = strtok_r(list, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			size_t i = 0;

			while (i < t_model_nops && strcmp(t_model_ops[i].name, t))
				i++;
			if (i == t_model_nops) {
				fprintf(stderr, "no operation %s\n", t);
				free(list);
				return 2;
			}
			only |= UINT64_C(1) << i;
		}
		free(list);
	}
	buf = t_fuzz_record(strtoull(argv[3], NULL, 0),
			    (unsigned)strtoul(argv[4], NULL, 0), only,
			    strtoul(argv[5], NULL, 0), &len);
	f = fopen(argv[2], "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "cannot write %s\n", argv[2]);
		free(buf);
		return 99;
	}
	free(buf);
	/* The recording must replay the same run. */
	return run_file(argv[2]) < 0 ? 99 : 0;
}

int
main(int argc, char **argv)
{
	int files = 0;

	if (argc > 1 && !strcmp(argv[1], "--record"))
		return record(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--dict")) {
		t_model_dict(stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *e;

		if (stat(argv[i], &st) < 0)
			return 99;
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) < 0)
				return 99;
			files++;
			continue;
		}
		d = opendir(argv[i]);
		while (d && (e = readdir(d))) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (run_file(path) < 0)
				return 99;
			files++;
		}
		if (d)
			closedir(d);
	}
	printf("replay: %d inputs, all agree with the model\n", files);
	t_fuzz_report(stdout);
	return files ? 0 : 99;
}
