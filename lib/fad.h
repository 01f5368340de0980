/* fad.h: how far generated audio is from real audio, as one number (lib/fad.c): the Fréchet
 * distance between two Gaussians fitted to the log-mel frames of two sets of recordings (the
 * Fréchet Audio Distance of Kilgour et al. with a fixed spectral embedding in place of VGGish).
 * Frames: 1024 samples (Hann), hop 512, power spectrum by FFTW (FFTW_ESTIMATE: the same input
 * gives the same bits), FAD_MELS triangular mel bands from 30 Hz to min(8 kHz, rate/2), each
 * as 10·log10(power + 1e-10) / 10 (tens of dB, so that distances stay in a readable range).
 * 0 for two sets with the same statistics; larger the further apart. */
#ifndef SHARKS_FAD_H
#define SHARKS_FAD_H

#include <stddef.h>

#define FAD_MELS 40
#define FAD_FRAME 1024
#define FAD_HOP 512

typedef struct fad_stats fad_stats;

/* NULL with an error when out of memory. */
fad_stats *fad_new(void);
void fad_free(fad_stats *s);
/* Adds the frames of one recording of n mono samples at rate (frames do not straddle calls). */
int fad_add_samples(fad_stats *s, const float *x, size_t n, int rate);
/* Adds an audio file (audio.h: mono, at its own rate). */
int fad_add_file(fad_stats *s, const char *path);
/* Frames added so far. */
long fad_frames(const fad_stats *s);
/* The Fréchet distance |μa − μb|² + tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½) between the two sets'
 * frame statistics. NAN with an error when a set has fewer than 2 frames. */
double fad_distance(const fad_stats *a, const fad_stats *b);

#endif
