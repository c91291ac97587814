/* provider: model server endpoints, and the embedding APIs' messages. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rp.h"
#include "buf.h"
#include "cfg.h"
#include "embed.h"
#include "http.h"
#include "jsonl.h"
#include "utf8.h"
#include "provider.h"

#define CONNECT_MS	5000L	/* a server that answers at all does */
#define CONNECT_RETRIES	2
#define ATTEMPT_MAX_S	3600.0	/* seconds: a whole attempt, at most */
#define TIMEOUT_MAX_S	86400.0
#define OLLAMA_PORT	"11434"

static const char *const names[] = {
	[PROVIDER_LOCAL] = "local",
	[PROVIDER_EXTRACTIVE] = "extractive",
	[PROVIDER_OPENAI] = "openai",
	[PROVIDER_OLLAMA] = "ollama",
};

int
provider_find(const char *name)
{
	for (size_t i = 0; i < RP_NELEM(names); i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
provider_name(enum provider p)
{
	return names[p];
}

int
provider_split(const char *model, enum provider *p, const char **name)
{
	const char *colon = strchr(model, ':');

	if (colon == NULL)
		return 0;
	for (size_t i = 0; i < RP_NELEM(names); i++)
		if (strlen(names[i]) == (size_t)(colon - model) &&
		    memcmp(model, names[i], (size_t)(colon - model)) == 0) {
			*p = (enum provider)i;
			*name = colon + 1;
			return 1;
		}
	return 0;
}

/* "where: name 'v'" or "VAR 'v'" for messages about setting K. */
static void
setting(const struct cfg *c, enum cfg_key k, char *out, size_t n)
{
	char v[256];

	rp_sanitize(v, sizeof(v), cfg_get(c, k) != NULL ? cfg_get(c, k) : "");
	if (cfg_source(c, k) == CFG_SRC_FILE)
		snprintf(out, n, "%s: %s '%s'", cfg_where(c, k), cfg_name(k),
		    v);
	else
		snprintf(out, n, "%s '%s'", cfg_where(c, k), v);
}

static int
http_scheme(const char *s)
{
	return strncasecmp(s, "http://", 7) == 0 ||
	    strncasecmp(s, "https://", 8) == 0;
}

char *
provider_url(enum provider p, const struct cfg *c, const char *path,
    struct rp_err *err)
{
	enum cfg_key k = p == PROVIDER_OLLAMA ? CFG_OLLAMA_HOST :
	    CFG_OPENAI_BASE_URL;
	const char *v = cfg_get(c, k), *auth, *end;
	struct buf b = BUF_INIT;
	char what[400];
	size_t n;

	if (p == PROVIDER_OLLAMA && strstr(v, "://") == NULL) {
		/* As Ollama reads OLLAMA_HOST: "host[:port]", http. */
		buf_adds(&b, "http://");
		auth = v;
		end = auth + strcspn(auth, "/");
		buf_add(&b, auth, (size_t)(end - auth));
		if (memchr(auth, ':', (size_t)(end - auth)) == NULL ||
		    (*auth == '[' && end[-1] == ']'))
			buf_adds(&b, ":" OLLAMA_PORT);
		buf_adds(&b, end);
	} else
		buf_adds(&b, v);
	if (!http_scheme(buf_str(&b)) ||
	    strcspn(strstr(buf_str(&b), "://") + 3, "/?#") == 0 ||
	    strcspn(buf_str(&b), " \t\r\n") != b.len) {
		buf_release(&b);
		setting(c, k, what, sizeof(what));
		rp_err_set(err, RP_EXIT_USAGE, "%s is not an http or https "
		    "URL", what);
		return NULL;
	}
	n = b.len;
	while (n > 0 && b.data[n - 1] == '/')
		n--;
	buf_truncate(&b, n);
	buf_adds(&b, path);
	return buf_detach(&b, NULL);
}

const char *
provider_key(enum provider p, const struct cfg *c)
{
	/* Ollama needs none; its OpenAI-compatible API ignores one. */
	return p == PROVIDER_OPENAI ? cfg_get(c, CFG_OPENAI_API_KEY) : NULL;
}

struct http *
provider_http(const struct cfg *c, int parallel, struct rp_err *err)
{
	struct http_opts o = { 0 };
	const char *v = cfg_get(c, CFG_TIMEOUT);
	char *end, what[400];
	double t;

	t = strtod(v, &end);
	if (end == v || *end != '\0' || !(t >= 1 && t <= TIMEOUT_MAX_S)) {
		setting(c, CFG_TIMEOUT, what, sizeof(what));
		rp_err_set(err, RP_EXIT_USAGE, "%s is not a number of seconds "
		    "from 1 to %.0f", what, TIMEOUT_MAX_S);
		return NULL;
	}
	o.stall_ms = (long)(t * 1000);
	o.timeout_ms = (long)(RP_MAX(t, ATTEMPT_MAX_S) * 1000);
	o.connect_timeout_ms = RP_MIN(CONNECT_MS, o.stall_ms);
	o.retries = -1;
	o.connect_retries = CONNECT_RETRIES;
	o.parallel = parallel;
	return http_new(&o, err);
}

/* S[0..N) as a JSON string; invalid UTF-8 becomes U+FFFD. */
static void
json_string(struct buf *out, const char *s, size_t n)
{
	size_t i = 0;
	int32_t cp;
	int k;

	buf_addc(out, '"');
	while (i < n) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 0x80) {
			k = utf8_decode(s + i, n - i, &cp);
			if (cp < 0)
				buf_adds(out, "\\ufffd");
			else
				buf_add(out, s + i, (size_t)k);
			i += (size_t)k;
			continue;
		}
		if (ch == '"' || ch == '\\') {
			buf_addc(out, '\\');
			buf_addc(out, ch);
		} else if (ch == '\n')
			buf_adds(out, "\\n");
		else if (ch == '\t')
			buf_adds(out, "\\t");
		else if (ch < 0x20)
			buf_addf(out, "\\u%04x", ch);
		else
			buf_addc(out, ch);
		i++;
	}
	buf_addc(out, '"');
}

size_t
provider_embed_reply_max(size_t n)
{
	return ((size_t)1 << 20) + RP_MIN(n, (size_t)4096) * ((size_t)2 << 20);
}

void
provider_embed_body(const struct provider_embed *e, struct buf *out,
    const char *const *texts, const size_t *lens, size_t n)
{
	buf_adds(out, "{\"model\":");
	json_string(out, e->model, strlen(e->model));
	buf_adds(out, ",\"input\":[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_addc(out, ',');
		json_string(out, texts[i], lens[i]);
	}
	buf_addc(out, ']');
	if (e->p == PROVIDER_OPENAI)
		buf_adds(out, ",\"encoding_format\":\"base64\"");
	else
		buf_adds(out, ",\"truncate\":false");
	if (e->dimensions > 0)
		buf_addf(out, ",\"dimensions\":%zu", e->dimensions);
	buf_addc(out, '}');
}

/* A vector from a JSON array of numbers, or base64 float32. */
static float *
vector_of(const cJSON *j, size_t *dim, const char **why, struct rp_err *err)
{
	const cJSON *x;
	float *v;
	size_t n = 0;

	if (cJSON_IsString(j)) {
		v = embed_from_b64(j->valuestring, strlen(j->valuestring), dim,
		    err);
		if (v == NULL)
			*why = "bad base64";
		else if (*dim == 0 || *dim > EMBED_MAX_DIM) {
			free(v);
			v = NULL;
			*why = "no values, or too many";
		}
		for (size_t i = 0; v != NULL && i < *dim; i++)
			if (!isfinite(v[i])) {
				free(v);
				v = NULL;
				*why = "a value that is not a finite number";
			}
		return v;
	}
	if (!cJSON_IsArray(j) || (n = (size_t)cJSON_GetArraySize(j)) == 0 ||
	    n > EMBED_MAX_DIM) {
		*why = "not an array of numbers";
		return NULL;
	}
	v = xreallocarray(NULL, n, sizeof(*v));
	n = 0;
	cJSON_ArrayForEach(x, j) {
		if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) ||
		    fabs(x->valuedouble) > 3.4e38) {
			free(v);
			*why = "a value that is not a finite number";
			return NULL;
		}
		v[n++] = (float)x->valuedouble;
	}
	*dim = n;
	return v;
}

/* The vectors of an OpenAI reply's "data", each in its "index" slot. */
static const char *
parse_openai(const cJSON *j, size_t n, float **vecs, size_t *dims,
    struct rp_err *err)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data"), *d;
	const char *why = NULL;
	double idx;
	size_t i;

	if (!cJSON_IsArray(data))
		return "no \"data\" array";
	if ((size_t)cJSON_GetArraySize(data) != n)
		return "not one vector per input";
	cJSON_ArrayForEach(d, data) {
		if (!jsonl_num(d, "index", &idx) || idx < 0 || idx >= (double)n ||
		    idx != (double)(size_t)idx)
			return "a vector without a good \"index\"";
		i = (size_t)idx;
		if (vecs[i] != NULL)
			return "two vectors with one \"index\"";
		vecs[i] = vector_of(cJSON_GetObjectItemCaseSensitive(d,
		    "embedding"), &dims[i], &why, err);
		if (vecs[i] == NULL)
			return why;
	}
	return NULL;
}

static const char *
parse_ollama(const cJSON *j, size_t n, float **vecs, size_t *dims,
    struct rp_err *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "embeddings"), *x;
	const char *why = NULL;
	size_t i = 0;

	if (!cJSON_IsArray(a))
		return "no \"embeddings\" array";
	if ((size_t)cJSON_GetArraySize(a) != n)
		return "not one vector per input";
	cJSON_ArrayForEach(x, a) {
		if ((vecs[i] = vector_of(x, &dims[i], &why, err)) == NULL)
			return why;
		i++;
	}
	return NULL;
}

int
provider_embed_parse(const struct provider_embed *e, const char *body,
    size_t len, size_t n, float **vecs, size_t *dim, struct rp_err *err)
{
	size_t *dims = xcalloc(RP_MAX(n, (size_t)1), sizeof(*dims));
	const char *why;
	char start[64], url[200];
	cJSON *j;

	http_url_safe(e->url, url, sizeof(url));
	memset(vecs, 0, n * sizeof(*vecs));
	if ((j = cJSON_ParseWithLength(body, len)) == NULL ||
	    !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		free(dims);
		http_error_message(body, len, start, sizeof(start));
		return rp_err_set(err, RP_EXIT_UNAVAIL, "%s: the reply is not "
		    "a JSON object: '%s'", url, start);
	}
	why = e->p == PROVIDER_OPENAI ? parse_openai(j, n, vecs, dims, err) :
	    parse_ollama(j, n, vecs, dims, err);
	for (size_t i = 1; why == NULL && i < n; i++)
		if (dims[i] != dims[0])
			why = "vectors of different sizes";
	cJSON_Delete(j);
	*dim = n > 0 ? dims[0] : 0;
	free(dims);
	if (why == NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		free(vecs[i]);
		vecs[i] = NULL;
	}
	return rp_err_set(err, RP_EXIT_UNAVAIL, "%s: the reply has %s",
	    url, why);
}

/* Case-insensitive: does S[0..N) hold NEEDLE? */
static int
holds(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; k <= n && i <= n - k; i++)
		if (strncasecmp(s + i, needle, k) == 0)
			return 1;
	return 0;
}

int
provider_too_long(long status, const char *body, size_t len)
{
	static const char *const says[] = {
		"context_length_exceeded", "maximum context length",
		"exceeds the context length", "context length exceeded",
		"exceeds the available context", "too large to process",
		"input is too long", "too many tokens",
	};

	if (status < 400 || body == NULL)
		return 0;
	for (size_t i = 0; i < RP_NELEM(says); i++)
		if (holds(body, len, says[i]))
			return 1;
	return 0;
}

int
provider_status_code(long status)
{
	return status == 400 || status == 413 || status == 422 ?
	    RP_EXIT_DATA : RP_EXIT_UNAVAIL;
}

int
provider_error(const char *u, const struct http_resp *resp, char *tmp,
    size_t n, struct rp_err *err)
{
	char url[200], tail[64] = "";

	if (resp->attempts > 1)
		snprintf(tail, sizeof(tail), " (after %d attempts)",
		    resp->attempts);
	return rp_err_set(err, provider_status_code(resp->status),
	    "%s: %ld: %s%s", http_url_safe(u, url, sizeof(url)), resp->status,
	    http_error_message(resp->body.data, resp->body.len, tmp, n), tail);
}

int
provider_embed_one(struct http *h, const struct provider_embed *e,
    const char *text, size_t n, float **v, size_t *dim, struct rp_err *err)
{
	struct http_resp resp = { 0 };
	struct http_req req = { 0 };
	struct buf body = BUF_INIT;
	char msg[300];
	int rc;

	provider_embed_body(e, &body, &text, &n, 1);
	req.url = e->url;
	req.body = body.data;
	req.len = body.len;
	req.api_key = e->api_key;
	req.max_response = provider_embed_reply_max(1);
	if ((rc = http_post(h, &req, &resp, err)) == 0) {
		if (resp.status / 100 == 2)
			rc = provider_embed_parse(e, resp.body.data,
			    resp.body.len, 1, v, dim, err);
		else
			rc = provider_error(e->url, &resp, msg, sizeof(msg),
			    err);
	}
	http_resp_release(&resp);
	buf_release(&body);
	return rc;
}

/* An OpenAI chat completion chunk, or "[DONE]". */
static void
openai_event(const cJSON *j, struct provider_event *ev)
{
	const cJSON *c, *d, *u;
	const char *fin;
	double v;

	c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"),
	    0);
	d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    c, "delta"), "content");
	/* Content may be null or absent: only strings are text. */
	if (cJSON_IsString(d))
		buf_adds(ev->text, d->valuestring);
	if ((fin = jsonl_str(c, "finish_reason")) != NULL) {
		ev->done = 1;
		ev->cut = strcmp(fin, "length") == 0;
	}
	if (cJSON_IsObject(u = cJSON_GetObjectItemCaseSensitive(j, "usage"))) {
		if (jsonl_num(u, "prompt_tokens", &v) && v >= 0 && v < 1e15)
			ev->prompt_tokens = (long)v;
		if (jsonl_num(u, "completion_tokens", &v) && v >= 0 &&
		    v < 1e15)
			ev->completion_tokens = (long)v;
	}
}

/* An Ollama chat line. */
static void
ollama_event(const cJSON *j, struct provider_event *ev)
{
	const cJSON *d;
	const char *why;
	double v;

	d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    j, "message"), "content");
	if (cJSON_IsString(d))
		buf_adds(ev->text, d->valuestring);
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "done")))
		return;
	ev->done = 1;
	if (jsonl_num(j, "prompt_eval_count", &v) && v >= 0 && v < 1e15)
		ev->prompt_tokens = (long)v;
	if (jsonl_num(j, "eval_count", &v) && v >= 0 && v < 1e15)
		ev->completion_tokens = (long)v;
	if ((why = jsonl_str(j, "done_reason")) != NULL)
		ev->cut = strcmp(why, "length") == 0;
}

int
provider_chat_event(enum provider p, const char *u, const char *data,
    size_t n, struct provider_event *ev, struct rp_err *err)
{
	const char *why;
	char url[200], msg[300];
	cJSON *j;

	http_url_safe(u, url, sizeof(url));
	if (p == PROVIDER_OPENAI && n == 6 && memcmp(data, "[DONE]", 6) == 0) {
		ev->done = 1;
		return 0;
	}
	if ((j = jsonl_parse(data, n, &why)) == NULL) {
		http_error_message(data, n, msg, 64);
		return rp_err_set(err, RP_EXIT_UNAVAIL, "%s: a stream %s that "
		    "is not a JSON object: '%s'", url, p == PROVIDER_OPENAI ?
		    "event" : "line", msg);
	}
	if (cJSON_GetObjectItemCaseSensitive(j, "error") != NULL) {
		cJSON_Delete(j);
		return rp_err_set(err, RP_EXIT_UNAVAIL, "%s: the stream broke "
		    "off: %s", url, http_error_message(data, n, msg,
		    sizeof(msg)));
	}
	if (p == PROVIDER_OPENAI)
		openai_event(j, ev);
	else
		ollama_event(j, ev);
	cJSON_Delete(j);
	return 0;
}
