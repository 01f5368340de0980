/* test_ddsp_model.c: the trained DDSP model (ddsp_model.h). Every backward pass against
 * central finite differences in double (layer norm, harmonic synth, noise filter, reverb,
 * spectral loss, the whole model); the float synth pieces against lib/ddsp.c's synths; the
 * loss against ddsp_spectral_loss; and the whole model's loss and gradients against the
 * PyTorch reference (tests/reference/ddsp_model.py, fixture tests/fixtures/ddsp_model_ref.safetensors). */
#include "ddsp.h"
#include "ddsp_model.h"
#include "fixture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double *dzeros(size_t n) { return calloc(n ? n : 1, sizeof(double)); }
static double dot(const double *a, const double *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* worst relative error of grad against central differences of loss() over x[0..n) */
static double fd_err(double (*loss)(void *), void *ctx, double *x, const double *grad, size_t n, double h)
{
	size_t wi;
	double wnum, gmax;
	double e = fd_worst_rel(x, grad, n, h, loss, ctx, &wi, &wnum, &gmax);
	if (e > 1e-6)
		tap_diag("worst at %zu: analytic %.10g numeric %.10g (largest %.3g)", wi, grad[wi], wnum, gmax);
	return e;
}
#define FD_TOL 1e-6

/* ---- layer norm ---- */
enum { LN_N = 5, LN_C = 7 };
static double ln_x[LN_N * LN_C], ln_g[LN_C], ln_b[LN_C], ln_r[LN_N * LN_C];
static double ln_loss(void *ctx)
{
	(void)ctx;
	double out[LN_N * LN_C], xh[LN_N * LN_C], rs[LN_N];
	ddsp_layernorm_forward_f64(out, xh, rs, ln_x, ln_g, ln_b, LN_N, LN_C);
	return dot(out, ln_r, LN_N * LN_C);
}
static void test_layernorm(void)
{
	for (int i = 0; i < LN_N * LN_C; i++)
		ln_x[i] = 2 * urand() - 1 + (i % LN_C == 0), ln_r[i] = 2 * urand() - 1;
	for (int c = 0; c < LN_C; c++)
		ln_g[c] = 1 + 0.5 * (2 * urand() - 1), ln_b[c] = 2 * urand() - 1;
	double out[LN_N * LN_C], xh[LN_N * LN_C], rs[LN_N], dx[LN_N * LN_C];
	double dg[LN_C] = {0}, db[LN_C] = {0};
	ddsp_layernorm_forward_f64(out, xh, rs, ln_x, ln_g, ln_b, LN_N, LN_C);
	ddsp_layernorm_backward_f64(dx, dg, db, ln_r, xh, rs, ln_g, LN_N, LN_C);
	tap_ok(fd_err(ln_loss, NULL, ln_x, dx, LN_N * LN_C, 1e-5) < FD_TOL, "layer norm: d input = finite differences");
	tap_ok(fd_err(ln_loss, NULL, ln_g, dg, LN_C, 1e-5) < FD_TOL, "layer norm: d weight = finite differences");
	tap_ok(fd_err(ln_loss, NULL, ln_b, db, LN_C, 1e-5) < FD_TOL, "layer norm: d bias = finite differences");
	/* in place, as the model calls it */
	double d2[LN_N * LN_C], dg2[LN_C] = {0}, db2[LN_C] = {0};
	memcpy(d2, ln_r, sizeof d2);
	ddsp_layernorm_backward_f64(d2, dg2, db2, d2, xh, rs, ln_g, LN_N, LN_C);
	tap_ok(!memcmp(d2, dx, sizeof d2), "layer norm: backward in place = out of place");
}

/* ---- harmonic synth ---- */
enum { H_T = 6, H_K = 7, H_HOP = 16 };
#define H_SR 2000.0
static double h_f0[H_T] = {150, 180, 240, 230, 120, 119}, h_amp[H_T], h_dist[H_T * H_K], h_r[H_T * H_HOP];
static double harm_loss(void *ctx)
{
	(void)ctx;
	double y[H_T * H_HOP];
	ddsp_harmonic_forward_f64(y, h_f0, h_amp, h_dist, H_T, H_K, H_HOP, H_SR);
	return dot(y, h_r, H_T * H_HOP);
}
static void test_harmonic(void)
{
	for (int i = 0; i < H_T; i++)
		h_amp[i] = 0.2 + urand();
	for (int i = 0; i < H_T * H_K; i++)
		h_dist[i] = 0.05 + urand();
	for (int i = 0; i < H_T * H_HOP; i++)
		h_r[i] = 2 * urand() - 1;
	double damp[H_T] = {0}, dd[H_T * H_K] = {0};
	ddsp_harmonic_backward_f64(damp, dd, h_r, h_f0, h_amp, h_dist, H_T, H_K, H_HOP, H_SR);
	/* harmonics 5 to 7 cross Nyquist (1 kHz) inside blocks: both masks are exercised */
	tap_ok(fd_err(harm_loss, NULL, h_amp, damp, H_T, 1e-6) < FD_TOL,
	       "harmonic synth: d amplitude = finite differences");
	tap_ok(fd_err(harm_loss, NULL, h_dist, dd, H_T * H_K, 1e-6) < FD_TOL,
	       "harmonic synth: d distribution = finite differences");

	/* float build = lib/ddsp.c's synth */
	enum { T = 40, K = 30, HOP = 64 };
	float f0[T], amp[T], dist[T * K], ours[T * HOP], lib[T * HOP];
	for (int t = 0; t < T; t++)
		f0[t] = 100 + 400 * t / T + 30 * sinf(t * 0.7f), amp[t] = 0.1f + 0.5f * (float)urand();
	for (int i = 0; i < T * K; i++)
		dist[i] = (float)urand();
	ddsp_harmonic_forward(ours, f0, amp, dist, T, K, HOP, 16000);
	ddsp_synth *s = ddsp_synth_new(16000, HOP, K, 0);
	ddsp_synth_harmonic(s, lib, f0, amp, dist, T);
	double e = 0, peak = 0;
	for (int i = 0; i < T * HOP; i++)
		e = fmax(e, fabs(ours[i] - lib[i])), peak = fmax(peak, fabs(lib[i]));
	tap_ok(e <= 4 * 1.2e-7 * peak, "harmonic synth (float) = ddsp_synth_harmonic (max err %.3g of %.3g)", e, peak);
	ddsp_synth_free(s);
}

/* ---- filtered noise ---- */
enum { N_T = 5, N_B = 9, N_L = 16, N_HOP = 8 };
static double n_irs[N_T * N_L], n_noise[N_T * N_HOP], n_r[N_T * N_HOP];
static double noise_loss(void *ctx)
{
	(void)ctx;
	double y[N_T * N_HOP] = {0};
	ddsp_noise_forward_f64(y, n_irs, n_noise, N_T, N_L, N_HOP);
	return dot(y, n_r, N_T * N_HOP);
}
static void test_noise(void)
{
	for (int i = 0; i < N_T * N_L; i++)
		n_irs[i] = 2 * urand() - 1;
	for (int i = 0; i < N_T * N_HOP; i++)
		n_noise[i] = 2 * urand() - 1, n_r[i] = 2 * urand() - 1;
	double dirs[N_T * N_L];
	ddsp_noise_backward_f64(dirs, n_r, n_noise, N_T, N_L, N_HOP);
	tap_ok(fd_err(noise_loss, NULL, n_irs, dirs, N_T * N_L, 1e-5) < FD_TOL,
	       "noise filter: d responses = finite differences");

	/* the design matrix = ddsp_noise_ir, and design + filter (float) = ddsp_synth_noise */
	enum { T = 30, B = 65, L = 128, HOP = 64 };
	float *M = malloc(sizeof(float) * L * B), mags[T * B], irs[T * L], ir[L];
	ddsp_noise_design(M, B);
	for (int i = 0; i < T * B; i++)
		mags[i] = (float)urand();
	double e = 0;
	for (int t = 0; t < T; t++) {
		ddsp_noise_ir(ir, mags + t * B, B);
		for (int j = 0; j < L; j++) {
			double s = 0;
			for (int b = 0; b < B; b++)
				s += (double)M[j * B + b] * mags[t * B + b];
			irs[t * L + j] = (float)s;
			e = fmax(e, fabs(s - ir[j]));
		}
	}
	tap_ok(e < 1e-6, "noise design matrix = ddsp_noise_ir (max err %.3g)", e);
	float noise[T * HOP], ours[T * HOP] = {0}, lib[T * HOP] = {0};
	ddsp_white_noise(noise, T * HOP, 77);
	ddsp_noise_forward(ours, irs, noise, T, L, HOP);
	ddsp_synth *s = ddsp_synth_new(16000, HOP, 1, B);
	ddsp_synth_noise(s, lib, mags, T, 77);
	double pk = 0;
	e = 0;
	for (int i = 0; i < T * HOP; i++)
		e = fmax(e, fabs(ours[i] - lib[i])), pk = fmax(pk, fabs(lib[i]));
	tap_ok(e <= 1e-5 * pk, "noise filter (float) = ddsp_synth_noise (max err %.3g of %.3g)", e, pk);
	ddsp_synth_free(s);
	free(M);
}

/* ---- reverb ---- */
enum { R_N = 50, R_R = 13 };
static double r_x[R_N], r_ir[R_R], r_r[R_N];
static ddsp_fft_f64 *r_fft;
static double reverb_loss(void *ctx)
{
	(void)ctx;
	double y[R_N];
	ddsp_reverb_forward_f64(r_fft, y, r_x, r_ir);
	return dot(y, r_r, R_N);
}
static void test_reverb(void)
{
	r_fft = ddsp_fft_new_f64(R_N, R_R);
	for (int i = 0; i < R_N; i++)
		r_x[i] = 2 * urand() - 1, r_r[i] = 2 * urand() - 1;
	for (int i = 0; i < R_R; i++)
		r_ir[i] = 2 * urand() - 1;
	double y[R_N], dx[R_N], dir[R_R] = {0};
	ddsp_reverb_forward_f64(r_fft, y, r_x, r_ir);
	/* against the direct sum: y[n] = x[n] + Σ_{j>=1} ir[j]·x[n-j] */
	double e = 0;
	for (int n = 0; n < R_N; n++) {
		double s = r_x[n];
		for (int j = 1; j < R_R && j <= n; j++)
			s += r_ir[j] * r_x[n - j];
		e = fmax(e, fabs(s - y[n]));
	}
	tap_ok(e < 1e-12, "reverb = direct causal convolution, tap 0 dry (max err %.3g)", e);
	ddsp_reverb_backward_f64(r_fft, dx, dir, r_r, r_x, r_ir);
	tap_ok(dir[0] == 0, "reverb: tap 0 gets no gradient");
	tap_ok(fd_err(reverb_loss, NULL, r_x, dx, R_N, 1e-5) < FD_TOL, "reverb: d input = finite differences");
	tap_ok(fd_err(reverb_loss, NULL, r_ir + 1, dir + 1, R_R - 1, 1e-5) < FD_TOL,
	       "reverb: d response = finite differences");
	ddsp_fft_free_f64(r_fft);
}

/* ---- spectral loss ---- */
enum { L_N = 700 };
static double l_a[L_N];
static float l_b[L_N];
static ddsp_fft_f64 *l_fft;
static double sl_loss(void *ctx)
{
	(void)ctx;
	return ddsp_spectral_loss_grad_f64(l_fft, l_a, l_b, NULL, 1);
}
static void test_loss(void)
{
	l_fft = ddsp_fft_new_f64(L_N, 0);
	for (int i = 0; i < L_N; i++) {
		l_a[i] = sin(i * 0.3) * 0.5 + 0.3 * (2 * urand() - 1);
		l_b[i] = (float)(sin(i * 0.31) * 0.4 + 0.3 * (2 * urand() - 1));
	}
	/* = ddsp_spectral_loss (float audio) */
	float af[L_N];
	for (int i = 0; i < L_N; i++)
		af[i] = (float)l_a[i];
	double la = ddsp_spectral_loss(af, l_b, L_N);
	for (int i = 0; i < L_N; i++)
		l_a[i] = af[i];
	double lb = sl_loss(NULL);
	tap_ok(fabs(la - lb) < 1e-5 * la, "spectral loss = ddsp_spectral_loss (%.9f, %.9f)", lb, la);
	ddsp_fft *ff = ddsp_fft_new(L_N, 0);
	double lf = ddsp_spectral_loss_grad(ff, af, l_b, NULL, 1);
	tap_ok(fabs(la - lf) < 1e-5 * la, "spectral loss, float build (fast log) = ddsp_spectral_loss (%.9f, %.9f)", lf,
	       la);
	ddsp_fft_free(ff);
	double *da = dzeros(L_N);
	ddsp_spectral_loss_grad_f64(l_fft, l_a, l_b, da, 1);
	/* |.| and log|.| bend sharply at bins of tiny magnitude: differences of step 1e-6 agree
	 * to a few 1e-5 there, the rest to 1e-8 */
	tap_ok(fd_err(sl_loss, NULL, l_a, da, L_N, 1e-6) < 1e-4, "spectral loss: d audio = finite differences");
	free(da);
	ddsp_fft_free_f64(l_fft);
}

/* ---- whole model ---- */
static ddsp_config tiny_cfg(void)
{
	ddsp_config c = {.sample_rate = 16000,
			 .hop = 64,
			 .n_samples = 640,
			 .ch = 5,
			 .layers = 2,
			 .gru = 6,
			 .n_harmonics = 6,
			 .n_bands = 5,
			 .reverb = 40,
			 .batch = 2};
	return c;
}
typedef struct {
	ddsp_net_f64 *m;
	float *f0, *ld, *target;
	uint64_t seeds[2];
} model_ctx;
static double model_loss(void *ctx)
{
	model_ctx *c = ctx;
	return ddsp_net_run_f64(c->m, c->f0, c->ld, c->target, 2, c->seeds, NULL, 0);
}
static void make_inputs(const ddsp_config *c, float *f0, float *ld, float *target)
{
	int T = ddsp_frames(c), n = c->n_samples;
	for (int b = 0; b < c->batch; b++) {
		for (int t = 0; t < T; t++) {
			f0[b * T + t] = (float)(220 * (1 + b) * (1 + 0.1 * sin(t * 0.9)));
			ld[b * T + t] = (float)(-40 + 20 * sin(t * 0.5 + b));
		}
		for (int i = 0; i < n; i++)
			target[b * n + i] =
				(float)(0.3 * sin(2 * M_PI * 330 * (b + 1) * i / 16000.0) + 0.05 * (2 * urand() - 1));
	}
}
static void test_model_fd(void)
{
	ddsp_config c = tiny_cfg();
	const int T = ddsp_frames(&c);
	model_ctx x = {ddsp_net_new_f64(&c, 2, T),
		       malloc(sizeof(float) * 2 * T),
		       malloc(sizeof(float) * 2 * T),
		       malloc(sizeof(float) * 2 * c.n_samples),
		       {11, 12}};
	make_inputs(&c, x.f0, x.ld, x.target);
	ddsp_net_init_params_f64(x.m, 5);
	size_t np = ddsp_net_num_params_f64(x.m);
	double *p = ddsp_net_params_f64(x.m), *g = ddsp_net_grads_f64(x.m);
	/* a reverb big enough to matter */
	for (int i = 0; ddsp_net_param_info_f64(x.m, i); i++) {
		const nn_param *q = ddsp_net_param_info_f64(x.m, i);
		if (!strcmp(q->name, "reverb.ir"))
			for (size_t j = 0; j < q->count; j++)
				p[q->offset + j] = 0.05 * (2 * urand() - 1);
	}
	memset(g, 0, sizeof(double) * np);
	double l0 = ddsp_net_run_f64(x.m, x.f0, x.ld, x.target, 2, x.seeds, NULL, 1);
	double l1 = model_loss(&x);
	tap_ok(isfinite(l0) && l0 == l1, "model: loss %.6f, the same with and without backward", l0);
	double *ga = malloc(sizeof(double) * np);
	memcpy(ga, g, sizeof(double) * np);
	size_t wi;
	double wnum, gmax;
	double e = fd_worst_rel(p, ga, np, 1e-6, model_loss, &x, &wi, &wnum, &gmax);
	int ok = tap_ok(e < 1e-4, "model: every parameter's gradient = finite differences (%zu parameters, worst %.2g)",
			np, e);
	if (!ok) {
		const nn_param *q;
		for (int i = 0; (q = ddsp_net_param_info_f64(x.m, i)); i++)
			if (wi >= q->offset && wi < q->offset + q->count)
				tap_diag("worst in %s[%zu]: analytic %.10g numeric %.10g", q->name, wi - q->offset,
					 ga[wi], wnum);
	}
	free(ga);
	free(x.f0), free(x.ld), free(x.target);
	ddsp_net_free_f64(x.m);
}

/* float model = double model */
static void test_float_double(void)
{
	ddsp_config c = tiny_cfg();
	const int T = ddsp_frames(&c);
	float f0[2 * T], ld[2 * T], *target = malloc(sizeof(float) * 2 * c.n_samples);
	make_inputs(&c, f0, ld, target);
	ddsp_net *mf = ddsp_net_new(&c, 2, T);
	ddsp_net_f64 *md = ddsp_net_new_f64(&c, 2, T);
	ddsp_net_init_params(mf, 5);
	ddsp_net_init_params_f64(md, 5);
	size_t np = ddsp_net_num_params(mf);
	float *pf = ddsp_net_params(mf), *gf = ddsp_net_grads(mf);
	double *pd = ddsp_net_params_f64(md), *gd = ddsp_net_grads_f64(md);
	for (size_t i = 0; i < np; i++)
		pd[i] = pf[i];
	uint64_t seeds[2] = {1, 2};
	memset(gf, 0, sizeof(float) * np);
	memset(gd, 0, sizeof(double) * np);
	double lf = ddsp_net_run(mf, f0, ld, target, 2, seeds, NULL, 1);
	double ldd = ddsp_net_run_f64(md, f0, ld, target, 2, seeds, NULL, 1);
	double gmax = 0, e = 0;
	for (size_t i = 0; i < np; i++)
		gmax = fmax(gmax, fabs(gd[i]));
	for (size_t i = 0; i < np; i++)
		e = fmax(e, fabs(gf[i] - gd[i]) / gmax);
	tap_ok(fabs(lf - ldd) < 1e-4 * ldd, "float model loss = double (%.7f, %.7f)", lf, ldd);
	tap_ok(e < 5e-3, "float model gradients = double (worst %.2g of the largest)", e);
	free(target);
	ddsp_net_free(mf);
	ddsp_net_free_f64(md);
}

/* the PyTorch reference's loss and gradients, in double */
static const nn_param *info64(const void *m, int i) { return ddsp_net_param_info_f64(m, i); }
static int read_f64(const st_file *sf, const char *name, double *dst, size_t count)
{
	const st_tensor *t = st_find(sf, name);
	if (!t || t->dtype != SH_F64 || t->count != count)
		return tap_diag("fixture: %s missing or not %zu float64", name, count), -1;
	memcpy(dst, st_data(sf, t), sizeof(double) * count);
	return 0;
}
static void test_reference(void)
{
	const char *path = "tests/fixtures/ddsp_model_ref.safetensors";
	st_file sf;
	if (st_load(path, &sf) < 0) {
		tap_ok(0, "%s: %s", path, sh_errmsg());
		return;
	}
	ddsp_config c;
	long batch, s0, s1;
	if (ddsp_config_from_meta(&sf, &c) < 0 || st_meta_long(&sf, "seed0", 0, 1L << 40, &s0) < 0 ||
	    st_meta_long(&sf, "seed1", 0, 1L << 40, &s1) < 0) {
		tap_ok(0, "fixture metadata: %s", sh_errmsg());
		st_free(&sf);
		return;
	}
	batch = c.batch;
	const int T = ddsp_frames(&c);
	ddsp_net_f64 *m = ddsp_net_new_f64(&c, (int)batch, T);
	size_t np = ddsp_net_num_params_f64(m);
	double *p = ddsp_net_params_f64(m), *g = ddsp_net_grads_f64(m), *want = malloc(sizeof(double) * np);
	float *f0 = malloc(sizeof(float) * batch * T), *ld = malloc(sizeof(float) * batch * T);
	float *target = malloc(sizeof(float) * batch * c.n_samples);
	double loss_ref;
	int bad = 0;
	const nn_param *q;
	char name[160];
	for (int i = 0; (q = info64(m, i)); i++) {
		bad |= read_f64(&sf, q->name, p + q->offset, q->count);
		snprintf(name, sizeof name, "grad.%s", q->name);
		bad |= read_f64(&sf, name, want + q->offset, q->count);
	}
	bad |= st_read_f32(&sf, "input.f0_hz", f0, batch * T) | st_read_f32(&sf, "input.loudness_db", ld, batch * T) |
	       st_read_f32(&sf, "input.target", target, batch * c.n_samples) | read_f64(&sf, "loss", &loss_ref, 1);
	if (!tap_ok(!bad, "fixture read (%zu parameters)", np)) {
		st_free(&sf);
		return;
	}
	uint64_t seeds[2] = {(uint64_t)s0, (uint64_t)s1};
	memset(g, 0, sizeof(double) * np);
	double loss = ddsp_net_run_f64(m, f0, ld, target, (int)batch, seeds, NULL, 1);
	tap_ok(fabs(loss - loss_ref) <= 1e-5 * loss_ref, "model loss = PyTorch reference (%.10f, %.10f)", loss,
	       loss_ref);
	float *gf = malloc(sizeof(float) * np), *wf = malloc(sizeof(float) * np);
	for (size_t i = 0; i < np; i++)
		gf[i] = (float)g[i], wf[i] = (float)want[i];
	const char *worst_name;
	double e = grad_worst(gf, wf, info64, m, &worst_name);
	tap_ok(e <= 1e-5, "model gradients = PyTorch reference (worst %.2g of each tensor's largest, in %s)", e,
	       worst_name);
	free(gf), free(wf), free(want), free(f0), free(ld), free(target);
	ddsp_net_free_f64(m);
	st_free(&sf);
}

static void test_config(void)
{
	ddsp_config a, b;
	tap_ok(!ddsp_preset("tiny", &a) && !ddsp_preset("small", &b) && !ddsp_preset("paper", &b) &&
		       ddsp_preset("huge", &b) < 0,
	       "presets tiny, small, paper; another refused");
	ddsp_preset("paper", &b);
	char buf[128];
	tap_ok(ddsp_config_diff(&a, &b, buf, sizeof buf) == 1 && strstr(buf, "n_samples"),
	       "config diff names a field: %s", buf);
	param_table t;
	ddsp_param_table(&b, &t);
	/* the paper's decoder: about 4.5 M parameters with the reverb's 48 000 */
	tap_ok(t.total > 4000000 && t.total < 6000000, "paper preset: %zu parameters", t.total);
	param_table_free(&t);
	tap_ok(fabs(ddsp_f0_scaled(440) - 69 / 127.0) < 1e-12 && ddsp_f0_scaled(0) == 0 && ddsp_f0_scaled(1) == 0,
	       "f0 scaling: midi/127, 0 for 0 Hz and below MIDI 0");
	tap_ok(fabs(ddsp_scale_fn(0) - 0.405399) < 1e-6 && fabs(ddsp_scale_fn(1) - 0.972229) < 1e-6,
	       "exp_sigmoid(0), (1) as REFERENCE.md");
}

int main(void)
{
	test_config();
	test_layernorm();
	test_harmonic();
	test_noise();
	test_reverb();
	test_loss();
	test_model_fd();
	test_float_double();
	test_reference();
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
