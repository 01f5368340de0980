/* model.c: SampleRNN or WaveNet behind one interface (model.h); each call goes to the model's
 * own function. */
#include "model.h"
#include "backend.h"
#include "util.h"
#include "wavenet_bk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *model_kind_name(model_kind kind) { return kind == MODEL_WAVENET ? "wavenet" : "samplernn"; }

int model_kind_parse(const char *name, model_kind *kind)
{
	if (!strcmp(name, "samplernn"))
		*kind = MODEL_SAMPLERNN;
	else if (!strcmp(name, "wavenet"))
		*kind = MODEL_WAVENET;
	else
		return sh_error("unknown model '%s' (samplernn, wavenet)", name);
	return 0;
}

int model_config_check(const model_config *c)
{
	return c->kind == MODEL_WAVENET ? wn_config_check(&c->wn) : srnn_config_check(&c->srnn);
}

int model_history(const model_config *c)
{
	return c->kind == MODEL_WAVENET ? wn_receptive_field(&c->wn) : srnn_history(&c->srnn);
}

int model_seq(const model_config *c) { return c->kind == MODEL_WAVENET ? c->wn.n_out : c->srnn.seq; }
int model_batch(const model_config *c) { return c->kind == MODEL_WAVENET ? c->wn.batch : c->srnn.batch; }
int model_levels(const model_config *c) { return c->kind == MODEL_WAVENET ? c->wn.levels : c->srnn.levels; }

double model_train_flops(const model_config *c, int batch)
{
	return c->kind == MODEL_WAVENET ? wn_train_flops(&c->wn, batch) : srnn_train_flops(&c->srnn, batch);
}

model *model_create(const model_config *c, int max_batch)
{
	model *m = sh_alloc(sizeof *m);
	if (!m)
		return NULL;
	m->kind = c->kind;
	m->max_batch = max_batch;
	if (c->kind == MODEL_WAVENET)
		m->wn = wn_create(&c->wn, max_batch);
	else
		m->srnn = srnn_create(&c->srnn, max_batch);
	if (!m->wn && !m->srnn) {
		free(m);
		return NULL;
	}
	return m;
}

void model_free(model *m)
{
	if (!m)
		return;
	wnb_free(m->dev);
	free(m->dev_grads);
	if (m->wn)
		wn_free(m->wn);
	if (m->srnn)
		srnn_free(m->srnn);
	free(m);
}

void model_init_params(model *m, uint64_t seed)
{
	if (m->wn)
		wn_init_params(m->wn, seed);
	else
		srnn_init_params(m->srnn, seed);
}

size_t model_num_params(const model *m) { return m->wn ? wn_num_params(m->wn) : srnn_num_params(m->srnn); }
float *model_params(model *m) { return m->wn ? wn_params(m->wn) : srnn_params(m->srnn); }
float *model_grads(model *m) { return m->wn ? wn_grads(m->wn) : srnn_grads(m->srnn); }
int model_param_count(const model *m) { return m->wn ? wn_param_count(m->wn) : srnn_param_count(m->srnn); }

model_param model_param_info(const model *m, int i)
{
	return m->wn ? *wn_param_info(m->wn, i) : *srnn_param_info(m->srnn, i);
}

size_t model_state_floats(const model *m, int batch) { return m->wn ? 0 : srnn_state_floats(m->srnn, batch); }

void model_state_reset(const model *m, float *state, int batch, int b)
{
	if (m->srnn)
		srnn_state_reset(m->srnn, state, batch, b);
}

void model_state_copy_rows(const model *m, float *dst, int dst_batch, int dst_row0, const float *src, int src_batch,
			   int src_row0, int rows)
{
	if (m->srnn)
		srnn_state_copy_rows(m->srnn, dst, dst_batch, dst_row0, src, src_batch, src_row0, rows);
}

const char *model_device_unported(const model_config *c) { return c->kind == MODEL_WAVENET ? NULL : "SampleRNN"; }

int model_use_backend(model *m, backend *bk)
{
	const char *no = m->wn ? model_device_unported(&(model_config){.kind = MODEL_WAVENET, .wn = *wn_cfg(m->wn)})
			       : "SampleRNN";
	if (no)
		return sh_error("%s does not run on the %s backend yet (docs/cuda.md)", no, bk->name);
	m->dev = wnb_create(bk, wn_cfg(m->wn), m->max_batch);
	m->dev_grads = m->dev ? sh_alloc(sizeof(float) * model_num_params(m)) : NULL;
	if (!m->dev_grads) {
		wnb_free(m->dev), m->dev = NULL;
		return -1;
	}
	m->bk = bk;
	return 0;
}

/* one step on the model's backend (model_use_backend) */
static double device_step(model *m, const uint16_t *codes, int batch, int backward)
{
	backend *bk = m->bk;
	const size_t n = model_num_params(m);
	if (bk->upload(bk, wnb_params(m->dev), model_params(m), sizeof(float) * n) < 0)
		return NAN;
	if (backward)
		bk->zero(bk, wnb_grads(m->dev), sizeof(float) * n);
	double loss = wnb_forward_backward(m->dev, codes, batch, backward);
	if (backward && !isnan(loss)) {
		if (bk->download(bk, m->dev_grads, wnb_grads(m->dev), sizeof(float) * n) < 0)
			return NAN;
		float *g = model_grads(m);
		for (size_t i = 0; i < n; i++)
			g[i] += m->dev_grads[i];
	}
	return loss;
}

double model_forward(model *m, const uint16_t *codes, int batch, float *state)
{
	if (m->dev)
		return device_step(m, codes, batch, 0);
	return m->wn ? wn_forward(m->wn, codes, batch) : srnn_forward(m->srnn, codes, batch, state);
}

double model_forward_backward(model *m, const uint16_t *codes, int batch, float *state)
{
	if (m->dev)
		return device_step(m, codes, batch, 1);
	return m->wn ? wn_forward_backward(m->wn, codes, batch) : srnn_forward_backward(m->srnn, codes, batch, state);
}

/* ---- checkpoint metadata of either model ---- */

int model_config_diff(const model_config *a, const model_config *b, char *buf, size_t cap)
{
	if (a->kind != b->kind)
		return snprintf(buf, cap, "model %s in the checkpoint, %s asked", model_kind_name(a->kind),
				model_kind_name(b->kind)),
		       1;
	if (a->kind == MODEL_SAMPLERNN)
		return srnn_config_diff(&a->srnn, &b->srnn, buf, cap);
	return wn_config_diff(&a->wn, &b->wn, buf, cap);
}

int model_config_to_meta(const model_config *c, st_writer *w)
{
	return c->kind == MODEL_WAVENET ? wn_config_to_meta(&c->wn, w) : srnn_config_to_meta(&c->srnn, w);
}

int model_config_from_meta(const st_file *sf, model_config *c)
{
	const char *name = st_meta(sf, "model");
	memset(c, 0, sizeof *c);
	if (!name || model_kind_parse(name, &c->kind) < 0)
		return sh_error("checkpoint of another model: '%s' (want samplernn or wavenet)",
				name ? name : "(none)");
	return c->kind == MODEL_WAVENET ? wn_config_from_meta(sf, &c->wn) : srnn_config_from_meta(sf, &c->srnn);
}
