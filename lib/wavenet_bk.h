/* wavenet_bk.h: WaveNet's training step (forward, backward) over the backend seam of backend.h,
 * with the parameters, gradients and activations in the backend's memory: the model
 * lib/wavenet_real.c computes (the specification), as the device would run it: every input
 * layer (one-hot, embedded, scalar). model.h's model_use_backend drives it (docs/cuda.md). tests/unit/test_wavenet_bk.c holds
 * it to wn_forward_backward on the "cpu" and "kernels" backends, and on "cuda" where a GPU is. */
#ifndef SHARKS_WAVENET_BK_H
#define SHARKS_WAVENET_BK_H

#include "backend.h"
#include "wavenet.h"

#include <stddef.h>
#include <stdint.h>

typedef struct wnb wnb;

/* For at most max_batch rows of wn_receptive_field(cfg) + n_out codes; NULL with an error
 * (a configuration wn_create refuses, out of memory). */
wnb *wnb_create(backend *bk, const wn_config *cfg, int max_batch);
void wnb_free(wnb *m);
/* The parameters and gradients, in the backend's memory, in wn's layout (wn_param_info of a
 * wn of the same configuration): a wn's parameters upload as they are. */
size_t wnb_num_params(const wnb *m);
float *wnb_params(wnb *m);
float *wnb_grads(wnb *m);
/* One step on batch rows of codes (host memory): the mean cross-entropy in nats over the
 * targets; with backward, the gradients are added to wnb_grads. NAN with an error on bad codes
 * or a backend failure. */
double wnb_forward_backward(wnb *m, const uint16_t *codes, int batch, int backward);

#endif
