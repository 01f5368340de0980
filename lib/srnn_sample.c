/* srnn_sample.c: SampleRNN generation, one sample of every stream per step (srnn_sample.h). */
#include "srnn_sample.h"
#include "nn.h"
#include "qmat.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* One frame-tier RNN layer's weights. */
typedef struct {
	qmat *wih, *whh, *whh_n; /* G·D × In, G·D × D (GRU: r and z rows), GRU: n rows */
	float *bias;             /* [G·D] what the input projection adds: b_ih + b_hh
	                                         (GRU: b_hh of r and z only) */
	const float *bhn;        /* GRU: b_hh of n, inside r∘(...) */
	const float *h0, *c0;    /* learned initial state [D] or NULL */
	qmat *out;               /* weight-normed tier-output linear [D × D] */
	const float *out_b;      /* bias of the first layer's output linear, else NULL */
	int in;                  /* input width: fs (first layer) or D + fs */
} rnn_layer;

/* A frame tier: its layers, its upsampling, its state and its conditioning output. */
typedef struct {
	int fs;           /* frame size */
	int ratio, condw; /* conditioning vectors per frame and their width (G·D above the
	                              finest tier, whose D-wide vectors feed the sample tier) */
	rnn_layer *layer; /* [L] */
	qmat *up;         /* [ratio·condw × D] */
	const float *up_b;
	float *h, *c; /* [L × n × D] recurrent state */
	float *cond;  /* [n × ratio × condw] output of the last frame */
} frame_tier;

struct srnn_sampler {
	int n, K, L, fs, hist_len, D, Q, G;
	frame_tier tier[SRNN_MAX_TIERS];
	float *table;  /* [fs × Q × D]: l2·(l1 weight slice s)·emb[q] */
	qmat *l3, *l4; /* [D×D], [Q×D] */
	qmat_type wtype;
	double werr; /* largest relative row error of the packed weights */
	const float *l3_b, *l4_b;
	/* scratch, all [n × ...] */
	float *gates, *gadd;     /* [n × 4D] (the cell's layout for both kinds), [n × G·D] */
	float *frame, *layer_in; /* [n × fs_max], [n × (D + fs_max)] */
	float *tier_out;         /* [n × D] */
	float *x, *hidden;       /* [n × D] sample-tier activations */
	float *logits, *probs;   /* [n × Q] */
	int *hist;               /* [n × hist_len] last codes, oldest first */
	long t;                  /* samples generated since reset */
	int have_logits;
	/* The finest tier's work that need not wait for its frame (see sample_step): */
	float *ahead;   /* [L × n × 4D] W_hh·h of every layer for the next frame, in the
	                              gates' layout (GRU: r and z rows, n's at 3D) */
	int ahead_rows; /* rows of that product over all layers: L·G·D */
	int ahead_done; /* of AHEAD_CHUNKS, how many are computed since the last frame */
	int cond_ready; /* conditioning vectors of the current frame computed */
	float *arena;
	size_t arena_used, arena_size;
};

static const float *param(srnn *m, const char *name, size_t count)
{
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
	sh_error("checkpoint lacks %s", name);
	return NULL;
}

static float *take(srnn_sampler *s, size_t n)
{
	float *p = s->arena + s->arena_used;
	s->arena_used += n;
	if (s->arena_used > s->arena_size)
		abort(); /* the sizes counted in srnn_sampler_create are wrong */
	return p;
}

/* The effective matrix of a weight `name` (O × In): with weight norm g·v/‖v‖ from name_g and
 * name_v, materialised into dst; without, the parameter itself. NULL with an error. */
static const float *weight(srnn *m, const char *name, int wn, float *dst, int O, int In)
{
	char v_name[200], g_name[200];
	if (!wn)
		return param(m, name, (size_t)O * In);
	snprintf(v_name, sizeof v_name, "%s_v", name);
	snprintf(g_name, sizeof g_name, "%s_g", name);
	const float *v = param(m, v_name, (size_t)O * In), *g = v ? param(m, g_name, (size_t)O) : NULL;
	float *norm = g ? malloc(O * sizeof *norm) : NULL;
	if (!norm)
		return NULL;
	weightnorm_forward(dst, norm, v, g, O, In);
	free(norm);
	return dst;
}

/* Weight-normed linear "<prefix>.lin.weight_{g,v}" materialised into dst. */
static int wn_linear(srnn *m, const char *prefix, float *dst, int O, int In)
{
	char name[200];
	snprintf(name, sizeof name, "%s.lin.weight", prefix);
	return weight(m, name, 1, dst, O, In) ? 0 : -1;
}

static const float *bias(srnn *m, const char *prefix, size_t count)
{
	char name[200];
	snprintf(name, sizeof name, "%s.lin.bias", prefix);
	return param(m, name, count);
}

/* The sample tier computes relu(l2(l1(emb(prev)) + cond) + ...): nothing nonlinear lies between
 * the embedding, l1, the finest tier's upsampling (cond) and l2, so they fold into
 *   l2 pre-activation = Σ_s table[s][q_s] + up'_j·tier_out + up'_b_j
 * with table[s][q] = l2·W1[:, sE:(s+1)E]·emb[q] (one D-vector per slot and code) and
 * up'_j = l2·up_j, up'_b_j = l2·up_b_j + l2_b. A sample then costs 16 table rows instead of the
 * l1 and l2 products, and the fold costs no memory. Writes the table and turns the finest
 * tier's upsampling weights up_w [fs·D × D] (in place) and bias into the folded ones. */
static int fold_sample_input(srnn_sampler *s, srnn *m, int E, float *up_w)
{
	const int fs = s->fs, D = s->D, Q = s->Q;
	frame_tier *t = &s->tier[s->K - 1];
	const float *emb = param(m, "emb.weight", (size_t)Q * E), *l2_b = bias(m, "l2", D);
	float *up_b = take(s, (size_t)fs * D);
	float *w1 = malloc((size_t)D * fs * E * sizeof *w1), *l2 = malloc((size_t)D * D * sizeof *l2);
	float *tmp = malloc((size_t)(Q > D ? Q : D) * D * sizeof *tmp);
	int rc = -1;
	if (!emb || !l2_b || !w1 || !l2 || !tmp || wn_linear(m, "l1", w1, D, fs * E) < 0 ||
	    wn_linear(m, "l2", l2, D, D) < 0)
		goto done;
	for (int slot = 0; slot < fs; slot++) {
		/* tmp[q] = W1_slot·emb[q], then table[slot][q] = l2·tmp[q] */
		nn_gemm(0, 1, Q, D, E, 1, emb, E, w1 + (size_t)slot * E, fs * E, 0, tmp, D);
		nn_gemm(0, 1, Q, D, D, 1, tmp, D, l2, D, 0, s->table + (size_t)slot * Q * D, D);
	}
	for (int j = 0; j < fs; j++) {
		float *upj = up_w + (size_t)j * D * D;
		nn_gemm(0, 0, D, D, D, 1, l2, D, upj, D, 0, tmp, D);
		memcpy(upj, tmp, (size_t)D * D * sizeof *upj);
		for (int d = 0; d < D; d++) {
			const float *row = l2 + (size_t)d * D, *b = t->up_b + (size_t)j * D;
			double acc = l2_b[d];
			for (int k = 0; k < D; k++)
				acc += (double)row[k] * b[k];
			up_b[(size_t)j * D + d] = (float)acc;
		}
	}
	t->up_b = up_b;
	rc = 0;
done:
	free(w1);
	free(l2);
	free(tmp);
	return rc;
}

/* Packs w [rows × cols, row stride ld] as the sampler's weight type into *dst. With q8 every
 * product rounds its inputs to 8 bits, the frame tiers' recurrent ones too, as LPCNet's GRUs
 * do: measured on the teacher-forced test models, the probabilities move no further than with
 * the frame tiers' inputs kept float (largest difference 7e-5, against 7.4e-5), and one small
 * stream takes a fifth less time (the float-input kernel on int8 weights, 46% of the time,
 * runs at less than half the integer kernel's speed). */
static int pack(srnn_sampler *s, qmat **dst, const float *w, int rows, int cols, int ld)
{
	return qmat_pack_worst(dst, w, rows, cols, ld, s->wtype, &s->werr);
}

srnn_sampler *srnn_sampler_create(srnn *m, int n, qmat_type wtype)
{
	const srnn_config *cfg = srnn_cfg(m);
	srnn_sampler *s = sh_alloc(sizeof *s);
	if (!s)
		return NULL;
	const int K = s->K = cfg->nframe_tiers, L = s->L = cfg->layers, D = s->D = cfg->dim, Q = s->Q = cfg->levels;
	const int E = cfg->embed, G = s->G = cfg->rnn == SRNN_GRU ? 3 : 4, fs = s->fs = cfg->frame_size[K - 1];
	const int wn_rnn = cfg->rnn_weight_norm;
	s->n = n;
	s->wtype = wtype;
	s->hist_len = cfg->frame_size[0];
	int fs_max = cfg->frame_size[0];

	/* sizes first, then one allocation for the state, scratch, table and biases; the weight
	 * matrices are packed one by one through wtmp, which holds the largest */
	size_t total = (size_t)fs * Q * D + (size_t)fs * D, wtmp_size = (size_t)Q * D;
	for (int k = 0; k < K; k++) {
		int tfs = cfg->frame_size[k];
		int ratio = k == K - 1 ? tfs : tfs / cfg->frame_size[k + 1], condw = k == K - 1 ? D : G * D;
		total += 2 * (size_t)L * n * D + (size_t)n * ratio * condw + (size_t)L * G * D;
		size_t most = (size_t)ratio * condw * D > (size_t)G * D * (D + tfs) ? (size_t)ratio * condw * D
										    : (size_t)G * D * (D + tfs);
		wtmp_size = most > wtmp_size ? most : wtmp_size;
	}
	total += (size_t)n * (4 * D + G * D + fs_max + D + fs_max + 3 * D + 2 * Q) + (size_t)L * n * 4 * D;
	s->arena_size = total;
	s->arena = sh_alloc(total * sizeof(float));
	s->hist = sh_alloc((size_t)n * s->hist_len * sizeof *s->hist);
	float *wtmp = sh_alloc(wtmp_size * sizeof *wtmp);
	if (!s->arena || !s->hist || !wtmp)
		goto fail;

	char pre[32], name[128];
	for (int k = 0; k < K; k++) {
		frame_tier *t = &s->tier[k];
		t->fs = cfg->frame_size[k];
		t->ratio = k == K - 1 ? t->fs : t->fs / cfg->frame_size[k + 1];
		t->condw = k == K - 1 ? D : G * D;
		t->layer = sh_alloc(L * sizeof *t->layer);
		if (!t->layer)
			goto fail;
		if (k == K - 1)
			pre[0] = 0;
		else
			snprintf(pre, sizeof pre, "tiers.%d.", k);
		for (int l = 0; l < L; l++) {
			rnn_layer *y = &t->layer[l];
			y->in = l == 0 ? t->fs : D + t->fs;
			snprintf(name, sizeof name, "%srnns.%d.weight_ih_l0", pre, l);
			if (pack(s, &y->wih, weight(m, name, wn_rnn, wtmp, G * D, y->in), G * D, y->in, y->in) < 0)
				goto fail;
			snprintf(name, sizeof name, "%srnns.%d.weight_hh_l0", pre, l);
			const float *whh = weight(m, name, wn_rnn, wtmp, G * D, D);
			/* GRU: n's recurrent product is kept apart, r∘(W_hn·h + b_hn) */
			if (pack(s, &y->whh, whh, (G == 3 ? 2 : G) * D, D, D) < 0 ||
			    (G == 3 && pack(s, &y->whh_n, whh + (size_t)2 * D * D, D, D, D) < 0))
				goto fail;
			snprintf(name, sizeof name, "%srnns.%d.bias_ih_l0", pre, l);
			const float *bih = param(m, name, (size_t)G * D);
			snprintf(name, sizeof name, "%srnns.%d.bias_hh_l0", pre, l);
			const float *bhh = param(m, name, (size_t)G * D);
			if (!bih || !bhh)
				goto fail;
			y->bias = take(s, (size_t)G * D);
			for (int j = 0; j < G * D; j++)
				y->bias[j] = bih[j] + (G == 3 && j >= 2 * D ? 0 : bhh[j]);
			y->bhn = bhh + 2 * D;
			if (cfg->learn_h0) {
				snprintf(name, sizeof name, "%srnns.%d.h0", pre, l);
				if (!(y->h0 = param(m, name, D)))
					goto fail;
				snprintf(name, sizeof name, "%srnns.%d.c0", pre, l);
				if (G == 4 && !(y->c0 = param(m, name, D)))
					goto fail;
			}
			snprintf(name, sizeof name, "%souts.%d", pre, l);
			if (wn_linear(m, name, wtmp, D, D) < 0 || pack(s, &y->out, wtmp, D, D, D) < 0)
				goto fail;
			if (l == 0 && !(y->out_b = bias(m, name, D)))
				goto fail;
		}
		snprintf(name, sizeof name, "%sup", pre);
		if (wn_linear(m, name, wtmp, t->ratio * t->condw, D) < 0 ||
		    !(t->up_b = bias(m, name, (size_t)t->ratio * t->condw)))
			goto fail;
		if (k == K - 1) {
			s->table = take(s, (size_t)fs * Q * D);
			if (fold_sample_input(s, m, E, wtmp) < 0)
				goto fail;
		}
		if (pack(s, &t->up, wtmp, t->ratio * t->condw, D, D) < 0)
			goto fail;
		t->h = take(s, (size_t)L * n * D);
		t->c = take(s, (size_t)L * n * D);
		t->cond = take(s, (size_t)n * t->ratio * t->condw);
	}
	if (wn_linear(m, "l3", wtmp, D, D) < 0 || pack(s, &s->l3, wtmp, D, D, D) < 0 || !(s->l3_b = bias(m, "l3", D)) ||
	    wn_linear(m, "l4", wtmp, Q, D) < 0 || pack(s, &s->l4, wtmp, Q, D, D) < 0 || !(s->l4_b = bias(m, "l4", Q)))
		goto fail;
	s->gates = take(s, (size_t)n * 4 * D);
	s->gadd = take(s, (size_t)n * G * D);
	s->frame = take(s, (size_t)n * fs_max);
	s->layer_in = take(s, (size_t)n * (D + fs_max));
	s->tier_out = take(s, (size_t)n * D);
	s->x = take(s, (size_t)n * D);
	s->hidden = take(s, (size_t)n * D);
	s->logits = take(s, (size_t)n * Q);
	s->probs = take(s, (size_t)n * Q);
	s->ahead = take(s, (size_t)L * n * 4 * D);
	s->ahead_rows = L * G * D;
	free(wtmp);
	return s;
fail:
	sh_error_prefix("cannot prepare generation");
	free(wtmp);
	srnn_sampler_free(s);
	return NULL;
}

double srnn_sampler_weight_error(const srnn_sampler *s) { return s->werr; }

void srnn_sampler_free(srnn_sampler *s)
{
	if (!s)
		return;
	for (int k = 0; k < SRNN_MAX_TIERS; k++) {
		frame_tier *t = &s->tier[k];
		for (int l = 0; t->layer && l < s->L; l++) {
			qmat_free(t->layer[l].wih);
			qmat_free(t->layer[l].whh);
			qmat_free(t->layer[l].whh_n);
			qmat_free(t->layer[l].out);
		}
		free(t->layer);
		qmat_free(t->up);
	}
	qmat_free(s->l3);
	qmat_free(s->l4);
	free(s->arena);
	free(s->hist);
	free(s);
}

void srnn_sampler_reset(srnn_sampler *s, srnn_h0_mode h0, sh_rng *rngs)
{
	const int n = s->n, D = s->D;
	for (int k = 0; k < s->K; k++)
		for (int l = 0; l < s->L; l++) {
			const rnn_layer *y = &s->tier[k].layer[l];
			float *h = s->tier[k].h + (size_t)l * n * D, *c = s->tier[k].c + (size_t)l * n * D;
			for (int b = 0; b < n; b++)
				for (int d = 0; d < D; d++) {
					size_t i = (size_t)b * D + d;
					if (h0 == SRNN_H0_LEARNED && y->h0) {
						h[i] = y->h0[d];
						c[i] = y->c0 ? y->c0[d] : 0;
					} else if (h0 == SRNN_H0_RANDOM) {
						h[i] = 2 * sh_rng_uniformf(&rngs[b]) - 1;
						c[i] = s->G == 4 ? 2 * sh_rng_uniformf(&rngs[b]) - 1 : 0;
					} else {
						h[i] = c[i] = 0;
					}
				}
		}
	for (int i = 0; i < n * s->hist_len; i++)
		s->hist[i] = s->Q / 2;
	s->t = 0;
	s->have_logits = 0;
	s->ahead_done = 0;
	s->cond_ready = 0;
}

/* The finest tier's recurrent products for its next frame, W_hh·h of every layer, need only
 * the state its last frame left: they are cut into AHEAD_CHUNKS ranges of rows (on panel
 * boundaries) that a second thread computes while the sample tier draws this frame's samples.
 * Rows [r0, r1) of the layers' products stacked (layer l: rows l·G·D ...; GRU: W_hh's r and z
 * rows, then W_hn's) into s->ahead, in the gates' layout. */
enum { AHEAD_CHUNKS = 16 };
static void ahead_rows(srnn_sampler *s, int r0, int r1)
{
	frame_tier *t = &s->tier[s->K - 1];
	const int n = s->n, D = s->D, GD = s->G * s->D;
	for (int l = 0; l < s->L; l++) {
		const rnn_layer *y = &t->layer[l];
		int a = SH_MAX(r0 - l * GD, 0), b = SH_MIN(r1 - l * GD, GD);
		if (a >= b)
			continue;
		const float *h = t->h + (size_t)l * n * D;
		float *out = s->ahead + (size_t)l * n * 4 * D;
		const int rz = s->G == 3 ? 2 * D : GD; /* rows of whh */
		if (a < rz)
			qmat_apply(y->whh, out, 4 * D, h, D, NULL, n, a, SH_MIN(b, rz), 0);
		if (b > rz) /* GRU: W_hn's rows, written at 3D */
			qmat_apply(y->whh_n, out + 3 * D, 4 * D, h, D, NULL, n, SH_MAX(a, rz) - rz, b - rz, 0);
	}
}

static void ahead_chunk(srnn_sampler *s, int c)
{
	const int R = s->ahead_rows;
	int r0 = (int)((long)R * c / AHEAD_CHUNKS) / QMAT_PANEL * QMAT_PANEL;
	int r1 = c + 1 == AHEAD_CHUNKS ? R : (int)((long)R * (c + 1) / AHEAD_CHUNKS) / QMAT_PANEL * QMAT_PANEL;
	ahead_rows(s, r0, r1);
}

/* Every chunk not yet computed (on the calling thread, its rows shared out when it can). */
static void ahead_finish(srnn_sampler *s)
{
	if (s->ahead_done >= AHEAD_CHUNKS)
		return;
	const int R = s->ahead_rows;
	int r0 = (int)((long)R * s->ahead_done / AHEAD_CHUNKS) / QMAT_PANEL * QMAT_PANEL;
	int nt = 1;
#ifdef _OPENMP
	if (!omp_in_parallel() && (double)(R - r0) * s->D * s->n >= 1 << 18)
		nt = omp_get_max_threads();
#endif
	if (nt <= 1) {
		ahead_rows(s, r0, R);
	} else {
#pragma omp parallel num_threads(nt)
		{
			int id = 0, team = 1;
#ifdef _OPENMP
			id = omp_get_thread_num(), team = omp_get_num_threads();
#endif
			int np = (R - r0 + QMAT_PANEL - 1) / QMAT_PANEL;
			int a = r0 + np * id / team * QMAT_PANEL, b = r0 + np * (id + 1) / team * QMAT_PANEL;
			ahead_rows(s, a, SH_MIN(b, R));
		}
	}
	s->ahead_done = AHEAD_CHUNKS;
}

/* The finest tier's conditioning vector j of its current frame (for every stream), from its
 * last output: rows j·D … of the upsampling, computed when a sample first needs it. */
static void cond_vector(srnn_sampler *s, int j)
{
	frame_tier *t = &s->tier[s->K - 1];
	qmat_apply(t->up, t->cond, t->ratio * t->condw, s->tier_out, s->D, t->up_b, s->n, j * s->D, (j + 1) * s->D, 0);
}

/* Frame tier k on the last fs codes of every stream: new state and conditioning vectors.
 * gadd (n × G·D) is the tier above's vector for this frame, added to the first layer's
 * input projection, or NULL for the coarsest tier. */
static void frame_step(srnn_sampler *s, int k, const float *gadd)
{
	frame_tier *t = &s->tier[k];
	const int n = s->n, fs = t->fs, D = s->D, G = s->G, H = s->hist_len;
	const float half = s->Q / 2.0f;
	for (int b = 0; b < n; b++)
		for (int j = 0; j < fs; j++)
			s->frame[b * fs + j] = (s->hist[b * H + H - fs + j] / half - 1) * 2;
	const size_t per_layer = (size_t)n * D;
	const int finest = k == s->K - 1;
	if (finest)
		ahead_finish(s);
	for (int l = 0; l < s->L; l++) {
		const rnn_layer *y = &t->layer[l];
		const float *inp = s->frame;
		if (l > 0) {
			/* skip connection: [h of the layer below, raw frame] */
			for (int b = 0; b < n; b++) {
				memcpy(s->layer_in + (size_t)b * y->in, t->h + (l - 1) * per_layer + (size_t)b * D,
				       D * sizeof(float));
				memcpy(s->layer_in + (size_t)b * y->in + D, s->frame + (size_t)b * fs,
				       fs * sizeof(float));
			}
			inp = s->layer_in;
		}
		float *h = t->h + l * per_layer, *c = t->c + l * per_layer, *g = s->gates;
		const int GD = G * D;
		qmat_apply_par(y->wih, g, 4 * D, inp, y->in, y->bias, n, 0);
		if (l == 0 && gadd)
			for (int b = 0; b < n; b++)
				for (int j = 0; j < GD; j++)
					g[(size_t)b * 4 * D + j] += gadd[(size_t)b * GD + j];
		if (finest) {
			/* W_hh·h computed ahead: adding it is what accumulating it would do (y + t) */
			const float *a = s->ahead + (size_t)l * n * 4 * D;
			const int rz = G == 3 ? 2 * D : GD;
			for (int b = 0; b < n; b++) {
				float *gb = g + (size_t)b * 4 * D;
				const float *ab = a + (size_t)b * 4 * D;
				for (int j = 0; j < rz; j++)
					gb[j] += ab[j];
				if (G == 3)
					memcpy(gb + 3 * D, ab + 3 * D, D * sizeof *gb);
			}
		} else {
			qmat_apply_par(y->whh, g, 4 * D, h, D, NULL, n, 1);
			if (G == 3)
				qmat_apply_par(y->whh_n, g + 3 * D, 4 * D, h, D, NULL, n, 0);
		}
		/* the cells update the state in place: each unit reads its own old value first */
		if (G == 4)
			lstm_cell_forward(h, c, g, c, n, D);
		else
			gru_cell_forward(h, g, h, y->bhn, n, D);
		qmat_apply_par(y->out, s->tier_out, D, h, D, y->out_b, n, l > 0);
	}
	if (finest) {
		/* the state moved on: next frame's products are to do; the conditioning vectors are
		 * computed from tier_out as the samples need them (no coarser tier runs before the
		 * next frame of this one, so tier_out stays) */
		s->ahead_done = 0;
		s->cond_ready = 0;
	} else {
		qmat_apply_par(t->up, t->cond, t->ratio * t->condw, s->tier_out, D, t->up_b, n, 0);
	}
}

/* Runs every frame tier whose frame starts at this sample, coarsest first. */
static void frame_tiers(srnn_sampler *s)
{
	for (int k = 0; k < s->K; k++) {
		const frame_tier *t = &s->tier[k];
		if (s->t % t->fs)
			continue;
		const float *gadd = NULL;
		if (k > 0) {
			/* this frame's vector among the ratio the tier above made at its last frame */
			const frame_tier *up = &s->tier[k - 1];
			int j = (int)(s->t % up->fs / t->fs), W = up->condw;
			for (int b = 0; b < s->n; b++)
				memcpy(s->gadd + (size_t)b * W, up->cond + ((size_t)b * up->ratio + j) * W,
				       W * sizeof(float));
			gadd = s->gadd;
		}
		frame_step(s, k, gadd);
	}
}

/* nn's relu_forward opens an OpenMP region (inactive for short vectors), which per sample costs
 * time and, inside a group's region, an allocation */
static void relu(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = x[i] > 0 ? x[i] : 0;
}

/* x[D] = relu(cond + Σ_slot table[slot][codes[slot]]), the rows added in slot order (the bits
 * of adding them one after the other), SUM_W columns at a time in registers: one pass over
 * x, not fs (the plain loop stored and reloaded x for every row, one float at a time). */
enum { SUM_W = 32 };
SH_HOT static void table_sum(float *restrict x, const float *restrict cond, const float *restrict table,
			     const int *codes, int fs, int Q, int D)
{
	int d = 0;
	for (; d + SUM_W <= D; d += SUM_W) {
		float acc[SUM_W];
#pragma omp simd
		for (int k = 0; k < SUM_W; k++)
			acc[k] = cond[d + k];
		for (int slot = 0; slot < fs; slot++) {
			const float *row = table + ((size_t)slot * Q + codes[slot]) * D + d;
#pragma omp simd
			for (int k = 0; k < SUM_W; k++)
				acc[k] += row[k];
		}
#pragma omp simd
		for (int k = 0; k < SUM_W; k++)
			x[d + k] = acc[k] > 0 ? acc[k] : 0;
	}
	for (; d < D; d++) {
		float acc = cond[d];
		for (int slot = 0; slot < fs; slot++)
			acc += table[((size_t)slot * Q + codes[slot]) * D + d];
		x[d] = acc > 0 ? acc : 0;
	}
}

/* The sample tier on conditioning vector j: logits of every stream into s->logits. */
static void sample_mlp(srnn_sampler *s, int j)
{
	const int n = s->n, fs = s->fs, D = s->D, Q = s->Q, H = s->hist_len;
	const float *cond = s->tier[s->K - 1].cond;
	for (int b = 0; b < n; b++)
		table_sum(s->x + (size_t)b * D, cond + ((size_t)b * fs + j) * D, s->table, s->hist + b * H + H - fs, fs,
			  Q, D);
	qmat_apply_par(s->l3, s->hidden, D, s->x, D, s->l3_b, n, 0);
	relu(s->hidden, (size_t)n * D);
	qmat_apply_par(s->l4, s->logits, Q, s->hidden, D, s->l4_b, n, 0);
}

/* Logits of the next code of every stream into s->logits (once per step). With two threads
 * (and the caller in no parallel region), one stream's step is pipelined: thread 0 runs the
 * sample tier on this sample's conditioning vector while thread 1 computes the next sample's
 * vector and a chunk of the recurrent products of the next frame, which need only the state
 * this frame left; the frame tiers' remaining work (input products, cells, outputs) runs at
 * the frame's start, its rows shared out. A sample tier is 0.39 M multiply-adds per sample in
 * the small preset, the vector and chunk 0.46 M: the two threads are about even. Every product
 * is computed whole by one thread in qmat's order, so the bits do not depend on this. */
static void sample_step(srnn_sampler *s)
{
	if (s->have_logits)
		return;
	const int fs = s->fs, j = (int)(s->t % fs);
	frame_tiers(s);
	while (s->cond_ready <= j)
		cond_vector(s, s->cond_ready++);
	int threads = 1;
#ifdef _OPENMP
	threads = omp_in_parallel() ? 1 : omp_get_max_threads();
#endif
	int next = j + 1 < fs && s->cond_ready == j + 1, chunk = s->ahead_done < AHEAD_CHUNKS;
	if (threads < 2 || (!next && !chunk)) {
		sample_mlp(s, j);
	} else {
#pragma omp parallel num_threads(2)
		{
			int id = 0, team = 1;
#ifdef _OPENMP
			id = omp_get_thread_num(), team = omp_get_num_threads();
#endif
			if (id == 0)
				sample_mlp(s, j);
			if (id == 1 || team < 2) {
				if (next)
					cond_vector(s, j + 1);
				if (chunk)
					ahead_chunk(s, s->ahead_done);
			}
		}
		s->cond_ready += next;
		s->ahead_done += chunk;
	}
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

/* Appends stream b's code codes[b * stride] (stride 0: the same code to every stream). The
 * frame tiers run first when a frame starts here and no step has run them yet: the recurrent
 * state must see every frame, even one whose logits nobody asked for. */
static void append(srnn_sampler *s, const int *codes, int stride)
{
	const int H = s->hist_len;
	if (!s->have_logits)
		frame_tiers(s);
	for (int b = 0; b < s->n; b++) {
		int *h = s->hist + b * H;
		memmove(h, h + 1, (H - 1) * sizeof *h);
		h[H - 1] = codes[b * stride];
	}
	s->t++;
	s->have_logits = 0;
}

void srnn_sampler_push(srnn_sampler *s, const int *codes) { append(s, codes, 1); }

void srnn_sampler_prime(srnn_sampler *s, const uint16_t *codes, long len)
{
	for (long i = 0; i < len; i++) {
		int c = codes[i];
		append(s, &c, 0);
	}
}

int srnn_draw(const float *logits, int Q, float temperature, sh_rng *rng, float *probs)
{
	if (temperature <= 1e-4f) {
		int best = 0;
		for (int q = 1; q < Q; q++)
			best = logits[q] > logits[best] ? q : best;
		return best;
	}
	softmax_row(probs, logits, Q, temperature);
	/* inverse CDF; the last level takes any rounding remainder */
	float u = sh_rng_uniformf(rng), acc = 0;
	int q = 0;
	for (; q < Q - 1; q++) {
		acc += probs[q];
		if (u < acc)
			break;
	}
	return q;
}

void srnn_sampler_draw(srnn_sampler *s, float temperature, sh_rng *rngs, int *codes)
{
	const int Q = s->Q;
	sample_step(s);
	for (int b = 0; b < s->n; b++)
		codes[b] = srnn_draw(s->logits + (size_t)b * Q, Q, temperature, &rngs[b], s->probs + (size_t)b * Q);
	srnn_sampler_push(s, codes);
}
