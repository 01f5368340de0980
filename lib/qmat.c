/* qmat.c: packed weight matrices (f32, f16, i8 with a scale per row) and their products with
 * a few vectors, for generation (see qmat.h for the arithmetic, which every kernel follows to
 * the bit). A plain C kernel and AVX2 + FMA + F16C kernels chosen at run time; the build
 * itself targets baseline x86-64.
 *
 * The AVX2 kernels keep a tile of accumulators in registers: G groups of 8 rows × S streams
 * (G·S ≤ 8 vectors, so that 8 independent chains of FMAs hide their latency), and run the
 * whole of the columns for that tile: each weight vector is loaded (and converted) once for S
 * streams, each input broadcast once for G groups. Tiles run over whole strips (qmat.h), each
 * read as one contiguous stream of memory. */
#include "qmat.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define QMAT_X86 1
#include <immintrin.h>
#endif

/* The plain kernel is also built for x86-64-v3, where fmaf is one instruction (elsewhere it is
 * libm's, which is exact too). */
#define HOT SH_HOT

#ifndef QMAT_PREFETCH
#define QMAT_PREFETCH 2048 /* bytes ahead of the tile in each strip */
#endif
#define PAR_MIN                                                                                                        \
	(1 << 18) /* products of fewer multiply-adds stay on the calling thread
                          * (measured: 256×512 with one stream is slower on two threads) */

static const char *const type_names[] = {"f32", "f16", "i8", "q8"};
static const size_t type_size[] = {4, 2, 1, 1};
#define NTYPES 4
#define Q8_BLOCK 4 /* q8: columns to a block */

int qmat_type_parse(const char *name, qmat_type *type)
{
	for (int t = 0; t < NTYPES; t++)
		if (!strcmp(name, type_names[t])) {
			*type = (qmat_type)t;
			return 0;
		}
	return sh_error("unknown weight type '%s' (f32, f16, i8, q8)", name);
}

const char *qmat_type_name(qmat_type type) { return (unsigned)type < NTYPES ? type_names[type] : "?"; }

qmat_type qmat_float_input(qmat_type type) { return type == QMAT_Q8 ? QMAT_I8 : type; }

/* ---- IEEE half ---- */

uint16_t qmat_half_from_float(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	const uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
	const uint32_t ax = x & 0x7fffffff;
	if (ax > 0x7f800000) /* NaN: quiet, top of the payload kept (as F16C does) */
		return sign | 0x7e00 | (uint16_t)((ax >> 13) & 0x3ff);
	if (ax >= 0x477ff000) /* ≥ 65520 (halfway from the largest half, 65504, to 2^16) */
		return sign | 0x7c00;
	if (ax < 0x38800000) { /* below 2^-14: a multiple of 2^-24, rounded to nearest even */
		float a;
		memcpy(&a, &ax, 4);
		return sign | (uint16_t)nearbyintf(a * 0x1p24f);
	}
	/* rebias the exponent, then round 23 bits of mantissa to 10, to nearest even (a carry
	 * into the exponent is the right result) */
	uint32_t m = ax - ((uint32_t)(127 - 15) << 23);
	return sign | (uint16_t)((m + 0xfff + ((m >> 13) & 1)) >> 13);
}

float qmat_half_to_float(uint16_t h)
{
	const uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
	uint32_t x;
	if (e == 0) {
		float f = (float)m * 0x1p-24f; /* exact */
		memcpy(&x, &f, 4);
		x |= sign;
	} else if (e == 31) {
		x = sign | 0x7f800000 | m << 13;
	} else {
		x = sign | (e + 127 - 15) << 23 | m << 13;
	}
	float f;
	memcpy(&f, &x, 4);
	return f;
}

/* ---- packing ---- */

/* columns of a q8 matrix as stored (cols ≥ 1, checked when packed) */
static size_t q8_cols(int cols) { return ((size_t)(unsigned)cols + Q8_BLOCK - 1) / Q8_BLOCK * Q8_BLOCK; }

/* groups of 8 rows in the q8 panel that starts at row p0 */
static int q8_panel_groups(const qmat *m, int p0)
{
	return SH_MIN(QMAT_PANEL, (m->rows - p0 + QMAT_GROUP - 1) / QMAT_GROUP * QMAT_GROUP) / QMAT_GROUP;
}

/* index of weight (r, c) in the packed array: strip[c][group][lane]; q8: panel[block][group][lane][c % 4] */
static size_t packed_index(const qmat *m, int r, int c)
{
	if (m->type == QMAT_Q8) {
		const int p0 = r / QMAT_PANEL * QMAT_PANEL, in = r - p0;
		return (size_t)p0 * q8_cols(m->cols) +
		       (((size_t)(c / Q8_BLOCK) * q8_panel_groups(m, p0) + in / QMAT_GROUP) * QMAT_GROUP +
			in % QMAT_GROUP) *
			       Q8_BLOCK +
		       c % Q8_BLOCK;
	}
	const int st = r / QMAT_STRIP, in = r % QMAT_STRIP;
	const int srows = SH_MIN(QMAT_STRIP, m->rows - st * QMAT_STRIP);
	const int ng = (srows + QMAT_GROUP - 1) / QMAT_GROUP;
	return (size_t)st * QMAT_STRIP * m->cols + ((size_t)c * ng + in / QMAT_GROUP) * QMAT_GROUP + in % QMAT_GROUP;
}

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

qmat *qmat_pack(const float *w, int rows, int cols, int ldw, qmat_type type)
{
	if (rows < 1 || cols < 1 || ldw < cols || (unsigned)type >= NTYPES ||
	    (type == QMAT_Q8 && cols > QMAT_Q8_MAX_COLS)) {
		sh_error("cannot pack a %d × %d matrix (row stride %d) as %s%s", rows, cols, ldw, qmat_type_name(type),
			 type == QMAT_Q8 && cols > QMAT_Q8_MAX_COLS ? " (more columns than q8 takes)" : "");
		return NULL;
	}
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < cols; c++) {
			float v = w[(size_t)r * ldw + c];
			if (!isfinite(v) || (type == QMAT_F16 && fabsf(v) >= 65520.0f)) {
				sh_error("weight (%d, %d) = %g %s", r, c, v,
					 isfinite(v) ? "is beyond the range of f16" : "is not finite");
				return NULL;
			}
		}
	const size_t padded = (size_t)(rows + QMAT_GROUP - 1) / QMAT_GROUP * QMAT_GROUP;
	size_t nw;
	if (sh_mul_size(padded * type_size[type], type == QMAT_Q8 ? q8_cols(cols) : (size_t)cols, &nw) < 0)
		return NULL;
	const size_t head = round64(sizeof(qmat)), wbytes = round64(nw);
	const int scaled = type == QMAT_I8 || type == QMAT_Q8;
	const size_t sbytes = scaled ? round64(padded * sizeof(float)) : 0;
	if (head + wbytes + sbytes < wbytes) {
		sh_error("matrix %d × %d too large", rows, cols);
		return NULL;
	}
	char *block = aligned_alloc(64, head + wbytes + sbytes);
	if (!block) {
		sh_error("out of memory (%zu bytes)", head + wbytes + sbytes);
		return NULL;
	}
	memset(block, 0, head + wbytes + sbytes);
	qmat *m = (qmat *)block;
	m->type = type, m->rows = rows, m->cols = cols;
	m->w = block + head;
	m->scale = scaled ? (float *)(block + head + wbytes) : NULL;
	m->weight_bytes = nw + (scaled ? padded * sizeof(float) : 0);
	for (int r = 0; r < rows; r++) {
		const float *wr = w + (size_t)r * ldw;
		float scale = 0;
		if (scaled) {
			float mx = 0;
			for (int c = 0; c < cols; c++)
				mx = fabsf(wr[c]) > mx ? fabsf(wr[c]) : mx;
			m->scale[r] = scale = mx / 127;
		}
		for (int c = 0; c < cols; c++) {
			size_t i = packed_index(m, r, c);
			if (type == QMAT_F32) {
				((float *)m->w)[i] = wr[c];
			} else if (type == QMAT_F16) {
				((uint16_t *)m->w)[i] = qmat_half_from_float(wr[c]);
			} else if (scale > 0) {
				double q = nearbyint((double)wr[c] / scale);
				((int8_t *)m->w)[i] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
			}
		}
	}
	return m;
}

void qmat_free(qmat *m) { free(m); }

/* stored weight as the kernels use it (without the i8 or q8 scale) */
static inline float stored(const qmat *m, size_t i)
{
	switch (m->type) {
	case QMAT_F32: return ((const float *)m->w)[i];
	case QMAT_F16: return qmat_half_to_float(((const uint16_t *)m->w)[i]);
	default: return ((const int8_t *)m->w)[i];
	}
}

float qmat_get(const qmat *m, int r, int c)
{
	float v = stored(m, packed_index(m, r, c));
	return m->scale ? v * m->scale[r] : v;
}

void qmat_unpack(const qmat *m, float *out, int ldo)
{
	for (int r = 0; r < m->rows; r++)
		for (int c = 0; c < m->cols; c++)
			out[(size_t)r * ldo + c] = qmat_get(m, r, c);
}

qmat_err qmat_error(const qmat *m, const float *w, int ldw)
{
	qmat_err e = {0, 0, 0};
	double d2 = 0, w2 = 0;
	for (int r = 0; r < m->rows; r++) {
		double rd2 = 0, rw2 = 0;
		for (int c = 0; c < m->cols; c++) {
			double v = w[(size_t)r * ldw + c], d = v - qmat_get(m, r, c);
			e.max_abs = fabs(d) > e.max_abs ? fabs(d) : e.max_abs;
			rd2 += d * d, rw2 += v * v;
		}
		double rel = rw2 > 0 ? sqrt(rd2 / rw2) : 0;
		e.max_row_rel = rel > e.max_row_rel ? rel : e.max_row_rel;
		d2 += rd2, w2 += rw2;
	}
	e.rel = w2 > 0 ? sqrt(d2 / w2) : 0;
	return e;
}

/* ---- the plain kernel ---- */

/* the end of one output: the arithmetic of qmat.h, shared by both kernels for partial groups */
static inline void finish(float *y, float s, const qmat *m, const float *bias, int r, int acc)
{
	float t;
	if (m->type == QMAT_I8)
		t = bias ? fmaf(m->scale[r], s, bias[r]) : m->scale[r] * s;
	else
		t = bias ? s + bias[r] : s;
	*y = acc ? *y + t : t;
}

static inline float q8_scale(const float *x, int c0, int cols, float mx, int bad, int8_t *q, float *inv);

/* q8: x[cols] → q[q8_cols(cols)] (zero-padded), and the factor mx / 127 that undoes it (NaN
 * when x holds a NaN or an infinity: every output is NaN then, as a float product's would be) */
static float q8_quantize_ref(const float *x, int cols, int8_t *q)
{
	float inv;
	const float sx = q8_scale(x, 0, cols, 0, 0, q, &inv);
	for (int c = 0; inv > 0 && c < cols; c++)
		q[c] = (int8_t)lrintf(x[c] * inv);
	return sx;
}

/* Both quantisers' common part: the maximum |x| (mx, bad so far over x[..c0-1]) over the rest
 * of x; q zeroed; the factor mx / 127, and *inv = 127 / mx (0 when there is nothing to round:
 * x all zeros, or NaN / infinite, where the factor is NaN). */
static inline float q8_scale(const float *x, int c0, int cols, float mx, int bad, int8_t *q, float *inv)
{
	for (int c = c0; c < cols; c++) {
		float a = fabsf(x[c]);
		bad |= !(a <= 3.4028235e38f);
		mx = a > mx ? a : mx;
	}
	memset(q, 0, q8_cols(cols));
	*inv = 0;
	if (bad)
		return NAN;
	if (mx == 0)
		return 0;
	*inv = 127 / mx;
	return mx / 127;
}

/* the end of a q8 output: k = scale[r]·(mx/127), then as finish */
static inline void finish_q8(float *y, float s, float k, const float *bias, int r, int acc)
{
	float t = bias ? fmaf(k, s, bias[r]) : k * s;
	*y = acc ? *y + t : t;
}

static void apply_q8_ref(const qmat *m, float *y, int ldy, const float *x, int ldx, const float *bias, int nb, int r0,
			 int r1, int accumulate)
{
	const int cols = m->cols;
	int8_t q[QMAT_Q8_MAX_COLS];
	for (int b = 0; b < nb; b++) {
		const float sx = q8_quantize_ref(x + (size_t)b * ldx, cols, q);
		for (int r = r0; r < r1; r++) {
			int32_t s = 0;
			for (int c = 0; c < cols; c++)
				s += (int32_t)((const int8_t *)m->w)[packed_index(m, r, c)] * q[c];
			finish_q8(y + (size_t)b * ldy + r, (float)s, m->scale[r] * sx, bias, r, accumulate);
		}
	}
}

HOT void qmat_apply_ref(const qmat *m, float *y, int ldy, const float *x, int ldx, const float *bias, int nb, int r0,
			int r1, int accumulate)
{
	if (m->type == QMAT_Q8) {
		apply_q8_ref(m, y, ldy, x, ldx, bias, nb, r0, r1, accumulate);
		return;
	}
	const int cols = m->cols;
	for (int r = r0; r < r1; r++) {
		const size_t i0 = packed_index(m, r, 0), step = packed_index(m, r, 1 % cols) - i0;
		for (int b = 0; b < nb; b++) {
			const float *xb = x + (size_t)b * ldx;
			float s = 0;
			size_t i = i0;
			switch (m->type) {
			case QMAT_F32:
				for (int c = 0; c < cols; c++, i += step)
					s = fmaf(((const float *)m->w)[i], xb[c], s);
				break;
			case QMAT_F16:
				for (int c = 0; c < cols; c++, i += step)
					s = fmaf(qmat_half_to_float(((const uint16_t *)m->w)[i]), xb[c], s);
				break;
			case QMAT_I8:
				for (int c = 0; c < cols; c++, i += step)
					s = fmaf(((const int8_t *)m->w)[i], xb[c], s);
				break;
			case QMAT_Q8: /* apply_q8_ref */ break;
			}
			finish(y + (size_t)b * ldy + r, s, m, bias, r, accumulate);
		}
	}
}

/* ---- the AVX2 kernels ---- */

#ifdef QMAT_X86
#define AVX __attribute__((target("avx2,fma,f16c")))
#define AVX_INLINE AVX static inline __attribute__((always_inline))

AVX_INLINE __m256 load8(qmat_type type, const void *w, size_t i)
{
	switch (type) {
	case QMAT_F32: return _mm256_loadu_ps((const float *)w + i);
	case QMAT_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + i)));
	default:
		return _mm256_cvtepi32_ps(
			_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)((const int8_t *)w + i))));
	}
}

/* out[g·S + s] = Σ_c w(group g, column c)·x[s·ldx + c] for G groups starting at element i of
 * the packed weights: weight vector (c, g) at i + c·step + (g/2)·sstride + (g%2)·8 (G > 1 runs
 * over whole strips) */
AVX_INLINE void tile(qmat_type type, int G, int S, const void *w, size_t i, size_t step, size_t sstride, int cols,
		     const float *x, int ldx, __m256 *out)
{
	__m256 acc[8];
#pragma GCC unroll 8
	for (int k = 0; k < G * S; k++)
		acc[k] = _mm256_setzero_ps();
	for (int c = 0; c < cols; c++, i += step) {
		__m256 xb[4];
#pragma GCC unroll 4
		for (int s = 0; s < S; s++)
			xb[s] = _mm256_broadcast_ss(x + (size_t)s * ldx + c);
/* with several streams a tile reads few strips slowly, and the hardware prefetchers
		 * fall behind (measured: 10-20% faster from memory); with one stream they keep up */
#pragma GCC unroll 4
		for (int g = 0; g < G && S > 1; g += 2)
			_mm_prefetch((const char *)w + (i + (size_t)(g / 2) * sstride) * type_size[type] +
					     QMAT_PREFETCH,
				     _MM_HINT_T0);
#pragma GCC unroll 8
		for (int g = 0; g < G; g++) {
			__m256 wv = load8(type, w, i + (size_t)(g / 2) * sstride + (size_t)(g % 2) * QMAT_GROUP);
#pragma GCC unroll 4
			for (int s = 0; s < S; s++)
				acc[g * S + s] = _mm256_fmadd_ps(wv, xb[s], acc[g * S + s]);
		}
	}
#pragma GCC unroll 8
	for (int k = 0; k < G * S; k++)
		out[k] = acc[k];
}

typedef void tile_fn(const void *w, size_t i, size_t step, size_t sstride, int cols, const float *x, int ldx,
		     __m256 *out);

#define TILE(T, TYPE, G, S)                                                                                            \
	AVX static void tile_##T##_##G##x##S(const void *w, size_t i, size_t step, size_t sstride, int cols,           \
					     const float *x, int ldx, __m256 *out)                                     \
	{                                                                                                              \
		tile(TYPE, G, S, w, i, step, sstride, cols, x, ldx, out);                                              \
	}
/* the tile kernels: every group count G and stream count S that apply_avx uses */
#define TILES(T, TYPE)                                                                                                 \
	TILE(T, TYPE, 8, 1)                                                                                            \
	TILE(T, TYPE, 4, 1)                                                                                            \
	TILE(T, TYPE, 2, 1)                                                                                            \
	TILE(T, TYPE, 1, 1)                                                                                            \
	TILE(T, TYPE, 4, 2)                                                                                            \
	TILE(T, TYPE, 2, 2)                                                                                            \
	TILE(T, TYPE, 1, 2)                                                                                            \
	TILE(T, TYPE, 2, 3)                                                                                            \
	TILE(T, TYPE, 1, 3)                                                                                            \
	TILE(T, TYPE, 2, 4)                                                                                            \
	TILE(T, TYPE, 1, 4)
TILES(f32, QMAT_F32)
TILES(f16, QMAT_F16)
TILES(i8, QMAT_I8)

/* tiles[type][S-1][log2 G] */
#define TILE_ROW(T)                                                                                                    \
	{                                                                                                              \
		{tile_##T##_1x1, tile_##T##_2x1, tile_##T##_4x1, tile_##T##_8x1},                                      \
			{tile_##T##_1x2, tile_##T##_2x2, tile_##T##_4x2, NULL},                                        \
			{tile_##T##_1x3, tile_##T##_2x3, NULL, NULL},                                                  \
		{                                                                                                      \
			tile_##T##_1x4, tile_##T##_2x4, NULL, NULL                                                     \
		}                                                                                                      \
	}
static tile_fn *const tiles[3][4][4] = {TILE_ROW(f32), TILE_ROW(f16), TILE_ROW(i8)};
static const int max_log2g[4] = {3, 2, 1, 1};

/* stores the 8 sums of group rows rb… of stream row yb (y of that stream) */
AVX static void store8(float *yb, __m256 s, const qmat *m, const float *bias, int rb, int r0, int r1, int acc)
{
	if (rb >= r0 && rb + QMAT_GROUP <= r1) {
		__m256 t;
		if (m->type == QMAT_I8) {
			__m256 sc = _mm256_loadu_ps(m->scale + rb);
			t = bias ? _mm256_fmadd_ps(sc, s, _mm256_loadu_ps(bias + rb)) : _mm256_mul_ps(sc, s);
		} else {
			t = bias ? _mm256_add_ps(s, _mm256_loadu_ps(bias + rb)) : s;
		}
		if (acc)
			t = _mm256_add_ps(_mm256_loadu_ps(yb + rb), t);
		_mm256_storeu_ps(yb + rb, t);
		return;
	}
	float lanes[QMAT_GROUP];
	_mm256_storeu_ps(lanes, s);
	for (int k = 0; k < QMAT_GROUP; k++)
		if (rb + k >= r0 && rb + k < r1)
			finish(yb + rb + k, lanes[k], m, bias, rb + k, acc);
}

/* One stream through a whole small matrix (rows a multiple of 16, at most 64: G = rows / 8 groups,
 * every strip full), finished in registers: the products in a chain of small ones (a WaveNet
 * layer's) wait on each other, so the tile's round trip through memory and the general loops of
 * apply_avx would be a large part of each. The same sums as tile + store8, so the same bits. */
AVX_INLINE void small1(qmat_type type, int G, const qmat *m, float *y, const float *x, const float *bias, int acc)
{
	const int cols = m->cols;
	const size_t sstride = (size_t)QMAT_STRIP * cols;
	__m256 a[8];
#pragma GCC unroll 8
	for (int g = 0; g < G; g++)
		a[g] = _mm256_setzero_ps();
	for (int c = 0; c < cols; c++) {
		const __m256 xb = _mm256_broadcast_ss(x + c);
#pragma GCC unroll 8
		for (int g = 0; g < G; g++)
			a[g] = _mm256_fmadd_ps(load8(type, m->w,
						     (size_t)c * QMAT_STRIP + (size_t)(g / 2) * sstride +
							     (size_t)(g % 2) * QMAT_GROUP),
					       xb, a[g]);
	}
#pragma GCC unroll 8
	for (int g = 0; g < G; g++) {
		const int rb = g * QMAT_GROUP;
		__m256 t = a[g];
		if (type == QMAT_I8) {
			__m256 sc = _mm256_loadu_ps(m->scale + rb);
			t = bias ? _mm256_fmadd_ps(sc, t, _mm256_loadu_ps(bias + rb)) : _mm256_mul_ps(sc, t);
		} else if (bias) {
			t = _mm256_add_ps(t, _mm256_loadu_ps(bias + rb));
		}
		if (acc)
			t = _mm256_add_ps(_mm256_loadu_ps(y + rb), t);
		_mm256_storeu_ps(y + rb, t);
	}
}

typedef void small1_fn(const qmat *m, float *y, const float *x, const float *bias, int acc);
#define SMALL1(T, TYPE, G)                                                                                             \
	AVX static void small1_##T##_##G(const qmat *m, float *y, const float *x, const float *bias, int acc)          \
	{                                                                                                              \
		small1(TYPE, G, m, y, x, bias, acc);                                                                   \
	}
#define SMALL1S(T, TYPE) SMALL1(T, TYPE, 2) SMALL1(T, TYPE, 4) SMALL1(T, TYPE, 6) SMALL1(T, TYPE, 8)
SMALL1S(f32, QMAT_F32)
SMALL1S(f16, QMAT_F16)
SMALL1S(i8, QMAT_I8)
/* small1s[type][rows / 16 - 1] */
static small1_fn *const small1s[3][4] = {{small1_f32_2, small1_f32_4, small1_f32_6, small1_f32_8},
					 {small1_f16_2, small1_f16_4, small1_f16_6, small1_f16_8},
					 {small1_i8_2, small1_i8_4, small1_i8_6, small1_i8_8}};

/* ---- q8: integer products ---- */

/* q8_quantize_ref, 8 lanes at a time: the same bits (the maximum is exact; x·inv and its
 * rounding to nearest even are the same operations) */
AVX static float q8_quantize_avx(const float *x, int cols, int8_t *q)
{
	const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	const __m256 big = _mm256_set1_ps(3.4028235e38f);
	__m256 mx8 = _mm256_setzero_ps(), bad8 = _mm256_setzero_ps();
	int c = 0;
	for (; c + 8 <= cols; c += 8) {
		__m256 a = _mm256_and_ps(_mm256_loadu_ps(x + c), absmask);
		bad8 = _mm256_or_ps(bad8, _mm256_cmp_ps(a, big, _CMP_NLE_UQ));
		mx8 = _mm256_max_ps(mx8, a);
	}
	float lanes[8], mx = 0, inv;
	_mm256_storeu_ps(lanes, mx8);
	for (int k = 0; k < 8; k++)
		mx = lanes[k] > mx ? lanes[k] : mx;
	const float sx = q8_scale(x, c, cols, mx, _mm256_movemask_ps(bad8) != 0, q, &inv);
	if (!(inv > 0))
		return sx;
	const __m256 inv8 = _mm256_set1_ps(inv);
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	for (c = 0; c + 32 <= cols; c += 32) {
		__m256i v[4];
		for (int k = 0; k < 4; k++)
			v[k] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + c + 8 * k), inv8));
		/* packs work within 128-bit lanes: put the 4-byte pieces back in order */
		__m256i b = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
		_mm256_storeu_si256((__m256i *)(q + c), _mm256_permutevar8x32_epi32(b, order));
	}
	for (; c < cols; c++)
		q[c] = (int8_t)lrintf(x[c] * inv);
	return sx;
}

/* out[g] = Σ over column blocks of groups g0.. g0+G-1 of a panel with pg groups, against q:
 * |q| (unsigned) times the weight with q's sign (signed) is a product of the right sign whose
 * pair sums (≤ 2·127·127) cannot saturate vpmaddubsw's 16 bits */
AVX_INLINE void q8_tile(int G, const int8_t *panel, int g0, int pg, int nblocks, const int8_t *q, __m256i *out)
{
	const __m256i ones = _mm256_set1_epi16(1);
	__m256i acc[8]; /* in registers: out may alias the int8 weights and input, as far as C knows */
#pragma GCC unroll 8
	for (int g = 0; g < G; g++)
		acc[g] = _mm256_setzero_si256();
	const int8_t *w = panel + (size_t)g0 * QMAT_GROUP * Q8_BLOCK;
	const size_t step = (size_t)pg * QMAT_GROUP * Q8_BLOCK;
	for (int k = 0; k < nblocks; k++, w += step) {
		int32_t q4;
		memcpy(&q4, q + (size_t)k * Q8_BLOCK, 4);
		const __m256i xs = _mm256_set1_epi32(q4), xa = _mm256_abs_epi8(xs);
#pragma GCC unroll 8
		for (int g = 0; g < G; g++) {
			__m256i wv = _mm256_load_si256((const __m256i *)(w + (size_t)g * QMAT_GROUP * Q8_BLOCK));
			__m256i p = _mm256_maddubs_epi16(xa, _mm256_sign_epi8(wv, xs));
			acc[g] = _mm256_add_epi32(acc[g], _mm256_madd_epi16(p, ones));
		}
	}
#pragma GCC unroll 8
	for (int g = 0; g < G; g++)
		out[g] = acc[g];
}

typedef void q8_tile_fn(const int8_t *panel, int g0, int pg, int nblocks, const int8_t *q, __m256i *out);
#define Q8_TILE(G)                                                                                                     \
	AVX static void q8_tile_##G(const int8_t *panel, int g0, int pg, int nblocks, const int8_t *q, __m256i *out)   \
	{                                                                                                              \
		q8_tile(G, panel, g0, pg, nblocks, q, out);                                                            \
	}
/* clang-format off */
Q8_TILE(1)
Q8_TILE(2)
Q8_TILE(3)
Q8_TILE(4)
Q8_TILE(5)
Q8_TILE(6)
Q8_TILE(7)
Q8_TILE(8)
/* clang-format on */
static q8_tile_fn *const q8_tiles[8] = {q8_tile_1, q8_tile_2, q8_tile_3, q8_tile_4,
					q8_tile_5, q8_tile_6, q8_tile_7, q8_tile_8};

/* Stream by stream (each input quantised once), the groups of each panel that rows r0..r1-1
 * touch, finished as finish_q8 does. */
AVX static void apply_q8_avx(const qmat *m, float *y, int ldy, const float *x, int ldx, const float *bias, int nb,
			     int r0, int r1, int acc)
{
	const int nblocks = (int)(q8_cols(m->cols) / Q8_BLOCK);
	int8_t q[QMAT_Q8_MAX_COLS] __attribute__((aligned(32)));
	for (int b = 0; b < nb; b++) {
		float *yb = y + (size_t)b * ldy;
		const float sx = q8_quantize_avx(x + (size_t)b * ldx, m->cols, q);
		const __m256 sx8 = _mm256_set1_ps(sx);
		for (int p0 = r0 / QMAT_PANEL * QMAT_PANEL; p0 < r1; p0 += QMAT_PANEL) {
			const int pg = q8_panel_groups(m, p0);
			const int g0 = (SH_MAX(r0, p0) - p0) / QMAT_GROUP;
			const int g1 = SH_MIN(pg, (r1 - p0 + QMAT_GROUP - 1) / QMAT_GROUP);
			__m256i sums[8];
			q8_tiles[g1 - g0 - 1]((const int8_t *)m->w + (size_t)p0 * nblocks * Q8_BLOCK, g0, pg, nblocks,
					      q, sums);
			for (int g = g0; g < g1; g++) {
				const int rb = p0 + g * QMAT_GROUP;
				const __m256 s = _mm256_cvtepi32_ps(sums[g - g0]);
				const __m256 k = _mm256_mul_ps(_mm256_loadu_ps(m->scale + rb), sx8);
				if (rb >= r0 && rb + QMAT_GROUP <= r1) {
					__m256 t = bias ? _mm256_fmadd_ps(k, s, _mm256_loadu_ps(bias + rb))
							: _mm256_mul_ps(k, s);
					if (acc)
						t = _mm256_add_ps(_mm256_loadu_ps(yb + rb), t);
					_mm256_storeu_ps(yb + rb, t);
					continue;
				}
				float sl[QMAT_GROUP], kl[QMAT_GROUP];
				_mm256_storeu_ps(sl, s);
				_mm256_storeu_ps(kl, k);
				for (int i = 0; i < QMAT_GROUP; i++)
					if (rb + i >= r0 && rb + i < r1)
						finish_q8(yb + rb + i, sl[i], kl[i], bias, rb + i, acc);
			}
		}
	}
}

/* Blocks of rows; in each, tiles of 4 streams (or the rest) and, for each, tiles of groups: as
 * many as the registers allow for that many streams, over whole strips (a group alone where a
 * range starts or ends inside a strip, or in the last strip when it is half). */
AVX static void apply_avx(const qmat *m, float *y, int ldy, const float *x, int ldx, const float *bias, int nb, int r0,
			  int r1, int acc)
{
	if (nb == 1 && r0 == 0 && r1 == m->rows && m->rows % QMAT_STRIP == 0 && m->rows <= 64) {
		small1s[m->type][m->rows / QMAT_STRIP - 1](m, y, x, bias, acc);
		return;
	}
	const int cols = m->cols;
	const int full = m->rows / QMAT_STRIP * (QMAT_STRIP / QMAT_GROUP); /* groups in full strips */
	const int gend = (r1 + QMAT_GROUP - 1) / QMAT_GROUP;
	const size_t sstride = (size_t)QMAT_STRIP * cols;
	/* groups of a block: what the first tile of streams takes, so that the later tiles find
	 * the block in L1 or L2 (a block of 64 rows of 1600 floats would not stay in L2) */
	const int bg = nb == 1 ? 8 : nb == 2 ? 4 : 2;
	for (int blk = r0 / QMAT_GROUP / bg * bg; blk < gend; blk += bg) {
		const int ga = SH_MAX(blk, r0 / QMAT_GROUP), gb = SH_MIN(gend, blk + bg);
		for (int b = 0; b < nb; b += 4) {
			const int S = SH_MIN(4, nb - b);
			for (int g = ga; g < gb;) {
				int lg = 0;
				if (g % 2 == 0 && g + 2 <= full) {
					lg = max_log2g[S - 1];
					while ((1 << lg) > SH_MIN(gb, full) - g)
						lg--;
				}
				const int G = 1 << lg;
				/* a lone group: its strip's own column step (8 in a half strip) */
				const int st = g / 2,
					  ng = SH_MIN(2, (m->rows - st * QMAT_STRIP + QMAT_GROUP - 1) / QMAT_GROUP);
				const size_t i = (size_t)st * sstride + (size_t)(g % 2) * QMAT_GROUP;
				__m256 out[8];
				tiles[m->type][S - 1][lg](m->w, i, (size_t)ng * QMAT_GROUP, sstride, cols,
							  x + (size_t)b * ldx, ldx, out);
				for (int gi = 0; gi < G; gi++)
					for (int s = 0; s < S; s++)
						store8(y + (size_t)(b + s) * ldy, out[gi * S + s], m, bias,
						       (g + gi) * QMAT_GROUP, r0, r1, acc);
				g += G;
			}
		}
	}
}

int qmat_simd(void)
{
	static int known = -1; /* asked once: qmat_apply asks before every product */
	int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
	if (k < 0) {
		k = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
		__atomic_store_n(&known, k, __ATOMIC_RELAXED);
	}
	return k;
}
#else
int qmat_simd(void) { return 0; }
#endif

void qmat_apply(const qmat *m, float *y, int ldy, const float *x, int ldx, const float *bias, int nb, int r0, int r1,
		int accumulate)
{
	if (nb < 1 || r1 <= r0)
		return;
#ifdef QMAT_X86
	if (qmat_simd()) {
		if (m->type == QMAT_Q8)
			apply_q8_avx(m, y, ldy, x, ldx, bias, nb, r0, r1, accumulate);
		else
			apply_avx(m, y, ldy, x, ldx, bias, nb, r0, r1, accumulate);
		return;
	}
#endif
	qmat_apply_ref(m, y, ldy, x, ldx, bias, nb, r0, r1, accumulate);
}

void qmat_part(const qmat *m, int part, int nparts, int *r0, int *r1)
{
	const long np = (m->rows + QMAT_PANEL - 1) / QMAT_PANEL; /* split on blocks of whole tiles */
	*r0 = (int)SH_MIN(np * part / nparts * QMAT_PANEL, m->rows);
	*r1 = (int)SH_MIN(np * (part + 1) / nparts * QMAT_PANEL, m->rows);
}

void qmat_apply_par(const qmat *m, float *y, int ldy, const float *x, int ldx, const float *bias, int nb,
		    int accumulate)
{
	int nt = 1;
#ifdef _OPENMP
	if ((double)m->rows * m->cols * nb >= PAR_MIN && !omp_in_parallel())
		nt = omp_get_max_threads();
#endif
	const int np = (m->rows + QMAT_PANEL - 1) / QMAT_PANEL;
	nt = SH_MIN(nt, np);
	if (nt <= 1) {
		qmat_apply(m, y, ldy, x, ldx, bias, nb, 0, m->rows, accumulate);
		return;
	}
#pragma omp parallel num_threads(nt)
	{
		int id = 0, team = 1, r0, r1;
#ifdef _OPENMP
		id = omp_get_thread_num(), team = omp_get_num_threads();
#endif
		qmat_part(m, id, team, &r0, &r1);
		qmat_apply(m, y, ldy, x, ldx, bias, nb, r0, r1, accumulate);
	}
}

int qmat_pack_worst(qmat **dst, const float *w, int rows, int cols, int ldw, qmat_type type, double *worst)
{
	if (!w || !(*dst = qmat_pack(w, rows, cols, ldw, type)))
		return -1;
	qmat_err e = qmat_error(*dst, w, ldw);
	*worst = e.max_row_rel > *worst ? e.max_row_rel : *worst;
	return 0;
}
