/* train_data.c: the training data of qtrain (see train_data.h): code records read from tensor
 * streams, checked against the model, shuffled and split with the seed, and fed to the rows
 * of a batch as truncated-BPTT windows. */
#include "train_data.h"
#include "npy.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	size_t bytes;
	if (!sh_mul_size(n, size, &bytes))
		return -1;
	void *q = realloc(*p, bytes);
	if (!q)
		return sh_error("out of memory (%zu bytes)", bytes);
	*p = q;
	*cap = n;
	return 0;
}

/* The per-record arrays grow together, to hold one more record. */
static int grow_records(trn_data *d)
{
	if ((size_t)d->nrec < d->reccap)
		return 0;
	size_t n = d->reccap ? 2 * d->reccap : 64;
	size_t *start = realloc(d->start, n * sizeof *start);
	if (start)
		d->start = start;
	size_t *len = realloc(d->len, n * sizeof *len);
	if (len)
		d->len = len;
	int *file = realloc(d->file, n * sizeof *file);
	if (file)
		d->file = file;
	long *index = realloc(d->index, n * sizeof *index);
	if (index)
		d->index = index;
	if (!start || !len || !file || !index)
		return sh_error("out of memory");
	d->reccap = n;
	return 0;
}

int trn_data_add_file(trn_data *d, const char *path)
{
	FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "rb");
	if (!f)
		return sh_error("%s", strerror(errno));
	char **files = realloc(d->files, (d->nfiles + 1) * sizeof *files);
	if (!files) {
		if (f != stdin)
			fclose(f);
		return sh_error("out of memory");
	}
	d->files = files;
	d->files[d->nfiles] = strdup(path);
	int fileno_ = d->nfiles++;
	npy_record rec = {0};
	int rc;
	while ((rc = npy_read_record(f, &rec)) > 0) {
		const npy_header *h = &rec.h;
		if (h->dtype != SH_U8 && h->dtype != SH_U16) {
			rc = sh_error("record %ld: dtype %s is not a code record (want |u1 or <u2 from mulaw)",
				      rec.index, sh_dtype_descr(h->dtype));
			break;
		}
		if (npy_check_rate(h, &d->rate, 0) < 0) {
			rc = sh_error_prefix("record %ld", rec.index);
			break;
		}
		if (h->ndim != 1) {
			rc = sh_error("record %ld: %d-dimensional; code records are one-dimensional", rec.index,
				      h->ndim);
			break;
		}
		if (grow_records(d) < 0 ||
		    grow((void **)&d->codes, &d->cap, d->total + h->count, sizeof *d->codes) < 0) {
			rc = -1;
			break;
		}
		uint16_t *dst = d->codes + d->total;
		for (size_t i = 0; i < h->count; i++) {
			uint16_t c = h->dtype == SH_U8 ? ((const uint8_t *)rec.data)[i]
						       : (uint16_t)(((const uint8_t *)rec.data)[2 * i] |
								    ((const uint8_t *)rec.data)[2 * i + 1] << 8);
			dst[i] = c;
			if (c > d->max_code)
				d->max_code = c;
		}
		uint64_t len64 = h->count;
		d->fingerprint = sh_fnv1a(d->nrec ? d->fingerprint : SH_FNV_INIT, &len64, 8);
		for (size_t i = 0; i < h->count; i++) {
			unsigned char le[2] = {(unsigned char)(dst[i] & 0xff), (unsigned char)(dst[i] >> 8)};
			d->fingerprint = sh_fnv1a(d->fingerprint, le, 2);
		}
		d->start[d->nrec] = d->total;
		d->len[d->nrec] = h->count;
		d->file[d->nrec] = fileno_;
		d->index[d->nrec] = rec.index;
		d->nrec++;
		d->total += h->count;
	}
	npy_record_free(&rec);
	if (f != stdin)
		fclose(f);
	return rc < 0 ? -1 : 0;
}

int trn_data_check(const trn_data *d, int levels, int seq, int *bad)
{
	for (int r = 0; r < d->nrec; r++) {
		*bad = r;
		const uint16_t *c = d->codes + d->start[r];
		for (size_t i = 0; i < d->len[r]; i++)
			if (c[i] >= levels)
				return sh_error("record %ld: code %u at sample %zu is out of range for %d levels",
						d->index[r], c[i], i, levels);
		if (d->len[r] < (size_t)seq)
			return sh_error("record %ld: %zu codes, shorter than one window of %d (--seq)", d->index[r],
					d->len[r], seq);
	}
	*bad = -1;
	return 0;
}

static int share(int n, double pct)
{
	int k = (int)(n * pct / 100 + 0.5);
	if (pct > 0 && k == 0 && n >= 3)
		k = 1;
	return k;
}

int trn_data_split(trn_data *d, uint64_t seed, const double pct[3])
{
	int n = d->nrec;
	free(d->train);
	d->train = sh_alloc((size_t)(n ? n : 1) * sizeof *d->train);
	if (!d->train)
		return -1;
	for (int i = 0; i < n; i++)
		d->train[i] = i;
	sh_rng rng;
	sh_rng_seed_stream(&rng, seed, 1);
	sh_rng_shuffle(&rng, d->train, n);
	d->nvalid = share(n, pct[1]);
	d->ntest = share(n, pct[2]);
	if (d->nvalid + d->ntest >= n)
		d->nvalid = d->ntest = 0;
	d->ntrain = n - d->nvalid - d->ntest;
	/* the shuffled list is train, then valid, then test */
	d->valid = d->train + d->ntrain;
	d->test = d->valid + d->nvalid;
	if (d->ntrain < 1)
		return sh_error("no training records (the data holds %d)", n);
	return 0;
}

void trn_data_free(trn_data *d)
{
	for (int i = 0; i < d->nfiles; i++)
		free(d->files[i]);
	free(d->files);
	free(d->codes);
	free(d->start);
	free(d->len);
	free(d->file);
	free(d->index);
	free(d->train);
	memset(d, 0, sizeof *d);
}

void trn_window_row(const trn_data *d, int r, int w, int history, int seq, int levels, uint16_t *row)
{
	const uint16_t *rec = d->codes + d->start[r];
	long first = (long)w * seq - history;
	for (int j = 0; j < history + seq; j++) {
		long pos = first + j;
		row[j] = pos < 0 ? (uint16_t)(levels / 2) : rec[pos];
	}
}

int trn_feed_init(trn_feed *f, const trn_data *d, int batch, int history, int seq, int levels, uint64_t seed)
{
	memset(f, 0, sizeof *f);
	f->batch = batch, f->history = history, f->seq = seq, f->levels = levels;
	f->lane_rec = sh_alloc(batch * sizeof *f->lane_rec);
	f->lane_win = sh_alloc(batch * sizeof *f->lane_win);
	f->order = sh_alloc((size_t)(d->ntrain ? d->ntrain : 1) * sizeof *f->order);
	if (!f->lane_rec || !f->lane_win || !f->order) {
		trn_feed_free(f);
		return -1;
	}
	for (int b = 0; b < batch; b++)
		f->lane_rec[b] = -1;
	f->norder = d->ntrain;
	memcpy(f->order, d->train, d->ntrain * sizeof *f->order);
	sh_rng_seed_stream(&f->rng, seed, 2);
	sh_rng_shuffle(&f->rng, f->order, f->norder);
	return 0;
}

void trn_feed_free(trn_feed *f)
{
	free(f->lane_rec);
	free(f->lane_win);
	free(f->order);
	memset(f, 0, sizeof *f);
}

void trn_feed_next(trn_feed *f, const trn_data *d, uint16_t *codes, unsigned char *reset)
{
	int row = f->history + f->seq;
	for (int b = 0; b < f->batch; b++) {
		reset[b] = 0;
		if (f->lane_rec[b] < 0 || f->lane_win[b] >= trn_data_windows(d, f->lane_rec[b], f->seq)) {
			if (f->cursor == f->norder) {
				f->epoch++;
				f->cursor = 0;
				sh_rng_shuffle(&f->rng, f->order, f->norder);
			}
			f->lane_rec[b] = f->order[f->cursor++];
			f->lane_win[b] = 0;
			reset[b] = 1;
		}
		trn_window_row(d, f->lane_rec[b], f->lane_win[b], f->history, f->seq, f->levels,
			       codes + (size_t)b * row);
		f->lane_win[b]++;
	}
}

double trn_feed_epoch(const trn_feed *f) { return f->epoch + (f->norder ? (double)f->cursor / f->norder : 0); }
