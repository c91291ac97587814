/*
 * analyze: how text becomes full-text search terms.
 *
 * FTS5's unicode61 tokenizer splits on spaces and punctuation, so a
 * sentence of Chinese or Japanese, written without spaces, would be one
 * token and never match a question.  Text therefore goes into the index
 * through analyze_fts_text, which rewrites each run of CJK characters
 * (Han, kana, Hangul) as overlapping bigrams ("東京都" -> "東京 京都"),
 * and questions are split the same way by analyze_query.  Everything
 * else is left to FTS5 ("porter unicode61 remove_diacritics 2").
 *
 * The rewrite is part of the store format: deleting a row from a
 * contentless FTS5 table needs exactly the text that was inserted.
 * ANALYZE_FTS_VERSION names it; a store records the version it used.
 *
 * Questions never reach FTS5 as query syntax: analyze_query returns
 * plain terms, which the store quotes.  Pure functions; thread-safe.
 */
#ifndef ANALYZE_H
#define ANALYZE_H

#include <stddef.h>
#include <stdint.h>

struct buf;

#define ANALYZE_FTS_VERSION	1
#define ANALYZE_MAX_TERMS	64	/* a question's terms beyond are dropped */

/* 1 if CP is written without spaces between words (Han, kana, Hangul). */
int	analyze_is_cjk(int32_t cp);
/* 1 if CP is part of a word (a letter, digit or mark). */
int	analyze_is_word(int32_t cp);
/* 1 if W[0..N) (lower case) is an English stop word. */
int	analyze_is_stopword(const char *w, size_t n);
/*
 * Append TEXT[0..N) (valid UTF-8) to OUT with CJK runs rewritten as
 * bigrams (a run of one character stays).  -1 if OUT's cap is reached.
 */
int	analyze_fts_text(struct buf *out, const char *text, size_t n);
/*
 * Split question Q into distinct search terms: words (ASCII lower-cased,
 * at most 64 bytes, longer ones cut), CJK bigrams, English stop words
 * dropped unless all words are stop words.  At most ANALYZE_MAX_TERMS.
 * Returns the count and sets *TERMS to a new array of new strings (free
 * with analyze_terms_free); *TERMS is NULL when there are none.
 */
size_t	analyze_query(const char *q, char ***terms);
void	analyze_terms_free(char **terms, size_t n);

#endif /* ANALYZE_H */
