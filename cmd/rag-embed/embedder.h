/*
 * embedder.h: what rag-embed's parts share.  main.c reads records into
 * a window and writes them out in input order; local.c (the built-in
 * model, on threads) and remote.c (model servers, with the embedding
 * cache) fill in the vectors of a window's items.
 */
#ifndef EMBEDDER_H
#define EMBEDDER_H

#include <stddef.h>

#include "rp.h"
#include "buf.h"
#include "jsonl.h"
#include "provider.h"

/* One input line and what becomes of it. */
struct item {
	char		*line;		/* the line as read */
	size_t		 len;
	char		*where;		/* "name:line", for messages */
	cJSON		*rec;		/* parsed; NULL: pass the line through */
	const char	*text;		/* lent by rec */
	size_t		 tlen;		/* bytes of text */
	float		*v;		/* its vector, once embedded */
	size_t		 dim;
	int		 cached;	/* the vector came from the store */
	int		 failed;	/* reported; the record is not written */
	struct buf	 out;		/* the line to write */
};

struct run {
	/* Settings. */
	enum provider	 p;
	char		*model;		/* "openai:text-embedding-3-small" */
	size_t		 dim;		/* local: its dimension */
	size_t		 dimensions;	/* remote: to ask for; 0: none */
	const char	*doc_prefix;	/* "" when none */
	const char	*query_prefix;
	int		 b64, strict;
	size_t		 batch;		/* local: records a batch; remote:
					   texts a request */
	unsigned	 jobs;		/* threads, or requests in flight */
	struct store	*store;		/* the cache; NULL: none */
	struct http	*http;
	struct provider_embed pe;
	/* The window. */
	struct item	*items;
	size_t		 n, cap;
	/* What happened. */
	int		 status;
	int		 stop;		/* the service failed: read no more */
	size_t		 run_dim;	/* remote: the size of every vector */
	long		 embedded, cached, passed, bad, lost, requests;
	struct rp_progress progress;	/* records embedded */
};

/* Report a bad record (65 unless CODE says more) and count it. */
void	item_fail(struct run *r, struct item *it, const struct rp_err *err);

/* local.c: embed the window's records with the built-in model. */
void	local_embed(struct run *r);
/*
 * remote.c: embed the window's records with a model server, taking what
 * the cache has.  Sets r->stop when the service failed.
 */
void	remote_embed(struct run *r);

#endif /* EMBEDDER_H */
