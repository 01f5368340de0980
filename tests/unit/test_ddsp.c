/* test_ddsp.c: lib/ddsp.c against the numpy transcription of DDSP
 * (tests/fixtures/ddsp_reference.py → ddsp_synth.npy), the fast kernels against the plain
 * ones, and the analysis on synthetic tones with known answers. */
#include "ddsp.h"
#include "npy.h"
#include "tap.h"
#include "util.h"

#include <fftw3.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

#define TWO_PI 6.283185307179586476925286766559

static double max_abs_diff_d(const float *a, const double *b, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = SH_MAX(m, fabs(a[i] - b[i]));
	return m;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = SH_MAX(m, fabs((double)a[i] - b[i]));
	return m;
}

static double peak_d(const double *x, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = SH_MAX(m, fabs(x[i]));
	return m;
}

static void *copy_record(npy_record *r)
{
	void *p = malloc(r->h.nbytes);
	memcpy(p, r->data, r->h.nbytes);
	return p;
}

/* The synth against the numpy reference, case by case. */
static void test_reference_fixture(void)
{
	FILE *f = fopen("tests/fixtures/ddsp_synth.npy", "rb");
	if (!tap_ok(f != NULL, "fixture tests/fixtures/ddsp_synth.npy opens"))
		return;
	npy_record r = {0};
	for (int c = 0;; c++) {
		int got = npy_read_record(f, &r);
		if (got == 0)
			break;
		if (!tap_ok(got == 1 && r.h.dtype == SH_F64, "case %d: params record", c))
			break;
		const double *p = r.data;
		double sr = p[0];
		int hop = (int)p[1], F = (int)p[3];
		uint64_t seed = (uint64_t)p[2];
		void *rec[6];
		int shape_k = 0, shape_b = 0;
		for (int i = 0; i < 6; i++) {
			if (npy_read_record(f, &r) != 1) {
				tap_ok(0, "case %d: record %d: %s", c, i, sh_errmsg());
				goto out;
			}
			if (i == 2)
				shape_k = (int)r.h.shape[1];
			if (i == 3)
				shape_b = (int)r.h.shape[1];
			rec[i] = copy_record(&r);
		}
		const float *f0 = rec[0], *amp = rec[1], *dist = rec[2], *mags = rec[3];
		const double *want_h = rec[4], *want_n = rec[5];
		size_t N = (size_t)F * hop;
		float *got_h = calloc(N, sizeof(float)), *ref_h = calloc(N, sizeof(float));
		float *got_n = calloc(N, sizeof(float)), *ref_n = calloc(N, sizeof(float));
		ddsp_synth *s = ddsp_synth_new(sr, hop, shape_k, shape_b);
		tap_ok(s && !ddsp_synth_harmonic(s, got_h, f0, amp, dist, F) &&
			       !ddsp_synth_noise(s, got_n, mags, F, seed),
		       "case %d: synth runs", c);
		ddsp_harmonic_ref(ref_h, f0, amp, dist, F, shape_k, hop, sr);
		ddsp_noise_ref(ref_n, mags, F, shape_b, hop, seed);
		double ph = peak_d(want_h, N), pn = peak_d(want_n, N);
		double eh = max_abs_diff_d(got_h, want_h, N), en = max_abs_diff_d(got_n, want_n, N);
		double erh = max_abs_diff_d(ref_h, want_h, N), ern = max_abs_diff_d(ref_n, want_n, N);
		/* float32 precision: a few ulps of the signal's peak */
		double tol = 4 * FLT_EPSILON;
		tap_ok(eh <= tol * ph,
		       "case %d (%g Hz, hop %d, K %d): harmonic synth = numpy DDSP "
		       "(max err %.3g, peak %.3g)",
		       c, sr, hop, shape_k, eh, ph);
		tap_ok(en <= tol * pn,
		       "case %d (B %d): filtered noise = numpy DDSP (max err %.3g, "
		       "peak %.3g)",
		       c, shape_b, en, pn);
		tap_ok(erh <= tol * ph && ern <= tol * pn,
		       "case %d: reference kernels = numpy DDSP "
		       "(%.3g, %.3g)",
		       c, erh, ern);
		/* zero-f0 frames and the all-zero frame are in the fixture: no NaN anywhere */
		int finite = 1;
		for (size_t i = 0; i < N; i++)
			finite &= isfinite(got_h[i]) && isfinite(got_n[i]);
		tap_ok(finite, "case %d: output finite (zero f0, all-zero distribution)", c);
		ddsp_synth_free(s);
		free(got_h), free(ref_h), free(got_n), free(ref_n);
		for (int i = 0; i < 6; i++)
			free(rec[i]);
	}
out:
	npy_record_free(&r);
	fclose(f);
}

static void test_exp_sigmoid(void)
{
	tap_ok(fabs(ddsp_exp_sigmoid(0) - 0.405399) < 1e-6 && fabs(ddsp_exp_sigmoid(1) - 0.972229) < 1e-6 &&
		       fabs(ddsp_exp_sigmoid(-3) - 1.788e-3) < 1e-6,
	       "exp_sigmoid(0, 1, -3) = 0.405399, 0.972229, 1.788e-3 (%.6f %.6f %.4g)", ddsp_exp_sigmoid(0),
	       ddsp_exp_sigmoid(1), ddsp_exp_sigmoid(-3));
	float amp[1] = {0}, harm[2] = {1, -3}, noise[3] = {5, 0, 0}, f0[1] = {100};
	ddsp_controls c = {1, 2, 3, f0, amp, harm, noise};
	ddsp_apply_logits(&c);
	tap_ok(fabsf(amp[0] - 0.405399f) < 1e-6 && fabsf(harm[1] - 1.788e-3f) < 1e-6 &&
		       fabsf(noise[0] - 0.405399f) < 1e-6 && fabsf(noise[1] - ddsp_exp_sigmoid(-5)) < 1e-9 &&
		       f0[0] == 100,
	       "--logits: exp_sigmoid on amplitude/harmonics, bias -5 on noise");
}

static void test_normalize_and_upsample(void)
{
	/* K = 4, f0 = 3000 at 16 kHz: harmonics 3 (9 kHz) and 4 are zeroed; f0 = 8000: all */
	float f0[3] = {3000, 8000, 100};
	float d[12] = {1, 3, 5, 7, 1, 1, 1, 1, 0, 0, 0, 0};
	ddsp_normalize_harmonics(d, f0, 3, 4, 16000);
	tap_ok(d[0] == 0.25f && d[1] == 0.75f && d[2] == 0 && d[3] == 0,
	       "normalize: harmonics >= Nyquist zeroed, rest sums to 1");
	int zero = 1;
	for (int i = 4; i < 12; i++)
		zero &= d[i] == 0;
	tap_ok(zero, "normalize: all-zero frames (and all above Nyquist) stay zero, no NaN");
	/* a harmonic exactly at Nyquist counts as above: 4000·2 = 8000 */
	float f1[1] = {4000}, d1[2] = {1, 1};
	ddsp_normalize_harmonics(d1, f1, 1, 2, 16000);
	tap_ok(d1[0] == 1 && d1[1] == 0, "normalize: a harmonic at exactly sr/2 is zeroed");

	float x[3] = {1, 3, -1}, up[12], upw[12];
	ddsp_upsample_linear(up, x, 3, 4);
	tap_ok(up[0] == 1 && up[2] == 2 && up[4] == 3 && up[6] == 1 && up[8] == -1 && up[11] == -1,
	       "linear upsampling: frame k at k·hop, last frame held");
	ddsp_upsample_windowed(upw, x, 3, 4);
	tap_ok(upw[0] == 1 && upw[4] == 3 && fabsf(upw[2] - 2) < 1e-7 &&
		       fabsf(upw[1] - (float)(1 * (0.5 + 0.5 * cos(M_PI / 4)) + 3 * (0.5 - 0.5 * cos(M_PI / 4)))) <
			       1e-6 &&
		       upw[9] == -1,
	       "window upsampling: ½+½cos πr/hop crossfade, last frame repeated");
}

static uint64_t rng_state = 12345;
static double urand(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (rng_state >> 11) * (1.0 / 9007199254740992.0);
}

/* The fast kernels equal the plain ones on random controls with many harmonics. */
static void test_fast_equals_ref(void)
{
	const int F = 200, K = 100, B = 65, hop = 64;
	const double sr = 16000;
	size_t N = (size_t)F * hop;
	float *f0 = malloc(sizeof(float) * F), *amp = malloc(sizeof(float) * F);
	float *dist = malloc(sizeof(float) * F * K), *mags = malloc(sizeof(float) * F * B);
	float *a = calloc(N, sizeof(float)), *b = calloc(N, sizeof(float));
	float *na = calloc(N, sizeof(float)), *nb = calloc(N, sizeof(float));
	for (int k = 0; k < F; k++) {
		f0[k] = (float)(30 + 3000 * urand() * urand());
		amp[k] = (float)urand();
	}
	for (int i = 0; i < F * K; i++)
		dist[i] = (float)urand();
	for (int i = 0; i < F * B; i++)
		mags[i] = (float)(urand() * 2);
	ddsp_synth *s = ddsp_synth_new(sr, hop, K, B);
	ddsp_synth_harmonic(s, a, f0, amp, dist, F);
	ddsp_harmonic_ref(b, f0, amp, dist, F, K, hop, sr);
	double e = max_abs_diff(a, b, N);
	tap_ok(e < 1e-6, "fast harmonic kernel = plain kernel, 100 harmonics, jumpy f0 (max %.3g)", e);
	ddsp_synth_noise(s, na, mags, F, 99);
	ddsp_noise_ref(nb, mags, F, B, hop, 99);
	e = max_abs_diff(na, nb, N);
	tap_ok(e < 1e-5, "FFT noise kernel = direct convolution (max %.3g)", e);
	/* same inputs, same bytes */
	memset(nb, 0, sizeof(float) * N);
	ddsp_synth_noise(s, nb, mags, F, 99);
	tap_ok(!memcmp(na, nb, sizeof(float) * N), "noise from the same seed is the same bytes");
	memset(nb, 0, sizeof(float) * N);
	ddsp_synth_noise(s, nb, mags, F, 100);
	tap_ok(memcmp(na, nb, sizeof(float) * N) != 0, "another seed gives other noise");
	ddsp_synth_free(s);
	free(f0), free(amp), free(dist), free(mags), free(a), free(b), free(na), free(nb);
}

/* One harmonic at constant f: exactly A·sin(2πf(n+1)/sr). */
static void test_constant_harmonic(void)
{
	const int F = 250, hop = 64; /* one second */
	const double sr = 16000, f = 440, A = 0.8;
	size_t N = (size_t)F * hop;
	float *f0 = malloc(sizeof(float) * F), *amp = malloc(sizeof(float) * F);
	float *dist = malloc(sizeof(float) * F), *y = malloc(sizeof(float) * N);
	for (int k = 0; k < F; k++)
		f0[k] = (float)f, amp[k] = (float)A, dist[k] = 1;
	ddsp_synth *s = ddsp_synth_new(sr, hop, 1, 0);
	ddsp_synth_harmonic(s, y, f0, amp, dist, F);
	double e = 0;
	for (size_t n = 0; n < N; n++)
		e = SH_MAX(e, fabs(y[n] - A * sin(TWO_PI * f * (n + 1) / sr)));
	tap_ok(e <= A * FLT_EPSILON, "constant harmonic = A·sin(2πf(n+1)/sr) over 1 s (max err %.3g)", e);
	ddsp_synth_free(s);
	free(f0), free(amp), free(dist), free(y);
}

/* Power spectrum (Hann, averaged over frames of size nfft) of x. */
static void avg_spectrum(const float *x, size_t n, int nfft, double *pow_out)
{
	float *buf = fftwf_malloc(sizeof(float) * nfft);
	fftwf_complex *spec = fftwf_malloc(sizeof(fftwf_complex) * (nfft / 2 + 1));
	fftwf_plan p = fftwf_plan_dft_r2c_1d(nfft, buf, spec, FFTW_ESTIMATE);
	memset(pow_out, 0, sizeof(double) * (nfft / 2 + 1));
	int frames = 0;
	for (size_t t = 0; t + nfft <= n; t += nfft / 2, frames++) {
		for (int j = 0; j < nfft; j++)
			buf[j] = (float)(x[t + j] * (0.5 - 0.5 * cos(TWO_PI * j / nfft)));
		fftwf_execute(p);
		for (int i = 0; i <= nfft / 2; i++)
			pow_out[i] += spec[i][0] * spec[i][0] + spec[i][1] * spec[i][1];
	}
	for (int i = 0; i <= nfft / 2; i++)
		pow_out[i] /= frames;
	fftwf_destroy_plan(p);
	fftwf_free(buf);
	fftwf_free(spec);
}

/* f0 = 1031.25 Hz (bin 264 of 4096) with 60 equal harmonics: only 1..7 are below 8 kHz. Any
 * harmonic that leaked past Nyquist would alias onto 16000 - h·f0 (7750, 6718.75, ...),
 * between them. */
static void test_nothing_above_nyquist(void)
{
	const int F = 250, hop = 64, K = 60, nfft = 4096;
	const double sr = 16000, f = 264 * 16000.0 / 4096;
	size_t N = (size_t)F * hop;
	float *f0 = malloc(sizeof(float) * F), *amp = malloc(sizeof(float) * F);
	float *dist = malloc(sizeof(float) * F * K), *y = malloc(sizeof(float) * N);
	for (int k = 0; k < F; k++) {
		f0[k] = (float)f, amp[k] = 1;
		for (int h = 0; h < K; h++)
			dist[k * K + h] = 1;
	}
	ddsp_synth *s = ddsp_synth_new(sr, hop, K, 0);
	ddsp_synth_harmonic(s, y, f0, amp, dist, F);
	double *pw = malloc(sizeof(double) * (nfft / 2 + 1)), on = 0, off = 0;
	avg_spectrum(y, N, nfft, pw);
	for (int i = 0; i <= nfft / 2; i++) {
		double fi = i * sr / nfft, hf = fi / f;
		int near = fabs(hf - round(hf)) * f < 4 * sr / nfft && round(hf) >= 1;
		if (near)
			on += pw[i];
		else
			off += pw[i];
	}
	tap_ok(off < 1e-9 * on, "f0 1031.25 Hz, 60 harmonics: no aliased energy (off/on %.3g)", off / on);
	/* and a glide from 200 Hz to 4 kHz: every sample equals the sum over the harmonics
	 * below Nyquist only (the reference kernel, which tests f per harmonic per sample) */
	for (int k = 0; k < F; k++)
		f0[k] = (float)(200 * pow(20.0, (double)k / (F - 1)));
	float *r = malloc(sizeof(float) * N);
	ddsp_synth_harmonic(s, y, f0, amp, dist, F);
	ddsp_harmonic_ref(r, f0, amp, dist, F, K, hop, sr);
	double e = max_abs_diff(y, r, N);
	tap_ok(e < 1e-6,
	       "glide 200 Hz..4 kHz, 60 harmonics: harmonics crossing Nyquist drop out "
	       "sample-exactly (max %.3g)",
	       e);
	ddsp_synth_free(s);
	free(f0), free(amp), free(dist), free(y), free(pw), free(r);
}

/* Flat magnitudes (all 1): the filter is a pure delay, the spectrum stays flat. */
static void test_flat_noise(void)
{
	const int F = 1000, hop = 64, B = 65, nfft = 256;
	size_t N = (size_t)F * hop;
	float *mags = malloc(sizeof(float) * F * B), *y = calloc(N, sizeof(float));
	float *w = malloc(sizeof(float) * N);
	for (int i = 0; i < F * B; i++)
		mags[i] = 1;
	ddsp_synth *s = ddsp_synth_new(16000, hop, 1, B);
	ddsp_synth_noise(s, y, mags, F, 5);
	ddsp_white_noise(w, N, 5);
	double e = 0, m = 0, var = 0;
	for (size_t n = 2; n < N; n++)
		e = SH_MAX(e, fabs(y[n] - w[n - 2]));
	for (size_t n = 0; n < N; n++)
		m += w[n], var += (double)w[n] * w[n];
	m /= N, var /= N;
	tap_ok(fabs(m) < 0.01 && fabs(var - 1.0 / 3) < 0.01,
	       "white noise: mean %.4f, variance %.4f "
	       "(uniform [-1,1): 0, 1/3)",
	       m, var);
	tap_ok(e < 1e-6, "flat filter passes the noise unchanged, 2 samples late (max err %.3g)", e);
	double *pw = malloc(sizeof(double) * (nfft / 2 + 1)), lo = 1e30, hi = 0, mean = 0;
	avg_spectrum(y, N, nfft, pw);
	for (int i = 1; i < nfft / 2; i++) {
		lo = SH_MIN(lo, pw[i]), hi = SH_MAX(hi, pw[i]);
		mean += pw[i] / (nfft / 2 - 1);
	}
	/* 500 averaged frames: each bin within ±25% of the mean */
	tap_ok(lo > 0.75 * mean && hi < 1.25 * mean,
	       "flat filter: spectrum flat (bins %.3f..%.3f "
	       "of the mean)",
	       lo / mean, hi / mean);
	ddsp_synth_free(s);
	free(mags), free(y), free(w), free(pw);
}

/* A harmonic tone, amplitudes 1/h, no harmonic above 0.45·sr. */
static void make_tone(float *x, size_t n, double f, double sr, double vib)
{
	double ph = 0;
	for (size_t i = 0; i < n; i++) {
		double fi = f * (1 + vib * sin(TWO_PI * 5 * i / sr));
		ph += TWO_PI * fi / sr;
		double v = 0;
		for (int h = 1; h * f * (1 + vib) < 0.45 * sr && h <= 30; h++)
			v += sin(h * ph) / h;
		x[i] = (float)(0.3 * v);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void test_f0(void)
{
	ddsp_analysis_opts o;
	ddsp_analysis_defaults(&o);
	ddsp_analyzer *a = ddsp_analyzer_new(&o);
	const size_t n = 8000; /* half a second per tone */
	float *x = malloc(sizeof(float) * n);
	int F = (int)((n + o.hop - 1) / o.hop);
	float *f0 = malloc(sizeof(float) * F), *v = malloc(sizeof(float) * F);
	float *conf = malloc(sizeof(float) * F);
	double worst = 0, errs[F];
	int all_voiced = 1;
	for (int t = 0; t < 13; t++) {
		double f = 50 * pow(40.0, t / 12.0); /* 50 Hz .. 2 kHz */
		make_tone(x, n, f, o.sr, 0);
		ddsp_f0_yin(a, x, n, F, f0, v, conf);
		int m = 0;
		for (int k = 4; k < F - 4; k++) { /* frames clear of the edges */
			errs[m++] = fabs(f0[k] / f - 1);
			all_voiced &= v[k] == 1;
		}
		qsort(errs, m, sizeof(double), cmp_double);
		worst = SH_MAX(worst, errs[m / 2]);
		if (errs[m / 2] >= 0.005)
			tap_diag("f0 %.1f Hz: median error %.3f%%", f, 100 * errs[m / 2]);
	}
	tap_ok(worst < 0.005,
	       "YIN f0 on harmonic tones 50 Hz..2 kHz: median error < 0.5%% "
	       "(worst tone %.4f%%)",
	       100 * worst);
	tap_ok(all_voiced, "harmonic tones are voiced");
	/* white noise: unvoiced; silence: unvoiced, f0 filled (0 when nothing is voiced) */
	ddsp_white_noise(x, n, 3);
	ddsp_f0_yin(a, x, n, F, f0, v, conf);
	int nv = 0;
	for (int k = 0; k < F; k++)
		nv += v[k] != 0;
	tap_ok(nv < F / 10, "white noise: %d of %d frames voiced", nv, F);
	/* tone, silence, tone: the gap is unvoiced and filled between the two f0s */
	make_tone(x, n, 200, o.sr, 0);
	make_tone(x + n / 2, n / 2, 300, o.sr, 0);
	memset(x + 3 * n / 8, 0, sizeof(float) * n / 4);
	ddsp_f0_yin(a, x, n, F, f0, v, conf);
	int mid = F / 2, mono = 1;
	for (int k = 20; k < F - 20; k++)
		mono &= f0[k] >= f0[k - 1] - 0.5f && f0[k] > 150 && f0[k] < 350;
	tap_ok(v[mid] == 0 && f0[mid] > 200 && f0[mid] < 300 && mono,
	       "silent gap unvoiced, f0 filled continuously between 200 and 300 Hz (%.1f)", f0[mid]);
	ddsp_analyzer_free(a);
	free(x), free(f0), free(v), free(conf);
}

static void test_loudness(void)
{
	/* librosa.A_weighting at 1 kHz, 100 Hz, 10 kHz, and the floor */
	tap_ok(fabs(ddsp_a_weighting_db(1000) - (-0.0)) < 0.01 && fabs(ddsp_a_weighting_db(100) - (-19.1)) < 0.05 &&
		       fabs(ddsp_a_weighting_db(10000) - (-2.5)) < 0.05 && ddsp_a_weighting_db(0) == -80 &&
		       ddsp_a_weighting_db(1) == -80,
	       "A-weighting: 1 kHz %.2f, 100 Hz %.2f, 10 kHz %.2f dB, floor -80", ddsp_a_weighting_db(1000),
	       ddsp_a_weighting_db(100), ddsp_a_weighting_db(10000));
	ddsp_analysis_opts o;
	ddsp_analysis_defaults(&o);
	ddsp_analyzer *a = ddsp_analyzer_new(&o);
	size_t n = 16000;
	int F = 250;
	float *x = malloc(sizeof(float) * n), *ld = malloc(sizeof(float) * F);
	/* a 1 kHz sine of amplitude A (bin 32 exactly): Hann-windowed |X| = A·512/4 on 2 bins
	 * of |X| A·512/4·... → mean power = (2·(A·128)² + 2·(A·64)²·w) / 257; computed directly */
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(0.5 * sin(TWO_PI * 1000 * i / 16000.0));
	ddsp_loudness(a, x, n, F, ld);
	double w1k = pow(10, ddsp_a_weighting_db(1000) / 10);
	double wl = pow(10, ddsp_a_weighting_db(1000 - 31.25) / 10);
	double wh = pow(10, ddsp_a_weighting_db(1000 + 31.25) / 10);
	double amp = 0.5 * 512 / 4; /* centre bin of a Hann-windowed sine; neighbours half */
	double want = 10 * log10((amp * amp * w1k + amp * amp / 4 * (wl + wh)) / 257);
	tap_ok(fabs(ld[F / 2] - want) < 0.01, "loudness of a 1 kHz sine: %.3f dB (want %.3f)", ld[F / 2], want);
	memset(x, 0, sizeof(float) * n);
	ddsp_loudness(a, x, n, F, ld);
	tap_ok(ld[10] == -120, "loudness of silence: -120 dB floor");
	ddsp_analyzer_free(a);
	free(x), free(ld);
}

static void test_analysis_resynthesis(void)
{
	ddsp_analysis_opts o;
	ddsp_analysis_defaults(&o);
	o.n_harmonics = 30;
	ddsp_analyzer *a = ddsp_analyzer_new(&o);
	const size_t n = 16000;
	float *x = malloc(sizeof(float) * n), *z = malloc(sizeof(float) * n);
	/* harmonic amplitudes of a steady tone come back */
	make_tone(x, n, 220, o.sr, 0);
	int F = (int)((n + o.hop - 1) / o.hop);
	float *amps = malloc(sizeof(float) * F * o.n_harmonics), f0[F], v[F], c[F];
	ddsp_f0_yin(a, x, n, F, f0, v, c);
	ddsp_harmonic_amplitudes(a, x, n, F, f0, amps, NULL);
	double e = 0;
	for (int h = 0; h < 30; h++) {
		double want = (h + 1) * 220 < 0.45 * o.sr ? 0.3 / (h + 1) : 0;
		e = SH_MAX(e, fabs(amps[(F / 2) * o.n_harmonics + h] - want));
	}
	tap_ok(e < 0.003, "harmonic amplitudes of a 220 Hz tone (0.3/h): max error %.4f", e);

	/* analyze → synth reproduces a vibrato tone in noise: small multi-scale loss, much
	 * smaller than against another tone, and smaller with the noise model than without */
	float *w = malloc(sizeof(float) * n);
	ddsp_white_noise(w, n, 9);
	make_tone(x, n, 220, o.sr, 0.02);
	make_tone(z, n, 330, o.sr, 0.02);
	for (size_t i = 0; i < n; i++) {
		x[i] += 0.02f * w[i];
		z[i] += 0.02f * w[(i + 999) % n];
	}
	ddsp_features feat;
	int rc = ddsp_analyze(a, x, n, &feat);
	tap_ok(rc == 0 && feat.c.n_frames == F, "analyze: %d frames", feat.c.n_frames);
	ddsp_synth *s = ddsp_synth_new(o.sr, o.hop, o.n_harmonics, o.n_bands);
	float *y = calloc((size_t)F * o.hop, sizeof(float));
	ddsp_synth_harmonic(s, y, feat.c.f0_hz, feat.c.amplitude, feat.c.harmonics, F);
	double l_harm = ddsp_spectral_loss(x, y, n);
	ddsp_synthesize(s, y, &feat.c, 1);
	double l_same = ddsp_spectral_loss(x, y, n), l_other = ddsp_spectral_loss(x, z, n);
	double l_self = ddsp_spectral_loss(x, x, n);
	tap_ok(l_self == 0, "spectral loss of a signal against itself is 0");
	tap_ok(l_same < 0.4 * l_other,
	       "resynthesis of a 220 Hz vibrato tone in noise: loss %.3f, "
	       "against a 330 Hz one %.3f",
	       l_same, l_other);
	tap_ok(l_same < l_harm, "the residual's noise bands bring the loss down (%.3f without)", l_harm);
	/* the noise bands of white noise at a known level come back */
	ddsp_white_noise(w, n, 11);
	for (size_t i = 0; i < n; i++)
		w[i] *= 0.1f;
	float *mags = malloc(sizeof(float) * F * o.n_bands);
	ddsp_noise_bands(a, w, n, F, mags);
	double mean = 0;
	int cnt = 0;
	for (int k = 10; k < F - 10; k++)
		for (int b = 0; b < o.n_bands; b++, cnt++)
			mean += mags[k * o.n_bands + b];
	mean /= cnt;
	tap_ok(fabs(mean - 0.1) < 0.015, "noise bands of white noise ×0.1: mean magnitude %.4f", mean);
	ddsp_features_free(&feat);
	ddsp_synth_free(s);
	ddsp_analyzer_free(a);
	free(x), free(z), free(y), free(amps), free(w), free(mags);
}

static void test_check(void)
{
	float f0[2] = {100, -1}, amp[2] = {1, 1}, h[2] = {1, 1};
	ddsp_controls c = {2, 1, 0, f0, amp, h, NULL};
	tap_ok(ddsp_controls_check(&c, 0) < 0 && strstr(sh_errmsg(), "f0_hz") && strstr(sh_errmsg(), "frame 1"),
	       "negative f0 refused: %s", sh_errmsg());
	f0[1] = 100;
	amp[0] = NAN;
	tap_ok(ddsp_controls_check(&c, 0) < 0 && strstr(sh_errmsg(), "amplitude"), "NaN amplitude refused: %s",
	       sh_errmsg());
	amp[0] = -2;
	tap_ok(ddsp_controls_check(&c, 1) == 0 && ddsp_controls_check(&c, 0) < 0,
	       "negative amplitude is a valid logit, not a valid linear amplitude");
}

int main(void)
{
	test_exp_sigmoid();
	test_normalize_and_upsample();
	test_reference_fixture();
	test_fast_equals_ref();
	test_constant_harmonic();
	test_nothing_above_nyquist();
	test_flat_noise();
	test_f0();
	test_loudness();
	test_analysis_resynthesis();
	test_check();
	return tap_done();
}
