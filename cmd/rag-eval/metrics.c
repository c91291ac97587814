/* rag-eval: ranking and trec_eval metrics. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

const char *const metric_names[NMETRIC] = {
	"nDCG@10", "Recall@10", "Recall@100", "MRR@10",
	"MAP", "P@10", "Recall@1000", "nDCG@100",
};

/* Score as trec_eval keeps it: float32 (out of range is infinite). */
static float
f32(double v)
{
	if (fabs(v) > FLT_MAX)
		return v > 0 ? INFINITY : -INFINITY;
	return (float)v;
}

static int
doc_cmp(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->doc,
	    ((const struct item *)b)->doc);
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
void
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
void
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
