/* train.c: the training loop state of qtrain (see train.h): optimizer step with clipping and
 * Adam, validation in bits per sample, checkpoints that resume exactly, and the run
 * directory's log, plot and run record. The models' numerics live in samplernn*.c and
 * wavenet*.c, reached through model.h. */
#include "train.h"
#include "generate.h"
#include "audio.h"
#include "mulaw.h"
#include "nn.h"
#include "srnn_sample.h"
#include "plot.h"
#include "util.h"

#include <cairo.h>
#include <cblas.h>
#include <chromaprint.h>
#include <errno.h>
#include <fftw3.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <png.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CKPT_FORMAT "sharks"
#define CKPT_VERSION "1"

/* ---- small string helpers ---- */

void trn_buf_printf(trn_buf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = b->cap - b->n;
		va_start(ap, fmt);
		int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? room : 0, fmt, ap);
		va_end(ap);
		if (k < 0)
			return;
		if (b->s && (size_t)k < room) {
			b->n += k;
			return;
		}
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + k + 1)
			cap *= 2;
		char *s = realloc(b->s, cap);
		if (!s)
			return;   /* out of memory: the text is cut; callers check nothing more */
		b->s = s;
		b->cap = cap;
	}
}

void trn_buf_json_str(trn_buf *b, const char *s)
{
	trn_buf_printf(b, "\"");
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			trn_buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			trn_buf_printf(b, "\\n");
		else if (*p == '\t')
			trn_buf_printf(b, "\\t");
		else if (*p < 0x20)
			trn_buf_printf(b, "\\u%04x", *p);
		else
			trn_buf_printf(b, "%c", *p);
	}
	trn_buf_printf(b, "\"");
}

int trn_write_file(const char *path, const void *data, size_t n)
{
	char tmp[4096];
	sh_tmp_name(tmp, sizeof tmp, path);
	sh_tmp_track(tmp, 1);
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		sh_tmp_track(tmp, 0);
		return sh_error("%s: cannot create: %s", path, strerror(errno));
	}
	int bad = n && fwrite(data, 1, n, f) != n;
	bad |= fflush(f) != 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path)) {
		int e = errno;
		remove(tmp);
		sh_tmp_track(tmp, 0);
		return sh_error("%s: write error: %s", path, strerror(e));
	}
	sh_tmp_track(tmp, 0);
	return 0;
}

void trn_frame_sizes_str(const srnn_config *cfg, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = 0;
	for (int i = 0; i < cfg->nframe_tiers && n < cap; i++)
		n += snprintf(buf + n, cap - n, i ? ",%d" : "%d", cfg->frame_size[i]);
}

int trn_parse_frame_sizes(const char *s, srnn_config *cfg)
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

static const char *rnn_name(int rnn) { return rnn == SRNN_GRU ? "gru" : "lstm"; }
static const char *clip_name(int c)
{
	return c == TRN_CLIP_NORM ? "norm" : c == TRN_CLIP_ELEMENTWISE ? "elementwise" : "none";
}

int trn_config_diff(const srnn_config *a, const srnn_config *b, char *buf, size_t cap)
{
	char fa[64], fb[64];
	trn_frame_sizes_str(a, fa, sizeof fa);
	trn_frame_sizes_str(b, fb, sizeof fb);
	if (strcmp(fa, fb))
		return snprintf(buf, cap, "frame sizes %s in the checkpoint, %s asked", fa, fb), 1;
#define DIFF(field, name)                                                                     \
	if (a->field != b->field)                                                             \
		return snprintf(buf, cap, name " %d in the checkpoint, %d asked", a->field, b->field), 1;
	DIFF(dim, "dim")
	DIFF(layers, "layers")
	if (a->rnn != b->rnn)
		return snprintf(buf, cap, "rnn %s in the checkpoint, %s asked", rnn_name(a->rnn),
				rnn_name(b->rnn)), 1;
	DIFF(embed, "embed")
	DIFF(levels, "levels")
	DIFF(learn_h0, "learn_h0")
	DIFF(rnn_weight_norm, "rnn_weight_norm")
	DIFF(seq, "seq")
	DIFF(batch, "batch")
#undef DIFF
	return 0;
}

int trn_model_diff(const model_config *a, const model_config *b, char *buf, size_t cap)
{
	if (a->kind != b->kind)
		return snprintf(buf, cap, "model %s in the checkpoint, %s asked", model_kind_name(a->kind),
				model_kind_name(b->kind)), 1;
	if (a->kind == MODEL_SAMPLERNN)
		return trn_config_diff(&a->srnn, &b->srnn, buf, cap);
	const wn_config *x = &a->wn, *y = &b->wn;
	char dx[WN_MAX_LAYERS * 9], dy[WN_MAX_LAYERS * 9];
	if (wn_dilations_str(x, dx, sizeof dx) < 0 || wn_dilations_str(y, dy, sizeof dy) < 0 || strcmp(dx, dy))
		return snprintf(buf, cap, "dilations %s in the checkpoint, %s asked", dx, dy), 1;
#define DIFF(field, name)                                                                     \
	if (x->field != y->field)                                                             \
		return snprintf(buf, cap, name " %d in the checkpoint, %d asked", x->field, y->field), 1;
	if (x->input != y->input)
		return snprintf(buf, cap, "input %s in the checkpoint, %s asked", wn_input_name(x->input),
				wn_input_name(y->input)), 1;
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

/* ---- optimizer ---- */

double trn_clip(float *g, size_t n, int mode, double value)
{
	if (mode == TRN_CLIP_NORM)
		return clip_global_norm(g, n, value);
	double ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += (double)g[i] * g[i];
	double norm = sqrt(ss);
	if (isfinite(norm) && mode == TRN_CLIP_ELEMENTWISE)
		clip_elementwise(g, n, (float)value);
	return norm;
}

/* ---- the run ---- */

typedef struct {
	int nwin, rec;
} eval_item;

int trn_run_init(trn_run *t, const trn_options *opt, const trn_data *d)
{
	memset(t, 0, sizeof *t);
	t->opt = *opt;
	const model_config *c = &opt->model;
	const int batch = model_batch(c), history = model_history(c), seq = model_seq(c);
	t->m = model_create(c, batch);
	if (!t->m)
		return -1;
	model_init_params(t->m, opt->seed);
	t->nparams = model_num_params(t->m);
	t->state_floats = model_state_floats(t->m, batch);
	int row = history + seq;
	/* one float at least, so that a model without state (WaveNet) still gets pointers */
	t->adam_m = sh_alloc(t->nparams * sizeof(float));
	t->adam_v = sh_alloc(t->nparams * sizeof(float));
	t->state = sh_alloc(SH_MAX(t->state_floats, 1) * sizeof(float));
	t->eval_state = sh_alloc(SH_MAX(t->state_floats, 1) * sizeof(float));
	t->codes = sh_alloc((size_t)batch * row * sizeof(uint16_t));
	t->reset = sh_alloc(batch);
	if (!t->adam_m || !t->adam_v || !t->state || !t->eval_state || !t->codes || !t->reset ||
	    trn_feed_init(&t->feed, d, batch, history, seq, model_levels(c), opt->seed) < 0) {
		trn_run_free(t);
		return -1;
	}
	for (int b = 0; b < batch; b++)
		model_state_reset(t->m, t->state, batch, b);
	t->best_bits = INFINITY;
	return 0;
}

void trn_run_free(trn_run *t)
{
	if (t->m)
		model_free(t->m);
	free(t->adam_m);
	free(t->adam_v);
	free(t->state);
	free(t->eval_state);
	free(t->codes);
	free(t->reset);
	free(t->valid_sorted);
	trn_feed_free(&t->feed);
	memset(t, 0, sizeof *t);
}

double trn_step(trn_run *t, const trn_data *d)
{
	const int batch = model_batch(&t->opt.model);
	float *grads = model_grads(t->m);
	memset(grads, 0, t->nparams * sizeof(float));
	trn_feed_next(&t->feed, d, t->codes, t->reset);
	for (int b = 0; b < batch; b++)
		if (t->reset[b])
			model_state_reset(t->m, t->state, batch, b);
	double loss = model_forward_backward(t->m, t->codes, batch, t->state);
	if (!isfinite(loss))
		return loss;
	double norm = trn_clip(grads, t->nparams, t->opt.clip, t->opt.clip_value);
	if (!isfinite(norm))
		return norm;
	t->step++;
	adam_step(model_params(t->m), grads, t->adam_m, t->adam_v, t->nparams, t->opt.lr, t->opt.beta1,
		  t->opt.beta2, t->opt.eps, t->step);
	t->log_nats += loss;
	t->log_steps++;
	return loss;
}

static int cmp_eval(const void *a, const void *b)
{
	const eval_item *x = a, *y = b;
	return x->nwin != y->nwin ? (x->nwin < y->nwin ? -1 : 1) : (x->rec > y->rec) - (x->rec < y->rec);
}

double trn_evaluate(trn_run *t, const trn_data *d, const int *recs, int n, volatile sig_atomic_t *stop)
{
	const model_config *c = &t->opt.model;
	const int batch = model_batch(c), seq = model_seq(c), levels = model_levels(c);
	if (n <= 0)
		return NAN;
	/* records of the same length go through the model together, row by row, so that no row
	 * has to be padded and the mean loss of a call is the mean over real targets */
	eval_item *items = malloc(n * sizeof *items);
	if (!items)
		return NAN;
	for (int i = 0; i < n; i++)
		items[i] = (eval_item){trn_data_windows(d, recs[i], seq), recs[i]};
	qsort(items, n, sizeof *items, cmp_eval);
	int history = model_history(c), row = history + seq;
	double nats = 0, count = 0;
	for (int i = 0; i < n;) {
		int g = 1;
		while (i + g < n && g < batch && items[i + g].nwin == items[i].nwin)
			g++;
		for (int b = 0; b < g; b++)
			model_state_reset(t->m, t->eval_state, g, b);
		for (int w = 0; w < items[i].nwin; w++) {
			if (stop && *stop) {
				free(items);
				return NAN;
			}
			for (int b = 0; b < g; b++)
				trn_window_row(d, items[i + b].rec, w, history, seq, levels,
					       t->codes + (size_t)b * row);
			double loss = model_forward(t->m, t->codes, g, t->eval_state);
			nats += loss * g * seq;
			count += (double)g * seq;
		}
		i += g;
	}
	free(items);
	return nats / count / M_LN2;
}

/* ---- checkpoints ---- */

typedef struct {
	st_writer w;
	char **owned;
	int nowned;
} ckpt_writer;

static const char *keep(ckpt_writer *cw, char *s)
{
	char **o = realloc(cw->owned, (cw->nowned + 1) * sizeof *o);
	if (!o || !s) {
		free(s);
		return NULL;
	}
	cw->owned = o;
	cw->owned[cw->nowned++] = s;
	return s;
}

static int meta(ckpt_writer *cw, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int meta(ckpt_writer *cw, const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int k = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (k < 0 || !keep(cw, s))
		return sh_error("out of memory");
	return st_set_meta(&cw->w, key, s);
}

int trn_save(const trn_run *t, const trn_data *d, const char *path)
{
	const model_config *mc = &t->opt.model;
	const srnn_config *c = &mc->srnn;
	const int batch = model_batch(mc);
	const trn_options *o = &t->opt;
	ckpt_writer cw = {0};
	st_writer_init(&cw.w);
	int rc = 0;
	float *params = model_params(t->m);
	int np = model_param_count(t->m);
	for (int i = 0; i < np && !rc; i++) {
		model_param p = model_param_info(t->m, i);
		char *mn = NULL, *vn = NULL;
		if (asprintf(&mn, "adam.m.%s", p.name) < 0)
			mn = NULL;
		if (asprintf(&vn, "adam.v.%s", p.name) < 0)
			vn = NULL;
		const char *mk = keep(&cw, mn), *vk = keep(&cw, vn);
		if (!mk || !vk) {
			rc = sh_error("out of memory");
			break;
		}
		rc = st_add_f32(&cw.w, p.name, p.ndim, p.shape, params + p.offset);
		if (!rc)
			rc = st_add_f32(&cw.w, mk, p.ndim, p.shape, t->adam_m + p.offset);
		if (!rc)
			rc = st_add_f32(&cw.w, vk, p.ndim, p.shape, t->adam_v + p.offset);
	}
	/* the carried recurrent state; none for WaveNet */
	int64_t sshape[2] = {batch, (int64_t)(t->state_floats / batch)};
	if (!rc && t->state_floats)
		rc = st_add_f32(&cw.w, "train.state", 2, sshape, t->state);

	char fs[64], rng[SH_RNG_STR];
	trn_frame_sizes_str(c, fs, sizeof fs);
	sh_rng_to_string(&t->feed.rng, rng);
	trn_buf order = {0}, lanes = {0};
	for (int i = 0; i < t->feed.norder; i++)
		trn_buf_printf(&order, i ? ",%d" : "%d", t->feed.order[i]);
	for (int b = 0; b < t->feed.batch; b++)
		trn_buf_printf(&lanes, b ? ",%d:%d" : "%d:%d", t->feed.lane_rec[b], t->feed.lane_win[b]);
	if (!rc)
		rc = meta(&cw, "format", CKPT_FORMAT) || meta(&cw, "format_version", CKPT_VERSION) ? -1 : 0;
	/* the architecture: the model's own keys (model "wavenet", dilations, ...: wavenet.h) */
	if (!rc && mc->kind == MODEL_WAVENET)
		rc = wn_config_to_meta(&mc->wn, &cw.w) || meta(&cw, "history", "%d", model_history(mc)) ||
		     meta(&cw, "seq", "%d", model_seq(mc)) ? -1 : 0;
	else if (!rc)
		rc = meta(&cw, "model", "%s", model_kind_name(MODEL_SAMPLERNN)) ||
		     meta(&cw, "frame_sizes", "%s", fs) ||
		     meta(&cw, "dim", "%d", c->dim) || meta(&cw, "layers", "%d", c->layers) ||
		     meta(&cw, "rnn", "%s", rnn_name(c->rnn)) || meta(&cw, "embed", "%d", c->embed) ||
		     meta(&cw, "levels", "%d", c->levels) || meta(&cw, "learn_h0", "%d", c->learn_h0) ||
		     meta(&cw, "rnn_weight_norm", "%d", c->rnn_weight_norm) ||
		     meta(&cw, "seq", "%d", c->seq) || meta(&cw, "batch", "%d", c->batch) ||
		     meta(&cw, "history", "%d", srnn_history(c)) ? -1 : 0;
	if (!rc)
		rc = meta(&cw, "sample_rate", "%d", o->sample_rate) ||
		     meta(&cw, "quantization", "%s", o->quantization) ||
		     meta(&cw, "lr", "%.17g", o->lr) || meta(&cw, "adam_beta1", "%.17g", o->beta1) ||
		     meta(&cw, "adam_beta2", "%.17g", o->beta2) || meta(&cw, "adam_eps", "%.17g", o->eps) ||
		     meta(&cw, "clip", "%s", clip_name(o->clip)) ||
		     meta(&cw, "clip_value", "%.17g", o->clip_value) ||
		     meta(&cw, "seed", "%" PRIu64, o->seed) ||
		     meta(&cw, "split", "%.17g,%.17g,%.17g", o->split[0], o->split[1], o->split[2]) ||
		     meta(&cw, "step", "%ld", t->step) ||
		     meta(&cw, "epoch", "%.6f", trn_feed_epoch(&t->feed)) ||
		     meta(&cw, "rng", "%s", rng) ||
		     meta(&cw, "data_fingerprint", "%016" PRIx64, d->fingerprint) ||
		     meta(&cw, "data_records", "%d", d->nrec) ||
		     meta(&cw, "data_samples", "%zu", d->total) ||
		     meta(&cw, "data_split_records", "%d,%d,%d", d->ntrain, d->nvalid, d->ntest) ||
		     meta(&cw, "data_epoch", "%ld", t->feed.epoch) ||
		     meta(&cw, "data_cursor", "%d", t->feed.cursor) ||
		     meta(&cw, "data_order", "%s", order.s ? order.s : "") ||
		     meta(&cw, "data_lanes", "%s", lanes.s ? lanes.s : "") ||
		     meta(&cw, "best_valid_bits", "%.17g", t->best_bits) ||
		     meta(&cw, "log_nats", "%.17g", t->log_nats) ||
		     meta(&cw, "log_steps", "%ld", t->log_steps) ? -1 : 0;
	free(order.s);
	free(lanes.s);
	if (!rc)
		rc = st_save(&cw.w, path);
	st_writer_free(&cw.w);
	for (int i = 0; i < cw.nowned; i++)
		free(cw.owned[i]);
	free(cw.owned);
	return rc < 0 ? sh_error_prefix("%s", path) : 0;
}

static int meta_int(const st_file *sf, const char *key, long lo, long hi, int *out)
{
	long v;
	if (st_meta_long(sf, key, lo, hi, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

static int meta_double(const st_file *sf, const char *key, double *out)
{
	const char *s = st_meta(sf, key);
	if (!s)
		return sh_error("no '%s' in the metadata", key);
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end)
		return sh_error("bad '%s' in the metadata: '%s'", key, s);
	*out = v;
	return 0;
}

int trn_meta_options(const st_file *sf, trn_options *opt)
{
	const char *fmt = st_meta(sf, "format"), *ver = st_meta(sf, "format_version");
	const char *model = st_meta(sf, "model");
	if (!fmt || strcmp(fmt, CKPT_FORMAT))
		return sh_error("not a checkpoint of qtrain (no format \"%s\" in the metadata)", CKPT_FORMAT);
	if (!ver || strcmp(ver, CKPT_VERSION))
		return sh_error("checkpoint format version %s is not supported (want %s)",
				ver ? ver : "(none)", CKPT_VERSION);
	memset(opt, 0, sizeof *opt);
	if (!model || model_kind_parse(model, &opt->model.kind) < 0)
		return sh_error("checkpoint of another model: '%s' (want samplernn or wavenet)",
				model ? model : "(none)");
	srnn_config *c = &opt->model.srnn;
	const char *fs = st_meta(sf, "frame_sizes"), *rnn = st_meta(sf, "rnn");
	const char *clip = st_meta(sf, "clip"), *q = st_meta(sf, "quantization");
	const char *split = st_meta(sf, "split"), *seed = st_meta(sf, "seed");
	if (opt->model.kind == MODEL_WAVENET) {
		if (wn_config_from_meta(sf, &opt->model.wn) < 0)
			return -1;
	} else {
		if (!fs || trn_parse_frame_sizes(fs, c) < 0)
			return sh_error("bad 'frame_sizes' in the metadata");
		if (!rnn || (strcmp(rnn, "lstm") && strcmp(rnn, "gru")))
			return sh_error("bad 'rnn' in the metadata");
		c->rnn = strcmp(rnn, "gru") ? SRNN_LSTM : SRNN_GRU;
		if (meta_int(sf, "dim", 1, 1 << 20, &c->dim) < 0 || meta_int(sf, "layers", 1, 1024, &c->layers) < 0 ||
		    meta_int(sf, "embed", 1, 1 << 20, &c->embed) < 0 ||
		    meta_int(sf, "levels", 2, 65536, &c->levels) < 0 ||
		    meta_int(sf, "learn_h0", 0, 1, &c->learn_h0) < 0 ||
		    meta_int(sf, "rnn_weight_norm", 0, 1, &c->rnn_weight_norm) < 0 ||
		    meta_int(sf, "seq", 1, 1 << 24, &c->seq) < 0 || meta_int(sf, "batch", 1, 1 << 20, &c->batch) < 0)
			return -1;
	}
	if (!clip || (strcmp(clip, "elementwise") && strcmp(clip, "norm") && strcmp(clip, "none")))
		return sh_error("bad 'clip' in the metadata");
	opt->clip = !strcmp(clip, "norm") ? TRN_CLIP_NORM : !strcmp(clip, "none") ? TRN_CLIP_NONE
										: TRN_CLIP_ELEMENTWISE;
	if (!seed || sscanf(seed, "%" SCNu64, &opt->seed) != 1)
		return sh_error("bad 'seed' in the metadata");
	if (!split || sscanf(split, "%lf,%lf,%lf", &opt->split[0], &opt->split[1], &opt->split[2]) != 3)
		return sh_error("bad 'split' in the metadata");
	snprintf(opt->quantization, sizeof opt->quantization, "%s", q ? q : "mulaw");
	if (meta_int(sf, "sample_rate", 1, 1 << 30, &opt->sample_rate) < 0 ||
	    meta_double(sf, "lr", &opt->lr) < 0 || meta_double(sf, "adam_beta1", &opt->beta1) < 0 ||
	    meta_double(sf, "adam_beta2", &opt->beta2) < 0 || meta_double(sf, "adam_eps", &opt->eps) < 0 ||
	    meta_double(sf, "clip_value", &opt->clip_value) < 0)
		return -1;
	return 0;
}

/* Restores one float tensor, checking its shape. */
static int load_tensor(const st_file *sf, const char *name, int ndim, const int64_t *shape, float *dst,
		       size_t count)
{
	const st_tensor *t = st_find(sf, name);
	if (!t)
		return sh_error("no tensor '%s': not a checkpoint of this architecture", name);
	int same = t->ndim == ndim;
	for (int i = 0; same && i < ndim; i++)
		same = t->shape[i] == shape[i];
	if (!same)
		return sh_error("tensor '%s' has another shape: not a checkpoint of this architecture", name);
	return st_read_f32(sf, name, dst, count);
}

int trn_load(trn_run *t, const trn_data *d, const st_file *sf)
{
	trn_options o;
	if (trn_meta_options(sf, &o) < 0)
		return -1;
	char diff[256];
	if (trn_model_diff(&o.model, &t->opt.model, diff, sizeof diff))
		return sh_error("checkpoint of another architecture: %s", diff);
	const char *fp = st_meta(sf, "data_fingerprint");
	char mine[17];
	snprintf(mine, sizeof mine, "%016" PRIx64, d->fingerprint);
	if (!fp || strcmp(fp, mine))
		return sh_error("checkpoint was trained on other data (fingerprint %s, these data %s)",
				fp ? fp : "(none)", mine);

	float *params = model_params(t->m);
	int np = model_param_count(t->m);
	char name[512];
	for (int i = 0; i < np; i++) {
		model_param p = model_param_info(t->m, i);
		if (load_tensor(sf, p.name, p.ndim, p.shape, params + p.offset, p.count) < 0)
			return -1;
		snprintf(name, sizeof name, "adam.m.%s", p.name);
		if (load_tensor(sf, name, p.ndim, p.shape, t->adam_m + p.offset, p.count) < 0)
			return -1;
		snprintf(name, sizeof name, "adam.v.%s", p.name);
		if (load_tensor(sf, name, p.ndim, p.shape, t->adam_v + p.offset, p.count) < 0)
			return -1;
	}
	const int batch = model_batch(&t->opt.model);
	int64_t sshape[2] = {batch, (int64_t)(t->state_floats / batch)};
	if (t->state_floats && load_tensor(sf, "train.state", 2, sshape, t->state, t->state_floats) < 0)
		return -1;

	/* data position: the epoch's order must be a permutation of this split's training set */
	trn_feed *f = &t->feed;
	const char *order = st_meta(sf, "data_order"), *lanes = st_meta(sf, "data_lanes");
	if (st_meta_long(sf, "step", 0, LONG_MAX, &t->step) < 0 ||
	    st_meta_long(sf, "data_epoch", 0, LONG_MAX, &f->epoch) < 0 ||
	    meta_int(sf, "data_cursor", 0, f->norder, &f->cursor) < 0 ||
	    meta_double(sf, "best_valid_bits", &t->best_bits) < 0 ||
	    meta_double(sf, "log_nats", &t->log_nats) < 0 ||
	    st_meta_long(sf, "log_steps", 0, LONG_MAX, &t->log_steps) < 0 ||
	    sh_rng_from_string(&f->rng, st_meta(sf, "rng")) < 0)
		return -1;
	if (!order || !lanes)
		return sh_error("no data position (data_order, data_lanes) in the metadata");
	unsigned char *seen = sh_alloc(d->nrec ? d->nrec : 1), *intrain = sh_alloc(d->nrec ? d->nrec : 1);
	if (!seen || !intrain) {
		free(seen);
		free(intrain);
		return -1;
	}
	for (int i = 0; i < d->ntrain; i++)
		intrain[d->train[i]] = 1;
	const char *s = order;
	int ok = 1;
	for (int i = 0; i < f->norder && ok; i++) {
		char *end;
		long r = strtol(s, &end, 10);
		ok = end != s && r >= 0 && r < d->nrec && intrain[r] && !seen[r]++ &&
		     (*end == ',' || (!*end && i == f->norder - 1));
		f->order[i] = (int)r;
		s = end + (*end == ',');
	}
	free(seen);
	if (!ok || *s) {
		free(intrain);
		return sh_error("bad 'data_order' in the metadata");
	}
	s = lanes;
	for (int b = 0; b < f->batch && ok; b++) {
		char *end;
		long r = strtol(s, &end, 10), w = -1;
		if (end != s && *end == ':') {
			s = end + 1;
			w = strtol(s, &end, 10);
		}
		ok = end != s && w >= 0 && (r == -1 || (r >= 0 && r < d->nrec && intrain[r] &&
							 w <= trn_data_windows(d, (int)r, f->seq))) &&
		     (*end == ',' || (!*end && b == f->batch - 1));
		f->lane_rec[b] = (int)r;
		f->lane_win[b] = (int)w;
		s = end + (*end == ',');
	}
	free(intrain);
	if (!ok || *s)
		return sh_error("bad 'data_lanes' in the metadata");
	return 0;
}

/* ---- log, plot, run record ---- */

int trn_log_append(trn_log *l, const trn_log_row *row)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 64;
		trn_log_row *r = realloc(l->rows, cap * sizeof *r);
		if (!r)
			return sh_error("out of memory");
		l->rows = r;
		l->cap = cap;
	}
	l->rows[l->n++] = *row;
	return 0;
}

int trn_log_read(trn_log *l, const char *path, long max_step)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : sh_error("%s: %s", path, strerror(errno));
	char line[1024];
	int lineno = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		if (lineno == 1 && !strncmp(line, "step\t", 5))
			continue;
		trn_log_row r;
		char tb[64], vb[64];
		if (sscanf(line, "%ld\t%lf\t%63s\t%63s\t%lf\t%lf\t%lf", &r.step, &r.epoch, tb, vb,
			   &r.samples_per_s, &r.lr, &r.seconds) != 7) {
			fclose(f);
			return sh_error("%s: line %d: not a row of qtrain's log", path, lineno);
		}
		r.train_bits = strtod(tb, NULL);   /* "nan" where there was none */
		r.valid_bits = strtod(vb, NULL);
		if (r.step <= max_step && trn_log_append(l, &r) < 0) {
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

int trn_log_write(const trn_log *l, const char *path)
{
	trn_buf b = {0};
	trn_buf_printf(&b, "step\tepoch\ttrain_bits\tvalid_bits\tsamples_per_s\tlr\tseconds\n");
	for (int i = 0; i < l->n; i++) {
		const trn_log_row *r = &l->rows[i];
		/* NAN as "nan" whatever its sign bit, so that readers see one spelling */
		trn_buf_printf(&b, "%ld\t%.4f\t", r->step, r->epoch);
		trn_buf_printf(&b, isnan(r->train_bits) ? "nan\t" : "%.6f\t", r->train_bits);
		trn_buf_printf(&b, isnan(r->valid_bits) ? "nan\t" : "%.6f\t", r->valid_bits);
		trn_buf_printf(&b, "%.1f\t%g\t%.1f\n", r->samples_per_s, r->lr, r->seconds);
	}
	int rc = trn_write_file(path, b.s, b.n);
	free(b.s);
	return rc;
}

int trn_log_plot(const trn_log *l, const char *path)
{
	int n = l->n;
	double *x = malloc((n ? n : 1) * sizeof *x), *tr = malloc((n ? n : 1) * sizeof *tr),
	       *va = malloc((n ? n : 1) * sizeof *va);
	if (!x || !tr || !va) {
		free(x), free(tr), free(va);
		return sh_error("out of memory");
	}
	for (int i = 0; i < n; i++) {
		x[i] = l->rows[i].step;
		tr[i] = l->rows[i].train_bits;
		va[i] = l->rows[i].valid_bits;
	}
	plot_series s[2] = {
		{"train", x, tr, n, {0.12, 0.47, 0.71}},
		{"valid", x, va, n, {0.85, 0.37, 0.01}},
	};
	int rc = plot_lines_png(path, 800, 500, "qtrain: cross-entropy", "step", "bits per sample", s, 2);
	free(x), free(tr), free(va);
	return rc;
}

void trn_log_free(trn_log *l)
{
	free(l->rows);
	memset(l, 0, sizeof *l);
}

void trn_lib_versions_json(trn_buf *b)
{
	char sf[128] = "";
	sf_command(NULL, SFC_GET_LIB_VERSION, sf, sizeof sf);
	trn_buf_printf(b, "\"sndfile\": ");
	trn_buf_json_str(b, sf);
	trn_buf_printf(b, ", \"openblas\": ");
	trn_buf_json_str(b, openblas_get_config());
	trn_buf_printf(b, ", \"samplerate\": ");
	trn_buf_json_str(b, src_get_version());
	trn_buf_printf(b, ", \"fftw3f\": ");
	trn_buf_json_str(b, fftwf_version);
	trn_buf_printf(b, ", \"cairo\": ");
	trn_buf_json_str(b, cairo_version_string());
	trn_buf_printf(b, ", \"libpng\": ");
	trn_buf_json_str(b, png_get_libpng_ver(NULL));
	trn_buf_printf(b, ", \"chromaprint\": ");
	trn_buf_json_str(b, chromaprint_get_version());
	trn_buf_printf(b, ", \"compiler\": ");
	trn_buf_json_str(b, __VERSION__);
#ifdef _OPENMP
	trn_buf_printf(b, ", \"openmp\": \"%d\"", _OPENMP);
#endif
}

/* best.safetensors becomes another name of the file just written as last.safetensors (a hard
 * link, renamed into place: atomic and without a second write); a copy where links fail. */
static int link_best(const trn_run *t, const trn_data *d, const char *last, const char *best)
{
	char tmp[4096];
	sh_tmp_name(tmp, sizeof tmp, best);
	remove(tmp);
	if (!link(last, tmp)) {
		if (!rename(tmp, best))
			return 0;
		remove(tmp);
	}
	return trn_save(t, d, best);
}

int trn_checkpoint(trn_run *t, const trn_data *d, const char *rundir, trn_log *log, int full,
		   double seconds, double samples_per_s, volatile sig_atomic_t *stop, trn_log_row *row)
{
	char last[4096], best[4096], path[4096];
	snprintf(last, sizeof last, "%s/last.safetensors", rundir);
	snprintf(best, sizeof best, "%s/best.safetensors", rundir);
	memset(row, 0, sizeof *row);
	row->step = t->step;
	row->epoch = trn_feed_epoch(&t->feed);
	row->train_bits = t->log_steps ? t->log_nats / t->log_steps / M_LN2 : NAN;
	row->valid_bits = NAN;
	row->samples_per_s = samples_per_s;
	row->lr = t->opt.lr;
	row->seconds = seconds;
	if (full)
		row->valid_bits = trn_evaluate(t, d, d->valid, d->nvalid, stop);
	if (full && stop && *stop)
		full = 0;   /* interrupted while validating: keep the checkpoint, skip the log row */
	else if (full && d->nvalid && !isfinite(row->valid_bits))
		return 1;   /* the parameters are no good: keep the previous checkpoint */
	int improved = 0;
	if (full) {
		double score = d->nvalid ? row->valid_bits : row->train_bits;
		if (isfinite(score) && !(score >= t->best_bits)) {
			t->best_bits = score;
			improved = 1;
		}
		t->log_nats = 0;
		t->log_steps = 0;
	}
	if (trn_save(t, d, last) < 0)
		return -1;
	if (improved && link_best(t, d, last, best) < 0)
		return -1;
	if (!full)
		return 0;
	snprintf(path, sizeof path, "%s/log.tsv", rundir);
	if (trn_log_append(log, row) < 0 || trn_log_write(log, path) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/loss.png", rundir);
	return trn_log_plot(log, path);
}

/* ---- clips while training (qtrain --sample-every) ---- */

int trn_quant_mode(const char *name)
{
	if (!strcmp(name, "mulaw") || !strcmp(name, "mu-law"))
		return MULAW_WAVENET;
	if (!strcmp(name, "dadabots"))
		return MULAW_DADABOTS;
	if (!strcmp(name, "linear"))
		return MULAW_LINEAR;
	return sh_error("unknown quantisation '%s' (mulaw, dadabots, linear)", name);
}

/* Clips during training go to wav files as they are made. */
typedef struct {
	const char *dir;
	long step;
	int rate;
	mulaw_quantiser quant;
	audio_writer **w;
	float *audio;   /* [n × 4096] */
} clip_out;

static int clip_batch(void *ctx, long first, int count, int done)
{
	clip_out *c = ctx;
	char path[4096];
	for (int b = (int)first; b < first + count; b++) {
		if (done) {
			if (audio_finish(c->w[b]) < 0)
				return -1;
			c->w[b] = NULL;
			continue;
		}
		snprintf(path, sizeof path, "%s/step%07ld_%d.wav", c->dir, c->step, b);
		if (!(c->w[b] = audio_create(path, c->rate, AUDIO_WAV16)))
			return sh_error_prefix("%s", path);
	}
	return 0;
}

static int clip_block(void *ctx, long stream, const uint16_t *codes, int len)
{
	clip_out *c = ctx;
	float *audio = c->audio + (size_t)stream * 4096;
	if (mulaw_decode_u16(&c->quant, codes, len, audio) < 0)
		return -1;
	return audio_write(c->w[stream], audio, len);
}

int trn_write_samples(trn_run *t, const char *dir, int n, double seconds, double temperature,
		      const uint16_t *prime, long prime_len, volatile sig_atomic_t *stop)
{
	const model_config *mc = &t->opt.model;
	int mode = trn_quant_mode(t->opt.quantization);
	if (mode < 0)
		return -1;
	clip_out c = {.dir = dir, .step = t->step, .rate = t->opt.sample_rate};
	if (mulaw_init(&c.quant, (mulaw_mode)mode, model_levels(mc)) < 0)
		return -1;
	c.w = calloc(n, sizeof *c.w);
	c.audio = malloc((size_t)n * 4096 * sizeof *c.audio);
	/* the same noise at every step (streams of the run's seed), so that clips differ by the
	 * model only; learned h0 when the model has one, else random, as qsample does (WaveNet:
	 * no h0, it starts from Q/2 codes) */
	gen_spec g = {.n = n, .samples = (long)(seconds * t->opt.sample_rate + 0.5), .temperature = (float)temperature,
		      .h0 = mc->kind == MODEL_SAMPLERNN && mc->srnn.learn_h0 ? SRNN_H0_LEARNED : SRNN_H0_RANDOM, .seed = t->opt.seed, .threads = 1,
		      .stop = stop, .prime = prime, .prime_len = prime_len};
	int rc = c.w && c.audio ? gen_streams(t->m, &g, clip_batch, clip_block, NULL, &c) : sh_error("out of memory");
	for (int b = 0; c.w && b < n; b++)
		if (c.w[b])
			audio_abort(c.w[b]);
	free(c.w), free(c.audio);
	mulaw_free(&c.quant);
	return rc < 0 ? -1 : 0;
}
