/* t-convert: external converters, their failures, limits and rules. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp.h"
#include "buf.h"
#include "convert.h"
#include "extract.h"
#include "tap.h"

static const char *
mktext(const char *dir, const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

int
main(void)
{
	char dir[] = "/tmp/t-convert.XXXXXX", pdf[600], cmd[700];
	const struct convert_rule *r;
	struct convert_rule fake;
	struct rp_err err;
	struct convert *c;
	struct buf out = BUF_INIT;
	const char *p;
	double t;
	FILE *pp;
	int off;

	ok(mkdtemp(dir) != NULL, "temporary directory");
	c = convert_new();
	r = convert_find(c, "docs/Report.PDF", NULL);
	ok(r != NULL && strcmp(r->ext, "pdf") == 0 && r->pages &&
	    r->format == EXTRACT_TEXT, "PDF has a built-in rule, any case");
	r = convert_find(c, "a/b.docx", NULL);
	ok(r != NULL && r->format == EXTRACT_MARKDOWN &&
	    strcmp(r->package, "pandoc") == 0, "DOCX goes through pandoc");
	ok(convert_find(c, "notes.md", NULL) == NULL, "Markdown needs no converter");
	ok(convert_find(c, "Makefile", NULL) == NULL, "no extension, no converter");
	ok(convert_find(c, "dir.pdf/file", NULL) == NULL, "only the last component");
	ok(convert_find(c, ".pdf", NULL) == NULL, "a dot file is not a PDF");

	ok(convert_add(c, "pdf", &err) == -1 && err.code == RP_EXIT_USAGE,
	    "a rule needs EXT=COMMAND");
	ok(convert_add(c, ".up=x", &err) == -1, "no dot in the extension");
	ok(convert_add(c, "docx=", &err) == 0 && convert_find(c, "a.docx",
	    &off) == NULL && off, "EXT= turns the extension off");
	ok(convert_find(c, "a.md", &off) == NULL && !off, "other extensions "
	    "are not off");
	ok(convert_add(c, "UP=tr a-z A-Z <\"$1\"", &err) == 0, "add a rule");
	p = mktext(dir, "a b.up", "hello, world\n");
	r = convert_find(c, p, NULL);
	ok(r != NULL && convert_run(r, p, 1000, 10, &out, &err) == 0,
	    "run it on a path with a space");
	is_str(buf_str(&out), "HELLO, WORLD\n", "its output is the text");

	convert_add(c, "pdf=printf 'mine %s' \"$1\"", &err);
	r = convert_find(c, "x.pdf", NULL);
	ok(r != NULL && r->program == NULL, "a user's rule replaces a "
	    "built-in one");

	convert_add(c, "bad=echo 'not a PDF: broken xref' >&2; exit 3", &err);
	r = convert_find(c, "x.bad", NULL);
	ok(convert_run(r, "x.bad", 1000, 10, &out, &err) == -1 &&
	    err.code == RP_EXIT_DATA, "a failing converter is bad data");
	is_str(err.msg, "converter failed (exit status 3): not a PDF: broken "
	    "xref", "and says why, from its stderr");

	convert_add(c, "nx=no-such-converter-xyz \"$1\"", &err);
	r = convert_find(c, "x.nx", NULL);
	ok(convert_run(r, "x.nx", 1000, 10, &out, &err) == -1 &&
	    err.code == RP_EXIT_UNAVAIL, "a missing program is unavailable");
	ok(strstr(err.msg, "no-such-converter-xyz") != NULL,
	    "the message names it");
	memset(&fake, 0, sizeof(fake));
	fake.cmd = "no-such-pdftotext \"$1\" -";
	fake.program = "no-such-pdftotext";
	fake.package = "poppler-utils";
	ok(convert_run(&fake, "x.pdf", 1000, 10, &out, &err) == -1 &&
	    strcmp(err.msg, "cannot convert: no-such-pdftotext is not "
	    "installed (Debian package poppler-utils)") == 0,
	    "a missing built-in names its Debian package");

	convert_add(c, "slow=sleep 30", &err);
	r = convert_find(c, "x.slow", NULL);
	t = rp_now();
	ok(convert_run(r, "x.slow", 1000, 0.3, &out, &err) == -1 &&
	    err.code == RP_EXIT_DATA && rp_now() - t < 5,
	    "a converter that hangs is killed at the time limit");
	is_str(err.msg, "converting took longer than 0.3 s", "and said so");
	convert_add(c, "big=yes", &err);
	r = convert_find(c, "x.big", NULL);
	ok(convert_run(r, "x.big", 10000, 10, &out, &err) == -1 &&
	    strcmp(err.msg, "converted text is longer than 10000 bytes") == 0,
	    "endless output is cut at the cap");

	/* The real pdftotext, when installed, on a generated PDF. */
	snprintf(pdf, sizeof(pdf), "%s/two.pdf", dir);
	snprintf(cmd, sizeof(cmd), "python3 tests/lib/mkpdf.py %s 'Page one "
	    "text' 'Page two text' && command -v pdftotext >/dev/null", pdf);
	pp = popen(cmd, "r");
	if (pp != NULL && pclose(pp) == 0) {
		convert_free(c);
		c = convert_new();
		r = convert_find(c, pdf, NULL);
		ok(convert_run(r, pdf, 100000, 30, &out, &err) == 0,
		    "pdftotext converts a PDF");
		ok(strstr(buf_str(&out), "Page one text") != NULL &&
		    strstr(buf_str(&out), "\fPage two text") != NULL,
		    "with a form feed between pages");
	} else {
		ok(1, "# skip pdftotext is not installed");
		ok(1, "# skip pdftotext is not installed");
	}
	convert_free(c);
	buf_release(&out);
	return tap_done();
}
