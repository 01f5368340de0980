/* wavchunk: training data from recordings. Decodes each input, mixes it down to mono,
 * resamples it (lib/audio.c) and cuts fixed-length chunks (lib/chunker.c), dropping mostly
 * silent ones; or, with --parts N, cuts exactly N chunks spread evenly over all inputs.
 * Writes a tensor stream of <f4 records, or one float wav file per chunk into a directory. */
#include "audio.h"
#include "chunker.h"
#include "cli.h"
#include "cliopt.h"
#include "npy.h"
#include "resample.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage_head[] = "usage: wavchunk [-r RATE] [-l SECONDS] [-p OVERLAP] [--parts N] [--silence-db DB]\n"
				 "                [--quality QUALITY] [-q] [-o OUT] FILE...\n"
				 "Cuts audio files into chunks of mono audio for training.\n";

enum { BLOCK = 16384 };  /* samples asked of the reader at a time */
#define QUALITY_POLY 100 /* --quality poly: libsoxr (lib/resample.c) instead of libsamplerate */
#define POLY_BANDWIDTH 0.95
#define POLY_ATTEN_DB 120.0
#define WINDOW_SECONDS 0.05 /* silence test window */

typedef struct {
	/* settings */
	int rate, quality;
	size_t len, hop; /* chunk length and start spacing in samples */
	double silence_db;
	int64_t parts;   /* 0: regular chunks */
	const char *dir; /* NULL: tensor stream to out */
	cli_out out;
	/* buffers, allocated once */
	chunk_ring ring;
	float *block, *chunk;
	/* tallies for the summary */
	int files;
	int64_t samples_read;
	long written, silent;
	size_t clipped; /* samples of written chunks outside [-1, 1], clamped */
	cli_progress progress;
	double total_seconds;
} wavchunk;

/* "dir/song.take2.flac" -> "song.take2" */
static void stem_of(const char *path, char *stem, size_t cap)
{
	if (!strcmp(path, "-")) {
		snprintf(stem, cap, "stdin");
		return;
	}
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	snprintf(stem, cap, "%.*s", (int)SH_MIN(n, cap - 1), base);
}

static void emit(wavchunk *w, const char *path, int64_t k)
{
	chunk_ring_last(&w->ring, w->chunk);
	w->clipped += chunk_clamp(w->chunk, w->len);
	if (w->dir) {
		char stem[256], out[4096];
		stem_of(path, stem, sizeof stem);
		snprintf(out, sizeof out, "%s/%s_%lld.wav", w->dir, stem, (long long)k);
		if (audio_write_file(out, w->rate, AUDIO_WAV_FLOAT, w->chunk, w->len) < 0)
			cli_die_lib(out);
	} else if (npy_write_rate(w->out.f, SH_F32, 1, (int64_t[]){(int64_t)w->len}, w->chunk, w->rate) < 0) {
		cli_die_lib(cli_out_name(w->out.path));
	}
	w->written++;
}

/* An input at the output rate: the reader resamples with libsamplerate, or reads at the file's
 * own rate and lib/resample.c resamples (--quality poly). */
typedef struct {
	audio_reader *ar;
	resampler *rs;
} source;

static long pull_audio(void *ctx, float *buf, long n) { return audio_read(ctx, buf, n); }

static audio_reader *open_or_die(const wavchunk *w, const char *path, int rate)
{
	audio_reader *r = audio_open(path, rate, w->quality == QUALITY_POLY ? AUDIO_QUALITY_DEFAULT : w->quality);
	if (!r)
		cli_die_lib(cli_in_name(path));
	return r;
}

static source source_open(const wavchunk *w, const char *path)
{
	source s = {0};
	if (w->quality != QUALITY_POLY) {
		s.ar = open_or_die(w, path, w->rate);
		return s;
	}
	s.ar = open_or_die(w, path, 0);
	int in_rate = audio_file_rate(s.ar);
	if (in_rate != w->rate) {
		s.rs = resampler_new(in_rate, w->rate, POLY_BANDWIDTH, POLY_ATTEN_DB);
		if (!s.rs)
			cli_die_lib(cli_in_name(path));
	}
	return s;
}

static void source_close(source *s)
{
	resampler_free(s->rs);
	audio_close(s->ar);
}

/* Reads up to want samples, accounting for them; dies on a decode error. */
static long read_block(wavchunk *w, source *src, const char *path, long want)
{
	long n = src->rs ? resampler_read(src->rs, pull_audio, src->ar, w->block, want)
			 : audio_read(src->ar, w->block, want);
	if (n < 0)
		cli_die_lib(cli_in_name(path));
	chunk_ring_push(&w->ring, w->block, (size_t)n);
	w->samples_read += n;
	cli_progress_update(&w->progress, (double)w->samples_read / w->rate, NULL);
	return n;
}

/* Regular chunks of one file: one starting every hop samples, while whole chunks fit. */
static void chunk_file(wavchunk *w, const char *path)
{
	source r = source_open(w, path);
	size_t win = (size_t)lround(WINDOW_SECONDS * w->rate);
	chunk_ring_reset(&w->ring);
	int64_t next_end = (int64_t)w->len, k = 0;
	for (;;) {
		long want = (long)SH_MIN((int64_t)BLOCK, next_end - w->ring.pos);
		if (read_block(w, &r, path, want) == 0)
			break;
		if (w->ring.pos == next_end) {
			chunk_ring_last(&w->ring, w->chunk);
			if (chunk_is_silent(w->chunk, w->len, win, w->silence_db))
				w->silent++;
			else
				emit(w, path, k);
			k++;
			next_end += (int64_t)w->hop;
		}
	}
	source_close(&r);
	w->files++;
}

/* Samples of each file at the output rate, by decoding it (headers of compressed formats
 * such as mp3 can be off by thousands of frames) without resampling, then scaling. */
static int64_t measure(const wavchunk *w, const char *path)
{
	audio_reader *r = open_or_die(w, path, 0);
	int64_t frames = 0;
	long n;
	while ((n = audio_read(r, w->block, BLOCK)) > 0)
		frames += n;
	if (n < 0)
		cli_die_lib(path);
	/* lib/resample.c gives exactly ceil(frames·out/in); libsamplerate about frames·out/in */
	int in_rate = audio_file_rate(r);
	int64_t out = (int64_t)((double)frames * w->rate / in_rate);
	if (w->quality == QUALITY_POLY) {
		int64_t g = in_rate, b = w->rate;
		while (b) {
			int64_t t = g % b;
			g = b;
			b = t;
		}
		out = (frames * (w->rate / g) + in_rate / g - 1) / (in_rate / g);
	}
	audio_close(r);
	return out;
}

/* --parts: all inputs as one stream; part i covers [start(i), start(i)+len). */
static void chunk_parts(wavchunk *w, char **paths, int n)
{
	int64_t total = 0;
	for (int f = 0; f < n; f++)
		total += measure(w, paths[f]);
	if (total < (int64_t)w->len)
		cli_die(NULL, "the inputs hold %.2f s at %d Hz, less than one chunk of %.2f s; nothing written",
			(double)total / w->rate, w->rate, (double)w->len / w->rate);
	if (total > INT64_MAX / w->parts)
		cli_die(NULL, "too much audio for %lld parts", (long long)w->parts);

	int64_t *file_start = malloc((size_t)n * sizeof *file_start);
	if (!file_start)
		cli_die(NULL, "out of memory");
	chunk_ring_reset(&w->ring);
	int64_t i = 0, next_end = chunk_part_start(0, w->parts, total, (int64_t)w->len) + (int64_t)w->len;
	int f;
	for (f = 0; f < n && i < w->parts; f++) {
		file_start[f] = w->ring.pos;
		source r = source_open(w, paths[f]);
		for (;;) {
			long want = (long)SH_MIN((int64_t)BLOCK, next_end - w->ring.pos);
			if (read_block(w, &r, paths[f], want) == 0)
				break;
			while (i < w->parts && w->ring.pos == next_end) {
				int64_t start = chunk_part_start(i, w->parts, total, (int64_t)w->len);
				int g = f;
				while (g > 0 && file_start[g] > start)
					g--;
				emit(w, paths[g], i);
				if (++i < w->parts)
					next_end =
						chunk_part_start(i, w->parts, total, (int64_t)w->len) + (int64_t)w->len;
			}
			if (i == w->parts)
				break;
		}
		source_close(&r);
		w->files++;
	}
	/* The resampler may give a sample or two fewer than measured per file: parts planned to end
	 * past the real end end at it instead. More than that means an input changed under us. */
	int64_t short_by = next_end - w->ring.pos;
	if (i < w->parts && (short_by > 16 * (int64_t)n + 16 || w->ring.pos < (int64_t)w->len))
		cli_die(NULL, "inputs gave %lld samples, %lld fewer than measured (did a file change?)",
			(long long)w->ring.pos, (long long)(total - w->ring.pos));
	for (; i < w->parts; i++)
		emit(w, paths[f - 1], i);
	free(file_start);
}

/* --quality: libsamplerate's converter by name, or poly (libsoxr) */
static int parse_quality(const char *arg, void *dest)
{
	int q = strcmp(arg, "poly") ? audio_quality_from_name(arg) : QUALITY_POLY;
	if (q < 0)
		return sh_error("unknown quality '%s' (best, medium, fastest, zoh, linear, poly)", arg);
	*(int *)dest = q;
	return 0;
}

int main(int argc, char **argv)
{
	cli_init("wavchunk");
	wavchunk w = {.rate = 16000, .quality = AUDIO_QUALITY_DEFAULT, .silence_db = -60};
	double seconds = 8, overlap = 1;
	const char *out_path = NULL;
	cli_opt table[] = {
		{NULL, 'r', "RATE", CLI_INT, &w.rate, NPY_RATE_MIN, NPY_RATE_MAX, .def = "16000",
		 .help = "output sample rate"},
		{NULL, 'l', "SECONDS", CLI_DOUBLE, &seconds, 1e-3, 86400, .def = "8", .help = "chunk length"},
		{NULL, 'p', "OVERLAP", CLI_DOUBLE, &overlap, 0, 86400, .def = "1",
		 .help = "seconds shared by consecutive chunks: a chunk starts\n"
			 "every SECONDS-OVERLAP; a file's tail shorter than a chunk is dropped"},
		{"parts", 0, "N", CLI_LONG, &w.parts, 1, 10000000,
		 .help = "exactly N chunks, their starts spread evenly over all inputs taken\n"
			 "as one recording (first at the start, last ending at the end); no\n"
			 "silence test"},
		{"silence-db", 0, "DB", CLI_DOUBLE, &w.silence_db, -400, 0, .def = "-60",
		 .help = "drop a chunk when more than half of its 50 ms windows have an RMS\n"
			 "below DB dBFS"},
		{"quality", 0, "QUALITY", CLI_CALL, &w.quality, .parse = parse_quality, .def = "medium",
		 .help = "resampler: libsamplerate's best, medium, fastest, zoh,\n"
			 "linear; or poly: libsoxr (sox's resampler), linear phase, 95%\n"
			 "bandwidth and 120 dB rejection (sox -h's specification), 15x faster"},
		{NULL, 'o', "OUT", CLI_STRING, &out_path,
		 .help = "a tensor stream of <f4 records (RATE*SECONDS,) (default stdout),\n"
			 "or OUT/ (a directory): OUT/<input-stem>_<k>.wav per chunk, 32-bit\n"
			 "float, k = 0-based chunk position in its file (part number with --parts)"},
		{.kind = CLI_END},
	};
	cli_opts opts = {.head = usage_head, .opts = table};
	const int first = cli_opts_parse(&opts, argc, argv);
	const char *usage = cli_opts_usage(&opts);
	char **paths = argv + first;
	int nfiles = argc - first;
	if (nfiles == 0)
		cli_usage_error(usage, "no input files");
	w.len = (size_t)llround(seconds * w.rate);
	size_t overlap_samples = (size_t)llround(overlap * w.rate);
	if (w.len < 1)
		cli_usage_error(usage, "-l: a chunk must hold at least one sample");
	if (overlap_samples >= w.len)
		cli_usage_error(usage, "-p: the overlap must be shorter than the chunk (%g s)", seconds);
	w.hop = w.len - overlap_samples;

	/* every input must open before any output exists; and names in a directory must not clash */
	for (int f = 0; f < nfiles; f++) {
		if (w.parts && !strcmp(paths[f], "-"))
			cli_usage_error(usage, "--parts reads its inputs twice, so stdin cannot be one");
		if (strcmp(paths[f], "-")) {
			audio_reader *r = open_or_die(&w, paths[f], w.rate);
			int64_t fr = audio_file_frames(r);
			if (fr > 0)
				w.total_seconds += (double)fr / audio_file_rate(r);
			audio_close(r);
		}
	}
	if (out_path && strcmp(out_path, "-") && cli_is_dir_path(out_path)) {
		for (int f = 0; f < nfiles; f++)
			for (int g = 0; g < f; g++) {
				char a[256], b[256];
				stem_of(paths[f], a, sizeof a);
				stem_of(paths[g], b, sizeof b);
				if (!strcmp(a, b))
					cli_die(paths[f],
						"has the same name stem as %s: their chunks would overwrite "
						"each other in %s",
						paths[g], out_path);
			}
		cli_mkdirs(out_path);
		w.dir = out_path;
	} else if (out_path && cli_is_audio_path(out_path)) {
		cli_usage_error(usage, "-o %s: chunks go to a tensor stream or a directory (end it with /)", out_path);
	}

	if (chunk_ring_init(&w.ring, w.len) < 0)
		cli_die(NULL, "%s", sh_errmsg());
	w.block = sh_alloc(BLOCK * sizeof *w.block);
	w.chunk = sh_alloc(w.len * sizeof *w.chunk);
	if (!w.block || !w.chunk)
		cli_die(NULL, "%s", sh_errmsg());
	if (!w.dir)
		cli_out_open(&w.out, out_path, 1);
	cli_progress_start(&w.progress, "reading", w.total_seconds, "s");

	if (w.parts) {
		chunk_parts(&w, paths, nfiles);
	} else {
		for (int f = 0; f < nfiles; f++)
			chunk_file(&w, paths[f]);
		if (!w.written && !w.silent)
			cli_die(NULL,
				"no input is as long as one chunk (%g s): %.2f s read from %d file%s; nothing written",
				seconds, (double)w.samples_read / w.rate, w.files, w.files == 1 ? "" : "s");
		if (!w.written)
			cli_die(NULL,
				"all %ld chunks were silent (more than half of their 50 ms windows under %g dBFS); "
				"nothing written",
				w.silent, w.silence_db);
	}
	if (!w.dir)
		cli_out_close(&w.out);
	char clip[64] = "";
	if (w.clipped)
		snprintf(clip, sizeof clip, ", %zu samples clipped to [-1, 1]", w.clipped);
	cli_progress_end(&w.progress, "%d file%s, %.1f s read, %ld chunk%s written, %ld dropped as silent%s", w.files,
			 w.files == 1 ? "" : "s", (double)w.samples_read / w.rate, w.written, w.written == 1 ? "" : "s",
			 w.silent, clip);
	chunk_ring_free(&w.ring);
	free(w.block);
	free(w.chunk);
	return 0;
}
