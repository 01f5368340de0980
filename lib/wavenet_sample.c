/* wavenet_sample.c: fast WaveNet generation with per-layer queues (wavenet_sample.h).
 *
 * Per step and stream, the input layer from the stream's last codes: one-hot and embedded input
 * x = causal.bias + tab[prev][0] + tab[last][1] from a [Q × 2 × R] table of taps by code (the
 * embedded input's folds embed.weight into the conv, as training does); scalar input
 * x = causal.bias + Σ_k W[:, k]·s(c_k) over the last W codes. Then for each layer l, filter and
 * gate together: fg = (W_past·x_l(t - d) + b) + W_now·x_l(t), the past tap's product first (its
 * input, queue_l's oldest entry, is known before the step starts, so with one stream a second
 * thread computes it ahead of the layers), z = tanh·σ goes into its slot of zcat [n × nl·C],
 * x(t) replaces the oldest queue entry, and x += res(z). Then h = ReLU(Σ skips + Σ skip biases),
 * logits = post2(ReLU(post1(h))): the skips are products of the skip weights of SKIP_CHUNK layers
 * at a time with their slice of zcat, summed chunk after chunk, so that each row's sum is the same
 * whichever thread computes it and whenever (with one stream, the second thread sums its rows
 * chunk by chunk while the layers still run). */
/* before the includes: exp_fast must share the gate's options, or it cannot be inlined there */
#pragma GCC optimize("no-math-errno", "no-trapping-math")
#include "wavenet_sample.h"
#include "fastmath.h"
#include "qmat.h"
#include "srnn_sample.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* default: steps of fewer multiply-adds stay on one thread. A fork per step costs a scheduler
 * slice whenever the machine is loaded (measured on 2 shared cores: 8 default streams at 7.7k
 * samples/s on one thread, 1.1k on two), so only very wide batches (about 64 default streams)
 * thread; for throughput on several cores run one sampler per thread on its own streams. */
#define PAR_MIN_MAC 1e8
#define SKIP_CHUNK 5 /* layers per skip chunk */

typedef struct {
	int d, pos;         /* dilation; queue slot of the oldest entry (shared by streams) */
	qmat *wpast, *wnow; /* [2C × R] filter and gate taps on x(t - d), on x(t) */
	qmat *wres;         /* [R × C] */
	float *bfg, *bres;  /* [2C], [R] */
	float *queue;       /* [n × d × R] */
} layer;

struct wn_sampler {
	int n, nl, R, C, Sk, Q;
	int input, hw; /* wn_input; codes the input layer reads (2, or W for scalar) */
	layer *lay;
	float *tab, *bcaus; /* [Q × 2 × R] the causal taps by code (one-hot, embed), [R] */
	float *wsc;         /* scalar: [W × R] the causal taps, tap-major */
	int nchunk;         /* the skips in chunks of SKIP_CHUNK layers */
	qmat **wskip;       /* [nchunk]: [S × (layers of the chunk)·C] */
	qmat *w1, *w2;      /* [S × S], [Q × S] */
	/* the pipelined step (one stream, two threads) */
	int pad0[16];
	int layers_ready; /* layers whose z is done (atomic; a cache line of its own, as the
	                           other thread polls it) */
	int pad1[16];
	int past_ahead;         /* fg already holds this step's past products: the last step was
	                           pipelined and its second thread computed them */
	int rows0;              /* skip rows thread 0 sums after the layers (moved 16 at a time);
	                           thread 1 sums the others while the layers run */
	int first0, steps;      /* of the last `steps` steps, in how many thread 0 was done first */
	float *sbias, *b1, *b2; /* [S], [S], [Q] */
	qmat_type wtype;
	double werr;           /* largest relative row error of the packed weights */
	int *hist;             /* [n × hw] the codes the next step reads, oldest first */
	float *x, *fg;         /* [n × R], [n × nl × 2C] every layer's filter and gate */
	float *zcat, *h1, *h2; /* [n × nl·C], [n × S] × 2 */
	float *logits, *probs; /* [n × Q] */
	int have_logits;
	double par_min; /* multiply-adds per step below which a step stays on one thread */
	float *arena;
};

static int copy_param(wn *m, const char *name, float *dst)
{
	const wn_param *p = wn_param_find(m, name);
	if (!p)
		return -1;
	memcpy(dst, wn_params(m) + p->offset, sizeof(float) * p->count);
	return 0;
}

static int copy_layer_param(wn *m, const char *what, int l, float *dst)
{
	/* what is "filt.weight": the layer's is "filt.<l>.weight" */
	char name[48];
	const char *dot = strchr(what, '.');
	snprintf(name, sizeof name, "%.*s.%d%s", (int)(dot - what), what, l, dot);
	return copy_param(m, name, dst);
}

/* Packs w [rows × cols, row stride ld] as the sampler's weight type into *dst: the skips and the
 * head (wide products) as it is, the layers' (a chain of 50 residual steps) with float inputs
 * when it is q8. */
static int pack(wn_sampler *s, qmat **dst, const float *w, int rows, int cols, int ld, int wide)
{
	qmat_type t = wide ? s->wtype : qmat_float_input(s->wtype);
	return qmat_pack_worst(dst, w, rows, cols, ld, t, &s->werr);
}

wn_sampler *wn_sampler_create(wn *m, int n, qmat_type wtype)
{
	const wn_config *c = wn_cfg(m);
	if (n < 1)
		return sh_error("streams %d: must be positive", n), NULL;
	wn_sampler *s = sh_alloc(sizeof *s);
	if (!s)
		return NULL;
	const int nl = s->nl = c->nlayers, R = s->R = c->res_ch, C = s->C = c->dil_ch;
	const int Sk = s->Sk = c->skip_ch, Q = s->Q = c->levels;
	const int input = s->input = c->input, hw = s->hw = wn_input_width(c), E = c->embed;
	s->n = n;
	s->wtype = wtype;
	const size_t ntab = input == WN_INPUT_SCALAR ? 0 : (size_t)Q * 2 * R;
	const size_t nwsc = input == WN_INPUT_SCALAR ? (size_t)hw * R : 0;
	size_t total = ntab + nwsc + R + Sk + Sk + Q;
	for (int l = 0; l < nl; l++)
		total += 2 * C + R + (size_t)n * c->dilation[l] * R;
	total += (size_t)n * (R + (size_t)nl * 3 * C + 2 * Sk + 2 * Q);
	s->arena = sh_alloc(sizeof(float) * total);
	s->lay = sh_alloc(sizeof(layer) * nl);
	s->hist = sh_alloc(sizeof(int) * n * hw);
	/* scratch: the causal weight (and the embedding with its fold's [2R × E]), one layer's
	 * skip weight and bias, or a weight matrix on its way to being packed */
	size_t sn = input == WN_INPUT_EMBED    ? (size_t)Q * E + (size_t)R * E * 4
		    : input == WN_INPUT_SCALAR ? (size_t)R * hw
					       : (size_t)R * Q * 2;
	const size_t most[] = {(size_t)Sk * (C + 1), (size_t)2 * C * R * 3, (size_t)Sk * Sk, (size_t)Q * Sk};
	for (int k = 0; k < 4; k++)
		sn = sn > most[k] ? sn : most[k];
	float *wcat = sh_alloc(sizeof(float) * Sk * nl * C);
	float *scratch = sh_alloc(sizeof(float) * sn);
	if (!s->arena || !s->lay || !s->hist || !scratch || !wcat)
		goto fail;
	float *a = s->arena;
#define TAKE(k) (a += (k), a - (k))
	s->tab = TAKE(ntab);
	s->wsc = TAKE(nwsc);
	s->bcaus = TAKE(R);
	if (copy_param(m, "causal.weight", scratch) < 0 || copy_param(m, "causal.bias", s->bcaus) < 0)
		goto fail;
	if (input == WN_INPUT_ONEHOT) {
		for (int r = 0; r < R; r++)
			for (int q = 0; q < Q; q++)
				for (int k = 0; k < 2; k++)
					s->tab[((size_t)q * 2 + k) * R + r] = scratch[((size_t)r * Q + q) * 2 + k];
	} else if (input == WN_INPUT_EMBED) { /* the same fold as training's */
		float *emb = scratch + (size_t)R * E * 2, *wpair = emb + (size_t)Q * E;
		if (copy_param(m, "embed.weight", emb) < 0)
			goto fail;
		wn_embed_taps_forward(s->tab, wpair, emb, scratch, Q, E, R);
	} else { /* [R × 1 × W] → [W × R] */
		for (int r = 0; r < R; r++)
			for (int k = 0; k < hw; k++)
				s->wsc[(size_t)k * R + r] = scratch[(size_t)r * hw + k];
	}
	s->sbias = TAKE(Sk);
	memset(s->sbias, 0, sizeof(float) * Sk);
	for (int l = 0; l < nl; l++) {
		layer *y = &s->lay[l];
		y->d = c->dilation[l];
		y->bfg = TAKE(2 * C);
		y->bres = TAKE(R);
		y->queue = TAKE((size_t)n * y->d * R);
		/* filter and gate [C × R × 2] each: tap 0 on x(t-d), tap 1 on x(t) */
		float *tap = scratch + (size_t)2 * C * R * 2;
		if (copy_layer_param(m, "filt.weight", l, scratch) < 0 ||
		    copy_layer_param(m, "gate.weight", l, scratch + (size_t)C * R * 2) < 0)
			goto fail;
		for (int k = 0; k < 2; k++) {
			for (size_t i = 0; i < (size_t)2 * C * R; i++)
				tap[i] = scratch[2 * i + k];
			if (pack(s, k ? &y->wnow : &y->wpast, tap, 2 * C, R, R, 0) < 0)
				goto fail;
		}
		if (copy_layer_param(m, "res.weight", l, scratch) < 0 || pack(s, &y->wres, scratch, R, C, C, 0) < 0 ||
		    copy_layer_param(m, "filt.bias", l, y->bfg) < 0 ||
		    copy_layer_param(m, "gate.bias", l, y->bfg + C) < 0 ||
		    copy_layer_param(m, "res.bias", l, y->bres) < 0 ||
		    copy_layer_param(m, "skip.weight", l, scratch) < 0 ||
		    copy_layer_param(m, "skip.bias", l, scratch + (size_t)Sk * C) < 0)
			goto fail;
		for (int k = 0; k < Sk; k++) {
			memcpy(wcat + (size_t)k * nl * C + (size_t)l * C, scratch + (size_t)k * C, sizeof(float) * C);
			s->sbias[k] += scratch[(size_t)Sk * C + k];
		}
	}
	s->nchunk = (nl + SKIP_CHUNK - 1) / SKIP_CHUNK;
	/* a start: thread 0 also runs the layers; step_balance moves it to where both finish
	 * together */
	s->rows0 = Sk * 3 / 8 / 16 * 16;
	if (!(s->wskip = sh_alloc(sizeof *s->wskip * s->nchunk)))
		goto fail;
	for (int j = 0; j < s->nchunk; j++) {
		int l0 = j * SKIP_CHUNK, l1 = SH_MIN(nl, l0 + SKIP_CHUNK);
		if (pack(s, &s->wskip[j], wcat + (size_t)l0 * C, Sk, (l1 - l0) * C, nl * C, 1) < 0)
			goto fail;
	}
	s->b1 = TAKE(Sk);
	s->b2 = TAKE(Q);
	if (copy_param(m, "post1.weight", scratch) < 0 || pack(s, &s->w1, scratch, Sk, Sk, Sk, 1) < 0 ||
	    copy_param(m, "post2.weight", scratch) < 0 || pack(s, &s->w2, scratch, Q, Sk, Sk, 1) < 0 ||
	    copy_param(m, "post1.bias", s->b1) < 0 || copy_param(m, "post2.bias", s->b2) < 0)
		goto fail;
	s->x = TAKE((size_t)n * R);
	s->fg = TAKE((size_t)n * nl * 2 * C);
	s->zcat = TAKE((size_t)n * nl * C);
	s->h1 = TAKE((size_t)n * Sk);
	s->h2 = TAKE((size_t)n * Sk);
	s->logits = TAKE((size_t)n * Q);
	s->probs = TAKE((size_t)n * Q);
#undef TAKE
	if ((size_t)(a - s->arena) != total)
		abort(); /* the sizes counted above are wrong */
	free(scratch);
	free(wcat);
	s->par_min = PAR_MIN_MAC;
	wn_sampler_reset(s);
	return s;
fail:
	free(scratch);
	free(wcat);
	sh_error_prefix("cannot prepare generation");
	wn_sampler_free(s);
	return NULL;
}

void wn_sampler_set_par_min(wn_sampler *s, double mac) { s->par_min = mac; }

void wn_sampler_set_split(wn_sampler *s, int rows0) { s->rows0 = SH_MAX(0, SH_MIN(s->Sk, rows0)); }

void wn_sampler_free(wn_sampler *s)
{
	if (!s)
		return;
	for (int l = 0; s->lay && l < s->nl; l++) {
		qmat_free(s->lay[l].wpast);
		qmat_free(s->lay[l].wnow);
		qmat_free(s->lay[l].wres);
	}
	for (int j = 0; s->wskip && j < s->nchunk; j++)
		qmat_free(s->wskip[j]);
	free(s->wskip);
	qmat_free(s->w1);
	qmat_free(s->w2);
	free(s->arena);
	free(s->lay);
	free(s->hist);
	free(s);
}

#define HOT SH_HOT

/* fg [rows × 2C] (row stride ldfg) → z = tanh(f)·σ(g) [rows × C] (row stride ldz), as
 * (1 - a) / ((1 + a)(1 + b)) with a = e^-2f, b = e^-g: one division, not two (the gate sits in
 * the chain of layers that one stream waits for, and a division's latency is most of it). The
 * clamps keep the product finite; beyond them tanh and σ are 1 or 0 to float precision (4e-18
 * absolute for σ). */
HOT static void gate(float *z, int ldz, const float *fg, int ldfg, int rows, int C)
{
	for (int r = 0; r < rows; r++) {
		const float *f = fg + (size_t)r * ldfg, *g = f + C;
		float *zz = z + (size_t)r * ldz;
#pragma omp simd
		for (int c = 0; c < C; c++) {
			float fc = f[c] < -15 ? -15 : f[c] > 15 ? 15 : f[c];
			float gc = g[c] < -40 ? -40 : g[c] > 40 ? 40 : g[c];
			float a = exp_fast(-2 * fc), b = exp_fast(-gc);
			zz[c] = (1 - a) / ((1 + a) * (1 + b));
		}
	}
}

/* The input layer of streams b0..b1-1: x from each stream's last hw codes */
static void input_step(wn_sampler *s, int b0, int b1)
{
	const int R = s->R, hw = s->hw;
	for (int b = b0; b < b1; b++) {
		float *xb = s->x + (size_t)b * R;
		const int *h = s->hist + (size_t)b * hw;
		if (s->input == WN_INPUT_SCALAR) {
			memcpy(xb, s->bcaus, sizeof(float) * R);
			for (int k = 0; k < hw; k++) {
				const float v = wn_code_scalar(h[k], s->Q), *w = s->wsc + (size_t)k * R;
				for (int r = 0; r < R; r++)
					xb[r] += w[r] * v;
			}
		} else {
			const float *t0 = s->tab + (size_t)h[0] * 2 * R;
			const float *t1 = s->tab + ((size_t)h[1] * 2 + 1) * R;
			for (int r = 0; r < R; r++)
				xb[r] = s->bcaus[r] + t0[r] + t1[r];
		}
	}
}

/* Layer l's past tap of streams b0..b1-1: fg = W_past·x(t - d) + b, from the queue's oldest
 * entry (before layer_now replaces it); or, `ahead`, the next step's, from the entry after it
 * (after layer_now has put x(t) there when d = 1, and used this step's fg). */
static void layer_past(wn_sampler *s, int l, int b0, int b1, int ahead)
{
	const int R = s->R, FW = s->nl * 2 * s->C;
	layer *y = &s->lay[l];
	const int slot = ahead ? (y->pos + 1) % y->d : y->pos;
	qmat_apply(y->wpast, s->fg + (size_t)b0 * FW + (size_t)l * 2 * s->C, FW,
		   y->queue + ((size_t)b0 * y->d + slot) * R, y->d * R, y->bfg, b1 - b0, 0, 2 * s->C, 0);
}

/* Layer l of streams b0..b1-1 for this step, after layer_past: fg += W_now·x, z into zcat, x(t)
 * into the queue, x += res(z). */
static void layer_now(wn_sampler *s, int l, int b0, int b1)
{
	const int R = s->R, C = s->C, nl = s->nl, rows = b1 - b0, FW = nl * 2 * C, ZW = nl * C;
	float *x = s->x + (size_t)b0 * R, *fg = s->fg + (size_t)b0 * FW + (size_t)l * 2 * C;
	layer *y = &s->lay[l];
	for (int b = b0; b < b1; b++)
		memcpy(y->queue + ((size_t)b * y->d + y->pos) * R, s->x + (size_t)b * R, sizeof(float) * R);
	qmat_apply(y->wnow, fg, FW, x, R, NULL, rows, 0, 2 * C, 1);
	float *z = s->zcat + (size_t)b0 * ZW + (size_t)l * C;
	gate(z, ZW, fg, FW, rows, C);
	if (l < nl - 1) /* x += res(z) */
		qmat_apply(y->wres, x, R, z, ZW, y->bres, rows, 0, R, 1);
}

/* Streams b0..b1-1 through the input layer and every layer. Each stream's queues are its own, so
 * bands of streams run on different threads. */
static void layers_step(wn_sampler *s, int b0, int b1)
{
	input_step(s, b0, b1);
	for (int l = 0; l < s->nl; l++) {
		layer_past(s, l, b0, b1, 0);
		layer_now(s, l, b0, b1);
	}
}

/* Skip chunk j of streams b0..b1-1, rows r0..r1-1, into h1: the first chunk with the skip biases,
 * the others added to it. */
static void skip_chunk(wn_sampler *s, int j, int b0, int b1, int r0, int r1)
{
	const int ZW = s->nl * s->C;
	qmat_apply(s->wskip[j], s->h1 + (size_t)b0 * s->Sk, s->Sk,
		   s->zcat + (size_t)b0 * ZW + (size_t)j * SKIP_CHUNK * s->C, ZW, j == 0 ? s->sbias : NULL, b1 - b0, r0,
		   r1, j > 0);
}

static void relu(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = x[i] > 0 ? x[i] : 0;
}

/* Streams b0..b1-1 through the output: h1 = ReLU(Σ skips + Σ skip biases), h2 = ReLU(post1),
 * logits = post2 */
static void head_step(wn_sampler *s, int b0, int b1)
{
	const int rows = b1 - b0, Sk = s->Sk, Q = s->Q;
	float *h1 = s->h1 + (size_t)b0 * Sk, *h2 = s->h2 + (size_t)b0 * Sk;
	for (int j = 0; j < s->nchunk; j++)
		skip_chunk(s, j, b0, b1, 0, Sk);
	relu(h1, (size_t)rows * Sk);
	qmat_apply_par(s->w1, h2, Sk, h1, Sk, s->b1, rows, 0);
	relu(h2, (size_t)rows * Sk);
	qmat_apply_par(s->w2, s->logits + (size_t)b0 * Q, Q, h2, Sk, s->b2, rows, 0);
}

static inline void spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Moves skip rows towards the thread that finishes its part of the skips first (counted over
 * BALANCE_STEPS steps, so that one slow step does not move them), until both finish together
 * about as often: thread 0's layers take a share of the time that depends on the machine, the
 * weight type and the load. Which thread sums a row does not change its bits. */
#define BALANCE_STEPS 32
static void step_balance(wn_sampler *s, int first0)
{
	s->first0 += first0;
	if (++s->steps < BALANCE_STEPS)
		return;
	if (s->first0 > BALANCE_STEPS * 5 / 8)
		s->rows0 = SH_MIN(s->Sk, s->rows0 + 16);
	else if (s->first0 < BALANCE_STEPS * 3 / 8)
		s->rows0 = SH_MAX(0, s->rows0 - 16);
	s->first0 = s->steps = 0;
}

/* One stream on two threads, in one region. Thread 0 runs the layers (their past products are
 * in fg already, computed during the last step; after a step that was not pipelined it computes
 * them first), then sums rows ..rows0-1 of every skip chunk. Thread 1, as the layers of a chunk
 * are done, computes their past products for the next step and sums rows rows0.. of the chunk.
 * Then both share out the rows of post1 and post2. Each row's sum is the one head_step makes, and
 * a past product is the same whenever it is computed, so the bits are the same as on one thread,
 * whatever rows0 is. */
static void step_pipelined(wn_sampler *s)
{
	__atomic_store_n(&s->layers_ready, 0, __ATOMIC_RELAXED);
	const int Sk = s->Sk, rows0 = s->rows0, ahead = s->past_ahead, FW = s->nl * 2 * s->C;
	double done[2] = {0, 0};
	int pipelined = 0;
#pragma omp parallel num_threads(2)
	{
		int id = 0, team = 1;
#ifdef _OPENMP
		id = omp_get_thread_num(), team = omp_get_num_threads();
#endif
		if (team < 2) { /* granted one thread: all of it here */
			layers_step(s, 0, 1);
			head_step(s, 0, 1);
		} else if (id == 0) {
			pipelined = 1;
			input_step(s, 0, 1);
			if (ahead) /* the other thread wrote them: ask for them all at once */
				for (int k = 0; k < FW; k += 16)
					__builtin_prefetch(s->fg + k, 0, 3);
			else
				for (int l = 0; l < s->nl; l++)
					layer_past(s, l, 0, 1, 0);
			for (int l = 0; l < s->nl; l++) {
				layer_now(s, l, 0, 1);
				__atomic_store_n(&s->layers_ready, l + 1, __ATOMIC_RELEASE);
			}
			for (int j = 0; j < s->nchunk; j++)
				skip_chunk(s, j, 0, 1, 0, rows0);
			relu(s->h1, (size_t)rows0);
		} else {
			for (int j = 0; j < s->nchunk; j++) {
				int l0 = j * SKIP_CHUNK, l1 = SH_MIN(s->nl, l0 + SKIP_CHUNK);
				while (__atomic_load_n(&s->layers_ready, __ATOMIC_ACQUIRE) < l1)
					spin_pause();
				for (int l = l0; l < l1; l++)
					layer_past(s, l, 0, 1, 1);
				skip_chunk(s, j, 0, 1, rows0, Sk);
			}
			relu(s->h1 + rows0, (size_t)(Sk - rows0));
		}
		if (team >= 2) {
			done[id] = sh_now();
#pragma omp barrier
			int r0 = 0, r1 = 0;
			if (id < 2) {
				qmat_part(s->w1, id, 2, &r0, &r1);
				qmat_apply(s->w1, s->h2, Sk, s->h1, Sk, s->b1, 1, r0, r1, 0);
				relu(s->h2 + r0, (size_t)(r1 - r0));
			}
#pragma omp barrier
			if (id < 2) {
				qmat_part(s->w2, id, 2, &r0, &r1);
				qmat_apply(s->w2, s->logits, s->Q, s->h2, Sk, s->b2, 1, r0, r1, 0);
			}
		}
	}
	s->past_ahead = pipelined;
	if (done[0] > 0 && done[1] > 0)
		step_balance(s, done[0] <= done[1]);
}

/* After a step's layers: every queue's oldest slot moves on. */
static void queues_advance(wn_sampler *s)
{
	for (int l = 0; l < s->nl; l++)
		s->lay[l].pos = (s->lay[l].pos + 1) % s->lay[l].d;
}

/* One step of every stream. With enough work, threads take bands of streams through the whole
 * network (one fork per step: no barrier between layers, which on a loaded machine would wait
 * for descheduled threads); each band reads every weight, from the shared cache. */
static void step(wn_sampler *s)
{
	if (s->have_logits)
		return;
	const int n = s->n;
	const double mac = (double)n * ((double)s->nl * (5.0 * s->R * s->C + (double)s->Sk * s->C) +
					(double)s->Sk * (s->Sk + s->Q));
	int threads = 1;
#ifdef _OPENMP
	threads = omp_in_parallel() ? 1 : omp_get_max_threads();
#endif
	if (n == 1 && threads >= 2) {
		step_pipelined(s);
	} else if (n == 1 || mac < s->par_min) {
		s->past_ahead = 0;
		/* outside any region: a region nested in even an inactive one starts its threads
		 * afresh */
		layers_step(s, 0, n);
		head_step(s, 0, n);
	} else
#pragma omp parallel
	{
		int nt = 1, id = 0;
#ifdef _OPENMP
		nt = omp_get_num_threads(), id = omp_get_thread_num();
#endif
		int b0 = (int)((long)n * id / nt), b1 = (int)((long)n * (id + 1) / nt);
		if (b1 > b0) {
			layers_step(s, b0, b1);
			head_step(s, b0, b1);
		}
	}
	queues_advance(s);
	s->have_logits = 1;
}

void wn_sampler_reset(wn_sampler *s)
{
	const int n = s->n, R = s->R, Q = s->Q;
	for (int i = 0; i < n * s->hw; i++)
		s->hist[i] = Q / 2;
	/* the layers on a constant history of Q/2 codes: every input is constant in time, so each
	 * queue is filled with its layer's input; computed on stream 0, copied to every stream */
	float *x = s->x;
	input_step(s, 0, 1);
	for (int l = 0; l < s->nl; l++) {
		layer *y = &s->lay[l];
		y->pos = 0;
		for (int b = 0; b < n; b++)
			for (int k = 0; k < y->d; k++)
				memcpy(y->queue + ((size_t)b * y->d + k) * R, x, sizeof(float) * R);
		layer_past(s, l, 0, 1, 0);
		layer_now(s, l, 0, 1);
	}
	s->past_ahead = 0;
	s->have_logits = 0;
}

const float *wn_sampler_probs(wn_sampler *s)
{
	step(s);
	const int Q = s->Q;
	for (int b = 0; b < s->n; b++) {
		const float *lg = s->logits + (size_t)b * Q;
		float *p = s->probs + (size_t)b * Q, mx = lg[0];
		for (int q = 1; q < Q; q++)
			mx = lg[q] > mx ? lg[q] : mx;
		double sum = 0;
		for (int q = 0; q < Q; q++)
			sum += p[q] = expf(lg[q] - mx);
		for (int q = 0; q < Q; q++)
			p[q] = (float)(p[q] / sum);
	}
	return s->probs;
}

/* Appends stream b's code codes[b * stride] (stride 0: the same code to every stream) after
 * the step's layers have run. */
static void append(wn_sampler *s, const int *codes, int stride)
{
	const int hw = s->hw;
	for (int b = 0; b < s->n; b++) {
		int *h = s->hist + (size_t)b * hw;
		memmove(h, h + 1, sizeof(int) * (hw - 1));
		h[hw - 1] = codes[b * stride];
	}
	s->have_logits = 0;
}

void wn_sampler_push(wn_sampler *s, const int *codes)
{
	step(s); /* the queues take this step's inputs even when nobody asked for its logits */
	append(s, codes, 1);
}

void wn_sampler_prime(wn_sampler *s, const uint16_t *codes, long len)
{
	for (long i = 0; i < len; i++) {
		if (!s->have_logits) {
			/* the layers alone fill the queues: the skips and the head keep no state. The
			 * next step computes its past products itself (nothing ran ahead). */
			layers_step(s, 0, s->n);
			queues_advance(s);
			s->past_ahead = 0;
		}
		int c = codes[i];
		append(s, &c, 0);
	}
}

void wn_sampler_draw(wn_sampler *s, float temperature, sh_rng *rngs, int *codes)
{
	const int Q = s->Q;
	step(s);
	for (int b = 0; b < s->n; b++)
		codes[b] = srnn_draw(s->logits + (size_t)b * Q, Q, temperature, &rngs[b], s->probs + (size_t)b * Q);
	wn_sampler_push(s, codes);
}

double wn_sampler_weight_error(const wn_sampler *s) { return s->werr; }
