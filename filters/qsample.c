/* qsample: generates audio from a qtrain checkpoint, many streams at once.
 *
 * Streams are generated B at a time; each stream draws from its own seeded generator. Audio
 * is written as it is made (memory does not grow with the length): `-o DIR/` writes one
 * 16-bit wav per stream, decoded with the checkpoint's quantisation; otherwise a tensor
 * stream of one record per stream (codes, or decoded audio with --format f32), spilled to a
 * temporary file per stream while the batch runs so that records can be written whole. */
#include "audio.h"
#include "cli.h"
#include "mulaw.h"
#include "npy.h"
#include "rng.h"
#include "safetensors.h"
#include "srnn_sample.h"
#include "train.h"
#include "util.h"

#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: qsample [-n N] [-s SECONDS] [-t TEMP] [--seed S] [--batch B] [--h0 MODE]\n"
	"               [--format codes|f32] [--threads N] [-o OUT] CHECKPOINT\n"
	"  -n N            streams to generate (default 10)\n"
	"  -s SECONDS      length of each stream (default 20)\n"
	"  -t TEMP         temperature: logits are divided by TEMP (default 0.95; 0 = argmax)\n"
	"  --seed S        random seed (default 1); stream k draws from its own generator\n"
	"  --batch B       streams generated at once (default: all)\n"
	"  --h0 MODE       initial recurrent state: learned (when the model has one), random, zero\n"
	"                  (default: learned if present, else random)\n"
	"  --format F      tensor-stream output: codes (default) or f32 decoded audio\n"
	"  --threads N     threads (default: all cores)\n"
	"  -o OUT          DIR/ : DIR/gen_000.wav ... (16-bit PCM at the checkpoint's rate);\n"
	"                  FILE.wav/.flac/.ogg: one stream as audio (with -n 1);\n"
	"                  otherwise (or -, default stdout): one record per stream\n";

/* Rebuilds the model a checkpoint describes and loads its parameters. */
static srnn *load_model(const char *path, const st_file *sf, int max_batch, trn_options *opt)
{
	if (trn_meta_options(sf, opt) < 0)
		cli_die(path, "%s", sh_errmsg());
	srnn *m = srnn_create(&opt->cfg, max_batch);
	if (!m)
		cli_die(path, "%s", sh_errmsg());
	float *params = srnn_params(m);
	for (int i = 0; i < srnn_param_count(m); i++) {
		const srnn_param *p = srnn_param_info(m, i);
		if (st_read_f32(sf, p->name, params + p->offset, p->count) < 0)
			cli_die(path, "%s", sh_errmsg());
	}
	for (size_t i = 0; i < srnn_num_params(m); i++)
		if (!isfinite(params[i]))
			cli_die(path, "parameters hold NaN or infinite values");
	return m;
}

static mulaw_mode quant_mode(const char *path, const char *name)
{
	if (!strcmp(name, "mulaw") || !strcmp(name, "mu-law"))
		return MULAW_WAVENET;
	if (!strcmp(name, "dadabots"))
		return MULAW_DADABOTS;
	if (!strcmp(name, "linear"))
		return MULAW_LINEAR;
	cli_die(path, "unknown quantisation '%s' in the checkpoint", name);
}

typedef enum { OUT_DIR, OUT_AUDIO, OUT_STREAM } out_kind;

int main(int argc, char **argv)
{
	cli_init("qsample");
	long n = 10, batch = 0, threads = 0;
	double seconds = 20, temp = 0.95;
	uint64_t seed = 1;
	const char *out = NULL, *h0_name = NULL;
	int as_f32 = 0;
	static const struct option longopts[] = {
		{"seed", required_argument, 0, 'S'}, {"batch", required_argument, 0, 'b'},
		{"h0", required_argument, 0, 'h' + 256}, {"format", required_argument, 0, 'f'},
		{"threads", required_argument, 0, 'j'}, {"help", no_argument, 0, 'H'}, {0, 0, 0, 0}};
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
	srnn *m = load_model(ckpt, &sf, 1, &opt);
	const srnn_config *cfg = srnn_cfg(m);
	srnn_h0_mode h0 = SRNN_H0_RANDOM;
	int has_h0 = cfg->learn_h0;
	if (!h0_name)
		h0 = has_h0 ? SRNN_H0_LEARNED : SRNN_H0_RANDOM;
	else if (!strcmp(h0_name, "zero"))
		h0 = SRNN_H0_ZERO;
	else if (!strcmp(h0_name, "random"))
		h0 = SRNN_H0_RANDOM;
	else if (!strcmp(h0_name, "learned")) {
		if (!has_h0)
			cli_die(ckpt, "--h0 learned: this model has no learned initial state");
		h0 = SRNN_H0_LEARNED;
	} else
		cli_usage_error(usage, "--h0: expected learned, random or zero, got '%s'", h0_name);

	int rate = opt.sample_rate > 0 ? opt.sample_rate : 16000, Q = cfg->levels;
	mulaw_quantiser quant;
	if (mulaw_init(&quant, quant_mode(ckpt, opt.quantization), Q) < 0)
		cli_die(ckpt, "%s", sh_errmsg());
	long total = (long)(seconds * rate + 0.5);
	if (total < 1)
		total = 1;

	cli_out stream_out = {0};
	if (kind == OUT_DIR)
		cli_mkdirs(out);
	else if (kind == OUT_STREAM)
		cli_out_open(&stream_out, out, 1);

	enum { BLOCK = 4096 };
	int B = (int)batch;
	srnn_sampler *smp = srnn_sampler_create(m, B);
	if (!smp)
		cli_die(ckpt, "%s", sh_errmsg());
	sh_rng *rngs = malloc(B * sizeof *rngs);
	int *codes = malloc(B * sizeof *codes);
	uint16_t *block = malloc((size_t)B * BLOCK * sizeof *block);   /* [B × BLOCK] codes */
	float *audio = malloc(BLOCK * sizeof *audio);
	uint8_t *bytes = malloc(BLOCK * sizeof(uint16_t));
	audio_writer **writers = calloc(B, sizeof *writers);
	FILE **spill = calloc(B, sizeof *spill);
	if (!rngs || !codes || !block || !audio || !bytes || !writers || !spill)
		cli_die(NULL, "out of memory");

	cli_progress prog;
	cli_progress_start(&prog, "generating", (double)n * total / rate, "s");
	double t0 = sh_now();
	sh_dtype code_dtype = Q <= 256 ? SH_U8 : SH_U16;
	size_t item = as_f32 ? 4 : sh_dtype_size(code_dtype);
	char path[4096];

	for (long first = 0; first < n; first += B) {
		int nb = (int)SH_MIN((long)B, n - first);
		for (int b = 0; b < B; b++)
			sh_rng_seed_stream(&rngs[b], seed, (uint64_t)(first + b));
		srnn_sampler_reset(smp, h0, rngs);
		for (int b = 0; b < nb; b++) {
			if (kind == OUT_DIR || kind == OUT_AUDIO) {
				if (kind == OUT_DIR)
					snprintf(path, sizeof path, "%s%sgen_%03ld.wav", out,
						 out[strlen(out) - 1] == '/' ? "" : "/", first + b);
				else
					snprintf(path, sizeof path, "%s", out);
				if (!(writers[b] = audio_create(path, rate, AUDIO_AUTO)))
					cli_die(path, "%s", sh_errmsg());
			} else if (!(spill[b] = tmpfile())) {
				cli_die(NULL, "cannot create a temporary file");
			}
		}
		for (long t = 0; t < total; t += BLOCK) {
			int len = (int)SH_MIN((long)BLOCK, total - t);
			for (int i = 0; i < len; i++) {
				srnn_sampler_draw(smp, (float)temp, rngs, codes);
				for (int b = 0; b < B; b++)
					block[(size_t)b * BLOCK + i] = (uint16_t)codes[b];
			}
			for (int b = 0; b < nb; b++) {
				const uint16_t *bc = block + (size_t)b * BLOCK;
				if (writers[b] || as_f32) {
					mulaw_decode_u16(&quant, bc, len, audio);
					if (writers[b] && audio_write(writers[b], audio, len) < 0)
						cli_die(path, "%s", sh_errmsg());
				}
				const void *src = as_f32 ? (const void *)audio : (const void *)bc;
				if (spill[b] && !as_f32 && code_dtype == SH_U8) {
					for (int i = 0; i < len; i++)
						bytes[i] = (uint8_t)bc[i];
					src = bytes;
				}
				if (spill[b] && fwrite(src, item, len, spill[b]) != (size_t)len)
					cli_die(NULL, "temporary file: write error");
			}
			double done = (double)first * total + (double)nb * (t + len);
			char extra[64];
			snprintf(extra, sizeof extra, "(%.2fx real time)", done / rate / (sh_now() - t0));
			cli_progress_update(&prog, done / rate, extra);
		}
		for (int b = 0; b < nb; b++) {
			if (writers[b]) {
				if (audio_finish(writers[b]) < 0)
					cli_die(kind == OUT_AUDIO ? out : NULL, "%s", sh_errmsg());
				writers[b] = NULL;
				continue;
			}
			/* copy the spilled stream into one record */
			if (npy_write_header(stream_out.f, as_f32 ? SH_F32 : code_dtype, 1, (int64_t[]){total}) < 0)
				cli_die(cli_out_name(out), "%s", sh_errmsg());
			rewind(spill[b]);
			size_t got;
			while ((got = fread(audio, 1, BLOCK * sizeof *audio, spill[b])) > 0)
				if (fwrite(audio, 1, got, stream_out.f) != got)
					cli_die(cli_out_name(out), "write error");
			fclose(spill[b]);
			spill[b] = NULL;
		}
	}
	if (kind == OUT_STREAM)
		cli_out_close(&stream_out);
	double el = sh_now() - t0;
	cli_progress_end(&prog, "%ld streams of %.2f s at %d Hz in %.1f s (%.0f samples/s, %.2fx real time)", n,
			 (double)total / rate, rate, el, n * total / el, n * total / el / rate);
	srnn_sampler_free(smp);
	srnn_free(m);
	st_free(&sf);
	mulaw_free(&quant);
	free(rngs);
	free(codes);
	free(block);
	free(audio);
	free(bytes);
	free(writers);
	free(spill);
	return 0;
}
