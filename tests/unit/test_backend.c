/* test_backend.c: the seam of backend.h on the CPU. The device kernels' math (nn_kernels.h, run
 * by the "kernels" backend in host loops over the launchers' index spaces) against nn.h ("cpu")
 * on the same inputs, operation by operation, with the harness the GPU test runs
 * (backend_compare.h); the layers written over the seam (bk_lstm_* & co.) against nn.h's own
 * layers; choosing a backend by name, and --device cuda's refusal on a machine without one. */
#include "backend.h"
#include "nn.h"
#include "util.h"

#include "backend_compare.h"

#include <string.h>

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static float *vec(size_t n, float scale)
{
	float *x = malloc(sizeof(float) * (n ? n : 1));
	for (size_t i = 0; i < n; i++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		x[i] = scale * (float)((double)(rng >> 11) / (double)(1ULL << 52) - 1);
	}
	return x;
}
static float *dup(const float *x, size_t n)
{
	float *y = malloc(sizeof(float) * (n ? n : 1));
	memcpy(y, x, sizeof(float) * n);
	return y;
}
static double maxerr(const float *a, const float *b, size_t n)
{
	double w = 0;
	for (size_t i = 0; i < n; i++) {
		double s = fabs(a[i]) > fabs(b[i]) ? fabs(a[i]) : fabs(b[i]);
		double e = fabs((double)a[i] - b[i]) / (s > 1 ? s : 1);
		w = e > w || e != e ? e : w;
	}
	return w;
}

/* bk_lstm_* and bk_gru_* on "cpu" (host memory) against lstm_* and gru_* of nn.h */
static void layers_against_nn(backend *cpu)
{
	const int T = 6, B = 2, In = 7, H = 12, G = 4 * H, G3 = 3 * H;
	const size_t R = (size_t)T * B;
	float *x = vec(R * In, 1), *gadd = vec(R * G, 0.5f), *wih = vec((size_t)G * In, 0.3f);
	float *whh = vec((size_t)G * H, 0.3f), *bih = vec(G, 0.3f), *bhh = vec(G, 0.3f);
	float *h0 = vec((size_t)B * H, 1), *c0 = vec((size_t)B * H, 1), *dh = vec(R * H, 1);
	float *dhT = vec((size_t)B * H, 1), *dcT = vec((size_t)B * H, 1);
	/* [0]: nn.h, [1]: over the seam */
	float *h[2], *c[2], *g[2], *dx[2], *dwih[2], *dwhh[2], *dbih[2], *dbhh[2], *dh0[2], *dc0[2], *dg[2], *dhs[2];
	float *dgh[2];
	for (int k = 0; k < 2; k++) {
		h[k] = calloc(R * H, 4), c[k] = calloc(R * H, 4), g[k] = calloc(R * G, 4), dx[k] = calloc(R * In, 4);
		dwih[k] = calloc((size_t)G * In, 4), dwhh[k] = calloc((size_t)G * H, 4), dbih[k] = calloc(G, 4);
		dbhh[k] = calloc(G, 4), dh0[k] = calloc((size_t)B * H, 4), dc0[k] = calloc((size_t)B * H, 4);
		dg[k] = calloc(R * G, 4), dhs[k] = dup(dh, R * H), dgh[k] = calloc(R * G3, 4);
	}
	lstm_forward(h[0], c[0], g[0], x, gadd, wih, whh, bih, bhh, h0, c0, T, B, In, H);
	bk_lstm_forward(cpu, h[1], c[1], g[1], x, gadd, wih, whh, bih, bhh, h0, c0, T, B, In, H);
	tap_ok(maxerr(h[0], h[1], R * H) == 0 && maxerr(c[0], c[1], R * H) == 0 && maxerr(g[0], g[1], R * G) == 0,
	       "bk_lstm_forward on cpu: the bytes of lstm_forward");
	lstm_backward(dx[0], dwih[0], dwhh[0], dbih[0], dbhh[0], dh0[0], dc0[0], dg[0], dhs[0], dhT, dcT, h[0], c[0],
		      g[0], x, wih, whh, h0, c0, T, B, In, H);
	bk_lstm_backward(cpu, dx[1], dwih[1], dwhh[1], dbih[1], dbhh[1], dh0[1], dc0[1], dg[1], dhs[1], dhT, dcT, h[1],
			 c[1], g[1], x, wih, whh, h0, c0, T, B, In, H);
	double e = 0;
	float **pairs[] = {dx, dwih, dwhh, dbih, dbhh, dh0, dc0, dg};
	size_t sizes[] = {R * In, (size_t)G * In, (size_t)G * H, G, G, (size_t)B * H, (size_t)B * H, R * G};
	for (int i = 0; i < 8; i++) {
		double ei = maxerr(pairs[i][0], pairs[i][1], sizes[i]);
		e = ei > e ? ei : e;
	}
	tap_ok(e < 1e-5, "bk_lstm_backward on cpu against lstm_backward: every gradient, max relative error %.2g", e);

	for (int k = 0; k < 2; k++) {
		memset(dx[k], 0, R * In * 4), memset(dwih[k], 0, (size_t)G * In * 4),
			memset(dwhh[k], 0, (size_t)G * H * 4);
		memset(dbih[k], 0, G * 4), memset(dbhh[k], 0, G * 4), memset(dh0[k], 0, (size_t)B * H * 4);
		memcpy(dhs[k], dh, R * H * 4);
	}
	gru_forward(h[0], g[0], x, gadd, wih, whh, bih, bhh, h0, T, B, In, H);
	bk_gru_forward(cpu, h[1], g[1], x, gadd, wih, whh, bih, bhh, h0, T, B, In, H);
	tap_ok(maxerr(h[0], h[1], R * H) == 0 && maxerr(g[0], g[1], R * G) == 0,
	       "bk_gru_forward on cpu: the bytes of gru_forward");
	gru_backward(dx[0], dwih[0], dwhh[0], dbih[0], dbhh[0], dh0[0], dg[0], dgh[0], dhs[0], dhT, h[0], g[0], x, wih,
		     whh, h0, T, B, In, H);
	bk_gru_backward(cpu, dx[1], dwih[1], dwhh[1], dbih[1], dbhh[1], dh0[1], dg[1], dgh[1], dhs[1], dhT, h[1], g[1],
			x, wih, whh, h0, T, B, In, H);
	float **gpairs[] = {dx, dwih, dwhh, dbih, dbhh, dh0, dg, dgh};
	size_t gsizes[] = {R * In, (size_t)G3 * In, (size_t)G3 * H, G3, G3, (size_t)B * H, R * G3, R * G3};
	e = 0;
	for (int i = 0; i < 8; i++) {
		double ei = maxerr(gpairs[i][0], gpairs[i][1], gsizes[i]);
		e = ei > e ? ei : e;
	}
	tap_ok(e < 1e-5, "bk_gru_backward on cpu against gru_backward: every gradient, max relative error %.2g", e);

	/* linear, written and accumulated, and its backward */
	const int N = 9, O = 5;
	float *lw = vec((size_t)O * In, 1), *lb = vec(O, 1), *y0 = vec((size_t)N * O, 1), *dy = vec((size_t)N * O, 1);
	float *y1 = dup(y0, (size_t)N * O), *z0 = calloc((size_t)N * O, 4), *z1 = calloc((size_t)N * O, 4);
	linear_forward(y0, x, lw, lb, N, In, O, 1);
	bk_linear_forward(cpu, y1, x, lw, lb, N, In, O, 1);
	linear_forward(z0, x, lw, lb, N, In, O, 0);
	bk_linear_forward(cpu, z1, x, lw, lb, N, In, O, 0);
	memset(dx[0], 0, R * In * 4), memset(dx[1], 0, R * In * 4), memset(dbih[0], 0, G * 4),
		memset(dbih[1], 0, G * 4);
	memset(dwih[0], 0, (size_t)G * In * 4), memset(dwih[1], 0, (size_t)G * In * 4);
	linear_backward(dx[0], dwih[0], dbih[0], dy, x, lw, N, In, O);
	bk_linear_backward(cpu, dx[1], dwih[1], dbih[1], dy, x, lw, N, In, O);
	tap_ok(maxerr(y0, y1, (size_t)N * O) == 0 && maxerr(z0, z1, (size_t)N * O) == 0 &&
		       maxerr(dx[0], dx[1], (size_t)N * In) == 0 && maxerr(dwih[0], dwih[1], (size_t)O * In) == 0 &&
		       maxerr(dbih[0], dbih[1], O) == 0,
	       "bk_linear_forward and bk_linear_backward on cpu: the bytes of linear_forward and linear_backward");

	for (int k = 0; k < 2; k++) {
		free(h[k]), free(c[k]), free(g[k]), free(dx[k]), free(dwih[k]), free(dwhh[k]), free(dbih[k]);
		free(dbhh[k]), free(dh0[k]), free(dc0[k]), free(dg[k]), free(dhs[k]), free(dgh[k]);
	}
	free(x), free(gadd), free(wih), free(whh), free(bih), free(bhh), free(h0), free(c0), free(dh), free(dhT);
	free(dcT), free(lw), free(lb), free(y0), free(y1), free(z0), free(z1), free(dy);
}

int main(void)
{
	tap_ok(backend_name_check("cpu") == 0 && backend_name_check("cuda") == 0, "cpu and cuda are devices");
	tap_ok(backend_name_check("banana") < 0 && strstr(sh_errmsg(), "unknown device 'banana' (cpu or cuda)"),
	       "banana is not: %s", sh_errmsg());
	tap_ok(backend_open("gpu") == NULL, "backend_open refuses an unknown name");

	backend *cuda = backend_open("cuda");
	if (cuda) {
		tap_diag("a GPU is present (%s): make test-cuda tests it", cuda->device);
		cuda->close(cuda);
	} else if (backend_cuda_built())
		tap_ok(strstr(sh_errmsg(), "no CUDA device found (cudaGetDeviceCount: ") == sh_errmsg() ||
			       strstr(sh_errmsg(), "CUDA device 0: ") == sh_errmsg(),
		       "built with CUDA, no usable GPU here: %s", sh_errmsg());
	else
		tap_ok(strstr(sh_errmsg(), "built without CUDA support") == sh_errmsg(), "built without CUDA: %s",
		       sh_errmsg());

	if (backend_cuda_built())
		tap_ok(backend_cuda_load_blas() == 0, "cuBLAS loads (dlopen) and has the functions used");
	else
		tap_ok(backend_cuda_load_blas() < 0, "no cuBLAS in a build without CUDA");

	backend *cpu = backend_open("cpu"), *kern = backend_kernels();
	if (!tap_ok(cpu && kern, "the cpu and kernels backends open"))
		return tap_done();
	tap_ok(!strcmp(cpu->name, "cpu") && !strcmp(kern->name, "kernels") && cpu->set_tf32(cpu, 1) < 0,
	       "names; no TF32 on the host");
	bc_compare_all(cpu, kern, 1e-4);
	layers_against_nn(cpu);
	cpu->close(cpu);
	kern->close(kern);
	return tap_done();
}
