/* samplernn.c: SampleRNN configurations (presets, checks, history); the model itself, which is
 * built in float and in double, lives in samplernn_real.c. */
#include "samplernn.h"
#include "util.h"

#include <string.h>

static const struct {
	const char *name;
	int fs, dim, layers, embed, batch, seq;
} presets[] = {
	/* docs/samplernn.md, "Presets" (tests/reference/samplernn.py has the same) */
	{"tiny", 16, 64, 1, 16, 8, 256},
	{"small", 16, 512, 3, 128, 16, 1024},
	{"medium", 16, 1024, 3, 256, 16, 1024},
	{"dadabots", 16, 1024, 5, 256, 32, 1024},
};

int srnn_preset(const char *name, srnn_config *cfg)
{
	for (size_t i = 0; i < SH_ARRAY_LEN(presets); i++)
		if (!strcmp(name, presets[i].name)) {
			memset(cfg, 0, sizeof *cfg);
			cfg->nframe_tiers = 1;
			cfg->frame_size[0] = presets[i].fs;
			cfg->dim = presets[i].dim;
			cfg->layers = presets[i].layers;
			cfg->rnn = SRNN_LSTM;
			cfg->embed = presets[i].embed;
			cfg->levels = 256;
			cfg->seq = presets[i].seq;
			cfg->batch = presets[i].batch;
			return 0;
		}
	return sh_error("unknown preset '%s' (tiny, small, medium, dadabots)", name);
}

int srnn_config_check(const srnn_config *c)
{
	if (c->nframe_tiers < 1 || c->nframe_tiers > SRNN_MAX_TIERS)
		return sh_error("frame tiers: %d, want 1 to %d", c->nframe_tiers, SRNN_MAX_TIERS);
	for (int k = 0; k < c->nframe_tiers; k++) {
		if (c->frame_size[k] < 1 || c->frame_size[k] > 4096)
			return sh_error("frame size %d: want 1 to 4096", c->frame_size[k]);
		if (k && (c->frame_size[k] >= c->frame_size[k - 1] ||
			  c->frame_size[k - 1] % c->frame_size[k]))
			return sh_error("frame sizes %d, %d: each must divide the previous (coarsest "
					"first)", c->frame_size[k - 1], c->frame_size[k]);
	}
	if (c->dim < 1 || c->dim > 16384)
		return sh_error("dim %d: want 1 to 16384", c->dim);
	if (c->layers < 1 || c->layers > 64)
		return sh_error("layers %d: want 1 to 64", c->layers);
	if (c->rnn != SRNN_LSTM && c->rnn != SRNN_GRU)
		return sh_error("rnn type %d: want LSTM or GRU", c->rnn);
	if (c->embed < 1 || c->embed > 16384)
		return sh_error("embedding size %d: want 1 to 16384", c->embed);
	if (c->levels < 2 || c->levels > 65536)
		return sh_error("levels %d: want 2 to 65536", c->levels);
	if (c->seq < 1 || c->seq % c->frame_size[0])
		return sh_error("window %d: must be a positive multiple of the frame size %d", c->seq,
				c->frame_size[0]);
	if (c->batch < 1)
		return sh_error("batch %d: must be positive", c->batch);
	return 0;
}

int srnn_history(const srnn_config *cfg) { return cfg->frame_size[0]; }

double srnn_train_flops(const srnn_config *c, int batch)
{
	const double D = c->dim, G = c->rnn == SRNN_LSTM ? 4 : 3, Q = c->levels, E = c->embed;
	const double N = (double)batch * c->seq;
	const int K = c->nframe_tiers;
	const double FS = c->frame_size[K - 1];
	double mac = 0;
	for (int k = 0; k < K; k++) {
		double F = c->frame_size[k], R = N / F;
		double upw = k == K - 1 ? F * D : F / c->frame_size[k + 1] * G * D;
		for (int l = 0; l < c->layers; l++) {
			double in = l ? D + F : F;
			/* input projection: forward, dW, and dX except on the frame itself */
			mac += R * in * G * D * (l ? 3 : 2);
			/* recurrent product: forward, dW, dh */
			mac += 3 * R * D * G * D;
		}
		mac += 3 * c->layers * R * D * D + 3 * R * D * upw;  /* outs, up */
	}
	mac += 3 * FS * Q * E * D;                   /* the folded first layer: tables, dW1, demb */
	mac += 3 * (2 * N * D * D + N * D * Q);      /* l2, l3, l4 */
	return 2 * mac;
}
