/* resample_bench.c: the resamplers wavchunk can use, on the same signals in the same run:
 * lib/resample.c (our streaming wrapper of libsoxr, wavchunk --quality poly, here at the 100 dB
 * specification of the hand-written resampler it replaced), libsoxr called directly at its HQ
 * recipe, and libsamplerate. It was written to answer issue #14's question (our hand-written
 * resampler or libsoxr?); docs/wavchunk.md keeps the figures of that comparison.
 *
 * Quality, per rate pair and resampler:
 *   - passband SNR: sines at 5 frequencies up to 90 % of the output Nyquist frequency; the
 *     output is compared with the exact sine at the output rate (edges skipped), SNR in dB,
 *     the worst of the five;
 *   - rejection: sines between the output Nyquist frequency and the input's, which should
 *     vanish (aliases when downsampling); the strongest output, dB below the input;
 * Speed: CPU seconds for 120 s of noise, the best of 3; printed as seconds of audio per CPU
 * second and as a ratio to lib/resample.c.
 *
 * Usage: resample_bench IN_RATE OUT_RATE (bench/resample.sh builds and runs it). */
#include "resample.h"

#include <math.h>
#include <samplerate.h>
#include <soxr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum { OURS, SOXR_MATCHED, SOXR_HIGH, SRC_MEDIUM, SRC_BEST, NKINDS } kind;
static const char *kind_name[NKINDS] = {
	"lib/resample.c (95%, 100 dB)", "soxr (95%, 17 bits)", "soxr HQ (95%, 20 bits)",
	"libsamplerate medium",         "libsamplerate best",
};

typedef struct {
	const float *x;
	long n, pos;
} feed;

static long pull(void *ctx, float *buf, long n)
{
	feed *f = ctx;
	long k = f->n - f->pos < n ? f->n - f->pos : n;
	memcpy(buf, f->x + f->pos, k * sizeof *buf);
	f->pos += k;
	return k;
}

/* Resamples x[0..n) into y (capacity cap); returns the output count. */
static long run(kind k, int in_rate, int out_rate, const float *x, long n, float *y, long cap)
{
	if (k == OURS) {
		resampler *r = resampler_new(in_rate, out_rate, 0.95, 100.0);
		if (!r)
			return -1;
		feed f = {x, n, 0};
		long total = 0, got;
		while (total < cap && (got = resampler_read(r, pull, &f, y + total, cap - total)) > 0)
			total += got;
		resampler_free(r);
		return total;
	}
	if (k == SOXR_MATCHED || k == SOXR_HIGH) {
		soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ | SOXR_LINEAR_PHASE, 0);
		q.precision = k == SOXR_HIGH ? 20 : 17;
		q.passband_end = 0.95;
		soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
		soxr_runtime_spec_t rt = soxr_runtime_spec(1);
		size_t odone = 0;
		soxr_error_t e = soxr_oneshot(in_rate, out_rate, 1, x, n, NULL, y, cap, &odone, &io, &q, &rt);
		return e ? -1 : (long)odone;
	}
	SRC_DATA d = {.data_in = x,
		      .input_frames = n,
		      .data_out = y,
		      .output_frames = cap,
		      .src_ratio = (double)out_rate / in_rate};
	if (src_simple(&d, k == SRC_BEST ? SRC_SINC_BEST_QUALITY : SRC_SINC_MEDIUM_QUALITY, 1))
		return -1;
	return d.output_frames_gen;
}

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: resample_bench IN_RATE OUT_RATE\n");
		return 2;
	}
	const int in_rate = atoi(argv[1]), out_rate = atoi(argv[2]);
	const double seconds = 4, bench_seconds = 120;
	const long n = (long)(seconds * in_rate), cap = (long)(seconds * out_rate) + 1024;
	const long nb = (long)(bench_seconds * in_rate), capb = (long)(bench_seconds * out_rate) + 1024;
	float *x = malloc(nb * sizeof *x), *y = malloc(capb * sizeof *y);
	if (!x || !y)
		return 1;
	const double lo_nyq = 0.5 * (in_rate < out_rate ? in_rate : out_rate);
	const double hi_nyq = 0.5 * (in_rate > out_rate ? in_rate : out_rate);
	const long skip = (long)(0.25 * out_rate); /* edges: filter start-up and tail */

	printf("%d -> %d Hz\n", in_rate, out_rate);
	printf("%-26s %14s %14s %16s %10s\n", "resampler", "passband SNR", "rejection", "s audio / CPU s", "vs ours");
	double ours_speed = 0;
	for (int k = 0; k < NKINDS; k++) {
		/* passband: the worst SNR over five frequencies up to 90 % of the lower Nyquist */
		double worst_snr = INFINITY;
		for (int i = 1; i <= 5; i++) {
			double f = lo_nyq * 0.9 * i / 5;
			for (long t = 0; t < n; t++)
				x[t] = (float)(0.5 * sin(2 * M_PI * f * t / in_rate));
			long m = run((kind)k, in_rate, out_rate, x, n, y, cap);
			if (m < 0)
				return fprintf(stderr, "%s failed\n", kind_name[k]), 1;
			double sig = 0, err = 0;
			for (long t = skip; t < m - skip; t++) {
				double ref = 0.5 * sin(2 * M_PI * f * t / out_rate);
				sig += ref * ref;
				err += (y[t] - ref) * (y[t] - ref);
			}
			double snr = 10 * log10(sig / (err > 0 ? err : 1e-300));
			if (getenv("VERBOSE"))
				fprintf(stderr, "  %s f=%.0f snr=%.1f\n", kind_name[k], f, snr);
			if (snr < worst_snr)
				worst_snr = snr;
		}
		/* rejection: tones between the two Nyquist frequencies must vanish (downsampling);
		 * when upsampling there is nothing above the input's Nyquist to reject */
		double worst_rej = INFINITY;
		if (out_rate < in_rate)
			for (int i = 0; i < 4; i++) {
				double f = lo_nyq * 1.05 + (hi_nyq * 0.95 - lo_nyq * 1.05) * i / 3;
				for (long t = 0; t < n; t++)
					x[t] = (float)(0.5 * sin(2 * M_PI * f * t / in_rate));
				long m = run((kind)k, in_rate, out_rate, x, n, y, cap);
				double e = 0;
				for (long t = skip; t < m - skip; t++)
					e += (double)y[t] * y[t];
				double rms = sqrt(e / (m - 2 * skip)), in_rms = 0.5 / sqrt(2);
				double rej = -20 * log10((rms > 0 ? rms : 1e-30) / in_rms);
				if (rej < worst_rej)
					worst_rej = rej;
			}
		/* speed: white noise, the best of three */
		unsigned s = 1;
		for (long t = 0; t < nb; t++) {
			s = s * 1664525u + 1013904223u;
			x[t] = (float)((s >> 8) / 16777216.0 - 0.5);
		}
		double best = INFINITY;
		for (int r = 0; r < 3; r++) {
			double t0 = cpu_now();
			if (run((kind)k, in_rate, out_rate, x, nb, y, capb) < 0)
				return 1;
			double dt = cpu_now() - t0;
			if (dt < best)
				best = dt;
		}
		double speed = bench_seconds / best;
		if (k == OURS)
			ours_speed = speed;
		char rej[32];
		if (isfinite(worst_rej))
			snprintf(rej, sizeof rej, "%.1f dB", worst_rej);
		else
			snprintf(rej, sizeof rej, "-");
		printf("%-26s %11.1f dB %14s %16.0f %9.2fx\n", kind_name[k], worst_snr, rej, speed, speed / ours_speed);
	}
	free(x);
	free(y);
	return 0;
}
