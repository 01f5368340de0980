/* backend.h: the seam between the models and the machine that runs their layers, as ggml's
 * backends: one table of operations on buffers that live in the backend's memory, chosen once
 * (backend_open) and reached only through the table, never through #ifdefs in the models.
 *
 * Backends:
 *   "cpu"     nn.h itself (nn_real.c, the specification) on host memory.
 *   "cuda"    lib/backend_cuda.cu: the kernels of nn_kernels.h and cuBLAS on one GPU; in a
 *             build without nvcc, or on a machine without a GPU, backend_open refuses it with
 *             the reason.
 *   "kernels" (tests only: backend_kernels) the device kernels' math of nn_kernels.h run by
 *             host loops over the launchers' index spaces, on host memory: what lets the CPU
 *             check the device's math against "cpu" on the same inputs.
 *
 * The operations are nn.h's, float only, on the backend's buffers (pointers from bk->alloc,
 * offsets into them allowed), with the same shapes and the same accumulate-into-gradients
 * rule; nn.h's comments are their manual. Kernels run in order (one stream); a device's
 * failures are reported at the next bk->sync (or by the operations that return a value,
 * which wait for their result). The layers made of several operations (linear, LSTM and GRU
 * over a window) are written once, in backend.c, over the table: bk_lstm_forward & co.
 *
 * WaveNet's training step runs through the seam (wavenet_bk.h, reached by
 * model_use_backend); everything else uses nn.h directly and refuses --device cuda until it is
 * ported (docs/cuda.md). */
#ifndef SHARKS_BACKEND_H
#define SHARKS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

typedef struct backend backend;

struct backend {
	const char *name; /* "cpu", "cuda", "kernels" */
	char device[160]; /* what runs it: "NVIDIA H100 80GB HBM3, sm_90, 79 GiB", "host" */
	void *impl;       /* the backend's own state */
	int tf32;         /* matrix products in TF32 (cuda; set through bk->set_tf32) */

	/* ---- memory: zeroed on allocation; NULL / -1 with an error ---- */
	void *(*alloc)(backend *bk, size_t bytes);
	void (*release)(backend *bk, void *p);
	int (*upload)(backend *bk, void *dst, const void *src, size_t bytes);   /* host → backend */
	int (*download)(backend *bk, void *dst, const void *src, size_t bytes); /* backend → host */
	void (*zero)(backend *bk, void *p, size_t bytes);
	/* waits for the operations issued; -1 with the first failure among them */
	int (*sync)(backend *bk);
	/* TF32 matrix products on (1) or off (0, default: fp32); -1 where not supported */
	int (*set_tf32)(backend *bk, int on);
	void (*close)(backend *bk);

	/* ---- operations (nn.h) ---- */
	void (*gemm)(backend *bk, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
		     const float *B, int ldb, float beta, float *C, int ldc);
	/* x[r·ldx + j] = (assign ? 0 : x) + b1[j] + (j < n2 ? b2[j] : 0) + add[r·ldadd + j], rows
	 * r < R, columns j < C (b2, add may be NULL): biases and conditioning of a projection */
	void (*rows_add)(backend *bk, float *x, int ldx, int assign, const float *b1, const float *b2, int n2,
			 const float *add, int ldadd, int R, int C);
	/* dbias[O] += Σ_rows d[N×O] */
	void (*colsum_add)(backend *bk, float *dbias, const float *d, int N, int O);
	void (*embedding_forward)(backend *bk, float *out, const int32_t *idx, const float *table, int N, int E);
	void (*embedding_backward)(backend *bk, float *dtable, const float *dout, const int32_t *idx, int N, int E);
	void (*weightnorm_forward)(backend *bk, float *w, float *norm, const float *v, const float *g, int O, int In);
	void (*weightnorm_backward)(backend *bk, float *dv, float *dg, const float *dw, const float *v, const float *g,
				    const float *norm, int O, int In);
	void (*lstm_cell_forward)(backend *bk, float *h, float *c, float *gates, const float *cp, int B, int H);
	/* one step of lstm_backward over B×H units (nn_kernels.h, nnk_lstm_cell_backward) */
	void (*lstm_cell_backward)(backend *bk, float *dgates, float *dcp, int ldcp, int dcp_acc, const float *gates,
				   const float *c, const float *cp, const float *dh, int B, int H);
	void (*gru_cell_forward)(backend *bk, float *h, float *gates, const float *hp, const float *bhn, int B, int H);
	/* one step of gru_backward over B×H units (nnk_gru_cell_backward) */
	void (*gru_cell_backward)(backend *bk, float *di, float *dr, float *dhp, const float *gates, const float *hp,
				  const float *dh, int B, int H);
	void (*relu_forward)(backend *bk, float *out, const float *inp, size_t n);
	void (*relu_backward)(backend *bk, float *dinp, const float *dout, const float *out, size_t n);
	void (*relu_mask)(backend *bk, float *d, const float *out, size_t n);
	/* returns the mean loss (NAN with an error on a device failure) */
	double (*ce_forward)(backend *bk, float *probs, float *ptarget, const float *logits, const int32_t *targets,
			     int N, int Q);
	void (*ce_backward)(backend *bk, float *dlogits, const float *probs, const int32_t *targets, int N, int Q,
			    float dloss);
	void (*clip_elementwise)(backend *bk, float *x, size_t n, float lim);
	/* returns ‖x‖ before clipping (NAN with an error on a device failure) */
	double (*clip_global_norm)(backend *bk, float *x, size_t n, double max_norm);
	void (*adam_step)(backend *bk, float *p, const float *g, float *m, float *v, size_t n, double lr, double b1,
			  double b2, double eps, long t);

	/* ---- WaveNet's own (nn_kernels.h; wavenet_real.c has the CPU's): lib/wavenet_bk.c ---- */
	/* dst[b·dbs + j·drs + c] (= or, acc, +=) src[b·sbs + j·srs + c], b < nb, j < nr, c < cols */
	void (*copy_blocks)(backend *bk, float *dst, long dbs, long drs, const float *src, long sbs, long srs, int acc,
			    int nb, int nr, int cols);
	/* the causal conv of the one-hot and embedded inputs from tab(q, k, r) = tab[q·sq + k·sk +
	 * r·sr] (nnk_taps_forward): x0[B × L0 × R] from codes (row b at codes + b·ldc) */
	void (*taps_forward)(backend *bk, float *x0, const int32_t *codes, int ldc, const float *tab, long sq, long sk,
			     long sr, const float *bias, int B, int L0, int R);
	void (*taps_backward)(backend *bk, float *dtab, float *dbias, const float *dx0, const int32_t *codes, int ldc,
			      long sq, long sk, long sr, int B, int L0, int R);
	/* dst[j·drs + c·dcs] (= or, acc, +=) src[j·srs + c·scs], j < rows, c < cols */
	void (*strided_copy)(backend *bk, float *dst, long drs, long dcs, const float *src, long srs, long scs, int acc,
			     int rows, int cols);
	/* the scalar input's rows sx[B × L × W]: code t + k of row b as c/(Q/2) - 1 */
	void (*scalar_rows)(backend *bk, float *sx, const int32_t *codes, int ldc, int B, int L, int W, int Q);
	/* the dilated conv's pairs xs[B·(L-d) × 2In] of x[B × L × In], and their gradient back */
	void (*stack_pairs)(backend *bk, float *xs, const float *x, int B, int L, int In, int d);
	void (*unstack_pairs_add)(backend *bk, float *dx, const float *dxs, int B, int L, int In, int d);
	/* the gated unit on fg[N × 2C]: activated in place, z[N × C]; z again from fg; dfg from dz */
	void (*gate_forward)(backend *bk, float *z, float *fg, size_t N, int C);
	void (*gate_product)(backend *bk, float *z, const float *fg, size_t N, int C);
	void (*gate_backward)(backend *bk, float *dfg, const float *dz, const float *fg, size_t N, int C);
};

/* "cpu" or "cuda" (what --device takes); -1 with an error naming the choices for another. */
int backend_name_check(const char *name);
/* What a program asked for --device NAME checks before it writes anything: 0 when the device
 * is there (cpu always) and what it asks of it runs there (unported NULL); else -1 with the
 * reason: "no CUDA device found (cudaGetDeviceCount: ...)", "built without CUDA support", or,
 * with a GPU, "found NVIDIA ..., but <unported> does not run on the CUDA backend yet". */
int backend_device_usable(const char *name, const char *unported);
/* Opens the backend of that name: NULL with an error naming the problem ("no CUDA device found
 * (cudaGetDeviceCount: ...)", "built without CUDA support"). bk->close(bk) frees it. */
backend *backend_open(const char *name);
/* The "kernels" backend (see above), for tests. */
backend *backend_kernels(void);
/* Implemented by lib/backend_cuda.cu where nvcc built it, else lib/backend_cuda_none.c: the
 * CUDA backend on the first GPU, or NULL with the reason. */
backend *backend_cuda_open(void);
/* 1 when this build has the CUDA backend compiled in. */
int backend_cuda_built(void);
/* Loads cuBLAS (backend_cuda_open does, once a GPU is found; it is not linked, see
 * backend_cuda.cu): 0, or -1 with the reason. No GPU needed. */
int backend_cuda_load_blas(void);

/* The layers made of several operations, over any backend (nn.h's linear_*, lstm_* and gru_*,
 * the same arguments; buffers in bk's memory). */
void bk_linear_forward(backend *bk, float *out, const float *inp, const float *w, const float *bias, int N, int In,
		       int O, int accumulate);
void bk_linear_backward(backend *bk, float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
			const float *w, int N, int In, int O);
void bk_lstm_forward(backend *bk, float *h, float *c, float *gates, const float *inp, const float *gadd,
		     const float *wih, const float *whh, const float *bih, const float *bhh, const float *h0,
		     const float *c0, int T, int B, int In, int H);
void bk_lstm_backward(backend *bk, float *dinp, float *dwih, float *dwhh, float *dbih, float *dbhh, float *dh0,
		      float *dc0, float *dgates, float *dh, const float *dhT, const float *dcT, const float *h,
		      const float *c, const float *gates, const float *inp, const float *wih, const float *whh,
		      const float *h0, const float *c0, int T, int B, int In, int H);
void bk_gru_forward(backend *bk, float *h, float *gates, const float *inp, const float *gadd, const float *wih,
		    const float *whh, const float *bih, const float *bhh, const float *h0, int T, int B, int In, int H);
void bk_gru_backward(backend *bk, float *dinp, float *dwih, float *dwhh, float *dbih, float *dbhh, float *dh0,
		     float *dgi, float *dgh, float *dh, const float *dhT, const float *h, const float *gates,
		     const float *inp, const float *wih, const float *whh, const float *h0, int T, int B, int In,
		     int H);

#endif
