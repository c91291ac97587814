/* t-store: the SQLite store, written and read back through its API. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp.h"
#include "analyze.h"
#include "store.h"
#include "tap.h"

static long
search(struct store *s, const char *q, const char *glob,
    struct store_hit **hits)
{
	struct rp_err err;
	char **terms;
	size_t n = analyze_query(q, &terms);
	long rc = store_bm25(s, terms, n, glob, 10, hits, &err);

	analyze_terms_free(terms, n);
	return rc;
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
	ok(store_put_doc(s, &d, c, 2, &err) == 0, "put a document");
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
	ok(store_begin(s, &err) == 0 && store_put_doc(s, &d, c, 1, &err) ==
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
	ok(store_put_doc(s, &d, c, 1, &err) == 0, "a put");
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
	p = store_default_path(getenv);
	ok(p != NULL, "a default path exists with HOME set");
	free(p);
	free(path);
	return tap_done();
}
