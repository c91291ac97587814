/*
 * replay: feed files to a fuzz target without libFuzzer, for make
 * check (built with the normal compiler, and again with ASan+UBSan).
 *
 * usage: r-<name> DIR|FILE...
 *
 * Every regular file in each directory (not recursively; hidden files
 * skipped) and every file named is passed to LLVMFuzzerTestOneInput
 * once, in name order.  Before each, its path goes to stderr, so that
 * a crash is followed by the input that caused it.  Prints one TAP line
 * per operand: "ok N - DIR: K inputs"; a missing or unreadable operand
 * is "not ok".  A crash ends the run (tests/run reports the exit
 * status).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int	ntap, nfail;

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run the target on file PATH: 0, or -1 if it cannot be read. */
static int
run_file(const char *path)
{
	unsigned char *p;
	size_t n = 0, cap = 1 << 16;
	size_t r;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	if ((p = malloc(cap)) == NULL)
		abort();
	while ((r = fread(p + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap && (p = realloc(p, cap *= 2)) == NULL)
			abort();
	}
	if (ferror(f)) {
		fclose(f);
		free(p);
		return -1;
	}
	fclose(f);
	fprintf(stderr, "replay: %s\n", path);
	/* An exact-size copy, so that ASan sees a read past the end. */
	{
		unsigned char *q = malloc(n > 0 ? n : 1);

		if (q == NULL)
			abort();
		memcpy(q, p, n);
		free(p);
		LLVMFuzzerTestOneInput(q, n);
		free(q);
	}
	return 0;
}

/* "ok N - WHAT: V inputs" (NOTE, when given, instead of "inputs"). */
static void
tap(int pass, const char *what, size_t v, const char *note)
{
	printf("%s %d - %s: %zu %s\n", pass ? "ok" : "not ok", ++ntap, what,
	    v, note != NULL ? note : "inputs");
	fflush(stdout);
	nfail += !pass;
}

static void
run_dir(const char *dir)
{
	struct dirent *e;
	struct stat sb;
	char **names = NULL, *path;
	size_t n = 0, ran = 0, bad = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		tap(0, dir, 0, "inputs: cannot open it");
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if ((names = realloc(names, (n + 1) * sizeof(*names))) == NULL ||
		    (names[n++] = strdup(e->d_name)) == NULL)
			abort();
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp);
	for (size_t i = 0; i < n; i++) {
		if ((path = malloc(strlen(dir) + strlen(names[i]) + 2)) == NULL)
			abort();
		snprintf(path, strlen(dir) + strlen(names[i]) + 2, "%s/%s",
		    dir, names[i]);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (run_file(path) == 0)
				ran++;
			else
				bad++;
		}
		free(path);
		free(names[i]);
	}
	free(names);
	if (bad > 0)
		tap(0, dir, bad, "inputs could not be read");
	else
		tap(1, dir, ran, NULL);
}

int
main(int argc, char *argv[])
{
	struct stat sb;

	if (argc < 2) {
		fprintf(stderr, "usage: %s dir|file ...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (stat(argv[i], &sb) != 0) {
			tap(0, argv[i], 0, "inputs: no such file");
			printf("# %s\n", strerror(errno));
		}
		else if (S_ISDIR(sb.st_mode))
			run_dir(argv[i]);
		else
			tap(run_file(argv[i]) == 0, argv[i], 1, "inputs");
	}
	printf("1..%d\n", ntap);
	return nfail != 0;
}
