/*
 * http: the one libcurl module; every request ragpipe makes goes here.
 *
 * A struct http is a client: a curl multi handle with its connection
 * cache (keep-alive reuse across requests), timeouts (connect, a whole
 * attempt, and a stall: no data for a while), TLS verification always
 * on, CURLOPT_NOSIGNAL, and a retry policy: 408, 409, 429, 5xx and
 * transport errors (refused, reset, timed out) are retried with
 * exponential backoff and jitter, honouring Retry-After (seconds or an
 * HTTP date) and retry-after-ms up to a cap; a 429 whose body says
 * "insufficient_quota" is not retried.  A failure to connect at all
 * (refused, host not resolved, connect timeout) may have a retry limit
 * of its own, so that a server that is down is reported in seconds.
 * Responses are capped in size.
 *
 * The wait before retry k (0 for the first) is the server's
 * retry-after-ms, else its Retry-After, when that is more than 0; a
 * server asking for longer than retry_cap gets retry_cap (we try again
 * sooner rather than give up, unlike the OpenAI SDK, which gives up
 * beyond 120 s).  Without a usable header the wait is
 * min(0.5 * 2^k, retry_cap) * (1 - 0.25 * random) seconds.  A header
 * "x-should-retry: true|false" overrides the choice by status.
 *
 * Requests run in parallel through the multi interface (http_post_many),
 * and responses may be streamed to a callback as they arrive (SSE or
 * NDJSON, parsed by struct sse and struct ndjson below, which are also
 * usable alone).
 *
 * Secrets: the API key is sent as "Authorization: Bearer KEY" and never
 * appears in a message; URLs in messages have any userinfo removed.
 * Messages have the form "URL: what", as in
 * "http://127.0.0.1:9/v1/embeddings: cannot connect: Connection refused
 * (after 3 attempts)".
 *
 * Thread rules: a struct http belongs to one thread; the parsers are
 * plain values.  Requests use CURLOPT_NOSIGNAL, so the program must
 * ignore SIGPIPE (rp_init does).  Callbacks must not use the struct
 * http they were called from.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

#include "buf.h"

struct rp_err;
struct http;

struct http_opts {
	long		 connect_timeout_ms;	/* 0: 10 s */
	long		 timeout_ms;		/* a whole attempt; 0: 300 s */
	long		 stall_ms;		/* no data for this long ends an
						   attempt; 0: timeout_ms */
	int		 retries;		/* after the first try; -1: 4 */
	int		 connect_retries;	/* after a failure to connect
						   (refused, unresolved, connect
						   timeout); 0: as retries,
						   -1: none */
	double		 retry_cap;		/* longest wait (s); 0: 30 */
	size_t		 max_response;		/* bytes of a reply; 0: 256 MiB */
	int		 parallel;		/* requests in flight; 0: 4 */
	const char	*user_agent;		/* NULL: "ragpipe/VERSION" */
};

/*
 * Called with each piece of a 2xx response body as it arrives (pieces
 * split anywhere).  Return 0 to go on, -1 to abort the transfer (the
 * request then fails with the message the callback left in ERR, used
 * as it is).  The body of a non-2xx response goes to resp.body instead.
 */
typedef int	(*http_data_fn)(void *arg, const char *p, size_t n,
		    struct rp_err *err);

struct http_req {
	const char	*url;
	const char	*body;		/* JSON, POSTed; NULL: GET */
	size_t		 len;
	const char	*api_key;	/* NULL: no Authorization header */
	http_data_fn	 on_data;	/* NULL: collect the body in resp */
	void		*arg;
	size_t		 max_response;	/* bytes of this reply; 0: the
					   client's max_response */
};

struct http_resp {
	long		 status;	/* HTTP status of the last attempt */
	struct buf	 body;		/* the body (when not streamed, or on
					   an error status) */
	int		 attempts;
};

/*
 * A new client with options O (NULL: all defaults; note that retries 0
 * means none).  NULL with ERR filled if an option is negative
 * (RP_EXIT_USAGE) or libcurl cannot start (RP_EXIT_FAIL).
 */
struct http	*http_new(const struct http_opts *o, struct rp_err *err);
void		 http_free(struct http *h);	/* NULL is a no-op */

/*
 * Make request REQ, retrying as the policy says.  Returns 0 when a
 * response arrived: RESP->status may still be an error (4xx, or the last
 * retryable status); the caller decides.  Returns -1 with ERR filled
 * when no response arrived after the retries (RP_EXIT_UNAVAIL: refused,
 * timed out, reset, or a response over the cap), or when on_data
 * aborted.  RESP must be zeroed; release it with http_resp_release.
 * A request whose stream has started is never retried.
 */
int		 http_post(struct http *h, const struct http_req *req,
		    struct http_resp *resp, struct rp_err *err);
/*
 * Make N requests, up to the parallel limit at once, each with its own
 * retries; a request waiting to retry holds up no other.  RESPS[i] and
 * ERRS[i] hold the outcome of REQS[i] (ERRS[i] is emptied first and
 * filled only on failure); RCS[i] is what http_post would have
 * returned.  Returns the number that failed.
 */
size_t		 http_post_many(struct http *h, const struct http_req *reqs,
		    struct http_resp *resps, int *rcs, struct rp_err *errs,
		    size_t n);
void		 http_resp_release(struct http_resp *resp);

/*
 * The server's own error message in BODY, from the OpenAI shape
 * {"error":{"message":...}}, Ollama's {"error":"..."}, TEI's
 * {"error":"...","error_type":...}, or a top-level "message" or
 * "detail" string; else the start of the body, trimmed, with control
 * characters shown as '?' ("no message" for an empty body).  Written
 * into OUT of size N (cut with "..." if longer).  Returns OUT.
 */
char		*http_error_message(const char *body, size_t len, char *out,
		    size_t n);
/*
 * URL without userinfo ("https://user:pw@h/" -> "https://h/"), without
 * a fragment, and without a query that holds "key=", "token=",
 * "secret=", "password=" or "sig=", with control characters shown as
 * '?', into OUT of size N.  Returns OUT.
 */
char		*http_url_safe(const char *url, char *out, size_t n);
/*
 * Seconds to wait from a Retry-After value (delta seconds, possibly
 * fractional, or an HTTP date relative to NOW, in seconds since the
 * epoch; a date in the past gives 0), or -1 if unparseable.
 */
double		 http_retry_after(const char *value, double now);

/*
 * sse: an incremental parser of text/event-stream.  Feed it bytes in
 * any pieces; it calls FN once for each event's data (the "data:" lines
 * of one event joined by "\n"), skipping comments (":" lines) and other
 * fields.  Lines may end in "\r\n", "\n" or "\r"; "data:" may be
 * followed by a space or not.  FN gets the data NUL-terminated, lent for
 * the call; it returns 0, or -1 to stop (sse_feed then returns -1).  A
 * line, or an event's data, longer than MAX_LINE bytes (0: 1 MiB) is an
 * error (RP_EXIT_DATA).  After -1, feed no more: release the parser.
 */
typedef int	(*http_event_fn)(void *arg, const char *data, size_t n,
		    struct rp_err *err);
struct sse {
	struct buf	 line;
	struct buf	 data;
	int		 has_data;
	int		 cr;		/* the last byte fed was '\r' */
	http_event_fn	 fn;
	void		*arg;
};
void	sse_init(struct sse *p, size_t max_line, http_event_fn fn, void *arg);
int	sse_feed(struct sse *p, const char *buf, size_t n, struct rp_err *err);
/* End of stream: deliver a final event not followed by a blank line. */
int	sse_finish(struct sse *p, struct rp_err *err);
void	sse_release(struct sse *p);

/*
 * ndjson: the same for newline-delimited JSON (Ollama streams): FN is
 * called once per non-blank line, without its "\n" or "\r"; ndjson_finish
 * delivers a last line that has no "\n".
 */
struct ndjson {
	struct buf	 line;
	http_event_fn	 fn;
	void		*arg;
};
void	ndjson_init(struct ndjson *p, size_t max_line, http_event_fn fn,
	    void *arg);
int	ndjson_feed(struct ndjson *p, const char *buf, size_t n,
	    struct rp_err *err);
int	ndjson_finish(struct ndjson *p, struct rp_err *err);
void	ndjson_release(struct ndjson *p);

#endif /* HTTP_H */
