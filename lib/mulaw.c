/* mulaw.c: mu-law (WaveNet and dadabots conventions) and linear quantisation (see mulaw.h and
 * docs/mulaw.md). Encoding evaluates the formula in double for each sample; decoding looks the
 * code up in a table of the levels' centres computed once, also in double. */
#include "mulaw.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>

const char *mulaw_mode_name(mulaw_mode mode)
{
	switch (mode) {
	case MULAW_WAVENET: return "mu-law";
	case MULAW_DADABOTS: return "dadabots mu-law";
	case MULAW_LINEAR: return "linear";
	}
	return "?";
}

int mulaw_encode1(const mulaw_quantiser *q, double x)
{
	x = x < -1 ? -1 : x > 1 ? 1 : x;
	double mu = q->mu, c;
	switch (q->mode) {
	case MULAW_LINEAR: c = floor((x + 1) / 2 * mu + 0.5); break;
	case MULAW_DADABOTS: {
		double y = copysign(log1p(mu * fabs(x)) * q->inv_log1p_mu, x);
		c = floor((y + 1) / 2 * mu);
		break;
	}
	default: { /* MULAW_WAVENET; sign(0) = 0, so 0 sits exactly on the middle code */
		double y = x == 0 ? 0 : copysign(log1p(mu * fabs(x)) * q->inv_log1p_mu, x);
		c = floor((y + 1) / 2 * mu + 0.5);
		break;
	}
	}
	/* |y| <= 1 keeps c in range mathematically; the guard only absorbs rounding at the ends */
	return c < 0 ? 0 : c > mu ? (int)mu : (int)c;
}

double mulaw_decode1(const mulaw_quantiser *q, int code)
{
	double mu = q->mu, y;
	switch (q->mode) {
	case MULAW_LINEAR: return 2.0 * code / mu - 1;
	case MULAW_DADABOTS: y = 2.0 * code / q->levels - 1; break;
	default: y = 2.0 * code / mu - 1; break;
	}
	return copysign(expm1(fabs(y) * log1p(mu)) / mu, y);
}

int mulaw_init(mulaw_quantiser *q, mulaw_mode mode, int levels)
{
	q->table = NULL;
	if (levels < 2 || levels > MULAW_MAX_LEVELS)
		return sh_error("levels must be in 2..%d, got %d", MULAW_MAX_LEVELS, levels);
	if (mode != MULAW_WAVENET && mode != MULAW_DADABOTS && mode != MULAW_LINEAR)
		return sh_error("unknown quantiser mode %d", (int)mode);
	q->mode = mode;
	q->levels = levels;
	q->mu = levels - 1;
	q->inv_log1p_mu = 1 / log1p(q->mu);
	q->table = sh_alloc((size_t)levels * sizeof *q->table);
	if (!q->table)
		return -1;
	for (int c = 0; c < levels; c++)
		q->table[c] = (float)mulaw_decode1(q, c);
	return 0;
}

void mulaw_free(mulaw_quantiser *q)
{
	free(q->table);
	q->table = NULL;
}

size_t mulaw_encode_u8(const mulaw_quantiser *q, const float *x, size_t n, uint8_t *codes)
{
	size_t clamped = 0;
	for (size_t i = 0; i < n; i++) {
		clamped += x[i] < -1 || x[i] > 1;
		codes[i] = (uint8_t)mulaw_encode1(q, x[i]);
	}
	return clamped;
}

size_t mulaw_encode_u16(const mulaw_quantiser *q, const float *x, size_t n, uint16_t *codes)
{
	size_t clamped = 0;
	for (size_t i = 0; i < n; i++) {
		clamped += x[i] < -1 || x[i] > 1;
		codes[i] = (uint16_t)mulaw_encode1(q, x[i]);
	}
	return clamped;
}

int mulaw_decode_u8(const mulaw_quantiser *q, const uint8_t *codes, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++) {
		if (codes[i] >= q->levels)
			return sh_error("code %d at index %zu is not below %d levels", codes[i], i, q->levels);
		out[i] = q->table[codes[i]];
	}
	return 0;
}

int mulaw_decode_u16(const mulaw_quantiser *q, const uint16_t *codes, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++) {
		if (codes[i] >= q->levels)
			return sh_error("code %d at index %zu is not below %d levels", codes[i], i, q->levels);
		out[i] = q->table[codes[i]];
	}
	return 0;
}
