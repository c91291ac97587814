/*
 * leak: leaks on purpose.  Built only into the sanitizer build (make
 * asan), where tests/run expects LeakSanitizer to report it: proof
 * that leak checking really runs (it does not under ptrace, or where
 * the sandbox forbids it), so that a quiet suite means no leaks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(void)
{
	char *volatile p = malloc(4242);

	if (p == NULL)
		return 1;
	memset(p, 'x', 4242);
	printf("%c\n", p[7]);
	p = NULL;
	return 0;
}
