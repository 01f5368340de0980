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
/* mulaw_mode of a checkpoint's quantisation name ("mulaw", "dadabots", "linear"), or -1. */
int trn_quant_mode(const char *name);

#endif
