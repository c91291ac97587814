/* rag-embed: add an "embedding" to every chunk record that passes through. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "embed.h"
#include "http.h"
#include "store.h"
#include "vec.h"
#include "embedder.h"

#define BATCH_LOCAL	256	/* records embedded together */
#define BATCH_REMOTE	64	/* texts in one request */
#define BATCH_MAX	100000
#define BATCH_MAX_REMOTE 2048	/* OpenAI takes no more in one request */
#define JOBS_REMOTE	4	/* requests in flight */
#define PREFIX_MAX	1024	/* bytes */

enum {
	OPT_B64 = 256, OPT_BATCH, OPT_DIMENSIONS, OPT_DOC_PREFIX, OPT_JOBS,
	OPT_MODEL, OPT_NO_PROGRESS, OPT_PROGRESS, OPT_PROVIDER,
	OPT_QUERY_PREFIX, OPT_STRICT, OPT_VERSION
};

static const struct option longopts[] = {
	{ "b64",	no_argument,		NULL, OPT_B64 },
	{ "batch",	required_argument,	NULL, OPT_BATCH },
	{ "db",		required_argument,	NULL, 'd' },
	{ "dimensions",	required_argument,	NULL, OPT_DIMENSIONS },
	{ "doc-prefix",	required_argument,	NULL, OPT_DOC_PREFIX },
	{ "help",	no_argument,		NULL, 'h' },
	{ "jobs",	required_argument,	NULL, OPT_JOBS },
	{ "model",	required_argument,	NULL, OPT_MODEL },
	{ "no-progress", no_argument,		NULL, OPT_NO_PROGRESS },
	{ "progress",	no_argument,		NULL, OPT_PROGRESS },
	{ "provider",	required_argument,	NULL, OPT_PROVIDER },
	{ "query-prefix", required_argument,	NULL, OPT_QUERY_PREFIX },
	{ "quiet",	no_argument,		NULL, 'q' },
	{ "strict",	no_argument,		NULL, OPT_STRICT },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "version",	no_argument,		NULL, OPT_VERSION },
	{ NULL,		0,			NULL, 0 }
};

#define USAGE \
    "usage: rag-embed [-hqv] [--b64] [--no-progress] [--progress] " \
    "[--strict] [-d db]\n" \
    "                 [--batch n] [--dimensions n] [--doc-prefix text] " \
    "[--jobs n]\n" \
    "                 [--model name] [--provider name] " \
    "[--query-prefix text] [file ...]\n"

static _Noreturn void
usage(void)
{
	fputs(USAGE, stderr);
	exit(RP_EXIT_USAGE);
}

static _Noreturn void
help(void)
{
	printf(USAGE
	    "Add an \"embedding\" to every record with a \"text\"; other "
	    "records pass through.\n"
	    "\n"
	    "      --b64             write \"embedding_b64\" (base64 of "
	    "little-endian float32)\n"
	    "      --batch N         local: records embedded together "
	    "(default %d);\n"
	    "                        remote: texts a request (default %d)\n"
	    "  -d, --db PATH         take vectors already in this store's "
	    "cache (remote)\n"
	    "      --dimensions N    vector size: of the local model "
	    "(default %d), or asked of\n"
	    "                        a remote one\n"
	    "      --doc-prefix TEXT put TEXT before each text, e.g. "
	    "'search_document: '\n"
	    "      --jobs N          local: threads (default: the CPUs); "
	    "remote: requests at\n"
	    "                        once (default %d)\n"
	    "      --model NAME      the model, e.g. %s%d, "
	    "nomic-embed-text\n"
	    "      --provider P      local (built in, offline: the default), "
	    "openai or ollama\n"
	    "      --query-prefix TEXT  the prefix rag-query puts before "
	    "questions\n"
	    "      --no-progress, --progress\n"
	    "                        never, or always, show progress "
	    "(default: on a terminal)\n"
	    "  -q, --quiet           print errors only\n"
	    "      --strict          stop at the first bad record\n"
	    "  -v, --verbose         print a summary even when stderr is not "
	    "a terminal\n"
	    "  -h, --help            show this help\n"
	    "      --version         show the version\n"
	    "\n"
	    "Environment: RAG_EMBED_PROVIDER, RAG_EMBED_MODEL, "
	    "OPENAI_BASE_URL, OPENAI_API_KEY,\n"
	    "OLLAMA_HOST, RAG_TIMEOUT; the config file "
	    "$XDG_CONFIG_HOME/ragpipe/config.\n"
	    "Exit status: 0 ok, 1 failure, 2 usage, 65 some records were "
	    "bad (reported and skipped),\n"
	    "69 the model server failed, 74 I/O error.\n", BATCH_LOCAL,
	    BATCH_REMOTE, EMBED_LOCAL_DIM, JOBS_REMOTE, EMBED_LOCAL_PREFIX,
	    EMBED_LOCAL_DIM);
	exit(rp_finish(RP_EXIT_OK));
}

void
item_fail(struct run *r, struct item *it, const struct rp_err *err)
{
	rp_report(err, &r->status);
	it->failed = 1;
	r->bad++;
}

/* The record of IT as printed, less its "}", then our fields. */
static void
compose(const struct run *r, const struct item *it, struct buf *out)
{
	char *s = cJSON_PrintUnformatted(it->rec);
	size_t n = strlen(s);
	cJSON *str;

	buf_add(out, s, n - 1);
	cJSON_free(s);
	if (n > 2)
		buf_addc(out, ',');
	if (r->b64) {
		buf_adds(out, "\"embedding_b64\":\"");
		embed_b64(out, it->v, it->dim);
		buf_addc(out, '"');
	} else {
		buf_adds(out, "\"embedding\":");
		embed_json(out, it->v, it->dim);
	}
	str = cJSON_CreateString(r->model);
	s = cJSON_PrintUnformatted(str);
	buf_addf(out, ",\"model\":%s", s);
	cJSON_free(s);
	cJSON_Delete(str);
	if (r->dimensions > 0)
		buf_addf(out, ",\"dimensions\":%zu", r->dimensions);
	for (int i = 0; i < 2; i++) {
		const char *v = i == 0 ? r->doc_prefix : r->query_prefix;

		if (*v == '\0')
			continue;
		str = cJSON_CreateString(v);
		s = cJSON_PrintUnformatted(str);
		buf_addf(out, ",\"%s\":%s", i == 0 ? "doc_prefix" :
		    "query_prefix", s);
		cJSON_free(s);
		cJSON_Delete(str);
	}
	buf_adds(out, "}\n");
}

struct formatter {
	struct run	*r;
	size_t		 from, to;
};

static void *
format_work(void *arg)
{
	struct formatter *f = arg;
	struct item *it;

	for (size_t i = f->from; i < f->to; i++) {
		it = &f->r->items[i];
		if (it->rec != NULL && !it->failed)
			compose(f->r, it, &it->out);
	}
	return NULL;
}

/*
 * Write the window's output lines on all CPUs: the shortest decimals of
 * a thousand floats take longer than a cached vector takes to find.
 */
static void
format_window(struct run *r)
{
	struct formatter f[VEC_MAX_THREADS];
	pthread_t tid[VEC_MAX_THREADS];
	int started[VEC_MAX_THREADS] = { 0 };
	unsigned t, nt = (unsigned)RP_MIN((size_t)vec_threads(), r->n);

	if (nt == 0)
		nt = 1;
	for (t = 0; t < nt; t++) {
		f[t] = (struct formatter){ r, r->n * t / nt,
		    r->n * (t + 1) / nt };
		if (t > 0)
			started[t] = pthread_create(&tid[t], NULL, format_work,
			    &f[t]) == 0;
	}
	format_work(&f[0]);
	for (t = 1; t < nt; t++) {
		if (started[t])
			pthread_join(tid[t], NULL);
		else
			format_work(&f[t]);
	}
}

/* Embed the window, then write it in input order. */
static void
flush(struct run *r)
{
	struct item *it;

	if (r->p == PROVIDER_LOCAL)
		local_embed(r);
	else
		remote_embed(r);
	format_window(r);
	for (size_t i = 0; i < r->n; i++) {
		it = &r->items[i];
		if (it->failed && r->strict && !r->stop) {
			rp_finish(r->status);
			rp_die(RP_EXIT_DATA, "stopping at the first bad record "
			    "(--strict)");
		}
		if (!rp_stdout_failed() && !it->failed) {
			if (it->rec == NULL) {
				buf_add(&it->out, it->line, it->len);
				buf_addc(&it->out, '\n');
			}
			rp_write(stdout, it->out.data, it->out.len);
		}
		if (it->rec == NULL)
			r->passed++;
		else if (!it->failed) {
			r->embedded++;
			r->cached += it->cached;
			rp_progress_add(&r->progress, 1, 0);
		}
		cJSON_Delete(it->rec);
		buf_release(&it->out);
		free(it->v);
		free(it->line);
		free(it->where);
	}
	rp_flush(stdout);
	r->n = 0;
}

/*
 * Take one line into the window: a record with a string "text" is
 * embedded; others pass through as they are.  Returns 0, or -1 with
 * ERR filled for a bad record.
 */
static int
take(struct run *r, char *line, size_t len, const char *where,
    struct rp_err *err)
{
	static const char *const ours[] = {
		"embedding", "embedding_b64", "model", "dimensions",
		"doc_prefix", "query_prefix",
	};
	struct item *it = &r->items[r->n];
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
	it->where = xstrdup(where);
	if (text != NULL) {
		/* A new embedding replaces any earlier one. */
		for (size_t i = 0; i < RP_NELEM(ours); i++)
			cJSON_DeleteItemFromObjectCaseSensitive(rec, ours[i]);
		it->rec = rec;
		it->text = text->valuestring;
		it->tlen = strlen(it->text);
	} else
		cJSON_Delete(rec);
	r->n++;
	return 0;
}

static void
embed_stream(struct run *r, FILE *f, const char *name)
{
	struct lines *l = lines_open(f, name, JSONL_MAX_LINE, '\n');
	struct rp_err err;
	char where[256], *line;
	size_t len, blank;
	int rc;

	while (!rp_stdout_failed() && !r->stop &&
	    (rc = lines_next(l, &line, &len, &err)) != 0) {
		if (rc < 0) {
			rp_report(&err, &r->status);
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
		    lines_lineno(l));
		if (take(r, line, len, where, &err) != 0) {
			rp_report(&err, &r->status);
			goto bad;
		}
		if (r->n == r->cap)
			flush(r);
		continue;
bad:
		r->bad++;
		if (r->strict) {
			flush(r);
			lines_close(l);
			rp_finish(r->status);
			rp_die(RP_EXIT_DATA, "stopping at the first bad record "
			    "(--strict)");
		}
	}
	flush(r);
	lines_close(l);
}

static _Noreturn void
die_err(const struct rp_err *err)
{
	rp_report(err, NULL);
	exit(err->code != RP_EXIT_OK ? err->code : RP_EXIT_FAIL);
}

/* The local model: "local:hash-v1-N", with --dimensions N agreeing. */
static void
local_model(struct run *r, const struct cfg *c, const char *name,
    size_t dims)
{
	char *m = xasprintf("local:%s", name), s[128];

	if (cfg_source(c, CFG_EMBED_MODEL) == CFG_SRC_DEFAULT) {
		free(m);
		r->dim = dims != 0 ? dims : EMBED_LOCAL_DIM;
		r->model = xasprintf("%s%zu", EMBED_LOCAL_PREFIX, r->dim);
		return;
	}
	if (!embed_local_model(m, &r->dim))
		rp_die(RP_EXIT_USAGE, "%s: '%s' is not a local model (%sN, N "
		    "from 8 to %d)", cfg_where(c, CFG_EMBED_MODEL),
		    rp_sanitize(s, sizeof(s), cfg_get(c, CFG_EMBED_MODEL)),
		    EMBED_LOCAL_PREFIX, EMBED_MAX_DIM);
	if (dims != 0 && dims != r->dim)
		rp_die(RP_EXIT_USAGE, "--dimensions %zu and %s %s disagree",
		    dims, cfg_where(c, CFG_EMBED_MODEL), m);
	r->model = m;
}

/* The provider and model from flags, environment and config. */
static void
settings(struct run *r, const struct cfg *c, size_t dims)
{
	const char *pname = cfg_get(c, CFG_EMBED_PROVIDER);
	const char *model = cfg_get(c, CFG_EMBED_MODEL), *name = model;
	enum provider mp;
	char s[128];
	int p = provider_find(pname);

	if (p < 0 || p == PROVIDER_EXTRACTIVE)
		rp_die(RP_EXIT_USAGE, "%s: '%s' is not an embedding provider "
		    "(local, openai, ollama)", cfg_where(c, CFG_EMBED_PROVIDER),
		    rp_sanitize(s, sizeof(s), pname));
	if (provider_split(model, &mp, &name) && (int)mp != p) {
		/* "--model ollama:x" says the provider too. */
		if (cfg_source(c, CFG_EMBED_PROVIDER) != CFG_SRC_DEFAULT ||
		    mp == PROVIDER_EXTRACTIVE)
			rp_die(RP_EXIT_USAGE, "%s: '%s' is not a model of %s",
			    cfg_where(c, CFG_EMBED_MODEL), rp_sanitize(s,
			    sizeof(s), model), pname);
		p = (int)mp;
	}
	r->p = (enum provider)p;
	if (*name == '\0')
		rp_die(RP_EXIT_USAGE, "%s: no model name",
		    cfg_where(c, CFG_EMBED_MODEL));
	if (r->p == PROVIDER_LOCAL) {
		local_model(r, c, name, dims);
		return;
	}
	r->model = xasprintf("%s:%s", provider_name(r->p), name);
	r->dimensions = dims;
}

/* Connect to the model server, and open the cache. */
static void
remote_setup(struct run *r, const struct cfg *c, const char *db)
{
	struct rp_err err;
	char *url;

	if ((url = provider_url(r->p, c, r->p == PROVIDER_OPENAI ?
	    "/embeddings" : "/api/embed", &err)) == NULL)
		die_err(&err);
	r->pe.p = r->p;
	r->pe.model = strchr(r->model, ':') + 1;
	r->pe.url = url;
	r->pe.api_key = provider_key(r->p, c);
	r->pe.dimensions = r->dimensions;
	if ((r->http = provider_http(c, (int)r->jobs, &err)) == NULL)
		die_err(&err);
	if (db == NULL)
		return;
	r->store = store_open(db, STORE_READONLY | STORE_OPTIONAL |
	    STORE_EMPTY_OK, &err);
	if (r->store == NULL && err.code != RP_EXIT_OK)
		die_err(&err);
}

static void
load_cfg(struct cfg *c)
{
	struct rp_err err;
	const char *w;

	if (cfg_load(c, getenv, &err) != 0)
		die_err(&err);
	for (size_t i = 0; (w = cfg_warning(c, i)) != NULL; i++)
		rp_warn("%s", w);
}

static const char *
prefix_arg(const char *arg, const char *name)
{
	if (strlen(arg) > PREFIX_MAX || strchr(arg, '\n') != NULL)
		rp_die(RP_EXIT_USAGE, "%s: at most %d bytes, on one line",
		    name, PREFIX_MAX);
	return arg;
}

static void
run_files(struct run *r, int argc, char **argv)
{
	FILE *f;

	if (argc == 0)
		embed_stream(r, stdin, "<stdin>");
	for (int i = 0; i < argc && !rp_stdout_failed() && !r->stop; i++) {
		if (strcmp(argv[i], "-") == 0)
			embed_stream(r, stdin, "<stdin>");
		else if ((f = fopen(argv[i], "r")) == NULL) {
			rp_warn("%s: %s", argv[i], strerror(errno));
			rp_status(&r->status, RP_EXIT_IO);
		} else {
			embed_stream(r, f, argv[i]);
			fclose(f);
		}
	}
}

int
main(int argc, char *argv[])
{
	struct run r;
	struct cfg *c = cfg_new();
	const char *db = NULL;
	size_t dims = 0, batch = 0;
	double t0 = rp_now();
	int ch, progress = -1;

	rp_init(argv[0]);
	memset(&r, 0, sizeof(r));
	r.doc_prefix = r.query_prefix = "";
	while ((ch = getopt_long(argc, argv, "d:hqv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			db = optarg;
			break;
		case 'h':
			help();
		case 'q':
			rp_verbosity = 0;
			break;
		case 'v':
			rp_verbosity = 2;
			break;
		case OPT_B64:
			r.b64 = 1;
			break;
		case OPT_BATCH:
			batch = rp_parse_ulong(optarg, 1, BATCH_MAX, "--batch");
			break;
		case OPT_DIMENSIONS:
			dims = rp_parse_ulong(optarg, 8, EMBED_MAX_DIM,
			    "--dimensions");
			break;
		case OPT_DOC_PREFIX:
			r.doc_prefix = prefix_arg(optarg, "--doc-prefix");
			break;
		case OPT_JOBS:
			r.jobs = (unsigned)rp_parse_ulong(optarg, 1,
			    VEC_MAX_THREADS, "--jobs");
			break;
		case OPT_MODEL:
			cfg_set_flag(c, CFG_EMBED_MODEL, optarg, "--model");
			break;
		case OPT_NO_PROGRESS:
			progress = 0;
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case OPT_PROVIDER:
			cfg_set_flag(c, CFG_EMBED_PROVIDER, optarg,
			    "--provider");
			break;
		case OPT_QUERY_PREFIX:
			r.query_prefix = prefix_arg(optarg, "--query-prefix");
			break;
		case OPT_STRICT:
			r.strict = 1;
			break;
		case OPT_VERSION:
			printf("rag-embed (ragpipe) %s\n", RP_VERSION);
			cfg_free(c);
			return rp_finish(0);
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	load_cfg(c);
	settings(&r, c, dims);
	if (r.p == PROVIDER_LOCAL) {
		r.batch = batch != 0 ? batch : BATCH_LOCAL;
		r.jobs = r.jobs != 0 ? r.jobs : vec_threads();
		r.cap = r.batch;
	} else {
		if (batch > BATCH_MAX_REMOTE)
			rp_die(RP_EXIT_USAGE, "--batch: at most %d texts a "
			    "request to a model server", BATCH_MAX_REMOTE);
		r.batch = batch != 0 ? batch : BATCH_REMOTE;
		r.jobs = r.jobs != 0 ? r.jobs : JOBS_REMOTE;
		r.cap = r.batch * r.jobs;
		remote_setup(&r, c, db);
	}
	r.items = xcalloc(r.cap, sizeof(*r.items));
	rp_progress_start(&r.progress, progress == 1 || (progress == -1 &&
	    rp_stderr_tty && rp_verbosity > 0), "records embedded", 0);
	run_files(&r, argc, argv);
	rp_progress_end(&r.progress);
	if (r.lost > 0)
		rp_warn("%ld records were not embedded: the model server "
		    "failed", r.lost);
	rp_note("%ld records embedded with %s (%ld from the cache, %ld "
	    "requests), %ld passed through, %ld bad, %.2f s", r.embedded,
	    r.model, r.cached, r.requests, r.passed, r.bad, rp_now() - t0);
	store_close(r.store);
	http_free(r.http);
	free((char *)r.pe.url);
	free(r.items);
	free(r.model);
	cfg_free(c);
	return rp_finish(r.status);
}
