/*
 * bexec: run programs for make bench and measure them as whole
 * processes: wall time (fork to reap), peak RSS (wait4's ru_maxrss),
 * and, with ptrace, the anonymous memory a process holds when it ends.
 *
 * usage: bexec time OUTFILE -- command [arg ...]
 *        bexec lat [-w warmup] [-n max] OUTPREFIX QUESTIONS name=command ...
 *        bexec anon [-n runs] QUESTIONS -- command [arg ...]
 *
 * time: run the command once, with the caller's stdin and stdout, and
 * write "seconds maxrss_kib status" to OUTFILE.
 *
 * lat: for each line of QUESTIONS (at most max), run every command given
 * as name=command (split at spaces) with the line as its last argument
 * and standard output to /dev/null, one after the other, so that each
 * command sees the machine as the others do.  Writes each run's
 * milliseconds to OUTPREFIX.name, one a line, and prints one line a
 * command: name runs p50 p95 p99 max maxrss_kib failures.
 *
 * anon: run the command with the first RUNS lines, stopped by ptrace as
 * it exits (PTRACE_O_TRACEEXIT) to read its /proc status, with glibc's
 * malloc told never to give memory back (trim and mmap thresholds at
 * their maximum), so that RssAnon at exit is the most it touched:
 * prints "rss_anon_kib_max vm_hwm_kib_max runs".
 *
 * Exit status: 0, 1 on a failure to run, 2 on usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMDS	8
#define MAX_ARGS	64
#define MAX_LINE	4096

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bexec time outfile -- command [arg ...]\n"
	    "       bexec lat [-w warmup] [-n max] outprefix questions "
	    "name=command ...\n"
	    "       bexec anon [-n runs] questions -- command [arg ...]\n");
	exit(2);
}

/*
 * Run ARGV; stdout to /dev/null when QUIET.  Returns the wait status,
 * the wall time in *SECS and the peak RSS in *RSS (KiB); -1 on failure.
 */
static int
run(char *const *argv, int quiet, double *secs, long *rss)
{
	struct rusage ru;
	double t0 = now();
	pid_t pid;
	int st, fd;

	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		if (quiet && (fd = open("/dev/null", O_WRONLY)) >= 0) {
			dup2(fd, 1);
			close(fd);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR)
			return -1;
	*secs = now() - t0;
	*rss = ru.ru_maxrss;
	return st;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The P-th percentile of sorted V[0..N), nearest rank. */
static double
pct(const double *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100 * (double)n + 0.999999);

	if (n == 0)
		return 0;
	return v[i == 0 ? 0 : i > n ? n - 1 : i - 1];
}

/* Split S at spaces into ARGV, leaving two slots: the line, and NULL. */
static int
split(char *s, char **argv)
{
	char *t;
	int n = 0;

	while ((t = strsep(&s, " ")) != NULL && n < MAX_ARGS - 2)
		if (*t != '\0')
			argv[n++] = t;
	argv[n] = NULL;
	return n;
}

static char **
read_lines(const char *path, size_t max, size_t *n)
{
	FILE *f = fopen(path, "r");
	char line[MAX_LINE], **v = NULL;
	size_t len;

	*n = 0;
	if (f == NULL) {
		perror(path);
		exit(1);
	}
	while (*n < max && fgets(line, sizeof(line), f) != NULL) {
		len = strcspn(line, "\n");
		line[len] = '\0';
		if (len == 0)
			continue;
		v = realloc(v, (*n + 1) * sizeof(*v));
		if (v == NULL || (v[*n] = strdup(line)) == NULL)
			exit(1);
		(*n)++;
	}
	fclose(f);
	return v;
}

static int
cmd_time(int argc, char **argv)
{
	double secs;
	long rss;
	FILE *f;
	int st;

	if (argc < 4 || strcmp(argv[2], "--") != 0)
		usage();
	if ((st = run(argv + 3, 0, &secs, &rss)) < 0) {
		perror(argv[3]);
		return 1;
	}
	if ((f = fopen(argv[1], "w")) == NULL) {
		perror(argv[1]);
		return 1;
	}
	fprintf(f, "%.6f %ld %d\n", secs, rss, WIFEXITED(st) ?
	    WEXITSTATUS(st) : 128 + WTERMSIG(st));
	fclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

struct cmd {
	char		*name;
	char		*argv[MAX_ARGS];
	int		 argc;
	double		*ms;
	size_t		 n;
	long		 rss;
	long		 fail;
};

static int
cmd_lat(int argc, char **argv)
{
	struct cmd c[MAX_CMDS];
	size_t nq, max = 1000, warm = 20, nc = 0;
	char **q, *eq, *path;
	double secs;
	long rss;
	FILE *f;
	int ch, st;

	optind = 1;
	while ((ch = getopt(argc, argv, "+n:w:")) != -1) {
		if (ch == 'n')
			max = strtoul(optarg, NULL, 10);
		else if (ch == 'w')
			warm = strtoul(optarg, NULL, 10);
		else
			usage();
	}
	argc -= optind;
	argv += optind;
	if (argc < 3 || argc - 2 > MAX_CMDS)
		usage();
	q = read_lines(argv[1], max, &nq);
	for (int i = 2; i < argc; i++, nc++) {
		if ((eq = strchr(argv[i], '=')) == NULL)
			usage();
		*eq = '\0';
		c[nc] = (struct cmd){ .name = argv[i] };
		c[nc].argc = split(eq + 1, c[nc].argv);
		if ((c[nc].ms = calloc(nq + 1, sizeof(double))) == NULL)
			return 1;
	}
	/* Warm up: the page cache, the dynamic loader's files. */
	for (size_t j = 0; j < warm && nq > 0; j++)
		for (size_t i = 0; i < nc; i++) {
			c[i].argv[c[i].argc] = q[j % nq];
			c[i].argv[c[i].argc + 1] = NULL;
			run(c[i].argv, 1, &secs, &rss);
		}
	for (size_t j = 0; j < nq; j++)
		for (size_t i = 0; i < nc; i++) {
			c[i].argv[c[i].argc] = q[j];
			c[i].argv[c[i].argc + 1] = NULL;
			st = run(c[i].argv, 1, &secs, &rss);
			if (st != 0) {
				c[i].fail++;
				continue;
			}
			c[i].ms[c[i].n++] = secs * 1e3;
			if (rss > c[i].rss)
				c[i].rss = rss;
		}
	for (size_t i = 0; i < nc; i++) {
		if (asprintf(&path, "%s.%s", argv[0], c[i].name) < 0 ||
		    (f = fopen(path, "w")) == NULL)
			return 1;
		for (size_t j = 0; j < c[i].n; j++)
			fprintf(f, "%.4f\n", c[i].ms[j]);
		fclose(f);
		free(path);
		qsort(c[i].ms, c[i].n, sizeof(double), cmp_double);
		printf("%s %zu %.3f %.3f %.3f %.3f %ld %ld\n", c[i].name,
		    c[i].n, pct(c[i].ms, c[i].n, 50), pct(c[i].ms, c[i].n, 95),
		    pct(c[i].ms, c[i].n, 99), c[i].n > 0 ? c[i].ms[c[i].n - 1] :
		    0, c[i].rss, c[i].fail);
		free(c[i].ms);
	}
	for (size_t j = 0; j < nq; j++)
		free(q[j]);
	free(q);
	return 0;
}

/* Read KEY's value (KiB) from /proc/PID/status; -1 if absent. */
static long
status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t n = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

static int
cmd_anon(int argc, char **argv)
{
	size_t nq, runs = 20;
	long anon = 0, hwm = 0, a, h;
	char **q, *args[MAX_ARGS];
	int ch, st, n, done = 0;
	pid_t pid;

	optind = 1;
	while ((ch = getopt(argc, argv, "+n:")) != -1) {
		if (ch != 'n')
			usage();
		runs = strtoul(optarg, NULL, 10);
	}
	argc -= optind;
	argv += optind;
	if (argc < 3 || strcmp(argv[1], "--") != 0 || argc - 2 > MAX_ARGS - 2)
		usage();
	q = read_lines(argv[0], runs, &nq);
	for (n = 0; n < argc - 2; n++)
		args[n] = argv[n + 2];
	/* Never give memory back: RssAnon at exit is then the peak. */
	setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=4294967295:"
	    "glibc.malloc.mmap_threshold=33554432", 1);
	for (size_t j = 0; j < nq; j++) {
		args[n] = q[j];
		args[n + 1] = NULL;
		if ((pid = fork()) < 0)
			return 1;
		if (pid == 0) {
			int fd = open("/dev/null", O_WRONLY);

			dup2(fd, 1);
			ptrace(PTRACE_TRACEME, 0, NULL, NULL);
			execvp(args[0], args);
			_exit(127);
		}
		/* Stopped at exec. */
		if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st) ||
		    ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)
		    (PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)) != 0) {
			perror("bexec: ptrace");
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return 1;
		}
		ptrace(PTRACE_CONT, pid, NULL, NULL);
		for (;;) {
			if (waitpid(pid, &st, 0) < 0 || WIFEXITED(st) ||
			    WIFSIGNALED(st))
				break;
			if ((st >> 8) == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
				a = status_kib(pid, "RssAnon");
				h = status_kib(pid, "VmHWM");
				anon = a > anon ? a : anon;
				hwm = h > hwm ? h : hwm;
				ptrace(PTRACE_CONT, pid, NULL, NULL);
			} else
				ptrace(PTRACE_CONT, pid, NULL,
				    (void *)(long)WSTOPSIG(st));
		}
		done += WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	printf("%ld %ld %d\n", anon, hwm, done);
	for (size_t j = 0; j < nq; j++)
		free(q[j]);
	free(q);
	return done == (int)nq ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "time") == 0)
		return cmd_time(argc - 1, argv + 1);
	if (strcmp(argv[1], "lat") == 0)
		return cmd_lat(argc - 1, argv + 1);
	if (strcmp(argv[1], "anon") == 0)
		return cmd_anon(argc - 1, argv + 1);
	usage();
	return 2;
}
