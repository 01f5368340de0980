/* fastmath.h: expf and tanhf as arithmetic only, so that the loops over them vectorise (the
 * gates of LSTM, GRU and WaveNet). Shared by nn_real.c, wavenet_real.c and wavenet_sample.c. */
#ifndef SHARKS_FASTMATH_H
#define SHARKS_FASTMATH_H

#include <stdint.h>

/* x = n·ln2 + r, |r| ≤ ln2/2: e^r by the Cephes expf polynomial (about 1 ulp), 2^n built in the
 * exponent bits. The shift is done unsigned, so that a NaN input (a diverging run) is not
 * undefined behaviour: it comes out NaN. */
static inline float exp_fast(float x)
{
	x = x < -87.0f ? -87.0f : x;
	x = x > 88.0f ? 88.0f : x;
	union {
		float f;
		int32_t i;
	} t, p2;
	t.f = x * 1.44269504088896341f + 12582912.0f; /* 1.5·2^23: rounds to an integer */
	float n = t.f - 12582912.0f;
	p2.i = (int32_t)((uint32_t)(t.i - 0x4B400000 + 127) << 23);
	float r = x - n * 0.693359375f + n * 2.12194440e-4f;
	float y = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
		   1.6666665459e-1f) *
			  r +
		  5.0000001201e-1f;
	return (y * r * r + r + 1) * p2.f;
}

/* tanh x = 2/(1 + e^-2x) - 1: absolute error about 1e-7 (relative error grows near 0, where
 * it does not matter for the gates) */
static inline float tanh_fast(float x) { return 2 / (1 + exp_fast(-2 * x)) - 1; }

#endif
