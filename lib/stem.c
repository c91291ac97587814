/* stem: the Porter stemmer (M.F. Porter, "An algorithm for suffix
 * stripping", Program 14(3), 1980), written from the paper's rules. */
#include <string.h>

#include "stem.h"

struct word {
	char	*b;	/* the word */
	int	 k;	/* index of its last letter */
	int	 j;	/* end of the stem before a matched suffix */
};

/* Is b[i] a consonant?  'y' is one after a vowel or at the start. */
static int
cons(const struct word *z, int i)
{
	switch (z->b[i]) {
	case 'a': case 'e': case 'i': case 'o': case 'u':
		return 0;
	case 'y':
		return i == 0 ? 1 : !cons(z, i - 1);
	default:
		return 1;
	}
}

/* m(): the number of vowel-consonant sequences in b[0..j]. */
static int
measure(const struct word *z)
{
	int n = 0, i = 0;

	for (;; i++) {
		if (i > z->j)
			return n;
		if (!cons(z, i))
			break;
	}
	for (i++;;) {
		for (;; i++) {
			if (i > z->j)
				return n;
			if (cons(z, i))
				break;
		}
		n++;
		for (i++;; i++) {
			if (i > z->j)
				return n;
			if (!cons(z, i))
				break;
		}
		i++;
	}
}

/* Does b[0..j] contain a vowel? */
static int
vowel_in_stem(const struct word *z)
{
	for (int i = 0; i <= z->j; i++)
		if (!cons(z, i))
			return 1;
	return 0;
}

/* Does b end in a double consonant at I? */
static int
double_cons(const struct word *z, int i)
{
	return i >= 1 && z->b[i] == z->b[i - 1] && cons(z, i);
}

/* cvc(i): consonant-vowel-consonant ending at I, the last not w, x, y. */
static int
cvc(const struct word *z, int i)
{
	int c;

	if (i < 2 || !cons(z, i) || cons(z, i - 1) || !cons(z, i - 2))
		return 0;
	c = z->b[i];
	return c != 'w' && c != 'x' && c != 'y';
}

/*
 * Does the word end with S, of N letters?  If so, set j to the end of
 * the stem.  Most suffixes tried fail on their last letter, tested
 * first (the stemmer ran strlen and memcmp a suffix tried: a third of
 * the built-in embedder's time).
 */
static int
ends_n(struct word *z, const char *s, int n)
{
	if (n > z->k + 1 || z->b[z->k] != s[n - 1] ||
	    memcmp(z->b + z->k - n + 1, s, (size_t)n) != 0)
		return 0;
	z->j = z->k - n;
	return 1;
}

/* LIT must be a string literal ("" LIT will not compile otherwise). */
#define ends(z, lit)	ends_n((z), "" lit, (int)sizeof("" lit) - 1)

/* Replace the suffix after j with S. */
static void
setto(struct word *z, const char *s)
{
	int n = (int)strlen(s);

	memcpy(z->b + z->j + 1, s, (size_t)n);
	z->k = z->j + n;
}

static void
replace_if_m(struct word *z, const char *s)
{
	if (measure(z) > 0)
		setto(z, s);
}

/* Step 1ab: plurals and -ed or -ing. */
static void
step1ab(struct word *z)
{
	if (z->b[z->k] == 's') {
		if (ends(z, "sses"))
			z->k -= 2;
		else if (ends(z, "ies"))
			setto(z, "i");
		else if (z->k >= 1 && z->b[z->k - 1] != 's')
			z->k--;
	}
	if (ends(z, "eed")) {
		if (measure(z) > 0)
			z->k--;
	} else if ((ends(z, "ed") || ends(z, "ing")) && vowel_in_stem(z)) {
		z->k = z->j;
		if (ends(z, "at"))
			setto(z, "ate");
		else if (ends(z, "bl"))
			setto(z, "ble");
		else if (ends(z, "iz"))
			setto(z, "ize");
		else if (double_cons(z, z->k)) {
			int c = z->b[z->k];

			if (c != 'l' && c != 's' && c != 'z')
				z->k--;
		} else {
			z->j = z->k;
			if (measure(z) == 1 && cvc(z, z->k))
				setto(z, "e");
		}
	}
}

/* Step 1c: a final y becomes i when there is another vowel. */
static void
step1c(struct word *z)
{
	if (ends(z, "y") && vowel_in_stem(z))
		z->b[z->k] = 'i';
}

struct rule {
	const char	*from;
	int		 n;	/* letters of from */
	const char	*to;
};

#define R(from, to)	{ "" from, (int)sizeof("" from) - 1, to }

static void
apply(struct word *z, const struct rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ends_n(z, r[i].from, r[i].n)) {
			replace_if_m(z, r[i].to);
			return;
		}
}

/* Step 2: double suffixes to single ones, when m > 0. */
static void
step2(struct word *z)
{
	static const struct rule r[] = {
		R("ational", "ate"), R("tional", "tion"), R("enci", "ence"),
		R("anci", "ance"), R("izer", "ize"), R("bli", "ble"),
		R("alli", "al"), R("entli", "ent"), R("eli", "e"),
		R("ousli", "ous"), R("ization", "ize"), R("ation", "ate"),
		R("ator", "ate"), R("alism", "al"), R("iveness", "ive"),
		R("fulness", "ful"), R("ousness", "ous"), R("aliti", "al"),
		R("iviti", "ive"), R("biliti", "ble"), R("logi", "log"),
	};

	if (z->k >= 1)
		apply(z, r, sizeof(r) / sizeof(r[0]));
}

/* Step 3: -ic-, -full, -ness and the like, when m > 0. */
static void
step3(struct word *z)
{
	static const struct rule r[] = {
		R("icate", "ic"), R("ative", ""), R("alize", "al"),
		R("iciti", "ic"), R("ical", "ic"), R("ful", ""),
		R("ness", ""),
	};

	apply(z, r, sizeof(r) / sizeof(r[0]));
}

/* Step 4: drop -ant, -ence and the like when m > 1. */
static void
step4(struct word *z)
{
	static const struct rule s[] = {
		R("al", ""), R("ance", ""), R("ence", ""), R("er", ""),
		R("ic", ""), R("able", ""), R("ible", ""), R("ant", ""),
		R("ement", ""), R("ment", ""), R("ent", ""), R("ion", ""),
		R("ou", ""), R("ism", ""), R("ate", ""), R("iti", ""),
		R("ous", ""), R("ive", ""), R("ize", ""),
	};

	if (z->k < 1)
		return;
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		if (!ends_n(z, s[i].from, s[i].n))
			continue;
		if (strcmp(s[i].from, "ion") == 0 &&
		    (z->j < 0 || (z->b[z->j] != 's' && z->b[z->j] != 't')))
			continue;
		/* "ement" before "ment" before "ent": take the first match. */
		if (measure(z) > 1)
			z->k = z->j;
		return;
	}
}

/* Step 5: drop a final -e, and -ll to -l, when m is large enough. */
static void
step5(struct word *z)
{
	int m;

	z->j = z->k;
	if (z->b[z->k] == 'e') {
		m = measure(z);
		if (m > 1 || (m == 1 && !cvc(z, z->k - 1)))
			z->k--;
	}
	if (z->b[z->k] == 'l' && double_cons(z, z->k) && measure(z) > 1)
		z->k--;
}

size_t
stem_porter(char *w, size_t n)
{
	struct word z;

	if (n <= 2 || n > 64)
		return n;
	for (size_t i = 0; i < n; i++)
		if (w[i] < 'a' || w[i] > 'z')
			return n;
	z.b = w;
	z.k = (int)n - 1;
	z.j = 0;
	step1ab(&z);
	if (z.k > 0) {
		step1c(&z);
		step2(&z);
		step3(&z);
		step4(&z);
		step5(&z);
	}
	return (size_t)z.k + 1;
}
