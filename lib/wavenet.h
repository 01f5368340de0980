/* wavenet.h: WaveNet as tensorflow-wavenet builds it (the network of the PyTorch reference
 * tests/reference/wavenet.py, class WaveNet), for qtrain and qsample; see docs/wavenet.md.
 *
 * Network: an input layer to R residual channels (wn_input: one-hot of Q codes → causal conv
 * of width 2; or a learned embedding [Q × E] → causal conv of width 2 from E channels; or the
 * code as one scalar in [-1, 1) → causal conv of width W from 1 channel); per layer of
 * dilation d: filter and gate = dilated causal convs (width 2) R → C with biases,
 * z = tanh(filter)·σ(gate), residual x = x[d:] + 1×1(C → R)(z), skip 1×1(C → S)(z) of the last
 * n_out positions; Σ skips → ReLU → 1×1 S → S → ReLU → 1×1 S → Q logits.
 *
 * A training row holds wn_receptive_field(cfg) + n_out codes: the last n_out are the targets,
 * each predicted from the rf codes before it (exactly the peer's forward(codes, n_out) with
 * cross_entropy against codes[:, -n_out:]). There is no recurrent state between windows.
 *
 * Parameters, gradients and Adam moments each live in one array of wn_num_params() values;
 * wn_param_info() names the slices with the peer's state_dict keys and shapes, e.g.
 * "causal.weight" [R, Q, 2] (embed: "embed.weight" [Q, E] and "causal.weight" [R, E, 2];
 * scalar: "causal.weight" [R, 1, W]), "filt.3.weight" [C, R, 2], "gate.3.bias" [C], "res.3.weight"
 * [R, C, 1], "skip.3.weight" [S, C, 1], "post1.weight" [S, S, 1], "post2.bias" [Q]. */
#ifndef SHARKS_WAVENET_H
#define SHARKS_WAVENET_H

#include "params.h"
#include "safetensors.h"

#include <stddef.h>
#include <stdint.h>

#define WN_MAX_LAYERS 512
#define WN_MAX_EMBED 8192
#define WN_MAX_INITIAL_WIDTH 4096

/* The input layer (metadata key "input"). */
typedef enum {
	WN_INPUT_ONEHOT, /* "onehot": one-hot of the code, causal conv Q → R, width 2 */
	WN_INPUT_EMBED,  /* "embed": embedding [Q × E], causal conv E → R, width 2 */
	WN_INPUT_SCALAR, /* "scalar": tensorflow-wavenet's scalar_input, the code as
	                           x = code / (Q/2) - 1, causal conv 1 → R of width W */
} wn_input;

typedef struct {
	int nlayers;
	int dilation[WN_MAX_LAYERS]; /* each >= 1 */
	int res_ch;                  /* R: residual channels */
	int dil_ch;                  /* C: dilation (filter/gate) channels */
	int skip_ch;                 /* S: skip channels */
	int levels;                  /* Q */
	int n_out;                   /* targets per training row */
	int batch;                   /* rows per training step */
	int input;                   /* wn_input; 0 (onehot) in a zeroed config */
	int embed;                   /* E, the embedding size: with WN_INPUT_EMBED only, else 0 */
	int initial_width;           /* W, the scalar input conv's width: WN_INPUT_SCALAR only,
	                                  else 0 */
} wn_config;

/* "onehot", "embed", "scalar"; the parse fails with an error listing them. */
const char *wn_input_name(int input);
int wn_input_parse(const char *name, int *input);
/* Width of the input layer's causal conv: 2, or W for scalar input. */
int wn_input_width(const wn_config *cfg);
/* The scalar input of a code (WN_INPUT_SCALAR): code / (Q/2) - 1, Q/2 rounded down, so that
 * the padding code Q/2 is exactly 0; in [-1, 1) for even Q. */
static inline float wn_code_scalar(int code, int levels) { return (float)code / (float)(levels / 2) - 1.0f; }

/* Fills cfg from a preset: "tiny" or "default" (the peer's PRESETS table). */
int wn_preset(const char *name, wn_config *cfg);
/* Checks a configuration; records an error naming the bad field. */
int wn_config_check(const wn_config *cfg);
/* Codes that one output sees, Σ dilations + the input conv's width (2, or W for scalar
 * input; tensorflow-wavenet's (filter_width - 1)·Σd + 1 + (initial_width - 1)): a row holds
 * rf + n_out codes. */
int wn_receptive_field(const wn_config *cfg);
/* Floating-point operations (2 per multiply-add) of the matrix products of one training step
 * of `batch` rows, forward and backward, as lib/wavenet_real.c computes them. */
double wn_train_flops(const wn_config *cfg, int batch);

/* Checkpoint metadata (safetensors __metadata__, all strings):
 *   model "wavenet", input "onehot" | "embed" | "scalar", embed E (embed input only),
 *   initial_width W (scalar input only), dilations "1,2,4,...", residual_channels R,
 *   dilation_channels C, skip_channels S, levels Q, n_out, batch, receptive_field (written
 *   for people; checked against the dilations when read). No "input" reads as onehot; an
 *   unknown one is refused. */
int wn_config_to_meta(const wn_config *cfg, st_writer *w);
/* Reads the keys above back; fails with a message naming the bad key. */
int wn_config_from_meta(const st_file *sf, wn_config *cfg);
/* The first field where a checkpoint's configuration and the one asked for differ (into buf),
 * 1; 0 when they are the same. */
int wn_config_diff(const wn_config *ckpt, const wn_config *asked, char *buf, size_t cap);
/* Writes the dilations as "1,2,4" into buf; parses them back (also accepts "1..512x5", i.e.
 * the powers of two from 1 to 512 repeated 5 times). */
int wn_dilations_str(const wn_config *cfg, char *buf, size_t size);
int wn_parse_dilations(const char *s, wn_config *cfg);

/* A parameter slice (params.h) */
typedef nn_param wn_param;

typedef struct wn wn;

/* Allocates a model for at most max_batch rows of rf + n_out codes (parameters, gradients,
 * activations: one allocation each). */
wn *wn_create(const wn_config *cfg, int max_batch);
void wn_free(wn *m);
const wn_config *wn_cfg(const wn *m);
/* torch's default Conv1d initialisation: weights and biases uniform in ±1/√fan_in,
 * fan_in = in_channels × width. */
void wn_init_params(wn *m, uint64_t seed);

size_t wn_num_params(const wn *m);
float *wn_params(wn *m);
float *wn_grads(wn *m);
int wn_param_count(const wn *m);
const wn_param *wn_param_info(const wn *m, int i);
/* The slice named `name`, or NULL (with an error) when there is none. */
const wn_param *wn_param_find(const wn *m, const char *name);

/* One training step's forward pass on codes, batch × (rf + n_out) row-major. Returns the mean
 * cross-entropy in nats over batch × n_out targets. With _backward, accumulates (+=)
 * d(mean loss)/d(params) into wn_grads(). A code >= levels or a batch beyond max_batch: NAN,
 * with the error recorded. */
double wn_forward(wn *m, const uint16_t *codes, int batch);
double wn_forward_backward(wn *m, const uint16_t *codes, int batch);
/* Virtual rows per row: a model made for fewer rows than threads computes each row as this many
 * parts of n_out / split targets, each with its own receptive field (so that the threads take
 * whole parts; the same numbers up to rounding). 1 when not split. */
int wn_rows_split(const wn *m);
/* After wn_forward: probabilities of every level at every target, batch × n_out × Q. */
const float *wn_last_probs(const wn *m);

/* The same model in double precision (lib/wavenet_real.c compiled with -DREAL_F64), for
 * finite-difference tests. */
typedef struct wn_f64 wn_f64;
wn_f64 *wn_create_f64(const wn_config *cfg, int max_batch);
void wn_free_f64(wn_f64 *m);
void wn_init_params_f64(wn_f64 *m, uint64_t seed);
size_t wn_num_params_f64(const wn_f64 *m);
double *wn_params_f64(wn_f64 *m);
double *wn_grads_f64(wn_f64 *m);
int wn_param_count_f64(const wn_f64 *m);
const wn_param *wn_param_info_f64(const wn_f64 *m, int i);
double wn_forward_f64(wn_f64 *m, const uint16_t *codes, int batch);
double wn_forward_backward_f64(wn_f64 *m, const uint16_t *codes, int batch);
const double *wn_last_probs_f64(const wn_f64 *m);

/* The layer kernels, exposed for their finite-difference tests (float and _f64 builds).
 *
 * Dilated causal conv of width 2 over B rows: x [B × L × In] → out [B × (L-d) × O],
 * out[b,t] = w[:,:,0]·x[b,t] + w[:,:,1]·x[b,t+d] + bias, w [O × In × 2] in torch's Conv1d
 * layout (tap 0 the past, tap 1 the present), bias may be NULL. xs is scratch
 * [B·(L-d) × 2In] (the pairs interleaved as w's rows, so that the conv is one gemm); the
 * backward needs what the forward left there. Backward: dx [B × L × In] +=, dw +=, dbias +=
 * (each may be NULL); dxs is scratch [B·(L-d) × 2In]. */
void wn_dconv_forward(float *out, float *xs, const float *x, const float *w, const float *bias, int B, int L, int In,
		      int O, int d);
void wn_dconv_backward(float *dx, float *dw, float *dbias, float *dxs, const float *dout, const float *xs,
		       const float *w, int B, int L, int In, int O, int d);
void wn_dconv_forward_f64(double *out, double *xs, const double *x, const double *w, const double *bias, int B, int L,
			  int In, int O, int d);
void wn_dconv_backward_f64(double *dx, double *dw, double *dbias, double *dxs, const double *dout, const double *xs,
			   const double *w, int B, int L, int In, int O, int d);
/* Gated unit over N positions: fg [N × 2C] holds filter then gate pre-activations and is
 * overwritten by tanh(filter), σ(gate); z [N × C] = their product.
 * Backward: dfg [N × 2C] (written) from dz [N × C] and the activated fg. */
void wn_gate_forward(float *z, float *fg, size_t N, int C);
void wn_gate_backward(float *dfg, const float *dz, const float *fg, size_t N, int C);
void wn_gate_forward_f64(double *z, double *fg, size_t N, int C);
void wn_gate_backward_f64(double *dfg, const double *dz, const double *fg, size_t N, int C);

/* The input layers' kernels (float and _f64).
 * Embedded input: the embedding emb [Q × E] followed by the causal conv w [R × E × 2] (torch
 * layout) is, per code, a table of taps: tab [Q × 2 × R], tab[q][k] = w[:, :, k]·emb[q]
 * (wpair [2R × E] is scratch that the backward needs). Backward from dtab [Q × 2 × R]:
 * demb +=, dw +=; dwpair [2R × E] is scratch.
 * Scalar input: rows[b] points to L + W - 1 codes of row b; out [B × L × R] = bias +
 * w [R × W]·(s(c[t]), …, s(c[t+W-1])), s = wn_code_scalar; sx [B·L × W] is scratch that the
 * backward needs. Backward: dw +=, dbias += from dout [B × L × R]. */
void wn_embed_taps_forward(float *tab, float *wpair, const float *emb, const float *w, int Q, int E, int R);
void wn_embed_taps_backward(float *demb, float *dw, float *dwpair, const float *dtab, const float *wpair,
			    const float *emb, int Q, int E, int R);
void wn_scalar_conv_forward(float *out, float *sx, const uint16_t *const *rows, int B, int L, int W, int R, int Q,
			    const float *w, const float *bias);
void wn_scalar_conv_backward(float *dw, float *dbias, const float *dout, const float *sx, const float *w, int B, int L,
			     int W, int R);
void wn_embed_taps_forward_f64(double *tab, double *wpair, const double *emb, const double *w, int Q, int E, int R);
void wn_embed_taps_backward_f64(double *demb, double *dw, double *dwpair, const double *dtab, const double *wpair,
				const double *emb, int Q, int E, int R);
void wn_scalar_conv_forward_f64(double *out, double *sx, const uint16_t *const *rows, int B, int L, int W, int R, int Q,
				const double *w, const double *bias);
void wn_scalar_conv_backward_f64(double *dw, double *dbias, const double *dout, const double *sx, const double *w,
				 int B, int L, int W, int R);

#endif
