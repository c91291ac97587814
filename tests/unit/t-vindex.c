/* t-vindex: the vector file: layout, freshness, int8 copy, term table. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rp.h"
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
rows_fn(void *arg, int64_t *id, int64_t *doc, float *row,
    struct rp_err *err)
{
	struct gen *g = arg;

	(void)err;
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
failing_rows(void *arg, int64_t *id, int64_t *doc, float *row,
    struct rp_err *err)
{
	(void)arg;
	(void)id;
	(void)doc;
	(void)row;
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
		rows_fn(&g, &id, &doc, row, &err);
		same &= vindex_ids(v)[i] == id && vindex_docs(v)[i] == doc &&
		    memcmp(vindex_rows(v) + i * 33, row, 33 *
		    sizeof(float)) == 0;
	}
	ok(same, "ids, documents and rows as written");
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

		rows_fn(&g, &id, &doc, row, &err);
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
	rmdir(dir);
	free(path);
	return tap_done();
}
