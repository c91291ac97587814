/* f-html: the html extractor (lib/extract.h), on any bytes. */
#include "fuzz.h"
#include <string.h>

#include "rp.h"
#include "extract-check.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct doc_text dt;
	struct rp_err err;
	size_t max;

	/* Now and then a cap on the text, to reach its error path. */
	max = size > 0 && data[0] == '\x01' ? size / 2 : 0;
	memset(&dt, 0, sizeof(dt));
	if (extract(&dt, (const char *)data, size, EXTRACT_HTML, max,
	    &err) == 0) {
		check_doc_text(&dt);
		FUZZ_CHECK(max == 0 || dt.text.len <= max);
	} else
		FUZZ_CHECK(err.code == RP_EXIT_DATA && max > 0);
	doc_text_release(&dt);
	return 0;
}
