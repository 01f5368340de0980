/* albumpage: the last stage of the album pipeline.
 *
 *   albumpage titles [--seed S] [-n N] [--titles FILE]
 *       prints the album title and N track titles, one a line (generated from the seed, or
 *       the first N+1 lines of FILE);
 *   albumpage build --artist NAME --titles FILE --tracks DIR --run DIR --cover PNG
 *                   [--commands FILE] [--settings FILE] -o ALBUMDIR
 *       turns curate's tracks into the album: "NN - Title.flac" and ".ogg", a spectrogram
 *       of each track, the cover and the training curve, album.json, index.html and
 *       SHA256SUMS. The album is assembled in a hidden staging folder beside ALBUMDIR and
 *       renamed into place only when complete. Nothing in it depends on the clock or the
 *       machine's paths, so the same inputs give the same bytes (make reproduce checks it). */
#include "album.h"
#include "audio.h"
#include "cli.h"
#include "cliopt.h"
#include "cover.h"
#include "json.h"
#include "safetensors.h"
#include "sha256.h"
#include "spectrogram.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_head[] =
	"usage: albumpage titles [--seed S] [-n N] [--titles FILE]\n"
	"       albumpage build --artist NAME --titles FILE --tracks DIR --run DIR --cover PNG\n"
	"                       [--commands FILE] [--settings FILE] -o ALBUMDIR\n"
	"titles prints the album title and N track titles, one a line: generated from --seed, or\n"
	"the first N+1 lines of --titles FILE. build assembles ALBUMDIR from curate's output\n"
	"(--tracks: 01.flac ..., tracklist.tsv), qtrain's run directory (--run: best.safetensors,\n"
	"log.tsv, loss.png), the cover, the titles (first line the album's), the commands that made\n"
	"it (--commands) and the make settings to reproduce it (--settings, lines VAR=value).\n";

/* The options of both subcommands, each of its group. */
enum { TITLES = 1, BUILD = 2 };
static long seed = CLI_DEFAULT_SEED, n_titles = 8;
static const char *titles_file, *artist, *tracks_dir, *run_dir, *cover, *commands_file, *settings_file, *out;
static cli_opt table[] = {
	{NULL, 0, NULL, CLI_HEADING, .help = "titles:", .group = TITLES},
	{"seed", 0, "S", CLI_LONG, &seed, 0, LONG_MAX, .def = "1", .help = "seed of the generated titles",
	 .group = TITLES},
	{NULL, 'n', "N", CLI_LONG, &n_titles, 1, 999, .def = "8", .help = "track titles", .group = TITLES},
	{"titles", 0, "FILE", CLI_STRING, &titles_file, .help = "the album's title, then one per track, one a line"},
	{NULL, 0, NULL, CLI_HEADING, .help = "build:", .group = BUILD},
	{"artist", 0, "NAME", CLI_STRING, &artist, .help = "the artist", .group = BUILD},
	{"tracks", 0, "DIR", CLI_STRING, &tracks_dir, .help = "curate's output directory", .group = BUILD},
	{"run", 0, "DIR", CLI_STRING, &run_dir, .help = "qtrain's run directory", .group = BUILD},
	{"cover", 0, "PNG", CLI_STRING, &cover, .help = "the cover (albumart)", .group = BUILD},
	{"commands", 0, "FILE", CLI_STRING, &commands_file, .help = "the commands that made the album", .group = BUILD},
	{"settings", 0, "FILE", CLI_STRING, &settings_file, .help = "the make settings, lines VAR=value",
	 .group = BUILD},
	{NULL, 'o', "ALBUMDIR", CLI_STRING, &out, .help = "the album directory", .group = BUILD},
	{.kind = CLI_END},
};
static cli_opts opts = {.head = usage_head, .quiet = "no summary line", .opts = table};
static const char *usage; /* --help of the subcommand (of both before one is named) */

/* The options of one subcommand; returns the index of its first operand in argv. */
static int parse_options(unsigned group, int argc, char **argv)
{
	opts.groups = group;
	usage = cli_opts_usage(&opts);
	return cli_opts_parse(&opts, argc, argv);
}

enum { SPEC_W = 1200, SPEC_H = 240 };

/* Reads a whole text file, or dies naming it. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		cli_die(path, "%s", strerror(errno));
	size_t cap = 4096, n = 0;
	char *s = malloc(cap);
	size_t got;
	while (s && (got = fread(s + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (n + 1 == cap)
			s = realloc(s, cap *= 2);
	}
	if (!s)
		cli_die(path, "out of memory");
	s[n] = 0;
	fclose(f);
	return s;
}

/* Splits text into at most max lines (trailing '\r' removed, empty lines skipped). */
static int split_lines(char *text, char **lines, int max)
{
	int n = 0;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(l);
		if (len && l[len - 1] == '\r')
			l[len - 1] = 0;
		if (*l)
			lines[n++] = l;
	}
	return n;
}

static int cmd_titles(int argc, char **argv)
{
	if (parse_options(TITLES, argc, argv) != argc)
		cli_usage_error(usage, "titles takes no file arguments");
	long n = n_titles;
	const char *file = titles_file;
	char **t = calloc(n + 1, sizeof *t);
	if (file) {
		char *text = slurp(file);
		int got = split_lines(text, t, (int)n + 1);
		if (got < n + 1)
			cli_die(file, "%d titles, %ld needed (the album's on the first line, then one per track)", got,
				n + 1);
	} else if (album_make_titles(seed, (int)n, t) < 0) {
		cli_die(NULL, "%s", sh_errmsg());
	}
	for (int i = 0; i <= n; i++)
		printf("%s\n", t[i]);
	/* the lines sit in stdout's buffer until here: a full disk shows only at the flush */
	if (fflush(stdout) || ferror(stdout))
		cli_die("stdout", "write error: %s", strerror(errno));
	return 0;
}

/* A title made safe as a file name. */
static void file_stem(char *dst, size_t cap, int number, const char *title)
{
	int k = snprintf(dst, cap, "%02d - ", number);
	for (const char *s = title; *s && k + 1 < (int)cap; s++)
		dst[k++] = (*s == '/' || *s == '\\' || (unsigned char)*s < 0x20) ? '-' : *s;
	dst[k] = 0;
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb");
	if (!in)
		cli_die(from, "%s", strerror(errno));
	FILE *out = fopen(to, "wb");
	if (!out)
		cli_die(to, "%s", strerror(errno));
	char buf[1 << 16];
	size_t got;
	while ((got = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, got, out) != got)
			cli_die(to, "write error: %s", strerror(errno));
	if (ferror(in))
		cli_die(from, "read error: %s", strerror(errno));
	fclose(in);
	if (fclose(out))
		cli_die(to, "write error: %s", strerror(errno));
}

/* -o may replace only an earlier album: a directory holding album.json (albumpage's mark,
 * as curation.json is curate's), or an empty one. Anything else is the user's. */
static const char album_mark[] = "album.json", album_what[] = "an earlier album";

/* Text that goes into album.json and the page must be UTF-8 (JSON is): refused, not mended,
 * since a mended title would not be the one asked for. */
static void check_utf8(const char *what, const char *s, int line)
{
	long bad = sh_utf8_invalid(s);
	if (bad < 0)
		return;
	if (line)
		cli_die(what, "line %d is not valid UTF-8 (byte %ld)", line, bad + 1);
	cli_die(what, "not valid UTF-8 (byte %ld)", bad + 1);
}

static void draw_spectrogram(const float *x, size_t n, int rate, const char *path)
{
	spectrogram_opts o;
	spectrogram_defaults(&o, SPEC_W, SPEC_H);
	cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, SPEC_W, SPEC_H);
	cairo_surface_flush(s);
	uint32_t *px = (uint32_t *)cairo_image_surface_get_data(s);
	if (spectrogram_draw(x, n, rate, &o, px, cairo_image_surface_get_stride(s) / 4) < 0)
		cli_die(path, "%s", sh_errmsg());
	cairo_surface_mark_dirty(s);
	FILE *f = fopen(path, "wb");
	if (!f || cover_write_png(s, f) < 0 || fclose(f))
		cli_die(path, "cannot write the spectrogram: %s", f ? sh_errmsg() : strerror(errno));
	cairo_surface_destroy(s);
}

typedef struct {
	char stem[512];
	const char *title;
	double seconds;
} track;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void write_sums(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		cli_die(dir, "%s", strerror(errno));
	char *names[512];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 512)
		if (e->d_name[0] != '.' && strcmp(e->d_name, "SHA256SUMS"))
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof *names, cmp_str);
	char p[4096], hex[65];
	cli_pathf(p, sizeof p, "%s/SHA256SUMS", dir);
	FILE *f = fopen(p, "w");
	if (!f)
		cli_die(p, "%s", strerror(errno));
	for (int i = 0; i < n; i++) {
		char q[4096];
		cli_pathf(q, sizeof q, "%s/%s", dir, names[i]);
		if (sha256_file(q, hex) < 0)
			cli_die(q, "%s", sh_errmsg());
		fprintf(f, "%s  %s\n", hex, names[i]);
		free(names[i]);
	}
	if (fclose(f))
		cli_die(p, "write error: %s", strerror(errno));
}

/* "A 2-tier SampleRNN (3 LSTM layers of 512, frames of 16) ..." or "A WaveNet (one-hot input,
 * dilations ...) ..." from a checkpoint's metadata. */
static void describe_model(const st_file *ck, int rate, char *buf, size_t cap)
{
	const char *model = st_meta(ck, "model");
#define META(k) (st_meta(ck, k) ? st_meta(ck, k) : "?")
	if (model && !strcmp(model, "wavenet")) {
		/* the input layer (checkpoints from before there was a choice have no key: one-hot) */
		const char *in = st_meta(ck, "input");
		char input[64];
		if (in && !strcmp(in, "embed"))
			snprintf(input, sizeof input, "an embedding of %s values as input", META("embed"));
		else if (in && !strcmp(in, "scalar"))
			snprintf(input, sizeof input, "scalar input over %s samples", META("initial_width"));
		else
			snprintf(input, sizeof input, "one-hot input");
		snprintf(buf, cap,
			 "A WaveNet (%s, dilations %s, %s residual, %s dilation and %s skip channels, "
			 "receptive field %s samples), trained from scratch on the artist's recordings at %d Hz.",
			 input, META("dilations"), META("residual_channels"), META("dilation_channels"),
			 META("skip_channels"), META("receptive_field"), rate);
		return;
	}
	const char *fs = META("frame_sizes"), *rnn = META("rnn");
	int tiers = 2;
	for (const char *c = fs; *c; c++)
		tiers += *c == ',';
	snprintf(buf, cap,
		 "A %d-tier SampleRNN (%s %s layers of %s per frame tier, frames of %s samples, "
		 "embedding %s, %s levels), trained from scratch on the artist's recordings at %d Hz.",
		 tiers, META("layers"), !strcmp(rnn, "gru") ? "GRU" : "LSTM", META("dim"), fs, META("embed"),
		 META("levels"), rate);
#undef META
}

static void fmt_time(char *buf, size_t cap, double s)
{
	long t = lround(s);
	snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

/* A file name as a relative URL (RFC 3986: every byte but the unreserved ones as %XX), so
 * that '#', '?', '%' or a space in a title stays part of the name; the result needs no HTML
 * escaping either. */
static void url_escape(FILE *f, const char *name)
{
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~", *p))
			fputc(*p, f);
		else
			fprintf(f, "%%%02X", *p);
}

/* The clips qtrain wrote while training (RUNDIR/samples/stepNNNNNNN_K.wav, --sample-every),
 * of the last MAX_CLIP_STEPS steps that have some: copied in as training-stepNNNNNNN_K.wav,
 * so that the page links them per step. Returns their names, sorted (step, then clip). */
#define MAX_CLIP_STEPS 32
static int wav_of_step(const struct dirent *e)
{
	long step;
	int k, end = 0;
	return sscanf(e->d_name, "step%7ld_%d.wav%n", &step, &k, &end) == 2 && !e->d_name[end];
}

static int copy_training_clips(const char *run_dir, const char *stage, char ***names)
{
	char p[4096], q[4096];
	cli_pathf(p, sizeof p, "%s/samples", run_dir);
	struct dirent **list = NULL;
	int n = scandir(p, &list, wav_of_step, alphasort), first = 0, steps = 0;
	if (n <= 0) {
		free(list);
		*names = NULL;
		return 0;
	}
	for (int i = n - 1; i >= 0; first = i--)
		if ((i == n - 1 || strncmp(list[i]->d_name, list[i + 1]->d_name, 11)) && ++steps > MAX_CLIP_STEPS)
			break;
	*names = calloc(n - first, sizeof **names);
	for (int i = first; i < n; i++) {
		cli_pathf(p, sizeof p, "%s/samples/%s", run_dir, list[i]->d_name);
		cli_pathf(q, sizeof q, "%s/training-%s", stage, list[i]->d_name);
		copy_file(p, q);
		(*names)[i - first] = strdup(q + strlen(stage) + 1);
	}
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return n - first;
}

/* curate's record of the clips it rejected and why (TRACKS/curation.json): read, checked and
 * kept whole for the page's folded list; NULL when there is none (an album curated before
 * curate wrote it). A file that is there but not what curate writes is refused. */
static const char *str_of(const json_value *o, const char *key)
{
	const json_value *v = json_get(o, key);
	return v && v->type == JSON_STR ? v->str : NULL;
}

static json_value *read_curation(const char *path, int *nrejected)
{
	struct stat st;
	*nrejected = 0;
	if (stat(path, &st) && errno == ENOENT)
		return NULL;
	char *text = slurp(path);
	json_value *root = json_parse(text, strlen(text));
	free(text);
	if (!root)
		cli_die(path, "not valid JSON: %s", sh_errmsg());
	const json_value *clips = root->type == JSON_OBJ ? json_get(root, "clips") : NULL;
	if (!clips || clips->type != JSON_ARR)
		cli_die(path, "no \"clips\" list (not curate's curation.json)");
	for (size_t i = 0; i < clips->n; i++) {
		const json_value *c = &clips->items[i], *reasons = json_get(c, "reasons"),
				 *tests = json_get(c, "tests");
		const char *status = c->type == JSON_OBJ ? str_of(c, "status") : NULL;
		if (!status || !str_of(c, "clip") || (strcmp(status, "kept") && strcmp(status, "rejected")))
			cli_die(path, "clip %zu: needs \"clip\" and a \"status\" kept or rejected", i + 1);
		check_utf8(path, str_of(c, "clip"), 0);
		if (strcmp(status, "rejected"))
			continue;
		++*nrejected;
		if (!reasons || reasons->type != JSON_ARR || !reasons->n || !tests || tests->type != JSON_ARR)
			cli_die(path, "clip %zu: rejected without \"reasons\" and \"tests\" lists", i + 1);
		for (size_t r = 0; r < reasons->n; r++)
			if (reasons->items[r].type != JSON_STR)
				cli_die(path, "clip %zu: a reason is not a string", i + 1);
		for (size_t k = 0; k < tests->n; k++) {
			const json_value *t = &tests->items[k], *value = json_get(t, "value"),
					 *thr = json_get(t, "threshold"), *holds = json_get(t, "holds");
			const char *when = t->type == JSON_OBJ ? str_of(t, "rejects_when") : NULL;
			/* a score that is not a number is written as null (NaN) */
			if (!when || (strcmp(when, "above") && strcmp(when, "below")) || !str_of(t, "rule") ||
			    !str_of(t, "score") || !str_of(t, "option") || !value ||
			    (value->type != JSON_NUM && value->type != JSON_NULL) || !thr || thr->type != JSON_NUM ||
			    !holds || holds->type != JSON_BOOL)
				cli_die(path,
					"clip %zu, test %zu: needs rule, score, value, rejects_when (above or below), "
					"option, threshold and holds",
					i + 1, k + 1);
		}
	}
	return root;
}

/* The rejected clips, folded: "gen_003.wav — noise: noise_fraction 0.83 > 0.55 (--noise-fraction)",
 * each reason with the tests that made it (those that hold). */
static void write_rejections(FILE *f, const json_value *curation, int nrejected)
{
	if (!curation || !nrejected)
		return;
	const json_value *clips = json_get(curation, "clips");
	fprintf(f, "<details class=\"rejected\">\n<summary>Rejected clips (%d)</summary>\n<ul>\n", nrejected);
	for (size_t i = 0; i < clips->n; i++) {
		const json_value *c = &clips->items[i], *reasons = json_get(c, "reasons"),
				 *tests = json_get(c, "tests");
		if (strcmp(str_of(c, "status"), "rejected"))
			continue;
		const char *name = str_of(c, "clip"), *base = strrchr(name, '/');
		fputs("<li>", f);
		album_html_escape(f, base ? base + 1 : name);
		fputs(" —", f);
		for (size_t r = 0; r < reasons->n; r++) {
			const char *reason = reasons->items[r].str;
			fputs(r ? "; " : " ", f);
			album_html_escape(f, reason);
			int shown = 0;
			for (size_t k = 0; k < tests->n; k++) {
				const json_value *t = &tests->items[k], *value = json_get(t, "value");
				if (strcmp(str_of(t, "rule"), reason) || !json_get(t, "holds")->boolean)
					continue;
				char fig[64];
				if (value->type == JSON_NUM)
					snprintf(fig, sizeof fig, "%.4g", value->num);
				else
					snprintf(fig, sizeof fig, "nan");
				fputs(shown++ ? ", " : ": ", f);
				album_html_escape(f, str_of(t, "score"));
				fprintf(f, " %s %s %.4g (--", fig,
					strcmp(str_of(t, "rejects_when"), "above") ? "&lt;" : "&gt;",
					json_get(t, "threshold")->num);
				album_html_escape(f, str_of(t, "option"));
				fputs(")", f);
			}
		}
		fputs("</li>\n", f);
	}
	fputs("</ul>\n</details>\n", f);
}

static void write_page(const char *path, const char *artist, char **titles, const track *tr, int ntracks,
		       const album_training *tl, const char *model_desc, const char *commands, char **clips, int nclips,
		       const json_value *curation, int nrejected)
{
	FILE *f = fopen(path, "w");
	if (!f)
		cli_die(path, "%s", strerror(errno));
	fputs("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
	      f);
	album_html_escape(f, titles[0]);
	fputs(" — ", f);
	album_html_escape(f, artist);
	fputs("</title>\n<style>\n"
	      "body{background:#0b0b0d;color:#ddd;font:16px/1.5 'DejaVu Sans',sans-serif;margin:0}\n"
	      "main{max-width:1000px;margin:0 auto;padding:2em 1em}\n"
	      "header{display:flex;gap:2em;align-items:flex-end;flex-wrap:wrap}\n"
	      "header img{width:360px;max-width:100%;box-shadow:0 0 40px #000}\n"
	      "h1{font-size:2.4em;margin:0;color:#fff;letter-spacing:.03em}\n"
	      "h2{color:#aaa;font-weight:normal;margin:.2em 0 0}\n"
	      "ol{list-style:none;padding:0}\n"
	      ".track{margin:2em 0;padding:1em;background:#141418;border-left:3px solid #702}\n"
	      ".track h3{margin:0 0 .5em;color:#fff}.track h3 span{color:#888;font-weight:normal}\n"
	      "audio{width:100%}.spec{width:100%;display:block;margin-top:.5em}\n"
	      "pre{background:#141418;padding:1em;overflow:auto;font-size:13px}\n"
	      "a{color:#c66}\ndetails{margin:1em "
	      "0}summary{cursor:pointer;color:#aaa}\n</style>\n</head>\n<body>\n<main>\n<header>\n<img "
	      "src=\"cover.png\" alt=\"cover\">\n<div>\n<h1>",
	      f);
	album_html_escape(f, titles[0]);
	fputs("</h1>\n<h2>", f);
	album_html_escape(f, artist);
	fputs("</h2>\n</div>\n</header>\n<ol>\n", f);
	for (int k = 0; k < ntracks; k++) {
		char dur[32];
		fmt_time(dur, sizeof dur, tr[k].seconds);
		fprintf(f, "<li class=\"track\" id=\"t%02d\">\n<h3>%d. ", k + 1, k + 1);
		album_html_escape(f, tr[k].title);
		fprintf(f, " <span>%s</span></h3>\n<audio controls preload=\"metadata\" data-seconds=\"%.3f\" src=\"",
			dur, tr[k].seconds);
		url_escape(f, tr[k].stem);
		fputs(".ogg\"></audio>\n<img class=\"spec\" alt=\"spectrogram\" src=\"", f);
		url_escape(f, tr[k].stem);
		fputs(".png\">\n<p><a href=\"", f);
		url_escape(f, tr[k].stem);
		fputs(".flac\">FLAC</a> · <a href=\"", f);
		url_escape(f, tr[k].stem);
		fputs(".ogg\">Ogg Vorbis</a></p>\n</li>\n", f);
	}
	fputs("</ol>\n<section>\n<h2>How this was made</h2>\n<p>", f);
	album_html_escape(f, model_desc);
	fprintf(f,
		" Trained for %ld steps (%.2f epochs); validation NLL %.3f bits per sample at the first check, "
		"best %.3f (untrained: 8 bits).</p>\n<img src=\"loss.png\" alt=\"training curve\" "
		"style=\"max-width:100%%\">\n",
		tl->steps, tl->epochs, tl->first_valid_bits, tl->best_valid_bits);
	/* clips at checkpoints while it trained, a line per step */
	if (nclips)
		fputs("<p>Clips written while it trained, by step:</p>\n<ul class=\"steps\">\n", f);
	for (int i = 0; i < nclips; i++) {
		long step = atol(clips[i] + strlen("training-step"));
		int k = atoi(strrchr(clips[i], '_') + 1);
		if (!i || strncmp(clips[i], clips[i - 1], strlen("training-step0000000")))
			fprintf(f, "%s<li>step %ld:", i ? "</li>\n" : "", step);
		fprintf(f, " <a href=\"%s\">clip %d</a>", clips[i], k + 1);
	}
	if (nclips)
		fputs("</li>\n</ul>\n", f);
	write_rejections(f, curation, nrejected);
	fputs("<p>The exact commands, in order:</p>\n<pre>", f);
	album_html_escape(f, commands);
	fputs("</pre>\n<p>Made with 1000 sharks. Every file of this album is listed in SHA256SUMS; "
	      "<code>make reproduce</code> rebuilds it and compares.</p>\n</section>\n</main>\n</body>\n</html>\n",
	      f);
	if (fclose(f))
		cli_die(path, "write error: %s", strerror(errno));
}

static int cmd_build(int argc, char **argv)
{
	int first = parse_options(BUILD, argc, argv);
	if (!artist || !titles_file || !tracks_dir || !run_dir || !cover || !out)
		cli_usage_error(usage, "build needs --artist, --titles, --tracks, --run, --cover and -o");
	if (first != argc)
		cli_usage_error(usage, "build takes no file arguments");
	cli_check_replaceable(out, album_mark, album_what);
	check_utf8("--artist", artist, 0);
	cairo_surface_t *cover_png = cairo_image_surface_create_from_png(cover);
	if (cairo_surface_status(cover_png) != CAIRO_STATUS_SUCCESS)
		cli_die(cover, "not a PNG image: %s", cairo_status_to_string(cairo_surface_status(cover_png)));
	cairo_surface_destroy(cover_png);

	char p[4096], q[4096];
	album_clip_row *rows;
	int nrows;
	cli_pathf(p, sizeof p, "%s/tracklist.tsv", tracks_dir);
	if (album_read_tracklist(p, &rows, &nrows) < 0)
		cli_die(p, "%s", sh_errmsg());
	int nrejected;
	cli_pathf(p, sizeof p, "%s/curation.json", tracks_dir);
	json_value *curation = read_curation(p, &nrejected);
	int ntracks = 0;
	for (int i = 0; i < nrows; i++)
		ntracks = SH_MAX(ntracks, rows[i].track);
	char **titles = calloc(ntracks + 1, sizeof *titles);
	char *title_text = slurp(titles_file);
	if (split_lines(title_text, titles, ntracks + 1) < ntracks + 1)
		cli_die(titles_file, "fewer than %d titles (the album's, then one per track)", ntracks + 1);
	for (int i = 0; i <= ntracks; i++)
		check_utf8(titles_file, titles[i], i + 1);
	album_training tl;
	cli_pathf(p, sizeof p, "%s/log.tsv", run_dir);
	if (album_read_log(p, &tl) < 0)
		cli_die(p, "%s", sh_errmsg());
	st_file ck;
	cli_pathf(p, sizeof p, "%s/best.safetensors", run_dir);
	if (st_load(p, &ck) < 0)
		cli_die(p, "%s", sh_errmsg());

	/* staging folder beside the album, hidden, so a failed build is never taken for an album */
	char stage[4096];
	const char *slash = strrchr(out, '/');
	size_t dirlen = slash ? (size_t)(slash - out + 1) : 0;
	cli_pathf(stage, sizeof stage, "%.*s.%s.partial", (int)dirlen, out, slash ? slash + 1 : out);
	cli_stage_dir(stage);

	track *tr = calloc(ntracks, sizeof *tr);
	int rate = 0;
	for (int k = 0; k < ntracks; k++) {
		tr[k].title = titles[k + 1];
		file_stem(tr[k].stem, sizeof tr[k].stem, k + 1, tr[k].title);
		cli_pathf(p, sizeof p, "%s/%02d.flac", tracks_dir, k + 1);
		audio_reader *r = audio_open(p, 0, AUDIO_QUALITY_DEFAULT);
		if (!r)
			cli_die(p, "%s", sh_errmsg());
		rate = audio_file_rate(r);
		audio_close(r);
		float *x;
		size_t n;
		if (audio_read_all(p, 0, AUDIO_QUALITY_DEFAULT, &x, &n) < 0)
			cli_die(p, "%s", sh_errmsg());
		tr[k].seconds = (double)n / rate;
		static const char *ext[] = {"flac", "ogg"};
		for (int e = 0; e < 2; e++) {
			cli_pathf(q, sizeof q, "%s/%s.%s", stage, tr[k].stem, ext[e]);
			if (audio_write_file(q, rate, AUDIO_AUTO, x, n) < 0)
				cli_die(q, "%s", sh_errmsg());
		}
		cli_pathf(q, sizeof q, "%s/%s.png", stage, tr[k].stem);
		draw_spectrogram(x, n, rate, q);
		free(x);
	}
	cli_pathf(q, sizeof q, "%s/cover.png", stage);
	copy_file(cover, q);
	cli_pathf(p, sizeof p, "%s/loss.png", run_dir);
	cli_pathf(q, sizeof q, "%s/loss.png", stage);
	copy_file(p, q);

	/* the model, in words, from the checkpoint's record */
	char model_desc[512];
	describe_model(&ck, rate, model_desc, sizeof model_desc);
	char *commands = commands_file ? slurp(commands_file) : strdup("");
	if (commands_file)
		check_utf8(commands_file, commands, 0);

	json_writer w;
	jw_init(&w, 1);
	jw_obj(&w, NULL);
	jw_str(&w, "artist", artist);
	jw_str(&w, "title", titles[0]);
	jw_str(&w, "cover", "cover.png");
	jw_arr(&w, "tracks");
	for (int k = 0; k < ntracks; k++) {
		char name[600];
		jw_obj(&w, NULL);
		jw_int(&w, "number", k + 1);
		jw_str(&w, "title", tr[k].title);
		jw_num(&w, "seconds", round(tr[k].seconds * 1000) / 1000);
		snprintf(name, sizeof name, "%s.flac", tr[k].stem);
		jw_str(&w, "flac", name);
		snprintf(name, sizeof name, "%s.ogg", tr[k].stem);
		jw_str(&w, "ogg", name);
		snprintf(name, sizeof name, "%s.png", tr[k].stem);
		jw_str(&w, "spectrogram", name);
		jw_arr(&w, "clips");
		for (int i = 0; i < nrows; i++)
			if (rows[i].track == k + 1) {
				const char *base = strrchr(rows[i].clip, '/');
				jw_obj(&w, NULL);
				jw_str(&w, "clip", base ? base + 1 : rows[i].clip);
				jw_num(&w, "start", rows[i].start);
				jw_num(&w, "end", rows[i].end);
				jw_end(&w);
			}
		jw_end(&w);
		jw_end(&w);
	}
	jw_end(&w);
	jw_obj(&w, "model");
	for (int i = 0; i < ck.nmeta; i++)
		if (strstr(ck.meta_key[i], "rng") == NULL)
			jw_str(&w, ck.meta_key[i], ck.meta_val[i]);
	jw_end(&w);
	jw_obj(&w, "training");
	jw_int(&w, "steps", tl.steps);
	jw_num(&w, "epochs", tl.epochs);
	jw_num(&w, "first_valid_bits", tl.first_valid_bits);
	jw_num(&w, "best_valid_bits", tl.best_valid_bits);
	jw_num(&w, "last_train_bits", tl.last_train_bits);
	jw_end(&w);
	if (settings_file) {
		cli_pathf(q, sizeof q, "%s/settings.txt", stage);
		copy_file(settings_file, q);
		char *text = slurp(settings_file), *lines[64];
		int n = split_lines(text, lines, 64);
		jw_obj(&w, "settings");
		for (int i = 0; i < n; i++) {
			char *eq = strchr(lines[i], '=');
			if (!eq)
				cli_die(settings_file, "line %d is not VAR=value", i + 1);
			*eq = 0;
			check_utf8(settings_file, lines[i], i + 1);
			check_utf8(settings_file, eq + 1, i + 1);
			jw_str(&w, lines[i], eq + 1);
		}
		jw_end(&w);
		free(text);
	}
	jw_str(&w, "commands", commands);
	jw_end(&w);
	const char *json = jw_text(&w);
	cli_pathf(q, sizeof q, "%s/album.json", stage);
	FILE *f = fopen(q, "w");
	if (!json || !f || fputs(json, f) < 0 || fputc('\n', f) < 0 || fclose(f))
		cli_die(q, "cannot write: %s", json ? strerror(errno) : sh_errmsg());
	jw_free(&w);

	cli_pathf(q, sizeof q, "%s/index.html", stage);
	char **clips;
	int nclips = copy_training_clips(run_dir, stage, &clips);
	write_page(q, artist, titles, tr, ntracks, &tl, model_desc, commands, clips, nclips, curation, nrejected);
	json_free(curation);
	for (int i = 0; i < nclips; i++)
		free(clips[i]);
	free(clips);
	write_sums(stage);

	/* replace the old album only now that the new one is whole */
	cli_commit_dir(stage, out, album_mark, album_what);
	if (!cli_quiet)
		fprintf(stderr, "albumpage: %s: \"%s\" by %s, %d track%s\n", out, titles[0], artist, ntracks,
			ntracks == 1 ? "" : "s");
	st_free(&ck);
	free(commands);
	free(tr);
	free(titles);
	free(title_text);
	for (int i = 0; i < nrows; i++)
		free(rows[i].clip);
	free(rows);
	return 0;
}

int main(int argc, char **argv)
{
	cli_init("albumpage");
	if (argc > 1 && !strcmp(argv[1], "titles"))
		return cmd_titles(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "build"))
		return cmd_build(argc - 1, argv + 1);
	usage = cli_opts_usage(&opts);
	if (argc < 2)
		cli_usage_error(usage, "a subcommand is needed: titles or build");
	if (argv[1][0] == '-') /* --help, --version */
		parse_options(0, 2, argv);
	cli_usage_error(usage, "unknown subcommand '%s'", argv[1]);
}
