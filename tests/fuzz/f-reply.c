/*
 * f-reply: what a model server sends back to a request for vectors
 * (lib/provider.h, lib/http.h): the reply body, error bodies, and the
 * Retry-After header.  The first byte chooses the provider and the
 * number of texts asked for.
 */
#include "fuzz.h"
#include <string.h>

#include "rp.h"
#include "buf.h"
#include "http.h"
#include "provider.h"

/* A message may hold no control character and must end. */
static void
check_msg(const char *s, size_t n)
{
	size_t len = strnlen(s, n);

	FUZZ_CHECK(len < n);
	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7F);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct provider_embed e = { 0 };
	struct rp_err err;
	float *vecs[8];
	char msg[300], url[200], *s;
	size_t n, dim;
	unsigned opt = fuzz_byte(&data, &size);
	double w;

	e.p = opt & 1 ? PROVIDER_OPENAI : PROVIDER_OLLAMA;
	e.model = "m";
	e.url = "http://127.0.0.1:1/v1/embeddings";
	n = 1 + (opt >> 1) % RP_NELEM(vecs);
	if (provider_embed_parse(&e, (const char *)data, size, n, vecs, &dim,
	    &err) == 0) {
		FUZZ_CHECK(dim >= 1 && dim <= 65536);
		for (size_t i = 0; i < n; i++) {
			FUZZ_CHECK(vecs[i] != NULL);
			free(vecs[i]);
		}
	} else {
		FUZZ_CHECK(err.code == RP_EXIT_UNAVAIL);
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(vecs[i] == NULL);
	}
	http_error_message((const char *)data, size, msg, sizeof(msg));
	check_msg(msg, sizeof(msg));
	(void)provider_too_long(400, (const char *)data, size);
	s = xstrndup((const char *)data, size);
	w = http_retry_after(s, 1.7e9);
	FUZZ_CHECK(w == -1 || w >= 0);
	http_url_safe(s, url, sizeof(url));
	check_msg(url, sizeof(url));
	free(s);
	return 0;
}
