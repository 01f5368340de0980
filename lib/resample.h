/* resample.h: streaming resampling through libsoxr, SoX's own resampler (the one behind
 * `sox rate`), for wavchunk's `-q poly`. It replaced a hand-written two-stage windowed-sinc
 * resampler: on the same signals soxr rejected aliases 20-30 dB better (131-140 dB against
 * 109-111), ran 1.2-1.6x as fast downsampling and 10x upsampling, and kept a sine at 90 % of
 * the Nyquist frequency within 85 dB SNR (ours 100 dB); bench/resample.sh prints the
 * comparison, with libsamplerate beside them.
 *
 * The filter is linear-phase (its delay removed), flat to `bandwidth` × the lower Nyquist
 * frequency, with everything from that Nyquist frequency on attenuated by atten_db (soxr's
 * precision in bits is atten_db / 6.02). The input is taken as zero after its end; n_in input
 * samples give exactly ceil(n_in·out/in) outputs, so `wavchunk --parts` measures exactly. The
 * same input gives the same bytes on the same machine, whatever the sizes of the pieces read
 * (one soxr thread; soxr picks SIMD kernels for the CPU, so other machines may differ in the
 * last bits). */
#ifndef SHARKS_RESAMPLE_H
#define SHARKS_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct resampler resampler;

/* Pulls up to n input samples into buf; returns the count (0 at the end, -1 on error). */
typedef long (*resample_input_fn)(void *ctx, float *buf, long n);

/* NULL with an error for a rate that is not positive or a specification soxr refuses. */
resampler *resampler_new(int in_rate, int out_rate, double bandwidth, double atten_db);
void resampler_free(resampler *r);

/* Produces up to n output samples, pulling input as needed. Returns the count (< n only at the
 * end of the input), 0 when finished, -1 when the input failed. */
long resampler_read(resampler *r, resample_input_fn in, void *ctx, float *out, long n);

#endif
