/*
 * scan: the in-process measurements of make bench, through lib/'s
 * public API: the vector scans beside a loop that reads the same bytes
 * once (the memory-bandwidth floor), the int8 scan and its recall, and
 * the full-text leg bounded and exact.
 *
 * usage: scan db questions outdir
 *        scan -f db [question]
 *
 * Each question is embedded as rag-query embeds it (the store's model,
 * its query prefix, IDF weights), then every variant runs once a
 * question, the variants taking turns, so that each sees the machine as
 * the others do.  Prints key=value lines (milliseconds: p50, p95) and
 * writes OUTDIR/qv.f32 (the question vectors, float32, one row a
 * question) and OUTDIR/exact.txt (the exact top-10 rows a question) for
 * the references (refs.py).
 *
 * With -f, the process floor: open the store and map its vectors as
 * rag-query does, read the bytes a vector query scans (the int8 codes
 * and scales when the file has them, else the float rows) once, split
 * across threads as the scan splits them (vec_auto_threads), and exit.
 * Run as a whole process (bexec lat) beside rag-query, it is what a
 * query cannot do faster: start, map, and read the vectors from a cold
 * mapping.  The question is ignored.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "rp.h"
#include "analyze.h"
#include "buf.h"
#include "embed.h"
#include "store.h"
#include "vec.h"

#define K		10
#define MAXQ		100000

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/*
 * The floor: read every byte once, XORing 64-byte words into four
 * accumulators, as fast as the machine can load them; nothing is
 * computed with the data.
 */
struct floor_arg {
	const unsigned char	*p;
	size_t			 n;
	uint64_t		 out;
};

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static void
floor_avx512(struct floor_arg *a)
{
	__m512i x = _mm512_setzero_si512(), y = x, z = x, w = x;
	size_t i = 0;

	for (; i + 256 <= a->n; i += 256) {
		x = _mm512_xor_si512(x, _mm512_loadu_si512(a->p + i));
		y = _mm512_xor_si512(y, _mm512_loadu_si512(a->p + i + 64));
		z = _mm512_xor_si512(z, _mm512_loadu_si512(a->p + i + 128));
		w = _mm512_xor_si512(w, _mm512_loadu_si512(a->p + i + 192));
	}
	x = _mm512_xor_si512(_mm512_xor_si512(x, y), _mm512_xor_si512(z, w));
	a->out = (uint64_t)_mm512_reduce_add_epi64(x);
	for (; i < a->n; i++)
		a->out += a->p[i];
}
#endif

static void
floor_c(struct floor_arg *a)
{
	uint64_t s[8] = { 0 }, v;
	size_t i = 0;

	for (; i + 64 <= a->n; i += 64)
		for (int j = 0; j < 8; j++) {
			memcpy(&v, a->p + i + 8 * j, 8);
			s[j] ^= v;
		}
	for (; i < a->n; i++)
		s[0] += a->p[i];
	a->out = s[0] ^ s[1] ^ s[2] ^ s[3] ^ s[4] ^ s[5] ^ s[6] ^ s[7];
}

static void *
floor_run(void *arg)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f")) {
		floor_avx512(arg);
		return NULL;
	}
#endif
	floor_c(arg);
	return NULL;
}

static volatile uint64_t sink;

/* The floor over P[0..N) on THREADS threads, started as vec_topk does. */
static void
floor_scan(const void *p, size_t n, unsigned threads)
{
	struct floor_arg a[VEC_MAX_THREADS];
	pthread_t tid[VEC_MAX_THREADS];

	for (unsigned t = 0; t < threads; t++) {
		a[t].p = (const unsigned char *)p + (n * t / threads & ~(size_t)63);
		a[t].n = (n * (t + 1) / threads & ~(size_t)63) -
		    (n * t / threads & ~(size_t)63);
		if (t + 1 == threads)
			a[t].n = n - (size_t)(a[t].p - (const unsigned char *)p);
		if (t > 0)
			pthread_create(&tid[t], NULL, floor_run, &a[t]);
	}
	floor_run(&a[0]);
	for (unsigned t = 1; t < threads; t++)
		pthread_join(tid[t], NULL);
	for (unsigned t = 0; t < threads; t++)
		sink ^= a[t].out;
}

/*
 * The floor over two regions at once (int8 codes and their scales), on
 * THREADS threads, each reading its share of both.
 */
static void *
floor_run2(void *arg)
{
	struct floor_arg *a = arg;

	floor_run(&a[0]);
	floor_run(&a[1]);
	return NULL;
}

static void
floor_scan2(const void *p, size_t n, const void *p2, size_t n2,
    unsigned threads)
{
	struct floor_arg a[VEC_MAX_THREADS][2];
	pthread_t tid[VEC_MAX_THREADS];

	for (unsigned t = 0; t < threads; t++) {
		a[t][0].p = (const unsigned char *)p + n * t / threads;
		a[t][0].n = n * (t + 1) / threads - n * t / threads;
		a[t][1].p = (const unsigned char *)p2 + n2 * t / threads;
		a[t][1].n = n2 * (t + 1) / threads - n2 * t / threads;
		if (t > 0)
			pthread_create(&tid[t], NULL, floor_run2, a[t]);
	}
	floor_run2(a[0]);
	for (unsigned t = 1; t < threads; t++)
		pthread_join(tid[t], NULL);
	for (unsigned t = 0; t < threads; t++)
		sink ^= a[t][0].out ^ a[t][1].out;
}

struct ctx {
	struct store	*s;
	int64_t		 nchunks;
};

/* rag-query's idf(): the question's words weighted as BM25 does. */
static float
idf(void *arg, const char *term, size_t n)
{
	struct ctx *c = arg;
	struct rp_err err;
	int64_t df = 0;
	double N = (double)c->nchunks;

	if (store_term_df(c->s, term, n, &df, NULL, &err) != 0)
		rp_die(RP_EXIT_IO, "%s", err.msg);
	if (df < 1)
		df = 1;
	return (float)log(1 + (N - (double)df + 0.5) / ((double)df + 0.5));
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
pct(double *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100 * (double)n + 0.999999);

	qsort(v, n, sizeof(*v), cmp_double);
	return n == 0 ? 0 : v[i == 0 ? 0 : i > n ? n - 1 : i - 1];
}

static void
report(const char *name, double *ms, size_t n)
{
	printf("%s_p50=%.4f\n%s_p95=%.4f\n%s_p99=%.4f\n", name,
	    pct(ms, n, 50), name, pct(ms, n, 95), name, pct(ms, n, 99));
}

/* Of A's K rows, how many are in B's K. */
static size_t
overlap(const struct vec_hit *a, const struct vec_hit *b, size_t k)
{
	size_t n = 0;

	for (size_t i = 0; i < k; i++)
		for (size_t j = 0; j < k; j++)
			n += a[i].row == b[j].row;
	return n;
}

static size_t
overlap_ids(const struct store_hit *a, long na, const struct store_hit *b,
    long nb)
{
	size_t n = 0;

	for (long i = 0; i < na; i++)
		for (long j = 0; j < nb; j++)
			n += a[i].id == b[j].id;
	return n;
}

enum { FLOOR1, FLOOR2, FLOAT1, FLOAT2, Q8FLOOR1, Q8FLOOR2, Q81, Q82,
    BM25X, BM25B, NV };
static const char *const vname[NV] = {
	"floor_1t", "floor_2t", "float_1t", "float_2t", "floor_q8_1t",
	"floor_q8_2t", "q8_1t", "q8_2t", "bm25_exact", "bm25_bounded",
};

/* scan -f: the process floor (above). */
static int
process_floor(const char *db)
{
	struct store_vectors v;
	struct rp_err err;
	struct store *s;

	if ((s = store_open(db, STORE_READONLY, &err)) == NULL ||
	    store_vectors(s, &v, &err) != 0)
		rp_die(RP_EXIT_IO, "%s", err.msg);
	if (v.codes != NULL)
		floor_scan2(v.codes, v.n * VEC_Q8_STRIDE(v.dim), v.scales,
		    v.n * sizeof(float), vec_auto_threads(v.n,
		    VEC_Q8_STRIDE(v.dim)));
	else
		floor_scan(v.rows, v.n * v.dim * sizeof(float),
		    vec_auto_threads(v.n, v.dim * sizeof(float)));
	store_close(s);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct store_vectors v;
	struct store_embed e;
	struct rp_err err;
	struct ctx c;
	struct buf b = BUF_INIT;
	struct vec_hit ex[K], hq[K];
	struct store_hit *bx = NULL, *bb = NULL;
	char line[4096], *path, **terms;
	double *ms[NV], t0;
	float *qv, *scales;
	int8_t *codes;
	size_t nq = 0, stride, fb, qb, found = 0, bfound = 0, btotal = 0;
	size_t nterms, certified = 0;
	long nbx = 0, nbb = 0;
	FILE *f, *qf, *xf;

	rp_init(argv[0]);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "-f") == 0)
		return process_floor(argv[2]);
	if (argc != 4)
		rp_die(RP_EXIT_USAGE, "usage: scan db questions outdir");
	if ((c.s = store_open(argv[1], STORE_READONLY, &err)) == NULL ||
	    store_embed_get(c.s, &e, &err) < 0 ||
	    store_vectors(c.s, &v, &err) != 0)
		rp_die(RP_EXIT_IO, "%s", err.msg);
	if (v.n == 0 || !embed_local_model(e.model, &stride))
		rp_die(RP_EXIT_DATA, "%s: no vectors of the built-in model",
		    argv[1]);
	c.nchunks = v.nchunks;
	stride = VEC_Q8_STRIDE(v.dim);
	fb = v.n * v.dim * sizeof(float);
	/* int8: the file's copy, or the same made here. */
	codes = (int8_t *)v.codes;
	scales = (float *)v.scales;
	printf("q8_source=%s\n", codes != NULL ? "file" : "memory");
	if (codes == NULL) {
		codes = xreallocarray(NULL, v.n, stride);
		scales = xreallocarray(NULL, v.n, sizeof(float));
		for (size_t i = 0; i < v.n; i++)
			scales[i] = vec_quantize(v.rows + i * v.dim, v.dim,
			    codes + i * stride, stride);
	}
	qb = v.n * stride + v.n * sizeof(float);
	printf("n=%zu\ndim=%zu\nfloat_bytes=%zu\nq8_bytes=%zu\nisa=%s\n",
	    v.n, v.dim, fb, qb, vec_isa());
	if ((f = fopen(argv[2], "r")) == NULL)
		rp_die(RP_EXIT_IO, "%s: cannot open", argv[2]);
	path = xasprintf("%s/qv.f32", argv[3]);
	qf = fopen(path, "wb");
	free(path);
	path = xasprintf("%s/exact.txt", argv[3]);
	xf = fopen(path, "w");
	free(path);
	if (qf == NULL || xf == NULL)
		rp_die(RP_EXIT_IO, "%s: cannot write", argv[3]);
	for (int i = 0; i < NV; i++)
		ms[i] = xcalloc(MAXQ, sizeof(double));
	qv = xcalloc(v.dim, sizeof(float));
	/* Touch everything once: first-touch faults are not the scan's. */
	floor_scan(v.rows, fb, 2);
	floor_scan(codes, v.n * stride, 2);
	while (nq < MAXQ && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0')
			continue;
		buf_reset(&b);
		buf_adds(&b, e.query_prefix);
		buf_adds(&b, line);
		embed_local_query(b.data, b.len, qv, v.dim, idf, &c);
		fwrite(qv, sizeof(float), v.dim, qf);
		for (int i = 0; i < NV; i++) {
			t0 = now_ms();
			switch (i) {
			case FLOOR1:
			case FLOOR2:
				floor_scan(v.rows, fb, i == FLOOR1 ? 1 : 2);
				break;
			case FLOAT1:
			case FLOAT2:
				vec_topk(v.rows, v.n, v.dim, qv, K, NULL,
				    i == FLOAT1 ? 1 : 2, ex);
				break;
			case Q8FLOOR1:
			case Q8FLOOR2:
				floor_scan2(codes, v.n * stride, scales,
				    v.n * sizeof(float), i == Q8FLOOR1 ? 1 : 2);
				break;
			case Q81:
			case Q82:
				vec_topk_q8(v.rows, NULL, NULL, codes, scales,
				    v.n, v.dim, qv, K, NULL, i == Q81 ? 1 : 2,
				    hq);
				break;
			case BM25X:
			case BM25B:
				nterms = analyze_query(line, &terms);
				t0 = now_ms();
				if (i == BM25X)
					nbx = store_bm25(c.s, terms, nterms,
					    NULL, K, 1, &bx, &err);
				else {
					nbb = store_bm25(c.s, terms, nterms,
					    NULL, K, 0, &bb, &err);
					certified += store_bm25_exact(c.s);
				}
				ms[i][nq] = now_ms() - t0;
				analyze_terms_free(terms, nterms);
				if ((i == BM25X ? nbx : nbb) < 0)
					rp_die(RP_EXIT_IO, "%s", err.msg);
				continue;
			}
			ms[i][nq] = now_ms() - t0;
		}
		found += overlap(ex, hq, K);
		bfound += overlap_ids(bx, nbx, bb, nbb);
		btotal += (size_t)nbx;
		free(bx);
		free(bb);
		for (size_t i = 0; i < K; i++)
			fprintf(xf, "%s%u", i > 0 ? " " : "", ex[i].row);
		fprintf(xf, "\n");
		nq++;
	}
	printf("questions=%zu\n", nq);
	for (int i = 0; i < NV; i++)
		report(vname[i], ms[i], nq);
	printf("recall10_q8=%.4f\n", nq > 0 ? (double)found / (double)(nq *
	    K) : 0);
	printf("recall10_bm25_bounded=%.4f\n", btotal > 0 ? (double)bfound /
	    (double)btotal : 1);
	printf("bm25_certified=%.4f\n", nq > 0 ? (double)certified /
	    (double)nq : 1);
	fclose(f);
	fclose(qf);
	fclose(xf);
	for (int i = 0; i < NV; i++)
		free(ms[i]);
	if (codes != v.codes) {
		free(codes);
		free(scales);
	}
	free(qv);
	buf_release(&b);
	store_embed_release(&e);
	store_close(c.s);
	return 0;
}
