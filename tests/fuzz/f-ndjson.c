/*
 * f-ndjson: the NDJSON parser (lib/http.h) and the events of Ollama's
 * chat stream (lib/provider.h), on any bytes a model server may send.
 * The first byte says how many of the next bytes choose the sizes of
 * the pieces the reply arrives in.
 */
#include "fuzz.h"
#include <string.h>

#include "stream-check.h"

static int
feed(void *p, const char *b, size_t n, struct rp_err *err)
{
	return ndjson_feed(p, b, n, err);
}

static int
finish(void *p, struct rp_err *err)
{
	return ndjson_finish(p, err);
}

/* parse_fn (stream-check.h) */
static int
parse(struct events *e, const uint8_t *data, size_t size,
    const uint8_t *split, size_t nsplit)
{
	struct ndjson p;
	int rc;

	memset(e, 0, sizeof(*e));
	e->p = PROVIDER_OLLAMA;
	ndjson_init(&p, MAX_LINE, on_event, e);
	rc = feed_all(&p, feed, finish, data, size, split, nsplit);
	ndjson_release(&p);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return check_stream(data, size, parse);
}
