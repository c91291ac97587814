/*
 * f-chunk: the chunker (lib/chunk.h) on the text of any format, with
 * any chunk size and overlap the options allow.  The first four bytes
 * choose the format, the size and the overlap.
 */
#include "fuzz.h"
#include <string.h>

#include "rp.h"
#include "extract-check.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum extract_format fmts[] = {
		EXTRACT_TEXT, EXTRACT_MARKDOWN, EXTRACT_HTML, EXTRACT_CODE,
	};
	struct chunk_opts o;
	struct doc_text dt;
	struct chunk *c = NULL;
	struct rp_err err;
	enum extract_format fmt;
	size_t nc;

	fmt = fmts[fuzz_byte(&data, &size) % RP_NELEM(fmts)];
	/* Sizes from 50 (the least rag-ingest takes) to 2089. */
	o.size = 50 + fuzz_byte(&data, &size) * 8 + fuzz_byte(&data, &size) % 8;
	o.overlap = fuzz_byte(&data, &size) * (o.size / 2) / 256;
	FUZZ_CHECK(o.overlap < o.size / 2);
	memset(&dt, 0, sizeof(dt));
	if (extract(&dt, (const char *)data, size, fmt, 0, &err) == 0) {
		check_doc_text(&dt);
		nc = chunk_split(&dt, &o, &c);
		check_chunks(&dt, c, nc);
		/* Text that is not all white space gives chunks. */
		FUZZ_CHECK(nc > 0 || strspn(buf_str(&dt.text), " \t\n") ==
		    dt.text.len);
		free(c);
	}
	doc_text_release(&dt);
	return 0;
}
