/* curate: from hundreds of raw clips to listenable tracks (issue 5). Reads clips (audio files,
 * or tensor streams of <f4 records, one clip per record), removes DC offset (a high-pass),
 * trims silence, rejects silence, short clips, heavy clipping, clicks, static noise and machine
 * loops (rules calibrated on real music, issue 15), fingerprints the rest with
 * chromaprint, orders them into one path of similar neighbours, splits it into tracks at weak
 * joins and writes the tracks (loudness-matched, crossfaded), a tracklist and curation.json
 * explaining every decision; --explain prints the decisions alone. The work lives in
 * lib/curate.c and lib/fingerprint.c. */
#include "audio.h"
#include "cli.h"
#include "cliopt.h"
#include "curate.h"
#include "fingerprint.h"
#include "json.h"
#include "npy.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_head[] = "usage: curate [options] -o OUTDIR CLIP...\n"
				 "       curate [options] --explain CLIP...\n"
				 "Trims, rejects and orders clips into crossfaded tracks: OUTDIR/01.flac ...,\n"
				 "OUTDIR/tracklist.tsv and OUTDIR/curation.json. A CLIP is an audio file, or a tensor\n"
				 "stream of <f4 records (every record one clip, named FILE#k); none or - is stdin.\n";

typedef struct {
	char *name;
	float *x; /* samples; NULL once rejected */
	size_t n;
	curate_scores s;
	uint32_t *fp; /* raw fingerprint of the trimmed clip (kept clips) */
	int nfp;
	int kept;         /* index among kept clips, -1 if rejected */
	int order, track; /* position in the path, 0-based track (kept clips) */
	double gain_db;
	size_t at, until; /* span in its track, samples */
	char err[256];    /* analysis failure */
} clip;

enum { CURATE_RATE_MIN = 1000, CURATE_RATE_MAX = 384000 };

static clip *clips;
static int nclips, capclips;
static int rate = 16000;
static int verbose;
static double stage_t0;

/* -v: how long each stage took */
static void stage(const char *what)
{
	double now = sh_now();
	if (verbose)
		cli_warn(NULL, "%s: %.2f s", what, now - stage_t0);
	stage_t0 = now;
}

static void explain_flush(void);
static int explain_mode;
static curate_opts opts;

static clip *add_clip(const char *name, float *x, size_t n)
{
	if (explain_mode && nclips == 64) /* --explain holds a batch of clips, not all of them */
		explain_flush();
	if (nclips == capclips) {
		capclips = capclips ? 2 * capclips : 64;
		clips = realloc(clips, (size_t)capclips * sizeof *clips);
		if (!clips)
			cli_die(NULL, "out of memory");
	}
	clip *c = &clips[nclips++];
	memset(c, 0, sizeof *c);
	c->name = strdup(name);
	c->x = x;
	c->n = n;
	c->kept = -1;
	if (!c->name)
		cli_die(NULL, "out of memory");
	return c;
}

/* The rate: -r, else the first stream record that carries one (16000 when none does); every
 * input after the first must agree with it (npy_check_rate). */
static int rate_given, rate_fixed;

static void read_tensor_stream(const char *path)
{
	const char *name = cli_in_name(path);
	FILE *f = cli_open_in(path);
	npy_record rec = {0};
	int got;
	/* each record's buffer is handed to its clip (npy_record_take) */
	while ((got = npy_read_record(f, &rec)) == 1) {
		const npy_header *h = &rec.h;
		if (h->dtype != SH_F32 || h->ndim != 1)
			cli_die(name, "record %ld: expected a 1-d <f4 audio record, got %s with %d dimensions",
				rec.index, sh_dtype_descr(h->dtype), h->ndim);
		int r = rate_given || rate_fixed ? rate : 0;
		if (npy_check_rate(h, &r, rate_given) < 0)
			cli_die(name, "record %ld: %s", rec.index, sh_errmsg());
		if (r) {
			rate = r;
			rate_fixed = 1;
		}
		if (audio_check_finite(rec.data, h->count, 1, 0, rate))
			cli_die(name, "record %ld: %s", rec.index, sh_errmsg());
		char clipname[4096];
		snprintf(clipname, sizeof clipname, "%s#%ld", name, rec.index);
		add_clip(clipname, npy_record_take(&rec), h->count);
	}
	if (got < 0)
		cli_die_lib(name);
	npy_record_free(&rec);
	if (f != stdin)
		fclose(f);
}

static void read_clips(int n, char **paths)
{
	if (n == 0) {
		read_tensor_stream("-");
		return;
	}
	for (int i = 0; i < n; i++) {
		if (strcmp(paths[i], "-") && cli_is_audio_path(paths[i])) {
			float *x;
			size_t len;
			if (audio_read_all(paths[i], rate, AUDIO_QUALITY_DEFAULT, &x, &len))
				cli_die(paths[i], "%s", sh_errmsg());
			add_clip(paths[i], x, len);
			rate_fixed = 1;
		} else {
			read_tensor_stream(paths[i]);
		}
	}
}

/* ---- --explain ---- */

/* Prints one clip's verdict and every test behind it: "NAME: kept" or "NAME: rejected:
 * REASON[, REASON]", then a row per test: rule, score, value, the comparison with its
 * threshold and option, and whether it holds. */
static void explain_clip(const clip *c)
{
	const curate_scores *s = &c->s;
	curate_test t[CURATE_NTESTS];
	int reasons = curate_tests(&opts, s, t);
	printf("%s: %s", c->name, reasons ? "rejected: " : "kept");
	for (int r = 0, k = 0; r < CURATE_NREASONS; r++)
		if (reasons >> r & 1)
			printf("%s%s", k++ ? ", " : "", curate_reason_name(r));
	printf("\n");
	for (int i = 0; i < CURATE_NTESTS; i++) {
		if (reasons == CURATE_SILENCE && i > 0)
			break; /* the other scores are not taken in silence */
		printf("  %-9s %-16s %12.6g %s %-10g (--%s)%s\n", curate_reason_name(__builtin_ctz(t[i].reason)),
		       t[i].score, t[i].value, t[i].above ? ">" : "<", t[i].threshold, t[i].option,
		       t[i].holds ? "  holds" : "");
	}
	printf("  (dc %.4f removed by the %g Hz high-pass; peak %.3f, rms %.1f dBFS; flatness %.3f, "
	       "local flatness %.3f, change %.2f; loop period %.3f s, lag %.4f s; trimmed to %.3f-%.3f s)\n",
	       s->dc, opts.highpass, s->peak, s->rms_db, s->flatness, s->local_flatness, s->change, s->loop_period,
	       s->loop_lag, (double)s->start / opts.rate, (double)s->end / opts.rate);
}

/* Analyses the clips held so far, prints them in input order, and lets them go. */
static void explain_flush(void)
{
	int failed = 0;
	opts.rate = rate; /* known now: -r, or the first stream record that carries one */
#pragma omp parallel
	{
		curate_analyzer *an = curate_analyzer_new();
		if (!an) {
#pragma omp atomic write
			failed = 1;
		}
#pragma omp for schedule(dynamic, 1)
		for (int i = 0; i < nclips; i++)
			if (an && curate_analyze(an, &opts, clips[i].x, clips[i].n, &clips[i].s))
				snprintf(clips[i].err, sizeof clips[i].err, "%s", sh_errmsg());
		curate_analyzer_free(an);
	}
	if (failed)
		cli_die(NULL, "cannot set up the analysis: %s", sh_errmsg());
	for (int i = 0; i < nclips; i++) {
		if (*clips[i].err)
			cli_die(clips[i].name, "%s", clips[i].err);
		explain_clip(&clips[i]);
		free(clips[i].name);
		free(clips[i].x);
	}
	if (fflush(stdout) || ferror(stdout))
		cli_die(NULL, "standard output: %s", strerror(errno));
	nclips = 0;
}

/* ---- the output directory: built under OUTDIR.tmpPID, renamed into place at the end ---- */

static char tmpdir[4096];

static double secs(size_t samples) { return (double)samples / rate; }

static void write_text(const char *name, const char *text)
{
	char path[8192];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	cli_out o;
	cli_out_open(&o, path, 0);
	fputs(text, o.f);
	cli_out_close(&o);
}

/* Figures rounded to 6 decimals: more says nothing and only makes curation.json harder to
 * read. */
static void jw_fig(json_writer *w, const char *key, double x)
{
	jw_num(w, key, isfinite(x) ? round(x * 1e6) / 1e6 : x);
}

static void json_neighbour(json_writer *w, const char *key, int other, float sim, int offset)
{
	jw_obj(w, key);
	jw_str(w, "clip", clips[other].name);
	jw_fig(w, "similarity", sim);
	/* where the other clip's start lines up in this clip's time */
	jw_fig(w, "offset_seconds", -offset * FP_ITEM_SECONDS);
	jw_end(w);
}

/* The track format by its extension, or -1. */
static int track_format(const char *extension)
{
	char probe[64];
	snprintf(probe, sizeof probe, "x.%s", extension);
	int fmt = audio_format_for_path(probe);
	return fmt < 0 || strchr(extension, '/') ? -1 : fmt;
}

/* ---- the command line ---- */

static const char *outdir, *ext = "flac";
static int explain;

/* a threshold or setting of curate_opts, its default from curate_default_opts */
#define SETTING(name, arg, field, lo, hi, text)                                                                        \
	{                                                                                                              \
		name, 0, arg, CLI_DOUBLE, &opts.field, lo, hi, .help = text, .flags = CLI_SHOW_VALUE                   \
	}
static cli_opt table[] = {
	{NULL, 'o', "OUTDIR", CLI_STRING, &outdir,
	 .help = "output directory, written whole or not at all (required\nbut with --explain)"},
	{NULL, 'r', "RATE", CLI_INT, &rate, CURATE_RATE_MIN, CURATE_RATE_MAX,
	 .help = "rate of the clips: tensor streams must be at it, audio files are\n"
		 "resampled to it (default: the rate a stream carries, else 16000)"},
	{"format", 'f', "EXT", CLI_STRING, &ext, .help = "track format: flac, ogg or wav", .flags = CLI_SHOW_VALUE},
	SETTING("top-db", "DB", top_db, 1, 200, "trim frames more than DB under the loudest"),
	SETTING("floor-db", "DB", floor_db, -200, 0, "a clip whose loudest frame is under this is silence"),
	SETTING("min-seconds", "S", min_seconds, 0, 1e6, "reject clips shorter than this after trimming"),
	{"explain", 0, NULL, CLI_FLAG, &explain,
	 .help = "print every clip's scores against the thresholds and the\nverdict on stdout; no -o, nothing written",
	 .flags = CLI_NO_RECORD},
	SETTING("highpass", "HZ", highpass, 0, 1000, "repair: high-pass removing DC offset and rumble, 0 off"),
	SETTING("noise-change", "X", noise_change, 0, 1e6,
		"a block-to-block spectral change under X is static; stationary\nnoise scores 1"),
	SETTING("noise-local", "L", noise_local, 0, 1,
		"and its spectrum noise-like: flatness against the local\nspectrum above L (noise 0.5, harmonics low)"),
	SETTING("noise-steady", "X", noise_steady, 0, 1e6, "or under X, whatever the spectrum (a hum, a held tone)"),
	SETTING("noise-fraction", "F", noise_fraction, 0, 1, "noise when more than F of the changes are static"),
	SETTING("max-kurtosis", "K", max_kurtosis, 0, 1e12, "clicks when the first difference's kurtosis exceeds K"),
	SETTING("loop-threshold", "X", loop_threshold, 0, 1, "loop when the band self-similarity exceeds X"),
	SETTING("loop-corr", "X", loop_corr, -1, 1, "and the waveform repeats with correlation above X"),
	SETTING("loop-min-period", "S", loop_min_period, 0.01, 600, "shortest loop period searched, seconds"),
	SETTING("loop-max-period", "S", loop_max_period, 0.01, 600, "longest loop period searched, seconds"),
	SETTING("clip-level", "L", clip_level, 0.01, 2, "|x| >= L counts as clipped"),
	SETTING("max-clip-fraction", "F", max_clip_fraction, 0, 1,
		"reject when more than F of the samples are clipped"),
	SETTING("target-db", "DB", target_db, -100, 0, "loudness target, RMS dBFS"),
	SETTING("max-gain-db", "DB", max_gain_db, 0, 100, "largest loudness correction either way"),
	SETTING("crossfade", "S", crossfade, 0.001, 60, "equal-power crossfade at each join, seconds"),
	SETTING("track-minutes", "M", track_minutes, 0.01, 1e4, "about this long per track"),
	SETTING("max-offset", "S", max_offset, 0, 600, "fingerprint alignment searched, seconds either way"),
	SETTING("min-overlap", "S", min_overlap, 0, 600, "fingerprint overlap an alignment needs, seconds"),
	{"neighbours", 0, "N", CLI_INT, &opts.neighbours, 0, 100,
	 .help = "most similar clips listed per clip in curation.json", .flags = CLI_SHOW_VALUE},
	{"verbose", 'v', NULL, CLI_FLAG, &verbose, .help = "time of each stage on stderr", .flags = CLI_NO_RECORD},
	{.kind = CLI_END},
};
#undef SETTING
static cli_opts cli = {.head = usage_head, .opts = table};

/* The options into opts, outdir, ext, rate, explain and verbose; returns the index of the first
 * clip in argv. */
static int parse_options(int argc, char **argv)
{
	curate_default_opts(&opts); /* before the --help text, which shows them */
	const char *usage = cli_opts_usage(&cli);
	int first = cli_opts_parse(&cli, argc, argv);
	rate_given = cli_opts_given(&cli, &rate);
	if (explain && outdir)
		cli_usage_error(usage, "--explain writes nothing: no -o");
	if (!explain && (!outdir || !*outdir))
		cli_usage_error(usage, "-o OUTDIR is required");
	if (outdir && !strcmp(outdir, "-"))
		cli_usage_error(usage, "-o -: curate writes a directory of tracks, not a stream (name the directory, "
				       "./- if you mean it)");
	if (!explain) {
		/* "out/" and "out" are the same directory; the temporary and old names go beside it */
		static char outbuf[4096];
		if (strlen(outdir) >= sizeof outbuf - 64)
			cli_usage_error(usage, "-o: path too long");
		strcpy(outbuf, outdir);
		for (size_t l = strlen(outbuf); l > 1 && outbuf[l - 1] == '/'; l--)
			outbuf[l - 1] = 0;
		outdir = outbuf;
		if (track_format(ext) < 0)
			cli_usage_error(usage, "--format: expected flac, ogg or wav, got '%s'", ext);
	}
	if (opts.loop_min_period > opts.loop_max_period)
		cli_usage_error(usage, "--loop-min-period is above --loop-max-period");
	return first;
}

/* ---- from clips to an album ---- */

/* The kept clips and the album they make: their similarities, the path through them, the
 * tracks it is cut into and where each clip sits. */
typedef struct {
	int counts[CURATE_NREASONS]; /* rejections by reason */
	char why[512];               /* and in words, for the summary */
	int nkept, *kept;            /* the clip of each kept clip */
	float *sim;                  /* nkept × nkept fingerprint similarities */
	int16_t *offs;               /* and alignments, in fingerprint items */
	int *path;                   /* kept clips in album order */
	size_t *len;                 /* in path order: trimmed length */
	float *join;                 /* similarity to the next */
	float *gain;                 /* linear loudness correction */
	const float **ptr;           /* trimmed samples */
	size_t xf;                   /* crossfade, samples */
	int ntracks, *first;         /* path index of each track's first clip; first[ntracks] = nkept */
	size_t *track_len;           /* samples */
	double total_seconds;
	int width; /* digits of a track's number in its file name */
} album;

static cli_progress progress;

/* The rate is known once the clips are read (a stream may carry it); the crossfade must fit. */
static void check_clips(int nfiles, char **files)
{
	if (nclips == 0)
		cli_die(NULL, "no clips in the input");
	if (rate < CURATE_RATE_MIN || rate > CURATE_RATE_MAX)
		cli_die(nfiles == 1 ? files[0] : NULL, "the clips are at %d Hz; curate works at %d..%d Hz", rate,
			CURATE_RATE_MIN, CURATE_RATE_MAX);
	/* in samples, as the clips will be cut: every kept clip holds a fade in and a fade out */
	if (2 * lround(opts.crossfade * rate) > ceil(opts.min_seconds * rate))
		cli_usage_error(cli_opts_usage(&cli),
				"--crossfade %g needs --min-seconds of at least %g (a clip "
				"must hold a fade in and a fade out)",
				opts.crossfade, 2 * opts.crossfade);
	opts.rate = rate;
}

/* Analysis and fingerprints, in parallel over clips; a thread's chromaprint context and FFT
 * plan serve all its clips. */
static void analyse_clips(void)
{
	cli_progress_start(&progress, "analysing", nclips, "clips");
	int done = 0, failed = 0;
#pragma omp parallel
	{
		curate_analyzer *an = curate_analyzer_new();
		fp_context *fc = fp_context_new();
		if (!an || !fc) {
#pragma omp atomic write
			failed = 1;
		}
#pragma omp for schedule(dynamic, 1)
		for (int i = 0; i < nclips; i++) {
			clip *c = &clips[i];
			if (!an || !fc)
				continue;
			if (curate_analyze(an, &opts, c->x, c->n, &c->s)) { /* repairs c->x too */
				snprintf(c->err, sizeof c->err, "%s", sh_errmsg());
				continue;
			}
			if (!c->s.reasons &&
			    fp_compute(fc, c->x + c->s.start, c->s.end - c->s.start, rate, &c->fp, &c->nfp))
				snprintf(c->err, sizeof c->err, "%s", sh_errmsg());
#pragma omp critical(curate_progress)
			cli_progress_update(&progress, ++done, NULL);
		}
		curate_analyzer_free(an);
		fp_context_free(fc);
	}
	if (failed)
		cli_die(NULL, "cannot set up the analysis: %s", sh_errmsg());
	for (int i = 0; i < nclips; i++)
		if (*clips[i].err)
			cli_die(clips[i].name, "%s", clips[i].err);
}

static void *alloc_or_die(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		cli_die(NULL, "out of memory");
	return p;
}

static _Noreturn void reject_all(const album *a);

/* Lets the rejected clips go and numbers the kept ones; when none is kept, reject_all. */
static void sort_out(album *a)
{
	for (int i = 0; i < nclips; i++) {
		clip *c = &clips[i];
		if (c->s.reasons) {
			a->counts[__builtin_ctz(c->s.reasons)]++;
			free(c->x);
			c->x = NULL;
		} else {
			c->kept = a->nkept++;
		}
	}
	for (int r = 0, len = 0; r < CURATE_NREASONS; r++)
		if (a->counts[r])
			len += snprintf(a->why + len, sizeof a->why - len, "%s%d %s", len ? ", " : "", a->counts[r],
					curate_reason_name(r));
	if (a->nkept == 0)
		reject_all(a);
	a->kept = alloc_or_die((size_t)a->nkept * sizeof *a->kept);
	for (int i = 0; i < nclips; i++)
		if (clips[i].kept >= 0)
			a->kept[clips[i].kept] = i;
}

/* All-pairs similarity of the kept clips. */
static void compare_clips(album *a)
{
	int n = a->nkept;
	a->sim = malloc((size_t)n * n * sizeof *a->sim);
	a->offs = malloc((size_t)n * n * sizeof *a->offs);
	const uint32_t **fp = malloc((size_t)n * sizeof *fp);
	int *nfp = malloc((size_t)n * sizeof *nfp);
	if (!a->sim || !a->offs || !fp || !nfp)
		cli_die(NULL, "out of memory for %d×%d similarities", n, n);
	for (int k = 0; k < n; k++)
		fp[k] = clips[a->kept[k]].fp, nfp[k] = clips[a->kept[k]].nfp;
	int max_off = (int)lround(opts.max_offset / FP_ITEM_SECONDS);
	int min_ov = (int)lround(opts.min_overlap / FP_ITEM_SECONDS);
	curate_similarities(fp, nfp, n, SH_MIN(max_off, 30000), min_ov, a->sim, a->offs);
	free(fp);
	free(nfp);
}

/* The path through the kept clips, their gains, and the tracks it is cut into. */
static void order_tracks(album *a)
{
	int n = a->nkept;
	a->path = alloc_or_die((size_t)n * sizeof *a->path);
	a->len = alloc_or_die((size_t)n * sizeof *a->len);
	a->join = alloc_or_die((size_t)n * sizeof *a->join);
	a->first = alloc_or_die((size_t)(n + 1) * sizeof *a->first);
	a->gain = alloc_or_die((size_t)n * sizeof *a->gain);
	a->ptr = alloc_or_die((size_t)n * sizeof *a->ptr);
	if (curate_order(a->sim, n, a->path) < 0)
		cli_die(NULL, "%s", sh_errmsg());
	a->xf = (size_t)lround(opts.crossfade * rate);
	for (int p = 0; p < n; p++) {
		clip *c = &clips[a->kept[a->path[p]]];
		c->order = p;
		a->len[p] = c->s.end - c->s.start;
		a->join[p] = p + 1 < n ? a->sim[(size_t)a->path[p] * n + a->path[p + 1]] : 0;
		c->gain_db = curate_gain_db(&opts, &c->s);
		a->gain[p] = (float)pow(10, c->gain_db / 20);
		a->ptr[p] = c->x + c->s.start;
	}
	a->ntracks = curate_split(a->len, a->join, n, a->xf, opts.track_minutes * 60 * rate, a->first);
	if (a->ntracks < 0)
		cli_die(NULL, "%s", sh_errmsg());
	a->first[a->ntracks] = n;
	a->width = a->ntracks < 100 ? 2 : a->ntracks < 1000 ? 3 : 4;
}

/* Where each clip sits in its track; the tracklist's text (malloc'd). */
static char *lay_out_tracks(album *a)
{
	sh_buf tsv = {0};
	sh_buf_printf(&tsv, "track\torder\tclip\tstart\tend\tseconds\n");
	a->track_len = alloc_or_die((size_t)a->ntracks * sizeof *a->track_len);
	for (int k = 0; k < a->ntracks; k++) {
		int f = a->first[k], m = a->first[k + 1] - a->first[k];
		a->track_len[k] = curate_joined_length(a->len + f, m, a->xf);
		size_t pos = 0;
		for (int p = f; p < f + m; p++) {
			clip *c = &clips[a->kept[a->path[p]]];
			c->track = k;
			c->at = pos;
			c->until = pos + a->len[p];
			pos += a->len[p] - a->xf;
			sh_buf_printf(&tsv, "%d\t%d\t%s\t%.6f\t%.6f\t%.6f\n", k + 1, p + 1, c->name, secs(c->at),
				      secs(c->until), secs(c->until - c->at));
		}
		a->total_seconds += secs(a->track_len[k]);
	}
	if (!tsv.s)
		cli_die(NULL, "out of memory");
	return tsv.s;
}

/* The staging directory OUTDIR.tmpPID: removed with everything in it on any failure or fatal
 * signal (cli_stage_dir); cli_commit_dir renames it into place at the end. */
static void make_staging_dir(void)
{
	sh_tmp_name(tmpdir, sizeof tmpdir, outdir);
	cli_stage_dir(tmpdir);
}

/* Renders and encodes the tracks in parallel; the temporary files live inside tmpdir, which
 * is removed whole on failure (cli_stage_dir), so the (not thread-safe) cleanup list is left out. */
static void render_tracks(const album *a)
{
	int fmt = track_format(ext);
	void (*hook)(const char *, int) = sh_tmp_hook;
	sh_tmp_hook = NULL;
	char(*track_err)[512] = calloc((size_t)a->ntracks, sizeof *track_err);
	if (!track_err)
		cli_die(NULL, "out of memory");
#pragma omp parallel for schedule(dynamic, 1)
	for (int k = 0; k < a->ntracks; k++) {
		int f = a->first[k], m = a->first[k + 1] - a->first[k];
		float *out = malloc(a->track_len[k] * sizeof *out);
		char path_k[8192];
		snprintf(path_k, sizeof path_k, "%s/%0*d.%s", tmpdir, a->width, k + 1, ext);
		if (!out) {
			snprintf(track_err[k], sizeof track_err[k], "out of memory for %zu samples", a->track_len[k]);
			continue;
		}
		curate_render(out, a->ptr + f, a->len + f, a->gain + f, m, a->xf, (size_t)lround(0.01 * rate));
		if (audio_write_file(path_k, rate, (audio_format)fmt, out, a->track_len[k]))
			snprintf(track_err[k], sizeof track_err[k], "%s", sh_errmsg());
		free(out);
	}
	sh_tmp_hook = hook;
	for (int k = 0; k < a->ntracks; k++)
		if (*track_err[k])
			cli_die(NULL, "track %d: %s", k + 1, track_err[k]);
	free(track_err);
}

static void json_clip_scores(json_writer *w, const curate_scores *s)
{
	jw_obj(w, "scores");
	jw_fig(w, "loudest_db", s->loudest_db);
	jw_fig(w, "rms_db", s->rms_db);
	jw_fig(w, "peak", s->peak);
	jw_fig(w, "dc", s->dc);
	jw_fig(w, "clip_fraction", s->clip_fraction);
	jw_fig(w, "kurtosis", s->kurtosis);
	jw_fig(w, "flatness", s->flatness);
	jw_fig(w, "local_flatness", s->local_flatness);
	jw_fig(w, "change", s->change);
	jw_fig(w, "noise_fraction", s->noise_fraction);
	jw_fig(w, "loop_score", s->loop_score);
	jw_fig(w, "loop_period", s->loop_period);
	jw_fig(w, "loop_corr", s->loop_corr);
	jw_fig(w, "loop_lag", s->loop_lag);
	jw_end(w);
	/* every test with its threshold: why the clip was kept or rejected */
	curate_test t[CURATE_NTESTS];
	curate_tests(&opts, s, t);
	jw_arr(w, "tests");
	for (int k = 0; k < CURATE_NTESTS && !(s->reasons == CURATE_SILENCE && k > 0); k++) {
		jw_obj(w, NULL);
		jw_str(w, "rule", curate_reason_name(__builtin_ctz(t[k].reason)));
		jw_str(w, "score", t[k].score);
		jw_fig(w, "value", t[k].value);
		jw_str(w, "rejects_when", t[k].above ? "above" : "below");
		jw_str(w, "option", t[k].option);
		jw_num(w, "threshold", t[k].threshold);
		jw_bool(w, "holds", t[k].holds);
		jw_end(w);
	}
	jw_end(w);
}

/* A clip's verdict: its name, kept or rejected and why, its lengths, its scores and every test
 * behind the verdict (a kept clip's place in the album follows, json_clip_place). */
static void json_verdict(json_writer *w, const clip *c)
{
	const curate_scores *s = &c->s;
	jw_str(w, "clip", c->name);
	jw_str(w, "status", s->reasons ? "rejected" : "kept");
	if (s->reasons) {
		jw_str(w, "reason", curate_reason_name(__builtin_ctz(s->reasons)));
		jw_arr(w, "reasons");
		for (int r = 0; r < CURATE_NREASONS; r++)
			if (s->reasons >> r & 1)
				jw_str(w, NULL, curate_reason_name(r));
		jw_end(w);
	}
	jw_int(w, "samples", (long long)s->n);
	jw_num(w, "seconds", secs(s->n));
	jw_int(w, "trim_start", (long long)s->start);
	jw_int(w, "trim_end", (long long)s->end);
	jw_num(w, "trimmed_seconds", secs(s->end - s->start));
	json_clip_scores(w, s);
}

/* A kept clip's place: its track and order, its neighbours in the path and its most similar
 * clips. */
static void json_clip_place(json_writer *w, const album *a, const clip *c, int *nearest)
{
	int k = c->kept, p = c->order, n = a->nkept;
	jw_int(w, "fingerprint_items", c->nfp);
	jw_fig(w, "gain_db", c->gain_db);
	jw_int(w, "track", c->track + 1);
	jw_int(w, "order", p + 1);
	jw_int(w, "start_sample", (long long)c->at);
	jw_int(w, "end_sample", (long long)c->until);
	jw_num(w, "start", secs(c->at));
	jw_num(w, "end", secs(c->until));
	const float *sim = a->sim + (size_t)k * n;
	const int16_t *offs = a->offs + (size_t)k * n;
	if (p > 0)
		json_neighbour(w, "previous", a->kept[a->path[p - 1]], sim[a->path[p - 1]], offs[a->path[p - 1]]);
	else
		jw_null(w, "previous");
	if (p + 1 < n)
		json_neighbour(w, "next", a->kept[a->path[p + 1]], sim[a->path[p + 1]], offs[a->path[p + 1]]);
	else
		jw_null(w, "next");
	int m = curate_nearest(a->sim, n, k, opts.neighbours, nearest);
	jw_arr(w, "nearest");
	for (int i = 0; i < m; i++)
		json_neighbour(w, NULL, a->kept[nearest[i]], sim[nearest[i]], offs[nearest[i]]);
	jw_end(w);
}

/* curation.json's start: the program, rate and options, and the summary's counts (kept of them,
 * and the rejected by reason), the summary left open for the rest. */
static void json_head(json_writer *w, const album *a, int kept)
{
	jw_init(w, 1);
	jw_obj(w, NULL);
	jw_str(w, "program", "curate");
	jw_int(w, "rate", rate);
	cli_opts_json(&cli, w, "options", 0);
	jw_obj(w, "summary");
	jw_int(w, "clips", nclips);
	jw_int(w, "kept", kept);
	jw_obj(w, "rejected");
	for (int r = 0; r < CURATE_NREASONS; r++)
		jw_int(w, curate_reason_name(r), a->counts[r]);
	jw_end(w);
}

/* Every clip rejected: OUTDIR is made with curation.json alone (each clip's scores and the tests
 * that rejected it), then curate fails saying so, with what would change it: training longer, or
 * the option of the rule that rejected most, set past every score it rejected. */
static _Noreturn void reject_all(const album *a)
{
	json_writer w;
	json_head(&w, a, 0);
	jw_int(&w, "tracks", 0);
	jw_num(&w, "seconds", 0);
	jw_num(&w, "path_similarity", 0);
	jw_end(&w);
	jw_arr(&w, "tracks");
	jw_end(&w);
	jw_arr(&w, "clips");
	for (int i = 0; i < nclips; i++) {
		jw_obj(&w, NULL);
		json_verdict(&w, &clips[i]);
		jw_end(&w);
	}
	jw_end(&w);
	jw_end(&w);
	const char *text = jw_text(&w);
	if (!text)
		cli_die(NULL, "%s", sh_errmsg());
	make_staging_dir();
	write_text("curation.json", text);
	cli_commit_dir(tmpdir, outdir, "curation.json", "an earlier curate output");
	jw_free(&w);

	/* the rule that rejected most, and for each of its tests the threshold that lets every
	 * clip it rejected pass (3 significant digits, rounded away from the scores) */
	int most = 0;
	for (int r = 1; r < CURATE_NREASONS; r++)
		most = a->counts[r] > a->counts[most] ? r : most;
	char relax[512] = "";
	curate_test t[CURATE_NTESTS];
	for (int k = 0, len = 0; k < CURATE_NTESTS; k++) {
		int found = 0;
		double past = 0;
		for (int i = 0; i < nclips; i++)
			if (__builtin_ctz(clips[i].s.reasons) == most) {
				curate_tests(&opts, &clips[i].s, t);
				double v = t[k].value;
				if (t[k].reason == 1 << most && isfinite(v) &&
				    (!found || (t[k].above ? v > past : v < past)))
					past = v, found = 1;
			}
		if (!found)
			continue;
		double unit = past ? pow(10, floor(log10(fabs(past))) - 2) : 1;
		past = (t[k].above ? ceil(past / unit) : floor(past / unit)) * unit;
		len += snprintf(relax + len, sizeof relax - len, "%s--%s %.3g", len ? " or " : "", t[k].option, past);
	}
	cli_warn(
		NULL,
		"all %d clips rejected (%s); each clip's scores and the tests that rejected it are in %s/curation.json",
		nclips, a->why, outdir);
	if (*relax)
		cli_die(NULL,
			"nothing to make tracks of. A model trained too little makes clips like these: train it "
			"longer; or keep such clips: %s lets the %d past the %s rule (docs/curate.md)",
			relax, a->counts[most], curate_reason_name(most));
	cli_die(NULL, "nothing to make tracks of: train the model longer");
}

/* curation.json: the options, a summary, the tracks and every decision with its figures. */
static void write_curation_json(const album *a)
{
	json_writer w;
	json_head(&w, a, a->nkept);
	jw_int(&w, "tracks", a->ntracks);
	jw_num(&w, "seconds", a->total_seconds);
	jw_fig(&w, "path_similarity", curate_path_score(a->sim, a->nkept, a->path));
	jw_end(&w);
	jw_arr(&w, "tracks");
	for (int k = 0; k < a->ntracks; k++) {
		char file[64];
		snprintf(file, sizeof file, "%0*d.%s", a->width, k + 1, ext);
		jw_obj(&w, NULL);
		jw_int(&w, "track", k + 1);
		jw_str(&w, "file", file);
		jw_int(&w, "samples", (long long)a->track_len[k]);
		jw_num(&w, "seconds", secs(a->track_len[k]));
		jw_arr(&w, "clips");
		for (int p = a->first[k]; p < a->first[k + 1]; p++)
			jw_str(&w, NULL, clips[a->kept[a->path[p]]].name);
		jw_end(&w);
		jw_end(&w);
	}
	jw_end(&w);
	jw_arr(&w, "clips");
	int *nearest = alloc_or_die((size_t)(opts.neighbours + 1) * sizeof *nearest);
	for (int i = 0; i < nclips; i++) {
		const clip *c = &clips[i];
		jw_obj(&w, NULL);
		json_verdict(&w, c);
		if (c->kept >= 0)
			json_clip_place(&w, a, c, nearest);
		jw_end(&w);
	}
	free(nearest);
	jw_end(&w);
	jw_end(&w);
	const char *text = jw_text(&w);
	if (!text)
		cli_die(NULL, "%s", sh_errmsg());
	write_text("curation.json", text);
	jw_free(&w);
}

static void free_album(album *a)
{
	for (int i = 0; i < nclips; i++) {
		free(clips[i].name);
		free(clips[i].x);
		free(clips[i].fp);
	}
	free(clips);
	free(a->kept);
	free(a->sim);
	free(a->offs);
	free(a->path);
	free(a->len);
	free(a->join);
	free(a->first);
	free(a->gain);
	free(a->ptr);
	free(a->track_len);
}

int main(int argc, char **argv)
{
	cli_init("curate");
	int first = parse_options(argc, argv), nfiles = argc - first;
	char **files = argv + first;
	if (explain) {
		explain_mode = 1;
		read_clips(nfiles, files);
		explain_flush();
		return 0;
	}
	double t0 = sh_now();
	stage_t0 = t0;
	read_clips(nfiles, files);
	check_clips(nfiles, files);
	stage("reading");
	analyse_clips();
	stage("analysis and fingerprints");
	album a = {0};
	sort_out(&a);
	compare_clips(&a);
	stage("similarities");
	order_tracks(&a);
	stage("ordering");

	make_staging_dir();
	char *tracklist = lay_out_tracks(&a);
	render_tracks(&a);
	write_text("tracklist.tsv", tracklist);
	free(tracklist);
	stage("tracks");
	write_curation_json(&a);
	cli_commit_dir(tmpdir, outdir, "curation.json", "an earlier curate output");

	if (!cli_quiet)
		cli_progress_end(&progress, "%d clips: %d kept%s%s%s; %d track%s, %.1f min, in %.1f s", nclips, a.nkept,
				 *a.why ? " (rejected: " : "", a.why, *a.why ? ")" : "", a.ntracks,
				 a.ntracks == 1 ? "" : "s", a.total_seconds / 60, sh_now() - t0);
	free_album(&a);
	return 0;
}
