/* test_wavenet.c: the WaveNet model against the PyTorch peer (loss, every gradient, five Adam
 * steps) for each input layer (one-hot, embedded, scalar), finite differences in double for the
 * dilated causal conv, the gated unit, the embedded and scalar input layers and the whole model
 * in each input mode, float against double, determinism and accumulation, checkpoint metadata
 * round trip, presets and refusals. Fixtures: tests/fixtures/wavenet_peer{,_embed,_scalar}
 * .safetensors from make_wavenet_fixture.py. */
#include "nn.h"
#include "wavenet.h"
#include "safetensors.h"
#include "util.h"
#include "tap.h"
#include "fixture.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static const char *const fixtures[] = {
	"tests/fixtures/wavenet_peer.safetensors",
	"tests/fixtures/wavenet_peer_embed.safetensors",
	"tests/fixtures/wavenet_peer_scalar.safetensors",
};

static const nn_param *info(const void *m, int i) { return wn_param_info(m, i); }
static const nn_param *info64(const void *m, int i) { return wn_param_info_f64(m, i); }

static double srand1(void) { return 2 * urand() - 1; }
static void fill_srand(double *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = srand1();
}

/* ---- against the PyTorch peer ---- */

static void test_peer(const char *fixture, int input)
{
	st_file sf;
	if (st_load(fixture, &sf)) {
		tap_ok(0, "load %s: %s", fixture, sh_errmsg());
		return;
	}
	wn_config c;
	int read = wn_config_from_meta(&sf, &c) == 0;
	if (!tap_ok(read && c.input == input,
		    "%s: the metadata reads as a config of %s input "
		    "(E %d, W %d)%s%s",
		    fixture, wn_input_name(input), read ? c.embed : -1, read ? c.initial_width : -1, read ? "" : ": ",
		    read ? "" : sh_errmsg()))
		return;
	const int B = c.batch, T = wn_receptive_field(&c) + c.n_out;
	wn *m = wn_create(&c, B);
	if (!tap_ok(m != NULL, "model of the fixture's configuration (rf %d)", wn_receptive_field(&c)))
		return;
	const size_t np = wn_num_params(m);
	float *p = wn_params(m), *g = wn_grads(m);
	tap_ok(load_peer(&sf, "param.", p, info, m) == 0,
	       "every parameter maps onto the peer's state_dict by name and shape (%d tensors, %zu "
	       "values)",
	       wn_param_count(m), np);
	float *p0 = malloc(sizeof(float) * np), *pg = malloc(sizeof(float) * np);
	memcpy(p0, p, sizeof(float) * np);
	load_peer(&sf, "grad.", pg, info, m);
	const uint8_t *c8 = st_data(&sf, st_find(&sf, "codes"));
	uint16_t *codes = malloc(sizeof(uint16_t) * B * T);
	for (int i = 0; i < B * T; i++)
		codes[i] = c8[i];
	float want[5];
	memset(g, 0, sizeof(float) * np);
	double l = wn_forward_backward(m, codes, B);
	st_read_f32(&sf, "loss", want, 1);
	tap_ok(fabs(l - want[0]) < 1e-5 * want[0], "loss %.7f = peer %.7f", l, want[0]);
	const char *wname;
	double worst = grad_worst(g, pg, info, m, &wname);
	tap_ok(worst < 1e-4, "all %d gradients equal the peer's (worst max|diff|/max|peer| %.2e, %s)",
	       wn_param_count(m), worst, wname);

	/* five Adam steps on the same batch, lr 1e-3, eps 1e-4, no clipping */
	memcpy(p, p0, sizeof(float) * np);
	float *am = calloc(np, sizeof(float)), *av = calloc(np, sizeof(float));
	st_read_f32(&sf, "adam_losses", want, 5);
	double aw = 0;
	for (int step = 0; step < 5; step++) {
		memset(g, 0, sizeof(float) * np);
		double ls = wn_forward_backward(m, codes, B);
		adam_step(p, g, am, av, np, 1e-3, 0.9, 0.999, 1e-4, step + 1);
		aw = fmax(aw, fabs(ls - want[step]) / want[step]);
		if (step == 4)
			tap_diag("Adam step 5: loss %.7f, peer %.7f", ls, want[step]);
	}
	tap_ok(aw < 1e-5, "five Adam steps give the peer's losses (max rel diff %.1e)", aw);
	free(am), free(av), free(p0), free(pg), free(codes);
	wn_free(m);
	st_free(&sf);
}

/* ---- kernel finite differences in double ---- */

/* Central differences (h 1e-6) of loss = Σ G·out, out [nout] as forward(ctx) leaves it, over
 * every element of the nvars inputs vars[k] [n[k]] against the analytic grads[k]: the max abs
 * error. */
static double kernel_fd(double *const *vars, double *const *grads, const size_t *n, int nvars, const double *G,
			const double *out, size_t nout, void (*forward)(void *ctx), void *ctx)
{
	double worst = 0, h = 1e-6;
	for (int k = 0; k < nvars; k++)
		for (size_t i = 0; i < n[k]; i++) {
			double v = vars[k][i], lp = 0, lm = 0;
			vars[k][i] = v + h;
			forward(ctx);
			for (size_t j = 0; j < nout; j++)
				lp += G[j] * out[j];
			vars[k][i] = v - h;
			forward(ctx);
			for (size_t j = 0; j < nout; j++)
				lm += G[j] * out[j];
			vars[k][i] = v;
			worst = fmax(worst, fabs((lp - lm) / (2 * h) - grads[k][i]));
		}
	return worst;
}

struct dconv_fd {
	double *out, *xs;
	const double *x, *w, *bias;
	int B, L, In, O, d;
};
static void dconv_fd_forward(void *ctx)
{
	struct dconv_fd *c = ctx;
	wn_dconv_forward_f64(c->out, c->xs, c->x, c->w, c->bias, c->B, c->L, c->In, c->O, c->d);
}

/* loss = Σ G·out of the dilated conv, over x, w, bias */
static void test_dconv_fd(void)
{
	enum { B = 2, L = 11, In = 3, O = 4, d = 3, Lo = L - d };
	double x[B * L * In], w[O * In * 2], bias[O], G[B * Lo * O], out[B * Lo * O];
	double xs[B * Lo * 2 * In], dxs[B * Lo * 2 * In], dx[B * L * In], dw[O * In * 2], db[O];
	fill_srand(x, SH_ARRAY_LEN(x));
	fill_srand(w, SH_ARRAY_LEN(w));
	fill_srand(bias, SH_ARRAY_LEN(bias));
	fill_srand(G, SH_ARRAY_LEN(G));
	memset(dx, 0, sizeof dx), memset(dw, 0, sizeof dw), memset(db, 0, sizeof db);
	wn_dconv_forward_f64(out, xs, x, w, bias, B, L, In, O, d);
	/* the definition, plainly */
	double def = 0;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < Lo; t++)
			for (int o = 0; o < O; o++) {
				double s = bias[o];
				for (int i = 0; i < In; i++)
					s += w[(o * In + i) * 2] * x[(b * L + t) * In + i] +
					     w[(o * In + i) * 2 + 1] * x[(b * L + t + d) * In + i];
				def = fmax(def, fabs(s - out[(b * Lo + t) * O + o]));
			}
	tap_ok(def < 1e-12, "dilated conv: out[t] = w0·x[t] + w1·x[t+d] + b (%.1e)", def);
	wn_dconv_backward_f64(dx, dw, db, dxs, G, xs, w, B, L, In, O, d);
	double *vars[3] = {x, w, bias}, *grads[3] = {dx, dw, db};
	size_t n[3] = {SH_ARRAY_LEN(x), SH_ARRAY_LEN(w), SH_ARRAY_LEN(bias)};
	struct dconv_fd ctx = {out, xs, x, w, bias, B, L, In, O, d};
	double worst = kernel_fd(vars, grads, n, 3, G, out, SH_ARRAY_LEN(G), dconv_fd_forward, &ctx);
	tap_ok(worst < 1e-8, "dilated conv (d %d): finite differences over x, w, bias (max abs err %.1e)", d, worst);
}

static void test_gate_fd(void)
{
	enum { N = 7, C = 5 };
	double pre[N * 2 * C], fg[N * 2 * C], z[N * C], G[N * C], dfg[N * 2 * C];
	for (int i = 0; i < N * 2 * C; i++)
		pre[i] = 3 * srand1();
	fill_srand(G, SH_ARRAY_LEN(G));
	memcpy(fg, pre, sizeof fg);
	wn_gate_forward_f64(z, fg, N, C);
	double def = 0;
	for (int n = 0; n < N; n++)
		for (int c = 0; c < C; c++)
			def = fmax(def,
				   fabs(z[n * C + c] - tanh(pre[n * 2 * C + c]) / (1 + exp(-pre[n * 2 * C + C + c]))));
	tap_ok(def < 1e-14, "gated unit: z = tanh(f)·σ(g) (%.1e)", def);
	wn_gate_backward_f64(dfg, G, fg, N, C);
	double worst = 0, h = 1e-6;
	for (int i = 0; i < N * 2 * C; i++) {
		double lp = 0, lm = 0, v = pre[i];
		memcpy(fg, pre, sizeof fg);
		fg[i] = v + h;
		wn_gate_forward_f64(z, fg, N, C);
		for (int j = 0; j < N * C; j++)
			lp += G[j] * z[j];
		memcpy(fg, pre, sizeof fg);
		fg[i] = v - h;
		wn_gate_forward_f64(z, fg, N, C);
		for (int j = 0; j < N * C; j++)
			lm += G[j] * z[j];
		worst = fmax(worst, fabs((lp - lm) / (2 * h) - dfg[i]));
	}
	tap_ok(worst < 1e-8, "gated unit: finite differences over filter and gate (max abs err %.1e)", worst);
}

/* embedded input: loss = Σ G·tab over the embedding and the conv's weight, and the table
 * against its definition tab[q][k][r] = Σ_e w[r][e][k]·emb[q][e] */
struct embed_fd {
	double *tab, *wpair;
	const double *emb, *w;
	int Q, E, R;
};
static void embed_fd_forward(void *ctx)
{
	struct embed_fd *c = ctx;
	wn_embed_taps_forward_f64(c->tab, c->wpair, c->emb, c->w, c->Q, c->E, c->R);
}

static void test_embed_fd(void)
{
	enum { Q = 6, E = 3, R = 4 };
	double emb[Q * E], w[R * E * 2], G[Q * 2 * R], tab[Q * 2 * R], wpair[2 * R * E];
	double demb[Q * E], dw[R * E * 2], dwpair[2 * R * E];
	fill_srand(emb, SH_ARRAY_LEN(emb));
	fill_srand(w, SH_ARRAY_LEN(w));
	fill_srand(G, SH_ARRAY_LEN(G));
	wn_embed_taps_forward_f64(tab, wpair, emb, w, Q, E, R);
	double def = 0;
	for (int q = 0; q < Q; q++)
		for (int k = 0; k < 2; k++)
			for (int r = 0; r < R; r++) {
				double v = 0;
				for (int e = 0; e < E; e++)
					v += w[(r * E + e) * 2 + k] * emb[q * E + e];
				def = fmax(def, fabs(v - tab[(q * 2 + k) * R + r]));
			}
	tap_ok(def < 1e-14, "embedded input: taps by code = conv weight · embedding (%.1e)", def);
	memset(demb, 0, sizeof demb), memset(dw, 0, sizeof dw);
	wn_embed_taps_backward_f64(demb, dw, dwpair, G, wpair, emb, Q, E, R);
	double *vars[2] = {emb, w}, *grads[2] = {demb, dw};
	size_t n[2] = {SH_ARRAY_LEN(emb), SH_ARRAY_LEN(w)};
	struct embed_fd ctx = {tab, wpair, emb, w, Q, E, R};
	double worst = kernel_fd(vars, grads, n, 2, G, tab, SH_ARRAY_LEN(G), embed_fd_forward, &ctx);
	tap_ok(worst < 1e-8,
	       "embedded input: finite differences over the embedding and the conv "
	       "weight (max abs err %.1e)",
	       worst);
}

struct scalar_fd {
	double *out, *sx;
	const uint16_t *const *rows;
	int B, L, W, R, Q;
	const double *w, *bias;
};
static void scalar_fd_forward(void *ctx)
{
	struct scalar_fd *c = ctx;
	wn_scalar_conv_forward_f64(c->out, c->sx, c->rows, c->B, c->L, c->W, c->R, c->Q, c->w, c->bias);
}

/* scalar input: loss = Σ G·out over w and bias, and out against its definition on two rows of
 * codes */
static void test_scalar_fd(void)
{
	enum { B = 2, L = 9, W = 5, R = 3, Q = 16 };
	uint16_t codes[B][L + W - 1];
	const uint16_t *rows[B];
	double w[R * W], bias[R], G[B * L * R], out[B * L * R], sx[B * L * W], dw[R * W], db[R];
	for (int b = 0; b < B; b++) {
		for (int i = 0; i < L + W - 1; i++)
			codes[b][i] = (uint16_t)(urand() * Q);
		rows[b] = codes[b];
	}
	fill_srand(w, SH_ARRAY_LEN(w));
	fill_srand(bias, SH_ARRAY_LEN(bias));
	fill_srand(G, SH_ARRAY_LEN(G));
	wn_scalar_conv_forward_f64(out, sx, rows, B, L, W, R, Q, w, bias);
	double def = 0;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < L; t++)
			for (int r = 0; r < R; r++) {
				double v = bias[r];
				for (int k = 0; k < W; k++)
					v += w[r * W + k] * (codes[b][t + k] / (Q / 2.0) - 1);
				def = fmax(def, fabs(v - out[(b * L + t) * R + r]));
			}
	tap_ok(def < 1e-14 && wn_code_scalar(Q / 2, Q) == 0 && wn_code_scalar(0, Q) == -1 &&
		       wn_code_scalar(Q - 1, Q) == 1 - 2.0f / Q,
	       "scalar input: out[t] = b + w·(s(c[t]) … s(c[t+W-1])), s = c/(Q/2) - 1 in [-1, 1), "
	       "s(Q/2) = 0 (%.1e)",
	       def);
	memset(dw, 0, sizeof dw), memset(db, 0, sizeof db);
	wn_scalar_conv_backward_f64(dw, db, G, sx, w, B, L, W, R);
	double *vars[2] = {w, bias}, *grads[2] = {dw, db};
	size_t n[2] = {SH_ARRAY_LEN(w), SH_ARRAY_LEN(bias)};
	struct scalar_fd ctx = {out, sx, rows, B, L, W, R, Q, w, bias};
	double worst = kernel_fd(vars, grads, n, 2, G, out, SH_ARRAY_LEN(G), scalar_fd_forward, &ctx);
	tap_ok(worst < 1e-8,
	       "scalar input (width %d): finite differences over w, bias (max abs "
	       "err %.1e)",
	       W, worst);
}

/* ---- whole-model finite differences in double ---- */

/* the input layer's configuration: embedding size 3, scalar width 4 */
static void set_input(wn_config *c, int input)
{
	c->input = input;
	c->embed = input == WN_INPUT_EMBED ? 3 : 0;
	c->initial_width = input == WN_INPUT_SCALAR ? 4 : 0;
}

static wn_config small_config(int input)
{
	wn_config c = {0};
	int dil[] = {1, 2, 1, 4};
	c.nlayers = 4;
	memcpy(c.dilation, dil, sizeof dil);
	c.res_ch = 3, c.dil_ch = 4, c.skip_ch = 5, c.levels = 7, c.n_out = 5, c.batch = 2;
	set_input(&c, input);
	return c;
}

struct model_fd {
	wn_f64 *m;
	const uint16_t *codes;
	int B;
};
static double model_fd_loss(void *ctx)
{
	struct model_fd *f = ctx;
	return wn_forward_f64(f->m, f->codes, f->B);
}

static void test_model_fd(int input)
{
	wn_config c = small_config(input);
	const int B = 2, T = wn_receptive_field(&c) + c.n_out;
	wn_f64 *m = wn_create_f64(&c, B);
	if (!tap_ok(m != NULL, "double model created"))
		return;
	wn_init_params_f64(m, 7);
	size_t np = wn_num_params_f64(m);
	double *p = wn_params_f64(m), *g = wn_grads_f64(m);
	uint16_t *codes = walk_codes(B, T, c.levels, 4);
	memset(g, 0, sizeof(double) * np);
	wn_forward_backward_f64(m, codes, B);
	double *ga = malloc(sizeof(double) * np);
	memcpy(ga, g, sizeof(double) * np);
	struct model_fd ctx = {m, codes, B};
	size_t wi;
	double wnum, gmax;
	double worst = fd_worst_rel(p, ga, np, 1e-5, model_fd_loss, &ctx, &wi, &wnum, &gmax);
	int zero_res = 1;
	for (int i = 0; i < wn_param_count_f64(m); i++) {
		const wn_param *pi = wn_param_info_f64(m, i);
		if (!strncmp(pi->name, "res.3.", 6))
			for (size_t j = 0; j < pi->count; j++)
				zero_res &= ga[pi->offset + j] == 0;
	}
	tap_diag("worst element: analytic %.9e, numeric %.9e, largest gradient %.3e", ga[wi], wnum, gmax);
	tap_ok(worst < 1e-6,
	       "whole model, %s input: finite differences over all %zu parameters, "
	       "max rel err %.2e (%s)",
	       wn_input_name(input), np, worst, param_name_at(info64, m, wi));
	tap_ok(zero_res, "the last layer's residual conv feeds nothing: zero gradient");
	free(ga), free(codes);
	wn_free_f64(m);
}

/* ---- float against double; determinism; accumulation; batch sizes ---- */

static void test_float_double(int input)
{
	wn_config c = {0};
	int dil[] = {1, 2, 4, 8, 16, 1, 2, 4};
	c.nlayers = 8;
	memcpy(c.dilation, dil, sizeof dil);
	c.res_ch = 12, c.dil_ch = 10, c.skip_ch = 24, c.levels = 64, c.n_out = 40, c.batch = 3;
	set_input(&c, input);
	if (input == WN_INPUT_SCALAR) /* rf 46: a row of 96 targets still splits in two */
		c.initial_width = 8;
	tap_diag("%s input", wn_input_name(input));
	const int B = 3, T = wn_receptive_field(&c) + c.n_out;
	wn *m = wn_create(&c, B);
	wn_f64 *md = wn_create_f64(&c, B);
	if (!tap_ok(m && md, "float and double models"))
		return;
	wn_init_params(m, 11);
	size_t np = wn_num_params(m);
	for (size_t i = 0; i < np; i++)
		wn_params_f64(md)[i] = wn_params(m)[i];
	uint16_t *codes = walk_codes(B, T, c.levels, 4);
	memset(wn_grads(m), 0, sizeof(float) * np);
	memset(wn_grads_f64(md), 0, sizeof(double) * np);
	double lf = wn_forward_backward(m, codes, B), ld = wn_forward_backward_f64(md, codes, B);
	double gs = 0, gd = 0, pd = 0;
	for (size_t i = 0; i < np; i++) {
		gs = fmax(gs, fabs(wn_grads_f64(md)[i]));
		gd = fmax(gd, fabs(wn_grads(m)[i] - wn_grads_f64(md)[i]));
	}
	for (size_t i = 0; i < (size_t)B * c.n_out * c.levels; i++)
		pd = fmax(pd, fabs(wn_last_probs(m)[i] - wn_last_probs_f64(md)[i]));
	tap_ok(fabs(lf - ld) < 1e-5 * ld && gd < 1e-4 * gs && pd < 1e-5,
	       "float agrees with double (loss %.1e, gradients %.1e of the largest, probabilities %.1e)",
	       fabs(lf - ld) / ld, gd / gs, pd);

	/* same inputs → same bytes; gradients accumulate */
	float *g1 = malloc(sizeof(float) * np);
	memcpy(g1, wn_grads(m), sizeof(float) * np);
	memset(wn_grads(m), 0, sizeof(float) * np);
	double l2 = wn_forward_backward(m, codes, B);
	tap_ok(l2 == lf && !memcmp(g1, wn_grads(m), sizeof(float) * np), "the same batch twice gives the same bytes");
	wn_forward_backward(m, codes, B);
	double e = 0;
	for (size_t i = 0; i < np; i++)
		e = fmax(e, fabs(wn_grads(m)[i] - 2 * g1[i]));
	tap_ok(e < 1e-6, "gradients accumulate over calls (%.1e)", e);

	/* one thread (the kernels threaded, here on one) against the rows split across threads */
#ifdef _OPENMP
	int nt = omp_get_max_threads();
	omp_set_num_threads(1);
	memset(wn_grads(m), 0, sizeof(float) * np);
	double l1t = wn_forward_backward(m, codes, B);
	memcpy(g1, wn_grads(m), sizeof(float) * np);
	omp_set_num_threads(nt > 1 ? nt : 2);
	memset(wn_grads(m), 0, sizeof(float) * np);
	double lnt = wn_forward_backward(m, codes, B);
	omp_set_num_threads(nt);
	double td = 0;
	for (size_t i = 0; i < np; i++)
		td = fmax(td, fabs(wn_grads(m)[i] - g1[i]));
	tap_ok(fabs(l1t - lnt) < 1e-6 && td < 1e-6 * gs,
	       "rows split across threads = one thread "
	       "(loss %.1e, gradients %.1e)",
	       fabs(l1t - lnt), td);
#endif
#ifdef _OPENMP
	/* one row on a model made for one row under 2 threads is split in two virtual rows (each
	 * with its own receptive field); under 1 thread it is not */
	{
		wn_config cs = c;
		cs.n_out = 96;
		const int Ts = wn_receptive_field(&cs) + cs.n_out;
		uint16_t *cc = walk_codes(1, Ts, cs.levels, 4);
		omp_set_num_threads(1);
		wn *a = wn_create(&cs, 1);
		omp_set_num_threads(2);
		wn *s2 = wn_create(&cs, 1);
		memcpy(wn_params(a), wn_params(m), sizeof(float) * np);
		memcpy(wn_params(s2), wn_params(m), sizeof(float) * np);
		memset(wn_grads(a), 0, sizeof(float) * np);
		memset(wn_grads(s2), 0, sizeof(float) * np);
		double la = wn_forward_backward(a, cc, 1);
		double ls = wn_forward_backward(s2, cc, 1);
		omp_set_num_threads(nt);
		double sd = 0, sp = 0;
		for (size_t i = 0; i < np; i++)
			sd = fmax(sd, fabs(wn_grads(a)[i] - wn_grads(s2)[i]));
		for (size_t i = 0; i < (size_t)cs.n_out * cs.levels; i++)
			sp = fmax(sp, fabs(wn_last_probs(a)[i] - wn_last_probs(s2)[i]));
		tap_ok(wn_rows_split(a) == 1 && wn_rows_split(s2) == 2 && fabs(la - ls) < 1e-6 && sd < 1e-6 * gs &&
			       sp < 1e-6,
		       "a row split in %d virtual rows = the whole row "
		       "(loss %.1e, gradients %.1e, probabilities %.1e)",
		       wn_rows_split(s2), fabs(la - ls), sd, sp);
		wn_free(a), wn_free(s2);
		free(cc);
	}
#endif
	/* rows are independent: row 1 alone on a model for one row gives its share */
	wn *m1 = wn_create(&c, 1);
	memcpy(wn_params(m1), wn_params(m), sizeof(float) * np);
	wn_forward(m, codes, B);
	wn_forward(m1, codes + T, 1);
	double rd = 0;
	const float *pa = wn_last_probs(m) + (size_t)c.n_out * c.levels, *pb = wn_last_probs(m1);
	for (size_t i = 0; i < (size_t)c.n_out * c.levels; i++)
		rd = fmax(rd, fabs(pa[i] - pb[i]));
	tap_ok(rd < 1e-6, "a row's probabilities do not depend on the other rows (%.1e)", rd);
	/* causality: changing the targets does not change their probabilities. (Larger weights
	 * than the initialisation's, so that the first code's one path to the first prediction,
	 * through every layer's past tap, survives float rounding.) */
	for (size_t i = 0; i < np; i++)
		wn_params(m1)[i] *= 2.5f;
	uint16_t *c2 = malloc(sizeof(uint16_t) * T);
	memcpy(c2, codes + T, sizeof(uint16_t) * T);
	float *before = malloc(sizeof(float) * c.n_out * c.levels);
	wn_forward(m1, c2, 1);
	memcpy(before, wn_last_probs(m1), sizeof(float) * c.n_out * c.levels);
	c2[T - 1] = (uint16_t)((c2[T - 1] + 17) % c.levels);
	wn_forward(m1, c2, 1);
	tap_ok(!memcmp(before, wn_last_probs(m1), sizeof(float) * c.n_out * c.levels),
	       "causal: the last code does not change any prediction");
	c2[T - 2] = (uint16_t)((c2[T - 2] + 17) % c.levels);
	wn_forward(m1, c2, 1);
	const float *after = wn_last_probs(m1);
	size_t last = (size_t)(c.n_out - 1) * c.levels;
	tap_ok(!memcmp(before, after, last * sizeof(float)) &&
		       memcmp(before + last, after + last, sizeof(float) * c.levels),
	       "the code before the last changes only the last prediction");
	c2[0] = (uint16_t)((c2[0] + 17) % c.levels);
	memcpy(before, after, sizeof(float) * c.n_out * c.levels);
	wn_forward(m1, c2, 1);
	tap_ok(memcmp(before, wn_last_probs(m1), sizeof(float) * c.levels) &&
		       !memcmp(before + c.levels, wn_last_probs(m1) + c.levels,
			       sizeof(float) * (c.n_out - 1) * c.levels),
	       "the first code of a row reaches only the first prediction (receptive field %d)",
	       wn_receptive_field(&c));
	free(c2), free(before), free(g1), free(codes);
	wn_free(m1), wn_free(m), wn_free_f64(md);
}

/* ---- configuration, metadata, refusals ---- */

static void test_config(void)
{
	wn_config c;
	tap_ok(wn_preset("default", &c) == 0 && c.nlayers == 50 && c.dilation[9] == 512 && c.dilation[10] == 1 &&
		       c.res_ch == 32 && c.dil_ch == 32 && c.skip_ch == 512 && c.levels == 256 && c.batch == 1 &&
		       c.n_out == 16000 && wn_receptive_field(&c) == 5117,
	       "default preset: the peer's (50 layers, rf 5117)");
	tap_ok(wn_preset("tiny", &c) == 0 && c.nlayers == 7 && c.dilation[6] == 64 && c.res_ch == 16 &&
		       c.skip_ch == 64 && c.batch == 4 && c.n_out == 2048 && wn_receptive_field(&c) == 129,
	       "tiny preset: the peer's (7 layers, rf 129)");
	tap_ok(wn_preset("huge", &c) == -1, "unknown preset: %s", sh_errmsg());
	wn_preset("default", &c);
	double fl = wn_train_flops(&c, 1);
	tap_ok(fl > 8e10 && fl < 2e11, "default preset: %.1f GFLOP per training step", fl / 1e9);

	c.input = WN_INPUT_SCALAR, c.initial_width = 32;
	tap_ok(wn_config_check(&c) == 0 && wn_receptive_field(&c) == 5147 && wn_train_flops(&c, 1) > fl,
	       "default preset with scalar input of width 32: rf 5147 = "
	       "(2 - 1)·Σd + 1 + (32 - 1)");
	c.input = WN_INPUT_EMBED, c.initial_width = 0, c.embed = 32;
	tap_ok(wn_config_check(&c) == 0 && wn_receptive_field(&c) == 5117, "embedded input: rf 5117");
	c.embed = 0;
	tap_ok(wn_config_check(&c) == -1 && strstr(sh_errmsg(), "embedding size 0"),
	       "embedded input without a size: %s", sh_errmsg());
	c.input = WN_INPUT_ONEHOT, c.initial_width = 5;
	tap_ok(wn_config_check(&c) == -1 && strstr(sh_errmsg(), "scalar input only"),
	       "an initial width on one-hot input: %s", sh_errmsg());
	c.input = WN_INPUT_SCALAR, c.initial_width = WN_MAX_INITIAL_WIDTH + 1;
	tap_ok(wn_config_check(&c) == -1 && strstr(sh_errmsg(), "initial width"), "initial width too large: %s",
	       sh_errmsg());
	int in = -1;
	tap_ok(wn_input_parse("scalar", &in) == 0 && in == WN_INPUT_SCALAR && wn_input_parse("mixed", &in) == -1 &&
		       strstr(sh_errmsg(), "onehot, embed, scalar"),
	       "input names: %s", sh_errmsg());

	/* metadata round trip through a file, for each input layer; "input" = "mixed" refused, no
	 * "input" read as one-hot */
	const char *rf_want[] = {"10", "10", "12"}, *key[] = {NULL, "embed", "initial_width"};
	for (int k = 0; k < 5; k++) { /* onehot, embed, scalar, "mixed", no "input" */
		const int input = k <= WN_INPUT_SCALAR ? k : WN_INPUT_ONEHOT;
		wn_config a = small_config(input), b;
		a.levels = 256;
		st_writer w, w2;
		st_writer_init(&w);
		st_writer_init(&w2);
		float one = 1;
		int64_t shp[1] = {1};
		char path[] = "/tmp/test_wavenet_XXXXXX";
		int fd = mkstemp(path);
		close(fd);
		st_file sf;
		int ok = st_add_f32(&w, "x", 1, shp, &one) == 0 && wn_config_to_meta(&a, &w) == 0;
		if (k == 3)
			ok = ok && st_set_meta(&w, "input", "mixed") == 0;
		if (k == 4) { /* a checkpoint from before the input layers had a name */
			ok = ok && st_add_f32(&w2, "x", 1, shp, &one) == 0;
			for (int i = 0; ok && i < w.nmeta; i++)
				if (strcmp(w.meta_key[i], "input"))
					ok = st_set_meta(&w2, w.meta_key[i], w.meta_val[i]) == 0;
		}
		ok = ok && st_save(k == 4 ? &w2 : &w, path) == 0 && st_load(path, &sf) == 0;
		st_writer_free(&w);
		st_writer_free(&w2);
		int back = ok ? wn_config_from_meta(&sf, &b) : -1;
		if (k < 3)
			tap_ok(ok && back == 0 && !memcmp(&a, &b, sizeof a) &&
				       !strcmp(st_meta(&sf, "input"), wn_input_name(input)) &&
				       !strcmp(st_meta(&sf, "dilations"), "1,2,1,4") &&
				       !strcmp(st_meta(&sf, "receptive_field"), rf_want[k]) &&
				       !st_meta(&sf, key[1 + (k == 1)]) && (!key[k] || st_meta(&sf, key[k])),
			       "%s input: config → metadata → config round trip (dilations \"%s\", rf %s, "
			       "%s %s)",
			       wn_input_name(input), ok ? st_meta(&sf, "dilations") : "?",
			       ok ? st_meta(&sf, "receptive_field") : "?", key[k] ? key[k] : "no input key",
			       ok && key[k] ? st_meta(&sf, key[k]) : "");
		else if (k == 3)
			tap_ok(ok && back == -1 && strstr(sh_errmsg(), "input 'mixed'"),
			       "an unknown input layer is refused: %s", sh_errmsg());
		else
			tap_ok(ok && back == 0 && !memcmp(&a, &b, sizeof a) && !st_meta(&sf, "input"),
			       "metadata without \"input\" reads as one-hot");
		if (ok)
			st_free(&sf);
		unlink(path);
	}

	wn_config p = {0};
	tap_ok(wn_parse_dilations("1..512x5", &p) == 0 && p.nlayers == 50 && p.dilation[49] == 512,
	       "dilations \"1..512x5\"");
	tap_ok(wn_parse_dilations("1,2,x", &p) == -1, "bad dilations: %s", sh_errmsg());
	tap_ok(wn_parse_dilations("1,0", &p) == -1, "zero dilation refused");

	wn_config s = small_config(WN_INPUT_ONEHOT);
	wn *m = wn_create(&s, 2);
	const int T = wn_receptive_field(&s) + s.n_out;
	uint16_t *codes = calloc((size_t)2 * T, sizeof(uint16_t));
	codes[T + 3] = 7;
	tap_ok(isnan(wn_forward(m, codes, 2)) && strstr(sh_errmsg(), "code 7 at row 1, position 3"),
	       "a code beyond the levels is refused: %s", sh_errmsg());
	codes[T + 3] = 0;
	tap_ok(isnan(wn_forward(m, codes, 3)), "a batch beyond the model's is refused: %s", sh_errmsg());
	tap_ok(wn_param_find(m, "skip.2.bias") && wn_param_find(m, "skip.2.bias")->count == 5 &&
		       !wn_param_find(m, "skip.9.bias"),
	       "parameters found by name");
	free(codes);
	wn_free(m);
	s.dil_ch = 0;
	tap_ok(!wn_create(&s, 2) && strstr(sh_errmsg(), "dilation channels"), "bad config: %s", sh_errmsg());
}

int main(void)
{
	for (int input = WN_INPUT_ONEHOT; input <= WN_INPUT_SCALAR; input++)
		test_peer(fixtures[input], input);
	test_dconv_fd();
	test_gate_fd();
	test_embed_fd();
	test_scalar_fd();
	for (int input = WN_INPUT_ONEHOT; input <= WN_INPUT_SCALAR; input++)
		test_model_fd(input);
	for (int input = WN_INPUT_ONEHOT; input <= WN_INPUT_SCALAR; input++)
		test_float_double(input);
	test_config();
	return tap_done();
}
