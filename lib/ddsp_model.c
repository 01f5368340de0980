/* ddsp_model.c: the DDSP model's configuration (presets, checks, checkpoint metadata), its
 * parameter table with the PyTorch reference's names, and the input scaling; the numerics are
 * in ddsp_model_real.c. */
#include "ddsp_model.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int ddsp_preset(const char *name, ddsp_config *c)
{
	memset(c, 0, sizeof *c);
	c->sample_rate = 16000;
	if (!strcmp(name, "tiny")) {
		/* for tests: a quarter second, a few channels */
		c->hop = 64, c->n_samples = 4096, c->ch = 8, c->layers = 1, c->gru = 8;
		c->n_harmonics = 8, c->n_bands = 9, c->reverb = 256, c->batch = 2;
	} else if (!strcmp(name, "small")) {
		/* what learns an instrument in minutes on two cores: 125 frames/s, one layer per
		 * stack, a 1 s reverb (docs/ddsp-harmonic.md, "Training") */
		c->hop = 128, c->n_samples = 64000, c->ch = 96, c->layers = 1, c->gru = 128;
		c->n_harmonics = 40, c->n_bands = 65, c->reverb = 16000, c->batch = 8;
	} else if (!strcmp(name, "paper")) {
		/* solo_instrument.gin */
		c->hop = 64, c->n_samples = 64000, c->ch = 512, c->layers = 3, c->gru = 512;
		c->n_harmonics = 60, c->n_bands = 65, c->reverb = 48000, c->batch = 32;
	} else {
		return sh_error("unknown DDSP preset '%s' (tiny, small, paper)", name);
	}
	return 0;
}

int ddsp_config_check(const ddsp_config *c)
{
	if (c->sample_rate < 1000 || c->sample_rate > 384000)
		return sh_error("sample rate %d out of range", c->sample_rate);
	if (c->hop < 1 || c->hop > 4096)
		return sh_error("hop %d out of range (1 to 4096)", c->hop);
	if (c->n_samples < c->hop || c->n_samples % c->hop)
		return sh_error("example length %d is not a whole number of hops (%d)", c->n_samples, c->hop);
	if (c->ch < 1 || c->layers < 1 || c->layers > 16 || c->gru < 1 || c->ch > 8192 || c->gru > 8192)
		return sh_error("bad decoder size (ch %d, layers %d, gru %d)", c->ch, c->layers, c->gru);
	if (c->n_harmonics < 1 || c->n_harmonics > 1000 || c->n_bands < 3 || c->n_bands > 2049)
		return sh_error("bad synth size (%d harmonics, %d noise bands)", c->n_harmonics, c->n_bands);
	if (c->reverb < 0 || c->reverb > 10 * c->sample_rate)
		return sh_error("reverb of %d taps out of range", c->reverb);
	if (c->batch < 1 || c->batch > 4096)
		return sh_error("batch %d out of range", c->batch);
	return 0;
}

#define FIELDS(X) X(sample_rate) X(hop) X(n_samples) X(ch) X(layers) X(gru) X(n_harmonics) X(n_bands) X(reverb) X(batch)

int ddsp_config_diff(const ddsp_config *a, const ddsp_config *b, char *buf, size_t cap)
{
#define DIFF(f)                                                                                                        \
	if (a->f != b->f)                                                                                              \
		return snprintf(buf, cap, #f " %d in the checkpoint, %d asked", a->f, b->f), 1;
	FIELDS(DIFF)
#undef DIFF
	return 0;
}

int ddsp_config_to_meta(const ddsp_config *c, st_writer *w)
{
	char v[32];
	if (st_set_meta(w, "model", "ddsp") < 0)
		return -1;
#define META(f)                                                                                                        \
	snprintf(v, sizeof v, "%d", c->f);                                                                             \
	if (st_set_meta(w, #f, v) < 0)                                                                                 \
		return -1;
	FIELDS(META)
#undef META
	return 0;
}

int ddsp_config_from_meta(const st_file *sf, ddsp_config *c)
{
	const char *model = st_meta(sf, "model");
	if (!model || strcmp(model, "ddsp"))
		return sh_error("not a DDSP checkpoint (model '%s')", model ? model : "(none)");
	memset(c, 0, sizeof *c);
	long v;
#define READ(f)                                                                                                        \
	if (st_meta_long(sf, #f, 0, 1L << 30, &v) < 0)                                                                 \
		return -1;                                                                                             \
	c->f = (int)v;
	FIELDS(READ)
#undef READ
	return ddsp_config_check(c);
}

double ddsp_decoder_flops(const ddsp_config *c, long frames)
{
	double ch = c->ch, G = c->gru, in_out = 2 * ch + G, f = 0;
	/* two input stacks, the GRU (input and recurrent products), the output stack, dense out */
	f += 2 * (1 * ch + (c->layers - 1) * ch * ch);
	f += 3 * G * (2 * ch) + 3 * G * G;
	f += in_out * ch + (c->layers - 1) * ch * ch;
	f += ch * ddsp_n_out(c);
	/* 2 FLOPs a multiply-add; backward twice the forward */
	return 3 * 2 * f * frames;
}

/* One (dense, layer norm) stack: name.L.dense.weight [ch×in] ... */
static void add_stack(param_table *t, const char *name, int in, const ddsp_config *c)
{
	char nm[PARAM_NAME_MAX];
	for (int l = 0; l < c->layers; l++) {
		int fan = l ? c->ch : in;
		snprintf(nm, sizeof nm, "%s.%d.dense.weight", name, l);
		param_table_add(t, nm, 2, c->ch, fan, 0);
		snprintf(nm, sizeof nm, "%s.%d.dense.bias", name, l);
		param_table_add(t, nm, 1, c->ch, 0, 0);
		snprintf(nm, sizeof nm, "%s.%d.norm.weight", name, l);
		param_table_add(t, nm, 1, c->ch, 0, 0);
		snprintf(nm, sizeof nm, "%s.%d.norm.bias", name, l);
		param_table_add(t, nm, 1, c->ch, 0, 0);
	}
}

int ddsp_param_table(const ddsp_config *c, param_table *t)
{
	if (param_table_init(t, 12 * c->layers + 8) < 0)
		return -1;
	const int G = c->gru;
	add_stack(t, "ld_stack", 1, c);
	add_stack(t, "f0_stack", 1, c);
	param_table_add(t, "gru.weight_ih_l0", 2, 3 * G, 2 * c->ch, 0);
	param_table_add(t, "gru.weight_hh_l0", 2, 3 * G, G, 0);
	param_table_add(t, "gru.bias_ih_l0", 1, 3 * G, 0, 0);
	param_table_add(t, "gru.bias_hh_l0", 1, 3 * G, 0, 0);
	add_stack(t, "out_stack", 2 * c->ch + G, c);
	param_table_add(t, "dense_out.weight", 2, ddsp_n_out(c), c->ch, 0);
	param_table_add(t, "dense_out.bias", 1, ddsp_n_out(c), 0, 0);
	if (c->reverb)
		param_table_add(t, "reverb.ir", 1, c->reverb, 0, 0);
	return 0;
}

double ddsp_f0_scaled(double f0_hz)
{
	/* ddsp.core.hz_to_midi: 12·(log2 f - log2 440) + 69, notes <= 0 set to 0; / 127 */
	if (!(f0_hz > 0))
		return 0;
	double midi = 12 * (log2(f0_hz) - log2(440.0)) + 69;
	return midi > 0 ? midi / 127 : 0;
}

double ddsp_ld_scaled(double loudness_db) { return loudness_db / 80 + 1; }
