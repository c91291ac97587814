/*
 * bm25: BM25 over postings in memory, as the vector file keeps them.
 *
 * The full-text leg of a query reads, for each of its terms, postings
 * (a chunk's row and the term's "impact" in it: its BM25 weight before
 * the IDF) from the memory-mapped vector file (vindex.h), and adds them
 * up: a chunk scores the sum over the terms of idf * impact, which is
 * FTS5's bm25() (k1 = 1.2, b = 0.75, with the column weights folded into
 * the count).
 *
 * The work is bounded (MaxScore, Turtle and Flood 1995): a term in more
 * chunks than bm25_cap_for(chunks) (BM25_CAP, or a BM25_CAP_SHARE-th of
 * the chunks when that is more) has its postings of the highest impact
 * kept apart, and only those are read, merged by chunk; any other
 * chunk's impact is at most the cutoff, the lowest kept.  A chunk read
 * so gets an upper bound, its known impacts plus the cutoffs of the
 * terms it was not read for, and only when that bound can still reach
 * the best K is it scored exactly, its missing impacts looked up in the
 * term's full postings (chunks come in order, so each lookup gallops on
 * from where the term's last one ended).  As the K-th best score rises,
 * the terms that can add least to a chunk leave the merge while all
 * they can add (and the cutoffs of the terms still read) stays below
 * it: a broad term's postings are then only looked up, for the chunks
 * the rarer terms bring.  A chunk read for no term scores at most the
 * sum of the cutoffs: when the K-th best score is above that, the
 * result is exactly that of scoring every chunk, and it says so.
 *
 * Pure functions on caller-owned memory; thread-safe.
 */
#ifndef BM25_H
#define BM25_H

#include <stddef.h>
#include <stdint.h>

#include "vindex.h"

#define BM25_K1		1.2
#define BM25_B		0.75
#define BM25_CAP	10000	/* postings kept of a term, at least */
#define BM25_CAP_SHARE	16	/* or this fraction of the chunks */

/*
 * One term of a question: its postings of the highest impact, read in
 * order, its full postings, looked up (both sorted by row; the same
 * when not capped, and then CUTOFF is 0), and its IDF.
 */
struct bm25_list {
	const struct vindex_posting *top;
	size_t		 ntop;
	const struct vindex_posting *all;
	size_t		 nall;
	float		 cutoff;
	double		 idf;
};

struct bm25_hit {
	double		 score;
	uint32_t	 row;
};

/*
 * FTS5's IDF of a term in DF of NROWS rows: ln((NROWS - DF + 0.5) /
 * (DF + 0.5)), or 1e-6 when that is not positive.
 */
double	bm25_idf(double nrows, double df);
/* The postings a term keeps in a store of NCHUNKS chunks. */
size_t	bm25_cap_for(int64_t nchunks);
/* The impact of a term counted F times (weighted) in a row of DL tokens. */
float	bm25_impact(double f, double dl, double avgdl);
/*
 * Keep of P[0..N) the CAP postings of highest impact (ties: the lower
 * row), sorted by row, in place; returns how many: min(N, CAP), and
 * sets *CUTOFF to the lowest impact kept (0 when all are).
 */
size_t	bm25_cap(struct vindex_posting *p, size_t n, size_t cap,
	    float *cutoff);
/*
 * The K rows with the highest sum of idf * impact over the NLISTS (at
 * most 64) LISTS, best first, ties by lower row, into OUT (room for K),
 * read as above.  Returns how many (at most K; rows in no list are not
 * scored), and sets *EXACT to 1 when they are certainly those of
 * scoring every row of the full postings, else 0.  Work in proportion
 * to the capped postings (and the lookups of rows that may win), memory
 * to K and NLISTS.
 *
 * With KEEP, a set of rows as vec.h makes them (NROWS rows), only its
 * rows are scored, and always exactly: when the bound cannot vouch for
 * the answer, each of its rows is looked up (few rows) or the full
 * postings are read (many), in time in proportion to the smaller.
 *
 * The postings come from a file and are checked as they are read: it
 * returns -1 (a damaged file) on a row not below NROWS, a list that does
 * not ascend, or a top impact that is not a finite number at least 0.
 * Postings it need not read are not checked.
 */
long	bm25_topk(const struct bm25_list *lists, size_t nlists, size_t k,
	    const uint64_t *keep, size_t nrows, struct bm25_hit *out,
	    int *exact);

#endif /* BM25_H */
