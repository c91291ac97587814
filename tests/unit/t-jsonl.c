/* t-jsonl: line reading with caps, record parsing, field helpers. */
#include <stdlib.h>
#include <string.h>

#include "rp.h"
#include "buf.h"
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

	{
		const char *why, *model, *s;
		struct buf out = BUF_INIT;
		FILE *tmp;
		long nc;
		float *vec;
		size_t dim;

		s = "{\"d\":\"r\xc3\",\"t\":\"a\xffz\"}";
		o = jsonl_parse(s, strlen(s), &why);
		ok(o != NULL, "not UTF-8: parsed");
		is_str(jsonl_str(o, "d"), "r\xef\xbf\xbd", "not UTF-8: repaired");
		is_str(jsonl_str(o, "t"), "a\xef\xbf\xbdz", "repaired inside");
		cJSON_Delete(o);
		o = jsonl_parse("{\"t\":\"one\\u0000two\",\"b\":\"\\\\u0000\"}",
		    34, &why);
		is_str(jsonl_str(o, "t"), "one\xef\xbf\xbdtwo",
		    "\\u0000: U+FFFD, the rest kept");
		is_str(jsonl_str(o, "b"), "\\u0000", "an escaped backslash stays");
		cJSON_Delete(o);
		o = cJSON_CreateObject();
		jsonl_set_str(o, "doc", "caf\xe9");
		tmp = tmpfile();
		jsonl_write(tmp, o);
		rewind(tmp);
		buf_grow(&out, 64);
		out.len = fread(out.data, 1, 63, tmp);
		s = "{\"doc\":\"caf\xef\xbf\xbd\"}\n";
		is_mem(out.data, out.len, s, strlen(s),
		    "what is written is UTF-8");
		fclose(tmp);
		buf_release(&out);
		cJSON_Delete(o);

		o = cJSON_Parse("{\"text\":\"x\",\"nchunks\":2}");
		ok(jsonl_chunk_check(o, &nc, &err) == 0 && nc == 2, "chunk: ok");
		cJSON_Delete(o);
		o = cJSON_Parse("{\"nchunks\":0}");
		ok(jsonl_chunk_check(o, &nc, &err) == 0 && nc == 0,
		    "chunk: an empty document needs no text");
		cJSON_Delete(o);
		o = cJSON_Parse("{\"text\":\"x\",\"nchunks\":1.5}");
		ok(jsonl_chunk_check(o, &nc, &err) == -1, "chunk: nchunks 1.5");
		is_str(err.msg, "'nchunks' is not a whole number", "says so");
		cJSON_Delete(o);
		o = cJSON_Parse("{\"text\":7}");
		ok(jsonl_chunk_check(o, &nc, &err) == -1 &&
		    strcmp(err.msg, "'text' is not a string") == 0,
		    "chunk: text not a string");
		cJSON_Delete(o);
		o = cJSON_Parse("{\"embedding_b64\":\"AACAPwAAAEA=\",\"model\":\"m\"}");
		ok(jsonl_embedding(o, &vec, &model, &dim, &err) == 0 && dim == 2 &&
		    vec[0] == 1 && vec[1] == 2 && strcmp(model, "m") == 0,
		    "embedding: base64");
		free(vec);
		cJSON_Delete(o);
		o = cJSON_Parse("{\"embedding_b64\":\"\",\"model\":\"m\"}");
		ok(jsonl_embedding(o, &vec, &model, &dim, &err) == -1,
		    "embedding: empty base64 refused");
		cJSON_Delete(o);
		o = cJSON_Parse("{\"embedding\":[1,2]}");
		ok(jsonl_embedding(o, &vec, &model, &dim, &err) == -1 &&
		    strcmp(err.msg, "an embedding without a 'model'") == 0,
		    "embedding: needs a model");
		cJSON_Delete(o);
		o = cJSON_Parse("{\"text\":\"x\"}");
		ok(jsonl_embedding(o, &vec, &model, &dim, &err) == 0 && vec == NULL &&
		    model == NULL, "embedding: none");
		cJSON_Delete(o);
	}

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
