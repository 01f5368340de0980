/* cover.h: an album cover from a seed and the album's audio statistics. The audio feature
 * vector (audiofeat.h) and the seed make a latent vector; the latent chooses the style
 * (palette, zoom, rotation, symmetry, contrast, grain) and feeds a CPPN (cppn.h) whose
 * outputs are mapped through the palette, then vignetted and grained; the artist name and the
 * album title are set on top with cairo. Same inputs, same bytes (on one machine: text
 * rendering depends on the installed fonts and cairo/freetype versions). */
#ifndef SHARKS_COVER_H
#define SHARKS_COVER_H

#include <cairo.h>
#include <stdint.h>
#include <stdio.h>

#define COVER_LATENT 8

typedef struct {
	uint64_t seed;
	int size;              /* pixels, square */
	const char *artist;    /* UTF-8, NULL or "" for none */
	const char *title;     /* UTF-8, NULL or "" for none */
	const float *features; /* AUDIOFEAT_DIM numbers from audiofeat_vector, NULL for none */
} cover_spec;

/* What the latent decided, for the summary line and the docs. */
typedef struct {
	float latent[COVER_LATENT];
	int palette; /* index into the palette table */
	const char *palette_name;
	float zoom, angle, median_tone, grain, lines;
	int mirror;
	const char *artist_font; /* the font family the artist name was set in */
} cover_style;

/* Draws the cover into a new cairo RGB24 image surface (size × size). Returns NULL with an
 * error on failure. style may be NULL. */
cairo_surface_t *cover_draw(const cover_spec *spec, cover_style *style);

/* Writes a cairo image surface to f as PNG. Returns 0, or -1 with an error. */
int cover_write_png(cairo_surface_t *s, FILE *f);

#endif
