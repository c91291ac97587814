/* rag-embed's remote providers: batches to a model server, in parallel. */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "store.h"
#include "vec.h"
#include "embedder.h"

/*
 * An input the model finds too long is split in two halves, each
 * embedded (and split again if need be), at most MAX_DEPTH times; its
 * vector is the mean of the pieces' L2-normalised vectors weighted by
 * their length in bytes, normalised again (rag-embed(1)).
 */
#define MAX_DEPTH	6
/* Bytes of text in one request, at most, below any server's limit. */
#define REQ_BYTES	((size_t)256 << 10)

enum { P_PENDING, P_DONE, P_DROPPED };

/* A text to send: a whole record's text, or a piece of a long one. */
struct piece {
	size_t		 item;
	size_t		 off, len;	/* bytes of the item's text */
	int		 depth;		/* times split */
	int		 alone;		/* send it in a request of its own */
	int		 state;
	float		*v;
	size_t		 dim;
};

struct pieces {
	struct piece	*v;
	size_t		 n;
};

/* One request of a round: pieces at[0..n) (indices into pieces). */
struct request {
	size_t		*at;
	size_t		 n;
	struct buf	 body;
};

static void
piece_add(struct pieces *ps, size_t item, size_t off, size_t len, int depth)
{
	ps->v = xreallocarray(ps->v, ps->n + 1, sizeof(*ps->v));
	ps->v[ps->n++] = (struct piece){ .item = item, .off = off,
	    .len = len, .depth = depth, .state = P_PENDING };
}

/* The service failed: report it at ITEM's record, and read no more. */
static void
fatal(struct run *r, const struct item *it, const struct rp_err *err)
{
	struct rp_err e = *err;

	/* Once is enough: the other requests of the round failed alike. */
	if (r->stop)
		return;
	rp_err_prefix(&e, "%s", it->where);
	if (e.code == RP_EXIT_OK)
		e.code = RP_EXIT_UNAVAIL;
	rp_report(&e, &r->status);
	r->stop = 1;
}

/* Look the window's texts up in the store's cache. */
static void
from_cache(struct run *r)
{
	unsigned char h[STORE_HASH_LEN];
	struct rp_err err;
	struct item *it;
	int rc;

	for (size_t i = 0; r->store != NULL && i < r->n; i++) {
		it = &r->items[i];
		if (it->rec == NULL || it->failed)
			continue;
		store_text_hash(r->doc_prefix, it->text, it->tlen, h);
		rc = store_cache_get(r->store, r->model, r->dimensions, h,
		    &it->v, &it->dim, &err);
		if (rc < 0) {
			/* The cache saves money; losing it loses no data. */
			rp_report(&err, &r->status);
			store_close(r->store);
			r->store = NULL;
			return;
		}
		if (rc == 1 && ((r->run_dim != 0 && it->dim != r->run_dim) ||
		    (r->dimensions != 0 && it->dim != r->dimensions))) {
			free(it->v);
			it->v = NULL;
			continue;
		}
		if (rc == 1) {
			it->cached = 1;
			r->run_dim = it->dim;
		}
	}
}

/* Where to cut S[0..N) in two: near the middle, at a space if any. */
static size_t
cut(const char *s, size_t n)
{
	size_t mid = n / 2, k;

	for (size_t d = 0; d <= n / 4; d++) {
		k = mid + d;
		if (k < n && (s[k] == ' ' || s[k] == '\n'))
			return k;
		k = mid - d;
		if (k > 0 && (s[k] == ' ' || s[k] == '\n'))
			return k;
	}
	/* No space near the middle: a character boundary. */
	for (k = mid; k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80; k--)
		continue;
	return k;
}

/* Group the pending pieces into requests. */
static struct request *
plan(struct run *r, struct pieces *ps, size_t *nreq)
{
	struct request *q = NULL;
	size_t n = 0, bytes = 0;
	struct piece *p;
	int open = 0;

	for (size_t i = 0; i < ps->n; i++) {
		p = &ps->v[i];
		if (p->state != P_PENDING)
			continue;
		if (r->items[p->item].failed) {
			p->state = P_DROPPED;
			continue;
		}
		if (!open || p->alone || q[n - 1].n == r->batch ||
		    (bytes + p->len > REQ_BYTES && q[n - 1].n > 0) ||
		    ps->v[q[n - 1].at[0]].alone) {
			q = xreallocarray(q, n + 1, sizeof(*q));
			q[n].at = xreallocarray(NULL, r->batch,
			    sizeof(*q[n].at));
			q[n].n = 0;
			buf_init(&q[n].body, 0);
			n++;
			open = 1;
			bytes = 0;
		}
		q[n - 1].at[q[n - 1].n++] = i;
		bytes += p->len;
	}
	*nreq = n;
	return q;
}

/* The body of request Q: the prefix before each piece's text. */
static void
body(struct run *r, struct pieces *ps, struct request *q)
{
	const char **texts = xcalloc(q->n, sizeof(*texts));
	size_t *lens = xcalloc(q->n, sizeof(*lens));
	struct buf t = BUF_INIT;
	size_t plen = strlen(r->doc_prefix), *offs;
	const struct piece *p;

	offs = xcalloc(q->n, sizeof(*offs));
	for (size_t i = 0; i < q->n; i++) {
		p = &ps->v[q->at[i]];
		offs[i] = t.len;
		buf_add(&t, r->doc_prefix, plen);
		buf_add(&t, r->items[p->item].text + p->off, p->len);
		lens[i] = plen + p->len;
	}
	for (size_t i = 0; i < q->n; i++)
		texts[i] = t.data + offs[i];
	provider_embed_body(&r->pe, &q->body, texts, lens, q->n);
	buf_release(&t);
	free(offs);
	free(texts);
	free(lens);
}

/* Piece I was refused as too long: split it, or give its record up. */
static void
too_long(struct run *r, struct pieces *ps, size_t i, const char *msg)
{
	struct piece *p = &ps->v[i];
	struct item *it = &r->items[p->item];
	const char *s = it->text + p->off;
	size_t k = p->len > 1 ? cut(s, p->len) : 0;
	struct rp_err err;

	if (it->failed)
		return;		/* another piece of it said so already */
	if (p->depth >= MAX_DEPTH || k == 0 || k >= p->len) {
		rp_err_set(&err, RP_EXIT_DATA, "%s: too long for the model, "
		    "even in %d pieces: %s", it->where, 1 << p->depth, msg);
		item_fail(r, it, &err);
		return;
	}
	piece_add(ps, p->item, ps->v[i].off + k, ps->v[i].len - k,
	    ps->v[i].depth + 1);
	p = &ps->v[i];		/* piece_add may have moved it */
	p->len = k;
	p->depth++;
	p->alone = 0;
}

/*
 * Handle the outcome of request Q.  Returns 1 when the server refused
 * the text Q sent alone (ERR says why; the caller decides whether that
 * is the record's fault), 2 when it sent vectors, else 0.
 */
static int
outcome(struct run *r, struct pieces *ps, struct request *q,
    struct http_resp *resp, int rc, struct rp_err *err)
{
	struct item *first = &r->items[ps->v[q->at[0]].item];
	float **vecs;
	size_t dim;
	char msg[400];
	int code;

	if (rc != 0) {
		fatal(r, first, err);
		return 0;
	}
	if (resp->status / 100 == 2) {
		vecs = xcalloc(q->n, sizeof(*vecs));
		if (provider_embed_parse(&r->pe, resp->body.data,
		    resp->body.len, q->n, vecs, &dim, err) != 0) {
			fatal(r, first, err);
			free(vecs);
			return 0;
		}
		for (size_t i = 0; i < q->n; i++) {
			ps->v[q->at[i]].v = vecs[i];
			ps->v[q->at[i]].dim = dim;
			ps->v[q->at[i]].state = P_DONE;
		}
		free(vecs);
		return 2;
	}
	provider_error(r->pe.url, resp, msg, sizeof(msg), err);
	code = provider_status_code(resp->status);
	if (provider_too_long(resp->status, resp->body.data, resp->body.len))
		code = RP_EXIT_DATA;
	if (code != RP_EXIT_DATA) {
		fatal(r, first, err);
		return 0;
	}
	if (q->n > 1) {
		/* Which input was it?  Each goes alone next round. */
		for (size_t i = 0; i < q->n; i++)
			ps->v[q->at[i]].alone = 1;
	} else if (provider_too_long(resp->status, resp->body.data,
	    resp->body.len))
		too_long(r, ps, q->at[0], http_error_message(resp->body.data,
		    resp->body.len, msg, sizeof(msg)));
	else if (!first->failed)
		return 1;
	return 0;
}

/*
 * The texts refused alone in a round (OUT[j] == 1, with ERRS[j]) are
 * the records' fault, and reported as bad; unless every text of the
 * round was refused, and for the same reason: then the request is at
 * fault (a model that takes no --dimensions, say), and the run stops.
 */
static void
refused(struct run *r, struct pieces *ps, struct request *q, size_t nq,
    const int *out, struct rp_err *errs)
{
	size_t n = 0, same = 0, first = nq, len;
	struct rp_err e;
	struct item *it;

	for (size_t j = 0; j < nq; j++) {
		if (out[j] != 1)
			continue;
		if (first == nq)
			first = j;
		n++;
		same += strcmp(errs[j].msg, errs[first].msg) == 0;
	}
	if (n >= 3 && same == n && n == nq) {
		e = errs[first];
		e.code = RP_EXIT_UNAVAIL;
		len = strlen(e.msg);
		snprintf(e.msg + len, sizeof(e.msg) - len, " (every text, "
		    "alike)");
		fatal(r, &r->items[ps->v[q[first].at[0]].item], &e);
		return;
	}
	for (size_t j = 0; j < nq; j++) {
		if (out[j] != 1)
			continue;
		it = &r->items[ps->v[q[j].at[0]].item];
		rp_err_prefix(&errs[j], "%s", it->where);
		item_fail(r, it, &errs[j]);
	}
}

/* Send the pending pieces; each request its own retries. */
static void
send_round(struct run *r, struct pieces *ps)
{
	struct http_req *reqs;
	struct http_resp *resps;
	struct rp_err *errs;
	struct request *q;
	size_t nq;
	int *rcs, *out;

	if ((q = plan(r, ps, &nq)) == NULL)
		return;
	out = xcalloc(nq, sizeof(*out));
	reqs = xcalloc(nq, sizeof(*reqs));
	resps = xcalloc(nq, sizeof(*resps));
	errs = xcalloc(nq, sizeof(*errs));
	rcs = xcalloc(nq, sizeof(*rcs));
	for (size_t j = 0; j < nq; j++) {
		body(r, ps, &q[j]);
		reqs[j].url = r->pe.url;
		reqs[j].body = q[j].body.data;
		reqs[j].len = q[j].body.len;
		reqs[j].api_key = r->pe.api_key;
		reqs[j].max_response = provider_embed_reply_max(q[j].n);
	}
	http_post_many(r->http, reqs, resps, rcs, errs, nq);
	r->requests += (long)nq;
	for (size_t j = 0; j < nq; j++) {
		out[j] = outcome(r, ps, &q[j], &resps[j], rcs[j], &errs[j]);
		http_resp_release(&resps[j]);
		buf_release(&q[j].body);
	}
	refused(r, ps, q, nq, out, errs);
	for (size_t j = 0; j < nq; j++)
		free(q[j].at);
	free(out);
	free(q);
	free(reqs);
	free(resps);
	free(errs);
	free(rcs);
}

/* Check a vector's size against the run's; 0, or -1 when the run stops. */
static int
check_dim(struct run *r, struct item *it, size_t dim)
{
	struct rp_err err;
	char url[200];

	http_url_safe(r->pe.url, url, sizeof(url));
	if (r->dimensions != 0 && dim != r->dimensions)
		rp_err_set(&err, RP_EXIT_UNAVAIL, "%s: the server sent %zu "
		    "dimensions, not the %zu asked for (does the model take "
		    "--dimensions?)", url, dim, r->dimensions);
	else if (r->run_dim != 0 && dim != r->run_dim)
		rp_err_set(&err, RP_EXIT_UNAVAIL, "%s: the server sent %zu "
		    "dimensions, and %zu before", url, dim, r->run_dim);
	else {
		r->run_dim = dim;
		return 0;
	}
	fatal(r, it, &err);
	return -1;
}

/*
 * Each item's vector from its pieces, for the items whose pieces all
 * came back; the others are lost (the service failed before them).
 */
static void
combine(struct run *r, struct pieces *ps)
{
	char *incomplete = xcalloc(RP_MAX(r->n, (size_t)1), 1);
	char *split = xcalloc(RP_MAX(r->n, (size_t)1), 1);
	struct piece *p;
	struct item *it;

	for (size_t i = 0; i < ps->n; i++) {
		if (ps->v[i].state != P_DONE)
			incomplete[ps->v[i].item] = 1;
		if (ps->v[i].depth > 0)
			split[ps->v[i].item] = 1;
	}
	for (size_t i = 0; i < ps->n; i++) {
		p = &ps->v[i];
		it = &r->items[p->item];
		if (incomplete[p->item] || it->failed ||
		    check_dim(r, it, p->dim) != 0) {
			incomplete[p->item] = 1;
			continue;
		}
		if (p->depth == 0) {
			it->v = p->v;
			it->dim = p->dim;
			p->v = NULL;
			continue;
		}
		if (it->v == NULL) {
			it->v = xcalloc(p->dim, sizeof(float));
			it->dim = p->dim;
		}
		vec_normalize(p->v, p->dim);
		for (size_t d = 0; d < p->dim; d++)
			it->v[d] += (float)p->len * p->v[d];
	}
	for (size_t i = 0; i < r->n; i++) {
		it = &r->items[i];
		if (it->rec == NULL || it->failed || it->cached)
			continue;
		if (incomplete[i] || it->v == NULL) {
			free(it->v);
			it->v = NULL;
			it->failed = 1;
			r->lost++;
		} else if (split[i])
			vec_normalize(it->v, it->dim);
	}
	for (size_t i = 0; i < ps->n; i++)
		free(ps->v[i].v);
	free(incomplete);
	free(split);
}

void
remote_embed(struct run *r)
{
	struct pieces ps = { NULL, 0 };
	struct rp_err err;
	struct item *it;
	int pending;

	from_cache(r);
	for (size_t i = 0; i < r->n; i++) {
		it = &r->items[i];
		if (it->rec == NULL || it->failed || it->cached)
			continue;
		if (it->tlen == 0) {
			rp_err_set(&err, RP_EXIT_DATA, "%s: 'text' is empty",
			    it->where);
			item_fail(r, it, &err);
			continue;
		}
		piece_add(&ps, i, 0, it->tlen, 0);
	}
	do {
		send_round(r, &ps);
		pending = 0;
		for (size_t i = 0; i < ps.n; i++)
			if (ps.v[i].state == P_PENDING &&
			    !r->items[ps.v[i].item].failed)
				pending = 1;
	} while (pending && !r->stop);
	combine(r, &ps);
	free(ps.v);
}
