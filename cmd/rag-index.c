/* rag-index: write chunk records and deletions into the store. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp.h"
#include "buf.h"
#include "cfg.h"
#include "embed.h"
#include "jsonl.h"
#include "store.h"
#include "vec.h"

/* A transaction holds this many documents or chunk bytes at most. */
#define BATCH_DOCS	256
#define BATCH_BYTES	((size_t)32 << 20)
#define WAIT_DEFAULT	(STORE_BUSY_TIMEOUT_MS / 1000)	/* seconds */
/* A batch waits for more input this long at most: commits at most ~1/s. */
#define BATCH_WAIT	1.0				/* seconds */

enum {
	OPT_JSON = 256, OPT_NO_PROGRESS, OPT_PROGRESS, OPT_QUANT, OPT_STRICT,
	OPT_VERSION, OPT_WAIT
};

static const struct option longopts[] = {
	{ "db",		required_argument,	NULL, 'd' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "json",	no_argument,		NULL, OPT_JSON },
	{ "no-progress", no_argument,		NULL, OPT_NO_PROGRESS },
	{ "progress",	no_argument,		NULL, OPT_PROGRESS },
	{ "quant",	required_argument,	NULL, OPT_QUANT },
	{ "quiet",	no_argument,		NULL, 'q' },
	{ "strict",	no_argument,		NULL, OPT_STRICT },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "version",	no_argument,		NULL, OPT_VERSION },
	{ "wait",	required_argument,	NULL, OPT_WAIT },
	{ NULL,		0,			NULL, 0 }
};

/*
 * Signals: the number of the signal that asked us to stop (0: none);
 * whether the store is at work (then the work stops at the next check
 * and the open transaction is rolled back; else we can exit at once,
 * as nothing is open); and what was committed, for the message.
 */
static volatile sig_atomic_t interrupted, in_store;
static volatile sig_atomic_t committed_docs, committed_deletes;

/* The chunks of one document, gathered until all of them are here. */
struct group {
	char		*doc;
	cJSON		**recs;		/* chunk records, owned */
	size_t		 n, cap;
	long		 expect;	/* "nchunks", or -1 when not given */
	char		 where[256];	/* where its first record was */
};

/*
 * A whole document ready to be written, a deletion (DELETE set, G names
 * the document) or new file times for an unchanged one (TOUCH), waiting
 * for its batch.  Batches are gathered in
 * memory and written in one go, so the store's write lock is never held
 * while rag-index waits for input (another writer would wait too).
 */
struct op {
	struct group	 g;		/* its records, vectors taken out */
	struct store_doc d;
	struct store_chunk *c;		/* g.n of them, by seq */
	float		**raw;		/* vectors as sent, for the cache */
	unsigned char	(*hash)[STORE_HASH_LEN];	/* their keys */
	size_t		 bytes;
	int		 delete, touch;
	int64_t		 mtime, size;	/* TOUCH */
};

/* What a batch did; added to the summary once it is committed. */
struct tally {
	long		 docs, chunks, deleted, absent, touched;
};

struct index {
	const char	*dbpath;
	int		 json, strict;
	struct store	*store;
	int		 status;
	int		 in_tx;
	struct group	*groups;	/* documents still arriving */
	size_t		 ngroups;
	struct op	*ops;		/* the next batch */
	size_t		 nops, batch_bytes;
	double		 batch_t0;	/* when its first op came */
	/* The summary, of what was committed. */
	struct tally	 done;
	long		 bad, incomplete;
	double		 t0;
	enum store_sync	 sync;		/* what became of the vector file */
	struct rp_progress progress;	/* chunks committed */
};

/* Fields with a meaning to rag-index; others are kept in "extra". */
static const char *const known[] = {
	"chunk", "dimensions", "doc", "doc_prefix", "doc_sha256", "embedding",
	"embedding_b64", "end", "line", "model", "mtime", "nchunks",
	"query_prefix", "section", "size", "start", "text", "title",
};

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: rag-index [-qv] [--json] [--no-progress] "
	    "[--progress] [--strict] [-d db]\n"
	    "                 [--quant how] [--wait seconds] [file ...]\n");
	exit(RP_EXIT_USAGE);
}

static _Noreturn void
help(void)
{
	printf("usage: rag-index [-qv] [--json] [--no-progress] "
	    "[--progress] [--strict] [-d db]\n"
	    "                 [--quant how] [--wait seconds] [file ...]\n"
	    "Write chunk records (from rag-ingest or rag-embed) and "
	    "deletions into a store.\n"
	    "\n"
	    "  -d, --db PATH   the store (default $RAG_DB, else the config "
	    "file's db, else\n"
	    "                  $XDG_DATA_HOME/ragpipe/store.db)\n"
	    "      --json      print a JSON summary on stdout\n"
	    "      --no-progress, --progress\n"
	    "                  never, or always, show progress (default: "
	    "on a terminal)\n"
	    "      --quant HOW auto, none or int8: whether the vector file "
	    "gets an int8 copy\n"
	    "                  of the vectors, which makes the same search "
	    "read a quarter of\n"
	    "                  the bytes (auto, the default: when they take "
	    "more than 32 MiB);\n"
	    "                  kept by the store\n"
	    "  -q, --quiet     print errors only\n"
	    "      --strict    stop at the first bad record\n"
	    "  -v, --verbose   print the summary even when stderr is not "
	    "a terminal\n"
	    "      --wait N    wait up to N seconds for another writer "
	    "(default %d)\n"
	    "  -h, --help      show this help\n"
	    "      --version   show the version\n"
	    "\n"
	    "Records come from the files named, or standard input.  Each "
	    "document's chunks\n"
	    "replace its old ones in one transaction; {\"op\":\"delete\","
	    "\"doc\":PATH} removes one,\n"
	    "{\"op\":\"touch\",...} records new file times "
	    "(see ragpipe-format(5)).\n"
	    "Exit status: 0 ok, 1 failure, 2 usage, 65 some records were "
	    "bad, 69 the store\n"
	    "stayed locked by another writer, 74 I/O error, 128+N stopped "
	    "by signal N\n"
	    "(SIGINT 130, SIGTERM 143): nothing but whole batches was "
	    "committed.\n", WAIT_DEFAULT);
	exit(rp_finish(RP_EXIT_OK));
}

static int
is_known(const char *key)
{
	for (size_t i = 0; i < RP_NELEM(known); i++)
		if (strcmp(key, known[i]) == 0)
			return 1;
	return 0;
}

/* Append S to B[*N..SIZE), in a signal handler. */
static void
sig_cat(char *b, size_t *n, size_t size, const char *s)
{
	while (*s != '\0' && *n + 1 < size)
		b[(*n)++] = *s++;
}

static void
sig_num(char *b, size_t *n, size_t size, long v)
{
	char d[24];
	size_t i = sizeof(d) - 1;

	d[i] = '\0';
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && i > 0);
	sig_cat(b, n, size, d + i);
}

/* Say what was committed before a signal stopped us; async-signal-safe. */
static void
say_interrupted(int sig)
{
	char b[320];
	size_t n = 0;

	sig_cat(b, &n, sizeof(b), rp_progname());
	sig_cat(b, &n, sizeof(b), ": interrupted by ");
	sig_cat(b, &n, sizeof(b), sig == SIGINT ? "SIGINT" : sig == SIGTERM ?
	    "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "a signal");
	sig_cat(b, &n, sizeof(b), ": committed ");
	sig_num(b, &n, sizeof(b), committed_docs);
	sig_cat(b, &n, sizeof(b), " documents and ");
	sig_num(b, &n, sizeof(b), committed_deletes);
	sig_cat(b, &n, sizeof(b), " deletions; nothing else was written\n");
	if (write(2, b, n) < 0)
		return;	/* nowhere left to say it */
}

/*
 * SIGINT, SIGTERM, SIGHUP.  Between batches nothing is open, so we go
 * at once; during one, the store stops at its next check (store_set_
 * cancel) and the code that called it rolls back and calls stopped().
 */
static void
on_signal(int sig)
{
	if (interrupted == 0)
		interrupted = sig;
	if (!in_store) {
		say_interrupted(sig);
		_exit(128 + sig);
	}
}

static void
catch_signals(void)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGTERM };
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < RP_NELEM(sigs); i++)
		sigaddset(&sa.sa_mask, sigs[i]);
	/* An ignored signal stays ignored, as nohup(1) and shells mean. */
	for (size_t i = 0; i < RP_NELEM(sigs); i++)
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
}

/* A signal came while the store was at work: roll back and go. */
static _Noreturn void
stopped(struct index *ix)
{
	if (ix->in_tx)
		store_rollback(ix->store);
	say_interrupted(interrupted);
	exit(128 + interrupted);
}

static void
bad(struct index *ix, const struct rp_err *err)
{
	rp_report(err, &ix->status);
	ix->bad++;
	if (ix->strict) {
		if (ix->in_tx)
			store_rollback(ix->store);
		rp_die(RP_EXIT_DATA, "stopping at the first bad record "
		    "(--strict); nothing of this batch was committed");
	}
}

static _Noreturn void
fatal(struct index *ix, const struct rp_err *err)
{
	if (interrupted)
		stopped(ix);
	if (ix->in_tx)
		store_rollback(ix->store);
	rp_report(err, NULL);
	exit(err->code != RP_EXIT_OK ? err->code : RP_EXIT_FAIL);
}

static int64_t
num_or(const cJSON *o, const char *key, int64_t dflt)
{
	double v;

	if (!jsonl_num(o, key, &v) || v < 0 || v > 9.0e15)
		return dflt;
	return (int64_t)v;
}

/* The JSON text of the fields of REC rag-index has no column for. */
static char *
extras(const cJSON *rec)
{
	cJSON *x = NULL, *item;
	char *s;

	cJSON_ArrayForEach(item, rec) {
		if (item->string == NULL || is_known(item->string))
			continue;
		if (x == NULL)
			x = cJSON_CreateObject();
		cJSON_AddItemToObject(x, item->string,
		    cJSON_Duplicate(item, 1));
	}
	if (x == NULL)
		return NULL;
	s = cJSON_PrintUnformatted(x);
	cJSON_Delete(x);
	return s;
}

static int
cmp_seq(const void *a, const void *b)
{
	const struct store_chunk *x = a, *y = b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The string KEY of R, "" when absent. */
static const char *
str_or_empty(const cJSON *r, const char *key)
{
	const char *v = jsonl_str(r, key);

	return v != NULL ? v : "";
}

/*
 * The vectors of group G's chunks into C[i].vec, L2-normalised
 * (DESIGN.md section 3), all of one model, dimension, dimensions asked
 * for and prefixes (set in D); RAW[i] gets the vector as the record has
 * it, for the embedding cache, when the model is a remote one.  0, or
 * -1 with ERR filled.
 */
static int
group_vectors(struct group *g, struct store_chunk *c, float **raw,
    struct store_doc *d, struct rp_err *err)
{
	const char *model, *dp, *qp;
	size_t dim = 0, dimensions, local;
	float *v;

	for (size_t i = 0; i < g->n; i++) {
		if (jsonl_embedding(g->recs[i], &v, &model, &dim, err) != 0)
			return rp_err_prefix(err, "chunk %zu", i);
		dimensions = (size_t)num_or(g->recs[i], "dimensions", 0);
		dp = str_or_empty(g->recs[i], "doc_prefix");
		qp = str_or_empty(g->recs[i], "query_prefix");
		if (v != NULL && !embed_local_model(model, &local)) {
			raw[i] = xreallocarray(NULL, dim, sizeof(float));
			memcpy(raw[i], v, dim * sizeof(float));
		}
		if (v != NULL)
			vec_normalize(v, dim);
		c[i].vec = v;
		if (i == 0) {
			d->model = model;
			d->dim = dim;
			d->dimensions = dimensions;
			d->doc_prefix = dp;
			d->query_prefix = qp;
		} else if ((model == NULL) != (d->model == NULL) ||
		    (model != NULL && (strcmp(model, d->model) != 0 ||
		    dim != d->dim || dimensions != d->dimensions ||
		    strcmp(dp, d->doc_prefix) != 0 ||
		    strcmp(qp, d->query_prefix) != 0)))
			return rp_err_set(err, RP_EXIT_DATA, "chunk %zu: its "
			    "embedding differs in model, size or prefixes from "
			    "chunk 0's", i);
	}
	return 0;
}

/*
 * Keep the server's vectors of OP's chunks in the cache, keyed by the
 * hashes of their texts, in the open transaction.
 */
static int
cache_vectors(struct index *ix, const struct op *op, struct rp_err *err)
{
	for (size_t i = 0; op->raw != NULL && i < op->g.n; i++)
		if (op->raw[i] != NULL && store_cache_put(ix->store,
		    op->d.model, op->d.dimensions, op->hash[i], op->raw[i],
		    op->d.dim, err) != 0)
			return -1;
	return 0;
}

static void
group_free(struct group *g)
{
	for (size_t i = 0; i < g->n; i++)
		cJSON_Delete(g->recs[i]);
	free(g->recs);
	free(g->doc);
}

static void
op_free(struct op *op)
{
	for (size_t i = 0; op->c != NULL && i < op->g.n; i++) {
		cJSON_free((char *)op->c[i].extra);
		free((float *)op->c[i].vec);
	}
	for (size_t i = 0; op->raw != NULL && i < op->g.n; i++)
		free(op->raw[i]);
	free(op->raw);
	free(op->hash);
	free(op->c);
	group_free(&op->g);
}

/*
 * Turn group G into a document OP for the store, taking G's records
 * (vectors decoded, the JSON of the embeddings dropped to spare memory).
 * 0, or -1 with the problem reported (G is then freed).
 */
static int
prepare(struct index *ix, struct group *g, struct op *op)
{
	struct store_chunk *c;
	struct rp_err err;
	const cJSON *first;

	memset(op, 0, sizeof(*op));
	op->g = *g;
	if (g->expect >= 0 && (size_t)g->expect != g->n) {
		rp_err_set(&err, RP_EXIT_DATA, "%s: document '%s' is "
		    "incomplete: %zu of %ld chunks arrived; not indexed",
		    g->where, g->doc, g->n, g->expect);
		ix->incomplete++;
		goto bad;
	}
	first = g->n > 0 ? g->recs[0] : NULL;
	op->d.path = g->doc;
	op->d.title = first != NULL ? jsonl_str(first, "title") : NULL;
	op->d.sha256 = first != NULL ? jsonl_str(first, "doc_sha256") : NULL;
	op->d.mtime = first != NULL ? num_or(first, "mtime", -1) : -1;
	op->d.size = first != NULL ? num_or(first, "size", -1) : -1;
	op->c = c = xcalloc(g->n + 1, sizeof(*c));
	for (size_t i = 0; i < g->n; i++) {
		const cJSON *r = g->recs[i];

		c[i].seq = num_or(r, "chunk", (int64_t)i);
		c[i].text = jsonl_str(r, "text");
		c[i].len = strlen(c[i].text);
		c[i].start = num_or(r, "start", 0);
		c[i].end = num_or(r, "end", c[i].start + (int64_t)c[i].len);
		c[i].line = num_or(r, "line", 1);
		c[i].section = jsonl_str(r, "section");
		c[i].extra = extras(r);
		op->bytes += c[i].len;
	}
	op->raw = xcalloc(g->n + 1, sizeof(*op->raw));
	if (group_vectors(g, c, op->raw, &op->d, &err) != 0) {
		rp_err_prefix(&err, "%s: document '%s'", g->where, g->doc);
		goto bad;
	}
	/* The cache's keys, before sorting moves the chunks. */
	op->hash = xcalloc(g->n + 1, sizeof(*op->hash));
	for (size_t i = 0; i < g->n; i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(g->recs[i],
		    "embedding");
		cJSON_DeleteItemFromObjectCaseSensitive(g->recs[i],
		    "embedding_b64");
		op->bytes += op->d.dim * sizeof(float);
		if (op->raw[i] == NULL)
			continue;
		store_text_hash(op->d.doc_prefix, c[i].text, c[i].len,
		    op->hash[i]);
		op->bytes += op->d.dim * sizeof(float);
	}
	rp_sort(c, g->n, sizeof(*c), cmp_seq);
	return 0;
bad:
	op_free(op);
	bad(ix, &err);
	return -1;
}

/*
 * Write one batch-mate; data problems are reported, others fatal.  With
 * UNDO 0 (a batch's first try: no savepoint a document, see store.h),
 * a data problem is not reported but returned as 1: the transaction
 * then holds part of the document, and the batch must be written again
 * with UNDO.  Else 0.
 */
static int
apply(struct index *ix, struct op *op, struct tally *t, int undo)
{
	struct rp_err err;
	int rc;

	if (op->delete) {
		if ((rc = store_delete_doc(ix->store, op->g.doc, &err)) < 0)
			fatal(ix, &err);
		*(rc > 0 ? &t->deleted : &t->absent) += 1;
		return 0;
	}
	/* A touch for a document not there (deleted since) is no news. */
	if (op->touch) {
		if ((rc = store_touch_doc(ix->store, op->g.doc, op->mtime,
		    op->size, &err)) < 0)
			fatal(ix, &err);
		t->touched += rc;
		return 0;
	}
	if (store_put_doc(ix->store, &op->d, op->c, op->g.n, undo ? 0 :
	    STORE_PUT_NO_UNDO, &err) != 0) {
		if (err.code != RP_EXIT_DATA)
			fatal(ix, &err);
		/* --strict stops here either way, with nothing committed. */
		if (!undo && !ix->strict)
			return 1;
		rp_err_prefix(&err, "%s: document '%s'", op->g.where,
		    op->g.doc);
		bad(ix, &err);
		return 0;
	}
	if (cache_vectors(ix, op, &err) != 0)
		fatal(ix, &err);
	t->docs++;
	t->chunks += (long)op->g.n;
	return 0;
}

/*
 * Write the batch gathered so far in one transaction: at first without
 * a savepoint a document (FTS5 writes out its terms at each), and again
 * with them, from the start, when a document turns out bad, so that
 * only that one is left out.
 */
static void
flush(struct index *ix)
{
	struct rp_err err;
	struct tally t;
	size_t i;

	if (ix->nops == 0)
		return;
	in_store = 1;
	for (int undo = 0;; undo = 1) {
		memset(&t, 0, sizeof(t));
		if (store_begin(ix->store, &err) != 0)
			fatal(ix, &err);
		ix->in_tx = 1;
		for (i = 0; i < ix->nops && !interrupted; i++)
			if (apply(ix, &ix->ops[i], &t, undo) != 0)
				break;
		if (interrupted)
			stopped(ix);
		if (i == ix->nops)
			break;
		store_rollback(ix->store);
		ix->in_tx = 0;
	}
	if (store_commit(ix->store, &err) != 0) {
		ix->in_tx = 0;
		fatal(ix, &err);
	}
	ix->in_tx = 0;
	ix->done.docs += t.docs;
	ix->done.chunks += t.chunks;
	rp_progress_add(&ix->progress, (uint64_t)t.chunks, 0);
	ix->done.deleted += t.deleted;
	ix->done.absent += t.absent;
	ix->done.touched += t.touched;
	committed_docs = (sig_atomic_t)RP_MIN(ix->done.docs, (long)INT_MAX);
	committed_deletes = (sig_atomic_t)RP_MIN(ix->done.deleted,
	    (long)INT_MAX);
	in_store = 0;
	if (interrupted)
		stopped(ix);
	for (i = 0; i < ix->nops; i++)
		op_free(&ix->ops[i]);
	ix->nops = 0;
	ix->batch_bytes = 0;
}

static struct op *
new_op(struct index *ix)
{
	ix->ops = xreallocarray(ix->ops, ix->nops + 1, sizeof(*ix->ops));
	return &ix->ops[ix->nops];
}

static void
queued(struct index *ix)
{
	if (ix->nops == 0)
		ix->batch_t0 = rp_now();
	ix->batch_bytes += ix->ops[ix->nops++].bytes;
	if (ix->nops >= BATCH_DOCS || ix->batch_bytes >= BATCH_BYTES)
		flush(ix);
}

/* Group I is whole: queue it as a document. */
static void
flush_group(struct index *ix, size_t i)
{
	struct group g = ix->groups[i];

	ix->groups[i] = ix->groups[--ix->ngroups];
	if (prepare(ix, &g, new_op(ix)) == 0)
		queued(ix);
}

static void
drop_group(struct index *ix, size_t i)
{
	group_free(&ix->groups[i]);
	ix->groups[i] = ix->groups[--ix->ngroups];
}

/*
 * Groups without "nchunks" end where a record for another document
 * begins; flush those that are not DOC.
 */
static void
flush_open_groups(struct index *ix, const char *doc)
{
	for (size_t i = 0; i < ix->ngroups; )
		if (ix->groups[i].expect < 0 &&
		    (doc == NULL || strcmp(ix->groups[i].doc, doc) != 0))
			flush_group(ix, i);
		else
			i++;
}

static struct group *
find_group(struct index *ix, const char *doc)
{
	for (size_t i = 0; i < ix->ngroups; i++)
		if (strcmp(ix->groups[i].doc, doc) == 0)
			return &ix->groups[i];
	return NULL;
}

static void
do_delete(struct index *ix, const char *doc, const char *where)
{
	struct group *g;
	struct op *op;

	/* Chunks that came before the deletion are deleted with it. */
	if ((g = find_group(ix, doc)) != NULL)
		drop_group(ix, (size_t)(g - ix->groups));
	op = new_op(ix);
	memset(op, 0, sizeof(*op));
	op->delete = 1;
	op->g.doc = xstrdup(doc);
	snprintf(op->g.where, sizeof(op->g.where), "%s", where);
	queued(ix);
}

/* Field KEY of REC as a whole number of at least 0 into *V, or -1. */
static int
whole(const cJSON *rec, const char *key, int64_t *v, struct rp_err *err)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(rec, key);

	if (!cJSON_IsNumber(n) || !(n->valuedouble >= 0 &&
	    n->valuedouble < 9e15) ||
	    n->valuedouble != (double)(int64_t)n->valuedouble)
		return rp_err_set(err, RP_EXIT_DATA, "'%s' is not a whole "
		    "number", key);
	*v = (int64_t)n->valuedouble;
	return 0;
}

/*
 * {"op":"touch","doc":...,"mtime":...,"size":...}: rag-ingest -d found
 * the file's content unchanged under new times; record them, so that
 * the next run trusts them and does not read the file again.
 */
static int
do_touch(struct index *ix, const cJSON *rec, const char *doc,
    const char *where, struct rp_err *err)
{
	struct op *op;
	int64_t mtime, size;

	if (whole(rec, "mtime", &mtime, err) != 0 ||
	    whole(rec, "size", &size, err) != 0)
		return -1;
	op = new_op(ix);
	memset(op, 0, sizeof(*op));
	op->touch = 1;
	op->mtime = mtime;
	op->size = size;
	op->g.doc = xstrdup(doc);
	snprintf(op->g.where, sizeof(op->g.where), "%s", where);
	queued(ix);
	return 0;
}

static void
add_record(struct index *ix, cJSON *rec, const char *where)
{
	struct group *g;
	struct rp_err err;
	const char *doc, *op;
	long expect;

	doc = jsonl_str(rec, "doc");
	op = jsonl_str(rec, "op");
	if (doc == NULL || *doc == '\0') {
		rp_err_set(&err, RP_EXIT_DATA, "%s: record has no 'doc'",
		    where);
		goto reject;
	}
	if (op != NULL) {
		if (strcmp(op, "delete") != 0 && strcmp(op, "touch") != 0) {
			rp_err_set(&err, RP_EXIT_DATA, "%s: unknown op '%s'",
			    where, op);
			goto reject;
		}
		flush_open_groups(ix, NULL);
		if (strcmp(op, "delete") == 0)
			do_delete(ix, doc, where);
		else if (do_touch(ix, rec, doc, where, &err) != 0) {
			rp_err_prefix(&err, "%s", where);
			goto reject;
		}
		cJSON_Delete(rec);
		return;
	}
	if (jsonl_chunk_check(rec, &expect, &err) != 0) {
		rp_err_prefix(&err, "%s", where);
		goto reject;
	}
	flush_open_groups(ix, doc);
	if ((g = find_group(ix, doc)) == NULL) {
		ix->groups = xreallocarray(ix->groups, ix->ngroups + 1,
		    sizeof(*ix->groups));
		g = &ix->groups[ix->ngroups++];
		memset(g, 0, sizeof(*g));
		g->doc = xstrdup(doc);
		g->expect = expect;
		snprintf(g->where, sizeof(g->where), "%s", where);
	}
	if (cJSON_GetObjectItemCaseSensitive(rec, "text") != NULL) {
		g->recs = xgrow(g->recs, g->n, &g->cap, sizeof(*g->recs));
		g->recs[g->n++] = rec;
	} else
		cJSON_Delete(rec);
	if (g->expect >= 0 && g->n >= (size_t)g->expect)
		flush_group(ix, (size_t)(g - ix->groups));
	return;
reject:
	cJSON_Delete(rec);
	bad(ix, &err);
}

static void
index_stream(struct index *ix, FILE *f, const char *name)
{
	struct jsonl *r = jsonl_open(f, name, JSONL_MAX_LINE);
	struct rp_err err;
	cJSON *rec;
	int rc;

	for (;;) {
		/*
		 * Input is slow: write what we have rather than keep it
		 * waiting, but let a batch gather for up to BATCH_WAIT, so
		 * that a trickle of documents is not a commit each (each
		 * makes queries rebuild the vector file).
		 */
		if (ix->nops > 0 && !jsonl_ready(r, (int)(1000 *
		    RP_MAX(0.0, BATCH_WAIT - (rp_now() - ix->batch_t0)))))
			flush(ix);
		if ((rc = jsonl_next(r, &rec, &err)) == 0)
			break;
		if (rc < 0) {
			if (err.code == RP_EXIT_IO)
				fatal(ix, &err);
			bad(ix, &err);
			continue;
		}
		add_record(ix, rec, jsonl_where(r));
	}
	jsonl_close(r);
}

/* What became of the vector file (store.h), as --json says. */
static const char *const sync_names[] = {
	[STORE_SYNC_NONE] = "none", [STORE_SYNC_FRESH] = "fresh",
	[STORE_SYNC_UPDATED] = "updated", [STORE_SYNC_BUILT] = "built",
};

static void
summary(struct index *ix)
{
	cJSON *o;
	double secs = rp_now() - ix->t0;

	rp_note("%s: indexed %ld documents (%ld chunks), deleted %ld, "
	    "not found %ld, touched %ld, bad records %ld, %.2f s", ix->dbpath,
	    ix->done.docs, ix->done.chunks, ix->done.deleted, ix->done.absent,
	    ix->done.touched, ix->bad, secs);
	if (!ix->json)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "db", ix->dbpath);
	cJSON_AddNumberToObject(o, "documents", (double)ix->done.docs);
	cJSON_AddNumberToObject(o, "chunks", (double)ix->done.chunks);
	cJSON_AddNumberToObject(o, "deleted", (double)ix->done.deleted);
	cJSON_AddNumberToObject(o, "not_found", (double)ix->done.absent);
	cJSON_AddNumberToObject(o, "touched", (double)ix->done.touched);
	cJSON_AddNumberToObject(o, "bad", (double)ix->bad);
	cJSON_AddNumberToObject(o, "incomplete", (double)ix->incomplete);
	cJSON_AddNumberToObject(o, "seconds", (double)(long)(secs * 1000) /
	    1000.0);
	cJSON_AddStringToObject(o, "vector_file", sync_names[ix->sync]);
	jsonl_write(stdout, o);
	cJSON_Delete(o);
}

/* The store of RAG_DB, the config file, or the default; a new string. */
static char *
default_db(void)
{
	struct cfg *c = cfg_new();
	struct rp_err err;
	const char *w;
	char *db;

	if (cfg_load(c, getenv, &err) != 0) {
		rp_report(&err, NULL);
		exit(err.code);
	}
	for (size_t i = 0; (w = cfg_warning(c, i)) != NULL; i++)
		rp_warn("%s", w);
	db = cfg_get(c, CFG_DB) != NULL ? xstrdup(cfg_get(c, CFG_DB)) : NULL;
	cfg_free(c);
	return db;
}

/*
 * Record --quant in the store, in a transaction of its own; the vector
 * file is rebuilt for it at the end, with or without records.
 */
static void
set_quant(struct index *ix, enum vindex_quant quant)
{
	struct rp_err err;

	in_store = 1;
	if (store_begin(ix->store, &err) != 0 ||
	    store_set_quant(ix->store, quant, &err) != 0 ||
	    store_commit(ix->store, &err) != 0) {
		if (interrupted)
			stopped(ix);
		fatal(ix, &err);
	}
	in_store = 0;
	if (interrupted)
		stopped(ix);
}

int
main(int argc, char *argv[])
{
	struct index ix;
	struct rp_err err;
	char *dbpath = NULL;
	unsigned long wait = WAIT_DEFAULT;
	FILE *f;
	int ch, progress = -1, quant = -1;

	rp_init(argv[0]);
	memset(&ix, 0, sizeof(ix));
	ix.t0 = rp_now();
	while ((ch = getopt_long(argc, argv, "d:hqv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			ix.dbpath = optarg;
			break;
		case 'h':
			help();
		case 'q':
			rp_verbosity = 0;
			break;
		case 'v':
			rp_verbosity = 2;
			break;
		case OPT_JSON:
			ix.json = 1;
			break;
		case OPT_NO_PROGRESS:
			progress = 0;
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case OPT_QUANT:
			if ((quant = vindex_quant_parse(optarg)) < 0)
				rp_die(RP_EXIT_USAGE, "--quant: '%s' is not one "
				    "of auto, none, int8", optarg);
			break;
		case OPT_STRICT:
			ix.strict = 1;
			break;
		case OPT_VERSION:
			printf("rag-index (ragpipe) %s\n", RP_VERSION);
			return rp_finish(0);
		case OPT_WAIT:
			wait = rp_parse_ulong(optarg, 0, 86400, "--wait");
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (ix.dbpath == NULL) {
		if ((dbpath = default_db()) == NULL)
			rp_die(RP_EXIT_USAGE, "no store: give -d or set RAG_DB");
		if (store_mkdirs(dbpath, &err) != 0)
			fatal(&ix, &err);
		ix.dbpath = dbpath;
	}
	catch_signals();
	if ((ix.store = store_open(ix.dbpath, STORE_CREATE, &err)) == NULL)
		fatal(&ix, &err);
	store_set_timeout(ix.store, (unsigned)wait * 1000);
	store_set_cancel(ix.store, &interrupted);
	if (quant >= 0)
		set_quant(&ix, (enum vindex_quant)quant);
	rp_progress_start(&ix.progress, progress == 1 || (progress == -1 &&
	    rp_stderr_tty && rp_verbosity > 0), "chunks indexed", 0);
	if (argc == 0)
		index_stream(&ix, stdin, "<stdin>");
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0) {
			index_stream(&ix, stdin, "<stdin>");
			continue;
		}
		if ((f = fopen(argv[i], "r")) == NULL) {
			rp_err_set(&err, RP_EXIT_IO, "%s: %s", argv[i],
			    strerror(errno));
			rp_report(&err, &ix.status);
			continue;
		}
		index_stream(&ix, f, argv[i]);
		fclose(f);
	}
	flush_open_groups(&ix, NULL);
	while (ix.ngroups > 0)
		flush_group(&ix, 0);
	flush(&ix);
	/* The vector file for queries, now rather than at the next query. */
	in_store = 1;
	if (store_sync_vectors(ix.store, &ix.sync, &err) != 0) {
		if (interrupted)
			stopped(&ix);
		rp_report(&err, &ix.status);
	}
	store_close(ix.store);
	in_store = 0;
	if (interrupted)
		stopped(&ix);
	free(ix.groups);
	free(ix.ops);
	rp_progress_end(&ix.progress);
	summary(&ix);
	free(dbpath);
	return rp_finish(ix.status);
}
