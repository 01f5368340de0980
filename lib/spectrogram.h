/* spectrogram.h: draws the magnitude spectrogram of a recording as an image (for the album's
 * player page): time left to right over the whole recording, frequency bottom to top on a
 * mel or log scale, loudness in dB through a perceptual colour map (magma: black → purple →
 * orange → pale yellow, monotonic in lightness). FFTW (fftwf, FFTW_ESTIMATE) on Hann frames;
 * each column averages the power of the frames that fall in it, so a long track is not
 * subsampled, and a short one shares frames between neighbouring columns. */
#ifndef SHARKS_SPECTROGRAM_H
#define SHARKS_SPECTROGRAM_H

#include <stddef.h>
#include <stdint.h>

typedef enum { SPECTROGRAM_MEL, SPECTROGRAM_LOG } spectrogram_scale;

typedef struct {
	int width, height; /* pixels */
	spectrogram_scale scale;
	float fmin, fmax; /* Hz shown at the bottom and top row; fmax 0 = rate / 2 */
	float db_range;   /* dB below the loudest cell that map to black */
	int fft;          /* frame length in samples (a power of two) */
} spectrogram_opts;

/* Mel scale, 30 Hz to rate/2, 80 dB, 2048-point frames, the given size. */
void spectrogram_defaults(spectrogram_opts *o, int width, int height);

/* The colour map: t in [0, 1] → 8-bit sRGB (a 6th-degree polynomial fit of matplotlib's
 * magma, after Matt Zucconi's shadertoy WlfXRN). */
void spectrogram_colour(float t, uint8_t rgb[3]);

/* Draws n samples at rate into pixels: height rows of stride_words 32-bit words, each
 * 0x00RRGGBB (cairo's RGB24), row 0 the highest frequency. Rows of columns in parallel with
 * OpenMP; same output whatever the thread count. Returns 0, or -1 with an error. */
int spectrogram_draw(const float *x, size_t n, int rate, const spectrogram_opts *o, uint32_t *pixels, int stride_words);

/* Reads an audio file (mono downmix at its own rate, with audio.h) and draws it. */
int spectrogram_draw_file(const char *path, const spectrogram_opts *o, uint32_t *pixels, int stride_words);

#endif
