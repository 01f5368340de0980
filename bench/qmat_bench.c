/* qmat_bench.c: speed of the packed products of lib/qmat.c beside today's float product
 * (linear_forward, through nn_gemm), in the same run. TSV on stdout, built and run by
 * bench/qmat.sh.
 *   qmat_bench shape NAME ROWS COLS SECS [STREAMS [THREADS]]   (lists, default 1,8 and 1,2)
 *       one matrix: "hot" (the same matrix again and again: from cache when it fits) and
 *       "cold" (a ring of copies of at least 64 MB for each kernel: from memory);
 *       what, rows, cols, streams, threads, cache, kernel, us, GFLOP/s, GB/s, speedup
 *   qmat_bench model srnn|wavenet STREAMS THREADS SECS
 *       only the products of one generated sample of SampleRNN `small` (one frame tier of 3 GRU
 *       layers, dim 512, frame 16, as lib/srnn_sample.c runs them: per frame wih 1536×16,
 *       1536×528 ×2, whh 1024×512 + 512×512 ×3, out 512×512 ×3, upsampling 8192×512; per
 *       sample 512×512 and 256×512, l2 being folded into the tables) or WaveNet
 *       `default` (per sample 50 × (64×64 filter+gate, 32×32 residual), 512×1600 skip, 512×512,
 *       256×512), every matrix its own: samples per second (all streams) if a sample cost only
 *       these products; what, streams, threads, kernel, MB of weights, samples/s, speedup.
 *       Kernel "i8+f16": SampleRNN's frame tier in i8, its sample tier in f16. */
#include "nn.h"
#include "qmat.h"
#include "rng.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static float *randv(size_t n, sh_rng *rng, float a)
{
	float *v = malloc(sizeof(float) * n);
	if (!v) {
		fprintf(stderr, "qmat_bench: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		v[i] = a * (2 * sh_rng_uniformf(rng) - 1);
	return v;
}

/* one matrix of the benchmark: float weights and the three packings */
typedef struct {
	int rows, cols;
	float *w, *bias;
	qmat *q[3];
} mat;

static void mat_init(mat *m, int rows, int cols, sh_rng *rng)
{
	m->rows = rows, m->cols = cols;
	m->w = randv((size_t)rows * cols, rng, 0.05f);
	m->bias = randv(rows, rng, 0.1f);
	for (int t = 0; t < 3; t++)
		if (!(m->q[t] = qmat_pack(m->w, rows, cols, cols, (qmat_type)t))) {
			fprintf(stderr, "qmat_bench: cannot pack\n");
			exit(1);
		}
}

/* kernel -1: linear_forward (today's), else qmat type */
static void product(const mat *m, int kernel, float *y, const float *x, int nb)
{
	if (kernel < 0)
		linear_forward(y, x, m->w, m->bias, nb, m->cols, m->rows, 0);
	else
		qmat_apply_par(m->q[kernel], y, m->rows, x, m->cols, m->bias, nb, 0);
}

static size_t bytes_of(const mat *m, int kernel)
{
	return kernel < 0 ? sizeof(float) * m->rows * m->cols : m->q[kernel]->weight_bytes;
}

static const char *kernel_name(int k) { return k < 0 ? "nn_gemm-f32" : qmat_type_name(k); }

/* the products of one kernel: a ring of n copies of the matrix (n = 1: "hot") */
typedef struct {
	int kernel, n;
	float **w;
	qmat **q;
} ring;

static void ring_make(ring *g, int kernel, const float *w, int rows, int cols, int cold)
{
	size_t bytes = sizeof(float) * rows * cols;
	qmat *first = NULL;
	if (kernel >= 0) {
		first = qmat_pack(w, rows, cols, cols, (qmat_type)kernel);
		bytes = first->weight_bytes;
	}
	g->kernel = kernel;
	g->n = cold ? (int)((64u << 20) / bytes + 1) : 1;
	if (g->n > 16384)
		g->n = 16384; /* tiny matrices: cold means little for them anyway */
	g->w = calloc(g->n, sizeof *g->w), g->q = calloc(g->n, sizeof *g->q);
	for (int i = 0; i < g->n; i++)
		if (kernel < 0) {
			g->w[i] = malloc(bytes);
			memcpy(g->w[i], w, bytes);
		} else {
			g->q[i] = i ? qmat_pack(w, rows, cols, cols, (qmat_type)kernel) : first;
		}
}

static void ring_free(ring *g)
{
	for (int i = 0; i < g->n; i++)
		free(g->w[i]), qmat_free(g->q[i]);
	free(g->w), free(g->q);
}

static int shape(int argc, char **argv)
{
	if (argc < 6)
		return 2;
	const char *name = argv[2];
	int rows = atoi(argv[3]), cols = atoi(argv[4]);
	double secs = atof(argv[5]);
	const char *streams = argc > 6 ? argv[6] : "1,8", *threads = argc > 7 ? argv[7] : "1,2";
	sh_rng rng;
	sh_rng_seed(&rng, 1);
	float *w = randv((size_t)rows * cols, &rng, 0.05f), *bias = randv(rows, &rng, 0.1f);
	float *x = randv((size_t)16 * cols, &rng, 1), *y = randv((size_t)16 * rows, &rng, 1);
	for (int cold = 0; cold < 2; cold++) {
		ring rg[4];
		for (int k = -1; k < 3; k++)
			ring_make(&rg[k + 1], k, w, rows, cols, cold);
		for (const char *sp = streams; *sp; sp += strcspn(sp, ",") + (sp[strcspn(sp, ",")] != 0)) {
			int nb = atoi(sp);
			for (const char *tp = threads; *tp; tp += strcspn(tp, ",") + (tp[strcspn(tp, ",")] != 0)) {
				int nt = atoi(tp);
#ifdef _OPENMP
				omp_set_num_threads(nt);
#endif
				double base = 0, flop = 2.0 * rows * cols * nb;
				for (int k = -1; k < 3; k++) {
					const ring *g = &rg[k + 1];
					int reps = 0;
					double t0 = sh_now(), t;
					do {
						for (int i = 0; i < 16; i++) {
							int j = (reps + i) % g->n;
							if (k < 0)
								linear_forward(y, x, g->w[j], bias, nb, cols, rows, 0);
							else
								qmat_apply_par(g->q[j], y, rows, x, cols, bias, nb, 0);
						}
						reps += 16;
					} while ((t = sh_now() - t0) < secs || reps < 2 * g->n);
					double us = t / reps * 1e6;
					size_t bytes = k < 0 ? sizeof(float) * rows * cols : g->q[0]->weight_bytes;
					if (k < 0)
						base = us;
					printf("%s\t%d\t%d\t%d\t%d\t%s\t%s\t%.2f\t%.1f\t%.1f\t%.2f\n", name, rows, cols,
					       nb, nt, cold ? "cold" : "hot", kernel_name(k), us, flop / us * 1e-3,
					       bytes / us * 1e-3, base / us);
					fflush(stdout);
				}
			}
		}
		for (int k = 0; k < 4; k++)
			ring_free(&rg[k]);
	}
	free(w), free(bias), free(x), free(y);
	return 0;
}

#define MAXM 128

static int model(int argc, char **argv)
{
	if (argc < 6)
		return 2;
	const char *what = argv[2];
	int nb = atoi(argv[3]), nt = atoi(argv[4]);
	double secs = atof(argv[5]);
#ifdef _OPENMP
	omp_set_num_threads(nt);
#endif
	sh_rng rng;
	sh_rng_seed(&rng, 2);
	/* per-frame matrices (run once every `frame` samples) and per-sample ones */
	mat fm[MAXM], sm[MAXM];
	int nf = 0, ns = 0, frame = 1;
	if (!strcmp(what, "srnn")) {
		frame = 16;
		for (int l = 0; l < 3; l++) {
			mat_init(&fm[nf++], 1536, l == 0 ? 16 : 528, &rng);
			mat_init(&fm[nf++], 1024, 512, &rng); /* whh, r and z rows */
			mat_init(&fm[nf++], 512, 512, &rng);  /* whh, n rows */
			mat_init(&fm[nf++], 512, 512, &rng);
		}
		mat_init(&fm[nf++], 8192, 512, &rng);
		mat_init(&sm[ns++], 512, 512, &rng);
		mat_init(&sm[ns++], 256, 512, &rng);
	} else if (!strcmp(what, "wavenet")) {
		for (int l = 0; l < 50; l++) {
			mat_init(&sm[ns++], 64, 64, &rng);
			mat_init(&sm[ns++], 32, 32, &rng);
		}
		mat_init(&sm[ns++], 512, 1600, &rng);
		mat_init(&sm[ns++], 512, 512, &rng);
		mat_init(&sm[ns++], 256, 512, &rng);
	} else {
		return 2;
	}
	float *x = randv((size_t)nb * 8192, &rng, 1), *y = randv((size_t)nb * 8192, &rng, 1);
	double base = 0;
	/* kernels: nn_gemm, f32, f16, i8, and (SampleRNN) the frame tier in i8 with the sample tier,
	 * small enough to stay in cache, in f16 */
	for (int k = -1; k < (nf ? 4 : 3); k++) {
		const int kf = k == 3 ? QMAT_I8 : k, ks = k == 3 ? QMAT_F16 : k;
		double mb = 0;
		for (int i = 0; i < nf; i++)
			mb += bytes_of(&fm[i], kf) / 1e6;
		for (int i = 0; i < ns; i++)
			mb += bytes_of(&sm[i], ks) / 1e6;
		long samples = 0;
		double t0 = 0, t;
		for (int warm = 1; warm >= 0; warm--) {
			samples = 0, t0 = sh_now();
			do {
				for (int i = 0; i < nf; i++)
					product(&fm[i], kf, y, x, nb);
				for (int j = 0; j < frame; j++)
					for (int i = 0; i < ns; i++)
						product(&sm[i], ks, y, x, nb);
				samples += frame;
			} while ((t = sh_now() - t0) < (warm ? secs / 4 : secs));
		}
		double sps = (double)samples * nb / t;
		if (k < 0)
			base = sps;
		printf("%s\t%d\t%d\t%s\t%.1f\t%.0f\t%.2f\n", what, nb, nt, k == 3 ? "i8+f16" : kernel_name(k), mb, sps,
		       sps / base);
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 2;
	if (argc > 1 && !strcmp(argv[1], "shape"))
		rc = shape(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "model"))
		rc = model(argc, argv);
	if (rc == 2)
		fprintf(stderr, "usage: qmat_bench shape NAME ROWS COLS SECS [STREAMS [THREADS]]\n"
				"       qmat_bench model srnn|wavenet STREAMS THREADS SECS\n");
	return rc;
}
