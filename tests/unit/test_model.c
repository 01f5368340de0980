/* test_model.c: model.h dispatches to the right model: for a SampleRNN and a WaveNet, the
 * sizes, parameter slices, state, forward and backward through model_* are exactly those of
 * srnn_* and wn_* on a twin created with the same seed. */
#include "model.h"
#include "util.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* rows of `width` codes from a small xorshift */
static uint16_t *codes_of(int rows, int width, int Q)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	uint16_t *c = malloc(sizeof *c * rows * width);
	for (int i = 0; i < rows * width; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		c[i] = (uint16_t)(x % Q);
	}
	return c;
}

static int same_floats(const float *a, const float *b, size_t n) { return !memcmp(a, b, n * sizeof *a); }

static void test_samplernn(void)
{
	model_config c = {.kind = MODEL_SAMPLERNN};
	srnn_preset("tiny", &c.srnn);
	c.srnn.seq = 32;
	c.srnn.batch = 2;
	tap_ok(model_config_check(&c) == 0, "samplernn: config checks");
	tap_ok(model_history(&c) == srnn_history(&c.srnn) && model_seq(&c) == 32 && model_batch(&c) == 2 &&
		       model_levels(&c) == c.srnn.levels,
	       "samplernn: history, seq, batch, levels");
	model *m = model_create(&c, 2);
	srnn *s = srnn_create(&c.srnn, 2);
	model_init_params(m, 5);
	srnn_init_params(s, 5);
	size_t n = model_num_params(m);
	tap_ok(n == srnn_num_params(s) && same_floats(model_params(m), srnn_params(s), n),
	       "samplernn: same parameters from the same seed");
	int slices_ok = model_param_count(m) == srnn_param_count(s);
	for (int i = 0; slices_ok && i < srnn_param_count(s); i++) {
		model_param p = model_param_info(m, i);
		const srnn_param *q = srnn_param_info(s, i);
		slices_ok = !strcmp(p.name, q->name) && p.ndim == q->ndim && p.offset == q->offset &&
			    p.count == q->count && !memcmp(p.shape, q->shape, sizeof p.shape);
	}
	tap_ok(slices_ok, "samplernn: parameter slices are srnn_param_info's");
	size_t sf = model_state_floats(m, 2);
	tap_ok(sf > 0 && sf == srnn_state_floats(s, 2), "samplernn: state floats");
	float *st1 = calloc(sf, sizeof *st1), *st2 = calloc(sf, sizeof *st2);
	for (int b = 0; b < 2; b++) {
		model_state_reset(m, st1, 2, b);
		srnn_state_reset(s, st2, 2, b);
	}
	uint16_t *codes = codes_of(2, model_history(&c) + 32, c.srnn.levels);
	memset(model_grads(m), 0, n * sizeof(float));
	memset(srnn_grads(s), 0, n * sizeof(float));
	double l1 = model_forward_backward(m, codes, 2, st1), l2 = srnn_forward_backward(s, codes, 2, st2);
	tap_ok(l1 == l2 && same_floats(model_grads(m), srnn_grads(s), n) && same_floats(st1, st2, sf),
	       "samplernn: forward_backward: same loss, gradients and carried state (%.6f)", l1);
	l1 = model_forward(m, codes, 2, st1), l2 = srnn_forward(s, codes, 2, st2);
	tap_ok(l1 == l2 && same_floats(st1, st2, sf), "samplernn: forward: same loss and state");
	free(st1), free(st2), free(codes);
	model_free(m);
	srnn_free(s);
}

static void test_wavenet(void)
{
	model_config c = {.kind = MODEL_WAVENET};
	tap_ok(wn_parse_dilations("1,2,4", &c.wn) == 0, "wavenet: dilations parsed");
	c.wn.res_ch = 4, c.wn.dil_ch = 6, c.wn.skip_ch = 8, c.wn.levels = 32, c.wn.n_out = 16, c.wn.batch = 3;
	tap_ok(model_config_check(&c) == 0, "wavenet: config checks");
	tap_ok(model_history(&c) == 9 && model_seq(&c) == 16 && model_batch(&c) == 3 && model_levels(&c) == 32,
	       "wavenet: history is the receptive field (9), seq n_out, batch, levels");
	model *m = model_create(&c, 3);
	wn *w = wn_create(&c.wn, 3);
	model_init_params(m, 9);
	wn_init_params(w, 9);
	size_t n = model_num_params(m);
	tap_ok(n == wn_num_params(w) && same_floats(model_params(m), wn_params(w), n),
	       "wavenet: same parameters from the same seed");
	int slices_ok = model_param_count(m) == wn_param_count(w);
	for (int i = 0; slices_ok && i < wn_param_count(w); i++) {
		model_param p = model_param_info(m, i);
		const wn_param *q = wn_param_info(w, i);
		slices_ok = !strcmp(p.name, q->name) && p.ndim == q->ndim && p.offset == q->offset &&
			    p.count == q->count && !memcmp(p.shape, q->shape, sizeof p.shape);
	}
	tap_ok(slices_ok, "wavenet: parameter slices are wn_param_info's");
	tap_ok(model_state_floats(m, 3) == 0, "wavenet: no recurrent state");
	model_state_reset(m, NULL, 3, 0); /* nothing to reset: must not touch the pointer */
	uint16_t *codes = codes_of(3, 9 + 16, 32);
	memset(model_grads(m), 0, n * sizeof(float));
	memset(wn_grads(w), 0, n * sizeof(float));
	double l1 = model_forward_backward(m, codes, 3, NULL), l2 = wn_forward_backward(w, codes, 3);
	tap_ok(l1 == l2 && same_floats(model_grads(m), wn_grads(w), n),
	       "wavenet: forward_backward: same loss and gradients (%.6f)", l1);
	tap_ok(model_forward(m, codes, 2, NULL) == wn_forward(w, codes, 2), "wavenet: forward on fewer rows");
	codes[5] = 32;
	double bad = model_forward(m, codes, 3, NULL);
	tap_ok(isnan(bad) && strstr(sh_errmsg(), "code 32 at row 0, position 5: the model has 32 levels"),
	       "wavenet: a code beyond the levels gives NAN and says which (%g: %s)", bad, sh_errmsg());
	free(codes);
	model_free(m);
	wn_free(w);
}

int main(void)
{
	test_samplernn();
	test_wavenet();
	model_kind k;
	tap_ok(model_kind_parse("wavenet", &k) == 0 && k == MODEL_WAVENET && model_kind_parse("samplernn", &k) == 0 &&
		       k == MODEL_SAMPLERNN && !strcmp(model_kind_name(MODEL_WAVENET), "wavenet") &&
		       model_kind_parse("rnn", &k) < 0,
	       "model names parse and print");
	return tap_done();
}
