/* vindex: the memory-mapped vector file beside a store. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rp.h"
#include "buf.h"
#include "vec.h"
#include "vindex.h"

#define MAGIC		"RAGPVEC1"
#define VERSION		4
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
};

/*
 * A term of the table: its bytes in the text section, its count, and
 * its postings (indexes and numbers into the postings section): all of
 * them, and those of the highest impact (the same when not capped).
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

struct vindex *
vindex_open(const char *path, const struct vindex_meta *want,
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
	if (h.generation != want->generation || h.dim != want->dim ||
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

/* The entry of TERM[0..N), or NULL. */
static const struct term *
find_term(const struct vindex *v, const char *term, size_t n)
{
	const struct term *t = at(v, v->h->terms_off);
	const char *text = at(v, v->h->text_off);
	size_t lo = 0, hi = (size_t)v->h->nterms, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		/* The header was checked, the entries were not: stay inside. */
		if (t[mid].off > v->h->text_len ||
		    t[mid].len > v->h->text_len - t[mid].off)
			return NULL;
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
	const struct term *t = find_term(v, term, n);

	return t != NULL ? t->df : 0;
}

int
vindex_term(const struct vindex *v, const char *term, size_t n,
    struct vindex_term *out)
{
	const struct term *t = find_term(v, term, n);
	const struct vindex_posting *p = at(v, v->h->post_off);
	uint64_t np = v->h->npost;

	memset(out, 0, sizeof(*out));
	if (t == NULL)
		return 0;
	out->df = t->df;
	/* The entries were not checked: stay inside the postings. */
	if (t->post > np || t->npost > np - t->post || t->top > np ||
	    t->ntop > np - t->top)
		return 1;
	out->all = p + t->post;
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
 * Read every term from FN into TS, its postings into the stream POST
 * (counted in *NPOST); then sort the terms for binary search.  0, -1
 * (ERR filled), or -2 for a write error (errno).
 */
static int
read_terms(struct terms *ts, vindex_term_fn fn, void *arg,
    struct stream *post, uint64_t *npost, struct rp_err *err)
{
	struct vindex_term vt;
	struct sterm *st;
	struct term *t;
	const char *term;
	size_t n;
	int rc = 0;

	buf_init(&ts->text, SIZE_MAX);
	while (fn != NULL && (rc = fn(arg, &term, &n, &vt, err)) > 0) {
		if (ts->n == ts->cap) {
			ts->cap = ts->cap != 0 ? 2 * ts->cap : 1024;
			ts->t = xreallocarray(ts->t, ts->cap, sizeof(*ts->t));
		}
		t = &ts->t[ts->n++];
		memset(t, 0, sizeof(*t));
		t->off = ts->text.len;
		t->len = (uint32_t)RP_MIN(n, (size_t)UINT32_MAX);
		t->df = (uint32_t)RP_MAX(0, RP_MIN(vt.df, (int64_t)UINT32_MAX));
		buf_add(&ts->text, term, t->len);
		t->post = t->top = *npost;
		t->npost = t->ntop = (uint32_t)RP_MIN(vt.nall,
		    (size_t)UINT32_MAX);
		if (stream_add(post, vt.all, t->npost * sizeof(*vt.all)) != 0)
			return -2;
		*npost += t->npost;
		if (vt.top == NULL || vt.top == vt.all)
			continue;
		/* Capped: the postings of the highest impact after all. */
		t->top = *npost;
		t->ntop = (uint32_t)RP_MIN(vt.ntop, (size_t)t->npost);
		t->cutoff = vt.cutoff;
		if (stream_add(post, vt.top, t->ntop * sizeof(*vt.top)) != 0)
			return -2;
		*npost += t->ntop;
	}
	if (rc < 0)
		return -1;
	st = xreallocarray(NULL, RP_MAX(ts->n, (size_t)1), sizeof(*st));
	for (size_t i = 0; i < ts->n; i++)
		st[i] = (struct sterm){ ts->text.data + ts->t[i].off, ts->t[i] };
	qsort(st, ts->n, sizeof(*st), cmp_sterm);
	for (size_t i = 0; i < ts->n; i++)
		ts->t[i] = st[i].t;
	free(st);
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
 * M?  Builders working from different versions of a store (a query that
 * began before a commit, another after) race to rename their files into
 * place; the later version should win.
 */
static int
newer(const char *path, const struct vindex_meta *m)
{
	struct header h;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	rc = pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    memcmp(h.magic, MAGIC, 8) == 0 && h.generation > m->generation &&
	    strncmp(h.uuid, m->uuid, sizeof(h.uuid)) == 0;
	close(fd);
	return rc;
}

/* The sections written as streams. */
struct sections {
	struct stream	 ids, docs, rows, codes, scales, post;
};

/* Stream FN's rows into the sections of H.  0, or -1 (ERR filled). */
static int
write_rows(const struct header *h, struct sections *sc, vindex_row_fn fn,
    void *arg, const char *path, struct rp_err *err)
{
	size_t i = 0, stride = VEC_Q8_STRIDE(h->dim), rowb = 4 * h->dim;
	float *row, scale;
	int8_t *code;
	int64_t id, doc;
	int rc;

	/* A row may be bigger than a stream's buffer: write it alone. */
	row = xmalloc(rowb);
	code = xmalloc(stride);
	while ((rc = fn(arg, &id, &doc, row, err)) > 0) {
		if (i++ == h->count) {
			rc = rp_err_set(err, RP_EXIT_IO, "%s: more vectors "
			    "than counted", path);
			break;
		}
		if (stream_add(&sc->ids, &id, sizeof(id)) != 0 ||
		    stream_add(&sc->docs, &doc, sizeof(doc)) != 0 ||
		    stream_add(&sc->rows, row, rowb) != 0)
			goto ioerr;
		if (h->quant != VINDEX_QUANT_INT8)
			continue;
		scale = vec_quantize(row, h->dim, code, stride);
		if (stream_add(&sc->codes, code, stride) != 0 ||
		    stream_add(&sc->scales, &scale, sizeof(scale)) != 0)
			goto ioerr;
	}
	if (rc == 0 && i != h->count)
		rc = rp_err_set(err, RP_EXIT_IO, "%s: %zu vectors, %zu "
		    "counted", path, i, (size_t)h->count);
	free(row);
	free(code);
	return rc;
ioerr:
	free(row);
	free(code);
	return -2;	/* errno says why */
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

int
vindex_write(const char *path, const struct vindex_meta *m,
    vindex_row_fn row_fn, void *row_arg, vindex_term_fn term_fn,
    void *term_arg, struct rp_err *err)
{
	struct header h;
	struct terms ts = { 0 };
	struct sections sc;
	char *tmp;
	int fd, rc, e;

	header_init(&h, m);	/* the offsets up to the postings */
	tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rp_err_set(err, RP_EXIT_IO, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	memset(&sc, 0, sizeof(sc));
	stream_init(&sc.ids, fd, h.ids_off);
	stream_init(&sc.docs, fd, h.docs_off);
	stream_init(&sc.rows, fd, h.rows_off);
	if (h.quant == VINDEX_QUANT_INT8) {
		stream_init(&sc.codes, fd, h.codes_off);
		stream_init(&sc.scales, fd, h.scales_off);
	}
	stream_init(&sc.post, fd, h.post_off);
	rc = write_rows(&h, &sc, row_fn, row_arg, path, err);
	/* The rows are all written: the postings may refer to them. */
	if (rc == 0)
		rc = read_terms(&ts, term_fn, term_arg, &sc.post, &h.npost,
		    err);
	h.nterms = ts.n;
	h.text_len = ts.text.len;
	layout(&h);
	if (rc == 0 && (stream_flush(&sc.ids) != 0 ||
	    stream_flush(&sc.docs) != 0 || stream_flush(&sc.rows) != 0 || stream_flush(&sc.codes) != 0 ||
	    stream_flush(&sc.scales) != 0 || stream_flush(&sc.post) != 0 ||
	    write_all(fd, ts.t, ts.n * sizeof(*ts.t), (off_t)h.terms_off) !=
	    0 || write_all(fd, ts.text.data, ts.text.len, (off_t)h.text_off) !=
	    0 || ftruncate(fd, (off_t)h.size) != 0 ||
	    write_all(fd, &h, sizeof(h), 0) != 0 || fsync(fd) != 0))
		rc = -2;
	e = errno;
	if (close(fd) != 0 && rc == 0)
		rc = -2, e = errno;
	/* A later version may have been put in place meanwhile: keep it. */
	if (rc == 0 && !newer(path, m) && rename(tmp, path) != 0)
		rc = -2, e = errno;
	if (rc == -2)
		rp_err_set(err, RP_EXIT_IO, "%s: %s", tmp, strerror(e));
	unlink(tmp);	/* left only when not renamed */
	stream_release(&sc.ids);
	stream_release(&sc.docs);
	stream_release(&sc.rows);
	stream_release(&sc.codes);
	stream_release(&sc.scales);
	stream_release(&sc.post);
	terms_release(&ts);
	free(tmp);
	if (rc != 0)
		return -1;
	rp_sweep(path, ".tmp.");
	return 0;
}
