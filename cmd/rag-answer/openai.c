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

static const struct llm_api api = { 1, body, PROVIDER_OPENAI };

int
openai_chat(const struct group *g, const struct opts *o, struct answer *a)
{
	return llm_answer(g, o, &api, a);
}
