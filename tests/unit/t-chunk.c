/* t-chunk: chunk boundaries, sizes, overlap, sections and lines. */
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "buf.h"
#include "utf8.h"
#include "extract.h"
#include "chunk.h"
#include "tap.h"

static int
ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

static size_t
trimmed_end(const char *t, size_t s, size_t e)
{
	while (e > s && ws((unsigned char)t[e - 1]))
		e--;
	return e;
}

static size_t
chars(const struct doc_text *dt, size_t a, size_t b)
{
	return utf8_count(dt->text.data + a, b - a);
}

/* The block span without surrounding white space. */
static void
trimmed(const struct doc_text *dt, size_t i, size_t *s, size_t *e)
{
	*s = RP_MIN(dt->blocks[i].start, dt->text.len);
	*e = RP_MIN(dt->blocks[i].end, dt->text.len);
	while (*s < *e && ws((unsigned char)dt->text.data[*s]))
		(*s)++;
	while (*e > *s && ws((unsigned char)dt->text.data[*e - 1]))
		(*e)--;
}

/* The block holding byte OFF, or -1. */
static long
block_at(const struct doc_text *dt, size_t off)
{
	for (size_t i = 0; i < dt->nblocks; i++)
		if (dt->blocks[i].start <= off && off < dt->blocks[i].end)
			return (long)i;
	return -1;
}

/* The section of the block holding byte OFF (-2 when none does). */
static int
section_at(const struct doc_text *dt, size_t off)
{
	long b = block_at(dt, off);

	if (b < 0)
		return -2;
	if (dt->blocks[b].section >= (int)dt->nsections)
		return -1;
	return dt->blocks[b].section < 0 ? -1 : dt->blocks[b].section;
}

/*
 * Check every promise chunk_split makes; returns the number broken and
 * puts a description of the first in WHY.
 */
static int
check(const struct doc_text *dt, const struct chunk_opts *o,
    const struct chunk *c, size_t n, char *why, size_t whylen)
{
	const char *t = dt->text.data;
	size_t len = dt->text.len, covered = 0, s, e, k, hits, ol;
	int bad = 0, nonblank = 0, atomic;

#define FAIL(...) do {							\
	if (bad++ == 0)							\
		snprintf(why, whylen, __VA_ARGS__);			\
} while (0)

	why[0] = '\0';
	for (size_t i = 0; i < len; i++)
		if (!ws((unsigned char)t[i]))
			nonblank = 1;
	if ((n > 0) != nonblank)
		FAIL("%zu chunks for a text that is %sblank", n,
		    nonblank ? "not " : "");
	for (size_t i = 0; i < n; i++) {
		s = c[i].start;
		e = c[i].end;
		if (s >= e || e > len) {
			FAIL("chunk %zu: bad span [%zu,%zu)", i, s, e);
			continue;
		}
		if ((t[s] & 0xC0) == 0x80 || (e < len && (t[e] & 0xC0) == 0x80))
			FAIL("chunk %zu: not on character boundaries", i);
		if (ws((unsigned char)t[s]) || ws((unsigned char)t[e - 1]))
			FAIL("chunk %zu: not trimmed", i);
		if (i > 0 && s <= c[i - 1].start)
			FAIL("chunk %zu: start %zu not after %zu", i, s,
			    c[i - 1].start);
		if (i > 0 && e < c[i - 1].end)
			FAIL("chunk %zu: ends before the previous", i);
		if (c[i].line != doc_text_line(dt, s))
			FAIL("chunk %zu: line %lu, want %lu", i, c[i].line,
			    doc_text_line(dt, s));
		if (c[i].section >= (int)dt->nsections)
			FAIL("chunk %zu: section %d out of range", i,
			    c[i].section);
		for (k = covered; k < s; k++)
			if (!ws((unsigned char)t[k])) {
				FAIL("byte %zu ('%c') is in no chunk", k, t[k]);
				break;
			}
		covered = RP_MAX(covered, e);
		/*
		 * Size: within the size, unless it holds a whole atomic
		 * block and less than a third of the size before it.
		 */
		atomic = 0;
		for (size_t b = 0; b < dt->nblocks; b++) {
			if (!(dt->blocks[b].flags & BLOCK_ATOMIC))
				continue;
			trimmed(dt, b, &k, &hits);
			if (k < hits && s <= k && hits <= e &&
			    (s >= dt->blocks[b].start || chars(dt, s,
			    dt->blocks[b].start) < o->size / 3))
				atomic = 1;
		}
		if (chars(dt, s, e) > o->size && (!atomic ||
		    chars(dt, s, e) > o->size * CHUNK_ATOMIC_FACTOR))
			FAIL("chunk %zu: %zu characters, size %zu%s", i,
			    chars(dt, s, e), o->size,
			    atomic ? " (atomic)" : "");
		/* The section is that of the chunk's own first text. */
		k = i > 0 ? RP_MAX(s, c[i - 1].end) : s;
		while (k < e && ws((unsigned char)t[k]))
			k++;
		if (k < e && section_at(dt, k) != -2 &&
		    section_at(dt, k) != c[i].section)
			FAIL("chunk %zu: section %d, its text is in %d", i,
			    c[i].section, section_at(dt, k));
		/* Text before the first section is alone in its chunks. */
		for (size_t b = 0; c[i].section < 0 && b < dt->nblocks; b++)
			if (dt->blocks[b].start >= k &&
			    dt->blocks[b].start < e &&
			    section_at(dt, dt->blocks[b].start) >= 0)
				FAIL("chunk %zu: no section, but holds block "
				    "%zu of a section", i, b);
		/* Overlap: bounded, and starting at a word. */
		if (i > 0 && s < c[i - 1].end) {
			hits = trimmed_end(t, c[i - 1].start, c[i - 1].end);
			if (k < e && section_at(dt, k) != -2 &&
			    section_at(dt, hits - 1) != -2 &&
			    section_at(dt, k) != section_at(dt, hits - 1))
				FAIL("chunk %zu: overlap into a new "
				    "section", i);
			for (size_t b = 0; b < dt->nblocks; b++)
				if ((dt->blocks[b].flags & (BLOCK_ATOMIC |
				    BLOCK_HEADING)) &&
				    dt->blocks[b].start < c[i - 1].end &&
				    dt->blocks[b].end > s)
					FAIL("chunk %zu: overlap takes text of "
					    "a heading or atomic block", i);
			ol = chars(dt, s, c[i - 1].end);
			if (ol > o->overlap)
				FAIL("chunk %zu: overlap %zu > %zu", i, ol,
				    o->overlap);
			if (s > 0 && !ws((unsigned char)t[s - 1]) &&
			    (unsigned char)t[s] < 0xE3 &&
			    (unsigned char)t[s - 1] < 0x80)
				FAIL("chunk %zu: overlap starts mid-word", i);
		}
	}
	for (k = covered; k < len; k++)
		if (!ws((unsigned char)t[k])) {
			FAIL("byte %zu at the end is in no chunk", k);
			break;
		}
	for (size_t b = 0; b < dt->nblocks; b++) {
		trimmed(dt, b, &s, &e);
		if (s >= e)
			continue;
		if (dt->blocks[b].flags & BLOCK_ATOMIC) {
			if (chars(dt, s, e) > o->size * CHUNK_ATOMIC_FACTOR)
				continue;
			for (hits = 0, k = 0; k < n; k++) {
				if (c[k].start <= s && e <= c[k].end)
					hits++;
				if (c[k].start > s && c[k].start < e)
					FAIL("atomic block %zu: a chunk starts "
					    "inside it", b);
			}
			if (hits == 0)
				FAIL("atomic block %zu is split", b);
		}
		if (dt->blocks[b].flags & BLOCK_HEADING) {
			/* In one chunk only, which starts there or is small. */
			for (hits = 0, k = 0; k < n; k++) {
				if (c[k].start > s || c[k].end <= s)
					continue;
				hits++;
				for (e = s; e > c[k].start &&
				    ws((unsigned char)t[e - 1]); e--)
					;
				if (c[k].start < s &&
				    chars(dt, c[k].start, e) >= o->size / 3)
					FAIL("heading block %zu: in a chunk "
					    "that already held %zu chars", b,
					    chars(dt, c[k].start, e));
			}
			if (hits != 1)
				FAIL("heading block %zu is in %zu chunks", b,
				    hits);
		}
	}
#undef FAIL
	return bad;
}

static size_t
split(const struct doc_text *dt, size_t size, size_t overlap,
    struct chunk **c, char *why, size_t whylen, int *bad)
{
	struct chunk_opts o = { size, overlap };
	size_t n = chunk_split(dt, &o, c);

	*bad = check(dt, &o, *c, n, why, whylen);
	return n;
}

static int
xextract(struct doc_text *dt, const char *s, size_t n, enum extract_format f)
{
	struct rp_err err;

	return extract(dt, s, n, f, 0, &err);
}

/* Random text pieces, the kind that trip chunkers up. */
static void
random_piece(struct buf *b, int fmt)
{
	static const char *words[] = { "alpha", "beta", "gamma", "delta",
	    "caf\xC3\xA9", "na\xC3\xAFve", "\xE6\x97\xA5\xE6\x9C\xAC",
	    "\xE8\xAA\x9E", "\xF0\x9F\x98\x80", "x", "longerwordhere",
	    "\xD0\xBF\xD1\x80\xD0\xB8", "(paren)", "\"quoted.\"" };
	int r = rand() % 100, k;

	if (r < 55) {
		buf_adds(b, words[rand() % RP_NELEM(words)]);
		buf_adds(b, rand() % 9 == 0 ? ". " : rand() % 15 == 0 ?
		    "? " : rand() % 20 == 0 ? "\xE3\x80\x82" : " ");
	} else if (r < 62)
		buf_adds(b, "\n");
	else if (r < 67)
		buf_adds(b, "\n\n");
	else if (r < 70) {
		buf_adds(b, "\n");
		for (k = rand() % 6; k >= 0; k--)
			buf_adds(b, fmt == EXTRACT_HTML ? "" : "#");
		if (fmt == EXTRACT_HTML)
			buf_addf(b, "<h%d>Head %d</h%d>", 1 + rand() % 6,
			    rand() % 5, 2);
		else
			buf_addf(b, " Head %d\n", rand() % 5);
	} else if (r < 73) {
		if (fmt == EXTRACT_HTML)
			buf_adds(b, "<pre>");
		else
			buf_adds(b, "\n```\n");
		for (k = rand() % 30; k >= 0; k--)
			buf_addf(b, "code line %d;\n", k);
		buf_adds(b, fmt == EXTRACT_HTML ? "</pre>" : "```\n");
	} else if (r < 75) {
		if (fmt == EXTRACT_HTML)
			buf_adds(b, "<table>");
		else
			buf_adds(b, "\n| a | b |\n|---|---|\n");
		for (k = rand() % 12; k >= 0; k--)
			buf_addf(b, fmt == EXTRACT_HTML ?
			    "<tr><td>c%d</td><td>d</td></tr>" :
			    "| c%d | d |\n", k);
		buf_adds(b, fmt == EXTRACT_HTML ? "</table>" : "\n");
	} else if (r < 77) {
		for (k = rand() % 700; k >= 0; k--)
			buf_addc(b, 'a' + k % 26);
		buf_addc(b, ' ');
	} else if (r < 79) {
		for (k = rand() % 300; k >= 0; k--)
			buf_adds(b, "\xE6\xBC\xA2");
	} else if (r < 81) {
		for (k = rand() % 400; k >= 0; k--)
			buf_addc(b, k % 5 ? ' ' : '\t');
	} else if (r < 83)
		buf_adds(b, "\r\n");
	else if (r < 85 && fmt == EXTRACT_CODE)
		buf_adds(b, "\ndef f(x):\n    return x\n");
	else if (r < 87 && fmt == EXTRACT_HTML)
		buf_adds(b, rand() % 2 ? "<p>" : "<br>");
	else if (r < 89)
		buf_adds(b, "- list item\n");
	else
		buf_adds(b, "word ");
}

static void
test_random(void)
{
	static const enum extract_format fmts[] = { EXTRACT_TEXT,
	    EXTRACT_MARKDOWN, EXTRACT_HTML, EXTRACT_CODE };
	struct doc_text dt;
	struct buf b = BUF_INIT;
	struct chunk *c;
	char why[256], first[400];
	size_t size, overlap, total;
	int bad, docs_bad, over;

	srand(12345);
	for (size_t f = 0; f < RP_NELEM(fmts); f++) {
		total = 0;
		docs_bad = over = 0;
		first[0] = '\0';
		for (int round = 0; round < 200; round++) {
			buf_reset(&b);
			for (int k = rand() % 400; k >= 0; k--)
				random_piece(&b, fmts[f]);
			/* Mostly real sizes, sometimes absurdly small ones. */
			size = round % 10 == 9 ? 1 + (size_t)(rand() % 12) :
			    50 + (size_t)(rand() % 400);
			overlap = rand() % 3 == 0 ? 0 :
			    (size_t)rand() % (size / 2 + 1);
			if (overlap >= size / 2)
				overlap = size / 2 > 0 ? size / 2 - 1 : 0;
			xextract(&dt, buf_str(&b), b.len, fmts[f]);
			total += split(&dt, size, overlap, &c, why,
			    sizeof(why), &bad);
			if (bad > 0 && docs_bad++ == 0)
				snprintf(first, sizeof(first), "round %d "
				    "(size %zu, overlap %zu): %s", round,
				    size, overlap, why);
			over += bad;
			free(c);
			doc_text_release(&dt);
		}
		ok(docs_bad == 0, "random %s documents: all promises kept "
		    "(%zu chunks)", extract_format_name(fmts[f]), total);
		if (docs_bad > 0)
			printf("# %d documents broke %d promises; first: %s\n",
			    docs_bad, over, first);
	}
	buf_release(&b);
}

/* A paragraph of N sentences of prose. */
static void
prose(struct buf *b, int n)
{
	static const char *s[] = { "The lease ends on the last day of May.",
	    "Either side may give notice in writing!",
	    "Is the rent due on the first working day?",
	    "Payments go to the account at the cooperative bank.",
	    "A second renewal may raise the rent by the price index." };

	for (int i = 0; i < n; i++) {
		buf_adds(b, s[i % 5]);
		buf_adds(b, i % 7 == 6 ? "\n" : " ");
	}
}

static void
test_prose(void)
{
	struct doc_text dt;
	struct buf b = BUF_INIT;
	struct chunk *c;
	char why[256];
	size_t n, with = 0, sent = 0, full = 0;
	int bad;

	prose(&b, 200);
	xextract(&dt, buf_str(&b), b.len, EXTRACT_TEXT);
	n = split(&dt, 300, 60, &c, why, sizeof(why), &bad);
	ok(bad == 0, "prose: invariants hold (%s)", why);
	ok(n > 20, "prose: %zu chunks", n);
	for (size_t i = 1; i < n; i++) {
		const char *t = dt.text.data;

		with += c[i].start < c[i - 1].end;
		/* A sentence start: after '.', '!' or '?' and a space. */
		sent += c[i].start >= 2 &&
		    ws((unsigned char)t[c[i].start - 1]) &&
		    strchr(".!?", t[c[i].start - 2]) != NULL;
		full += chars(&dt, c[i].start, c[i].end) >= 150;
	}
	is_int(with, n - 1, "prose: every chunk after the first overlaps");
	is_int(sent, n - 1, "prose: overlaps start at sentences");
	is_int(full, n - 1, "prose: chunks are at least half full");
	for (size_t i = 0; i + 1 < n; i++) {
		const char *t = dt.text.data;

		if (strchr(".!?", t[c[i].end - 1]) == NULL) {
			ok(0, "prose: chunk %zu ends mid-sentence", i);
			break;
		}
	}
	free(c);

	n = split(&dt, 300, 0, &c, why, sizeof(why), &bad);
	ok(bad == 0, "prose, no overlap: invariants hold (%s)", why);
	with = 0;
	for (size_t i = 1; i < n; i++)
		with += c[i].start < c[i - 1].end;
	is_int(with, 0, "prose: overlap 0 disables it");
	free(c);
	doc_text_release(&dt);

	/* Words without sentence ends: overlap snaps to a word. */
	buf_reset(&b);
	for (int i = 0; i < 500; i++)
		buf_addf(&b, "word%d ", i);
	xextract(&dt, buf_str(&b), b.len, EXTRACT_TEXT);
	n = split(&dt, 100, 30, &c, why, sizeof(why), &bad);
	ok(bad == 0, "words: invariants hold (%s)", why);
	with = 0;
	for (size_t i = 1; i < n; i++)
		with += c[i].start < c[i - 1].end &&
		    dt.text.data[c[i].start - 1] == ' ' &&
		    strncmp(dt.text.data + c[i].start, "word", 4) == 0;
	is_int(with, n - 1, "words: overlap starts at a word");
	free(c);
	doc_text_release(&dt);
	buf_release(&b);
}

static void
test_markdown(void)
{
	struct doc_text dt;
	struct buf b = BUF_INIT;
	struct chunk *c;
	char why[256];
	const char *t;
	size_t n, i;
	int bad;

	buf_adds(&b, "# Title\n\n");
	prose(&b, 5);
	buf_adds(&b, "\n\n## Second\n\n");
	prose(&b, 3);
	buf_adds(&b, "\n\n## Tiny\n\nSmall.\n\n### Tinier\n\nSmaller.\n\n"
	    "## Table\n\n| a | b |\n|---|---|\n");
	for (i = 0; i < 20; i++)
		buf_addf(&b, "| row %zu | value |\n", i);
	buf_adds(&b, "\n## Huge\n\n```\n");
	for (i = 0; i < 200; i++)
		buf_addf(&b, "line %zu of a fenced block\n", i);
	buf_adds(&b, "```\nEnd.\n");
	xextract(&dt, buf_str(&b), b.len, EXTRACT_MARKDOWN);
	t = dt.text.data;
	n = split(&dt, 300, 50, &c, why, sizeof(why), &bad);
	ok(bad == 0, "md: invariants hold (%s)", why);
	for (i = 0; i < n && strncmp(t + c[i].start, "## Second", 9); i++)
		;
	ok(i < n, "md: a heading starts a chunk");
	ok(i < n && c[i].section >= 0 &&
	    strcmp(dt.sections[c[i].section], "Second") == 0,
	    "md: the chunk has the heading's section");
	ok(i < n && c[i - 1].section == -1, "md: the one before has none");
	for (i = 0; i < n && strstr(t + c[i].start, "## Tiny") !=
	    t + c[i].start; i++)
		;
	ok(i < n && c[i].end > (size_t)(strstr(t, "Smaller.") - t),
	    "md: small sections share a chunk");
	ok(i < n && strcmp(dt.sections[c[i].section], "Tiny") == 0,
	    "md: its section is that of its first text");
	for (i = 0; i < n && strstr(t + c[i].start, "| a |") !=
	    t + c[i].start && strstr(t + c[i].start, "## Table") !=
	    t + c[i].start; i++)
		;
	ok(i < n && strstr(t + c[i].start, "| row 19") != NULL &&
	    (size_t)(strstr(t, "| row 19 | value |") - t) + 18 <= c[i].end,
	    "md: a table longer than the size is kept whole");
	ok(chars(&dt, c[i].start, c[i].end) > 300,
	    "md: so that chunk is over the size");
	for (i = 0; i < n; i++)
		if (c[i].start > (size_t)(strstr(t, "```") - t) &&
		    c[i].start < (size_t)(strstr(t, "End.") - t) &&
		    t[c[i].start - 1] != '\n')
			break;
	ok(i == n, "md: a huge fence is cut between lines");
	free(c);
	doc_text_release(&dt);
	buf_release(&b);
}

static void
test_html(void)
{
	static const char page[] = "<html><head><title>Boiler manual</title>"
	    "</head><body><h1>Boiler manual</h1><p>Service it every year."
	    "</p><h2>Resetting</h2><p>Hold the reset button.</p>"
	    "<h2>Pressure</h2><p>Keep it between 1 and 1.5 bar.</p>";
	struct doc_text dt;
	struct chunk *c;
	char why[256];
	size_t n;
	int bad;

	xextract(&dt, page, sizeof(page) - 1, EXTRACT_HTML);
	n = split(&dt, 1000, 150, &c, why, sizeof(why), &bad);
	ok(bad == 0, "html: invariants hold (%s)", why);
	is_int(n, 2, "html: the text before the first section is a chunk");
	ok(n == 2 && c[0].section == -1 && strncmp(dt.text.data +
	    c[0].start, "Boiler manual\n\nService", 22) == 0,
	    "html: title and introduction, with no section");
	ok(n == 2 && c[1].section >= 0 &&
	    strcmp(dt.sections[c[1].section], "Resetting") == 0 &&
	    strstr(dt.text.data + c[1].start, "1.5 bar.") != NULL,
	    "html: small sections share the next chunk");
	ok(n == 2 && c[1].start > c[0].end, "html: no overlap into a section");
	free(c);
	doc_text_release(&dt);
}

static void
test_cjk_and_long(void)
{
	struct doc_text dt;
	struct buf b = BUF_INIT;
	struct chunk *c;
	char why[256];
	size_t n, i, near = 0;
	int bad;

	for (i = 0; i < 3000; i++)
		buf_adds(&b, i % 40 == 39 ? "\xE3\x80\x82" : "\xE6\xBC\xA2");
	xextract(&dt, buf_str(&b), b.len, EXTRACT_TEXT);
	n = split(&dt, 100, 20, &c, why, sizeof(why), &bad);
	ok(bad == 0, "cjk: invariants hold (%s)", why);
	for (i = 0; i < n; i++)
		near += chars(&dt, c[i].start, c[i].end) >= 50 ||
		    i == n - 1;
	is_int(near, n, "cjk: sizes count characters, not bytes");
	ok(n >= 30 && n <= 80, "cjk: %zu chunks of up to 100 characters", n);
	ok(n > 1 && c[1].start < c[0].end, "cjk: overlap in text without "
	    "spaces");
	ok(n > 1 && memcmp(dt.text.data + c[0].end - 3, "\xE3\x80\x82", 3) ==
	    0, "cjk: cut after an ideographic full stop");
	free(c);
	doc_text_release(&dt);

	/* One long line without spaces: cut anywhere, linear time. */
	buf_reset(&b);
	for (i = 0; i < 4000000; i++)
		buf_addc(&b, 'a' + (char)(i % 26));
	xextract(&dt, buf_str(&b), b.len, EXTRACT_TEXT);
	n = split(&dt, 1000, 150, &c, why, sizeof(why), &bad);
	ok(bad == 0, "long line: invariants hold (%s)", why);
	is_int(n, 4000, "long line: exactly size characters each");
	ok(n == 4000 && c[1].start == 1000 && c[3999].end == 4000000,
	    "long line: no overlap without a word start");
	free(c);
	doc_text_release(&dt);

	/* A huge paragraph with spaces: linear time too. */
	buf_reset(&b);
	prose(&b, 200000);
	xextract(&dt, buf_str(&b), b.len, EXTRACT_TEXT);
	n = split(&dt, 1000, 150, &c, why, sizeof(why), &bad);
	ok(bad == 0, "huge paragraph (%zu bytes): invariants hold (%s)",
	    b.len, why);
	ok(n > b.len / 1000, "huge paragraph: %zu chunks", n);
	free(c);
	doc_text_release(&dt);
	buf_release(&b);
}

static void
test_lines_and_sections(void)
{
	struct doc_text dt;
	struct buf b = BUF_INIT;
	struct chunk *c;
	char why[256];
	size_t n, i;
	unsigned long line;
	int bad, wrong = 0;

	buf_adds(&b, "---\ntitle: Lines\n---\n");
	for (i = 0; i < 300; i++)
		buf_addf(&b, i % 40 == 0 ? "## Part %zu\n\n" :
		    "Line %zu has a few words on it.\n", i);
	xextract(&dt, buf_str(&b), b.len, EXTRACT_MARKDOWN);
	n = split(&dt, 200, 40, &c, why, sizeof(why), &bad);
	ok(bad == 0, "lines: invariants hold (%s)", why);
	/* Count the newlines before the start, plus the front matter. */
	for (i = 0; i < n; i++) {
		line = 4;
		for (size_t k = 0; k < c[i].start; k++)
			line += dt.text.data[k] == '\n';
		wrong += c[i].line != line;
	}
	is_int(wrong, 0, "lines: every chunk's line is its source line");
	is_int(c[0].line, 4, "lines: the first chunk is after front matter");
	for (i = 0; i < n; i++)
		if (strncmp(dt.text.data + c[i].start, "Line 45 ", 8) == 0 ||
		    (c[i].start < (size_t)(strstr(dt.text.data, "Line 45 ") -
		    dt.text.data) && c[i].end > (size_t)(strstr(dt.text.data,
		    "Line 45 ") - dt.text.data)))
			break;
	ok(i < n && c[i].section >= 0 && strcmp(dt.sections[c[i].section],
	    "Part 40") == 0, "lines: sections follow headings");
	free(c);
	doc_text_release(&dt);
	buf_release(&b);
}

static void
test_odd_input(void)
{
	struct doc_text dt;
	struct chunk *c = (struct chunk *)&dt;
	struct block blocks[5];
	struct chunk_opts o = { 50, 10 };
	char why[256];
	const char *s = "  \xE6\xBC\xA2 alpha beta\n\ngamma \xF0\x9F\x98\x80"
	    " delta epsilon zeta eta theta iota kappa lambda mu nu xi "
	    "omicron pi rho sigma tau  ";
	size_t n;
	int bad;

	memset(&dt, 0, sizeof(dt));
	is_int(chunk_split(&dt, &o, &c), 0, "odd: an empty text: no chunks");
	ok(c == NULL, "odd: and a NULL array");
	xextract(&dt, " \n\t\n  ", 6, EXTRACT_TEXT);
	is_int(chunk_split(&dt, &o, &c), 0, "odd: white space: no chunks");
	doc_text_release(&dt);

	/* Blocks that overlap, run backwards, split characters, or miss. */
	memset(&dt, 0, sizeof(dt));
	buf_adds(&dt.text, s);
	blocks[0] = (struct block){ 3, 9, 0, BLOCK_HEADING };
	blocks[1] = (struct block){ 5, 4, -7, 0 };
	blocks[2] = (struct block){ 7, 40, 99, BLOCK_ATOMIC };
	blocks[3] = (struct block){ 30, 20, 0, 0 };
	blocks[4] = (struct block){ 60, 10000, -1, BLOCK_CODE };
	dt.blocks = blocks;
	dt.nblocks = 5;
	n = split(&dt, 50, 10, &c, why, sizeof(why), &bad);
	ok(bad == 0 && n > 0, "odd: broken blocks still give good chunks "
	    "(%s)", why);
	free(c);
	dt.nblocks = 0;
	n = split(&dt, 50, 10, &c, why, sizeof(why), &bad);
	ok(bad == 0 && n > 1, "odd: no blocks at all (%s)", why);
	free(c);
	n = split(&dt, 50, 40, &c, why, sizeof(why), &bad);
	ok(n > 0, "odd: an overlap of more than half is reduced");
	free(c);
	buf_release(&dt.text);
}

int
main(void)
{
	test_random();
	test_prose();
	test_markdown();
	test_html();
	test_cjk_and_long();
	test_lines_and_sections();
	test_odd_input();
	return tap_done();
}
