/*
 * rag-ingest's parts: main.c finds and reads documents and prints their
 * chunk records; incremental.c compares them with a store (-d).
 */
#ifndef INGEST_H
#define INGEST_H

#include <stddef.h>
#include <sys/stat.h>

#include "rp.h"
#include "chunk.h"
#include "extract.h"

struct convert;
struct store_docinfo;

/* A list of strings, sorted when searched. */
struct strs {
	char		**v;
	size_t		 n, cap;
};

struct ingest {
	struct chunk_opts co;
	enum extract_format format;	/* EXTRACT_AUTO: from each path */
	const char	*name;		/* of the document read from "-" */
	size_t		 max_size;
	int		 status;
	long		 docs, chunks;
	/* -d: the store that says what is indexed already. */
	int		 incremental;	/* -d given (the store may not exist) */
	struct store	*store;
	int		 force, prune;
	struct strs	 roots;		/* the paths given, for --prune */
	struct strs	 seen;		/* documents the walk found */
	struct strs	 kept;		/* paths that could not be read */
	long		 scanned, new, changed, unchanged, deleted;
	struct convert	*conv;		/* PDF, DOCX, ... and --convert */
	struct rp_progress progress;
};

/* main.c */

/* Print "rag-ingest: ..." and raise the exit status to CODE. */
void	report(struct ingest *ig, enum rp_exit code, const char *fmt, ...)
	    RP_PRINTF(3, 4);
/* PATH as a document's identity (a new string): see rag-ingest(1). */
char	*normalize(const char *path);
/* strcmp for qsort and bsearch over arrays of strings. */
int	cmp_name(const void *a, const void *b);
/*
 * Read file PATH and print it as document DOC, unless -d finds it
 * unchanged (then at most a touch record: see touch).
 */
void	ingest_file(struct ingest *ig, const char *path, const char *doc);

/* incremental.c */

void	strs_add(struct strs *l, const char *v);
void	strs_free(struct strs *l);
/* --prune: PATH could not be read, so nothing under it is pruned. */
void	keep(struct ingest *ig, const char *path);
/* --prune: the walk found document DOC. */
void	seen(struct ingest *ig, const char *doc);
/*
 * Open the store DB for -d, unless it does not exist yet (then every
 * document is new).  Exits on failure.
 */
void	open_store(struct ingest *ig, const char *db);
/*
 * Look DOC up in the store: 1 with *HAVE filled (its strings lent until
 * the next lookup), 0 when the store has not got it.  Exits on failure.
 */
int	lookup(struct ingest *ig, const char *doc,
	    struct store_docinfo *have);
/*
 * Is the text with SHA (and TITLE, when given) what the store has
 * (FOUND, HAVE)?  Counts the document as new, changed or unchanged, and
 * says whether to print it: not when unchanged, unless --force.
 */
int	judge(struct ingest *ig, int found, const struct store_docinfo *have,
	    const char *sha, const char *title);
/*
 * Print {"op":"touch"} for document DOC, found unchanged in content
 * but not in size or mtime (from SB), so that the store learns them.
 */
void	touch(const char *doc, const struct stat *sb);
/* --prune: print deletions for documents the walk no longer found. */
void	prune(struct ingest *ig);

#endif /* INGEST_H */
