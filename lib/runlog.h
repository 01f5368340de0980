/* runlog.h: qtrain's run directory (lib/runlog.c): the log rows of log.tsv, the loss plot,
 * the library versions of run.json, and the checkpoint step that writes last.safetensors,
 * best.safetensors and the log together. */
#ifndef SHARKS_RUNLOG_H
#define SHARKS_RUNLOG_H

#include "json.h"
#include "logtsv.h"
#include "train.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>

/* Writes RUNDIR/last.safetensors and a row of RUNDIR/log.tsv; the caller draws the plot
 * (trn_log_plot). With full: first the validation bits (over d->valid), then the row (train
 * bits averaged since the previous full row, then restarted) and RUNDIR/best.safetensors when
 * the validation bits (the train bits without a validation set) are the best so far. Without
 * full (an interrupted run's last checkpoint; also when *stop is raised during the
 * validation): the row has no validation bits (nan), and neither restarts the average nor
 * makes a best, so that a resumed run's later rows and checkpoints are a straight run's.
 * seconds and samples_per_s go into the log row, which is also returned in row. Returns 0,
 * -1 with an error, or 1 without writing anything when the validation loss is not finite
 * (the parameters have diverged). Under mpirun every rank calls it (validation is shared, the
 * state gathered) and rank 0 alone writes. */
int trn_checkpoint(trn_run *t, const trn_data *d, const char *rundir, trn_log *log, int full, double seconds,
		   double samples_per_s, volatile sig_atomic_t *stop, trn_log_row *row);

/* Keeps the checkpoint just written as RUNDIR/stepNNNNNNN.safetensors (qtrain --keep-every):
 * a milestone that later checkpoints do not replace. */
int trn_keep_milestone(const trn_run *t, const trn_data *d, const char *rundir);

/* The log-mel statistics (fad.h) of the held-out records, decoded to audio: the validation
 * set, else the test set. NULL with an error when there are none or on failure. */
struct fad_stats *trn_heldout_stats(const trn_run *t, const trn_data *d);
/* The distance of the clips RUNDIR/samples/stepNNNNNNN_K.wav (K < n) to ref, written into the
 * log row of that step (when there is one) and log.tsv, and plotted into RUNDIR/fad.png.
 * Returns the distance, or NAN with an error. */
double trn_log_clip_distance(trn_log *log, const char *rundir, long step, int n, const struct fad_stats *ref);

/* Draws the train and valid curves of the log. */
int trn_log_plot(const trn_log *l, const char *path);

/* The libraries the program runs on, as the members of the JSON object open in w: "sndfile":
 * "...", "openblas": "...", ..., the OpenBLAS kernels and the OpenMP wait policy. */
void trn_lib_versions_json(json_writer *w);

#endif
