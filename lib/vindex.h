/*
 * vindex: the vector file beside a store, memory-mapped by queries.
 *
 * "<db>-vec" holds a copy of the store's vectors as one contiguous
 * float32 matrix, so a query scans memory instead of reading rows
 * (DESIGN.md section 3, 7).  It is derived data: rebuildable from the
 * store at any time, and trusted only when its header names the store
 * (by the store's uuid) and the store's current vector generation, which
 * every write transaction that changes vectors advances.  A stale,
 * missing or damaged file is simply not used.
 *
 * Layout: a 4096-byte header, then the chunk ids (int64), then the rows
 * (float32, DIM a row), 64-byte aligned.  Written to a temporary file,
 * synced, and renamed into place, so readers see a whole file or none.
 *
 * A struct vindex is one mapping, read-only; it may be shared by threads.
 */
#ifndef VINDEX_H
#define VINDEX_H

#include <stddef.h>
#include <stdint.h>

struct rp_err;
struct vindex;

struct vindex_meta {
	uint64_t	 generation;
	char		 uuid[40];	/* the store's */
	char		 model[128];
	size_t		 dim;
	size_t		 count;
};

/*
 * Map PATH if it is whole and matches WANT (generation, uuid, model,
 * dim).  Returns NULL when the file is missing, stale or damaged; then
 * ERR says why (code RP_EXIT_OK for missing or stale, which are normal).
 */
struct vindex	*vindex_open(const char *path, const struct vindex_meta *want,
		    struct rp_err *err);
void		 vindex_close(struct vindex *v);	/* NULL is a no-op */
const int64_t	*vindex_ids(const struct vindex *v);
const float	*vindex_rows(const struct vindex *v);
size_t		 vindex_count(const struct vindex *v);
size_t		 vindex_dim(const struct vindex *v);

/*
 * Called by vindex_write to produce rows in order: fill *ID and ROW
 * (DIM floats) and return 1, or 0 at the end, or -1 with ERR filled.
 */
typedef int	(*vindex_row_fn)(void *arg, int64_t *id, float *row,
		    struct rp_err *err);
/*
 * Write PATH from META (count is what FN will produce) and FN.  0, or -1
 * with ERR filled (RP_EXIT_IO); a failed write leaves the old file, and
 * so does a write that finds PATH already holding a later generation of
 * the same store.
 */
int		 vindex_write(const char *path, const struct vindex_meta *meta,
		    vindex_row_fn fn, void *arg, struct rp_err *err);

#endif /* VINDEX_H */
