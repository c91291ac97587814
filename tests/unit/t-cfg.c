/* t-cfg: the order of settings, the config file's syntax and its rules. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rp.h"
#include "cfg.h"
#include "tap.h"

/* A fake environment: NAME=VALUE strings, NULL-terminated. */
static const char *const *env;

static char *
fake_getenv(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; env != NULL && env[i] != NULL; i++)
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
			return (char *)env[i] + n + 1;
	return NULL;
}

static char	dir[256];

static char *
write_file(const char *name, const char *text, mode_t mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

static void
test_defaults(void)
{
	static const char *const e[] = { "HOME=/home/u", NULL };
	struct cfg *c = cfg_new();
	struct rp_err err;

	env = e;
	is_int(cfg_load(c, fake_getenv, &err), 0, "load: no file is fine");
	is_str(cfg_path(c), "/home/u/.config/ragpipe/config",
	    "the file is under ~/.config without XDG_CONFIG_HOME");
	is_str(cfg_get(c, CFG_DB), "/home/u/.local/share/ragpipe/store.db",
	    "db: default under ~/.local/share");
	is_str(cfg_get(c, CFG_EMBED_PROVIDER), "local", "embed_provider");
	is_str(cfg_get(c, CFG_EMBED_MODEL), "local:hash-v1-1024",
	    "embed_model of local");
	is_str(cfg_get(c, CFG_ANSWER_PROVIDER), "extractive",
	    "answer_provider");
	is_str(cfg_get(c, CFG_OPENAI_BASE_URL), "https://api.openai.com/v1",
	    "openai_base_url");
	is_str(cfg_get(c, CFG_OLLAMA_HOST), "http://127.0.0.1:11434",
	    "ollama_host");
	is_str(cfg_get(c, CFG_TIMEOUT), "300", "timeout");
	ok(cfg_get(c, CFG_OPENAI_API_KEY) == NULL, "no key by default");
	is_int(cfg_source(c, CFG_OPENAI_API_KEY), CFG_SRC_NONE,
	    "... its source is none");
	is_int(cfg_source(c, CFG_DB), CFG_SRC_DEFAULT, "db: a default");
	is_str(cfg_where(c, CFG_DB), "default", "db: where: default");
	ok(cfg_warning(c, 0) == NULL, "no warnings");
	/* The model's default follows the provider in effect. */
	cfg_set_flag(c, CFG_EMBED_PROVIDER, "ollama", "--provider");
	is_str(cfg_get(c, CFG_EMBED_MODEL), "nomic-embed-text",
	    "embed_model follows ollama");
	cfg_set_flag(c, CFG_ANSWER_PROVIDER, "openai", "--provider");
	is_str(cfg_get(c, CFG_ANSWER_MODEL), "gpt-4o-mini",
	    "answer_model follows openai");
	cfg_free(c);
}

static void
test_order(void)
{
	static const char *const e[] = {
		"HOME=/home/u", "XDG_DATA_HOME=/data", "XDG_CONFIG_HOME=",
		"RAG_EMBED_MODEL=from-env", "RAG_ANSWER_MODEL=",
		"OPENAI_API_KEY=sk-env-000000000000000000000000", NULL
	};
	static const char text[] =
	    "# a comment\n"
	    "\n"
	    "  embed_model = from-file  \n"
	    "answer_model=file-answer\n"
	    "ollama_host = \"http://h:1\"\n"
	    "db = ~/kb.db\n"
	    "embed_provider = openai\n"
	    "embed_provider = ollama\n";
	struct cfg *c = cfg_new();
	struct rp_err err;

	env = e;
	cfg_load(c, fake_getenv, &err);
	is_str(cfg_get(c, CFG_DB), "/data/ragpipe/store.db",
	    "db: default under XDG_DATA_HOME");
	is_int(cfg_parse(c, text, strlen(text), "cf", NULL, &err), 0,
	    "parse: returns 0");
	is_str(cfg_get(c, CFG_EMBED_MODEL), "from-env", "env beats file");
	is_str(cfg_where(c, CFG_EMBED_MODEL), "RAG_EMBED_MODEL",
	    "... and says where");
	is_str(cfg_get(c, CFG_ANSWER_MODEL), "file-answer",
	    "an empty variable counts as not set");
	is_str(cfg_where(c, CFG_ANSWER_MODEL), "cf:4", "where: path:line");
	is_int(cfg_source(c, CFG_ANSWER_MODEL), CFG_SRC_FILE, "source: file");
	is_str(cfg_get(c, CFG_OLLAMA_HOST), "http://h:1",
	    "quotes and spaces around a value go");
	is_str(cfg_get(c, CFG_DB), "/home/u/kb.db", "~/ in db is $HOME");
	is_str(cfg_get(c, CFG_EMBED_PROVIDER), "ollama", "the later line wins");
	is_str(cfg_where(c, CFG_EMBED_PROVIDER), "cf:8", "... at its line");
	cfg_set_flag(c, CFG_EMBED_MODEL, "from-flag", "--model");
	is_str(cfg_get(c, CFG_EMBED_MODEL), "from-flag", "a flag beats env");
	is_str(cfg_where(c, CFG_EMBED_MODEL), "--model", "... and says so");
	is_int(cfg_source(c, CFG_EMBED_MODEL), CFG_SRC_FLAG, "source: flag");
	is_int(cfg_set_flag(c, CFG_OPENAI_API_KEY, "sk-x", "--key"), -1,
	    "a key cannot come from a flag");
	is_str(cfg_get(c, CFG_OPENAI_API_KEY),
	    "sk-env-000000000000000000000000", "the key from the environment");
	cfg_free(c);
}

static void
test_syntax(void)
{
	struct cfg *c = cfg_new();
	struct rp_err err;
	char text[CFG_MAX_LINE + 64];
	const char *bad[][2] = {
		{ "db = a\nembed_model\n", "f:2: no '=' (key = value expected)" },
		{ " = x\n", "f:1: no key before '='" },
		{ "db = a\n\n# c\nanswer_model = \"\n", NULL },
	};
	int secrets;

	for (size_t i = 0; i < RP_NELEM(bad); i++) {
		int rc = cfg_parse(c, bad[i][0], strlen(bad[i][0]), "f", NULL,
		    &err);

		if (bad[i][1] == NULL) {
			is_int(rc, 0, "a lone quote is kept as it is");
			is_str(cfg_get(c, CFG_ANSWER_MODEL), "\"", "... '\"'");
			continue;
		}
		is_int(rc, -1, "bad line %zu: -1", i);
		is_int(err.code, RP_EXIT_USAGE, "... RP_EXIT_USAGE");
		is_str(err.msg, bad[i][1], "... the message");
	}
	c = (cfg_free(c), cfg_new());
	is_int(cfg_parse(c, "db = a\nx\n", 9, "f", NULL, &err), -1,
	    "an error keeps nothing of the text");
	ok(cfg_source(c, CFG_DB) != CFG_SRC_FILE, "... not even line 1");
	is_int(cfg_parse(c, "db = a\0b\n", 9, "f", NULL, &err), -1,
	    "a NUL byte is an error");
	is_str(err.msg, "f:1: a NUL byte", "... so said");
	memset(text, 'x', sizeof(text) - 1);
	memcpy(text, "db = ", 5);
	text[sizeof(text) - 1] = '\0';
	is_int(cfg_parse(c, text, strlen(text), "f", NULL, &err), -1,
	    "a line over %d bytes is an error", CFG_MAX_LINE);
	is_int(cfg_parse(c, "frob = 1\r\ndb = z\r\n", 18, "f", &secrets, &err),
	    0, "an unknown key is no error; CRLF is fine");
	is_str(cfg_warning(c, 0), "f:1: unknown key 'frob' (ignored)",
	    "... but a warning");
	is_str(cfg_get(c, CFG_DB), "z", "... and the rest is used");
	is_int(secrets, 0, "no secrets");
	is_int(cfg_parse(c, "openai_api_key = k\n", 19, "f", &secrets, &err),
	    0, "a key");
	is_int(secrets, 1, "... is a secret");
	cfg_free(c);
}

static void
test_files(void)
{
	static const char *const e[] = { "HOME=/nonexistent", NULL };
	const char *e2[] = { "HOME=/nonexistent", NULL, NULL };
	struct cfg *c;
	struct rp_err err;
	char *p, *xdg;

	env = e;
	p = write_file("open", "answer_model = m\n", 0644);
	c = cfg_new();
	is_int(cfg_load_file(c, p, &err), 0, "a readable file without keys");
	is_str(cfg_get(c, CFG_ANSWER_MODEL), "m", "... is used");
	cfg_free(c);
	free(p);

	p = write_file("leaky", "answer_model = m\nopenai_api_key = "
	    "sk-0123456789abcdef\n", 0640);
	c = cfg_new();
	is_int(cfg_load_file(c, p, &err), 0, "a group-readable file with a "
	    "key: 0");
	ok(cfg_get(c, CFG_OPENAI_API_KEY) == NULL &&
	    cfg_source(c, CFG_ANSWER_MODEL) != CFG_SRC_FILE,
	    "... but none of it is used");
	ok(cfg_warning(c, 0) != NULL && strstr(cfg_warning(c, 0),
	    "holds an API key but others may read or change it (mode 0640); "
	    "not used: chmod 600") != NULL, "... with a warning: %s",
	    cfg_warning(c, 0));
	ok(strstr(cfg_warning(c, 0), "sk-0") == NULL,
	    "... that does not show the key");
	cfg_free(c);
	chmod(p, 0600);
	c = cfg_new();
	is_int(cfg_load_file(c, p, &err), 0, "mode 0600");
	is_str(cfg_get(c, CFG_OPENAI_API_KEY), "sk-0123456789abcdef",
	    "... the key is used");
	ok(cfg_warning(c, 0) == NULL, "... without a warning");
	cfg_free(c);
	free(p);

	c = cfg_new();
	is_int(cfg_load_file(c, dir, &err), -1, "a directory: -1");
	is_int(err.code, RP_EXIT_IO, "... RP_EXIT_IO");
	is_int(cfg_load_file(c, "/nonexistent/x", &err), 0, "missing: 0");
	cfg_free(c);

	/* cfg_load finds $XDG_CONFIG_HOME/ragpipe/config. */
	xdg = xasprintf("XDG_CONFIG_HOME=%s", dir);
	e2[1] = xdg;
	env = e2;
	p = xasprintf("%s/ragpipe", dir);
	mkdir(p, 0700);
	free(p);
	p = write_file("ragpipe/config", "embed_provider = openai\n", 0600);
	c = cfg_new();
	is_int(cfg_load(c, fake_getenv, &err), 0, "load: XDG_CONFIG_HOME");
	is_str(cfg_path(c), p, "... the file under it");
	is_str(cfg_get(c, CFG_EMBED_PROVIDER), "openai", "... is read");
	is_str(cfg_get(c, CFG_EMBED_MODEL), "text-embedding-3-small",
	    "... and the default model follows");
	cfg_free(c);
	free(p);
	free(xdg);
}

static void
test_mask(void)
{
	char out[64];

	is_str(cfg_mask("sk-proj-0123456789abcdef0123456789abcdef0123456789a",
	    out, sizeof(out)), "sk-\xe2\x80\xa6(51 chars)", "mask: a long key");
	is_str(cfg_mask("short-key", out, sizeof(out)), "****",
	    "mask: a short key");
	is_str(cfg_mask("\x01\x02\x03" "0123456789abcdef", out, sizeof(out)),
	    "****", "mask: control characters are never shown");
}

int
main(void)
{
	static const char *const files[] = {
		"open", "leaky", "ragpipe/config", "ragpipe",
	};
	char *p;

	snprintf(dir, sizeof(dir), "/tmp/t-cfg.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	rp_init("t-cfg");
	test_defaults();
	test_order();
	test_syntax();
	test_files();
	test_mask();
	for (size_t i = 0; i < RP_NELEM(files); i++) {
		p = xasprintf("%s/%s", dir, files[i]);
		if (unlink(p) != 0)
			rmdir(p);
		free(p);
	}
	rmdir(dir);
	return tap_done();
}
