/* chunker.c: the ring of the last chunk, the silence test and the chunk plans (chunker.h). */
#include "chunker.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int chunk_ring_init(chunk_ring *r, size_t len)
{
	r->len = len;
	r->pos = 0;
	r->ring = NULL;
	if (!len)
		return sh_error("chunk length must be at least one sample");
	size_t bytes;
	if (!sh_mul_size(len, sizeof *r->ring, &bytes))
		return -1;
	r->ring = sh_alloc(bytes);
	return r->ring ? 0 : -1;
}

void chunk_ring_free(chunk_ring *r)
{
	free(r->ring);
	r->ring = NULL;
}

void chunk_ring_reset(chunk_ring *r) { r->pos = 0; }

void chunk_ring_push(chunk_ring *r, const float *x, size_t n)
{
	if (n > r->len) { /* only the last len samples can ever be read back */
		r->pos += (int64_t)(n - r->len);
		x += n - r->len;
		n = r->len;
	}
	size_t at = (size_t)(r->pos % (int64_t)r->len);
	size_t first = SH_MIN(n, r->len - at);
	memcpy(r->ring + at, x, first * sizeof *x);
	memcpy(r->ring, x + first, (n - first) * sizeof *x);
	r->pos += (int64_t)n;
}

void chunk_ring_last(const chunk_ring *r, float *out)
{
	size_t oldest = (size_t)(r->pos % (int64_t)r->len);
	memcpy(out, r->ring + oldest, (r->len - oldest) * sizeof *out);
	memcpy(out + (r->len - oldest), r->ring, oldest * sizeof *out);
}

size_t chunk_silent_windows(const float *x, size_t n, size_t win, double db, size_t *nwin)
{
	/* RMS < 10^(db/20)  <=>  mean square < 10^(db/10): no sqrt or log per window */
	double thresh = pow(10.0, db / 10.0);
	size_t silent = 0, count = 0;
	if (!win)
		win = 1;
	for (size_t a = 0; a < n; a += win) {
		size_t m = SH_MIN(win, n - a);
		double ss = 0;
		for (size_t i = 0; i < m; i++)
			ss += (double)x[a + i] * x[a + i];
		silent += ss < thresh * (double)m;
		count++;
	}
	if (nwin)
		*nwin = count;
	return silent;
}

int chunk_is_silent(const float *x, size_t n, size_t win, double db)
{
	size_t nwin;
	size_t silent = chunk_silent_windows(x, n, win, db, &nwin);
	return 2 * silent > nwin;
}

size_t chunk_clamp(float *x, size_t n)
{
	size_t clipped = 0;
	for (size_t i = 0; i < n; i++) {
		float v = x[i];
		clipped += v < -1.0f || v > 1.0f;
		x[i] = v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v;
	}
	return clipped;
}

int64_t chunk_count(int64_t total, int64_t len, int64_t hop)
{
	if (total < len || len <= 0 || hop <= 0)
		return 0;
	return (total - len) / hop + 1;
}

int64_t chunk_part_start(int64_t i, int64_t n, int64_t total, int64_t len)
{
	if (n <= 1 || total <= len)
		return 0;
	/* i·(total-len) overflows int64 only beyond ~10^18; wavchunk limits n and total well below */
	return i * (total - len) / (n - 1);
}
