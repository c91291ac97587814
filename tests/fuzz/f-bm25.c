/*
 * f-bm25: the full-text leg's sum over capped postings (lib/bm25.h)
 * against scoring every row.  The bytes choose up to 12 lists over 256
 * rows, few distinct impacts and IDFs (so that scores tie, and ties go
 * to the lower row), the cap, K and a set of rows to keep.  Promised:
 * the hits are the K best of the rows some list's top postings hold,
 * scores bit for bit; when bm25_topk says exact, or a set is kept, the K
 * best of every row.  The last bytes may damage a posting, as a bad disk
 * would the vector file's (a row past the last, out of order, an impact
 * not a number): then it refuses the lists or answers with no row past
 * the last, and reads nothing outside them.
 */
#include "fuzz.h"
#include <math.h>
#include <string.h>

#include "rp.h"
#include "bm25.h"
#include "vec.h"

#define ROWS	256
#define LISTS	12

static int
better(const struct bm25_hit *a, const struct bm25_hit *b)
{
	return a->score > b->score || (a->score == b->score && a->row < b->row);
}

static int
by_rank(const void *a, const void *b)
{
	return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

/*
 * The K best of the rows in ONLY (all when NULL) and KEEP that some list
 * holds, each scored over every list's full postings in list order, as
 * bm25.c adds them.
 */
static size_t
brute(const struct bm25_list *l, size_t nl, const char *only,
    const uint64_t *keep, size_t k, struct bm25_hit *out)
{
	struct bm25_hit all[ROWS];
	char in[ROWS] = { 0 };
	size_t n = 0;

	for (size_t r = 0; r < ROWS; r++)
		all[r] = (struct bm25_hit){ 0, (uint32_t)r };
	for (size_t i = 0; i < nl; i++)
		for (size_t j = 0; j < l[i].nall; j++) {
			all[l[i].all[j].row].score += l[i].idf *
			    l[i].all[j].impact;
			in[l[i].all[j].row] = 1;
		}
	for (size_t r = 0; r < ROWS; r++)
		if (in[r] && (only == NULL || only[r]) && VEC_IN(keep, r))
			all[n++] = all[r];
	qsort(all, n, sizeof(*all), by_rank);
	n = RP_MIN(n, k);
	memcpy(out, all, n * sizeof(*out));
	return n;
}

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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vindex_posting all[LISTS][ROWS], top[LISTS][ROWS];
	struct bm25_list l[LISTS];
	struct bm25_hit got[ROWS], want[ROWS];
	float imp[ROWS];
	uint64_t keep[ROWS / 64] = { 0 };
	char intop[ROWS] = { 0 };
	size_t nl = 1 + fuzz_byte(&data, &size) % LISTS;
	size_t k = 1 + fuzz_byte(&data, &size) % 40;
	size_t cap = fuzz_byte(&data, &size) % 33, n, nw;
	unsigned share = fuzz_byte(&data, &size) % 8;
	int exact, kept = share != 0;
	unsigned harm;
	long rc;

	for (size_t r = 0; r < ROWS; r++)
		if (kept && fuzz_byte(&data, &size) % share == 0)
			keep[r / 64] |= (uint64_t)1 << (r % 64);
	for (size_t i = 0; i < nl; i++) {
		size_t count = fuzz_byte(&data, &size) % 64, np = 0;

		memset(imp, 0, sizeof(imp));
		for (size_t j = 0; j < count; j++) {
			unsigned row = fuzz_byte(&data, &size);

			imp[row] = (float)(fuzz_byte(&data, &size) % 16 + 1) /
			    8;
		}
		for (size_t r = 0; r < ROWS; r++)
			if (imp[r] > 0)
				all[i][np++] = (struct vindex_posting){
				    (uint32_t)r, imp[r] };
		memcpy(top[i], all[i], np * sizeof(**all));
		l[i].all = all[i];
		l[i].nall = np;
		l[i].top = top[i];
		l[i].cutoff = 0;
		l[i].ntop = cap > 0 ? bm25_cap(top[i], np, cap, &l[i].cutoff) :
		    np;
		l[i].idf = (fuzz_byte(&data, &size) % 8 + 1) * 0.5;
		for (size_t j = 0; j < l[i].ntop; j++)
			intop[top[i][j].row] = 1;
	}
	harm = fuzz_byte(&data, &size) % 8;
	if (harm >= 1 && harm <= 4 && l[harm % nl].nall > 0) {
		struct bm25_list *d = &l[harm % nl];
		struct vindex_posting *p = harm <= 2 && d->ntop > 0 ?
		    (struct vindex_posting *)d->top : (struct vindex_posting *)
		    d->all;
		size_t np = p == d->top ? d->ntop : d->nall;
		size_t at = fuzz_byte(&data, &size) % np;

		if (harm % 2)
			p[at].row = ROWS + fuzz_byte(&data, &size) * 65793u;
		else if (np > 1)
			p[at].row = p[(at + 1) % np].row;
		else
			p[at].impact = harm == 2 ? NAN : -1;
	}
	rc = bm25_topk(l, nl, k, kept ? keep : NULL, ROWS, got, &exact);
	if (harm >= 1 && harm <= 4) {
		for (long i = 0; i < rc; i++)
			FUZZ_CHECK(got[i].row < ROWS);
		return 0;
	}
	FUZZ_CHECK(rc >= 0);
	n = (size_t)rc;
	FUZZ_CHECK(n <= k);
	if (kept || exact) {
		FUZZ_CHECK(exact);
		nw = brute(l, nl, NULL, kept ? keep : NULL, k, want);
	} else
		nw = brute(l, nl, intop, NULL, k, want);
	FUZZ_CHECK(same(got, n, want, nw));
	return 0;
}
