/* t-bm25: FTS5's IDF, impacts, the cap, and top-k sums over postings. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "bm25.h"
#include "tap.h"
#include "vec.h"

static uint64_t seed = 7;

static uint32_t
rnd(uint32_t n)
{
	seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)((seed >> 33) % n);
}

static int
by_score(const void *a, const void *b)
{
	const struct bm25_hit *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return (x->row > y->row) - (x->row < y->row);
}

static int
by_impact_row(const void *a, const void *b)
{
	const struct vindex_posting *x = a, *y = b;

	if (x->impact != y->impact)
		return x->impact > y->impact ? -1 : 1;
	return (x->row > y->row) - (x->row < y->row);
}

static int
by_row_only(const void *a, const void *b)
{
	const struct vindex_posting *x = a, *y = b;

	return (x->row > y->row) - (x->row < y->row);
}

/*
 * bm25_cap against a whole sort: lists of every size around the cap, of
 * few distinct impacts (ties broken by row) or many, in orders that
 * defeat a naive pivot (ascending, descending, organ pipe); counts the
 * lists on which it differs.
 */
static int
cap_rounds(void)
{
	enum { MAXN = 3000 };
	static struct vindex_posting p[MAXN], want[MAXN];
	int wrong = 0;
	float cut;

	for (int round = 0; round < 400; round++) {
		size_t n = 1 + rnd(MAXN), cap = 1 + rnd((uint32_t)n + 5), got;
		uint32_t distinct = round % 3 == 0 ? 3 : 1000000;

		for (size_t i = 0; i < n; i++) {
			p[i].row = (uint32_t)(i * 7 + 3);
			switch (round % 4) {
			case 0: p[i].impact = (float)rnd(distinct); break;
			case 1: p[i].impact = (float)i; break;
			case 2: p[i].impact = (float)(n - i); break;
			default: p[i].impact = (float)(i < n / 2 ? i : n - i);
			}
		}
		/* Lists come in row order; any other order works too. */
		for (size_t i = n - 1; round % 5 == 4 && i > 0; i--) {
			size_t j = rnd((uint32_t)i + 1);
			struct vindex_posting t = p[i];

			p[i] = p[j];
			p[j] = t;
		}
		memcpy(want, p, n * sizeof(*p));
		qsort(want, n, sizeof(*want), by_impact_row);
		got = bm25_cap(p, n, cap, &cut);
		if (n <= cap) {
			wrong += got != n || cut != 0;
			continue;
		}
		/* The cutoff: the lowest impact kept, the cap-th's. */
		wrong += cut != want[cap - 1].impact;
		qsort(want, cap, sizeof(*want), by_row_only);
		wrong += got != cap || memcmp(p, want, cap * sizeof(*p)) != 0;
	}
	return wrong;
}

/* Top-k the slow way: a score for every row in KEEP, sorted. */
static size_t
brute(const struct bm25_list *l, size_t nl, uint32_t nrows,
    const uint64_t *keep, size_t k, struct bm25_hit *out)
{
	struct bm25_hit *all = xcalloc(nrows, sizeof(*all));
	char *seen = xcalloc(nrows, 1);
	size_t n = 0;

	for (uint32_t r = 0; r < nrows; r++)
		all[r].row = r;
	for (size_t i = 0; i < nl; i++)
		for (size_t j = 0; j < l[i].nall; j++) {
			all[l[i].all[j].row].score += l[i].idf *
			    l[i].all[j].impact;
			seen[l[i].all[j].row] = 1;
		}
	for (uint32_t r = 0; r < nrows; r++)
		if (seen[r] && VEC_IN(keep, r))
			all[n++] = all[r];
	qsort(all, n, sizeof(*all), by_score);
	n = RP_MIN(n, k);
	memcpy(out, all, n * sizeof(*out));
	free(all);
	free(seen);
	return n;
}

/* N postings of distinct random rows below NROWS, sorted by row. */
static struct vindex_posting *
postings(size_t n, uint32_t nrows)
{
	struct vindex_posting *p = xcalloc(n, sizeof(*p));
	char *used = xcalloc(nrows, 1);
	size_t i = 0;

	while (i < n) {
		uint32_t r = rnd(nrows);

		if (used[r])
			continue;
		used[r] = 1;
		i++;
	}
	i = 0;
	for (uint32_t r = 0; r < nrows; r++)
		if (used[r])
			p[i++] = (struct vindex_posting){ r,
			    (float)(rnd(1000) + 1) / 500.0f };
	free(used);
	return p;
}

/*
 * Are the K hits A those of B, rows and scores bit for bit?  Both add a
 * row's terms in the order of the lists.
 */
static int
same(const struct bm25_hit *a, size_t na, const struct bm25_hit *b,
    size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (a[i].row != b[i].row || a[i].score != b[i].score)
			return 0;
	return 1;
}

/*
 * Random questions of NL terms over NROWS rows (200 to 200 + ROWS),
 * lists of up to POSTS postings, capped at CAP (0: none), kept to a
 * random set of about one row in SHARE (0: no set), against brute
 * force: when bm25_topk says exact, the same hits.  Counts the rounds
 * said exact, and those that match.
 */
static void
rounds_of(uint32_t rows, uint32_t posts, size_t cap, uint32_t share,
    int *said, int *right, int *wrong_exact)
{
	struct bm25_list l[12];
	struct vindex_posting *top[12];
	struct bm25_hit a[300], b[300];
	uint64_t *keep = NULL;
	size_t na, nb;
	int exact;

	for (int round = 0; round < 40; round++) {
		size_t nl = 1 + rnd(12), k = 1 + rnd(100);
		uint32_t nrows = 200 + rnd(rows);

		for (size_t i = 0; i < nl; i++) {
			l[i].nall = rnd(i == 3 ? 1 : posts) % nrows;
			l[i].all = postings(l[i].nall, nrows);
			top[i] = xcalloc(l[i].nall + 1, sizeof(**top));
			memcpy(top[i], l[i].all, l[i].nall * sizeof(**top));
			l[i].top = top[i];
			l[i].ntop = cap > 0 ? bm25_cap(top[i], l[i].nall, cap,
			    &l[i].cutoff) : l[i].nall;
			if (cap == 0)
				l[i].cutoff = 0;
			/* Rare terms weigh more, as IDF has it. */
			l[i].idf = 12.0 / (1 + (double)l[i].nall / 60);
		}
		if (share > 0) {
			keep = xcalloc((nrows + 63) / 64, sizeof(*keep));
			for (uint32_t r = 0; r < nrows; r++)
				if (rnd(share) == 0)
					keep[r / 64] |= (uint64_t)1 << (r % 64);
		}
		na = bm25_topk(l, nl, k, keep, nrows, a, &exact);
		nb = brute(l, nl, nrows, keep, k, b);
		*said += exact;
		*right += same(a, na, b, nb);
		*wrong_exact += exact && !same(a, na, b, nb);
		for (size_t i = 0; i < nl; i++) {
			free((void *)l[i].all);
			free(top[i]);
		}
		free(keep);
		keep = NULL;
	}
}

/*
 * A broad term may leave the merge only while all it can give, with the
 * cutoffs of the capped terms still read, stays below the bar.  Row 0
 * (rare term C) sets the bar at 20; term A can give at most 2, but row 5,
 * in A's top postings, also has B's at just under B's cutoff: 2 + 18.5.
 * Dropped on A's 2 alone, A would take row 5 with it, never read again.
 * (Rows 100-109, B's top, tie row 0 at 20, and the lower row wins.)
 */
static void
drop_case(void)
{
	struct vindex_posting c[1] = { { 0, 2.0f } }, a_all[500], a_top[10],
	    b_all[500], b_top[10];
	struct bm25_list l[3];
	struct bm25_hit h[2];
	size_t n, na = 0, nb = 0, ta = 0, tb = 0;
	int exact;

	for (uint32_t r = 1; r <= 500; r++) {
		a_all[na++] = (struct vindex_posting){ r, r <= 10 ? 2.0f :
		    1.0f };
		if (r <= 10)
			a_top[ta++] = a_all[na - 1];
		b_all[nb++] = (struct vindex_posting){ r, r >= 100 &&
		    r < 110 ? 1.9f : r == 5 ? 1.85f : 1.0f };
		if (r >= 100 && r < 110)
			b_top[tb++] = b_all[nb - 1];
	}
	l[0] = (struct bm25_list){ c, 1, c, 1, 0, 10 };
	l[1] = (struct bm25_list){ a_top, ta, a_all, na, 2.0f, 1 };
	l[2] = (struct bm25_list){ b_top, tb, b_all, nb, 1.9f, 10 };
	n = bm25_topk(l, 3, 1, NULL, 501, h, &exact);
	ok(n == 1 && h[0].row == 5 && h[0].score == 1 * (double)2.0f +
	    10 * (double)1.85f, "a broad term stays in the merge while a "
	    "capped term's cutoff can lift its rows to the bar (row %u)",
	    n > 0 ? h[0].row : 0);
	n = bm25_topk(l, 3, 2, NULL, 501, h, &exact);
	ok(n == 2 && h[0].row == 5 && h[1].row == 0, "and the bar's own "
	    "row next");
}

static void
rounds(size_t cap, uint32_t share, int *said, int *right, int *wrong_exact)
{
	rounds_of(3000, 600, cap, share, said, right, wrong_exact);
}

/*
 * Postings from a damaged file: those it reads are checked, and a row
 * past the last, a list out of order or an impact that is not a number
 * makes it refuse the lists (-1); those it need not read, it does not.
 */
static void
damaged(void)
{
	struct vindex_posting q[3] = { { 2, 4.0f }, { 7, 3.0f }, { 8, 2.0f } };
	struct vindex_posting top[1] = { { 2, 4.0f } };
	struct vindex_posting all[4] = { { 2, 4.0f }, { 5, 1.0f },
	    { 6, 0.5f }, { 12, 0.5f } };
	struct bm25_list l[1];
	struct bm25_hit a[10];
	uint64_t keep = 0x3e4;		/* rows 2, 5, 6, 7, 8, 9 */
	long n;
	int exact;

	l[0] = (struct bm25_list){ q, 3, q, 3, 0, 1 };
	is_int(bm25_topk(l, 1, 10, NULL, 10, a, &exact), 3, "sound lists");
	is_int(bm25_topk(l, 1, 10, NULL, 8, a, &exact), -1,
	    "damaged: a row past the last");
	is_int(bm25_topk(l, 1, 10, &keep, 8, a, &exact), -1,
	    "damaged: a row past the last, with a set of rows");
	q[1].row = 9;
	is_int(bm25_topk(l, 1, 10, NULL, 10, a, &exact), -1,
	    "damaged: postings out of order");
	q[1].row = 2;
	is_int(bm25_topk(l, 1, 10, NULL, 10, a, &exact), -1,
	    "damaged: a row twice");
	q[1].row = 7;
	q[1].impact = NAN;
	is_int(bm25_topk(l, 1, 10, NULL, 10, a, &exact), -1,
	    "damaged: an impact not a number");
	q[1].impact = -1;
	is_int(bm25_topk(l, 1, 10, NULL, 10, a, &exact), -1,
	    "damaged: a negative impact");
	/* A capped list: its full postings are read for a set of rows. */
	l[0] = (struct bm25_list){ top, 1, all, 4, 0.5f, 1 };
	is_int(bm25_topk(l, 1, 10, &keep, 10, a, &exact), -1,
	    "damaged: a row past the last in the full postings, read for "
	    "a set of rows");
	n = bm25_topk(l, 1, 10, NULL, 10, a, &exact);
	ok(n == 1 && a[0].row == 2 && !exact, "the full postings only "
	    "looked up: not read, not checked");
}

int
main(void)
{
	struct vindex_posting p[6] = { { 1, 0.5f }, { 3, 2.0f }, { 4, 1.0f },
	    { 7, 2.0f }, { 8, 0.1f }, { 9, 1.5f } };
	struct bm25_list l[2];
	struct bm25_hit a[10];
	float cut;
	size_t n;
	int said = 0, right = 0, wrong = 0, exact;

	ok(fabs(bm25_idf(1000, 10) - log(990.5 / 10.5)) < 1e-12,
	    "idf: ln((N - n + 0.5) / (n + 0.5))");
	ok(bm25_idf(10, 9) == 1e-6, "idf: a term in most rows weighs 1e-6");
	ok(fabs(bm25_impact(2, 100, 100) - 2 * 2.2 / 3.2) < 1e-6,
	    "impact: f (k1 + 1) / (f + k1) at the average length");
	ok(bm25_impact(1, 50, 100) > bm25_impact(1, 200, 100),
	    "impact: shorter rows weigh more");
	is_int(bm25_impact(0, 10, 10), 0, "impact: no occurrence, nothing");
	is_int(bm25_cap_for(1000), BM25_CAP, "cap: at least BM25_CAP");
	is_int(bm25_cap_for(1600000), 100000, "cap: or a 16th of the chunks");

	n = bm25_cap(p, 6, 3, &cut);
	ok(n == 3 && p[0].row == 3 && p[1].row == 7 && p[2].row == 9 &&
	    cut == 1.5f, "cap: the highest impacts kept, by row; the cutoff");
	ok(bm25_cap(p, 3, 10, &cut) == 3 && cut == 0, "cap: fewer than the "
	    "cap are all kept, no cutoff");
	is_int(cap_rounds(), 0, "cap: as a whole sort, for 400 lists of "
	    "1-3000 postings, ties and sorted orders among them");

	rounds(0, 0, &said, &right, &wrong);
	ok(said == 40 && right == 40, "uncapped lists: exact, as brute force "
	    "(%d of 40)", right);
	said = right = wrong = 0;
	rounds(40, 0, &said, &right, &wrong);
	ok(wrong == 0 && said > 0, "capped lists: said exact %d times of 40, "
	    "never wrongly; %d as brute force", said, right);
	ok(right >= said, "capped lists: every exact answer is right");
	ok(said < 40, "capped lists: some answers are not vouched for "
	    "(%d of 40), so the rounds below test the fallback", 40 - said);
	/*
	 * Large sparse lists, with no set of rows kept, a few rows and a
	 * third of them: rows far apart are looked up in ascending order,
	 * each from where the last lookup ended.
	 */
	said = right = wrong = 0;
	rounds_of(200000, 20000, 300, 0, &said, &right, &wrong);
	ok(wrong == 0 && said > 0 && said < 40, "long capped lists: said "
	    "exact %d times of 40, never wrongly; %d as brute force", said,
	    right);
	said = right = wrong = 0;
	rounds_of(200000, 20000, 300, 5000, &said, &right, &wrong);
	ok(said == 40 && right == 40, "long capped lists, one row in 5000 "
	    "kept: exact, as brute force (%d of 40)", right);
	said = right = wrong = 0;
	rounds_of(200000, 20000, 300, 3, &said, &right, &wrong);
	ok(said == 40 && right == 40, "long capped lists, one row in 3 "
	    "kept: exact, as brute force (%d of 40)", right);
	/* Kept to a set of rows: exact every time, by either way. */
	for (uint32_t share = 1; share <= 1000; share *= 10) {
		said = right = wrong = 0;
		rounds(40, share, &said, &right, &wrong);
		ok(said == 40 && right == 40, "capped lists, one row in %u "
		    "kept: exact, as brute force (%d of 40)", share, right);
		said = right = wrong = 0;
		rounds(0, share, &said, &right, &wrong);
		ok(said == 40 && right == 40, "uncapped lists, one row in %u "
		    "kept: exact, as brute force (%d of 40)", share, right);
	}

	drop_case();
	is_int(bm25_topk(l, 0, 10, NULL, 0, a, &exact), 0, "no lists, no hits");
	l[0] = (struct bm25_list){ p, 0, p, 0, 0, 1 };
	is_int(bm25_topk(l, 1, 10, NULL, 0, a, &exact), 0,
	    "empty lists, no hits");
	is_int(bm25_topk(l, 1, 0, NULL, 0, a, &exact), 0, "k = 0");
	{
		struct vindex_posting q[3] = { { 2, 4.0f }, { 7, 3.0f },
		    { 8, 2.0f } };
		uint64_t none = 0, some = (uint64_t)1 << 7 | (uint64_t)1 << 8;

		l[0] = (struct bm25_list){ q, 3, q, 3, 0, 1 };
		is_int(bm25_topk(l, 1, 10, &none, 10, a, &exact), 0,
		    "an empty set of rows: no hits");
		n = bm25_topk(l, 1, 10, &some, 10, a, &exact);
		ok(n == 2 && a[0].row == 7 && a[1].row == 8 && exact,
		    "a set of rows: only its rows, best first");
	}
	damaged();
	return tap_done();
}
