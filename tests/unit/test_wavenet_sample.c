/* test_wavenet_sample.c: fast WaveNet generation against the training forward pass. Teacher
 * forcing a recorded code sequence through wn_sampler must give the per-sample probabilities
 * wn_forward computes on a row of rf Q/2 codes followed by that sequence, for positions within
 * and well beyond the receptive field, on 1, 2, 3 and 5 streams, with and without threads, for
 * each input layer (one-hot, embedded, scalar of width W);
 * and with weights stored as f16 and i8 within a measured bound;
 * a stream's draws do not depend on the streams beside it; reset starts again; priming
 * (wn_sampler_prime) against teacher forcing and against its own draws. */
#include "rng.h"
#include "wavenet.h"
#include "wavenet_sample.h"
#include "tap.h"
#include "util.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

static wn_config test_config(int K, int input)
{
	wn_config c = {0};
	int dil[] = {1, 2, 4, 8, 16, 1, 2, 4, 8, 16, 3};
	c.nlayers = (int)SH_ARRAY_LEN(dil);
	memcpy(c.dilation, dil, sizeof dil);
	c.res_ch = 8, c.dil_ch = 6, c.skip_ch = 16, c.levels = 64, c.n_out = K, c.batch = 3;
	c.input = input;
	if (input == WN_INPUT_EMBED)
		c.embed = 5;
	if (input == WN_INPUT_SCALAR)
		c.initial_width = 9;
	return c;
}

/* The largest difference of a teacher-forced probability from wn_forward's: f32 computes the
 * same model; f16, i8 and q8 weights within a bound measured on this model (f16 1.8e-3, i8
 * 1.7e-2, q8 2.4e-2, its inputs rounded too; see the test names: its weights are 2.5 times the
 * initialisation, so its distributions are sharp) with a margin of about 5. */
#define TOL_F16 1e-2
#define TOL_I8 9e-2
#define TOL_Q8 1.2e-1
static double tolerance(qmat_type t)
{
	return t == QMAT_F32 ? 1e-5 : t == QMAT_F16 ? TOL_F16 : t == QMAT_I8 ? TOL_I8 : TOL_Q8;
}

static void teacher_forced_as(int input, int n, int threaded, qmat_type wt)
{
	const int K = 200; /* targets per stream: rf = 67 (scalar: 74), so most are beyond rf */
	wn_config c = test_config(K, input);
	const int rf = wn_receptive_field(&c), T = rf + K, Q = c.levels;
	wn *m = wn_create(&c, n);
	wn_init_params(m, 5);
	/* larger weights than the initialisation, so that the layers matter */
	sh_rng r;
	sh_rng_seed(&r, 42 + n);
	float *p = wn_params(m);
	for (size_t i = 0; i < wn_num_params(m); i++)
		p[i] *= 2.5f;
	uint16_t *rows = malloc(sizeof(uint16_t) * n * T);
	for (int b = 0; b < n; b++)
		for (int t = 0; t < T; t++)
			rows[b * T + t] = t < rf ? Q / 2
						 : (uint16_t)((int)(Q / 2 + (Q / 3) * sin(0.07 * t * (b + 1)) +
								    sh_rng_below(&r, 7)) %
							      Q);
	wn_forward(m, rows, n);
	float *want = malloc(sizeof(float) * n * K * Q);
	memcpy(want, wn_last_probs(m), sizeof(float) * n * K * Q);

	wn_sampler *s = wn_sampler_create(m, n, wt);
	if (!tap_ok(s != NULL, "%s input, %d streams: sampler created", wn_input_name(input), n))
		return;
	if (threaded)
		wn_sampler_set_par_min(s, 0);
	/* parameters were copied: changing the model's does not change the sampler */
	memset(p, 0, sizeof(float) * wn_num_params(m));
	double worst[2] = {0, 0};
	int next[8];
	for (int pass = 0; pass < 2; pass++) { /* the second after a reset */
		wn_sampler_reset(s);
		for (int t = 0; t < K; t++) {
			const float *got = wn_sampler_probs(s);
			for (int b = 0; b < n; b++) {
				for (int q = 0; q < Q; q++) {
					double d = fabs(got[b * Q + q] - want[((size_t)b * K + t) * Q + q]);
					worst[pass] = d > worst[pass] ? d : worst[pass];
				}
				next[b] = rows[b * T + rf + t];
			}
			wn_sampler_push(s, next);
		}
	}
	const double tol = tolerance(wt), werr = wn_sampler_weight_error(s);
	/* f16, i8: a nonzero difference, or the weights were not really stored in fewer bits */
	tap_ok(worst[0] < tol && worst[1] < tol && (wt == QMAT_F32 ? werr == 0 : worst[0] > 0 && werr > 0),
	       "%s input, %d stream%s%s, %s weights: teacher-forced probabilities %s wn_forward's over %d "
	       "samples (rf %d; max diff %.2g, after reset %.2g; weight row error %.2g)",
	       wn_input_name(input), n, n > 1 ? "s" : "", threaded ? ", threaded" : "", qmat_type_name(wt),
	       wt == QMAT_F32 ? "equal" : "near", K, rf, worst[0], worst[1], werr);
	wn_sampler_free(s);
	wn_free(m);
	free(rows), free(want);
}

static void teacher_forced(int input, int n, int threaded) { teacher_forced_as(input, n, threaded, QMAT_F32); }

/* stream 0 of a 3-stream sampler draws what a 1-stream sampler draws from the same rng */
static void streams_independent(void)
{
	wn_config c = test_config(8, WN_INPUT_ONEHOT);
	wn *m = wn_create(&c, 1);
	wn_init_params(m, 9);
	wn_sampler *one = wn_sampler_create(m, 1, QMAT_F32), *three = wn_sampler_create(m, 3, QMAT_F32);
	sh_rng r1, r3[3];
	sh_rng_seed_stream(&r1, 7, 0);
	for (int b = 0; b < 3; b++)
		sh_rng_seed_stream(&r3[b], 7, b);
	int a, b3[3], same = 1, differ = 0;
	for (int t = 0; t < 300; t++) {
		wn_sampler_draw(one, 1.0f, &r1, &a);
		wn_sampler_draw(three, 1.0f, r3, b3);
		same &= a == b3[0];
		differ |= b3[1] != b3[0];
	}
	tap_ok(same && differ, "a stream's draws do not depend on the streams beside it");
	/* argmax generation is deterministic */
	wn_sampler_reset(one);
	int x[50], y[50];
	for (int t = 0; t < 50; t++)
		wn_sampler_draw(one, 0, &r1, &x[t]);
	wn_sampler_reset(one);
	for (int t = 0; t < 50; t++)
		wn_sampler_draw(one, 0, &r1, &y[t]);
	tap_ok(!memcmp(x, y, sizeof x), "temperature 0 after reset repeats itself");
	wn_sampler_free(one), wn_sampler_free(three);
	wn_free(m);
}

/* one stream on one thread and on two (the pipelined step, with the skip rows split between
 * the threads at 0, 16, 32 and all 40, and after a step on one thread): the same bits, every
 * weight type */
static void threads_same_bits(void)
{
#ifdef _OPENMP
	wn_config c = test_config(8, WN_INPUT_ONEHOT);
	c.skip_ch = 40; /* rows not a multiple of the kernels' panels */
	wn *m = wn_create(&c, 1);
	wn_init_params(m, 11);
	const int Q = c.levels;
	float *pa = malloc(sizeof(float) * Q);
	for (int wt = QMAT_F32; wt <= QMAT_Q8; wt++) {
		wn_sampler *a = wn_sampler_create(m, 1, (qmat_type)wt), *b = wn_sampler_create(m, 1, (qmat_type)wt);
		sh_rng r;
		sh_rng_seed_stream(&r, 3, 0);
		int same = 1;
		for (int t = 0; t < 300 && same; t++) {
			omp_set_num_threads(1);
			memcpy(pa, wn_sampler_probs(a), sizeof(float) * Q);
			/* now and then a step on one thread: the next pipelined step finds no past
			 * products computed ahead */
			omp_set_num_threads(t % 7 == 3 ? 1 : 2);
			wn_sampler_set_split(b, t % 4 * 16);
			same = !memcmp(pa, wn_sampler_probs(b), sizeof(float) * Q);
			int code = (int)sh_rng_below(&r, Q);
			wn_sampler_push(a, &code), wn_sampler_push(b, &code);
		}
		tap_ok(same, "%s weights: one stream's probabilities on one thread and on two are the same bits",
		       qmat_type_name((qmat_type)wt));
		wn_sampler_free(a), wn_sampler_free(b);
	}
	free(pa);
	wn_free(m);
#endif
}

/* Priming, black box: prime with P and draw G at temperature 0; prime again with P and the
 * first k codes of G: the draws that follow are the rest of G, code for code, for every weight
 * type and input layer, with one stream on two threads (the pipelined step after a prime) and
 * two streams (which a common prime leaves equal). Primed probabilities are the bits of
 * teacher-forced ones. */
static void primed(int input, int n)
{
	enum { P = 150, G = 120, K = 41 }; /* P beyond the receptive field (67; scalar 74) */
	wn_config c = test_config(8, input);
	wn *m = wn_create(&c, 1);
	wn_init_params(m, 13);
	sh_rng r;
	sh_rng_seed(&r, 6);
	float *p = wn_params(m);
	for (size_t i = 0; i < wn_num_params(m); i++)
		p[i] = p[i] * 2.5f + 0.2f * (float)sh_rng_normal(&r);
	const int Q = c.levels;
	uint16_t prime[P + G];
	for (int t = 0; t < P; t++)
		prime[t] = (uint16_t)((Q / 2 + (int)((Q / 3) * sin(0.2 * t)) + (int)sh_rng_below(&r, 5)) % Q);
	float *pa = malloc(sizeof(float) * Q * n);
	int codes[2], push[2];
#ifdef _OPENMP
	omp_set_num_threads(2);
#endif
	for (int wt = QMAT_F32; wt <= QMAT_Q8; wt++) {
		const char *tn = qmat_type_name((qmat_type)wt);
		wn_sampler *a = wn_sampler_create(m, n, (qmat_type)wt), *b = wn_sampler_create(m, n, (qmat_type)wt);
		sh_rng rngs[2];
		for (int t = 0; t < P; t++) {
			wn_sampler_probs(a);
			push[0] = push[1] = prime[t];
			wn_sampler_push(a, push);
		}
		wn_sampler_prime(b, prime, P);
		memcpy(pa, wn_sampler_probs(a), sizeof(float) * Q * n);
		tap_ok(!memcmp(pa, wn_sampler_probs(b), sizeof(float) * Q * n),
		       "input %d, %d stream(s), %s weights: probabilities after a prime of %d codes are the bits of "
		       "teacher forcing's",
		       input, n, tn, P);
		for (int t = 0; t < G; t++) {
			wn_sampler_draw(b, 0, rngs, codes);
			prime[P + t] = (uint16_t)codes[0];
		}
		wn_sampler_reset(b);
		wn_sampler_prime(b, prime, P + K);
		int same = 1, distinct = 0;
		for (int t = K; t < G; t++) {
			wn_sampler_draw(b, 0, rngs, codes);
			same &= codes[0] == prime[P + t] && codes[n - 1] == codes[0];
			distinct += prime[P + t] != prime[P + t - 1];
		}
		tap_ok(same && distinct > 0,
		       "input %d, %d stream(s), %s weights: prime P, draw G at temperature 0; prime P + G[:%d]: the "
		       "draws "
		       "are G[%d:] (%d changes)",
		       input, n, tn, K, K, distinct);
		wn_sampler_free(a), wn_sampler_free(b);
	}
	free(pa);
	wn_free(m);
}

int main(void)
{
	teacher_forced(WN_INPUT_ONEHOT, 1, 0);
	teacher_forced(WN_INPUT_ONEHOT, 2, 0);
	teacher_forced(WN_INPUT_ONEHOT, 3, 0);
	/* pairs of streams and one left over in the product kernel */
	teacher_forced(WN_INPUT_ONEHOT, 5, 0);
	/* bands of streams through the network on the threads */
	teacher_forced(WN_INPUT_ONEHOT, 2, 1);
	teacher_forced(WN_INPUT_ONEHOT, 5, 1);
	for (int input = WN_INPUT_EMBED; input <= WN_INPUT_SCALAR; input++) {
		teacher_forced(input, 1, 0);
		teacher_forced(input, 3, 0);
		teacher_forced(input, 5, 1);
	}
	for (int wt = QMAT_F16; wt <= QMAT_Q8; wt++) {
		teacher_forced_as(WN_INPUT_ONEHOT, 1, 0, (qmat_type)wt);
		teacher_forced_as(WN_INPUT_SCALAR, 3, 1, (qmat_type)wt);
	}
	primed(WN_INPUT_ONEHOT, 1);
	primed(WN_INPUT_ONEHOT, 2);
	primed(WN_INPUT_SCALAR, 1);
	streams_independent();
	threads_same_bits();
	return tap_done();
}
