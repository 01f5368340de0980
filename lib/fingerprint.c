/* fingerprint.c: chromaprint wrapper and offset-searched bit-error similarity (see
 * fingerprint.h). The similarity is the inner loop of curate's all-pairs comparison (about
 * 10^9 item comparisons for 1000 clips), so the popcount uses the hardware instruction where
 * the CPU has one, chosen once at run time; a plain bit loop stays beside it as the reference. */
#include "fingerprint.h"
#include "util.h"

#include <chromaprint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FEED_CHUNK 8192

struct fp_context {
	ChromaprintContext *cp;
	int16_t pcm[FEED_CHUNK];
};

fp_context *fp_context_new(void)
{
	fp_context *c = sh_alloc(sizeof *c);
	if (!c)
		return NULL;
/* chromaprint_new is not reentrant when chromaprint is built with FFTW */
#pragma omp critical(sharks_chromaprint_new)
	c->cp = chromaprint_new(CHROMAPRINT_ALGORITHM_DEFAULT);
	if (!c->cp) {
		free(c);
		sh_error("chromaprint: cannot create a context");
		return NULL;
	}
	return c;
}

void fp_context_free(fp_context *c)
{
	if (!c)
		return;
#pragma omp critical(sharks_chromaprint_new)
	chromaprint_free(c->cp);
	free(c);
}

void fp_float_to_int16(int16_t *dst, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float v = x[i] * 32767.0f;
		v = v > 32767.0f ? 32767.0f : v < -32768.0f ? -32768.0f : v;
		dst[i] = (int16_t)lrintf(v);
	}
}

int fp_compute(fp_context *c, const float *x, size_t n, int rate, uint32_t **items, int *count)
{
	*items = NULL;
	*count = 0;
	if (!chromaprint_start(c->cp, rate, 1))
		return sh_error("chromaprint: cannot start at %d Hz", rate);
	for (size_t i = 0; i < n; i += FEED_CHUNK) {
		size_t m = SH_MIN((size_t)FEED_CHUNK, n - i);
		fp_float_to_int16(c->pcm, x + i, m);
		if (!chromaprint_feed(c->cp, c->pcm, (int)m))
			return sh_error("chromaprint: feeding audio failed");
	}
	if (!chromaprint_finish(c->cp))
		return sh_error("chromaprint: finishing the fingerprint failed");
	uint32_t *raw = NULL;
	int size = 0;
	if (!chromaprint_get_raw_fingerprint(c->cp, &raw, &size))
		return sh_error("chromaprint: no fingerprint");
	if (size > 0) {
		*items = malloc((size_t)size * sizeof **items);
		if (!*items) {
			chromaprint_dealloc(raw);
			return sh_error("out of memory");
		}
		memcpy(*items, raw, (size_t)size * sizeof **items);
		*count = size;
	}
	chromaprint_dealloc(raw);
	return 0;
}

/* The items of a and b that line up at offset: a[i] with b[i + offset], i in [*lo, *hi). */
static int overlap_range(int na, int nb, int offset, int *lo, int *hi)
{
	*lo = offset < 0 ? -offset : 0;
	*hi = SH_MIN(na, nb - offset);
	return *hi > *lo ? *hi - *lo : 0;
}

long fp_bit_matches_ref(const uint32_t *a, int na, const uint32_t *b, int nb, int offset, int *overlap)
{
	int lo, hi;
	*overlap = overlap_range(na, nb, offset, &lo, &hi);
	long same = 0;
	for (int i = lo; i < hi; i++) {
		uint32_t d = a[i] ^ b[i + offset];
		for (int k = 0; k < 32; k++)
			same += !((d >> k) & 1);
	}
	return same;
}

/* Pairs of items as one 64-bit word, so that one popcount covers two items. */
#define MATCH_BODY                                                                                                     \
	int lo, hi;                                                                                                    \
	*overlap = overlap_range(na, nb, offset, &lo, &hi);                                                            \
	long diff = 0;                                                                                                 \
	int i = lo;                                                                                                    \
	for (; i + 2 <= hi; i += 2) {                                                                                  \
		uint64_t x, y;                                                                                         \
		memcpy(&x, a + i, 8);                                                                                  \
		memcpy(&y, b + i + offset, 8);                                                                         \
		diff += __builtin_popcountll(x ^ y);                                                                   \
	}                                                                                                              \
	for (; i < hi; i++)                                                                                            \
		diff += __builtin_popcount(a[i] ^ b[i + offset]);                                                      \
	return 32L * *overlap - diff;

__attribute__((target("popcnt"))) static long matches_popcnt(const uint32_t *a, int na, const uint32_t *b, int nb,
							     int offset, int *overlap)
{
	MATCH_BODY
}

static long matches_generic(const uint32_t *a, int na, const uint32_t *b, int nb, int offset, int *overlap)
{
	MATCH_BODY
}

typedef long (*matches_fn)(const uint32_t *, int, const uint32_t *, int, int, int *);

static matches_fn pick_matches(void)
{
	/* __builtin_cpu_supports reads a flag that libgcc sets up at start-up: cheap per call */
	return __builtin_cpu_supports("popcnt") ? matches_popcnt : matches_generic;
}

long fp_bit_matches(const uint32_t *a, int na, const uint32_t *b, int nb, int offset, int *overlap)
{
	return pick_matches()(a, na, b, nb, offset, overlap);
}

double fp_similarity(const uint32_t *a, int na, const uint32_t *b, int nb, int max_offset, int min_overlap,
		     int *best_offset)
{
	matches_fn matches = pick_matches();
	int need = SH_MAX(1, SH_MIN(min_overlap, SH_MIN(na, nb)));
	double best = 0;
	int best_off = 0, found = 0;
	/* offsets in the order 0, -1, +1, -2, +2 ... so that ties keep the one nearest 0 */
	for (int k = 0; k <= 2 * max_offset; k++) {
		int off = (k & 1) ? -(k + 1) / 2 : k / 2;
		int overlap;
		long same = matches(a, na, b, nb, off, &overlap);
		if (overlap < need)
			continue;
		double s = (double)same / (32.0 * overlap);
		if (!found || s > best) {
			best = s;
			best_off = off;
			found = 1;
		}
	}
	if (best_offset)
		*best_offset = best_off;
	return best;
}
