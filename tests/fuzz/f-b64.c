/*
 * f-b64: base64 embeddings (lib/embed.h), as rag-index reads
 * "embedding_b64" and rag-embed reads OpenAI's vectors: whatever
 * decodes must encode back to text that decodes to the same bits.
 */
#include "fuzz.h"
#include <string.h>

#include "rp.h"
#include "buf.h"
#include "embed.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b = BUF_INIT;
	struct rp_err err;
	float *v, *w;
	size_t dim, dim2;

	if ((v = embed_from_b64((const char *)data, size, &dim, &err)) ==
	    NULL) {
		FUZZ_CHECK(err.code == RP_EXIT_DATA);
		return 0;
	}
	/* Four bytes a float, three bytes to four characters. */
	FUZZ_CHECK(dim * 4 <= size / 4 * 3);
	embed_b64(&b, v, dim);
	FUZZ_CHECK(b.len == (dim * 4 + 2) / 3 * 4);
	w = embed_from_b64(buf_str(&b), b.len, &dim2, &err);
	FUZZ_CHECK(w != NULL && dim2 == dim);
	FUZZ_CHECK(dim == 0 || memcmp(v, w, dim * sizeof(*v)) == 0);
	free(v);
	free(w);
	buf_release(&b);
	return 0;
}
