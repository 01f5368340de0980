/* rng.h: a small pseudo-random generator with explicit state (xoshiro256**, seeded through
 * splitmix64), so that every random choice comes from a seed and a checkpoint can save and
 * restore the exact position of the stream. The state is four 64-bit words; nothing is cached
 * beside them (sh_rng_normal draws two uniforms per call), so saving the words is enough. */
#ifndef SHARKS_RNG_H
#define SHARKS_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint64_t s[4];
} sh_rng;

/* splitmix64 (Steele, Lea and Flood; Vigna's constants), the one copy: its output function,
 * a strong 64-bit mix of z, and one step of its stream (adds the golden ratio to *state and
 * mixes the result). Inline: the noise and pixel loops call it per value. */
#define SH_SPLITMIX64_GAMMA 0x9e3779b97f4a7c15ULL
static inline uint64_t sh_splitmix64_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
static inline uint64_t sh_splitmix64(uint64_t *state) { return sh_splitmix64_mix(*state += SH_SPLITMIX64_GAMMA); }

/* Seeds the four words from one 64-bit seed with splitmix64 (never all zero). */
void sh_rng_seed(sh_rng *r, uint64_t seed);
/* Seeds an independent stream: the same seed with different `stream` values gives unrelated
 * sequences (for separate purposes, e.g. data shuffling vs initialisation). */
void sh_rng_seed_stream(sh_rng *r, uint64_t seed, uint64_t stream);
uint64_t sh_rng_next(sh_rng *r);
/* Uniform in [0, 1) with 53 (double) or 24 (float) random bits. */
double sh_rng_uniform(sh_rng *r);
float sh_rng_uniformf(sh_rng *r);
/* Uniform integer in [0, n), unbiased (n > 0). */
uint64_t sh_rng_below(sh_rng *r, uint64_t n);
/* Standard normal (Box-Muller, two uniforms per call, the second value discarded). */
double sh_rng_normal(sh_rng *r);
/* Fisher-Yates shuffle of n ints. */
void sh_rng_shuffle(sh_rng *r, int *a, size_t n);

/* State as 64 lowercase hex digits (buffer of at least SH_RNG_STR bytes), and back;
 * sh_rng_from_string returns -1 with an error for anything but 64 hex digits or all zeros. */
#define SH_RNG_STR 65
void sh_rng_to_string(const sh_rng *r, char *buf);
int sh_rng_from_string(sh_rng *r, const char *s);

#endif
