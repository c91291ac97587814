/* rag-answer's extractive provider: the hits' best sentences, cited. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "utf8.h"
#include "answer.h"


/* Scoring (DESIGN.md section 5; the man page explains them). */
#define LEN_POWER	0.3	/* a score is divided by words^LEN_POWER */
#define RANK_BONUS	0.1	/* and multiplied by 1 + RANK_BONUS / rank */
#define FRAG_FACTOR	0.5	/* a sentence the chunker may have cut */
#define KEEP_SHARE	0.25	/* weaker than this share of the best: out */
#define W_INFLECT	0.8	/* "end" matching "ends" */
#define W_PREFIX	0.6	/* "renewal" matching "renews" */
#define LABEL_WORDS	6	/* a lone unpunctuated line this short */
#define WORD_MAX	64	/* bytes, as in analyze_query */

/* A candidate sentence: bytes [off, off + len) of a hit's text. */
struct sent {
	size_t		 hit, off, len;
	size_t		 src;		/* the hit's src */
	double		 pos;		/* byte offset in the document */
	unsigned long	 line;		/* 0: not known */
	int		 frag;		/* FRAG_HEAD | FRAG_TAIL */
	size_t		 words;
	double		 score;
	char		*norm;		/* " tok tok ", to find duplicates */
	char		*out;		/* the text as printed */
};

struct pool {
	struct sent	*v;
	size_t		 n, cap;
};

/* The splitter's state within one hit's text. */
struct split {
	struct pool	*pl;
	const char	*t;
	size_t		 len, hit, src;
	size_t		 first, last;	/* the text without outer spaces */
	double		 start;
	size_t		 ss, se;	/* pending sentence; ss NONE: none */
	size_t		 lineno, ssline, nlpos;
	unsigned long	 line, nl;
	int		 list, mid;
};

enum line_kind { L_TEXT, L_BLANK, L_FENCE, L_HEADING, L_TABLE, L_RULE,
    L_UNDERLINE, L_ITEM };

/* 1 if CP is written without spaces around it (CJK and its punctuation). */
static int
is_wide(int32_t cp)
{
	return analyze_is_cjk(cp) || (cp >= 0x3000 && cp <= 0x303F) ||
	    (cp >= 0xFF00 && cp <= 0xFFEF);
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

/* The code point ending at S[N - 1] (N > 0); *AT is where it starts. */
static int32_t
last_cp(const char *s, size_t n, size_t *at)
{
	size_t p = n - 1;
	int32_t cp;

	while (p > 0 && n - p < 4 && ((unsigned char)s[p] & 0xC0) == 0x80)
		p--;
	utf8_decode(s + p, n - p, &cp);
	if (at != NULL)
		*at = p;
	return cp;
}

typedef void (*token_fn)(void *arg, const char *tok, size_t len, int alpha);

static void
no_token(void *arg, const char *tok, size_t len, int alpha)
{
	(void)arg, (void)tok, (void)len, (void)alpha;
}

/*
 * Call FN for each token of S[0..N), by analyze_query's rules: words
 * (ASCII lower-cased, cut at WORD_MAX bytes; ALPHA when all a-z) and
 * CJK bigrams (a lone CJK character is a token too).  Returns the number
 * of tokens.
 */
static size_t
tokenize(const char *s, size_t n, token_fn fn, void *arg)
{
	char w[WORD_MAX + 8];
	size_t i = 0, ntok = 0, wl, prev = 0, pl = 0, run = 0;
	int32_t cp;
	int len, alpha;

	while (i < n) {
		len = utf8_decode(s + i, n - i, &cp);
		if (analyze_is_cjk(cp)) {
			if (run++ > 0) {
				memcpy(w, s + prev, pl);
				memcpy(w + pl, s + i, (size_t)len);
				fn(arg, w, pl + (size_t)len, 0);
				ntok++;
			}
			prev = i;
			pl = (size_t)len;
			i += (size_t)len;
			continue;
		}
		if (run == 1) {
			fn(arg, s + prev, pl, 0);
			ntok++;
		}
		run = 0;
		if (!analyze_is_word(cp)) {
			i += (size_t)len;
			continue;
		}
		for (wl = 0, alpha = 1; i < n; i += (size_t)len) {
			len = utf8_decode(s + i, n - i, &cp);
			if (!analyze_is_word(cp) || analyze_is_cjk(cp))
				break;
			alpha &= (cp >= 'a' && cp <= 'z') ||
			    (cp >= 'A' && cp <= 'Z');
			if (wl + (size_t)len > WORD_MAX)
				continue;	/* cut, as analyze_query does */
			for (int k = 0; k < len; k++)
				w[wl++] = cp >= 'A' && cp <= 'Z' ?
				    (char)(cp - 'A' + 'a') : s[i + (size_t)k];
		}
		fn(arg, w, wl, alpha);
		ntok++;
	}
	if (run == 1) {
		fn(arg, s + prev, pl, 0);
		ntok++;
	}
	return ntok;
}

static int
all_alpha(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 'a' || s[i] > 'z')
			return 0;
	return n > 0;
}

/* Whether X, after stem S, makes a simple English inflection of it. */
static int
inflection(const char *x, size_t n, char last)
{
	static const char *const sfx[] = {
		"s", "es", "ed", "ing", "er", "ers", "ly",
	};

	if (n == 1 && *x == 'd' && last == 'e')
		return 1;
	for (size_t i = 0; i < RP_NELEM(sfx); i++)
		if (strlen(sfx[i]) == n && memcmp(sfx[i], x, n) == 0)
			return 1;
	return 0;
}

/* How well word W matches question term T: 1, a reduced weight, or 0. */
static double
match(const char *t, size_t tn, const char *w, size_t wn, int alpha)
{
	const char *sh = t, *lo = w;
	size_t shn = tn, lon = wn, p;

	if (tn == wn && memcmp(t, w, tn) == 0)
		return 1;
	if (!alpha || !all_alpha(t, tn))
		return 0;
	if (wn < tn) {
		sh = w, shn = wn;
		lo = t, lon = tn;
	}
	if (shn >= 3 && memcmp(sh, lo, shn) == 0 &&
	    inflection(lo + shn, lon - shn, sh[shn - 1]))
		return W_INFLECT;
	for (p = 0; p < shn && sh[p] == lo[p]; p++)
		continue;
	return p >= 5 && shn - p <= 2 && lon - p <= 4 ? W_PREFIX : 0;
}

/* What tokenize feeds while scoring one sentence. */
struct tally {
	char		**terms;
	size_t		  nterms;
	double		  m[ANALYZE_MAX_TERMS];	/* best match of each term */
	struct buf	  norm;
};

static void
tally_token(void *arg, const char *tok, size_t len, int alpha)
{
	struct tally *ta = arg;
	double w;

	for (size_t k = 0; k < ta->nterms; k++) {
		w = match(ta->terms[k], strlen(ta->terms[k]), tok, len, alpha);
		if (w > ta->m[k])
			ta->m[k] = w;
	}
	buf_add(&ta->norm, tok, len);
	buf_addc(&ta->norm, ' ');
}

/*
 * Sentence splitting.  Lines are classified first: blank lines, headings,
 * table rows, rules and fenced code end a sentence and are never part
 * of one; a list item starts a new one.  Within the text lines a
 * sentence ends at '.', '!' or '?' before white space (not after an
 * abbreviation or an initial, nor before a lower-case word) and at a
 * CJK full stop, exclamation or question mark.
 */
static enum line_kind
line_kind(const char *s, size_t n, size_t *skip)
{
	size_t i = 0, k, marks = 0;
	char c;

	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '>'))
		i++;
	*skip = i;
	if (i == n)
		return L_BLANK;
	if (n - i >= 3 && (memcmp(s + i, "```", 3) == 0 ||
	    memcmp(s + i, "~~~", 3) == 0))
		return L_FENCE;
	for (k = i; k < n && s[k] == '#'; k++)
		continue;
	if (k > i && k - i <= 6 && (k == n || s[k] == ' ' || s[k] == '\t'))
		return L_HEADING;
	if (s[i] == '|')
		return L_TABLE;
	c = s[i];
	for (k = i; strchr("-=*_", c) != NULL && k < n; k++)
		if (s[k] == c)
			marks++;
		else if (s[k] != ' ' && s[k] != '\t')
			break;
	if (k == n && marks >= 3)
		return c == '=' || c == '-' ? L_UNDERLINE : L_RULE;
	for (k = i; k < n && k - i < 3 && s[k] >= '0' && s[k] <= '9'; k++)
		continue;
	if (k > i && k < n && (s[k] == '.' || s[k] == ')'))
		k++;
	else if (strchr("-*+", c) != NULL)
		k = i + 1;
	else if (n - i >= 3 && memcmp(s + i, "\xE2\x80\xA2", 3) == 0)
		k = i + 3;
	else
		return L_TEXT;
	if (k < n && s[k] != ' ' && s[k] != '\t')
		return L_TEXT;
	*skip = k;
	return L_ITEM;
}

/* Past any closing quotes and brackets at T[I..END). */
static size_t
closers(const char *t, size_t i, size_t end)
{
	int32_t cp;
	int len;

	while (i < end) {
		len = utf8_decode(t + i, end - i, &cp);
		if (cp != '"' && cp != '\'' && cp != ')' && cp != ']' &&
		    cp != 0x2019 && cp != 0x201D && cp != 0x300D &&
		    cp != 0x300F && cp != 0x3011 && cp != 0xFF09)
			break;
		i += (size_t)len;
	}
	return i;
}

static int
in_list(const char *w, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(w, list[i]) == 0)
			return 1;
	return 0;
}

/* Whether the '.' at T[I], with closers up to J, ends a sentence. */
static int
dot_ends(const char *t, size_t len, size_t i, size_t j)
{
	static const char *const always[] = {
		"al", "approx", "ca", "cf", "dr", "e.g", "eg", "i.e", "ie",
		"inc", "jr", "ltd", "mr", "mrs", "ms", "mt", "prof", "sr", "st",
		"vs",
	};
	static const char *const numbered[] = {
		"art", "ch", "fig", "figs", "no", "nos", "p", "pp", "sec",
		"vol",
	};
	char w[16], next;
	size_t b = i, n;

	while (b > 0 && i - b < sizeof(w) - 1 && (t[b - 1] == '.' ||
	    ((t[b - 1] | 0x20) >= 'a' && (t[b - 1] | 0x20) <= 'z')))
		b--;
	for (n = 0; b + n < i; n++)
		w[n] = (char)(t[b + n] | (t[b + n] == '.' ? 0 : 0x20));
	w[n] = '\0';
	while (j < len && is_space((unsigned char)t[j]))
		j++;
	next = j < len ? t[j] : '\0';
	if (next >= 'a' && next <= 'z')
		return 0;
	if (n == 1 && t[b] >= 'A' && t[b] <= 'Z')
		return 0;	/* an initial, as in "J. Smith" */
	if (in_list(w, always, RP_NELEM(always)))
		return 0;
	if (next >= '0' && next <= '9' &&
	    in_list(w, numbered, RP_NELEM(numbered)))
		return 0;
	/* "a.m.", "U.S.", but not "so..." */
	return n == 0 || n > 5 || memchr(w, '.', n) == NULL ||
	    strstr(w, "..") != NULL || w[0] == '.' || w[n - 1] == '.';
}

/* The line of T[OFF]; offsets only grow within a hit. */
static unsigned long
line_at(struct split *sp, size_t off)
{
	for (; sp->nlpos < off; sp->nlpos++)
		sp->nl += sp->t[sp->nlpos] == '\n';
	return sp->line == 0 ? 0 : sp->line + sp->nl;
}

/*
 * 1 if the unpunctuated text T[0..N) cannot end a sentence, so that it
 * leads into what follows (a list the extraction left unmarked, say):
 * it ends in a comma, colon or semicolon, or in a word such as "the",
 * "of" or "that".
 */
static int
leads_on(const char *t, size_t n)
{
	static const char *const words[] = {	/* sorted */
		"a", "an", "and", "because", "but", "by", "for", "from",
		"if", "into", "its", "nor", "of", "or", "than", "that",
		"the", "their", "to", "whether", "which", "whose", "with",
	};
	char w[16];
	size_t i = n, k;

	if (n > 0 && (t[n - 1] == ',' || t[n - 1] == ':' || t[n - 1] == ';'))
		return 1;
	while (i > 0 && ((t[i - 1] >= 'a' && t[i - 1] <= 'z') ||
	    (t[i - 1] >= 'A' && t[i - 1] <= 'Z')) && n - i < sizeof(w) - 1)
		i--;
	if (i == n || (i > 0 && !is_space((unsigned char)t[i - 1])))
		return 0;
	for (k = 0; i + k < n; k++)
		w[k] = (char)(t[i + k] | 0x20);
	w[k] = '\0';
	return in_list(w, words, RP_NELEM(words));
}

/* End the pending sentence at sp->se; TERM: it ended with punctuation. */
static void
emit(struct split *sp, int term)
{
	struct pool *pl = sp->pl;
	struct sent *s;
	size_t off = sp->ss, n;

	sp->ss = NONE;
	if (off == NONE)
		return;
	n = sp->se - off;
	if (!term && !sp->list && memchr(sp->t + off, '\n', n) == NULL &&
	    tokenize(sp->t + off, n, no_token, NULL) <= LABEL_WORDS)
		return;		/* a title or a label, not a sentence */
	if (pl->n == pl->cap) {
		pl->cap = pl->cap < 16 ? 16 : pl->cap * 2;
		pl->v = xreallocarray(pl->v, pl->cap, sizeof(*pl->v));
	}
	s = &pl->v[pl->n++];
	memset(s, 0, sizeof(*s));
	s->hit = sp->hit;
	s->off = off;
	s->len = n;
	s->line = line_at(sp, off);
	s->src = sp->src;
	s->pos = sp->start >= 0 ? sp->start + (double)off : 0;
	/*
	 * A chunk may begin or end inside a sentence: one that starts the
	 * text in lower case, or runs unpunctuated to its end.
	 */
	if (sp->mid && off == sp->first && sp->t[off] >= 'a' &&
	    sp->t[off] <= 'z')
		s->frag |= FRAG_HEAD;
	if (!term && !sp->list && (sp->se == sp->last ||
	    leads_on(sp->t + off, n)))
		s->frag |= FRAG_TAIL;
}

static void
scan(struct split *sp, size_t i, size_t end)
{
	const char *t = sp->t;
	int32_t cp;
	size_t j;
	int len;

	while (i < end) {
		len = utf8_decode(t + i, end - i, &cp);
		i += (size_t)len;
		if (cp >= 0 && cp < 0x80 && is_space(cp))
			continue;
		if (sp->ss == NONE) {
			sp->ss = i - (size_t)len;
			sp->ssline = sp->lineno;
		}
		sp->se = i;
		if (cp == 0x3002 || cp == 0xFF01 || cp == 0xFF1F) {
			sp->se = i = closers(t, i, end);
			emit(sp, 1);
		} else if (cp == '.' || cp == '!' || cp == '?') {
			j = closers(t, i, end);
			if (j < end && !is_space((unsigned char)t[j]))
				continue;
			if (cp == '.' && !dot_ends(t, sp->len, i - 1, j))
				continue;
			sp->se = i = j;
			emit(sp, 1);
		}
	}
}

static void
flush_para(struct split *sp)
{
	emit(sp, 0);
	sp->list = 0;
}

/*
 * 1 if the first line after the blank one that ends at T[LE] is text
 * that begins in lower case: the rest of a sentence whose start an
 * example set apart, as in a man page's
 *
 *	{"op":"delete","doc":"notes/old.md"}
 *
 *	removes a document and everything derived from it.
 */
static int
continues(const char *t, size_t len, size_t le)
{
	size_t ls, skip;
	const char *nl;

	for (ls = le + 1; ls < len; ls = (size_t)(nl - t) + 1) {
		nl = memchr(t + ls, '\n', len - ls);
		if (nl == NULL)
			nl = t + len;
		if (line_kind(t + ls, (size_t)(nl - t) - ls, &skip) == L_BLANK)
			continue;
		return line_kind(t + ls, (size_t)(nl - t) - ls, &skip) ==
		    L_TEXT && t[ls + skip] >= 'a' && t[ls + skip] <= 'z';
	}
	return 0;
}

/* Split hit H (number HIT of its group) into the sentences of PL. */
static void
split_hit(struct pool *pl, const struct hit *h, size_t hit)
{
	struct split sp;
	const char *nl;
	size_t ls, le, skip;
	enum line_kind k;
	int code = 0;

	memset(&sp, 0, sizeof(sp));
	sp.pl = pl;
	sp.t = h->text;
	sp.len = strlen(h->text);
	sp.hit = hit;
	sp.ss = NONE;
	sp.line = h->line;
	sp.src = h->src;
	sp.start = h->start;
	sp.mid = h->start > 0;
	while (sp.first < sp.len && is_space((unsigned char)sp.t[sp.first]))
		sp.first++;
	for (sp.last = sp.len; sp.last > sp.first &&
	    is_space((unsigned char)sp.t[sp.last - 1]); sp.last--)
		continue;
	for (ls = 0; ls < sp.len; ls = le + 1, sp.lineno++) {
		nl = memchr(sp.t + ls, '\n', sp.len - ls);
		le = nl != NULL ? (size_t)(nl - sp.t) : sp.len;
		k = line_kind(sp.t + ls, le - ls, &skip);
		if (code || k == L_FENCE) {
			flush_para(&sp);
			code ^= k == L_FENCE;
			continue;
		}
		if (k == L_UNDERLINE && sp.ss != NONE &&
		    sp.ssline + 1 == sp.lineno)
			sp.ss = NONE;	/* a setext heading */
		/*
		 * An unended sentence that does not lead into a list goes
		 * on past a blank line to text in lower case.
		 */
		if (k == L_BLANK && sp.ss != NONE && !sp.list &&
		    !leads_on(sp.t + sp.ss, sp.se - sp.ss) &&
		    continues(sp.t, sp.len, le))
			continue;
		if (k != L_TEXT)
			flush_para(&sp);
		if (k == L_ITEM)
			sp.list = 1;
		if (k == L_TEXT || k == L_ITEM)
			scan(&sp, ls + skip, le);
	}
	flush_para(&sp);
}

static void
pool_release(struct pool *pl)
{
	for (size_t i = 0; i < pl->n; i++) {
		free(pl->v[i].norm);
		free(pl->v[i].out);
	}
	free(pl->v);
}

/*
 * Score every sentence of PL against question Q: the IDF weights (over
 * the sentences of this question) of the question's terms it holds,
 * divided by words^LEN_POWER, with a bonus for a better-ranked hit.
 */
static void
score_pool(struct pool *pl, const char *q, const struct group *g)
{
	struct tally ta;
	char **terms;
	size_t nt, *df;
	double *m, sc;
	struct sent *s;

	nt = analyze_query(q, &terms);
	m = xreallocarray(NULL, pl->n + 1, (nt + 1) * sizeof(*m));
	df = xcalloc(nt + 1, sizeof(*df));
	for (size_t i = 0; i < pl->n; i++) {
		s = &pl->v[i];
		memset(&ta, 0, sizeof(ta));
		ta.terms = terms;
		ta.nterms = nt;
		buf_addc(&ta.norm, ' ');
		s->words = tokenize(g->hits[s->hit].text + s->off, s->len,
		    tally_token, &ta);
		s->norm = buf_detach(&ta.norm, NULL);
		for (size_t k = 0; k < nt; k++) {
			m[i * nt + k] = ta.m[k];
			df[k] += ta.m[k] > 0;
		}
	}
	for (size_t i = 0; i < pl->n; i++) {
		s = &pl->v[i];
		sc = 0;
		for (size_t k = 0; k < nt; k++)
			if (m[i * nt + k] > 0)
				sc += m[i * nt + k] *
				    log1p((double)pl->n / (double)df[k]);
		if (sc > 0)
			sc = sc / pow((double)s->words, LEN_POWER) *
			    (1 + RANK_BONUS / (double)(s->hit + 1)) *
			    (s->frag ? FRAG_FACTOR : 1);
		s->score = sc;
	}
	free(df);
	free(m);
	analyze_terms_free(terms, nt);
}

/*
 * Append S[0..N) to B with each run of white space made one space, or
 * none where a line break falls between two CJK characters.
 */
static void
collapse(struct buf *b, const char *s, size_t n)
{
	int32_t cp, prev = 0;
	size_t i = 0;
	int len, ws = 0, nl = 0;

	while (i < n) {
		len = utf8_decode(s + i, n - i, &cp);
		if (cp >= 0 && cp < 0x80 && is_space(cp)) {
			ws = 1;
			nl |= cp == '\n';
		} else {
			if (ws && b->len > 0 && !(nl && is_wide(prev) &&
			    is_wide(cp)))
				buf_addc(b, ' ');
			ws = nl = 0;
			buf_add(b, s + i, (size_t)len);
			prev = cp;
		}
		i += (size_t)len;
	}
}

/* Cut S->out to MAX characters, the last being an ellipsis. */
static void
shorten(struct sent *s, size_t max)
{
	char *o = s->out;
	size_t n = strlen(o), cut, p;

	cut = utf8_prefix(o, n, max - 1);
	for (p = cut; p > cut / 2 && o[p] != ' '; p--)
		continue;
	if (p > cut / 2)
		cut = p;
	while (cut > 0 && strchr(" ,;:", o[cut - 1]) != NULL)
		cut--;
	o = xrealloc(o, cut + 4);
	memcpy(o + cut, "\xE2\x80\xA6", 4);
	s->out = o;
}

static int
cmp_score(const void *a, const void *b)
{
	const struct sent *x = *(struct sent *const *)a;
	const struct sent *y = *(struct sent *const *)b;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	if (x->hit != y->hit)
		return x->hit < y->hit ? -1 : 1;
	return (x->off > y->off) - (x->off < y->off);
}

/*
 * Whether S repeats one of the N sentences taken: the same words, or
 * all the words of a sentence of four or more within the other (the
 * overlap of two chunks can cut a sentence).
 */
static int
is_dup(struct sent *const *pick, size_t n, const struct sent *s)
{
	const char *a, *b, *t;

	for (size_t i = 0; i < n; i++) {
		a = pick[i]->norm;
		b = s->norm;
		if (strlen(a) > strlen(b))
			t = a, a = b, b = t;
		if (strcmp(a, b) == 0 ||
		    (pick[i]->words >= 4 && s->words >= 4 &&
		    strstr(b, a) != NULL))
			return 1;
	}
	return 0;
}

/*
 * Take the best sentences of PL into PICK (room for o->sentences):
 * best first, skipping repeats, within o->max_chars characters.
 * Returns how many.
 */
static size_t
choose(struct pool *pl, const struct group *g, const struct opts *o,
    struct sent **pick)
{
	struct sent **v, *s;
	struct buf b;
	size_t nv = 0, np = 0, used = 0, chars;

	v = xreallocarray(NULL, pl->n + 1, sizeof(*v));
	for (size_t i = 0; i < pl->n; i++)
		if (pl->v[i].score > 0)
			v[nv++] = &pl->v[i];
	rp_sort(v, nv, sizeof(*v), cmp_score);
	for (size_t i = 0; i < nv && np < o->sentences; i++) {
		s = v[i];
		if (s->score < v[0]->score * KEEP_SHARE)
			break;
		if (is_dup(pick, np, s))
			continue;
		buf_init(&b, 0);
		collapse(&b, g->hits[s->hit].text + s->off, s->len);
		if (s->frag & FRAG_TAIL)
			buf_adds(&b, "\xE2\x80\xA6");
		s->out = buf_detach(&b, NULL);
		chars = utf8_count(s->out, strlen(s->out));
		if (used + chars > o->max_chars) {
			if (np > 0)
				continue;
			shorten(s, o->max_chars);
			chars = o->max_chars;
		}
		pick[np++] = s;
		used += chars;
	}
	free(v);
	return np;
}

/* Source order: first appearance of the document, then text order. */
static int
cmp_source(const void *a, const void *b)
{
	const struct sent *x = *(struct sent *const *)a;
	const struct sent *y = *(struct sent *const *)b;

	if (x->src != y->src)
		return x->src < y->src ? -1 : 1;
	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	if (x->hit != y->hit)
		return x->hit < y->hit ? -1 : 1;
	return (x->off > y->off) - (x->off < y->off);
}

/*
 * Append sentence S to B with citation N: before its final punctuation
 * ("ends in May [1]."), else after it, with a full stop after a word.
 */
static void
add_cited(struct buf *b, const char *s, size_t n)
{
	size_t p = strlen(s), at;
	int32_t cp, first, last;

	utf8_decode(s, p > 0 ? p : 1, &first);
	if (b->len > 0 && !(is_wide(last_cp(b->data, b->len, NULL)) &&
	    is_wide(first)))
		buf_addc(b, ' ');
	while (p > 0) {
		cp = last_cp(s, p, &at);
		if (cp != '.' && cp != '!' && cp != '?' && cp != 0x3002 &&
		    cp != 0xFF01 && cp != 0xFF1F)
			break;
		p = at;
	}
	last = p > 0 ? last_cp(s, p, NULL) : 0;
	buf_add(b, s, p);
	if (!is_wide(last))
		buf_addc(b, ' ');
	buf_addf(b, "[%zu]", n);
	buf_adds(b, s + p);
	/* A list item or a line without a full stop gets one. */
	if (s[p] == '\0' && analyze_is_word(last) && !is_wide(last))
		buf_addc(b, '.');
}

/* The extractive provider: sentences of the hits (DESIGN.md section 5). */
int
extractive(const struct group *g, const struct opts *o, struct answer *a)
{
	struct pool pl = { NULL, 0, 0 };
	struct sent **pick, *s;
	size_t np;

	a->model = "extractive";
	if (g->n == 0 || g->query == NULL)
		return RP_EXIT_NOANSWER;
	for (size_t i = 0; i < g->n; i++)
		split_hit(&pl, &g->hits[i], i);
	score_pool(&pl, g->query, g);
	pick = xreallocarray(NULL, o->sentences, sizeof(*pick));
	np = choose(&pl, g, o, pick);
	rp_sort(pick, np, sizeof(*pick), cmp_source);
	for (size_t i = 0; i < np; i++) {
		s = pick[i];
		if (i == 0 || s->src != pick[i - 1]->src) {
			a->cites = xreallocarray(a->cites, a->ncites + 1,
			    sizeof(*a->cites));
			a->cites[a->ncites].n = a->ncites + 1;
			a->cites[a->ncites].hit = s->hit;
			a->cites[a->ncites++].line = s->line;
		}
		add_cited(&a->text, s->out, a->ncites);
	}
	a->nsent = np;
	free(pick);
	pool_release(&pl);
	return np > 0 ? 0 : RP_EXIT_NOANSWER;
}
