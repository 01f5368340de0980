/* ddsp_train.c: training the DDSP model (see ddsp_train.h): examples and their cached
 * features, Adam with DDSP's decay and global-norm clipping, validation, checkpoints, clips. */
#include "ddsp_train.h"
#include "audio.h"
#include "ddsp.h"
#include "dist.h"
#include "nn.h"
#include "npy.h"
#include "rng.h"
#include "train.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SILENCE_PEAK 1e-4 /* -80 dBFS: below this everywhere, the data is silence */

/* ---- data ---- */

void ddsp_data_free(ddsp_data *d)
{
	free(d->audio), free(d->f0), free(d->ld), free(d->train), free(d->valid);
	for (int i = 0; i < d->nfiles; i++)
		free(d->files[i]);
	free(d->files);
	memset(d, 0, sizeof *d);
}

/* Appends the examples of one record. */
static int add_record(ddsp_data *d, const float *x, size_t len, size_t *cap)
{
	const size_t n = d->n;
	for (size_t o = 0; o + n <= len; o += n) {
		if ((size_t)(d->nex + 1) * n > *cap) {
			size_t nc = SH_MAX(2 * *cap, (size_t)(d->nex + 1) * n);
			float *na = realloc(d->audio, nc * sizeof *na);
			if (!na)
				return sh_error("out of memory");
			d->audio = na, *cap = nc;
		}
		memcpy(d->audio + (size_t)d->nex * n, x + o, n * sizeof *x);
		d->nex++;
	}
	return 0;
}

int ddsp_data_read(ddsp_data *d, char **files, int nfiles, const ddsp_config *c)
{
	memset(d, 0, sizeof *d);
	d->n = c->n_samples, d->T = ddsp_frames(c);
	d->files = calloc(nfiles, sizeof *d->files);
	if (!d->files)
		return sh_error("out of memory");
	size_t cap = 0;
	float *buf = NULL;
	size_t shortest = SIZE_MAX;
	for (int i = 0; i < nfiles; i++) {
		const char *path = files[i] ? files[i] : "-";
		d->files[d->nfiles++] = strdup(path);
		FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
		if (!f)
			return sh_error("%s: %s", path, strerror(errno));
		npy_record r = {0};
		int rc;
		while ((rc = npy_read_record(f, &r)) > 0) {
			if (r.h.dtype != SH_F32 && r.h.dtype != SH_F64) {
				rc = sh_error("%s: record %ld: dtype %s is not audio (want <f4 or <f8 records "
					      "from wavchunk)",
					      path, r.index, sh_dtype_descr(r.h.dtype));
				break;
			}
			float *nb = realloc(buf, SH_MAX(r.h.count, (size_t)1) * sizeof *nb);
			if (!nb) {
				rc = sh_error("out of memory");
				break;
			}
			buf = nb;
			npy_to_f32(buf, r.data, r.h.dtype, r.h.count);
			for (size_t j = 0; j < r.h.count; j++)
				if (!isfinite(buf[j])) {
					rc = sh_error("%s: record %ld: sample %zu is not finite", path, r.index, j);
					break;
				}
			if (rc < 0)
				break;
			shortest = SH_MIN(shortest, r.h.count);
			if (add_record(d, buf, r.h.count, &cap) < 0) {
				rc = -1;
				break;
			}
		}
		if (rc < 0 && !strstr(sh_errmsg(), path))
			sh_error_prefix("%s", path);
		npy_record_free(&r);
		if (f != stdin)
			fclose(f);
		if (rc < 0) {
			free(buf);
			return -1;
		}
	}
	free(buf);
	if (!d->nex) {
		if (shortest == SIZE_MAX)
			return sh_error("no records in the data");
		return sh_error("audio too short for one example: records of %zu samples or fewer, the "
				"model's examples are %d (%.2f s); cut with wavchunk -l %g",
				shortest, d->n, (double)d->n / c->sample_rate, (double)d->n / c->sample_rate);
	}
	double peak = 0;
	uint64_t h = SH_FNV_INIT;
	for (size_t i = 0; i < (size_t)d->nex * d->n; i++)
		peak = SH_MAX(peak, fabs(d->audio[i]));
	h = sh_fnv1a(h, d->audio, (size_t)d->nex * d->n * sizeof(float));
	d->fingerprint = h;
	if (peak < SILENCE_PEAK)
		return sh_error("silence only (peak %.3g, below -80 dBFS)", peak);
	return 0;
}

static int features_from_cache(ddsp_data *d, const ddsp_config *c, const char *cache)
{
	st_file sf;
	struct stat st;
	if (stat(cache, &st) < 0 || st_load(cache, &sf) < 0)
		return 0;
	char want[32];
	snprintf(want, sizeof want, "%016llx", (unsigned long long)d->fingerprint);
	const char *fp = st_meta(&sf, "data_fingerprint");
	long hop = 0, rate = 0;
	const char *vs = st_meta(&sf, "voiced"), *fm = st_meta(&sf, "f0_midi_mean"),
		   *lm = st_meta(&sf, "loudness_db_mean");
	int ok = fp && !strcmp(fp, want) && vs && fm && lm && !st_meta_long(&sf, "hop", 1, 1 << 20, &hop) &&
		 hop == c->hop && !st_meta_long(&sf, "sample_rate", 1, 1 << 30, &rate) && rate == c->sample_rate &&
		 !st_read_f32(&sf, "f0_hz", d->f0, (size_t)d->nex * d->T) &&
		 !st_read_f32(&sf, "loudness_db", d->ld, (size_t)d->nex * d->T);
	if (ok)
		d->voiced = atof(vs), d->f0_midi = atof(fm), d->ld_db = atof(lm);
	st_free(&sf);
	return ok;
}

int ddsp_data_features(ddsp_data *d, const ddsp_config *c, const char *cache)
{
	const size_t nf = (size_t)d->nex * d->T;
	const int rank = dist_rank(), nranks = dist_size();
	d->f0 = malloc(nf * sizeof(float));
	d->ld = malloc(nf * sizeof(float));
	float *voiced = malloc(nf * sizeof(float)), *conf = malloc(d->T * sizeof(float));
	int failed = !d->f0 || !d->ld || !voiced || !conf ? sh_error("out of memory") : 0;
	/* under mpirun rank 0 alone reads the cache (the run directory is on its machine) */
	int cached = !failed && cache && !rank && features_from_cache(d, c, cache);
	if (nranks > 1) { /* rank 0's features to every rank */
		int agreed = dist_max_int(2 * failed + cached);
		cached = agreed & 1;
		if (agreed & 2)
			failed = failed ? failed : sh_error("another rank ran out of memory");
		double stats[3] = {d->voiced, d->f0_midi, d->ld_db};
		if (!failed && cached &&
		    (dist_bcast(d->f0, nf * sizeof(float), 0) < 0 || dist_bcast(d->ld, nf * sizeof(float), 0) < 0 ||
		     dist_bcast(stats, sizeof stats, 0) < 0))
			failed = -1;
		d->voiced = stats[0], d->f0_midi = stats[1], d->ld_db = stats[2];
	}
	long nvoiced = 0;
	if (!failed && !cached) {
		ddsp_analysis_opts ao;
		ddsp_analysis_defaults(&ao);
		ao.sr = c->sample_rate, ao.hop = c->hop;
		ddsp_analyzer *a = ddsp_analyzer_new(&ao);
		failed = a ? 0 : -1;
		/* this rank's share of the examples (all of them in one process) */
		for (int e = d->nex * rank / nranks; !failed && e < d->nex * (rank + 1) / nranks; e++) {
			const float *x = d->audio + (size_t)e * d->n;
			float *f0 = d->f0 + (size_t)e * d->T, *ld = d->ld + (size_t)e * d->T;
			if (ddsp_f0_yin(a, x, d->n, d->T, f0, voiced + (size_t)e * d->T, conf) < 0 ||
			    ddsp_loudness(a, x, d->n, d->T, ld) < 0)
				failed = -1;
		}
		ddsp_analyzer_free(a);
		if (nranks > 1 && dist_max_int(failed != 0) && !failed)
			failed = sh_error("another rank could not analyse its examples");
		/* every rank's share to every rank, in rank order */
		for (int r = 0; !failed && r < nranks && nranks > 1; r++) {
			size_t e0 = (size_t)d->nex * r / nranks, ne = (size_t)d->nex * (r + 1) / nranks - e0;
			size_t o = e0 * d->T, bytes = ne * d->T * sizeof(float);
			if (dist_bcast(d->f0 + o, bytes, r) < 0 || dist_bcast(d->ld + o, bytes, r) < 0 ||
			    dist_bcast(voiced + o, bytes, r) < 0)
				failed = -1;
		}
		double sm = 0, sl = 0;
		for (size_t i = 0; !failed && i < nf; i++)
			if (voiced[i] > 0) {
				nvoiced++;
				sm += 12 * log2(d->f0[i] / 440.0) + 69;
				sl += d->ld[i];
			}
		d->f0_midi = nvoiced ? sm / nvoiced : 0;
		d->ld_db = nvoiced ? sl / nvoiced : 0;
		d->voiced = (double)nvoiced / nf;
	} else if (!failed) {
		nvoiced = (long)(d->voiced * nf + 0.5);
	}
	free(voiced), free(conf);
	if (failed)
		return -1;
	d->cached = cached;
	if (!nvoiced)
		return sh_error("no voiced frames: YIN found no pitch in the audio (not monophonic, or "
				"noise only)");
	return 0;
}

int ddsp_data_save_features(const ddsp_data *d, const ddsp_config *c, const char *cache)
{
	st_writer w;
	st_writer_init(&w);
	int64_t shape[2] = {d->nex, d->T};
	char v[32];
	snprintf(v, sizeof v, "%016llx", (unsigned long long)d->fingerprint);
	int rc = st_add_f32(&w, "f0_hz", 2, shape, d->f0) | st_add_f32(&w, "loudness_db", 2, shape, d->ld) |
		 st_set_meta(&w, "data_fingerprint", v) | st_set_meta(&w, "f0", "yin");
	snprintf(v, sizeof v, "%d", c->hop);
	rc |= st_set_meta(&w, "hop", v);
	snprintf(v, sizeof v, "%d", c->sample_rate);
	rc |= st_set_meta(&w, "sample_rate", v);
	snprintf(v, sizeof v, "%.17g", d->voiced);
	rc |= st_set_meta(&w, "voiced", v);
	snprintf(v, sizeof v, "%.17g", d->f0_midi);
	rc |= st_set_meta(&w, "f0_midi_mean", v);
	snprintf(v, sizeof v, "%.17g", d->ld_db);
	rc |= st_set_meta(&w, "loudness_db_mean", v);
	if (!rc)
		rc = st_save(&w, cache);
	st_writer_free(&w);
	return rc ? sh_error_prefix("%s", cache) : 0;
}

int ddsp_data_split(ddsp_data *d, uint64_t seed, const double pct[3])
{
	int *all = malloc(d->nex * sizeof *all);
	d->train = malloc(d->nex * sizeof *d->train);
	d->valid = malloc(d->nex * sizeof *d->valid);
	if (!all || !d->train || !d->valid) {
		free(all);
		return sh_error("out of memory");
	}
	for (int i = 0; i < d->nex; i++)
		all[i] = i;
	sh_rng r;
	sh_rng_seed_stream(&r, seed, 0xda7a);
	sh_rng_shuffle(&r, all, d->nex);
	d->nvalid = (int)floor(d->nex * pct[1] / 100);
	d->ntrain = (int)floor(d->nex * pct[0] / 100 + 1e-9);
	if (d->ntrain < 1)
		d->ntrain = 1;
	if (d->ntrain + d->nvalid > d->nex)
		d->nvalid = d->nex - d->ntrain;
	memcpy(d->valid, all, d->nvalid * sizeof *all);
	memcpy(d->train, all + d->nvalid, d->ntrain * sizeof *all);
	free(all);
	return 0;
}

/* ---- the run ---- */

int ddsp_run_init(ddsp_run *r, const ddsp_train_opts *o, const ddsp_data *d)
{
	memset(r, 0, sizeof *r);
	r->opt = *o;
	const int B = o->model.batch;
	r->rank = dist_rank(), r->nranks = dist_size();
	if (B % r->nranks)
		return sh_error("--batch %d does not divide among %d ranks", B, r->nranks);
	r->rows = B / r->nranks, r->row0 = r->rank * r->rows;
	r->m = ddsp_net_new(&o->model, r->rows, ddsp_frames(&o->model));
	if (!r->m)
		return -1;
	ddsp_net_init_params(r->m, o->seed);
	r->nparams = ddsp_net_num_params(r->m);
	r->adam_m = sh_alloc(r->nparams * sizeof(float));
	r->adam_v = sh_alloc(r->nparams * sizeof(float));
	r->norm_parts = sh_alloc(trn_norm_parts(r->nparams) * sizeof(double));
	r->order = sh_alloc(SH_MAX(d->ntrain, 1) * sizeof(int));
	r->bf0 = sh_alloc((size_t)r->rows * d->T * sizeof(float));
	r->bld = sh_alloc((size_t)r->rows * d->T * sizeof(float));
	r->baudio = sh_alloc((size_t)r->rows * d->n * sizeof(float));
	if (!r->adam_m || !r->adam_v || !r->norm_parts || !r->order || !r->bf0 || !r->bld || !r->baudio) {
		ddsp_run_free(r);
		return -1;
	}
	r->best = INFINITY;
	return 0;
}

void ddsp_run_free(ddsp_run *r)
{
	ddsp_net_free(r->m);
	free(r->adam_m), free(r->adam_v), free(r->norm_parts), free(r->order), free(r->bf0), free(r->bld),
		free(r->baudio);
	memset(r, 0, sizeof *r);
}

double ddsp_run_lr(const ddsp_run *r)
{
	return r->opt.lr * pow(r->opt.decay_rate, (double)r->step / r->opt.decay_steps);
}

double ddsp_run_epoch(const ddsp_run *r, const ddsp_data *d)
{
	return r->epoch + (double)r->pos / SH_MAX(d->ntrain, 1);
}

/* Epoch e's order of the training examples: a shuffle of its own stream of the seed, so that
 * a resumed run needs only the epoch and the position. */
static void epoch_order(ddsp_run *r, const ddsp_data *d)
{
	sh_rng g;
	memcpy(r->order, d->train, d->ntrain * sizeof(int));
	sh_rng_seed_stream(&g, r->opt.seed, 1000 + (uint64_t)r->epoch);
	sh_rng_shuffle(&g, r->order, d->ntrain);
}

static void gather(ddsp_run *r, const ddsp_data *d, int b, int e)
{
	memcpy(r->bf0 + (size_t)b * d->T, d->f0 + (size_t)e * d->T, d->T * sizeof(float));
	memcpy(r->bld + (size_t)b * d->T, d->ld + (size_t)e * d->T, d->T * sizeof(float));
	memcpy(r->baudio + (size_t)b * d->n, d->audio + (size_t)e * d->n, d->n * sizeof(float));
}

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double ddsp_run_step(ddsp_run *r, const ddsp_data *d)
{
	const int B = r->opt.model.batch;
	uint64_t seeds[4096];
	if (r->pos == 0)
		epoch_order(r, d);
	/* every rank deals the whole batch (the same position everywhere) and keeps its rows */
	for (int b = 0; b < B; b++) {
		const int i = b - r->row0;
		if (i >= 0 && i < r->rows) {
			gather(r, d, i, r->order[r->pos]);
			seeds[i] = mix(r->opt.seed * 0x9e3779b97f4a7c15ULL + (uint64_t)r->step * B + b);
		}
		if (++r->pos == d->ntrain) {
			r->pos = 0;
			r->epoch++;
			epoch_order(r, d);
		}
	}
	float *g = ddsp_net_grads(r->m);
	memset(g, 0, r->nparams * sizeof(float));
	double loss = ddsp_net_run(r->m, r->bf0, r->bld, r->baudio, r->rows, seeds, NULL, 1);
	double lr = ddsp_run_lr(r);
	const trn_update_opts o = {r->opt.clip > 0 ? TRN_CLIP_NORM : TRN_CLIP_NONE,
				   r->opt.clip,
				   lr,
				   r->opt.beta1,
				   r->opt.beta2,
				   r->opt.eps};
	loss = trn_update(ddsp_net_params(r->m), g, r->adam_m, r->adam_v, r->nparams, r->norm_parts, loss, r->rows, B,
			  &o, r->step + 1, &r->reduce_seconds);
	if (!isfinite(loss))
		return loss;
	r->step++;
	r->log_loss += loss;
	r->log_steps++;
	return loss;
}

double ddsp_run_evaluate(ddsp_run *r, const ddsp_data *d, const int *idx, int n, volatile sig_atomic_t *stop)
{
	/* groups of up to this rank's rows; ranks take the groups in turn */
	const int B = r->rows;
	uint64_t seeds[4096];
	double total = 0;
	if (n <= 0)
		return NAN;
	if (r->nranks > 1)
		stop = NULL; /* every rank must take part in the sum below */
	for (int i = 0, k = 0; i < n; i += B, k++) {
		if (stop && *stop)
			return NAN;
		if (k % r->nranks != r->rank)
			continue;
		int g = SH_MIN(B, n - i);
		for (int b = 0; b < g; b++) {
			gather(r, d, b, idx[i + b]);
			seeds[b] = mix(0x5eed0000ULL + idx[i + b]);
		}
		double loss = ddsp_net_run(r->m, r->bf0, r->bld, r->baudio, g, seeds, NULL, 0);
		total += loss * g;
	}
	if (dist_allreduce_sum_f64(&total, 1) < 0)
		return NAN;
	return total / n;
}

/* ---- checkpoints ---- */

static int set_meta_num(st_writer *w, const char *key, const char *fmt, double v)
{
	char s[64];
	snprintf(s, sizeof s, fmt, v);
	return st_set_meta(w, key, s);
}

int ddsp_save(const ddsp_run *r, const ddsp_data *d, const char *path)
{
	const ddsp_train_opts *o = &r->opt;
	st_writer w;
	st_writer_init(&w);
	const nn_param *p;
	int np = 0;
	while (ddsp_net_param_info(r->m, np))
		np++;
	char *names = malloc((size_t)np * 2 * (PARAM_NAME_MAX + 8));
	float *params = ddsp_net_params(r->m);
	int rc = names ? 0 : sh_error("out of memory");
	for (int i = 0; !rc && (p = ddsp_net_param_info(r->m, i)); i++) {
		char *mn = names + (size_t)i * 2 * (PARAM_NAME_MAX + 8), *vn = mn + PARAM_NAME_MAX + 8;
		snprintf(mn, PARAM_NAME_MAX + 8, "adam.m.%s", p->name);
		snprintf(vn, PARAM_NAME_MAX + 8, "adam.v.%s", p->name);
		rc = st_add_f32(&w, p->name, p->ndim, p->shape, params + p->offset) |
		     st_add_f32(&w, mn, p->ndim, p->shape, r->adam_m + p->offset) |
		     st_add_f32(&w, vn, p->ndim, p->shape, r->adam_v + p->offset);
	}
	char fp[32], split[96];
	snprintf(fp, sizeof fp, "%016llx", (unsigned long long)d->fingerprint);
	snprintf(split, sizeof split, "%.17g,%.17g,%.17g", o->split[0], o->split[1], o->split[2]);
	if (!rc)
		rc = ddsp_config_to_meta(&o->model, &w) | st_set_meta(&w, "format", "sharks") |
		     set_meta_num(&w, "lr", "%.17g", o->lr) | set_meta_num(&w, "adam_beta1", "%.17g", o->beta1) |
		     set_meta_num(&w, "adam_beta2", "%.17g", o->beta2) | set_meta_num(&w, "adam_eps", "%.17g", o->eps) |
		     set_meta_num(&w, "lr_decay_rate", "%.17g", o->decay_rate) |
		     set_meta_num(&w, "lr_decay_steps", "%.17g", o->decay_steps) |
		     set_meta_num(&w, "clip_value", "%.17g", o->clip) |
		     set_meta_num(&w, "seed", "%.0f", (double)o->seed) | st_set_meta(&w, "split", split) |
		     set_meta_num(&w, "step", "%.0f", (double)r->step) |
		     set_meta_num(&w, "epoch", "%.0f", (double)r->epoch) |
		     set_meta_num(&w, "position", "%.0f", (double)r->pos) | set_meta_num(&w, "best", "%.17g", r->best) |
		     st_set_meta(&w, "data_fingerprint", fp) | set_meta_num(&w, "examples", "%.0f", (double)d->nex) |
		     set_meta_num(&w, "data_f0_midi", "%.17g", d->f0_midi) |
		     set_meta_num(&w, "data_loudness_db", "%.17g", d->ld_db);
	if (!rc)
		rc = st_save(&w, path);
	st_writer_free(&w);
	free(names);
	return rc ? -1 : 0;
}

static int meta_double(const st_file *sf, const char *key, double *v)
{
	const char *s = st_meta(sf, key);
	char *end;
	if (!s)
		return sh_error("no '%s' in the checkpoint's metadata", key);
	*v = strtod(s, &end);
	if (end == s || *end)
		return sh_error("bad '%s' in the checkpoint's metadata: '%s'", key, s);
	return 0;
}

int ddsp_meta_options(const st_file *sf, ddsp_train_opts *o)
{
	memset(o, 0, sizeof *o);
	if (ddsp_config_from_meta(sf, &o->model) < 0)
		return -1;
	long seed;
	const char *split = st_meta(sf, "split");
	if (meta_double(sf, "lr", &o->lr) || meta_double(sf, "adam_beta1", &o->beta1) ||
	    meta_double(sf, "adam_beta2", &o->beta2) || meta_double(sf, "adam_eps", &o->eps) ||
	    meta_double(sf, "lr_decay_rate", &o->decay_rate) || meta_double(sf, "lr_decay_steps", &o->decay_steps) ||
	    meta_double(sf, "clip_value", &o->clip) || st_meta_long(sf, "seed", 0, LONG_MAX, &seed) < 0)
		return -1;
	if (!split || sscanf(split, "%lf,%lf,%lf", &o->split[0], &o->split[1], &o->split[2]) != 3)
		return sh_error("bad 'split' in the checkpoint's metadata");
	o->seed = (uint64_t)seed;
	return 0;
}

int ddsp_load_params(ddsp_net *m, const st_file *sf)
{
	const nn_param *p;
	float *params = ddsp_net_params(m);
	for (int i = 0; (p = ddsp_net_param_info(m, i)); i++)
		if (st_read_f32(sf, p->name, params + p->offset, p->count) < 0)
			return -1;
	return 0;
}

int ddsp_load(ddsp_run *r, const ddsp_data *d, const st_file *sf)
{
	char fp[32], name[PARAM_NAME_MAX + 8];
	snprintf(fp, sizeof fp, "%016llx", (unsigned long long)d->fingerprint);
	const char *have = st_meta(sf, "data_fingerprint");
	if (!have || strcmp(have, fp))
		return sh_error("checkpoint was trained on other data (fingerprint %s, this data %s)",
				have ? have : "(none)", fp);
	long step, epoch, pos;
	if (st_meta_long(sf, "step", 0, LONG_MAX, &step) < 0 || st_meta_long(sf, "epoch", 0, LONG_MAX, &epoch) < 0 ||
	    st_meta_long(sf, "position", 0, d->ntrain - 1, &pos) < 0 || meta_double(sf, "best", &r->best) < 0 ||
	    ddsp_load_params(r->m, sf) < 0)
		return -1;
	const nn_param *p;
	for (int i = 0; (p = ddsp_net_param_info(r->m, i)); i++) {
		snprintf(name, sizeof name, "adam.m.%s", p->name);
		if (st_read_f32(sf, name, r->adam_m + p->offset, p->count) < 0)
			return -1;
		snprintf(name, sizeof name, "adam.v.%s", p->name);
		if (st_read_f32(sf, name, r->adam_v + p->offset, p->count) < 0)
			return -1;
	}
	r->step = step, r->epoch = epoch, r->pos = (int)pos;
	if (r->pos)
		epoch_order(r, d);
	return 0;
}

/* ---- clips ---- */

int ddsp_write_clips(ddsp_run *r, const ddsp_data *d, const int *idx, int n, const char *dir)
{
	const int B = r->rows, rate = r->opt.model.sample_rate; /* the examples the model takes at once */
	uint64_t seeds[4096];
	char path[4096];
	float *audio = malloc((size_t)B * d->n * sizeof(float));
	if (!audio)
		return sh_error("out of memory");
	for (int i = 0; i < n; i += B) {
		int g = SH_MIN(B, n - i);
		for (int b = 0; b < g; b++) {
			gather(r, d, b, idx[i + b]);
			seeds[b] = mix(0x5eed0000ULL + idx[i + b]);
		}
		if (isnan(ddsp_net_run(r->m, r->bf0, r->bld, NULL, g, seeds, audio, 0)))
			goto fail;
		for (int b = 0; b < g; b++) {
			snprintf(path, sizeof path, "%s/step%07ld_%d.wav", dir, r->step, i + b);
			if (audio_write_file(path, rate, AUDIO_WAV16, audio + (size_t)b * d->n, d->n) < 0)
				goto fail;
			snprintf(path, sizeof path, "%s/real_%d.wav", dir, i + b);
			struct stat st;
			if (stat(path, &st) < 0 &&
			    audio_write_file(path, rate, AUDIO_WAV16, d->audio + (size_t)idx[i + b] * d->n, d->n) < 0)
				goto fail;
		}
	}
	free(audio);
	return 0;
fail:
	free(audio);
	return -1;
}

/* ---- timbre transfer ---- */

int ddsp_render(ddsp_net *m, const float *f0_hz, const float *loudness_db, int F, size_t n, uint64_t seed, float *out)
{
	const ddsp_config *c = ddsp_net_config(m);
	const int K = c->n_harmonics, B = c->n_bands, G = c->gru;
	const size_t N = (size_t)F * c->hop;
	if (n > N)
		return sh_error("render: %zu samples from %d frames of %d", n, F, c->hop);
	ddsp_controls ctl = {.n_frames = F, .n_harmonics = K, .n_bands = B};
	float *h = calloc(G, sizeof(float)), *y = calloc(N, sizeof(float));
	ctl.f0_hz = (float *)f0_hz;
	ctl.amplitude = malloc((size_t)F * sizeof(float));
	ctl.harmonics = malloc((size_t)F * K * sizeof(float));
	ctl.noise = malloc((size_t)F * B * sizeof(float));
	ddsp_synth *s = NULL;
	ddsp_fft *fft = NULL;
	int rc = -1;
	if (!h || !y || !ctl.amplitude || !ctl.harmonics || !ctl.noise) {
		sh_error("out of memory");
		goto done;
	}
	for (int t0 = 0; t0 < F; t0 += DDSP_RENDER_CHUNK) {
		int T = SH_MIN(DDSP_RENDER_CHUNK, F - t0);
		if (ddsp_net_decode(m, f0_hz + t0, loudness_db + t0, 1, T, h, ctl.amplitude + t0,
				    ctl.harmonics + (size_t)t0 * K, ctl.noise + (size_t)t0 * B) < 0)
			goto done;
	}
	if (!(s = ddsp_synth_new(c->sample_rate, c->hop, K, B)) || ddsp_synthesize(s, y, &ctl, seed) < 0)
		goto done;
	const float *ir = NULL;
	for (int i = 0; ddsp_net_param_info(m, i); i++)
		if (!strcmp(ddsp_net_param_info(m, i)->name, "reverb.ir"))
			ir = ddsp_net_params(m) + ddsp_net_param_info(m, i)->offset;
	if (ir) {
		if (!(fft = ddsp_fft_new(n, c->reverb)))
			goto done;
		ddsp_reverb_forward(fft, out, y, ir);
	} else {
		memcpy(out, y, n * sizeof(float));
	}
	rc = 0;
done:
	ddsp_synth_free(s);
	ddsp_fft_free(fft);
	free(h), free(y), free(ctl.amplitude), free(ctl.harmonics), free(ctl.noise);
	return rc;
}
