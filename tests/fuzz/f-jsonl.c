/*
 * f-jsonl: the JSON lines reader and record checks (lib/jsonl.h) as
 * rag-index, rag-embed and rag-answer use them, on any bytes arriving
 * on a pipe.  The first byte chooses the reader (lines or records), the
 * delimiter and a line cap (a small one reaches the over-long line
 * path); the rest is the input.
 */
#define _GNU_SOURCE
#include "fuzz.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rp.h"
#include "buf.h"
#include "jsonl.h"
#include "utf8.h"

/* The input as a FILE with a descriptor, as the readers need. */
static FILE *
input(const uint8_t *data, size_t size)
{
	FILE *f;
	int fd;

	if ((fd = memfd_create("fuzz", 0)) < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	if (lseek(fd, 0, SEEK_SET) != 0 || (f = fdopen(fd, "r")) == NULL)
		abort();
	return f;
}

static void
lines(FILE *f, size_t max, int delim)
{
	struct lines *r = lines_open(f, "<fuzz>", max, delim);
	struct rp_err err;
	unsigned long prev = 0;
	char *line;
	size_t len;
	int rc;

	while ((rc = lines_next(r, &line, &len, &err)) != 0) {
		FUZZ_CHECK(lines_lineno(r) == prev + 1);
		prev = lines_lineno(r);
		if (rc < 0) {
			FUZZ_CHECK(err.code == RP_EXIT_DATA);
			continue;
		}
		FUZZ_CHECK(len <= max && line[len] == '\0');
		FUZZ_CHECK(memchr(line, delim, len) == NULL);
	}
	lines_close(r);
}

/* Every string in O, keys too, is valid UTF-8 (ragpipe-format(5)). */
static void
all_utf8(const cJSON *o)
{
	const cJSON *c;

	if (o->string != NULL)
		FUZZ_CHECK(utf8_valid(o->string, strlen(o->string)) ||
		    o->string[0] == '\0');
	if (cJSON_IsString(o))
		FUZZ_CHECK(utf8_valid(o->valuestring,
		    strlen(o->valuestring)) || o->valuestring[0] == '\0');
	for (c = o->child; c != NULL; c = c->next)
		all_utf8(c);
}

/* What rag-index asks of each record. */
static void
record(const cJSON *rec, FILE *sink)
{
	struct rp_err err;
	const char *model;
	float *v;
	size_t dim;
	long nchunks;

	FUZZ_CHECK(cJSON_IsObject(rec));
	all_utf8(rec);
	if (jsonl_chunk_check(rec, &nchunks, &err) == 0)
		FUZZ_CHECK(nchunks >= -1 && (nchunks != -1 ||
		    jsonl_str(rec, "text") != NULL));
	else
		FUZZ_CHECK(err.code == RP_EXIT_DATA);
	if (jsonl_embedding(rec, &v, &model, &dim, &err) == 0) {
		FUZZ_CHECK((v == NULL) == (model == NULL));
		FUZZ_CHECK(v == NULL || (dim >= 1 && dim <= 65536));
		free(v);
	} else
		FUZZ_CHECK(err.code == RP_EXIT_DATA);
	jsonl_write(sink, rec);
}

static void
records(FILE *f, size_t max)
{
	struct jsonl *r = jsonl_open(f, "<fuzz>", max);
	struct rp_err err;
	static FILE *sink;
	cJSON *rec;
	int rc;

	if (sink == NULL && (sink = fopen("/dev/null", "w")) == NULL)
		abort();
	while ((rc = jsonl_next(r, &rec, &err)) != 0) {
		FUZZ_CHECK(strncmp(jsonl_where(r), "<fuzz>:", 7) == 0);
		if (rc < 0) {
			FUZZ_CHECK(err.code == RP_EXIT_DATA);
			continue;
		}
		record(rec, sink);
		cJSON_Delete(rec);
	}
	jsonl_close(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned opt = fuzz_byte(&data, &size);
	size_t max = opt & 4 ? 1 + (opt >> 3) : JSONL_MAX_LINE;
	FILE *f = input(data, size);

	if (opt & 1)
		records(f, max);
	else
		lines(f, max, opt & 2 ? '\0' : '\n');
	fclose(f);
	return 0;
}
