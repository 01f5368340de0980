/* resample.h: streaming resampling for rational rate ratios by windowed-sinc filters, the
 * method of sox's `rate` effect, several times faster than libsamplerate's sinc converters at
 * better quality (docs/wavchunk.md, "Resamplers").
 *
 * For out/in = L/M in lowest terms, output sample n sits at input time t = n·M/L. The pass band
 * reaches `bandwidth` × the lower Nyquist frequency, and everything from the lower Nyquist
 * frequency on is attenuated by atten_db. Filters are Kaiser-windowed sincs
 *   g(τ) = 2fc·sinc(2fc·τ)·I0(β·sqrt(1 - (τ/H)²))/I0(β),  |τ| < H  (τ in input samples),
 * with length and β from Kaiser's formulas for the transition band and attenuation.
 *
 * Upsampling (L ≥ M) is one polyphase stage: y[n] = Σ_j x[j]·g(t − j) with the steep filter,
 * tabulated for the L phases t mod 1 = p/L, each phase scaled to sum to 1.
 * Downsampling is two stages: (1) the steep low-pass at the input rate, z = h1 ∗ x, a
 * zero-phase FIR applied by FFT overlap-save (cost per sample ~ log of its length); (2) the
 * polyphase stage on z with a short filter, whose transition band can run from the pass band
 * edge up to the first image of z (1 − L/2M cycles per input sample), so it needs ~20 taps
 * where one stage needs ~350.
 *
 * The input is taken as zero before its start and after its end; n_in input samples give
 * ceil(n_in·L/M) outputs. The same input gives the same bytes on the same machine (FFTW plans
 * made with FFTW_ESTIMATE; the dot product has an SSE and an AVX2 version, so machines with and
 * without AVX2 may differ in the last bits). resampler_new and resampler_free call FFTW's
 * planner, which is not thread-safe: create and free resamplers from one thread at a time. */
#ifndef SHARKS_RESAMPLE_H
#define SHARKS_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#define RESAMPLE_MAX_PHASES 4096

typedef struct resampler resampler;

/* Pulls up to n input samples into buf; returns the count (0 at the end, -1 on error). */
typedef long (*resample_input_fn)(void *ctx, float *buf, long n);

/* NULL with an error when the reduced ratio needs more than RESAMPLE_MAX_PHASES phases. */
resampler *resampler_new(int in_rate, int out_rate, double bandwidth, double atten_db);
void resampler_free(resampler *r);
/* Taps of the low-pass stage (0 when there is none) and of the polyphase stage. */
int resampler_lowpass_taps(const resampler *r);
int resampler_taps(const resampler *r);

/* Produces up to n output samples, pulling input as needed. Returns the count (< n only at the
 * end of the input), 0 when finished, -1 when the input failed. */
long resampler_read(resampler *r, resample_input_fn in, void *ctx, float *out, long n);

/* Output sample n computed directly in double precision from the whole input x[0..n_in): the
 * low-pass by direct convolution (taken as zero outside 0..n_in-1 like the streaming path), the
 * polyphase taps evaluated from the formula. The reference the FFT, tabulated and vectorised
 * path is tested against. */
double resampler_reference(const resampler *r, const float *x, int64_t n_in, int64_t n);

#endif
