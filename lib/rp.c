/* rp: program name, diagnostics, exit status, allocation helpers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rp.h"

int		rp_verbosity = 1;
int		rp_stderr_tty;
static struct rp_progress *progress;	/* the line on screen, if any */
static const char *progname = "ragpipe";
static int	stdout_errno;	/* errno of the first failed stdout write */

void
rp_init(const char *argv0)
{
	const char *slash;
	int fd;

	if (argv0 != NULL && *argv0 != '\0') {
		slash = strrchr(argv0, '/');
		progname = slash != NULL ? slash + 1 : argv0;
	}
	signal(SIGPIPE, SIG_IGN);
	/*
	 * If the caller closed 0, 1 or 2, the next open() would take its
	 * place and our data would land in a store or a document.
	 */
	do {
		fd = open("/dev/null", O_RDWR);
	} while (fd >= 0 && fd <= 2);
	if (fd > 2)
		close(fd);
	rp_stderr_tty = isatty(2);
}

const char *
rp_progname(void)
{
	return progname;
}

int
rp_err_set(struct rp_err *err, enum rp_exit code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int
rp_err_prefix(struct rp_err *err, const char *fmt, ...)
{
	char old[sizeof(err->msg)];
	va_list ap;
	size_t n;
	int rc;

	if (err == NULL)
		return -1;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	rc = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = rc < 0 ? 0 : RP_MIN((size_t)rc, sizeof(err->msg) - 1);
	/* Truncation is fine: messages are cut, never overrun. */
	if (n + 2 < sizeof(err->msg)) {
		memcpy(err->msg + n, ": ", 2);
		n += 2;
		memcpy(err->msg + n, old, RP_MIN(strlen(old) + 1,
		    sizeof(err->msg) - n));
		err->msg[sizeof(err->msg) - 1] = '\0';
	}
	return -1;
}

void
rp_status(int *status, int code)
{
	if (code > *status)
		*status = code;
}

void
rp_vwarn(const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	/* One write, so that lines from threads do not interleave. */
	n = snprintf(line, sizeof(line), "%s: ", progname);
	if (n < 0)
		return;
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	rp_flush(stdout);
	if (progress != NULL && progress->drawn) {
		fputs("\r\033[K", stderr);	/* the message replaces it */
		progress->drawn = 0;
	}
	fprintf(stderr, "%s\n", line);
}

void
rp_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rp_vwarn(fmt, ap);
	va_end(ap);
}

void
rp_note(const char *fmt, ...)
{
	va_list ap;

	if (rp_verbosity < 2 && !(rp_verbosity == 1 && rp_stderr_tty))
		return;
	va_start(ap, fmt);
	rp_vwarn(fmt, ap);
	va_end(ap);
}

void
rp_report(const struct rp_err *err, int *status)
{
	rp_warn("%s", err->msg);
	if (status != NULL)
		rp_status(status, err->code != 0 ? (int)err->code : RP_EXIT_FAIL);
}

_Noreturn void
rp_die(enum rp_exit code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rp_vwarn(fmt, ap);
	va_end(ap);
	exit(code);
}

int
rp_write(FILE *f, const void *p, size_t n)
{
	if (n == 0 || fwrite(p, 1, n, f) == n)
		return 0;
	if (f == stdout && stdout_errno == 0)
		stdout_errno = errno != 0 ? errno : EIO;
	return -1;
}

int
rp_printf(FILE *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	if (n >= 0)
		return 0;
	if (f == stdout && stdout_errno == 0)
		stdout_errno = errno != 0 ? errno : EIO;
	return -1;
}

int
rp_flush(FILE *f)
{
	errno = 0;
	if (fflush(f) == 0)
		return 0;
	if (f == stdout && stdout_errno == 0)
		stdout_errno = errno != 0 ? errno : EIO;
	return -1;
}

int
rp_stdout_failed(void)
{
	if (stdout_errno == 0 && ferror(stdout))
		stdout_errno = errno != 0 ? errno : EIO;
	return stdout_errno != 0;
}

int
rp_finish(int status)
{
	if (rp_flush(stdout) != 0 || ferror(stdout)) {
		if (stdout_errno == 0)
			stdout_errno = EIO;
	}
	if (stdout_errno == EPIPE)
		return status;
	if (stdout_errno != 0) {
		rp_warn("<stdout>: write error: %s", strerror(stdout_errno));
		rp_status(&status, RP_EXIT_IO);
	}
	return status;
}

unsigned long
rp_parse_ulong(const char *arg, unsigned long min, unsigned long max,
    const char *name)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (*arg == '\0' || *arg == '-' || *arg == '+' || *arg == ' ' ||
	    *end != '\0' || errno != 0 || v < min || v > max)
		rp_die(RP_EXIT_USAGE, "%s: '%s' is not a whole number from %lu "
		    "to %lu", name, arg, min, max);
	return v;
}

double
rp_parse_double(const char *arg, double min, double max, const char *name)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (*arg == '\0' || *end != '\0' || errno != 0 || isnan(v) ||
	    v < min || v > max)
		rp_die(RP_EXIT_USAGE, "%s: '%s' is not a number from %g to %g",
		    name, arg, min, max);
	return v;
}

char *
rp_sanitize(char *dst, size_t n, const char *s)
{
	size_t i = 0;

	if (n == 0)
		return dst;
	for (; *s != '\0' && i + 1 < n; s++)
		dst[i++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	dst[i] = '\0';
	if (*s != '\0' && n > 4)
		memcpy(dst + n - 4, "...", 4);
	return dst;
}

_Noreturn void
rp_oom(void)
{
	/* No stdio buffers: they may need memory themselves. */
	static const char m[] = ": out of memory\n";

	(void)!write(2, progname, strlen(progname));
	(void)!write(2, m, sizeof(m) - 1);
	_exit(RP_EXIT_FAIL);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n != 0 ? n : 1);

	if (p == NULL)
		rp_oom();
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb != 0 ? nmemb : 1, size != 0 ? size : 1);

	if (p == NULL)
		rp_oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n != 0 ? n : 1);
	if (p == NULL)
		rp_oom();
	return p;
}

void *
xgrow(void *p, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap < 8 ? 8 : *cap > SIZE_MAX / 2 ? SIZE_MAX : *cap * 2;
	if (*cap <= n)
		rp_oom();
	return xreallocarray(p, *cap, size);
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		rp_oom();
	return xrealloc(p, nmemb * size);
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;

	n = strnlen(s, n);
	p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		rp_oom();
	p = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

double
rp_round(double v, int digits)
{
	char s[64];

	if (!isfinite(v))
		return v;
	snprintf(s, sizeof(s), "%.*g", digits, v);
	return strtod(s, NULL);
}

long
rp_find_id(const int64_t *ids, size_t n, int64_t id)
{
	size_t from = SIZE_MAX;		/* no hint: all of IDS */

	return rp_find_id_from(ids, n, id, &from);
}

long
rp_find_id_from(const int64_t *ids, size_t n, int64_t id, size_t *from)
{
	size_t lo = *from, hi, step = 1, mid;

	if (lo >= n || ids[lo] > id) {
		lo = 0;
		hi = n;
	} else {
		/* Every id before LO is below ID (they ascend strictly). */
		for (hi = lo + 1; hi < n && ids[hi] < id; hi = lo + step) {
			lo = hi;
			step *= 2;
		}
		hi = RP_MIN(hi, n);
	}
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*from = lo;
	return lo < n && ids[lo] == id ? (long)lo : -1;
}

void
rp_sort(void *base, size_t n, size_t size,
    int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

char *
rp_sibling(const char *argv0, const char *prog)
{
	char dir[PATH_MAX], *slash, *path;
	ssize_t n;

	n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (n > 0)
		dir[n] = '\0';
	else if (argv0 != NULL && strchr(argv0, '/') != NULL &&
	    strlen(argv0) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%s", argv0);
	else
		return xstrdup(prog);
	if ((slash = strrchr(dir, '/')) == NULL)
		return xstrdup(prog);
	*slash = '\0';
	path = xasprintf("%s/%s", dir, prog);
	if (access(path, X_OK) == 0)
		return path;
	free(path);
	return xstrdup(prog);
}

void
rp_progress_start(struct rp_progress *p, int on, const char *unit,
    double total)
{
	memset(p, 0, sizeof(*p));
	p->on = on;
	p->unit = unit;
	p->total = total;
	p->start = p->last = rp_now();
	if (on)
		progress = p;
}

static void
progress_draw(struct rp_progress *p, double now)
{
	char line[256], eta[64] = "";
	double secs = now - p->start, rate, left;
	int n;

	rate = secs > 0 ? (double)p->count / secs : 0;
	if (p->total > 0 && p->done > 0 && p->done <= p->total) {
		left = secs * (p->total - p->done) / p->done;
		snprintf(eta, sizeof(eta), ", %d%%, %d:%02d left",
		    (int)(100 * p->done / p->total), (int)(left / 60),
		    (int)left % 60);
	}
	n = snprintf(line, sizeof(line), "\r%s: %llu %s, %.0f/s%s\033[K",
	    progname, (unsigned long long)p->count, p->unit, rate, eta);
	if (n > 0)
		(void)!write(2, line, RP_MIN((size_t)n, sizeof(line) - 1));
	p->drawn = 1;
	p->last = now;
}

void
rp_progress_add(struct rp_progress *p, uint64_t n, double done)
{
	double now;

	p->count += n;
	p->done = done;
	if (!p->on)
		return;
	now = rp_now();
	if (now - p->last >= 0.1)
		progress_draw(p, now);
}

void
rp_progress_end(struct rp_progress *p)
{
	static const char erase[] = "\r\033[K";

	if (p->on && p->drawn)
		(void)!write(2, erase, sizeof(erase) - 1);
	p->drawn = 0;
	if (progress == p)
		progress = NULL;
}

void
rp_sweep(const char *path, const char *infix)
{
	char *dir, *slash, *prefix, *end, *victim;
	const char *where;
	struct dirent *e;
	size_t plen;
	long pid;
	DIR *d;

	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	prefix = xasprintf("%s%s", slash != NULL ? slash + 1 : path, infix);
	if (slash != NULL)
		slash[slash == dir ? 1 : 0] = '\0';
	where = slash != NULL ? dir : ".";
	plen = strlen(prefix);
	if ((d = opendir(where)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strncmp(e->d_name, prefix, plen) != 0)
				continue;
			pid = strtol(e->d_name + plen, &end, 10);
			if ((*end != '\0' && *end != '-') || pid <= 0 ||
			    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
				continue;
			victim = xasprintf("%s/%s", where, e->d_name);
			unlink(victim);
			free(victim);
		}
		closedir(d);
	}
	free(prefix);
	free(dir);
}

enum rp_format
rp_parse_format(const char *arg, const char *name)
{
	if (strcmp(arg, "text") == 0)
		return RP_FORMAT_TEXT;
	if (strcmp(arg, "json") == 0)
		return RP_FORMAT_JSON;
	rp_die(RP_EXIT_USAGE, "%s: '%s' is not text or json", name, arg);
}

int
rp_format_json(enum rp_format f)
{
	return f == RP_FORMAT_JSON || (f == RP_FORMAT_AUTO && !isatty(1));
}

int
rp_colour(char *(*getenv_fn)(const char *))
{
	const char *v;

	if (!isatty(1))
		return 0;
	if ((v = getenv_fn("NO_COLOR")) != NULL && *v != '\0')
		return 0;
	return (v = getenv_fn("TERM")) == NULL || strcmp(v, "dumb") != 0;
}

double
rp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
