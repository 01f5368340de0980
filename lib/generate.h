/* generate.h: N streams from a model (SampleRNN or WaveNet), the loop that qsample and qtrain's
 * clips share. Streams are made `batch` at a time. SampleRNN: a batch is split into `threads`
 * groups that run in parallel, each with its own sampler (the per-sample products are too
 * small to share out within one step). WaveNet: one fast-generation sampler (wavenet_sample.h)
 * takes the whole batch and shares its products out among the threads itself. Stream k draws
 * from its own generator sh_rng_seed_stream(seed, k), so its codes do not depend on the batch
 * or group it was made in. A prime (the same codes for every stream) is fed through the
 * samplers' own step code before drawing starts. */
#ifndef SHARKS_GENERATE_H
#define SHARKS_GENERATE_H

#include "model.h"
#include "mulaw.h"
#include "qmat.h"
#include "srnn_sample.h"

#include <signal.h>
#include <stdint.h>

typedef struct {
	long n;                /* streams ... */
	long first;            /* ... first, first + 1, ... (a share of them under mpirun) */
	int batch;             /* streams made at once (0: all) */
	long samples;          /* per stream, after the prime; < 0: without end (until
	                                  the sink or stop ends it) */
	const uint16_t *prime; /* unless NULL: prime_len codes every stream is primed with
	                                  after its start (srnn_sampler_prime, wn_sampler_prime) */
	long prime_len;
	int keep_prime; /* the sink receives the prime before the generated codes */
	float temperature;
	srnn_h0_mode h0; /* SampleRNN's initial state; WaveNet starts from Q/2 codes */
	uint64_t seed;
	int threads;                 /* groups run in parallel */
	qmat_type weights;           /* how the samplers store their weight matrices (qmat.h) */
	double *weight_error;        /* unless NULL: receives the largest relative row error of
	                                  the stored weights (0 for f32) */
	volatile sig_atomic_t *stop; /* raised: stop between blocks and return 1 */
} gen_spec;

/* Receives each block of a stream's codes, in order. Sinks of different streams may run at
 * the same time (one thread per group); return -1 with an error to stop everything. */
typedef int (*gen_sink)(void *ctx, long stream, const uint16_t *codes, int len);
/* Told before a batch starts (first stream, count) and after it ends: open and close outputs. */
typedef int (*gen_batch)(void *ctx, long first, int count, int done);
/* Progress in samples generated over all streams (called from one thread). */
typedef void (*gen_progress)(void *ctx, double samples);

/* A prime's codes into *codes (malloc'd) and *len: an audio file (by its extension: decoded,
 * mixed down, resampled to rate and encoded with quant) or the first record of a tensor stream of
 * codes in [0, quant->levels) ("-": stdin); only its last `keep` codes when keep > 0 (audio is
 * read in blocks, holding at most about twice that). 0, or -1 with an error (without the file's
 * name) when it cannot be decoded, is empty, claims a rate below 1 kHz or above 768 kHz, holds
 * audio samples that are not finite, audio samples in a tensor stream, or codes out of range. */
int gen_load_prime(const char *path, int rate, const mulaw_quantiser *quant, long keep, uint16_t **codes, long *len);

/* Returns 0, 1 when stopped, or -1 with an error. */
int gen_streams(model *m, const gen_spec *g, gen_batch on_batch, gen_sink sink, gen_progress progress, void *ctx);

#endif
