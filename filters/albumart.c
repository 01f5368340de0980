/* albumart: draws an album cover (a CPPN driven by the album's audio statistics and a seed,
 * with the artist and title set in type), or with --spectrogram the spectrogram of one
 * recording, as PNG. See docs/albumart.md. */
#include "audiofeat.h"
#include "cli.h"
#include "cliopt.h"
#include "cover.h"
#include "spectrogram.h"
#include "util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_head[] =
	"usage: albumart [--seed S] [--size PX] [--artist NAME] [--title TITLE] [--audio FILE...] -o COVER.png\n"
	"       albumart --spectrogram AUDIO [--size WxH] [--scale mel|log] [--range DB] -o OUT.png\n";

/* --audio FILE...: the files, this one and the operands after it */
typedef struct {
	const char **files;
	int n;
} file_list;

static int add_audio(const char *arg, void *dest)
{
	file_list *l = dest;
	if (arg[0] == '-' && arg[1]) /* "--audio -o x": an option, not a file */
		return sh_error("needs at least one file");
	l->files[l->n++] = arg;
	return 0;
}

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
	long seed = CLI_DEFAULT_SEED;
	int size = 1024, sw = 1200, sh = 300;
	const char *artist = NULL, *title = NULL, *out_path = NULL, *spec_path = NULL, *size_arg = NULL;
	spectrogram_scale scale = SPECTROGRAM_MEL;
	double range = 80;
	file_list audio = {calloc((size_t)argc, sizeof *audio.files), 0};
	if (!audio.files)
		cli_die(NULL, "out of memory");
	static const cli_choice scales[] = {{"mel", SPECTROGRAM_MEL}, {"log", SPECTROGRAM_LOG}, {NULL, 0}};
	int scale_choice = SPECTROGRAM_MEL;
	cli_opt table[] = {
		{"seed", 0, "S", CLI_LONG, &seed, 0, LONG_MAX, .def = "1", .help = "seed of the network and the style"},
		{"size", 0, "PX|WxH", CLI_STRING, &size_arg,
		 .help = "cover side in pixels, 16..8192 (default 1024); spectrogram: WxH\n(default 1200x300)"},
		{"artist", 0, "NAME", CLI_STRING, &artist, .help = "artist name, set at the top"},
		{"title", 0, "TITLE", CLI_STRING, &title, .help = "album title, set at the bottom"},
		{"audio", 0, "FILE...", CLI_CALL, &audio, .parse = add_audio,
		 .help = "the album's recordings: their statistics steer the picture"},
		{"spectrogram", 0, "F", CLI_STRING, &spec_path,
		 .help = "draw the spectrogram of audio file F instead of a cover"},
		{"scale", 0, "S", CLI_CHOICE, &scale_choice, .choices = scales, .def = "mel",
		 .help = "spectrogram frequency axis: mel or log"},
		{"range", 0, "DB", CLI_DOUBLE, &range, 10, 200, .def = "80",
		 .help = "spectrogram dynamic range shown, dB"},
		{NULL, 'o', "FILE", CLI_STRING, &out_path, .help = "output PNG ('-' = stdout)"},
		{.kind = CLI_END},
	};
	cli_opts opts = {.head = usage_head, .quiet = "no summary line", .opts = table};
	const char *usage = cli_opts_usage(&opts);
	for (int i = cli_opts_parse(&opts, argc, argv); i < argc; i++) {
		if (!audio.n)
			cli_usage_error(usage, "%s: unknown option", argv[i]);
		audio.files[audio.n++] = argv[i]; /* --audio A B C */
	}
	scale = (spectrogram_scale)scale_choice;
	const char **audio_files = audio.files;
	int n_audio = audio.n;
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
		free(audio.files);
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
			if (audiofeat_add_file(acc, audio_files[i]))
				cli_die_lib(audio_files[i]);
		audiofeat_get(acc, &stats);
		audiofeat_free(acc);
		audiofeat_vector(&stats, features);
	}
	cover_spec spec = {(unsigned long long)seed, size, artist, title, n_audio ? features : NULL};
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
	free(audio.files);
	return 0;
}
