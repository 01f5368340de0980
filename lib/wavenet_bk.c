/* wavenet_bk.c: WaveNet's training step over the backend seam (wavenet_bk.h), in the order and
 * layout of wavenet_real.c (whose header comment explains them): activations batch-major
 * [B × positions × channels]; each dilated conv one product on the stacked pairs (x[t],
 * x[t+d]); the skips of all layers one product on their tails side by side. The input layer:
 * one-hot reads the causal conv's weight as its table of taps by code; embedded makes that
 * table (embedding · the conv's taps) once per step, and scatters into its gradient; scalar is
 * one product on the scalars of the W codes before each position. One
 * part holds all rows (no split into virtual rows, no per-thread gradients): the device runs
 * each operation over all of them. */
#include "wavenet_bk.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	int d, L;                                  /* dilation, input positions per row */
	size_t fgw, fgb, resw, resb, skipw, skipb; /* parameter offsets */
	float *x, *fg;                             /* [B × L × R], [B × (L-d) × 2C] */
} wnb_layer;

struct wnb {
	backend *bk;
	wn *host; /* a wn of the same configuration (batch 1): its parameter table */
	int max_batch, nl, R, C, Sk, Q, rf, n_out, T, L0, input, E, win;
	size_t P, embw, causw, causb, p1w, p1b, p2w, p2b;
	wnb_layer *lay;
	float *params, *grads;
	float *wcat, *sbias, *zcat, *h1, *h2, *probs, *dlogits, *da, *db, *xs, *dxs, *z, *dz, *dfg, *dx0, *dx1;
	float *dwcat, *dsb;
	float *wpair, *tab, *dtab, *dwpair; /* embed: [2R × E], [Q × 2R], [Q × 2R], [2R × E] */
	float *sx;                          /* scalar: [B·L0 × W] */
	int32_t *codes, *targets;           /* in the backend's memory */
	int32_t *hcodes;                    /* host staging [max_batch × T] */
	void *bufs[64];                     /* every allocation, to free */
	int nbufs;
};

static void *take(wnb *m, size_t bytes)
{
	if (m->nbufs == (int)SH_ARRAY_LEN(m->bufs))
		return sh_error("wavenet_bk: too many buffers"), NULL;
	void *p = m->bk->alloc(m->bk, bytes);
	if (p)
		m->bufs[m->nbufs++] = p;
	return p;
}

static size_t offset_of(wnb *m, const char *name)
{
	const wn_param *p = wn_param_find(m->host, name);
	return p ? p->offset : 0;
}

void wnb_free(wnb *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nbufs; i++)
		m->bk->release(m->bk, m->bufs[i]);
	wn_free(m->host);
	free(m->lay);
	free(m->hcodes);
	free(m);
}

wnb *wnb_create(backend *bk, const wn_config *cfg, int max_batch)
{
	wnb *m = sh_alloc(sizeof *m);
	if (!m)
		return NULL;
	m->bk = bk;
	if (!(m->host = wn_create(cfg, 1)))
		return wnb_free(m), NULL;
	if (max_batch < 1)
		return sh_error("batch %d: must be positive", max_batch), wnb_free(m), NULL;
	m->max_batch = max_batch;
	m->nl = cfg->nlayers, m->R = cfg->res_ch, m->C = cfg->dil_ch, m->Sk = cfg->skip_ch, m->Q = cfg->levels;
	m->input = cfg->input, m->E = cfg->embed, m->win = wn_input_width(cfg);
	m->rf = wn_receptive_field(cfg), m->n_out = cfg->n_out, m->T = m->rf + m->n_out, m->L0 = m->T - m->win;
	m->P = wn_num_params(m->host);
	m->causw = offset_of(m, "causal.weight"), m->causb = offset_of(m, "causal.bias");
	m->embw = cfg->input == WN_INPUT_EMBED ? offset_of(m, "embed.weight") : 0;
	m->p1w = offset_of(m, "post1.weight"), m->p1b = offset_of(m, "post1.bias");
	m->p2w = offset_of(m, "post2.weight"), m->p2b = offset_of(m, "post2.bias");
	const size_t B = (size_t)max_batch, R = m->R, C = m->C, Sk = m->Sk, Q = m->Q, nl = m->nl;
	const size_t N = B * m->n_out, ZW = nl * C, L0 = m->L0;
	if (!(m->lay = sh_alloc(sizeof *m->lay * nl)) || !(m->hcodes = sh_alloc(sizeof(int32_t) * B * m->T)))
		return wnb_free(m), NULL;
	int L = m->L0, ok = 1;
	for (int l = 0; l < m->nl; l++) {
		wnb_layer *y = &m->lay[l];
		char name[32];
		y->d = cfg->dilation[l], y->L = L;
		L -= y->d;
		snprintf(name, sizeof name, "filt.%d.weight", l), y->fgw = offset_of(m, name);
		snprintf(name, sizeof name, "filt.%d.bias", l), y->fgb = offset_of(m, name);
		snprintf(name, sizeof name, "res.%d.weight", l), y->resw = offset_of(m, name);
		snprintf(name, sizeof name, "res.%d.bias", l), y->resb = offset_of(m, name);
		snprintf(name, sizeof name, "skip.%d.weight", l), y->skipw = offset_of(m, name);
		snprintf(name, sizeof name, "skip.%d.bias", l), y->skipb = offset_of(m, name);
		ok = ok && (y->x = take(m, sizeof(float) * B * y->L * R)) &&
		     (y->fg = take(m, sizeof(float) * B * (y->L - y->d) * 2 * C));
	}
#define F(n) take(m, sizeof(float) * (n))
	ok = ok && (m->params = F(m->P)) && (m->grads = F(m->P)) && (m->wcat = F(Sk * ZW)) && (m->sbias = F(Sk)) &&
	     (m->zcat = F(N * ZW)) && (m->h1 = F(N * Sk)) && (m->h2 = F(N * Sk)) && (m->probs = F(N * Q)) &&
	     (m->dlogits = F(N * Q)) && (m->da = F(N * Sk)) && (m->db = F(N * Sk)) && (m->xs = F(B * L0 * 2 * R)) &&
	     (m->dxs = F(B * L0 * 2 * R)) && (m->z = F(B * L0 * C)) && (m->dz = F(B * L0 * C)) &&
	     (m->dfg = F(B * L0 * 2 * C)) && (m->dx0 = F(B * L0 * R)) && (m->dx1 = F(B * L0 * R)) &&
	     (m->dwcat = F(Sk * ZW)) && (m->dsb = F(Sk)) && (m->codes = take(m, sizeof(int32_t) * B * m->T)) &&
	     (m->targets = take(m, sizeof(int32_t) * N));
	if (ok && m->input == WN_INPUT_EMBED)
		ok = (m->wpair = F(2 * R * m->E)) && (m->tab = F(Q * 2 * R)) && (m->dtab = F(Q * 2 * R)) &&
		     (m->dwpair = F(2 * R * m->E));
	if (ok && m->input == WN_INPUT_SCALAR)
		ok = (m->sx = F(B * L0 * m->win)) != NULL;
#undef F
	if (!ok)
		return wnb_free(m), NULL;
	return m;
}

size_t wnb_num_params(const wnb *m) { return m->P; }
float *wnb_params(wnb *m) { return m->params; }
float *wnb_grads(wnb *m) { return m->grads; }

/* the skip weights side by side [S × nl·C] and the sum of the skip biases; embedded input: the
 * conv's taps wpair [2 × R × E] (row k·R + r = causal.weight[r, :, k]) and the table of taps by
 * code tab [Q × 2R] = embed.weight · wpairᵀ */
static void prepare(wnb *m)
{
	backend *bk = m->bk;
	const int C = m->C, Sk = m->Sk, R = m->R, E = m->E;
	const long ZW = (long)m->nl * C;
	if (m->input == WN_INPUT_EMBED) {
		for (int k = 0; k < 2; k++)
			bk->strided_copy(bk, m->wpair + (size_t)k * R * E, E, 1, m->params + m->causw + k, 2L * E, 2, 0,
					 R, E);
		bk->gemm(bk, 0, 1, m->Q, 2 * R, E, 1, m->params + m->embw, E, m->wpair, E, 0, m->tab, 2 * R);
	}
	for (int l = 0; l < m->nl; l++) {
		const wnb_layer *y = &m->lay[l];
		bk->copy_blocks(bk, m->wcat + (size_t)l * C, 0, ZW, m->params + y->skipw, 0, C, 0, 1, Sk, C);
		bk->rows_add(bk, m->sbias, Sk, l == 0, m->params + y->skipb, NULL, 0, NULL, 0, 1, Sk);
	}
}

static double forward(wnb *m, int B)
{
	backend *bk = m->bk;
	const int R = m->R, C = m->C, Sk = m->Sk, Q = m->Q, nl = m->nl, nout = m->n_out;
	const long ZW = (long)nl * C;
	const int N = B * nout;
	float *P = m->params;
	prepare(m);
	if (m->input == WN_INPUT_ONEHOT)
		bk->taps_forward(bk, m->lay[0].x, m->codes, m->T, P + m->causw, 2, 1, 2L * Q, P + m->causb, B, m->L0,
				 R);
	else if (m->input == WN_INPUT_EMBED)
		bk->taps_forward(bk, m->lay[0].x, m->codes, m->T, m->tab, 2L * R, R, 1, P + m->causb, B, m->L0, R);
	else {
		bk->scalar_rows(bk, m->sx, m->codes, m->T, B, m->L0, m->win, Q);
		bk_linear_forward(bk, m->lay[0].x, m->sx, P + m->causw, P + m->causb, B * m->L0, m->win, R, 0);
	}
	for (int l = 0; l < nl; l++) {
		wnb_layer *y = &m->lay[l];
		const int d = y->d, L = y->L, Lo = L - d;
		bk->stack_pairs(bk, m->xs, y->x, B, L, R, d);
		bk_linear_forward(bk, y->fg, m->xs, P + y->fgw, P + y->fgb, B * Lo, 2 * R, 2 * C, 0);
		bk->gate_forward(bk, m->z, y->fg, (size_t)B * Lo, C);
		bk->copy_blocks(bk, m->zcat + (size_t)l * C, nout * ZW, ZW, m->z + (size_t)(Lo - nout) * C,
				(long)Lo * C, C, 0, B, nout, C);
		if (l < nl - 1) { /* x' = x[d:] + res(z) */
			float *xn = m->lay[l + 1].x;
			bk->copy_blocks(bk, xn, (long)Lo * R, R, y->x + (size_t)d * R, (long)L * R, R, 0, B, Lo, R);
			bk_linear_forward(bk, xn, m->z, P + y->resw, P + y->resb, B * Lo, C, R, 1);
		}
	}
	bk_linear_forward(bk, m->h1, m->zcat, m->wcat, m->sbias, N, (int)ZW, Sk, 0);
	bk->relu_forward(bk, m->h1, m->h1, (size_t)N * Sk);
	bk_linear_forward(bk, m->h2, m->h1, P + m->p1w, P + m->p1b, N, Sk, Sk, 0);
	bk->relu_forward(bk, m->h2, m->h2, (size_t)N * Sk);
	bk_linear_forward(bk, m->probs, m->h2, P + m->p2w, P + m->p2b, N, Sk, Q, 0);
	return bk->ce_forward(bk, m->probs, NULL, m->probs, m->targets, N, Q);
}

static void backward(wnb *m, int B)
{
	backend *bk = m->bk;
	const int R = m->R, C = m->C, Sk = m->Sk, Q = m->Q, nl = m->nl, nout = m->n_out;
	const long ZW = (long)nl * C;
	const int N = B * nout;
	float *P = m->params, *G = m->grads;
	bk->zero(bk, m->dlogits, sizeof(float) * N * Q);
	bk->ce_backward(bk, m->dlogits, m->probs, m->targets, N, Q, 1);
	bk->zero(bk, m->da, sizeof(float) * N * Sk);
	bk_linear_backward(bk, m->da, G + m->p2w, G + m->p2b, m->dlogits, m->h2, P + m->p2w, N, Sk, Q);
	bk->relu_mask(bk, m->da, m->h2, (size_t)N * Sk);
	bk->zero(bk, m->db, sizeof(float) * N * Sk);
	bk_linear_backward(bk, m->db, G + m->p1w, G + m->p1b, m->da, m->h1, P + m->p1w, N, Sk, Sk);
	bk->relu_mask(bk, m->db, m->h1, (size_t)N * Sk);
	/* the skips: gradients of the side-by-side weights, then dL/dzcat over zcat */
	bk->zero(bk, m->dsb, sizeof(float) * Sk);
	bk->zero(bk, m->dwcat, sizeof(float) * Sk * ZW);
	bk_linear_backward(bk, NULL, m->dwcat, m->dsb, m->db, m->zcat, m->wcat, N, (int)ZW, Sk);
	bk->gemm(bk, 0, 0, N, (int)ZW, Sk, 1, m->db, Sk, m->wcat, (int)ZW, 0, m->zcat, (int)ZW);
	for (int l = 0; l < nl; l++) {
		const wnb_layer *y = &m->lay[l];
		bk->copy_blocks(bk, G + y->skipw, 0, C, m->dwcat + (size_t)l * C, 0, ZW, 1, 1, Sk, C);
		bk->rows_add(bk, G + y->skipb, Sk, 0, m->dsb, NULL, 0, NULL, 0, 1, Sk);
	}
	float *dxn = m->dx1, *dxl = m->dx0;
	for (int l = nl - 1; l >= 0; l--) {
		wnb_layer *y = &m->lay[l];
		const int d = y->d, L = y->L, Lo = L - d;
		const size_t No = (size_t)B * Lo;
		bk->zero(bk, m->dz, sizeof(float) * No * C);
		if (l < nl - 1) { /* through the residual 1×1 conv */
			bk->gate_product(bk, m->z, y->fg, No, C);
			bk_linear_backward(bk, m->dz, G + y->resw, G + y->resb, dxn, m->z, P + y->resw, (int)No, C, R);
		}
		/* through the skip: the last nout positions */
		bk->copy_blocks(bk, m->dz + (size_t)(Lo - nout) * C, (long)Lo * C, C, m->zcat + (size_t)l * C,
				nout * ZW, ZW, 1, B, nout, C);
		bk->gate_backward(bk, m->dfg, m->dz, y->fg, No, C);
		/* dx = the residual pass-through (dxn shifted by d) + the dilated conv's */
		bk->zero(bk, dxl, sizeof(float) * B * L * R);
		if (l < nl - 1)
			bk->copy_blocks(bk, dxl + (size_t)d * R, (long)L * R, R, dxn, (long)Lo * R, R, 0, B, Lo, R);
		bk->stack_pairs(bk, m->xs, y->x, B, L, R, d);
		bk_linear_backward(bk, NULL, G + y->fgw, G + y->fgb, m->dfg, m->xs, P + y->fgw, (int)No, 2 * R, 2 * C);
		bk->gemm(bk, 0, 0, (int)No, 2 * R, 2 * C, 1, m->dfg, 2 * C, P + y->fgw, 2 * R, 0, m->dxs, 2 * R);
		bk->unstack_pairs_add(bk, dxl, m->dxs, B, L, R, d);
		float *t = dxn;
		dxn = dxl, dxl = t;
	}
	if (m->input == WN_INPUT_ONEHOT) {
		bk->taps_backward(bk, G + m->causw, G + m->causb, dxn, m->codes, m->T, 2, 1, 2L * Q, B, m->L0, R);
	} else if (m->input == WN_INPUT_EMBED) { /* into the table, then its two factors */
		const int E = m->E;
		bk->zero(bk, m->dtab, sizeof(float) * Q * 2 * R);
		bk->taps_backward(bk, m->dtab, G + m->causb, dxn, m->codes, m->T, 2L * R, R, 1, B, m->L0, R);
		bk->gemm(bk, 0, 0, Q, E, 2 * R, 1, m->dtab, 2 * R, m->wpair, E, 1, G + m->embw, E);
		bk->gemm(bk, 1, 0, 2 * R, E, Q, 1, m->dtab, 2 * R, P + m->embw, E, 0, m->dwpair, E);
		for (int k = 0; k < 2; k++)
			bk->strided_copy(bk, G + m->causw + k, 2L * E, 2, m->dwpair + (size_t)k * R * E, E, 1, 1, R, E);
	} else {
		bk_linear_backward(bk, NULL, G + m->causw, G + m->causb, dxn, m->sx, P + m->causw, B * m->L0, m->win,
				   R);
	}
}

double wnb_forward_backward(wnb *m, const uint16_t *codes, int B, int backward_too)
{
	const int T = m->T, nout = m->n_out;
	if (B < 1 || B > m->max_batch)
		return sh_error("batch %d: this model holds 1 to %d rows", B, m->max_batch), NAN;
	for (size_t i = 0; i < (size_t)B * T; i++) {
		if (codes[i] >= m->Q)
			return sh_error("code %d at row %zu, position %zu: the model has %d levels", codes[i], i / T,
					i % T, m->Q),
			       NAN;
		m->hcodes[i] = codes[i];
	}
	backend *bk = m->bk;
	if (bk->upload(bk, m->codes, m->hcodes, sizeof(int32_t) * B * T) < 0)
		return NAN;
	for (int b = 0; b < B; b++) /* the targets: the last n_out codes of each row */
		for (int j = 0; j < nout; j++)
			m->hcodes[(size_t)b * nout + j] = codes[(size_t)b * T + m->rf + j];
	if (bk->upload(bk, m->targets, m->hcodes, sizeof(int32_t) * B * nout) < 0)
		return NAN;
	double loss = forward(m, B);
	if (backward_too)
		backward(m, B);
	if (bk->sync(bk) < 0)
		return NAN;
	return loss;
}
