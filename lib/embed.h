/*
 * embed: the built-in embedder, and embedding values in records.
 *
 * The local embedder needs no model file and no network, and gives the
 * same vector for the same text on every machine.  It is lexical, not
 * semantic: a text's features are hashed into a fixed dimension with a
 * sign (the "hashing trick"):
 *
 *   - word stems (Porter), English stop words left out;
 *   - pairs of neighbouring stems, for phrases ("boundary layer");
 *   - character 3- to 5-grams of each word, for morphology and typos
 *     ("aerofoil" is near "airfoil");
 *   - CJK text as overlapping character pairs.
 *
 * Each feature counts 1 + ln(tf) times its kind's weight, and the vector
 * is L2-normalised, so a dot product is a cosine.  The model name
 * carries a version and the dimension ("local:hash-v1-384"): any change
 * to the features makes a new version, so a store never mixes vectors
 * of two versions.
 *
 * Pure functions; thread-safe.
 */
#ifndef EMBED_H
#define EMBED_H

#include <stddef.h>

struct buf;
struct rp_err;

#define EMBED_LOCAL_PREFIX	"local:hash-v1-"
#define EMBED_LOCAL_DIM		1024
#define EMBED_MAX_DIM		65536

/*
 * If MODEL names the local embedder ("local:hash-v1-N"), set *DIM to N
 * and return 1; else 0.
 */
int	embed_local_model(const char *model, size_t *dim);
/* Embed TEXT[0..N) (valid UTF-8) into V[0..DIM), L2-normalised. */
void	embed_local(const char *text, size_t n, float *v, size_t dim);
/*
 * The same, keeping its tables in WS between texts, emptied as they are
 * read instead of allocated and zeroed for each (an eighth of the work
 * of embedding a chunk).  A workspace is for one thread at a time.
 */
struct embed_ws;
struct embed_ws	*embed_ws_new(void);
void	embed_ws_free(struct embed_ws *ws);	/* NULL is a no-op */
void	embed_local_ws(struct embed_ws *ws, const char *text, size_t n,
	    float *v, size_t dim);
/*
 * The weight of a term (a word stem, or a CJK pair) in a question; 1 is
 * neutral.  embed_local_query multiplies each of a word's features by
 * it, so that rare words count for more, as in TF-IDF.
 */
typedef float	(*embed_weight_fn)(void *arg, const char *term, size_t n);
/*
 * Embed question TEXT as embed_local does, with each term's features
 * weighted by WEIGHT (when not NULL).  Documents are embedded without
 * weights; weighting only the question gives the dot product the shape
 * of TF-IDF without making a document's vector depend on a collection.
 */
void	embed_local_query(const char *text, size_t n, float *v, size_t dim,
	    embed_weight_fn weight, void *arg);

/*
 * Append V[0..DIM) to OUT as a JSON array of the shortest decimals that
 * read back as the same float32 values.
 */
void	embed_json(struct buf *out, const float *v, size_t dim);
/* Append V[0..DIM) to OUT as base64 of little-endian float32. */
void	embed_b64(struct buf *out, const float *v, size_t dim);
/*
 * Decode base64 S[0..N) of little-endian float32 values into a new
 * array (caller frees) of *DIM values.  NULL with ERR filled
 * (RP_EXIT_DATA) for bad base64 or a length that is not whole floats.
 */
float	*embed_from_b64(const char *s, size_t n, size_t *dim,
	    struct rp_err *err);

#endif /* EMBED_H */
