/* wavenet_real.c: the WaveNet model of wavenet.h (see docs/wavenet.md), forward and backward
 * over one training step, on the layers of nn.h. Built in float (production) and in double
 * (-DREAL_F64, names suffixed _f64) for finite-difference tests.
 *
 * Layout: every activation is batch-major with the channels innermost, [B × positions × ch],
 * so that a dilated conv over all positions of all rows is one gemm on the interleaved pairs
 * (x[t], x[t+d]) against the torch weight [O × In × 2] as it lies in the parameters (filter
 * and gate are allocated side by side, so both convs of a layer are one [2C × 2R] product).
 * The input layer (wn_input) is one of three. One-hot: the causal conv is a gather of two rows
 * per position from a [Q × 2 × R] table of its taps by code. Embedded: the embedding and the
 * causal conv are linear in the embedding table, so the same [Q × 2 × R] table is made once per
 * step as embed.weight · (the conv's taps) and gathered the same way; the backward scatters
 * into its gradient as for one-hot and then takes the two factors' gradients from it (two
 * small products). Scalar: the W codes before each position, as scalars, are laid side by side
 * [B·L0 × W] and meet causal.weight [R × W] in one product. The skip convs of all
 * layers are one product of the concatenated z tails [B·n_out × nl·C] against the skip
 * weights repacked side by side [S × nl·C]; only the last n_out positions of each layer are
 * computed there. The residual conv of the last layer feeds nothing and is skipped (its
 * gradient is zero, as torch's would be: None).
 *
 * Memory: kept per layer for the backward are its input x [B × L_l × R] and its activated
 * filter/gate [B × L_{l+1} × 2C]; z is recomputed from them. One arena holds everything. */
/* before the includes, as in nn_real.c: exp_fast inlines into the gate only with the same options */
#pragma GCC optimize("no-math-errno", "no-trapping-math")
#include "wavenet.h"
#include "fastmath.h"
#include "nn.h"
#include "params.h"
#include "rng.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "real_f64.h" /* last: renames this file's functions under REAL_F64 */

#ifdef REAL_F64
typedef double real;
#define MODEL wn_f64
#define EXP exp
#else
typedef float real;
#define MODEL wn
#define EXP exp_fast
#endif

#define HOT SH_HOT

#define PAR_MIN 32768 /* elementwise loops shorter than this stay on one thread */

/* ---- kernels ---- */

/* xs[(b, t)] = interleave(x[b,t], x[b,t+d]) for t < L-d */
HOT static void stack_pairs(real *xs, const real *x, int B, int L, int In, int d)
{
	const int Lo = L - d;
#pragma omp parallel for schedule(static) if ((size_t)B * Lo * In >= PAR_MIN)
	for (long n = 0; n < (long)B * Lo; n++) {
		long b = n / Lo, t = n % Lo;
		const real *p = x + ((size_t)b * L + t) * In, *c = p + (size_t)d * In;
		real *o = xs + (size_t)n * 2 * In;
#pragma omp simd
		for (int i = 0; i < In; i++) {
			o[2 * i] = p[i];
			o[2 * i + 1] = c[i];
		}
	}
}

void wn_dconv_forward(real *out, real *xs, const real *x, const real *w, const real *bias, int B, int L, int In, int O,
		      int d)
{
	stack_pairs(xs, x, B, L, In, d);
	linear_forward(out, xs, w, bias, B * (L - d), 2 * In, O, 0);
}

/* dx[b,t] += dxs[(b,t)] even part; dx[b,t+d] += odd part. Threads own rows b and, within a
 * row, bands of positions t, taken in two passes (even taps, then odd) so that no two threads
 * write the same value. */
HOT static void unstack_pairs_add(real *dx, const real *dxs, int B, int L, int In, int d)
{
	const int Lo = L - d;
	for (int k = 0; k < 2; k++) {
#pragma omp parallel for schedule(static) if ((size_t)B * Lo * In >= PAR_MIN)
		for (long n = 0; n < (long)B * Lo; n++) {
			long b = n / Lo, t = n % Lo;
			real *o = dx + ((size_t)b * L + t + (size_t)k * d) * In;
			const real *s = dxs + (size_t)n * 2 * In + k;
#pragma omp simd
			for (int i = 0; i < In; i++)
				o[i] += s[2 * i];
		}
	}
}

void wn_dconv_backward(real *dx, real *dw, real *dbias, real *dxs, const real *dout, const real *xs, const real *w,
		       int B, int L, int In, int O, int d)
{
	const int N = B * (L - d);
	linear_backward(NULL, dw, dbias, dout, xs, w, N, 2 * In, O);
	if (dx) { /* dxs = dout·w, written */
		nn_gemm(0, 0, N, 2 * In, O, 1, dout, O, w, 2 * In, 0, dxs, 2 * In);
		unstack_pairs_add(dx, dxs, B, L, In, d);
	}
}

HOT void wn_gate_forward(real *z, real *fg, size_t N, int C)
{
#pragma omp parallel for schedule(static) if (N * C >= PAR_MIN)
	for (size_t n = 0; n < N; n++) {
		real *f = fg + n * 2 * C, *g = f + C, *zz = z + n * C;
#pragma omp simd
		for (int c = 0; c < C; c++) {
			real t = 2 / (1 + EXP(-2 * f[c])) - 1;
			real s = 1 / (1 + EXP(-g[c]));
			f[c] = t, g[c] = s, zz[c] = t * s;
		}
	}
}

HOT void wn_gate_backward(real *dfg, const real *dz, const real *fg, size_t N, int C)
{
#pragma omp parallel for schedule(static) if (N * C >= PAR_MIN)
	for (size_t n = 0; n < N; n++) {
		const real *t = fg + n * 2 * C, *s = t + C, *d = dz + n * C;
		real *df = dfg + n * 2 * C, *dg = df + C;
#pragma omp simd
		for (int c = 0; c < C; c++) {
			df[c] = d[c] * s[c] * (1 - t[c] * t[c]);
			dg[c] = d[c] * t[c] * s[c] * (1 - s[c]);
		}
	}
}

/* z = t·s from activated fg */
HOT static void gate_product(real *z, const real *fg, size_t N, int C)
{
#pragma omp parallel for schedule(static) if (N * C >= PAR_MIN)
	for (size_t n = 0; n < N; n++) {
		const real *t = fg + n * 2 * C, *s = t + C;
		real *zz = z + n * C;
#pragma omp simd
		for (int c = 0; c < C; c++)
			zz[c] = t[c] * s[c];
	}
}

/* embedded input: wpair [2R × E] (row k·R + r = w[r, :, k]) and tab [Q × 2R] = emb · wpairᵀ */
void wn_embed_taps_forward(real *tab, real *wpair, const real *emb, const real *w, int Q, int E, int R)
{
	for (int r = 0; r < R; r++)
		for (int e = 0; e < E; e++)
			for (int k = 0; k < 2; k++)
				wpair[((size_t)k * R + r) * E + e] = w[((size_t)r * E + e) * 2 + k];
	nn_gemm(0, 1, Q, 2 * R, E, 1, emb, E, wpair, E, 0, tab, 2 * R);
}

/* demb += dtab · wpair; dwpair = dtabᵀ · emb (written), dw += it in torch's layout */
void wn_embed_taps_backward(real *demb, real *dw, real *dwpair, const real *dtab, const real *wpair, const real *emb,
			    int Q, int E, int R)
{
	nn_gemm(0, 0, Q, E, 2 * R, 1, dtab, 2 * R, wpair, E, 1, demb, E);
	nn_gemm(1, 0, 2 * R, E, Q, 1, dtab, 2 * R, emb, E, 0, dwpair, E);
	for (int r = 0; r < R; r++)
		for (int e = 0; e < E; e++)
			for (int k = 0; k < 2; k++)
				dw[((size_t)r * E + e) * 2 + k] += dwpair[((size_t)k * R + r) * E + e];
}

void wn_scalar_conv_forward(real *out, real *sx, const uint16_t *const *rows, int B, int L, int W, int R, int Q,
			    const real *w, const real *bias)
{
	for (int b = 0; b < B; b++)
		for (int t = 0; t < L; t++)
			for (int k = 0; k < W; k++)
				sx[((size_t)b * L + t) * W + k] = (real)wn_code_scalar(rows[b][t + k], Q);
	linear_forward(out, sx, w, bias, B * L, W, R, 0);
}

void wn_scalar_conv_backward(real *dw, real *dbias, const real *dout, const real *sx, const real *w, int B, int L,
			     int W, int R)
{
	linear_backward(NULL, dw, dbias, dout, sx, w, B * L, W, R);
}

/* ---- the model ---- */

typedef struct {
	int d, L;        /* dilation, input positions per row (output: L - d) */
	size_t fgw, fgb; /* filt.l.weight then gate.l.weight [2C × R × 2]; filt.l.bias,
	                           gate.l.bias [2C] */
	size_t resw, resb, skipw, skipb;
	real *x;  /* [B × L × R] input */
	real *fg; /* [B × (L-d) × 2C] tanh(filter), σ(gate) */
} layer;

struct MODEL {
	wn_config cfg;
	int max_batch, nl, R, C, Sk, Q, rf;
	int input, E, win; /* wn_input, embedding size (embed), input conv width (2 or W) */
	/* A row of the caller's (T_row = rf + n_out codes) is computed as `split` virtual rows of
	 * nout = n_out / split targets, each with its own rf codes before them (T = rf + nout):
	 * with fewer rows than threads, the threads then still take whole (virtual) rows, at the
	 * cost of recomputing the layers over rf extra positions per virtual row. */
	int split, nout, T, n_out, T_row;
	layer *lay;
	size_t embw, causw, causb, p1w, p1b, p2w, p2b;

	param_table pt;
	real *params, *grads; /* [pt.total] each */

	/* everything below with a batch dimension is batch-major, so that a part of the rows
	 * (one per thread, see forward_backward) works on a contiguous slice of it */
	void *arena;
	real *tab;             /* [Q × 2 × R] the causal conv's taps by code (one-hot, embed) */
	real *wpair;           /* embed: [2 × R × E] causal.weight with the taps outermost */
	real *sx;              /* scalar: [B·L0 × W] the W scalars before each position */
	const uint16_t **rowp; /* scalar: [B] the first code of each (virtual) row */
	real *wcat, *sbias;    /* [S × nl·C] skip weights side by side; [S] Σ skip biases */
	real *zcat;            /* [N × nl·C] z tails (forward), then their gradient */
	real *h1, *h2;         /* [N × S] ReLU(Σ skips), ReLU(post1) */
	real *probs, *dlogits; /* [N × Q] */
	real *da, *db;         /* [N × S] */
	real *xs, *dxs;        /* [B·L0 × 2R] */
	real *z, *dz;          /* [B·L0 × C] */
	real *dfg;             /* [B·L0 × 2C] */
	real *dx0, *dx1;       /* [B·L0 × R] */
	int32_t *targets;      /* [N] */
	/* per part (thread): gradients (parts after the first; the first accumulates into grads
	 * when it is alone), the causal taps' and side-by-side skip weights' gradients */
	int maxparts;
	real *pgrads; /* [maxparts × pt.total] */
	real *dtab;   /* [maxparts × Q × 2 × R] */
	real *dwpair; /* embed: [maxparts × 2 × R × E] */
	real *dwcat;  /* [maxparts × S × nl·C] */
	real *dsb;    /* [maxparts × S] */
	const uint16_t *codes;
	int batch;
};

/* One thread's share of a step: rows b0 .. b0 + B - 1 */
typedef struct {
	int k, b0, B;
	real *grads, *dtab, *dwpair, *dwcat, *dsb;
	double nll; /* Σ -log p over its targets */
} part;

static size_t add_param(struct MODEL *m, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2)
{
	return param_table_add(&m->pt, name, ndim, d0, d1, d2);
}

#define TAKE(n) ((real *)sh_arena_take(&a, sizeof(real) * (size_t)(n)))

static size_t layout(struct MODEL *m, unsigned char *base)
{
	sh_arena a = {base, 0};
	const size_t B = (size_t)m->max_batch * m->split, R = m->R, C = m->C, Sk = m->Sk, Q = m->Q;
	const size_t nl = m->nl, N = B * m->nout, L0 = m->lay[0].L, P = m->maxparts;
	for (int l = 0; l < m->nl; l++) {
		layer *y = &m->lay[l];
		y->x = TAKE(B * y->L * R);
		y->fg = TAKE(B * (y->L - y->d) * 2 * C);
	}
	m->tab = TAKE(Q * 2 * R);
	m->wpair = TAKE(m->input == WN_INPUT_EMBED ? 2 * R * m->E : 0);
	m->sx = TAKE(m->input == WN_INPUT_SCALAR ? B * L0 * m->win : 0);
	m->wcat = TAKE(Sk * nl * C);
	m->sbias = TAKE(Sk);
	m->zcat = TAKE(N * nl * C);
	m->h1 = TAKE(N * Sk);
	m->h2 = TAKE(N * Sk);
	m->probs = TAKE(N * Q);
	m->dlogits = TAKE(N * Q);
	m->da = TAKE(N * Sk);
	m->db = TAKE(N * Sk);
	m->xs = TAKE(B * L0 * 2 * R);
	m->dxs = TAKE(B * L0 * 2 * R);
	m->z = TAKE(B * L0 * C);
	m->dz = TAKE(B * L0 * C);
	m->dfg = TAKE(B * L0 * 2 * C);
	m->dx0 = TAKE(B * L0 * R);
	m->dx1 = TAKE(B * L0 * R);
	m->pgrads = TAKE((P - 1) * m->pt.total);
	m->dtab = TAKE(P * Q * 2 * R);
	m->dwpair = TAKE(m->input == WN_INPUT_EMBED ? P * 2 * R * m->E : 0);
	m->dwcat = TAKE(P * Sk * nl * C);
	m->dsb = TAKE(P * Sk);
	m->targets = sh_arena_take(&a, sizeof(int32_t) * N);
	m->rowp = sh_arena_take(&a, sizeof(uint16_t *) * B);
	return a.used;
}

MODEL *wn_create(const wn_config *cfg, int max_batch)
{
	if (wn_config_check(cfg))
		return NULL;
	if (max_batch < 1)
		return sh_error("batch %d: must be positive", max_batch), NULL;
	struct MODEL *m = sh_alloc(sizeof *m);
	if (!m)
		return NULL;
	m->cfg = *cfg;
	m->max_batch = max_batch;
	m->nl = cfg->nlayers, m->R = cfg->res_ch, m->C = cfg->dil_ch, m->Sk = cfg->skip_ch;
	m->Q = cfg->levels, m->n_out = cfg->n_out, m->rf = wn_receptive_field(cfg);
	m->input = cfg->input, m->E = cfg->embed, m->win = wn_input_width(cfg);
	m->T_row = m->rf + m->n_out;
	int nt = 1;
#ifdef _OPENMP
	nt = omp_get_max_threads();
#endif
	/* split rows when there are fewer than threads, if the targets divide evenly and each
	 * part keeps at least rf of them (so that recomputation stays below half the conv work) */
	m->split = 1;
	for (int k = (nt + max_batch - 1) / max_batch; k > 1 && m->split == 1; k--)
		if (m->n_out % k == 0 && m->n_out / k >= m->rf)
			m->split = k;
	m->nout = m->n_out / m->split;
	m->T = m->rf + m->nout;
	const int nl = m->nl, R = m->R, C = m->C, Sk = m->Sk, Q = m->Q;
	m->lay = sh_alloc(sizeof(layer) * nl);
	if (!m->lay || param_table_init(&m->pt, 8 * nl + 8))
		goto fail;
	char buf[32];
	if (m->input == WN_INPUT_EMBED) {
		m->embw = add_param(m, "embed.weight", 2, Q, m->E, 0);
		m->causw = add_param(m, "causal.weight", 3, R, m->E, 2);
	} else if (m->input == WN_INPUT_SCALAR) {
		m->causw = add_param(m, "causal.weight", 3, R, 1, m->win);
	} else {
		m->causw = add_param(m, "causal.weight", 3, R, Q, 2);
	}
	m->causb = add_param(m, "causal.bias", 1, R, 0, 0);
	int L = m->T - m->win;
	for (int l = 0; l < nl; l++) {
		layer *y = &m->lay[l];
		y->d = cfg->dilation[l], y->L = L;
		L -= y->d;
		snprintf(buf, sizeof buf, "filt.%d.weight", l);
		y->fgw = add_param(m, buf, 3, C, R, 2);
		snprintf(buf, sizeof buf, "gate.%d.weight", l);
		add_param(m, buf, 3, C, R, 2);
		snprintf(buf, sizeof buf, "filt.%d.bias", l);
		y->fgb = add_param(m, buf, 1, C, 0, 0);
		snprintf(buf, sizeof buf, "gate.%d.bias", l);
		add_param(m, buf, 1, C, 0, 0);
		snprintf(buf, sizeof buf, "res.%d.weight", l);
		y->resw = add_param(m, buf, 3, R, C, 1);
		snprintf(buf, sizeof buf, "res.%d.bias", l);
		y->resb = add_param(m, buf, 1, R, 0, 0);
		snprintf(buf, sizeof buf, "skip.%d.weight", l);
		y->skipw = add_param(m, buf, 3, Sk, C, 1);
		snprintf(buf, sizeof buf, "skip.%d.bias", l);
		y->skipb = add_param(m, buf, 1, Sk, 0, 0);
	}
	m->p1w = add_param(m, "post1.weight", 3, Sk, Sk, 1);
	m->p1b = add_param(m, "post1.bias", 1, Sk, 0, 0);
	m->p2w = add_param(m, "post2.weight", 3, Q, Sk, 1);
	m->p2b = add_param(m, "post2.bias", 1, Q, 0, 0);

	m->maxparts = 1;
#ifdef _OPENMP
	m->maxparts = omp_get_max_threads();
#endif
	m->maxparts = m->maxparts < max_batch * m->split ? m->maxparts : max_batch * m->split;
	m->maxparts = m->maxparts < 1 ? 1 : m->maxparts > 64 ? 64 : m->maxparts;
	if (nn_model_alloc(&m->pt, &m->params, &m->grads, layout(m, NULL), &m->arena) < 0)
		goto fail;
	layout(m, m->arena);
	return m;
fail:
	wn_free(m);
	return NULL;
}

void wn_free(MODEL *m)
{
	if (!m)
		return;
	nn_model_free(&m->pt, m->params, m->grads, m->arena);
	free(m->lay);
	free(m);
}

#ifndef REAL_F64
const wn_config *wn_cfg(const wn *m) { return &m->cfg; }
int wn_rows_split(const wn *m) { return m->split; }
const wn_param *wn_param_find(const wn *m, const char *name) { return param_table_find(&m->pt, name); }
#endif
size_t wn_num_params(const MODEL *m) { return m->pt.total; }
real *wn_params(MODEL *m) { return m->params; }
real *wn_grads(MODEL *m) { return m->grads; }
int wn_param_count(const MODEL *m) { return m->pt.n; }
const wn_param *wn_param_info(const MODEL *m, int i) { return param_table_info(&m->pt, i); }
const real *wn_last_probs(const MODEL *m) { return m->probs; }

void wn_init_params(MODEL *m, uint64_t seed)
{
	sh_rng r;
	sh_rng_seed(&r, seed);
	/* every conv's tensors uniform in ±1/√fan_in: fan_in = in_channels × width; the embedding
	 * standard normal (torch's nn.Embedding) */
	for (int i = 0; i < m->pt.n; i++) {
		const wn_param *p = &m->pt.info[i];
		if (p->ndim == 2) /* embed.weight */
			nn_fill_normal(m->params + p->offset, p->count, 1, &r);
		else
			nn_fill_uniform(m->params + p->offset, p->count, 1 / sqrt(param_fan_in(&m->pt, i)), &r);
	}
}

static void zero(real *x, size_t n) { memset(x, 0, sizeof(real) * n); }

/* the first of the T codes of virtual row v */
static const uint16_t *vrow(const struct MODEL *m, int v)
{
	return m->codes + (size_t)(v / m->split) * m->T_row + (size_t)(v % m->split) * m->nout;
}

/* ---- forward ---- */

/* What every part shares, made once per step: the causal taps by code (one-hot: the weight's
 * columns; embed: the embedding times the conv's taps, tab[q][k] = W[:, :, k]·E[q]), the skip
 * weights side by side and the sum of the skip biases. */
static void prepare(struct MODEL *m)
{
	const int R = m->R, Q = m->Q, C = m->C, Sk = m->Sk, nl = m->nl, E = m->E;
	const size_t ZW = (size_t)nl * C;
	const real *w = m->params + m->causw;
	if (m->input == WN_INPUT_ONEHOT) {
		for (int r = 0; r < R; r++)
			for (int q = 0; q < Q; q++) {
				m->tab[((size_t)q * 2 + 0) * R + r] = w[((size_t)r * Q + q) * 2 + 0];
				m->tab[((size_t)q * 2 + 1) * R + r] = w[((size_t)r * Q + q) * 2 + 1];
			}
	} else if (m->input == WN_INPUT_EMBED) {
		wn_embed_taps_forward(m->tab, m->wpair, m->params + m->embw, w, Q, E, R);
	}
	zero(m->sbias, Sk);
	for (int l = 0; l < nl; l++) {
		const real *sw = m->params + m->lay[l].skipw, *sb = m->params + m->lay[l].skipb;
		for (int k = 0; k < Sk; k++) {
			memcpy(m->wcat + (size_t)k * ZW + (size_t)l * C, sw + (size_t)k * C, sizeof(real) * C);
			m->sbias[k] += sb[k];
		}
	}
}

/* scalar input: x0[b,t] = bias + W·(s(c_t), …, s(c_{t+W-1})) for the T-W positions of each
 * row, one product on the scalars laid side by side */
static void scalar_forward(struct MODEL *m, const part *p)
{
	const int R = m->R, L0 = m->lay[0].L, B = p->B, W = m->win;
	const uint16_t **rows = m->rowp + p->b0;
	for (int b = 0; b < B; b++)
		rows[b] = vrow(m, p->b0 + b);
	wn_scalar_conv_forward(m->lay[0].x + (size_t)p->b0 * L0 * R, m->sx + (size_t)p->b0 * L0 * W, rows, B, L0, W, R,
			       m->Q, m->params + m->causw, m->params + m->causb);
}

/* x0[b,t] = bias + W[:, c_t, 0] + W[:, c_{t+1}, 1] for the T-2 positions of each row (one-hot;
 * embed through its table alike) */
HOT static void causal_forward(struct MODEL *m, const part *p)
{
	if (m->input == WN_INPUT_SCALAR) {
		scalar_forward(m, p);
		return;
	}
	const int R = m->R, L0 = m->lay[0].L, B = p->B;
	const real *bias = m->params + m->causb, *tab = m->tab;
	real *x0 = m->lay[0].x + (size_t)p->b0 * L0 * R;
#pragma omp parallel for schedule(static) if ((size_t)B * L0 * R >= PAR_MIN)
	for (long n = 0; n < (long)B * L0; n++) {
		long b = n / L0, t = n % L0;
		const uint16_t *c = vrow(m, p->b0 + (int)b) + t;
		const real *t0 = tab + (size_t)c[0] * 2 * R, *t1 = tab + ((size_t)c[1] * 2 + 1) * R;
		real *x = x0 + (size_t)n * R;
#pragma omp simd
		for (int r = 0; r < R; r++)
			x[r] = bias[r] + t0[r] + t1[r];
	}
}

/* dst rows (b, j) ← src rows (b, L - n + j), j < n, as a column block of width W at stride ld */
static void copy_tails(real *dst, int ld, const real *src, int B, int L, int n, int W)
{
	for (int b = 0; b < B; b++)
		for (int j = 0; j < n; j++)
			memcpy(dst + ((size_t)b * n + j) * ld, src + ((size_t)b * L + L - n + j) * W, sizeof(real) * W);
}

static void forward_part(struct MODEL *m, part *p)
{
	const int R = m->R, C = m->C, Sk = m->Sk, Q = m->Q, nl = m->nl, nout = m->nout;
	const int B = p->B, b0 = p->b0;
	const size_t N = (size_t)B * nout, ZW = (size_t)nl * C, n0 = (size_t)b0 * nout;
	const size_t L0 = m->lay[0].L;
	real *xs = m->xs + b0 * L0 * 2 * R, *z = m->z + b0 * L0 * C, *zcat = m->zcat + n0 * ZW;
	real *h1 = m->h1 + n0 * Sk, *h2 = m->h2 + n0 * Sk, *probs = m->probs + n0 * Q;
	int32_t *targets = m->targets + n0;

	causal_forward(m, p);
	for (int l = 0; l < nl; l++) {
		layer *y = &m->lay[l];
		const int d = y->d, L = y->L, Lo = L - d;
		real *x = y->x + (size_t)b0 * L * R, *fg = y->fg + (size_t)b0 * Lo * 2 * C;
		wn_dconv_forward(fg, xs, x, m->params + y->fgw, m->params + y->fgb, B, L, R, 2 * C, d);
		wn_gate_forward(z, fg, (size_t)B * Lo, C);
		copy_tails(zcat + (size_t)l * C, (int)ZW, z, B, Lo, nout, C);
		if (l < nl - 1) { /* x' = x[d:] + res(z) */
			real *xn = m->lay[l + 1].x + (size_t)b0 * Lo * R;
			for (int b = 0; b < B; b++)
				memcpy(xn + (size_t)b * Lo * R, x + ((size_t)b * L + d) * R, sizeof(real) * Lo * R);
			linear_forward(xn, z, m->params + y->resw, m->params + y->resb, B * Lo, C, R, 1);
		}
	}
	/* skips: one product over the z tails of every layer */
	linear_forward(h1, zcat, m->wcat, m->sbias, (int)N, (int)ZW, Sk, 0);
	relu_forward(h1, h1, N * Sk);
	linear_forward(h2, h1, m->params + m->p1w, m->params + m->p1b, (int)N, Sk, Sk, 0);
	relu_forward(h2, h2, N * Sk);
	linear_forward(probs, h2, m->params + m->p2w, m->params + m->p2b, (int)N, Sk, Q, 0);
	for (int b = 0; b < B; b++)
		for (int j = 0; j < nout; j++)
			targets[(size_t)b * nout + j] = vrow(m, b0 + b)[m->rf + j];
	p->nll = ce_forward(probs, NULL, probs, targets, (int)N, Q) * (double)N;
}

/* ---- backward ---- */

/* dW_causal from dx0: scatter into the part's tap tables (threads own bands of channels), then
 * transpose into the [R × Q × 2] gradient (one-hot), or take the embedding's and the conv's
 * gradients from it (embed); scalar input: the product's backward */
HOT static void causal_backward(struct MODEL *m, part *p, const real *dx0)
{
	const int R = m->R, Q = m->Q, L0 = m->lay[0].L, B = p->B, E = m->E;
	real *dtab = p->dtab, *dw = p->grads + m->causw, *db = p->grads + m->causb;
	if (m->input == WN_INPUT_SCALAR) {
		wn_scalar_conv_backward(dw, db, dx0, m->sx + (size_t)p->b0 * L0 * m->win, m->params + m->causw, B, L0,
					m->win, R);
		return;
	}
	zero(dtab, (size_t)Q * 2 * R);
#pragma omp parallel if ((size_t)B * L0 * R >= PAR_MIN)
	{
		int nt = 1, id = 0;
#ifdef _OPENMP
		nt = omp_get_num_threads(), id = omp_get_thread_num();
#endif
		int r0 = (int)((long)R * id / nt), r1 = (int)((long)R * (id + 1) / nt);
		for (long n = 0; n < (long)B * L0; n++) {
			long b = n / L0, t = n % L0;
			const uint16_t *c = vrow(m, p->b0 + (int)b) + t;
			real *t0 = dtab + (size_t)c[0] * 2 * R, *t1 = dtab + ((size_t)c[1] * 2 + 1) * R;
			const real *d = dx0 + (size_t)n * R;
#pragma omp simd
			for (int r = r0; r < r1; r++) {
				t0[r] += d[r];
				t1[r] += d[r];
			}
		}
	}
	for (int q = 0; q < Q; q++)
		for (int r = 0; r < R; r++)
			db[r] += dtab[(size_t)q * 2 * R + r];
	if (m->input == WN_INPUT_EMBED) {
		wn_embed_taps_backward(p->grads + m->embw, dw, p->dwpair, dtab, m->wpair, m->params + m->embw, Q, E, R);
		return;
	}
	for (int q = 0; q < Q; q++)
		for (int k = 0; k < 2; k++)
			for (int r = 0; r < R; r++)
				dw[((size_t)r * Q + q) * 2 + k] += dtab[((size_t)q * 2 + k) * R + r];
}

/* dscale: this part's share of the batch (its rows / all rows), as the loss is the mean over
 * all of them */
static void backward_part(struct MODEL *m, part *p, real dscale)
{
	const int R = m->R, C = m->C, Sk = m->Sk, Q = m->Q, nl = m->nl, nout = m->nout;
	const int B = p->B, b0 = p->b0;
	const size_t N = (size_t)B * nout, ZW = (size_t)nl * C, n0 = (size_t)b0 * nout;
	const size_t L0 = m->lay[0].L;
	real *G = p->grads;
	real *zcat = m->zcat + n0 * ZW, *h1 = m->h1 + n0 * Sk, *h2 = m->h2 + n0 * Sk;
	real *probs = m->probs + n0 * Q, *dlogits = m->dlogits + n0 * Q;
	real *da = m->da + n0 * Sk, *db = m->db + n0 * Sk;
	real *xs = m->xs + b0 * L0 * 2 * R, *dxs = m->dxs + b0 * L0 * 2 * R;
	real *z = m->z + b0 * L0 * C, *dzb = m->dz + b0 * L0 * C, *dfg = m->dfg + b0 * L0 * 2 * C;
	const int32_t *targets = m->targets + n0;

	zero(dlogits, N * Q);
	ce_backward(dlogits, probs, targets, (int)N, Q, dscale);
	zero(da, N * Sk);
	linear_backward(da, G + m->p2w, G + m->p2b, dlogits, h2, m->params + m->p2w, (int)N, Sk, Q);
	relu_mask(da, h2, N * Sk);
	zero(db, N * Sk);
	linear_backward(db, G + m->p1w, G + m->p1b, da, h1, m->params + m->p1w, (int)N, Sk, Sk);
	relu_mask(db, h1, N * Sk);
	/* db = dL/d(Σ skips): every layer's skip bias gets its column sums, the side-by-side skip
	 * weights dsᵀ·zcat; then zcat is overwritten by dL/dzcat = ds·wcat */
	zero(p->dsb, Sk);
	zero(p->dwcat, (size_t)Sk * ZW);
	linear_backward(NULL, p->dwcat, p->dsb, db, zcat, m->wcat, (int)N, (int)ZW, Sk);
	nn_gemm(0, 0, (int)N, (int)ZW, Sk, 1, db, Sk, m->wcat, (int)ZW, 0, zcat, (int)ZW);
	for (int l = 0; l < nl; l++) {
		real *gw = G + m->lay[l].skipw, *gb = G + m->lay[l].skipb;
		for (int k = 0; k < Sk; k++) {
			const real *src = p->dwcat + (size_t)k * ZW + (size_t)l * C;
			for (int c = 0; c < C; c++)
				gw[(size_t)k * C + c] += src[c];
			gb[k] += p->dsb[k];
		}
	}
	/* layers, last first; dxn = dL/d(input of the layer above), dxl = this layer's */
	real *dxn = m->dx1 + b0 * L0 * R, *dxl = m->dx0 + b0 * L0 * R;
	for (int l = nl - 1; l >= 0; l--) {
		layer *y = &m->lay[l];
		const int d = y->d, L = y->L, Lo = L - d;
		const size_t No = (size_t)B * Lo;
		const real *x = y->x + (size_t)b0 * L * R, *fg = y->fg + (size_t)b0 * Lo * 2 * C;
		zero(dzb, No * C);
		if (l < nl - 1) { /* through the residual 1×1 conv */
			gate_product(z, fg, No, C);
			linear_backward(dzb, G + y->resw, G + y->resb, dxn, z, m->params + y->resw, (int)No, C, R);
		}
		for (int b = 0; b < B; b++) /* through the skip: the last nout positions */
			for (int j = 0; j < nout; j++) {
				real *dz = dzb + ((size_t)b * Lo + Lo - nout + j) * C;
				const real *sv = zcat + ((size_t)b * nout + j) * ZW + (size_t)l * C;
				for (int c = 0; c < C; c++)
					dz[c] += sv[c];
			}
		wn_gate_backward(dfg, dzb, fg, No, C);
		/* dx = residual pass-through (dxn shifted by d) + the dilated conv's */
		for (int b = 0; b < B; b++) {
			real *o = dxl + (size_t)b * L * R;
			zero(o, (size_t)d * R);
			if (l < nl - 1)
				memcpy(o + (size_t)d * R, dxn + (size_t)b * Lo * R, sizeof(real) * Lo * R);
			else
				zero(o + (size_t)d * R, (size_t)Lo * R);
		}
		stack_pairs(xs, x, B, L, R, d);
		wn_dconv_backward(dxl, G + y->fgw, G + y->fgb, dxs, dfg, xs, m->params + y->fgw, B, L, R, 2 * C, d);
		real *t = dxn;
		dxn = dxl, dxl = t;
	}
	causal_backward(m, p, dxn);
}

/* One step. With several threads and rows, each thread takes a part of the rows through the
 * whole network with single-threaded kernels into its own gradients (one fork and join per
 * step: robust on a loaded machine, and cache-friendly), which are then summed in part order;
 * with one row, the kernels themselves are threaded. The same thread count gives the same
 * bytes. */
static double forward_backward(struct MODEL *m, const uint16_t *codes, int B, int backward)
{
	const int Q = m->Q, T = m->T_row;
	if (B < 1 || B > m->max_batch)
		return sh_error("batch %d: this model holds 1 to %d rows", B, m->max_batch), NAN;
	for (size_t i = 0; i < (size_t)B * T; i++)
		if (codes[i] >= Q)
			return sh_error("code %d at row %zu, position %zu: the model has %d levels", codes[i], i / T,
					i % T, Q),
			       NAN;
	m->codes = codes, m->batch = B;
	prepare(m);
	const int V = B * m->split; /* virtual rows */
	int np = 1;
#ifdef _OPENMP
	np = omp_in_parallel() ? 1 : omp_get_max_threads();
#endif
	np = np < V ? np : V;
	np = np < m->maxparts ? np : m->maxparts;
	part parts[64];
	for (int k = 0; k < np; k++) {
		part *p = &parts[k];
		p->k = k;
		p->b0 = (int)((long)V * k / np);
		p->B = (int)((long)V * (k + 1) / np) - p->b0;
		p->grads = k ? m->pgrads + (size_t)(k - 1) * m->pt.total : m->grads;
		p->dtab = m->dtab + (size_t)k * Q * 2 * m->R;
		p->dwpair = m->dwpair + (size_t)k * 2 * m->R * m->E;
		p->dwcat = m->dwcat + (size_t)k * m->Sk * m->nl * m->C;
		p->dsb = m->dsb + (size_t)k * m->Sk;
		if (k && backward)
			zero(p->grads, m->pt.total);
	}
	if (np == 1) {
		forward_part(m, &parts[0]);
		if (backward)
			backward_part(m, &parts[0], 1);
	} else {
#pragma omp parallel num_threads(np)
		{
			int k = 0;
#ifdef _OPENMP
			k = omp_get_thread_num();
#endif
			forward_part(m, &parts[k]);
			if (backward)
				backward_part(m, &parts[k], (real)parts[k].B / V);
		}
		if (backward) {
			const size_t n = m->pt.total;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
			for (size_t i = 0; i < n; i++) {
				real s = 0;
				for (int k = 1; k < np; k++)
					s += m->pgrads[(size_t)(k - 1) * n + i];
				m->grads[i] += s;
			}
		}
	}
	double nll = 0;
	for (int k = 0; k < np; k++)
		nll += parts[k].nll;
	return nll / ((double)B * m->n_out);
}

double wn_forward(MODEL *m, const uint16_t *codes, int batch) { return forward_backward(m, codes, batch, 0); }

double wn_forward_backward(MODEL *m, const uint16_t *codes, int batch) { return forward_backward(m, codes, batch, 1); }
