/* json.h: a small JSON parser (into a tree) and writer (into a growable buffer), for the
 * safetensors header, run records (run.json, album.json, curation.json) and metadata. */
#ifndef SHARKS_JSON_H
#define SHARKS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ } json_type;

typedef struct json_value {
	json_type type;
	int boolean;
	double num;
	char *str;                /* JSON_STR: NUL-terminated (embedded NULs are refused) */
	size_t n;                 /* JSON_ARR/JSON_OBJ: number of children */
	struct json_value *items; /* children */
	char **keys;              /* JSON_OBJ: key of each child */
} json_value;

/* Parses exactly one value spanning text[0..len) (whitespace around allowed); NULL with an
 * error naming the byte offset on failure. Depth is limited to 64; a key repeated in an object
 * is an error. */
json_value *json_parse(const char *text, size_t len);
void json_free(json_value *v);
/* Child of an object by key, or NULL. */
const json_value *json_get(const json_value *obj, const char *key);

/* Writer: appends to w->out (util.h's growing buffer). Commas and whitespace are automatic, in
 * one of three layouts:
 *   JW_COMPACT    no whitespace: {"a":[1,2]}
 *   JW_PRETTY     every member on a line of its own, indented two spaces a level
 *   JW_PRETTY_TOP the top value's members on lines of their own, what they hold on the same
 *                 line: "model": {"type": "wavenet", "dilations": [1, 2]} (run.json, which
 *                 scripts read a line at a time) */
enum { JW_COMPACT, JW_PRETTY, JW_PRETTY_TOP };
typedef struct {
	sh_buf out;
	int depth, line_depth, failed;
	unsigned char first[64]; /* whether the container at each depth is still empty */
	char kind[64];           /* '{' or '[' at each depth */
} json_writer;

void jw_init(json_writer *w, int layout);
void jw_free(json_writer *w);
/* Keys: pass the key for members of an object, NULL for array elements and the top value. */
void jw_obj(json_writer *w, const char *key);
void jw_arr(json_writer *w, const char *key);
void jw_end(json_writer *w); /* closes the innermost object or array */
void jw_str(json_writer *w, const char *key, const char *s);
void jw_num(json_writer *w, const char *key, double x); /* the shortest exact form; NaN/inf as null */
/* x in a printf format for one double ("%.6f", "%.17g"); NaN/inf written as null */
void jw_numf(json_writer *w, const char *key, const char *fmt, double x);
void jw_int(json_writer *w, const char *key, long long x);
void jw_uint(json_writer *w, const char *key, uint64_t x);
void jw_bool(json_writer *w, const char *key, int b);
void jw_null(json_writer *w, const char *key);
/* Returns the text (NUL-terminated) or NULL with an error if memory ran out. */
const char *jw_text(json_writer *w);

#endif
