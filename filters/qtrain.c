/* qtrain: trains SampleRNN or WaveNet on code records (from mulaw) into a run directory of
 * checkpoints, log.tsv, loss.png and run.json. Options and wiring only; the work is in
 * lib/train*.c and the models behind lib/model.h. docs/qtrain.md is the manual. With
 * --model ddsp, DDSP's decoder on audio records instead: ddsp_main at the end, the work in
 * lib/ddsp_train.c (docs/ddsp-harmonic.md). */
#include "backend.h"
#include "blas.h"
#include "bounds.h"
#include "cli.h"
#include "cliopt.h"
#include "checkpoint.h"
#include "ddsp_train.h"
#include "dist.h"
#include "fad.h"
#include "json.h"
#include "runlog.h"
#include "generate.h"
#include "train.h"
#include "util.h"

#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage_head[] =
	"usage: qtrain [options] -o RUNDIR DATA...\n"
	"Trains SampleRNN or WaveNet on tensor streams of code records (|u1 or <u2, from mulaw).\n";
static const char usage_foot[] =
	"Stops at --steps/--epochs/--minutes or on SIGINT/SIGTERM (after a last checkpoint).\n";
static const char ddsp_usage_head[] =
	"usage: qtrain --model ddsp [options] -o RUNDIR AUDIO...\n"
	"Trains DDSP's solo-instrument decoder on float audio records (<f4, from wavchunk -l 4 -p 3).\n";

static volatile sig_atomic_t stop_signal;
static struct sigaction old_int, old_term;
static struct timespec stop_time;

/* The first SIGINT/SIGTERM asks for a checkpoint and a clean stop. One stop often arrives
 * twice within milliseconds: Ctrl-C signals the terminal's whole process group, and mpirun (or
 * timeout) passes it on to the ranks again. So only a second signal a second or more after the
 * first means "give up at once", the way cli_init's handler does. */
static void on_stop(int sig)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now); /* async-signal-safe */
	if (stop_signal) {
		double since =
			(double)(now.tv_sec - stop_time.tv_sec) + 1e-9 * (double)(now.tv_nsec - stop_time.tv_nsec);
		if (since < 1.0)
			return;
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		raise(sig);
		return;
	}
	stop_time = now;
	stop_signal = sig;
}

static void catch_stop_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
}

/* ---- the options: one table for every model (lib/cliopt.h) ----
 * Options of SampleRNN and WaveNet belong to G_SRNN or G_WN or both; DDSP's (qtrain --model
 * ddsp) to G_DDSP; options of every model to none. An option that DDSP takes with another range
 * or default has an entry of each. */
enum { G_SRNN = 1, G_WN = 2, G_DDSP = 4, G_CODES = G_SRNN | G_WN };

/* Architecture options given on the command line (-1: not given). */
typedef struct {
	const char *preset, *frames, *dilations;
	int dim, layers, rnn, embed, levels, learn_h0, rnn_wn, seq, batch;
	int res_ch, dil_ch, skip_ch, n_out, input, init_width;
} arch_args;

/* Everything the command line says; -1 (or NULL): not given, the model's or checkpoint's value. */
static struct {
	arch_args arch;
	int kind; /* model_kind, or DDSP_KIND */
	const char *rundir, *resume, *quant, *sample_prime, *device;
	double lr, eps, clip_value, minutes, sample_seconds, sample_temp, split[3];
	int clip, threads, rate;
	long steps, epochs, ckpt_every, sample_every, sample_count, keep_every, seed;
} args = {
	.arch = {NULL, NULL, NULL, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
	.device = "cpu",
	.lr = -1,
	.eps = -1,
	.clip_value = -1,
	.sample_seconds = 4,
	.sample_temp = 0.95,
	.split = {88, 6, 6},
	.clip = -1,
	.rate = -1,
	.steps = -1,
	.epochs = -1,
	.ckpt_every = 500,
	.sample_count = 3,
	.seed = CLI_DEFAULT_SEED,
};
enum { DDSP_KIND = 2 };

/* --split T,V,X of SampleRNN and WaveNet: three percentages adding up to 100, train > 0 */
static int parse_split(const char *arg, void *dest)
{
	double *pct = dest;
	const char *p = arg;
	char *end;
	for (int i = 0; i < 3; i++) {
		pct[i] = strtod(p, &end);
		if (end == p || !(pct[i] >= 0 && pct[i] <= 100) || (i < 2 && *end != ',' && *end != '/') ||
		    (i == 2 && *end))
			return sh_error("expected three percentages like 88,6,6, got '%s'", arg);
		p = end + 1;
	}
	if (fabs(pct[0] + pct[1] + pct[2] - 100) > 1e-9 || pct[0] <= 0)
		return sh_error("the percentages must add up to 100 and train must be > 0");
	return 0;
}

/* --split of DDSP (whose test share may be 0) */
static int parse_ddsp_split(const char *arg, void *dest)
{
	double *pct = dest;
	if (sscanf(arg, "%lf,%lf,%lf", &pct[0], &pct[1], &pct[2]) != 3 || pct[0] <= 0 || pct[1] < 0 || pct[2] < 0 ||
	    fabs(pct[0] + pct[1] + pct[2] - 100) > 1e-9)
		return sh_error("expected three percentages adding up to 100, got '%s'", arg);
	return 0;
}

static int parse_frame_sizes(const char *arg, void *dest)
{
	srnn_config c;
	if (srnn_parse_frame_sizes(arg, &c) < 0)
		return -1;
	*(const char **)dest = arg;
	return 0;
}

static int parse_dilations(const char *arg, void *dest)
{
	wn_config c;
	if (wn_parse_dilations(arg, &c) < 0)
		return -1;
	*(const char **)dest = arg;
	return 0;
}

/* --quantization: refused now, not at the first clip */
static int parse_quantization(const char *arg, void *dest)
{
	if (trn_quant_mode(arg) < 0)
		return -1;
	*(const char **)dest = arg;
	return 0;
}

/* --model of a DDSP run (--model ddsp, or --resume of a DDSP checkpoint): ddsp alone */
static int parse_ddsp_model(const char *arg, void *dest)
{
	(void)dest;
	return strcmp(arg, "ddsp") ? sh_error("'%s': this is a DDSP run", arg) : 0;
}

static const cli_choice models[] = {{"samplernn", MODEL_SAMPLERNN}, {"wavenet", MODEL_WAVENET}, {NULL, 0}};
static const cli_choice rnns[] = {{"lstm", SRNN_LSTM}, {"gru", SRNN_GRU}, {NULL, 0}};
static const cli_choice inputs[] = {
	{"onehot", WN_INPUT_ONEHOT}, {"embed", WN_INPUT_EMBED}, {"scalar", WN_INPUT_SCALAR}, {NULL, 0}};
static const cli_choice clip_modes[] = {
	{"elementwise", TRN_CLIP_ELEMENTWISE}, {"norm", TRN_CLIP_NORM}, {"none", TRN_CLIP_NONE}, {NULL, 0}};

#define A(field) &args.arch.field
static cli_opt table[] = {
	{NULL, 'o', "RUNDIR", CLI_STRING, &args.rundir,
	 .help = "run directory: last/best.safetensors, log.tsv, loss.png, run.json", .group = G_CODES},
	{NULL, 'o', "RUNDIR", CLI_STRING, &args.rundir,
	 .help = "run directory: last/best.safetensors, features.safetensors, log.tsv,\nloss.png, run.json, samples/",
	 .group = G_DDSP},
	{"model", 0, "NAME", CLI_CHOICE, &args.kind, .choices = models, .def = "samplernn",
	 .help = "samplernn, wavenet, or ddsp (with options of its own)", .group = G_CODES},
	{"model", 0, "NAME", CLI_CALL, NULL, .parse = parse_ddsp_model, .help = "ddsp", .group = G_DDSP},
	{"preset", 0, "NAME", CLI_STRING, A(preset),
	 .help = "samplernn: tiny, small (default), medium or dadabots;\n"
		 "wavenet: tiny or default (default); the options below override it",
	 .group = G_CODES},
	{"preset", 0, "NAME", CLI_STRING, A(preset), .def = "small", .help = "tiny, small or paper", .group = G_DDSP},
	{"levels", 0, "Q", CLI_INT, A(levels), 2, 65536, .help = "quantisation levels (256)", .group = G_CODES},
	{"batch", 0, "B", CLI_INT, A(batch), 1, 1 << 16, .help = "rows per step", .group = G_CODES},
	{"batch", 0, "B", CLI_INT, A(batch), 1, 4096, .help = "examples per step", .group = G_DDSP},
	{NULL, 0, NULL, CLI_HEADING, .help = "SampleRNN:", .group = G_CODES},
	{"frame-sizes", 0, "LIST", CLI_CALL, A(frames), .parse = parse_frame_sizes,
	 .help = "frame sizes of the frame tiers: 16 (2-tier) or 64,16 (3-tier)", .group = G_SRNN},
	{"dim", 0, "D", CLI_INT, A(dim), 1, 65536, .help = "RNN and sample-tier width", .group = G_SRNN},
	{"layers", 0, "L", CLI_INT, A(layers), 1, 64, .help = "RNN layers per frame tier", .group = G_SRNN},
	{"rnn", 0, "lstm|gru", CLI_CHOICE, A(rnn), .choices = rnns, .help = "recurrent cell", .group = G_SRNN},
	{"embed", 0, "E", CLI_INT, A(embed), 1, 65536,
	 .help = "sample-tier embedding size; WaveNet: that of --input embed\n(default E = R)", .group = G_CODES},
	{"learn-h0", 0, NULL, CLI_FLAG, A(learn_h0), .help = "learn the initial recurrent state", .group = G_SRNN},
	{"rnn-weight-norm", 0, NULL, CLI_FLAG, A(rnn_wn), .help = "weight normalisation on the recurrent matrices too",
	 .group = G_SRNN},
	{"seq", 0, "N", CLI_INT, A(seq), 1, 1 << 24, .help = "truncated-BPTT window in samples", .group = G_SRNN},
	{NULL, 0, NULL, CLI_HEADING, .help = "WaveNet:", .group = G_CODES},
	{"dilations", 0, "LIST", CLI_CALL, A(dilations), .parse = parse_dilations,
	 .help = "dilations of the layers: 1,2,4,8 or 1..512x5 (powers of two, repeated)", .group = G_WN},
	{"residual-channels", 0, "R", CLI_INT, A(res_ch), 1, 8192, .help = "residual channels", .group = G_WN},
	{"dilation-channels", 0, "C", CLI_INT, A(dil_ch), 1, 8192, .help = "filter and gate channels", .group = G_WN},
	{"skip-channels", 0, "S", CLI_INT, A(skip_ch), 1, 8192, .help = "skip channels", .group = G_WN},
	{"n-out", 0, "N", CLI_INT, A(n_out), 1, 1 << 24,
	 .help = "targets per row (a row is the receptive field + N codes)", .group = G_WN},
	{"input", 0, "MODE", CLI_CHOICE, A(input), .choices = inputs,
	 .help = "input layer: onehot (default: one-hot of the code, causal conv\n"
		 "of width 2), embed (a learned embedding of --embed E values per\n"
		 "code, then that conv), scalar (the code as one value\n"
		 "code/(Q/2) - 1, causal conv of width --initial-width W, default 32)",
	 .group = G_WN},
	{"initial-width", 0, "W", CLI_INT, A(init_width), 1, WN_MAX_INITIAL_WIDTH,
	 .help = "input conv width of --input scalar (receptive field Σ dilations + W)", .group = G_WN},
	{NULL, 0, NULL, CLI_HEADING, .help = "training:", .group = G_CODES},
	{"lr", 0, "LR", CLI_DOUBLE, &args.lr, TRN_LR_MIN, TRN_LR_MAX, .help = "Adam learning rate (1e-3)",
	 .group = G_CODES},
	{"lr", 0, "LR", CLI_DOUBLE, &args.lr, 1e-30, 1e3,
	 .help = "Adam learning rate (1e-3; paper 3e-4), decayed x0.98 per 10k steps", .group = G_DDSP},
	{"adam-eps", 0, "EPS", CLI_DOUBLE, &args.eps, TRN_EPS_MIN, TRN_EPS_MAX,
	 .help = "Adam epsilon (1e-8; wavenet 1e-4)", .group = G_CODES},
	{"clip", 0, "MODE", CLI_CHOICE, &args.clip, .choices = clip_modes,
	 .help = "elementwise (samplernn default, the dadabots' ±1), norm (PRiSM),\nnone (wavenet default)",
	 .group = G_CODES},
	{"clip-value", 0, "V", CLI_DOUBLE, &args.clip_value, TRN_CLIP_VALUE_MIN, TRN_CLIP_VALUE_MAX,
	 .help = "clip bound (1 elementwise, 5 norm)", .group = G_CODES},
	{"clip-value", 0, "V", CLI_DOUBLE, &args.clip_value, 0, 1e30, .def = "3",
	 .help = "global gradient norm bound, 0 none", .group = G_DDSP},
	{"steps", 0, "N", CLI_LONG, &args.steps, 0, LONG_MAX, .help = "stop at step N (counted from the run's start)"},
	{"epochs", 0, "E", CLI_LONG, &args.epochs, 1, LONG_MAX, .help = "stop after E epochs"},
	{"minutes", 0, "M", CLI_DOUBLE, &args.minutes, 1e-6, 1e9, .help = "stop after M minutes of this invocation"},
	{"checkpoint-every", 0, "K", CLI_LONG, &args.ckpt_every, 1, LONG_MAX, .def = "500",
	 .help = "validate and write checkpoints every K steps", .group = G_CODES},
	{"checkpoint-every", 0, "K", CLI_LONG, &args.ckpt_every, 1, LONG_MAX, .def = "500",
	 .help = "validate, checkpoint and write clips every K steps", .group = G_DDSP},
	{"keep-every", 0, "K", CLI_LONG, &args.keep_every, 1, LONG_MAX,
	 .help = "also keep the checkpoint of every K-th step as RUNDIR/stepNNNNNNN.safetensors", .group = G_CODES},
	{"seed", 0, "S", CLI_LONG, &args.seed, 0, LONG_MAX, .def = "1",
	 .help = "seed of initialisation, split and shuffling", .group = G_CODES},
	{"seed", 0, "S", CLI_LONG, &args.seed, 0, LONG_MAX, .def = "123", .help = "seed", .group = G_DDSP},
	{"split", 0, "T,V,X", CLI_CALL, args.split, .parse = parse_split, .def = "88,6,6",
	 .help = "percentages of records for train, valid, test", .group = G_CODES},
	{"split", 0, "T,V,X", CLI_CALL, args.split, .parse = parse_ddsp_split, .def = "90,10,0",
	 .help = "percentages of examples for train, valid, test", .group = G_DDSP},
	{"threads", 0, "N", CLI_INT, &args.threads, 1, 4096, .def = "every core", .help = "threads"},
	{"device", 0, "NAME", CLI_STRING, &args.device, .def = "cpu",
	 .help = "where the model trains: cpu or cuda (WaveNet only; docs/cuda.md)", .group = G_CODES},
	{"resume", 0, "CKPT|RUNDIR", CLI_STRING, &args.resume,
	 .help = "continue a run exactly where CKPT (RUNDIR/last.safetensors) stopped"},
	{"sample-every", 0, "K", CLI_LONG, &args.sample_every, 1, LONG_MAX,
	 .help = "every K steps, write clips to RUNDIR/samples/ (qsample's generator)", .group = G_CODES},
	{"sample-seconds", 0, "S", CLI_DOUBLE, &args.sample_seconds, 1e-3, 3600, .def = "4",
	 .help = "length of those clips", .group = G_CODES},
	{"sample-count", 0, "N", CLI_LONG, &args.sample_count, 1, 1024, .def = "3", .help = "clips each time",
	 .group = G_CODES},
	{"sample-count", 0, "N", CLI_LONG, &args.sample_count, 0, 1024, .def = "2",
	 .help = "held-out examples resynthesised into RUNDIR/samples/", .group = G_DDSP},
	{"sample-temp", 0, "T", CLI_DOUBLE, &args.sample_temp, 0, 100, .def = "0.95", .help = "their temperature",
	 .group = G_CODES},
	{"sample-prime", 0, "FILE", CLI_STRING, &args.sample_prime,
	 .help = "those clips continue FILE (audio, or codes: as qsample --prime)", .group = G_CODES},
	{NULL, 'r', "RATE", CLI_INT, &args.rate, SH_RATE_MIN, SH_RATE_MAX,
	 .help = "sample rate of the data, recorded in checkpoints (default: the rate\n"
		 "the data carry, else 16000); data at another rate are refused",
	 .group = G_CODES},
	{"quantization", 0, "NAME", CLI_CALL, &args.quant, .parse = parse_quantization, .def = "mulaw",
	 .help = "how the codes were made, recorded in checkpoints: mulaw,\ndadabots or linear (mulaw's modes)",
	 .group = G_CODES},
	{.kind = CLI_END},
};
#undef A
static cli_opts cli = {.head = usage_head, .foot = usage_foot, .opts = table};
static const char *usage; /* the --help text of the model in force */

/* Parses the options of the model in force (DDSP's or SampleRNN's and WaveNet's); returns the
 * index of the first data file. */
static int parse_options(int argc, char **argv, int ddsp)
{
	if (ddsp) {
		cli.head = ddsp_usage_head, cli.foot = NULL, cli.groups = G_DDSP;
		args.kind = DDSP_KIND, args.seed = 123, args.sample_count = 2;
		memcpy(args.split, (double[]){90, 10, 0}, sizeof args.split);
	} else {
		cli.groups = G_CODES;
	}
	usage = cli_opts_usage(&cli);
	int first = cli_opts_parse(&cli, argc, argv);
	if (!args.rundir)
		cli_usage_error(usage, "-o RUNDIR is required");
	if (backend_name_check(args.device) < 0)
		cli_usage_error(usage, "--device: %s", sh_errmsg());
	return first;
}

/* The preset of the model (samplernn small, wavenet default when none is named). */
static void apply_preset(const arch_args *a, model_config *c)
{
	if (c->kind == MODEL_WAVENET) {
		if (wn_preset(a->preset ? a->preset : "default", &c->wn) < 0)
			cli_usage_error(usage, "--preset: unknown WaveNet preset '%s' (tiny, default)", a->preset);
	} else if (srnn_preset(a->preset ? a->preset : "small", &c->srnn) < 0) {
		cli_usage_error(usage, "--preset: unknown preset '%s' (tiny, small, medium, dadabots)", a->preset);
	}
}

/* dst->field = the option's value, where it was given (-1: not given) */
#define SET(dst, field, arg)                                                                                           \
	do {                                                                                                           \
		if (a->arg >= 0)                                                                                       \
			(dst)->field = a->arg;                                                                         \
	} while (0)

static void apply_arch(const arch_args *a, model_config *mc)
{
	if (mc->kind == MODEL_WAVENET) {
		wn_config *w = &mc->wn;
		if (a->dilations && wn_parse_dilations(a->dilations, w) < 0)
			cli_usage_error(usage, "--dilations: %s", sh_errmsg());
		SET(w, res_ch, res_ch);
		SET(w, dil_ch, dil_ch);
		SET(w, skip_ch, skip_ch);
		SET(w, n_out, n_out);
		SET(w, levels, levels);
		SET(w, batch, batch);
		SET(w, input, input);
		SET(w, embed, embed);
		SET(w, initial_width, init_width);
		/* the input layer's size: given, kept (resuming such a model), or its default; none
		 * for the other input layers */
		if (a->embed >= 0 && w->input != WN_INPUT_EMBED)
			cli_usage_error(usage,
					"--embed: WaveNet's embedding size is for --input embed (the "
					"input is %s)",
					wn_input_name(w->input));
		if (a->embed > WN_MAX_EMBED)
			cli_usage_error(usage, "--embed: expected 1 to %d for WaveNet, got %d", WN_MAX_EMBED, a->embed);
		if (a->init_width >= 0 && w->input != WN_INPUT_SCALAR)
			cli_usage_error(usage, "--initial-width: for --input scalar (the input is %s)",
					wn_input_name(w->input));
		if (w->input != WN_INPUT_EMBED)
			w->embed = 0;
		else if (!w->embed)
			w->embed = w->res_ch;
		if (w->input != WN_INPUT_SCALAR)
			w->initial_width = 0;
		else if (!w->initial_width)
			w->initial_width = 32; /* tensorflow-wavenet's initial_filter_width */
		return;
	}
	srnn_config *c = &mc->srnn;
	if (a->frames && srnn_parse_frame_sizes(a->frames, c) < 0)
		cli_usage_error(usage, "--frame-sizes: %s", sh_errmsg());
	SET(c, dim, dim);
	SET(c, layers, layers);
	SET(c, rnn, rnn);
	SET(c, embed, embed);
	SET(c, levels, levels);
	SET(c, learn_h0, learn_h0);
	SET(c, rnn_weight_norm, rnn_wn);
	SET(c, seq, seq);
	SET(c, batch, batch);
}
#undef SET

/* Options of the other model are refused rather than silently ignored. */
static void check_arch_options(model_kind kind)
{
	const cli_opt *bad = cli_opts_given_outside(&cli, kind == MODEL_WAVENET ? G_WN : G_SRNN);
	char label[64], wavenet_own[512];
	if (bad && kind == MODEL_WAVENET)
		cli_usage_error(usage, "%s is a SampleRNN option (WaveNet's own: %s)",
				cli_opt_label(bad, label, sizeof label),
				cli_opts_names(&cli, G_WN, wavenet_own, sizeof wavenet_own));
	if (bad)
		cli_usage_error(usage, "%s is a WaveNet option (use --model wavenet)",
				cli_opt_label(bad, label, sizeof label));
}

/* ---- under mpirun (dist.h): N ranks train one model; rank 0 alone speaks and writes ----
 * A failure that every rank sees (agree(), a usage error while parsing the same argv) ends
 * every rank with its status after MPI_Finalize; any other exit of a rank (a write error on
 * rank 0, a rank that lost its checkpoint file) aborts the whole job at once (MPI_Abort),
 * never leaving the other ranks waiting in a reduction. */
enum { CHECK_REPLICAS_EVERY = 100 }; /* steps between the ranks' checks of their parameters */
static int agreed_exit, quiet_fd = -1;

static void on_exit_dist(int status, void *arg)
{
	(void)arg;
	if (status == 0 || agreed_exit)
		dist_finalize();
	else
		dist_abort(status);
}

/* Every rank passes its own outcome; when any failed, rank 0 says which rank and why and
 * every rank exits 1. One process: cli_die_lib as usual. */
static void agree(int failed, const char *file)
{
	if (dist_size() == 1) {
		if (failed)
			cli_die_lib(file);
		return;
	}
	enum { MSG = 512 };
	char mine[MSG] = "", *all = malloc((size_t)MSG * dist_size());
	if (failed)
		snprintf(mine, sizeof mine, "%s%s%s", file ? file : "", file ? ": " : "", sh_errmsg());
	if (!all || dist_allgather(mine, all, MSG) < 0)
		cli_die(NULL, "out of memory");
	for (int r = 0; r < dist_size(); r++)
		if (all[(size_t)r * MSG]) {
			if (!dist_rank())
				fprintf(stderr, "%s: rank %d: %s\n", prog_name, r, all + (size_t)r * MSG);
			agreed_exit = 1;
			exit(1);
		}
	free(all);
}

/* Joins the job; ranks other than 0 keep quiet while every rank parses the same options
 * (compared first), so that a usage error is said once. */
static void dist_start(int *argc, char ***argv)
{
	if (dist_init(argc, argv) < 0)
		cli_die(NULL, "%s", sh_errmsg());
	if (!dist_active())
		return;
	on_exit(on_exit_dist, NULL);
	uint64_t h = SH_FNV_INIT;
	for (int i = 1; i < *argc; i++)
		h = sh_fnv1a(h, (*argv)[i], strlen((*argv)[i]) + 1);
	uint64_t *all = malloc(dist_size() * sizeof *all);
	if (!all || dist_allgather(&h, all, sizeof h) < 0)
		cli_die(NULL, "out of memory");
	int other = 0; /* the first rank whose command differs from rank 0's */
	for (int r = dist_size() - 1; r > 0; r--)
		other = all[r] != all[0] ? r : other;
	free(all);
	if (other)
		sh_error("was given other options than rank 0 (every rank must run the same command)");
	agree(other && dist_rank() == other, NULL);
	agreed_exit = 1; /* the same argv: a usage error is every rank's */
	if (dist_rank()) {
		fflush(stderr);
		quiet_fd = dup(2);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 2), close(null);
	}
}

/* After the options: every rank speaks for itself again. */
static void dist_options_parsed(void)
{
	if (quiet_fd >= 0)
		dup2(quiet_fd, 2), close(quiet_fd), quiet_fd = -1;
	agreed_exit = 0;
}

/* The fraction of records or examples for training, validation and test, in percent. */
/* The same data on every rank: their fingerprints compared, the first other one refused. */
static void agree_same_data(uint64_t fingerprint)
{
	if (dist_size() == 1)
		return;
	uint64_t *fps = malloc(dist_size() * sizeof *fps);
	if (!fps || dist_allgather(&fingerprint, fps, sizeof *fps) < 0)
		cli_die(NULL, "out of memory");
	int other = 0;
	for (int r = dist_size() - 1; r > 0; r--)
		other = fps[r] != fps[0] ? r : other;
	if (other)
		sh_error("read other data than rank 0 (fingerprint %016llx, rank 0's %016llx)",
			 (unsigned long long)fps[other], (unsigned long long)fps[0]);
	free(fps);
	agree(other && dist_rank() == other, NULL);
}

/* The ranks stop together, before each step: on a signal to any (stop_signal is set on every
 * rank), or when rank 0's time is up (returned to every rank). */
static int agree_stop(int time_up)
{
	if (dist_size() == 1)
		return time_up;
	int want = dist_max_int(2 * stop_signal + (!dist_rank() && time_up));
	stop_signal = want / 2 ? want / 2 : stop_signal;
	return want & 1;
}

/* The summary's note on the ranks: the share of rank 0's time spent in the reduction (the sums
 * and the wait for the slowest rank); "" in one process. */
static void ranks_note(char *buf, size_t cap, double reduce_seconds, double elapsed)
{
	*buf = 0;
	if (dist_size() > 1)
		snprintf(buf, cap, "; %d ranks, %.0f%% of the time in the reduction", dist_size(),
			 elapsed > 0 ? 100 * reduce_seconds / elapsed : 0);
}

static void json_split(json_writer *w, const double *split)
{
	jw_arr(w, "split");
	for (int i = 0; i < 3; i++)
		jw_numf(w, NULL, "%g", split[i]);
	jw_end(w);
}

static void json_config(json_writer *w, const trn_options *o)
{
	jw_obj(w, "model");
	if (o->model.kind == MODEL_WAVENET) {
		const wn_config *c = &o->model.wn;
		jw_str(w, "type", "wavenet");
		jw_arr(w, "dilations");
		for (int i = 0; i < c->nlayers; i++)
			jw_int(w, NULL, c->dilation[i]);
		jw_end(w);
		jw_int(w, "residual_channels", c->res_ch);
		jw_int(w, "dilation_channels", c->dil_ch);
		jw_int(w, "skip_channels", c->skip_ch);
		jw_int(w, "levels", c->levels);
		jw_int(w, "n_out", c->n_out);
		jw_int(w, "batch", c->batch);
		jw_int(w, "receptive_field", wn_receptive_field(c));
		jw_str(w, "input", wn_input_name(c->input));
		/* the input layer's size where it has one, null for the others */
		if (c->input == WN_INPUT_EMBED)
			jw_int(w, "embed", c->embed);
		else
			jw_null(w, "embed");
		if (c->input == WN_INPUT_SCALAR)
			jw_int(w, "initial_width", c->initial_width);
		else
			jw_null(w, "initial_width");
	} else {
		const srnn_config *c = &o->model.srnn;
		jw_str(w, "type", "samplernn");
		jw_arr(w, "frame_sizes");
		for (int i = 0; i < c->nframe_tiers; i++)
			jw_int(w, NULL, c->frame_size[i]);
		jw_end(w);
		jw_int(w, "dim", c->dim);
		jw_int(w, "layers", c->layers);
		jw_str(w, "rnn", c->rnn == SRNN_GRU ? "gru" : "lstm");
		jw_int(w, "embed", c->embed);
		jw_int(w, "levels", c->levels);
		jw_bool(w, "learn_h0", c->learn_h0);
		jw_bool(w, "rnn_weight_norm", c->rnn_weight_norm);
		jw_int(w, "seq", c->seq);
		jw_int(w, "batch", c->batch);
	}
	jw_end(w);
	jw_obj(w, "training");
	jw_numf(w, "lr", "%.17g", o->lr);
	jw_numf(w, "adam_beta1", "%.17g", o->beta1);
	jw_numf(w, "adam_beta2", "%.17g", o->beta2);
	jw_numf(w, "adam_eps", "%.17g", o->eps);
	jw_str(w, "clip", o->clip == TRN_CLIP_NORM ? "norm" : o->clip == TRN_CLIP_NONE ? "none" : "elementwise");
	jw_numf(w, "clip_value", "%.17g", o->clip_value);
	json_split(w, o->split);
	jw_int(w, "sample_rate", o->sample_rate);
	jw_str(w, "quantization", o->quantization);
	jw_end(w);
}

typedef struct {
	int argc;
	char **argv;
	const char *rundir, *resume;
	int threads;
	long start_step;
	char started[32];
} run_info;

/* run.json's opening, common to every model: the command, where and when it ran, the seed,
 * threads and ranks, the run id (SampleRNN and WaveNet), what it resumed, and the data's files (the data object is left open for
 * the model's own counts) */
static void run_json_head(json_writer *w, const run_info *ri, const char *run_id, uint64_t seed, char *const *files,
			  int nfiles)
{
	jw_init(w, JW_PRETTY_TOP);
	jw_obj(w, NULL);
	jw_str(w, "program", "qtrain");
	jw_arr(w, "command");
	for (int i = 0; i < ri->argc; i++)
		jw_str(w, NULL, ri->argv[i]);
	jw_end(w);
	char cwd[4096];
	jw_str(w, "cwd", getcwd(cwd, sizeof cwd) ? cwd : "");
	jw_str(w, "started", ri->started);
	if (run_id)
		jw_str(w, "run_id", run_id);
	jw_uint(w, "seed", seed);
	jw_int(w, "threads", ri->threads);
	jw_int(w, "ranks", dist_size());
	jw_str(w, "resumed_from", ri->resume);
	jw_int(w, "start_step", ri->start_step);
	jw_obj(w, "data");
	jw_arr(w, "files");
	for (int i = 0; i < nfiles; i++)
		jw_str(w, NULL, files[i]);
	jw_end(w);
}

/* run.json's end: the libraries, how the run ended (when it has), then the file written
 * atomically */
static void run_json_finish(json_writer *w, const run_info *ri, const char *ended, long step, double epoch,
			    double seconds)
{
	/* the command line's settings: each option as given, its default, or null (the preset's,
	 * in "model" and "training"); resumed, null for every option not given (the checkpoint's) */
	cli_opts_json(&cli, w, "options", ri->resume != NULL);
	jw_obj(w, "libraries");
	trn_lib_versions_json(w);
	jw_end(w);
	if (ended) {
		jw_str(w, "ended", ended);
		jw_int(w, "final_step", step);
		jw_numf(w, "epoch", "%.6f", epoch);
		jw_numf(w, "seconds", "%.1f", seconds);
	}
	jw_end(w);
	sh_buf_add(&w->out, "\n", 1);
	char path[4096];
	snprintf(path, sizeof path, "%s/run.json", ri->rundir);
	const char *text = jw_text(w);
	if (!text || sh_write_file(path, text, strlen(text)) < 0)
		cli_die_lib(NULL);
	jw_free(w);
}

/* RUNDIR/run.json: what was run, on what, with which libraries; rewritten at the end with how
 * the run ended. */
static void write_run_json(const run_info *ri, const trn_options *o, const trn_data *d, const trn_run *t,
			   const char *ended, double seconds)
{
	json_writer w;
	char id[17];
	snprintf(id, sizeof id, "%016llx", (unsigned long long)trn_run_id(o, d->fingerprint));
	run_json_head(&w, ri, id, o->seed, d->files, d->nfiles);
	jw_int(&w, "records", d->nrec);
	jw_uint(&w, "samples", d->total);
	snprintf(id, sizeof id, "%016llx", (unsigned long long)d->fingerprint);
	jw_str(&w, "fingerprint", id);
	jw_arr(&w, "split_records");
	jw_int(&w, NULL, d->ntrain);
	jw_int(&w, NULL, d->nvalid);
	jw_int(&w, NULL, d->ntest);
	jw_end(&w);
	jw_end(&w);
	json_config(&w, o);
	jw_uint(&w, "parameters", t->nparams);
	jw_numf(&w, "train_flops_per_step", "%.6g", model_train_flops(&o->model, model_batch(&o->model)));
	run_json_finish(&w, ri, ended, t->step, trn_feed_epoch(&t->feed), seconds);
}

/* Why training ends now, or NULL to go on: a signal, --steps reached, --epochs completed, or
 * --minutes used up (the run.json "ended" words) */
static const char *end_reason(int signal, long step, long steps, double epoch, long epochs, int time_up)
{
	if (signal)
		return signal == SIGTERM ? "SIGTERM" : "SIGINT";
	if (steps >= 0 && step >= steps)
		return "steps";
	if (epochs > 0 && epoch >= epochs)
		return "epochs";
	return time_up ? "minutes" : NULL;
}

/* Training diverged: say where, and which checkpoint is left (none is written now). */
static void diverged(cli_progress *prog, const char *rundir, long step, const char *what, long last_ckpt)
{
	if (dist_rank())
		return;
	cli_progress_clear(prog); /* a failure is told under -q too */
	if (last_ckpt >= 0)
		cli_warn(rundir,
			 "step %ld: %s; stopping (last.safetensors keeps step %ld, the last good "
			 "checkpoint)",
			 step, what, last_ckpt);
	else
		cli_warn(rundir, "step %ld: %s; stopping (no checkpoint was written)", step, what);
}

/* One qtrain per run directory: an exclusive flock on RUNDIR/.lock, held (the descriptor
 * open) for the life of the process and released by the kernel however it ends. The file
 * stays: removing it would let a third process lock a new file while a second holds the old. */
static void lock_rundir(const char *rundir)
{
	char path[4096], pid[32] = "";
	cli_pathf(path, sizeof path, "%s/.lock", rundir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		cli_die(path, "cannot create the lock: %s", strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno != EWOULDBLOCK)
			cli_die(path, "cannot lock: %s", strerror(errno));
		ssize_t n = read(fd, pid, sizeof pid - 1);
		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		cli_die(rundir, "in use by another qtrain (pid %s); a run directory takes one at a time",
			*pid ? pid : "unknown");
	}
	char line[32];
	int n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || write(fd, line, (size_t)n) != n)
		cli_die(path, "cannot write: %s", strerror(errno));
}

/* What a qtrain killed with SIGKILL leaves: its outputs' temporary names (NAME.tmpPID, see
 * sh_tmp_name). Only those names of our own files are removed, and only under the lock, when
 * no other qtrain can be writing them. */
static void remove_stale_tmp(const char *dir, int clips)
{
	static const char *const ours[] = {"last.safetensors", "best.safetensors", "log.tsv", "loss.png", "run.json"};
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[4096];
	while ((e = readdir(d))) {
		const char *t = strstr(e->d_name, ".tmp");
		if (!t || !t[4] || strspn(t + 4, "0123456789") != strlen(t + 4))
			continue;
		int mine = 0;
		size_t stem = (size_t)(t - e->d_name);
		for (size_t i = 0; i < SH_ARRAY_LEN(ours) && !mine; i++)
			mine = strlen(ours[i]) == stem && !strncmp(e->d_name, ours[i], stem);
		if (clips)
			mine = stem > 4 && !strncmp(t - 4, ".wav", 4);
		cli_pathf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (mine && unlink(path) == 0)
			cli_warn(path, "removed (left by a run that was killed)");
	}
	closedir(d);
}

/* The run RUNDIR holds: the run_id of its run.json, or for a run from before run ids the one
 * its last.safetensors describes. Returns 0 when it holds none. */
static int rundir_run_id(const char *rundir, uint64_t *id)
{
	char path[4096];
	cli_pathf(path, sizeof path, "%s/run.json", rundir);
	FILE *f = fopen(path, "rb");
	if (f) {
		sh_buf b = {0};
		char chunk[4096];
		size_t got;
		while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
			sh_buf_printf(&b, "%.*s", (int)got, chunk);
		fclose(f);
		json_value *v = b.s ? json_parse(b.s, b.n) : NULL;
		free(b.s);
		if (!v)
			cli_die(path, "cannot read the run's record: %s", sh_errmsg());
		const json_value *r = json_get(v, "run_id");
		char *end = NULL;
		if (r && r->type == JSON_STR)
			*id = strtoull(r->str, &end, 16);
		int found = end && end != r->str && !*end;
		json_free(v);
		if (found)
			return 1;
		if (r)
			cli_die(path, "bad run_id");
	}
	cli_pathf(path, sizeof path, "%s/last.safetensors", rundir);
	if (access(path, F_OK))
		return 0;
	st_file ck;
	if (st_load(path, &ck) < 0 || trn_ckpt_run_id(&ck, id) < 0)
		cli_die_lib(path);
	st_free(&ck);
	return 1;
}

/* trn_checkpoint, then the loss plot when it added a log row: the plot is the program's, not
 * the loop's */
static int checkpoint(trn_run *run, const trn_data *data, const char *rundir, trn_log *log, int full, double seconds,
		      double sps, volatile sig_atomic_t *stop, trn_log_row *row)
{
	int rows = log->n;
	int rc = trn_checkpoint(run, data, rundir, log, full, seconds, sps, stop, row);
	if (rc || log->n == rows)
		return rc;
	char path[4096];
	snprintf(path, sizeof path, "%s/loss.png", rundir);
	return trn_log_plot(log, path);
}

static int ddsp_main(int argc, char **argv, int first);
static int wants_ddsp(int argc, char **argv);

/* A run of SampleRNN or WaveNet: its options, data, run directory and state, and how it went. */
typedef struct {
	trn_options opt;
	st_file ckpt; /* the checkpoint resumed */
	char resume_path[4096];
	uint64_t ckpt_run;
	uint16_t *sample_prime; /* the clips' prime, codes */
	long sample_prime_len;
	trn_data data;
	int rank0; /* writes the run directory */
	char samples_dir[4096];
	trn_run run;
	backend *device; /* NULL: the CPU's own code */
	trn_log log;
	double seconds0; /* of the run before this invocation */
	fad_stats *heldout;
	run_info ri;
	/* the loop */
	cli_progress prog;
	double t0, step_time; /* step_time leaves out the invocation's first step */
	long start_step, last_ckpt_step;
	double last_bits, last_valid;
	const char *ended;
	int status;
} trainer;

/* The options: from the checkpoint when resuming, then what the command line says. */
static void resolve_options(trainer *t)
{
	trn_options *opt = &t->opt;
	const int model_given = cli_opts_given(&cli, &args.kind), seed_given = cli_opts_given(&cli, &args.seed);
	const int split_given = cli_opts_given(&cli, args.split);
	if (args.resume) {
		if (cli_is_dir_path(args.resume))
			snprintf(t->resume_path, sizeof t->resume_path, "%s/last.safetensors", args.resume);
		else
			snprintf(t->resume_path, sizeof t->resume_path, "%s", args.resume);
		agree(st_load(t->resume_path, &t->ckpt) < 0 || trn_meta_options(&t->ckpt, opt) < 0 ||
			      trn_ckpt_run_id(&t->ckpt, &t->ckpt_run) < 0,
		      t->resume_path);
		/* the model defaults to the checkpoint's; what is given must match it */
		model_config asked = opt->model;
		if (model_given)
			asked.kind = (model_kind)args.kind;
		check_arch_options(asked.kind);
		if (args.arch.preset || asked.kind != opt->model.kind)
			apply_preset(&args.arch, &asked);
		apply_arch(&args.arch, &asked);
		char diff[WN_MAX_LAYERS * 20];
		if (model_config_diff(&opt->model, &asked, diff, sizeof diff))
			cli_die(t->resume_path, "checkpoint of another architecture: %s", diff);
		if (seed_given && (uint64_t)args.seed != opt->seed)
			cli_die(t->resume_path, "checkpoint has seed %llu, --seed says %ld",
				(unsigned long long)opt->seed, args.seed);
		if (args.rate > 0 && args.rate != opt->sample_rate)
			cli_die(t->resume_path, "checkpoint was trained at %d Hz, -r says %d", opt->sample_rate,
				args.rate);
		if (args.quant && strcmp(args.quant, opt->quantization))
			cli_die(t->resume_path, "checkpoint was trained on %s codes, --quantization says %s",
				opt->quantization, args.quant);
		if (split_given && memcmp(args.split, opt->split, sizeof args.split))
			cli_die(t->resume_path, "checkpoint has another --split (%g,%g,%g)", opt->split[0],
				opt->split[1], opt->split[2]);
	} else {
		model_kind kind = (model_kind)args.kind;
		check_arch_options(kind);
		opt->model.kind = kind;
		apply_preset(&args.arch, &opt->model);
		apply_arch(&args.arch, &opt->model);
		/* tensorflow-wavenet trains with Adam eps 1e-4 and no clipping (REFERENCE.md) */
		opt->lr = 1e-3;
		opt->beta1 = 0.9;
		opt->beta2 = 0.999;
		opt->eps = kind == MODEL_WAVENET ? 1e-4 : 1e-8;
		opt->clip = kind == MODEL_WAVENET ? TRN_CLIP_NONE : TRN_CLIP_ELEMENTWISE;
		opt->clip_value = -1;
		opt->seed = (uint64_t)args.seed;
		memcpy(opt->split, args.split, sizeof args.split);
		opt->sample_rate = 16000;
		snprintf(opt->quantization, sizeof opt->quantization, "mulaw");
		if (model_config_check(&opt->model) < 0)
			cli_usage_error(usage, "%s", sh_errmsg());
	}
	if (args.lr > 0)
		opt->lr = args.lr;
	if (args.eps > 0)
		opt->eps = args.eps;
	if (args.clip >= 0) {
		if (args.clip != opt->clip && args.clip_value < 0)
			opt->clip_value = -1;
		opt->clip = args.clip;
	}
	if (args.clip_value > 0)
		opt->clip_value = args.clip_value;
	if (opt->clip_value < 0)
		opt->clip_value = opt->clip == TRN_CLIP_NORM ? 5 : 1;
	if (seed_given)
		opt->seed = (uint64_t)args.seed;
	if (args.rate > 0)
		opt->sample_rate = args.rate;
	if (args.quant)
		snprintf(opt->quantization, sizeof opt->quantization, "%s", args.quant);
	if (trn_options_check(opt) < 0)
		cli_usage_error(usage, "%s", sh_errmsg());
	/* the device, and the model on it, before anything is written */
	agree(backend_device_usable(args.device, model_device_unported(&opt->model)) < 0 &&
		      sh_error_prefix("--device %s", args.device),
	      NULL);
	const int batch = model_batch(&opt->model);
	if (batch % dist_size())
		sh_error("--batch %d does not divide among %d ranks", batch, dist_size());
	agree(batch % dist_size() != 0, NULL);
}

/* The clips' prime, before anything is written. */
static void load_sample_prime(trainer *t)
{
	if (!args.sample_prime)
		return;
	mulaw_quantiser q;
	if (!args.sample_every)
		cli_usage_error(usage, "--sample-prime needs --sample-every");
	if (mulaw_init(&q, (mulaw_mode)trn_quant_mode(t->opt.quantization), model_levels(&t->opt.model)) < 0 ||
	    gen_load_prime(args.sample_prime, t->opt.sample_rate, &q, 0, &t->sample_prime, &t->sample_prime_len) < 0)
		cli_die_lib(cli_in_name(args.sample_prime));
	mulaw_free(&q);
}

/* The data, checked against the model before anything is written (under mpirun every rank
 * reads them: a rank that cannot is reported by rank 0). */
static void read_data(trainer *t, int nfiles, char **files)
{
	trn_data *data = &t->data;
	char *stdin_only[] = {"-"};
	if (!nfiles)
		files = stdin_only;
	const char *bad_file = NULL;
	int bad, failed = 0;
	for (int i = 0; i < (nfiles ? nfiles : 1) && !failed; i++)
		if ((failed = trn_data_add_file(data, files[i]) < 0))
			bad_file = cli_in_name(files[i]);
	if (!failed && !data->nrec)
		failed = sh_error("no records in the data"), bad_file = nfiles == 1 ? files[0] : NULL;
	agree(failed, bad_file);
	/* the rate the records carry: -r and a checkpoint must agree with it; without -r it is the
	 * run's rate (older streams carry none: -r or 16000 then, as before) */
	if (data->rate) {
		const char *what = nfiles == 1 ? cli_in_name(files[0]) : NULL;
		if (args.rate > 0 && args.rate != data->rate)
			cli_die(what, "the data are at %d Hz, -r says %d", data->rate, args.rate);
		if (args.resume && t->opt.sample_rate != data->rate)
			cli_die(t->resume_path, "checkpoint was trained at %d Hz, the data are at %d Hz",
				t->opt.sample_rate, data->rate);
		t->opt.sample_rate = data->rate;
	}
	if ((failed = trn_data_check(data, model_levels(&t->opt.model), model_seq(&t->opt.model), &bad) < 0))
		bad_file = cli_in_name(data->files[data->file[bad]]);
	if (!failed)
		failed = trn_data_split(data, t->opt.seed, t->opt.split) < 0, bad_file = NULL;
	agree(failed, bad_file);
	agree_same_data(data->fingerprint);
}

/* The run directory: made, locked for the life of this process, cleared of what a killed run
 * left, and then (under the lock, so that no other qtrain changes it meanwhile) checked: a new
 * run needs a directory without one; --resume continues the run the directory holds, or forks a
 * run into a directory that holds none. */
static void prepare_rundir(trainer *t)
{
	const char *rundir = args.rundir;
	char path[4096];
	snprintf(path, sizeof path, "%s/last.safetensors", rundir);
	struct stat st;
	t->rank0 = !dist_rank();
	if (t->rank0) {
		cli_mkdirs(rundir);
		lock_rundir(rundir);
	}
	int failed = t->rank0 && !args.resume && !stat(path, &st);
	if (failed)
		sh_error("already holds a run (last.safetensors): continue it with --resume %s, or choose "
			 "another directory",
			 rundir);
	agree(failed, rundir);
	uint64_t dir_run;
	failed = t->rank0 && args.resume && rundir_run_id(rundir, &dir_run) && dir_run != t->ckpt_run;
	if (failed)
		sh_error("checkpoint of another run (run %016llx) than %s holds (run %016llx): continue a run "
			 "in its own directory, or fork it into a new one",
			 (unsigned long long)t->ckpt_run, rundir, (unsigned long long)dir_run);
	agree(failed, t->resume_path);
	if (t->rank0)
		remove_stale_tmp(rundir, 0);
	snprintf(t->samples_dir, sizeof t->samples_dir, "%s/samples", rundir);
	if (args.sample_every && t->rank0)
		cli_mkdirs(t->samples_dir);
	if (t->rank0)
		remove_stale_tmp(t->samples_dir, 1);
}

/* --threads, else the cores of this machine shared by the ranks on it. */
static int set_threads(void)
{
	int threads = args.threads;
	if (threads <= 0)
		threads = (int)sysconf(_SC_NPROCESSORS_ONLN) / dist_local_size();
	if (threads < 1)
		threads = 1;
	omp_set_num_threads(threads);
	openblas_set_num_threads(threads);
	return threads;
}

/* The model (resumed or new), the log, the held-out statistics, run.json; and a checkpoint that
 * a signal cut short, finished. */
static void start_run(trainer *t, int argc, char **argv, int threads)
{
	const char *rundir = args.rundir;
	if (trn_run_init(&t->run, &t->opt, &t->data) < 0)
		cli_die_lib(NULL);
	t->device = strcmp(args.device, "cpu") ? backend_open(args.device) : NULL;
	if (t->device && model_use_backend(t->run.m, t->device) < 0)
		cli_die(NULL, "--device %s: %s", args.device, sh_errmsg());
	if (args.resume) {
		agree(trn_load(&t->run, &t->data, &t->ckpt) < 0, t->resume_path);
		st_free(&t->ckpt);
	}
	agree(trn_check_replicas(&t->run) < 0, args.resume ? t->resume_path : NULL);
	char path[4096];
	snprintf(path, sizeof path, "%s/log.tsv", rundir);
	if (t->rank0 && trn_log_read(&t->log, path, args.resume ? t->run.step : -1) < 0)
		cli_die_lib(NULL);
	t->seconds0 = t->log.n ? t->log.rows[t->log.n - 1].seconds : 0;
	if (t->rank0 && args.sample_every && (t->data.nvalid || t->data.ntest) &&
	    !(t->heldout = trn_heldout_stats(&t->run, &t->data)))
		cli_die_lib(NULL);
	t->ri = (run_info){argc, argv, rundir, args.resume ? t->resume_path : NULL, threads, t->run.step, ""};
	time_t now = time(NULL);
	strftime(t->ri.started, sizeof t->ri.started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	/* from here a signal stops with a checkpoint: before run.json, which tells the world the run began */
	catch_stop_signals();
	if (t->rank0)
		write_run_json(&t->ri, &t->opt, &t->data, &t->run, NULL, t->seconds0);

	/* Resumed at a checkpoint step whose checkpoint was cut short (a signal during it left
	 * last.safetensors without the log row, the best and the restarted train average): finish
	 * it now, as a straight run did, so that the continued run gives the same bytes. */
	/* rank 0 alone reads the log, so it decides, and every rank takes part (validation is shared) */
	trn_log_row row;
	int pending = t->rank0 && args.resume && t->run.step > 0 && t->run.step % args.ckpt_every == 0 &&
		      (!t->log.n || t->log.rows[t->log.n - 1].step != t->run.step);
	if (dist_max_int(pending)) {
		int rc = checkpoint(&t->run, &t->data, rundir, &t->log, 1, t->seconds0, 0, &stop_signal, &row);
		if (rc)
			cli_die(t->resume_path, "%s", rc < 0 ? sh_errmsg() : "the validation loss is not finite");
		if (t->rank0 && args.keep_every && t->run.step % args.keep_every == 0 &&
		    trn_keep_milestone(&t->run, &t->data, rundir) < 0)
			cli_die_lib(NULL);
	}
}

/* Training stopped on a non-finite loss: said, and the run ends with status 1. */
static void stop_diverged(trainer *t, long step, const char *what)
{
	diverged(&t->prog, args.rundir, step, what, t->last_ckpt_step);
	t->ended = "diverged";
	t->status = 1;
}

/* The loop: steps until a stop, with checkpoints, milestones and clips on their steps, and a
 * last checkpoint. */
static void train(trainer *t)
{
	trn_run *run = &t->run;
	const char *rundir = args.rundir;
	const double samples_per_step = (double)model_batch(&t->opt.model) * model_seq(&t->opt.model);
	double interval_time = 0;
	long interval_steps = 0;
	int need_ckpt = 0;
	trn_log_row row;
	t->t0 = sh_now();
	t->start_step = run->step;
	t->last_bits = t->last_valid = NAN;
	t->last_ckpt_step = args.resume ? run->step : -1;
	cli_progress_start(&t->prog, "training", args.steps > 0 ? (double)(args.steps - t->start_step) : 0, "steps");
	for (;;) {
		int time_up = agree_stop(args.minutes > 0 && sh_now() - t->t0 >= args.minutes * 60);
		if ((t->ended = end_reason(stop_signal, run->step, args.steps, (double)run->feed.epoch, args.epochs,
					   time_up)))
			break;
		double ts = sh_now();
		double loss = trn_step(run, &t->data);
		double dt = sh_now() - ts;
		if (!isfinite(loss)) {
			stop_diverged(t, run->step + 1,
				      isnan(loss) ? "the training loss or a gradient is nan"
						  : "the training loss or a gradient is infinite");
			break;
		}
		if (run->step % CHECK_REPLICAS_EVERY == 0)
			agree(trn_check_replicas(run) < 0, NULL);
		interval_time += dt;
		if (run->step - t->start_step > 1)
			t->step_time += dt;
		interval_steps++;
		need_ckpt = 1;
		t->last_bits = loss / M_LN2;
		char extra[128];
		snprintf(extra, sizeof extra, "step %ld, %.3f bits, %.0f samples/s", run->step, t->last_bits,
			 interval_time > 0 ? interval_steps * samples_per_step / interval_time : 0);
		cli_progress_update(&t->prog, (double)(run->step - t->start_step), extra);
		if (run->step % args.ckpt_every == 0 || (args.keep_every && run->step % args.keep_every == 0) ||
		    (args.sample_every && run->step % args.sample_every == 0)) {
			double sps = interval_time > 0 ? interval_steps * samples_per_step / interval_time : 0;
			if (t->data.nvalid) { /* say why the bar stops moving (drawn now, not rate-limited) */
				snprintf(extra, sizeof extra, "step %ld, validating on %d records", run->step,
					 t->data.nvalid);
				t->prog.last_draw = 0;
				cli_progress_update(&t->prog, (double)(run->step - t->start_step), extra);
			}
			int rc = checkpoint(run, &t->data, rundir, &t->log, 1, t->seconds0 + sh_now() - t->t0, sps,
					    &stop_signal, &row);
			if (rc < 0)
				cli_die_lib(NULL);
			if (rc > 0) {
				stop_diverged(t, run->step, "the validation loss is not finite");
				break;
			}
			if (t->rank0 && args.keep_every && run->step % args.keep_every == 0 &&
			    trn_keep_milestone(run, &t->data, rundir) < 0)
				cli_die_lib(NULL);
			t->last_ckpt_step = run->step;
			t->last_valid = row.valid_bits;
			interval_time = 0;
			interval_steps = 0;
			need_ckpt = 0;
		}
		/* a clip that cannot be written is not worth stopping the training for; the clips'
		 * distance to held-out audio goes into the step's log row */
		if (args.sample_every && t->rank0 && run->step % args.sample_every == 0 && !stop_signal) {
			if (trn_write_samples(run, t->samples_dir, (int)args.sample_count, args.sample_seconds,
					      args.sample_temp, t->sample_prime, t->sample_prime_len, &stop_signal) < 0)
				cli_warn(t->samples_dir, "step %ld: no clips: %s", run->step, sh_errmsg());
			else if (t->heldout && !stop_signal &&
				 isnan(trn_log_clip_distance(&t->log, rundir, run->step, (int)args.sample_count,
							     t->heldout)))
				cli_warn(t->samples_dir, "step %ld: no distance: %s", run->step, sh_errmsg());
		}
	}
	agree_stop(0); /* a signal since the loop's agreement: every rank validates, or none */
	if (need_ckpt && t->status == 0) {
		/* a last checkpoint: a full one when training ended by itself, the checkpoint alone
		 * when interrupted (validation could take long) */
		double sps = interval_time > 0 ? interval_steps * samples_per_step / interval_time : 0;
		int rc = checkpoint(run, &t->data, rundir, &t->log, !stop_signal, t->seconds0 + sh_now() - t->t0, sps,
				    &stop_signal, &row);
		if (rc < 0)
			cli_die_lib(NULL);
		if (rc > 0)
			stop_diverged(t, run->step, "the validation loss is not finite");
		else if (!stop_signal)
			t->last_valid = row.valid_bits;
	}
}

/* run.json with how the run ended, the summary line; the exit status. */
static int finish(trainer *t)
{
	const trn_run *run = &t->run;
	const model_config *cfg = &t->opt.model;
	const int batch = model_batch(cfg);
	const double samples_per_step = (double)batch * model_seq(cfg);
	double elapsed = sh_now() - t->t0;
	double sps_all = t->step_time > 0 ? (run->step - t->start_step - 1) * samples_per_step / t->step_time : 0;
	agreed_exit = 1; /* every rank left the loop at the same step, for the same reason */
	if (t->rank0)
		write_run_json(&t->ri, &t->opt, &t->data, run, t->ended, t->seconds0 + elapsed);
	/* no rank leaves before rank 0 has written everything: mpirun ends the whole job as soon as
	 * one rank exits non-zero (143 after SIGTERM, say), which would cut rank 0's last writes */
	dist_barrier();
	char note[96];
	ranks_note(note, sizeof note, run->reduce_seconds, elapsed);
	if (t->status == 0 && t->rank0)
		cli_progress_end(&t->prog,
				 "%s: step %ld, epoch %.2f, %.1f s, %.0f samples/s (%.1f GFLOP/s), train %.3f bits, "
				 "valid %.3f bits, best %.3f%s%s",
				 args.rundir, run->step, trn_feed_epoch(&run->feed), elapsed, sps_all,
				 sps_all * model_train_flops(cfg, batch) / samples_per_step / 1e9, t->last_bits,
				 t->last_valid, run->best_bits, note,
				 stop_signal ? " (interrupted; checkpoint written)" : "");
	fad_free(t->heldout);
	trn_log_free(&t->log);
	trn_run_free(&t->run);
	if (t->device)
		t->device->close(t->device);
	trn_data_free(&t->data);
	if (t->status)
		return t->status;
	return stop_signal ? 128 + stop_signal : 0;
}

int main(int argc, char **argv)
{
	blas_runtime_init(argv); /* before anything runs on OpenBLAS or OpenMP */
	cli_init("qtrain");
	dist_start(&argc, &argv);
	/* DDSP trains on audio, not codes: options and a path of its own */
	/* (every rank takes the DDSP path when any does: a rank that cannot read the --resume
	 * checkpoint says so there) */
	int ddsp = dist_max_int(wants_ddsp(argc, argv));
	int first = parse_options(argc, argv, ddsp);
	dist_options_parsed();
	if (ddsp)
		return ddsp_main(argc, argv, first);
	static trainer t;
	resolve_options(&t);
	load_sample_prime(&t);
	read_data(&t, argc - first, argv + first);
	prepare_rundir(&t);
	int threads = set_threads();
	start_run(&t, argc, argv, threads);
	train(&t);
	return finish(&t);
}

/* ---- qtrain --model ddsp: DDSP's decoder on float audio (lib/ddsp_train.h) ---- */

/* Is this a DDSP run: --model ddsp, or --resume of a DDSP checkpoint? */
static int wants_ddsp(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--model=ddsp") ||
		    (!strcmp(argv[i], "--model") && i + 1 < argc && !strcmp(argv[i + 1], "ddsp")))
			return 1;
		const char *r = !strncmp(argv[i], "--resume=", 9)              ? argv[i] + 9
				: !strcmp(argv[i], "--resume") && i + 1 < argc ? argv[i + 1]
									       : NULL;
		if (r) {
			char path[4096];
			snprintf(path, sizeof path, cli_is_dir_path(r) ? "%s/last.safetensors" : "%s", r);
			st_file sf;
			if (st_load(path, &sf) < 0)
				continue;
			const char *m = st_meta(&sf, "model");
			int is = m && !strcmp(m, "ddsp");
			st_free(&sf);
			if (is)
				return 1;
		}
	}
	return 0;
}

static void ddsp_run_json(const run_info *ri, const ddsp_run *r, const ddsp_data *d, const char *ended, double seconds)
{
	const ddsp_train_opts *o = &r->opt;
	const ddsp_config *c = &o->model;
	json_writer w;
	run_json_head(&w, ri, NULL, o->seed, d->files, d->nfiles);
	jw_int(&w, "examples", d->nex);
	jw_uint(&w, "samples", (size_t)d->nex * d->n);
	char fp[17];
	snprintf(fp, sizeof fp, "%016llx", (unsigned long long)d->fingerprint);
	jw_str(&w, "fingerprint", fp);
	jw_arr(&w, "split_examples");
	jw_int(&w, NULL, d->ntrain);
	jw_int(&w, NULL, d->nvalid);
	jw_end(&w);
	jw_numf(&w, "voiced", "%.4f", d->voiced);
	jw_end(&w);
	jw_obj(&w, "model");
	jw_str(&w, "type", "ddsp");
	jw_int(&w, "sample_rate", c->sample_rate);
	jw_int(&w, "hop", c->hop);
	jw_int(&w, "n_samples", c->n_samples);
	jw_int(&w, "ch", c->ch);
	jw_int(&w, "layers", c->layers);
	jw_int(&w, "gru", c->gru);
	jw_int(&w, "n_harmonics", c->n_harmonics);
	jw_int(&w, "n_bands", c->n_bands);
	jw_int(&w, "reverb", c->reverb);
	jw_int(&w, "batch", c->batch);
	jw_end(&w);
	jw_obj(&w, "training");
	jw_numf(&w, "lr", "%.17g", o->lr);
	jw_numf(&w, "lr_decay_rate", "%.17g", o->decay_rate);
	jw_numf(&w, "lr_decay_steps", "%.17g", o->decay_steps);
	jw_numf(&w, "adam_beta1", "%.17g", o->beta1);
	jw_numf(&w, "adam_beta2", "%.17g", o->beta2);
	jw_numf(&w, "adam_eps", "%.17g", o->eps);
	jw_str(&w, "clip", "norm");
	jw_numf(&w, "clip_value", "%.17g", o->clip);
	json_split(&w, o->split);
	jw_str(&w, "loss", "multi-scale spectral");
	jw_end(&w);
	jw_uint(&w, "parameters", r->nparams);
	run_json_finish(&w, ri, ended, r->step, ddsp_run_epoch(r, d), seconds);
}

/* Validation (shared by the ranks), the log row, best and last checkpoints, the plot and the
 * clips, written by rank 0 alone. Returns 1 when the validation loss is not finite (nothing
 * written). */
static int ddsp_checkpoint(ddsp_run *r, const ddsp_data *d, const char *rundir, trn_log *log, int full, double seconds,
			   double sps, int clips, trn_log_row *row)
{
	char path[4096], best[4096];
	memset(row, 0, sizeof *row);
	row->step = r->step;
	row->epoch = ddsp_run_epoch(r, d);
	row->train_bits = r->log_steps ? r->log_loss / r->log_steps : NAN;
	row->valid_bits = NAN;
	row->samples_per_s = sps;
	row->lr = ddsp_run_lr(r);
	row->seconds = seconds;
	int is_best = 0;
	if (full) {
		if (d->nvalid) {
			row->valid_bits = ddsp_run_evaluate(r, d, d->valid, d->nvalid, &stop_signal);
			if (stop_signal && r->nranks == 1) /* the ranks validated whole: nothing to drop */
				full = 0;
			else if (!isfinite(row->valid_bits))
				return 1;
		}
		double score = d->nvalid ? row->valid_bits : row->train_bits;
		if (full && score < r->best)
			r->best = score, is_best = 1;
	}
	/* under mpirun: every rank's slices of Adam's moments, then rank 0 alone writes */
	if (trn_moments_gather(r->adam_m, r->adam_v, r->nparams) < 0)
		return -1;
	if (r->rank) {
		if (full)
			r->log_loss = 0, r->log_steps = 0;
		return 0;
	}
	snprintf(path, sizeof path, "%s/last.safetensors", rundir);
	if (ddsp_save(r, d, path) < 0)
		return -1;
	if (!full)
		return 0;
	snprintf(best, sizeof best, "%s/best.safetensors", rundir);
	if (is_best && ddsp_save(r, d, best) < 0)
		return -1;
	r->log_loss = 0, r->log_steps = 0;
	snprintf(path, sizeof path, "%s/log.tsv", rundir);
	if (trn_log_append(log, row) < 0 || trn_log_write(log, path) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/loss.png", rundir);
	if (trn_log_plot(log, path) < 0)
		return -1;
	if (clips > 0) {
		snprintf(path, sizeof path, "%s/samples", rundir);
		const int *idx = d->nvalid ? d->valid : d->train;
		int n = SH_MIN(clips, d->nvalid ? d->nvalid : d->ntrain);
		if (ddsp_write_clips(r, d, idx, n, path) < 0)
			cli_warn(path, "step %ld: no clips: %s", r->step, sh_errmsg());
	}
	return 0;
}

/* A DDSP run: its options, data, state and how it went. */
typedef struct {
	ddsp_train_opts opt;
	st_file ckpt; /* the checkpoint resumed */
	char resume_path[4096], cache[4096];
	ddsp_data data;
	ddsp_run run;
	trn_log log;
	double seconds0; /* of the run before this invocation */
	run_info ri;
	/* the loop */
	cli_progress prog;
	double t0, step_time, last_loss, last_valid;
	long start_step;
	const char *ended;
	int status;
} ddsp_trainer;

/* The options: from the checkpoint when resuming (what is given must match it), else the
 * preset's; then what the command line says. */
static void ddsp_resolve_options(ddsp_trainer *t)
{
	ddsp_train_opts *opt = &t->opt;
	const char *preset = args.arch.preset;
	const int batch = args.arch.batch;
	if (args.resume) {
		snprintf(t->resume_path, sizeof t->resume_path,
			 cli_is_dir_path(args.resume) ? "%s/last.safetensors" : "%s", args.resume);
		agree(st_load(t->resume_path, &t->ckpt) < 0 || ddsp_meta_options(&t->ckpt, opt) < 0, t->resume_path);
		ddsp_config asked = opt->model;
		if (preset && ddsp_preset(preset, &asked) < 0)
			cli_usage_error(usage, "--preset: %s", sh_errmsg());
		if (batch > 0)
			asked.batch = batch;
		char diff[128];
		if (ddsp_config_diff(&opt->model, &asked, diff, sizeof diff))
			cli_die(t->resume_path, "checkpoint of another architecture: %s", diff);
		if (cli_opts_given(&cli, &args.seed) && (uint64_t)args.seed != opt->seed)
			cli_die(t->resume_path, "checkpoint has seed %llu, --seed says %ld",
				(unsigned long long)opt->seed, args.seed);
		if (cli_opts_given(&cli, args.split) && memcmp(args.split, opt->split, sizeof args.split))
			cli_die(t->resume_path, "checkpoint has another --split (%g,%g,%g)", opt->split[0],
				opt->split[1], opt->split[2]);
	} else {
		memset(opt, 0, sizeof *opt);
		if (ddsp_preset(preset ? preset : "small", &opt->model) < 0)
			cli_usage_error(usage, "--preset: %s", sh_errmsg());
		if (batch > 0)
			opt->model.batch = batch;
		/* DDSP: Adam 3e-4 for the published model, ×0.98 per 10k steps, global norm 3; the
		 * smaller presets learn faster at 1e-3 */
		opt->lr = strcmp(preset ? preset : "small", "paper") ? 1e-3 : 3e-4;
		opt->beta1 = 0.9, opt->beta2 = 0.999, opt->eps = 1e-8;
		opt->decay_rate = 0.98, opt->decay_steps = 10000;
		opt->clip = 3;
		opt->seed = (uint64_t)args.seed;
		memcpy(opt->split, args.split, sizeof args.split);
	}
	if (args.lr > 0)
		opt->lr = args.lr;
	if (args.clip_value >= 0)
		opt->clip = args.clip_value;
	if (opt->model.batch % dist_size())
		sh_error("--batch %d does not divide among %d ranks", opt->model.batch, dist_size());
	agree(opt->model.batch % dist_size() != 0, NULL);
}

/* The data and its features, checked before anything is written (under mpirun every rank reads
 * the data; rank 0 alone reads and writes the features' cache, see ddsp_data_features). */
static void ddsp_read_data(ddsp_trainer *t, int nfiles, char **files)
{
	snprintf(t->cache, sizeof t->cache, "%s/features.safetensors", args.rundir);
	char *stdin_only[] = {"-"};
	if (!nfiles)
		files = stdin_only;
	/* messages about one file name it already; those about the data name the one file */
	const char *one = nfiles <= 1 ? cli_in_name(files[0]) : NULL;
	int failed = ddsp_data_read(&t->data, files, nfiles ? nfiles : 1, &t->opt.model) < 0;
	agree(failed, failed && one && strncmp(sh_errmsg(), files[0], strlen(files[0])) ? one : NULL);
	agree_same_data(t->data.fingerprint); /* before the ranks share the features */
	failed = ddsp_data_features(&t->data, &t->opt.model, t->cache) < 0;
	agree(failed, failed && one && strncmp(sh_errmsg(), files[0], strlen(files[0])) ? one : NULL);
	if (ddsp_data_split(&t->data, t->opt.seed, t->opt.split) < 0)
		cli_die_lib(NULL);
}

/* The model (resumed or new), the run directory, the features' cache, the log and run.json. */
static void ddsp_start_run(ddsp_trainer *t, int argc, char **argv)
{
	const char *rundir = args.rundir;
	char path[4096];
	snprintf(path, sizeof path, "%s/last.safetensors", rundir);
	struct stat st;
	const int rank0 = !dist_rank(); /* writes the run directory */
	int failed = rank0 && !args.resume && !stat(path, &st);
	if (failed)
		sh_error("already holds a run (last.safetensors): continue it with --resume %s, or choose "
			 "another directory",
			 rundir);
	agree(failed, rundir);
	/* the ranks on this machine share its cores */
	int threads = args.threads > 0 ? args.threads : (int)sysconf(_SC_NPROCESSORS_ONLN) / dist_local_size();
	omp_set_num_threads(SH_MAX(threads, 1));
	openblas_set_num_threads(1); /* the products are small: one thread each, examples in parallel */

	agree(ddsp_run_init(&t->run, &t->opt, &t->data) < 0, NULL);
	if (args.resume) {
		agree(ddsp_load(&t->run, &t->data, &t->ckpt) < 0, t->resume_path);
		st_free(&t->ckpt);
	}
	agree(trn_replicas_agree(ddsp_net_params(t->run.m), t->run.nparams, t->run.step) < 0,
	      args.resume ? t->resume_path : NULL);
	if (rank0) {
		cli_mkdirs(rundir);
		lock_rundir(rundir); /* one qtrain per run directory, as for the other models */
		snprintf(path, sizeof path, "%s/samples", rundir);
		if (args.sample_count > 0)
			cli_mkdirs(path);
		if (!t->data.cached && ddsp_data_save_features(&t->data, &t->opt.model, t->cache) < 0)
			cli_die_lib(NULL);
		snprintf(path, sizeof path, "%s/log.tsv", rundir);
		if (trn_log_read(&t->log, path, args.resume ? t->run.step : -1) < 0)
			cli_die_lib(NULL);
	}
	t->log.metric = "loss";
	t->seconds0 = t->log.n ? t->log.rows[t->log.n - 1].seconds : 0;
	t->ri = (run_info){argc, argv, rundir, args.resume ? t->resume_path : NULL, threads, t->run.step, ""};
	time_t now = time(NULL);
	strftime(t->ri.started, sizeof t->ri.started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	catch_stop_signals(); /* before run.json, as for the other models */
	if (rank0)
		ddsp_run_json(&t->ri, &t->run, &t->data, NULL, t->seconds0);
}

/* The loop: steps until a stop, a checkpoint (with clips) every --checkpoint-every steps, and
 * a last one. */
static void ddsp_train_loop(ddsp_trainer *t)
{
	ddsp_run *run = &t->run;
	const char *rundir = args.rundir;
	const int clips = (int)args.sample_count;
	const double samples_per_step = (double)t->opt.model.batch * t->opt.model.n_samples;
	double interval_time = 0;
	long interval_steps = 0;
	int need_ckpt = 0;
	trn_log_row row;
	t->t0 = sh_now();
	t->last_loss = t->last_valid = NAN;
	t->start_step = run->step;
	cli_progress_start(&t->prog, "training", args.steps > 0 ? (double)(args.steps - t->start_step) : 0, "steps");
	for (;;) {
		int time_up = agree_stop(args.minutes > 0 && sh_now() - t->t0 >= args.minutes * 60);
		if ((t->ended =
			     end_reason(stop_signal, run->step, args.steps, (double)run->epoch, args.epochs, time_up)))
			break;
		double ts = sh_now();
		double loss = ddsp_run_step(run, &t->data);
		double dt = sh_now() - ts;
		if (!isfinite(loss)) {
			if (!dist_rank())
				cli_progress_end(
					&t->prog,
					"%s: step %ld: the training loss or a gradient is not finite; stopping", rundir,
					run->step + 1);
			t->ended = "diverged";
			t->status = 1;
			break;
		}
		if (run->step % CHECK_REPLICAS_EVERY == 0)
			agree(trn_replicas_agree(ddsp_net_params(run->m), run->nparams, run->step) < 0, NULL);
		interval_time += dt, interval_steps++;
		if (run->step - t->start_step > 1)
			t->step_time += dt;
		need_ckpt = 1;
		t->last_loss = loss;
		char extra[128];
		snprintf(extra, sizeof extra, "step %ld, loss %.3f, %.0f samples/s", run->step, loss,
			 interval_steps * samples_per_step / interval_time);
		cli_progress_update(&t->prog, (double)(run->step - t->start_step), extra);
		if (run->step % args.ckpt_every == 0) {
			int rc = ddsp_checkpoint(run, &t->data, rundir, &t->log, 1, t->seconds0 + sh_now() - t->t0,
						 interval_steps * samples_per_step / interval_time, clips, &row);
			if (rc < 0)
				cli_die_lib(NULL);
			if (rc > 0) {
				if (!dist_rank())
					cli_progress_end(&t->prog,
							 "%s: step %ld: the validation loss is not finite; stopping",
							 rundir, run->step);
				t->ended = "diverged";
				t->status = 1;
				break;
			}
			t->last_valid = row.valid_bits;
			interval_time = 0, interval_steps = 0, need_ckpt = 0;
		}
	}
	agree_stop(0); /* a signal since the loop's agreement: every rank validates, or none */
	if (need_ckpt && t->status == 0) {
		double sps = interval_time > 0 ? interval_steps * samples_per_step / interval_time : 0;
		int rc = ddsp_checkpoint(run, &t->data, rundir, &t->log, !stop_signal, t->seconds0 + sh_now() - t->t0,
					 sps, stop_signal ? 0 : clips, &row);
		if (rc < 0)
			cli_die_lib(NULL);
		if (rc == 0 && !stop_signal)
			t->last_valid = row.valid_bits;
	}
}

/* run.json with how the run ended, the summary line; the exit status. */
static int ddsp_finish(ddsp_trainer *t)
{
	ddsp_run *run = &t->run;
	const double samples_per_step = (double)t->opt.model.batch * t->opt.model.n_samples;
	double elapsed = sh_now() - t->t0;
	double sps_all = t->step_time > 0 ? (run->step - t->start_step - 1) * samples_per_step / t->step_time : 0;
	agreed_exit = 1; /* every rank left the loop at the same step, for the same reason */
	if (!dist_rank())
		ddsp_run_json(&t->ri, run, &t->data, t->ended, t->seconds0 + elapsed);
	dist_barrier(); /* no rank leaves before rank 0 has written everything (see finish) */
	char note[96];
	ranks_note(note, sizeof note, run->reduce_seconds, elapsed);
	if (t->status == 0 && !dist_rank())
		cli_progress_end(&t->prog,
				 "%s: step %ld, epoch %.2f, %.1f s, %.0f samples/s, train loss %.3f, valid %.3f, "
				 "best %.3f%s%s",
				 args.rundir, run->step, ddsp_run_epoch(run, &t->data), elapsed, sps_all, t->last_loss,
				 t->last_valid, run->best, note,
				 stop_signal ? " (interrupted; checkpoint written)" : "");
	trn_log_free(&t->log);
	ddsp_run_free(run);
	ddsp_data_free(&t->data);
	if (t->status)
		return t->status;
	return stop_signal ? 128 + stop_signal : 0;
}

static int ddsp_main(int argc, char **argv, int first)
{
	static ddsp_trainer t;
	ddsp_resolve_options(&t);
	ddsp_read_data(&t, argc - first, argv + first);
	ddsp_start_run(&t, argc, argv);
	ddsp_train_loop(&t);
	return ddsp_finish(&t);
}
