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
#include "curate.h"
#include "fingerprint.h"
#include "json.h"
#include "npy.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: curate [options] -o OUTDIR CLIP...\n"
	"       curate [options] --explain CLIP...\n"
	"Trims, rejects and orders clips into crossfaded tracks: OUTDIR/01.flac ...,\n"
	"OUTDIR/tracklist.tsv and OUTDIR/curation.json. A CLIP is an audio file, or a tensor\n"
	"stream of <f4 records (every record one clip, named FILE#k); none or - is stdin.\n"
	"  -o OUTDIR                 output directory, written whole or not at all (required\n"
	"                            but with --explain)\n"
	"  -r RATE                   rate of the clips: tensor streams must be at it, audio files are\n"
	"                            resampled to it (default: the rate a stream carries, else 16000)\n"
	"  -f, --format EXT          track format: flac, ogg or wav (flac)\n"
	"  --min-seconds S           reject clips shorter than this after trimming (3)\n"
	"  --top-db DB               trim frames more than DB under the loudest (50)\n"
	"  --floor-db DB             a clip whose loudest frame is under this is silence (-60)\n"
	"  --explain                 print every clip's scores against the thresholds and the\n"
	"                            verdict on stdout; no -o, nothing written\n"
	"  --highpass HZ             repair: high-pass removing DC offset and rumble, 0 off (20)\n"
	"  --noise-change X          a block-to-block spectral change under X is static; stationary\n"
	"                            noise scores 1 (1.4)\n"
	"  --noise-local L           and its spectrum noise-like: flatness against the local\n"
	"                            spectrum above L (noise 0.5, harmonics low) (0.45)\n"
	"  --noise-steady X          or under X, whatever the spectrum (a hum, a held tone) (1.1)\n"
	"  --noise-fraction F        noise when more than F of the changes are static (0.55)\n"
	"  --max-kurtosis K          clicks when the first difference's kurtosis exceeds K (300)\n"
	"  --loop-threshold X        loop when the band self-similarity exceeds X (0.5)\n"
	"  --loop-corr X             and the waveform repeats with correlation above X (0.99)\n"
	"  --loop-min-period S       shortest loop period searched, seconds (0.1)\n"
	"  --loop-max-period S       longest loop period searched, seconds (3)\n"
	"  --clip-level L            |x| >= L counts as clipped (0.999)\n"
	"  --max-clip-fraction F     reject when more than F of the samples are clipped (0.05)\n"
	"  --target-db DB            loudness target, RMS dBFS (-20)\n"
	"  --max-gain-db DB          largest loudness correction either way (12)\n"
	"  --crossfade S             equal-power crossfade at each join, seconds (1)\n"
	"  --track-minutes M         about this long per track (4)\n"
	"  --max-offset S            fingerprint alignment searched, seconds either way (10)\n"
	"  --min-overlap S           fingerprint overlap an alignment needs, seconds (4)\n"
	"  --neighbours N            most similar clips listed per clip in curation.json (3)\n"
	"  -q, --quiet               no progress and no summary line\n"
	"  -v, --verbose             time of each stage on stderr\n"
	"  -h, --help                this text; --version: the version and the libraries used\n";

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

/* ---- outputs ---- */

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

/* curation.json's options: every threshold and setting of the run. */
static void json_options(json_writer *w, const curate_opts *o)
{
	jw_obj(w, "options");
	jw_num(w, "top_db", o->top_db);
	jw_num(w, "floor_db", o->floor_db);
	jw_num(w, "min_seconds", o->min_seconds);
	jw_num(w, "highpass", o->highpass);
	jw_num(w, "noise_change", o->noise_change);
	jw_num(w, "noise_local", o->noise_local);
	jw_num(w, "noise_steady", o->noise_steady);
	jw_num(w, "noise_fraction", o->noise_fraction);
	jw_num(w, "max_kurtosis", o->max_kurtosis);
	jw_num(w, "loop_threshold", o->loop_threshold);
	jw_num(w, "loop_corr", o->loop_corr);
	jw_num(w, "loop_min_period", o->loop_min_period);
	jw_num(w, "loop_max_period", o->loop_max_period);
	jw_num(w, "clip_level", o->clip_level);
	jw_num(w, "max_clip_fraction", o->max_clip_fraction);
	jw_num(w, "target_db", o->target_db);
	jw_num(w, "max_gain_db", o->max_gain_db);
	jw_num(w, "crossfade", o->crossfade);
	jw_num(w, "track_minutes", o->track_minutes);
	jw_num(w, "max_offset", o->max_offset);
	jw_num(w, "min_overlap", o->min_overlap);
	jw_end(w);
}

/* A clip's verdict in curation.json: its name, kept or rejected and why, its lengths, its scores
 * and every test behind the verdict (the caller adds a kept clip's place in the album). */
static void json_verdict(json_writer *w, const curate_opts *o, const clip *c)
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
	curate_tests(o, s, t);
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

/* Every clip rejected: OUTDIR is made with curation.json alone (each clip's scores and the tests
 * that rejected it), then curate fails saying so, with what would change it: training longer, or
 * the option of the rule that rejected most, set past every score it rejected. */
static _Noreturn void reject_all(const curate_opts *o, const char *outdir, const int *counts, const char *why)
{
	json_writer w;
	jw_init(&w, 1);
	jw_obj(&w, NULL);
	jw_str(&w, "program", "curate");
	jw_int(&w, "rate", rate);
	json_options(&w, o);
	jw_obj(&w, "summary");
	jw_int(&w, "clips", nclips);
	jw_int(&w, "kept", 0);
	jw_obj(&w, "rejected");
	for (int r = 0; r < CURATE_NREASONS; r++)
		jw_int(&w, curate_reason_name(r), counts[r]);
	jw_end(&w);
	jw_int(&w, "tracks", 0);
	jw_num(&w, "seconds", 0);
	jw_num(&w, "path_similarity", 0);
	jw_end(&w);
	jw_arr(&w, "tracks");
	jw_end(&w);
	jw_arr(&w, "clips");
	for (int i = 0; i < nclips; i++) {
		jw_obj(&w, NULL);
		json_verdict(&w, o, &clips[i]);
		jw_end(&w);
	}
	jw_end(&w);
	jw_end(&w);
	const char *text = jw_text(&w);
	if (!text)
		cli_die(NULL, "%s", sh_errmsg());
	sh_tmp_name(tmpdir, sizeof tmpdir, outdir);
	cli_stage_dir(tmpdir);
	write_text("curation.json", text);
	cli_commit_dir(tmpdir, outdir, "curation.json", "an earlier curate output");
	jw_free(&w);

	/* the rule that rejected most, and for each of its tests the threshold that lets every
	 * clip it rejected pass (3 significant digits, rounded away from the scores) */
	int most = 0;
	for (int r = 1; r < CURATE_NREASONS; r++)
		most = counts[r] > counts[most] ? r : most;
	char relax[512] = "";
	curate_test t[CURATE_NTESTS];
	for (int k = 0, len = 0; k < CURATE_NTESTS; k++) {
		int found = 0;
		double past = 0;
		for (int i = 0; i < nclips; i++)
			if (__builtin_ctz(clips[i].s.reasons) == most) {
				curate_tests(o, &clips[i].s, t);
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
		nclips, why, outdir);
	if (*relax)
		cli_die(NULL,
			"nothing to make tracks of. A model trained too little makes clips like these: train it "
			"longer; or keep such clips: %s lets the %d past the %s rule (docs/curate.md)",
			relax, counts[most], curate_reason_name(most));
	cli_die(NULL, "nothing to make tracks of: train the model longer");
}

int main(int argc, char **argv)
{
	cli_init("curate");
	curate_opts o;
	curate_default_opts(&o);
	const char *outdir = NULL, *ext = "flac";
	int quiet = 0, explain = 0;
	enum {
		MIN_SECONDS = 256,
		TOP_DB,
		FLOOR_DB,
		HIGHPASS,
		NOISE_CHANGE,
		NOISE_LOCAL,
		NOISE_STEADY,
		NOISE_FRACTION,
		MAX_KURTOSIS,
		LOOP_THRESHOLD,
		LOOP_CORR,
		LOOP_MIN,
		LOOP_MAX,
		CLIP_LEVEL,
		MAX_CLIP,
		TARGET_DB,
		EXPLAIN,
		MAX_GAIN,
		CROSSFADE,
		TRACK_MINUTES,
		MAX_OFFSET,
		MIN_OVERLAP,
		NEIGHBOURS
	};
	static const struct option longopts[] = {
		{"format", required_argument, 0, 'f'},
		{"min-seconds", required_argument, 0, MIN_SECONDS},
		{"top-db", required_argument, 0, TOP_DB},
		{"floor-db", required_argument, 0, FLOOR_DB},
		{"highpass", required_argument, 0, HIGHPASS},
		{"noise-change", required_argument, 0, NOISE_CHANGE},
		{"noise-local", required_argument, 0, NOISE_LOCAL},
		{"noise-steady", required_argument, 0, NOISE_STEADY},
		{"noise-fraction", required_argument, 0, NOISE_FRACTION},
		{"max-kurtosis", required_argument, 0, MAX_KURTOSIS},
		{"loop-threshold", required_argument, 0, LOOP_THRESHOLD},
		{"loop-corr", required_argument, 0, LOOP_CORR},
		{"explain", no_argument, 0, EXPLAIN},
		{"loop-min-period", required_argument, 0, LOOP_MIN},
		{"loop-max-period", required_argument, 0, LOOP_MAX},
		{"clip-level", required_argument, 0, CLIP_LEVEL},
		{"max-clip-fraction", required_argument, 0, MAX_CLIP},
		{"target-db", required_argument, 0, TARGET_DB},
		{"max-gain-db", required_argument, 0, MAX_GAIN},
		{"crossfade", required_argument, 0, CROSSFADE},
		{"track-minutes", required_argument, 0, TRACK_MINUTES},
		{"max-offset", required_argument, 0, MAX_OFFSET},
		{"min-overlap", required_argument, 0, MIN_OVERLAP},
		{"neighbours", required_argument, 0, NEIGHBOURS},
		{"quiet", no_argument, 0, 'q'},
		{"verbose", no_argument, 0, 'v'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, CLI_OPT_VERSION},
		{0, 0, 0, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, ":o:r:f:qvh", longopts, NULL)) != -1) {
		const char *a = optarg;
		switch (opt) {
		case 'o': outdir = a; break;
		case 'r':
			rate = (int)cli_long(usage, "-r", a, CURATE_RATE_MIN, CURATE_RATE_MAX);
			rate_given = 1;
			break;
		case 'f': ext = a; break;
		case 'q': quiet = cli_quiet = 1; break;
		case 'v': verbose = 1; break;
		case 'h': fputs(usage, stdout); return 0;
		case MIN_SECONDS: o.min_seconds = cli_double(usage, "--min-seconds", a, 0, 1e6); break;
		case TOP_DB: o.top_db = cli_double(usage, "--top-db", a, 1, 200); break;
		case FLOOR_DB: o.floor_db = cli_double(usage, "--floor-db", a, -200, 0); break;
		case HIGHPASS: o.highpass = cli_double(usage, "--highpass", a, 0, 1000); break;
		case NOISE_CHANGE: o.noise_change = cli_double(usage, "--noise-change", a, 0, 1e6); break;
		case NOISE_LOCAL: o.noise_local = cli_double(usage, "--noise-local", a, 0, 1); break;
		case NOISE_STEADY: o.noise_steady = cli_double(usage, "--noise-steady", a, 0, 1e6); break;
		case NOISE_FRACTION: o.noise_fraction = cli_double(usage, "--noise-fraction", a, 0, 1); break;
		case MAX_KURTOSIS: o.max_kurtosis = cli_double(usage, "--max-kurtosis", a, 0, 1e12); break;
		case LOOP_THRESHOLD: o.loop_threshold = cli_double(usage, "--loop-threshold", a, 0, 1); break;
		case LOOP_CORR: o.loop_corr = cli_double(usage, "--loop-corr", a, -1, 1); break;
		case EXPLAIN: explain = 1; break;
		case LOOP_MIN: o.loop_min_period = cli_double(usage, "--loop-min-period", a, 0.01, 600); break;
		case LOOP_MAX: o.loop_max_period = cli_double(usage, "--loop-max-period", a, 0.01, 600); break;
		case CLIP_LEVEL: o.clip_level = cli_double(usage, "--clip-level", a, 0.01, 2); break;
		case MAX_CLIP: o.max_clip_fraction = cli_double(usage, "--max-clip-fraction", a, 0, 1); break;
		case TARGET_DB: o.target_db = cli_double(usage, "--target-db", a, -100, 0); break;
		case MAX_GAIN: o.max_gain_db = cli_double(usage, "--max-gain-db", a, 0, 100); break;
		case CROSSFADE: o.crossfade = cli_double(usage, "--crossfade", a, 0.001, 60); break;
		case TRACK_MINUTES: o.track_minutes = cli_double(usage, "--track-minutes", a, 0.01, 1e4); break;
		case MAX_OFFSET: o.max_offset = cli_double(usage, "--max-offset", a, 0, 600); break;
		case MIN_OVERLAP: o.min_overlap = cli_double(usage, "--min-overlap", a, 0, 600); break;
		case NEIGHBOURS: o.neighbours = (int)cli_long(usage, "--neighbours", a, 0, 100); break;
		default: cli_std_option(usage, opt, argv);
		}
	}
	if (explain && outdir)
		cli_usage_error(usage, "--explain writes nothing: no -o");
	if (!explain && (!outdir || !*outdir))
		cli_usage_error(usage, "-o OUTDIR is required");
	if (outdir && !strcmp(outdir, "-"))
		cli_usage_error(usage, "-o -: curate writes a directory of tracks, not a stream (name the directory, "
				       "./- if you mean it)");
	if (explain) {
		if (o.loop_min_period > o.loop_max_period)
			cli_usage_error(usage, "--loop-min-period is above --loop-max-period");
		opts = o;
		explain_mode = 1;
		read_clips(argc - optind, argv + optind);
		explain_flush();
		return 0;
	}
	/* "out/" and "out" are the same directory; the temporary and old names go beside it */
	static char outbuf[4096];
	if (strlen(outdir) >= sizeof outbuf - 64)
		cli_usage_error(usage, "-o: path too long");
	strcpy(outbuf, outdir);
	for (size_t l = strlen(outbuf); l > 1 && outbuf[l - 1] == '/'; l--)
		outbuf[l - 1] = 0;
	outdir = outbuf;
	char probe[64];
	snprintf(probe, sizeof probe, "x.%s", ext);
	int fmt = audio_format_for_path(probe);
	if (fmt < 0 || strchr(ext, '/'))
		cli_usage_error(usage, "--format: expected flac, ogg or wav, got '%s'", ext);
	if (o.loop_min_period > o.loop_max_period)
		cli_usage_error(usage, "--loop-min-period is above --loop-max-period");
	double t0 = sh_now();
	stage_t0 = t0;

	read_clips(argc - optind, argv + optind);
	if (nclips == 0)
		cli_die(NULL, "no clips in the input");
	/* the rate is known now (a stream may carry it) */
	if (rate < CURATE_RATE_MIN || rate > CURATE_RATE_MAX)
		cli_die(argc - optind == 1 ? argv[optind] : NULL, "the clips are at %d Hz; curate works at %d..%d Hz",
			rate, CURATE_RATE_MIN, CURATE_RATE_MAX);
	/* in samples, as the clips will be cut: every kept clip holds a fade in and a fade out */
	if (2 * lround(o.crossfade * rate) > ceil(o.min_seconds * rate))
		cli_usage_error(usage,
				"--crossfade %g needs --min-seconds of at least %g (a clip "
				"must hold a fade in and a fade out)",
				o.crossfade, 2 * o.crossfade);
	o.rate = rate;
	stage("reading");

	/* analysis and fingerprints, in parallel over clips; a thread's chromaprint context and
	 * FFT plan serve all its clips */
	cli_progress prog;
	cli_progress_start(&prog, "analysing", nclips, "clips");
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
			if (curate_analyze(an, &o, c->x, c->n, &c->s)) { /* repairs c->x too */
				snprintf(c->err, sizeof c->err, "%s", sh_errmsg());
				continue;
			}
			if (!c->s.reasons &&
			    fp_compute(fc, c->x + c->s.start, c->s.end - c->s.start, rate, &c->fp, &c->nfp))
				snprintf(c->err, sizeof c->err, "%s", sh_errmsg());
#pragma omp critical(curate_progress)
			cli_progress_update(&prog, ++done, NULL);
		}
		curate_analyzer_free(an);
		fp_context_free(fc);
	}
	if (failed)
		cli_die(NULL, "cannot set up the analysis: %s", sh_errmsg());
	stage("analysis and fingerprints");
	int nkept = 0, counts[CURATE_NREASONS] = {0};
	for (int i = 0; i < nclips; i++) {
		clip *c = &clips[i];
		if (*c->err)
			cli_die(c->name, "%s", c->err);
		if (c->s.reasons) {
			counts[__builtin_ctz(c->s.reasons)]++;
			free(c->x);
			c->x = NULL;
		} else {
			c->kept = nkept++;
		}
	}
	char why[512] = "";
	for (int r = 0, len = 0; r < CURATE_NREASONS; r++)
		if (counts[r])
			len += snprintf(why + len, sizeof why - len, "%s%d %s", len ? ", " : "", counts[r],
					curate_reason_name(r));
	if (nkept == 0)
		reject_all(&o, outdir, counts, why);

	/* all-pairs similarity of the kept clips */
	int *kept = malloc((size_t)nkept * sizeof *kept);
	float *sim = malloc((size_t)nkept * nkept * sizeof *sim);
	int16_t *offs = malloc((size_t)nkept * nkept * sizeof *offs);
	if (!kept || !sim || !offs)
		cli_die(NULL, "out of memory for %d×%d similarities", nkept, nkept);
	for (int i = 0; i < nclips; i++)
		if (clips[i].kept >= 0)
			kept[clips[i].kept] = i;
	int max_off = (int)lround(o.max_offset / FP_ITEM_SECONDS);
	int min_ov = (int)lround(o.min_overlap / FP_ITEM_SECONDS);
	max_off = SH_MIN(max_off, 30000);
#pragma omp parallel for schedule(dynamic, 1)
	for (int a = 0; a < nkept; a++) {
		const clip *ca = &clips[kept[a]];
		sim[(size_t)a * nkept + a] = 0;
		offs[(size_t)a * nkept + a] = 0;
		for (int b = a + 1; b < nkept; b++) {
			const clip *cb = &clips[kept[b]];
			int off;
			float s = (float)fp_similarity(ca->fp, ca->nfp, cb->fp, cb->nfp, max_off, min_ov, &off);
			sim[(size_t)a * nkept + b] = sim[(size_t)b * nkept + a] = s;
			offs[(size_t)a * nkept + b] = (int16_t)off;
			offs[(size_t)b * nkept + a] = (int16_t)-off;
		}
	}

	stage("similarities");

	/* order, split, gains */
	int *path = malloc((size_t)nkept * sizeof *path);
	size_t *len = malloc((size_t)nkept * sizeof *len);
	float *join = malloc((size_t)nkept * sizeof *join);
	int *first = malloc((size_t)(nkept + 1) * sizeof *first);
	float *gain = malloc((size_t)nkept * sizeof *gain);
	const float **ptr = malloc((size_t)nkept * sizeof *ptr);
	if (!path || !len || !join || !first || !gain || !ptr)
		cli_die(NULL, "out of memory");
	if (curate_order(sim, nkept, path) < 0)
		cli_die(NULL, "%s", sh_errmsg());
	size_t xf = (size_t)lround(o.crossfade * rate);
	for (int p = 0; p < nkept; p++) {
		clip *c = &clips[kept[path[p]]];
		c->order = p;
		len[p] = c->s.end - c->s.start;
		join[p] = p + 1 < nkept ? sim[(size_t)path[p] * nkept + path[p + 1]] : 0;
		c->gain_db = curate_gain_db(&o, &c->s);
		gain[p] = (float)pow(10, c->gain_db / 20);
		ptr[p] = c->x + c->s.start;
	}
	int ntracks = curate_split(len, join, nkept, xf, o.track_minutes * 60 * rate, first);
	if (ntracks < 0)
		cli_die(NULL, "%s", sh_errmsg());
	first[ntracks] = nkept;
	stage("ordering");

	/* the output directory */
	sh_tmp_name(tmpdir, sizeof tmpdir, outdir);
	cli_stage_dir(tmpdir);
	int width = ntracks < 100 ? 2 : ntracks < 1000 ? 3 : 4;
	size_t tsv_cap = 256 + (size_t)nkept * 256, tsv_len = 0;
	char *tsv = malloc(tsv_cap);
	if (!tsv)
		cli_die(NULL, "out of memory");
	tsv_len += snprintf(tsv, tsv_cap, "track\torder\tclip\tstart\tend\tseconds\n");
	double total_seconds = 0;
	size_t *track_len = malloc((size_t)ntracks * sizeof *track_len);
	if (!track_len)
		cli_die(NULL, "out of memory");
	for (int k = 0; k < ntracks; k++) {
		int a = first[k], m = first[k + 1] - first[k];
		track_len[k] = curate_joined_length(len + a, m, xf);
		size_t pos = 0;
		for (int p = a; p < a + m; p++) {
			clip *c = &clips[kept[path[p]]];
			c->track = k;
			c->at = pos;
			c->until = pos + len[p];
			pos += len[p] - xf;
			if (tsv_cap - tsv_len < 4096 + strlen(c->name)) {
				tsv_cap = 2 * tsv_cap + strlen(c->name);
				tsv = realloc(tsv, tsv_cap);
				if (!tsv)
					cli_die(NULL, "out of memory");
			}
			tsv_len += snprintf(tsv + tsv_len, tsv_cap - tsv_len, "%d\t%d\t%s\t%.6f\t%.6f\t%.6f\n", k + 1,
					    p + 1, c->name, secs(c->at), secs(c->until), secs(c->until - c->at));
		}
		total_seconds += secs(track_len[k]);
	}
	/* render and encode the tracks in parallel; the temporary files live inside tmpdir, which
	 * is removed whole on failure (cli_stage_dir), so the (not thread-safe) cleanup list is
	 * left out */
	void (*hook)(const char *, int) = sh_tmp_hook;
	sh_tmp_hook = NULL;
	char(*track_err)[512] = calloc((size_t)ntracks, sizeof *track_err);
	if (!track_err)
		cli_die(NULL, "out of memory");
#pragma omp parallel for schedule(dynamic, 1)
	for (int k = 0; k < ntracks; k++) {
		int a = first[k], m = first[k + 1] - first[k];
		float *out = malloc(track_len[k] * sizeof *out);
		char path_k[8192];
		snprintf(path_k, sizeof path_k, "%s/%0*d.%s", tmpdir, width, k + 1, ext);
		if (!out) {
			snprintf(track_err[k], sizeof track_err[k], "out of memory for %zu samples", track_len[k]);
			continue;
		}
		curate_render(out, ptr + a, len + a, gain + a, m, xf, (size_t)lround(0.01 * rate));
		if (audio_write_file(path_k, rate, (audio_format)fmt, out, track_len[k]))
			snprintf(track_err[k], sizeof track_err[k], "%s", sh_errmsg());
		free(out);
	}
	sh_tmp_hook = hook;
	for (int k = 0; k < ntracks; k++)
		if (*track_err[k])
			cli_die(NULL, "track %d: %s", k + 1, track_err[k]);
	free(track_err);
	write_text("tracklist.tsv", tsv);
	stage("tracks");
	free(tsv);

	/* curation.json: every decision with its figures */
	json_writer w;
	jw_init(&w, 1);
	jw_obj(&w, NULL);
	jw_str(&w, "program", "curate");
	jw_int(&w, "rate", rate);
	json_options(&w, &o);
	jw_obj(&w, "summary");
	jw_int(&w, "clips", nclips);
	jw_int(&w, "kept", nkept);
	jw_obj(&w, "rejected");
	for (int r = 0; r < CURATE_NREASONS; r++)
		jw_int(&w, curate_reason_name(r), counts[r]);
	jw_end(&w);
	jw_int(&w, "tracks", ntracks);
	jw_num(&w, "seconds", total_seconds);
	jw_fig(&w, "path_similarity", curate_path_score(sim, nkept, path));
	jw_end(&w);
	jw_arr(&w, "tracks");
	for (int k = 0; k < ntracks; k++) {
		char file[64];
		snprintf(file, sizeof file, "%0*d.%s", width, k + 1, ext);
		jw_obj(&w, NULL);
		jw_int(&w, "track", k + 1);
		jw_str(&w, "file", file);
		jw_int(&w, "samples", (long long)track_len[k]);
		jw_num(&w, "seconds", secs(track_len[k]));
		jw_arr(&w, "clips");
		for (int p = first[k]; p < first[k + 1]; p++)
			jw_str(&w, NULL, clips[kept[path[p]]].name);
		jw_end(&w);
		jw_end(&w);
	}
	jw_end(&w);
	jw_arr(&w, "clips");
	int *nearest = malloc((size_t)(o.neighbours + 1) * sizeof *nearest);
	if (!nearest)
		cli_die(NULL, "out of memory");
	for (int i = 0; i < nclips; i++) {
		clip *c = &clips[i];
		jw_obj(&w, NULL);
		json_verdict(&w, &o, c);
		if (c->kept >= 0) {
			int a = c->kept, p = c->order;
			jw_int(&w, "fingerprint_items", c->nfp);
			jw_fig(&w, "gain_db", c->gain_db);
			jw_int(&w, "track", c->track + 1);
			jw_int(&w, "order", p + 1);
			jw_int(&w, "start_sample", (long long)c->at);
			jw_int(&w, "end_sample", (long long)c->until);
			jw_num(&w, "start", secs(c->at));
			jw_num(&w, "end", secs(c->until));
			if (p > 0)
				json_neighbour(&w, "previous", kept[path[p - 1]], sim[(size_t)a * nkept + path[p - 1]],
					       offs[(size_t)a * nkept + path[p - 1]]);
			else
				jw_null(&w, "previous");
			if (p + 1 < nkept)
				json_neighbour(&w, "next", kept[path[p + 1]], sim[(size_t)a * nkept + path[p + 1]],
					       offs[(size_t)a * nkept + path[p + 1]]);
			else
				jw_null(&w, "next");
			/* the most similar clips, highest first, ties by input order */
			int m = 0;
			for (int b = 0; b < nkept; b++) {
				if (b == a)
					continue;
				float sb = sim[(size_t)a * nkept + b];
				int at = m < o.neighbours ? m++ : o.neighbours;
				while (at > 0 && sim[(size_t)a * nkept + nearest[at - 1]] < sb) {
					if (at < o.neighbours)
						nearest[at] = nearest[at - 1];
					at--;
				}
				if (at < o.neighbours)
					nearest[at] = b;
			}
			jw_arr(&w, "nearest");
			for (int k = 0; k < m; k++)
				json_neighbour(&w, NULL, kept[nearest[k]], sim[(size_t)a * nkept + nearest[k]],
					       offs[(size_t)a * nkept + nearest[k]]);
			jw_end(&w);
		}
		jw_end(&w);
	}
	jw_end(&w);
	jw_end(&w);
	const char *text = jw_text(&w);
	if (!text)
		cli_die(NULL, "%s", sh_errmsg());
	write_text("curation.json", text);
	jw_free(&w);
	cli_commit_dir(tmpdir, outdir, "curation.json", "an earlier curate output");

	if (!quiet)
		cli_progress_end(&prog, "%d clips: %d kept%s%s%s; %d track%s, %.1f min, in %.1f s", nclips, nkept,
				 *why ? " (rejected: " : "", why, *why ? ")" : "", ntracks, ntracks == 1 ? "" : "s",
				 total_seconds / 60, sh_now() - t0);
	for (int i = 0; i < nclips; i++) {
		free(clips[i].name);
		free(clips[i].x);
		free(clips[i].fp);
	}
	free(clips);
	free(kept);
	free(sim);
	free(offs);
	free(path);
	free(len);
	free(join);
	free(first);
	free(gain);
	free(ptr);
	free(track_len);
	free(nearest);
	return 0;
}
