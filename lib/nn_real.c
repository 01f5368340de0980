/* nn_real.c: the layers of nn.h, forward and backward, written on `real` so that this file
 * builds both in float (production) and in double (-DREAL_F64, every external name suffixed
 * _f64) for finite-difference tests. Matrix products through CBLAS; elementwise loops over
 * large arrays through OpenMP, with fixed partitions so that results do not depend on
 * scheduling (same thread count → same bytes). */
#include "nn.h"

#include <cblas.h>
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef REAL_F64
typedef double real;
#define S(name) name##_f64
#define GEMM cblas_dgemm
#define EXP exp
#define LOG log
#define TANH tanh
#define SQRT sqrt
#else
typedef float real;
#define S(name) name
#define GEMM cblas_sgemm
#define EXP expf
#define LOG logf
#define TANH tanhf
#define SQRT sqrtf
#endif

#define PAR_MIN 32768   /* elementwise loops shorter than this stay on one thread */

static inline real sigmoid(real x) { return 1 / (1 + EXP(-x)); }

/* A sum of per-thread partial sums in thread order: deterministic for a given thread count. */
#define MAX_THREADS 256

/* ---- linear ---- */

void S(linear_forward)(real *out, const real *inp, const real *w, const real *bias,
		       int N, int In, int O, int accumulate)
{
	real beta = accumulate ? 1 : 0;
	if (bias) {
		for (int n = 0; n < N; n++) {
			real *o = out + (size_t)n * O;
			if (accumulate)
				for (int j = 0; j < O; j++)
					o[j] += bias[j];
			else
				memcpy(o, bias, sizeof(real) * O);
		}
		beta = 1;
	}
	if (N > 0)
		GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, In, 1, inp, In, w, In, beta, out, O);
}

/* dbias[O] += column sums of d[N×O] */
static void colsum_add(real *dbias, const real *d, int N, int O)
{
	for (int n = 0; n < N; n++) {
		const real *r = d + (size_t)n * O;
		for (int j = 0; j < O; j++)
			dbias[j] += r[j];
	}
}

void S(linear_backward)(real *dinp, real *dw, real *dbias, const real *dout, const real *inp,
			const real *w, int N, int In, int O)
{
	if (N <= 0)
		return;
	if (dinp)
		GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, In, O, 1, dout, O, w, In, 1, dinp, In);
	if (dw)
		GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, O, In, N, 1, dout, O, inp, In, 1, dw, In);
	if (dbias)
		colsum_add(dbias, dout, N, O);
}

void S(linear_forward_ref)(real *out, const real *inp, const real *w, const real *bias,
			   int N, int In, int O, int accumulate)
{
	for (int n = 0; n < N; n++)
		for (int o = 0; o < O; o++) {
			double s = bias ? bias[o] : 0;
			for (int i = 0; i < In; i++)
				s += (double)inp[(size_t)n * In + i] * w[(size_t)o * In + i];
			out[(size_t)n * O + o] = (accumulate ? out[(size_t)n * O + o] : 0) + (real)s;
		}
}

void S(linear_backward_ref)(real *dinp, real *dw, real *dbias, const real *dout,
			    const real *inp, const real *w, int N, int In, int O)
{
	for (int n = 0; n < N; n++)
		for (int o = 0; o < O; o++) {
			real d = dout[(size_t)n * O + o];
			for (int i = 0; i < In; i++) {
				if (dinp)
					dinp[(size_t)n * In + i] += d * w[(size_t)o * In + i];
				if (dw)
					dw[(size_t)o * In + i] += d * inp[(size_t)n * In + i];
			}
			if (dbias)
				dbias[o] += d;
		}
}

/* ---- weight normalisation ---- */

void S(weightnorm_forward)(real *w, real *norm, const real *v, const real *g, int O, int In)
{
	for (int o = 0; o < O; o++) {
		const real *vr = v + (size_t)o * In;
		double ss = 0;
		for (int i = 0; i < In; i++)
			ss += (double)vr[i] * vr[i];
		real n = (real)sqrt(ss);
		norm[o] = n;
		real s = g[o] / n;
		for (int i = 0; i < In; i++)
			w[(size_t)o * In + i] = vr[i] * s;
	}
}

void S(weightnorm_backward)(real *dv, real *dg, const real *dw, const real *v, const real *g,
			    const real *norm, int O, int In)
{
	for (int o = 0; o < O; o++) {
		const real *vr = v + (size_t)o * In, *dr = dw + (size_t)o * In;
		double dot = 0;
		for (int i = 0; i < In; i++)
			dot += (double)dr[i] * vr[i];
		real n = norm[o];
		if (dg)
			dg[o] += (real)(dot / n);
		if (dv) {
			real a = g[o] / n, b = (real)(g[o] * dot / ((double)n * n * n));
			for (int i = 0; i < In; i++)
				dv[(size_t)o * In + i] += a * dr[i] - b * vr[i];
		}
	}
}

/* ---- embedding ---- */

void S(embedding_forward)(real *out, const int32_t *idx, const real *table, int N, int E)
{
	for (int n = 0; n < N; n++)
		memcpy(out + (size_t)n * E, table + (size_t)idx[n] * E, sizeof(real) * E);
}

void S(embedding_backward)(real *dtable, const real *dout, const int32_t *idx, int N, int E)
{
	for (int n = 0; n < N; n++) {
		real *d = dtable + (size_t)idx[n] * E;
		const real *s = dout + (size_t)n * E;
		for (int e = 0; e < E; e++)
			d[e] += s[e];
	}
}

/* ---- LSTM ---- */

void S(lstm_forward)(real *h, real *c, real *gates, const real *inp, const real *gadd,
		     const real *wih, const real *whh, const real *bih, const real *bhh,
		     const real *h0, const real *c0, int T, int B, int In, int H)
{
	const int G = 4 * H;
	const size_t R = (size_t)T * B;
	/* input projection of every timestep at once */
	GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, G, In, 1, inp, In, wih, In, 0, gates, G);
	for (size_t r = 0; r < R; r++) {
		real *gr = gates + r * G;
		const real *ar = gadd ? gadd + r * G : NULL;
		for (int j = 0; j < G; j++)
			gr[j] += bih[j] + bhh[j] + (ar ? ar[j] : 0);
	}
	for (int t = 0; t < T; t++) {
		real *gt = gates + (size_t)t * B * G;
		const real *hp = t ? h + (size_t)(t - 1) * B * H : h0;
		const real *cp = t ? c + (size_t)(t - 1) * B * H : c0;
		GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B, G, H, 1, hp, H, whh, H, 1, gt, G);
		real *ht = h + (size_t)t * B * H, *ct = c + (size_t)t * B * H;
		for (int b = 0; b < B; b++) {
			real *g = gt + (size_t)b * G;
			for (int j = 0; j < H; j++) {
				real ig = sigmoid(g[j]), fg = sigmoid(g[H + j]);
				real gg = TANH(g[2 * H + j]), og = sigmoid(g[3 * H + j]);
				g[j] = ig, g[H + j] = fg, g[2 * H + j] = gg, g[3 * H + j] = og;
				real cn = fg * cp[(size_t)b * H + j] + ig * gg;
				ct[(size_t)b * H + j] = cn;
				ht[(size_t)b * H + j] = og * TANH(cn);
			}
		}
	}
}

void S(lstm_backward)(real *dinp, real *dwih, real *dwhh, real *dbih, real *dbhh,
		      real *dh0, real *dc0, real *dgates, real *dh, const real *dhT,
		      const real *dcT, const real *h, const real *c, const real *gates,
		      const real *inp, const real *wih, const real *whh, const real *h0,
		      const real *c0, int T, int B, int In, int H)
{
	const int G = 4 * H;
	const size_t R = (size_t)T * B;
	for (int t = T - 1; t >= 0; t--) {
		const real *gt = gates + (size_t)t * B * G;
		real *dgt = dgates + (size_t)t * B * G;
		const real *ct = c + (size_t)t * B * H;
		const real *cp = t ? c + (size_t)(t - 1) * B * H : c0;
		real *dht = dh + (size_t)t * B * H;
		for (int b = 0; b < B; b++) {
			const real *g = gt + (size_t)b * G;
			real *dg = dgt + (size_t)b * G;
			for (int j = 0; j < H; j++) {
				size_t k = (size_t)b * H + j;
				real ig = g[j], fg = g[H + j], gg = g[2 * H + j], og = g[3 * H + j];
				real tc = TANH(ct[k]);
				real dhk = dht[k] + (t == T - 1 && dhT ? dhT[k] : 0);
				/* The cell gradient flowing back from step t+1 was parked in this
				 * step's (not yet written) i-gate slot, see below. */
				real dcn = t == T - 1 ? (dcT ? dcT[k] : 0) : dg[j];
				real dc = dcn + dhk * og * (1 - tc * tc);
				dg[j] = dc * gg * ig * (1 - ig);
				dg[H + j] = dc * cp[k] * fg * (1 - fg);
				dg[2 * H + j] = dc * ig * (1 - gg * gg);
				dg[3 * H + j] = dhk * tc * og * (1 - og);
				/* Park dL/dc_{t-1} in the i-gate slot of step t-1, which step t-1 reads
				 * before writing: no scratch buffer needed. */
				if (t > 0)
					dgates[(size_t)(t - 1) * B * G + (size_t)b * G + j] = dc * fg;
				else if (dc0)
					dc0[k] += dc * fg;
			}
		}
		real *dhp = t ? dh + (size_t)(t - 1) * B * H : dh0;
		if (dhp)
			GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, G, 1, dgt, G, whh, H, 1,
			     dhp, H);
	}
	if (dwhh) {
		if (T > 1)
			GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, G, H, (int)(R - B), 1,
			     dgates + (size_t)B * G, G, h, H, 1, dwhh, H);
		GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, G, H, B, 1, dgates, G, h0, H, 1, dwhh, H);
	}
	if (dwih)
		GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, G, In, (int)R, 1, dgates, G, inp, In, 1,
		     dwih, In);
	if (dinp)
		GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, In, G, 1, dgates, G, wih, In, 1,
		     dinp, In);
	if (dbih)
		colsum_add(dbih, dgates, (int)R, G);
	if (dbhh)
		colsum_add(dbhh, dgates, (int)R, G);
}

/* ---- GRU ---- */

void S(gru_forward)(real *h, real *gates, const real *inp, const real *gadd, const real *wih,
		    const real *whh, const real *bih, const real *bhh, const real *h0,
		    int T, int B, int In, int H)
{
	const int G = 4 * H, G3 = 3 * H;
	const size_t R = (size_t)T * B;
	/* input projection into columns [0, 3H) of the cache; r and z also take b_hh now, n's
	 * recurrent bias stays inside r∘(...) */
	GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, G3, In, 1, inp, In, wih, In, 0, gates, G);
	for (size_t r = 0; r < R; r++) {
		real *gr = gates + r * G;
		const real *ar = gadd ? gadd + r * G3 : NULL;
		for (int j = 0; j < G3; j++)
			gr[j] += bih[j] + (j < 2 * H ? bhh[j] : 0) + (ar ? ar[j] : 0);
	}
	for (int t = 0; t < T; t++) {
		real *gt = gates + (size_t)t * B * G;
		const real *hp = t ? h + (size_t)(t - 1) * B * H : h0;
		/* r, z: add W_h{r,z} h in place; n: W_hn h into the 4th slot */
		GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B, 2 * H, H, 1, hp, H, whh, H, 1, gt, G);
		GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, H, 1, hp, H, whh + (size_t)2 * H * H,
		     H, 0, gt + 3 * H, G);
		real *ht = h + (size_t)t * B * H;
		for (int b = 0; b < B; b++) {
			real *g = gt + (size_t)b * G;
			for (int j = 0; j < H; j++) {
				real rg = sigmoid(g[j]), zg = sigmoid(g[H + j]);
				real hn = g[3 * H + j] + bhh[2 * H + j];
				real ng = TANH(g[2 * H + j] + rg * hn);
				g[j] = rg, g[H + j] = zg, g[2 * H + j] = ng, g[3 * H + j] = hn;
				ht[(size_t)b * H + j] = (1 - zg) * ng + zg * hp[(size_t)b * H + j];
			}
		}
	}
}

void S(gru_backward)(real *dinp, real *dwih, real *dwhh, real *dbih, real *dbhh, real *dh0,
		     real *dgi, real *dgh, real *dh, const real *dhT, const real *h,
		     const real *gates, const real *inp, const real *wih, const real *whh,
		     const real *h0, int T, int B, int In, int H)
{
	const int G = 4 * H, G3 = 3 * H;
	const size_t R = (size_t)T * B;
	for (int t = T - 1; t >= 0; t--) {
		const real *gt = gates + (size_t)t * B * G;
		const real *hp = t ? h + (size_t)(t - 1) * B * H : h0;
		real *dhp = t ? dh + (size_t)(t - 1) * B * H : dh0;
		real *dit = dgi + (size_t)t * B * G3, *dht_ = dgh + (size_t)t * B * G3;
		const real *dht = dh + (size_t)t * B * H;
		for (int b = 0; b < B; b++) {
			const real *g = gt + (size_t)b * G;
			real *di = dit + (size_t)b * G3, *dr_ = dht_ + (size_t)b * G3;
			for (int j = 0; j < H; j++) {
				size_t k = (size_t)b * H + j;
				real rg = g[j], zg = g[H + j], ng = g[2 * H + j], hn = g[3 * H + j];
				real d = dht[k] + (t == T - 1 && dhT ? dhT[k] : 0);
				real dnp = d * (1 - zg) * (1 - ng * ng);
				real dzp = d * (hp[k] - ng) * zg * (1 - zg);
				real drp = dnp * hn * rg * (1 - rg);
				di[j] = drp, di[H + j] = dzp, di[2 * H + j] = dnp;
				dr_[j] = drp, dr_[H + j] = dzp, dr_[2 * H + j] = dnp * rg;
				if (dhp)
					dhp[k] += d * zg;
			}
		}
		if (dhp)
			GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, G3, 1, dht_, G3, whh, H, 1,
			     dhp, H);
	}
	if (dwhh) {
		if (T > 1)
			GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, G3, H, (int)(R - B), 1,
			     dgh + (size_t)B * G3, G3, h, H, 1, dwhh, H);
		GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, G3, H, B, 1, dgh, G3, h0, H, 1, dwhh, H);
	}
	if (dbhh)
		colsum_add(dbhh, dgh, (int)R, G3);
	if (dwih)
		GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, G3, In, (int)R, 1, dgi, G3, inp, In, 1,
		     dwih, In);
	if (dinp)
		GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, In, G3, 1, dgi, G3, wih, In, 1,
		     dinp, In);
	if (dbih)
		colsum_add(dbih, dgi, (int)R, G3);
}

/* ---- ReLU ---- */

void S(relu_forward)(real *out, const real *inp, size_t n)
{
	#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
	for (size_t i = 0; i < n; i++)
		out[i] = inp[i] > 0 ? inp[i] : 0;
}

void S(relu_backward)(real *dinp, const real *dout, const real *out, size_t n)
{
	#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
	for (size_t i = 0; i < n; i++)
		dinp[i] += out[i] > 0 ? dout[i] : 0;
}

void S(relu_mask)(real *d, const real *out, size_t n)
{
	#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
	for (size_t i = 0; i < n; i++)
		d[i] = out[i] > 0 ? d[i] : 0;
}

/* ---- softmax cross-entropy ---- */

double S(ce_forward)(real *probs, real *ptarget, const real *logits, const int32_t *targets,
		     int N, int Q)
{
	double part[MAX_THREADS] = {0};
	int nth = 1;
	#pragma omp parallel if ((size_t)N * Q >= PAR_MIN)
	{
		int id = 0;
#ifdef _OPENMP
		id = omp_get_thread_num();
		#pragma omp single
		nth = omp_get_num_threads();
#endif
		double acc = 0;
		#pragma omp for schedule(static)
		for (int n = 0; n < N; n++) {
			const real *l = logits + (size_t)n * Q;
			real *p = probs + (size_t)n * Q;
			real mx = l[0];
			for (int q = 1; q < Q; q++)
				mx = l[q] > mx ? l[q] : mx;
			real lt = l[targets[n]], sum = 0;
			for (int q = 0; q < Q; q++)
				sum += p[q] = EXP(l[q] - mx);
			real inv = 1 / sum;
			for (int q = 0; q < Q; q++)
				p[q] *= inv;
			if (ptarget)
				ptarget[n] = p[targets[n]];
			acc += (double)LOG(sum) + mx - lt;
		}
		if (id < MAX_THREADS)
			part[id] = acc;
	}
	double loss = 0;
	for (int i = 0; i < nth && i < MAX_THREADS; i++)
		loss += part[i];
	return N ? loss / N : 0;
}

void S(ce_backward)(real *dlogits, const real *probs, const int32_t *targets, int N, int Q,
		    real dloss)
{
	real s = dloss / N;
	#pragma omp parallel for schedule(static) if ((size_t)N * Q >= PAR_MIN)
	for (int n = 0; n < N; n++) {
		real *d = dlogits + (size_t)n * Q;
		const real *p = probs + (size_t)n * Q;
		for (int q = 0; q < Q; q++)
			d[q] += s * p[q];
		d[targets[n]] -= s;
	}
}

/* ---- clipping and Adam ---- */

void S(clip_elementwise)(real *x, size_t n, real lim)
{
	#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
	for (size_t i = 0; i < n; i++)
		x[i] = x[i] > lim ? lim : x[i] < -lim ? -lim : x[i];
}

double S(clip_global_norm)(real *x, size_t n, double max_norm)
{
	double ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	double norm = sqrt(ss);
	if (norm > max_norm) {
		real s = (real)(max_norm / (norm + 1e-6));
		#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
		for (size_t i = 0; i < n; i++)
			x[i] *= s;
	}
	return norm;
}

void S(adam_step)(real *p, const real *g, real *m, real *v, size_t n, double lr, double b1,
		  double b2, double eps, long t)
{
	double bc1 = 1 - pow(b1, (double)t), bc2 = 1 - pow(b2, (double)t);
	real step = (real)(lr / bc1), bc2s = (real)sqrt(bc2);
	real rb1 = (real)b1, rb2 = (real)b2, reps = (real)eps;
	#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
	for (size_t i = 0; i < n; i++) {
		m[i] = m[i] * rb1 + (1 - rb1) * g[i];
		v[i] = v[i] * rb2 + (1 - rb2) * g[i] * g[i];
		real denom = SQRT(v[i]) / bc2s + reps;
		p[i] -= step * m[i] / denom;
	}
}
