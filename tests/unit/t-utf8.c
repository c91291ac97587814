/* t-utf8: strict decoding, encoding, counting and repair of UTF-8. */
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "buf.h"
#include "utf8.h"
#include "tap.h"

/* Decode S (N bytes); return the length and put the code point in *CP. */
static int
dec(const char *s, size_t n, int32_t *cp)
{
	return utf8_decode(s, n, cp);
}

/* utf8_clean of S[0..N) into a fresh buffer; the result is in *OUT. */
static long
clean(const char *s, size_t n, struct buf *out)
{
	buf_init(out, 0);
	return utf8_clean(out, s, n);
}

static void
test_decode(void)
{
	int32_t cp;
	int len;

	len = dec("A", 1, &cp);
	ok(len == 1 && cp == 'A', "ASCII decodes to itself");
	len = dec("\0", 1, &cp);
	ok(len == 1 && cp == 0, "NUL decodes as U+0000");
	len = dec("\xC3\xA9", 2, &cp);
	ok(len == 2 && cp == 0xE9, "two bytes: e acute");
	len = dec("\xE2\x82\xAC", 3, &cp);
	ok(len == 3 && cp == 0x20AC, "three bytes: euro sign");
	len = dec("\xF0\x9F\x98\x80", 4, &cp);
	ok(len == 4 && cp == 0x1F600, "four bytes: U+1F600");
	len = dec("\xF4\x8F\xBF\xBF", 4, &cp);
	ok(len == 4 && cp == 0x10FFFF, "U+10FFFF is the last valid");
	len = dec("\xC2\x80", 2, &cp);
	ok(len == 2 && cp == 0x80, "U+0080 is the first two-byte");
	len = dec("\xEF\xBF\xBF", 3, &cp);
	ok(len == 3 && cp == 0xFFFF, "U+FFFF (a noncharacter) is valid");

	len = dec("\xC0\xAF", 2, &cp);
	ok(len == 1 && cp == -1, "overlong two-byte '/' is rejected");
	len = dec("\xC1\xBF", 2, &cp);
	ok(len == 1 && cp == -1, "C1 lead is always overlong");
	len = dec("\xE0\x80\xAF", 3, &cp);
	ok(len == 1 && cp == -1, "overlong three-byte is rejected");
	len = dec("\xE0\x9F\xBF", 3, &cp);
	ok(len == 1 && cp == -1, "overlong U+07FF in three bytes");
	len = dec("\xF0\x80\x80\xAF", 4, &cp);
	ok(len == 1 && cp == -1, "overlong four-byte is rejected");
	len = dec("\xF0\x8F\xBF\xBF", 4, &cp);
	ok(len == 1 && cp == -1, "overlong U+FFFF in four bytes");
	len = dec("\xED\xA0\x80", 3, &cp);
	ok(len == 1 && cp == -1, "high surrogate U+D800 is rejected");
	len = dec("\xED\xBF\xBF", 3, &cp);
	ok(len == 1 && cp == -1, "low surrogate U+DFFF is rejected");
	len = dec("\xED\x9F\xBF", 3, &cp);
	ok(len == 3 && cp == 0xD7FF, "U+D7FF just below surrogates is fine");
	len = dec("\xF4\x90\x80\x80", 4, &cp);
	ok(len == 1 && cp == -1, "U+110000 is past the end");
	len = dec("\xF5\x80\x80\x80", 4, &cp);
	ok(len == 1 && cp == -1, "F5 lead is invalid");
	len = dec("\xFF", 1, &cp);
	ok(len == 1 && cp == -1, "FF is invalid");
	len = dec("\x80", 1, &cp);
	ok(len == 1 && cp == -1, "a lone continuation byte is invalid");
	len = dec("\xE2\x82", 2, &cp);
	ok(len == 1 && cp == -1, "a sequence truncated by the end");
	len = dec("\xE2\x82\xAC", 2, &cp);
	ok(len == 1 && cp == -1, "N limits the bytes read");
	len = dec("\xC3" "A", 2, &cp);
	ok(len == 1 && cp == -1, "a lead byte followed by ASCII");
	len = dec("\xF0\x9F\x98" "A", 4, &cp);
	ok(len == 1 && cp == -1, "a four-byte sequence cut by ASCII");
}

static void
test_encode(void)
{
	static const int32_t cps[] = { 0, 'x', 0x7F, 0x80, 0x7FF, 0x800,
	    0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF };
	char out[4];
	int32_t cp;
	int len, bad = 0;

	for (size_t i = 0; i < RP_NELEM(cps); i++) {
		len = utf8_encode(cps[i], out);
		if (len < 1 || dec(out, (size_t)len, &cp) != len ||
		    cp != cps[i])
			bad++;
	}
	is_int(bad, 0, "encode then decode round-trips boundary values");
	is_int(utf8_encode(0x20AC, out), 3, "euro takes three bytes");
	is_mem(out, 3, "\xE2\x82\xAC", 3, "euro bytes");
	is_int(utf8_encode(0xD800, out), 0, "a surrogate is not encoded");
	is_int(utf8_encode(0x110000, out), 0, "past U+10FFFF is not encoded");
	is_int(utf8_encode(-1, out), 0, "a negative value is not encoded");
}

static void
test_valid_count_prefix(void)
{
	const char *mix = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";
	char big[100];

	ok(utf8_valid("", 0), "empty is valid");
	ok(utf8_valid("plain ascii text", 16), "ASCII is valid");
	ok(utf8_valid(mix, strlen(mix)), "1- to 4-byte characters are valid");
	ok(!utf8_valid("ab\0cd", 5), "a NUL byte makes it invalid");
	memset(big, 'x', sizeof(big));
	big[77] = '\0';
	ok(!utf8_valid(big, sizeof(big)), "a NUL deep in ASCII is found");
	big[77] = 'x';
	ok(utf8_valid(big, sizeof(big)), "long ASCII is valid");
	big[90] = (char)0x80;
	ok(!utf8_valid(big, sizeof(big)), "a stray byte deep in ASCII");
	ok(!utf8_valid("\xC0\x80", 2), "overlong NUL is invalid");
	ok(!utf8_valid("\xED\xA0\x80", 3), "an encoded surrogate is invalid");
	ok(!utf8_valid("ok\xE2\x82", 4), "a truncated end is invalid");

	is_int(utf8_count("", 0), 0, "count of nothing");
	is_int(utf8_count(mix, strlen(mix)), 5, "count is in characters");
	is_int(utf8_count("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", 9), 3,
	    "three CJK characters in nine bytes");
	memset(big, 'y', sizeof(big));
	is_int(utf8_count(big, sizeof(big)), 100, "count of long ASCII");

	is_int(utf8_prefix(mix, strlen(mix), 0), 0, "prefix of 0 chars");
	is_int(utf8_prefix(mix, strlen(mix), 1), 1, "prefix of 1 char");
	is_int(utf8_prefix(mix, strlen(mix), 2), 3, "prefix ends after é");
	is_int(utf8_prefix(mix, strlen(mix), 3), 6, "prefix ends after €");
	is_int(utf8_prefix(mix, strlen(mix), 4), 10, "prefix holds 4 bytes");
	is_int(utf8_prefix(mix, strlen(mix), 5), 11, "prefix of all");
	is_int(utf8_prefix(mix, strlen(mix), 99), 11, "prefix past the end");
	is_int(utf8_prefix(big, sizeof(big), 37), 37, "prefix of ASCII");
	{
		/* Every prefix of a long mixed string ends on a boundary. */
		struct buf b = BUF_INIT;
		size_t chars, bytes, k;
		int bad = 0;

		for (int i = 0; i < 40; i++)
			buf_adds(&b, i % 3 == 0 ? "\xE6\x97\xA5" :
			    i % 3 == 1 ? "ab" : "\xF0\x9F\x98\x80");
		chars = utf8_count(b.data, b.len);
		for (k = 0; k <= chars + 1; k++) {
			bytes = utf8_prefix(b.data, b.len, k);
			if (!utf8_valid(b.data, bytes) ||
			    utf8_count(b.data, bytes) != RP_MIN(k, chars))
				bad++;
		}
		is_int(bad, 0, "every prefix is valid and has k characters");
		buf_release(&b);
	}
}

static void
test_clean(void)
{
	struct buf b, capped;
	long r;
	char *rnd;
	size_t n = 20000;
	int bad = 0;

	r = clean("plain text\n", 11, &b);
	ok(r == 0 && strcmp(b.data, "plain text\n") == 0, "clean text passes");
	buf_release(&b);
	r = clean("\xEF\xBB\xBFhello", 8, &b);
	ok(r == 0 && strcmp(b.data, "hello") == 0, "a leading BOM is dropped");
	buf_release(&b);
	r = clean("a\xEF\xBB\xBFz", 5, &b);
	ok(r == 0 && strcmp(b.data, "a\xEF\xBB\xBFz") == 0,
	    "a BOM inside the text stays (it is valid U+FEFF)");
	buf_release(&b);
	r = clean("one\r\ntwo\r\n", 10, &b);
	is_str(b.data, "one\ntwo\n", "CRLF becomes LF");
	buf_release(&b);
	r = clean("one\rtwo\r", 8, &b);
	is_str(b.data, "one\ntwo\n", "a lone CR becomes LF");
	buf_release(&b);
	r = clean("a\r\r\nb", 5, &b);
	is_str(b.data, "a\n\nb", "CR CR LF is two line ends");
	buf_release(&b);
	r = clean("a\0b\x01" "c\x7F" "d\te\fg", 11, &b);
	ok(r == 0, "controls are not invalid UTF-8");
	is_str(b.data, "a b c d\te g", "NUL, C0 controls, DEL become spaces");
	buf_release(&b);
	r = clean("caf\xE9 cr\xE8me \xFF\xFE", 13, &b);
	is_int(r, 4, "four invalid bytes are counted");
	is_str(b.data, "caf\xEF\xBF\xBD cr\xEF\xBF\xBDme "
	    "\xEF\xBF\xBD\xEF\xBF\xBD", "each becomes U+FFFD");
	buf_release(&b);
	r = clean("end\xE2\x82", 5, &b);
	is_int(r, 2, "a sequence truncated at the end: each byte replaced");
	is_str(b.data, "end\xEF\xBF\xBD\xEF\xBF\xBD", "truncated end repaired");
	buf_release(&b);
	r = clean("\xED\xA0\x80", 3, &b);
	is_int(r, 3, "an encoded surrogate is three invalid bytes");
	buf_release(&b);
	r = clean("\xC0\xAF", 2, &b);
	is_int(r, 2, "an overlong sequence is replaced");
	buf_release(&b);
	r = clean("\xF0\x9F\x98\x80 \xE6\x97\xA5", 8, &b);
	ok(r == 0 && b.len == 8, "valid 4- and 3-byte characters are kept");
	buf_release(&b);
	r = clean("", 0, &b);
	ok(r == 0 && b.len == 0, "empty input");
	buf_release(&b);

	buf_init(&capped, 5);
	r = utf8_clean(&capped, "0123456789", 10);
	is_int(r, -1, "the cap is reported");
	ok(capped.len <= 5, "and not passed");
	buf_release(&capped);
	buf_init(&capped, 5);
	r = utf8_clean(&capped, "ab\xFF\xFF", 4);
	is_int(r, -1, "replacement characters count against the cap");
	buf_release(&capped);

	/* Random bytes always come out valid, with no CR or controls. */
	srand(7);
	rnd = xmalloc(n);
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < n; i++)
			rnd[i] = (char)(round % 2 ? rand() : rand() % 4 == 0 ?
			    0x80 + rand() % 128 : rand() % 128);
		clean(rnd, n, &b);
		if (!utf8_valid(b.data, b.len) || memchr(b.data, '\r',
		    b.len) != NULL)
			bad++;
		for (size_t i = 0; i < b.len; i++) {
			unsigned char c = (unsigned char)b.data[i];

			if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F)
				bad++;
		}
		buf_release(&b);
	}
	is_int(bad, 0, "random bytes are always repaired into clean text");
	free(rnd);
}

static void
test_repair(void)
{
	struct buf b = BUF_INIT;

	is_int(utf8_span("ab\xff" "c", 4), 2, "span: up to the bad byte");
	is_int(utf8_span("a\0b", 3), 3, "span: NUL is UTF-8");
	is_int(utf8_span("caf\xc3\xa9 au lait!", 15), 15, "span: all");
	is_int(utf8_span("0123456789\xe2\x82", 12), 10, "span: cut sequence");
	is_int(utf8_repair(&b, "a\xff" "b\xc3", 4), 2, "repair: counts");
	is_str(buf_str(&b), "a\xef\xbf\xbd" "b\xef\xbf\xbd", "repair: U+FFFD");
	buf_reset(&b);
	is_int(utf8_repair(&b, "ok\r\n\t", 5), 0, "repair: valid as is");
	is_mem(b.data, b.len, "ok\r\n\t", 5, "repair: controls kept");
	buf_release(&b);
	buf_init(&b, 4);
	is_int(utf8_repair(&b, "\xff\xff", 2), -1, "repair: over the cap");
	buf_release(&b);
}

int
main(void)
{
	test_decode();
	test_encode();
	test_valid_count_prefix();
	test_clean();
	test_repair();
	return tap_done();
}
