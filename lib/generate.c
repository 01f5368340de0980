/* generate.c: the generation loop over batches and parallel groups of streams (generate.h). */
#include "generate.h"
#include "audio.h"
#include "cli.h"
#include "npy.h"
#include "util.h"
#include "wavenet_sample.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { BLOCK = 4096 }; /* samples per stream handed to the sink at a time */

/* A sampler of either model. */
typedef struct {
	srnn_sampler *srnn;
	wn_sampler *wn;
} sampler;

static int omp_in_parallel_safe(void)
{
#ifdef _OPENMP
	return omp_in_parallel();
#else
	return 1;
#endif
}

/* How many threads share out the products of one group's steps, chosen while it runs: a
 * product split between threads waits at a barrier for the slowest, which on an idle machine
 * costs a microsecond and on one loaded by other processes a scheduler slice, so that splitting
 * can be 50 times slower than not. Now and then one CHUNK of steps is timed with one thread and
 * one with all, and the faster count runs until the next timing: after PERIOD steps when all
 * threads won, after twice as many as last time when one thread won (the timing itself is
 * costly on a loaded machine). The samplers' results do not depend on the number of threads
 * (qmat.h), so neither does the output. */
enum { CHUNK = 64, PERIOD = 4096, PERIOD_MAX = 1 << 18 };
typedef struct {
	int most;          /* threads available: 1 means nothing to choose */
	long k;            /* steps since the last timing started */
	long period;       /* steps from one timing to the next (0 before the first) */
	double t0, per[2]; /* start of a timed chunk; its seconds with one thread, with most */
} thread_choice;

static void use_threads(int n)
{
#ifdef _OPENMP
	omp_set_num_threads(n);
#else
	(void)n;
#endif
}

/* Called before every step. */
static void thread_choice_step(thread_choice *tc)
{
	if (tc->most <= 1)
		return;
	long k = tc->k++;
	if (k > 2 * CHUNK) {
		if (k >= tc->period)
			tc->k = 0, thread_choice_step(tc);
		return;
	}
	if (k % CHUNK)
		return;
	double now = sh_now();
	if (k)
		tc->per[k / CHUNK - 1] = now - tc->t0;
	tc->t0 = now;
	if (k == 0) {
		use_threads(1);
	} else if (k == CHUNK) {
		use_threads(tc->most);
	} else {
		int one = tc->per[0] < tc->per[1];
		use_threads(one ? 1 : tc->most);
		tc->period = one ? SH_MIN(2 * SH_MAX(tc->period, (long)PERIOD), (long)PERIOD_MAX) : PERIOD;
	}
}

/* Leaves the thread count as it was found. */
static void thread_choice_end(thread_choice *tc)
{
	if (tc->most > 1)
		use_threads(tc->most);
}

/* One group: streams first .. first+count-1 with their own sampler. */
static int run_group(model *m, const gen_spec *g, long first, int count, long batch_first, int nb, gen_sink sink,
		     gen_progress progress, void *ctx, int report, volatile int *failed)
{
	sampler s = {NULL, NULL};
	thread_choice tc = {.most = omp_in_parallel_safe() ? 1 : SH_MAX(1, g->threads)};
	if (tc.most > 1)
		use_threads(tc.most);
	if (m->wn)
		s.wn = wn_sampler_create(m->wn, count, g->weights);
	else
		s.srnn = srnn_sampler_create(m->srnn, count, g->weights);
	sh_rng *rngs = malloc(count * sizeof *rngs);
	int *codes = malloc(count * sizeof *codes);
	uint16_t *block = malloc((size_t)count * BLOCK * sizeof *block); /* [count × BLOCK] */
	int rc = 0;
	if ((!s.wn && !s.srnn) || !rngs || !codes || !block) {
		rc = s.wn || s.srnn ? sh_error("out of memory") : -1;
		goto done;
	}
	if (g->weight_error) {
		double e = s.srnn ? srnn_sampler_weight_error(s.srnn) : wn_sampler_weight_error(s.wn);
#pragma omp critical(generate_error)
		*g->weight_error = e > *g->weight_error ? e : *g->weight_error;
	}
	for (int b = 0; b < count; b++)
		sh_rng_seed_stream(&rngs[b], g->seed, (uint64_t)(first + b));
	if (s.wn)
		wn_sampler_reset(s.wn);
	else
		srnn_sampler_reset(s.srnn, g->h0, rngs);
	if (g->prime) {
		if (s.wn)
			wn_sampler_prime(s.wn, g->prime, g->prime_len);
		else
			srnn_sampler_prime(s.srnn, g->prime, g->prime_len);
	}
	for (long t = 0; g->keep_prime && g->prime && t < g->prime_len && !rc; t += BLOCK) {
		int len = (int)SH_MIN((long)BLOCK, g->prime_len - t);
		for (int b = 0; b < count && !rc; b++)
			if (sink(ctx, first + b, g->prime + t, len) < 0)
				rc = -1;
	}
	for (long t = 0; (g->samples < 0 || t < g->samples) && !rc; t += BLOCK) {
		if (*failed || (g->stop && *g->stop)) {
			rc = 1;
			break;
		}
		int len = (int)(g->samples < 0 ? BLOCK : SH_MIN((long)BLOCK, g->samples - t));
		for (int i = 0; i < len; i++) {
			thread_choice_step(&tc);
			if (s.wn)
				wn_sampler_draw(s.wn, g->temperature, rngs, codes);
			else
				srnn_sampler_draw(s.srnn, g->temperature, rngs, codes);
			for (int b = 0; b < count; b++)
				block[(size_t)b * BLOCK + i] = (uint16_t)codes[b];
		}
		for (int b = 0; b < count && !rc; b++)
			if (sink(ctx, first + b, block + (size_t)b * BLOCK, len) < 0)
				rc = -1;
		if (report && progress)
			progress(ctx, (double)(batch_first - g->first) * g->samples + (double)nb * (t + len));
	}
done:
	thread_choice_end(&tc);
	if (s.wn)
		wn_sampler_free(s.wn);
	if (s.srnn)
		srnn_sampler_free(s.srnn);
	free(rngs), free(codes), free(block);
	return rc;
}

int gen_streams(model *m, const gen_spec *g, gen_batch on_batch, gen_sink sink, gen_progress progress, void *ctx)
{
	const int B = g->batch > 0 && g->batch < g->n ? g->batch : (int)g->n;
	const long end = g->first + g->n;
	for (long first = g->first; first < end; first += B) {
		const int nb = (int)SH_MIN((long)B, end - first);
		/* per-sample products are too small to share out: threads take groups of streams */
		const int groups = SH_MAX(1, SH_MIN(g->threads, nb));
		if (on_batch && on_batch(ctx, first, nb, 0) < 0)
			return -1;
		volatile int failed = 0;
		int stopped = 0;
		char err[512] = "";
		/* one group runs outside any parallel region: a region nested in even an inactive
		 * one starts its threads afresh each time */
		if (groups == 1) {
			int rc = run_group(m, g, first, nb, first, nb, sink, progress, ctx, 1, &failed);
			if (rc < 0)
				return -1;
			stopped = rc > 0;
		}
#pragma omp parallel for num_threads(groups) schedule(static, 1) if (groups > 1)
		for (int k = 0; k < (groups > 1 ? groups : 0); k++) {
			long a = first + (long)nb * k / groups, b = first + (long)nb * (k + 1) / groups;
			int rc = run_group(m, g, a, (int)(b - a), first, nb, sink, progress, ctx, k == 0, &failed);
			if (rc < 0) {
#pragma omp critical(generate_error)
				if (!failed) {
					snprintf(err, sizeof err, "%s", sh_errmsg());
					failed = 1;
				}
			} else if (rc > 0) {
#pragma omp atomic write
				stopped = 1;
			}
		}
		if (failed)
			return sh_error("%s", err);
		if (on_batch && on_batch(ctx, first, nb, 1) < 0)
			return -1;
		if (stopped)
			return 1;
	}
	return 0;
}

/* Audio read in blocks into *x (n samples), holding only the last keep when keep > 0. */
static int read_audio_prime(const char *path, int rate, long keep, float **out, size_t *len)
{
	/* the rate the header claims, before the prime is resampled to the checkpoint's: no
	 * recording is made at fewer than 1 kHz or more than 768 kHz, and a rate read wrong would
	 * stretch the prime many times over (or, beyond 256 times, fail to resample) */
	audio_reader *r = audio_open(path, 0, AUDIO_QUALITY_DEFAULT);
	if (!r)
		return sh_error_prefix("cannot decode the prime");
	int file_rate = audio_file_rate(r);
	audio_close(r);
	if (file_rate < 1000 || file_rate > 768000)
		return sh_error("the prime claims a rate of %d Hz: not a rate audio is recorded at", file_rate);
	if (!(r = audio_open(path, rate, AUDIO_QUALITY_DEFAULT)))
		return sh_error_prefix("cannot decode the prime");
	size_t n = 0, cap = 1 << 16;
	float *x = malloc(cap * sizeof *x);
	long got = 0;
	while (x && (got = audio_read(r, x + n, (long)SH_MIN(cap - n, (size_t)4096))) > 0) {
		n += (size_t)got;
		if (keep > 0 && n >= 2 * (size_t)keep + 4096) { /* hold the last keep */
			memmove(x, x + n - keep, keep * sizeof *x);
			n = (size_t)keep;
		}
		if (cap - n < 4096) {
			float *y = realloc(x, 2 * cap * sizeof *x);
			if (!y)
				free(x);
			x = y, cap *= 2;
		}
	}
	audio_close(r);
	if (!x)
		return sh_error("out of memory");
	if (got < 0) {
		free(x);
		return sh_error_prefix("cannot decode the prime");
	}
	*out = x, *len = n; /* finite: audio_read refuses NaN and infinities */
	return 0;
}

/* The first record of a tensor stream of codes into *codes, *len. */
static int read_code_prime(const char *path, int Q, uint16_t **codes, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f)
		return sh_error("%s", strerror(errno));
	npy_record rec = {0};
	int rc = npy_read_record(f, &rec);
	if (f != stdin)
		fclose(f);
	if (rc <= 0) {
		npy_record_free(&rec);
		return rc < 0 ? sh_error_prefix("cannot read the prime")
			      : sh_error("the prime holds no record (expected codes, or an audio file by its "
					 "extension)");
	}
	const sh_dtype t = rec.h.dtype;
	const size_t n = rec.h.count;
	uint16_t *c = NULL;
	if (t == SH_F32 || t == SH_F64)
		rc = sh_error("the prime holds audio samples (%s), not codes: give an audio file (.wav, .flac ...) "
			      "or encode it with mulaw",
			      sh_dtype_descr(t));
	else if (!(c = malloc((n ? n : 1) * sizeof *c)))
		rc = sh_error("out of memory");
	for (size_t i = 0; c && rc > 0 && i < n; i++) {
		int64_t v;
		switch (t) {
		case SH_U8: v = ((const uint8_t *)rec.data)[i]; break;
		case SH_U16: v = ((const uint16_t *)rec.data)[i]; break;
		case SH_I16: v = ((const int16_t *)rec.data)[i]; break;
		case SH_I32: v = ((const int32_t *)rec.data)[i]; break;
		default: v = ((const int64_t *)rec.data)[i]; break;
		}
		if (v < 0 || v >= Q)
			rc = sh_error("the prime's code %lld at index %zu is outside the checkpoint's levels 0..%d",
				      (long long)v, i, Q - 1);
		else
			c[i] = (uint16_t)v;
	}
	npy_record_free(&rec);
	if (rc < 0) {
		free(c);
		return -1;
	}
	*codes = c, *len = n;
	return 0;
}

int gen_load_prime(const char *path, int rate, const mulaw_quantiser *quant, long keep, uint16_t **codes, long *len)
{
	size_t n = 0;
	uint16_t *c = NULL;
	if (cli_is_audio_path(path)) {
		float *x = NULL;
		if (read_audio_prime(path, rate, keep, &x, &n) < 0)
			return -1;
		if (!(c = malloc((n ? n : 1) * sizeof *c))) {
			free(x);
			return sh_error("out of memory");
		}
		mulaw_encode_u16(quant, x, n, c);
		free(x);
	} else if (read_code_prime(path, quant->levels, &c, &n) < 0) {
		return -1;
	}
	if (n == 0) {
		free(c);
		return sh_error("the prime is empty");
	}
	if (keep > 0 && n > (size_t)keep) {
		memmove(c, c + n - keep, keep * sizeof *c);
		n = (size_t)keep;
	}
	*codes = c, *len = (long)n;
	return 0;
}
