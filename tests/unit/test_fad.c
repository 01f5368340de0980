/* test_fad.c: the Fréchet distance of log-mel statistics (lib/fad.c): zero for the same
 * audio, symmetric, and ordered as a distance to music should be: other music of the same kind
 * < the same music under noise < white noise; and OpenBLAS kernel choice (lib/blas.c): a
 * fallback kernel is never kept on a CPU with AVX2 or AVX-512. */
#include "blas.h"
#include "fad.h"
#include "rng.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RATE 16000
#define SECONDS 6

/* Notes of random pitch, a quarter second each, with a decaying envelope and one overtone. */
static void notes(float *x, size_t n, uint64_t seed)
{
	sh_rng r;
	sh_rng_seed(&r, seed);
	const size_t len = RATE / 4;
	double f = 220;
	for (size_t i = 0; i < n; i++) {
		size_t k = i % len;
		if (!k)
			f = 220 * pow(2, (double)(sh_rng_next(&r) % 12) / 12);
		double t = (double)k / RATE;
		x[i] = (float)(0.3 * exp(-3 * t) * (sin(2 * M_PI * f * t) + 0.5 * sin(4 * M_PI * f * t)));
	}
}

static void noise(float *x, size_t n, float level, uint64_t seed)
{
	sh_rng r;
	sh_rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++)
		x[i] += level * (float)(2 * ((sh_rng_next(&r) >> 11) * 0x1.0p-53) - 1);
}

static fad_stats *stats(const float *x, size_t n)
{
	fad_stats *s = fad_new();
	if (s && fad_add_samples(s, x, n, RATE) < 0) {
		fad_free(s);
		return NULL;
	}
	return s;
}

int main(void)
{
	const size_t n = (size_t)RATE * SECONDS;
	float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c),
	      *w = calloc(n, sizeof *w);
	notes(a, n, 1);
	notes(b, n, 2);
	notes(c, n, 2);
	noise(c, n, 0.05f, 3);
	noise(w, n, 0.5f, 4);
	fad_stats *sa = stats(a, n), *sb = stats(b, n), *sc = stats(c, n), *sw = stats(w, n);
	tap_ok(sa && sb && sc && sw, "statistics of four recordings");
	tap_ok(fad_frames(sa) == (long)((n - FAD_FRAME) / FAD_HOP + 1), "one frame per hop: %ld", fad_frames(sa));
	double aa = fad_distance(sa, sa), ab = fad_distance(sa, sb), ba = fad_distance(sb, sa);
	double ac = fad_distance(sa, sc), aw = fad_distance(sa, sw);
	tap_diag("distances to the notes: itself %g, other notes %g, other notes in noise %g, white noise %g", aa, ab,
		 ac, aw);
	tap_ok(fabs(aa) < 1e-6 * ab, "the distance of a set to itself is 0");
	tap_ok(fabs(ab - ba) < 1e-6 * ab, "symmetric");
	tap_ok(ab < ac && ac < aw, "other notes < notes in noise < white noise");
	fad_stats *empty = fad_new();
	tap_ok(isnan(fad_distance(sa, empty)), "no frames: no distance");

	/* kernels: the pick is replaced only when it is a fallback and the CPU has better */
	blas_cpu avx512 = {1, 1, 1, 1, 1, 1, 1}, avx2 = {1, 1, 1, 0, 0, 0, 0}, sse = {0};
	tap_ok(blas_core_is_fallback("Prescott") && blas_core_is_fallback("Core2") &&
		       blas_core_is_fallback("Nehalem") && blas_core_is_fallback(""),
	       "Prescott, Core2, Nehalem are fallbacks");
	tap_ok(!blas_core_is_fallback("Haswell") && !blas_core_is_fallback("SkylakeX") &&
		       !blas_core_is_fallback("Zen") && !blas_core_is_fallback("SapphireRapids"),
	       "Haswell, SkylakeX, Zen are not");
	tap_ok(!strcmp(blas_better_core("Prescott", &avx512), "SkylakeX"), "Prescott on AVX-512: SkylakeX");
	tap_ok(!strcmp(blas_better_core("Prescott", &avx2), "Haswell"), "Prescott on AVX2: Haswell");
	tap_ok(!blas_better_core("Prescott", &sse), "Prescott on a CPU without AVX: kept");
	tap_ok(!blas_better_core("Zen", &avx2), "a good pick is kept");
	blas_cpu here = blas_cpu_detect();
	const char *core = blas_core_name();
	tap_diag("this CPU: avx2 %d, avx512f %d; OpenBLAS runs %s", here.avx2, here.avx512f, core);
	/* the test binary has not re-executed itself: what OpenBLAS picked, fixed as qtrain would */
	const char *better = blas_better_core(core, &here);
	tap_ok(!(here.avx2 || here.avx512f) || !blas_core_is_fallback(better ? better : core),
	       "on this CPU the kernel qtrain runs is not a fallback");
	fad_free(sa), fad_free(sb), fad_free(sc), fad_free(sw), fad_free(empty);
	free(a), free(b), free(c), free(w);
	return tap_done();
}
