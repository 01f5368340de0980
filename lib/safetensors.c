/* safetensors.c: reading (whole file, fully checked) and atomic writing of safetensors. */
#include "safetensors.h"
#include "json.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *st_names[SH_DTYPE_COUNT] = {
	[SH_F32] = "F32", [SH_U8] = "U8",   [SH_U16] = "U16", [SH_I16] = "I16",
	[SH_F64] = "F64", [SH_I32] = "I32", [SH_I64] = "I64",
};

static int dtype_from_name(const char *s, sh_dtype *t)
{
	for (int i = 0; i < SH_DTYPE_COUNT; i++)
		if (!strcmp(s, st_names[i])) {
			*t = i;
			return 0;
		}
	return -1;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int cmp_offset(const void *a, const void *b)
{
	const st_tensor *x = *(st_tensor *const *)a, *y = *(st_tensor *const *)b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int parse_tensor(const char *name, const json_value *v, st_tensor *t)
{
	const json_value *dt = json_get(v, "dtype"), *sh = json_get(v, "shape"), *off = json_get(v, "data_offsets");
	if (v->type != JSON_OBJ || !dt || dt->type != JSON_STR || !sh || sh->type != JSON_ARR || !off ||
	    off->type != JSON_ARR || off->n != 2)
		return sh_error("tensor '%s': header entry needs dtype, shape and data_offsets", name);
	if (dtype_from_name(dt->str, &t->dtype) < 0)
		return sh_error("tensor '%s': unsupported dtype '%s'", name, dt->str);
	if (sh->n > NPY_MAX_DIMS)
		return sh_error("tensor '%s': more than %d dimensions", name, NPY_MAX_DIMS);
	t->ndim = (int)sh->n;
	t->count = 1;
	for (size_t i = 0; i < sh->n; i++) {
		const json_value *d = &sh->items[i];
		if (d->type != JSON_NUM || d->num < 0 || d->num != (double)(int64_t)d->num || d->num > 9e15)
			return sh_error("tensor '%s': bad shape", name);
		t->shape[i] = (int64_t)d->num;
		if (!sh_mul_size(t->count, (size_t)t->shape[i], &t->count))
			return sh_error("tensor '%s': shape too large", name);
	}
	for (int i = 0; i < 2; i++)
		if (off->items[i].type != JSON_NUM || off->items[i].num < 0 || off->items[i].num > 9e15 ||
		    off->items[i].num != (double)(int64_t)off->items[i].num)
			return sh_error("tensor '%s': bad data_offsets", name);
	size_t b = (size_t)off->items[0].num, e = (size_t)off->items[1].num, nb;
	if (!sh_mul_size(t->count, sh_dtype_size(t->dtype), &nb))
		return sh_error("tensor '%s': shape too large", name);
	if (e < b || e - b != nb)
		return sh_error("tensor '%s': data_offsets [%zu, %zu] do not match shape and dtype (%zu bytes)", name,
				b, e, nb);
	t->offset = b;
	t->nbytes = nb;
	t->name = strdup(name);
	return t->name ? 0 : sh_error("out of memory");
}

static int parse(st_file *sf)
{
	if (sf->size < 8)
		return sh_error("not a safetensors file: %zu bytes, no header", sf->size);
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | sf->buf[i];
	if (hlen > ST_MAX_HEADER)
		return sh_error("not a safetensors file: header length %llu exceeds the %u-byte limit",
				(unsigned long long)hlen, ST_MAX_HEADER);
	if (hlen > sf->size - 8)
		return sh_error("truncated safetensors file: header of %llu bytes, file of %zu",
				(unsigned long long)hlen, sf->size);
	if (hlen == 0 || sf->buf[8] != '{')
		return sh_error("not a safetensors file: header is not a JSON object");
	json_value *root = json_parse((const char *)sf->buf + 8, hlen);
	if (!root)
		return sh_error_prefix("bad safetensors header");
	int rc = -1;
	sf->data = sf->buf + 8 + hlen;
	size_t data_size = sf->size - 8 - hlen;
	sf->tensors = calloc(root->n ? root->n : 1, sizeof *sf->tensors);
	sf->meta_key = calloc(1, sizeof(char *));
	sf->meta_val = calloc(1, sizeof(char *));
	st_tensor **order = calloc(root->n ? root->n : 1, sizeof *order);
	if (!sf->tensors || !order || !sf->meta_key || !sf->meta_val) {
		sh_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < root->n; i++) {
		const json_value *v = &root->items[i];
		if (!strcmp(root->keys[i], "__metadata__")) {
			if (v->type != JSON_OBJ) {
				sh_error("bad safetensors header: __metadata__ is not an object");
				goto out;
			}
			free(sf->meta_key);
			free(sf->meta_val);
			sf->meta_key = calloc(v->n + 1, sizeof(char *));
			sf->meta_val = calloc(v->n + 1, sizeof(char *));
			if (!sf->meta_key || !sf->meta_val) {
				sh_error("out of memory");
				goto out;
			}
			for (size_t k = 0; k < v->n; k++) {
				if (v->items[k].type != JSON_STR) {
					sh_error("bad safetensors header: __metadata__ value of '%s' is not a string",
						 v->keys[k]);
					goto out;
				}
				sf->meta_key[sf->nmeta] = strdup(v->keys[k]);
				sf->meta_val[sf->nmeta] = strdup(v->items[k].str);
				if (!sf->meta_key[sf->nmeta++] || !sf->meta_val[sf->nmeta - 1]) {
					sh_error("out of memory");
					goto out;
				}
			}
			continue;
		}
		/* names are unique: the JSON parser refuses a repeated key */
		if (parse_tensor(root->keys[i], v, &sf->tensors[sf->ntensors]) < 0)
			goto out;
		sf->ntensors++;
	}
	/* sorted by name, for st_find's binary search */
	qsort(sf->tensors, sf->ntensors, sizeof *sf->tensors, cmp_name);
	for (int i = 0; i < sf->ntensors; i++)
		order[i] = &sf->tensors[i];
	/* the data section must be covered exactly: sorted by offset, each starts where the last ended */
	qsort(order, sf->ntensors, sizeof *order, cmp_offset);
	size_t pos = 0;
	for (int i = 0; i < sf->ntensors; i++) {
		if (order[i]->offset != pos) {
			sh_error("bad safetensors file: tensor '%s' starts at %zu, expected %zu (%s)", order[i]->name,
				 order[i]->offset, pos, order[i]->offset > pos ? "a hole" : "an overlap");
			goto out;
		}
		pos += order[i]->nbytes;
	}
	if (pos != data_size) {
		sh_error(pos > data_size ? "truncated safetensors file: tensors need %zu data bytes, file has %zu"
					 : "bad safetensors file: tensors cover %zu data bytes, file has %zu",
			 pos, data_size);
		goto out;
	}
	rc = 0;
out:
	free(order);
	json_free(root);
	return rc;
}

int st_load_fp(FILE *f, st_file *sf)
{
	memset(sf, 0, sizeof *sf);
	size_t cap = 1 << 16;
	sf->buf = malloc(cap);
	if (!sf->buf)
		return sh_error("out of memory");
	for (;;) {
		if (sf->size == cap) {
			unsigned char *b = realloc(sf->buf, cap *= 2);
			if (!b) {
				st_free(sf);
				return sh_error("out of memory");
			}
			sf->buf = b;
		}
		size_t got = fread(sf->buf + sf->size, 1, cap - sf->size, f);
		sf->size += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		st_free(sf);
		return sh_error("read error: %s", strerror(errno));
	}
	if (parse(sf) < 0) {
		st_free(sf);
		return -1;
	}
	return 0;
}

int st_load(const char *path, st_file *sf)
{
	if (!strcmp(path, "-"))
		return st_load_fp(stdin, sf);
	FILE *f = fopen(path, "rb");
	if (!f) {
		memset(sf, 0, sizeof *sf);
		return sh_error("%s", strerror(errno));
	}
	int rc = st_load_fp(f, sf);
	fclose(f);
	return rc;
}

void st_free(st_file *sf)
{
	for (int i = 0; i < sf->ntensors; i++)
		free(sf->tensors[i].name);
	for (int i = 0; i < sf->nmeta; i++) {
		free(sf->meta_key[i]);
		free(sf->meta_val[i]);
	}
	free(sf->tensors);
	free(sf->meta_key);
	free(sf->meta_val);
	free(sf->buf);
	memset(sf, 0, sizeof *sf);
}

const st_tensor *st_find(const st_file *sf, const char *name)
{
	if (!sf->ntensors)
		return NULL;
	st_tensor key = {.name = (char *)name};
	return bsearch(&key, sf->tensors, sf->ntensors, sizeof *sf->tensors, cmp_name);
}

const void *st_data(const st_file *sf, const st_tensor *t) { return sf->data + t->offset; }

const char *st_meta(const st_file *sf, const char *key)
{
	for (int i = 0; i < sf->nmeta; i++)
		if (!strcmp(sf->meta_key[i], key))
			return sf->meta_val[i];
	return NULL;
}

int st_read_f32(const st_file *sf, const char *name, float *dst, size_t count)
{
	const st_tensor *t = st_find(sf, name);
	if (!t)
		return sh_error("no tensor '%s'", name);
	if (count && t->count != count)
		return sh_error("tensor '%s' holds %zu values, expected %zu", name, t->count, count);
	/* the data section has no alignment guarantee: go through memcpy-based conversion */
	size_t es = sh_dtype_size(t->dtype);
	const unsigned char *src = st_data(sf, t);
	unsigned char tmp[8 * 256];
	for (size_t i = 0; i < t->count; i += 256) {
		size_t n = SH_MIN((size_t)256, t->count - i);
		memcpy(tmp, src + i * es, n * es);
		npy_to_f32(dst + i, tmp, t->dtype, n);
		for (size_t k = 0; k < n; k++)
			if (!isfinite(dst[i + k]))
				return sh_error("tensor '%s' holds %s at index %zu", name,
						isnan(dst[i + k]) ? "NaN" : "an infinite value", i + k);
	}
	return 0;
}

/* --- writer --- */

void st_writer_init(st_writer *w) { memset(w, 0, sizeof *w); }

int st_add(st_writer *w, const char *name, sh_dtype t, int ndim, const int64_t *shape, const void *data)
{
	if (ndim < 0 || ndim > NPY_MAX_DIMS)
		return sh_error("tensor '%s': bad rank %d", name, ndim);
	for (int i = 0; i < w->n; i++)
		if (!strcmp(w->t[i].name, name))
			return sh_error("tensor '%s' added twice", name);
	if (w->n == w->cap) {
		int nc = w->cap ? w->cap * 2 : 16;
		void *p = realloc(w->t, nc * sizeof *w->t);
		if (!p)
			return sh_error("out of memory");
		w->t = p;
		w->cap = nc;
	}
	struct st_wtensor *e = &w->t[w->n];
	memset(e, 0, sizeof *e);
	e->name = strdup(name);
	if (!e->name)
		return sh_error("out of memory");
	e->dtype = t;
	e->ndim = ndim;
	if (ndim)
		memcpy(e->shape, shape, ndim * sizeof *shape);
	e->data = data;
	w->n++;
	return 0;
}

int st_add_f32(st_writer *w, const char *name, int ndim, const int64_t *shape, const float *data)
{
	return st_add(w, name, SH_F32, ndim, shape, data);
}

int st_set_meta(st_writer *w, const char *key, const char *value)
{
	for (int i = 0; i < w->nmeta; i++)
		if (!strcmp(w->meta_key[i], key)) {
			char *v = strdup(value);
			if (!v)
				return sh_error("out of memory");
			free(w->meta_val[i]);
			w->meta_val[i] = v;
			return 0;
		}
	if (w->nmeta == w->metacap) {
		int nc = w->metacap ? w->metacap * 2 : 16;
		char **k = realloc(w->meta_key, nc * sizeof *k);
		if (!k)
			return sh_error("out of memory");
		w->meta_key = k;
		char **v = realloc(w->meta_val, nc * sizeof *v);
		if (!v)
			return sh_error("out of memory");
		w->meta_val = v;
		w->metacap = nc;
	}
	w->meta_key[w->nmeta] = strdup(key);
	w->meta_val[w->nmeta] = strdup(value);
	if (!w->meta_key[w->nmeta] || !w->meta_val[w->nmeta])
		return sh_error("out of memory");
	w->nmeta++;
	return 0;
}

static size_t wtensor_bytes(const struct st_wtensor *t)
{
	size_t n = sh_dtype_size(t->dtype);
	for (int i = 0; i < t->ndim; i++)
		n *= (size_t)t->shape[i];
	return n;
}

int st_write(const st_writer *w, FILE *f)
{
	json_writer j;
	jw_init(&j, 0);
	jw_obj(&j, NULL);
	if (w->nmeta) {
		jw_obj(&j, "__metadata__");
		for (int i = 0; i < w->nmeta; i++)
			jw_str(&j, w->meta_key[i], w->meta_val[i]);
		jw_end(&j);
	}
	size_t off = 0;
	for (int i = 0; i < w->n; i++) {
		const struct st_wtensor *t = &w->t[i];
		jw_obj(&j, t->name);
		jw_str(&j, "dtype", st_names[t->dtype]);
		jw_arr(&j, "shape");
		for (int d = 0; d < t->ndim; d++)
			jw_int(&j, NULL, t->shape[d]);
		jw_end(&j);
		jw_arr(&j, "data_offsets");
		jw_uint(&j, NULL, off);
		off += wtensor_bytes(t);
		jw_uint(&j, NULL, off);
		jw_end(&j);
		jw_end(&j);
	}
	jw_end(&j);
	const char *hdr = jw_text(&j);
	if (!hdr) {
		jw_free(&j);
		return -1;
	}
	/* pad the header with spaces so the data section starts 8-byte aligned */
	size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8;
	unsigned char len8[8];
	for (int i = 0; i < 8; i++)
		len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
	int rc = 0;
	if (fwrite(len8, 1, 8, f) != 8 || fwrite(hdr, 1, hl, f) != hl || fprintf(f, "%*s", (int)(padded - hl), "") < 0)
		rc = sh_error("write error: %s", strerror(errno));
	jw_free(&j);
	for (int i = 0; i < w->n && rc == 0; i++) {
		size_t nb = wtensor_bytes(&w->t[i]);
		if (nb && fwrite(w->t[i].data, 1, nb, f) != nb)
			rc = sh_error("write error: %s", strerror(errno));
	}
	return rc;
}

int st_save(const st_writer *w, const char *path)
{
	char tmp[4096];
	sh_tmp_name(tmp, sizeof tmp, path);
	FILE *f = fopen(tmp, "wb");
	if (!f)
		return sh_error("cannot create %s: %s", tmp, strerror(errno));
	sh_tmp_track(tmp, 1);
	int rc = st_write(w, f);
	if (rc == 0 && (fflush(f) || fsync(fileno(f))))
		rc = sh_error("write error: %s", strerror(errno));
	if (fclose(f) && rc == 0)
		rc = sh_error("write error: %s", strerror(errno));
	return sh_tmp_finish(tmp, path, rc);
}

void st_writer_free(st_writer *w)
{
	for (int i = 0; i < w->n; i++)
		free(w->t[i].name);
	for (int i = 0; i < w->nmeta; i++) {
		free(w->meta_key[i]);
		free(w->meta_val[i]);
	}
	free(w->t);
	free(w->meta_key);
	free(w->meta_val);
	memset(w, 0, sizeof *w);
}

int st_meta_long(const st_file *sf, const char *key, long lo, long hi, long *out)
{
	const char *s = st_meta(sf, key);
	if (!s)
		return sh_error("no '%s' in the metadata", key);
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return sh_error("bad '%s' in the metadata: '%.64s' (want a whole number in %ld..%ld)", key, s, lo, hi);
	*out = v;
	return 0;
}
