/*
 * vec: float32 vector math for retrieval.
 *
 * L2 normalisation, dot products and exact top-k search over a
 * contiguous row-major matrix.  The inner loops use AVX-512 or AVX2 with
 * FMA when the CPU has them (chosen once, at run time) and portable C
 * otherwise; the scan splits rows across threads, each keeping its own
 * top-k heap, so it runs near memory bandwidth (DESIGN.md section 7).
 *
 * int8 quantisation: a row is stored as codes c[i] = round(v[i] / s),
 * with one scale s = max |v[i]| / 127 a row, so every code is in
 * [-127, 127].  A scan over the codes reads a quarter of the bytes of
 * the float scan.  It is exact, not approximate: the question is
 * quantised finely (int16), each row's score is known within a bound
 * that follows from the rounding of both, and every row whose bound
 * reaches the k-th best lower bound is scored again with its float row;
 * the rows and scores returned are those of the float scan.  The bound
 * is tight enough that a few times k rows are scored again.  The integer
 * dot products use AVX-512 (VNNI), AVX2 or portable C.
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
 * A set of rows, for a search to keep to: row I is in it when bit I % 64
 * of word I / 64 is set.  A NULL set holds every row.
 */
#define VEC_IN(keep, i)	((keep) == NULL || \
			    ((keep)[(size_t)(i) / 64] >> ((size_t)(i) % 64) & 1))

/*
 * The K rows of ROWS (N rows of DIM floats) with the highest dot product
 * with Q, best first, ties by lower row, into OUT (room for K), of the
 * rows in the set KEEP (above; the others are never read).  Rows are
 * split across THREADS threads (0: as many as the machine has online,
 * at most VEC_MAX_THREADS and one for each 32 MiB of rows scanned, since
 * a thread costs a short-lived process more than it saves on less).
 * Returns min(K, rows in KEEP).
 */
size_t		vec_topk(const float *rows, size_t n, size_t dim, const float *q,
		    size_t k, const uint64_t *keep, unsigned threads,
		    struct vec_hit *out);
/* The most threads vec_topk uses for THREADS = 0. */
unsigned	vec_threads(void);
/* The threads THREADS = 0 means for N rows of ROW_BYTES (above). */
unsigned	vec_auto_threads(size_t n, size_t row_bytes);

/* Bytes a row of int8 codes takes: DIM rounded up to 64. */
#define VEC_Q8_STRIDE(dim)	(((size_t)(dim) + 63) & ~(size_t)63)

/*
 * Quantise V[0..DIM) into CODE[0..STRIDE) (STRIDE >= DIM; the codes
 * past DIM are 0).  Returns the row's scale: 0 for a zero vector (every
 * code 0), and for one with a value that is not finite.
 */
float		vec_quantize(const float *v, size_t dim, int8_t *code,
		    size_t stride);
/*
 * Float row I of those ARG stands for (vec_topk_q8); it need stay valid
 * only until the next call.
 */
typedef const float *(*vec_row_fn)(void *arg, size_t i);

/*
 * The K rows with the highest dot product with Q, exactly as vec_topk
 * finds them (the same rows, scores and order), found through the int8
 * CODES (N rows of VEC_Q8_STRIDE(DIM) bytes, as vec_quantize makes
 * them) and their SCALES, and then the float rows of the few that may
 * be among the best: ROW(ARG, i) when ROW is set, else ROWS + i * DIM.
 * (ROWS must be whole either way: a question with a value that is not
 * finite is searched there with vec_topk.)  Only rows in KEEP are read.
 * Returns min(K, rows in KEEP).
 */
size_t		vec_topk_q8(const float *rows, vec_row_fn row, void *arg,
		    const int8_t *codes, const float *scales, size_t n,
		    size_t dim, const float *q, size_t k, const uint64_t *keep,
		    unsigned threads, struct vec_hit *out);

#endif /* VEC_H */
