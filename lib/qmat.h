/* qmat.h: weight matrices packed for generation, and their products with a few vectors.
 *
 * Generating audio one sample at a time is a chain of products y = W·x + b of a weight matrix
 * with one vector per stream (1 to 16 streams). With one stream every weight is read once per
 * product and used once, so the speed is the speed at which the weights come from memory; as
 * LPCNet does, the weights can be stored in fewer bytes: IEEE half (f16) or 8-bit integers with
 * one scale per row (i8), turned back into float in registers. The inputs, sums and outputs
 * stay float. The fourth type, q8, goes one step further, as LPCNet's integer kernels do: i8
 * weights, and each input vector quantised to 8 bits too, so the products are integer
 * multiply-adds (4 per byte pair of a 32-byte register, against 8 float multiply-adds for
 * f16's 16 bytes) on half the bytes of f16; the price is the input's rounding.
 *
 * Arithmetic (every type, every kernel, every number of streams and threads): for stream b and
 * row r, s = 0; for c = 0 … cols-1: s = fma(ŵ[r][c], x[b][c], s) in float, where ŵ is the
 * stored weight as float (for i8 the integer itself); then t = s + bias[r] (f32, f16) or
 * t = fma(scale[r], s, bias[r]) (i8; without bias t = s, or scale[r]·s); then y = t, or
 * y = y + t when accumulating. q8: per stream, mx = max_c |x[c]|, x̂[c] = round(x[c]·(127/mx))
 * to nearest even (0 when mx = 0; a NaN or infinite input makes every output NaN); then the
 * integer sum s = Σ_c ŵ[r][c]·x̂[c] (exact), converted to float; then with k = scale[r]·(mx/127),
 * t = fma(k, s, bias[r]) (without bias t = k·s), and y as above. So a stream's result never
 * depends on how many streams or
 * threads computed it, nor on the machine: the plain kernel (qmat_apply_ref) and the AVX2
 * kernel, chosen at run time, give the same bits. (Without hardware FMA the plain kernel runs
 * through libm's fmaf: exact but slow; every x86-64 since 2013 has FMA.)
 *
 * Storage: rows in groups of 8 (one AVX register: one lane per row), two groups to a strip of
 * 16 rows stored column by column, strip[c][group][lane] (one cache line per column in f32),
 * strips one after the other; padding rows are zero. A tile of the kernel reads whole strips,
 * each as one contiguous stream. q8: panels of 64 rows (8 groups; fewer in the last), each
 * column-block by column-block, 4 columns to a block (columns padded to a multiple of 4 with
 * zeros): panel[block][group][lane][4 columns], 32 bytes a group, the layout of the integer
 * multiply-add instructions. One allocation per matrix. */
#ifndef SHARKS_QMAT_H
#define SHARKS_QMAT_H

#include <stddef.h>
#include <stdint.h>

typedef enum { QMAT_F32, QMAT_F16, QMAT_I8, QMAT_Q8 } qmat_type;

typedef struct qmat {
	qmat_type type;
	int rows, cols;
	size_t weight_bytes; /* bytes of packed weights (and scales): what a product reads */
	void *w;             /* packed weights: float, uint16_t (half) or int8_t */
	float *scale;        /* i8, q8: scale of each row (max |w| / 127), padded; NULL otherwise */
} qmat;

#define QMAT_GROUP 8  /* rows sharing one vector of weights per column */
#define QMAT_STRIP 16 /* rows stored together */
#define QMAT_PANEL 64 /* rows of the largest tile: split rows among threads on these */

#define QMAT_Q8_MAX_COLS 16384 /* q8 quantises an input on the stack */

/* "f32", "f16", "i8", "q8" → *type; 0, or -1 with an error naming the accepted ones */
int qmat_type_parse(const char *name, qmat_type *type);
const char *qmat_type_name(qmat_type type);
/* The type that stores the same weights as `type` but keeps the inputs float (q8 → i8; the others
 * are themselves): for the products whose inputs a model should not round, such as a recurrent
 * state or a chain of residual layers, in a model otherwise packed as q8. */
qmat_type qmat_float_input(qmat_type type);

/* Packs w[rows × cols] (row stride ldw ≥ cols) as type: f16 rounds to nearest even, i8 and q8
 * to round(w / scale) with scale = max |w| / 127 per row (0 for a row of zeros). NULL with an
 * error for bad sizes (q8: more than QMAT_Q8_MAX_COLS columns), a non-finite weight, or one
 * beyond the range of half (|w| ≥ 65520). */
qmat *qmat_pack(const float *w, int rows, int cols, int ldw, qmat_type type);
void qmat_free(qmat *m);

/* The stored weight (r, c) as the products use it: ŵ, times the scale for i8 and q8 */
float qmat_get(const qmat *m, int r, int c);
/* All of them into out[rows × cols] (row stride ldo) */
void qmat_unpack(const qmat *m, float *out, int ldo);

/* How far the packed matrix is from w[rows × cols] (row stride ldw), for a program to report:
 * max_abs = max |w - ŵ|; max_row_rel = max over rows of ‖w_r - ŵ_r‖ / ‖w_r‖ (which bounds the
 * error of a product with any x: |Δy_r| ≤ max_row_rel·‖w_r‖·‖x‖); rel = ‖W - Ŵ‖ / ‖W‖
 * (Frobenius). All 0 for f32. */
typedef struct {
	double max_abs, max_row_rel, rel;
} qmat_err;
qmat_err qmat_error(const qmat *m, const float *w, int ldw);

/* Packs w as qmat_pack does into *dst and raises *worst to the packed matrix's max_row_rel
 * when that is larger: for a program that packs many matrices and reports their worst error.
 * 0, or -1 with an error (also when w is NULL, after a failed lookup of the caller's). */
int qmat_pack_worst(qmat **dst, const float *w, int rows, int cols, int ldw, qmat_type type, double *worst);

/* y[b·ldy + r] = bias[r] (+ y[b·ldy + r] when accumulate) + Σ_c W[r][c]·x[b·ldx + c] for
 * b < nb and rows r0 ≤ r < r1, on the calling thread (bias may be NULL). y must not overlap
 * x. Row ranges starting and ending on multiples of QMAT_PANEL (or at rows) run fastest. */
void qmat_apply(const qmat *m, float *y, int ldy, const float *x, int ldx, const float *bias, int nb, int r0, int r1,
		int accumulate);
/* The same over all rows, split among the OpenMP threads (in panels) when the product is large
 * enough and the caller is not already in a parallel region. Each y is made by one thread in
 * the order above, so the result does not depend on the number of threads. */
void qmat_apply_par(const qmat *m, float *y, int ldy, const float *x, int ldx, const float *bias, int nb,
		    int accumulate);
/* Part `part` of `nparts` of the rows, on panel boundaries, for callers that run their own
 * threads: *r0, *r1 (possibly empty) */
void qmat_part(const qmat *m, int part, int nparts, int *r0, int *r1);

/* The plain C kernel, the reference for qmat_apply (same arithmetic, same bits) */
void qmat_apply_ref(const qmat *m, float *y, int ldy, const float *x, int ldx, const float *bias, int nb, int r0,
		    int r1, int accumulate);
/* 1 when qmat_apply runs the AVX2 + FMA + F16C kernels on this machine */
int qmat_simd(void);

/* IEEE half ↔ float in plain C (round to nearest even; overflow → ±inf, NaN kept NaN) */
uint16_t qmat_half_from_float(float f);
float qmat_half_to_float(uint16_t h);

#endif
