/* rag-answer's ollama provider: POST HOST/api/chat, streamed as NDJSON. */
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
	cJSON *j = cJSON_CreateObject(), *msgs, *opt;
	char *s;

	cJSON_AddStringToObject(j, "model", o->server_model);
	msgs = cJSON_AddArrayToObject(j, "messages");
	add_message(msgs, "system", sys);
	add_message(msgs, "user", user);
	cJSON_AddBoolToObject(j, "stream", 1);
	if (o->temperature >= 0) {
		opt = cJSON_AddObjectToObject(j, "options");
		cJSON_AddNumberToObject(opt, "temperature", o->temperature);
	}
	s = cJSON_PrintUnformatted(j);
	buf_adds(out, s);
	cJSON_free(s);
	cJSON_Delete(j);
}

/*
 * One NDJSON line: {"message":{"content":...},"done":false}, the last
 * with "done":true and the counts, or {"error":...} when the model
 * failed in the middle of the stream (the status stays 200).
 */
static int
event(struct llm *l, const char *data, size_t n, struct rp_err *err)
{
	const cJSON *d;
	const char *why;
	char url[200], msg[300];
	double v;
	cJSON *j;
	int rc = 0;

	http_url_safe(l->o->url, url, sizeof(url));
	if ((j = jsonl_parse(data, n, &why)) == NULL) {
		http_error_message(data, n, msg, 64);
		return rp_err_set(err, RP_EXIT_UNAVAIL, "%s: a stream line that "
		    "is not a JSON object: '%s'", url, msg);
	}
	if (cJSON_GetObjectItemCaseSensitive(j, "error") != NULL) {
		cJSON_Delete(j);
		return rp_err_set(err, RP_EXIT_UNAVAIL, "%s: the stream broke "
		    "off: %s", url, http_error_message(data, n, msg,
		    sizeof(msg)));
	}
	d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    j, "message"), "content");
	if (cJSON_IsString(d))
		rc = llm_text(l, d->valuestring, strlen(d->valuestring), err);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "done"))) {
		l->done = 1;
		if (jsonl_num(j, "prompt_eval_count", &v))
			l->a->prompt_tokens = (long)v;
		if (jsonl_num(j, "eval_count", &v))
			l->a->completion_tokens = (long)v;
		if ((why = jsonl_str(j, "done_reason")) != NULL &&
		    strcmp(why, "length") == 0 && rc == 0)
			rp_warn("%s: the answer was cut short by the model's "
			    "length limit", url);
	}
	cJSON_Delete(j);
	return rc;
}

static const struct llm_api api = { 0, body, event };

int
ollama_chat(const struct group *g, const struct opts *o, struct answer *a)
{
	return llm_answer(g, o, &api, a);
}
