/* t-buf: the capped byte buffer. */
#include <stdint.h>
#include <stdlib.h>

#include "rp.h"
#include "buf.h"
#include "tap.h"

int
main(void)
{
	struct buf b = BUF_INIT, c;
	char *p;
	size_t n;

	is_str(buf_str(&b), "", "an empty buffer reads as \"\"");
	ok(buf_adds(&b, "hello") == 0 && b.len == 5, "append a string");
	ok(buf_addf(&b, " %d%s", 42, "!") == 0, "append formatted");
	is_str(buf_str(&b), "hello 42!", "contents are NUL-terminated");
	buf_truncate(&b, 5);
	is_str(buf_str(&b), "hello", "truncate");
	for (int i = 0; i < 10000; i++)
		buf_addc(&b, 'x');
	is_int(b.len, 10005, "grows past many doublings");
	ok(b.data[b.len] == '\0', "still terminated after growth");
	p = buf_detach(&b, &n);
	is_int(n, 10005, "detach gives the length");
	ok(b.data == NULL && b.len == 0, "detach empties the buffer");
	free(p);

	buf_init(&c, 8);
	ok(buf_adds(&c, "12345678") == 0, "fill to the cap exactly");
	ok(buf_addc(&c, '9') == -1, "one more byte is refused");
	is_str(buf_str(&c), "12345678", "a refused append changes nothing");
	ok(buf_addf(&c, "%s", "x") == -1, "formatted append is capped too");
	buf_reset(&c);
	ok(c.len == 0 && buf_adds(&c, "abc") == 0, "reset keeps the cap");
	ok(buf_add(&c, "0123456789", 10) == -1, "a large append is refused");
	is_str(buf_str(&c), "abc", "and leaves the contents");
	buf_release(&c);
	ok(c.data == NULL, "release frees");
	buf_init(&c, 1000);
	for (int i = 0; i < 1000; i++)
		buf_addc(&c, 'x');
	ok(c.len == 1000 && c.cap == 1001, "a capped buffer grows to its cap "
	    "and no further (cap %zu)", c.cap);
	buf_release(&c);
	ok(buf_reserve(&c, 500) == 0 && c.cap == 501, "reserve: exactly");
	ok(buf_reserve(&c, 1001) == -1, "reserve: not past the cap");
	buf_release(&c);
	p = buf_detach(&c, &n);
	ok(p != NULL && *p == '\0' && n == 0, "detach of empty gives \"\"");
	free(p);
	buf_init(&c, SIZE_MAX);
	for (int i = 0; i < 100; i++)
		buf_addc(&c, 'y');
	ok(c.len == 100 && c.cap > 100 && c.data[99] == 'y',
	    "a cap of SIZE_MAX is no cap (cap %zu)", c.cap);
	buf_release(&c);
	return tap_done();
}
