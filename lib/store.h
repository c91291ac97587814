/*
 * store: the SQLite file of documents, chunks, vectors and the FTS5 index.
 *
 * The store is the single source of truth (DESIGN.md section 3).  It is
 * opened in WAL mode with a busy timeout and foreign keys, its schema is
 * versioned with PRAGMA user_version and migrated forward on open, and
 * it is tagged with PRAGMA application_id so that other files are
 * refused.  Chunk text is kept zstd-compressed; the full-text index is a
 * contentless FTS5 table kept in step inside the same transactions, so a
 * reader sees a document's old chunks or its new ones, never a mix.
 *
 * Writers call store_begin (BEGIN IMMEDIATE: two writers wait for each
 * other for up to the busy timeout instead of failing), then any number
 * of store_put_doc/store_delete_doc, then store_commit.  A writer that
 * waited longer than the timeout gets RP_EXIT_UNAVAIL (69): the store is
 * busy, try again later.  Readers (WAL) never wait for writers; a reader
 * that calls store_read sees one version of the store throughout.
 *
 * One struct store per connection; never shared across threads.
 */
#ifndef STORE_H
#define STORE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "vindex.h"

struct rp_err;
struct store;

#define STORE_SCHEMA_VERSION	3
#define STORE_HASH_LEN		32	/* bytes: SHA-256 */
#define STORE_BUSY_TIMEOUT_MS	30000

enum store_flags {
	STORE_READONLY = 1 << 0,	/* never write; fail if missing */
	STORE_CREATE = 1 << 1,		/* create the file if missing */
	STORE_EMPTY_OK = 1 << 2,	/* READONLY: take an empty file (one
					   being created) as a store with no
					   documents, for store_doc_get,
					   store_each_doc and store_cache_get
					   only */
	STORE_OPTIONAL = 1 << 3,	/* READONLY: a missing file gives
					   NULL, ERR's code 0 */
	STORE_BRIEF = 1 << 4,		/* READONLY: a few lookups, each
					   page read about once (rag-query):
					   a page cache of 8 pages */
};

/* A document as rag-index writes it. */
struct store_doc {
	const char	*path;		/* identity, as given */
	const char	*title;		/* NULL: none */
	const char	*sha256;	/* hex of the source bytes; NULL: unknown */
	int64_t		 mtime;		/* seconds; -1: unknown */
	int64_t		 size;		/* source bytes; -1: unknown */
	const char	*model;		/* its chunks' embedding model; NULL */
	size_t		 dim;		/* floats in each chunk's vec */
	size_t		 dimensions;	/* asked of the model; 0: its own */
	const char	*doc_prefix;	/* put before each text; NULL: none */
	const char	*query_prefix;	/* for questions; NULL: none */
};

/* A chunk as rag-index writes it; the text is compressed by the store. */
struct store_chunk {
	int64_t		 seq;		/* "chunk": 0, 1, ... within the doc */
	int64_t		 start, end;	/* bytes in the extracted text */
	int64_t		 line;		/* first source line */
	const char	*section;	/* NULL: none */
	const char	*text;		/* valid UTF-8 */
	size_t		 len;		/* bytes of text */
	const char	*extra;		/* JSON object of other fields; NULL */
	const float	*vec;		/* doc.dim floats, L2-normalised; NULL */
};

/* A chunk as read back; strings are owned by the row. */
struct store_row {
	int64_t		 id;
	char		*doc;
	char		*title;
	int64_t		 seq, start, end, line;
	char		*section;
	char		*text;
	size_t		 len;
	char		*extra;
};

struct store_hit {
	int64_t		 id;		/* chunk id */
	double		 score;		/* higher is better */
};

/* The store's vectors for a query: lent until store_close. */
struct store_vectors {
	const float	*rows;		/* n rows of dim floats */
	const int64_t	*ids;		/* the chunk id of each row */
	size_t		 n, dim;
	const int8_t	*codes;		/* int8 copy (vec.h); NULL: none */
	const float	*scales;	/* its scale a row */
	int64_t		 nchunks;	/* chunks in the store */
	int		 mapped;	/* from the vector file, not memory */
};

/* What the store knows of a document (rag-ingest -d compares it). */
struct store_docinfo {
	int64_t		 mtime;		/* -1: unknown */
	int64_t		 size;		/* -1: unknown */
	int64_t		 nchunks;
	const char	*sha256;	/* NULL: unknown; lent, see below */
	const char	*title;		/* NULL: none; lent, see below */
};

struct store_stats {
	int		 schema_version;
	int64_t		 documents;
	int64_t		 chunks;
	int64_t		 text_bytes;	/* chunk text, uncompressed */
	int64_t		 stored_bytes;	/* chunk text, compressed */
	int64_t		 file_bytes;	/* the database file and its WAL */
	int64_t		 last_indexed;	/* seconds since the epoch; 0: never */
	int64_t		 vectors;
	char		 model[128];	/* embedding model; "" when none */
	size_t		 dim;
	int		 vectors_fresh;	/* the vector file is up to date */
	enum vindex_quant quant_setting; /* as set by rag-index --quant */
	enum vindex_quant quant;	/* the vector file's representation
					   (or what a rebuild would give) */
};

/*
 * Open the store at PATH, creating it with STORE_CREATE, and migrate it
 * forward unless STORE_READONLY (a reader takes an older version as it
 * is).  NULL with ERR filled on failure:
 * RP_EXIT_IO when the file cannot be opened or created, RP_EXIT_DATA
 * when it is not a ragpipe store or is from a newer version.
 */
struct store	*store_open(const char *path, unsigned flags, struct rp_err *err);
void		 store_close(struct store *s);	/* NULL is a no-op */
const char	*store_path(const struct store *s);

/*
 * How long a writer waits for another one to commit (and a reader for
 * SQLite's rare exclusive moments), in milliseconds; the default is
 * STORE_BUSY_TIMEOUT_MS.
 */
void		 store_set_timeout(struct store *s, unsigned ms);
/*
 * While *FLAG is nonzero, statements stop early (SQLITE_INTERRUPT) and
 * waits for other writers give up, failing with RP_EXIT_FAIL and
 * "interrupted": for a signal handler to set.  NULL turns it off.
 */
void		 store_set_cancel(struct store *s,
		    const volatile sig_atomic_t *flag);

/*
 * Start a read transaction that lasts until store_close: every later
 * read sees the same version of the store, however many writers commit
 * meanwhile.  Does nothing when one is open already.  0, or -1.
 */
int		 store_read(struct store *s, struct rp_err *err);

/* Start a write transaction (BEGIN IMMEDIATE; waits for other writers). */
int		 store_begin(struct store *s, struct rp_err *err);
int		 store_commit(struct store *s, struct rp_err *err);
/* Roll back the open transaction, if any.  Never fails. */
void		 store_rollback(struct store *s);

/* store_put_doc's flags. */
enum store_put_flags {
	/*
	 * No savepoint around the document: on any failure, RP_EXIT_DATA
	 * included, the transaction may hold part of it and must be
	 * rolled back.  FTS5 writes out the terms it holds in memory at
	 * every savepoint, so a savepoint a document made each small
	 * document a segment of its own to merge: indexing 100,000
	 * one-chunk documents took about twice as long.  For a writer that
	 * can write its batch again, a savepoint a document, when one of
	 * them turns out bad (rag-index).
	 */
	STORE_PUT_NO_UNDO = 1 << 0,
};

/*
 * Replace document DOC with its N chunks (N may be 0), in the open
 * transaction.  Chunks carry vectors when DOC names a model: the first
 * model a store gets (with its prefixes and dimensions asked for) is the
 * only one it takes, and a store with vectors takes no chunks without
 * them, nor chunks made with other prefixes (RP_EXIT_DATA, with a
 * message saying so).  FLAGS: 0 or STORE_PUT_NO_UNDO.
 * Returns 0, or -1 with ERR filled: RP_EXIT_DATA when the record itself
 * is unusable (the transaction is still good, unless STORE_PUT_NO_UNDO),
 * anything else when the store failed (roll back).
 */
int		 store_put_doc(struct store *s, const struct store_doc *doc,
		    const struct store_chunk *chunks, size_t n,
		    unsigned flags, struct rp_err *err);
/*
 * Delete the document PATH and everything derived from it, in the open
 * transaction.  Returns 1 if it was there, 0 if not, -1 on failure.
 */
int		 store_delete_doc(struct store *s, const char *path,
		    struct rp_err *err);
/*
 * Record that document PATH's file now has MTIME and SIZE (its content
 * is unchanged: see rag-ingest -d), in the open transaction.  Returns 1
 * if the store has it, 0 if not, -1 on failure.
 */
int		 store_touch_doc(struct store *s, const char *path,
		    int64_t mtime, int64_t size, struct rp_err *err);

/*
 * Look document PATH up: 1 with *DI filled (its strings lent until the
 * next call on S), 0 when the store does not have it, -1 on error.
 */
int		 store_doc_get(struct store *s, const char *path,
		    struct store_docinfo *di, struct rp_err *err);

/*
 * Called by store_each_doc for each document; DI's strings and PATH are
 * lent for the call only, and FN must not use the store.  Return 0 to
 * go on, anything else to stop.
 */
typedef int	(*store_doc_fn)(void *arg, const char *path,
		    const struct store_docinfo *di);
/*
 * Call FN for every document whose path begins with PREFIX ("" for
 * all), in byte order of the path, from one read of the store.  0 (also
 * when FN stopped early), or -1 with ERR filled.
 */
int		 store_each_doc(struct store *s, const char *prefix,
		    store_doc_fn fn, void *arg, struct rp_err *err);

/*
 * Full-text search: the chunks matching any of the NTERMS plain TERMS
 * (at most ANALYZE_MAX_TERMS are used), best BM25 first, at most K, only
 * from documents whose path matches GLOB (NULL: all; SQLite GLOB syntax).
 *
 * Unless EXACT, and once store_vectors has mapped the vector file, the
 * terms' postings there are summed (bm25.h): the same scores as FTS5's,
 * in time bounded by the number of terms, a term in many chunks read
 * only where it weighs most and looked up for the chunks that may win;
 * no FTS5 query runs, and the hits are FTS5's but for the rare question
 * store_bm25_exact says otherwise of; with a GLOB, only the chunks of
 * the documents that match are scored (store_glob_rows), always
 * exactly.  Otherwise FTS5 scores every chunk that matches (the terms
 * quoted, never parsed as FTS5 syntax).
 *
 * Returns the number of hits and sets *HITS to a new array (caller
 * frees), or -1 with ERR filled.
 */
long		 store_bm25(struct store *s, char *const *terms, size_t nterms,
		    const char *glob, size_t k, int exact,
		    struct store_hit **hits, struct rp_err *err);
/*
 * Was the last store_bm25 certainly exact (1), the same hits as FTS5
 * scoring every match, or could a capped term have hidden one (0)?
 */
int		 store_bm25_exact(const struct store *s);

/*
 * The embedding model of the store's vectors: 1 with a new string in
 * *MODEL and its dimension in *DIM; 0 when it has none; -1 on error.
 */
int		 store_model(struct store *s, char **model, size_t *dim,
		    struct rp_err *err);
/*
 * How the store's vectors were made, so that questions are embedded the
 * same way: the model and the dimension of its vectors, the dimensions
 * asked for (0: the model's own), and the prefixes ("" when none).
 */
struct store_embed {
	char		*model;
	size_t		 dim;
	size_t		 dimensions;
	char		*doc_prefix;
	char		*query_prefix;
};
/*
 * Fill E (release with store_embed_release): 1, or 0 when the store has
 * no vectors (E is empty), or -1 with ERR filled.
 */
int		 store_embed_get(struct store *s, struct store_embed *e,
		    struct rp_err *err);
void		 store_embed_release(struct store_embed *e);

/*
 * The embedding cache (schema version 2; in older stores it is empty
 * and store_cache_put fails).  Entries are keyed by MODEL ("openai:
 * text-embedding-3-small"), DIMS (the dimensions asked for; 0: the
 * model's own) and HASH, the store_text_hash of the text as sent.
 *
 * store_text_hash: SHA-256 of PREFIX (NULL: none) followed by TEXT[0..N).
 * store_cache_get: 1 with a new array of *DIM floats in *V, 0 when not
 * cached, -1 with ERR filled.  store_cache_put: add or replace an entry
 * (V is the vector as the server sent it), in the open transaction;
 * 0 or -1.
 */
void		 store_text_hash(const char *prefix, const char *text, size_t n,
		    unsigned char out[STORE_HASH_LEN]);
int		 store_cache_get(struct store *s, const char *model,
		    size_t dims, const unsigned char hash[STORE_HASH_LEN],
		    float **v, size_t *dim, struct rp_err *err);
int		 store_cache_put(struct store *s, const char *model,
		    size_t dims, const unsigned char hash[STORE_HASH_LEN],
		    const float *v, size_t dim, struct rp_err *err);

/*
 * The store's vectors, for a query: from the vector file "<db>-vec" when
 * it is fresh (mapped, with no reading in proportion to the store), else
 * rebuilt (when the directory is writable) or read into memory (then
 * without the int8 copy).  Starts a read transaction that lasts until store_close, so
 * that every search sees the same version of the store.  0, or -1.
 */
int		 store_vectors(struct store *s, struct store_vectors *v,
		    struct rp_err *err);
/*
 * Float row I of the vectors store_vectors gave as V: read apart from
 * the mapping when the scan reads the int8 copy and only a few float
 * rows are wanted (vindex_row), else V's own.  Valid until the next
 * call; not for use by two threads at once.
 */
const float	*store_vector_row(struct store *s,
		    const struct store_vectors *v, size_t i);
/*
 * Record how the vector file represents the vectors (vindex.h): "auto"
 * (the default), "none" or "int8"; a file built for another setting is
 * stale.  In the open write transaction; 0 or -1.
 */
int		 store_set_quant(struct store *s, enum vindex_quant q,
		    struct rp_err *err);
/* What store_sync_vectors did. */
enum store_sync {
	STORE_SYNC_NONE,	/* nothing: the store has no vectors */
	STORE_SYNC_FRESH,	/* nothing: the file was up to date */
	STORE_SYNC_UPDATED,	/* updated from the last file (vindex.h) */
	STORE_SYNC_BUILT,	/* built from the whole store */
};
/*
 * Bring the vector file up to date after writing: from the last file
 * and the documents written since when it can, else from the whole
 * store.  Not inside a transaction.  0 with *HOW (may be NULL) filled,
 * or -1 with ERR filled.
 */
int		 store_sync_vectors(struct store *s, enum store_sync *how,
		    struct rp_err *err);

/*
 * Term statistics of the full-text index: in how many chunks TERM[0..N)
 * occurs (as FTS5 indexed it: lower case, Porter-stemmed, without
 * diacritics), into *DF, and the number of chunks into *TOTAL (either
 * may be NULL).  After store_vectors has mapped the vector file they
 * come from its term table, in time independent of the store's size;
 * else from the index, in time proportional to DF.  0, or -1 with ERR
 * filled.
 */
int		 store_term_df(struct store *s, const char *term, size_t n,
		    int64_t *df, int64_t *total, struct rp_err *err);

/*
 * The rows of the vectors store_vectors gave (and of the vector file's
 * postings) whose chunk's document has a path that matches GLOB, as a
 * set of rows (vec.h) into *KEEP, and how many into *COUNT.  Work in
 * proportion to the documents (each path matched once; a GLOB that
 * starts with a plain prefix reads only the paths in its range) and one
 * pass over the rows' documents, 8 bytes a row; a bit a row and a bit a
 * document of memory.  The set is the store's, kept until store_close or
 * a call with another GLOB.  0, or -1 with ERR filled.
 */
int		 store_glob_rows(struct store *s, const char *glob,
		    const uint64_t **keep, size_t *count, struct rp_err *err);

/* Read chunk ID into ROW (release with store_row_release).  0, or -1. */
int		 store_row_get(struct store *s, int64_t id, struct store_row *row,
		    struct rp_err *err);
void		 store_row_release(struct store_row *row);

int		 store_stats(struct store *s, struct store_stats *st,
		    struct rp_err *err);

/* Called by store_check with each problem found, as a short sentence. */
typedef void	(*store_problem_fn)(void *arg, const char *what);
/*
 * Check the store through and through: SQLite's integrity_check and
 * foreign keys; FTS5's integrity-check; the full-text index against the
 * chunks (the same rows, and the same terms, counts and sizes as an
 * index rebuilt from the chunk text in a scratch database); every chunk's
 * text decompresses to its length; every document has the chunks it
 * says; every chunk has a vector of the store's model and dimension when
 * it has one, and none when not; and the vector file, when fresh, holds
 * exactly the store's vectors.  Returns the number of problems, each
 * given to FN, or -1 with ERR filled when the check could not run.
 * Reads everything (time and scratch space like indexing the store
 * without vectors); needs a store opened for writing, since FTS5 runs
 * its check as a write (rolled back), holding the write lock meanwhile.
 */
long		 store_check(struct store *s, store_problem_fn fn, void *arg,
		    struct rp_err *err);

/*
 * Database pages this connection has read or written since the last
 * call (SQLite's page cache hits, misses and writes): work measured
 * independently of the machine's speed, for tests.
 */
int64_t		 store_pages(struct store *s);

/*
 * The default store path for an environment: RAG_DB if set and not
 * empty, else $XDG_DATA_HOME/ragpipe/store.db, else
 * $HOME/.local/share/ragpipe/store.db.  GETENV looks variables up (so
 * that lib/ reads no environment itself).  Returns a new string, or
 * NULL when neither HOME nor XDG_DATA_HOME gives an absolute path.
 */
char		*store_default_path(char *(*getenv_fn)(const char *));
/* Make the directories leading to PATH (0700).  0, or -1 with ERR. */
int		 store_mkdirs(const char *path, struct rp_err *err);

#endif /* STORE_H */
