/* wavenet_bench.c: WaveNet training and generation speed, samples per second, one TSV line per
 * figure: what, preset, threads, samples_per_s (as ../shared/peers/wavenet_torch.py prints).
 *   wavenet_bench train PRESET STEPS [INPUT]         training steps (after one warm-up step), Adam
 *   wavenet_bench sample PRESET STREAMS SECS [INPUT] fast generation
 * INPUT: the input layer, onehot (default), embed (E = R) or scalar (width 32).
 * Built and run by bench/wavenet.sh. */
#include "nn.h"
#include "rng.h"
#include "wavenet.h"
#include "wavenet_sample.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int threads(void)
{
#ifdef _OPENMP
	return omp_get_max_threads();
#else
	return 1;
#endif
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: wavenet_bench train PRESET STEPS [INPUT] | sample PRESET STREAMS "
			"SECS [INPUT]\n");
		return 2;
	}
	wn_config c;
	const int train = !strcmp(argv[1], "train");
	const char *input = argc > (train ? 4 : 5) ? argv[train ? 4 : 5] : "onehot";
	if (wn_preset(argv[2], &c) < 0 || wn_input_parse(input, &c.input) < 0) {
		fprintf(stderr, "wavenet_bench: %s\n", sh_errmsg());
		return 1;
	}
	c.embed = c.input == WN_INPUT_EMBED ? c.res_ch : 0;
	c.initial_width = c.input == WN_INPUT_SCALAR ? 32 : 0;
	sh_rng r;
	sh_rng_seed(&r, 1);
	if (train) {
		int steps = atoi(argv[3]);
		wn *m = wn_create(&c, c.batch);
		if (!m) {
			fprintf(stderr, "wavenet_bench: %s\n", sh_errmsg());
			return 1;
		}
		wn_init_params(m, 0);
		size_t np = wn_num_params(m), T = wn_receptive_field(&c) + c.n_out;
		float *am = calloc(np, sizeof(float)), *av = calloc(np, sizeof(float));
		uint16_t *codes = malloc(sizeof(uint16_t) * c.batch * T);
		double t0 = 0, bits = 0;
		for (int s = 0; s <= steps; s++) {
			for (size_t i = 0; i < c.batch * T; i++)
				codes[i] = (uint16_t)sh_rng_below(&r, c.levels);
			memset(wn_grads(m), 0, sizeof(float) * np);
			double l = wn_forward_backward(m, codes, c.batch);
			adam_step(wn_params(m), wn_grads(m), am, av, np, 1e-3, 0.9, 0.999, 1e-4, s + 1);
			if (s == 0)
				t0 = now();
			bits = l / log(2);
		}
		double dt = now() - t0;
		double gf = wn_train_flops(&c, c.batch) * steps / dt / 1e9;
		printf("train\t%s\t%d\t%.1f\t%.3f\t%.1f GFLOP/s\t%s input\n", argv[2], threads(),
		       (double)steps * c.batch * c.n_out / dt, bits, gf, input);
		free(am), free(av), free(codes);
		wn_free(m);
		return 0;
	}
	int n = atoi(argv[3]);
	long total = (long)(atof(argv[4]) * 16000);
	wn *m = wn_create(&c, 1);
	wn_init_params(m, 0);
	wn_sampler *s = wn_sampler_create(m, n, QMAT_F32);
	if (!s) {
		fprintf(stderr, "wavenet_bench: %s\n", sh_errmsg());
		return 1;
	}
	sh_rng *rngs = malloc(sizeof(sh_rng) * n);
	for (int b = 0; b < n; b++)
		sh_rng_seed_stream(&rngs[b], 1, b);
	int *codes = malloc(sizeof(int) * n);
	wn_sampler_reset(s);
	double t0 = now();
	for (long t = 0; t < total; t++)
		wn_sampler_draw(s, 1.0f, rngs, codes);
	double dt = now() - t0;
	printf("sample\t%s\t%d\t%.1f\t%d streams\t%s input\n", argv[2], threads(), n * total / dt,
	       n, input);
	wn_sampler_free(s);
	wn_free(m);
	free(rngs), free(codes);
	return 0;
}
