/* cppn.h: a compositional pattern-producing network: a random MLP from pixel coordinates
 * (x, y, r) and a latent vector z to a few output channels, evaluated over an image grid.
 * The weights are drawn from an explicit seed with the small PRNG below, so the same seed,
 * latent and size always give the same floats, whatever the thread count.
 *
 * Hidden units use one of three activations (sine, tanh, gaussian bump); each layer's units
 * are grouped by activation so the evaluation loops vectorise. The activations are our own
 * polynomial/rational approximations, written in plain arithmetic so that they vectorise and
 * give the same bits on every x86-64 build (no libm version dependence). */
#ifndef SHARKS_CPPN_H
#define SHARKS_CPPN_H

#include <stdint.h>

/* A stateless hash of (seed, a, b) to [0, 1): per-pixel noise independent of thread order. */
float cppn_hash01(uint64_t seed, uint32_t a, uint32_t b);

/* The activations (exposed for the unit test that bounds their error against libm). */
float cppn_sin(float x);  /* sin(x), |error| < 2e-6 */
float cppn_tanh(float x); /* tanh(x), |error| < 1e-6 */
float cppn_bump(float x); /* (1 - x^2/16)^16 for |x| < 4, else 0: a gaussian-like bump */

#define CPPN_WIDTH 32    /* hidden units per layer (fixed so the loops vectorise) */
#define CPPN_MAX_DEPTH 8 /* hidden layers */
#define CPPN_MAX_LATENT 32
#define CPPN_MAX_OUT 8
#define CPPN_N_COORD 3 /* x, y, r */

typedef struct {
	int depth;    /* hidden layers, 1..CPPN_MAX_DEPTH */
	int n_latent; /* 0..CPPN_MAX_LATENT */
	int n_out;    /* 1..CPPN_MAX_OUT, each squashed by tanh into (-1, 1) */
	int n_in;     /* CPPN_N_COORD + n_latent */
	/* Units of every hidden layer are ordered sin [0, n_sin), tanh [n_sin, n_sin + n_tanh),
	 * bump [n_sin + n_tanh, CPPN_WIDTH). */
	int n_sin[CPPN_MAX_DEPTH], n_tanh[CPPN_MAX_DEPTH];
	float latent[CPPN_MAX_LATENT];
	/* Weights, transposed so the inner loop runs over output units:
	 * w_in (n_in, WIDTH), b_in (WIDTH); w_hid[l] (WIDTH, WIDTH), b_hid[l] (WIDTH) for
	 * l = 0..depth-2; w_out (WIDTH, n_out), b_out (n_out). All in one allocation. */
	float *params;
	float *w_in, *b_in, *w_hid[CPPN_MAX_DEPTH], *b_hid[CPPN_MAX_DEPTH], *w_out, *b_out;
	/* b_in + w_in[3:]ᵀ z: the latent part of the first layer folded into its bias, since z is
	 * constant over the image (computed by cppn_init). */
	float b_in_z[CPPN_WIDTH];
} cppn;

/* Draws a network. weight_scale multiplies the N(0, 1/fan_in) weights of the hidden layers
 * (larger → busier patterns); the coordinate weights are N(0, 1) so the view's zoom controls
 * the spatial frequency. Returns 0, or -1 with an error (bad sizes, out of memory). */
int cppn_init(cppn *net, uint64_t seed, int depth, int n_latent, const float *latent, int n_out, float weight_scale);
void cppn_free(cppn *net);

/* Reference evaluation of one point (x, y) with r = sqrt(x² + y²): builds the whole input
 * vector (coordinates and latent) and runs every layer plainly. out has n_out floats. */
void cppn_eval(const cppn *net, float x, float y, float *out);

/* How image pixels map to network coordinates: pixel centres span [-1, 1] on the shorter
 * side; then rotate by angle, scale by zoom, shift by (cx, cy); mirror folds x to |x|
 * first (a left-right symmetric image). */
typedef struct {
	float zoom, angle, cx, cy;
	int mirror;
} cppn_view;
void cppn_view_coords(const cppn_view *v, int w, int h, int px, int py, float *x, float *y);

/* Evaluates the network at every pixel of a w×h image into out (h, w, n_out), rows in
 * parallel with OpenMP; uses the folded latent bias (same values as cppn_eval up to float
 * rounding). Returns 0, or -1 with an error. */
int cppn_render(const cppn *net, const cppn_view *view, int w, int h, float *out);

#endif
