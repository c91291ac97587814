/* t-embed: the local embedder, and vectors as JSON and base64. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "buf.h"
#include "embed.h"
#include "vec.h"
#include "tap.h"

static float
cosine(const char *a, const char *b, size_t dim)
{
	float *x = xcalloc(dim, sizeof(float)), *y = xcalloc(dim, sizeof(float));
	float c;

	embed_local(a, strlen(a), x, dim);
	embed_local(b, strlen(b), y, dim);
	c = vec_dot(x, y, dim);
	free(x);
	free(y);
	return c;
}

static float
heavy(void *arg, const char *term, size_t n)
{
	(void)arg;
	return n == 5 && memcmp(term, "zebra", 5) == 0 ? 10 : 1;
}

/*
 * Texts of every size, embedded one after another through one
 * workspace (its tables emptied and reused, of every size) and without
 * one: the number whose vectors differ in any bit.
 */
static int
workspace_rounds(void)
{
	struct embed_ws *ws = embed_ws_new();
	struct buf t = BUF_INIT;
	float a[384], b[384];
	uint64_t x = 1;
	int differ = 0;

	for (int round = 0; round < 60; round++) {
		size_t words = round % 3 == 0 ? 0 : (size_t)1 << (round % 14);

		buf_reset(&t);
		for (size_t i = 0; i < words; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			buf_addf(&t, "%sw%llx", i > 0 ? " " : "",
			    (unsigned long long)(x >> 44));
		}
		embed_local_ws(ws, buf_str(&t), t.len, a, 384);
		embed_local(buf_str(&t), t.len, b, 384);
		differ += memcmp(a, b, sizeof(a)) != 0;
	}
	buf_release(&t);
	embed_ws_free(ws);
	embed_ws_free(NULL);
	return differ;
}

int
main(void)
{
	float v[1024], w[1024], *back;
	struct rp_err err;
	struct buf b = BUF_INIT;
	size_t dim = 0, n;
	double norm = 0;
	int same;

	ok(embed_local_model("local:hash-v1-1024", &dim) && dim == 1024,
	    "the default model name parses");
	ok(embed_local_model("local:hash-v1-8", &dim) && dim == 8, "small");
	ok(!embed_local_model("local:hash-v1-7", &dim), "below 8 refused");
	ok(!embed_local_model("local:hash-v1-", &dim), "no size refused");
	ok(!embed_local_model("local:hash-v1-01", &dim), "leading 0 refused");
	ok(!embed_local_model("local:hash-v2-64", &dim), "other version");
	ok(!embed_local_model("openai:text-embedding-3-small", &dim),
	    "other providers are not local");

	embed_local("Heat transfer in composite slabs", 32, v, 1024);
	for (int i = 0; i < 1024; i++)
		norm += (double)v[i] * v[i];
	ok(fabs(norm - 1) < 1e-5, "unit length");
	embed_local("Heat transfer in composite slabs", 32, w, 1024);
	ok(memcmp(v, w, sizeof(v)) == 0, "deterministic");
	embed_local("", 0, w, 1024);
	same = 1;
	for (int i = 0; i < 1024; i++)
		same &= w[i] == 0;
	ok(same, "empty text gives the zero vector");
	embed_local("the of and to", 13, w, 1024);
	same = 1;
	for (int i = 0; i < 1024; i++)
		same &= w[i] == 0;
	ok(same, "stop words alone give the zero vector");

	ok(cosine("heat transfer in slabs", "slabs transferring heat", 1024) >
	    3 * cosine("heat transfer in slabs", "wings in a slipstream", 1024),
	    "stems match across inflections");
	ok(cosine("aerofoil boundary layer", "airfoil boundary layers", 1024) >
	    0.5, "character n-grams bring spelling variants close");
	ok(cosine("東京都の家賃", "東京の家賃は高い", 1024) > 0.3,
	    "CJK pairs match");
	ok(cosine("Über Straße", "über straße", 1024) > 0.99,
	    "case folds beyond ASCII");

	embed_local_query("zebra apple", 11, v, 1024, NULL, NULL);
	embed_local_query("zebra apple", 11, w, 1024, heavy, NULL);
	embed_local("zebra", 5, v + 0, 1024);
	ok(vec_dot(w, v, 1024) > 0.9, "a weighted term dominates the query");

	embed_local("Heat transfer in composite slabs", 32, v, 1024);
	embed_json(&b, v, 1024);
	back = xcalloc(1024, sizeof(float));
	{
		char *p = b.data + 1, *end;

		n = 0;
		while (n < 1024 && *p != ']') {
			back[n++] = strtof(p, &end);
			p = *end == ',' ? end + 1 : end;
		}
	}
	ok(n == 1024 && memcmp(back, v, sizeof(v)) == 0,
	    "JSON decimals read back as the same floats");
	free(back);
	buf_reset(&b);
	for (size_t d = 1; d <= 7; d++) {
		buf_reset(&b);
		embed_b64(&b, v, d);
		back = embed_from_b64(b.data, b.len, &n, &err);
		ok(back != NULL && n == d && memcmp(back, v, d * 4) == 0,
		    "base64 round trip of %zu floats", d);
		free(back);
	}
	ok(embed_from_b64("AAAA", 4, &n, &err) == NULL, "3 bytes: not floats");
	ok(embed_from_b64("AA*A", 4, &n, &err) == NULL, "bad characters");
	ok(embed_from_b64("", 0, &n, &err) == NULL, "empty");
	back = embed_from_b64("AACAPw==", 8, &n, &err);
	ok(back != NULL && n == 1 && back[0] == 1.0f,
	    "the base64 of little-endian 1.0f");
	free(back);
	buf_release(&b);
	is_int(workspace_rounds(), 0, "with a workspace: the same vectors, "
	    "for 60 texts of 0 to 8,192 words after one another");
	return tap_done();
}
