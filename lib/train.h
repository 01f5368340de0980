/* train.h: what qtrain does besides the model's numerics (SampleRNN or WaveNet, model.h): the data set of code records
 * (loading, checking, shuffled train/valid/test split), the feed that cuts records into
 * truncated-BPTT windows for the rows of a batch, the training loop state (Adam, clipping),
 * validation in bits per sample, checkpoints (safetensors with Adam moments, RNG state and
 * data position, so that a resumed run gives the same bytes as a straight one), and the run
 * directory's log.tsv, loss.png and run.json.
 *
 * The feed: each of the `batch` rows of a step is a lane that walks through one record window
 * by window; the model's recurrent state for that row is carried from window to window and
 * reset when the lane starts its next record, which it takes from the epoch's shuffled order of
 * training records. An epoch ends when that order is used up; the next is reshuffled from the
 * feed's own RNG. A row of window w of a record holds history + seq codes: the `history` codes
 * before the window's first target (Q/2 padding before the record's start, as the peer does)
 * and the seq targets. A record of T codes gives floor(T / seq) windows. WaveNet has no
 * recurrent state (nothing is carried); its history is the receptive field and its seq the
 * targets per row (n_out). */
#ifndef SHARKS_TRAIN_H
#define SHARKS_TRAIN_H

#include "rng.h"
#include "model.h"
#include "safetensors.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the data set (lib/train_data.c) ---- */

typedef struct {
	int nrec;
	uint16_t *codes;        /* every record's codes back to back */
	size_t *start, *len;    /* record r is codes[start[r] .. start[r] + len[r]) */
	int *file;              /* record r came from files[file[r]] ... */
	long *index;            /* ... as its index-th record (0-based) */
	int nfiles;
	char **files;
	size_t total, cap, reccap;
	int max_code;
	uint64_t fingerprint;   /* FNV-1a over every record's length (u64) and codes (u16), in order */
	/* split after shuffling with the seed: record numbers */
	int *train, *valid, *test;
	int ntrain, nvalid, ntest;
} trn_data;

/* Appends every record of a tensor stream (path "-" is stdin): one-dimensional |u1 or <u2
 * records. Errors say which record ("record 3: ..."); the caller names the file. */
int trn_data_add_file(trn_data *d, const char *path);
/* Checks every record against the model: codes < levels and at least one window of seq codes.
 * On failure *bad is the record at fault (name its file with d->files[d->file[*bad]]). */
int trn_data_check(const trn_data *d, int levels, int seq, int *bad);
/* Shuffles the records with the seed and splits them by the percentages pct[3] (train, valid,
 * test; they sum to 100). A non-zero share gets at least one record when there are enough.
 * Fails when no training record is left. */
int trn_data_split(trn_data *d, uint64_t seed, const double pct[3]);
void trn_data_free(trn_data *d);
static inline int trn_data_windows(const trn_data *d, int r, int seq) { return (int)(d->len[r] / seq); }

/* ---- the feed: TBPTT windows for the rows of a batch ---- */

typedef struct {
	int batch, history, seq, levels;
	int *lane_rec;          /* record each row is walking through (-1: none yet) */
	int *lane_win;          /* next window of that record */
	int *order;             /* this epoch's order of the training records */
	int norder, cursor;     /* records dealt so far in this epoch */
	long epoch;             /* epochs completed */
	sh_rng rng;             /* reshuffles the order at each new epoch */
} trn_feed;

int trn_feed_init(trn_feed *f, const trn_data *d, int batch, int history, int seq, int levels,
		  uint64_t seed);
void trn_feed_free(trn_feed *f);
/* Fills codes (batch × (history + seq)) with every row's next window; reset[b] = 1 where row b
 * starts a record (its recurrent state must be reset first), else 0. */
void trn_feed_next(trn_feed *f, const trn_data *d, uint16_t *codes, unsigned char *reset);
/* Epochs done as a fraction (completed epochs + share of this epoch's records dealt). */
double trn_feed_epoch(const trn_feed *f);
/* Copies one window of record r into a row of history + seq codes. */
void trn_window_row(const trn_data *d, int r, int w, int history, int seq, int levels, uint16_t *row);

/* ---- training (lib/train.c) ---- */

enum { TRN_CLIP_NONE, TRN_CLIP_ELEMENTWISE, TRN_CLIP_NORM };

typedef struct {
	model_config model;
	double lr, beta1, beta2, eps;   /* Adam, torch semantics */
	int clip;                       /* TRN_CLIP_* */
	double clip_value;
	uint64_t seed;
	double split[3];                /* percentages of train, valid, test */
	int sample_rate;
	char quantization[32];          /* how the codes were made: "mulaw" ... */
} trn_options;

typedef struct {
	trn_options opt;
	model *m;
	size_t nparams;
	float *adam_m, *adam_v;         /* nparams each */
	float *state;                   /* recurrent state of the batch rows, carried */
	size_t state_floats;
	uint16_t *codes;                /* batch × (history + seq) */
	unsigned char *reset;           /* batch */
	trn_feed feed;
	long step;                      /* optimizer steps taken */
	double best_bits;               /* best validation bits so far (INFINITY: none) */
	double log_nats;                /* training loss summed since the last log row ... */
	long log_steps;                 /* ... over this many steps */
	/* validation scratch: records sorted by window count, own state */
	int *valid_sorted;
	float *eval_state;
} trn_run;

/* Creates the model and optimizer for opt on d (already split), parameters initialised from
 * the seed. */
int trn_run_init(trn_run *t, const trn_options *opt, const trn_data *d);
void trn_run_free(trn_run *t);

/* One optimizer step: the next windows, forward and backward, clipping, Adam (nn.h's
 * adam_step, torch semantics). Returns the mean
 * cross-entropy of the batch in nats (not finite: the parameters are left as they were before
 * the step and the caller should stop). */
double trn_step(trn_run *t, const trn_data *d);

/* Clips gradients: elementwise to ±value, or scales them so that their global L2 norm is at
 * most value. Returns the norm before clipping (not finite when a gradient is not). */
double trn_clip(float *g, size_t n, int mode, double value);

/* Mean cross-entropy in bits per sample over every window of records recs[0..n) (state reset
 * at each record's start and carried through its windows). NAN when n is 0 or *stop was set. */
double trn_evaluate(trn_run *t, const trn_data *d, const int *recs, int n,
		    volatile sig_atomic_t *stop);

/* Checkpoints: parameters under their state_dict names, "adam.m.NAME" and "adam.v.NAME",
 * "train.state" (the carried recurrent state), and __metadata__ holding the architecture,
 * the hyper-parameters, step, epoch, seed, RNG state, data position and fingerprint, sample
 * rate and quantisation (docs/qtrain.md lists the keys). No wall-clock field: the same run
 * gives the same bytes. Written atomically. */
int trn_save(const trn_run *t, const trn_data *d, const char *path);
/* Reads a checkpoint's architecture (SampleRNN or WaveNet, by its `model` key) and training
 * options (for --resume and for qsample). Returns -1 with an error for anything that is not a
 * checkpoint of ours. */
int trn_meta_options(const st_file *sf, trn_options *opt);
/* Restores everything trn_save wrote into t, created with the same options and data;
 * refuses a checkpoint of another architecture, batch or data set. */
int trn_load(trn_run *t, const trn_data *d, const st_file *sf);
/* The first architecture field where a and b differ, written into buf ("dim: 64 in the
 * checkpoint, 512 asked"); returns 0 when they are the same. */
int trn_config_diff(const srnn_config *ckpt, const srnn_config *asked, char *buf, size_t cap);
/* The same for either model (another model is a difference too). */
int trn_model_diff(const model_config *ckpt, const model_config *asked, char *buf, size_t cap);
/* "16" or "64,16". */
void trn_frame_sizes_str(const srnn_config *cfg, char *buf, size_t cap);
/* Parses "64,16" (any order; sorted coarsest first) into cfg. */
int trn_parse_frame_sizes(const char *s, srnn_config *cfg);

/* ---- the run directory ---- */

typedef struct {
	long step;
	double epoch, train_bits, valid_bits, samples_per_s, lr, seconds;
} trn_log_row;

typedef struct {
	trn_log_row *rows;
	int n, cap;
} trn_log;

/* Writes RUNDIR/last.safetensors. With full: first the validation bits (over d->valid), the
 * log row (train bits averaged since the previous row, then restarted), RUNDIR/best.safetensors
 * when the validation bits (the train bits without a validation set) are the best so far,
 * RUNDIR/log.tsv and RUNDIR/loss.png. Without full (or when *stop is raised during the
 * validation): the checkpoint only. seconds and samples_per_s go into the log row, which is
 * also returned in row. Returns 0, -1 with an error, or 1 without writing anything when the
 * validation loss is not finite (the parameters have diverged). */
int trn_checkpoint(trn_run *t, const trn_data *d, const char *rundir, trn_log *log, int full,
		   double seconds, double samples_per_s, volatile sig_atomic_t *stop, trn_log_row *row);

/* Reads RUNDIR/log.tsv if it exists, keeping only the rows up to step max_step. */
int trn_log_read(trn_log *l, const char *path, long max_step);
int trn_log_append(trn_log *l, const trn_log_row *row);
/* Rewrites the whole log atomically. */
int trn_log_write(const trn_log *l, const char *path);
/* Draws the train and valid curves of the log. */
int trn_log_plot(const trn_log *l, const char *path);
void trn_log_free(trn_log *l);

/* ---- clips while training ---- */

/* mulaw_mode of a checkpoint's quantisation name ("mulaw", "dadabots", "linear"), or -1. */
int trn_quant_mode(const char *name);
/* Generates n clips of `seconds` from the model as it is now, with generate.h (qsample's
 * generator): dir/stepSSSSSSS_K.wav, 16-bit at the run's rate, decoded with its quantisation.
 * Every call draws from the same streams (the run's seed), so clips differ by the model only,
 * and the training state is not touched. Unless prime is NULL, every clip continues its
 * prime_len codes (gen_load_prime). When *stop is raised, the unfinished clips are removed and
 * 0 returned. */
int trn_write_samples(trn_run *t, const char *dir, int n, double seconds, double temperature,
		      const uint16_t *prime, long prime_len, volatile sig_atomic_t *stop);

/* JSON string literal of s (quotes included) appended to a growing buffer. */
typedef struct {
	char *s;
	size_t n, cap;
} trn_buf;
void trn_buf_printf(trn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void trn_buf_json_str(trn_buf *b, const char *s);
/* Library versions as a JSON object body: "sndfile": "...", "openblas": "...", ... */
void trn_lib_versions_json(trn_buf *b);
/* Writes a buffer to path atomically. */
int trn_write_file(const char *path, const void *data, size_t n);

#endif
