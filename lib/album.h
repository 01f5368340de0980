/* album.h: what turns curated tracks into a finished album: titles generated from the seed,
 * the album's record (album.json), its player page (index.html) and SHA256SUMS. */
#ifndef SHARKS_ALBUM_H
#define SHARKS_ALBUM_H

#include <stdint.h>
#include <stdio.h>

/* n + 1 titles: [0] the album's, [1..n] the tracks', made from word lists by the seed. Each
 * is malloc'd into out[] (n + 1 entries). */
int album_make_titles(uint64_t seed, int n, char **out);

/* Writes s to f with HTML's special characters escaped. */
void album_html_escape(FILE *f, const char *s);

/* One line of curate's tracklist.tsv (track, order, clip, start, end, seconds). */
typedef struct {
	int track, order;
	char *clip;
	double start, end, seconds;
} album_clip_row;

/* Reads a tracklist.tsv; rows malloc'd into *rows. Track numbers are 1..ALBUM_MAX_TRACKS
 * (curate numbers its tracks with two digits, three past 99). */
#define ALBUM_MAX_TRACKS 999
int album_read_tracklist(const char *path, album_clip_row **rows, int *n);

/* The summary of a training log (qtrain's log.tsv, read by logtsv.h's trn_log_parse: a row
 * that is not one is an error naming its line). */
typedef struct {
	long steps;
	double epochs, first_valid_bits, best_valid_bits, last_train_bits, seconds;
	int rows;
} album_training;
int album_read_log(const char *path, album_training *t);

#endif
