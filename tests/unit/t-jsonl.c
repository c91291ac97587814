/* t-jsonl: line reading with caps, record parsing, field helpers. */
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "jsonl.h"
#include "tap.h"

static FILE *
mem(const char *s, size_t n)
{
	FILE *f = tmpfile();

	fwrite(s, 1, n, f);
	rewind(f);
	return f;
}

int
main(void)
{
	static const char in[] = "\xEF\xBB\xBF{\"a\":1}\r\n\n  \n{\"doc\":\n"
	    "[1,2]\n{\"b\":\"x\"} {\"c\":2}\n{\"long\":\"0123456789012345678901"
	    "234567890123456789\"}\n{\"doc\":\"d\",\"n\":3}";
	struct rp_err err;
	struct jsonl *r;
	struct lines *l;
	cJSON *o;
	double v;
	char *line;
	size_t len;
	FILE *f;

	f = mem(in, sizeof(in) - 1);
	r = jsonl_open(f, "<stdin>", 48);
	is_int(jsonl_next(r, &o, &err), 1, "first record despite BOM and CRLF");
	ok(jsonl_num(o, "a", &v) && v == 1, "its field");
	cJSON_Delete(o);
	is_int(jsonl_next(r, &o, &err), -1, "truncated JSON is an error");
	is_str(err.msg, "<stdin>:4: not valid JSON", "names the line, "
	    "counting the blank ones skipped");
	is_int(err.code, RP_EXIT_DATA, "as bad data");
	is_int(jsonl_next(r, &o, &err), -1, "an array is not a record");
	is_str(err.msg, "<stdin>:5: not a JSON object", "says so");
	is_int(jsonl_next(r, &o, &err), -1, "two values on a line");
	is_str(err.msg, "<stdin>:6: more than one JSON value on the line",
	    "is refused");
	is_int(jsonl_next(r, &o, &err), -1, "an over-long line");
	is_str(err.msg, "<stdin>:7: line is longer than 48 bytes", "is "
	    "reported with the cap");
	is_int(jsonl_next(r, &o, &err), 1, "and reading goes on");
	is_str(jsonl_str(o, "doc"), "d", "with the next record");
	is_str(jsonl_where(r), "<stdin>:8", "where names it");
	is_int(jsonl_next(r, &o, &err) == 0 ? 0 : 1, 0, "then end of input");
	jsonl_set_str(o, "doc", "e");
	jsonl_set_num(o, "m", 2.5);
	is_str(jsonl_str(o, "doc"), "e", "set replaces a field");
	ok(jsonl_str(o, "n") == NULL, "a number is not a string");
	ok(cJSON_GetArraySize(o) == 3, "no duplicate keys after set");
	cJSON_Delete(o);
	jsonl_close(r);
	fclose(f);

	f = mem("a\0bb\0\0ccc", 9);
	l = lines_open(f, "list", 100, '\0');
	ok(lines_next(l, &line, &len, &err) == 1 && strcmp(line, "a") == 0,
	    "NUL-separated first");
	ok(lines_next(l, &line, &len, &err) == 1 && strcmp(line, "bb") == 0,
	    "second");
	ok(lines_next(l, &line, &len, &err) == 1 && len == 0, "empty");
	ok(lines_next(l, &line, &len, &err) == 1 && strcmp(line, "ccc") == 0,
	    "last without a terminator");
	is_int(lines_next(l, &line, &len, &err), 0, "then the end");
	is_int(lines_lineno(l), 4, "four lines counted");
	lines_close(l);
	fclose(f);
	return tap_done();
}
