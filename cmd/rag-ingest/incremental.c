/*
 * rag-ingest: what the store has already (-d): documents unchanged since
 * they were indexed are skipped, and documents no longer found are
 * pruned.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rp.h"
#include "jsonl.h"
#include "store.h"
#include "ingest.h"

void
strs_add(struct strs *l, const char *v)
{
	l->v = xgrow(l->v, l->n, &l->cap, sizeof(*l->v));
	l->v[l->n++] = xstrdup(v);
}

void
strs_free(struct strs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* A path that could not be read: nothing under it is pruned. */
void
keep(struct ingest *ig, const char *path)
{
	char *p;

	if (!ig->prune)
		return;
	p = normalize(path);
	strs_add(&ig->kept, p);
	free(p);
}

void
seen(struct ingest *ig, const char *doc)
{
	if (ig->prune)
		strs_add(&ig->seen, doc);
}

/*
 * Look DOC up in the store (-d): 1 with *HAVE filled (its strings lent
 * until the next lookup), 0 when the store has not got it.
 */
int
lookup(struct ingest *ig, const char *doc, struct store_docinfo *have)
{
	struct rp_err err;
	int rc;

	if (ig->store == NULL)
		return 0;
	if ((rc = store_doc_get(ig->store, doc, have, &err)) < 0) {
		rp_report(&err, NULL);
		exit(err.code);
	}
	return rc;
}

/*
 * Is the text with SHA (and TITLE, when given) what the store has (-d,
 * FOUND with HAVE)?  Counts the document as new, changed or unchanged,
 * and says whether to print it: not when unchanged, unless --force.
 */
int
judge(struct ingest *ig, int found, const struct store_docinfo *have,
    const char *sha, const char *title)
{
	if (found && have->sha256 != NULL && strcmp(sha, have->sha256) == 0 &&
	    (title == NULL || (have->title != NULL &&
	    strcmp(title, have->title) == 0))) {
		ig->unchanged++;
		return ig->force;
	}
	if (found)
		ig->changed++;
	else
		ig->new++;
	return 1;
}

void
touch(const char *doc, const struct stat *sb)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddStringToObject(r, "op", "touch");
	cJSON_AddStringToObject(r, "doc", doc);
	cJSON_AddNumberToObject(r, "mtime", (double)sb->st_mtime);
	cJSON_AddNumberToObject(r, "size", (double)sb->st_size);
	jsonl_write(stdout, r);
	cJSON_Delete(r);
}

/*
 * Is PATH at or below ROOT (both normalised)?  "." holds every relative
 * path that does not climb out with "..", and "/" every absolute one.
 */
static int
under(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (strcmp(root, ".") == 0)
		return path[0] != '/' && strcmp(path, "..") != 0 &&
		    strncmp(path, "../", 3) != 0;
	if (strcmp(root, "/") == 0)
		return path[0] == '/';
	return strncmp(path, root, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/');
}

struct candidates {
	const char	*root;
	struct strs	 l;
};

/* store_doc_fn: documents under the root that came from files. */
static int
candidate(void *arg, const char *path, const struct store_docinfo *di)
{
	struct candidates *c = arg;

	/* No mtime: from standard input or --json, never pruned. */
	if (di->mtime >= 0 && under(c->root, path))
		strs_add(&c->l, path);
	return 0;
}

/*
 * --prune: print a deletion for each document of the store that is
 * under a path given, came from a file, and was not found by this run's
 * walk, unless it is under a path that could not be read.
 */
void
prune(struct ingest *ig)
{
	struct candidates c = { NULL, { NULL, 0, 0 } };
	struct rp_err err;
	const char *doc;
	cJSON *r;
	size_t i;

	for (i = 0; i < ig->roots.n && ig->store != NULL; i++) {
		c.root = ig->roots.v[i];
		if (store_each_doc(ig->store, strcmp(c.root, ".") == 0 ? "" :
		    c.root, candidate, &c, &err) != 0) {
			rp_report(&err, NULL);
			exit(err.code);
		}
	}
	rp_sort(c.l.v, c.l.n, sizeof(*c.l.v), cmp_name);
	rp_sort(ig->seen.v, ig->seen.n, sizeof(*ig->seen.v), cmp_name);
	for (i = 0; i < c.l.n && !rp_stdout_failed(); i++) {
		doc = c.l.v[i];
		if ((i > 0 && strcmp(doc, c.l.v[i - 1]) == 0) ||
		    (ig->seen.n > 0 && bsearch(&doc, ig->seen.v, ig->seen.n,
		    sizeof(*ig->seen.v), cmp_name) != NULL))
			continue;
		for (size_t k = 0; k < ig->kept.n; k++)
			if (under(ig->kept.v[k], doc))
				goto next;
		r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "op", "delete");
		cJSON_AddStringToObject(r, "doc", doc);
		jsonl_write(stdout, r);
		cJSON_Delete(r);
		ig->deleted++;
next:		;
	}
	strs_free(&c.l);
}

/* Open the store of -d, if it exists yet: else everything is new. */
void
open_store(struct ingest *ig, const char *db)
{
	struct rp_err err;

	if (access(db, F_OK) != 0 && errno == ENOENT) {
		rp_note("%s: no store yet: every document is new", db);
		return;
	}
	/* Empty: rag-index, later in the pipeline, is creating it. */
	if ((ig->store = store_open(db, STORE_READONLY | STORE_EMPTY_OK,
	    &err)) == NULL) {
		rp_report(&err, NULL);
		exit(err.code);
	}
}

