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
		tap_ok(d[0] == size * size / 2.0 && d[1] == size, "the double sum: %g of %d ranks", d[1], size);
		tap_ok(max == 7 * (size - 1), "the largest int of every rank's");
		tap_ok(1, "every rank returned from a barrier one rank reached 0.1 s late");
		printf("1..%d\n", tap_n);
	}
	free(x), free(want), free(other);
	dist_finalize();
	return rank ? 0 : tap_failed != 0;
}
