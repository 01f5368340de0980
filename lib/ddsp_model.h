/* ddsp_model.h: the trained half of DDSP (magenta/ddsp's solo-instrument model): the RnnFcDecoder
 * from f0 and loudness to synth controls, the harmonic and filtered-noise synths and a learned
 * reverb, and the multi-scale spectral loss, each with its backward pass, for qtrain --model
 * ddsp and ddsp-harmonic transfer. The synths are the definitions of ddsp.h (held equal to
 * lib/ddsp.c by the unit test); here they are written again on `real` with their adjoints.
 *
 * lib/ddsp_model_real.c builds twice, as nn_real.c does: in float (these names) and in double
 * (the same names suffixed _f64), for the finite-difference tests and the PyTorch comparison
 * (tests/reference/ddsp_model.py is the same model in PyTorch).
 *
 * Layout: frame-rate activations are time-major (row t·batch + b), as nn.h's GRU wants; the
 * inputs, controls and audio of the API are per example ([batch][frames], [batch][samples]). */
#ifndef SHARKS_DDSP_MODEL_H
#define SHARKS_DDSP_MODEL_H

#include "params.h"
#include "safetensors.h"

#include <stddef.h>
#include <stdint.h>

#define DDSP_LN_EPS 1e-5    /* layer norm epsilon (torch's default) */
#define DDSP_LEAK 0.2       /* tf.nn.leaky_relu's slope */
#define DDSP_LOG_FLOOR 1e-5 /* safe_log of the spectral loss */
#define DDSP_MAX_PARAMS 64

typedef struct {
	int sample_rate, hop;     /* 16000, 64: 250 frames/s */
	int n_samples;            /* one example (64000: 4 s); a whole number of hops */
	int ch, layers, gru;      /* stack width, layers per stack (>= 1), GRU width */
	int n_harmonics, n_bands; /* K, B (B >= 3) */
	int reverb;               /* learned impulse response taps (0: no reverb) */
	int batch;                /* examples per step */
} ddsp_config;

/* tiny, small or paper; -1 with an error for another name. */
int ddsp_preset(const char *name, ddsp_config *c);
int ddsp_config_check(const ddsp_config *c);
/* The first field where a and b differ, written into buf; 0 when they are the same. */
int ddsp_config_diff(const ddsp_config *a, const ddsp_config *b, char *buf, size_t cap);
/* Checkpoint metadata: model=ddsp and one key per field; back again (refusing another model). */
int ddsp_config_to_meta(const ddsp_config *c, st_writer *w);
int ddsp_config_from_meta(const st_file *sf, ddsp_config *c);
static inline int ddsp_frames(const ddsp_config *c) { return c->n_samples / c->hop; }
/* Outputs of the decoder per frame: 1 + K + B. */
static inline int ddsp_n_out(const ddsp_config *c) { return 1 + c->n_harmonics + c->n_bands; }
/* FLOPs of the decoder, forward and backward, for `frames` frames (the synths and loss apart). */
double ddsp_decoder_flops(const ddsp_config *c, long frames);

/* The parameter table with the reference's names (ld_stack.0.dense.weight, ..., gru.weight_ih_l0,
 * ..., dense_out.weight, reverb.ir). */
int ddsp_param_table(const ddsp_config *c, param_table *t);

/* The network inputs DDSP uses: hz_to_midi(f0)/127 (0 for f0 <= 0 and below MIDI 0), and
 * loudness_db/80 + 1. */
double ddsp_f0_scaled(double f0_hz);
double ddsp_ld_scaled(double loudness_db);

#define DDSP_MODEL_DECLARE(real, S)                                                                                    \
	/* exp_sigmoid (ddsp.h's ddsp_exp_sigmoid) and its derivative, from x */                                       \
	real ddsp_scale_fn##S(real x);                                                                                 \
	real ddsp_scale_fn_grad##S(real x);                                                                            \
	/* Layer norm over the C channels of each of N rows: out = xhat·gamma + beta, writes the \
 * cache xhat[N×C] and rstd[N]. */                    \
	void ddsp_layernorm_forward##S(real *out, real *xhat, real *rstd, const real *inp, const real *gamma,          \
				       const real *beta, int N, int C);                                                \
	/* dinp[N×C] (written), dgamma, dbeta [C] (accumulated). dinp may be dout. */                                 \
	void ddsp_layernorm_backward##S(real *dinp, real *dgamma, real *dbeta, const real *dout, const real *xhat,     \
					const real *rstd, const real *gamma, int N, int C);                            \
	/* Harmonic synth of ddsp.h (ddsp_synth_harmonic) on controls already scaled: out[T·hop] is \
 * written from f0[T], amp[T], dist[T×K] (normalised inside, as DDSP does). -1 with an error \
 * when out of memory (both). */                 \
	int ddsp_harmonic_forward##S(real *out, const real *f0, const real *amp, const real *dist, int T, int K,       \
				     int hop, double sr);                                                              \
	/* damp[T], ddist[T×K] accumulated from dout[T·hop]. */                                                      \
	int ddsp_harmonic_backward##S(real *damp, real *ddist, const real *dout, const real *f0, const real *amp,      \
				      const real *dist, int T, int K, int hop, double sr);                             \
	/* The filter design as one matrix: ir[j] = Σ_b M[j×B + b]·mags[b] (irfft, Hann window in \
 * zero-phase position, causal rotation; L = 2(B-1) taps). M is [L×B]. */                 \
	void ddsp_noise_design##S(real *M, int B);                                                                     \
	/* out[T·hop] += noise[T·hop] filtered per hop block by irs[T×L], cropped as ddsp.h says. */                \
	void ddsp_noise_forward##S(real *out, const real *irs, const real *noise, int T, int L, int hop);              \
	/* dirs[T×L] (written) from dout[T·hop]. */                                                                  \
	void ddsp_noise_backward##S(real *dirs, const real *dout, const real *noise, int T, int L, int hop);           \
                                                                                                                       \
	/* FFT scratch and plans for one example of n samples (the loss, the reverb of R taps). */                     \
	typedef struct ddsp_fft##S ddsp_fft##S;                                                                        \
	ddsp_fft##S *ddsp_fft_new##S(size_t n, int R);                                                                 \
	void ddsp_fft_free##S(ddsp_fft##S *f);                                                                         \
	/* out[n] = x + x ⊛ ir (ir[0] taken as 0), causal, truncated to n. out may not be x. */                      \
	void ddsp_reverb_forward##S(ddsp_fft##S *f, real *out, const real *x, const real *ir);                         \
	/* dx[n] (written), dir[R] (accumulated; dir[0] stays) from dout[n]. */                                        \
	void ddsp_reverb_backward##S(ddsp_fft##S *f, real *dx, real *dir, const real *dout, const real *x,             \
				     const real *ir);                                                                  \
	/* Multi-scale spectral loss of a against the target b (ddsp_spectral_loss); when da is not \
 * NULL, da[n] += scale·dL/da. */                  \
	double ddsp_spectral_loss_grad##S(ddsp_fft##S *f, const real *a, const float *b, real *da, double scale);      \
                                                                                                                       \
	/* The whole model. */                                                                                         \
	typedef struct ddsp_net##S ddsp_net##S;                                                                        \
	/* For at most max_batch examples of at most max_frames frames (the synth and loss of \
 * config.n_samples; max_frames may be larger for decoding only). NULL with an error. */                        \
	ddsp_net##S *ddsp_net_new##S(const ddsp_config *c, int max_batch, int max_frames);                             \
	void ddsp_net_free##S(ddsp_net##S *m);                                                                         \
	const ddsp_config *ddsp_net_config##S(const ddsp_net##S *m);                                                   \
	size_t ddsp_net_num_params##S(const ddsp_net##S *m);                                                           \
	real *ddsp_net_params##S(ddsp_net##S *m);                                                                      \
	real *ddsp_net_grads##S(ddsp_net##S *m);                                                                       \
	const nn_param *ddsp_net_param_info##S(const ddsp_net##S *m, int i);                                           \
	/* torch's defaults: Linear and GRU uniform ±1/sqrt(fan_in), layer norm 1 and 0, reverb \
 * N(0, 1e-6) (DDSP's), from the seed. */                     \
	void ddsp_net_init_params##S(ddsp_net##S *m, uint64_t seed);                                                   \
	/* The decoder on f0_hz, loudness_db [batch][T]: controls amp[batch][T], harm[batch][T][K], \
 * noise[batch][T][B] (exp_sigmoid applied; the harmonics not yet normalised). h (batch×G, \
 * may be NULL: zeros) is the GRU state, updated to the last frame's. */                  \
	int ddsp_net_decode##S(ddsp_net##S *m, const float *f0_hz, const float *loudness_db, int batch, int T,         \
			       real *h, real *amp, real *harm, real *noise);                                           \
	/* The model on batch examples of config.n_samples: audio[batch][n] (may be NULL) = synth + \
 * reverb; with target not NULL returns the batch's mean spectral loss, and with backward \
 * also accumulates the gradients. White noise of example b from seeds[b]. NAN with an error \
 * on bad input. */                  \
	double ddsp_net_run##S(ddsp_net##S *m, const float *f0_hz, const float *loudness_db, const float *target,      \
			       int batch, const uint64_t *seeds, real *audio, int backward);

DDSP_MODEL_DECLARE(float, )
DDSP_MODEL_DECLARE(double, _f64)

#endif
