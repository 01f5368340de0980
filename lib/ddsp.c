/* ddsp.c: DDSP's harmonic and filtered-noise synths, and the analysis that drives them
 * (see ddsp.h; the formulas follow ddsp/core.py and ddsp/synths.py, REFERENCE.md "DDSP").
 *
 * The harmonic synth is fast because every harmonic's phase is a whole multiple of the
 * fundamental's (f_h = h·f0 at every sample, so cumsum(2π f_h/sr) = h·cumsum(2π f0/sr)):
 * the fundamental's phase is accumulated in double and wrapped, and sin(h·φ) for all h comes
 * from the Chebyshev recurrence sin((h+1)φ) = 2cos φ·sin(hφ) - sin((h-1)φ), vectorised over
 * the samples of a block. In double the recurrence's error stays below 1e-12 for h <= 1000,
 * far inside float32 precision. ddsp_harmonic_ref is the plain per-harmonic version. */
#include "ddsp.h"
#include "fft.h"
#include "rng.h"
#include "util.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TWO_PI 6.283185307179586476925286766559

float ddsp_exp_sigmoid(float x)
{
	/* ddsp.core.exp_sigmoid(x, exponent=10, max_value=2, threshold=1e-7) */
	double s = 1.0 / (1.0 + exp(-(double)x));
	return (float)(2.0 * pow(s, log(10.0)) + 1e-7);
}

void ddsp_apply_logits(ddsp_controls *c)
{
	size_t F = c->n_frames, K = c->n_harmonics, B = c->n_bands;
	for (size_t i = 0; i < F; i++)
		c->amplitude[i] = ddsp_exp_sigmoid(c->amplitude[i]);
	for (size_t i = 0; i < F * K; i++)
		c->harmonics[i] = ddsp_exp_sigmoid(c->harmonics[i]);
	if (c->noise)
		for (size_t i = 0; i < F * B; i++)
			c->noise[i] = ddsp_exp_sigmoid(c->noise[i] + DDSP_NOISE_BIAS);
}

static int check_tensor(const char *name, const float *x, size_t n, size_t width, int nonneg)
{
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(x[i]))
			return sh_error("%s: frame %zu holds a non-finite value (%g)", name, i / width, (double)x[i]);
		if (nonneg && x[i] < 0)
			return sh_error("%s: frame %zu holds a negative value (%g)", name, i / width, (double)x[i]);
	}
	return 0;
}

int ddsp_controls_check(const ddsp_controls *c, int logits)
{
	size_t F = c->n_frames, K = c->n_harmonics, B = c->n_bands;
	if (c->n_frames < 1)
		return sh_error("no frames");
	if (c->n_harmonics < 1)
		return sh_error("harmonics: no harmonics (want shape (F, K) with K >= 1)");
	if (c->noise && c->n_bands < 3)
		return sh_error("noise: %d bands (want at least 3)", c->n_bands);
	if (check_tensor("f0_hz", c->f0_hz, F, 1, 1) || check_tensor("amplitude", c->amplitude, F, 1, !logits) ||
	    check_tensor("harmonics", c->harmonics, F * K, K, !logits) ||
	    (c->noise && check_tensor("noise", c->noise, F * B, B, !logits)))
		return -1;
	return 0;
}

/* One frame of normalize_harmonics: remove_above_nyquist then safe_divide (eps 1e-7). */
static void normalize_frame(float *out, const float *dist, double f0, int K, double sr)
{
	double sum = 0, nyq = sr / 2;
	for (int h = 0; h < K; h++) {
		out[h] = f0 * (h + 1) >= nyq ? 0.0f : dist[h];
		sum += out[h];
	}
	float den = sum == 0 ? 1e-7f : (float)sum;
	for (int h = 0; h < K; h++)
		out[h] /= den;
}

void ddsp_normalize_harmonics(float *dist, const float *f0, int F, int K, double sr)
{
	for (int k = 0; k < F; k++)
		normalize_frame(dist + (size_t)k * K, dist + (size_t)k * K, f0[k], K, sr);
}

void ddsp_upsample_linear(float *out, const float *x, int F, int hop)
{
	for (int k = 0; k < F; k++) {
		double a = x[k], b = k + 1 < F ? x[k + 1] : x[k];
		for (int r = 0; r < hop; r++)
			out[(size_t)k * hop + r] = (float)(a + (b - a) * r / hop);
	}
}

/* Weight of frame k at offset r into its block: the falling half of a periodic Hann window
 * of length 2·hop (tf.signal.hann_window), ½+½cos(πr/hop); frame k+1 gets the rest. */
static double window_weight(int r, int hop) { return 0.5 + 0.5 * cos(M_PI * r / hop); }

void ddsp_upsample_windowed(float *out, const float *x, int F, int hop)
{
	for (int k = 0; k < F; k++) {
		double a = x[k], b = k + 1 < F ? x[k + 1] : x[k];
		for (int r = 0; r < hop; r++) {
			double w = window_weight(r, hop);
			out[(size_t)k * hop + r] = (float)(a * w + b * (1 - w));
		}
	}
}

/* ---- noise source and filter design ---------------------------------------------------- */

void ddsp_white_noise(float *out, size_t n, uint64_t seed)
{
	uint64_t st = seed;
	for (size_t i = 0; i < n; i++) {
		uint64_t z = sh_splitmix64(&st);
		out[i] = (float)((double)(z >> 40) * (2.0 / 16777216.0) - 1.0);
	}
}

/* Hann (tf.signal.hann_window, periodic) applied in zero-phase position and the result
 * rotated to causal form: h[j] = hann[j]·z[(j + L/2) mod L], z the zero-phase response. */
static void window_to_causal(float *ir, const double *z, int L)
{
	for (int j = 0; j < L; j++)
		ir[j] = (float)((0.5 - 0.5 * cos(TWO_PI * j / L)) * z[(j + L / 2) % L]);
}

int ddsp_noise_ir(float *ir, const float *mags, int B)
{
	/* irfft of real magnitudes by its definition: numpy/tf ignore the imaginary parts
	 * of the DC and Nyquist bins, and scale by 1/L. */
	int L = 2 * (B - 1);
	double *z = malloc(sizeof(double) * L);
	if (!z)
		return sh_error("out of memory");
	for (int j = 0; j < L; j++) {
		double s = mags[0] + ((j & 1) ? -1.0 : 1.0) * mags[B - 1];
		for (int b = 1; b < B - 1; b++)
			s += 2.0 * mags[b] * cos(TWO_PI * (double)((long)b * j % L) / L);
		z[j] = s / L;
	}
	window_to_causal(ir, z, L);
	free(z);
	return 0;
}

/* fft_convolve's crop: start = (ir_size - 1)//2 - 1 (delay_compensation -1), which makes the
 * output lag the linear-phase filter's centre by 2 samples, as in the original. */
static int noise_crop_start(int L) { return (L - 1) / 2 - 1; }

/* ---- the synthesizer ------------------------------------------------------------------- */

struct ddsp_synth {
	double sr;
	int hop, K, B;
	/* harmonic scratch, one block (hop) each, and two frames of amplitudes (K) */
	double *wk, *fr, *ph, *tc, *sm, *sc, *acc;
	float *amp_a, *amp_b;
	/* noise: IR length L = 2(B-1), FFT size nfft >= hop + L - 1 (power of two) */
	int L, nfft;
	fftwf_complex *mag_spec, *ir_spec, *x_spec;
	float *zero_phase, *ir_buf, *x_buf, *tail;
	double *zd;
	fftwf_plan p_irfft, p_ir_fwd, p_x_fwd, p_inv;
};

void ddsp_synth_free(ddsp_synth *s)
{
	if (!s)
		return;
	sh_fft_destroy(s->p_irfft);
	sh_fft_destroy(s->p_ir_fwd);
	sh_fft_destroy(s->p_x_fwd);
	sh_fft_destroy(s->p_inv);
	fftwf_free(s->mag_spec);
	fftwf_free(s->ir_spec);
	fftwf_free(s->x_spec);
	fftwf_free(s->zero_phase);
	fftwf_free(s->ir_buf);
	fftwf_free(s->x_buf);
	free(s->tail);
	free(s->zd);
	free(s->wk);
	free(s->amp_a);
	free(s);
}

ddsp_synth *ddsp_synth_new(double sr, int hop, int n_harmonics, int n_bands)
{
	if (!(sr > 0) || hop < 1 || n_harmonics < 1 || (n_bands != 0 && n_bands < 3)) {
		sh_error("bad synth settings (rate %g, hop %d, %d harmonics, %d bands)", sr, hop, n_harmonics, n_bands);
		return NULL;
	}
	ddsp_synth *s = sh_alloc(sizeof *s);
	if (!s)
		return NULL;
	s->sr = sr;
	s->hop = hop;
	s->K = n_harmonics;
	s->B = n_bands;
	s->wk = sh_alloc(sizeof(double) * 7 * hop);
	s->amp_a = sh_alloc(sizeof(float) * 2 * n_harmonics);
	if (!s->wk || !s->amp_a)
		goto fail;
	s->fr = s->wk + hop;
	s->ph = s->fr + hop;
	s->tc = s->ph + hop;
	s->sm = s->tc + hop;
	s->sc = s->sm + hop;
	s->acc = s->sc + hop;
	s->amp_b = s->amp_a + n_harmonics;
	for (int r = 0; r < hop; r++)
		s->wk[r] = window_weight(r, hop);
	if (n_bands) {
		int L = s->L = 2 * (n_bands - 1), nfft = 1;
		while (nfft < hop + L - 1)
			nfft *= 2;
		s->nfft = nfft;
		s->mag_spec = fftwf_malloc(sizeof(fftwf_complex) * n_bands);
		s->zero_phase = fftwf_malloc(sizeof(float) * L);
		s->ir_buf = fftwf_malloc(sizeof(float) * nfft);
		s->x_buf = fftwf_malloc(sizeof(float) * nfft);
		s->ir_spec = fftwf_malloc(sizeof(fftwf_complex) * (nfft / 2 + 1));
		s->x_spec = fftwf_malloc(sizeof(fftwf_complex) * (nfft / 2 + 1));
		s->tail = sh_alloc(sizeof(float) * nfft);
		s->zd = sh_alloc(sizeof(double) * L);
		if (!s->mag_spec || !s->zero_phase || !s->ir_buf || !s->x_buf || !s->ir_spec || !s->x_spec ||
		    !s->tail || !s->zd) {
			sh_error("out of memory");
			goto fail;
		}
		/* FFTW_ESTIMATE: the same plan (so the same bytes) on every run */
		s->p_irfft = sh_fft_plan_c2r(L, s->mag_spec, s->zero_phase);
		s->p_ir_fwd = sh_fft_plan_r2c(nfft, s->ir_buf, s->ir_spec);
		s->p_x_fwd = sh_fft_plan_r2c(nfft, s->x_buf, s->x_spec);
		s->p_inv = sh_fft_plan_c2r(nfft, s->x_spec, s->x_buf);
		if (!s->p_irfft || !s->p_ir_fwd || !s->p_x_fwd || !s->p_inv) {
			sh_error("cannot make FFTW plans");
			goto fail;
		}
	}
	return s;
fail:
	ddsp_synth_free(s);
	return NULL;
}

/* Frame k's harmonic amplitudes: amplitude × normalised distribution. */
static void frame_amps(float *out, const float *f0, const float *amp, const float *dist, int k, int K, double sr)
{
	normalize_frame(out, dist + (size_t)k * K, f0[k], K, sr);
	for (int h = 0; h < K; h++)
		out[h] *= amp[k];
}

int ddsp_synth_harmonic(ddsp_synth *s, float *out, const float *f0, const float *amp, const float *dist, int F)
{
	const int hop = s->hop, K = s->K;
	const double sr = s->sr, nyq = sr / 2, w0 = TWO_PI / sr;
	double *restrict wk = s->wk, *restrict fr = s->fr, *restrict ph = s->ph;
	double *restrict tc = s->tc, *restrict sm = s->sm, *restrict sc = s->sc;
	double *restrict acc = s->acc;
	float *cur = s->amp_a, *next = s->amp_b;
	double phase = 0;

	if (F < 1)
		return sh_error("no frames");
	frame_amps(cur, f0, amp, dist, 0, K, sr);
	for (int k = 0; k < F; k++) {
		if (k + 1 < F)
			frame_amps(next, f0, amp, dist, k + 1, K, sr);
		else
			memcpy(next, cur, sizeof(float) * K);
		double fa = f0[k], fb = k + 1 < F ? f0[k + 1] : fa;
		/* f0 upsampled linearly; phase = inclusive running sum of 2πf/sr */
		for (int r = 0; r < hop; r++) {
			fr[r] = fa + (fb - fa) * r / hop;
			phase += w0 * fr[r];
			ph[r] = phase;
		}
		phase -= TWO_PI * floor(phase / TWO_PI);
		for (int r = 0; r < hop; r++) {
			double sn, cs;
			sincos(ph[r], &sn, &cs);
			tc[r] = 2 * cs;
			sm[r] = 0;  /* sin(0·φ) */
			sc[r] = sn; /* sin(1·φ) */
			acc[r] = 0;
		}
		double fmin = SH_MIN(fa, fb), fmax = SH_MAX(fa, fb);
		int hmax = K; /* harmonics with h·f < sr/2 somewhere in the block */
		if (fmin > 0 && nyq / fmin < hmax + 1)
			hmax = (int)ceil(nyq / fmin) - 1;
		for (int h = 1; h <= hmax; h++) {
			double a1 = next[h - 1], da = cur[h - 1] - a1;
			if (a1 != 0 || da != 0) {
				if (h * fmax < nyq) {
#pragma omp simd
					for (int r = 0; r < hop; r++)
						acc[r] += (a1 + da * wk[r]) * sc[r];
				} else {
					/* oscillator_bank zeroes amplitudes where h·f >= sr/2 */
#pragma omp simd
					for (int r = 0; r < hop; r++)
						acc[r] += h * fr[r] < nyq ? (a1 + da * wk[r]) * sc[r] : 0.0;
				}
			}
			if (h == hmax)
				break;
#pragma omp simd
			for (int r = 0; r < hop; r++) {
				double nx = tc[r] * sc[r] - sm[r];
				sm[r] = sc[r];
				sc[r] = nx;
			}
		}
		float *o = out + (size_t)k * hop;
		for (int r = 0; r < hop; r++)
			o[r] = (float)acc[r];
		float *t = cur;
		cur = next;
		next = t;
	}
	return 0;
}

int ddsp_harmonic_ref(float *out, const float *f0, const float *amp, const float *dist, int F, int K, int hop,
		      double sr)
{
	size_t N = (size_t)F * hop;
	float *nd = malloc(sizeof(float) * F * K);
	double *acc = calloc(N, sizeof(double));
	if (!nd || !acc) {
		free(nd), free(acc);
		return sh_error("out of memory");
	}
	memcpy(nd, dist, sizeof(float) * F * K);
	ddsp_normalize_harmonics(nd, f0, F, K, sr);
	for (int h = 1; h <= K; h++) {
		double phase = 0;
		for (size_t n = 0; n < N; n++) {
			size_t k = n / hop, k1 = k + 1 < (size_t)F ? k + 1 : k;
			int r = n % hop;
			/* f upsampled linearly, amplitude with overlapping Hann windows */
			double f = h * ((double)f0[k] + ((double)f0[k1] - f0[k]) * r / hop);
			double w = window_weight(r, hop);
			double a =
				amp[k] * (double)nd[k * K + h - 1] * w + amp[k1] * (double)nd[k1 * K + h - 1] * (1 - w);
			phase += TWO_PI * f / sr;
			if (f < sr / 2)
				acc[n] += a * sin(phase);
		}
	}
	for (size_t n = 0; n < N; n++)
		out[n] = (float)acc[n];
	free(nd), free(acc);
	return 0;
}

int ddsp_synth_noise(ddsp_synth *s, float *out, const float *mags, int F, uint64_t seed)
{
	const int hop = s->hop, B = s->B, L = s->L, nfft = s->nfft, nbin = nfft / 2 + 1;
	const int start = noise_crop_start(L);
	const size_t N = (size_t)F * hop;
	uint64_t st = seed;
	float *tail = s->tail;

	if (!B)
		return sh_error("synth made without noise bands");
	memset(tail, 0, sizeof(float) * nfft);
	for (int k = 0; k < F; k++) {
		/* the frame's filter: irfft of its magnitudes, windowed, causal, zero-padded */
		const float *m = mags + (size_t)k * B;
		for (int b = 0; b < B; b++) {
			s->mag_spec[b][0] = m[b];
			s->mag_spec[b][1] = 0;
		}
		fftwf_execute(s->p_irfft);
		for (int j = 0; j < L; j++)
			s->zd[j] = s->zero_phase[j] / L;
		window_to_causal(s->ir_buf, s->zd, L);
		memset(s->ir_buf + L, 0, sizeof(float) * (nfft - L));
		fftwf_execute(s->p_ir_fwd);

		/* this block's white noise: continue the splitmix64 stream exactly */
		ddsp_white_noise(s->x_buf, hop, st);
		st += (uint64_t)hop * SH_SPLITMIX64_GAMMA;
		memset(s->x_buf + hop, 0, sizeof(float) * (nfft - hop));
		fftwf_execute(s->p_x_fwd);
		for (int i = 0; i < nbin; i++) {
			float xr = s->x_spec[i][0], xi = s->x_spec[i][1];
			float hr = s->ir_spec[i][0], hi = s->ir_spec[i][1];
			s->x_spec[i][0] = xr * hr - xi * hi;
			s->x_spec[i][1] = xr * hi + xi * hr;
		}
		fftwf_execute(s->p_inv);
		/* overlap-add: tail holds the full convolution from sample k·hop on */
		for (int i = 0; i < nfft; i++)
			tail[i] += s->x_buf[i] / nfft;
		size_t base = (size_t)k * hop;
		for (int i = 0; i < hop; i++) {
			long n = (long)(base + i) - start;
			if (n >= 0 && (size_t)n < N)
				out[n] += tail[i];
		}
		memmove(tail, tail + hop, sizeof(float) * (nfft - hop));
		memset(tail + nfft - hop, 0, sizeof(float) * hop);
	}
	for (int i = 0; i < nfft - hop; i++) {
		long n = (long)(N + i) - start;
		if (n >= 0 && (size_t)n < N)
			out[n] += tail[i];
	}
	return 0;
}

int ddsp_noise_ref(float *out, const float *mags, int F, int B, int hop, uint64_t seed)
{
	int L = 2 * (B - 1), start = noise_crop_start(L);
	size_t N = (size_t)F * hop;
	float *noise = malloc(sizeof(float) * N), *ir = malloc(sizeof(float) * L);
	double *full = calloc(N + L, sizeof(double));
	if (!noise || !ir || !full) {
		free(noise), free(ir), free(full);
		return sh_error("out of memory");
	}
	ddsp_white_noise(noise, N, seed);
	for (int k = 0; k < F; k++) {
		if (ddsp_noise_ir(ir, mags + (size_t)k * B, B)) {
			free(noise), free(ir), free(full);
			return -1;
		}
		for (int i = 0; i < hop; i++)
			for (int j = 0; j < L; j++)
				full[(size_t)k * hop + i + j] += (double)noise[(size_t)k * hop + i] * ir[j];
	}
	for (size_t n = 0; n < N; n++)
		out[n] += (float)full[n + start];
	free(noise), free(ir), free(full);
	return 0;
}

int ddsp_synthesize(ddsp_synth *s, float *out, const ddsp_controls *c, uint64_t seed)
{
	if (c->n_harmonics != s->K || (c->noise && c->n_bands != s->B))
		return sh_error("controls do not match the synth (%d harmonics, %d bands)", s->K, s->B);
	if (ddsp_synth_harmonic(s, out, c->f0_hz, c->amplitude, c->harmonics, c->n_frames))
		return -1;
	if (c->noise && ddsp_synth_noise(s, out, c->noise, c->n_frames, seed))
		return -1;
	return 0;
}

/* ---- analysis -------------------------------------------------------------------------- */

void ddsp_analysis_defaults(ddsp_analysis_opts *o)
{
	o->sr = DDSP_RATE;
	o->hop = DDSP_HOP;
	o->n_harmonics = DDSP_HARMONICS;
	o->n_bands = DDSP_BANDS;
	o->fmin = 40;
	o->fmax = 2400;
	o->yin_threshold = 0.15;
	o->voicing_threshold = 0.35;
	o->silence_db = -50; /* aubio's silence gate */
}

#define LOUD_NFFT 512
#define HARM_MIN_PERIODS 4
#define HARM_MIN_LEN 128

struct ddsp_analyzer {
	ddsp_analysis_opts o;
	ddsp_synth *synth;
	/* YIN: integration window W, lags tau_min..tau_max (+1 for interpolation) */
	int yin_w, tau_min, tau_max, yin_len, yin_nfft;
	float *ya, *yb, *ycorr;
	fftwf_complex *yspec_a, *yspec_b;
	double *ysq, *yd, *ydn;
	fftwf_plan yp_a, yp_b, yp_inv;
	/* loudness */
	float *lbuf;
	fftwf_complex *lspec;
	double *lwin, *lweight;
	fftwf_plan lplan;
	/* harmonic amplitudes: windows up to harm_max samples */
	int harm_max;
	double *hwx, *hcm, *hcc, *hsm, *hsc, *htc;
	double *gz;   /* Goertzel state, 3 × K */
	int hwin_len; /* length of the Hann window held in hwx (0: none) */
	/* noise bands: Hann window of nn = 4(B-1) samples */
	int nn;
	float *nbuf;
	fftwf_complex *nspec;
	double *nwin, *npow;
	fftwf_plan nplan;
};

void ddsp_analyzer_free(ddsp_analyzer *a)
{
	if (!a)
		return;
	ddsp_synth_free(a->synth);
	fftwf_plan plans[] = {a->yp_a, a->yp_b, a->yp_inv, a->lplan, a->nplan};
	for (size_t i = 0; i < SH_ARRAY_LEN(plans); i++)
		sh_fft_destroy(plans[i]);
	fftwf_free(a->ya), fftwf_free(a->yb), fftwf_free(a->ycorr);
	fftwf_free(a->yspec_a), fftwf_free(a->yspec_b);
	fftwf_free(a->lbuf), fftwf_free(a->lspec);
	fftwf_free(a->nbuf), fftwf_free(a->nspec);
	free(a->ysq), free(a->yd), free(a->ydn);
	free(a->lwin), free(a->lweight);
	free(a->hwx);
	free(a->gz);
	free(a->nwin), free(a->npow);
	free(a);
}

ddsp_analyzer *ddsp_analyzer_new(const ddsp_analysis_opts *o)
{
	if (!(o->sr > 0) || o->hop < 1 || o->n_harmonics < 1 || o->n_bands < 3 || !(o->fmin > 0) ||
	    !(o->fmax > o->fmin) || o->fmax >= o->sr / 2 || o->sr / o->fmin > 65536) {
		sh_error("bad analysis settings (rate %g, hop %d, %d harmonics, %d bands, f0 %g..%g Hz)", o->sr, o->hop,
			 o->n_harmonics, o->n_bands, o->fmin, o->fmax);
		return NULL;
	}
	ddsp_analyzer *a = sh_alloc(sizeof *a);
	if (!a)
		return NULL;
	a->o = *o;
	a->synth = ddsp_synth_new(o->sr, o->hop, o->n_harmonics, o->n_bands);
	if (!a->synth)
		goto fail;

	/* YIN: the integration window spans the longest period, lags reach one past it */
	a->tau_min = SH_MAX(2, (int)floor(o->sr / o->fmax));
	a->tau_max = (int)ceil(o->sr / o->fmin);
	a->yin_w = a->tau_max;
	a->yin_len = a->yin_w + a->tau_max + 1;
	for (a->yin_nfft = 1; a->yin_nfft < a->yin_len; a->yin_nfft *= 2)
		;
	int yn = a->yin_nfft, ybins = yn / 2 + 1;
	a->ya = fftwf_malloc(sizeof(float) * yn);
	a->yb = fftwf_malloc(sizeof(float) * yn);
	a->ycorr = fftwf_malloc(sizeof(float) * yn);
	a->yspec_a = fftwf_malloc(sizeof(fftwf_complex) * ybins);
	a->yspec_b = fftwf_malloc(sizeof(fftwf_complex) * ybins);
	a->ysq = sh_alloc(sizeof(double) * (a->yin_len + 1));
	a->yd = sh_alloc(sizeof(double) * (a->tau_max + 2));
	a->ydn = sh_alloc(sizeof(double) * (a->tau_max + 2));

	a->lbuf = fftwf_malloc(sizeof(float) * LOUD_NFFT);
	a->lspec = fftwf_malloc(sizeof(fftwf_complex) * (LOUD_NFFT / 2 + 1));
	a->lwin = sh_alloc(sizeof(double) * LOUD_NFFT);
	a->lweight = sh_alloc(sizeof(double) * (LOUD_NFFT / 2 + 1));

	a->harm_max = (int)ceil(HARM_MIN_PERIODS * o->sr / o->fmin) + HARM_MIN_LEN + 2;
	a->hwx = sh_alloc(sizeof(double) * 6 * a->harm_max);
	a->gz = sh_alloc(sizeof(double) * 3 * o->n_harmonics);

	a->nn = 4 * (o->n_bands - 1);
	a->nbuf = fftwf_malloc(sizeof(float) * a->nn);
	a->nspec = fftwf_malloc(sizeof(fftwf_complex) * (a->nn / 2 + 1));
	a->nwin = sh_alloc(sizeof(double) * a->nn);
	a->npow = sh_alloc(sizeof(double) * (a->nn / 2 + 1));
	if (!a->ya || !a->yb || !a->ycorr || !a->yspec_a || !a->yspec_b || !a->ysq || !a->yd || !a->ydn || !a->lbuf ||
	    !a->lspec || !a->lwin || !a->lweight || !a->hwx || !a->gz || !a->nbuf || !a->nspec || !a->nwin ||
	    !a->npow) {
		sh_error("out of memory");
		goto fail;
	}
	a->hcm = a->hwx + a->harm_max;
	a->hcc = a->hcm + a->harm_max;
	a->hsm = a->hcc + a->harm_max;
	a->hsc = a->hsm + a->harm_max;
	a->htc = a->hsc + a->harm_max;

	a->yp_a = sh_fft_plan_r2c(yn, a->ya, a->yspec_a);
	a->yp_b = sh_fft_plan_r2c(yn, a->yb, a->yspec_b);
	a->yp_inv = sh_fft_plan_c2r(yn, a->yspec_a, a->ycorr);
	a->lplan = sh_fft_plan_r2c(LOUD_NFFT, a->lbuf, a->lspec);
	a->nplan = sh_fft_plan_r2c(a->nn, a->nbuf, a->nspec);
	if (!a->yp_a || !a->yp_b || !a->yp_inv || !a->lplan || !a->nplan) {
		sh_error("cannot make FFTW plans");
		goto fail;
	}
	for (int j = 0; j < LOUD_NFFT; j++)
		a->lwin[j] = 0.5 - 0.5 * cos(TWO_PI * j / LOUD_NFFT);
	for (int b = 0; b <= LOUD_NFFT / 2; b++)
		a->lweight[b] = pow(10.0, ddsp_a_weighting_db(b * o->sr / LOUD_NFFT) / 10);
	for (int j = 0; j < a->nn; j++)
		a->nwin[j] = 0.5 - 0.5 * cos(TWO_PI * (j + 0.5) / a->nn);
	return a;
fail:
	ddsp_analyzer_free(a);
	return NULL;
}

/* x[i] for any i, zero outside [0, n) */
static inline float sample_at(const float *x, size_t n, long i) { return i >= 0 && (size_t)i < n ? x[i] : 0.0f; }

int ddsp_f0_yin(ddsp_analyzer *a, const float *x, size_t n, int F, float *f0, float *voiced, float *confidence)
{
	const ddsp_analysis_opts *o = &a->o;
	const int W = a->yin_w, len = a->yin_len, yn = a->yin_nfft, ybins = yn / 2 + 1;
	const int tmin = a->tau_min, tmax = a->tau_max;
	double *d = a->yd, *dn = a->ydn, *sq = a->ysq;
	int any_voiced = 0;

	for (int k = 0; k < F; k++) {
		long t0 = (long)k * o->hop - len / 2;
		sq[0] = 0;
		for (int j = 0; j < len; j++) {
			float v = sample_at(x, n, t0 + j);
			a->yb[j] = v;
			a->ya[j] = j < W ? v : 0.0f;
			sq[j + 1] = sq[j] + (double)v * v;
		}
		memset(a->yb + len, 0, sizeof(float) * (yn - len));
		memset(a->ya + len, 0, sizeof(float) * (yn - len));
		/* r[τ] = Σ_{j<W} x[j]·x[j+τ] by FFT: conj(A)·B, inverse */
		fftwf_execute(a->yp_a);
		fftwf_execute(a->yp_b);
		for (int i = 0; i < ybins; i++) {
			float ar = a->yspec_a[i][0], ai = a->yspec_a[i][1];
			float br = a->yspec_b[i][0], bi = a->yspec_b[i][1];
			a->yspec_a[i][0] = ar * br + ai * bi;
			a->yspec_a[i][1] = ar * bi - ai * br;
		}
		fftwf_execute(a->yp_inv);
		/* difference function d(τ) = e(0) + e(τ) - 2r(τ) and its cumulative-mean
		 * normalisation d'(τ) = d(τ)·τ / Σ_{j<=τ} d(j) */
		double e0 = sq[W], run = 0;
		dn[0] = 1;
		d[0] = 0;
		for (int tau = 1; tau <= tmax + 1; tau++) {
			double v = e0 + (sq[tau + W] - sq[tau]) - 2.0 * a->ycorr[tau] / yn;
			d[tau] = v > 0 ? v : 0;
			run += d[tau];
			dn[tau] = run > 0 ? d[tau] * tau / run : 1;
		}
		/* YIN's absolute threshold: the first dip below it, followed to its bottom;
		 * otherwise the deepest dip */
		int best = -1;
		for (int tau = tmin; tau <= tmax; tau++)
			if (dn[tau] < o->yin_threshold) {
				while (tau + 1 <= tmax && dn[tau + 1] < dn[tau])
					tau++;
				best = tau;
				break;
			}
		if (best < 0) {
			best = tmin;
			for (int tau = tmin + 1; tau <= tmax; tau++)
				if (dn[tau] < dn[best])
					best = tau;
		}
		/* parabolic interpolation of the raw difference function */
		double tf = best, den = d[best - 1] - 2 * d[best] + d[best + 1];
		if (den > 0) {
			double delta = 0.5 * (d[best - 1] - d[best + 1]) / den;
			if (fabs(delta) < 1)
				tf += delta;
		}
		double level_db = 10 * log10(SH_MAX(sq[len] / len, 1e-20));
		int v = dn[best] < o->voicing_threshold && level_db > o->silence_db;
		f0[k] = (float)(o->sr / tf);
		voiced[k] = (float)v;
		confidence[k] = (float)SH_MAX(0.0, SH_MIN(1.0, 1.0 - dn[best]));
		any_voiced |= v;
	}
	/* unvoiced frames: interpolate log f0 between voiced neighbours, hold at the ends */
	if (!any_voiced) {
		for (int k = 0; k < F; k++)
			f0[k] = 0;
		return 0;
	}
	int prev = -1;
	for (int k = 0; k <= F; k++) {
		if (k < F && !voiced[k])
			continue;
		if (prev < 0) {
			for (int j = 0; j < k; j++)
				f0[j] = f0[k];
		} else if (k == F) {
			for (int j = prev + 1; j < F; j++)
				f0[j] = f0[prev];
		} else {
			double la = log(f0[prev]), lb = log(f0[k]);
			for (int j = prev + 1; j < k; j++)
				f0[j] = (float)exp(la + (lb - la) * (j - prev) / (k - prev));
		}
		prev = k;
	}
	return 0;
}

double ddsp_a_weighting_db(double f)
{
	/* librosa.A_weighting: 2 + 20·(log10 c0 + 2 log10 f² - log10(f²+c0) - log10(f²+c1)
	 * - ½log10(f²+c2) - ½log10(f²+c3)), c = (12194.217, 20.598997, 107.65265, 737.86223)² */
	if (f <= 0)
		return -80.0;
	const double c0 = 12194.217 * 12194.217, c1 = 20.598997 * 20.598997;
	const double c2 = 107.65265 * 107.65265, c3 = 737.86223 * 737.86223;
	double f2 = f * f;
	double w = 2.0 + 20.0 * (log10(c0) + 2 * log10(f2) - log10(f2 + c0) - log10(f2 + c1) - 0.5 * log10(f2 + c2) -
				 0.5 * log10(f2 + c3));
	return w > -80.0 ? w : -80.0;
}

int ddsp_loudness(ddsp_analyzer *a, const float *x, size_t n, int F, float *loudness_db)
{
	const int nb = LOUD_NFFT / 2 + 1;
	for (int k = 0; k < F; k++) {
		long t0 = (long)k * a->o.hop - LOUD_NFFT / 2;
		for (int j = 0; j < LOUD_NFFT; j++)
			a->lbuf[j] = (float)(sample_at(x, n, t0 + j) * a->lwin[j]);
		fftwf_execute(a->lplan);
		double p = 0;
		for (int b = 0; b < nb; b++) {
			double re = a->lspec[b][0], im = a->lspec[b][1];
			p += (re * re + im * im) * a->lweight[b];
		}
		p /= nb;
		/* core.power_to_db(range_db=LD_RANGE=120, ref_db=0) */
		double db = 10 * log10(SH_MAX(p, 1e-12));
		loudness_db[k] = (float)SH_MAX(db, -120.0);
	}
	return 0;
}

int ddsp_harmonic_amplitudes(ddsp_analyzer *a, const float *x, size_t n, int F, const float *f0, float *amps,
			     float *phases)
{
	const ddsp_analysis_opts *o = &a->o;
	const int K = o->n_harmonics;
	const double nyq = o->sr / 2;
	double *restrict c2 = a->gz, *restrict s1 = c2 + K, *restrict s2 = s1 + K;

	for (int k = 0; k < F; k++) {
		float *A = amps + (size_t)k * K, *P = phases ? phases + (size_t)k * K : NULL;
		memset(A, 0, sizeof(float) * K);
		if (P)
			memset(P, 0, sizeof(float) * K);
		double f = f0[k];
		if (!(f > 0))
			continue;
		/* a Hann window of a whole number of periods: its spectral nulls fall on the
		 * neighbouring harmonics of a steady tone */
		double period = o->sr / f;
		int periods = HARM_MIN_PERIODS;
		while (periods * period < HARM_MIN_LEN)
			periods++;
		int M = (int)lround(periods * period);
		if (M > a->harm_max)
			M = a->harm_max;
		if (M < 4)
			continue;
		long t0 = (long)k * o->hop - M / 2;
		int hmax = K;
		if (nyq / f < hmax + 1)
			hmax = (int)ceil(nyq / f) - 1;
		/* Goertzel for every harmonic at once, vectorised over the harmonics:
		 * s_h[j] = wx[j] + 2cos(hω)·s_h[j-1] - s_h[j-2] */
		double wsum = 0, omega = TWO_PI * f / o->sr;
		for (int h = 0; h < hmax; h++) {
			c2[h] = 2 * cos((h + 1) * omega);
			s1[h] = s2[h] = 0;
		}
		if (M != a->hwin_len) { /* f0 moves slowly: most frames reuse the window */
			for (int j = 0; j < M; j++)
				a->hwx[j] = 0.5 - 0.5 * cos(TWO_PI * (j + 0.5) / M);
			a->hwin_len = M;
		}
		for (int j = 0; j < M; j++) {
			double w = a->hwx[j];
			double v = w * sample_at(x, n, t0 + j);
			wsum += w;
#pragma omp simd
			for (int h = 0; h < hmax; h++) {
				double s0 = v + c2[h] * s1[h] - s2[h];
				s2[h] = s1[h];
				s1[h] = s0;
			}
		}
		/* y = s[M-1] - e^{-iω}s[M-2] = e^{iω(M-1)}·Σ wx[j]e^{-iωj}; referred to the window's
		 * centre: X = y·e^{-iω(M-1)/2} */
		for (int h = 0; h < hmax; h++) {
			double om = (h + 1) * omega, so, co, sc_, cc_;
			sincos(om, &so, &co);
			double yr = s1[h] - co * s2[h], yi = so * s2[h];
			sincos(-0.5 * (M - 1) * om, &sc_, &cc_);
			double xr = yr * cc_ - yi * sc_, xi = yr * sc_ + yi * cc_;
			A[h] = (float)(2 * sqrt(xr * xr + xi * xi) / wsum);
			if (P) /* x ≈ A·cos(hω(t - centre) + P) */
				P[h] = (float)atan2(xi, xr);
		}
	}
	return 0;
}

int ddsp_harmonic_residual(ddsp_analyzer *a, const float *x, size_t n, int F, const float *f0, const float *amps,
			   const float *phases, const float *voiced, float *resid)
{
	const ddsp_analysis_opts *o = &a->o;
	const int K = o->n_harmonics, hop = o->hop, len = 2 * hop;
	double *restrict wt = a->hwx, *restrict cm = a->hcm, *restrict cc = a->hcc;
	double *restrict sm = a->hsm, *restrict sc = a->hsc, *restrict tc = a->htc;
	double *restrict acc = wt + len; /* hwx holds harm_max >= 2·len doubles */

	if (a->harm_max < 2 * len)
		return sh_error("hop too long for the residual's scratch");
	a->hwin_len = 0;              /* hwx is scratch here */
	for (int j = 0; j < len; j++) /* Hann halves over ±hop, summing to one */
		wt[j] = 0.5 + 0.5 * cos(M_PI * (j - hop) / hop);
	for (size_t i = 0; i < n; i++)
		resid[i] = x[i];
	for (int k = 0; k < F; k++) {
		double f = f0[k];
		if (!voiced[k] || !(f > 0))
			continue;
		/* frame k's harmonics as steady sinusoids with the measured amplitudes and
		 * phases over [k·hop - hop, k·hop + hop), crossfaded by Hann halves that sum
		 * to one between neighbouring frames */
		double period = o->sr / f;
		int periods = HARM_MIN_PERIODS;
		while (periods * period < HARM_MIN_LEN)
			periods++;
		int M = SH_MIN((int)lround(periods * period), a->harm_max);
		double centre = (double)k * hop - M / 2 + 0.5 * (M - 1);
		long t0 = (long)k * hop - hop;
		/* e^{iθ_j}, θ_j = 2πf(t0 + j - centre)/sr, by rotation in double */
		double step = TWO_PI * f / o->sr, cs_step = cos(step), sn_step = sin(step), cs, sn;
		sincos(step * (t0 - centre), &sn, &cs);
		for (int j = 0; j < len; j++) {
			cm[j] = 1, sm[j] = 0;
			cc[j] = cs, sc[j] = sn;
			tc[j] = 2 * cs;
			acc[j] = 0;
			double t = cs * cs_step - sn * sn_step;
			sn = sn * cs_step + cs * sn_step, cs = t;
		}
		const float *A = amps + (size_t)k * K, *P = phases + (size_t)k * K;
		int hmax = K;
		if (o->sr / 2 / f < hmax + 1)
			hmax = (int)ceil(o->sr / 2 / f) - 1;
		for (int h = 1; h <= hmax; h++) {
			double ca = A[h - 1] * cos(P[h - 1]), sa = A[h - 1] * sin(P[h - 1]);
#pragma omp simd
			for (int j = 0; j < len; j++) {
				acc[j] += ca * cc[j] - sa * sc[j];
				double cn = tc[j] * cc[j] - cm[j], sn = tc[j] * sc[j] - sm[j];
				cm[j] = cc[j], sm[j] = sc[j];
				cc[j] = cn, sc[j] = sn;
			}
		}
		for (int j = 0; j < len; j++) {
			long t = t0 + j;
			if (t >= 0 && (size_t)t < n)
				resid[t] -= (float)(wt[j] * acc[j]);
		}
	}
	return 0;
}

int ddsp_noise_bands(ddsp_analyzer *a, const float *r, size_t n, int F, float *mags)
{
	const int B = a->o.n_bands, nn = a->nn, half = nn / 2, hop = a->o.hop;
	double wss = 0;
	for (int j = 0; j < nn; j++)
		wss += a->nwin[j] * a->nwin[j];
	for (int k = 0; k < F; k++) {
		/* the synth's noise block k covers [k·hop, k·hop + hop), its filter centred 2
		 * samples late (the crop of fft_convolve) */
		long t0 = (long)k * hop + hop / 2 + 2 - half;
		for (int j = 0; j < nn; j++)
			a->nbuf[j] = (float)(a->nwin[j] * sample_at(r, n, t0 + j));
		fftwf_execute(a->nplan);
		for (int i = 0; i <= half; i++) {
			double re = a->nspec[i][0], im = a->nspec[i][1];
			a->npow[i] = (re * re + im * im) / wss;
		}
		/* band b sits on bin 2b; average the power over the band (triangular weights),
		 * and undo white noise's power of 1/3 */
		for (int b = 0; b < B; b++) {
			int c = 2 * b, lo = c - 1 < 0 ? 1 : c - 1, hi = c + 1 > half ? half - 1 : c + 1;
			double p = 0.25 * a->npow[lo] + 0.5 * a->npow[c] + 0.25 * a->npow[hi];
			mags[(size_t)k * B + b] = (float)sqrt(3.0 * p);
		}
	}
	return 0;
}

void ddsp_features_free(ddsp_features *f)
{
	free(f->mem);
	memset(f, 0, sizeof *f);
}

int ddsp_analyze(ddsp_analyzer *a, const float *x, size_t n, ddsp_features *out)
{
	const ddsp_analysis_opts *o = &a->o;
	const int K = o->n_harmonics, B = o->n_bands, hop = o->hop;
	memset(out, 0, sizeof *out);
	if (n < 1)
		return sh_error("no audio");
	size_t F = (n + hop - 1) / hop, N = F * hop;
	if (F > (size_t)INT32_MAX / (size_t)SH_MAX(K, B))
		return sh_error("too long (%zu frames)", F);
	size_t floats = F * (5 + 2 * (size_t)K + B) + N;
	float *m = sh_alloc(sizeof(float) * floats);
	if (!m)
		return -1;
	out->mem = m;
	ddsp_controls *c = &out->c;
	c->n_frames = (int)F;
	c->n_harmonics = K;
	c->n_bands = B;
	c->f0_hz = m, m += F;
	c->amplitude = m, m += F;
	out->loudness_db = m, m += F;
	out->voiced = m, m += F;
	out->f0_confidence = m, m += F;
	c->harmonics = m, m += F * K;
	c->noise = m, m += F * B;
	float *phases = m;
	m += F * K;
	float *resid = m;

	if (ddsp_f0_yin(a, x, n, (int)F, c->f0_hz, out->voiced, out->f0_confidence) ||
	    ddsp_loudness(a, x, n, (int)F, out->loudness_db) ||
	    ddsp_harmonic_amplitudes(a, x, n, (int)F, c->f0_hz, c->harmonics, phases))
		goto fail;
	/* the residual: the audio less its harmonics modelled with their measured phases
	 * (the synth's own phases are free-running, so subtracting them would leave the
	 * harmonics in) */
	if (ddsp_harmonic_residual(a, x, n, (int)F, c->f0_hz, c->harmonics, phases, out->voiced, resid))
		goto fail;
	/* amplitude = the harmonics' total, distribution = their shares; unvoiced frames
	 * keep their (interpolated-f0) distribution but get no amplitude */
	for (size_t k = 0; k < F; k++) {
		float *h = c->harmonics + k * K;
		double s = 0;
		for (int j = 0; j < K; j++)
			s += h[j];
		for (int j = 0; j < K; j++)
			h[j] = s > 0 ? (float)(h[j] / s) : 0.0f;
		c->amplitude[k] = out->voiced[k] ? (float)s : 0.0f;
	}
	if (ddsp_noise_bands(a, resid, n, (int)F, c->noise))
		goto fail;
	return 0;
fail:
	ddsp_features_free(out);
	return -1;
}

/* ---- multi-scale spectral loss --------------------------------------------------------- */

double ddsp_spectral_loss(const float *xa, const float *xb, size_t n)
{
	static const int sizes[] = {2048, 1024, 512, 256, 128, 64};
	double total = 0;
	for (size_t si = 0; si < SH_ARRAY_LEN(sizes); si++) {
		int size = sizes[si], hop = size / 4, nb = size / 2 + 1;
		float *buf = fftwf_malloc(sizeof(float) * size);
		fftwf_complex *sa = fftwf_malloc(sizeof(fftwf_complex) * nb);
		fftwf_complex *sb = fftwf_malloc(sizeof(fftwf_complex) * nb);
		double *win = malloc(sizeof(double) * size);
		if (!buf || !sa || !sb || !win) {
			fftwf_free(buf), fftwf_free(sa), fftwf_free(sb), free(win);
			sh_error("out of memory");
			return NAN;
		}
		fftwf_plan pa = sh_fft_plan_r2c(size, buf, sa);
		fftwf_plan pb = sh_fft_plan_r2c(size, buf, sb);
		for (int j = 0; j < size; j++)
			win[j] = 0.5 - 0.5 * cos(TWO_PI * j / size);
		/* tf.signal.stft(pad_end=True): ceil(n/hop) frames, zeros past the end */
		size_t frames = (n + hop - 1) / hop;
		double l_mag = 0, l_log = 0;
		for (size_t fr = 0; fr < frames; fr++) {
			size_t t0 = fr * hop;
			for (int j = 0; j < size; j++)
				buf[j] = t0 + j < n ? (float)(xa[t0 + j] * win[j]) : 0.0f;
			fftwf_execute(pa);
			for (int j = 0; j < size; j++)
				buf[j] = t0 + j < n ? (float)(xb[t0 + j] * win[j]) : 0.0f;
			fftwf_execute(pb);
			for (int i = 0; i < nb; i++) {
				double ma = hypot(sa[i][0], sa[i][1]), mb = hypot(sb[i][0], sb[i][1]);
				l_mag += fabs(ma - mb);
				l_log += fabs(log(SH_MAX(ma, 1e-5)) - log(SH_MAX(mb, 1e-5)));
			}
		}
		double cnt = (double)frames * nb;
		total += l_mag / cnt + l_log / cnt;
		sh_fft_destroy(pa);
		sh_fft_destroy(pb);
		fftwf_free(buf), fftwf_free(sa), fftwf_free(sb), free(win);
	}
	return total;
}

/* ---- controls files ---- */

void ddsp_controls_free(ddsp_controls *c)
{
	free(c->f0_hz), free(c->amplitude), free(c->harmonics), free(c->noise);
	memset(c, 0, sizeof *c);
}

/* One frame-rate tensor as floats into *out: shape (F) or (F, 1) when width is NULL, else
 * (F, W) with W >= 1 into *width. 0 with *out NULL when the tensor is absent. */
static int read_frames(const st_file *sf, const char *name, int64_t F, int *width, float **out)
{
	const st_tensor *t = st_find(sf, name);
	*out = NULL;
	if (!t)
		return 0;
	if (t->dtype != SH_F32 && t->dtype != SH_F64)
		return sh_error("%s: dtype %s (want float32 or float64)", name, sh_dtype_descr(t->dtype));
	int64_t rows = t->ndim >= 1 ? t->shape[0] : 1;
	if (width) {
		if (t->ndim != 2)
			return sh_error("%s: rank %d (want shape (F, %s))", name, t->ndim,
					!strcmp(name, "noise") ? "B" : "K");
		if (t->shape[1] < 1 || t->shape[1] > INT32_MAX)
			return sh_error("%s: second dimension %lld (want 1 or more)", name, (long long)t->shape[1]);
		*width = (int)t->shape[1];
	} else if (!(t->ndim == 1 || (t->ndim == 2 && t->shape[1] == 1))) {
		return sh_error("%s: shape of rank %d (want (F) or (F, 1))", name, t->ndim);
	}
	if (rows != F)
		return sh_error("%s has %lld frames but f0_hz has %lld", name, (long long)rows, (long long)F);
	if (!(*out = sh_alloc(SH_MAX(t->count, (size_t)1) * sizeof **out)))
		return -1;
	if (st_read_f32(sf, name, *out, t->count) < 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* A metadata integer in [lo, hi]: absent gives the default, anything else out of bounds is
 * refused (a hop of 9,999,999 once grew memory without end). */
static int meta_bounded(const st_file *sf, const char *key, long lo, long hi, int fallback, int *out)
{
	long x = fallback;
	if (st_meta(sf, key) && st_meta_long(sf, key, lo, hi, &x) < 0)
		return -1;
	*out = (int)x;
	return 0;
}

int ddsp_controls_read(const st_file *sf, ddsp_controls *c, int *rate, int *hop)
{
	memset(c, 0, sizeof *c);
	const st_tensor *tf = st_find(sf, "f0_hz");
	if (!tf)
		return sh_error("no tensor 'f0_hz' (controls need f0_hz, amplitude and harmonics)");
	if (!(tf->ndim == 1 || (tf->ndim == 2 && tf->shape[1] == 1)) || tf->shape[0] < 1 || tf->shape[0] > INT32_MAX)
		return sh_error("f0_hz: want shape (F) or (F, 1) with F >= 1");
	int64_t F = tf->shape[0];
	c->n_frames = (int)F;
	int rc = read_frames(sf, "f0_hz", F, NULL, &c->f0_hz);
	if (!rc && !(rc = read_frames(sf, "amplitude", F, NULL, &c->amplitude)) && !c->amplitude)
		rc = sh_error("no tensor 'amplitude'");
	if (!rc && !(rc = read_frames(sf, "harmonics", F, &c->n_harmonics, &c->harmonics)) && !c->harmonics)
		rc = sh_error("no tensor 'harmonics'");
	if (!rc)
		rc = read_frames(sf, "noise", F, &c->n_bands, &c->noise);
	if (!rc && !c->noise)
		c->n_bands = 0;
	else if (!rc && c->n_bands < 3)
		rc = sh_error("noise: %d bands (want at least 3)", c->n_bands);
	if (!rc && !*rate)
		rc = meta_bounded(sf, "sample_rate", DDSP_RATE_MIN, DDSP_RATE_MAX, DDSP_RATE, rate);
	if (!rc && !*hop)
		rc = meta_bounded(sf, "hop", 1, DDSP_HOP_MAX, DDSP_HOP, hop);
	if (!rc && (uint64_t)F * (uint64_t)*hop > (uint64_t)1 << 34)
		rc = sh_error("%lld frames of %d samples is too long", (long long)F, *hop);
	if (rc < 0)
		ddsp_controls_free(c);
	return rc;
}
