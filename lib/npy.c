/* npy.c: NumPy .npy records read and written sequentially (see npy.h). */
#include "npy.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *descr[3];
	size_t size;
} dtypes[SH_DTYPE_COUNT] = {
	[SH_F32] = {{"<f4", NULL, NULL}, 4}, [SH_U8] = {{"|u1", "<u1", "u1"}, 1}, [SH_U16] = {{"<u2", NULL, NULL}, 2},
	[SH_I16] = {{"<i2", NULL, NULL}, 2}, [SH_F64] = {{"<f8", NULL, NULL}, 8}, [SH_I32] = {{"<i4", NULL, NULL}, 4},
	[SH_I64] = {{"<i8", NULL, NULL}, 8},
};

size_t sh_dtype_size(sh_dtype t) { return dtypes[t].size; }
const char *sh_dtype_descr(sh_dtype t) { return dtypes[t].descr[0]; }

/* The header is a Python dict literal, parsed as one (not searched for substrings): exactly the
 * keys 'descr', 'fortran_order' and 'shape', each once, then optionally a comment that carries
 * the stream's sample rate ("# rate=22050", see npy.h), then spaces and the newline. */
typedef struct {
	const char *s, *end;
} cursor;

static void skip_ws(cursor *c)
{
	while (c->s < c->end && (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == '\r'))
		c->s++;
}

static int eat(cursor *c, char ch)
{
	skip_ws(c);
	if (c->s < c->end && *c->s == ch) {
		c->s++;
		return 1;
	}
	return 0;
}

/* A quoted string without escapes into out (cap bytes with the NUL). */
static int parse_str(cursor *c, char *out, size_t cap)
{
	skip_ws(c);
	if (c->s >= c->end || (*c->s != '\'' && *c->s != '"'))
		return -1;
	char q = *c->s++;
	size_t n = 0;
	while (c->s < c->end && *c->s != q) {
		if (*c->s == '\\' || n + 1 >= cap)
			return -1;
		out[n++] = *c->s++;
	}
	if (c->s >= c->end)
		return -1;
	c->s++;
	out[n] = 0;
	return 0;
}

static int parse_word(cursor *c, const char *w)
{
	size_t n = strlen(w);
	skip_ws(c);
	if ((size_t)(c->end - c->s) < n || memcmp(c->s, w, n) ||
	    (c->s + n < c->end && (isalnum((unsigned char)c->s[n]) || c->s[n] == '_')))
		return 0;
	c->s += n;
	return 1;
}

static int parse_descr(cursor *c, npy_header *h)
{
	skip_ws(c);
	if (c->s < c->end && *c->s == '[')
		return sh_error("structured dtypes are not supported (want <f4, |u1, <u2, <i2, <f8, <i4 or <i8)");
	char descr[16];
	if (parse_str(c, descr, sizeof descr) < 0)
		return sh_error("bad 'descr' in npy header (want a dtype string such as '<f4')");
	for (int t = 0; t < SH_DTYPE_COUNT; t++)
		for (int k = 0; k < 3 && dtypes[t].descr[k]; k++)
			if (!strcmp(descr, dtypes[t].descr[k])) {
				h->dtype = t;
				return 0;
			}
	return sh_error("unsupported dtype '%s' (want <f4, |u1, <u2, <i2, <f8, <i4 or <i8)", descr);
}

/* A tuple of non-negative decimal integers, Python's syntax: (), (5,), (2, 3) or (2, 3,). */
static int parse_shape(cursor *c, npy_header *h)
{
	if (!eat(c, '('))
		return sh_error("bad 'shape' in npy header (want a tuple such as (5,))");
	h->ndim = 0;
	h->count = 1;
	int comma = 0;
	while (!eat(c, ')')) {
		skip_ws(c);
		if (h->ndim && !comma)
			return sh_error("bad 'shape' in npy header (want a tuple such as (5,))");
		if (c->s >= c->end || !isdigit((unsigned char)*c->s) ||
		    (*c->s == '0' && c->s + 1 < c->end && isdigit((unsigned char)c->s[1])))
			return sh_error("bad 'shape' in npy header (want non-negative whole numbers)");
		if (h->ndim == NPY_MAX_DIMS)
			return sh_error("npy record has more than %d dimensions", NPY_MAX_DIMS);
		uint64_t d = 0;
		while (c->s < c->end && isdigit((unsigned char)*c->s)) {
			if (d > (1ULL << 62) / 10)
				return sh_error("bad 'shape' in npy header (dimension too large)");
			d = d * 10 + (uint64_t)(*c->s++ - '0');
		}
		h->shape[h->ndim++] = (int64_t)d;
		if (!sh_mul_size(h->count, (size_t)d, &h->count))
			return -1;
		comma = eat(c, ',');
	}
	if (h->ndim == 1 && !comma)
		return sh_error("bad 'shape' in npy header: (%lld) is no tuple in Python, want (%lld,)",
				(long long)h->shape[0], (long long)h->shape[0]);
	return sh_mul_size(h->count, dtypes[h->dtype].size, &h->nbytes) ? 0 : -1;
}

/* The comment after the dict: words; "rate=N" gives the sample rate, other words are ignored. */
static int parse_comment(cursor *c, npy_header *h)
{
	while (c->s < c->end && *c->s != '\n') {
		while (c->s < c->end && (*c->s == ' ' || *c->s == '\t'))
			c->s++;
		const char *w = c->s;
		while (c->s < c->end && *c->s != ' ' && *c->s != '\t' && *c->s != '\n')
			c->s++;
		size_t n = (size_t)(c->s - w);
		if (n > 5 && !memcmp(w, "rate=", 5)) {
			long r = 0;
			size_t i = 5;
			for (; i < n && isdigit((unsigned char)w[i]) && r <= NPY_RATE_MAX; i++)
				r = r * 10 + (w[i] - '0');
			if (i != n || r < NPY_RATE_MIN || r > NPY_RATE_MAX)
				return sh_error("bad rate in npy header comment: '%.*s' (want rate=%d..%d)",
						(int)SH_MIN(n, 32), w, NPY_RATE_MIN, NPY_RATE_MAX);
			if (h->rate && h->rate != (int)r)
				return sh_error("npy header comment gives two rates");
			h->rate = (int)r;
		}
	}
	return 0;
}

static int parse_header_dict(const char *hdr, size_t len, npy_header *h)
{
	cursor c = {hdr, hdr + len};
	int seen[3] = {0, 0, 0};
	static const char *keys[3] = {"descr", "fortran_order", "shape"};
	if (!eat(&c, '{'))
		return sh_error("npy header is not a dict");
	while (!eat(&c, '}')) {
		char key[32];
		if (parse_str(&c, key, sizeof key) < 0)
			return sh_error("bad npy header: want a quoted key or '}' at byte %zu", (size_t)(c.s - hdr));
		int k = 0;
		while (k < 3 && strcmp(key, keys[k]))
			k++;
		if (k == 3)
			return sh_error("npy header has a key '%s' (want only 'descr', 'fortran_order' and 'shape')",
					key);
		if (seen[k]++)
			return sh_error("npy header has '%s' twice", key);
		if (!eat(&c, ':'))
			return sh_error("bad npy header: want ':' after '%s'", key);
		int rc = 0;
		if (k == 0) {
			rc = parse_descr(&c, h);
		} else if (k == 1) {
			if (parse_word(&c, "True"))
				return sh_error("fortran_order: True is not supported (write C-order arrays)");
			if (!parse_word(&c, "False"))
				return sh_error("bad 'fortran_order' in npy header (want False)");
		} else {
			/* the byte count needs the dtype: checked again below once everything is read */
			sh_dtype t = h->dtype;
			h->dtype = SH_U8;
			rc = parse_shape(&c, h);
			h->dtype = t;
		}
		if (rc < 0)
			return -1;
		if (!eat(&c, ',')) {
			if (eat(&c, '}'))
				break;
			return sh_error("bad npy header: want ',' or '}' after '%s'", key);
		}
	}
	for (int k = 0; k < 3; k++)
		if (!seen[k])
			return sh_error("npy header has no '%s'", keys[k]);
	if (!sh_mul_size(h->count, dtypes[h->dtype].size, &h->nbytes))
		return -1;
	while (c.s < c.end && (*c.s == ' ' || *c.s == '\t'))
		c.s++;
	if (c.s < c.end && *c.s == '#') {
		c.s++;
		if (parse_comment(&c, h) < 0)
			return -1;
	}
	skip_ws(&c);
	if (c.s != c.end)
		return sh_error("npy header: unexpected '%c' after the dict", *c.s);
	return 0;
}

/* A failed read inside a record: the I/O error when there is one, else where the stream ended. */
static int cut_error(FILE *f, const char *where)
{
	if (ferror(f))
		return errno == EISDIR ? sh_error("is a directory, not a tensor stream")
				       : sh_error("read error: %s", strerror(errno));
	return sh_error("truncated stream: cut inside a record%s", where);
}

int npy_read_header(FILE *f, npy_header *h)
{
	unsigned char pre[10];
	memset(h, 0, sizeof *h);
	size_t got = fread(pre, 1, 8, f);
	if (got == 0 && !ferror(f))
		return 0;
	if (got < 8)
		return cut_error(f, " header");
	if (memcmp(pre, "\x93NUMPY", 6))
		return sh_error("bad magic: not a .npy record");
	int major = pre[6];
	size_t hlen;
	if (major == 1) {
		if (fread(pre + 8, 1, 2, f) != 2)
			return cut_error(f, " header");
		hlen = pre[8] | (size_t)pre[9] << 8;
	} else if (major == 2 || major == 3) {
		unsigned char l[4];
		if (fread(l, 1, 4, f) != 4)
			return cut_error(f, " header");
		hlen = l[0] | (size_t)l[1] << 8 | (size_t)l[2] << 16 | (size_t)l[3] << 24;
		if (hlen > NPY_MAX_HEADER)
			return sh_error("npy header of %zu bytes is too large (at most %d)", hlen, NPY_MAX_HEADER);
	} else {
		return sh_error("unsupported .npy version %d.%d", major, pre[7]);
	}
	/* at most 64 KiB (version 1.0's limit) or NPY_MAX_HEADER: small enough to hold at once */
	char *hdr = malloc(hlen + 1);
	if (!hdr)
		return sh_error("out of memory");
	if (fread(hdr, 1, hlen, f) != hlen) {
		free(hdr);
		return cut_error(f, " header");
	}
	hdr[hlen] = 0;
	int rc = parse_header_dict(hdr, hlen, h);
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
		return cut_error(f, "");
	return sh_error("truncated stream: cut inside a record, the header promises %zu bytes of data, got %zu",
			h->nbytes, got);
}

void npy_to_f32(float *dst, const void *src, sh_dtype t, size_t n)
{
	switch (t) {
	case SH_F32:
		if (n)
			memmove(dst, src, n * 4);
		break;
	case SH_U8:
		for (size_t i = 0; i < n; i++)
			dst[i] = ((const uint8_t *)src)[i];
		break;
	case SH_U16:
		for (size_t i = 0; i < n; i++)
			dst[i] = ((const uint16_t *)src)[i];
		break;
	case SH_I16:
		for (size_t i = 0; i < n; i++)
			dst[i] = ((const int16_t *)src)[i];
		break;
	case SH_F64:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)((const double *)src)[i];
		break;
	case SH_I32:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)((const int32_t *)src)[i];
		break;
	case SH_I64:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)((const int64_t *)src)[i];
		break;
	default: break;
	}
}

/* The buffer grows as the data arrive, never ahead of them by more than it holds already (or
 * 1 MiB): a header that lies about its size ends in "truncated", not in a huge allocation. */
int npy_read_record(FILE *f, npy_record *r)
{
	r->index = r->nread;
	int rc = npy_read_header(f, &r->h);
	if (rc <= 0)
		return rc < 0 ? sh_error_prefix("record %ld", r->index) : 0;
	size_t need = r->h.nbytes, have = 0;
	if (!r->data) {
		r->cap = SH_MIN(need, (size_t)1 << 20);
		if (!(r->data = malloc(r->cap ? r->cap : 1)))
			return sh_error("record %ld: out of memory", r->index);
	}
	while (have < need) {
		if (have == r->cap) {
			size_t cap = SH_MIN(need, SH_MAX(2 * r->cap, (size_t)1 << 20));
			void *p = realloc(r->data, cap);
			if (!p)
				return sh_error("record %ld: out of memory for %zu bytes", r->index, cap);
			r->data = p;
			r->cap = cap;
		}
		size_t n = SH_MIN(need, r->cap) - have;
		size_t got = fread((char *)r->data + have, 1, n, f);
		have += got;
		if (got < n) {
			if (ferror(f))
				return cut_error(f, ""), sh_error_prefix("record %ld", r->index);
			return sh_error("record %ld: truncated stream: cut inside a record, the header promises %zu "
					"bytes of data, got %zu",
					r->index, need, have);
		}
	}
	r->nread++;
	return 1;
}

void *npy_record_take(npy_record *r)
{
	void *p = r->data;
	r->data = NULL;
	r->cap = 0;
	return p;
}

void npy_record_free(npy_record *r)
{
	free(r->data);
	memset(r, 0, sizeof *r);
}

int npy_write_header_rate(FILE *f, sh_dtype t, int ndim, const int64_t *shape, int rate)
{
	if (ndim < 0 || ndim > NPY_MAX_DIMS)
		return sh_error("npy record of rank %d (at most %d)", ndim, NPY_MAX_DIMS);
	if (rate && (rate < NPY_RATE_MIN || rate > NPY_RATE_MAX))
		return sh_error("sample rate %d Hz cannot be recorded (want %d..%d)", rate, NPY_RATE_MIN, NPY_RATE_MAX);
	char dict[512], shp[256] = "", comment[32] = "";
	size_t n = 0;
	for (int i = 0; i < ndim; i++)
		n += snprintf(shp + n, sizeof shp - n, ndim == 1 ? "%lld," : (i ? ", %lld" : "%lld"),
			      (long long)shape[i]);
	if (rate)
		snprintf(comment, sizeof comment, " # rate=%d", rate);
	int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }%s",
			   sh_dtype_descr(t), shp, comment);
	/* magic(6) + version(2) + length(2) + dict + padding + '\n' is a multiple of 64 */
	int total = (10 + len + 1 + 63) / 64 * 64;
	int pad = total - 10 - len - 1;
	unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
	int hlen = len + pad + 1;
	pre[8] = hlen & 0xff;
	pre[9] = hlen >> 8;
	if (fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, len, f) != (size_t)len || fprintf(f, "%*s\n", pad, "") < 0)
		return sh_error("write error: %s", strerror(errno));
	return 0;
}

int npy_write_header(FILE *f, sh_dtype t, int ndim, const int64_t *shape)
{
	return npy_write_header_rate(f, t, ndim, shape, 0);
}

int npy_write_rate(FILE *f, sh_dtype t, int ndim, const int64_t *shape, const void *data, int rate)
{
	size_t count = 1;
	for (int i = 0; i < ndim; i++)
		count *= (size_t)shape[i];
	if (npy_write_header_rate(f, t, ndim, shape, rate) < 0)
		return -1;
	size_t nb = count * sh_dtype_size(t);
	if (nb && fwrite(data, 1, nb, f) != nb)
		return sh_error("write error: %s", strerror(errno));
	return 0;
}

int npy_write(FILE *f, sh_dtype t, int ndim, const int64_t *shape, const void *data)
{
	return npy_write_rate(f, t, ndim, shape, data, 0);
}

int npy_write_1d(FILE *f, sh_dtype t, size_t n, const void *data)
{
	int64_t shape[1] = {(int64_t)n};
	return npy_write(f, t, 1, shape, data);
}

int npy_check_rate(const npy_header *h, int *rate, int given)
{
	if (!h->rate)
		return 0;
	if (!*rate) {
		*rate = h->rate;
		return 0;
	}
	if (h->rate != *rate)
		return given ? sh_error("the stream is at %d Hz, -r says %d", h->rate, *rate)
			     : sh_error("the stream is at %d Hz, earlier records at %d Hz", h->rate, *rate);
	return 0;
}
