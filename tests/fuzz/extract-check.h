/*
 * extract-check.h: the promises of lib/extract.h and lib/chunk.h,
 * checked by the extractor and chunker fuzz targets.
 */
#ifndef EXTRACT_CHECK_H
#define EXTRACT_CHECK_H

#include <string.h>

#include "rp.h"
#include "chunk.h"
#include "extract.h"
#include "utf8.h"
#include "fuzz.h"

static inline void
check_doc_text(const struct doc_text *dt)
{
	const char *t = buf_str(&dt->text);
	size_t n = dt->text.len, prev = 0;

	FUZZ_CHECK(utf8_valid(t, n));
	FUZZ_CHECK(strlen(t) == n);
	for (size_t i = 0; i < dt->nblocks; i++) {
		const struct block *b = &dt->blocks[i];

		FUZZ_CHECK(b->start <= b->end && b->end <= n);
		FUZZ_CHECK(b->start >= prev);
		FUZZ_CHECK(b->section >= -1 &&
		    (b->section < 0 || (size_t)b->section < dt->nsections));
		prev = b->end;
	}
	for (size_t i = 0; i < dt->nsections; i++) {
		FUZZ_CHECK(dt->sections[i] != NULL);
		FUZZ_CHECK(utf8_valid(dt->sections[i],
		    strlen(dt->sections[i])));
	}
	if (dt->title != NULL)
		FUZZ_CHECK(utf8_valid(dt->title, strlen(dt->title)));
	for (size_t i = 0; i < dt->nmarks; i++) {
		FUZZ_CHECK(i > 0 || dt->marks[i].off == 0);
		FUZZ_CHECK(i == 0 || dt->marks[i].off >= dt->marks[i - 1].off);
		FUZZ_CHECK(dt->marks[i].line >= 1);
	}
	FUZZ_CHECK(doc_text_line(dt, 0) >= 1);
	FUZZ_CHECK(doc_text_line(dt, n) >= 1);
}

/* A chunk's bytes start and end on character boundaries. */
static inline int
boundary(const char *t, size_t n, size_t off)
{
	return off == 0 || off == n || ((unsigned char)t[off] & 0xC0) != 0x80;
}

static inline void
check_chunks(const struct doc_text *dt, const struct chunk *c, size_t nc)
{
	const char *t = buf_str(&dt->text);
	size_t n = dt->text.len;

	FUZZ_CHECK(nc == 0 || c != NULL);
	for (size_t i = 0; i < nc; i++) {
		FUZZ_CHECK(c[i].start < c[i].end && c[i].end <= n);
		FUZZ_CHECK(boundary(t, n, c[i].start));
		FUZZ_CHECK(boundary(t, n, c[i].end));
		FUZZ_CHECK(i == 0 || c[i].start >= c[i - 1].start);
		FUZZ_CHECK(i == 0 || c[i].end > c[i - 1].end);
		FUZZ_CHECK(c[i].line >= 1);
		FUZZ_CHECK(c[i].section >= -1 && (c[i].section < 0 ||
		    (size_t)c[i].section < dt->nsections));
		/* Trimmed of white space at both ends, and never empty. */
		FUZZ_CHECK(strchr(" \t\n", t[c[i].start]) == NULL);
		FUZZ_CHECK(strchr(" \t\n", t[c[i].end - 1]) == NULL);
	}
}

/*
 * The check of an extractor target: DATA[0..SIZE) extracted as FORMAT,
 * now and then under a cap on the text, to reach its error path.
 */
static inline int
check_extract(const uint8_t *data, size_t size, enum extract_format format)
{
	struct doc_text dt;
	struct rp_err err;
	size_t max;

	max = size > 0 && data[0] == '\x01' ? size / 2 : 0;
	memset(&dt, 0, sizeof(dt));
	if (extract(&dt, (const char *)data, size, format, max, &err) == 0) {
		check_doc_text(&dt);
		FUZZ_CHECK(max == 0 || dt.text.len <= max);
	} else
		FUZZ_CHECK(err.code == RP_EXIT_DATA && max > 0);
	doc_text_release(&dt);
	return 0;
}

#endif /* EXTRACT_CHECK_H */
