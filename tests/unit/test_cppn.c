/* test_cppn.c: the cover's building blocks: the CPPN's activation approximations against libm,
 * the image renderer against the plain reference evaluation, determinism per seed and per
 * thread count; the audio statistics on signals whose answers are known (a sine, white
 * noise, silence); the spectrogram's frequency axis and colour map. */
#include "audiofeat.h"
#include "cover.h"
#include "cppn.h"
#include "rng.h"
#include "spectrogram.h"
#include "tap.h"
#include "util.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

static void test_activations(void)
{
	double e_sin = 0, e_tanh = 0, e_bump = 0;
	for (int i = -200000; i <= 200000; i++) {
		float x = i * 2.5e-4f; /* [-50, 50] */
		e_sin = fmax(e_sin, fabs(cppn_sin(x) - sin((double)x)));
		e_tanh = fmax(e_tanh, fabs(cppn_tanh(x) - tanh((double)x)));
		e_bump = fmax(e_bump, fabs(cppn_bump(x) - exp(-(double)x * x)));
	}
	tap_ok(e_sin < 2e-6, "sin approximation: max error %.2g on [-50, 50]", e_sin);
	tap_ok(e_tanh < 1e-6, "tanh approximation: max error %.2g", e_tanh);
	tap_ok(e_bump < 0.03, "bump (1-x²/16)^16 within %.3f of exp(-x²)", e_bump);
}

static void test_hash(void)
{
	double s = 0, lo = 1, hi = 0;
	int n = 0, same = 1;
	for (uint32_t y = 0; y < 300; y++)
		for (uint32_t x = 0; x < 300; x++, n++) {
			float u = cppn_hash01(9, x, y);
			s += u, lo = fmin(lo, u), hi = fmax(hi, u);
			same &= u == cppn_hash01(9, x, y);
		}
	tap_ok(fabs(s / n - 0.5) < 0.01 && lo >= 0 && lo < 1e-3 && hi < 1 && hi > 0.999 && same,
	       "pixel hash: uniform in [0, 1) (mean %.4f), a function of its arguments", s / n);
	tap_ok(cppn_hash01(9, 1, 2) != cppn_hash01(10, 1, 2) && cppn_hash01(9, 1, 2) != cppn_hash01(9, 2, 1),
	       "pixel hash depends on the seed and on the order of the coordinates");
}

static void test_network(void)
{
	float z[6] = {0.3f, -1.2f, 0.8f, 0.0f, 2.0f, -0.5f};
	cppn a, b, c;
	tap_ok(!cppn_init(&a, 11, 5, 6, z, 4, 2.0f) && !cppn_init(&b, 11, 5, 6, z, 4, 2.0f) &&
		       !cppn_init(&c, 12, 5, 6, z, 4, 2.0f),
	       "init");
	size_t np = (size_t)a.n_in * CPPN_WIDTH + CPPN_WIDTH + 4 * (CPPN_WIDTH * CPPN_WIDTH + CPPN_WIDTH) +
		    CPPN_WIDTH * 4 + 4;
	tap_ok(!memcmp(a.params, b.params, np * sizeof(float)), "same seed → identical weights");
	tap_ok(memcmp(a.params, c.params, np * sizeof(float)) != 0, "different seed → different weights");
	cppn bad;
	tap_ok(cppn_init(&bad, 1, 0, 6, z, 4, 1) == -1 && strstr(sh_errmsg(), "depth"), "depth 0 refused: %s",
	       sh_errmsg());

	/* the renderer (folded latent bias, vectorised loops, threads) against the reference */
	const int w = 67, h = 45;
	cppn_view v = {2.5f, 0.7f, 0.1f, -0.2f, 1};
	float *img = malloc(sizeof(float) * w * h * 4), *img1 = malloc(sizeof(float) * w * h * 4);
	cppn_render(&a, &v, w, h, img);
	double err = 0, lo = 1, hi = -1;
	for (int py = 0; py < h; py++)
		for (int px = 0; px < w; px++) {
			float x, y, ref[4];
			cppn_view_coords(&v, w, h, px, py, &x, &y);
			cppn_eval(&a, x, y, ref);
			for (int k = 0; k < 4; k++) {
				float o = img[((size_t)py * w + px) * 4 + k];
				err = fmax(err, fabs(o - ref[k]));
				lo = fmin(lo, o), hi = fmax(hi, o);
			}
		}
	tap_ok(err < 1e-4, "render equals reference evaluation (max diff %.2g)", err);
	tap_ok(hi - lo > 0.5, "outputs vary over the image (%.3f..%.3f)", lo, hi);
	int left_right = 1; /* mirror: column px and w-1-px see |x| the same */
	for (int py = 0; py < h; py++)
		for (int px = 0; px < w / 2; px++)
			left_right &= img[((size_t)py * w + px) * 4] == img[((size_t)py * w + (w - 1 - px)) * 4];
	tap_ok(left_right, "mirror view is left-right symmetric");
	int nt = omp_get_max_threads();
	omp_set_num_threads(1);
	cppn_render(&a, &v, w, h, img1);
	omp_set_num_threads(nt < 2 ? 2 : nt);
	cppn_render(&a, &v, w, h, img);
	omp_set_num_threads(nt);
	tap_ok(!memcmp(img, img1, sizeof(float) * w * h * 4), "same bits with 1 and %d threads", nt < 2 ? 2 : nt);
	free(img);
	free(img1);
	cppn_free(&a), cppn_free(&b), cppn_free(&c);
}

static void test_audiofeat(void)
{
	const int n = AUDIOFEAT_RATE * 3;
	float *x = malloc(n * sizeof(float));
	audiofeat f;
	float v[AUDIOFEAT_DIM];

	for (int i = 0; i < n; i++) /* A4 at half scale */
		x[i] = 0.5f * (float)sin(2 * PI * 440 * i / AUDIOFEAT_RATE);
	audiofeat_acc *a = audiofeat_new();
	audiofeat_add_samples(a, x, n / 2);
	audiofeat_add_samples(a, x + n / 2, n - n / 2); /* frames continue across calls */
	audiofeat_get(a, &f);
	audiofeat_free(a);
	int argmax = 0;
	for (int c = 1; c < 12; c++)
		argmax = f.chroma[c] > f.chroma[argmax] ? c : argmax;
	long want_frames = (n - AUDIOFEAT_FFT) / AUDIOFEAT_HOP + 1;
	tap_ok(f.frames == want_frames && f.active_frames == want_frames, "sine: %ld frames (want %ld), all active",
	       f.frames, want_frames);
	tap_ok(argmax == 9 && f.chroma[9] > 0.9, "sine: chroma peaks at A (%d, %.3f)", argmax, f.chroma[9]);
	tap_ok(fabs(f.centroid_mean - 440) < 440 * 0.1, "sine: centroid %.1f Hz ≈ 440", f.centroid_mean);
	tap_ok(fabs(f.rolloff_mean - 440) < 30, "sine: rolloff %.1f Hz ≈ 440", f.rolloff_mean);
	tap_ok(f.flatness_mean < 0.01, "sine: flatness %.2g is tiny", f.flatness_mean);
	tap_ok(fabs(f.loudness_mean - 20 * log10(0.5 / sqrt(2))) < 0.2 && f.loudness_std < 0.1,
	       "sine: loudness %.2f dBFS (want -9.03), spread %.3f", f.loudness_mean, f.loudness_std);
	tap_ok(fabs(f.crest_db - 3.01) < 0.1, "sine: crest %.2f dB (want 3.01)", f.crest_db);
	audiofeat_vector(&f, v);
	float sine_v[AUDIOFEAT_DIM];
	memcpy(sine_v, v, sizeof v);

	sh_rng r;
	sh_rng_seed(&r, 3);
	for (int i = 0; i < n; i++)
		x[i] = 0.2f * (float)sh_rng_normal(&r);
	a = audiofeat_new();
	audiofeat_add_samples(a, x, n);
	audiofeat_get(a, &f);
	audiofeat_free(a);
	tap_ok(f.flatness_mean > 0.4 && f.flatness_mean < 0.7, "white noise: flatness %.3f (≈ 0.56)", f.flatness_mean);
	tap_ok(fabs(f.centroid_mean - 4000) < 200, "white noise: centroid %.0f Hz ≈ 4000", f.centroid_mean);
	audiofeat_vector(&f, v);
	double d = 0;
	for (int i = 0; i < AUDIOFEAT_DIM; i++)
		d += fabs(v[i] - sine_v[i]);
	tap_ok(d > 5, "sine and noise vectors far apart (L1 %.2f)", d);

	memset(x, 0, n * sizeof(float));
	a = audiofeat_new();
	audiofeat_add_samples(a, x, n);
	audiofeat_get(a, &f);
	audiofeat_free(a);
	audiofeat_vector(&f, v);
	int zeros = 1;
	for (int i = 0; i < AUDIOFEAT_DIM; i++)
		zeros &= v[i] == 0;
	tap_ok(f.active_frames == 0 && zeros, "silence: no active frames, neutral vector");

	a = audiofeat_new();
	tap_ok(audiofeat_add_file(a, "/nonexistent/x.wav") == -1 && *sh_errmsg(), "missing file: %s", sh_errmsg());
	audiofeat_free(a);
	free(x);
}

static void test_spectrogram(void)
{
	const int rate = 16000, n = rate * 2, W = 120, H = 80;
	float *x = malloc(n * sizeof(float));
	for (int i = 0; i < n; i++)
		x[i] = 0.5f * (float)sin(2 * PI * 1000 * i / rate);
	uint32_t *pix = malloc(sizeof(uint32_t) * W * H), *pix1 = malloc(sizeof(uint32_t) * W * H);
	spectrogram_opts o;
	spectrogram_defaults(&o, W, H);
	tap_ok(!spectrogram_draw(x, n, rate, &o, pix, W), "draw a 1 kHz sine");
	/* row whose mel band holds 1 kHz: rows go down from fmax = 8 kHz to fmin = 30 Hz */
	double mel = 2595 * log10(1 + 1000 / 700.0), mlo = 2595 * log10(1 + 30 / 700.0),
	       mhi = 2595 * log10(1 + 8000 / 700.0);
	int want = (int)((mhi - mel) / (mhi - mlo) * H);
	int ok_rows = 1;
	for (int c = 0; c < W; c++) {
		int best = 0, bv = -1;
		for (int r = 0; r < H; r++) {
			uint32_t p = pix[r * W + c];
			int lum = (int)(p >> 16 & 255) + (int)(p >> 8 & 255) + (int)(p & 255);
			if (lum > bv)
				bv = lum, best = r;
		}
		ok_rows &= abs(best - want) <= 1;
	}
	tap_ok(ok_rows, "every column brightest at row %d (1 kHz on the mel axis)", want);
	int nt = omp_get_max_threads();
	omp_set_num_threads(1);
	spectrogram_draw(x, n, rate, &o, pix1, W);
	omp_set_num_threads(nt);
	tap_ok(!memcmp(pix, pix1, sizeof(uint32_t) * W * H), "same pixels with 1 and %d threads", nt);
	o.fft = 1000;
	tap_ok(spectrogram_draw(x, n, rate, &o, pix, W) == -1, "frame length not a power of two refused: %s",
	       sh_errmsg());

	uint8_t c0[3], c1[3], prev[3];
	spectrogram_colour(0, c0);
	spectrogram_colour(1, c1);
	int mono = 1;
	memcpy(prev, c0, 3);
	for (int i = 1; i <= 100; i++) {
		uint8_t c[3];
		spectrogram_colour(i / 100.0f, c);
		/* lightness (Rec. 709 luma as a proxy) never falls */
		mono &= 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2] >=
			0.2126 * prev[0] + 0.7152 * prev[1] + 0.0722 * prev[2] - 0.5;
		memcpy(prev, c, 3);
	}
	tap_ok(c0[0] < 5 && c0[1] < 5 && c0[2] < 10 && c1[0] > 240 && c1[1] > 240 && c1[2] > 180 && mono,
	       "colour map: black (%d,%d,%d) to pale yellow (%d,%d,%d), lightness monotonic", c0[0], c0[1], c0[2],
	       c1[0], c1[1], c1[2]);
	free(x);
	free(pix);
	free(pix1);
}

/* Issue 13: one NaN sample made every feature NaN, which passed palette_at's clamp and became
 * a palette index (SIGSEGV). Non-finite features are refused. */
static void test_cover_nonfinite(void)
{
	float f[AUDIOFEAT_DIM];
	for (int i = 0; i < AUDIOFEAT_DIM; i++)
		f[i] = i == 3 ? NAN : 0.5f;
	cover_spec spec = {1, 64, NULL, NULL, f};
	cairo_surface_t *s = cover_draw(&spec, NULL);
	tap_ok(!s && strstr(sh_errmsg(), "audio feature 3 is not finite"), "cover with a NaN feature refused: %s",
	       sh_errmsg());
	f[3] = 0.5f;
	s = cover_draw(&spec, NULL);
	tap_ok(s != NULL, "... and drawn once the feature is finite");
	if (s)
		cairo_surface_destroy(s);
}

int main(void)
{
	test_cover_nonfinite();
	test_activations();
	test_hash();
	test_network();
	test_audiofeat();
	test_spectrogram();
	return tap_done();
}
