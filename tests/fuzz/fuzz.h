/*
 * fuzz.h: what the fuzz targets share.
 *
 * Each tests/fuzz/f-<name>.c defines LLVMFuzzerTestOneInput and calls
 * the lib/ functions the programs use, on bytes chosen by libFuzzer
 * (make fuzz) or read from the corpus and regression files (replay.c,
 * in make check).  A target checks the invariants its functions
 * promise with FUZZ_CHECK, which aborts, so that a broken promise is a
 * finding like a crash.  Targets must not leak, print or exit.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: fuzz check failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/*
 * Take a byte from the front of the input (0 when it is empty): targets
 * use the first bytes as options (a format, a size) and the rest as
 * the text.
 */
static inline unsigned
fuzz_byte(const uint8_t **data, size_t *size)
{
	unsigned b;

	if (*size == 0)
		return 0;
	b = **data;
	(*data)++;
	(*size)--;
	return b;
}

#endif /* FUZZ_H */
