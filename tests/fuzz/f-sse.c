/*
 * f-sse: the SSE parser (lib/http.h) and the events of OpenAI's chat stream
 * (text/event-stream, lib/provider.h), on any bytes a model server may send.
 * The first byte says how many of the next bytes choose the sizes of
 * the pieces the reply arrives in.
 */
#include "fuzz.h"
#include <string.h>

#include "stream-check.h"

static int
feed(void *p, const char *b, size_t n, struct rp_err *err)
{
	return sse_feed(p, b, n, err);
}

static int
finish(void *p, struct rp_err *err)
{
	return sse_finish(p, err);
}

/* Parse DATA[0..SIZE) as pieces from SPLIT into E; -1 if it failed. */
static int
parse(struct events *e, const uint8_t *data, size_t size,
    const uint8_t *split, size_t nsplit)
{
	struct sse p;
	int rc;

	memset(e, 0, sizeof(*e));
	e->p = PROVIDER_OPENAI;
	sse_init(&p, MAX_LINE, on_event, e);
	rc = feed_all(&p, feed, finish, data, size, split, nsplit);
	sse_release(&p);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct events whole, pieces;
	const uint8_t *split = data;
	size_t nsplit = fuzz_byte(&data, &size) % 8 + 1;
	int rw, rp;

	nsplit = RP_MIN(nsplit, size);
	split = data;
	data += nsplit;
	size -= nsplit;
	rw = parse(&whole, data, size, NULL, 0);
	rp = parse(&pieces, data, size, split, nsplit > 0 ? nsplit : 1);
	FUZZ_CHECK(rw == rp);
	if (rw == 0) {
		FUZZ_CHECK(whole.n == pieces.n);
		FUZZ_CHECK(whole.log.len == pieces.log.len &&
		    memcmp(buf_str(&whole.log), buf_str(&pieces.log),
		    whole.log.len) == 0);
		FUZZ_CHECK(whole.done == pieces.done);
	}
	events_release(&whole);
	events_release(&pieces);
	return 0;
}
