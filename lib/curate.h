/* curate.h: the analysis and assembly behind the `curate` program (issue 5, REFERENCE.md
 * "Curation"): trimming with the librosa rule, per-clip scores and the rejection rules,
 * ordering clips into one path of high neighbour similarity, splitting the path into tracks
 * at weak joins, and rendering tracks with loudness-matched equal-power crossfades.
 *
 * Everything here is deterministic and free of I/O; fingerprints and their similarity live in
 * fingerprint.h, files in filters/curate.c. */
#ifndef SHARKS_CURATE_H
#define SHARKS_CURATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	int rate;               /* Hz of every clip */
	double top_db;          /* trim: frames quieter than the loudest minus this are silent (50) */
	double floor_db;        /* a clip whose loudest frame is below this (dBFS) is silence (-60) */
	double min_seconds;     /* shorter after trimming: rejected (3) */
	double highpass;        /* Hz: the repair high-pass that removes DC and rumble (20; 0 off) */
	double noise_change;    /* a block change under this (noise = 1) is static (1.4) */
	double noise_local;     /* and its spectrum is noise-like: local flatness above this (0.45) */
	double noise_steady;    /* or it changes less than this, whatever its spectrum (1.1) */
	double noise_fraction;  /* noise when more than this fraction of block changes are (0.55) */
	double max_kurtosis;    /* clicks when the first difference's kurtosis exceeds this (300) */
	double loop_threshold;  /* loop candidate when the band self-similarity exceeds this (0.5) */
	double loop_corr;       /* and a machine loop when the waveform repeats with this correlation (0.99) */
	double loop_min_period; /* seconds: periods searched for loops (0.1 .. 3) */
	double loop_max_period;
	double clip_level;        /* |x| at or above this counts as clipped (0.999) */
	double max_clip_fraction; /* clipping when more samples than this fraction are (0.05) */
	double target_db;         /* loudness matching: RMS target in dBFS (-20) */
	double max_gain_db;       /* and the largest boost or cut (12) */
	double crossfade;         /* seconds of equal-power crossfade at each join (1) */
	double track_minutes;     /* about this long per track (4) */
	double max_offset;        /* seconds of alignment searched in fingerprint similarity (10) */
	double min_overlap;       /* seconds of fingerprint overlap an alignment needs (4) */
	int neighbours;           /* most similar clips recorded per clip (3) */
} curate_opts;

void curate_default_opts(curate_opts *o);

/* Rejection reasons, a bit set in priority order (the lowest set bit is "the" reason). A DC
 * offset is no reason: it is removed (opts.highpass). */
enum {
	CURATE_SILENCE = 1 << 0,
	CURATE_SHORT = 1 << 1,
	CURATE_CLIPPING = 1 << 2,
	CURATE_CLICKS = 1 << 3,
	CURATE_NOISE = 1 << 4,
	CURATE_LOOP = 1 << 5,
	CURATE_NREASONS = 6
};
/* "silence", "short", "clipping", "clicks", "noise", "loop" for the bit number 0..5. */
const char *curate_reason_name(int bit);

/* Trimming (librosa.effects.trim with frame 256, hop 64): frames are centred on 64·f with 128
 * zeros of padding each side, so there are 1 + n/64 of them; ms[f] is the mean square of
 * frame f. */
#define CURATE_TRIM_FRAME 256
#define CURATE_TRIM_HOP 64
size_t curate_trim_frames(size_t n);
void curate_frame_power(const float *x, size_t n, double *ms);     /* prefix sums */
void curate_frame_power_ref(const float *x, size_t n, double *ms); /* direct sums */
/* Kept span [*start, *end) by the librosa rule: frames whose power in dB relative to the
 * loudest frame is above -top_db, from 64·first to min(n, 64·(last + 1)). *loudest_db gets
 * the loudest frame in dBFS (10·log10(max(1e-10, mean square))). */
void curate_trim(const double *ms, size_t n, double top_db, size_t *start, size_t *end, double *loudest_db);

typedef struct {
	size_t n;              /* samples in the clip */
	size_t start, end;     /* the span kept by trimming */
	double loudest_db;     /* loudest trim frame, dBFS */
	double rms_db;         /* RMS of the trimmed clip, dBFS */
	double peak;           /* max |x| of the trimmed clip (after the high-pass) */
	double dc;             /* mean of the clip as it came, before the high-pass removed it */
	double clip_fraction;  /* fraction of the clip's samples at |x| >= clip_level, as it came */
	double kurtosis;       /* of the trimmed clip's first difference: 3 for noise, far more
	                         * for clicks */
	double flatness;       /* median spectral flatness over active frames (information) */
	double local_flatness; /* median flatness against the local spectrum over active frames
	                         * (noise about 0.5, harmonic sound low) */
	double change;         /* median spectral change from block to block, in units of what
	                         * stationary noise shows (noise 1, music several) */
	double noise_fraction; /* fraction of block changes (loud blocks) that are static */
	double loop_score;     /* best band self-similarity over the loop periods (0..1) */
	double loop_period;    /* seconds, where it was found */
	double loop_corr;      /* best waveform autocorrelation over the loop periods (-1..1) */
	double loop_lag;       /* seconds, where it was found */
	int reasons;           /* CURATE_* bits; 0 = kept */
} curate_scores;

/* The tests behind the rejections, one row each, for the decision itself, curation.json and
 * --explain: a reason is given when every row of it holds (the loop rule has two rows: the band
 * energies repeat, and the waveform repeats). A silent clip is judged by its first row only. */
typedef struct {
	int reason;        /* CURATE_* bit */
	const char *score; /* name of the score in curate_scores and curation.json */
	double value;
	int above;          /* 1: holds when value > threshold; 0: when value < threshold */
	const char *option; /* the option that sets the threshold, without "--" */
	double threshold;
	int holds;
} curate_test;
#define CURATE_NTESTS 7
/* Fills the tests of s under o (CURATE_NTESTS rows) and returns the CURATE_* reasons. */
int curate_tests(const curate_opts *o, const curate_scores *s, curate_test *t);

/* Per-thread FFT plan and scratch for curate_analyze. */
typedef struct curate_analyzer curate_analyzer;
curate_analyzer *curate_analyzer_new(void);
void curate_analyzer_free(curate_analyzer *a);
/* Repairs a clip in place (the high-pass), trims and scores it, and decides. Returns 0, or -1
 * with an error (out of memory). */
int curate_analyze(curate_analyzer *a, const curate_opts *o, float *x, size_t n, curate_scores *s);

/* The repair: a second-order Butterworth high-pass at hz (nothing for hz <= 0), in place,
 * started from the steady state of x[0] so that a constant gives 0 from the first sample. */
void curate_highpass(float *x, size_t n, int rate, double hz);

/* Normalised correlation of x with itself lag samples later over their overlap (the loop
 * rule's waveform stage, directly; for tests). */
double curate_autocorr_ref(const float *x, size_t n, size_t lag);

/* STFT features used by the noise and loop rules, exposed for tests. */
#define CURATE_FFT 512
#define CURATE_HOP 256
/* The noise rule compares band energies over blocks of CURATE_BLOCK frames (128 ms at 16 kHz);
 * curate_noise_log_var(bins) is the variance of the log of a band's block energy for
 * stationary Gaussian noise in a band of that many FFT bins. */
#define CURATE_BLOCK 16
#define CURATE_NOISE_DOF_SHARE 0.5
double curate_noise_log_var(double bins);
/* Flatness of a power spectrum (CURATE_FFT/2 bins) against its own average over ±4 bins, over
 * the bins within 40 dB of the loudest: about 0.5 for noise of any colour or bandwidth, low
 * for harmonic sound. */
double curate_local_flatness(const float *power);
/* Spectral flatness of one power spectrum (bins 1..CURATE_FFT/2, DC left out). */
double curate_flatness(const float *power);
double curate_flatness_ref(const float *power); /* one log per bin */

/* Gain in dB that brings a clip's RMS to the target, within ±max_gain_db, lowered where
 * needed so that the peak stays below 0.99. */
double curate_gain_db(const curate_opts *o, const curate_scores *s);

/* Orders n items into one path maximising the sum of sim[path[i]·n + path[i+1]] (sim is n×n,
 * symmetric): greedy nearest neighbour from every start (at most 1024 starts, evenly spread,
 * for larger n) keeping the best, then 2-opt until no reversal improves it. Ties go to the
 * lowest index. Returns the path's total similarity, or -1 with an error. */
double curate_order(const float *sim, int n, int *path);
/* Total similarity of a path, and the greedy path from one start (for tests). */
double curate_path_score(const float *sim, int n, const int *path);
double curate_greedy_path(const float *sim, int n, int start, int *path, unsigned char *used);

/* The similarity of every pair of n fingerprints (fp[i] of nfp[i] items, fingerprint.h's
 * fp_similarity with alignments up to max_offset items and overlaps of min_overlap): sim is
 * n×n and symmetric with a zero diagonal; offs[a·n + b] the alignment of b in a's items. */
void curate_similarities(const uint32_t *const *fp, const int *nfp, int n, int max_offset, int min_overlap, float *sim,
			 int16_t *offs);
/* The (at most) k items most similar to item a of n (sim n×n), highest first, ties in index
 * order, a itself left out, into nearest; returns how many. */
int curate_nearest(const float *sim, int n, int a, int k, int *nearest);

/* Splits a path of n clips with lengths len[i] (samples, in path order) and join similarities
 * join_sim[i] (between path items i and i+1) into tracks of about target samples: dynamic
 * programming over the cut points minimising Σ 8·((L - target)/target)² over tracks plus the
 * similarity of every join cut, where L = Σ len - (clips - 1)·crossfade. first[k] gets the path
 * index where track k starts (first must hold n entries). Returns the number of tracks or -1. */
int curate_split(const size_t *len, const float *join_sim, int n, size_t crossfade, double target, int *first);

/* Length of n clips joined with crossfades of xf samples: Σ len - (n - 1)·xf. */
size_t curate_joined_length(const size_t *len, int n, size_t xf);
/* Renders n clips into out (curate_joined_length samples): each scaled by gain[i] (linear),
 * consecutive ones overlapping by xf samples with equal-power weights cos/sin of
 * π/2·(t + 0.5)/xf, and the first and last edge samples of the whole faded in and out with a
 * raised cosine so that the track starts and ends without a click. Every len[i] must be at
 * least 2·xf (xf at least 1). */
void curate_render(float *out, const float *const *clips, const size_t *len, const float *gain, int n, size_t xf,
		   size_t edge);

#endif
