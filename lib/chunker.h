/* chunker.h: cutting a stream of mono samples into fixed-length chunks (wavchunk's work, see
 * docs/wavchunk.md): a ring that always holds the last chunk's worth of samples, so that memory
 * stays at one chunk whatever the length of the stream; the silence test; and the two plans of
 * chunk starts (every HOP samples within a file, or N parts spread over the whole input). */
#ifndef SHARKS_CHUNKER_H
#define SHARKS_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	size_t len;  /* samples per chunk */
	float *ring; /* (len,) sample t of the stream sits at ring[t % len] */
	int64_t pos; /* samples pushed since the last reset */
} chunk_ring;

int chunk_ring_init(chunk_ring *r, size_t len);
void chunk_ring_free(chunk_ring *r);
/* Starts a new stream (pos = 0). */
void chunk_ring_reset(chunk_ring *r);
/* Appends n samples; only the last len of all pushed samples are kept. */
void chunk_ring_push(chunk_ring *r, const float *x, size_t n);
/* Copies the last len samples, oldest first, into out (len,); the stream must hold len. */
void chunk_ring_last(const chunk_ring *r, float *out);

/* Counts the windows of win samples (the last one may be shorter) whose RMS is below db dBFS
 * (20·log10 of the RMS, 0 dBFS being a full-scale square wave); *nwin gets the window count. */
size_t chunk_silent_windows(const float *x, size_t n, size_t win, double db, size_t *nwin);
/* Whether more than half of the windows are silent. */
int chunk_is_silent(const float *x, size_t n, size_t win, double db);

/* Clamps x to [-1, 1] in place (decoders and resamplers overshoot a little on loud input);
 * returns how many samples were outside. */
size_t chunk_clamp(float *x, size_t n);

/* Regular plan: chunks of len samples starting every hop samples (0, hop, 2·hop ...) that fit
 * whole into a stream of total samples: floor((total-len)/hop)+1, or 0 when total < len. */
int64_t chunk_count(int64_t total, int64_t len, int64_t hop);

/* Parts plan: start of part i of n over a stream of total >= len samples,
 * floor(i·(total-len)/(n-1)) (0 when n = 1): the first part starts at the first sample, the
 * last ends at the last, the others are spread evenly between. Non-decreasing in i. */
int64_t chunk_part_start(int64_t i, int64_t n, int64_t total, int64_t len);

#endif
