/* fixture.h: helpers shared by the model tests (test_samplernn.c, test_wavenet.c), header only
 * like tap.h: a seeded xorshift for test data, rows of random-walk codes, the PyTorch peer's
 * tensors read by parameter name from a safetensors fixture, gradients compared with the
 * peer's slice by slice, and whole-model finite differences. A model is seen through its
 * param_info function (srnn_param_info, wn_param_info, their _f64 twins) behind a
 * param_info_fn wrapper. */
#ifndef SHARKS_FIXTURE_H
#define SHARKS_FIXTURE_H
#include "params.h"
#include "safetensors.h"
#include "util.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static inline double urand(void) /* [0, 1) */
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (double)(rng >> 11) * 0x1p-53;
}

/* rows of `width` codes: a random walk of steps in [-step, step] clamped to [0, Q) */
static inline uint16_t *walk_codes(int rows, int width, int Q, int step)
{
	uint16_t *c = malloc(sizeof(uint16_t) * rows * width);
	for (int r = 0; r < rows; r++) {
		int v = Q / 2;
		for (int i = 0; i < width; i++) {
			v += (int)(urand() * (2 * step + 1)) - step;
			v = v < 0 ? 0 : v >= Q ? Q - 1 : v;
			c[r * width + i] = (uint16_t)v;
		}
	}
	return c;
}

/* Slice i of a model's parameters, NULL past the last. */
typedef const nn_param *(*param_info_fn)(const void *model, int i);

/* Reads the peer's tensor prefix + name, of the slice's shape, into dst + offset for every
 * slice; and the peer must have no other tensor under prefix. */
static inline int load_peer(const st_file *sf, const char *prefix, float *dst, param_info_fn info, const void *m)
{
	char name[160];
	int found = 0;
	const nn_param *p;
	for (int i = 0; (p = info(m, i)); i++) {
		snprintf(name, sizeof name, "%s%s", prefix, p->name);
		const st_tensor *t = st_find(sf, name);
		int same = t && t->ndim == p->ndim;
		for (int k = 0; same && k < p->ndim; k++)
			same = t->shape[k] == p->shape[k];
		if (!same || st_read_f32(sf, name, dst + p->offset, p->count)) {
			tap_diag("%s: missing or another shape", name);
			return -1;
		}
		found++;
	}
	int theirs = 0;
	for (int i = 0; i < sf->ntensors; i++)
		theirs += !strncmp(sf->tensors[i].name, prefix, strlen(prefix));
	return theirs == found ? 0 : (tap_diag("peer has %d %s* tensors, we %d", theirs, prefix, found), -1);
}

/* The worst over the slices of max|ours - peer| / max|peer| (the slice's largest peer value);
 * *worst_name, when given, names that slice. */
static inline double grad_worst(const float *ours, const float *peer, param_info_fn info, const void *m,
				const char **worst_name)
{
	double worst = 0;
	const nn_param *p;
	if (worst_name)
		*worst_name = "";
	for (int i = 0; (p = info(m, i)); i++) {
		double dmax = 0, scale = 0;
		for (size_t j = 0; j < p->count; j++) {
			dmax = fmax(dmax, fabs(ours[p->offset + j] - peer[p->offset + j]));
			scale = fmax(scale, fabs(peer[p->offset + j]));
		}
		double e = dmax / (scale + 1e-30);
		if (e > worst) {
			worst = e;
			if (worst_name)
				*worst_name = p->name;
		}
	}
	return worst;
}

/* The name of the slice holding value `offset`, "" for none. */
static inline const char *param_name_at(param_info_fn info, const void *m, size_t offset)
{
	const nn_param *p;
	for (int i = 0; (p = info(m, i)); i++)
		if (offset >= p->offset && offset < p->offset + p->count)
			return p->name;
	return "";
}

/* Central differences (step h) of loss(ctx) over every parameter p[0 .. np) against the
 * analytic gradient ga: the worst relative error, with gradients below 1e-3 of the largest
 * judged against that floor (their finite differences are dominated by the loss's rounding,
 * ~1e-15/h). *wi gets the worst element, *wnum its numeric gradient, *gmax the largest
 * |ga|. */
static inline double fd_worst_rel(double *p, const double *ga, size_t np, double h, double (*loss)(void *ctx),
				  void *ctx, size_t *wi, double *wnum, double *gmax)
{
	double worst = 0;
	*wi = 0, *wnum = 0, *gmax = 0;
	for (size_t i = 0; i < np; i++)
		*gmax = fmax(*gmax, fabs(ga[i]));
	for (size_t i = 0; i < np; i++) {
		double x0 = p[i];
		p[i] = x0 + h;
		double lp = loss(ctx);
		p[i] = x0 - h;
		double lm = loss(ctx);
		p[i] = x0;
		double num = (lp - lm) / (2 * h);
		double e = fabs(num - ga[i]) / fmax(fmax(fabs(num), fabs(ga[i])), 1e-3 * *gmax);
		if (e > worst)
			worst = e, *wi = i, *wnum = num;
	}
	return worst;
}

#endif
