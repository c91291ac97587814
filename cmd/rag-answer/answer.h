/*
 * answer.h: what rag-answer's parts share: the hits of one question,
 * an answer with its citations, and the providers that make answers.
 * A provider fills a struct answer from a struct group; main.c reads
 * hit records into groups and prints the answers.  extractive.c answers
 * offline; openai.c and ollama.c ask a model server, through llm.c,
 * which writes the answer to stdout as it arrives.
 */
#ifndef ANSWER_H
#define ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "rp.h"
#include "buf.h"
#include "jsonl.h"
#include "provider.h"

#define SENTENCES_DEFAULT	3
#define SENTENCES_MAX		100
#define MAX_CHARS_DEFAULT	600
#define MAX_CHARS_MIN		10
#define MAX_CHARS_MAX		100000
#define NO_ANSWER		"No answer found in the indexed documents."
#define NONE			SIZE_MAX
#define FRAG_HEAD		1	/* may be cut at its start */
#define FRAG_TAIL		2	/* may be cut at its end */
#define MAX_CONTEXT_DEFAULT	8000	/* characters of passages */
#define MAX_CONTEXT_MIN		100
#define MAX_CONTEXT_MAX		1000000
#define LLM_MAX_ANSWER		((size_t)1 << 20)	/* bytes of a model's answer */

struct opts;
struct http;

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
	size_t		 n, cap;
};

/* Source n of an answer: the hit and line of its first sentence. */
struct cite {
	size_t		 n;		/* its number in the text */
	size_t		 hit;
	unsigned long	 line;
};

/* What a provider produces; an empty text means no answer. */
struct answer {
	struct buf	 text;		/* sentences, each with " [n]" */
	struct cite	*cites;		/* by number; extractive: cites[n - 1]
					   is source n */
	size_t		 ncites, nsent;
	const char	*model;
	int		 streamed;	/* the text is on stdout already */
	size_t		 passages;	/* hits given to a model */
	long		 prompt_tokens;	/* as the server counted; -1: unknown */
	long		 completion_tokens;
};

/*
 * A provider answers group G into A: 0, or RP_EXIT_NOANSWER; a model
 * server's may also fail with RP_EXIT_DATA or RP_EXIT_UNAVAIL, after
 * reporting why.
 */
typedef int (*answer_fn)(const struct group *g, const struct opts *o,
    struct answer *a);

struct answerer {
	const char	*name;
	answer_fn	 fn;
	int		 streams;	/* writes text answers as they come */
};

struct opts {
	size_t		 sentences, max_chars;
	int		 json;
	const char	*question;
	const struct answerer *provider;
	/* Model servers. */
	char		*model;		/* "openai:gpt-4o-mini" */
	const char	*server_model;	/* the server's name: "gpt-4o-mini" */
	char		*url;		/* of the chat endpoint */
	const char	*api_key;
	struct http	*http;
	const char	*system;	/* the system prompt */
	double		 temperature;	/* < 0: the server's default */
	size_t		 max_context;	/* characters of passages */
};

/* The extractive provider: sentences of the hits (extractive.c). */
int	extractive(const struct group *g, const struct opts *o,
	    struct answer *a);
/* Model servers: OpenAI's chat completions, Ollama's chat. */
int	openai_chat(const struct group *g, const struct opts *o,
	    struct answer *a);
int	ollama_chat(const struct group *g, const struct opts *o,
	    struct answer *a);

/* llm.c: what the model server providers share. */
#define LLM_SYSTEM \
    "You answer questions using only the numbered sources given with the " \
    "question. After each statement, cite the sources it comes from by " \
    "their numbers in square brackets, such as [1] or [2][3]. If the " \
    "sources do not answer the question, say that the answer is not in " \
    "the sources. Answer briefly, in the language of the question."

/* One answer in the making, as a stream of events arrives. */
struct llm {
	const struct opts *o;
	struct answer	*a;
	int		 done;		/* the stream's last event came */
	int		 stopped;	/* stdout was closed */
	int		 at_bol;	/* what was printed ends a line */
};

/* How a model server's chat API is asked and answers. */
struct llm_api {
	int		 sse;		/* events: SSE; else NDJSON */
	/* The request body for system prompt SYS and user message USER. */
	void		(*body)(const struct opts *o, const char *sys,
			    const char *user, struct buf *out);
	/* Whose events the stream carries (provider_chat_event). */
	enum provider	 p;
};

/*
 * Answer G with API: the prompt of numbered passages, the request, the
 * text streamed to stdout (unless --json) as it arrives, and the
 * citations parsed from it.  Returns as answer_fn does.
 */
int	llm_answer(const struct group *g, const struct opts *o,
	    const struct llm_api *api, struct answer *a);
/* Take text P[0..N) of the answer: keep it, and print it if streaming. */
int	llm_text(struct llm *l, const char *p, size_t n, struct rp_err *err);

#endif /* ANSWER_H */
