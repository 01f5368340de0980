/* sgemm.c: the machine's own single-precision matrix-product rate through CBLAS, the yardstick
 * for qtrain's achieved GFLOP/s (bench/qtrain.sh compiles and runs it; the Makefile does not
 * build bench/). Usage: sgemm THREADS M N K [REPS]; prints "sgemm M N K threads GFLOP/s", the
 * best of REPS timed products after one warm-up. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: sgemm THREADS M N K [REPS]\n");
		return 2;
	}
	int threads = atoi(argv[1]), M = atoi(argv[2]), N = atoi(argv[3]), K = atoi(argv[4]);
	int reps = argc > 5 ? atoi(argv[5]) : 5;
	if (threads < 1 || M < 1 || N < 1 || K < 1 || reps < 1) {
		fprintf(stderr, "sgemm: bad arguments\n");
		return 2;
	}
	openblas_set_num_threads(threads);
	float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N),
	      *c = malloc(sizeof(float) * M * N);
	if (!a || !b || !c) {
		fprintf(stderr, "sgemm: out of memory\n");
		return 1;
	}
	for (long i = 0; i < (long)M * K; i++)
		a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
	for (long i = 0; i < (long)K * N; i++)
		b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
	double best = 0;
	for (int r = 0; r <= reps; r++) {
		double t = now();
		/* C = A·Bᵀ as the linear layers do (weights stored output-major) */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
		double dt = now() - t, gf = 2.0 * M * N * K / dt / 1e9;
		if (r > 0 && gf > best)
			best = gf;
	}
	printf("sgemm\t%d\t%d\t%d\t%d\t%.1f\n", M, N, K, threads, best);
	free(a), free(b), free(c);
	return 0;
}
