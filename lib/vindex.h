/*
 * vindex: the vector file beside a store, memory-mapped by queries.
 *
 * "<db>-vec" holds what a query needs from the store in a form it can
 * map instead of read (DESIGN.md section 3, 7): the store's vectors as
 * one contiguous float32 matrix, optionally an int8 copy of them (codes
 * and a scale a row, which vec_topk_q8 searches exactly, reading a
 * quarter of the bytes; see vec.h), and the term statistics of the
 * full-text index (in how many chunks each term occurs, and how many
 * chunks there are), so that a query weighs its words without reading
 * the index.  It is derived data: rebuildable from the store at any
 * time, and trusted only when its header names the store (by the
 * store's uuid), the store's current generation (which every write
 * transaction that changes chunks advances), its model and dimension,
 * and the quantisation setting it was built for.  A stale, missing or
 * damaged file is simply not used.
 *
 * Layout: a 4096-byte header; the chunk ids (int64); the id of each
 * chunk's document (int64, for filters); the rows (float32, DIM a row);
 * with int8, the codes (VEC_Q8_STRIDE(DIM) bytes a row) and the scales
 * (float32, one a row); each row's length in tokens (uint32); the
 * postings (8 bytes each: a term's together, by row, then its highest
 * apart, by row, then the weighted count of the term in each of its
 * rows, a float each, which queries never read and an update needs);
 * then the terms (sorted, 48 bytes each) and their text.  Sections
 * start 64-byte aligned, and 2 MiB aligned when they are large, and the
 * file is written in aligned 2 MiB pieces: the page cache then holds it
 * in huge pages where the kernel can (Linux 6.x on ext4, XFS, tmpfs), and
 * a query maps it with a few hundred page-table entries instead of one
 * per 4 KiB.  Written to a temporary file, synced, and renamed into
 * place, so readers see a whole file or none.
 *
 * A write to the store need not build the file again: vindex_update
 * makes the next generation from the last one and what changed (the
 * documents written since, their rows and terms), copying every other
 * row and posting and weighing every posting again for the new average
 * length.  The result is byte for byte the file vindex_write would
 * write (tests/unit/t-vindex.c, tests/rag-index.bats).
 *
 * A struct vindex is one mapping, read-only; it may be shared by threads.
 */
#ifndef VINDEX_H
#define VINDEX_H

#include <stddef.h>
#include <stdint.h>

struct rp_err;
struct vindex;

/* How the vectors are represented beside the float rows. */
enum vindex_quant {
	VINDEX_QUANT_AUTO,	/* setting: int8 above VINDEX_AUTO_BYTES */
	VINDEX_QUANT_NONE,	/* float32 only */
	VINDEX_QUANT_INT8,	/* float32 and int8 */
};

/*
 * Float rows of more bytes than this get an int8 copy under "auto":
 * 22,000 vectors of 384 dimensions, 8,000 of 1024.  Below, the scan
 * takes a fraction of a millisecond either way.
 */
#define VINDEX_AUTO_BYTES	((uint64_t)32 << 20)

/*
 * A posting: a row (an index into vindex_ids) and the term's impact
 * there, f (k1 + 1) / (f + k1 (1 - b + b dl / avgdl)) for the weighted
 * count f of the term in the chunk and its length dl (rag-query(1)).
 */
struct vindex_posting {
	uint32_t	 row;
	float		 impact;
};

/*
 * A term as the file holds it: its count, its postings ALL (every row
 * it is in, sorted by row), and TOP, those of the highest impact, also
 * sorted by row: the same as ALL when it was not capped; else every row
 * missing from TOP has an impact of at most CUTOFF.
 */
struct vindex_term {
	int64_t		 df;
	const struct vindex_posting *all;
	const float	*freq;		/* the weighted count in each of ALL */
	size_t		 nall;
	const struct vindex_posting *top;
	size_t		 ntop;
	float		 cutoff;	/* 0: not capped */
};

struct vindex_meta {
	uint64_t	 generation;
	char		 uuid[40];	/* the store's */
	char		 model[128];
	size_t		 dim;
	size_t		 count;		/* vectors (vindex_write only) */
	int64_t		 nchunks;	/* chunks (vindex_write only) */
	enum vindex_quant quant;	/* the setting */
};

/*
 * Map PATH if it is whole and matches WANT (generation, uuid, model,
 * dim and quant setting; not count and nchunks, which the file gives).
 * Returns NULL when the file is missing, stale or damaged; then ERR
 * says why (code RP_EXIT_OK for missing or stale, which are normal).
 */
struct vindex	*vindex_open(const char *path, const struct vindex_meta *want,
		    struct rp_err *err);
/*
 * The same, but of any generation up to WANT's: a file to update from
 * (vindex_update).
 */
struct vindex	*vindex_open_base(const char *path,
		    const struct vindex_meta *want, struct rp_err *err);
uint64_t	 vindex_generation(const struct vindex *v);
void		 vindex_close(struct vindex *v);	/* NULL is a no-op */
const int64_t	*vindex_ids(const struct vindex *v);
/* The document of each row's chunk (docs.id), as vindex_ids orders them. */
const int64_t	*vindex_docs(const struct vindex *v);
/* Each row's length in tokens (fts_docsize), as vindex_ids orders them. */
const uint32_t	*vindex_lens(const struct vindex *v);
const float	*vindex_rows(const struct vindex *v);
size_t		 vindex_count(const struct vindex *v);
size_t		 vindex_dim(const struct vindex *v);
/* The representation built: VINDEX_QUANT_NONE or VINDEX_QUANT_INT8. */
enum vindex_quant vindex_quant(const struct vindex *v);
/* The int8 codes and scales (NULL without int8). */
const int8_t	*vindex_codes(const struct vindex *v);
const float	*vindex_scales(const struct vindex *v);
/* The number of chunks in the store. */
int64_t		 vindex_nchunks(const struct vindex *v);
/*
 * Float row I (I < vindex_count), read from the file with pread into a
 * buffer of V's, instead of touched through the mapping, and valid until
 * the next call.  A query re-scores a few hundred rows scattered over
 * the float section; through the mapping each would fault in a
 * page-table entry of its own (mostly a 2 MiB one), and kept, they would
 * fault in fresh pages, either of which costs more than reading the row
 * (tests/bench/RESULTS.md).  Past 4 MiB of rows read so, or when the
 * read fails, the row is the mapping's: a process that answers many
 * questions soon has the whole section mapped.  Not for use by two
 * threads at once.
 */
const float	*vindex_row(struct vindex *v, size_t i);
/*
 * In how many chunks TERM[0..N) occurs (0 when in none), found by
 * binary search in the mapped term table: no I/O beyond the pages it
 * touches.  -1 when an entry the search meets is damaged.
 */
int64_t		 vindex_term_df(const struct vindex *v, const char *term,
		    size_t n);
/*
 * Fill T for TERM[0..N) and return 1, or return 0 (T zeroed) when the
 * table lacks it, or -1 (T zeroed) when an entry it meets names text or
 * postings outside the file's (a damaged file; the postings themselves
 * are checked where they are read: bm25_topk).  The postings are lent
 * for the life of V.
 */
int		 vindex_term(const struct vindex *v, const char *term,
		    size_t n, struct vindex_term *t);

/*
 * Called by vindex_write to produce rows in order: fill *ID (the
 * chunk's), *DOC (its document's), ROW (DIM floats) and *LEN (its
 * length in tokens) and return 1, or 0 at the end, or -1 with ERR
 * filled.
 */
typedef int	(*vindex_row_fn)(void *arg, int64_t *id, int64_t *doc,
		    float *row, uint32_t *len, struct rp_err *err);
/*
 * Called by vindex_write for the terms, in any order, each once, after
 * every row: point *TERM at N bytes and fill T (TOP NULL or ALL when not
 * capped; FREQ NULL for none; all lent until the next call); return 1,
 * or 0 at the end, or -1 with ERR filled.
 */
typedef int	(*vindex_term_fn)(void *arg, const char **term, size_t *n,
		    struct vindex_term *t, struct rp_err *err);
/*
 * Write PATH from META (count is what ROW_FN will produce; quant is the
 * setting, resolved here: auto means int8 when the float rows take more
 * than VINDEX_AUTO_BYTES), ROW_FN and TERM_FN.  0, or -1 with ERR filled
 * (RP_EXIT_IO); a failed write leaves the old file, and so does a write
 * that finds PATH already holding a later generation of the same store.
 */
int		 vindex_write(const char *path, const struct vindex_meta *meta,
		    vindex_row_fn row_fn, void *row_arg, vindex_term_fn term_fn,
		    void *term_arg, struct rp_err *err);
/*
 * Write PATH as vindex_write would for the next generation of OLD's
 * store (META: its generation; count and nchunks are worked out here):
 * OLD's rows less those of the documents GONE[0..NGONE) (sorted), plus
 * NADD rows from ROW_FN, ascending by id, and their terms from TERM_FN,
 * ascending in byte order, each posting's row an index into those NADD
 * rows, with its FREQ (df and impacts are worked out here).  Every
 * impact is weighed again for the new average length.  A store keeps
 * every chunk's vector, so the new count is also its chunks.  0; 1 when
 * the representation would change (build it instead); -1 with ERR
 * filled, leaving the old file, also when OLD is found damaged (its
 * chunk ids or terms out of order, say: what the update reads of it is
 * checked, the rows it copies are not).
 */
int		 vindex_update(const char *path, const struct vindex *old,
		    const struct vindex_meta *meta, const int64_t *gone,
		    size_t ngone, size_t nadd, vindex_row_fn row_fn,
		    void *row_arg, vindex_term_fn term_fn, void *term_arg,
		    struct rp_err *err);
/* The representation META's setting gives for its count and dim. */
enum vindex_quant vindex_resolve(const struct vindex_meta *meta);
/* "auto", "none" or "int8"; and back (-1 for another name). */
const char	*vindex_quant_name(enum vindex_quant q);
int		 vindex_quant_parse(const char *name);

#endif /* VINDEX_H */
