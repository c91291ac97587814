/*
 * provider: who makes vectors and answers, and how ragpipe talks to the
 * model servers (DESIGN.md sections 4 and 5): the endpoints, the HTTP
 * client settings, and the embedding APIs' request bodies and replies,
 * for OpenAI-compatible servers (POST BASE/embeddings, BASE from
 * OPENAI_BASE_URL, "https://api.openai.com/v1" by default) and Ollama
 * (POST HOST/api/embed, HOST from OLLAMA_HOST).  lib/http sends them.
 *
 * Model names carry their provider: "openai:text-embedding-3-small",
 * "ollama:nomic-embed-text", "local:hash-v1-1024".  Vectors are as the
 * server sent them: OpenAI's are asked for as base64 and read exactly;
 * Ollama's are JSON numbers, read as float32.
 *
 * Pure functions, except provider_embed_one, which makes a request.
 * Thread-safe as long as each thread has its own struct http.
 */
#ifndef PROVIDER_H
#define PROVIDER_H

#include <stddef.h>

struct buf;
struct cfg;
struct http;
struct http_resp;
struct rp_err;

enum provider {
	PROVIDER_LOCAL,		/* the built-in embedder (lib/embed.h) */
	PROVIDER_EXTRACTIVE,	/* rag-answer's offline answers */
	PROVIDER_OPENAI,
	PROVIDER_OLLAMA,
};

/* The provider named NAME ("openai"), or -1. */
int		 provider_find(const char *name);
const char	*provider_name(enum provider p);
/*
 * If MODEL starts with a provider's name and ':', set *P and *NAME (the
 * rest, lent from MODEL) and return 1; else 0.  "ollama:qwen3:0.6b" is
 * Ollama's "qwen3:0.6b"; "qwen3:0.6b" has no provider.
 */
int		 provider_split(const char *model, enum provider *p,
		    const char **name);

/*
 * The URL of PATH ("/embeddings", "/api/chat") at P's server as C says
 * (openai_base_url or ollama_host; OLLAMA_HOST may lack "http://" and
 * the port, as Ollama allows: "localhost" is http://localhost:11434).
 * A new string, or NULL with ERR filled (RP_EXIT_USAGE, naming where
 * the setting came from) when it is not an http or https URL.
 */
char		*provider_url(enum provider p, const struct cfg *c,
		    const char *path, struct rp_err *err);
/* The API key to send to P's server: lent from C, or NULL. */
const char	*provider_key(enum provider p, const struct cfg *c);
/*
 * A client for model servers: C's timeout (seconds without data before
 * an attempt is given up, and retried), PARALLEL requests at once, a
 * short connect timeout and two retries to connect, so that a server
 * that is down is reported in seconds; other failures get lib/http's
 * full retry policy.  NULL with ERR filled (RP_EXIT_USAGE for a bad
 * timeout).
 */
struct http	*provider_http(const struct cfg *c, int parallel,
		    struct rp_err *err);

/* How texts are embedded by a server. */
struct provider_embed {
	enum provider	 p;		/* PROVIDER_OPENAI or PROVIDER_OLLAMA */
	const char	*model;		/* the server's name for it */
	const char	*url;		/* of the embeddings endpoint */
	const char	*api_key;	/* NULL: none */
	size_t		 dimensions;	/* to ask for; 0: the model's own */
};

/*
 * The most bytes a reply with the vectors of N texts may have: 1 MiB,
 * and 2 MiB a text (65536 values as JSON numbers of up to 32
 * characters).  A server that sends more is cut off there (http_req's
 * max_response), so memory stays in proportion to the request.
 */
size_t		 provider_embed_reply_max(size_t n);
/*
 * The JSON body that asks E's server for the vectors of the N texts
 * TEXTS[i][0..LENS[i]), appended to OUT.  OpenAI bodies ask for base64
 * vectors; Ollama bodies ask for an error rather than a silently
 * truncated input ("truncate": false).
 */
void		 provider_embed_body(const struct provider_embed *e,
		    struct buf *out, const char *const *texts,
		    const size_t *lens, size_t n);
/*
 * Read the reply BODY[0..LEN) to a request of N texts: VECS[i] gets a
 * new array (caller frees) for text i, and *DIM their common size.  0,
 * or -1 with ERR filled (RP_EXIT_UNAVAIL: the server sent something
 * else than the vectors asked for), in which case VECS holds nothing.
 */
int		 provider_embed_parse(const struct provider_embed *e,
		    const char *body, size_t len, size_t n, float **vecs,
		    size_t *dim, struct rp_err *err);
/*
 * Does an error reply (STATUS, BODY[0..LEN)) say that an input is longer
 * than the model takes?  OpenAI's context_length_exceeded, Ollama's
 * "the input length exceeds the context length", llama.cpp's "too large
 * to process", and the like.
 */
int		 provider_too_long(long status, const char *body, size_t len);
/*
 * The exit status an error reply deserves: RP_EXIT_DATA when the
 * request's content was refused (400, 413, 422), else RP_EXIT_UNAVAIL.
 */
int		 provider_status_code(long status);

/*
 * Fill ERR for the error reply RESP to a request to URL, as
 * "URL: STATUS: the server's message", with provider_status_code's
 * code; TMP[0..N) is scratch space.  Returns -1.
 */
int		 provider_error(const char *url, const struct http_resp *resp,
		    char *tmp, size_t n, struct rp_err *err);
/*
 * Embed one text TEXT[0..N) with E through H: a new array in *V of *DIM
 * floats.  0, or -1 with ERR filled ("URL: what", RP_EXIT_UNAVAIL or
 * RP_EXIT_DATA as provider_status_code says).
 */
int		 provider_embed_one(struct http *h,
		    const struct provider_embed *e, const char *text, size_t n,
		    float **v, size_t *dim, struct rp_err *err);

/*
 * What one event of a streamed chat reply says: OpenAI's SSE events
 * ({"choices":[{"delta":{"content":...},"finish_reason":...}],
 * "usage":...} or "[DONE]"), Ollama's NDJSON lines
 * ({"message":{"content":...},"done":...,"done_reason":...,
 * "prompt_eval_count":...,"eval_count":...}); both may carry an
 * {"error":...} instead, when the model fails after the reply began.
 */
struct provider_event {
	struct buf	*text;		/* the answer's next words: appended */
	int		 done;		/* the reply's last event came */
	int		 cut;		/* ended by the model's length limit */
	long		 prompt_tokens;	/* as the server counted; -1: not said */
	long		 completion_tokens;
};

/*
 * Read event DATA[0..N) of a chat reply that P's server streams, from
 * URL (for messages), into EV: text is appended to EV->text, the other
 * fields are set when the event says so and left alone otherwise.
 * DATA need not be NUL-terminated.  0, or -1 with ERR filled
 * (RP_EXIT_UNAVAIL): an event that is not a JSON object, or an error
 * the server sent in the middle of the stream ("URL: the stream broke
 * off: its message").
 */
int		 provider_chat_event(enum provider p, const char *url,
		    const char *data, size_t n, struct provider_event *ev,
		    struct rp_err *err);

#endif /* PROVIDER_H */
