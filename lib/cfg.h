/*
 * cfg: the settings every program shares (DESIGN.md section 6), each
 * taken from the first place that has it: a flag, the environment, the
 * config file $XDG_CONFIG_HOME/ragpipe/config (else
 * $HOME/.config/ragpipe/config), or the built-in default.  An empty
 * value counts as not set.
 *
 * The config file holds "key = value" lines; blank lines and lines
 * whose first non-blank character is '#' are ignored; spaces around the
 * key and the value are dropped, and a value in double quotes keeps its
 * spaces ("search_query: ").  A later line for a key wins.  A line
 * without '=' or with an empty key is an error naming "path:line"; an
 * unknown key is a warning.  In the file, a db value starting "~/" is
 * under $HOME.
 *
 * Secrets (openai_api_key) come only from the environment or the file,
 * never from flags, and are never printed: cfg_mask is for showing
 * them.  A config file that holds a secret and can be read or written
 * by the group or others is not used at all, with a warning, as ssh
 * refuses such key files.
 *
 * lib/ reads no environment itself: cfg_load is given a getenv-like
 * function.  Warnings are kept for the caller to print (cfg_warning).
 * A struct cfg belongs to one thread.
 */
#ifndef CFG_H
#define CFG_H

#include <stddef.h>

struct rp_err;
struct cfg;

enum cfg_key {
	CFG_DB,			/* db, RAG_DB */
	CFG_EMBED_PROVIDER,	/* embed_provider, RAG_EMBED_PROVIDER */
	CFG_EMBED_MODEL,	/* embed_model, RAG_EMBED_MODEL */
	CFG_ANSWER_PROVIDER,	/* answer_provider, RAG_ANSWER_PROVIDER */
	CFG_ANSWER_MODEL,	/* answer_model, RAG_ANSWER_MODEL */
	CFG_OPENAI_API_KEY,	/* openai_api_key, OPENAI_API_KEY: secret */
	CFG_OPENAI_BASE_URL,	/* openai_base_url, OPENAI_BASE_URL */
	CFG_OLLAMA_HOST,	/* ollama_host, OLLAMA_HOST */
	CFG_TIMEOUT,		/* timeout, RAG_TIMEOUT: seconds */
	CFG_NKEYS
};

enum cfg_source {
	CFG_SRC_NONE,		/* not set, and no default */
	CFG_SRC_DEFAULT,
	CFG_SRC_FILE,
	CFG_SRC_ENV,
	CFG_SRC_FLAG,
};

#define CFG_MAX_LINE	4096	/* bytes, a config file line */
#define CFG_MAX_FILE	(1 << 20)	/* bytes, the config file */

/* A new, empty configuration: only defaults. */
struct cfg	*cfg_new(void);
void		 cfg_free(struct cfg *c);	/* NULL is a no-op; wipes secrets */

/*
 * Take the environment (through GETENV) and the config file.  Returns
 * 0, or -1 with ERR filled: RP_EXIT_USAGE for a bad line ("path:line:
 * what"), RP_EXIT_IO when the file exists but cannot be read.  A
 * missing file is no error.
 */
int		 cfg_load(struct cfg *c, char *(*getenv_fn)(const char *),
		    struct rp_err *err);
/*
 * Read config file PATH (cfg_load does this for the usual one), with
 * the permission rule above.  0 (also when it does not exist), or -1.
 */
int		 cfg_load_file(struct cfg *c, const char *path,
		    struct rp_err *err);
/*
 * Take the settings of config text TEXT[0..N), named PATH in messages,
 * as the config file's.  0, or -1 with ERR filled (RP_EXIT_USAGE), in
 * which case nothing of TEXT is kept.  Sets *SECRETS (when not NULL)
 * to whether TEXT holds a secret.
 */
int		 cfg_parse(struct cfg *c, const char *text, size_t n,
		    const char *path, int *secrets, struct rp_err *err);
/*
 * Set K from flag FLAG (such as "--model"), which wins over every other
 * source.  Secrets cannot be set so: returns -1.  V is copied.
 */
int		 cfg_set_flag(struct cfg *c, enum cfg_key k, const char *v,
		    const char *flag);

/*
 * The value of K, lent until the next change to C; NULL when not set
 * and without default.  The defaults of embed_model and answer_model
 * depend on the provider in effect.
 */
const char	*cfg_get(const struct cfg *c, enum cfg_key k);
enum cfg_source	 cfg_source(const struct cfg *c, enum cfg_key k);
/*
 * Where K's value came from, for messages: the flag ("--model"), the
 * variable ("RAG_EMBED_MODEL"), "path:line", or "default".  Lent.
 */
const char	*cfg_where(const struct cfg *c, enum cfg_key k);

/* K's name in the config file ("embed_model") and environment. */
const char	*cfg_name(enum cfg_key k);
const char	*cfg_env(enum cfg_key k);
int		 cfg_secret(enum cfg_key k);
/* The config file looked at (whether or not it exists), or NULL. */
const char	*cfg_path(const struct cfg *c);

/*
 * Warning I (from 0) of loading, as "where: what", or NULL past the
 * last.  Lent.
 */
const char	*cfg_warning(const struct cfg *c, size_t i);

/*
 * SECRET shown without giving it away: its first three characters and
 * its length ("sk-…(51 chars)"), or "****" when it is shorter than 16
 * bytes.  Written into OUT of size N; returns OUT.
 */
char		*cfg_mask(const char *secret, char *out, size_t n);

#endif /* CFG_H */
