/* samplernn.c: SampleRNN configurations (presets, checks, history); the model itself, which is
 * built in float and in double, lives in samplernn_real.c. */
#include "samplernn.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
		if (k && (c->frame_size[k] >= c->frame_size[k - 1] || c->frame_size[k - 1] % c->frame_size[k]))
			return sh_error("frame sizes %d, %d: each must divide the previous (coarsest "
					"first)",
					c->frame_size[k - 1], c->frame_size[k]);
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
		mac += 3 * c->layers * R * D * D + 3 * R * D * upw; /* outs, up */
	}
	mac += 3 * FS * Q * E * D;              /* the folded first layer: tables, dW1, demb */
	mac += 3 * (2 * N * D * D + N * D * Q); /* l2, l3, l4 */
	return 2 * mac;
}

/* ---- checkpoint metadata ---- */

const char *srnn_rnn_name(int rnn) { return rnn == SRNN_GRU ? "gru" : "lstm"; }

void srnn_frame_sizes_str(const srnn_config *cfg, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = 0;
	for (int i = 0; i < cfg->nframe_tiers && n < cap; i++)
		n += snprintf(buf + n, cap - n, i ? ",%d" : "%d", cfg->frame_size[i]);
}

int srnn_parse_frame_sizes(const char *s, srnn_config *cfg)
{
	int fs[SRNN_MAX_TIERS], n = 0;
	const char *p = s;
	for (;;) {
		char *end;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (end == p || errno || v < 1 || v > 65536)
			return sh_error("bad frame sizes '%s': want positive integers like 16 or 64,16", s);
		if (n == SRNN_MAX_TIERS)
			return sh_error("bad frame sizes '%s': at most %d frame tiers", s, SRNN_MAX_TIERS);
		fs[n++] = (int)v;
		if (!*end)
			break;
		if (*end != ',')
			return sh_error("bad frame sizes '%s': want positive integers like 16 or 64,16", s);
		p = end + 1;
	}
	/* coarsest first, whichever order they were given in */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && fs[j] > fs[j - 1]; j--) {
			int t = fs[j];
			fs[j] = fs[j - 1];
			fs[j - 1] = t;
		}
	cfg->nframe_tiers = n;
	for (int i = 0; i < SRNN_MAX_TIERS; i++)
		cfg->frame_size[i] = i < n ? fs[i] : 0;
	return 0;
}

int srnn_config_diff(const srnn_config *a, const srnn_config *b, char *buf, size_t cap)
{
	char fa[64], fb[64];
	srnn_frame_sizes_str(a, fa, sizeof fa);
	srnn_frame_sizes_str(b, fb, sizeof fb);
	if (strcmp(fa, fb))
		return snprintf(buf, cap, "frame sizes %s in the checkpoint, %s asked", fa, fb), 1;
#define DIFF(field, name)                                                                                              \
	if (a->field != b->field)                                                                                      \
		return snprintf(buf, cap, name " %d in the checkpoint, %d asked", a->field, b->field), 1;
	DIFF(dim, "dim")
	DIFF(layers, "layers")
	if (a->rnn != b->rnn)
		return snprintf(buf, cap, "rnn %s in the checkpoint, %s asked", srnn_rnn_name(a->rnn),
				srnn_rnn_name(b->rnn)),
		       1;
	DIFF(embed, "embed")
	DIFF(levels, "levels")
	DIFF(learn_h0, "learn_h0")
	DIFF(rnn_weight_norm, "rnn_weight_norm")
	DIFF(seq, "seq")
	DIFF(batch, "batch")
#undef DIFF
	return 0;
}

static int set_int(st_writer *w, const char *key, int v)
{
	char num[32];
	snprintf(num, sizeof num, "%d", v);
	return st_set_meta(w, key, num);
}

int srnn_config_to_meta(const srnn_config *c, st_writer *w)
{
	char fs[64];
	srnn_frame_sizes_str(c, fs, sizeof fs);
	const struct {
		const char *key;
		int v;
	} ints[] = {
		{"dim", c->dim},       {"layers", c->layers},     {"embed", c->embed},
		{"levels", c->levels}, {"learn_h0", c->learn_h0}, {"rnn_weight_norm", c->rnn_weight_norm},
		{"seq", c->seq},       {"batch", c->batch},
	};
	if (st_set_meta(w, "model", "samplernn") < 0 || st_set_meta(w, "frame_sizes", fs) < 0 ||
	    st_set_meta(w, "rnn", srnn_rnn_name(c->rnn)) < 0)
		return -1;
	for (size_t i = 0; i < SH_ARRAY_LEN(ints); i++)
		if (set_int(w, ints[i].key, ints[i].v) < 0)
			return -1;
	return 0;
}

static int meta_int(const st_file *sf, const char *key, long lo, long hi, int *out)
{
	long v;
	if (st_meta_long(sf, key, lo, hi, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

int srnn_config_from_meta(const st_file *sf, srnn_config *c)
{
	const char *model = st_meta(sf, "model");
	const char *fs = st_meta(sf, "frame_sizes"), *rnn = st_meta(sf, "rnn");
	if (!model || strcmp(model, "samplernn"))
		return sh_error("not a SampleRNN checkpoint (model '%s')", model ? model : "(none)");
	memset(c, 0, sizeof *c);
	if (!fs || srnn_parse_frame_sizes(fs, c) < 0)
		return sh_error("bad 'frame_sizes' in the metadata");
	if (!rnn || (strcmp(rnn, "lstm") && strcmp(rnn, "gru")))
		return sh_error("bad 'rnn' in the metadata");
	c->rnn = strcmp(rnn, "gru") ? SRNN_LSTM : SRNN_GRU;
	if (meta_int(sf, "dim", 1, 1 << 20, &c->dim) < 0 || meta_int(sf, "layers", 1, 1024, &c->layers) < 0 ||
	    meta_int(sf, "embed", 1, 1 << 20, &c->embed) < 0 || meta_int(sf, "levels", 2, 65536, &c->levels) < 0 ||
	    meta_int(sf, "learn_h0", 0, 1, &c->learn_h0) < 0 ||
	    meta_int(sf, "rnn_weight_norm", 0, 1, &c->rnn_weight_norm) < 0 ||
	    meta_int(sf, "seq", 1, 1 << 24, &c->seq) < 0 || meta_int(sf, "batch", 1, 1 << 20, &c->batch) < 0)
		return -1;
	return 0;
}
