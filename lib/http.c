/* http: libcurl requests with retries, and the SSE and NDJSON parsers. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <dlfcn.h>

#include <curl/curl.h>

#include "rp.h"
#include "buf.h"
#include "jsonl.h"
#include "http.h"

#define DEF_CONNECT_MS	(10 * 1000L)
#define DEF_TIMEOUT_MS	(300 * 1000L)
#define DEF_RETRIES	4
#define DEF_RETRY_CAP	30.0			/* seconds */
#define DEF_MAX_RESP	((size_t)256 << 20)	/* bytes */
#define DEF_PARALLEL	4
#define DEF_MAX_LINE	((size_t)1 << 20)	/* bytes, parsers */
#define URL_MSG		200			/* bytes of URL in messages */

struct http {
	CURLM		*multi;		/* owns the connection cache */
	CURLSH		*share;		/* TLS sessions across easy handles */
	CURL		**idle;		/* easy handles kept for reuse */
	size_t		 nidle;
	long		 connect_timeout_ms;
	long		 timeout_ms;
	long		 stall_ms;
	int		 retries;
	int		 connect_retries;
	double		 retry_cap;
	size_t		 max_response;
	size_t		 parallel;
	char		*user_agent;
	uint64_t	 rng;		/* xorshift64 state, for jitter */
};

enum xfer_state { XFER_WAIT, XFER_RUN, XFER_DONE };

/* One request of http_post_many, across its attempts. */
struct xfer {
	struct http		*h;
	const struct http_req	*req;
	struct http_resp	*resp;
	struct rp_err		*err;
	int			*rc;
	CURL			*easy;		/* while running */
	struct curl_slist	*headers;	/* may hold the API key */
	enum xfer_state		 state;
	double			 due;		/* rp_now() of the next try */
	/* Per attempt: */
	int			 streamed;	/* on_data has seen bytes */
	int			 aborted;	/* on_data returned -1 */
	int			 too_big;
	int			 status_known;
	long			 status;
	size_t			 total;		/* body bytes received */
	size_t			 max;		/* bytes the reply may have */
	int			 should_retry;	/* x-should-retry, -1: none */
	int			 stalled;	/* no byte for stall_ms */
	double			 moved;		/* rp_now() when bytes last moved */
	curl_off_t		 seen;		/* bytes moved, both ways */
	char			 retry_after[64];
	char			 retry_after_ms[64];
	char			 errbuf[CURL_ERROR_SIZE];
	char			 url[URL_MSG];	/* safe, for messages */
};

/*
 * libcurl is loaded when the first client is made (or a date is
 * parsed), not when a program starts: it and the libraries it needs
 * (TLS, HTTP/2, IDN, SSH, Kerberos, LDAP, ...) are over thirty shared
 * objects, whose loading and relocation cost a short-lived process such
 * as rag-query several times what the rest of its start-up does, and
 * most runs make no request at all (DESIGN.md section 7).
 */
#ifndef RP_LIBCURL
#define RP_LIBCURL	"libcurl.so.4"	/* the SONAME since 7.16 */
#endif

#define CURL_FUNCS(X)							\
	X(CURLcode, global_init, (long))				\
	X(const char *, easy_strerror, (CURLcode))			\
	X(CURL *, easy_init, (void))					\
	X(void, easy_reset, (CURL *))					\
	X(void, easy_cleanup, (CURL *))					\
	X(CURLcode, easy_setopt, (CURL *, CURLoption, ...))		\
	X(CURLcode, easy_getinfo, (CURL *, CURLINFO, ...))		\
	X(time_t, getdate, (const char *, const time_t *))		\
	X(CURLM *, multi_init, (void))					\
	X(CURLMcode, multi_setopt, (CURLM *, CURLMoption, ...))		\
	X(CURLMcode, multi_add_handle, (CURLM *, CURL *))		\
	X(CURLMcode, multi_remove_handle, (CURLM *, CURL *))		\
	X(CURLMcode, multi_perform, (CURLM *, int *))			\
	X(CURLMcode, multi_poll, (CURLM *, struct curl_waitfd *,	\
	    unsigned int, int, int *))					\
	X(CURLMsg *, multi_info_read, (CURLM *, int *))			\
	X(CURLMcode, multi_cleanup, (CURLM *))				\
	X(CURLSH *, share_init, (void))					\
	X(CURLSHcode, share_setopt, (CURLSH *, CURLSHoption, ...))	\
	X(CURLSHcode, share_cleanup, (CURLSH *))			\
	X(struct curl_slist *, slist_append, (struct curl_slist *,	\
	    const char *))						\
	X(void, slist_free_all, (struct curl_slist *))

#define CURL_MEMBER(ret, name, args)	ret (*name) args;
static struct {
	CURL_FUNCS(CURL_MEMBER)
} lc;
#undef CURL_MEMBER

static pthread_once_t	 curl_once = PTHREAD_ONCE_INIT;
static CURLcode		 curl_init_rc = CURLE_FAILED_INIT;
static char		 curl_load_error[256];

static void
curl_init(void)
{
	void *lib;
	const char *e;

	if ((lib = dlopen(RP_LIBCURL, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		snprintf(curl_load_error, sizeof(curl_load_error), "%s",
		    e != NULL ? e : RP_LIBCURL);
		return;
	}
	/* POSIX: a data pointer converts to a function pointer for dlsym. */
#define CURL_LOAD(ret, name, args)					\
	if ((*(void **)&lc.name = dlsym(lib, "curl_" #name)) == NULL) {	\
		snprintf(curl_load_error, sizeof(curl_load_error),	\
		    "%s: no curl_%s", RP_LIBCURL, #name);		\
		return;							\
	}
	CURL_FUNCS(CURL_LOAD)
#undef CURL_LOAD
	curl_init_rc = lc.global_init(CURL_GLOBAL_DEFAULT);
	if (curl_init_rc != CURLE_OK)
		snprintf(curl_load_error, sizeof(curl_load_error), "%s",
		    lc.easy_strerror(curl_init_rc));
}

static double
rng_next(struct http *h)
{
	uint64_t x = h->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	h->rng = x;
	return (double)(x >> 11) * (1.0 / 9007199254740992.0);	/* 2^53 */
}

struct http *
http_new(const struct http_opts *o, struct rp_err *err)
{
	static const struct http_opts def = { .retries = -1 };
	struct http *h;
	struct timespec ts;

	if (o == NULL)
		o = &def;
	if (o->connect_timeout_ms < 0 || o->timeout_ms < 0 ||
	    o->stall_ms < 0 || o->retries < -1 || o->connect_retries < -1 ||
	    o->parallel < 0 || !(o->retry_cap >= 0)) {
		rp_err_set(err, RP_EXIT_USAGE, "http: negative option");
		return NULL;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		rp_err_set(err, RP_EXIT_FAIL, "cannot initialise libcurl: %s",
		    curl_load_error);
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	h->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms :
	    DEF_CONNECT_MS;
	h->timeout_ms = o->timeout_ms ? o->timeout_ms : DEF_TIMEOUT_MS;
	h->stall_ms = o->stall_ms ? o->stall_ms : h->timeout_ms;
	h->retries = o->retries < 0 ? DEF_RETRIES : o->retries;
	h->connect_retries = o->connect_retries == 0 ? h->retries :
	    o->connect_retries < 0 ? 0 : o->connect_retries;
	h->retry_cap = o->retry_cap > 0 ? o->retry_cap : DEF_RETRY_CAP;
	h->max_response = o->max_response ? o->max_response : DEF_MAX_RESP;
	h->parallel = o->parallel ? (size_t)o->parallel : DEF_PARALLEL;
	h->user_agent = o->user_agent != NULL ? xstrdup(o->user_agent) :
	    xstrdup("ragpipe/" RP_VERSION);
	h->idle = xcalloc(h->parallel, sizeof(*h->idle));
	clock_gettime(CLOCK_REALTIME, &ts);
	h->rng = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^
	    ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)h;
	if (h->rng == 0)
		h->rng = 0x9e3779b97f4a7c15ULL;
	h->multi = lc.multi_init();
	h->share = lc.share_init();
	if (h->multi == NULL || h->share == NULL ||
	    lc.share_setopt(h->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
	    lc.multi_setopt(h->multi, CURLMOPT_MAXCONNECTS,
	    (long)RP_MAX(h->parallel, 2)) != CURLM_OK) {
		rp_err_set(err, RP_EXIT_FAIL, "cannot set up libcurl");
		http_free(h);
		return NULL;
	}
	return h;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	/* Easy handles leave the share before it goes. */
	for (size_t i = 0; i < h->nidle; i++)
		lc.easy_cleanup(h->idle[i]);
	if (h->multi != NULL)
		lc.multi_cleanup(h->multi);
	if (h->share != NULL)
		lc.share_cleanup(h->share);
	free(h->idle);
	free(h->user_agent);
	free(h);
}

void
http_resp_release(struct http_resp *resp)
{
	if (resp == NULL)
		return;
	buf_release(&resp->body);
}

/* Case-insensitive search for NEEDLE in S[0..N). */
static const char *
memcasemem(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; k <= n && i <= n - k; i++)
		if (strncasecmp(s + i, needle, k) == 0)
			return s + i;
	return NULL;
}

char *
http_url_safe(const char *url, char *out, size_t n)
{
	static const char *const secret[] = {
		"key=", "token=", "secret=", "password=", "sig=",
	};
	struct buf b = BUF_INIT;
	const char *start, *auth_end, *at, *q, *end;
	size_t qn;
	int drop = 0;

	if (n == 0)
		return out;
	start = strstr(url, "://");
	start = start != NULL && strcspn(url, "/?#@") > (size_t)(start - url) ?
	    start + 3 : url;
	auth_end = start + strcspn(start, "/?#");
	buf_add(&b, url, (size_t)(start - url));
	at = NULL;
	for (const char *p = start; p < auth_end; p++)
		if (*p == '@')
			at = p;
	if (at != NULL)
		start = at + 1;
	/* The fragment is never sent; a query with a secret is dropped. */
	end = auth_end + strcspn(auth_end, "#");
	q = memchr(auth_end, '?', (size_t)(end - auth_end));
	if (q != NULL) {
		qn = (size_t)(end - q);
		for (size_t i = 0; i < RP_NELEM(secret); i++)
			if (memcasemem(q, qn, secret[i]) != NULL)
				drop = 1;
		if (drop)
			end = q;
	}
	buf_add(&b, start, (size_t)(end - start));
	rp_sanitize(out, n, buf_str(&b));
	buf_release(&b);
	return out;
}

/*
 * Replace each occurrence of SECRET in the string MSG with "***" (or as
 * many '*' as SECRET is long, if shorter), so the message never grows.
 */
static void
redact(char *msg, const char *secret)
{
	size_t k, m;
	char *p = msg;

	if (secret == NULL || (k = strlen(secret)) == 0)
		return;
	while ((p = strstr(p, secret)) != NULL) {
		m = RP_MIN(k, 3);
		memset(p, '*', m);
		memmove(p + m, p + k, strlen(p + k) + 1);
		p += m;
	}
}

char *
http_error_message(const char *body, size_t len, char *out, size_t n)
{
	cJSON *j = NULL, *e, *m = NULL;
	size_t i, o;

	if (n == 0)
		return out;
	if (body != NULL && len > 0)
		j = cJSON_ParseWithLength(body, len);
	if (j != NULL) {
		e = cJSON_GetObjectItemCaseSensitive(j, "error");
		if (cJSON_IsString(e))
			m = e;
		else if (cJSON_IsObject(e))
			m = cJSON_GetObjectItemCaseSensitive(e, "message");
		if (!cJSON_IsString(m))
			m = cJSON_GetObjectItemCaseSensitive(j, "message");
		if (!cJSON_IsString(m))
			m = cJSON_GetObjectItemCaseSensitive(j, "detail");
		if (cJSON_IsString(m) && m->valuestring[0] != '\0') {
			rp_sanitize(out, n, m->valuestring);
			cJSON_Delete(j);
			return out;
		}
		cJSON_Delete(j);
	}
	/* Not an error shape we know: the body itself, trimmed. */
	while (len > 0 && (*body == ' ' || *body == '\t' || *body == '\r' ||
	    *body == '\n')) {
		body++;
		len--;
	}
	while (len > 0 && (body[len - 1] == ' ' || body[len - 1] == '\t' ||
	    body[len - 1] == '\r' || body[len - 1] == '\n'))
		len--;
	if (len == 0) {
		rp_sanitize(out, n, "no message");
		return out;
	}
	for (i = 0, o = 0; i < len && o + 1 < n; i++) {
		unsigned char c = (unsigned char)body[i];

		out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	out[o] = '\0';
	if (i < len && n > 4)
		memcpy(out + n - 4, "...", 4);
	return out;
}

double
http_retry_after(const char *value, double now)
{
	const char *p = value;
	char *end;
	double v;
	time_t t;

	if (value == NULL)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if ((*p >= '0' && *p <= '9') || *p == '.') {
		errno = 0;
		v = strtod(p, &end);
		while (*end == ' ' || *end == '\t' || *end == '\r' ||
		    *end == '\n')
			end++;
		if (end == p || *end != '\0' || errno != 0 || !(v >= 0) ||
		    v > 1e9)
			return -1;
		return v;
	}
	if (*p == '\0')
		return -1;
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return -1;
	t = lc.getdate(p, NULL);
	if (t == (time_t)-1)
		return -1;
	v = (double)t - now;
	return v > 0 ? v : 0;
}

/* Taking easy handles from the pool and giving them back. */
static CURL *
pool_get(struct http *h)
{
	CURL *e;

	if (h->nidle > 0) {
		e = h->idle[--h->nidle];
		lc.easy_reset(e);
		return e;
	}
	return lc.easy_init();
}

static void
pool_put(struct http *h, CURL *e)
{
	if (h->nidle < h->parallel)
		h->idle[h->nidle++] = e;
	else
		lc.easy_cleanup(e);
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb, k, vn;
	const char *colon, *v;
	char *dst = NULL;

	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue, say): start over. */
		x->should_retry = -1;
		x->retry_after[0] = x->retry_after_ms[0] = '\0';
		return n;
	}
	if ((colon = memchr(p, ':', n)) == NULL)
		return n;
	k = (size_t)(colon - p);
	v = colon + 1;
	vn = n - k - 1;
	while (vn > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vn--;
	}
	while (vn > 0 && (v[vn - 1] == '\r' || v[vn - 1] == '\n' ||
	    v[vn - 1] == ' ' || v[vn - 1] == '\t'))
		vn--;
	if (k == 11 && strncasecmp(p, "retry-after", k) == 0)
		dst = x->retry_after;
	else if (k == 14 && strncasecmp(p, "retry-after-ms", k) == 0)
		dst = x->retry_after_ms;
	else if (k == 14 && strncasecmp(p, "x-should-retry", k) == 0) {
		if (vn == 4 && strncasecmp(v, "true", 4) == 0)
			x->should_retry = 1;
		else if (vn == 5 && strncasecmp(v, "false", 5) == 0)
			x->should_retry = 0;
	}
	if (dst != NULL) {
		vn = RP_MIN(vn, sizeof(x->retry_after) - 1);
		memcpy(dst, v, vn);
		dst[vn] = '\0';
	}
	return n;
}

/*
 * libcurl's progress callback, at least once a second: a transfer that
 * moved no byte either way for stall_ms is stopped.  (CURLOPT_LOW_SPEED
 * averages over five seconds or more, so a stall right after data
 * would take that much longer to notice.)
 */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = arg;
	double now = rp_now();

	(void)dltotal;
	(void)ultotal;
	if (dlnow + ulnow != x->seen) {
		x->seen = dlnow + ulnow;
		x->moved = now;
	} else if (x->h->stall_ms < x->h->timeout_ms &&
	    (now - x->moved) * 1000 >= (double)x->h->stall_ms) {
		/* (A stall as long as the whole timeout is that timeout.) */
		x->stalled = 1;
		return 1;
	}
	return 0;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (n == 0)
		return 0;
	if (!x->status_known) {
		x->status = 0;
		lc.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
		x->status_known = 1;
	}
	if (n > x->max - x->total) {
		x->too_big = 1;
		return 0;
	}
	x->total += n;
	if (x->req->on_data != NULL && x->status / 100 == 2) {
		x->streamed = 1;
		if (x->req->on_data(x->req->arg, p, n, x->err) != 0) {
			x->aborted = 1;
			return 0;
		}
		return n;
	}
	if (buf_add(&x->resp->body, p, n) != 0) {
		x->too_big = 1;
		return 0;
	}
	return n;
}

/* Free the request headers, wiping the one with the API key. */
static void
headers_free(struct curl_slist *l)
{
	for (struct curl_slist *s = l; s != NULL; s = s->next)
		explicit_bzero(s->data, strlen(s->data));
	lc.slist_free_all(l);
}

static struct curl_slist *
header_add(struct curl_slist *l, const char *h)
{
	struct curl_slist *t;

	if ((t = lc.slist_append(l, h)) == NULL)
		rp_oom();
	return t;
}

static struct curl_slist *
headers_new(const struct http_req *req)
{
	struct curl_slist *l;
	struct buf auth = BUF_INIT;

	/* No "Expect: 100-continue" round trip on large bodies. */
	l = header_add(NULL, "Expect:");
	if (req->body != NULL)
		l = header_add(l, "Content-Type: application/json");
	if (req->api_key != NULL) {
		buf_adds(&auth, "Authorization: Bearer ");
		buf_adds(&auth, req->api_key);
		l = header_add(l, buf_str(&auth));
		explicit_bzero(auth.data, auth.len);
		buf_release(&auth);
	}
	return l;
}

/* Set the options of easy handle E for an attempt of X. */
static CURLcode
easy_setup(struct http *h, struct xfer *x, CURL *e)
{
	const struct http_req *req = x->req;
	CURLcode c = CURLE_OK;

#define SET(opt, val)	do {						\
	if (c == CURLE_OK)						\
		c = lc.easy_setopt(e, opt, val);			\
} while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PRIVATE, (void *)x);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, h->timeout_ms);
	/* A stall (no byte for stall_ms) is a timeout too. */
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, RP_MAX(1L, (h->stall_ms + 999) / 1000));
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_USERAGENT, h->user_agent);
	SET(CURLOPT_HTTPHEADER, x->headers);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, (void *)x);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, (void *)x);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, (void *)x);
	SET(CURLOPT_SHARE, h->share);
	/* Refuses a Content-Length over the cap before any body arrives. */
	if (x->max <= (size_t)INT64_MAX)
		SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max);
	if (req->body != NULL) {
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
		SET(CURLOPT_POSTFIELDS, req->body);
	} else
		SET(CURLOPT_HTTPGET, 1L);
#undef SET
	return c;
}

/* Start one attempt of X.  -1 with X->err filled if it cannot start. */
static int
xfer_start(struct http *h, struct xfer *x)
{
	CURLcode c;
	CURL *e;

	x->resp->attempts++;
	x->resp->status = 0;
	buf_reset(&x->resp->body);
	x->streamed = x->aborted = x->too_big = x->status_known = 0;
	x->status = 0;
	x->total = 0;
	x->should_retry = -1;
	x->stalled = 0;
	x->moved = rp_now();
	x->seen = 0;
	x->retry_after[0] = x->retry_after_ms[0] = x->errbuf[0] = '\0';
	if ((e = pool_get(h)) == NULL)
		return rp_err_set(x->err, RP_EXIT_FAIL,
		    "%s: cannot make a curl handle", x->url);
	if ((c = easy_setup(h, x, e)) != CURLE_OK) {
		pool_put(h, e);
		return rp_err_set(x->err, RP_EXIT_FAIL, "%s: %s", x->url,
		    lc.easy_strerror(c));
	}
	if (lc.multi_add_handle(h->multi, e) != CURLM_OK) {
		pool_put(h, e);
		return rp_err_set(x->err, RP_EXIT_FAIL,
		    "%s: cannot start the request", x->url);
	}
	x->easy = e;
	x->state = XFER_RUN;
	return 0;
}

static int
retryable_code(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
		return 1;
	default:
		return 0;
	}
}

/* Whether C, with X's error text, failed before a connection was made. */
static int
connect_failure(const struct xfer *x, CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return 1;
	case CURLE_OPERATION_TIMEDOUT:
		/* libcurl's words for the phase (see transport_what). */
		return strncmp(x->errbuf, "Resolving timed out", 19) == 0 ||
		    strncmp(x->errbuf, "Connection timed out", 20) == 0 ||
		    strncmp(x->errbuf, "Failed to connect", 17) == 0;
	default:
		return 0;
	}
}

/* Whether a complete response with an error status deserves a retry. */
static int
retryable_status(const struct xfer *x)
{
	long s = x->resp->status;
	const struct buf *b = &x->resp->body;

	if (s == 429 && b->len > 0 &&
	    memcasemem(b->data, b->len, "insufficient_quota") != NULL)
		return 0;
	if (x->should_retry >= 0)
		return x->should_retry;
	return s == 408 || s == 409 || s == 429 || (s >= 500 && s <= 599);
}

/* Seconds to wait before retry number RETRY (0 for the first). */
static double
retry_wait(struct http *h, const struct xfer *x, int retry)
{
	double w = -1, b = 0.5;
	char *end;

	if (x->retry_after_ms[0] != '\0') {
		w = strtod(x->retry_after_ms, &end);
		if (end == x->retry_after_ms || *end != '\0' || !(w >= 0))
			w = -1;
		else
			w /= 1000;
	}
	if (w < 0 && x->retry_after[0] != '\0') {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		w = http_retry_after(x->retry_after, (double)ts.tv_sec +
		    (double)ts.tv_nsec / 1e9);
	}
	if (w > 0)
		return RP_MIN(w, h->retry_cap);
	for (int i = 0; i < retry && b < h->retry_cap; i++)
		b *= 2;
	return RP_MIN(b, h->retry_cap) * (1 - 0.25 * rng_next(h));
}

/* What went wrong in a transfer that ended with C, for a message. */
static void
transport_what(const struct http *h, const struct xfer *x, CURLcode c,
    char *out, size_t n)
{
	char detail[CURL_ERROR_SIZE], oss[128];
	long oserr = 0;
	const char *why = NULL;

	/* strerror_r, not strerror: other threads may have clients. */
	lc.easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
	if (oserr != 0 && strerror_r((int)oserr, oss, sizeof(oss)) == 0)
		why = oss;
	rp_sanitize(detail, sizeof(detail), x->errbuf[0] != '\0' ?
	    x->errbuf : lc.easy_strerror(c));
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		snprintf(out, n, "cannot resolve the host name");
		break;
	case CURLE_COULDNT_CONNECT:
		snprintf(out, n, "cannot connect: %s", why ? why : detail);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		/* The phase, from libcurl's words (multi.c, connect.c). */
		if (strncmp(x->errbuf, "Resolving timed out", 19) == 0)
			snprintf(out, n, "cannot resolve the host name: timed "
			    "out after %ld ms", h->connect_timeout_ms);
		else if (strncmp(x->errbuf, "Connection timed out", 20) == 0 ||
		    strncmp(x->errbuf, "Failed to connect", 17) == 0)
			snprintf(out, n, "cannot connect: timed out after "
			    "%ld ms", h->connect_timeout_ms);
		else if (x->stalled || strstr(x->errbuf, "too slow") != NULL)
			snprintf(out, n, "no data for %ld s",
			    RP_MAX(1L, (h->stall_ms + 999) / 1000));
		else
			snprintf(out, n, "timed out after %ld ms",
			    h->timeout_ms);
		break;
	case CURLE_GOT_NOTHING:
		snprintf(out, n, "empty reply from server");
		break;
	case CURLE_RECV_ERROR:
		snprintf(out, n, "connection lost: %s", why ? why : detail);
		break;
	case CURLE_SEND_ERROR:
		snprintf(out, n, "cannot send: %s", why ? why : detail);
		break;
	case CURLE_PARTIAL_FILE:
		snprintf(out, n, "response cut short");
		break;
	case CURLE_SSL_CONNECT_ERROR:
		snprintf(out, n, "TLS handshake failed: %s", detail);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		snprintf(out, n, "TLS certificate not trusted: %s", detail);
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(out, n, "unsupported protocol (http and https only)");
		break;
	case CURLE_URL_MALFORMAT:
		snprintf(out, n, "malformed URL");
		break;
	default:
		snprintf(out, n, "%s", detail);
		break;
	}
}

/* End X with a message; RC -1. */
static void
xfer_fail(struct xfer *x, enum rp_exit code, const char *what)
{
	char tail[64] = "";

	if (x->resp->attempts > 1)
		snprintf(tail, sizeof(tail), " (after %d attempts)",
		    x->resp->attempts);
	rp_err_set(x->err, code, "%s: %s%s", x->url, what, tail);
	redact(x->err->msg, x->req->api_key);
	*x->rc = -1;
	x->state = XFER_DONE;
}

/* An attempt of X ended with C.  Returns 1 if X is done, 0 if it waits. */
static int
xfer_done(struct http *h, struct xfer *x, CURLcode c)
{
	char what[CURL_ERROR_SIZE + 64];
	long status = 0;
	int again = 0;

	lc.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	x->resp->status = status;
	/* Our stall check stopped it: a timeout like any other. */
	if (x->stalled && c == CURLE_ABORTED_BY_CALLBACK)
		c = CURLE_OPERATION_TIMEDOUT;
	if (x->aborted) {
		if (x->err->msg[0] == '\0')
			rp_err_set(x->err, RP_EXIT_FAIL,
			    "%s: stopped by the reader", x->url);
		redact(x->err->msg, x->req->api_key);
		*x->rc = -1;
		x->state = XFER_DONE;
	} else if (x->too_big || c == CURLE_FILESIZE_EXCEEDED) {
		snprintf(what, sizeof(what), "response larger than %zu bytes",
		    x->max);
		xfer_fail(x, RP_EXIT_UNAVAIL, what);
	} else if (c == CURLE_OK) {
		again = status / 100 != 2 && retryable_status(x) &&
		    x->resp->attempts <= h->retries;
		if (!again) {
			*x->rc = 0;
			x->state = XFER_DONE;
		}
	} else {
		transport_what(h, x, c, what, sizeof(what));
		if (x->streamed) {
			/* Tokens were handed on: a retry would repeat them. */
			snprintf(what + strlen(what), sizeof(what) -
			    strlen(what), " (the stream had started; "
			    "not retried)");
			xfer_fail(x, RP_EXIT_UNAVAIL, what);
		} else if (retryable_code(c) && x->resp->attempts <=
		    (connect_failure(x, c) ? h->connect_retries : h->retries))
			again = 1;
		else
			xfer_fail(x, RP_EXIT_UNAVAIL, what);
	}
	lc.multi_remove_handle(h->multi, x->easy);
	pool_put(h, x->easy);
	x->easy = NULL;
	if (again) {
		x->state = XFER_WAIT;
		x->due = rp_now() + retry_wait(h, x, x->resp->attempts - 1);
		return 0;
	}
	return 1;
}

int
http_post(struct http *h, const struct http_req *req, struct http_resp *resp,
    struct rp_err *err)
{
	int rc = -1;

	http_post_many(h, req, resp, &rc, err, 1);
	return rc;
}

/* Set up X for REQ; 1 if it is done at once (no URL), else 0. */
static int
xfer_init(struct http *h, struct xfer *x, const struct http_req *req,
    struct http_resp *resp, int *rc, struct rp_err *err)
{
	x->h = h;
	x->req = req;
	x->resp = resp;
	x->err = err;
	x->rc = rc;
	*rc = -1;
	err->code = RP_EXIT_OK;
	err->msg[0] = '\0';
	resp->status = 0;
	resp->attempts = 0;
	x->max = req->max_response != 0 ? req->max_response :
	    h->max_response;
	resp->body.max = x->max;
	buf_reset(&resp->body);
	http_url_safe(req->url != NULL ? req->url : "(no URL)", x->url,
	    sizeof(x->url));
	x->state = XFER_WAIT;
	if (req->url == NULL) {
		xfer_fail(x, RP_EXIT_USAGE, "no URL");
		return 1;
	}
	x->headers = headers_new(req);
	return 0;
}

/*
 * Start the waiting requests that are due, in order, while there are
 * free slots.  Returns how many could not start (and are done).
 */
static size_t
start_due(struct http *h, struct xfer *xs, size_t n, size_t *running)
{
	double now = rp_now();
	size_t done = 0;

	for (size_t i = 0; i < n && *running < h->parallel; i++) {
		if (xs[i].state != XFER_WAIT || xs[i].due > now)
			continue;
		if (xfer_start(h, &xs[i]) == 0)
			(*running)++;
		else {
			*xs[i].rc = -1;
			xs[i].state = XFER_DONE;
			done++;
		}
	}
	return done;
}

/* Handle the attempts that ended.  Returns how many requests are done. */
static size_t
reap(struct http *h, size_t *running)
{
	CURLMsg *msg;
	char *priv;
	size_t done = 0;
	int q;

	while ((msg = lc.multi_info_read(h->multi, &q)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		priv = NULL;
		lc.easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		(*running)--;
		done += (size_t)xfer_done(h, (struct xfer *)(void *)priv,
		    msg->data.result);
	}
	return done;
}

/*
 * Poll timeout in ms: until the first waiting request is due, at most
 * a quarter of a second, so that a stall is seen soon after stall_ms.
 */
static long
next_wait(const struct xfer *xs, size_t n, size_t running, size_t parallel)
{
	double now = rp_now(), due = now + 0.25;

	if (running >= parallel)
		return 250;
	for (size_t i = 0; i < n; i++)
		if (xs[i].state == XFER_WAIT && xs[i].due < due)
			due = xs[i].due;
	return due <= now ? 0 : (long)((due - now) * 1000) + 1;
}

size_t
http_post_many(struct http *h, const struct http_req *reqs,
    struct http_resp *resps, int *rcs, struct rp_err *errs, size_t n)
{
	struct xfer *xs;
	size_t left = n, running = 0, failed = 0;
	long wait;
	int still;

	if (n == 0)
		return 0;
	xs = xcalloc(n, sizeof(*xs));
	for (size_t i = 0; i < n; i++)
		left -= (size_t)xfer_init(h, &xs[i], &reqs[i], &resps[i],
		    &rcs[i], &errs[i]);
	/* Retries wait by time here, so that they hold up no one else. */
	while (left > 0) {
		left -= start_due(h, xs, n, &running);
		if (running > 0 && lc.multi_perform(h->multi, &still) !=
		    CURLM_OK)
			break;
		left -= reap(h, &running);
		if (left == 0)
			break;
		wait = next_wait(xs, n, running, h->parallel);
		if (wait > 0 && lc.multi_poll(h->multi, NULL, 0, (int)wait,
		    NULL) != CURLM_OK)
			break;
	}
	for (size_t i = 0; i < n; i++) {
		if (xs[i].easy != NULL) {
			/* Only after a failure of the multi handle itself. */
			lc.multi_remove_handle(h->multi, xs[i].easy);
			pool_put(h, xs[i].easy);
			xs[i].easy = NULL;
		}
		if (xs[i].state != XFER_DONE)
			xfer_fail(&xs[i], RP_EXIT_FAIL, "libcurl failed");
		headers_free(xs[i].headers);
		if (rcs[i] != 0)
			failed++;
	}
	free(xs);
	return failed;
}

/* The parsers. */

static int
sse_dispatch(struct sse *p, struct rp_err *err)
{
	int rc;

	if (!p->has_data)
		return 0;
	p->has_data = 0;
	rc = p->fn(p->arg, buf_str(&p->data), p->data.len, err);
	buf_reset(&p->data);
	return rc == 0 ? 0 : -1;
}

/* One complete line of an event stream, in p->line. */
static int
sse_line(struct sse *p, struct rp_err *err)
{
	const char *s = buf_str(&p->line), *colon, *v;
	size_t n = p->line.len, vn;

	if (n == 0)
		return sse_dispatch(p, err);
	if (s[0] == ':')
		return 0;	/* a comment, as in ": keep-alive" */
	colon = memchr(s, ':', n);
	if ((colon != NULL ? (size_t)(colon - s) : n) != 4 ||
	    memcmp(s, "data", 4) != 0)
		return 0;	/* event, id, retry and unknown fields */
	v = colon != NULL ? colon + 1 : s + n;
	vn = (size_t)(s + n - v);
	if (vn > 0 && *v == ' ') {
		v++;
		vn--;
	}
	if ((p->has_data && buf_addc(&p->data, '\n') != 0) ||
	    buf_add(&p->data, v, vn) != 0) {
		buf_reset(&p->data);
		p->has_data = 0;
		return rp_err_set(err, RP_EXIT_DATA,
		    "event-stream event longer than %zu bytes", p->data.max);
	}
	p->has_data = 1;
	return 0;
}

void
sse_init(struct sse *p, size_t max_line, http_event_fn fn, void *arg)
{
	if (max_line == 0)
		max_line = DEF_MAX_LINE;
	buf_init(&p->line, max_line);
	buf_init(&p->data, max_line);
	p->has_data = 0;
	p->cr = 0;
	p->fn = fn;
	p->arg = arg;
}

int
sse_feed(struct sse *p, const char *b, size_t n, struct rp_err *err)
{
	size_t i = 0, k;
	int rc;

	while (i < n) {
		if (p->cr) {
			/* The "\n" of a "\r\n" split across two pieces. */
			p->cr = 0;
			if (b[i] == '\n') {
				i++;
				continue;
			}
		}
		for (k = i; k < n && b[k] != '\n' && b[k] != '\r'; k++)
			continue;
		if (buf_add(&p->line, b + i, k - i) != 0) {
			buf_reset(&p->line);
			return rp_err_set(err, RP_EXIT_DATA,
			    "event-stream line longer than %zu bytes",
			    p->line.max);
		}
		if (k == n)
			break;
		p->cr = b[k] == '\r';
		i = k + 1;
		rc = sse_line(p, err);
		buf_reset(&p->line);
		if (rc != 0)
			return -1;
	}
	return 0;
}

int
sse_finish(struct sse *p, struct rp_err *err)
{
	int rc = 0;

	if (p->line.len > 0)
		rc = sse_line(p, err);
	buf_reset(&p->line);
	p->cr = 0;
	if (rc == 0)
		rc = sse_dispatch(p, err);
	buf_reset(&p->data);
	p->has_data = 0;
	return rc;
}

void
sse_release(struct sse *p)
{
	buf_release(&p->line);
	buf_release(&p->data);
	p->has_data = 0;
	p->cr = 0;
}

void
ndjson_init(struct ndjson *p, size_t max_line, http_event_fn fn, void *arg)
{
	buf_init(&p->line, max_line != 0 ? max_line : DEF_MAX_LINE);
	p->fn = fn;
	p->arg = arg;
}

/* Deliver p->line unless it is blank. */
static int
ndjson_line(struct ndjson *p, struct rp_err *err)
{
	size_t n = p->line.len;
	int rc = 0;

	if (n > 0 && p->line.data[n - 1] == '\r')
		buf_truncate(&p->line, --n);
	for (size_t i = 0; i < n; i++) {
		char c = p->line.data[i];

		if (c != ' ' && c != '\t' && c != '\r') {
			rc = p->fn(p->arg, buf_str(&p->line), n, err);
			break;
		}
	}
	buf_reset(&p->line);
	return rc == 0 ? 0 : -1;
}

int
ndjson_feed(struct ndjson *p, const char *b, size_t n, struct rp_err *err)
{
	const char *nl;
	size_t k;

	while (n > 0) {
		nl = memchr(b, '\n', n);
		k = nl != NULL ? (size_t)(nl - b) : n;
		if (buf_add(&p->line, b, k) != 0) {
			buf_reset(&p->line);
			return rp_err_set(err, RP_EXIT_DATA,
			    "line longer than %zu bytes", p->line.max);
		}
		if (nl == NULL)
			break;
		b += k + 1;
		n -= k + 1;
		if (ndjson_line(p, err) != 0)
			return -1;
	}
	return 0;
}

int
ndjson_finish(struct ndjson *p, struct rp_err *err)
{
	return ndjson_line(p, err);
}

void
ndjson_release(struct ndjson *p)
{
	buf_release(&p->line);
}
