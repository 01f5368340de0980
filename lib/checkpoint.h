/* checkpoint.h: a training run saved in one safetensors file and read back (lib/checkpoint.c),
 * for qtrain's --resume and for qsample. */
#ifndef SHARKS_CHECKPOINT_H
#define SHARKS_CHECKPOINT_H

#include "safetensors.h"
#include "train.h"

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
/* The model a checkpoint describes (SampleRNN or WaveNet, by its metadata, whose options go to
 * opt), for generating max_batch streams at once, its parameters loaded by name (NaN and
 * infinities refused, naming the tensor); NULL with an error. */
model *trn_load_model(const st_file *sf, int max_batch, trn_options *opt);
/* The identity of a run: a hash of what a resume may not change (the architecture, seed,
 * split, data fingerprint, sample rate, quantisation). Two runs with one identity are the
 * same run, byte for byte on one machine; it depends on no clock, so it does not break that.
 * Checkpoints record it as `run_id` (16 hex digits), and so does run.json. */
uint64_t trn_run_id(const trn_options *o, uint64_t data_fingerprint);
/* The run a checkpoint belongs to, from its metadata; -1 with an error when its `run_id`
 * (absent in checkpoints from before run ids) is not the one its metadata describes. */
int trn_ckpt_run_id(const st_file *sf, uint64_t *id);
/* mulaw_mode of a checkpoint's quantisation name ("mulaw", "dadabots", "linear"), or -1. */
int trn_quant_mode(const char *name);

#endif
