/*
 * answer.h: what rag-answer's parts share: the hits of one question,
 * an answer with its citations, and the providers that make answers.
 * A provider fills a struct answer from a struct group; main.c reads
 * hit records into groups and prints the answers.
 */
#ifndef ANSWER_H
#define ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "rp.h"
#include "buf.h"
#include "jsonl.h"

#define SENTENCES_DEFAULT	3
#define SENTENCES_MAX		100
#define MAX_CHARS_DEFAULT	600
#define MAX_CHARS_MIN		10
#define MAX_CHARS_MAX		100000
#define NO_ANSWER		"No answer found in the indexed documents."
#define NONE			SIZE_MAX
#define FRAG_HEAD		1	/* may be cut at its start */
#define FRAG_TAIL		2	/* may be cut at its end */

struct opts;

/* One hit record of the current question. */
struct hit {
	cJSON		*rec;		/* owned */
	const char	*doc;		/* lent by rec */
	char		*text;		/* owned: valid UTF-8 (utf8_clean) */
	double		 start;		/* byte offset in the document, or -1 */
	double		 chunk;		/* -1: not given */
	unsigned long	 line;		/* first line of text; 0: not given */
	unsigned long	 page;		/* a PDF's page; 0: not paged */
	size_t		 src;		/* the first hit of doc (and page) */
};

/* Consecutive hits of one question. */
struct group {
	char		*query;		/* NULL only with no input at all */
	char		*qkey;		/* the qid as text, or NULL */
	cJSON		*qid;		/* the qid as given, or NULL */
	struct hit	*hits;
	size_t		 n;
};

/* Source n of an answer: the hit and line of its first sentence. */
struct cite {
	size_t		 hit;
	unsigned long	 line;
};

/* What a provider produces; an empty text means no answer. */
struct answer {
	struct buf	 text;		/* sentences, each with " [n]" */
	struct cite	*cites;		/* cites[n - 1] is source n */
	size_t		 ncites, nsent;
	const char	*model;
};

/* A provider answers group G into A: 0, or RP_EXIT_NOANSWER. */
typedef int (*answer_fn)(const struct group *g, const struct opts *o,
    struct answer *a);

struct provider {
	const char	*name;
	answer_fn	 fn;
};

struct opts {
	size_t		 sentences, max_chars;
	int		 json;
	const char	*question;
	const struct provider *provider;
};

/* The extractive provider: sentences of the hits (extractive.c). */
int	extractive(const struct group *g, const struct opts *o,
	    struct answer *a);

#endif /* ANSWER_H */
