/* f-cfg: the config file reader (lib/cfg.h), on any bytes. */
#include "fuzz.h"
#include <string.h>

#include "rp.h"
#include "cfg.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg *c = cfg_new();
	struct rp_err err;
	const char *v, *w;
	char masked[64];
	int secrets = -1;

	if (cfg_parse(c, (const char *)data, size, "config", &secrets,
	    &err) == 0)
		FUZZ_CHECK(secrets == 0 || secrets == 1);
	else
		FUZZ_CHECK(err.code == RP_EXIT_USAGE &&
		    strncmp(err.msg, "config:", 7) == 0);
	for (int k = 0; k < CFG_NKEYS; k++) {
		v = cfg_get(c, (enum cfg_key)k);
		w = cfg_where(c, (enum cfg_key)k);
		FUZZ_CHECK(w != NULL);
		if (v != NULL && cfg_secret((enum cfg_key)k)) {
			cfg_mask(v, masked, sizeof(masked));
			FUZZ_CHECK(strlen(v) < 16 ||
			    strstr(masked, v + 3) == NULL);
		}
	}
	for (size_t i = 0; (w = cfg_warning(c, i)) != NULL; i++)
		FUZZ_CHECK(strncmp(w, "config:", 7) == 0);
	cfg_free(c);
	return 0;
}
