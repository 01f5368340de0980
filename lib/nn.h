/* nn.h: neural-net layers with their backward passes, llm.c style: free functions
 * `op_forward(out, cache..., inp, weights..., dims)` and `op_backward(dinp, dweights..., dout,
 * ...)`. Buffers are row-major; the shape of each is written beside it. Backward passes
 * ACCUMULATE (+=) into every gradient they are given (NULL skips that gradient), except the
 * scratch outputs marked "written". Matrix products go through CBLAS.
 *
 * lib/nn_real.c is compiled twice: on float (these names) and on double (-DREAL_F64, the same
 * names suffixed _f64), so that finite-difference tests can run in double precision and
 * compare with the float build. NN_DECLARE below declares one set for a given type. */
#ifndef SHARKS_NN_H
#define SHARKS_NN_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"
#include "rng.h"

#define NN_DECLARE(real, S)                                                                                            \
	/* C[M×N] = alpha·op(A)·op(B) + beta·C, row-major, op = transpose when ta/tb: CBLAS with the \
 * larger side of C split across the OpenMP threads (OpenBLAS itself is kept on one thread, so \
 * that one pool of threads owns the cores); small products stay on the calling thread. */             \
	void nn_gemm##S(int ta, int tb, int M, int N, int K, real alpha, const real *A, int lda, const real *B,        \
			int ldb, real beta, real *C, int ldc);                                                         \
	/* out[N×O] = inp[N×In] · w[O×In]ᵀ + bias[O] (bias may be NULL); accumulate: out += instead */           \
	void linear_forward##S(real *out, const real *inp, const real *w, const real *bias, int N, int In, int O,      \
			       int accumulate);                                                                        \
	/* dinp[N×In] += dout·w, dw[O×In] += doutᵀ·inp, dbias[O] += Σ_rows dout (each may be NULL) */           \
	void linear_backward##S(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,   \
				int N, int In, int O);                                                                 \
	/* plain loops, the reference for the two above */                                                             \
	void linear_forward_ref##S(real *out, const real *inp, const real *w, const real *bias, int N, int In, int O,  \
				   int accumulate);                                                                    \
	void linear_backward_ref##S(real *dinp, real *dw, real *dbias, const real *dout, const real *inp,              \
				    const real *w, int N, int In, int O);                                              \
                                                                                                                       \
	/* weight normalisation per output row (torch weight_norm, dim 0): \
 * w[O×In] = g[O] · v[O×In] / ‖v_row‖; norm[O] (written) caches ‖v_row‖ */                                           \
	void weightnorm_forward##S(real *w, real *norm, const real *v, const real *g, int O, int In);                  \
	/* dv[O×In] += g/n·(dw - (dw·v) v/n²), dg[O] += (dw·v)/n, from dw[O×In] = dL/dw */                       \
	void weightnorm_backward##S(real *dv, real *dg, const real *dw, const real *v, const real *g,                  \
				    const real *norm, int O, int In);                                                  \
                                                                                                                       \
	/* out[N×E] = table[idx[n]] for idx[N] in [0, Q); table[Q×E] */                                              \
	void embedding_forward##S(real *out, const int32_t *idx, const real *table, int N, int E);                     \
	/* dtable[idx[n]] += dout[n] */                                                                                \
	void embedding_backward##S(real *dtable, const real *dout, const int32_t *idx, int N, int E);                  \
                                                                                                                       \
	/* LSTM layer over a window, time-major (torch nn.LSTM layout, gates i, f, g, o): \
 * inp[T×B×In], wih[4H×In], whh[4H×H], bih[4H], bhh[4H], h0, c0 [B×H] (initial state); \
 * gadd[T×B×4H] or NULL is added to the input projection (conditioning from above). \
 * Writes h[T×B×H] (every hidden state; the final one is h + (T-1)·B·H), c[T×B×H] and the \
 * cache gates[T×B×4H] (activated i, f, g, o). The input projection of all T·B rows is one \
 * gemm; only the recurrent product runs per timestep. */                            \
	void lstm_forward##S(real *h, real *c, real *gates, const real *inp, const real *gadd, const real *wih,        \
			     const real *whh, const real *bih, const real *bhh, const real *h0, const real *c0, int T, \
			     int B, int In, int H);                                                                    \
	/* One LSTM step of B rows from the pre-activations gates[B×4H] (activated in place, as the \
 * cache) and the previous cell cp[B×H]: writes c[B×H] and h[B×H]. */                 \
	void lstm_cell_forward##S(real *h, real *c, real *gates, const real *cp, int B, int H);                        \
	/* From dh[T×B×H] = dL/dh (every step; modified: used as scratch) accumulates dinp[T×B×In], \
 * dwih, dwhh, dbih, dbhh, dh0, dc0 [B×H] (NULL skips), and writes dgates[T×B×4H] = dL/d(gate \
 * pre-activations), which is also dL/dgadd. dhT, dcT [B×H] or NULL: gradient reaching the \
 * final state from beyond the window. */              \
	void lstm_backward##S(real *dinp, real *dwih, real *dwhh, real *dbih, real *dbhh, real *dh0, real *dc0,        \
			      real *dgates, real *dh, const real *dhT, const real *dcT, const real *h, const real *c,  \
			      const real *gates, const real *inp, const real *wih, const real *whh, const real *h0,    \
			      const real *c0, int T, int B, int In, int H);                                            \
                                                                                                                       \
	/* GRU layer over a window, time-major (torch nn.GRU layout, gates r, z, n): \
 * n = tanh(W_in x + b_in + r∘(W_hn h + b_hn)), h' = (1-z)∘n + z∘h. \
 * inp[T×B×In], gadd[T×B×3H] or NULL, wih[3H×In], whh[3H×H], bih[3H], bhh[3H], h0[B×H]. \
 * Writes h[T×B×H] and the cache gates[T×B×4H] (r, z, n, W_hn h + b_hn). */                                 \
	void gru_forward##S(real *h, real *gates, const real *inp, const real *gadd, const real *wih, const real *whh, \
			    const real *bih, const real *bhh, const real *h0, int T, int B, int In, int H);            \
	/* One GRU step of B rows: gates[B×4H] holds the pre-activations of r, z and n's input part \
 * (r and z with both biases) in [0, 3H) and W_hn·h_prev in [3H, 4H); bhn = b_hh[2H, 3H). \
 * Writes h[B×H] and leaves the cache as gru_forward does. */                 \
	void gru_cell_forward##S(real *h, real *gates, const real *hp, const real *bhn, int B, int H);                 \
	/* As lstm_backward; writes dgi[T×B×3H] = dL/d(input projection) = dL/dgadd, and uses \
 * dgh[T×B×3H] as scratch (written: dL/d(recurrent projection)). */                      \
	void gru_backward##S(real *dinp, real *dwih, real *dwhh, real *dbih, real *dbhh, real *dh0, real *dgi,         \
			     real *dgh, real *dh, const real *dhT, const real *h, const real *gates, const real *inp,  \
			     const real *wih, const real *whh, const real *h0, int T, int B, int In, int H);           \
                                                                                                                       \
	/* out[n] = max(inp[n], 0) (out may equal inp) */                                                              \
	void relu_forward##S(real *out, const real *inp, size_t n);                                                    \
	/* dinp[n] += dout[n]·[out[n] > 0] */                                                                         \
	void relu_backward##S(real *dinp, const real *dout, const real *out, size_t n);                                \
	/* d[n] = d[n]·[out[n] > 0], in place */                                                                      \
	void relu_mask##S(real *d, const real *out, size_t n);                                                         \
                                                                                                                       \
	/* Softmax cross-entropy from logits[N×Q] against targets[N] in [0, Q): writes probs[N×Q] \
 * (may equal logits) and, unless NULL, ptarget[N] = probability of each target. Returns the \
 * mean over the N rows of -log p(target), in nats (accumulated in double). */                  \
	double ce_forward##S(real *probs, real *ptarget, const real *logits, const int32_t *targets, int N, int Q);    \
	/* dlogits[N×Q] += dloss · (probs - onehot(targets)) / N */                                                  \
	void ce_backward##S(real *dlogits, const real *probs, const int32_t *targets, int N, int Q, real dloss);       \
                                                                                                                       \
	/* x[n] clamped to [-lim, lim] (torch clamp_) */                                                               \
	void clip_elementwise##S(real *x, size_t n, real lim);                                                         \
	/* torch clip_grad_norm_: when ‖x‖ > max_norm, x *= max_norm / (‖x‖ + 1e-6); returns ‖x‖ \
 * before clipping */         \
	double clip_global_norm##S(real *x, size_t n, double max_norm);                                                \
	/* its parts: parts[b] = Σx² in double over block b of NNK_NORM_BLOCK values of x[n] (the last \
	 * may be shorter), in order within the block; and x *= max_norm / (norm + 1e-6) when norm > \
	 * max_norm */             \
	void sumsq_blocks##S(const real *x, size_t n, double *parts);                                                  \
	void scale_to_norm##S(real *x, size_t n, double norm, double max_norm);                                        \
                                                                                                                       \
	/* One Adam step as torch.optim.Adam (no weight decay, no amsgrad): m, v [n] moments, \
 * t = 1-based number of this step; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²; \
 * p -= lr/(1-b1^t) · m / (sqrt(v)/sqrt(1-b2^t) + eps) */                        \
	void adam_step##S(real *p, const real *g, real *m, real *v, size_t n, double lr, double b1, double b2,         \
			  double eps, long t);

/* The set-up the models share. Initial values as torch draws them, from one stream in order:
 * x[i] uniform in ±bound (nn.Linear, nn.Conv1d, nn.LSTM, nn.GRU: bound 1/√fan_in, params.h's
 * param_fan_in), or normal with standard deviation scale (nn.Embedding: 1). */
#define NN_DECLARE_INIT(real, S)                                                                                       \
	void nn_fill_uniform##S(real *x, size_t n, double bound, sh_rng *r);                                           \
	void nn_fill_normal##S(real *x, size_t n, double scale, sh_rng *r);                                            \
	/* A model's training memory, as SampleRNN, WaveNet and DDSP hold it: the parameters and their \
	 * gradients (zeroed, pt->total values each) and the arena of its activations (zeroed, \
	 * arena_bytes as its layout's sizing pass counted them, util.h's sh_arena). -1 with an error; \
	 * what was allocated is left for nn_model_free, which frees the table too. */               \
	int nn_model_alloc##S(const param_table *pt, real **params, real **grads, size_t arena_bytes, void **arena);   \
	void nn_model_free##S(param_table *pt, real *params, real *grads, void *arena);
NN_DECLARE_INIT(float, )
NN_DECLARE_INIT(double, _f64)

NN_DECLARE(float, )
NN_DECLARE(double, _f64)

#endif
