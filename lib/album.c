/* album.c: album titles, tracklist and training-log readers, HTML escaping (album.h). */
#include "album.h"
#include "logtsv.h"
#include "rng.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *adjectives[] = {
	"Black",  "Drowned", "Hollow",    "Iron",     "Cold",   "Burning", "Silent",   "Broken",  "Ashen",    "Feral",
	"Sunken", "Endless", "Shattered", "Frozen",   "Molten", "Grey",    "Abyssal",  "Crimson", "Nameless", "Howling",
	"Buried", "Blind",   "Severed",   "Electric", "Salt",   "Ruined",  "Thousand", "Last",
};
static const char *nouns[] = {
	"Sharks",    "Tide",      "Throne", "Choir",    "Machine", "Static", "Teeth",     "Abyss",  "Signal",
	"Furnace",   "Cathedral", "Storm",  "Harbor",   "Engine",  "Swarm",  "Marrow",    "Wire",   "Ocean",
	"Frequency", "Wolves",    "Dirge",  "Monolith", "Circuit", "Reef",   "Leviathan", "Ghosts", "Fins",
	"Depths",    "Current",   "Wreck",  "Lantern",  "Hymn",    "Veins",  "Drone",
};

static const char *pick(sh_rng *r, const char **words, size_t n) { return words[sh_rng_below(r, n)]; }
#define PICK(r, w) pick(r, w, SH_ARRAY_LEN(w))

static char *make_title(sh_rng *r)
{
	char buf[128];
	const char *a = PICK(r, adjectives), *n1 = PICK(r, nouns), *n2 = PICK(r, nouns), *a2 = PICK(r, adjectives);
	switch (sh_rng_below(r, 8)) {
	case 0: snprintf(buf, sizeof buf, "%s %s", a, n1); break;
	case 1: snprintf(buf, sizeof buf, "The %s %s", a, n1); break;
	case 2: snprintf(buf, sizeof buf, "%s of the %s %s", n1, a, n2); break;
	case 3: snprintf(buf, sizeof buf, "%s Without %s", n1, n2); break;
	case 4: snprintf(buf, sizeof buf, "Into the %s %s", a, n1); break;
	case 5: snprintf(buf, sizeof buf, "%s %s Rising", a, n1); break;
	case 6: snprintf(buf, sizeof buf, "Hymn for the %s", a2); break;
	default: snprintf(buf, sizeof buf, "%s and %s", n1, n2); break;
	}
	return strdup(buf);
}

int album_make_titles(uint64_t seed, int n, char **out)
{
	sh_rng r;
	sh_rng_seed_stream(&r, seed, 0x7469746c65ULL); /* "title" */
	for (int i = 0; i <= n; i++) {
		/* no two titles alike: draw again on a repeat (bounded, then accept) */
		for (int tries = 0;; tries++) {
			out[i] = make_title(&r);
			if (!out[i])
				return sh_error("out of memory");
			int dup = 0;
			for (int k = 0; k < i && !dup; k++)
				dup = !strcmp(out[k], out[i]);
			if (!dup || tries == 20)
				break;
			free(out[i]);
		}
	}
	return 0;
}

void album_html_escape(FILE *f, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
}

/* One row: fields separated by single tabs; *clip points into line (its tab replaced by 0). */
static int parse_row(char *line, long *track, long *order, char **clip, album_clip_row *r)
{
	char *p = line, *e;
	*track = strtol(p, &e, 10);
	if (e == p || *e != '\t')
		return -1;
	p = e + 1;
	*order = strtol(p, &e, 10);
	if (e == p || *e != '\t')
		return -1;
	*clip = p = e + 1;
	if (!(e = strchr(p, '\t')) || e == p)
		return -1;
	*e = 0;
	double *v[3] = {&r->start, &r->end, &r->seconds};
	for (int i = 0; i < 3; i++) {
		p = e + 1;
		*v[i] = strtod(p, &e);
		if (e == p || (i < 2 ? *e != '\t' : *e && *e != '\n' && *e != '\r'))
			return -1;
	}
	return 0;
}

int album_read_tracklist(const char *path, album_clip_row **rows, int *n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return sh_error("%s", strerror(errno));
	char line[8192];
	int cap = 0, lineno = 0;
	*rows = NULL;
	*n = 0;
	while (fgets(line, sizeof line, f)) {
		if (lineno++ == 0)
			continue; /* header */
		album_clip_row r;
		char *clip = NULL;
		long track, order;
		if (parse_row(line, &track, &order, &clip, &r)) {
			fclose(f);
			return sh_error("line %d: expected track, order, clip, start, end, seconds", lineno);
		}
		/* strtol saturates on overflow; the bounds catch that too */
		if (track < 1 || track > ALBUM_MAX_TRACKS || order < 1 || order > 1000000) {
			fclose(f);
			return sh_error("line %d: track %ld, order %ld: a track number is 1..%d, an order 1..1000000",
					lineno, track, order, ALBUM_MAX_TRACKS);
		}
		if (!(isfinite(r.start) && isfinite(r.end) && isfinite(r.seconds))) {
			fclose(f);
			return sh_error("line %d: start, end and seconds must be finite", lineno);
		}
		r.track = (int)track;
		r.order = (int)order;
		if (*n == cap) {
			cap = cap ? 2 * cap : 32;
			album_clip_row *p = realloc(*rows, cap * sizeof *p);
			if (!p) {
				fclose(f);
				return sh_error("out of memory");
			}
			*rows = p;
		}
		r.clip = strdup(clip);
		(*rows)[(*n)++] = r;
	}
	fclose(f);
	return *n ? 0 : sh_error("no tracks listed");
}

int album_read_log(const char *path, album_training *t)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return sh_error("%s", strerror(errno));
	trn_log log = {0};
	int rc = trn_log_parse(&log, f, LONG_MAX);
	fclose(f);
	memset(t, 0, sizeof *t);
	t->first_valid_bits = t->best_valid_bits = NAN;
	for (int i = 0; rc == 0 && i < log.n; i++) {
		const trn_log_row *r = &log.rows[i];
		t->steps = r->step;
		t->epochs = r->epoch;
		t->last_train_bits = r->train_bits;
		t->seconds = r->seconds;
		if (isfinite(r->valid_bits)) {
			if (!isfinite(t->first_valid_bits))
				t->first_valid_bits = r->valid_bits;
			if (!(r->valid_bits >= t->best_valid_bits))
				t->best_valid_bits = r->valid_bits;
		}
		t->rows++;
	}
	trn_log_free(&log);
	if (rc < 0)
		return -1;
	return t->rows ? 0 : sh_error("no rows in the training log");
}
