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

static struct {
	pthread_once_t	 once;
	dot_fn		 dot;
	const char	*name;
} isa = { PTHREAD_ONCE_INIT, dot_generic, "generic" };

static void
choose(void)
{
#ifdef VEC_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f")) {
		isa.dot = dot_avx512;
		isa.name = "avx512";
	} else if (__builtin_cpu_supports("avx2") &&
	    __builtin_cpu_supports("fma")) {
		isa.dot = dot_avx2;
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
		isa.name = "generic";
		return 0;
	}
#ifdef VEC_X86
	if (strcmp(name, "avx2") == 0 && __builtin_cpu_supports("avx2") &&
	    __builtin_cpu_supports("fma")) {
		isa.dot = dot_avx2;
		isa.name = "avx2";
		return 0;
	}
	if (strcmp(name, "avx512") == 0 &&
	    __builtin_cpu_supports("avx512f")) {
		isa.dot = dot_avx512;
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

struct scan {
	const float	*rows;
	size_t		 from, to, dim, k, n;
	const float	*q;
	dot_fn		 dot;
	struct vec_hit	*heap;
};

static void *
scan(void *arg)
{
	struct scan *s = arg;
	struct vec_hit hit;
	float worst = -INFINITY;
	const float *r = s->rows + s->from * s->dim;

	for (size_t i = s->from; i < s->to; i++, r += s->dim) {
		hit.score = s->dot(r, s->q, s->dim);
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

size_t
vec_topk(const float *rows, size_t n, size_t dim, const float *q, size_t k,
    unsigned threads, struct vec_hit *out)
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
	    RP_MAX(n / ROWS_PER_THREAD, (size_t)1));
	all = xreallocarray(NULL, (size_t)threads, k * sizeof(*all));
	for (t = 0; t < threads; t++) {
		s[t] = (struct scan){ rows, n * t / threads,
		    n * (t + 1) / threads, dim, k, 0, q, dot(), all + t * k };
		if (t > 0)
			started[t] = pthread_create(&tid[t], NULL, scan,
			    &s[t]) == 0;
	}
	scan(&s[0]);
	for (t = 1; t < threads; t++) {
		if (started[t])
			pthread_join(tid[t], NULL);
		else
			scan(&s[t]);	/* no thread: do its share here */
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
