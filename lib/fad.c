/* fad.c: the Fréchet distance between the log-mel statistics of two sets of recordings (see
 * fad.h). Sums of frames and of their outer products in double; the matrix square roots by
 * LAPACK's symmetric eigensolver (dsyev, in Debian's OpenBLAS). */
#include "fad.h"
#include "audio.h"
#include "fft.h"
#include "util.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
	    const int *lwork, int *info);

struct fad_stats {
	long n;
	double sum[FAD_MELS];
	double outer[FAD_MELS * FAD_MELS];
};

fad_stats *fad_new(void)
{
	fad_stats *s = calloc(1, sizeof *s);
	if (!s)
		sh_error("out of memory");
	return s;
}

void fad_free(fad_stats *s) { free(s); }

long fad_frames(const fad_stats *s) { return s->n; }

static double hz_to_mel(double f) { return 2595 * log10(1 + f / 700); }

int fad_add_samples(fad_stats *s, const float *x, size_t n, int rate)
{
	if (rate <= 0)
		return sh_error("bad sample rate %d", rate);
	if (n < FAD_FRAME)
		return 0;
	const int nb = FAD_FRAME / 2 + 1;
	float *in = fftwf_alloc_real(FAD_FRAME);
	fftwf_complex *out = fftwf_alloc_complex(nb);
	float *win = malloc(FAD_FRAME * sizeof *win);
	/* each bin's weight in its two neighbouring bands (triangles in mel) */
	int *band = malloc(nb * sizeof *band);
	float *wt = malloc(nb * sizeof *wt);
	fftwf_plan p = in && out ? sh_fft_plan_r2c(FAD_FRAME, in, out) : NULL;
	int rc = 0;
	if (!in || !out || !win || !band || !wt || !p) {
		rc = sh_error("out of memory");
		goto done;
	}
	sh_hann_periodic(win, FAD_FRAME);
	const double top = rate / 2.0 < 8000 ? rate / 2.0 : 8000, m0 = hz_to_mel(30), m1 = hz_to_mel(top);
	for (int k = 0; k < nb; k++) {
		/* position on the band centres 0 .. FAD_MELS-1, spaced evenly in mel over (m0, m1) */
		double pos = (hz_to_mel((double)k * rate / FAD_FRAME) - m0) / (m1 - m0) * (FAD_MELS + 1) - 1;
		band[k] = (int)floor(pos);
		wt[k] = (float)(pos - floor(pos));
	}
	for (size_t t = 0; t + FAD_FRAME <= n; t += FAD_HOP) {
		for (int i = 0; i < FAD_FRAME; i++)
			in[i] = x[t + i] * win[i];
		fftwf_execute(p);
		double mel[FAD_MELS] = {0};
		for (int k = 0; k < nb; k++) {
			double pk = (double)out[k][0] * out[k][0] + (double)out[k][1] * out[k][1];
			int b = band[k];
			if (b >= 0 && b < FAD_MELS)
				mel[b] += pk * (1 - wt[k]);
			if (b + 1 >= 0 && b + 1 < FAD_MELS)
				mel[b + 1] += pk * wt[k];
		}
		for (int b = 0; b < FAD_MELS; b++)
			mel[b] = log10(mel[b] / FAD_FRAME + 1e-10);
		for (int i = 0; i < FAD_MELS; i++) {
			s->sum[i] += mel[i];
			for (int j = 0; j < FAD_MELS; j++)
				s->outer[i * FAD_MELS + j] += mel[i] * mel[j];
		}
		s->n++;
	}
done:
	sh_fft_destroy(p);
	fftwf_free(in);
	fftwf_free(out);
	free(win), free(band), free(wt);
	return rc;
}

int fad_add_file(fad_stats *s, const char *path)
{
	audio_reader *r = audio_open(path, 0, AUDIO_QUALITY_DEFAULT);
	if (!r)
		return -1;
	int rate = audio_file_rate(r);
	audio_close(r);
	float *x;
	size_t n;
	if (audio_read_all(path, 0, AUDIO_QUALITY_DEFAULT, &x, &n) < 0)
		return -1;
	int rc = fad_add_samples(s, x, n, rate);
	free(x);
	return rc;
}

/* Mean and covariance (unbiased) of the frames. */
static void moments(const fad_stats *s, double *mu, double *cov)
{
	for (int i = 0; i < FAD_MELS; i++)
		mu[i] = s->sum[i] / s->n;
	for (int i = 0; i < FAD_MELS; i++)
		for (int j = 0; j < FAD_MELS; j++)
			cov[i * FAD_MELS + j] = (s->outer[i * FAD_MELS + j] - s->n * mu[i] * mu[j]) / (s->n - 1);
}

/* Eigenvalues w and eigenvectors (rows of a) of the symmetric matrix a. */
static int eig(double *a, double *w)
{
	int n = FAD_MELS, lwork = -1, info = 0;
	double q;
	dsyev_("V", "U", &n, a, &n, w, &q, &lwork, &info);
	lwork = (int)q;
	double *work = malloc((lwork > 1 ? lwork : 1) * sizeof *work);
	if (!work)
		return sh_error("out of memory");
	dsyev_("V", "U", &n, a, &n, w, work, &lwork, &info);
	free(work);
	return info ? sh_error("eigenvalues did not converge (dsyev info %d)", info) : 0;
}

double fad_distance(const fad_stats *a, const fad_stats *b)
{
	if (a->n < 2 || b->n < 2)
		return sh_error("too little audio for a distance (%ld and %ld frames of %d samples)", a->n, b->n,
				FAD_FRAME),
		       NAN;
	enum { D = FAD_MELS };
	double mua[D], mub[D], *ca = malloc(3 * D * D * sizeof *ca), w[D];
	if (!ca)
		return sh_error("out of memory"), NAN;
	double *cb = ca + D * D, *m = cb + D * D;
	moments(a, mua, ca);
	moments(b, mub, cb);
	double d = 0, tr = 0;
	for (int i = 0; i < D; i++) {
		d += (mua[i] - mub[i]) * (mua[i] - mub[i]);
		tr += ca[i * D + i] + cb[i * D + i];
	}
	/* Σa^½ = V diag(√λ) Vᵀ; dsyev leaves V column-major, i.e. eigenvector k in row k here */
	double *v = malloc(2 * D * D * sizeof *v);
	if (!v || eig(memcpy(v, ca, D * D * sizeof *v), w) < 0) {
		free(v), free(ca);
		return NAN;
	}
	double *sa = v + D * D;
	for (int i = 0; i < D; i++)
		for (int j = 0; j < D; j++) {
			double t = 0;
			for (int k = 0; k < D; k++)
				t += v[k * D + i] * sqrt(w[k] > 0 ? w[k] : 0) * v[k * D + j];
			sa[i * D + j] = t;
		}
	/* m = Σa^½ Σb Σa^½, symmetric positive semi-definite: tr m^½ = Σ √eig */
	double *tmp = ca; /* Σa is no longer needed */
	for (int i = 0; i < D; i++)
		for (int j = 0; j < D; j++) {
			double t = 0;
			for (int k = 0; k < D; k++)
				t += sa[i * D + k] * cb[k * D + j];
			tmp[i * D + j] = t;
		}
	for (int i = 0; i < D; i++)
		for (int j = 0; j < D; j++) {
			double t = 0;
			for (int k = 0; k < D; k++)
				t += tmp[i * D + k] * sa[k * D + j];
			m[i * D + j] = t;
		}
	int rc = eig(m, w);
	double rt = 0;
	for (int i = 0; i < D; i++)
		rt += sqrt(w[i] > 0 ? w[i] : 0);
	free(v), free(ca);
	if (rc < 0)
		return NAN;
	d += tr - 2 * rt;
	return d > 0 ? d : 0;
}
