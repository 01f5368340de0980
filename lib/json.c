/* json.c: recursive-descent JSON parser and an append-only JSON writer (see json.h). */
#include "json.h"
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	const char *s;
	size_t i, n;
	int depth;
} parser;

static int perr(parser *p, const char *what) { return sh_error("JSON: %s at byte %zu", what, p->i); }

static void skip_ws(parser *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 63));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 63));
		o[2] = (char)(0x80 | (cp & 63));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 63));
	o[2] = (char)(0x80 | (cp >> 6 & 63));
	o[3] = (char)(0x80 | (cp & 63));
	return 4;
}

static int parse_string(parser *p, char **out)
{
	size_t start = ++p->i, len = 0;
	/* first pass: find the end, so the output can be allocated once */
	while (p->i < p->n && p->s[p->i] != '"') {
		if ((unsigned char)p->s[p->i] < 0x20)
			return perr(p, "control character in string");
		p->i += p->s[p->i] == '\\' ? 2 : 1;
	}
	if (p->i >= p->n)
		return perr(p, "unterminated string");
	char *o = malloc(p->i - start + 1);
	if (!o)
		return sh_error("out of memory");
	for (size_t j = start; j < p->i; j++) {
		char c = p->s[j];
		if (c != '\\') {
			o[len++] = c;
			continue;
		}
		c = p->s[++j];
		switch (c) {
		case '"':
		case '\\':
		case '/': o[len++] = c; break;
		case 'b': o[len++] = '\b'; break;
		case 'f': o[len++] = '\f'; break;
		case 'n': o[len++] = '\n'; break;
		case 'r': o[len++] = '\r'; break;
		case 't': o[len++] = '\t'; break;
		case 'u': {
			unsigned cp = 0;
			for (int k = 0; k < 4; k++) {
				int h = j + 1 < p->i ? hexval(p->s[++j]) : -1;
				if (h < 0) {
					free(o);
					p->i = j;
					return perr(p, "bad \\u escape");
				}
				cp = cp << 4 | (unsigned)h;
			}
			if (cp >= 0xd800 && cp < 0xdc00 && j + 6 < p->i && p->s[j + 1] == '\\' && p->s[j + 2] == 'u') {
				unsigned lo = 0;
				int okk = 1;
				for (int k = 0; k < 4; k++) {
					int h = hexval(p->s[j + 3 + k]);
					okk &= h >= 0;
					lo = lo << 4 | (unsigned)(h < 0 ? 0 : h);
				}
				if (okk && lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					j += 6;
				}
			}
			if (cp == 0) {
				free(o);
				return perr(p, "NUL in string");
			}
			len += put_utf8(o + len, cp);
			break;
		}
		default:
			free(o);
			p->i = j;
			return perr(p, "bad escape in string");
		}
	}
	o[len] = 0;
	p->i++;
	*out = o;
	return 0;
}

static int parse_value(parser *p, json_value *v);

static int cmp_key(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* An object's keys must be unique: a reader that takes the first and one that takes the last
 * would see different documents (and the safetensors reader once overflowed on a second
 * "__metadata__"). Sorted copy of the keys, neighbours compared: O(n log n) for any width. */
static int check_unique_keys(parser *p, const json_value *v)
{
	if (v->n < 2)
		return 0;
	char **k = malloc(v->n * sizeof *k);
	if (!k)
		return sh_error("out of memory");
	memcpy(k, v->keys, v->n * sizeof *k);
	qsort(k, v->n, sizeof *k, cmp_key);
	int rc = 0;
	for (size_t i = 1; i < v->n && !rc; i++)
		if (!strcmp(k[i - 1], k[i]))
			rc = sh_error("JSON: key \"%.200s\" appears twice in the object that ends at byte %zu", k[i],
				      p->i);
	free(k);
	return rc;
}

static int append_child(json_value *v, size_t *cap, json_value **child)
{
	if (v->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		json_value *it = realloc(v->items, nc * sizeof *it);
		if (!it)
			return sh_error("out of memory");
		v->items = it;
		if (v->type == JSON_OBJ) {
			char **k = realloc(v->keys, nc * sizeof *k);
			if (!k)
				return sh_error("out of memory");
			v->keys = k;
		}
		*cap = nc;
	}
	*child = &v->items[v->n];
	memset(*child, 0, sizeof **child);
	return 0;
}

static int parse_container(parser *p, json_value *v, int is_obj)
{
	size_t cap = 0;
	v->type = is_obj ? JSON_OBJ : JSON_ARR;
	if (++p->depth > 64)
		return perr(p, "nesting too deep");
	p->i++;
	skip_ws(p);
	if (p->i < p->n && p->s[p->i] == (is_obj ? '}' : ']')) {
		p->i++;
		p->depth--;
		return 0;
	}
	for (;;) {
		json_value *c = NULL;
		char *key = NULL;
		skip_ws(p);
		if (is_obj) {
			if (p->i >= p->n || p->s[p->i] != '"')
				return perr(p, "expected a string key");
			if (parse_string(p, &key) < 0)
				return -1;
			skip_ws(p);
			if (p->i >= p->n || p->s[p->i] != ':') {
				free(key);
				return perr(p, "expected ':'");
			}
			p->i++;
		}
		if (append_child(v, &cap, &c) < 0) {
			free(key);
			return -1;
		}
		if (is_obj)
			v->keys[v->n] = key;
		v->n++;
		if (parse_value(p, c) < 0)
			return -1;
		skip_ws(p);
		if (p->i < p->n && p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->i < p->n && p->s[p->i] == (is_obj ? '}' : ']')) {
			p->i++;
			p->depth--;
			return is_obj ? check_unique_keys(p, v) : 0;
		}
		return perr(p, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int parse_value(parser *p, json_value *v)
{
	skip_ws(p);
	if (p->i >= p->n)
		return perr(p, "unexpected end");
	char c = p->s[p->i];
	if (c == '{' || c == '[')
		return parse_container(p, v, c == '{');
	if (c == '"') {
		v->type = JSON_STR;
		return parse_string(p, &v->str);
	}
	static const struct {
		const char *w;
		json_type t;
		int b;
	} lit[] = {{"true", JSON_BOOL, 1}, {"false", JSON_BOOL, 0}, {"null", JSON_NULL, 0}};
	for (size_t k = 0; k < SH_ARRAY_LEN(lit); k++) {
		size_t l = strlen(lit[k].w);
		if (p->n - p->i >= l && !memcmp(p->s + p->i, lit[k].w, l)) {
			v->type = lit[k].t;
			v->boolean = lit[k].b;
			p->i += l;
			return 0;
		}
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		char buf[64];
		size_t l = 0;
		while (p->i + l < p->n && l < sizeof buf - 1 && strchr("+-0123456789.eE", p->s[p->i + l]))
			l++;
		memcpy(buf, p->s + p->i, l);
		buf[l] = 0;
		char *end;
		v->type = JSON_NUM;
		v->num = strtod(buf, &end);
		if (end != buf + l || l == 0)
			return perr(p, "bad number");
		p->i += l;
		return 0;
	}
	return perr(p, "unexpected character");
}

static void free_children(json_value *v)
{
	for (size_t k = 0; k < v->n; k++) {
		free_children(&v->items[k]);
		if (v->keys)
			free(v->keys[k]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
}

json_value *json_parse(const char *text, size_t len)
{
	parser p = {text, 0, len, 0};
	json_value *v = calloc(1, sizeof *v);
	if (!v) {
		sh_error("out of memory");
		return NULL;
	}
	if (parse_value(&p, v) < 0) {
		json_free(v);
		return NULL;
	}
	skip_ws(&p);
	if (p.i != p.n) {
		perr(&p, "trailing characters");
		json_free(v);
		return NULL;
	}
	return v;
}

void json_free(json_value *v)
{
	if (!v)
		return;
	free_children(v);
	free(v);
}

const json_value *json_get(const json_value *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJ)
		return NULL;
	for (size_t k = 0; k < obj->n; k++)
		if (!strcmp(obj->keys[k], key))
			return &obj->items[k];
	return NULL;
}

/* --- writer --- */

void jw_init(json_writer *w, int layout)
{
	memset(w, 0, sizeof *w);
	w->line_depth = layout == JW_PRETTY ? (int)sizeof w->first : layout == JW_PRETTY_TOP ? 1 : 0;
	w->first[0] = 1;
}

void jw_free(json_writer *w)
{
	free(w->out.s);
	memset(w, 0, sizeof *w);
}

static void put(json_writer *w, const char *s, size_t n) { sh_buf_add(&w->out, s, n); }

static void put_escaped(json_writer *w, const char *s)
{
	put(w, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		switch (*c) {
		case '"': put(w, "\\\"", 2); break;
		case '\\': put(w, "\\\\", 2); break;
		case '\n': put(w, "\\n", 2); break;
		case '\r': put(w, "\\r", 2); break;
		case '\t': put(w, "\\t", 2); break;
		default:
			if (*c < 0x20)
				sh_buf_printf(&w->out, "\\u%04x", *c);
			else
				put(w, (const char *)c, 1);
		}
	}
	put(w, "\"", 1);
}

/* Before a member or the closing bracket of a container at depth w->depth: a new line and the
 * indentation where the layout puts members of that depth on lines of their own, else a space
 * after the comma of a pretty layout (before > 0: between two members). */
static void indent(json_writer *w, int before)
{
	if (w->depth <= w->line_depth) {
		put(w, "\n", 1);
		for (int i = 0; i < w->depth; i++)
			put(w, "  ", 2);
	} else if (before && w->line_depth) {
		put(w, " ", 1);
	}
}

/* Separator, indentation and key before a value. */
static void begin_value(json_writer *w, const char *key)
{
	if (w->depth > 0) {
		if (!w->first[w->depth])
			put(w, ",", 1);
		indent(w, !w->first[w->depth]);
	}
	w->first[w->depth] = 0;
	if (key) {
		put_escaped(w, key);
		put(w, w->line_depth ? ": " : ":", w->line_depth ? 2 : 1);
	}
}

static void open_container(json_writer *w, const char *key, const char *c)
{
	begin_value(w, key);
	put(w, c, 1);
	if (w->depth + 1 < (int)sizeof w->first) {
		w->depth++;
		w->first[w->depth] = 1;
		w->kind[w->depth] = c[0];
	} else {
		w->failed = 1;
	}
}

void jw_obj(json_writer *w, const char *key) { open_container(w, key, "{"); }
void jw_arr(json_writer *w, const char *key) { open_container(w, key, "["); }

void jw_end(json_writer *w)
{
	if (w->depth <= 0) {
		w->failed = 1;
		return;
	}
	int empty = w->first[w->depth];
	char close = w->kind[w->depth] == '{' ? '}' : ']';
	if (!empty && w->depth <= w->line_depth) {
		w->depth--;
		indent(w, 0);
	} else {
		w->depth--;
	}
	put(w, &close, 1);
}

void jw_str(json_writer *w, const char *key, const char *s)
{
	begin_value(w, key);
	if (s)
		put_escaped(w, s);
	else
		put(w, "null", 4);
}

void jw_num(json_writer *w, const char *key, double x)
{
	begin_value(w, key);
	if (!isfinite(x))
		put(w, "null", 4);
	else if (fabs(x) < 1e15 &&
		 x == (double)(long long)x) /* the range test first: a cast out of range is undefined */
		sh_buf_printf(&w->out, "%lld", (long long)x);
	else {
		/* the shortest form that reads back as the same double: 0.1, not 0.10000000000000001 */
		char b[32];
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(b, sizeof b, "%.*g", prec, x);
			if (strtod(b, NULL) == x)
				break;
		}
		put(w, b, strlen(b));
	}
}

void jw_numf(json_writer *w, const char *key, const char *fmt, double x)
{
	begin_value(w, key);
	if (isfinite(x))
		sh_buf_printf(&w->out, fmt, x);
	else
		put(w, "null", 4);
}

void jw_int(json_writer *w, const char *key, long long x)
{
	begin_value(w, key);
	sh_buf_printf(&w->out, "%lld", x);
}
void jw_uint(json_writer *w, const char *key, uint64_t x)
{
	begin_value(w, key);
	sh_buf_printf(&w->out, "%llu", (unsigned long long)x);
}
void jw_bool(json_writer *w, const char *key, int b)
{
	begin_value(w, key);
	put(w, b ? "true" : "false", b ? 4 : 5);
}
void jw_null(json_writer *w, const char *key)
{
	begin_value(w, key);
	put(w, "null", 4);
}

const char *jw_text(json_writer *w)
{
	if (w->failed || w->out.failed) {
		sh_error("JSON writer: out of memory or unbalanced containers");
		return NULL;
	}
	if (!w->out.s)
		put(w, "", 0);
	return w->out.s;
}
