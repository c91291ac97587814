/* rag-answer's model servers: the prompt, the stream, the citations. */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "utf8.h"
#include "answer.h"

#define ELLIPSIS	"\xe2\x80\xa6"

/* A request's streaming state: the parser and the answer it feeds. */
struct stream {
	struct llm		 l;
	const struct llm_api	*api;
	struct sse		 sse;
	struct ndjson		 nd;
	struct buf		 piece;		/* an event's text */
};

/* One event of the stream: its text goes on, its end is noted. */
static int
on_event(void *arg, const char *data, size_t n, struct rp_err *err)
{
	struct stream *s = arg;
	struct llm *l = &s->l;
	struct provider_event ev = { .text = &s->piece };
	char url[200];
	int rc;

	ev.prompt_tokens = l->a->prompt_tokens;
	ev.completion_tokens = l->a->completion_tokens;
	buf_reset(&s->piece);
	if (provider_chat_event(s->api->p, l->o->url, data, n, &ev, err) != 0)
		return -1;
	rc = llm_text(l, s->piece.data, s->piece.len, err);
	l->a->prompt_tokens = ev.prompt_tokens;
	l->a->completion_tokens = ev.completion_tokens;
	if (ev.done) {
		l->done = 1;
		if (ev.cut && rc == 0)
			rp_warn("%s: the answer was cut short by the model's "
			    "length limit", http_url_safe(l->o->url, url,
			    sizeof(url)));
	}
	return rc;
}

static int
on_data(void *arg, const char *p, size_t n, struct rp_err *err)
{
	struct stream *s = arg;
	char url[200];

	if ((s->api->sse ? sse_feed(&s->sse, p, n, err) :
	    ndjson_feed(&s->nd, p, n, err)) == 0)
		return 0;
	/* A line past the cap is the server's fault, not the input's. */
	if (err->code == RP_EXIT_DATA) {
		err->code = RP_EXIT_UNAVAIL;
		rp_err_prefix(err, "%s", http_url_safe(s->l.o->url, url,
		    sizeof(url)));
	}
	return -1;
}

/* S on one line, control characters as spaces. */
static void
add_line(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		buf_addc(b, (unsigned char)*s < 0x20 || *s == 0x7F ? ' ' : *s);
}

/* Text T[0..N) of a passage: its lines, without blank ones. */
static void
add_text(struct buf *b, const char *t, size_t n)
{
	int bol = 1;

	for (size_t i = 0; i < n; i++) {
		if (t[i] == '\n') {
			if (!bol)
				buf_addc(b, '\n');
			bol = 1;
			continue;
		}
		if (bol && (t[i] == ' ' || t[i] == '\t')) {
			/* A line of spaces only is blank. */
			size_t j = i;

			while (j < n && (t[j] == ' ' || t[j] == '\t'))
				j++;
			if (j == n || t[j] == '\n') {
				i = j - 1;
				continue;
			}
		}
		buf_addc(b, t[i]);
		bol = 0;
	}
	if (!bol)
		buf_addc(b, '\n');
}

/*
 * The passages of the prompt: each hit in rank order, as "[n] doc:line"
 * and its text, until the texts hold MAX_CONTEXT characters (code
 * points); the passage that reaches the budget is cut, at a space near
 * the end if there is one, and ends in an ellipsis.  Returns how many.
 */
static size_t
passages(const struct group *g, const struct opts *o, struct buf *out)
{
	size_t left = o->max_context, n = 0, len, chars, keep, at;
	const struct hit *h;
	const char *t;

	buf_adds(out, "Sources:\n");
	for (size_t i = 0; i < g->n && left > 0; i++) {
		h = &g->hits[i];
		t = h->text;
		len = strlen(t);
		buf_addf(out, "\n[%zu] ", i + 1);
		add_line(out, h->doc);
		if (h->line > 0)
			buf_addf(out, ":%lu", h->line);
		buf_addc(out, '\n');
		chars = utf8_count(t, len);
		if (chars <= left) {
			add_text(out, t, len);
			left -= chars;
		} else {
			keep = utf8_prefix(t, len, left);
			for (size_t k = keep; k > keep - keep / 5; k--)
				if (t[k - 1] == ' ' || t[k - 1] == '\n') {
					keep = k - 1;
					break;
				}
			at = out->len;
			add_text(out, t, keep);
			if (out->len > at)
				buf_truncate(out, out->len - 1);
			buf_adds(out, ELLIPSIS "\n");
			left = 0;
		}
		n++;
	}
	return n;
}

/*
 * The citations of A's text: each [n] (also [n, m]) with n a passage
 * number, once, in the order of the numbers.
 */
static void
citations(const struct group *g, size_t npass, struct answer *a)
{
	char *used = xcalloc(npass + 1, 1);
	const char *p = buf_str(&a->text), *q;
	unsigned long v[16];
	size_t nv;
	char *end;

	for (; (p = strchr(p, '[')) != NULL; p++) {
		/* Numbers, by commas and spaces, up to a ']': or nothing. */
		for (q = p + 1, nv = 0; *q >= '0' && *q <= '9' &&
		    nv < RP_NELEM(v); q = end) {
			v[nv++] = strtoul(q, &end, 10);
			while (*end == ' ' || *end == ',')
				end++;
		}
		if (*q != ']')
			continue;
		for (size_t i = 0; i < nv; i++)
			if (v[i] >= 1 && v[i] <= npass)
				used[v[i]] = 1;
	}
	for (size_t n = 1; n <= npass; n++) {
		if (!used[n])
			continue;
		a->cites = xreallocarray(a->cites, a->ncites + 1,
		    sizeof(*a->cites));
		a->cites[a->ncites].n = n;
		a->cites[a->ncites].hit = n - 1;
		a->cites[a->ncites++].line = g->hits[n - 1].line;
	}
	free(used);
}

int
llm_text(struct llm *l, const char *p, size_t n, struct rp_err *err)
{
	struct buf out = BUF_INIT;
	char url[200];

	/* An answer starts at its first word. */
	if (l->a->text.len == 0)
		while (n > 0 && (*p == ' ' || *p == '\n' || *p == '\t' ||
		    *p == '\r'))
			p++, n--;
	if (n == 0)
		return 0;
	/* A server that never stops talking is stopped. */
	if (buf_add(&l->a->text, p, n) != 0)
		return rp_err_set(err, RP_EXIT_UNAVAIL, "%s: the answer is "
		    "longer than %zu bytes; stopped", http_url_safe(l->o->url,
		    url, sizeof(url)), l->a->text.max);
	if (l->o->json)
		return 0;
	/* Nothing the model says may steer the terminal. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r')
			continue;
		buf_addc(&out, (c < 0x20 && c != '\n' && c != '\t') ||
		    c == 0x7F ? '?' : (char)c);
	}
	if (out.len > 0) {
		rp_write(stdout, out.data, out.len);
		rp_flush(stdout);
		l->a->streamed = 1;
		l->at_bol = out.data[out.len - 1] == '\n';
	}
	buf_release(&out);
	if (rp_stdout_failed()) {
		l->stopped = 1;
		return rp_err_set(err, RP_EXIT_OK, "standard output closed");
	}
	return 0;
}

/* Drop the answer's trailing spaces. */
static void
trim(struct buf *b)
{
	size_t n = b->len;

	while (n > 0 && (b->data[n - 1] == ' ' || b->data[n - 1] == '\n' ||
	    b->data[n - 1] == '\t' || b->data[n - 1] == '\r'))
		n--;
	if (n < b->len)
		buf_truncate(b, n);
}

/* Make the request, and read the stream into S. */
static int
ask(const struct opts *o, const struct llm_api *api, const struct buf *body,
    struct stream *s, struct rp_err *err)
{
	struct http_req req = { 0 };
	struct http_resp resp = { 0 };
	char msg[300];
	int rc;

	req.url = o->url;
	req.body = body->data;
	req.len = body->len;
	req.api_key = o->api_key;
	req.on_data = on_data;
	req.arg = s;
	if ((rc = http_post(o->http, &req, &resp, err)) == 0) {
		if (resp.status / 100 != 2)
			rc = provider_error(o->url, &resp, msg, sizeof(msg),
			    err);
		else if ((api->sse ? sse_finish(&s->sse, err) :
		    ndjson_finish(&s->nd, err)) != 0)
			rc = -1;
		else if (!s->l.done)
			rc = rp_err_set(err, RP_EXIT_UNAVAIL, "%s: the stream "
			    "ended before its last event", http_url_safe(o->url,
			    msg, sizeof(msg)));
	}
	http_resp_release(&resp);
	return rc;
}

int
llm_answer(const struct group *g, const struct opts *o,
    const struct llm_api *api, struct answer *a)
{
	struct buf user = BUF_INIT, body = BUF_INIT;
	struct stream s;
	struct rp_err err;
	int rc;

	a->model = o->model;
	a->text.max = LLM_MAX_ANSWER;
	a->prompt_tokens = a->completion_tokens = -1;
	if (g->n == 0)
		return RP_EXIT_NOANSWER;
	a->passages = passages(g, o, &user);
	buf_adds(&user, "\nQuestion: ");
	add_line(&user, g->query != NULL ? g->query : "");
	buf_addc(&user, '\n');
	api->body(o, o->system, buf_str(&user), &body);
	memset(&s, 0, sizeof(s));
	s.l.o = o;
	s.l.a = a;
	s.l.at_bol = 1;
	s.api = api;
	sse_init(&s.sse, 0, on_event, &s);
	ndjson_init(&s.nd, 0, on_event, &s);
	rc = ask(o, api, &body, &s, &err);
	sse_release(&s.sse);
	ndjson_release(&s.nd);
	buf_release(&s.piece);
	buf_release(&user);
	buf_release(&body);
	if (a->streamed && !s.l.at_bol && !rp_stdout_failed())
		rp_write(stdout, "\n", 1);
	trim(&a->text);
	if (rc != 0) {
		if (s.l.stopped)
			return RP_EXIT_OK;
		rp_report(&err, NULL);
		return err.code != RP_EXIT_OK ? (int)err.code : RP_EXIT_FAIL;
	}
	citations(g, a->passages, a);
	return a->ncites > 0 ? 0 : RP_EXIT_NOANSWER;
}
