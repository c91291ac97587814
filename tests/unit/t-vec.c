/* t-vec: dot products on every instruction set, exact and int8 top-k. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "vec.h"
#include "tap.h"

static uint64_t seed = 42;

static float
rnd(void)
{
	seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)((seed >> 40) & 0xffffff) / (float)0x1000000 - 0.5f;
}

static int
by_score(const void *a, const void *b)
{
	const struct vec_hit *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

/* Top-k the slow way: score everything, sort. */
static void
brute(const float *rows, size_t n, size_t dim, const float *q, size_t k,
    struct vec_hit *out)
{
	struct vec_hit *all = xcalloc(n, sizeof(*all));

	for (size_t i = 0; i < n; i++) {
		all[i].row = (uint32_t)i;
		all[i].score = vec_dot(rows + i * dim, q, dim);
	}
	qsort(all, n, sizeof(*all), by_score);
	memcpy(out, all, k * sizeof(*out));
	free(all);
}

/* N random unit rows of DIM floats (with some zero rows if ZEROS). */
static float *
unit_rows(size_t n, size_t dim, int zeros)
{
	float *r = xcalloc(n * dim, sizeof(float));

	for (size_t i = 0; i < n; i++) {
		if (zeros && i % 97 == 5)
			continue;
		for (size_t j = 0; j < dim; j++)
			r[i * dim + j] = rnd();
		vec_normalize(r + i * dim, dim);
	}
	return r;
}

/* The quantiser: codes in range, error within half a step, padding 0. */
static void
test_quantize(void)
{
	float v[70], z[70] = { 0 }, s, maxerr = 0;
	int8_t c[128];
	int inrange = 1, padded = 1, top = 0;

	for (size_t i = 0; i < 70; i++)
		v[i] = rnd();
	v[13] = -0.75f;		/* the largest magnitude */
	memset(c, 0x55, sizeof(c));
	s = vec_quantize(v, 70, c, VEC_Q8_STRIDE(70));
	is_int(VEC_Q8_STRIDE(70), 128, "a row of 70 codes takes 128 bytes");
	ok(fabsf(s - 0.75f / 127) < 1e-9f, "the scale is max / 127");
	for (size_t i = 0; i < 70; i++) {
		inrange &= c[i] != -128;
		maxerr = fmaxf(maxerr, fabsf(c[i] * s - v[i]));
		top |= c[i] == -127;
	}
	for (size_t i = 70; i < 128; i++)
		padded &= c[i] == 0;
	ok(inrange && top, "codes in [-127, 127], the largest at -127");
	ok(maxerr <= s / 2 * 1.0001f, "error within half a step (%g, step %g)",
	    (double)maxerr, (double)s);
	ok(padded, "codes past the dimension are zero");
	memset(c, 0x55, sizeof(c));
	ok(vec_quantize(z, 70, c, 128) == 0 && c[0] == 0 && c[69] == 0,
	    "a zero vector has scale 0 and zero codes");
	v[3] = NAN;
	ok(vec_quantize(v, 70, c, 128) == 0 && c[13] == 0,
	    "a vector with NaN quantises to zero");
	{
		/* A scale of 1: halves round to even, as lrintf does. */
		static const float h[] = { 127, 0.5f, 1.5f, 2.5f, -0.5f,
		    -2.5f, 126.5f, -126.5f, 3.4999998f };
		int8_t hc[64];
		int same = 1;

		ok(vec_quantize(h, 9, hc, 64) == 1.0f, "scale 1 for a "
		    "largest of 127");
		for (size_t i = 0; i < 9; i++)
			same &= hc[i] == (int8_t)lrintf(h[i]);
		ok(same, "halves round to even: 0.5 -> %d, 1.5 -> %d, "
		    "2.5 -> %d, -2.5 -> %d", hc[1], hc[2], hc[3], hc[5]);
	}
}

/* The int8 rows of ROWS: codes and scales in new arrays. */
static void
quantize_all(const float *rows, size_t n, size_t dim, int8_t **codes,
    float **scales)
{
	size_t stride = VEC_Q8_STRIDE(dim);

	*codes = xmalloc(n * stride);
	*scales = xcalloc(n, sizeof(float));
	for (size_t i = 0; i < n; i++)
		(*scales)[i] = vec_quantize(rows + i * dim, dim,
		    *codes + i * stride, stride);
}

/* The same rows, and the same scores if SCORES. */
static int
same_hits(const struct vec_hit *a, const struct vec_hit *b, size_t n,
    int scores)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].row != b[i].row || (scores && a[i].score != b[i].score))
			return 0;
	return 1;
}

/* A row function over a copy of the rows that counts its calls. */
struct fetch {
	const float	*copy;
	size_t		 dim, calls;
	const uint64_t	*keep;		/* rows it may be asked for */
	int		 outside;	/* asked for another */
};

static const float *
fetch_row(void *arg, size_t i)
{
	struct fetch *f = arg;

	f->calls++;
	f->outside |= !VEC_IN(f->keep, i);
	return f->copy + i * f->dim;
}

/* Top-k the slow way over the rows of KEEP; returns how many. */
static size_t
brute_kept(const float *rows, size_t n, size_t dim, const float *q,
    const uint64_t *keep, size_t k, struct vec_hit *out)
{
	struct vec_hit *all = xcalloc(n, sizeof(*all));
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (VEC_IN(keep, i))
			all[m++] = (struct vec_hit){ vec_dot(rows + i * dim, q,
			    dim), (uint32_t)i };
	qsort(all, m, sizeof(*all), by_score);
	m = RP_MIN(m, k);
	memcpy(out, all, m * sizeof(*out));
	free(all);
	return m;
}

/*
 * A search kept to a set of rows: exactly the best of those rows, float
 * and int8 alike, on every ISA and one or two threads (enough rows for
 * two), reading no other row's floats; fewer hits than K when the set
 * is smaller.
 */
static void
test_keep(const char *const *isas, size_t nisas)
{
	const size_t n = 40000, dim = 100, words = (n + 63) / 64;
	struct vec_hit a[200], b[200], c[200];
	uint64_t *keep = xcalloc(words, sizeof(*keep));
	struct fetch f = { NULL, dim, 0, NULL, 0 };
	float *rows = unit_rows(n, dim, 0), *scales, *q;
	size_t got, got2, want, sizes[3] = { 0, 3, 700 };
	int8_t *codes;
	int same;

	quantize_all(rows, n, dim, &codes, &scales);
	f.copy = rows;
	for (size_t s = 0; s < 3; s++) {
		/* SIZES[s] rows, spread out, the last one among them. */
		memset(keep, 0, words * sizeof(*keep));
		for (size_t i = 0; i < sizes[s]; i++) {
			size_t r = n - 1 - i * (n / (sizes[s] + 1));

			keep[r / 64] |= (uint64_t)1 << (r % 64);
		}
		f.keep = keep;
		for (size_t i = 0; i < nisas; i++) {
			if (vec_set_isa(isas[i]) != 0)
				continue;
			same = 1;
			for (unsigned t = 1; t <= 2; t++)
				for (size_t j = 0; j < 4; j++) {
					q = unit_rows(1, dim, 0);
					want = brute_kept(rows, n, dim, q, keep,
					    200, c);
					got = vec_topk(rows, n, dim, q, 200,
					    keep, t, a);
					f.outside = 0;
					got2 = vec_topk_q8(rows, fetch_row, &f,
					    codes, scales, n, dim, q, 200, keep,
					    t, b);
					same &= want == RP_MIN(sizes[s],
					    (size_t)200) && got == want &&
					    got2 == want && same_hits(a, c,
					    want, 1) && same_hits(b, c, want,
					    1) && !f.outside;
					free(q);
				}
			ok(same, "%s: kept to %zu of %zu rows, float and int8 "
			    "give their best exactly, on 1 and 2 threads",
			    isas[i], sizes[s], n);
		}
	}
	vec_set_isa("generic");
	free(keep);
	free(rows);
	free(codes);
	free(scales);
}

/*
 * int8 search is exact: the same rows, scores and order as the float
 * scan, on every ISA and thread count, for dimensions that are not
 * multiples of the SIMD width, zero rows, near ties, and edges.
 */
static void
test_q8(const char *const *isas, size_t nisas)
{
	static const size_t dims[] = { 1, 3, 15, 16, 17, 63, 64, 65, 100, 385 };
	struct vec_hit a[100], b[100], *all, *all2;
	size_t n = 3000, got, got2;
	float *rows, *scales, *q;
	int8_t *codes;
	int same, first, zeros, nan;

	for (size_t d = 0; d < RP_NELEM(dims); d++) {
		rows = unit_rows(n, dims[d], 1);
		q = unit_rows(1, dims[d], 0);
		quantize_all(rows, n, dims[d], &codes, &scales);
		same = 1;
		for (size_t i = 0; i < nisas; i++) {
			if (vec_set_isa(isas[i]) != 0)
				continue;
			for (unsigned t = 1; t <= 3; t++) {
				got = vec_topk(rows, n, dims[d], q, 40, NULL, t,
				    a);
				got2 = vec_topk_q8(rows, NULL, NULL, codes,
				    scales, n, dims[d], q, 40, NULL, t, b);
				same &= got == 40 && got2 == 40 &&
				    same_hits(a, b, 40, 1);
			}
		}
		ok(same, "dim %zu: int8 search is the float search on every "
		    "ISA and thread count", dims[d]);
		free(rows);
		free(q);
		free(codes);
		free(scales);
	}

	/* Real-looking questions: near a row, or not. */
	n = 10000;
	rows = unit_rows(n, 384, 0);
	quantize_all(rows, n, 384, &codes, &scales);
	for (size_t i = 0; i < nisas; i++) {
		if (vec_set_isa(isas[i]) != 0)
			continue;
		same = 1;
		for (size_t j = 0; j < 40; j++) {
			q = unit_rows(1, 384, 0);
			for (size_t x = 0; j % 2 == 0 && x < 384; x++)
				q[x] += 2 * rows[(j * 379) % n * 384 + x];
			vec_normalize(q, 384);
			for (size_t k = 10; k <= 100; k += 90) {
				got = vec_topk(rows, n, 384, q, k, NULL, 0, a);
				got2 = vec_topk_q8(rows, NULL, NULL, codes,
				    scales, n, 384, q, k, NULL, 0, b);
				same &= got == k && got2 == k &&
				    same_hits(a, b, k, 1);
			}
			free(q);
		}
		ok(same, "%s: int8 top-10 and top-100 of 10,000 rows are the "
		    "float ones for 40 questions", isas[i]);
	}

	/* The float rows through a row function: only the few re-scored. */
	{
		struct fetch f = { xreallocarray(NULL, n, 384 *
		    sizeof(float)), 384, 0, NULL, 0 };

		vec_set_isa("generic");
		memcpy((float *)f.copy, rows, n * 384 * sizeof(float));
		q = unit_rows(1, 384, 0);
		got = vec_topk(rows, n, 384, q, 10, NULL, 0, a);
		got2 = vec_topk_q8(rows, fetch_row, &f, codes, scales, n, 384,
		    q, 10, NULL, 0, b);
		ok(got == 10 && got2 == 10 && same_hits(a, b, 10, 1) &&
		    f.calls >= 10 && f.calls < n / 10, "int8 with a row "
		    "function: the same hits, %zu of %zu rows read", f.calls,
		    n);
		free(q);
		free((float *)f.copy);
	}

	/* Edges: k > n, no rows, a zero question, a NaN in it. */
	vec_set_isa("generic");
	got = vec_topk_q8(rows, NULL, NULL, codes, scales, 5, 384, rows, 10,
	    NULL, 0, b);
	ok(got == 5 && b[0].row == 0, "int8: k larger than n gives n");
	is_int(vec_topk_q8(rows, NULL, NULL, codes, scales, 0, 384, rows, 10,
	    NULL, 0, b), 0, "int8: no rows");
	free(rows);
	free(codes);
	free(scales);
	rows = unit_rows(500, 33, 1);	/* rows 5, 102, ... are zero */
	quantize_all(rows, 500, 33, &codes, &scales);
	q = xcalloc(33, sizeof(float));
	all = xcalloc(500, sizeof(*all));
	all2 = xcalloc(500, sizeof(*all2));
	got = vec_topk_q8(rows, NULL, NULL, codes, scales, 500, 33, q, 3, NULL,
	    0, b);
	first = got == 3 && b[0].row == 0 && b[1].row == 1 && b[2].row == 2 &&
	    b[0].score == 0;
	ok(first, "int8: a zero question scores every row 0, lowest rows first");
	for (size_t i = 0; i < 33; i++)
		q[i] = -rows[7 * 33 + i];
	got = vec_topk_q8(rows, NULL, NULL, codes, scales, 500, 33, q, 500,
	    NULL, 0, all);
	got2 = vec_topk(rows, 500, 33, q, 500, NULL, 0, all2);
	ok(got == 500 && got2 == 500 && same_hits(all, all2, 500, 1) &&
	    all[499].row == 7, "int8: every row, the opposite one last");
	zeros = 1;
	for (size_t i = 0; i < 500; i++)
		if (all[i].row % 97 == 5)
			zeros &= all[i].score == 0;
	ok(zeros, "int8: zero rows score 0");
	q[4] = NAN;
	got = vec_topk_q8(rows, NULL, NULL, codes, scales, 500, 33, q, 5, NULL,
	    0, b);
	got2 = vec_topk(rows, 500, 33, q, 5, NULL, 0, a);
	nan = got == got2;
	ok(nan, "int8: a question with NaN falls back to the float scan");
	free(rows);
	free(codes);
	free(scales);

	/* Near ties: rows that differ in their last bits. */
	rows = xcalloc(2000 * 64, sizeof(float));
	for (size_t i = 0; i < 2000; i++) {
		for (size_t j = 0; j < 64; j++)
			rows[i * 64 + j] = (float)((j * 7) % 13) + (i % 3 ?
			    0 : 1e-6f * (float)(i % 17));
		vec_normalize(rows + i * 64, 64);
	}
	quantize_all(rows, 2000, 64, &codes, &scales);
	for (size_t j = 0; j < 64; j++)
		q[j % 33] = 0;
	free(q);
	q = xcalloc(64, sizeof(float));
	memcpy(q, rows + 64, 64 * sizeof(float));
	same = 1;
	for (size_t i = 0; i < nisas; i++) {
		if (vec_set_isa(isas[i]) != 0)
			continue;
		got = vec_topk(rows, 2000, 64, q, 50, NULL, 2, all);
		got2 = vec_topk_q8(rows, NULL, NULL, codes, scales, 2000, 64, q,
		    50, NULL, 2, all2);
		same &= got == 50 && got2 == 50 && same_hits(all, all2, 50, 1);
	}
	ok(same, "int8: near ties come back as the float scan orders them");
	free(all);
	free(all2);
	free(q);
	free(rows);
	free(codes);
	free(scales);
}

int
main(void)
{
	static const char *isas[] = { "generic", "avx2", "avx512" };
	static const size_t dims[] = { 1, 3, 8, 15, 16, 17, 31, 33, 384, 385 };
	size_t n = 20000, dim = 384, k = 10, got;
	struct vec_hit a[50], b[50];
	float *rows, *q, v[5] = { 3, 4, 0, 0, 0 }, z[3] = { 0 };
	double want;
	int same;

	vec_normalize(v, 5);
	ok(fabsf(v[0] - 0.6f) < 1e-6f && fabsf(v[1] - 0.8f) < 1e-6f,
	    "normalize to unit length");
	vec_normalize(z, 3);
	ok(z[0] == 0 && z[1] == 0 && z[2] == 0, "a zero vector stays zero");

	rows = xcalloc(n * 400, sizeof(float));
	q = xcalloc(400, sizeof(float));
	for (size_t i = 0; i < n * 400; i++)
		rows[i] = rnd();
	for (size_t i = 0; i < 400; i++)
		q[i] = rnd();
	for (size_t i = 0; i < RP_NELEM(isas); i++) {
		if (vec_set_isa(isas[i]) != 0) {
			ok(1, "# skip %s: not on this CPU", isas[i]);
			continue;
		}
		same = 1;
		for (size_t d = 0; d < RP_NELEM(dims); d++) {
			want = 0;
			for (size_t j = 0; j < dims[d]; j++)
				want += (double)rows[j] * q[j];
			if (fabs(vec_dot(rows, q, dims[d]) - want) > 1e-4)
				same = 0;
		}
		ok(same, "%s dot product matches double sums for odd sizes",
		    vec_isa());
	}
	vec_set_isa("generic");
	brute(rows, n, dim, q, k, b);
	vec_set_isa(vec_isa());
	for (size_t i = 0; i < RP_NELEM(isas); i++) {
		if (vec_set_isa(isas[i]) != 0)
			continue;
		for (unsigned t = 1; t <= 3; t++) {
			got = vec_topk(rows, n, dim, q, k, NULL, t, a);
			same = got == k;
			for (size_t j = 0; same && j < k; j++)
				same = a[j].row == b[j].row &&
				    fabsf(a[j].score - b[j].score) < 1e-4f;
			ok(same, "%s top-%zu with %u threads equals brute force",
			    isas[i], k, t);
		}
	}
	is_int(vec_topk(rows, 3, dim, q, 10, NULL, 0, a), 3, "k larger than n");
	ok(a[0].score >= a[1].score && a[1].score >= a[2].score, "sorted");
	is_int(vec_topk(rows, 0, dim, q, 10, NULL, 0, a), 0, "no rows");
	/* Ties: equal rows come back lowest row first. */
	for (size_t i = 0; i < 4; i++)
		memcpy(rows + i * dim, rows + 7 * dim, dim * sizeof(float));
	got = vec_topk(rows, 8, dim, rows, 3, NULL, 2, a);
	ok(got == 3 && a[0].row == 0 && a[1].row == 1 && a[2].row == 2,
	    "ties go to the lower row");
	free(rows);
	free(q);
	test_quantize();
	test_q8(isas, RP_NELEM(isas));
	test_keep(isas, RP_NELEM(isas));
	return tap_done();
}
