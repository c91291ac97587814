/* store: the SQLite file of documents, chunks, vectors and FTS5. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "rp.h"
#include "buf.h"
#include "analyze.h"
#include "bm25.h"
#include "embed.h"
#include "sha256.h"
#include "vec.h"
#include "vindex.h"
#include "zst.h"
#include "store.h"

#define APPLICATION_ID	0x52414750	/* "RAGP" */
#define PAGE_SIZE	8192		/* best for BLOB I/O (interfaces.md 4.3) */

/*
 * BM25 column weights (title, section, body): see rag-query(1).  The
 * schema names them as text, rp_bm25 uses them as numbers.
 */
#define W_TITLE		2.0
#define W_SECTION	1.0
#define W_BODY		1.0

/* The full-text table's columns and tokenizer (schema_v1). */
#define FTS_ARGS	"title, section, body, content='', " \
			"tokenize='porter unicode61 remove_diacritics 2'"
#define STR_(x)		#x
#define STR(x)		STR_(x)

enum stmt {
	DOC_FIND,
	DOC_INFO,
	DOC_RANGE,
	DOC_INSERT,
	DOC_UPDATE,
	DOC_DELETE,
	DOC_TOUCH,
	CHUNKS_OF,
	CHUNKS_DELETE,
	CHUNK_INSERT,
	FTS_INSERT,
	FTS_DELETE,
	ROW_GET,
	BM25,
	BM25_GLOB,
	META_SET,
	META_GET,
	VEC_INSERT,
	DOCS_GLOB,
	DOCS_MAX,
	TERM_DF,
	CACHE_GET,
	CACHE_PUT,
	LOG_DOC,
	NSTMT
};

static const char *const sql[NSTMT] = {
	[DOC_FIND] = "SELECT id, title FROM docs WHERE path = ?1",
	[DOC_INFO] = "SELECT mtime, size, nchunks, sha256, title FROM docs "
	    "WHERE path = ?1",
	[DOC_RANGE] = "SELECT mtime, size, nchunks, sha256, title, path "
	    "FROM docs WHERE path >= ?1 ORDER BY path",
	[DOC_INSERT] = "INSERT INTO docs(path, title, sha256, mtime, size, "
	    "nchunks, indexed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[DOC_UPDATE] = "UPDATE docs SET title = ?2, sha256 = ?3, mtime = ?4, "
	    "size = ?5, nchunks = ?6, indexed = ?7 WHERE id = ?1",
	[DOC_DELETE] = "DELETE FROM docs WHERE id = ?1",
	[DOC_TOUCH] = "UPDATE docs SET mtime = ?2, size = ?3 WHERE path = ?1",
	[CHUNKS_OF] = "SELECT id, section, body FROM chunks WHERE doc = ?1",
	[CHUNKS_DELETE] = "DELETE FROM chunks WHERE doc = ?1",
	[CHUNK_INSERT] = "INSERT INTO chunks(doc, seq, start_byte, end_byte, "
	    "line, section, len, body, extra) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[FTS_INSERT] = "INSERT INTO fts(rowid, title, section, body) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[FTS_DELETE] = "INSERT INTO fts(fts, rowid, title, section, body) "
	    "VALUES ('delete', ?1, ?2, ?3, ?4)",
	[ROW_GET] = "SELECT c.id, d.path, d.title, c.seq, c.start_byte, "
	    "c.end_byte, c.line, c.section, c.body, c.extra "
	    "FROM chunks c JOIN docs d ON d.id = c.doc WHERE c.id = ?1",
	[BM25] = "SELECT rowid, rank FROM fts WHERE fts MATCH ?1 "
	    "ORDER BY rank LIMIT ?2",
	[BM25_GLOB] = "SELECT fts.rowid, fts.rank FROM fts "
	    "JOIN chunks c ON c.id = fts.rowid JOIN docs d ON d.id = c.doc "
	    "WHERE fts MATCH ?1 AND d.path GLOB ?3 ORDER BY fts.rank LIMIT ?2",
	[META_SET] = "INSERT INTO meta(key, value) VALUES (?1, ?2) "
	    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[VEC_INSERT] = "INSERT INTO vectors(chunk, v) VALUES (?1, ?2)",
	/* Each path matched once; a glob's plain prefix is a range. */
	[DOCS_GLOB] = "SELECT id FROM docs WHERE path GLOB ?1",
	[DOCS_MAX] = "SELECT max(id) FROM docs",
	[TERM_DF] = "SELECT doc FROM fts_vocab WHERE term = ?1",
	[CACHE_GET] = "SELECT v FROM embed_cache "
	    "WHERE model = ?1 AND dims = ?2 AND hash = ?3",
	[CACHE_PUT] = "INSERT OR REPLACE INTO embed_cache(model, dims, hash, v) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[LOG_DOC] = "INSERT OR REPLACE INTO vec_log(doc, gen) "
	    "SELECT ?1, value + 1 FROM meta WHERE key = 'vec_gen'",
};

/* Schema version 1.  Each later version appends a step to migrate(). */
static const char schema_v1[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
	"CREATE TABLE docs("
	"  id INTEGER PRIMARY KEY,"
	"  path TEXT NOT NULL UNIQUE,"
	"  title TEXT,"
	"  sha256 TEXT,"
	"  mtime INTEGER,"
	"  size INTEGER,"
	"  nchunks INTEGER NOT NULL,"
	"  indexed INTEGER NOT NULL);"
	"CREATE TABLE chunks("
	"  id INTEGER PRIMARY KEY,"
	"  doc INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  start_byte INTEGER NOT NULL,"
	"  end_byte INTEGER NOT NULL,"
	"  line INTEGER NOT NULL,"
	"  section TEXT,"
	"  len INTEGER NOT NULL,"		/* bytes of text */
	"  body BLOB NOT NULL,"			/* zstd frame of the text */
	"  extra TEXT,"				/* JSON: fields we keep as-is */
	"  UNIQUE(doc, seq));"
	"CREATE TABLE vectors("
	"  chunk INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,"
	"  v BLOB NOT NULL);"			/* float32, little-endian */
	"CREATE TABLE dicts(id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
	"CREATE VIRTUAL TABLE fts USING fts5(" FTS_ARGS ");"
	"CREATE VIRTUAL TABLE fts_vocab USING fts5vocab(fts, row);"
	"INSERT INTO fts(fts, rank) VALUES ('rank', 'bm25("
	    STR(W_TITLE) ", " STR(W_SECTION) ", " STR(W_BODY) ")');";

/*
 * Version 2: the embedding cache.  A vector as a model server sent it
 * (float32, little-endian, not normalised again), keyed by the model,
 * the dimensions asked for (0: the model's own) and the SHA-256 of the
 * text as sent, prefix included.  Rows outlive the chunks they came
 * with, so that a text moved to another document is not paid for twice.
 */
static const char schema_v2[] =
	"CREATE TABLE embed_cache("
	"  model TEXT NOT NULL,"
	"  dims INTEGER NOT NULL,"
	"  hash BLOB NOT NULL,"
	"  v BLOB NOT NULL,"
	"  PRIMARY KEY(model, dims, hash)) WITHOUT ROWID;";

/*
 * Version 3: the documents each write changed, for updating the vector
 * file instead of building it again (update_file): a document's row
 * holds the generation (vec_gen) of the last transaction that wrote or
 * deleted it.  The log is whole after the generation vec_log_from: a
 * transaction that finds no vector file logs nothing and moves
 * vec_log_from up to its own (store_begin, store_commit).
 */
static const char schema_v3[] =
	"CREATE TABLE IF NOT EXISTS vec_log(doc INTEGER PRIMARY KEY,"
	"  gen INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS vec_log_gen ON vec_log(gen);"
	"INSERT OR REPLACE INTO meta(key, value) "
	"  SELECT 'vec_log_from', value FROM meta WHERE key = 'vec_gen';";

struct store {
	sqlite3		*db;
	char		*path;
	unsigned	 flags;
	int		 version;	/* the schema's, once open */
	int		 in_tx;
	struct zst	*zst;
	unsigned	 dict;		/* zstd dictionary for new chunks; 0 */
	sqlite3_stmt	*stmt[NSTMT];
	int		 vec_dirty;	/* vectors changed in this transaction */
	int		 vec_log;	/* log the documents it writes */
	int		 temp_lifts;	/* temp_writes lifts in force */
	int		 in_read;	/* store_read's read transaction */
	int		 empty;		/* STORE_EMPTY_OK, and it is */
	unsigned	 timeout_ms;	/* store_set_timeout */
	double		 busy_t0;	/* when the current wait began */
	const volatile sig_atomic_t *cancel;
	struct vindex	*vi;		/* the mapped vector file */
	float		*mem_rows;	/* or the vectors read into memory */
	int64_t		*mem_ids, *mem_docs;
	size_t		 mem_n;
	struct buf	 z;		/* compressed text */
	struct buf	 t;		/* decompressed text */
	struct buf	 f;		/* text rewritten for FTS5 */
	struct buf	 dsha, dtitle;	/* store_doc_get's lent strings */
	fts5_api	*fts5;		/* FTS5's API, once asked for */
	int		 bm25_exact;	/* the last store_bm25 was exact */
	fts5_tokenizer	 tokf;		/* the fts table's tokenizer */
	Fts5Tokenizer	*tok;
	char		*kglob;		/* store_glob_rows' last answer */
	size_t		 kcount;
	uint64_t	*keep;
};

/*
 * An error from SQLite as an rp_err.  Full disks, read-only files and
 * I/O errors are I/O (74); a file that is not a database, or one that is
 * damaged (cut short, overwritten), is bad data (65), like the problems
 * rag status --check finds; a
 * store that stayed locked past the timeout is unavailable (69: another
 * process holds it, so trying again later is the cure).
 */
static int
dberr(struct store *s, struct rp_err *err, const char *what)
{
	int rc = sqlite3_extended_errcode(s->db);

	if (s->cancel != NULL && *s->cancel)
		return rp_err_set(err, RP_EXIT_FAIL, "%s: %s: interrupted",
		    s->path, what);
	switch (rc & 0xff) {
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return rp_err_set(err, RP_EXIT_DATA, "%s: %s: %s", s->path,
		    what, sqlite3_errmsg(s->db));
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return rp_err_set(err, RP_EXIT_UNAVAIL, "%s: %s: the store is "
		    "busy: another process kept it locked for more than %g s "
		    "(try again later)", s->path, what,
		    s->timeout_ms / 1000.0);
	}
	return rp_err_set(err, RP_EXIT_IO, "%s: %s: %s", s->path, what,
	    sqlite3_errmsg(s->db));
}

/*
 * SQLite's busy handler: wait for the other process with the schedule
 * of sqlite3_busy_timeout (short sleeps first), up to the timeout, and
 * give up at once when cancelled.
 */
static int
busy_wait(void *arg, int count)
{
	static const unsigned ms[] = { 1, 2, 5, 10, 15, 20, 25, 25, 25, 50,
	    50, 100 };
	struct store *s = arg;
	struct timespec ts;
	double left;
	unsigned d;

	if (s->cancel != NULL && *s->cancel)
		return 0;
	if (count == 0)
		s->busy_t0 = rp_now();
	left = s->timeout_ms / 1000.0 - (rp_now() - s->busy_t0);
	if (left <= 0)
		return 0;
	d = (size_t)count < RP_NELEM(ms) ? ms[count] : 100;
	if (d / 1000.0 > left)
		d = (unsigned)(left * 1000) + 1;
	ts.tv_sec = d / 1000;
	ts.tv_nsec = (long)(d % 1000) * 1000000;
	nanosleep(&ts, NULL);
	return 1;
}

/*
 * Put the store in WAL mode, once; afterwards the mode is kept in the
 * file.  The change needs the other connections gone, and SQLite does
 * not call the busy handler for it, so two processes creating a store
 * at once would see SQLITE_BUSY at once: wait here instead, as long as
 * the busy timeout.
 */
static int
set_wal(struct store *s, struct rp_err *err)
{
	struct timespec ts = { 0, 10 * 1000000 };
	sqlite3_stmt *st;
	const char *mode;
	double t0 = rp_now();
	int rc, wal;

	for (;;) {
		if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1,
		    &st, NULL) != SQLITE_OK)
			return dberr(s, err, "PRAGMA journal_mode = WAL");
		rc = sqlite3_step(st);
		mode = rc == SQLITE_ROW ?
		    (const char *)sqlite3_column_text(st, 0) : NULL;
		wal = mode != NULL && strcmp(mode, "wal") == 0;
		sqlite3_finalize(st);
		if (wal)
			return 0;
		if ((rc != SQLITE_BUSY && rc != SQLITE_ROW) ||
		    rp_now() - t0 > s->timeout_ms / 1000.0 ||
		    (s->cancel != NULL && *s->cancel))
			return dberr(s, err, "PRAGMA journal_mode = WAL");
		nanosleep(&ts, NULL);
	}
}

/* SQLite's progress handler: nonzero stops the statement. */
static int
progress(void *arg)
{
	struct store *s = arg;

	return s->cancel != NULL && *s->cancel;
}

static int
exec(struct store *s, const char *q, struct rp_err *err)
{
	if (sqlite3_exec(s->db, q, NULL, NULL, NULL) != SQLITE_OK)
		return dberr(s, err, q);
	return 0;
}

static sqlite3_stmt *
stmt(struct store *s, enum stmt which, struct rp_err *err)
{
	sqlite3_stmt *st = s->stmt[which];

	if (st == NULL) {
		if (sqlite3_prepare_v3(s->db, sql[which], -1,
		    SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
			dberr(s, err, "prepare");
			return NULL;
		}
		s->stmt[which] = st;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Run ST to completion, for statements that return no rows. */
static int
step_done(struct store *s, sqlite3_stmt *st, struct rp_err *err,
    const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return dberr(s, err, what);
	return 0;
}

static int
pragma_int(struct store *s, const char *q, int64_t *v, struct rp_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return dberr(s, err, "open");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(s, err, "open");
	return 0;
}

static int
meta_set_int(struct store *s, const char *key, int64_t v, struct rp_err *err)
{
	sqlite3_stmt *st = stmt(s, META_SET, err);

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	return step_done(s, st, err, "meta");
}

static int
meta_set_text(struct store *s, const char *key, const char *v,
    struct rp_err *err)
{
	sqlite3_stmt *st = stmt(s, META_SET, err);

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
	return step_done(s, st, err, "meta");
}

/* Meta value KEY as a new string in *V (NULL when absent).  0 or -1. */
static int
meta_get(struct store *s, const char *key, char **v, struct rp_err *err)
{
	sqlite3_stmt *st = stmt(s, META_GET, err);
	const char *t;
	int rc;

	*v = NULL;
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && (t = (const char *)sqlite3_column_text(st,
	    0)) != NULL)
		*v = xstrdup(t);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(s, err, "meta");
	return 0;
}

/* A random identity for a new store, so a vector file knows its store. */
static void
new_uuid(char out[33])
{
	unsigned char r[16];
	FILE *f = fopen("/dev/urandom", "rb");
	size_t got = f != NULL ? fread(r, 1, sizeof(r), f) : 0;
	uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

	if (f != NULL)
		fclose(f);
	for (size_t i = got; i < sizeof(r); i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		r[i] = (unsigned char)(x >> 56);
	}
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static int
migrate(struct store *s, struct rp_err *err)
{
	int64_t version = 0, tables = 0;
	char q[128], uuid[33];

	if (exec(s, "BEGIN IMMEDIATE", err) != 0)
		return -1;
	/* Read again inside the transaction: another process may have won. */
	if (pragma_int(s, "PRAGMA user_version", &version, err) != 0)
		goto fail;
	if (version == STORE_SCHEMA_VERSION) {
		exec(s, "COMMIT", NULL);
		return 0;
	}
	if (version == 0) {
		if (pragma_int(s, "SELECT count(*) FROM sqlite_master",
		    &tables, err) != 0)
			goto fail;
		if (tables != 0) {
			rp_err_set(err, RP_EXIT_DATA, "%s: not a ragpipe store "
			    "(a SQLite database with other tables)", s->path);
			goto fail;
		}
		if (exec(s, schema_v1, err) != 0)
			goto fail;
		snprintf(q, sizeof(q), "PRAGMA application_id = %d",
		    APPLICATION_ID);
		new_uuid(uuid);
		if (exec(s, q, err) != 0 ||
		    meta_set_int(s, "created", (int64_t)time(NULL), err) != 0 ||
		    meta_set_int(s, "fts_version", ANALYZE_FTS_VERSION,
		    err) != 0 ||
		    meta_set_text(s, "uuid", uuid, err) != 0 ||
		    meta_set_int(s, "vec_gen", 0, err) != 0)
			goto fail;
		version = 1;
	}
	if (version == 1) {
		if (exec(s, schema_v2, err) != 0)
			goto fail;
		version = 2;
	}
	if (version == 2) {
		if (exec(s, schema_v3, err) != 0)
			goto fail;
		version = 3;
	}
	snprintf(q, sizeof(q), "PRAGMA user_version = %lld", (long long)version);
	if (exec(s, q, err) != 0 || exec(s, "COMMIT", err) != 0)
		goto fail;
	return 0;
fail:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int
load_dicts(struct store *s, struct rp_err *err)
{
	sqlite3_stmt *st;
	unsigned id;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT data FROM dicts ORDER BY id",
	    -1, &st, NULL) != SQLITE_OK)
		return dberr(s, err, "dictionaries");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = zst_add_dict(s->zst, sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), err);
		if (id == 0) {
			sqlite3_finalize(st);
			return -1;
		}
		s->dict = id;	/* the newest compresses new chunks */
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dberr(s, err, "dictionaries");
	return 0;
}

/* Check that S is a ragpipe store this version can use. */
static int
identify(struct store *s, int64_t *version, struct rp_err *err)
{
	int64_t appid = 0, tables = 0;
	sqlite3_stmt *st;
	int rc;

	/*
	 * One statement, so one snapshot: read apart, a store another
	 * process creates in between would show its version but not yet
	 * its id, and look like somebody else's database.
	 */
	if (sqlite3_prepare_v2(s->db, "SELECT "
	    "(SELECT application_id FROM pragma_application_id), "
	    "(SELECT user_version FROM pragma_user_version), "
	    "(SELECT count(*) FROM sqlite_master)", -1, &st, NULL) != SQLITE_OK)
		return dberr(s, err, "open");
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		appid = sqlite3_column_int64(st, 0);
		*version = sqlite3_column_int64(st, 1);
		tables = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return dberr(s, err, "open");
	if (appid != APPLICATION_ID && (appid != 0 || *version != 0 ||
	    tables != 0))
		return rp_err_set(err, RP_EXIT_DATA, "%s: not a ragpipe store",
		    s->path);
	if (*version > STORE_SCHEMA_VERSION)
		return rp_err_set(err, RP_EXIT_DATA, "%s: store schema version "
		    "%lld is newer than this ragpipe supports (%d)", s->path,
		    (long long)*version, STORE_SCHEMA_VERSION);
	return 0;
}

/* store_open's own flag: PATH is the temporary file create() makes. */
#define STORE_NEW	(1u << 30)

/*
 * Make the store at PATH whole before anyone sees it: its schema goes
 * into a temporary file beside it, which is then linked into place.  A
 * process killed while creating a store so leaves no store at all, not
 * an empty file that every reader would refuse.  Another process that
 * creates the same store at the same time may win; then its store is
 * used.
 */
static int
create(const char *path, unsigned flags, struct rp_err *err)
{
	char *tmp = xasprintf("%s.new.%ld", path, (long)getpid());
	struct store *s;
	size_t n;
	int rc = 0;

	rp_sweep(path, ".new.");
	unlink(tmp);
	/* Closed cleanly, a WAL store needs no -wal file: just the one. */
	if ((s = store_open(tmp, (flags & ~STORE_READONLY) | STORE_CREATE |
	    STORE_NEW, err)) == NULL) {
		rc = -1;
		/* Name the store, not the temporary file. */
		n = strlen(tmp);
		if (err != NULL && strncmp(err->msg, tmp, n) == 0 &&
		    strncmp(err->msg + n, ": ", 2) == 0) {
			memmove(err->msg, err->msg + n + 2,
			    strlen(err->msg + n + 2) + 1);
			rp_err_prefix(err, "%s", path);
		}
	} else {
		store_close(s);
		if (link(tmp, path) != 0 && errno != EEXIST &&
		    rename(tmp, path) != 0)
			rc = rp_err_set(err, RP_EXIT_IO, "%s: cannot create "
			    "store: %s", path, strerror(errno));
	}
	unlink(tmp);
	free(tmp);
	return rc;
}

/* The store's model and dimensions read, for their damage (meta_dim). */
static int
check_dims(struct store *s, struct rp_err *err)
{
	struct store_embed e;

	if (store_embed_get(s, &e, err) < 0)
		return -1;
	store_embed_release(&e);
	return 0;
}

/*
 * Before SQLite starts: no page cache allocated in bulk.  Each
 * connection would otherwise set up 20 pages' worth (170 KiB) on its
 * first read and touch every one of them, and a fresh page costs a
 * short-lived reader more than the read it saves (tests/bench/RESULTS.md);
 * each page is allocated when first wanted instead.
 */
static void
sqlite_setup(void)
{
	static int done;

	if (!done) {
		done = 1;
		sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
	}
}

struct store *
store_open(const char *path, unsigned flags, struct rp_err *err)
{
	struct store *s;
	struct stat sb;
	int64_t version = 0;
	int oflags, fd;

	sqlite_setup();
	if (stat(path, &sb) != 0) {
		if (errno == ENOENT && (flags & STORE_OPTIONAL)) {
			rp_err_set(err, RP_EXIT_OK, "%s: no store yet", path);
			return NULL;
		}
		if (errno != ENOENT || !(flags & STORE_CREATE)) {
			rp_err_set(err, RP_EXIT_IO, "%s: cannot open store: %s",
			    path, strerror(errno));
			return NULL;
		}
		if (!(flags & STORE_NEW) && create(path, flags, err) != 0)
			return NULL;
	} else if (S_ISDIR(sb.st_mode)) {
		rp_err_set(err, RP_EXIT_IO, "%s: cannot open store: "
		    "is a directory", path);
		return NULL;
	}
	/* SQLite would say only "unable to open database file". */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 && errno != ENOENT) {
		rp_err_set(err, RP_EXIT_IO, "%s: cannot open store: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fd >= 0)
		close(fd);
	s = xcalloc(1, sizeof(*s));
	s->path = xstrdup(path);
	s->flags = flags;
	s->zst = zst_new(ZST_LEVEL);
	oflags = (flags & STORE_READONLY) ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | ((flags & STORE_CREATE) ?
	    SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &s->db, oflags | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		dberr(s, err, "cannot open store");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	s->timeout_ms = STORE_BUSY_TIMEOUT_MS;
	sqlite3_busy_handler(s->db, busy_wait, s);
	/* SQLite opens a file it may not write read-only, quietly. */
	if (!(flags & STORE_READONLY) && sqlite3_db_readonly(s->db,
	    "main") == 1) {
		rp_err_set(err, RP_EXIT_IO, "%s: cannot write the store: "
		    "permission denied or a read-only file system", path);
		goto fail;
	}
	if (identify(s, &version, err) != 0)
		goto fail;
	if (flags & STORE_READONLY) {
		if (version == 0 && (flags & STORE_EMPTY_OK)) {
			s->empty = 1;
			return s;
		}
		if (version == 0) {
			rp_err_set(err, RP_EXIT_DATA, "%s: not a ragpipe store "
			    "(empty)", path);
			goto fail;
		}
		/*
		 * Older versions are read as they are: what a reader needs
		 * is in every version, and what is missing (the embedding
		 * cache before 2) reads as empty.
		 */
		if (exec(s, "PRAGMA query_only = 1", err) != 0 ||
		    ((flags & STORE_BRIEF) && exec(s, "PRAGMA cache_size = "
		    "8", err) != 0))
			goto fail;
	} else {
		/* Damage a write would trip over is refused untouched. */
		if (version > 0 && check_dims(s, err) != 0)
			goto fail;
		/* page_size must come before WAL (interfaces.md 4.2). */
		if ((version == 0 && exec(s, "PRAGMA page_size = 8192",
		    err) != 0) ||
		    set_wal(s, err) != 0 ||
		    exec(s, "PRAGMA synchronous = NORMAL", err) != 0 ||
		    exec(s, "PRAGMA foreign_keys = ON", err) != 0 ||
		    (version != STORE_SCHEMA_VERSION && migrate(s, err) != 0))
			goto fail;
		version = STORE_SCHEMA_VERSION;
	}
	s->version = (int)version;
	if (load_dicts(s, err) != 0)
		goto fail;
	return s;
fail:
	store_close(s);
	return NULL;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->in_tx || s->in_read)
		store_rollback(s);
	if (s->tok != NULL)
		s->tokf.xDelete(s->tok);
	vindex_close(s->vi);
	free(s->mem_rows);
	free(s->mem_ids);
	free(s->mem_docs);
	free(s->kglob);
	free(s->keep);
	for (int i = 0; i < NSTMT; i++)
		sqlite3_finalize(s->stmt[i]);
	/* Not worth waiting for: skip it while another process writes. */
	if (s->db != NULL && !(s->flags & STORE_READONLY)) {
		sqlite3_busy_handler(s->db, NULL, NULL);
		sqlite3_exec(s->db, "PRAGMA optimize", NULL, NULL, NULL);
	}
	sqlite3_close(s->db);
	zst_free(s->zst);
	buf_release(&s->z);
	buf_release(&s->t);
	buf_release(&s->f);
	buf_release(&s->dsha);
	buf_release(&s->dtitle);
	free(s->path);
	free(s);
}

const char *
store_path(const struct store *s)
{
	return s->path;
}

/*
 * After a full disk or an I/O error, SQLite may roll the transaction
 * back by itself.  Then every later statement would be a transaction of
 * its own, committed at once: a batch half written.  Refuse instead.
 */
static int
lost_tx(struct store *s, struct rp_err *err)
{
	if (s->in_tx && sqlite3_get_autocommit(s->db))
		return rp_err_set(err, RP_EXIT_IO, "%s: the transaction was "
		    "rolled back after an error; nothing of it was written",
		    s->path);
	return 0;
}

void
store_set_timeout(struct store *s, unsigned ms)
{
	s->timeout_ms = ms;
}

void
store_set_cancel(struct store *s, const volatile sig_atomic_t *flag)
{
	s->cancel = flag;
	/* Looked at every 1000 virtual machine steps: about a millisecond. */
	sqlite3_progress_handler(s->db, flag != NULL ? 1000 : 0,
	    flag != NULL ? progress : NULL, s);
}

int
store_read(struct store *s, struct rp_err *err)
{
	int64_t v;

	if (s->in_read || s->in_tx)
		return 0;
	if (exec(s, "BEGIN", err) != 0)
		return -1;
	s->in_read = 1;
	/* BEGIN defers; the first read fixes the version we see. */
	if (pragma_int(s, "PRAGMA schema_version", &v, err) != 0) {
		store_rollback(s);
		return -1;
	}
	return 0;
}

int
store_begin(struct store *s, struct rp_err *err)
{
	char *path;

	if (exec(s, "BEGIN IMMEDIATE", err) != 0)
		return -1;
	s->in_tx = 1;
	/*
	 * With no vector file to update, the next one is built: the log
	 * need not say what this transaction writes, only that it starts
	 * after it (store_commit).  A bulk load pays nothing for it.
	 */
	path = xasprintf("%s-vec", s->path);
	s->vec_log = access(path, F_OK) == 0;
	free(path);
	return 0;
}

int
store_commit(struct store *s, struct rp_err *err)
{
	if (lost_tx(s, err) != 0) {
		store_rollback(s);
		return -1;
	}
	if (meta_set_int(s, "last_indexed", (int64_t)time(NULL), err) != 0 ||
	    (s->vec_dirty && !s->vec_log && exec(s, "UPDATE meta SET value = "
	    "(SELECT value + 1 FROM meta WHERE key = 'vec_gen') "
	    "WHERE key = 'vec_log_from'", err) != 0) ||
	    (s->vec_dirty && exec(s, "UPDATE meta SET value = value + 1 "
	    "WHERE key = 'vec_gen'", err) != 0) ||
	    exec(s, "COMMIT", err) != 0) {
		store_rollback(s);
		return -1;
	}
	s->in_tx = 0;
	s->vec_dirty = 0;
	return 0;
}

void
store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_tx = s->in_read = 0;
	s->vec_dirty = 0;
}

static void
bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static void
bind_int_or_null(sqlite3_stmt *st, int i, int64_t v)
{
	if (v >= 0)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

/*
 * Give FTS5 a chunk's text (the rewrite of analyze.h) through ST, an
 * INSERT INTO a full-text table(rowid, title, section, body).
 */
static int
fts_put(struct store *s, sqlite3_stmt *st, int64_t id, const char *title,
    const char *section, const char *text, size_t len, struct rp_err *err)
{
	buf_reset(&s->f);
	if (analyze_fts_text(&s->f, text, len) != 0)
		return rp_err_set(err, RP_EXIT_DATA, "chunk text too large");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, title != NULL ? title : "", -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, 3, section != NULL ? section : "", -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, 4, buf_str(&s->f), (int)s->f.len,
	    SQLITE_STATIC);
	return step_done(s, st, err, "full-text index");
}

static int
fts_row(struct store *s, enum stmt which, int64_t id, const char *title,
    const char *section, const char *text, size_t len, struct rp_err *err)
{
	sqlite3_stmt *st;

	if ((st = stmt(s, which, err)) == NULL)
		return -1;
	return fts_put(s, st, id, title, section, text, len, err);
}

/* Note in the log that document DOC changes in this transaction. */
static int
log_doc(struct store *s, int64_t doc, struct rp_err *err)
{
	sqlite3_stmt *st;

	if ((st = stmt(s, LOG_DOC, err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, doc);
	return step_done(s, st, err, "log the document");
}

/*
 * Remove the chunks of document DOC from FTS5 and the chunk table.
 * A contentless FTS5 table forgets a row only when given the very text
 * it indexed, so each chunk is decompressed once more here: the cost is
 * proportional to the document, not the store.
 */
static int
drop_chunks(struct store *s, int64_t doc, const char *title,
    struct rp_err *err)
{
	sqlite3_stmt *st;
	int64_t id;
	char *section;
	int rc;

	if ((st = stmt(s, CHUNKS_OF, err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, doc);
	/* CHUNKS_OF stays open while FTS_DELETE runs: a separate stmt. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		section = (char *)sqlite3_column_text(st, 1);
		section = section != NULL ? xstrdup(section) : NULL;
		if (zst_decompress(s->zst, sqlite3_column_blob(st, 2),
		    (size_t)sqlite3_column_bytes(st, 2), &s->t, err) != 0 ||
		    fts_row(s, FTS_DELETE, id, title, section, buf_str(&s->t),
		    s->t.len, err) != 0) {
			free(section);
			sqlite3_reset(st);
			/* A bad frame in the store is the store's fault. */
			if (err != NULL)
				err->code = RP_EXIT_IO;
			return rp_err_prefix(err, "%s: chunk %lld", s->path,
			    (long long)id);
		}
		free(section);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return dberr(s, err, "read chunks");
	if ((st = stmt(s, CHUNKS_DELETE, err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, doc);
	return step_done(s, st, err, "delete chunks");
}

/* Find document PATH: 1 with its id and (new) title, 0 if absent. */
static int
find_doc(struct store *s, const char *path, int64_t *id, char **title,
    struct rp_err *err)
{
	sqlite3_stmt *st;
	const char *t;
	int rc;

	if ((st = stmt(s, DOC_FIND, err)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		t = (const char *)sqlite3_column_text(st, 1);
		*title = t != NULL ? xstrdup(t) : NULL;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(s, err, "find document");
	return rc == SQLITE_ROW;
}

static int
put_chunk(struct store *s, int64_t doc, const char *title, size_t dim,
    const struct store_chunk *c, struct rp_err *err)
{
	sqlite3_stmt *st;
	int64_t id;

	if (c->len > INT_MAX / 2)
		return rp_err_set(err, RP_EXIT_DATA, "chunk %lld: text of "
		    "%zu bytes is too large", (long long)c->seq, c->len);
	if (zst_compress(s->zst, s->dict, c->text, c->len, &s->z, err) != 0)
		return -1;
	if ((st = stmt(s, CHUNK_INSERT, err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, doc);
	sqlite3_bind_int64(st, 2, c->seq);
	sqlite3_bind_int64(st, 3, c->start);
	sqlite3_bind_int64(st, 4, c->end);
	sqlite3_bind_int64(st, 5, c->line);
	bind_text_or_null(st, 6, c->section);
	sqlite3_bind_int64(st, 7, (int64_t)c->len);
	sqlite3_bind_blob(st, 8, s->z.data, (int)s->z.len, SQLITE_STATIC);
	bind_text_or_null(st, 9, c->extra);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_reset(st);
		if (sqlite3_extended_errcode(s->db) ==
		    SQLITE_CONSTRAINT_UNIQUE)
			return rp_err_set(err, RP_EXIT_DATA, "chunk %lld "
			    "appears twice", (long long)c->seq);
		return dberr(s, err, "insert chunk");
	}
	sqlite3_reset(st);
	id = sqlite3_last_insert_rowid(s->db);
	if (c->vec != NULL) {
		if ((st = stmt(s, VEC_INSERT, err)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, id);
		/* Host order; ragpipe stores are little-endian (x86, ARM). */
		sqlite3_bind_blob(st, 2, c->vec, (int)(dim * sizeof(float)),
		    SQLITE_STATIC);
		if (step_done(s, st, err, "insert vector") != 0)
			return -1;
	}
	return fts_row(s, FTS_INSERT, id, title, c->section, c->text, c->len,
	    err);
}

/*
 * A number of dimensions as the meta table keeps it under KEY: 1 to
 * EMBED_MAX_DIM, or 0 too when ZERO, into *DIM; a store whose value is
 * anything else is damaged, and not read on into huge allocations.
 */
static int
meta_dim(struct store *s, const char *key, const char *v, int zero,
    size_t *dim, struct rp_err *err)
{
	unsigned long d;
	char *end;

	errno = 0;
	d = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || *v < '0' || *v > '9' ||
	    d > EMBED_MAX_DIM || (d == 0 && !zero))
		return rp_err_set(err, RP_EXIT_DATA, "%s: damaged: its %s is "
		    "'%s', not a number of dimensions from %d to %d",
		    s->path, key, v, zero ? 0 : 1, EMBED_MAX_DIM);
	*dim = (size_t)d;
	return 0;
}

int
store_model(struct store *s, char **model, size_t *dim, struct rp_err *err)
{
	char *d = NULL;

	*model = NULL;
	*dim = 0;
	if (meta_get(s, "embed_model", model, err) != 0 ||
	    meta_get(s, "embed_dim", &d, err) != 0) {
		free(*model);
		*model = NULL;
		return -1;
	}
	if (*model == NULL || d == NULL) {
		free(*model);
		free(d);
		*model = NULL;
		return 0;
	}
	if (meta_dim(s, "embed_dim", d, 0, dim, err) != 0) {
		free(*model);
		free(d);
		*model = NULL;
		return -1;
	}
	free(d);
	return 1;
}

int
store_embed_get(struct store *s, struct store_embed *e, struct rp_err *err)
{
	char *d = NULL;
	int rc;

	memset(e, 0, sizeof(*e));
	if ((rc = store_model(s, &e->model, &e->dim, err)) <= 0)
		return rc;
	if (meta_get(s, "embed_doc_prefix", &e->doc_prefix, err) != 0 ||
	    meta_get(s, "embed_query_prefix", &e->query_prefix, err) != 0 ||
	    meta_get(s, "embed_dimensions", &d, err) != 0) {
		store_embed_release(e);
		return -1;
	}
	if (e->doc_prefix == NULL)
		e->doc_prefix = xstrdup("");
	if (e->query_prefix == NULL)
		e->query_prefix = xstrdup("");
	if (d != NULL && meta_dim(s, "embed_dimensions", d, 1,
	    &e->dimensions, err) != 0) {
		free(d);
		store_embed_release(e);
		return -1;
	}
	free(d);
	return 1;
}

void
store_embed_release(struct store_embed *e)
{
	free(e->model);
	free(e->doc_prefix);
	free(e->query_prefix);
	memset(e, 0, sizeof(*e));
}

void
store_text_hash(const char *prefix, const char *text, size_t n,
    unsigned char out[STORE_HASH_LEN])
{
	struct sha256 c;

	sha256_init(&c);
	if (prefix != NULL)
		sha256_update(&c, prefix, strlen(prefix));
	sha256_update(&c, text, n);
	sha256_final(&c, out);
}

int
store_cache_get(struct store *s, const char *model, size_t dims,
    const unsigned char hash[STORE_HASH_LEN], float **v, size_t *dim,
    struct rp_err *err)
{
	sqlite3_stmt *st;
	size_t bytes;
	int rc;

	*v = NULL;
	*dim = 0;
	if (s->version < 2)
		return 0;
	if ((st = stmt(s, CACHE_GET, err)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)dims);
	sqlite3_bind_blob(st, 3, hash, STORE_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		bytes = (size_t)sqlite3_column_bytes(st, 0);
		if (bytes > 0 && bytes % sizeof(float) == 0) {
			*dim = bytes / sizeof(float);
			*v = xmalloc(bytes);
			memcpy(*v, sqlite3_column_blob(st, 0), bytes);
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(s, err, "embedding cache");
	return *v != NULL;
}

int
store_cache_put(struct store *s, const char *model, size_t dims,
    const unsigned char hash[STORE_HASH_LEN], const float *v, size_t dim,
    struct rp_err *err)
{
	sqlite3_stmt *st;

	if (dim == 0 || dim > INT_MAX / sizeof(float))
		return rp_err_set(err, RP_EXIT_DATA, "a vector of %zu values "
		    "cannot be cached", dim);
	if ((st = stmt(s, CACHE_PUT, err)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)dims);
	sqlite3_bind_blob(st, 3, hash, STORE_HASH_LEN, SQLITE_STATIC);
	/* Host order; ragpipe stores are little-endian (x86, ARM). */
	sqlite3_bind_blob(st, 4, v, (int)(dim * sizeof(float)),
	    SQLITE_STATIC);
	return step_done(s, st, err, "embedding cache");
}

/*
 * Do D's prefixes match those the store's vectors were made with?  A
 * prefix changes every vector (DESIGN.md section 3), so it is part of
 * the model as much as its name.  Stores from before prefixes have none.
 */
static int
check_prefixes(struct store *s, const struct store_doc *d,
    struct rp_err *err)
{
	static const char *const what[] = { "doc_prefix", "query_prefix" };
	const char *mine[2] = { d->doc_prefix, d->query_prefix };
	char *have, a[128], b[128];
	int rc = 0;

	for (int i = 0; i < 2 && rc == 0; i++) {
		if (meta_get(s, i == 0 ? "embed_doc_prefix" :
		    "embed_query_prefix", &have, err) != 0)
			return -1;
		if (strcmp(mine[i] != NULL ? mine[i] : "", have != NULL ?
		    have : "") != 0)
			rc = rp_err_set(err, RP_EXIT_DATA, "'%s' is '%s', but "
			    "the store's vectors were made with '%s'; use the "
			    "same prefixes, or another store", what[i],
			    rp_sanitize(a, sizeof(a), mine[i] != NULL ?
			    mine[i] : ""), rp_sanitize(b, sizeof(b),
			    have != NULL ? have : ""));
		free(have);
	}
	return rc;
}

/*
 * May document D's chunks go into S?  A store holds one embedding model
 * (DESIGN.md section 3): the first one it is given, and only when it has
 * no chunks without vectors; after that, every chunk needs a vector of
 * that model.  Mixing would make the vector search silently miss text.
 */
static int
check_model(struct store *s, const struct store_doc *d, struct rp_err *err)
{
	int64_t chunks = 0;
	char *model, dim[32];
	size_t have;
	int rc;

	if ((rc = store_model(s, &model, &have, err)) < 0)
		return -1;
	if (rc == 1) {
		if (d->model == NULL)
			rc = rp_err_set(err, RP_EXIT_DATA, "record has no "
			    "embedding, but the store holds %s vectors "
			    "(put rag-embed in the pipeline)", model);
		else if (strcmp(d->model, model) != 0 || d->dim != have)
			rc = rp_err_set(err, RP_EXIT_DATA, "'model' is %s with "
			    "%zu dimensions, but the store holds %s with %zu; "
			    "use another store for another model", d->model,
			    d->dim, model, have);
		else
			rc = check_prefixes(s, d, err);
		free(model);
		return rc;
	}
	if (d->model == NULL)
		return 0;
	if (pragma_int(s, "SELECT count(*) FROM chunks", &chunks, err) != 0)
		return -1;
	if (chunks > 0)
		return rp_err_set(err, RP_EXIT_DATA, "record has an embedding, "
		    "but the store holds %lld chunks without one; index "
		    "everything through rag-embed into a new store",
		    (long long)chunks);
	snprintf(dim, sizeof(dim), "%zu", d->dim);
	if (meta_set_text(s, "embed_model", d->model, err) != 0 ||
	    meta_set_text(s, "embed_dim", dim, err) != 0 ||
	    meta_set_text(s, "embed_doc_prefix", d->doc_prefix != NULL ?
	    d->doc_prefix : "", err) != 0 ||
	    meta_set_text(s, "embed_query_prefix", d->query_prefix != NULL ?
	    d->query_prefix : "", err) != 0 ||
	    meta_set_int(s, "embed_dimensions", (int64_t)d->dimensions,
	    err) != 0)
		return -1;
	return 0;
}

int
store_put_doc(struct store *s, const struct store_doc *d,
    const struct store_chunk *chunks, size_t n, unsigned flags,
    struct rp_err *err)
{
	sqlite3_stmt *st;
	char *oldtitle = NULL;
	int64_t id = 0;
	int found, rc = -1, undo = !(flags & STORE_PUT_NO_UNDO);

	if (lost_tx(s, err) != 0)
		return -1;
	if (undo && sqlite3_exec(s->db, "SAVEPOINT doc", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return dberr(s, err, "savepoint");
	if ((found = find_doc(s, d->path, &id, &oldtitle, err)) < 0)
		goto out;
	if (found && drop_chunks(s, id, oldtitle, err) != 0)
		goto out;
	if (n > 0 && check_model(s, d, err) != 0)
		goto out;
	if ((st = stmt(s, found ? DOC_UPDATE : DOC_INSERT, err)) == NULL)
		goto out;
	if (found)
		sqlite3_bind_int64(st, 1, id);
	else
		sqlite3_bind_text(st, 1, d->path, -1, SQLITE_STATIC);
	bind_text_or_null(st, 2, d->title);
	bind_text_or_null(st, 3, d->sha256);
	bind_int_or_null(st, 4, d->mtime);
	bind_int_or_null(st, 5, d->size);
	sqlite3_bind_int64(st, 6, (int64_t)n);
	sqlite3_bind_int64(st, 7, (int64_t)time(NULL));
	if (step_done(s, st, err, "write document") != 0)
		goto out;
	if (!found)
		id = sqlite3_last_insert_rowid(s->db);
	if (s->vec_log && log_doc(s, id, err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (put_chunk(s, id, d->title, d->dim, &chunks[i], err) != 0)
			goto out;
	s->vec_dirty = 1;
	rc = 0;
out:
	free(oldtitle);
	if (!undo)
		return rc != 0 ? rc : lost_tx(s, err);
	/*
	 * On a bad record, undo just this document; the transaction and
	 * the documents before it stay good.  Releasing the savepoint
	 * writes (FTS5 flushes its terms), so it can fail as any write:
	 * SQLite may then have rolled the whole transaction back.
	 */
	if (rc != 0) {
		/* The first error says what happened; keep it. */
		if ((sqlite3_exec(s->db, "ROLLBACK TO doc", NULL, NULL,
		    NULL) != SQLITE_OK || sqlite3_exec(s->db, "RELEASE doc",
		    NULL, NULL, NULL) != SQLITE_OK || lost_tx(s, NULL) != 0) &&
		    err != NULL && err->code == RP_EXIT_DATA)
			return dberr(s, err, "write document");
		return rc;
	}
	if (sqlite3_exec(s->db, "RELEASE doc", NULL, NULL, NULL) != SQLITE_OK)
		return dberr(s, err, "write document");
	return lost_tx(s, err);
}

int
store_delete_doc(struct store *s, const char *path, struct rp_err *err)
{
	sqlite3_stmt *st;
	char *title = NULL;
	int64_t id;
	int found;

	if (lost_tx(s, err) != 0)
		return -1;
	if ((found = find_doc(s, path, &id, &title, err)) <= 0)
		return found;
	if (drop_chunks(s, id, title, err) != 0) {
		free(title);
		return -1;
	}
	free(title);
	if ((s->vec_log && log_doc(s, id, err) != 0) ||
	    (st = stmt(s, DOC_DELETE, err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (step_done(s, st, err, "delete document") != 0)
		return -1;
	s->vec_dirty = 1;
	return 1;
}

int
store_touch_doc(struct store *s, const char *path, int64_t mtime,
    int64_t size, struct rp_err *err)
{
	sqlite3_stmt *st;

	if (lost_tx(s, err) != 0 || (st = stmt(s, DOC_TOUCH, err)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, mtime);
	sqlite3_bind_int64(st, 3, size);
	if (step_done(s, st, err, "update document") != 0)
		return -1;
	return sqlite3_changes(s->db) > 0;
}

static const char *
lend_text(sqlite3_stmt *st, int i, struct buf *b)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	if (t == NULL)
		return NULL;
	buf_reset(b);
	buf_add(b, t, (size_t)sqlite3_column_bytes(st, i));
	return buf_str(b);
}

static int64_t
col_int_or(sqlite3_stmt *st, int i, int64_t dflt)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return dflt;
	return sqlite3_column_int64(st, i);
}

int
store_doc_get(struct store *s, const char *path, struct store_docinfo *di,
    struct rp_err *err)
{
	sqlite3_stmt *st;
	int rc;

	memset(di, 0, sizeof(*di));
	if (s->empty)
		return 0;
	if ((st = stmt(s, DOC_INFO, err)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		di->mtime = col_int_or(st, 0, -1);
		di->size = col_int_or(st, 1, -1);
		di->nchunks = sqlite3_column_int64(st, 2);
		di->sha256 = lend_text(st, 3, &s->dsha);
		di->title = lend_text(st, 4, &s->dtitle);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(s, err, "find document");
	return rc == SQLITE_ROW;
}

int
store_each_doc(struct store *s, const char *prefix, store_doc_fn fn,
    void *arg, struct rp_err *err)
{
	struct store_docinfo di;
	sqlite3_stmt *st;
	size_t plen = strlen(prefix);
	const char *path;
	int rc;

	if (s->empty)
		return 0;
	if ((st = stmt(s, DOC_RANGE, err)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	/* In path order, the documents under PREFIX come in one run. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		path = (const char *)sqlite3_column_text(st, 5);
		if (path == NULL || strncmp(path, prefix, plen) != 0)
			break;
		di.mtime = col_int_or(st, 0, -1);
		di.size = col_int_or(st, 1, -1);
		di.nchunks = sqlite3_column_int64(st, 2);
		di.sha256 = (const char *)sqlite3_column_text(st, 3);
		di.title = (const char *)sqlite3_column_text(st, 4);
		if (fn(arg, path, &di) != 0)
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(s, err, "list documents");
	return 0;
}

/* Append TERM to B as an FTS5 string: quoted, never parsed as syntax. */
static void
quote_term(struct buf *b, const char *term)
{
	buf_addc(b, '"');
	for (const char *p = term; *p != '\0'; p++) {
		if (*p == '"')
			buf_addc(b, '"');
		buf_addc(b, *p);
	}
	buf_addc(b, '"');
}

/* TERMS[IDX[0..N)] (all N terms when IDX is NULL) joined by OP. */
static void
join_terms(struct buf *b, char *const *terms, const size_t *idx, size_t n,
    const char *op)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_adds(b, op);
		quote_term(b, terms[idx != NULL ? idx[i] : i]);
	}
}

/* FTS5's API on this connection.  NULL with ERR filled. */
static fts5_api *
fts5(struct store *s, struct rp_err *err)
{
	sqlite3_stmt *st;

	if (s->fts5 != NULL)
		return s->fts5;
	if (sqlite3_prepare_v2(s->db, "SELECT fts5(?1)", -1, &st, NULL) !=
	    SQLITE_OK) {
		dberr(s, err, "full-text search");
		return NULL;
	}
	sqlite3_bind_pointer(st, 1, (void *)&s->fts5, "fts5_api_ptr", NULL);
	sqlite3_step(st);
	sqlite3_finalize(st);
	if (s->fts5 == NULL || s->fts5->iVersion < 2)
		rp_err_set(err, RP_EXIT_FAIL, "%s: full-text search: no FTS5 "
		    "API", s->path);
	return s->fts5 != NULL && s->fts5->iVersion >= 2 ? s->fts5 : NULL;
}

/*
 * The tokenizer of the fts table, as the schema makes it ("porter
 * unicode61 remove_diacritics 2"), so that a question's words become
 * the tokens the index holds.
 */
static int
tokenizer(struct store *s, struct rp_err *err)
{
	static const char *args[] = { "unicode61", "remove_diacritics", "2" };
	fts5_api *api;
	void *ud = NULL;

	if (s->tok != NULL)
		return 0;
	if ((api = fts5(s, err)) == NULL)
		return -1;
	if (api->xFindTokenizer(api, "porter", &ud, &s->tokf) != SQLITE_OK ||
	    s->tokf.xCreate(ud, args, 3, &s->tok) != SQLITE_OK) {
		s->tok = NULL;
		return rp_err_set(err, RP_EXIT_FAIL, "%s: full-text search: "
		    "no porter tokenizer", s->path);
	}
	return 0;
}

/* The tokens of a question's word, end to end in B, with their ends. */
struct toks {
	struct buf	 b;
	size_t		 end[8];
	size_t		 n;
};

static int
tok_cb(void *arg, int tflags, const char *t, int n, int start, int end)
{
	struct toks *tk = arg;

	(void)start;
	(void)end;
	if ((tflags & FTS5_TOKEN_COLOCATED) || n <= 0 ||
	    tk->n == RP_NELEM(tk->end))
		return SQLITE_OK;
	buf_add(&tk->b, t, (size_t)n);
	tk->end[tk->n++] = tk->b.len;
	return SQLITE_OK;
}

/*
 * The vector file's term table or postings are damaged: a query cannot
 * trust its answer.  The file is derived data; removed, it is built
 * again by the next query or rag-index.
 */
static int
vec_damaged(struct store *s, struct rp_err *err)
{
	return rp_err_set(err, RP_EXIT_DATA, "%s-vec: damaged (its word "
	    "statistics or postings); remove it, and it is built again",
	    s->path);
}

/*
 * The full-text leg over the vector file's postings (bm25.h): each
 * word's tokens, each token's postings and IDF, summed.  With a GLOB,
 * only the chunks of the documents that match are scored.  The number
 * of hits, or -1 with ERR filled.
 */
static long
bm25_postings(struct store *s, char *const *terms, size_t nterms,
    const char *glob, size_t k, struct store_hit **hits, struct rp_err *err)
{
	struct bm25_list l[64];
	struct vindex_term vt;
	struct toks tk;
	struct bm25_hit *h;
	const int64_t *ids = vindex_ids(s->vi);
	const uint64_t *keep = NULL;
	size_t nl = 0, nrows = vindex_count(s->vi), nkeep;
	double nchunks = (double)vindex_nchunks(s->vi);
	long got;
	int exact, rc;

	if (tokenizer(s, err) != 0)
		return -1;
	if (glob != NULL && store_glob_rows(s, glob, &keep, &nkeep, err) != 0)
		return -1;
	buf_init(&tk.b, 1 << 16);
	for (size_t i = 0; i < nterms && nl < RP_NELEM(l); i++) {
		buf_reset(&tk.b);
		tk.n = 0;
		s->tokf.xTokenize(s->tok, &tk, FTS5_TOKENIZE_QUERY, terms[i],
		    (int)strlen(terms[i]), tok_cb);
		for (size_t j = 0, from = 0; j < tk.n && nl < RP_NELEM(l);
		    from = tk.end[j++]) {
			if ((rc = vindex_term(s->vi, tk.b.data + from,
			    tk.end[j] - from, &vt)) < 0) {
				buf_release(&tk.b);
				return vec_damaged(s, err);
			}
			if (rc == 0 || vt.nall == 0)
				continue;
			l[nl++] = (struct bm25_list){ vt.top, vt.ntop, vt.all,
			    vt.nall, vt.cutoff, bm25_idf(nchunks,
			    (double)vt.df) };
		}
	}
	buf_release(&tk.b);
	h = xreallocarray(NULL, RP_MAX(k, (size_t)1), sizeof(*h));
	if ((got = bm25_topk(l, nl, k, keep, nrows, h, &exact)) < 0) {
		free(h);
		return vec_damaged(s, err);
	}
	*hits = xreallocarray(NULL, RP_MAX((size_t)got, (size_t)1),
	    sizeof(**hits));
	for (long i = 0; i < got; i++) {
		(*hits)[i].id = ids[h[i].row];
		(*hits)[i].score = h[i].score;
	}
	s->bm25_exact = exact;
	free(h);
	return got;
}

long
store_bm25(struct store *s, char *const *terms, size_t nterms,
    const char *glob, size_t k, int exact, struct store_hit **hits,
    struct rp_err *err)
{
	struct store_hit *h = NULL;
	sqlite3_stmt *st;
	size_t n = 0;
	int rc;

	*hits = NULL;
	if (nterms == 0 || k == 0)
		return 0;
	nterms = RP_MIN(nterms, (size_t)ANALYZE_MAX_TERMS);
	/* With the vector file: its postings, bounded, no FTS5 at all. */
	s->bm25_exact = 1;
	if (!exact && s->vi != NULL)
		return bm25_postings(s, terms, nterms, glob, k, hits, err);
	buf_reset(&s->f);
	join_terms(&s->f, terms, NULL, nterms, " OR ");
	if ((st = stmt(s, glob != NULL ? BM25_GLOB : BM25, err)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, buf_str(&s->f), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)RP_MIN(k, (size_t)INT64_MAX));
	if (glob != NULL)
		sqlite3_bind_text(st, 3, glob, -1, SQLITE_STATIC);
	h = xreallocarray(NULL, RP_MIN(k, 1024), sizeof(*h));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n >= 1024 && (n & (n - 1)) == 0)
			h = xreallocarray(h, n * 2, sizeof(*h));
		h[n].id = sqlite3_column_int64(st, 0);
		h[n].score = -sqlite3_column_double(st, 1);
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(h);
		return dberr(s, err, "full-text search");
	}
	*hits = h;
	return (long)n;
}

/*
 * What a fresh vector file must say, read in the current transaction.
 * Reads only the meta table: a query pays nothing in proportion to the
 * store to find its vector file fresh (the count comes from the file).
 */
static int
vec_want(struct store *s, struct vindex_meta *m, int *has, struct rp_err *err)
{
	char *model = NULL, *uuid = NULL, *gen = NULL, *quant = NULL;
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = store_model(s, &model, &m->dim, err)) < 0)
		return -1;
	*has = rc;
	if (rc == 0)
		return 0;
	if (meta_get(s, "uuid", &uuid, err) != 0 ||
	    meta_get(s, "vec_gen", &gen, err) != 0 ||
	    meta_get(s, "vec_quant", &quant, err) != 0) {
		rc = -1;
		goto out;
	}
	snprintf(m->model, sizeof(m->model), "%s", model);
	snprintf(m->uuid, sizeof(m->uuid), "%s", uuid != NULL ? uuid : "");
	m->generation = gen != NULL ? strtoull(gen, NULL, 10) : 0;
	m->quant = VINDEX_QUANT_AUTO;
	if (quant != NULL && vindex_quant_parse(quant) >= 0)
		m->quant = (enum vindex_quant)vindex_quant_parse(quant);
	rc = 0;
out:
	free(model);
	free(uuid);
	free(gen);
	free(quant);
	return rc;
}

/* The counts a vector file records, which vec_want leaves out. */
static int
vec_counts(struct store *s, struct vindex_meta *m, struct rp_err *err)
{
	int64_t count = 0;

	if (pragma_int(s, "SELECT count(*) FROM vectors", &count, err) != 0 ||
	    pragma_int(s, "SELECT count(*) FROM chunks", &m->nchunks,
	    err) != 0)
		return -1;
	m->count = (size_t)count;
	return 0;
}

struct vec_reader {
	struct store	*s;
	sqlite3_stmt	*st;
	size_t		 dim;
};

static int64_t	docsize_tokens(const unsigned char *p, int n);

/* vindex_row_fn over the vectors table, in chunk order. */
static int
next_vector(void *arg, int64_t *id, int64_t *doc, float *row, uint32_t *len,
    struct rp_err *err)
{
	struct vec_reader *r = arg;
	int rc = sqlite3_step(r->st);

	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return dberr(r->s, err, "read vectors");
	if ((size_t)sqlite3_column_bytes(r->st, 1) != r->dim * sizeof(float))
		return rp_err_set(err, RP_EXIT_IO, "%s: chunk %lld: vector of "
		    "%d bytes, expected %zu", r->s->path,
		    (long long)sqlite3_column_int64(r->st, 0),
		    sqlite3_column_bytes(r->st, 1), r->dim * sizeof(float));
	*id = sqlite3_column_int64(r->st, 0);
	*doc = sqlite3_column_int64(r->st, 2);
	*len = (uint32_t)RP_MIN(docsize_tokens(sqlite3_column_blob(r->st, 3),
	    sqlite3_column_bytes(r->st, 3)), (int64_t)UINT32_MAX);
	memcpy(row, sqlite3_column_blob(r->st, 1), r->dim * sizeof(float));
	return 1;
}

/*
 * Read the vectors in chunk order with their documents and lengths:
 * all of them, or with SINCE >= 0 those of the documents the log says
 * were written after generation SINCE.
 */
static int
open_reader(struct store *s, struct vec_reader *r, size_t dim,
    int64_t since, struct rp_err *err)
{
	r->s = s;
	r->dim = dim;
	/* A vector without its chunk (a damaged store) has no document. */
	if (sqlite3_prepare_v2(s->db, since < 0 ? "SELECT v.chunk, v.v, "
	    "coalesce(c.doc, -1), d.sz FROM vectors v LEFT JOIN chunks c "
	    "ON c.id = v.chunk LEFT JOIN fts_docsize d ON d.id = v.chunk "
	    "ORDER BY v.chunk" : "SELECT c.id, v.v, c.doc, d.sz "
	    "FROM vec_log l JOIN chunks c ON c.doc = l.doc "
	    "JOIN vectors v ON v.chunk = c.id "
	    "LEFT JOIN fts_docsize d ON d.id = c.id "
	    "WHERE l.gen > ?1 ORDER BY c.id", -1, &r->st, NULL) != SQLITE_OK)
		return dberr(s, err, "read vectors");
	if (since >= 0)
		sqlite3_bind_int64(r->st, 1, since);
	return 0;
}

/*
 * The term statistics and postings for the vector file, read from a
 * full-text table (the store's, or the one update_file fills): its sizes
 * (<table>_docsize, the tokens of each column of each chunk) and two
 * fts5vocab tables in step, "row" (each term and its number of
 * instances) and "instance" (every occurrence, by term, then chunk),
 * made as temporary tables.  The instances' own term is
 * read once a term, to check that the two agree: materialising it for
 * each of ~95 instances a chunk was two thirds of the cost of reading
 * them.
 */
struct term_reader {
	struct store	*s;
	sqlite3_stmt	*terms;		/* term, cnt: by term */
	sqlite3_stmt	*st;		/* doc, col, term: by term, doc */
	const int64_t	*ids;		/* the rows' chunk ids, sorted */
	size_t		 nids;
	int32_t		*rowof;		/* row of id ids[0] + i, or -1; NULL
					   when the ids are too far apart */
	size_t		 span;		/* of rowof */
	uint32_t	*dl;		/* each row's tokens */
	double		 avgdl;
	struct buf	 term;		/* the term being read */
	struct vindex_posting *post;	/* its postings */
	float		*freq;		/* and the term's count in each */
	size_t		 npost, cappost;
	struct vindex_posting *top;	/* those of the highest impact */
	int64_t		 df;
	size_t		 cap;		/* postings kept of a term */
	int		 done;		/* terms is at its end (stepping again
					   would start it over) */
	int		 temp;		/* the temporary tables were made */
};

/* The tokens of a chunk, from fts_docsize's varints, one a column. */
static int64_t
docsize_tokens(const unsigned char *p, int n)
{
	int64_t total = 0, v;
	int i = 0;

	while (i < n) {
		v = 0;
		for (int j = 0; i < n && j < 9; j++) {
			if (j == 8) {
				v = (v << 8) | p[i++];
				break;
			}
			v = (v << 7) | (p[i] & 0x7f);
			if (!(p[i++] & 0x80))
				break;
		}
		total += v;
	}
	return total;
}

/* The row of chunk ID, or -1; *FROM as rp_find_id_from's. */
static long
reader_row(const struct term_reader *r, int64_t id, size_t *from)
{
	if (r->rowof == NULL)
		return rp_find_id_from(r->ids, r->nids, id, from);
	if (id < r->ids[0] || (uint64_t)id - (uint64_t)r->ids[0] >= r->span)
		return -1;
	return r->rowof[(uint64_t)id - (uint64_t)r->ids[0]];
}

/*
 * Lift query_only for the temporary schema (temp is not the store), or
 * put it back once every lifter has (update_file lifts it around the
 * term reader's own).  ON and off in pairs; a failed lift counts none.
 */
static int
temp_writes(struct store *s, int on, struct rp_err *err)
{
	if (!(s->flags & STORE_READONLY))
		return 0;
	if (on && s->temp_lifts++ > 0)
		return 0;
	if (!on && --s->temp_lifts > 0)
		return 0;
	if (exec(s, on ? "PRAGMA query_only = 0" : "PRAGMA query_only = 1",
	    err) != 0) {
		if (on)
			s->temp_lifts--;
		return -1;
	}
	return 0;
}

/*
 * Get R ready for the chunk ids IDS[0..N) of the full-text table TABLE
 * ("main.fts" or "temp.rp_add"): their lengths, the average length, and
 * the statements over the terms and instances.  0, or -1 with ERR
 * filled.
 */
static int
reader_open(struct store *s, struct term_reader *r, const char *table,
    const int64_t *ids, size_t n, struct rp_err *err)
{
	sqlite3_stmt *st;
	double total = 0, rows = 0;
	size_t from = SIZE_MAX;
	const char *dot = strchr(table, '.');
	char q[256];
	long row;
	int rc;

	memset(r, 0, sizeof(*r));
	r->s = s;
	r->ids = ids;
	r->nids = n;
	/* Chunk ids are mostly dense: a row a lookup, not a search. */
	if (n > 0 && n <= INT32_MAX && (uint64_t)ids[n - 1] -
	    (uint64_t)ids[0] < 4 * (uint64_t)n + 1024) {
		r->span = (size_t)((uint64_t)ids[n - 1] - (uint64_t)ids[0]) + 1;
		r->rowof = xreallocarray(NULL, r->span, sizeof(*r->rowof));
		memset(r->rowof, 0xff, r->span * sizeof(*r->rowof));
		for (size_t i = 0; i < n; i++)
			r->rowof[(uint64_t)ids[i] - (uint64_t)ids[0]] =
			    (int32_t)i;
	}
	r->dl = xcalloc(RP_MAX(n, (size_t)1), sizeof(*r->dl));
	buf_init(&r->term, SIZE_MAX);
	snprintf(q, sizeof(q), "SELECT id, sz FROM %s_docsize", table);
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return dberr(s, err, "read the full-text index");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t t = docsize_tokens(sqlite3_column_blob(st, 1),
		    sqlite3_column_bytes(st, 1));

		total += (double)t;
		rows++;
		row = reader_row(r, sqlite3_column_int64(st, 0), &from);
		if (row >= 0)
			r->dl[row] = (uint32_t)RP_MIN(t, (int64_t)UINT32_MAX);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dberr(s, err, "read the full-text index");
	r->avgdl = rows > 0 ? total / rows : 1;
	r->cap = bm25_cap_for((int64_t)rows);
	if (temp_writes(s, 1, err) != 0)
		return -1;
	r->temp = 1;
	snprintf(q, sizeof(q), "CREATE VIRTUAL TABLE temp.rp_terms USING "
	    "fts5vocab(%.*s, %s, row);", (int)(dot - table), table, dot + 1);
	if (exec(s, q, err) != 0)
		return -1;
	snprintf(q, sizeof(q), "CREATE VIRTUAL TABLE temp.rp_instances USING "
	    "fts5vocab(%.*s, %s, instance);", (int)(dot - table), table,
	    dot + 1);
	if (exec(s, q, err) != 0)
		return -1;
	if (sqlite3_prepare_v2(s->db, "SELECT term, cnt FROM temp.rp_terms",
	    -1, &r->terms, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "SELECT doc, col, term FROM "
	    "temp.rp_instances", -1, &r->st, NULL) != SQLITE_OK)
		return dberr(s, err, "read the full-text index");
	return 0;
}

static void
reader_close(struct term_reader *r)
{
	sqlite3_finalize(r->terms);
	sqlite3_finalize(r->st);
	if (r->temp) {
		sqlite3_exec(r->s->db, "DROP TABLE IF EXISTS temp.rp_terms;"
		    "DROP TABLE IF EXISTS temp.rp_instances", NULL, NULL, NULL);
		temp_writes(r->s, 0, NULL);
	}
	free(r->dl);
	free(r->rowof);
	free(r->post);
	free(r->freq);
	free(r->top);
	buf_release(&r->term);
	memset(r, 0, sizeof(*r));
}

/* The weight of an occurrence in column COL (as the schema's bm25). */
static double
col_weight(const unsigned char *col)
{
	if (col == NULL)
		return 0;
	if (strcmp((const char *)col, "title") == 0)
		return W_TITLE;
	return strcmp((const char *)col, "section") == 0 ? W_SECTION : W_BODY;
}

/* Close the chunk ROW of the term being read, counted F (weighted). */
static void
reader_add(struct term_reader *r, long row, double f)
{
	if (row < 0)
		return;
	if (r->npost == r->cappost) {
		r->cappost = r->cappost ? 2 * r->cappost : 1024;
		r->post = xreallocarray(r->post, r->cappost,
		    sizeof(*r->post));
		r->freq = xreallocarray(r->freq, r->cappost,
		    sizeof(*r->freq));
	}
	/* As the file keeps the count, so that an update weighs the same. */
	r->freq[r->npost] = (float)f;
	r->post[r->npost] = (struct vindex_posting){ (uint32_t)row,
	    bm25_impact(r->freq[r->npost], r->dl[row], r->avgdl) };
	r->npost++;
}

/* The two tables of R disagree (another writer cannot change them). */
static int
reader_differ(struct term_reader *r, struct rp_err *err)
{
	char t[64];

	return rp_err_set(err, RP_EXIT_DATA, "%s: the full-text index's "
	    "terms and instances differ at '%s' (see rag status --check)",
	    r->s->path, rp_sanitize(t, sizeof(t), buf_str(&r->term)));
}

/*
 * vindex_term_fn over the instances: a term, its df, its postings, and,
 * past the cap (bm25.h), those of the highest impact apart.
 */
static int
next_term(void *arg, const char **term, size_t *n, struct vindex_term *vt,
    struct rp_err *err)
{
	struct term_reader *r = arg;
	int64_t doc = 0, d, cnt;
	long row = -1;
	size_t from = SIZE_MAX;	/* none yet; a term's documents ascend */
	double f = 0;
	int rc;
	const char *t;
	size_t len;

	buf_reset(&r->term);
	r->npost = 0;
	r->df = 0;
	if (r->done)
		return 0;
	/* Skip a term of no instances (none was seen): it has no postings. */
	while ((rc = sqlite3_step(r->terms)) == SQLITE_ROW &&
	    sqlite3_column_int64(r->terms, 1) <= 0)
		continue;
	if (rc != SQLITE_ROW) {
		r->done = 1;
		if (rc != SQLITE_DONE)
			return dberr(r->s, err, "read the full-text index");
		/* Every instance was a term's. */
		if ((rc = sqlite3_step(r->st)) == SQLITE_ROW)
			return reader_differ(r, err);
		if (rc != SQLITE_DONE)
			return dberr(r->s, err, "read the full-text index");
		return 0;
	}
	t = (const char *)sqlite3_column_text(r->terms, 0);
	buf_add(&r->term, t != NULL ? t : "",
	    (size_t)sqlite3_column_bytes(r->terms, 0));
	cnt = sqlite3_column_int64(r->terms, 1);
	for (int64_t i = 0; i < cnt; i++) {
		if ((rc = sqlite3_step(r->st)) != SQLITE_ROW) {
			r->done = 1;
			if (rc != SQLITE_DONE)
				return dberr(r->s, err, "read the full-text "
				    "index");
			return reader_differ(r, err);
		}
		if (i == 0) {
			t = (const char *)sqlite3_column_text(r->st, 2);
			len = (size_t)sqlite3_column_bytes(r->st, 2);
			if (len != r->term.len || (len > 0 &&
			    memcmp(t, r->term.data, len) != 0)) {
				r->done = 1;
				return reader_differ(r, err);
			}
		}
		if ((d = sqlite3_column_int64(r->st, 0)) != doc || r->df == 0) {
			if (r->df > 0)
				reader_add(r, row, f);
			doc = d;
			row = reader_row(r, d, &from);
			f = 0;
			r->df++;
		}
		f += col_weight(sqlite3_column_text(r->st, 1));
	}
	reader_add(r, row, f);
	*term = buf_str(&r->term);
	*n = r->term.len;
	memset(vt, 0, sizeof(*vt));
	vt->df = r->df;
	vt->all = vt->top = r->post;
	vt->freq = r->freq;
	vt->nall = vt->ntop = r->npost;
	if (r->npost > r->cap) {
		r->top = xreallocarray(r->top, r->npost, sizeof(*r->top));
		memcpy(r->top, r->post, r->npost * sizeof(*r->top));
		vt->top = r->top;
		vt->ntop = bm25_cap(r->top, r->npost, r->cap, &vt->cutoff);
	}
	return 1;
}

/* The rows of a build: the vectors, with their ids kept for the terms. */
struct build {
	struct vec_reader r;
	int64_t		*ids;
	size_t		 nids, capids;
	struct term_reader t;
	int		 terms_open;
};

static int
build_row(void *arg, int64_t *id, int64_t *doc, float *row, uint32_t *len,
    struct rp_err *err)
{
	struct build *b = arg;
	int rc = next_vector(&b->r, id, doc, row, len, err);

	/* More than counted: vindex_write says so; keep what fits. */
	if (rc > 0 && b->nids < b->capids)
		b->ids[b->nids++] = *id;
	return rc;
}

/* The terms come after every row: their postings name rows. */
static int
build_term(void *arg, const char **term, size_t *n, struct vindex_term *vt,
    struct rp_err *err)
{
	struct build *b = arg;

	if (!b->terms_open) {
		b->terms_open = 1;	/* reader_close undoes even a failure */
		if (reader_open(b->r.s, &b->t, "main.fts", b->ids, b->nids,
		    err) != 0)
			return -1;
	}
	return next_term(&b->t, term, n, vt, err);
}

/*
 * Write the vector file from the current transaction's view: the
 * vectors, and the term statistics and postings of the full-text index.
 */
static int
build_file(struct store *s, const struct vindex_meta *want,
    struct rp_err *err)
{
	struct vindex_meta m = *want;
	struct build b;
	char *path;
	int rc;

	memset(&b, 0, sizeof(b));
	if (vec_counts(s, &m, err) != 0 ||
	    open_reader(s, &b.r, m.dim, -1, err) != 0)
		return -1;
	b.capids = m.count;
	b.ids = xreallocarray(NULL, RP_MAX(m.count, (size_t)1),
	    sizeof(*b.ids));
	path = xasprintf("%s-vec", s->path);
	rc = vindex_write(path, &m, build_row, &b, build_term, &b, err);
	sqlite3_finalize(b.r.st);
	if (b.terms_open)
		reader_close(&b.t);
	free(b.ids);
	free(path);
	return rc;
}

/*
 * Update the vector file from the last whole one and the log (vec_log):
 * the rows of the documents written since its generation go, and their
 * chunks as they are now come in, their terms counted by FTS5 in a
 * temporary table of their own, given the same text by the same
 * tokenizer as the store's.  The work is copying the file and reading
 * what was written, not reading the whole store again.  0 when written;
 * 1 when there is nothing to update from (no file of this store and
 * model, or one older than the log); -1 with ERR filled.
 */
static int
update_file(struct store *s, const struct vindex_meta *want,
    struct rp_err *err)
{
	struct vindex *old;
	struct rp_err ignore;
	struct vec_reader vr = { 0 };
	struct term_reader t;
	sqlite3_stmt *st = NULL, *put = NULL;
	char *path, *from = NULL;
	int64_t since = 0, *gone = NULL, *ids = NULL;
	size_t ngone = 0, nids = 0, cap = 0;
	int rc = 1, temp = 0, terms = 0, step;

	memset(&t, 0, sizeof(t));
	path = xasprintf("%s-vec", s->path);
	if ((old = vindex_open_base(path, want, &ignore)) == NULL)
		goto out;
	since = (int64_t)vindex_generation(old);
	if (meta_get(s, "vec_log_from", &from, err) != 0) {
		rc = -1;
		goto out;
	}
	if (from == NULL || since < strtoll(from, NULL, 10) ||
	    vindex_generation(old) >= want->generation ||
	    vindex_nchunks(old) != (int64_t)vindex_count(old))
		goto out;
	/*
	 * The chunks written since: past a quarter of the rows, counting
	 * their words in a table of their own costs more than a build.
	 */
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM vec_log l "
	    "JOIN chunks c ON c.doc = l.doc WHERE l.gen > ?1", -1, &st,
	    NULL) != SQLITE_OK) {
		rc = dberr(s, err, "read the log");
		goto out;
	}
	sqlite3_bind_int64(st, 1, since);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = dberr(s, err, "read the log");
		goto out;
	}
	if ((uint64_t)sqlite3_column_int64(st, 0) > vindex_count(old) / 4 +
	    1024)
		goto out;
	sqlite3_finalize(st);
	st = NULL;
	rc = -1;
	/* The documents written since: their rows go. */
	if (sqlite3_prepare_v2(s->db, "SELECT doc FROM vec_log WHERE gen > ?1 "
	    "ORDER BY doc", -1, &st, NULL) != SQLITE_OK) {
		dberr(s, err, "read the log");
		goto out;
	}
	sqlite3_bind_int64(st, 1, since);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (ngone == cap) {
			cap = cap ? 2 * cap : 256;
			gone = xreallocarray(gone, cap, sizeof(*gone));
		}
		gone[ngone++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (step != SQLITE_DONE) {
		dberr(s, err, "read the log");
		goto out;
	}
	/* Their chunks as they are now: their text into FTS5 of their own. */
	if (temp_writes(s, 1, err) != 0)
		goto out;
	temp = 1;
	if (exec(s, "CREATE VIRTUAL TABLE temp.rp_add USING fts5(" FTS_ARGS
	    ")", err) != 0)
		goto out;
	if (sqlite3_prepare_v2(s->db, "INSERT INTO temp.rp_add(rowid, title, "
	    "section, body) VALUES (?1, ?2, ?3, ?4)", -1, &put, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(s->db, "SELECT c.id, c.section, "
	    "c.body, d.title FROM vec_log l JOIN chunks c ON c.doc = l.doc "
	    "JOIN docs d ON d.id = c.doc WHERE l.gen > ?1 ORDER BY c.id", -1,
	    &st, NULL) != SQLITE_OK) {
		dberr(s, err, "read the chunks written");
		goto out;
	}
	sqlite3_bind_int64(st, 1, since);
	cap = 0;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (nids == cap) {
			cap = cap ? 2 * cap : 1024;
			ids = xreallocarray(ids, cap, sizeof(*ids));
		}
		ids[nids] = sqlite3_column_int64(st, 0);
		if (zst_decompress(s->zst, sqlite3_column_blob(st, 2),
		    (size_t)sqlite3_column_bytes(st, 2), &s->t, err) != 0 ||
		    fts_put(s, put, ids[nids], (const char *)
		    sqlite3_column_text(st, 3), (const char *)
		    sqlite3_column_text(st, 1), buf_str(&s->t), s->t.len,
		    err) != 0)
			goto out;
		nids++;
	}
	if (step != SQLITE_DONE) {
		dberr(s, err, "read the chunks written");
		goto out;
	}
	sqlite3_finalize(st);
	sqlite3_finalize(put);
	st = put = NULL;
	/* Their vectors, and the terms FTS5 found in them. */
	if (open_reader(s, &vr, want->dim, since, err) != 0)
		goto out;
	terms = 1;	/* reader_close undoes even a failure */
	if (reader_open(s, &t, "temp.rp_add", ids, nids, err) != 0)
		goto out;
	rc = vindex_update(path, old, want, gone, ngone, nids, next_vector,
	    &vr, next_term, &t, err);
out:
	sqlite3_finalize(st);
	sqlite3_finalize(put);
	sqlite3_finalize(vr.st);
	if (terms)
		reader_close(&t);
	if (temp) {
		sqlite3_exec(s->db, "DROP TABLE IF EXISTS temp.rp_add", NULL,
		    NULL, NULL);
		temp_writes(s, 0, NULL);
	}
	vindex_close(old);
	free(gone);
	free(ids);
	free(from);
	free(path);
	return rc;
}

/*
 * Bring the vector file up to date: an update if one can be made.  0,
 * with *HOW (may be NULL) saying which, or -1 with ERR filled.
 */
static int
sync_file(struct store *s, const struct vindex_meta *want,
    enum store_sync *how, struct rp_err *err)
{
	struct rp_err ignore;

	/* An update that cannot be made or fails leaves a build to try. */
	if (update_file(s, want, &ignore) == 0) {
		if (how != NULL)
			*how = STORE_SYNC_UPDATED;
		return 0;
	}
	if (build_file(s, want, err) != 0)
		return -1;
	if (how != NULL)
		*how = STORE_SYNC_BUILT;
	return 0;
}

/* Read every vector into memory: the way when no file can be had. */
static int
load_memory(struct store *s, const struct vindex_meta *want,
    struct store_vectors *v, struct rp_err *err)
{
	struct vindex_meta m = *want;
	struct vec_reader r;
	size_t i = 0;
	uint32_t len;
	int rc = 0;

	if (vec_counts(s, &m, err) != 0 ||
	    open_reader(s, &r, m.dim, -1, err) != 0)
		return -1;
	s->mem_rows = xreallocarray(NULL, RP_MAX(m.count, (size_t)1),
	    m.dim * sizeof(float));
	s->mem_ids = xreallocarray(NULL, RP_MAX(m.count, (size_t)1),
	    sizeof(int64_t));
	s->mem_docs = xreallocarray(NULL, RP_MAX(m.count, (size_t)1),
	    sizeof(int64_t));
	while (i < m.count && (rc = next_vector(&r, &s->mem_ids[i],
	    &s->mem_docs[i], s->mem_rows + i * m.dim, &len, err)) > 0)
		i++;
	sqlite3_finalize(r.st);
	if (i < m.count)
		return rc < 0 ? -1 : rp_err_set(err, RP_EXIT_IO,
		    "%s: vectors changed while read", s->path);
	v->rows = s->mem_rows;
	v->ids = s->mem_ids;
	v->n = s->mem_n = m.count;
	v->dim = m.dim;
	v->nchunks = m.nchunks;
	v->mapped = 0;
	return 0;
}

int
store_vectors(struct store *s, struct store_vectors *v, struct rp_err *err)
{
	struct vindex_meta m;
	struct rp_err ignore;
	char *path;
	int has;

	memset(v, 0, sizeof(*v));
	if (store_read(s, err) != 0)
		return -1;
	if (vec_want(s, &m, &has, err) != 0)
		return -1;
	if (!has)
		return 0;
	path = xasprintf("%s-vec", s->path);
	s->vi = vindex_open(path, &m, &ignore);
	/* Stale or missing: bring it up to date, for the next query too. */
	if (s->vi == NULL && sync_file(s, &m, NULL, &ignore) == 0)
		s->vi = vindex_open(path, &m, &ignore);
	free(path);
	if (s->vi == NULL)
		return load_memory(s, &m, v, err);
	v->rows = vindex_rows(s->vi);
	v->ids = vindex_ids(s->vi);
	v->n = vindex_count(s->vi);
	v->dim = vindex_dim(s->vi);
	v->codes = vindex_codes(s->vi);
	v->scales = vindex_scales(s->vi);
	v->nchunks = vindex_nchunks(s->vi);
	v->mapped = 1;
	return 0;
}

const float *
store_vector_row(struct store *s, const struct store_vectors *v, size_t i)
{
	if (v->mapped && v->codes != NULL && s->vi != NULL)
		return vindex_row(s->vi, i);
	return v->rows + i * v->dim;
}

int
store_sync_vectors(struct store *s, enum store_sync *how, struct rp_err *err)
{
	struct vindex_meta m;
	struct vindex *vi;
	struct rp_err ignore;
	char *path;
	int has, rc = 0;

	if (exec(s, "BEGIN", err) != 0)
		return -1;
	if (vec_want(s, &m, &has, err) != 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (how != NULL)
		*how = has ? STORE_SYNC_FRESH : STORE_SYNC_NONE;
	if (has) {
		path = xasprintf("%s-vec", s->path);
		if ((vi = vindex_open(path, &m, &ignore)) != NULL)
			vindex_close(vi);
		else
			rc = sync_file(s, &m, how, err);
		free(path);
	}
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

int
store_term_df(struct store *s, const char *term, size_t n, int64_t *df,
    int64_t *total, struct rp_err *err)
{
	sqlite3_stmt *st;
	int rc;

	/* The vector file has the statistics: no reading of the index. */
	if (s->vi != NULL) {
		if (total != NULL)
			*total = vindex_nchunks(s->vi);
		if (df != NULL && (*df = vindex_term_df(s->vi, term, n)) < 0)
			return vec_damaged(s, err);
		return 0;
	}
	if (total != NULL && pragma_int(s, "SELECT count(*) FROM chunks",
	    total, err) != 0)
		return -1;
	if (df == NULL)
		return 0;
	*df = 0;
	if ((st = stmt(s, TERM_DF, err)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, term, (int)n, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*df = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(s, err, "term statistics");
	return 0;
}

int
store_bm25_exact(const struct store *s)
{
	return s->bm25_exact;
}

static int
cmp_i64(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;

	return (*x > *y) - (*x < *y);
}

int
store_glob_rows(struct store *s, const char *glob, const uint64_t **keep,
    size_t *count, struct rp_err *err)
{
	const int64_t *docs = s->vi != NULL ? vindex_docs(s->vi) : s->mem_docs;
	size_t n = s->vi != NULL ? vindex_count(s->vi) : s->mem_n, nl = 0;
	uint64_t *match = NULL;
	int64_t max = -1, d, *list = NULL;
	sqlite3_stmt *st;
	int rc, sparse, in;

	if (s->keep != NULL && strcmp(s->kglob, glob) == 0)
		goto done;
	free(s->kglob);
	free(s->keep);
	s->kglob = NULL;
	s->keep = xcalloc(RP_MAX((n + 63) / 64, (size_t)1), sizeof(*s->keep));
	s->kcount = 0;
	/* The documents that match: a bit an id, or a sorted list of
	 * them when the ids are so sparse that the bits would outweigh
	 * the rows (a store whose ids were set by hand). */
	if ((st = stmt(s, DOCS_MAX, err)) == NULL)
		goto fail;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		max = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		goto sqlfail;
	if (max < 0 || docs == NULL)
		goto found;	/* no documents, or no rows */
	sparse = (uint64_t)max / 64 > (uint64_t)n + 1024;
	if (!sparse)
		match = xcalloc((size_t)max / 64 + 1, sizeof(*match));
	if ((st = stmt(s, DOCS_GLOB, err)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, glob, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((d = sqlite3_column_int64(st, 0)) < 0 || d > max)
			continue;
		if (!sparse) {
			match[d / 64] |= (uint64_t)1 << (d % 64);
			continue;
		}
		if ((nl & (nl - 1)) == 0)
			list = xreallocarray(list, nl ? 2 * nl : 1,
			    sizeof(*list));
		list[nl++] = d;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		goto sqlfail;
	rp_sort(list, nl, sizeof(*list), cmp_i64);
	/* Then the rows of their chunks: one pass, 8 bytes a row. */
	for (size_t r = 0; r < n; r++) {
		d = docs[r];
		in = sparse ? rp_find_id(list, nl, d) >= 0 : d >= 0 &&
		    d <= max && VEC_IN(match, d);
		if (in) {
			s->keep[r / 64] |= (uint64_t)1 << (r % 64);
			s->kcount++;
		}
	}
found:
	free(match);
	free(list);
	s->kglob = xstrdup(glob);
done:
	*keep = s->keep;
	*count = s->kcount;
	return 0;
sqlfail:
	dberr(s, err, "filter");
fail:
	free(match);
	free(list);
	free(s->keep);
	s->keep = NULL;
	return -1;
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	return v != NULL ? xstrdup(v) : NULL;
}

int
store_row_get(struct store *s, int64_t id, struct store_row *row,
    struct rp_err *err)
{
	sqlite3_stmt *st;
	int rc;

	memset(row, 0, sizeof(*row));
	if ((st = stmt(s, ROW_GET, err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		if (rc == SQLITE_DONE)
			return rp_err_set(err, RP_EXIT_IO, "%s: chunk %lld is "
			    "missing", s->path, (long long)id);
		return dberr(s, err, "read chunk");
	}
	row->id = sqlite3_column_int64(st, 0);
	row->doc = col_dup(st, 1);
	row->title = col_dup(st, 2);
	row->seq = sqlite3_column_int64(st, 3);
	row->start = sqlite3_column_int64(st, 4);
	row->end = sqlite3_column_int64(st, 5);
	row->line = sqlite3_column_int64(st, 6);
	row->section = col_dup(st, 7);
	row->extra = col_dup(st, 9);
	if (zst_decompress(s->zst, sqlite3_column_blob(st, 8),
	    (size_t)sqlite3_column_bytes(st, 8), &s->t, err) != 0) {
		sqlite3_reset(st);
		store_row_release(row);
		if (err != NULL)
			err->code = RP_EXIT_IO;
		return rp_err_prefix(err, "%s: chunk %lld", s->path,
		    (long long)id);
	}
	sqlite3_reset(st);
	row->text = xstrndup(buf_str(&s->t), s->t.len);
	row->len = s->t.len;
	return 0;
}

void
store_row_release(struct store_row *row)
{
	free(row->doc);
	free(row->title);
	free(row->section);
	free(row->text);
	free(row->extra);
	memset(row, 0, sizeof(*row));
}

static int64_t
file_size(const char *path, const char *suffix)
{
	struct stat sb;
	char *p = xasprintf("%s%s", path, suffix);
	int64_t n = stat(p, &sb) == 0 ? (int64_t)sb.st_size : 0;

	free(p);
	return n;
}

/*
 * The model, the quantisation, and whether the vector file is fresh,
 * for store_stats.
 */
static int
stats_vectors(struct store *s, struct store_stats *st, struct rp_err *err)
{
	struct vindex_meta m;
	struct vindex *vi;
	struct rp_err ignore;
	char *path;
	int has, own = 0;

	if (!s->in_read && !s->in_tx) {
		if (exec(s, "BEGIN", err) != 0)
			return -1;
		own = 1;
	}
	if (vec_want(s, &m, &has, err) != 0) {
		if (own)
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (has) {
		snprintf(st->model, sizeof(st->model), "%s", m.model);
		st->dim = m.dim;
		st->quant_setting = m.quant;
		m.count = (size_t)st->vectors;
		st->quant = vindex_resolve(&m);
		path = xasprintf("%s-vec", s->path);
		if ((vi = vindex_open(path, &m, &ignore)) != NULL) {
			st->vectors_fresh = 1;
			st->quant = vindex_quant(vi);
			vindex_close(vi);
		}
		free(path);
	}
	if (own)
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return 0;
}

int
store_set_quant(struct store *s, enum vindex_quant q, struct rp_err *err)
{
	return meta_set_text(s, "vec_quant", vindex_quant_name(q), err);
}

int
store_stats(struct store *s, struct store_stats *st, struct rp_err *err)
{
	int64_t v = 0;

	memset(st, 0, sizeof(*st));
	if (pragma_int(s, "PRAGMA user_version", &v, err) != 0)
		return -1;
	st->schema_version = (int)v;
	if (pragma_int(s, "SELECT count(*) FROM docs", &st->documents,
	    err) != 0 ||
	    pragma_int(s, "SELECT count(*) FROM chunks", &st->chunks,
	    err) != 0 ||
	    pragma_int(s, "SELECT coalesce(sum(len), 0) FROM chunks",
	    &st->text_bytes, err) != 0 ||
	    pragma_int(s, "SELECT coalesce(sum(length(body)), 0) FROM chunks",
	    &st->stored_bytes, err) != 0 ||
	    pragma_int(s, "SELECT value FROM meta WHERE key = 'last_indexed'",
	    &st->last_indexed, err) != 0)
		return -1;
	st->file_bytes = file_size(s->path, "") + file_size(s->path, "-wal");
	if (pragma_int(s, "SELECT count(*) FROM vectors", &st->vectors,
	    err) != 0)
		return -1;
	return stats_vectors(s, st, err);
}

/* A store_check in progress. */
struct check {
	struct store	*s;
	store_problem_fn fn;
	void		*arg;
	long		 n;
};

static void
problem(struct check *c, const char *fmt, ...) RP_PRINTF(2, 3);

static void
problem(struct check *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->fn(c->arg, msg);
	c->n++;
}

/*
 * Run Q, whose one row is a count and an example, and return the count
 * with the example in EX (cleaned for a message), or -1 with ERR filled.
 */
static int64_t
count_rows(struct check *c, const char *q, char ex[128], struct rp_err *err)
{
	sqlite3_stmt *st;
	int64_t n = 0;
	const char *t;
	int rc;

	ex[0] = '\0';
	if (sqlite3_prepare_v2(c->s->db, q, -1, &st, NULL) != SQLITE_OK)
		return dberr(c->s, err, "check");
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n = sqlite3_column_int64(st, 0);
		if ((t = (const char *)sqlite3_column_text(st, 1)) != NULL)
			rp_sanitize(ex, 128, t);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(c->s, err, "check");
	return n;
}

/* Check Q's count: a problem told by STR (a format with %lld and %s). */
#define CHECK_COUNT(c, q, str, err) do {				\
	char ex_[128];							\
	int64_t n_ = count_rows((c), (q), ex_, (err));			\
									\
	if (n_ < 0)							\
		return -1;						\
	if (n_ > 0)							\
		problem((c), str, (long long)n_, ex_);			\
} while (0)

/* SQLite's own checks: the b-trees and the FTS5 index structure. */
static int
check_sqlite(struct check *c, struct rp_err *err)
{
	sqlite3_stmt *st;
	const char *t;
	int rc, nrows = 0;

	if (sqlite3_prepare_v2(c->s->db, "PRAGMA integrity_check(20)", -1, &st,
	    NULL) != SQLITE_OK)
		return dberr(c->s, err, "integrity_check");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		t = (const char *)sqlite3_column_text(st, 0);
		if (t != NULL && (nrows++ > 0 || strcmp(t, "ok") != 0))
			problem(c, "SQLite integrity_check: %s", t);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dberr(c->s, err, "integrity_check");
	/* A write to FTS5, so inside a write transaction, rolled back. */
	if (exec(c->s, "BEGIN IMMEDIATE", err) != 0)
		return -1;
	rc = sqlite3_exec(c->s->db, "INSERT INTO fts(fts, rank) "
	    "VALUES ('integrity-check', 0)", NULL, NULL, NULL);
	if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_CORRUPT) {
		dberr(c->s, err, "FTS5 integrity-check");
		sqlite3_exec(c->s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (rc != SQLITE_OK)
		problem(c, "FTS5 integrity-check: %s",
		    sqlite3_errmsg(c->s->db));
	sqlite3_exec(c->s->db, "ROLLBACK", NULL, NULL, NULL);
	return 0;
}

/* Rows that refer to nothing, and documents short of their chunks. */
static int
check_rows(struct check *c, struct rp_err *err)
{
	CHECK_COUNT(c, "SELECT count(*), min(c.id) FROM chunks c "
	    "WHERE NOT EXISTS (SELECT 1 FROM docs d WHERE d.id = c.doc)",
	    "chunks of no document: %lld (first: chunk %s)", err);
	CHECK_COUNT(c, "SELECT count(*), min(v.chunk) FROM vectors v "
	    "WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.id = v.chunk)",
	    "vectors of no chunk: %lld (first: chunk %s)", err);
	CHECK_COUNT(c, "SELECT count(*), min(path) FROM (SELECT d.path, "
	    "d.nchunks, (SELECT count(*) FROM chunks c WHERE c.doc = d.id) n "
	    "FROM docs d) WHERE nchunks != n", "documents with another number "
	    "of chunks than they say: %lld (first: '%s')", err);
	CHECK_COUNT(c, "SELECT count(*), min(id) FROM (SELECT id FROM "
	    "fts_docsize EXCEPT SELECT id FROM chunks)",
	    "full-text index rows of no chunk: %lld (first: %s)", err);
	CHECK_COUNT(c, "SELECT count(*), min(id) FROM (SELECT id FROM "
	    "chunks EXCEPT SELECT id FROM fts_docsize)",
	    "chunks missing from the full-text index: %lld (first: chunk %s)",
	    err);
	return 0;
}

/*
 * Every chunk's text decompresses to its length, and goes into a scratch
 * full-text index (the store's rewrite, tokenizer and columns), which
 * must then equal the store's: the same terms in as many chunks as many
 * times, and the same token counts per chunk.  A contentless index
 * cannot be compared with its text any other way.
 */
static int
check_text(struct check *c, struct rp_err *err)
{
	struct store *s = c->s;
	sqlite3_stmt *rd = NULL, *ins = NULL;
	int64_t id, len, bad = 0, first = 0;
	const char *title, *section;
	int rc = -1, step;

	if (sqlite3_prepare_v2(s->db, "SELECT c.id, c.len, c.body, d.title, "
	    "c.section FROM chunks c JOIN docs d ON d.id = c.doc", -1, &rd,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "INSERT INTO chk.fts(rowid, title, "
	    "section, body) VALUES (?1, ?2, ?3, ?4)", -1, &ins, NULL) !=
	    SQLITE_OK) {
		dberr(s, err, "check");
		goto out;
	}
	while ((step = sqlite3_step(rd)) == SQLITE_ROW) {
		id = sqlite3_column_int64(rd, 0);
		len = sqlite3_column_int64(rd, 1);
		if (zst_decompress(s->zst, sqlite3_column_blob(rd, 2),
		    (size_t)sqlite3_column_bytes(rd, 2), &s->t, NULL) != 0 ||
		    (int64_t)s->t.len != len) {
			if (bad++ == 0)
				first = id;
			continue;
		}
		buf_reset(&s->f);
		if (analyze_fts_text(&s->f, buf_str(&s->t), s->t.len) != 0)
			continue;
		title = (const char *)sqlite3_column_text(rd, 3);
		section = (const char *)sqlite3_column_text(rd, 4);
		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 1, id);
		sqlite3_bind_text(ins, 2, title != NULL ? title : "", -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, section != NULL ? section : "", -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(ins, 4, buf_str(&s->f), (int)s->f.len,
		    SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			dberr(s, err, "check: scratch index");
			goto out;
		}
	}
	if (step != SQLITE_DONE) {
		dberr(s, err, "check: read chunks");
		goto out;
	}
	if (bad > 0)
		problem(c, "chunks whose text does not decompress to its "
		    "length: %lld (first: chunk %lld)", (long long)bad,
		    (long long)first);
	rc = 0;
out:
	sqlite3_finalize(rd);
	sqlite3_finalize(ins);
	if (rc != 0)
		return -1;
	CHECK_COUNT(c, "SELECT count(*), min(term) FROM ("
	    "SELECT term, doc, cnt FROM temp.chk_vm EXCEPT "
	    "SELECT term, doc, cnt FROM temp.chk_vc)",
	    "full-text index terms the chunks do not have, or not as often: "
	    "%lld (first: '%s')", err);
	CHECK_COUNT(c, "SELECT count(*), min(term) FROM ("
	    "SELECT term, doc, cnt FROM temp.chk_vc EXCEPT "
	    "SELECT term, doc, cnt FROM temp.chk_vm)",
	    "chunk terms the full-text index does not have, or not as often: "
	    "%lld (first: '%s')", err);
	CHECK_COUNT(c, "SELECT count(*), min(id) FROM ("
	    "SELECT id, sz FROM main.fts_docsize EXCEPT "
	    "SELECT id, sz FROM chk.fts_docsize)",
	    "chunks with other word counts in the full-text index: %lld "
	    "(first: chunk %s)", err);
	return 0;
}

/* The vectors: as many as chunks, of the store's model, normalised. */
static int
check_vectors(struct check *c, const struct vindex_meta *m, int has,
    struct rp_err *err)
{
	struct store *s = c->s;
	sqlite3_stmt *st;
	int64_t bad = 0, first = 0;
	float *v;
	double norm;
	int rc;
	char q[256];

	if (!has) {
		CHECK_COUNT(c, "SELECT count(*), min(chunk) FROM vectors",
		    "vectors in a store without an embedding model: "
		    "%lld (first: chunk %s)", err);
		return 0;
	}
	snprintf(q, sizeof(q), "SELECT count(*), min(chunk) FROM vectors "
	    "WHERE length(v) != %zu", m->dim * sizeof(float));
	CHECK_COUNT(c, "SELECT count(*), min(c.id) FROM chunks c WHERE "
	    "NOT EXISTS (SELECT 1 FROM vectors v WHERE v.chunk = c.id)",
	    "chunks without a vector: %lld (first: chunk %s)", err);
	CHECK_COUNT(c, q, "vectors not of the store's dimension: %lld "
	    "(first: chunk %s)", err);
	if (sqlite3_prepare_v2(s->db, "SELECT chunk, v FROM vectors", -1, &st,
	    NULL) != SQLITE_OK)
		return dberr(s, err, "check");
	v = xreallocarray(NULL, RP_MAX(m->dim, (size_t)1), sizeof(*v));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((size_t)sqlite3_column_bytes(st, 1) !=
		    m->dim * sizeof(float))
			continue;
		/* A blob need not be aligned for floats. */
		memcpy(v, sqlite3_column_blob(st, 1), m->dim * sizeof(float));
		norm = 0;
		for (size_t i = 0; i < m->dim; i++)
			norm += (double)v[i] * v[i];
		/* Unit length, or zero for a text with no features. */
		if (!isfinite(norm) || (norm != 0 && fabs(norm - 1) > 1e-3))
			if (bad++ == 0)
				first = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	free(v);
	if (rc != SQLITE_DONE)
		return dberr(s, err, "check: read vectors");
	if (bad > 0)
		problem(c, "vectors not of unit length: %lld (first: chunk "
		    "%lld)", (long long)bad, (long long)first);
	return 0;
}

/*
 * The vector file's rows against the store's vectors, both in chunk
 * order: merged, counting rows only one side has or that differ (in
 * their floats or their document), and int8 rows that are not their
 * float rows quantised.
 */
static int
check_file_rows(struct check *c, const struct vindex_meta *m,
    const struct vindex *vi, int64_t **idsp, size_t *nidsp, struct rp_err *err)
{
	const float *rows = vindex_rows(vi), *scales = vindex_scales(vi);
	const int8_t *codes = vindex_codes(vi);
	const int64_t *ids = vindex_ids(vi), *docs = vindex_docs(vi);
	const uint32_t *lens = vindex_lens(vi);
	size_t i = 0, j = 0, nfile = vindex_count(vi), differ = 0;
	size_t qdiffer = 0, stride = VEC_Q8_STRIDE(m->dim), cap = 0;
	struct vec_reader r;
	int64_t id, doc, *mine = NULL;
	uint32_t len;
	int8_t *code;
	float *row;
	int rc;

	if (open_reader(c->s, &r, m->dim, -1, err) != 0)
		return -1;
	row = xreallocarray(NULL, RP_MAX(m->dim, (size_t)1), sizeof(*row));
	code = xmalloc(stride);
	while ((rc = next_vector(&r, &id, &doc, row, &len, err)) > 0) {
		if (i == cap) {
			cap = cap ? 2 * cap : 1024;
			mine = xreallocarray(mine, cap, sizeof(*mine));
		}
		mine[i++] = id;
		while (j < nfile && ids[j] < id)
			j++, differ++;
		if (j == nfile || ids[j] != id) {
			differ++;
			continue;
		}
		if (memcmp(rows + j * m->dim, row, m->dim * sizeof(*row)) != 0 ||
		    docs[j] != doc || lens[j] != len)
			differ++;
		else if (codes != NULL && (vec_quantize(row, m->dim, code,
		    stride) != scales[j] || memcmp(code, codes + j * stride,
		    stride) != 0))
			qdiffer++;
		j++;
	}
	differ += nfile - j;
	sqlite3_finalize(r.st);
	free(row);
	free(code);
	*idsp = mine;
	*nidsp = i;
	if (rc < 0)
		return -1;
	if (differ > 0)
		problem(c, "vector file rows that differ from the store though "
		    "it is marked fresh: %zu of %zu (%s-vec)", differ,
		    RP_MAX(i, nfile), c->s->path);
	if (qdiffer > 0)
		problem(c, "vector file int8 rows that differ from the store's "
		    "vectors: %zu of %zu (%s-vec)", qdiffer, i, c->s->path);
	return 0;
}

/*
 * The vector file's term statistics and postings against the full-text
 * index, read for the store's chunk ids IDS[0..N).
 */
static int
check_file_terms(struct check *c, const struct vindex *vi,
    const int64_t *ids, size_t n, struct rp_err *err)
{
	struct term_reader t;
	struct vindex_term want, got;
	const char *term;
	size_t len, differ = 0;
	int64_t nchunks = 0;
	int rc;

	if (reader_open(c->s, &t, "main.fts", ids, n, err) != 0) {
		reader_close(&t);
		return -1;
	}
	while ((rc = next_term(&t, &term, &len, &want, err)) > 0) {
		vindex_term(vi, term, len, &got);
		if (got.df != want.df || got.nall != want.nall ||
		    got.ntop != want.ntop || got.cutoff != want.cutoff ||
		    (want.nall > 0 && (memcmp(got.all, want.all, want.nall *
		    sizeof(*want.all)) != 0 || got.freq == NULL ||
		    memcmp(got.freq, want.freq, want.nall *
		    sizeof(*want.freq)) != 0)) || (want.ntop > 0 &&
		    memcmp(got.top, want.top, want.ntop *
		    sizeof(*want.top)) != 0))
			differ++;
	}
	reader_close(&t);
	if (rc < 0 || pragma_int(c->s, "SELECT count(*) FROM chunks",
	    &nchunks, err) != 0)
		return -1;
	if (nchunks != vindex_nchunks(vi))
		differ++;
	if (differ > 0)
		problem(c, "vector file terms whose statistics or postings "
		    "differ from the full-text index: %zu (%s-vec)", differ,
		    c->s->path);
	return 0;
}

/*
 * The vector file, when it claims to be fresh, holds the same vectors,
 * their int8 codes (when it has them) as the rows quantise to, and the
 * term statistics of the full-text index.
 */
static int
check_vector_file(struct check *c, const struct vindex_meta *m,
    struct rp_err *err)
{
	struct vindex *vi;
	struct rp_err ignore;
	int64_t *ids = NULL;
	size_t n = 0;
	char *path;
	int rc;

	path = xasprintf("%s-vec", c->s->path);
	vi = vindex_open(path, m, &ignore);
	free(path);
	if (vi == NULL)
		return 0;	/* missing or stale: rebuilt when needed */
	rc = check_file_rows(c, m, vi, &ids, &n, err) == 0 &&
	    check_file_terms(c, vi, ids, n, err) == 0 ? 0 : -1;
	free(ids);
	vindex_close(vi);
	return rc;
}

/* The scratch database for check_text, attached as "chk". */
static int
scratch_open(struct store *s, struct rp_err *err)
{
	if (exec(s, "ATTACH '' AS chk", err) != 0)
		return -1;
	if (exec(s, "CREATE VIRTUAL TABLE chk.fts USING fts5(" FTS_ARGS ");"
	    "CREATE VIRTUAL TABLE temp.chk_vm USING fts5vocab(main, fts, row);"
	    "CREATE VIRTUAL TABLE temp.chk_vc USING fts5vocab(chk, fts, row)",
	    err) != 0) {
		sqlite3_exec(s->db, "DETACH chk", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

static void
scratch_close(struct store *s)
{
	sqlite3_exec(s->db, "DROP TABLE IF EXISTS temp.chk_vm;"
	    "DROP TABLE IF EXISTS temp.chk_vc", NULL, NULL, NULL);
	sqlite3_exec(s->db, "DETACH chk", NULL, NULL, NULL);
}

long
store_check(struct store *s, store_problem_fn fn, void *arg,
    struct rp_err *err)
{
	struct check c = { s, fn, arg, 0 };
	struct vindex_meta m;
	int has, rc = -1;

	if (s->in_tx || s->in_read)
		return rp_err_set(err, RP_EXIT_FAIL, "%s: check: inside a "
		    "transaction", s->path);
	if (check_sqlite(&c, err) != 0 || scratch_open(s, err) != 0)
		return -1;
	/* The rest sees one version of the store; writers go on. */
	if (exec(s, "BEGIN", err) != 0)
		goto out;
	if (check_rows(&c, err) == 0 && check_text(&c, err) == 0 &&
	    vec_want(s, &m, &has, err) == 0 &&
	    check_vectors(&c, &m, has, err) == 0 &&
	    (!has || check_vector_file(&c, &m, err) == 0))
		rc = 0;
	/* Nothing to keep: the scratch index goes with the transaction. */
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
out:
	scratch_close(s);
	return rc == 0 ? c.n : -1;
}

int64_t
store_pages(struct store *s)
{
	static const int ops[] = { SQLITE_DBSTATUS_CACHE_HIT,
	    SQLITE_DBSTATUS_CACHE_MISS, SQLITE_DBSTATUS_CACHE_WRITE };
	int64_t total = 0;
	int cur, hi;

	for (size_t i = 0; i < RP_NELEM(ops); i++)
		if (sqlite3_db_status(s->db, ops[i], &cur, &hi, 1) == SQLITE_OK)
			total += cur;
	return total;
}

char *
store_default_path(char *(*getenv_fn)(const char *))
{
	const char *v;

	if ((v = getenv_fn("RAG_DB")) != NULL && *v != '\0')
		return xstrdup(v);
	/* Relative XDG paths are invalid and ignored (basedir spec). */
	if ((v = getenv_fn("XDG_DATA_HOME")) != NULL && *v == '/')
		return xasprintf("%s/ragpipe/store.db", v);
	if ((v = getenv_fn("HOME")) != NULL && *v == '/')
		return xasprintf("%s/.local/share/ragpipe/store.db", v);
	return NULL;
}

int
store_mkdirs(const char *path, struct rp_err *err)
{
	char *p = xstrdup(path), *slash;

	for (slash = p + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
		*slash = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			rp_err_set(err, RP_EXIT_IO, "%s: cannot create "
			    "directory: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		*slash = '/';
	}
	free(p);
	return 0;
}
