/* train.c: the training loop state of qtrain (see train.h): optimizer step with clipping and
 * Adam, validation in bits per sample, and clips while training. The models' numerics live in
 * samplernn*.c and wavenet*.c, reached through model.h; checkpoints are checkpoint.c's and the
 * run directory's log runlog.c's. */
#include "train.h"
#include "checkpoint.h"
#include "dist.h"
#include "generate.h"
#include "audio.h"
#include "mulaw.h"
#include "nn.h"
#include "nn_kernels.h"
#include "srnn_sample.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- optimizer ---- */

_Static_assert(DIST_SLICE_ALIGN % NNK_NORM_BLOCK == 0, "a rank's slice must be whole norm blocks");

size_t trn_norm_parts(size_t n) { return SH_MAX((n + NNK_NORM_BLOCK - 1) / NNK_NORM_BLOCK, 1); }

double trn_update(float *params, float *g, float *m, float *v, size_t n, double *parts, double loss, int rows,
		  int batch, const trn_update_opts *o, long step, double *seconds)
{
	const int nranks = dist_size(), rank = dist_rank();
	double t0 = sh_now();
	if (nranks > 1) {
		/* the ranks meet here, the faster ones waiting asleep (dist_barrier) rather than
		 * spinning in the sums below on a core the slower one may need */
		dist_barrier();
		loss *= (double)rows / batch;
		if (dist_allreduce_sum_f64(&loss, 1) < 0)
			return NAN;
		/* the same sum on every rank: they all go on, or all stop */
		if (!isfinite(loss))
			return loss;
		if (dist_reduce_scatter_sum_f32(g, n, (float)rows / batch) < 0)
			return NAN;
	} else if (!isfinite(loss)) {
		return loss;
	}
	/* this rank's slice, whole norm blocks */
	const size_t lo = dist_slice_lo(n, rank, nranks), hi = dist_slice_lo(n, rank + 1, nranks);
	const size_t nb = (n + NNK_NORM_BLOCK - 1) / NNK_NORM_BLOCK;
	/* *seconds: the exchanges and the waits for them, not this rank's clipping and Adam */
	double comm = sh_now() - t0;
	sumsq_blocks(g + lo, hi - lo, parts + lo / NNK_NORM_BLOCK);
	t0 = sh_now();
	if (dist_allgather_slices(parts, n, NNK_NORM_BLOCK, sizeof *parts) < 0)
		return NAN;
	comm += sh_now() - t0;
	double ss = 0;
	for (size_t bl = 0; bl < nb; bl++)
		ss += parts[bl];
	const double norm = sqrt(ss);
	if (!isfinite(norm)) /* a gradient that is not: every rank sees it */
		return norm;
	if (o->clip == TRN_CLIP_NORM)
		scale_to_norm(g + lo, hi - lo, norm, o->clip_value);
	else if (o->clip == TRN_CLIP_ELEMENTWISE)
		clip_elementwise(g + lo, hi - lo, (float)o->clip_value);
	adam_step(params + lo, g + lo, m + lo, v + lo, hi - lo, o->lr, o->beta1, o->beta2, o->eps, step);
	if (nranks > 1) {
		t0 = sh_now();
		if (dist_allgather_slices(params, n, 1, sizeof *params) < 0)
			return NAN;
		*seconds += comm + (sh_now() - t0);
	}
	return loss;
}

int trn_moments_gather(float *m, float *v, size_t n)
{
	return dist_allgather_slices(m, n, 1, sizeof *m) < 0 || dist_allgather_slices(v, n, 1, sizeof *v) < 0 ? -1 : 0;
}

/* ---- the run ---- */

typedef struct {
	int nwin, rec;
} eval_item;

int trn_run_init(trn_run *t, const trn_options *opt, const trn_data *d)
{
	memset(t, 0, sizeof *t);
	t->opt = *opt;
	const model_config *c = &opt->model;
	const int batch = model_batch(c), history = model_history(c), seq = model_seq(c);
	t->rank = dist_rank(), t->nranks = dist_size();
	if (batch % t->nranks)
		return sh_error("a batch of %d rows does not divide among %d ranks (--batch)", batch, t->nranks);
	t->rows = batch / t->nranks, t->row0 = t->rank * t->rows;
	t->m = model_create(c, t->rows);
	if (!t->m)
		return -1;
	model_init_params(t->m, opt->seed);
	t->nparams = model_num_params(t->m);
	t->state_floats = model_state_floats(t->m, batch);
	t->lstate_floats = model_state_floats(t->m, t->rows);
	int row = history + seq;
	/* one float at least, so that a model without state (WaveNet) still gets pointers */
	t->adam_m = sh_alloc(t->nparams * sizeof(float));
	t->adam_v = sh_alloc(t->nparams * sizeof(float));
	t->norm_parts = sh_alloc(trn_norm_parts(t->nparams) * sizeof(double));
	t->state = sh_alloc(SH_MAX(t->state_floats, 1) * sizeof(float));
	t->lstate = t->nranks > 1 ? sh_alloc(SH_MAX(t->lstate_floats, 1) * sizeof(float)) : t->state;
	t->eval_state = sh_alloc(SH_MAX(t->lstate_floats, 1) * sizeof(float));
	t->codes = sh_alloc((size_t)batch * row * sizeof(uint16_t));
	t->reset = sh_alloc(batch);
	if (!t->adam_m || !t->adam_v || !t->norm_parts || !t->state || !t->lstate || !t->eval_state || !t->codes ||
	    !t->reset || trn_feed_init(&t->feed, d, batch, history, seq, model_levels(c), opt->seed) < 0) {
		trn_run_free(t);
		return -1;
	}
	for (int b = 0; b < batch; b++)
		model_state_reset(t->m, t->state, batch, b);
	trn_state_scatter(t);
	t->best_bits = INFINITY;
	return 0;
}

void trn_run_free(trn_run *t)
{
	if (t->m)
		model_free(t->m);
	free(t->adam_m);
	free(t->adam_v);
	free(t->norm_parts);
	if (t->lstate != t->state)
		free(t->lstate);
	free(t->state);
	free(t->eval_state);
	free(t->codes);
	free(t->reset);
	free(t->valid_sorted);
	trn_feed_free(&t->feed);
	memset(t, 0, sizeof *t);
}

double trn_step(trn_run *t, const trn_data *d)
{
	const int batch = model_batch(&t->opt.model), rows = t->rows;
	const size_t row = (size_t)model_history(&t->opt.model) + model_seq(&t->opt.model);
	float *grads = model_grads(t->m);
	memset(grads, 0, t->nparams * sizeof(float));
	/* every rank deals the whole batch (the same data position everywhere) and runs its rows */
	trn_feed_next(&t->feed, d, t->codes, t->reset);
	for (int b = 0; b < rows; b++)
		if (t->reset[t->row0 + b])
			model_state_reset(t->m, t->lstate, rows, b);
	double loss = model_forward_backward(t->m, t->codes + t->row0 * row, rows, t->lstate);
	const trn_update_opts o = {t->opt.clip, t->opt.clip_value, t->opt.lr, t->opt.beta1, t->opt.beta2, t->opt.eps};
	loss = trn_update(model_params(t->m), grads, t->adam_m, t->adam_v, t->nparams, t->norm_parts, loss, rows, batch,
			  &o, t->step + 1, &t->reduce_seconds);
	if (!isfinite(loss))
		return loss;
	t->step++;
	t->log_nats += loss;
	t->log_steps++;
	return loss;
}

int trn_state_gather(trn_run *t)
{
	if (t->nranks == 1 || !t->state_floats)
		return 0;
	const int batch = model_batch(&t->opt.model);
	float *all = sh_alloc(t->lstate_floats * t->nranks * sizeof *all);
	if (!all || dist_allgather(t->lstate, all, t->lstate_floats * sizeof *all) < 0) {
		free(all);
		return -1;
	}
	for (int r = 0; r < t->nranks; r++)
		model_state_copy_rows(t->m, t->state, batch, r * t->rows, all + r * t->lstate_floats, t->rows, 0,
				      t->rows);
	free(all);
	return 0;
}

void trn_state_scatter(trn_run *t)
{
	if (t->nranks > 1)
		model_state_copy_rows(t->m, t->lstate, t->rows, 0, t->state, model_batch(&t->opt.model), t->row0,
				      t->rows);
}

int trn_replicas_agree(const float *params, size_t n, long step)
{
	const int nranks = dist_size();
	if (nranks == 1)
		return 0;
	/* FNV-1a over 32-bit words: a checksum, not a defence */
	const uint32_t *w = (const uint32_t *)params;
	uint64_t h = SH_FNV_INIT;
	for (size_t i = 0; i < n; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL;
	uint64_t mine[2] = {h, (uint64_t)step}, *all = sh_alloc(nranks * sizeof mine);
	if (!all || dist_allgather(mine, all, sizeof mine) < 0) {
		free(all);
		return -1;
	}
	for (int r = 1; r < nranks; r++)
		if (all[2 * r] != all[0] || all[2 * r + 1] != all[1]) {
			sh_error("rank %d's parameters differ from rank 0's (step %llu, checksum %016llx; rank 0: "
				 "step %llu, checksum %016llx)",
				 r, (unsigned long long)all[2 * r + 1], (unsigned long long)all[2 * r],
				 (unsigned long long)all[1], (unsigned long long)all[0]);
			free(all);
			return -1;
		}
	free(all);
	return 0;
}

int trn_check_replicas(const trn_run *t) { return trn_replicas_agree(model_params(t->m), t->nparams, t->step); }

static int cmp_eval(const void *a, const void *b)
{
	const eval_item *x = a, *y = b;
	return x->nwin != y->nwin ? (x->nwin < y->nwin ? -1 : 1) : (x->rec > y->rec) - (x->rec < y->rec);
}

double trn_evaluate(trn_run *t, const trn_data *d, const int *recs, int n, volatile sig_atomic_t *stop)
{
	const model_config *c = &t->opt.model;
	/* groups of up to this rank's rows; ranks take the groups in turn */
	const int batch = t->rows, seq = model_seq(c), levels = model_levels(c);
	if (n <= 0)
		return NAN;
	if (t->nranks > 1)
		stop = NULL; /* every rank must take part in the sums below */
	/* records of the same length go through the model together, row by row, so that no row
	 * has to be padded and the mean loss of a call is the mean over real targets */
	eval_item *items = malloc(n * sizeof *items);
	if (!items)
		return NAN;
	for (int i = 0; i < n; i++)
		items[i] = (eval_item){trn_data_windows(d, recs[i], seq), recs[i]};
	qsort(items, n, sizeof *items, cmp_eval);
	int history = model_history(c), row = history + seq;
	double nats = 0, count = 0;
	for (int i = 0, k = 0; i < n; k++) {
		int g = 1;
		while (i + g < n && g < batch && items[i + g].nwin == items[i].nwin)
			g++;
		if (k % t->nranks != t->rank) {
			i += g;
			continue;
		}
		for (int b = 0; b < g; b++)
			model_state_reset(t->m, t->eval_state, g, b);
		for (int w = 0; w < items[i].nwin; w++) {
			if (stop && *stop) {
				free(items);
				return NAN;
			}
			for (int b = 0; b < g; b++)
				trn_window_row(d, items[i + b].rec, w, history, seq, levels,
					       t->codes + (size_t)b * row);
			double loss = model_forward(t->m, t->codes, g, t->eval_state);
			nats += loss * g * seq;
			count += (double)g * seq;
		}
		i += g;
	}
	free(items);
	double sums[2] = {nats, count};
	if (dist_allreduce_sum_f64(sums, 2) < 0)
		return NAN;
	return sums[0] / sums[1] / M_LN2;
}

/* ---- clips while training (qtrain --sample-every) ---- */

/* Clips during training go to wav files as they are made. */
typedef struct {
	const char *dir;
	long step;
	int rate;
	mulaw_quantiser quant;
	audio_writer **w;
	float *audio; /* [n × 4096] */
} clip_out;

static int clip_batch(void *ctx, long first, int count, int done)
{
	clip_out *c = ctx;
	char path[4096];
	for (int b = (int)first; b < first + count; b++) {
		if (done) {
			if (audio_finish(c->w[b]) < 0)
				return -1;
			c->w[b] = NULL;
			continue;
		}
		snprintf(path, sizeof path, "%s/step%07ld_%d.wav", c->dir, c->step, b);
		if (!(c->w[b] = audio_create(path, c->rate, AUDIO_WAV16)))
			return sh_error_prefix("%s", path);
	}
	return 0;
}

static int clip_block(void *ctx, long stream, const uint16_t *codes, int len)
{
	clip_out *c = ctx;
	float *audio = c->audio + (size_t)stream * 4096;
	if (mulaw_decode_u16(&c->quant, codes, len, audio) < 0)
		return -1;
	return audio_write(c->w[stream], audio, len);
}

int trn_write_samples(trn_run *t, const char *dir, int n, double seconds, double temperature, const uint16_t *prime,
		      long prime_len, volatile sig_atomic_t *stop)
{
	const model_config *mc = &t->opt.model;
	int mode = trn_quant_mode(t->opt.quantization);
	if (mode < 0)
		return -1;
	clip_out c = {.dir = dir, .step = t->step, .rate = t->opt.sample_rate};
	if (mulaw_init(&c.quant, (mulaw_mode)mode, model_levels(mc)) < 0)
		return -1;
	c.w = calloc(n, sizeof *c.w);
	c.audio = malloc((size_t)n * 4096 * sizeof *c.audio);
	/* the same noise at every step (streams of the run's seed), so that clips differ by the
	 * model only; learned h0 when the model has one, else random, as qsample does (WaveNet:
	 * no h0, it starts from Q/2 codes) */
	gen_spec g = {.n = n,
		      .samples = (long)(seconds * t->opt.sample_rate + 0.5),
		      .temperature = (float)temperature,
		      .h0 = mc->kind == MODEL_SAMPLERNN && mc->srnn.learn_h0 ? SRNN_H0_LEARNED : SRNN_H0_RANDOM,
		      .seed = t->opt.seed,
		      .threads = 1,
		      .stop = stop,
		      .prime = prime,
		      .prime_len = prime_len};
	int rc = c.w && c.audio ? gen_streams(t->m, &g, clip_batch, clip_block, NULL, &c) : sh_error("out of memory");
	for (int b = 0; c.w && b < n; b++)
		if (c.w[b])
			audio_abort(c.w[b]);
	free(c.w), free(c.audio);
	mulaw_free(&c.quant);
	return rc < 0 ? -1 : 0;
}
