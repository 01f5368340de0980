/* test_curate.c: unit tests of lib/curate.c and lib/fingerprint.c: trimming against the
 * librosa rule (fixture made by tests/fixtures/make-curate-trim.py), fast kernels against their
 * references, the repair high-pass, the noise model, the rejection rules on synthetic clips
 * (issue 15: DC repaired, light clipping kept, a varying riff kept, hum and clicks rejected), fingerprint similarity with offsets,
 * ordering, track splitting and crossfaded rendering. */
#include "curate.h"
#include "fingerprint.h"
#include "npy.h"
#include "tap.h"
#include "util.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define R 16000

static uint64_t seed = 42;
static double urand(void)
{
	seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return (seed >> 11) * (1.0 / 9007199254740992.0);
}
static double grand(void)
{
	double u = urand() + 1e-12, v = urand();
	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* "Music": notes of a pentatonic scale with harmonics and decays, a new note every beat. */
static void music(float *x, size_t n, double root, double beat, unsigned s)
{
	static const int penta[5] = {0, 2, 4, 7, 9};
	uint64_t keep = seed;
	seed = s;
	memset(x, 0, n * sizeof *x);
	size_t step = (size_t)(beat * R);
	for (size_t at = 0; at < n; at += step) {
		int deg = (int)(urand() * 10);
		double hz = root * pow(2, (penta[deg % 5] + 12 * (deg / 5)) / 12.0);
		for (int h = 1; h <= 3; h++)
			for (size_t i = 0; i < 2 * step && at + i < n; i++)
				x[at + i] += (float)(0.2 / h * sin(2 * M_PI * hz * h * i / R) * exp(-4.0 * h * i / R) *
						     SH_MIN(1.0, i / 80.0));
	}
	seed = keep;
}

static void test_trim(void)
{
	FILE *f = fopen("tests/fixtures/curate-trim.npy", "rb");
	FILE *t = fopen("tests/fixtures/curate-trim.txt", "r");
	if (!tap_ok(f && t, "trim fixtures open"))
		return;
	npy_record r = {0};
	int k = 0;
	while (npy_read_record(f, &r) == 1) {
		size_t n, start, end, want_n, want_start, want_end;
		double want_db, db;
		if (fscanf(t, "%zu %zu %zu %lf", &want_n, &want_start, &want_end, &want_db) != 4)
			break;
		n = r.h.count;
		const float *x = r.data;
		size_t nf = curate_trim_frames(n);
		double *ms = malloc(nf * sizeof *ms), *ref = malloc(nf * sizeof *ref);
		curate_frame_power(x, n, ms);
		curate_frame_power_ref(x, n, ref);
		double worst = 0;
		for (size_t i = 0; i < nf; i++)
			worst = fmax(worst, fabs(ms[i] - ref[i]) / fmax(1e-30, fabs(ref[i])));
		tap_ok(worst < 1e-12, "signal %d: frame powers by running sums equal direct sums (rel %.1e)", k, worst);
		curate_trim(ms, n, 50, &start, &end, &db);
		tap_ok(n == want_n && start == want_start && end == want_end && fabs(db - want_db) < 1e-3,
		       "signal %d (%zu samples): trimmed to [%zu, %zu) as librosa's rule ([%zu, %zu)), loudest %.3f dB",
		       k, n, start, end, want_start, want_end, db);
		free(ms);
		free(ref);
		k++;
	}
	tap_ok(k == 6, "all 6 trim cases read");
	npy_record_free(&r);
	fclose(f);
	fclose(t);
}

static void test_flatness(void)
{
	float p[CURATE_FFT / 2];
	double worst = 0;
	for (int trial = 0; trial < 50; trial++) {
		for (int k = 0; k < CURATE_FFT / 2; k++)
			p[k] = (float)(pow(10, 10 * urand() - 10) * (trial % 2 ? 1 : 1e-2));
		double a = curate_flatness(p), b = curate_flatness_ref(p);
		worst = fmax(worst, fabs(a - b) / b);
	}
	tap_ok(worst < 1e-9, "flatness by block products equals one log per bin (rel %.1e)", worst);
	for (int k = 0; k < CURATE_FFT / 2; k++)
		p[k] = (float)(-log(urand() + 1e-300)); /* exponential: white noise periodogram */
	double w = curate_flatness(p);
	tap_ok(fabs(w - 0.5615) < 0.06, "white-noise spectrum flatness %.3f near exp(-γ) = 0.56", w);
	for (int k = 0; k < CURATE_FFT / 2; k++)
		p[k] = k % 32 == 5 ? 100 : 1e-6f;
	tap_ok(curate_flatness(p) < 0.01, "harmonic spectrum flatness %.4f is low", curate_flatness(p));

	/* against the local spectrum: noise of any colour or band scores alike; harmonics low */
	for (int k = 0; k < CURATE_FFT / 2; k++)
		p[k] = (float)(-log(urand() + 1e-300));
	double white = curate_local_flatness(p);
	for (int k = 0; k < CURATE_FFT / 2; k++) /* pink-ish hiss above bin 100, nothing below */
		p[k] = k < 100 ? 1e-6f : (float)(-log(urand() + 1e-300) * 100.0 / k);
	double hiss = curate_local_flatness(p);
	for (int k = 0; k < CURATE_FFT / 2; k++)
		p[k] = (k % 16 == 5 ? 100 : 0.01f) * (float)(-log(urand() + 1e-300));
	double harm = curate_local_flatness(p);
	tap_ok(white > 0.45 && white < 0.7 && fabs(hiss - white) < 0.1 && harm < 0.2,
	       "local flatness: white %.3f, band-limited coloured hiss %.3f, harmonics %.3f", white, hiss, harm);
}

/* Analyses a copy of x (curate_analyze repairs its input in place); the repaired clip is left
 * in repaired[] when that is not NULL. */
static int analyze_into(const float *x, size_t n, curate_scores *s, const char *what, float *repaired)
{
	curate_opts o;
	curate_default_opts(&o);
	curate_analyzer *a = curate_analyzer_new();
	float *y = malloc(n * sizeof *y);
	memcpy(y, x, n * sizeof *y);
	int rc = curate_analyze(a, &o, y, n, s);
	curate_analyzer_free(a);
	if (repaired)
		memcpy(repaired, y, n * sizeof *y);
	free(y);
	tap_diag("%-10s reasons %#x change %.2f noise %.2f kurt %.1f loop %.3f@%.2fs corr %.4f@%.4fs "
		 "clip %.4f dc %.4f rms %.1f dB",
		 what, s->reasons, s->change, s->noise_fraction, s->kurtosis, s->loop_score, s->loop_period,
		 s->loop_corr, s->loop_lag, s->clip_fraction, s->dc, s->rms_db);
	return rc;
}

static int analyze(const float *x, size_t n, curate_scores *s, const char *what)
{
	return analyze_into(x, n, s, what, NULL);
}

/* The repair high-pass: a constant gives 0 from the first sample (no step where a DC-shifted
 * clip starts), 1 kHz passes, 5 Hz is cut. */
static void test_highpass(void)
{
	size_t n = 2 * R;
	float *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = 0.3f;
	curate_highpass(x, n, R, 20);
	double worst = 0;
	for (size_t i = 0; i < n; i++)
		worst = fmax(worst, fabs(x[i]));
	tap_ok(worst < 1e-6, "high-pass of a constant is 0 from the first sample (max %.1e)", worst);
	double gain[2];
	const double hz[2] = {1000, 5};
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < n; i++)
			x[i] = (float)sin(2 * M_PI * hz[k] * i / R);
		curate_highpass(x, n, R, 20);
		double e = 0;
		for (size_t i = n / 2; i < n; i++)
			e += (double)x[i] * x[i];
		gain[k] = sqrt(e / (n / 2) * 2);
	}
	tap_ok(fabs(gain[0] - 1) < 1e-3, "1 kHz passes the 20 Hz high-pass (gain %.5f)", gain[0]);
	tap_ok(gain[1] < 0.1, "5 Hz is cut by more than 20 dB (gain %.4f; Butterworth: 0.0624)", gain[1]);
	free(x);
}

/* The noise variance of a band's log energy against a simulation: blocks of CURATE_BLOCK Hann
 * frames of white noise, the log of the energy in a band of `bins` bins. */
static void test_noise_var(void)
{
	curate_analyzer *a = curate_analyzer_new();
	curate_opts o;
	curate_default_opts(&o);
	size_t n = 60 * R;
	float *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(grand() * 0.1);
	curate_scores s;
	curate_analyze(a, &o, x, n, &s);
	tap_ok(s.change > 0.75 && s.change < 1.15,
	       "60 s of white noise: block-to-block change %.3f, about 1 (the noise model holds)", s.change);
	/* hiss: the same noise with every bin below 5 kHz removed (a brick wall). The bands under
	 * the edge hold only the window's leakage of a few bins beside it and fluctuate as those
	 * few do; judged by their full width they looked like change (1.9, issue 15) */
	{
		size_t m = 12 * R;
		float *h = fftwf_alloc_real(m);
		fftwf_complex *sp = fftwf_alloc_complex(m / 2 + 1);
		fftwf_plan fw = fftwf_plan_dft_r2c_1d((int)m, h, sp, FFTW_ESTIMATE);
		fftwf_plan bw = fftwf_plan_dft_c2r_1d((int)m, sp, h, FFTW_ESTIMATE);
		for (size_t i = 0; i < m; i++)
			h[i] = (float)grand();
		fftwf_execute(fw);
		for (size_t k = 0; k < 5000 * m / R; k++)
			sp[k][0] = sp[k][1] = 0;
		fftwf_execute(bw);
		for (size_t i = 0; i < m; i++)
			h[i] *= 0.01f / m;
		analyze(h, m, &s, "hiss");
		tap_ok(s.change < 1.2 && s.reasons == CURATE_NOISE,
		       "hiss above 5 kHz: change %.3f, noise like white noise", s.change);
		fftwf_destroy_plan(fw);
		fftwf_destroy_plan(bw);
		fftwf_free(h);
		fftwf_free(sp);
	}
	tap_ok(curate_noise_log_var(1) > curate_noise_log_var(4) &&
		       curate_noise_log_var(4) > curate_noise_log_var(32) &&
		       fabs(curate_noise_log_var(32) - 1 / (32.0 * CURATE_BLOCK * CURATE_NOISE_DOF_SHARE)) < 0.001,
	       "the noise variance falls with the band's width, about 1/(ν/2) for wide bands");
	curate_analyzer_free(a);
	free(x);
}

static void test_rules(void)
{
	size_t n = 12 * R;
	float *x = malloc(n * sizeof *x);
	curate_scores s;

	memset(x, 0, n * sizeof *x);
	analyze(x, n, &s, "zeros");
	tap_ok(s.reasons == CURATE_SILENCE, "digital silence is silence");
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(grand() * 3e-4); /* -70 dBFS hiss: the relative rule would keep it */
	analyze(x, n, &s, "hiss");
	tap_ok(s.reasons == CURATE_SILENCE && s.end - s.start > n / 2,
	       "hiss at -70 dBFS is silence by the absolute floor (trim kept %zu samples)", s.end - s.start);

	for (size_t i = 0; i < n; i++)
		x[i] = (float)(grand() * 0.2);
	analyze(x, n, &s, "white");
	tap_ok(s.reasons == CURATE_NOISE, "white noise is noise");

	music(x, n, 220, 0.3, 7);
	analyze(x, n, &s, "music");
	tap_ok(s.reasons == 0, "synthetic music is kept");
	float *m = malloc(n * sizeof *m);
	memcpy(m, x, n * sizeof *x);

	/* issue 15: a DC offset is repaired, not rejected */
	float *y = malloc(n * sizeof *y);
	for (size_t i = 0; i < n; i++)
		x[i] = m[i] + 0.05f;
	analyze_into(x, n, &s, "dc", y);
	double mean = 0, err = 0;
	for (size_t i = R; i < n; i++) {
		mean += y[i];
		err = fmax(err, fabs(y[i] - m[i]));
	}
	mean /= n - R;
	tap_ok(s.reasons == 0 && fabs(s.dc - 0.05) < 0.005 && fabs(mean) < 1e-3,
	       "music + 0.05 is kept: DC %.4f measured and removed (mean after %.1e)", s.dc, mean);
	tap_ok(err < 0.05, "and the music itself is what remains (max difference %.4f after 1 s)", err);
	free(y);

	for (size_t i = 0; i < n; i++)
		x[i] = fmaxf(-1, fminf(1, m[i] * 10));
	analyze(x, n, &s, "clipped");
	tap_ok(s.reasons & CURATE_CLIPPING, "music ×10 clipped at ±1 is clipping (%.1f%% of samples)",
	       100 * s.clip_fraction);
	/* issue 15: light clipping (a loud master) is counted, not rejected */
	float top = 0;
	for (size_t i = 0; i < n; i++)
		top = fmaxf(top, fabsf(m[i]));
	for (size_t i = 0; i < n; i++)
		x[i] = fmaxf(-1, fminf(1, m[i] / top * 1.3f));
	analyze(x, n, &s, "lightclip");
	tap_ok(s.clip_fraction > 0 && !(s.reasons & CURATE_CLIPPING),
	       "music driven 2.3 dB over full scale: %.2f%% clipped, counted, not rejected", 100 * s.clip_fraction);

	size_t period = (size_t)(0.5 * R);
	for (size_t i = 0; i < n; i++)
		x[i] = i < period ? m[i] : x[i - period];
	analyze(x, n, &s, "loop");
	tap_ok(s.reasons == CURATE_LOOP && fabs(s.loop_period - 0.5) < 0.02,
	       "a 0.5 s riff repeated is a stuck loop at 0.5 s (found %.3f s)", s.loop_period);
	tap_ok(s.loop_corr > 0.999 && fabs(s.loop_lag - 0.5) < 1e-9,
	       "its waveform repeats to the sample: correlation %.5f at %.4f s", s.loop_corr, s.loop_lag);
	{
		float *r = malloc(n * sizeof *r);
		curate_opts o;
		curate_default_opts(&o);
		curate_analyzer *an = curate_analyzer_new();
		memcpy(r, x, n * sizeof *r);
		curate_analyze(an, &o, r, n, &s);
		double ref = curate_autocorr_ref(r + s.start, s.end - s.start, period);
		tap_ok(fabs(ref - s.loop_corr) < 1e-4, "FFT autocorrelation %.6f equals the direct sum %.6f",
		       s.loop_corr, ref);
		curate_analyzer_free(an);
		free(r);
	}
	/* issue 15: a band playing the same riff again varies: each repeat up to ±6 ms late or
	 * early and ±20% in level. The band energies repeat, the waveform does not. */
	memset(x, 0, n * sizeof *x);
	for (size_t at = 0; at + period < n; at += period) {
		long jitter = (long)((urand() - 0.5) * 0.012 * R);
		float level = (float)(0.8 + 0.4 * urand());
		for (size_t i = 0; i < period; i++) {
			long j = (long)(at + i) + jitter;
			if (j >= 0 && j < (long)n)
				x[j] += level * m[i];
		}
	}
	analyze(x, n, &s, "riff");
	tap_ok(s.reasons == 0, "a riff played 24 times with human timing is kept (band %.3f, waveform %.4f)",
	       s.loop_score, s.loop_corr);

	/* issue 15: static is noise whatever its colour; a hum is static too */
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(0.01 * (sin(2 * M_PI * 50 * i / R) + 0.5 * sin(2 * M_PI * 150 * i / R + 1)) +
			       grand() * 1e-4);
	analyze(x, n, &s, "hum");
	tap_ok(s.reasons == CURATE_NOISE && s.change < 1, "a 50 Hz hum at -40 dB is noise (change %.2f)", s.change);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(grand() * 3e-5);
	for (size_t i = 100; i + 8 < n; i += 1600 + (size_t)(urand() * 3000))
		for (int k = 0; k < 8; k++)
			x[i + k] += (float)(0.5 * exp(-k / 2.0));
	analyze(x, n, &s, "clicks");
	tap_ok(s.reasons & CURATE_CLICKS, "clicks over near-silence are clicks (kurtosis %.0f)", s.kurtosis);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(grand() * 0.2);
	analyze(x, n, &s, "white");
	tap_ok(fabs(s.kurtosis - 3) < 0.2, "white noise: kurtosis %.2f, about 3", s.kurtosis);

	/* music in silence: trimmed to the music, then too short */
	memset(x, 0, n * sizeof *x);
	memcpy(x + 3 * R, m, 2 * R * sizeof *x);
	analyze(x, n, &s, "short");
	/* (the end may run a few frames on: the high-pass rings for some ms after the music stops
	 * dead) */
	tap_ok(s.reasons == CURATE_SHORT && s.start >= 3 * R - 256 && s.end <= 5 * R + 1024,
	       "2 s of music in 12 s of silence: trimmed to [%zu, %zu), too short", s.start, s.end);

	curate_opts o;
	curate_default_opts(&o);
	s.rms_db = -30;
	s.peak = 0.1;
	tap_ok(fabs(curate_gain_db(&o, &s) - 10) < 1e-9, "gain brings -30 dB RMS to -20 dB");
	s.peak = 0.5;
	tap_ok(fabs(curate_gain_db(&o, &s) - 20 * log10(0.99 / 0.5)) < 1e-9, "gain stops short of clipping");
	s.rms_db = -60;
	s.peak = 0.001;
	tap_ok(fabs(curate_gain_db(&o, &s) - 12) < 1e-9, "gain capped at +12 dB");
	free(x);
	free(m);
}

static void test_similarity_kernel(void)
{
	enum { NA = 150, NB = 97 };
	uint32_t a[NA], b[NB];
	for (int i = 0; i < NA; i++)
		a[i] = (uint32_t)(urand() * 4294967296.0);
	for (int i = 0; i < NB; i++)
		b[i] = (uint32_t)(urand() * 4294967296.0);
	int bad = 0;
	for (int off = -NA - 2; off <= NB + 2; off++) {
		int o1, o2;
		long f = fp_bit_matches(a, NA, b, NB, off, &o1), r = fp_bit_matches_ref(a, NA, b, NB, off, &o2);
		bad += f != r || o1 != o2;
	}
	tap_ok(!bad, "popcount bit matches equal the bit-by-bit reference at every offset");
	/* b = a shifted by 17 items with some bits flipped */
	for (int i = 0; i < NB; i++)
		b[i] = a[i + 17] ^ (urand() < 0.3 ? 1u << (int)(urand() * 32) : 0);
	int off;
	double s = fp_similarity(a, NA, b, NB, 30, 20, &off);
	tap_ok(off == -17 && s > 0.98, "shifted copy found at offset %d (want -17), similarity %.3f", off, s);
	s = fp_similarity(a, NA, b, NB, 10, 20, &off);
	tap_ok(s < 0.6, "outside the offset range it scores as unrelated (%.3f at %d)", s, off);
	s = fp_similarity(b, NB, a, NA, 30, 20, &off);
	tap_ok(off == 17 && s > 0.98, "and symmetric: offset %d the other way", off);
	tap_ok(fp_similarity(a, NA, b, 0, 30, 20, NULL) == 0, "an empty fingerprint scores 0");
	int16_t q[5];
	float v[5] = {1.5f, -2.0f, 0.5f, -0.5f, 0.6f / 32767};
	fp_float_to_int16(q, v, 5);
	tap_ok(q[0] == 32767 && q[1] == -32768 && q[2] == 16384 && q[3] == -16384 && q[4] == 1,
	       "float to int16: clipped and rounded (%d %d %d %d %d)", q[0], q[1], q[2], q[3], q[4]);
}

static void test_fingerprint(void)
{
	size_t n = 40 * R;
	float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
	music(x, n, 196, 0.25, 11);
	music(y, n, 262, 0.35, 12);
	fp_context *c = fp_context_new();
	uint32_t *a = NULL, *b = NULL, *u = NULL, *e = NULL, *a2 = NULL;
	int na, nb, nu, ne, na2;
	int ok = c && !fp_compute(c, x, 20 * R, R, &a, &na) && !fp_compute(c, x + 8 * R, 20 * R, R, &b, &nb) &&
		 !fp_compute(c, y, 20 * R, R, &u, &nu) && !fp_compute(c, x, 2 * R, R, &e, &ne) &&
		 !fp_compute(c, x, 20 * R, R, &a2, &na2);
	if (!tap_ok(ok, "fingerprints computed"))
		return;
	tap_ok(na > 130 && na < 150, "20 s give %d items (about 140)", na);
	tap_ok(ne == 0, "2 s give an empty fingerprint (%d items)", ne);
	tap_ok(na == na2 && !memcmp(a, a2, na * sizeof *a), "a context reused gives the same fingerprint");
	int off, max_off = (int)lround(10 / FP_ITEM_SECONDS), min_ov = (int)lround(4 / FP_ITEM_SECONDS);
	double same = fp_similarity(a, na, b, nb, max_off, min_ov, &off);
	double at0 = fp_similarity(a, na, b, nb, 0, min_ov, NULL);
	/* the second excerpt starts 8 s into the first: a[i] lines up with b[i - 8 s] */
	tap_ok(same > 0.8 && fabs(off * FP_ITEM_SECONDS + 8) < 0.3,
	       "overlapping excerpts: similarity %.3f at %.2f s (want -8 s), %.3f at offset 0 only", same,
	       off * FP_ITEM_SECONDS, at0);
	double other = fp_similarity(a, na, u, nu, max_off, min_ov, NULL);
	tap_ok(other < 0.7 && other < same - 0.15, "unrelated clips score %.3f", other);
	free(a);
	free(b);
	free(u);
	free(e);
	free(a2);
	fp_context_free(c);
	free(x);
	free(y);
}

static void test_order(void)
{
	enum { N = 40 };
	/* items on a line, shuffled: the best path visits them in line order */
	int pos[N], path[N];
	for (int i = 0; i < N; i++)
		pos[i] = i;
	for (int i = N - 1; i > 0; i--) {
		int j = (int)(urand() * (i + 1)), t = pos[i];
		pos[i] = pos[j];
		pos[j] = t;
	}
	float *sim = malloc(N * N * sizeof *sim);
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			sim[i * N + j] = i == j ? 0 : (float)(1.0 / (1 + abs(pos[i] - pos[j])));
	double total = curate_order(sim, N, path);
	int sorted = 1;
	for (int i = 0; i + 1 < N; i++)
		sorted &= abs(pos[path[i]] - pos[path[i + 1]]) == 1;
	tap_ok(sorted && fabs(total - (N - 1) * 0.5) < 1e-5, "a shuffled line is ordered back (total %.3f)", total);
	/* greedy alone can be beaten by 2-opt: random similarities */
	for (int i = 0; i < N; i++)
		for (int j = i; j < N; j++)
			sim[i * N + j] = sim[j * N + i] = i == j ? 0 : (float)urand();
	unsigned char used[N];
	int g[N];
	double best_greedy = 0;
	for (int s = 0; s < N; s++)
		best_greedy = fmax(best_greedy, curate_greedy_path(sim, N, s, g, used));
	total = curate_order(sim, N, path);
	memset(used, 0, sizeof used);
	int perm = 1;
	for (int i = 0; i < N; i++)
		perm &= !used[path[i]]++;
	tap_ok(perm && total >= best_greedy - 1e-9 && fabs(total - curate_path_score(sim, N, path)) < 1e-9,
	       "random similarities: a permutation scoring %.3f >= best greedy %.3f", total, best_greedy);
	int path2[N];
	curate_order(sim, N, path2);
	tap_ok(!memcmp(path, path2, sizeof path), "ordering is deterministic");
	for (int i = 0; i < N * N; i++)
		sim[i] = 0.5f;
	curate_order(sim, N, path);
	int ident = 1;
	for (int i = 0; i < N; i++)
		ident &= path[i] == i;
	tap_ok(ident, "all ties: input order");
	free(sim);
}

static void test_split(void)
{
	enum { N = 24 };
	size_t len[N];
	float join[N];
	int first[N];
	for (int i = 0; i < N; i++) {
		len[i] = 20 * R;
		join[i] = 0.9f;
	}
	/* 24 clips of 20 s with 1 s crossfades: 4-minute tracks hold about 12.6 clips; weak joins
	 * after clips 11 and 14 (0-based 10 and 13): the cut goes to the weak one near 240 s */
	join[10] = 0.5f;
	join[13] = 0.5f;
	int k = curate_split(len, join, N, R, 240.0 * R, first);
	tap_ok(k == 2 && first[0] == 0 && (first[1] == 11 || first[1] == 14),
	       "two tracks, cut at a weak join (track 2 starts at clip %d)", k > 1 ? first[1] : -1);
	join[10] = join[13] = 0.9f;
	k = curate_split(len, join, 3, R, 240.0 * R, first);
	tap_ok(k == 1, "a short path is one track");
	k = curate_split(len, join, N, R, 60.0 * R, first);
	int fine = k >= 6 && k <= 9;
	for (int t = 0; t < k; t++) {
		int m = (t + 1 < k ? first[t + 1] : N) - first[t];
		size_t L = curate_joined_length(len + first[t], m, R);
		fine &= L > 30.0 * R && L < 120.0 * R;
	}
	tap_ok(fine, "1-minute tracks: %d tracks, each between 30 s and 2 min", k);
}

static void test_render(void)
{
	size_t len[3] = {3 * R, 4 * R + 17, 3 * R + 5}, xf = R, edge = 160;
	float *c[3];
	double maxjump = 0;
	for (int i = 0; i < 3; i++) {
		c[i] = malloc(len[i] * sizeof *c[i]);
		double f = 200 + 170 * i, ph = urand() * 6.28;
		for (size_t t = 0; t < len[i]; t++) {
			c[i][t] = (float)(0.5 * sin(2 * M_PI * f * t / R + ph));
			if (t)
				maxjump = fmax(maxjump, fabs(c[i][t] - c[i][t - 1]));
		}
	}
	float gain[3] = {1, 1, 1};
	size_t total = curate_joined_length(len, 3, xf);
	tap_ok(total == len[0] + len[1] + len[2] - 2 * xf, "joined length is the sum less the crossfades");
	float *out = malloc(total * sizeof *out);
	curate_render(out, (const float *const *)c, len, gain, 3, xf, edge);
	/* outside the crossfades no jump exceeds the inputs' own; inside, equal-power weights sum
	 * to more than 1 (cos + sin <= √2), so two signals at their steepest together may jump by
	 * up to √2 times as much, but never with a step of their own */
	double jump_in = 0, jump_out = 0, first = fabs(out[0]);
	size_t j1 = len[0] - xf, j2 = len[0] + len[1] - 2 * xf;
	for (size_t t = 1; t < total; t++) {
		double d = fabs(out[t] - out[t - 1]);
		int in = (t >= j1 && t <= j1 + xf) || (t >= j2 && t <= j2 + xf);
		if (in)
			jump_in = fmax(jump_in, d);
		else
			jump_out = fmax(jump_out, d);
	}
	tap_ok(jump_out <= maxjump * 1.0001 && jump_in <= maxjump * sqrt(2) && first < 0.01,
	       "no click: jumps %.4f outside and %.4f inside crossfades for inputs' %.4f; starts from %.4f", jump_out,
	       jump_in, maxjump, first);
	size_t t = len[0] - xf + xf / 3;
	double th = M_PI / 2 * (xf / 3 + 0.5) / xf;
	double want = c[0][len[0] - xf + xf / 3] * cos(th) + c[1][xf / 3] * sin(th);
	tap_ok(fabs(out[t] - want) < 1e-6, "equal-power weights cos/sin in the crossfade");
	tap_ok(out[len[0] + 100] == c[1][xf + 100], "outside crossfades the clip passes unchanged");
	for (int i = 0; i < 3; i++)
		free(c[i]);
	free(out);
}

/* The most similar clips of one: highest first, ties in index order, itself left out, at most k. */
static void test_nearest(void)
{
	/* row 0: items 1..4 at 0.2, 0.9, 0.5, 0.9 */
	const float sim[25] = {0, 0.2f, 0.9f, 0.5f, 0.9f, 0.2f, 0, 0,    0, 0, 0.9f, 0, 0,
			       0, 0,    0.5f, 0,    0,    0,    0, 0.9f, 0, 0, 0,    0};
	int near[5], m = curate_nearest(sim, 5, 0, 3, near);
	tap_ok(m == 3 && near[0] == 2 && near[1] == 4 && near[2] == 3, "nearest 3: 2, 4 (a tie, index order), 3");
	m = curate_nearest(sim, 5, 0, 10, near);
	tap_ok(m == 4 && near[3] == 1, "k above n - 1: all others");
	tap_ok(curate_nearest(sim, 5, 0, 0, near) == 0, "k = 0: none");
}

int main(void)
{
	test_trim();
	test_flatness();
	test_highpass();
	test_noise_var();
	test_rules();
	test_similarity_kernel();
	test_fingerprint();
	test_order();
	test_split();
	test_render();
	test_nearest();
	return tap_done();
}
