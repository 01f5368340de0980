/* runlog.h: qtrain's run directory (lib/runlog.c): the log rows of log.tsv, the loss plot,
 * the library versions of run.json, and the checkpoint step that writes last.safetensors,
 * best.safetensors and the log together. */
#ifndef SHARKS_RUNLOG_H
#define SHARKS_RUNLOG_H

#include "json.h"
#include "train.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>

typedef struct {
	long step;
	double epoch, train_bits, valid_bits, samples_per_s, lr, seconds;
	double fad; /* Fréchet distance of the step's clips to held-out audio (fad.h), or NAN */
} trn_log_row;

typedef struct {
	trn_log_row *rows;
	int n, cap;
	/* NULL: the columns are cross-entropy in bits per sample (train_bits, valid_bits);
	 * "loss": DDSP's multi-scale spectral loss (train_loss, valid_loss) */
	const char *metric;
} trn_log;

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

/* Appends the rows of a log.tsv (the header line is optional) up to step max_step to l: seven
 * columns (logs from before fad) or eight, "nan" where a figure is missing. A row that is not
 * one, or a last line cut short (no end of line: the file was cut), is an error naming its line
 * (the caller names the file). */
int trn_log_parse(trn_log *l, FILE *f, long max_step);
/* Reads RUNDIR/log.tsv if it exists (none: no rows), keeping only the rows up to step max_step;
 * errors name the file. */
int trn_log_read(trn_log *l, const char *path, long max_step);
int trn_log_append(trn_log *l, const trn_log_row *row);
/* Rewrites the whole log atomically. */
int trn_log_write(const trn_log *l, const char *path);
/* Draws the train and valid curves of the log. */
int trn_log_plot(const trn_log *l, const char *path);
void trn_log_free(trn_log *l);

/* The libraries the program runs on, as the members of the JSON object open in w: "sndfile":
 * "...", "openblas": "...", ..., the OpenBLAS kernels and the OpenMP wait policy. */
void trn_lib_versions_json(json_writer *w);

#endif
