/* qsample: generates audio from a qtrain checkpoint (SampleRNN, or WaveNet with fast
 * generation), many streams at once, optionally continuing a prime (a recording or codes).
 *
 * Streams are generated B at a time; each stream draws from its own seeded generator. Audio
 * is written as it is made (memory does not grow with the length): `-o DIR/` writes one
 * 16-bit wav per stream, decoded with the checkpoint's quantisation; otherwise a tensor
 * stream of one record per stream (codes, or decoded audio with --format f32) or raw 16-bit
 * PCM (--format s16). The first stream of a batch goes out as it is made; the others are
 * spilled to a temporary file each while the batch runs and copied out whole after it. With
 * -s 0 one stream of raw PCM is made until the reader goes away (a closed pipe ends the
 * program quietly with status 0), paced to the clock with --realtime. Under mpirun the streams
 * are shared out among the ranks (rank r makes streams [n·r/N, n·(r+1)/N) into DIR/; the same
 * bytes as one process makes). */
#include "audio.h"
#include "backend.h"
#include "blas.h"
#include "cli.h"
#include "cliopt.h"
#include "mulaw.h"
#include "npy.h"
#include "rng.h"
#include "safetensors.h"
#include "generate.h"
#include "srnn_sample.h"
#include "checkpoint.h"
#include "dist.h"
#include "util.h"

#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char usage_head[] =
	"usage: qsample [-n N] [-s SECONDS] [-t TEMP] [--seed S] [--batch B] [--h0 MODE]\n"
	"               [--prime FILE [--prime-seconds S] [--keep-prime]] [--format codes|f32|s16]\n"
	"               [--realtime] [--weights f32|f16|i8|q8] [--threads N] [--device NAME] [-q] [-o OUT]\n"
	"               CHECKPOINT\n";

/* --weights: qmat_type_parse for the option table */
static int parse_weights(const char *arg, void *dest) { return qmat_type_parse(arg, dest); }

enum { FORMAT_CODES, FORMAT_F32, FORMAT_S16 };
static const cli_choice formats[] = {{"codes", FORMAT_CODES}, {"f32", FORMAT_F32}, {"s16", FORMAT_S16}, {NULL, 0}};
enum { H0_DEFAULT = -1 }; /* --h0 not given: learned if the model has it, else random */
static const cli_choice h0_modes[] = {
	{"learned", SRNN_H0_LEARNED}, {"random", SRNN_H0_RANDOM}, {"zero", SRNN_H0_ZERO}, {NULL, 0}};

/* Everything the command line says. */
static struct {
	long n, batch, threads, seed; /* batch 0, threads 0: not given */
	double seconds, temp, prime_seconds;
	const char *out, *prime_path, *device;
	int format, h0_mode, keep_prime, realtime;
	qmat_type weights;
} args = {
	.n = 10,
	.seed = CLI_DEFAULT_SEED,
	.seconds = 20,
	.temp = 0.95,
	.device = "cpu",
	.format = FORMAT_CODES,
	.h0_mode = H0_DEFAULT,
	.weights = QMAT_F32,
};

static cli_opt table[] = {
	{NULL, 'n', "N", CLI_LONG, &args.n, 1, 100000, .def = "10", .help = "streams to generate"},
	{NULL, 's', "SECONDS", CLI_DOUBLE, &args.seconds, 0, 1e6, .def = "20",
	 .help = "length of each stream; 0: one stream without end, until\n"
		 "the reader goes away (with -n 1 --format s16)"},
	{NULL, 't', "TEMP", CLI_DOUBLE, &args.temp, 0, 100, .def = "0.95",
	 .help = "temperature: logits are divided by TEMP (0 = argmax)"},
	{"seed", 0, "S", CLI_LONG, &args.seed, 0, LONG_MAX, .def = "1",
	 .help = "random seed; stream k draws from its own generator"},
	{"batch", 0, "B", CLI_LONG, &args.batch, 1, 100000, .def = "all", .help = "streams generated at once"},
	{"h0", 0, "MODE", CLI_CHOICE, &args.h0_mode, .choices = h0_modes,
	 .help = "SampleRNN's initial recurrent state: learned (when the model has one),\n"
		 "random, zero (default: learned if present, else random). WaveNet has no\n"
		 "recurrent state and starts from a history of Q/2 codes: random and zero\n"
		 "are ignored for it, learned is refused"},
	{"prime", 0, "FILE", CLI_STRING, &args.prime_path,
	 .help = "continue FILE: audio (by extension; decoded, mixed down, resampled to the\n"
		 "checkpoint's rate and quantised as it was) or a tensor stream of codes (its\n"
		 "first record); every stream starts from its state after these codes"},
	{"prime-seconds", 0, "S", CLI_DOUBLE, &args.prime_seconds, 1e-3, 1e7, .def = "all of it",
	 .help = "only the last S seconds of the prime"},
	{"keep-prime", 0, NULL, CLI_FLAG, &args.keep_prime,
	 .help = "write the prime in front of each stream (default: the continuation only)"},
	{"format", 0, "F", CLI_CHOICE, &args.format, .choices = formats, .def = "codes",
	 .help = "output to a stream: codes or f32 decoded audio, one record per\n"
		 "stream; s16: raw 16-bit little-endian PCM, mono, at the checkpoint's rate,\n"
		 "streams one after another"},
	{"realtime", 0, NULL, CLI_FLAG, &args.realtime,
	 .help = "write no faster than real time (with -n 1): a live stream"},
	{"weights", 0, "TYPE", CLI_CALL, &args.weights, .parse = parse_weights, .def = "f32",
	 .help = "how the weight matrices are held while generating: f32 (exactly\n"
		 "the trained model), f16 (IEEE half) or i8 (8 bits and a scale per row,\n"
		 "as LPCNet): 2 or 4 times fewer bytes to read per sample, so faster, at\n"
		 "the cost of a small error in every product (its bound is printed);\n"
		 "q8: i8, and the inputs of the products (WaveNet's skips and head, all\n"
		 "of SampleRNN's) rounded to 8 bits too, for integer products: the\n"
		 "fastest, and the largest error"},
	{"threads", 0, "N", CLI_LONG, &args.threads, 1, 1024, .def = "all cores", .help = "threads"},
	{"device", 0, "NAME", CLI_STRING, &args.device, .def = "cpu",
	 .help = "where the model runs: cpu or cuda (not yet usable: docs/cuda.md)"},
	{NULL, 'o', "OUT", CLI_STRING, &args.out,
	 .help = "DIR/ : DIR/gen_000.wav ... (16-bit PCM at the checkpoint's rate);\n"
		 "FILE.wav/.flac/.ogg: one stream as audio (with -n 1);\n"
		 "otherwise (or -, default stdout): one record per stream"},
	{.kind = CLI_END},
};
static cli_opts cli = {.head = usage_head, .quiet = "no progress, summary or weight error line", .opts = table};
static const char *usage;

typedef enum { OUT_DIR, OUT_AUDIO, OUT_STREAM } out_kind;

/* Where generated codes go: audio files written as they come, or a stream (records, or raw
 * PCM): the batch's first stream written as it comes, the others into temporary files copied
 * out whole once the batch is done. Indexed by stream - first of the batch. */
typedef struct {
	out_kind kind;
	const char *out, *err_file;
	int rate, as_f32, as_s16;
	int realtime;             /* pace the first stream to the clock */
	long written;             /* samples of the first stream written so far */
	volatile int reader_gone; /* a write to the stream found its reader gone (EPIPE) */
	const mulaw_quantiser *quant;
	sh_dtype code_dtype;
	long total, first;
	FILE *stream;
	audio_writer **writers;
	FILE **spill;   /* NULL for the batch's first stream, which goes to the stream directly */
	float *audio;   /* [batch × 4096] decode scratch, a slice per stream */
	uint8_t *bytes; /* [batch × 4096 × 2] */
	cli_progress prog;
	double t0;
	char path[4096];
} output;

/* fwrite to the output stream; the reader going away (EPIPE) is noted, not reported */
static int stream_write(output *o, const void *src, size_t item, size_t n)
{
	if (fwrite(src, item, n, o->stream) == n)
		return 0;
	if (errno == EPIPE)
		o->reader_gone = 1;
	return sh_error("write error: %s", strerror(errno));
}

/* A record's header for one stream (not for raw PCM). */
static int stream_header(output *o)
{
	if (o->as_s16)
		return 0;
	if (npy_write_header_rate(o->stream, o->as_f32 ? SH_F32 : o->code_dtype, 1, (int64_t[]){o->total}, o->rate) <
	    0) {
		if (errno == EPIPE)
			o->reader_gone = 1;
		return -1;
	}
	return 0;
}

static int on_batch(void *ctx, long first, int count, int done)
{
	output *o = ctx;
	o->first = first;
	for (int b = 0; b < count; b++) {
		if (!done) {
			if (o->kind == OUT_STREAM) {
				o->err_file = cli_out_name(o->out);
				if (b == 0 && stream_header(o) < 0)
					return -1;
				if (b > 0 && !(o->spill[b] = tmpfile()))
					return sh_error("cannot create a temporary file: %s", strerror(errno));
				continue;
			}
			if (o->kind == OUT_DIR)
				cli_pathf(o->path, sizeof o->path, "%s%sgen_%03ld.wav", o->out,
					  o->out[strlen(o->out) - 1] == '/' ? "" : "/", first + b);
			else
				cli_pathf(o->path, sizeof o->path, "%s", o->out);
			o->err_file = o->path;
			if (!(o->writers[b] = audio_create(o->path, o->rate, AUDIO_AUTO)))
				return -1;
			continue;
		}
		if (o->writers[b]) {
			if (audio_finish(o->writers[b]) < 0)
				return -1;
			o->writers[b] = NULL;
			continue;
		}
		if (!o->spill[b])
			continue;
		/* copy the spilled stream into one record */
		o->err_file = cli_out_name(o->out);
		if (stream_header(o) < 0)
			return -1;
		rewind(o->spill[b]);
		size_t got;
		while ((got = fread(o->audio, 1, 4096 * sizeof *o->audio, o->spill[b])) > 0)
			if (stream_write(o, o->audio, 1, got) < 0)
				return -1;
		fclose(o->spill[b]);
		o->spill[b] = NULL;
	}
	return 0;
}

/* With --realtime: waits until the clock reaches the time the first stream's next sample is
 * due (t0 + written / rate), so that it runs at most one block ahead of real time. */
static void pace(output *o)
{
	double wait = o->t0 + (double)o->written / o->rate - sh_now();
	if (wait <= 0)
		return;
	struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int on_block(void *ctx, long stream, const uint16_t *codes, int len)
{
	output *o = ctx;
	long b = stream - o->first;
	float *audio = o->audio + (size_t)b * 4096;
	if (o->writers[b] || o->as_f32)
		mulaw_decode_u16(o->quant, codes, len, audio);
	if (o->writers[b])
		return audio_write(o->writers[b], audio, len);
	const void *src = o->as_f32 ? (const void *)audio : (const void *)codes;
	size_t item = o->as_f32 ? 4 : sh_dtype_size(o->code_dtype);
	if (o->as_s16) {
		/* the bits libsndfile writes into a 16-bit wav: x·32768 rounded down, clipped */
		mulaw_decode_u16(o->quant, codes, len, audio);
		uint8_t *bytes = o->bytes + (size_t)b * 4096 * 2;
		for (int i = 0; i < len; i++) {
			float y = floorf(audio[i] * 32768.0f);
			int v = y >= 32767 ? 32767 : y <= -32768 ? -32768 : (int)y;
			bytes[2 * i] = (uint8_t)(v & 0xff), bytes[2 * i + 1] = (uint8_t)((v >> 8) & 0xff);
		}
		src = bytes, item = 2;
	} else if (!o->as_f32 && o->code_dtype == SH_U8) {
		uint8_t *bytes = o->bytes + (size_t)b * 4096 * 2;
		for (int i = 0; i < len; i++)
			bytes[i] = (uint8_t)codes[i];
		src = bytes;
	}
	if (o->spill[b]) {
		if (fwrite(src, item, len, o->spill[b]) != (size_t)len)
			return sh_error("temporary file: write error");
		return 0;
	}
	/* the batch's first stream: out as it is made */
	if (o->realtime)
		pace(o);
	if (stream_write(o, src, item, len) < 0)
		return -1;
	if (fflush(o->stream)) {
		if (errno == EPIPE)
			o->reader_gone = 1;
		return sh_error("write error: %s", strerror(errno));
	}
	o->written += len;
	return 0;
}

/* Each stream of a batch holds a file open while it is generated (its clip, or its temporary
 * file): a batch must fit the open-files limit, raised to the hard limit if need be. Else a
 * batch that was not asked for is made smaller (the streams do not depend on the batch); one
 * that was asked for is refused before anything is written. */
static long fit_open_files(long batch, int asked)
{
	enum { RESERVED = 16 }; /* standard streams, the output stream, libraries' own */
	struct rlimit rl;
	rlim_t need = (rlim_t)batch + RESERVED;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return batch;
	rlim_t was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) || getrlimit(RLIMIT_NOFILE, &rl))
		rl.rlim_cur = was;
	if (rl.rlim_cur >= need)
		return batch;
	long fit = rl.rlim_cur > RESERVED ? (long)(rl.rlim_cur - RESERVED) : 0;
	if (asked || fit < 1)
		cli_die(NULL,
			"--batch %ld: %ld streams at once hold %ld files open, and the open-files limit "
			"is %llu (ulimit -n); use --batch %ld or less",
			batch, batch, batch, (unsigned long long)rl.rlim_cur, fit > 1 ? fit : 1);
	cli_warn(NULL, "the open-files limit (%llu) allows %ld streams at once: generating %ld at a time",
		 (unsigned long long)rl.rlim_cur, fit, fit);
	return fit;
}

static void on_progress(void *ctx, double done)
{
	output *o = ctx;
	char extra[64];
	snprintf(extra, sizeof extra, "(%.2fx real time)", done / o->rate / (sh_now() - o->t0));
	cli_progress_update(&o->prog, done / o->rate, extra);
}

/* A generation: where the streams go, this rank's share of them, the model and its codes, the
 * prime, and what gen_streams is asked for. */
typedef struct {
	const char *ckpt;
	out_kind kind;
	int endless; /* -s 0 */
	int ranks;
	long batch, first, mine; /* this rank makes streams [first, first + mine) */
	int threads;
	st_file sf;
	trn_options opt;
	model *m;
	srnn_h0_mode h0;
	int rate, levels;
	mulaw_quantiser quant;
	long total; /* samples per stream, leaving out the prime */
	uint16_t *prime;
	long prime_len;
	cli_out stream_out;
	output o;
	double weight_error;
} sampler;

/* The options, checked alone; returns the checkpoint's path. */
static const char *parse_options(int argc, char **argv)
{
	const int operand = cli_opts_parse(&cli, argc, argv);
	usage = cli_opts_usage(&cli);
	if (args.seconds > 0 && args.seconds < 1e-3)
		for (const cli_opt *o = table; o->kind != CLI_END; o++)
			if (o->dest == &args.seconds)
				cli_usage_error(usage, "-s: expected 0 (without end) or at least 0.001, got '%s'",
						o->value);
	if (backend_name_check(args.device) < 0)
		cli_usage_error(usage, "--device: %s", sh_errmsg());
	if (operand != argc - 1)
		cli_usage_error(usage, operand == argc ? "no checkpoint given" : "one checkpoint expected");
	return argv[operand];
}

/* The streams at once, the kind of output, and this rank's share of the streams; usage errors
 * for options that do not go together. */
static void check_options(sampler *s)
{
	const long n = args.n;
	const char *out = args.out;
	s->batch = args.batch == 0 || args.batch > n ? n : args.batch;
	s->batch = fit_open_files(s->batch, args.batch > 0);
	s->kind = OUT_STREAM;
	if (out && cli_is_dir_path(out))
		s->kind = OUT_DIR;
	else if (out && cli_is_audio_path(out)) {
		if (n != 1)
			cli_usage_error(usage, "-o %s: an audio file holds one stream; use -n 1 or -o DIR/", out);
		if (audio_format_for_path(out) < 0)
			cli_usage_error(usage, "-o %s: cannot write this audio format (use .wav, .flac or .ogg)", out);
		s->kind = OUT_AUDIO;
	}
	s->endless = args.seconds == 0;
	if (s->endless && (n != 1 || args.format != FORMAT_S16 || s->kind != OUT_STREAM))
		cli_usage_error(usage, "-s 0: a stream without end is one stream (-n 1) of raw PCM (--format s16) "
				       "to stdout or -o FILE");
	if (args.realtime && (n != 1 || s->kind != OUT_STREAM))
		cli_usage_error(usage, "--realtime: paces one stream (-n 1) written to stdout or -o FILE");
	if ((args.prime_seconds > 0 || args.keep_prime) && !args.prime_path)
		cli_usage_error(usage, "--prime-seconds and --keep-prime need --prime FILE");

	/* under mpirun: this rank's share of the streams, each into its own file of DIR/ */
	const int rank = dist_rank();
	s->ranks = dist_size();
	if (s->ranks > 1 && s->kind != OUT_DIR)
		cli_usage_error(usage, "under mpirun, every rank writes its streams into -o DIR/ (%d ranks)", s->ranks);
	s->first = n * rank / s->ranks;
	s->mine = n * (rank + 1) / s->ranks - s->first;
}

/* --threads; under mpirun the ranks on this machine share its cores. */
static void set_threads(sampler *s)
{
	long threads = args.threads;
	if (threads <= 0 && s->ranks > 1)
		threads = SH_MAX(1, sysconf(_SC_NPROCESSORS_ONLN) / dist_local_size());
	if (threads > 0) {
		omp_set_num_threads((int)threads);
		openblas_set_num_threads((int)threads);
	}
	s->threads = threads > 0 ? (int)threads : omp_get_max_threads();
}

/* The device, the model, its initial state and its codes, before anything is written. */
static void load_checkpoint(sampler *s)
{
	const char *ckpt = s->ckpt;
	if (strcmp(args.device, "cpu") && backend_device_usable(args.device, "generation") < 0)
		cli_die(NULL, "--device %s: %s", args.device, sh_errmsg());
	if (st_load(ckpt, &s->sf) < 0 || !(s->m = trn_load_model(&s->sf, 1, &s->opt)))
		cli_die(ckpt, "%s", sh_errmsg());
	const int is_wn = s->opt.model.kind == MODEL_WAVENET;
	const int has_h0 = !is_wn && s->opt.model.srnn.learn_h0;
	s->h0 = args.h0_mode != H0_DEFAULT ? (srnn_h0_mode)args.h0_mode : has_h0 ? SRNN_H0_LEARNED : SRNN_H0_RANDOM;
	if (args.h0_mode == SRNN_H0_LEARNED && is_wn)
		cli_die(ckpt, "--h0 learned: WaveNet has no initial state (it starts from Q/2 codes)");
	if (args.h0_mode == SRNN_H0_LEARNED && !has_h0)
		cli_die(ckpt, "--h0 learned: this model has no learned initial state");

	s->rate = s->opt.sample_rate > 0 ? s->opt.sample_rate : 16000;
	s->levels = model_levels(&s->opt.model);
	int mode = trn_quant_mode(s->opt.quantization);
	if (mode < 0 || mulaw_init(&s->quant, (mulaw_mode)mode, s->levels) < 0)
		cli_die(ckpt, "%s", sh_errmsg());
	s->total = SH_MAX(1, (long)(args.seconds * s->rate + 0.5));
}

/* The prime, before any output is opened: a bad one leaves nothing behind. */
static void load_prime(sampler *s)
{
	if (args.prime_path && gen_load_prime(args.prime_path, s->rate, &s->quant,
					      (long)(args.prime_seconds * s->rate + 0.5), &s->prime, &s->prime_len) < 0)
		cli_die(cli_in_name(args.prime_path), "%s", sh_errmsg());
}

/* The output directory or stream, and the output's buffers. */
static void open_output(sampler *s)
{
	if (s->kind == OUT_DIR)
		cli_mkdirs(args.out);
	else if (s->kind == OUT_STREAM)
		cli_out_open(&s->stream_out, args.out, 1);
	output *o = &s->o;
	*o = (output){.kind = s->kind,
		      .out = args.out,
		      .rate = s->rate,
		      .as_f32 = args.format == FORMAT_F32,
		      .as_s16 = args.format == FORMAT_S16,
		      .realtime = args.realtime,
		      .quant = &s->quant,
		      .code_dtype = s->levels <= 256 ? SH_U8 : SH_U16,
		      .total = s->total + (args.keep_prime ? s->prime_len : 0),
		      .stream = s->stream_out.f};
	o->writers = calloc(s->batch, sizeof *o->writers);
	o->spill = calloc(s->batch, sizeof *o->spill);
	o->audio = malloc((size_t)s->batch * 4096 * sizeof *o->audio);
	o->bytes = malloc((size_t)s->batch * 4096 * sizeof(uint16_t));
	if (!o->writers || !o->spill || !o->audio || !o->bytes)
		cli_die(NULL, "out of memory");
}

/* This rank's streams, written as they come; -1 when the reader went away (an end, not a
 * failure: nobody is listening any more). */
static int generate(sampler *s)
{
	gen_spec g = {.n = s->mine,
		      .first = s->first,
		      .batch = (int)s->batch,
		      .samples = s->endless ? -1 : s->total,
		      .temperature = (float)args.temp,
		      .h0 = s->h0,
		      .seed = (uint64_t)args.seed,
		      .threads = s->threads,
		      .weights = args.weights,
		      .prime = s->prime,
		      .prime_len = s->prime_len,
		      .keep_prime = args.keep_prime,
		      .weight_error = &s->weight_error};
	output *o = &s->o;
	if (!s->endless)
		cli_progress_start(&o->prog, "generating", (double)s->mine * s->total / s->rate, "s");
	o->t0 = sh_now();
	if (gen_streams(s->m, &g, on_batch, on_block, s->endless ? NULL : on_progress, o) < 0) {
		if (o->reader_gone)
			return -1;
		cli_die(o->err_file, "%s", sh_errmsg());
	}
	if (s->kind == OUT_STREAM) {
		if (fflush(s->stream_out.f) && errno == EPIPE)
			return -1;
		cli_out_close(&s->stream_out);
	}
	return 0;
}

/* The weights' error and the summary line. */
static int finish(sampler *s)
{
	const double el = sh_now() - s->o.t0, made = (double)s->mine * s->total;
	if (args.weights != QMAT_F32 && !cli_quiet)
		fprintf(stderr,
			"qsample: %s weights: largest relative row error %.2g (a product's row is off by "
			"at most that times |w_row|·|x|)\n",
			qmat_type_name(args.weights), s->weight_error);
	cli_progress_end(&s->o.prog,
			 "%ld streams of %.2f s at %d Hz in %.1f s (%.0f samples/s, %.2fx real time, %d threads)%s",
			 s->mine, (double)s->total / s->rate, s->rate, el, made / el, made / el / s->rate, s->threads,
			 s->ranks > 1 ? " on this rank" : "");
	free(s->o.writers), free(s->o.spill), free(s->o.audio), free(s->o.bytes), free(s->prime);
	model_free(s->m);
	st_free(&s->sf);
	mulaw_free(&s->quant);
	dist_finalize();
	return 0;
}

int main(int argc, char **argv)
{
	blas_runtime_init(argv); /* before anything runs on OpenBLAS or OpenMP */
	cli_init("qsample");
	if (dist_init(&argc, &argv) < 0)
		cli_die(NULL, "%s", sh_errmsg());
	/* a reader that goes away is an end like any other: noticed as EPIPE on a write */
	signal(SIGPIPE, SIG_IGN);
	static sampler s;
	s.ckpt = parse_options(argc, argv);
	check_options(&s);
	set_threads(&s);
	load_checkpoint(&s);
	load_prime(&s);
	open_output(&s);
	if (generate(&s) < 0)
		return 0; /* the reader went away */
	return finish(&s);
}
