/* fft.h: what the FFT users of lib/ share (audiofeat, curate, spectrogram, fad, ddsp): the
 * periodic Hann window, and FFTW plans made and destroyed under one lock, since FFTW's planner
 * is not thread-safe. Plans are FFTW_ESTIMATE: they, and so the bits of every result, never
 * depend on timing measurements. */
#ifndef SHARKS_FFT_H
#define SHARKS_FFT_H

#include <fftw3.h>

/* w[i] = 0.5 - 0.5 cos(2 pi i / n), i < n (periodic: librosa's and tf.signal's "hann"),
 * computed in double and rounded once. */
void sh_hann_periodic(float *w, int n);
/* A plan of the n-point real-to-complex transform of in (n floats) into out (n/2 + 1 bins);
 * NULL with an error when FFTW cannot make one. */
fftwf_plan sh_fft_plan_r2c(int n, float *in, fftwf_complex *out);
/* The inverse: n/2 + 1 bins of in into n real samples of out (unscaled, as FFTW's). */
fftwf_plan sh_fft_plan_c2r(int n, fftwf_complex *in, float *out);
/* Destroys a plan (NULL: nothing). */
void sh_fft_destroy(fftwf_plan p);

#endif
