/*
 * vec: float32 vector math for retrieval.
 *
 * L2 normalisation, dot products and exact top-k search over a
 * contiguous row-major matrix.  The inner loops use AVX-512 or AVX2 with
 * FMA when the CPU has them (chosen once, at run time) and portable C
 * otherwise; the scan splits rows across threads, each keeping its own
 * top-k heap, so it runs near memory bandwidth (DESIGN.md section 7).
 *
 * Pure functions on caller-owned memory; thread-safe.
 */
#ifndef VEC_H
#define VEC_H

#include <stddef.h>
#include <stdint.h>

#define VEC_MAX_THREADS	64

struct vec_hit {
	float		score;		/* dot product; higher is better */
	uint32_t	row;
};

/* Scale V[0..DIM) to unit length (a zero vector stays zero). */
void		vec_normalize(float *v, size_t dim);
float		vec_dot(const float *a, const float *b, size_t dim);
/* The instruction set in use: "avx512", "avx2" or "generic". */
const char	*vec_isa(void);
/*
 * Force an instruction set by name ("avx512", "avx2", "generic"; only
 * ones the CPU has), for tests and benchmarks.  0, or -1 if unusable.
 */
int		vec_set_isa(const char *name);
/*
 * The K rows of ROWS (N rows of DIM floats) with the highest dot product
 * with Q, best first, ties by lower row, into OUT (room for K).  Rows are
 * split across THREADS threads (0: as many as the machine has online,
 * at most VEC_MAX_THREADS; small scans use one).  Returns min(K, N).
 */
size_t		vec_topk(const float *rows, size_t n, size_t dim, const float *q,
		    size_t k, unsigned threads, struct vec_hit *out);
/* The number of threads vec_topk uses for THREADS = 0. */
unsigned	vec_threads(void);

#endif /* VEC_H */
