/* bm25: BM25 sums over capped postings; the cap; FTS5's IDF. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "bm25.h"
#include "vec.h"

double
bm25_idf(double nrows, double df)
{
	double idf = log((0.5 + nrows - df) / (0.5 + df));

	return idf > 0 ? idf : 1e-6;
}

size_t
bm25_cap_for(int64_t nchunks)
{
	return RP_MAX((size_t)BM25_CAP, (size_t)RP_MAX(nchunks, 0) /
	    BM25_CAP_SHARE);
}

float
bm25_impact(double f, double dl, double avgdl)
{
	if (f <= 0)
		return 0;
	return (float)(f * (BM25_K1 + 1) / (f + BM25_K1 * (1 - BM25_B +
	    BM25_B * dl / (avgdl > 0 ? avgdl : 1))));
}

static int
by_impact(const void *a, const void *b)
{
	const struct vindex_posting *x = a, *y = b;

	if (x->impact != y->impact)
		return x->impact > y->impact ? -1 : 1;
	return (x->row > y->row) - (x->row < y->row);
}

static int
by_row(const void *a, const void *b)
{
	const struct vindex_posting *x = a, *y = b;

	return (x->row > y->row) - (x->row < y->row);
}

/* A before B by by_impact: the higher impact, then the lower row. */
static int
ahead(const struct vindex_posting *a, const struct vindex_posting *b)
{
	return a->impact > b->impact || (a->impact == b->impact &&
	    a->row < b->row);
}

static void
swap(struct vindex_posting *a, struct vindex_posting *b)
{
	struct vindex_posting t = *a;

	*a = *b;
	*b = t;
}

/*
 * Put the K first of P[0..N) by by_impact (0 < K < N) before the others,
 * in no order: a quickselect, which reads each posting a few times
 * where a sort of all of them took most of the time of building the
 * file of a large store.  Postings name distinct rows, so the order is
 * total and the K are those a sort would put first.  Past 2 log2 N
 * rounds (a run of bad pivots) it sorts what is left instead.
 */
static void
select_top(struct vindex_posting *p, size_t n, size_t k)
{
	size_t lo = 0, hi = n, i, j, rounds = 0, limit = 2;

	for (size_t m = n; m > 1; m >>= 1)
		limit += 2;
	while (hi - lo > 1) {
		if (++rounds > limit) {
			qsort(p + lo, hi - lo, sizeof(*p), by_impact);
			return;
		}
		/* Median of three, to P[lo]. */
		i = lo + (hi - lo) / 2;
		j = hi - 1;
		if (ahead(&p[i], &p[lo]))
			swap(&p[i], &p[lo]);
		if (ahead(&p[j], &p[i]))
			swap(&p[j], &p[i]);
		if (ahead(&p[i], &p[lo]))
			swap(&p[i], &p[lo]);
		swap(&p[lo], &p[i]);
		/* Those ahead of the pivot to P[lo + 1 .. i]. */
		for (i = lo, j = lo + 1; j < hi; j++)
			if (ahead(&p[j], &p[lo]))
				swap(&p[++i], &p[j]);
		swap(&p[lo], &p[i]);	/* the pivot is the (i+1)-th */
		if (i == k - 1 || i == k)
			return;
		if (i < k)
			lo = i + 1;
		else
			hi = i;
	}
}

size_t
bm25_cap(struct vindex_posting *p, size_t n, size_t cap, float *cutoff)
{
	struct vindex_posting *q;
	size_t above = 0, ties, k = 0;
	float low;
	int sorted = 1;

	*cutoff = 0;
	if (n <= cap)
		return n;
	for (size_t i = 1; i < n && sorted; i++)
		sorted = p[i - 1].row < p[i].row;
	q = sorted ? xreallocarray(NULL, n, sizeof(*q)) : p;
	if (sorted)
		memcpy(q, p, n * sizeof(*q));
	select_top(q, n, cap);
	low = q[0].impact;
	for (size_t i = 1; i < cap; i++)
		low = RP_MIN(low, q[i].impact);
	*cutoff = low;
	if (!sorted) {
		qsort(p, cap, sizeof(*p), by_row);
		return cap;
	}
	free(q);
	/*
	 * In row order already (as the lists always are): keep those above
	 * the cutoff and, of those at it, the first by row, which are the
	 * ones the selection's order (ties by lower row) put in; no sort.
	 */
	for (size_t i = 0; i < n; i++)
		above += p[i].impact > low;
	ties = cap - RP_MIN(above, cap);
	for (size_t i = 0; i < n; i++)
		if (p[i].impact > low || (p[i].impact == low && ties > 0 &&
		    ties-- > 0))
			p[k++] = p[i];
	return k;
}

/* A before B in the result: higher score, then lower row. */
static int
better(const struct bm25_hit *a, const struct bm25_hit *b)
{
	return a->score > b->score || (a->score == b->score && a->row < b->row);
}

/* Offer HIT to the min-heap H of *N (at most K) hits, worst on top. */
static void
offer(struct bm25_hit *h, size_t *n, size_t k, struct bm25_hit hit)
{
	size_t i, c;

	if (*n < k) {
		for (i = (*n)++; i > 0 && better(&h[(i - 1) / 2], &hit);
		    i = (i - 1) / 2)
			h[i] = h[(i - 1) / 2];
		h[i] = hit;
		return;
	}
	if (!better(&hit, &h[0]))
		return;
	for (i = 0; (c = 2 * i + 1) < k; i = c) {
		if (c + 1 < k && better(&h[c], &h[c + 1]))
			c++;
		if (!better(&hit, &h[c]))
			break;
		h[i] = h[c];
	}
	h[i] = hit;
}

static int
cmp_hits(const void *a, const void *b)
{
	return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

/* A list's head in the merge: its current row. */
struct head {
	uint32_t	 row;
	uint32_t	 list;
};

static void
sift(struct head *q, size_t n, size_t i)
{
	struct head t;
	size_t c;

	for (; (c = 2 * i + 1) < n; i = c) {
		if (c + 1 < n && q[c + 1].row < q[c].row)
			c++;
		if (q[i].row <= q[c].row)
			break;
		t = q[i], q[i] = q[c], q[c] = t;
	}
}

/*
 * The impact of ROW in the full postings P[0..N), or 0, found from *AT
 * on: every posting before *AT is of a lower row, and *AT is left at
 * the first of ROW or beyond.  Rows asked in ascending order so cost a
 * gallop from where the last one ended (about log2 of the distance)
 * instead of a binary search of the whole list.
 */
static float
lookup_from(const struct vindex_posting *p, size_t n, size_t *at,
    uint32_t row)
{
	size_t lo = *at, hi = *at, step = 1, mid;

	while (hi < n && p[hi].row < row) {
		lo = hi + 1;
		hi += step;
		step *= 2;
	}
	/* The first posting of ROW or beyond is in [lo, hi], or is none. */
	hi = RP_MIN(hi, n);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (p[mid].row < row)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return lo < n && p[lo].row == row ? p[lo].impact : 0;
}

/*
 * A merge of the lists' top postings by row, through a heap of heads.
 * The postings come from a file: a list that names a row past NROWS or
 * does not ascend ends there, and the merge is then BAD.
 */
struct merge {
	const struct bm25_list *l;
	size_t		 nl;
	const uint64_t	*keep;		/* the rows it yields; NULL: all */
	size_t		 nrows;
	int		 bad;
	struct head	*q;
	size_t		*at, nq;
	uint64_t	 drop;		/* lists out of the merge */
};

static void
merge_start(struct merge *m, const struct bm25_list *l, size_t nl,
    const uint64_t *keep, size_t nrows)
{
	m->l = l;
	m->nl = nl;
	m->keep = keep;
	m->nrows = nrows;
	m->bad = 0;
	m->q = xreallocarray(NULL, RP_MAX(nl, (size_t)1), sizeof(*m->q));
	m->at = xcalloc(RP_MAX(nl, (size_t)1), sizeof(*m->at));
	m->nq = 0;
	m->drop = 0;
	for (size_t i = 0; i < nl; i++)
		if (l[i].ntop > 0 && l[i].top[0].row >= nrows)
			m->bad = 1;
		else if (l[i].ntop > 0)
			m->q[m->nq++] = (struct head){ l[i].top[0].row,
			    (uint32_t)i };
	for (size_t i = m->nq; i-- > 0; )
		sift(m->q, m->nq, i);
}

/*
 * The next row of the merge in the set KEEP into *ROW, with the sum of
 * what the lists that have it give into *LOW (added in the order of the
 * lists, as score_read() adds, so that a row read in every list that can
 * have it gets the same score both ways), which those are into *SEEN and
 * their impacts into IMP (room for every list; the others' are left as
 * they were); 0 at the end.  A list in m->drop gives nothing more: its
 * head leaves the heap when it comes up.
 */
static int
merge_next(struct merge *m, uint32_t *row, double *low, uint64_t *seen,
    float *imp)
{
	size_t l;

	do {
		*seen = 0;
		while (m->nq > 0 && (*seen == 0 || m->q[0].row == *row)) {
			l = m->q[0].list;
			if (m->drop & (uint64_t)1 << l) {
				m->q[0] = m->q[--m->nq];
				sift(m->q, m->nq, 0);
				continue;
			}
			*row = m->q[0].row;
			*seen |= (uint64_t)1 << l;
			imp[l] = m->l[l].top[m->at[l]++].impact;
			if (m->at[l] < m->l[l].ntop &&
			    m->l[l].top[m->at[l]].row > *row &&
			    m->l[l].top[m->at[l]].row < m->nrows)
				m->q[0].row = m->l[l].top[m->at[l]].row;
			else {
				m->bad |= m->at[l] < m->l[l].ntop;
				m->q[0] = m->q[--m->nq];
			}
			sift(m->q, m->nq, 0);
		}
		if (*seen == 0)
			return 0;
	} while (!VEC_IN(m->keep, *row));
	*low = 0;
	for (uint64_t b = *seen; b != 0; b &= b - 1)
		*low += m->l[__builtin_ctzll(b)].idf * imp[__builtin_ctzll(b)];
	return 1;
}

static void
merge_end(struct merge *m)
{
	free(m->q);
	free(m->at);
}

/*
 * The exact score of ROW, rows asked in ascending order: the lists in
 * SEEN gave their impacts IMP (from a merge); a list not capped that the
 * merge reads (not in DROP) and that did not give it lacks it; the
 * others are looked up in their full postings from their cursors AT.
 * Added term by term in the order of the lists, whichever way each
 * impact was found.  With SEEN 0 and every list in DROP, every impact
 * is looked up.
 */
static double
score_read(const struct bm25_list *l, size_t nl, uint32_t row,
    uint64_t seen, uint64_t drop, const float *imp, size_t *at)
{
	double s = 0;

	for (size_t i = 0; i < nl; i++)
		if (seen & (uint64_t)1 << i)
			s += l[i].idf * imp[i];
		else if (l[i].ntop < l[i].nall || (drop & (uint64_t)1 << i))
			s += l[i].idf * lookup_from(l[i].all, l[i].nall,
			    &at[i], row);
	return s;
}

/*
 * Is BOUND below BAR by more than rounding can account for?  A bound
 * adds other terms, in another order, than the score it bounds, and may
 * come out a few units in the last place under it: a row is passed over
 * only when it is clearly below.  (One that ties the bar may be passed
 * over: rows come in order, and a tie goes to the lower row.)
 */
static int
below(double bound, double bar)
{
	return bound + bound * 1e-12 < bar;
}

/*
 * MaxScore's split of the lists (Turtle and Flood 1995), as the bar
 * rises.  ORDER has the lists by the most they can give a row (UB: the
 * IDF times their highest impact), least first, and ORDER[0..*P) are
 * out of the merge M.  A row the merge no longer reads is in none of the
 * lists still in it, or only past their tops: it scores at most the UB
 * of the lists out plus the cutoffs (CUT: times the IDF) of the capped
 * lists in.  While that stays below the bar with one more list out, the
 * next list leaves.  Returns the sum of the UB of the lists out.
 */
static double
split(struct merge *m, const size_t *order, const double *ub,
    const double *cut, size_t nl, size_t *p, double bar)
{
	double out, in;

	for (;;) {
		out = in = 0;
		for (size_t j = 0; j < nl; j++)
			if (j <= *p)
				out += ub[order[j]];
			else
				in += cut[order[j]];
		if (*p == nl || !below(out + in, bar))
			break;
		m->drop |= (uint64_t)1 << order[(*p)++];
	}
	out = 0;
	for (size_t j = 0; j < *p; j++)
		out += ub[order[j]];
	return out;
}

/*
 * Every row of the set KEEP (NROWS rows) that a list holds, scored
 * exactly, into the heap H of *N (at most K) hits: a few rows looked up
 * in each list, or many read in a merge of the full postings.  Returns
 * -1 when that merge finds a list damaged (struct merge), else 0.
 */
static int
score_kept(const struct bm25_list *l, size_t nl, const uint64_t *keep,
    size_t nrows, struct bm25_hit *h, size_t *n, size_t k)
{
	struct bm25_list *all;
	struct merge m;
	struct bm25_hit hit;
	size_t kept = 0, postings = 0, at[64] = { 0 };
	uint64_t seen;
	float imp[64];

	*n = 0;
	for (size_t w = 0; w < (nrows + 63) / 64; w++)
		kept += (size_t)__builtin_popcountll(keep[w]);
	for (size_t i = 0; i < nl; i++)
		postings += l[i].nall;
	/* A lookup costs about as much as reading 16 postings. */
	if (kept * nl * 16 < postings) {
		for (size_t w = 0; w < (nrows + 63) / 64; w++)
			for (uint64_t b = keep[w]; b != 0; b &= b - 1) {
				hit.row = (uint32_t)(w * 64 +
				    (size_t)__builtin_ctzll(b));
				hit.score = score_read(l, nl, hit.row, 0,
				    ~(uint64_t)0, NULL, at);
				if (hit.score > 0)
					offer(h, n, k, hit);
			}
		return 0;
	}
	all = xreallocarray(NULL, nl, sizeof(*all));
	for (size_t i = 0; i < nl; i++)
		all[i] = (struct bm25_list){ l[i].all, l[i].nall, l[i].all,
		    l[i].nall, 0, l[i].idf };
	merge_start(&m, all, nl, keep, nrows);
	while (merge_next(&m, &hit.row, &hit.score, &seen, imp))
		offer(h, n, k, hit);
	merge_end(&m);
	free(all);
	return m.bad ? -1 : 0;
}

/*
 * The most each list can give a row, UB (its IDF times its highest
 * impact, which a capped list has among its top postings), and the
 * lists by it, least first, into ORDER.  Returns -1 when an impact is
 * not a finite number at least 0 (a damaged file), else 0.
 */
static int
rank_lists(const struct bm25_list *l, size_t nl, double *ub, size_t *order)
{
	float most;
	size_t j;
	int bad = 0;

	for (size_t i = 0; i < nl; i++) {
		most = 0;
		for (size_t x = 0; x < l[i].ntop; x++) {
			bad |= !(l[i].top[x].impact >= 0 &&
			    l[i].top[x].impact <= FLT_MAX);
			most = RP_MAX(most, l[i].top[x].impact);
		}
		ub[i] = l[i].idf * most;
		for (j = i; j > 0 && ub[order[j - 1]] > ub[i]; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	return bad ? -1 : 0;
}

/*
 * One merge of the top postings, by row.  A row the merge reads gets a
 * bound: what the lists that gave it gave, the cutoffs of the capped
 * lists in the merge that did not, and the most each list out of the
 * merge can give.  Until the heap holds K rows every row is scored;
 * then only those whose bound reaches the K-th best score (the bar), and
 * as the bar rises, lists whose postings can no longer lift a row to it
 * leave the merge (split()).  Kept to a set of rows, the top postings
 * may hold few of them, and the bound then rarely settles the answer:
 * the set's rows are scored instead.
 */
long
bm25_topk(const struct bm25_list *lists, size_t nlists, size_t k,
    const uint64_t *keep, size_t nrows, struct bm25_hit *out, int *exact)
{
	struct merge m;
	struct bm25_hit *h, hit;
	size_t n = 0, at[64] = { 0 }, order[64], p = 0;
	double unseen = 0, miss, low, gone = 0, bar, ub[64], cut[64];
	uint64_t seen, capped = 0;
	float imp[64];

	*exact = 1;
	if (k == 0 || nlists == 0)
		return 0;
	nlists = RP_MIN(nlists, (size_t)64);
	for (size_t i = 0; i < nlists; i++) {
		cut[i] = 0;
		if (lists[i].cutoff > 0) {
			capped |= (uint64_t)1 << i;
			unseen += cut[i] = lists[i].idf * lists[i].cutoff;
		}
	}
	if (rank_lists(lists, nlists, ub, order) != 0)
		return -1;
	h = xreallocarray(NULL, k, sizeof(*h));
	merge_start(&m, lists, nlists, keep, nrows);
	while (merge_next(&m, &hit.row, &low, &seen, imp)) {
		miss = gone;
		for (uint64_t b = capped & ~seen & ~m.drop; b != 0; b &= b - 1)
			miss += cut[__builtin_ctzll(b)];
		if (n == k && below(low + miss, h[0].score))
			continue;
		/* Every list that can have it gave it: LOW is its score. */
		hit.score = miss == 0 ? low : score_read(lists, nlists,
		    hit.row, seen, m.drop, imp, at);
		bar = n == k ? h[0].score : 0;
		offer(h, &n, k, hit);
		if (n == k && h[0].score > bar && p < nlists)
			gone = split(&m, order, ub, cut, nlists, &p,
			    h[0].score);
	}
	merge_end(&m);
	/* A row no list read scores at most the sum of the cutoffs. */
	if (!m.bad && unseen > 0 && (n < k || h[0].score <= unseen)) {
		*exact = keep != NULL;
		if (keep != NULL && score_kept(lists, nlists, keep, nrows, h,
		    &n, k) != 0)
			m.bad = 1;
	}
	if (m.bad) {
		free(h);
		return -1;
	}
	qsort(h, n, sizeof(*h), cmp_hits);
	memcpy(out, h, n * sizeof(*out));
	free(h);
	return (long)n;
}
