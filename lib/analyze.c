/* analyze: full-text terms, CJK bigrams, stop words. */
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "buf.h"
#include "utf8.h"
#include "analyze.h"

#define MAX_WORD	64	/* bytes */

/* Sorted, for bsearch.  Function words that carry no topic. */
static const char *const stopwords[] = {
	"a", "about", "above", "after", "again", "against", "all", "also",
	"am", "an", "and", "any", "are", "as", "at", "be", "because", "been",
	"before", "being", "below", "between", "both", "but", "by", "can",
	"could", "did", "do", "does", "doing", "done", "down", "during",
	"each", "either", "etc", "even", "ever", "every", "few", "for",
	"from", "further", "had", "has", "have", "having", "he", "her",
	"here", "hers", "herself", "him", "himself", "his", "how", "however",
	"i", "if", "in", "into", "is", "it", "its", "itself", "just", "may",
	"me", "might", "more", "most", "must", "my", "myself", "no", "nor",
	"not", "now", "of", "off", "on", "once", "only", "or", "other",
	"ought", "our", "ours", "ourselves", "out", "over", "own", "same",
	"shall", "she", "should", "so", "some", "such", "than", "that", "the",
	"their", "theirs", "them", "themselves", "then", "there", "these",
	"they", "this", "those", "through", "thus", "to", "too", "under",
	"until", "up", "upon", "us", "very", "was", "we", "were", "what",
	"when", "where", "whether", "which", "while", "who", "whom", "whose",
	"why", "will", "with", "within", "without", "would", "yet", "you",
	"your", "yours", "yourself", "yourselves",
};

int
analyze_is_cjk(int32_t cp)
{
	return (cp >= 0x3040 && cp <= 0x30FF) ||	/* kana */
	    (cp >= 0x31F0 && cp <= 0x31FF) ||
	    (cp >= 0x3400 && cp <= 0x4DBF) ||		/* Han ext. A */
	    (cp >= 0x4E00 && cp <= 0x9FFF) ||		/* Han */
	    (cp >= 0xF900 && cp <= 0xFAFF) ||		/* Han compat. */
	    (cp >= 0xFF66 && cp <= 0xFF9F) ||		/* half-width kana */
	    (cp >= 0x1100 && cp <= 0x11FF) ||		/* Hangul jamo */
	    (cp >= 0x3130 && cp <= 0x318F) ||
	    (cp >= 0xAC00 && cp <= 0xD7AF) ||		/* Hangul */
	    (cp >= 0x20000 && cp <= 0x3134F);		/* Han ext. B-G */
}

int
analyze_is_word(int32_t cp)
{
	if (cp < 0x80)
		return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
		    (cp >= 'A' && cp <= 'Z');
	/* Spaces, punctuation and symbols that unicode61 splits on. */
	if (cp < 0xC0)
		return cp == 0xAA || cp == 0xB5 || cp == 0xBA ||
		    (cp >= 0xB2 && cp <= 0xB3) || cp == 0xB9;
	if (cp == 0xD7 || cp == 0xF7)
		return 0;
	if ((cp >= 0x2000 && cp <= 0x2BFF) ||	/* punctuation, symbols */
	    (cp >= 0x3000 && cp <= 0x303F) ||	/* CJK punctuation */
	    (cp >= 0xFE30 && cp <= 0xFE4F) ||
	    (cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
	    (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65) ||
	    cp == UTF8_REPLACEMENT || cp == 0xFEFF ||
	    (cp >= 0xE000 && cp <= 0xF8FF) ||	/* private use */
	    (cp >= 0x1F000 && cp <= 0x1FAFF))	/* emoji */
		return 0;
	return 1;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
analyze_is_stopword(const char *w, size_t n)
{
	char key[16];
	const char *k = key;

	if (n == 0 || n >= sizeof(key))
		return 0;
	memcpy(key, w, n);
	key[n] = '\0';
	return bsearch(&k, stopwords, RP_NELEM(stopwords), sizeof(*stopwords),
	    cmpstr) != NULL;
}

int
analyze_fts_text(struct buf *out, const char *text, size_t n)
{
	size_t i = 0, run = 0, prev = 0, prevlen = 0;
	int32_t cp;
	int len;

	while (i < n) {
		len = utf8_decode(text + i, n - i, &cp);
		if (!analyze_is_cjk(cp)) {
			if (run == 1 && buf_add(out, text + prev, prevlen) != 0)
				return -1;
			if (run > 0 && buf_addc(out, ' ') != 0)
				return -1;
			run = 0;
			if (buf_add(out, text + i, (size_t)len) != 0)
				return -1;
		} else {
			if (run == 0 && buf_addc(out, ' ') != 0)
				return -1;
			if (run >= 1 &&
			    (buf_add(out, text + prev, prevlen) != 0 ||
			    buf_add(out, text + i, (size_t)len) != 0 ||
			    buf_addc(out, ' ') != 0))
				return -1;
			run++;
			prev = i;
			prevlen = (size_t)len;
		}
		i += (size_t)len;
	}
	if (run == 1 && buf_add(out, text + prev, prevlen) != 0)
		return -1;
	return 0;
}

struct terms {
	char	**v;
	size_t	  n;
};

static void
add_term(struct terms *t, const char *s, size_t n)
{
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->v[i]) == n && memcmp(t->v[i], s, n) == 0)
			return;
	if (t->n >= ANALYZE_MAX_TERMS)
		return;
	t->v = xreallocarray(t->v, t->n + 1, sizeof(*t->v));
	t->v[t->n++] = xstrndup(s, n);
}

size_t
analyze_query(const char *q, char ***terms)
{
	struct terms all = { NULL, 0 }, kept = { NULL, 0 };
	size_t n = strlen(q), i = 0, prev = 0, prevlen = 0, run = 0;
	char word[MAX_WORD + 1];
	size_t wlen;
	int32_t cp;
	int len, stop;

	while (i < n) {
		len = utf8_decode(q + i, n - i, &cp);
		if (analyze_is_cjk(cp)) {
			if (run >= 1) {
				char bi[8];

				memcpy(bi, q + prev, prevlen);
				memcpy(bi + prevlen, q + i, (size_t)len);
				add_term(&all, bi, prevlen + (size_t)len);
				add_term(&kept, bi, prevlen + (size_t)len);
			}
			run++;
			prev = i;
			prevlen = (size_t)len;
			i += (size_t)len;
			continue;
		}
		if (run == 1) {
			add_term(&all, q + prev, prevlen);
			add_term(&kept, q + prev, prevlen);
		}
		run = 0;
		if (!analyze_is_word(cp)) {
			i += (size_t)len;
			continue;
		}
		wlen = 0;
		while (i < n) {
			len = utf8_decode(q + i, n - i, &cp);
			if (!analyze_is_word(cp) || analyze_is_cjk(cp))
				break;
			if (wlen + (size_t)len <= MAX_WORD) {
				for (int k = 0; k < len; k++) {
					char c = q[i + (size_t)k];

					word[wlen++] = c >= 'A' && c <= 'Z' ?
					    (char)(c - 'A' + 'a') : c;
				}
			}
			i += (size_t)len;
		}
		stop = analyze_is_stopword(word, wlen);
		add_term(&all, word, wlen);
		if (!stop)
			add_term(&kept, word, wlen);
	}
	if (run == 1) {
		add_term(&all, q + prev, prevlen);
		add_term(&kept, q + prev, prevlen);
	}
	if (kept.n == 0) {
		*terms = all.v;
		return all.n;
	}
	analyze_terms_free(all.v, all.n);
	*terms = kept.v;
	return kept.n;
}

void
analyze_terms_free(char **terms, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(terms[i]);
	free(terms);
}
