/* test_nn.c: every layer of nn.h against central finite differences in double precision,
 * the CBLAS kernels against the plain reference loops, float against double, and Adam against
 * a step computed by hand. */
#include "nn.h"
#include "nn_kernels.h"
#include "params.h"
#include "util.h"
#include "tap.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static double urand(void) /* uniform in [-1, 1) */
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (double)(rng >> 11) / (double)(1ULL << 52) - 1;
}
static double *dvec(size_t n, double scale)
{
	double *x = malloc(sizeof(double) * (n ? n : 1));
	for (size_t i = 0; i < n; i++)
		x[i] = scale * urand();
	return x;
}
static double *dzeros(size_t n) { return calloc(n ? n : 1, sizeof(double)); }
static double dot(const double *a, const double *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* Max over the elements of x of |analytic - numeric| / max(|analytic|, |numeric|, 1e-4·the
 * largest analytic gradient), numeric by central differences of loss() with step 1e-5: the
 * floor keeps gradients near zero, whose differences are only the loss's rounding (~1e-16/h),
 * from failing a relative test. */
static double fd_err(double (*loss)(void), double *x, const double *grad, size_t n)
{
	double worst = 0, h = 1e-5, gmax = 0;
	for (size_t i = 0; i < n; i++)
		gmax = fmax(gmax, fabs(grad[i]));
	for (size_t i = 0; i < n; i++) {
		double x0 = x[i];
		x[i] = x0 + h;
		double lp = loss();
		x[i] = x0 - h;
		double lm = loss();
		x[i] = x0;
		double num = (lp - lm) / (2 * h), a = grad[i];
		double m = fmax(fmax(fabs(num), fabs(a)), 1e-4 * gmax);
		double e = fabs(num - a) / (m > 0 ? m : 1);
		if (e > worst)
			worst = e;
	}
	return worst;
}
#define FD_TOL 1e-6
#define CHECK_FD(what, x, g, n)                                                                                        \
	do {                                                                                                           \
		double e_ = fd_err(loss, x, g, n);                                                                     \
		tap_ok(e_ < FD_TOL, "%s: finite differences, max rel err %.2e", what, e_);                             \
	} while (0)

static float *tofloat(const double *x, size_t n)
{
	float *f = malloc(sizeof(float) * (n ? n : 1));
	for (size_t i = 0; i < n; i++)
		f[i] = (float)x[i];
	return f;
}
static double maxdiff_fd(const float *f, const double *d, size_t n)
{
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		double e = fabs(f[i] - d[i]) / (fabs(d[i]) > 1 ? fabs(d[i]) : 1);
		worst = e > worst ? e : worst;
	}
	return worst;
}

/* ---- linear + weight norm: out = inp·W(v,g)ᵀ + b, L = Σ out·R ---- */
enum { LN = 5, LI = 7, LO = 4 };
static double *l_inp, *l_v, *l_g, *l_b, *l_R, l_out[LN * LO], l_w[LO * LI], l_norm[LO];
static double loss_linear(void)
{
	weightnorm_forward_f64(l_w, l_norm, l_v, l_g, LO, LI);
	linear_forward_f64(l_out, l_inp, l_w, l_b, LN, LI, LO, 0);
	return dot(l_out, l_R, LN * LO);
}
static void test_linear(void)
{
	double (*loss)(void) = loss_linear;
	l_inp = dvec(LN * LI, 1), l_v = dvec(LO * LI, 1), l_g = dvec(LO, 2), l_b = dvec(LO, 1);
	l_R = dvec(LN * LO, 1);
	double *dinp = dzeros(LN * LI), *dw = dzeros(LO * LI), *db = dzeros(LO);
	double *dv = dzeros(LO * LI), *dg = dzeros(LO);
	loss();
	linear_backward_f64(dinp, dw, db, l_R, l_inp, l_w, LN, LI, LO);
	weightnorm_backward_f64(dv, dg, dw, l_v, l_g, l_norm, LO, LI);
	CHECK_FD("linear dinp", l_inp, dinp, LN * LI);
	CHECK_FD("linear dbias", l_b, db, LO);
	CHECK_FD("weight norm dv", l_v, dv, LO * LI);
	CHECK_FD("weight norm dg", l_g, dg, LO);

	/* accumulation: backward twice gives twice the gradient */
	double *db2 = dzeros(LO);
	linear_backward_f64(NULL, NULL, db2, l_R, l_inp, l_w, LN, LI, LO);
	linear_backward_f64(NULL, NULL, db2, l_R, l_inp, l_w, LN, LI, LO);
	double e = 0;
	for (int i = 0; i < LO; i++)
		e = fmax(e, fabs(db2[i] - 2 * db[i]));
	tap_ok(e < 1e-12, "linear backward accumulates (+=)");

	/* CBLAS kernels equal the reference loops, with and without bias and accumulation */
	double out2[LN * LO], dinp2[LN * LI] = {0}, dw2[LO * LI] = {0}, db3[LO] = {0};
	double dinp1[LN * LI] = {0}, dw1[LO * LI] = {0}, db1[LO] = {0};
	double worst = 0;
	for (int acc = 0; acc < 2; acc++)
		for (int hb = 0; hb < 2; hb++) {
			for (int i = 0; i < LN * LO; i++)
				l_out[i] = out2[i] = urand();
			linear_forward_f64(l_out, l_inp, l_w, hb ? l_b : NULL, LN, LI, LO, acc);
			linear_forward_ref_f64(out2, l_inp, l_w, hb ? l_b : NULL, LN, LI, LO, acc);
			for (int i = 0; i < LN * LO; i++)
				worst = fmax(worst, fabs(l_out[i] - out2[i]));
		}
	linear_backward_f64(dinp1, dw1, db1, l_R, l_inp, l_w, LN, LI, LO);
	linear_backward_ref_f64(dinp2, dw2, db3, l_R, l_inp, l_w, LN, LI, LO);
	for (int i = 0; i < LN * LI; i++)
		worst = fmax(worst, fabs(dinp1[i] - dinp2[i]));
	for (int i = 0; i < LO * LI; i++)
		worst = fmax(worst, fabs(dw1[i] - dw2[i]));
	for (int i = 0; i < LO; i++)
		worst = fmax(worst, fabs(db1[i] - db3[i]));
	tap_ok(worst < 1e-12, "linear: CBLAS equals the reference loops (max diff %.1e)", worst);

	/* float build agrees with double */
	float *fi = tofloat(l_inp, LN * LI), *fw = tofloat(l_w, LO * LI), *fb = tofloat(l_b, LO);
	float fo[LN * LO];
	linear_forward(fo, fi, fw, fb, LN, LI, LO, 0);
	loss();
	double e2 = maxdiff_fd(fo, l_out, LN * LO);
	tap_ok(e2 < 1e-5, "linear: float agrees with double (%.1e)", e2);
	free(fi), free(fw), free(fb);
	free(dinp), free(dw), free(db), free(dv), free(dg), free(db2);
}

/* ---- embedding ---- */
enum { EN = 6, EQ = 5, EE = 3 };
static double *e_tab, *e_R, e_out[EN * EE];
static const int32_t e_idx[EN] = {1, 4, 1, 0, 3, 1};
static double loss_emb(void)
{
	embedding_forward_f64(e_out, e_idx, e_tab, EN, EE);
	return dot(e_out, e_R, EN * EE);
}
static void test_embedding(void)
{
	double (*loss)(void) = loss_emb;
	e_tab = dvec(EQ * EE, 1), e_R = dvec(EN * EE, 1);
	double *dt = dzeros(EQ * EE);
	loss();
	embedding_backward_f64(dt, e_R, e_idx, EN, EE);
	CHECK_FD("embedding dtable", e_tab, dt, EQ * EE);
	free(dt);
}

/* ---- LSTM over several timesteps with a carried initial state; L = Σ h·R + h_T·RH + c_T·RC */
enum { ST = 4, SB = 3, SI = 5, SH = 4 };
static double *s_inp, *s_gadd, *s_wih, *s_whh, *s_bih, *s_bhh, *s_h0, *s_c0, *s_R, *s_RH, *s_RC;
static double s_h[ST * SB * SH], s_c[ST * SB * SH], s_gates[ST * SB * 4 * SH];
static double loss_lstm(void)
{
	lstm_forward_f64(s_h, s_c, s_gates, s_inp, s_gadd, s_wih, s_whh, s_bih, s_bhh, s_h0, s_c0, ST, SB, SI, SH);
	const size_t last = (size_t)(ST - 1) * SB * SH;
	return dot(s_h, s_R, ST * SB * SH) + dot(s_h + last, s_RH, SB * SH) + dot(s_c + last, s_RC, SB * SH);
}
static double loss_gru(void)
{
	gru_forward_f64(s_h, s_gates, s_inp, s_gadd, s_wih, s_whh, s_bih, s_bhh, s_h0, ST, SB, SI, SH);
	const size_t last = (size_t)(ST - 1) * SB * SH;
	return dot(s_h, s_R, ST * SB * SH) + dot(s_h + last, s_RH, SB * SH);
}
static void test_rnn(int gru)
{
	double (*loss)(void) = gru ? loss_gru : loss_lstm;
	const int G = gru ? 3 * SH : 4 * SH;
	const char *nm = gru ? "GRU" : "LSTM";
	char what[64];
	s_inp = dvec(ST * SB * SI, 1), s_gadd = dvec(ST * SB * G, 0.5);
	s_wih = dvec(G * SI, 0.6), s_whh = dvec(G * SH, 0.6);
	s_bih = dvec(G, 0.5), s_bhh = dvec(G, 0.5), s_h0 = dvec(SB * SH, 0.8), s_c0 = dvec(SB * SH, 0.8);
	s_R = dvec(ST * SB * SH, 1), s_RH = dvec(SB * SH, 1), s_RC = dvec(SB * SH, 1);
	double *dinp = dzeros(ST * SB * SI), *dwih = dzeros(G * SI), *dwhh = dzeros(G * SH);
	double *dbih = dzeros(G), *dbhh = dzeros(G), *dh0 = dzeros(SB * SH), *dc0 = dzeros(SB * SH);
	double *dg1 = dzeros(ST * SB * 4 * SH), *dg2 = dzeros(ST * SB * 4 * SH);
	double *dh = dzeros(ST * SB * SH);
	loss();
	memcpy(dh, s_R, sizeof(double) * ST * SB * SH);
	if (gru)
		gru_backward_f64(dinp, dwih, dwhh, dbih, dbhh, dh0, dg1, dg2, dh, s_RH, s_h, s_gates, s_inp, s_wih,
				 s_whh, s_h0, ST, SB, SI, SH);
	else
		lstm_backward_f64(dinp, dwih, dwhh, dbih, dbhh, dh0, dc0, dg1, dh, s_RH, s_RC, s_h, s_c, s_gates, s_inp,
				  s_wih, s_whh, s_h0, s_c0, ST, SB, SI, SH);
#define RNN_FD(name, x, g, n)                                                                                          \
	do {                                                                                                           \
		snprintf(what, sizeof what, "%s %s", nm, name);                                                        \
		CHECK_FD(what, x, g, n);                                                                               \
	} while (0)
	RNN_FD("dinp", s_inp, dinp, ST * SB * SI);
	RNN_FD("dgadd", s_gadd, dg1, ST * SB * G);
	RNN_FD("dweight_ih", s_wih, dwih, G * SI);
	RNN_FD("dweight_hh", s_whh, dwhh, G * SH);
	RNN_FD("dbias_ih", s_bih, dbih, G);
	RNN_FD("dbias_hh", s_bhh, dbhh, G);
	RNN_FD("dh0", s_h0, dh0, SB * SH);
	if (!gru)
		RNN_FD("dc0", s_c0, dc0, SB * SH);

	/* float agrees with double */
	float *fin = tofloat(s_inp, ST * SB * SI), *fga = tofloat(s_gadd, ST * SB * G);
	float *fwi = tofloat(s_wih, G * SI), *fwh = tofloat(s_whh, G * SH), *fbi = tofloat(s_bih, G);
	float *fbh = tofloat(s_bhh, G), *fh0 = tofloat(s_h0, SB * SH), *fc0 = tofloat(s_c0, SB * SH);
	float fh[ST * SB * SH], fc[ST * SB * SH], fg[ST * SB * 4 * SH];
	if (gru)
		gru_forward(fh, fg, fin, fga, fwi, fwh, fbi, fbh, fh0, ST, SB, SI, SH);
	else
		lstm_forward(fh, fc, fg, fin, fga, fwi, fwh, fbi, fbh, fh0, fc0, ST, SB, SI, SH);
	loss();
	double e = maxdiff_fd(fh, s_h, ST * SB * SH);
	tap_ok(e < 1e-5, "%s: float agrees with double (%.1e)", nm, e);

	/* one window of 4 steps equals two windows of 2 carrying the state */
	double h2[ST * SB * SH], c2[ST * SB * SH], g2[ST * SB * 4 * SH];
	const size_t half = (size_t)(ST / 2) * SB, hh = half * SH;
	if (gru) {
		gru_forward_f64(h2, g2, s_inp, s_gadd, s_wih, s_whh, s_bih, s_bhh, s_h0, ST / 2, SB, SI, SH);
		gru_forward_f64(h2 + hh, g2, s_inp + half * SI, s_gadd + half * G, s_wih, s_whh, s_bih, s_bhh,
				h2 + hh - SB * SH, ST / 2, SB, SI, SH);
	} else {
		lstm_forward_f64(h2, c2, g2, s_inp, s_gadd, s_wih, s_whh, s_bih, s_bhh, s_h0, s_c0, ST / 2, SB, SI, SH);
		lstm_forward_f64(h2 + hh, c2 + hh, g2, s_inp + half * SI, s_gadd + half * G, s_wih, s_whh, s_bih, s_bhh,
				 h2 + hh - SB * SH, c2 + hh - SB * SH, ST / 2, SB, SI, SH);
	}
	double w = 0;
	for (int i = 0; i < ST * SB * SH; i++)
		w = fmax(w, fabs(h2[i] - s_h[i]));
	tap_ok(w < 1e-14, "%s: two windows with carried state equal one window", nm);

	free(fin), free(fga), free(fwi), free(fwh), free(fbi), free(fbh), free(fh0), free(fc0);
	free(s_inp), free(s_gadd), free(s_wih), free(s_whh), free(s_bih), free(s_bhh), free(s_h0);
	free(s_c0), free(s_R), free(s_RH), free(s_RC);
	free(dinp), free(dwih), free(dwhh), free(dbih), free(dbhh), free(dh0), free(dc0), free(dg1);
	free(dg2), free(dh);
}

/* ---- ReLU and cross-entropy: L = CE(relu(x)·W) ---- */
enum { CN = 6, CQ = 5 };
static double *c_x, c_r[CN * CQ], c_p[CN * CQ];
static const int32_t c_t[CN] = {0, 4, 2, 2, 1, 3};
static double loss_ce(void)
{
	relu_forward_f64(c_r, c_x, CN * CQ);
	return ce_forward_f64(c_p, NULL, c_r, c_t, CN, CQ);
}
static void test_relu_ce(void)
{
	double (*loss)(void) = loss_ce;
	c_x = dvec(CN * CQ, 2);
	for (int i = 0; i < CN * CQ; i++) /* keep away from the kink */
		if (fabs(c_x[i]) < 1e-3)
			c_x[i] = 0.5;
	double *dl = dzeros(CN * CQ), *dx = dzeros(CN * CQ), pt[CN];
	double l = loss();
	ce_forward_f64(c_p, pt, c_r, c_t, CN, CQ);
	ce_backward_f64(dl, c_p, c_t, CN, CQ, 1);
	relu_backward_f64(dx, dl, c_r, CN * CQ);
	CHECK_FD("relu + softmax cross-entropy dlogits", c_x, dx, CN * CQ);
	l = loss(); /* the last finite difference left its perturbed forward behind */
	ce_forward_f64(c_p, pt, c_r, c_t, CN, CQ);
	/* the loss by hand: mean of -log softmax */
	double ref = 0, pe = 0;
	for (int n = 0; n < CN; n++) {
		double s = 0;
		for (int q = 0; q < CQ; q++)
			s += exp(c_r[n * CQ + q]);
		ref += -(c_r[n * CQ + c_t[n]] - log(s));
		pe = fmax(pe, fabs(pt[n] - exp(c_r[n * CQ + c_t[n]]) / s));
	}
	ref /= CN;
	tap_ok(fabs(l - ref) < 1e-12 && pe < 1e-12,
	       "cross-entropy equals -mean log softmax (%.1e), "
	       "target probabilities returned (%.1e)",
	       fabs(l - ref), pe);
	/* relu_mask equals relu_backward into zeros */
	memcpy(dx, dl, sizeof(double) * CN * CQ);
	relu_mask_f64(dx, c_r, CN * CQ);
	double *dx2 = dzeros(CN * CQ);
	relu_backward_f64(dx2, dl, c_r, CN * CQ);
	tap_ok(memcmp(dx, dx2, sizeof(double) * CN * CQ) == 0, "relu_mask equals relu_backward");
	/* float CE agrees with double on large logits (stability) */
	float fl[CQ] = {80, 100, 90, -50, 99}, fp[CQ];
	double dlg[CQ] = {80, 100, 90, -50, 99}, dp[CQ];
	int32_t t1 = 4;
	double lf = ce_forward(fp, NULL, fl, &t1, 1, CQ), ld = ce_forward_f64(dp, NULL, dlg, &t1, 1, CQ);
	tap_ok(isfinite(lf) && fabs(lf - ld) < 1e-5, "cross-entropy stable on large logits (%.6f, %.6f)", lf, ld);
	free(c_x), free(dl), free(dx), free(dx2);
}

/* ---- clipping and Adam ---- */
static void test_clip_adam(void)
{
	double x[5] = {-3, 0.5, 2, -0.25, 1};
	clip_elementwise_f64(x, 5, 1);
	tap_ok(x[0] == -1 && x[1] == 0.5 && x[2] == 1 && x[3] == -0.25 && x[4] == 1, "elementwise clip to ±1");
	double y[2] = {3, 4};
	double n = clip_global_norm_f64(y, 2, 1);
	tap_ok(n == 5 && fabs(y[0] - 3 / (5 + 1e-6)) < 1e-15 && fabs(y[1] - 4 / (5 + 1e-6)) < 1e-15,
	       "global-norm clip (norm 5 → 1)");
	/* a long vector: the same norm on 1 and 2 threads, and equal to a plain sum */
	size_t nbig = 100003;
	double *big = dvec(nbig, 1), *big2 = malloc(sizeof(double) * nbig), plain = 0;
	memcpy(big2, big, sizeof(double) * nbig);
	for (size_t i = 0; i < nbig; i++)
		plain += big[i] * big[i];
#ifdef _OPENMP
	omp_set_num_threads(1);
#endif
	double n1 = clip_global_norm_f64(big, nbig, 1e9);
#ifdef _OPENMP
	omp_set_num_threads(2);
#endif
	double n2 = clip_global_norm_f64(big2, nbig, 1e9);
	tap_ok(n1 == n2 && fabs(n1 - sqrt(plain)) < 1e-12 * n1,
	       "global norm of %zu values: the same "
	       "bits on 1 and 2 threads (%.15g)",
	       nbig, n1);
	free(big), free(big2);
	/* float, as training runs it: eight blocks at a time (sumsq_blocks) and the blocks in order
	 * give the bits of one block at a time (nn_kernels.h's definition), and the scaling */
	{
		const size_t nf = 5 * 8 * NNK_NORM_BLOCK + 3 * NNK_NORM_BLOCK + 77;
		float *f = malloc(nf * sizeof *f), *f2 = malloc(nf * sizeof *f2);
		for (size_t i = 0; i < nf; i++)
			f[i] = f2[i] = (float)((i % 13) - 6) * (i % 5 == 0 ? 1e3f : 1e-2f) + (float)i * 1e-7f;
		double ss = 0;
		for (size_t bl = 0; bl < (nf + NNK_NORM_BLOCK - 1) / NNK_NORM_BLOCK; bl++)
			ss += nnk_sumsq_block(f, nf, bl);
		const double want = sqrt(ss), got = clip_global_norm(f, nf, want / 3);
		const float s = (float)(want / 3 / (want + 1e-6));
		size_t off = 0;
		for (size_t i = 0; i < nf; i++)
			off += f[i] != f2[i] * s;
		tap_ok(got == want && !off,
		       "float global norm of %zu values: the bits of the blocks summed one at a time, "
		       "and each value scaled (%zu differ)",
		       nf, off);
		free(f), free(f2);
	}
	double z[2] = {0.3, 0.4};
	clip_global_norm_f64(z, 2, 1);
	tap_ok(z[0] == 0.3 && z[1] == 0.4, "global-norm clip leaves a small gradient alone");

	/* Adam, lr 1e-3, betas (0.9, 0.999), eps 1e-8: two steps by hand.
	 * step 1, g = 0.1: m = 0.01, v = 1e-5, m̂ = 0.1, v̂ = 0.01, p -= 1e-3·0.1/(0.1 + 1e-8)
	 * step 2, g = -0.2: m = 0.009 - 0.02 = -0.011, v = 9.99e-6 + 4e-5 = 4.999e-5,
	 *   p -= 1e-3/0.19 · (-0.011) / (sqrt(4.999e-5)/sqrt(0.001999) + 1e-8) */
	double p = 0.5, m = 0, v = 0, g = 0.1;
	adam_step_f64(&p, &g, &m, &v, 1, 1e-3, 0.9, 0.999, 1e-8, 1);
	double p1 = 0.5 - 1e-3 * 0.1 / (0.1 + 1e-8);
	tap_ok(fabs(p - p1) < 1e-15 && fabs(m - 0.01) < 1e-16 && fabs(v - 1e-5) < 1e-19,
	       "Adam step 1 as by hand (%.12f)", p);
	g = -0.2;
	adam_step_f64(&p, &g, &m, &v, 1, 1e-3, 0.9, 0.999, 1e-8, 2);
	double p2 = p1 - 1e-3 / 0.19 * -0.011 / (sqrt(4.999e-5) / sqrt(0.001999) + 1e-8);
	tap_ok(fabs(p - p2) < 1e-14, "Adam step 2 as by hand (%.12f vs %.12f)", p, p2);
	float pf = 0.5f, mf = 0, vf = 0, gf = 0.1f;
	adam_step(&pf, &gf, &mf, &vf, 1, 1e-3, 0.9, 0.999, 1e-8, 1);
	tap_ok(fabs(pf - p1) < 1e-7, "Adam in float agrees");
}

/* ---- nn_gemm split across threads against plain loops, every transposition ---- */
static void test_gemm(void)
{
#ifdef _OPENMP
	omp_set_num_threads(2);
#endif
	const int dims[2][3] = {{150, 130, 120}, {100, 180, 150}}; /* split by rows, by columns */
	for (int d = 0; d < 2; d++)
		for (int ta = 0; ta < 2; ta++)
			for (int tb = 0; tb < 2; tb++) {
				int M = dims[d][0], N = dims[d][1], K = dims[d][2];
				double *A = dvec((size_t)M * K, 1), *B = dvec((size_t)K * N, 1);
				double *C = dvec((size_t)M * N, 1), *R = malloc(sizeof(double) * M * N);
				int lda = ta ? M : K, ldb = tb ? K : N;
				for (int i = 0; i < M; i++)
					for (int j = 0; j < N; j++) {
						double acc = 0;
						for (int k = 0; k < K; k++)
							acc += (ta ? A[(size_t)k * M + i] : A[(size_t)i * K + k]) *
							       (tb ? B[(size_t)j * K + k] : B[(size_t)k * N + j]);
						R[(size_t)i * N + j] = 0.5 * acc + 2 * C[(size_t)i * N + j];
					}
				nn_gemm_f64(ta, tb, M, N, K, 0.5, A, lda, B, ldb, 2, C, N);
				double w = 0;
				for (size_t i = 0; i < (size_t)M * N; i++)
					w = fmax(w, fabs(C[i] - R[i]));
				tap_ok(w < 1e-11, "nn_gemm %dx%dx%d%s%s on 2 threads equals plain loops (%.1e)", M, N,
				       K, ta ? " Aᵀ" : "", tb ? " Bᵀ" : "", w);
				free(A), free(B), free(C), free(R);
			}
}

/* What the three models share to set themselves up: the arena carved in two passes, torch's
 * fan_in of a slice, and the initial values drawn from one stream. */
static void test_setup(void)
{
	sh_arena a = {NULL, 0};
	tap_ok(!sh_arena_take(&a, 3) && !sh_arena_take(&a, 100) && a.used == 164, "arena: sizing pass (%zu bytes)",
	       a.used);
	unsigned char *mem = sh_alloc(a.used);
	sh_arena b = {mem, 0};
	unsigned char *p0 = sh_arena_take(&b, 3), *p1 = sh_arena_take(&b, 100);
	tap_ok(mem && p0 == mem && p1 == mem + 64 && b.used == a.used,
	       "arena: carving pass, every piece on a 64-byte line");
	free(mem);

	param_table t;
	int ok = param_table_init(&t, 4) == 0;
	if (ok) {
		param_table_add(&t, "embed.weight", 2, 256, 6, 0);
		param_table_add(&t, "conv.weight", 3, 8, 6, 2);
		param_table_add(&t, "conv.bias", 1, 8, 0, 0);
		param_table_add(&t, "lone.bias", 1, 8, 0, 0);
		ok = param_fan_in(&t, 0) == 6 && param_fan_in(&t, 1) == 12 && param_fan_in(&t, 2) == 12 &&
		     param_fan_in(&t, 3) == 12;
		param_table_free(&t);
	}
	tap_ok(ok, "param_fan_in: of a weight all sizes but the first, of a bias its weight's");
	param_table_init(&t, 1);
	param_table_add(&t, "b", 1, 4, 0, 0);
	tap_ok(param_fan_in(&t, 0) == 0, "param_fan_in: a bias without a weight before it is 0");
	param_table_free(&t);

	float x[1000];
	double y[1000];
	sh_rng r, q;
	sh_rng_seed(&r, 7);
	sh_rng_seed(&q, 7);
	nn_fill_uniform(x, 1000, 0.25, &r);
	nn_fill_uniform_f64(y, 1000, 0.25, &q);
	int in = 1, same = 1;
	for (int i = 0; i < 1000; i++)
		in &= x[i] >= -0.25f && x[i] <= 0.25f, same &= x[i] == (float)y[i];
	tap_ok(in && same, "nn_fill_uniform: within ±bound, the float build the double one rounded");
	nn_fill_normal(x, 1000, 1e-3, &r);
	double ss = 0;
	for (int i = 0; i < 1000; i++)
		ss += (double)x[i] * x[i];
	tap_ok(fabs(sqrt(ss / 1000) - 1e-3) < 2e-4, "nn_fill_normal: standard deviation scale (%g)", sqrt(ss / 1000));
}

int main(void)
{
	test_gemm();
	test_linear();
	test_embedding();
	test_rnn(0);
	test_rnn(1);
	test_relu_ce();
	test_clip_adam();
	test_setup();
	return tap_done();
}
