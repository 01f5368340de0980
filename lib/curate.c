/* curate.c: repair, trimming, scoring and rejection of clips, ordering, track splitting and
 * crossfaded rendering (see curate.h). The rules were calibrated on a labelled corpus of real
 * music of five genres and of junk (issue 15, bench/curate-corpus.sh, docs/curate.md):
 * - repair: a 20 Hz high-pass removes any DC offset (no reason to reject);
 * - clipping: only heavy clipping (5% of the samples) rejects; mastered music clips a little;
 * - clicks: the kurtosis of the first difference (noise 3, music up to ~170, clicks 470+);
 * - noise: on one STFT of the trimmed clip (512-point Hann frames, hop 256), band energies
 *   over blocks of 16 frames; a block is static when it changes from the previous one no
 *   more than stationary noise does (given each band's effective width) and its spectrum is
 *   noise-like against its local mean, or when it is steadier than noise (a hum); a clip most
 *   of whose blocks are static is noise. Spectral flatness alone cannot tell a wall of
 *   distorted guitars from hiss; their change from block to block can;
 * - loops: two stages. Log energies in 29 log-spaced bands (FFT bins 2 to 256), each band's
 *   slow trend (a 17-frame moving average) removed, each frame centred across bands and
 *   normalised; the score of a period L is the mean cosine similarity of frames L apart, in
 *   each quarter of the clip, the smallest quarter kept, so only a pattern repeated through
 *   the whole clip scores high. A band's riff scores high there too, so the waveform must
 *   also repeat to the sample: its normalised autocorrelation (one FFT) above 0.99 at some
 *   lag in the loop periods. A stuck model or a copied stretch does; human timing does not. */
#include "curate.h"
#include "fft.h"
#include "fingerprint.h"
#include "util.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NBANDS_MAX 33
#define TREND_HALF 8 /* the moving average spans 2·8 + 1 frames */
#define NOISE_GATE_DB 30.0

void curate_default_opts(curate_opts *o)
{
	*o = (curate_opts){
		.rate = 16000,
		.top_db = 50,
		.floor_db = -60,
		.min_seconds = 3,
		.highpass = 20,
		.noise_change = 1.4,
		.noise_local = 0.45,
		.noise_steady = 1.1,
		.noise_fraction = 0.55,
		.max_kurtosis = 300,
		.loop_threshold = 0.5,
		.loop_corr = 0.99,
		.loop_min_period = 0.1,
		.loop_max_period = 3,
		.clip_level = 0.999,
		.max_clip_fraction = 0.05,
		.target_db = -20,
		.max_gain_db = 12,
		.crossfade = 1,
		.track_minutes = 4,
		.max_offset = 10,
		.min_overlap = 4,
		.neighbours = 3,
	};
}

const char *curate_reason_name(int bit)
{
	static const char *names[CURATE_NREASONS] = {"silence", "short", "clipping", "clicks", "noise", "loop"};
	return bit >= 0 && bit < CURATE_NREASONS ? names[bit] : "?";
}

/* ---- trimming ---- */

size_t curate_trim_frames(size_t n) { return 1 + n / CURATE_TRIM_HOP; }

/* Frame f covers samples [64f - 128, 64f + 128) of the zero-padded clip. */
void curate_frame_power_ref(const float *x, size_t n, double *ms)
{
	size_t nf = curate_trim_frames(n);
	for (size_t f = 0; f < nf; f++) {
		double s = 0;
		for (long i = (long)(f * CURATE_TRIM_HOP) - CURATE_TRIM_FRAME / 2;
		     i < (long)(f * CURATE_TRIM_HOP) + CURATE_TRIM_FRAME / 2; i++)
			if (i >= 0 && i < (long)n)
				s += (double)x[i] * x[i];
		ms[f] = s / CURATE_TRIM_FRAME;
	}
}

/* The same with a running sum over hops: each hop's energy is summed once, and a frame is the
 * four hops it spans. Blocks of 64 are summed directly so no rounding accumulates. */
void curate_frame_power(const float *x, size_t n, double *ms)
{
	size_t nf = curate_trim_frames(n);
	size_t nh = (n + CURATE_TRIM_HOP - 1) / CURATE_TRIM_HOP; /* hop blocks */
	/* frame f spans blocks f-2 .. f+1 */
	double b[4] = {0, 0, 0, 0}; /* blocks f-2, f-1, f, f+1 as the window slides */
	for (size_t f = 0; f < nf; f++) {
		if (f == 0) {
			for (int k = 0; k < 2; k++) {
				size_t blk = (size_t)k;
				double s = 0;
				if (blk < nh)
					for (size_t i = blk * CURATE_TRIM_HOP;
					     i < SH_MIN(n, (blk + 1) * CURATE_TRIM_HOP); i++)
						s += (double)x[i] * x[i];
				b[2 + k] = s;
			}
		} else {
			b[0] = b[1];
			b[1] = b[2];
			b[2] = b[3];
			size_t blk = f + 1;
			double s = 0;
			if (blk < nh)
				for (size_t i = blk * CURATE_TRIM_HOP; i < SH_MIN(n, (blk + 1) * CURATE_TRIM_HOP); i++)
					s += (double)x[i] * x[i];
			b[3] = s;
		}
		ms[f] = (((b[0] + b[1]) + b[2]) + b[3]) / CURATE_TRIM_FRAME;
	}
}

static double power_db(double ms) { return 10 * log10(ms > 1e-10 ? ms : 1e-10); }

void curate_trim(const double *ms, size_t n, double top_db, size_t *start, size_t *end, double *loudest_db)
{
	size_t nf = curate_trim_frames(n);
	double top = 0;
	for (size_t f = 0; f < nf; f++)
		top = ms[f] > top ? ms[f] : top;
	double ref = power_db(top);
	*loudest_db = ref;
	long first = -1, last = -1;
	for (size_t f = 0; f < nf; f++)
		if (power_db(ms[f]) - ref > -top_db) {
			if (first < 0)
				first = (long)f;
			last = (long)f;
		}
	if (first < 0) {
		*start = *end = 0;
		return;
	}
	*start = SH_MIN(n, (size_t)first * CURATE_TRIM_HOP);
	*end = SH_MIN(n, (size_t)(last + 1) * CURATE_TRIM_HOP);
}

/* ---- repair: the high-pass ---- */

/* Second-order Butterworth high-pass (bilinear transform), run from the steady state of a
 * clip that had always held x[0]: a constant input gives exactly 0 from the first sample, so a
 * DC-shifted clip starts without a step. */
void curate_highpass(float *x, size_t n, int rate, double hz)
{
	if (hz <= 0 || n == 0 || hz >= rate / 2.0)
		return;
	double k = tan(M_PI * hz / rate), q = M_SQRT2, norm = 1 / (1 + q * k + k * k);
	double b0 = norm, b1 = -2 * norm, b2 = norm;
	double a1 = 2 * (k * k - 1) * norm, a2 = (1 - q * k + k * k) * norm;
	double x1 = x[0], x2 = x[0], y1 = 0, y2 = 0;
	for (size_t i = 0; i < n; i++) {
		double in = x[i], y = b0 * in + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
		x2 = x1;
		x1 = in;
		y2 = y1;
		y1 = y;
		x[i] = (float)y;
	}
}

/* ---- STFT features ---- */

struct curate_analyzer {
	fftwf_plan plan;
	float *in;           /* CURATE_FFT */
	fftwf_complex *spec; /* CURATE_FFT/2 + 1 */
	float window[CURATE_FFT];
	float power[CURATE_FFT / 2];
	double binsum[CURATE_FFT / 2]; /* power per bin summed over the frames */
	int nbands, edge[NBANDS_MAX + 1];
	size_t cap; /* frames the buffers below hold */
	double *ms; /* trim frame powers (grown separately: capms) */
	size_t capms;
	float *flat;       /* per STFT frame */
	float *local;      /* per STFT frame: flatness against the local spectrum */
	float *energy;     /* per STFT frame */
	float *feat;       /* frames × nbands */
	float *trend;      /* frames × nbands */
	double *prod;      /* frames */
	double *lag_score; /* frames: loop score by period */
	float *lagprod;    /* frames: frame-by-frame products at one period */
	/* waveform autocorrelation: a transform of acn points (a power of two), planned once per
	 * size */
	size_t acn;
	float *acx;
	fftwf_complex *acs;
	fftwf_plan acf, aci;
	double *acsum; /* prefix sums of x², acn + 1 */
};

curate_analyzer *curate_analyzer_new(void)
{
	curate_analyzer *a = sh_alloc(sizeof *a);
	if (!a)
		return NULL;
	a->in = fftwf_alloc_real(CURATE_FFT);
	a->spec = fftwf_alloc_complex(CURATE_FFT / 2 + 1);
	if (!a->in || !a->spec) {
		curate_analyzer_free(a);
		sh_error("out of memory");
		return NULL;
	}
	a->plan = sh_fft_plan_r2c(CURATE_FFT, a->in, a->spec);
	if (!a->plan) {
		curate_analyzer_free(a);
		return NULL;
	}
	sh_hann_periodic(a->window, CURATE_FFT);
	/* band edges round(2·128^(i/32)) on the FFT bins, repeats dropped: narrow at the bottom,
	 * about a third of an octave at the top */
	int nb = 0;
	for (int i = 0; i <= 32; i++) {
		int e = (int)lround(2 * pow(128.0, i / 32.0));
		if (nb == 0 || e > a->edge[nb - 1])
			a->edge[nb++] = e;
	}
	a->edge[nb - 1] = CURATE_FFT / 2 + 1; /* the top band includes Nyquist */
	a->nbands = nb - 1;
	return a;
}

static void free_autocorr(curate_analyzer *a)
{
	sh_fft_destroy(a->acf);
	sh_fft_destroy(a->aci);
	a->acf = a->aci = NULL;
	fftwf_free(a->acx);
	fftwf_free(a->acs);
	free(a->acsum);
	a->acx = NULL;
	a->acs = NULL;
	a->acsum = NULL;
	a->acn = 0;
}

void curate_analyzer_free(curate_analyzer *a)
{
	if (!a)
		return;
	sh_fft_destroy(a->plan);
	free_autocorr(a);
	fftwf_free(a->in);
	fftwf_free(a->spec);
	free(a->ms);
	free(a->flat);
	free(a->local);
	free(a->energy);
	free(a->feat);
	free(a->trend);
	free(a->prod);
	free(a->lag_score);
	free(a->lagprod);
	free(a);
}

static int grow(curate_analyzer *a, size_t frames, size_t trim_frames)
{
	if (trim_frames > a->capms) {
		free(a->ms);
		a->ms = malloc(trim_frames * sizeof *a->ms);
		if (!a->ms) {
			a->capms = 0;
			return sh_error("out of memory (%zu trim frames)", trim_frames);
		}
		a->capms = trim_frames;
	}
	if (frames <= a->cap)
		return 0;
	free(a->flat);
	free(a->local);
	free(a->energy);
	free(a->feat);
	free(a->trend);
	free(a->prod);
	free(a->lag_score);
	free(a->lagprod);
	size_t nb = (size_t)a->nbands;
	a->flat = malloc(frames * sizeof *a->flat);
	a->local = malloc(frames * sizeof *a->local);
	a->energy = malloc(frames * sizeof *a->energy);
	a->feat = malloc(frames * nb * sizeof *a->feat);
	a->trend = malloc(frames * nb * sizeof *a->trend);
	a->prod = malloc(frames * sizeof *a->prod);
	a->lag_score = malloc(frames * sizeof *a->lag_score);
	a->lagprod = malloc(frames * sizeof *a->lagprod);
	if (!a->flat || !a->local || !a->energy || !a->feat || !a->trend || !a->prod || !a->lag_score || !a->lagprod) {
		a->cap = 0;
		return sh_error("out of memory (%zu frames)", frames);
	}
	a->cap = frames;
	return 0;
}

double curate_flatness_ref(const float *power)
{
	double logsum = 0, sum = 0;
	for (int k = 0; k < CURATE_FFT / 2; k++) {
		double p = (double)power[k] + 1e-12;
		logsum += log(p);
		sum += p;
	}
	return exp(logsum / (CURATE_FFT / 2)) / (sum / (CURATE_FFT / 2));
}

/* The same with one log per 16 bins: the product of 16 powers, each within [1e-12, 7e4] for
 * a 512-point Hann frame of |x| <= 1 (and below 1e9 even for |x| up to 100), stays well
 * inside double's range. */
double curate_flatness(const float *power)
{
	double logsum = 0, sum = 0;
	for (int k = 0; k < CURATE_FFT / 2; k += 16) {
		double prod = 1;
		for (int j = k; j < k + 16; j++) {
			double p = (double)power[j] + 1e-12;
			prod *= p;
			sum += p;
		}
		logsum += log(prod);
	}
	return exp(logsum / (CURATE_FFT / 2)) / (sum / (CURATE_FFT / 2));
}

/* Flatness against the local spectrum: exp(mean log(P/S)) over the bins where S, the power
 * averaged over ±LOCAL_HALF bins, is within 40 dB of its largest value. A noise periodogram
 * scatters around its local mean as an exponential variable, so noise of any colour or band
 * scores about exp(-γ) = 0.56 less the window's smoothing; harmonics leave deep valleys
 * between their peaks and score far lower. Each bin's ratio is floored at 1e-3. */
#define LOCAL_HALF 4
double curate_local_flatness(const float *power)
{
	enum { K = CURATE_FFT / 2 };
	double s[K], top = 0, run = 0;
	for (int k = 0; k < LOCAL_HALF && k < K; k++)
		run += power[k];
	for (int k = 0; k < K; k++) { /* window [k - H, k + H] clipped to the spectrum */
		if (k + LOCAL_HALF < K)
			run += power[k + LOCAL_HALF];
		if (k - LOCAL_HALF - 1 >= 0)
			run -= power[k - LOCAL_HALF - 1];
		int lo = SH_MAX(0, k - LOCAL_HALF), hi = SH_MIN(K - 1, k + LOCAL_HALF);
		s[k] = (run > 0 ? run : 0) / (hi - lo + 1);
		top = s[k] > top ? s[k] : top;
	}
	if (top <= 0)
		return 0;
	double sum = 0;
	int m = 0;
	for (int k = 0; k < K; k++)
		if (s[k] >= 1e-4 * top) {
			/* a bin 30 dB under its neighbourhood counts as -30 dB: deep enough for the
			 * valleys between harmonics, and the few bins at the edge of a band of noise
			 * weigh no more than that */
			double r = (double)power[k] / s[k];
			sum += log(r > 1e-3 ? r : 1e-3);
			m++;
		}
	return m ? exp(sum / m) : 0;
}

static int cmp_double(const void *p, const void *q)
{
	double a = *(const double *)p, b = *(const double *)q;
	return (a > b) - (a < b);
}

static double median(double *v, size_t m)
{
	if (!m)
		return 0;
	qsort(v, m, sizeof *v, cmp_double);
	return m & 1 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

/* Power spectra of the frames: flatness, energy and band energies per frame. */
static size_t stft_features(curate_analyzer *a, const float *x, size_t n)
{
	size_t T = n < CURATE_FFT ? 0 : 1 + (n - CURATE_FFT) / CURATE_HOP;
	int nb = a->nbands;
	memset(a->binsum, 0, sizeof a->binsum);
	for (size_t t = 0; t < T; t++) {
		const float *fr = x + t * CURATE_HOP;
		for (int i = 0; i < CURATE_FFT; i++)
			a->in[i] = fr[i] * a->window[i];
		fftwf_execute(a->plan);
		double e = 0;
		for (int k = 1; k <= CURATE_FFT / 2; k++) {
			float re = a->spec[k][0], im = a->spec[k][1];
			a->power[k - 1] = re * re + im * im;
			e += a->power[k - 1];
			a->binsum[k - 1] += a->power[k - 1];
		}
		a->energy[t] = (float)e;
		a->flat[t] = (float)curate_flatness(a->power);
		a->local[t] = (float)curate_local_flatness(a->power);
		float *band = a->feat + t * nb;
		for (int b = 0; b < nb; b++) {
			double s = 0;
			for (int k = a->edge[b]; k < a->edge[b + 1]; k++)
				s += a->power[k - 1];
			band[b] = (float)s;
		}
	}
	return T;
}

/* trigamma(z) by the recurrence up to 6 and the asymptotic series beyond */
static double trigamma(double z)
{
	double r = 0;
	for (; z < 6; z++)
		r += 1 / (z * z);
	double z2 = 1 / (z * z);
	return r + 1 / z + z2 / 2 + z2 / z * (1.0 / 6 - z2 * (1.0 / 30 - z2 / 42));
}

double curate_noise_log_var(double bins)
{
	/* a band's energy over one block of stationary Gaussian noise is about χ² with
	 * 2·bins·CURATE_BLOCK·CURATE_NOISE_DOF_SHARE degrees of freedom (Hann frames at 50% overlap
	 * and the window's leakage into the neighbouring bin share half of them); the variance of
	 * the log of χ²_ν/ν is trigamma(ν/2) */
	return trigamma(bins * CURATE_BLOCK * CURATE_NOISE_DOF_SHARE);
}

/* Noise rule: spectral change from block to block against what stationary noise shows.
 * Blocks of CURATE_BLOCK frames; per block and band the log energy; the change between two
 * blocks is the mean over the clip's active bands of (ΔL)² / (2·var), var the noise variance
 * of that band's log energy, so stationary noise of any colour scores 1, a steady tone or hum
 * less, and notes, chords and beats far more. Scores use the square root (a ratio of standard
 * deviations). Blocks more than NOISE_GATE_DB under the loudest are left out. */
static void noise_scores(curate_analyzer *a, size_t T, const curate_opts *o, curate_scores *s)
{
	int nb = a->nbands;
	s->flatness = s->local_flatness = s->noise_fraction = s->change = 0;
	float top = 0;
	size_t m = 0;
	for (size_t t = 0; t < T; t++)
		top = a->energy[t] > top ? a->energy[t] : top;
	float gate = top * (float)pow(10, -NOISE_GATE_DB / 10);
	for (size_t t = 0; t < T; t++)
		if (a->energy[t] > 1e-20f && a->energy[t] >= gate)
			a->prod[m++] = a->flat[t]; /* prod as scratch for the median */
	s->flatness = median(a->prod, m);
	m = 0;
	for (size_t t = 0; t < T; t++)
		if (a->energy[t] > 1e-20f && a->energy[t] >= gate)
			a->prod[m++] = a->local[t];
	s->local_flatness = median(a->prod, m);
	size_t NB = T / CURATE_BLOCK;
	if (NB < 2)
		return;
	/* block band energies into trend[j·nb + b], block energy into lag_score[j]; the active
	 * bands are those whose mean power per bin is within 60 dB of the strongest band's */
	double bandmean[NBANDS_MAX], best = 0, btop = 0;
	for (int b = 0; b < nb; b++)
		bandmean[b] = 0;
	for (size_t j = 0; j < NB; j++) {
		double e = 0;
		for (int b = 0; b < nb; b++) {
			double sb = 0;
			for (size_t t = j * CURATE_BLOCK; t < (j + 1) * CURATE_BLOCK; t++)
				sb += a->feat[t * nb + b];
			a->trend[j * nb + b] = (float)sb;
			bandmean[b] += sb;
			e += sb;
		}
		a->lag_score[j] = e;
		btop = e > btop ? e : btop;
	}
	for (int b = 0; b < nb; b++) {
		bandmean[b] /= (double)NB * (a->edge[b + 1] - a->edge[b]);
		best = bandmean[b] > best ? bandmean[b] : best;
	}
	int active[NBANDS_MAX], na = 0;
	double var[NBANDS_MAX];
	for (int b = 0; b < nb; b++)
		if (best > 0 && bandmean[b] >= best * 1e-4) {
			/* the band's effective width: as many bins as hold its power evenly, (Σp)²/Σp²
			 * of its mean spectrum, so that a band lit by the leakage of a few strong bins
			 * beside it is expected to fluctuate as those few bins do */
			double s1 = 0, s2 = 0;
			for (int k = a->edge[b]; k < a->edge[b + 1]; k++) {
				s1 += a->binsum[k - 1];
				s2 += a->binsum[k - 1] * a->binsum[k - 1];
			}
			var[na] = curate_noise_log_var(s2 > 0 ? s1 * s1 / s2 : 1);
			active[na++] = b;
		}
	if (!na)
		return;
	double bgate = btop * pow(10, -NOISE_GATE_DB / 10);
	size_t pairs = 0, still = 0;
	for (size_t j = 1; j < NB; j++) {
		if (a->lag_score[j] < bgate || a->lag_score[j - 1] < bgate || a->lag_score[j] <= 0)
			continue;
		double d = 0;
		for (int i = 0; i < na; i++) {
			int b = active[i];
			double l1 = log(a->trend[j * nb + b] + 1e-30), l0 = log(a->trend[(j - 1) * nb + b] + 1e-30);
			d += (l1 - l0) * (l1 - l0) / (2 * var[i]);
		}
		double c = sqrt(d / na), local = 0;
		for (size_t t = (j - 1) * CURATE_BLOCK; t < (j + 1) * CURATE_BLOCK; t++)
			local += a->local[t];
		local /= 2 * CURATE_BLOCK;
		/* static: no more change than noise shows, and a noise-like spectrum; or steadier
		 * than noise itself, whatever the spectrum (a hum, a held tone). A held chord with
		 * the slight motion of players or a pad is tonal and changes more than that. */
		still += c < o->noise_change && (local > o->noise_local || c < o->noise_steady);
		a->prod[pairs++] = c;
	}
	s->change = median(a->prod, pairs);
	s->noise_fraction = pairs ? (double)still / pairs : 0;
}

/* Loop rule, first stage: self-similarity of the detrended, normalised band log-energies. */
static void loop_scores(curate_analyzer *a, size_t T, const curate_opts *o, curate_scores *s)
{
	int nb = a->nbands;
	s->loop_score = 0;
	s->loop_period = 0;
	if (T < 8)
		return;
	/* log energies with a floor 30 dB under each band's mean, so that near-silent bands do
	 * not contribute noise */
	for (int b = 0; b < nb; b++) {
		double mean = 0;
		for (size_t t = 0; t < T; t++)
			mean += a->feat[t * nb + b];
		float fl = (float)(1e-3 * mean / T + 1e-10);
		for (size_t t = 0; t < T; t++)
			a->feat[t * nb + b] = logf(a->feat[t * nb + b] + fl);
	}
	/* trend: moving average over 2·TREND_HALF + 1 frames, edges repeated */
	for (int b = 0; b < nb; b++) {
		double sum = 0;
		for (long k = -TREND_HALF; k <= TREND_HALF; k++)
			sum += a->feat[(size_t)SH_MIN(SH_MAX(k, 0L), (long)T - 1) * nb + b];
		for (size_t t = 0; t < T; t++) {
			a->trend[t * nb + b] = (float)(sum / (2 * TREND_HALF + 1));
			long out = (long)t - TREND_HALF, in = (long)t + TREND_HALF + 1;
			sum += a->feat[(size_t)SH_MIN(in, (long)T - 1) * nb + b] -
			       a->feat[(size_t)SH_MAX(out, 0L) * nb + b];
		}
	}
	/* detrend, centre across bands (so that a loudness change common to all bands, such as
	 * every note's decay in a steady rhythm, does not count as repetition: the spectral shape
	 * has to repeat) and normalise each frame, storing band-major (trend[b·T + t]) so that
	 * the lag products below run along time in contiguous, vectorisable loops */
	for (size_t t = 0; t < T; t++) {
		float *f = a->feat + t * nb;
		const float *tr = a->trend + t * nb;
		double norm = 0, mean = 0;
		for (int b = 0; b < nb; b++) {
			f[b] -= tr[b];
			mean += f[b];
		}
		mean /= nb;
		for (int b = 0; b < nb; b++) {
			f[b] -= (float)mean;
			norm += (double)f[b] * f[b];
		}
		float inv = norm > 1e-12 ? (float)(1 / sqrt(norm)) : 0;
		for (int b = 0; b < nb; b++)
			f[b] *= inv;
	}
	float *bt = a->trend;
	for (size_t t = 0; t < T; t++)
		for (int b = 0; b < nb; b++)
			bt[(size_t)b * T + t] = a->feat[t * nb + b];
	double hop_s = (double)CURATE_HOP / o->rate;
	long lmin = SH_MAX(1L, lround(o->loop_min_period / hop_s));
	long lmax = SH_MIN(lround(o->loop_max_period / hop_s), (long)T / 2);
	/* score of every period; the reported period is the shortest within 0.1 of the best, so
	 * that a loop is found at its own period rather than at a multiple that lines up better
	 * with the hop (a 0.5 s loop is 31.25 hops: 0.92 at 31, 0.98 at 125) */
	long best = 0;
	for (long L = lmin; L <= lmax; L++) {
		size_t q = (T - (size_t)L) / 4;
		if (q < 1)
			break;
		size_t m = 4 * q;
		float *prod = a->lagprod;
		memset(prod, 0, m * sizeof *prod);
		int b = 0;
		for (; b + 4 <= nb; b += 4) { /* four bands per pass: a quarter of the prod traffic */
			const float *x0 = bt + (size_t)b * T, *x1 = x0 + T, *x2 = x1 + T, *x3 = x2 + T;
#pragma omp simd
			for (size_t t = 0; t < m; t++)
				prod[t] += (x0[t] * x0[t + L] + x1[t] * x1[t + L]) +
					   (x2[t] * x2[t + L] + x3[t] * x3[t + L]);
		}
		for (; b < nb; b++) {
			const float *x = bt + (size_t)b * T;
#pragma omp simd
			for (size_t t = 0; t < m; t++)
				prod[t] += x[t] * x[t + L];
		}
		double worst = 1e30;
		for (int k = 0; k < 4; k++) {
			double sum = 0;
			for (size_t t = k * q; t < (k + 1) * q; t++)
				sum += prod[t];
			sum /= q;
			worst = sum < worst ? sum : worst;
		}
		a->lag_score[L] = worst;
		if (worst > s->loop_score) {
			s->loop_score = worst;
			best = L;
		}
	}
	for (long L = lmin; L <= best; L++)
		if (a->lag_score[L] >= s->loop_score - 0.1) {
			s->loop_period = L * hop_s;
			break;
		}
}

double curate_autocorr_ref(const float *x, size_t n, size_t lag)
{
	double xy = 0, xx = 0, yy = 0;
	for (size_t t = 0; t + lag < n; t++) {
		xy += (double)x[t] * x[t + lag];
		xx += (double)x[t] * x[t];
		yy += (double)x[t + lag] * x[t + lag];
	}
	return xx > 0 && yy > 0 ? xy / sqrt(xx * yy) : 0;
}

/* Loop rule, second stage: is the repetition machine-exact? The normalised correlation of the
 * waveform with itself L samples later, over the overlap, for every lag in the loop periods
 * (one FFT autocorrelation), the best kept. A stuck model or a copied stretch repeats to the
 * sample and scores near 1; a band playing a riff again varies its timing by milliseconds, so
 * the waveforms decorrelate even where the band energies repeat. */
static int wave_loop(curate_analyzer *a, const float *x, size_t n, const curate_opts *o, curate_scores *s)
{
	s->loop_corr = 0;
	s->loop_lag = 0;
	size_t lmin = (size_t)SH_MAX(1L, lround(o->loop_min_period * o->rate));
	size_t lmax = SH_MIN((size_t)lround(o->loop_max_period * o->rate), n / 2);
	if (lmax < lmin)
		return 0;
	size_t N = 1024;
	while (N < n + lmax)
		N *= 2;
	if (N != a->acn) {
		free_autocorr(a);
		a->acx = fftwf_alloc_real(N);
		a->acs = fftwf_alloc_complex(N / 2 + 1);
		a->acsum = malloc((N + 1) * sizeof *a->acsum);
		if (!a->acx || !a->acs || !a->acsum) {
			free_autocorr(a);
			return sh_error("out of memory (a %zu-point autocorrelation)", N);
		}
		a->acf = sh_fft_plan_r2c((int)N, a->acx, a->acs);
		a->aci = a->acf ? sh_fft_plan_c2r((int)N, a->acs, a->acx) : NULL;
		if (!a->aci) {
			free_autocorr(a);
			return -1;
		}
		a->acn = N;
	}
	double *cum = a->acsum;
	cum[0] = 0;
	for (size_t i = 0; i < n; i++)
		cum[i + 1] = cum[i] + (double)x[i] * x[i];
	memcpy(a->acx, x, n * sizeof *x);
	memset(a->acx + n, 0, (N - n) * sizeof *x);
	fftwf_execute(a->acf);
	for (size_t k = 0; k <= N / 2; k++) {
		float re = a->acs[k][0], im = a->acs[k][1];
		a->acs[k][0] = re * re + im * im;
		a->acs[k][1] = 0;
	}
	fftwf_execute(a->aci);
	double best = 0;
	size_t at = 0;
	for (size_t L = lmin; L <= lmax; L++) {
		double e0 = cum[n - L], e1 = cum[n] - cum[L];
		if (e0 <= 0 || e1 <= 0)
			continue;
		double r = a->acx[L] / (double)N / sqrt(e0 * e1);
		if (r > best) {
			best = r;
			at = L;
		}
	}
	s->loop_corr = best;
	s->loop_lag = (double)at / o->rate;
	return 0;
}

/* Impulsiveness: the kurtosis of the first difference (which stresses what changes from one
 * sample to the next, as clicks do). Gaussian noise scores 3, music a few times that, a train
 * of clicks over near-silence hundreds. */
static double diff_kurtosis(const float *x, size_t n)
{
	double s2 = 0, s4 = 0;
	for (size_t i = 1; i < n; i++) {
		double d = (double)x[i] - x[i - 1], d2 = d * d;
		s2 += d2;
		s4 += d2 * d2;
	}
	return s2 > 0 ? (double)(n - 1) * s4 / (s2 * s2) : 0;
}

int curate_analyze(curate_analyzer *a, const curate_opts *o, float *x, size_t n, curate_scores *s)
{
	memset(s, 0, sizeof *s);
	s->n = n;
	/* what the clip held before the repair: its mean, and its clipped samples (a high-pass
	 * would bend the flat tops of clipping away) */
	double sum = 0;
	size_t clipped = 0;
	for (size_t i = 0; i < n; i++) {
		sum += x[i];
		clipped += fabsf(x[i]) >= o->clip_level;
	}
	s->dc = n ? sum / n : 0;
	curate_highpass(x, n, o->rate, o->highpass);

	size_t nf = curate_trim_frames(n);
	size_t T = n < CURATE_FFT ? 1 : 1 + (n - CURATE_FFT) / CURATE_HOP;
	if (grow(a, T, nf))
		return -1;
	curate_frame_power(x, n, a->ms);
	curate_trim(a->ms, n, o->top_db, &s->start, &s->end, &s->loudest_db);
	const float *y = x + s->start;
	size_t m = s->end - s->start;

	double sq = 0, peak = 0;
	for (size_t i = 0; i < m; i++) {
		double v = y[i], av = fabs(v);
		sq += v * v;
		peak = av > peak ? av : peak;
	}
	s->peak = peak;
	s->rms_db = power_db(m ? sq / m : 0);
	s->clip_fraction = n ? (double)clipped / n : 0;

	if (s->loudest_db < o->floor_db) {
		s->reasons = CURATE_SILENCE; /* nothing else means anything in silence */
		return 0;
	}
	s->kurtosis = diff_kurtosis(y, m);
	size_t frames = stft_features(a, y, m);
	noise_scores(a, frames, o, s);
	loop_scores(a, frames, o, s);
	if (wave_loop(a, y, m, o, s))
		return -1;

	curate_test t[CURATE_NTESTS];
	s->reasons = curate_tests(o, s, t);
	return 0;
}

int curate_tests(const curate_opts *o, const curate_scores *s, curate_test *t)
{
	double trimmed = (double)(s->end - s->start) / o->rate;
	const curate_test rows[CURATE_NTESTS] = {
		{CURATE_SILENCE, "loudest_db", s->loudest_db, 0, "floor-db", o->floor_db, 0},
		{CURATE_SHORT, "trimmed_seconds", trimmed, 0, "min-seconds", o->min_seconds, 0},
		{CURATE_CLIPPING, "clip_fraction", s->clip_fraction, 1, "max-clip-fraction", o->max_clip_fraction, 0},
		{CURATE_CLICKS, "kurtosis", s->kurtosis, 1, "max-kurtosis", o->max_kurtosis, 0},
		{CURATE_NOISE, "noise_fraction", s->noise_fraction, 1, "noise-fraction", o->noise_fraction, 0},
		{CURATE_LOOP, "loop_score", s->loop_score, 1, "loop-threshold", o->loop_threshold, 0},
		{CURATE_LOOP, "loop_corr", s->loop_corr, 1, "loop-corr", o->loop_corr, 0},
	};
	int hit = 0, miss = 0;
	for (int i = 0; i < CURATE_NTESTS; i++) {
		t[i] = rows[i];
		t[i].holds = t[i].above ? t[i].value > t[i].threshold : t[i].value < t[i].threshold;
		if (t[i].holds)
			hit |= t[i].reason;
		else
			miss |= t[i].reason;
	}
	/* nothing else means anything in silence */
	return hit & CURATE_SILENCE ? CURATE_SILENCE : hit & ~miss;
}

double curate_gain_db(const curate_opts *o, const curate_scores *s)
{
	double g = o->target_db - s->rms_db;
	g = g > o->max_gain_db ? o->max_gain_db : g < -o->max_gain_db ? -o->max_gain_db : g;
	if (s->peak > 0) {
		double room = 20 * log10(0.99 / s->peak);
		g = g > room ? room : g;
	}
	return g;
}

/* ---- ordering ---- */

double curate_path_score(const float *sim, int n, const int *path)
{
	double total = 0;
	for (int i = 0; i + 1 < n; i++)
		total += sim[(size_t)path[i] * n + path[i + 1]];
	return total;
}

double curate_greedy_path(const float *sim, int n, int start, int *path, unsigned char *used)
{
	memset(used, 0, (size_t)n);
	path[0] = start;
	used[start] = 1;
	double total = 0;
	for (int i = 1; i < n; i++) {
		const float *row = sim + (size_t)path[i - 1] * n;
		int best = -1;
		for (int j = 0; j < n; j++)
			if (!used[j] && (best < 0 || row[j] > row[best]))
				best = j;
		path[i] = best;
		used[best] = 1;
		total += row[best];
	}
	return total;
}

static void reverse(int *p, int i, int j)
{
	for (; i < j; i++, j--) {
		int t = p[i];
		p[i] = p[j];
		p[j] = t;
	}
}

/* 2-opt for a path: reversing path[i+1 .. j] replaces the joins (i, i+1) and (j, j+1) with
 * (i, j) and (i+1, j+1); a missing end (i = -1 or j = n-1) has no join. */
static void two_opt(const float *sim, int n, int *p)
{
#define S(u, v) ((double)sim[(size_t)(u)*n + (v)])
	for (int pass = 0; pass < 1000; pass++) {
		int improved = 0;
		for (int i = -1; i < n - 2; i++)
			for (int j = i + 2; j < n; j++) {
				double before = 0, after = 0;
				if (i >= 0) {
					before += S(p[i], p[i + 1]);
					after += S(p[i], p[j]);
				}
				if (j < n - 1) {
					before += S(p[j], p[j + 1]);
					after += S(p[i + 1], p[j + 1]);
				}
				if (after > before + 1e-9) {
					reverse(p, i + 1, j);
					improved = 1;
				}
			}
		if (!improved)
			break;
	}
#undef S
}

double curate_order(const float *sim, int n, int *path)
{
	if (n <= 0)
		return 0;
	int starts = n < 1024 ? n : 1024;
	double *score = malloc((size_t)starts * sizeof *score);
	if (!score)
		return sh_error("out of memory");
	int failed = 0;
#pragma omp parallel
	{
		int *p = malloc((size_t)n * sizeof *p);
		unsigned char *used = malloc((size_t)n);
		if (!p || !used) {
#pragma omp atomic write
			failed = 1;
		}
#pragma omp for schedule(dynamic, 4)
		for (int k = 0; k < starts; k++)
			score[k] = p && used ? curate_greedy_path(sim, n, (int)((long)k * n / starts), p, used) : 0;
		free(p);
		free(used);
	}
	if (failed) {
		free(score);
		return sh_error("out of memory");
	}
	int best = 0;
	for (int k = 1; k < starts; k++)
		if (score[k] > score[best])
			best = k;
	free(score);
	unsigned char *used = malloc((size_t)n);
	if (!used)
		return sh_error("out of memory");
	curate_greedy_path(sim, n, (int)((long)best * n / starts), path, used);
	free(used);
	two_opt(sim, n, path);
	return curate_path_score(sim, n, path);
}

/* ---- tracks ---- */

size_t curate_joined_length(const size_t *len, int n, size_t xf)
{
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += len[i];
	return n > 0 ? total - (size_t)(n - 1) * xf : 0;
}

int curate_split(const size_t *len, const float *join_sim, int n, size_t crossfade, double target, int *first)
{
	if (n <= 0)
		return 0;
	double *cost = malloc((size_t)(n + 1) * sizeof *cost);
	int *from = malloc((size_t)(n + 1) * sizeof *from);
	if (!cost || !from) {
		free(cost);
		free(from);
		return sh_error("out of memory");
	}
	/* cost[j]: best cost of cutting path items 0..j-1 into tracks; from[j]: its last start */
	cost[0] = 0;
	for (int j = 1; j <= n; j++) {
		cost[j] = INFINITY;
		from[j] = j - 1;
		double L = 0;
		for (int i = j - 1; i >= 0; i--) {
			L += (double)len[i] - (i < j - 1 ? (double)crossfade : 0);
			if (i < j - 1 && L > 3 * target)
				break;
			double dev = (L - target) / target;
			double c = cost[i] + 8 * dev * dev + (j < n ? join_sim[j - 1] : 0);
			if (c < cost[j]) {
				cost[j] = c;
				from[j] = i;
			}
		}
	}
	int k = 0;
	for (int j = n; j > 0; j = from[j])
		first[k++] = from[j];
	reverse(first, 0, k - 1);
	free(cost);
	free(from);
	return k;
}

void curate_render(float *out, const float *const *clips, const size_t *len, const float *gain, int n, size_t xf,
		   size_t edge)
{
	size_t pos = 0, total = curate_joined_length(len, n, xf);
	for (int c = 0; c < n; c++) {
		const float *x = clips[c];
		float g = gain[c];
		size_t i = 0;
		if (c > 0) /* crossfade: the previous clip's tail is already in out[pos ..] */
			for (; i < xf; i++) {
				double th = M_PI / 2 * (i + 0.5) / xf;
				out[pos + i] = (float)(out[pos + i] * cos(th) + g * x[i] * sin(th));
			}
		for (; i < len[c]; i++)
			out[pos + i] = g * x[i];
		pos += len[c] - xf;
	}
	edge = SH_MIN(edge, total / 2);
	for (size_t i = 0; i < edge; i++) {
		float w = (float)(0.5 - 0.5 * cos(M_PI * (i + 0.5) / edge));
		out[i] *= w;
		out[total - 1 - i] *= w;
	}
}

void curate_similarities(const uint32_t *const *fp, const int *nfp, int n, int max_offset, int min_overlap, float *sim,
			 int16_t *offs)
{
#pragma omp parallel for schedule(dynamic, 1)
	for (int a = 0; a < n; a++) {
		sim[(size_t)a * n + a] = 0;
		offs[(size_t)a * n + a] = 0;
		for (int b = a + 1; b < n; b++) {
			int off;
			float s = (float)fp_similarity(fp[a], nfp[a], fp[b], nfp[b], max_offset, min_overlap, &off);
			sim[(size_t)a * n + b] = sim[(size_t)b * n + a] = s;
			offs[(size_t)a * n + b] = (int16_t)off;
			offs[(size_t)b * n + a] = (int16_t)-off;
		}
	}
}

int curate_nearest(const float *sim, int n, int a, int k, int *nearest)
{
	/* insertion into a list kept sorted, highest first; a later item moves past only lower ones */
	int m = 0;
	for (int b = 0; b < n; b++) {
		if (b == a)
			continue;
		float sb = sim[(size_t)a * n + b];
		int at = m < k ? m++ : k;
		while (at > 0 && sim[(size_t)a * n + nearest[at - 1]] < sb) {
			if (at < k)
				nearest[at] = nearest[at - 1];
			at--;
		}
		if (at < k)
			nearest[at] = b;
	}
	return m;
}
