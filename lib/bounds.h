/* bounds.h: the bounds a setting must hold wherever it comes from: the command line, a
 * checkpoint's metadata or a stream's header. A value read back from a file is held to the
 * same bounds as the flag that set it, and refused (never replaced by a default) outside them. */
#ifndef SHARKS_BOUNDS_H
#define SHARKS_BOUNDS_H

#include "npy.h"
#include "checkpoint.h"

/* Sample rates in Hz (qtrain/mulaw/wavchunk -r, checkpoints, tensor-stream headers). */
#define SH_RATE_MIN NPY_RATE_MIN
#define SH_RATE_MAX NPY_RATE_MAX

/* qtrain's optimiser flags. */
#define TRN_LR_MIN 1e-30
#define TRN_LR_MAX 1e38
#define TRN_EPS_MIN 1e-30
#define TRN_EPS_MAX 1.0
#define TRN_CLIP_VALUE_MIN 1e-30
#define TRN_CLIP_VALUE_MAX 1e30

/* Every option of a run (model, optimiser, split, rate, quantisation) within bounds; -1 with an
 * error naming the first one that is not. NaN is outside every bound. */
int trn_options_check(const trn_options *o);

#endif
