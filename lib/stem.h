/*
 * stem: Porter's 1980 suffix-stripping algorithm for English words,
 * the one SQLite's FTS5 "porter" tokenizer uses, so that the embedder
 * and the full-text index agree on what a word is.
 *
 * Pure function; thread-safe.
 */
#ifndef STEM_H
#define STEM_H

#include <stddef.h>

/*
 * Stem the lower-case word W[0..N) in place and return its new length.
 * Words with characters other than a-z, and words of two letters or
 * fewer, are left as they are.
 */
size_t	stem_porter(char *w, size_t n);

#endif /* STEM_H */
