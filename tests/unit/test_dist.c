/* test_dist.c: dist.h's collectives. Run alone it is rank 0 of 1 (every collective a no-op);
 * tests/mpi.t also runs it under `mpirun -np 3`, where the float sum must be the rank-order sum
 * of the scaled vectors bit for bit (each rank computes every rank's vector and the expected sum
 * itself), over a length that does not divide among the ranks; rank 0 alone prints. */
#include "dist.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Rank r's i-th value: magnitudes from 1e-4 to 1e4 and both signs, so that the order of the sums
 * changes their bits. */
static float value(int r, size_t i)
{
	uint32_t h = (uint32_t)(i * 2654435761u) ^ (uint32_t)(r * 40503u + 17u);
	h ^= h >> 13, h *= 0x5bd1e995u, h ^= h >> 15;
	float m = (float)(h % 10007) / 10007.0f - 0.5f;
	static const float scale[5] = {1e-4f, 1e-2f, 1.0f, 1e2f, 1e4f};
	return m * scale[(h >> 20) % 5];
}

int main(int argc, char **argv)
{
	if (dist_init(&argc, &argv) < 0) {
		printf("Bail out! %s\n", "dist_init failed");
		return 1;
	}
	const int rank = dist_rank(), size = dist_size();
	const size_t n = 100003; /* a prime: the ranks' slices differ in length */
	const float w = 1.0f / 3;
	float *x = malloc(n * sizeof *x), *want = malloc(n * sizeof *want), *other = malloc(n * sizeof *other);
	if (!x || !want || !other)
		return 1;
	for (size_t i = 0; i < n; i++) {
		x[i] = value(rank, i);
		float s = w * value(0, i), t = w * value(size - 1, i);
		for (int r = 1; r < size; r++)
			s += w * value(r, i);
		for (int r = size - 2; r >= 0; r--) /* the reverse order: to show the order shows */
			t += w * value(r, i);
		want[i] = s, other[i] = t;
	}
	int rc = dist_allreduce_sum_f32(x, n, w);
	long bad = 0, order_shows = 0;
	for (size_t i = 0; i < n; i++) {
		bad += memcmp(&x[i], size > 1 ? &want[i] : &(float){value(0, i)}, sizeof(float)) != 0;
		order_shows += memcmp(&want[i], &other[i], sizeof(float)) != 0;
	}
	bad = dist_max_int((int)bad) + dist_max_int(rc < 0);

	/* the slices: in rank order, covering [0, n) once, ends on multiples of DIST_SLICE_ALIGN,
	 * for lengths that leave some ranks nothing */
	long slicing_bad = 0;
	const size_t lens[] = {0, 1, 4095, 4096, 4097, 3 * 4096 + 5, n, 12092416};
	for (size_t k = 0; k < sizeof lens / sizeof *lens; k++)
		for (int N = 1; N <= 5; N++) {
			const size_t len = lens[k];
			slicing_bad += dist_slice_lo(len, 0, N) != 0 || dist_slice_lo(len, N, N) != len;
			for (int r = 0; r < N; r++) {
				size_t a = dist_slice_lo(len, r, N), b = dist_slice_lo(len, r + 1, N);
				slicing_bad += a > b || a % DIST_SLICE_ALIGN || (b % DIST_SLICE_ALIGN && b != len);
			}
		}
	/* the reduce-scatter sums this rank's slice (the bits above) and leaves the rest of x; the
	 * gather of slices then gives every rank every slice */
	const size_t lo = dist_slice_lo(n, rank, size), hi = dist_slice_lo(n, rank + 1, size);
	for (size_t i = 0; i < n; i++)
		x[i] = value(rank, i);
	rc = dist_reduce_scatter_sum_f32(x, n, w);
	long rs_bad = rc < 0;
	for (size_t i = 0; i < n; i++) {
		const float expect = size == 1 || i < lo || i >= hi ? value(rank, i) : want[i];
		rs_bad += memcmp(&x[i], &expect, sizeof(float)) != 0;
	}
	rc = dist_allgather_slices(x, n, 1, sizeof *x);
	for (size_t i = 0; i < n; i++)
		rs_bad += rc < 0 || memcmp(&x[i], size > 1 ? &want[i] : &(float){value(0, i)}, sizeof(float)) != 0;
	rs_bad = dist_max_int((int)rs_bad);
	/* per-block values (doubles, one per DIST_SLICE_ALIGN floats): rank r's are its slice's */
	const size_t nb = (n + DIST_SLICE_ALIGN - 1) / DIST_SLICE_ALIGN;
	double *blocks = malloc(nb * sizeof *blocks);
	long blk_bad = !blocks;
	if (blocks) {
		for (size_t b = 0; b < nb; b++)
			blocks[b] = b * DIST_SLICE_ALIGN >= lo && b * DIST_SLICE_ALIGN < hi ? b + 0.25 : -1;
		rc = dist_allgather_slices(blocks, n, DIST_SLICE_ALIGN, sizeof *blocks);
		for (size_t b = 0; b < nb; b++)
			blk_bad += rc < 0 || blocks[b] != b + 0.25;
		free(blocks);
	}
	blk_bad = dist_max_int((int)blk_bad);
	double d[2] = {rank + 0.5, 1};
	dist_allreduce_sum_f64(d, 2);
	int max = dist_max_int(rank * 7);
	/* a barrier that one rank reaches late: the others wait (asleep) and every rank returns */
	if (rank == size - 1 && size > 1)
		nanosleep(&(struct timespec){0, 100000000}, NULL);
	dist_barrier();
	if (!rank) {
		if (size > 1) {
			tap_ok(!bad,
			       "%d ranks: the float sum of %zu values, scaled by 1/3, is the rank-order sum bit for "
			       "bit (%ld values differ)",
			       size, n, bad);
			if (size > 2) /* (two terms commute) */
				tap_ok(order_shows > (long)n / 100,
				       "... where the reverse order gives other bits (%ld values)", order_shows);
		} else {
			tap_ok(!bad, "one process: the float sum leaves x as it is (the scale not applied)");
		}
		tap_ok(!slicing_bad, "slices: in rank order, whole, on multiples of %d (%ld wrong)", DIST_SLICE_ALIGN,
		       slicing_bad);
		tap_ok(!rs_bad,
		       "the reduce-scatter sums this rank's slice alone; the gather of slices completes the sum (%ld "
		       "values differ)",
		       rs_bad);
		tap_ok(!blk_bad, "a value per block of %d: each rank's blocks to every rank (%ld wrong)",
		       DIST_SLICE_ALIGN, blk_bad);
		tap_ok(d[0] == size * size / 2.0 && d[1] == size, "the double sum: %g of %d ranks", d[1], size);
		tap_ok(max == 7 * (size - 1), "the largest int of every rank's");
		tap_ok(1, "every rank returned from a barrier one rank reached 0.1 s late");
		printf("1..%d\n", tap_n);
	}
	free(x), free(want), free(other);
	dist_finalize();
	return rank ? 0 : tap_failed != 0;
}
