/* test_npy.c: tensor streams (lib/npy.c): round trips of every dtype at ranks 0-3 and with
 * empty dimensions, multi-record streams, the header layout numpy expects, conversion to
 * float, and every malformed input: bad magic, unsupported version, unsupported dtype,
 * fortran_order True, bad shapes, a header promising more data than present, and streams cut
 * inside a header or a record. Streams live in memory (open_memstream / fmemopen). */
#include "npy.h"
#include "tap.h"
#include "util.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>

typedef struct {
	char *buf;
	size_t len;
} mem;

static FILE *reader(const mem *m) { return fmemopen(m->len ? m->buf : "", m->len, "rb"); }

/* A record made by hand: magic, version major.0, header length field, dict, data. */
static void raw_record(FILE *f, int major, const char *dict, const void *data, size_t nbytes)
{
	size_t dl = strlen(dict);
	size_t pre = major == 1 ? 10 : 12;
	size_t total = (pre + dl + 1 + 63) / 64 * 64, hlen = total - pre;
	unsigned char p[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major, 0};
	for (size_t i = 0; i < pre - 8; i++)
		p[8 + i] = (unsigned char)(hlen >> (8 * i));
	fwrite(p, 1, pre, f);
	fwrite(dict, 1, dl, f);
	for (size_t i = dl; i + 1 < hlen; i++)
		fputc(' ', f);
	fputc('\n', f);
	if (nbytes)
		fwrite(data, 1, nbytes, f);
}

static void fill(void *buf, sh_dtype t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double v = (double)i * 7 - 3; /* negative and positive, exact in every dtype used */
		switch (t) {
		case SH_F32: ((float *)buf)[i] = (float)(v * 0.25); break;
		case SH_U8: ((uint8_t *)buf)[i] = (uint8_t)(i * 37); break;
		case SH_U16: ((uint16_t *)buf)[i] = (uint16_t)(i * 4099); break;
		case SH_I16: ((int16_t *)buf)[i] = (int16_t)(v * 100); break;
		case SH_F64: ((double *)buf)[i] = v / 3; break;
		case SH_I32: ((int32_t *)buf)[i] = (int32_t)(v * 1e6); break;
		case SH_I64: ((int64_t *)buf)[i] = (int64_t)v * 1000000000000LL; break;
		default: break;
		}
	}
}

static void test_round_trips(void)
{
	static const int64_t shapes[][3] = {{0}, {5}, {2, 3}, {2, 3, 4}};
	static const int ranks[] = {0, 1, 2, 3};
	for (int t = 0; t < SH_DTYPE_COUNT; t++)
		for (int k = 0; k < 4; k++) {
			size_t n = 1;
			for (int d = 0; d < ranks[k]; d++)
				n *= (size_t)shapes[k][d];
			size_t nb = n * sh_dtype_size(t);
			unsigned char *src = malloc(nb), *back = NULL;
			fill(src, t, n);
			mem m = {0};
			FILE *w = open_memstream(&m.buf, &m.len);
			int wrc = npy_write(w, t, ranks[k], shapes[k], src);
			fclose(w);
			FILE *r = reader(&m);
			npy_header h;
			int rc = npy_read_header(r, &h);
			int good = wrc == 0 && rc == 1 && h.dtype == (sh_dtype)t && h.ndim == ranks[k] &&
				   h.count == n && h.nbytes == nb;
			for (int d = 0; good && d < ranks[k]; d++)
				good = h.shape[d] == shapes[k][d];
			if (good) {
				back = malloc(nb);
				good = npy_read_data(r, &h, back) == 0 && !memcmp(back, src, nb);
			}
			good = good && npy_read_header(r, &h) == 0; /* clean end after the record */
			/* numpy's layout: header padded so the data starts at a multiple of 64, ends in '\n' */
			unsigned hl = (unsigned char)m.buf[8] | (unsigned char)m.buf[9] << 8;
			good = good && (10 + hl) % 64 == 0 && m.buf[10 + hl - 1] == '\n' && m.len == 10 + hl + nb;
			tap_ok(good, "round trip %s rank %d (%zu values, %zu bytes)", sh_dtype_descr(t), ranks[k], n,
			       m.len);
			fclose(r);
			free(m.buf);
			free(src);
			free(back);
		}

	/* empty dimensions: (0,) and (3, 0) hold no data but are valid records */
	mem m = {0};
	FILE *w = open_memstream(&m.buf, &m.len);
	int64_t s0[1] = {0}, s30[2] = {3, 0};
	npy_write(w, SH_F32, 1, s0, NULL);
	npy_write(w, SH_U8, 2, s30, NULL);
	fclose(w);
	FILE *r = reader(&m);
	npy_record rec = {0};
	int a = npy_read_record(r, &rec), ca = rec.h.count == 0 && rec.h.ndim == 1;
	int b = npy_read_record(r, &rec), cb = rec.h.count == 0 && rec.h.ndim == 2 && rec.h.shape[0] == 3;
	int c = npy_read_record(r, &rec);
	tap_ok(a == 1 && ca && b == 1 && cb && c == 0, "records with an empty dimension, (0,) and (3, 0)");
	npy_record_free(&rec);
	fclose(r);
	free(m.buf);
}

static void test_stream(void)
{
	/* a stream of records of different dtypes and sizes, read back with one reused buffer */
	mem m = {0};
	FILE *w = open_memstream(&m.buf, &m.len);
	float f[1000];
	uint16_t u[7];
	double d[3] = {1.5, -2.25, 1e300};
	fill(f, SH_F32, 1000);
	fill(u, SH_U16, 7);
	npy_write_1d(w, SH_F32, 10, f);
	npy_write_1d(w, SH_F32, 1000, f);
	npy_write_1d(w, SH_U16, 7, u);
	npy_write_1d(w, SH_F64, 3, d);
	fclose(w);
	FILE *r = reader(&m);
	npy_record rec = {0};
	int good = 1;
	good &= npy_read_record(r, &rec) == 1 && rec.h.count == 10 && !memcmp(rec.data, f, 40);
	good &= npy_read_record(r, &rec) == 1 && rec.h.count == 1000 && !memcmp(rec.data, f, 4000);
	good &= npy_read_record(r, &rec) == 1 && rec.h.dtype == SH_U16 && !memcmp(rec.data, u, 14);
	good &= npy_read_record(r, &rec) == 1 && rec.h.dtype == SH_F64 && !memcmp(rec.data, d, 24);
	good &= rec.index == 3 && rec.nread == 4;
	good &= npy_read_record(r, &rec) == 0;
	tap_ok(good, "four records of three dtypes read back in order, then a clean end");
	npy_record_free(&rec);
	fclose(r);
	free(m.buf);

	mem empty = {0};
	r = reader(&empty);
	tap_ok(npy_read_record(r, &rec) == 0, "an empty stream is zero records");
	fclose(r);
	npy_record_free(&rec);
}

static void test_to_f32(void)
{
	uint8_t u8[3] = {0, 128, 255};
	uint16_t u16[3] = {0, 1000, 65535};
	int16_t i16[3] = {-32768, 0, 32767};
	double f64[3] = {-0.5, 1e-3, 2};
	int32_t i32[2] = {-7, 1 << 20};
	int64_t i64[2] = {-9, 1LL << 40};
	float o[3];
	npy_to_f32(o, u8, SH_U8, 3);
	int good = o[0] == 0 && o[1] == 128 && o[2] == 255;
	npy_to_f32(o, u16, SH_U16, 3);
	good &= o[1] == 1000 && o[2] == 65535;
	npy_to_f32(o, i16, SH_I16, 3);
	good &= o[0] == -32768 && o[2] == 32767;
	npy_to_f32(o, f64, SH_F64, 3);
	good &= o[0] == -0.5f && o[1] == 1e-3f && o[2] == 2;
	npy_to_f32(o, i32, SH_I32, 2);
	good &= o[0] == -7 && o[1] == 1 << 20;
	npy_to_f32(o, i64, SH_I64, 2);
	good &= o[0] == -9 && o[1] == (float)(1LL << 40);
	tap_ok(good, "npy_to_f32 converts every dtype by value (codes keep their integer value)");
}

/* Expects reading the stream in m to fail at record `index` with a message containing want. */
static void expect_error(const mem *m, long index, const char *want, const char *what)
{
	FILE *r = reader(m);
	npy_record rec = {0};
	int rc;
	while ((rc = npy_read_record(r, &rec)) == 1)
		;
	char prefix[32];
	snprintf(prefix, sizeof prefix, "record %ld: ", index);
	int good = rc == -1 && !strncmp(sh_errmsg(), prefix, strlen(prefix)) && strstr(sh_errmsg(), want);
	tap_ok(good, "%s: %s", what, rc == -1 ? sh_errmsg() : "(no error)");
	npy_record_free(&rec);
	fclose(r);
}

/* BUILD(statements): m is what the statements write to w */
#define BUILD(stmts)                                                                                                   \
	do {                                                                                                           \
		m = (mem){0};                                                                                          \
		w = open_memstream(&m.buf, &m.len);                                                                    \
		stmts;                                                                                                 \
		fclose(w);                                                                                             \
	} while (0)

static void test_malformed(void)
{
	float x[4] = {1, 2, 3, 4};
	mem m;
	FILE *w;

	BUILD(fwrite("RIFF\x24\0\0\0WAVEfmt ", 1, 16, w));
	expect_error(&m, 0, "bad magic", "a wav file is refused (bad magic)");
	free(m.buf);

	BUILD(npy_write_1d(w, SH_F32, 4, x); fwrite("\x93NUMPX\x01\x00\x10\x00", 1, 10, w));
	expect_error(&m, 1, "bad magic", "bad magic in the second record names record 1");
	free(m.buf);

	BUILD(raw_record(w, 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", x, 16));
	expect_error(&m, 0, "unsupported .npy version 4.0", "version 4.0 refused");
	free(m.buf);

	BUILD(raw_record(w, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", x, 16);
	      raw_record(w, 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", x, 16));
	FILE *r = reader(&m);
	npy_record rec = {0};
	int a = npy_read_record(r, &rec), ok2 = a == 1 && rec.h.count == 4 && !memcmp(rec.data, x, 16);
	int b = npy_read_record(r, &rec), ok3 = b == 1 && rec.h.ndim == 2 && !memcmp(rec.data, x, 16);
	tap_ok(ok2 && ok3 && npy_read_record(r, &rec) == 0, "versions 2.0 and 3.0 (4-byte header length) are read");
	npy_record_free(&rec);
	fclose(r);
	free(m.buf);

	static const char *bad_dtypes[] = {">f4", "<c8", "|b1", "<U3", "O", ">u2"};
	for (size_t i = 0; i < SH_ARRAY_LEN(bad_dtypes); i++) {
		char dict[128];
		snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (4,), }", bad_dtypes[i]);
		BUILD(raw_record(w, 1, dict, x, 16));
		char what[64];
		snprintf(what, sizeof what, "dtype %s refused", bad_dtypes[i]);
		expect_error(&m, 0, "unsupported dtype", what);
		free(m.buf);
	}
	BUILD(raw_record(w, 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", x, 16));
	expect_error(&m, 0, "structured", "a structured dtype is refused");
	free(m.buf);

	BUILD(raw_record(w, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", x, 16));
	expect_error(&m, 0, "fortran_order: True", "fortran_order True refused");
	free(m.buf);

	BUILD(raw_record(w, 1, "{'descr': '<f4', 'fortran_order': False, }", x, 16));
	expect_error(&m, 0, "no 'shape'", "a header without shape refused");
	free(m.buf);
	BUILD(raw_record(w, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, x), }", x, 16));
	expect_error(&m, 0, "bad 'shape'", "a malformed shape refused");
	free(m.buf);
	BUILD(raw_record(w, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", x, 16));
	expect_error(&m, 0, "bad 'shape'", "a negative dimension refused");
	free(m.buf);
	BUILD(raw_record(
		w, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }",
		x, 16));
	expect_error(&m, 0, "overflow", "a shape whose size overflows refused");
	free(m.buf);
	BUILD(raw_record(w, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }", x,
			 4));
	expect_error(&m, 0, "more than 8 dimensions", "nine dimensions refused");
	free(m.buf);

	/* a header that promises more data than the stream holds */
	BUILD(raw_record(w, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (100,), }", x, 16));
	expect_error(&m, 0, "header promises 400 bytes of data, got 16", "a header promising more data than present");
	free(m.buf);
	/* ... and when it promises less, the rest is read as the next record and refused */
	BUILD(raw_record(w, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", x, 16));
	expect_error(&m, 1, "bad magic", "a header promising less data than present: the leftover is a bad record 1");
	free(m.buf);

	/* streams cut at every byte inside the second record: always an error naming record 1 */
	BUILD(npy_write_1d(w, SH_F32, 4, x); npy_write_1d(w, SH_F32, 4, x));
	size_t one = m.len / 2, bad = 0;
	for (size_t cut = one + 1; cut < m.len; cut++) {
		mem c = {m.buf, cut};
		FILE *rc = reader(&c);
		npy_record rr = {0};
		int r1 = npy_read_record(rc, &rr), r2 = npy_read_record(rc, &rr);
		const char *want = cut < one + 64 ? "cut inside a record header" : "cut inside a record";
		if (!(r1 == 1 && r2 == -1 && !strncmp(sh_errmsg(), "record 1: ", 10) && strstr(sh_errmsg(), want))) {
			if (!bad)
				tap_diag("cut at %zu: %d %d %s", cut, r1, r2, sh_errmsg());
			bad++;
		}
		npy_record_free(&rr);
		fclose(rc);
	}
	tap_ok(!bad, "a stream cut at any of the %zu bytes inside record 1 is an error naming it (%zu wrong)",
	       m.len - one - 1, bad);
	free(m.buf);
}

/* The header is parsed as a dict literal: a key's name inside another key's value, extra keys,
 * repeated keys and Python's non-tuple (5) are refused, which a substring search let through. */
static void test_dict_parser(void)
{
	float x[4] = {1, 2, 3, 4};
	mem m;
	FILE *w;
	static const struct {
		const char *dict;
		const char *want;
	} bad[] = {
		{"{'shape': (4,), 'fortran_order': False, 'x': \"'descr': '<f4'\"}", "key 'x'"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'rate': 16000}", "key 'rate'"},
		{"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", "'descr' twice"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (4)}", "is no tuple"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (4,,)}", "bad 'shape'"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2 2)}", "bad 'shape'"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (04,)}", "bad 'shape'"},
		{"{'descr': '<f4', 'fortran_order': Falsey, 'shape': (4,)}", "bad 'fortran_order'"},
		{"{'descr': '<f4' 'fortran_order': False, 'shape': (4,)}", "want ',' or '}'"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} x", "unexpected 'x'"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} # rate=0", "bad rate"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} # rate=16k", "bad rate"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} # rate=99999999999999999999", "bad rate"},
		{"{'descr': '<f\\4', 'fortran_order': False, 'shape': (4,)}", "bad 'descr'"},
		{"'descr': '<f4'", "not a dict"},
	};
	for (size_t i = 0; i < SH_ARRAY_LEN(bad); i++) {
		BUILD(raw_record(w, 1, bad[i].dict, x, 16));
		char what[160];
		snprintf(what, sizeof what, "header %.120s refused", bad[i].dict);
		expect_error(&m, 0, bad[i].want, what);
		free(m.buf);
	}
	/* what numpy writes and what Python accepts: any key order, either quote, no trailing comma */
	static const char *good[] = {
		"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
		"{\"shape\": (2, 2), \"descr\": \"<f4\", \"fortran_order\": False}",
		"{'fortran_order':False,'shape':(1,4,),'descr':'<f4'}",
	};
	int ngood = 0;
	for (size_t i = 0; i < SH_ARRAY_LEN(good); i++) {
		BUILD(raw_record(w, 1, good[i], x, 16));
		FILE *r = reader(&m);
		npy_record rec = {0};
		ngood += npy_read_record(r, &rec) == 1 && rec.h.count == 4 && rec.h.rate == 0 &&
			 !memcmp(rec.data, x, 16);
		npy_record_free(&rec);
		fclose(r);
		free(m.buf);
	}
	tap_ok(ngood == (int)SH_ARRAY_LEN(good), "well-formed headers in any key order and quoting read (%d of %zu)",
	       ngood, SH_ARRAY_LEN(good));
#undef BUILD
}

/* The rate travels in the header comment; numpy's own test is tests/npy_interop.t. */
static void test_rate(void)
{
	float x[3] = {1, 2, 3};
	mem m = {0};
	FILE *w = open_memstream(&m.buf, &m.len);
	int64_t s3[1] = {3};
	npy_write_rate(w, SH_F32, 1, s3, x, 22050);
	npy_write(w, SH_F32, 1, s3, x);
	npy_write_rate(w, SH_F32, 1, s3, x, 44100);
	int wbad = npy_write_rate(w, SH_F32, 1, s3, x, NPY_RATE_MAX + 1);
	fclose(w);
	tap_ok(wbad < 0 && strstr(sh_errmsg(), "cannot be recorded"), "an impossible rate is not written: %s",
	       sh_errmsg());
	tap_ok(m.len == 3 * (128 + 12), "the rate fits in the padding: 128-byte headers with or without it (%zu bytes)",
	       m.len);
	FILE *r = reader(&m);
	npy_record rec = {0};
	int a = npy_read_record(r, &rec), ra = rec.h.rate;
	int rate = 0, c1 = npy_check_rate(&rec.h, &rate, 0);
	int b = npy_read_record(r, &rec), rb = rec.h.rate, c2 = npy_check_rate(&rec.h, &rate, 0);
	int c = npy_read_record(r, &rec), rc = rec.h.rate, c3 = npy_check_rate(&rec.h, &rate, 0);
	tap_ok(a == 1 && b == 1 && c == 1 && ra == 22050 && rb == 0 && rc == 44100 && !memcmp(rec.data, x, 12),
	       "rates read back: 22050, none, 44100");
	tap_ok(c1 == 0 && c2 == 0 && c3 < 0 && strstr(sh_errmsg(), "at 44100 Hz, earlier records at 22050 Hz"),
	       "a stream that changes rate is refused: %s", sh_errmsg());
	int given = 16000;
	rewind(r);
	npy_read_record(r, &rec);
	tap_ok(npy_check_rate(&rec.h, &given, 1) < 0 && strstr(sh_errmsg(), "at 22050 Hz, -r says 16000"),
	       "a stream at another rate than -r is refused: %s", sh_errmsg());
	npy_record_free(&rec);
	fclose(r);
	free(m.buf);
}

/* Bytes that lie about their size: 128 bytes claiming 3.2 GB end in "truncated", and nothing
 * near the claim is allocated (the address-space limit would make such a malloc fail). */
static void test_lying_header(void)
{
	float x[4] = {1, 2, 3, 4};
	mem m = {0};
	FILE *w = open_memstream(&m.buf, &m.len);
	raw_record(w, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (800000000,), }", x, 16);
	fclose(w);
	struct rlimit old;
	getrlimit(RLIMIT_AS, &old);
#ifdef __SANITIZE_ADDRESS__
	int limited = 0; /* AddressSanitizer's shadow memory needs far more address space */
#else
	struct rlimit lim = {(rlim_t)1 << 31, old.rlim_max};
	int limited = old.rlim_cur > lim.rlim_cur && setrlimit(RLIMIT_AS, &lim) == 0;
#endif
	FILE *r = reader(&m);
	npy_record rec = {0};
	int rc = npy_read_record(r, &rec);
	if (limited)
		setrlimit(RLIMIT_AS, &old);
	tap_ok(rc == -1 && strstr(sh_errmsg(), "truncated") &&
		       strstr(sh_errmsg(), "promises 3200000000 bytes of data, got 16"),
	       "%zu bytes claiming 3.2 GB: %s", m.len, sh_errmsg());
	npy_record_free(&rec);
	fclose(r);
	free(m.buf);

	/* an empty float record converts without touching its (absent) data */
	float o[1] = {5};
	npy_to_f32(o, NULL, SH_F32, 0);
	tap_ok(o[0] == 5, "npy_to_f32 of zero values reads nothing");

	/* a directory read as a stream */
	FILE *d = fopen("/", "rb");
	npy_header h;
	tap_ok(d && npy_read_header(d, &h) < 0 && strstr(sh_errmsg(), "is a directory"), "a directory: %s",
	       sh_errmsg());
	if (d)
		fclose(d);
}

int main(void)
{
	test_round_trips();
	test_stream();
	test_to_f32();
	test_malformed();
	test_dict_parser();
	test_rate();
	test_lying_header();
	return tap_done();
}
