/* resample.c: streaming windowed-sinc resampling (see resample.h): an optional FFT low-pass
 * stage feeding a polyphase stage. The polyphase stage's input lives in one buffer holding the
 * 2H-sample history the next output needs plus a block of new input; each output is a dot
 * product of a phase's taps with that window. */
#include "resample.h"
#include "util.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define IN_BLOCK 8192   /* input samples pulled at a time */
#define ROUND_MIN 4096  /* outputs per round, at least */

struct resampler {
	int L, M;           /* out/in = L/M in lowest terms */
	int H, taps;        /* half-length in input samples; taps = 2H */
	double fc, beta;    /* cutoff (cycles per input sample) and Kaiser beta */
	float *coef;        /* (L, taps): phase p, tap i weighs x[base - H + 1 + i] */
	float *buf;         /* (cap,) input samples buf_start .. buf_start + buf_len - 1 */
	long cap, buf_len;
	int64_t buf_start;
	int64_t base;       /* floor(t) of the next output, t = n·M/L */
	int p;              /* n·M mod L */
	int64_t n_in, n_out, total_out; /* total_out known once the input has ended */
	int ended;
	/* Outputs are computed in rounds of R = per·L, phase by phase, so that one phase's taps
	 * stay in the L1 cache for `per` dot products instead of the whole table streaming through
	 * it for every L outputs. */
	long per;
	float *rnd;         /* (per·L,) outputs of the last round */
	long rnd_pos, rnd_have;

	/* The low-pass stage (downsampling only; D = 0 without it): z[j] = Σ_k h1[k]·x[j+D-k],
	 * N1 = 2D+1 taps, by overlap-save with FFTs of NF points, B = NF - N1 + 1 new samples a
	 * block. z is delivered for j = 0 .. n_in-1 only, like the input it replaces. */
	int D, N1, NF, B;
	double fc1, beta1;
	double *h1;                 /* (N1,) the taps, for the reference */
	float *xin, *yout;          /* (NF,) block input (N1-1 history + B new) and output */
	fftwf_complex *X, *Hs;      /* (NF/2+1,) spectra: block, filter (scaled by 1/NF) */
	fftwf_plan fwd, inv;
	long lp_pos, lp_len;        /* undelivered outputs yout[lp_pos .. lp_len) */
	int64_t lp_c, block_c;      /* conv index of yout[lp_pos]; of the next block's first */
	int64_t x_count;            /* input samples pulled */
	int x_ended;
	resample_input_fn user_in;  /* the caller's input, while resampler_read runs */
	void *user_ctx;
};

static int gcd(int a, int b)
{
	while (b) {
		int t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Modified Bessel function of the first kind, order 0, by its power series. */
static double bessel_i0(double x)
{
	double sum = 1, term = 1, q = x * x / 4;
	for (int k = 1; k < 200 && term > 1e-17 * sum; k++) {
		term *= q / ((double)k * k);
		sum += term;
	}
	return sum;
}

/* A Kaiser-windowed sinc of cutoff fc at offset tau, window half-length half (unnormalised). */
static double kaiser_sinc(double fc, double beta, double half, double tau)
{
	double u = tau / half;
	if (fabs(u) >= 1)
		return 0;
	double a = 2 * fc * tau, s = a == 0 ? 1 : sin(M_PI * a) / (M_PI * a);
	return 2 * fc * s * bessel_i0(beta * sqrt(1 - u * u)) / bessel_i0(beta);
}

/* Kaiser's estimates: taps for a transition band of width (cycles per sample), and beta. */
static int kaiser_taps(double atten_db, double width)
{
	return (int)ceil((atten_db - 7.95) / (14.36 * width));
}
static double kaiser_beta(double atten_db)
{
	return atten_db > 50 ? 0.1102 * (atten_db - 8.7)
		: atten_db > 21 ? 0.5842 * pow(atten_db - 21, 0.4) + 0.07886 * (atten_db - 21) : 0;
}

/* The taps of phase p in double, scaled to sum to 1. */
static void phase_taps(const resampler *r, int p, double *taps)
{
	double sum = 0;
	for (int i = 0; i < r->taps; i++) {
		taps[i] = kaiser_sinc(r->fc, r->beta, r->H, (double)p / r->L + r->H - 1 - i);
		sum += taps[i];
	}
	for (int i = 0; i < r->taps; i++)
		taps[i] /= sum;
}

/* Designs the low-pass taps, their spectrum and the FFT plans. */
static int lowpass_init(resampler *r)
{
	r->NF = 256;
	while (r->NF < 4 * (r->N1 - 1))
		r->NF *= 2;
	r->B = r->NF - r->N1 + 1;
	int nc = r->NF / 2 + 1;
	r->h1 = malloc((size_t)r->N1 * sizeof *r->h1);
	r->xin = fftwf_malloc((size_t)r->NF * sizeof *r->xin);
	r->yout = fftwf_malloc((size_t)r->NF * sizeof *r->yout);
	r->X = fftwf_malloc((size_t)nc * sizeof *r->X);
	r->Hs = fftwf_malloc((size_t)nc * sizeof *r->Hs);
	if (!r->h1 || !r->xin || !r->yout || !r->X || !r->Hs)
		return sh_error("resampler: out of memory");
	double sum = 0;
	for (int k = 0; k < r->N1; k++)
		sum += r->h1[k] = kaiser_sinc(r->fc1, r->beta1, r->D + 1, k - r->D);
	for (int k = 0; k < r->N1; k++)
		r->h1[k] /= sum;
	r->fwd = fftwf_plan_dft_r2c_1d(r->NF, r->xin, r->X, FFTW_ESTIMATE);
	r->inv = fftwf_plan_dft_c2r_1d(r->NF, r->X, r->yout, FFTW_ESTIMATE);
	if (!r->fwd || !r->inv)
		return sh_error("resampler: FFTW could not plan a %d-point transform", r->NF);
	memset(r->xin, 0, (size_t)r->NF * sizeof *r->xin);
	for (int k = 0; k < r->N1; k++)
		r->xin[k] = (float)(r->h1[k] / r->NF);
	fftwf_execute(r->fwd);
	memcpy(r->Hs, r->X, (size_t)nc * sizeof *r->Hs);
	memset(r->xin, 0, (size_t)r->NF * sizeof *r->xin); /* x before its start is zero */
	return 0;
}

/* The polyphase stage's input when there is a low-pass stage: z[0 .. n_in-1]. */
static long lowpass_pull(void *ctx, float *out, long n)
{
	resampler *r = ctx;
	long done = 0;
	while (done < n) {
		if (r->lp_pos < r->lp_len) {
			int64_t z = r->lp_c - r->D;
			long k = SH_MIN(r->lp_len - r->lp_pos, n - done);
			if (z < 0) { /* the filter's first D outputs precede x[0] */
				k = (long)SH_MIN((int64_t)(r->lp_len - r->lp_pos), -z);
				r->lp_pos += k;
				r->lp_c += k;
				continue;
			}
			if (r->x_ended) {
				if (z >= r->x_count)
					return done;
				k = (long)SH_MIN((int64_t)k, r->x_count - z);
			}
			memcpy(out + done, r->yout + r->lp_pos, (size_t)k * sizeof *out);
			r->lp_pos += k;
			r->lp_c += k;
			done += k;
			continue;
		}
		if (r->x_ended && r->lp_c - r->D >= r->x_count)
			return done;
		/* the next block: B new samples (zeros after the end) behind N1-1 of history */
		float *fresh = r->xin + r->N1 - 1;
		long fill = 0;
		while (!r->x_ended && fill < r->B) {
			long got = r->user_in(r->user_ctx, fresh + fill, r->B - fill);
			if (got < 0)
				return -1;
			if (got == 0)
				r->x_ended = 1;
			fill += got;
			r->x_count += got;
		}
		memset(fresh + fill, 0, (size_t)(r->B - fill) * sizeof *fresh);
		fftwf_execute(r->fwd);
		for (int i = 0; i < r->NF / 2 + 1; i++) {
			float a = r->X[i][0], b = r->X[i][1], c = r->Hs[i][0], d = r->Hs[i][1];
			r->X[i][0] = a * c - b * d;
			r->X[i][1] = a * d + b * c;
		}
		fftwf_execute(r->inv);
		memmove(r->xin, r->xin + r->B, (size_t)(r->N1 - 1) * sizeof *r->xin);
		r->lp_pos = r->N1 - 1;
		r->lp_len = r->NF;
		r->lp_c = r->block_c;
		r->block_c += r->B;
	}
	return done;
}

resampler *resampler_new(int in_rate, int out_rate, double bandwidth, double atten_db)
{
	if (in_rate < 1 || out_rate < 1 || !(bandwidth > 0 && bandwidth < 1) || !(atten_db >= 20))
		return sh_error("resampler: bad parameters (%d Hz -> %d Hz, bandwidth %g, %g dB)", in_rate,
				out_rate, bandwidth, atten_db), NULL;
	int g = gcd(in_rate, out_rate);
	int L = out_rate / g, M = in_rate / g;
	if (L > RESAMPLE_MAX_PHASES)
		return sh_error("resampler: %d Hz -> %d Hz needs %d filter phases (at most %d)", in_rate, out_rate,
				L, RESAMPLE_MAX_PHASES), NULL;
	resampler *r = sh_alloc(sizeof *r);
	if (!r)
		return NULL;
	r->L = L;
	r->M = M;
	/* band edges in cycles per input sample */
	double rho = (double)L / M, stop, pass = bandwidth * 0.5 * SH_MIN(rho, 1.0);
	if (L < M) {
		/* stage 1: the steep low-pass, stop band from the output's Nyquist frequency */
		double stop1 = 0.5 * rho;
		int n1 = kaiser_taps(atten_db, stop1 - pass);
		r->D = (n1 + 1) / 2;
		r->N1 = 2 * r->D + 1;
		r->fc1 = (pass + stop1) / 2;
		r->beta1 = kaiser_beta(atten_db);
		/* stage 2 need only reject the images of z, the first from 1 - rho/2 on */
		stop = 1 - 0.5 * rho;
	} else {
		stop = 0.5;
	}
	r->fc = (pass + stop) / 2;
	int n = kaiser_taps(atten_db, stop - pass);
	r->H = (n + 1) / 2 < 1 ? 1 : (n + 1) / 2;
	r->taps = 2 * r->H;
	r->beta = kaiser_beta(atten_db);
	size_t ncoef;
	if (!sh_mul_size((size_t)L, (size_t)r->taps, &ncoef))
		goto fail;
	r->coef = malloc(ncoef * sizeof *r->coef);
	r->per = (ROUND_MIN + L - 1) / L;
	r->cap = r->per * M + 2L * r->taps + IN_BLOCK;
	r->buf = calloc((size_t)r->cap, sizeof *r->buf);
	r->rnd = malloc((size_t)(r->per * L) * sizeof *r->rnd);
	double *taps = malloc((size_t)r->taps * sizeof *taps);
	if (!r->coef || !r->buf || !r->rnd || !taps) {
		free(taps);
		sh_error("resampler: out of memory");
		goto fail;
	}
	for (int p = 0; p < L; p++) {
		phase_taps(r, p, taps);
		for (int i = 0; i < r->taps; i++)
			r->coef[(size_t)p * r->taps + i] = (float)taps[i];
	}
	free(taps);
	if (r->D && lowpass_init(r) < 0)
		goto fail;
	/* the first output (t = 0) reaches back to x[-H+1]: start with H zeros of history */
	r->buf_start = -r->H;
	r->buf_len = r->H;
	r->total_out = -1;
	return r;
fail:
	resampler_free(r);
	return NULL;
}

void resampler_free(resampler *r)
{
	if (!r)
		return;
	free(r->coef);
	free(r->buf);
	free(r->rnd);
	free(r->h1);
	if (r->fwd)
		fftwf_destroy_plan(r->fwd);
	if (r->inv)
		fftwf_destroy_plan(r->inv);
	fftwf_free(r->xin);
	fftwf_free(r->yout);
	fftwf_free(r->X);
	fftwf_free(r->Hs);
	free(r);
}

int resampler_taps(const resampler *r) { return r->taps; }
int resampler_lowpass_taps(const resampler *r) { return r->D ? r->N1 : 0; }

/* Four independent vector accumulators, so the adds do not wait on each other's latency (one
 * accumulator runs at a quarter of the speed). GCC's vector extensions lower to SSE on any
 * x86-64; a second version for AVX2+FMA machines is chosen at load time. The order of the
 * additions is fixed within each version. */
typedef float v8f __attribute__((vector_size(32)));
#define MAC8(acc, c, x)                           \
	do {                                      \
		v8f c8_, x8_;                     \
		memcpy(&c8_, (c), sizeof c8_);    \
		memcpy(&x8_, (x), sizeof x8_);    \
		(acc) += c8_ * x8_;               \
	} while (0)

__attribute__((target_clones("arch=haswell", "default")))
static float dot(const float *restrict c, const float *restrict x, int n)
{
	v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
	int i = 0;
	for (; i + 32 <= n; i += 32) {
		MAC8(a0, c + i, x + i);
		MAC8(a1, c + i + 8, x + i + 8);
		MAC8(a2, c + i + 16, x + i + 16);
		MAC8(a3, c + i + 24, x + i + 24);
	}
	v8f a = (a0 + a1) + (a2 + a3);
	float s = 0;
	for (; i < n; i++)
		s += c[i] * x[i];
	for (int k = 0; k < 8; k++)
		s += a[k];
	return s;
}

/* Makes room and pulls more input; at the end appends H zeros so the last outputs exist. */
static int refill(resampler *r, resample_input_fn in, void *ctx)
{
	int64_t keep_from = r->base - r->H + 1; /* oldest sample any later output needs */
	long drop = (long)(keep_from - r->buf_start);
	if (drop > 0) {
		memmove(r->buf, r->buf + drop, (size_t)(r->buf_len - drop) * sizeof *r->buf);
		r->buf_len -= drop;
		r->buf_start += drop;
	}
	long room = r->cap - r->buf_len - r->H;
	long got = in(ctx, r->buf + r->buf_len, room < IN_BLOCK ? room : IN_BLOCK);
	if (got < 0)
		return -1;
	if (got == 0) {
		memset(r->buf + r->buf_len, 0, (size_t)r->H * sizeof *r->buf);
		r->buf_len += r->H;
		r->ended = 1;
		r->total_out = (r->n_in * r->L + r->M - 1) / r->M;
		return 0;
	}
	r->buf_len += got;
	r->n_in += got;
	return 0;
}

/* The next per·L outputs into r->rnd: output n_out + k + q·L has phase p_k and window start
 * base_k + q·M, for k < L and q < per. The input they need must be buffered. */
static void compute_round(resampler *r)
{
	int64_t base = r->base;
	int p = r->p;
	for (int k = 0; k < r->L; k++) {
		const float *c = r->coef + (size_t)p * r->taps;
		const float *x = r->buf + (base - r->H + 1 - r->buf_start);
		for (long q = 0; q < r->per; q++)
			r->rnd[k + q * r->L] = dot(c, x + q * r->M, r->taps);
		p += r->M;
		base += p / r->L;
		p %= r->L;
	}
	r->n_out += r->per * r->L;
	r->base += r->per * r->M; /* (n + per·L)·M/L = n·M/L + per·M: the phase is unchanged */
	r->rnd_pos = 0;
	r->rnd_have = r->per * r->L;
}

long resampler_read(resampler *r, resample_input_fn in, void *ctx, float *out, long n)
{
	long done = 0;
	if (r->D) { /* the polyphase stage reads the low-pass stage, which reads the caller */
		r->user_in = in;
		r->user_ctx = ctx;
		in = lowpass_pull;
		ctx = r;
	}
	while (done < n) {
		if (r->rnd_pos < r->rnd_have) {
			long k = SH_MIN(n - done, r->rnd_have - r->rnd_pos);
			memcpy(out + done, r->rnd + r->rnd_pos, (size_t)k * sizeof *out);
			r->rnd_pos += k;
			done += k;
			continue;
		}
		if (!r->ended) {
			/* a whole round when the input reaches the last window of it, else more input */
			if (r->base + r->per * r->M + r->H < r->buf_start + r->buf_len)
				compute_round(r);
			else if (refill(r, in, ctx) < 0)
				return -1;
			continue;
		}
		/* after the end: one output at a time up to ceil(n_in·L/M); the H zeros appended
		 * after the input cover every window */
		if (r->n_out >= r->total_out)
			break;
		const float *x = r->buf + (r->base - r->H + 1 - r->buf_start);
		out[done++] = dot(r->coef + (size_t)r->p * r->taps, x, r->taps);
		r->n_out++;
		r->p += r->M;
		r->base += r->p / r->L;
		r->p %= r->L;
	}
	return done;
}

/* z[j] of the reference: the low-pass output in double, zero outside 0..n_in-1. */
static double reference_z(const resampler *r, const float *x, int64_t n_in, int64_t j)
{
	if (j < 0 || j >= n_in)
		return 0;
	if (!r->D)
		return x[j];
	double z = 0;
	for (int k = 0; k < r->N1; k++) {
		int64_t i = j + r->D - k;
		if (i >= 0 && i < n_in)
			z += r->h1[k] * x[i];
	}
	return z;
}

double resampler_reference(const resampler *r, const float *x, int64_t n_in, int64_t n)
{
	/* t = n·M/L = base + p/L */
	int64_t base = n * r->M / r->L;
	int p = (int)(n * r->M % r->L);
	double *taps = malloc((size_t)r->taps * sizeof *taps), y = 0;
	if (!taps)
		return NAN;
	phase_taps(r, p, taps);
	for (int i = 0; i < r->taps; i++)
		y += taps[i] * reference_z(r, x, n_in, base - r->H + 1 + i);
	free(taps);
	return y;
}
