/* generate.c: the generation loop over batches and parallel groups of streams (generate.h). */
#include "generate.h"
#include "util.h"
#include "wavenet_sample.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { BLOCK = 4096 };   /* samples per stream handed to the sink at a time */

/* A sampler of either model. */
typedef struct {
	srnn_sampler *srnn;
	wn_sampler *wn;
} sampler;

/* One group: streams first .. first+count-1 with their own sampler. */
static int run_group(model *m, const gen_spec *g, long first, int count, long batch_first, int nb,
		     gen_sink sink, gen_progress progress, void *ctx, int report, volatile int *failed)
{
	sampler s = {NULL, NULL};
	if (m->wn)
		s.wn = wn_sampler_create(m->wn, count, g->weights);
	else
		s.srnn = srnn_sampler_create(m->srnn, count, g->weights);
	sh_rng *rngs = malloc(count * sizeof *rngs);
	int *codes = malloc(count * sizeof *codes);
	uint16_t *block = malloc((size_t)count * BLOCK * sizeof *block);   /* [count × BLOCK] */
	int rc = 0;
	if ((!s.wn && !s.srnn) || !rngs || !codes || !block) {
		rc = s.wn || s.srnn ? sh_error("out of memory") : -1;
		goto done;
	}
	if (g->weight_error) {
		double e = s.srnn ? srnn_sampler_weight_error(s.srnn) : wn_sampler_weight_error(s.wn);
		#pragma omp critical(generate_error)
		*g->weight_error = e > *g->weight_error ? e : *g->weight_error;
	}
	for (int b = 0; b < count; b++)
		sh_rng_seed_stream(&rngs[b], g->seed, (uint64_t)(first + b));
	if (s.wn)
		wn_sampler_reset(s.wn);
	else
		srnn_sampler_reset(s.srnn, g->h0, rngs);
	for (long t = 0; t < g->samples && !rc; t += BLOCK) {
		if (*failed || (g->stop && *g->stop)) {
			rc = 1;
			break;
		}
		int len = (int)SH_MIN((long)BLOCK, g->samples - t);
		for (int i = 0; i < len; i++) {
			if (s.wn)
				wn_sampler_draw(s.wn, g->temperature, rngs, codes);
			else
				srnn_sampler_draw(s.srnn, g->temperature, rngs, codes);
			for (int b = 0; b < count; b++)
				block[(size_t)b * BLOCK + i] = (uint16_t)codes[b];
		}
		for (int b = 0; b < count && !rc; b++)
			if (sink(ctx, first + b, block + (size_t)b * BLOCK, len) < 0)
				rc = -1;
		if (report && progress)
			progress(ctx, (double)batch_first * g->samples + (double)nb * (t + len));
	}
done:
	if (s.wn)
		wn_sampler_free(s.wn);
	if (s.srnn)
		srnn_sampler_free(s.srnn);
	free(rngs), free(codes), free(block);
	return rc;
}

int gen_streams(model *m, const gen_spec *g, gen_batch on_batch, gen_sink sink, gen_progress progress, void *ctx)
{
	const int B = g->batch > 0 && g->batch < g->n ? g->batch : (int)g->n;
	for (long first = 0; first < g->n; first += B) {
		const int nb = (int)SH_MIN((long)B, g->n - first);
		/* per-sample products are too small to share out: threads take groups of streams */
		const int groups = SH_MAX(1, SH_MIN(g->threads, nb));
		if (on_batch && on_batch(ctx, first, nb, 0) < 0)
			return -1;
		volatile int failed = 0;
		int stopped = 0;
		char err[512] = "";
		/* one group runs outside any parallel region: a region nested in even an inactive
		 * one starts its threads afresh each time */
		if (groups == 1) {
			int rc = run_group(m, g, first, nb, first, nb, sink, progress, ctx, 1, &failed);
			if (rc < 0)
				return -1;
			stopped = rc > 0;
		}
		#pragma omp parallel for num_threads(groups) schedule(static, 1) if (groups > 1)
		for (int k = 0; k < (groups > 1 ? groups : 0); k++) {
			long a = first + (long)nb * k / groups, b = first + (long)nb * (k + 1) / groups;
			int rc = run_group(m, g, a, (int)(b - a), first, nb, sink, progress, ctx, k == 0, &failed);
			if (rc < 0) {
				#pragma omp critical(generate_error)
				if (!failed) {
					snprintf(err, sizeof err, "%s", sh_errmsg());
					failed = 1;
				}
			} else if (rc > 0) {
				#pragma omp atomic write
				stopped = 1;
			}
		}
		if (failed)
			return sh_error("%s", err);
		if (on_batch && on_batch(ctx, first, nb, 1) < 0)
			return -1;
		if (stopped)
			return 1;
	}
	return 0;
}
