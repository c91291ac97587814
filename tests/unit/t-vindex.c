/* t-vindex: the vector file: layout, freshness, int8 copy, term table. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rp.h"
#include "bm25.h"
#include "vec.h"
#include "vindex.h"
#include "tap.h"

struct gen {
	size_t		 i, n, dim;
};

/*
 * vindex_row_fn: row I has id 10 * I, document 1000 + I / 3 (three
 * chunks a document) and values from I.
 */
static int
rows_fn(void *arg, int64_t *id, int64_t *doc, float *row, uint32_t *len,
    struct rp_err *err)
{
	struct gen *g = arg;

	(void)err;
	*len = (uint32_t)g->i % 5;
	if (g->i == g->n)
		return 0;
	*id = 10 * (int64_t)g->i;
	*doc = 1000 + (int64_t)g->i / 3;
	for (size_t j = 0; j < g->dim; j++)
		row[j] = (float)((g->i * 31 + j * 7) % 19) - 9;
	vec_normalize(row, g->dim);
	g->i++;
	return 1;
}

static const char *const words[] = { "zebra", "ab", "abc", "a", "b\xc3\xa9",
    "" };

struct tgen {
	size_t		 i;
	struct vindex_posting p[8];
};

/*
 * vindex_term_fn: the words above, out of order, df = 100 + index, and
 * i + 1 postings for word i: rows 0, 2, 4, ... with impact row + i;
 * word 4 capped to its last two, cutoff 0.5.
 */
static int
terms_fn(void *arg, const char **term, size_t *n, struct vindex_term *vt,
    struct rp_err *err)
{
	struct tgen *t = arg;

	(void)err;
	if (t->i == RP_NELEM(words) - 1)	/* "" stays out */
		return 0;
	*term = words[t->i];
	*n = strlen(words[t->i]);
	memset(vt, 0, sizeof(*vt));
	vt->df = 100 + (int64_t)t->i;
	for (size_t j = 0; j <= t->i; j++)
		t->p[j] = (struct vindex_posting){ (uint32_t)(2 * j),
		    (float)(2 * j + t->i) };
	vt->all = vt->top = t->p;
	vt->nall = vt->ntop = t->i + 1;
	if (t->i == 4) {
		vt->top = t->p + 3;
		vt->ntop = 2;
		vt->cutoff = 0.5f;
	}
	t->i++;
	return 1;
}

/* The postings terms_fn gave word I, as the file has them. */
static int
postings_ok(const struct vindex *v, size_t i)
{
	struct vindex_term t;

	if (!vindex_term(v, words[i], strlen(words[i]), &t) ||
	    t.nall != i + 1 || t.df != 100 + (int64_t)i)
		return 0;
	for (size_t j = 0; j <= i; j++)
		if (t.all[j].row != 2 * j ||
		    t.all[j].impact != (float)(2 * j + i))
			return 0;
	if (i != 4)
		return t.top == t.all && t.ntop == t.nall && t.cutoff == 0;
	return t.ntop == 2 && t.top[0].row == 6 && t.top[1].row == 8 &&
	    t.cutoff == 0.5f;
}

static int
failing_rows(void *arg, int64_t *id, int64_t *doc, float *row, uint32_t *len,
    struct rp_err *err)
{
	(void)arg;
	(void)id;
	(void)doc;
	(void)row;
	(void)len;
	return rp_err_set(err, RP_EXIT_IO, "no more");
}

static int
write_file(const char *path, const struct vindex_meta *m)
{
	struct gen g = { 0, m->count, m->dim };
	struct tgen t = { 0 };
	struct rp_err err;

	return vindex_write(path, m, rows_fn, &g, terms_fn, &t, &err);
}

/*
 * Updates against builds.  A toy store: chunks with an id, a document,
 * a vector, a length and a few (term, count) pairs.  Files of it are
 * written as store.c writes them (each impact from the count, the
 * chunk's length and the average length; past bm25_cap_for postings
 * capped), and an update from one state to the next, given the
 * documents that changed and their chunks as they are now, must give
 * the next state's file byte for byte.
 */
#define UDIM	8
#define NVOCAB	12

static const char *const vocab[NVOCAB] = { "zeta", "a", "ab", "abc",
    "b\xc3\xa9", "b", "common", "x", "xy", "pump", "lease", "q" };

struct uchunk {
	int64_t		 id, doc;
	uint32_t	 len;
	float		 v[UDIM];
	int		 nt;
	int		 term[4];
	float		 f[4];
};

struct ustate {
	struct uchunk	*c;	/* ascending by id */
	size_t		 n;
};

static uint64_t useed;

static uint32_t
urand(uint32_t n)
{
	useed = useed * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)((useed >> 33) % n);
}

/* A chunk of document DOC with id ID; COMMON puts "common" in it. */
static struct uchunk
uchunk(int64_t id, int64_t doc, int common)
{
	struct uchunk c;

	memset(&c, 0, sizeof(c));
	c.id = id;
	c.doc = doc;
	c.len = 1 + urand(60);
	for (int j = 0; j < UDIM; j++)
		c.v[j] = (float)urand(2001) / 1000.0f - 1;
	if (common)
		c.term[c.nt] = 6, c.f[c.nt++] = (float)(1 + urand(3));
	for (int k = urand(4); k > 0 && c.nt < 4; k--) {
		int w = (int)urand(NVOCAB), dup = 0;

		for (int j = 0; j < c.nt; j++)
			dup |= c.term[j] == w;
		if (!dup)
			c.term[c.nt] = w, c.f[c.nt++] = (float)(1 + urand(4));
	}
	return c;
}

struct urows {
	const struct uchunk *c;
	size_t		 n, i;
};

static int
urows_fn(void *arg, int64_t *id, int64_t *doc, float *row, uint32_t *len,
    struct rp_err *err)
{
	struct urows *r = arg;
	const struct uchunk *c;

	(void)err;
	if (r->i == r->n)
		return 0;
	c = &r->c[r->i++];
	*id = c->id;
	*doc = c->doc;
	*len = c->len;
	memcpy(row, c->v, sizeof(c->v));
	return 1;
}

/*
 * The terms of chunks C[0..N), in byte order, their postings' rows
 * indexes into C; weighed and capped as a build does when WEIGH.
 */
struct uterms {
	const struct uchunk *c;
	size_t		 n, k;
	int		 order[NVOCAB];
	int		 weigh;
	double		 avgdl;
	size_t		 cap;
	struct vindex_posting *p, *top;
	float		*f;
};

static int
cmp_vocab(const void *a, const void *b)
{
	const char *x = vocab[*(const int *)a], *y = vocab[*(const int *)b];
	size_t xn = strlen(x), yn = strlen(y);
	int c = memcmp(x, y, xn < yn ? xn : yn);

	return c != 0 ? c : (xn > yn) - (xn < yn);
}

static void
uterms_init(struct uterms *t, const struct uchunk *c, size_t n, int weigh)
{
	double total = 0;

	memset(t, 0, sizeof(*t));
	t->c = c;
	t->n = n;
	t->weigh = weigh;
	for (int i = 0; i < NVOCAB; i++)
		t->order[i] = i;
	qsort(t->order, NVOCAB, sizeof(int), cmp_vocab);
	for (size_t i = 0; i < n; i++)
		total += c[i].len;
	t->avgdl = n > 0 ? total / (double)n : 1;
	t->cap = bm25_cap_for((int64_t)n);
	t->p = xreallocarray(NULL, n + 1, sizeof(*t->p));
	t->top = xreallocarray(NULL, n + 1, sizeof(*t->top));
	t->f = xreallocarray(NULL, n + 1, sizeof(*t->f));
}

static void
uterms_free(struct uterms *t)
{
	free(t->p);
	free(t->top);
	free(t->f);
}

static int
uterms_fn(void *arg, const char **term, size_t *n, struct vindex_term *vt,
    struct rp_err *err)
{
	struct uterms *t = arg;
	size_t np;
	int w;

	(void)err;
	while (t->k < NVOCAB) {
		w = t->order[t->k++];
		np = 0;
		for (size_t i = 0; i < t->n; i++)
			for (int j = 0; j < t->c[i].nt; j++) {
				if (t->c[i].term[j] != w)
					continue;
				t->p[np] = (struct vindex_posting){
				    (uint32_t)i, t->weigh ? bm25_impact(
				    t->c[i].f[j], t->c[i].len, t->avgdl) : 0 };
				t->f[np++] = t->c[i].f[j];
			}
		if (np == 0)
			continue;
		*term = vocab[w];
		*n = strlen(vocab[w]);
		memset(vt, 0, sizeof(*vt));
		vt->df = (int64_t)np;
		vt->all = vt->top = t->p;
		vt->freq = t->f;
		vt->nall = vt->ntop = np;
		if (t->weigh && np > t->cap) {
			memcpy(t->top, t->p, np * sizeof(*t->p));
			vt->top = t->top;
			vt->ntop = bm25_cap(t->top, np, t->cap, &vt->cutoff);
		}
		return 1;
	}
	return 0;
}

/* Write PATH from state S as a build would. */
static int
ubuild(const char *path, const struct vindex_meta *m, const struct ustate *s)
{
	struct vindex_meta w = *m;
	struct urows r = { s->c, s->n, 0 };
	struct uterms t;
	struct rp_err err;
	int rc;

	w.count = s->n;
	w.nchunks = (int64_t)s->n;
	uterms_init(&t, s->c, s->n, 1);
	rc = vindex_write(path, &w, urows_fn, &r, uterms_fn, &t, &err);
	uterms_free(&t);
	return rc;
}

static int
cmp_chunk(const void *a, const void *b)
{
	const struct uchunk *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Are the files A and B the same bytes? */
static int
same_bytes(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int ca, cb, same = fa != NULL && fb != NULL;

	while (same) {
		ca = getc(fa);
		cb = getc(fb);
		same = ca == cb;
		if (ca == EOF)
			break;
	}
	if (fa != NULL)
		fclose(fa);
	if (fb != NULL)
		fclose(fb);
	return same;
}

/*
 * One round: a state of NDOCS documents (COMMON in every chunk past
 * the cap), built; then TOUCH of them (or ALL) written again or deleted
 * and new ones added, with fresh ids that may fall between the kept
 * ones; the update must be the next state's build.
 */
static int
update_round(const char *dir, uint64_t seed, size_t ndocs, int common,
    enum vindex_quant quant, int all)
{
	struct vindex_meta m = { .generation = 1, .uuid = "u", .model =
	    "local:hash-v1-8", .dim = UDIM, .quant = quant };
	struct ustate a = { 0 }, b = { 0 };
	struct uchunk *add;
	struct urows r;
	struct uterms t;
	struct vindex *old;
	struct rp_err err;
	int64_t *gone, *used, next = 1, ndoc = (int64_t)ndocs;
	size_t ngone = 0, nadd = 0, nused = 0, cap;
	char *pa = xasprintf("%s/a-vec", dir), *pb = xasprintf("%s/b-vec", dir);
	int ok_ = 0, rc;

	useed = seed;
	cap = 8 * ndocs + 64;
	a.c = xreallocarray(NULL, cap, sizeof(*a.c));
	b.c = xreallocarray(NULL, 2 * cap, sizeof(*b.c));
	add = xreallocarray(NULL, 2 * cap, sizeof(*add));
	gone = xreallocarray(NULL, 2 * ndocs + 8, sizeof(*gone));
	used = xreallocarray(NULL, 4 * cap, sizeof(*used));
	for (int64_t d = 1; d <= ndoc; d++)
		for (uint32_t k = urand(5); k > 0; k--) {
			next += 1 + urand(3);	/* gaps, as deletes leave */
			a.c[a.n++] = uchunk(next, d, common);
		}
	m.generation = 1;
	if (ubuild(pa, &m, &a) != 0)
		goto out;
	/* The documents written: some of the old, a few new ones. */
	for (int64_t d = 1; d <= ndoc + 3; d++)
		if (all || d > ndoc || urand(4) == 0)
			gone[ngone++] = d;
	for (size_t i = 0; i < a.n; i++) {
		if (bsearch(&a.c[i].doc, gone, ngone, sizeof(*gone),
		    cmp_i64) == NULL)
			b.c[b.n++] = a.c[i];
		used[nused++] = a.c[i].id;
	}
	qsort(used, nused, sizeof(*used), cmp_i64);
	for (size_t g = 0; g < ngone; g++)
		for (uint32_t k = urand(3) == 0 ? 0 : 1 + urand(4); k > 0;
		    k--) {
			int64_t id;

			/* A fresh id, between or past the old ones. */
			do
				id = 1 + (int64_t)urand((uint32_t)next + 40);
			while (bsearch(&id, used, nused, sizeof(*used),
			    cmp_i64) != NULL);
			used[nused++] = id;
			qsort(used, nused, sizeof(*used), cmp_i64);
			add[nadd++] = uchunk(id, gone[g], common);
		}
	qsort(add, nadd, sizeof(*add), cmp_chunk);
	for (size_t i = 0; i < nadd; i++)
		b.c[b.n++] = add[i];
	qsort(b.c, b.n, sizeof(*b.c), cmp_chunk);
	m.generation = 2;
	if (ubuild(pb, &m, &b) != 0)
		goto out;
	m.generation = 2;
	if ((old = vindex_open_base(pa, &m, &err)) == NULL)
		goto out;
	r = (struct urows){ add, nadd, 0 };
	uterms_init(&t, add, nadd, 0);
	rc = vindex_update(pa, old, &m, gone, ngone, nadd, urows_fn, &r,
	    uterms_fn, &t, &err);
	uterms_free(&t);
	vindex_close(old);
	ok_ = rc == 0 && same_bytes(pa, pb);
	if (!ok_)
		printf("# seed %llu: update %d%s%s\n", (unsigned long long)seed,
		    rc, rc != 0 ? ": " : "", rc != 0 ? err.msg : "");
out:
	unlink(pa);
	unlink(pb);
	free(pa);
	free(pb);
	free(a.c);
	free(b.c);
	free(add);
	free(gone);
	free(used);
	return ok_;
}

/* An update refuses rows that do not fit, and leaves the old file. */
static void
update_refusals(const char *dir)
{
	struct vindex_meta m = { .generation = 1, .uuid = "u", .model =
	    "local:hash-v1-8", .dim = UDIM, .quant = VINDEX_QUANT_NONE };
	struct ustate a = { 0 };
	struct uchunk add[2];
	struct urows r;
	struct uterms t;
	struct vindex *old, *v;
	struct rp_err err;
	int64_t gone[1] = { 2 };
	char *pa = xasprintf("%s/a-vec", dir);
	int rc;

	useed = 5;
	a.c = xreallocarray(NULL, 4, sizeof(*a.c));
	a.c[a.n++] = uchunk(10, 1, 0);
	a.c[a.n++] = uchunk(20, 2, 0);
	a.c[a.n++] = uchunk(30, 3, 0);
	is_int(ubuild(pa, &m, &a), 0, "update: an old file");
	m.generation = 2;
	old = vindex_open_base(pa, &m, &err);
	ok(old != NULL && vindex_generation(old) == 1, "an older "
	    "generation opens as a base");
	ok(vindex_open(pa, &m, &err) == NULL, "but is not fresh");
	/* Chunk 30 is kept (document 3 did not change): not again. */
	add[0] = uchunk(30, 2, 0);
	r = (struct urows){ add, 1, 0 };
	uterms_init(&t, add, 1, 0);
	rc = old != NULL ? vindex_update(pa, old, &m, gone, 1, 1, urows_fn, &r,
	    uterms_fn, &t, &err) : 0;
	uterms_free(&t);
	ok(rc < 0 && strstr(err.msg, "do not fit") != NULL,
	    "an added row with a kept row's id is refused");
	/* Fewer rows than said. */
	add[0] = uchunk(25, 2, 0);
	r = (struct urows){ add, 1, 0 };
	uterms_init(&t, add, 1, 0);
	rc = old != NULL ? vindex_update(pa, old, &m, gone, 1, 2, urows_fn, &r,
	    uterms_fn, &t, &err) : 0;
	uterms_free(&t);
	ok(rc < 0, "fewer rows than counted are refused");
	/*
	 * A damaged old file: its second chunk id (at 4096 + 8) below the
	 * first.  The mapping sees the write.
	 */
	add[0] = uchunk(25, 2, 0);
	r = (struct urows){ add, 1, 0 };
	uterms_init(&t, add, 1, 0);
	{
		int64_t five = 5;
		int fd = open(pa, O_WRONLY);

		rc = fd >= 0 && pwrite(fd, &five, 8, 4096 + 8) == 8 &&
		    old != NULL ? vindex_update(pa, old, &m, gone, 1, 1,
		    urows_fn, &r, uterms_fn, &t, &err) : 0;
		if (fd >= 0)
			close(fd);
	}
	uterms_free(&t);
	ok(rc < 0 && strstr(err.msg, "damaged: chunk ids out of order") !=
	    NULL, "an old file with its chunk ids out of order is refused");
	m.generation = 1;
	ok((v = vindex_open(pa, &m, &err)) != NULL, "the old file stays");
	vindex_close(v);
	vindex_close(old);
	unlink(pa);
	free(pa);
	free(a.c);
}

/*
 * An update from a file whose term table is out of order (its first
 * term's text made to sort last) is refused: carried on, the table
 * could not be searched.  Offsets from the header: terms at byte 248,
 * their count at 256, their text at 264; a term's text offset first.
 */
static void
update_unsorted_terms(const char *dir)
{
	struct vindex_meta m = { .generation = 1, .uuid = "u", .model =
	    "local:hash-v1-8", .dim = UDIM, .quant = VINDEX_QUANT_NONE };
	struct ustate a = { 0 };
	struct uchunk add[1];
	struct urows r;
	struct uterms t;
	struct vindex *old = NULL;
	struct rp_err err;
	uint64_t hv[3], toff;
	int64_t gone[1] = { 2 };
	char *pa = xasprintf("%s/t-vec", dir);
	unsigned char ff = 0xff;
	int fd, rc = 0;

	useed = 9;
	a.c = xreallocarray(NULL, 3, sizeof(*a.c));
	for (int64_t i = 0; i < 3; i++)
		a.c[a.n++] = uchunk(10 * (i + 1), i + 1, 1);
	is_int(ubuild(pa, &m, &a), 0, "update: a file to damage");
	fd = open(pa, O_RDWR);
	ok(fd >= 0 && pread(fd, hv, sizeof(hv), 248) == sizeof(hv) &&
	    hv[1] >= 2 && pread(fd, &toff, 8, (off_t)hv[0]) == 8 &&
	    pwrite(fd, &ff, 1, (off_t)(hv[2] + toff)) == 1,
	    "its first term's text made to sort after the second's");
	if (fd >= 0)
		close(fd);
	m.generation = 2;
	add[0] = uchunk(25, 2, 1);
	r = (struct urows){ add, 1, 0 };
	uterms_init(&t, add, 1, 0);
	if ((old = vindex_open_base(pa, &m, &err)) != NULL)
		rc = vindex_update(pa, old, &m, gone, 1, 1, urows_fn, &r,
		    uterms_fn, &t, &err);
	uterms_free(&t);
	ok(old != NULL && rc < 0 && strstr(err.msg, "damaged: terms out of "
	    "order") != NULL, "an old file with its terms out of order is "
	    "refused");
	vindex_close(old);
	unlink(pa);
	free(pa);
	free(a.c);
}

/*
 * Build at PA for M a file of 40 chunks (with COMMON, every other one
 * has a word in common) and change 24 random bytes past its header, as
 * a bad disk might.  0, or -1 when it could not.
 */
static int
damage_file(const char *pa, const struct vindex_meta *m, struct ustate *a,
    int common)
{
	struct stat sb;
	int fd, rc = 0;

	a->n = 0;
	for (int64_t i = 0; i < 40; i++)
		a->c[a->n++] = uchunk(10 * (i + 1), 1 + i / 5,
		    common && i % 2);
	if (ubuild(pa, m, a) != 0 || stat(pa, &sb) != 0 ||
	    (fd = open(pa, O_WRONLY)) < 0)
		return -1;
	for (int k = 0; k < 24 && rc == 0; k++) {
		unsigned char b = (unsigned char)urand(256);
		off_t off = 4096 + (off_t)urand((uint32_t)(sb.st_size - 4096));

		if (pwrite(fd, &b, 1, off) != 1)
			rc = -1;
	}
	close(fd);
	return rc;
}

/*
 * An update from a damaged file (bytes past the header changed, as by a
 * bad disk) may fail or carry the damage on, but reads nothing outside
 * the file (the ASan build runs this too).  Returns the rounds that got
 * through without a crash: all of them.
 */
static int
update_damaged(const char *dir, int rounds)
{
	struct vindex_meta m = { .generation = 1, .uuid = "u", .model =
	    "local:hash-v1-8", .dim = UDIM, .quant = VINDEX_QUANT_INT8 };
	struct ustate a = { 0 };
	struct uchunk add[3];
	struct urows r;
	struct uterms t;
	struct vindex *old;
	struct rp_err err;
	int64_t gone[2] = { 2, 5 };
	char *pa = xasprintf("%s/d-vec", dir);
	int done = 0;

	a.c = xreallocarray(NULL, 64, sizeof(*a.c));
	for (int round = 0; round < rounds; round++) {
		useed = 1000 + (uint64_t)round;
		m.generation = 1;
		if (damage_file(pa, &m, &a, 0) != 0)
			break;
		m.generation = 2;
		if ((old = vindex_open_base(pa, &m, &err)) == NULL)
			break;
		for (int i = 0; i < 3; i++)
			add[i] = uchunk(1000 + i, 2 + 3 * i, 0);
		r = (struct urows){ add, 3, 0 };
		uterms_init(&t, add, 3, 0);
		(void)vindex_update(pa, old, &m, gone, 2, 3, urows_fn, &r,
		    uterms_fn, &t, &err);
		uterms_free(&t);
		vindex_close(old);
		done++;
	}
	unlink(pa);
	free(pa);
	free(a.c);
	return done;
}

/*
 * A query of a damaged file, fresh by its header: each word of the
 * vocabulary looked up, its postings summed (bm25_topk) with a set of
 * rows and without.  The lookups and sums may refuse the file (-1) or
 * carry the damage on, but read nothing outside it and name no row past
 * the last (the ASan build runs this too).  Returns the rounds in which
 * every answer was either: all of them.
 */
static int
query_damaged(const char *dir, int rounds)
{
	struct vindex_meta m = { .generation = 1, .uuid = "u", .model =
	    "local:hash-v1-8", .dim = UDIM, .quant = VINDEX_QUANT_INT8 };
	struct ustate a = { 0 };
	struct bm25_list l[NVOCAB];
	struct bm25_hit h[10];
	struct vindex_term vt;
	struct vindex *v;
	struct rp_err err;
	uint64_t keep[1] = { 0x5555555555555555u };
	char *pa = xasprintf("%s/q-vec", dir);
	int done = 0, sound, exact;
	size_t nl, rows;
	long n;

	a.c = xreallocarray(NULL, 64, sizeof(*a.c));
	for (int round = 0; round < rounds; round++) {
		useed = 2000 + (uint64_t)round;
		if (damage_file(pa, &m, &a, 1) != 0 ||
		    (v = vindex_open(pa, &m, &err)) == NULL)
			break;
		rows = vindex_count(v);
		sound = 1;
		nl = 0;
		for (int w = 0; w < NVOCAB; w++) {
			(void)vindex_term_df(v, vocab[w], strlen(vocab[w]));
			if (vindex_term(v, vocab[w], strlen(vocab[w]),
			    &vt) == 1 && vt.nall > 0)
				l[nl++] = (struct bm25_list){ vt.top, vt.ntop,
				    vt.all, vt.nall, vt.cutoff, 1 };
		}
		for (int kept = 0; kept < 2; kept++) {
			n = bm25_topk(l, nl, 10, kept ? keep : NULL, rows, h,
			    &exact);
			for (long i = 0; i < n; i++)
				sound &= h[i].row < rows;
		}
		vindex_close(v);
		done += sound;
	}
	unlink(pa);
	free(pa);
	free(a.c);
	return done;
}

static void
update_tests(const char *dir)
{
	int good = 1;

	for (uint64_t seed = 1; seed <= 60; seed++)
		good &= update_round(dir, seed, 1 + seed % 40, 0, seed % 3 == 0 ?
		    VINDEX_QUANT_INT8 : VINDEX_QUANT_AUTO, 0);
	ok(good, "updates of small stores are their builds, byte for byte "
	    "(60 rounds, with and without int8)");
	ok(update_round(dir, 77, 30, 0, VINDEX_QUANT_INT8, 1),
	    "every document written again or deleted");
	ok(update_round(dir, 78, 6000, 1, VINDEX_QUANT_INT8, 0),
	    "a term past the cap: its highest postings chosen again");
	update_refusals(dir);
	update_unsorted_terms(dir);
	is_int(update_damaged(dir, 40), 40, "updates from damaged files "
	    "read nothing outside them (40 rounds)");
	is_int(query_damaged(dir, 60), 60, "queries of damaged files read "
	    "nothing outside them and name no row past the last (60 "
	    "rounds)");
}

int
main(void)
{
	char dir[] = "/tmp/t-vindex.XXXXXX", *path;
	struct vindex_meta m = { .generation = 7, .uuid = "u1",
	    .model = "local:hash-v1-33", .dim = 33, .count = 50, .nchunks = 51,
	    .quant = VINDEX_QUANT_AUTO }, w;
	struct vindex *v;
	struct rp_err err;
	struct gen g = { 0, 50, 33 };
	float row[1024];
	struct vindex_term vt;
	int64_t id, doc;
	uint32_t len;
	const float *first = NULL;
	int same, fd;

	if (mkdtemp(dir) == NULL)
		return 1;
	path = xasprintf("%s/kb.db-vec", dir);

	is_int(write_file(path, &m), 0, "write a file of 50 rows");
	v = vindex_open(path, &m, &err);
	ok(v != NULL, "open it");
	is_int(vindex_count(v), 50, "count");
	is_int(vindex_dim(v), 33, "dim");
	is_int(vindex_nchunks(v), 51, "the number of chunks");
	is_int(vindex_quant(v), VINDEX_QUANT_NONE, "auto: small is float only");
	ok(vindex_codes(v) == NULL && vindex_scales(v) == NULL, "no int8");
	ok((uintptr_t)vindex_rows(v) % 64 == 0, "rows 64-byte aligned");
	same = 1;
	for (size_t i = 0; i < 50; i++) {
		rows_fn(&g, &id, &doc, row, &len, &err);
		same &= vindex_ids(v)[i] == id && vindex_docs(v)[i] == doc &&
		    memcmp(vindex_rows(v) + i * 33, row, 33 *
		    sizeof(float)) == 0;
	}
	ok(same, "ids, documents and rows as written");
	ok(vindex_lens(v)[7] == 2 && vindex_lens(v)[49] == 4,
	    "each row's length");
	is_int(vindex_term_df(v, "ab", 2), 101, "df of a term");
	is_int(vindex_term_df(v, "abc", 3), 102, "a term whose prefix is one");
	is_int(vindex_term_df(v, "a", 1), 103, "a term that is a prefix");
	is_int(vindex_term_df(v, "zebra", 5), 100, "the last term");
	is_int(vindex_term_df(v, "b\xc3\xa9", 3), 104, "a UTF-8 term");
	is_int(vindex_term_df(v, "abd", 3), 0, "an absent term");
	is_int(vindex_term_df(v, "", 0), 0, "the empty term");
	ok(postings_ok(v, 0) && postings_ok(v, 2) && postings_ok(v, 4),
	    "each term's postings, in row order; capped ones apart");
	ok(!vindex_term(v, "abd", 3, &vt) && vt.nall == 0 && vt.all == NULL,
	    "an absent term has no postings");
	vindex_close(v);

	/* Stale: each thing the header must match. */
	w = m, w.generation = 8;
	ok(vindex_open(path, &w, &err) == NULL && err.code == RP_EXIT_OK,
	    "another generation is stale (status 0)");
	w = m, snprintf(w.uuid, sizeof(w.uuid), "u2");
	ok(vindex_open(path, &w, &err) == NULL, "another store is stale");
	w = m, snprintf(w.model, sizeof(w.model), "x");
	ok(vindex_open(path, &w, &err) == NULL, "another model is stale");
	w = m, w.dim = 34;
	ok(vindex_open(path, &w, &err) == NULL, "another dim is stale");
	w = m, w.quant = VINDEX_QUANT_NONE;
	ok(vindex_open(path, &w, &err) == NULL, "another quant setting is "
	    "stale, though it would give the same file");
	w = m, w.count = 49, w.nchunks = 3;
	ok((v = vindex_open(path, &w, &err)) != NULL, "count and nchunks "
	    "come from the file");
	vindex_close(v);

	/* An older generation never replaces a newer one. */
	w = m, w.generation = 6, w.count = 3;
	is_int(write_file(path, &w), 0, "writing an older generation "
	    "succeeds");
	ok((v = vindex_open(path, &m, &err)) != NULL && vindex_count(v) == 50,
	    "but leaves the newer file");
	vindex_close(v);

	/* A failed write leaves the old file and no temporary one. */
	ok(vindex_write(path, &m, failing_rows, NULL, NULL, NULL, &err) != 0 &&
	    strcmp(err.msg, "no more") == 0, "a row function's error");
	ok((v = vindex_open(path, &m, &err)) != NULL, "the old file stays");
	vindex_close(v);

	/* int8: asked for, the codes are the rows quantised. */
	w = m, w.quant = VINDEX_QUANT_INT8;
	is_int(write_file(path, &w), 0, "write with int8");
	ok(vindex_open(path, &m, &err) == NULL, "not fresh for auto");
	ok((v = vindex_open(path, &w, &err)) != NULL, "fresh for int8");
	is_int(vindex_quant(v), VINDEX_QUANT_INT8, "int8 built");
	g.i = 0;
	same = vindex_codes(v) != NULL && (uintptr_t)vindex_codes(v) % 64 == 0;
	for (size_t i = 0; same && i < 50; i++) {
		int8_t code[64];

		rows_fn(&g, &id, &doc, row, &len, &err);
		same = vec_quantize(row, 33, code, 64) == vindex_scales(v)[i] &&
		    memcmp(code, vindex_codes(v) + i * 64, 64) == 0;
	}
	ok(same, "codes and scales are the rows quantised, 64-byte aligned");
	is_int(vindex_term_df(v, "abc", 3), 102, "terms after the int8 rows");
	ok(postings_ok(v, 1), "postings after the int8 rows");
	vindex_close(v);

	/* Large: sections on 2 MiB, mapped on 2 MiB. */
	w = m, w.dim = 1024, w.count = 1500, w.quant = VINDEX_QUANT_INT8;
	snprintf(w.model, sizeof(w.model), "local:hash-v1-1024");
	is_int(write_file(path, &w), 0, "write 1500 rows of 1024");
	ok((v = vindex_open(path, &w, &err)) != NULL, "open it");
	ok((uintptr_t)vindex_rows(v) % (2 << 20) == 0 &&
	    (uintptr_t)vindex_codes(v) % (2 << 20) == 0,
	    "large sections are 2 MiB aligned in memory");
	is_int(vindex_term_df(v, "zebra", 5), 100, "its terms");
	ok(postings_ok(v, 3), "and postings");
	/* Rows read apart: the first 4 MiB of them, in the order asked. */
	same = 1;
	for (size_t i = 0; i < 1500; i++) {
		size_t r = (i * 7919) % 1500;
		const float *p = vindex_row(v, r), *mapped = vindex_rows(v) +
		    r * 1024;

		same &= memcmp(p, mapped, 1024 * sizeof(float)) == 0 &&
		    (i < 1024 ? p != mapped : p == mapped);
		if (i == 0)
			first = p;
		else if (i < 1024)
			same &= p == first;	/* one buffer, not kept */
	}
	ok(same, "vindex_row: every row as mapped; the first 1024 of 4 KiB "
	    "read into one buffer, the rest the mapping's");
	vindex_close(v);

	/* Damaged files are refused, never read past. */
	fd = open(path, O_WRONLY);
	ok(fd >= 0 && ftruncate(fd, 5000) == 0, "cut the file short");
	close(fd);
	ok(vindex_open(path, &w, &err) == NULL && err.code == RP_EXIT_OK &&
	    strstr(err.msg, "damaged") != NULL, "a short file is damaged");
	is_int(write_file(path, &m), 0, "write again");
	fd = open(path, O_WRONLY);
	ok(fd >= 0 && pwrite(fd, "\x02\x00\x00\x00", 4, 8) == 4, "set the "
	    "version to 2");
	close(fd);
	ok(vindex_open(path, &m, &err) == NULL && strstr(err.msg, "damaged"),
	    "an old version is rebuilt");
	is_int(write_file(path, &m), 0, "write again");
	fd = open(path, O_WRONLY);
	ok(fd >= 0 && pwrite(fd, "\xff\xff\xff\x7f", 4, 40) == 4,
	    "damage the offset of the rows");
	close(fd);
	ok(vindex_open(path, &m, &err) == NULL, "offsets that do not add up "
	    "are damage");
	unlink(path);
	ok(vindex_open(path, &m, &err) == NULL && err.code == RP_EXIT_OK,
	    "a missing file is not an error");

	/* auto: int8 past VINDEX_AUTO_BYTES of float rows. */
	w = m, w.dim = 384, w.count = VINDEX_AUTO_BYTES / (4 * 384);
	is_int(vindex_resolve(&w), VINDEX_QUANT_NONE, "auto at the limit: "
	    "float");
	w.count++;
	is_int(vindex_resolve(&w), VINDEX_QUANT_INT8, "auto past it: int8");
	w.quant = VINDEX_QUANT_NONE;
	is_int(vindex_resolve(&w), VINDEX_QUANT_NONE, "none is none");
	w.quant = VINDEX_QUANT_INT8, w.count = 1;
	is_int(vindex_resolve(&w), VINDEX_QUANT_INT8, "int8 is int8");
	is_str(vindex_quant_name(VINDEX_QUANT_INT8), "int8", "names");
	is_int(vindex_quant_parse("none"), VINDEX_QUANT_NONE, "parse");
	is_int(vindex_quant_parse("int4"), -1, "parse refuses others");
	update_tests(dir);
	rmdir(dir);
	free(path);
	return tap_done();
}
