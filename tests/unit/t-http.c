/* t-http: requests, retries and stream parsers, against tests/fake. */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp.h"
#include "buf.h"
#include "jsonl.h"
#include "http.h"
#include "tap.h"

#define KEY	"sk-test-0123456789"
#define BIG	(2 << 20)	/* bytes: curl would send Expect */

static int	port;
static char	base[64];
static struct http *ctl_h;

/* Parser tests: events collected as "data|data|...|". */

struct collect {
	struct buf	 out;
	int		 calls;
	int		 stop_at;	/* fail on this call; 0: never */
};

static int
collect_fn(void *arg, const char *data, size_t n, struct rp_err *err)
{
	struct collect *c = arg;

	if (++c->calls == c->stop_at)
		return rp_err_set(err, RP_EXIT_DATA, "stopped at %d", c->calls);
	if (data[n] != '\0')
		return rp_err_set(err, RP_EXIT_FAIL, "not NUL-terminated");
	buf_add(&c->out, data, n);
	buf_addc(&c->out, '|');
	return 0;
}

/*
 * Feed S to a parser in pieces: MODE 0 whole, 1 byte by byte, else
 * random pieces from seed MODE.  Returns the collected events, or
 * "ERROR" if a feed or the finish failed.
 */
static char *
feed(int ndjson, const char *s, int mode, size_t max)
{
	struct collect c = { BUF_INIT, 0, 0 };
	struct rp_err err;
	struct sse sp;
	struct ndjson np;
	size_t len = strlen(s), i = 0, k;
	int rc = 0;

	sse_init(&sp, max, collect_fn, &c);
	ndjson_init(&np, max, collect_fn, &c);
	srand((unsigned)mode);
	while (i < len && rc == 0) {
		k = mode == 0 ? len : mode == 1 ? 1 : 1 + (size_t)rand() % 7;
		k = RP_MIN(k, len - i);
		rc = ndjson ? ndjson_feed(&np, s + i, k, &err) :
		    sse_feed(&sp, s + i, k, &err);
		i += k;
	}
	if (rc == 0)
		rc = ndjson ? ndjson_finish(&np, &err) : sse_finish(&sp, &err);
	sse_release(&sp);
	ndjson_release(&np);
	if (rc != 0) {
		buf_release(&c.out);
		return xstrdup("ERROR");
	}
	return buf_detach(&c.out, NULL);
}

static void
test_sse(void)
{
	static const char stream[] =
	    ": keep-alive\r\n\r\n"
	    "data: {\"a\":1}\r\n\r\n"
	    "event: message\nid: 7\nretry: 100\ndata:first\ndata:  second\n\n"
	    ": comment\ndata\n\n"
	    "data: a\rdata: b\r\r"
	    "data: x\r\n\r\ndata: y\n\r\n"
	    "data: [DONE]";
	static const char want[] =
	    "{\"a\":1}|first\n second||a\nb|x|y|[DONE]|";
	struct collect c = { BUF_INIT, 0, 0 };
	struct rp_err err;
	struct sse p;
	char *got;
	int good = 1;

	for (int mode = 0; mode < 50; mode++) {
		got = feed(0, stream, mode, 64);
		if (strcmp(got, want) != 0) {
			is_str(got, want, "sse: pieces, mode %d", mode);
			good = 0;
		}
		free(got);
	}
	ok(good, "sse: the same events whole, byte by byte and in 48 "
	    "random splits");
	got = feed(0, "data: one\n\ndata: two\n", 1, 0);
	is_str(got, "one|two|", "sse: a final event without a blank line");
	free(got);
	got = feed(0, "data: 0123456789abcdef\n\n", 0, 16);
	is_str(got, "ERROR", "sse: a line over the cap is an error");
	free(got);
	got = feed(0, "data: 0123456789\ndata: 0123456789\n\n", 1, 16);
	is_str(got, "ERROR", "sse: event data over the cap is an error");
	free(got);

	sse_init(&p, 16, collect_fn, &c);
	is_int(sse_feed(&p, "data: 0123456789abcdef", 22, &err), -1,
	    "sse: an over-long line fails as it arrives");
	is_int(err.code, RP_EXIT_DATA, "sse: ... with RP_EXIT_DATA");
	is_str(err.msg, "event-stream line longer than 16 bytes",
	    "sse: ... and says so");
	sse_release(&p);

	c.stop_at = 2;
	sse_init(&p, 0, collect_fn, &c);
	is_int(sse_feed(&p, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 27, &err),
	    -1, "sse: a callback returning -1 stops the feed");
	is_str(err.msg, "stopped at 2", "sse: ... with the callback's error");
	is_str(buf_str(&c.out), "1|", "sse: ... after the events before it");
	sse_release(&p);
	buf_release(&c.out);
}

static void
test_ndjson(void)
{
	static const char stream[] =
	    "{\"a\":1}\n\n{\"b\":2}\r\n  \r\n\t\n"
	    "{\"c\":\"x\\r\\n\"}\n{\"d\":4}";
	static const char want[] = "{\"a\":1}|{\"b\":2}|{\"c\":\"x\\r\\n\"}|"
	    "{\"d\":4}|";
	char *got;
	int good = 1;

	for (int mode = 0; mode < 50; mode++) {
		got = feed(1, stream, mode, 64);
		if (strcmp(got, want) != 0) {
			is_str(got, want, "ndjson: pieces, mode %d", mode);
			good = 0;
		}
		free(got);
	}
	ok(good, "ndjson: the same lines whole, byte by byte and in 48 "
	    "random splits");
	got = feed(1, "{\"a\":\"0123456789abcdef\"}\n", 1, 16);
	is_str(got, "ERROR", "ndjson: a line over the cap is an error");
	free(got);
	got = feed(1, "", 0, 16);
	is_str(got, "", "ndjson: an empty stream has no lines");
	free(got);
}

static void
test_pure(void)
{
	char out[256], small[12];

	/* http_retry_after */
	ok(http_retry_after("1", 0) == 1, "retry-after: seconds");
	ok(http_retry_after(" 2 ", 0) == 2, "retry-after: with spaces");
	ok(http_retry_after("1.5", 0) == 1.5, "retry-after: fractional");
	ok(http_retry_after("0", 0) == 0, "retry-after: zero");
	ok(http_retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
	    1445412480.0 - 10) == 10, "retry-after: an HTTP date");
	ok(http_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT",
	    1445412480.0 - 3) == 3, "retry-after: an RFC 850 date");
	ok(http_retry_after("Wed Oct 21 07:28:00 2015", 1445412480.0 - 5) == 5,
	    "retry-after: an asctime date");
	ok(http_retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
	    1445412480.0 + 60) == 0, "retry-after: a date in the past is 0");
	ok(http_retry_after("soon", 0) == -1, "retry-after: garbage");
	ok(http_retry_after("", 0) == -1, "retry-after: empty");
	ok(http_retry_after("-1", 0) == -1, "retry-after: negative");
	ok(http_retry_after("1x", 0) == -1, "retry-after: trailing junk");
	ok(http_retry_after("nan", 0) == -1, "retry-after: nan");
	ok(http_retry_after(NULL, 0) == -1, "retry-after: NULL");

	/* http_url_safe */
	is_str(http_url_safe("https://user:pw@api.example.com/v1/x", out,
	    sizeof(out)), "https://api.example.com/v1/x",
	    "url: userinfo removed");
	is_str(http_url_safe("http://u@h:8080", out, sizeof(out)),
	    "http://h:8080", "url: user without a path");
	is_str(http_url_safe("https://h/p?alt=json&key=AIza123", out,
	    sizeof(out)), "https://h/p", "url: a query with key= is dropped");
	is_str(http_url_safe("https://h/p?API_KEY=x#frag", out, sizeof(out)),
	    "https://h/p", "url: ... whatever its case");
	is_str(http_url_safe("https://h/p?alt=json#frag", out, sizeof(out)),
	    "https://h/p?alt=json", "url: a harmless query is kept");
	is_str(http_url_safe("https://h/a@b", out, sizeof(out)),
	    "https://h/a@b", "url: '@' in the path is not userinfo");
	is_str(http_url_safe("localhost:11434/api", out, sizeof(out)),
	    "localhost:11434/api", "url: no scheme");
	is_str(http_url_safe("http://h/\n\x1b", out, sizeof(out)),
	    "http://h/??", "url: control characters shown as '?'");
	is_str(http_url_safe("http://a:b@host.example/long/path", small,
	    sizeof(small)), "http://h...", "url: cut to fit");

	/* http_error_message */
#define EM(s)	http_error_message(s, strlen(s), out, sizeof(out))
	is_str(EM("{\"error\":{\"message\":\"Bad key.\",\"type\":\"x\","
	    "\"param\":null,\"code\":\"invalid_api_key\"}}"), "Bad key.",
	    "error message: OpenAI shape");
	is_str(EM("{\"error\":\"model 'x' not found\"}"),
	    "model 'x' not found", "error message: Ollama shape");
	is_str(EM("{\"error\":\"Input validation error\","
	    "\"error_type\":\"Validation\"}"), "Input validation error",
	    "error message: TEI shape");
	is_str(EM("{\"message\":\"too long\",\"code\":413,"
	    "\"error_type\":\"Validation\"}"), "too long",
	    "error message: top-level message");
	is_str(EM("{\"error\":{\"code\":503,\"message\":\"Loading model\","
	    "\"type\":\"unavailable_error\"}}"), "Loading model",
	    "error message: llama.cpp shape");
	is_str(EM("{\"detail\":\"Not Found\"}"), "Not Found",
	    "error message: detail");
	is_str(EM("{\"error\":\"line\\none\"}"), "line?one",
	    "error message: control characters in the message");
	is_str(EM("{\"error\":{\"code\":1}}"), "{\"error\":{\"code\":1}}",
	    "error message: unknown JSON shows the body");
	is_str(EM("\n<html>\r\n\t<b>Bad\x01gateway</b>\x7f</html>\n"),
	    "<html>??" "?<b>Bad?gateway</b>?</html>",
	    "error message: non-JSON with control characters");
	is_str(http_error_message("a\0b", 3, out, sizeof(out)), "a?b",
	    "error message: a NUL in the body");
	is_str(EM(""), "no message", "error message: empty body");
	is_str(http_error_message(NULL, 0, out, sizeof(out)), "no message",
	    "error message: no body");
	is_str(http_error_message("0123456789abcdef", 16, small,
	    sizeof(small)), "01234567...", "error message: cut to fit");
#undef EM
}

/* The fake server. */

static pid_t
server_start(const char *dir)
{
	char path[256];
	pid_t pid;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/port", dir);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		/* Never outlive the test, even if it crashes. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("python3", "python3", "tests/fake/server.py",
		    "--port-file", path, "--api-key", KEY, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {		/* 10 s */
		if ((f = fopen(path, "r")) != NULL) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
			if (port > 0)
				return pid;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(20000);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -1;
}

static void
url(char *out, size_t n, const char *path)
{
	snprintf(out, n, "%s%s", base, path);
}

/* A control request to the fake; its body, or NULL. */
static char *
ctl(const char *path, const char *body)
{
	struct http_req req = { 0 };
	struct http_resp resp = { 0 };
	struct rp_err err;
	char u[128];
	char *s = NULL;

	url(u, sizeof(u), path);
	req.url = u;
	req.body = body;
	req.len = body != NULL ? strlen(body) : 0;
	if (http_post(ctl_h, &req, &resp, &err) == 0 && resp.status == 200)
		s = buf_detach(&resp.body, NULL);
	http_resp_release(&resp);
	return s;
}

static void
push(const char *steps)
{
	free(ctl("/_control", steps));
}

static void
reset(void)
{
	free(ctl("/_reset", ""));
}

static double
stat_num(const char *key)
{
	char *s = ctl("/_stats", NULL);
	cJSON *j = s != NULL ? cJSON_Parse(s) : NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	double d = cJSON_IsNumber(v) ? v->valuedouble :
	    cJSON_IsBool(v) ? cJSON_IsTrue(v) : -1;

	cJSON_Delete(j);
	free(s);
	return d;
}

static struct http *
client(long timeout_ms, int retries, double cap, size_t max, int parallel)
{
	struct http_opts o = { 0 };
	struct rp_err err;

	o.connect_timeout_ms = 2000;
	o.timeout_ms = timeout_ms;
	o.retries = retries;
	o.retry_cap = cap;
	o.max_response = max;
	o.parallel = parallel;
	return http_new(&o, &err);
}

static const char embed_body[] = "{\"model\":\"m\",\"input\":\"hello\"}";

/* An embeddings request with the right key. */
static void
req_embed(struct http_req *r, char *u, size_t n)
{
	memset(r, 0, sizeof(*r));
	url(u, n, "/v1/embeddings");
	r->url = u;
	r->body = embed_body;
	r->len = strlen(embed_body);
	r->api_key = KEY;
}

static char *
chat_body(int stream, int fact)
{
	return xasprintf("{\"model\":\"m\",\"stream\":%s,\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"[1] a.md:1\\nFact number %d "
	    "is true.\\n\"}]}", stream ? "true" : "false", fact);
}

/* A chat reply's content from a non-streamed body (caller frees). */
static char *
chat_content(const struct buf *b)
{
	cJSON *j = cJSON_Parse(buf_str(b)), *c;
	char *s = NULL;

	c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
	c = cJSON_GetObjectItem(cJSON_GetObjectItem(c, "message"), "content");
	if (cJSON_IsString(c))
		s = xstrdup(c->valuestring);
	cJSON_Delete(j);
	return s != NULL ? s : xstrdup("(none)");
}

static void
test_basic(struct http *h)
{
	struct http_req req;
	struct http_resp resp = { 0 };
	struct rp_err err;
	char u[128], *s, *big;

	reset();
	req_embed(&req, u, sizeof(u));
	is_int(http_post(h, &req, &resp, &err), 0, "post: returns 0");
	is_int(resp.status, 200, "post: status 200");
	is_int(resp.attempts, 1, "post: one attempt");
	ok(strstr(buf_str(&resp.body), "\"embedding\"") != NULL,
	    "post: the body holds the embedding");
	http_resp_release(&resp);
	is_int(http_post(h, &req, &resp, &err), 0, "post: again");
	http_resp_release(&resp);
	is_int(stat_num("connections"), 1,
	    "keep-alive: two requests, one connection");
	is_int(stat_num("auth_seen"), 1, "the API key was sent");
	s = ctl("/_requests", NULL);
	ok(s != NULL && strstr(s, "\"Content-Type\": \"application/json\"") &&
	    strstr(s, "\"User-Agent\": \"ragpipe/" RP_VERSION "\""),
	    "post: Content-Type and User-Agent headers");
	free(s);

	memset(&resp, 0, sizeof(resp));
	url(u, sizeof(u), "/v1/models");
	req.body = NULL;
	req.len = 0;
	is_int(http_post(h, &req, &resp, &err), 0, "get: returns 0");
	ok(resp.status == 200 && strstr(buf_str(&resp.body), "\"data\""),
	    "get: /v1/models lists models");
	http_resp_release(&resp);

	req_embed(&req, u, sizeof(u));
	req.api_key = "sk-wrong";
	is_int(http_post(h, &req, &resp, &err), 0, "wrong key: returns 0");
	is_int(resp.status, 401, "wrong key: status 401");
	is_int(resp.attempts, 1, "wrong key: not retried");
	s = http_error_message(resp.body.data, resp.body.len, err.msg,
	    sizeof(err.msg));
	ok(strncmp(s, "Incorrect API key provided.", 27) == 0,
	    "wrong key: the server's message");
	http_resp_release(&resp);

	/* A large body goes without "Expect: 100-continue". */
	reset();
	big = xmalloc(BIG + 64);
	memset(big, 'x', BIG + 64);
	memcpy(big, "{\"model\":\"m\",\"input\":\"", 22);
	memcpy(big + BIG + 64 - 3, "\"}", 3);
	req.api_key = KEY;
	req.body = big;
	req.len = strlen(big);
	is_int(http_post(h, &req, &resp, &err), 0, "large body: returns 0");
	is_int(resp.status, 400, "large body: the server's answer");
	s = ctl("/_requests", NULL);
	ok(s != NULL && strstr(s, "Expect") == NULL &&
	    strstr(s, "\"status\": 400") != NULL,
	    "large body: sent without Expect");
	free(s);
	free(big);
	http_resp_release(&resp);
	req.body = embed_body;
	req.len = strlen(embed_body);

	/* Error statuses come back as responses. */
	push("{\"status\":400,\"message\":\"Invalid 'input': empty.\"}");
	req.api_key = KEY;
	is_int(http_post(h, &req, &resp, &err), 0, "400: returns 0");
	is_int(resp.status, 400, "400: status 400");
	is_int(resp.attempts, 1, "400: not retried");
	is_str(http_error_message(resp.body.data, resp.body.len, err.msg,
	    sizeof(err.msg)), "Invalid 'input': empty.",
	    "400: the OpenAI error message");
	http_resp_release(&resp);
}

static void
test_many(void)
{
	struct http *h = client(5000, 1, 0.1, 0, 4);
	struct http_req reqs[8];
	struct http_resp resps[8];
	struct rp_err errs[8];
	char u[128], *bodies[8], *s, want[128];
	int rcs[8], good = 1;

	reset();
	memset(resps, 0, sizeof(resps));
	url(u, sizeof(u), "/v1/chat/completions");
	for (int i = 0; i < 8; i++) {
		bodies[i] = chat_body(0, i);
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].url = u;
		reqs[i].body = bodies[i];
		reqs[i].len = strlen(bodies[i]);
		reqs[i].api_key = KEY;
	}
	is_int(http_post_many(h, reqs, resps, rcs, errs, 8), 0,
	    "many: 8 requests, none failed");
	for (int i = 0; i < 8; i++) {
		snprintf(want, sizeof(want), "According to the sources, "
		    "fact number %d is true [1].", i);
		s = chat_content(&resps[i].body);
		if (rcs[i] != 0 || resps[i].status != 200 ||
		    strcmp(s, want) != 0) {
			is_str(s, want, "many: reply %d", i);
			good = 0;
		}
		free(s);
		http_resp_release(&resps[i]);
	}
	ok(good, "many: each result is in its request's place");
	ok(stat_num("connections") <= 4, "many: at most 4 connections");

	/*
	 * One at a time, and the first request must wait 1 s: the others
	 * go on meanwhile, so the server sees its retry last.
	 */
	http_free(h);
	h = client(5000, 1, 2, 0, 1);
	reset();
	push("{\"status\":429,\"retry_after\":\"1\"}");
	is_int(http_post_many(h, reqs, resps, rcs, errs, 3), 0,
	    "many: a wait does not block the others");
	is_int(resps[0].attempts, 2, "many: the first was retried");
	s = ctl("/_requests", NULL);
	ok(s != NULL && strstr(s, "number 2") != NULL &&
	    strstr(strstr(s, "number 2"), "number 0") != NULL,
	    "many: the retry came after the other requests");
	free(s);
	for (int i = 0; i < 8; i++) {
		if (i < 3)
			http_resp_release(&resps[i]);
		free(bodies[i]);
	}
	http_free(h);
}

static void
test_retries(struct http *fast, struct http *ra)
{
	struct http *h;
	struct http_req req;
	struct http_resp resp = { 0 };
	struct rp_err err;
	char u[128];
	double t;

	req_embed(&req, u, sizeof(u));
	reset();
	push("{\"status\":429,\"retry_after\":\"1\"}");
	t = rp_now();
	is_int(http_post(ra, &req, &resp, &err), 0, "429: returns 0");
	t = rp_now() - t;
	is_int(resp.status, 200, "429 then 200: status 200");
	is_int(resp.attempts, 2, "429 then 200: two attempts");
	ok(t >= 1.0 && t < 1.8, "429 Retry-After 1: waited 1 s (%.3f)", t);
	http_resp_release(&resp);

	push("{\"status\":429,\"retry_after_ms\":250,\"retry_after\":\"1\"}");
	t = rp_now();
	http_post(ra, &req, &resp, &err);
	t = rp_now() - t;
	is_int(resp.attempts, 2, "retry-after-ms: two attempts");
	ok(t >= 0.25 && t < 0.8, "retry-after-ms 250 wins: waited %.3f s", t);
	http_resp_release(&resp);

	push("{\"status\":503,\"retry_after\":\"5\"}");
	t = rp_now();
	http_post(fast, &req, &resp, &err);
	t = rp_now() - t;
	is_int(resp.status, 200, "Retry-After over the cap: then 200");
	ok(t < 0.5, "Retry-After over the cap: waited the cap (%.3f s)", t);
	http_resp_release(&resp);

	push("{\"status\":500}");
	http_post(fast, &req, &resp, &err);
	is_int(resp.status, 200, "500 then 200: status 200");
	is_int(resp.attempts, 2, "500 then 200: two attempts");
	http_resp_release(&resp);

	push("{\"status\":502,\"count\":3}");
	is_int(http_post(fast, &req, &resp, &err), 0,
	    "502 three times: returns 0");
	is_int(resp.status, 502, "502 three times: status 502");
	is_int(resp.attempts, 3, "502 three times: three attempts");
	is_str(http_error_message(resp.body.data, resp.body.len, err.msg,
	    sizeof(err.msg)), "Bad gateway.", "502: the message");
	http_resp_release(&resp);

	push("{\"status\":500,\"headers\":{\"x-should-retry\":\"false\"}}");
	http_post(fast, &req, &resp, &err);
	is_int(resp.attempts, 1, "x-should-retry: false is honoured");
	is_int(resp.status, 500, "x-should-retry: false gives the 500");
	http_resp_release(&resp);

	push("{\"status\":400,\"headers\":{\"x-should-retry\":\"true\"}}");
	http_post(fast, &req, &resp, &err);
	is_int(resp.attempts, 2, "x-should-retry: true retries a 400");
	http_resp_release(&resp);

	push("{\"status\":429,\"quota\":true}");
	is_int(http_post(fast, &req, &resp, &err), 0, "quota: returns 0");
	is_int(resp.status, 429, "quota: status 429");
	is_int(resp.attempts, 1, "quota: insufficient_quota not retried");
	is_str(http_error_message(resp.body.data, resp.body.len, err.msg,
	    sizeof(err.msg)), "You exceeded your current quota, please check "
	    "your plan and billing details.", "quota: the server's message");
	http_resp_release(&resp);

	/*
	 * A fresh client for each drop: on a reused connection libcurl
	 * itself retries a request that got nothing, which is fine but
	 * not what is tested here.
	 */
	h = client(3000, 2, 0.1, 0, 4);
	push("{\"drop\":true}");
	is_int(http_post(h, &req, &resp, &err), 0, "drop: returns 0");
	ok(resp.status == 200 && resp.attempts == 2,
	    "drop: retried (status %ld, attempts %d)", resp.status,
	    resp.attempts);
	http_resp_release(&resp);
	http_free(h);

	h = client(3000, 2, 0.1, 0, 4);
	push("{\"drop\":\"reset\"}");
	http_post(h, &req, &resp, &err);
	ok(resp.status == 200 && resp.attempts == 2,
	    "drop with RST: retried (status %ld, attempts %d)", resp.status,
	    resp.attempts);
	http_resp_release(&resp);
	http_free(h);

	push("{\"drop\":true}");
	http_post(fast, &req, &resp, &err);
	is_int(resp.status, 200, "drop on a reused connection: 200");
	http_resp_release(&resp);

	push("{\"drop_mid\":true}");
	http_post(fast, &req, &resp, &err);
	ok(resp.status == 200 && resp.attempts == 2 &&
	    strstr(buf_str(&resp.body), "\"embedding\"") != NULL,
	    "half a body: retried, and the body is whole");
	http_resp_release(&resp);
	is_int(stat_num("faults_pending"), 0, "every fault was used");
}

static void
test_failures(struct http *fast)
{
	struct http *h;
	struct http_req req;
	struct http_resp resp = { 0 };
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct rp_err err;
	char u[256], want[256];
	double t;
	int fd, dead;

	/* An unused port: bound, never listened on, closed. */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	dead = ntohs(sa.sin_port);
	close(fd);

	req_embed(&req, u, sizeof(u));
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/v1/embeddings", dead);
	t = rp_now();
	is_int(http_post(fast, &req, &resp, &err), -1, "refused: returns -1");
	t = rp_now() - t;
	is_int(err.code, RP_EXIT_UNAVAIL, "refused: RP_EXIT_UNAVAIL");
	is_int(resp.attempts, 3, "refused: three attempts");
	is_int(resp.status, 0, "refused: no status");
	ok(t < 2, "refused: gave up in %.3f s", t);
	snprintf(want, sizeof(want), "http://127.0.0.1:%d/v1/embeddings: "
	    "cannot connect: Connection refused (after 3 attempts)", dead);
	is_str(err.msg, want, "refused: the message");
	http_resp_release(&resp);

	/* A limit of its own for failures to connect. */
	{
		struct http_opts o = { 0 };

		o.retries = 5;
		o.connect_retries = 1;
		o.retry_cap = 0.1;
		h = http_new(&o, &err);
		is_int(http_post(h, &req, &resp, &err), -1,
		    "connect_retries: returns -1");
		is_int(resp.attempts, 2, "connect_retries 1: two attempts, "
		    "although retries is 5");
		http_resp_release(&resp);
		http_free(h);
		o.connect_retries = -1;
		h = http_new(&o, &err);
		http_post(h, &req, &resp, &err);
		is_int(resp.attempts, 1, "connect_retries -1: one attempt");
		http_resp_release(&resp);
		http_free(h);
	}

	snprintf(u, sizeof(u), "http://me:%s@127.0.0.1:%d/v1/embeddings?"
	    "key=%s", KEY, dead, KEY);
	http_post(fast, &req, &resp, &err);
	snprintf(want, sizeof(want), "http://127.0.0.1:%d/v1/embeddings: ",
	    dead);
	ok(strncmp(err.msg, want, strlen(want)) == 0 &&
	    strstr(err.msg, KEY) == NULL && strstr(err.msg, "me") == NULL,
	    "refused: no secrets in '%s'", err.msg);
	http_resp_release(&resp);

	snprintf(u, sizeof(u), "ftp://127.0.0.1:%d/x", port);
	is_int(http_post(fast, &req, &resp, &err), -1, "ftp: returns -1");
	is_int(resp.attempts, 1, "ftp: not retried");
	ok(strstr(err.msg, "unsupported protocol") != NULL,
	    "ftp: unsupported protocol");
	http_resp_release(&resp);

	/* Too slow: each attempt times out. */
	h = client(300, 1, 0.1, 0, 4);
	req_embed(&req, u, sizeof(u));
	push("{\"delay\":1,\"count\":2}");
	t = rp_now();
	is_int(http_post(h, &req, &resp, &err), -1, "slow: returns -1");
	t = rp_now() - t;
	is_int(err.code, RP_EXIT_UNAVAIL, "slow: RP_EXIT_UNAVAIL");
	is_int(resp.attempts, 2, "slow: retried once");
	ok(t >= 0.6 && t < 1.5, "slow: two timeouts took %.3f s", t);
	ok(strstr(err.msg, ": timed out after 300 ms (after 2 attempts)") !=
	    NULL, "slow: says it timed out: '%s'", err.msg);
	http_resp_release(&resp);
	http_free(h);

	/*
	 * A stall: headers never come; the stall limit ends the attempt,
	 * within a quarter of a second (libcurl's own low-speed check
	 * averages over 5 s or more).
	 */
	{
		struct http_opts o = { 0 };

		o.timeout_ms = 60000;
		o.stall_ms = 1000;
		h = http_new(&o, &err);
		req_embed(&req, u, sizeof(u));
		push("{\"hang\":true}");
		t = rp_now();
		is_int(http_post(h, &req, &resp, &err), -1, "stall: returns -1");
		t = rp_now() - t;
		ok(t >= 0.9 && t < 2, "stall: gave up after %.3f s (%d attempts)",
		    t, resp.attempts);
		ok(strstr(err.msg, ": no data for 1 s") != NULL,
		    "stall: says so: '%s'", err.msg);
		http_resp_release(&resp);
		/* Half the body, then silence: seen as soon. */
		push("{\"stall_mid\":true}");
		t = rp_now();
		is_int(http_post(h, &req, &resp, &err), -1,
		    "stall mid-body: returns -1");
		t = rp_now() - t;
		ok(t >= 0.9 && t < 2, "stall mid-body: gave up after %.3f s", t);
		ok(strstr(err.msg, ": no data for 1 s") != NULL,
		    "stall mid-body: says so: '%s'", err.msg);
		http_resp_release(&resp);
		http_free(h);
	}

	/* Over the cap. */
	h = client(5000, 2, 0.1, 100000, 4);
	push("{\"huge\":1000000}");
	is_int(http_post(h, &req, &resp, &err), -1, "huge: returns -1");
	is_int(err.code, RP_EXIT_UNAVAIL, "huge: RP_EXIT_UNAVAIL");
	is_int(resp.attempts, 1, "huge: not retried");
	snprintf(want, sizeof(want), "%s/v1/embeddings: response larger "
	    "than 100000 bytes", base);
	is_str(err.msg, want, "huge: the message");
	http_resp_release(&resp);
	/* A request's own cap wins over the client's. */
	req.max_response = 5000;
	push("{\"flood\":true}");
	is_int(http_post(h, &req, &resp, &err), -1, "flood: returns -1");
	snprintf(want, sizeof(want), "%s/v1/embeddings: response larger "
	    "than 5000 bytes", base);
	is_str(err.msg, want, "flood: cut at the request's cap");
	req.max_response = 0;
	http_resp_release(&resp);
	http_free(h);
}

/* Streaming: OpenAI chat deltas through struct sse. */

struct chat {
	struct sse	 sse;
	struct ndjson	 nd;
	struct buf	 text;
	char		 last[512];
	int		 events;
	int		 abort;
	int		 calls;
};

static int
chat_event(void *arg, const char *data, size_t n, struct rp_err *err)
{
	struct chat *c = arg;
	cJSON *j, *d;

	c->events++;
	snprintf(c->last, sizeof(c->last), "%s", data);
	if (strcmp(data, "[DONE]") == 0)
		return 0;
	if ((j = cJSON_ParseWithLength(data, n)) == NULL)
		return rp_err_set(err, RP_EXIT_DATA, "bad event");
	d = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
	d = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "delta"), "content");
	if (d == NULL)	/* Ollama */
		d = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "message"),
		    "content");
	if (cJSON_IsString(d))
		buf_adds(&c->text, d->valuestring);
	cJSON_Delete(j);
	return 0;
}

static int
on_sse(void *arg, const char *p, size_t n, struct rp_err *err)
{
	struct chat *c = arg;

	c->calls++;
	if (c->abort)
		return rp_err_set(err, RP_EXIT_DATA, "reader said stop");
	return sse_feed(&c->sse, p, n, err);
}

static int
on_ndjson(void *arg, const char *p, size_t n, struct rp_err *err)
{
	struct chat *c = arg;

	c->calls++;
	return ndjson_feed(&c->nd, p, n, err);
}

static void
chat_init(struct chat *c)
{
	memset(c, 0, sizeof(*c));
	sse_init(&c->sse, 0, chat_event, c);
	ndjson_init(&c->nd, 0, chat_event, c);
}

static void
chat_release(struct chat *c)
{
	sse_release(&c->sse);
	ndjson_release(&c->nd);
	buf_release(&c->text);
}

static void
test_stream(struct http *fast)
{
	static const char reply[] =
	    "According to the sources, fact number 7 is true [1].";
	struct http *h;
	struct http_req req = { 0 };
	struct http_resp resp = { 0 };
	struct rp_err err;
	struct chat c;
	char u[128], *body = chat_body(1, 7);

	url(u, sizeof(u), "/v1/chat/completions");
	req.url = u;
	req.body = body;
	req.len = strlen(body);
	req.api_key = KEY;
	req.on_data = on_sse;
	req.arg = &c;

	chat_init(&c);
	is_int(http_post(fast, &req, &resp, &err), 0, "sse: returns 0");
	is_int(sse_finish(&c.sse, &err), 0, "sse: finishes cleanly");
	is_int(resp.status, 200, "sse: status 200");
	is_str(buf_str(&c.text), reply, "sse: the reply from the deltas");
	is_str(c.last, "[DONE]", "sse: ends with [DONE]");
	is_int(resp.body.len, 0, "sse: nothing collected in resp.body");
	chat_release(&c);
	http_resp_release(&resp);

	chat_init(&c);
	push("{\"path\":\"/v1/chat/completions\",\"status\":503}");
	h = client(5000, 0, 0.1, 0, 4);
	is_int(http_post(h, &req, &resp, &err), 0, "sse 503: returns 0");
	is_int(resp.status, 503, "sse 503: status 503");
	is_int(c.calls, 0, "sse 503: on_data not called");
	is_str(http_error_message(resp.body.data, resp.body.len, err.msg,
	    sizeof(err.msg)), "The engine is currently overloaded, please "
	    "try again later.", "sse 503: the body is in resp.body");
	chat_release(&c);
	http_resp_release(&resp);
	http_free(h);

	chat_init(&c);
	push("{\"path\":\"/v1/chat/completions\",\"drop_mid\":true}");
	is_int(http_post(fast, &req, &resp, &err), -1,
	    "sse cut: returns -1");
	is_int(resp.attempts, 1, "sse cut: a started stream is not retried");
	ok(strstr(err.msg, "not retried") != NULL, "sse cut: says so: '%s'",
	    err.msg);
	ok(c.events > 0, "sse cut: some events came first");
	chat_release(&c);
	http_resp_release(&resp);

	chat_init(&c);
	c.abort = 1;
	is_int(http_post(fast, &req, &resp, &err), -1,
	    "abort: on_data -1 fails the request");
	is_int(err.code, RP_EXIT_DATA, "abort: with the callback's code");
	is_str(err.msg, "reader said stop", "abort: and message");
	is_int(resp.attempts, 1, "abort: not retried");
	is_int(c.calls, 1, "abort: no more data after -1");
	chat_release(&c);
	http_resp_release(&resp);

	chat_init(&c);
	h = client(5000, 2, 0.1, 300, 4);
	is_int(http_post(h, &req, &resp, &err), -1,
	    "stream over the cap: returns -1");
	ok(strstr(err.msg, ": response larger than 300 bytes") != NULL,
	    "stream over the cap: says so: '%s'", err.msg);
	is_int(resp.attempts, 1, "stream over the cap: not retried");
	chat_release(&c);
	http_resp_release(&resp);
	http_free(h);

	/* Ollama: NDJSON. */
	chat_init(&c);
	url(u, sizeof(u), "/api/chat");
	req.api_key = NULL;
	req.on_data = on_ndjson;
	is_int(http_post(fast, &req, &resp, &err), 0, "ndjson: returns 0");
	is_int(ndjson_finish(&c.nd, &err), 0, "ndjson: finishes cleanly");
	is_str(buf_str(&c.text), reply, "ndjson: the reply from the lines");
	ok(strstr(c.last, "\"done\": true") != NULL, "ndjson: ends with done");
	chat_release(&c);
	http_resp_release(&resp);
	free(body);
}

int
main(int argc, char *argv[])
{
	struct http *fast, *ra;
	char dir[] = "/tmp/t-http.XXXXXX", path[64];
	double t0 = rp_now();
	pid_t pid;

	(void)argc;
	rp_init(argv[0]);
	test_sse();
	test_ndjson();
	test_pure();

	if (mkdtemp(dir) == NULL || (pid = server_start(dir)) == -1) {
		ok(0, "the fake server started (run from the repository root)");
		return tap_done();
	}
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	ctl_h = client(5000, 0, 0, 0, 1);
	fast = client(3000, 2, 0.1, 0, 4);
	ra = client(3000, 2, 2, 0, 4);
	ok(ctl_h != NULL && fast != NULL && ra != NULL, "http_new");

	test_basic(fast);
	test_many();
	test_retries(fast, ra);
	test_failures(fast);
	test_stream(fast);

	http_free(ra);
	http_free(fast);
	http_free(ctl_h);
	http_free(NULL);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(path, sizeof(path), "%s/port", dir);
	unlink(path);
	rmdir(dir);
	printf("# %.1f s\n", rp_now() - t0);
	return tap_done();
}
