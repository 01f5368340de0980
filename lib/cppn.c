/* cppn.c: a compositional pattern-producing network (see cppn.h): random weights from an
 * explicit seed, a plain reference evaluation of one point, and an image renderer that folds
 * the constant latent input into the first bias and runs rows in parallel. */
#include "cppn.h"
#include "rng.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- per-pixel noise ---- */

float cppn_hash01(uint64_t seed, uint32_t a, uint32_t b)
{
	/* the splitmix64 finaliser of (seed, a, b): a good 64-bit mix in a few instructions */
	uint64_t z = sh_splitmix64_mix(seed ^ (((uint64_t)a << 32 | b) * 0xd6e8feb86659fd93ULL) ^ SH_SPLITMIX64_GAMMA);
	return (float)(z >> 40) * (1.0f / 16777216.0f);
}

/* ---- activations: plain arithmetic so that loops over them vectorise ---- */

static inline float sin_approx(float x)
{
	/* Reduce to [-pi, pi] with 2pi split in two (Cody-Waite), fold to [-pi/2, pi/2], then the
	 * Taylor series to x^11 (error < 6e-8 there). |x| is clamped to 1e4 first: the patterns
	 * never need more and the int conversion must not overflow. */
	x = x > 1e4f ? 1e4f : x < -1e4f ? -1e4f : x;
	float q = x * 0.15915494309189535f;
	int k = (int)(q + (q >= 0 ? 0.5f : -0.5f));
	float r = (x - (float)k * 6.28125f) - (float)k * 1.9353071795864769e-3f;
	r = r > 1.5707963267948966f ? 3.141592653589793f - r : r;
	r = r < -1.5707963267948966f ? -3.141592653589793f - r : r;
	float r2 = r * r;
	float p = -2.5052108385441720e-8f;
	p = p * r2 + 2.7557319223985893e-6f;
	p = p * r2 - 1.9841269841269841e-4f;
	p = p * r2 + 8.3333333333333333e-3f;
	p = p * r2 - 1.6666666666666667e-1f;
	return r + r * r2 * p;
}

static inline float tanh_approx(float x)
{
	/* The rational approximation used by Eigen and MLAS (13/6 odd/even polynomials), exact to
	 * float precision on the clamped range; beyond it tanh is 1 to float precision. */
	x = x > 7.90531110763549805f ? 7.90531110763549805f : x < -7.90531110763549805f ? -7.90531110763549805f : x;
	float x2 = x * x;
	float p = -2.76076847742355e-16f;
	p = p * x2 + 2.00018790482477e-13f;
	p = p * x2 - 8.60467152213735e-11f;
	p = p * x2 + 5.12229709037114e-08f;
	p = p * x2 + 1.48572235717979e-05f;
	p = p * x2 + 6.37261928875436e-04f;
	p = p * x2 + 4.89352455891786e-03f;
	float q = 1.19825839466702e-06f;
	q = q * x2 + 1.18534705686654e-04f;
	q = q * x2 + 2.26843463243900e-03f;
	q = q * x2 + 4.89352518554385e-03f;
	float t = x * p / q;
	return t > 1 ? 1 : t < -1 ? -1 : t;
}

static inline float bump_approx(float x)
{
	/* (1 - x²/16)^16 → exp(-x²) as the exponent grows; 4 squarings, compact support. */
	float t = 1.0f - x * x * (1.0f / 16.0f);
	t = t > 0 ? t : 0;
	t *= t;
	t *= t;
	t *= t;
	t *= t;
	return t;
}

float cppn_sin(float x) { return sin_approx(x); }
float cppn_tanh(float x) { return tanh_approx(x); }
float cppn_bump(float x) { return bump_approx(x); }

/* ---- the network ---- */

static void act_layer(float *h, int n_sin, int n_tanh)
{
#pragma omp simd
	for (int i = 0; i < n_sin; i++)
		h[i] = sin_approx(h[i]);
#pragma omp simd
	for (int i = n_sin; i < n_sin + n_tanh; i++)
		h[i] = tanh_approx(h[i]);
#pragma omp simd
	for (int i = n_sin + n_tanh; i < CPPN_WIDTH; i++)
		h[i] = bump_approx(h[i]);
}

/* The output units from the last hidden layer h, through tanh. */
static void output_layer(const cppn *net, const float *h, float *out)
{
	for (int k = 0; k < net->n_out; k++) {
		float acc = net->b_out[k];
		for (int i = 0; i < CPPN_WIDTH; i++)
			acc += net->w_out[i * net->n_out + k] * h[i];
		out[k] = cppn_tanh(acc);
	}
}

int cppn_init(cppn *net, uint64_t seed, int depth, int n_latent, const float *latent, int n_out, float weight_scale)
{
	memset(net, 0, sizeof *net);
	if (depth < 1 || depth > CPPN_MAX_DEPTH)
		return sh_error("cppn: depth %d not in [1, %d]", depth, CPPN_MAX_DEPTH);
	if (n_latent < 0 || n_latent > CPPN_MAX_LATENT)
		return sh_error("cppn: latent size %d not in [0, %d]", n_latent, CPPN_MAX_LATENT);
	if (n_out < 1 || n_out > CPPN_MAX_OUT)
		return sh_error("cppn: %d outputs not in [1, %d]", n_out, CPPN_MAX_OUT);
	net->depth = depth;
	net->n_latent = n_latent;
	net->n_out = n_out;
	net->n_in = CPPN_N_COORD + n_latent;
	for (int i = 0; i < n_latent; i++)
		net->latent[i] = latent[i];

	const int W = CPPN_WIDTH;
	size_t n = (size_t)net->n_in * W + W + (size_t)(depth - 1) * (W * W + W) + (size_t)W * n_out + n_out;
	net->params = sh_alloc(n * sizeof(float));
	if (!net->params)
		return -1;
	float *p = net->params;
	net->w_in = p, p += (size_t)net->n_in * W;
	net->b_in = p, p += W;
	for (int l = 0; l < depth - 1; l++) {
		net->w_hid[l] = p, p += W * W;
		net->b_hid[l] = p, p += W;
	}
	net->w_out = p, p += W * n_out;
	net->b_out = p;

	sh_rng rng;
	sh_rng_seed_stream(&rng, seed, 0x6370706e); /* "cppn" */
	/* Activation mix per layer: each kind gets at least a quarter of the units, so no layer
	 * is all-smooth (tanh/bump) or all-periodic (sin). */
	for (int l = 0; l < depth; l++) {
		int quarter = W / 4, spare = W - 3 * quarter;
		int a = (int)(sh_rng_uniformf(&rng) * (spare + 1));
		int b = (int)(sh_rng_uniformf(&rng) * (spare - a + 1));
		net->n_sin[l] = quarter + a;
		net->n_tanh[l] = quarter + b;
	}
	/* Coordinates: N(0, 1), so zoom sets the spatial frequency. Latent: N(0, 1) too, so that
	 * moving z by about 1 shifts every first-layer unit by a phase of order 1. */
	for (int i = 0; i < net->n_in * W; i++)
		net->w_in[i] = (float)sh_rng_normal(&rng);
	for (int i = 0; i < W; i++)
		net->b_in[i] = (float)sh_rng_normal(&rng);
	float s_hid = weight_scale / sqrtf((float)W);
	for (int l = 0; l < depth - 1; l++) {
		for (int i = 0; i < W * W; i++)
			net->w_hid[l][i] = s_hid * (float)sh_rng_normal(&rng);
		for (int i = 0; i < W; i++)
			net->b_hid[l][i] = 0.5f * (float)sh_rng_normal(&rng);
	}
	for (int i = 0; i < W * n_out; i++)
		net->w_out[i] = s_hid * (float)sh_rng_normal(&rng);
	for (int i = 0; i < n_out; i++)
		net->b_out[i] = 0.1f * (float)sh_rng_normal(&rng);

	for (int j = 0; j < W; j++) {
		float acc = net->b_in[j];
		for (int i = 0; i < n_latent; i++)
			acc += net->w_in[(CPPN_N_COORD + i) * W + j] * latent[i];
		net->b_in_z[j] = acc;
	}
	return 0;
}

void cppn_free(cppn *net)
{
	free(net->params);
	net->params = NULL;
}

void cppn_eval(const cppn *net, float x, float y, float *out)
{
	const int W = CPPN_WIDTH;
	float in[CPPN_N_COORD + CPPN_MAX_LATENT], h[CPPN_WIDTH], g[CPPN_WIDTH];
	in[0] = x, in[1] = y, in[2] = sqrtf(x * x + y * y);
	for (int i = 0; i < net->n_latent; i++)
		in[CPPN_N_COORD + i] = net->latent[i];
	for (int j = 0; j < W; j++) {
		float acc = net->b_in[j];
		for (int i = 0; i < net->n_in; i++)
			acc += net->w_in[i * W + j] * in[i];
		h[j] = acc;
	}
	act_layer(h, net->n_sin[0], net->n_tanh[0]);
	for (int l = 0; l < net->depth - 1; l++) {
		for (int j = 0; j < W; j++) {
			float acc = net->b_hid[l][j];
			for (int i = 0; i < W; i++)
				acc += net->w_hid[l][i * W + j] * h[i];
			g[j] = acc;
		}
		memcpy(h, g, sizeof h);
		act_layer(h, net->n_sin[l + 1], net->n_tanh[l + 1]);
	}
	output_layer(net, h, out);
}

void cppn_view_coords(const cppn_view *v, int w, int h, int px, int py, float *x, float *y)
{
	float half = 0.5f * (float)(w < h ? w : h);
	float u = ((float)px + 0.5f - 0.5f * (float)w) / half;
	float t = ((float)py + 0.5f - 0.5f * (float)h) / half;
	if (v->mirror)
		u = fabsf(u);
	float c = cosf(v->angle), s = sinf(v->angle);
	*x = v->zoom * (c * u - s * t) + v->cx;
	*y = v->zoom * (s * u + c * t) + v->cy;
}

/* One pixel with the latent folded into the first bias; the inner loops run over output
 * units (contiguous in the transposed weights) so they vectorise without reassociation. */
static void eval_folded(const cppn *net, float x, float y, float *out)
{
	const int W = CPPN_WIDTH;
	float h[CPPN_WIDTH], g[CPPN_WIDTH];
	float r = sqrtf(x * x + y * y);
	const float *wx = net->w_in, *wy = net->w_in + W, *wr = net->w_in + 2 * W;
#pragma omp simd
	for (int j = 0; j < W; j++)
		h[j] = net->b_in_z[j] + wx[j] * x + wy[j] * y + wr[j] * r;
	act_layer(h, net->n_sin[0], net->n_tanh[0]);
	for (int l = 0; l < net->depth - 1; l++) {
		const float *wl = net->w_hid[l];
		memcpy(g, net->b_hid[l], sizeof g);
		for (int i = 0; i < W; i++) {
			float hi = h[i];
#pragma omp simd
			for (int j = 0; j < W; j++)
				g[j] += wl[i * W + j] * hi;
		}
		memcpy(h, g, sizeof h);
		act_layer(h, net->n_sin[l + 1], net->n_tanh[l + 1]);
	}
	output_layer(net, h, out);
}

int cppn_render(const cppn *net, const cppn_view *view, int w, int h, float *out)
{
	if (w < 1 || h < 1)
		return sh_error("cppn: bad image size %dx%d", w, h);
#pragma omp parallel for schedule(dynamic, 4)
	for (int py = 0; py < h; py++)
		for (int px = 0; px < w; px++) {
			float x, y;
			cppn_view_coords(view, w, h, px, py, &x, &y);
			eval_folded(net, x, y, out + ((size_t)py * w + px) * net->n_out);
		}
	return 0;
}
