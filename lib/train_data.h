/* train_data.h: the data set of qtrain (code records: loading, checking, shuffled
 * train/valid/test split) and the feed that cuts records into truncated-BPTT windows for the
 * rows of a batch (lib/train_data.c).
 *
 * The feed: each of the `batch` rows of a step is a lane that walks through one record window
 * by window; the model's recurrent state for that row is carried from window to window and
 * reset when the lane starts its next record, which it takes from the epoch's shuffled order of
 * training records. An epoch ends when that order is used up; the next is reshuffled from the
 * feed's own RNG. A row of window w of a record holds history + seq codes: the `history` codes
 * before the window's first target (Q/2 padding before the record's start, as the peer does)
 * and the seq targets. A record of T codes gives floor(T / seq) windows. WaveNet has no
 * recurrent state (nothing is carried); its history is the receptive field and its seq the
 * targets per row (n_out). */
#ifndef SHARKS_TRAIN_DATA_H
#define SHARKS_TRAIN_DATA_H

#include "rng.h"

#include <stddef.h>
#include <stdint.h>

/* ---- the data set (lib/train_data.c) ---- */

typedef struct {
	int nrec;
	uint16_t *codes;     /* every record's codes back to back */
	size_t *start, *len; /* record r is codes[start[r] .. start[r] + len[r]) */
	int *file;           /* record r came from files[file[r]] ... */
	long *index;         /* ... as its index-th record (0-based) */
	int nfiles;
	char **files;
	size_t total, cap, reccap;
	int max_code;
	uint64_t fingerprint; /* FNV-1a over every record's length (u64) and codes (u16), in order */
	int rate;             /* Hz, as the records' headers say (all agree); 0 when none says */
	/* split after shuffling with the seed: record numbers */
	int *train, *valid, *test;
	int ntrain, nvalid, ntest;
} trn_data;

/* Appends every record of a tensor stream (path "-" is stdin): one-dimensional |u1 or <u2
 * records. Errors say which record ("record 3: ..."); the caller names the file. */
int trn_data_add_file(trn_data *d, const char *path);
/* Checks every record against the model: codes < levels and at least one window of seq codes.
 * On failure *bad is the record at fault (name its file with d->files[d->file[*bad]]). */
int trn_data_check(const trn_data *d, int levels, int seq, int *bad);
/* Shuffles the records with the seed and splits them by the percentages pct[3] (train, valid,
 * test; they sum to 100). A non-zero share gets at least one record when there are enough.
 * Fails when no training record is left. */
int trn_data_split(trn_data *d, uint64_t seed, const double pct[3]);
void trn_data_free(trn_data *d);
static inline int trn_data_windows(const trn_data *d, int r, int seq) { return (int)(d->len[r] / seq); }

/* ---- the feed: TBPTT windows for the rows of a batch ---- */

typedef struct {
	int batch, history, seq, levels;
	int *lane_rec;      /* record each row is walking through (-1: none yet) */
	int *lane_win;      /* next window of that record */
	int *order;         /* this epoch's order of the training records */
	int norder, cursor; /* records dealt so far in this epoch */
	long epoch;         /* epochs completed */
	sh_rng rng;         /* reshuffles the order at each new epoch */
} trn_feed;

int trn_feed_init(trn_feed *f, const trn_data *d, int batch, int history, int seq, int levels, uint64_t seed);
void trn_feed_free(trn_feed *f);
/* Fills codes (batch × (history + seq)) with every row's next window; reset[b] = 1 where row b
 * starts a record (its recurrent state must be reset first), else 0. */
void trn_feed_next(trn_feed *f, const trn_data *d, uint16_t *codes, unsigned char *reset);
/* Epochs done as a fraction (completed epochs + share of this epoch's records dealt). */
double trn_feed_epoch(const trn_feed *f);
/* Copies one window of record r into a row of history + seq codes. */
void trn_window_row(const trn_data *d, int r, int w, int history, int seq, int levels, uint16_t *row);

#endif
