/* rag-answer: answer each question from its hit records, with citations. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "buf.h"
#include "jsonl.h"
#include "utf8.h"
#include "answer.h"

enum {
	OPT_JSON = 256, OPT_MAX_CHARS, OPT_PROVIDER, OPT_QUESTION,
	OPT_SENTENCES, OPT_VERSION
};

static const struct option longopts[] = {
	{ "help",	no_argument,		NULL, 'h' },
	{ "json",	no_argument,		NULL, OPT_JSON },
	{ "max-chars",	required_argument,	NULL, OPT_MAX_CHARS },
	{ "provider",	required_argument,	NULL, OPT_PROVIDER },
	{ "question",	required_argument,	NULL, OPT_QUESTION },
	{ "quiet",	no_argument,		NULL, 'q' },
	{ "sentences",	required_argument,	NULL, OPT_SENTENCES },
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


static const struct provider providers[] = {
	{ "extractive",	extractive },
};

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: rag-answer [-hq] [--json] [--max-chars n] "
	    "[--provider name]\n"
	    "                  [--question text] [--sentences n] "
	    "[file ...]\n");
	exit(RP_EXIT_USAGE);
}

static _Noreturn void
help(void)
{
	printf("usage: rag-answer [-hq] [--json] [--max-chars n] "
	    "[--provider name]\n"
	    "                  [--question text] [--sentences n] "
	    "[file ...]\n"
	    "Answer each question from its hit records (from rag-query), "
	    "citing the sources.\n"
	    "\n"
	    "      --json             one JSON object per question\n"
	    "      --max-chars N      characters of sentences an answer "
	    "(default %d)\n"
	    "      --provider NAME    extractive (the default: sentences "
	    "of the hits, offline)\n"
	    "      --question TEXT    answer TEXT from all the hits read\n"
	    "  -q, --quiet            print errors only\n"
	    "      --sentences N      sentences an answer at most "
	    "(default %d)\n"
	    "  -h, --help             show this help\n"
	    "      --version          show the version\n"
	    "\n"
	    "Hits come from the files named, or standard input; "
	    "consecutive hits with the same\n"
	    "qid (or query) are one question.  $RAG_ANSWER_PROVIDER is "
	    "the default provider.\n"
	    "Exit status: 0 answered, 1 failure, 2 usage, 3 no answer "
	    "for some question,\n"
	    "65 some records were bad, 74 I/O error.\n", MAX_CHARS_DEFAULT,
	    SENTENCES_DEFAULT);
	exit(RP_EXIT_OK);
}

static const struct provider *
find_provider(const char *name, const char *what)
{
	char s[128];

	for (size_t i = 0; i < RP_NELEM(providers); i++)
		if (strcmp(name, providers[i].name) == 0)
			return &providers[i];
	rp_die(RP_EXIT_USAGE, "%s: '%s' is not supported yet (extractive)",
	    what, rp_sanitize(s, sizeof(s), name));
}

/* Append S to B with control characters as spaces (one line of text). */
static void
add_line(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		buf_addc(b, (unsigned char)*s < 0x20 || *s == 0x7F ? ' ' : *s);
}

static void
render_text(struct buf *b, const struct group *g, const struct answer *a)
{
	const struct cite *c;

	if (a->text.len == 0) {
		buf_adds(b, NO_ANSWER "\n");
		return;
	}
	buf_add(b, a->text.data, a->text.len);
	buf_adds(b, "\n\nSources:\n");
	for (size_t i = 0; i < a->ncites; i++) {
		c = &a->cites[i];
		buf_addf(b, "[%zu] ", i + 1);
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
put_buf(const struct buf *b)
{
	rp_write(stdout, b->data, b->len);
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
		cJSON_AddNumberToObject(c, "n", (double)(i + 1));
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
	cJSON_AddNumberToObject(u, "sentences", (double)a->nsent);
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

/* Answer the open question, print the answer and forget the hits. */
static void
group_flush(struct run *r)
{
	struct answer a;
	int rc;

	if (!r->open)
		return;
	memset(&a, 0, sizeof(a));
	rc = r->o.provider->fn(&r->g, &r->o, &a);
	rp_status(&r->status, rc);
	r->ngroups++;
	if (r->o.json)
		emit_json(&r->g, &a);
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

	g->hits = xreallocarray(g->hits, g->n + 1, sizeof(*g->hits));
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
		group_flush(r);
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
	group_flush(r);
	if (r->ngroups == 0 && !rp_stdout_failed()) {
		group_start(r, r->o.question, NULL, NULL);
		group_flush(r);
	}
	if (r->held.data != NULL)
		put_buf(&r->held);
	buf_release(&r->held);
	free(r->held_q);
}

int
main(int argc, char *argv[])
{
	struct run r;
	const char *provider = NULL, *what = "--provider";
	int ch;

	rp_init(argv[0]);
	memset(&r, 0, sizeof(r));
	r.o.sentences = SENTENCES_DEFAULT;
	r.o.max_chars = MAX_CHARS_DEFAULT;
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
		case OPT_PROVIDER:
			provider = optarg;
			break;
		case OPT_QUESTION:
			r.o.question = optarg;
			break;
		case OPT_SENTENCES:
			r.o.sentences = rp_parse_ulong(optarg, 1,
			    SENTENCES_MAX, "--sentences");
			break;
		case OPT_VERSION:
			printf("rag-answer (ragpipe) %s\n", RP_VERSION);
			return 0;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (provider == NULL && (provider = getenv("RAG_ANSWER_PROVIDER")) !=
	    NULL && *provider != '\0')
		what = "RAG_ANSWER_PROVIDER";
	if (provider == NULL || *provider == '\0')
		provider = providers[0].name;
	r.o.provider = find_provider(provider, what);
	if (argc == 0)
		read_stream(&r, stdin, "<stdin>");
	for (int i = 0; i < argc && !rp_stdout_failed(); i++)
		read_file(&r, argv[i]);
	finish(&r);
	return rp_finish(r.status);
}
