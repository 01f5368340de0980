/* ddsp.h: DDSP's harmonic-plus-noise synthesizer (Magenta's Harmonic and FilteredNoise synths,
 * exactly as they define them) and the analysis that drives it: YIN f0 with a voicing decision,
 * DDSP v3's A-weighted loudness, per-harmonic amplitudes measured at multiples of f0, the
 * residual's noise band magnitudes, and DDSP's multi-scale spectral loss.
 *
 * Time alignment: controls are frame-rate tensors, frame k sits at sample k·hop (the synth's
 * upsampling anchors there, and analysis frame k is centred there). F frames synthesise F·hop
 * samples; analysing N samples gives F = ceil(N/hop) frames. */
#ifndef SHARKS_DDSP_H
#define SHARKS_DDSP_H

#include "safetensors.h"

#include <stddef.h>
#include <stdint.h>

#define DDSP_RATE 16000
#define DDSP_HOP 64
/* Bounds of the rate and hop, from the command line or from a controls file's metadata alike. */
#define DDSP_RATE_MIN 1000
#define DDSP_RATE_MAX 384000
#define DDSP_HOP_MAX 65536
#define DDSP_HARMONICS 60
#define DDSP_BANDS 65
#define DDSP_NOISE_BIAS (-5.0f) /* FilteredNoise.initial_bias, added before exp_sigmoid */

/* Frame-rate controls. harmonics is (F, K) row-major, noise (F, B) or NULL when B = 0. */
typedef struct {
	int n_frames, n_harmonics, n_bands;
	float *f0_hz, *amplitude, *harmonics, *noise;
} ddsp_controls;

/* 2·sigmoid(x)^ln(10) + 1e-7: DDSP's scale function for network outputs. */
float ddsp_exp_sigmoid(float x);
/* Turns raw network outputs into controls, in place: exp_sigmoid on amplitude and harmonics,
 * exp_sigmoid(x - 5) on the noise magnitudes. f0 is left alone. */
void ddsp_apply_logits(ddsp_controls *c);
/* Checks that the controls are finite and that f0 (and, unless logits, the amplitudes,
 * harmonics and noise magnitudes) are non-negative; the message names the tensor and frame. */
int ddsp_controls_check(const ddsp_controls *c, int logits);

/* Reads controls from a safetensors file: f0_hz (F) or (F, 1) with F >= 1, amplitude likewise,
 * harmonics (F, K), optional noise (F, B) with B >= 3, float32 or float64, all finite. *rate and
 * *hop: 0 on entry takes the file's sample_rate / hop metadata (absent: DDSP_RATE, DDSP_HOP),
 * held to the command line's bounds (refused outside them). On failure nothing is left
 * allocated and the error names the tensor or key. */
int ddsp_controls_read(const st_file *sf, ddsp_controls *c, int *rate, int *hop);
void ddsp_controls_free(ddsp_controls *c);

/* DDSP's normalize_harmonics: zero each harmonic h (1-based) with h·f0 >= sr/2, then divide
 * the frame by its sum (an all-zero frame stays zero). dist is (F, K), in place. */
void ddsp_normalize_harmonics(float *dist, const float *f0, int F, int K, double sr);
/* DDSP's resample(method='linear'): out[n] = x at source position n/hop, linear between
 * frames, last frame held. out has F·hop samples. */
void ddsp_upsample_linear(float *out, const float *x, int F, int hop);
/* DDSP's upsample_with_windows (overlapping Hann windows, last frame repeated):
 * out[k·hop + r] = x[k](½+½cos πr/hop) + x[k+1](½-½cos πr/hop). */
void ddsp_upsample_windowed(float *out, const float *x, int F, int hop);

/* The synthesizer: FFTW plans and scratch made once, reused for every call. */
typedef struct ddsp_synth ddsp_synth;
ddsp_synth *ddsp_synth_new(double sr, int hop, int n_harmonics, int n_bands);
void ddsp_synth_free(ddsp_synth *s);
/* Harmonic synth: writes F·hop samples to out. dist is the (F, K) distribution before
 * normalisation (normalised here as DDSP does); amp is (F). */
int ddsp_synth_harmonic(ddsp_synth *s, float *out, const float *f0, const float *amp, const float *dist, int F);
/* Filtered noise: ADDS F·hop samples of uniform white noise (from seed) filtered per 64-sample
 * block by the frame's zero-phase Hann-windowed FIR designed from B band magnitudes (F, B). */
int ddsp_synth_noise(ddsp_synth *s, float *out, const float *mags, int F, uint64_t seed);
/* Both: out (F·hop) = harmonic + noise (when c->noise). */
int ddsp_synthesize(ddsp_synth *s, float *out, const ddsp_controls *c, uint64_t seed);

/* Plain reference kernels (per-harmonic sin of a double phase; direct time-domain
 * convolution), held equal to the fast ones by tests/unit/test_ddsp.c. */
int ddsp_harmonic_ref(float *out, const float *f0, const float *amp, const float *dist, int F, int K, int hop,
		      double sr);
int ddsp_noise_ref(float *out, const float *mags, int F, int B, int hop, uint64_t seed);

/* The noise source: splitmix64 from seed, sample = 2·(top 24 bits)/2^24 - 1, in [-1, 1). */
void ddsp_white_noise(float *out, size_t n, uint64_t seed);
/* The causal impulse response (length 2(B-1)) designed from B band magnitudes:
 * irfft, Hann window in zero-phase position, rotated to causal form. */
int ddsp_noise_ir(float *ir, const float *mags, int B);

/* Analysis. */
typedef struct {
	double sr;
	int hop, n_harmonics, n_bands;
	double fmin, fmax;        /* f0 search range, Hz */
	double yin_threshold;     /* first dip of the normalised difference below this */
	double voicing_threshold; /* voiced when the chosen dip is below this ... */
	double silence_db;        /* ... and the frame's level (dBFS, RMS) is above this */
} ddsp_analysis_opts;
void ddsp_analysis_defaults(ddsp_analysis_opts *o);

/* Controls plus the analysis-only tracks. All arrays are F long (harmonics F×K, noise F×B). */
typedef struct {
	ddsp_controls c;
	float *loudness_db, *voiced, *f0_confidence;
	void *mem;
} ddsp_features;
void ddsp_features_free(ddsp_features *f);

typedef struct ddsp_analyzer ddsp_analyzer;
ddsp_analyzer *ddsp_analyzer_new(const ddsp_analysis_opts *o);
void ddsp_analyzer_free(ddsp_analyzer *a);
/* Full analysis of n samples into F = ceil(n/hop) frames (n >= 1). */
int ddsp_analyze(ddsp_analyzer *a, const float *x, size_t n, ddsp_features *out);

/* The pieces, for tests and reuse (frame k centred on sample k·hop, zeros outside [0, n)). */
/* YIN: f0 (Hz, unvoiced frames filled by interpolation), voiced (0/1), confidence (1 - d'). */
int ddsp_f0_yin(ddsp_analyzer *a, const float *x, size_t n, int F, float *f0, float *voiced, float *confidence);
/* DDSP v3 loudness in dB (n_fft 512, centred frames, A-weighting on power, mean over bins,
 * 10·log10 floored at -120 dB). The network input is loudness_db/80 + 1. */
int ddsp_loudness(ddsp_analyzer *a, const float *x, size_t n, int F, float *loudness_db);
/* librosa.A_weighting(f, min_db=-80). */
double ddsp_a_weighting_db(double f);
/* Per-harmonic amplitudes A[k][h] = 2|DTFT at (h+1)·f0[k]| / Σw of a Hann window of a whole
 * number of periods (>= 4, >= 128 samples) centred on k·hop, and (phases not NULL) their
 * phases at the window's centre. (F, K) each. */
int ddsp_harmonic_amplitudes(ddsp_analyzer *a, const float *x, size_t n, int F, const float *f0, float *amps,
			     float *phases);
/* resid = x less its voiced frames' harmonics, each frame resynthesised as steady sinusoids
 * with the measured amplitudes and phases and crossfaded with Hann halves over ±hop. */
int ddsp_harmonic_residual(ddsp_analyzer *a, const float *x, size_t n, int F, const float *f0, const float *amps,
			   const float *phases, const float *voiced, float *resid);
/* Band magnitudes (F, B) that make the synth's filtered noise match the power spectrum of
 * the residual r around each noise block. */
int ddsp_noise_bands(ddsp_analyzer *a, const float *r, size_t n, int F, float *mags);

/* DDSP's multi-scale spectral loss (FFT sizes 2048 ... 64, hop size/4, periodic Hann,
 * end zero-padded, mean L1 of magnitudes + mean L1 of log max(mag, 1e-5)), summed. */
double ddsp_spectral_loss(const float *a, const float *b, size_t n);

#endif
