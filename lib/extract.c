/* extract: text, blocks, sections, title and line map of a document. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "buf.h"
#include "utf8.h"
#include "extract.h"

#define MARK_GAP	2048	/* most bytes between two line marks */
#define HEAD_MAX	200	/* bytes of a heading kept in a breadcrumb */
#define DEF_MAX		80	/* characters of a definition line kept */
#define LEVELS		6	/* heading levels */
#define NPOS		((size_t)-1)

struct heading {
	int	 level;
	int	 title;		/* supplied the title: not in breadcrumbs */
	char	*text;
};

/* A document being built: growth of its arrays, and the heading path. */
struct xb {
	struct doc_text	*dt;
	size_t		 bcap, scap, mcap;
	struct heading	 stack[LEVELS];
	int		 depth;
	int		 section;	/* the current section, -1: none */
	int		 h1seen;	/* the first level-1 heading was seen */
	size_t		*htab;		/* section index + 1 by hash, 0: free */
	size_t		 hcap;
};

static int
is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alnum(int c)
{
	return is_alpha(c) || is_digit(c);
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c;
}

/* Compare S[0..N) with the lower-case word W, ignoring ASCII case. */
static int
eq_ci(const char *s, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n && w[i] != '\0'; i++)
		if (lower((unsigned char)s[i]) != w[i])
			return 0;
	return i == n && w[i] == '\0';
}

static size_t
count_nl(const char *s, size_t n)
{
	const char *p = s, *e = s + n;
	size_t c = 0;

	while (p < e && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		c++;
		p++;
	}
	return c;
}

/* The end of the line starting at P (the "\n" or N). */
static size_t
line_end(const char *t, size_t n, size_t p)
{
	const char *q = memchr(t + p, '\n', n - p);

	return q != NULL ? (size_t)(q - t) : n;
}

static int
blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_ws((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * S[0..N) with white space runs made single spaces, trimmed, and cut to
 * at most MAX bytes on a character boundary.  Caller frees.
 */
static char *
norm_text(const char *s, size_t n, size_t max)
{
	char *r = xmalloc(RP_MIN(n, max) + 1);
	size_t i, o = 0;
	int sp = 0;

	for (i = 0; i < n && o < max; i++) {
		if (is_ws((unsigned char)s[i])) {
			sp = o > 0;
			continue;
		}
		if (sp) {
			r[o++] = ' ';
			sp = 0;
			if (o == max)
				break;
		}
		r[o++] = s[i];
	}
	if (i < n && o > 0) {
		/* Cut: never keep part of a character. */
		size_t k = o - 1, len;
		unsigned char c;

		while (k > 0 && ((unsigned char)r[k] & 0xC0) == 0x80)
			k--;
		c = (unsigned char)r[k];
		len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		if (k + len > o)
			o = k;
		while (o > 0 && r[o - 1] == ' ')
			o--;
	}
	r[o] = '\0';
	return r;
}

static void
xb_block(struct xb *x, size_t start, size_t end, unsigned flags, int section)
{
	struct doc_text *dt = x->dt;

	if (end <= start)
		return;
	if (dt->nblocks == x->bcap) {
		x->bcap = x->bcap == 0 ? 64 : x->bcap * 2;
		dt->blocks = xreallocarray(dt->blocks, x->bcap,
		    sizeof(*dt->blocks));
	}
	dt->blocks[dt->nblocks].start = start;
	dt->blocks[dt->nblocks].end = end;
	dt->blocks[dt->nblocks].section = section;
	dt->blocks[dt->nblocks].flags = flags;
	dt->nblocks++;
}

static void
xb_mark(struct xb *x, size_t off, unsigned long line)
{
	struct doc_text *dt = x->dt;

	if (dt->nmarks > 0 && dt->marks[dt->nmarks - 1].off >= off) {
		dt->marks[dt->nmarks - 1].line = line;
		return;
	}
	if (dt->nmarks == x->mcap) {
		x->mcap = x->mcap == 0 ? 64 : x->mcap * 2;
		dt->marks = xreallocarray(dt->marks, x->mcap,
		    sizeof(*dt->marks));
	}
	dt->marks[dt->nmarks].off = off;
	dt->marks[dt->nmarks].line = line;
	dt->nmarks++;
}

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* The index of section S, added if new; takes S. */
static int
xb_intern(struct xb *x, char *s)
{
	struct doc_text *dt = x->dt;
	size_t i, mask, *t;

	if (dt->nsections >= INT32_MAX) {
		free(s);
		return -1;
	}
	if (dt->nsections >= x->hcap / 2) {
		/* Grow and rehash. */
		size_t ncap = x->hcap == 0 ? 64 : x->hcap * 2;

		t = xcalloc(ncap, sizeof(*t));
		for (size_t k = 0; k < dt->nsections; k++) {
			i = hash_str(dt->sections[k]) & (ncap - 1);
			while (t[i] != 0)
				i = (i + 1) & (ncap - 1);
			t[i] = k + 1;
		}
		free(x->htab);
		x->htab = t;
		x->hcap = ncap;
	}
	mask = x->hcap - 1;
	for (i = hash_str(s) & mask; x->htab[i] != 0; i = (i + 1) & mask) {
		if (strcmp(dt->sections[x->htab[i] - 1], s) == 0) {
			free(s);
			return (int)(x->htab[i] - 1);
		}
	}
	if (dt->nsections == x->scap) {
		x->scap = x->scap == 0 ? 16 : x->scap * 2;
		dt->sections = xreallocarray(dt->sections, x->scap,
		    sizeof(*dt->sections));
	}
	dt->sections[dt->nsections] = s;
	x->htab[i] = ++dt->nsections;
	return (int)(dt->nsections - 1);
}

/*
 * Whether a level-1 heading TEXT repeats the title: the same words, or
 * the start of a title such as "Manual - Example Corp".
 */
static int
title_match(const char *title, const char *text)
{
	size_t i;

	for (i = 0; text[i] != '\0'; i++)
		if (lower((unsigned char)title[i]) !=
		    lower((unsigned char)text[i]))
			return 0;
	return title[i] == '\0' ||
	    (!is_alnum((unsigned char)title[i]) &&
	    (unsigned char)title[i] < 0x80);
}

/*
 * A heading of LEVEL with text S[0..N): update the heading path and
 * return the section it starts (also the current section from now on).
 * The first level-1 heading supplies the title when there is none yet,
 * and stays out of the breadcrumbs when it supplied or repeats it.
 */
static int
xb_heading(struct xb *x, int level, const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	char *t;
	int title = 0;

	t = norm_text(s, n, HEAD_MAX);
	if (*t == '\0') {
		free(t);
		return x->section;
	}
	level = level < 1 ? 1 : level > LEVELS ? LEVELS : level;
	if (level == 1 && !x->h1seen) {
		x->h1seen = 1;
		if (x->dt->title == NULL) {
			x->dt->title = xstrdup(t);
			title = 1;
		} else
			title = title_match(x->dt->title, t);
	}
	while (x->depth > 0 && x->stack[x->depth - 1].level >= level)
		free(x->stack[--x->depth].text);
	x->stack[x->depth].level = level;
	x->stack[x->depth].title = title;
	x->stack[x->depth].text = t;
	x->depth++;
	for (int i = 0; i < x->depth; i++) {
		if (x->stack[i].title)
			continue;
		if (b.len > 0)
			buf_adds(&b, " > ");
		buf_adds(&b, x->stack[i].text);
	}
	x->section = b.len == 0 ? -1 : xb_intern(x, buf_detach(&b, NULL));
	buf_release(&b);
	return x->section;
}

/*
 * Add marks so that no two are more than MARK_GAP bytes apart, which
 * bounds the "\n" counting in doc_text_line.
 */
static void
xb_dense_marks(struct xb *x)
{
	struct doc_text *dt = x->dt;
	struct line_mark *old = dt->marks;
	size_t n = dt->nmarks, next, off;
	unsigned long line;
	const char *t = dt->text.data;

	dt->marks = NULL;
	dt->nmarks = x->mcap = 0;
	for (size_t i = 0; i < n; i++) {
		off = old[i].off;
		line = old[i].line;
		xb_mark(x, off, line);
		next = i + 1 < n ? old[i + 1].off : dt->text.len;
		while (next > off && next - off > MARK_GAP) {
			line += count_nl(t + off, MARK_GAP);
			off += MARK_GAP;
			xb_mark(x, off, line);
		}
	}
	free(old);
}

static void
xb_release(struct xb *x)
{
	while (x->depth > 0)
		free(x->stack[--x->depth].text);
	free(x->htab);
	x->htab = NULL;
	x->hcap = 0;
}

/* Plain text: paragraphs (runs of non-blank lines) are the blocks. */
static void
parse_text(struct xb *x)
{
	const char *t = x->dt->text.data;
	size_t n = x->dt->text.len, p = 0, le, start = 0, end = 0;
	int open = 0;

	while (p < n) {
		le = line_end(t, n, p);
		if (blank(t + p, le - p)) {
			if (open)
				xb_block(x, start, end, 0, -1);
			open = 0;
		} else {
			if (!open)
				start = p;
			open = 1;
			end = le;
		}
		p = le + 1;
	}
	if (open)
		xb_block(x, start, end, 0, -1);
}

/* Skip at most 3 leading spaces of S[0..N); NPOS if there are more. */
static size_t
md_indent(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] == ' ')
		i++;
	return i > 3 || (i < n && s[i] == '\t') ? NPOS : i;
}

/* A fence opener: sets the fence character and length. */
static int
md_fence_open(const char *s, size_t n, char *ch, size_t *len)
{
	size_t i = md_indent(s, n), k;

	if (i == NPOS || i >= n || (s[i] != '`' && s[i] != '~'))
		return 0;
	for (k = i; k < n && s[k] == s[i]; k++)
		;
	if (k - i < 3)
		return 0;
	/* A backtick fence's info string has no backtick. */
	if (s[i] == '`' && memchr(s + k, '`', n - k) != NULL)
		return 0;
	*ch = s[i];
	*len = k - i;
	return 1;
}

static int
md_fence_close(const char *s, size_t n, char ch, size_t len)
{
	size_t i = md_indent(s, n), k;

	if (i == NPOS)
		return 0;
	for (k = i; k < n && s[k] == ch; k++)
		;
	return k - i >= len && blank(s + k, n - k);
}

/*
 * An ATX heading: returns its level (1 to 6) and sets its text to
 * S[*TS..*TE) without a closing run of '#'; 0 if S is not one.
 */
static int
md_atx(const char *s, size_t n, size_t *ts, size_t *te)
{
	size_t i = md_indent(s, n), k, e, c;
	int level;

	if (i == NPOS || i >= n || s[i] != '#')
		return 0;
	for (k = i; k < n && s[k] == '#'; k++)
		;
	if (k - i > LEVELS || (k < n && s[k] != ' ' && s[k] != '\t'))
		return 0;
	level = (int)(k - i);
	e = n;
	while (e > k && is_ws((unsigned char)s[e - 1]))
		e--;
	/* A closing run of '#' after a space, or alone, is dropped. */
	for (c = e; c > k && s[c - 1] == '#'; c--)
		;
	if (c < e && (c == k || s[c - 1] == ' ' || s[c - 1] == '\t'))
		e = c;
	while (k < e && is_ws((unsigned char)s[k]))
		k++;
	while (e > k && is_ws((unsigned char)s[e - 1]))
		e--;
	*ts = k;
	*te = e;
	return level;
}

/* A setext underline: 1 for "===", 2 for "---", else 0. */
static int
md_setext(const char *s, size_t n)
{
	size_t i = md_indent(s, n), k;

	if (i == NPOS || i >= n || (s[i] != '=' && s[i] != '-'))
		return 0;
	for (k = i; k < n && s[k] == s[i]; k++)
		;
	if (!blank(s + k, n - k) || (s[i] == '-' && k - i < 2))
		return 0;
	return s[i] == '=' ? 1 : 2;
}

/* A table delimiter row such as "|---|:--:|" or "--- | ---". */
static int
md_delim_row(const char *s, size_t n)
{
	int dash = 0, bar = 0;

	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '-':
			dash = 1;
			break;
		case '|':
			bar = 1;
			break;
		case ':':
		case ' ':
		case '\t':
			break;
		default:
			return 0;
		}
	}
	return dash && bar;
}

/* A front matter delimiter line: "---" (or "..." to close). */
static int
fm_line(const char *s, size_t n, int closing)
{
	if (n < 3 || (memcmp(s, "---", 3) != 0 &&
	    (!closing || memcmp(s, "...", 3) != 0)))
		return 0;
	return blank(s + 3, n - 3);
}

/*
 * YAML front matter at the start of the text: set the title from its
 * "title:" line and return the bytes it takes (0 if there is none).
 */
static size_t
md_front_matter(struct xb *x)
{
	const char *t = x->dt->text.data, *v;
	size_t n = x->dt->text.len, p, le, vn;

	if (n == 0 || !fm_line(t, line_end(t, n, 0), 0))
		return 0;
	p = line_end(t, n, 0) + 1;
	/* "---" and a blank line is a thematic break, not front matter. */
	if (p >= n || blank(t + p, line_end(t, n, p) - p))
		return 0;
	for (; p < n; p = le + 1) {
		le = line_end(t, n, p);
		if (fm_line(t + p, le - p, 1))
			return le < n ? le + 1 : n;
		if (le - p < 6 || memcmp(t + p, "title:", 6) != 0 ||
		    x->dt->title != NULL)
			continue;
		v = t + p + 6;
		vn = le - p - 6;
		while (vn > 0 && is_ws((unsigned char)*v)) {
			v++;
			vn--;
		}
		while (vn > 0 && is_ws((unsigned char)v[vn - 1]))
			vn--;
		if (vn >= 2 && (v[0] == '"' || v[0] == '\'') &&
		    v[vn - 1] == v[0]) {
			v++;
			vn -= 2;
		}
		if (vn > 0 && *v != '|' && *v != '>')
			x->dt->title = norm_text(v, vn, vn);
		if (x->dt->title != NULL && *x->dt->title == '\0') {
			free(x->dt->title);
			x->dt->title = NULL;
		}
	}
	/* No closing line: not front matter after all. */
	free(x->dt->title);
	x->dt->title = NULL;
	return 0;
}

/* Markdown parser state: the open paragraph, fence or table. */
struct md {
	struct xb	*x;
	int		 para;		/* a paragraph is open */
	size_t		 pstart;	/* its first line */
	size_t		 plast;		/* start of its last line */
	size_t		 pend;		/* end of its last line */
	size_t		 pprev;		/* end of the line before the last */
};

static void
md_close_para(struct md *m)
{
	if (m->para)
		xb_block(m->x, m->pstart, m->pend, 0, m->x->section);
	m->para = 0;
}

/*
 * Markdown: headings (ATX and setext), fenced code and tables as
 * atomic blocks, paragraphs between blank lines.  One pass, line by
 * line, with one line of lookahead for table delimiter rows.
 */
static void
parse_markdown(struct xb *x)
{
	const char *t = x->dt->text.data;
	size_t n = x->dt->text.len, p = 0, le, next, ts, te, flen = 0;
	size_t fstart = 0, tstart = 0, tend = 0, nle;
	struct md m = { .x = x };
	int fence = 0, table = 0, level;
	char fch = 0;

	for (; p < n; p = next) {
		le = line_end(t, n, p);
		next = le + 1;
		if (fence) {
			if (md_fence_close(t + p, le - p, fch, flen)) {
				xb_block(x, fstart, le, BLOCK_ATOMIC |
				    BLOCK_CODE, x->section);
				fence = 0;
			}
			continue;
		}
		if (table) {
			if (!blank(t + p, le - p) &&
			    memchr(t + p, '|', le - p) != NULL) {
				tend = le;
				continue;
			}
			xb_block(x, tstart, tend, BLOCK_ATOMIC, x->section);
			table = 0;
		}
		if (blank(t + p, le - p)) {
			md_close_para(&m);
			continue;
		}
		if (md_fence_open(t + p, le - p, &fch, &flen)) {
			md_close_para(&m);
			fence = 1;
			fstart = p;
			continue;
		}
		if ((level = md_atx(t + p, le - p, &ts, &te)) > 0) {
			md_close_para(&m);
			xb_block(x, p, le, BLOCK_HEADING,
			    xb_heading(x, level, t + p + ts, te - ts));
			continue;
		}
		if (m.para && (level = md_setext(t + p, le - p)) > 0) {
			/* The paragraph's last line is the heading. */
			if (m.plast > m.pstart)
				xb_block(x, m.pstart, m.pprev, 0, x->section);
			m.para = 0;
			xb_block(x, m.plast, le, BLOCK_HEADING, xb_heading(x,
			    level, t + m.plast, m.pend - m.plast));
			continue;
		}
		if (next < n && memchr(t + p, '|', le - p) != NULL) {
			nle = line_end(t, n, next);
			if (md_delim_row(t + next, nle - next)) {
				md_close_para(&m);
				table = 1;
				tstart = p;
				tend = nle;
				next = nle + 1;
				continue;
			}
		}
		if (!m.para) {
			m.para = 1;
			m.pstart = p;
		} else
			m.pprev = m.pend;
		m.plast = p;
		m.pend = le;
	}
	md_close_para(&m);
	if (fence)
		xb_block(x, fstart, n, BLOCK_ATOMIC | BLOCK_CODE, x->section);
	if (table)
		xb_block(x, tstart, tend, BLOCK_ATOMIC, x->section);
}

/* Control words that begin statements, not definitions. */
static const char *const code_stmt[] = {
	"and", "assert", "await", "begin", "case", "catch", "default",
	"delete", "do", "done", "echo", "elif", "else", "end", "esac",
	"except", "fi", "finally", "for", "foreach", "from", "goto", "if",
	"import", "in", "include", "is", "local", "new", "not", "or",
	"print", "raise", "require", "return", "sizeof", "switch", "then",
	"throw", "try", "unless", "until", "use", "using", "while", "with",
	"yield",
};

/* Line starts that introduce a definition. */
static const char *const code_def[] = {
	"(defmacro ", "(defn ", "(defun ", "(define ", "abstract ",
	"async def ", "async fn ", "async function ", "class ",
	"const fn ", "data class ", "def ", "defmacro ", "defmodule ",
	"defp ", "enum ", "export async function ", "export class ",
	"export default ", "export enum ", "export function ",
	"export interface ", "export type ", "extern fn ", "final ",
	"fn ", "func ", "function ", "function* ", "impl ", "impl<",
	"interface ", "internal ", "macro_rules! ", "mod ", "module ",
	"namespace ", "object ", "open class ", "package ", "private ",
	"proc ", "protected ", "pub ", "pub(crate) ", "public ",
	"sealed ", "struct ", "sub ", "template", "trait ", "type ",
	"union ", "unsafe fn ", "unsafe impl ",
};

static int
code_def_line(const char *s, size_t n)
{
	size_t i, w;

	while (n > 0 && is_ws((unsigned char)s[n - 1]))
		n--;
	if (n == 0 || s[n - 1] == ';')
		return 0;
	for (i = 0; i < RP_NELEM(code_def); i++) {
		w = strlen(code_def[i]);
		if (n >= w && memcmp(s, code_def[i], w) == 0)
			return 1;
	}
	/* A C-like signature: an identifier, then '(' with no '=' first. */
	if (!is_alpha((unsigned char)s[0]) && s[0] != '_')
		return 0;
	for (w = 0; w < n && (is_alnum((unsigned char)s[w]) || s[w] == '_');
	    w++)
		;
	for (i = 0; i < RP_NELEM(code_stmt); i++)
		if (strlen(code_stmt[i]) == w &&
		    memcmp(s, code_stmt[i], w) == 0)
			return 0;
	for (i = 0; i < n && s[i] != '('; i++)
		if (!is_alnum((unsigned char)s[i]) &&
		    strchr("_ \t*&:<>,~[]", s[i]) == NULL)
			return 0;
	return i < n;
}

/* Lines that belong with the definition after them. */
static int
code_attached(const char *s)
{
	return strchr("@#/\"'-;%", s[0]) != NULL;
}

static int
code_closer(const char *s, size_t n)
{
	return s[0] == '}' || (n >= 3 && memcmp(s, "end", 3) == 0 &&
	    (n == 3 || !is_alnum((unsigned char)s[3])));
}

/*
 * Source code: blocks at blank lines, after a top-level closing line,
 * and before a top-level line that follows an indented one; a block's
 * section is the first definition in it, else the one before it.
 */
static void
parse_code(struct xb *x)
{
	const char *t = x->dt->text.data;
	size_t n = x->dt->text.len, p = 0, le, start = 0, end = 0, e;
	int open = 0, bsec = -1, bdef = 0, cur = -1, col0, def;
	int prev_indent = 0, prev_closer = 0;

	for (; p < n; p = le + 1) {
		le = line_end(t, n, p);
		if (blank(t + p, le - p)) {
			if (open)
				xb_block(x, start, end, BLOCK_CODE, bsec);
			open = 0;
			continue;
		}
		col0 = !is_ws((unsigned char)t[p]);
		def = col0 && code_def_line(t + p, le - p);
		if (open && col0 && (prev_closer ||
		    (prev_indent && (def || code_attached(t + p))))) {
			xb_block(x, start, end, BLOCK_CODE, bsec);
			open = 0;
		}
		if (!open) {
			open = 1;
			start = p;
			bsec = cur;
			bdef = 0;
		}
		if (def) {
			e = le;
			while (e > p && is_ws((unsigned char)t[e - 1]))
				e--;
			e = p + utf8_prefix(t + p, e - p, DEF_MAX);
			cur = xb_intern(x, xstrndup(t + p, e - p));
			if (!bdef)
				bsec = cur;
			bdef = 1;
		}
		end = le;
		prev_indent = !col0;
		prev_closer = col0 && code_closer(t + p, le - p);
	}
	if (open)
		xb_block(x, start, end, BLOCK_CODE, bsec);
}

/* Named character references (HTML 4, plus apos and check), sorted. */
struct entity {
	const char	*name;
	int32_t		 cp;
};

static const struct entity entities[] = {
	{ "AElig", 0xC6 }, { "Aacute", 0xC1 }, { "Acirc", 0xC2 },
	{ "Agrave", 0xC0 }, { "Alpha", 0x391 }, { "Aring", 0xC5 },
	{ "Atilde", 0xC3 }, { "Auml", 0xC4 }, { "Beta", 0x392 },
	{ "Ccedil", 0xC7 }, { "Chi", 0x3A7 }, { "Dagger", 0x2021 },
	{ "Delta", 0x394 }, { "ETH", 0xD0 }, { "Eacute", 0xC9 },
	{ "Ecirc", 0xCA }, { "Egrave", 0xC8 }, { "Epsilon", 0x395 },
	{ "Eta", 0x397 }, { "Euml", 0xCB }, { "Gamma", 0x393 },
	{ "Iacute", 0xCD }, { "Icirc", 0xCE }, { "Igrave", 0xCC },
	{ "Iota", 0x399 }, { "Iuml", 0xCF }, { "Kappa", 0x39A },
	{ "Lambda", 0x39B }, { "Mu", 0x39C }, { "Ntilde", 0xD1 },
	{ "Nu", 0x39D }, { "OElig", 0x152 }, { "Oacute", 0xD3 },
	{ "Ocirc", 0xD4 }, { "Ograve", 0xD2 }, { "Omega", 0x3A9 },
	{ "Omicron", 0x39F }, { "Oslash", 0xD8 }, { "Otilde", 0xD5 },
	{ "Ouml", 0xD6 }, { "Phi", 0x3A6 }, { "Pi", 0x3A0 },
	{ "Prime", 0x2033 }, { "Psi", 0x3A8 }, { "Rho", 0x3A1 },
	{ "Scaron", 0x160 }, { "Sigma", 0x3A3 }, { "THORN", 0xDE },
	{ "Tau", 0x3A4 }, { "Theta", 0x398 }, { "Uacute", 0xDA },
	{ "Ucirc", 0xDB }, { "Ugrave", 0xD9 }, { "Upsilon", 0x3A5 },
	{ "Uuml", 0xDC }, { "Xi", 0x39E }, { "Yacute", 0xDD },
	{ "Yuml", 0x178 }, { "Zeta", 0x396 }, { "aacute", 0xE1 },
	{ "acirc", 0xE2 }, { "acute", 0xB4 }, { "aelig", 0xE6 },
	{ "agrave", 0xE0 }, { "alefsym", 0x2135 }, { "alpha", 0x3B1 },
	{ "amp", 0x26 }, { "and", 0x2227 }, { "ang", 0x2220 },
	{ "apos", 0x27 }, { "aring", 0xE5 }, { "asymp", 0x2248 },
	{ "atilde", 0xE3 }, { "auml", 0xE4 }, { "bdquo", 0x201E },
	{ "beta", 0x3B2 }, { "brvbar", 0xA6 }, { "bull", 0x2022 },
	{ "cap", 0x2229 }, { "ccedil", 0xE7 }, { "cedil", 0xB8 },
	{ "cent", 0xA2 }, { "check", 0x2713 }, { "chi", 0x3C7 },
	{ "circ", 0x2C6 }, { "clubs", 0x2663 }, { "cong", 0x2245 },
	{ "copy", 0xA9 }, { "crarr", 0x21B5 }, { "cup", 0x222A },
	{ "curren", 0xA4 }, { "dArr", 0x21D3 }, { "dagger", 0x2020 },
	{ "darr", 0x2193 }, { "deg", 0xB0 }, { "delta", 0x3B4 },
	{ "diams", 0x2666 }, { "divide", 0xF7 }, { "eacute", 0xE9 },
	{ "ecirc", 0xEA }, { "egrave", 0xE8 }, { "empty", 0x2205 },
	{ "emsp", 0x2003 }, { "ensp", 0x2002 }, { "epsilon", 0x3B5 },
	{ "equiv", 0x2261 }, { "eta", 0x3B7 }, { "eth", 0xF0 },
	{ "euml", 0xEB }, { "euro", 0x20AC }, { "exist", 0x2203 },
	{ "fnof", 0x192 }, { "forall", 0x2200 }, { "frac12", 0xBD },
	{ "frac14", 0xBC }, { "frac34", 0xBE }, { "frasl", 0x2044 },
	{ "gamma", 0x3B3 }, { "ge", 0x2265 }, { "gt", 0x3E },
	{ "hArr", 0x21D4 }, { "harr", 0x2194 }, { "hearts", 0x2665 },
	{ "hellip", 0x2026 }, { "iacute", 0xED }, { "icirc", 0xEE },
	{ "iexcl", 0xA1 }, { "igrave", 0xEC }, { "image", 0x2111 },
	{ "infin", 0x221E }, { "int", 0x222B }, { "iota", 0x3B9 },
	{ "iquest", 0xBF }, { "isin", 0x2208 }, { "iuml", 0xEF },
	{ "kappa", 0x3BA }, { "lArr", 0x21D0 }, { "lambda", 0x3BB },
	{ "lang", 0x2329 }, { "laquo", 0xAB }, { "larr", 0x2190 },
	{ "lceil", 0x2308 }, { "ldquo", 0x201C }, { "le", 0x2264 },
	{ "lfloor", 0x230A }, { "lowast", 0x2217 }, { "loz", 0x25CA },
	{ "lrm", 0x200E }, { "lsaquo", 0x2039 }, { "lsquo", 0x2018 },
	{ "lt", 0x3C }, { "macr", 0xAF }, { "mdash", 0x2014 },
	{ "micro", 0xB5 }, { "middot", 0xB7 }, { "minus", 0x2212 },
	{ "mu", 0x3BC }, { "nabla", 0x2207 }, { "nbsp", 0xA0 },
	{ "ndash", 0x2013 }, { "ne", 0x2260 }, { "ni", 0x220B },
	{ "not", 0xAC }, { "notin", 0x2209 }, { "nsub", 0x2284 },
	{ "ntilde", 0xF1 }, { "nu", 0x3BD }, { "oacute", 0xF3 },
	{ "ocirc", 0xF4 }, { "oelig", 0x153 }, { "ograve", 0xF2 },
	{ "oline", 0x203E }, { "omega", 0x3C9 }, { "omicron", 0x3BF },
	{ "oplus", 0x2295 }, { "or", 0x2228 }, { "ordf", 0xAA },
	{ "ordm", 0xBA }, { "oslash", 0xF8 }, { "otilde", 0xF5 },
	{ "otimes", 0x2297 }, { "ouml", 0xF6 }, { "para", 0xB6 },
	{ "part", 0x2202 }, { "permil", 0x2030 }, { "perp", 0x22A5 },
	{ "phi", 0x3C6 }, { "pi", 0x3C0 }, { "piv", 0x3D6 },
	{ "plusmn", 0xB1 }, { "pound", 0xA3 }, { "prime", 0x2032 },
	{ "prod", 0x220F }, { "prop", 0x221D }, { "psi", 0x3C8 },
	{ "quot", 0x22 }, { "rArr", 0x21D2 }, { "radic", 0x221A },
	{ "rang", 0x232A }, { "raquo", 0xBB }, { "rarr", 0x2192 },
	{ "rceil", 0x2309 }, { "rdquo", 0x201D }, { "real", 0x211C },
	{ "reg", 0xAE }, { "rfloor", 0x230B }, { "rho", 0x3C1 },
	{ "rlm", 0x200F }, { "rsaquo", 0x203A }, { "rsquo", 0x2019 },
	{ "sbquo", 0x201A }, { "scaron", 0x161 }, { "sdot", 0x22C5 },
	{ "sect", 0xA7 }, { "shy", 0xAD }, { "sigma", 0x3C3 },
	{ "sigmaf", 0x3C2 }, { "sim", 0x223C }, { "spades", 0x2660 },
	{ "sub", 0x2282 }, { "sube", 0x2286 }, { "sum", 0x2211 },
	{ "sup", 0x2283 }, { "sup1", 0xB9 }, { "sup2", 0xB2 },
	{ "sup3", 0xB3 }, { "supe", 0x2287 }, { "szlig", 0xDF },
	{ "tau", 0x3C4 }, { "there4", 0x2234 }, { "theta", 0x3B8 },
	{ "thetasym", 0x3D1 }, { "thinsp", 0x2009 }, { "thorn", 0xFE },
	{ "tilde", 0x2DC }, { "times", 0xD7 }, { "trade", 0x2122 },
	{ "uArr", 0x21D1 }, { "uacute", 0xFA }, { "uarr", 0x2191 },
	{ "ucirc", 0xFB }, { "ugrave", 0xF9 }, { "uml", 0xA8 },
	{ "upsih", 0x3D2 }, { "upsilon", 0x3C5 }, { "uuml", 0xFC },
	{ "weierp", 0x2118 }, { "xi", 0x3BE }, { "yacute", 0xFD },
	{ "yen", 0xA5 }, { "yuml", 0xFF }, { "zeta", 0x3B6 },
	{ "zwj", 0x200D }, { "zwnj", 0x200C },
};

/* Windows-1252 for references to 0x80..0x9F, as browsers read them. */
static const uint16_t cp1252[32] = {
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

#define ENT_DROP	(-2)	/* a reference that stands for nothing */

static int
entity_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct entity *)elem)->name);
}

static int
hex_value(int c)
{
	if (is_digit(c))
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * The character reference at S[0] == '&': returns the bytes it takes
 * (0 if it is none, so the '&' stays as written) and sets *CP.  White
 * space comes back as ' ', '\t' or '\n'; ENT_DROP means nothing.
 */
static size_t
entity_decode(const char *s, size_t n, int32_t *cp)
{
	const struct entity *e;
	char name[32];
	uint32_t v = 0;
	size_t i = 2, k;
	int d, base = 10, digits = 0;

	if (n < 3)
		return 0;
	if (s[1] == '#') {
		if (s[2] == 'x' || s[2] == 'X') {
			base = 16;
			i++;
		}
		for (; i < n; i++) {
			d = base == 16 ? hex_value((unsigned char)s[i]) :
			    is_digit((unsigned char)s[i]) ? s[i] - '0' : -1;
			if (d < 0)
				break;
			if (v <= 0x10FFFF)
				v = v * (uint32_t)base + (uint32_t)d;
			digits++;
		}
		if (digits == 0)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			*cp = UTF8_REPLACEMENT;
		else if (v >= 0x80 && v <= 0x9F)
			*cp = cp1252[v - 0x80];
		else if (v == '\t' || v == '\n' || v == ' ')
			*cp = (int32_t)v;
		else if (v == '\r' || v == '\f')
			*cp = ' ';
		else if (v < 0x20 || v == 0x7F)
			*cp = UTF8_REPLACEMENT;
		else
			*cp = (int32_t)v;
		return i;
	}
	for (i = 1, k = 0; i < n && k < sizeof(name) - 1 &&
	    is_alnum((unsigned char)s[i]); i++)
		name[k++] = s[i];
	if (k == 0 || i >= n || s[i] != ';')
		return 0;
	name[k] = '\0';
	e = bsearch(name, entities, RP_NELEM(entities), sizeof(entities[0]),
	    entity_cmp);
	if (e == NULL)
		return 0;
	*cp = e->cp == 0xAD ? ENT_DROP : e->cp == 0xA0 ? ' ' : e->cp;
	return i + 1;
}

/* Append S[0..N) to B with character references decoded. */
static void
decode_text(struct buf *b, const char *s, size_t n)
{
	char u[4];
	size_t i = 0, run = 0, len;
	int32_t cp;

	while (i < n) {
		if (s[i] != '&' || (len = entity_decode(s + i, n - i,
		    &cp)) == 0) {
			i++;
			continue;
		}
		buf_add(b, s + run, i - run);
		if (cp != ENT_DROP)
			buf_add(b, u, (size_t)utf8_encode(cp, u));
		i += len;
		run = i;
	}
	buf_add(b, s + run, i - run);
}

enum tag_kind {
	TAG_INLINE = 0,	/* no effect on the text (also unknown tags) */
	TAG_BLOCK,	/* separates paragraphs */
	TAG_HEADING,	/* h1 to h6 */
	TAG_BR,
	TAG_PRE,
	TAG_TABLE,
	TAG_ROW,	/* a table row (a paragraph outside tables) */
	TAG_CELL,
	TAG_RAW,	/* content skipped unparsed up to the end tag */
	TAG_NEST,	/* content dropped, nesting counted */
	TAG_HEAD,
	TAG_TITLE,
	TAG_BODY,
};

struct tag {
	const char	*name;
	unsigned char	 kind;
	unsigned char	 level;
};

static const struct tag tags[] = {
	{ "address", TAG_BLOCK, 0 }, { "article", TAG_BLOCK, 0 },
	{ "aside", TAG_BLOCK, 0 }, { "blockquote", TAG_BLOCK, 0 },
	{ "body", TAG_BODY, 0 }, { "br", TAG_BR, 0 },
	{ "caption", TAG_ROW, 0 }, { "center", TAG_BLOCK, 0 },
	{ "dd", TAG_BLOCK, 0 }, { "details", TAG_BLOCK, 0 },
	{ "dialog", TAG_BLOCK, 0 }, { "div", TAG_BLOCK, 0 },
	{ "dl", TAG_BLOCK, 0 }, { "dt", TAG_BLOCK, 0 },
	{ "fieldset", TAG_BLOCK, 0 }, { "figcaption", TAG_BLOCK, 0 },
	{ "figure", TAG_BLOCK, 0 }, { "footer", TAG_BLOCK, 0 },
	{ "form", TAG_BLOCK, 0 }, { "h1", TAG_HEADING, 1 },
	{ "h2", TAG_HEADING, 2 }, { "h3", TAG_HEADING, 3 },
	{ "h4", TAG_HEADING, 4 }, { "h5", TAG_HEADING, 5 },
	{ "h6", TAG_HEADING, 6 }, { "head", TAG_HEAD, 0 },
	{ "header", TAG_BLOCK, 0 }, { "hgroup", TAG_BLOCK, 0 },
	{ "hr", TAG_BLOCK, 0 }, { "html", TAG_BODY, 0 },
	{ "iframe", TAG_RAW, 0 }, { "legend", TAG_BLOCK, 0 },
	{ "li", TAG_BLOCK, 0 }, { "listing", TAG_PRE, 0 },
	{ "main", TAG_BLOCK, 0 }, { "math", TAG_NEST, 0 },
	{ "menu", TAG_BLOCK, 0 }, { "nav", TAG_BLOCK, 0 },
	{ "noembed", TAG_RAW, 0 }, { "noframes", TAG_RAW, 0 },
	{ "noscript", TAG_RAW, 0 }, { "ol", TAG_BLOCK, 0 },
	{ "option", TAG_BLOCK, 0 }, { "p", TAG_BLOCK, 0 },
	{ "pre", TAG_PRE, 0 }, { "script", TAG_RAW, 0 },
	{ "search", TAG_BLOCK, 0 }, { "section", TAG_BLOCK, 0 },
	{ "select", TAG_NEST, 0 }, { "style", TAG_RAW, 0 },
	{ "summary", TAG_BLOCK, 0 }, { "svg", TAG_NEST, 0 },
	{ "table", TAG_TABLE, 0 }, { "td", TAG_CELL, 0 },
	{ "template", TAG_NEST, 0 }, { "textarea", TAG_RAW, 0 },
	{ "th", TAG_CELL, 0 }, { "title", TAG_TITLE, 0 },
	{ "tr", TAG_ROW, 0 }, { "ul", TAG_BLOCK, 0 }, { "xmp", TAG_PRE, 0 },
};

static int
tag_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct tag *)elem)->name);
}

/* The next C at or after FROM, remembered so that scans stay linear. */
struct memo {
	int	valid;
	size_t	from, at;
};

static size_t
memo_find(struct memo *m, const char *s, size_t n, size_t from, char c)
{
	const char *p;

	if (from >= n)
		return NPOS;
	if (m->valid && from >= m->from && (m->at == NPOS || m->at >= from))
		return m->at;
	p = memchr(s + from, c, n - from);
	m->valid = 1;
	m->from = from;
	m->at = p != NULL ? (size_t)(p - s) : NPOS;
	return m->at;
}

/* The first PAT at or after FROM in S[0..N), or NPOS. */
static size_t
find_str(const char *s, size_t n, size_t from, const char *pat)
{
	size_t len = strlen(pat);
	const char *p;

	while (from + len <= n &&
	    (p = memchr(s + from, pat[0], n - from - len + 1)) != NULL) {
		if (memcmp(p, pat, len) == 0)
			return (size_t)(p - s);
		from = (size_t)(p - s) + 1;
	}
	return NPOS;
}

/* HTML scanner state. */
struct hx {
	struct xb	*x;
	struct buf	*out;		/* the extracted text */
	const char	*s;		/* the cleaned source */
	size_t		 n;
	size_t		 lpos;		/* lines are counted up to here */
	unsigned long	 line;		/* the source line at lpos */
	unsigned long	 eline;		/* the line mapped to the output end */
	int		 err;		/* the output reached its cap */
	int		 open;		/* a block is open at bstart */
	size_t		 bstart;
	unsigned	 bflags;
	int		 brk;		/* a line break is pending */
	int		 sep;		/* a table cell separator is pending */
	int		 space;		/* a collapsed space is pending */
	int		 pre, table;	/* open <pre> and <table> elements */
	int		 cells;		/* cells so far in the table row */
	int		 hlevel;	/* inside <hN>: N */
	const struct tag *drop;		/* content dropped up to its end tag */
	size_t		 ddepth;
	int		 quotes_broken;	/* an unclosed quote ran to the end */
	struct memo	 gt, dq, sq;	/* next '>', '"' and '\'' */
};

static unsigned long
hx_line(struct hx *h, size_t src)
{
	if (src > h->lpos) {
		h->line += count_nl(h->s + h->lpos, src - h->lpos);
		h->lpos = src;
	}
	return h->line;
}

static void
hx_add(struct hx *h, const char *p, size_t n)
{
	if (!h->err && buf_add(h->out, p, n) != 0)
		h->err = 1;
}

/*
 * Output text P[0..LEN) that comes from source offset SRC: open a block
 * if none is, put out what is pending, and mark the source line.
 */
static void
hx_put(struct hx *h, const char *p, size_t len, size_t src)
{
	unsigned long line;

	if (h->err || len == 0)
		return;
	if (!h->open) {
		if (h->out->len > 0) {
			hx_add(h, "\n\n", 2);
			h->eline += 2;
		}
		h->open = 1;
		h->bstart = h->out->len;
		h->bflags = h->pre > 0 ? BLOCK_ATOMIC | BLOCK_CODE :
		    h->table > 0 ? BLOCK_ATOMIC :
		    h->hlevel > 0 ? BLOCK_HEADING : 0;
	} else if (h->brk) {
		hx_add(h, "\n", 1);
		h->eline++;
	} else if (h->sep)
		hx_add(h, " | ", 3);
	else if (h->space)
		hx_add(h, " ", 1);
	h->brk = h->sep = h->space = 0;
	line = hx_line(h, src);
	if (line != h->eline) {
		xb_mark(h->x, h->out->len, line);
		h->eline = line;
	}
	hx_add(h, p, len);
	h->eline += count_nl(p, len);
}

/* End the open block; a heading block also sets the section. */
static void
hx_close(struct hx *h)
{
	int sec = h->x->section;

	if (h->open && !h->err) {
		if (h->bflags & BLOCK_HEADING)
			sec = xb_heading(h->x, h->hlevel, h->out->data +
			    h->bstart, h->out->len - h->bstart);
		xb_block(h->x, h->bstart, h->out->len, h->bflags, sec);
	}
	h->open = h->brk = h->sep = h->space = 0;
}

static void
hx_end_heading(struct hx *h)
{
	hx_close(h);
	h->hlevel = 0;
}

/* Where "</NAME" starts at or after FROM (N if nowhere). */
static size_t
hx_find_close(struct hx *h, const char *name, size_t from)
{
	const char *s = h->s, *p;
	size_t n = h->n, len = strlen(name), k;

	while (from < n && (p = memchr(s + from, '<', n - from)) != NULL) {
		k = (size_t)(p - s);
		if (k + 2 + len <= n && s[k + 1] == '/' &&
		    eq_ci(s + k + 2, len, name) && (k + 2 + len == n ||
		    is_ws((unsigned char)s[k + 2 + len]) ||
		    s[k + 2 + len] == '>' || s[k + 2 + len] == '/'))
			return k;
		from = k + 1;
	}
	return n;
}

/* Past the end tag of raw text element NAME whose content starts at K. */
static size_t
hx_skip_raw(struct hx *h, const char *name, size_t k)
{
	size_t e = hx_find_close(h, name, k), gt;

	if (e >= h->n)
		return h->n;
	gt = memo_find(&h->gt, h->s, h->n, e + 2 + strlen(name), '>');
	return gt == NPOS ? h->n : gt + 1;
}

/* <title>: the document title, if it has none yet. */
static size_t
hx_title(struct hx *h, size_t k)
{
	struct buf b = BUF_INIT;
	size_t e = hx_find_close(h, "title", k);
	char *t;

	if (h->x->dt->title == NULL) {
		decode_text(&b, h->s + k, e - k);
		t = norm_text(buf_str(&b), b.len, 1024);
		if (*t != '\0')
			h->x->dt->title = t;
		else
			free(t);
		buf_release(&b);
	}
	return hx_skip_raw(h, "title", k);
}

static size_t
hx_start(struct hx *h, const struct tag *t, int selfclose, size_t after)
{
	int kind = t != NULL ? t->kind : TAG_INLINE;

	if (h->drop != NULL) {
		if (t == h->drop) {
			if (!selfclose)
				h->ddepth++;
			return after;
		}
		if (h->drop->kind != TAG_HEAD)
			return after;
		if (kind == TAG_TITLE)
			return hx_title(h, after);
		if (kind == TAG_RAW)
			return selfclose ? after : hx_skip_raw(h, t->name,
			    after);
		if (kind == TAG_INLINE || kind == TAG_NEST)
			return after;
		/* Content: the head ended without its end tag. */
		h->drop = NULL;
	}
	switch (kind) {
	case TAG_RAW:
		return selfclose ? after : hx_skip_raw(h, t->name, after);
	case TAG_NEST:
	case TAG_HEAD:
		if (!selfclose) {
			h->drop = t;
			h->ddepth = 1;
		}
		return after;
	case TAG_TITLE:
		return hx_title(h, after);
	default:
		break;
	}
	if (h->table > 0) {
		/* Inside a table only rows and cells shape the text. */
		if (kind == TAG_TABLE)
			h->table++;
		else if (kind == TAG_ROW) {
			h->brk = h->open;
			h->cells = 0;
		} else if (kind == TAG_CELL) {
			if (h->cells++ > 0 && h->open)
				h->sep = 1;
		} else if (kind != TAG_INLINE && h->open)
			h->space = 1;
		return after;
	}
	if (h->pre > 0) {
		if (kind == TAG_PRE)
			h->pre++;
		else if (kind == TAG_BR && h->open)
			h->brk = 1;
		return after;
	}
	if (h->hlevel > 0 && kind != TAG_INLINE && kind != TAG_BR)
		hx_end_heading(h);
	switch (kind) {
	case TAG_INLINE:
		break;
	case TAG_HEADING:
		hx_close(h);
		h->hlevel = t->level;
		break;
	case TAG_PRE:
		hx_close(h);
		h->pre = 1;
		/* A newline right after <pre> is not content. */
		if (after < h->n && h->s[after] == '\n')
			after++;
		break;
	case TAG_TABLE:
		hx_close(h);
		h->table = 1;
		h->cells = 0;
		break;
	case TAG_BR:
		if (h->hlevel > 0)
			h->space = h->open;
		else
			h->brk = h->open;
		break;
	default:
		hx_close(h);
		break;
	}
	return after;
}

static void
hx_end(struct hx *h, const struct tag *t)
{
	int kind = t != NULL ? t->kind : TAG_INLINE;

	if (h->drop != NULL) {
		if (t == h->drop && --h->ddepth == 0)
			h->drop = NULL;
		return;
	}
	if (h->table > 0) {
		if (kind == TAG_TABLE && --h->table == 0)
			hx_close(h);
		else if (kind != TAG_INLINE && kind != TAG_ROW &&
		    kind != TAG_CELL && h->open)
			h->space = 1;
		return;
	}
	if (h->pre > 0) {
		if (kind == TAG_PRE && --h->pre == 0)
			hx_close(h);
		return;
	}
	switch (kind) {
	case TAG_INLINE:
	case TAG_RAW:
	case TAG_NEST:
	case TAG_HEAD:
	case TAG_TITLE:
		break;
	case TAG_BR:
		/* Browsers read </br> as <br>. */
		if (h->hlevel > 0)
			h->space = h->open;
		else
			h->brk = h->open;
		break;
	default:
		hx_end_heading(h);
		break;
	}
}

/* The known tag whose name starts at S[K]; *END is set past the name. */
static const struct tag *
tag_lookup(const char *s, size_t n, size_t k, size_t *end)
{
	char name[16];
	size_t j = 0;

	for (; k < n && !is_ws((unsigned char)s[k]) && s[k] != '/' &&
	    s[k] != '>'; k++, j++)
		if (j < sizeof(name))
			name[j] = (char)lower((unsigned char)s[k]);
	*end = k;
	if (j >= sizeof(name))
		return NULL;
	name[j] = '\0';
	return bsearch(name, tags, RP_NELEM(tags), sizeof(tags[0]), tag_cmp);
}

/*
 * The '>' that ends a start tag whose attributes begin at K (NPOS if
 * none does).  A '>' inside a quoted attribute value does not end it.
 */
static size_t
tag_end(struct hx *h, size_t k, int *selfclose)
{
	const char *s = h->s;
	size_t n = h->n, k0 = k, gt, q;
	int eq = 0, c;

	*selfclose = 0;
	if ((gt = memo_find(&h->gt, s, n, k, '>')) == NPOS)
		return NPOS;
	if (!h->quotes_broken) {
		for (; k < n; k++) {
			c = (unsigned char)s[k];
			if (c == '>')
				return k;
			if (eq && (c == '"' || c == '\'')) {
				q = memo_find(c == '"' ? &h->dq : &h->sq, s, n,
				    k + 1, (char)c);
				if (q != NPOS) {
					k = q;
					eq = *selfclose = 0;
					continue;
				}
			}
			if (c == '=')
				eq = 1;
			else if (!is_ws(c))
				eq = 0;
			if (c == '/')
				*selfclose = 1;
			else if (!is_ws(c))
				*selfclose = 0;
		}
		/* Quotes that never close: from now on, '>' ends tags. */
		h->quotes_broken = 1;
	}
	*selfclose = gt > k0 && s[gt - 1] == '/';
	return gt;
}

/* Markup at S[I] == '<': returns where scanning goes on. */
static size_t
hx_markup(struct hx *h, size_t i)
{
	const char *s = h->s;
	size_t n = h->n, k, e;
	const struct tag *t;
	int selfclose;

	if (i + 1 < n && s[i + 1] == '!') {
		if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
			k = i + 4;
			if (k < n && s[k] == '>')
				return k + 1;
			if (k + 1 < n && s[k] == '-' && s[k + 1] == '>')
				return k + 2;
			e = find_str(s, n, k, "-->");
			return e == NPOS ? n : e + 3;
		}
		if (n - i >= 9 && memcmp(s + i, "<![CDATA[", 9) == 0) {
			e = find_str(s, n, i + 9, "]]>");
			return e == NPOS ? n : e + 3;
		}
		e = memo_find(&h->gt, s, n, i + 2, '>');
		return e == NPOS ? n : e + 1;
	}
	if (i + 1 < n && s[i + 1] == '?') {
		e = memo_find(&h->gt, s, n, i + 2, '>');
		return e == NPOS ? n : e + 1;
	}
	if (i + 2 < n && s[i + 1] == '/' && is_alpha((unsigned char)s[i + 2])) {
		t = tag_lookup(s, n, i + 2, &k);
		if ((e = memo_find(&h->gt, s, n, k, '>')) != NPOS) {
			hx_end(h, t);
			return e + 1;
		}
	} else if (i + 2 < n && s[i + 1] == '/' && s[i + 2] == '>')
		return i + 3;
	else if (i + 1 < n && is_alpha((unsigned char)s[i + 1])) {
		t = tag_lookup(s, n, i + 1, &k);
		if ((e = tag_end(h, k, &selfclose)) != NPOS)
			return hx_start(h, t, selfclose, e + 1);
	}
	/* Not markup: a '<' in the text. */
	if (h->drop == NULL)
		hx_put(h, "<", 1, i);
	return i + 1;
}

static size_t
hx_entity(struct hx *h, size_t i)
{
	size_t len;
	int32_t cp;
	char u[4];

	if ((len = entity_decode(h->s + i, h->n - i, &cp)) == 0) {
		hx_put(h, "&", 1, i);
		return i + 1;
	}
	if (cp == ' ' || cp == '\t' || cp == '\n') {
		u[0] = (char)cp;
		if (h->pre > 0)
			hx_put(h, u, 1, i);
		else
			h->space = h->open;
	} else if (cp != ENT_DROP)
		hx_put(h, u, (size_t)utf8_encode(cp, u), i);
	return i + len;
}

/*
 * HTML: a tolerant scanner over S[0..N), not a DOM; nothing recurses,
 * so nesting depth costs nothing.  0, or -1 when the text passed the
 * cap of the output buffer.
 */
static int
parse_html(struct xb *x, const char *s, size_t n)
{
	struct hx h;
	size_t i = 0, j;
	const char *p;
	int c;

	memset(&h, 0, sizeof(h));
	h.x = x;
	h.out = &x->dt->text;
	h.s = s;
	h.n = n;
	h.line = 1;
	while (i < n && !h.err) {
		c = (unsigned char)s[i];
		if (c == '<') {
			i = hx_markup(&h, i);
			continue;
		}
		if (h.drop != NULL) {
			p = memchr(s + i, '<', n - i);
			j = p != NULL ? (size_t)(p - s) : n;
			/* Text in <head> means the body has begun. */
			if (h.drop->kind == TAG_HEAD && !blank(s + i, j - i))
				h.drop = NULL;
			else
				i = j;
			continue;
		}
		if (c == '&') {
			i = hx_entity(&h, i);
			continue;
		}
		if (is_ws(c)) {
			for (j = i; j < n && is_ws((unsigned char)s[j]); j++)
				;
			if (h.pre > 0)
				hx_put(&h, s + i, j - i, i);
			else
				h.space = h.open;
			i = j;
			continue;
		}
		/* A run of text; single spaces need no collapsing. */
		for (j = i + 1; j < n; j++) {
			c = (unsigned char)s[j];
			if (c == '<' || c == '&')
				break;
			if (is_ws(c) && (h.pre > 0 || c != ' ' || j + 1 >= n ||
			    is_ws((unsigned char)s[j + 1]) ||
			    s[j + 1] == '<' || s[j + 1] == '&'))
				break;
		}
		hx_put(&h, s + i, j - i, i);
		i = j;
	}
	hx_end_heading(&h);
	return h.err ? -1 : 0;
}

int
extract(struct doc_text *dt, const char *src, size_t n,
    enum extract_format format, size_t max, struct rp_err *err)
{
	struct buf raw = BUF_INIT;
	struct xb x;
	unsigned long base = 1;
	size_t fm;
	long rep;
	int rc = 0;

	memset(dt, 0, sizeof(*dt));
	memset(&x, 0, sizeof(x));
	x.dt = dt;
	x.section = -1;
	if (src == NULL || n == 0) {
		src = "";
		n = 0;
	}
	if (format == EXTRACT_HTML) {
		if ((rep = utf8_clean(&raw, src, n)) < 0) {
			rc = -1;
			goto out;
		}
		dt->repaired = (size_t)rep;
		dt->text.max = max;
		rc = parse_html(&x, buf_str(&raw), raw.len);
	} else if (format == EXTRACT_MARKDOWN) {
		/* No cap while cleaning: the front matter does not count. */
		if ((rep = utf8_clean(&dt->text, src, n)) < 0) {
			rc = -1;
			goto out;
		}
		dt->repaired = (size_t)rep;
		if ((fm = md_front_matter(&x)) > 0) {
			base += count_nl(dt->text.data, fm);
			memmove(dt->text.data, dt->text.data + fm,
			    dt->text.len - fm);
			buf_truncate(&dt->text, dt->text.len - fm);
		}
		if (max > 0 && dt->text.len > max) {
			rc = -1;
			goto out;
		}
		dt->text.max = max;
		xb_mark(&x, 0, base);
		parse_markdown(&x);
	} else {
		dt->text.max = max;
		if ((rep = utf8_clean(&dt->text, src, n)) < 0) {
			rc = -1;
			goto out;
		}
		dt->repaired = (size_t)rep;
		xb_mark(&x, 0, 1);
		if (format == EXTRACT_CODE)
			parse_code(&x);
		else
			parse_text(&x);
	}
	if (rc == 0)
		xb_dense_marks(&x);
out:
	buf_release(&raw);
	xb_release(&x);
	if (rc != 0)
		return rp_err_set(err, RP_EXIT_DATA,
		    "text is longer than %zu bytes", max);
	return 0;
}

void
doc_text_release(struct doc_text *dt)
{
	if (dt == NULL)
		return;
	buf_release(&dt->text);
	free(dt->blocks);
	for (size_t i = 0; i < dt->nsections; i++)
		free(dt->sections[i]);
	free(dt->sections);
	free(dt->title);
	free(dt->marks);
	memset(dt, 0, sizeof(*dt));
}

unsigned long
doc_text_line(const struct doc_text *dt, size_t off)
{
	size_t lo = 0, hi, mid;

	if (dt->nmarks == 0)
		return 1;
	if (off > dt->text.len)
		off = dt->text.len;
	/* The last mark at or before OFF. */
	hi = dt->nmarks;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (dt->marks[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	if (dt->marks[lo].off >= off)
		return dt->marks[lo].line;
	return dt->marks[lo].line + count_nl(dt->text.data + dt->marks[lo].off,
	    off - dt->marks[lo].off);
}

/* File names (lower case) and extensions of source code. */
static const char *const code_names[] = {
	".bash_profile", ".bashrc", ".profile", ".vimrc", ".zshrc",
	"build", "cmakelists.txt", "containerfile", "dockerfile", "gemfile",
	"gnumakefile", "jenkinsfile", "justfile", "makefile", "rakefile",
	"vagrantfile",
};

static const char *const code_exts[] = {
	"asm", "awk", "bash", "bat", "bzl", "c", "c++", "cc", "cfg", "cjs",
	"clj", "cljs", "cmake", "cmd", "conf", "cpp", "cr", "cs", "css",
	"cxx", "d", "dart", "el", "elm", "erl", "ex", "exs", "f", "f90",
	"fish", "for", "fs", "gd", "go", "gradle", "groovy", "h", "h++",
	"hcl", "hh", "hpp", "hrl", "hs", "hxx", "ini", "java", "jl", "js",
	"json", "jsonc", "jsx", "kt", "kts", "ksh", "less", "lisp", "lua",
	"m", "mjs", "mk", "ml", "mli", "mm", "nim", "nix", "php", "pl",
	"pm", "proto", "ps1", "py", "pyi", "r", "rb", "rkt", "rs", "s",
	"sass", "scala", "scm", "scss", "sh", "sql", "sv", "svelte",
	"swift", "tcl", "tf", "toml", "ts", "tsx", "v", "vhd", "vim", "vue",
	"xml", "yaml", "yml", "zig", "zsh",
};

static int
in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

enum extract_format
extract_guess(const char *path)
{
	const char *base, *dot;
	char name[32], ext[16];
	size_t i, n;

	if (path == NULL)
		return EXTRACT_TEXT;
	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	n = strlen(base);
	if (n < sizeof(name)) {
		for (i = 0; i <= n; i++)
			name[i] = (char)lower((unsigned char)base[i]);
		if (in_list(code_names, RP_NELEM(code_names), name) ||
		    strncmp(name, "dockerfile.", 11) == 0)
			return EXTRACT_CODE;
	}
	dot = strrchr(base, '.');
	if (dot == NULL || dot == base || strlen(dot + 1) >= sizeof(ext))
		return EXTRACT_TEXT;
	for (i = 0; dot[1 + i] != '\0'; i++)
		ext[i] = (char)lower((unsigned char)dot[1 + i]);
	ext[i] = '\0';
	if (strcmp(ext, "md") == 0 || strcmp(ext, "markdown") == 0 ||
	    strcmp(ext, "mdown") == 0 || strcmp(ext, "mkd") == 0 ||
	    strcmp(ext, "mkdn") == 0 || strcmp(ext, "mdx") == 0)
		return EXTRACT_MARKDOWN;
	if (strcmp(ext, "html") == 0 || strcmp(ext, "htm") == 0 ||
	    strcmp(ext, "xhtml") == 0)
		return EXTRACT_HTML;
	if (in_list(code_exts, RP_NELEM(code_exts), ext))
		return EXTRACT_CODE;
	return EXTRACT_TEXT;
}

int
extract_format_parse(const char *name)
{
	if (name == NULL)
		return -1;
	if (strcmp(name, "auto") == 0)
		return EXTRACT_AUTO;
	if (strcmp(name, "text") == 0)
		return EXTRACT_TEXT;
	if (strcmp(name, "markdown") == 0 || strcmp(name, "md") == 0)
		return EXTRACT_MARKDOWN;
	if (strcmp(name, "html") == 0)
		return EXTRACT_HTML;
	if (strcmp(name, "code") == 0)
		return EXTRACT_CODE;
	return -1;
}

const char *
extract_format_name(enum extract_format format)
{
	switch (format) {
	case EXTRACT_AUTO:
		return "auto";
	case EXTRACT_TEXT:
		return "text";
	case EXTRACT_MARKDOWN:
		return "markdown";
	case EXTRACT_HTML:
		return "html";
	case EXTRACT_CODE:
		return "code";
	}
	return "unknown";
}

int
extract_is_binary(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0, bad = 0, need;
	int32_t cp;
	int len;

	if (p == NULL || n == 0)
		return 0;
	if (memchr(p, '\0', n) != NULL)
		return 1;
	while (i < n) {
		if (u[i] < 0x80) {
			if ((u[i] < 0x20 && u[i] != '\t' && u[i] != '\n' &&
			    u[i] != '\r' && u[i] != '\f') || u[i] == 0x7F)
				bad++;
			i++;
			continue;
		}
		len = utf8_decode(p + i, n - i, &cp);
		if (cp < 0) {
			/* A character cut by the end of the sample is fine. */
			need = u[i] >= 0xF0 ? 4 : u[i] >= 0xE0 ? 3 : 2;
			if (u[i] >= 0xC2 && u[i] < 0xF5 && n - i < need) {
				size_t k = i + 1;

				while (k < n && (u[k] & 0xC0) == 0x80)
					k++;
				if (k == n)
					break;
			}
			bad++;
		}
		i += (size_t)len;
	}
	return bad * 10 > n * 3;
}
