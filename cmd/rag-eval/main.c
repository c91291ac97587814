/* rag-eval: score rag-query's retrieval against relevance judgments. */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <search.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rp.h"
#include "cfg.h"
#include "jsonl.h"
#include "eval.h"

#define TOP_DEFAULT	100
#define TOP_MAX		10000		/* rag-query's limit */

extern char **environ;

enum { OPT_JSON = 256, OPT_MODE, OPT_PER_QUERY, OPT_QRELS, OPT_QUERIES,
	OPT_RUN, OPT_VERSION };

static const struct option longopts[] = {
	{ "db",		required_argument,	NULL, 'd' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "json",	no_argument,		NULL, OPT_JSON },
	{ "mode",	required_argument,	NULL, OPT_MODE },
	{ "per-query",	required_argument,	NULL, OPT_PER_QUERY },
	{ "qrels",	required_argument,	NULL, OPT_QRELS },
	{ "queries",	required_argument,	NULL, OPT_QUERIES },
	{ "quiet",	no_argument,		NULL, 'q' },
	{ "run",	required_argument,	NULL, OPT_RUN },
	{ "top",	required_argument,	NULL, 'k' },
	{ "version",	no_argument,		NULL, OPT_VERSION },
	{ NULL,		0,			NULL, 0 }
};


#define USAGE	"usage: rag-eval [-hq] [--json] [-d db] [-k n] [--mode mode] " \
	"[--per-query file]\n" \
	"                --qrels file --queries file [--run file]\n"

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
	    "Ask rag-query every question; score its hits against judgments.\n"
	    "\n"
	    "  -d, --db PATH          the store (default $RAG_DB, else the "
	    "config file's db,\n"
	    "                         else $XDG_DATA_HOME/ragpipe/store.db)\n"
	    "      --json             print one JSON object\n"
	    "  -k, --top N            hits a question from rag-query "
	    "(default %d)\n"
	    "      --mode MODE        passed to rag-query: bm25, vector, "
	    "hybrid\n"
	    "      --per-query FILE   write each query's metrics (TSV)\n"
	    "      --qrels FILE       judgments: query-id corpus-id score "
	    "(TSV),\n"
	    "                         or TREC's qid 0 docid rel\n"
	    "      --queries FILE     questions: {\"id\":\"1\",\"text\":"
	    "\"...\"} lines\n"
	    "  -q, --quiet            print errors only\n"
	    "      --run FILE         write the run: {\"qid\",\"docid\","
	    "\"score\"} lines\n"
	    "  -h, --help             show this help\n"
	    "      --version          show the version\n"
	    "\n"
	    "Metrics: nDCG@10, Recall@10, Recall@100, MRR@10; extras MAP, "
	    "P@10,\n"
	    "Recall@1000, nDCG@100 (trec_eval's, as eval.py computes them).\n"
	    "Exit status: 0 ok, 1 failure, 2 usage, 65 some qrels or query "
	    "lines\n"
	    "were bad, 69 rag-query could not be run, 74 I/O error; else "
	    "that of\n"
	    "a failed rag-query.\n", TOP_DEFAULT);
	exit(rp_finish(RP_EXIT_OK));
}

/* An unlinked temporary file, open for reading and writing. */
static FILE *
temp_file(void)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	FILE *f;
	int fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	path = xasprintf("%s/rag-eval.XXXXXX", dir);
	if ((fd = mkstemp(path)) < 0)
		rp_die(RP_EXIT_IO, "%s: %s", path, strerror(errno));
	unlink(path);
	free(path);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	if ((f = fdopen(fd, "w+")) == NULL)
		rp_oom();
	return f;
}

/* Start rag-query reading IN; its stdout is *OUT.  0, or -1 (reported). */
static int
spawn_query(struct eval *ev, int in, pid_t *pid, int *out)
{
	posix_spawn_file_actions_t fa;
	char *argv[10], top[32], *path;
	int p[2], rc, n = 0;

	if (pipe(p) != 0)
		rp_die(RP_EXIT_FAIL, "pipe: %s", strerror(errno));
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	snprintf(top, sizeof(top), "%lu", ev->k);
	argv[n++] = "rag-query";
	argv[n++] = "-d";
	argv[n++] = (char *)ev->db;
	argv[n++] = "-k";
	argv[n++] = top;
	if (ev->mode != NULL) {
		argv[n++] = "--mode";
		argv[n++] = (char *)ev->mode;
	}
	if (rp_verbosity == 0)
		argv[n++] = "-q";
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	path = rp_sibling(ev->argv0, "rag-query");
	rc = posix_spawnp(pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	free(path);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		rp_warn("cannot run 'rag-query': %s", strerror(rc));
		return -1;
	}
	*out = p[0];
	return 0;
}

/* Add hit O (from rag-query) to the run: 0, or -1 with ERR. */
static int
add_hit(struct eval *ev, const cJSON *o, const char *where,
    struct rp_err *err)
{
	const char *qid = jsonl_str(o, "qid"), *doc = jsonl_str(o, "doc");
	struct query *q;
	double score;

	if (qid == NULL || doc == NULL || !jsonl_num(o, "score", &score))
		return rp_err_set(err, RP_EXIT_DATA, "%s: hit without \"qid\", "
		    "\"doc\" or \"score\"", where);
	if ((q = query_get(ev, qid, 0)) == NULL || !q->asked)
		return rp_err_set(err, RP_EXIT_DATA, "%s: hit for a question "
		    "not asked", where);
	q->docs = grow(q->docs, q->ndocs, &q->dcap, sizeof(*q->docs));
	q->docs[q->ndocs].doc = xstrdup(doc);
	q->docs[q->ndocs].score = score;
	q->ndocs++;
	return 0;
}

/* Run rag-query on the questions in ev->tmp and collect the run. */
static int
run_query(struct eval *ev)
{
	double t0 = rp_now();
	pid_t pid;
	int fd, st;
	FILE *f;

	if (lseek(fileno(ev->tmp), 0, SEEK_SET) != 0)
		rp_die(RP_EXIT_IO, "temporary file: %s", strerror(errno));
	if (spawn_query(ev, fileno(ev->tmp), &pid, &fd) != 0)
		return RP_EXIT_UNAVAIL;
	if ((f = fdopen(fd, "r")) == NULL)
		rp_oom();
	read_records(ev, f, "rag-query", JSONL_MAX_LINE, add_hit);
	fclose(f);	/* first, so that rag-query never blocks on the pipe */
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			rp_die(RP_EXIT_FAIL, "waitpid: %s", strerror(errno));
	ev->seconds = rp_now() - t0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st)) {
		rp_warn("rag-query failed (exit %d)", WEXITSTATUS(st));
		return WEXITSTATUS(st);
	}
	rp_warn("rag-query failed (signal %d)", WTERMSIG(st));
	return RP_EXIT_FAIL;
}

/* Read the qrels and the questions, and ask rag-query: 0, or a status. */
static int
collect(struct eval *ev)
{
	int rc;

	if (read_qrels(ev) != 0)
		return RP_EXIT_IO;
	ev->tmp = temp_file();
	rc = read_queries(ev) != 0 ? RP_EXIT_IO : run_query(ev);
	fclose(ev->tmp);
	return rc;
}


/* Warn about qrels queries that score 0 whatever the retrieval. */
static void
warn_missing(const struct eval *ev)
{
	size_t unasked = 0, notrun = 0, norel = 0;
	const struct query *q;

	for (size_t i = 0; i < ev->nq; i++) {
		if (!(q = ev->q[i])->in_qrels)
			continue;
		unasked += !q->asked;
		notrun += q->ndocs == 0;
		norel += q->nrel == 0;
	}
	if (rp_verbosity == 0)
		return;
	if (unasked > 0)
		rp_warn("%zu qrels quer%s no question in %s", unasked,
		    unasked == 1 ? "y has" : "ies have", ev->queries);
	if (notrun > 0)
		rp_warn("%zu qrels quer%s not in the run (scored 0)", notrun,
		    notrun == 1 ? "y is" : "ies are");
	if (norel > 0)
		rp_warn("%zu qrels quer%s no relevant (rel>=1) docs; %s 0",
		    norel, norel == 1 ? "y has" : "ies have",
		    norel == 1 ? "it scores" : "they score");
}

/* V rounded to DIGITS decimals, as Python's round(v, digits). */
static double
round_to(double v, int digits)
{
	char s[64];

	snprintf(s, sizeof(s), "%.*f", digits, v);
	return strtod(s, NULL);
}

static void
print_results(const struct eval *ev)
{
	cJSON *o;

	if (!ev->json) {
		rp_printf(stdout, "queries     %zu\n", ev->nqrels);
		for (int m = 0; m < NMAIN; m++)
			rp_printf(stdout, "%-11s %.4f\n", metric_names[m],
			    ev->mean[m]);
		rp_printf(stdout, "# extra:");
		for (int m = NMAIN; m < NMETRIC; m++)
			rp_printf(stdout, "%s%s %.4f", m == NMAIN ? " " : "  ",
			    metric_names[m], ev->mean[m]);
		rp_printf(stdout, "\n");
		return;
	}
	o = cJSON_CreateObject();
	for (int m = 0; m < NMETRIC; m++)
		cJSON_AddNumberToObject(o, metric_names[m],
		    round_to(ev->mean[m], 6));
	cJSON_AddNumberToObject(o, "queries", (double)ev->nqrels);
	if (ev->mode != NULL)
		cJSON_AddStringToObject(o, "mode", ev->mode);
	else
		cJSON_AddNullToObject(o, "mode");
	cJSON_AddNumberToObject(o, "k", (double)ev->k);
	cJSON_AddStringToObject(o, "db", ev->db);
	cJSON_AddNumberToObject(o, "seconds", round_to(ev->seconds, 3));
	jsonl_write(stdout, o);
	cJSON_Delete(o);
}

static FILE *
open_out(const char *path)
{
	FILE *f;

	if (path == NULL)
		return NULL;
	if ((f = fopen(path, "w")) == NULL)
		rp_die(RP_EXIT_IO, "%s: %s", path, strerror(errno));
	return f;
}

/* Close F, written as PATH: 0, or 74 after reporting a write error. */
static int
close_out(FILE *f, const char *path)
{
	int e = 0;

	if (fflush(f) != 0 || ferror(f))
		e = errno != 0 ? errno : EIO;
	if (fclose(f) != 0 && e == 0)
		e = errno != 0 ? errno : EIO;
	if (e == 0)
		return 0;
	rp_warn("%s: write error: %s", path, strerror(e));
	return RP_EXIT_IO;
}

/* The run as JSON lines {"qid","docid","score"}, best first. */
static int
write_run(const struct eval *ev, FILE *f)
{
	const struct query *q;
	cJSON *o;

	for (size_t i = 0; i < ev->nasked && !ferror(f); i++) {
		q = ev->asked[i];
		for (size_t j = 0; j < q->ndocs; j++) {
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "qid", q->id);
			cJSON_AddStringToObject(o, "docid", q->docs[j].doc);
			cJSON_AddNumberToObject(o, "score", q->docs[j].score);
			jsonl_write(f, o);
			cJSON_Delete(o);
		}
	}
	return close_out(f, ev->run);
}

/* Each qrels query's metrics, as TSV (eval.py's --per-query). */
static int
write_per_query(const struct eval *ev, FILE *f)
{
	const struct query *q;

	rp_printf(f, "qid");
	for (int m = 0; m < NMETRIC; m++)
		rp_printf(f, "\t%s", metric_names[m]);
	rp_printf(f, "\n");
	for (size_t i = 0; i < ev->nq && !ferror(f); i++) {
		if (!(q = ev->q[i])->in_qrels)
			continue;
		rp_printf(f, "%s", q->id);
		for (int m = 0; m < NMETRIC; m++)
			rp_printf(f, "\t%.6f", q->m[m]);
		rp_printf(f, "\n");
	}
	return close_out(f, ev->perq);
}

static void
eval_release(struct eval *ev)
{
	struct query *q;

	for (size_t i = 0; i < ev->nq; i++) {
		q = ev->q[i];
		tdelete(q, &ev->root, query_cmp);
		for (size_t j = 0; j < q->njudg; j++)
			free(q->judg[j].doc);
		for (size_t j = 0; j < q->ndocs; j++)
			free(q->docs[j].doc);
		free(q->judg);
		free(q->docs);
		free(q->id);
		free(q);
	}
	free(ev->q);
	free(ev->asked);
}

/* The store of RAG_DB, the config file, or the default; a new string. */
static char *
default_db(void)
{
	struct cfg *c = cfg_new();
	struct rp_err err;
	const char *w;
	char *db;

	if (cfg_load(c, getenv, &err) != 0) {
		rp_report(&err, NULL);
		exit(err.code);
	}
	for (size_t i = 0; (w = cfg_warning(c, i)) != NULL; i++)
		rp_warn("%s", w);
	db = cfg_get(c, CFG_DB) != NULL ? xstrdup(cfg_get(c, CFG_DB)) : NULL;
	cfg_free(c);
	return db;
}

int
main(int argc, char *argv[])
{
	struct eval ev = { .k = TOP_DEFAULT };
	FILE *runf, *perqf;
	char *dbpath = NULL;
	int ch, rc;

	rp_init(argv[0]);
	ev.argv0 = argv[0];
	while ((ch = getopt_long(argc, argv, "d:hk:q", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			ev.db = optarg;
			break;
		case 'h':
			help();
		case 'k':
			ev.k = rp_parse_ulong(optarg, 1, TOP_MAX, "-k");
			break;
		case 'q':
			rp_verbosity = 0;
			break;
		case OPT_JSON:
			ev.json = 1;
			break;
		case OPT_MODE:
			ev.mode = optarg;
			break;
		case OPT_PER_QUERY:
			ev.perq = optarg;
			break;
		case OPT_QRELS:
			ev.qrels = optarg;
			break;
		case OPT_QUERIES:
			ev.queries = optarg;
			break;
		case OPT_RUN:
			ev.run = optarg;
			break;
		case OPT_VERSION:
			printf("rag-eval (ragpipe) %s\n", RP_VERSION);
			return rp_finish(0);
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (ev.qrels == NULL || ev.queries == NULL) {
		rp_warn("%s is required", ev.qrels == NULL ? "--qrels" :
		    "--queries");
		usage();
	}
	if (ev.db == NULL)
		ev.db = dbpath = default_db();
	if (ev.db == NULL)
		rp_die(RP_EXIT_USAGE, "no store: give -d or set RAG_DB");
	/* Opened first, so that a bad path fails before the long run. */
	runf = open_out(ev.run);
	perqf = open_out(ev.perq);
	if ((rc = collect(&ev)) == 0) {
		evaluate(&ev);
		warn_missing(&ev);
		if (runf != NULL)
			rp_status(&ev.status, write_run(&ev, runf));
		if (perqf != NULL)
			rp_status(&ev.status, write_per_query(&ev, perqf));
		print_results(&ev);
		rc = rp_finish(ev.status);
	} else {
		if (runf != NULL)
			fclose(runf);
		if (perqf != NULL)
			fclose(perqf);
	}
	eval_release(&ev);
	free(dbpath);
	return rc;
}
