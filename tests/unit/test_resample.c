/* test_resample.c: lib/resample.c (libsoxr behind our streaming contract): exact output counts
 * for up- and downsampling ratios and short inputs, identical bytes whatever the pieces the
 * input and output come in, no delay, and the filter's quality: pass band flatness, sine SNR,
 * stop band and image rejection. */
#include "resample.h"
#include "tap.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

typedef struct {
	const float *x;
	long n, pos;
	unsigned seed; /* irregular piece sizes when nonzero */
} source;

static unsigned lcg(unsigned *s) { return *s = *s * 1103515245u + 12345u, (*s >> 16) & 0x7fff; }

static long pull(void *ctx, float *buf, long n)
{
	source *s = ctx;
	long k = SH_MIN(n, s->n - s->pos);
	if (s->seed && k > 1)
		k = 1 + (long)(lcg(&s->seed) % (unsigned)k);
	if (k > 0)
		memcpy(buf, s->x + s->pos, (size_t)k * sizeof *buf);
	s->pos += k;
	return k;
}

/* Resamples x whole; output pieces irregular when seed is nonzero. */
static float *run(resampler *r, const float *x, long n, unsigned seed, long *n_out)
{
	source s = {x, n, 0, seed};
	long cap = n * 8 + 1024, done = 0, got;
	float *y = malloc((size_t)cap * sizeof *y);
	unsigned os = seed * 7 + 1;
	for (;;) {
		long want = seed ? 1 + (long)(lcg(&os) % 5000) : 65536;
		got = resampler_read(r, pull, &s, y + done, SH_MIN(want, cap - done));
		if (got <= 0)
			break;
		done += got;
	}
	*n_out = got < 0 ? -1 : done;
	return y;
}

static void test_counts_and_pieces(void)
{
	static const int rates[][2] = {{44100, 16000}, {22050, 16000}, {48000, 16000}, {11025, 16000},
				       {8000, 16000},  {16000, 44100}, {48000, 44100}, {44100, 48000},
				       {16000, 8000},  {32000, 16000}, {44100, 16001}};
	static const long sizes[] = {1, 7, 12000};
	enum { N = 12000 };
	float *x = malloc(N * sizeof *x);
	unsigned s = 1;
	for (int i = 0; i < N; i++)
		x[i] = (float)(lcg(&s) / 16384.0 - 1) * 0.9f;
	for (size_t k = 0; k < SH_ARRAY_LEN(rates); k++)
		for (size_t z = 0; z < SH_ARRAY_LEN(sizes); z++) {
			int in = rates[k][0], out = rates[k][1];
			long n = sizes[z];
			resampler *r = resampler_new(in, out, 0.95, 100);
			if (!tap_ok(r != NULL, "%d -> %d: created%s%s", in, out, r ? "" : ": ", r ? "" : sh_errmsg()))
				continue;
			long n_out, n_out2;
			float *y = run(r, x, n, 0, &n_out);
			resampler_free(r);
			r = resampler_new(in, out, 0.95, 100);
			float *y2 = run(r, x, n, 12345 + (unsigned)k, &n_out2);
			resampler_free(r);
			long want = (long)(((int64_t)n * out + in - 1) / in);
			tap_ok(n_out == want && n_out2 == want,
			       "%d -> %d: %ld samples give ceil(n·out/in) = %ld outputs (%ld, %ld)", in, out, n, want,
			       n_out, n_out2);
			tap_ok(n_out == n_out2 && !memcmp(y, y2, (size_t)n_out * sizeof *y),
			       "%d -> %d, %ld samples: identical bytes when input and output come in irregular pieces",
			       in, out, n);
			free(y);
			free(y2);
		}
	free(x);
}

/* Linear phase with its delay removed: a sine comes out as the same sine at the output rate,
 * sample for sample, not only with the same amplitude. */
static void test_no_delay(void)
{
	static const int rates[][2] = {{44100, 16000}, {22050, 16000}, {16000, 44100}};
	for (size_t k = 0; k < SH_ARRAY_LEN(rates); k++) {
		int in = rates[k][0], out = rates[k][1];
		long n = in;
		float *x = malloc((size_t)n * sizeof *x);
		for (long i = 0; i < n; i++)
			x[i] = (float)(0.5 * sin(2 * PI * 1000 * i / in));
		resampler *r = resampler_new(in, out, 0.95, 100);
		long m;
		float *y = run(r, x, n, 0, &m);
		double sig = 0, err = 0;
		for (long i = m / 10; i < m - m / 10; i++) {
			double ref = 0.5 * sin(2 * PI * 1000 * i / out);
			sig += ref * ref;
			err += (y[i] - ref) * (y[i] - ref);
		}
		double snr = 10 * log10(sig / (err + 1e-300));
		tap_ok(snr > 90, "%d -> %d: a 1 kHz sine comes out in time, %.1f dB from the exact one", in, out, snr);
		resampler_free(r);
		free(x);
		free(y);
	}
}

/* Amplitude of frequency f in y (rate fs) by least squares, and the SNR of that fit, over the
 * interior (edges excluded). */
static void fit_sine(const float *y, long n, double f, double fs, double *amp, double *snr_db)
{
	long a = n / 10, b = n - n / 10;
	double ss = 0, cc = 0, sc = 0, ys = 0, yc = 0;
	for (long i = a; i < b; i++) {
		double s = sin(2 * PI * f * i / fs), c = cos(2 * PI * f * i / fs);
		ss += s * s;
		cc += c * c;
		sc += s * c;
		ys += y[i] * s;
		yc += y[i] * c;
	}
	double det = ss * cc - sc * sc, A = (ys * cc - yc * sc) / det, B = (yc * ss - ys * sc) / det;
	double sig = 0, err = 0;
	for (long i = a; i < b; i++) {
		double m = A * sin(2 * PI * f * i / fs) + B * cos(2 * PI * f * i / fs);
		sig += m * m;
		err += (y[i] - m) * (y[i] - m);
	}
	*amp = hypot(A, B);
	*snr_db = 10 * log10(sig / (err + 1e-300));
}

static double rms_interior(const float *y, long n)
{
	double e = 0;
	long a = n / 10, b = n - n / 10;
	for (long i = a; i < b; i++)
		e += (double)y[i] * y[i];
	return sqrt(e / (b - a));
}

static void test_quality(void)
{
	static const int rates[][2] = {{44100, 16000}, {22050, 16000}, {16000, 44100}, {8000, 16000}};
	for (size_t k = 0; k < SH_ARRAY_LEN(rates); k++) {
		int in = rates[k][0], out = rates[k][1];
		double nyq = 0.5 * SH_MIN(in, out);
		long n = in; /* one second */
		float *x = malloc((size_t)n * sizeof *x);
		/* pass band: 1 kHz and 94% of the lower Nyquist frequency keep amplitude 0.5 */
		static const double pass[] = {1000, 0};
		for (int t = 0; t < 2; t++) {
			double f = pass[t] ? pass[t] : 0.94 * nyq;
			for (long i = 0; i < n; i++)
				x[i] = (float)(0.5 * sin(2 * PI * f * i / in));
			resampler *r = resampler_new(in, out, 0.95, 100);
			long m;
			float *y = run(r, x, n, 0, &m);
			double amp, snr;
			fit_sine(y, m, f, out, &amp, &snr);
			tap_ok(fabs(20 * log10(amp / 0.5)) < 0.01 && snr > 90,
			       "%d -> %d: %.0f Hz sine passes, gain %+.4f dB, SNR %.1f dB", in, out, f,
			       20 * log10(amp / 0.5), snr);
			resampler_free(r);
			free(y);
		}
		/* stop band: above the lower Nyquist frequency nothing comes through (aliases when
		 * downsampling, images when upsampling) */
		double stops[2] = {1.02 * nyq, 1.3 * nyq};
		for (int t = 0; t < 2; t++) {
			double f = stops[t];
			if (f >= 0.5 * in) { /* upsampling: an image of a sine just below the input's Nyquist */
				f = 0.5 * in * (t ? 0.6 : 0.9);
				for (long i = 0; i < n; i++)
					x[i] = (float)(0.5 * sin(2 * PI * f * i / in));
				resampler *r = resampler_new(in, out, 0.95, 100);
				long m;
				float *y = run(r, x, n, 0, &m);
				double amp, snr;
				fit_sine(y, m, f, out, &amp, &snr); /* what is not the sine is the image */
				tap_ok(snr > 90, "%d -> %d: images of a %.0f Hz sine are %.1f dB down", in, out, f,
				       snr);
				resampler_free(r);
				free(y);
				continue;
			}
			for (long i = 0; i < n; i++)
				x[i] = (float)(0.5 * sin(2 * PI * f * i / in));
			resampler *r = resampler_new(in, out, 0.95, 100);
			long m;
			float *y = run(r, x, n, 0, &m);
			double db = 20 * log10(rms_interior(y, m) / (0.5 / sqrt(2)) + 1e-300);
			tap_ok(db < -95, "%d -> %d: a %.0f Hz sine is rejected (%.1f dB)", in, out, f, db);
			resampler_free(r);
			free(y);
		}
		free(x);
	}
}

static void test_errors(void)
{
	resampler *r = resampler_new(0, 16000, 0.95, 100);
	tap_ok(!r, "a zero rate refused: %s", sh_errmsg());
	/* an empty input gives no output */
	r = resampler_new(44100, 16000, 0.95, 100);
	long m;
	float *y = run(r, NULL, 0, 0, &m);
	tap_ok(m == 0, "an empty input gives no output (%ld)", m);
	free(y);
	resampler_free(r);
}

int main(void)
{
	test_counts_and_pieces();
	test_no_delay();
	test_quality();
	test_errors();
	return tap_done();
}
