/* npy.c: NumPy .npy records read and written sequentially (see npy.h). */
#include "npy.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *descr[3];
	size_t size;
} dtypes[SH_DTYPE_COUNT] = {
	[SH_F32] = {{"<f4", NULL, NULL}, 4},
	[SH_U8] = {{"|u1", "<u1", "u1"}, 1},
	[SH_U16] = {{"<u2", NULL, NULL}, 2},
	[SH_I16] = {{"<i2", NULL, NULL}, 2},
	[SH_F64] = {{"<f8", NULL, NULL}, 8},
	[SH_I32] = {{"<i4", NULL, NULL}, 4},
	[SH_I64] = {{"<i8", NULL, NULL}, 8},
};

size_t sh_dtype_size(sh_dtype t) { return dtypes[t].size; }
const char *sh_dtype_descr(sh_dtype t) { return dtypes[t].descr[0]; }

static const char *skip_ws(const char *p)
{
	while (*p && isspace((unsigned char)*p))
		p++;
	return p;
}

/* Finds 'key': in a Python dict literal and returns a pointer just past the colon. */
static const char *dict_value(const char *hdr, const char *key)
{
	char pat[32];
	snprintf(pat, sizeof pat, "'%s'", key);
	const char *p = strstr(hdr, pat);
	if (!p) {
		snprintf(pat, sizeof pat, "\"%s\"", key);
		p = strstr(hdr, pat);
	}
	if (!p)
		return NULL;
	p = skip_ws(p + strlen(pat));
	return *p == ':' ? skip_ws(p + 1) : NULL;
}

static int parse_header_dict(const char *hdr, npy_header *h)
{
	const char *v = dict_value(hdr, "descr");
	if (!v)
		return sh_error("npy header has no 'descr'");
	if (*v == '[')
		return sh_error("structured dtypes are not supported (want <f4, |u1, <u2, <i2, <f8, <i4 or <i8)");
	if (*v != '\'' && *v != '"')
		return sh_error("bad 'descr' in npy header");
	char descr[16];
	size_t n = strcspn(v + 1, "'\"");
	if (n >= sizeof descr)
		return sh_error("unsupported dtype in npy header");
	memcpy(descr, v + 1, n);
	descr[n] = 0;
	int found = 0;
	for (int t = 0; t < SH_DTYPE_COUNT && !found; t++)
		for (int k = 0; k < 3 && dtypes[t].descr[k]; k++)
			if (!strcmp(descr, dtypes[t].descr[k])) {
				h->dtype = t;
				found = 1;
				break;
			}
	if (!found)
		return sh_error("unsupported dtype '%s' (want <f4, |u1, <u2, <i2, <f8, <i4 or <i8)", descr);

	v = dict_value(hdr, "fortran_order");
	if (!v)
		return sh_error("npy header has no 'fortran_order'");
	if (!strncmp(v, "True", 4))
		return sh_error("fortran_order: True is not supported (write C-order arrays)");
	if (strncmp(v, "False", 5))
		return sh_error("bad 'fortran_order' in npy header");

	v = dict_value(hdr, "shape");
	if (!v || *v != '(')
		return sh_error("npy header has no 'shape'");
	v++;
	h->ndim = 0;
	h->count = 1;
	for (;;) {
		v = skip_ws(v);
		if (*v == ')')
			break;
		if (!isdigit((unsigned char)*v))
			return sh_error("bad 'shape' in npy header");
		if (h->ndim == NPY_MAX_DIMS)
			return sh_error("npy record has more than %d dimensions", NPY_MAX_DIMS);
		errno = 0;
		char *end;
		unsigned long long d = strtoull(v, &end, 10);
		if (errno || d > (1ULL << 62))
			return sh_error("bad 'shape' in npy header");
		h->shape[h->ndim++] = (int64_t)d;
		if (!sh_mul_size(h->count, (size_t)d, &h->count))
			return -1;
		v = skip_ws(end);
		if (*v == ',')
			v++;
		else if (*v != ')')
			return sh_error("bad 'shape' in npy header");
	}
	if (!sh_mul_size(h->count, dtypes[h->dtype].size, &h->nbytes))
		return -1;
	return 0;
}

int npy_read_header(FILE *f, npy_header *h)
{
	unsigned char pre[10];
	memset(h, 0, sizeof *h);
	long got = sh_read_full(f, pre, 8);
	if (got == 0)
		return 0;
	if (got < 0)
		return sh_error("stream cut inside a record header");
	if (memcmp(pre, "\x93NUMPY", 6))
		return sh_error("bad magic: not a .npy record");
	int major = pre[6];
	size_t hlen;
	if (major == 1) {
		if (sh_read_full(f, pre + 8, 2) != 2)
			return sh_error("stream cut inside a record header");
		hlen = pre[8] | (size_t)pre[9] << 8;
	} else if (major == 2 || major == 3) {
		unsigned char l[4];
		if (sh_read_full(f, l, 4) != 4)
			return sh_error("stream cut inside a record header");
		hlen = l[0] | (size_t)l[1] << 8 | (size_t)l[2] << 16 | (size_t)l[3] << 24;
		if (hlen > (1u << 20))
			return sh_error("npy header of %zu bytes is too large", hlen);
	} else {
		return sh_error("unsupported .npy version %d.%d", major, pre[7]);
	}
	char *hdr = malloc(hlen + 1);
	if (!hdr)
		return sh_error("out of memory");
	if (sh_read_full(f, hdr, hlen) != (long)hlen) {
		free(hdr);
		return sh_error("stream cut inside a record header");
	}
	hdr[hlen] = 0;
	int rc = parse_header_dict(hdr, h);
	free(hdr);
	return rc < 0 ? -1 : 1;
}

int npy_read_data(FILE *f, const npy_header *h, void *buf)
{
	if (!h->nbytes)
		return 0;
	size_t got = fread(buf, 1, h->nbytes, f);
	if (got == h->nbytes)
		return 0;
	if (ferror(f))
		return sh_error("read error: %s", strerror(errno));
	return sh_error("stream cut inside a record: header promises %zu bytes of data, got %zu",
			h->nbytes, got);
}

void npy_to_f32(float *dst, const void *src, sh_dtype t, size_t n)
{
	switch (t) {
	case SH_F32: memmove(dst, src, n * 4); break;
	case SH_U8: for (size_t i = 0; i < n; i++) dst[i] = ((const uint8_t *)src)[i]; break;
	case SH_U16: for (size_t i = 0; i < n; i++) dst[i] = ((const uint16_t *)src)[i]; break;
	case SH_I16: for (size_t i = 0; i < n; i++) dst[i] = ((const int16_t *)src)[i]; break;
	case SH_F64: for (size_t i = 0; i < n; i++) dst[i] = (float)((const double *)src)[i]; break;
	case SH_I32: for (size_t i = 0; i < n; i++) dst[i] = (float)((const int32_t *)src)[i]; break;
	case SH_I64: for (size_t i = 0; i < n; i++) dst[i] = (float)((const int64_t *)src)[i]; break;
	default: break;
	}
}

int npy_read_record(FILE *f, npy_record *r)
{
	r->index = r->nread;
	int rc = npy_read_header(f, &r->h);
	if (rc <= 0)
		return rc < 0 ? sh_error_prefix("record %ld", r->index) : 0;
	if (r->h.nbytes > r->cap || !r->data) {
		void *p = realloc(r->data, r->h.nbytes ? r->h.nbytes : 1);
		if (!p)
			return sh_error("record %ld: out of memory for %zu bytes", r->index, r->h.nbytes);
		r->data = p;
		r->cap = r->h.nbytes;
	}
	if (npy_read_data(f, &r->h, r->data) < 0)
		return sh_error_prefix("record %ld", r->index);
	r->nread++;
	return 1;
}

void npy_record_free(npy_record *r)
{
	free(r->data);
	memset(r, 0, sizeof *r);
}

int npy_write_header(FILE *f, sh_dtype t, int ndim, const int64_t *shape)
{
	char dict[512], shp[256] = "";
	size_t n = 0;
	for (int i = 0; i < ndim; i++)
		n += snprintf(shp + n, sizeof shp - n, ndim == 1 ? "%lld," : (i ? ", %lld" : "%lld"),
			      (long long)shape[i]);
	int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
			   sh_dtype_descr(t), shp);
	/* magic(6) + version(2) + length(2) + dict + padding + '\n' is a multiple of 64 */
	int total = (10 + len + 1 + 63) / 64 * 64;
	int pad = total - 10 - len - 1;
	unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
	int hlen = len + pad + 1;
	pre[8] = hlen & 0xff;
	pre[9] = hlen >> 8;
	if (fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, len, f) != (size_t)len ||
	    fprintf(f, "%*s\n", pad, "") < 0)
		return sh_error("write error: %s", strerror(errno));
	return 0;
}

int npy_write(FILE *f, sh_dtype t, int ndim, const int64_t *shape, const void *data)
{
	size_t count = 1;
	for (int i = 0; i < ndim; i++)
		count *= (size_t)shape[i];
	if (npy_write_header(f, t, ndim, shape) < 0)
		return -1;
	size_t nb = count * sh_dtype_size(t);
	if (nb && fwrite(data, 1, nb, f) != nb)
		return sh_error("write error: %s", strerror(errno));
	return 0;
}

int npy_write_1d(FILE *f, sh_dtype t, size_t n, const void *data)
{
	int64_t shape[1] = {(int64_t)n};
	return npy_write(f, t, 1, shape, data);
}
