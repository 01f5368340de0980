/* checkpoint.c: a training run in one safetensors file (see checkpoint.h): parameters under
 * their state_dict names, Adam moments, the carried recurrent state, and metadata holding the
 * architecture (the model's own keys), the hyper-parameters and the exact data position, so
 * that a resumed run gives the same bytes as a straight one. */
#include "checkpoint.h"
#include "bounds.h"
#include "mulaw.h"
#include "util.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_FORMAT "sharks"
#define CKPT_VERSION "1"

static const char *clip_name(int c)
{
	return c == TRN_CLIP_NORM ? "norm" : c == TRN_CLIP_ELEMENTWISE ? "elementwise" : "none";
}

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

static int meta(ckpt_writer *cw, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
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

	char rng[SH_RNG_STR];
	sh_rng_to_string(&t->feed.rng, rng);
	sh_buf order = {0}, lanes = {0};
	for (int i = 0; i < t->feed.norder; i++)
		sh_buf_printf(&order, i ? ",%d" : "%d", t->feed.order[i]);
	for (int b = 0; b < t->feed.batch; b++)
		sh_buf_printf(&lanes, b ? ",%d:%d" : "%d:%d", t->feed.lane_rec[b], t->feed.lane_win[b]);
	if (!rc)
		rc = meta(&cw, "format", CKPT_FORMAT) || meta(&cw, "format_version", CKPT_VERSION) ? -1 : 0;
	/* the architecture: the model's own keys (samplernn.h, wavenet.h), then the row geometry */
	if (!rc)
		rc = model_config_to_meta(mc, &cw.w) < 0 || meta(&cw, "history", "%d", model_history(mc)) ||
				     meta(&cw, "seq", "%d", model_seq(mc))
			     ? -1
			     : 0;
	if (!rc)
		rc = meta(&cw, "sample_rate", "%d", o->sample_rate) ||
				     meta(&cw, "quantization", "%s", o->quantization) ||
				     meta(&cw, "lr", "%.17g", o->lr) || meta(&cw, "adam_beta1", "%.17g", o->beta1) ||
				     meta(&cw, "adam_beta2", "%.17g", o->beta2) ||
				     meta(&cw, "adam_eps", "%.17g", o->eps) ||
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
				     meta(&cw, "log_steps", "%ld", t->log_steps) ||
				     meta(&cw, "run_id", "%016" PRIx64, trn_run_id(o, d->fingerprint))
			     ? -1
			     : 0;
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
	if (!fmt || strcmp(fmt, CKPT_FORMAT))
		return sh_error("not a checkpoint of qtrain (no format \"%s\" in the metadata)", CKPT_FORMAT);
	if (!ver || strcmp(ver, CKPT_VERSION))
		return sh_error("checkpoint format version %s is not supported (want %s)", ver ? ver : "(none)",
				CKPT_VERSION);
	memset(opt, 0, sizeof *opt);
	if (model_config_from_meta(sf, &opt->model) < 0)
		return -1;
	const char *clip = st_meta(sf, "clip"), *q = st_meta(sf, "quantization");
	const char *split = st_meta(sf, "split"), *seed = st_meta(sf, "seed");
	if (!clip || (strcmp(clip, "elementwise") && strcmp(clip, "norm") && strcmp(clip, "none")))
		return sh_error("bad 'clip' in the metadata");
	opt->clip = !strcmp(clip, "norm")   ? TRN_CLIP_NORM
		    : !strcmp(clip, "none") ? TRN_CLIP_NONE
					    : TRN_CLIP_ELEMENTWISE;
	if (!seed || sscanf(seed, "%" SCNu64, &opt->seed) != 1)
		return sh_error("bad 'seed' in the metadata");
	if (!split || sscanf(split, "%lf,%lf,%lf", &opt->split[0], &opt->split[1], &opt->split[2]) != 3)
		return sh_error("bad 'split' in the metadata");
	snprintf(opt->quantization, sizeof opt->quantization, "%s", q ? q : "mulaw");
	if (meta_int(sf, "sample_rate", 1, 1 << 30, &opt->sample_rate) < 0 || meta_double(sf, "lr", &opt->lr) < 0 ||
	    meta_double(sf, "adam_beta1", &opt->beta1) < 0 || meta_double(sf, "adam_beta2", &opt->beta2) < 0 ||
	    meta_double(sf, "adam_eps", &opt->eps) < 0 || meta_double(sf, "clip_value", &opt->clip_value) < 0)
		return -1;
	return trn_options_check(opt) < 0 ? sh_error_prefix("bad metadata") : 0;
}

/* Restores one float tensor, checking its shape. */
static int load_tensor(const st_file *sf, const char *name, int ndim, const int64_t *shape, float *dst, size_t count)
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

model *trn_load_model(const st_file *sf, int max_batch, trn_options *opt)
{
	if (trn_meta_options(sf, opt) < 0)
		return NULL;
	model *m = model_create(&opt->model, max_batch);
	if (!m)
		return NULL;
	float *params = model_params(m);
	for (int i = 0; i < model_param_count(m); i++) {
		model_param p = model_param_info(m, i);
		const st_tensor *t = st_find(sf, p.name);
		int same = t && t->ndim == p.ndim;
		for (int k = 0; same && k < p.ndim; k++)
			same = t->shape[k] == p.shape[k];
		int rc = t && !same ? sh_error("tensor '%s' has another shape than the metadata's architecture", p.name)
				    : st_read_f32(sf, p.name, params + p.offset, p.count);
		if (rc < 0) {
			model_free(m);
			return NULL;
		}
	}
	return m;
}

int trn_load(trn_run *t, const trn_data *d, const st_file *sf)
{
	trn_options o;
	if (trn_meta_options(sf, &o) < 0)
		return -1;
	char diff[256];
	if (model_config_diff(&o.model, &t->opt.model, diff, sizeof diff))
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
	    meta_double(sf, "best_valid_bits", &t->best_bits) < 0 || meta_double(sf, "log_nats", &t->log_nats) < 0 ||
	    st_meta_long(sf, "log_steps", 0, LONG_MAX, &t->log_steps) < 0 ||
	    sh_rng_from_string(&f->rng, st_meta(sf, "rng")) < 0)
		return -1;
	/* the best so far may be +inf (none yet); the loss summed since the last log row is a sum
	 * of cross-entropies: finite and not negative */
	if (isnan(t->best_bits) || t->best_bits < 0)
		return sh_error("bad 'best_valid_bits' in the metadata: %s (want bits >= 0, or inf)",
				st_meta(sf, "best_valid_bits"));
	if (!isfinite(t->log_nats) || t->log_nats < 0)
		return sh_error("bad 'log_nats' in the metadata: %s (want a finite sum >= 0)", st_meta(sf, "log_nats"));
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
		ok = end != s && w >= 0 &&
		     (r == -1 || (r >= 0 && r < d->nrec && intrain[r] && w <= trn_data_windows(d, (int)r, f->seq))) &&
		     (*end == ',' || (!*end && b == f->batch - 1));
		f->lane_rec[b] = (int)r;
		f->lane_win[b] = (int)w;
		s = end + (*end == ',');
	}
	free(intrain);
	if (!ok || *s)
		return sh_error("bad 'data_lanes' in the metadata");
	trn_state_scatter(t); /* this rank's rows, under mpirun */
	return 0;
}

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

uint64_t trn_run_id(const trn_options *o, uint64_t data_fingerprint)
{
	/* the architecture as the model's own metadata keys and values, in their order */
	st_writer w;
	st_writer_init(&w);
	uint64_t h = SH_FNV_INIT;
	if (model_config_to_meta(&o->model, &w) == 0)
		for (int i = 0; i < w.nmeta; i++) {
			h = sh_fnv1a(h, w.meta_key[i], strlen(w.meta_key[i]) + 1);
			h = sh_fnv1a(h, w.meta_val[i], strlen(w.meta_val[i]) + 1);
		}
	st_writer_free(&w);
	char rest[256];
	int n = snprintf(rest, sizeof rest,
			 "seed=%" PRIu64 " split=%.17g,%.17g,%.17g data=%016" PRIx64 " rate=%d quantization=%s",
			 o->seed, o->split[0], o->split[1], o->split[2], data_fingerprint, o->sample_rate,
			 o->quantization);
	return sh_fnv1a(h, rest, (size_t)SH_MIN(n, (int)sizeof rest));
}

int trn_ckpt_run_id(const st_file *sf, uint64_t *id)
{
	trn_options o;
	if (trn_meta_options(sf, &o) < 0)
		return -1;
	const char *fp = st_meta(sf, "data_fingerprint"), *rid = st_meta(sf, "run_id");
	uint64_t data;
	char *end;
	if (!fp || (data = strtoull(fp, &end, 16), end == fp || *end))
		return sh_error("bad 'data_fingerprint' in the metadata");
	*id = trn_run_id(&o, data);
	char mine[17];
	snprintf(mine, sizeof mine, "%016" PRIx64, *id);
	if (rid && strcmp(rid, mine)) /* checkpoints from before run ids have none */
		return sh_error("'run_id' %s in the metadata is not the run its metadata describes (%s)", rid, mine);
	return 0;
}
