/* spectrogram.c: magnitude spectrogram images (see spectrogram.h). Two passes: the power of
 * every (row, column) cell into a float grid, columns in parallel; then dB relative to the
 * loudest cell through the colour map. */
#include "spectrogram.h"
#include "audio.h"
#include "fft.h"
#include "util.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void spectrogram_defaults(spectrogram_opts *o, int width, int height)
{
	o->width = width;
	o->height = height;
	o->scale = SPECTROGRAM_MEL;
	o->fmin = 30;
	o->fmax = 0;
	o->db_range = 80;
	o->fft = 2048;
}

void spectrogram_colour(float t, uint8_t rgb[3])
{
	static const double c[7][3] = {
		{-0.002136485053939582, -0.000749655052795221, -0.005386127855323933},
		{0.2516605407371642, 0.6775232436837668, 2.494026599312351},
		{8.353717279216625, -3.577719514958484, 0.3144679030132573},
		{-27.66873308576866, 14.26473078096533, -13.64921318813922},
		{52.17613981234068, -27.94360607168351, 12.94416944238394},
		{-50.76852536473588, 29.04658282127291, 4.23415299384598},
		{18.65570506591883, -11.48977351997711, -5.601961508734096},
	};
	double u = t < 0 ? 0 : t > 1 ? 1 : t;
	for (int ch = 0; ch < 3; ch++) {
		double v = c[6][ch];
		for (int i = 5; i >= 0; i--)
			v = v * u + c[i][ch];
		v = v < 0 ? 0 : v > 1 ? 1 : v;
		rgb[ch] = (uint8_t)lrint(v * 255);
	}
}

static double to_scale(spectrogram_scale s, double f)
{
	return s == SPECTROGRAM_MEL ? 2595.0 * log10(1.0 + f / 700.0) : log(f);
}

static double from_scale(spectrogram_scale s, double m)
{
	return s == SPECTROGRAM_MEL ? 700.0 * (pow(10.0, m / 2595.0) - 1.0) : exp(m);
}

/* How one image row reads the spectrum: the mean power of bins k0..k1 when the row's band
 * spans at least a bin, else the power interpolated at bin position pos. */
typedef struct {
	int k0, k1;
	double pos;
} row_band;

int spectrogram_draw(const float *x, size_t n, int rate, const spectrogram_opts *o, uint32_t *pixels, int stride_words)
{
	const int W = o->width, H = o->height, N = o->fft, nbin = o->fft / 2 + 1;
	if (W < 1 || H < 1 || stride_words < W)
		return sh_error("spectrogram: bad image size %dx%d", W, H);
	if (N < 16 || (N & (N - 1)))
		return sh_error("spectrogram: frame length %d is not a power of two >= 16", N);
	if (rate <= 0)
		return sh_error("spectrogram: bad sample rate %d", rate);
	double nyq = rate / 2.0, fmax = o->fmax > 0 && o->fmax < nyq ? o->fmax : nyq;
	double fmin = o->fmin > 0 ? o->fmin : 1;
	if (fmin >= fmax)
		return sh_error("spectrogram: fmin %g Hz not below fmax %g Hz", fmin, fmax);
	if (n == 0)
		return sh_error("spectrogram: no audio");

	float *grid = NULL, *window = NULL;
	row_band *band = NULL;
	size_t cells;
	if (!sh_mul_size((size_t)W * H, sizeof(float), &cells))
		return -1;
	grid = sh_alloc(cells);
	window = sh_alloc(N * sizeof(float));
	band = sh_alloc(H * sizeof(row_band));
	float *pin = fftwf_malloc(N * sizeof(float));
	fftwf_complex *pout = fftwf_malloc(nbin * sizeof(fftwf_complex));
	fftwf_plan plan = NULL;
	int rc = -1;
	if (!grid || !window || !band || !pin || !pout) {
		sh_error("out of memory");
		goto done;
	}
	plan = sh_fft_plan_r2c(N, pin, pout);
	if (!plan)
		goto done;
	sh_hann_periodic(window, N);
	const double df = (double)rate / N;
	double s_lo = to_scale(o->scale, fmin), s_hi = to_scale(o->scale, fmax);
	for (int r = 0; r < H; r++) {
		/* row 0 is the top: highest band */
		double a = s_hi - (s_hi - s_lo) * (r + 1) / H, b = s_hi - (s_hi - s_lo) * r / H;
		double bl = from_scale(o->scale, a) / df, bh = from_scale(o->scale, b) / df;
		band[r].k0 = (int)ceil(bl);
		band[r].k1 = (int)floor(bh);
		band[r].pos = 0.5 * (bl + bh);
		if (band[r].k1 > nbin - 1)
			band[r].k1 = nbin - 1;
	}

	const int hop = N / 4;
	int failed = 0;
#pragma omp parallel
	{
		float *in = fftwf_malloc(N * sizeof(float));
		fftwf_complex *out = fftwf_malloc(nbin * sizeof(fftwf_complex));
		double *power = malloc(nbin * sizeof(double));
		if (!in || !out || !power) {
#pragma omp atomic write
			failed = 1;
		}
#pragma omp for schedule(dynamic, 8)
		for (int c = 0; c < W; c++) {
			if (!in || !out || !power)
				continue;
			double start = (double)n * c / W, span = (double)n / W;
			int frames = (int)lround(span / hop);
			frames = frames < 1 ? 1 : frames;
			memset(power, 0, nbin * sizeof(double));
			for (int j = 0; j < frames; j++) {
				long centre = (long)floor(start + (j + 0.5) * span / frames);
				long s0 = centre - N / 2;
				/* keep frames inside the recording where it is long enough, so its first
				 * and last columns do not show the cut at its ends as a click */
				if ((long)n >= N)
					s0 = s0 < 0 ? 0 : s0 > (long)n - N ? (long)n - N : s0;
				for (int i = 0; i < N; i++) {
					long t = s0 + i;
					in[i] = t >= 0 && t < (long)n ? x[t] * window[i] : 0.0f;
				}
				fftwf_execute_dft_r2c(plan, in, out);
				for (int k = 0; k < nbin; k++)
					power[k] += (double)out[k][0] * out[k][0] + (double)out[k][1] * out[k][1];
			}
			for (int r = 0; r < H; r++) {
				double p = 0;
				if (band[r].k1 >= band[r].k0) {
					for (int k = band[r].k0; k <= band[r].k1; k++)
						p += power[k];
					p /= band[r].k1 - band[r].k0 + 1;
				} else {
					double pos = band[r].pos;
					int k = (int)floor(pos);
					k = k < 0 ? 0 : k > nbin - 2 ? nbin - 2 : k;
					double f = pos - k;
					f = f < 0 ? 0 : f > 1 ? 1 : f;
					p = (1 - f) * power[k] + f * power[k + 1];
				}
				grid[(size_t)r * W + c] = (float)(p / frames);
			}
		}
		fftwf_free(in);
		fftwf_free(out);
		free(power);
	}
	if (failed) {
		sh_error("out of memory");
		goto done;
	}
	float top = 0;
	for (size_t i = 0; i < (size_t)W * H; i++)
		top = grid[i] > top ? grid[i] : top;
	/* a silent recording is drawn black rather than as amplified rounding noise */
	double top_db = 10 * log10(top > 1e-20f ? top : 1e-20f);
	double floor_db = top > 1e-20f ? top_db - o->db_range : top_db + 1;
	uint8_t lut[256][3];
	for (int i = 0; i < 256; i++)
		spectrogram_colour(i / 255.0f, lut[i]);
	for (int r = 0; r < H; r++)
		for (int c = 0; c < W; c++) {
			double db = 10 * log10((double)grid[(size_t)r * W + c] + 1e-30);
			double t = (db - floor_db) / o->db_range;
			int i = (int)lrint((t < 0 ? 0 : t > 1 ? 1 : t) * 255);
			pixels[(size_t)r * stride_words + c] =
				(uint32_t)lut[i][0] << 16 | (uint32_t)lut[i][1] << 8 | lut[i][2];
		}
	rc = 0;
done:
	sh_fft_destroy(plan);
	fftwf_free(pin);
	fftwf_free(pout);
	free(grid);
	free(window);
	free(band);
	return rc;
}

int spectrogram_draw_file(const char *path, const spectrogram_opts *o, uint32_t *pixels, int stride_words)
{
	audio_reader *r = audio_open(path, 0, AUDIO_QUALITY_DEFAULT);
	if (!r)
		return -1;
	int rate = audio_file_rate(r);
	audio_close(r);
	float *x = NULL;
	size_t n = 0;
	if (audio_read_all(path, 0, AUDIO_QUALITY_DEFAULT, &x, &n))
		return -1;
	int rc = spectrogram_draw(x, n, rate, o, pixels, stride_words);
	free(x);
	return rc;
}
