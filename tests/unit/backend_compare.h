/* backend_compare.h: every operation of backend.h, and the layers over them, run on two
 * backends on the same inputs and compared element by element (|a - b| ≤ tol·max(1, |a|, |b|),
 * tap_close). test_backend.c runs it with "cpu" against "kernels" (the device kernels' math on
 * the host), test_cuda.c with "cpu" against "cuda" on a GPU: the same harness, so that the one
 * the GPU runs has already run here. */
#ifndef SHARKS_BACKEND_COMPARE_H
#define SHARKS_BACKEND_COMPARE_H

#include "backend.h"
#include "tap.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One buffer on both backends (ref: a, dut: b), of n elements of size es. */
typedef struct {
	void *a, *b;
	size_t n, es;
} bc_buf;

enum { BC_MAX_BUFS = 64 };
typedef struct {
	backend *ref, *dut;
	double tol;
	bc_buf bufs[BC_MAX_BUFS];
	int nbufs, failed_alloc;
	uint64_t rng;
} bc_pair;

static float bc_urand(bc_pair *p) /* uniform in [-1, 1) */
{
	p->rng ^= p->rng << 13, p->rng ^= p->rng >> 7, p->rng ^= p->rng << 17;
	return (float)((double)(p->rng >> 11) / (double)(1ULL << 52) - 1);
}

/* a buffer with these host contents (NULL: zeros) on both backends */
static bc_buf *bc_put(bc_pair *p, const void *host, size_t n, size_t es)
{
	bc_buf *x = &p->bufs[p->nbufs < BC_MAX_BUFS ? p->nbufs++ : BC_MAX_BUFS - 1];
	x->n = n, x->es = es;
	x->a = p->ref->alloc(p->ref, n * es);
	x->b = p->dut->alloc(p->dut, n * es);
	if (!x->a || !x->b) {
		p->failed_alloc = 1;
		return x;
	}
	if (host && (p->ref->upload(p->ref, x->a, host, n * es) < 0 || p->dut->upload(p->dut, x->b, host, n * es) < 0))
		p->failed_alloc = 1;
	return x;
}

/* n floats uniform in [-scale, scale), the same on both */
static bc_buf *bc_rand(bc_pair *p, size_t n, float scale)
{
	float *h = malloc(sizeof(float) * (n ? n : 1));
	for (size_t i = 0; i < n; i++)
		h[i] = scale * bc_urand(p);
	bc_buf *x = bc_put(p, h, n, sizeof(float));
	free(h);
	return x;
}

/* n indices in [0, q) */
static bc_buf *bc_idx(bc_pair *p, size_t n, int q)
{
	int32_t *h = malloc(sizeof(int32_t) * (n ? n : 1));
	for (size_t i = 0; i < n; i++)
		h[i] = (int32_t)((bc_urand(p) + 1) * 0.5f * (float)q) % q;
	bc_buf *x = bc_put(p, h, n, sizeof(int32_t));
	free(h);
	return x;
}

#define BC_A(x) ((float *)(x)->a)
#define BC_B(x) ((float *)(x)->b)
#define BC_IA(x) ((int32_t *)(x)->a)
#define BC_IB(x) ((int32_t *)(x)->b)

/* the largest |a - b| / max(1, |a|, |b|) over the floats of x (after both backends finish);
 * 1e30 when a backend failed */
static double bc_err(bc_pair *p, bc_buf *x)
{
	if (p->failed_alloc || p->ref->sync(p->ref) < 0 || p->dut->sync(p->dut) < 0) {
		tap_diag("backend failure: %s", sh_errmsg());
		return 1e30;
	}
	float *ha = malloc(sizeof(float) * (x->n ? x->n : 1)), *hb = malloc(sizeof(float) * (x->n ? x->n : 1));
	double worst = 0;
	if (p->ref->download(p->ref, ha, x->a, x->n * sizeof(float)) < 0 ||
	    p->dut->download(p->dut, hb, x->b, x->n * sizeof(float)) < 0)
		worst = 1e30;
	for (size_t i = 0; i < x->n && worst < 1e30; i++) {
		double a = ha[i], b = hb[i], s = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
		double e = fabs(a - b) / (s > 1 ? s : 1);
		if (!(e <= worst)) /* NaN counts as the worst */
			worst = e == e ? e : 1e30;
	}
	free(ha), free(hb);
	return worst;
}

/* one tap test: every buffer listed agrees within tol */
static void bc_check(bc_pair *p, const char *what, bc_buf *const *xs, int nx)
{
	double worst = 0;
	for (int i = 0; i < nx; i++) {
		double e = bc_err(p, xs[i]);
		worst = e > worst ? e : worst;
	}
	tap_ok(worst <= p->tol, "%s: %s against %s, max relative error %.2g (bound %.0e)", what, p->dut->name,
	       p->ref->name, worst, p->tol);
}
#define BC_CHECK(p, what, ...)                                                                                         \
	do {                                                                                                           \
		bc_buf *xs_[] = {__VA_ARGS__};                                                                         \
		bc_check(p, what, xs_, (int)(sizeof xs_ / sizeof *xs_));                                               \
	} while (0)

static void bc_free_all(bc_pair *p)
{
	for (int i = 0; i < p->nbufs; i++) {
		p->ref->release(p->ref, p->bufs[i].a);
		p->dut->release(p->dut, p->bufs[i].b);
	}
	p->nbufs = 0, p->failed_alloc = 0;
}

/* both backends run the same call: R(bk, a-or-b arguments) */
#define BC_RUN(p, CALL_A, CALL_B)                                                                                      \
	do {                                                                                                           \
		backend *bk = (p)->ref;                                                                                \
		CALL_A;                                                                                                \
		bk = (p)->dut;                                                                                         \
		CALL_B;                                                                                                \
	} while (0)

static void bc_gemm(bc_pair *p)
{
	const int M = 37, N = 29, K = 53;
	for (int ta = 0; ta < 2; ta++)
		for (int tb = 0; tb < 2; tb++) {
			/* leading dimensions wider than the matrices: strides are mapped, not assumed */
			int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 1;
			bc_buf *A = bc_rand(p, (size_t)(ta ? K : M) * lda, 1),
			       *B = bc_rand(p, (size_t)(tb ? N : K) * ldb, 1);
			bc_buf *C = bc_rand(p, (size_t)M * ldc, 1);
			BC_RUN(p, bk->gemm(bk, ta, tb, M, N, K, 0.7f, BC_A(A), lda, BC_A(B), ldb, 0.3f, BC_A(C), ldc),
			       bk->gemm(bk, ta, tb, M, N, K, 0.7f, BC_B(A), lda, BC_B(B), ldb, 0.3f, BC_B(C), ldc));
			char what[64];
			snprintf(what, sizeof what, "gemm ta=%d tb=%d", ta, tb);
			BC_CHECK(p, what, C);
			bc_free_all(p);
		}
}

static void bc_elementwise(bc_pair *p)
{
	const int R = 13, C = 40, N = 300, E = 24, Q = 17;
	{ /* rows_add: both modes, a partial second bias, an added matrix */
		bc_buf *x = bc_rand(p, (size_t)R * (C + 5), 1), *y = bc_rand(p, (size_t)R * C, 1);
		bc_buf *b1 = bc_rand(p, C, 1), *b2 = bc_rand(p, C, 1), *add = bc_rand(p, (size_t)R * (C + 2), 1);
		BC_RUN(p, bk->rows_add(bk, BC_A(x), C + 5, 0, BC_A(b1), BC_A(b2), C / 2, BC_A(add), C + 2, R, C),
		       bk->rows_add(bk, BC_B(x), C + 5, 0, BC_B(b1), BC_B(b2), C / 2, BC_B(add), C + 2, R, C));
		BC_RUN(p, bk->rows_add(bk, BC_A(y), C, 1, BC_A(b1), NULL, 0, NULL, 0, R, C),
		       bk->rows_add(bk, BC_B(y), C, 1, BC_B(b1), NULL, 0, NULL, 0, R, C));
		BC_CHECK(p, "rows_add", x, y);
		bc_free_all(p);
	}
	{
		bc_buf *d = bc_rand(p, (size_t)N * C, 1), *db = bc_rand(p, C, 1);
		BC_RUN(p, bk->colsum_add(bk, BC_A(db), BC_A(d), N, C), bk->colsum_add(bk, BC_B(db), BC_B(d), N, C));
		BC_CHECK(p, "colsum_add", db);
		bc_free_all(p);
	}
	{ /* embedding: N rows from a table of Q, so that rows repeat */
		bc_buf *idx = bc_idx(p, N, Q), *table = bc_rand(p, (size_t)Q * E, 1),
		       *out = bc_put(p, NULL, (size_t)N * E, 4);
		bc_buf *dout = bc_rand(p, (size_t)N * E, 1), *dt = bc_rand(p, (size_t)Q * E, 1);
		BC_RUN(p, bk->embedding_forward(bk, BC_A(out), BC_IA(idx), BC_A(table), N, E),
		       bk->embedding_forward(bk, BC_B(out), BC_IB(idx), BC_B(table), N, E));
		BC_CHECK(p, "embedding_forward", out);
		BC_RUN(p, bk->embedding_backward(bk, BC_A(dt), BC_A(dout), BC_IA(idx), N, E),
		       bk->embedding_backward(bk, BC_B(dt), BC_B(dout), BC_IB(idx), N, E));
		BC_CHECK(p, "embedding_backward", dt);
		bc_free_all(p);
	}
	{ /* weight norm */
		const int O = 19, In = 33;
		bc_buf *v = bc_rand(p, (size_t)O * In, 1), *g = bc_rand(p, O, 2),
		       *w = bc_put(p, NULL, (size_t)O * In, 4);
		bc_buf *norm = bc_put(p, NULL, O, 4), *dw = bc_rand(p, (size_t)O * In, 1);
		bc_buf *dv = bc_rand(p, (size_t)O * In, 1), *dg = bc_rand(p, O, 1);
		BC_RUN(p, bk->weightnorm_forward(bk, BC_A(w), BC_A(norm), BC_A(v), BC_A(g), O, In),
		       bk->weightnorm_forward(bk, BC_B(w), BC_B(norm), BC_B(v), BC_B(g), O, In));
		BC_CHECK(p, "weightnorm_forward", w, norm);
		BC_RUN(p,
		       bk->weightnorm_backward(bk, BC_A(dv), BC_A(dg), BC_A(dw), BC_A(v), BC_A(g), BC_A(norm), O, In),
		       bk->weightnorm_backward(bk, BC_B(dv), BC_B(dg), BC_B(dw), BC_B(v), BC_B(g), BC_B(norm), O, In));
		BC_CHECK(p, "weightnorm_backward", dv, dg);
		bc_free_all(p);
	}
	{ /* relu */
		bc_buf *x = bc_rand(p, N, 1), *y = bc_put(p, NULL, N, 4), *dy = bc_rand(p, N, 1),
		       *dx = bc_rand(p, N, 1);
		BC_RUN(p, bk->relu_forward(bk, BC_A(y), BC_A(x), N), bk->relu_forward(bk, BC_B(y), BC_B(x), N));
		BC_RUN(p, bk->relu_backward(bk, BC_A(dx), BC_A(dy), BC_A(y), N),
		       bk->relu_backward(bk, BC_B(dx), BC_B(dy), BC_B(y), N));
		BC_CHECK(p, "relu_forward and relu_backward", y, dx);
		bc_free_all(p);
	}
	{ /* softmax cross-entropy over 2100 rows (more than one block of the loss's sum) */
		const int Nr = 2100, Qc = 37;
		bc_buf *logits = bc_rand(p, (size_t)Nr * Qc, 4), *t = bc_idx(p, Nr, Qc);
		bc_buf *probs = bc_put(p, NULL, (size_t)Nr * Qc, 4), *pt = bc_put(p, NULL, Nr, 4);
		bc_buf *dl = bc_rand(p, (size_t)Nr * Qc, 1);
		double la = p->ref->ce_forward(p->ref, BC_A(probs), BC_A(pt), BC_A(logits), BC_IA(t), Nr, Qc);
		double lb = p->dut->ce_forward(p->dut, BC_B(probs), BC_B(pt), BC_B(logits), BC_IB(t), Nr, Qc);
		tap_ok(tap_close(la, lb, p->tol), "ce_forward loss: %s %.9g, %s %.9g", p->ref->name, la, p->dut->name,
		       lb);
		BC_CHECK(p, "ce_forward probabilities", probs, pt);
		BC_RUN(p, bk->ce_backward(bk, BC_A(dl), BC_A(probs), BC_IA(t), Nr, Qc, 1.5f),
		       bk->ce_backward(bk, BC_B(dl), BC_B(probs), BC_IB(t), Nr, Qc, 1.5f));
		BC_CHECK(p, "ce_backward", dl);
		bc_free_all(p);
	}
	{ /* clipping: elementwise; by the global norm over more than one block, clipped or not */
		const size_t n = 10000;
		bc_buf *x = bc_rand(p, n, 3), *y = bc_rand(p, n, 1), *z = bc_rand(p, n, 1);
		BC_RUN(p, bk->clip_elementwise(bk, BC_A(x), n, 1.0f), bk->clip_elementwise(bk, BC_B(x), n, 1.0f));
		BC_CHECK(p, "clip_elementwise", x);
		double na = p->ref->clip_global_norm(p->ref, BC_A(y), n, 5.0);
		double nb = p->dut->clip_global_norm(p->dut, BC_B(y), n, 5.0);
		double ma = p->ref->clip_global_norm(p->ref, BC_A(z), n, 1e3);
		double mb = p->dut->clip_global_norm(p->dut, BC_B(z), n, 1e3);
		tap_ok(tap_close(na, nb, p->tol) && tap_close(ma, mb, p->tol) && na > 5.0 && ma < 1e3,
		       "clip_global_norm: norms %.9g, %.9g (%s) and %.9g, %.9g (%s)", na, ma, p->ref->name, nb, mb,
		       p->dut->name);
		BC_CHECK(p, "clip_global_norm: the clipped vector, and the one left alone", y, z);
		bc_free_all(p);
	}
	{ /* Adam: three steps */
		const size_t n = 5000;
		bc_buf *w = bc_rand(p, n, 1), *m = bc_put(p, NULL, n, 4), *v = bc_put(p, NULL, n, 4);
		for (long t = 1; t <= 3; t++) {
			bc_buf *g = bc_rand(p, n, 1);
			BC_RUN(p, bk->adam_step(bk, BC_A(w), BC_A(g), BC_A(m), BC_A(v), n, 1e-3, 0.9, 0.999, 1e-8, t),
			       bk->adam_step(bk, BC_B(w), BC_B(g), BC_B(m), BC_B(v), n, 1e-3, 0.9, 0.999, 1e-8, t));
		}
		BC_CHECK(p, "adam_step x3: parameters and moments", w, m, v);
		bc_free_all(p);
	}
}

/* The cells, one step, and the layers over a window (which exercise the cells' backward steps,
 * the bias adds and the products together). */
static void bc_recurrent(bc_pair *p)
{
	const int T = 5, B = 3, In = 11, H = 16, G = 4 * H, G3 = 3 * H;
	const size_t R = (size_t)T * B;
	{ /* LSTM cell forward, one step */
		bc_buf *g = bc_rand(p, (size_t)B * G, 2), *cp = bc_rand(p, (size_t)B * H, 1);
		bc_buf *h = bc_put(p, NULL, (size_t)B * H, 4), *c = bc_put(p, NULL, (size_t)B * H, 4);
		BC_RUN(p, bk->lstm_cell_forward(bk, BC_A(h), BC_A(c), BC_A(g), BC_A(cp), B, H),
		       bk->lstm_cell_forward(bk, BC_B(h), BC_B(c), BC_B(g), BC_B(cp), B, H));
		BC_CHECK(p, "lstm_cell_forward", h, c, g);
		bc_free_all(p);
	}
	{ /* GRU cell forward, one step */
		bc_buf *g = bc_rand(p, (size_t)B * G, 2), *hp = bc_rand(p, (size_t)B * H, 1), *bhn = bc_rand(p, H, 1);
		bc_buf *h = bc_put(p, NULL, (size_t)B * H, 4);
		BC_RUN(p, bk->gru_cell_forward(bk, BC_A(h), BC_A(g), BC_A(hp), BC_A(bhn), B, H),
		       bk->gru_cell_forward(bk, BC_B(h), BC_B(g), BC_B(hp), BC_B(bhn), B, H));
		BC_CHECK(p, "gru_cell_forward", h, g);
		bc_free_all(p);
	}
	{ /* linear */
		const int N = 23, O = 9;
		bc_buf *x = bc_rand(p, (size_t)N * In, 1), *w = bc_rand(p, (size_t)O * In, 1), *b = bc_rand(p, O, 1);
		bc_buf *y = bc_rand(p, (size_t)N * O, 1), *y2 = bc_rand(p, (size_t)N * O, 1),
		       *dy = bc_rand(p, (size_t)N * O, 1);
		bc_buf *dx = bc_rand(p, (size_t)N * In, 1), *dw = bc_rand(p, (size_t)O * In, 1), *db = bc_rand(p, O, 1);
		BC_RUN(p, bk_linear_forward(bk, BC_A(y), BC_A(x), BC_A(w), BC_A(b), N, In, O, 0),
		       bk_linear_forward(bk, BC_B(y), BC_B(x), BC_B(w), BC_B(b), N, In, O, 0));
		BC_RUN(p, bk_linear_forward(bk, BC_A(y2), BC_A(x), BC_A(w), BC_A(b), N, In, O, 1),
		       bk_linear_forward(bk, BC_B(y2), BC_B(x), BC_B(w), BC_B(b), N, In, O, 1));
		BC_CHECK(p, "bk_linear_forward (written and accumulated)", y, y2);
		BC_RUN(p, bk_linear_backward(bk, BC_A(dx), BC_A(dw), BC_A(db), BC_A(dy), BC_A(x), BC_A(w), N, In, O),
		       bk_linear_backward(bk, BC_B(dx), BC_B(dw), BC_B(db), BC_B(dy), BC_B(x), BC_B(w), N, In, O));
		BC_CHECK(p, "bk_linear_backward", dx, dw, db);
		bc_free_all(p);
	}
	{ /* LSTM over a window, conditioning, initial state and gradients from beyond */
		bc_buf *x = bc_rand(p, R * In, 1), *gadd = bc_rand(p, R * G, 0.5f),
		       *wih = bc_rand(p, (size_t)G * In, 0.3f);
		bc_buf *whh = bc_rand(p, (size_t)G * H, 0.3f), *bih = bc_rand(p, G, 0.3f), *bhh = bc_rand(p, G, 0.3f);
		bc_buf *h0 = bc_rand(p, (size_t)B * H, 1), *c0 = bc_rand(p, (size_t)B * H, 1);
		bc_buf *h = bc_put(p, NULL, R * H, 4), *c = bc_put(p, NULL, R * H, 4),
		       *gates = bc_put(p, NULL, R * G, 4);
		BC_RUN(p,
		       bk_lstm_forward(bk, BC_A(h), BC_A(c), BC_A(gates), BC_A(x), BC_A(gadd), BC_A(wih), BC_A(whh),
				       BC_A(bih), BC_A(bhh), BC_A(h0), BC_A(c0), T, B, In, H),
		       bk_lstm_forward(bk, BC_B(h), BC_B(c), BC_B(gates), BC_B(x), BC_B(gadd), BC_B(wih), BC_B(whh),
				       BC_B(bih), BC_B(bhh), BC_B(h0), BC_B(c0), T, B, In, H));
		BC_CHECK(p, "bk_lstm_forward: h, c and the gates", h, c, gates);
		bc_buf *dh = bc_rand(p, R * H, 1), *dhT = bc_rand(p, (size_t)B * H, 1),
		       *dcT = bc_rand(p, (size_t)B * H, 1);
		bc_buf *dx = bc_put(p, NULL, R * In, 4), *dwih = bc_put(p, NULL, (size_t)G * In, 4);
		bc_buf *dwhh = bc_put(p, NULL, (size_t)G * H, 4), *dbih = bc_put(p, NULL, G, 4),
		       *dbhh = bc_put(p, NULL, G, 4);
		bc_buf *dh0 = bc_put(p, NULL, (size_t)B * H, 4), *dc0 = bc_put(p, NULL, (size_t)B * H, 4);
		bc_buf *dg = bc_put(p, NULL, R * G, 4);
		BC_RUN(p,
		       bk_lstm_backward(bk, BC_A(dx), BC_A(dwih), BC_A(dwhh), BC_A(dbih), BC_A(dbhh), BC_A(dh0),
					BC_A(dc0), BC_A(dg), BC_A(dh), BC_A(dhT), BC_A(dcT), BC_A(h), BC_A(c),
					BC_A(gates), BC_A(x), BC_A(wih), BC_A(whh), BC_A(h0), BC_A(c0), T, B, In, H),
		       bk_lstm_backward(bk, BC_B(dx), BC_B(dwih), BC_B(dwhh), BC_B(dbih), BC_B(dbhh), BC_B(dh0),
					BC_B(dc0), BC_B(dg), BC_B(dh), BC_B(dhT), BC_B(dcT), BC_B(h), BC_B(c),
					BC_B(gates), BC_B(x), BC_B(wih), BC_B(whh), BC_B(h0), BC_B(c0), T, B, In, H));
		BC_CHECK(p, "bk_lstm_backward: every gradient", dx, dwih, dwhh, dbih, dbhh, dh0, dc0, dg);
		bc_free_all(p);
	}
	{ /* GRU over a window */
		bc_buf *x = bc_rand(p, R * In, 1), *gadd = bc_rand(p, R * G3, 0.5f),
		       *wih = bc_rand(p, (size_t)G3 * In, 0.3f);
		bc_buf *whh = bc_rand(p, (size_t)G3 * H, 0.3f), *bih = bc_rand(p, G3, 0.3f),
		       *bhh = bc_rand(p, G3, 0.3f);
		bc_buf *h0 = bc_rand(p, (size_t)B * H, 1);
		bc_buf *h = bc_put(p, NULL, R * H, 4), *gates = bc_put(p, NULL, R * G, 4);
		BC_RUN(p,
		       bk_gru_forward(bk, BC_A(h), BC_A(gates), BC_A(x), BC_A(gadd), BC_A(wih), BC_A(whh), BC_A(bih),
				      BC_A(bhh), BC_A(h0), T, B, In, H),
		       bk_gru_forward(bk, BC_B(h), BC_B(gates), BC_B(x), BC_B(gadd), BC_B(wih), BC_B(whh), BC_B(bih),
				      BC_B(bhh), BC_B(h0), T, B, In, H));
		BC_CHECK(p, "bk_gru_forward: h and the gates", h, gates);
		bc_buf *dh = bc_rand(p, R * H, 1), *dhT = bc_rand(p, (size_t)B * H, 1);
		bc_buf *dx = bc_put(p, NULL, R * In, 4), *dwih = bc_put(p, NULL, (size_t)G3 * In, 4);
		bc_buf *dwhh = bc_put(p, NULL, (size_t)G3 * H, 4), *dbih = bc_put(p, NULL, G3, 4),
		       *dbhh = bc_put(p, NULL, G3, 4);
		bc_buf *dh0 = bc_put(p, NULL, (size_t)B * H, 4), *dgi = bc_put(p, NULL, R * G3, 4);
		bc_buf *dgh = bc_put(p, NULL, R * G3, 4);
		BC_RUN(p,
		       bk_gru_backward(bk, BC_A(dx), BC_A(dwih), BC_A(dwhh), BC_A(dbih), BC_A(dbhh), BC_A(dh0),
				       BC_A(dgi), BC_A(dgh), BC_A(dh), BC_A(dhT), BC_A(h), BC_A(gates), BC_A(x),
				       BC_A(wih), BC_A(whh), BC_A(h0), T, B, In, H),
		       bk_gru_backward(bk, BC_B(dx), BC_B(dwih), BC_B(dwhh), BC_B(dbih), BC_B(dbhh), BC_B(dh0),
				       BC_B(dgi), BC_B(dgh), BC_B(dh), BC_B(dhT), BC_B(h), BC_B(gates), BC_B(x),
				       BC_B(wih), BC_B(whh), BC_B(h0), T, B, In, H));
		BC_CHECK(p, "bk_gru_backward: every gradient", dx, dwih, dwhh, dbih, dbhh, dh0, dgi, dgh);
		bc_free_all(p);
	}
}

/* WaveNet's operations (lib/wavenet_bk.c) */
static void bc_wavenet_ops(bc_pair *p)
{
	const int B = 3, L = 21, In = 10, d = 4, Lo = L - d, C = 7, Q = 13, T = L + 5;
	{
		bc_buf *x = bc_rand(p, (size_t)B * L * In, 1), *xs = bc_put(p, NULL, (size_t)B * Lo * 2 * In, 4);
		bc_buf *dxs = bc_rand(p, (size_t)B * Lo * 2 * In, 1), *dx = bc_rand(p, (size_t)B * L * In, 1);
		BC_RUN(p, bk->stack_pairs(bk, BC_A(xs), BC_A(x), B, L, In, d),
		       bk->stack_pairs(bk, BC_B(xs), BC_B(x), B, L, In, d));
		BC_RUN(p, bk->unstack_pairs_add(bk, BC_A(dx), BC_A(dxs), B, L, In, d),
		       bk->unstack_pairs_add(bk, BC_B(dx), BC_B(dxs), B, L, In, d));
		BC_CHECK(p, "stack_pairs and unstack_pairs_add", xs, dx);
		bc_free_all(p);
	}
	{
		const size_t N = (size_t)B * Lo;
		bc_buf *fg = bc_rand(p, N * 2 * C, 2), *z = bc_put(p, NULL, N * C, 4), *z2 = bc_put(p, NULL, N * C, 4);
		bc_buf *dz = bc_rand(p, N * C, 1), *dfg = bc_put(p, NULL, N * 2 * C, 4);
		BC_RUN(p, bk->gate_forward(bk, BC_A(z), BC_A(fg), N, C), bk->gate_forward(bk, BC_B(z), BC_B(fg), N, C));
		BC_RUN(p, bk->gate_product(bk, BC_A(z2), BC_A(fg), N, C),
		       bk->gate_product(bk, BC_B(z2), BC_B(fg), N, C));
		BC_RUN(p, bk->gate_backward(bk, BC_A(dfg), BC_A(dz), BC_A(fg), N, C),
		       bk->gate_backward(bk, BC_B(dfg), BC_B(dz), BC_B(fg), N, C));
		BC_CHECK(p, "gate_forward, gate_product and gate_backward", fg, z, z2, dfg);
		bc_free_all(p);
	}
	{
		bc_buf *codes = bc_idx(p, (size_t)B * T, Q), *w = bc_rand(p, (size_t)In * Q * 2, 1);
		bc_buf *b = bc_rand(p, In, 1);
		bc_buf *x0 = bc_put(p, NULL, (size_t)B * L * In, 4), *dx0 = bc_rand(p, (size_t)B * L * In, 1);
		bc_buf *dw = bc_rand(p, (size_t)In * Q * 2, 1), *db = bc_rand(p, In, 1);
		const long sq = 2, sk = 1, sr = 2L * Q; /* the one-hot layout [In × Q × 2] */
		BC_RUN(p, bk->taps_forward(bk, BC_A(x0), BC_IA(codes), T, BC_A(w), sq, sk, sr, BC_A(b), B, L, In),
		       bk->taps_forward(bk, BC_B(x0), BC_IB(codes), T, BC_B(w), sq, sk, sr, BC_B(b), B, L, In));
		BC_RUN(p, bk->taps_backward(bk, BC_A(dw), BC_A(db), BC_A(dx0), BC_IA(codes), T, sq, sk, sr, B, L, In),
		       bk->taps_backward(bk, BC_B(dw), BC_B(db), BC_B(dx0), BC_IB(codes), T, sq, sk, sr, B, L, In));
		BC_CHECK(p, "taps_forward and taps_backward", x0, dw, db);
		bc_buf *sx = bc_put(p, NULL, (size_t)B * L * 4, 4), *wp = bc_put(p, NULL, (size_t)In * Q, 4);
		BC_RUN(p, bk->scalar_rows(bk, BC_A(sx), BC_IA(codes), T, B, L, 4, Q),
		       bk->scalar_rows(bk, BC_B(sx), BC_IB(codes), T, B, L, 4, Q));
		BC_RUN(p, bk->strided_copy(bk, BC_A(wp), Q, 1, BC_A(w) + 1, 2L * Q, 2, 0, In, Q),
		       bk->strided_copy(bk, BC_B(wp), Q, 1, BC_B(w) + 1, 2L * Q, 2, 0, In, Q));
		BC_RUN(p, bk->strided_copy(bk, BC_A(dw), 2L * Q, 2, BC_A(wp), Q, 1, 1, In, Q),
		       bk->strided_copy(bk, BC_B(dw), 2L * Q, 2, BC_B(wp), Q, 1, 1, In, Q));
		BC_CHECK(p, "scalar_rows and strided_copy (written and added)", sx, wp, dw);
		bc_free_all(p);
	}
	{ /* a block of rows copied, then added, with strides and offsets */
		bc_buf *src = bc_rand(p, (size_t)B * L * In, 1), *dst = bc_rand(p, (size_t)B * 9 * (In + 3), 1);
		bc_buf *m = bc_rand(p, (size_t)B * L * In, 1), *out = bc_rand(p, (size_t)B * L * In, 1);
		BC_RUN(p,
		       bk->copy_blocks(bk, BC_A(dst) + 2, 9L * (In + 3), In + 3, BC_A(src) + (L - 9) * In, (long)L * In,
				       In, 0, B, 9, In),
		       bk->copy_blocks(bk, BC_B(dst) + 2, 9L * (In + 3), In + 3, BC_B(src) + (L - 9) * In, (long)L * In,
				       In, 0, B, 9, In));
		BC_RUN(p, bk->relu_mask(bk, BC_A(m), BC_A(src), (size_t)B * L * In),
		       bk->relu_mask(bk, BC_B(m), BC_B(src), (size_t)B * L * In));
		BC_RUN(p, bk->copy_blocks(bk, BC_A(out), (long)L * In, In, BC_A(m), (long)L * In, In, 1, B, L, In),
		       bk->copy_blocks(bk, BC_B(out), (long)L * In, In, BC_B(m), (long)L * In, In, 1, B, L, In));
		BC_CHECK(p, "copy_blocks (written and added) and relu_mask", dst, m, out);
		bc_free_all(p);
	}
}

/* Everything above, dut against ref. */
static void bc_compare_all(backend *ref, backend *dut, double tol)
{
	bc_pair p;
	memset(&p, 0, sizeof p);
	p.ref = ref, p.dut = dut, p.tol = tol, p.rng = 0x9e3779b97f4a7c15ULL;
	bc_gemm(&p);
	bc_elementwise(&p);
	bc_recurrent(&p);
	bc_wavenet_ops(&p);
}

#endif
