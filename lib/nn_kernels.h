/* nn_kernels.h: the per-element math of the device kernels, written once for the device and
 * the host. Under nvcc every NNK function is __host__ __device__ and lib/backend_cuda.cu's
 * __global__ launchers only map a thread to its indices and call it; in C the same functions
 * are static inline, and lib/backend.c's "kernels" backend runs them in host loops over the
 * same indices, so that tests/unit/test_backend.c checks this very math on the CPU against
 * nn_real.c (the specification) on the same inputs.
 *
 * Float only. Each function makes one element (or one row, one column) of an nn.h operation;
 * its comment names the operation and the index space. Where the CPU code sums in a fixed
 * order (columns of a bias gradient, rows of an embedding), the function sums in the same
 * order: no atomics, so the device gives the same bytes run after run. The math differs from
 * nn_real.c's float build only where that build uses fastmath.h (expf, tanhf here: the device
 * has them natively) and where nvcc contracts a·b + c into one FMA. */
#ifndef SHARKS_NN_KERNELS_H
#define SHARKS_NN_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define NNK static inline __host__ __device__
#else
#define NNK static inline
#endif

/* Sums of squares for clip_global_norm are taken over blocks of this many values (as
 * nn_real.c's), then over the blocks in order. */
#define NNK_NORM_BLOCK 4096

NNK float nnk_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* embedding_forward, element (n, e) of out[N×E] */
NNK void nnk_embedding_forward(float *out, const int32_t *idx, const float *table, int E, int n, int e)
{
	out[(size_t)n * E + e] = table[(size_t)idx[n] * E + e];
}

/* embedding_backward, column e of dtable: rows n = 0..N-1 in order (several rows may share an
 * index, so one thread owns a column rather than a row) */
NNK void nnk_embedding_backward_col(float *dtable, const float *dout, const int32_t *idx, int N, int E, int e)
{
	for (int n = 0; n < N; n++)
		dtable[(size_t)idx[n] * E + e] += dout[(size_t)n * E + e];
}

/* x[r·ldx + j] = (assign ? 0 : x) + (b1[j] + (j < n2 ? b2[j] : 0) + add[r·ldadd + j]); b1, b2,
 * add may be NULL (0). The biases (and conditioning) of the LSTM and GRU input projections, and a
 * linear layer's bias. Element (r, j). */
NNK void nnk_rows_add(float *x, int ldx, int assign, const float *b1, const float *b2, int n2, const float *add,
		      int ldadd, int r, int j)
{
	float *p = x + (size_t)r * ldx + j;
	float s = (b1 ? b1[j] : 0.0f) + (b2 && j < n2 ? b2[j] : 0.0f) + (add ? add[(size_t)r * ldadd + j] : 0.0f);
	*p = (assign ? 0.0f : *p) + s;
}

/* dbias[j] += Σ_n d[n·O + j], rows in order: column j of linear_backward's bias gradient */
NNK void nnk_colsum_add(float *dbias, const float *d, int N, int O, int j)
{
	float s = dbias[j];
	for (int n = 0; n < N; n++)
		s += d[(size_t)n * O + j];
	dbias[j] = s;
}

/* lstm_cell_forward, unit (b, j): gates[B×4H] pre-activations in, activated out; c, h [B×H] */
NNK void nnk_lstm_cell_forward(float *h, float *c, float *gates, const float *cp, int H, int b, int j)
{
	float *g = gates + (size_t)b * 4 * H + j;
	float ig = nnk_sigmoid(g[0]), fg = nnk_sigmoid(g[H]);
	float gg = tanhf(g[2 * H]), og = nnk_sigmoid(g[3 * H]);
	g[0] = ig, g[H] = fg, g[2 * H] = gg, g[3 * H] = og;
	size_t k = (size_t)b * H + j;
	float cn = fg * cp[k] + ig * gg;
	c[k] = cn;
	h[k] = og * tanhf(cn);
}

/* One timestep of lstm_backward, unit (b, j): dgates[B×4H] holds in its i slot dL/dc from the
 * step after and receives dL/d(pre-activations); gates [B×4H], c, cp, dh [B×H] of this step.
 * dL/dc of the previous step goes to dcp[b·ldcp + j] (accumulated when dcp_acc, else written;
 * NULL: dropped): the previous step's i slot of dgates, or dc0. */
NNK void nnk_lstm_cell_backward(float *dgates, float *dcp, int ldcp, int dcp_acc, const float *gates, const float *c,
				const float *cp, const float *dh, int H, int b, int j)
{
	const float *g = gates + (size_t)b * 4 * H + j;
	float *dg = dgates + (size_t)b * 4 * H + j;
	size_t k = (size_t)b * H + j;
	float ig = g[0], fg = g[H], gg = g[2 * H], og = g[3 * H];
	float tc = tanhf(c[k]), d = dh[k];
	float dc = dg[0] + d * og * (1 - tc * tc);
	dg[0] = dc * gg * ig * (1 - ig);
	dg[H] = dc * cp[k] * fg * (1 - fg);
	dg[2 * H] = dc * ig * (1 - gg * gg);
	dg[3 * H] = d * tc * og * (1 - og);
	if (dcp) {
		float *p = dcp + (size_t)b * ldcp + j;
		*p = (dcp_acc ? *p : 0.0f) + dc * fg;
	}
}

/* gru_cell_forward, unit (b, j): gates[B×4H] as nn.h says; h, hp [B×H]; bhn[H] */
NNK void nnk_gru_cell_forward(float *h, float *gates, const float *hp, const float *bhn, int H, int b, int j)
{
	float *g = gates + (size_t)b * 4 * H + j;
	float rg = nnk_sigmoid(g[0]), zg = nnk_sigmoid(g[H]);
	float hn = g[3 * H] + bhn[j];
	float ng = tanhf(g[2 * H] + rg * hn);
	g[0] = rg, g[H] = zg, g[2 * H] = ng, g[3 * H] = hn;
	size_t k = (size_t)b * H + j;
	h[k] = (1 - zg) * ng + zg * hp[k];
}

/* One timestep of gru_backward, unit (b, j): writes di, dr [B×3H] (dL/d input and recurrent
 * projections); dhp[B×H] += the direct part of dL/dh_prev (NULL: dropped) */
NNK void nnk_gru_cell_backward(float *di, float *dr, float *dhp, const float *gates, const float *hp, const float *dh,
			       int H, int b, int j)
{
	const float *g = gates + (size_t)b * 4 * H + j;
	size_t k = (size_t)b * H + j, k3 = (size_t)b * 3 * H + j;
	float rg = g[0], zg = g[H], ng = g[2 * H], hn = g[3 * H], d = dh[k];
	float dnp = d * (1 - zg) * (1 - ng * ng);
	float dzp = d * (hp[k] - ng) * zg * (1 - zg);
	float drp = dnp * hn * rg * (1 - rg);
	di[k3] = drp, di[k3 + H] = dzp, di[k3 + 2 * H] = dnp;
	dr[k3] = drp, dr[k3 + H] = dzp, dr[k3 + 2 * H] = dnp * rg;
	if (dhp)
		dhp[k] += d * zg;
}

/* weightnorm_forward, row o: norm[o] = ‖v_row‖ (summed in double, in order) */
NNK void nnk_weightnorm_norm(float *norm, const float *v, int In, int o)
{
	const float *vr = v + (size_t)o * In;
	double ss = 0;
	for (int i = 0; i < In; i++)
		ss += (double)vr[i] * vr[i];
	norm[o] = (float)sqrt(ss);
}

/* weightnorm_forward, element (o, i): w = v · g/‖v_row‖ */
NNK void nnk_weightnorm_scale(float *w, const float *v, const float *g, const float *norm, int In, int o, int i)
{
	size_t k = (size_t)o * In + i;
	w[k] = v[k] * (g[o] / norm[o]);
}

/* weightnorm_backward, row o: dot[o] = dw_row · v_row (double), dg[o] += dot/‖v_row‖ */
NNK void nnk_weightnorm_dot(double *dot, float *dg, const float *dw, const float *v, const float *norm, int In, int o)
{
	const float *vr = v + (size_t)o * In, *dr = dw + (size_t)o * In;
	double s = 0;
	for (int i = 0; i < In; i++)
		s += (double)dr[i] * vr[i];
	dot[o] = s;
	if (dg)
		dg[o] += (float)(s / norm[o]);
}

/* weightnorm_backward, element (o, i): dv += g/n·dw - g·dot/n³·v */
NNK void nnk_weightnorm_dv(float *dv, const float *dw, const float *v, const float *g, const float *norm,
			   const double *dot, int In, int o, int i)
{
	size_t k = (size_t)o * In + i;
	float n = norm[o];
	float a = g[o] / n, bb = (float)(g[o] * dot[o] / ((double)n * n * n));
	dv[k] += a * dw[k] - bb * v[k];
}

/* relu_forward and relu_backward, element i */
NNK void nnk_relu_forward(float *out, const float *inp, size_t i) { out[i] = inp[i] > 0 ? inp[i] : 0.0f; }
NNK void nnk_relu_backward(float *dinp, const float *dout, const float *out, size_t i)
{
	dinp[i] += out[i] > 0 ? dout[i] : 0.0f;
}

/* ce_forward, row n of logits[N×Q]: probs (may equal logits), ptarget[n] unless NULL;
 * returns the row's -log p(target) */
NNK double nnk_ce_row(float *probs, float *ptarget, const float *logits, const int32_t *targets, int Q, int n)
{
	const float *l = logits + (size_t)n * Q;
	float *p = probs + (size_t)n * Q;
	float mx = l[0];
	for (int q = 1; q < Q; q++)
		mx = l[q] > mx ? l[q] : mx;
	float lt = l[targets[n]], sum = 0;
	for (int q = 0; q < Q; q++)
		sum += p[q] = expf(l[q] - mx);
	float inv = 1 / sum;
	for (int q = 0; q < Q; q++)
		p[q] *= inv;
	if (ptarget)
		ptarget[n] = p[targets[n]];
	return (double)logf(sum) + mx - lt;
}

/* ce_forward's mean: the row losses summed in blocks of this many rows, in order, then the
 * blocks in order (a fixed order: the same bits run after run) */
#define NNK_CE_BLOCK 1024
NNK double nnk_sum_block(const double *x, size_t n, size_t blk, size_t bl)
{
	size_t a = bl * blk, e = a + blk < n ? a + blk : n;
	double s = 0;
	for (size_t i = a; i < e; i++)
		s += x[i];
	return s;
}

/* ce_backward, element (n, q): dlogits += s·(probs - onehot(target)), s = dloss/N */
NNK void nnk_ce_backward(float *dlogits, const float *probs, const int32_t *targets, int Q, float s, int n, int q)
{
	size_t k = (size_t)n * Q + q;
	float d = dlogits[k] + s * probs[k];
	if (q == targets[n])
		d -= s;
	dlogits[k] = d;
}

/* clip_elementwise, element i */
NNK void nnk_clip(float *x, float lim, size_t i) { x[i] = x[i] > lim ? lim : x[i] < -lim ? -lim : x[i]; }

/* clip_global_norm, block bl of NNK_NORM_BLOCK values: their Σx² in double, in order */
NNK double nnk_sumsq_block(const float *x, size_t n, size_t bl)
{
	size_t a = bl * NNK_NORM_BLOCK, e = a + NNK_NORM_BLOCK < n ? a + NNK_NORM_BLOCK : n;
	double s = 0;
	for (size_t i = a; i < e; i++)
		s += (double)x[i] * x[i];
	return s;
}

/* adam_step's constants for step t (as nn_real.c's adam_step computes them) */
typedef struct {
	float step, bc2s, b1, b2, eps;
} nnk_adam_consts;

NNK nnk_adam_consts nnk_adam_setup(double lr, double b1, double b2, double eps, long t)
{
	nnk_adam_consts k;
	k.step = (float)(lr / (1 - pow(b1, (double)t)));
	k.bc2s = (float)sqrt(1 - pow(b2, (double)t));
	k.b1 = (float)b1, k.b2 = (float)b2, k.eps = (float)eps;
	return k;
}

/* adam_step, element i */
NNK void nnk_adam(float *p, const float *g, float *m, float *v, nnk_adam_consts k, size_t i)
{
	float gi = g[i];
	float mi = m[i] * k.b1 + (1 - k.b1) * gi;
	float vi = v[i] * k.b2 + (1 - k.b2) * gi * gi;
	m[i] = mi, v[i] = vi;
	p[i] -= k.step * mi / (sqrtf(vi) / k.bc2s + k.eps);
}

/* d[i] = d[i]·[out[i] > 0] (relu_mask), element i */
NNK void nnk_relu_mask(float *d, const float *out, size_t i) { d[i] = out[i] > 0 ? d[i] : 0.0f; }

/* ---- WaveNet (lib/wavenet_bk.c; the CPU's are in wavenet_real.c) ---- */

/* dst[b·dbs + j·drs + c] (= or +=) src[b·sbs + j·srs + c], element (b, j, c): a block of rows
 * (the tails of a layer, a shifted residual, weights side by side) */
NNK void nnk_copy_blocks(float *dst, long dbs, long drs, const float *src, long sbs, long srs, int acc, int b, int j,
			 int c)
{
	float *o = dst + b * dbs + j * drs + c;
	float v = src[b * sbs + j * srs + c];
	*o = acc ? *o + v : v;
}

/* the causal conv of width 2 of the one-hot and embedded inputs, element (b, t, r) of
 * x0[B × L0 × R]: bias[r] + tab(c_t, 0, r) + tab(c_{t+1}, 1, r), c = codes + b·ldc, where
 * tab(q, k, r) = tab[q·sq + k·sk + r·sr]: the one-hot conv's weight [R × Q × 2] itself (sq 2,
 * sk 1, sr 2Q), or the embedded input's taps by code [Q × 2 × R] (sq 2R, sk R, sr 1) */
NNK void nnk_taps_forward(float *x0, const int32_t *codes, int ldc, const float *tab, long sq, long sk, long sr,
			  const float *bias, int L0, int R, int b, int t, int r)
{
	const int32_t *c = codes + (size_t)b * ldc + t;
	x0[((size_t)b * L0 + t) * R + r] = bias[r] + tab[c[0] * sq + r * sr] + tab[c[1] * sq + sk + r * sr];
}

/* its backward, channel r: dtab(c_t, 0, r) and dtab(c_{t+1}, 1, r) += dx0[b, t, r] and
 * dbias[r] += Σ dx0[., ., r], positions in order (one thread owns a channel) */
NNK void nnk_taps_backward(float *dtab, float *dbias, const float *dx0, const int32_t *codes, int ldc, long sq, long sk,
			   long sr, int B, int L0, int R, int r)
{
	float sb = 0;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < L0; t++) {
			const int32_t *c = codes + (size_t)b * ldc + t;
			float d = dx0[((size_t)b * L0 + t) * R + r];
			dtab[c[0] * sq + r * sr] += d;
			dtab[c[1] * sq + sk + r * sr] += d;
			sb += d;
		}
	dbias[r] += sb;
}

/* dst[j·drs + c·dcs] (= or, acc, +=) src[j·srs + c·scs], element (j, c): a strided 2-D copy
 * (the embedded input's conv weight [R × E × 2] to its taps [2 × R × E] and back) */
NNK void nnk_strided_copy(float *dst, long drs, long dcs, const float *src, long srs, long scs, int acc, int j, int c)
{
	float *o = dst + j * drs + c * dcs;
	float v = src[j * srs + c * scs];
	*o = acc ? *o + v : v;
}

/* the scalar input, element (b, t, k) of sx[B × L × W]: code c_{t+k} of row b as
 * c/(Q/2) - 1 (wavenet.h's wn_code_scalar, which this layer cannot include) */
NNK void nnk_scalar_rows(float *sx, const int32_t *codes, int ldc, int L, int W, int Q, int b, int t, int k)
{
	sx[((size_t)b * L + t) * W + k] = (float)codes[(size_t)b * ldc + t + k] / (float)(Q / 2) - 1.0f;
}

/* the dilated conv's input pairs, element (n = b·(L-d) + t, i): xs[n][2i] = x[b, t, i],
 * xs[n][2i+1] = x[b, t+d, i] */
NNK void nnk_stack_pairs(float *xs, const float *x, int L, int In, int d, long n, int i)
{
	long Lo = L - d, b = n / Lo, t = n % Lo;
	const float *p = x + ((size_t)b * L + t) * In;
	xs[(size_t)n * 2 * In + 2 * i] = p[i];
	xs[(size_t)n * 2 * In + 2 * i + 1] = p[(size_t)d * In + i];
}

/* the pairs' gradient back, element (b, t, i) of dx[B × L × In]: the even tap of (b, t), then
 * the odd tap of (b, t - d) (wavenet_real.c's two passes, in their order) */
NNK void nnk_unstack_pairs_add(float *dx, const float *dxs, int L, int In, int d, int b, int t, int i)
{
	const int Lo = L - d;
	float *o = dx + ((size_t)b * L + t) * In + i;
	if (t < Lo)
		*o += dxs[((size_t)b * Lo + t) * 2 * In + 2 * i];
	if (t >= d)
		*o += dxs[((size_t)b * Lo + t - d) * 2 * In + 2 * i + 1];
}

/* the gated unit, element (n, c) of fg[N × 2C] (filter, gate) and z[N × C]: fg activated in
 * place (tanh, σ), z = their product */
NNK void nnk_gate_forward(float *z, float *fg, int C, size_t n, int c)
{
	float *f = fg + n * 2 * C + c, *g = f + C;
	float t = tanhf(*f), s = nnk_sigmoid(*g);
	*f = t, *g = s;
	z[n * C + c] = t * s;
}

/* z = t·s from the activated fg, element (n, c) */
NNK void nnk_gate_product(float *z, const float *fg, int C, size_t n, int c)
{
	z[n * C + c] = fg[n * 2 * C + c] * fg[n * 2 * C + C + c];
}

/* the gated unit's backward, element (n, c): dfg written from dz */
NNK void nnk_gate_backward(float *dfg, const float *dz, const float *fg, int C, size_t n, int c)
{
	float t = fg[n * 2 * C + c], s = fg[n * 2 * C + C + c], d = dz[n * C + c];
	dfg[n * 2 * C + c] = d * s * (1 - t * t);
	dfg[n * 2 * C + C + c] = d * t * s * (1 - s);
}

#endif
