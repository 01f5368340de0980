/* runlog.c: the run directory of qtrain (see runlog.h): the log rows (log.tsv), the loss plot,
 * the library versions of the run record (version.h's), and the checkpoint step that writes last.safetensors,
 * best.safetensors and the log together. */
#include "runlog.h"
#include "blas.h"
#include "checkpoint.h"
#include "fad.h"
#include "json.h"
#include "mulaw.h"
#include "plot.h"
#include "util.h"
#include "version.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- log, plot, run record ---- */

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
	int rc = l->metric ? plot_lines_png(path, 800, 500, "qtrain: multi-scale spectral loss", "step", "loss", s, 2)
			   : plot_lines_png(path, 800, 500, "qtrain: cross-entropy", "step", "bits per sample", s, 2);
	free(x), free(tr), free(va);
	return rc;
}

void trn_lib_versions_json(json_writer *w)
{
	const sh_lib_version *v;
	int n = sh_lib_versions(&v);
	for (int i = 0; i < n; i++)
		jw_str(w, v[i].name, v[i].version);
	jw_str(w, "openblas_core", blas_core_name()); /* the kernels it runs (lib/blas.c) */
	const char *spin = getenv("GOMP_SPINCOUNT"), *policy = getenv("OMP_WAIT_POLICY");
	jw_str(w, "omp_wait", policy ? policy : spin ? "" : "default");
	if (spin)
		jw_str(w, "gomp_spincount", spin);
}

/* dst becomes another name of the file just written as last.safetensors (a hard link,
 * renamed into place: atomic and without a second write); a copy where links fail. */
static int link_last(const trn_run *t, const trn_data *d, const char *last, const char *dst)
{
	char tmp[4096];
	sh_tmp_name(tmp, sizeof tmp, dst);
	remove(tmp);
	if (!link(last, tmp)) {
		if (!rename(tmp, dst))
			return 0;
		remove(tmp);
	}
	return trn_save(t, d, dst);
}

int trn_keep_milestone(const trn_run *t, const trn_data *d, const char *rundir)
{
	char last[4096], dst[4096];
	snprintf(last, sizeof last, "%s/last.safetensors", rundir);
	snprintf(dst, sizeof dst, "%s/step%07ld.safetensors", rundir, t->step);
	return link_last(t, d, last, dst);
}

int trn_checkpoint(trn_run *t, const trn_data *d, const char *rundir, trn_log *log, int full, double seconds,
		   double samples_per_s, volatile sig_atomic_t *stop, trn_log_row *row)
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
	row->fad = NAN;
	if (full)
		row->valid_bits = trn_evaluate(t, d, d->valid, d->nvalid, stop);
	if (full && stop && *stop) {
		full = 0; /* interrupted while validating: the row without validation */
		row->valid_bits = NAN;
	} else if (full && d->nvalid && !isfinite(row->valid_bits)) {
		return 1; /* the parameters are no good: keep the previous checkpoint */
	}
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
	/* under mpirun: every rank's rows of the carried state and slices of Adam's moments, then
	 * rank 0 alone writes */
	if (trn_state_gather(t) < 0 || trn_moments_gather(t->adam_m, t->adam_v, t->nparams) < 0)
		return -1;
	if (t->rank)
		return 0;
	if (trn_save(t, d, last) < 0)
		return -1;
	if (improved && link_last(t, d, last, best) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/log.tsv", rundir);
	return trn_log_append(log, row) < 0 || trn_log_write(log, path) < 0 ? -1 : 0;
}

/* ---- distance of the clips to held-out audio ---- */

struct fad_stats *trn_heldout_stats(const trn_run *t, const trn_data *d)
{
	const int *recs = d->nvalid ? d->valid : d->test;
	int n = d->nvalid ? d->nvalid : d->ntest, mode = trn_quant_mode(t->opt.quantization);
	if (!n)
		return sh_error("no held-out records (valid or test) to compare the clips with"), NULL;
	mulaw_quantiser q;
	if (mode < 0 || mulaw_init(&q, (mulaw_mode)mode, model_levels(&t->opt.model)) < 0)
		return NULL;
	fad_stats *s = fad_new();
	float *x = NULL;
	int rc = s ? 0 : -1;
	for (int i = 0; i < n && !rc; i++) {
		int r = recs[i];
		float *nx = realloc(x, (d->len[r] ? d->len[r] : 1) * sizeof *x);
		if (!nx) {
			rc = sh_error("out of memory");
			break;
		}
		x = nx;
		rc = mulaw_decode_u16(&q, d->codes + d->start[r], d->len[r], x) < 0 ||
				     fad_add_samples(s, x, d->len[r], t->opt.sample_rate) < 0
			     ? -1
			     : 0;
	}
	free(x);
	mulaw_free(&q);
	if (rc) {
		fad_free(s);
		return NULL;
	}
	return s;
}

double trn_log_clip_distance(trn_log *log, const char *rundir, long step, int n, const struct fad_stats *ref)
{
	fad_stats *s = fad_new();
	if (!s)
		return NAN;
	char path[4096];
	for (int k = 0; k < n; k++) {
		snprintf(path, sizeof path, "%s/samples/step%07ld_%d.wav", rundir, step, k);
		if (fad_add_file(s, path) < 0) {
			fad_free(s);
			return NAN;
		}
	}
	double dist = fad_distance(ref, s);
	fad_free(s);
	if (isnan(dist))
		return NAN;
	if (!log->n || log->rows[log->n - 1].step != step)
		return dist;
	log->rows[log->n - 1].fad = dist;
	snprintf(path, sizeof path, "%s/log.tsv", rundir);
	if (trn_log_write(log, path) < 0)
		return NAN;
	/* the distance over the steps, beside loss.png */
	double *x = malloc(log->n * sizeof *x), *y = malloc(log->n * sizeof *y);
	int m = 0;
	for (int i = 0; x && y && i < log->n; i++)
		if (!isnan(log->rows[i].fad)) {
			x[m] = log->rows[i].step;
			y[m++] = log->rows[i].fad;
		}
	plot_series ps = {"clips vs held-out audio", x, y, m, {0.2, 0.55, 0.25}};
	snprintf(path, sizeof path, "%s/fad.png", rundir);
	int rc = x && y ? plot_lines_png(path, 800, 500, "qtrain: Fréchet distance of log-mel statistics", "step",
					 "distance (lower is closer)", &ps, 1)
			: sh_error("out of memory");
	free(x), free(y);
	return rc < 0 ? NAN : dist;
}
