/* vindex: the memory-mapped vector file beside a store. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rp.h"
#include "bm25.h"
#include "buf.h"
#include "vec.h"
#include "vindex.h"

#define MAGIC		"RAGPVEC1"
#define VERSION		5
#define HEADER		4096
#define HUGE		((uint64_t)2 << 20)	/* a PMD page on x86-64 */
#define ALIGN(n, a)	(((n) + (a) - 1) & ~(uint64_t)((a) - 1))
#define MAX_Q8_DIM	65536	/* int8 sums stay within int32 (vec.c) */

struct header {
	char		magic[8];
	uint32_t	version;
	uint32_t	dim;
	uint64_t	count;
	uint64_t	generation;
	uint64_t	ids_off;
	uint64_t	rows_off;
	uint64_t	size;
	char		uuid[40];
	char		model[128];
	/* Version 2. */
	uint32_t	quant_setting;	/* enum vindex_quant */
	uint32_t	quant;		/* NONE or INT8 */
	uint64_t	codes_off;
	uint64_t	scales_off;
	uint64_t	terms_off;
	uint64_t	nterms;
	uint64_t	text_off;
	uint64_t	text_len;
	int64_t		nchunks;
	/* Version 3. */
	uint64_t	post_off;
	uint64_t	npost;
	/* Version 4. */
	uint64_t	docs_off;
	/* Version 5. */
	uint64_t	lens_off;
};

/*
 * A term of the table: its bytes in the text section, its count, and
 * its postings (indexes and numbers into the postings section): all of
 * them, and those of the highest impact (the same when not capped).
 * The counts of ALL follow, in the postings section's next (npost + 1)
 * / 2 places (freq_at).
 */
struct term {
	uint64_t	off;
	uint64_t	post;
	uint64_t	top;
	uint32_t	len;
	uint32_t	df;
	uint32_t	npost;
	uint32_t	ntop;
	float		cutoff;
	uint32_t	pad;
};

/*
 * The most bytes of rows vindex_row reads a process.  A question wants
 * a few hundred rows; a process that answers many soon wants more rows
 * than the float section has 2 MiB pieces, and then mapping them once
 * costs less than reading each row.
 */
#define ROW_BUDGET	((size_t)4 << 20)

struct vindex {
	void		*map;
	size_t		 len;
	const struct header *h;
	int		 fd;		/* for vindex_row */
	float		*row;		/* the row it read last */
	size_t		 read;		/* bytes of rows it has read */
};

/* Where a section of SIZE bytes after OFF starts: large ones on 2 MiB. */
static uint64_t
place(uint64_t off, uint64_t size)
{
	return ALIGN(off, size >= HUGE / 2 ? HUGE : 64);
}

/*
 * Lay the file out from H's dim, count, quant, npost, nterms and
 * text_len; the reader computes the same and compares, so a header that
 * does not add up is refused.  The postings start where the rows' size
 * alone says, so that they can be written before their number is known.
 */
static void
layout(struct header *h)
{
	uint64_t rows = 4 * h->count * h->dim, off;

	h->ids_off = HEADER;
	h->docs_off = place(HEADER + 8 * h->count, 8 * h->count);
	h->rows_off = place(h->docs_off + 8 * h->count, rows);
	off = h->rows_off + rows;
	h->codes_off = h->scales_off = 0;
	if (h->quant == VINDEX_QUANT_INT8) {
		h->codes_off = place(off, VEC_Q8_STRIDE(h->dim) * h->count);
		off = h->codes_off + VEC_Q8_STRIDE(h->dim) * h->count;
		h->scales_off = place(off, 4 * h->count);
		off = h->scales_off + 4 * h->count;
	}
	h->lens_off = place(off, 4 * h->count);
	off = h->lens_off + 4 * h->count;
	h->post_off = place(off, rows);
	off = h->post_off + sizeof(struct vindex_posting) * h->npost;
	h->terms_off = place(off, sizeof(struct term) * h->nterms);
	h->text_off = h->terms_off + sizeof(struct term) * h->nterms;
	h->size = h->text_off + h->text_len;
}

/* Would the sizes of H overflow 64 bits?  (A damaged header.) */
static int
absurd(const struct header *h)
{
	return h->dim == 0 || h->dim > (1u << 20) || h->count > ((uint64_t)1 <<
	    36) || h->nterms > ((uint64_t)1 << 36) || h->text_len >
	    ((uint64_t)1 << 44) || h->npost > ((uint64_t)1 << 40) ||
	    h->count > UINT32_MAX || h->quant > VINDEX_QUANT_INT8 ||
	    h->quant == VINDEX_QUANT_AUTO || h->quant_setting >
	    VINDEX_QUANT_INT8;
}

/*
 * Map LEN bytes of FD at an address 2 MiB aligned, so that the page
 * cache's huge pages can be mapped whole; MADV_HUGEPAGE asks readahead
 * for them when the file is not cached.
 */
static void *
map_aligned(int fd, size_t len)
{
	char *res, *p;
	size_t slack;

	if (len < HUGE)
		return mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	res = mmap(NULL, len + HUGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
	    MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return MAP_FAILED;
	p = (char *)ALIGN((uintptr_t)res, HUGE);
	if (mmap(p, len, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) ==
	    MAP_FAILED) {
		munmap(res, len + HUGE);
		return MAP_FAILED;
	}
	if (p > res)
		munmap(res, (size_t)(p - res));
	slack = (size_t)ALIGN(len, (size_t)sysconf(_SC_PAGESIZE));
	if (res + len + HUGE > p + slack)
		munmap(p + slack, (size_t)(res + len + HUGE - (p + slack)));
#ifdef MADV_HUGEPAGE
	madvise(p, len, MADV_HUGEPAGE);		/* a hint; failure is fine */
#endif
	return p;
}

/* vindex_open, or vindex_open_base unless EXACT. */
static struct vindex *
open_file(const char *path, const struct vindex_meta *want, int exact,
    struct rp_err *err)
{
	struct vindex *v;
	struct header h, x;
	struct stat sb;
	void *map;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rp_err_set(err, errno == ENOENT ? RP_EXIT_OK : RP_EXIT_IO,
		    "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) != 0 || (size_t)sb.st_size < HEADER ||
	    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, MAGIC, 8) != 0 || h.version != VERSION ||
	    absurd(&h) || (x = h, layout(&x), memcmp(&x, &h, sizeof(h)) != 0) ||
	    h.size != (uint64_t)sb.st_size) {
		close(fd);
		rp_err_set(err, RP_EXIT_OK, "%s: damaged; it will be rebuilt",
		    path);
		return NULL;
	}
	h.uuid[sizeof(h.uuid) - 1] = h.model[sizeof(h.model) - 1] = '\0';
	if ((exact ? h.generation != want->generation : h.generation >
	    want->generation) || h.dim != want->dim ||
	    h.quant_setting != (uint32_t)want->quant ||
	    strcmp(h.uuid, want->uuid) != 0 ||
	    strcmp(h.model, want->model) != 0) {
		close(fd);
		rp_err_set(err, RP_EXIT_OK, "%s: stale", path);
		return NULL;
	}
	map = map_aligned(fd, (size_t)h.size);
	if (map == MAP_FAILED) {
		rp_err_set(err, RP_EXIT_IO, "%s: mmap: %s", path,
		    strerror(errno));
		close(fd);
		return NULL;
	}
	v = xcalloc(1, sizeof(*v));
	v->map = map;
	v->len = (size_t)h.size;
	v->h = map;
	v->fd = fd;
	return v;
}

struct vindex *
vindex_open(const char *path, const struct vindex_meta *want,
    struct rp_err *err)
{
	return open_file(path, want, 1, err);
}

struct vindex *
vindex_open_base(const char *path, const struct vindex_meta *want,
    struct rp_err *err)
{
	return open_file(path, want, 0, err);
}

uint64_t
vindex_generation(const struct vindex *v)
{
	return v->h->generation;
}

void
vindex_close(struct vindex *v)
{
	if (v == NULL)
		return;
	free(v->row);
	close(v->fd);
	munmap(v->map, v->len);
	free(v);
}

/*
 * Each row is read into the one buffer and not kept: a fresh page costs
 * more than reading a row again (tests/bench/RESULTS.md), and a question
 * reads each of its rows once or twice.
 */
const float *
vindex_row(struct vindex *v, size_t i)
{
	size_t bytes = v->h->dim * sizeof(float);
	const float *mapped = vindex_rows(v) + i * v->h->dim;

	if (v->read + bytes > ROW_BUDGET)
		return mapped;
	if (v->row == NULL)
		v->row = xreallocarray(NULL, v->h->dim, sizeof(float));
	if (pread(v->fd, v->row, bytes, (off_t)(v->h->rows_off + i * bytes)) !=
	    (ssize_t)bytes)
		return mapped;
	v->read += bytes;
	return v->row;
}

static const void *
at(const struct vindex *v, uint64_t off)
{
	return (const char *)v->map + off;
}

const int64_t *
vindex_ids(const struct vindex *v)
{
	return at(v, v->h->ids_off);
}

const int64_t *
vindex_docs(const struct vindex *v)
{
	return at(v, v->h->docs_off);
}

const uint32_t *
vindex_lens(const struct vindex *v)
{
	return at(v, v->h->lens_off);
}

const float *
vindex_rows(const struct vindex *v)
{
	return at(v, v->h->rows_off);
}

size_t
vindex_count(const struct vindex *v)
{
	return (size_t)v->h->count;
}

size_t
vindex_dim(const struct vindex *v)
{
	return v->h->dim;
}

enum vindex_quant
vindex_quant(const struct vindex *v)
{
	return (enum vindex_quant)v->h->quant;
}

const int8_t *
vindex_codes(const struct vindex *v)
{
	return v->h->quant == VINDEX_QUANT_INT8 ? at(v, v->h->codes_off) :
	    NULL;
}

const float *
vindex_scales(const struct vindex *v)
{
	return v->h->quant == VINDEX_QUANT_INT8 ? at(v, v->h->scales_off) :
	    NULL;
}

int64_t
vindex_nchunks(const struct vindex *v)
{
	return v->h->nchunks;
}

/* Byte order, then the shorter first: the order of the term table. */
static int
cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, RP_MIN(an, bn));

	return c != 0 ? c : (an > bn) - (an < bn);
}

/* Where the counts of T's postings start in the postings section. */
static uint64_t
freq_at(const struct term *t)
{
	return t->top != t->post ? t->top + t->ntop : t->post + t->npost;
}

/*
 * The entry of TERM[0..N), or NULL: absent, or, with *BAD set, an entry
 * the search met names text outside the file's (a damaged file).
 */
static const struct term *
find_term(const struct vindex *v, const char *term, size_t n, int *bad)
{
	const struct term *t = at(v, v->h->terms_off);
	const char *text = at(v, v->h->text_off);
	size_t lo = 0, hi = (size_t)v->h->nterms, mid;
	int c;

	*bad = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		/* The header was checked, the entries were not: stay inside. */
		if (t[mid].off > v->h->text_len ||
		    t[mid].len > v->h->text_len - t[mid].off) {
			*bad = 1;
			return NULL;
		}
		c = cmp_bytes(text + t[mid].off, t[mid].len, term, n);
		if (c == 0)
			return &t[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int64_t
vindex_term_df(const struct vindex *v, const char *term, size_t n)
{
	int bad;
	const struct term *t = find_term(v, term, n, &bad);

	return bad ? -1 : t != NULL ? (int64_t)t->df : 0;
}

int
vindex_term(const struct vindex *v, const char *term, size_t n,
    struct vindex_term *out)
{
	int bad;
	const struct term *t = find_term(v, term, n, &bad);
	const struct vindex_posting *p = at(v, v->h->post_off);
	uint64_t np = v->h->npost, f;

	memset(out, 0, sizeof(*out));
	if (t == NULL)
		return bad ? -1 : 0;
	/* The entries were not checked: stay inside the postings. */
	if (t->post > np || t->npost > np - t->post || t->top > np ||
	    t->ntop > np - t->top || (f = freq_at(t)) > np ||
	    (t->npost + 1) / 2 > np - f || t->ntop > t->npost)
		return -1;
	out->df = t->df;
	out->all = p + t->post;
	out->freq = (const float *)(p + f);
	out->nall = t->npost;
	out->top = p + t->top;
	out->ntop = t->ntop;
	out->cutoff = t->cutoff;
	return 1;
}

enum vindex_quant
vindex_resolve(const struct vindex_meta *m)
{
	if (m->dim > MAX_Q8_DIM || m->quant == VINDEX_QUANT_NONE)
		return VINDEX_QUANT_NONE;
	if (m->quant == VINDEX_QUANT_INT8)
		return VINDEX_QUANT_INT8;
	return 4 * (uint64_t)m->count * m->dim > VINDEX_AUTO_BYTES ?
	    VINDEX_QUANT_INT8 : VINDEX_QUANT_NONE;
}

static const char *const quant_names[] = {
	[VINDEX_QUANT_AUTO] = "auto", [VINDEX_QUANT_NONE] = "none",
	[VINDEX_QUANT_INT8] = "int8",
};

const char *
vindex_quant_name(enum vindex_quant q)
{
	return (size_t)q < RP_NELEM(quant_names) ? quant_names[q] : "?";
}

int
vindex_quant_parse(const char *name)
{
	for (size_t i = 0; i < RP_NELEM(quant_names); i++)
		if (strcmp(name, quant_names[i]) == 0)
			return (int)i;
	return -1;
}

static int
write_all(int fd, const void *p, size_t n, off_t off)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = pwrite(fd, c, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w, n -= (size_t)w, off += w;
	}
	return 0;
}

/*
 * A section written through a 2 MiB buffer: each write is one aligned
 * 2 MiB piece of a large section, which the page cache can keep as one
 * huge page.
 */
struct stream {
	int		 fd;
	off_t		 pos;
	char		*buf;
	size_t		 len;
};

static void
stream_init(struct stream *s, int fd, uint64_t off)
{
	s->fd = fd;
	s->pos = (off_t)off;
	s->buf = xmalloc(HUGE);
	s->len = 0;
}

static int
stream_flush(struct stream *s)
{
	if (s->len > 0 && write_all(s->fd, s->buf, s->len, s->pos) != 0)
		return -1;
#ifdef SYNC_FILE_RANGE_WRITE
	/*
	 * Start writing it out now, so that the fsync at the end waits for
	 * less; a hint (failure is fine).
	 */
	if (s->len > 0)
		sync_file_range(s->fd, s->pos, (off_t)s->len,
		    SYNC_FILE_RANGE_WRITE);
#endif
	s->pos += (off_t)s->len;
	s->len = 0;
	return 0;
}

/* Append P[0..N), flushing each time the buffer holds 2 MiB. */
static int
stream_add(struct stream *s, const void *p, size_t n)
{
	size_t take;

	while (n > 0) {
		take = RP_MIN(n, (size_t)HUGE - s->len);
		memcpy(s->buf + s->len, p, take);
		s->len += take;
		p = (const char *)p + take, n -= take;
		if (s->len == HUGE && stream_flush(s) != 0)
			return -1;
	}
	return 0;
}

static void
stream_release(struct stream *s)
{
	free(s->buf);
	s->buf = NULL;
}

/* The term table in memory while the file is written. */
struct terms {
	struct term	*t;
	size_t		 n, cap;
	struct buf	 text;
};

/* A term for sorting: its bytes, found again by pointer. */
struct sterm {
	const char	*p;
	struct term	 t;
};

static int
cmp_sterm(const void *a, const void *b)
{
	const struct sterm *x = a, *y = b;

	return cmp_bytes(x->p, x->t.len, y->p, y->t.len);
}

/*
 * Append the counts F[0..N) (zeros when F is NULL) and a zero when N is
 * odd, so that they fill (N + 1) / 2 postings.  0, or -1 (errno).
 */
static int
put_freq(struct stream *post, const float *f, size_t n)
{
	static const float zero[256];
	size_t left = f != NULL ? n % 2 : n + n % 2, take;

	if (f != NULL && stream_add(post, f, n * sizeof(*f)) != 0)
		return -1;
	for (; left > 0; left -= take) {
		take = RP_MIN(left, RP_NELEM(zero));
		if (stream_add(post, zero, take * sizeof(*zero)) != 0)
			return -1;
	}
	return 0;
}

/*
 * Add TERM[0..N) and VT to TS: its postings, those of the highest impact
 * when capped, and their counts to the stream POST, counted in *NPOST.
 * 0, or -1 for a write error (errno).
 */
static int
add_term(struct terms *ts, struct stream *post, uint64_t *npost,
    const char *term, size_t n, const struct vindex_term *vt)
{
	struct term *t;

	if (ts->n == ts->cap) {
		ts->cap = ts->cap != 0 ? 2 * ts->cap : 1024;
		ts->t = xreallocarray(ts->t, ts->cap, sizeof(*ts->t));
	}
	t = &ts->t[ts->n++];
	memset(t, 0, sizeof(*t));
	t->off = ts->text.len;
	t->len = (uint32_t)RP_MIN(n, (size_t)UINT32_MAX);
	t->df = (uint32_t)RP_MAX(0, RP_MIN(vt->df, (int64_t)UINT32_MAX));
	buf_add(&ts->text, term, t->len);
	t->post = t->top = *npost;
	t->npost = t->ntop = (uint32_t)RP_MIN(vt->nall, (size_t)UINT32_MAX);
	if (stream_add(post, vt->all, t->npost * sizeof(*vt->all)) != 0)
		return -1;
	*npost += t->npost;
	if (vt->top != NULL && vt->top != vt->all) {
		/* Capped: the postings of the highest impact after all. */
		t->top = *npost;
		t->ntop = (uint32_t)RP_MIN(vt->ntop, (size_t)t->npost);
		t->cutoff = vt->cutoff;
		if (stream_add(post, vt->top, t->ntop * sizeof(*vt->top)) != 0)
			return -1;
		*npost += t->ntop;
	}
	if (put_freq(post, vt->freq, t->npost) != 0)
		return -1;
	*npost += (t->npost + 1) / 2;
	return 0;
}

/* Sort the term table for binary search. */
static void
sort_terms(struct terms *ts)
{
	struct sterm *st;

	st = xreallocarray(NULL, RP_MAX(ts->n, (size_t)1), sizeof(*st));
	for (size_t i = 0; i < ts->n; i++)
		st[i] = (struct sterm){ ts->text.data + ts->t[i].off, ts->t[i] };
	qsort(st, ts->n, sizeof(*st), cmp_sterm);
	for (size_t i = 0; i < ts->n; i++)
		ts->t[i] = st[i].t;
	free(st);
}

/*
 * Read every term from FN into TS, its postings into the stream POST
 * (counted in *NPOST); then sort the terms.  0, -1 (ERR filled), or -2
 * for a write error (errno).
 */
static int
read_terms(struct terms *ts, vindex_term_fn fn, void *arg,
    struct stream *post, uint64_t *npost, struct rp_err *err)
{
	struct vindex_term vt;
	const char *term;
	size_t n;
	int rc = 0;

	while (fn != NULL && (rc = fn(arg, &term, &n, &vt, err)) > 0)
		if (add_term(ts, post, npost, term, n, &vt) != 0)
			return -2;
	if (rc < 0)
		return -1;
	sort_terms(ts);
	return 0;
}

static void
terms_release(struct terms *ts)
{
	free(ts->t);
	buf_release(&ts->text);
}

/*
 * Does PATH hold the vectors of a later version of the same store than
 * H?  Builders working from different versions of a store (a query that
 * began before a commit, another after) race to rename their files into
 * place; the later version should win.
 */
static int
newer(const char *path, const struct header *mine)
{
	struct header h;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	rc = pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    memcmp(h.magic, MAGIC, 8) == 0 &&
	    h.generation > mine->generation &&
	    strncmp(h.uuid, mine->uuid, sizeof(h.uuid)) == 0;
	close(fd);
	return rc;
}

/* The sections written as streams. */
struct sections {
	struct stream	 ids, docs, rows, codes, scales, lens, post;
};

static void
sections_init(struct sections *sc, int fd, const struct header *h)
{
	memset(sc, 0, sizeof(*sc));
	stream_init(&sc->ids, fd, h->ids_off);
	stream_init(&sc->docs, fd, h->docs_off);
	stream_init(&sc->rows, fd, h->rows_off);
	if (h->quant == VINDEX_QUANT_INT8) {
		stream_init(&sc->codes, fd, h->codes_off);
		stream_init(&sc->scales, fd, h->scales_off);
	}
	stream_init(&sc->lens, fd, h->lens_off);
	stream_init(&sc->post, fd, h->post_off);
}

static int
sections_flush(struct sections *sc)
{
	return stream_flush(&sc->ids) != 0 || stream_flush(&sc->docs) != 0 ||
	    stream_flush(&sc->rows) != 0 || stream_flush(&sc->codes) != 0 ||
	    stream_flush(&sc->scales) != 0 || stream_flush(&sc->lens) != 0 ||
	    stream_flush(&sc->post) != 0 ? -1 : 0;
}

static void
sections_release(struct sections *sc)
{
	stream_release(&sc->ids);
	stream_release(&sc->docs);
	stream_release(&sc->rows);
	stream_release(&sc->codes);
	stream_release(&sc->scales);
	stream_release(&sc->lens);
	stream_release(&sc->post);
}

/*
 * Append a row to the sections of H: its float row and, with int8, its
 * codes from CODE and SCALE.  0, or -1 (errno).
 */
static int
put_row(const struct header *h, struct sections *sc, int64_t id,
    int64_t doc, const float *row, uint32_t len, const int8_t *code,
    float scale)
{
	if (stream_add(&sc->ids, &id, sizeof(id)) != 0 ||
	    stream_add(&sc->docs, &doc, sizeof(doc)) != 0 ||
	    stream_add(&sc->rows, row, 4 * h->dim) != 0 ||
	    stream_add(&sc->lens, &len, sizeof(len)) != 0)
		return -1;
	if (h->quant != VINDEX_QUANT_INT8)
		return 0;
	if (stream_add(&sc->codes, code, VEC_Q8_STRIDE(h->dim)) != 0 ||
	    stream_add(&sc->scales, &scale, sizeof(scale)) != 0)
		return -1;
	return 0;
}

/* Stream FN's rows into the sections of H.  0, -1 (ERR filled), or -2. */
static int
write_rows(const struct header *h, struct sections *sc, vindex_row_fn fn,
    void *arg, const char *path, struct rp_err *err)
{
	size_t i = 0, stride = VEC_Q8_STRIDE(h->dim), rowb = 4 * h->dim;
	float *row, scale = 0;
	int8_t *code;
	int64_t id, doc;
	uint32_t len;
	int rc;

	/* A row may be bigger than a stream's buffer: write it alone. */
	row = xmalloc(rowb);
	code = xmalloc(stride);
	while ((rc = fn(arg, &id, &doc, row, &len, err)) > 0) {
		if (i++ == h->count) {
			rc = rp_err_set(err, RP_EXIT_IO, "%s: more vectors "
			    "than counted", path);
			break;
		}
		if (h->quant == VINDEX_QUANT_INT8)
			scale = vec_quantize(row, h->dim, code, stride);
		if (put_row(h, sc, id, doc, row, len, code, scale) != 0) {
			rc = -2;	/* errno says why */
			break;
		}
	}
	if (rc == 0 && i != h->count)
		rc = rp_err_set(err, RP_EXIT_IO, "%s: %zu vectors, %zu "
		    "counted", path, i, (size_t)h->count);
	free(row);
	free(code);
	return rc;
}

/* A header for M, laid out as far as M says (the rows, not the terms). */
static void
header_init(struct header *h, const struct vindex_meta *m)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, MAGIC, 8);
	h->version = VERSION;
	h->dim = (uint32_t)m->dim;
	h->count = m->count;
	h->generation = m->generation;
	snprintf(h->uuid, sizeof(h->uuid), "%s", m->uuid);
	snprintf(h->model, sizeof(h->model), "%s", m->model);
	h->quant_setting = (uint32_t)m->quant;
	h->quant = (uint32_t)vindex_resolve(m);
	h->nchunks = m->nchunks;
	layout(h);
}

/* Create the temporary file beside PATH: its descriptor, or -1. */
static int
create_tmp(const char *path, char **tmp, struct rp_err *err)
{
	int fd;

	*tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	fd = open(*tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rp_err_set(err, RP_EXIT_IO, "%s: %s", *tmp, strerror(errno));
		free(*tmp);
	}
	return fd;
}

/*
 * Finish the file TMP (open as FD) of H, whose rows and postings SC
 * holds and whose terms TS, and put it in place as PATH unless a later
 * generation is there.  RC is the outcome so far: 0, -1 (ERR filled) or
 * -2 (errno).  Frees what it is given; returns 0 or -1.
 */
static int
finish(const char *path, char *tmp, int fd, struct header *h,
    struct sections *sc, struct terms *ts, int rc, struct rp_err *err)
{
	int e;

	h->nterms = ts->n;
	h->text_len = ts->text.len;
	layout(h);
	if (rc == 0 && (sections_flush(sc) != 0 ||
	    write_all(fd, ts->t, ts->n * sizeof(*ts->t),
	    (off_t)h->terms_off) != 0 || write_all(fd, ts->text.data,
	    ts->text.len, (off_t)h->text_off) != 0 ||
	    ftruncate(fd, (off_t)h->size) != 0 ||
	    write_all(fd, h, sizeof(*h), 0) != 0 || fsync(fd) != 0))
		rc = -2;
	e = errno;
	if (close(fd) != 0 && rc == 0)
		rc = -2, e = errno;
	/* A later version may have been put in place meanwhile: keep it. */
	if (rc == 0 && !newer(path, h) && rename(tmp, path) != 0)
		rc = -2, e = errno;
	if (rc == -2)
		rp_err_set(err, RP_EXIT_IO, "%s: %s", tmp, strerror(e));
	unlink(tmp);	/* left only when not renamed */
	sections_release(sc);
	terms_release(ts);
	free(tmp);
	if (rc != 0)
		return -1;
	rp_sweep(path, ".tmp.");
	return 0;
}

int
vindex_write(const char *path, const struct vindex_meta *m,
    vindex_row_fn row_fn, void *row_arg, vindex_term_fn term_fn,
    void *term_arg, struct rp_err *err)
{
	struct header h;
	struct terms ts = { 0 };
	struct sections sc;
	char *tmp;
	int fd, rc;

	header_init(&h, m);	/* the offsets up to the postings */
	if ((fd = create_tmp(path, &tmp, err)) < 0)
		return -1;
	buf_init(&ts.text, SIZE_MAX);
	sections_init(&sc, fd, &h);
	rc = write_rows(&h, &sc, row_fn, row_arg, path, err);
	/* The rows are all written: the postings may refer to them. */
	if (rc == 0)
		rc = read_terms(&ts, term_fn, term_arg, &sc.post, &h.npost,
		    err);
	return finish(path, tmp, fd, &h, &sc, &ts, rc, err);
}

/*
 * An old row in an update: its new row (-1: gone), and its length, kept
 * beside it so that weighing a posting again reads one place.
 */
struct remap {
	int32_t		 row;
	uint32_t	 len;
};

/* An update under way. */
struct update {
	const struct vindex *old;
	const struct header *oh;	/* OLD's */
	struct remap	*oldmap;	/* by old row */
	uint32_t	*addmap;	/* each added row's new row */
	uint32_t	*lens;		/* each new row's length */
	size_t		 nadd, count;
	const char	*path;
};

/*
 * Merge the old rows that stay with FN's, by id, into the sections of H,
 * filling the maps and lengths.  0, -1 (ERR filled), or -2 (errno).
 */
static int
update_rows(struct update *u, const struct header *h, struct sections *sc,
    vindex_row_fn fn, void *arg, struct rp_err *err)
{
	size_t on = (size_t)u->oh->count, dim = h->dim, i = 0, j = 0, r = 0;
	size_t stride = VEC_Q8_STRIDE(dim);
	const int64_t *ids = vindex_ids(u->old), *docs = vindex_docs(u->old);
	const float *rows = vindex_rows(u->old);
	const float *scales = vindex_scales(u->old);
	const int8_t *codes = vindex_codes(u->old);
	const uint32_t *lens = vindex_lens(u->old);
	float *row = xmalloc(4 * dim), scale = 0;
	int8_t *code = xmalloc(stride);
	int64_t id = 0, doc = 0, last = INT64_MIN;
	uint32_t len = 0;
	int have, rc = 0;

	have = fn(arg, &id, &doc, row, &len, err);
	for (;;) {
		while (i < on && u->oldmap[i].row < 0)
			i++;
		if (have < 0) {
			rc = -1;
			break;
		}
		if (have == 0 && i == on)
			break;
		if (r == u->count || (have > 0 && (j == u->nadd ||
		    id <= last || (i < on && id == ids[i])))) {
			rc = rp_err_set(err, RP_EXIT_IO, "%s: the rows to add "
			    "do not fit the rows kept", u->path);
			break;
		}
		if (have > 0 && (i == on || id < ids[i])) {
			if (h->quant == VINDEX_QUANT_INT8)
				scale = vec_quantize(row, dim, code, stride);
			if (put_row(h, sc, id, doc, row, len, code,
			    scale) != 0) {
				rc = -2;
				break;
			}
			u->lens[r] = len;
			u->addmap[j++] = (uint32_t)r++;
			last = id;
			have = fn(arg, &id, &doc, row, &len, err);
			continue;
		}
		if (put_row(h, sc, ids[i], docs[i], rows + i * dim, lens[i],
		    codes != NULL ? codes + i * stride : NULL,
		    scales != NULL ? scales[i] : 0) != 0) {
			rc = -2;
			break;
		}
		u->lens[r] = lens[i];
		u->oldmap[i++].row = (int32_t)r++;
	}
	if (rc == 0 && (r != u->count || j != u->nadd))
		rc = rp_err_set(err, RP_EXIT_IO, "%s: %zu rows, %zu counted",
		    u->path, r, u->count);
	free(row);
	free(code);
	return rc;
}

/* A term's postings as an update gathers them, their counts, lengths. */
struct gather {
	struct vindex_posting *p, *top;
	float		*f;
	uint32_t	*len;
	size_t		 n, cap;
};

static void
gather(struct gather *g, uint32_t row, float f, uint32_t len)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 1024;
		g->p = xreallocarray(g->p, g->cap, sizeof(*g->p));
		g->f = xreallocarray(g->f, g->cap, sizeof(*g->f));
		g->len = xreallocarray(g->len, g->cap, sizeof(*g->len));
	}
	g->p[g->n] = (struct vindex_posting){ row, 0 };
	g->f[g->n] = f;
	g->len[g->n++] = len;
}

/* How many postings ahead merge_postings asks for its row's remap. */
#define AHEAD	16

/*
 * Gather the postings of the old term OT (NULL: none) that stay and
 * those of the added term AT (NULL: none), by new row.  0, or -1 when
 * they name rows that are not there.
 */
static int
merge_postings(const struct update *u, const struct term *ot,
    const struct vindex_term *at_, struct gather *g)
{
	const struct vindex_posting *op = at(u->old, u->oh->post_off), *xp;
	const float *xf = NULL;
	uint64_t np = u->oh->npost, fa;
	size_t x = 0, y = 0, xn = 0, yn = at_ != NULL ? at_->nall : 0;
	uint32_t xr = 0, yr = 0, xl = 0;
	uint64_t on = u->oh->count;

	g->n = 0;
	if (ot != NULL) {
		fa = freq_at(ot);
		if (ot->post > np || ot->npost > np - ot->post || fa > np ||
		    (ot->npost + 1) / 2 > np - fa)
			return -1;
		xp = op + ot->post;
		xf = (const float *)(op + fa);
		xn = ot->npost;
	} else
		xp = NULL;
	for (;;) {
		/*
		 * A long list reaches rows far apart: ask for the remaps
		 * ahead, or each waits for memory (most of an update's time
		 * at a million chunks).
		 */
		while (x < xn) {
			if (x + AHEAD < xn && xp[x + AHEAD].row < on)
				__builtin_prefetch(
				    &u->oldmap[xp[x + AHEAD].row]);
			if (xp[x].row >= on)
				return -1;
			if (u->oldmap[xp[x].row].row >= 0)
				break;
			x++;
		}
		if (x < xn) {
			xr = (uint32_t)u->oldmap[xp[x].row].row;
			xl = u->oldmap[xp[x].row].len;
		}
		if (y < yn) {
			if (at_->all[y].row >= u->nadd)
				return -1;
			yr = u->addmap[at_->all[y].row];
		}
		if (x < xn && (y == yn || xr < yr)) {
			gather(g, xr, xf[x], xl);
			x++;
		} else if (y < yn) {
			gather(g, yr, at_->freq != NULL ? at_->freq[y] : 0,
			    u->lens[yr]);
			y++;
		} else
			return 0;
	}
}

/*
 * Merge the old term table (sorted) with FN's terms (checked to ascend)
 * into TS, in order, and the postings stream POST, every impact weighed
 * again.  0, -1 (ERR filled), or -2.
 */
static int
update_terms(struct update *u, struct header *h, struct terms *ts,
    struct stream *post, vindex_term_fn fn, void *arg, struct rp_err *err)
{
	const struct term *ot = at(u->old, u->oh->terms_off);
	const char *text = at(u->old, u->oh->text_off), *aterm = NULL;
	size_t a = 0, no = (size_t)u->oh->nterms, an = 0;
	size_t cap = bm25_cap_for((int64_t)u->count);
	struct vindex_term vt, out;
	struct gather g = { 0 };
	struct buf prev;
	double total = 0, avgdl;
	int have, c, rc = 0, first = 1;

	/* As the build does: exact, since the lengths are whole numbers. */
	for (size_t r = 0; r < u->count; r++)
		total += u->lens[r];
	avgdl = u->count > 0 ? total / (double)u->count : 1;
	buf_init(&prev, SIZE_MAX);
	have = fn != NULL ? fn(arg, &aterm, &an, &vt, err) : 0;
	for (;;) {
		if (have < 0) {
			rc = -1;
			break;
		}
		if (have == 0 && a == no)
			break;
		if (a < no && (ot[a].off > u->oh->text_len ||
		    ot[a].len > u->oh->text_len - ot[a].off)) {
			rc = rp_err_set(err, RP_EXIT_IO, "%s: a term out of "
			    "its file", u->path);
			break;
		}
		/* A table out of order would be carried on, unsearchable. */
		if (a > 0 && a < no && cmp_bytes(text + ot[a - 1].off,
		    ot[a - 1].len, text + ot[a].off, ot[a].len) >= 0) {
			rc = rp_err_set(err, RP_EXIT_IO, "%s: damaged: terms "
			    "out of order", u->path);
			break;
		}
		if (have > 0 && !first && cmp_bytes(prev.data, prev.len,
		    aterm, an) >= 0) {
			rc = rp_err_set(err, RP_EXIT_IO, "%s: terms to add out "
			    "of order", u->path);
			break;
		}
		c = a == no ? 1 : have == 0 ? -1 : cmp_bytes(text + ot[a].off,
		    ot[a].len, aterm, an);
		if (merge_postings(u, c <= 0 ? &ot[a] : NULL, c >= 0 ? &vt :
		    NULL, &g) != 0) {
			rc = rp_err_set(err, RP_EXIT_IO, "%s: postings of rows "
			    "that are not there", u->path);
			break;
		}
		for (size_t k = 0; k < g.n; k++)
			g.p[k].impact = bm25_impact(g.f[k], (double)g.len[k],
			    avgdl);
		memset(&out, 0, sizeof(out));
		out.df = (int64_t)g.n;
		out.all = out.top = g.p;
		out.freq = g.f;
		out.nall = out.ntop = g.n;
		if (g.n > cap) {
			g.top = xreallocarray(g.top, g.n, sizeof(*g.top));
			memcpy(g.top, g.p, g.n * sizeof(*g.top));
			out.top = g.top;
			out.ntop = bm25_cap(g.top, g.n, cap, &out.cutoff);
		}
		/* A term whose every row went is gone, as from a build. */
		if (g.n > 0 && add_term(ts, post, &h->npost, c <= 0 ? text +
		    ot[a].off : aterm, c <= 0 ? ot[a].len : an, &out) != 0) {
			rc = -2;
			break;
		}
		if (c <= 0)
			a++;
		if (c >= 0) {
			buf_reset(&prev);
			buf_add(&prev, aterm, an);
			first = 0;
			have = fn(arg, &aterm, &an, &vt, err);
		}
	}
	buf_release(&prev);
	free(g.p);
	free(g.top);
	free(g.f);
	free(g.len);
	return rc;	/* the terms came in order: no sort */
}

int
vindex_update(const char *path, const struct vindex *old,
    const struct vindex_meta *meta, const int64_t *gone, size_t ngone,
    size_t nadd, vindex_row_fn row_fn, void *row_arg, vindex_term_fn term_fn,
    void *term_arg, struct rp_err *err)
{
	struct vindex_meta m = *meta;
	struct update u;
	struct header h;
	struct terms ts = { 0 };
	struct sections sc;
	const int64_t *ids = vindex_ids(old), *docs = vindex_docs(old);
	const uint32_t *lens = vindex_lens(old);
	size_t on = (size_t)old->h->count, kept = 0;
	char *tmp;
	int fd, rc;

	memset(&u, 0, sizeof(u));
	u.old = old;
	u.oh = old->h;
	u.path = path;
	if (on > INT32_MAX || nadd > UINT32_MAX - on)
		return 1;
	u.oldmap = xreallocarray(NULL, RP_MAX(on, (size_t)1),
	    sizeof(*u.oldmap));
	for (size_t i = 0; i < on; i++) {
		/* Rows are in chunk order: out of it, the file is damaged. */
		if (i > 0 && ids[i] <= ids[i - 1]) {
			free(u.oldmap);
			return rp_err_set(err, RP_EXIT_IO, "%s: damaged: "
			    "chunk ids out of order", path);
		}
		u.oldmap[i].row = rp_find_id(gone, ngone, docs[i]) >= 0 ?
		    -1 : 0;
		u.oldmap[i].len = lens[i];
		kept += u.oldmap[i].row == 0;
	}
	m.dim = old->h->dim;
	m.count = kept + nadd;
	m.nchunks = (int64_t)m.count;
	if (vindex_resolve(&m) != (enum vindex_quant)old->h->quant) {
		free(u.oldmap);
		return 1;
	}
	u.count = m.count;
	u.nadd = nadd;
	u.addmap = xreallocarray(NULL, RP_MAX(nadd, (size_t)1),
	    sizeof(*u.addmap));
	u.lens = xreallocarray(NULL, RP_MAX(u.count, (size_t)1),
	    sizeof(*u.lens));
	header_init(&h, &m);
	if ((fd = create_tmp(path, &tmp, err)) < 0) {
		rc = -1;
		goto out;
	}
	buf_init(&ts.text, SIZE_MAX);
	sections_init(&sc, fd, &h);
	rc = update_rows(&u, &h, &sc, row_fn, row_arg, err);
	if (rc == 0)
		rc = update_terms(&u, &h, &ts, &sc.post, term_fn, term_arg,
		    err);
	rc = finish(path, tmp, fd, &h, &sc, &ts, rc, err);
out:
	free(u.oldmap);
	free(u.addmap);
	free(u.lens);
	return rc;
}
