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

/* Rebuilds the model a checkpoint describes (SampleRNN or WaveNet, by its metadata) and loads
 * its parameters by name (st_read_f32 refuses NaN and infinities, naming the tensor). */
static model *load_model(const char *path, const st_file *sf, int max_batch, trn_options *opt)
{
	if (trn_meta_options(sf, opt) < 0)
		cli_die(path, "%s", sh_errmsg());
	model *m = model_create(&opt->model, max_batch);
	if (!m)
		cli_die(path, "%s", sh_errmsg());
	float *params = model_params(m);
	for (int i = 0; i < model_param_count(m); i++) {
		model_param p = model_param_info(m, i);
		const st_tensor *t = st_find(sf, p.name);
		int same = t && t->ndim == p.ndim;
		for (int k = 0; same && k < p.ndim; k++)
			same = t->shape[k] == p.shape[k];
		if (t && !same)
			cli_die(path, "tensor '%s' has another shape than the metadata's architecture", p.name);
		if (st_read_f32(sf, p.name, params + p.offset, p.count) < 0)
			cli_die(path, "%s", sh_errmsg());
	}
	return m;
}

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

int main(int argc, char **argv)
{
	blas_runtime_init(argv); /* before anything runs on OpenBLAS or OpenMP */
	cli_init("qsample");
	if (dist_init(&argc, &argv) < 0)
		cli_die(NULL, "%s", sh_errmsg());
	/* a reader that goes away is an end like any other: noticed as EPIPE on a write */
	signal(SIGPIPE, SIG_IGN);
	long n = 10, batch = 0, threads = 0, seed = CLI_DEFAULT_SEED;
	double seconds = 20, temp = 0.95, prime_seconds = 0;
	const char *out = NULL, *prime_path = NULL, *device = "cpu";
	int format = FORMAT_CODES, h0_mode = H0_DEFAULT, keep_prime = 0, realtime = 0;
	qmat_type weights = QMAT_F32;
	cli_opt table[] = {
		{NULL, 'n', "N", CLI_LONG, &n, 1, 100000, .def = "10", .help = "streams to generate"},
		{NULL, 's', "SECONDS", CLI_DOUBLE, &seconds, 0, 1e6, .def = "20",
		 .help = "length of each stream; 0: one stream without end, until\n"
			 "the reader goes away (with -n 1 --format s16)"},
		{NULL, 't', "TEMP", CLI_DOUBLE, &temp, 0, 100, .def = "0.95",
		 .help = "temperature: logits are divided by TEMP (0 = argmax)"},
		{"seed", 0, "S", CLI_LONG, &seed, 0, LONG_MAX, .def = "1",
		 .help = "random seed; stream k draws from its own generator"},
		{"batch", 0, "B", CLI_LONG, &batch, 1, 100000, .def = "all", .help = "streams generated at once"},
		{"h0", 0, "MODE", CLI_CHOICE, &h0_mode, .choices = h0_modes,
		 .help = "SampleRNN's initial recurrent state: learned (when the model has one),\n"
			 "random, zero (default: learned if present, else random). WaveNet has no\n"
			 "recurrent state and starts from a history of Q/2 codes: random and zero\n"
			 "are ignored for it, learned is refused"},
		{"prime", 0, "FILE", CLI_STRING, &prime_path,
		 .help = "continue FILE: audio (by extension; decoded, mixed down, resampled to the\n"
			 "checkpoint's rate and quantised as it was) or a tensor stream of codes (its\n"
			 "first record); every stream starts from its state after these codes"},
		{"prime-seconds", 0, "S", CLI_DOUBLE, &prime_seconds, 1e-3, 1e7, .def = "all of it",
		 .help = "only the last S seconds of the prime"},
		{"keep-prime", 0, NULL, CLI_FLAG, &keep_prime,
		 .help = "write the prime in front of each stream (default: the continuation only)"},
		{"format", 0, "F", CLI_CHOICE, &format, .choices = formats, .def = "codes",
		 .help = "output to a stream: codes or f32 decoded audio, one record per\n"
			 "stream; s16: raw 16-bit little-endian PCM, mono, at the checkpoint's rate,\n"
			 "streams one after another"},
		{"realtime", 0, NULL, CLI_FLAG, &realtime,
		 .help = "write no faster than real time (with -n 1): a live stream"},
		{"weights", 0, "TYPE", CLI_CALL, &weights, .parse = parse_weights, .def = "f32",
		 .help = "how the weight matrices are held while generating: f32 (exactly\n"
			 "the trained model), f16 (IEEE half) or i8 (8 bits and a scale per row,\n"
			 "as LPCNet): 2 or 4 times fewer bytes to read per sample, so faster, at\n"
			 "the cost of a small error in every product (its bound is printed);\n"
			 "q8: i8, and the inputs of the products (WaveNet's skips and head, all\n"
			 "of SampleRNN's) rounded to 8 bits too, for integer products: the\n"
			 "fastest, and the largest error"},
		{"threads", 0, "N", CLI_LONG, &threads, 1, 1024, .def = "all cores", .help = "threads"},
		{"device", 0, "NAME", CLI_STRING, &device, .def = "cpu",
		 .help = "where the model runs: cpu or cuda (not yet usable: docs/cuda.md)"},
		{NULL, 'o', "OUT", CLI_STRING, &out,
		 .help = "DIR/ : DIR/gen_000.wav ... (16-bit PCM at the checkpoint's rate);\n"
			 "FILE.wav/.flac/.ogg: one stream as audio (with -n 1);\n"
			 "otherwise (or -, default stdout): one record per stream"},
		{.kind = CLI_END},
	};
	cli_opts opts = {.head = usage_head, .quiet = "no progress, summary or weight error line", .opts = table};
	const int operand = cli_opts_parse(&opts, argc, argv);
	const char *usage = cli_opts_usage(&opts);
	if (seconds > 0 && seconds < 1e-3)
		cli_usage_error(usage, "-s: expected 0 (without end) or at least 0.001, got '%s'", table[1].value);
	if (backend_name_check(device) < 0)
		cli_usage_error(usage, "--device: %s", sh_errmsg());
	const int as_f32 = format == FORMAT_F32, as_s16 = format == FORMAT_S16;
	if (operand != argc - 1)
		cli_usage_error(usage, operand == argc ? "no checkpoint given" : "one checkpoint expected");
	const char *ckpt = argv[operand];
	int batch_asked = batch > 0;
	if (batch == 0 || batch > n)
		batch = n;
	batch = fit_open_files(batch, batch_asked);
	if (threads > 0) {
		omp_set_num_threads((int)threads);
		openblas_set_num_threads((int)threads);
	}

	out_kind kind = OUT_STREAM;
	if (out && cli_is_dir_path(out))
		kind = OUT_DIR;
	else if (out && cli_is_audio_path(out)) {
		if (n != 1)
			cli_usage_error(usage, "-o %s: an audio file holds one stream; use -n 1 or -o DIR/", out);
		if (audio_format_for_path(out) < 0)
			cli_usage_error(usage, "-o %s: cannot write this audio format (use .wav, .flac or .ogg)", out);
		kind = OUT_AUDIO;
	}
	const int endless = seconds == 0;
	if (endless && (n != 1 || !as_s16 || kind != OUT_STREAM))
		cli_usage_error(usage, "-s 0: a stream without end is one stream (-n 1) of raw PCM (--format s16) "
				       "to stdout or -o FILE");
	if (realtime && (n != 1 || kind != OUT_STREAM))
		cli_usage_error(usage, "--realtime: paces one stream (-n 1) written to stdout or -o FILE");
	if ((prime_seconds > 0 || keep_prime) && !prime_path)
		cli_usage_error(usage, "--prime-seconds and --keep-prime need --prime FILE");

	/* under mpirun: this rank's share of the streams, each into its own file of DIR/ */
	const int ranks = dist_size(), rank = dist_rank();
	if (ranks > 1 && kind != OUT_DIR)
		cli_usage_error(usage, "under mpirun, every rank writes its streams into -o DIR/ (%d ranks)", ranks);
	const long first = n * rank / ranks, mine = n * (rank + 1) / ranks - first;
	if (ranks > 1 && threads <= 0) { /* the ranks on this machine share its cores */
		threads = SH_MAX(1, sysconf(_SC_NPROCESSORS_ONLN) / dist_local_size());
		omp_set_num_threads((int)threads);
		openblas_set_num_threads((int)threads);
	}

	if (strcmp(device, "cpu") && backend_device_usable(device, "generation") < 0) /* before anything is written */
		cli_die(NULL, "--device %s: %s", device, sh_errmsg());
	st_file sf;
	if (st_load(ckpt, &sf) < 0)
		cli_die(ckpt, "%s", sh_errmsg());
	trn_options opt;
	model *m = load_model(ckpt, &sf, 1, &opt);
	int is_wn = opt.model.kind == MODEL_WAVENET;
	int has_h0 = !is_wn && opt.model.srnn.learn_h0;
	srnn_h0_mode h0 = h0_mode != H0_DEFAULT ? (srnn_h0_mode)h0_mode : has_h0 ? SRNN_H0_LEARNED : SRNN_H0_RANDOM;
	if (h0_mode == SRNN_H0_LEARNED && is_wn)
		cli_die(ckpt, "--h0 learned: WaveNet has no initial state (it starts from Q/2 codes)");
	if (h0_mode == SRNN_H0_LEARNED && !has_h0)
		cli_die(ckpt, "--h0 learned: this model has no learned initial state");

	int rate = opt.sample_rate > 0 ? opt.sample_rate : 16000, Q = model_levels(&opt.model);
	mulaw_quantiser quant;
	int mode = trn_quant_mode(opt.quantization);
	if (mode < 0 || mulaw_init(&quant, (mulaw_mode)mode, Q) < 0)
		cli_die(ckpt, "%s", sh_errmsg());
	long total = (long)(seconds * rate + 0.5);
	if (total < 1)
		total = 1;
	/* the prime, before any output is opened: a bad one leaves nothing behind */
	long prime_len = 0;
	uint16_t *prime = NULL;
	if (prime_path &&
	    gen_load_prime(prime_path, rate, &quant, (long)(prime_seconds * rate + 0.5), &prime, &prime_len) < 0)
		cli_die(cli_in_name(prime_path), "%s", sh_errmsg());

	cli_out stream_out = {0};
	if (kind == OUT_DIR)
		cli_mkdirs(out);
	else if (kind == OUT_STREAM)
		cli_out_open(&stream_out, out, 1);

	output o = {.kind = kind,
		    .out = out,
		    .rate = rate,
		    .as_f32 = as_f32,
		    .as_s16 = as_s16,
		    .realtime = realtime,
		    .quant = &quant,
		    .code_dtype = Q <= 256 ? SH_U8 : SH_U16,
		    .total = total + (keep_prime ? prime_len : 0),
		    .stream = stream_out.f};
	o.writers = calloc(batch, sizeof *o.writers);
	o.spill = calloc(batch, sizeof *o.spill);
	o.audio = malloc((size_t)batch * 4096 * sizeof *o.audio);
	o.bytes = malloc((size_t)batch * 4096 * sizeof(uint16_t));
	if (!o.writers || !o.spill || !o.audio || !o.bytes)
		cli_die(NULL, "out of memory");
	int nthreads = threads > 0 ? (int)threads : omp_get_max_threads();
	gen_spec g = {.n = mine,
		      .first = first,
		      .batch = (int)batch,
		      .samples = endless ? -1 : total,
		      .temperature = (float)temp,
		      .h0 = h0,
		      .seed = (uint64_t)seed,
		      .threads = nthreads,
		      .weights = weights,
		      .prime = prime,
		      .prime_len = prime_len,
		      .keep_prime = keep_prime};
	double werr = 0;
	g.weight_error = &werr;
	if (!endless)
		cli_progress_start(&o.prog, "generating", (double)mine * total / rate, "s");
	o.t0 = sh_now();
	if (gen_streams(m, &g, on_batch, on_block, endless ? NULL : on_progress, &o) < 0) {
		if (o.reader_gone) /* nobody is listening any more: the end, not a failure */
			return 0;
		cli_die(o.err_file, "%s", sh_errmsg());
	}
	if (kind == OUT_STREAM) {
		if (fflush(stream_out.f) && errno == EPIPE)
			return 0;
		cli_out_close(&stream_out);
	}
	double el = sh_now() - o.t0;
	if (weights != QMAT_F32 && !cli_quiet)
		fprintf(stderr,
			"qsample: %s weights: largest relative row error %.2g (a product's row is off by "
			"at most that times |w_row|·|x|)\n",
			qmat_type_name(weights), werr);
	cli_progress_end(&o.prog,
			 "%ld streams of %.2f s at %d Hz in %.1f s (%.0f samples/s, %.2fx real time, %d threads)%s",
			 mine, (double)total / rate, rate, el, mine * total / el, mine * total / el / rate, nthreads,
			 ranks > 1 ? " on this rank" : "");
	free(o.writers), free(o.spill), free(o.audio), free(o.bytes), free(prime);
	model_free(m);
	st_free(&sf);
	mulaw_free(&quant);
	dist_finalize();
	return 0;
}
