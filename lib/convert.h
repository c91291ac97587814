/*
 * convert: documents that other programs turn into text.
 *
 * PDF goes through pdftotext (Debian's poppler-utils), DOCX, ODT, EPUB
 * and RTF through pandoc, when they are installed; users add their own
 * rules as "EXT=COMMAND", where COMMAND is run by /bin/sh with the
 * file's path as "$1" and writes UTF-8 text on its standard output
 * (aichat's loaders work the same way).  A user's rule for an extension
 * replaces the built-in one.
 *
 * A converter runs in its own process group with a time limit and a cap
 * on its output; its standard error is kept (capped) for the message
 * when it fails.  Nothing here reads the environment: PATH is searched
 * by the caller's environment through execvp.
 *
 * Thread rules: a struct convert is read-only once built; runs may go
 * on from several threads.
 */
#ifndef CONVERT_H
#define CONVERT_H

#include <stddef.h>

struct buf;
struct rp_err;
struct convert;

struct convert_rule {
	char		*ext;		/* lower case, no dot: "pdf" */
	char		*cmd;		/* for /bin/sh -c; "$1" is the path */
	const char	*program;	/* built-ins: the program to look for */
	const char	*package;	/* built-ins: the Debian package */
	int		 format;	/* enum extract_format of the output */
	int		 pages;		/* form feeds separate pages */
};

/* The built-in rules; add users' with convert_add. */
struct convert	*convert_new(void);
void		 convert_free(struct convert *c);	/* NULL is a no-op */
/*
 * Add a rule from SPEC, "EXT=COMMAND" (EXT without a dot, any case);
 * "EXT=" removes any converter for EXT.  0, or -1 with ERR filled
 * (RP_EXIT_USAGE) for a malformed SPEC.
 */
int		 convert_add(struct convert *c, const char *spec,
		    struct rp_err *err);
/*
 * The rule for PATH's extension, or NULL (none); lent by C.  *OFF (when
 * not NULL) says whether a rule "EXT=" turned the extension off: such
 * files are to be skipped, not read as text.
 */
const struct convert_rule *convert_find(const struct convert *c,
		    const char *path, int *off);
/*
 * Run RULE on PATH with a limit of TIMEOUT seconds, replacing OUT's
 * contents with at most MAX bytes of its output.  0, or -1 with ERR
 * filled: RP_EXIT_UNAVAIL when the converter's program is missing (the
 * message names the package to install), RP_EXIT_DATA when it fails,
 * times out or writes more than MAX bytes (the file is at fault).
 */
int		 convert_run(const struct convert_rule *rule, const char *path,
		    size_t max, double timeout, struct buf *out,
		    struct rp_err *err);

#endif /* CONVERT_H */
