/* wavenet.c: WaveNet configurations (presets, checks, receptive field, FLOP count, checkpoint
 * metadata); the model itself, built in float and in double, lives in wavenet_real.c. */
#include "wavenet.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	int pow_max, repeat, R, C, S, batch, n_out;
} presets[] = {
	/* docs/wavenet.md, "Presets" (tests/reference/wavenet.py has the same): dilations 1, 2, ... 2^pow_max,
	 * repeated */
	{"tiny", 6, 1, 16, 16, 64, 4, 2048},
	{"default", 9, 5, 32, 32, 512, 1, 16000},
};

int wn_preset(const char *name, wn_config *cfg)
{
	for (size_t i = 0; i < SH_ARRAY_LEN(presets); i++)
		if (!strcmp(name, presets[i].name)) {
			memset(cfg, 0, sizeof *cfg);
			for (int r = 0; r < presets[i].repeat; r++)
				for (int p = 0; p <= presets[i].pow_max; p++)
					cfg->dilation[cfg->nlayers++] = 1 << p;
			cfg->res_ch = presets[i].R;
			cfg->dil_ch = presets[i].C;
			cfg->skip_ch = presets[i].S;
			cfg->levels = 256;
			cfg->batch = presets[i].batch;
			cfg->n_out = presets[i].n_out;
			return 0;
		}
	return sh_error("unknown preset '%s' (tiny, default)", name);
}

static const char *const input_names[] = {"onehot", "embed", "scalar"};

const char *wn_input_name(int input)
{
	return input >= 0 && input < (int)SH_ARRAY_LEN(input_names) ? input_names[input] : "?";
}

int wn_input_parse(const char *name, int *input)
{
	for (size_t i = 0; i < SH_ARRAY_LEN(input_names); i++)
		if (!strcmp(name, input_names[i])) {
			*input = (int)i;
			return 0;
		}
	return sh_error("unknown input '%s' (onehot, embed, scalar)", name);
}

int wn_input_width(const wn_config *c) { return c->input == WN_INPUT_SCALAR ? c->initial_width : 2; }

int wn_config_check(const wn_config *c)
{
	if (c->input < WN_INPUT_ONEHOT || c->input > WN_INPUT_SCALAR)
		return sh_error("input %d: want onehot, embed or scalar", c->input);
	if (c->input == WN_INPUT_EMBED ? c->embed < 1 || c->embed > WN_MAX_EMBED : c->embed)
		return c->input == WN_INPUT_EMBED ? sh_error("embedding size %d: want 1 to %d", c->embed, WN_MAX_EMBED)
						  : sh_error("embedding size %d given to %s input (embed input only)",
							     c->embed, wn_input_name(c->input));
	if (c->input == WN_INPUT_SCALAR ? c->initial_width < 1 || c->initial_width > WN_MAX_INITIAL_WIDTH
					: c->initial_width)
		return c->input == WN_INPUT_SCALAR
			       ? sh_error("initial width %d: want 1 to %d", c->initial_width, WN_MAX_INITIAL_WIDTH)
			       : sh_error("initial width %d given to %s input (scalar input only)", c->initial_width,
					  wn_input_name(c->input));
	if (c->nlayers < 1 || c->nlayers > WN_MAX_LAYERS)
		return sh_error("layers: %d, want 1 to %d", c->nlayers, WN_MAX_LAYERS);
	long sum = 0;
	for (int l = 0; l < c->nlayers; l++) {
		if (c->dilation[l] < 1 || c->dilation[l] > (1 << 20))
			return sh_error("dilation %d of layer %d: want 1 to %d", c->dilation[l], l, 1 << 20);
		sum += c->dilation[l];
	}
	if (sum > (1 << 24))
		return sh_error("receptive field %ld: too large", sum + wn_input_width(c));
	if (c->res_ch < 1 || c->res_ch > 8192)
		return sh_error("residual channels %d: want 1 to 8192", c->res_ch);
	if (c->dil_ch < 1 || c->dil_ch > 8192)
		return sh_error("dilation channels %d: want 1 to 8192", c->dil_ch);
	if (c->skip_ch < 1 || c->skip_ch > 8192)
		return sh_error("skip channels %d: want 1 to 8192", c->skip_ch);
	if (c->levels < 2 || c->levels > 65536)
		return sh_error("levels %d: want 2 to 65536", c->levels);
	if (c->n_out < 1 || c->n_out > (1 << 24))
		return sh_error("outputs per window %d: want 1 to %d", c->n_out, 1 << 24);
	if (c->batch < 1)
		return sh_error("batch %d: must be positive", c->batch);
	return 0;
}

int wn_receptive_field(const wn_config *c)
{
	int rf = wn_input_width(c);
	for (int l = 0; l < c->nlayers; l++)
		rf += c->dilation[l];
	return rf;
}

double wn_train_flops(const wn_config *c, int batch)
{
	const double R = c->res_ch, C = c->dil_ch, S = c->skip_ch, Q = c->levels;
	const double N = (double)batch * c->n_out;
	double mac = 0, L = wn_receptive_field(c) - wn_input_width(c) + c->n_out;
	for (int l = 0; l < c->nlayers; l++) {
		double Lo = (double)batch * (L - c->dilation[l]);
		mac += 3 * Lo * 2 * C * 2 * R; /* filter and gate: fwd, dW, dx */
		if (l < c->nlayers - 1)
			mac += 3 * Lo * C * R; /* residual */
		L -= c->dilation[l];
	}
	mac += 3 * N * c->nlayers * C * S;    /* skips */
	mac += 3 * N * S * S + 3 * N * S * Q; /* post1, post2 */
	const double L0 = (double)batch * (wn_receptive_field(c) - wn_input_width(c) + c->n_out);
	if (c->input == WN_INPUT_SCALAR) /* the input conv: fwd, dW */
		mac += 2 * L0 * c->initial_width * R;
	else if (c->input == WN_INPUT_EMBED) /* folding it into the taps, dE, dW */
		mac += 3 * Q * c->embed * 2 * R;
	return 2 * mac;
}

/* ---- checkpoint metadata ---- */

int wn_dilations_str(const wn_config *c, char *buf, size_t size)
{
	size_t used = 0;
	for (int l = 0; l < c->nlayers; l++) {
		int k = snprintf(buf + used, size - used, l ? ",%d" : "%d", c->dilation[l]);
		if (k < 0 || (size_t)k >= size - used)
			return sh_error("dilations do not fit in %zu bytes", size);
		used += k;
	}
	return 0;
}

int wn_parse_dilations(const char *s, wn_config *c)
{
	int hi, rep, n;
	/* "1..512x5": the powers of two from 1 to hi, repeated */
	if (sscanf(s, "1..%dx%d%n", &hi, &rep, &n) == 2 && !s[n]) {
		if (hi < 1 || (hi & (hi - 1)) || hi > (1 << 20) || rep < 1)
			return sh_error("dilations '%s': want 1..P x N with P a power of two", s);
		int k = 0;
		for (int r = 0; r < rep; r++)
			for (int d = 1; d <= hi; d *= 2) {
				if (k == WN_MAX_LAYERS)
					return sh_error("dilations '%s': more than %d layers", s, WN_MAX_LAYERS);
				c->dilation[k++] = d;
			}
		c->nlayers = k;
		return 0;
	}
	int k = 0;
	const char *p = s;
	for (;;) {
		char *end;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (end == p || errno || v < 1 || v > (1 << 20))
			return sh_error("dilations '%s': want positive integers separated by commas", s);
		if (k == WN_MAX_LAYERS)
			return sh_error("dilations '%s': more than %d layers", s, WN_MAX_LAYERS);
		c->dilation[k++] = (int)v;
		if (!*end)
			break;
		if (*end != ',')
			return sh_error("dilations '%s': want positive integers separated by commas", s);
		p = end + 1;
	}
	c->nlayers = k;
	return 0;
}

int wn_config_to_meta(const wn_config *c, st_writer *w)
{
	char dil[WN_MAX_LAYERS * 9], num[32];
	if (wn_dilations_str(c, dil, sizeof dil) < 0)
		return -1;
	const struct {
		const char *key;
		int v;
	} ints[] = {
		{"residual_channels", c->res_ch},
		{"dilation_channels", c->dil_ch},
		{"skip_channels", c->skip_ch},
		{"levels", c->levels},
		{"n_out", c->n_out},
		{"batch", c->batch},
		{"receptive_field", wn_receptive_field(c)},
	};
	if (st_set_meta(w, "model", "wavenet") < 0 || st_set_meta(w, "input", wn_input_name(c->input)) < 0)
		return -1;
	/* the input's own key only: a one-hot model's metadata is what it always was */
	if (c->input == WN_INPUT_EMBED) {
		snprintf(num, sizeof num, "%d", c->embed);
		if (st_set_meta(w, "embed", num) < 0)
			return -1;
	} else if (c->input == WN_INPUT_SCALAR) {
		snprintf(num, sizeof num, "%d", c->initial_width);
		if (st_set_meta(w, "initial_width", num) < 0)
			return -1;
	}
	if (st_set_meta(w, "dilations", dil) < 0)
		return -1;
	for (size_t i = 0; i < SH_ARRAY_LEN(ints); i++) {
		snprintf(num, sizeof num, "%d", ints[i].v);
		if (st_set_meta(w, ints[i].key, num) < 0)
			return -1;
	}
	return 0;
}

static int meta_int(const st_file *sf, const char *key, int *out)
{
	long v;
	if (st_meta_long(sf, key, 0, 1L << 30, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

int wn_config_from_meta(const st_file *sf, wn_config *c)
{
	const char *model = st_meta(sf, "model"), *input = st_meta(sf, "input");
	const char *dil = st_meta(sf, "dilations");
	if (!model || strcmp(model, "wavenet"))
		return sh_error("not a WaveNet checkpoint (model '%s')", model ? model : "(none)");
	memset(c, 0, sizeof *c);
	if (input && wn_input_parse(input, &c->input) < 0)
		return sh_error("input '%s' in the metadata is not supported (onehot, embed, scalar)", input);
	if (!dil)
		return sh_error("no 'dilations' in the metadata");
	if (wn_parse_dilations(dil, c) < 0)
		return sh_error_prefix("bad 'dilations' in the metadata");
	int rf = 0;
	if (meta_int(sf, "residual_channels", &c->res_ch) < 0 || meta_int(sf, "dilation_channels", &c->dil_ch) < 0 ||
	    meta_int(sf, "skip_channels", &c->skip_ch) < 0 || meta_int(sf, "levels", &c->levels) < 0 ||
	    meta_int(sf, "n_out", &c->n_out) < 0 || meta_int(sf, "batch", &c->batch) < 0 ||
	    (c->input == WN_INPUT_EMBED && meta_int(sf, "embed", &c->embed) < 0) ||
	    (c->input == WN_INPUT_SCALAR && meta_int(sf, "initial_width", &c->initial_width) < 0))
		return -1;
	if (st_meta(sf, "receptive_field") && (meta_int(sf, "receptive_field", &rf) < 0 || rf != wn_receptive_field(c)))
		return sh_error("'receptive_field' %s in the metadata disagrees with the dilations (%d)",
				st_meta(sf, "receptive_field"), wn_receptive_field(c));
	return wn_config_check(c) < 0 ? sh_error_prefix("metadata") : 0;
}

int wn_config_diff(const wn_config *x, const wn_config *y, char *buf, size_t cap)
{
	char dx[WN_MAX_LAYERS * 9], dy[WN_MAX_LAYERS * 9];
	if (wn_dilations_str(x, dx, sizeof dx) < 0 || wn_dilations_str(y, dy, sizeof dy) < 0 || strcmp(dx, dy))
		return snprintf(buf, cap, "dilations %s in the checkpoint, %s asked", dx, dy), 1;
#define DIFF(field, name)                                                                                              \
	if (x->field != y->field)                                                                                      \
		return snprintf(buf, cap, name " %d in the checkpoint, %d asked", x->field, y->field), 1;
	if (x->input != y->input)
		return snprintf(buf, cap, "input %s in the checkpoint, %s asked", wn_input_name(x->input),
				wn_input_name(y->input)),
		       1;
	DIFF(embed, "embedding size")
	DIFF(initial_width, "initial width")
	DIFF(res_ch, "residual channels")
	DIFF(dil_ch, "dilation channels")
	DIFF(skip_ch, "skip channels")
	DIFF(levels, "levels")
	DIFF(n_out, "n_out")
	DIFF(batch, "batch")
#undef DIFF
	return 0;
}
