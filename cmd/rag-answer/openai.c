/* rag-answer's openai provider: POST BASE/chat/completions, streamed. */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "answer.h"

static void
add_message(cJSON *msgs, const char *role, const char *content)
{
	cJSON *m = cJSON_CreateObject();

	cJSON_AddStringToObject(m, "role", role);
	cJSON_AddStringToObject(m, "content", content);
	cJSON_AddItemToArray(msgs, m);
}

static void
body(const struct opts *o, const char *sys, const char *user, struct buf *out)
{
	cJSON *j = cJSON_CreateObject(), *msgs, *so;
	char *s;

	cJSON_AddStringToObject(j, "model", o->server_model);
	msgs = cJSON_AddArrayToObject(j, "messages");
	add_message(msgs, "system", sys);
	add_message(msgs, "user", user);
	cJSON_AddBoolToObject(j, "stream", 1);
	/* The usage comes in one more event before [DONE]. */
	so = cJSON_AddObjectToObject(j, "stream_options");
	cJSON_AddBoolToObject(so, "include_usage", 1);
	if (o->temperature >= 0)
		cJSON_AddNumberToObject(j, "temperature", o->temperature);
	s = cJSON_PrintUnformatted(j);
	buf_adds(out, s);
	cJSON_free(s);
	cJSON_Delete(j);
}

/* The usage object of the last event: prompt and completion tokens. */
static void
usage(struct llm *l, const cJSON *u)
{
	double v;

	if (jsonl_num(u, "prompt_tokens", &v))
		l->a->prompt_tokens = (long)v;
	if (jsonl_num(u, "completion_tokens", &v))
		l->a->completion_tokens = (long)v;
}

/*
 * One SSE event: a chunk {"choices":[{"delta":{"content":...},
 * "finish_reason":...}],"usage":...}, an {"error":...} the server sent
 * in the middle of the stream, or "[DONE]".
 */
static int
event(struct llm *l, const char *data, size_t n, struct rp_err *err)
{
	const cJSON *c, *d, *u;
	const char *fin;
	char url[200], msg[300];
	cJSON *j;
	int rc = 0;

	http_url_safe(l->o->url, url, sizeof(url));
	if (strcmp(data, "[DONE]") == 0) {
		l->done = 1;
		return 0;
	}
	if ((j = cJSON_ParseWithLength(data, n)) == NULL || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		http_error_message(data, n, msg, 64);
		return rp_err_set(err, RP_EXIT_UNAVAIL, "%s: a stream event "
		    "that is not a JSON object: '%s'", url, msg);
	}
	if (cJSON_GetObjectItemCaseSensitive(j, "error") != NULL) {
		cJSON_Delete(j);
		return rp_err_set(err, RP_EXIT_UNAVAIL, "%s: the stream broke "
		    "off: %s", url, http_error_message(data, n, msg,
		    sizeof(msg)));
	}
	c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"),
	    0);
	d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    c, "delta"), "content");
	/* Content may be null or absent: only strings are text. */
	if (cJSON_IsString(d))
		rc = llm_text(l, d->valuestring, strlen(d->valuestring), err);
	if ((fin = jsonl_str(c, "finish_reason")) != NULL) {
		l->done = 1;
		if (strcmp(fin, "length") == 0 && rc == 0)
			rp_warn("%s: the answer was cut short by the model's "
			    "length limit", url);
	}
	if (cJSON_IsObject(u = cJSON_GetObjectItemCaseSensitive(j, "usage")))
		usage(l, u);
	cJSON_Delete(j);
	return rc;
}

static const struct llm_api api = { 1, body, event };

int
openai_chat(const struct group *g, const struct opts *o, struct answer *a)
{
	return llm_answer(g, o, &api, a);
}
