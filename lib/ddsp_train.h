/* ddsp_train.h: training the DDSP model (ddsp_model.h) for qtrain --model ddsp: the examples
 * (float audio records cut into examples of the model's length) with their f0 (YIN) and
 * loudness computed once and cached in the run directory, the optimizer state (Adam, DDSP's
 * learning-rate decay, global-norm clipping), one step, validation, checkpoints and
 * resynthesis clips. qtrain's run directory conventions (runlog.h) around it. */
#ifndef SHARKS_DDSP_TRAIN_H
#define SHARKS_DDSP_TRAIN_H

#include "ddsp_model.h"
#include "safetensors.h"

#include <signal.h>
#include <stdint.h>

typedef struct {
	int n, T;       /* samples and frames of an example */
	int nex;        /* examples */
	float *audio;   /* [nex × n] */
	float *f0, *ld; /* [nex × T]: Hz, dB */
	int nfiles;
	char **files;
	uint64_t fingerprint; /* FNV-1a of the examples' samples */
	int ntrain, nvalid;
	int *train, *valid;    /* example indices */
	double voiced;         /* share of voiced frames */
	int cached;            /* the features came from the cache */
	double f0_midi, ld_db; /* means over the voiced frames (transfer --auto moves towards them) */
} ddsp_data;

/* Reads the float (<f4, <f8) records of files (NULL or "-": stdin) and cuts each into
 * examples of c->n_samples (the rest of a record is dropped). Refuses no example, silence
 * only, and no voiced frame (after ddsp_data_features). */
int ddsp_data_read(ddsp_data *d, char **files, int nfiles, const ddsp_config *c);
/* f0 (YIN, unvoiced frames interpolated) and loudness of every example: read from cache (a
 * safetensors file, may be NULL) when it was made from the same examples and settings, else
 * computed. Refuses data without a voiced frame. Under mpirun (collective; every rank holds the
 * same examples): rank 0 alone reads the cache and sends what it read; else each rank analyses
 * its share of the examples and sends it to the others, so every rank holds the same bytes. */
int ddsp_data_features(ddsp_data *d, const ddsp_config *c, const char *cache);
/* Writes the features as that cache, atomically. */
int ddsp_data_save_features(const ddsp_data *d, const ddsp_config *c, const char *cache);
/* Shuffles the examples with the seed and splits them by the percentages (train, valid, the
 * rest unused); at least one training example. */
int ddsp_data_split(ddsp_data *d, uint64_t seed, const double pct[3]);
void ddsp_data_free(ddsp_data *d);

typedef struct {
	ddsp_config model;
	double lr, beta1, beta2, eps;
	double decay_rate, decay_steps; /* lr·rate^(step/steps), as DDSP's ExponentialDecay */
	double clip;                    /* global norm (0: none) */
	uint64_t seed;
	double split[3];
} ddsp_train_opts;

typedef struct {
	ddsp_train_opts opt;
	/* data parallel (dist.h): this rank computes examples [row0, row0 + rows) of every step's
	 * batch; the order and the parameters are the same on every rank, and Adam's moments
	 * on each rank's slice (train.h's trn_update) */
	int rank, nranks, row0, rows;
	double reduce_seconds; /* spent in the ranks' reductions of the loss and gradients */
	ddsp_net *m;
	size_t nparams;
	float *adam_m, *adam_v;
	double *norm_parts; /* trn_update's scratch */
	long step, epoch;
	int pos;    /* next position in this epoch's order */
	int *order; /* [ntrain] */
	float *bf0, *bld, *baudio;
	double log_loss; /* training loss summed since the last log row ... */
	long log_steps;  /* ... over this many steps */
	double best;     /* best validation loss (INFINITY: none yet) */
} ddsp_run;

/* Under mpirun the rank takes its share of the batch, refused unless the batch divides. */
int ddsp_run_init(ddsp_run *r, const ddsp_train_opts *o, const ddsp_data *d);
void ddsp_run_free(ddsp_run *r);
/* The learning rate of the next step. */
double ddsp_run_lr(const ddsp_run *r);
/* One optimizer step on the next batch; returns its loss (not finite: parameters untouched).
 * Under mpirun every rank deals the whole batch and runs its rows; the gradients are summed,
 * clipped and applied by train.h's trn_update (each rank updating its slice). */
double ddsp_run_step(ddsp_run *r, const ddsp_data *d);
/* Mean spectral loss over examples idx[0..n) (fixed noise per example); NAN when n is 0 or
 * *stop is raised. Several ranks share the examples (collective; *stop is then not looked
 * at, so that every rank does the same). */
double ddsp_run_evaluate(ddsp_run *r, const ddsp_data *d, const int *idx, int n, volatile sig_atomic_t *stop);
/* Fraction of an epoch done. */
double ddsp_run_epoch(const ddsp_run *r, const ddsp_data *d);

/* Checkpoint: parameters under the reference's names, adam.m.NAME, adam.v.NAME; metadata:
 * model=ddsp, the configuration, the training options, step, epoch, position, data
 * fingerprint, best. Written atomically. */
int ddsp_save(const ddsp_run *r, const ddsp_data *d, const char *path);
/* The options of a DDSP checkpoint (refuses another model). */
int ddsp_meta_options(const st_file *sf, ddsp_train_opts *o);
/* Restores a checkpoint into r (made with the same options), checking the data fingerprint. */
int ddsp_load(ddsp_run *r, const ddsp_data *d, const st_file *sf);
/* Loads the parameters of a checkpoint into a model (for transfer). */
int ddsp_load_params(ddsp_net *m, const st_file *sf);

/* Resynthesises examples idx[0..n) from their own f0 and loudness: dir/stepSSSSSSS_K.wav, and
 * dir/stepSSSSSSS_K_real.wav beside them (once). */
int ddsp_write_clips(ddsp_run *r, const ddsp_data *d, const int *idx, int n, const char *dir);

/* Timbre transfer: the decoder on f0_hz, loudness_db [F] (in chunks, the GRU state carried
 * across), the harmonic and noise synths (ddsp.h, noise from seed) and the reverb: out[n],
 * n <= F·hop. m was made for one example of any number of frames. */
int ddsp_render(ddsp_net *m, const float *f0_hz, const float *loudness_db, int F, size_t n, uint64_t seed, float *out);
/* Chunk of frames ddsp_render decodes at a time (the net's max_frames). */
#define DDSP_RENDER_CHUNK 1024

#endif
