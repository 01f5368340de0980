/* ddsp_model_real.c: the DDSP model of ddsp_model.h, forward and backward, on `real` (float, and
 * double as the _f64 twin for finite differences): layer norm, the RnnFcDecoder (stacks of dense,
 * layer norm, leaky ReLU; a GRU from nn.h), exp_sigmoid, the harmonic synth, the filtered noise,
 * the learned reverb and the multi-scale spectral loss, each with its adjoint.
 *
 * The adjoints in brief (docs/ddsp-harmonic.md, "Training", has the algebra):
 * - harmonic synth: y[n] = Σ_h A_h(n)·sin(hφ(n)) with A_h(n) = w(r)·a_k,h + (1-w(r))·a_k+1,h, so
 *   dL/da_k,h = Σ over block k of dy·w·sin(hφ) plus Σ over block k-1 of dy·(1-w)·sin(hφ): the
 *   same Chebyshev recurrence as the forward, run again; then through a = amp·m·d/Σ(m·d).
 * - noise: the frame filters are one matrix product of the magnitudes (irfft, window, rotation
 *   are linear), and the convolution's adjoint is the correlation of dy with the noise.
 * - reverb and loss: FFTs; the r2c transform's adjoint is a c2r transform of the gradient with
 *   the interior bins halved. */
/* sqrt without errno and comparisons without FP traps let the loss's loops vectorise (as in
 * nn_real.c; nothing here relies on errno or floating-point exceptions), and the synths' and
 * loss's loops are built also for AVX2 + FMA (SH_HOT), chosen at load time */
#pragma GCC optimize("no-math-errno", "no-trapping-math", "vect-cost-model=dynamic")
#include "ddsp_model.h"
#include "ddsp.h"
#include "nn.h"
#include "rng.h"
#include "util.h"
#include "real_f64.h" /* after every other header */

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef REAL_F64
typedef double real;
#define FFTW(x) fftw_##x
#define SQRT sqrt
#define LOG log
#define FABS fabs
#else
typedef float real;
#define FFTW(x) fftwf_##x
#define SQRT sqrtf
#define LOG log_fast
#define FABS fabsf
#endif

#ifndef REAL_F64
/* log for the spectral loss's magnitudes (positive, normal), vectorisable: x = m·2^e with m in
 * [√½, √2), log m = 2·atanh((m-1)/(m+1)) by its series to s^9 (relative error below 1e-7, the
 * float's own rounding). */
static inline float log_fast(float x)
{
	union {
		float f;
		uint32_t u;
	} v = {x};
	int e = (int)((v.u >> 23) & 0xff) - 127;
	v.u = (v.u & 0x007fffff) | 0x3f800000; /* m in [1, 2) */
	float m = v.f;
	if (m > 1.41421356f)
		m *= 0.5f, e++;
	float s = (m - 1) / (m + 1), s2 = s * s;
	float p = s * (2 + s2 * (2.0f / 3 + s2 * (2.0f / 5 + s2 * (2.0f / 7 + s2 * (2.0f / 9)))));
	return p + (float)e * 0.69314718056f;
}
#endif

#define TWO_PI 6.283185307179586476925286766559
#define MAX_STACK 16

/* ---- small pieces ---------------------------------------------------------------------- */

real ddsp_scale_fn(real x)
{
	double s = 1.0 / (1.0 + exp(-(double)x));
	return (real)(2.0 * pow(s, M_LN10) + 1e-7);
}

real ddsp_scale_fn_grad(real x)
{
	/* d/dx 2·s^p = 2p·s^p·(1-s) */
	double s = 1.0 / (1.0 + exp(-(double)x));
	return (real)(2.0 * M_LN10 * pow(s, M_LN10) * (1 - s));
}

void ddsp_layernorm_forward(real *out, real *xhat, real *rstd, const real *inp, const real *gamma, const real *beta,
			    int N, int C)
{
	for (int i = 0; i < N; i++) {
		const real *x = inp + (size_t)i * C;
		double m = 0, v = 0;
		for (int c = 0; c < C; c++)
			m += x[c];
		m /= C;
		for (int c = 0; c < C; c++)
			v += (x[c] - m) * (x[c] - m);
		double rs = 1 / sqrt(v / C + DDSP_LN_EPS);
		real *xh = xhat + (size_t)i * C, *o = out + (size_t)i * C;
		for (int c = 0; c < C; c++) {
			xh[c] = (real)((x[c] - m) * rs);
			o[c] = xh[c] * gamma[c] + beta[c];
		}
		rstd[i] = (real)rs;
	}
}

void ddsp_layernorm_backward(real *dinp, real *dgamma, real *dbeta, const real *dout, const real *xhat,
			     const real *rstd, const real *gamma, int N, int C)
{
	for (int i = 0; i < N; i++) {
		const real *d = dout + (size_t)i * C, *xh = xhat + (size_t)i * C;
		double md = 0, mdx = 0;
		for (int c = 0; c < C; c++) {
			double g = d[c] * gamma[c];
			md += g;
			mdx += g * xh[c];
			dgamma[c] += d[c] * xh[c];
			dbeta[c] += d[c];
		}
		md /= C, mdx /= C;
		real *dx = dinp + (size_t)i * C;
		for (int c = 0; c < C; c++) /* d may be dx: each element read before it is written */
			dx[c] = (real)(rstd[i] * (d[c] * gamma[c] - md - xh[c] * mdx));
	}
}

/* ---- harmonic synth -------------------------------------------------------------------- */

/* Frame k's harmonic amplitudes a[h] = amp·m_h·d_h/den (den = Σ m·d, or 1e-7 when that is 0:
 * DDSP's safe_divide), m_h = [(h+1)·f0 < sr/2]; returns den. */
static double frame_amps(double *a, const real *f0, const real *amp, const real *dist, int k, int K, double sr)
{
	const real *d = dist + (size_t)k * K;
	double sum = 0, nyq = sr / 2;
	for (int h = 0; h < K; h++) {
		a[h] = (double)f0[k] * (h + 1) >= nyq ? 0.0 : (double)d[h];
		sum += a[h];
	}
	double den = sum == 0 ? 1e-7 : sum;
	for (int h = 0; h < K; h++)
		a[h] = a[h] / den * amp[k];
	return den;
}

/* One block of the fundamental: frequencies fr[r] (linear between frames), the phase
 * (inclusive running sum of 2πf/sr, in double, wrapped after the block), and the start of the
 * Chebyshev recurrence: tc = 2cos φ, sm = sin 0φ, sc = sin 1φ. */
static void block_start(double *fr, double *tc, double *sm, double *sc, double *phase, double fa, double fb, int hop,
			double sr)
{
	const double w0 = TWO_PI / sr;
	for (int r = 0; r < hop; r++) {
		fr[r] = fa + (fb - fa) * r / hop;
		*phase += w0 * fr[r];
		double sn, cs;
		sincos(*phase, &sn, &cs);
		tc[r] = 2 * cs, sm[r] = 0, sc[r] = sn;
	}
	*phase -= TWO_PI * floor(*phase / TWO_PI);
}

/* Harmonics with h·f below Nyquist somewhere in a block whose lowest frequency is fmin. */
static int block_hmax(double fmin, int K, double nyq)
{
	if (fmin > 0 && nyq / fmin < K + 1)
		return (int)ceil(nyq / fmin) - 1;
	return K;
}

/* Scratch of the harmonic synth, in doubles: 6 blocks and 4 frames of amplitudes. */
static double *harm_scratch(int hop, int K) { return malloc(sizeof(double) * (6 * (size_t)hop + 4 * (size_t)K)); }

SH_HOT int ddsp_harmonic_forward(real *out, const real *f0, const real *amp, const real *dist, int T, int K, int hop,
				 double sr)
{
	double *mem = harm_scratch(hop, K);
	if (!mem)
		return sh_error("out of memory");
	double *wk = mem, *fr = wk + hop, *tc = fr + hop, *sm = tc + hop, *sc = sm + hop;
	double *acc = sc + hop, *cur = acc + hop, *next = cur + K;
	const double nyq = sr / 2;
	double phase = 0;
	for (int r = 0; r < hop; r++)
		wk[r] = 0.5 + 0.5 * cos(M_PI * r / hop);
	frame_amps(cur, f0, amp, dist, 0, K, sr);
	for (int k = 0; k < T; k++) {
		if (k + 1 < T)
			frame_amps(next, f0, amp, dist, k + 1, K, sr);
		else
			memcpy(next, cur, sizeof(double) * K);
		double fa = f0[k], fb = k + 1 < T ? f0[k + 1] : fa;
		block_start(fr, tc, sm, sc, &phase, fa, fb, hop, sr);
		memset(acc, 0, sizeof(double) * hop);
		int hmax = block_hmax(SH_MIN(fa, fb), K, nyq);
		double fmax = SH_MAX(fa, fb);
		for (int h = 1; h <= hmax; h++) {
			double a1 = next[h - 1], da = cur[h - 1] - a1;
			if (h * fmax < nyq) {
				for (int r = 0; r < hop; r++)
					acc[r] += (a1 + da * wk[r]) * sc[r];
			} else { /* amplitudes zeroed where h·f >= sr/2 at sample rate */
				for (int r = 0; r < hop; r++)
					acc[r] += h * fr[r] < nyq ? (a1 + da * wk[r]) * sc[r] : 0.0;
			}
			for (int r = 0; r < hop; r++) {
				double nx = tc[r] * sc[r] - sm[r];
				sm[r] = sc[r], sc[r] = nx;
			}
		}
		for (int r = 0; r < hop; r++)
			out[(size_t)k * hop + r] = (real)acc[r];
		double *t = cur;
		cur = next, next = t;
	}
	free(mem);
	return 0;
}

/* Frame k's gradient ga[h] = dL/da_h into damp[k] and ddist[k]: a_h = amp·m_h·d_h/den. */
static void frame_amps_backward(real *damp, real *ddist, const double *ga, const real *f0, const real *amp,
				const real *dist, int k, int K, double sr)
{
	const real *d = dist + (size_t)k * K;
	const double nyq = sr / 2;
	double sum = 0;
	for (int h = 0; h < K; h++)
		sum += (double)f0[k] * (h + 1) >= nyq ? 0.0 : (double)d[h];
	double den = sum == 0 ? 1e-7 : sum, gdot = 0, g_amp = 0;
	for (int h = 0; h < K; h++) {
		double nd = (double)f0[k] * (h + 1) >= nyq ? 0.0 : d[h] / den;
		g_amp += ga[h] * nd;
		gdot += ga[h] * amp[k] * nd;
	}
	damp[k] += (real)g_amp;
	for (int h = 0; h < K; h++) {
		if ((double)f0[k] * (h + 1) >= nyq)
			continue;
		double gnd = ga[h] * amp[k];
		/* d(d_h/Σd)/d d_j = (δ_hj - nd_h)/Σd; a zero sum divides by a constant */
		ddist[(size_t)k * K + h] += (real)(sum == 0 ? gnd / den : (gnd - gdot) / den);
	}
}

SH_HOT int ddsp_harmonic_backward(real *damp, real *ddist, const real *dout, const real *f0, const real *amp,
				  const real *dist, int T, int K, int hop, double sr)
{
	double *mem = harm_scratch(hop, K);
	if (!mem)
		return sh_error("out of memory");
	double *wk = mem, *fr = wk + hop, *tc = fr + hop, *sm = tc + hop, *sc = sm + hop;
	double *dy = sc + hop, *gcur = dy + hop, *gnext = gcur + K;
	const double nyq = sr / 2;
	double phase = 0;
	for (int r = 0; r < hop; r++)
		wk[r] = 0.5 + 0.5 * cos(M_PI * r / hop);
	memset(gcur, 0, sizeof(double) * 2 * K);
	for (int k = 0; k < T; k++) {
		double fa = f0[k], fb = k + 1 < T ? f0[k + 1] : fa;
		block_start(fr, tc, sm, sc, &phase, fa, fb, hop, sr);
		for (int r = 0; r < hop; r++)
			dy[r] = dout[(size_t)k * hop + r];
		int hmax = block_hmax(SH_MIN(fa, fb), K, nyq);
		double fmax = SH_MAX(fa, fb);
		for (int h = 1; h <= hmax; h++) {
			double s0 = 0, s1 = 0;
			if (h * fmax < nyq) {
				for (int r = 0; r < hop; r++) {
					double g = dy[r] * sc[r];
					s0 += g, s1 += g * wk[r];
				}
			} else {
				for (int r = 0; r < hop; r++) {
					double g = h * fr[r] < nyq ? dy[r] * sc[r] : 0.0;
					s0 += g, s1 += g * wk[r];
				}
			}
			/* block k: frame k weighs w, frame k+1 (k itself at the end) 1 - w */
			gcur[h - 1] += s1;
			if (k + 1 < T)
				gnext[h - 1] += s0 - s1;
			else
				gcur[h - 1] += s0 - s1;
			for (int r = 0; r < hop; r++) {
				double nx = tc[r] * sc[r] - sm[r];
				sm[r] = sc[r], sc[r] = nx;
			}
		}
		frame_amps_backward(damp, ddist, gcur, f0, amp, dist, k, K, sr);
		double *t = gcur;
		gcur = gnext, gnext = t;
		memset(gnext, 0, sizeof(double) * K);
	}
	free(mem);
	return 0;
}

/* ---- filtered noise -------------------------------------------------------------------- */

void ddsp_noise_design(real *M, int B)
{
	/* z = irfft(mags): z_j = (m_0 + (-1)^j m_B-1 + 2Σ m_b cos(2πbj/L))/L; ir[j] = hann[j]·
	 * z[(j + L/2) mod L] (ddsp.c's window_to_causal) */
	const int L = 2 * (B - 1);
	for (int j = 0; j < L; j++) {
		int jj = (j + L / 2) % L;
		double w = (0.5 - 0.5 * cos(TWO_PI * j / L)) / L;
		for (int b = 0; b < B; b++) {
			double c = b == 0       ? 1.0
				   : b == B - 1 ? ((jj & 1) ? -1.0 : 1.0)
						: 2.0 * cos(TWO_PI * (double)((long)b * jj % L) / L);
			M[(size_t)j * B + b] = (real)(w * c);
		}
	}
}

/* fft_convolve's crop (ddsp.c): the output starts (L-1)/2 - 1 samples into the convolution */
static int crop_start(int L) { return (L - 1) / 2 - 1; }

SH_HOT void ddsp_noise_forward(real *out, const real *irs, const real *noise, int T, int L, int hop)
{
	const long N = (long)T * hop, start = crop_start(L);
	for (int k = 0; k < T; k++) {
		const real *ir = irs + (size_t)k * L;
		for (int i = 0; i < hop; i++) {
			long base = (long)k * hop + i - start;
			real x = noise[(size_t)k * hop + i];
			int j0 = base < 0 ? (int)-base : 0;
			int j1 = base + L > N ? (int)(N - base) : L;
			real *o = out + base;
			for (int j = j0; j < j1; j++)
				o[j] += x * ir[j];
		}
	}
}

SH_HOT void ddsp_noise_backward(real *dirs, const real *dout, const real *noise, int T, int L, int hop)
{
	const long N = (long)T * hop, start = crop_start(L);
	for (int k = 0; k < T; k++) {
		real *dir = dirs + (size_t)k * L;
		memset(dir, 0, sizeof(real) * L);
		for (int i = 0; i < hop; i++) {
			long base = (long)k * hop + i - start;
			real x = noise[(size_t)k * hop + i];
			int j0 = base < 0 ? (int)-base : 0;
			int j1 = base + L > N ? (int)(N - base) : L;
			const real *d = dout + base;
			for (int j = j0; j < j1; j++)
				dir[j] += x * d[j];
		}
	}
}

/* ---- FFT work: reverb and loss --------------------------------------------------------- */

static const int loss_sizes[] = {2048, 1024, 512, 256, 128, 64};
#define NSIZES ((int)(sizeof loss_sizes / sizeof loss_sizes[0]))

struct ddsp_fft {
	size_t n, P;
	int R;
	real *lbuf, *win[NSIZES], *ma, *mb, *la, *lb; /* magnitudes and logs: one frame's bins */
	FFTW(complex) * sa, *sb;
	FFTW(plan) lf[NSIZES], li[NSIZES];
	real *rbuf;
	FFTW(complex) * xs, *hs, *ts, *ds;
	FFTW(plan) rf, ri;
};

void ddsp_fft_free(ddsp_fft *f)
{
	if (!f)
		return;
	for (int i = 0; i < NSIZES; i++) {
		if (f->lf[i])
			FFTW(destroy_plan)(f->lf[i]);
		if (f->li[i])
			FFTW(destroy_plan)(f->li[i]);
		free(f->win[i]);
	}
	if (f->rf)
		FFTW(destroy_plan)(f->rf);
	if (f->ri)
		FFTW(destroy_plan)(f->ri);
	FFTW(free)(f->lbuf), FFTW(free)(f->sa), FFTW(free)(f->sb);
	free(f->ma);
	FFTW(free)(f->rbuf), FFTW(free)(f->xs), FFTW(free)(f->hs), FFTW(free)(f->ts), FFTW(free)(f->ds);
	free(f);
}

ddsp_fft *ddsp_fft_new(size_t n, int R)
{
	ddsp_fft *f = sh_alloc(sizeof *f);
	if (!f)
		return NULL;
	f->n = n, f->R = R;
	const int big = loss_sizes[0];
	f->lbuf = FFTW(malloc)(sizeof(real) * big);
	f->sa = FFTW(malloc)(sizeof(FFTW(complex)) * (big / 2 + 1));
	f->sb = FFTW(malloc)(sizeof(FFTW(complex)) * (big / 2 + 1));
	f->ma = malloc(sizeof(real) * 4 * (big / 2 + 1));
	if (!f->lbuf || !f->sa || !f->sb || !f->ma)
		goto fail;
	f->mb = f->ma + big / 2 + 1, f->la = f->mb + big / 2 + 1, f->lb = f->la + big / 2 + 1;
	for (int i = 0; i < NSIZES; i++) {
		int size = loss_sizes[i];
		if (!(f->win[i] = malloc(sizeof(real) * size)))
			goto fail;
		for (int j = 0; j < size; j++)
			f->win[i][j] = (real)(0.5 - 0.5 * cos(TWO_PI * j / size));
		/* FFTW_ESTIMATE: the same plan, so the same bytes, on every run */
		f->lf[i] = FFTW(plan_dft_r2c_1d)(size, f->lbuf, f->sa, FFTW_ESTIMATE);
		f->li[i] = FFTW(plan_dft_c2r_1d)(size, f->sa, f->lbuf, FFTW_ESTIMATE);
		if (!f->lf[i] || !f->li[i])
			goto fail;
	}
	if (R > 0) {
		size_t P = 1;
		while (P < n + R - 1)
			P *= 2;
		f->P = P;
		f->rbuf = FFTW(malloc)(sizeof(real) * P);
		f->xs = FFTW(malloc)(sizeof(FFTW(complex)) * (P / 2 + 1));
		f->hs = FFTW(malloc)(sizeof(FFTW(complex)) * (P / 2 + 1));
		f->ts = FFTW(malloc)(sizeof(FFTW(complex)) * (P / 2 + 1));
		f->ds = FFTW(malloc)(sizeof(FFTW(complex)) * (P / 2 + 1));
		if (!f->rbuf || !f->xs || !f->hs || !f->ts || !f->ds)
			goto fail;
		f->rf = FFTW(plan_dft_r2c_1d)((int)P, f->rbuf, f->ts, FFTW_ESTIMATE);
		f->ri = FFTW(plan_dft_c2r_1d)((int)P, f->ts, f->rbuf, FFTW_ESTIMATE);
		if (!f->rf || !f->ri)
			goto fail;
	}
	return f;
fail:
	sh_error("out of memory or no FFTW plan");
	ddsp_fft_free(f);
	return NULL;
}

/* spec = r2c of x[0..len) zero-padded to P */
static void reverb_fft(ddsp_fft *f, FFTW(complex) * spec, const real *x, size_t len)
{
	memcpy(f->rbuf, x, sizeof(real) * len);
	memset(f->rbuf + len, 0, sizeof(real) * (f->P - len));
	FFTW(execute_dft_r2c)(f->rf, f->rbuf, spec);
}

/* rbuf = c2r(ts ∘ a or ts ∘ conj(a)) / P, ts holding the other factor */
static void reverb_product_inverse(ddsp_fft *f, const FFTW(complex) * a, FFTW(complex) * b, int conj)
{
	const size_t nb = f->P / 2 + 1;
	const real s = conj ? -1 : 1;
	for (size_t i = 0; i < nb; i++) {
		real ar = a[i][0], ai = s * a[i][1], br = b[i][0], bi = b[i][1];
		f->ts[i][0] = ar * br - ai * bi;
		f->ts[i][1] = ar * bi + ai * br;
	}
	FFTW(execute_dft_c2r)(f->ri, f->ts, f->rbuf);
}

void ddsp_reverb_forward(ddsp_fft *f, real *out, const real *x, const real *ir)
{
	const size_t n = f->n, R = f->R;
	const real scale = (real)(1.0 / f->P);
	/* the impulse response with tap 0 forced to 0 (DDSP's _mask_dry_ir): the dry signal is
	 * added as it is */
	memset(f->rbuf, 0, sizeof(real) * f->P);
	memcpy(f->rbuf + 1, ir + 1, sizeof(real) * (R - 1));
	FFTW(execute_dft_r2c)(f->rf, f->rbuf, f->hs);
	reverb_fft(f, f->xs, x, n);
	memcpy(f->ts, f->xs, sizeof(FFTW(complex)) * (f->P / 2 + 1));
	reverb_product_inverse(f, f->hs, f->ts, 0);
	for (size_t i = 0; i < n; i++)
		out[i] = x[i] + f->rbuf[i] * scale;
}

void ddsp_reverb_backward(ddsp_fft *f, real *dx, real *dir, const real *dout, const real *x, const real *ir)
{
	const size_t n = f->n, R = f->R, nb = f->P / 2 + 1;
	const real scale = (real)(1.0 / f->P);
	/* the spectra of x and of the response, as the forward made them */
	memset(f->rbuf, 0, sizeof(real) * f->P);
	memcpy(f->rbuf + 1, ir + 1, sizeof(real) * (R - 1));
	FFTW(execute_dft_r2c)(f->rf, f->rbuf, f->hs);
	reverb_fft(f, f->xs, x, n);
	/* D = FFT(dout): dir[j] = Σ_m dout[m]·x[m-j] (D·conj X), dx[m] = dout[m] + Σ_j ir[j]·dout[m+j]
	 * (D·conj H) */
	FFTW(complex) *ds = f->ds;
	reverb_fft(f, ds, dout, n);
	memcpy(f->ts, ds, sizeof(FFTW(complex)) * nb);
	reverb_product_inverse(f, f->xs, f->ts, 1);
	for (size_t j = 1; j < R; j++)
		dir[j] += f->rbuf[j] * scale;
	memcpy(f->ts, ds, sizeof(FFTW(complex)) * nb);
	reverb_product_inverse(f, f->hs, f->ts, 1);
	for (size_t i = 0; i < n; i++)
		dx[i] = dout[i] + f->rbuf[i] * scale;
}

SH_HOT double ddsp_spectral_loss_grad(ddsp_fft *f, const real *a, const float *b, real *da, double scale)
{
	const size_t n = f->n;
	double total = 0;
	for (int si = 0; si < NSIZES; si++) {
		const int size = loss_sizes[si], hop = size / 4, nb = size / 2 + 1;
		const real *win = f->win[si];
		/* tf.signal.stft(pad_end=True): ceil(n/hop) frames, zeros past the end */
		const size_t frames = (n + hop - 1) / hop;
		const double cnt = (double)frames * nb, gs = scale / cnt;
		double l_mag = 0, l_log = 0;
		for (size_t fr = 0; fr < frames; fr++) {
			const size_t t0 = fr * hop;
			const int len = t0 + size <= n ? size : (int)(n - t0);
			for (int j = 0; j < len; j++)
				f->lbuf[j] = a[t0 + j] * win[j];
			memset(f->lbuf + len, 0, sizeof(real) * (size - len));
			FFTW(execute_dft_r2c)(f->lf[si], f->lbuf, f->sa);
			for (int j = 0; j < len; j++)
				f->lbuf[j] = (real)(b[t0 + j] * win[j]);
			FFTW(execute_dft_r2c)(f->lf[si], f->lbuf, f->sb);
			/* magnitudes and safe logs of both, then the two L1 sums: loops the compiler
			 * vectorises */
			real *ma = f->ma, *mb = f->mb, *la = f->la, *lb = f->lb;
			const real eps = (real)DDSP_LOG_FLOOR;
			for (int i = 0; i < nb; i++) {
				real ar = f->sa[i][0], ai = f->sa[i][1], br = f->sb[i][0], bi = f->sb[i][1];
				ma[i] = SQRT(ar * ar + ai * ai);
				mb[i] = SQRT(br * br + bi * bi);
			}
			for (int i = 0; i < nb; i++) {
				la[i] = LOG(ma[i] > eps ? ma[i] : eps);
				lb[i] = LOG(mb[i] > eps ? mb[i] : eps);
			}
			real sm = 0, sl = 0;
			for (int i = 0; i < nb; i++) {
				sm += FABS(ma[i] - mb[i]);
				sl += FABS(la[i] - lb[i]);
			}
			l_mag += sm, l_log += sl;
			if (!da)
				continue;
			/* dL/d|A|, then dL/dA = that·A/|A|; the r2c adjoint: interior bins halved (each
			 * stands for itself and its mirror), DC and Nyquist real */
			for (int i = 0; i < nb; i++) {
				real dm = ma[i] - mb[i], dl = la[i] - lb[i];
				real g = (real)((dm > 0) - (dm < 0)) +
					 (ma[i] > eps ? (real)((dl > 0) - (dl < 0)) / ma[i] : 0);
				g = ma[i] > 0 ? g * (real)gs / ma[i] : 0;
				real gr = i > 0 && i < nb - 1 ? g * (real)0.5 : g, gi = i > 0 && i < nb - 1 ? gr : 0;
				f->sa[i][0] *= gr;
				f->sa[i][1] *= gi;
			}
			if (!da)
				continue;
			FFTW(execute_dft_c2r)(f->li[si], f->sa, f->lbuf);
			for (int j = 0; j < len; j++)
				da[t0 + j] += f->lbuf[j] * win[j];
		}
		total += (l_mag + l_log) / cnt;
	}
	return total;
}

/* ---- the network ----------------------------------------------------------------------- */

enum { ST_LD, ST_F0, ST_OUT, NSTACK };

typedef struct {
	real *w, *b, *g, *beta; /* dense [ch×in], bias, norm weight, norm bias */
	real *dw, *db, *dg, *dbeta;
	real *xhat, *rstd, *act; /* caches [N×ch], [N], [N×ch] */
} fc_layer;

struct ddsp_net {
	ddsp_config c;
	param_table pt;
	real *params, *grads;
	int max_batch, max_frames, T, batch; /* T, batch: of the last decode */
	fc_layer layer[NSTACK][MAX_STACK];
	real *wih, *whh, *bih, *bhh, *dwih, *dwhh, *dbih, *dbhh;
	real *wout, *bout, *dwout, *dbout, *ir, *dir;
	/* frame-rate activations, N = max_frames × max_batch rows */
	real *in[2], *cat1, *gh, *gates, *cat2, *logits, *h0;
	real *d_ld, *d_f0, *dtmp, *dcat1, *dcat2, *dlogits, *dgi, *dghs, *dgh;
	/* controls [batch][T...] */
	real *f0, *amp, *harm, *mags, *damp, *dharm, *dmags, *irs, *dirs, *M;
	/* audio [batch][n] */
	float *noise_f;
	real *noise, *dry, *wet, *dwet, *ddry, *dir_b;
	double *loss_b;
	ddsp_fft **fft;
	void *mem;
};

void ddsp_net_free(ddsp_net *m)
{
	if (!m)
		return;
	if (m->fft)
		for (int b = 0; b < m->max_batch; b++)
			ddsp_fft_free(m->fft[b]);
	free(m->fft);
	free(m->noise_f);
	free(m->loss_b);
	nn_model_free(&m->pt, m->params, m->grads, m->mem);
	free(m);
}

static real *param(ddsp_net *m, real *base, const char *name)
{
	const nn_param *p = param_table_find(&m->pt, name);
	return p ? base + p->offset : NULL;
}

/* The activations and scratch of a batch of up to max_batch examples of max_frames frames: one
 * arena, sized by a first call with base NULL, carved by a second (util.h's sh_arena). */
static size_t layout(ddsp_net *m, unsigned char *base)
{
	const ddsp_config *c = &m->c;
	const size_t N = (size_t)m->max_frames * m->max_batch, ch = c->ch, G = c->gru, O = ddsp_n_out(c);
	const size_t K = c->n_harmonics, B = c->n_bands, L = 2 * (B - 1), n = c->n_samples;
	const size_t BT = (size_t)m->max_batch * m->max_frames, nb = (size_t)m->max_batch * n;
	sh_arena a = {base, 0};
#define TAKE(n) ((real *)sh_arena_take(&a, sizeof(real) * (size_t)(n)))
	m->in[0] = TAKE(N), m->in[1] = TAKE(N);
	for (int s = 0; s < NSTACK; s++)
		for (int l = 0; l < c->layers; l++) {
			fc_layer *Ly = &m->layer[s][l];
			Ly->xhat = TAKE(N * ch), Ly->act = TAKE(N * ch), Ly->rstd = TAKE(N);
		}
	m->cat1 = TAKE(N * 2 * ch), m->gh = TAKE(N * G), m->gates = TAKE(N * 4 * G);
	m->cat2 = TAKE(N * (2 * ch + G)), m->logits = TAKE(N * O), m->h0 = TAKE(m->max_batch * G);
	m->d_ld = TAKE(N * ch), m->d_f0 = TAKE(N * ch), m->dtmp = TAKE(N * ch);
	m->dcat1 = TAKE(N * 2 * ch), m->dcat2 = TAKE(N * (2 * ch + G)), m->dlogits = TAKE(N * O);
	m->dgi = TAKE(N * 3 * G), m->dghs = TAKE(N * 3 * G), m->dgh = TAKE(N * G);
	m->f0 = TAKE(BT), m->amp = TAKE(BT), m->damp = TAKE(BT);
	m->harm = TAKE(BT * K), m->dharm = TAKE(BT * K);
	m->mags = TAKE(BT * B), m->dmags = TAKE(BT * B);
	m->irs = TAKE(BT * L), m->dirs = TAKE(BT * L), m->M = TAKE(L * B);
	m->noise = TAKE(nb), m->dry = TAKE(nb), m->wet = TAKE(nb), m->dwet = TAKE(nb);
	m->ddry = TAKE(nb), m->dir_b = TAKE((size_t)m->max_batch * c->reverb);
#undef TAKE
	return a.used;
}

ddsp_net *ddsp_net_new(const ddsp_config *c, int max_batch, int max_frames)
{
	if (ddsp_config_check(c) < 0)
		return NULL;
	ddsp_net *m = sh_alloc(sizeof *m);
	if (!m)
		return NULL;
	m->c = *c;
	m->max_batch = max_batch;
	m->max_frames = max_frames = SH_MAX(max_frames, ddsp_frames(c));
	if (ddsp_param_table(c, &m->pt) < 0 ||
	    nn_model_alloc(&m->pt, &m->params, &m->grads, layout(m, NULL), &m->mem) < 0)
		goto fail;
	layout(m, m->mem);
	char nm[PARAM_NAME_MAX];
	static const char *stack_name[NSTACK] = {"ld_stack", "f0_stack", "out_stack"};
	for (int s = 0; s < NSTACK; s++)
		for (int l = 0; l < c->layers; l++) {
			fc_layer *L = &m->layer[s][l];
#define P(field, suffix)                                                                                               \
	do {                                                                                                           \
		snprintf(nm, sizeof nm, "%s.%d.%s", stack_name[s], l, suffix);                                         \
		L->field = param(m, m->params, nm), L->d##field = param(m, m->grads, nm);                              \
	} while (0)
			P(w, "dense.weight");
			P(b, "dense.bias");
			P(g, "norm.weight");
			P(beta, "norm.bias");
#undef P
		}
#define P(field, name) (m->field = param(m, m->params, name), m->d##field = param(m, m->grads, name))
	P(wih, "gru.weight_ih_l0");
	P(whh, "gru.weight_hh_l0");
	P(bih, "gru.bias_ih_l0");
	P(bhh, "gru.bias_hh_l0");
	P(wout, "dense_out.weight");
	P(bout, "dense_out.bias");
#undef P
	if (c->reverb)
		m->ir = param(m, m->params, "reverb.ir"), m->dir = param(m, m->grads, "reverb.ir");

	const size_t B = c->n_bands, n = c->n_samples, nb = (size_t)max_batch * n;
	m->noise_f = sh_alloc(sizeof(float) * nb);
	m->loss_b = sh_alloc(sizeof(double) * max_batch);
	m->fft = calloc(max_batch, sizeof *m->fft);
	if (!m->noise_f || !m->loss_b || !m->fft)
		goto fail;
	ddsp_noise_design(m->M, (int)B);
	for (int b = 0; b < max_batch; b++)
		if (!(m->fft[b] = ddsp_fft_new(n, c->reverb)))
			goto fail;
	return m;
fail:
	ddsp_net_free(m);
	return NULL;
}

const ddsp_config *ddsp_net_config(const ddsp_net *m) { return &m->c; }
size_t ddsp_net_num_params(const ddsp_net *m) { return m->pt.total; }
real *ddsp_net_params(ddsp_net *m) { return m->params; }
real *ddsp_net_grads(ddsp_net *m) { return m->grads; }
const nn_param *ddsp_net_param_info(const ddsp_net *m, int i) { return param_table_info(&m->pt, i); }

void ddsp_net_init_params(ddsp_net *m, uint64_t seed)
{
	sh_rng r;
	sh_rng_seed(&r, seed);
	for (int i = 0; i < m->pt.n; i++) {
		const nn_param *p = &m->pt.info[i];
		real *x = m->params + p->offset;
		const char *name = p->name;
		if (strstr(name, ".norm.")) { /* layer norm: weight 1, bias 0 */
			for (size_t j = 0; j < p->count; j++)
				x[j] = strstr(name, "weight") ? 1 : 0;
		} else if (!strcmp(name, "reverb.ir")) {
			nn_fill_normal(x, p->count, 1e-6, &r);
		} else { /* the GRU's tensors ±1/√hidden (torch's nn.GRU), a dense layer's its fan_in's */
			double fan_in = !strncmp(name, "gru.", 4) ? m->c.gru : param_fan_in(&m->pt, i);
			nn_fill_uniform(x, p->count, 1 / sqrt(fan_in), &r);
		}
	}
}

/* A stack: layer l = leaky(layernorm(dense(x))), x the stack's input for l = 0. */
static void stack_forward(ddsp_net *m, int s, const real *inp, int in, int N)
{
	const int ch = m->c.ch;
	const real *x = inp;
	for (int l = 0; l < m->c.layers; l++) {
		fc_layer *Ly = &m->layer[s][l];
		linear_forward(m->dtmp, x, Ly->w, Ly->b, N, l ? ch : in, ch, 0);
		ddsp_layernorm_forward(Ly->act, Ly->xhat, Ly->rstd, m->dtmp, Ly->g, Ly->beta, N, ch);
		for (size_t i = 0; i < (size_t)N * ch; i++)
			Ly->act[i] = Ly->act[i] > 0 ? Ly->act[i] : (real)DDSP_LEAK * Ly->act[i];
		x = Ly->act;
	}
}

/* From dact (dL/d the stack's output, [N×ch], used as scratch) down the stack: parameter
 * gradients, and dinp (accumulated, NULL: not wanted) for the stack's input. */
static void stack_backward(ddsp_net *m, int s, real *dact, const real *inp, real *dinp, int in, int N)
{
	const int ch = m->c.ch;
	real *d = dact, *other = m->dtmp;
	for (int l = m->c.layers - 1; l >= 0; l--) {
		fc_layer *Ly = &m->layer[s][l];
		for (size_t i = 0; i < (size_t)N * ch; i++)
			d[i] *= Ly->act[i] > 0 ? 1 : (real)DDSP_LEAK;
		ddsp_layernorm_backward(d, Ly->dg, Ly->dbeta, d, Ly->xhat, Ly->rstd, Ly->g, N, ch);
		if (l > 0) {
			memset(other, 0, sizeof(real) * N * ch);
			linear_backward(other, Ly->dw, Ly->db, d, m->layer[s][l - 1].act, Ly->w, N, ch, ch);
			real *t = d;
			d = other, other = t;
		} else {
			linear_backward(dinp, Ly->dw, Ly->db, d, inp, Ly->w, N, in, ch);
		}
	}
}

int ddsp_net_decode(ddsp_net *m, const float *f0_hz, const float *loudness_db, int batch, int T, real *h, real *amp,
		    real *harm, real *noise)
{
	const ddsp_config *c = &m->c;
	const int ch = c->ch, G = c->gru, O = ddsp_n_out(c), K = c->n_harmonics, B = c->n_bands;
	if (batch < 1 || batch > m->max_batch || T < 1 || T > m->max_frames)
		return sh_error("decode: %d examples of %d frames (at most %d of %d)", batch, T, m->max_batch,
				m->max_frames);
	const int N = T * batch;
	m->T = T, m->batch = batch;
	for (int b = 0; b < batch; b++)
		for (int t = 0; t < T; t++) {
			size_t i = (size_t)b * T + t, r = (size_t)t * batch + b;
			if (!isfinite(f0_hz[i]) || !isfinite(loudness_db[i]))
				return sh_error("decode: example %d frame %d: f0 or loudness not finite", b, t);
			m->in[ST_LD][r] = (real)ddsp_ld_scaled(loudness_db[i]);
			m->in[ST_F0][r] = (real)ddsp_f0_scaled(f0_hz[i]);
		}
	stack_forward(m, ST_LD, m->in[ST_LD], 1, N);
	stack_forward(m, ST_F0, m->in[ST_F0], 1, N);
	const real *ld = m->layer[ST_LD][c->layers - 1].act, *f0 = m->layer[ST_F0][c->layers - 1].act;
	/* RnnFcDecoder: concat(input stacks) → GRU → concat(input stacks, GRU) → output stack */
	for (int r = 0; r < N; r++) {
		memcpy(m->cat1 + (size_t)r * 2 * ch, ld + (size_t)r * ch, sizeof(real) * ch);
		memcpy(m->cat1 + (size_t)r * 2 * ch + ch, f0 + (size_t)r * ch, sizeof(real) * ch);
	}
	if (h)
		memcpy(m->h0, h, sizeof(real) * batch * G);
	else
		memset(m->h0, 0, sizeof(real) * batch * G);
	gru_forward(m->gh, m->gates, m->cat1, NULL, m->wih, m->whh, m->bih, m->bhh, m->h0, T, batch, 2 * ch, G);
	if (h)
		memcpy(h, m->gh + (size_t)(T - 1) * batch * G, sizeof(real) * batch * G);
	const int W2 = 2 * ch + G;
	for (int r = 0; r < N; r++) {
		memcpy(m->cat2 + (size_t)r * W2, m->cat1 + (size_t)r * 2 * ch, sizeof(real) * 2 * ch);
		memcpy(m->cat2 + (size_t)r * W2 + 2 * ch, m->gh + (size_t)r * G, sizeof(real) * G);
	}
	stack_forward(m, ST_OUT, m->cat2, W2, N);
	linear_forward(m->logits, m->layer[ST_OUT][c->layers - 1].act, m->wout, m->bout, N, ch, O, 0);
	/* amplitude, harmonic distribution, noise magnitudes (bias -5 first) through exp_sigmoid */
	for (int b = 0; b < batch; b++)
		for (int t = 0; t < T; t++) {
			const real *o = m->logits + ((size_t)t * batch + b) * O;
			size_t i = (size_t)b * T + t;
			amp[i] = ddsp_scale_fn(o[0]);
			for (int k = 0; k < K; k++)
				harm[i * K + k] = ddsp_scale_fn(o[1 + k]);
			for (int j = 0; j < B; j++)
				noise[i * B + j] = ddsp_scale_fn(o[1 + K + j] + (real)DDSP_NOISE_BIAS);
		}
	return 0;
}

/* The decoder's backward from the controls' gradients damp, dharm, dmags. */
static void decode_backward(ddsp_net *m)
{
	const ddsp_config *c = &m->c;
	const int ch = c->ch, G = c->gru, O = ddsp_n_out(c), K = c->n_harmonics, B = c->n_bands;
	const int T = m->T, batch = m->batch, N = T * batch, W2 = 2 * ch + G, top = c->layers - 1;
	for (int b = 0; b < batch; b++)
		for (int t = 0; t < T; t++) {
			const real *o = m->logits + ((size_t)t * batch + b) * O;
			real *d = m->dlogits + ((size_t)t * batch + b) * O;
			size_t i = (size_t)b * T + t;
			d[0] = m->damp[i] * ddsp_scale_fn_grad(o[0]);
			for (int k = 0; k < K; k++)
				d[1 + k] = m->dharm[i * K + k] * ddsp_scale_fn_grad(o[1 + k]);
			for (int j = 0; j < B; j++)
				d[1 + K + j] =
					m->dmags[i * B + j] * ddsp_scale_fn_grad(o[1 + K + j] + (real)DDSP_NOISE_BIAS);
		}
	real *dout_top = m->d_ld; /* scratch until the split below */
	memset(dout_top, 0, sizeof(real) * N * ch);
	linear_backward(dout_top, m->dwout, m->dbout, m->dlogits, m->layer[ST_OUT][top].act, m->wout, N, ch, O);
	memset(m->dcat2, 0, sizeof(real) * N * W2);
	stack_backward(m, ST_OUT, dout_top, m->cat2, m->dcat2, W2, N);
	for (int r = 0; r < N; r++) {
		const real *d = m->dcat2 + (size_t)r * W2;
		memcpy(m->d_ld + (size_t)r * ch, d, sizeof(real) * ch);
		memcpy(m->d_f0 + (size_t)r * ch, d + ch, sizeof(real) * ch);
		memcpy(m->dgh + (size_t)r * G, d + 2 * ch, sizeof(real) * G);
	}
	memset(m->dcat1, 0, sizeof(real) * N * 2 * ch);
	gru_backward(m->dcat1, m->dwih, m->dwhh, m->dbih, m->dbhh, NULL, m->dgi, m->dghs, m->dgh, NULL, m->gh, m->gates,
		     m->cat1, m->wih, m->whh, m->h0, T, batch, 2 * ch, G);
	for (int r = 0; r < N; r++) {
		const real *d = m->dcat1 + (size_t)r * 2 * ch;
		for (int j = 0; j < ch; j++) {
			m->d_ld[(size_t)r * ch + j] += d[j];
			m->d_f0[(size_t)r * ch + j] += d[ch + j];
		}
	}
	stack_backward(m, ST_LD, m->d_ld, m->in[ST_LD], NULL, 1, N);
	stack_backward(m, ST_F0, m->d_f0, m->in[ST_F0], NULL, 1, N);
}

double ddsp_net_run(ddsp_net *m, const float *f0_hz, const float *loudness_db, const float *target, int batch,
		    const uint64_t *seeds, real *audio, int backward)
{
	const ddsp_config *c = &m->c;
	const int T = ddsp_frames(c), K = c->n_harmonics, B = c->n_bands, L = 2 * (B - 1);
	const int hop = c->hop, R = c->reverb;
	const size_t n = c->n_samples;
	const double sr = c->sample_rate;
	if (ddsp_net_decode(m, f0_hz, loudness_db, batch, T, NULL, m->amp, m->harm, m->mags) < 0)
		return NAN;
	for (size_t i = 0; i < (size_t)batch * T; i++)
		m->f0[i] = f0_hz[i];
	/* every frame's noise filter at once: irs[BT×L] = mags[BT×B]·Mᵀ */
	nn_gemm(0, 1, batch * T, L, B, 1, m->mags, B, m->M, B, 0, m->irs, L);
	if (backward && R)
		memset(m->dir_b, 0, sizeof(real) * batch * R);
	int failed = 0;
#pragma omp parallel for schedule(static) reduction(| : failed)
	for (int b = 0; b < batch; b++) {
		const size_t o = (size_t)b * n, ft = (size_t)b * T;
		real *dry = m->dry + o, *wet = R ? m->wet + o : dry, *noise = m->noise + o;
		ddsp_white_noise(m->noise_f + o, n, seeds[b]);
		for (size_t i = 0; i < n; i++)
			noise[i] = m->noise_f[o + i];
		if (ddsp_harmonic_forward(dry, m->f0 + ft, m->amp + ft, m->harm + ft * K, T, K, hop, sr) < 0) {
			failed = 1;
			continue;
		}
		ddsp_noise_forward(dry, m->irs + ft * L, noise, T, L, hop);
		if (R)
			ddsp_reverb_forward(m->fft[b], wet, dry, m->ir);
		if (audio)
			memcpy(audio + o, wet, sizeof(real) * n);
		m->loss_b[b] = 0;
		if (!target)
			continue;
		real *dwet = m->dwet + o;
		if (backward)
			memset(dwet, 0, sizeof(real) * n);
		m->loss_b[b] = ddsp_spectral_loss_grad(m->fft[b], wet, target + o, backward ? dwet : NULL, 1.0 / batch);
		if (!backward)
			continue;
		real *ddry = R ? m->ddry + o : dwet;
		if (R)
			ddsp_reverb_backward(m->fft[b], ddry, m->dir_b + (size_t)b * R, dwet, dry, m->ir);
		memset(m->damp + ft, 0, sizeof(real) * T);
		memset(m->dharm + ft * K, 0, sizeof(real) * T * K);
		if (ddsp_harmonic_backward(m->damp + ft, m->dharm + ft * K, ddry, m->f0 + ft, m->amp + ft,
					   m->harm + ft * K, T, K, hop, sr) < 0)
			failed = 1;
		ddsp_noise_backward(m->dirs + ft * L, ddry, noise, T, L, hop);
	}
	if (failed)
		return NAN;
	double loss = 0;
	for (int b = 0; b < batch; b++)
		loss += m->loss_b[b];
	loss /= batch;
	if (!target || !backward)
		return target ? loss : 0;
	for (int b = 0; b < batch; b++) /* in a fixed order: the same bytes with any threads */
		for (int j = 1; j < R; j++)
			m->dir[j] += m->dir_b[(size_t)b * R + j];
	nn_gemm(0, 0, batch * T, B, L, 1, m->dirs, L, m->M, B, 0, m->dmags, B);
	decode_backward(m);
	return loss;
}
