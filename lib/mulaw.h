/* mulaw.h: quantisation of audio in [-1, 1] to integer codes 0..LEVELS-1 and back, in the
 * three conventions the project meets (docs/mulaw.md has the formulas and test vectors):
 *
 *   MULAW_WAVENET   mu-law with mu = LEVELS-1 and rounding (WaveNet / PRiSM; our default):
 *                   y = sign(x)·ln(1+mu|x|)/ln(1+mu), q = floor((y+1)/2·mu + 0.5);
 *                   decode y = 2q/mu - 1, x = sign(y)·((1+mu)^|y| - 1)/mu.
 *                   Every code round-trips exactly.
 *   MULAW_DADABOTS  the dadabots SampleRNN variant: same companding, q = floor((y+1)/2·mu);
 *                   decode y = 2q/LEVELS - 1 (q/128 - 1 for 256 levels), same expansion.
 *                   encode(0) = 127 for 256 levels, decode(255) ≈ 0.957.
 *   MULAW_LINEAR    uniform levels: q = floor((x+1)/2·(LEVELS-1) + 0.5), x = 2q/(LEVELS-1) - 1.
 *                   Every code round-trips exactly.
 *
 * Input is clamped to [-1, 1] first (callers count and report clamping); it must be finite.
 * LEVELS is 2..65536. Encoding computes in double; decoding reads a table built once. */
#ifndef SHARKS_MULAW_H
#define SHARKS_MULAW_H

#include <stddef.h>
#include <stdint.h>

typedef enum { MULAW_WAVENET, MULAW_DADABOTS, MULAW_LINEAR } mulaw_mode;

#define MULAW_MAX_LEVELS 65536

typedef struct {
	mulaw_mode mode;
	int levels;
	double mu; /* levels - 1 */
	double inv_log1p_mu;
	float *table; /* (levels,) decoded value of every code */
} mulaw_quantiser;

/* Name of a mode as the docs and messages write it ("mu-law", "dadabots mu-law", "linear"). */
const char *mulaw_mode_name(mulaw_mode mode);

/* Builds the decode table; -1 with an error for levels outside 2..65536. */
int mulaw_init(mulaw_quantiser *q, mulaw_mode mode, int levels);
void mulaw_free(mulaw_quantiser *q);

/* The code of one value (clamped to [-1, 1]; x must not be NaN). */
int mulaw_encode1(const mulaw_quantiser *q, double x);
/* The value at the centre of a code (code must be < levels). */
double mulaw_decode1(const mulaw_quantiser *q, int code);

/* Encodes n finite samples into codes of one byte (levels <= 256) or two (uint16_t).
 * Returns the number of samples outside [-1, 1] that were clamped. */
size_t mulaw_encode_u8(const mulaw_quantiser *q, const float *x, size_t n, uint8_t *codes);
size_t mulaw_encode_u16(const mulaw_quantiser *q, const float *x, size_t n, uint16_t *codes);

/* Decodes n codes. Returns 0, or -1 with an error naming the index of the first code that is
 * >= levels (nothing useful is left in out then). */
int mulaw_decode_u8(const mulaw_quantiser *q, const uint8_t *codes, size_t n, float *out);
int mulaw_decode_u16(const mulaw_quantiser *q, const uint16_t *codes, size_t n, float *out);

#endif
