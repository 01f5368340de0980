/* backend_cuda.cu: the "cuda" backend of backend.h on the first visible GPU, built where nvcc is
 * found (else lib/backend_cuda_none.c). Matrix products through cuBLAS (fp32; TF32 on
 * request); every other operation is a __global__ launcher that maps one thread to one index
 * of nn_kernels.h's function for it and calls it, so that the math is the one the CPU checks
 * (tests/unit/test_backend.c). One stream, in order; a launch's failure is recorded and
 * reported by the next sync (or by the operations that return a value).
 *
 * cudart is linked statically; cuBLAS is opened (dlopen) only when a GPU has been found: linked
 * into every program, its 540 MB cublasLt would be mapped at each start of qtrain and qsample
 * on the CPU too (measured: 0.25 s and 220 MB resident more per start).
 *
 * Written and compiled without a GPU: tests/unit/test_cuda.c (make test-cuda) checks every
 * operation here against the CPU on the same inputs where a GPU is present (docs/cuda.md). */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

extern "C" {
#include "backend.h"
#include "util.h"
}
#include "nn_kernels.h"

namespace
{

/* the cuBLAS calls used, from the library opened at backend_cuda_open */
struct cublas_fns {
	decltype(&cublasCreate_v2) create;
	decltype(&cublasDestroy_v2) destroy;
	decltype(&cublasSetStream_v2) set_stream;
	decltype(&cublasSetMathMode) set_math_mode;
	decltype(&cublasSgemm_v2) sgemm;
};
cublas_fns blas_fn;

#define STR_(x) #x
#define STR(x) STR_(x)
#ifndef SHARKS_CUDA_LIBDIR
#define SHARKS_CUDA_LIBDIR "/usr/local/cuda/lib64"
#endif

/* opens cuBLAS once (the toolkit's lib64, then the loader's path); -1 with an error */
int blas_load(void)
{
	static void *lib;
	if (lib)
		return 0;
	const char *name = "libcublas.so." STR(CUBLAS_VER_MAJOR);
	void *h = dlopen(SHARKS_CUDA_LIBDIR "/libcublas.so." STR(CUBLAS_VER_MAJOR), RTLD_NOW | RTLD_LOCAL);
	if (!h)
		h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return sh_error("cannot load %s: %s", name, dlerror());
	void *f[5] = {dlsym(h, "cublasCreate_v2"), dlsym(h, "cublasDestroy_v2"), dlsym(h, "cublasSetStream_v2"),
		      dlsym(h, "cublasSetMathMode"), dlsym(h, "cublasSgemm_v2")};
	for (int i = 0; i < 5; i++)
		if (!f[i]) {
			dlclose(h);
			return sh_error("%s lacks a cuBLAS function (%d)", name, i);
		}
	blas_fn.create = (decltype(blas_fn.create))f[0];
	blas_fn.destroy = (decltype(blas_fn.destroy))f[1];
	blas_fn.set_stream = (decltype(blas_fn.set_stream))f[2];
	blas_fn.set_math_mode = (decltype(blas_fn.set_math_mode))f[3];
	blas_fn.sgemm = (decltype(blas_fn.sgemm))f[4];
	lib = h;
	return 0;
}

struct cuda_impl {
	cudaStream_t stream;
	cublasHandle_t blas;
	char failure[256]; /* the first failure since the last sync ("" when none) */
	double *scratch;   /* device scratch of scratch_n doubles (row losses, partial sums) */
	size_t scratch_n;
	double *host_part; /* host copy of partial sums */
	size_t host_part_n;
};

cuda_impl *cx(backend *bk) { return (cuda_impl *)bk->impl; }

/* records the first failure; 0 when e is success */
int note(backend *bk, cudaError_t e, const char *what)
{
	if (e == cudaSuccess)
		return 0;
	cuda_impl *c = cx(bk);
	if (!c->failure[0])
		snprintf(c->failure, sizeof c->failure, "%s: %s", what, cudaGetErrorString(e));
	return -1;
}

int note_blas(backend *bk, cublasStatus_t s, const char *what)
{
	if (s == CUBLAS_STATUS_SUCCESS)
		return 0;
	cuda_impl *c = cx(bk);
	if (!c->failure[0])
		snprintf(c->failure, sizeof c->failure, "%s: cuBLAS status %d", what, (int)s);
	return -1;
}

const unsigned THREADS = 256;

unsigned blocks(size_t n) { return (unsigned)((n + THREADS - 1) / THREADS); }

/* the index of this thread in a 1-D launch */
__device__ size_t gid() { return (size_t)blockIdx.x * blockDim.x + threadIdx.x; }

#define LAUNCH(bk, kernel, n, ...)                                                                                     \
	do {                                                                                                           \
		if ((n) > 0) {                                                                                         \
			kernel<<<blocks(n), THREADS, 0, cx(bk)->stream>>>(__VA_ARGS__);                                \
			note(bk, cudaGetLastError(), #kernel);                                                         \
		}                                                                                                      \
	} while (0)

/* ---- kernels: one index each, the math in nn_kernels.h ---- */

__global__ void g_probe(int *x)
{
	if (x)
		*x = 1;
}

__global__ void g_rows_add(float *x, int ldx, int assign, const float *b1, const float *b2, int n2, const float *add,
			   int ldadd, int R, int C)
{
	size_t i = gid();
	if (i < (size_t)R * C)
		nnk_rows_add(x, ldx, assign, b1, b2, n2, add, ldadd, (int)(i / C), (int)(i % C));
}

__global__ void g_colsum_add(float *dbias, const float *d, int N, int O)
{
	size_t j = gid();
	if (j < (size_t)O)
		nnk_colsum_add(dbias, d, N, O, (int)j);
}

__global__ void g_embedding_forward(float *out, const int32_t *idx, const float *table, int N, int E)
{
	size_t i = gid();
	if (i < (size_t)N * E)
		nnk_embedding_forward(out, idx, table, E, (int)(i / E), (int)(i % E));
}

__global__ void g_embedding_backward(float *dtable, const float *dout, const int32_t *idx, int N, int E)
{
	size_t e = gid();
	if (e < (size_t)E)
		nnk_embedding_backward_col(dtable, dout, idx, N, E, (int)e);
}

__global__ void g_weightnorm_norm(float *norm, const float *v, int O, int In)
{
	size_t o = gid();
	if (o < (size_t)O)
		nnk_weightnorm_norm(norm, v, In, (int)o);
}

__global__ void g_weightnorm_scale(float *w, const float *v, const float *g, const float *norm, int O, int In)
{
	size_t i = gid();
	if (i < (size_t)O * In)
		nnk_weightnorm_scale(w, v, g, norm, In, (int)(i / In), (int)(i % In));
}

__global__ void g_weightnorm_dot(double *dot, float *dg, const float *dw, const float *v, const float *norm, int O,
				 int In)
{
	size_t o = gid();
	if (o < (size_t)O)
		nnk_weightnorm_dot(dot, dg, dw, v, norm, In, (int)o);
}

__global__ void g_weightnorm_dv(float *dv, const float *dw, const float *v, const float *g, const float *norm,
				const double *dot, int O, int In)
{
	size_t i = gid();
	if (i < (size_t)O * In)
		nnk_weightnorm_dv(dv, dw, v, g, norm, dot, In, (int)(i / In), (int)(i % In));
}

__global__ void g_lstm_cell_forward(float *h, float *c, float *gates, const float *cp, int B, int H)
{
	size_t i = gid();
	if (i < (size_t)B * H)
		nnk_lstm_cell_forward(h, c, gates, cp, H, (int)(i / H), (int)(i % H));
}

__global__ void g_lstm_cell_backward(float *dgates, float *dcp, int ldcp, int dcp_acc, const float *gates,
				     const float *c, const float *cp, const float *dh, int B, int H)
{
	size_t i = gid();
	if (i < (size_t)B * H)
		nnk_lstm_cell_backward(dgates, dcp, ldcp, dcp_acc, gates, c, cp, dh, H, (int)(i / H), (int)(i % H));
}

__global__ void g_gru_cell_forward(float *h, float *gates, const float *hp, const float *bhn, int B, int H)
{
	size_t i = gid();
	if (i < (size_t)B * H)
		nnk_gru_cell_forward(h, gates, hp, bhn, H, (int)(i / H), (int)(i % H));
}

__global__ void g_gru_cell_backward(float *di, float *dr, float *dhp, const float *gates, const float *hp,
				    const float *dh, int B, int H)
{
	size_t i = gid();
	if (i < (size_t)B * H)
		nnk_gru_cell_backward(di, dr, dhp, gates, hp, dh, H, (int)(i / H), (int)(i % H));
}

__global__ void g_relu_forward(float *out, const float *inp, size_t n)
{
	size_t i = gid();
	if (i < n)
		nnk_relu_forward(out, inp, i);
}

__global__ void g_relu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
	size_t i = gid();
	if (i < n)
		nnk_relu_backward(dinp, dout, out, i);
}

__global__ void g_relu_mask(float *d, const float *out, size_t n)
{
	size_t i = gid();
	if (i < n)
		nnk_relu_mask(d, out, i);
}

__global__ void g_copy_blocks(float *dst, long dbs, long drs, const float *src, long sbs, long srs, int acc, int nb,
			      int nr, int cols)
{
	size_t i = gid();
	if (i < (size_t)nb * nr * cols)
		nnk_copy_blocks(dst, dbs, drs, src, sbs, srs, acc, (int)(i / ((size_t)nr * cols)), (int)(i / cols % nr),
				(int)(i % cols));
}

__global__ void g_taps_forward(float *x0, const int32_t *codes, int ldc, const float *tab, long sq, long sk, long sr,
			       const float *bias, int B, int L0, int R)
{
	size_t i = gid();
	if (i < (size_t)B * L0 * R)
		nnk_taps_forward(x0, codes, ldc, tab, sq, sk, sr, bias, L0, R, (int)(i / ((size_t)L0 * R)),
				 (int)(i / R % L0), (int)(i % R));
}

__global__ void g_taps_backward(float *dtab, float *dbias, const float *dx0, const int32_t *codes, int ldc, long sq,
				long sk, long sr, int B, int L0, int R)
{
	size_t r = gid();
	if (r < (size_t)R)
		nnk_taps_backward(dtab, dbias, dx0, codes, ldc, sq, sk, sr, B, L0, R, (int)r);
}

__global__ void g_strided_copy(float *dst, long drs, long dcs, const float *src, long srs, long scs, int acc, int rows,
			       int cols)
{
	size_t i = gid();
	if (i < (size_t)rows * cols)
		nnk_strided_copy(dst, drs, dcs, src, srs, scs, acc, (int)(i / cols), (int)(i % cols));
}

__global__ void g_scalar_rows(float *sx, const int32_t *codes, int ldc, int B, int L, int W, int Q)
{
	size_t i = gid();
	if (i < (size_t)B * L * W)
		nnk_scalar_rows(sx, codes, ldc, L, W, Q, (int)(i / ((size_t)L * W)), (int)(i / W % L), (int)(i % W));
}

__global__ void g_stack_pairs(float *xs, const float *x, int B, int L, int In, int d)
{
	size_t i = gid();
	if (i < (size_t)B * (L - d) * In)
		nnk_stack_pairs(xs, x, L, In, d, (long)(i / In), (int)(i % In));
}

__global__ void g_unstack_pairs_add(float *dx, const float *dxs, int B, int L, int In, int d)
{
	size_t i = gid();
	if (i < (size_t)B * L * In)
		nnk_unstack_pairs_add(dx, dxs, L, In, d, (int)(i / ((size_t)L * In)), (int)(i / In % L), (int)(i % In));
}

__global__ void g_gate_forward(float *z, float *fg, size_t N, int C)
{
	size_t i = gid();
	if (i < N * C)
		nnk_gate_forward(z, fg, C, i / C, (int)(i % C));
}

__global__ void g_gate_product(float *z, const float *fg, size_t N, int C)
{
	size_t i = gid();
	if (i < N * C)
		nnk_gate_product(z, fg, C, i / C, (int)(i % C));
}

__global__ void g_gate_backward(float *dfg, const float *dz, const float *fg, size_t N, int C)
{
	size_t i = gid();
	if (i < N * C)
		nnk_gate_backward(dfg, dz, fg, C, i / C, (int)(i % C));
}

__global__ void g_ce_rows(double *rows, float *probs, float *ptarget, const float *logits, const int32_t *targets,
			  int N, int Q)
{
	size_t n = gid();
	if (n < (size_t)N)
		rows[n] = nnk_ce_row(probs, ptarget, logits, targets, Q, (int)n);
}

__global__ void g_sum_blocks(double *part, const double *x, size_t n, size_t blk, size_t nb)
{
	size_t bl = gid();
	if (bl < nb)
		part[bl] = nnk_sum_block(x, n, blk, bl);
}

__global__ void g_ce_backward(float *dlogits, const float *probs, const int32_t *targets, int N, int Q, float s)
{
	size_t i = gid();
	if (i < (size_t)N * Q)
		nnk_ce_backward(dlogits, probs, targets, Q, s, (int)(i / Q), (int)(i % Q));
}

__global__ void g_clip(float *x, size_t n, float lim)
{
	size_t i = gid();
	if (i < n)
		nnk_clip(x, lim, i);
}

__global__ void g_sumsq_blocks(double *part, const float *x, size_t n, size_t nb)
{
	size_t bl = gid();
	if (bl < nb)
		part[bl] = nnk_sumsq_block(x, n, bl);
}

__global__ void g_scale(float *x, size_t n, float s)
{
	size_t i = gid();
	if (i < n)
		x[i] *= s;
}

__global__ void g_adam(float *p, const float *g, float *m, float *v, size_t n, nnk_adam_consts k)
{
	size_t i = gid();
	if (i < n)
		nnk_adam(p, g, m, v, k, i);
}

/* ---- memory ---- */

void *cu_alloc(backend *bk, size_t bytes)
{
	void *p = NULL;
	cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
	if (e != cudaSuccess) {
		sh_error("cudaMalloc of %zu bytes: %s", bytes, cudaGetErrorString(e));
		return NULL;
	}
	e = cudaMemsetAsync(p, 0, bytes, cx(bk)->stream);
	if (e != cudaSuccess) {
		cudaFree(p);
		sh_error("cudaMemset: %s", cudaGetErrorString(e));
		return NULL;
	}
	return p;
}

void cu_release(backend *bk, void *p)
{
	if (p) {
		cudaStreamSynchronize(cx(bk)->stream);
		cudaFree(p);
	}
}

int cu_copy(backend *bk, void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, const char *what)
{
	if (!bytes)
		return 0;
	cudaError_t e = cudaMemcpyAsync(dst, src, bytes, kind, cx(bk)->stream);
	if (e == cudaSuccess)
		e = cudaStreamSynchronize(cx(bk)->stream);
	if (e != cudaSuccess)
		return sh_error("%s of %zu bytes: %s", what, bytes, cudaGetErrorString(e));
	return 0;
}

int cu_upload(backend *bk, void *dst, const void *src, size_t bytes)
{
	return cu_copy(bk, dst, src, bytes, cudaMemcpyHostToDevice, "upload");
}

int cu_download(backend *bk, void *dst, const void *src, size_t bytes)
{
	return cu_copy(bk, dst, src, bytes, cudaMemcpyDeviceToHost, "download");
}

void cu_zero(backend *bk, void *p, size_t bytes)
{
	if (bytes)
		note(bk, cudaMemsetAsync(p, 0, bytes, cx(bk)->stream), "cudaMemsetAsync");
}

int cu_sync(backend *bk)
{
	cuda_impl *c = cx(bk);
	note(bk, cudaStreamSynchronize(c->stream), "cudaStreamSynchronize");
	if (c->failure[0]) {
		sh_error("%s", c->failure);
		c->failure[0] = 0;
		return -1;
	}
	return 0;
}

int cu_set_tf32(backend *bk, int on)
{
	cublasStatus_t s = blas_fn.set_math_mode(cx(bk)->blas, on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
	if (s != CUBLAS_STATUS_SUCCESS)
		return sh_error("cublasSetMathMode: status %d", (int)s);
	bk->tf32 = on;
	return 0;
}

void cu_close(backend *bk)
{
	cuda_impl *c = cx(bk);
	if (c) {
		cudaStreamSynchronize(c->stream);
		cudaFree(c->scratch);
		free(c->host_part);
		blas_fn.destroy(c->blas);
		cudaStreamDestroy(c->stream);
		free(c);
	}
	free(bk);
}

/* n doubles of device scratch and of host partial sums; NULL after recording a failure */
double *scratch(backend *bk, size_t n)
{
	cuda_impl *c = cx(bk);
	if (n > c->scratch_n) {
		cudaStreamSynchronize(c->stream);
		cudaFree(c->scratch);
		c->scratch = NULL, c->scratch_n = 0;
		if (note(bk, cudaMalloc(&c->scratch, n * sizeof(double)), "cudaMalloc (scratch)"))
			return NULL;
		c->scratch_n = n;
	}
	if (n > c->host_part_n) {
		free(c->host_part);
		c->host_part = (double *)malloc(n * sizeof(double));
		c->host_part_n = c->host_part ? n : 0;
		if (!c->host_part) {
			snprintf(c->failure, sizeof c->failure, "out of memory");
			return NULL;
		}
	}
	return c->scratch;
}

/* the sum of the nb partial sums at device part, in order (waits for them); NAN on failure */
double sum_parts(backend *bk, const double *part, size_t nb)
{
	cuda_impl *c = cx(bk);
	if (cu_sync(bk) < 0 || cu_download(bk, c->host_part, part, nb * sizeof(double)) < 0)
		return NAN;
	double s = 0;
	for (size_t i = 0; i < nb; i++)
		s += c->host_part[i];
	return s;
}

/* ---- operations ---- */

/* row-major C = alpha·op(A)·op(B) + beta·C is column-major Cᵀ = alpha·op(B)ᵀ·op(A)ᵀ + beta·Cᵀ,
 * and a row-major matrix read column-major is its transpose: B and A swap, the ops stay */
void cu_gemm(backend *bk, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
	     int ldb, float beta, float *C, int ldc)
{
	if (M <= 0 || N <= 0)
		return;
	note_blas(bk,
		  blas_fn.sgemm(cx(bk)->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K,
				&alpha, B, ldb, A, lda, &beta, C, ldc),
		  "cublasSgemm");
}

void cu_rows_add(backend *bk, float *x, int ldx, int assign, const float *b1, const float *b2, int n2, const float *add,
		 int ldadd, int R, int C)
{
	LAUNCH(bk, g_rows_add, (size_t)R * C, x, ldx, assign, b1, b2, n2, add, ldadd, R, C);
}

void cu_colsum_add(backend *bk, float *dbias, const float *d, int N, int O)
{
	LAUNCH(bk, g_colsum_add, (size_t)O, dbias, d, N, O);
}

void cu_embedding_forward(backend *bk, float *out, const int32_t *idx, const float *table, int N, int E)
{
	LAUNCH(bk, g_embedding_forward, (size_t)N * E, out, idx, table, N, E);
}

void cu_embedding_backward(backend *bk, float *dtable, const float *dout, const int32_t *idx, int N, int E)
{
	LAUNCH(bk, g_embedding_backward, (size_t)E, dtable, dout, idx, N, E);
}

void cu_weightnorm_forward(backend *bk, float *w, float *norm, const float *v, const float *g, int O, int In)
{
	LAUNCH(bk, g_weightnorm_norm, (size_t)O, norm, v, O, In);
	LAUNCH(bk, g_weightnorm_scale, (size_t)O * In, w, v, g, norm, O, In);
}

void cu_weightnorm_backward(backend *bk, float *dv, float *dg, const float *dw, const float *v, const float *g,
			    const float *norm, int O, int In)
{
	double *dot = scratch(bk, (size_t)(O > 0 ? O : 1));
	if (!dot)
		return;
	LAUNCH(bk, g_weightnorm_dot, (size_t)O, dot, dg, dw, v, norm, O, In);
	if (dv)
		LAUNCH(bk, g_weightnorm_dv, (size_t)O * In, dv, dw, v, g, norm, dot, O, In);
}

void cu_lstm_cell_forward(backend *bk, float *h, float *c, float *gates, const float *cp, int B, int H)
{
	LAUNCH(bk, g_lstm_cell_forward, (size_t)B * H, h, c, gates, cp, B, H);
}

void cu_lstm_cell_backward(backend *bk, float *dgates, float *dcp, int ldcp, int dcp_acc, const float *gates,
			   const float *c, const float *cp, const float *dh, int B, int H)
{
	LAUNCH(bk, g_lstm_cell_backward, (size_t)B * H, dgates, dcp, ldcp, dcp_acc, gates, c, cp, dh, B, H);
}

void cu_gru_cell_forward(backend *bk, float *h, float *gates, const float *hp, const float *bhn, int B, int H)
{
	LAUNCH(bk, g_gru_cell_forward, (size_t)B * H, h, gates, hp, bhn, B, H);
}

void cu_gru_cell_backward(backend *bk, float *di, float *dr, float *dhp, const float *gates, const float *hp,
			  const float *dh, int B, int H)
{
	LAUNCH(bk, g_gru_cell_backward, (size_t)B * H, di, dr, dhp, gates, hp, dh, B, H);
}

void cu_relu_forward(backend *bk, float *out, const float *inp, size_t n)
{
	LAUNCH(bk, g_relu_forward, n, out, inp, n);
}

void cu_relu_backward(backend *bk, float *dinp, const float *dout, const float *out, size_t n)
{
	LAUNCH(bk, g_relu_backward, n, dinp, dout, out, n);
}

void cu_relu_mask(backend *bk, float *d, const float *out, size_t n) { LAUNCH(bk, g_relu_mask, n, d, out, n); }

void cu_copy_blocks(backend *bk, float *dst, long dbs, long drs, const float *src, long sbs, long srs, int acc, int nb,
		    int nr, int cols)
{
	LAUNCH(bk, g_copy_blocks, (size_t)nb * nr * cols, dst, dbs, drs, src, sbs, srs, acc, nb, nr, cols);
}

void cu_taps_forward(backend *bk, float *x0, const int32_t *codes, int ldc, const float *tab, long sq, long sk, long sr,
		     const float *bias, int B, int L0, int R)
{
	LAUNCH(bk, g_taps_forward, (size_t)B * L0 * R, x0, codes, ldc, tab, sq, sk, sr, bias, B, L0, R);
}

void cu_taps_backward(backend *bk, float *dtab, float *dbias, const float *dx0, const int32_t *codes, int ldc, long sq,
		      long sk, long sr, int B, int L0, int R)
{
	LAUNCH(bk, g_taps_backward, (size_t)R, dtab, dbias, dx0, codes, ldc, sq, sk, sr, B, L0, R);
}

void cu_strided_copy(backend *bk, float *dst, long drs, long dcs, const float *src, long srs, long scs, int acc,
		     int rows, int cols)
{
	LAUNCH(bk, g_strided_copy, (size_t)rows * cols, dst, drs, dcs, src, srs, scs, acc, rows, cols);
}

void cu_scalar_rows(backend *bk, float *sx, const int32_t *codes, int ldc, int B, int L, int W, int Q)
{
	LAUNCH(bk, g_scalar_rows, (size_t)B * L * W, sx, codes, ldc, B, L, W, Q);
}

void cu_stack_pairs(backend *bk, float *xs, const float *x, int B, int L, int In, int d)
{
	LAUNCH(bk, g_stack_pairs, (size_t)B * (L - d) * In, xs, x, B, L, In, d);
}

void cu_unstack_pairs_add(backend *bk, float *dx, const float *dxs, int B, int L, int In, int d)
{
	LAUNCH(bk, g_unstack_pairs_add, (size_t)B * L * In, dx, dxs, B, L, In, d);
}

void cu_gate_forward(backend *bk, float *z, float *fg, size_t N, int C)
{
	LAUNCH(bk, g_gate_forward, N * C, z, fg, N, C);
}

void cu_gate_product(backend *bk, float *z, const float *fg, size_t N, int C)
{
	LAUNCH(bk, g_gate_product, N * C, z, fg, N, C);
}

void cu_gate_backward(backend *bk, float *dfg, const float *dz, const float *fg, size_t N, int C)
{
	LAUNCH(bk, g_gate_backward, N * C, dfg, dz, fg, N, C);
}

double cu_ce_forward(backend *bk, float *probs, float *ptarget, const float *logits, const int32_t *targets, int N,
		     int Q)
{
	if (N <= 0)
		return 0;
	size_t nb = ((size_t)N + NNK_CE_BLOCK - 1) / NNK_CE_BLOCK;
	double *rows = scratch(bk, (size_t)N + nb);
	if (!rows)
		return cu_sync(bk), NAN;
	double *part = rows + N;
	LAUNCH(bk, g_ce_rows, (size_t)N, rows, probs, ptarget, logits, targets, N, Q);
	LAUNCH(bk, g_sum_blocks, nb, part, rows, (size_t)N, (size_t)NNK_CE_BLOCK, nb);
	return sum_parts(bk, part, nb) / N;
}

void cu_ce_backward(backend *bk, float *dlogits, const float *probs, const int32_t *targets, int N, int Q, float dloss)
{
	LAUNCH(bk, g_ce_backward, (size_t)N * Q, dlogits, probs, targets, N, Q, dloss / N);
}

void cu_clip_elementwise(backend *bk, float *x, size_t n, float lim) { LAUNCH(bk, g_clip, n, x, n, lim); }

double cu_clip_global_norm(backend *bk, float *x, size_t n, double max_norm)
{
	size_t nb = (n + NNK_NORM_BLOCK - 1) / NNK_NORM_BLOCK;
	double *part = scratch(bk, nb ? nb : 1);
	if (!part)
		return cu_sync(bk), NAN;
	LAUNCH(bk, g_sumsq_blocks, nb, part, x, n, nb);
	double norm = sqrt(sum_parts(bk, part, nb));
	if (norm > max_norm)
		LAUNCH(bk, g_scale, n, x, n, (float)(max_norm / (norm + 1e-6)));
	return norm;
}

void cu_adam_step(backend *bk, float *p, const float *g, float *m, float *v, size_t n, double lr, double b1, double b2,
		  double eps, long t)
{
	LAUNCH(bk, g_adam, n, p, g, m, v, n, nnk_adam_setup(lr, b1, b2, eps, t));
}

} // namespace

extern "C" int backend_cuda_built(void) { return 1; }

extern "C" int backend_cuda_load_blas(void) { return blas_load(); }

extern "C" backend *backend_cuda_open(void)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess || n == 0) {
		sh_error("no CUDA device found (cudaGetDeviceCount: %s)",
			 e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
		return NULL;
	}
	cudaDeviceProp prop;
	if ((e = cudaSetDevice(0)) != cudaSuccess || (e = cudaGetDeviceProperties(&prop, 0)) != cudaSuccess) {
		sh_error("CUDA device 0: %s", cudaGetErrorString(e));
		return NULL;
	}
	/* a build for other architectures has no code for this one (CUDA_ARCH in the Makefile) */
	cudaFuncAttributes attr;
	if ((e = cudaFuncGetAttributes(&attr, g_probe)) != cudaSuccess) {
		sh_error("%s (sm_%d%d): %s (rebuild with CUDA_ARCH=%d%d)", prop.name, prop.major, prop.minor,
			 cudaGetErrorString(e), prop.major, prop.minor);
		return NULL;
	}
	if (blas_load() < 0)
		return NULL;
	backend *bk = (backend *)sh_alloc(sizeof *bk);
	cuda_impl *c = (cuda_impl *)sh_alloc(sizeof *c);
	if (!bk || !c) {
		free(bk), free(c);
		return NULL;
	}
	bk->impl = c;
	if ((e = cudaStreamCreate(&c->stream)) != cudaSuccess) {
		sh_error("cudaStreamCreate: %s", cudaGetErrorString(e));
		free(bk), free(c);
		return NULL;
	}
	cublasStatus_t s = blas_fn.create(&c->blas);
	if (s == CUBLAS_STATUS_SUCCESS)
		s = blas_fn.set_stream(c->blas, c->stream);
	if (s != CUBLAS_STATUS_SUCCESS) {
		sh_error("cublasCreate: status %d", (int)s);
		cudaStreamDestroy(c->stream);
		free(bk), free(c);
		return NULL;
	}
	bk->name = "cuda";
	snprintf(bk->device, sizeof bk->device, "%.100s, sm_%d%d, %.0f GiB", prop.name, prop.major, prop.minor,
		 prop.totalGlobalMem / (1024.0 * 1024 * 1024));
	bk->alloc = cu_alloc, bk->release = cu_release, bk->upload = cu_upload, bk->download = cu_download;
	bk->zero = cu_zero, bk->sync = cu_sync, bk->set_tf32 = cu_set_tf32, bk->close = cu_close;
	bk->gemm = cu_gemm, bk->rows_add = cu_rows_add, bk->colsum_add = cu_colsum_add;
	bk->embedding_forward = cu_embedding_forward, bk->embedding_backward = cu_embedding_backward;
	bk->weightnorm_forward = cu_weightnorm_forward, bk->weightnorm_backward = cu_weightnorm_backward;
	bk->lstm_cell_forward = cu_lstm_cell_forward, bk->lstm_cell_backward = cu_lstm_cell_backward;
	bk->gru_cell_forward = cu_gru_cell_forward, bk->gru_cell_backward = cu_gru_cell_backward;
	bk->relu_forward = cu_relu_forward, bk->relu_backward = cu_relu_backward, bk->relu_mask = cu_relu_mask;
	bk->ce_forward = cu_ce_forward, bk->ce_backward = cu_ce_backward;
	bk->clip_elementwise = cu_clip_elementwise, bk->clip_global_norm = cu_clip_global_norm;
	bk->adam_step = cu_adam_step;
	bk->copy_blocks = cu_copy_blocks;
	bk->taps_forward = cu_taps_forward, bk->taps_backward = cu_taps_backward;
	bk->strided_copy = cu_strided_copy, bk->scalar_rows = cu_scalar_rows;
	bk->stack_pairs = cu_stack_pairs, bk->unstack_pairs_add = cu_unstack_pairs_add;
	bk->gate_forward = cu_gate_forward, bk->gate_product = cu_gate_product, bk->gate_backward = cu_gate_backward;
	return bk;
}
