/* qsample: generates audio from a qtrain checkpoint (SampleRNN, or WaveNet with fast
 * generation), many streams at once.
 *
 * Streams are generated B at a time; each stream draws from its own seeded generator. Audio
 * is written as it is made (memory does not grow with the length): `-o DIR/` writes one
 * 16-bit wav per stream, decoded with the checkpoint's quantisation; otherwise a tensor
 * stream of one record per stream (codes, or decoded audio with --format f32), spilled to a
 * temporary file per stream while the batch runs so that records can be written whole. */
#include "audio.h"
#include "blas.h"
#include "cli.h"
#include "mulaw.h"
#include "npy.h"
#include "rng.h"
#include "safetensors.h"
#include "generate.h"
#include "srnn_sample.h"
#include "checkpoint.h"
#include "util.h"

#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: qsample [-n N] [-s SECONDS] [-t TEMP] [--seed S] [--batch B] [--h0 MODE]\n"
	"               [--format codes|f32] [--weights f32|f16|i8|q8] [--threads N] [-o OUT] CHECKPOINT\n"
	"  -n N            streams to generate (default 10)\n"
	"  -s SECONDS      length of each stream (default 20)\n"
	"  -t TEMP         temperature: logits are divided by TEMP (default 0.95; 0 = argmax)\n"
	"  --seed S        random seed (default 1); stream k draws from its own generator\n"
	"  --batch B       streams generated at once (default: all)\n"
	"  --h0 MODE       SampleRNN's initial recurrent state: learned (when the model has one),\n"
	"                  random, zero (default: learned if present, else random). WaveNet has no\n"
	"                  recurrent state and starts from a history of Q/2 codes: random and zero\n"
	"                  are ignored for it, learned is refused\n"
	"  --format F      tensor-stream output: codes (default) or f32 decoded audio\n"
	"  --weights TYPE  how the weight matrices are held while generating: f32 (default: exactly\n"
	"                  the trained model), f16 (IEEE half) or i8 (8 bits and a scale per row,\n"
	"                  as LPCNet): 2 or 4 times fewer bytes to read per sample, so faster, at\n"
	"                  the cost of a small error in every product (its bound is printed);\n"
	"                  q8: i8, and the inputs of the wide products (WaveNet's skips and head,\n"
	"                  SampleRNN's sample-level MLP) rounded to 8 bits too, for integer\n"
	"                  products: the fastest, and the largest error\n"
	"  --threads N     threads (default: all cores)\n"
	"  -o OUT          DIR/ : DIR/gen_000.wav ... (16-bit PCM at the checkpoint's rate);\n"
	"                  FILE.wav/.flac/.ogg: one stream as audio (with -n 1);\n"
	"                  otherwise (or -, default stdout): one record per stream\n";

/* Rebuilds the model a checkpoint describes (SampleRNN or WaveNet, by its metadata) and loads
 * its parameters by name. */
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
	for (size_t i = 0; i < model_num_params(m); i++)
		if (!isfinite(params[i]))
			cli_die(path, "parameters hold NaN or infinite values");
	return m;
}


typedef enum { OUT_DIR, OUT_AUDIO, OUT_STREAM } out_kind;

/* Where generated codes go: audio files written as they come, or per-stream temporary files
 * copied into whole records once a batch is done. Indexed by stream - first of the batch. */
typedef struct {
	out_kind kind;
	const char *out, *err_file;
	int rate, as_f32;
	const mulaw_quantiser *quant;
	sh_dtype code_dtype;
	long total, first;
	FILE *stream;
	audio_writer **writers;
	FILE **spill;
	float *audio;      /* [batch × 4096] decode scratch, a slice per stream */
	uint8_t *bytes;    /* [batch × 4096 × 2] */
	cli_progress prog;
	double t0;
	char path[4096];
} output;

static int on_batch(void *ctx, long first, int count, int done)
{
	output *o = ctx;
	o->first = first;
	for (int b = 0; b < count; b++) {
		if (!done) {
			if (o->kind == OUT_STREAM) {
				if (!(o->spill[b] = tmpfile()))
					return sh_error("cannot create a temporary file");
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
		/* copy the spilled stream into one record */
		o->err_file = cli_out_name(o->out);
		if (npy_write_header(o->stream, o->as_f32 ? SH_F32 : o->code_dtype, 1, (int64_t[]){o->total}) < 0)
			return -1;
		rewind(o->spill[b]);
		size_t got;
		while ((got = fread(o->audio, 1, 4096 * sizeof *o->audio, o->spill[b])) > 0)
			if (fwrite(o->audio, 1, got, o->stream) != got)
				return sh_error("write error");
		fclose(o->spill[b]);
		o->spill[b] = NULL;
	}
	return 0;
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
	if (!o->as_f32 && o->code_dtype == SH_U8) {
		uint8_t *bytes = o->bytes + (size_t)b * 4096 * 2;
		for (int i = 0; i < len; i++)
			bytes[i] = (uint8_t)codes[i];
		src = bytes;
	}
	if (fwrite(src, item, len, o->spill[b]) != (size_t)len)
		return sh_error("temporary file: write error");
	return 0;
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
	blas_runtime_init(argv);   /* before anything runs on OpenBLAS or OpenMP */
	cli_init("qsample");
	long n = 10, batch = 0, threads = 0;
	double seconds = 20, temp = 0.95;
	uint64_t seed = 1;
	const char *out = NULL, *h0_name = NULL;
	int as_f32 = 0;
	qmat_type weights = QMAT_F32;
	static const struct option longopts[] = {
		{"seed", required_argument, 0, 'S'}, {"batch", required_argument, 0, 'b'},
		{"h0", required_argument, 0, 'h' + 256}, {"format", required_argument, 0, 'f'},
		{"threads", required_argument, 0, 'j'}, {"weights", required_argument, 0, 'w'},
		{"help", no_argument, 0, 'H'}, {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "n:s:t:o:", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': n = cli_long(usage, "-n", optarg, 1, 100000); break;
		case 's': seconds = cli_double(usage, "-s", optarg, 1e-3, 1e6); break;
		case 't': temp = cli_double(usage, "-t", optarg, 0, 100); break;
		case 'o': out = optarg; break;
		case 'S': seed = (uint64_t)cli_long(usage, "--seed", optarg, 0, 0x7fffffffffffffffL); break;
		case 'b': batch = cli_long(usage, "--batch", optarg, 1, 100000); break;
		case 'h' + 256: h0_name = optarg; break;
		case 'f':
			if (strcmp(optarg, "codes") && strcmp(optarg, "f32"))
				cli_usage_error(usage, "--format: expected codes or f32, got '%s'", optarg);
			as_f32 = !strcmp(optarg, "f32");
			break;
		case 'j': threads = cli_long(usage, "--threads", optarg, 1, 1024); break;
		case 'w':
			if (qmat_type_parse(optarg, &weights) < 0)
				cli_usage_error(usage, "--weights: %s", sh_errmsg());
			break;
		case 'H': fputs(usage, stdout); return 0;
		default: cli_usage_error(usage, "unknown option");
		}
	}
	if (optind != argc - 1)
		cli_usage_error(usage, optind == argc ? "no checkpoint given" : "one checkpoint expected");
	const char *ckpt = argv[optind];
	if (batch == 0 || batch > n)
		batch = n;
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

	st_file sf;
	if (st_load(ckpt, &sf) < 0)
		cli_die(ckpt, "%s", sh_errmsg());
	trn_options opt;
	model *m = load_model(ckpt, &sf, 1, &opt);
	srnn_h0_mode h0 = SRNN_H0_RANDOM;
	int is_wn = opt.model.kind == MODEL_WAVENET;
	int has_h0 = !is_wn && opt.model.srnn.learn_h0;
	if (!h0_name)
		h0 = has_h0 ? SRNN_H0_LEARNED : SRNN_H0_RANDOM;
	else if (!strcmp(h0_name, "zero"))
		h0 = SRNN_H0_ZERO;
	else if (!strcmp(h0_name, "random"))
		h0 = SRNN_H0_RANDOM;
	else if (!strcmp(h0_name, "learned")) {
		if (is_wn)
			cli_die(ckpt, "--h0 learned: WaveNet has no initial state (it starts from Q/2 codes)");
		if (!has_h0)
			cli_die(ckpt, "--h0 learned: this model has no learned initial state");
		h0 = SRNN_H0_LEARNED;
	} else
		cli_usage_error(usage, "--h0: expected learned, random or zero, got '%s'", h0_name);

	int rate = opt.sample_rate > 0 ? opt.sample_rate : 16000, Q = model_levels(&opt.model);
	mulaw_quantiser quant;
	int mode = trn_quant_mode(opt.quantization);
	if (mode < 0 || mulaw_init(&quant, (mulaw_mode)mode, Q) < 0)
		cli_die(ckpt, "%s", sh_errmsg());
	long total = (long)(seconds * rate + 0.5);
	if (total < 1)
		total = 1;

	cli_out stream_out = {0};
	if (kind == OUT_DIR)
		cli_mkdirs(out);
	else if (kind == OUT_STREAM)
		cli_out_open(&stream_out, out, 1);

	output o = {.kind = kind, .out = out, .rate = rate, .as_f32 = as_f32, .quant = &quant,
		    .code_dtype = Q <= 256 ? SH_U8 : SH_U16, .total = total, .stream = stream_out.f};
	o.writers = calloc(batch, sizeof *o.writers);
	o.spill = calloc(batch, sizeof *o.spill);
	o.audio = malloc((size_t)batch * 4096 * sizeof *o.audio);
	o.bytes = malloc((size_t)batch * 4096 * sizeof(uint16_t));
	if (!o.writers || !o.spill || !o.audio || !o.bytes)
		cli_die(NULL, "out of memory");
	int nthreads = threads > 0 ? (int)threads : omp_get_max_threads();
	gen_spec g = {.n = n, .batch = (int)batch, .samples = total, .temperature = (float)temp, .h0 = h0,
		      .seed = seed, .threads = nthreads, .weights = weights};
	double werr = 0;
	g.weight_error = &werr;
	cli_progress_start(&o.prog, "generating", (double)n * total / rate, "s");
	o.t0 = sh_now();
	if (gen_streams(m, &g, on_batch, on_block, on_progress, &o) < 0)
		cli_die(o.err_file, "%s", sh_errmsg());
	if (kind == OUT_STREAM)
		cli_out_close(&stream_out);
	double el = sh_now() - o.t0;
	if (weights != QMAT_F32)
		fprintf(stderr, "qsample: %s weights: largest relative row error %.2g (a product's row is off by "
			"at most that times |w_row|·|x|)\n", qmat_type_name(weights), werr);
	cli_progress_end(&o.prog, "%ld streams of %.2f s at %d Hz in %.1f s (%.0f samples/s, %.2fx real time, %d threads)",
			 n, (double)total / rate, rate, el, n * total / el, n * total / el / rate, nthreads);
	free(o.writers), free(o.spill), free(o.audio), free(o.bytes);
	model_free(m);
	st_free(&sf);
	mulaw_free(&quant);
	return 0;
}
