/* t-provider: endpoints, and embedding request bodies and replies. */
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "buf.h"
#include "cfg.h"
#include "embed.h"
#include "jsonl.h"
#include "provider.h"
#include "tap.h"

static const char *const *env;

static char *
fake_getenv(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; env != NULL && env[i] != NULL; i++)
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
			return (char *)env[i] + n + 1;
	return NULL;
}

/* The URL of PATH for provider P with VAR=VALUE in the environment. */
static char *
url_with(enum provider p, const char *var, const char *path,
    struct rp_err *err)
{
	const char *e[] = { "HOME=/nonexistent", var, NULL };
	struct cfg *c = cfg_new();
	char *u;

	env = e;
	cfg_load(c, fake_getenv, err);
	u = provider_url(p, c, path, err);
	cfg_free(c);
	return u;
}

static void
test_names(void)
{
	enum provider p;
	const char *name;
	char *u;
	struct rp_err err;
	static const char *const ollama[][2] = {
		{ "OLLAMA_HOST=", "http://127.0.0.1:11434/api/embed" },
		{ "OLLAMA_HOST=gpu1", "http://gpu1:11434/api/embed" },
		{ "OLLAMA_HOST=0.0.0.0:8080", "http://0.0.0.0:8080/api/embed" },
		{ "OLLAMA_HOST=[::1]", "http://[::1]:11434/api/embed" },
		{ "OLLAMA_HOST=https://ollama.example/",
		  "https://ollama.example/api/embed" },
	};

	is_int(provider_find("ollama"), PROVIDER_OLLAMA, "find: ollama");
	is_int(provider_find("frob"), -1, "find: frob");
	ok(provider_split("ollama:qwen3:0.6b", &p, &name) &&
	    p == PROVIDER_OLLAMA && strcmp(name, "qwen3:0.6b") == 0,
	    "split: ollama:qwen3:0.6b");
	is_int(provider_split("qwen3:0.6b", &p, &name), 0,
	    "split: no provider in qwen3:0.6b");
	ok(provider_split("local:hash-v1-8", &p, &name) &&
	    p == PROVIDER_LOCAL, "split: local");
	for (size_t i = 0; i < RP_NELEM(ollama); i++) {
		u = url_with(PROVIDER_OLLAMA, ollama[i][0], "/api/embed",
		    &err);
		is_str(u, ollama[i][1], "url: %s", ollama[i][0]);
		free(u);
	}
	u = url_with(PROVIDER_OPENAI, "X=1", "/embeddings", &err);
	is_str(u, "https://api.openai.com/v1/embeddings", "url: OpenAI's");
	free(u);
	u = url_with(PROVIDER_OPENAI, "OPENAI_BASE_URL=http://h:8080/v1/",
	    "/chat/completions", &err);
	is_str(u, "http://h:8080/v1/chat/completions", "url: a base URL's "
	    "trailing slash goes");
	free(u);
	u = url_with(PROVIDER_OPENAI, "OPENAI_BASE_URL=localhost:8080/v1",
	    "/embeddings", &err);
	ok(u == NULL && err.code == RP_EXIT_USAGE, "url: no scheme: refused");
	is_str(err.msg, "OPENAI_BASE_URL 'localhost:8080/v1' is not an http "
	    "or https URL", "... saying where it came from");
	u = url_with(PROVIDER_OPENAI, "OPENAI_BASE_URL=ftp://h/v1",
	    "/embeddings", &err);
	ok(u == NULL, "url: ftp: refused");
}

static void
test_body(void)
{
	struct provider_embed oa = { PROVIDER_OPENAI, "m\"x", "u", NULL, 0 };
	struct provider_embed ol = { PROVIDER_OLLAMA, "nomic", "u", NULL, 64 };
	const char *texts[] = { "a \"q\"\n\x01", "caf\xc3\xa9 \xff!" };
	size_t lens[] = { 7, 8 };
	struct buf b = BUF_INIT;
	const char *why;
	cJSON *j;

	provider_embed_body(&oa, &b, texts, lens, 2);
	is_str(buf_str(&b), "{\"model\":\"m\\\"x\",\"input\":[\"a \\\"q\\\""
	    "\\n\\u0001\",\"caf\xc3\xa9 \\ufffd!\"],\"encoding_format\":"
	    "\"base64\"}", "body: OpenAI, escaped, bad UTF-8 replaced");
	j = jsonl_parse(b.data, b.len, &why);
	ok(j != NULL, "body: is JSON");
	cJSON_Delete(j);
	buf_reset(&b);
	provider_embed_body(&ol, &b, texts, lens, 1);
	is_str(buf_str(&b), "{\"model\":\"nomic\",\"input\":[\"a \\\"q\\\""
	    "\\n\\u0001\"],\"truncate\":false,\"dimensions\":64}",
	    "body: Ollama, no truncation, dimensions");
	buf_release(&b);
}

static void
test_parse(void)
{
	struct provider_embed oa = { PROVIDER_OPENAI, "m", "http://u:pw@h/v1/"
	    "embeddings", NULL, 0 };
	struct provider_embed ol = { PROVIDER_OLLAMA, "m", "http://h/api/embed",
	    NULL, 0 };
	float a[3] = { 0.25f, -1e-7f, 3.0f }, b[3] = { 1, 2, 3 }, *v[2];
	struct buf body = BUF_INIT, b64 = BUF_INIT;
	struct rp_err err;
	size_t dim;
	static const struct { const char *body, *msg; } bad[] = {
		{ "<html>", "http://h/v1/embeddings: the reply is not a JSON "
		  "object: '<html>'" },
		{ "{\"data\":[{\"index\":0,\"embedding\":[1]}]}",
		  "http://h/v1/embeddings: the reply has not one vector per "
		  "input" },
		{ "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":0,"
		  "\"embedding\":[1]}]}", "http://h/v1/embeddings: the reply "
		  "has two vectors with one \"index\"" },
		{ "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":1,"
		  "\"embedding\":[1,2]}]}", "http://h/v1/embeddings: the reply "
		  "has vectors of different sizes" },
		{ "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":1,"
		  "\"embedding\":\"!!\"}]}", "http://h/v1/embeddings: the "
		  "reply has bad base64" },
		{ "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":2,"
		  "\"embedding\":[1]}]}", "http://h/v1/embeddings: the reply "
		  "has a vector without a good \"index\"" },
	};

	/* Out of order, one as base64 and one as numbers. */
	embed_b64(&b64, a, 3);
	buf_addf(&body, "{\"object\":\"list\",\"data\":[{\"index\":1,"
	    "\"embedding\":[1,2,3]},{\"index\":0,\"embedding\":\"%s\"}]}",
	    buf_str(&b64));
	is_int(provider_embed_parse(&oa, body.data, body.len, 2, v, &dim,
	    &err), 0, "parse: OpenAI");
	ok(dim == 3 && memcmp(v[0], a, sizeof(a)) == 0 &&
	    memcmp(v[1], b, sizeof(b)) == 0, "parse: by index, exactly");
	free(v[0]);
	free(v[1]);
	for (size_t i = 0; i < RP_NELEM(bad); i++) {
		is_int(provider_embed_parse(&oa, bad[i].body,
		    strlen(bad[i].body), 2, v, &dim, &err), -1,
		    "parse: bad reply %zu", i);
		ok(v[0] == NULL && v[1] == NULL && err.code == RP_EXIT_UNAVAIL,
		    "... nothing kept, RP_EXIT_UNAVAIL");
		is_str(err.msg, bad[i].msg, "... the message has no password");
	}
	buf_reset(&body);
	buf_adds(&body, "{\"model\":\"m\",\"embeddings\":[[0.25,-1e-07,3],"
	    "[1,2,3]]}");
	is_int(provider_embed_parse(&ol, body.data, body.len, 2, v, &dim,
	    &err), 0, "parse: Ollama");
	ok(dim == 3 && memcmp(v[0], a, sizeof(a)) == 0 &&
	    memcmp(v[1], b, sizeof(b)) == 0, "parse: Ollama, as float32");
	free(v[0]);
	free(v[1]);
	is_int(provider_embed_parse(&ol, "{\"embeddings\":[[1,\"x\"]]}", 24, 1,
	    v, &dim, &err), -1, "parse: Ollama, a string value");
	buf_release(&body);
	buf_release(&b64);
}

static void
test_errors(void)
{
	static const char *const long_ones[] = {
		"{\"error\":{\"message\":\"This model's maximum context length "
		"is 8192 tokens\",\"type\":\"invalid_request_error\",\"param\":"
		"null,\"code\":\"context_length_exceeded\"}}",
		"{\"error\":\"the input length exceeds the context length\"}",
		"{\"error\":{\"code\":500,\"message\":\"input is too large to "
		"process. increase the physical batch size\"}}",
	};

	for (size_t i = 0; i < RP_NELEM(long_ones); i++)
		ok(provider_too_long(i == 2 ? 500 : 400, long_ones[i],
		    strlen(long_ones[i])), "too long: %zu", i);
	ok(!provider_too_long(400, "{\"error\":\"bad model\"}", 21),
	    "too long: not every 400");
	ok(!provider_too_long(200, "too many tokens", 15),
	    "too long: not a 200");
	is_int(provider_status_code(400), RP_EXIT_DATA, "400: data");
	is_int(provider_status_code(422), RP_EXIT_DATA, "422: data");
	is_int(provider_status_code(401), RP_EXIT_UNAVAIL, "401: unavailable");
	is_int(provider_status_code(503), RP_EXIT_UNAVAIL, "503: unavailable");
}

static void
test_chat_events(void)
{
	struct buf text = BUF_INIT;
	struct provider_event ev = { .text = &text };
	struct rp_err err;
	const char *u = "http://me:pw@127.0.0.1:1/v1/chat/completions";
	const char *e1 = "{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}";
	const char *e2 = "{\"choices\":[{\"delta\":{},\"finish_reason\":"
	    "\"length\"}],\"usage\":{\"prompt_tokens\":7,"
	    "\"completion_tokens\":2}}";
	const char *o1 = "{\"message\":{\"content\":\" there\"},\"done\":"
	    "true,\"done_reason\":\"stop\",\"eval_count\":3}";

	ev.prompt_tokens = ev.completion_tokens = -1;
	ok(provider_chat_event(PROVIDER_OPENAI, u, e1, strlen(e1), &ev,
	    &err) == 0 && !ev.done, "openai: a delta");
	ok(provider_chat_event(PROVIDER_OPENAI, u, e2, strlen(e2), &ev,
	    &err) == 0 && ev.done && ev.cut, "openai: cut by length");
	ok(ev.prompt_tokens == 7 && ev.completion_tokens == 2, "openai: usage");
	ok(provider_chat_event(PROVIDER_OPENAI, u, "[DONE]", 6, &ev, &err) ==
	    0, "openai: [DONE]");
	ok(provider_chat_event(PROVIDER_OLLAMA, u, o1, strlen(o1), &ev,
	    &err) == 0 && ev.done && !ev.cut && ev.completion_tokens == 3,
	    "ollama: the last line");
	is_str(buf_str(&text), "Hi there", "the text of the events");
	ok(provider_chat_event(PROVIDER_OLLAMA, u, "{\"error\":\"oom\"}", 15,
	    &ev, &err) == -1 && err.code == RP_EXIT_UNAVAIL, "an error event");
	is_str(err.msg, "http://127.0.0.1:1/v1/chat/completions: the stream "
	    "broke off: oom", "says so, without the password");
	ok(provider_chat_event(PROVIDER_OPENAI, u, "{\"a\":", 5, &ev,
	    &err) == -1, "not JSON");
	is_str(err.msg, "http://127.0.0.1:1/v1/chat/completions: a stream "
	    "event that is not a JSON object: '{\"a\":'", "says so");
	is_int(provider_embed_reply_max(1), 3 << 20, "reply cap: one text");
	is_int(provider_embed_reply_max(64), 129 << 20, "reply cap: 64");
	buf_release(&text);
}

int
main(void)
{
	rp_init("t-provider");
	test_names();
	test_body();
	test_parse();
	test_errors();
	test_chat_events();
	return tap_done();
}
