/* samplernn.h: SampleRNN (2-tier as the dadabots run it, 3-tier and deeper as PRiSM's), the
 * model behind qtrain and qsample. This header is the contract between the model (lib/) and
 * its drivers (filters/qtrain.c, filters/qsample.c).
 *
 * Tiers: frame tiers from the coarsest to the finest, each of `layers` LSTM/GRU layers of
 * width dim over frames of frame_size[i] codes rescaled to [-2, 2], then the sample tier.
 * A training row holds srnn_history(cfg) + seq codes: the first `history` codes precede the
 * first target; the targets are the last seq codes.
 *
 * Parameters, gradients and Adam moments each live in one float array of srnn_num_params()
 * values; srnn_param_info() names the slices with the PyTorch state_dict keys of the reference
 * (tests/reference/samplernn.py), e.g. "rnns.0.weight_ih_l0", "outs.0.lin.weight_v". */
#ifndef SHARKS_SAMPLERNN_H
#define SHARKS_SAMPLERNN_H

#include "params.h"
#include "safetensors.h"

#include <stddef.h>
#include <stdint.h>

#define SRNN_MAX_TIERS 4 /* frame tiers */
enum { SRNN_LSTM, SRNN_GRU };

typedef struct {
	int nframe_tiers;               /* 1 for 2-tier SampleRNN, 2 for 3-tier */
	int frame_size[SRNN_MAX_TIERS]; /* coarsest first: {16} or {64, 16}; each divides the previous */
	int dim;                        /* D: RNN width and sample-tier width */
	int layers;                     /* RNN layers per frame tier */
	int rnn;                        /* SRNN_LSTM or SRNN_GRU */
	int embed;                      /* E: sample-tier embedding size */
	int levels;                     /* Q: quantisation levels */
	int learn_h0;                   /* learned initial state */
	int rnn_weight_norm;            /* weight norm on the RNN matrices too (dadabots) */
	int seq;                        /* truncated-BPTT window, in samples */
	int batch;                      /* rows per training step */
} srnn_config;

/* Fills cfg from a preset: "tiny", "small", "medium", "dadabots" (the peer's PRESETS). */
int srnn_preset(const char *name, srnn_config *cfg);
/* Checks a configuration; records an error naming the bad field. */
int srnn_config_check(const srnn_config *cfg);
/* Codes that precede the first target in a row: the coarsest frame size. */
int srnn_history(const srnn_config *cfg);
/* Floating-point operations (2 per multiply-add) of the matrix products of one training window
 * of `batch` rows, forward and backward, as lib/samplernn_real.c computes them (the sample
 * tier's first linear as lookup tables): for GFLOP/s figures. */
double srnn_train_flops(const srnn_config *cfg, int batch);

/* Checkpoint metadata (safetensors __metadata__, all strings): model "samplernn", frame_sizes
 * "64,16", dim, layers, rnn "lstm" | "gru", embed, levels, learn_h0, rnn_weight_norm, seq,
 * batch. */
int srnn_config_to_meta(const srnn_config *cfg, st_writer *w);
/* Reads the keys above back; fails with a message naming the bad key. */
int srnn_config_from_meta(const st_file *sf, srnn_config *cfg);
/* The first field where a checkpoint's configuration and the one asked for differ, written into
 * buf ("dim 64 in the checkpoint, 512 asked"), 1; 0 when they are the same. */
int srnn_config_diff(const srnn_config *ckpt, const srnn_config *asked, char *buf, size_t cap);
/* "16" or "64,16"; and back (any order; sorted coarsest first). */
void srnn_frame_sizes_str(const srnn_config *cfg, char *buf, size_t cap);
int srnn_parse_frame_sizes(const char *s, srnn_config *cfg);
/* "lstm" or "gru". */
const char *srnn_rnn_name(int rnn);

/* A parameter slice (params.h) */
typedef nn_param srnn_param;

typedef struct srnn srnn;

/* Allocates a model for at most max_batch rows of cfg->seq samples (parameters, gradients,
 * activations: one allocation each). */
srnn *srnn_create(const srnn_config *cfg, int max_batch);
void srnn_free(srnn *m);
const srnn_config *srnn_cfg(const srnn *m);
/* Initialises parameters as the peer does (He/uniform, weight-norm g = ‖v‖, forget bias 3). */
void srnn_init_params(srnn *m, uint64_t seed);

size_t srnn_num_params(const srnn *m);
float *srnn_params(srnn *m);
float *srnn_grads(srnn *m);
int srnn_param_count(const srnn *m);
const srnn_param *srnn_param_info(const srnn *m, int i);

/* Recurrent state of `batch` rows (h and c of every layer of every tier, then one flag per row
 * that srnn_state_reset sets so that the next window's gradient reaches the learned h0),
 * carried from window to window of a record by the caller. */
size_t srnn_state_floats(const srnn *m, int batch);
/* Sets row b of the state to the initial state (learned h0, else zeros). */
void srnn_state_reset(const srnn *m, float *state, int batch, int b);
/* Copies rows [src_row0, src_row0 + rows) of a state of src_batch rows to rows from dst_row0
 * of one of dst_batch rows (a rank's rows out of the whole batch's state, and back). */
void srnn_state_copy_rows(const srnn *m, float *dst, int dst_batch, int dst_row0, const float *src, int src_batch,
			  int src_row0, int rows);

/* One truncated-BPTT window: codes is batch × (history + seq) row-major. Updates state in
 * place to the state after the window. Returns the mean cross-entropy in nats over
 * batch × seq targets. With grads, accumulates (+=) d(mean loss)/d(params) into srnn_grads().
 * A code >= levels or a batch beyond max_batch: NAN, with the error recorded. */
double srnn_forward(srnn *m, const uint16_t *codes, int batch, float *state);
double srnn_forward_backward(srnn *m, const uint16_t *codes, int batch, float *state);
/* After srnn_forward: probabilities of every level at every target, batch × seq × Q. */
const float *srnn_last_logits(const srnn *m);

/* Plain reference kernels instead of the optimised ones (the sample tier's first linear then
 * runs as embedding lookups and a product per position instead of the folded tables), for the
 * test that holds them equal. */
void srnn_use_reference(srnn *m, int on);

/* The same model in double precision (lib/samplernn_real.c compiled with -DREAL_F64), for
 * finite-difference tests: the model functions above, suffixed _f64, on double. */
typedef struct srnn_f64 srnn_f64;
srnn_f64 *srnn_create_f64(const srnn_config *cfg, int max_batch);
void srnn_free_f64(srnn_f64 *m);
void srnn_init_params_f64(srnn_f64 *m, uint64_t seed);
size_t srnn_num_params_f64(const srnn_f64 *m);
double *srnn_params_f64(srnn_f64 *m);
double *srnn_grads_f64(srnn_f64 *m);
int srnn_param_count_f64(const srnn_f64 *m);
const srnn_param *srnn_param_info_f64(const srnn_f64 *m, int i);
size_t srnn_state_floats_f64(const srnn_f64 *m, int batch);
void srnn_state_reset_f64(const srnn_f64 *m, double *state, int batch, int b);
void srnn_state_copy_rows_f64(const srnn_f64 *m, double *dst, int dst_batch, int dst_row0, const double *src,
			      int src_batch, int src_row0, int rows);
double srnn_forward_f64(srnn_f64 *m, const uint16_t *codes, int batch, double *state);
double srnn_forward_backward_f64(srnn_f64 *m, const uint16_t *codes, int batch, double *state);
const double *srnn_last_logits_f64(const srnn_f64 *m);
void srnn_use_reference_f64(srnn_f64 *m, int on);

#endif
