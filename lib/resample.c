/* resample.c: streaming resampling through libsoxr (see resample.h). What is ours is the
 * contract around it: input pulled through a callback, the end of the input padded with zeros
 * so that soxr's rounded output count can be cut to exactly ceil(n_in·out/in), and errors
 * recorded the library's way. */
#include "resample.h"
#include "util.h"

#include <math.h>
#include <soxr.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 4096

struct resampler {
	soxr_t soxr;
	int in_rate, out_rate;
	int64_t n_in, n_out; /* input samples pulled, output samples given */
	int64_t target;      /* outputs in all, known once the input has ended (-1 before) */
	int64_t pad;         /* zeros still to feed after the input's end */
	int flushed;         /* soxr told that the input has ended */
	size_t len, pos;     /* input block: buf[pos..len) not yet taken by soxr */
	float buf[BLOCK];
};

resampler *resampler_new(int in_rate, int out_rate, double bandwidth, double atten_db)
{
	if (in_rate <= 0 || out_rate <= 0)
		return sh_error("resampling %d -> %d Hz: rates must be positive", in_rate, out_rate), NULL;
	resampler *r = sh_alloc(sizeof *r);
	if (!r)
		return NULL;
	soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ | SOXR_LINEAR_PHASE, 0);
	q.precision = atten_db / (20 * log10(2));
	q.passband_end = bandwidth;
	soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
	soxr_runtime_spec_t rt = soxr_runtime_spec(1); /* one thread: the same bytes every run */
	soxr_error_t e = NULL;
	r->soxr = soxr_create(in_rate, out_rate, 1, &e, &io, &q, &rt);
	if (!r->soxr || e) {
		sh_error("resampling %d -> %d Hz: soxr: %s", in_rate, out_rate, e ? e : "cannot create");
		free(r);
		return NULL;
	}
	r->in_rate = in_rate;
	r->out_rate = out_rate;
	r->target = -1;
	return r;
}

void resampler_free(resampler *r)
{
	if (!r)
		return;
	soxr_delete(r->soxr);
	free(r);
}

/* Refills the input block: from the source, then (once it has ended) zeros, then nothing. */
static int refill(resampler *r, resample_input_fn in, void *ctx)
{
	r->pos = r->len = 0;
	if (r->target < 0) {
		long k = in(ctx, r->buf, BLOCK);
		if (k < 0)
			return -1;
		if (k > 0) {
			r->len = (size_t)k;
			r->n_in += k;
			return 0;
		}
		/* the end: soxr rounds its output count, so feed zeros (the input is zero after its
		 * end) until it has made at least ceil(n_in·out/in), and cut there */
		r->target = (r->n_in * r->out_rate + r->in_rate - 1) / r->in_rate;
		r->pad = r->in_rate / r->out_rate + 2;
	}
	size_t z = (size_t)SH_MIN(r->pad, (int64_t)BLOCK);
	memset(r->buf, 0, z * sizeof *r->buf);
	r->len = z;
	r->pad -= (int64_t)z;
	return 0;
}

long resampler_read(resampler *r, resample_input_fn in, void *ctx, float *out, long n)
{
	long got = 0;
	while (got < n && (r->target < 0 || r->n_out < r->target)) {
		if (r->pos == r->len && !r->flushed) {
			if (refill(r, in, ctx) < 0)
				return -1;
			if (r->target == 0)
				break; /* an empty input: nothing to make */
		}
		long room = n - got;
		if (r->target >= 0)
			room = (long)SH_MIN((int64_t)room, r->target - r->n_out);
		size_t idone = 0, odone = 0;
		int end = r->pos == r->len; /* zeros fed too: tell soxr, and drain it */
		soxr_error_t e = soxr_process(r->soxr, end ? NULL : r->buf + r->pos, end ? 0 : r->len - r->pos, &idone,
					      out + got, (size_t)room, &odone);
		if (e)
			return sh_error("resampling: soxr: %s", e);
		r->flushed |= end;
		r->pos += idone;
		got += (long)odone;
		r->n_out += (int64_t)odone;
		if (end && odone == 0) {
			/* drained short of the count (padding should prevent it): zeros, as the input
			 * is zero after its end */
			long k = (long)SH_MIN((int64_t)(n - got), r->target - r->n_out);
			memset(out + got, 0, (size_t)k * sizeof *out);
			got += k;
			r->n_out += k;
		}
	}
	return got;
}
