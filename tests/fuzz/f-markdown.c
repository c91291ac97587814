/* f-markdown: the markdown extractor (lib/extract.h), on any bytes. */
#include "fuzz.h"

#include "rp.h"
#include "extract-check.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return check_extract(data, size, EXTRACT_MARKDOWN);
}
