/* srnn_sample.h: step-by-step SampleRNN generation for qsample, LPCNet style: explicit state
 * buffers for every stream, weights prepared once (weight norm applied, the embedding folded
 * into the first sample-tier layer as FS lookup tables of D floats per code), nothing
 * allocated per sample. The frame tier runs once every FS samples, the sample tier every
 * sample, all streams together as one batch.
 *
 * It computes exactly what srnn_forward computes on the same codes (the teacher-forced test
 * holds the two equal), from the model's parameters found by their state_dict names. */
#ifndef SHARKS_SRNN_SAMPLE_H
#define SHARKS_SRNN_SAMPLE_H

#include "qmat.h"
#include "rng.h"
#include "samplernn.h"

#include <stdint.h>

typedef enum { SRNN_H0_ZERO, SRNN_H0_RANDOM, SRNN_H0_LEARNED } srnn_h0_mode;

typedef struct srnn_sampler srnn_sampler;

/* Prepares a sampler of n streams from the model's current parameters, its weight matrices
 * stored as wtype (QMAT_F32: exactly the model; f16, i8: fewer bytes to read per sample). */
srnn_sampler *srnn_sampler_create(srnn *m, int n, qmat_type wtype);
/* The largest relative error of a row of the stored weight matrices (0 for f32): a product's
 * row r is off by at most this times ‖w_r‖·‖x‖ (qmat_error). */
double srnn_sampler_weight_error(const srnn_sampler *s);
void srnn_sampler_free(srnn_sampler *s);
/* Starts every stream again: the history holds Q/2 codes (as the first training window) and
 * the recurrent state is zero, random (uniform in [-1, 1), from stream b's rngs[b]) or the
 * learned h0. Each stream draws only from its own generator, so a stream's output does not
 * depend on which others are generated beside it (up to BLAS rounding across batch sizes). */
void srnn_sampler_reset(srnn_sampler *s, srnn_h0_mode h0, sh_rng *rngs);
/* Probabilities of the next code of every stream, n × Q, at temperature 1 (the model's own). */
const float *srnn_sampler_probs(srnn_sampler *s);
/* Draws the next code of every stream from the logits divided by temperature (argmax when
 * temperature <= 1e-4), stream b from rngs[b], and appends it; codes[n] receives the draws. */
void srnn_sampler_draw(srnn_sampler *s, float temperature, sh_rng *rngs, int *codes);
/* One code drawn from softmax(logits / temperature) over Q levels by inverse CDF with one
 * uniform from rng (argmax when temperature <= 1e-4); probs[Q] is scratch. */
int srnn_draw(const float *logits, int Q, float temperature, sh_rng *rng, float *probs);
/* Appends given codes, codes[b] to stream b (teacher forcing), instead of drawing. */
void srnn_sampler_push(srnn_sampler *s, const int *codes);
/* Primes every stream with the same len codes, each in [0, Q), as if they had been drawn: the
 * frame tiers run on them (the sample tier, which keeps no state, does not), so that drawing
 * continues from exactly the state generating them would have left; any len, not only whole
 * frames. */
void srnn_sampler_prime(srnn_sampler *s, const uint16_t *codes, long len);

#endif
