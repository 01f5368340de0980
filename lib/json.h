/* json.h: a small streaming JSON writer: objects, arrays, keys, strings (escaped as RFC 8259
 * asks: quote, backslash, control characters; bytes >= 0x80 pass through as UTF-8), numbers
 * and literals, pretty-printed with an indent. Numbers print the shortest of %.15g / %.17g
 * that reads back to the same double, so output is exact and deterministic; NaN and infinities
 * (which JSON lacks) print as null.
 *
 *     json_writer w;
 *     json_init(&w, f, 2);
 *     json_begin_object(&w);
 *     json_key(&w, "rate"); json_int(&w, 16000);
 *     json_key(&w, "gains"); json_begin_array(&w); json_double(&w, 0.5); json_end_array(&w);
 *     json_end_object(&w);
 *     if (json_finish(&w)) ... error: unbalanced, misuse or a write error
 */
#ifndef SHARKS_JSON_H
#define SHARKS_JSON_H

#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

typedef struct {
	FILE *f;
	int indent;                  /* spaces per level; 0 writes everything on one line */
	int depth;
	char kind[JSON_MAX_DEPTH];   /* '{' or '[' per open level */
	int count[JSON_MAX_DEPTH];   /* values (or keys) written at each level */
	int after_key;               /* a key was written and awaits its value */
	int error;                   /* misuse seen (value without key, too deep, ...) */
} json_writer;

void json_init(json_writer *w, FILE *f, int indent);
void json_begin_object(json_writer *w);
void json_end_object(json_writer *w);
void json_begin_array(json_writer *w);
void json_end_array(json_writer *w);
void json_key(json_writer *w, const char *key);
void json_string(json_writer *w, const char *s);
void json_double(json_writer *w, double v);
/* A double with a fixed number of decimals (%.Nf), for figures meant to be read. */
void json_fixed(json_writer *w, double v, int decimals);
void json_int(json_writer *w, int64_t v);
void json_bool(json_writer *w, int v);
void json_null(json_writer *w);
/* Ends the document with a newline. Returns 0, or -1 with an error when the nesting was
 * unbalanced, the writer misused, or the stream has an error. */
int json_finish(json_writer *w);

#endif
