/* fingerprint.h: raw chromaprint fingerprints of float clips, and the bit-error similarity of
 * two fingerprints searched over alignment offsets (REFERENCE.md, "Curation").
 *
 * A raw fingerprint is a sequence of 32-bit items, one per ~124 ms of audio (chromaprint
 * resamples to 11025 Hz internally; the first item needs about 2.7 s of audio, so shorter
 * clips give an empty fingerprint). Similarity of two items is the fraction of equal bits;
 * unrelated audio scores about 0.5, the same passage close to 1. */
#ifndef SHARKS_FINGERPRINT_H
#define SHARKS_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

/* Seconds of audio per fingerprint item (4096/3 samples at 11025 Hz). */
#define FP_ITEM_SECONDS (4096.0 / 3.0 / 11025.0)

/* A chromaprint context with its int16 conversion buffer. One per thread: contexts are not
 * shared, and fp_context_new serialises the (not always reentrant) chromaprint_new. */
typedef struct fp_context fp_context;
fp_context *fp_context_new(void);
void fp_context_free(fp_context *c);

/* Raw fingerprint of n mono samples at rate: *items is malloc'd (NULL when *count is 0). */
int fp_compute(fp_context *c, const float *x, size_t n, int rate, uint32_t **items, int *count);

/* Float [-1, 1] to int16 as chromaprint wants it: x·32767 rounded to nearest, clipped. */
void fp_float_to_int16(int16_t *dst, const float *x, size_t n);

/* Equal bits between a[i] and b[i + offset] over the overlapping items; *overlap gets the
 * number of items compared. fp_bit_matches_ref is the plain bit-by-bit version the test holds
 * the fast one equal to. */
long fp_bit_matches(const uint32_t *a, int na, const uint32_t *b, int nb, int offset, int *overlap);
long fp_bit_matches_ref(const uint32_t *a, int na, const uint32_t *b, int nb, int offset, int *overlap);

/* Best similarity (mean fraction of equal bits) over offsets in [-max_offset, max_offset]
 * whose overlap is at least min(min_overlap, na, nb) items; ties go to the offset nearest 0,
 * then the negative one. Returns 0 when no offset qualifies (an empty fingerprint); the best
 * offset goes to *best_offset when not NULL: a[i] lines up with b[i + offset], so when b's
 * audio starts d items into a's, the offset is -d. */
double fp_similarity(const uint32_t *a, int na, const uint32_t *b, int nb, int max_offset, int min_overlap,
		     int *best_offset);

#endif
