/* rag-embed: add an "embedding" to every chunk record that passes through. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "buf.h"
#include "embed.h"
#include "jsonl.h"
#include "vec.h"

#define BATCH_DEFAULT	256
#define BATCH_MAX	100000

enum {
	OPT_B64 = 256, OPT_BATCH, OPT_DIMENSIONS, OPT_JOBS, OPT_MODEL,
	OPT_PROVIDER, OPT_STRICT, OPT_VERSION
};

static const struct option longopts[] = {
	{ "b64",	no_argument,		NULL, OPT_B64 },
	{ "batch",	required_argument,	NULL, OPT_BATCH },
	{ "dimensions",	required_argument,	NULL, OPT_DIMENSIONS },
	{ "help",	no_argument,		NULL, 'h' },
	{ "jobs",	required_argument,	NULL, OPT_JOBS },
	{ "model",	required_argument,	NULL, OPT_MODEL },
	{ "provider",	required_argument,	NULL, OPT_PROVIDER },
	{ "quiet",	no_argument,		NULL, 'q' },
	{ "strict",	no_argument,		NULL, OPT_STRICT },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "version",	no_argument,		NULL, OPT_VERSION },
	{ NULL,		0,			NULL, 0 }
};

struct opts {
	int		 b64, strict;
	size_t		 batch, dim;
	unsigned	 jobs;
	char		*model;		/* "local:hash-v1-384" */
};

/* One input line and what becomes of it. */
struct item {
	char		*line;		/* the line as read */
	size_t		 len;
	cJSON		*rec;		/* parsed; NULL: pass the line through */
	const char	*text;		/* lent by rec */
	struct buf	 out;		/* the line to write, when rec */
};

struct batch {
	const struct opts *o;
	struct item	*items;
	size_t		 n;
	long		 embedded, passed, bad;	/* for the summary */
};

struct worker {
	struct batch	*b;
	size_t		 from, to;
};

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: rag-embed [-hqv] [--b64] [--strict] "
	    "[--batch n] [--dimensions n] [--jobs n]\n"
	    "                 [--model name] [--provider name] [file ...]\n");
	exit(RP_EXIT_USAGE);
}

static _Noreturn void
help(void)
{
	printf("usage: rag-embed [-hqv] [--b64] [--strict] [--batch n] "
	    "[--dimensions n] [--jobs n]\n"
	    "                 [--model name] [--provider name] [file ...]\n"
	    "Add an \"embedding\" to every record with a \"text\"; other "
	    "records pass through.\n"
	    "\n"
	    "      --b64           write \"embedding_b64\" (base64 of "
	    "little-endian float32)\n"
	    "      --batch N       records read before embedding them "
	    "together (default %d)\n"
	    "      --dimensions N  vector size of the local model (default "
	    "%d)\n"
	    "      --jobs N        threads (default: the number of CPUs)\n"
	    "      --model NAME    the model, e.g. %s%d\n"
	    "      --provider P    local (the default: built in, offline)\n"
	    "  -q, --quiet         print errors only\n"
	    "      --strict        stop at the first bad record\n"
	    "  -v, --verbose       print a summary even when stderr is not "
	    "a terminal\n"
	    "  -h, --help          show this help\n"
	    "      --version       show the version\n"
	    "\n"
	    "Exit status: 0 ok, 1 failure, 2 usage, 65 some records were "
	    "bad (reported and skipped),\n"
	    "74 I/O error.\n", BATCH_DEFAULT, EMBED_LOCAL_DIM,
	    EMBED_LOCAL_PREFIX, EMBED_LOCAL_DIM);
	exit(RP_EXIT_OK);
}

/* Embed one record and write its output line into IT->out. */
static void
embed_item(const struct opts *o, struct item *it, float *v)
{
	char *s;
	size_t n;

	embed_local(it->text, strlen(it->text), v, o->dim);
	s = cJSON_PrintUnformatted(it->rec);
	n = strlen(s);
	/* The record as printed, less its "}", then our two fields. */
	buf_reset(&it->out);
	buf_add(&it->out, s, n - 1);
	cJSON_free(s);
	if (n > 2)
		buf_addc(&it->out, ',');
	if (o->b64) {
		buf_adds(&it->out, "\"embedding_b64\":\"");
		embed_b64(&it->out, v, o->dim);
		buf_addc(&it->out, '"');
	} else {
		buf_adds(&it->out, "\"embedding\":");
		embed_json(&it->out, v, o->dim);
	}
	buf_addf(&it->out, ",\"model\":\"%s\"}\n", o->model);
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	float *v = xreallocarray(NULL, w->b->o->dim, sizeof(*v));

	for (size_t i = w->from; i < w->to; i++)
		if (w->b->items[i].rec != NULL)
			embed_item(w->b->o, &w->b->items[i], v);
	free(v);
	return NULL;
}

/* Embed a batch on all threads, then write it in input order. */
static void
flush_batch(struct batch *b)
{
	struct worker w[VEC_MAX_THREADS];
	pthread_t tid[VEC_MAX_THREADS];
	int started[VEC_MAX_THREADS] = { 0 };
	unsigned t, nt = (unsigned)RP_MIN((size_t)b->o->jobs, b->n);
	struct item *it;

	if (nt == 0)
		nt = 1;
	for (t = 0; t < nt; t++) {
		w[t] = (struct worker){ b, b->n * t / nt, b->n * (t + 1) / nt };
		if (t > 0)
			started[t] = pthread_create(&tid[t], NULL, work,
			    &w[t]) == 0;
	}
	work(&w[0]);
	for (t = 1; t < nt; t++) {
		if (started[t])
			pthread_join(tid[t], NULL);
		else
			work(&w[t]);
	}
	for (size_t i = 0; i < b->n; i++) {
		it = &b->items[i];
		if (!rp_stdout_failed()) {
			if (it->rec != NULL)
				rp_write(stdout, it->out.data, it->out.len);
			else {
				rp_write(stdout, it->line, it->len);
				rp_write(stdout, "\n", 1);
			}
		}
		if (it->rec != NULL)
			b->embedded++;
		else
			b->passed++;
		cJSON_Delete(it->rec);
		buf_release(&it->out);
		free(it->line);
	}
	b->n = 0;
}

/*
 * Take one line into the batch: a record with a string "text" is
 * embedded; others pass through as they are.  Returns 0, or -1 with
 * ERR filled for a bad record.
 */
static int
take(struct batch *b, char *line, size_t len, const char *where,
    struct rp_err *err)
{
	struct item *it = &b->items[b->n];
	const cJSON *text;
	const char *why;
	cJSON *rec;

	if ((rec = jsonl_parse(line, len, &why)) == NULL)
		return rp_err_set(err, RP_EXIT_DATA, "%s: %s", where, why);
	text = cJSON_GetObjectItemCaseSensitive(rec, "text");
	if (text != NULL && !cJSON_IsString(text)) {
		cJSON_Delete(rec);
		return rp_err_set(err, RP_EXIT_DATA, "%s: 'text' is not a "
		    "string", where);
	}
	memset(it, 0, sizeof(*it));
	it->line = xstrndup(line, len);
	it->len = len;
	if (text != NULL) {
		/* A new embedding replaces any earlier one. */
		cJSON_DeleteItemFromObjectCaseSensitive(rec, "embedding");
		cJSON_DeleteItemFromObjectCaseSensitive(rec, "embedding_b64");
		cJSON_DeleteItemFromObjectCaseSensitive(rec, "model");
		it->rec = rec;
		it->text = text->valuestring;
	} else
		cJSON_Delete(rec);
	b->n++;
	return 0;
}

static int
embed_stream(struct batch *b, FILE *f, const char *name)
{
	struct lines *r = lines_open(f, name, JSONL_MAX_LINE, '\n');
	struct rp_err err;
	char where[256], *line;
	size_t len, blank;
	int rc, status = 0;

	while (!rp_stdout_failed() &&
	    (rc = lines_next(r, &line, &len, &err)) != 0) {
		if (rc < 0) {
			rp_report(&err, &status);
			if (err.code == RP_EXIT_IO)
				break;
			goto bad;
		}
		for (blank = 0; blank < len && (line[blank] == ' ' ||
		    line[blank] == '\t'); blank++)
			;
		if (blank == len)
			continue;
		snprintf(where, sizeof(where), "%s:%lu", name,
		    lines_lineno(r));
		if (take(b, line, len, where, &err) != 0) {
			rp_report(&err, &status);
			goto bad;
		}
		if (b->n == b->o->batch)
			flush_batch(b);
		continue;
bad:
		b->bad++;
		if (b->o->strict) {
			flush_batch(b);
			lines_close(r);
			rp_die(RP_EXIT_DATA, "stopping at the first bad record "
			    "(--strict)");
		}
	}
	flush_batch(b);
	lines_close(r);
	return status;
}

static void
set_model(struct opts *o, const char *provider, const char *model)
{
	size_t dim = o->dim;

	if (provider != NULL && strcmp(provider, "local") != 0)
		rp_die(RP_EXIT_USAGE, "--provider: '%s' is not supported yet "
		    "(local)", provider);
	if (model != NULL) {
		if (!embed_local_model(model, &o->dim))
			rp_die(RP_EXIT_USAGE, "--model: '%s' is not a local "
			    "model (%sN, N from 8 to %d)", model,
			    EMBED_LOCAL_PREFIX, EMBED_MAX_DIM);
		if (dim != 0 && dim != o->dim)
			rp_die(RP_EXIT_USAGE, "--dimensions %zu and --model %s "
			    "disagree", dim, model);
	} else if (o->dim == 0)
		o->dim = EMBED_LOCAL_DIM;
	o->model = xasprintf("%s%zu", EMBED_LOCAL_PREFIX, o->dim);
}

int
main(int argc, char *argv[])
{
	struct opts o = { .batch = BATCH_DEFAULT };
	const char *provider = NULL, *model = NULL;
	struct batch b;
	double t0 = rp_now();
	FILE *f;
	int ch, status = 0;

	rp_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "hqv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			help();
		case 'q':
			rp_verbosity = 0;
			break;
		case 'v':
			rp_verbosity = 2;
			break;
		case OPT_B64:
			o.b64 = 1;
			break;
		case OPT_BATCH:
			o.batch = rp_parse_ulong(optarg, 1, BATCH_MAX, "--batch");
			break;
		case OPT_DIMENSIONS:
			o.dim = rp_parse_ulong(optarg, 8, EMBED_MAX_DIM,
			    "--dimensions");
			break;
		case OPT_JOBS:
			o.jobs = (unsigned)rp_parse_ulong(optarg, 1,
			    VEC_MAX_THREADS, "--jobs");
			break;
		case OPT_MODEL:
			model = optarg;
			break;
		case OPT_PROVIDER:
			provider = optarg;
			break;
		case OPT_STRICT:
			o.strict = 1;
			break;
		case OPT_VERSION:
			printf("rag-embed (ragpipe) %s\n", RP_VERSION);
			return 0;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	set_model(&o, provider, model);
	if (o.jobs == 0)
		o.jobs = vec_threads();
	memset(&b, 0, sizeof(b));
	b.o = &o;
	b.items = xcalloc(o.batch, sizeof(*b.items));
	if (argc == 0)
		rp_status(&status, embed_stream(&b, stdin, "<stdin>"));
	for (int i = 0; i < argc && !rp_stdout_failed(); i++) {
		if (strcmp(argv[i], "-") == 0) {
			rp_status(&status, embed_stream(&b, stdin, "<stdin>"));
		} else if ((f = fopen(argv[i], "r")) == NULL) {
			rp_warn("%s: %s", argv[i], strerror(errno));
			rp_status(&status, RP_EXIT_IO);
		} else {
			rp_status(&status, embed_stream(&b, f, argv[i]));
			fclose(f);
		}
	}
	rp_note("%ld records embedded with %s, %ld passed through, %ld bad, "
	    "%.2f s", b.embedded, o.model, b.passed, b.bad, rp_now() - t0);
	free(b.items);
	free(o.model);
	return rp_finish(status);
}
