/* wavenet_sample.h: fast WaveNet generation for qsample (Paine et al., "Fast Wavenet Generation
 * Algorithm"): every layer keeps, per stream, a queue (ring buffer) of its last `dilation`
 * inputs, so a new sample costs one width-2 step per layer instead of a pass over the receptive
 * field. The one-hot or embedded input conv is two table lookups (the embedding folded into the
 * taps once), the scalar input conv W taps over the stream's last W codes; the skip convs are
 * products on the concatenated z of a few layers at a time; all streams go together as one batch
 * (threads take bands of streams through the whole network; one stream is pipelined over two
 * threads, the layers on one, their past taps and most skips on the other). Nothing is allocated
 * per sample.
 *
 * Start: the history is Q/2 codes (as qtrain pads before a record's start), and every queue
 * holds what the layers compute on such a history: the generator then computes exactly what
 * wn_forward computes on a row whose first rf codes are Q/2 followed by the generated codes
 * (the teacher-forced test holds the two equal), within and beyond the receptive field. */
#ifndef SHARKS_WAVENET_SAMPLE_H
#define SHARKS_WAVENET_SAMPLE_H

#include "qmat.h"
#include "rng.h"
#include "wavenet.h"

#include <stdint.h>

typedef struct wn_sampler wn_sampler;

/* Prepares a sampler of n streams from the model's current parameters (copied: the model may
 * be freed or trained on afterwards), its weight matrices stored as wtype (QMAT_F32: exactly
 * the model; f16, i8: fewer bytes to read per sample). */
wn_sampler *wn_sampler_create(wn *m, int n, qmat_type wtype);
/* The largest relative error of a row of the stored weight matrices (0 for f32; qmat_error). */
double wn_sampler_weight_error(const wn_sampler *s);
void wn_sampler_free(wn_sampler *s);
/* Steps of fewer multiply-adds (all streams) than this stay on one thread (default 1e8, about 64
 * default streams: a fork per step costs a scheduler slice on a loaded machine); 0 threads every
 * step of two or more streams, for tests. One stream always runs on one thread. For throughput on
 * several cores, run one sampler per thread, each on its own streams: no synchronisation at all. */
void wn_sampler_set_par_min(wn_sampler *s, double mac);
/* One stream on two threads: thread 0 sums the skip rows 0..rows0-1 after the layers, thread 1
 * the others (clamped to [0, skip channels]). The sampler moves rows0 itself towards the split
 * where both finish together; the results do not depend on it (for tests). */
void wn_sampler_set_split(wn_sampler *s, int rows0);
/* Starts every stream again from a history of Q/2 codes. */
void wn_sampler_reset(wn_sampler *s);
/* Probabilities of the next code of every stream, n × Q, at temperature 1. */
const float *wn_sampler_probs(wn_sampler *s);
/* Draws the next code of every stream from softmax(logits / temperature) (argmax when
 * temperature <= 1e-4) with srnn_draw, stream b from rngs[b], and appends it; codes[n]
 * receives the draws. A stream's draws do not depend on the other streams. */
void wn_sampler_draw(wn_sampler *s, float temperature, sh_rng *rngs, int *codes);
/* Appends given codes, each in [0, Q) (teacher forcing), instead of drawing. */
void wn_sampler_push(wn_sampler *s, const int *codes);
/* Primes every stream with the same len codes, each in [0, Q), as if they had been drawn: the
 * layers run on them and fill their queues (the skips and the head, which keep no state, do
 * not), so that drawing continues from exactly the state generating them would have left. */
void wn_sampler_prime(wn_sampler *s, const uint16_t *codes, long len);

#endif
