/* test_cuda.c: the "cuda" backend on a GPU against "cpu" (nn.h) on the same inputs: every
 * operation and the layers over the seam, fp32 within 1e-4 relative (backend_compare.h, the
 * harness test_backend.c runs on the CPU); the same bytes from two runs of a layer; TF32
 * products within their documented bound. `make test-cuda`; part of `make test`. Without a GPU
 * (or in a build without CUDA) it says why and is skipped, never passed. */
#include "backend.h"
#include "util.h"

#include "backend_compare.h"

#include <string.h>

/* An LSTM window forward and backward twice on the device: the bytes of every output agree. */
static void same_bytes_twice(backend *gpu)
{
	const int T = 8, B = 4, In = 32, H = 64, G = 4 * H;
	const size_t R = (size_t)T * B;
	size_t sizes[] = {R * In, (size_t)G * In, (size_t)G * H, G, G, R * H};
	float *in[6], *dev[6];
	uint64_t s = 12345;
	for (int i = 0; i < 6; i++) {
		in[i] = malloc(sizes[i] * sizeof(float));
		for (size_t k = 0; k < sizes[i]; k++)
			in[i][k] = (float)((double)((s = s * 6364136223846793005ULL + 1442695040888963407ULL) >> 11) /
						   (double)(1ULL << 53) -
					   0.5);
		dev[i] = gpu->alloc(gpu, sizes[i] * sizeof(float));
	}
	float *out[2] = {malloc(R * G * 4 + (size_t)G * In * 4), malloc(R * G * 4 + (size_t)G * In * 4)};
	float *h = gpu->alloc(gpu, R * H * 4), *c = gpu->alloc(gpu, R * H * 4), *g = gpu->alloc(gpu, R * G * 4);
	float *dg = gpu->alloc(gpu, R * G * 4), *dwih = gpu->alloc(gpu, (size_t)G * In * 4);
	float *h0 = gpu->alloc(gpu, (size_t)B * H * 4), *c0 = gpu->alloc(gpu, (size_t)B * H * 4);
	int ok = h && c && g && dg && dwih && h0 && c0;
	for (int run = 0; run < 2 && ok; run++) {
		for (int i = 0; i < 6; i++)
			ok = ok && dev[i] && gpu->upload(gpu, dev[i], in[i], sizes[i] * sizeof(float)) == 0;
		gpu->zero(gpu, dwih, (size_t)G * In * 4);
		bk_lstm_forward(gpu, h, c, g, dev[0], NULL, dev[1], dev[2], dev[3], dev[4], h0, c0, T, B, In, H);
		bk_lstm_backward(gpu, NULL, dwih, NULL, NULL, NULL, NULL, NULL, dg, dev[5], NULL, NULL, h, c, g, dev[0],
				 dev[1], dev[2], h0, c0, T, B, In, H);
		ok = ok && gpu->sync(gpu) == 0 && gpu->download(gpu, out[run], dg, R * G * 4) == 0 &&
		     gpu->download(gpu, out[run] + R * G, dwih, (size_t)G * In * 4) == 0;
	}
	tap_ok(ok && !memcmp(out[0], out[1], R * G * 4 + (size_t)G * In * 4),
	       "an LSTM window forward and backward twice: the same bytes");
	for (int i = 0; i < 6; i++)
		free(in[i]), gpu->release(gpu, dev[i]);
	float *bufs[] = {h, c, g, dg, dwih, h0, c0};
	for (int i = 0; i < 7; i++)
		gpu->release(gpu, bufs[i]);
	free(out[0]), free(out[1]);
}

/* TF32 keeps 10 bits of each operand's mantissa: every product a·b is off by at most about
 * 2·2^-11·|a·b|, so |C_tf32 - C_fp32| ≤ 2^-9·Σ_k |a_ik·b_kj| (with room for the fp32 sums). */
static void tf32_bound(backend *gpu)
{
	const int M = 64, N = 48, K = 512;
	float *A = malloc((size_t)M * K * 4), *B = malloc((size_t)K * N * 4), *C[2], *bound = malloc((size_t)M * N * 4);
	uint64_t s = 777;
	for (size_t i = 0; i < (size_t)M * K; i++)
		A[i] = (float)((double)((s = s * 6364136223846793005ULL + 1) >> 11) / (double)(1ULL << 53) - 0.5);
	for (size_t i = 0; i < (size_t)K * N; i++)
		B[i] = (float)((double)((s = s * 6364136223846793005ULL + 1) >> 11) / (double)(1ULL << 53) - 0.5);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			double t = 0;
			for (int k = 0; k < K; k++)
				t += fabs((double)A[(size_t)i * K + k] * B[(size_t)k * N + j]);
			bound[(size_t)i * N + j] = (float)(t / 512);
		}
	float *dA = gpu->alloc(gpu, (size_t)M * K * 4), *dB = gpu->alloc(gpu, (size_t)K * N * 4);
	float *dC = gpu->alloc(gpu, (size_t)M * N * 4);
	int ok = dA && dB && dC && gpu->upload(gpu, dA, A, (size_t)M * K * 4) == 0 &&
		 gpu->upload(gpu, dB, B, (size_t)K * N * 4) == 0;
	for (int tf = 0; tf < 2; tf++) {
		C[tf] = malloc((size_t)M * N * 4);
		ok = ok && gpu->set_tf32(gpu, tf) == 0;
		if (ok)
			gpu->gemm(gpu, 0, 0, M, N, K, 1, dA, K, dB, N, 0, dC, N);
		ok = ok && gpu->sync(gpu) == 0 && gpu->download(gpu, C[tf], dC, (size_t)M * N * 4) == 0;
	}
	gpu->set_tf32(gpu, 0);
	double worst = 0; /* error / bound */
	int differ = 0;
	for (size_t i = 0; ok && i < (size_t)M * N; i++) {
		double e = fabs((double)C[1][i] - C[0][i]) / bound[i];
		worst = e > worst ? e : worst;
		differ |= C[1][i] != C[0][i];
	}
	tap_ok(ok && worst <= 1, "TF32 products within 2^-9·Σ|a·b| of fp32 (worst %.2g of the bound)", worst);
	if (ok && !differ)
		tap_diag("TF32 gave the fp32 bytes: tensor cores not used for this shape");
	gpu->release(gpu, dA), gpu->release(gpu, dB), gpu->release(gpu, dC);
	free(A), free(B), free(C[0]), free(C[1]), free(bound);
}

int main(void)
{
	backend *gpu = backend_open("cuda");
	if (!gpu) {
		/* skipped, with the reason: "no CUDA device found (...)", "built without CUDA support" */
		printf("1..0 # SKIP no GPU: %s\n", sh_errmsg());
		return 0;
	}
	tap_diag("device: %s", gpu->device);
	backend *cpu = backend_open("cpu");
	if (!tap_ok(cpu != NULL, "the cpu backend opens"))
		return tap_done();
	bc_compare_all(cpu, gpu, 1e-4);
	same_bytes_twice(gpu);
	tf32_bound(gpu);
	gpu->close(gpu);
	cpu->close(cpu);
	return tap_done();
}
