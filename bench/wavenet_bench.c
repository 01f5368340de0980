/* wavenet_bench.c: WaveNet training speed, samples per second, one TSV line: what, preset,
 * threads, samples_per_s (as tests/reference/wavenet.py prints).
 *   wavenet_bench train PRESET STEPS [INPUT]   training steps (after one warm-up step), Adam
 * INPUT: the input layer, onehot (default), embed (E = R) or scalar (width 32).
 * Built and run by bench/wavenet.sh, which times generation with bin/qsample itself. */
#include "nn.h"
#include "rng.h"
#include "wavenet.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

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
	if (argc < 4 || strcmp(argv[1], "train")) {
		fprintf(stderr, "usage: wavenet_bench train PRESET STEPS [INPUT]\n");
		return 2;
	}
	wn_config c;
	const char *input = argc > 4 ? argv[4] : "onehot";
	if (wn_preset(argv[2], &c) < 0 || wn_input_parse(input, &c.input) < 0) {
		fprintf(stderr, "wavenet_bench: %s\n", sh_errmsg());
		return 1;
	}
	c.embed = c.input == WN_INPUT_EMBED ? c.res_ch : 0;
	c.initial_width = c.input == WN_INPUT_SCALAR ? 32 : 0;
	sh_rng r;
	sh_rng_seed(&r, 1);
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
			t0 = sh_now();
		bits = l / log(2);
	}
	double dt = sh_now() - t0;
	double gf = wn_train_flops(&c, c.batch) * steps / dt / 1e9;
	printf("train\t%s\t%d\t%.1f\t%.3f\t%.1f GFLOP/s\t%s input\n", argv[2], threads(),
	       (double)steps * c.batch * c.n_out / dt, bits, gf, input);
	free(am), free(av), free(codes);
	wn_free(m);
	return 0;
}
