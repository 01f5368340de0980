/* npy.h: tensor streams, i.e. NumPy .npy v1.0 records back to back (docs/formats.md, "Tensor
 * streams"). Readers never seek, so pipes work; end of input is valid only between records.
 * Reads versions 1.0, 2.0 and 3.0, dtypes <f4 |u1 <u2 <i2 <f8 (and <i4 <i8), any rank up to
 * NPY_MAX_DIMS, C order only. Writes version 1.0 with the header padded to 64 bytes.
 *
 * The header dict is parsed as the Python literal it is, and must hold exactly 'descr',
 * 'fortran_order' and 'shape'. The sample rate of audio and codes travels in a Python comment
 * after the dict, inside the header's padding: {'descr': '<f4', ...} # rate=22050
 * numpy.load reads such a header as it reads any other (docs/formats.md). */
#ifndef SHARKS_NPY_H
#define SHARKS_NPY_H

#include <stdint.h>
#include <stdio.h>

typedef enum { SH_F32, SH_U8, SH_U16, SH_I16, SH_F64, SH_I32, SH_I64, SH_DTYPE_COUNT } sh_dtype;

size_t sh_dtype_size(sh_dtype t);
const char *sh_dtype_descr(sh_dtype t); /* "<f4", "|u1", ... */

#define NPY_MAX_DIMS 8
#define NPY_MAX_HEADER (1 << 20) /* bytes, for versions 2.0 and 3.0 */
/* Rates a header may carry, in Hz (the same bounds as every program's -r: bounds.h). */
#define NPY_RATE_MIN 1
#define NPY_RATE_MAX 768000

typedef struct {
	sh_dtype dtype;
	int ndim;
	int64_t shape[NPY_MAX_DIMS];
	size_t count;  /* product of shape (1 for a scalar) */
	size_t nbytes; /* count * dtype size */
	int rate;      /* samples per second from the header's "# rate=N" comment; 0: not given */
} npy_header;

/* Reads one record header. Returns 1, 0 at a clean end of input, -1 with an error. */
int npy_read_header(FILE *f, npy_header *h);
/* Reads the record's data (h->nbytes bytes, little-endian as on disk) into buf, which the
 * caller sized from the header: only for headers it trusts; npy_read_record for any input. */
int npy_read_data(FILE *f, const npy_header *h, void *buf);
/* Converts n values of dtype t at src to float (codes keep their integer value). */
void npy_to_f32(float *dst, const void *src, sh_dtype t, size_t n);

/* A whole record read into a buffer that is reused from record to record. */
typedef struct {
	npy_header h;
	void *data;
	size_t cap;
	long index; /* 0-based number of the record last read (or failed) */
	long nread; /* records read so far */
} npy_record;
/* Returns 1, 0 at end of input, -1 with an error that names the record ("record 3: ...").
 * The buffer grows as the data arrive, so a header that claims gigabytes over a few bytes of
 * data is "truncated", and never an allocation of what it claims. */
int npy_read_record(FILE *f, npy_record *r);
/* Hands the last record's data to the caller (free() it); the next read allocates anew. */
void *npy_record_take(npy_record *r);
void npy_record_free(npy_record *r);

/* Writers; the _rate forms record the sample rate in the header (0: none). */
int npy_write_header(FILE *f, sh_dtype t, int ndim, const int64_t *shape);
int npy_write_header_rate(FILE *f, sh_dtype t, int ndim, const int64_t *shape, int rate);
int npy_write(FILE *f, sh_dtype t, int ndim, const int64_t *shape, const void *data);
int npy_write_rate(FILE *f, sh_dtype t, int ndim, const int64_t *shape, const void *data, int rate);
/* A one-dimensional record of n values. */
int npy_write_1d(FILE *f, sh_dtype t, size_t n, const void *data);

/* A stream's rate, checked record by record. *rate starts at the rate the program was given
 * (given = 1, from -r) or 0; a record that carries a rate must agree with *rate, or sets it when
 * it is 0; a record without one (older streams) passes. -1 with an error giving both rates. */
int npy_check_rate(const npy_header *h, int *rate, int given);

#endif
