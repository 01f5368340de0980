/* test_srnn_sample.c: the step-by-step generator against the training forward pass.
 * Teacher forcing a code sequence through srnn_sampler must give the per-sample
 * probabilities srnn_forward computes on the same sequence (two windows, state carried),
 * for 2-tier LSTM, 2-tier GRU with learned h0 and weight-normed recurrent matrices, and
 * 3-tier; with weights stored as f16 and i8, within a measured bound; plus the sampling
 * distribution (chi-square), temperature and argmax; priming (srnn_sampler_prime) against teacher
 * forcing and against its own draws. */
#include "rng.h"
#include "samplernn.h"
#include "srnn_sample.h"
#include "tap.h"
#include "util.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The largest difference of a teacher-forced probability from the training forward's that
 * weights stored as f16, i8 or q8 may cause: measured on these models (f16 2e-6, i8 5e-5, q8
 * 7e-5, see the test names) with a margin of about 5. */
#define TOL_F16 1e-5
#define TOL_I8 2.5e-4
#define TOL_Q8 4e-4
static double tolerance(qmat_type t)
{
	return t == QMAT_F32 ? 1e-5 : t == QMAT_F16 ? TOL_F16 : t == QMAT_I8 ? TOL_I8 : TOL_Q8;
}

static void teacher_forced(const char *what, srnn_config cfg)
{
	const int B = 2, W = 2;
	cfg.batch = B;
	srnn *m = srnn_create(&cfg, B);
	if (!tap_ok(m != NULL, "%s: model created", what)) {
		tap_diag("%s", sh_errmsg());
		return;
	}
	srnn_init_params(m, 7);
	/* every parameter (learned h0, biases that start at 0 ...) takes a part */
	sh_rng r;
	sh_rng_seed(&r, 99);
	float *p = srnn_params(m);
	for (size_t i = 0; i < srnn_num_params(m); i++)
		p[i] += 0.05f * (float)sh_rng_normal(&r);

	const int H = srnn_history(&cfg), S = cfg.seq, Q = cfg.levels, row = H + S;
	/* a record of W windows per row: a noisy sine in codes */
	int total = W * S;
	int *rec = malloc(sizeof(int) * B * (H + total));
	for (int b = 0; b < B; b++)
		for (int t = 0; t < H + total; t++)
			rec[b * (H + total) + t] =
				t < H ? Q / 2
				      : (int)(Q / 2 + (Q / 3) * sin(0.05 * t * (b + 1)) + sh_rng_below(&r, 9)) % Q;
	uint16_t *codes = malloc(sizeof(uint16_t) * B * row);
	size_t sn = srnn_state_floats(m, B);
	float *state = malloc(sizeof(float) * sn);
	for (int b = 0; b < B; b++)
		srnn_state_reset(m, state, B, b);
	float *want = malloc(sizeof(float) * B * total * Q);
	for (int w = 0; w < W; w++) {
		for (int b = 0; b < B; b++)
			for (int t = 0; t < row; t++)
				codes[b * row + t] = (uint16_t)rec[b * (H + total) + w * S + t];
		srnn_forward(m, codes, B, state);
		const float *probs = srnn_last_logits(m);
		for (int b = 0; b < B; b++)
			memcpy(want + ((size_t)b * total + (size_t)w * S) * Q, probs + (size_t)b * S * Q,
			       sizeof(float) * S * Q);
	}

	for (int type = QMAT_F32; type <= QMAT_Q8; type++) {
		srnn_sampler *s = srnn_sampler_create(m, B, (qmat_type)type);
		if (!tap_ok(s != NULL, "%s: sampler created", what)) {
			tap_diag("%s", sh_errmsg());
			return;
		}
		sh_rng rngs[2];
		srnn_sampler_reset(s, cfg.learn_h0 ? SRNN_H0_LEARNED : SRNN_H0_ZERO, rngs);
		double worst = 0, nll_got = 0, nll_want = 0;
		int next[2];
		for (int t = 0; t < total; t++) {
			const float *got = srnn_sampler_probs(s);
			for (int b = 0; b < B; b++) {
				const float *wt = want + ((size_t)b * total + t) * Q;
				for (int q = 0; q < Q; q++) {
					double d = fabs(got[b * Q + q] - wt[q]);
					worst = d > worst ? d : worst;
				}
				next[b] = rec[b * (H + total) + H + t];
				nll_got -= log2(got[b * Q + next[b]]), nll_want -= log2(wt[next[b]]);
			}
			srnn_sampler_push(s, next);
		}
		const char *tn = qmat_type_name((qmat_type)type);
		double werr = srnn_sampler_weight_error(s);
		if (type == QMAT_F32) {
			tap_ok(worst < tolerance(QMAT_F32) && werr == 0,
			       "%s: teacher-forced probabilities equal the training forward over %d windows (max diff "
			       "%.2g)",
			       what, W, worst);
		} else {
			/* nonzero: the weights really are stored in fewer bits */
			tap_ok(worst > 0 && worst < tolerance((qmat_type)type) && werr > 0,
			       "%s, %s weights: teacher-forced probabilities within %.0e of the training forward (max "
			       "diff %.2g, "
			       "weight row error %.2g, NLL %.5f vs %.5f bits)",
			       what, tn, tolerance((qmat_type)type), worst, werr, nll_got / (B * total),
			       nll_want / (B * total));
		}
		srnn_sampler_free(s);
	}
	srnn_free(m);
	free(rec);
	free(codes);
	free(state);
	free(want);
}

static void distribution(void)
{
	enum { Q = 16, N = 200000 };
	float logits[Q], probs[Q];
	sh_rng r;
	sh_rng_seed(&r, 5);
	for (int q = 0; q < Q; q++)
		logits[q] = (float)sh_rng_normal(&r);
	static const float temps[] = {1.0f, 0.5f};
	for (int k = 0; k < 2; k++) {
		long count[Q] = {0};
		for (int i = 0; i < N; i++)
			count[srnn_draw(logits, Q, temps[k], &r, probs)]++;
		/* expected probabilities of softmax(logits / T), computed independently in double */
		double e[Q], z = 0, chi2 = 0;
		for (int q = 0; q < Q; q++)
			z += e[q] = exp(logits[q] / (double)temps[k]);
		for (int q = 0; q < Q; q++) {
			double ex = N * e[q] / z;
			chi2 += (count[q] - ex) * (count[q] - ex) / ex;
		}
		/* 15 degrees of freedom: chi2 > 37.7 has probability 0.001 */
		tap_ok(chi2 < 37.7, "draws at temperature %.1f follow softmax(logits/T): chi-square %.1f (15 dof)",
		       temps[k], chi2);
	}
	int best = 0;
	for (int q = 1; q < Q; q++)
		best = logits[q] > logits[best] ? q : best;
	float gap = 1e9f;
	for (int q = 0; q < Q; q++)
		if (q != best && logits[best] - logits[q] < gap)
			gap = logits[best] - logits[q];
	/* as T falls the argmax takes over: at T = gap/10 every other level has p < e^-10 */
	static const float scale[] = {1.0f, 0.3f, 0.1f};
	int argmax_ok = 1, hits[3] = {0};
	for (int i = 0; i < 2000; i++) {
		argmax_ok &= srnn_draw(logits, Q, 0, &r, probs) == best;
		for (int k = 0; k < 3; k++)
			hits[k] += srnn_draw(logits, Q, gap * scale[k], &r, probs) == best;
	}
	tap_ok(argmax_ok, "temperature 0 is argmax");
	tap_ok(hits[0] < hits[1] && hits[1] < hits[2] && hits[2] >= 1995,
	       "lower temperature approaches argmax: %d, %d, %d of 2000 at T = gap, gap/3.3, gap/10", hits[0], hits[1],
	       hits[2]);
}

/* one stream whose products are large enough to share out their rows: the same bits on one
 * thread and on two, every weight type */
static void threads_same_bits(void)
{
#ifdef _OPENMP
	srnn_config c;
	srnn_preset("tiny", &c);
	c.dim = 264, c.layers = 1, c.embed = 8; /* 4·264 × 264 recurrent product: split by qmat */
	srnn *m = srnn_create(&c, 1);
	srnn_init_params(m, 5);
	const int Q = c.levels;
	float *pa = malloc(sizeof(float) * Q);
	for (int wt = QMAT_F32; wt <= QMAT_Q8; wt++) {
		srnn_sampler *a = srnn_sampler_create(m, 1, (qmat_type)wt),
			     *b = srnn_sampler_create(m, 1, (qmat_type)wt);
		sh_rng r;
		sh_rng_seed(&r, 3);
		srnn_sampler_reset(a, SRNN_H0_ZERO, &r), srnn_sampler_reset(b, SRNN_H0_ZERO, &r);
		int same = 1;
		for (int t = 0; t < 100 && same; t++) {
			omp_set_num_threads(1);
			memcpy(pa, srnn_sampler_probs(a), sizeof(float) * Q);
			omp_set_num_threads(2);
			same = !memcmp(pa, srnn_sampler_probs(b), sizeof(float) * Q);
			int code = (int)sh_rng_below(&r, Q);
			srnn_sampler_push(a, &code), srnn_sampler_push(b, &code);
		}
		tap_ok(same, "%s weights: one stream's probabilities on one thread and on two are the same bits",
		       qmat_type_name((qmat_type)wt));
		srnn_sampler_free(a), srnn_sampler_free(b);
	}
	free(pa);
	srnn_free(m);
#endif
}

/* Priming, black box: prime with P and draw G at temperature 0; prime again with P and the
 * first k codes of G: the draws that follow are the rest of G, code for code (the state a prime
 * leaves is the one drawing the same codes leaves), for every weight type; P's length (37) is no
 * multiple of any frame size, nor is P + G[:k]. And primed probabilities are the bits of
 * teacher-forced ones. */
static void primed(const char *what, srnn_config cfg)
{
	enum { P = 37, G = 120, K = 29 };
	srnn *m = srnn_create(&cfg, 1);
	srnn_init_params(m, 11);
	sh_rng r;
	sh_rng_seed(&r, 4);
	float *p = srnn_params(m);
	for (size_t i = 0; i < srnn_num_params(m); i++)
		p[i] += 0.3f * (float)sh_rng_normal(&r);
	const int Q = cfg.levels;
	uint16_t prime[P + G];
	for (int t = 0; t < P; t++)
		prime[t] = (uint16_t)((Q / 2 + (int)((Q / 3) * sin(0.3 * t)) + (int)sh_rng_below(&r, 5)) % Q);
	float *pa = malloc(sizeof(float) * Q);
	for (int wt = QMAT_F32; wt <= QMAT_Q8; wt++) {
		const char *tn = qmat_type_name((qmat_type)wt);
		srnn_sampler *a = srnn_sampler_create(m, 1, (qmat_type)wt),
			     *b = srnn_sampler_create(m, 1, (qmat_type)wt);
		sh_rng ra, rb;
		sh_rng_seed(&ra, 8), sh_rng_seed(&rb, 8);
		srnn_sampler_reset(a, SRNN_H0_RANDOM, &ra), srnn_sampler_reset(b, SRNN_H0_RANDOM, &rb);
		/* a teacher-forced, b primed */
		for (int t = 0; t < P; t++) {
			srnn_sampler_probs(a);
			int c = prime[t];
			srnn_sampler_push(a, &c);
		}
		srnn_sampler_prime(b, prime, P);
		memcpy(pa, srnn_sampler_probs(a), sizeof(float) * Q);
		tap_ok(!memcmp(pa, srnn_sampler_probs(b), sizeof(float) * Q),
		       "%s, %s weights: probabilities after a prime of %d codes are the bits of teacher forcing's",
		       what, tn, P);
		int code;
		for (int t = 0; t < G; t++) {
			srnn_sampler_draw(b, 0, &rb, &code);
			prime[P + t] = (uint16_t)code;
		}
		srnn_sampler_free(b);
		b = srnn_sampler_create(m, 1, (qmat_type)wt);
		sh_rng_seed(&rb, 8);
		srnn_sampler_reset(b, SRNN_H0_RANDOM, &rb);
		srnn_sampler_prime(b, prime, P + K);
		int same = 1, distinct = 0;
		for (int t = K; t < G; t++) {
			srnn_sampler_draw(b, 0, &rb, &code);
			same &= code == prime[P + t];
			distinct += prime[P + t] != prime[P + t - 1];
		}
		tap_ok(same && distinct > 0,
		       "%s, %s weights: prime P, draw G at temperature 0; prime P + G[:%d]: the draws are G[%d:] (%d "
		       "changes)",
		       what, tn, K, K, distinct);
		srnn_sampler_free(a), srnn_sampler_free(b);
	}
	free(pa);
	srnn_free(m);
}

int main(void)
{
	srnn_config c;
	srnn_preset("tiny", &c);
	c.dim = 24, c.embed = 8, c.layers = 2, c.seq = 64, c.levels = 64;
	teacher_forced("2-tier LSTM", c);

	srnn_config g = c;
	g.rnn = SRNN_GRU, g.learn_h0 = 1, g.rnn_weight_norm = 1;
	teacher_forced("2-tier GRU, learned h0, weight-normed RNN", g);

	srnn_config t = c;
	t.nframe_tiers = 2, t.frame_size[0] = 32, t.frame_size[1] = 8, t.learn_h0 = 1;
	teacher_forced("3-tier LSTM (32, 8), learned h0", t);

	primed("2-tier LSTM", c);
	primed("2-tier GRU, learned h0", g);
	primed("3-tier LSTM (32, 8)", t);
	distribution();
	threads_same_bits();
	return tap_done();
}
