/* model.h: the models qtrain trains and qsample samples, behind one interface: SampleRNN
 * (samplernn.h) or WaveNet (wavenet.h). What the training loop needs of a model is the same
 * for both: a row of history + seq codes whose last seq are the targets, parameters and
 * gradients in one array each with named slices, and a recurrent state carried from window to
 * window (none for WaveNet: 0 floats, resets do nothing). */
#ifndef SHARKS_MODEL_H
#define SHARKS_MODEL_H

#include "samplernn.h"
#include "wavenet.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { MODEL_SAMPLERNN, MODEL_WAVENET } model_kind;

typedef struct {
	model_kind kind;
	srnn_config srnn; /* when kind is MODEL_SAMPLERNN */
	wn_config wn;     /* when kind is MODEL_WAVENET */
} model_config;

/* "samplernn", "wavenet": the checkpoints' `model` key. */
const char *model_kind_name(model_kind kind);
/* Parses such a name; -1 with an error for another. */
int model_kind_parse(const char *name, model_kind *kind);
int model_config_check(const model_config *c);
/* Codes of a row before its first target (SampleRNN: the coarsest frame size; WaveNet: the
 * receptive field), targets per row (seq; n_out), rows per step, levels. */
int model_history(const model_config *c);
int model_seq(const model_config *c);
int model_batch(const model_config *c);
int model_levels(const model_config *c);
/* FLOPs of one training step of `batch` rows (srnn_train_flops, wn_train_flops). */
double model_train_flops(const model_config *c, int batch);

/* The first architecture field where a checkpoint's configuration and the one asked for differ,
 * written into buf ("dim 64 in the checkpoint, 512 asked"; another model is a difference
 * too), 1; 0 when they are the same. */
int model_config_diff(const model_config *ckpt, const model_config *asked, char *buf, size_t cap);
/* The model's checkpoint metadata (srnn_config_to_meta, wn_config_to_meta) and back, by the
 * `model` key. */
int model_config_to_meta(const model_config *c, st_writer *w);
int model_config_from_meta(const st_file *sf, model_config *c);

/* A parameter slice (params.h), as srnn_param and wn_param. */
typedef nn_param model_param;

struct backend;
struct wnb;
typedef struct {
	model_kind kind;
	srnn *srnn;
	wn *wn;
	int max_batch;
	/* model_use_backend: the step runs there (the caller's backend; the model's own copy of
	 * the parameters and gradients there, and a host buffer for the gradients coming back) */
	struct backend *bk;
	struct wnb *dev;
	float *dev_grads;
} model;

/* Creates the model for at most max_batch rows; NULL with an error. */
model *model_create(const model_config *c, int max_batch);
void model_free(model *m);
void model_init_params(model *m, uint64_t seed);
size_t model_num_params(const model *m);
float *model_params(model *m);
float *model_grads(model *m);
int model_param_count(const model *m);
model_param model_param_info(const model *m, int i);
/* Recurrent state of `batch` rows (0 for WaveNet) and the reset of row b (nothing for
 * WaveNet). */
size_t model_state_floats(const model *m, int batch);
void model_state_reset(const model *m, float *state, int batch, int b);
/* srnn_state_copy_rows (nothing for WaveNet). */
void model_state_copy_rows(const model *m, float *dst, int dst_batch, int dst_row0, const float *src, int src_batch,
			   int src_row0, int rows);
/* What of this configuration does not run on a backend other than the CPU yet ("SampleRNN"),
 * or NULL when it does (WaveNet: wavenet_bk.h). */
const char *model_device_unported(const model_config *c);
/* From now on model_forward and model_forward_backward run on bk (which must outlive the
 * model): each call uploads the parameters, runs the step there, and adds the gradients that
 * come back to model_grads(), so that everything else (Adam, clipping, checkpoints, sampling)
 * stays on the host as it is. -1 with an error for a model that is not ported. */
int model_use_backend(model *m, struct backend *bk);
/* A training window: codes is batch × (history + seq); the mean cross-entropy in nats over the
 * targets (NAN with an error on bad input); _backward accumulates into model_grads(). state is
 * ignored by WaveNet. */
double model_forward(model *m, const uint16_t *codes, int batch, float *state);
double model_forward_backward(model *m, const uint16_t *codes, int batch, float *state);

#endif
