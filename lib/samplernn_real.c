/* samplernn_real.c: the SampleRNN model of samplernn.h (see docs/samplernn.md), forward and
 * backward over one truncated-BPTT window, on the layers of nn.h. Built in float (production)
 * and in double (-DREAL_F64, names suffixed _f64) for finite-difference tests.
 *
 * Layout. Each frame tier runs its RNN stack time-major (row t·B + b) so that every timestep
 * is a contiguous B-row slice; its output is transposed (a small copy) to batch-major
 * (row b·NF + t) before the upsampling linear, whose output rows (b, t) × FS vectors are then
 * exactly the sample tier's positions p = b·seq + s in the order of the codes: the sample
 * tier's first layer adds into the upsampling output in place, and the logits come out
 * batch × seq × Q. Every non-recurrent linear is one gemm over all rows of the window.
 *
 * The sample tier's first linear on the FS embedded codes, Σ_k W1_k·emb[c_k], is folded into
 * FS tables T_k = emb·W1_kᵀ (Q × D each) computed once per window, so a position costs FS
 * lookups of D values instead of an (FS·E)×D product; its backward scatters into dT_k and
 * maps them back with two small gemms per table. srnn_use_reference() switches to plain loops
 * that follow the definition, and the tests hold both equal. */
#include "samplernn.h"
#include "nn.h"
#include "params.h"
#include "rng.h"
#include "util.h"

#include <cblas.h>
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
#define MODEL srnn_f64
#else
typedef float real;
#define MODEL srnn
#endif

#define NONE ((size_t)-1)

/* the lookup loops also built for AVX2 + FMA, chosen at load time (as in nn_real.c) */
#define HOT SH_HOT
#define MAXL 64

/* A weight matrix: rows × cols at params + v; with weight norm, g (rows) at params + g and the
 * effective matrix w and its gradient dw in the activation arena, otherwise w and dw point
 * into the parameters and gradients. */
typedef struct {
	int rows, cols;
	size_t v, g;
	real *w, *dw, *norm;
} wmat;

typedef struct {
	wmat W;
	size_t b; /* bias offset or NONE */
} linear;

typedef struct {
	int in; /* FS (first layer) or D + FS */
	wmat ih, hh;
	size_t bih, bhh, h0, c0; /* h0, c0: learned initial state or NONE */
	real *x;                 /* [R × in] input, time-major */
	real *h, *c, *gates;     /* [R × D], [R × D] (LSTM), [R × 4D] */
	real *hinit, *cinit;     /* [B × D] state at the start of the window */
} rnnlayer;

typedef struct {
	int fs, nf;       /* frame size, frames per window */
	int ratio, condw; /* conditioning vectors per frame and their width */
	rnnlayer layer[MAXL];
	linear out[MAXL], up;
	real *o_tm, *o_bm; /* [R × D] tier output, time-major and batch-major */
	real *u;           /* [R × ratio·condw] upsampled, batch-major */
	real *gadd;        /* [R × G·D] conditioning from the tier above, time-major */
} tier;

struct MODEL {
	srnn_config cfg;
	int max_batch, K, G, L, D, Q, FS, E, hist, ref;
	tier tier[SRNN_MAX_TIERS];
	size_t emb;
	linear l1, l2, l3, l4;

	param_table pt;
	real *params, *grads; /* [pt.total] each */
	int nwm;
	wmat *wm[SRNN_MAX_TIERS * (2 * MAXL + MAXL + 1) + 8];

	void *arena;
	/* sample tier, N = B × seq positions, p = b·seq + s */
	real *h2, *h3;         /* [N × D] (h1 is the finest tier's u) */
	real *probs, *dlogits; /* [N × Q] */
	real *da, *db;         /* [N × D] backward scratch */
	real *table, *dtable;  /* [FS × Q × D] */
	int32_t *targets;      /* [N] */
	int32_t *fresh;        /* [B] rows that started the window from a reset state */
	/* frame-tier backward scratch, sized for the largest tier */
	real *dg1, *dg2, *dx, *dh, *do_bm, *do_tm, *du, *dh0, *dc0;

	const uint16_t *codes; /* of the last forward, for the backward */
	int batch;
};

/* ---- parameters ---- */

static size_t add_param(struct MODEL *m, const char *name, int ndim, int64_t d0, int64_t d1)
{
	return param_table_add(&m->pt, name, ndim, d0, d1, 0);
}

/* A weight matrix named `name` (torch weight_norm names it name_g, name_v) */
static void add_wmat(struct MODEL *m, wmat *w, const char *name, int rows, int cols, int wn)
{
	char buf[96];
	w->rows = rows, w->cols = cols;
	if (wn) {
		snprintf(buf, sizeof buf, "%s_g", name);
		w->g = add_param(m, buf, 2, rows, 1);
		snprintf(buf, sizeof buf, "%s_v", name);
		w->v = add_param(m, buf, 2, rows, cols);
	} else {
		w->g = NONE;
		w->v = add_param(m, name, 2, rows, cols);
	}
	m->wm[m->nwm++] = w;
}

/* A WNLinear of the peer: prefix.lin.{bias, weight_g, weight_v} */
static void add_linear(struct MODEL *m, linear *l, const char *prefix, int in, int out, int bias)
{
	char buf[96];
	snprintf(buf, sizeof buf, "%s.lin.bias", prefix);
	l->b = bias ? add_param(m, buf, 1, out, 0) : NONE;
	snprintf(buf, sizeof buf, "%s.lin.weight", prefix);
	add_wmat(m, &l->W, buf, out, in, 1);
}

/* ---- the activation arena: one allocation, carved twice (sizing, then pointers) ---- */

#define TAKE(n) ((real *)sh_arena_take(&a, sizeof(real) * (size_t)(n)))

static size_t layout(struct MODEL *m, unsigned char *base)
{
	sh_arena a = {base, 0};
	const int B = m->max_batch, D = m->D, G = m->G, seq = m->cfg.seq;
	const size_t N = (size_t)B * seq;
	size_t rmax = 0, rin = 0, rdu = 0;
	for (int i = 0; i < m->nwm; i++) {
		wmat *w = m->wm[i];
		if (w->g == NONE) {
			w->w = base ? m->params + w->v : NULL;
			w->dw = base ? m->grads + w->v : NULL;
			w->norm = NULL;
		} else {
			w->w = TAKE((size_t)w->rows * w->cols);
			w->dw = TAKE((size_t)w->rows * w->cols);
			w->norm = TAKE(w->rows);
		}
	}
	for (int k = 0; k < m->K; k++) {
		tier *t = &m->tier[k];
		const size_t R = (size_t)B * t->nf;
		for (int l = 0; l < m->L; l++) {
			rnnlayer *y = &t->layer[l];
			y->x = TAKE(R * y->in);
			y->h = TAKE(R * D);
			y->c = m->cfg.rnn == SRNN_LSTM ? TAKE(R * D) : NULL;
			y->gates = TAKE(R * 4 * D);
			y->hinit = TAKE((size_t)B * D);
			y->cinit = TAKE((size_t)B * D);
		}
		t->o_tm = TAKE(R * D);
		t->o_bm = TAKE(R * D);
		t->u = TAKE(R * t->ratio * t->condw);
		t->gadd = k ? TAKE(R * G * D) : NULL;
		rmax = R > rmax ? R : rmax;
		rin = R * (D + t->fs) > rin ? R * (D + t->fs) : rin;
		if (k < m->K - 1 && R * t->ratio * t->condw > rdu)
			rdu = R * t->ratio * t->condw;
	}
	m->h2 = TAKE(N * D);
	m->h3 = TAKE(N * D);
	m->probs = TAKE(N * m->Q);
	m->dlogits = TAKE(N * m->Q);
	m->da = TAKE(N * D);
	m->db = TAKE(N * D);
	m->table = TAKE((size_t)m->FS * m->Q * D);
	m->dtable = TAKE((size_t)m->FS * m->Q * D);
	m->targets = sh_arena_take(&a, sizeof(int32_t) * N);
	m->fresh = sh_arena_take(&a, sizeof(int32_t) * B);
	m->dg1 = TAKE(rmax * 4 * D);
	m->dg2 = TAKE(rmax * 4 * D);
	m->dx = TAKE(rin);
	m->dh = TAKE(rmax * D);
	m->do_bm = TAKE(rmax * D);
	m->do_tm = TAKE(rmax * D);
	m->du = TAKE(rdu);
	m->dh0 = TAKE((size_t)B * D);
	m->dc0 = TAKE((size_t)B * D);
	return a.used;
}

MODEL *srnn_create(const srnn_config *cfg, int max_batch)
{
	if (srnn_config_check(cfg))
		return NULL;
	if (max_batch < 1)
		return sh_error("batch %d: must be positive", max_batch), NULL;
	struct MODEL *m = sh_alloc(sizeof *m);
	if (!m)
		return NULL;
	m->cfg = *cfg;
	m->max_batch = max_batch;
	m->K = cfg->nframe_tiers, m->L = cfg->layers, m->D = cfg->dim, m->Q = cfg->levels;
	m->E = cfg->embed, m->G = cfg->rnn == SRNN_LSTM ? 4 : 3;
	m->FS = cfg->frame_size[m->K - 1];
	m->hist = srnn_history(cfg);
	const int D = m->D, G = m->G, K = m->K, L = m->L;
	if (param_table_init(&m->pt, K * (12 * L + 8) + 16))
		goto fail;

	char pre[32], buf[96];
	for (int k = 0; k < K; k++) {
		tier *t = &m->tier[k];
		t->fs = cfg->frame_size[k];
		t->nf = cfg->seq / t->fs;
		if (k == K - 1)
			t->ratio = t->fs, t->condw = D;
		else
			t->ratio = t->fs / cfg->frame_size[k + 1], t->condw = G * D;
		if (k == K - 1)
			pre[0] = 0;
		else
			snprintf(pre, sizeof pre, "tiers.%d.", k);
		for (int l = 0; l < L; l++) {
			rnnlayer *y = &t->layer[l];
			y->in = l ? D + t->fs : t->fs;
			snprintf(buf, sizeof buf, "%srnns.%d.weight_ih_l0", pre, l);
			add_wmat(m, &y->ih, buf, G * D, y->in, cfg->rnn_weight_norm);
			snprintf(buf, sizeof buf, "%srnns.%d.weight_hh_l0", pre, l);
			add_wmat(m, &y->hh, buf, G * D, D, cfg->rnn_weight_norm);
			snprintf(buf, sizeof buf, "%srnns.%d.bias_ih_l0", pre, l);
			y->bih = add_param(m, buf, 1, G * D, 0);
			snprintf(buf, sizeof buf, "%srnns.%d.bias_hh_l0", pre, l);
			y->bhh = add_param(m, buf, 1, G * D, 0);
			y->h0 = y->c0 = NONE;
			if (cfg->learn_h0) {
				snprintf(buf, sizeof buf, "%srnns.%d.h0", pre, l);
				y->h0 = add_param(m, buf, 1, D, 0);
				if (cfg->rnn == SRNN_LSTM) {
					snprintf(buf, sizeof buf, "%srnns.%d.c0", pre, l);
					y->c0 = add_param(m, buf, 1, D, 0);
				}
			}
		}
		for (int l = 0; l < L; l++) {
			snprintf(buf, sizeof buf, "%souts.%d", pre, l);
			add_linear(m, &t->out[l], buf, D, D, l == 0);
		}
		snprintf(buf, sizeof buf, "%sup", pre);
		add_linear(m, &t->up, buf, D, t->ratio * t->condw, 1);
	}
	m->emb = add_param(m, "emb.weight", 2, m->Q, m->E);
	add_linear(m, &m->l1, "l1", m->FS * m->E, D, 0);
	add_linear(m, &m->l2, "l2", D, D, 1);
	add_linear(m, &m->l3, "l3", D, D, 1);
	add_linear(m, &m->l4, "l4", D, m->Q, 1);

	if (nn_model_alloc(&m->pt, &m->params, &m->grads, layout(m, NULL), &m->arena) < 0)
		goto fail;
	layout(m, m->arena);
	return m;
fail:
	srnn_free(m);
	return NULL;
}

void srnn_free(MODEL *m)
{
	if (!m)
		return;
	nn_model_free(&m->pt, m->params, m->grads, m->arena);
	free(m);
}

#ifndef REAL_F64
const srnn_config *srnn_cfg(const srnn *m) { return &m->cfg; }
#endif
size_t srnn_num_params(const MODEL *m) { return m->pt.total; }
real *srnn_params(MODEL *m) { return m->params; }
real *srnn_grads(MODEL *m) { return m->grads; }
int srnn_param_count(const MODEL *m) { return m->pt.n; }
const srnn_param *srnn_param_info(const MODEL *m, int i) { return param_table_info(&m->pt, i); }
const real *srnn_last_logits(const MODEL *m) { return m->probs; }
void srnn_use_reference(MODEL *m, int on) { m->ref = on; }

/* ---- initialisation, as the peer (torch defaults, then weight_norm g = ‖v‖) ---- */

/* v uniform ±bound (torch's Linear and LSTM bound 1/√fan_in), then g = ‖v_row‖ */
static void init_wmat(struct MODEL *m, wmat *w, double bound, sh_rng *s)
{
	real *v = m->params + w->v;
	nn_fill_uniform(v, (size_t)w->rows * w->cols, bound, s);
	if (w->g != NONE)
		for (int r = 0; r < w->rows; r++) {
			double ss = 0;
			for (int c = 0; c < w->cols; c++)
				ss += (double)v[(size_t)r * w->cols + c] * v[(size_t)r * w->cols + c];
			m->params[w->g + r] = (real)sqrt(ss);
		}
}
static void init_linear(struct MODEL *m, linear *l, sh_rng *s)
{
	double bound = 1 / sqrt((double)l->W.cols);
	init_wmat(m, &l->W, bound, s);
	if (l->b != NONE)
		nn_fill_uniform(m->params + l->b, l->W.rows, bound, s);
}

void srnn_init_params(MODEL *m, uint64_t seed)
{
	sh_rng rs, *s = &rs;
	sh_rng_seed(s, seed);
	const int D = m->D, G = m->G;
	const double bound = 1 / sqrt((double)D);
	memset(m->params, 0, sizeof(real) * m->pt.total);
	for (int k = 0; k < m->K; k++) {
		tier *t = &m->tier[k];
		for (int l = 0; l < m->L; l++) {
			rnnlayer *y = &t->layer[l];
			init_wmat(m, &y->ih, bound, s);
			init_wmat(m, &y->hh, bound, s);
			if (m->cfg.rnn == SRNN_LSTM) {
				/* the peer: bias_ih zero but its forget part 3, bias_hh zero */
				for (int j = D; j < 2 * D; j++)
					m->params[y->bih + j] = 3;
			} else {
				/* torch's nn.GRU default */
				nn_fill_uniform(m->params + y->bih, (size_t)G * D, bound, s);
				nn_fill_uniform(m->params + y->bhh, (size_t)G * D, bound, s);
			}
		}
		for (int l = 0; l < m->L; l++)
			init_linear(m, &t->out[l], s);
		init_linear(m, &t->up, s);
	}
	nn_fill_normal(m->params + m->emb, (size_t)m->Q * m->E, 1, s);
	init_linear(m, &m->l1, s);
	init_linear(m, &m->l2, s);
	init_linear(m, &m->l3, s);
	init_linear(m, &m->l4, s);
}

/* ---- recurrent state: per tier, per layer h [B × D] (and c [B × D] for LSTM); then a flag
 * per row, set by srnn_state_reset, telling the next window it starts from the initial state
 * (its gradient then reaches the learned h0) ---- */

static size_t layer_state(const struct MODEL *m, int batch)
{
	return (size_t)batch * m->D * (m->cfg.rnn == SRNN_LSTM ? 2 : 1);
}

size_t srnn_state_floats(const MODEL *m, int batch) { return (size_t)m->K * m->L * layer_state(m, batch) + batch; }

void srnn_state_reset(const MODEL *m, real *state, int batch, int b)
{
	const int D = m->D;
	real *s = state;
	for (int k = 0; k < m->K; k++)
		for (int l = 0; l < m->L; l++) {
			const rnnlayer *y = &m->tier[k].layer[l];
			real *h = s + (size_t)b * D, *c = s + (size_t)(batch + b) * D;
			for (int j = 0; j < D; j++)
				h[j] = y->h0 != NONE ? m->params[y->h0 + j] : 0;
			if (m->cfg.rnn == SRNN_LSTM)
				for (int j = 0; j < D; j++)
					c[j] = y->c0 != NONE ? m->params[y->c0 + j] : 0;
			s += layer_state(m, batch);
		}
	s[b] = 1;
}

void srnn_state_copy_rows(const MODEL *m, real *dst, int dst_batch, int dst_row0, const real *src, int src_batch,
			  int src_row0, int rows)
{
	/* K·L blocks of h (and c) [batch × D], then the flags [batch × 1] */
	const int blocks = m->K * m->L * (m->cfg.rnn == SRNN_LSTM ? 2 : 1);
	const size_t D = (size_t)m->D;
	for (int k = 0; k <= blocks; k++) {
		const size_t w = k < blocks ? D : 1;
		memcpy(dst + k * dst_batch * D + dst_row0 * w, src + k * src_batch * D + src_row0 * w,
		       rows * w * sizeof *dst);
	}
}

/* ---- helpers ---- */

/* dst[(t·B + b)·W] = src[(b·T + t)·W]: batch-major to time-major (and back with swapped T, B) */
static void transpose_rows(real *dst, const real *src, int B, int T, int W)
{
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			memcpy(dst + ((size_t)t * B + b) * W, src + ((size_t)b * T + t) * W, sizeof(real) * W);
}

static void zero(real *x, size_t n) { memset(x, 0, sizeof(real) * n); }

static const real *P(const struct MODEL *m, size_t off) { return off == NONE ? NULL : m->params + off; }
static real *Gr(struct MODEL *m, size_t off) { return off == NONE ? NULL : m->grads + off; }

/* ---- forward ---- */

static void frame_tier_forward(struct MODEL *m, int k, const uint16_t *codes, int B, real *state)
{
	tier *t = &m->tier[k];
	const int D = m->D, fs = t->fs, nf = t->nf, row = m->hist + m->cfg.seq;
	const size_t R = (size_t)B * nf;
	const real half = (real)(m->Q / 2);
	/* frame t of row b: the fs codes before target t·fs, rescaled to [-2, 2] */
	real *x0 = t->layer[0].x;
	for (int f = 0; f < nf; f++)
		for (int b = 0; b < B; b++) {
			const uint16_t *c = codes + (size_t)b * row + m->hist - fs + (size_t)f * fs;
			real *x = x0 + ((size_t)f * B + b) * fs;
			for (int j = 0; j < fs; j++)
				x[j] = ((real)c[j] / half - 1) * 2;
		}
	for (int l = 0; l < m->L; l++) {
		rnnlayer *y = &t->layer[l];
		real *s = state + (size_t)(k * m->L + l) * layer_state(m, B);
		memcpy(y->hinit, s, sizeof(real) * B * D);
		if (l) { /* skip connection: [h of the layer below, frame] */
			const rnnlayer *below = &t->layer[l - 1];
			for (size_t r = 0; r < R; r++) {
				memcpy(y->x + r * y->in, below->h + r * D, sizeof(real) * D);
				memcpy(y->x + r * y->in + D, x0 + r * fs, sizeof(real) * fs);
			}
		}
		const real *gadd = l == 0 ? t->gadd : NULL;
		if (m->cfg.rnn == SRNN_LSTM) {
			memcpy(y->cinit, s + (size_t)B * D, sizeof(real) * B * D);
			lstm_forward(y->h, y->c, y->gates, y->x, gadd, y->ih.w, y->hh.w, P(m, y->bih), P(m, y->bhh),
				     y->hinit, y->cinit, nf, B, y->in, D);
			memcpy(s + (size_t)B * D, y->c + (R - B) * D, sizeof(real) * B * D);
		} else {
			gru_forward(y->h, y->gates, y->x, gadd, y->ih.w, y->hh.w, P(m, y->bih), P(m, y->bhh), y->hinit,
				    nf, B, y->in, D);
		}
		memcpy(s, y->h + (R - B) * D, sizeof(real) * B * D);
	}
	/* tier output: Σ_l out_l(h_l), bias on the first only */
	for (int l = 0; l < m->L; l++)
		linear_forward(t->o_tm, t->layer[l].h, t->out[l].W.w, P(m, t->out[l].b), (int)R, D, D, l > 0);
	transpose_rows(t->o_bm, t->o_tm, nf, B, D);
	linear_forward(t->u, t->o_bm, t->up.W.w, P(m, t->up.b), (int)R, D, t->ratio * t->condw, 0);
	if (k < m->K - 1) /* conditioning of the next tier's input projection, time-major */
		transpose_rows(m->tier[k + 1].gadd, t->u, B, m->tier[k + 1].nf, t->condw);
}

/* h1[N × D] += Σ_k W1_k·emb[c_k] for the FS codes c_k before each target */
HOT static void sample_l1_forward(struct MODEL *m, real *h1, const uint16_t *codes, int B)
{
	const int D = m->D, FS = m->FS, Q = m->Q, E = m->E, seq = m->cfg.seq;
	const int row = m->hist + seq;
	const real *W1 = m->l1.W.w, *emb = m->params + m->emb;
	if (m->ref) {
		for (int b = 0; b < B; b++)
			for (int s = 0; s < seq; s++) {
				const uint16_t *c = codes + (size_t)b * row + m->hist + s - FS;
				real *h = h1 + ((size_t)b * seq + s) * D;
				for (int d = 0; d < D; d++) {
					double acc = 0;
					for (int k = 0; k < FS; k++)
						for (int e = 0; e < E; e++)
							acc += (double)W1[(size_t)d * FS * E + k * E + e] *
							       emb[(size_t)c[k] * E + e];
					h[d] += (real)acc;
				}
			}
		return;
	}
	for (int k = 0; k < FS; k++) /* T_k[Q × D] = emb · W1_kᵀ */
		nn_gemm(0, 1, Q, D, E, 1, emb, E, W1 + (size_t)k * E, FS * E, 0, m->table + (size_t)k * Q * D, D);
	const size_t N = (size_t)B * seq;
	const real *T = m->table;
#pragma omp parallel for schedule(static) if (N * FS * D >= 32768)
	for (size_t p = 0; p < N; p++) {
		size_t b = p / seq, s = p % seq;
		const uint16_t *c = codes + b * row + m->hist + s - FS;
		real *h = h1 + p * D;
		for (int k = 0; k < FS; k++) {
			const real *tk = T + ((size_t)k * Q + c[k]) * D;
#pragma omp simd
			for (int d = 0; d < D; d++)
				h[d] += tk[d];
		}
	}
}

static double forward(struct MODEL *m, const uint16_t *codes, int B, real *state)
{
	const int D = m->D, Q = m->Q, seq = m->cfg.seq, row = m->hist + seq;
	if (B < 1 || B > m->max_batch)
		return sh_error("batch %d: this model holds 1 to %d rows", B, m->max_batch), NAN;
	for (size_t i = 0; i < (size_t)B * row; i++)
		if (codes[i] >= Q)
			return sh_error("code %d at row %zu, position %zu: the model has %d levels", codes[i], i / row,
					i % row, Q),
			       NAN;
	m->codes = codes, m->batch = B;
	real *flags = state + srnn_state_floats(m, B) - B;
	for (int b = 0; b < B; b++)
		m->fresh[b] = flags[b] != 0, flags[b] = 0;
	for (int i = 0; i < m->nwm; i++) {
		wmat *w = m->wm[i];
		if (w->g != NONE)
			weightnorm_forward(w->w, w->norm, m->params + w->v, m->params + w->g, w->rows, w->cols);
	}
	for (int k = 0; k < m->K; k++)
		frame_tier_forward(m, k, codes, B, state);

	const size_t N = (size_t)B * seq;
	real *h1 = m->tier[m->K - 1].u; /* the conditioning, [N × D] in position order */
	sample_l1_forward(m, h1, codes, B);
	linear_forward(m->h2, h1, m->l2.W.w, P(m, m->l2.b), (int)N, D, D, 0);
	relu_forward(m->h2, m->h2, N * D);
	linear_forward(m->h3, m->h2, m->l3.W.w, P(m, m->l3.b), (int)N, D, D, 0);
	relu_forward(m->h3, m->h3, N * D);
	linear_forward(m->probs, m->h3, m->l4.W.w, P(m, m->l4.b), (int)N, D, Q, 0);
	for (int b = 0; b < B; b++)
		for (int s = 0; s < seq; s++)
			m->targets[(size_t)b * seq + s] = codes[(size_t)b * row + m->hist + s];
	return ce_forward(m->probs, NULL, m->probs, m->targets, (int)N, Q);
}

/* ---- backward ---- */

HOT static void sample_l1_backward(struct MODEL *m, const real *dh1)
{
	const int D = m->D, FS = m->FS, Q = m->Q, E = m->E, seq = m->cfg.seq, B = m->batch;
	const int row = m->hist + seq;
	const uint16_t *codes = m->codes;
	const real *W1 = m->l1.W.w, *emb = m->params + m->emb;
	real *dW1 = m->l1.W.dw, *demb = m->grads + m->emb;
	if (m->ref) {
		for (int b = 0; b < B; b++)
			for (int s = 0; s < seq; s++) {
				const uint16_t *c = codes + (size_t)b * row + m->hist + s - FS;
				const real *dh = dh1 + ((size_t)b * seq + s) * D;
				for (int d = 0; d < D; d++)
					for (int k = 0; k < FS; k++)
						for (int e = 0; e < E; e++) {
							size_t wi = (size_t)d * FS * E + k * E + e;
							size_t ei = (size_t)c[k] * E + e;
							dW1[wi] += dh[d] * emb[ei];
							demb[ei] += dh[d] * W1[wi];
						}
			}
		return;
	}
	const size_t N = (size_t)B * seq;
	real *dT = m->dtable;
	zero(dT, (size_t)FS * Q * D);
/* dT_k[c] += dh1[p]: each thread owns a band of columns, so no two write the same value */
#pragma omp parallel if (N * FS * D >= 32768)
	{
		int nt = 1, id = 0;
#ifdef _OPENMP
		nt = omp_get_num_threads(), id = omp_get_thread_num();
#endif
		int d0 = (int)((long)D * id / nt), d1 = (int)((long)D * (id + 1) / nt);
		for (size_t p = 0; p < N; p++) {
			size_t b = p / seq, s = p % seq;
			const uint16_t *c = codes + b * row + m->hist + s - FS;
			const real *dh = dh1 + p * D;
			for (int k = 0; k < FS; k++) {
				real *t = dT + ((size_t)k * Q + c[k]) * D;
#pragma omp simd
				for (int d = d0; d < d1; d++)
					t[d] += dh[d];
			}
		}
	}
	for (int k = 0; k < FS; k++) {
		const real *dTk = dT + (size_t)k * Q * D;
		/* demb[Q × E] += dT_k · W1_k;  dW1_k[D × E] += dT_kᵀ · emb */
		nn_gemm(0, 0, Q, E, D, 1, dTk, D, W1 + (size_t)k * E, FS * E, 1, demb, E);
		nn_gemm(1, 0, D, E, Q, 1, dTk, D, emb, E, 1, dW1 + (size_t)k * E, FS * E);
	}
}

/* du: dL/d(this tier's upsampled output) [R × ratio·condw], batch-major */
static void frame_tier_backward(struct MODEL *m, int k, const real *du)
{
	tier *t = &m->tier[k];
	const int D = m->D, nf = t->nf, B = m->batch, G = m->G;
	const size_t R = (size_t)B * nf;
	zero(m->do_bm, R * D);
	linear_backward(m->do_bm, t->up.W.dw, Gr(m, t->up.b), du, t->o_bm, t->up.W.w, (int)R, D, t->ratio * t->condw);
	transpose_rows(m->do_tm, m->do_bm, B, nf, D);
	for (int l = m->L - 1; l >= 0; l--) {
		rnnlayer *y = &t->layer[l];
		zero(m->dh, R * D);
		linear_backward(m->dh, t->out[l].W.dw, Gr(m, t->out[l].b), m->do_tm, y->h, t->out[l].W.w, (int)R, D, D);
		if (l < m->L - 1) { /* through the skip input of the layer above: its first D columns */
			const int in = t->layer[l + 1].in;
			for (size_t r = 0; r < R; r++)
				for (int j = 0; j < D; j++)
					m->dh[r * D + j] += m->dx[r * in + j];
		}
		real *dx = NULL;
		if (l) {
			dx = m->dx;
			zero(dx, R * y->in);
		}
		real *dh0 = NULL, *dc0 = NULL;
		if (y->h0 != NONE) {
			dh0 = m->dh0, dc0 = y->c0 != NONE ? m->dc0 : NULL;
			zero(m->dh0, (size_t)B * D), zero(m->dc0, (size_t)B * D);
		}
		if (m->cfg.rnn == SRNN_LSTM)
			lstm_backward(dx, y->ih.dw, y->hh.dw, Gr(m, y->bih), Gr(m, y->bhh), dh0, dc0, m->dg1, m->dh,
				      NULL, NULL, y->h, y->c, y->gates, y->x, y->ih.w, y->hh.w, y->hinit, y->cinit, nf,
				      B, y->in, D);
		else
			gru_backward(dx, y->ih.dw, y->hh.dw, Gr(m, y->bih), Gr(m, y->bhh), dh0, m->dg1, m->dg2, m->dh,
				     NULL, y->h, y->gates, y->x, y->ih.w, y->hh.w, y->hinit, nf, B, y->in, D);
		if (dh0) /* only rows that started from the learned state reach it */
			for (int b = 0; b < B; b++)
				if (m->fresh[b])
					for (int j = 0; j < D; j++) {
						m->grads[y->h0 + j] += m->dh0[(size_t)b * D + j];
						if (dc0)
							m->grads[y->c0 + j] += m->dc0[(size_t)b * D + j];
					}
	}
	/* m->dg1 now holds dL/dgadd of layer 0 (time-major): hand it to the tier above */
	if (k > 0)
		transpose_rows(m->du, m->dg1, nf, B, G * D);
}

static void backward(struct MODEL *m)
{
	const int D = m->D, Q = m->Q, B = m->batch;
	const size_t N = (size_t)B * m->cfg.seq;
	for (int i = 0; i < m->nwm; i++)
		if (m->wm[i]->g != NONE)
			zero(m->wm[i]->dw, (size_t)m->wm[i]->rows * m->wm[i]->cols);
	zero(m->dlogits, N * Q);
	ce_backward(m->dlogits, m->probs, m->targets, (int)N, Q, 1);
	zero(m->da, N * D);
	linear_backward(m->da, m->l4.W.dw, Gr(m, m->l4.b), m->dlogits, m->h3, m->l4.W.w, (int)N, D, Q);
	relu_mask(m->da, m->h3, N * D);
	zero(m->db, N * D);
	linear_backward(m->db, m->l3.W.dw, Gr(m, m->l3.b), m->da, m->h2, m->l3.W.w, (int)N, D, D);
	relu_mask(m->db, m->h2, N * D);
	zero(m->da, N * D);
	const real *h1 = m->tier[m->K - 1].u;
	linear_backward(m->da, m->l2.W.dw, Gr(m, m->l2.b), m->db, h1, m->l2.W.w, (int)N, D, D);
	/* m->da = dL/dh1 = dL/d(conditioning) of the finest tier */
	sample_l1_backward(m, m->da);
	const real *du = m->da;
	for (int k = m->K - 1; k >= 0; k--) {
		frame_tier_backward(m, k, du);
		du = m->du;
	}
	for (int i = 0; i < m->nwm; i++) {
		wmat *w = m->wm[i];
		if (w->g != NONE)
			weightnorm_backward(m->grads + w->v, m->grads + w->g, w->dw, m->params + w->v, m->params + w->g,
					    w->norm, w->rows, w->cols);
	}
}

double srnn_forward(MODEL *m, const uint16_t *codes, int batch, real *state) { return forward(m, codes, batch, state); }

double srnn_forward_backward(MODEL *m, const uint16_t *codes, int batch, real *state)
{
	double loss = forward(m, codes, batch, state);
	if (isfinite(loss))
		backward(m);
	return loss;
}
