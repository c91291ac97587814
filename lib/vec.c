/* vec: SIMD dot products and threaded exact top-k. */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VEC_X86	1
#endif

#include "rp.h"
#include "vec.h"

/* Rows a thread must have before a second thread pays for itself. */
#define ROWS_PER_THREAD	4096
/*
 * Bytes each thread must scan when the caller leaves the number to us.
 * Starting a thread and waking a second CPU costs a short-lived process
 * more than it saves on a small scan: a whole rag-query over 100k int8
 * rows (38 MB) took 0.4-0.8 ms longer with two threads than with one on
 * the development VM, where two save ~2 ms over 100k float32 rows
 * (154 MB) (tests/bench/RESULTS.md).
 */
#define AUTO_THREAD_BYTES	((size_t)32 << 20)

typedef float	(*dot_fn)(const float *, const float *, size_t);

static float
dot_generic(const float *a, const float *b, size_t n)
{
	float s[8] = { 0 };
	size_t i = 0;

	/* Eight sums, so the compiler may keep them in one vector. */
	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			s[j] += a[i + j] * b[i + j];
	for (; i < n; i++)
		s[0] += a[i] * b[i];
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

#ifdef VEC_X86
__attribute__((target("avx2,fma"))) static float
dot_avx2(const float *a, const float *b, size_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	__m128 h;
	size_t i = 0;
	float r;

	for (; i + 16 <= n; i += 16) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i),
		    _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8),
		    _mm256_loadu_ps(b + i + 8), s1);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i),
		    _mm256_loadu_ps(b + i), s0);
	s0 = _mm256_add_ps(s0, s1);
	h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
	h = _mm_add_ps(h, _mm_movehl_ps(h, h));
	h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
	r = _mm_cvtss_f32(h);
	for (; i < n; i++)
		r += a[i] * b[i];
	return r;
}

__attribute__((target("avx512f"))) static float
dot_avx512(const float *a, const float *b, size_t n)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
	__mmask16 m;
	size_t i = 0;

	for (; i + 32 <= n; i += 32) {
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i),
		    _mm512_loadu_ps(b + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16),
		    _mm512_loadu_ps(b + i + 16), s1);
	}
	for (; i + 16 <= n; i += 16)
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i),
		    _mm512_loadu_ps(b + i), s0);
	if (i < n) {
		m = (__mmask16)((1u << (n - i)) - 1);
		s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i),
		    _mm512_maskz_loadu_ps(m, b + i), s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}
#endif

/*
 * The int8 dot product of a row's codes C with the question quantised
 * to int16, Q, over STRIDE values (a multiple of 64, zero past the
 * dimension).  The sum is exact: |C| <= 127 and |Q| <= the q16 limit
 * chosen by vec_topk_q8, so no partial sum leaves int32.
 */
typedef int32_t	(*dot_q8_fn)(const int8_t *c, const int16_t *q, size_t stride);

static int32_t
dot_q8_generic(const int8_t *c, const int16_t *q, size_t stride)
{
	int32_t s[4] = { 0 };

	for (size_t i = 0; i < stride; i += 4)
		for (int j = 0; j < 4; j++)
			s[j] += (int32_t)c[i + j] * q[i + j];
	return (s[0] + s[1]) + (s[2] + s[3]);
}

#ifdef VEC_X86
__attribute__((target("avx2"))) static int32_t
dot_q8_avx2(const int8_t *c, const int16_t *q, size_t stride)
{
	__m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
	__m128i h;

	for (size_t i = 0; i < stride; i += 32) {
		s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(
		    _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)
		    (c + i))), _mm256_loadu_si256((const __m256i *)(q + i))));
		s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(
		    _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)
		    (c + i + 16))), _mm256_loadu_si256((const __m256i *)
		    (q + i + 16))));
	}
	s0 = _mm256_add_epi32(s0, s1);
	h = _mm_add_epi32(_mm256_castsi256_si128(s0),
	    _mm256_extracti128_si256(s0, 1));
	h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
	h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
	return _mm_cvtsi128_si32(h);
}

/* VPDPWSSD: pairs of int16 products summed into int32, in one step. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static int32_t
dot_q8_vnni(const int8_t *c, const int16_t *q, size_t stride)
{
	__m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();

	for (size_t i = 0; i < stride; i += 64) {
		s0 = _mm512_dpwssd_epi32(s0, _mm512_cvtepi8_epi16(
		    _mm256_loadu_si256((const __m256i *)(c + i))),
		    _mm512_loadu_si512(q + i));
		s1 = _mm512_dpwssd_epi32(s1, _mm512_cvtepi8_epi16(
		    _mm256_loadu_si256((const __m256i *)(c + i + 32))),
		    _mm512_loadu_si512(q + i + 32));
	}
	return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

__attribute__((target("avx512f,avx512bw"))) static int32_t
dot_q8_avx512(const int8_t *c, const int16_t *q, size_t stride)
{
	__m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();

	for (size_t i = 0; i < stride; i += 64) {
		s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(
		    _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)
		    (c + i))), _mm512_loadu_si512(q + i)));
		s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(
		    _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)
		    (c + i + 32))), _mm512_loadu_si512(q + i + 32)));
	}
	return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}
#endif

static struct {
	pthread_once_t	 once;
	dot_fn		 dot;
	dot_q8_fn	 dot_q8;
	const char	*name;
} isa = { PTHREAD_ONCE_INIT, dot_generic, dot_q8_generic, "generic" };

#ifdef VEC_X86
/* The best int8 kernel of an x86 ISA with AVX-512 or AVX2. */
static dot_q8_fn
q8_kernel(int avx512)
{
	if (avx512 && __builtin_cpu_supports("avx512bw"))
		return __builtin_cpu_supports("avx512vnni") ? dot_q8_vnni :
		    dot_q8_avx512;
	return __builtin_cpu_supports("avx2") ? dot_q8_avx2 : dot_q8_generic;
}
#endif

static void
choose(void)
{
#ifdef VEC_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f")) {
		isa.dot = dot_avx512;
		isa.dot_q8 = q8_kernel(1);
		isa.name = "avx512";
	} else if (__builtin_cpu_supports("avx2") &&
	    __builtin_cpu_supports("fma")) {
		isa.dot = dot_avx2;
		isa.dot_q8 = q8_kernel(0);
		isa.name = "avx2";
	}
#endif
}

static dot_fn
dot(void)
{
	pthread_once(&isa.once, choose);
	return isa.dot;
}

static dot_q8_fn
dot_q8(void)
{
	pthread_once(&isa.once, choose);
	return isa.dot_q8;
}

const char *
vec_isa(void)
{
	dot();
	return isa.name;
}

int
vec_set_isa(const char *name)
{
	dot();
	if (strcmp(name, "generic") == 0) {
		isa.dot = dot_generic;
		isa.dot_q8 = dot_q8_generic;
		isa.name = "generic";
		return 0;
	}
#ifdef VEC_X86
	if (strcmp(name, "avx2") == 0 && __builtin_cpu_supports("avx2") &&
	    __builtin_cpu_supports("fma")) {
		isa.dot = dot_avx2;
		isa.dot_q8 = q8_kernel(0);
		isa.name = "avx2";
		return 0;
	}
	if (strcmp(name, "avx512") == 0 &&
	    __builtin_cpu_supports("avx512f")) {
		isa.dot = dot_avx512;
		isa.dot_q8 = q8_kernel(1);
		isa.name = "avx512";
		return 0;
	}
#endif
	return -1;
}

float
vec_dot(const float *a, const float *b, size_t dim)
{
	return dot()(a, b, dim);
}

void
vec_normalize(float *v, size_t dim)
{
	double s = 0;
	float inv;

	for (size_t i = 0; i < dim; i++)
		s += (double)v[i] * v[i];
	if (s <= 0)
		return;
	inv = (float)(1.0 / sqrt(s));
	for (size_t i = 0; i < dim; i++)
		v[i] *= inv;
}

/* A before B in the result: higher score, then lower row. */
static int
better(const struct vec_hit *a, const struct vec_hit *b)
{
	return a->score > b->score || (a->score == b->score && a->row < b->row);
}

/* Restore the min-heap (worst at the top) below slot I. */
static void
sift_down(struct vec_hit *h, size_t n, size_t i)
{
	struct vec_hit t;
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && better(&h[c], &h[c + 1]))
			c++;
		if (!better(&h[i], &h[c]))
			break;
		t = h[i], h[i] = h[c], h[c] = t;
		i = c;
	}
}

static void
sift_up(struct vec_hit *h, size_t i)
{
	struct vec_hit t;

	while (i > 0 && better(&h[(i - 1) / 2], &h[i])) {
		t = h[i], h[i] = h[(i - 1) / 2], h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

/* Offer HIT to the heap H of N (at most K) entries. */
static void
offer(struct vec_hit *h, size_t *n, size_t k, struct vec_hit hit)
{
	if (*n < k) {
		h[*n] = hit;
		sift_up(h, (*n)++);
	} else if (better(&hit, &h[0])) {
		h[0] = hit;
		sift_down(h, k, 0);
	}
}

/* What a scan compares rows with. */
struct query {
	const float	*q;		/* float scan: the question */
	dot_fn		 dot;
	const int16_t	*q16;		/* int8 scan: the question in int16 */
	float		 qscale;	/* its scale */
	float		 err;		/* a row's error bound / its scale */
	const float	*scales;
	dot_q8_fn	 dot_q8;
	const uint64_t	*keep;		/* the rows to score; NULL: all */
};

/* A row an int8 scan keeps: it may be among the best. */
struct cand {
	uint32_t	 row;
	float		 upper;		/* its score is at most this */
};

struct scan {
	const void	*rows;		/* float rows or int8 codes */
	size_t		 from, to, dim, stride, k, n;
	const struct query *q;
	struct vec_hit	*heap;		/* int8: lower bounds */
	struct cand	*cand;		/* int8: rows that may be best */
	size_t		 ncand, capcand;
};

static void *
scan(void *arg)
{
	struct scan *s = arg;
	const struct query *q = s->q;
	struct vec_hit hit;
	float worst = -INFINITY;
	const float *r = (const float *)s->rows + s->from * s->dim;

	for (size_t i = s->from; i < s->to; i++, r += s->dim) {
		if (!VEC_IN(q->keep, i))
			continue;
		hit.score = q->dot(r, q->q, s->dim);
		/* Most rows lose to the worst kept: one compare, no heap. */
		if (s->n == s->k && hit.score < worst)
			continue;
		hit.row = (uint32_t)i;
		offer(s->heap, &s->n, s->k, hit);
		if (s->n == s->k)
			worst = s->heap[0].score;
	}
	return NULL;
}

/*
 * The int8 scan: each row's score lies within s * err of its int8
 * estimate a (s the row's scale).  The heap keeps the K best lower
 * bounds a - s * err; the K-th of them is a score the best K reach for
 * sure, so a row whose upper bound a + s * err falls below it cannot be
 * among them.  The others are kept as candidates for re-scoring.
 */
static void *
scan_q8(void *arg)
{
	struct scan *s = arg;
	const struct query *q = s->q;
	struct vec_hit lo;
	float bar = -INFINITY, a, e;
	const int8_t *c = (const int8_t *)s->rows + s->from * s->stride;

	for (size_t i = s->from; i < s->to; i++, c += s->stride) {
		if (!VEC_IN(q->keep, i))
			continue;
		a = q->scales[i] * q->qscale * (float)q->dot_q8(c, q->q16,
		    s->stride);
		e = q->scales[i] * q->err;
		if (a + e < bar)
			continue;
		if (s->ncand == s->capcand) {
			s->capcand = s->capcand ? 2 * s->capcand : 256;
			s->cand = xreallocarray(s->cand, s->capcand,
			    sizeof(*s->cand));
		}
		s->cand[s->ncand++] = (struct cand){ (uint32_t)i, a + e };
		lo.score = a - e;
		lo.row = (uint32_t)i;
		offer(s->heap, &s->n, s->k, lo);
		if (s->n == s->k)
			bar = s->heap[0].score;
	}
	return NULL;
}

static int
cmp_hits(const void *a, const void *b)
{
	const struct vec_hit *x = a, *y = b;

	return better(x, y) ? -1 : better(y, x) ? 1 : 0;
}

unsigned
vec_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > VEC_MAX_THREADS ? VEC_MAX_THREADS : (unsigned)n;
}

/* Run FN over N rows split across THREADS threads, each with a heap of K. */
static void
run(void *(*fn)(void *), struct scan *s, const void *rows, size_t n,
    size_t dim, size_t stride, const struct query *q, size_t k,
    unsigned threads, struct vec_hit *heaps)
{
	pthread_t tid[VEC_MAX_THREADS];
	int started[VEC_MAX_THREADS] = { 0 };
	unsigned t;

	for (t = 0; t < threads; t++) {
		s[t] = (struct scan){ .rows = rows, .from = n * t / threads,
		    .to = n * (t + 1) / threads, .dim = dim, .stride = stride,
		    .k = k, .q = q, .heap = heaps + t * k };
		if (t > 0)
			started[t] = pthread_create(&tid[t], NULL, fn,
			    &s[t]) == 0;
	}
	fn(&s[0]);
	for (t = 1; t < threads; t++) {
		if (started[t])
			pthread_join(tid[t], NULL);
		else
			fn(&s[t]);	/* no thread: do its share here */
	}
}

/*
 * Gather the heaps of the THREADS scans S, which run() placed in ALL K
 * apart, to the front of ALL, best first; returns how many.
 */
static size_t
gather(const struct scan *s, unsigned threads, struct vec_hit *all)
{
	size_t m = 0;

	for (unsigned t = 0; t < threads; t++) {
		memmove(all + m, s[t].heap, s[t].n * sizeof(*all));
		m += s[t].n;
	}
	rp_sort(all, m, sizeof(*all), cmp_hits);
	return m;
}

unsigned
vec_auto_threads(size_t n, size_t row_bytes)
{
	return (unsigned)RP_MIN((size_t)vec_threads(),
	    RP_MAX(n * row_bytes / AUTO_THREAD_BYTES, (size_t)1));
}

/*
 * The number of threads for N rows of ROW_BYTES: THREADS, with MIN_ROWS
 * at least each, or for 0 the automatic split.
 */
static unsigned
nthreads(unsigned threads, size_t n, size_t min_rows, size_t row_bytes)
{
	if (threads == 0)
		return vec_auto_threads(n, row_bytes);
	return (unsigned)RP_MIN((size_t)RP_MIN(threads, VEC_MAX_THREADS),
	    RP_MAX(n / min_rows, (size_t)1));
}

size_t
vec_topk(const float *rows, size_t n, size_t dim, const float *q, size_t k,
    const uint64_t *keep, unsigned threads, struct vec_hit *out)
{
	struct query qy = { .q = q, .dot = dot(), .keep = keep };
	struct scan s[VEC_MAX_THREADS];
	struct vec_hit *all;
	size_t m, got;

	if (k == 0 || n == 0)
		return 0;
	k = RP_MIN(k, n);
	threads = nthreads(threads, n, ROWS_PER_THREAD, dim * sizeof(float));
	all = xreallocarray(NULL, (size_t)threads, k * sizeof(*all));
	run(scan, s, rows, n, dim, dim, &qy, k, threads, all);
	/* The best K of every thread's are the answer. */
	m = gather(s, threads, all);
	got = RP_MIN(k, m);
	memcpy(out, all, got * sizeof(*out));
	free(all);
	return got;
}

float
vec_quantize(const float *v, size_t dim, int8_t *code, size_t stride)
{
	float max = 0, inv;

	memset(code, 0, stride);
	for (size_t i = 0; i < dim; i++) {
		if (!isfinite(v[i]))
			return 0;
		max = RP_MAX(max, fabsf(v[i]));
	}
	if (max == 0)
		return 0;
	inv = 127.0f / max;
	/*
	 * Round to nearest, ties to even, as lrintf in the default mode,
	 * without a call a value: adding and taking away 1.5 * 2^23 leaves
	 * no bits below the point for any |x| < 2^22.  Not where the
	 * arithmetic is wider than float, nor where -ffast-math lets the
	 * compiler cancel the two.
	 */
	for (size_t i = 0; i < dim; i++) {
		float x = v[i] * inv;

		x = RP_MAX(-127.0f, RP_MIN(127.0f, x));
#if FLT_EVAL_METHOD == 0 && !defined(__FAST_MATH__)
		code[i] = (int8_t)((x + 12582912.0f) - 12582912.0f);
#else
		code[i] = (int8_t)lrintf(x);
#endif
	}
	return max / 127.0f;
}

/*
 * Quantise question Q (DIM floats) for the int8 scan into Q16 (STRIDE
 * values, zero past DIM): the largest magnitude maps to the largest
 * int16 for which 127 * limit * STRIDE stays within int32, so that the
 * integer sums are exact.  Fills the scale and the error bound of QY.
 *
 * The bound: with r = s c + d (|d_i| <= s / 2, c the codes) and
 * q = t p + f (|f_i| <= t / 2, p = Q16), r.q = s t (c.p) + s (c.f) +
 * d.q, and |s (c.f)| <= s (t / 2) 127 DIM, |d.q| <= (s / 2) |q|_1.  So
 * r.q lies within s * err of s t (c.p), err = t 127 DIM / 2 + |q|_1 / 2,
 * widened for the rounding of float arithmetic, in our estimate and in
 * the float dot products the rows are ranked by in the end.
 */
static int
quantize_query(const float *q, size_t dim, size_t stride, int16_t *q16,
    struct query *qy)
{
	double lim = RP_MIN(32767.0, floor(2147483647.0 / (127.0 *
	    (double)stride))), max = 0, l1 = 0, t;

	for (size_t i = 0; i < dim; i++) {
		if (!isfinite(q[i]))
			return -1;
		max = RP_MAX(max, fabs((double)q[i]));
		l1 += fabs((double)q[i]);
	}
	memset(q16, 0, stride * sizeof(*q16));
	t = max > 0 ? max / lim : 1;
	for (size_t i = 0; i < dim; i++)
		q16[i] = (int16_t)RP_MAX(-lim, RP_MIN(lim, nearbyint(q[i] / t)));
	qy->qscale = (float)t;
	qy->err = (float)((t * 127.0 * (double)dim / 2 + l1 / 2) *
	    (1 + 1e-4) + 4 * (double)dim * 127.0 * l1 * FLT_EPSILON);
	return 0;
}

size_t
vec_topk_q8(const float *rows, vec_row_fn row, void *arg,
    const int8_t *codes, const float *scales, size_t n, size_t dim,
    const float *q, size_t k, const uint64_t *keep, unsigned threads,
    struct vec_hit *out)
{
	size_t stride = VEC_Q8_STRIDE(dim), m, nc = 0, got;
	struct query qy = { .dot_q8 = dot_q8(), .scales = scales,
	    .keep = keep };
	struct scan s[VEC_MAX_THREADS];
	struct vec_hit *lows, *hits;
	struct cand *cand;
	int16_t *q16;
	float bar;
	unsigned t;

	if (k == 0 || n == 0)
		return 0;
	k = RP_MIN(k, n);
	q16 = xreallocarray(NULL, stride, sizeof(*q16));
	if (quantize_query(q, dim, stride, q16, &qy) != 0) {
		free(q16);	/* NaN: no bound holds; the float scan */
		return vec_topk(rows, n, dim, q, k, keep, threads, out);
	}
	qy.q16 = q16;
	/* A quarter of the bytes a row: four times the rows a thread. */
	threads = nthreads(threads, n, 4 * ROWS_PER_THREAD, stride);
	lows = xreallocarray(NULL, (size_t)threads, k * sizeof(*lows));
	run(scan_q8, s, codes, n, dim, stride, &qy, k, threads, lows);
	/* The K-th best lower bound of all: the bar every answer clears. */
	m = gather(s, threads, lows);
	bar = m > 0 ? lows[RP_MIN(k, m) - 1].score : 0;	/* m = 0: no rows */
	for (t = 0; t < threads; t++)
		for (size_t i = 0; i < s[t].ncand; i++)
			nc += s[t].cand[i].upper >= bar;
	/* Score the rows that clear it again, exactly, with their floats. */
	hits = xreallocarray(NULL, RP_MAX(nc, (size_t)1), sizeof(*hits));
	nc = 0;
	for (t = 0; t < threads; t++) {
		cand = s[t].cand;
		for (size_t i = 0; i < s[t].ncand; i++) {
			if (cand[i].upper < bar)
				continue;
			hits[nc].row = cand[i].row;
			hits[nc++].score = vec_dot(row != NULL ? row(arg,
			    cand[i].row) : rows + (size_t)cand[i].row * dim, q,
			    dim);
		}
		free(cand);
	}
	rp_sort(hits, nc, sizeof(*hits), cmp_hits);
	got = RP_MIN(k, nc);
	memcpy(out, hits, got * sizeof(*out));
	free(hits);
	free(lows);
	free(q16);
	return got;
}
