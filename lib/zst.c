/* zst: zstd with dictionaries, for chunk texts. */
#include <stdlib.h>
#include <string.h>

#include <zdict.h>
#include <zstd.h>

#include "rp.h"
#include "buf.h"
#include "zst.h"

#define ZST_MAX_OUT	((size_t)1 << 30)	/* a frame never inflates past */

struct zst_dict {
	unsigned	 id;
	ZSTD_CDict	*cdict;
	ZSTD_DDict	*ddict;
};

struct zst {
	int		 level;
	ZSTD_CCtx	*cctx;
	ZSTD_DCtx	*dctx;
	struct zst_dict	*dicts;
	size_t		 ndicts;
};

struct zst *
zst_new(int level)
{
	struct zst *z = xcalloc(1, sizeof(*z));

	z->level = level;
	z->cctx = ZSTD_createCCtx();
	z->dctx = ZSTD_createDCtx();
	if (z->cctx == NULL || z->dctx == NULL) {
		rp_oom();
	}
	return z;
}

void
zst_free(struct zst *z)
{
	if (z == NULL)
		return;
	for (size_t i = 0; i < z->ndicts; i++) {
		ZSTD_freeCDict(z->dicts[i].cdict);
		ZSTD_freeDDict(z->dicts[i].ddict);
	}
	free(z->dicts);
	ZSTD_freeCCtx(z->cctx);
	ZSTD_freeDCtx(z->dctx);
	free(z);
}

static struct zst_dict *
find(struct zst *z, unsigned id)
{
	for (size_t i = 0; i < z->ndicts; i++)
		if (z->dicts[i].id == id)
			return &z->dicts[i];
	return NULL;
}

unsigned
zst_add_dict(struct zst *z, const void *dict, size_t n, struct rp_err *err)
{
	struct zst_dict d;
	unsigned id;

	id = ZDICT_getDictID(dict, n);
	if (id == 0) {
		rp_err_set(err, RP_EXIT_DATA, "not a zstd dictionary");
		return 0;
	}
	if (find(z, id) != NULL)
		return id;
	d.id = id;
	d.cdict = ZSTD_createCDict(dict, n, z->level);
	d.ddict = ZSTD_createDDict(dict, n);
	if (d.cdict == NULL || d.ddict == NULL) {
		ZSTD_freeCDict(d.cdict);
		ZSTD_freeDDict(d.ddict);
		rp_err_set(err, RP_EXIT_DATA, "zstd dictionary %u is unusable",
		    id);
		return 0;
	}
	z->dicts = xreallocarray(z->dicts, z->ndicts + 1, sizeof(d));
	z->dicts[z->ndicts++] = d;
	return id;
}

int
zst_compress(struct zst *z, unsigned dict_id, const void *src, size_t n,
    struct buf *out, struct rp_err *err)
{
	struct zst_dict *d = NULL;
	size_t bound, r;

	if (dict_id != 0 && (d = find(z, dict_id)) == NULL)
		return rp_err_set(err, RP_EXIT_FAIL,
		    "zstd dictionary %u is not loaded", dict_id);
	bound = ZSTD_compressBound(n);
	buf_reset(out);
	if (buf_grow(out, bound) != 0)
		return rp_err_set(err, RP_EXIT_DATA,
		    "text of %zu bytes is too large to compress", n);
	if (d != NULL)
		r = ZSTD_compress_usingCDict(z->cctx, out->data, bound, src, n,
		    d->cdict);
	else
		r = ZSTD_compressCCtx(z->cctx, out->data, bound, src, n,
		    z->level);
	if (ZSTD_isError(r))
		return rp_err_set(err, RP_EXIT_FAIL, "zstd: %s",
		    ZSTD_getErrorName(r));
	out->len = r;
	out->data[r] = '\0';
	return 0;
}

int
zst_decompress(struct zst *z, const void *src, size_t n, struct buf *out,
    struct rp_err *err)
{
	unsigned long long size;
	struct zst_dict *d = NULL;
	unsigned id;
	size_t r;

	size = ZSTD_getFrameContentSize(src, n);
	if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
	    size > ZST_MAX_OUT)
		return rp_err_set(err, RP_EXIT_DATA, "corrupt zstd frame");
	id = ZSTD_getDictID_fromFrame(src, n);
	if (id != 0 && (d = find(z, id)) == NULL)
		return rp_err_set(err, RP_EXIT_DATA,
		    "zstd dictionary %u is missing", id);
	buf_reset(out);
	if (buf_grow(out, (size_t)size) != 0)
		return rp_err_set(err, RP_EXIT_DATA, "zstd frame too large");
	if (d != NULL)
		r = ZSTD_decompress_usingDDict(z->dctx, out->data, (size_t)size,
		    src, n, d->ddict);
	else
		r = ZSTD_decompressDCtx(z->dctx, out->data, (size_t)size, src, n);
	if (ZSTD_isError(r) || r != size)
		return rp_err_set(err, RP_EXIT_DATA, "corrupt zstd frame: %s",
		    ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short");
	out->len = r;
	out->data[r] = '\0';
	return 0;
}

unsigned
zst_frame_dict(const void *src, size_t n)
{
	return ZSTD_getDictID_fromFrame(src, n);
}

size_t
zst_train(void *dict, size_t cap, const void *samples, const size_t *sizes,
    unsigned nsamples)
{
	size_t r;

	r = ZDICT_trainFromBuffer(dict, cap, samples, sizes, nsamples);
	return ZDICT_isError(r) ? 0 : r;
}
