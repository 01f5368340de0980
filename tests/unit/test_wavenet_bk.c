/* test_wavenet_bk.c: WaveNet's training step over the backend seam (wavenet_bk.c) against
 * wavenet_real.c's (wn_forward_backward, the specification) from the same parameters and codes:
 * the loss and every parameter's gradient, for each input layer (one-hot, embedded, scalar), on
 * "cpu" (nn.h), on "kernels" (the device kernels' math on the host), and on "cuda" where a GPU
 * is present (make test-cuda; skipped elsewhere);
 * and through model.h (model_use_backend), as qtrain --device cuda runs it.
 * A gradient tensor agrees when max|g - g_ref| ≤ 1e-4·max|g_ref|. */
#include "backend.h"
#include "model.h"
#include "tap.h"
#include "util.h"
#include "wavenet.h"
#include "wavenet_bk.h"

#include <stdlib.h>
#include <string.h>

static int input; /* the input layer of config() */

static wn_config config(void)
{
	wn_config c = {0};
	int dil[] = {1, 2, 4, 1, 2};
	c.nlayers = 5;
	memcpy(c.dilation, dil, sizeof dil);
	c.res_ch = 6, c.dil_ch = 5, c.skip_ch = 7, c.levels = 16, c.n_out = 12, c.batch = 3;
	c.input = input;
	c.embed = input == WN_INPUT_EMBED ? 4 : 0;
	c.initial_width = input == WN_INPUT_SCALAR ? 5 : 0;
	return c;
}

/* One step on bk against the reference loss and gradients; the worst tensor by name. */
static void against(backend *bk, wn *ref, const uint16_t *codes, int B, double loss_ref, double tol)
{
	const wn_config c = config();
	wnb *m = wnb_create(bk, &c, B);
	if (!tap_ok(m != NULL, "%s, %s input: wnb_create%s%s", bk->name, wn_input_name(input), m ? "" : ": ",
		    m ? "" : sh_errmsg()))
		return;
	const size_t P = wnb_num_params(m);
	float *g = malloc(sizeof(float) * P);
	int ok = P == wn_num_params(ref) && bk->upload(bk, wnb_params(m), wn_params(ref), sizeof(float) * P) == 0;
	double loss = wnb_forward_backward(m, codes, B, 1);
	ok = ok && bk->download(bk, g, wnb_grads(m), sizeof(float) * P) == 0;
	tap_ok(ok && tap_close(loss, loss_ref, 1e-5), "%s, %s input: the loss %.9g (wavenet_real.c %.9g)", bk->name,
	       wn_input_name(input), loss, loss_ref);
	double worst = ok ? 0 : 1e30;
	const char *where = "";
	const float *gr = wn_grads(ref);
	for (int i = 0; ok && i < wn_param_count(ref); i++) {
		const wn_param *p = wn_param_info(ref, i);
		double top = 0, e = 0;
		for (size_t k = p->offset; k < p->offset + p->count; k++) {
			top = fmax(top, fabs(gr[k]));
			e = fmax(e, fabs((double)g[k] - gr[k]));
		}
		e = top > 0 ? e / top : e;
		if (!(e <= worst))
			worst = e, where = p->name;
	}
	tap_ok(worst <= tol, "%s, %s input: every gradient within %.0e of the largest of its tensor (worst %.2g, %s)",
	       bk->name, wn_input_name(input), tol, worst, where);
	/* forward only leaves the gradients alone; a second backward adds the same again */
	double again = wnb_forward_backward(m, codes, B, 0);
	float *g2 = malloc(sizeof(float) * P);
	wnb_forward_backward(m, codes, B, 1);
	ok = ok && bk->download(bk, g2, wnb_grads(m), sizeof(float) * P) == 0;
	double acc = 0, top = 0;
	for (size_t k = 0; ok && k < P; k++)
		acc = fmax(acc, fabs(g2[k] - 2 * g[k])), top = fmax(top, fabs(g[k]));
	acc /= top;
	tap_ok(ok && again == loss && acc < 1e-5, "%s: forward alone is the same loss, backward accumulates (%.1g)",
	       bk->name, acc);
	free(g), free(g2);
	wnb_free(m);
}

/* model.h's driver (model_use_backend): the step on bk, the gradients added to the host's,
 * as the model's own step would */
static void model_on(backend *bk, const uint16_t *codes, int B)
{
	model_config mc = {.kind = MODEL_WAVENET, .wn = config()};
	model *a = model_create(&mc, B), *b = model_create(&mc, B);
	if (!tap_ok(a && b, "%s: two models", bk->name))
		return;
	model_init_params(a, 3), model_init_params(b, 3);
	const size_t P = model_num_params(a);
	for (size_t i = 0; i < P; i++) /* gradients accumulate on both */
		model_grads(a)[i] = model_grads(b)[i] = 0.5f;
	int used = model_use_backend(b, bk);
	double la = model_forward_backward(a, codes, B, NULL), lb = model_forward_backward(b, codes, B, NULL);
	double va = model_forward(a, codes, B, NULL), vb = model_forward(b, codes, B, NULL);
	double e = 0, top = 0;
	for (size_t i = 0; i < P; i++)
		e = fmax(e, fabs(model_grads(a)[i] - model_grads(b)[i])),
		top = fmax(top, fabs(model_grads(a)[i] - 0.5));
	tap_ok(used == 0 && tap_close(la, lb, 1e-5) && tap_close(va, vb, 1e-5) && e <= 1e-4 * top,
	       "%s: model_use_backend: the model's losses (%.9g, %.9g) and gradients (%.2g of the largest)", bk->name,
	       lb, vb, e / top);
	model_free(a), model_free(b);
}

int main(void)
{
	backend *cpu = backend_open("cpu"), *kern = backend_kernels(), *gpu = backend_open("cuda");
	for (input = WN_INPUT_ONEHOT; input <= WN_INPUT_SCALAR; input++) {
		const wn_config c = config();
		const int B = 3, T = wn_receptive_field(&c) + c.n_out;
		uint16_t *codes = malloc(sizeof(uint16_t) * B * T);
		uint64_t s = 99;
		for (int i = 0; i < B * T; i++) /* < 16 */
			codes[i] = (uint16_t)((s = s * 6364136223846793005ULL + 1442695040888963407ULL) >> 60);
		wn *ref = wn_create(&c, B);
		if (!tap_ok(ref != NULL, "the reference model, %s input", wn_input_name(input)))
			return tap_done();
		wn_init_params(ref, 7);
		memset(wn_grads(ref), 0, sizeof(float) * wn_num_params(ref));
		double loss_ref = wn_forward_backward(ref, codes, B);
		against(cpu, ref, codes, B, loss_ref, 1e-4);
		against(kern, ref, codes, B, loss_ref, 1e-4);
		if (gpu)
			against(gpu, ref, codes, B, loss_ref, 1e-4);
		else
			tap_skip("no GPU for the cuda backend");
		if (input == WN_INPUT_ONEHOT) {
			model_on(cpu, codes, B);
			model_on(kern, codes, B);
			if (gpu)
				model_on(gpu, codes, B);
			else
				tap_skip("no GPU for model_use_backend on cuda");
			uint16_t bad = codes[5];
			codes[5] = 16;
			wnb *m = wnb_create(cpu, &c, B);
			tap_ok(m && isnan(wnb_forward_backward(m, codes, B, 1)) &&
				       strstr(sh_errmsg(), "code 16 at row 0, position 5"),
			       "a code out of range: %s", sh_errmsg());
			codes[5] = bad;
			wnb_free(m);
		}
		wn_free(ref);
		free(codes);
	}
	model_config sc = {.kind = MODEL_SAMPLERNN};
	srnn_preset("tiny", &sc.srnn);
	model *sm = model_create(&sc, 1);
	tap_ok(sm && model_use_backend(sm, cpu) < 0 && !strcmp(model_device_unported(&sc), "SampleRNN") &&
		       strstr(sh_errmsg(), "SampleRNN does not run on the cpu backend yet"),
	       "SampleRNN is not ported: %s", sh_errmsg());
	model_free(sm);
	cpu->close(cpu), kern->close(kern);
	if (gpu)
		gpu->close(gpu);
	return tap_done();
}
