/*
 * eval.h: what rag-eval's parts share.  judgments.c reads the qrels and
 * the questions, metrics.c ranks each question's documents and scores
 * them as trec_eval (and ../shared/data/eval.py) do, main.c runs
 * rag-query and prints.
 */
#ifndef EVAL_H
#define EVAL_H

#include <stddef.h>
#include <stdio.h>

#include "rp.h"
#include "jsonl.h"

#define QRELS_LINE_MAX	((size_t)1 << 20)	/* bytes */
/* rag-query reads question lines of up to 1 MiB; leave room for "id". */
#define QUERY_LINE_MAX	(((size_t)1 << 20) - 1024)

/* The metrics, in eval.py's order: the main four, then the extras. */
enum { M_NDCG10, M_R10, M_R100, M_MRR10, M_MAP, M_P10, M_R1000, M_NDCG100,
	NMETRIC };
#define NMAIN	4
extern const char *const metric_names[NMETRIC];

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

struct query *query_get(struct eval *ev, const char *id, int add);
int	read_qrels(struct eval *ev);
int	read_queries(struct eval *ev);
void	*grow(void *p, size_t n, size_t *cap, size_t size);
int	query_cmp(const void *a, const void *b);
int	read_records(struct eval *ev, FILE *f, const char *name, size_t max,
	    record_fn fn);
void	evaluate(struct eval *ev);
void	rank_docs(struct query *q);

#endif /* EVAL_H */
