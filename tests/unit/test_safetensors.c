/* test_safetensors.c: safetensors round trip, metadata, and every malformed-file check;
 * the JSON parser and writer underneath. */
#include "json.h"
#include "safetensors.h"
#include "tap.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes len bytes of a crafted file and tries to load it; returns the load's result. */
static int load_bytes(const void *bytes, size_t len, st_file *sf)
{
	FILE *f = tmpfile();
	fwrite(bytes, 1, len, f);
	rewind(f);
	int rc = st_load_fp(f, sf);
	fclose(f);
	return rc;
}

/* A file with the given JSON header and data_len zero bytes of data. */
static int load_header(const char *hdr, size_t data_len, st_file *sf)
{
	size_t hl = strlen(hdr);
	unsigned char *b = calloc(1, 8 + hl + data_len);
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
	memcpy(b + 8, hdr, hl);
	int rc = load_bytes(b, 8 + hl + data_len, sf);
	free(b);
	return rc;
}

static void test_json(void)
{
	const char *txt =
		"{\"a\": [1, 2.5, -3e2], \"b\": {\"c\": \"x\\ny\\u00e9\\ud83d\\ude00\"}, \"t\": true, \"n\": null}";
	json_value *v = json_parse(txt, strlen(txt));
	tap_ok(v != NULL, "json parses a nested document");
	const json_value *a = json_get(v, "a"), *c = json_get(json_get(v, "b"), "c");
	tap_ok(a && a->n == 3 && a->items[2].num == -300, "json arrays and numbers");
	tap_ok(c && !strcmp(c->str, "x\ny\xc3\xa9\xf0\x9f\x98\x80"), "json string escapes and surrogate pairs");
	json_free(v);
	const char *bad[] = {"{", "{\"a\" 1}", "[1,]", "{\"a\":1} x", "\"abc", "[1 2]", "tru"};
	int nbad = 0;
	for (size_t i = 0; i < SH_ARRAY_LEN(bad); i++) {
		json_value *b = json_parse(bad[i], strlen(bad[i]));
		nbad += b == NULL && strstr(sh_errmsg(), "at byte") != NULL;
		json_free(b);
	}
	tap_ok(nbad == (int)SH_ARRAY_LEN(bad), "json rejects %d malformed documents with a position", nbad);
	const char *dup[] = {"{\"a\":1,\"a\":1}", "{\"a\":1,\"b\":{\"c\":1,\"d\":2,\"c\":3}}",
			     "[{\"x\":1},{\"y\":1,\"y\":2}]"};
	int ndup = 0;
	for (size_t i = 0; i < SH_ARRAY_LEN(dup); i++) {
		json_value *b = json_parse(dup[i], strlen(dup[i]));
		ndup += b == NULL && strstr(sh_errmsg(), "appears twice") != NULL;
		json_free(b);
	}
	tap_ok(ndup == (int)SH_ARRAY_LEN(dup), "json refuses a key repeated in any object (%d of %zu)", ndup,
	       SH_ARRAY_LEN(dup));

	/* numbers beyond long long's range are written without casting them to it (UBSan, found
	 * by fuzz/json.c) and read back the same */
	json_writer big;
	jw_init(&big, 0);
	jw_arr(&big, NULL);
	static const double bigs[] = {-1.23e41, 9.3e18, 1e300, -9.2233720368547758e18, 123456789012345.0};
	for (size_t i = 0; i < SH_ARRAY_LEN(bigs); i++)
		jw_num(&big, NULL, bigs[i]);
	jw_end(&big);
	const char *bt = jw_text(&big);
	json_value *bv = bt ? json_parse(bt, strlen(bt)) : NULL;
	int same = bv && bv->n == SH_ARRAY_LEN(bigs);
	for (size_t i = 0; same && i < SH_ARRAY_LEN(bigs); i++)
		same = bv->items[i].num == bigs[i];
	tap_ok(same, "numbers out of long long's range round-trip: %s", bt ? bt : "(null)");
	json_free(bv);
	jw_free(&big);

	json_writer w;
	jw_init(&w, 1);
	jw_obj(&w, NULL);
	jw_str(&w, "name", "a \"quoted\"\tname");
	jw_arr(&w, "xs");
	jw_num(&w, NULL, 0.1);
	jw_int(&w, NULL, -7);
	jw_end(&w);
	jw_obj(&w, "empty");
	jw_end(&w);
	jw_end(&w);
	const char *out = jw_text(&w);
	json_value *back = json_parse(out, strlen(out));
	tap_ok(back && !strcmp(json_get(back, "name")->str, "a \"quoted\"\tname") &&
		       json_get(back, "xs")->items[0].num == 0.1 && json_get(back, "empty")->n == 0,
	       "json writer output parses back to the same values");
	json_free(back);
	jw_free(&w);

	/* the three layouts, byte for byte: run.json (JW_PRETTY_TOP) is read by scripts a line at a
	 * time, so its members stay one to a line and what they hold on that line */
	static const char *const want[] = {
		"{\"a\":1,\"o\":{\"b\":[1,2.5,null],\"e\":[]},\"s\":\"x\\n\\u0001\",\"f\":0.500000}",
		"{\n  \"a\": 1,\n  \"o\": {\n    \"b\": [\n      1,\n      2.5,\n      null\n    ],\n    \"e\": []\n  "
		"},\n"
		"  \"s\": \"x\\n\\u0001\",\n  \"f\": 0.500000\n}",
		"{\n  \"a\": 1,\n  \"o\": {\"b\": [1, 2.5, null], \"e\": []},\n  \"s\": \"x\\n\\u0001\",\n  \"f\": "
		"0.500000\n}",
	};
	static const int layouts[] = {JW_COMPACT, JW_PRETTY, JW_PRETTY_TOP};
	for (int k = 0; k < 3; k++) {
		jw_init(&w, layouts[k]);
		jw_obj(&w, NULL);
		jw_int(&w, "a", 1);
		jw_obj(&w, "o");
		jw_arr(&w, "b");
		jw_int(&w, NULL, 1);
		jw_num(&w, NULL, 2.5);
		jw_numf(&w, NULL, "%.3f", NAN);
		jw_end(&w);
		jw_arr(&w, "e");
		jw_end(&w);
		jw_end(&w);
		jw_str(&w, "s", "x\n\001");
		jw_numf(&w, "f", "%.6f", 0.5);
		jw_end(&w);
		out = jw_text(&w);
		if (!tap_ok(out && !strcmp(out, want[k]), "json writer layout %d, byte for byte", layouts[k]))
			tap_diag("got %s", out ? out : "(null)");
		jw_free(&w);
	}
	jw_init(&w, JW_PRETTY);
	jw_end(&w);
	tap_ok(!jw_text(&w) && strstr(sh_errmsg(), "unbalanced"), "json writer: an end without a start is an error");
	jw_free(&w);
}

static void test_roundtrip(const char *dir)
{
	float a[6] = {1, -2, 3.5f, 0, 1e-8f, -1e8f};
	uint16_t b[3] = {0, 65535, 7};
	double c = 3.25;
	int64_t sa[2] = {2, 3}, sb[1] = {3};
	st_writer w;
	st_writer_init(&w);
	st_add_f32(&w, "layer.weight", 2, sa, a);
	st_add(&w, "codes", SH_U16, 1, sb, b);
	st_add(&w, "scalar", SH_F64, 0, NULL, &c);
	st_set_meta(&w, "format", "1");
	st_set_meta(&w, "arch", "{\"model\": \"samplernn\"}");
	st_set_meta(&w, "format", "2");
	tap_ok(st_add(&w, "codes", SH_U8, 1, sb, b) < 0, "adding a tensor twice is refused");
	char path[512];
	snprintf(path, sizeof path, "%s/x.safetensors", dir);
	tap_ok(st_save(&w, path) == 0, "st_save writes a file");
	st_writer_free(&w);
	char tmp[600];
	sh_tmp_name(tmp, sizeof tmp, path);
	tap_ok(access(tmp, F_OK) != 0, "no temporary file is left behind");

	st_file sf;
	tap_ok(st_load(path, &sf) == 0, "st_load reads it back");
	const st_tensor *t = st_find(&sf, "layer.weight");
	float back[6];
	tap_ok(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 &&
		       st_read_f32(&sf, "layer.weight", back, 6) == 0 && !memcmp(a, back, sizeof a),
	       "f32 tensor survives with its shape");
	float bf[3];
	tap_ok(st_read_f32(&sf, "codes", bf, 3) == 0 && bf[1] == 65535 && bf[2] == 7, "u16 tensor converts to float");
	t = st_find(&sf, "scalar");
	tap_ok(t && t->ndim == 0 && t->count == 1, "rank-0 tensor");
	tap_ok(st_meta(&sf, "format") && !strcmp(st_meta(&sf, "format"), "2") &&
		       !strcmp(st_meta(&sf, "arch"), "{\"model\": \"samplernn\"}"),
	       "metadata round trip (replaced key, JSON in a value)");
	tap_ok(st_read_f32(&sf, "layer.weight", back, 5) < 0 && strstr(sh_errmsg(), "expected 5"),
	       "count mismatch is reported");
	tap_ok(st_read_f32(&sf, "nope", back, 0) < 0 && strstr(sh_errmsg(), "no tensor 'nope'"),
	       "missing tensor is reported");
	tap_ok(((uintptr_t)sf.data - (uintptr_t)sf.buf) % 8 == 0, "data section is 8-byte aligned");
	st_free(&sf);

	/* truncation at every length must be refused, never crash */
	FILE *f = fopen(path, "rb");
	unsigned char buf[4096];
	size_t len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	int refused = 0;
	for (size_t cut = 0; cut < len; cut++) {
		st_file s2;
		refused += load_bytes(buf, cut, &s2) < 0;
	}
	tap_ok(refused == (int)len, "every truncation of the file is refused (%d of %zu)", refused, len);
}

/* Many tensors: the header of a checkpoint is not trusted to be small, and every check on
 * names must stay O(n log n) (a pairwise check took 288 s for 320k names). */
static void test_many_names(void)
{
	enum { N = 100000 };
	size_t cap = (size_t)N * 80 + 16, len = 0;
	char *h = malloc(cap);
	h[len++] = '{';
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(h + len, cap - len,
					"%s\"t%d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
					i ? "," : "", (i * 7919) % N, i, i + 1);
	h[len++] = '}';
	h[len] = 0;
	st_file sf;
	double t0 = sh_now();
	int rc = load_header(h, N, &sf);
	const st_tensor *t = rc == 0 ? st_find(&sf, "t4242") : NULL;
	tap_ok(rc == 0 && sf.ntensors == N && t && t->count == 1 && !st_find(&sf, "t100000"),
	       "%d tensors load and are found by name (%.2f s)", N, sh_now() - t0);
	st_free(&sf);
	/* the same names with one repeated at the end */
	len--;
	len += (size_t)snprintf(h + len, cap - len,
				",\"t%d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%d,%d]}}", 77, N, N + 1);
	tap_ok(load_header(h, N + 1, &sf) < 0 && strstr(sh_errmsg(), "\"t77\" appears twice"),
	       "a name repeated among %d is found: %s", N + 1, sh_errmsg());
	free(h);
}

/* Non-finite weights are refused when read, naming the tensor. */
static void test_nonfinite(void)
{
	float x[3] = {1, NAN, 2}, y[2] = {INFINITY, 0}, back[3];
	int64_t s3[1] = {3}, s2[1] = {2};
	st_writer w;
	st_writer_init(&w);
	st_add_f32(&w, "ok.weight", 1, s2, (float[]){1, 2});
	st_add_f32(&w, "rnn.weight", 1, s3, x);
	st_add_f32(&w, "out.bias", 1, s2, y);
	FILE *f = tmpfile();
	st_write(&w, f);
	rewind(f);
	st_file sf;
	int rc = st_load_fp(f, &sf);
	fclose(f);
	tap_ok(rc == 0 && st_read_f32(&sf, "ok.weight", back, 2) == 0, "finite tensor reads");
	tap_ok(st_read_f32(&sf, "rnn.weight", back, 3) < 0 && strstr(sh_errmsg(), "'rnn.weight' holds NaN at index 1"),
	       "NaN refused: %s", sh_errmsg());
	tap_ok(st_read_f32(&sf, "out.bias", back, 2) < 0 &&
		       strstr(sh_errmsg(), "'out.bias' holds an infinite value at index 0"),
	       "infinity refused: %s", sh_errmsg());
	st_free(&sf);
	st_writer_free(&w);
}

static void test_malformed(void)
{
	st_file sf;
	struct {
		const char *hdr;
		size_t data;
		const char *msg;
	} cases[] = {
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "truncated"},
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "cover 8 data bytes"},
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "do not match"},
		{"{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "unsupported dtype"},
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "a hole"},
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":["
		 "1],\"data_offsets\":[4,8]}}",
		 8, "overlap"},
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "needs dtype"},
		{"{\"__metadata__\":{\"x\":1}}", 0, "not a string"},
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":["
		 "1],\"data_offsets\":[4,8]}}",
		 8, "twice"},
		{"[1,2]", 0, "not a JSON object"},
		/* a second __metadata__ once grew the key array without resetting its count */
		{"{\"__metadata__\":{\"a\":\"1\"},\"__metadata__\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}}", 0,
		 "appears twice"},
		{"{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0, "appears twice"},
		{"{\"a\":", 0, "bad safetensors header"},
	};
	for (size_t i = 0; i < SH_ARRAY_LEN(cases); i++) {
		int rc = load_header(cases[i].hdr, cases[i].data, &sf);
		tap_ok(rc < 0 && strstr(sh_errmsg(), cases[i].msg), "malformed %zu refused: %s", i, sh_errmsg());
	}
	unsigned char huge[16] = {0, 0, 0, 0, 0, 0, 0, 1, '{', '}'};
	tap_ok(load_bytes(huge, 16, &sf) < 0 && strstr(sh_errmsg(), "limit"),
	       "header length over the limit is refused");
	tap_ok(load_bytes("abc", 3, &sf) < 0 && strstr(sh_errmsg(), "no header"), "a 3-byte file is refused");
	tap_ok(load_header("{}", 0, &sf) == 0 && sf.ntensors == 0, "an empty (header-only) file is valid");
	st_free(&sf);
}

int main(void)
{
	char dir[] = "/tmp/sharks-st.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	test_json();
	test_roundtrip(dir);
	test_malformed();
	test_many_names();
	test_nonfinite();
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd)) {
	}
	return tap_done();
}
