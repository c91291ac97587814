/*
 * extract: turn a document's bytes into plain UTF-8 text plus its
 * structure (blocks, sections, title, and a map back to source lines).
 *
 * Formats: plain text, Markdown (kept as written, minus YAML front
 * matter; ATX and setext headings make the section breadcrumb; fenced
 * code and tables are atomic blocks), HTML (text only: script, style
 * and other non-content elements dropped, entities decoded, block
 * elements become paragraphs, headings make sections, <pre> and
 * <table> are atomic blocks), and source code (kept verbatim; blank
 * lines separate blocks; the enclosing top-level definition is the
 * section).
 *
 * The input may be any bytes: it is repaired with utf8_clean first.
 * Nothing recurses on input structure, so nesting depth cannot exhaust
 * the stack.  Thread-safe; a struct doc_text belongs to its caller.
 */
#ifndef EXTRACT_H
#define EXTRACT_H

#include <stddef.h>

#include "buf.h"

struct rp_err;

enum extract_format {
	EXTRACT_AUTO = 0,	/* decide from the path (extract_guess) */
	EXTRACT_TEXT,
	EXTRACT_MARKDOWN,
	EXTRACT_HTML,
	EXTRACT_CODE,
};

enum block_flags {
	BLOCK_HEADING = 1 << 0,	/* a heading line; starts its section */
	BLOCK_ATOMIC = 1 << 1,	/* fenced code, table, <pre>: never split */
	BLOCK_CODE = 1 << 2,	/* source code or a code block */
};

/* A run of text the chunker keeps together where it can. */
struct block {
	size_t		start, end;	/* bytes in doc_text.text, end exclusive */
	int		section;	/* index in doc_text.sections, -1: none */
	unsigned	flags;		/* enum block_flags */
};

/* From an offset in the extracted text to the source line it came from. */
struct line_mark {
	size_t		off;		/* byte offset in doc_text.text */
	unsigned long	line;		/* 1-based line in the source */
};

struct doc_text {
	struct buf	 text;		/* extracted text, valid UTF-8 */
	struct block	*blocks;	/* in text order, not overlapping */
	size_t		 nblocks;
	char		**sections;	/* breadcrumbs, e.g. "Renewal > Options" */
	size_t		 nsections;
	char		*title;		/* NULL when the document has none */
	struct line_mark *marks;	/* sorted by off; first has off 0 */
	size_t		 nmarks;
	size_t		 repaired;	/* invalid UTF-8 sequences replaced */
};

/*
 * Extract SRC[0..N) as FORMAT (not EXTRACT_AUTO) into DT, which must be
 * zeroed or released.  MAX caps the extracted text in bytes (0: none).
 * 0 on success; -1 with ERR filled (RP_EXIT_DATA) when the text would
 * pass MAX.  DT must be released with doc_text_release either way.
 */
int	extract(struct doc_text *dt, const char *src, size_t n,
	    enum extract_format format, size_t max, struct rp_err *err);
void	doc_text_release(struct doc_text *dt);
/* The source line of extracted-text offset OFF (1 for an empty map). */
unsigned long doc_text_line(const struct doc_text *dt, size_t off);

/* The format for PATH from its extension; EXTRACT_TEXT when unknown. */
enum extract_format extract_guess(const char *path);
/*
 * The format named NAME ("text", "markdown"/"md", "html", "code",
 * "auto"), or -1 if NAME is none of them.
 */
int	extract_format_parse(const char *name);
const char *extract_format_name(enum extract_format format);
/*
 * 1 if the first bytes of a file look binary (a NUL byte, or mostly
 * bytes that are neither text nor UTF-8), else 0.
 */
int	extract_is_binary(const char *p, size_t n);

#endif /* EXTRACT_H */
