/* safetensors.h: the checkpoint and control-file format (huggingface safetensors):
 * u64 little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, ...,
 * "__metadata__": {string: string}}, then the tensors' bytes. The reader checks everything:
 * header size limit, JSON syntax, known dtypes, shape × dtype size = offsets, offsets within
 * the file, and no holes or overlaps between tensors. Tensor names follow PyTorch state_dict
 * keys (docs/formats.md). */
#ifndef SHARKS_SAFETENSORS_H
#define SHARKS_SAFETENSORS_H

#include "npy.h"

#include <stdint.h>
#include <stdio.h>

#define ST_MAX_HEADER (100u << 20) /* as the reference implementation: 100 MB */

typedef struct {
	char *name;
	sh_dtype dtype;
	int ndim;
	int64_t shape[NPY_MAX_DIMS];
	size_t count, offset, nbytes; /* offset is relative to the data section */
} st_tensor;

typedef struct {
	unsigned char *buf; /* the whole file */
	size_t size;
	const unsigned char *data; /* start of the data section */
	int ntensors;
	st_tensor *tensors; /* sorted by name (st_find is a binary search) */
	int nmeta;
	char **meta_key, **meta_val;
} st_file;

/* Reads and checks a whole safetensors file (path "-" is stdin). */
int st_load(const char *path, st_file *sf);
int st_load_fp(FILE *f, st_file *sf);
void st_free(st_file *sf);

const st_tensor *st_find(const st_file *sf, const char *name);
const void *st_data(const st_file *sf, const st_tensor *t);
const char *st_meta(const st_file *sf, const char *key); /* NULL when absent */
/* The metadata value `key` as a whole decimal integer in [lo, hi] into *out; -1 with an error
 * naming the key when it is absent or is not such a number. */
int st_meta_long(const st_file *sf, const char *key, long lo, long hi, long *out);
/* Copies tensor `name` into dst as float, converting from any dtype; fails unless it holds
 * exactly `count` values (count 0 skips the check) and every value is finite (the error names
 * the tensor and the index of the first NaN or infinity). */
int st_read_f32(const st_file *sf, const char *name, float *dst, size_t count);

/* Writer: tensors are referenced (not copied) until st_write/st_save. */
typedef struct {
	int n, cap;
	struct st_wtensor {
		char *name;
		sh_dtype dtype;
		int ndim;
		int64_t shape[NPY_MAX_DIMS];
		const void *data;
	} * t;
	int nmeta, metacap;
	char **meta_key, **meta_val;
} st_writer;

void st_writer_init(st_writer *w);
int st_add(st_writer *w, const char *name, sh_dtype t, int ndim, const int64_t *shape, const void *data);
int st_add_f32(st_writer *w, const char *name, int ndim, const int64_t *shape, const float *data);
int st_set_meta(st_writer *w, const char *key, const char *value);
int st_write(const st_writer *w, FILE *f);
/* Writes to a temporary name beside path, fsyncs and renames: a crash leaves the old file. */
int st_save(const st_writer *w, const char *path);
void st_writer_free(st_writer *w);

#endif
