/* t-extract: text, blocks, sections, titles and line maps per format. */
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "buf.h"
#include "utf8.h"
#include "extract.h"
#include "tap.h"

static int
ext(struct doc_text *dt, const char *src, enum extract_format fmt)
{
	struct rp_err err;

	memset(dt, 0, sizeof(*dt));
	return extract(dt, src, strlen(src), fmt, 0, &err);
}

/* The text of block I (a static copy, so several can't be held). */
static const char *
btext(const struct doc_text *dt, size_t i)
{
	static char s[4096];
	size_t n;

	if (i >= dt->nblocks)
		return "(no such block)";
	n = RP_MIN(dt->blocks[i].end - dt->blocks[i].start, sizeof(s) - 1);
	memcpy(s, dt->text.data + dt->blocks[i].start, n);
	s[n] = '\0';
	return s;
}

static const char *
bsec(const struct doc_text *dt, size_t i)
{
	if (i >= dt->nblocks || dt->blocks[i].section < 0)
		return NULL;
	return dt->sections[dt->blocks[i].section];
}

/* The block holding the first NEEDLE in the text, or nblocks. */
static size_t
bfind(const struct doc_text *dt, const char *needle)
{
	const char *p = strstr(buf_str(&dt->text), needle);
	size_t off, i;

	if (p == NULL)
		return dt->nblocks;
	off = (size_t)(p - dt->text.data);
	for (i = 0; i < dt->nblocks; i++)
		if (dt->blocks[i].start <= off && off < dt->blocks[i].end)
			break;
	return i;
}

/* The source line of the first NEEDLE in the text (0 if absent). */
static unsigned long
tline(const struct doc_text *dt, const char *needle)
{
	const char *p = strstr(buf_str(&dt->text), needle);

	return p == NULL ? 0 : doc_text_line(dt, (size_t)(p - dt->text.data));
}

/* Blocks are in order, inside the text, and never overlap. */
static int
blocks_sane(const struct doc_text *dt)
{
	size_t prev = 0;

	for (size_t i = 0; i < dt->nblocks; i++) {
		if (dt->blocks[i].start < prev ||
		    dt->blocks[i].end <= dt->blocks[i].start ||
		    dt->blocks[i].end > dt->text.len)
			return 0;
		if (dt->blocks[i].section >= (int)dt->nsections)
			return 0;
		prev = dt->blocks[i].end;
	}
	return utf8_valid(buf_str(&dt->text), dt->text.len);
}

static void
test_text(void)
{
	struct doc_text dt;

	ext(&dt, "one\ntwo\n\n\nthree\n  \t\nfour", EXTRACT_TEXT);
	is_int(dt.nblocks, 3, "text: paragraphs are blocks");
	is_str(btext(&dt, 0), "one\ntwo", "text: a paragraph keeps its lines");
	is_str(btext(&dt, 2), "four", "text: a blank line with spaces splits");
	ok(dt.title == NULL && dt.nsections == 0, "text: no title, sections");
	is_int(tline(&dt, "three"), 5, "text: line of the second paragraph");
	is_int(tline(&dt, "four"), 7, "text: line of the last paragraph");
	is_int(dt.blocks[0].flags, 0, "text: plain blocks have no flags");
	ok(blocks_sane(&dt), "text: blocks are sane");
	doc_text_release(&dt);

	ext(&dt, "# not a heading\nbody", EXTRACT_TEXT);
	ok(dt.title == NULL && dt.nblocks == 1, "text: '#' means nothing");
	doc_text_release(&dt);

	ext(&dt, "a\r\nb\r\n\r\nc\rd\xff", EXTRACT_TEXT);
	is_str(buf_str(&dt.text), "a\nb\n\nc\nd\xEF\xBF\xBD",
	    "text: line ends normalised, bad bytes replaced");
	is_int(dt.repaired, 1, "text: the repair is counted");
	is_int(tline(&dt, "d"), 5, "text: lines count after CRLF and CR");
	doc_text_release(&dt);

	ext(&dt, "", EXTRACT_TEXT);
	ok(dt.nblocks == 0 && dt.text.len == 0, "text: empty input");
	is_int(doc_text_line(&dt, 0), 1, "text: line of an empty text");
	doc_text_release(&dt);
	ext(&dt, " \n\n\t\n", EXTRACT_TEXT);
	is_int(dt.nblocks, 0, "text: only white space gives no blocks");
	doc_text_release(&dt);
}

static const char lease[] =
    "---\n"
    "title: \"Flat lease\"\n"
    "tags: [home]\n"
    "---\n"
    "# Flat lease\n"
    "\n"
    "Intro text.\n"
    "\n"
    "## Renewal\n"
    "\n"
    "The lease ends in May.\n"
    "\n"
    "### Options\n"
    "\n"
    "A second renewal.\n"
    "\n"
    "```sh\n"
    "# not a heading\n"
    "ls\n"
    "```\n"
    "\n"
    "| item | cost |\n"
    "|:-----|-----:|\n"
    "| rent | 950  |\n"
    "| bond | 1900 |\n"
    "after the table\n"
    "\n"
    "## Rent\n"
    "Monthly.\n";

static void
test_markdown(void)
{
	struct doc_text dt;
	size_t i;

	ext(&dt, lease, EXTRACT_MARKDOWN);
	ok(blocks_sane(&dt), "md: blocks are sane");
	is_str(dt.title, "Flat lease", "md: title from front matter, unquoted");
	ok(strncmp(buf_str(&dt.text), "# Flat lease\n", 13) == 0,
	    "md: front matter removed from the text");
	is_int(dt.text.len, strlen(lease) - 41,
	    "md: only the front matter goes");
	is_int(tline(&dt, "# Flat"), 5, "md: lines count the front matter");
	is_int(tline(&dt, "The lease ends"), 11, "md: line of a paragraph");
	is_int(tline(&dt, "| bond"), 25, "md: line of a table row");
	i = bfind(&dt, "# Flat lease");
	ok(dt.blocks[i].flags == BLOCK_HEADING && bsec(&dt, i) == NULL,
	    "md: the title heading is no section");
	is_str(bsec(&dt, bfind(&dt, "Intro")), NULL,
	    "md: text under the title heading has no section");
	i = bfind(&dt, "## Renewal");
	is_str(btext(&dt, i), "## Renewal", "md: a heading is one line");
	is_int(dt.blocks[i].flags, BLOCK_HEADING, "md: heading flag");
	is_str(bsec(&dt, i), "Renewal", "md: a heading carries its section");
	is_str(bsec(&dt, bfind(&dt, "The lease")), "Renewal",
	    "md: breadcrumb leaves out the title");
	is_str(bsec(&dt, bfind(&dt, "A second")), "Renewal > Options",
	    "md: nested breadcrumb");
	i = bfind(&dt, "```sh");
	is_str(btext(&dt, i), "```sh\n# not a heading\nls\n```",
	    "md: a fence is one block");
	is_int(dt.blocks[i].flags, BLOCK_ATOMIC | BLOCK_CODE,
	    "md: fence is atomic code");
	is_str(bsec(&dt, i), "Renewal > Options", "md: '#' in a fence is no "
	    "heading");
	i = bfind(&dt, "| item");
	is_str(btext(&dt, i), "| item | cost |\n|:-----|-----:|\n"
	    "| rent | 950  |\n| bond | 1900 |", "md: a table is one block");
	is_int(dt.blocks[i].flags, BLOCK_ATOMIC, "md: a table is atomic");
	is_str(btext(&dt, bfind(&dt, "after the")), "after the table",
	    "md: a line without '|' ends the table");
	is_str(bsec(&dt, bfind(&dt, "Monthly")), "Rent",
	    "md: a new level-2 heading replaces the path");
	is_str(btext(&dt, bfind(&dt, "Monthly")), "Monthly.",
	    "md: text right under a heading is its own block");
	doc_text_release(&dt);

	/* The first h1 gives the title when there is no front matter. */
	ext(&dt, "Preface.\n\n# Lease\n\n## Renewal\n\n### Options\n\n"
	    "Body.\n\n# Appendix\n\n## Forms\n\nForm text.\n",
	    EXTRACT_MARKDOWN);
	is_str(dt.title, "Lease", "md: the first h1 is the title");
	is_str(bsec(&dt, bfind(&dt, "Preface")), NULL,
	    "md: text before any heading has no section");
	is_str(bsec(&dt, bfind(&dt, "Body")), "Renewal > Options",
	    "md: title heading is not in the breadcrumb");
	is_str(bsec(&dt, bfind(&dt, "# Appendix")), "Appendix",
	    "md: a later h1 is a section");
	is_str(bsec(&dt, bfind(&dt, "Form text")), "Appendix > Forms",
	    "md: a later h1 is in breadcrumbs");
	doc_text_release(&dt);

	/* Repeated headings: same text in different places. */
	ext(&dt, "# Doc\n## Setup\n### Notes\nA.\n## Usage\n### Notes\nB.\n"
	    "## Setup\n### Notes\nC.\n", EXTRACT_MARKDOWN);
	is_str(bsec(&dt, bfind(&dt, "A.")), "Setup > Notes",
	    "md: repeated heading, first place");
	is_str(bsec(&dt, bfind(&dt, "B.")), "Usage > Notes",
	    "md: repeated heading, second place");
	ok(dt.blocks[bfind(&dt, "A.")].section ==
	    dt.blocks[bfind(&dt, "C.")].section,
	    "md: identical breadcrumbs share one section");
	is_int(dt.nsections, 4, "md: sections are deduplicated");
	doc_text_line(&dt, 0);
	doc_text_release(&dt);

	/* Setext headings and ATX details. */
	ext(&dt, "Big Title\n=========\n\nIntro.\n\nfirst line\nSub Part\n"
	    "--------\nBody.\n\n## Closed ##\nC.\n\n#hashtag\n\n####### seven\n"
	    "\n    # indented code\n\n   ### three spaces\nT.\n",
	    EXTRACT_MARKDOWN);
	is_str(dt.title, "Big Title", "md: setext h1 gives the title");
	i = bfind(&dt, "Big Title");
	is_str(btext(&dt, i), "Big Title\n=========",
	    "md: a setext heading block holds its underline");
	is_int(dt.blocks[i].flags, BLOCK_HEADING, "md: setext is a heading");
	is_str(btext(&dt, bfind(&dt, "first line")), "first line",
	    "md: lines above a setext heading stay a paragraph");
	is_str(bsec(&dt, bfind(&dt, "Body")), "Sub Part",
	    "md: setext h2 makes a section");
	is_str(bsec(&dt, bfind(&dt, "C.")), "Closed",
	    "md: closing #s are not in the heading");
	ok(dt.blocks[bfind(&dt, "#hashtag")].flags == 0,
	    "md: '#' without a space is no heading");
	ok(dt.blocks[bfind(&dt, "####### seven")].flags == 0,
	    "md: seven #s is no heading");
	ok(dt.blocks[bfind(&dt, "# indented")].flags == 0,
	    "md: four spaces of indent is no heading");
	is_str(bsec(&dt, bfind(&dt, "T.")), "Closed > three spaces",
	    "md: three spaces of indent is a heading");
	doc_text_release(&dt);

	/* Fences: closers, tildes, unclosed. */
	ext(&dt, "````md\n```\n# in\n```\n````\nout\n\n~~~\n## x\n~~~~\n\n"
	    "```\nnever closed\n# still code\n", EXTRACT_MARKDOWN);
	is_str(btext(&dt, 0), "````md\n```\n# in\n```\n````",
	    "md: a shorter fence does not close a longer one");
	is_str(btext(&dt, 1), "out", "md: text after the fence");
	is_str(btext(&dt, 2), "~~~\n## x\n~~~~",
	    "md: a longer closer closes a tilde fence");
	is_str(btext(&dt, 3), "```\nnever closed\n# still code\n",
	    "md: an unclosed fence runs to the end");
	is_int(dt.nsections, 0, "md: no headings inside fences");
	ok(dt.title == NULL, "md: no title from fences");
	doc_text_release(&dt);

	/* Front matter variants. */
	ext(&dt, "---\ntitle: 'Single'\n...\nBody\n", EXTRACT_MARKDOWN);
	is_str(dt.title, "Single", "md: '...' closes front matter");
	is_str(buf_str(&dt.text), "Body\n", "md: front matter removed");
	is_int(tline(&dt, "Body"), 4, "md: first line after front matter");
	doc_text_release(&dt);
	ext(&dt, "---\ntitle: Open\nno end\n", EXTRACT_MARKDOWN);
	ok(dt.title == NULL && strncmp(buf_str(&dt.text), "---", 3) == 0,
	    "md: unclosed front matter is kept as text");
	doc_text_release(&dt);
	ext(&dt, "---\n\nText\n\n---\n", EXTRACT_MARKDOWN);
	ok(strncmp(buf_str(&dt.text), "---", 3) == 0,
	    "md: a thematic break is not front matter");
	doc_text_release(&dt);
	ext(&dt, "---\nauthor: x\n---\n# Head\n", EXTRACT_MARKDOWN);
	is_str(dt.title, "Head", "md: front matter without a title");
	doc_text_release(&dt);
	ext(&dt, "Text\n---\nfoo: bar\n---\n", EXTRACT_MARKDOWN);
	ok(dt.text.len == 22, "md: front matter only at the very start");
	doc_text_release(&dt);

	/* A table needs its delimiter row; a pipe alone is text. */
	ext(&dt, "a | b\nnot a delimiter\n\nx | y\n--- | ---\n1 | 2\n",
	    EXTRACT_MARKDOWN);
	ok(dt.blocks[bfind(&dt, "a | b")].flags == 0,
	    "md: a pipe without a delimiter row is a paragraph");
	is_str(btext(&dt, bfind(&dt, "x | y")), "x | y\n--- | ---\n1 | 2",
	    "md: a table without outer pipes");
	doc_text_release(&dt);
}

static void
test_markdown_lines(void)
{
	struct doc_text dt;
	struct buf src = BUF_INIT;
	const char *p;
	unsigned long want = 4;
	int bad = 0;

	/* A long document: every line's offset maps to its line. */
	buf_adds(&src, "---\ntitle: t\n---\n");
	for (int i = 0; i < 5000; i++) {
		if (i % 50 == 0)
			buf_addf(&src, "## Part %d\n", i);
		else if (i % 7 == 0)
			buf_adds(&src, "\n");
		else
			buf_addf(&src, "line %d of a long paragraph here\n", i);
	}
	ext(&dt, buf_str(&src), EXTRACT_MARKDOWN);
	ok(dt.nmarks < 200, "md: marks stay few (%zu for 5000 lines)",
	    dt.nmarks);
	for (p = buf_str(&dt.text); *p != '\0'; p++) {
		if (doc_text_line(&dt, (size_t)(p - dt.text.data)) != want)
			bad++;
		if (*p == '\n')
			want++;
	}
	is_int(bad, 0, "md: every offset maps to its source line");
	ok(blocks_sane(&dt), "md: long document blocks are sane");
	is_int(doc_text_line(&dt, dt.text.len + 100), want,
	    "md: offsets past the end map to the last line");
	doc_text_release(&dt);
	buf_release(&src);
}

static void
test_max(void)
{
	struct doc_text dt;
	struct rp_err err;

	memset(&dt, 0, sizeof(dt));
	err.msg[0] = '\0';
	is_int(extract(&dt, "0123456789", 10, EXTRACT_TEXT, 5, &err), -1,
	    "max: text over the cap fails");
	is_int(err.code, RP_EXIT_DATA, "max: data error");
	is_str(err.msg, "text is longer than 5 bytes", "max: message");
	doc_text_release(&dt);
	is_int(extract(&dt, "0123456789", 10, EXTRACT_TEXT, 10, &err), 0,
	    "max: text at the cap is fine");
	doc_text_release(&dt);
	is_int(extract(&dt, "---\ntitle: x\n---\n0123", 21, EXTRACT_MARKDOWN,
	    5, &err), 0, "max: front matter does not count");
	doc_text_release(&dt);
	is_int(extract(&dt, "<p>0123456789</p>", 17, EXTRACT_HTML, 10, &err),
	    0, "max: markup does not count");
	doc_text_release(&dt);
	is_int(extract(&dt, "<p>0123456789a</p>", 18, EXTRACT_HTML, 10, &err),
	    -1, "max: HTML text over the cap fails");
	doc_text_release(&dt);
	is_int(extract(&dt, "abc\xff\xff", 5, EXTRACT_CODE, 6, &err), -1,
	    "max: replacement characters count");
	doc_text_release(&dt);
}

static const char boiler[] =
    "<!DOCTYPE html>\n"
    "<html><head><title>Boiler &amp; manual</title>\n"
    "<style>body { color: red; }</style>\n"
    "<script>var s = \"</p> do not index\"; if (a<b) x();</script>\n"
    "</head>\n"
    "<body>\n"
    "<h1>Boiler &amp; manual</h1>\n"
    "<p>The boiler needs a service every twelve months &amp; the pressure\n"
    "should stay between 1&nbsp;and 1.5 bar.</p>\n"
    "<h2>Resetting</h2>\n"
    "<p>Hold the reset button.<br>Then wait.</p>\n"
    "<!-- <p>hidden comment</p>\n"
    "over lines -->\n"
    "<h3>Deep <em>down</em></h3>\n"
    "<div>one</div><div>two</div>\n"
    "<pre>\n"
    "  code &lt;here&gt;\n"
    "    <b>indented</b>\n"
    "</pre>\n"
    "<table><tr><th>item</th><th>cost</th></tr>\n"
    "<tr><td>rent</td><td> 950 </td></tr></table>\n"
    "</body></html>\n";

static void
test_html(void)
{
	struct doc_text dt;
	size_t i;

	ext(&dt, boiler, EXTRACT_HTML);
	ok(blocks_sane(&dt), "html: blocks are sane");
	is_str(dt.title, "Boiler & manual", "html: title from <title>");
	ok(strstr(buf_str(&dt.text), "do not index") == NULL &&
	    strstr(buf_str(&dt.text), "color") == NULL,
	    "html: script and style are dropped");
	ok(strstr(buf_str(&dt.text), "<") == NULL ||
	    strstr(buf_str(&dt.text), "code <here>") != NULL,
	    "html: no markup in the text");
	ok(strstr(buf_str(&dt.text), "hidden") == NULL,
	    "html: comments are dropped");
	i = bfind(&dt, "Boiler & manual");
	ok(i < dt.nblocks && dt.blocks[i].flags == BLOCK_HEADING &&
	    bsec(&dt, i) == NULL, "html: h1 repeating the title: no section");
	is_str(btext(&dt, bfind(&dt, "The boiler")),
	    "The boiler needs a service every twelve months & the pressure "
	    "should stay between 1 and 1.5 bar.",
	    "html: white space collapsed, entities decoded");
	is_str(bsec(&dt, bfind(&dt, "Hold the")), "Resetting",
	    "html: h2 makes a section");
	is_str(btext(&dt, bfind(&dt, "Hold the")),
	    "Hold the reset button.\nThen wait.", "html: <br> breaks a line");
	is_str(bsec(&dt, bfind(&dt, "Deep down")), "Resetting > Deep down",
	    "html: inline markup inside a heading");
	ok(bfind(&dt, "one") != bfind(&dt, "two"),
	    "html: adjacent divs are separate blocks");
	i = bfind(&dt, "code <here>");
	is_str(btext(&dt, i), "  code <here>\n    indented\n",
	    "html: <pre> kept verbatim, entities decoded");
	is_int(dt.blocks[i].flags, BLOCK_ATOMIC | BLOCK_CODE,
	    "html: <pre> is atomic code");
	i = bfind(&dt, "item");
	is_str(btext(&dt, i), "item | cost\nrent | 950",
	    "html: a table is rows of cells");
	is_int(dt.blocks[i].flags, BLOCK_ATOMIC, "html: a table is atomic");
	is_int(tline(&dt, "Boiler & manual"), 7, "html: line of the h1");
	is_int(tline(&dt, "The boiler"), 8, "html: line of a paragraph");
	is_int(tline(&dt, "should stay"), 9, "html: line inside a paragraph");
	is_int(tline(&dt, "Then wait"), 11, "html: line after <br>");
	is_int(tline(&dt, "Deep"), 14, "html: line after a long comment");
	is_int(tline(&dt, "two"), 15, "html: line of inline blocks");
	is_int(tline(&dt, "  code"), 17, "html: <pre> skips its first newline");
	is_int(tline(&dt, "    indented"), 18, "html: line inside <pre>");
	is_int(tline(&dt, "rent"), 21, "html: line of a table row");
	doc_text_release(&dt);
}

static void
test_html_entities(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "&lt;&gt;&quot;&apos;&amp;", "<>\"'&" },
		{ "&#39;&#x27;&#X41;&#65", "''AA" },
		{ "a&nbsp;b", "a b" },
		{ "&copy; &reg; &trade; &hellip;",
		    "\xC2\xA9 \xC2\xAE \xE2\x84\xA2 \xE2\x80\xA6" },
		{ "&mdash;&ndash;&lsquo;&rsquo;&ldquo;&rdquo;",
		    "\xE2\x80\x94\xE2\x80\x93\xE2\x80\x98\xE2\x80\x99"
		    "\xE2\x80\x9C\xE2\x80\x9D" },
		{ "&laquo;&raquo;&bull;&middot;&deg;&times;&divide;",
		    "\xC2\xAB\xC2\xBB\xE2\x80\xA2\xC2\xB7\xC2\xB0\xC3\x97"
		    "\xC3\xB7" },
		{ "&euro;&pound;&cent;&yen;&sect;&para;",
		    "\xE2\x82\xAC\xC2\xA3\xC2\xA2\xC2\xA5\xC2\xA7\xC2\xB6" },
		{ "caf&eacute; &agrave; &uuml; &ccedil; &ntilde; &oslash; "
		    "&szlig; &Eacute;",
		    "caf\xC3\xA9 \xC3\xA0 \xC3\xBC \xC3\xA7 \xC3\xB1 \xC3\xB8 "
		    "\xC3\x9F \xC3\x89" },
		{ "soft&shy;hyphen", "softhyphen" },
		{ "&#0;|&#xD800;|&#x110000;|&#99999999999999;",
		    "\xEF\xBF\xBD|\xEF\xBF\xBD|\xEF\xBF\xBD|\xEF\xBF\xBD" },
		{ "&#150;&#x80;", "\xE2\x80\x93\xE2\x82\xAC" },
		{ "&bogus; AT&T a & b &amp", "&bogus; AT&T a & b &amp" },
		{ "&#; &#x; &", "&#; &#x; &" },
		{ "tab&#9;and&#10;newline", "tab and newline" },
		{ "x &#1; y", "x \xEF\xBF\xBD y" },
	};
	struct doc_text dt;
	char in[256];

	for (size_t i = 0; i < RP_NELEM(cases); i++) {
		snprintf(in, sizeof(in), "<p>%s</p>", cases[i].in);
		ext(&dt, in, EXTRACT_HTML);
		is_str(buf_str(&dt.text), cases[i].out, "html entities: %s",
		    cases[i].in);
		doc_text_release(&dt);
	}
	ext(&dt, "<title>A &amp; B&nbsp;&nbsp;C</title>", EXTRACT_HTML);
	is_str(dt.title, "A & B C", "html: title entities decoded");
	doc_text_release(&dt);
}

static void
test_html_robust(void)
{
	struct doc_text dt;
	struct buf b = BUF_INIT;

	ext(&dt, "<p>a</p><!-- never closed <p>b</p>", EXTRACT_HTML);
	is_str(buf_str(&dt.text), "a", "html: an unclosed comment ends it all");
	doc_text_release(&dt);
	ext(&dt, "<p>a <", EXTRACT_HTML);
	is_str(buf_str(&dt.text), "a <", "html: '<' at the end is text");
	doc_text_release(&dt);
	ext(&dt, "1 < 2 > 0 & a<3 <-- x", EXTRACT_HTML);
	is_str(buf_str(&dt.text), "1 < 2 > 0 & a<3 <-- x",
	    "html: stray '<', '>' and '&' are text");
	doc_text_release(&dt);
	ext(&dt, "<p>text<div class=\"x", EXTRACT_HTML);
	ok(strncmp(buf_str(&dt.text), "text", 4) == 0,
	    "html: a tag cut by the end does not lose the text");
	doc_text_release(&dt);
	ext(&dt, "<a title=\"x > y\" href='a>b'>link</a> after", EXTRACT_HTML);
	is_str(buf_str(&dt.text), "link after",
	    "html: '>' inside quoted attributes");
	doc_text_release(&dt);
	ext(&dt, "<a title=\"never closed>one</a><p>two</p>", EXTRACT_HTML);
	ok(strstr(buf_str(&dt.text), "two") != NULL,
	    "html: an unclosed quote does not eat the document");
	doc_text_release(&dt);
	ext(&dt, "<P>Upper</P><SCRIPT>bad()</Script ><DIV>Case</DIV>"
	    "<H2>Head</H2>x", EXTRACT_HTML);
	is_str(buf_str(&dt.text), "Upper\n\nCase\n\nHead\n\nx",
	    "html: tag names are case-insensitive");
	is_str(bsec(&dt, bfind(&dt, "x")), "Head", "html: upper-case heading");
	doc_text_release(&dt);
	ext(&dt, "<?xml version=\"1.0\"?><!DOCTYPE html><![CDATA[ cdata ]]>"
	    "<p>ok</p>", EXTRACT_HTML);
	is_str(buf_str(&dt.text), "ok", "html: PI, doctype, CDATA skipped");
	doc_text_release(&dt);
	ext(&dt, "<svg><svg><text>a</text></svg><title>t</title></svg>"
	    "<template><p>tpl</p></template><noscript><p>ns</p></noscript>"
	    "<math><mi>x</mi></math><select><option>opt</select>visible",
	    EXTRACT_HTML);
	is_str(buf_str(&dt.text), "visible",
	    "html: svg, template, noscript, math, select dropped");
	ok(dt.title == NULL, "html: an svg title is not the title");
	doc_text_release(&dt);
	ext(&dt, "<head><title>T</title><meta charset=utf-8>"
	    "<body><h1>Other</h1><h2>Sub</h2>s", EXTRACT_HTML);
	is_str(dt.title, "T", "html: title without </head>");
	is_str(buf_str(&dt.text), "Other\n\nSub\n\ns",
	    "html: <body> ends an unclosed head");
	is_str(bsec(&dt, bfind(&dt, "s")), "Other > Sub",
	    "html: an h1 that differs from the title is a section");
	doc_text_release(&dt);
	ext(&dt, "<head><title>T</title>Body text", EXTRACT_HTML);
	is_str(buf_str(&dt.text), "Body text", "html: text ends the head");
	doc_text_release(&dt);
	ext(&dt, "<h1>First</h1><h2>unclosed <p>para", EXTRACT_HTML);
	is_str(dt.title, "First", "html: first h1 is the title");
	is_str(bsec(&dt, bfind(&dt, "para")), "unclosed",
	    "html: a block tag ends an unclosed heading");
	doc_text_release(&dt);
	ext(&dt, "<h2>Open at the end", EXTRACT_HTML);
	is_int(dt.nsections, 1, "html: a heading open at the end counts");
	doc_text_release(&dt);
	ext(&dt, "<script>never closed <p>x</p>", EXTRACT_HTML);
	is_int(dt.text.len, 0, "html: an unclosed script drops the rest");
	doc_text_release(&dt);
	ext(&dt, "<table><tr><td>a<table><tr><td>in</td></tr></table></td>"
	    "<td>b</td></tr><tr><td>c</td></tr></table><p>after</p>",
	    EXTRACT_HTML);
	is_str(btext(&dt, 0), "a\nin | b\nc", "html: nested tables flatten");
	is_str(btext(&dt, 1), "after", "html: text after a nested table");
	doc_text_release(&dt);
	ext(&dt, "<ul><li>one</li><li>two</li></ul>", EXTRACT_HTML);
	is_int(dt.nblocks, 2, "html: list items are blocks");
	doc_text_release(&dt);

	/* 100000 nested divs: no recursion, no trouble. */
	for (int i = 0; i < 100000; i++)
		buf_adds(&b, "<div>");
	buf_adds(&b, "deep");
	for (int i = 0; i < 100000; i++)
		buf_adds(&b, "</div>");
	ext(&dt, buf_str(&b), EXTRACT_HTML);
	is_str(buf_str(&dt.text), "deep", "html: 100k nested divs");
	doc_text_release(&dt);
	buf_reset(&b);
	for (int i = 0; i < 100000; i++)
		buf_adds(&b, "<svg>");
	buf_adds(&b, "hidden");
	for (int i = 0; i < 100000; i++)
		buf_adds(&b, "</svg>");
	buf_adds(&b, "shown");
	ext(&dt, buf_str(&b), EXTRACT_HTML);
	is_str(buf_str(&dt.text), "shown", "html: 100k nested svgs");
	doc_text_release(&dt);
	buf_reset(&b);
	for (int i = 0; i < 50000; i++)
		buf_adds(&b, "<a x=\"<b y='");
	ext(&dt, buf_str(&b), EXTRACT_HTML);
	ok(blocks_sane(&dt), "html: 50k unclosed quoted tags");
	doc_text_release(&dt);
	buf_reset(&b);
	for (int i = 0; i < 50000; i++)
		buf_adds(&b, "<b <!-- &#x &");
	ext(&dt, buf_str(&b), EXTRACT_HTML);
	ok(blocks_sane(&dt), "html: 50k broken constructs");
	doc_text_release(&dt);
	buf_release(&b);
}

static void
test_code(void)
{
	struct doc_text dt;
	size_t i;
	char line[200];

	ext(&dt, "import os\n\n\ndef read_config(path):\n"
	    "    \"\"\"Read it.\"\"\"\n\n    return 1\n\n\n"
	    "class Cache:\n    def __init__(self):\n        self.items = {}\n"
	    "def after():\n    pass\n", EXTRACT_CODE);
	ok(blocks_sane(&dt), "code: blocks are sane");
	ok(dt.title == NULL, "code: no title");
	is_str(buf_str(&dt.text), "import os\n\n\ndef read_config(path):\n"
	    "    \"\"\"Read it.\"\"\"\n\n    return 1\n\n\n"
	    "class Cache:\n    def __init__(self):\n        self.items = {}\n"
	    "def after():\n    pass\n", "code: text is verbatim");
	is_str(bsec(&dt, 0), NULL, "code: no definition yet");
	is_int(dt.blocks[0].flags, BLOCK_CODE, "code: blocks are code");
	is_str(bsec(&dt, bfind(&dt, "def read")), "def read_config(path):",
	    "code: a def is a section");
	is_str(bsec(&dt, bfind(&dt, "return 1")), "def read_config(path):",
	    "code: a block inside a function keeps its section");
	is_str(bsec(&dt, bfind(&dt, "self.items")), "class Cache:",
	    "code: an indented def is not a section");
	i = bfind(&dt, "def after");
	ok(i != bfind(&dt, "self.items"),
	    "code: a top-level def after indented lines starts a block");
	is_str(bsec(&dt, i), "def after():", "code: its section");
	is_int(tline(&dt, "class Cache"), 10, "code: lines");
	doc_text_release(&dt);

	ext(&dt, "/* comment */\n#include <stdio.h>\n\nstatic int\n"
	    "foo(int a,\n    int b)\n{\n\tif (a)\n\t\treturn b;\n\n"
	    "\treturn 0;\n}\nint\nmain(void)\n{\n\treturn foo(1, 2);\n}\n"
	    "int x;\nif (y)\nz = f(1)\n", EXTRACT_CODE);
	is_str(bsec(&dt, 0), NULL, "code: includes have no section");
	is_str(bsec(&dt, bfind(&dt, "static int")), "foo(int a,",
	    "code: a KNF signature is a section");
	is_str(bsec(&dt, bfind(&dt, "return 0")), "foo(int a,",
	    "code: the body keeps it");
	is_str(bsec(&dt, bfind(&dt, "main(void)")), "main(void)",
	    "code: after a closing brace a new block and section");
	is_int(dt.nsections, 2, "code: declarations and statements are not "
	    "definitions");
	doc_text_release(&dt);

	ext(&dt, "package main\n\nfunc (r *T) Name() string {\n}\n\n"
	    "pub fn run() {\n}\n\nimpl Foo for Bar {\n}\n\n"
	    "export function go() {\n}\n", EXTRACT_CODE);
	is_str(bsec(&dt, bfind(&dt, "func (r")), "func (r *T) Name() string {",
	    "code: Go method");
	is_str(bsec(&dt, bfind(&dt, "pub fn")), "pub fn run() {", "code: Rust");
	is_str(bsec(&dt, bfind(&dt, "impl Foo")), "impl Foo for Bar {",
	    "code: impl");
	is_str(bsec(&dt, bfind(&dt, "export function")),
	    "export function go() {", "code: JavaScript");
	is_str(bsec(&dt, 0), "package main", "code: package");
	doc_text_release(&dt);

	memset(line, 0, sizeof(line));
	memcpy(line, "def ", 4);
	memset(line + 4, 'x', 120);
	memcpy(line + 124, "():\n", 4);
	ext(&dt, line, EXTRACT_CODE);
	is_int(utf8_count(bsec(&dt, 0), strlen(bsec(&dt, 0))), 80,
	    "code: a long definition is cut to 80 characters");
	doc_text_release(&dt);
}

static void
test_guess(void)
{
	static const struct {
		const char *path;
		enum extract_format f;
	} cases[] = {
		{ "notes/a.md", EXTRACT_MARKDOWN },
		{ "README.MARKDOWN", EXTRACT_MARKDOWN },
		{ "x.mdown", EXTRACT_MARKDOWN }, { "x.mkd", EXTRACT_MARKDOWN },
		{ "x.mkdn", EXTRACT_MARKDOWN },
		{ "page.html", EXTRACT_HTML }, { "PAGE.HTM", EXTRACT_HTML },
		{ "a.xhtml", EXTRACT_HTML },
		{ "main.c", EXTRACT_CODE }, { "x.H", EXTRACT_CODE },
		{ "a.py", EXTRACT_CODE }, { "a.rs", EXTRACT_CODE },
		{ "a.go", EXTRACT_CODE }, { "a.tsx", EXTRACT_CODE },
		{ "cfg.yaml", EXTRACT_CODE }, { "x.json", EXTRACT_CODE },
		{ "dir/Makefile", EXTRACT_CODE }, { "makefile", EXTRACT_CODE },
		{ "Dockerfile", EXTRACT_CODE }, { "src/x.Java", EXTRACT_CODE },
		{ "notes.txt", EXTRACT_TEXT }, { "README", EXTRACT_TEXT },
		{ "a.b/c", EXTRACT_TEXT }, { ".md", EXTRACT_TEXT },
		{ "x.weird", EXTRACT_TEXT }, { "", EXTRACT_TEXT },
		{ "file.", EXTRACT_TEXT },
	};

	for (size_t i = 0; i < RP_NELEM(cases); i++)
		is_int(extract_guess(cases[i].path), cases[i].f, "guess: '%s'",
		    cases[i].path);
	is_int(extract_format_parse("md"), EXTRACT_MARKDOWN, "parse: md");
	is_int(extract_format_parse("markdown"), EXTRACT_MARKDOWN,
	    "parse: markdown");
	is_int(extract_format_parse("auto"), EXTRACT_AUTO, "parse: auto");
	is_int(extract_format_parse("html"), EXTRACT_HTML, "parse: html");
	is_int(extract_format_parse("code"), EXTRACT_CODE, "parse: code");
	is_int(extract_format_parse("text"), EXTRACT_TEXT, "parse: text");
	is_int(extract_format_parse("pdf"), -1, "parse: unknown");
	is_str(extract_format_name(EXTRACT_MARKDOWN), "markdown", "name: md");
	is_str(extract_format_name(EXTRACT_AUTO), "auto", "name: auto");
	for (int f = EXTRACT_AUTO; f <= EXTRACT_CODE; f++)
		is_int(extract_format_parse(extract_format_name(
		    (enum extract_format)f)), f, "name and parse agree: %d", f);
}

static void
test_binary(void)
{
	static const char elf[] = "\x7F" "ELF\x02\x01\x01";
	char buf[600];
	size_t n;

	ok(!extract_is_binary("", 0), "binary: empty is text");
	ok(!extract_is_binary("hello\n", 6), "binary: ASCII is text");
	ok(extract_is_binary("ab\0cd", 5), "binary: a NUL byte");
	ok(extract_is_binary(elf, sizeof(elf)), "binary: ELF header");
	ok(!extract_is_binary("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81"
	    "\xAE\xE6\x96\x87\xE7\xAB\xA0", 18), "binary: CJK text is text");
	ok(!extract_is_binary("Caf\xE9 cr\xE8me br\xFBl\xE9" "e and more words",
	    32), "binary: Latin-1 with accents is text");
	ok(!extract_is_binary("text then \xE6\x97", 12),
	    "binary: a character cut by the sample end is fine");
	ok(!extract_is_binary("\tcol\r\nrow\f\n", 11),
	    "binary: tab, CR, form feed are text");
	for (n = 0; n < sizeof(buf); n++)
		buf[n] = (char)(n % 3 == 0 ? 'a' : 0x80 + (n * 7) % 64);
	ok(extract_is_binary(buf, sizeof(buf)),
	    "binary: mostly invalid UTF-8");
	for (n = 0; n < sizeof(buf); n++)
		buf[n] = (char)(n % 2 ? 'a' : 1 + n % 8);
	ok(extract_is_binary(buf, sizeof(buf)), "binary: mostly controls");
	for (n = 0; n < sizeof(buf); n++)
		buf[n] = (char)(n % 10 == 0 ? 0x1B : 'a');
	ok(!extract_is_binary(buf, sizeof(buf)),
	    "binary: a few escapes are text");
}

/* Marks sorted from 0; lines never go back between text characters. */
static int
marks_sane(const struct doc_text *dt)
{
	unsigned long line, prev = 0;

	if (dt->nmarks > 0 && dt->marks[0].off != 0)
		return 0;
	for (size_t i = 1; i < dt->nmarks; i++)
		if (dt->marks[i].off <= dt->marks[i - 1].off)
			return 0;
	for (size_t i = 0; i < dt->text.len; i++) {
		if (dt->text.data[i] == ' ' || dt->text.data[i] == '\n')
			continue;
		line = doc_text_line(dt, i);
		if (line < prev || line == 0)
			return 0;
		prev = line;
	}
	return 1;
}

static void
test_fuzz(void)
{
	static const char *bits[] = { "<", ">", "&", "&amp;", "&#", "&#x1F600;",
	    "<p>", "</p>", "<pre>", "</pre>", "<table>", "<tr>", "<td>",
	    "</table>", "<h2>", "</h2>", "<h1>", "<!--", "-->", "<script>",
	    "</script>", "<svg>", "</svg>", "\"", "'", "=", " ", "\n", "\r\n",
	    "\t", "#", "## ", "```", "~~~", "|", "|---|", "---", "===", "word",
	    "\xC3\xA9", "\xE6\x97\xA5", "\xFF", "\xE2\x82", "<br>", "<title>",
	    "</title>", "<head>", "def f(x):\n", "    ", "}\n", "<a href=\"",
	    "<![CDATA[", "]]>", "<?", "<!DOCTYPE", "\0", "&nbsp;",
	    "title: x\n" };
	static const enum extract_format fmts[] = { EXTRACT_TEXT,
	    EXTRACT_MARKDOWN, EXTRACT_HTML, EXTRACT_CODE };
	struct doc_text dt;
	struct buf b = BUF_INIT;
	struct rp_err err;
	const char *p;
	int bad;

	srand(99);
	for (size_t f = 0; f < RP_NELEM(fmts); f++) {
		bad = 0;
		for (int round = 0; round < 300; round++) {
			buf_reset(&b);
			for (int k = rand() % 300; k >= 0; k--) {
				p = bits[rand() % RP_NELEM(bits)];
				buf_add(&b, p, *p == '\0' ? 1 : strlen(p));
			}
			memset(&dt, 0, sizeof(dt));
			if (extract(&dt, b.data, b.len, fmts[f], 0, &err) != 0)
				bad++;
			p = buf_str(&dt.text);
			if (!blocks_sane(&dt) || !marks_sane(&dt) ||
			    memchr(p, '\0', dt.text.len) != NULL ||
			    memchr(p, '\r', dt.text.len) != NULL)
				bad++;
			for (size_t i = 0; i < dt.nsections; i++)
				if (!utf8_valid(dt.sections[i],
				    strlen(dt.sections[i])))
					bad++;
			if (dt.title != NULL && !utf8_valid(dt.title,
			    strlen(dt.title)))
				bad++;
			doc_text_release(&dt);
		}
		is_int(bad, 0, "fuzz: %s from random pieces stays sane",
		    extract_format_name(fmts[f]));
	}
	buf_release(&b);
}

int
main(void)
{
	test_text();
	test_markdown();
	test_markdown_lines();
	test_max();
	test_html();
	test_html_entities();
	test_html_robust();
	test_code();
	test_guess();
	test_binary();
	test_fuzz();
	return tap_done();
}
