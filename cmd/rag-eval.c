/* rag-eval: score rag-query's retrieval against relevance judgments. */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <search.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rp.h"
#include "jsonl.h"
#include "store.h"

#define TOP_DEFAULT	100
#define TOP_MAX		10000		/* rag-query's limit */
#define QRELS_LINE_MAX	((size_t)1 << 20)	/* bytes */
/* rag-query reads question lines of up to 1 MiB; leave room for "id". */
#define QUERY_LINE_MAX	(((size_t)1 << 20) - 1024)

extern char **environ;

enum { OPT_JSON = 256, OPT_MODE, OPT_PER_QUERY, OPT_QRELS, OPT_QUERIES,
	OPT_RUN, OPT_VERSION };

static const struct option longopts[] = {
	{ "db",		required_argument,	NULL, 'd' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "json",	no_argument,		NULL, OPT_JSON },
	{ "mode",	required_argument,	NULL, OPT_MODE },
	{ "per-query",	required_argument,	NULL, OPT_PER_QUERY },
	{ "qrels",	required_argument,	NULL, OPT_QRELS },
	{ "queries",	required_argument,	NULL, OPT_QUERIES },
	{ "quiet",	no_argument,		NULL, 'q' },
	{ "run",	required_argument,	NULL, OPT_RUN },
	{ "top",	required_argument,	NULL, 'k' },
	{ "version",	no_argument,		NULL, OPT_VERSION },
	{ NULL,		0,			NULL, 0 }
};

/* The metrics, in eval.py's order: the main four, then the extras. */
enum { M_NDCG10, M_R10, M_R100, M_MRR10, M_MAP, M_P10, M_R1000, M_NDCG100,
	NMETRIC };
#define NMAIN	4
static const char *const metric_names[NMETRIC] = {
	"nDCG@10", "Recall@10", "Recall@100", "MRR@10",
	"MAP", "P@10", "Recall@1000", "nDCG@100",
};

struct item {			/* a judged or a retrieved document */
	char	*doc;
	long	 rel;		/* judged: the relevance */
	size_t	 seq;		/* judged: line order; the last one counts */
	double	 score;		/* retrieved: the best of its chunks' scores */
	float	 key;		/* retrieved: score as float32, as ranked */
};

struct query {
	char		*id;
	struct item	*judg;		/* sorted by doc */
	size_t		 njudg, jcap, nrel;
	struct item	*docs;		/* ranked */
	size_t		 ndocs, dcap;
	int		 in_qrels, asked;
	double		 m[NMETRIC];
};

struct eval;
/* What to do with a record from a JSON lines file: 0, or -1 with ERR. */
typedef int	(*record_fn)(struct eval *, const cJSON *, const char *where,
		    struct rp_err *err);

struct eval {
	const char	*argv0, *db, *mode, *qrels, *queries, *run, *perq;
	unsigned long	 k;
	int		 json;
	struct query	**q;		/* in order of first appearance */
	size_t		 nq, qcap;
	void		*root;		/* tsearch(3) tree of q by id */
	struct query	**asked;	/* in the order of the queries file */
	FILE		*tmp;		/* the questions, for rag-query */
	size_t		 nasked, acap;
	double		 seconds, mean[NMETRIC];
	size_t		 nqrels;
	int		 status;
};

#define USAGE	"usage: rag-eval [-hq] [--json] [-d db] [-k n] [--mode mode] " \
	"[--per-query file]\n" \
	"                --qrels file --queries file [--run file]\n"

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
	    "Ask rag-query every question; score its hits against judgments.\n"
	    "\n"
	    "  -d, --db PATH          the store (default $RAG_DB, else\n"
	    "                         $XDG_DATA_HOME/ragpipe/store.db)\n"
	    "      --json             print one JSON object\n"
	    "  -k, --top N            hits a question from rag-query "
	    "(default %d)\n"
	    "      --mode MODE        passed to rag-query: bm25, vector, "
	    "hybrid\n"
	    "      --per-query FILE   write each query's metrics (TSV)\n"
	    "      --qrels FILE       judgments: query-id corpus-id score "
	    "(TSV),\n"
	    "                         or TREC's qid 0 docid rel\n"
	    "      --queries FILE     questions: {\"id\":\"1\",\"text\":"
	    "\"...\"} lines\n"
	    "  -q, --quiet            print errors only\n"
	    "      --run FILE         write the run: {\"qid\",\"docid\","
	    "\"score\"} lines\n"
	    "  -h, --help             show this help\n"
	    "      --version          show the version\n"
	    "\n"
	    "Metrics: nDCG@10, Recall@10, Recall@100, MRR@10; extras MAP, "
	    "P@10,\n"
	    "Recall@1000, nDCG@100 (trec_eval's, as eval.py computes them).\n"
	    "Exit status: 0 ok, 1 failure, 2 usage, 65 some qrels or query "
	    "lines\n"
	    "were bad, 69 rag-query could not be run, 74 I/O error; else "
	    "that of\n"
	    "a failed rag-query.\n", TOP_DEFAULT);
	exit(RP_EXIT_OK);
}

/* Make room for item N in array P of *CAP items; returns it, maybe moved. */
static void *
grow(void *p, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap == 0 ? 16 : *cap * 2;
	return xreallocarray(p, *cap, size);
}

static int
query_cmp(const void *a, const void *b)
{
	return strcmp(((const struct query *)a)->id,
	    ((const struct query *)b)->id);
}

/* The query with ID; a new one when ADD is set, else NULL if unknown. */
static struct query *
query_get(struct eval *ev, const char *id, int add)
{
	struct query key = { .id = (char *)id }, *q, **p;

	if ((p = tfind(&key, &ev->root, query_cmp)) != NULL || !add)
		return p != NULL ? *p : NULL;
	q = xcalloc(1, sizeof(*q));
	q->id = xstrdup(id);
	if (tsearch(q, &ev->root, query_cmp) == NULL)
		rp_oom();
	ev->q = grow(ev->q, ev->nq, &ev->qcap, sizeof(*ev->q));
	ev->q[ev->nq++] = q;
	return q;
}

/* Whether C is a space to Python's str.split(), which eval.py uses. */
static int
space(int c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* Parse a relevance as eval.py does, int(float(S)): 0, or -1. */
static int
parse_rel(const char *s, size_t n, long *rel)
{
	char buf[64], *end;
	double v;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	/* strtod's hexadecimal and "nan(...)" are not Python's float(). */
	if (strpbrk(buf, "xX(") != NULL)
		return -1;
	v = strtod(buf, &end);
	if (*end != '\0' || !isfinite(v) || fabs(v) >= 1e15)
		return -1;
	*rel = (long)trunc(v);
	return 0;
}

/* Split LINE into at most 5 words (W[i], WL[i]); returns how many. */
static size_t
split(const char *p, size_t len, const char **w, size_t *wl)
{
	const char *end = p + len, *b;
	size_t nw = 0;

	for (;;) {
		while (p < end && space((unsigned char)*p))
			p++;
		if (p == end)
			return nw;
		for (b = p; p < end && !space((unsigned char)*p); p++)
			;
		if (nw < 5) {
			w[nw] = b;
			wl[nw] = (size_t)(p - b);
		}
		nw++;
	}
}

/* One qrels line: 0 done (or skipped), -1 with ERR filled. */
static int
qrels_line(struct eval *ev, const char *line, size_t len, unsigned long n,
    struct rp_err *err)
{
	const char *w[5];
	size_t wl[5], nw, d;
	struct query *q;
	char *qid, bad[64];
	long rel;

	if ((nw = split(line, len, w, wl)) == 0)
		return 0;
	if (nw != 3 && nw != 4)
		return rp_err_set(err, RP_EXIT_DATA, "%s:%lu: expected 3 or 4 "
		    "columns, got %zu", ev->qrels, n, nw);
	d = nw == 3 ? 1 : 2;
	if (parse_rel(w[nw - 1], wl[nw - 1], &rel) != 0) {
		if (n == 1)
			return 0;	/* a header, as eval.py allows */
		qid = xstrndup(w[nw - 1], wl[nw - 1]);
		rp_err_set(err, RP_EXIT_DATA, "%s:%lu: bad relevance '%s'",
		    ev->qrels, n, rp_sanitize(bad, sizeof(bad), qid));
		free(qid);
		return -1;
	}
	qid = xstrndup(w[0], wl[0]);
	q = query_get(ev, qid, 1);
	free(qid);
	if (!q->in_qrels) {
		q->in_qrels = 1;
		ev->nqrels++;
	}
	q->judg = grow(q->judg, q->njudg, &q->jcap, sizeof(*q->judg));
	q->judg[q->njudg].doc = xstrndup(w[d], wl[d]);
	q->judg[q->njudg].rel = rel;
	q->judg[q->njudg].seq = q->njudg;
	q->njudg++;
	return 0;
}

static int
doc_cmp(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->doc,
	    ((const struct item *)b)->doc);
}

static int
judg_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->doc, y->doc);

	return c != 0 ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sort Q's judgments by document, keeping the last of duplicates. */
static void
judg_sort(struct query *q)
{
	size_t n = 0;

	rp_sort(q->judg, q->njudg, sizeof(*q->judg), judg_cmp);
	for (size_t i = 0; i < q->njudg; i++) {
		if (i + 1 < q->njudg &&
		    strcmp(q->judg[i].doc, q->judg[i + 1].doc) == 0) {
			free(q->judg[i].doc);
			continue;
		}
		q->judg[n++] = q->judg[i];
	}
	q->njudg = n;
}

/* Read the qrels (the qrels queries come first in ev->q, in order). */
static int
read_qrels(struct eval *ev)
{
	struct rp_err err;
	struct lines *r;
	FILE *f;
	char *line;
	size_t len;
	int rc;

	if ((f = fopen(ev->qrels, "r")) == NULL)
		rp_die(RP_EXIT_IO, "%s: %s", ev->qrels, strerror(errno));
	r = lines_open(f, ev->qrels, QRELS_LINE_MAX, '\n');
	while ((rc = lines_next(r, &line, &len, &err)) != 0) {
		if (rc > 0 && qrels_line(ev, line, len, lines_lineno(r),
		    &err) == 0)
			continue;
		rp_report(&err, &ev->status);
		if (err.code == RP_EXIT_IO)
			break;
	}
	lines_close(r);
	fclose(f);
	for (size_t i = 0; i < ev->nq; i++)
		judg_sort(ev->q[i]);
	return rc;	/* -1 only after a read error */
}

/* The id of question O as a string in BUF, or NULL. */
static const char *
question_id(const cJSON *o, char *buf, size_t n)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");

	if (id == NULL)		/* BEIR's queries.jsonl has "_id" */
		id = cJSON_GetObjectItemCaseSensitive(o, "_id");
	if (cJSON_IsString(id))
		return id->valuestring;
	if (!cJSON_IsNumber(id) || !isfinite(id->valuedouble))
		return NULL;
	snprintf(buf, n, id->valuedouble == trunc(id->valuedouble) &&
	    fabs(id->valuedouble) < 1e15 ? "%.0f" : "%.17g", id->valuedouble);
	return buf;
}

/* One question: record it, and write it to ev->tmp for rag-query. */
static int
question(struct eval *ev, const cJSON *o, const char *where,
    struct rp_err *err)
{
	const char *id, *text;
	char idbuf[64], bad[64];
	struct query *q;
	cJSON *rec;
	int rc;

	if ((id = question_id(o, idbuf, sizeof(idbuf))) == NULL)
		return rp_err_set(err, RP_EXIT_DATA, "%s: no \"id\" string "
		    "or number", where);
	if ((text = jsonl_str(o, "text")) == NULL &&
	    (text = jsonl_str(o, "query")) == NULL)
		return rp_err_set(err, RP_EXIT_DATA, "%s: no \"text\" or "
		    "\"query\" string", where);
	q = query_get(ev, id, 1);
	if (q->asked)
		return rp_err_set(err, RP_EXIT_DATA, "%s: duplicate id '%s'",
		    where, rp_sanitize(bad, sizeof(bad), id));
	q->asked = 1;
	ev->asked = grow(ev->asked, ev->nasked, &ev->acap,
	    sizeof(*ev->asked));
	ev->asked[ev->nasked++] = q;
	rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "query", text);
	cJSON_AddStringToObject(rec, "id", id);
	rc = jsonl_write(ev->tmp, rec);
	cJSON_Delete(rec);
	if (rc != 0)
		return rp_err_set(err, RP_EXIT_IO, "temporary file: write "
		    "error: %s", strerror(errno));
	return 0;
}

/* Pass each record of F, named NAME, to FN; -1 after a read error. */
static int
read_records(struct eval *ev, FILE *f, const char *name, size_t max,
    record_fn fn)
{
	struct rp_err err;
	struct jsonl *r = jsonl_open(f, name, max);
	cJSON *o;
	int rc;

	while ((rc = jsonl_next(r, &o, &err)) != 0) {
		if (rc > 0) {
			rc = fn(ev, o, jsonl_where(r), &err);
			cJSON_Delete(o);
			if (rc == 0)
				continue;
		}
		rp_report(&err, &ev->status);
		if (err.code == RP_EXIT_IO)
			break;
	}
	jsonl_close(r);
	return rc;
}

/* Read the questions, and write them to ev->tmp for rag-query. */
static int
read_queries(struct eval *ev)
{
	FILE *f;
	int rc;

	if ((f = fopen(ev->queries, "r")) == NULL)
		rp_die(RP_EXIT_IO, "%s: %s", ev->queries, strerror(errno));
	rc = read_records(ev, f, ev->queries, QUERY_LINE_MAX, question);
	fclose(f);
	if (rc == 0 && fflush(ev->tmp) != 0) {
		rp_warn("temporary file: write error: %s", strerror(errno));
		rc = -1;
	}
	return rc;
}

/* An unlinked temporary file, open for reading and writing. */
static FILE *
temp_file(void)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	FILE *f;
	int fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	path = xasprintf("%s/rag-eval.XXXXXX", dir);
	if ((fd = mkstemp(path)) < 0)
		rp_die(RP_EXIT_IO, "%s: %s", path, strerror(errno));
	unlink(path);
	free(path);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	if ((f = fdopen(fd, "w+")) == NULL)
		rp_oom();
	return f;
}

/* The rag-query beside this program, or NULL to search PATH. */
static char *
sibling(const char *argv0)
{
	char path[PATH_MAX], *slash, *p;
	ssize_t n;

	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n > 0)
		path[n] = '\0';
	else if (strchr(argv0, '/') != NULL && strlen(argv0) < sizeof(path))
		snprintf(path, sizeof(path), "%s", argv0);
	else
		return NULL;
	if ((slash = strrchr(path, '/')) == NULL)
		return NULL;
	*slash = '\0';
	p = xasprintf("%s/rag-query", path);
	if (access(p, X_OK) == 0)
		return p;
	free(p);
	return NULL;
}

/* Start rag-query reading IN; its stdout is *OUT.  0, or -1 (reported). */
static int
spawn_query(struct eval *ev, int in, pid_t *pid, int *out)
{
	posix_spawn_file_actions_t fa;
	char *argv[10], top[32], *path;
	int p[2], rc, n = 0;

	if (pipe(p) != 0)
		rp_die(RP_EXIT_FAIL, "pipe: %s", strerror(errno));
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	snprintf(top, sizeof(top), "%lu", ev->k);
	argv[n++] = "rag-query";
	argv[n++] = "-d";
	argv[n++] = (char *)ev->db;
	argv[n++] = "-k";
	argv[n++] = top;
	if (ev->mode != NULL) {
		argv[n++] = "--mode";
		argv[n++] = (char *)ev->mode;
	}
	if (rp_verbosity == 0)
		argv[n++] = "-q";
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	if ((path = sibling(ev->argv0)) != NULL)
		rc = posix_spawn(pid, path, &fa, NULL, argv, environ);
	else
		rc = posix_spawnp(pid, "rag-query", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	free(path);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		rp_warn("cannot run 'rag-query': %s", strerror(rc));
		return -1;
	}
	*out = p[0];
	return 0;
}

/* Add hit O (from rag-query) to the run: 0, or -1 with ERR. */
static int
add_hit(struct eval *ev, const cJSON *o, const char *where,
    struct rp_err *err)
{
	const char *qid = jsonl_str(o, "qid"), *doc = jsonl_str(o, "doc");
	struct query *q;
	double score;

	if (qid == NULL || doc == NULL || !jsonl_num(o, "score", &score))
		return rp_err_set(err, RP_EXIT_DATA, "%s: hit without \"qid\", "
		    "\"doc\" or \"score\"", where);
	if ((q = query_get(ev, qid, 0)) == NULL || !q->asked)
		return rp_err_set(err, RP_EXIT_DATA, "%s: hit for a question "
		    "not asked", where);
	q->docs = grow(q->docs, q->ndocs, &q->dcap, sizeof(*q->docs));
	q->docs[q->ndocs].doc = xstrdup(doc);
	q->docs[q->ndocs].score = score;
	q->ndocs++;
	return 0;
}

/* Run rag-query on the questions in ev->tmp and collect the run. */
static int
run_query(struct eval *ev)
{
	double t0 = rp_now();
	pid_t pid;
	int fd, st;
	FILE *f;

	if (lseek(fileno(ev->tmp), 0, SEEK_SET) != 0)
		rp_die(RP_EXIT_IO, "temporary file: %s", strerror(errno));
	if (spawn_query(ev, fileno(ev->tmp), &pid, &fd) != 0)
		return RP_EXIT_UNAVAIL;
	if ((f = fdopen(fd, "r")) == NULL)
		rp_oom();
	read_records(ev, f, "rag-query", JSONL_MAX_LINE, add_hit);
	fclose(f);	/* first, so that rag-query never blocks on the pipe */
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			rp_die(RP_EXIT_FAIL, "waitpid: %s", strerror(errno));
	ev->seconds = rp_now() - t0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st)) {
		rp_warn("rag-query failed (exit %d)", WEXITSTATUS(st));
		return WEXITSTATUS(st);
	}
	rp_warn("rag-query failed (signal %d)", WTERMSIG(st));
	return RP_EXIT_FAIL;
}

/* Read the qrels and the questions, and ask rag-query: 0, or a status. */
static int
collect(struct eval *ev)
{
	int rc;

	if (read_qrels(ev) != 0)
		return RP_EXIT_IO;
	ev->tmp = temp_file();
	rc = read_queries(ev) != 0 ? RP_EXIT_IO : run_query(ev);
	fclose(ev->tmp);
	return rc;
}

/* Score as trec_eval keeps it: float32 (out of range is infinite). */
static float
f32(double v)
{
	if (fabs(v) > FLT_MAX)
		return v > 0 ? INFINITY : -INFINITY;
	return (float)v;
}

/* eval.py's order: score (float32) descending, then doc id descending. */
static int
rank_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return strcmp(y->doc, x->doc);
}

/* Group Q's hits by document at their best score, and rank them. */
static void
rank_docs(struct query *q)
{
	size_t n = 0;

	rp_sort(q->docs, q->ndocs, sizeof(*q->docs), doc_cmp);
	for (size_t i = 0; i < q->ndocs; i++) {
		if (n > 0 && strcmp(q->docs[n - 1].doc, q->docs[i].doc) == 0) {
			q->docs[n - 1].score = RP_MAX(q->docs[n - 1].score,
			    q->docs[i].score);
			free(q->docs[i].doc);
			continue;
		}
		q->docs[n++] = q->docs[i];
	}
	q->ndocs = n;
	for (size_t i = 0; i < n; i++)
		q->docs[i].key = f32(q->docs[i].score);
	rp_sort(q->docs, n, sizeof(*q->docs), rank_cmp);
}


/* The relevance of DOC to Q; unjudged documents have 0. */
static long
judged(const struct query *q, const char *doc)
{
	struct item key = { .doc = (char *)doc }, *j;

	j = bsearch(&key, q->judg, q->njudg, sizeof(*q->judg), doc_cmp);
	return j != NULL ? j->rel : 0;
}

static int
long_desc(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x < y) - (x > y);
}

/* DCG of the first K of GAINS[0..N): linear gains, log2(rank+1). */
static double
dcg(const long *gains, size_t n, size_t k)
{
	double s = 0;

	for (size_t i = 0; i < n && i < k; i++)
		if (gains[i] > 0)
			s += (double)gains[i] / log2((double)i + 2);
	return s;
}

static double
ndcg(const long *rels, size_t n, const long *ideal, size_t nideal,
    size_t k)
{
	double idcg = dcg(ideal, nideal, k);

	return idcg > 0 ? dcg(rels, n, k) / idcg : 0;
}

/* Relevant (rel >= 1) documents in the first K of RELS[0..N). */
static size_t
relevant(const long *rels, size_t n, size_t k)
{
	size_t c = 0;

	for (size_t i = 0; i < n && i < k; i++)
		c += rels[i] >= 1;
	return c;
}

static double
recall(const long *rels, size_t n, size_t k, size_t nrel)
{
	return nrel > 0 ? (double)relevant(rels, n, k) / (double)nrel : 0;
}

/*
 * Q's metrics, computed as eval.py's eval_query does (and in the same
 * order of floating-point operations, so that the results are equal).
 */
static void
eval_query(struct query *q)
{
	long *rels = xcalloc(q->ndocs, sizeof(*rels));
	long *ideal = xcalloc(q->njudg, sizeof(*ideal));
	size_t n = q->ndocs, nideal = 0, hits = 0;
	double ap = 0, *m = q->m;

	for (size_t j = 0; j < q->njudg; j++) {
		q->nrel += q->judg[j].rel >= 1;
		if (q->judg[j].rel > 0)
			ideal[nideal++] = q->judg[j].rel;
	}
	rp_sort(ideal, nideal, sizeof(*ideal), long_desc);
	for (size_t i = 0; i < n; i++)
		rels[i] = judged(q, q->docs[i].doc);
	m[M_NDCG10] = ndcg(rels, n, ideal, nideal, 10);
	m[M_NDCG100] = ndcg(rels, n, ideal, nideal, 100);
	m[M_R10] = recall(rels, n, 10, q->nrel);
	m[M_R100] = recall(rels, n, 100, q->nrel);
	m[M_R1000] = recall(rels, n, 1000, q->nrel);
	m[M_MRR10] = 0;
	for (size_t i = 0; i < n && i < 10; i++)
		if (rels[i] > 0) {
			m[M_MRR10] = 1.0 / (double)(i + 1);
			break;
		}
	m[M_P10] = (double)relevant(rels, n, 10) / 10;
	for (size_t i = 0; i < n; i++)
		if (rels[i] >= 1)
			ap += (double)++hits / (double)(i + 1);
	m[M_MAP] = q->nrel > 0 ? ap / (double)q->nrel : 0;
	free(rels);
	free(ideal);
}

/* Rank every query's documents and average the qrels queries' metrics. */
static void
evaluate(struct eval *ev)
{
	for (size_t i = 0; i < ev->nq; i++) {
		rank_docs(ev->q[i]);
		if (!ev->q[i]->in_qrels)
			continue;
		eval_query(ev->q[i]);
		/* Summed in qrels order, as eval.py does. */
		for (int m = 0; m < NMETRIC; m++)
			ev->mean[m] += ev->q[i]->m[m];
	}
	for (int m = 0; m < NMETRIC; m++)
		ev->mean[m] = ev->nqrels ? ev->mean[m] / (double)ev->nqrels : 0;
}

/* Warn about qrels queries that score 0 whatever the retrieval. */
static void
warn_missing(const struct eval *ev)
{
	size_t unasked = 0, notrun = 0, norel = 0;
	const struct query *q;

	for (size_t i = 0; i < ev->nq; i++) {
		if (!(q = ev->q[i])->in_qrels)
			continue;
		unasked += !q->asked;
		notrun += q->ndocs == 0;
		norel += q->nrel == 0;
	}
	if (rp_verbosity == 0)
		return;
	if (unasked > 0)
		rp_warn("%zu qrels quer%s no question in %s", unasked,
		    unasked == 1 ? "y has" : "ies have", ev->queries);
	if (notrun > 0)
		rp_warn("%zu qrels quer%s not in the run (scored 0)", notrun,
		    notrun == 1 ? "y is" : "ies are");
	if (norel > 0)
		rp_warn("%zu qrels quer%s no relevant (rel>=1) docs; %s 0",
		    norel, norel == 1 ? "y has" : "ies have",
		    norel == 1 ? "it scores" : "they score");
}

/* V rounded to DIGITS decimals, as Python's round(v, digits). */
static double
round_to(double v, int digits)
{
	char s[64];

	snprintf(s, sizeof(s), "%.*f", digits, v);
	return strtod(s, NULL);
}

static void
print_results(const struct eval *ev)
{
	cJSON *o;

	if (!ev->json) {
		rp_printf(stdout, "queries     %zu\n", ev->nqrels);
		for (int m = 0; m < NMAIN; m++)
			rp_printf(stdout, "%-11s %.4f\n", metric_names[m],
			    ev->mean[m]);
		rp_printf(stdout, "# extra:");
		for (int m = NMAIN; m < NMETRIC; m++)
			rp_printf(stdout, "%s%s %.4f", m == NMAIN ? " " : "  ",
			    metric_names[m], ev->mean[m]);
		rp_printf(stdout, "\n");
		return;
	}
	o = cJSON_CreateObject();
	for (int m = 0; m < NMETRIC; m++)
		cJSON_AddNumberToObject(o, metric_names[m],
		    round_to(ev->mean[m], 6));
	cJSON_AddNumberToObject(o, "queries", (double)ev->nqrels);
	if (ev->mode != NULL)
		cJSON_AddStringToObject(o, "mode", ev->mode);
	else
		cJSON_AddNullToObject(o, "mode");
	cJSON_AddNumberToObject(o, "k", (double)ev->k);
	cJSON_AddStringToObject(o, "db", ev->db);
	cJSON_AddNumberToObject(o, "seconds", round_to(ev->seconds, 3));
	jsonl_write(stdout, o);
	cJSON_Delete(o);
}

static FILE *
open_out(const char *path)
{
	FILE *f;

	if (path == NULL)
		return NULL;
	if ((f = fopen(path, "w")) == NULL)
		rp_die(RP_EXIT_IO, "%s: %s", path, strerror(errno));
	return f;
}

/* Close F, written as PATH: 0, or 74 after reporting a write error. */
static int
close_out(FILE *f, const char *path)
{
	int e = 0;

	if (fflush(f) != 0 || ferror(f))
		e = errno != 0 ? errno : EIO;
	if (fclose(f) != 0 && e == 0)
		e = errno != 0 ? errno : EIO;
	if (e == 0)
		return 0;
	rp_warn("%s: write error: %s", path, strerror(e));
	return RP_EXIT_IO;
}

/* The run as JSON lines {"qid","docid","score"}, best first. */
static int
write_run(const struct eval *ev, FILE *f)
{
	const struct query *q;
	cJSON *o;

	for (size_t i = 0; i < ev->nasked && !ferror(f); i++) {
		q = ev->asked[i];
		for (size_t j = 0; j < q->ndocs; j++) {
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "qid", q->id);
			cJSON_AddStringToObject(o, "docid", q->docs[j].doc);
			cJSON_AddNumberToObject(o, "score", q->docs[j].score);
			jsonl_write(f, o);
			cJSON_Delete(o);
		}
	}
	return close_out(f, ev->run);
}

/* Each qrels query's metrics, as TSV (eval.py's --per-query). */
static int
write_per_query(const struct eval *ev, FILE *f)
{
	const struct query *q;

	rp_printf(f, "qid");
	for (int m = 0; m < NMETRIC; m++)
		rp_printf(f, "\t%s", metric_names[m]);
	rp_printf(f, "\n");
	for (size_t i = 0; i < ev->nq && !ferror(f); i++) {
		if (!(q = ev->q[i])->in_qrels)
			continue;
		rp_printf(f, "%s", q->id);
		for (int m = 0; m < NMETRIC; m++)
			rp_printf(f, "\t%.6f", q->m[m]);
		rp_printf(f, "\n");
	}
	return close_out(f, ev->perq);
}

static void
eval_release(struct eval *ev)
{
	struct query *q;

	for (size_t i = 0; i < ev->nq; i++) {
		q = ev->q[i];
		tdelete(q, &ev->root, query_cmp);
		for (size_t j = 0; j < q->njudg; j++)
			free(q->judg[j].doc);
		for (size_t j = 0; j < q->ndocs; j++)
			free(q->docs[j].doc);
		free(q->judg);
		free(q->docs);
		free(q->id);
		free(q);
	}
	free(ev->q);
	free(ev->asked);
}

int
main(int argc, char *argv[])
{
	struct eval ev = { .k = TOP_DEFAULT };
	FILE *runf, *perqf;
	char *dbpath = NULL;
	int ch, rc;

	rp_init(argv[0]);
	ev.argv0 = argv[0];
	while ((ch = getopt_long(argc, argv, "d:hk:q", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			ev.db = optarg;
			break;
		case 'h':
			help();
		case 'k':
			ev.k = rp_parse_ulong(optarg, 1, TOP_MAX, "-k");
			break;
		case 'q':
			rp_verbosity = 0;
			break;
		case OPT_JSON:
			ev.json = 1;
			break;
		case OPT_MODE:
			ev.mode = optarg;
			break;
		case OPT_PER_QUERY:
			ev.perq = optarg;
			break;
		case OPT_QRELS:
			ev.qrels = optarg;
			break;
		case OPT_QUERIES:
			ev.queries = optarg;
			break;
		case OPT_RUN:
			ev.run = optarg;
			break;
		case OPT_VERSION:
			printf("rag-eval (ragpipe) %s\n", RP_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (ev.qrels == NULL || ev.queries == NULL) {
		rp_warn("%s is required", ev.qrels == NULL ? "--qrels" :
		    "--queries");
		usage();
	}
	if (ev.db == NULL &&
	    (ev.db = dbpath = store_default_path(getenv)) == NULL)
		rp_die(RP_EXIT_USAGE, "no store: give -d or set RAG_DB");
	/* Opened first, so that a bad path fails before the long run. */
	runf = open_out(ev.run);
	perqf = open_out(ev.perq);
	if ((rc = collect(&ev)) == 0) {
		evaluate(&ev);
		warn_missing(&ev);
		if (runf != NULL)
			rp_status(&ev.status, write_run(&ev, runf));
		if (perqf != NULL)
			rp_status(&ev.status, write_per_query(&ev, perqf));
		print_results(&ev);
		rc = rp_finish(ev.status);
	} else {
		if (runf != NULL)
			fclose(runf);
		if (perqf != NULL)
			fclose(perqf);
	}
	eval_release(&ev);
	free(dbpath);
	return rc;
}
