/*
 * utf8: decoding, encoding and repair of UTF-8 text.
 *
 * Every text that enters ragpipe from a file or a record goes through
 * utf8_clean first, so the rest of the code may assume valid UTF-8 with
 * "\n" line ends and no NUL bytes.  Pure functions; thread-safe.
 */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>
#include <stdint.h>

struct buf;

#define UTF8_REPLACEMENT	0xFFFD

/*
 * Decode the code point at S (N > 0 bytes available).  Returns the bytes
 * used (1 to 4) and sets *CP; an invalid, overlong, surrogate or
 * truncated sequence uses 1 byte and sets *CP to -1.
 */
int	utf8_decode(const char *s, size_t n, int32_t *cp);
/* Encode CP (0..0x10FFFF, not a surrogate) into OUT; returns 1 to 4, or 0. */
int	utf8_encode(int32_t cp, char out[4]);
/* 1 if S[0..N) is valid UTF-8 with no NUL byte, else 0. */
int	utf8_valid(const char *s, size_t n);
/* Number of code points in valid UTF-8 S[0..N). */
size_t	utf8_count(const char *s, size_t n);
/*
 * Byte length of the longest prefix of valid UTF-8 S[0..N) holding at
 * most CHARS code points (never splits a character).
 */
size_t	utf8_prefix(const char *s, size_t n, size_t chars);
/*
 * Append S[0..N) to OUT, repaired: each invalid byte becomes U+FFFD,
 * "\r\n" and a lone "\r" become "\n", NUL and other C0 controls except
 * "\t" and "\n" (and DEL) become a space, and a leading byte order mark
 * is dropped.  Returns the number of invalid sequences replaced, or -1
 * (OUT unchanged beyond what fitted) when OUT's cap is reached.
 */
long	utf8_clean(struct buf *out, const char *s, size_t n);

/*
 * Append S[0..N) to OUT with each invalid byte replaced by U+FFFD and
 * nothing else changed (NUL and control characters stay): for names
 * and JSON text, where line ends and controls are not ours to change.
 * Returns the number replaced, or -1 when OUT's cap is reached.
 */
long	utf8_repair(struct buf *out, const char *s, size_t n);
/* The length of the longest valid UTF-8 prefix of S[0..N) (NUL allowed). */
size_t	utf8_span(const char *s, size_t n);

#endif /* UTF8_H */
