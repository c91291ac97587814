/* utf8: strict decoding, encoding and repair of UTF-8 text. */
#include <stdint.h>
#include <string.h>

#include "rp.h"
#include "buf.h"
#include "utf8.h"

#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

/*
 * What utf8_clean does with each byte: 0 copies it as it is (printable
 * ASCII, "\t", "\n"), 1 replaces it (other C0 controls, "\r", DEL),
 * 2 starts a multi-byte sequence or is invalid.
 */
static const unsigned char clean_class[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

static uint64_t
load8(const char *s)
{
	uint64_t w;

	memcpy(&w, s, sizeof(w));
	return w;
}

/* The number of UTF-8 continuation bytes (10xxxxxx) in the word W. */
static unsigned
count_cont8(uint64_t w)
{
	return (unsigned)__builtin_popcountll(w & ~(w << 1) & HIGHS);
}

int
utf8_decode(const char *s, size_t n, int32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c, min;
	size_t len;

	if (n == 0) {
		*cp = -1;
		return 0;
	}
	c = p[0];
	if (c < 0x80) {
		*cp = (int32_t)c;
		return 1;
	}
	if (c < 0xC2)		/* a continuation byte, or overlong C0/C1 */
		goto bad;
	if (c < 0xE0) {
		len = 2;
		c &= 0x1F;
		min = 0x80;
	} else if (c < 0xF0) {
		len = 3;
		c &= 0x0F;
		min = 0x800;
	} else if (c < 0xF5) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		goto bad;
	if (n < len)
		goto bad;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			goto bad;
		c = c << 6 | (p[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		goto bad;
	*cp = (int32_t)c;
	return (int)len;
bad:
	*cp = -1;
	return 1;
}

int
utf8_encode(int32_t cp, char out[4])
{
	uint32_t c = (uint32_t)cp;

	if (cp < 0 || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | c >> 12);
		out[1] = (char)(0x80 | (c >> 6 & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | c >> 18);
	out[1] = (char)(0x80 | (c >> 12 & 0x3F));
	out[2] = (char)(0x80 | (c >> 6 & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

int
utf8_valid(const char *s, size_t n)
{
	size_t i = 0;
	uint64_t w;
	int32_t cp;
	int len;

	while (i < n) {
		/* Eight ASCII bytes, none of them NUL, at a time. */
		if (i + 8 <= n) {
			w = load8(s + i);
			if (((w | ((w - ONES) & ~w)) & HIGHS) == 0) {
				i += 8;
				continue;
			}
		}
		len = utf8_decode(s + i, n - i, &cp);
		if (cp <= 0)
			return 0;
		i += (size_t)len;
	}
	return 1;
}

size_t
utf8_count(const char *s, size_t n)
{
	size_t i = 0, cont = 0;

	for (; i + 8 <= n; i += 8)
		cont += count_cont8(load8(s + i));
	for (; i < n; i++)
		cont += ((unsigned char)s[i] & 0xC0) == 0x80;
	return n - cont;
}

size_t
utf8_prefix(const char *s, size_t n, size_t chars)
{
	size_t i = 0, c = 0, lead;

	/* Whole words while they hold no more than the characters left. */
	for (; i + 8 <= n; i += 8) {
		lead = 8 - count_cont8(load8(s + i));
		if (c + lead > chars)
			break;
		c += lead;
	}
	for (; i < n; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (c == chars)
				break;
			c++;
		}
	}
	return i;
}

long
utf8_clean(struct buf *out, const char *s, size_t n)
{
	static const char repl[3] = { '\xEF', '\xBF', '\xBD' };
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run;
	long bad = 0;
	int32_t cp;
	int len;

	if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
		i = 3;
	run = i;
	while (i < n) {
		/* The common case: bytes that are copied as they are. */
		while (i < n && clean_class[p[i]] == 0)
			i++;
		if (i == n)
			break;
		if (p[i] >= 0x80) {
			len = utf8_decode(s + i, n - i, &cp);
			if (cp >= 0) {
				i += (size_t)len;
				continue;
			}
		}
		if (buf_add(out, s + run, i - run) != 0)
			return -1;
		if (p[i] >= 0x80) {
			if (buf_add(out, repl, sizeof(repl)) != 0)
				return -1;
			bad++;
			i++;
		} else if (p[i] == '\r') {
			if (buf_addc(out, '\n') != 0)
				return -1;
			i++;
			if (i < n && p[i] == '\n')
				i++;
		} else {
			if (buf_addc(out, ' ') != 0)
				return -1;
			i++;
		}
		run = i;
	}
	if (buf_add(out, s + run, i - run) != 0)
		return -1;
	return bad;
}

size_t
utf8_span(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	int32_t cp;
	int len;

	while (i < n) {
		/* Eight ASCII bytes at a time. */
		if (i + 8 <= n && (load8(s + i) & HIGHS) == 0) {
			i += 8;
			continue;
		}
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		len = utf8_decode(s + i, n - i, &cp);
		if (cp < 0)
			break;
		i += (size_t)len;
	}
	return i;
}

long
utf8_repair(struct buf *out, const char *s, size_t n)
{
	static const char repl[3] = { '\xEF', '\xBF', '\xBD' };
	size_t i = 0, k;
	long bad = 0;

	while (i < n) {
		k = utf8_span(s + i, n - i);
		if (buf_add(out, s + i, k) != 0)
			return -1;
		if ((i += k) == n)
			break;
		if (buf_add(out, repl, sizeof(repl)) != 0)
			return -1;
		bad++;
		i++;
	}
	return bad;
}
