/* train.h: the training loop state of qtrain (lib/train.c): the model and its optimizer (Adam,
 * clipping), the carried recurrent state, one optimizer step, validation in bits per sample,
 * and clips while training. The data it trains on is train_data.h's; checkpoints are
 * checkpoint.h's; the run directory (log, plot, run record) is runlog.h's. */
#ifndef SHARKS_TRAIN_H
#define SHARKS_TRAIN_H

#include "model.h"
#include "train_data.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* ---- training (lib/train.c) ---- */

enum { TRN_CLIP_NONE, TRN_CLIP_ELEMENTWISE, TRN_CLIP_NORM };

typedef struct {
	model_config model;
	double lr, beta1, beta2, eps; /* Adam, torch semantics */
	int clip;                     /* TRN_CLIP_* */
	double clip_value;
	uint64_t seed;
	double split[3]; /* percentages of train, valid, test */
	int sample_rate;
	char quantization[32]; /* how the codes were made: "mulaw" ... */
} trn_options;

typedef struct {
	trn_options opt;
	/* data parallel (dist.h): this rank computes rows [row0, row0 + rows) of the global batch
	 * of every step; the feed and the parameters are the same on every rank, and Adam's
	 * moments on each rank's slice (trn_update; whole after trn_moments_gather) */
	int rank, nranks, row0, rows;
	model *m;
	size_t nparams;
	float *adam_m, *adam_v; /* nparams each */
	double *norm_parts;     /* trn_update's scratch */
	float *state;           /* recurrent state of the batch rows, carried */
	size_t state_floats;
	float *lstate; /* this rank's rows of it (= state with one rank): up to date
	                                   while training; state is after trn_state_gather */
	size_t lstate_floats;
	uint16_t *codes;      /* batch × (history + seq) */
	unsigned char *reset; /* batch */
	trn_feed feed;
	long step;             /* optimizer steps taken */
	double reduce_seconds; /* spent in the ranks' reductions of the loss and gradients */
	double best_bits;      /* best validation bits so far (INFINITY: none) */
	double log_nats;       /* training loss summed since the last log row ... */
	long log_steps;        /* ... over this many steps */
	/* validation scratch: records sorted by window count, own state */
	int *valid_sorted;
	float *eval_state;
} trn_run;

/* Creates the model and optimizer for opt on d (already split), parameters initialised from
 * the seed. Under mpirun (dist.h) the rank takes its share of the batch rows, refused
 * unless the batch divides among the ranks. */
int trn_run_init(trn_run *t, const trn_options *opt, const trn_data *d);
void trn_run_free(trn_run *t);

/* One optimizer step: the next windows, forward and backward, clipping, Adam (nn.h's
 * adam_step, torch semantics). Returns the mean
 * cross-entropy of the batch in nats (not finite: the parameters are left as they were before
 * the step and the caller should stop). */
double trn_step(trn_run *t, const trn_data *d);

/* The carried state of every row into t->state on every rank (collective; a copy of nothing
 * with one rank), before it is saved; and t->state back into this rank's rows, after it is
 * loaded. */
int trn_state_gather(trn_run *t);
void trn_state_scatter(trn_run *t);
/* Whether the parameters and the step are the same on every rank (collective): -1 with an
 * error naming the first rank that differs from rank 0. trn_replicas_agree is the same for any
 * model's parameters (DDSP's). */
int trn_check_replicas(const trn_run *t);
int trn_replicas_agree(const float *params, size_t n, long step);
/* The step after backward, for every model (qtrain's and DDSP's): loss and g[n] are this
 * rank's means over its `rows` of the global batch of `batch`. Under mpirun (dist.h's seam)
 * they are weighted by rows/batch and summed over the ranks in rank order, which makes them
 * the means over the whole batch; then each rank clips (TRN_CLIP_*) and takes the Adam step
 * (nn.h's adam_step, torch semantics) on its own slice of the parameters only
 * (dist_slice_lo), with its slice of the moments m and v, and the updated slices are gathered:
 * the same bits on every rank as every rank updating every parameter, for 1/N of the work.
 * Off its slice a rank's m and v are then stale until trn_moments_gather. A global norm is
 * the sum of every block's Σg² in block order, whichever rank took which (nn.h's
 * clip_global_norm: the same bits as one process). Returns the batch's mean loss; when it, or
 * a gradient, is not finite, nothing is changed and every rank returns the same non-finite
 * value (the caller stops). parts: scratch of trn_norm_parts(n) doubles. The time spent in
 * the reductions and the gather is added to *seconds. */
typedef struct {
	int clip; /* TRN_CLIP_* */
	double clip_value, lr, beta1, beta2, eps;
} trn_update_opts;
double trn_update(float *params, float *g, float *m, float *v, size_t n, double *parts, double loss, int rows,
		  int batch, const trn_update_opts *o, long step, double *seconds);
size_t trn_norm_parts(size_t n);
/* Every rank's slice of Adam's moments m[n], v[n] to every rank (collective), before rank 0
 * writes them; nothing with one process. */
int trn_moments_gather(float *m, float *v, size_t n);

/* Mean cross-entropy in bits per sample over every window of records recs[0..n) (state reset
 * at each record's start and carried through its windows). NAN when n is 0 or *stop was set.
 * Several ranks share the records (collective; *stop is then not looked at, so that every
 * rank does the same). */
double trn_evaluate(trn_run *t, const trn_data *d, const int *recs, int n, volatile sig_atomic_t *stop);

/* ---- clips while training ---- */

/* Generates n clips of `seconds` from the model as it is now, with generate.h (qsample's
 * generator): dir/stepSSSSSSS_K.wav, 16-bit at the run's rate, decoded with its quantisation.
 * Every call draws from the same streams (the run's seed), so clips differ by the model only,
 * and the training state is not touched. Unless prime is NULL, every clip continues its
 * prime_len codes (gen_load_prime). When *stop is raised, the unfinished clips are removed and
 * 0 returned. */
int trn_write_samples(trn_run *t, const char *dir, int n, double seconds, double temperature, const uint16_t *prime,
		      long prime_len, volatile sig_atomic_t *stop);

#endif
