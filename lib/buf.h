/*
 * buf: a growable byte buffer with a cap.
 *
 * Invariants: when data is not NULL, data[len] == '\0' (so the contents
 * can be used as a C string when they hold no NUL), len < cap, and len
 * never exceeds max.  A zeroed struct buf (or BUF_INIT) is a valid empty
 * buffer with no cap.  Appending past max fails with -1 and leaves the
 * buffer as it was, so a reader can report one over-long record and go on.
 *
 * Thread rules: a buf is owned by one thread at a time.
 */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;	/* most bytes it may hold; 0 means no cap */
};

#define BUF_INIT	{ NULL, 0, 0, 0 }

/* Make B empty with cap MAX (0: none).  Allocates nothing. */
void	buf_init(struct buf *b, size_t max);
/* Free the contents; B is empty afterwards and keeps its cap. */
void	buf_release(struct buf *b);
/* Empty B but keep its memory. */
void	buf_reset(struct buf *b);
/* Make room for N more bytes: 0, or -1 if that would pass the cap. */
int	buf_grow(struct buf *b, size_t n);
/*
 * Make room for N more bytes exactly (no doubling), for a size known
 * in advance: 0, or -1 if that would pass the cap.
 */
int	buf_reserve(struct buf *b, size_t n);
/* Append: 0, or -1 (nothing appended) if the cap would be passed. */
int	buf_add(struct buf *b, const void *p, size_t n);
int	buf_addc(struct buf *b, int c);
int	buf_adds(struct buf *b, const char *s);
int	buf_addf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Shorten to LEN bytes (LEN <= b->len). */
void	buf_truncate(struct buf *b, size_t len);
/*
 * The contents as a NUL-terminated string, "" when empty; lent until
 * the next change to B.
 */
const char *buf_str(const struct buf *b);
/* Move the contents out (caller frees); B is empty afterwards. */
char	*buf_detach(struct buf *b, size_t *lenp);

#endif /* BUF_H */
