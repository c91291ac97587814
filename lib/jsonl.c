/* jsonl: capped line reading, JSON lines records, record fields. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp.h"
#include "buf.h"
#include "embed.h"
#include "utf8.h"
#include "jsonl.h"

#define BLOCK	(64 * 1024)

struct lines {
	int		 fd;
	char		*name;
	int		 delim;
	char		*blk;		/* bytes read but not yet returned */
	size_t		 blen, bpos;
	int		 eof;
	struct buf	 line;
	unsigned long	 lineno;
};

struct jsonl {
	struct lines	*lines;
	char		 where[256];
};

/*
 * cJSON allocates through these, so that running out of memory exits
 * with a message instead of handing NULL to code that cannot expect it.
 */
__attribute__((constructor)) static void
jsonl_hooks(void)
{
	cJSON_Hooks h = { xmalloc, free };

	cJSON_InitHooks(&h);
}

struct lines *
lines_open(FILE *f, const char *name, size_t max, int delim)
{
	struct lines *r = xcalloc(1, sizeof(*r));

	/*
	 * read(2), not fread(3): fread waits for a whole block, which
	 * would stall a program answering questions line by line.
	 */
	r->fd = fileno(f);
	r->name = xstrdup(name);
	r->delim = delim;
	r->blk = xmalloc(BLOCK);
	buf_init(&r->line, max);
	return r;
}

void
lines_close(struct lines *r)
{
	if (r == NULL)
		return;
	buf_release(&r->line);
	free(r->blk);
	free(r->name);
	free(r);
}

static int
fill(struct lines *r, struct rp_err *err)
{
	ssize_t n;

	do {
		n = read(r->fd, r->blk, BLOCK);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return rp_err_set(err, RP_EXIT_IO, "%s: read error: %s",
		    r->name, strerror(errno));
	if (n == 0)
		r->eof = 1;
	r->blen = (size_t)n;
	r->bpos = 0;
	return 0;
}

int
lines_next(struct lines *r, char **line, size_t *len, struct rp_err *err)
{
	int got = 0, toolong = 0, found = 0;
	const char *p, *q;
	size_t take;

	buf_reset(&r->line);
	while (!found) {
		if (r->bpos == r->blen) {
			if (r->eof)
				break;
			if (fill(r, err) != 0)
				return -1;
			if (r->eof)
				break;
		}
		p = r->blk + r->bpos;
		q = memchr(p, r->delim, r->blen - r->bpos);
		take = q != NULL ? (size_t)(q - p) : r->blen - r->bpos;
		if (!toolong && buf_add(&r->line, p, take) != 0)
			toolong = 1;
		r->bpos += take + (q != NULL);
		found = q != NULL;
		got = 1;
	}
	if (!got)
		return 0;
	r->lineno++;
	if (toolong) {
		buf_reset(&r->line);
		return rp_err_set(err, RP_EXIT_DATA,
		    "%s:%lu: line is longer than %zu bytes", r->name,
		    r->lineno, r->line.max);
	}
	if (r->lineno == 1 && r->line.len >= 3 &&
	    memcmp(r->line.data, "\xEF\xBB\xBF", 3) == 0) {
		memmove(r->line.data, r->line.data + 3, r->line.len - 2);
		r->line.len -= 3;
	}
	if (r->delim == '\n' && r->line.len > 0 &&
	    r->line.data[r->line.len - 1] == '\r')
		buf_truncate(&r->line, r->line.len - 1);
	if (r->line.data == NULL)
		buf_grow(&r->line, 0);
	*line = r->line.data;
	*len = r->line.len;
	return 1;
}

unsigned long
lines_lineno(const struct lines *r)
{
	return r->lineno;
}

const char *
lines_name(const struct lines *r)
{
	return r->name;
}

int
lines_ready(const struct lines *r, int ms)
{
	struct pollfd p = { .fd = r->fd, .events = POLLIN };
	int rc;

	if (r->eof || memchr(r->blk + r->bpos, r->delim, r->blen - r->bpos) !=
	    NULL)
		return 1;
	/* Readable, at its end, or failed: a read would not wait. */
	while ((rc = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	return rc != 0;
}

struct jsonl *
jsonl_open(FILE *f, const char *name, size_t max)
{
	struct jsonl *r = xcalloc(1, sizeof(*r));

	r->lines = lines_open(f, name, max, '\n');
	return r;
}

int
jsonl_ready(const struct jsonl *r, int ms)
{
	return lines_ready(r->lines, ms);
}

void
jsonl_close(struct jsonl *r)
{
	if (r == NULL)
		return;
	lines_close(r->lines);
	free(r);
}

static int
blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

/*
 * S[0..N) with each "\u0000" escape in a string made "\ufffd": cJSON
 * would end the string there, losing the rest of it without a word.
 * Into OUT; 1 if there was one, else 0 (OUT untouched).
 */
static int
no_nul_escapes(const char *s, size_t n, struct buf *out)
{
	const char *p = s, *end = s + n, *q;
	int instr = 0, found = 0;

	for (q = memchr(s, '\\', n); q != NULL; q = memchr(q + 1, '\\',
	    (size_t)(end - q - 1)))
		if (end - q >= 6 && memcmp(q, "\\u0000", 6) == 0)
			break;
	if (q == NULL)
		return 0;
	for (q = s; q < end; q++) {
		if (*q == '"')
			instr = !instr;
		else if (instr && *q == '\\' && q + 1 < end) {
			if (q + 6 <= end && memcmp(q, "\\u0000", 6) == 0) {
				buf_add(out, p, (size_t)(q - p));
				buf_adds(out, "\\ufffd");
				p = q + 6;
				found = 1;
				q += 5;
			} else
				q++;	/* the escaped character */
		}
	}
	buf_add(out, p, (size_t)(end - p));
	return found;
}

cJSON *
jsonl_parse(const char *s, size_t n, const char **why)
{
	struct buf fixed = BUF_INIT;
	const char *end = NULL;
	cJSON *o;

	/* Records are UTF-8 (ragpipe-format(5)): repair, as documents. */
	if (utf8_span(s, n) != n) {
		utf8_repair(&fixed, s, n);
		o = jsonl_parse(fixed.data, fixed.len, why);
		buf_release(&fixed);
		return o;
	}
	if (no_nul_escapes(s, n, &fixed)) {
		o = jsonl_parse(fixed.data, fixed.len, why);
		buf_release(&fixed);
		return o;
	}
	buf_release(&fixed);
	o = cJSON_ParseWithLengthOpts(s, n, &end, 0);
	if (o == NULL) {
		*why = "not valid JSON";
		return NULL;
	}
	if (end != NULL && !blank(end, n - (size_t)(end - s))) {
		cJSON_Delete(o);
		*why = "more than one JSON value on the line";
		return NULL;
	}
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		*why = "not a JSON object";
		return NULL;
	}
	return o;
}

int
jsonl_next(struct jsonl *r, cJSON **obj, struct rp_err *err)
{
	const char *why;
	char *line;
	size_t len;
	int rc;

	for (;;) {
		rc = lines_next(r->lines, &line, &len, err);
		snprintf(r->where, sizeof(r->where), "%s:%lu",
		    lines_name(r->lines), lines_lineno(r->lines));
		if (rc <= 0)
			return rc;
		if (!blank(line, len))
			break;
	}
	*obj = jsonl_parse(line, len, &why);
	if (*obj == NULL)
		return rp_err_set(err, RP_EXIT_DATA, "%s: %s", r->where, why);
	return 1;
}

const char *
jsonl_where(struct jsonl *r)
{
	return r->where;
}

unsigned long
jsonl_lineno(const struct jsonl *r)
{
	return lines_lineno(r->lines);
}

int
jsonl_write(FILE *f, const cJSON *obj)
{
	struct buf fixed = BUF_INIT;
	char *s;
	size_t n;
	int rc;

	s = cJSON_PrintUnformatted(obj);
	if (s == NULL)
		return -1;
	n = strlen(s);
	/*
	 * What we write is UTF-8 whatever came in (a file name, an
	 * argument): cJSON passes bytes through as they are.
	 */
	if (utf8_span(s, n) != n) {
		utf8_repair(&fixed, s, n);
		rc = rp_write(f, fixed.data, fixed.len);
		buf_release(&fixed);
	} else
		rc = rp_write(f, s, n);
	cJSON_free(s);
	if (rc == 0)
		rc = rp_write(f, "\n", 1);
	return rc;
}

const char *
jsonl_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
jsonl_num(const cJSON *o, const char *key, double *v)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(n))
		return 0;
	*v = n->valuedouble;
	return 1;
}

void
jsonl_set(cJSON *o, const char *key, cJSON *item)
{
	if (cJSON_GetObjectItemCaseSensitive(o, key) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, item);
	else
		cJSON_AddItemToObject(o, key, item);
}

void
jsonl_set_str(cJSON *o, const char *key, const char *v)
{
	jsonl_set(o, key, cJSON_CreateString(v));
}

void
jsonl_set_num(cJSON *o, const char *key, double v)
{
	jsonl_set(o, key, cJSON_CreateNumber(v));
}

int
jsonl_chunk_check(const cJSON *rec, long *nchunks, struct rp_err *err)
{
	const cJSON *v;
	double d;

	*nchunks = -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(rec, "nchunks")) != NULL) {
		if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) ||
		    v->valuedouble > 1e9 ||
		    v->valuedouble != (double)(long)v->valuedouble)
			return rp_err_set(err, RP_EXIT_DATA,
			    "'nchunks' is not a whole number");
		*nchunks = (long)v->valuedouble;
	}
	v = cJSON_GetObjectItemCaseSensitive(rec, "text");
	if (v == NULL && *nchunks == 0)
		return 0;
	if (v == NULL)
		return rp_err_set(err, RP_EXIT_DATA, "record has no 'text'");
	if (!cJSON_IsString(v))
		return rp_err_set(err, RP_EXIT_DATA, "'text' is not a string");
	if (jsonl_num(rec, "chunk", &d) == 0 &&
	    cJSON_GetObjectItemCaseSensitive(rec, "chunk") != NULL)
		return rp_err_set(err, RP_EXIT_DATA, "'chunk' is not a number");
	return 0;
}

int
jsonl_embedding(const cJSON *rec, float **out, const char **model,
    size_t *dim, struct rp_err *err)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(rec, "embedding");
	const char *b64 = jsonl_str(rec, "embedding_b64");
	const cJSON *x;
	float *v = NULL;
	size_t n = 0;

	*out = NULL;
	*model = jsonl_str(rec, "model");
	if (e == NULL && b64 == NULL) {
		*model = NULL;
		return 0;
	}
	if (*model == NULL || **model == '\0')
		return rp_err_set(err, RP_EXIT_DATA, "an embedding without a "
		    "'model'");
	if (e != NULL) {
		if (!cJSON_IsArray(e) || (n = (size_t)cJSON_GetArraySize(e)) ==
		    0 || n > EMBED_MAX_DIM)
			return rp_err_set(err, RP_EXIT_DATA, "'embedding' is "
			    "not an array of 1 to %d numbers", EMBED_MAX_DIM);
		v = xreallocarray(NULL, n, sizeof(*v));
		n = 0;
		cJSON_ArrayForEach(x, e) {
			if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) ||
			    fabs(x->valuedouble) > 3.4e38) {
				free(v);
				return rp_err_set(err, RP_EXIT_DATA, "'embedding' "
				    "value %zu is not a finite number", n + 1);
			}
			v[n++] = (float)x->valuedouble;
		}
	} else if ((v = embed_from_b64(b64, strlen(b64), &n, err)) == NULL) {
		return -1;
	} else if (n == 0 || n > EMBED_MAX_DIM) {
		free(v);
		return rp_err_set(err, RP_EXIT_DATA, "'embedding_b64' is not "
		    "1 to %d float32 values", EMBED_MAX_DIM);
	}
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i])) {
			free(v);
			return rp_err_set(err, RP_EXIT_DATA, "'embedding_b64' "
			    "value %zu is not a finite number", i + 1);
		}
	*dim = n;
	*out = v;
	return 0;
}
