/* logtsv.h: the rows of a run's log.tsv (lib/logtsv.c): read, appended, written. qtrain
 * writes them (runlog.h), albumpage reads them (album.h); this file needs nothing but util, so
 * that every reader (and the fuzz harness of the album's files) can have it. */
#ifndef SHARKS_LOGTSV_H
#define SHARKS_LOGTSV_H

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
void trn_log_free(trn_log *l);

#endif
