/* srnn_sample.c: SampleRNN generation, one sample of every stream per step (srnn_sample.h). */
#include "srnn_sample.h"
#include "nn.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One frame-tier RNN layer's weights (pointers into the model's parameters). */
typedef struct {
	const float *wih, *whh, *bih, *bhh;   /* torch layout: G·D × In, G·D × D, G·D, G·D */
	const float *h0;                      /* learned initial state [D] (and c0 after it) or NULL */
	float *out_w;                         /* weight-normed tier-output linear [D × D] */
	const float *out_b;                   /* bias of the first layer's output linear, else NULL */
	int in;                               /* input width: FS (first layer) or D + FS */
} rnn_layer;

struct srnn_sampler {
	srnn_config cfg;
	int n, fs, D, Q, G, L;
	rnn_layer *layer;          /* [L] */
	float *up_w;               /* [FS·D × D] */
	const float *up_b;         /* [FS·D] */
	float *table;              /* [FS × Q × D]: l1 weight slice s times emb[q] */
	float *l2_w, *l3_w, *l4_w; /* [D×D], [D×D], [Q×D] */
	const float *l2_b, *l3_b, *l4_b;
	/* state and scratch, all [n × ...] */
	float *h, *c;              /* [L × n × D] recurrent state */
	float *h_new, *c_new, *gates;
	float *frame, *layer_in;   /* [n × FS], [n × (D + FS)] */
	float *tier_out, *cond;    /* [n × D], [n × FS × D] */
	float *x, *hidden;         /* [n × D] sample-tier activations */
	float *logits, *probs;     /* [n × Q] */
	int *hist;                 /* [n × FS] last FS codes, oldest first */
	long t;                    /* samples generated since reset */
	int have_logits;
	float *arena;
};

static const float *param(srnn *m, const char *fmt, int i, size_t count)
{
	char name[128];
	snprintf(name, sizeof name, fmt, i);
	for (int k = 0; k < srnn_param_count(m); k++) {
		const srnn_param *p = srnn_param_info(m, k);
		if (!strcmp(p->name, name)) {
			if (count && p->count != count) {
				sh_error("parameter %s holds %zu values, expected %zu", name, p->count, count);
				return NULL;
			}
			return srnn_params(m) + p->offset;
		}
	}
	return NULL;
}

/* Materialises g·v/‖v‖ of a weight-normed linear "<prefix>.lin.weight_{g,v}". */
static int wn_weight(srnn *m, const char *prefix, int i, float *dst, int O, int In)
{
	char v_name[128], g_name[128];
	snprintf(v_name, sizeof v_name, "%s.lin.weight_v", prefix);
	snprintf(g_name, sizeof g_name, "%s.lin.weight_g", prefix);
	const float *v = param(m, v_name, i, (size_t)O * In), *g = param(m, g_name, i, (size_t)O);
	if (!v || !g)
		return sh_error("checkpoint lacks %s (weight-normed linear %d×%d)", v_name, O, In);
	float *norm = malloc(O * sizeof *norm);
	if (!norm)
		return sh_error("out of memory");
	weightnorm_forward(dst, norm, v, g, O, In);
	free(norm);
	return 0;
}

srnn_sampler *srnn_sampler_create(srnn *m, int n)
{
	const srnn_config *cfg = srnn_cfg(m);
	if (cfg->nframe_tiers != 1) {
		sh_error("generation supports 2-tier SampleRNN only (this model has %d tiers)", cfg->nframe_tiers + 1);
		return NULL;
	}
	srnn_sampler *s = sh_alloc(sizeof *s);
	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->n = n;
	int fs = s->fs = cfg->frame_size[0], D = s->D = cfg->dim, Q = s->Q = cfg->levels, L = s->L = cfg->layers;
	int E = cfg->embed, G = s->G = cfg->rnn == SRNN_GRU ? 3 : 4;
	size_t sizes[] = {
		(size_t)L * D * D,      /* out_w */
		(size_t)fs * D * D,     /* up_w */
		(size_t)fs * Q * D,     /* table */
		(size_t)D * D, (size_t)D * D, (size_t)Q * D,
		(size_t)L * n * D * 2,  /* h, c */
		(size_t)n * D, (size_t)n * D, (size_t)n * G * D,
		(size_t)n * fs, (size_t)n * (D + fs),
		(size_t)n * D, (size_t)n * fs * D,
		(size_t)n * D, (size_t)n * D, (size_t)n * Q, (size_t)n * Q,
	};
	size_t total = 0;
	for (size_t i = 0; i < SH_ARRAY_LEN(sizes); i++)
		total += sizes[i];
	s->arena = sh_alloc(total * sizeof(float));
	s->layer = sh_alloc(L * sizeof *s->layer);
	s->hist = sh_alloc((size_t)n * fs * sizeof *s->hist);
	if (!s->arena || !s->layer || !s->hist)
		goto fail;
	float *p = s->arena;
	float *out_w = p; p += sizes[0];
	s->up_w = p; p += sizes[1];
	s->table = p; p += sizes[2];
	s->l2_w = p; p += sizes[3];
	s->l3_w = p; p += sizes[4];
	s->l4_w = p; p += sizes[5];
	s->h = p; s->c = p + (size_t)L * n * D; p += sizes[6];
	s->h_new = p; p += sizes[7];
	s->c_new = p; p += sizes[8];
	s->gates = p; p += sizes[9];
	s->frame = p; p += sizes[10];
	s->layer_in = p; p += sizes[11];
	s->tier_out = p; p += sizes[12];
	s->cond = p; p += sizes[13];
	s->x = p; p += sizes[14];
	s->hidden = p; p += sizes[15];
	s->logits = p; p += sizes[16];
	s->probs = p;

	for (int l = 0; l < L; l++) {
		rnn_layer *ly = &s->layer[l];
		ly->in = l == 0 ? fs : D + fs;
		ly->wih = param(m, "rnns.%d.weight_ih_l0", l, (size_t)G * D * ly->in);
		ly->whh = param(m, "rnns.%d.weight_hh_l0", l, (size_t)G * D * D);
		ly->bih = param(m, "rnns.%d.bias_ih_l0", l, (size_t)G * D);
		ly->bhh = param(m, "rnns.%d.bias_hh_l0", l, (size_t)G * D);
		ly->h0 = param(m, "rnns.%d.h0", l, 0);
		if (!ly->wih || !ly->whh || !ly->bih || !ly->bhh) {
			sh_error("checkpoint lacks the weights of RNN layer %d (rnns.%d.weight_ih_l0 ...)", l, l);
			goto fail;
		}
		ly->out_w = out_w + (size_t)l * D * D;
		char prefix[32];
		snprintf(prefix, sizeof prefix, "outs.%d", l);
		if (wn_weight(m, prefix, 0, ly->out_w, D, D) < 0)
			goto fail;
		ly->out_b = l == 0 ? param(m, "outs.0.lin.bias", 0, D) : NULL;
	}
	if (wn_weight(m, "up", 0, s->up_w, fs * D, D) < 0 || !(s->up_b = param(m, "up.lin.bias", 0, (size_t)fs * D)) ||
	    wn_weight(m, "l2", 0, s->l2_w, D, D) < 0 || !(s->l2_b = param(m, "l2.lin.bias", 0, D)) ||
	    wn_weight(m, "l3", 0, s->l3_w, D, D) < 0 || !(s->l3_b = param(m, "l3.lin.bias", 0, D)) ||
	    wn_weight(m, "l4", 0, s->l4_w, Q, D) < 0 || !(s->l4_b = param(m, "l4.lin.bias", 0, Q))) {
		if (!*sh_errmsg())
			sh_error("checkpoint lacks a sample-tier or upsampling weight");
		goto fail;
	}
	/* Fold the embedding into the first sample-tier linear: the FS·E input is FS embeddings
	 * side by side, so W1·x = Σ_s W1[:, sE:(s+1)E]·emb[q_s], one D-vector per (slot, code). */
	const float *emb = param(m, "emb.weight", 0, (size_t)Q * E);
	float *w1 = malloc((size_t)D * fs * E * sizeof *w1);
	if (!emb || !w1 || wn_weight(m, "l1", 0, w1, D, fs * E) < 0) {
		free(w1);
		if (!emb)
			sh_error("checkpoint lacks emb.weight");
		goto fail;
	}
	for (int slot = 0; slot < fs; slot++)
		for (int q = 0; q < Q; q++) {
			float *row = s->table + ((size_t)slot * Q + q) * D;
			for (int d = 0; d < D; d++) {
				const float *w = w1 + (size_t)d * fs * E + (size_t)slot * E, *e = emb + (size_t)q * E;
				double acc = 0;
				for (int k = 0; k < E; k++)
					acc += (double)w[k] * e[k];
				row[d] = (float)acc;
			}
		}
	free(w1);
	return s;
fail:
	srnn_sampler_free(s);
	return NULL;
}

void srnn_sampler_free(srnn_sampler *s)
{
	if (!s)
		return;
	free(s->arena);
	free(s->layer);
	free(s->hist);
	free(s);
}

void srnn_sampler_reset(srnn_sampler *s, srnn_h0_mode h0, sh_rng *rngs)
{
	size_t per_layer = (size_t)s->n * s->D;
	for (int l = 0; l < s->L; l++)
		for (size_t i = 0; i < per_layer; i++) {
			float *h = s->h + l * per_layer + i, *c = s->c + l * per_layer + i;
			int d = (int)(i % s->D);
			sh_rng *rng = &rngs[i / s->D];
			if (h0 == SRNN_H0_LEARNED && s->layer[l].h0) {
				*h = s->layer[l].h0[d];
				*c = s->G == 4 ? s->layer[l].h0[s->D + d] : 0;
			} else if (h0 == SRNN_H0_RANDOM) {
				*h = 2 * sh_rng_uniformf(rng) - 1;
				*c = s->G == 4 ? 2 * sh_rng_uniformf(rng) - 1 : 0;
			} else {
				*h = *c = 0;
			}
		}
	for (int i = 0; i < s->n * s->fs; i++)
		s->hist[i] = s->Q / 2;
	s->t = 0;
	s->have_logits = 0;
}

/* The frame tier on the last FS codes of every stream: new state, new conditioning vectors. */
static void frame_step(srnn_sampler *s)
{
	int n = s->n, fs = s->fs, D = s->D, G = s->G;
	float half = s->Q / 2.0f;
	for (int i = 0; i < n * fs; i++)
		s->frame[i] = (s->hist[i] / half - 1) * 2;
	size_t per_layer = (size_t)n * D;
	for (int l = 0; l < s->L; l++) {
		rnn_layer *ly = &s->layer[l];
		const float *inp = s->frame;
		if (l > 0) {
			/* skip connection: [h of the layer below, raw frame] */
			for (int b = 0; b < n; b++) {
				memcpy(s->layer_in + (size_t)b * ly->in, s->h + (l - 1) * per_layer + (size_t)b * D, D * sizeof(float));
				memcpy(s->layer_in + (size_t)b * ly->in + D, s->frame + (size_t)b * fs, fs * sizeof(float));
			}
			inp = s->layer_in;
		}
		float *h = s->h + l * per_layer, *c = s->c + l * per_layer;
		if (G == 4) {
			lstm_forward(s->h_new, s->c_new, s->gates, inp, NULL, ly->wih, ly->whh, ly->bih, ly->bhh, h, c, 1, n, ly->in, D);
			memcpy(c, s->c_new, per_layer * sizeof(float));
		} else {
			gru_forward(s->h_new, s->gates, inp, NULL, ly->wih, ly->whh, ly->bih, ly->bhh, h, 1, n, ly->in, D);
		}
		memcpy(h, s->h_new, per_layer * sizeof(float));
		linear_forward(s->tier_out, h, ly->out_w, ly->out_b, n, D, D, l > 0);
	}
	linear_forward(s->cond, s->tier_out, s->up_w, s->up_b, n, D, fs * D, 0);
}

/* Logits of the next code of every stream into s->logits (once per step). */
static void sample_step(srnn_sampler *s)
{
	if (s->have_logits)
		return;
	int n = s->n, fs = s->fs, D = s->D, Q = s->Q, j = (int)(s->t % fs);
	if (j == 0)
		frame_step(s);
	for (int b = 0; b < n; b++) {
		float *x = s->x + (size_t)b * D;
		memcpy(x, s->cond + ((size_t)b * fs + j) * D, D * sizeof *x);
		for (int slot = 0; slot < fs; slot++) {
			const float *row = s->table + ((size_t)slot * Q + s->hist[b * fs + slot]) * D;
			for (int d = 0; d < D; d++)
				x[d] += row[d];
		}
	}
	linear_forward(s->hidden, s->x, s->l2_w, s->l2_b, n, D, D, 0);
	relu_forward(s->hidden, s->hidden, (size_t)n * D);
	linear_forward(s->x, s->hidden, s->l3_w, s->l3_b, n, D, D, 0);
	relu_forward(s->x, s->x, (size_t)n * D);
	linear_forward(s->logits, s->x, s->l4_w, s->l4_b, n, D, Q, 0);
	s->have_logits = 1;
}

/* probs[Q] = softmax(logits / temperature), in double for the normaliser. */
static void softmax_row(float *probs, const float *logits, int Q, float temperature)
{
	float mx = logits[0];
	for (int q = 1; q < Q; q++)
		mx = logits[q] > mx ? logits[q] : mx;
	double sum = 0;
	for (int q = 0; q < Q; q++) {
		probs[q] = expf((logits[q] - mx) / temperature);
		sum += probs[q];
	}
	float inv = (float)(1.0 / sum);
	for (int q = 0; q < Q; q++)
		probs[q] *= inv;
}

const float *srnn_sampler_probs(srnn_sampler *s)
{
	sample_step(s);
	for (int b = 0; b < s->n; b++)
		softmax_row(s->probs + (size_t)b * s->Q, s->logits + (size_t)b * s->Q, s->Q, 1.0f);
	return s->probs;
}

void srnn_sampler_push(srnn_sampler *s, const int *codes)
{
	int fs = s->fs;
	for (int b = 0; b < s->n; b++) {
		int *h = s->hist + b * fs;
		memmove(h, h + 1, (fs - 1) * sizeof *h);
		h[fs - 1] = codes[b];
	}
	s->t++;
	s->have_logits = 0;
}

void srnn_sampler_draw(srnn_sampler *s, float temperature, sh_rng *rngs, int *codes)
{
	int Q = s->Q;
	sample_step(s);
	for (int b = 0; b < s->n; b++) {
		const float *logits = s->logits + (size_t)b * Q;
		if (temperature <= 1e-4f) {
			int best = 0;
			for (int q = 1; q < Q; q++)
				best = logits[q] > logits[best] ? q : best;
			codes[b] = best;
			continue;
		}
		float *p = s->probs + (size_t)b * Q;
		softmax_row(p, logits, Q, temperature);
		/* inverse CDF; the last level takes any rounding remainder */
		float u = sh_rng_uniformf(&rngs[b]), acc = 0;
		int q = 0;
		for (; q < Q - 1; q++) {
			acc += p[q];
			if (u < acc)
				break;
		}
		codes[b] = q;
	}
	srnn_sampler_push(s, codes);
}
