/* vec: SIMD dot products and threaded exact top-k. */
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
 * int8 dot products of a row's codes C with the question's codes Q over
 * STRIDE bytes (a multiple of 64, zero past the dimension).  Q16 is Q
 * widened to int16 (for AVX2), QSUM the sum of Q (for VNNI).
 */
typedef int32_t	(*dot_q8_fn)(const int8_t *c, const int8_t *q,
		    const int16_t *q16, int32_t qsum, size_t stride);

static int32_t
dot_q8_generic(const int8_t *c, const int8_t *q, const int16_t *q16,
    int32_t qsum, size_t stride)
{
	int32_t s[4] = { 0 };

	(void)q16;
	(void)qsum;
	for (size_t i = 0; i < stride; i += 4)
		for (int j = 0; j < 4; j++)
			s[j] += (int32_t)c[i + j] * q[i + j];
	return (s[0] + s[1]) + (s[2] + s[3]);
}

#ifdef VEC_X86
__attribute__((target("avx2"))) static int32_t
dot_q8_avx2(const int8_t *c, const int8_t *q, const int16_t *q16,
    int32_t qsum, size_t stride)
{
	__m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
	__m128i h;

	(void)q;
	(void)qsum;
	for (size_t i = 0; i < stride; i += 32) {
		s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(
		    _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)
		    (c + i))), _mm256_loadu_si256((const __m256i *)(q16 + i))));
		s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(
		    _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)
		    (c + i + 16))), _mm256_loadu_si256((const __m256i *)
		    (q16 + i + 16))));
	}
	s0 = _mm256_add_epi32(s0, s1);
	h = _mm_add_epi32(_mm256_castsi256_si128(s0),
	    _mm256_extracti128_si256(s0, 1));
	h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
	h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
	return _mm_cvtsi128_si32(h);
}

/*
 * VPDPBUSD multiplies unsigned bytes by signed ones: the codes, moved
 * to [1, 255] by flipping their top bit (c + 128), times the question's
 * signed codes; the sum is then too large by 128 * QSUM.
 */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static int32_t
dot_q8_vnni(const int8_t *c, const int8_t *q, const int16_t *q16,
    int32_t qsum, size_t stride)
{
	const __m512i flip = _mm512_set1_epi8((char)0x80);
	__m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
	size_t i = 0;

	(void)q16;
	for (; i + 128 <= stride; i += 128) {
		s0 = _mm512_dpbusd_epi32(s0, _mm512_xor_si512(
		    _mm512_loadu_si512(c + i), flip), _mm512_loadu_si512(q + i));
		s1 = _mm512_dpbusd_epi32(s1, _mm512_xor_si512(
		    _mm512_loadu_si512(c + i + 64), flip),
		    _mm512_loadu_si512(q + i + 64));
	}
	if (i < stride)
		s0 = _mm512_dpbusd_epi32(s0, _mm512_xor_si512(
		    _mm512_loadu_si512(c + i), flip), _mm512_loadu_si512(q + i));
	return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1)) - 128 * qsum;
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
	if (avx512 && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vnni"))
		return dot_q8_vnni;
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

/* What a scan compares rows with: the question, float or quantised. */
struct query {
	const float	*q;		/* float scan */
	dot_fn		 dot;
	const int8_t	*q8;		/* int8 scan */
	const int16_t	*q16;
	int32_t		 qsum;
	float		 qscale;
	const float	*scales;
	dot_q8_fn	 dot_q8;
};

struct scan {
	const void	*rows;		/* float rows or int8 codes */
	size_t		 from, to, dim, stride, k, n;
	const struct query *q;
	struct vec_hit	*heap;
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

static void *
scan_q8(void *arg)
{
	struct scan *s = arg;
	const struct query *q = s->q;
	struct vec_hit hit;
	float worst = -INFINITY;
	const int8_t *c = (const int8_t *)s->rows + s->from * s->stride;

	for (size_t i = s->from; i < s->to; i++, c += s->stride) {
		hit.score = q->scales[i] * q->qscale * (float)q->dot_q8(c,
		    q->q8, q->q16, q->qsum, s->stride);
		if (s->n == s->k && hit.score < worst)
			continue;
		hit.row = (uint32_t)i;
		offer(s->heap, &s->n, s->k, hit);
		if (s->n == s->k)
			worst = s->heap[0].score;
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

/*
 * Run FN over N rows split across THREADS threads (at most one a
 * MIN_ROWS rows), each with a heap of K; the best K of all into OUT,
 * best first.  Returns min(K, N).
 */
static size_t
run(void *(*fn)(void *), const void *rows, size_t n, size_t dim,
    size_t stride, const struct query *q, size_t k, unsigned threads,
    size_t min_rows, struct vec_hit *out)
{
	struct scan s[VEC_MAX_THREADS];
	pthread_t tid[VEC_MAX_THREADS];
	int started[VEC_MAX_THREADS] = { 0 };
	struct vec_hit *all;
	size_t m = 0, got;
	unsigned t;

	if (k == 0 || n == 0)
		return 0;
	k = RP_MIN(k, n);
	if (threads == 0)
		threads = vec_threads();
	threads = (unsigned)RP_MIN((size_t)RP_MIN(threads, VEC_MAX_THREADS),
	    RP_MAX(n / min_rows, (size_t)1));
	all = xreallocarray(NULL, (size_t)threads, k * sizeof(*all));
	for (t = 0; t < threads; t++) {
		s[t] = (struct scan){ rows, n * t / threads,
		    n * (t + 1) / threads, dim, stride, k, 0, q, all + t * k };
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
	/* Gather every thread's heap; the best K of them are the answer. */
	for (t = 0; t < threads; t++) {
		memmove(all + m, s[t].heap, s[t].n * sizeof(*all));
		m += s[t].n;
	}
	rp_sort(all, m, sizeof(*all), cmp_hits);
	got = RP_MIN(k, m);
	memcpy(out, all, got * sizeof(*out));
	free(all);
	return got;
}

size_t
vec_topk(const float *rows, size_t n, size_t dim, const float *q, size_t k,
    unsigned threads, struct vec_hit *out)
{
	struct query qy = { .q = q, .dot = dot() };

	return run(scan, rows, n, dim, dim, &qy, k, threads, ROWS_PER_THREAD,
	    out);
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
	for (size_t i = 0; i < dim; i++)
		code[i] = (int8_t)RP_MAX(-127L, RP_MIN(127L,
		    lrintf(v[i] * inv)));
	return max / 127.0f;
}

size_t
vec_topk_q8(const float *rows, const int8_t *codes, const float *scales,
    size_t n, size_t dim, const float *q, size_t k, size_t rescore,
    unsigned threads, struct vec_hit *out)
{
	size_t stride = VEC_Q8_STRIDE(dim), want, got;
	struct query qy = { .dot_q8 = dot_q8(), .scales = scales };
	struct vec_hit *cand;
	int8_t *q8;
	int16_t *q16;

	if (k == 0 || n == 0)
		return 0;
	want = RP_MIN(RP_MAX(k, rescore), n);
	q8 = xmalloc(stride);
	q16 = xreallocarray(NULL, stride, sizeof(*q16));
	qy.qscale = vec_quantize(q, dim, q8, stride);
	for (size_t i = 0; i < stride; i++) {
		q16[i] = q8[i];
		qy.qsum += q8[i];
	}
	qy.q8 = q8;
	qy.q16 = q16;
	cand = xreallocarray(NULL, want, sizeof(*cand));
	/* A quarter of the bytes a row: four times the rows a thread. */
	got = run(scan_q8, codes, n, dim, stride, &qy, want, threads,
	    4 * ROWS_PER_THREAD, cand);
	for (size_t i = 0; i < got; i++)
		cand[i].score = vec_dot(rows + (size_t)cand[i].row * dim, q,
		    dim);
	rp_sort(cand, got, sizeof(*cand), cmp_hits);
	got = RP_MIN(got, k);
	memcpy(out, cand, got * sizeof(*out));
	free(cand);
	free(q16);
	free(q8);
	return got;
}
