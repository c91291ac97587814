/*
 * tap: a tiny Test Anything Protocol emitter for the C unit tests.
 *
 * Each tests/unit/t-<module>.c includes this once, calls ok()/is_int()/
 * is_str()/is_mem() and ends main with "return tap_done();".  A failed
 * check prints "not ok N - name" with the file, line and both values as
 * TAP comments; tests/run counts the "ok" and "not ok" lines.
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

static int __attribute__((format(printf, 4, 5)))
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	printf("%s %d - ", pass ? "ok" : "not ok", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return pass;
}

#define ok(cond, ...)	tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...) do {					\
	long long tap_g_ = (long long)(got), tap_w_ = (long long)(want); \
	if (!tap_ok(tap_g_ == tap_w_, __FILE__, __LINE__, __VA_ARGS__))	\
		printf("#   got %lld, want %lld\n", tap_g_, tap_w_);	\
} while (0)

#define is_str(got, want, ...) do {					\
	const char *tap_g_ = (got), *tap_w_ = (want);			\
	int tap_p_ = tap_g_ != NULL && tap_w_ != NULL ?			\
	    strcmp(tap_g_, tap_w_) == 0 : tap_g_ == tap_w_;		\
	if (!tap_ok(tap_p_, __FILE__, __LINE__, __VA_ARGS__))		\
		printf("#   got '%s', want '%s'\n",			\
		    tap_g_ ? tap_g_ : "(null)", tap_w_ ? tap_w_ : "(null)"); \
} while (0)

#define is_mem(got, glen, want, wlen, ...) do {				\
	size_t tap_gl_ = (glen), tap_wl_ = (wlen);			\
	int tap_p_ = tap_gl_ == tap_wl_ &&				\
	    memcmp((got), (want), tap_gl_) == 0;			\
	if (!tap_ok(tap_p_, __FILE__, __LINE__, __VA_ARGS__))		\
		printf("#   got '%.*s', want '%.*s'\n", (int)tap_gl_,	\
		    (const char *)(got), (int)tap_wl_, (const char *)(want)); \
} while (0)

static int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed != 0;
}

#endif /* TAP_H */
