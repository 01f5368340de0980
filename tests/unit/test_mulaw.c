/* test_mulaw.c: the three quantisers of lib/mulaw.c against the test vectors of REFERENCE.md
 * ("Quantisation"), exact round trips of every code, round-trip error bounds on a dense grid,
 * clamping, non-finite detection and out-of-range codes. */
#include "mulaw.h"
#include "tap.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const int level_set[] = {2, 3, 16, 255, 256, 257, 1024, 4096, 65536};

static double compand(double x, double mu) /* y(x) of mu-law */ { return copysign(log1p(mu * fabs(x)) / log1p(mu), x); }

static void test_vectors(void)
{
	mulaw_quantiser q;
	static const double xs[] = {-1, 1, 0.6, -0.25, 0.01, 0};
	static const int want_wavenet[] = {0, 255, 243, 32, 157, 128};
	mulaw_init(&q, MULAW_WAVENET, 256);
	int good = 1;
	for (size_t i = 0; i < SH_ARRAY_LEN(xs); i++) {
		int c = mulaw_encode1(&q, xs[i]);
		if (c != want_wavenet[i]) {
			tap_diag("mu-law encode(%g) = %d, want %d", xs[i], c, want_wavenet[i]);
			good = 0;
		}
	}
	tap_ok(good, "mu-law 256: -1, 1, 0.6, -0.25, 0.01, 0 -> 0, 255, 243, 32, 157, 128");
	float f[6] = {-1, 1, 0.6f, -0.25f, 0.01f, 0};
	uint8_t c8[6];
	mulaw_encode_u8(&q, f, 6, c8);
	good = 1;
	for (int i = 0; i < 6; i++)
		good &= c8[i] == want_wavenet[i];
	tap_ok(good, "mu-law 256: the same vectors from float32 through mulaw_encode_u8");
	tap_ok(q.table[128] > 0 && q.table[127] < 0 && fabs(q.table[128] + q.table[127]) < 1e-9,
	       "mu-law 256: codes 127 and 128 decode symmetrically around 0 (%g, %g)", q.table[127], q.table[128]);
	tap_ok(q.table[0] == -1.0f && q.table[255] == 1.0f, "mu-law 256: codes 0 and 255 decode to -1 and 1");
	mulaw_free(&q);

	mulaw_init(&q, MULAW_WAVENET, 65536);
	tap_ok(mulaw_encode1(&q, -1) == 0 && mulaw_encode1(&q, 0) == 32768 && mulaw_encode1(&q, 1) == 65535,
	       "mu-law 65536: -1, 0, 1 -> 0, 32768, 65535");
	mulaw_free(&q);

	mulaw_init(&q, MULAW_DADABOTS, 256);
	tap_ok(mulaw_encode1(&q, 0) == 127, "dadabots 256: encode(0) = 127 (got %d)", mulaw_encode1(&q, 0));
	tap_ok(mulaw_encode1(&q, -1) == 0 && mulaw_encode1(&q, 1) == 255,
	       "dadabots 256: encode(-1) = 0, encode(1) = 255");
	tap_ok(fabs(q.table[255] - 0.957) < 1e-3, "dadabots 256: decode(255) = %.6f ~ 0.957", q.table[255]);
	tap_ok(q.table[128] == 0.0f && q.table[0] == -1.0f, "dadabots 256: decode(128) = 0, decode(0) = -1");
	tap_ok(mulaw_encode1(&q, 0.6) == 243 && mulaw_encode1(&q, -0.25) == 31 && mulaw_encode1(&q, 0.01) == 156,
	       "dadabots 256: 0.6, -0.25, 0.01 -> 243, 31, 156 (floor: two of them one below mu-law's)");
	int roundtrip = 0, one_below = 0;
	for (int c = 0; c < 256; c++) {
		roundtrip += mulaw_encode1(&q, q.table[c]) == c;
		one_below += c > 0 && mulaw_encode1(&q, q.table[c]) == c - 1;
	}
	tap_ok(roundtrip == 1 && mulaw_encode1(&q, q.table[0]) == 0,
	       "dadabots 256: only code 0 of 256 round-trips (%d do)", roundtrip);
	tap_ok(one_below == 255, "dadabots 256: every other code comes back one lower (%d do)", one_below);
	mulaw_free(&q);

	mulaw_init(&q, MULAW_LINEAR, 256);
	tap_ok(mulaw_encode1(&q, -1) == 0 && mulaw_encode1(&q, 1) == 255 && mulaw_encode1(&q, 0) == 128 &&
		       mulaw_encode1(&q, 0.5) == 191 && mulaw_encode1(&q, -0.5) == 64,
	       "linear 256: -1, 1, 0, 0.5, -0.5 -> 0, 255, 128, 191, 64");
	tap_ok(q.table[0] == -1.0f && q.table[255] == 1.0f && fabs(q.table[128] - 1.0 / 255) < 1e-7,
	       "linear 256: decode 0, 255, 128 -> -1, 1, 1/255");
	mulaw_free(&q);
}

/* Every code decodes (through the float32 table) to a value that encodes back to it, through
 * both the one-byte and two-byte paths; the table equals the double-precision decoder. */
static void test_code_round_trips(void)
{
	static const mulaw_mode modes[] = {MULAW_WAVENET, MULAW_LINEAR};
	uint16_t *c16 = malloc(65536 * sizeof *c16);
	uint8_t c8[256];
	float *back = malloc(65536 * sizeof *back);
	for (size_t m = 0; m < 2; m++)
		for (size_t l = 0; l < SH_ARRAY_LEN(level_set); l++) {
			mulaw_quantiser q;
			int L = level_set[l];
			mulaw_init(&q, modes[m], L);
			int bad = 0, table_ok = 1, increasing = 1;
			mulaw_encode_u16(&q, q.table, L, c16);
			for (int c = 0; c < L; c++) {
				bad += c16[c] != c;
				table_ok &= q.table[c] == (float)mulaw_decode1(&q, c);
				increasing &= c == 0 || q.table[c] > q.table[c - 1];
			}
			if (L <= 256) {
				mulaw_encode_u8(&q, q.table, L, c8);
				for (int c = 0; c < L; c++)
					bad += c8[c] != c;
			}
			tap_ok(!bad, "%s %d: every code round-trips exactly (%d do not)", mulaw_mode_name(modes[m]), L,
			       bad);
			tap_ok(table_ok && increasing, "%s %d: decode table equals the double decoder and increases",
			       mulaw_mode_name(modes[m]), L);
			/* and decoding the codes with the u16 path gives the table back */
			for (int c = 0; c < L; c++)
				c16[c] = (uint16_t)c;
			mulaw_decode_u16(&q, c16, L, back);
			tap_ok(!memcmp(back, q.table, L * sizeof *back), "%s %d: mulaw_decode_u16 reads the table",
			       mulaw_mode_name(modes[m]), L);
			mulaw_free(&q);
		}
	free(c16);
	free(back);
}

/* decode(encode(x)) stays within half a step of x in the companded domain (mu-law), within half
 * a step (linear), and for dadabots lies below by between (y+1)/Q and (y+3)/Q in the companded
 * domain (floor on encode, a grid of 2/Q on decode). Checked on a dense grid including the ends. */
static void test_error_bounds(void)
{
	enum { GRID = 400001 };
	float *x = malloc(GRID * sizeof *x);
	uint16_t *c = malloc(GRID * sizeof *c);
	for (int i = 0; i < GRID; i++)
		x[i] = (float)(-1.0 + 2.0 * i / (GRID - 1));
	static const int lv[] = {2, 16, 256, 1024, 65536};
	for (size_t l = 0; l < SH_ARRAY_LEN(lv); l++) {
		int L = lv[l];
		double mu = L - 1;
		for (int m = 0; m < 3; m++) {
			mulaw_quantiser q;
			mulaw_init(&q, (mulaw_mode)m, L);
			mulaw_encode_u16(&q, x, GRID, c);
			double worst = 0, worst_x = 0;
			int bad = 0, monotone = 1;
			for (int i = 0; i < GRID; i++) {
				double xi = x[i], xo = q.table[c[i]];
				monotone &= i == 0 || c[i] >= c[i - 1];
				if (m == MULAW_LINEAR) {
					double e = fabs(xo - xi);
					bad += e > 1 / mu + 1e-6;
					if (e > worst)
						worst = e, worst_x = xi;
				} else if (m == MULAW_WAVENET) {
					double e = fabs(compand(xo, mu) - compand(xi, mu));
					bad += e > 1 / mu + 1e-6;
					/* in the signal domain: half a step times the steepest slope of the expansion */
					bad += fabs(xo - xi) > (1 + mu) * log1p(mu) / (mu * mu) * (1 + 1e-6) + 1e-7;
					if (e > worst)
						worst = e, worst_x = xi;
				} else {
					double d = compand(xi, mu) - compand(xo, mu), y = compand(xi, mu);
					bad += d < (y + 1) / L - 1e-6 || d > (y + 3) / L + 1e-6;
					if (d > worst)
						worst = d, worst_x = xi;
				}
			}
			tap_ok(!bad && monotone,
			       "%s %d: round-trip error within bound on %d points (worst %.3g at %.6f%s)",
			       mulaw_mode_name(m), L, GRID, worst, worst_x, monotone ? "" : ", NOT monotone");
			mulaw_free(&q);
		}
	}
	free(x);
	free(c);

	/* mu-law keeps small signals finer than linear: the point of companding */
	mulaw_quantiser mq, lq;
	mulaw_init(&mq, MULAW_WAVENET, 256);
	mulaw_init(&lq, MULAW_LINEAR, 256);
	double em = 0, el = 0;
	for (int i = 1; i <= 1000; i++) {
		double xi = 0.01 * i / 1000;
		em = fmax(em, fabs(mq.table[mulaw_encode1(&mq, xi)] - xi));
		el = fmax(el, fabs(lq.table[mulaw_encode1(&lq, xi)] - xi));
	}
	tap_ok(em < el / 10, "256 levels, |x| <= 0.01: mu-law error %.2g is under a tenth of linear's %.2g", em, el);
	mulaw_free(&mq);
	mulaw_free(&lq);
}

/* The decision boundaries sit where the formulas put them: for mu-law halfway between two
 * codes' centres in the companded domain, for linear halfway in the signal domain, for
 * dadabots at the code's own grid point (floor). A value a thousandth of a step below a
 * boundary takes the lower code, one above it the upper. */
static void test_boundaries(void)
{
	static const int lv[] = {16, 256, 1024};
	for (size_t l = 0; l < SH_ARRAY_LEN(lv); l++)
		for (int m = 0; m < 3; m++) {
			mulaw_quantiser q;
			int L = lv[l], bad = 0;
			double mu = L - 1;
			mulaw_init(&q, (mulaw_mode)m, L);
			for (int c = 0; c + 1 < L; c++) {
				double yb = m == MULAW_DADABOTS ? 2.0 * (c + 1) / mu - 1 : (2.0 * c + 1) / mu - 1;
				double xb = m == MULAW_LINEAR ? yb : copysign(expm1(fabs(yb) * log1p(mu)) / mu, yb);
				double step = mulaw_decode1(&q, c + 1) - mulaw_decode1(&q, c);
				bad += mulaw_encode1(&q, xb - 1e-3 * step) != c;
				bad += mulaw_encode1(&q, xb + 1e-3 * step) != c + 1;
			}
			tap_ok(!bad, "%s %d: every decision boundary where the formula puts it (%d wrong)",
			       mulaw_mode_name(m), L, bad);
			mulaw_free(&q);
		}
}

static void test_clamp_nonfinite_and_errors(void)
{
	mulaw_quantiser q;
	mulaw_init(&q, MULAW_WAVENET, 256);
	float x[6] = {2.0f, -3.0f, 1.0f, -1.0f, 0.5f, 1.0000001f};
	uint8_t c[6];
	size_t clamped = mulaw_encode_u8(&q, x, 6, c);
	tap_ok(clamped == 3 && c[0] == 255 && c[1] == 0 && c[5] == 255,
	       "values outside [-1, 1] are clamped to the end codes and counted (%zu)", clamped);

	mulaw_free(&q);
	mulaw_init(&q, MULAW_WAVENET, 200);
	uint8_t codes[4] = {0, 199, 200, 3};
	float out[4];
	int rc = mulaw_decode_u8(&q, codes, 4, out);
	tap_ok(rc == -1 && strstr(sh_errmsg(), "code 200 at index 2"), "code >= levels is refused naming it: %s",
	       sh_errmsg());
	uint16_t codes16[3] = {5, 65535, 0};
	rc = mulaw_decode_u16(&q, codes16, 3, out);
	tap_ok(rc == -1 && strstr(sh_errmsg(), "index 1"), "u16 code >= levels refused: %s", sh_errmsg());
	mulaw_free(&q);

	tap_ok(mulaw_init(&q, MULAW_WAVENET, 1) == -1 && mulaw_init(&q, MULAW_LINEAR, 65537) == -1,
	       "levels outside 2..65536 refused: %s", sh_errmsg());
}

int main(void)
{
	test_vectors();
	test_code_round_trips();
	test_error_bounds();
	test_boundaries();
	test_clamp_nonfinite_and_errors();
	return tap_done();
}
