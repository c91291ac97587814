/* embed: the built-in hashed embedder; vectors as JSON and base64. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "buf.h"
#include "analyze.h"
#include "embed.h"
#include "stem.h"
#include "utf8.h"
#include "vec.h"

#define MAX_WORD	64	/* bytes of a word that count */

/*
 * Feature kinds and their weights.  They are part of the model: change
 * one and the version in EMBED_LOCAL_PREFIX must change too.
 */
enum kind { K_WORD = 'w', K_PAIR = 'p', K_GRAM = 'g', K_CJK = 'c' };
#define W_WORD	1.0f
#define W_PAIR	0.5f
#define W_GRAM	0.25f
#define W_CJK	1.0f
#define GRAM_MIN	3
#define GRAM_MAX	5

/* The features of one text: an open-addressing table of counts. */
struct feats {
	uint64_t	*key;	/* 0: empty slot */
	float		*count;
	float		*weight;
	size_t		 cap, n;
};

static uint64_t
mix(uint64_t h)
{
	/* The finaliser of MurmurHash3: every input bit moves every output. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t
hash(int kind, const char *a, size_t an, const char *b, size_t bn)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	h = (h ^ (unsigned char)kind) * 0x100000001b3ULL;
	for (size_t i = 0; i < an; i++)
		h = (h ^ (unsigned char)a[i]) * 0x100000001b3ULL;
	if (b != NULL) {
		h = (h ^ 0xff) * 0x100000001b3ULL;
		for (size_t i = 0; i < bn; i++)
			h = (h ^ (unsigned char)b[i]) * 0x100000001b3ULL;
	}
	h = mix(h);
	return h != 0 ? h : 1;
}

#define FEATS_MIN	1024	/* slots of a first table */
#define WS_SIZES	24	/* tables kept: FEATS_MIN << 0 .. 23 */

/*
 * Empty tables kept between texts, one of each size.  A table is
 * emptied slot by slot as it is read (its slots hold nothing else), so
 * the next text gets it zeroed without a memset of it all.
 */
struct embed_ws {
	struct feats	 spare[WS_SIZES];
};

static int
size_class(size_t cap)
{
	int c = 0;

	while (c < WS_SIZES && (size_t)FEATS_MIN << c < cap)
		c++;
	return c;	/* WS_SIZES: too big to keep */
}

/* A zeroed table of CAP slots, from WS when it has one. */
static void
table(struct embed_ws *ws, struct feats *g, size_t cap)
{
	int c = size_class(cap);

	if (ws != NULL && c < WS_SIZES && ws->spare[c].key != NULL) {
		*g = ws->spare[c];
		ws->spare[c].key = NULL;
		return;
	}
	g->cap = cap;
	g->key = xcalloc(cap, sizeof(*g->key));
	g->count = xcalloc(cap, sizeof(*g->count));
	g->weight = xcalloc(cap, sizeof(*g->weight));
}

/* Give emptied table F back to WS (or free it). */
static void
untable(struct embed_ws *ws, struct feats *f)
{
	int c = size_class(f->cap);

	if (f->key == NULL)
		return;
	f->n = 0;
	if (ws != NULL && c < WS_SIZES && ws->spare[c].key == NULL) {
		ws->spare[c] = *f;
		return;
	}
	free(f->key);
	free(f->count);
	free(f->weight);
}

static void
grow(struct feats *f, struct embed_ws *ws)
{
	struct feats g = { 0 };

	table(ws, &g, f->cap != 0 ? f->cap * 2 : FEATS_MIN);
	for (size_t i = 0; i < f->cap; i++) {
		size_t j;

		if (f->key[i] == 0)
			continue;
		for (j = f->key[i] & (g.cap - 1); g.key[j] != 0;
		    j = (j + 1) & (g.cap - 1))
			;
		g.key[j] = f->key[i];
		g.count[j] = f->count[i];
		g.weight[j] = f->weight[i];
		f->key[i] = 0;
		f->count[i] = f->weight[i] = 0;
	}
	g.n = f->n;
	untable(ws, f);
	*f = g;
}

/* A text being embedded. */
struct text {
	struct feats	 f;
	struct embed_ws	*ws;
	char		 prev[MAX_WORD];	/* the last stem, for pairs */
	size_t		 prevlen;
	float		 prevw;			/* its weight */
	embed_weight_fn	 weight;
	void		*arg;
};

static void
add(struct text *t, uint64_t h, float w)
{
	struct feats *f = &t->f;
	size_t j;

	if (2 * (f->n + 1) > f->cap)
		grow(f, t->ws);
	for (j = h & (f->cap - 1); f->key[j] != 0 && f->key[j] != h;
	    j = (j + 1) & (f->cap - 1))
		;
	if (f->key[j] == 0) {
		f->key[j] = h;
		f->weight[j] = w;
		f->n++;
	}
	f->count[j] += 1;
}

/* Lower-case the letters of the scripts with simple case pairs. */
static int32_t
lower(int32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c + 32;
	if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) ||	/* Latin-1 */
	    (c >= 0x391 && c <= 0x3AB && c != 0x3A2) ||	/* Greek */
	    (c >= 0x410 && c <= 0x42F))			/* Cyrillic */
		return c + 32;
	if (c >= 0x400 && c <= 0x40F)
		return c + 80;
	return c;
}

static void
add_word(struct text *t, const char *w, size_t n)
{
	char s[MAX_WORD], g[MAX_WORD + 2];
	size_t sn, gn, i, len;

	float x = 1;

	if (analyze_is_stopword(w, n))
		return;
	memcpy(s, w, n);
	sn = stem_porter(s, n);
	if (t->weight != NULL)
		x = t->weight(t->arg, s, sn);
	add(t, hash(K_WORD, s, sn, NULL, 0), W_WORD * x);
	if (t->prevlen > 0)
		add(t, hash(K_PAIR, t->prev, t->prevlen, s, sn), W_PAIR *
		    RP_MIN(x, t->prevw));
	memcpy(t->prev, s, sn);
	t->prevlen = sn;
	t->prevw = x;
	if (w[0] >= '0' && w[0] <= '9')
		return;		/* numbers have no morphology */
	g[0] = '^';
	memcpy(g + 1, w, n);
	g[n + 1] = '$';
	gn = n + 2;
	for (len = GRAM_MIN; len <= GRAM_MAX && len <= gn; len++)
		for (i = 0; i + len <= gn; i++)
			add(t, hash(K_GRAM, g + i, len, NULL, 0),
			    W_GRAM * x);
}

static float
cjk_weight(struct text *t, const char *s, size_t n)
{
	return t->weight != NULL ? t->weight(t->arg, s, n) : 1;
}

/* Walk TEXT: words, and CJK runs as character pairs. */
static void
features(struct text *t, const char *text, size_t n)
{
	char w[MAX_WORD + 4];
	size_t i = 0, wn = 0, prev = 0, prevlen = 0, run = 0;
	int32_t cp;
	int len;

	while (i <= n) {
		if (i < n)
			len = utf8_decode(text + i, n - i, &cp);
		else
			len = 1, cp = ' ';
		if (i < n && analyze_is_word(cp) && !analyze_is_cjk(cp)) {
			char e[4];
			int el = utf8_encode(lower(cp), e);

			if (wn + (size_t)el <= MAX_WORD) {
				memcpy(w + wn, e, (size_t)el);
				wn += (size_t)el;
			}
		} else if (wn > 0) {
			add_word(t, w, wn);
			wn = 0;
		}
		if (i < n && analyze_is_cjk(cp)) {
			if (run > 0)
				add(t, hash(K_CJK, text + prev, prevlen,
				    text + i, (size_t)len), W_CJK *
				    cjk_weight(t, text + prev, prevlen +
				    (size_t)len));
			run++;
			prev = i;
			prevlen = (size_t)len;
		} else {
			if (run == 1)
				add(t, hash(K_CJK, text + prev, prevlen,
				    NULL, 0), W_CJK * cjk_weight(t, text + prev,
				    prevlen));
			run = 0;
		}
		i += (size_t)len;
	}
}

int
embed_local_model(const char *model, size_t *dim)
{
	size_t plen = strlen(EMBED_LOCAL_PREFIX);
	char *end;
	unsigned long d;

	if (strncmp(model, EMBED_LOCAL_PREFIX, plen) != 0 ||
	    model[plen] < '1' || model[plen] > '9')
		return 0;
	d = strtoul(model + plen, &end, 10);
	if (*end != '\0' || d < 8 || d > EMBED_MAX_DIM)
		return 0;
	*dim = d;
	return 1;
}

static void
embed(struct embed_ws *ws, const char *text, size_t n, float *v,
    size_t dim, embed_weight_fn weight, void *arg)
{
	struct text t;
	uint64_t h;
	float x;

	memset(&t, 0, sizeof(t));
	t.ws = ws;
	t.weight = weight;
	t.arg = arg;
	memset(v, 0, dim * sizeof(*v));
	features(&t, text, n);
	for (size_t i = 0; i < t.f.cap; i++) {
		if ((h = t.f.key[i]) == 0)
			continue;
		/* Most features occur once: 1 + log 1 is 1, exactly. */
		x = t.f.weight[i];
		if (t.f.count[i] != 1)
			x *= 1.0f + logf(t.f.count[i]);
		/* The low bit signs it; the rest picks the dimension. */
		v[(h >> 1) % dim] += (h & 1) ? x : -x;
		t.f.key[i] = 0;
		t.f.count[i] = t.f.weight[i] = 0;
	}
	untable(ws, &t.f);
	vec_normalize(v, dim);
}

void
embed_local(const char *text, size_t n, float *v, size_t dim)
{
	embed(NULL, text, n, v, dim, NULL, NULL);
}

void
embed_local_query(const char *text, size_t n, float *v, size_t dim,
    embed_weight_fn weight, void *arg)
{
	embed(NULL, text, n, v, dim, weight, arg);
}

struct embed_ws *
embed_ws_new(void)
{
	return xcalloc(1, sizeof(struct embed_ws));
}

void
embed_ws_free(struct embed_ws *ws)
{
	if (ws == NULL)
		return;
	for (int c = 0; c < WS_SIZES; c++) {
		free(ws->spare[c].key);
		free(ws->spare[c].count);
		free(ws->spare[c].weight);
	}
	free(ws);
}

void
embed_local_ws(struct embed_ws *ws, const char *text, size_t n, float *v,
    size_t dim)
{
	embed(ws, text, n, v, dim, NULL, NULL);
}

void
embed_json(struct buf *out, const float *v, size_t dim)
{
	char s[32];

	buf_addc(out, '[');
	for (size_t i = 0; i < dim; i++) {
		/* The fewest digits that read back as the same float. */
		for (int p = 6; p <= 9; p++) {
			snprintf(s, sizeof(s), "%.*g", p, (double)v[i]);
			if (strtof(s, NULL) == v[i])
				break;
		}
		if (!isfinite(v[i]))
			memcpy(s, "0", 2);
		if (i > 0)
			buf_addc(out, ',');
		buf_adds(out, s);
	}
	buf_addc(out, ']');
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
embed_b64(struct buf *out, const float *v, size_t dim)
{
	unsigned char b[4 * 3];
	char d[16];
	size_t n = dim * 4, i, j, take, nd;
	uint32_t u, x;

	/* Whole groups of three floats make twelve bytes, sixteen digits. */
	for (i = 0; i < n; i += take) {
		take = RP_MIN((size_t)12, n - i);
		for (j = 0; j < take; j += 4) {
			memcpy(&u, &v[(i + j) / 4], 4);
			b[j] = (unsigned char)u;
			b[j + 1] = (unsigned char)(u >> 8);
			b[j + 2] = (unsigned char)(u >> 16);
			b[j + 3] = (unsigned char)(u >> 24);
		}
		for (j = 0, nd = 0; j < take; j += 3) {
			x = (uint32_t)b[j] << 16;
			if (j + 1 < take)
				x |= (uint32_t)b[j + 1] << 8;
			if (j + 2 < take)
				x |= b[j + 2];
			d[nd++] = b64[x >> 18];
			d[nd++] = b64[(x >> 12) & 63];
			d[nd++] = j + 1 < take ? b64[(x >> 6) & 63] : '=';
			d[nd++] = j + 2 < take ? b64[x & 63] : '=';
		}
		buf_add(out, d, nd);
	}
}

/* Each base64 digit's value plus one; 0 for any other byte. */
static const unsigned char b64dec[256] = {
	['A'] = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
	['a'] = 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52,
	['0'] = 53, 54, 55, 56, 57, 58, 59, 60, 61, 62,
	['+'] = 63, ['/'] = 64,
};

float *
embed_from_b64(const char *s, size_t n, size_t *dim, struct rp_err *err)
{
	unsigned char *bytes;
	size_t i, nb = 0, pad = 0;
	uint32_t x, u;
	float *v;
	int c;

	while (n > 0 && s[n - 1] == '=' && pad < 2)
		n--, pad++;
	if ((n + pad) % 4 != 0 || (n + pad) == 0)
		goto bad;
	bytes = xmalloc(n / 4 * 3 + 3);
	for (i = 0, x = 0; i < n; i++) {
		if ((c = b64dec[(unsigned char)s[i]] - 1) < 0) {
			free(bytes);
			goto bad;
		}
		x = x << 6 | (uint32_t)c;
		if (i % 4 == 3) {
			bytes[nb++] = (unsigned char)(x >> 16);
			bytes[nb++] = (unsigned char)(x >> 8);
			bytes[nb++] = (unsigned char)x;
			x = 0;
		}
	}
	if (n % 4 == 2)
		bytes[nb++] = (unsigned char)(x >> 4);
	else if (n % 4 == 3) {
		bytes[nb++] = (unsigned char)(x >> 10);
		bytes[nb++] = (unsigned char)(x >> 2);
	}
	if (nb % 4 != 0 || nb == 0) {
		free(bytes);
		rp_err_set(err, RP_EXIT_DATA, "base64 embedding is %zu bytes, "
		    "not whole float32 values", nb);
		return NULL;
	}
	*dim = nb / 4;
	v = xreallocarray(NULL, *dim, sizeof(*v));
	for (i = 0; i < *dim; i++) {
		u = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 |
		    (uint32_t)bytes[4 * i + 2] << 16 |
		    (uint32_t)bytes[4 * i + 3] << 24;
		memcpy(&v[i], &u, 4);
	}
	free(bytes);
	return v;
bad:
	rp_err_set(err, RP_EXIT_DATA, "embedding is not valid base64");
	return NULL;
}
