/* rng.c: xoshiro256** (Blackman and Vigna) with splitmix64 seeding; see rng.h. */
#include "rng.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void sh_rng_seed(sh_rng *r, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = sh_splitmix64(&x);
	if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
		r->s[0] = 1; /* the one state xoshiro cannot leave */
}

void sh_rng_seed_stream(sh_rng *r, uint64_t seed, uint64_t stream)
{
	/* mix the stream number through splitmix64 so that nearby (seed, stream) pairs are far apart */
	uint64_t x = stream;
	sh_rng_seed(r, seed ^ sh_splitmix64(&x));
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sh_rng_next(sh_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double sh_rng_uniform(sh_rng *r) { return (sh_rng_next(r) >> 11) * 0x1.0p-53; }
float sh_rng_uniformf(sh_rng *r) { return (float)(sh_rng_next(r) >> 40) * 0x1.0p-24f; }

uint64_t sh_rng_below(sh_rng *r, uint64_t n)
{
	/* rejection of the top partial block keeps every value equally likely */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = sh_rng_next(r);
	while (x >= limit);
	return x % n;
}

double sh_rng_normal(sh_rng *r)
{
	double u1 = 1.0 - sh_rng_uniform(r); /* (0, 1]: log is finite */
	double u2 = sh_rng_uniform(r);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void sh_rng_shuffle(sh_rng *r, int *a, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)sh_rng_below(r, i);
		int t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

void sh_rng_to_string(const sh_rng *r, char *buf)
{
	for (int i = 0; i < 4; i++)
		snprintf(buf + 16 * i, 17, "%016llx", (unsigned long long)r->s[i]);
}

int sh_rng_from_string(sh_rng *r, const char *s)
{
	if (!s || strlen(s) != 64)
		return sh_error("bad RNG state: want 64 hex digits");
	sh_rng t;
	for (int i = 0; i < 4; i++) {
		uint64_t w = 0;
		for (int k = 0; k < 16; k++) {
			char c = s[16 * i + k];
			int d = c >= '0' && c <= '9'   ? c - '0'
				: c >= 'a' && c <= 'f' ? c - 'a' + 10
				: c >= 'A' && c <= 'F' ? c - 'A' + 10
						       : -1;
			if (d < 0)
				return sh_error("bad RNG state: '%c' is not a hex digit", c);
			w = w << 4 | (uint64_t)d;
		}
		t.s[i] = w;
	}
	if (!(t.s[0] | t.s[1] | t.s[2] | t.s[3]))
		return sh_error("bad RNG state: all zeros");
	*r = t;
	return 0;
}
