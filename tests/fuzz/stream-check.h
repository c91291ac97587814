/*
 * stream-check.h: the SSE and NDJSON targets' common part.  The input
 * is fed to the parser twice, whole and in pieces whose sizes the input
 * itself chooses; both must deliver the same events (a parser may not
 * depend on where the network splits a reply).  Each event then goes
 * through provider_chat_event, as rag-answer reads a chat reply.
 */
#ifndef STREAM_CHECK_H
#define STREAM_CHECK_H

#include <string.h>

#include "rp.h"
#include "buf.h"
#include "http.h"
#include "provider.h"
#include "fuzz.h"

#define MAX_LINE	4096	/* a small cap, to reach its error path */

struct events {
	struct buf	 log;		/* each event's length and bytes */
	size_t		 n;
	enum provider	 p;
	struct buf	 answer;
	int		 done;
};

static int
on_event(void *arg, const char *data, size_t n, struct rp_err *err)
{
	struct events *e = arg;
	struct provider_event ev = { .text = &e->answer };

	(void)err;
	FUZZ_CHECK(data[n] == '\0');
	FUZZ_CHECK(n <= MAX_LINE);
	buf_add(&e->log, &n, sizeof(n));
	buf_add(&e->log, data, n);
	e->n++;
	ev.prompt_tokens = ev.completion_tokens = -1;
	if (provider_chat_event(e->p, "http://user:pw@127.0.0.1:1/v1/chat",
	    data, n, &ev, err) == 0) {
		e->done |= ev.done;
		FUZZ_CHECK(ev.prompt_tokens >= -1 &&
		    ev.completion_tokens >= -1);
	} else {
		FUZZ_CHECK(err->code == RP_EXIT_UNAVAIL);
		/* The URL is named without its user and password. */
		FUZZ_CHECK(strncmp(err->msg, "http://127.0.0.1:1/v1/chat: ",
		    28) == 0);
	}
	/* The reader goes on, to see every event. */
	return 0;
}

typedef int	(*feed_fn)(void *p, const char *b, size_t n,
		    struct rp_err *err);
typedef int	(*finish_fn)(void *p, struct rp_err *err);

/*
 * Feed DATA[0..SIZE) to parser P in pieces: whole when SPLIT is NULL,
 * else pieces of 1 to 16 bytes, sizes taken from SPLIT[0..NSPLIT) in
 * turn.  Returns 0, or -1 when the parser failed (a line too long).
 */
static int
feed_all(void *p, feed_fn feed, finish_fn finish, const uint8_t *data,
    size_t size, const uint8_t *split, size_t nsplit)
{
	struct rp_err err;
	size_t at = 0, k, i = 0;

	while (at < size) {
		k = split == NULL ? size - at :
		    (size_t)(1 + split[i++ % nsplit] % 16);
		k = RP_MIN(k, size - at);
		if (feed(p, (const char *)data + at, k, &err) != 0) {
			FUZZ_CHECK(err.code == RP_EXIT_DATA);
			return -1;
		}
		at += k;
	}
	if (finish(p, &err) != 0) {
		FUZZ_CHECK(err.code == RP_EXIT_DATA);
		return -1;
	}
	return 0;
}

static void
events_release(struct events *e)
{
	buf_release(&e->log);
	buf_release(&e->answer);
}

/* Parse DATA[0..SIZE) as pieces from SPLIT into E; -1 if it failed. */
typedef int	(*parse_fn)(struct events *e, const uint8_t *data, size_t size,
		    const uint8_t *split, size_t nsplit);

/*
 * The check of a stream target: the first byte says how many of the
 * next bytes choose the sizes of the pieces the rest arrives in, and
 * PARSE must give the same events fed whole and fed in pieces.
 */
static int
check_stream(const uint8_t *data, size_t size, parse_fn parse)
{
	struct events whole, pieces;
	const uint8_t *split;
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

#endif /* STREAM_CHECK_H */
