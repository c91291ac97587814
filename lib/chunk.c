/* chunk: split extracted text into overlapping chunks of characters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "utf8.h"
#include "extract.h"
#include "chunk.h"

#define NPOS		((size_t)-1)
#define LOOKBACK	64	/* bytes of white space read back for context */

/* A block as the chunker sees it: checked, and gaps with text filled. */
struct unit {
	size_t		start, end;
	size_t		tend;		/* end without white space */
	int		section;
	unsigned	flags;
};

struct chunker {
	const struct doc_text *dt;
	const char	*t;
	size_t		 len;
	struct unit	*u;
	size_t		 nu, ucap;
	size_t		 size, overlap, atomic_max;
	struct chunk	*c;
	size_t		 nc, ccap;
};

static int
is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

static int
is_cont(int c)
{
	return (c & 0xC0) == 0x80;
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
 * Whether the character starting at T[Q] is wide (CJK, kana, Hangul,
 * full-width forms), a script written without spaces between words.
 */
static int
is_wide(const char *t, size_t len, size_t q)
{
	unsigned char c = (unsigned char)t[q];

	if (c >= 0xE3 && c <= 0xED)
		return 1;
	if (c == 0xE2 && q + 1 < len && (unsigned char)t[q + 1] >= 0xBA)
		return 1;
	if (c == 0xEF && q + 1 < len && (unsigned char)t[q + 1] <= 0xBC)
		return 1;
	return c == 0xF0 && q + 1 < len && (unsigned char)t[q + 1] >= 0xA0 &&
	    (unsigned char)t[q + 1] <= 0xB1;
}

/* A full stop, exclamation or question mark of CJK text ending at Q. */
static int
wide_stop(const char *t, size_t from, size_t q)
{
	if (q < from + 3)
		return 0;
	return memcmp(t + q - 3, "\xE3\x80\x82", 3) == 0 ||
	    memcmp(t + q - 3, "\xEF\xBC\x81", 3) == 0 ||
	    memcmp(t + q - 3, "\xEF\xBC\x9F", 3) == 0;
}

/*
 * Whether a sentence ends right before Q (T[Q] is white space, or Q
 * follows a CJK stop): '.', '!' or '?', perhaps with closing quotes or
 * brackets after it.  Nothing before FROM is read.
 */
static int
sentence_end(const char *t, size_t from, size_t q)
{
	size_t p = q;
	int c;

	if (wide_stop(t, from, q))
		return 1;
	if (!is_ws((unsigned char)t[q]))
		return 0;
	while (p > from && q - p < 4) {
		c = (unsigned char)t[p - 1];
		if (c == '"' || c == '\'' || c == ')' || c == ']')
			p--;
		else if (p >= from + 3 && (memcmp(t + p - 3, "\xE2\x80\x9D",
		    3) == 0 || memcmp(t + p - 3, "\xE2\x80\x99", 3) == 0))
			p -= 3;
		else
			break;
	}
	if (p == from)
		return 0;
	c = (unsigned char)t[p - 1];
	return c == '.' || c == '!' || c == '?';
}

/*
 * Whether a sentence starts at T[Q] (not white space); in code (LINES),
 * any line does.
 */
static int
sentence_start(const char *t, size_t q, int lines)
{
	size_t p = q;
	int nl = 0;

	while (p > 0 && is_ws((unsigned char)t[p - 1]) && q - p < LOOKBACK) {
		nl += t[p - 1] == '\n';
		p--;
	}
	if (p == 0 || nl >= 2 || (lines && nl > 0))
		return 1;
	if (p == q)
		return wide_stop(t, q >= LOOKBACK ? q - LOOKBACK : 0, q);
	return sentence_end(t, p >= LOOKBACK ? p - LOOKBACK : 0, p);
}

/* Whether a word starts at T[Q] (not white space). */
static int
word_start(const char *t, size_t len, size_t q)
{
	size_t p;

	if (q == 0 || is_ws((unsigned char)t[q - 1]) || is_wide(t, len, q))
		return 1;
	for (p = q - 1; p > 0 && q - p < 4 && is_cont((unsigned char)t[p]);
	    p--)
		;
	return is_wide(t, len, p);
}

/* END moved back over white space, but not before FROM. */
static size_t
trim_end(const char *t, size_t from, size_t end)
{
	while (end > from && is_ws((unsigned char)t[end - 1]))
		end--;
	return end;
}

static void
add_unit(struct chunker *c, size_t start, size_t end, int section,
    unsigned flags)
{
	if (c->nu == c->ucap) {
		c->ucap = c->ucap == 0 ? 64 : c->ucap * 2;
		c->u = xreallocarray(c->u, c->ucap, sizeof(*c->u));
	}
	c->u[c->nu].start = start;
	c->u[c->nu].end = end;
	c->u[c->nu].tend = trim_end(c->t, start, end);
	c->u[c->nu].section = section;
	c->u[c->nu].flags = flags;
	c->nu++;
}

/*
 * The units: the blocks clamped to the text, to character boundaries
 * and to text order, plus any text outside the blocks, so that every
 * non-space byte is in a unit whatever the blocks say.
 */
static void
make_units(struct chunker *c)
{
	const struct doc_text *dt = c->dt;
	const char *t = c->t;
	size_t prev = 0, s, e;
	int sec = -1, bsec;

	for (size_t i = 0; i < dt->nblocks; i++) {
		s = RP_MIN(dt->blocks[i].start, c->len);
		e = RP_MIN(dt->blocks[i].end, c->len);
		s = RP_MAX(s, prev);
		while (s < c->len && is_cont((unsigned char)t[s]))
			s++;
		while (e < c->len && is_cont((unsigned char)t[e]))
			e++;
		if (e <= s)
			continue;
		if (s > prev && !blank(t + prev, s - prev))
			add_unit(c, prev, s, sec, 0);
		bsec = dt->blocks[i].section;
		if (bsec < 0 || (size_t)bsec >= dt->nsections)
			bsec = -1;
		add_unit(c, s, e, bsec, dt->blocks[i].flags &
		    (BLOCK_HEADING | BLOCK_ATOMIC | BLOCK_CODE));
		prev = e;
		sec = bsec;
	}
	if (prev < c->len && !blank(t + prev, c->len - prev))
		add_unit(c, prev, c->len, sec, 0);
}

/*
 * Where to cut T[RS..UE), which holds more than LEFT characters.  In
 * the second half of the first LEFT characters: the last sentence end,
 * line end or space; with LINES (code, atomic blocks) the last line
 * end anywhere in them comes first.  Else right after them.
 */
static size_t
find_cut(const struct chunker *c, size_t rs, size_t ue, size_t left,
    int lines)
{
	const char *t = c->t;
	size_t maxb, minb, q, nl = 0, sp = 0;

	maxb = rs + utf8_prefix(t + rs, ue - rs, left);
	if (maxb >= ue)
		return ue;
	minb = rs + utf8_prefix(t + rs, maxb - rs, left / 2);
	for (q = maxb; q > rs; q--) {
		if (lines) {
			if (t[q] == '\n')
				return q;
			if (sp == 0 && q > minb && is_ws((unsigned char)t[q]))
				sp = q;
			continue;
		}
		if (q <= minb)
			break;
		if (sentence_end(t, rs, q))
			return q;
		if (nl == 0 && t[q] == '\n')
			nl = q;
		if (sp == 0 && is_ws((unsigned char)t[q]))
			sp = q;
	}
	return nl != 0 ? nl : sp != 0 ? sp : maxb;
}

/*
 * Where the overlap before POS starts: at most OVERLAP characters back,
 * not before LO, moved forward to the first sentence start (line start
 * with LINES) in that window, else the first word start; POS if there
 * is neither.
 */
static size_t
find_overlap(const struct chunker *c, size_t lo, size_t pos, int lines)
{
	const char *t = c->t;
	size_t w = pos, k = 0, q, word = NPOS;

	while (w > lo && k < c->overlap) {
		w--;
		while (w > lo && is_cont((unsigned char)t[w]))
			w--;
		k++;
	}
	for (q = w; q < pos; q++) {
		if (is_ws((unsigned char)t[q]) || is_cont((unsigned char)t[q]))
			continue;
		if (sentence_start(t, q, lines))
			return q;
		if (word == NPOS && word_start(t, c->len, q))
			word = q;
	}
	return word != NPOS ? word : pos;
}

static void
add_chunk(struct chunker *c, size_t start, size_t end, int section)
{
	if (c->nc == c->ccap) {
		c->ccap = c->ccap == 0 ? 16 : c->ccap * 2;
		c->c = xreallocarray(c->c, c->ccap, sizeof(*c->c));
	}
	c->c[c->nc].start = start;
	c->c[c->nc].end = end;
	c->c[c->nc].line = doc_text_line(c->dt, start);
	c->c[c->nc].section = section;
	c->nc++;
}

/* Where the next core starts, and what the last one left behind. */
struct cursor {
	size_t	ui;		/* unit of pos */
	size_t	pos;		/* byte offset */
	int	partial;	/* pos is past a cut inside unit ui */
	size_t	barrier;	/* overlap never reaches before this */
	int	have_prev;
	size_t	prev_start;
	int	prev_sec;	/* section where the last chunk ended */
};

/* What a chunk holds so far, and where the next one would start. */
struct take {
	size_t	end;		/* the chunk's end, trimmed */
	size_t	next;		/* where the next chunk's own text starts */
	size_t	last;		/* the unit of next */
	size_t	barrier;
	int	partial;	/* next is past a cut inside unit last */
};

/*
 * Make one chunk whose own text (after the overlap, OL characters from
 * OSTART) begins at cur->pos, and move the cursor past it.  Whole units
 * are packed while they fit; a unit that does not fit is cut if it
 * begins the chunk, kept whole if atomic and small enough, or used to
 * fill a chunk with room to spare when it continues the same section
 * and is too long for a chunk of its own anyway (a paragraph that fits
 * in the next chunk is never cut).
 */
static void
one_chunk(struct chunker *c, struct cursor *cur, size_t ostart, size_t ol)
{
	const char *t = c->t;
	const struct unit *v;
	struct take now, keep;
	size_t budget = c->size - ol, used = 0, uend = 0, gap, left, rem;
	size_t rs, ue, q, ac;
	int first, heads = 1, sec = c->u[cur->ui].section;

	now.end = now.next = cur->pos;
	now.last = cur->ui;
	now.barrier = cur->barrier;
	now.partial = 0;
	keep = now;
	for (size_t i = cur->ui; i < c->nu; i++) {
		v = &c->u[i];
		first = i == cur->ui;
		rs = first ? cur->pos : v->start;
		/* Sizes leave out the white space that ends a unit. */
		ue = RP_MAX(rs, v->tend);
		gap = first ? 0 : v->start - uend;
		/*
		 * A heading, or a new section (a definition in code),
		 * starts a new chunk once this one holds a third, and
		 * the first section always does: text before it (a
		 * title, an introduction) has no section to carry.
		 */
		if (!first && ((v->flags & BLOCK_HEADING) ||
		    v->section != c->u[now.last].section) &&
		    (ol + used >= c->size / 3 || (v->section >= 0 &&
		    c->u[now.last].section < 0)))
			break;
		if (used + gap >= budget)
			break;
		left = budget - used - gap;
		rem = ue - rs;
		if (utf8_prefix(t + rs, rem, left) == rem) {
			/* The rest of the unit fits. */
			used += gap + utf8_count(t + rs, rem);
			if (v->tend > v->start)
				now.end = RP_MAX(now.end, v->tend);
			if (v->flags & (BLOCK_HEADING | BLOCK_ATOMIC))
				now.barrier = v->end;
			now.last = i;
			now.next = v->end;
			uend = ue;
			if (!(v->flags & BLOCK_HEADING)) {
				heads = 0;
				keep = now;
			}
			continue;
		}
		if ((v->flags & BLOCK_ATOMIC) && !(first && cur->partial) &&
		    utf8_prefix(t + rs, rem, c->atomic_max) == rem) {
			/* Kept whole, up to CHUNK_ATOMIC_FACTOR sizes. */
			ac = utf8_count(t + rs, rem);
			if (first || (v->section == sec &&
			    ol + used + gap < c->size / 3 &&
			    ol + used + gap + ac <= c->atomic_max)) {
				now.end = RP_MAX(now.end, v->tend);
				now.barrier = now.next = v->end;
				now.last = i;
				heads = 0;
				keep = now;
			}
			break;
		}
		/*
		 * Cut the unit, atomic and code ones between lines.  One
		 * that does not begin the chunk is cut only to fill room
		 * to spare in the same section, and only if it is prose
		 * or follows nothing but headings.
		 */
		if (!first && (v->section != sec || left < c->size / 3 ||
		    (v->flags & BLOCK_HEADING) || (!heads &&
		    (v->flags & (BLOCK_ATOMIC | BLOCK_CODE))) ||
		    utf8_prefix(t + rs, rem, c->size - c->overlap) == rem))
			break;
		q = find_cut(c, rs, v->end, left,
		    (v->flags & (BLOCK_ATOMIC | BLOCK_CODE)) != 0);
		now.end = RP_MAX(now.end, trim_end(t, cur->pos, q));
		if (v->flags & BLOCK_ATOMIC)
			now.barrier = q;
		now.last = i;
		now.next = q;
		now.partial = 1;
		heads = 0;
		keep = now;
		break;
	}
	/* A heading does not end a chunk that has text before it. */
	if (!heads)
		now = keep;
	add_chunk(c, ostart, now.end, sec);
	cur->have_prev = 1;
	cur->prev_start = ostart;
	cur->prev_sec = c->u[now.last].section;
	cur->ui = now.last;
	cur->pos = now.next;
	cur->partial = now.partial;
	cur->barrier = now.barrier;
}

size_t
chunk_split(const struct doc_text *dt, const struct chunk_opts *o,
    struct chunk **out)
{
	struct chunker c;
	struct cursor cur;
	const struct unit *u;
	size_t ostart, ol, lo;

	*out = NULL;
	if (dt->text.data == NULL || dt->text.len == 0)
		return 0;
	memset(&c, 0, sizeof(c));
	memset(&cur, 0, sizeof(cur));
	c.dt = dt;
	c.t = dt->text.data;
	c.len = dt->text.len;
	c.size = o->size > 0 ? o->size : CHUNK_SIZE_DEFAULT;
	c.overlap = o->overlap < c.size / 2 ? o->overlap :
	    c.size / 2 > 0 ? c.size / 2 - 1 : 0;
	c.atomic_max = c.size > SIZE_MAX / CHUNK_ATOMIC_FACTOR ? SIZE_MAX :
	    c.size * CHUNK_ATOMIC_FACTOR;
	make_units(&c);
	for (;;) {
		/* The next non-space byte in a unit starts the next chunk. */
		while (cur.ui < c.nu) {
			u = &c.u[cur.ui];
			if (cur.pos < u->start)
				cur.pos = u->start;
			while (cur.pos < u->end &&
			    is_ws((unsigned char)c.t[cur.pos]))
				cur.pos++;
			if (cur.pos < u->end)
				break;
			cur.ui++;
			cur.partial = 0;
		}
		if (cur.ui == c.nu)
			break;
		u = &c.u[cur.ui];
		ostart = cur.pos;
		ol = 0;
		if (c.overlap > 0 && cur.have_prev &&
		    u->section == cur.prev_sec &&
		    !(u->flags & BLOCK_HEADING) &&
		    !((u->flags & BLOCK_ATOMIC) && cur.partial)) {
			lo = RP_MAX(cur.barrier, cur.prev_start + 1);
			while (lo < cur.pos && is_cont((unsigned char)c.t[lo]))
				lo++;
			if (lo < cur.pos) {
				ostart = find_overlap(&c, lo, cur.pos,
				    (u->flags & BLOCK_CODE) != 0);
				ol = utf8_count(c.t + ostart, cur.pos - ostart);
			}
		}
		/* An atomic block that only fits alone goes without. */
		if (ol > 0 && (u->flags & BLOCK_ATOMIC) &&
		    utf8_prefix(c.t + cur.pos, u->end - cur.pos,
		    c.size - ol) < u->end - cur.pos) {
			ostart = cur.pos;
			ol = 0;
		}
		one_chunk(&c, &cur, ostart, ol);
	}
	free(c.u);
	*out = c.c;
	return c.nc;
}
