/* qtrain: trains SampleRNN or WaveNet on code records (from mulaw) into a run directory of
 * checkpoints, log.tsv, loss.png and run.json. Options and wiring only; the work is in
 * lib/train*.c and the models behind lib/model.h. docs/qtrain.md is the manual. */
#include "blas.h"
#include "cli.h"
#include "checkpoint.h"
#include "fad.h"
#include "runlog.h"
#include "train.h"
#include "util.h"

#include <cblas.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"usage: qtrain [options] -o RUNDIR DATA...\n"
	"Trains SampleRNN or WaveNet on tensor streams of code records (|u1 or <u2, from mulaw).\n"
	"  -o RUNDIR              run directory: last/best.safetensors, log.tsv, loss.png, run.json\n"
	"  --model NAME           samplernn (default) or wavenet\n"
	"  --preset NAME          samplernn: tiny, small (default), medium or dadabots;\n"
	"                         wavenet: tiny or default (default); the options below override it\n"
	"  --levels Q             quantisation levels (256)\n"
	"  --batch B              rows per step\n"
	"SampleRNN:\n"
	"  --frame-sizes LIST     frame sizes of the frame tiers: 16 (2-tier) or 64,16 (3-tier)\n"
	"  --dim D                RNN and sample-tier width\n"
	"  --layers L             RNN layers per frame tier\n"
	"  --rnn lstm|gru         recurrent cell\n"
	"  --embed E              sample-tier embedding size (WaveNet: see --input)\n"
	"  --learn-h0             learn the initial recurrent state\n"
	"  --rnn-weight-norm      weight normalisation on the recurrent matrices too\n"
	"  --seq N                truncated-BPTT window in samples\n"
	"WaveNet:\n"
	"  --dilations LIST       dilations of the layers: 1,2,4,8 or 1..512x5 (powers of two, repeated)\n"
	"  --residual-channels R  residual channels\n"
	"  --dilation-channels C  filter and gate channels\n"
	"  --skip-channels S      skip channels\n"
	"  --n-out N              targets per row (a row is the receptive field + N codes)\n"
	"  --input MODE           input layer: onehot (default: one-hot of the code, causal conv\n"
	"                         of width 2), embed (a learned embedding of --embed E values per\n"
	"                         code, default E = R, then that conv), scalar (the code as one value\n"
	"                         code/(Q/2) - 1, causal conv of width --initial-width W, default 32)\n"
	"  --embed E              embedding size of --input embed\n"
	"  --initial-width W      input conv width of --input scalar (receptive field Σ dilations + W)\n"
	"training:\n"
	"  --lr LR                Adam learning rate (1e-3)\n"
	"  --adam-eps EPS         Adam epsilon (1e-8; wavenet 1e-4)\n"
	"  --clip MODE            elementwise (samplernn default, the dadabots' ±1), norm (PRiSM),\n"
	"                         none (wavenet default)\n"
	"  --clip-value V         clip bound (1 elementwise, 5 norm)\n"
	"  --steps N              stop at step N (counted from the run's start)\n"
	"  --epochs E             stop after E epochs\n"
	"  --minutes M            stop after M minutes of this invocation\n"
	"  --checkpoint-every K   validate and write checkpoints every K steps (500)\n"
	"  --keep-every K         also keep the checkpoint of every K-th step as RUNDIR/stepNNNNNNN.safetensors\n"
	"  --seed S               seed of initialisation, split and shuffling (123)\n"
	"  --split T,V,X          percentages of records for train, valid, test (88,6,6)\n"
	"  --threads N            threads (default: every core)\n"
	"  --resume CKPT|RUNDIR   continue a run exactly where CKPT (RUNDIR/last.safetensors) stopped\n"
	"  --sample-every K       every K steps, write clips to RUNDIR/samples/ (qsample's generator)\n"
	"  --sample-seconds S     length of those clips (4)\n"
	"  --sample-count N       clips each time (3)\n"
	"  --sample-temp T        their temperature (0.95)\n"
	"  -r RATE                sample rate of the data, recorded in checkpoints (16000)\n"
	"  --quantization NAME    how the codes were made, recorded in checkpoints (mulaw)\n"
	"  --help                 this text\n"
	"Stops at --steps/--epochs/--minutes or on SIGINT/SIGTERM (after a last checkpoint).\n";

static volatile sig_atomic_t stop_signal;
static struct sigaction old_int, old_term;

static void on_stop(int sig)
{
	if (stop_signal) {
		/* a second signal: give up at once, the way cli_init's handler does */
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		raise(sig);
		return;
	}
	stop_signal = sig;
}

enum {
	O_PRESET = 256, O_FRAMES, O_DIM, O_LAYERS, O_RNN, O_EMBED, O_LEVELS, O_LEARN_H0, O_RNN_WN,
	O_SEQ, O_BATCH, O_LR, O_EPS, O_CLIP, O_CLIPV, O_STEPS, O_EPOCHS, O_MINUTES, O_CKPT, O_SEED,
	O_SPLIT, O_THREADS, O_RESUME, O_QUANT, O_SAMPLE_EVERY, O_SAMPLE_SECONDS, O_SAMPLE_COUNT,
	O_SAMPLE_TEMP, O_HELP, O_MODEL, O_DILATIONS, O_RES_CH, O_DIL_CH, O_SKIP_CH, O_N_OUT, O_INPUT,
	O_INIT_WIDTH, O_KEEP_EVERY
};

/* Architecture options given on the command line (-1: not given). */
typedef struct {
	const char *preset, *frames, *dilations;
	int dim, layers, rnn, embed, levels, learn_h0, rnn_wn, seq, batch;
	int res_ch, dil_ch, skip_ch, n_out, input, init_width;
} arch_args;

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

static void apply_arch(const arch_args *a, model_config *mc)
{
	if (mc->kind == MODEL_WAVENET) {
		wn_config *w = &mc->wn;
		if (a->dilations && wn_parse_dilations(a->dilations, w) < 0)
			cli_usage_error(usage, "--dilations: %s", sh_errmsg());
#define SET(f, v) if (a->v >= 0) w->f = a->v;
		SET(res_ch, res_ch) SET(dil_ch, dil_ch) SET(skip_ch, skip_ch) SET(n_out, n_out)
		SET(levels, levels) SET(batch, batch) SET(input, input) SET(embed, embed)
		SET(initial_width, init_width)
#undef SET
		/* the input layer's size: given, kept (resuming such a model), or its default; none
		 * for the other input layers */
		if (a->embed >= 0 && w->input != WN_INPUT_EMBED)
			cli_usage_error(usage, "--embed: WaveNet's embedding size is for --input embed (the "
					"input is %s)", wn_input_name(w->input));
		if (a->embed > WN_MAX_EMBED)
			cli_usage_error(usage, "--embed: expected 1 to %d for WaveNet, got %d", WN_MAX_EMBED,
					a->embed);
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
#define SET(f, v) if (a->v >= 0) c->f = a->v;
	SET(dim, dim) SET(layers, layers) SET(rnn, rnn) SET(embed, embed) SET(levels, levels)
	SET(learn_h0, learn_h0) SET(rnn_weight_norm, rnn_wn) SET(seq, seq) SET(batch, batch)
#undef SET
}

/* Options of the other model are refused rather than silently ignored. */
static void check_arch_options(const arch_args *a, model_kind kind)
{
	if (kind == MODEL_WAVENET) {
		const char *bad = a->frames ? "--frame-sizes" : a->dim >= 0 ? "--dim" : a->layers >= 0 ? "--layers"
				: a->rnn >= 0 ? "--rnn" : a->learn_h0 >= 0 ? "--learn-h0"
				: a->rnn_wn >= 0 ? "--rnn-weight-norm" : a->seq >= 0 ? "--seq" : NULL;
		if (bad)
			cli_usage_error(usage, "%s is a SampleRNN option (WaveNet: --dilations, --residual-channels, "
					"--dilation-channels, --skip-channels, --n-out, --input, --embed, "
					"--initial-width)", bad);
	} else {
		const char *bad = a->dilations ? "--dilations" : a->res_ch >= 0 ? "--residual-channels"
				: a->dil_ch >= 0 ? "--dilation-channels" : a->skip_ch >= 0 ? "--skip-channels"
				: a->n_out >= 0 ? "--n-out" : a->input >= 0 ? "--input"
				: a->init_width >= 0 ? "--initial-width" : NULL;
		if (bad)
			cli_usage_error(usage, "%s is a WaveNet option (use --model wavenet)", bad);
	}
}

static void json_config(sh_buf *b, const trn_options *o)
{
	if (o->model.kind == MODEL_WAVENET) {
		const wn_config *w = &o->model.wn;
		sh_buf_printf(b, "\"model\": {\"type\": \"wavenet\", \"dilations\": [");
		for (int i = 0; i < w->nlayers; i++)
			sh_buf_printf(b, i ? ", %d" : "%d", w->dilation[i]);
		sh_buf_printf(b, "], \"residual_channels\": %d, \"dilation_channels\": %d, \"skip_channels\": %d, "
			       "\"levels\": %d, \"n_out\": %d, \"batch\": %d, \"receptive_field\": %d, "
			       "\"input\": \"%s\", \"embed\": ",
			       w->res_ch, w->dil_ch, w->skip_ch, w->levels, w->n_out, w->batch,
			       wn_receptive_field(w), wn_input_name(w->input));
		/* the input layer's size where it has one, null for the others */
		if (w->input == WN_INPUT_EMBED)
			sh_buf_printf(b, "%d", w->embed);
		else
			sh_buf_printf(b, "null");
		sh_buf_printf(b, ", \"initial_width\": ");
		if (w->input == WN_INPUT_SCALAR)
			sh_buf_printf(b, "%d", w->initial_width);
		else
			sh_buf_printf(b, "null");
		sh_buf_printf(b, "},\n");
	} else {
		const srnn_config *c = &o->model.srnn;
		sh_buf_printf(b, "\"model\": {\"type\": \"samplernn\", \"frame_sizes\": [");
		for (int i = 0; i < c->nframe_tiers; i++)
			sh_buf_printf(b, i ? ", %d" : "%d", c->frame_size[i]);
		sh_buf_printf(b, "], \"dim\": %d, \"layers\": %d, \"rnn\": \"%s\", \"embed\": %d, \"levels\": %d, "
			       "\"learn_h0\": %s, \"rnn_weight_norm\": %s, \"seq\": %d, \"batch\": %d},\n",
			       c->dim, c->layers, c->rnn == SRNN_GRU ? "gru" : "lstm", c->embed, c->levels,
			       c->learn_h0 ? "true" : "false", c->rnn_weight_norm ? "true" : "false", c->seq, c->batch);
	}
	sh_buf_printf(b, "  \"training\": {\"lr\": %.17g, \"adam_beta1\": %.17g, \"adam_beta2\": %.17g, "
		       "\"adam_eps\": %.17g, \"clip\": \"%s\", \"clip_value\": %.17g, \"split\": [%g, %g, %g], "
		       "\"sample_rate\": %d, \"quantization\": ",
		       o->lr, o->beta1, o->beta2, o->eps,
		       o->clip == TRN_CLIP_NORM ? "norm" : o->clip == TRN_CLIP_NONE ? "none" : "elementwise",
		       o->clip_value, o->split[0], o->split[1], o->split[2], o->sample_rate);
	sh_buf_json_str(b, o->quantization);
	sh_buf_printf(b, "},\n");
}

typedef struct {
	int argc;
	char **argv;
	const char *rundir, *resume;
	int threads;
	long start_step;
	char started[32];
} run_info;

/* RUNDIR/run.json: what was run, on what, with which libraries; rewritten at the end with how
 * the run ended. */
static void write_run_json(const run_info *ri, const trn_options *o, const trn_data *d,
			   const trn_run *t, const char *ended, double seconds)
{
	sh_buf b = {0};
	sh_buf_printf(&b, "{\n  \"program\": \"qtrain\",\n  \"command\": [");
	for (int i = 0; i < ri->argc; i++) {
		sh_buf_printf(&b, i ? ", " : "");
		sh_buf_json_str(&b, ri->argv[i]);
	}
	char cwd[4096];
	sh_buf_printf(&b, "],\n  \"cwd\": ");
	sh_buf_json_str(&b, getcwd(cwd, sizeof cwd) ? cwd : "");
	sh_buf_printf(&b, ",\n  \"started\": \"%s\",\n  \"seed\": %llu,\n  \"threads\": %d,\n", ri->started,
		       (unsigned long long)o->seed, ri->threads);
	sh_buf_printf(&b, "  \"resumed_from\": ");
	if (ri->resume)
		sh_buf_json_str(&b, ri->resume);
	else
		sh_buf_printf(&b, "null");
	sh_buf_printf(&b, ",\n  \"start_step\": %ld,\n  \"data\": {\"files\": [", ri->start_step);
	for (int i = 0; i < d->nfiles; i++) {
		sh_buf_printf(&b, i ? ", " : "");
		sh_buf_json_str(&b, d->files[i]);
	}
	sh_buf_printf(&b, "], \"records\": %d, \"samples\": %zu, \"fingerprint\": \"%016llx\", "
		       "\"split_records\": [%d, %d, %d]},\n  ",
		       d->nrec, d->total, (unsigned long long)d->fingerprint, d->ntrain, d->nvalid, d->ntest);
	json_config(&b, o);
	sh_buf_printf(&b, "  \"parameters\": %zu,\n  \"train_flops_per_step\": %.6g,\n  \"libraries\": {",
		       t->nparams, model_train_flops(&o->model, model_batch(&o->model)));
	trn_lib_versions_json(&b);
	sh_buf_printf(&b, "}");
	if (ended)
		sh_buf_printf(&b, ",\n  \"ended\": \"%s\",\n  \"final_step\": %ld,\n  \"epoch\": %.6f,\n"
			       "  \"seconds\": %.1f", ended, t->step, trn_feed_epoch(&t->feed), seconds);
	sh_buf_printf(&b, "\n}\n");
	char path[4096];
	snprintf(path, sizeof path, "%s/run.json", ri->rundir);
	if (!b.s || sh_write_file(path, b.s, b.n) < 0)
		cli_die_lib(NULL);
	free(b.s);
}

/* Training diverged: say where, and which checkpoint is left (none is written now). */
static void diverged(cli_progress *prog, const char *rundir, long step, const char *what, long last_ckpt)
{
	if (last_ckpt >= 0)
		cli_progress_end(prog, "%s: step %ld: %s; stopping (last.safetensors keeps step %ld, the "
				 "last good checkpoint)", rundir, step, what, last_ckpt);
	else
		cli_progress_end(prog, "%s: step %ld: %s; stopping (no checkpoint was written)", rundir,
				 step, what);
}

/* trn_checkpoint, then the loss plot when it added a log row: the plot is the program's, not
 * the loop's */
static int checkpoint(trn_run *run, const trn_data *data, const char *rundir, trn_log *log, int full,
		      double seconds, double sps, volatile sig_atomic_t *stop, trn_log_row *row)
{
	int rows = log->n;
	int rc = trn_checkpoint(run, data, rundir, log, full, seconds, sps, stop, row);
	if (rc || log->n == rows)
		return rc;
	char path[4096];
	snprintf(path, sizeof path, "%s/loss.png", rundir);
	return trn_log_plot(log, path);
}

int main(int argc, char **argv)
{
	blas_runtime_init(argv);   /* before anything runs on OpenBLAS or OpenMP */
	cli_init("qtrain");
	static const struct option longopts[] = {
		{"preset", 1, 0, O_PRESET}, {"frame-sizes", 1, 0, O_FRAMES}, {"dim", 1, 0, O_DIM},
		{"layers", 1, 0, O_LAYERS}, {"rnn", 1, 0, O_RNN}, {"embed", 1, 0, O_EMBED},
		{"levels", 1, 0, O_LEVELS}, {"learn-h0", 0, 0, O_LEARN_H0},
		{"rnn-weight-norm", 0, 0, O_RNN_WN}, {"seq", 1, 0, O_SEQ}, {"batch", 1, 0, O_BATCH},
		{"lr", 1, 0, O_LR}, {"adam-eps", 1, 0, O_EPS}, {"clip", 1, 0, O_CLIP},
		{"clip-value", 1, 0, O_CLIPV}, {"steps", 1, 0, O_STEPS}, {"epochs", 1, 0, O_EPOCHS},
		{"minutes", 1, 0, O_MINUTES}, {"checkpoint-every", 1, 0, O_CKPT}, {"seed", 1, 0, O_SEED},
		{"split", 1, 0, O_SPLIT}, {"threads", 1, 0, O_THREADS}, {"resume", 1, 0, O_RESUME},
		{"quantization", 1, 0, O_QUANT}, {"sample-every", 1, 0, O_SAMPLE_EVERY},
		{"sample-seconds", 1, 0, O_SAMPLE_SECONDS}, {"sample-count", 1, 0, O_SAMPLE_COUNT},
		{"sample-temp", 1, 0, O_SAMPLE_TEMP}, {"help", 0, 0, O_HELP}, {"model", 1, 0, O_MODEL},
		{"dilations", 1, 0, O_DILATIONS}, {"residual-channels", 1, 0, O_RES_CH},
		{"dilation-channels", 1, 0, O_DIL_CH}, {"skip-channels", 1, 0, O_SKIP_CH},
		{"n-out", 1, 0, O_N_OUT}, {"input", 1, 0, O_INPUT},
		{"initial-width", 1, 0, O_INIT_WIDTH}, {"keep-every", 1, 0, O_KEEP_EVERY}, {0, 0, 0, 0}};
	arch_args aa = {NULL, NULL, NULL, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
	const char *model_name = NULL;
	model_kind kind = MODEL_SAMPLERNN;
	const char *rundir = NULL, *resume = NULL, *quant = NULL, *split = NULL;
	double lr = -1, eps = -1, clip_value = -1, minutes = 0;
	int clip = -1, threads = 0, rate = -1;
	long steps = -1, epochs = -1, ckpt_every = 500, sample_every = 0, sample_count = 3, keep_every = 0;
	double sample_seconds = 4, sample_temp = 0.95;
	long long seed = -1;
	int c;
	while ((c = getopt_long(argc, argv, "o:r:", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': rundir = optarg; break;
		case 'r': rate = (int)cli_long(usage, "-r", optarg, 1, 10000000); break;
		case O_PRESET: aa.preset = optarg; break;
		case O_FRAMES: aa.frames = optarg; break;
		case O_DIM: aa.dim = (int)cli_long(usage, "--dim", optarg, 1, 65536); break;
		case O_LAYERS: aa.layers = (int)cli_long(usage, "--layers", optarg, 1, 64); break;
		case O_RNN:
			if (strcmp(optarg, "lstm") && strcmp(optarg, "gru"))
				cli_usage_error(usage, "--rnn: expected lstm or gru, got '%s'", optarg);
			aa.rnn = strcmp(optarg, "gru") ? SRNN_LSTM : SRNN_GRU;
			break;
		case O_EMBED: aa.embed = (int)cli_long(usage, "--embed", optarg, 1, 65536); break;
		case O_LEVELS: aa.levels = (int)cli_long(usage, "--levels", optarg, 2, 65536); break;
		case O_LEARN_H0: aa.learn_h0 = 1; break;
		case O_RNN_WN: aa.rnn_wn = 1; break;
		case O_SEQ: aa.seq = (int)cli_long(usage, "--seq", optarg, 1, 1 << 24); break;
		case O_BATCH: aa.batch = (int)cli_long(usage, "--batch", optarg, 1, 1 << 16); break;
		case O_LR: lr = cli_double(usage, "--lr", optarg, 1e-30, 1e38); break;
		case O_EPS: eps = cli_double(usage, "--adam-eps", optarg, 1e-30, 1); break;
		case O_CLIP:
			if (!strcmp(optarg, "elementwise"))
				clip = TRN_CLIP_ELEMENTWISE;
			else if (!strcmp(optarg, "norm"))
				clip = TRN_CLIP_NORM;
			else if (!strcmp(optarg, "none"))
				clip = TRN_CLIP_NONE;
			else
				cli_usage_error(usage, "--clip: expected elementwise, norm or none, got '%s'", optarg);
			break;
		case O_CLIPV: clip_value = cli_double(usage, "--clip-value", optarg, 1e-30, 1e30); break;
		case O_STEPS: steps = cli_long(usage, "--steps", optarg, 0, LONG_MAX); break;
		case O_EPOCHS: epochs = cli_long(usage, "--epochs", optarg, 1, LONG_MAX); break;
		case O_MINUTES: minutes = cli_double(usage, "--minutes", optarg, 1e-6, 1e9); break;
		case O_KEEP_EVERY: keep_every = cli_long(usage, "--keep-every", optarg, 1, LONG_MAX); break;
		case O_CKPT: ckpt_every = cli_long(usage, "--checkpoint-every", optarg, 1, LONG_MAX); break;
		case O_SEED: seed = cli_long(usage, "--seed", optarg, 0, LONG_MAX); break;
		case O_SPLIT: split = optarg; break;
		case O_THREADS: threads = (int)cli_long(usage, "--threads", optarg, 1, 4096); break;
		case O_RESUME: resume = optarg; break;
		case O_QUANT: quant = optarg; break;
		case O_SAMPLE_EVERY: sample_every = cli_long(usage, "--sample-every", optarg, 1, LONG_MAX); break;
		case O_SAMPLE_SECONDS:
			sample_seconds = cli_double(usage, "--sample-seconds", optarg, 1e-3, 3600);
			break;
		case O_SAMPLE_COUNT: sample_count = cli_long(usage, "--sample-count", optarg, 1, 1024); break;
		case O_SAMPLE_TEMP: sample_temp = cli_double(usage, "--sample-temp", optarg, 0, 100); break;
		case O_MODEL:
			if (model_kind_parse(optarg, &kind) < 0)
				cli_usage_error(usage, "--model: expected samplernn or wavenet, got '%s'", optarg);
			model_name = optarg;
			break;
		case O_DILATIONS: aa.dilations = optarg; break;
		case O_RES_CH: aa.res_ch = (int)cli_long(usage, "--residual-channels", optarg, 1, 8192); break;
		case O_DIL_CH: aa.dil_ch = (int)cli_long(usage, "--dilation-channels", optarg, 1, 8192); break;
		case O_SKIP_CH: aa.skip_ch = (int)cli_long(usage, "--skip-channels", optarg, 1, 8192); break;
		case O_N_OUT: aa.n_out = (int)cli_long(usage, "--n-out", optarg, 1, 1 << 24); break;
		case O_INPUT:
			if (wn_input_parse(optarg, &aa.input) < 0)
				cli_usage_error(usage, "--input: expected onehot, embed or scalar, got '%s'", optarg);
			break;
		case O_INIT_WIDTH:
			aa.init_width = (int)cli_long(usage, "--initial-width", optarg, 1, WN_MAX_INITIAL_WIDTH);
			break;
		case O_HELP: fputs(usage, stdout); return 0;
		default: cli_usage_error(usage, "unknown option");
		}
	}
	if (!rundir)
		cli_usage_error(usage, "-o RUNDIR is required");
	if (aa.frames) {
		srnn_config tmp;
		if (srnn_parse_frame_sizes(aa.frames, &tmp) < 0)
			cli_usage_error(usage, "--frame-sizes: %s", sh_errmsg());
	}
	if (aa.dilations) {
		wn_config tmp;
		if (wn_parse_dilations(aa.dilations, &tmp) < 0)
			cli_usage_error(usage, "--dilations: %s", sh_errmsg());
	}
	double pct[3] = {88, 6, 6};
	if (split) {
		char *end;
		const char *p = split;
		for (int i = 0; i < 3; i++) {
			pct[i] = strtod(p, &end);
			if (end == p || !(pct[i] >= 0 && pct[i] <= 100) || (i < 2 && *end != ',' && *end != '/') ||
			    (i == 2 && *end))
				cli_usage_error(usage, "--split: expected three percentages like 88,6,6, got '%s'",
						split);
			p = end + 1;
		}
		if (fabs(pct[0] + pct[1] + pct[2] - 100) > 1e-9 || pct[0] <= 0)
			cli_usage_error(usage, "--split: the percentages must add up to 100 and train must be > 0");
	}

	/* the options: from the checkpoint when resuming, then what the command line says */
	trn_options opt;
	memset(&opt, 0, sizeof opt);
	st_file ckpt;
	memset(&ckpt, 0, sizeof ckpt);
	char resume_path[4096] = "";
	if (resume) {
		if (cli_is_dir_path(resume))
			snprintf(resume_path, sizeof resume_path, "%s/last.safetensors", resume);
		else
			snprintf(resume_path, sizeof resume_path, "%s", resume);
		if (st_load(resume_path, &ckpt) < 0 || trn_meta_options(&ckpt, &opt) < 0)
			cli_die_lib(resume_path);
		/* the model defaults to the checkpoint's; what is given must match it */
		model_config asked = opt.model;
		if (model_name)
			asked.kind = kind;
		check_arch_options(&aa, asked.kind);
		if (aa.preset || asked.kind != opt.model.kind)
			apply_preset(&aa, &asked);
		apply_arch(&aa, &asked);
		char diff[WN_MAX_LAYERS * 20];
		if (model_config_diff(&opt.model, &asked, diff, sizeof diff))
			cli_die(resume_path, "checkpoint of another architecture: %s", diff);
		if (seed >= 0 && (uint64_t)seed != opt.seed)
			cli_die(resume_path, "checkpoint has seed %llu, --seed says %lld",
				(unsigned long long)opt.seed, seed);
		if (rate > 0 && rate != opt.sample_rate)
			cli_die(resume_path, "checkpoint was trained at %d Hz, -r says %d", opt.sample_rate, rate);
		if (quant && strcmp(quant, opt.quantization))
			cli_die(resume_path, "checkpoint was trained on %s codes, --quantization says %s",
				opt.quantization, quant);
		if (split && memcmp(pct, opt.split, sizeof pct))
			cli_die(resume_path, "checkpoint has another --split (%g,%g,%g)", opt.split[0],
				opt.split[1], opt.split[2]);
	} else {
		check_arch_options(&aa, kind);
		opt.model.kind = kind;
		apply_preset(&aa, &opt.model);
		apply_arch(&aa, &opt.model);
		/* tensorflow-wavenet trains with Adam eps 1e-4 and no clipping (REFERENCE.md) */
		opt.lr = 1e-3;
		opt.beta1 = 0.9;
		opt.beta2 = 0.999;
		opt.eps = kind == MODEL_WAVENET ? 1e-4 : 1e-8;
		opt.clip = kind == MODEL_WAVENET ? TRN_CLIP_NONE : TRN_CLIP_ELEMENTWISE;
		opt.clip_value = -1;
		opt.seed = 123;
		memcpy(opt.split, pct, sizeof pct);
		opt.sample_rate = 16000;
		snprintf(opt.quantization, sizeof opt.quantization, "mulaw");
		if (model_config_check(&opt.model) < 0)
			cli_usage_error(usage, "%s", sh_errmsg());
	}
	if (lr > 0)
		opt.lr = lr;
	if (eps > 0)
		opt.eps = eps;
	if (clip >= 0) {
		if (clip != opt.clip && clip_value < 0)
			opt.clip_value = -1;
		opt.clip = clip;
	}
	if (clip_value > 0)
		opt.clip_value = clip_value;
	if (opt.clip_value < 0)
		opt.clip_value = opt.clip == TRN_CLIP_NORM ? 5 : 1;
	if (seed >= 0)
		opt.seed = (uint64_t)seed;
	if (rate > 0)
		opt.sample_rate = rate;
	if (quant)
		snprintf(opt.quantization, sizeof opt.quantization, "%s", quant);
	const model_config *cfg = &opt.model;
	const int seq = model_seq(cfg), batch = model_batch(cfg);
	if (sample_every && trn_quant_mode(opt.quantization) < 0)
		cli_usage_error(usage, "--sample-every: %s", sh_errmsg());

	/* the data, checked against the model before anything is written */
	trn_data data;
	memset(&data, 0, sizeof data);
	int nfiles = argc - optind;
	char *stdin_only[] = {"-"};
	char **files = nfiles ? argv + optind : stdin_only;
	for (int i = 0; i < (nfiles ? nfiles : 1); i++)
		if (trn_data_add_file(&data, files[i]) < 0)
			cli_die_lib(cli_in_name(files[i]));
	if (!data.nrec)
		cli_die(nfiles == 1 ? files[0] : NULL, "no records in the data");
	int bad;
	if (trn_data_check(&data, model_levels(cfg), seq, &bad) < 0)
		cli_die_lib(cli_in_name(data.files[data.file[bad]]));
	if (trn_data_split(&data, opt.seed, opt.split) < 0)
		cli_die_lib(NULL);

	/* the run directory */
	char path[4096];
	snprintf(path, sizeof path, "%s/last.safetensors", rundir);
	struct stat st;
	if (!resume && !stat(path, &st))
		cli_die(rundir, "already holds a run (last.safetensors): continue it with --resume %s, or "
			"choose another directory", rundir);
	cli_mkdirs(rundir);
	char samples_dir[4096];
	snprintf(samples_dir, sizeof samples_dir, "%s/samples", rundir);
	if (sample_every)
		cli_mkdirs(samples_dir);

	if (threads <= 0)
		threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (threads < 1)
		threads = 1;
	omp_set_num_threads(threads);
	openblas_set_num_threads(threads);

	trn_run run;
	if (trn_run_init(&run, &opt, &data) < 0)
		cli_die_lib(NULL);
	if (resume) {
		if (trn_load(&run, &data, &ckpt) < 0)
			cli_die_lib(resume_path);
		st_free(&ckpt);
	}
	trn_log log = {0};
	snprintf(path, sizeof path, "%s/log.tsv", rundir);
	if (trn_log_read(&log, path, resume ? run.step : -1) < 0)
		cli_die_lib(NULL);
	double seconds0 = log.n ? log.rows[log.n - 1].seconds : 0;

	fad_stats *heldout = NULL;
	if (sample_every && (data.nvalid || data.ntest) && !(heldout = trn_heldout_stats(&run, &data)))
		cli_die_lib(NULL);
	run_info ri = {argc, argv, rundir, resume ? resume_path : NULL, threads, run.step, ""};
	time_t now = time(NULL);
	strftime(ri.started, sizeof ri.started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	write_run_json(&ri, &opt, &data, &run, NULL, seconds0);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	trn_log_row row;
	/* Resumed at a checkpoint step whose checkpoint was cut short (a signal during it left
	 * last.safetensors without the log row, the best and the restarted train average): finish
	 * it now, as a straight run did, so that the continued run gives the same bytes. */
	if (resume && run.step > 0 && run.step % ckpt_every == 0 && (!log.n || log.rows[log.n - 1].step != run.step)) {
		int rc = checkpoint(&run, &data, rundir, &log, 1, seconds0, 0, &stop_signal, &row);
		if (rc)
			cli_die(resume_path, "%s", rc < 0 ? sh_errmsg() : "the validation loss is not finite");
		if (keep_every && run.step % keep_every == 0 && trn_keep_milestone(&run, &data, rundir) < 0)
			cli_die_lib(NULL);
	}

	/* the loop */
	/* step_time leaves out the invocation's first step (warm-up: page faults, thread start),
	 * as the peer's benchmark does, for the summary's samples/s */
	double t0 = sh_now(), interval_time = 0, step_time = 0;
	long interval_steps = 0, start_step = run.step;
	double samples_per_step = (double)batch * seq;
	const char *ended = NULL;
	cli_progress prog;
	cli_progress_start(&prog, "training", steps > 0 ? (double)(steps - start_step) : 0, "steps");
	double last_bits = NAN, last_valid = NAN;
	int need_ckpt = 0, status = 0;
	long last_ckpt_step = resume ? run.step : -1;
	for (;;) {
		if (stop_signal) {
			ended = stop_signal == SIGTERM ? "SIGTERM" : "SIGINT";
			break;
		}
		if (steps >= 0 && run.step >= steps) {
			ended = "steps";
			break;
		}
		if (epochs > 0 && run.feed.epoch >= epochs) {
			ended = "epochs";
			break;
		}
		if (minutes > 0 && sh_now() - t0 >= minutes * 60) {
			ended = "minutes";
			break;
		}
		double ts = sh_now();
		double loss = trn_step(&run, &data);
		double dt = sh_now() - ts;
		if (!isfinite(loss)) {
			diverged(&prog, rundir, run.step + 1, isnan(loss) ? "the training loss or a gradient is nan"
									 : "the training loss or a gradient is infinite",
				 last_ckpt_step);
			ended = "diverged";
			status = 1;
			break;
		}
		interval_time += dt;
		if (run.step - start_step > 1)
			step_time += dt;
		interval_steps++;
		need_ckpt = 1;
		last_bits = loss / M_LN2;
		char extra[128];
		snprintf(extra, sizeof extra, "step %ld, %.3f bits, %.0f samples/s", run.step, last_bits,
			 interval_time > 0 ? interval_steps * samples_per_step / interval_time : 0);
		cli_progress_update(&prog, (double)(run.step - start_step), extra);
		if (run.step % ckpt_every == 0 || (keep_every && run.step % keep_every == 0) ||
		    (sample_every && run.step % sample_every == 0)) {
			double sps = interval_time > 0 ? interval_steps * samples_per_step / interval_time : 0;
			if (data.nvalid) {   /* say why the bar stops moving (drawn now, not rate-limited) */
				snprintf(extra, sizeof extra, "step %ld, validating on %d records", run.step,
					 data.nvalid);
				prog.last_draw = 0;
				cli_progress_update(&prog, (double)(run.step - start_step), extra);
			}
			int rc = checkpoint(&run, &data, rundir, &log, 1, seconds0 + sh_now() - t0, sps,
						&stop_signal, &row);
			if (rc < 0)
				cli_die_lib(NULL);
			if (rc > 0) {
				diverged(&prog, rundir, run.step, "the validation loss is not finite",
					 last_ckpt_step);
				ended = "diverged";
				status = 1;
				break;
			}
			if (keep_every && run.step % keep_every == 0 && trn_keep_milestone(&run, &data, rundir) < 0)
				cli_die_lib(NULL);
			last_ckpt_step = run.step;
			last_valid = row.valid_bits;
			interval_time = 0;
			interval_steps = 0;
			need_ckpt = 0;
		}
		/* a clip that cannot be written is not worth stopping the training for; the clips'
		 * distance to held-out audio goes into the step's log row */
		if (sample_every && run.step % sample_every == 0 && !stop_signal) {
			if (trn_write_samples(&run, samples_dir, (int)sample_count, sample_seconds, sample_temp,
					      &stop_signal) < 0)
				cli_warn(samples_dir, "step %ld: no clips: %s", run.step, sh_errmsg());
			else if (heldout && !stop_signal &&
				 isnan(trn_log_clip_distance(&log, rundir, run.step, (int)sample_count, heldout)))
				cli_warn(samples_dir, "step %ld: no distance: %s", run.step, sh_errmsg());
		}
	}
	if (need_ckpt && status == 0) {
		/* a last checkpoint: a full one when training ended by itself, the checkpoint alone
		 * when interrupted (validation could take long) */
		double sps = interval_time > 0 ? interval_steps * samples_per_step / interval_time : 0;
		int rc = checkpoint(&run, &data, rundir, &log, !stop_signal, seconds0 + sh_now() - t0,
					sps, &stop_signal, &row);
		if (rc < 0)
			cli_die_lib(NULL);
		if (rc > 0) {
			diverged(&prog, rundir, run.step, "the validation loss is not finite", last_ckpt_step);
			ended = "diverged";
			status = 1;
		} else if (!stop_signal) {
			last_valid = row.valid_bits;
		}
	}
	double elapsed = sh_now() - t0;
	double sps_all = step_time > 0 ? (run.step - start_step - 1) * samples_per_step / step_time : 0;
	write_run_json(&ri, &opt, &data, &run, ended, seconds0 + elapsed);
	if (status == 0)
		cli_progress_end(&prog,
				 "%s: step %ld, epoch %.2f, %.1f s, %.0f samples/s (%.1f GFLOP/s), train %.3f bits, "
				 "valid %.3f bits, best %.3f%s",
				 rundir, run.step, trn_feed_epoch(&run.feed), elapsed, sps_all,
				 sps_all * model_train_flops(cfg, batch) / samples_per_step / 1e9,
				 last_bits, last_valid, run.best_bits,
				 stop_signal ? " (interrupted; checkpoint written)" : "");
	fad_free(heldout);
	trn_log_free(&log);
	trn_run_free(&run);
	trn_data_free(&data);
	if (status)
		return status;
	return stop_signal ? 128 + stop_signal : 0;
}
