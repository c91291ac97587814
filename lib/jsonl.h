/*
 * jsonl: JSON lines in and out, and the fields of ragpipe records.
 *
 * A struct lines reads delimited lines ("\n" or NUL) from a FILE with a
 * cap on their length; an over-long line is reported once and skipped
 * up to the next delimiter, so one bad record never costs the others.
 * A struct jsonl parses each line as one JSON object (cJSON), naming
 * "<stdin>:N" or "file:N" in its errors.  Blank lines are skipped, a
 * trailing "\r" and a leading UTF-8 byte order mark are dropped.
 *
 * Records are cJSON objects; DESIGN.md section 2 documents the fields.
 * Thread rules: a reader belongs to one thread.  jsonl_write may be
 * called from any thread holding the stream.
 */
#ifndef JSONL_H
#define JSONL_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

struct rp_err;

#define JSONL_MAX_LINE	((size_t)64 << 20)	/* bytes, a line */

struct lines;
struct jsonl;

/*
 * Read lines ended by DELIM ('\n' or '\0') from F (not closed by us),
 * named NAME in messages ("<stdin>" for stdin), at most MAX bytes each.
 */
struct lines	*lines_open(FILE *f, const char *name, size_t max, int delim);
void		 lines_close(struct lines *r);	/* NULL is a no-op */
/*
 * Read the next line.  Returns 1 and lends the line (without its
 * delimiter, NUL-terminated) in *LINE and *LEN until the next call; 0 at
 * end of input; -1 with ERR filled when the line was too long
 * (RP_EXIT_DATA: the line is skipped and reading may go on) or reading
 * failed (RP_EXIT_IO: stop).
 */
int		 lines_next(struct lines *r, char **line, size_t *len,
		    struct rp_err *err);
/*
 * 1 when the next call to lines_next would not wait for input (a whole
 * line is buffered, or the input has data or is at its end), waiting up
 * to MS milliseconds for that (0: not at all); else 0.  For a program
 * that should finish its work rather than block with it.
 */
int		 lines_ready(const struct lines *r, int ms);
/* The number of the line last returned (1-based). */
unsigned long	 lines_lineno(const struct lines *r);
const char	*lines_name(const struct lines *r);

struct jsonl	*jsonl_open(FILE *f, const char *name, size_t max);
void		 jsonl_close(struct jsonl *r);	/* NULL is a no-op */
/*
 * Read the next record.  Returns 1 and gives the caller *OBJ (free with
 * cJSON_Delete); 0 at end of input; -1 with ERR filled: RP_EXIT_DATA for
 * a line that is too long, not JSON or not an object (it is skipped and
 * reading may go on), RP_EXIT_IO when reading failed (stop).
 */
int		 jsonl_next(struct jsonl *r, cJSON **obj, struct rp_err *err);
/* As lines_ready, for the next record. */
int		 jsonl_ready(const struct jsonl *r, int ms);
/* "name:line" of the record last read; lent until the next call. */
const char	*jsonl_where(struct jsonl *r);
unsigned long	 jsonl_lineno(const struct jsonl *r);

/*
 * Parse one line S[0..N) as a JSON object.  Returns it (caller frees),
 * or NULL with a short reason in *WHY.
 */
cJSON		*jsonl_parse(const char *s, size_t n, const char **why);

/*
 * Write OBJ to F as one line.  0, or -1 on a write error (see
 * rp_write).  Not thread-safe on the same F unless the caller locks.
 */
int		 jsonl_write(FILE *f, const cJSON *obj);

/* Field access.  The getters lend; NULL/0 when absent or of another type. */
const char	*jsonl_str(const cJSON *o, const char *key);
int		 jsonl_num(const cJSON *o, const char *key, double *v);
/*
 * Check chunk record REC as rag-index takes it (ragpipe-format(5)): a
 * "nchunks" that is a whole number from 0 to 1e9 (into *NCHUNKS; -1
 * when absent), a string "text" (which only a record of an empty
 * document, "nchunks":0, may lack), and a number "chunk" if any.  0, or
 * -1 with ERR filled (RP_EXIT_DATA, "what", no place).
 */
int		 jsonl_chunk_check(const cJSON *rec, long *nchunks,
		    struct rp_err *err);
/*
 * The vector of record REC ("embedding", an array of 1 to EMBED_MAX_DIM
 * finite numbers, or "embedding_b64", base64 of little-endian float32)
 * into *OUT, a new array of *DIM floats (caller frees), and its "model"
 * (lent by REC) into *MODEL.  A record with neither field gives 0 with
 * *OUT and *MODEL NULL.  -1 with ERR filled (RP_EXIT_DATA) for a bad
 * vector, or one without a model.
 */
int		 jsonl_embedding(const cJSON *rec, float **out,
		    const char **model, size_t *dim, struct rp_err *err);

/* Set KEY (replacing any value of KEY). */
void		 jsonl_set_str(cJSON *o, const char *key, const char *v);
void		 jsonl_set_num(cJSON *o, const char *key, double v);
/* Set KEY to ITEM, which is stolen. */
void		 jsonl_set(cJSON *o, const char *key, cJSON *item);

#endif /* JSONL_H */
