/* test_rng.c: xoshiro256** against its reference outputs, state save/restore, ranges. */
#include "rng.h"
#include "tap.h"

#include <string.h>

int main(void)
{
	/* reference: xoshiro256starstar.c from prng.di.unimi.it, state {1, 2, 3, 4} */
	sh_rng r = {{1, 2, 3, 4}};
	const uint64_t want[4] = {11520ULL, 0ULL, 1509978240ULL, 1215971899390074240ULL};
	int same = 1;
	for (int i = 0; i < 4; i++)
		same &= sh_rng_next(&r) == want[i];
	tap_ok(same, "xoshiro256** matches the reference outputs from state {1,2,3,4}");

	sh_rng a, b;
	sh_rng_seed(&a, 42);
	for (int i = 0; i < 1000; i++)
		sh_rng_next(&a);
	char buf[SH_RNG_STR];
	sh_rng_to_string(&a, buf);
	tap_ok(strlen(buf) == 64, "state string has 64 hex digits");
	tap_ok(sh_rng_from_string(&b, buf) == 0, "state string parses back");
	same = 1;
	for (int i = 0; i < 1000; i++)
		same &= sh_rng_next(&a) == sh_rng_next(&b);
	tap_ok(same, "a restored state continues the same stream");
	tap_ok(sh_rng_from_string(&b, "12") < 0, "short state string refused");
	char zeros[65];
	memset(zeros, '0', 64);
	zeros[64] = 0;
	tap_ok(sh_rng_from_string(&b, zeros) < 0, "all-zero state refused");
	zeros[5] = 'x';
	tap_ok(sh_rng_from_string(&b, zeros) < 0, "non-hex state refused");

	sh_rng s1, s2;
	sh_rng_seed_stream(&s1, 7, 0);
	sh_rng_seed_stream(&s2, 7, 1);
	tap_ok(sh_rng_next(&s1) != sh_rng_next(&s2), "streams of one seed differ");
	sh_rng_seed(&s1, 7);
	sh_rng_seed(&s2, 7);
	tap_ok(sh_rng_next(&s1) == sh_rng_next(&s2), "same seed, same stream");

	/* uniform ranges and a coarse histogram of sh_rng_below */
	sh_rng_seed(&a, 1);
	int inrange = 1, hist[10] = {0};
	double sum = 0;
	for (int i = 0; i < 100000; i++) {
		double u = sh_rng_uniform(&a);
		float f = sh_rng_uniformf(&a);
		inrange &= u >= 0 && u < 1 && f >= 0 && f < 1;
		sum += u;
		hist[sh_rng_below(&a, 10)]++;
	}
	tap_ok(inrange, "uniforms lie in [0, 1)");
	tap_ok(fabs(sum / 100000 - 0.5) < 0.01, "uniform mean is 0.5 (%.4f)", sum / 100000);
	int flat = 1;
	for (int i = 0; i < 10; i++)
		flat &= hist[i] > 9500 && hist[i] < 10500;
	tap_ok(flat, "sh_rng_below(10) is flat");

	double m = 0, v = 0;
	for (int i = 0; i < 100000; i++) {
		double x = sh_rng_normal(&a);
		m += x;
		v += x * x;
	}
	m /= 100000;
	v = v / 100000 - m * m;
	tap_ok(fabs(m) < 0.02 && fabs(v - 1) < 0.03, "normal: mean %.4f variance %.4f", m, v);

	int p[100], seen[100] = {0};
	for (int i = 0; i < 100; i++)
		p[i] = i;
	sh_rng_shuffle(&a, p, 100);
	int perm = 1, moved = 0;
	for (int i = 0; i < 100; i++) {
		perm &= p[i] >= 0 && p[i] < 100 && !seen[p[i]]++;
		moved += p[i] != i;
	}
	tap_ok(perm && moved > 50, "shuffle gives a permutation (%d moved)", moved);
	return tap_done();
}
