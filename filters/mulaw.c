/* mulaw: quantises audio records to integer codes, or (-d) decodes codes back to audio.
 * The quantisers live in lib/mulaw.c; this file parses options and moves records. */
#include "audio.h"
#include "cli.h"
#include "cliopt.h"
#include "mulaw.h"
#include "npy.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage_head[] =
	"usage: mulaw [-d] [-l LEVELS] [--linear | --dadabots] [-r RATE] [-q] [-o OUT] [FILE...]\n"
	"Encodes <f4 records of audio in [-1, 1] to codes (|u1 for LEVELS <= 256, <u2 above),\n"
	"or with -d decodes code records to <f4. The shape of each record is kept.\n";
static const char usage_foot[] =
	"FILE: tensor streams (default stdin); when encoding, an audio file (.wav .flac .ogg .mp3 ...)\n"
	"is read whole as one record, mixed down to mono.\n"
	"Values outside [-1, 1] are clamped and counted; NaN or infinite input is an error.\n"
	"Output records carry the rate of their input (docs/formats.md).\n";

typedef struct {
	mulaw_quantiser q;
	sh_dtype code_type;
	float *x;    /* samples of the current record */
	void *codes; /* codes of the current record */
	size_t cap;  /* capacity of x and codes, in samples */
	long records;
	size_t samples, clamped;
	int rate, rate_given; /* the audio's rate: -r, else the first input that tells; 0: unknown */
} job;

/* Every record that carries a rate must agree with -r and with the records before it. */
static void check_rate(job *j, const char *name, long index, const npy_header *h)
{
	if (npy_check_rate(h, &j->rate, j->rate_given) < 0)
		cli_die(name, "record %ld: %s", index, sh_errmsg());
}

static void reserve(job *j, size_t n)
{
	if (n <= j->cap)
		return;
	free(j->x);
	free(j->codes);
	j->x = malloc((n ? n : 1) * sizeof *j->x);
	j->codes = malloc((n ? n : 1) * sizeof(uint16_t));
	if (!j->x || !j->codes)
		cli_die(NULL, "out of memory for a record of %zu samples", n);
	j->cap = n;
}

/* Encodes j->x[0..n) and writes one record of the given shape. */
static void encode_and_write(job *j, const char *name, long index, int ndim, const int64_t *shape, size_t n,
			     cli_out *out)
{
	if (audio_check_finite(j->x, n, 1, 0, 0))
		cli_die(name, "record %ld: %s", index, sh_errmsg());
	if (j->code_type == SH_U8)
		j->clamped += mulaw_encode_u8(&j->q, j->x, n, j->codes);
	else
		j->clamped += mulaw_encode_u16(&j->q, j->x, n, j->codes);
	if (npy_write_rate(out->f, j->code_type, ndim, shape, j->codes, j->rate) < 0)
		cli_die_lib(cli_out_name(out->path));
	j->records++;
	j->samples += n;
}

static void encode_stream(job *j, const char *path, cli_out *out)
{
	const char *name = cli_in_name(path);
	FILE *f = cli_open_in(path);
	npy_record r = {0};
	int rc;
	while ((rc = npy_read_record(f, &r)) > 0) {
		if (r.h.dtype != SH_F32 && r.h.dtype != SH_F64)
			cli_die(name, "record %ld: dtype %s is not audio (encoding wants <f4 or <f8; decode with -d)",
				r.index, sh_dtype_descr(r.h.dtype));
		check_rate(j, name, r.index, &r.h);
		reserve(j, r.h.count);
		npy_to_f32(j->x, r.data, r.h.dtype, r.h.count);
		encode_and_write(j, name, r.index, r.h.ndim, r.h.shape, r.h.count, out);
	}
	if (rc < 0)
		cli_die_lib(name);
	npy_record_free(&r);
	if (f != stdin)
		fclose(f);
}

static void encode_audio_file(job *j, const char *path, cli_out *out)
{
	float *x;
	size_t n;
	/* read at the rate already set, else at the file's own, which the codes then carry */
	npy_header own = {.rate = j->rate};
	if (!j->rate) {
		audio_reader *ar = audio_open(path, 0, AUDIO_QUALITY_DEFAULT);
		if (!ar)
			cli_die_lib(path);
		own.rate = audio_file_rate(ar);
		audio_close(ar);
	}
	check_rate(j, path, 0, &own);
	if (audio_read_all(path, j->rate, AUDIO_QUALITY_DEFAULT, &x, &n) < 0)
		cli_die_lib(path);
	free(j->x);
	j->x = x;
	if (n > j->cap) {
		free(j->codes);
		j->codes = malloc((n ? n : 1) * sizeof(uint16_t));
		if (!j->codes)
			cli_die(path, "out of memory");
	}
	j->cap = n;
	int64_t shape[1] = {(int64_t)n};
	encode_and_write(j, path, 0, 1, shape, n, out);
}

/* Codes of any integer dtype into uint16 (dies on a negative or too large code). */
static void codes_to_u16(const char *name, long index, const npy_record *r, uint16_t *dst, int levels)
{
	size_t n = r->h.count;
	for (size_t i = 0; i < n; i++) {
		int64_t v;
		switch (r->h.dtype) {
		case SH_U8: v = ((const uint8_t *)r->data)[i]; break;
		case SH_U16: v = ((const uint16_t *)r->data)[i]; break;
		case SH_I16: v = ((const int16_t *)r->data)[i]; break;
		case SH_I32: v = ((const int32_t *)r->data)[i]; break;
		default: v = ((const int64_t *)r->data)[i]; break;
		}
		if (v < 0 || v >= levels)
			cli_die(name, "record %ld: code %lld at index %zu is outside 0..%d", index, (long long)v, i,
				levels - 1);
		dst[i] = (uint16_t)v;
	}
}

/* The audio file of -d -o FILE.wav, created at the first record, when the rate is known. */
static audio_writer *open_audio_out(job *j, audio_writer **aw, const char *path)
{
	if (!*aw && !(*aw = audio_create(path, j->rate ? j->rate : 16000, AUDIO_AUTO)))
		cli_die_lib(path);
	return *aw;
}

/* Decodes every record of one input; writes records to out, or samples to the audio file
 * *aw (created at the first record) when audio_path is set. */
static void decode_stream(job *j, const char *path, cli_out *out, const char *audio_path, audio_writer **awp)
{
	const char *name = cli_in_name(path);
	FILE *f = cli_open_in(path);
	npy_record r = {0};
	int rc;
	while ((rc = npy_read_record(f, &r)) > 0) {
		sh_dtype t = r.h.dtype;
		audio_writer *aw = *awp;
		if (t == SH_F32 || t == SH_F64) {
			if (aw)
				audio_abort(aw);
			cli_die(name, "record %ld: dtype %s holds no codes (decoding wants |u1 or <u2)", r.index,
				sh_dtype_descr(t));
		}
		if (npy_check_rate(&r.h, &j->rate, j->rate_given) < 0) {
			if (aw)
				audio_abort(aw);
			cli_die(name, "record %ld: %s", r.index, sh_errmsg());
		}
		if (audio_path)
			aw = open_audio_out(j, awp, audio_path);
		size_t n = r.h.count;
		reserve(j, n);
		int drc;
		if (t == SH_U8) {
			drc = mulaw_decode_u8(&j->q, r.data, n, j->x);
		} else if (t == SH_U16) {
			drc = mulaw_decode_u16(&j->q, r.data, n, j->x);
		} else {
			codes_to_u16(name, r.index, &r, j->codes, j->q.levels);
			drc = mulaw_decode_u16(&j->q, j->codes, n, j->x);
		}
		if (drc < 0) {
			if (aw)
				audio_abort(aw);
			cli_die(name, "record %ld: %s", r.index, sh_errmsg());
		}
		if (aw) {
			if (audio_write(aw, j->x, (long)n) < 0) {
				audio_abort(aw);
				cli_die_lib(out->path);
			}
		} else if (npy_write_rate(out->f, SH_F32, r.h.ndim, r.h.shape, j->x, j->rate) < 0) {
			cli_die_lib(cli_out_name(out->path));
		}
		j->records++;
		j->samples += n;
	}
	if (rc < 0) {
		if (*awp)
			audio_abort(*awp);
		cli_die_lib(name);
	}
	npy_record_free(&r);
	if (f != stdin)
		fclose(f);
}

int main(int argc, char **argv)
{
	cli_init("mulaw");
	int decode = 0, levels = 256, rate = 0;
	mulaw_mode mode = MULAW_WAVENET;
	const char *out_path = NULL;
	int linear = 0, dadabots = 0;
	cli_opt table[] = {
		{NULL, 'd', NULL, CLI_FLAG, &decode, .help = "decode codes to audio"},
		{"levels", 'l', "LEVELS", CLI_INT, &levels, 2, MULAW_MAX_LEVELS, .def = "256",
		 .help = "number of levels"},
		{"linear", 0, NULL, CLI_FLAG, &linear, .help = "uniform quantisation instead of mu-law"},
		{"dadabots", 0, NULL, CLI_FLAG, &dadabots,
		 .help = "the floor-based mu-law of the dadabots SampleRNN code"},
		{NULL, 'r', "RATE", CLI_INT, &rate, NPY_RATE_MIN, NPY_RATE_MAX,
		 .help = "the rate of the audio: audio-file inputs are read at it (default: their\n"
			 "own), tensor streams that carry a rate must be at it; decoding to audio:\n"
			 "the rate to write (default: the stream's, else 16000)"},
		{NULL, 'o', "OUT", CLI_STRING, &out_path,
		 .help = "output (default stdout); with -d, OUT.wav/.flac/.ogg writes all records\n"
			 "one after another as one audio file"},
		{.kind = CLI_END},
	};
	cli_opts opts = {.head = usage_head, .foot = usage_foot, .quiet = "no summary line", .opts = table};
	const int first = cli_opts_parse(&opts, argc, argv);
	const char *usage = cli_opts_usage(&opts);
	mode = linear ? MULAW_LINEAR : dadabots ? MULAW_DADABOTS : MULAW_WAVENET;
	if (linear && dadabots)
		cli_usage_error(usage, "--linear and --dadabots exclude each other");
	int audio_out = out_path && strcmp(out_path, "-") && cli_is_audio_path(out_path);
	if (audio_out && !decode)
		cli_usage_error(usage, "%s: encoding writes codes, not audio (use -d to decode to audio)", out_path);
	if (audio_out && audio_format_for_path(out_path) < 0)
		cli_usage_error(usage, "%s: can write .wav, .flac or .ogg only", out_path);

	job j = {.rate = rate, .rate_given = rate > 0};
	if (mulaw_init(&j.q, mode, levels) < 0)
		cli_die(NULL, "%s", sh_errmsg());
	j.code_type = levels <= 256 ? SH_U8 : SH_U16;

	/* inputs are checked before any output exists, so that a missing file leaves nothing */
	int nin = argc - first;
	for (int i = first; i < argc; i++) {
		if (decode && strcmp(argv[i], "-") && cli_is_audio_path(argv[i]))
			cli_die(argv[i], "is an audio file; -d decodes tensor streams of codes");
		if (strcmp(argv[i], "-")) {
			FILE *f = cli_open_in(argv[i]);
			fclose(f);
		}
	}

	cli_out out = {0};
	audio_writer *aw = NULL;
	if (audio_out) {
		out.path = (char *)out_path;
	} else {
		cli_out_open(&out, out_path, 1);
	}

	for (int i = 0; i < (nin ? nin : 1); i++) {
		const char *path = nin ? argv[first + i] : "-";
		if (decode)
			decode_stream(&j, path, &out, audio_out ? out_path : NULL, &aw);
		else if (strcmp(path, "-") && cli_is_audio_path(path))
			encode_audio_file(&j, path, &out);
		else
			encode_stream(&j, path, &out);
	}

	if (audio_out) {
		if (audio_finish(open_audio_out(&j, &aw, out_path)) < 0)
			cli_die_lib(out_path);
	} else {
		cli_out_close(&out);
	}
	if (j.clamped)
		cli_warn(NULL, "%zu of %zu samples were outside [-1, 1] and clamped", j.clamped, j.samples);
	if (!cli_quiet)
		fprintf(stderr, "mulaw: %s %ld record%s, %zu samples (%s, %d levels)\n", decode ? "decoded" : "encoded",
			j.records, j.records == 1 ? "" : "s", j.samples, mulaw_mode_name(mode), levels);
	mulaw_free(&j.q);
	free(j.x);
	free(j.codes);
	return 0;
}
