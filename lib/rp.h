/*
 * rp: the base every ragpipe program and module stands on.
 *
 * It holds the program name and verbosity (the only mutable globals in
 * lib/, set once by rp_init), the exit statuses of DESIGN.md section 6,
 * the error record that lib/ functions fill instead of printing, the
 * diagnostics that cmd/ prints from them, allocation helpers that exit
 * on out-of-memory, and number parsing for options.
 *
 * Diagnostics have the form "prog: where: what" (where is "file:line",
 * a URL or a config path, and is left out when there is no place).
 * Exit status is the worst (highest) code seen during the run.
 *
 * Thread rules: rp_err values are per caller; the x-alloc helpers and
 * rp_warn may be called from any thread; rp_init and rp_finish only from
 * the main thread.
 */
#ifndef RP_H
#define RP_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "banned.h"

#define RP_VERSION	"0.1.0"

enum rp_exit {		/* ours; <sysexits.h> has EX_USAGE = 64, not 2 */
	RP_EXIT_OK = 0,
	RP_EXIT_FAIL = 1,
	RP_EXIT_USAGE = 2,
	RP_EXIT_NOANSWER = 3,	/* rag-answer: nothing relevant found */
	RP_EXIT_DATA = 65,
	RP_EXIT_UNAVAIL = 69,
	RP_EXIT_IO = 74,
};

/* An error from lib/: the exit status it deserves and "where: what". */
struct rp_err {
	enum rp_exit	code;
	char		msg[512];
};

#if defined(__GNUC__)
#define RP_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#else
#define RP_PRINTF(f, a)
#endif

/*
 * Set the program name from ARGV0 (its last path component), ignore
 * SIGPIPE (a closed pipe shows up as EPIPE on write instead), and make
 * sure file descriptors 0, 1 and 2 are open, so that a file we open
 * never becomes our stdout by accident.
 */
void		rp_init(const char *argv0);
const char	*rp_progname(void);

/* Verbosity: 0 quiet (errors only), 1 normal, 2 verbose. */
extern int	rp_verbosity;
/* Whether stderr is a terminal (set by rp_init). */
extern int	rp_stderr_tty;

/*
 * Fill ERR with CODE and a formatted message, and return -1, so that
 * lib/ code can say "return rp_err_set(err, RP_EXIT_IO, ...)".  ERR may
 * be NULL.  The message is truncated to fit.
 */
int		rp_err_set(struct rp_err *err, enum rp_exit code,
		    const char *fmt, ...) RP_PRINTF(3, 4);

/*
 * Put a formatted prefix and ": " before ERR's message (keeping its
 * code), as in "file.md: " + "line 3: bad".  Returns -1.
 */
int		rp_err_prefix(struct rp_err *err, const char *fmt, ...)
		    RP_PRINTF(2, 3);

/* Print "prog: msg" for ERR and raise *STATUS to its code if higher. */
void		rp_report(const struct rp_err *err, int *status);

/*
 * Print "prog: message" on stderr.  rp_note is for information, not
 * errors: it prints with --verbose, or by default when stderr is a
 * terminal, so that a pipeline's stderr carries only errors.
 */
void		rp_warn(const char *fmt, ...) RP_PRINTF(1, 2);
void		rp_note(const char *fmt, ...) RP_PRINTF(1, 2);
void		rp_vwarn(const char *fmt, va_list ap) RP_PRINTF(1, 0);

/* Print "prog: message" and exit with CODE. */
_Noreturn void	rp_die(enum rp_exit code, const char *fmt, ...) RP_PRINTF(2, 3);

/* Raise *STATUS to CODE if CODE is worse (numerically higher). */
void		rp_status(int *status, int code);

/*
 * Finish the run: flush stdout and return the exit status to use.
 * A write error on stdout becomes 74 with a message, except EPIPE (the
 * reader went away, as with "| head -1"), which ends the run quietly
 * with the status so far.
 */
int		rp_finish(int status);

/*
 * Write N bytes at P to F; rp_printf formats to F.  0 on success, -1 on
 * a write error, which for stdout is remembered for rp_finish.  All
 * data written to stdout goes through these (or jsonl_write).
 */
int		rp_write(FILE *f, const void *p, size_t n);
int		rp_printf(FILE *f, const char *fmt, ...) RP_PRINTF(2, 3);
/* Flush F, remembering a write error as rp_write does.  0 or -1. */
int		rp_flush(FILE *f);

/*
 * True once stdout has failed (closed pipe or write error): loops that
 * produce output should stop early.
 */
int		rp_stdout_failed(void);

/*
 * Parse ARG as a whole decimal number in [MIN, MAX] for option NAME;
 * on failure print "prog: NAME: 'ARG' is not a number from MIN to MAX"
 * and exit 2.  rp_parse_double is the same for real numbers.
 */
unsigned long	rp_parse_ulong(const char *arg, unsigned long min,
		    unsigned long max, const char *name);
double		rp_parse_double(const char *arg, double min, double max,
		    const char *name);

/*
 * Copy S into DST of size N for a message: control characters become
 * '?', and the copy is cut (with "...") if it does not fit.  Returns DST.
 */
char		*rp_sanitize(char *dst, size_t n, const char *s);

/* Allocation: these print "prog: out of memory" and exit 1 on failure. */
_Noreturn void	rp_oom(void);
void		*xmalloc(size_t n);
void		*xcalloc(size_t nmemb, size_t size);
void		*xrealloc(void *p, size_t n);
void		*xreallocarray(void *p, size_t nmemb, size_t size);
char		*xstrdup(const char *s);
/*
 * Make room for item N of array P, which has room for *CAP items,
 * doubling *CAP when it is full; returns the array, perhaps moved.  An
 * array that grows one item at a time from input must grow so, or
 * building it costs time in the square of its length (under ASan
 * always: its realloc moves every time).
 */
void		*xgrow(void *p, size_t n, size_t *cap, size_t size);
char		*xstrndup(const char *s, size_t n);
/* A newly allocated string from a format, like asprintf. */
char		*xasprintf(const char *fmt, ...) RP_PRINTF(1, 2);

/*
 * V rounded to DIGITS significant decimal digits, so that printed
 * scores are short.  Nine digits keep every float32 distinction.
 */
double		rp_round(double v, int digits);

/*
 * qsort, for arrays that may be empty: qsort's pointer must not be NULL
 * even when there is nothing to sort, and an empty array often is.
 */
void		rp_sort(void *base, size_t n, size_t size,
		    int (*cmp)(const void *, const void *));

/* The index of ID in IDS[0..N), sorted ascending, or -1. */
long		rp_find_id(const int64_t *ids, size_t n, int64_t id);
/*
 * The same, for ids looked up in ascending order: the search starts at
 * *FROM and gallops forward, so that a run of lookups costs about the
 * log of the gaps between them rather than of N; it searches all of IDS
 * when ID lies before *FROM or *FROM is past the end (SIZE_MAX for the
 * first lookup).  Sets *FROM for the next.
 */
long		rp_find_id_from(const int64_t *ids, size_t n, int64_t id,
		    size_t *from);

/*
 * How to run sibling program PROG: its path in the directory of this
 * executable (/proc/self/exe, else ARGV0) if it is there, else PROG
 * itself for a PATH search.  Either way execvp and posix_spawnp take
 * it.  Returns a new string.  (git runs its dashed programs this way.)
 */
char		*rp_sibling(const char *argv0, const char *prog);

/*
 * A progress line on stderr for long work: "prog: 1200 chunks, 340/s"
 * and, when the total is known, "42%, 0:12 left".  It redraws at most
 * ten times a second, in place (carriage return), and is erased by
 * rp_progress_end.  Programs show it when stderr is a terminal, or with
 * --progress; never with --quiet or --no-progress.  Main thread only.
 */
struct rp_progress {
	int		 on;
	const char	*unit;		/* "documents", "chunks" */
	uint64_t	 count;
	double		 done, total;	/* e.g. bytes read of a file; 0: unknown */
	double		 start, last;
	int		 drawn;
};
void		rp_progress_start(struct rp_progress *p, int on,
		    const char *unit, double total);
/* Count N more units and set DONE (of total), redrawing if due. */
void		rp_progress_add(struct rp_progress *p, uint64_t n, double done);
void		rp_progress_end(struct rp_progress *p);

/*
 * Remove what processes killed mid-write left beside PATH: files named
 * PATH's last component, then INFIX, then a process id (and perhaps
 * "-wal" or another SQLite suffix) whose process is gone.
 */
void		rp_sweep(const char *path, const char *infix);

/*
 * --format: text for people, JSON for programs.  The default (AUTO) is
 * text when stdout is a terminal and JSON lines when it is a pipe or a
 * file, so that scripts get data and people get prose.
 */
enum rp_format { RP_FORMAT_AUTO, RP_FORMAT_TEXT, RP_FORMAT_JSON };
/* "text" or "json" for option NAME; else a usage error (exit 2). */
enum rp_format	rp_parse_format(const char *arg, const char *name);
/* Whether F (resolved against stdout) means JSON. */
int		rp_format_json(enum rp_format f);
/*
 * Whether to colour output: stdout is a terminal, NO_COLOR is unset or
 * empty (no-color.org) and TERM is not "dumb".  GETENV is passed in, as
 * lib/ reads no environment of its own.
 */
int		rp_colour(char *(*getenv_fn)(const char *));

/* Monotonic time in seconds, for rates and timeouts. */
double		rp_now(void);

#define RP_NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define RP_MIN(a, b)	((a) < (b) ? (a) : (b))
#define RP_MAX(a, b)	((a) > (b) ? (a) : (b))

#endif /* RP_H */
