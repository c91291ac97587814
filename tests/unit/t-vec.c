/* t-vec: dot products on every instruction set, exact top-k. */
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
			got = vec_topk(rows, n, dim, q, k, t, a);
			same = got == k;
			for (size_t j = 0; same && j < k; j++)
				same = a[j].row == b[j].row &&
				    fabsf(a[j].score - b[j].score) < 1e-4f;
			ok(same, "%s top-%zu with %u threads equals brute force",
			    isas[i], k, t);
		}
	}
	is_int(vec_topk(rows, 3, dim, q, 10, 0, a), 3, "k larger than n");
	ok(a[0].score >= a[1].score && a[1].score >= a[2].score, "sorted");
	is_int(vec_topk(rows, 0, dim, q, 10, 0, a), 0, "no rows");
	/* Ties: equal rows come back lowest row first. */
	for (size_t i = 0; i < 4; i++)
		memcpy(rows + i * dim, rows + 7 * dim, dim * sizeof(float));
	got = vec_topk(rows, 8, dim, rows, 3, 2, a);
	ok(got == 3 && a[0].row == 0 && a[1].row == 1 && a[2].row == 2,
	    "ties go to the lower row");
	free(rows);
	free(q);
	return tap_done();
}
