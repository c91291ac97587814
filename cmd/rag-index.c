/* rag-index: write chunk records and deletions into the store. */
#include <errno.h>
#include <math.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp.h"
#include "buf.h"
#include "embed.h"
#include "jsonl.h"
#include "store.h"
#include "vec.h"

/* A transaction holds this many documents or chunk bytes at most. */
#define BATCH_DOCS	256
#define BATCH_BYTES	((size_t)32 << 20)

enum { OPT_JSON = 256, OPT_STRICT, OPT_VERSION };

static const struct option longopts[] = {
	{ "db",		required_argument,	NULL, 'd' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "json",	no_argument,		NULL, OPT_JSON },
	{ "quiet",	no_argument,		NULL, 'q' },
	{ "strict",	no_argument,		NULL, OPT_STRICT },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "version",	no_argument,		NULL, OPT_VERSION },
	{ NULL,		0,			NULL, 0 }
};

/* The chunks of one document, gathered until all of them are here. */
struct group {
	char		*doc;
	cJSON		**recs;		/* chunk records, owned */
	size_t		 n;
	long		 expect;	/* "nchunks", or -1 when not given */
	char		 where[256];	/* where its first record was */
};

struct index {
	const char	*dbpath;
	int		 json, strict;
	struct store	*store;
	int		 status;
	int		 in_tx;
	size_t		 tx_docs, tx_bytes;
	struct group	*groups;	/* pending documents */
	size_t		 ngroups;
	/* The summary. */
	long		 docs, chunks, deleted, absent, bad, incomplete;
	double		 t0;
};

/* Fields with a meaning to rag-index; others are kept in "extra". */
static const char *const known[] = {
	"chunk", "doc", "doc_sha256", "embedding", "embedding_b64", "end",
	"line", "model", "mtime", "nchunks", "section", "size", "start",
	"text", "title",
};

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: rag-index [-qv] [--json] [--strict] "
	    "[-d db] [file ...]\n");
	exit(RP_EXIT_USAGE);
}

static _Noreturn void
help(void)
{
	printf("usage: rag-index [-qv] [--json] [--strict] [-d db] "
	    "[file ...]\n"
	    "Write chunk records (from rag-ingest or rag-embed) and "
	    "deletions into a store.\n"
	    "\n"
	    "  -d, --db PATH   the store (default $RAG_DB, else "
	    "$XDG_DATA_HOME/ragpipe/store.db)\n"
	    "      --json      print a JSON summary on stdout\n"
	    "  -q, --quiet     print errors only\n"
	    "      --strict    stop at the first bad record\n"
	    "  -v, --verbose   print the summary even when stderr is not "
	    "a terminal\n"
	    "  -h, --help      show this help\n"
	    "      --version   show the version\n"
	    "\n"
	    "Records come from the files named, or standard input.  Each "
	    "document's chunks\n"
	    "replace its old ones in one transaction; {\"op\":\"delete\","
	    "\"doc\":PATH} removes one.\n"
	    "Exit status: 0 ok, 1 failure, 2 usage, 65 some records were "
	    "bad, 74 I/O error.\n");
	exit(RP_EXIT_OK);
}

static int
is_known(const char *key)
{
	for (size_t i = 0; i < RP_NELEM(known); i++)
		if (strcmp(key, known[i]) == 0)
			return 1;
	return 0;
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
	if (ix->in_tx)
		store_rollback(ix->store);
	rp_report(err, NULL);
	exit(err->code != RP_EXIT_OK ? err->code : RP_EXIT_FAIL);
}

static void
commit(struct index *ix)
{
	struct rp_err err;

	if (!ix->in_tx)
		return;
	if (store_commit(ix->store, &err) != 0) {
		ix->in_tx = 0;
		fatal(ix, &err);
	}
	ix->in_tx = 0;
	ix->tx_docs = ix->tx_bytes = 0;
}

static void
begin(struct index *ix)
{
	struct rp_err err;

	if (ix->in_tx)
		return;
	if (store_begin(ix->store, &err) != 0)
		fatal(ix, &err);
	ix->in_tx = 1;
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

/*
 * The vector of chunk record R into *OUT (a new array; NULL when R has
 * no embedding), with its model and dimension.  0, or -1 with ERR
 * filled for a bad embedding.  Vectors are L2-normalised here (DESIGN.md
 * section 3).
 */
static int
vector(const cJSON *r, float **out, const char **model, size_t *dim,
    struct rp_err *err)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "embedding");
	const char *b64 = jsonl_str(r, "embedding_b64");
	const cJSON *x;
	float *v = NULL;
	size_t n = 0;

	*out = NULL;
	*model = jsonl_str(r, "model");
	if (e == NULL && b64 == NULL) {
		*model = NULL;
		return 0;
	}
	if (*model == NULL || **model == '\0')
		return rp_err_set(err, RP_EXIT_DATA, "an embedding without a "
		    "'model'");
	if (e != NULL) {
		if (!cJSON_IsArray(e) || (n = (size_t)cJSON_GetArraySize(e)) ==
		    0 || n > EMBED_MAX_DIM)
			return rp_err_set(err, RP_EXIT_DATA, "'embedding' is "
			    "not an array of 1 to %d numbers", EMBED_MAX_DIM);
		v = xreallocarray(NULL, n, sizeof(*v));
		n = 0;
		cJSON_ArrayForEach(x, e) {
			if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) ||
			    fabs(x->valuedouble) > 3.4e38) {
				free(v);
				return rp_err_set(err, RP_EXIT_DATA, "'embedding' "
				    "value %zu is not a finite number", n + 1);
			}
			v[n++] = (float)x->valuedouble;
		}
	} else if ((v = embed_from_b64(b64, strlen(b64), &n, err)) == NULL) {
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i])) {
			free(v);
			return rp_err_set(err, RP_EXIT_DATA, "'embedding_b64' "
			    "value %zu is not a finite number", i + 1);
		}
	vec_normalize(v, n);
	*dim = n;
	*out = v;
	return 0;
}

/*
 * The vectors of group G's chunks into C[i].vec, all of one model and
 * dimension (set in D).  0, or -1 with ERR filled.
 */
static int
group_vectors(struct group *g, struct store_chunk *c, struct store_doc *d,
    struct rp_err *err)
{
	const char *model;
	size_t dim = 0;

	float *v;

	for (size_t i = 0; i < g->n; i++) {
		if (vector(g->recs[i], &v, &model, &dim, err) != 0)
			return rp_err_prefix(err, "chunk %zu", i);
		c[i].vec = v;
		if (i == 0) {
			d->model = model;
			d->dim = dim;
		} else if ((model == NULL) != (d->model == NULL) ||
		    (model != NULL && (strcmp(model, d->model) != 0 ||
		    dim != d->dim)))
			return rp_err_set(err, RP_EXIT_DATA, "chunk %zu: its "
			    "embedding differs in model or size from chunk 0's",
			    i);
	}
	return 0;
}

/* Write group G as one document.  Data problems are reported here. */
static void
write_group(struct index *ix, struct group *g)
{
	struct store_chunk *c;
	struct store_doc d;
	struct rp_err err;
	const cJSON *first;
	size_t bytes = 0;
	int rc;

	if (g->expect >= 0 && (size_t)g->expect != g->n) {
		rp_err_set(&err, RP_EXIT_DATA, "%s: document '%s' is "
		    "incomplete: %zu of %ld chunks arrived; not indexed",
		    g->where, g->doc, g->n, g->expect);
		ix->incomplete++;
		bad(ix, &err);
		return;
	}
	first = g->n > 0 ? g->recs[0] : NULL;
	memset(&d, 0, sizeof(d));
	d.path = g->doc;
	d.title = first != NULL ? jsonl_str(first, "title") : NULL;
	d.sha256 = first != NULL ? jsonl_str(first, "doc_sha256") : NULL;
	d.mtime = first != NULL ? num_or(first, "mtime", -1) : -1;
	d.size = first != NULL ? num_or(first, "size", -1) : -1;
	c = xcalloc(g->n + 1, sizeof(*c));
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
		bytes += c[i].len;
	}
	if ((rc = group_vectors(g, c, &d, &err)) == 0) {
		rp_sort(c, g->n, sizeof(*c), cmp_seq);
		begin(ix);
		rc = store_put_doc(ix->store, &d, c, g->n, &err);
	}
	for (size_t i = 0; i < g->n; i++) {
		cJSON_free((char *)c[i].extra);
		free((float *)c[i].vec);
	}
	free(c);
	if (rc != 0) {
		if (err.code != RP_EXIT_DATA)
			fatal(ix, &err);
		rp_err_prefix(&err, "%s: document '%s'", g->where, g->doc);
		bad(ix, &err);
		return;
	}
	ix->docs++;
	ix->chunks += (long)g->n;
	ix->tx_docs++;
	ix->tx_bytes += bytes;
	if (ix->tx_docs >= BATCH_DOCS || ix->tx_bytes >= BATCH_BYTES)
		commit(ix);
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
drop_group(struct index *ix, size_t i)
{
	group_free(&ix->groups[i]);
	ix->groups[i] = ix->groups[--ix->ngroups];
}

static void
flush_group(struct index *ix, size_t i)
{
	write_group(ix, &ix->groups[i]);
	drop_group(ix, i);
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
do_delete(struct index *ix, const char *doc)
{
	struct group *g;
	struct rp_err err;
	int rc;

	/* Chunks that came before the deletion are deleted with it. */
	if ((g = find_group(ix, doc)) != NULL)
		drop_group(ix, (size_t)(g - ix->groups));
	begin(ix);
	if ((rc = store_delete_doc(ix->store, doc, &err)) < 0)
		fatal(ix, &err);
	if (rc > 0)
		ix->deleted++;
	else
		ix->absent++;
	if (++ix->tx_docs >= BATCH_DOCS)
		commit(ix);
}

/* Check a chunk record; 0 if usable, else -1 with ERR filled. */
static int
check_chunk(const cJSON *rec, long *expect, struct rp_err *err)
{
	const cJSON *v;
	double d;

	*expect = -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(rec, "nchunks")) != NULL) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
		    v->valuedouble > 1e9 ||
		    v->valuedouble != (double)(long)v->valuedouble)
			return rp_err_set(err, RP_EXIT_DATA,
			    "'nchunks' is not a whole number");
		*expect = (long)v->valuedouble;
	}
	v = cJSON_GetObjectItemCaseSensitive(rec, "text");
	if (v == NULL && *expect == 0)
		return 0;
	if (v == NULL)
		return rp_err_set(err, RP_EXIT_DATA, "record has no 'text'");
	if (!cJSON_IsString(v))
		return rp_err_set(err, RP_EXIT_DATA, "'text' is not a string");
	if (jsonl_num(rec, "chunk", &d) == 0 &&
	    cJSON_GetObjectItemCaseSensitive(rec, "chunk") != NULL)
		return rp_err_set(err, RP_EXIT_DATA, "'chunk' is not a number");
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
		if (strcmp(op, "delete") != 0) {
			rp_err_set(&err, RP_EXIT_DATA, "%s: unknown op '%s'",
			    where, op);
			goto reject;
		}
		flush_open_groups(ix, NULL);
		do_delete(ix, doc);
		cJSON_Delete(rec);
		return;
	}
	if (check_chunk(rec, &expect, &err) != 0) {
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
		g->recs = xreallocarray(g->recs, g->n + 1, sizeof(*g->recs));
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

	while ((rc = jsonl_next(r, &rec, &err)) != 0) {
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

static void
summary(struct index *ix)
{
	cJSON *o;
	double secs = rp_now() - ix->t0;

	rp_note("%s: indexed %ld documents (%ld chunks), deleted %ld, "
	    "not found %ld, bad records %ld, %.2f s", ix->dbpath, ix->docs,
	    ix->chunks, ix->deleted, ix->absent, ix->bad, secs);
	if (!ix->json)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "db", ix->dbpath);
	cJSON_AddNumberToObject(o, "documents", (double)ix->docs);
	cJSON_AddNumberToObject(o, "chunks", (double)ix->chunks);
	cJSON_AddNumberToObject(o, "deleted", (double)ix->deleted);
	cJSON_AddNumberToObject(o, "not_found", (double)ix->absent);
	cJSON_AddNumberToObject(o, "bad", (double)ix->bad);
	cJSON_AddNumberToObject(o, "incomplete", (double)ix->incomplete);
	cJSON_AddNumberToObject(o, "seconds", (double)(long)(secs * 1000) /
	    1000.0);
	jsonl_write(stdout, o);
	cJSON_Delete(o);
}

int
main(int argc, char *argv[])
{
	struct index ix;
	struct rp_err err;
	char *dbpath = NULL;
	FILE *f;
	int ch;

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
		case OPT_STRICT:
			ix.strict = 1;
			break;
		case OPT_VERSION:
			printf("rag-index (ragpipe) %s\n", RP_VERSION);
			return 0;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (ix.dbpath == NULL) {
		if ((dbpath = store_default_path(getenv)) == NULL)
			rp_die(RP_EXIT_USAGE, "no store: give -d or set RAG_DB");
		if (store_mkdirs(dbpath, &err) != 0)
			fatal(&ix, &err);
		ix.dbpath = dbpath;
	}
	if ((ix.store = store_open(ix.dbpath, STORE_CREATE, &err)) == NULL)
		fatal(&ix, &err);
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
	commit(&ix);
	/* The vector file for queries, now rather than at the next query. */
	if (store_sync_vectors(ix.store, &err) != 0)
		rp_report(&err, &ix.status);
	store_close(ix.store);
	free(ix.groups);
	summary(&ix);
	free(dbpath);
	return rp_finish(ix.status);
}
