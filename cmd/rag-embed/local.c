/* rag-embed's local provider: the built-in model on all threads. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "vec.h"
#include "embedder.h"

struct worker {
	struct run	*r;
	size_t		 from, to;
	struct buf	 text;		/* the prefix and the text */
};

static void *
work(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	struct item *it;
	struct embed_ws *ws = embed_ws_new();

	for (size_t i = w->from; i < w->to; i++) {
		it = &r->items[i];
		if (it->rec == NULL || it->failed)
			continue;
		it->v = xreallocarray(NULL, r->dim, sizeof(float));
		it->dim = r->dim;
		if (*r->doc_prefix == '\0') {
			embed_local_ws(ws, it->text, it->tlen, it->v, r->dim);
			continue;
		}
		buf_reset(&w->text);
		buf_adds(&w->text, r->doc_prefix);
		buf_add(&w->text, it->text, it->tlen);
		embed_local_ws(ws, w->text.data, w->text.len, it->v, r->dim);
	}
	embed_ws_free(ws);
	buf_release(&w->text);
	return NULL;
}

void
local_embed(struct run *r)
{
	struct worker w[VEC_MAX_THREADS];
	pthread_t tid[VEC_MAX_THREADS];
	int started[VEC_MAX_THREADS] = { 0 };
	unsigned t, nt = (unsigned)RP_MIN((size_t)r->jobs, r->n);

	if (nt == 0)
		nt = 1;
	for (t = 0; t < nt; t++) {
		w[t] = (struct worker){ r, r->n * t / nt, r->n * (t + 1) / nt,
		    BUF_INIT };
		if (t > 0)
			started[t] = pthread_create(&tid[t], NULL, work,
			    &w[t]) == 0;
	}
	work(&w[0]);
	for (t = 1; t < nt; t++) {
		if (started[t])
			pthread_join(tid[t], NULL);
		else
			work(&w[t]);
	}
}
