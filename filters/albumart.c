/* albumart: draws an album cover (a CPPN driven by the album's audio statistics and a seed,
 * with the artist and title set in type), or with --spectrogram the spectrogram of one
 * recording, as PNG. See docs/albumart.md. */
#include "audiofeat.h"
#include "cli.h"
#include "cover.h"
#include "spectrogram.h"
#include "util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: albumart [--seed S] [--size PX] [--artist NAME] [--title TITLE] [--audio FILE...] -o COVER.png\n"
	"       albumart --spectrogram AUDIO [--size WxH] [--scale mel|log] [--range DB] -o OUT.png\n"
	"  --seed S         seed of the network and the style (default 1)\n"
	"  --size PX        cover side in pixels, 16..8192 (default 1024)\n"
	"  --artist NAME    artist name, set at the top\n"
	"  --title TITLE    album title, set at the bottom\n"
	"  --audio FILE...  the album's recordings: their statistics steer the picture\n"
	"  --spectrogram F  draw the spectrogram of audio file F instead of a cover\n"
	"  --size WxH       spectrogram size (default 1200x300)\n"
	"  --scale S        spectrogram frequency axis: mel (default) or log\n"
	"  --range DB       spectrogram dynamic range shown, dB (default 80)\n"
	"  -o FILE          output PNG ('-' = stdout)\n"
	"  -q, --quiet      no summary line\n"
	"  -h, --help       this text; --version: the version and the libraries used\n";

static int parse_wxh(const char *arg, int *w, int *h)
{
	char *end;
	long a = strtol(arg, &end, 10);
	if (end == arg || (*end != 'x' && *end != 'X'))
		return -1;
	const char *q = end + 1;
	long b = strtol(q, &end, 10);
	if (end == q || *end || a < 16 || a > 16384 || b < 16 || b > 16384)
		return -1;
	*w = (int)a, *h = (int)b;
	return 0;
}

static void write_png(cairo_surface_t *surf, const char *out_path)
{
	cli_out o;
	cli_out_open(&o, out_path, 1);
	if (cover_write_png(surf, o.f))
		cli_die_lib(cli_out_name(out_path));
	cli_out_close(&o);
}

int main(int argc, char **argv)
{
	cli_init("albumart");
	unsigned long long seed = CLI_DEFAULT_SEED;
	int size = 1024, sw = 1200, sh = 300;
	const char *artist = NULL, *title = NULL, *out_path = NULL, *spec_path = NULL, *size_arg = NULL;
	spectrogram_scale scale = SPECTROGRAM_MEL;
	double range = 80;
	const char **audio = calloc((size_t)argc, sizeof *audio);
	int n_audio = 0;
	if (!audio)
		cli_die(NULL, "out of memory");

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
#define NEED_ARG()                                                                                                     \
	do {                                                                                                           \
		if (i + 1 >= argc)                                                                                     \
			cli_usage_error(usage, "%s needs an argument", a);                                             \
	} while (0)
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			cli_version();
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			cli_quiet = 1;
		} else if (!strcmp(a, "--seed")) {
			NEED_ARG();
			char *end;
			const char *v = argv[++i];
			seed = strtoull(v, &end, 10);
			if (end == v || *end || *v == '-')
				cli_usage_error(usage, "--seed: expected a non-negative integer, got '%s'", v);
		} else if (!strcmp(a, "--size")) {
			NEED_ARG();
			size_arg = argv[++i];
		} else if (!strcmp(a, "--artist")) {
			NEED_ARG();
			artist = argv[++i];
		} else if (!strcmp(a, "--title")) {
			NEED_ARG();
			title = argv[++i];
		} else if (!strcmp(a, "--audio")) {
			NEED_ARG();
			while (i + 1 < argc && (argv[i + 1][0] != '-' || !argv[i + 1][1]))
				audio[n_audio++] = argv[++i];
			if (n_audio == 0)
				cli_usage_error(usage, "--audio needs at least one file");
		} else if (!strcmp(a, "--spectrogram")) {
			NEED_ARG();
			spec_path = argv[++i];
		} else if (!strcmp(a, "--scale")) {
			NEED_ARG();
			const char *v = argv[++i];
			if (!strcmp(v, "mel"))
				scale = SPECTROGRAM_MEL;
			else if (!strcmp(v, "log"))
				scale = SPECTROGRAM_LOG;
			else
				cli_usage_error(usage, "--scale: expected mel or log, got '%s'", v);
		} else if (!strcmp(a, "--range")) {
			NEED_ARG();
			range = cli_double(usage, a, argv[++i], 10, 200);
		} else if (!strcmp(a, "-o")) {
			NEED_ARG();
			out_path = argv[++i];
		} else {
			cli_usage_error(usage, "%s: unknown option", a);
		}
	}
	if (!out_path)
		cli_usage_error(usage, "no output: give -o FILE (or -o - for stdout)");
	double t0 = sh_now();

	if (spec_path) {
		if (n_audio || artist || title)
			cli_usage_error(usage, "--spectrogram draws one recording: no --audio, --artist or --title");
		if (size_arg && parse_wxh(size_arg, &sw, &sh))
			cli_usage_error(usage, "--size: expected WxH with sides in [16, 16384], got '%s'", size_arg);
		cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, sw, sh);
		if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS)
			cli_die(NULL, "out of memory for a %dx%d image", sw, sh);
		spectrogram_opts so;
		spectrogram_defaults(&so, sw, sh);
		so.scale = scale;
		so.db_range = (float)range;
		cairo_surface_flush(surf);
		if (spectrogram_draw_file(spec_path, &so, (uint32_t *)cairo_image_surface_get_data(surf),
					  cairo_image_surface_get_stride(surf) / 4))
			cli_die_lib(spec_path);
		cairo_surface_mark_dirty(surf);
		write_png(surf, out_path);
		cairo_surface_destroy(surf);
		if (!cli_quiet)
			fprintf(stderr, "albumart: %s: spectrogram of %s, %dx%d, %.2f s\n", cli_out_name(out_path),
				spec_path, sw, sh, sh_now() - t0);
		free(audio);
		return 0;
	}

	if (size_arg)
		size = (int)cli_long(usage, "--size", size_arg, 16, 8192);
	float features[AUDIOFEAT_DIM];
	audiofeat stats = {0};
	if (n_audio) {
		audiofeat_acc *acc = audiofeat_new();
		if (!acc)
			cli_die_lib(NULL);
		for (int i = 0; i < n_audio; i++)
			if (audiofeat_add_file(acc, audio[i]))
				cli_die_lib(audio[i]);
		audiofeat_get(acc, &stats);
		audiofeat_free(acc);
		audiofeat_vector(&stats, features);
	}
	cover_spec spec = {seed, size, artist, title, n_audio ? features : NULL};
	cover_style style;
	cairo_surface_t *surf = cover_draw(&spec, &style);
	if (!surf)
		cli_die_lib(cli_out_name(out_path));
	write_png(surf, out_path);
	cairo_surface_destroy(surf);
	cairo_debug_reset_static_data(); /* drop cairo's font caches, so leak checkers see none */
	if (cli_quiet)
		;
	else if (n_audio)
		fprintf(stderr,
			"albumart: %s: %dx%d, palette %s, %d audio file%s (%.1f min, centroid %.0f Hz), %.2f s\n",
			cli_out_name(out_path), size, size, style.palette_name, n_audio, n_audio == 1 ? "" : "s",
			stats.seconds / 60, stats.centroid_mean, sh_now() - t0);
	else
		fprintf(stderr, "albumart: %s: %dx%d, palette %s, no audio, %.2f s\n", cli_out_name(out_path), size,
			size, style.palette_name, sh_now() - t0);
	free(audio);
	return 0;
}
