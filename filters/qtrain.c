/* qtrain: trains SampleRNN or WaveNet on code records (from mulaw) into a run directory of
 * checkpoints, log.tsv, loss.png and run.json. Options and wiring only; the work is in
 * lib/train*.c and the models behind lib/model.h. docs/qtrain.md is the manual. With
 * --model ddsp, DDSP's decoder on audio records instead: ddsp_main at the end, the work in
 * lib/ddsp_train.c (docs/ddsp-harmonic.md). */
#include "backend.h"
#include "blas.h"
#include "bounds.h"
#include "cli.h"
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
#include <getopt.h>
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

static const char usage[] =
	"usage: qtrain [options] -o RUNDIR DATA...\n"
	"Trains SampleRNN or WaveNet on tensor streams of code records (|u1 or <u2, from mulaw).\n"
	"  -o RUNDIR              run directory: last/best.safetensors, log.tsv, loss.png, run.json\n"
	"  --model NAME           samplernn (default), wavenet, or ddsp (qtrain --model ddsp --help)\n"
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
	"  --seed S               seed of initialisation, split and shuffling (1)\n"
	"  --split T,V,X          percentages of records for train, valid, test (88,6,6)\n"
	"  --threads N            threads (default: every core)\n"
	"  --device cpu|cuda      where to train (cpu; cuda: WaveNet only, docs/cuda.md)\n"
	"  --resume CKPT|RUNDIR   continue a run exactly where CKPT (RUNDIR/last.safetensors) stopped\n"
	"  --sample-every K       every K steps, write clips to RUNDIR/samples/ (qsample's generator)\n"
	"  --sample-seconds S     length of those clips (4)\n"
	"  --sample-count N       clips each time (3)\n"
	"  --sample-temp T        their temperature (0.95)\n"
	"  --sample-prime FILE    those clips continue FILE (audio, or codes: as qsample --prime)\n"
	"  -r RATE                sample rate of the data, recorded in checkpoints (default: the rate\n"
	"                         the data carry, else 16000); data at another rate are refused\n"
	"  --quantization NAME    how the codes were made, recorded in checkpoints: mulaw (default),\n"
	"                         dadabots or linear (mulaw's modes)\n"
	"  -q, --quiet            no progress and no summary line\n"
	"  -h, --help             this text; --version: the version and the libraries used\n"
	"Stops at --steps/--epochs/--minutes or on SIGINT/SIGTERM (after a last checkpoint).\n";

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

enum {
	O_PRESET = 256,
	O_FRAMES,
	O_DIM,
	O_LAYERS,
	O_RNN,
	O_EMBED,
	O_LEVELS,
	O_LEARN_H0,
	O_RNN_WN,
	O_SEQ,
	O_BATCH,
	O_LR,
	O_EPS,
	O_CLIP,
	O_CLIPV,
	O_STEPS,
	O_EPOCHS,
	O_MINUTES,
	O_CKPT,
	O_SEED,
	O_SPLIT,
	O_THREADS,
	O_RESUME,
	O_QUANT,
	O_SAMPLE_EVERY,
	O_SAMPLE_SECONDS,
	O_SAMPLE_COUNT,
	O_SAMPLE_TEMP,
	O_SAMPLE_PRIME,
	O_HELP,
	O_MODEL,
	O_DILATIONS,
	O_RES_CH,
	O_DIL_CH,
	O_SKIP_CH,
	O_N_OUT,
	O_INPUT,
	O_INIT_WIDTH,
	O_KEEP_EVERY,
	O_DEVICE
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
#define SET(f, v)                                                                                                      \
	do {                                                                                                           \
		if (a->v >= 0)                                                                                         \
			w->f = a->v;                                                                                   \
	} while (0)
		SET(res_ch, res_ch);
		SET(dil_ch, dil_ch);
		SET(skip_ch, skip_ch);
		SET(n_out, n_out);
		SET(levels, levels);
		SET(batch, batch);
		SET(input, input);
		SET(embed, embed);
		SET(initial_width, init_width);
#undef SET
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
#define SET(f, v)                                                                                                      \
	do {                                                                                                           \
		if (a->v >= 0)                                                                                         \
			c->f = a->v;                                                                                   \
	} while (0)
	SET(dim, dim);
	SET(layers, layers);
	SET(rnn, rnn);
	SET(embed, embed);
	SET(levels, levels);
	SET(learn_h0, learn_h0);
	SET(rnn_weight_norm, rnn_wn);
	SET(seq, seq);
	SET(batch, batch);
#undef SET
}

/* Options of the other model are refused rather than silently ignored. */
static void check_arch_options(const arch_args *a, model_kind kind)
{
	if (kind == MODEL_WAVENET) {
		const char *bad = a->frames          ? "--frame-sizes"
				  : a->dim >= 0      ? "--dim"
				  : a->layers >= 0   ? "--layers"
				  : a->rnn >= 0      ? "--rnn"
				  : a->learn_h0 >= 0 ? "--learn-h0"
				  : a->rnn_wn >= 0   ? "--rnn-weight-norm"
				  : a->seq >= 0      ? "--seq"
						     : NULL;
		if (bad)
			cli_usage_error(usage,
					"%s is a SampleRNN option (WaveNet: --dilations, --residual-channels, "
					"--dilation-channels, --skip-channels, --n-out, --input, --embed, "
					"--initial-width)",
					bad);
	} else {
		const char *bad = a->dilations         ? "--dilations"
				  : a->res_ch >= 0     ? "--residual-channels"
				  : a->dil_ch >= 0     ? "--dilation-channels"
				  : a->skip_ch >= 0    ? "--skip-channels"
				  : a->n_out >= 0      ? "--n-out"
				  : a->input >= 0      ? "--input"
				  : a->init_width >= 0 ? "--initial-width"
						       : NULL;
		if (bad)
			cli_usage_error(usage, "%s is a WaveNet option (use --model wavenet)", bad);
	}
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

static void json_config(sh_buf *b, const trn_options *o)
{
	if (o->model.kind == MODEL_WAVENET) {
		const wn_config *w = &o->model.wn;
		sh_buf_printf(b, "\"model\": {\"type\": \"wavenet\", \"dilations\": [");
		for (int i = 0; i < w->nlayers; i++)
			sh_buf_printf(b, i ? ", %d" : "%d", w->dilation[i]);
		sh_buf_printf(b,
			      "], \"residual_channels\": %d, \"dilation_channels\": %d, \"skip_channels\": %d, "
			      "\"levels\": %d, \"n_out\": %d, \"batch\": %d, \"receptive_field\": %d, "
			      "\"input\": \"%s\", \"embed\": ",
			      w->res_ch, w->dil_ch, w->skip_ch, w->levels, w->n_out, w->batch, wn_receptive_field(w),
			      wn_input_name(w->input));
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
		sh_buf_printf(b,
			      "], \"dim\": %d, \"layers\": %d, \"rnn\": \"%s\", \"embed\": %d, \"levels\": %d, "
			      "\"learn_h0\": %s, \"rnn_weight_norm\": %s, \"seq\": %d, \"batch\": %d},\n",
			      c->dim, c->layers, c->rnn == SRNN_GRU ? "gru" : "lstm", c->embed, c->levels,
			      c->learn_h0 ? "true" : "false", c->rnn_weight_norm ? "true" : "false", c->seq, c->batch);
	}
	sh_buf_printf(b,
		      "  \"training\": {\"lr\": %.17g, \"adam_beta1\": %.17g, \"adam_beta2\": %.17g, "
		      "\"adam_eps\": %.17g, \"clip\": \"%s\", \"clip_value\": %.17g, \"split\": [%g, %g, %g], "
		      "\"sample_rate\": %d, \"quantization\": ",
		      o->lr, o->beta1, o->beta2, o->eps,
		      o->clip == TRN_CLIP_NORM   ? "norm"
		      : o->clip == TRN_CLIP_NONE ? "none"
						 : "elementwise",
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

/* run.json's opening, common to every model: the command, where and when it ran, the seed,
 * threads and ranks, the run id (SampleRNN and WaveNet), what it resumed, and the data's files (the data object is left open for
 * the model's own counts) */
static void run_json_head(sh_buf *b, const run_info *ri, const char *run_id, uint64_t seed, char *const *files,
			  int nfiles)
{
	sh_buf_printf(b, "{\n  \"program\": \"qtrain\",\n  \"command\": [");
	for (int i = 0; i < ri->argc; i++) {
		sh_buf_printf(b, i ? ", " : "");
		sh_buf_json_str(b, ri->argv[i]);
	}
	char cwd[4096];
	sh_buf_printf(b, "],\n  \"cwd\": ");
	sh_buf_json_str(b, getcwd(cwd, sizeof cwd) ? cwd : "");
	sh_buf_printf(b, ",\n  \"started\": \"%s\",\n", ri->started);
	if (run_id)
		sh_buf_printf(b, "  \"run_id\": \"%s\",\n", run_id);
	sh_buf_printf(b, "  \"seed\": %llu,\n  \"threads\": %d,\n  \"ranks\": %d,\n", (unsigned long long)seed,
		      ri->threads, dist_size());
	sh_buf_printf(b, "  \"resumed_from\": ");
	if (ri->resume)
		sh_buf_json_str(b, ri->resume);
	else
		sh_buf_printf(b, "null");
	sh_buf_printf(b, ",\n  \"start_step\": %ld,\n  \"data\": {\"files\": [", ri->start_step);
	for (int i = 0; i < nfiles; i++) {
		sh_buf_printf(b, i ? ", " : "");
		sh_buf_json_str(b, files[i]);
	}
	sh_buf_printf(b, "], ");
}

/* run.json's end: the libraries, how the run ended (when it has), then the file written
 * atomically */
static void run_json_finish(sh_buf *b, const run_info *ri, const char *ended, long step, double epoch, double seconds)
{
	sh_buf_printf(b, "  \"libraries\": {");
	trn_lib_versions_json(b);
	sh_buf_printf(b, "}");
	if (ended)
		sh_buf_printf(b,
			      ",\n  \"ended\": \"%s\",\n  \"final_step\": %ld,\n  \"epoch\": %.6f,\n"
			      "  \"seconds\": %.1f",
			      ended, step, epoch, seconds);
	sh_buf_printf(b, "\n}\n");
	char path[4096];
	snprintf(path, sizeof path, "%s/run.json", ri->rundir);
	if (!b->s || sh_write_file(path, b->s, b->n) < 0)
		cli_die_lib(NULL);
	free(b->s);
}

/* RUNDIR/run.json: what was run, on what, with which libraries; rewritten at the end with how
 * the run ended. */
static void write_run_json(const run_info *ri, const trn_options *o, const trn_data *d, const trn_run *t,
			   const char *ended, double seconds)
{
	sh_buf b = {0};
	char run_id[17];
	snprintf(run_id, sizeof run_id, "%016llx", (unsigned long long)trn_run_id(o, d->fingerprint));
	run_json_head(&b, ri, run_id, o->seed, d->files, d->nfiles);
	sh_buf_printf(&b,
		      "\"records\": %d, \"samples\": %zu, \"fingerprint\": \"%016llx\", "
		      "\"split_records\": [%d, %d, %d]},\n  ",
		      d->nrec, d->total, (unsigned long long)d->fingerprint, d->ntrain, d->nvalid, d->ntest);
	json_config(&b, o);
	sh_buf_printf(&b, "  \"parameters\": %zu,\n  \"train_flops_per_step\": %.6g,\n", t->nparams,
		      model_train_flops(&o->model, model_batch(&o->model)));
	run_json_finish(&b, ri, ended, t->step, trn_feed_epoch(&t->feed), seconds);
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

static int ddsp_main(int argc, char **argv);
static int wants_ddsp(int argc, char **argv);

int main(int argc, char **argv)
{
	blas_runtime_init(argv); /* before anything runs on OpenBLAS or OpenMP */
	cli_init("qtrain");
	dist_start(&argc, &argv);
	if (wants_ddsp(argc, argv)) { /* DDSP trains on audio, not codes: a path of its own */
		if (dist_size() > 1)  /* every rank would write the same run directory */
			cli_usage_error(usage, "--model ddsp does not train under mpirun yet: run one process");
		return ddsp_main(argc, argv);
	}
	static const struct option longopts[] = {{"preset", 1, 0, O_PRESET},
						 {"frame-sizes", 1, 0, O_FRAMES},
						 {"dim", 1, 0, O_DIM},
						 {"layers", 1, 0, O_LAYERS},
						 {"rnn", 1, 0, O_RNN},
						 {"embed", 1, 0, O_EMBED},
						 {"levels", 1, 0, O_LEVELS},
						 {"learn-h0", 0, 0, O_LEARN_H0},
						 {"rnn-weight-norm", 0, 0, O_RNN_WN},
						 {"seq", 1, 0, O_SEQ},
						 {"batch", 1, 0, O_BATCH},
						 {"lr", 1, 0, O_LR},
						 {"adam-eps", 1, 0, O_EPS},
						 {"clip", 1, 0, O_CLIP},
						 {"clip-value", 1, 0, O_CLIPV},
						 {"steps", 1, 0, O_STEPS},
						 {"epochs", 1, 0, O_EPOCHS},
						 {"minutes", 1, 0, O_MINUTES},
						 {"checkpoint-every", 1, 0, O_CKPT},
						 {"seed", 1, 0, O_SEED},
						 {"split", 1, 0, O_SPLIT},
						 {"threads", 1, 0, O_THREADS},
						 {"resume", 1, 0, O_RESUME},
						 {"quantization", 1, 0, O_QUANT},
						 {"sample-every", 1, 0, O_SAMPLE_EVERY},
						 {"sample-seconds", 1, 0, O_SAMPLE_SECONDS},
						 {"sample-count", 1, 0, O_SAMPLE_COUNT},
						 {"sample-temp", 1, 0, O_SAMPLE_TEMP},
						 {"sample-prime", 1, 0, O_SAMPLE_PRIME},
						 {"help", 0, 0, O_HELP},
						 {"model", 1, 0, O_MODEL},
						 {"dilations", 1, 0, O_DILATIONS},
						 {"residual-channels", 1, 0, O_RES_CH},
						 {"dilation-channels", 1, 0, O_DIL_CH},
						 {"skip-channels", 1, 0, O_SKIP_CH},
						 {"n-out", 1, 0, O_N_OUT},
						 {"input", 1, 0, O_INPUT},
						 {"initial-width", 1, 0, O_INIT_WIDTH},
						 {"keep-every", 1, 0, O_KEEP_EVERY},
						 {"device", 1, 0, O_DEVICE},
						 CLI_STD_LONGOPTS,
						 {0, 0, 0, 0}};
	arch_args aa = {NULL, NULL, NULL, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
	const char *model_name = NULL;
	model_kind kind = MODEL_SAMPLERNN;
	const char *rundir = NULL, *resume = NULL, *quant = NULL, *split = NULL;
	double lr = -1, eps = -1, clip_value = -1, minutes = 0;
	int clip = -1, threads = 0, rate = -1;
	long steps = -1, epochs = -1, ckpt_every = 500, sample_every = 0, sample_count = 3, keep_every = 0;
	double sample_seconds = 4, sample_temp = 0.95;
	const char *sample_prime_path = NULL, *device = NULL;
	long long seed = -1;
	int c;
	while ((c = getopt_long(argc, argv, ":o:r:hq", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': rundir = optarg; break;
		case 'r': rate = (int)cli_long(usage, "-r", optarg, SH_RATE_MIN, SH_RATE_MAX); break;
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
		case O_LR: lr = cli_double(usage, "--lr", optarg, TRN_LR_MIN, TRN_LR_MAX); break;
		case O_EPS: eps = cli_double(usage, "--adam-eps", optarg, TRN_EPS_MIN, TRN_EPS_MAX); break;
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
		case O_CLIPV:
			clip_value = cli_double(usage, "--clip-value", optarg, TRN_CLIP_VALUE_MIN, TRN_CLIP_VALUE_MAX);
			break;
		case O_STEPS: steps = cli_long(usage, "--steps", optarg, 0, LONG_MAX); break;
		case O_EPOCHS: epochs = cli_long(usage, "--epochs", optarg, 1, LONG_MAX); break;
		case O_MINUTES: minutes = cli_double(usage, "--minutes", optarg, 1e-6, 1e9); break;
		case O_KEEP_EVERY: keep_every = cli_long(usage, "--keep-every", optarg, 1, LONG_MAX); break;
		case O_CKPT: ckpt_every = cli_long(usage, "--checkpoint-every", optarg, 1, LONG_MAX); break;
		case O_SEED: seed = cli_long(usage, "--seed", optarg, 0, LONG_MAX); break;
		case O_SPLIT: split = optarg; break;
		case O_THREADS: threads = (int)cli_long(usage, "--threads", optarg, 1, 4096); break;
		case O_RESUME: resume = optarg; break;
		case O_QUANT:
			quant = optarg;
			if (trn_quant_mode(quant) < 0) /* refused now, not at the first clip */
				cli_usage_error(usage, "--quantization: %s", sh_errmsg());
			break;
		case O_SAMPLE_EVERY: sample_every = cli_long(usage, "--sample-every", optarg, 1, LONG_MAX); break;
		case O_SAMPLE_SECONDS:
			sample_seconds = cli_double(usage, "--sample-seconds", optarg, 1e-3, 3600);
			break;
		case O_SAMPLE_COUNT: sample_count = cli_long(usage, "--sample-count", optarg, 1, 1024); break;
		case O_SAMPLE_TEMP: sample_temp = cli_double(usage, "--sample-temp", optarg, 0, 100); break;
		case O_SAMPLE_PRIME: sample_prime_path = optarg; break;
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
		case O_DEVICE:
			if (backend_name_check(device = optarg) < 0)
				cli_usage_error(usage, "--device: %s", sh_errmsg());
			break;
		case O_HELP: fputs(usage, stdout); return 0;
		default: cli_std_option(usage, c, argv);
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
	dist_options_parsed();

	/* the options: from the checkpoint when resuming, then what the command line says */
	trn_options opt;
	memset(&opt, 0, sizeof opt);
	st_file ckpt;
	memset(&ckpt, 0, sizeof ckpt);
	char resume_path[4096] = "";
	uint64_t ckpt_run = 0;
	if (resume) {
		if (cli_is_dir_path(resume))
			snprintf(resume_path, sizeof resume_path, "%s/last.safetensors", resume);
		else
			snprintf(resume_path, sizeof resume_path, "%s", resume);
		agree(st_load(resume_path, &ckpt) < 0 || trn_meta_options(&ckpt, &opt) < 0 ||
			      trn_ckpt_run_id(&ckpt, &ckpt_run) < 0,
		      resume_path);
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
			cli_die(resume_path, "checkpoint has seed %llu, --seed says %lld", (unsigned long long)opt.seed,
				seed);
		if (rate > 0 && rate != opt.sample_rate)
			cli_die(resume_path, "checkpoint was trained at %d Hz, -r says %d", opt.sample_rate, rate);
		if (quant && strcmp(quant, opt.quantization))
			cli_die(resume_path, "checkpoint was trained on %s codes, --quantization says %s",
				opt.quantization, quant);
		if (split && memcmp(pct, opt.split, sizeof pct))
			cli_die(resume_path, "checkpoint has another --split (%g,%g,%g)", opt.split[0], opt.split[1],
				opt.split[2]);
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
		opt.seed = CLI_DEFAULT_SEED;
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
	if (trn_options_check(&opt) < 0)
		cli_usage_error(usage, "%s", sh_errmsg());
	/* the device, and the model on it, before anything is written */
	agree(device && backend_device_usable(device, model_device_unported(cfg)) < 0 &&
		      sh_error_prefix("--device %s", device),
	      NULL);
	if (batch % dist_size())
		sh_error("--batch %d does not divide among %d ranks", batch, dist_size());
	agree(batch % dist_size() != 0, NULL);
	/* the clips' prime, before anything is written */
	uint16_t *sample_prime = NULL;
	long sample_prime_len = 0;
	if (sample_prime_path) {
		mulaw_quantiser q;
		if (!sample_every)
			cli_usage_error(usage, "--sample-prime needs --sample-every");
		if (mulaw_init(&q, (mulaw_mode)trn_quant_mode(opt.quantization), model_levels(&opt.model)) < 0 ||
		    gen_load_prime(sample_prime_path, opt.sample_rate, &q, 0, &sample_prime, &sample_prime_len) < 0)
			cli_die_lib(cli_in_name(sample_prime_path));
		mulaw_free(&q);
	}

	/* the data, checked against the model before anything is written */
	trn_data data;
	memset(&data, 0, sizeof data);
	int nfiles = argc - optind;
	char *stdin_only[] = {"-"};
	char **files = nfiles ? argv + optind : stdin_only;
	/* (under mpirun every rank reads the data: a rank that cannot is reported by rank 0) */
	const char *bad_file = NULL;
	int bad, failed = 0;
	for (int i = 0; i < (nfiles ? nfiles : 1) && !failed; i++)
		if ((failed = trn_data_add_file(&data, files[i]) < 0))
			bad_file = cli_in_name(files[i]);
	if (!failed && !data.nrec)
		failed = sh_error("no records in the data"), bad_file = nfiles == 1 ? files[0] : NULL;
	agree(failed, bad_file);
	/* the rate the records carry: -r and a checkpoint must agree with it; without -r it is the
	 * run's rate (older streams carry none: -r or 16000 then, as before) */
	if (data.rate) {
		const char *what = nfiles == 1 ? cli_in_name(files[0]) : NULL;
		if (rate > 0 && rate != data.rate)
			cli_die(what, "the data are at %d Hz, -r says %d", data.rate, rate);
		if (resume && opt.sample_rate != data.rate)
			cli_die(resume_path, "checkpoint was trained at %d Hz, the data are at %d Hz", opt.sample_rate,
				data.rate);
		opt.sample_rate = data.rate;
	}
	if ((failed = trn_data_check(&data, model_levels(cfg), seq, &bad) < 0))
		bad_file = cli_in_name(data.files[data.file[bad]]);
	if (!failed)
		failed = trn_data_split(&data, opt.seed, opt.split) < 0, bad_file = NULL;
	agree(failed, bad_file);
	if (dist_size() > 1) { /* the same data on every rank */
		uint64_t *fps = malloc(dist_size() * sizeof *fps);
		if (!fps || dist_allgather(&data.fingerprint, fps, sizeof *fps) < 0)
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

	/* the run directory: made, locked for the life of this process, cleared of what a killed
	 * run left, and then (under the lock, so that no other qtrain changes it meanwhile) checked:
	 * a new run needs a directory without one; --resume continues the run the directory holds,
	 * or forks a run into a directory that holds none */
	char path[4096];
	snprintf(path, sizeof path, "%s/last.safetensors", rundir);
	struct stat st;
	const int rank0 = !dist_rank(); /* writes the run directory */
	if (rank0) {
		cli_mkdirs(rundir);
		lock_rundir(rundir);
	}
	failed = rank0 && !resume && !stat(path, &st);
	if (failed)
		sh_error("already holds a run (last.safetensors): continue it with --resume %s, or choose "
			 "another directory",
			 rundir);
	agree(failed, rundir);
	uint64_t dir_run;
	failed = rank0 && resume && rundir_run_id(rundir, &dir_run) && dir_run != ckpt_run;
	if (failed)
		sh_error("checkpoint of another run (run %016llx) than %s holds (run %016llx): continue a run "
			 "in its own directory, or fork it into a new one",
			 (unsigned long long)ckpt_run, rundir, (unsigned long long)dir_run);
	agree(failed, resume_path);
	if (rank0)
		remove_stale_tmp(rundir, 0);
	char samples_dir[4096];
	snprintf(samples_dir, sizeof samples_dir, "%s/samples", rundir);
	if (sample_every && rank0)
		cli_mkdirs(samples_dir);
	if (rank0)
		remove_stale_tmp(samples_dir, 1);

	if (threads <= 0) /* the ranks on this machine share its cores */
		threads = (int)sysconf(_SC_NPROCESSORS_ONLN) / dist_local_size();
	if (threads < 1)
		threads = 1;
	omp_set_num_threads(threads);
	openblas_set_num_threads(threads);

	trn_run run;
	if (trn_run_init(&run, &opt, &data) < 0)
		cli_die_lib(NULL);
	backend *dev = device && strcmp(device, "cpu") ? backend_open(device) : NULL;
	if (dev && model_use_backend(run.m, dev) < 0)
		cli_die(NULL, "--device %s: %s", device, sh_errmsg());
	if (resume) {
		agree(trn_load(&run, &data, &ckpt) < 0, resume_path);
		st_free(&ckpt);
	}
	agree(trn_check_replicas(&run) < 0, resume ? resume_path : NULL);
	trn_log log = {0};
	snprintf(path, sizeof path, "%s/log.tsv", rundir);
	if (rank0 && trn_log_read(&log, path, resume ? run.step : -1) < 0)
		cli_die_lib(NULL);
	double seconds0 = log.n ? log.rows[log.n - 1].seconds : 0;

	fad_stats *heldout = NULL;
	if (rank0 && sample_every && (data.nvalid || data.ntest) && !(heldout = trn_heldout_stats(&run, &data)))
		cli_die_lib(NULL);
	run_info ri = {argc, argv, rundir, resume ? resume_path : NULL, threads, run.step, ""};
	time_t now = time(NULL);
	strftime(ri.started, sizeof ri.started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	/* from here a signal stops with a checkpoint: before run.json, which tells the world the run began */
	catch_stop_signals();
	if (rank0)
		write_run_json(&ri, &opt, &data, &run, NULL, seconds0);

	trn_log_row row;
	/* Resumed at a checkpoint step whose checkpoint was cut short (a signal during it left
	 * last.safetensors without the log row, the best and the restarted train average): finish
	 * it now, as a straight run did, so that the continued run gives the same bytes. */
	/* rank 0 alone reads the log, so it decides, and every rank takes part (validation is shared) */
	int pending = rank0 && resume && run.step > 0 && run.step % ckpt_every == 0 &&
		      (!log.n || log.rows[log.n - 1].step != run.step);
	if (dist_max_int(pending)) {
		int rc = checkpoint(&run, &data, rundir, &log, 1, seconds0, 0, &stop_signal, &row);
		if (rc)
			cli_die(resume_path, "%s", rc < 0 ? sh_errmsg() : "the validation loss is not finite");
		if (rank0 && keep_every && run.step % keep_every == 0 && trn_keep_milestone(&run, &data, rundir) < 0)
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
		int time_up = minutes > 0 && sh_now() - t0 >= minutes * 60;
		if (dist_size() > 1) {
			/* the ranks stop together: on a signal to any, or when rank 0's time is up */
			int want = dist_max_int(2 * stop_signal + (rank0 && time_up));
			stop_signal = want / 2 ? want / 2 : stop_signal;
			time_up = want & 1;
		}
		if ((ended = end_reason(stop_signal, run.step, steps, (double)run.feed.epoch, epochs, time_up)))
			break;
		double ts = sh_now();
		double loss = trn_step(&run, &data);
		double dt = sh_now() - ts;
		if (!isfinite(loss)) {
			diverged(&prog, rundir, run.step + 1,
				 isnan(loss) ? "the training loss or a gradient is nan"
					     : "the training loss or a gradient is infinite",
				 last_ckpt_step);
			ended = "diverged";
			status = 1;
			break;
		}
		if (run.step % CHECK_REPLICAS_EVERY == 0)
			agree(trn_check_replicas(&run) < 0, NULL);
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
			if (data.nvalid) { /* say why the bar stops moving (drawn now, not rate-limited) */
				snprintf(extra, sizeof extra, "step %ld, validating on %d records", run.step,
					 data.nvalid);
				prog.last_draw = 0;
				cli_progress_update(&prog, (double)(run.step - start_step), extra);
			}
			int rc = checkpoint(&run, &data, rundir, &log, 1, seconds0 + sh_now() - t0, sps, &stop_signal,
					    &row);
			if (rc < 0)
				cli_die_lib(NULL);
			if (rc > 0) {
				diverged(&prog, rundir, run.step, "the validation loss is not finite", last_ckpt_step);
				ended = "diverged";
				status = 1;
				break;
			}
			if (rank0 && keep_every && run.step % keep_every == 0 &&
			    trn_keep_milestone(&run, &data, rundir) < 0)
				cli_die_lib(NULL);
			last_ckpt_step = run.step;
			last_valid = row.valid_bits;
			interval_time = 0;
			interval_steps = 0;
			need_ckpt = 0;
		}
		/* a clip that cannot be written is not worth stopping the training for; the clips'
		 * distance to held-out audio goes into the step's log row */
		if (sample_every && rank0 && run.step % sample_every == 0 && !stop_signal) {
			if (trn_write_samples(&run, samples_dir, (int)sample_count, sample_seconds, sample_temp,
					      sample_prime, sample_prime_len, &stop_signal) < 0)
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
		int rc = checkpoint(&run, &data, rundir, &log, !stop_signal, seconds0 + sh_now() - t0, sps,
				    &stop_signal, &row);
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
	agreed_exit = 1; /* every rank left the loop at the same step, for the same reason */
	if (rank0)
		write_run_json(&ri, &opt, &data, &run, ended, seconds0 + elapsed);
	/* no rank leaves before rank 0 has written everything: mpirun ends the whole job as soon as
	 * one rank exits non-zero (143 after SIGTERM, say), which would cut rank 0's last writes */
	dist_barrier();
	char ranks_note[96] = "";
	if (dist_size() > 1) /* the time rank 0 waited for the others and for the sums */
		snprintf(ranks_note, sizeof ranks_note, "; %d ranks, %.0f%% of the time in the reduction", dist_size(),
			 elapsed > 0 ? 100 * run.reduce_seconds / elapsed : 0);
	if (status == 0 && rank0)
		cli_progress_end(&prog,
				 "%s: step %ld, epoch %.2f, %.1f s, %.0f samples/s (%.1f GFLOP/s), train %.3f bits, "
				 "valid %.3f bits, best %.3f%s%s",
				 rundir, run.step, trn_feed_epoch(&run.feed), elapsed, sps_all,
				 sps_all * model_train_flops(cfg, batch) / samples_per_step / 1e9, last_bits,
				 last_valid, run.best_bits, ranks_note,
				 stop_signal ? " (interrupted; checkpoint written)" : "");
	fad_free(heldout);
	trn_log_free(&log);
	trn_run_free(&run);
	if (dev)
		dev->close(dev);
	trn_data_free(&data);
	if (status)
		return status;
	return stop_signal ? 128 + stop_signal : 0;
}

/* ---- qtrain --model ddsp: DDSP's decoder on float audio (lib/ddsp_train.h) ---- */

static const char ddsp_usage[] =
	"usage: qtrain --model ddsp [options] -o RUNDIR AUDIO...\n"
	"Trains DDSP's solo-instrument decoder on float audio records (<f4, from wavchunk -l 4 -p 3).\n"
	"  -o RUNDIR              run directory: last/best.safetensors, features.safetensors, log.tsv,\n"
	"                         loss.png, run.json, samples/\n"
	"  --preset NAME          tiny, small (default) or paper\n"
	"  --batch B              examples per step\n"
	"  --lr LR                Adam learning rate (1e-3; paper 3e-4), decayed x0.98 per 10k steps\n"
	"  --clip-value V         global gradient norm bound (3)\n"
	"  --steps N, --epochs E, --minutes M   when to stop\n"
	"  --checkpoint-every K   validate, checkpoint and write clips every K steps (500)\n"
	"  --sample-count N       held-out examples resynthesised into RUNDIR/samples/ (2)\n"
	"  --seed S               seed (123); --split T,V,X percentages of examples (90,10,0)\n"
	"  --threads N            threads (default: every core)\n"
	"  --resume CKPT|RUNDIR   continue a run exactly\n";

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
	sh_buf b = {0};
	run_json_head(&b, ri, NULL, o->seed, d->files, d->nfiles);
	sh_buf_printf(&b,
		      "\"examples\": %d, \"samples\": %zu, \"fingerprint\": \"%016llx\", \"split_examples\": "
		      "[%d, %d], \"voiced\": %.4f},\n",
		      d->nex, (size_t)d->nex * d->n, (unsigned long long)d->fingerprint, d->ntrain, d->nvalid,
		      d->voiced);
	sh_buf_printf(&b,
		      "  \"model\": {\"type\": \"ddsp\", \"sample_rate\": %d, \"hop\": %d, \"n_samples\": %d, "
		      "\"ch\": %d, \"layers\": %d, \"gru\": %d, \"n_harmonics\": %d, \"n_bands\": %d, "
		      "\"reverb\": %d, \"batch\": %d},\n",
		      c->sample_rate, c->hop, c->n_samples, c->ch, c->layers, c->gru, c->n_harmonics, c->n_bands,
		      c->reverb, c->batch);
	sh_buf_printf(&b,
		      "  \"training\": {\"lr\": %.17g, \"lr_decay_rate\": %.17g, \"lr_decay_steps\": %.17g, "
		      "\"adam_beta1\": %.17g, \"adam_beta2\": %.17g, \"adam_eps\": %.17g, \"clip\": \"norm\", "
		      "\"clip_value\": %.17g, \"split\": [%g, %g, %g], \"loss\": \"multi-scale spectral\"},\n",
		      o->lr, o->decay_rate, o->decay_steps, o->beta1, o->beta2, o->eps, o->clip, o->split[0],
		      o->split[1], o->split[2]);
	sh_buf_printf(&b, "  \"parameters\": %zu,\n", r->nparams);
	run_json_finish(&b, ri, ended, r->step, ddsp_run_epoch(r, d), seconds);
}

/* Validation, the log row, best and last checkpoints, the plot and the clips. Returns 1 when
 * the validation loss is not finite (nothing written). */
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
			if (stop_signal)
				full = 0;
			else if (!isfinite(row->valid_bits))
				return 1;
		}
		double score = d->nvalid ? row->valid_bits : row->train_bits;
		if (full && score < r->best)
			r->best = score, is_best = 1;
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

static int ddsp_main(int argc, char **argv)
{
	enum {
		D_PRESET = 300,
		D_BATCH,
		D_LR,
		D_CLIPV,
		D_STEPS,
		D_EPOCHS,
		D_MINUTES,
		D_CKPT,
		D_COUNT,
		D_SEED,
		D_SPLIT,
		D_THREADS,
		D_RESUME,
		D_MODEL,
		D_HELP
	};
	static const struct option longopts[] = {{"preset", 1, 0, D_PRESET},
						 {"batch", 1, 0, D_BATCH},
						 {"lr", 1, 0, D_LR},
						 {"clip-value", 1, 0, D_CLIPV},
						 {"steps", 1, 0, D_STEPS},
						 {"epochs", 1, 0, D_EPOCHS},
						 {"minutes", 1, 0, D_MINUTES},
						 {"checkpoint-every", 1, 0, D_CKPT},
						 {"sample-count", 1, 0, D_COUNT},
						 {"seed", 1, 0, D_SEED},
						 {"split", 1, 0, D_SPLIT},
						 {"threads", 1, 0, D_THREADS},
						 {"resume", 1, 0, D_RESUME},
						 {"model", 1, 0, D_MODEL},
						 {"help", 0, 0, D_HELP},
						 CLI_STD_LONGOPTS,
						 {0, 0, 0, 0}};
	const char *rundir = NULL, *resume = NULL, *preset = NULL, *split = NULL;
	double lr = -1, clip = -1, minutes = 0;
	long steps = -1, epochs = -1, ckpt_every = 500, clips = 2, seed = -1;
	int batch = -1, threads = 0, c;
	while ((c = getopt_long(argc, argv, ":o:hq", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': rundir = optarg; break;
		case D_PRESET: preset = optarg; break;
		case D_BATCH: batch = (int)cli_long(ddsp_usage, "--batch", optarg, 1, 4096); break;
		case D_LR: lr = cli_double(ddsp_usage, "--lr", optarg, 1e-30, 1e3); break;
		case D_CLIPV: clip = cli_double(ddsp_usage, "--clip-value", optarg, 0, 1e30); break;
		case D_STEPS: steps = cli_long(ddsp_usage, "--steps", optarg, 0, LONG_MAX); break;
		case D_EPOCHS: epochs = cli_long(ddsp_usage, "--epochs", optarg, 1, LONG_MAX); break;
		case D_MINUTES: minutes = cli_double(ddsp_usage, "--minutes", optarg, 1e-6, 1e9); break;
		case D_CKPT: ckpt_every = cli_long(ddsp_usage, "--checkpoint-every", optarg, 1, LONG_MAX); break;
		case D_COUNT: clips = cli_long(ddsp_usage, "--sample-count", optarg, 0, 1024); break;
		case D_SEED: seed = cli_long(ddsp_usage, "--seed", optarg, 0, LONG_MAX); break;
		case D_SPLIT: split = optarg; break;
		case D_THREADS: threads = (int)cli_long(ddsp_usage, "--threads", optarg, 1, 4096); break;
		case D_RESUME: resume = optarg; break;
		case D_MODEL:
			if (strcmp(optarg, "ddsp"))
				cli_usage_error(ddsp_usage, "--model %s: this checkpoint is a DDSP run", optarg);
			break;
		case D_HELP: fputs(ddsp_usage, stdout); return 0;
		default: cli_std_option(ddsp_usage, c, argv);
		}
	}
	if (!rundir)
		cli_usage_error(ddsp_usage, "-o RUNDIR is required");
	double pct[3] = {90, 10, 0};
	if (split && (sscanf(split, "%lf,%lf,%lf", &pct[0], &pct[1], &pct[2]) != 3 || pct[0] <= 0 || pct[1] < 0 ||
		      pct[2] < 0 || fabs(pct[0] + pct[1] + pct[2] - 100) > 1e-9))
		cli_usage_error(ddsp_usage, "--split: expected three percentages adding up to 100, got '%s'", split);

	ddsp_train_opts opt;
	st_file ckpt;
	memset(&ckpt, 0, sizeof ckpt);
	char resume_path[4096] = "";
	if (resume) {
		snprintf(resume_path, sizeof resume_path, cli_is_dir_path(resume) ? "%s/last.safetensors" : "%s",
			 resume);
		if (st_load(resume_path, &ckpt) < 0 || ddsp_meta_options(&ckpt, &opt) < 0)
			cli_die_lib(resume_path);
		ddsp_config asked = opt.model;
		if (preset && ddsp_preset(preset, &asked) < 0)
			cli_usage_error(ddsp_usage, "--preset: %s", sh_errmsg());
		if (batch > 0)
			asked.batch = batch;
		char diff[128];
		if (ddsp_config_diff(&opt.model, &asked, diff, sizeof diff))
			cli_die(resume_path, "checkpoint of another architecture: %s", diff);
		if (seed >= 0 && (uint64_t)seed != opt.seed)
			cli_die(resume_path, "checkpoint has seed %llu, --seed says %ld", (unsigned long long)opt.seed,
				seed);
		if (split && memcmp(pct, opt.split, sizeof pct))
			cli_die(resume_path, "checkpoint has another --split (%g,%g,%g)", opt.split[0], opt.split[1],
				opt.split[2]);
	} else {
		memset(&opt, 0, sizeof opt);
		if (ddsp_preset(preset ? preset : "small", &opt.model) < 0)
			cli_usage_error(ddsp_usage, "--preset: %s", sh_errmsg());
		if (batch > 0)
			opt.model.batch = batch;
		/* DDSP: Adam 3e-4 for the published model, ×0.98 per 10k steps, global norm 3; the
		 * smaller presets learn faster at 1e-3 */
		opt.lr = strcmp(preset ? preset : "small", "paper") ? 1e-3 : 3e-4;
		opt.beta1 = 0.9, opt.beta2 = 0.999, opt.eps = 1e-8;
		opt.decay_rate = 0.98, opt.decay_steps = 10000;
		opt.clip = 3;
		opt.seed = seed >= 0 ? (uint64_t)seed : 123;
		memcpy(opt.split, pct, sizeof pct);
	}
	if (lr > 0)
		opt.lr = lr;
	if (clip >= 0)
		opt.clip = clip;

	/* the data and its features, checked before anything is written */
	char cache[4096], path[4096];
	snprintf(cache, sizeof cache, "%s/features.safetensors", rundir);
	int nfiles = argc - optind;
	char *stdin_only[] = {"-"};
	char **files = nfiles ? argv + optind : stdin_only;
	ddsp_data data;
	if (ddsp_data_read(&data, files, nfiles ? nfiles : 1, &opt.model) < 0 ||
	    ddsp_data_features(&data, &opt.model, cache) < 0) {
		/* messages about one file name it already; those about the data name the one file */
		const char *msg = sh_errmsg(), *one = nfiles <= 1 ? cli_in_name(files[0]) : NULL;
		cli_die(one && strncmp(msg, files[0], strlen(files[0])) ? one : NULL, "%s", msg);
	}
	if (ddsp_data_split(&data, opt.seed, opt.split) < 0)
		cli_die_lib(NULL);
	snprintf(path, sizeof path, "%s/last.safetensors", rundir);
	struct stat st;
	if (!resume && !stat(path, &st))
		cli_die(rundir,
			"already holds a run (last.safetensors): continue it with --resume %s, or "
			"choose another directory",
			rundir);
	if (threads <= 0)
		threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	omp_set_num_threads(SH_MAX(threads, 1));
	openblas_set_num_threads(1); /* the products are small: one thread each, examples in parallel */

	ddsp_run run;
	if (ddsp_run_init(&run, &opt, &data) < 0)
		cli_die_lib(NULL);
	if (resume) {
		if (ddsp_load(&run, &data, &ckpt) < 0)
			cli_die_lib(resume_path);
		st_free(&ckpt);
	}
	cli_mkdirs(rundir);
	lock_rundir(rundir); /* one qtrain per run directory, as for the other models */
	snprintf(path, sizeof path, "%s/samples", rundir);
	if (clips > 0)
		cli_mkdirs(path);
	if (!data.cached && ddsp_data_save_features(&data, &opt.model, cache) < 0)
		cli_die_lib(NULL);
	trn_log log = {0};
	snprintf(path, sizeof path, "%s/log.tsv", rundir);
	if (trn_log_read(&log, path, resume ? run.step : -1) < 0)
		cli_die_lib(NULL);
	log.metric = "loss";
	double seconds0 = log.n ? log.rows[log.n - 1].seconds : 0;
	run_info ri = {argc, argv, rundir, resume ? resume_path : NULL, threads, run.step, ""};
	time_t now = time(NULL);
	strftime(ri.started, sizeof ri.started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	catch_stop_signals(); /* before run.json, as for the other models */
	ddsp_run_json(&ri, &run, &data, NULL, seconds0);

	const double samples_per_step = (double)opt.model.batch * opt.model.n_samples;
	double t0 = sh_now(), interval_time = 0, step_time = 0, last_loss = NAN, last_valid = NAN;
	long interval_steps = 0, start_step = run.step;
	const char *ended = NULL;
	int need_ckpt = 0, status = 0;
	trn_log_row row;
	cli_progress prog;
	cli_progress_start(&prog, "training", steps > 0 ? (double)(steps - start_step) : 0, "steps");
	for (;;) {
		if ((ended = end_reason(stop_signal, run.step, steps, (double)run.epoch, epochs,
					minutes > 0 && sh_now() - t0 >= minutes * 60)))
			break;
		double ts = sh_now();
		double loss = ddsp_run_step(&run, &data);
		double dt = sh_now() - ts;
		if (!isfinite(loss)) {
			cli_progress_end(&prog, "%s: step %ld: the training loss or a gradient is not finite; stopping",
					 rundir, run.step + 1);
			ended = "diverged";
			status = 1;
			break;
		}
		interval_time += dt, interval_steps++;
		if (run.step - start_step > 1)
			step_time += dt;
		need_ckpt = 1;
		last_loss = loss;
		char extra[128];
		snprintf(extra, sizeof extra, "step %ld, loss %.3f, %.0f samples/s", run.step, loss,
			 interval_steps * samples_per_step / interval_time);
		cli_progress_update(&prog, (double)(run.step - start_step), extra);
		if (run.step % ckpt_every == 0) {
			int rc = ddsp_checkpoint(&run, &data, rundir, &log, 1, seconds0 + sh_now() - t0,
						 interval_steps * samples_per_step / interval_time, (int)clips, &row);
			if (rc < 0)
				cli_die_lib(NULL);
			if (rc > 0) {
				cli_progress_end(&prog, "%s: step %ld: the validation loss is not finite; stopping",
						 rundir, run.step);
				ended = "diverged";
				status = 1;
				break;
			}
			last_valid = row.valid_bits;
			interval_time = 0, interval_steps = 0, need_ckpt = 0;
		}
	}
	if (need_ckpt && status == 0) {
		double sps = interval_time > 0 ? interval_steps * samples_per_step / interval_time : 0;
		int rc = ddsp_checkpoint(&run, &data, rundir, &log, !stop_signal, seconds0 + sh_now() - t0, sps,
					 stop_signal ? 0 : (int)clips, &row);
		if (rc < 0)
			cli_die_lib(NULL);
		if (rc == 0 && !stop_signal)
			last_valid = row.valid_bits;
	}
	double elapsed = sh_now() - t0;
	double sps_all = step_time > 0 ? (run.step - start_step - 1) * samples_per_step / step_time : 0;
	ddsp_run_json(&ri, &run, &data, ended, seconds0 + elapsed);
	if (status == 0)
		cli_progress_end(&prog,
				 "%s: step %ld, epoch %.2f, %.1f s, %.0f samples/s, train loss %.3f, valid %.3f, "
				 "best %.3f%s",
				 rundir, run.step, ddsp_run_epoch(&run, &data), elapsed, sps_all, last_loss, last_valid,
				 run.best, stop_signal ? " (interrupted; checkpoint written)" : "");
	trn_log_free(&log);
	ddsp_run_free(&run);
	ddsp_data_free(&data);
	if (status)
		return status;
	return stop_signal ? 128 + stop_signal : 0;
}
