/* t-store: the SQLite store, written and read back through its API. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "rp.h"
#include "analyze.h"
#include "store.h"
#include "tap.h"
#include "vec.h"

static long
search_k(struct store *s, const char *q, const char *glob, size_t k,
    int exact, struct store_hit **hits)
{
	struct rp_err err;
	char **terms;
	size_t n = analyze_query(q, &terms);
	long rc = store_bm25(s, terms, n, glob, k, exact, hits, &err);

	analyze_terms_free(terms, n);
	return rc;
}

static long
search(struct store *s, const char *q, const char *glob,
    struct store_hit **hits)
{
	return search_k(s, q, glob, 10, 1, hits);
}

static char *
first_doc(struct store *s, const char *q)
{
	struct store_hit *h;
	struct store_row row;
	struct rp_err err;
	char *doc = NULL;

	if (search(s, q, NULL, &h) > 0 &&
	    store_row_get(s, h[0].id, &row, &err) == 0) {
		doc = xstrdup(row.doc);
		store_row_release(&row);
	}
	free(h);
	return doc;
}

/*
 * A new store at PATH with N one-chunk documents "d<i>" and "big", of
 * 40 chunks, committed 500 documents at a time as rag-index does.
 */
static struct store *
filled(const char *path, int n)
{
	struct store_chunk c[40];
	struct store_doc d = { .title = "T", .mtime = 1, .size = 1 };
	struct rp_err err;
	struct store *s;
	char name[32], text[40][160];

	if ((s = store_open(path, STORE_CREATE, &err)) == NULL)
		return NULL;
	memset(c, 0, sizeof(c));
	for (int i = 0; i <= n; i++) {
		int k = i < n ? 1 : 40;

		if (i % 500 == 0 && store_begin(s, &err) != 0)
			break;
		snprintf(name, sizeof(name), i < n ? "d%d" : "big", i);
		d.path = name;
		for (int j = 0; j < k; j++) {
			snprintf(text[j], sizeof(text[j]), "document %d part %d "
			    "of w%d and w%d, with v%d, x%d and the common "
			    "words lease rent", i, j, i % 997, (i * 7) % 991,
			    (i + j) % 89, j);
			c[j].seq = j;
			c[j].text = text[j];
			c[j].len = strlen(text[j]);
			c[j].line = 1;
		}
		if (store_put_doc(s, &d, c, (size_t)k, STORE_PUT_NO_UNDO,
		    &err) != 0)
			break;
		if ((i % 500 == 499 || i == n) && store_commit(s, &err) != 0)
			break;
	}
	return s;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * The median of the pages that deleting documents d1, d3, ... d17 of S
 * touched, one transaction each, and the pages for "big" in *BIG.
 */
static int64_t
delete_pages(struct store *s, int64_t *big)
{
	struct rp_err err;
	int64_t p[9];
	char name[32];

	for (int i = 0; i < 9; i++) {
		snprintf(name, sizeof(name), "d%d", 2 * i + 1);
		store_pages(s);
		if (store_begin(s, &err) != 0 ||
		    store_delete_doc(s, name, &err) != 1 ||
		    store_commit(s, &err) != 0)
			return -1;
		p[i] = store_pages(s);
	}
	store_pages(s);
	if (store_begin(s, &err) != 0 ||
	    store_delete_doc(s, "big", &err) != 1 ||
	    store_commit(s, &err) != 0)
		return -1;
	*big = store_pages(s);
	qsort(p, 9, sizeof(p[0]), cmp_i64);
	return p[4];
}

static int
cmp_hit_id(const void *a, const void *b)
{
	const struct store_hit *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/*
 * Do A and B hold the same ids with the same scores (to 1e-6: impacts are
 * float32), in any
 * order (ties may come in either)?  Sorts both.
 */
static int
same_hits(struct store_hit *a, long na, struct store_hit *b, long nb)
{
	if (na != nb || na <= 0)
		return 0;
	qsort(a, (size_t)na, sizeof(*a), cmp_hit_id);
	qsort(b, (size_t)nb, sizeof(*b), cmp_hit_id);
	for (long i = 0; i < na; i++)
		if (a[i].id != b[i].id ||
		    fabs(a[i].score - b[i].score) > 1e-6 * fabs(b[i].score))
			return 0;
	return 1;
}

/*
 * Are the rows of store_glob_rows(GLOB) of S (the vectors V) exactly
 * those whose document's path SQLite's GLOB matches, WANT of them?
 */
static int
glob_rows_ok(struct store *s, const struct store_vectors *v, const char *glob,
    size_t want)
{
	const uint64_t *keep;
	struct store_row row;
	struct rp_err err;
	size_t count, seen = 0;
	int right = 1;

	if (store_glob_rows(s, glob, &keep, &count, &err) != 0)
		return 0;
	for (size_t r = 0; r < v->n; r++) {
		if (store_row_get(s, v->ids[r], &row, &err) != 0)
			return 0;
		right &= !VEC_IN(keep, r) == (sqlite3_strglob(glob,
		    row.doc) != 0);
		seen += VEC_IN(keep, r);
		store_row_release(&row);
	}
	return right && seen == count && count == want;
}

/*
 * The full-text leg over the vector file's postings (issue 6): the same
 * hits and scores as FTS5's bm25, its documents filtered as FTS5 does.
 */
static void
bm25_postings(const char *dir)
{
	static const char *const qs[] = { "w5 lease", "v3 w5 lease",
	    "lease rent", "x0 document", "part of w7", "nothing" };
	struct store_chunk c[3];
	struct store_doc d = { .title = "Lease notes", .mtime = 1, .size = 1,
	    .model = "local:hash-v1-8", .dim = 8 };
	struct store_hit *a, *b;
	struct store_vectors v;
	struct rp_err err;
	struct store *s;
	char *path = xasprintf("%s/post.db", dir), name[32], text[3][160];
	float vec[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
	long na, nb;
	int same = 1, ok1;

	if ((s = store_open(path, STORE_CREATE, &err)) == NULL ||
	    store_begin(s, &err) != 0) {
		ok(0, "a store with vectors: %s", err.msg);
		return;
	}
	memset(c, 0, sizeof(c));
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		d.path = name;
		for (int j = 0; j < 3; j++) {
			snprintf(text[j], sizeof(text[j]), "document %d part "
			    "%d of w%d and w%d, with v%d, x%d and the common "
			    "words lease rent%s", i, j, i % 97, (i * 7) % 91,
			    (i + j) % 19, j, i % 5 ? "" : " lease lease");
			c[j].seq = j;
			c[j].text = text[j];
			c[j].len = strlen(text[j]);
			c[j].line = 1;
			c[j].vec = vec;
		}
		if (store_put_doc(s, &d, c, 3, 0, &err) != 0)
			break;
	}
	ok1 = store_commit(s, &err) == 0 && store_sync_vectors(s, NULL, &err) == 0;
	store_close(s);
	s = store_open(path, STORE_READONLY, &err);
	ok(ok1 && s != NULL && store_vectors(s, &v, &err) == 0 && v.mapped &&
	    v.n == 900, "a store of 900 chunks with vectors, mapped");
	for (size_t i = 0; s != NULL && i < RP_NELEM(qs); i++) {
		na = search_k(s, qs[i], NULL, 2000, 0, &a);
		nb = search_k(s, qs[i], NULL, 2000, 1, &b);
		same &= (na == 0 && nb == 0) || same_hits(a, na, b, nb);
		free(a);
		free(b);
	}
	ok(same, "postings: the hits and scores of FTS5's bm25");
	na = search_k(s, "w5 lease", NULL, 5, 0, &a);
	ok(na == 5 && a[0].score >= a[4].score, "postings: the best first");
	free(a);
	na = search_k(s, "lease", "d1*", 2000, 0, &a);
	nb = search_k(s, "lease", "d1*", 2000, 1, &b);
	ok(same_hits(a, na, b, nb) && na == 3 * 111, "postings: a filter "
	    "keeps its documents' chunks (%ld)", na);
	free(a);
	free(b);
	ok(glob_rows_ok(s, &v, "d1*", 3 * 111) &&
	    glob_rows_ok(s, &v, "d29?", 3 * 10) &&
	    glob_rows_ok(s, &v, "*[05]", 3 * 60) &&
	    glob_rows_ok(s, &v, "x*", 0), "a filter's rows, from the "
	    "vector file: those of the documents that match");
	store_close(s);
	/* No vector file can be written: the vectors are read into memory. */
	{
		char *vp = xasprintf("%s-vec", path);

		unlink(vp);
		mkdir(vp, 0755);
		s = store_open(path, STORE_READONLY, &err);
		ok(s != NULL && store_vectors(s, &v, &err) == 0 && !v.mapped &&
		    v.n == 900 && glob_rows_ok(s, &v, "d1*", 3 * 111),
		    "a filter's rows, from the vectors read into memory");
		store_close(s);
		rmdir(vp);
		free(vp);
	}
	for (int i = 0; i < 4; i++) {
		static const char *const sfx[] = { "", "-wal", "-shm", "-vec" };
		char *p = xasprintf("%s%s", path, sfx[i]);

		unlink(p);
		free(p);
	}
	free(path);
}

/*
 * Deleting a document costs work in proportion to the document, not the
 * store (issue 5): counted in database pages read and written, which
 * does not depend on the machine's speed.
 */
static void
delete_cost(const char *dir)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char *small_path = xasprintf("%s/small.db", dir);
	char *large_path = xasprintf("%s/large.db", dir);
	struct store *small = filled(small_path, 100);
	struct store *large = filled(large_path, 10000);
	int64_t ps, pl, bs = 0, bl = 0;

	ok(small != NULL && large != NULL, "stores of 100 and 10,000 "
	    "documents");
	ps = small != NULL ? delete_pages(small, &bs) : -1;
	pl = large != NULL ? delete_pages(large, &bl) : -1;
	ok(ps > 0 && pl > 0, "deletes: %lld pages in the small store, %lld "
	    "in the large (median of 9)", (long long)ps, (long long)pl);
	ok(pl <= 3 * ps, "a delete in a store 100 times larger touches at "
	    "most 3 times the pages (%lld, %lld)", (long long)pl,
	    (long long)ps);
	ok(bs > 2 * ps && bl <= 3 * bs, "a 40-chunk document costs more "
	    "(%lld pages), the same in either store (%lld)", (long long)bs,
	    (long long)bl);
	store_close(small);
	store_close(large);
	for (int i = 0; i < 3; i++) {
		char *a = xasprintf("%s%s", small_path, suffix[i]);
		char *b = xasprintf("%s%s", large_path, suffix[i]);

		unlink(a);
		unlink(b);
		free(a);
		free(b);
	}
	free(small_path);
	free(large_path);
}

static void
sql(const char *path, const char *q)
{
	char *cmd = xasprintf("sqlite3 '%s' '%s'", path, q);
	FILE *pp = popen(cmd, "r");

	pclose(pp);
	free(cmd);
}

/* Vectors with prefixes, the embedding cache, and schema version 1. */
static void
test_cache(const char *dir)
{
	float v[4] = { 0.5f, -0.5f, 0.5f, 0.5f }, raw[3] = { 1.25f, -3e-8f,
	    7.0f }, *got;
	struct store_chunk c = { .seq = 0, .line = 1, .text = "boiler",
	    .len = 6, .vec = v };
	struct store_doc d = { .path = "a.md", .mtime = -1, .size = -1,
	    .model = "openai:m", .dim = 4, .doc_prefix = "d: ",
	    .query_prefix = "q: ", .dimensions = 4 };
	unsigned char h[STORE_HASH_LEN], h2[STORE_HASH_LEN];
	struct store_embed e;
	struct store_stats st;
	struct rp_err err;
	struct store *s;
	char *path = xasprintf("%s/cache.db", dir);
	size_t dim;

	s = store_open(path, STORE_CREATE, &err);
	ok(store_begin(s, &err) == 0 && store_put_doc(s, &d, &c, 1, 0, &err) == 0,
	    "a document with prefixes");
	d.path = "b.md";
	d.query_prefix = "query: ";
	is_int(store_put_doc(s, &d, &c, 1, 0, &err), -1, "other prefixes: -1");
	is_int(err.code, RP_EXIT_DATA, "... RP_EXIT_DATA");
	is_str(err.msg, "'query_prefix' is 'query: ', but the store's vectors "
	    "were made with 'q: '; use the same prefixes, or another store",
	    "... and says why");
	d.query_prefix = "q: ";
	ok(store_put_doc(s, &d, &c, 1, 0, &err) == 0, "the same prefixes: fine");
	is_int(store_embed_get(s, &e, &err), 1, "embed_get: 1");
	ok(strcmp(e.model, "openai:m") == 0 && e.dim == 4 &&
	    e.dimensions == 4 && strcmp(e.doc_prefix, "d: ") == 0 &&
	    strcmp(e.query_prefix, "q: ") == 0, "embed_get: all of it");
	store_embed_release(&e);

	store_text_hash("d: ", "boiler", 6, h);
	store_text_hash(NULL, "d: boiler", 9, h2);
	ok(memcmp(h, h2, sizeof(h)) == 0, "text hash: the prefix is text");
	is_int(store_cache_get(s, "openai:m", 0, h, &got, &dim, &err), 0,
	    "cache: a miss");
	ok(store_cache_put(s, "openai:m", 0, h, raw, 3, &err) == 0,
	    "cache: put");
	ok(store_commit(s, &err) == 0, "commit");
	is_int(store_cache_get(s, "openai:m", 0, h, &got, &dim, &err), 1,
	    "cache: a hit");
	ok(dim == 3 && memcmp(got, raw, sizeof(raw)) == 0,
	    "cache: the very floats");
	free(got);
	is_int(store_cache_get(s, "openai:m", 256, h, &got, &dim, &err), 0,
	    "cache: other dimensions miss");
	is_int(store_cache_get(s, "ollama:m", 0, h, &got, &dim, &err), 0,
	    "cache: another model misses");
	store_close(s);

	/* A store of version 1: readers take it as it is. */
	sql(path, "DROP TABLE embed_cache; PRAGMA user_version=1");
	s = store_open(path, STORE_READONLY, &err);
	ok(s != NULL, "version 1: opens read-only");
	ok(s != NULL && store_stats(s, &st, &err) == 0 &&
	    st.schema_version == 1 && st.documents == 2,
	    "version 1: read as it is");
	is_int(store_cache_get(s, "openai:m", 0, h, &got, &dim, &err), 0,
	    "version 1: the cache is empty");
	store_close(s);
	s = store_open(path, 0, &err);
	ok(s != NULL && store_stats(s, &st, &err) == 0 &&
	    st.schema_version == STORE_SCHEMA_VERSION, "a writer migrates it "
	    "to the current version");
	ok(store_begin(s, &err) == 0 && store_cache_put(s, "openai:m", 0, h,
	    raw, 3, &err) == 0 && store_commit(s, &err) == 0,
	    "... and the cache takes entries");
	store_close(s);
	free(path);
}

int
main(void)
{
	char dir[] = "/tmp/t-store.XXXXXX", *path, *p;
	struct store_chunk c[2] = {
		{ .seq = 0, .start = 0, .end = 30, .line = 1,
		  .section = "Renewal", .text = "The lease ends on 31 May 2027.",
		  .len = 30, .extra = "{\"page\":3}" },
		{ .seq = 1, .start = 31, .end = 60, .line = 4,
		  .text = "東京都の家賃は高いです", .len = 33 },
	};
	struct store_doc d = { .path = "notes/lease.md", .title = "Lease",
	    .sha256 = "ab12", .mtime = 100, .size = 60 };
	struct store_stats st;
	struct store_hit *h;
	struct store_row row;
	struct rp_err err;
	struct store *s;
	FILE *f;
	long n;

	ok(mkdtemp(dir) != NULL, "temporary directory");
	path = xasprintf("%s/kb.db", dir);
	s = store_open(path, STORE_READONLY, &err);
	ok(s == NULL && err.code == RP_EXIT_IO, "read-only open of a missing "
	    "store fails as I/O");
	s = store_open(path, STORE_CREATE, &err);
	ok(s != NULL, "create a store");
	ok(store_begin(s, &err) == 0, "begin");
	ok(store_put_doc(s, &d, c, 2, 0, &err) == 0, "put a document");
	ok(store_commit(s, &err) == 0, "commit");

	n = search(s, "When does it END in May?", NULL, &h);
	is_int(n, 1, "a question finds the chunk");
	ok(n == 1 && h[0].score > 0, "with a positive score");
	ok(store_row_get(s, h[0].id, &row, &err) == 0, "read the hit back");
	is_str(row.doc, "notes/lease.md", "doc");
	is_str(row.title, "Lease", "title");
	is_str(row.section, "Renewal", "section");
	is_str(row.text, c[0].text, "text survives compression");
	is_str(row.extra, "{\"page\":3}", "extra fields are kept");
	is_int(row.line, 1, "line");
	store_row_release(&row);
	free(h);
	p = first_doc(s, "東京の家賃");
	is_str(p, "notes/lease.md", "CJK text is found by a CJK question");
	free(p);
	is_int(search(s, "\"unbalanced AND ( NEAR * -x", NULL, &h), 0,
	    "FTS5 syntax in a question is just words");
	free(h);
	is_int(search(s, "lease", "other/*", &h), 0, "a filter excludes");
	free(h);
	is_int(search(s, "lease", "notes/*", &h), 2, "a filter includes "
	    "(the title is indexed with every chunk)");
	free(h);

	/* Replace the document with one chunk: old text must be gone. */
	c[0].text = "Rent is due monthly.";
	c[0].len = strlen(c[0].text);
	ok(store_begin(s, &err) == 0 && store_put_doc(s, &d, c, 1, 0, &err) ==
	    0 && store_commit(s, &err) == 0, "replace the document");
	is_int(search(s, "ends may", NULL, &h), 0, "old words are gone "
	    "from the index");
	free(h);
	p = first_doc(s, "rent monthly");
	is_str(p, "notes/lease.md", "new words are found");
	free(p);
	ok(store_stats(s, &st, &err) == 0, "stats");
	is_int(st.documents, 1, "one document");
	is_int(st.chunks, 1, "one chunk");
	is_int(st.text_bytes, 20, "text bytes");
	is_int(st.schema_version, STORE_SCHEMA_VERSION, "schema version");

	ok(store_begin(s, &err) == 0, "begin a delete");
	is_int(store_delete_doc(s, "notes/lease.md", &err), 1, "delete it");
	is_int(store_delete_doc(s, "notes/none.md", &err), 0, "absent doc");
	ok(store_commit(s, &err) == 0, "commit the delete");
	is_int(search(s, "rent", NULL, &h), 0, "deleted text is not found");
	free(h);
	ok(store_stats(s, &st, &err) == 0 && st.documents == 0 &&
	    st.chunks == 0, "the store is empty");

	ok(store_begin(s, &err) == 0, "begin, then roll back");
	ok(store_put_doc(s, &d, c, 1, 0, &err) == 0, "a put");
	store_rollback(s);
	ok(store_stats(s, &st, &err) == 0 && st.documents == 0,
	    "a rolled back put leaves nothing");
	store_close(s);

	s = store_open(path, STORE_READONLY, &err);
	ok(s != NULL, "reopen read-only");
	ok(s != NULL && store_begin(s, &err) == -1, "read-only refuses "
	    "writes");
	store_close(s);

	/* Files that are not stores are refused and left alone. */
	p = xasprintf("%s/notes.txt", dir);
	f = fopen(p, "w");
	fputs("not a database, but plenty of bytes to look like one......"
	    "..................................................", f);
	fclose(f);
	s = store_open(p, STORE_CREATE, &err);
	ok(s == NULL && err.code == RP_EXIT_DATA, "a text file is refused");
	unlink(p);
	free(p);
	p = xasprintf("%s/newer.db", dir);
	s = store_open(p, STORE_CREATE, &err);
	store_close(s);
	{
		char *cmd = xasprintf("sqlite3 '%s' 'PRAGMA user_version=99'",
		    p);
		FILE *pp = popen(cmd, "r");

		pclose(pp);
		free(cmd);
	}
	s = store_open(p, STORE_CREATE, &err);
	ok(s == NULL && err.code == RP_EXIT_DATA && strstr(err.msg,
	    "newer") != NULL, "a newer schema version is refused");
	free(p);
	test_cache(dir);
	p = store_default_path(getenv);
	ok(p != NULL, "a default path exists with HOME set");
	free(p);
	free(path);
	delete_cost(dir);
	bm25_postings(dir);
	return tap_done();
}
