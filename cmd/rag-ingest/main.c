/* rag-ingest: find documents, extract their text, print chunk records. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rp.h"
#include "buf.h"
#include "chunk.h"
#include "convert.h"
#include "extract.h"
#include "jsonl.h"
#include "sha256.h"
#include "store.h"
#include "utf8.h"
#include "ingest.h"

#define MAX_SIZE_DEFAULT	((size_t)32 << 20)	/* bytes a document */
#define SNIFF			8192	/* bytes looked at for binary data */
#define CONVERT_TIMEOUT		120	/* seconds a converter may take */
#define READ_TRIES		3	/* reads of a file that keeps changing */

enum {
	OPT_CHUNK_SIZE = 256, OPT_CONVERT, OPT_FILES_FROM, OPT_FORCE,
	OPT_FORMAT, OPT_JSON, OPT_MAX_SIZE, OPT_NAME, OPT_NO_PROGRESS,
	OPT_OVERLAP, OPT_PROGRESS, OPT_PRUNE, OPT_VERSION
};

static const struct option longopts[] = {
	{ "chunk-size",	required_argument,	NULL, OPT_CHUNK_SIZE },
	{ "convert",	required_argument,	NULL, OPT_CONVERT },
	{ "db",		required_argument,	NULL, 'd' },
	{ "files-from",	required_argument,	NULL, OPT_FILES_FROM },
	{ "force",	no_argument,		NULL, OPT_FORCE },
	{ "format",	required_argument,	NULL, OPT_FORMAT },
	{ "help",	no_argument,		NULL, 'h' },
	{ "json",	no_argument,		NULL, OPT_JSON },
	{ "max-size",	required_argument,	NULL, OPT_MAX_SIZE },
	{ "name",	required_argument,	NULL, OPT_NAME },
	{ "no-progress", no_argument,		NULL, OPT_NO_PROGRESS },
	{ "null",	no_argument,		NULL, '0' },
	{ "overlap",	required_argument,	NULL, OPT_OVERLAP },
	{ "progress",	no_argument,		NULL, OPT_PROGRESS },
	{ "prune",	no_argument,		NULL, OPT_PRUNE },
	{ "quiet",	no_argument,		NULL, 'q' },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "version",	no_argument,		NULL, OPT_VERSION },
	{ NULL,		0,			NULL, 0 }
};

/* What a document brings besides its text. */
struct docinfo {
	const char	*doc;
	const char	*title;		/* overrides the extracted title */
	const char	*sha256;
	long long	 mtime, size;	/* -1: unknown */
	enum extract_format format;
	const cJSON	*extra;		/* fields copied to every chunk */
	unsigned long	 page;		/* a PDF's page being emitted; 0 */
	size_t		 base;		/* the page's offset in the text */
};

#define USAGE \
	"usage: rag-ingest [-0hqv] [--force] [--no-progress] [--progress] " \
	"[--prune]\n" \
	"                  [--chunk-size n] [--convert ext=command] [-d db] " \
	"[--files-from file]\n" \
	"                  [--format fmt] [--max-size bytes] [--name name] " \
	"[--overlap n]\n" \
	"                  [--json | path ...]\n"

static _Noreturn void
usage(void)
{
	fputs(USAGE, stderr);
	exit(RP_EXIT_USAGE);
}

static _Noreturn void
help(void)
{
	printf(USAGE
	    "Find documents, extract their text and print chunk records "
	    "(JSON lines).\n"
	    "\n"
	    "  path                a file, or a directory (walked; hidden "
	    "entries skipped);\n"
	    "                      - reads one document from standard "
	    "input\n"
	    "  -0, --null          paths in --files-from are separated by "
	    "NUL; alone, read\n"
	    "                      NUL-separated paths from standard input\n"
	    "      --chunk-size N  characters a chunk (default %d)\n"
	    "      --convert EXT=COMMAND\n"
	    "                      convert .EXT files with COMMAND, run by "
	    "sh with the path\n"
	    "                      as $1 (built in: pdf through pdftotext; "
	    "docx, odt, epub,\n"
	    "                      rtf through pandoc); EXT= skips .EXT "
	    "files\n"
	    "  -d, --db PATH       skip documents the store PATH has as "
	    "they are (same size\n"
	    "                      and mtime, or same SHA-256)\n"
	    "      --files-from F  read paths from F, one a line (- for "
	    "standard input)\n"
	    "      --force         with -d, print every document all the "
	    "same\n"
	    "      --format FMT    text, markdown, html, code or auto "
	    "(default: from the name)\n"
	    "      --json          read records {\"doc\",\"text\",\"title\"} "
	    "from the files or stdin\n"
	    "      --max-size N    skip documents larger than N bytes "
	    "(default %zu)\n"
	    "      --name NAME     the doc name of standard input's "
	    "document (default stdin)\n"
	    "      --no-progress, --progress\n"
	    "                      never, or always, show progress (default: "
	    "on a terminal)\n"
	    "      --overlap N     characters repeated between chunks "
	    "(default %d)\n"
	    "      --prune         with -d, print deletions for documents "
	    "of the store under\n"
	    "                      the paths given that the walk no longer "
	    "finds\n"
	    "  -q, --quiet         print errors only\n"
	    "  -v, --verbose       also print notes (skipped files, the "
	    "summary) when stderr\n"
	    "                      is not a terminal\n"
	    "  -h, --help          show this help\n"
	    "      --version       show the version\n"
	    "\n"
	    "Exit status: 0 ok, 1 failure, 2 usage, 65 some input was bad "
	    "(reported and skipped),\n"
	    "69 a converter is not installed, 74 some files could not be "
	    "read.\n", CHUNK_SIZE_DEFAULT,
	    MAX_SIZE_DEFAULT, CHUNK_OVERLAP_DEFAULT);
	exit(rp_finish(RP_EXIT_OK));
}

void
report(struct ingest *ig, enum rp_exit code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rp_vwarn(fmt, ap);
	va_end(ap);
	rp_status(&ig->status, code);
}

/*
 * A path as the document's identity: duplicate slashes, "./" segments
 * and a trailing slash go, so "./docs//a.md" and "docs/a.md" are one
 * document; bytes that are not UTF-8 become U+FFFD, as records are
 * UTF-8 (the file is still read by its own name).
 */
char *
normalize(const char *path)
{
	struct buf fixed = BUF_INIT;
	char *out, *o;
	const char *p = path;

	if (utf8_span(path, strlen(path)) != strlen(path)) {
		utf8_repair(&fixed, path, strlen(path));
		out = normalize(buf_str(&fixed));
		buf_release(&fixed);
		return out;
	}
	out = o = xmalloc(strlen(path) + 2);

	if (*p == '/')
		*o++ = *p++;
	while (*p != '\0') {
		while (*p == '/')
			p++;
		if (p[0] == '.' && (p[1] == '/' || p[1] == '\0')) {
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		if (o > out && o[-1] != '/')
			*o++ = '/';
		while (*p != '\0' && *p != '/')
			*o++ = *p++;
	}
	if (o == out)
		*o++ = '.';
	*o = '\0';
	return out;
}

/* Add the field ITEM of the chunk record R unless R has it already. */
static void
add_extra(cJSON *r, const cJSON *extra)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, extra) {
		if (item->string == NULL ||
		    cJSON_GetObjectItemCaseSensitive(r, item->string) != NULL)
			continue;
		cJSON_AddItemToObject(r, item->string,
		    cJSON_Duplicate(item, 1));
	}
}

static void
doc_fields(cJSON *r, const struct docinfo *di)
{
	if (di->sha256 != NULL)
		cJSON_AddStringToObject(r, "doc_sha256", di->sha256);
	if (di->mtime >= 0)
		cJSON_AddNumberToObject(r, "mtime", (double)di->mtime);
	if (di->size >= 0)
		cJSON_AddNumberToObject(r, "size", (double)di->size);
	if (di->extra != NULL)
		add_extra(r, di->extra);
}

/*
 * Print the chunk records of one extracted document, or of one page of
 * a paged one (DI->page): its chunks are numbered from FIRST of TOTAL,
 * offsets count from the page's start in the whole text, and lines from
 * the top of the page, so that a citation can say file.pdf:p12.
 */
static void
emit(struct ingest *ig, const struct docinfo *di, struct doc_text *dt,
    const struct chunk *c, size_t n, size_t first, size_t total)
{
	const char *title = di->title != NULL ? di->title : dt->title;
	char *text = dt->text.data, save;
	cJSON *r;

	if (total == 0) {
		/* An empty document still replaces what the store had. */
		r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "doc", di->doc);
		cJSON_AddNumberToObject(r, "nchunks", 0);
		if (title != NULL)
			cJSON_AddStringToObject(r, "title", title);
		doc_fields(r, di);
		jsonl_write(stdout, r);
		cJSON_Delete(r);
	}
	for (size_t i = 0; i < n && !rp_stdout_failed(); i++) {
		r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "doc", di->doc);
		cJSON_AddNumberToObject(r, "chunk", (double)(first + i));
		cJSON_AddNumberToObject(r, "nchunks", (double)total);
		/* The text in place: no copy of every chunk. */
		save = text[c[i].end];
		text[c[i].end] = '\0';
		cJSON_AddItemToObject(r, "text",
		    cJSON_CreateStringReference(text + c[i].start));
		if (title != NULL)
			cJSON_AddStringToObject(r, "title", title);
		if (c[i].section >= 0)
			cJSON_AddStringToObject(r, "section",
			    dt->sections[c[i].section]);
		cJSON_AddNumberToObject(r, "start", (double)(di->base +
		    c[i].start));
		cJSON_AddNumberToObject(r, "end", (double)(di->base + c[i].end));
		if (di->page > 0)
			cJSON_AddNumberToObject(r, "page", (double)di->page);
		cJSON_AddNumberToObject(r, "line", (double)c[i].line);
		doc_fields(r, di);
		jsonl_write(stdout, r);
		cJSON_Delete(r);
		text[c[i].end] = save;
	}
	ig->chunks += (long)n;
	if (first + n < total)
		return;
	ig->docs++;
	rp_progress_add(&ig->progress, 1, 0);
}

/* Extract, chunk and print the document SRC[0..N). */
static void
ingest_bytes(struct ingest *ig, const struct docinfo *di, const char *src,
    size_t n)
{
	struct doc_text dt;
	struct chunk *c = NULL;
	struct rp_err err;
	enum extract_format fmt;
	size_t nc;

	fmt = di->format != EXTRACT_AUTO ? di->format : extract_guess(di->doc);
	memset(&dt, 0, sizeof(dt));
	if (extract(&dt, src, n, fmt, ig->max_size, &err) != 0) {
		report(ig, err.code, "%s: %s", di->doc, err.msg);
		doc_text_release(&dt);
		return;
	}
	if (dt.repaired > 0)
		rp_note("%s: replaced %zu invalid UTF-8 sequences", di->doc,
		    dt.repaired);
	nc = chunk_split(&dt, &ig->co, &c);
	emit(ig, di, &dt, c, nc, 0, nc);
	free(c);
	doc_text_release(&dt);
}

/* One page of a paged document, extracted and chunked. */
struct page {
	struct doc_text	 dt;
	struct chunk	*c;
	size_t		 n, base;
};

/*
 * Ingest a paged text (pdftotext puts a form feed between pages) page
 * by page, so that every chunk lies on one page and its "page" is
 * exact, as is the page of every sentence cited from it.
 */
static void
ingest_pages(struct ingest *ig, struct docinfo *di, char *text, size_t len)
{
	struct page *pg = NULL;
	struct rp_err err;
	size_t np = 0, total = 0, done = 0, at = 0, end;

	while (at <= len) {
		end = at + strcspn(text + at, "\f");
		if (end > len)
			end = len;
		/* A form feed at the very end starts no page. */
		if (end == len && at == len && np > 0)
			break;
		pg = xreallocarray(pg, np + 1, sizeof(*pg));
		memset(&pg[np], 0, sizeof(*pg));
		pg[np].base = at;
		if (extract(&pg[np].dt, text + at, end - at, EXTRACT_TEXT,
		    ig->max_size, &err) != 0) {
			report(ig, err.code, "%s: %s", di->doc, err.msg);
			np++;
			goto out;
		}
		pg[np].n = chunk_split(&pg[np].dt, &ig->co, &pg[np].c);
		total += pg[np].n;
		np++;
		at = end + 1;
	}
	for (size_t i = 0; i < np; i++) {
		di->page = i + 1;
		di->base = pg[i].base;
		if (pg[i].n > 0 || (total == 0 && i == np - 1))
			emit(ig, di, &pg[i].dt, pg[i].c, pg[i].n, done, total);
		done += pg[i].n;
	}
out:
	for (size_t i = 0; i < np; i++) {
		free(pg[i].c);
		doc_text_release(&pg[i].dt);
	}
	free(pg);
}

/* Ingest PATH through its converter RULE. */
static void
ingest_converted(struct ingest *ig, struct docinfo *di,
    const struct convert_rule *rule, const char *path)
{
	struct buf out = BUF_INIT;
	struct rp_err err;

	if (convert_run(rule, path, ig->max_size, CONVERT_TIMEOUT, &out,
	    &err) != 0) {
		report(ig, err.code, "%s: %s", path, err.msg);
		buf_release(&out);
		return;
	}
	if (di->format == EXTRACT_AUTO)
		di->format = (enum extract_format)rule->format;
	if (rule->pages)
		ingest_pages(ig, di, out.data != NULL ? out.data : "",
		    out.len);
	else
		ingest_bytes(ig, di, buf_str(&out), out.len);
	buf_release(&out);
}

/*
 * Read all of FD into B, at most MAX bytes; HINT is the size expected
 * (from fstat), so that a big file is read into one allocation of its
 * size.  0, 1 if there was more than MAX, or -1 with errno set.
 */
static int
read_all(int fd, struct buf *b, size_t max, size_t hint)
{
	ssize_t r;

	buf_reset(b);
	/* One byte more than expected, to see the end without growing. */
	if (buf_reserve(b, RP_MIN(hint, max) + 1) != 0)
		return 1;
	for (;;) {
		if (b->len + 1 >= b->cap && buf_grow(b, 65536) != 0)
			return 1;
		do {
			r = read(fd, b->data + b->len,
			    RP_MIN(b->cap - b->len - 1, max + 1 - b->len));
		} while (r < 0 && errno == EINTR);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		b->len += (size_t)r;
		b->data[b->len] = '\0';
		if (b->len > max)
			return 1;
	}
	return 0;
}

/* Whether A and B (fstat before and after a read) show the same file. */
static int
unchanged(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * Read FD (whose fstat is *SB) into B, again if it changed while being
 * read (its size or mtime moved), up to READ_TRIES times; *SB is
 * updated.  As read_all, or 2 when it never held still.
 */
static int
read_stable(int fd, struct stat *sb, struct buf *b, size_t max)
{
	struct stat now;
	int rc;

	for (int tries = 1; ; tries++) {
		rc = read_all(fd, b, max, (size_t)sb->st_size);
		if (rc != 0)
			return rc;
		if (fstat(fd, &now) != 0)
			return -1;
		if (unchanged(sb, &now))
			return 0;
		*sb = now;
		if (tries == READ_TRIES)
			return 2;
		if (lseek(fd, 0, SEEK_SET) != 0)
			return -1;
	}
}

/*
 * Ingest file PATH as DOC.  With -d, a file the store has with the same
 * size and mtime is not even read, and one with the same SHA-256 is not
 * printed.
 *
 * A file modified in the second it is read (by the file system's coarse
 * clock) may change again without its size and mtime showing it: it is
 * racy (git's word).  Its record leaves out "size", so that the store
 * does not trust its times and the next run compares its content.  A
 * file whose content is unchanged but whose times are not (touched, or
 * racy before) gets a touch record instead, once it is not racy, so that
 * the run after it need not read the file.
 */
void
ingest_file(struct ingest *ig, const char *path, const char *doc)
{
	const struct convert_rule *rule = NULL;
	struct store_docinfo have;
	char hex[SHA256_HEX];
	struct docinfo di;
	struct buf b = BUF_INIT;
	struct stat sb;
	time_t t0 = time(NULL);
	int fd, rc, found = 0, off, racy;

	ig->scanned++;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		/* Gone since the directory was read: not seen, pruned. */
		if (errno != ENOENT)
			seen(ig, doc);
		report(ig, RP_EXIT_IO, "%s: %s", path, strerror(errno));
		return;
	}
	if (fstat(fd, &sb) != 0) {
		seen(ig, doc);
		report(ig, RP_EXIT_IO, "%s: %s", path, strerror(errno));
		close(fd);
		return;
	}
	if ((size_t)sb.st_size > ig->max_size) {
		report(ig, RP_EXIT_DATA, "%s: skipped: %lld bytes is more than "
		    "--max-size %zu", path, (long long)sb.st_size,
		    ig->max_size);
		close(fd);
		return;
	}
	/* Modified this second or the last, or in the future. */
	racy = sb.st_mtime + 1 >= t0;
	if ((found = lookup(ig, doc, &have)) && !ig->force &&
	    have.size == (int64_t)sb.st_size &&
	    have.mtime == (int64_t)sb.st_mtime && !racy) {
		seen(ig, doc);
		ig->unchanged++;
		close(fd);
		return;
	}
	rc = read_stable(fd, &sb, &b, ig->max_size);
	close(fd);
	/* Read again because it changed: it is racy now, if not before. */
	racy = racy || sb.st_mtime + 1 >= time(NULL);
	if (rc < 0) {
		seen(ig, doc);
		report(ig, RP_EXIT_IO, "%s: %s", path, strerror(errno));
	} else if (rc == 2) {
		/* Kept in the store as it was: not pruned, not replaced. */
		seen(ig, doc);
		report(ig, RP_EXIT_IO, "%s: skipped: changed while being read "
		    "(%d times)", path, READ_TRIES);
	} else if (rc > 0) {
		report(ig, RP_EXIT_DATA, "%s: skipped: grew past --max-size "
		    "%zu while being read", path, ig->max_size);
	} else if ((rule = convert_find(ig->conv, path, &off)) == NULL &&
	    (off || extract_is_binary(b.data, RP_MIN(b.len, SNIFF)))) {
		rp_note("%s: skipped: %s", path, off ? "no converter "
		    "(--convert EXT=)" : "binary file");
	} else {
		seen(ig, doc);
		sha256_hex(b.data, b.len, hex);
		if (judge(ig, found, &have, hex, NULL)) {
			memset(&di, 0, sizeof(di));
			di.doc = doc;
			di.sha256 = hex;
			di.mtime = (long long)sb.st_mtime;
			di.size = racy ? -1 : (long long)b.len;
			di.format = ig->format;
			if (rule != NULL)
				ingest_converted(ig, &di, rule, path);
			else
				ingest_bytes(ig, &di, b.data != NULL ?
				    b.data : "", b.len);
		} else if (!racy && (have.size != (int64_t)sb.st_size ||
		    have.mtime != (int64_t)sb.st_mtime))
			touch(doc, &sb);
	}
	buf_release(&b);
}

int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void	ingest_path(struct ingest *, const char *, int);

/* Walk directory PATH in name order, skipping hidden entries. */
static void
walk(struct ingest *ig, const char *path)
{
	struct dirent *e;
	char **names = NULL, *child;
	size_t n = 0, cap = 0;
	DIR *d;

	if ((d = opendir(path)) == NULL) {
		keep(ig, path);
		report(ig, RP_EXIT_IO, "%s: %s", path, strerror(errno));
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		names = xgrow(names, n, &cap, sizeof(*names));
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	rp_sort(names, n, sizeof(*names), cmp_name);
	for (size_t i = 0; i < n && !rp_stdout_failed(); i++) {
		child = xasprintf("%s/%s", path, names[i]);
		ingest_path(ig, child, 0);
		free(child);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * Ingest PATH: a file, or a directory to walk.  Symbolic links are
 * followed when named by the user (TOP), but links to directories met
 * in a walk are not, so that a link loop cannot trap us.
 */
static void
ingest_path(struct ingest *ig, const char *path, int top)
{
	struct stat sb, lsb;
	char *doc;
	int e;

	if (stat(path, &sb) != 0) {
		e = errno;
		if (!top && lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode)) {
			rp_note("%s: skipped: %s", path, e == ELOOP ?
			    "symbolic link loop" : "broken symbolic link");
			return;
		}
		/* Gone is gone, but a path named or unreadable is kept. */
		if (top || e != ENOENT)
			keep(ig, path);
		report(ig, RP_EXIT_IO, "%s: %s", path, strerror(e));
		return;
	}
	if (S_ISDIR(sb.st_mode)) {
		if (!top && lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode)) {
			rp_note("%s: skipped: symbolic link to a directory",
			    path);
			return;
		}
		walk(ig, path);
		return;
	}
	if (!S_ISREG(sb.st_mode)) {
		rp_note("%s: skipped: not a regular file", path);
		return;
	}
	doc = normalize(path);
	ingest_file(ig, path, doc);
	free(doc);
}

static void
ingest_stdin(struct ingest *ig)
{
	struct store_docinfo have;
	char hex[SHA256_HEX];
	struct docinfo di;
	struct buf b = BUF_INIT;
	int rc, found;

	ig->scanned++;
	rc = read_all(0, &b, ig->max_size, 0);
	if (rc < 0)
		report(ig, RP_EXIT_IO, "<stdin>: %s", strerror(errno));
	else if (rc > 0)
		report(ig, RP_EXIT_DATA, "<stdin>: skipped: more than "
		    "--max-size %zu bytes", ig->max_size);
	else {
		sha256_hex(b.data != NULL ? b.data : "", b.len, hex);
		found = lookup(ig, ig->name, &have);
		memset(&di, 0, sizeof(di));
		di.doc = ig->name;
		di.sha256 = hex;
		di.mtime = -1;
		di.size = (long long)b.len;
		di.format = ig->format;
		if (judge(ig, found, &have, hex, NULL))
			ingest_bytes(ig, &di, b.data != NULL ? b.data : "",
			    b.len);
	}
	buf_release(&b);
}

/* Paths from F, one a line or NUL-separated. */
static void
ingest_list(struct ingest *ig, FILE *f, const char *name, int delim)
{
	struct lines *r = lines_open(f, name, 1 << 16, delim);
	struct rp_err err;
	char *line;
	size_t len;
	int rc;

	while (!rp_stdout_failed() &&
	    (rc = lines_next(r, &line, &len, &err)) != 0) {
		if (rc < 0) {
			rp_report(&err, &ig->status);
			if (err.code == RP_EXIT_IO)
				break;
			continue;
		}
		if (len > 0)
			ingest_path(ig, line, 1);
	}
	lines_close(r);
}

/* Records {"doc","text","title",...} from F, each one document. */
static void
ingest_json(struct ingest *ig, FILE *f, const char *name)
{
	static const char *const own[] = { "doc", "format", "text", "title" };
	struct jsonl *r = jsonl_open(f, name, JSONL_MAX_LINE);
	struct store_docinfo have;
	char hex[SHA256_HEX];
	struct docinfo di;
	struct rp_err err;
	const char *text, *fmt, *why = NULL;
	cJSON *rec, *extra;
	int rc, format, found;

	while (!rp_stdout_failed() && (rc = jsonl_next(r, &rec, &err)) != 0) {
		if (rc < 0) {
			rp_report(&err, &ig->status);
			if (err.code == RP_EXIT_IO)
				break;
			continue;
		}
		memset(&di, 0, sizeof(di));
		di.doc = jsonl_str(rec, "doc");
		di.title = jsonl_str(rec, "title");
		di.sha256 = jsonl_str(rec, "doc_sha256");
		text = jsonl_str(rec, "text");
		fmt = jsonl_str(rec, "format");
		format = fmt != NULL ? extract_format_parse(fmt) : (int)ig->format;
		if (di.doc == NULL || *di.doc == '\0')
			why = "record has no 'doc' string";
		else if (text == NULL)
			why = "record has no 'text' string";
		else if (format < 0)
			why = "'format' is not text, markdown, html, code or auto";
		if (why != NULL) {
			report(ig, RP_EXIT_DATA, "%s: %s", jsonl_where(r), why);
			cJSON_Delete(rec);
			why = NULL;
			continue;
		}
		if (di.sha256 == NULL) {
			sha256_hex(text, strlen(text), hex);
			di.sha256 = hex;
		}
		ig->scanned++;
		found = lookup(ig, di.doc, &have);
		if (!judge(ig, found, &have, di.sha256, di.title)) {
			cJSON_Delete(rec);
			continue;
		}
		/* Fields of its own go to every chunk record (DESIGN 2). */
		extra = cJSON_Duplicate(rec, 1);
		for (size_t i = 0; i < RP_NELEM(own); i++)
			cJSON_DeleteItemFromObjectCaseSensitive(extra, own[i]);
		di.mtime = di.size = -1;
		di.format = (enum extract_format)format;
		di.extra = extra;
		ingest_bytes(ig, &di, text, strlen(text));
		cJSON_Delete(extra);
		cJSON_Delete(rec);
	}
	jsonl_close(r);
}

/* Operands and options that do not go together: exit 2. */
static void
check_args(const struct ingest *ig, int json, const char *files_from,
    int delim, int argc, char **argv)
{
	int paths = 0;

	for (int i = 0; i < argc; i++)
		paths += strcmp(argv[i], "-") != 0;
	if (json && (files_from != NULL || delim == '\0'))
		rp_die(RP_EXIT_USAGE, "--json reads records, not paths: "
		    "it does not go with --files-from or -0");
	if (!json && delim == '\0' && files_from == NULL && argc > 0)
		rp_die(RP_EXIT_USAGE, "-0 without --files-from reads "
		    "paths from standard input: give no path operands");
	if (ig->prune && !ig->incremental)
		rp_die(RP_EXIT_USAGE, "--prune needs the store to compare "
		    "with: give -d");
	if (ig->prune && (json || files_from != NULL || delim == '\0' ||
	    paths == 0))
		rp_die(RP_EXIT_USAGE, "--prune needs paths to walk as "
		    "operands (not --json, --files-from or -0)");
	if (!json && files_from == NULL && delim != '\0' && argc == 0)
		usage();
}

static void
ingest_jsons(struct ingest *ig, int argc, char **argv)
{
	FILE *f;

	if (argc == 0)
		ingest_json(ig, stdin, "<stdin>");
	for (int i = 0; i < argc && !rp_stdout_failed(); i++) {
		if (strcmp(argv[i], "-") == 0) {
			ingest_json(ig, stdin, "<stdin>");
		} else if ((f = fopen(argv[i], "r")) == NULL) {
			report(ig, RP_EXIT_IO, "%s: %s", argv[i],
			    strerror(errno));
		} else {
			ingest_json(ig, f, argv[i]);
			fclose(f);
		}
	}
}

static void
ingest_paths(struct ingest *ig, int argc, char **argv,
    const char *files_from, int delim)
{
	char *root;
	FILE *f;

	if (delim == '\0' && files_from == NULL)
		files_from = "-";
	for (int i = 0; i < argc && !rp_stdout_failed(); i++) {
		if (strcmp(argv[i], "-") == 0) {
			ingest_stdin(ig);
			continue;
		}
		root = normalize(argv[i]);
		strs_add(&ig->roots, root);
		free(root);
		ingest_path(ig, argv[i], 1);
	}
	if (files_from != NULL && strcmp(files_from, "-") == 0) {
		ingest_list(ig, stdin, "<stdin>", delim);
	} else if (files_from != NULL) {
		if ((f = fopen(files_from, "r")) == NULL)
			rp_die(RP_EXIT_IO, "%s: %s", files_from,
			    strerror(errno));
		ingest_list(ig, f, files_from, delim);
		fclose(f);
	}
}

static void
summary(struct ingest *ig)
{
	if (!ig->incremental) {
		rp_note("%ld documents, %ld chunks", ig->docs, ig->chunks);
		return;
	}
	rp_note("scanned %ld, new %ld, changed %ld, unchanged %ld%s, "
	    "skipped %ld, deleted %ld; %ld chunks", ig->scanned, ig->new,
	    ig->changed, ig->unchanged, ig->force && ig->unchanged > 0 ?
	    " (printed all the same: --force)" : "", ig->scanned - ig->new -
	    ig->changed - ig->unchanged, ig->deleted, ig->chunks);
}

int
main(int argc, char *argv[])
{
	struct ingest ig = {
		.co = { CHUNK_SIZE_DEFAULT, CHUNK_OVERLAP_DEFAULT },
		.name = "stdin", .max_size = MAX_SIZE_DEFAULT,
	};
	const char *files_from = NULL, *db = NULL;
	int ch, delim = '\n', json = 0, overlap_set = 0, fmt, progress = -1;
	struct rp_err err;

	rp_init(argv[0]);
	ig.conv = convert_new();
	while ((ch = getopt_long(argc, argv, "0d:hqv", longopts, NULL)) != -1) {
		switch (ch) {
		case '0':
			delim = '\0';
			break;
		case 'd':
			db = optarg;
			ig.incremental = 1;
			break;
		case 'h':
			help();
		case 'q':
			rp_verbosity = 0;
			break;
		case 'v':
			rp_verbosity = 2;
			break;
		case OPT_CHUNK_SIZE:
			ig.co.size = rp_parse_ulong(optarg, 50, 1000000,
			    "--chunk-size");
			break;
		case OPT_CONVERT:
			if (convert_add(ig.conv, optarg, &err) != 0)
				rp_die(err.code, "%s", err.msg);
			break;
		case OPT_FILES_FROM:
			files_from = optarg;
			break;
		case OPT_FORCE:
			ig.force = 1;
			break;
		case OPT_FORMAT:
			if ((fmt = extract_format_parse(optarg)) < 0)
				rp_die(RP_EXIT_USAGE, "--format: '%s' is not "
				    "text, markdown, html, code or auto",
				    optarg);
			ig.format = (enum extract_format)fmt;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_MAX_SIZE:
			ig.max_size = rp_parse_ulong(optarg, 1,
			    (unsigned long)1 << 40, "--max-size");
			break;
		case OPT_NAME:
			ig.name = optarg;
			break;
		case OPT_OVERLAP:
			ig.co.overlap = rp_parse_ulong(optarg, 0, 500000,
			    "--overlap");
			overlap_set = 1;
			break;
		case OPT_NO_PROGRESS:
			progress = 0;
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case OPT_PRUNE:
			ig.prune = 1;
			break;
		case OPT_VERSION:
			printf("rag-ingest (ragpipe) %s\n", RP_VERSION);
			convert_free(ig.conv);
			return rp_finish(0);
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (!overlap_set && ig.co.overlap >= ig.co.size / 2)
		ig.co.overlap = ig.co.size / 4;
	if (ig.co.overlap >= ig.co.size / 2)
		rp_die(RP_EXIT_USAGE, "--overlap must be less than half of "
		    "--chunk-size (%zu)", ig.co.size);
	check_args(&ig, json, files_from, delim, argc, argv);
	if (db != NULL)
		open_store(&ig, db);
	rp_progress_start(&ig.progress, progress == 1 || (progress == -1 &&
	    rp_stderr_tty && rp_verbosity > 0), "documents", 0);
	if (json)
		ingest_jsons(&ig, argc, argv);
	else
		ingest_paths(&ig, argc, argv, files_from, delim);
	if (ig.prune && !rp_stdout_failed())
		prune(&ig);
	rp_progress_end(&ig.progress);
	summary(&ig);
	store_close(ig.store);
	convert_free(ig.conv);
	strs_free(&ig.roots);
	strs_free(&ig.seen);
	strs_free(&ig.kept);
	return rp_finish(ig.status);
}
