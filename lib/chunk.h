/*
 * chunk: split extracted text into overlapping chunks for retrieval.
 *
 * Sizes are in characters (Unicode code points), so a chunk of CJK text
 * holds as many characters as one of English text.  Whole blocks are
 * packed greedily up to the size; a heading (in code, a new definition)
 * starts a new chunk once the current one holds a third of the size, or
 * when all the current one holds is text before the first section, and
 * a heading never ends a chunk that holds text before it; a block
 * longer than the size is cut at sentence ends, then line ends, then
 * spaces, then anywhere between characters.  Atomic blocks (fenced
 * code, tables, <pre>) are never cut unless longer than
 * CHUNK_ATOMIC_FACTOR times the size, and then only between lines; one
 * that does not fit may join a chunk holding less than a third of the
 * size (its heading, say) within that limit.  Each chunk but the first
 * of a section starts up to OVERLAP characters before the previous one
 * ended, at a sentence or word start, never inside an atomic block and
 * never before a heading.  Chunks are trimmed of surrounding white
 * space and are never empty.
 *
 * Pure functions; thread-safe.
 */
#ifndef CHUNK_H
#define CHUNK_H

#include <stddef.h>

#include "extract.h"

#define CHUNK_SIZE_DEFAULT	1000
#define CHUNK_OVERLAP_DEFAULT	150
#define CHUNK_ATOMIC_FACTOR	4

struct chunk_opts {
	size_t	size;		/* target characters a chunk, >= 50 */
	size_t	overlap;	/* characters repeated, < size / 2 */
};

struct chunk {
	size_t		start, end;	/* bytes in doc_text.text, end exclusive */
	unsigned long	line;		/* source line of start */
	int		section;	/* index in doc_text.sections, -1: none */
};

/*
 * Split DT into chunks.  Returns the number of chunks and sets *OUT to
 * a new array (caller frees; NULL when there are none).
 */
size_t	chunk_split(const struct doc_text *dt, const struct chunk_opts *o,
	    struct chunk **out);

#endif /* CHUNK_H */
