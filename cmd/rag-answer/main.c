/* rag-answer: answer each question from its hit records, with citations. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "buf.h"
#include "cfg.h"
#include "http.h"
#include "jsonl.h"
#include "utf8.h"
#include "answer.h"

enum {
	OPT_JSON = 256, OPT_MAX_CHARS, OPT_MAX_CONTEXT, OPT_MODEL, OPT_PROVIDER,
	OPT_QUESTION, OPT_SENTENCES, OPT_SYSTEM, OPT_TEMPERATURE, OPT_VERSION
};

static const struct option longopts[] = {
	{ "help",	no_argument,		NULL, 'h' },
	{ "json",	no_argument,		NULL, OPT_JSON },
	{ "max-chars",	required_argument,	NULL, OPT_MAX_CHARS },
	{ "max-context", required_argument,	NULL, OPT_MAX_CONTEXT },
	{ "model",	required_argument,	NULL, OPT_MODEL },
	{ "provider",	required_argument,	NULL, OPT_PROVIDER },
	{ "question",	required_argument,	NULL, OPT_QUESTION },
	{ "quiet",	no_argument,		NULL, 'q' },
	{ "sentences",	required_argument,	NULL, OPT_SENTENCES },
	{ "system",	required_argument,	NULL, OPT_SYSTEM },
	{ "temperature", required_argument,	NULL, OPT_TEMPERATURE },
	{ "version",	no_argument,		NULL, OPT_VERSION },
	{ NULL,		0,			NULL, 0 }
};

/* The state of a run: the open group and what was printed. */
struct run {
	struct opts	 o;
	struct group	 g;
	int		 open;
	size_t		 ngroups;
	struct buf	 held;	/* the first text answer, until a second */
	char		*held_q;
	int		 status;
};


static const struct answerer providers[] = {
	{ "extractive",	extractive,	0 },
	{ "openai",	openai_chat,	1 },
	{ "ollama",	ollama_chat,	1 },
};

#define USAGE \
    "usage: rag-answer [-hq] [--json] [--max-chars n] [--max-context n] " \
    "[--model name]\n" \
    "                  [--provider name] [--question text] " \
    "[--sentences n]\n" \
    "                  [--system text] [--temperature t] [file ...]\n"

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
	    "Answer each question from its hit records (from rag-query), "
	    "citing the sources.\n"
	    "\n"
	    "      --json             one JSON object per question\n"
	    "      --max-chars N      extractive: characters of sentences an "
	    "answer (default %d)\n"
	    "      --max-context N    model: characters of passages in the "
	    "prompt (default %d)\n"
	    "      --model NAME       model: its name, e.g. gpt-4o-mini, "
	    "llama3.2\n"
	    "      --provider NAME    extractive (the default: sentences "
	    "of the hits, offline),\n"
	    "                         openai or ollama (a model server, "
	    "streamed)\n"
	    "      --question TEXT    answer TEXT from all the hits read\n"
	    "  -q, --quiet            print errors only\n"
	    "      --sentences N      extractive: sentences an answer at most "
	    "(default %d)\n"
	    "      --system TEXT      model: the system prompt\n"
	    "      --temperature T    model: sampling temperature, 0 to 2\n"
	    "  -h, --help             show this help\n"
	    "      --version          show the version\n"
	    "\n"
	    "Hits come from the files named, or standard input; "
	    "consecutive hits with the same\n"
	    "qid (or query) are one question.  Environment: "
	    "RAG_ANSWER_PROVIDER, RAG_ANSWER_MODEL,\n"
	    "OPENAI_BASE_URL, OPENAI_API_KEY, OLLAMA_HOST, RAG_TIMEOUT.\n"
	    "Exit status: 0 answered, 1 failure, 2 usage, 3 no answer "
	    "for some question,\n"
	    "65 some records were bad, 69 the model server failed, "
	    "74 I/O error.\n", MAX_CHARS_DEFAULT, MAX_CONTEXT_DEFAULT,
	    SENTENCES_DEFAULT);
	exit(rp_finish(RP_EXIT_OK));
}

static _Noreturn void
die_err(const struct rp_err *err)
{
	rp_report(err, NULL);
	exit(err->code != RP_EXIT_OK ? err->code : RP_EXIT_FAIL);
}

/* The provider and model from flags, environment and config. */
static void
settings(struct opts *o, const struct cfg *c)
{
	const char *pname = cfg_get(c, CFG_ANSWER_PROVIDER);
	const char *model = cfg_get(c, CFG_ANSWER_MODEL), *name = model;
	struct rp_err err;
	enum provider p;
	char s[128];
	size_t i;

	for (i = 0; i < RP_NELEM(providers); i++)
		if (strcmp(pname, providers[i].name) == 0)
			break;
	if (i == RP_NELEM(providers))
		rp_die(RP_EXIT_USAGE, "%s: '%s' is not an answer provider "
		    "(extractive, openai, ollama)",
		    cfg_where(c, CFG_ANSWER_PROVIDER),
		    rp_sanitize(s, sizeof(s), pname));
	/* "--model ollama:llama3.2" says the provider too. */
	if (model != NULL && provider_split(model, &p, &name) &&
	    strcmp(provider_name(p), pname) != 0) {
		if (cfg_source(c, CFG_ANSWER_PROVIDER) != CFG_SRC_DEFAULT ||
		    (p != PROVIDER_OPENAI && p != PROVIDER_OLLAMA))
			rp_die(RP_EXIT_USAGE, "%s: '%s' is not a model of %s",
			    cfg_where(c, CFG_ANSWER_MODEL), rp_sanitize(s,
			    sizeof(s), model), pname);
		pname = provider_name(p);
		for (i = 0; strcmp(pname, providers[i].name) != 0; i++)
			continue;
	}
	o->provider = &providers[i];
	if (!o->provider->streams)
		return;
	p = (enum provider)provider_find(pname);
	if (name == NULL || *name == '\0')
		rp_die(RP_EXIT_USAGE, "%s: no model name",
		    cfg_where(c, CFG_ANSWER_MODEL));
	o->model = xasprintf("%s:%s", pname, name);
	o->server_model = strchr(o->model, ':') + 1;
	if ((o->url = provider_url(p, c, p == PROVIDER_OPENAI ?
	    "/chat/completions" : "/api/chat", &err)) == NULL ||
	    (o->http = provider_http(c, 1, &err)) == NULL)
		die_err(&err);
	o->api_key = provider_key(p, c);
}

/* Append S to B with control characters as spaces (one line of text). */
static void
add_line(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		buf_addc(b, (unsigned char)*s < 0x20 || *s == 0x7F ? ' ' : *s);
}

/* "Sources:" and a line "[n] doc:line" for each source. */
static void
render_sources(struct buf *b, const struct group *g, const struct answer *a)
{
	const struct cite *c;

	if (a->ncites == 0)
		return;
	buf_adds(b, "\nSources:\n");
	for (size_t i = 0; i < a->ncites; i++) {
		c = &a->cites[i];
		buf_addf(b, "[%zu] ", c->n);
		add_line(b, g->hits[c->hit].doc);
		/* A page says more than a line of a PDF's extracted text. */
		if (g->hits[c->hit].page > 0)
			buf_addf(b, ":p%lu", g->hits[c->hit].page);
		else if (c->line > 0)
			buf_addf(b, ":%lu", c->line);
		buf_addc(b, '\n');
	}
}

static void
render_text(struct buf *b, const struct group *g, const struct answer *a)
{
	if (a->text.len == 0) {
		buf_adds(b, NO_ANSWER "\n");
		return;
	}
	buf_add(b, a->text.data, a->text.len);
	buf_adds(b, "\n");
	render_sources(b, g, a);
}

static void
put_buf(const struct buf *b)
{
	rp_write(stdout, b->data, b->len);
}

/* The rest of an answer streamed already: its sources. */
static void
emit_streamed(const struct group *g, const struct answer *a)
{
	struct buf b = BUF_INIT;

	if (!a->streamed)
		render_text(&b, g, a);
	else
		render_sources(&b, g, a);
	put_buf(&b);
	buf_release(&b);
}

static void
put_question(const char *q)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, "Q: ");
	add_line(&b, q != NULL ? q : "");
	buf_addc(&b, '\n');
	put_buf(&b);
	buf_release(&b);
}

/*
 * Text answers: "Q: question" before each only when there is more than
 * one, so the first is held until a second question shows up.
 */
static void
emit_text(struct run *r, const struct group *g, const struct answer *a)
{
	struct buf b = BUF_INIT;

	render_text(&b, g, a);
	if (r->ngroups == 1) {
		r->held = b;
		r->held_q = g->query != NULL ? xstrdup(g->query) : NULL;
		return;
	}
	if (r->ngroups == 2) {
		put_question(r->held_q);
		put_buf(&r->held);
		buf_release(&r->held);
	}
	rp_write(stdout, "\n", 1);
	put_question(g->query);
	put_buf(&b);
	buf_release(&b);
}

static void
emit_json(const struct group *g, const struct answer *a)
{
	cJSON *o, *cites, *c, *u;
	const struct hit *h;

	o = cJSON_CreateObject();
	if (g->query != NULL)
		cJSON_AddStringToObject(o, "query", g->query);
	if (g->qid != NULL)
		cJSON_AddItemToObject(o, "qid", cJSON_Duplicate(g->qid, 1));
	if (a->text.len > 0)
		cJSON_AddStringToObject(o, "answer", a->text.data);
	else
		cJSON_AddNullToObject(o, "answer");
	cites = cJSON_AddArrayToObject(o, "citations");
	for (size_t i = 0; i < a->ncites; i++) {
		h = &g->hits[a->cites[i].hit];
		c = cJSON_CreateObject();
		cJSON_AddNumberToObject(c, "n", (double)a->cites[i].n);
		cJSON_AddStringToObject(c, "doc", h->doc);
		if (h->page > 0)
			cJSON_AddNumberToObject(c, "page", (double)h->page);
		if (a->cites[i].line > 0)
			cJSON_AddNumberToObject(c, "line",
			    (double)a->cites[i].line);
		if (h->chunk >= 0)
			cJSON_AddNumberToObject(c, "chunk", h->chunk);
		cJSON_AddItemToArray(cites, c);
	}
	cJSON_AddStringToObject(o, "model", a->model);
	u = cJSON_AddObjectToObject(o, "usage");
	cJSON_AddNumberToObject(u, "hits", (double)g->n);
	if (a->model != NULL && strcmp(a->model, "extractive") == 0)
		cJSON_AddNumberToObject(u, "sentences", (double)a->nsent);
	else {
		cJSON_AddNumberToObject(u, "passages", (double)a->passages);
		if (a->prompt_tokens >= 0)
			cJSON_AddNumberToObject(u, "prompt_tokens",
			    (double)a->prompt_tokens);
		if (a->completion_tokens >= 0)
			cJSON_AddNumberToObject(u, "completion_tokens",
			    (double)a->completion_tokens);
	}
	jsonl_write(stdout, o);
	cJSON_Delete(o);
}

static void
group_release(struct group *g)
{
	for (size_t i = 0; i < g->n; i++) {
		cJSON_Delete(g->hits[i].rec);
		free(g->hits[i].text);
	}
	free(g->hits);
	free(g->query);
	free(g->qkey);
	cJSON_Delete(g->qid);
	memset(g, 0, sizeof(*g));
}

/*
 * Answer the open question, print the answer and forget the hits.  MORE
 * says whether another question follows: an answer streamed as it comes
 * gets its "Q:" line before it, from the first when there are several.
 */
static void
group_flush(struct run *r, int more)
{
	struct answer a;
	int rc, streams = r->o.provider->streams && !r->o.json;

	if (!r->open)
		return;
	memset(&a, 0, sizeof(a));
	if (streams && (r->ngroups > 0 || more)) {
		if (r->ngroups > 0)
			rp_write(stdout, "\n", 1);
		put_question(r->g.query);
		rp_flush(stdout);
	}
	rc = r->o.provider->fn(&r->g, &r->o, &a);
	rp_status(&r->status, rc);
	r->ngroups++;
	if (rc != RP_EXIT_OK && rc != RP_EXIT_NOANSWER)
		;	/* the provider failed, and said why */
	else if (r->o.json)
		emit_json(&r->g, &a);
	else if (streams)
		emit_streamed(&r->g, &a);
	else
		emit_text(r, &r->g, &a);
	rp_flush(stdout);
	buf_release(&a.text);
	free(a.cites);
	group_release(&r->g);
	r->open = 0;
}

static void
group_start(struct run *r, const char *query, const cJSON *qid,
    const char *qkey)
{
	r->g.query = query != NULL ? xstrdup(query) : NULL;
	r->g.qid = qid != NULL ? cJSON_Duplicate(qid, 1) : NULL;
	r->g.qkey = qkey != NULL ? xstrdup(qkey) : NULL;
	r->open = 1;
}

static void
hit_add(struct group *g, cJSON *rec, const char *doc, const char *text)
{
	struct buf b = BUF_INIT;
	struct hit *h;
	double v;

	g->hits = xgrow(g->hits, g->n, &g->cap, sizeof(*g->hits));
	h = &g->hits[g->n];
	h->rec = rec;
	h->doc = doc;
	utf8_clean(&b, text, strlen(text));
	h->text = buf_detach(&b, NULL);
	h->start = jsonl_num(rec, "start", &v) && v >= 0 ? v : -1;
	h->chunk = jsonl_num(rec, "chunk", &v) && v >= 0 ? v : -1;
	h->line = jsonl_num(rec, "line", &v) && v >= 1 && v < 1e15 ?
	    (unsigned long)v : 0;
	h->page = jsonl_num(rec, "page", &v) && v >= 1 && v < 1e15 ?
	    (unsigned long)v : 0;
	/* A source is a document, or a page of a paged one (a PDF). */
	for (h->src = 0; h->src < g->n; h->src++)
		if (strcmp(g->hits[h->src].doc, doc) == 0 &&
		    g->hits[h->src].page == h->page)
			break;
	g->n++;
}

/* Whether a hit of question QUERY with QKEY (qid, or NULL) continues G. */
static int
same_question(const struct group *g, const char *query, const char *qkey)
{
	if (g->qkey != NULL || qkey != NULL)
		return g->qkey != NULL && qkey != NULL &&
		    strcmp(g->qkey, qkey) == 0;
	return strcmp(g->query, query) == 0;
}

static void
add_record(struct run *r, cJSON *rec, const char *where)
{
	const char *doc, *text, *q, *qkey = NULL, *why = NULL;
	const cJSON *qid = NULL;
	struct rp_err err;
	char key[64];

	doc = jsonl_str(rec, "doc");
	text = jsonl_str(rec, "text");
	q = r->o.question != NULL ? r->o.question : jsonl_str(rec, "query");
	if (doc == NULL)
		why = "no \"doc\" string";
	else if (text == NULL)
		why = "no \"text\" string";
	else if (q == NULL)
		why = "no \"query\" string (give --question)";
	if (why != NULL) {
		rp_err_set(&err, RP_EXIT_DATA, "%s: %s", where, why);
		rp_report(&err, &r->status);
		cJSON_Delete(rec);
		return;
	}
	if (r->o.question == NULL)
		qid = cJSON_GetObjectItemCaseSensitive(rec, "qid");
	if (qid != NULL && cJSON_IsNumber(qid)) {
		snprintf(key, sizeof(key), "%.17g", qid->valuedouble);
		qkey = key;
	} else if (qid != NULL && cJSON_IsString(qid))
		qkey = qid->valuestring;
	else
		qid = NULL;
	if (!r->open || !same_question(&r->g, q, qkey)) {
		group_flush(r, 1);
		group_start(r, q, qid, qkey);
	}
	hit_add(&r->g, rec, doc, text);
}

static void
read_stream(struct run *r, FILE *f, const char *name)
{
	struct jsonl *j = jsonl_open(f, name, JSONL_MAX_LINE);
	struct rp_err err;
	cJSON *rec;
	int rc;

	while (!rp_stdout_failed() && (rc = jsonl_next(j, &rec, &err)) != 0) {
		if (rc < 0) {
			rp_report(&err, &r->status);
			if (err.code == RP_EXIT_IO)
				break;
			continue;
		}
		add_record(r, rec, jsonl_where(j));
	}
	jsonl_close(j);
}

static void
read_file(struct run *r, const char *path)
{
	struct rp_err err;
	FILE *f;

	if (strcmp(path, "-") == 0) {
		read_stream(r, stdin, "<stdin>");
		return;
	}
	if ((f = fopen(path, "r")) == NULL) {
		rp_err_set(&err, RP_EXIT_IO, "%s: %s", path, strerror(errno));
		rp_report(&err, &r->status);
		return;
	}
	read_stream(r, f, path);
	fclose(f);
}

/* Answer the last question; with none at all, say there is no answer. */
static void
finish(struct run *r)
{
	group_flush(r, 0);
	if (r->ngroups == 0 && !rp_stdout_failed()) {
		group_start(r, r->o.question, NULL, NULL);
		group_flush(r, 0);
	}
	if (r->held.data != NULL)
		put_buf(&r->held);
	buf_release(&r->held);
	free(r->held_q);
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

int
main(int argc, char *argv[])
{
	struct run r;
	struct cfg *c = cfg_new();
	int ch;

	rp_init(argv[0]);
	memset(&r, 0, sizeof(r));
	r.o.sentences = SENTENCES_DEFAULT;
	r.o.max_chars = MAX_CHARS_DEFAULT;
	r.o.max_context = MAX_CONTEXT_DEFAULT;
	r.o.system = LLM_SYSTEM;
	r.o.temperature = -1;
	while ((ch = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			help();
		case 'q':
			rp_verbosity = 0;
			break;
		case OPT_JSON:
			r.o.json = 1;
			break;
		case OPT_MAX_CHARS:
			r.o.max_chars = rp_parse_ulong(optarg, MAX_CHARS_MIN,
			    MAX_CHARS_MAX, "--max-chars");
			break;
		case OPT_MAX_CONTEXT:
			r.o.max_context = rp_parse_ulong(optarg,
			    MAX_CONTEXT_MIN, MAX_CONTEXT_MAX, "--max-context");
			break;
		case OPT_MODEL:
			cfg_set_flag(c, CFG_ANSWER_MODEL, optarg, "--model");
			break;
		case OPT_PROVIDER:
			cfg_set_flag(c, CFG_ANSWER_PROVIDER, optarg,
			    "--provider");
			break;
		case OPT_QUESTION:
			r.o.question = optarg;
			break;
		case OPT_SENTENCES:
			r.o.sentences = rp_parse_ulong(optarg, 1,
			    SENTENCES_MAX, "--sentences");
			break;
		case OPT_SYSTEM:
			r.o.system = optarg;
			break;
		case OPT_TEMPERATURE:
			r.o.temperature = rp_parse_double(optarg, 0, 2,
			    "--temperature");
			break;
		case OPT_VERSION:
			printf("rag-answer (ragpipe) %s\n", RP_VERSION);
			cfg_free(c);
			return rp_finish(0);
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	load_cfg(c);
	settings(&r.o, c);
	if (argc == 0)
		read_stream(&r, stdin, "<stdin>");
	for (int i = 0; i < argc && !rp_stdout_failed(); i++)
		read_file(&r, argv[i]);
	finish(&r);
	http_free(r.o.http);
	free(r.o.url);
	free(r.o.model);
	cfg_free(c);
	return rp_finish(r.status);
}
