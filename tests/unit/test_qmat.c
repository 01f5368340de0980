/* test_qmat.c: packed weight matrices (lib/qmat.c): half conversion against its definition and
 * against F16C, packing of each type within its quantisation step, the AVX2 kernels equal to
 * the plain kernel to the bit (odd sizes, 1…16 streams, row ranges, strides, bias,
 * accumulation), results independent of the number of streams and threads, every type
 * against a double-precision product within a bound derived from its rounding, bad input. */
#include "tap.h"
#include "qmat.h"
#include "rng.h"
#include "util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
__attribute__((target("f16c"))) static uint16_t f16c_from(float f)
{
	return (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set1_ps(f), _MM_FROUND_TO_NEAREST_INT), 0);
}
__attribute__((target("f16c"))) static float f16c_to(uint16_t h)
{
	return _mm_cvtss_f32(_mm_cvtph_ps(_mm_set1_epi16((short)h)));
}
#endif

static uint32_t bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}
static float from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static void fill(float *a, size_t n, float lo, float hi, sh_rng *rng)
{
	for (size_t i = 0; i < n; i++)
		a[i] = lo + (hi - lo) * sh_rng_uniformf(rng);
}

static void test_half(void)
{
	/* half → float by the definition: (-1)^s · 2^(e-15) · (1 + m/1024), or 2^-14 · m/1024 */
	int bad = 0, rt_bad = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		int e = (h >> 10) & 31, mant = h & 1023;
		double v = e == 0 ? ldexp(mant / 1024.0, -14) : ldexp(1 + mant / 1024.0, e - 15);
		v = h & 0x8000 ? -v : v;
		float got = qmat_half_to_float((uint16_t)h);
		if (e == 31)
			bad += mant ? !isnan(got) : got != (h & 0x8000 ? -INFINITY : INFINITY);
		else
			bad += got != (float)v || !!signbit(got) != !!(h & 0x8000);
		if (e < 31 || mant == 0)
			rt_bad += qmat_half_from_float(got) != h;
	}
	tap_ok(bad == 0, "half → float matches the definition for all 65536 halves (%d wrong)", bad);
	tap_ok(rt_bad == 0, "float → half → float round-trips every finite half and ±inf (%d wrong)", rt_bad);

	struct {
		float f;
		uint16_t h;
	} cases[] = {
		{1.0f, 0x3c00},
		{-2.0f, 0xc000},
		{65504.0f, 0x7bff},
		{1 + 0x1p-11f, 0x3c00},            /* tie, to even (down) */
		{1 + 3 * 0x1p-11f, 0x3c02},        /* tie, to even (up) */
		{1 + 0x1p-11f + 0x1p-20f, 0x3c01}, /* just above the tie */
		{65519.99f, 0x7bff},
		{65520.0f, 0x7c00},
		{-1e9f, 0xfc00},
		{0x1p-24f, 0x0001},
		{0x1p-25f, 0x0000},     /* subnormal tie to even: 0 */
		{3 * 0x1p-25f, 0x0002}, /* 1.5 units: tie to even: 2 */
		{0x1p-25f + 0x1p-40f, 0x0001},
		{0x1p-14f, 0x0400},
		{0x1p-14f - 0x1p-25f, 0x0400},
		{-0.0f, 0x8000},
		{1e-10f, 0x0000},
	};
	int cbad = 0;
	for (size_t k = 0; k < SH_ARRAY_LEN(cases); k++)
		if (qmat_half_from_float(cases[k].f) != cases[k].h) {
			cbad++;
			tap_diag("half(%a) = %04x, want %04x", cases[k].f, qmat_half_from_float(cases[k].f),
				 cases[k].h);
		}
	tap_ok(cbad == 0, "float → half rounds to nearest even, overflows to inf, handles subnormals");
#ifdef HAVE_X86
	if (__builtin_cpu_supports("f16c")) {
		sh_rng rng;
		sh_rng_seed(&rng, 11);
		int diff = 0;
		for (long k = 0; k < 1000000; k++) {
			/* random bit patterns over the whole range, and over the range of halves */
			uint32_t u = (uint32_t)(sh_rng_next(&rng) >> 32);
			if (k & 1)
				u = (u & 0x807fffff) | (uint32_t)(100 + (u >> 23) % 50) << 23;
			float f = from_bits(u);
			uint16_t a = qmat_half_from_float(f), b = f16c_from(f);
			diff += isnan(f) ? (a & 0x7e00) != 0x7e00 : a != b;
		}
		tap_ok(diff == 0, "float → half equals F16C on 1M random floats (%d differ)", diff);
		int d2 = 0;
		for (uint32_t h = 0; h < 65536; h++) {
			float a = qmat_half_to_float((uint16_t)h), b = f16c_to((uint16_t)h);
			d2 += isnan(a) ? !isnan(b) : bits(a) != bits(b);
		}
		tap_ok(d2 == 0, "half → float equals F16C for every half");
	} else {
		tap_skip("no F16C on this CPU: nothing to compare the float → half conversion with");
		tap_skip("no F16C on this CPU: nothing to compare the half → float conversion with");
	}
#endif
}

#define NTYPES 4
static int scaled(int t) { return t == QMAT_I8 || t == QMAT_Q8; }

static void test_pack(void)
{
	sh_rng rng;
	sh_rng_seed(&rng, 5);
	const int R = 77, C = 45, LD = 50;
	float *w = malloc(sizeof(float) * R * LD), *u = malloc(sizeof(float) * R * C);
	fill(w, (size_t)R * LD, -2, 2, &rng);
	for (int c = 0; c < C; c++)
		w[3 * LD + c] = 0;                    /* a row of zeros */
	w[5 * LD + 7] = 1e-6f, w[5 * LD + 8] = 3e-8f; /* f16 subnormals */
	for (int t = 0; t < NTYPES; t++) {
		qmat *m = qmat_pack(w, R, C, LD, (qmat_type)t);
		if (!tap_ok(m != NULL, "pack %s %d×%d", qmat_type_name(t), R, C))
			continue;
		qmat_unpack(m, u, C);
		int bad = 0;
		double worst = 0;
		for (int r = 0; r < R; r++) {
			float mx = 0;
			for (int c = 0; c < C; c++)
				mx = fmaxf(mx, fabsf(w[r * LD + c]));
			for (int c = 0; c < C; c++) {
				float v = w[r * LD + c], q = u[r * C + c];
				bad += q != qmat_get(m, r, c);
				if (t == QMAT_F32)
					bad += bits(q) != bits(v);
				else if (t == QMAT_F16)
					bad += q != qmat_half_to_float(qmat_half_from_float(v));
				else {
					/* nearest multiple of the scale: within half a step */
					float sc = m->scale[r];
					bad += sc != mx / 127;
					double e = fabs((double)v - (double)q) / (sc > 0 ? sc : 1);
					worst = fmax(worst, e);
					bad += e > 0.5 + 1e-6;
					if (fabsf(v) == mx && sc > 0)
						bad += fabsf(fabsf(q) / sc - 127) > 1e-4f;
				}
			}
		}
		tap_ok(bad == 0, "%s: stored weights are the rounded weights (%d wrong%s)", qmat_type_name(t), bad,
		       scaled(t) ? ", within half a step" : "");
		if (scaled(t))
			tap_ok(worst > 0.45, "%s: rounding errors reach nearly half a step (%.3f)", qmat_type_name(t),
			       worst);
		size_t groups = (R + 7) / 8, cols = t == QMAT_Q8 ? (C + 3) / 4 * 4 : C;
		size_t want = groups * 8 * cols *
				      (t == QMAT_F32   ? 4
				       : t == QMAT_F16 ? 2
						       : 1) +
			      (scaled(t) ? groups * 8 * 4 : 0);
		tap_ok(m->weight_bytes == want, "%s: %zu bytes of weights (rows padded to 8, q8 columns to 4)",
		       qmat_type_name(t), m->weight_bytes);
		qmat_free(m);
	}
	free(w);
	free(u);

	/* the error figures on a matrix worked by hand: i8 row [127, 0.5, -0.5, 1.6] has scale 1,
	 * stores [127, 0, -0, 2]: errors 0, 0.5, 0.5, 0.4 (ties to even) */
	float h[2 * 4] = {127, 0.5f, -0.5f, 1.6f, 0, 0, 0, 0};
	qmat *m = qmat_pack(h, 2, 4, 4, QMAT_I8);
	qmat_err e = qmat_error(m, h, 4);
	double d = sqrt(0.25 + 0.25 + 0.4 * 0.4), n = sqrt(127.0 * 127 + 0.25 + 0.25 + 1.6 * 1.6);
	tap_ok(fabs(e.max_abs - 0.5) < 1e-7 && fabs(e.max_row_rel - d / n) < 1e-7 && fabs(e.rel - d / n) < 1e-7,
	       "qmat_error: max_abs %g, max_row_rel %g, rel %g (want 0.5, %g, %g)", e.max_abs, e.max_row_rel, e.rel,
	       d / n, d / n);
	qmat_free(m);
	m = qmat_pack(h, 2, 4, 4, QMAT_F32);
	e = qmat_error(m, h, 4);
	tap_ok(e.max_abs == 0 && e.max_row_rel == 0 && e.rel == 0, "qmat_error: f32 is exact");
	qmat_free(m);
}

/* y for every (type, size, nb, flags) by the dispatched kernel and the plain one: same bits */
static void test_simd_equals_plain(void)
{
	if (!qmat_simd())
		tap_diag("no AVX2 + FMA + F16C here: qmat_apply runs the plain kernel itself");
	/* 16, 32, 48 and 64 rows: each width of the one-stream path for small matrices */
	const int sizes[][2] = {{1, 1},   {7, 5},   {8, 8},   {9, 33},    {16, 3},    {32, 32}, {48, 20},
				{63, 17}, {64, 64}, {65, 31}, {130, 100}, {150, 129}, {300, 40}};
	sh_rng rng;
	sh_rng_seed(&rng, 9);
	for (int t = 0; t < NTYPES; t++) {
		long cases = 0, bad = 0;
		for (size_t k = 0; k < SH_ARRAY_LEN(sizes); k++) {
			const int R = sizes[k][0], C = sizes[k][1], ldx = C + 3, ldy = R + 5;
			float *w = malloc(sizeof(float) * R * C), *x = malloc(sizeof(float) * 16 * ldx),
			      *bias = malloc(sizeof(float) * R), *y0 = malloc(sizeof(float) * 16 * ldy),
			      *y1 = malloc(sizeof(float) * 16 * ldy);
			fill(w, (size_t)R * C, -1, 1, &rng);
			fill(x, (size_t)16 * ldx, -3, 3, &rng);
			fill(bias, R, -1, 1, &rng);
			qmat *m = qmat_pack(w, R, C, C, (qmat_type)t);
			for (int nb = 1; nb <= 16; nb++)
				for (int flags = 0; flags < 4; flags++) {
					const float *b = flags & 1 ? bias : NULL;
					int acc = flags >> 1;
					/* whole range, then a random range */
					for (int rr = 0; rr < 2; rr++) {
						int r0 = 0, r1 = R;
						if (rr) {
							r0 = (int)(sh_rng_next(&rng) % (uint64_t)R);
							r1 = r0 + 1 + (int)(sh_rng_next(&rng) % (uint64_t)(R - r0));
						}
						fill(y0, (size_t)16 * ldy, -1, 1, &rng);
						memcpy(y1, y0, sizeof(float) * 16 * ldy);
						qmat_apply(m, y0, ldy, x, ldx, b, nb, r0, r1, acc);
						qmat_apply_ref(m, y1, ldy, x, ldx, b, nb, r0, r1, acc);
						cases++;
						/* everything compared, also what must be left alone */
						bad += memcmp(y0, y1, sizeof(float) * 16 * ldy) != 0;
					}
				}
			qmat_free(m);
			free(w), free(x), free(bias), free(y0), free(y1);
		}
		tap_ok(bad == 0, "%s: SIMD kernel == plain kernel, bit for bit (%ld of %ld cases differ)",
		       qmat_type_name(t), bad, cases);
	}
}

/* stream b's result alone (nb = 1) equals its result among 16; the threaded call equals the
 * single-threaded one for 1, 2 and 3 threads */
static void test_independence(void)
{
	const int R = 333, C = 801, NB = 16; /* R·C above the size that splits */
	sh_rng rng;
	sh_rng_seed(&rng, 13);
	float *w = malloc(sizeof(float) * R * C), *x = malloc(sizeof(float) * NB * C),
	      *bias = malloc(sizeof(float) * R), *y16 = malloc(sizeof(float) * NB * R),
	      *y1 = malloc(sizeof(float) * NB * R), *yp = malloc(sizeof(float) * NB * R);
	fill(w, (size_t)R * C, -1, 1, &rng);
	fill(x, (size_t)NB * C, -1, 1, &rng);
	fill(bias, R, -1, 1, &rng);
	for (int t = 0; t < NTYPES; t++) {
		qmat *m = qmat_pack(w, R, C, C, (qmat_type)t);
		qmat_apply(m, y16, R, x, C, bias, NB, 0, R, 0);
		for (int b = 0; b < NB; b++)
			qmat_apply(m, y1 + (size_t)b * R, R, x + (size_t)b * C, C, bias, 1, 0, R, 0);
		tap_ok(!memcmp(y16, y1, sizeof(float) * NB * R),
		       "%s: each stream's result is the same with 1 or 16 streams", qmat_type_name(t));
		int same = 1;
		for (int nb = 1; nb <= NB; nb += 7) {
			for (int nt = 1; nt <= 3; nt++) {
#ifdef _OPENMP
				omp_set_num_threads(nt);
#endif
				memset(yp, 0, sizeof(float) * NB * R);
				qmat_apply_par(m, yp, R, x, C, bias, nb, 0);
				same &= !memcmp(yp, y16, sizeof(float) * nb * R);
			}
		}
		tap_ok(same, "%s: threaded product == one thread, for 1, 2, 3 threads", qmat_type_name(t));
		/* the parts cover the rows once, on panel boundaries */
		int cover = 1, next = 0;
		for (int p = 0; p < 5; p++) {
			int r0, r1;
			qmat_part(m, p, 5, &r0, &r1);
			cover &= r0 == next && r1 >= r0 && (r0 % QMAT_PANEL == 0 || r0 == R);
			next = r1;
		}
		tap_ok(cover && next == R, "%s: qmat_part splits the rows on panels", qmat_type_name(t));
		qmat_free(m);
	}
#ifdef _OPENMP
	omp_set_num_threads(2);
#endif
	free(w), free(x), free(bias), free(y16), free(y1), free(yp);
}

/* every type against the double-precision product of the ORIGINAL weights, within
 *   Σ_c δ_c |x_c| + γ_{C+2} (Σ_c |ŵ_c x_c| + |b|),   γ_n = n u / (1 - n u), u = 2^-24,
 * δ_c the bound on |w_c - ŵ_c|: 0 (f32), 2^-11 |w_c| + 2^-25 (f16: half an ulp, relative for
 * normal halves, absolute below 2^-14), scale/2 (i8, q8); the rounding of C fused multiply-adds
 * and of the bias (and of the i8 scale, one more) is inside γ_{C+2}. q8 also rounds x to a
 * multiple of sx = max |x| / 127: + Σ_c |ŵ_c|·sx/2 (its integer sum is exact; the conversion,
 * k = scale·sx and the fma are inside γ). The measured error must also reach a fair part of
 * the quantisation term, or the quantisation did not happen. */
static void test_accuracy(void)
{
	const int R = 150, C = 700, NB = 3;
	sh_rng rng;
	sh_rng_seed(&rng, 21);
	float *w = malloc(sizeof(float) * R * C), *x = malloc(sizeof(float) * NB * C),
	      *bias = malloc(sizeof(float) * R), *y = malloc(sizeof(float) * NB * R);
	fill(w, (size_t)R * C, -0.2f, 0.2f, &rng);
	for (int c = 0; c < C; c += 3)
		w[c] *= 1e-5f; /* row 0: tiny weights, subnormal in f16 */
	fill(x, (size_t)NB * C, -1, 1, &rng);
	fill(bias, R, -1, 1, &rng);
	const double u = 0x1p-24, gamma = (C + 2) * u / (1 - (C + 2) * u);
	for (int t = 0; t < NTYPES; t++) {
		qmat *m = qmat_pack(w, R, C, C, (qmat_type)t);
		qmat_apply(m, y, R, x, C, bias, NB, 0, R, 0);
		double worst = 0, qsum = 0;
		int bad = 0;
		for (int b = 0; b < NB; b++) {
			float sx = 0;
			for (int c = 0; c < C; c++)
				sx = fmaxf(sx, fabsf(x[b * C + c]));
			sx /= 127;
			for (int r = 0; r < R; r++) {
				double exact = bias[r], qerr = 0, mag = fabs(bias[r]);
				for (int c = 0; c < C; c++) {
					double wv = w[r * C + c], xv = x[b * C + c];
					double d = t == QMAT_F32   ? 0
						   : t == QMAT_F16 ? 0x1p-11 * fabs(wv) + 0x1p-25
								   : m->scale[r] / 2;
					exact += wv * xv;
					qerr += d * fabs(xv);
					if (t == QMAT_Q8)
						qerr += fabs((double)qmat_get(m, r, c)) * sx / 2;
					mag += fabs((double)qmat_get(m, r, c)) *
					       (fabs(xv) + (t == QMAT_Q8 ? sx / 2 : 0));
				}
				double bound = qerr + gamma * mag;
				double err = fabs(y[b * R + r] - exact);
				bad += !(err <= bound);
				worst = fmax(worst, err / bound);
				qsum += qerr;
			}
		}
		tap_ok(bad == 0, "%s: within the derived bound of the exact product (worst at %.3f of it)",
		       qmat_type_name(t), worst);
		if (t != QMAT_F32)
			tap_ok(worst > 0.02, "%s: the error is of the order of the quantisation (%.3f of the bound)",
			       qmat_type_name(t), worst);
		qmat_err e = qmat_error(m, w, C);
		tap_diag("%s: packing error max_abs %.3g, max_row_rel %.3g, rel %.3g", qmat_type_name(t), e.max_abs,
			 e.max_row_rel, e.rel);
		if (t == QMAT_F16)
			tap_ok(e.rel <= 0x1p-11 && e.max_row_rel <= 0x1p-11, "f16: relative error ≤ 2^-11");
		if (scaled(t))
			tap_ok(e.rel > 1e-3 && e.rel < 0.01, "%s: relative error %.4f ≈ step/√12 / rms",
			       qmat_type_name(t), e.rel);
		qmat_free(m);
	}
	free(w), free(x), free(bias), free(y);
}

static void test_bad_input(void)
{
	float w[6] = {1, 2, 3, 4, 5, 6};
	tap_ok(!qmat_pack(w, 0, 3, 3, QMAT_F32) && strstr(sh_errmsg(), "0 × 3"), "0 rows refused: %s", sh_errmsg());
	tap_ok(!qmat_pack(w, 2, 3, 2, QMAT_F32), "row stride below cols refused: %s", sh_errmsg());
	w[4] = NAN;
	tap_ok(!qmat_pack(w, 2, 3, 3, QMAT_I8) && strstr(sh_errmsg(), "(1, 1)") && strstr(sh_errmsg(), "not finite"),
	       "NaN weight refused: %s", sh_errmsg());
	w[4] = 70000;
	tap_ok(!qmat_pack(w, 2, 3, 3, QMAT_F16) && strstr(sh_errmsg(), "f16"), "weight beyond half refused for f16: %s",
	       sh_errmsg());
	qmat *m = qmat_pack(w, 2, 3, 3, QMAT_I8);
	tap_ok(m && qmat_get(m, 1, 1) == 70000, "but fine for i8 (its largest weight is exact)");
	qmat_free(m);
	qmat_type t;
	tap_ok(qmat_type_parse("i8", &t) == 0 && t == QMAT_I8 && qmat_type_parse("f16", &t) == 0 && t == QMAT_F16 &&
		       qmat_type_parse("f32", &t) == 0 && t == QMAT_F32 && qmat_type_parse("q8", &t) == 0 &&
		       t == QMAT_Q8,
	       "type names parse");
	tap_ok(qmat_type_parse("int8", &t) < 0 && strstr(sh_errmsg(), "f32, f16, i8, q8"), "unknown type refused: %s",
	       sh_errmsg());
	float *wide = calloc(QMAT_Q8_MAX_COLS + 1, sizeof(float));
	tap_ok(!qmat_pack(wide, 1, QMAT_Q8_MAX_COLS + 1, QMAT_Q8_MAX_COLS + 1, QMAT_Q8),
	       "q8 wider than %d columns refused: %s", QMAT_Q8_MAX_COLS, sh_errmsg());
	free(wide);
}

/* q8's input rounding, by both kernels: ties to even, an input of zeros, a NaN or an infinity */
static void test_q8_input(void)
{
	/* weights 1 on columns 0-3 (ŵ = 127, scale 1/127); max |x| = 127, so x̂ = x rounded:
	 * 127, 0.5, 2.5, -1.5 → 127, 0, 2, -2 (to even: 127 in all; away from zero would give 129) */
	float w[40] = {1, 1, 1, 1}, x[40] = {127, 0.5f, 2.5f, -1.5f}, y0[2], y1[2], bias[2] = {0.25f, -0.5f};
	qmat *m = qmat_pack(w, 1, 40, 40, QMAT_Q8);
	qmat_apply(m, y0, 1, x, 40, NULL, 1, 0, 1, 0);
	qmat_apply_ref(m, y1, 1, x, 40, NULL, 1, 0, 1, 0);
	tap_ok(fabsf(y0[0] - 127) < 1e-3f && y0[0] == y1[0], "q8: inputs rounded to nearest even (%.6g, plain %.6g)",
	       y0[0], y1[0]);
	qmat_free(m);
	float w2[80];
	for (int k = 0; k < 80; k++)
		w2[k] = (float)(k % 7) - 3;
	m = qmat_pack(w2, 2, 40, 40, QMAT_Q8);
	memset(x, 0, sizeof x);
	qmat_apply(m, y0, 1, x, 40, bias, 1, 0, 2, 0);
	qmat_apply_ref(m, y1, 1, x, 40, bias, 1, 0, 2, 0);
	tap_ok(y0[0] == 0.25f && y0[1] == -0.5f && y1[0] == 0.25f && y1[1] == -0.5f,
	       "q8: an input of zeros gives the bias");
	for (int bad = 0; bad < 2; bad++) {
		for (int c = 0; c < 40; c++)
			x[c] = (float)c / 10;
		x[bad ? 3 : 37] = bad ? INFINITY : NAN;
		qmat_apply(m, y0, 1, x, 40, bias, 1, 0, 2, 0);
		qmat_apply_ref(m, y1, 1, x, 40, bias, 1, 0, 2, 0);
		tap_ok(isnan(y0[0]) && isnan(y0[1]) && isnan(y1[0]) && isnan(y1[1]),
		       "q8: an input holding %s gives NaN, as a float product would", bad ? "an infinity" : "a NaN");
	}
	qmat_free(m);
}

int main(void)
{
	test_half();
	test_pack();
	test_simd_equals_plain();
	test_independence();
	test_accuracy();
	test_q8_input();
	test_bad_input();
	return tap_done();
}
