/* audiofeat.c: album audio statistics for the cover (see audiofeat.h). Samples stream into a
 * frame buffer; every AUDIOFEAT_HOP samples a windowed frame is transformed and its features
 * are added to running sums (double precision), so memory stays bounded however long the
 * album is. */
#include "audiofeat.h"
#include "audio.h"
#include "fft.h"
#include "util.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NBIN (AUDIOFEAT_FFT / 2 + 1)
#define SILENCE_RMS 1e-3 /* -60 dBFS */
#define CHROMA_LO 65.0   /* Hz: below this a bin spans more than a semitone */
#define CHROMA_HI 4200.0

struct audiofeat_acc {
	float *frame;             /* (FFT) samples waiting to be analysed */
	float *windowed;          /* (FFT) FFTW input */
	fftwf_complex *spec;      /* (NBIN) FFTW output */
	float *window;            /* (FFT) periodic Hann */
	float *power;             /* (NBIN) scratch */
	signed char *pitch_class; /* (NBIN) bin → pitch class, -1 outside the chroma range */
	fftwf_plan plan;
	size_t fill; /* samples in frame */
	/* running sums */
	long frames, active;
	double samples, sum_sq, peak;
	double cen, cen2, roll, roll2, flat, flat2, loud, loud2;
	double chroma[12];
};

audiofeat_acc *audiofeat_new(void)
{
	audiofeat_acc *a = sh_alloc(sizeof *a);
	if (!a)
		return NULL;
	a->frame = sh_alloc(AUDIOFEAT_FFT * sizeof(float));
	a->window = sh_alloc(AUDIOFEAT_FFT * sizeof(float));
	a->power = sh_alloc(NBIN * sizeof(float));
	a->pitch_class = sh_alloc(NBIN);
	a->windowed = fftwf_malloc(AUDIOFEAT_FFT * sizeof(float));
	a->spec = fftwf_malloc(NBIN * sizeof(fftwf_complex));
	if (!a->frame || !a->window || !a->power || !a->pitch_class || !a->windowed || !a->spec) {
		sh_error("out of memory");
		audiofeat_free(a);
		return NULL;
	}
	a->plan = sh_fft_plan_r2c(AUDIOFEAT_FFT, a->windowed, a->spec);
	if (!a->plan) {
		audiofeat_free(a);
		return NULL;
	}
	sh_hann_periodic(a->window, AUDIOFEAT_FFT);
	for (int k = 0; k < NBIN; k++) {
		double f = (double)k * AUDIOFEAT_RATE / AUDIOFEAT_FFT;
		a->pitch_class[k] = -1;
		if (f >= CHROMA_LO && f <= CHROMA_HI) {
			long midi = lround(69 + 12 * log2(f / 440.0));
			a->pitch_class[k] = (signed char)(midi % 12); /* MIDI 60 is C */
		}
	}
	return a;
}

void audiofeat_free(audiofeat_acc *a)
{
	if (!a)
		return;
	sh_fft_destroy(a->plan);
	fftwf_free(a->windowed);
	fftwf_free(a->spec);
	free(a->frame);
	free(a->window);
	free(a->power);
	free(a->pitch_class);
	free(a);
}

static void analyse_frame(audiofeat_acc *a)
{
	double e = 0;
	for (int i = 0; i < AUDIOFEAT_FFT; i++) {
		e += (double)a->frame[i] * a->frame[i];
		a->windowed[i] = a->frame[i] * a->window[i];
	}
	a->frames++;
	double rms = sqrt(e / AUDIOFEAT_FFT);
	if (rms < SILENCE_RMS)
		return;
	a->active++;
	double loud = 20 * log10(rms);
	a->loud += loud, a->loud2 += loud * loud;

	fftwf_execute(a->plan);
	const double df = (double)AUDIOFEAT_RATE / AUDIOFEAT_FFT;
	double mag_sum = 0, fmag_sum = 0, pow_sum = 0, log_pow_sum = 0;
	double chroma[12] = {0}, chroma_sum = 0;
	/* DC is left out: it says nothing about timbre */
	for (int k = 1; k < NBIN; k++) {
		double re = a->spec[k][0], im = a->spec[k][1];
		double p = re * re + im * im, m = sqrt(p);
		a->power[k] = (float)m;
		mag_sum += m, fmag_sum += k * df * m;
		pow_sum += p + 1e-12, log_pow_sum += log(p + 1e-12);
		if (a->pitch_class[k] >= 0)
			chroma[a->pitch_class[k]] += p, chroma_sum += p;
	}
	double centroid = mag_sum > 0 ? fmag_sum / mag_sum : 0;
	double acc = 0, rolloff = (NBIN - 1) * df;
	for (int k = 1; k < NBIN; k++) {
		acc += a->power[k];
		if (acc >= 0.85 * mag_sum) {
			rolloff = k * df;
			break;
		}
	}
	int nb = NBIN - 1;
	double flatness = exp(log_pow_sum / nb) / (pow_sum / nb);
	a->cen += centroid, a->cen2 += centroid * centroid;
	a->roll += rolloff, a->roll2 += rolloff * rolloff;
	a->flat += flatness, a->flat2 += flatness * flatness;
	if (chroma_sum > 0)
		for (int c = 0; c < 12; c++)
			a->chroma[c] += chroma[c] / chroma_sum;
}

int audiofeat_add_samples(audiofeat_acc *a, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double v = x[i];
		a->sum_sq += v * v;
		if (fabs(v) > a->peak)
			a->peak = fabs(v);
	}
	a->samples += (double)n;
	while (n > 0) {
		size_t take = SH_MIN(n, (size_t)AUDIOFEAT_FFT - a->fill);
		memcpy(a->frame + a->fill, x, take * sizeof(float));
		a->fill += take, x += take, n -= take;
		if (a->fill == AUDIOFEAT_FFT) {
			analyse_frame(a);
			memmove(a->frame, a->frame + AUDIOFEAT_HOP, (AUDIOFEAT_FFT - AUDIOFEAT_HOP) * sizeof(float));
			a->fill = AUDIOFEAT_FFT - AUDIOFEAT_HOP;
		}
	}
	return 0;
}

int audiofeat_add_file(audiofeat_acc *a, const char *path)
{
	/* SRC_SINC_FASTEST: still band-limited (no aliasing into the statistics), and about
	 * twice as fast as the default converter, which otherwise dominates the running time */
	audio_reader *r = audio_open(path, AUDIOFEAT_RATE, audio_quality_from_name("fastest"));
	if (!r)
		return -1;
	enum { CHUNK = 16384 };
	float *buf = sh_alloc(CHUNK * sizeof(float));
	if (!buf) {
		audio_close(r);
		return -1;
	}
	a->fill = 0; /* frames do not straddle files */
	long got;
	while ((got = audio_read(r, buf, CHUNK)) > 0)
		audiofeat_add_samples(a, buf, (size_t)got);
	free(buf);
	audio_close(r);
	a->fill = 0;
	return got < 0 ? -1 : 0;
}

static float spread(double s, double s2, long n)
{
	double m = s / n, v = s2 / n - m * m;
	return (float)(v > 0 ? sqrt(v) : 0);
}

void audiofeat_get(const audiofeat_acc *a, audiofeat *f)
{
	memset(f, 0, sizeof *f);
	f->seconds = a->samples / AUDIOFEAT_RATE;
	f->frames = a->frames;
	f->active_frames = a->active;
	double csum = 0;
	for (int c = 0; c < 12; c++)
		csum += a->chroma[c];
	for (int c = 0; c < 12; c++)
		f->chroma[c] = csum > 0 ? (float)(a->chroma[c] / csum) : 1.0f / 12;
	if (a->samples > 0 && a->sum_sq > 0)
		f->crest_db = (float)(20 * log10(a->peak / sqrt(a->sum_sq / a->samples)));
	long n = a->active;
	if (n == 0)
		return;
	f->centroid_mean = (float)(a->cen / n), f->centroid_std = spread(a->cen, a->cen2, n);
	f->rolloff_mean = (float)(a->roll / n), f->rolloff_std = spread(a->roll, a->roll2, n);
	f->flatness_mean = (float)(a->flat / n), f->flatness_std = spread(a->flat, a->flat2, n);
	f->loudness_mean = (float)(a->loud / n), f->loudness_std = spread(a->loud, a->loud2, n);
}

static float clip3(double v) { return (float)(v > 3 ? 3 : v < -3 ? -3 : v); }

void audiofeat_vector(const audiofeat *f, float *v)
{
	if (f->active_frames == 0) {
		/* nothing audible: the neutral point, so the seed alone decides */
		for (int i = 0; i < AUDIOFEAT_DIM; i++)
			v[i] = 0;
		return;
	}
	/* centres and scales: rough values for music at 16 kHz (centroid ~1.5 kHz, rolloff
	 * ~3 kHz, flatness ~0.01, frame loudness ~-20 dBFS with ~6 dB of spread, crest ~15 dB) */
	double cen = f->centroid_mean > 1 ? f->centroid_mean : 1;
	double roll = f->rolloff_mean > 1 ? f->rolloff_mean : 1;
	double flat = f->flatness_mean > 1e-6 ? f->flatness_mean : 1e-6;
	v[0] = clip3((log2(cen) - log2(1500.0)) / 1.5);
	v[1] = clip3((f->centroid_std / cen - 0.4) / 0.3);
	v[2] = clip3((log2(roll) - log2(3000.0)) / 1.5);
	v[3] = clip3((f->rolloff_std / roll - 0.4) / 0.3);
	v[4] = clip3(log10(flat) + 2);
	v[5] = clip3(f->flatness_std / flat - 1);
	v[6] = clip3((f->loudness_mean + 20) / 10);
	v[7] = clip3((f->loudness_std - 6) / 4);
	v[8] = clip3((f->crest_db - 15) / 6);
	for (int c = 0; c < 12; c++)
		v[9 + c] = clip3((f->chroma[c] * 12 - 1) * 2);
}
