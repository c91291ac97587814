/* vindex: the memory-mapped vector file beside a store. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rp.h"
#include "buf.h"
#include "vindex.h"

#define MAGIC		"RAGPVEC1"
#define HEADER		4096
#define ALIGN(n)	(((n) + 63) & ~(uint64_t)63)

struct header {
	char		magic[8];
	uint32_t	version;
	uint32_t	dim;
	uint64_t	count;
	uint64_t	generation;
	uint64_t	ids_off;
	uint64_t	rows_off;
	uint64_t	size;
	char		uuid[40];
	char		model[128];
};

struct vindex {
	void		*map;
	size_t		 len;
	const struct header *h;
};

static void
layout(struct header *h, const struct vindex_meta *m)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, MAGIC, 8);
	h->version = 1;
	h->dim = (uint32_t)m->dim;
	h->count = m->count;
	h->generation = m->generation;
	h->ids_off = HEADER;
	h->rows_off = ALIGN(HEADER + 8 * (uint64_t)m->count);
	h->size = h->rows_off + 4 * (uint64_t)m->count * m->dim;
	snprintf(h->uuid, sizeof(h->uuid), "%s", m->uuid);
	snprintf(h->model, sizeof(h->model), "%s", m->model);
}

struct vindex *
vindex_open(const char *path, const struct vindex_meta *want,
    struct rp_err *err)
{
	struct vindex *v;
	struct header h;
	struct stat sb;
	void *map;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rp_err_set(err, errno == ENOENT ? RP_EXIT_OK : RP_EXIT_IO,
		    "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) != 0 || (size_t)sb.st_size < HEADER ||
	    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, MAGIC, 8) != 0 || h.version != 1 ||
	    h.size != (uint64_t)sb.st_size || h.ids_off != HEADER ||
	    h.dim == 0 || h.rows_off != ALIGN(HEADER + 8 * h.count) ||
	    h.size != h.rows_off + 4 * h.count * h.dim) {
		close(fd);
		rp_err_set(err, RP_EXIT_OK, "%s: damaged; it will be rebuilt",
		    path);
		return NULL;
	}
	h.uuid[sizeof(h.uuid) - 1] = h.model[sizeof(h.model) - 1] = '\0';
	if (h.generation != want->generation || h.dim != want->dim ||
	    h.count != want->count || strcmp(h.uuid, want->uuid) != 0 ||
	    strcmp(h.model, want->model) != 0) {
		close(fd);
		rp_err_set(err, RP_EXIT_OK, "%s: stale", path);
		return NULL;
	}
	map = mmap(NULL, (size_t)h.size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		rp_err_set(err, RP_EXIT_IO, "%s: mmap: %s", path,
		    strerror(errno));
		return NULL;
	}
	v = xcalloc(1, sizeof(*v));
	v->map = map;
	v->len = (size_t)h.size;
	v->h = map;
	return v;
}

void
vindex_close(struct vindex *v)
{
	if (v == NULL)
		return;
	munmap(v->map, v->len);
	free(v);
}

const int64_t *
vindex_ids(const struct vindex *v)
{
	return (const int64_t *)((const char *)v->map + v->h->ids_off);
}

const float *
vindex_rows(const struct vindex *v)
{
	return (const float *)((const char *)v->map + v->h->rows_off);
}

size_t
vindex_count(const struct vindex *v)
{
	return (size_t)v->h->count;
}

size_t
vindex_dim(const struct vindex *v)
{
	return v->h->dim;
}

static int
write_all(int fd, const void *p, size_t n, off_t off)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = pwrite(fd, c, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w, n -= (size_t)w, off += w;
	}
	return 0;
}

/*
 * Does PATH hold the vectors of a later version of the same store than
 * M?  Builders working from different versions of a store (a query that
 * began before a commit, another after) race to rename their files into
 * place; the later version should win.
 */
static int
newer(const char *path, const struct vindex_meta *m)
{
	struct header h;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	rc = pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    memcmp(h.magic, MAGIC, 8) == 0 && h.generation > m->generation &&
	    strncmp(h.uuid, m->uuid, sizeof(h.uuid)) == 0;
	close(fd);
	return rc;
}

int
vindex_write(const char *path, const struct vindex_meta *m, vindex_row_fn fn,
    void *arg, struct rp_err *err)
{
	struct header h;
	char *tmp;
	float *row = NULL;
	int64_t id, *ids = NULL;
	size_t i = 0;
	off_t off;
	int fd, rc;

	layout(&h, m);
	tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rp_err_set(err, RP_EXIT_IO, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	row = xreallocarray(NULL, m->dim, sizeof(*row));
	ids = xreallocarray(NULL, m->count + 1, sizeof(*ids));
	off = (off_t)h.rows_off;
	while ((rc = fn(arg, &id, row, err)) > 0) {
		if (i == m->count) {
			rp_err_set(err, RP_EXIT_IO, "%s: more vectors than "
			    "counted", path);
			goto fail;
		}
		ids[i++] = id;
		if (write_all(fd, row, m->dim * sizeof(*row), off) != 0)
			goto ioerr;
		off += (off_t)(m->dim * sizeof(*row));
	}
	if (rc < 0)
		goto fail;
	if (i != m->count) {
		rp_err_set(err, RP_EXIT_IO, "%s: %zu vectors, %zu counted",
		    path, i, m->count);
		goto fail;
	}
	if (write_all(fd, ids, i * sizeof(*ids), HEADER) != 0 ||
	    ftruncate(fd, (off_t)h.size) != 0 ||
	    write_all(fd, &h, sizeof(h), 0) != 0 || fsync(fd) != 0)
		goto ioerr;
	if (close(fd) != 0) {
		fd = -1;
		goto ioerr;
	}
	fd = -1;
	if (newer(path, m))
		unlink(tmp);
	else if (rename(tmp, path) != 0)
		goto ioerr;
	free(row);
	free(ids);
	free(tmp);
	rp_sweep(path, ".tmp.");
	return 0;
ioerr:
	rp_err_set(err, RP_EXIT_IO, "%s: %s", tmp, strerror(errno));
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(row);
	free(ids);
	free(tmp);
	return -1;
}
