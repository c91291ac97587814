/* rag-query: search the store and print the best chunks as hit records. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "analyze.h"
#include "buf.h"
#include "cfg.h"
#include "embed.h"
#include "http.h"
#include "jsonl.h"
#include "provider.h"
#include "store.h"
#include "utf8.h"
#include "vec.h"

#define TOP_DEFAULT	10
#define TOP_MAX		10000

/*
 * Reciprocal rank fusion (Cormack et al. 2009): a hit's fused score is
 * the sum over the legs that found it of W / (RRF_K + rank).  Each leg
 * contributes its best RRF_DEPTH hits (or k, if more).  See rag-query(1).
 */
#define RRF_K		60.0
#define RRF_DEPTH	100
#define W_BM25		1.0
#define W_VECTOR	1.0

/*
 * Pseudo-relevance feedback (Rocchio): after the first pass, the
 * question's vector moves toward the mean vector of the FB_DOCS best
 * hits, by FB_BETA, and the vector leg ranks again the best of the
 * first pass (FB_WIDEN times as many as it gives the fusion, at least
 * FB_POOL) and the BM25 leg's hits by the new vector: one scan of the
 * vectors, not two.  Measured on the Cranfield and CISI
 * collections (make eval); see rag-query(1).
 */
#define FB_DOCS		5
#define FB_BETA		1.5f
#define FB_POOL		100
#define FB_WIDEN	3

enum mode { MODE_AUTO, MODE_BM25, MODE_VECTOR, MODE_HYBRID };

enum {
	OPT_EXACT = 256, OPT_EXPLAIN, OPT_FILTER, OPT_FORMAT, OPT_MODE,
	OPT_VERSION
};

static const struct option longopts[] = {
	{ "db",		required_argument,	NULL, 'd' },
	{ "exact",	no_argument,		NULL, OPT_EXACT },
	{ "explain",	no_argument,		NULL, OPT_EXPLAIN },
	{ "filter",	required_argument,	NULL, OPT_FILTER },
	{ "format",	required_argument,	NULL, OPT_FORMAT },
	{ "help",	no_argument,		NULL, 'h' },
	{ "mode",	required_argument,	NULL, OPT_MODE },
	{ "quiet",	no_argument,		NULL, 'q' },
	{ "top",	required_argument,	NULL, 'k' },
	{ "version",	no_argument,		NULL, OPT_VERSION },
	{ NULL,		0,			NULL, 0 }
};

static const char *const mode_names[] = {
	[MODE_AUTO] = "auto", [MODE_BM25] = "bm25", [MODE_VECTOR] = "vector",
	[MODE_HYBRID] = "hybrid",
};

struct query {
	struct store	*store;
	size_t		 k;
	enum mode	 mode;
	const char	*filter;
	int		 exact;		/* BM25 by FTS5, every match */
	int		 explain;
	int		 status;
	struct store_vectors vecs;
	struct store_embed emb;		/* how the store's vectors were made */
	size_t		 dim;
	int		 remote;	/* questions go to a model server */
	struct provider_embed pe;
	struct http	*http;
	struct buf	 q;		/* the question with its prefix */
	float		*qv;		/* the question's vector */
	float		*q0;		/* as asked, before feedback */
	int64_t		 nchunks;	/* for term weights */
	int		 text;		/* --format text: for people */
	int		 colour;
	int		 headers;	/* name each question (text) */
};

enum leg { LEG_BM25, LEG_VECTOR, NLEGS };
static const char *const leg_names[NLEGS] = { "bm25", "vector" };

/* One chunk found by one or more legs. */
struct cand {
	int64_t		 id;
	double		 score;		/* fused, or the single leg's */
	double		 leg_score[NLEGS];	/* what the leg ranks by */
	size_t		 leg_rank[NLEGS];	/* 0: not found by the leg */
	double		 asked;		/* vector: similarity to the question
					   as asked, before feedback */
};

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: rag-query [-hq] [--exact] [--explain] [-d db] "
	    "[-k n] [--filter glob]\n"
	    "                 [--format fmt] [--mode mode] [question ...]\n");
	exit(RP_EXIT_USAGE);
}

static _Noreturn void
help(void)
{
	printf("usage: rag-query [-hq] [--exact] [--explain] [-d db] "
	    "[-k n] [--filter glob]\n"
	    "                 [--format fmt] [--mode mode] [question ...]\n"
	    "Search a store; print the best chunks: as JSON lines hit "
	    "records on a pipe,\n"
	    "as text on a terminal.\n"
	    "\n"
	    "  -d, --db PATH       the store (default $RAG_DB, else the "
	    "config file's db, else\n"
	    "                      $XDG_DATA_HOME/ragpipe/store.db)\n"
	    "      --exact         BM25 over every matching chunk, however "
	    "large the store\n"
	    "      --explain       add each leg's rank and score to every "
	    "hit\n"
	    "      --filter GLOB   only documents whose path matches GLOB "
	    "(* matches /)\n"
	    "      --format FMT    json (hit records) or text (for people); "
	    "the default is\n"
	    "                      text on a terminal, json otherwise\n"
	    "  -k, --top N         hits per question (default %d)\n"
	    "      --mode MODE     hybrid (the default when the store has "
	    "vectors), vector, or bm25\n"
	    "  -q, --quiet         print errors only\n"
	    "  -h, --help          show this help\n"
	    "      --version       show the version\n"
	    "\n"
	    "Each operand is one question.  With none, questions are read "
	    "from standard input,\n"
	    "one a line: plain text, or {\"query\":\"...\",\"id\":\"q7\"} "
	    "(the id comes back as \"qid\").\n"
	    "Questions are embedded by the store's model: for a model "
	    "server's, at OPENAI_BASE_URL\n"
	    "or OLLAMA_HOST (see rag-embed(1)).\n"
	    "Exit status: 0 ok (also with no hits), 1 failure, 2 usage (or a "
	    "vector mode on a store\n"
	    "without vectors), 65 some input lines were bad, 69 the store's "
	    "model cannot embed\n"
	    "questions or its server failed, 74 the store could not be "
	    "read.\n", TOP_DEFAULT);
	exit(rp_finish(RP_EXIT_OK));
}

static int
parse_mode(const char *s)
{
	for (size_t i = 1; i < RP_NELEM(mode_names); i++)
		if (strcmp(s, mode_names[i]) == 0)
			return (int)i;
	rp_die(RP_EXIT_USAGE, "--mode: '%s' is not one of bm25, vector, "
	    "hybrid", s);
}

/* Merge the JSON object text EXTRA into hit H (fields H has win). */
static void
merge_extra(cJSON *h, const char *extra)
{
	cJSON *x, *item, *next;

	if (extra == NULL || (x = cJSON_Parse(extra)) == NULL)
		return;
	for (item = x->child; item != NULL; item = next) {
		next = item->next;
		if (item->string == NULL ||
		    cJSON_GetObjectItemCaseSensitive(h, item->string) != NULL)
			continue;
		cJSON_AddItemToObject(h, item->string,
		    cJSON_DetachItemViaPointer(x, item));
	}
	cJSON_Delete(x);
}

/* The score of leg L shown on a hit: the vector leg's as asked. */
static double
leg_shown(const struct cand *c, int l)
{
	return l == LEG_VECTOR ? c->asked : c->leg_score[l];
}

static cJSON *
hit_record(const struct query *qy, const struct store_row *row, const char *q,
    const char *qid, size_t rank, const struct cand *c)
{
	cJSON *h = cJSON_CreateObject(), *scores, *ex, *leg;

	cJSON_AddStringToObject(h, "query", q);
	if (qid != NULL)
		cJSON_AddStringToObject(h, "qid", qid);
	cJSON_AddNumberToObject(h, "rank", (double)rank);
	cJSON_AddNumberToObject(h, "score", rp_round(c->score, 9));
	cJSON_AddStringToObject(h, "doc", row->doc);
	cJSON_AddNumberToObject(h, "chunk", (double)row->seq);
	cJSON_AddNumberToObject(h, "line", (double)row->line);
	if (row->title != NULL)
		cJSON_AddStringToObject(h, "title", row->title);
	if (row->section != NULL)
		cJSON_AddStringToObject(h, "section", row->section);
	cJSON_AddStringToObject(h, "text", row->text);
	cJSON_AddNumberToObject(h, "start", (double)row->start);
	cJSON_AddNumberToObject(h, "end", (double)row->end);
	merge_extra(h, row->extra);
	scores = cJSON_AddObjectToObject(h, "scores");
	for (int l = 0; l < NLEGS; l++)
		if (c->leg_rank[l] > 0)
			cJSON_AddNumberToObject(scores, leg_names[l],
			    rp_round(leg_shown(c, l), 9));
	if (!qy->explain)
		return h;
	ex = cJSON_AddObjectToObject(h, "explain");
	cJSON_AddStringToObject(ex, "mode", mode_names[qy->mode]);
	for (int l = 0; l < NLEGS; l++) {
		if (c->leg_rank[l] == 0)
			continue;
		leg = cJSON_AddObjectToObject(ex, leg_names[l]);
		cJSON_AddNumberToObject(leg, "rank", (double)c->leg_rank[l]);
		cJSON_AddNumberToObject(leg, "score",
		    rp_round(leg_shown(c, l), 9));
	}
	if (qy->mode == MODE_HYBRID)
		cJSON_AddStringToObject(ex, "fusion", "rrf k=60, weights "
		    "bm25 1, vector 1");
	return h;
}

static _Noreturn void
fail(const struct rp_err *err)
{
	rp_report(err, NULL);
	exit(err->code != 0 ? err->code : RP_EXIT_FAIL);
}

/* Add leg L's hit ID at RANK with SCORE to the candidates C. */
static void
add_cand(struct cand **c, size_t *n, int64_t id, int l, size_t rank,
    double score, double asked)
{
	size_t i;

	for (i = 0; i < *n && (*c)[i].id != id; i++)
		;
	if (i == *n) {
		*c = xreallocarray(*c, *n + 1, sizeof(**c));
		memset(&(*c)[i], 0, sizeof(**c));
		(*c)[i].id = id;
		(*n)++;
	}
	(*c)[i].leg_rank[l] = rank;
	(*c)[i].leg_score[l] = score;
	if (l == LEG_VECTOR)
		(*c)[i].asked = asked;
}

static void
bm25_leg(struct query *qy, const char *q, size_t depth, struct cand **c,
    size_t *n)
{
	struct store_hit *hits;
	struct rp_err err;
	char **terms;
	size_t nterms;
	long got;

	nterms = analyze_query(q, &terms);
	got = store_bm25(qy->store, terms, nterms, qy->filter, depth,
	    qy->exact, &hits, &err);
	analyze_terms_free(terms, nterms);
	if (got < 0)
		fail(&err);
	for (long i = 0; i < got; i++)
		add_cand(c, n, hits[i].id, LEG_BM25, (size_t)i + 1,
		    hits[i].score, 0);
	free(hits);
}

/*
 * embed_weight_fn: a question term's weight is its inverse document
 * frequency in the store, as BM25 computes it; a term the index lacks
 * (a typo, say) gets the weight of a term in one chunk.
 */
static float
idf(void *arg, const char *term, size_t n)
{
	struct query *qy = arg;
	struct rp_err err;
	int64_t df = 0;
	double N = (double)qy->nchunks;

	if (store_term_df(qy->store, term, n, &df, NULL, &err) != 0)
		fail(&err);
	if (df < 1)
		df = 1;
	return (float)log(1 + (N - (double)df + 0.5) / ((double)df + 0.5));
}

/* A chunk the vector leg may rank: its row and its scores. */
struct pooled {
	int64_t		 id;
	long		 row;
	float		 score;		/* the rank's: after feedback, its */
	float		 asked;		/* with the question as asked */
};

/* Float row I of the vectors (vec_row_fn): read apart when scanned as int8. */
static const float *
row_of(void *arg, size_t i)
{
	struct query *qy = arg;

	return store_vector_row(qy->store, &qy->vecs, i);
}

/*
 * The WANT best rows for the question's vector in qy->qv, of the
 * documents --filter matches, best first, into *POOL; returns how many.
 */
static size_t
vector_scan(struct query *qy, size_t want, struct pooled **pool)
{
	const uint64_t *keep = NULL;
	struct vec_hit *hits;
	struct rp_err err;
	size_t got, nkeep;

	if (qy->filter != NULL && store_glob_rows(qy->store, qy->filter,
	    &keep, &nkeep, &err) != 0)
		fail(&err);
	hits = xreallocarray(NULL, RP_MAX(want, (size_t)1), sizeof(*hits));
	/* The same hits either way: the int8 scan reads fewer bytes. */
	if (qy->vecs.codes != NULL)
		got = vec_topk_q8(qy->vecs.rows, row_of, qy, qy->vecs.codes,
		    qy->vecs.scales, qy->vecs.n, qy->dim, qy->qv, want, keep,
		    0, hits);
	else
		got = vec_topk(qy->vecs.rows, qy->vecs.n, qy->dim, qy->qv,
		    want, keep, 0, hits);
	*pool = xreallocarray(NULL, RP_MAX(got, (size_t)1), sizeof(**pool));
	for (size_t i = 0; i < got; i++) {
		(*pool)[i].id = qy->vecs.ids[hits[i].row];
		(*pool)[i].row = (long)hits[i].row;
		(*pool)[i].score = (*pool)[i].asked = hits[i].score;
	}
	free(hits);
	return got;
}

/* The first DEPTH of POOL (ranked) as the vector leg's candidates. */
static void
vector_cands(const struct pooled *pool, size_t np, size_t depth,
    struct cand **c, size_t *n)
{
	for (size_t i = 0; i < np && i < depth; i++)
		add_cand(c, n, pool[i].id, LEG_VECTOR, i + 1, pool[i].score,
		    pool[i].asked);
}

static int
cmp_pooled_id(const void *a, const void *b)
{
	const struct pooled *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int
cmp_pooled_score(const void *a, const void *b)
{
	const struct pooled *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/*
 * Move the question's vector toward the vectors of the first FB_DOCS
 * candidates C (best first), then forget the vector leg's ranks, so
 * that it can run again with the new vector.
 */
static void
feedback(struct query *qy, struct cand *c, size_t n)
{
	float *mean = xcalloc(qy->dim, sizeof(*mean));
	const float *r;
	size_t used = 0;
	long row;

	for (size_t i = 0; i < n && used < FB_DOCS; i++) {
		if ((row = rp_find_id(qy->vecs.ids, qy->vecs.n, c[i].id)) < 0)
			continue;
		r = row_of(qy, (size_t)row);
		for (size_t d = 0; d < qy->dim; d++)
			mean[d] += r[d];
		used++;
	}
	for (size_t d = 0; used > 0 && d < qy->dim; d++)
		qy->qv[d] += FB_BETA * mean[d] / (float)used;
	vec_normalize(qy->qv, qy->dim);
	free(mean);
	for (size_t i = 0; i < n; i++)
		c[i].leg_rank[LEG_VECTOR] = 0;
}

/*
 * After feedback: rank again by the new vector in qy->qv the chunks of
 * POOL (the first pass's best) and those the BM25 leg found in C, and
 * make the best DEPTH of them the vector leg's candidates.  Each keeps
 * its similarity to the question as asked as its score, so that
 * "scores.vector" means the same with feedback or without.
 */
static void
rerank(struct query *qy, struct pooled *pool, size_t np, size_t depth,
    struct cand **c, size_t *n)
{
	const float *r;
	size_t m = np, k = 0;
	long row;

	/* Each row is read once: row_of keeps none. */
	for (size_t i = 0; i < np; i++)
		pool[i].score = vec_dot(qy->qv, row_of(qy,
		    (size_t)pool[i].row), qy->dim);
	pool = xreallocarray(pool, np + *n + 1, sizeof(*pool));
	for (size_t i = 0; i < *n; i++) {
		if ((*c)[i].leg_rank[LEG_BM25] == 0 ||
		    (row = rp_find_id(qy->vecs.ids, qy->vecs.n,
		    (*c)[i].id)) < 0)
			continue;
		r = row_of(qy, (size_t)row);
		pool[m].id = (*c)[i].id;
		pool[m].row = row;
		pool[m].asked = vec_dot(qy->q0, r, qy->dim);
		pool[m++].score = vec_dot(qy->qv, r, qy->dim);
	}
	rp_sort(pool, m, sizeof(*pool), cmp_pooled_id);
	for (size_t i = 0; i < m; i++)
		if (k == 0 || pool[i].id != pool[k - 1].id)
			pool[k++] = pool[i];
	rp_sort(pool, k, sizeof(*pool), cmp_pooled_score);
	vector_cands(pool, k, depth, c, n);
	free(pool);
}

static int
cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* The fused score of C: the sum of its legs' reciprocal ranks. */
static double
rrf(const struct cand *c)
{
	static const double w[NLEGS] = { W_BM25, W_VECTOR };
	double s = 0;

	for (int l = 0; l < NLEGS; l++)
		if (c->leg_rank[l] > 0)
			s += w[l] / (RRF_K + (double)c->leg_rank[l]);
	return s;
}

/* Score the candidates as the mode says, best first. */
static void
rank(const struct query *qy, struct cand *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		c[i].score = qy->mode == MODE_HYBRID ? rrf(&c[i]) :
		    c[i].leg_score[qy->mode == MODE_BM25 ? LEG_BM25 :
		    LEG_VECTOR];
	rp_sort(c, n, sizeof(*c), cmp_cand);
}

/*
 * The question's vector into qy->qv, made as the store's vectors were:
 * with its query prefix, by its model.  0, or -1 when the model server
 * refused the question (reported); a server that fails ends the run.
 */
static int
embed_question(struct query *qy, const char *q)
{
	struct rp_err err;
	char url[200];
	size_t dim;
	float *v;

	buf_reset(&qy->q);
	buf_adds(&qy->q, qy->emb.query_prefix);
	buf_adds(&qy->q, q);
	if (!qy->remote) {
		embed_local_query(qy->q.data, qy->q.len, qy->qv, qy->dim, idf,
		    qy);
		return 0;
	}
	if (provider_embed_one(qy->http, &qy->pe, qy->q.data, qy->q.len, &v,
	    &dim, &err) != 0) {
		if (err.code != RP_EXIT_DATA)
			fail(&err);
		rp_report(&err, &qy->status);
		return -1;
	}
	if (dim != qy->dim) {
		free(v);
		rp_err_set(&err, RP_EXIT_UNAVAIL, "%s: the server's %s gives "
		    "%zu dimensions, but the store's vectors have %zu",
		    http_url_safe(qy->pe.url, url, sizeof(url)), qy->emb.model,
		    dim, qy->dim);
		fail(&err);
	}
	vec_normalize(v, dim);
	memcpy(qy->qv, v, dim * sizeof(float));
	free(v);
	return 0;
}

#define SNIPPET	240	/* characters of a hit's text shown in text form */

/* Colour, when it is on: grep's for a file name, dim for the rest. */
static const char *
sgr(const struct query *qy, const char *code)
{
	return qy->colour ? code : "";
}

static void
print_question(const struct query *qy, const char *q)
{
	rp_printf(stdout, "%s== %s%s\n", sgr(qy, "\033[1m"), q,
	    sgr(qy, "\033[0m"));
}

/*
 * A hit for people: its rank, doc:line (doc:pN for a page), section and
 * score, then the start of its text on one line.
 */
static void
print_hit(const struct query *qy, const cJSON *h)
{
	const char *text = jsonl_str(h, "text"), *sec = jsonl_str(h, "section");
	struct buf t = BUF_INIT;
	double rank = 0, line = 0, page = 0, score = 0;
	size_t cut;
	int space = 0;

	jsonl_num(h, "rank", &rank);
	jsonl_num(h, "line", &line);
	jsonl_num(h, "page", &page);
	jsonl_num(h, "score", &score);
	for (const char *p = text != NULL ? text : ""; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\n' || *p == '\t') {
			space = t.len > 0;
			continue;
		}
		if (space)
			buf_addc(&t, ' ');
		space = 0;
		buf_addc(&t, *p);
	}
	cut = utf8_prefix(buf_str(&t), t.len, SNIPPET);
	rp_printf(stdout, "%3.0f  %s%s:", rank, sgr(qy, "\033[35m"),
	    jsonl_str(h, "doc"));
	if (page > 0)
		rp_printf(stdout, "p%.0f", page);
	else
		rp_printf(stdout, "%.0f", line);
	rp_printf(stdout, "%s%s%s  %s(%.4g)%s\n     %.*s%s\n",
	    sgr(qy, "\033[0m"), sec != NULL ? "  " : "", sec != NULL ? sec : "",
	    sgr(qy, "\033[2m"), score, sgr(qy, "\033[0m"), (int)cut,
	    buf_str(&t), cut < t.len ? "…" : "");
	buf_release(&t);
}

/* Answer one question; fatal store errors exit. */
static void
ask(struct query *qy, const char *q, const char *qid)
{
	struct cand *c = NULL;
	struct pooled *pool;
	struct store_row row;
	struct rp_err err;
	size_t n = 0, np, depth = qy->mode == MODE_HYBRID ?
	    RP_MAX(qy->k, (size_t)RRF_DEPTH) : qy->k;
	cJSON *h;

	if (qy->mode != MODE_VECTOR)
		bm25_leg(qy, q, depth, &c, &n);
	if (qy->mode != MODE_BM25) {
		if (embed_question(qy, q) != 0) {
			free(c);
			return;
		}
		/* Feedback was measured with the lexical model only. */
		np = vector_scan(qy, qy->remote ? depth :
		    RP_MAX(FB_WIDEN * depth, (size_t)FB_POOL), &pool);
		vector_cands(pool, np, RP_MAX(depth, (size_t)FB_DOCS), &c,
		    &n);
		if (!qy->remote) {
			rank(qy, c, n);
			memcpy(qy->q0, qy->qv, qy->dim * sizeof(*qy->qv));
			feedback(qy, c, n);
			rerank(qy, pool, np, depth, &c, &n);
		} else
			free(pool);
		/* Candidates only the first pass found fall out of it. */
		for (size_t i = 0; i < n; )
			if (c[i].leg_rank[LEG_BM25] == 0 &&
			    c[i].leg_rank[LEG_VECTOR] == 0)
				c[i] = c[--n];
			else
				i++;
	}
	rank(qy, c, n);
	if (qy->text && qy->headers)
		print_question(qy, q);
	for (size_t i = 0; i < n && i < qy->k && !rp_stdout_failed(); i++) {
		if (store_row_get(qy->store, c[i].id, &row, &err) != 0)
			fail(&err);
		h = hit_record(qy, &row, q, qid, i + 1, &c[i]);
		if (qy->text)
			print_hit(qy, h);
		else
			jsonl_write(stdout, h);
		cJSON_Delete(h);
		store_row_release(&row);
	}
	rp_flush(stdout);	/* a reader may be waiting on this question */
	free(c);
}

/* Questions from standard input: plain lines or {"query","id"} records. */
static void
ask_stdin(struct query *qy)
{
	struct lines *r = lines_open(stdin, "<stdin>", 1 << 20, '\n');
	struct rp_err err;
	const char *q, *why;
	char *line, idbuf[64];
	const cJSON *id;
	cJSON *o;
	size_t len;
	int rc;

	while (!rp_stdout_failed() &&
	    (rc = lines_next(r, &line, &len, &err)) != 0) {
		if (rc < 0) {
			rp_report(&err, &qy->status);
			if (err.code == RP_EXIT_IO)
				break;
			continue;
		}
		while (len > 0 && (*line == ' ' || *line == '\t'))
			line++, len--;
		if (len == 0)
			continue;
		if (*line != '{') {
			ask(qy, line, NULL);
			continue;
		}
		if ((o = jsonl_parse(line, len, &why)) == NULL ||
		    (q = jsonl_str(o, "query")) == NULL) {
			rp_err_set(&err, RP_EXIT_DATA, "%s:%lu: %s", "<stdin>",
			    lines_lineno(r), o == NULL ? why :
			    "no \"query\" string");
			rp_report(&err, &qy->status);
			cJSON_Delete(o);
			continue;
		}
		id = cJSON_GetObjectItemCaseSensitive(o, "id");
		if (cJSON_IsNumber(id))
			snprintf(idbuf, sizeof(idbuf), "%.17g", id->valuedouble);
		ask(qy, q, cJSON_IsString(id) ? id->valuestring :
		    cJSON_IsNumber(id) ? idbuf : NULL);
		cJSON_Delete(o);
	}
	lines_close(r);
}

/*
 * Questions are embedded by the model server of the store's model
 * ("openai:...", "ollama:..."), found where the configuration says.
 */
static void
remote_setup(struct query *qy, const struct cfg *c)
{
	struct rp_err err;
	enum provider p;
	const char *name;
	char *url;

	if (!provider_split(qy->emb.model, &p, &name) ||
	    (p != PROVIDER_OPENAI && p != PROVIDER_OLLAMA))
		rp_die(RP_EXIT_UNAVAIL, "%s: cannot embed questions with the "
		    "store's model '%s'", store_path(qy->store),
		    qy->emb.model);
	if ((url = provider_url(p, c, p == PROVIDER_OPENAI ? "/embeddings" :
	    "/api/embed", &err)) == NULL ||
	    (qy->http = provider_http(c, 1, &err)) == NULL)
		fail(&err);
	qy->remote = 1;
	qy->pe.p = p;
	qy->pe.model = name;
	qy->pe.url = url;
	qy->pe.api_key = provider_key(p, c);
	qy->pe.dimensions = qy->emb.dimensions;
}

/*
 * Settle the mode from the store: hybrid when it has vectors, else
 * BM25; map the vectors when a mode needs them.
 */
static void
open_vectors(struct query *qy, const struct cfg *c)
{
	struct rp_err err;
	int rc;

	if ((rc = store_embed_get(qy->store, &qy->emb, &err)) < 0)
		fail(&err);
	qy->dim = qy->emb.dim;
	if (qy->mode == MODE_AUTO)
		qy->mode = rc == 1 ? MODE_HYBRID : MODE_BM25;
	/* The vector file also holds the postings the BM25 leg reads. */
	if (qy->mode == MODE_BM25) {
		if (rc == 1 && store_vectors(qy->store, &qy->vecs, &err) != 0)
			fail(&err);
		return;
	}
	if (rc == 0)
		rp_die(RP_EXIT_USAGE, "--mode %s: %s has no vectors (index "
		    "through rag-embed, or use --mode bm25)",
		    mode_names[qy->mode], store_path(qy->store));
	if (!embed_local_model(qy->emb.model, &qy->dim))
		remote_setup(qy, c);
	if (store_vectors(qy->store, &qy->vecs, &err) != 0 ||
	    store_term_df(qy->store, "", 0, NULL, &qy->nchunks, &err) != 0)
		fail(&err);
	qy->qv = xreallocarray(NULL, qy->dim, sizeof(float));
	qy->q0 = xreallocarray(NULL, qy->dim, sizeof(float));
}

int
main(int argc, char *argv[])
{
	struct query qy = { .k = TOP_DEFAULT };
	struct cfg *c = cfg_new();
	enum rp_format format = RP_FORMAT_AUTO;
	struct rp_err err;
	const char *db = NULL, *w;
	int ch;

	rp_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "d:hk:q", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			db = optarg;
			break;
		case 'h':
			help();
		case 'k':
			qy.k = rp_parse_ulong(optarg, 1, TOP_MAX, "-k");
			break;
		case 'q':
			rp_verbosity = 0;
			break;
		case OPT_EXACT:
			qy.exact = 1;
			break;
		case OPT_EXPLAIN:
			qy.explain = 1;
			break;
		case OPT_FORMAT:
			format = rp_parse_format(optarg, "--format");
			break;
		case OPT_FILTER:
			qy.filter = optarg;
			break;
		case OPT_MODE:
			qy.mode = parse_mode(optarg);
			break;
		case OPT_VERSION:
			printf("rag-query (ragpipe) %s\n", RP_VERSION);
			cfg_free(c);
			return rp_finish(0);
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	qy.text = !rp_format_json(format);
	qy.colour = qy.text && rp_colour(getenv);
	qy.headers = argc != 1;
	if (cfg_load(c, getenv, &err) != 0)
		fail(&err);
	for (size_t i = 0; (w = cfg_warning(c, i)) != NULL; i++)
		rp_warn("%s", w);
	if (db == NULL && (db = cfg_get(c, CFG_DB)) == NULL)
		rp_die(RP_EXIT_USAGE, "no store: give -d or set RAG_DB");
	qy.store = store_open(db, STORE_READONLY | STORE_BRIEF, &err);
	if (qy.store == NULL) {
		rp_report(&err, NULL);
		cfg_free(c);
		return err.code;
	}
	/*
	 * One version of the store for the whole run, so that the hits of
	 * a search and the chunks they name agree while rag-index commits.
	 */
	if (store_read(qy.store, &err) != 0)
		fail(&err);
	open_vectors(&qy, c);
	if (argc == 0)
		ask_stdin(&qy);
	for (int i = 0; i < argc && !rp_stdout_failed(); i++)
		ask(&qy, argv[i], NULL);
	store_close(qy.store);
	store_embed_release(&qy.emb);
	http_free(qy.http);
	free((char *)qy.pe.url);
	buf_release(&qy.q);
	free(qy.qv);
	free(qy.q0);
	cfg_free(c);
	return rp_finish(qy.status);
}
