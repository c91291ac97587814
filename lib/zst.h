/*
 * zst: zstd compression of chunk texts, with trained dictionaries.
 *
 * Many small texts compress poorly alone; a dictionary trained on a
 * sample of them gains 25-45% (../shared/notes/interfaces.md section 5).
 * A frame names the dictionary it needs in its header, so decompression
 * finds it without being told, and dictionary-less frames always work.
 *
 * A struct zst holds one compression and one decompression context and
 * the dictionaries added to it; it belongs to one thread.
 */
#ifndef ZST_H
#define ZST_H

#include <stddef.h>

struct buf;
struct rp_err;
struct zst;

#define ZST_LEVEL	3	/* above 3 costs much time for little gain */

struct zst	*zst_new(int level);
void		 zst_free(struct zst *z);	/* NULL is a no-op */
/*
 * Add dictionary DICT[0..N) (copied) for use by zst_compress with its
 * id, and by zst_decompress for frames that name it.  Returns its zstd
 * dictionary id (> 0), or 0 with ERR filled if DICT is not usable.
 */
unsigned	 zst_add_dict(struct zst *z, const void *dict, size_t n,
		    struct rp_err *err);
/*
 * Replace OUT's contents with SRC[0..N) compressed, using dictionary
 * DICT_ID (0: none; else an id zst_add_dict returned).  0 or -1.
 */
int		 zst_compress(struct zst *z, unsigned dict_id, const void *src,
		    size_t n, struct buf *out, struct rp_err *err);
/*
 * Replace OUT's contents with the decompressed frame SRC[0..N).  Fails
 * with RP_EXIT_DATA for a corrupt frame or an unknown dictionary.
 */
int		 zst_decompress(struct zst *z, const void *src, size_t n,
		    struct buf *out, struct rp_err *err);
/* The dictionary id a frame needs (0: none). */
unsigned	 zst_frame_dict(const void *src, size_t n);
/*
 * Train a dictionary of at most CAP bytes into DICT from NSAMPLES
 * samples laid end to end in SAMPLES with their SIZES.  Returns its
 * size, or 0 when training failed (then go on without one).
 */
size_t		 zst_train(void *dict, size_t cap, const void *samples,
		    const size_t *sizes, unsigned nsamples);

#endif /* ZST_H */
