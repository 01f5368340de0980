/* audiofeat.h: summary statistics of a set of recordings (an album), for the cover's latent
 * vector: spectral centroid, rolloff and flatness (means and spreads over frames), a 12-bin
 * chroma profile, loudness and dynamics. Audio is read with audio.h as mono at 16 kHz (with
 * the fastest sinc converter) and analysed in Hann-windowed frames of 4096 samples, hop 2048,
 * with FFTW (fftwf, planned with FFTW_ESTIMATE so the same input gives the same bits).
 * Frames quieter than -60 dBFS RMS are silence and do not count towards the spectral
 * statistics. */
#ifndef SHARKS_AUDIOFEAT_H
#define SHARKS_AUDIOFEAT_H

#include <stddef.h>

#define AUDIOFEAT_RATE 16000
#define AUDIOFEAT_FFT 4096
#define AUDIOFEAT_HOP 2048

typedef struct {
	double seconds;                    /* audio analysed */
	long frames, active_frames;        /* all frames, frames above the silence threshold */
	float centroid_mean, centroid_std; /* Hz, of the magnitude spectrum */
	float rolloff_mean, rolloff_std;   /* Hz below which 85 % of the magnitude lies */
	float flatness_mean, flatness_std; /* geometric / arithmetic mean of power, in (0, 1] */
	float chroma[12];                  /* mean pitch-class profile (C = 0), sums to 1 */
	float loudness_mean, loudness_std; /* frame RMS in dBFS over active frames */
	float crest_db;                    /* peak over overall RMS, dB */
} audiofeat;

typedef struct audiofeat_acc audiofeat_acc;

/* NULL with an error when out of memory. */
audiofeat_acc *audiofeat_new(void);
void audiofeat_free(audiofeat_acc *a);
/* Adds mono samples at AUDIOFEAT_RATE, continuing the frames of the previous call. */
int audiofeat_add_samples(audiofeat_acc *a, const float *x, size_t n);
/* Adds a whole file (any format audio.h reads, resampled to 16 kHz), in bounded memory.
 * Frames do not straddle files. Returns 0, or -1 with an error naming the problem. */
int audiofeat_add_file(audiofeat_acc *a, const char *path);
/* The statistics so far (neutral values — zeros, a flat chroma — when nothing was loud). */
void audiofeat_get(const audiofeat_acc *a, audiofeat *out);

/* The statistics as a vector of AUDIOFEAT_DIM numbers, each shifted and scaled by fixed
 * constants so that typical music lies roughly in [-2, 2] (clipped to [-3, 3]). */
#define AUDIOFEAT_DIM 21
void audiofeat_vector(const audiofeat *f, float *v);

#endif
