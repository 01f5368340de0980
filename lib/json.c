/* json.c: the streaming JSON writer of json.h. */
#include "json.h"
#include "util.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void json_init(json_writer *w, FILE *f, int indent)
{
	*w = (json_writer){.f = f, .indent = indent};
}

static void newline(json_writer *w)
{
	if (!w->indent)
		return;
	fputc('\n', w->f);
	for (int i = 0; i < w->depth * w->indent; i++)
		fputc(' ', w->f);
}

/* Separator and indentation before a value (or a key, in an object). */
static void before_value(json_writer *w, int is_key)
{
	if (w->depth == 0) {
		if (w->count[0]++ || is_key)
			w->error = 1;  /* a second top-level value, or a key outside an object */
		return;
	}
	int d = w->depth - 1;
	if (w->kind[d] == '{') {
		if (is_key == w->after_key) {  /* key where a value is due, or the reverse */
			w->error = 1;
			return;
		}
		if (!is_key) {
			w->after_key = 0;
			return;
		}
	}
	if (w->count[d]++)
		fputc(',', w->f);
	newline(w);
	if (is_key)
		w->after_key = 1;
}

static void open_level(json_writer *w, char c)
{
	before_value(w, 0);
	if (w->depth >= JSON_MAX_DEPTH) {
		w->error = 1;
		return;
	}
	fputc(c, w->f);
	w->kind[w->depth] = c;
	w->count[w->depth] = 0;
	w->depth++;
}

static void close_level(json_writer *w, char open_c, char c)
{
	if (w->depth == 0 || w->kind[w->depth - 1] != open_c || w->after_key) {
		w->error = 1;
		return;
	}
	int had = w->count[w->depth - 1];
	w->depth--;
	if (had)
		newline(w);
	fputc(c, w->f);
}

void json_begin_object(json_writer *w) { open_level(w, '{'); }
void json_end_object(json_writer *w) { close_level(w, '{', '}'); }
void json_begin_array(json_writer *w) { open_level(w, '['); }
void json_end_array(json_writer *w) { close_level(w, '[', ']'); }

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

void json_key(json_writer *w, const char *key)
{
	if (w->depth == 0 || w->kind[w->depth - 1] != '{') {
		w->error = 1;
		return;
	}
	before_value(w, 1);
	put_string(w->f, key);
	fputs(w->indent ? ": " : ":", w->f);
}

void json_string(json_writer *w, const char *s)
{
	before_value(w, 0);
	put_string(w->f, s);
}

void json_double(json_writer *w, double v)
{
	before_value(w, 0);
	if (!isfinite(v)) {
		fputs("null", w->f);
		return;
	}
	char buf[40];
	snprintf(buf, sizeof buf, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, sizeof buf, "%.17g", v);
	fputs(buf, w->f);
}

void json_fixed(json_writer *w, double v, int decimals)
{
	before_value(w, 0);
	if (!isfinite(v)) {
		fputs("null", w->f);
		return;
	}
	char buf[64];
	snprintf(buf, sizeof buf, "%.*f", decimals, v);
	/* no "-0.000" for values that round to zero */
	const char *p = buf;
	if (*p == '-' && strspn(p + 1, "0.") == strlen(p + 1))
		p++;
	fputs(p, w->f);
}

void json_int(json_writer *w, int64_t v)
{
	before_value(w, 0);
	fprintf(w->f, "%" PRId64, v);
}

void json_bool(json_writer *w, int v)
{
	before_value(w, 0);
	fputs(v ? "true" : "false", w->f);
}

void json_null(json_writer *w)
{
	before_value(w, 0);
	fputs("null", w->f);
}

int json_finish(json_writer *w)
{
	if (w->error || w->depth != 0 || w->count[0] != 1)
		return sh_error("json: unbalanced or misused writer");
	fputc('\n', w->f);
	if (ferror(w->f))
		return sh_error("json: write error");
	return 0;
}
