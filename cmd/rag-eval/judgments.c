/* rag-eval: reading relevance judgments and judged questions. */
#include <errno.h>
#include <math.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

/* Make room for item N in array P of *CAP items; returns it, maybe moved. */
void *
grow(void *p, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap == 0 ? 16 : *cap * 2;
	return xreallocarray(p, *cap, size);
}

int
query_cmp(const void *a, const void *b)
{
	return strcmp(((const struct query *)a)->id,
	    ((const struct query *)b)->id);
}

/* The query with ID; a new one when ADD is set, else NULL if unknown. */
struct query *
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
int
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
int
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
int
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
