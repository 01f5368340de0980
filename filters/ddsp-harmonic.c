/* ddsp-harmonic: DDSP harmonic-plus-noise synthesis and analysis (lib/ddsp.c).
 *   synth    frame-rate controls (safetensors) → audio
 *   analyze  audio → controls (f0, loudness, harmonic distribution, noise bands)
 *   resynth  analyze, transpose or swap the harmonic profile, synthesise
 *   compare  DDSP's multi-scale spectral loss between two signals
 *   transfer timbre transfer: analyze, map through a trained decoder (qtrain --model ddsp)
 * This file parses options and moves data; the work is in lib/ddsp.c (and ddsp_train.c). */
#include "audio.h"
#include "cli.h"
#include "cliopt.h"
#include "ddsp.h"
#include "ddsp_train.h"
#include "npy.h"
#include "safetensors.h"
#include "util.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage_head[] =
	"usage: ddsp-harmonic synth [-r RATE] [--hop H] [--logits] [--seed S] -o OUT CONTROLS\n"
	"       ddsp-harmonic analyze [-r RATE] [--hop H] [-k K] [-b B] [--fmin HZ] [--fmax HZ]\n"
	"                             [--threshold T] -o CONTROLS IN\n"
	"       ddsp-harmonic resynth [-r RATE] [--hop H] [-k K] [-b B] [--pitch SEMITONES]\n"
	"                             [--harmonics FILE] [--seed S] -o OUT IN\n"
	"       ddsp-harmonic compare [-r RATE] A B\n"
	"       ddsp-harmonic transfer --model CKPT [--pitch SEMITONES] [--loudness-db DB] [--auto]\n"
	"                             [--seed S] -o OUT IN\n"
	"DDSP's harmonic-plus-noise synthesizer and the analysis that drives it.\n"
	"CONTROLS: safetensors: f0_hz (F), amplitude (F) or (F,1), harmonics (F,K), optional\n"
	"  noise (F,B); frame k sits at sample k*H; F frames make F*H samples.\n"
	"  analyze also writes loudness_db, voiced and f0_confidence (F).\n"
	"IN, A, B: audio files (.wav .flac .ogg .mp3 ...), resampled to RATE, or tensor\n"
	"  streams of <f4/<f8 records taken one after another as one signal.\n"
	"OUT: audio by extension (.wav 16-bit, .flac, .ogg), else a <f4 tensor stream.\n";
static const char usage_foot[] = "compare prints the loss (FFT sizes 2048..64) on stdout.\n";
static const char *usage; /* the whole --help text, from the option table */

typedef struct {
	const char *cmd, *out, *harm_file, *model;
	int rate, hop, logits, rate_given, hop_given, autoadj;
	uint64_t seed;
	double pitch, loudness_db;
	ddsp_analysis_opts ao;
} opts;

/* CPU seconds of this process: on a shared machine the fairer clock for one-core figures */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- input ---- */

/* A whole signal: an audio file decoded at rate, or all records of a tensor stream. */
static float *read_signal(const char *path, int rate, size_t *n)
{
	float *x = NULL;
	const char *name = cli_in_name(path);
	if (path && strcmp(path, "-") && cli_is_audio_path(path)) {
		if (audio_read_all(path, rate, AUDIO_QUALITY_DEFAULT, &x, n) < 0)
			cli_die_lib(path);
	} else {
		FILE *f = cli_open_in(path);
		npy_record r = {0};
		size_t len = 0, cap = 0;
		int rc;
		while ((rc = npy_read_record(f, &r)) > 0) {
			if (r.h.dtype != SH_F32 && r.h.dtype != SH_F64)
				cli_die(name, "record %ld: dtype %s is not audio (want <f4 or <f8)", r.index,
					sh_dtype_descr(r.h.dtype));
			if (r.h.rate && r.h.rate != rate)
				cli_die(name, "record %ld: the stream is at %d Hz, not at %d Hz (give -r %d)", r.index,
					r.h.rate, rate, r.h.rate);
			if (len + r.h.count > cap) {
				cap = SH_MAX(2 * cap, len + r.h.count);
				float *nx = realloc(x, cap * sizeof *x);
				if (!nx)
					cli_die(name, "out of memory");
				x = nx;
			}
			npy_to_f32(x + len, r.data, r.h.dtype, r.h.count);
			len += r.h.count;
		}
		if (rc < 0)
			cli_die_lib(name);
		npy_record_free(&r);
		if (f != stdin)
			fclose(f);
		*n = len;
	}
	if (*n == 0)
		cli_die(name, "no audio");
	if (audio_check_finite(x, *n, 1, 0, rate))
		cli_die(name, "%s", sh_errmsg());
	return x;
}

/* Loads and checks CONTROLS (lib/ddsp.c reads them); the arrays are owned by the caller. */
static void load_controls(const char *path, opts *o, ddsp_controls *c)
{
	st_file sf;
	const char *name = cli_in_name(path);
	if (st_load(path ? path : "-", &sf) < 0)
		cli_die_lib(name);
	int rate = o->rate_given ? o->rate : 0, hop = o->hop_given ? o->hop : 0;
	int rc = ddsp_controls_read(&sf, c, &rate, &hop);
	st_free(&sf);
	if (rc < 0 || ddsp_controls_check(c, o->logits) < 0)
		cli_die_lib(name);
	o->rate = rate;
	o->hop = hop;
}

/* ---- output ---- */

static void write_signal(const char *path, int rate, const float *y, size_t n)
{
	if (path && strcmp(path, "-") && cli_is_audio_path(path)) {
		if (audio_write_file(path, rate, AUDIO_AUTO, y, n) < 0)
			cli_die_lib(path);
		return;
	}
	cli_out out;
	cli_out_open(&out, path, 1);
	if (npy_write_rate(out.f, SH_F32, 1, (int64_t[]){(int64_t)n}, y, rate) < 0)
		cli_die_lib(cli_out_name(path));
	cli_out_close(&out);
}

static float *synth_controls(const ddsp_controls *c, const opts *o, const char *name)
{
	size_t N = (size_t)c->n_frames * o->hop;
	float *y = calloc(N, sizeof *y);
	if (!y)
		cli_die(name, "out of memory for %zu samples", N);
	ddsp_synth *s = ddsp_synth_new(o->rate, o->hop, c->n_harmonics, c->n_bands);
	if (!s || ddsp_synthesize(s, y, c, o->seed) < 0)
		cli_die_lib(name);
	ddsp_synth_free(s);
	return y;
}

/* ---- subcommands ---- */

static void cmd_synth(opts *o, const char *in)
{
	const char *name = cli_in_name(in);
	ddsp_controls c;
	load_controls(in, o, &c);
	if (o->logits)
		ddsp_apply_logits(&c);
	size_t N = (size_t)c.n_frames * o->hop;
	cli_progress p;
	cli_progress_start(&p, "synth", 0, "s");
	double t0 = sh_now(), c0 = cpu_now();
	float *y = synth_controls(&c, o, name);
	double el = sh_now() - t0, cpu = cpu_now() - c0, secs = (double)N / o->rate;
	write_signal(o->out, o->rate, y, N);
	cli_progress_end(&p,
			 "%s: %.2f s of audio (%d frames, %d harmonics, %d noise bands) "
			 "synthesised in %.3f s, %.0fx real time (CPU %.3f s, %.0fx)",
			 name, secs, c.n_frames, c.n_harmonics, c.n_bands, el, el > 0 ? secs / el : 0, cpu,
			 cpu > 0 ? secs / cpu : 0);
	free(y);
	ddsp_controls_free(&c);
}

static void analyze_signal(const opts *o, const float *x, size_t n, const char *name, ddsp_features *f)
{
	ddsp_analyzer *a = ddsp_analyzer_new(&o->ao);
	if (!a)
		cli_usage_error(usage, "%s", sh_errmsg());
	if (ddsp_analyze(a, x, n, f) < 0)
		cli_die_lib(name);
	ddsp_analyzer_free(a);
}

static void write_features(const opts *o, const ddsp_features *f, const char *path)
{
	const ddsp_controls *c = &f->c;
	int64_t F = c->n_frames, s1[1] = {F}, sk[2] = {F, c->n_harmonics}, sb[2] = {F, c->n_bands};
	char rate[32], hop[32], k[32], b[32];
	snprintf(rate, sizeof rate, "%d", o->rate);
	snprintf(hop, sizeof hop, "%d", o->hop);
	snprintf(k, sizeof k, "%d", c->n_harmonics);
	snprintf(b, sizeof b, "%d", c->n_bands);
	st_writer w;
	st_writer_init(&w);
	if (st_add_f32(&w, "f0_hz", 1, s1, c->f0_hz) || st_add_f32(&w, "amplitude", 1, s1, c->amplitude) ||
	    st_add_f32(&w, "harmonics", 2, sk, c->harmonics) || st_add_f32(&w, "noise", 2, sb, c->noise) ||
	    st_add_f32(&w, "loudness_db", 1, s1, f->loudness_db) || st_add_f32(&w, "voiced", 1, s1, f->voiced) ||
	    st_add_f32(&w, "f0_confidence", 1, s1, f->f0_confidence) || st_set_meta(&w, "format", "ddsp-controls") ||
	    st_set_meta(&w, "version", "1") || st_set_meta(&w, "sample_rate", rate) || st_set_meta(&w, "hop", hop) ||
	    st_set_meta(&w, "n_harmonics", k) || st_set_meta(&w, "n_bands", b) || st_set_meta(&w, "f0", "yin"))
		cli_die_lib(cli_out_name(path));
	cli_out out;
	cli_out_open(&out, path, 1);
	if (st_write(&w, out.f) < 0)
		cli_die_lib(cli_out_name(path));
	cli_out_close(&out);
	st_writer_free(&w);
}

static void cmd_analyze(opts *o, const char *in)
{
	const char *name = cli_in_name(in);
	size_t n;
	float *x = read_signal(in, o->rate, &n);
	cli_progress p;
	cli_progress_start(&p, "analyze", 0, "s");
	double t0 = sh_now(), c0 = cpu_now();
	ddsp_features f;
	analyze_signal(o, x, n, name, &f);
	double el = sh_now() - t0, cpu = cpu_now() - c0, secs = (double)n / o->rate;
	write_features(o, &f, o->out);
	int voiced = 0;
	for (int k = 0; k < f.c.n_frames; k++)
		voiced += f.voiced[k] != 0;
	cli_progress_end(&p,
			 "%s: %.2f s of audio, %d frames (%d voiced) analysed in %.3f s, "
			 "%.0fx real time (CPU %.3f s, %.0fx)",
			 name, secs, f.c.n_frames, voiced, el, el > 0 ? secs / el : 0, cpu, cpu > 0 ? secs / cpu : 0);
	ddsp_features_free(&f);
	free(x);
}

/* The amplitude-weighted mean distribution of FILE's voiced frames, K values. */
static void harmonic_profile(opts *o, const char *path, float *profile, int K)
{
	ddsp_features f = {0};
	ddsp_controls c;
	const char *dot = strrchr(path, '.');
	int is_controls = dot && !strcmp(dot, ".safetensors");
	const float *voiced = NULL;
	if (is_controls) {
		opts co = *o;
		co.logits = 0;
		co.rate_given = co.hop_given = 1;
		load_controls(path, &co, &c);
	} else {
		size_t n;
		float *x = read_signal(path, o->rate, &n);
		analyze_signal(o, x, n, path, &f);
		free(x);
		c = f.c;
		voiced = f.voiced;
	}
	double *acc = calloc(K, sizeof *acc), wsum = 0;
	if (!acc)
		cli_die(path, "out of memory");
	for (int k = 0; k < c.n_frames; k++) {
		double w = c.amplitude[k];
		if ((voiced && !voiced[k]) || !(w > 0))
			continue;
		for (int h = 0; h < SH_MIN(K, c.n_harmonics); h++)
			acc[h] += w * c.harmonics[(size_t)k * c.n_harmonics + h];
		wsum += w;
	}
	if (!(wsum > 0))
		cli_die(path, "no voiced frames to take a harmonic profile from");
	for (int h = 0; h < K; h++)
		profile[h] = (float)(acc[h] / wsum);
	free(acc);
	if (is_controls)
		ddsp_controls_free(&c);
	else
		ddsp_features_free(&f);
}

static void cmd_resynth(opts *o, const char *in)
{
	const char *name = cli_in_name(in);
	size_t n;
	float *x = read_signal(in, o->rate, &n);
	ddsp_features f;
	analyze_signal(o, x, n, name, &f);
	ddsp_controls *c = &f.c;
	if (o->pitch != 0) {
		double ratio = pow(2.0, o->pitch / 12);
		for (int k = 0; k < c->n_frames; k++)
			c->f0_hz[k] = (float)(c->f0_hz[k] * ratio);
	}
	if (o->harm_file) {
		int K = c->n_harmonics;
		float *profile = malloc(sizeof(float) * K);
		if (!profile)
			cli_die(name, "out of memory");
		harmonic_profile(o, o->harm_file, profile, K);
		for (int k = 0; k < c->n_frames; k++)
			memcpy(c->harmonics + (size_t)k * K, profile, sizeof(float) * K);
		free(profile);
	}
	float *y = synth_controls(c, o, name);
	write_signal(o->out, o->rate, y, n);
	cli_progress p;
	cli_progress_start(&p, "resynth", 0, "s");
	cli_progress_end(&p, "%s: %.2f s resynthesised (%d frames%s%s)", name, (double)n / o->rate, c->n_frames,
			 o->pitch != 0 ? ", transposed" : "", o->harm_file ? ", harmonic profile imposed" : "");
	free(y);
	ddsp_features_free(&f);
	free(x);
}

static void cmd_compare(opts *o, const char *pa, const char *pb)
{
	size_t na, nb;
	float *a = read_signal(pa, o->rate, &na), *b = read_signal(pb, o->rate, &nb);
	size_t n = SH_MIN(na, nb);
	if (na != nb)
		cli_warn(NULL, "%s has %zu samples, %s %zu: comparing the first %zu", cli_in_name(pa), na,
			 cli_in_name(pb), nb, n);
	double loss = ddsp_spectral_loss(a, b, n);
	if (isnan(loss))
		cli_die_lib(NULL);
	printf("%.6f\n", loss);
	if (fflush(stdout))
		cli_die("stdout", "write error");
	free(a), free(b);
}

/* Timbre transfer: IN's f0 and loudness (the checkpoint's rate and hop) through the trained
 * decoder, then synth and reverb (ddsp_render). */
static void cmd_transfer(opts *o, const char *in)
{
	const char *name = cli_in_name(in);
	if (!o->model)
		cli_usage_error(usage, "transfer needs --model CKPT");
	st_file sf;
	ddsp_config c;
	if (st_load(o->model, &sf) < 0 || ddsp_config_from_meta(&sf, &c) < 0)
		cli_die_lib(o->model);
	ddsp_net *m = ddsp_net_new(&c, 1, DDSP_RENDER_CHUNK);
	if (!m || ddsp_load_params(m, &sf) < 0)
		cli_die_lib(o->model);
	const char *tm = st_meta(&sf, "data_f0_midi"), *tl = st_meta(&sf, "data_loudness_db");
	double train_midi = tm ? atof(tm) : NAN, train_ld = tl ? atof(tl) : NAN;
	st_free(&sf);
	size_t n;
	float *x = read_signal(in, c.sample_rate, &n);
	double t0 = sh_now(), c0 = cpu_now();
	ddsp_analysis_opts ao = o->ao;
	ao.sr = c.sample_rate, ao.hop = c.hop;
	int F = (int)((n + c.hop - 1) / c.hop);
	float *f0 = malloc(sizeof(float) * F), *ld = malloc(sizeof(float) * F), *v = malloc(sizeof(float) * F);
	float *conf = malloc(sizeof(float) * F), *y = malloc(sizeof(float) * n);
	ddsp_analyzer *a = ddsp_analyzer_new(&ao);
	if (!f0 || !ld || !v || !conf || !y || !a)
		cli_die(name, "out of memory or bad analysis settings");
	if (ddsp_f0_yin(a, x, n, F, f0, v, conf) < 0 || ddsp_loudness(a, x, n, F, ld) < 0)
		cli_die_lib(name);
	ddsp_analyzer_free(a);
	double sm = 0, sl = 0;
	int nv = 0;
	for (int k = 0; k < F; k++)
		if (v[k] > 0)
			nv++, sm += 12 * log2(f0[k] / 440.0) + 69, sl += ld[k];
	if (!nv)
		cli_die(name, "no voiced frames: YIN found no pitch to play");
	double pitch = o->pitch, gain = o->loudness_db;
	if (o->autoadj) {
		if (isnan(train_midi) || isnan(train_ld))
			cli_die(o->model, "no training-data statistics (data_f0_midi, data_loudness_db) for --auto");
		/* as DDSP's demo: whole octaves towards the training register, and the mean voiced
		 * loudness onto the training data's */
		pitch += 12 * round((train_midi - (sm / nv + pitch)) / 12);
		gain += train_ld - (sl / nv + gain);
	}
	double ratio = pow(2.0, pitch / 12);
	for (int k = 0; k < F; k++)
		f0[k] = (float)(f0[k] * ratio), ld[k] = (float)(ld[k] + gain);
	if (ddsp_render(m, f0, ld, F, n, o->seed, y) < 0)
		cli_die_lib(name);
	double el = sh_now() - t0, cpu = cpu_now() - c0, secs = (double)n / c.sample_rate;
	write_signal(o->out, c.sample_rate, y, n);
	cli_progress p;
	cli_progress_start(&p, "transfer", 0, "s");
	cli_progress_end(&p,
			 "%s: %.2f s played by %s (pitch %+.2f semitones, loudness %+.1f dB) in %.3f s, "
			 "%.0fx real time (CPU %.3f s, %.0fx)",
			 name, secs, o->model, pitch, gain, el, el > 0 ? secs / el : 0, cpu, cpu > 0 ? secs / cpu : 0);
	free(f0), free(ld), free(v), free(conf), free(y), free(x);
	ddsp_net_free(m);
}

int main(int argc, char **argv)
{
	cli_init("ddsp-harmonic");
	opts o = {0};
	o.rate = DDSP_RATE;
	o.hop = DDSP_HOP;
	o.seed = CLI_DEFAULT_SEED;
	ddsp_analysis_defaults(&o.ao);
	long seed = CLI_DEFAULT_SEED;
	cli_opt table[] = {
		{NULL, 'r', "RATE", CLI_INT, &o.rate, DDSP_RATE_MIN, DDSP_RATE_MAX,
		 .help = "sample rate (default: the controls' sample_rate, else 16000)"},
		{"hop", 0, "H", CLI_INT, &o.hop, 1, DDSP_HOP_MAX,
		 .help = "samples per frame (default: the controls' hop, else 64)"},
		{"logits", 0, NULL, CLI_FLAG, &o.logits,
		 .help = "controls are raw network outputs: exp_sigmoid on amplitude and\n"
			 "harmonics, exp_sigmoid(x - 5) on noise"},
		{"seed", 0, "S", CLI_LONG, &seed, 0, LONG_MAX, .def = "1", .help = "seed of the white noise"},
		{NULL, 'k', "K", CLI_INT, &o.ao.n_harmonics, 1, 10000, .def = "60", .help = "harmonics to analyse"},
		{NULL, 'b', "B", CLI_INT, &o.ao.n_bands, 3, 16385, .def = "65",
		 .help = "noise bands, linear from 0 to RATE/2"},
		{"fmin", 0, "HZ", CLI_DOUBLE, &o.ao.fmin, 1, 1e5, .def = "40", .help = "lowest f0 searched"},
		{"fmax", 0, "HZ", CLI_DOUBLE, &o.ao.fmax, 1, 1e6, .def = "2400", .help = "highest f0 searched"},
		{"threshold", 0, "T", CLI_DOUBLE, &o.ao.yin_threshold, 0.001, 1, .def = "0.15",
		 .help = "YIN threshold"},
		{"pitch", 0, "SEMITONES", CLI_DOUBLE, &o.pitch, -96, 96, .help = "transpose by SEMITONES"},
		{"harmonics", 0, "FILE", CLI_STRING, &o.harm_file,
		 .help = "impose FILE's harmonic profile (audio, or controls .safetensors):\n"
			 "the amplitude-weighted mean distribution of its voiced frames"},
		{NULL, 'o', "OUT", CLI_STRING, &o.out, .def = "stdout", .help = "output"},
		{"model", 0, "CKPT", CLI_STRING, &o.model,
		 .help = "transfer: a checkpoint of qtrain --model ddsp (rate and hop are its own)"},
		{"loudness-db", 0, "DB", CLI_DOUBLE, &o.loudness_db, -200, 200,
		 .help = "transfer: add DB to the input's loudness"},
		{"auto", 0, NULL, CLI_FLAG, &o.autoadj,
		 .help = "transfer: shift by octaves and move the loudness towards the training data's"},
		{.kind = CLI_END},
	};
	cli_opts opts = {.head = usage_head, .foot = usage_foot, .quiet = "no summary line", .opts = table};
	usage = cli_opts_usage(&opts);
	/* the subcommand first; options alone (--help, --version) are answered without one */
	int sub = argc > 1 && argv[1][0] != '-';
	o.cmd = sub ? argv[1] : NULL;
	const int first = cli_opts_parse(&opts, argc - sub, argv + sub) + sub;
	if (!o.cmd)
		cli_usage_error(usage, "no subcommand");
	if (strcmp(o.cmd, "synth") && strcmp(o.cmd, "analyze") && strcmp(o.cmd, "resynth") &&
	    strcmp(o.cmd, "compare") && strcmp(o.cmd, "transfer"))
		cli_usage_error(usage, "unknown subcommand '%s'", o.cmd);
	o.seed = (uint64_t)seed;
	o.rate_given = cli_opts_given(&opts, &o.rate);
	o.hop_given = cli_opts_given(&opts, &o.hop);
	int nin = argc - first, want = !strcmp(o.cmd, "compare") ? 2 : 1;
	if (nin > want || (want == 2 && nin != 2))
		cli_usage_error(usage, "%s takes %d input%s", o.cmd, want, want > 1 ? "s" : "");
	const char *in = nin ? argv[first] : NULL;
	if (!strcmp(o.cmd, "synth")) {
		cmd_synth(&o, in);
		return 0;
	}
	if (!strcmp(o.cmd, "transfer")) {
		if (!o.out)
			cli_usage_error(usage, "transfer needs -o OUT");
		cmd_transfer(&o, in);
		return 0;
	}
	o.ao.sr = o.rate;
	o.ao.hop = o.hop;
	if (o.ao.fmax >= o.rate / 2.0 || o.ao.fmin >= o.ao.fmax)
		cli_usage_error(usage, "f0 range %g..%g Hz does not fit below %g Hz", o.ao.fmin, o.ao.fmax,
				o.rate / 2.0);
	if (!strcmp(o.cmd, "analyze"))
		cmd_analyze(&o, in);
	else if (!strcmp(o.cmd, "resynth"))
		cmd_resynth(&o, in);
	else
		cmd_compare(&o, argv[first], argv[first + 1]);
	return 0;
}
