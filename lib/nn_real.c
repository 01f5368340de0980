/* nn_real.c: the layers of nn.h, forward and backward, written on `real` so that this file
 * builds both in float (production) and in double (-DREAL_F64, every external name suffixed
 * _f64) for finite-difference tests. Matrix products through CBLAS; elementwise loops over
 * large arrays through OpenMP, with fixed partitions so that results do not depend on
 * scheduling (same thread count → same bytes). */
/* Comparisons without FP traps let the softmax and gate loops vectorise (nothing here relies
 * on floating-point exceptions); sqrt without errno, which Adam's loop needs, comes from the
 * Makefile's -fno-math-errno, since GCC 12 does not apply that one from this pragma (the loop
 * stayed scalar). Before the includes: exp_fast must be compiled with the same options as the
 * loops, or it is not inlined into them (measured: a quarter of a tiny WaveNet's training
 * step in calls to it). */
#pragma GCC optimize("no-math-errno", "no-trapping-math")
#include "nn.h"
#include "fastmath.h"
#include "nn_kernels.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "real_f64.h" /* last: renames this file's functions under REAL_F64 */

#ifdef REAL_F64
typedef double real;
#define GEMM cblas_dgemm
#define EXP exp
#define LOG log
#define TANH tanh
#define SQRT sqrt
#else
typedef float real;
#define GEMM cblas_sgemm
#define EXP exp_fast
#define LOG logf
#define TANH tanh_fast
#define SQRT sqrtf

#endif

#define PAR_MIN 32768 /* elementwise loops shorter than this stay on one thread */

/* The elementwise kernels are also built for AVX2 + FMA and chosen at load time (the build
 * itself targets baseline x86-64): twice the vector width where the machine has it. */
#define HOT SH_HOT

static inline real sigmoid(real x) { return 1 / (1 + EXP(-x)); }

/* ---- matrix product ---- */

#define SPLIT_MIN (1 << 21) /* products of fewer multiply-adds run on one thread */
#define SMALL_M 16          /* C = A·Bᵀ with at most this many rows of A: own kernel */

/* Sum of the eight partial sums of a dot product, in a fixed order. */
static inline real sum8(const real *s) { return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); }

/* out[m·4 + r] = Σ_k A[m][k]·B_r[k] for the four rows B_0..B_3 of B starting at b (ldb apart)
 * and the M rows of A: each element of A loaded once serves four dot products, eight partial
 * sums each (vectorised without reassociating), so one row of A is not limited by the latency
 * of a single chain of additions. The four rows of B stay in L1 across the rows of A. */
HOT static void dots4(real *out, int M, int K, const real *A, int lda, const real *b, int ldb)
{
	const real *b0 = b, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
	for (int m = 0; m < M; m++) {
		const real *a = A + (size_t)m * lda;
		real s0[8] = {0}, s1[8] = {0}, s2[8] = {0}, s3[8] = {0};
		int k = 0;
		for (; k + 8 <= K; k += 8)
			for (int u = 0; u < 8; u++) {
				real ak = a[k + u];
				s0[u] += ak * b0[k + u], s1[u] += ak * b1[k + u];
				s2[u] += ak * b2[k + u], s3[u] += ak * b3[k + u];
			}
		real t0 = sum8(s0), t1 = sum8(s1), t2 = sum8(s2), t3 = sum8(s3);
		for (; k < K; k++)
			t0 += a[k] * b0[k], t1 += a[k] * b1[k], t2 += a[k] * b2[k], t3 += a[k] * b3[k];
		out[m * 4] = t0, out[m * 4 + 1] = t1, out[m * 4 + 2] = t2, out[m * 4 + 3] = t3;
	}
}

/* The same for one row of B, with the same order of additions (so results do not depend on
 * where a column falls in the blocking). */
HOT static void dots1(real *out, int M, int K, const real *A, int lda, const real *b)
{
	for (int m = 0; m < M; m++) {
		const real *a = A + (size_t)m * lda;
		real s0[8] = {0};
		int k = 0;
		for (; k + 8 <= K; k += 8)
			for (int u = 0; u < 8; u++)
				s0[u] += a[k + u] * b[k + u];
		real t0 = sum8(s0);
		for (; k < K; k++)
			t0 += a[k] * b[k];
		out[m] = t0;
	}
}

/* C = alpha·A·Bᵀ + beta·C for few rows of A. OpenBLAS packs B on every call, which costs more
 * than the product itself when A has a handful of rows (a timestep of a recurrent layer, a
 * generated sample): here every row of B is read once for all rows of A. Each element of C is
 * made by one thread, so the result does not depend on the thread count. */
static void gemm_abt_small(int M, int N, int K, real alpha, const real *A, int lda, const real *B, int ldb, real beta,
			   real *C, int ldc, int nt)
{
	const int nblocks = (N + 3) / 4;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
	for (int jb = 0; jb < nblocks; jb++) {
		real d[SMALL_M * 4];
		int j0 = jb * 4, w = N - j0 < 4 ? N - j0 : 4;
		if (w == 4)
			dots4(d, M, K, A, lda, B + (size_t)j0 * ldb, ldb);
		else
			for (int r = 0; r < w; r++) {
				real col[SMALL_M];
				dots1(col, M, K, A, lda, B + (size_t)(j0 + r) * ldb);
				for (int m = 0; m < M; m++)
					d[m * 4 + r] = col[m];
			}
		for (int m = 0; m < M; m++)
			for (int r = 0; r < w; r++) {
				real *c = C + (size_t)m * ldc + j0 + r;
				*c = alpha * d[m * 4 + r] + (beta == 0 ? 0 : beta * *c);
			}
	}
}

void nn_gemm(int ta, int tb, int M, int N, int K, real alpha, const real *A, int lda, const real *B, int ldb, real beta,
	     real *C, int ldc)
{
	if (M <= 0 || N <= 0)
		return;
	int nt = 1;
#ifdef _OPENMP
	nt = omp_in_parallel() ? 1 : omp_get_max_threads();
#endif
#ifdef OPENBLAS_VERSION
	/* one pool of threads (OpenMP's): OpenBLAS's own would fight it for the cores */
	static int blas_serial;
	if (!blas_serial)
		openblas_set_num_threads(1), blas_serial = 1;
#endif
	if (!ta && tb && M <= SMALL_M) {
		gemm_abt_small(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
			       (double)M * N * K < SPLIT_MIN / 4 ? 1 : nt);
		return;
	}
	const enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans;
	const enum CBLAS_TRANSPOSE TB = tb ? CblasTrans : CblasNoTrans;
	if (nt < 2 || (double)M * N * K < SPLIT_MIN) {
		GEMM(CblasRowMajor, TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
		return;
	}
	/* split the larger side of C into one band per thread, 16-aligned */
	const int byrows = M >= N, L = byrows ? M : N;
#pragma omp parallel num_threads(nt)
	{
		int id = 0;
#ifdef _OPENMP
		id = omp_get_thread_num();
#endif
		int a = (int)((long)L * id / nt) & ~15, b = id == nt - 1 ? L : (int)((long)L * (id + 1) / nt) & ~15;
		if (b > a) {
			if (byrows)
				GEMM(CblasRowMajor, TA, TB, b - a, N, K, alpha, A + (ta ? (size_t)a : (size_t)a * lda),
				     lda, B, ldb, beta, C + (size_t)a * ldc, ldc);
			else
				GEMM(CblasRowMajor, TA, TB, M, b - a, K, alpha, A, lda,
				     B + (tb ? (size_t)a * ldb : (size_t)a), ldb, beta, C + a, ldc);
		}
	}
}

/* A sum of per-thread partial sums in thread order: deterministic for a given thread count. */
#define MAX_THREADS 256

/* ---- linear ---- */

void linear_forward(real *out, const real *inp, const real *w, const real *bias, int N, int In, int O, int accumulate)
{
	real beta = accumulate ? 1 : 0;
	if (bias) {
		for (int n = 0; n < N; n++) {
			real *o = out + (size_t)n * O;
			if (accumulate)
#pragma omp simd
				for (int j = 0; j < O; j++)
					o[j] += bias[j];
			else
				memcpy(o, bias, sizeof(real) * O);
		}
		beta = 1;
	}
	if (N > 0)
		nn_gemm(0, 1, N, O, In, 1, inp, In, w, In, beta, out, O);
}

/* dbias[O] += column sums of d[N×O] */
HOT static void colsum_add(real *dbias, const real *d, int N, int O)
{
	for (int n = 0; n < N; n++) {
		const real *r = d + (size_t)n * O;
#pragma omp simd
		for (int j = 0; j < O; j++)
			dbias[j] += r[j];
	}
}

void linear_backward(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w, int N, int In,
		     int O)
{
	if (N <= 0)
		return;
	if (dinp)
		nn_gemm(0, 0, N, In, O, 1, dout, O, w, In, 1, dinp, In);
	if (dw)
		nn_gemm(1, 0, O, In, N, 1, dout, O, inp, In, 1, dw, In);
	if (dbias)
		colsum_add(dbias, dout, N, O);
}

void linear_forward_ref(real *out, const real *inp, const real *w, const real *bias, int N, int In, int O,
			int accumulate)
{
	for (int n = 0; n < N; n++)
		for (int o = 0; o < O; o++) {
			double s = bias ? bias[o] : 0;
			for (int i = 0; i < In; i++)
				s += (double)inp[(size_t)n * In + i] * w[(size_t)o * In + i];
			out[(size_t)n * O + o] = (accumulate ? out[(size_t)n * O + o] : 0) + (real)s;
		}
}

void linear_backward_ref(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w, int N,
			 int In, int O)
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

void weightnorm_forward(real *w, real *norm, const real *v, const real *g, int O, int In)
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

void weightnorm_backward(real *dv, real *dg, const real *dw, const real *v, const real *g, const real *norm, int O,
			 int In)
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

void embedding_forward(real *out, const int32_t *idx, const real *table, int N, int E)
{
	for (int n = 0; n < N; n++)
		memcpy(out + (size_t)n * E, table + (size_t)idx[n] * E, sizeof(real) * E);
}

void embedding_backward(real *dtable, const real *dout, const int32_t *idx, int N, int E)
{
	for (int n = 0; n < N; n++) {
		real *d = dtable + (size_t)idx[n] * E;
		const real *s = dout + (size_t)n * E;
		for (int e = 0; e < E; e++)
			d[e] += s[e];
	}
}

/* ---- LSTM ---- */

HOT void lstm_forward(real *h, real *c, real *gates, const real *inp, const real *gadd, const real *wih,
		      const real *whh, const real *bih, const real *bhh, const real *h0, const real *c0, int T, int B,
		      int In, int H)
{
	const int G = 4 * H;
	const size_t R = (size_t)T * B;
	/* input projection of every timestep at once */
	nn_gemm(0, 1, (int)R, G, In, 1, inp, In, wih, In, 0, gates, G);
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
		nn_gemm(0, 1, B, G, H, 1, hp, H, whh, H, 1, gt, G);
		lstm_cell_forward(h + (size_t)t * B * H, c + (size_t)t * B * H, gt, cp, B, H);
	}
}

HOT void lstm_cell_forward(real *h, real *c, real *gates, const real *cp, int B, int H)
{
	const int G = 4 * H;
	for (int b = 0; b < B; b++) {
		real *g = gates + (size_t)b * G;
#pragma omp simd
		for (int j = 0; j < H; j++) {
			real ig = sigmoid(g[j]), fg = sigmoid(g[H + j]);
			real gg = TANH(g[2 * H + j]), og = sigmoid(g[3 * H + j]);
			g[j] = ig, g[H + j] = fg, g[2 * H + j] = gg, g[3 * H + j] = og;
			real cn = fg * cp[(size_t)b * H + j] + ig * gg;
			c[(size_t)b * H + j] = cn;
			h[(size_t)b * H + j] = og * TANH(cn);
		}
	}
}

/* One unit of the LSTM backward: reads the activated gates g[i, f, g, o at stride H], the
 * cell c and previous cell cp, dL/dh, and dL/dc from the step after, parked in dg[0];
 * writes dL/d(pre-activations) to dg[0, H, 2H, 3H] and returns dL/dc_prev. */
static inline real lstm_unit_backward(const real *g, real *dg, int H, real c, real cp, real dh)
{
	real ig = g[0], fg = g[H], gg = g[2 * H], og = g[3 * H];
	real tc = TANH(c);
	real dc = dg[0] + dh * og * (1 - tc * tc);
	dg[0] = dc * gg * ig * (1 - ig);
	dg[H] = dc * cp * fg * (1 - fg);
	dg[2 * H] = dc * ig * (1 - gg * gg);
	dg[3 * H] = dh * tc * og * (1 - og);
	return dc * fg;
}

HOT void lstm_backward(real *dinp, real *dwih, real *dwhh, real *dbih, real *dbhh, real *dh0, real *dc0, real *dgates,
		       real *dh, const real *dhT, const real *dcT, const real *h, const real *c, const real *gates,
		       const real *inp, const real *wih, const real *whh, const real *h0, const real *c0, int T, int B,
		       int In, int H)
{
	const int G = 4 * H;
	const size_t R = (size_t)T * B;
	/* dL/dc_t flowing back from step t+1 is parked in step t's i-gate slot of dgates, which
	 * step t reads before writing it: no scratch buffer. The last step's comes from dcT. */
	for (int b = 0; b < B; b++) {
		real *dg = dgates + (R - B + b) * G;
		real *dhl = dh + (R - B + b) * H;
		for (int j = 0; j < H; j++) {
			dg[j] = dcT ? dcT[(size_t)b * H + j] : 0;
			dhl[j] += dhT ? dhT[(size_t)b * H + j] : 0;
		}
	}
	for (int t = T - 1; t >= 0; t--) {
		const real *gt = gates + (size_t)t * B * G;
		real *dgt = dgates + (size_t)t * B * G;
		const real *ct = c + (size_t)t * B * H;
		const real *cp = t ? c + (size_t)(t - 1) * B * H : c0;
		const real *dht = dh + (size_t)t * B * H;
		for (int b = 0; b < B; b++) {
			const real *g = gt + (size_t)b * G, *cb = ct + (size_t)b * H;
			const real *cpb = cp + (size_t)b * H, *dhb = dht + (size_t)b * H;
			real *dg = dgt + (size_t)b * G;
			if (t > 0) {
				real *park = dgates + (size_t)(t - 1) * B * G + (size_t)b * G;
#pragma omp simd
				for (int j = 0; j < H; j++)
					park[j] = lstm_unit_backward(g + j, dg + j, H, cb[j], cpb[j], dhb[j]);
			} else if (dc0) {
				real *dc0b = dc0 + (size_t)b * H;
				for (int j = 0; j < H; j++)
					dc0b[j] += lstm_unit_backward(g + j, dg + j, H, cb[j], cpb[j], dhb[j]);
			} else {
				for (int j = 0; j < H; j++)
					lstm_unit_backward(g + j, dg + j, H, cb[j], cpb[j], dhb[j]);
			}
		}
		real *dhp = t ? dh + (size_t)(t - 1) * B * H : dh0;
		if (dhp)
			nn_gemm(0, 0, B, H, G, 1, dgt, G, whh, H, 1, dhp, H);
	}
	if (dwhh) {
		if (T > 1)
			nn_gemm(1, 0, G, H, (int)(R - B), 1, dgates + (size_t)B * G, G, h, H, 1, dwhh, H);
		nn_gemm(1, 0, G, H, B, 1, dgates, G, h0, H, 1, dwhh, H);
	}
	if (dwih)
		nn_gemm(1, 0, G, In, (int)R, 1, dgates, G, inp, In, 1, dwih, In);
	if (dinp)
		nn_gemm(0, 0, (int)R, In, G, 1, dgates, G, wih, In, 1, dinp, In);
	if (dbih)
		colsum_add(dbih, dgates, (int)R, G);
	if (dbhh)
		colsum_add(dbhh, dgates, (int)R, G);
}

/* ---- GRU ---- */

HOT void gru_forward(real *h, real *gates, const real *inp, const real *gadd, const real *wih, const real *whh,
		     const real *bih, const real *bhh, const real *h0, int T, int B, int In, int H)
{
	const int G = 4 * H, G3 = 3 * H;
	const size_t R = (size_t)T * B;
	/* input projection into columns [0, 3H) of the cache; r and z also take b_hh now, n's
	 * recurrent bias stays inside r∘(...) */
	nn_gemm(0, 1, (int)R, G3, In, 1, inp, In, wih, In, 0, gates, G);
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
		nn_gemm(0, 1, B, 2 * H, H, 1, hp, H, whh, H, 1, gt, G);
		nn_gemm(0, 1, B, H, H, 1, hp, H, whh + (size_t)2 * H * H, H, 0, gt + 3 * H, G);
		gru_cell_forward(h + (size_t)t * B * H, gt, hp, bhh + 2 * H, B, H);
	}
}

HOT void gru_cell_forward(real *h, real *gates, const real *hp, const real *bhn, int B, int H)
{
	const int G = 4 * H;
	for (int b = 0; b < B; b++) {
		real *g = gates + (size_t)b * G;
#pragma omp simd
		for (int j = 0; j < H; j++) {
			real rg = sigmoid(g[j]), zg = sigmoid(g[H + j]);
			real hn = g[3 * H + j] + bhn[j];
			real ng = TANH(g[2 * H + j] + rg * hn);
			g[j] = rg, g[H + j] = zg, g[2 * H + j] = ng, g[3 * H + j] = hn;
			h[(size_t)b * H + j] = (1 - zg) * ng + zg * hp[(size_t)b * H + j];
		}
	}
}

/* One unit of the GRU backward: gates g[r, z, n, hn at stride H], previous state hp, dL/dh;
 * writes dL/d(input projection) di[0, H, 2H] and dL/d(recurrent projection) dr[0, H, 2H];
 * returns the direct part of dL/dh_prev (through z). */
static inline real gru_unit_backward(const real *g, real *di, real *dr, int H, real hp, real d)
{
	real rg = g[0], zg = g[H], ng = g[2 * H], hn = g[3 * H];
	real dnp = d * (1 - zg) * (1 - ng * ng);
	real dzp = d * (hp - ng) * zg * (1 - zg);
	real drp = dnp * hn * rg * (1 - rg);
	di[0] = drp, di[H] = dzp, di[2 * H] = dnp;
	dr[0] = drp, dr[H] = dzp, dr[2 * H] = dnp * rg;
	return d * zg;
}

HOT void gru_backward(real *dinp, real *dwih, real *dwhh, real *dbih, real *dbhh, real *dh0, real *dgi, real *dgh,
		      real *dh, const real *dhT, const real *h, const real *gates, const real *inp, const real *wih,
		      const real *whh, const real *h0, int T, int B, int In, int H)
{
	const int G = 4 * H, G3 = 3 * H;
	const size_t R = (size_t)T * B;
	if (dhT)
		for (size_t k = 0; k < (size_t)B * H; k++)
			dh[(R - B) * H + k] += dhT[k];
	for (int t = T - 1; t >= 0; t--) {
		const real *gt = gates + (size_t)t * B * G;
		const real *hp = t ? h + (size_t)(t - 1) * B * H : h0;
		real *dhp = t ? dh + (size_t)(t - 1) * B * H : dh0;
		real *dit = dgi + (size_t)t * B * G3, *drt = dgh + (size_t)t * B * G3;
		const real *dht = dh + (size_t)t * B * H;
		for (int b = 0; b < B; b++) {
			const real *g = gt + (size_t)b * G, *hpb = hp + (size_t)b * H;
			const real *db = dht + (size_t)b * H;
			real *di = dit + (size_t)b * G3, *dr = drt + (size_t)b * G3;
			if (dhp) {
				real *dhpb = dhp + (size_t)b * H;
#pragma omp simd
				for (int j = 0; j < H; j++)
					dhpb[j] += gru_unit_backward(g + j, di + j, dr + j, H, hpb[j], db[j]);
			} else {
				for (int j = 0; j < H; j++)
					gru_unit_backward(g + j, di + j, dr + j, H, hpb[j], db[j]);
			}
		}
		if (dhp)
			nn_gemm(0, 0, B, H, G3, 1, drt, G3, whh, H, 1, dhp, H);
	}
	if (dwhh) {
		if (T > 1)
			nn_gemm(1, 0, G3, H, (int)(R - B), 1, dgh + (size_t)B * G3, G3, h, H, 1, dwhh, H);
		nn_gemm(1, 0, G3, H, B, 1, dgh, G3, h0, H, 1, dwhh, H);
	}
	if (dbhh)
		colsum_add(dbhh, dgh, (int)R, G3);
	if (dwih)
		nn_gemm(1, 0, G3, In, (int)R, 1, dgi, G3, inp, In, 1, dwih, In);
	if (dinp)
		nn_gemm(0, 0, (int)R, In, G3, 1, dgi, G3, wih, In, 1, dinp, In);
	if (dbih)
		colsum_add(dbih, dgi, (int)R, G3);
}

/* ---- ReLU ---- */

HOT void relu_forward(real *out, const real *inp, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
	for (size_t i = 0; i < n; i++)
		out[i] = inp[i] > 0 ? inp[i] : 0;
}

HOT void relu_backward(real *dinp, const real *dout, const real *out, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
	for (size_t i = 0; i < n; i++) {
		real d = dout[i];
		dinp[i] += out[i] > 0 ? d : 0;
	}
}

HOT void relu_mask(real *d, const real *out, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
	for (size_t i = 0; i < n; i++) {
		real v = d[i];
		d[i] = out[i] > 0 ? v : 0;
	}
}

/* ---- softmax cross-entropy ---- */

/* max of x[n], with eight running maxima (a single one would serialise on its latency) */
HOT static real row_max(const real *x, int n)
{
	real m[8];
	for (int i = 0; i < 8; i++)
		m[i] = x[0];
	int q = 0;
	for (; q + 8 <= n; q += 8)
		for (int i = 0; i < 8; i++)
			m[i] = x[q + i] > m[i] ? x[q + i] : m[i];
	for (; q < n; q++)
		m[0] = x[q] > m[0] ? x[q] : m[0];
	for (int i = 1; i < 8; i++)
		m[0] = m[i] > m[0] ? m[i] : m[0];
	return m[0];
}

HOT double ce_forward(real *probs, real *ptarget, const real *logits, const int32_t *targets, int N, int Q)
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
			real mx = row_max(l, Q);
			real lt = l[targets[n]], sum = 0;
#pragma omp simd reduction(+ : sum)
			for (int q = 0; q < Q; q++)
				sum += p[q] = EXP(l[q] - mx);
			real inv = 1 / sum;
#pragma omp simd
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

HOT void ce_backward(real *dlogits, const real *probs, const int32_t *targets, int N, int Q, real dloss)
{
	real s = dloss / N;
#pragma omp parallel for schedule(static) if ((size_t)N * Q >= PAR_MIN)
	for (int n = 0; n < N; n++) {
		real *d = dlogits + (size_t)n * Q;
		const real *p = probs + (size_t)n * Q;
#pragma omp simd
		for (int q = 0; q < Q; q++)
			d[q] += s * p[q];
		d[targets[n]] -= s;
	}
}

/* ---- clipping and Adam ---- */

HOT void clip_elementwise(real *x, size_t n, real lim)
{
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
	for (size_t i = 0; i < n; i++)
		x[i] = x[i] > lim ? lim : x[i] < -lim ? -lim : x[i];
}

HOT void sumsq_blocks(const real *x, size_t n, double *parts)
{
	/* eight blocks at a time, one chain of additions each: the additions of one block at a
	 * time, in the same order (the same bits), but eight of them in flight instead of one
	 * waiting for the last (measured: 20 ms to 6-9 ms for 12 M values, loaded machine) */
	const size_t BLK = NNK_NORM_BLOCK, nb = (n + BLK - 1) / BLK, groups = n / BLK / 8;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
	for (size_t gi = 0; gi < groups; gi++) {
		const real *b = x + gi * 8 * BLK;
		double s[8] = {0};
		for (size_t i = 0; i < BLK; i++)
			for (int j = 0; j < 8; j++)
				s[j] += (double)b[j * BLK + i] * b[j * BLK + i];
		for (int j = 0; j < 8; j++)
			parts[gi * 8 + j] = s[j];
	}
	for (size_t bl = groups * 8; bl < nb; bl++) {
		size_t e = (bl + 1) * BLK < n ? (bl + 1) * BLK : n;
		double s = 0;
		for (size_t i = bl * BLK; i < e; i++)
			s += (double)x[i] * x[i];
		parts[bl] = s;
	}
}

HOT void scale_to_norm(real *x, size_t n, double norm, double max_norm)
{
	if (!(norm > max_norm))
		return;
	real s = (real)(max_norm / (norm + 1e-6));
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
	for (size_t i = 0; i < n; i++)
		x[i] *= s;
}

HOT double clip_global_norm(real *x, size_t n, double max_norm)
{
	/* Σx² in double: fixed blocks of NNK_NORM_BLOCK values, summed in block order, so that the
	 * result does not depend on the thread count (nor on how the blocks are shared among
	 * ranks: train.c sums every rank's in the same order); a chunk of blocks at a time */
	enum { CHUNK = 256 };
	double parts[CHUNK], ss = 0;
	const size_t step = (size_t)CHUNK * NNK_NORM_BLOCK;
	for (size_t a = 0; a < n; a += step) {
		size_t len = n - a < step ? n - a : step, nb = (len + NNK_NORM_BLOCK - 1) / NNK_NORM_BLOCK;
		sumsq_blocks(x + a, len, parts);
		for (size_t bl = 0; bl < nb; bl++)
			ss += parts[bl];
	}
	double norm = sqrt(ss);
	scale_to_norm(x, n, norm, max_norm);
	return norm;
}

HOT void adam_step(real *p, const real *g, real *m, real *v, size_t n, double lr, double b1, double b2, double eps,
		   long t)
{
	double bc1 = 1 - pow(b1, (double)t), bc2 = 1 - pow(b2, (double)t);
	real step = (real)(lr / bc1), bc2s = (real)sqrt(bc2);
	real rb1 = (real)b1, rb2 = (real)b2, reps = (real)eps;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
	for (size_t i = 0; i < n; i++) {
		m[i] = m[i] * rb1 + (1 - rb1) * g[i];
		v[i] = v[i] * rb2 + (1 - rb2) * g[i] * g[i];
		real denom = SQRT(v[i]) / bc2s + reps;
		p[i] -= step * m[i] / denom;
	}
}

/* ---- a model's set-up: memory and initial values ---- */

int nn_model_alloc(const param_table *pt, real **params, real **grads, size_t arena_bytes, void **arena)
{
	*params = param_table_values(pt, sizeof(real));
	*grads = param_table_values(pt, sizeof(real));
	*arena = *params && *grads ? sh_alloc(arena_bytes) : NULL;
	return *arena ? 0 : -1;
}

void nn_model_free(param_table *pt, real *params, real *grads, void *arena)
{
	free(arena);
	free(params);
	free(grads);
	param_table_free(pt);
}

void nn_fill_uniform(real *x, size_t n, double bound, sh_rng *r)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (real)((2 * sh_rng_uniform(r) - 1) * bound);
}

void nn_fill_normal(real *x, size_t n, double scale, sh_rng *r)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (real)(scale * sh_rng_normal(r));
}
