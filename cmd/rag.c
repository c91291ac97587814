/* rag: the front command; `rag X` runs rag-X, plus status. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rp.h"
#include "buf.h"
#include "cfg.h"
#include "jsonl.h"
#include "store.h"

extern char **environ;

enum { OPT_CHECK = 256, OPT_FORMAT, OPT_JSON, OPT_VERSION };

/* Subcommands: external ones run rag-NAME; the others are here. */
struct command {
	const char	*name;
	int		(*run)(int, char **, const char *);	/* NULL: rag-NAME */
	const char	*what;
};

static int	cmd_add(int, char **, const char *);
static int	cmd_ask(int, char **, const char *);
static int	cmd_config(int, char **, const char *);
static int	cmd_status(int, char **, const char *);

static const struct command commands[] = {
	{ "add",	cmd_add,	"ingest, embed and index documents" },
	{ "answer",	NULL,		"answer questions from hit records" },
	{ "ask",	cmd_ask,	"answer a question from the store" },
	{ "config",	cmd_config,	"show the settings in effect and "
					"where they come from" },
	{ "embed",	NULL,		"add embeddings to chunk records" },
	{ "eval",	NULL,		"measure retrieval against judgments" },
	{ "index",	NULL,		"write records into the store" },
	{ "ingest",	NULL,		"find documents and split them into "
					"chunk records" },
	{ "query",	NULL,		"search the store" },
	{ "status",	cmd_status,	"show what a store holds" },
};

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: rag [-h] [--version] command [args ...]\n");
	exit(RP_EXIT_USAGE);
}

static _Noreturn void
help(void)
{
	printf("usage: rag [-h] [--version] command [args ...]\n"
	    "Answer questions from your own documents, from the shell.\n"
	    "\n"
	    "Commands:\n");
	for (size_t i = 0; i < RP_NELEM(commands); i++)
		printf("  %-8s %s\n", commands[i].name, commands[i].what);
	printf("\n"
	    "'rag X args' runs 'rag-X args' (from rag's own directory first, "
	    "then PATH);\n"
	    "'rag X --help' shows the options of each command.\n"
	    "Exit status: that of the command; 2 for an unknown command.\n");
	exit(rp_finish(RP_EXIT_OK));
}

/* Run rag-NAME with ARGV (argv[0] is replaced); returns only on error. */
static int
run_external(const char *argv0, const char *name, char **argv)
{
	char *prog = xasprintf("rag-%s", name), *path;
	int e;

	argv[0] = prog;
	path = rp_sibling(argv0, prog);
	execvp(path, argv);
	e = errno;
	rp_warn("cannot run '%s': %s", prog, strerror(e));
	free(path);
	free(prog);
	return e == ENOENT ? RP_EXIT_UNAVAIL : RP_EXIT_FAIL;
}

static void
print_status(const char *db, const struct store_stats *st, int json,
    const cJSON *problems)
{
	char when[64] = "never";
	time_t t = (time_t)st->last_indexed;
	struct tm tm;
	cJSON *o;

	if (json) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "db", db);
		cJSON_AddNumberToObject(o, "schema_version", st->schema_version);
		cJSON_AddNumberToObject(o, "documents", (double)st->documents);
		cJSON_AddNumberToObject(o, "chunks", (double)st->chunks);
		cJSON_AddNumberToObject(o, "bytes", (double)st->text_bytes);
		cJSON_AddNumberToObject(o, "stored_bytes",
		    (double)st->stored_bytes);
		cJSON_AddNumberToObject(o, "file_bytes", (double)st->file_bytes);
		cJSON_AddNumberToObject(o, "last_indexed",
		    (double)st->last_indexed);
		cJSON_AddNumberToObject(o, "vectors", (double)st->vectors);
		if (st->model[0] != '\0') {
			cJSON_AddStringToObject(o, "model", st->model);
			cJSON_AddNumberToObject(o, "dimensions",
			    (double)st->dim);
			cJSON_AddBoolToObject(o, "vectors_fresh",
			    st->vectors_fresh);
			cJSON_AddStringToObject(o, "quant",
			    vindex_quant_name(st->quant));
			cJSON_AddStringToObject(o, "quant_setting",
			    vindex_quant_name(st->quant_setting));
		}
		if (problems != NULL)
			cJSON_AddItemToObject(o, "problems",
			    cJSON_Duplicate(problems, 1));
		jsonl_write(stdout, o);
		cJSON_Delete(o);
		return;
	}
	if (st->last_indexed > 0 && gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	rp_printf(stdout, "store           %s\n"
	    "schema version  %d\n"
	    "documents       %lld\n"
	    "chunks          %lld\n"
	    "text            %lld bytes (%lld compressed)\n"
	    "file            %lld bytes\n"
	    "last indexed    %s\n", db, st->schema_version,
	    (long long)st->documents, (long long)st->chunks,
	    (long long)st->text_bytes, (long long)st->stored_bytes,
	    (long long)st->file_bytes, when);
	if (st->model[0] != '\0')
		rp_printf(stdout, "vectors         %lld, %s, %zu dimensions, "
		    "vector file %s\n"
		    "quantisation    %s (--quant %s)\n", (long long)st->vectors,
		    st->model, st->dim, st->vectors_fresh ? "fresh" : "stale "
		    "(rebuilt by the next query)",
		    st->quant == VINDEX_QUANT_INT8 ? "int8 with float "
		    "re-scoring" : "none, float32 only",
		    vindex_quant_name(st->quant_setting));
	else
		rp_printf(stdout, "vectors         none\n");
	if (problems != NULL && cJSON_GetArraySize(problems) == 0)
		rp_printf(stdout, "check           ok\n");
	else if (problems != NULL)
		rp_printf(stdout, "check           %d problems (see above)\n",
		    cJSON_GetArraySize(problems));
}

/*
 * The settings of the environment and the config file, with warnings
 * printed; exits on a bad config file.
 */
static struct cfg *
load_cfg(void)
{
	struct cfg *c = cfg_new();
	struct rp_err err;
	const char *w;

	if (cfg_load(c, getenv, &err) != 0) {
		rp_report(&err, NULL);
		exit(err.code);
	}
	for (size_t i = 0; (w = cfg_warning(c, i)) != NULL; i++)
		rp_warn("%s", w);
	return c;
}

/* The default store: RAG_DB, the config file's db, or the XDG path. */
static char *
default_db(void)
{
	struct cfg *c = load_cfg();
	char *db = cfg_get(c, CFG_DB) != NULL ? xstrdup(cfg_get(c, CFG_DB)) :
	    NULL;

	cfg_free(c);
	return db;
}

/* A growable argument vector for one stage. */
struct args {
	char	**v;
	size_t	  n;
};

static void
args_add(struct args *a, const char *s)
{
	a->v = xreallocarray(a->v, a->n + 2, sizeof(*a->v));
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

static void
args_free(struct args *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
}

/* The stages running, for forward(). */
static pid_t running[8];
static volatile sig_atomic_t nrunning;

/*
 * A signal that would stop rag stops its stages instead (cron and
 * timeout(1) signal rag alone), and rag waits for them to finish: each
 * stage ends the way it is made to end on that signal.
 */
static void
forward(int sig)
{
	for (sig_atomic_t i = 0; i < nrunning; i++)
		if (running[i] > 0)
			kill(running[i], sig);
}

/*
 * Forward SIGHUP, SIGINT and SIGTERM while the stages run (ON), or put
 * back what was there.  Ignored signals stay ignored, here and in the
 * stages, as nohup(1) and shells mean them to be.
 */
static void
forward_signals(int on)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGTERM };
	static struct sigaction saved[3];
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < RP_NELEM(sigs); i++) {
		if (!on)
			sigaction(sigs[i], &saved[i], NULL);
		else if (sigaction(sigs[i], NULL, &saved[i]) == 0 &&
		    saved[i].sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
	}
}

/* The exit status of a process waited for, as a shell gives it. */
static int
reap(pid_t pid, int *sig)
{
	int ws;

	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return RP_EXIT_FAIL;
	*sig = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/*
 * Wait until the stage PID, writing into pipe FD, has written something
 * (1) or has ended without a word (0, with its status in *CODE), so
 * that the next stage starts only when there is something to read or
 * the end is clean: a store that cannot be opened must not also be
 * told as "no answer".
 */
static int
first_output(int fd, pid_t pid, int *code, int *sig)
{
	struct pollfd pf = { fd, POLLIN, 0 };
	int avail = 0;

	for (;;) {
		if (poll(&pf, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;	/* cannot tell: let the next one read */
		}
		if (ioctl(fd, FIONREAD, &avail) == 0 && avail > 0)
			return 1;
		if (pf.revents & (POLLHUP | POLLERR | POLLNVAL))
			break;
	}
	*code = reap(pid, sig);
	return 0;
}

/*
 * Run the N stages joined by pipes and wait for all of them.  The first
 * stage (in pipeline order) that fails sets the status, and is named.
 * With GATE, the second stage starts only once the first has written
 * something or ended well (first_output), and not at all when the
 * first fails without a word.
 */
static int
run_pipeline(const char *argv0, const char *cmd, struct args *st, size_t n,
    int gate)
{
	posix_spawn_file_actions_t fa;
	pid_t pid[8];
	int in = -1, p[2], status = 0, code[8] = { 0 }, sig[8] = { 0 }, e;
	int reaped[8] = { 0 };
	char *path;

	forward_signals(1);
	for (size_t i = 0; i < n; i++) {
		if (gate && i == 1 && pid[0] > 0 && first_output(in, pid[0],
		    &code[0], &sig[0]) == 0) {
			reaped[0] = 1;
			running[0] = -1;
			if (code[0] != 0) {	/* the rest are not run */
				close(in);
				for (size_t j = i; j < n; j++)
					pid[j] = -1;
				break;
			}
		}
		p[0] = p[1] = -1;
		if (i + 1 < n && pipe(p) != 0)
			rp_die(RP_EXIT_FAIL, "%s: pipe: %s", cmd,
			    strerror(errno));
		posix_spawn_file_actions_init(&fa);
		if (in >= 0)
			posix_spawn_file_actions_adddup2(&fa, in, 0);
		if (p[1] >= 0)
			posix_spawn_file_actions_adddup2(&fa, p[1], 1);
		if (in >= 0)
			posix_spawn_file_actions_addclose(&fa, in);
		if (p[0] >= 0) {
			posix_spawn_file_actions_addclose(&fa, p[0]);
			posix_spawn_file_actions_addclose(&fa, p[1]);
		}
		path = rp_sibling(argv0, st[i].v[0]);
		if ((e = posix_spawnp(&pid[i], path, &fa, NULL, st[i].v,
		    environ)) != 0) {
			rp_warn("%s: cannot run '%s': %s", cmd, st[i].v[0],
			    strerror(e));
			pid[i] = -1;
			code[i] = e == ENOENT ? RP_EXIT_UNAVAIL : RP_EXIT_FAIL;
		}
		free(path);
		posix_spawn_file_actions_destroy(&fa);
		running[i] = pid[i];
		nrunning = (sig_atomic_t)(i + 1);
		if (in >= 0)
			close(in);
		if (p[1] >= 0)
			close(p[1]);
		in = p[0];
	}
	for (size_t i = 0; i < n; i++) {
		if (pid[i] < 0 || reaped[i])
			continue;
		code[i] = reap(pid[i], &sig[i]);
		running[i] = -1;
	}
	forward_signals(0);
	/* The first stage in pipeline order that failed is the culprit. */
	for (size_t i = 0; i < n && status == 0; i++) {
		if ((status = code[i]) == 0 || pid[i] < 0)
			continue;
		if (sig[i] != 0)
			rp_warn("%s: %s was killed by signal %d", cmd,
			    st[i].v[0], sig[i]);
		else if (code[i] != RP_EXIT_NOANSWER)
			rp_warn("%s: %s failed (exit status %d)", cmd,
			    st[i].v[0], code[i]);
	}
	return status;
}

/* An option of rag add or rag ask, and the stages it goes to. */
struct route {
	const char	*name;
	int		 has_arg;
	int		 shortopt;	/* 0: none */
	unsigned	 stages;	/* bit i: stage i */
};

/*
 * Parse ARGV by ROUTES, appending each option to the stages it belongs
 * to; USAGE is printed on a bad option.  Returns optind.
 */
static int
route_options(int argc, char **argv, const struct route *r, size_t nr,
    struct args *st, size_t ns, const char *usage_line, const char *help_text)
{
	struct option lo[32];
	char shorts[64] = "+:h", opt[64];
	size_t ls = 2;
	int ch;

	for (size_t i = 0; i < nr; i++) {
		lo[i] = (struct option){ r[i].name, r[i].has_arg, NULL,
		    256 + (int)i };
		if (r[i].shortopt != 0) {
			shorts[ls++] = (char)r[i].shortopt;
			if (r[i].has_arg)
				shorts[ls++] = ':';
		}
	}
	lo[nr] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[nr + 1] = (struct option){ NULL, 0, NULL, 0 };
	shorts[ls] = '\0';
	optind = 1;
	opterr = 0;	/* our messages say "rag: add:", not "add:" */
	while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		size_t i;

		if (ch == 'h') {
			printf("%s%s", usage_line, help_text);
			exit(rp_finish(RP_EXIT_OK));
		}
		for (i = 0; i < nr; i++)
			if (ch == 256 + (int)i || (r[i].shortopt != 0 &&
			    ch == r[i].shortopt))
				break;
		if (i == nr) {
			rp_warn("%s: %s '%s'", argv[0], ch == ':' ?
			    "option needs an argument:" : "unknown option",
			    argv[optind - 1]);
			fputs(usage_line, stderr);
			exit(RP_EXIT_USAGE);
		}
		snprintf(opt, sizeof(opt), "--%s", r[i].name);
		for (size_t j = 0; j < ns; j++) {
			if (!(r[i].stages & (1u << j)))
				continue;
			args_add(&st[j], opt);
			if (r[i].has_arg)
				args_add(&st[j], optarg);
		}
	}
	return optind;
}

#define INGEST	(1u << 0)
#define EMBED	(1u << 1)
#define INDEX	(1u << 2)

static const char add_usage[] =
    "usage: rag add [-0hqv] [--force] [--json] [--no-progress] "
    "[--progress] [--prune]\n"
    "               [--strict] [-d db] [--batch n] [--chunk-size n] "
    "[--convert ext=command]\n"
    "               [--dimensions n] [--doc-prefix text] [--files-from "
    "file] [--format fmt]\n"
    "               [--jobs n] [--max-size bytes] [--model name] "
    "[--name name]\n"
    "               [--overlap n] [--provider name] [--quant how] "
    "[--query-prefix text]\n"
    "               [--wait seconds] [path ...]\n";

static const char add_help[] =
    "Ingest, embed and index documents into a store in one go:\n"
    "rag-ingest | rag-embed | rag-index, each option going to its stage.\n"
    "\n"
    "  -d, --db PATH         the store (rag-ingest, which skips what it "
    "has, rag-embed,\n"
    "                        which takes its cached vectors, and "
    "rag-index; default\n"
    "                        $RAG_DB, else the config file's db, else\n"
    "                        $XDG_DATA_HOME/ragpipe/store.db)\n"
    "  -0, --null            NUL-separated paths (rag-ingest)\n"
    "      --chunk-size N, --convert EXT=COMMAND, --files-from F, --force,\n"
    "      --format FMT, --json, --max-size N, --name NAME, --overlap N,\n"
    "      --prune                                  as in rag-ingest\n"
    "      --batch N, --dimensions N, --doc-prefix TEXT, --jobs N,\n"
    "      --model NAME, --provider P, --query-prefix TEXT\n"
    "                                               as in rag-embed\n"
    "      --strict          stop at the first bad record (rag-embed, "
    "rag-index)\n"
    "      --quant HOW       auto, none or int8: an int8 copy of the "
    "vectors (rag-index)\n"
    "      --wait N          seconds to wait for another writer "
    "(rag-index)\n"
    "      --no-progress, --progress\n"
    "                        never, or always, show rag-index's progress "
    "line (default:\n"
    "                        on a terminal; the other stages show none)\n"
    "  -q, --quiet           print errors only (every stage)\n"
    "  -v, --verbose         print notes and summaries (every stage)\n"
    "  -h, --help            show this help\n"
    "\n"
    "The first stage that fails sets the exit status and is named.\n";

static int
cmd_add(int argc, char **argv, const char *argv0)
{
	static const struct route r[] = {
		{ "batch", 1, 0, EMBED },
		{ "chunk-size", 1, 0, INGEST },
		{ "convert", 1, 0, INGEST },
		{ "db", 1, 'd', INGEST | EMBED | INDEX },
		{ "dimensions", 1, 0, EMBED },
		{ "doc-prefix", 1, 0, EMBED },
		{ "files-from", 1, 0, INGEST },
		{ "force", 0, 0, INGEST },
		{ "format", 1, 0, INGEST },
		{ "jobs", 1, 0, EMBED },
		{ "json", 0, 0, INGEST },
		{ "max-size", 1, 0, INGEST },
		{ "model", 1, 0, EMBED },
		{ "name", 1, 0, INGEST },
		{ "no-progress", 0, 0, INDEX },
		{ "null", 0, '0', INGEST },
		{ "overlap", 1, 0, INGEST },
		{ "progress", 0, 0, INDEX },
		{ "provider", 1, 0, EMBED },
		{ "prune", 0, 0, INGEST },
		{ "quant", 1, 0, INDEX },
		{ "query-prefix", 1, 0, EMBED },
		{ "quiet", 0, 'q', INGEST | EMBED | INDEX },
		{ "strict", 0, 0, EMBED | INDEX },
		{ "verbose", 0, 'v', INGEST | EMBED | INDEX },
		{ "wait", 1, 0, INDEX },
	};
	struct args st[3] = { { NULL, 0 } };
	char *db = NULL;
	int i, rc, has_db = 0;

	args_add(&st[0], "rag-ingest");
	/* One progress line, the last stage's: it sees what is stored. */
	args_add(&st[0], "--no-progress");
	args_add(&st[1], "rag-embed");
	args_add(&st[1], "--no-progress");
	/* Base64 vectors: 1.7 times the pipeline's speed (tests/bench). */
	args_add(&st[1], "--b64");
	args_add(&st[2], "rag-index");
	i = route_options(argc, argv, r, RP_NELEM(r), st, 3, add_usage,
	    add_help);
	for (size_t j = 1; j < st[2].n; j++)
		has_db |= strcmp(st[2].v[j], "--db") == 0;
	/*
	 * rag-ingest skips what the store has, and rag-embed takes its
	 * cached vectors, only when told the store: the one rag-index would
	 * choose.
	 */
	if (!has_db && (db = default_db()) != NULL) {
		for (int j = 0; j < 2; j++) {
			args_add(&st[j], "--db");
			args_add(&st[j], db);
		}
		free(db);
	}
	for (; i < argc; i++)
		args_add(&st[0], argv[i]);
	rc = run_pipeline(argv0, "add", st, 3, 0);
	for (i = 0; i < 3; i++)
		args_free(&st[i]);
	return rc;
}

static const char ask_usage[] =
    "usage: rag ask [-hq] [--exact] [--json] [-d db] [-k n] [--filter glob]\n"
    "               [--max-chars n] [--max-context n] [--mode mode] "
    "[--model name]\n"
    "               [--provider name] [--sentences n] [--system text]\n"
    "               [--temperature t] [question ...]\n";

static const char ask_help[] =
    "Answer a question from a store: rag-query | rag-answer.  The words "
    "given are one\n"
    "question; with none, questions are read from standard input, one a "
    "line.\n"
    "\n"
    "  -d, --db PATH         the store (rag-query)\n"
    "  -k, --top N           hits to answer from (rag-query)\n"
    "      --exact, --filter GLOB, --mode MODE      as in rag-query\n"
    "      --json, --max-chars N, --max-context N, --model NAME,\n"
    "      --provider P, --sentences N, --system TEXT, --temperature T\n"
    "                                               as in rag-answer\n"
    "  -q, --quiet           print errors only (both stages)\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: that of the first stage that failed; 3 when no answer "
    "was found.\n";

static int
cmd_ask(int argc, char **argv, const char *argv0)
{
	static const struct route r[] = {
		{ "db", 1, 'd', 1 },
		{ "exact", 0, 0, 1 },
		{ "filter", 1, 0, 1 },
		{ "json", 0, 0, 2 },
		{ "max-chars", 1, 0, 2 },
		{ "max-context", 1, 0, 2 },
		{ "mode", 1, 0, 1 },
		{ "model", 1, 0, 2 },
		{ "provider", 1, 0, 2 },
		{ "quiet", 0, 'q', 1 | 2 },
		{ "sentences", 1, 0, 2 },
		{ "system", 1, 0, 2 },
		{ "temperature", 1, 0, 2 },
		{ "top", 1, 'k', 1 },
	};
	struct args st[2] = { { NULL, 0 } };
	struct buf q = BUF_INIT;
	int i, rc;

	args_add(&st[0], "rag-query");
	args_add(&st[1], "rag-answer");
	i = route_options(argc, argv, r, RP_NELEM(r), st, 2, ask_usage,
	    ask_help);
	for (int j = i; j < argc; j++) {
		if (j > i)
			buf_addc(&q, ' ');
		buf_adds(&q, argv[j]);
	}
	if (i < argc) {
		args_add(&st[0], "--");
		args_add(&st[0], buf_str(&q));
	}
	buf_release(&q);
	rc = run_pipeline(argv0, "ask", st, 2, 1);
	for (i = 0; i < 2; i++)
		args_free(&st[i]);
	return rc;
}

#define STATUS_USAGE	"usage: rag status [-h] [--check] [--json] [-d db] [--format fmt]\n"

/* The problems store_check finds: on stderr now, in the status later. */
struct problems {
	const char	*db;
	cJSON		*list;
};

static void
problem(void *arg, const char *what)
{
	struct problems *p = arg;

	rp_warn("status: %s: %s", p->db, what);
	cJSON_AddItemToArray(p->list, cJSON_CreateString(what));
}

static void
print_config(const struct cfg *c, int json)
{
	const char *v, *path = cfg_path(c);
	char masked[64];
	struct stat sb;
	cJSON *o, *k;

	o = cJSON_CreateObject();
	if (path != NULL)
		cJSON_AddStringToObject(o, "file", path);
	else
		cJSON_AddNullToObject(o, "file");
	if (!json)
		rp_printf(stdout, "%-16s %s%s\n", "file", path != NULL ? path :
		    "(none: neither XDG_CONFIG_HOME nor HOME is set)",
		    path != NULL && stat(path, &sb) != 0 ? " (absent)" : "");
	for (int i = 0; i < CFG_NKEYS; i++) {
		v = cfg_get(c, (enum cfg_key)i);
		if (v != NULL && cfg_secret((enum cfg_key)i))
			v = cfg_mask(v, masked, sizeof(masked));
		if (json) {
			k = cJSON_AddObjectToObject(o, cfg_name((enum cfg_key)i));
			if (v != NULL)
				cJSON_AddStringToObject(k, "value", v);
			else
				cJSON_AddNullToObject(k, "value");
			cJSON_AddStringToObject(k, "from",
			    cfg_where(c, (enum cfg_key)i));
			continue;
		}
		rp_printf(stdout, "%-16s %-40s %s\n", cfg_name((enum cfg_key)i),
		    v != NULL ? v : "-", cfg_where(c, (enum cfg_key)i));
	}
	if (json)
		jsonl_write(stdout, o);
	cJSON_Delete(o);
}

static int
cmd_config(int argc, char **argv, const char *argv0)
{
	static const struct option opts[] = {
		{ "help",	no_argument,		NULL, 'h' },
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ NULL,		0,			NULL, 0 }
	};
	struct cfg *c;
	int ch, json = 0;

	(void)argv0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			printf("usage: rag config [-h] [--json]\n"
			    "Show the settings in effect, and where each comes "
			    "from: a variable,\n"
			    "the config file (path:line), or the default.  "
			    "Keys are masked.\n"
			    "\n"
			    "      --json      print one JSON object\n"
			    "  -h, --help      show this help\n");
			return RP_EXIT_OK;
		case OPT_JSON:
			json = 1;
			break;
		default:
			fprintf(stderr, "usage: rag config [-h] [--json]\n");
			return RP_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: rag config [-h] [--json]\n");
		return RP_EXIT_USAGE;
	}
	c = load_cfg();
	print_config(c, json);
	cfg_free(c);
	return RP_EXIT_OK;
}

static int
cmd_status(int argc, char **argv, const char *argv0)
{
	static const struct option opts[] = {
		{ "check",	no_argument,		NULL, OPT_CHECK },
		{ "db",		required_argument,	NULL, 'd' },
		{ "format",	required_argument,	NULL, OPT_FORMAT },
		{ "help",	no_argument,		NULL, 'h' },
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ NULL,		0,			NULL, 0 }
	};
	enum rp_format format = RP_FORMAT_AUTO;
	struct store_stats st;
	struct store *s;
	struct rp_err err;
	struct problems p = { NULL, NULL };
	const char *db = NULL;
	char *dbpath = NULL;
	int ch, check = 0, rc = RP_EXIT_OK;

	(void)argv0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			db = optarg;
			break;
		case 'h':
			printf(STATUS_USAGE
			    "Show what a store holds, and how fresh it is.\n"
			    "\n"
			    "      --check     also check it through and "
			    "through (SQLite, FTS5, vectors);\n"
			    "                  each problem on stderr, exit 65 "
			    "if any\n"
			    "  -d, --db PATH   the store (default $RAG_DB, "
			    "else the config file's db, else\n"
			    "                  "
			    "$XDG_DATA_HOME/ragpipe/store.db)\n"
			    "      --format F  text, or json (one object); the "
			    "default is text on a\n"
			    "                  terminal and json otherwise\n"
			    "      --json      the same as --format json\n"
			    "  -h, --help      show this help\n");
			return RP_EXIT_OK;
		case OPT_CHECK:
			check = 1;
			break;
		case OPT_FORMAT:
			format = rp_parse_format(optarg, "--format");
			break;
		case OPT_JSON:
			format = RP_FORMAT_JSON;
			break;
		default:
			fputs(STATUS_USAGE, stderr);
			return RP_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(STATUS_USAGE, stderr);
		return RP_EXIT_USAGE;
	}
	if (db == NULL)
		db = dbpath = default_db();
	if (db == NULL)
		rp_die(RP_EXIT_USAGE, "no store: give -d or set RAG_DB");
	/* FTS5 checks itself with a write (rolled back): open for one. */
	if ((s = store_open(db, check ? 0 : STORE_READONLY, &err)) == NULL) {
		free(dbpath);
		rp_report(&err, NULL);
		return err.code;
	}
	p.db = db;
	if (check)
		p.list = cJSON_CreateArray();
	if (store_stats(s, &st, &err) != 0 ||
	    (check && store_check(s, problem, &p, &err) < 0)) {
		store_close(s);
		free(dbpath);
		cJSON_Delete(p.list);
		rp_report(&err, NULL);
		return err.code;
	}
	print_status(db, &st, rp_format_json(format), p.list);
	if (p.list != NULL && cJSON_GetArraySize(p.list) > 0)
		rc = RP_EXIT_DATA;
	cJSON_Delete(p.list);
	store_close(s);
	free(dbpath);
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help",	no_argument,	NULL, 'h' },
		{ "version",	no_argument,	NULL, OPT_VERSION },
		{ NULL,		0,		NULL, 0 }
	};
	const char *argv0 = argv[0];
	int ch;

	rp_init(argv[0]);
	/* "+": stop at the command name; its options are its own. */
	while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			help();
		case OPT_VERSION:
			printf("rag (ragpipe) %s\n", RP_VERSION);
			return rp_finish(0);
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage();
	if (strcmp(argv[0], "help") == 0)
		help();
	for (size_t i = 0; i < RP_NELEM(commands); i++) {
		if (strcmp(argv[0], commands[i].name) != 0)
			continue;
		if (commands[i].run != NULL)
			return rp_finish(commands[i].run(argc, argv, argv0));
		return run_external(argv0, argv[0], argv);
	}
	rp_die(RP_EXIT_USAGE, "'%s' is not a rag command (see rag --help)",
	    argv[0]);
}
