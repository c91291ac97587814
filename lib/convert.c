/* convert: run external converters (pdftotext, pandoc, users' own). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rp.h"
#include "buf.h"
#include "convert.h"
#include "extract.h"

#define STDERR_MAX	4096	/* bytes of a converter's complaints kept */

extern char **environ;

struct convert {
	struct convert_rule	*rules;	/* users' last, so searched first */
	size_t			 n;
};

static const struct {
	const char	*ext, *cmd, *program, *package;
	int		 format, pages;
} builtin[] = {
	{ "pdf", "pdftotext -enc UTF-8 -q \"$1\" -", "pdftotext",
	    "poppler-utils", EXTRACT_TEXT, 1 },
	{ "docx", "pandoc --to gfm --wrap none \"$1\"", "pandoc", "pandoc",
	    EXTRACT_MARKDOWN, 0 },
	{ "epub", "pandoc --to gfm --wrap none \"$1\"", "pandoc", "pandoc",
	    EXTRACT_MARKDOWN, 0 },
	{ "odt", "pandoc --to gfm --wrap none \"$1\"", "pandoc", "pandoc",
	    EXTRACT_MARKDOWN, 0 },
	{ "rtf", "pandoc --to gfm --wrap none \"$1\"", "pandoc", "pandoc",
	    EXTRACT_MARKDOWN, 0 },
};

static void
push(struct convert *c, const char *ext, const char *cmd)
{
	struct convert_rule *r;

	c->rules = xreallocarray(c->rules, c->n + 1, sizeof(*c->rules));
	r = &c->rules[c->n++];
	memset(r, 0, sizeof(*r));
	r->ext = xstrdup(ext);
	for (char *p = r->ext; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	r->cmd = xstrdup(cmd);
	r->format = EXTRACT_AUTO;
}

struct convert *
convert_new(void)
{
	struct convert *c = xcalloc(1, sizeof(*c));

	for (size_t i = 0; i < RP_NELEM(builtin); i++) {
		push(c, builtin[i].ext, builtin[i].cmd);
		c->rules[c->n - 1].program = builtin[i].program;
		c->rules[c->n - 1].package = builtin[i].package;
		c->rules[c->n - 1].format = builtin[i].format;
		c->rules[c->n - 1].pages = builtin[i].pages;
	}
	return c;
}

void
convert_free(struct convert *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->rules[i].ext);
		free(c->rules[i].cmd);
	}
	free(c->rules);
	free(c);
}

int
convert_add(struct convert *c, const char *spec, struct rp_err *err)
{
	const char *eq = strchr(spec, '=');
	char *ext;

	if (eq == NULL || eq == spec)
		return rp_err_set(err, RP_EXIT_USAGE, "--convert: '%s' is not "
		    "EXT=COMMAND", spec);
	for (const char *p = spec; p < eq; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9')))
			return rp_err_set(err, RP_EXIT_USAGE, "--convert: "
			    "'%.*s' is not an extension (letters and digits, "
			    "no dot)", (int)(eq - spec), spec);
	ext = xstrndup(spec, (size_t)(eq - spec));
	push(c, ext, eq + 1);
	free(ext);
	return 0;
}

const struct convert_rule *
convert_find(const struct convert *c, const char *path, int *off)
{
	const char *base = strrchr(path, '/'), *dot;
	size_t n;

	if (off != NULL)
		*off = 0;
	base = base != NULL ? base + 1 : path;
	if ((dot = strrchr(base, '.')) == NULL || dot == base)
		return NULL;
	n = strlen(dot + 1);
	/* The last rule wins; an empty command means "no converter". */
	for (size_t i = c->n; i-- > 0; ) {
		if (strlen(c->rules[i].ext) != n ||
		    strncasecmp(c->rules[i].ext, dot + 1, n) != 0)
			continue;
		if (c->rules[i].cmd[0] != '\0')
			return &c->rules[i];
		if (off != NULL)
			*off = 1;
		return NULL;
	}
	return NULL;
}

/* The first line of B, cleaned for a message. */
static const char *
first_line(struct buf *b, char *out, size_t n)
{
	const char *s = buf_str(b);
	size_t len = strcspn(s, "\n");
	char *line = xstrndup(s, len);

	rp_sanitize(out, n, line);
	free(line);
	return out;
}

/*
 * Read the child's OUT and ERR pipes until both close, the deadline
 * passes or OUT passes MAX bytes.  0, 1 for the deadline, 2 for the cap.
 */
static int
drain(int fd[2], struct buf *out, struct buf *errs, size_t max,
    double deadline)
{
	struct pollfd p[2];
	char tmp[65536];
	int open = 2, ms;
	ssize_t n;

	while (open > 0) {
		for (int i = 0; i < 2; i++) {
			p[i].fd = fd[i];
			p[i].events = POLLIN;
		}
		ms = (int)((deadline - rp_now()) * 1000);
		if (ms <= 0)
			return 1;
		if (poll(p, 2, ms) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (int i = 0; i < 2; i++) {
			if (fd[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP |
			    POLLERR)))
				continue;
			n = read(fd[i], tmp, sizeof(tmp));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(fd[i]);
				fd[i] = -1;
				open--;
				continue;
			}
			if (i == 0 && (out->len + (size_t)n > max ||
			    buf_add(out, tmp, (size_t)n) != 0))
				return 2;
			if (i == 1 && errs->len < STDERR_MAX)
				buf_add(errs, tmp, RP_MIN((size_t)n,
				    STDERR_MAX - errs->len));
		}
	}
	return 0;
}

static int
spawn(const struct convert_rule *rule, const char *path, int fd[2],
    pid_t *pid, struct rp_err *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t dfl;
	char *argv[] = { "sh", "-c", rule->cmd, "sh", (char *)path, NULL };
	int po[2], pe[2], rc;

	if (pipe(po) != 0 || pipe(pe) != 0)
		return rp_err_set(err, RP_EXIT_FAIL, "pipe: %s",
		    strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawn_file_actions_addclose(&fa, po[0]);
	posix_spawn_file_actions_addclose(&fa, pe[0]);
	posix_spawn_file_actions_addclose(&fa, po[1]);
	posix_spawn_file_actions_addclose(&fa, pe[1]);
	posix_spawnattr_init(&at);
	/* Its own group, to kill it whole; SIGPIPE as a program expects. */
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(pid, "/bin/sh", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(po[1]);
	close(pe[1]);
	fd[0] = po[0];
	fd[1] = pe[0];
	if (rc != 0) {
		close(po[0]);
		close(pe[0]);
		return rp_err_set(err, RP_EXIT_FAIL, "cannot run /bin/sh: %s",
		    strerror(rc));
	}
	return 0;
}

int
convert_run(const struct convert_rule *rule, const char *path, size_t max,
    double timeout, struct buf *out, struct rp_err *err)
{
	struct buf errs = BUF_INIT;
	char why[256];
	pid_t pid;
	int fd[2], ws, rc;

	buf_reset(out);
	if (spawn(rule, path, fd, &pid, err) != 0)
		return -1;
	rc = drain(fd, out, &errs, max, rp_now() + timeout);
	if (rc != 0)
		kill(-pid, SIGKILL);
	for (int i = 0; i < 2; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	first_line(&errs, why, sizeof(why));
	buf_release(&errs);
	if (rc == 1)
		return rp_err_set(err, RP_EXIT_DATA, "converting took longer "
		    "than %g s", timeout);
	if (rc == 2)
		return rp_err_set(err, RP_EXIT_DATA, "converted text is longer "
		    "than %zu bytes", max);
	if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127) {
		if (rule->program != NULL)
			return rp_err_set(err, RP_EXIT_UNAVAIL, "cannot convert:"
			    " %s is not installed (Debian package %s)",
			    rule->program, rule->package);
		return rp_err_set(err, RP_EXIT_UNAVAIL, "cannot convert: %s",
		    why[0] != '\0' ? why : "command not found");
	}
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
		if (WIFSIGNALED(ws))
			return rp_err_set(err, RP_EXIT_DATA, "converter killed "
			    "by signal %d", WTERMSIG(ws));
		return rp_err_set(err, RP_EXIT_DATA, "converter failed (exit "
		    "status %d)%s%s", WEXITSTATUS(ws), why[0] != '\0' ?
		    ": " : "", why);
	}
	return 0;
}
