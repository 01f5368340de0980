/* cover.c: album covers (see cover.h). Latent → style and CPPN; CPPN outputs → palette
 * colour with etched ridge lines and an accent colour; vignette, grain; then the type. */
#include "cover.h"
#include "audiofeat.h"
#include "cppn.h"
#include "rng.h"
#include "util.h"

#include <cairo-ft.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define N_OUT 4 /* CPPN channels: tone, ridge, shade, accent */
#define DEPTH 5
#define WEIGHT_SCALE 2.4f

/* Dark palettes: five stops from black to a pale highlight. */
typedef struct {
	const char *name;
	float stop[5][3];
} palette;

static const palette palettes[] = {
	{"blood",
	 {{0, 0, 0}, {0.09f, 0.005f, 0.01f}, {0.42f, 0.02f, 0.03f}, {0.78f, 0.16f, 0.08f}, {0.96f, 0.88f, 0.78f}}},
	{"frost",
	 {{0, 0, 0}, {0.015f, 0.035f, 0.08f}, {0.13f, 0.24f, 0.38f}, {0.52f, 0.68f, 0.80f}, {0.93f, 0.97f, 1.0f}}},
	{"bile",
	 {{0, 0, 0}, {0.045f, 0.05f, 0.01f}, {0.26f, 0.28f, 0.05f}, {0.62f, 0.60f, 0.18f}, {0.95f, 0.93f, 0.72f}}},
	{"ember",
	 {{0, 0, 0}, {0.10f, 0.025f, 0.0f}, {0.48f, 0.14f, 0.02f}, {0.93f, 0.48f, 0.10f}, {1.0f, 0.92f, 0.62f}}},
	{"void",
	 {{0, 0, 0}, {0.05f, 0.015f, 0.09f}, {0.28f, 0.07f, 0.38f}, {0.66f, 0.42f, 0.78f}, {0.96f, 0.90f, 1.0f}}},
	{"ash",
	 {{0, 0, 0}, {0.05f, 0.05f, 0.05f}, {0.28f, 0.27f, 0.25f}, {0.63f, 0.61f, 0.58f}, {0.95f, 0.94f, 0.90f}}},
	{"verdigris",
	 {{0, 0, 0}, {0.01f, 0.05f, 0.045f}, {0.07f, 0.28f, 0.24f}, {0.42f, 0.68f, 0.58f}, {0.90f, 0.98f, 0.92f}}},
	{"bruise",
	 {{0, 0, 0}, {0.06f, 0.01f, 0.04f}, {0.33f, 0.05f, 0.20f}, {0.75f, 0.30f, 0.42f}, {0.98f, 0.86f, 0.86f}}},
};
#define N_PALETTES ((int)SH_ARRAY_LEN(palettes))

static void palette_at(const palette *p, float t, float rgb[3])
{
	t = t > 0 ? (t < 1 ? t : 1) : 0; /* NaN to 0: it must never become an index */
	float u = t * 4;
	int i = (int)u;
	i = i > 3 ? 3 : i;
	float f = u - (float)i;
	f = f * f * (3 - 2 * f); /* smooth between stops: no visible bands */
	for (int c = 0; c < 3; c++)
		rgb[c] = p->stop[i][c] + f * (p->stop[i + 1][c] - p->stop[i][c]);
}

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

static float smoothstep(float a, float b, float x)
{
	float t = (x - a) / (b - a);
	t = t < 0 ? 0 : t > 1 ? 1 : t;
	return t * t * (3 - 2 * t);
}

/* The latent: a fixed random projection of the audio features (the same map for every
 * album, so similar-sounding albums get nearby latents) plus seed noise. */
static void make_latent(const cover_spec *s, float *z)
{
	sh_rng proj, noise;
	sh_rng_seed_stream(&proj, 0x73686172u, 0);              /* fixed: "shar" */
	sh_rng_seed_stream(&noise, s->seed, 0x6c6174656e74ULL); /* "latent" */
	for (int i = 0; i < COVER_LATENT; i++) {
		double a = 0;
		for (int j = 0; j < AUDIOFEAT_DIM; j++)
			a += sh_rng_normal(&proj) * (s->features ? s->features[j] : 0);
		a /= sqrt((double)AUDIOFEAT_DIM) * 0.5;
		z[i] = (float)(1.5 * tanh(a)) + 0.8f * (float)sh_rng_normal(&noise);
	}
}

static void make_style(const cover_spec *s, cover_style *st)
{
	memset(st, 0, sizeof *st);
	make_latent(s, st->latent);
	const float *z = st->latent;
	/* palette: argmax of fixed random directions in latent space */
	sh_rng dir;
	sh_rng_seed_stream(&dir, 0x70616c65u, 0); /* fixed: "pale" */
	float best = -1e30f;
	for (int k = 0; k < N_PALETTES; k++) {
		float d = 0;
		for (int i = 0; i < COVER_LATENT; i++)
			d += (float)sh_rng_normal(&dir) * z[i];
		if (d > best)
			best = d, st->palette = k;
	}
	st->palette_name = palettes[st->palette].name;
	st->zoom = 1.4f + 2.8f * sigm(z[0]);
	st->angle = 3.14159265f * tanhf(z[1]);
	st->mirror = z[2] > -0.2f;
	st->median_tone = 0.14f + 0.16f * sigm(z[3]); /* the gamma is fitted to reach it */
	st->grain = 0.025f + 0.05f * sigm(z[4]);
	st->lines = 0.35f + 0.6f * sigm(z[5]);
}

/* ---- type ---- */

/* Sets the font for text at px size: the first family in prefs that fontconfig really has
 * (not a substitute) and that has a glyph for every character; else the last one. */
static const char *choose_font(cairo_t *cr, const char *const *prefs, int n, cairo_font_weight_t weight,
			       const char *text, double px)
{
	for (int i = 0; i < n; i++) {
		cairo_select_font_face(cr, prefs[i], CAIRO_FONT_SLANT_NORMAL, weight);
		cairo_set_font_size(cr, px);
		if (i == n - 1)
			return prefs[i];
		cairo_scaled_font_t *sf = cairo_get_scaled_font(cr);
		if (cairo_scaled_font_get_type(sf) != CAIRO_FONT_TYPE_FT)
			continue;
		FT_Face face = cairo_ft_scaled_font_lock_face(sf);
		int real = face && face->family_name && !strcasecmp(face->family_name, prefs[i]);
		cairo_ft_scaled_font_unlock_face(sf);
		if (!real)
			continue;
		cairo_glyph_t *g = NULL;
		int ng = 0;
		if (cairo_scaled_font_text_to_glyphs(sf, 0, 0, text, -1, &g, &ng, NULL, NULL, NULL) !=
		    CAIRO_STATUS_SUCCESS)
			continue;
		int covered = 1;
		for (int k = 0; k < ng; k++)
			covered &= g[k].index != 0;
		cairo_glyph_free(g);
		if (covered)
			return prefs[i];
	}
	return prefs[n - 1];
}

/* Glyphs of len bytes of text at the current font, letter-spaced by spacing_em, origin (0, 0),
 * and their ink extents. NULL when the text is not valid UTF-8. */
static cairo_glyph_t *line_glyphs(cairo_t *cr, const char *text, int len, double spacing_em, int *n,
				  cairo_text_extents_t *te)
{
	cairo_glyph_t *g = NULL;
	if (cairo_scaled_font_text_to_glyphs(cairo_get_scaled_font(cr), 0, 0, text, len, &g, n, NULL, NULL, NULL) !=
	    CAIRO_STATUS_SUCCESS)
		return NULL;
	cairo_matrix_t m;
	cairo_get_font_matrix(cr, &m);
	for (int i = 0; i < *n; i++)
		g[i].x += spacing_em * m.xx * i;
	cairo_glyph_extents(cr, g, *n, te);
	return g;
}

static double line_width(cairo_t *cr, const char *text, int len, double spacing_em)
{
	int n;
	cairo_text_extents_t te;
	cairo_glyph_t *g = line_glyphs(cr, text, len, spacing_em, &n, &te);
	if (!g)
		return -1;
	cairo_glyph_free(g);
	return te.width;
}

/* Soft shadow (the glyphs stamped at offsets on a disc, faintly), a dark outline, then the
 * fill: legible on any background the network draws. */
static void draw_type(cairo_t *cr, cairo_glyph_t *g, int n, double size, cairo_pattern_t *fill)
{
	double rad = size * 0.05;
	cairo_set_source_rgba(cr, 0, 0, 0, 0.10);
	for (int ring = 1; ring <= 3; ring++)
		for (int k = 0; k < 8; k++) {
			double a = k * M_PI / 4 + ring * 0.4, r = rad * ring / 3.0;
			cairo_save(cr);
			cairo_translate(cr, r * cos(a) + rad * 0.4, r * sin(a) + rad * 0.6);
			cairo_show_glyphs(cr, g, n);
			cairo_restore(cr);
		}
	cairo_glyph_path(cr, g, n);
	cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
	cairo_set_line_width(cr, size * 0.07);
	cairo_set_source_rgba(cr, 0, 0, 0, 0.92);
	cairo_stroke_preserve(cr);
	cairo_set_source(cr, fill);
	cairo_fill(cr);
}

/* Sets text centred at px size: one line, or two split at the space that balances them best
 * when one line would have to shrink below 70 % to fit max_w; then shrunk to fit if still too
 * wide. from_top: the first line's ink top at y; else the last line's baseline at y. With
 * metal, each line is filled with a chrome gradient in the palette's colours, else bone.
 * Returns -1 when the text is not valid UTF-8. */
static int set_block(cairo_t *cr, const char *text, double spacing, double px, double cx, double y, int from_top,
		     double max_w, double outline, const palette *metal)
{
	int len = (int)strlen(text), split = -1;
	cairo_set_font_size(cr, px);
	double wmax = line_width(cr, text, len, spacing);
	if (wmax < 0)
		return -1;
	if (wmax > max_w / 0.7)
		for (int i = 1; i < len - 1; i++) {
			if (text[i] != ' ')
				continue;
			double a = line_width(cr, text, i, spacing),
			       b = line_width(cr, text + i + 1, len - i - 1, spacing);
			if (a >= 0 && b >= 0 && fmax(a, b) < wmax)
				wmax = fmax(a, b), split = i;
		}
	if (wmax > max_w) {
		px *= max_w / wmax;
		cairo_set_font_size(cr, px);
	}
	const char *start[2] = {text, text + split + 1};
	int lens[2] = {split < 0 ? len : split, len - split - 1}, nl = split < 0 ? 1 : 2;
	double lead = px * 1.08, base0 = y - (nl - 1) * lead;
	for (int k = 0; k < nl; k++) {
		int n;
		cairo_text_extents_t te;
		cairo_glyph_t *g = line_glyphs(cr, start[k], lens[k], spacing, &n, &te);
		if (!g)
			return -1;
		if (from_top && k == 0)
			base0 = y - te.y_bearing;
		double dx = cx - (te.x_bearing + te.width / 2), base = base0 + k * lead;
		for (int i = 0; i < n; i++)
			g[i].x += dx, g[i].y += base;
		cairo_pattern_t *fill;
		if (metal) {
			/* chrome: bone at the top, the palette's highlight through the middle with a
			 * hard horizon, duller below */
			double top = base + te.y_bearing, bot = top + te.height;
			const palette *p = metal;
			fill = cairo_pattern_create_linear(0, top, 0, bot);
			cairo_pattern_add_color_stop_rgb(fill, 0.0, 0.98, 0.96, 0.92);
			cairo_pattern_add_color_stop_rgb(fill, 0.48, p->stop[4][0] * 0.85, p->stop[4][1] * 0.85,
							 p->stop[4][2] * 0.85);
			cairo_pattern_add_color_stop_rgb(fill, 0.52, p->stop[3][0] * 0.7, p->stop[3][1] * 0.7,
							 p->stop[3][2] * 0.7);
			cairo_pattern_add_color_stop_rgb(fill, 1.0, 0.80, 0.78, 0.74);
		} else {
			fill = cairo_pattern_create_rgb(0.93, 0.91, 0.87);
		}
		draw_type(cr, g, n, px * outline, fill);
		cairo_pattern_destroy(fill);
		cairo_glyph_free(g);
	}
	return 0;
}

static int draw_text(cairo_surface_t *surf, const cover_spec *s, cover_style *st)
{
	int S = s->size;
	cairo_t *cr = cairo_create(surf);
	cairo_font_options_t *fo = cairo_font_options_create();
	/* no hinting: glyph shapes then do not depend on the hinting settings of the machine */
	cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
	cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
	cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
	cairo_set_font_options(cr, fo);
	cairo_font_options_destroy(fo);
	int rc = 0;

	if (s->artist && *s->artist) {
		/* a blackletter when installed and complete for the name; else DejaVu Serif Bold */
		static const char *const fonts[] = {"Blankenburg_UNZ1A", "DejaVu Serif"};
		st->artist_font = choose_font(cr, fonts, 2, CAIRO_FONT_WEIGHT_NORMAL, s->artist, S * 0.15);
		if (!strcmp(st->artist_font, "DejaVu Serif"))
			cairo_select_font_face(cr, "DejaVu Serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
		if (set_block(cr, s->artist, 0.02, S * 0.15, S / 2.0, S * 0.055, 1, S * 0.88, 1.0,
			      &palettes[st->palette])) {
			rc = sh_error("the artist name is not valid UTF-8");
			goto done;
		}
	}
	if (s->title && *s->title) {
		size_t len = strlen(s->title);
		char *up = malloc(len + 1);
		if (!up) {
			rc = sh_error("out of memory");
			goto done;
		}
		for (size_t i = 0; i <= len; i++) /* ASCII capitals; other letters as given */
			up[i] = (s->title[i] >= 'a' && s->title[i] <= 'z') ? (char)(s->title[i] - 32) : s->title[i];
		cairo_select_font_face(cr, "DejaVu Serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
		int bad = set_block(cr, up, 0.28, S * 0.045, S / 2.0, S * 0.935, 0, S * 0.86, 0.6, NULL);
		free(up);
		if (bad) {
			rc = sh_error("the title is not valid UTF-8");
			goto done;
		}
	}
done:
	if (!rc && cairo_status(cr) != CAIRO_STATUS_SUCCESS)
		rc = sh_error("cairo: %s", cairo_status_to_string(cairo_status(cr)));
	cairo_destroy(cr);
	return rc;
}

/* ---- the picture ---- */

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* The tone channel shaded by the shade channel: what the palette will show. */
static inline float tone_of(const float *o) { return (0.5f + 0.5f * o[0]) * (0.6f + 0.4f * o[2]); }

/* Percentiles of the shaded tone and the ridge channel's scale, from a fixed subsample. */
static int levels(const float *out, size_t n, float *lo, float *hi, float *mid, float *ridge_k)
{
	size_t step = n > 65536 ? n / 65536 : 1, m = n / step;
	float *tone = malloc(m * sizeof(float)), *ridge = malloc(m * sizeof(float));
	if (!tone || !ridge) {
		free(tone);
		free(ridge);
		return sh_error("out of memory");
	}
	for (size_t i = 0; i < m; i++) {
		tone[i] = tone_of(out + i * step * N_OUT);
		ridge[i] = fabsf(out[i * step * N_OUT + 1]);
	}
	qsort(tone, m, sizeof(float), cmp_float);
	qsort(ridge, m, sizeof(float), cmp_float);
	*lo = tone[(size_t)(m * 0.01)];
	*hi = tone[(size_t)(m * 0.997)];
	if (*hi - *lo < 1e-3f)
		*hi = *lo + 1e-3f;
	*mid = (tone[m / 2] - *lo) / (*hi - *lo);
	float med = ridge[m / 2];
	*ridge_k = 1.0f / (med > 1e-3f ? med : 1e-3f);
	free(tone);
	free(ridge);
	return 0;
}

cairo_surface_t *cover_draw(const cover_spec *s, cover_style *style_out)
{
	const int S = s->size;
	if (S < 16 || S > 16384) {
		sh_error("cover size %d not in [16, 16384]", S);
		return NULL;
	}
	for (int j = 0; s->features && j < AUDIOFEAT_DIM; j++)
		if (!isfinite(s->features[j])) {
			sh_error("audio feature %d is not finite (%g)", j, (double)s->features[j]);
			return NULL;
		}
	cover_style st;
	make_style(s, &st);
	cppn net;
	if (cppn_init(&net, s->seed, DEPTH, COVER_LATENT, st.latent, N_OUT, WEIGHT_SCALE))
		return NULL;
	cppn_view view = {st.zoom, st.angle, 0, 0, st.mirror};
	size_t n;
	if (!sh_mul_size((size_t)S * S, N_OUT * sizeof(float), &n)) {
		cppn_free(&net);
		return NULL;
	}
	float *out = malloc(n);
	cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, S, S);
	if (!out || cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
		sh_error("out of memory for a %dx%d cover", S, S);
		free(out);
		cppn_free(&net);
		cairo_surface_destroy(surf);
		return NULL;
	}
	cppn_render(&net, &view, S, S, out);
	cppn_free(&net);

	const palette *pal = &palettes[st.palette];
	const palette *acc_pal = &palettes[(st.palette + 3) % N_PALETTES];
	const float *accent = acc_pal->stop[3];
	const int top_dark = s->artist && *s->artist, bottom_dark = s->title && *s->title;
	cairo_surface_flush(surf);
	unsigned char *data = cairo_image_surface_get_data(surf);
	int stride = cairo_image_surface_get_stride(surf);
	/* auto-levels: the tone channel's 1st and 99.7th percentiles span the palette, so no
	 * network leaves the cover flat or clipped; the ridge channel is scaled by its spread so
	 * the etched lines keep one width */
	float lo = 0, hi = 1, mid = 0.5f, ridge_k = 1;
	if (levels(out, (size_t)S * S, &lo, &hi, &mid, &ridge_k)) {
		free(out);
		cairo_surface_destroy(surf);
		return NULL;
	}
	/* the gamma that takes the median tone to the style's target: every cover is dark, none
	 * is black */
	mid = mid < 0.02f ? 0.02f : mid > 0.98f ? 0.98f : mid;
	float gamma = logf(st.median_tone) / logf(mid);
	gamma = gamma < 0.5f ? 0.5f : gamma > 4.0f ? 4.0f : gamma;
#pragma omp parallel for schedule(static)
	for (int py = 0; py < S; py++) {
		uint32_t *row = (uint32_t *)(data + (size_t)py * stride);
		float v = ((float)py + 0.5f) / S;
		float band = 1.0f;
		if (top_dark)
			band *= 1.0f - 0.45f * smoothstep(0.30f, 0.0f, v);
		if (bottom_dark)
			band *= 1.0f - 0.5f * smoothstep(0.82f, 1.0f, v);
		for (int px = 0; px < S; px++) {
			const float *o = out + ((size_t)py * S + px) * N_OUT;
			float u = ((float)px + 0.5f) / S;
			/* shaded tone, levelled and put through the fitted gamma, into the palette */
			float shade = 0.6f + 0.4f * o[2];
			float t = (tone_of(o) - lo) / (hi - lo);
			t = powf(t < 0 ? 0 : t > 1 ? 1 : t, gamma);
			float rgb[3];
			palette_at(pal, t, rgb);
			/* etched ridges where the ridge channel crosses zero: a soft glow round a thin core */
			float ridge =
				(0.55f * cppn_bump(o[1] * ridge_k * 1.3f) + 0.45f * cppn_bump(o[1] * ridge_k * 6.0f)) *
				st.lines;
			/* accent colour where the accent channel is high, in the darker tones only */
			float a = smoothstep(0.6f, 0.97f, o[3]) * (1.0f - t) * 0.7f;
			float dx = u - 0.5f, dy = v - 0.5f, rr = sqrtf(dx * dx + dy * dy) * 2.0f;
			float vignette = 1.0f - 0.75f * smoothstep(0.55f, 1.45f, rr);
			float noise = (cppn_hash01(s->seed, (uint32_t)px, (uint32_t)py) - 0.5f) * 2.0f * st.grain;
			uint32_t pix = 0;
			for (int c = 0; c < 3; c++) {
				float x = rgb[c] * (1 - a) + accent[c] * (0.45f + 0.55f * shade) * a;
				x = x + ridge * (pal->stop[4][c] * 0.9f - x) * 0.85f;
				x = x * vignette * band + noise;
				x = x > 0 ? (x < 1 ? x : 1) : 0;
				/* palette stops are in sRGB already: no further transfer curve */
				pix = pix << 8 | (uint32_t)(x * 255.0f + 0.5f);
			}
			row[px] = pix;
		}
	}
	free(out);
	cairo_surface_mark_dirty(surf);
	if (draw_text(surf, s, &st)) {
		cairo_surface_destroy(surf);
		return NULL;
	}
	if (style_out)
		*style_out = st;
	return surf;
}

static cairo_status_t write_file(void *closure, const unsigned char *data, unsigned int len)
{
	return fwrite(data, 1, len, closure) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

int cover_write_png(cairo_surface_t *s, FILE *f)
{
	cairo_status_t st = cairo_surface_write_to_png_stream(s, write_file, f);
	if (st != CAIRO_STATUS_SUCCESS)
		return sh_error("cannot write PNG: %s", cairo_status_to_string(st));
	return 0;
}
