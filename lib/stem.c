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

/* Does the word end with S?  If so, set j to the end of the stem. */
static int
ends(struct word *z, const char *s)
{
	int n = (int)strlen(s);

	if (n > z->k + 1 || memcmp(z->b + z->k - n + 1, s, (size_t)n) != 0)
		return 0;
	z->j = z->k - n;
	return 1;
}

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
	const char	*from, *to;
};

static void
apply(struct word *z, const struct rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ends(z, r[i].from)) {
			replace_if_m(z, r[i].to);
			return;
		}
}

/* Step 2: double suffixes to single ones, when m > 0. */
static void
step2(struct word *z)
{
	static const struct rule r[] = {
		{ "ational", "ate" }, { "tional", "tion" }, { "enci", "ence" },
		{ "anci", "ance" }, { "izer", "ize" }, { "bli", "ble" },
		{ "alli", "al" }, { "entli", "ent" }, { "eli", "e" },
		{ "ousli", "ous" }, { "ization", "ize" }, { "ation", "ate" },
		{ "ator", "ate" }, { "alism", "al" }, { "iveness", "ive" },
		{ "fulness", "ful" }, { "ousness", "ous" }, { "aliti", "al" },
		{ "iviti", "ive" }, { "biliti", "ble" }, { "logi", "log" },
	};

	if (z->k >= 1)
		apply(z, r, sizeof(r) / sizeof(r[0]));
}

/* Step 3: -ic-, -full, -ness and the like, when m > 0. */
static void
step3(struct word *z)
{
	static const struct rule r[] = {
		{ "icate", "ic" }, { "ative", "" }, { "alize", "al" },
		{ "iciti", "ic" }, { "ical", "ic" }, { "ful", "" },
		{ "ness", "" },
	};

	apply(z, r, sizeof(r) / sizeof(r[0]));
}

/* Step 4: drop -ant, -ence and the like when m > 1. */
static void
step4(struct word *z)
{
	static const char *const s[] = {
		"al", "ance", "ence", "er", "ic", "able", "ible", "ant",
		"ement", "ment", "ent", "ion", "ou", "ism", "ate", "iti",
		"ous", "ive", "ize",
	};

	if (z->k < 1)
		return;
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		if (!ends(z, s[i]))
			continue;
		if (strcmp(s[i], "ion") == 0 &&
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
