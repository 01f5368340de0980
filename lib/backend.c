/* backend.c: the seam of backend.h: choosing a backend by name, the "cpu" backend (nn.h on
 * host memory), the "kernels" backend (nn_kernels.h's device math in host loops, for tests),
 * and the layers made of several operations (linear, LSTM, GRU over a window), written once
 * over the table in the order nn_real.c computes them. */
#include "backend.h"
#include "nn.h"
#include "nn_kernels.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int backend_name_check(const char *name)
{
	if (!strcmp(name, "cpu") || !strcmp(name, "cuda"))
		return 0;
	return sh_error("unknown device '%s' (cpu or cuda)", name);
}

int backend_device_usable(const char *name, const char *unported)
{
	if (backend_name_check(name) < 0)
		return -1;
	if (!strcmp(name, "cpu"))
		return 0;
	backend *bk = backend_open(name);
	if (!bk)
		return -1;
	char dev[sizeof bk->device];
	snprintf(dev, sizeof dev, "%s", bk->device);
	bk->close(bk);
	if (unported)
		return sh_error("found %s, but %s does not run on the CUDA backend yet (docs/cuda.md)", dev, unported);
	return 0;
}

/* ---- host memory (both host backends) ---- */

static void *host_alloc(backend *bk, size_t bytes)
{
	(void)bk;
	return sh_alloc(bytes ? bytes : 1);
}
static void host_release(backend *bk, void *p)
{
	(void)bk;
	free(p);
}
static int host_copy(backend *bk, void *dst, const void *src, size_t bytes)
{
	(void)bk;
	if (bytes)
		memcpy(dst, src, bytes);
	return 0;
}
static void host_zero(backend *bk, void *p, size_t bytes)
{
	(void)bk;
	if (bytes)
		memset(p, 0, bytes);
}
static int host_sync(backend *bk)
{
	(void)bk;
	return 0;
}
static int host_set_tf32(backend *bk, int on)
{
	if (!on)
		return 0;
	return sh_error("the %s backend has no TF32 products", bk->name);
}
static void host_close(backend *bk) { free(bk); }
static void host_gemm(backend *bk, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
		      const float *B, int ldb, float beta, float *C, int ldc)
{
	(void)bk;
	nn_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- the device kernels' math on the host: one loop over each launcher's index space ---- */

static void k_rows_add(backend *bk, float *x, int ldx, int assign, const float *b1, const float *b2, int n2,
		       const float *add, int ldadd, int R, int C)
{
	(void)bk;
	for (int r = 0; r < R; r++)
		for (int j = 0; j < C; j++)
			nnk_rows_add(x, ldx, assign, b1, b2, n2, add, ldadd, r, j);
}
static void k_colsum_add(backend *bk, float *dbias, const float *d, int N, int O)
{
	(void)bk;
	for (int j = 0; j < O; j++)
		nnk_colsum_add(dbias, d, N, O, j);
}
static void k_embedding_forward(backend *bk, float *out, const int32_t *idx, const float *table, int N, int E)
{
	(void)bk;
	for (int n = 0; n < N; n++)
		for (int e = 0; e < E; e++)
			nnk_embedding_forward(out, idx, table, E, n, e);
}
static void k_embedding_backward(backend *bk, float *dtable, const float *dout, const int32_t *idx, int N, int E)
{
	(void)bk;
	for (int e = 0; e < E; e++)
		nnk_embedding_backward_col(dtable, dout, idx, N, E, e);
}
static void k_weightnorm_forward(backend *bk, float *w, float *norm, const float *v, const float *g, int O, int In)
{
	(void)bk;
	for (int o = 0; o < O; o++)
		nnk_weightnorm_norm(norm, v, In, o);
	for (int o = 0; o < O; o++)
		for (int i = 0; i < In; i++)
			nnk_weightnorm_scale(w, v, g, norm, In, o, i);
}
static void k_weightnorm_backward(backend *bk, float *dv, float *dg, const float *dw, const float *v, const float *g,
				  const float *norm, int O, int In)
{
	(void)bk;
	double *dot = sh_alloc(sizeof *dot * (size_t)(O > 0 ? O : 1));
	if (!dot)
		return; /* a test's buffers: the comparison fails */
	for (int o = 0; o < O; o++)
		nnk_weightnorm_dot(dot, dg, dw, v, norm, In, o);
	if (dv)
		for (int o = 0; o < O; o++)
			for (int i = 0; i < In; i++)
				nnk_weightnorm_dv(dv, dw, v, g, norm, dot, In, o, i);
	free(dot);
}
static void k_lstm_cell_forward(backend *bk, float *h, float *c, float *gates, const float *cp, int B, int H)
{
	(void)bk;
	for (int b = 0; b < B; b++)
		for (int j = 0; j < H; j++)
			nnk_lstm_cell_forward(h, c, gates, cp, H, b, j);
}
static void k_lstm_cell_backward(backend *bk, float *dgates, float *dcp, int ldcp, int dcp_acc, const float *gates,
				 const float *c, const float *cp, const float *dh, int B, int H)
{
	(void)bk;
	for (int b = 0; b < B; b++)
		for (int j = 0; j < H; j++)
			nnk_lstm_cell_backward(dgates, dcp, ldcp, dcp_acc, gates, c, cp, dh, H, b, j);
}
static void k_gru_cell_forward(backend *bk, float *h, float *gates, const float *hp, const float *bhn, int B, int H)
{
	(void)bk;
	for (int b = 0; b < B; b++)
		for (int j = 0; j < H; j++)
			nnk_gru_cell_forward(h, gates, hp, bhn, H, b, j);
}
static void k_gru_cell_backward(backend *bk, float *di, float *dr, float *dhp, const float *gates, const float *hp,
				const float *dh, int B, int H)
{
	(void)bk;
	for (int b = 0; b < B; b++)
		for (int j = 0; j < H; j++)
			nnk_gru_cell_backward(di, dr, dhp, gates, hp, dh, H, b, j);
}
static void k_relu_forward(backend *bk, float *out, const float *inp, size_t n)
{
	(void)bk;
	for (size_t i = 0; i < n; i++)
		nnk_relu_forward(out, inp, i);
}
static void k_relu_backward(backend *bk, float *dinp, const float *dout, const float *out, size_t n)
{
	(void)bk;
	for (size_t i = 0; i < n; i++)
		nnk_relu_backward(dinp, dout, out, i);
}
static void k_relu_mask(backend *bk, float *d, const float *out, size_t n)
{
	(void)bk;
	for (size_t i = 0; i < n; i++)
		nnk_relu_mask(d, out, i);
}
static void k_copy_blocks(backend *bk, float *dst, long dbs, long drs, const float *src, long sbs, long srs, int acc,
			  int nb, int nr, int cols)
{
	(void)bk;
	for (int b = 0; b < nb; b++)
		for (int j = 0; j < nr; j++)
			for (int c = 0; c < cols; c++)
				nnk_copy_blocks(dst, dbs, drs, src, sbs, srs, acc, b, j, c);
}
static void k_taps_forward(backend *bk, float *x0, const int32_t *codes, int ldc, const float *tab, long sq, long sk,
			   long sr, const float *bias, int B, int L0, int R)
{
	(void)bk;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < L0; t++)
			for (int r = 0; r < R; r++)
				nnk_taps_forward(x0, codes, ldc, tab, sq, sk, sr, bias, L0, R, b, t, r);
}
static void k_taps_backward(backend *bk, float *dtab, float *dbias, const float *dx0, const int32_t *codes, int ldc,
			    long sq, long sk, long sr, int B, int L0, int R)
{
	(void)bk;
	for (int r = 0; r < R; r++)
		nnk_taps_backward(dtab, dbias, dx0, codes, ldc, sq, sk, sr, B, L0, R, r);
}
static void k_strided_copy(backend *bk, float *dst, long drs, long dcs, const float *src, long srs, long scs, int acc,
			   int rows, int cols)
{
	(void)bk;
	for (int j = 0; j < rows; j++)
		for (int c = 0; c < cols; c++)
			nnk_strided_copy(dst, drs, dcs, src, srs, scs, acc, j, c);
}
static void k_scalar_rows(backend *bk, float *sx, const int32_t *codes, int ldc, int B, int L, int W, int Q)
{
	(void)bk;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < L; t++)
			for (int k = 0; k < W; k++)
				nnk_scalar_rows(sx, codes, ldc, L, W, Q, b, t, k);
}
static void k_stack_pairs(backend *bk, float *xs, const float *x, int B, int L, int In, int d)
{
	(void)bk;
	for (long n = 0; n < (long)B * (L - d); n++)
		for (int i = 0; i < In; i++)
			nnk_stack_pairs(xs, x, L, In, d, n, i);
}
static void k_unstack_pairs_add(backend *bk, float *dx, const float *dxs, int B, int L, int In, int d)
{
	(void)bk;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < L; t++)
			for (int i = 0; i < In; i++)
				nnk_unstack_pairs_add(dx, dxs, L, In, d, b, t, i);
}
static void k_gate_forward(backend *bk, float *z, float *fg, size_t N, int C)
{
	(void)bk;
	for (size_t n = 0; n < N; n++)
		for (int c = 0; c < C; c++)
			nnk_gate_forward(z, fg, C, n, c);
}
static void k_gate_product(backend *bk, float *z, const float *fg, size_t N, int C)
{
	(void)bk;
	for (size_t n = 0; n < N; n++)
		for (int c = 0; c < C; c++)
			nnk_gate_product(z, fg, C, n, c);
}
static void k_gate_backward(backend *bk, float *dfg, const float *dz, const float *fg, size_t N, int C)
{
	(void)bk;
	for (size_t n = 0; n < N; n++)
		for (int c = 0; c < C; c++)
			nnk_gate_backward(dfg, dz, fg, C, n, c);
}
static double k_ce_forward(backend *bk, float *probs, float *ptarget, const float *logits, const int32_t *targets,
			   int N, int Q)
{
	(void)bk;
	if (N <= 0)
		return 0;
	size_t nb = ((size_t)N + NNK_CE_BLOCK - 1) / NNK_CE_BLOCK;
	double *rows = sh_alloc(sizeof *rows * ((size_t)N + nb));
	if (!rows)
		return NAN;
	double *part = rows + N, loss = 0;
	for (int n = 0; n < N; n++)
		rows[n] = nnk_ce_row(probs, ptarget, logits, targets, Q, n);
	for (size_t bl = 0; bl < nb; bl++)
		part[bl] = nnk_sum_block(rows, (size_t)N, NNK_CE_BLOCK, bl);
	for (size_t bl = 0; bl < nb; bl++)
		loss += part[bl];
	free(rows);
	return loss / N;
}
static void k_ce_backward(backend *bk, float *dlogits, const float *probs, const int32_t *targets, int N, int Q,
			  float dloss)
{
	(void)bk;
	float s = dloss / N;
	for (int n = 0; n < N; n++)
		for (int q = 0; q < Q; q++)
			nnk_ce_backward(dlogits, probs, targets, Q, s, n, q);
}
static void k_clip_elementwise(backend *bk, float *x, size_t n, float lim)
{
	(void)bk;
	for (size_t i = 0; i < n; i++)
		nnk_clip(x, lim, i);
}
static double k_clip_global_norm(backend *bk, float *x, size_t n, double max_norm)
{
	(void)bk;
	double ss = 0;
	for (size_t bl = 0; bl < (n + NNK_NORM_BLOCK - 1) / NNK_NORM_BLOCK; bl++)
		ss += nnk_sumsq_block(x, n, bl);
	double norm = sqrt(ss);
	if (norm > max_norm) {
		float s = (float)(max_norm / (norm + 1e-6));
		for (size_t i = 0; i < n; i++)
			x[i] *= s;
	}
	return norm;
}
static void k_adam_step(backend *bk, float *p, const float *g, float *m, float *v, size_t n, double lr, double b1,
			double b2, double eps, long t)
{
	(void)bk;
	nnk_adam_consts k = nnk_adam_setup(lr, b1, b2, eps, t);
	for (size_t i = 0; i < n; i++)
		nnk_adam(p, g, m, v, k, i);
}

/* ---- "cpu": nn.h ---- */

static void c_embedding_forward(backend *bk, float *out, const int32_t *idx, const float *table, int N, int E)
{
	(void)bk;
	embedding_forward(out, idx, table, N, E);
}
static void c_embedding_backward(backend *bk, float *dtable, const float *dout, const int32_t *idx, int N, int E)
{
	(void)bk;
	embedding_backward(dtable, dout, idx, N, E);
}
static void c_weightnorm_forward(backend *bk, float *w, float *norm, const float *v, const float *g, int O, int In)
{
	(void)bk;
	weightnorm_forward(w, norm, v, g, O, In);
}
static void c_weightnorm_backward(backend *bk, float *dv, float *dg, const float *dw, const float *v, const float *g,
				  const float *norm, int O, int In)
{
	(void)bk;
	weightnorm_backward(dv, dg, dw, v, g, norm, O, In);
}
static void c_lstm_cell_forward(backend *bk, float *h, float *c, float *gates, const float *cp, int B, int H)
{
	(void)bk;
	lstm_cell_forward(h, c, gates, cp, B, H);
}
static void c_gru_cell_forward(backend *bk, float *h, float *gates, const float *hp, const float *bhn, int B, int H)
{
	(void)bk;
	gru_cell_forward(h, gates, hp, bhn, B, H);
}
static void c_relu_forward(backend *bk, float *out, const float *inp, size_t n)
{
	(void)bk;
	relu_forward(out, inp, n);
}
static void c_relu_backward(backend *bk, float *dinp, const float *dout, const float *out, size_t n)
{
	(void)bk;
	relu_backward(dinp, dout, out, n);
}
static void c_relu_mask(backend *bk, float *d, const float *out, size_t n)
{
	(void)bk;
	relu_mask(d, out, n);
}
static double c_ce_forward(backend *bk, float *probs, float *ptarget, const float *logits, const int32_t *targets,
			   int N, int Q)
{
	(void)bk;
	return ce_forward(probs, ptarget, logits, targets, N, Q);
}
static void c_ce_backward(backend *bk, float *dlogits, const float *probs, const int32_t *targets, int N, int Q,
			  float dloss)
{
	(void)bk;
	ce_backward(dlogits, probs, targets, N, Q, dloss);
}
static void c_clip_elementwise(backend *bk, float *x, size_t n, float lim)
{
	(void)bk;
	clip_elementwise(x, n, lim);
}
static double c_clip_global_norm(backend *bk, float *x, size_t n, double max_norm)
{
	(void)bk;
	return clip_global_norm(x, n, max_norm);
}
static void c_adam_step(backend *bk, float *p, const float *g, float *m, float *v, size_t n, double lr, double b1,
			double b2, double eps, long t)
{
	(void)bk;
	adam_step(p, g, m, v, n, lr, b1, b2, eps, t);
}

/* The kernels backend's table; "cpu" replaces the operations nn.h has (the cell backward steps,
 * the bias adds and column sums are inside nn.h's layers, not functions of their own, and
 * WaveNet's are in a higher layer, wavenet_real.c: "cpu" runs the kernels' math for those). */
static backend *host_backend(const char *name)
{
	backend *bk = sh_alloc(sizeof *bk);
	if (!bk)
		return NULL;
	bk->name = name;
	snprintf(bk->device, sizeof bk->device, "host");
	bk->alloc = host_alloc, bk->release = host_release, bk->upload = host_copy, bk->download = host_copy;
	bk->zero = host_zero, bk->sync = host_sync, bk->set_tf32 = host_set_tf32, bk->close = host_close;
	bk->gemm = host_gemm, bk->rows_add = k_rows_add, bk->colsum_add = k_colsum_add;
	bk->embedding_forward = k_embedding_forward, bk->embedding_backward = k_embedding_backward;
	bk->weightnorm_forward = k_weightnorm_forward, bk->weightnorm_backward = k_weightnorm_backward;
	bk->lstm_cell_forward = k_lstm_cell_forward, bk->lstm_cell_backward = k_lstm_cell_backward;
	bk->gru_cell_forward = k_gru_cell_forward, bk->gru_cell_backward = k_gru_cell_backward;
	bk->relu_forward = k_relu_forward, bk->relu_backward = k_relu_backward, bk->relu_mask = k_relu_mask;
	bk->ce_forward = k_ce_forward, bk->ce_backward = k_ce_backward;
	bk->clip_elementwise = k_clip_elementwise, bk->clip_global_norm = k_clip_global_norm;
	bk->adam_step = k_adam_step;
	bk->copy_blocks = k_copy_blocks;
	bk->taps_forward = k_taps_forward, bk->taps_backward = k_taps_backward;
	bk->strided_copy = k_strided_copy, bk->scalar_rows = k_scalar_rows;
	bk->stack_pairs = k_stack_pairs, bk->unstack_pairs_add = k_unstack_pairs_add;
	bk->gate_forward = k_gate_forward, bk->gate_product = k_gate_product, bk->gate_backward = k_gate_backward;
	return bk;
}

backend *backend_kernels(void) { return host_backend("kernels"); }

backend *backend_open(const char *name)
{
	if (backend_name_check(name) < 0)
		return NULL;
	if (!strcmp(name, "cuda"))
		return backend_cuda_open();
	backend *bk = host_backend("cpu");
	if (!bk)
		return NULL;
	bk->embedding_forward = c_embedding_forward, bk->embedding_backward = c_embedding_backward;
	bk->weightnorm_forward = c_weightnorm_forward, bk->weightnorm_backward = c_weightnorm_backward;
	bk->lstm_cell_forward = c_lstm_cell_forward, bk->gru_cell_forward = c_gru_cell_forward;
	bk->relu_forward = c_relu_forward, bk->relu_backward = c_relu_backward, bk->relu_mask = c_relu_mask;
	bk->ce_forward = c_ce_forward, bk->ce_backward = c_ce_backward;
	bk->clip_elementwise = c_clip_elementwise, bk->clip_global_norm = c_clip_global_norm;
	bk->adam_step = c_adam_step;
	return bk;
}

/* ---- layers over the table: nn_real.c's order of operations ---- */

void bk_linear_forward(backend *bk, float *out, const float *inp, const float *w, const float *bias, int N, int In,
		       int O, int accumulate)
{
	float beta = accumulate ? 1 : 0;
	if (bias) {
		bk->rows_add(bk, out, O, !accumulate, bias, NULL, 0, NULL, 0, N, O);
		beta = 1;
	}
	if (N > 0)
		bk->gemm(bk, 0, 1, N, O, In, 1, inp, In, w, In, beta, out, O);
}

void bk_linear_backward(backend *bk, float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
			const float *w, int N, int In, int O)
{
	if (N <= 0)
		return;
	if (dinp)
		bk->gemm(bk, 0, 0, N, In, O, 1, dout, O, w, In, 1, dinp, In);
	if (dw)
		bk->gemm(bk, 1, 0, O, In, N, 1, dout, O, inp, In, 1, dw, In);
	if (dbias)
		bk->colsum_add(bk, dbias, dout, N, O);
}

void bk_lstm_forward(backend *bk, float *h, float *c, float *gates, const float *inp, const float *gadd,
		     const float *wih, const float *whh, const float *bih, const float *bhh, const float *h0,
		     const float *c0, int T, int B, int In, int H)
{
	const int G = 4 * H, R = T * B;
	bk->gemm(bk, 0, 1, R, G, In, 1, inp, In, wih, In, 0, gates, G);
	bk->rows_add(bk, gates, G, 0, bih, bhh, G, gadd, G, R, G);
	for (int t = 0; t < T; t++) {
		float *gt = gates + (size_t)t * B * G;
		const float *hp = t ? h + (size_t)(t - 1) * B * H : h0;
		const float *cp = t ? c + (size_t)(t - 1) * B * H : c0;
		bk->gemm(bk, 0, 1, B, G, H, 1, hp, H, whh, H, 1, gt, G);
		bk->lstm_cell_forward(bk, h + (size_t)t * B * H, c + (size_t)t * B * H, gt, cp, B, H);
	}
}

void bk_lstm_backward(backend *bk, float *dinp, float *dwih, float *dwhh, float *dbih, float *dbhh, float *dh0,
		      float *dc0, float *dgates, float *dh, const float *dhT, const float *dcT, const float *h,
		      const float *c, const float *gates, const float *inp, const float *wih, const float *whh,
		      const float *h0, const float *c0, int T, int B, int In, int H)
{
	const int G = 4 * H, R = T * B;
	/* dL/dc from the step after is parked in the i slot of dgates (as nn_real.c does); the last
	 * step's is dcT */
	bk->rows_add(bk, dgates + (size_t)(R - B) * G, G, 1, NULL, NULL, 0, dcT, H, B, H);
	if (dhT)
		bk->rows_add(bk, dh + (size_t)(R - B) * H, H, 0, NULL, NULL, 0, dhT, H, B, H);
	for (int t = T - 1; t >= 0; t--) {
		float *dgt = dgates + (size_t)t * B * G;
		const float *cp = t ? c + (size_t)(t - 1) * B * H : c0;
		if (t > 0)
			bk->lstm_cell_backward(bk, dgt, dgates + (size_t)(t - 1) * B * G, G, 0,
					       gates + (size_t)t * B * G, c + (size_t)t * B * H, cp,
					       dh + (size_t)t * B * H, B, H);
		else
			bk->lstm_cell_backward(bk, dgt, dc0, H, 1, gates, c, cp, dh, B, H);
		float *dhp = t ? dh + (size_t)(t - 1) * B * H : dh0;
		if (dhp)
			bk->gemm(bk, 0, 0, B, H, G, 1, dgt, G, whh, H, 1, dhp, H);
	}
	if (dwhh) {
		if (T > 1)
			bk->gemm(bk, 1, 0, G, H, R - B, 1, dgates + (size_t)B * G, G, h, H, 1, dwhh, H);
		bk->gemm(bk, 1, 0, G, H, B, 1, dgates, G, h0, H, 1, dwhh, H);
	}
	if (dwih)
		bk->gemm(bk, 1, 0, G, In, R, 1, dgates, G, inp, In, 1, dwih, In);
	if (dinp)
		bk->gemm(bk, 0, 0, R, In, G, 1, dgates, G, wih, In, 1, dinp, In);
	if (dbih)
		bk->colsum_add(bk, dbih, dgates, R, G);
	if (dbhh)
		bk->colsum_add(bk, dbhh, dgates, R, G);
}

void bk_gru_forward(backend *bk, float *h, float *gates, const float *inp, const float *gadd, const float *wih,
		    const float *whh, const float *bih, const float *bhh, const float *h0, int T, int B, int In, int H)
{
	const int G = 4 * H, G3 = 3 * H, R = T * B;
	bk->gemm(bk, 0, 1, R, G3, In, 1, inp, In, wih, In, 0, gates, G);
	bk->rows_add(bk, gates, G, 0, bih, bhh, 2 * H, gadd, G3, R, G3);
	for (int t = 0; t < T; t++) {
		float *gt = gates + (size_t)t * B * G;
		const float *hp = t ? h + (size_t)(t - 1) * B * H : h0;
		bk->gemm(bk, 0, 1, B, 2 * H, H, 1, hp, H, whh, H, 1, gt, G);
		bk->gemm(bk, 0, 1, B, H, H, 1, hp, H, whh + (size_t)2 * H * H, H, 0, gt + 3 * H, G);
		bk->gru_cell_forward(bk, h + (size_t)t * B * H, gt, hp, bhh + 2 * H, B, H);
	}
}

void bk_gru_backward(backend *bk, float *dinp, float *dwih, float *dwhh, float *dbih, float *dbhh, float *dh0,
		     float *dgi, float *dgh, float *dh, const float *dhT, const float *h, const float *gates,
		     const float *inp, const float *wih, const float *whh, const float *h0, int T, int B, int In, int H)
{
	const int G = 4 * H, G3 = 3 * H, R = T * B;
	if (dhT)
		bk->rows_add(bk, dh + (size_t)(R - B) * H, H, 0, NULL, NULL, 0, dhT, H, B, H);
	for (int t = T - 1; t >= 0; t--) {
		const float *hp = t ? h + (size_t)(t - 1) * B * H : h0;
		float *dhp = t ? dh + (size_t)(t - 1) * B * H : dh0;
		float *drt = dgh + (size_t)t * B * G3;
		bk->gru_cell_backward(bk, dgi + (size_t)t * B * G3, drt, dhp, gates + (size_t)t * B * G, hp,
				      dh + (size_t)t * B * H, B, H);
		if (dhp)
			bk->gemm(bk, 0, 0, B, H, G3, 1, drt, G3, whh, H, 1, dhp, H);
	}
	if (dwhh) {
		if (T > 1)
			bk->gemm(bk, 1, 0, G3, H, R - B, 1, dgh + (size_t)B * G3, G3, h, H, 1, dwhh, H);
		bk->gemm(bk, 1, 0, G3, H, B, 1, dgh, G3, h0, H, 1, dwhh, H);
	}
	if (dbhh)
		bk->colsum_add(bk, dbhh, dgh, R, G3);
	if (dwih)
		bk->gemm(bk, 1, 0, G3, In, R, 1, dgi, G3, inp, In, 1, dwih, In);
	if (dinp)
		bk->gemm(bk, 0, 0, R, In, G3, 1, dgi, G3, wih, In, 1, dinp, In);
	if (dbih)
		bk->colsum_add(bk, dbih, dgi, R, G3);
}
