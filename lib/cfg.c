/* cfg: flags, then environment, then the config file, then defaults. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rp.h"
#include "buf.h"
#include "cfg.h"

/* The sources a value can be set by, in rising order of priority. */
enum { SET_FILE, SET_ENV, SET_FLAG, NSET };

struct cfg {
	char		*val[CFG_NKEYS][NSET];
	char		*where[CFG_NKEYS][NSET];	/* for messages */
	char		*path;		/* the config file */
	char		*home;		/* for "~/" in the file */
	char		*db_default;
	char		**warn;
	size_t		 nwarn;
};

static const struct key {
	const char	*name;
	const char	*env;
	int		 secret;
} keys[CFG_NKEYS] = {
	[CFG_DB] = { "db", "RAG_DB", 0 },
	[CFG_EMBED_PROVIDER] = { "embed_provider", "RAG_EMBED_PROVIDER", 0 },
	[CFG_EMBED_MODEL] = { "embed_model", "RAG_EMBED_MODEL", 0 },
	[CFG_ANSWER_PROVIDER] = { "answer_provider", "RAG_ANSWER_PROVIDER",
	    0 },
	[CFG_ANSWER_MODEL] = { "answer_model", "RAG_ANSWER_MODEL", 0 },
	[CFG_OPENAI_API_KEY] = { "openai_api_key", "OPENAI_API_KEY", 1 },
	[CFG_OPENAI_BASE_URL] = { "openai_base_url", "OPENAI_BASE_URL", 0 },
	[CFG_OLLAMA_HOST] = { "ollama_host", "OLLAMA_HOST", 0 },
	[CFG_TIMEOUT] = { "timeout", "RAG_TIMEOUT", 0 },
};

/* Default models by provider (README: "Model servers"). */
static const struct {
	const char	*provider, *embed, *answer;
} models[] = {
	{ "local",	"local:hash-v1-1024",		NULL },
	{ "extractive",	NULL,				"extractive" },
	{ "openai",	"text-embedding-3-small",	"gpt-4o-mini" },
	{ "ollama",	"nomic-embed-text",		"llama3.2" },
};

struct cfg *
cfg_new(void)
{
	return xcalloc(1, sizeof(struct cfg));
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
cfg_free(struct cfg *c)
{
	if (c == NULL)
		return;
	for (int k = 0; k < CFG_NKEYS; k++)
		for (int s = 0; s < NSET; s++) {
			wipe_free(c->val[k][s]);
			free(c->where[k][s]);
		}
	for (size_t i = 0; i < c->nwarn; i++)
		free(c->warn[i]);
	free(c->warn);
	free(c->path);
	free(c->home);
	free(c->db_default);
	free(c);
}

static void
put(struct cfg *c, int k, int src, const char *v, size_t n, char *where)
{
	wipe_free(c->val[k][src]);
	free(c->where[k][src]);
	c->val[k][src] = n > 0 ? xstrndup(v, n) : NULL;
	c->where[k][src] = where;
}

static void
warn(struct cfg *c, char *msg)
{
	c->warn = xreallocarray(c->warn, c->nwarn + 1, sizeof(*c->warn));
	c->warn[c->nwarn++] = msg;
}

static int
find_key(const char *name, size_t n)
{
	for (int k = 0; k < CFG_NKEYS; k++)
		if (strlen(keys[k].name) == n &&
		    memcmp(keys[k].name, name, n) == 0)
			return k;
	return -1;
}

static int
blank(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/*
 * One line P[0..N) of the file, number LINE, into the pending values
 * V (and their lines in AT).  0, 1 for a warning in *WARNMSG, or -1.
 */
static int
parse_line(const char *p, size_t n, const char *path, unsigned long line,
    char **v, size_t *vn, unsigned long *at, char **warnmsg,
    struct rp_err *err)
{
	const char *eq, *key, *val;
	size_t kn, valn;
	char s[64], *name;
	int k;

	while (n > 0 && blank(*p))
		p++, n--;
	while (n > 0 && blank(p[n - 1]))
		n--;
	if (n == 0 || *p == '#')
		return 0;
	if (memchr(p, '\0', n) != NULL)
		return rp_err_set(err, RP_EXIT_USAGE, "%s:%lu: a NUL byte",
		    path, line);
	if ((eq = memchr(p, '=', n)) == NULL)
		return rp_err_set(err, RP_EXIT_USAGE, "%s:%lu: no '=' "
		    "(key = value expected)", path, line);
	key = p;
	kn = (size_t)(eq - p);
	while (kn > 0 && blank(key[kn - 1]))
		kn--;
	if (kn == 0)
		return rp_err_set(err, RP_EXIT_USAGE, "%s:%lu: no key before "
		    "'='", path, line);
	val = eq + 1;
	valn = (size_t)(p + n - val);
	while (valn > 0 && blank(*val))
		val++, valn--;
	if (valn >= 2 && val[0] == '"' && val[valn - 1] == '"')
		val++, valn -= 2;
	if ((k = find_key(key, kn)) < 0) {
		name = xstrndup(key, kn);
		rp_sanitize(s, sizeof(s), name);
		free(name);
		*warnmsg = xasprintf("%s:%lu: unknown key '%s' (ignored)",
		    path, line, s);
		return 1;
	}
	free(v[k]);
	v[k] = xstrndup(val, valn);
	vn[k] = valn;
	at[k] = line;
	return 0;
}

int
cfg_parse(struct cfg *c, const char *text, size_t n, const char *path,
    int *secrets, struct rp_err *err)
{
	char *v[CFG_NKEYS] = { NULL }, *wmsg = NULL, **warns = NULL;
	size_t vn[CFG_NKEYS] = { 0 }, nwarns = 0, len;
	unsigned long at[CFG_NKEYS] = { 0 }, line = 0;
	const char *p = text, *end = text + n, *nl;
	int rc = 0;

	if (secrets != NULL)
		*secrets = 0;
	while (p < end && rc >= 0) {
		line++;
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (len > CFG_MAX_LINE)
			rc = rp_err_set(err, RP_EXIT_USAGE, "%s:%lu: line "
			    "longer than %d bytes", path, line, CFG_MAX_LINE);
		else if ((rc = parse_line(p, len, path, line, v, vn, at, &wmsg,
		    err)) == 1) {
			/* Warnings wait until the whole text is good. */
			warns = xreallocarray(warns, nwarns + 1,
			    sizeof(*warns));
			warns[nwarns++] = wmsg;
		}
		p += len + (nl != NULL);
	}
	for (int k = 0; k < CFG_NKEYS; k++) {
		if (rc >= 0 && v[k] != NULL) {
			if (k == CFG_DB && strncmp(v[k], "~/", 2) == 0 &&
			    c->home != NULL) {
				char *x = xasprintf("%s%s", c->home, v[k] + 1);

				free(v[k]);
				v[k] = x;
				vn[k] = strlen(x);
			}
			put(c, k, SET_FILE, v[k], vn[k], xasprintf("%s:%lu",
			    path, at[k]));
			if (keys[k].secret && vn[k] > 0 && secrets != NULL)
				*secrets = 1;
		}
		wipe_free(v[k]);
	}
	for (size_t i = 0; i < nwarns; i++) {
		if (rc >= 0)
			warn(c, warns[i]);
		else
			free(warns[i]);
	}
	free(warns);
	return rc < 0 ? -1 : 0;
}

/* Forget every value the file gave. */
static void
drop_file(struct cfg *c)
{
	for (int k = 0; k < CFG_NKEYS; k++)
		put(c, k, SET_FILE, NULL, 0, NULL);
}

int
cfg_load_file(struct cfg *c, const char *path, struct rp_err *err)
{
	struct buf b = BUF_INIT;
	struct stat sb;
	char chunk[4096];
	ssize_t got;
	int fd, secrets, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return rp_err_set(err, RP_EXIT_IO, "%s: %s", path,
		    strerror(errno));
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return rp_err_set(err, RP_EXIT_IO, "%s: not a regular file",
		    path);
	}
	buf_init(&b, CFG_MAX_FILE);
	while ((got = read(fd, chunk, sizeof(chunk))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = rp_err_set(err, RP_EXIT_IO, "%s: %s", path,
			    strerror(errno));
			break;
		}
		if (buf_add(&b, chunk, (size_t)got) != 0) {
			rc = rp_err_set(err, RP_EXIT_USAGE, "%s: larger than "
			    "%d bytes", path, CFG_MAX_FILE);
			break;
		}
	}
	explicit_bzero(chunk, sizeof(chunk));
	close(fd);
	if (rc == 0)
		rc = cfg_parse(c, buf_str(&b), b.len, path, &secrets, err);
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	buf_release(&b);
	if (rc == 0 && secrets && (sb.st_mode & (S_IRWXG | S_IRWXO))) {
		drop_file(c);
		warn(c, xasprintf("%s: holds an API key but others may read or "
		    "change it (mode %04o); not used: chmod 600 %s", path,
		    (unsigned)(sb.st_mode & 07777), path));
	}
	return rc;
}

int
cfg_load(struct cfg *c, char *(*getenv_fn)(const char *), struct rp_err *err)
{
	const char *v, *home, *xdg;

	home = getenv_fn("HOME");
	free(c->home);
	c->home = home != NULL && *home == '/' ? xstrdup(home) : NULL;
	for (int k = 0; k < CFG_NKEYS; k++) {
		v = getenv_fn(keys[k].env);
		put(c, k, SET_ENV, v, v != NULL ? strlen(v) : 0,
		    xstrdup(keys[k].env));
	}
	/* Relative XDG paths are invalid and ignored (basedir spec). */
	free(c->path);
	free(c->db_default);
	c->path = c->db_default = NULL;
	if ((xdg = getenv_fn("XDG_CONFIG_HOME")) != NULL && *xdg == '/')
		c->path = xasprintf("%s/ragpipe/config", xdg);
	else if (c->home != NULL)
		c->path = xasprintf("%s/.config/ragpipe/config", c->home);
	if ((xdg = getenv_fn("XDG_DATA_HOME")) != NULL && *xdg == '/')
		c->db_default = xasprintf("%s/ragpipe/store.db", xdg);
	else if (c->home != NULL)
		c->db_default = xasprintf("%s/.local/share/ragpipe/store.db",
		    c->home);
	if (c->path == NULL)
		return 0;
	return cfg_load_file(c, c->path, err);
}

int
cfg_set_flag(struct cfg *c, enum cfg_key k, const char *v, const char *flag)
{
	if (keys[k].secret)
		return -1;
	put(c, k, SET_FLAG, v, v != NULL ? strlen(v) : 0, xstrdup(flag));
	return 0;
}

/* The set value of K with the highest priority, or -1. */
static int
top(const struct cfg *c, enum cfg_key k)
{
	for (int s = NSET - 1; s >= 0; s--)
		if (c->val[k][s] != NULL)
			return s;
	return -1;
}

static const char *
default_of(const struct cfg *c, enum cfg_key k)
{
	const char *p;

	switch (k) {
	case CFG_DB:
		return c->db_default;
	case CFG_EMBED_PROVIDER:
		return "local";
	case CFG_ANSWER_PROVIDER:
		return "extractive";
	case CFG_EMBED_MODEL:
	case CFG_ANSWER_MODEL:
		p = cfg_get(c, k == CFG_EMBED_MODEL ? CFG_EMBED_PROVIDER :
		    CFG_ANSWER_PROVIDER);
		for (size_t i = 0; i < RP_NELEM(models); i++)
			if (strcmp(p, models[i].provider) == 0)
				return k == CFG_EMBED_MODEL ? models[i].embed :
				    models[i].answer;
		return NULL;
	case CFG_OPENAI_BASE_URL:
		return "https://api.openai.com/v1";
	case CFG_OLLAMA_HOST:
		return "http://127.0.0.1:11434";
	case CFG_TIMEOUT:
		return "300";
	default:
		return NULL;
	}
}

const char *
cfg_get(const struct cfg *c, enum cfg_key k)
{
	int s = top(c, k);

	return s >= 0 ? c->val[k][s] : default_of(c, k);
}

enum cfg_source
cfg_source(const struct cfg *c, enum cfg_key k)
{
	static const enum cfg_source map[NSET] = {
		[SET_FILE] = CFG_SRC_FILE, [SET_ENV] = CFG_SRC_ENV,
		[SET_FLAG] = CFG_SRC_FLAG,
	};
	int s = top(c, k);

	if (s >= 0)
		return map[s];
	return default_of(c, k) != NULL ? CFG_SRC_DEFAULT : CFG_SRC_NONE;
}

const char *
cfg_where(const struct cfg *c, enum cfg_key k)
{
	int s = top(c, k);

	if (s >= 0)
		return c->where[k][s];
	return default_of(c, k) != NULL ? "default" : "not set";
}

const char *
cfg_name(enum cfg_key k)
{
	return keys[k].name;
}

const char *
cfg_env(enum cfg_key k)
{
	return keys[k].env;
}

int
cfg_secret(enum cfg_key k)
{
	return keys[k].secret;
}

const char *
cfg_path(const struct cfg *c)
{
	return c->path;
}

const char *
cfg_warning(const struct cfg *c, size_t i)
{
	return i < c->nwarn ? c->warn[i] : NULL;
}

char *
cfg_mask(const char *secret, char *out, size_t n)
{
	size_t len = secret != NULL ? strlen(secret) : 0;
	int shown = len >= 16;

	for (size_t i = 0; shown && i < 3; i++)
		if ((unsigned char)secret[i] < 0x21 ||
		    (unsigned char)secret[i] > 0x7e)
			shown = 0;
	if (shown)
		snprintf(out, n, "%.3s\xe2\x80\xa6(%zu chars)", secret, len);
	else
		snprintf(out, n, "****");
	return out;
}
