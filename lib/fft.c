/* fft.c: the Hann window and serialised FFTW plans (see fft.h). */
#include "fft.h"
#include "util.h"

#include <math.h>

void sh_hann_periodic(float *w, int n)
{
	for (int i = 0; i < n; i++)
		w[i] = (float)(0.5 - 0.5 * cos(2 * M_PI * i / n));
}

fftwf_plan sh_fft_plan_r2c(int n, float *in, fftwf_complex *out)
{
	fftwf_plan p;
#pragma omp critical(sharks_fftw_plan)
	p = fftwf_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE);
	if (!p)
		sh_error("FFTW could not plan a %d-point transform", n);
	return p;
}

fftwf_plan sh_fft_plan_c2r(int n, fftwf_complex *in, float *out)
{
	fftwf_plan p;
#pragma omp critical(sharks_fftw_plan)
	p = fftwf_plan_dft_c2r_1d(n, in, out, FFTW_ESTIMATE);
	if (!p)
		sh_error("FFTW could not plan a %d-point inverse transform", n);
	return p;
}

void sh_fft_destroy(fftwf_plan p)
{
	if (!p)
		return;
#pragma omp critical(sharks_fftw_plan)
	fftwf_destroy_plan(p);
}
