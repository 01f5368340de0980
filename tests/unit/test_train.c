/* test_train.c: qtrain's machinery apart from the model: reading and checking code records,
 * the seeded split, the TBPTT feed (windows, padding, resets, epochs), clipping, the log and
 * the loss plot. */
#include "nn.h"
#include "npy.h"
#include "plot.h"
#include "tap.h"
#include "runlog.h"
#include "train.h"
#include "util.h"

#include <cairo.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/test_train.XXXXXX";

static const char *tmp_path(const char *name)
{
	static char buf[4][256];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
	return buf[k];
}

/* A stream of u8 records of the given lengths; code i of record r is (r * 7 + i) % mod. */
static void write_stream(const char *path, int n, const int *lens, int mod, sh_dtype t)
{
	FILE *f = fopen(path, "wb");
	for (int r = 0; r < n; r++) {
		uint16_t *c16 = malloc(lens[r] * 2);
		uint8_t *c8 = malloc(lens[r]);
		for (int i = 0; i < lens[r]; i++)
			c16[i] = c8[i] = (uint8_t)((r * 7 + i) % mod);
		npy_write_1d(f, t, lens[r], t == SH_U8 ? (void *)c8 : (void *)c16);
		free(c16);
		free(c8);
	}
	fclose(f);
}

static void test_load(void)
{
	int lens[3] = {100, 50, 70};
	write_stream(tmp_path("a.npy"), 3, lens, 256, SH_U8);
	write_stream(tmp_path("b.npy"), 3, lens, 256, SH_U16);
	trn_data a = {0}, b = {0};
	tap_ok(trn_data_add_file(&a, tmp_path("a.npy")) == 0, "reads a stream of |u1 records");
	tap_ok(trn_data_add_file(&b, tmp_path("b.npy")) == 0, "reads a stream of <u2 records");
	tap_ok(a.nrec == 3 && a.total == 220 && a.len[1] == 50 && a.start[2] == 150, "record boundaries");
	tap_ok(a.codes[a.start[1] + 3] == 10 && a.index[2] == 2 && a.file[2] == 0, "codes and origins");
	tap_ok(a.fingerprint == b.fingerprint, "the fingerprint depends on the codes, not the dtype");
	trn_data_add_file(&b, tmp_path("a.npy"));
	tap_ok(b.nrec == 6 && b.file[4] == 1 && b.index[4] == 1 && b.fingerprint != a.fingerprint,
	       "a second file appends and changes the fingerprint");
	int bad;
	tap_ok(trn_data_check(&a, 256, 50, &bad) == 0 && bad == -1, "check passes codes < 256, len >= seq");
	tap_ok(trn_data_check(&a, 256, 64, &bad) < 0 && bad == 1 && strstr(sh_errmsg(), "record 1") &&
		       strstr(sh_errmsg(), "shorter than one window"),
	       "a short record is refused by number: %s", sh_errmsg());
	tap_ok(trn_data_check(&a, 90, 50, &bad) < 0 && bad == 0 && strstr(sh_errmsg(), "code 90 at sample 90") &&
		       strstr(sh_errmsg(), "90 levels"),
	       "codes beyond the levels are refused: %s", sh_errmsg());
	trn_data_free(&a);
	trn_data_free(&b);

	trn_data c = {0};
	FILE *f = fopen(tmp_path("text.npy"), "w");
	fputs("hello, not numpy\n", f);
	fclose(f);
	tap_ok(trn_data_add_file(&c, tmp_path("text.npy")) < 0 && strstr(sh_errmsg(), "not a .npy"),
	       "a text file is refused: %s", sh_errmsg());
	float x[4] = {0};
	f = fopen(tmp_path("f4.npy"), "wb");
	npy_write_1d(f, SH_F32, 4, x);
	fclose(f);
	tap_ok(trn_data_add_file(&c, tmp_path("f4.npy")) < 0 && strstr(sh_errmsg(), "<f4"),
	       "float audio is refused: %s", sh_errmsg());
	int64_t shape[2] = {2, 2};
	uint8_t y[4] = {0};
	f = fopen(tmp_path("2d.npy"), "wb");
	npy_write(f, SH_U8, 2, shape, y);
	fclose(f);
	tap_ok(trn_data_add_file(&c, tmp_path("2d.npy")) < 0 && strstr(sh_errmsg(), "2-dimensional"),
	       "2-D records are refused: %s", sh_errmsg());
	tap_ok(trn_data_add_file(&c, tmp_path("missing.npy")) < 0 && strstr(sh_errmsg(), "No such file"),
	       "a missing file is refused: %s", sh_errmsg());
	trn_data_free(&c);
}

static void test_split(void)
{
	int lens[100];
	for (int i = 0; i < 100; i++)
		lens[i] = 10 + i;
	write_stream(tmp_path("s.npy"), 100, lens, 256, SH_U8);
	trn_data d = {0}, e = {0};
	trn_data_add_file(&d, tmp_path("s.npy"));
	trn_data_add_file(&e, tmp_path("s.npy"));
	double pct[3] = {88, 6, 6};
	tap_ok(trn_data_split(&d, 5, pct) == 0 && d.ntrain == 88 && d.nvalid == 6 && d.ntest == 6,
	       "88/6/6 of 100 records");
	int seen[100] = {0}, perm = 1;
	for (int i = 0; i < 100; i++)
		perm &= !seen[d.train[i]]++;
	tap_ok(perm, "train, valid and test together hold every record once");
	trn_data_split(&e, 5, pct);
	tap_ok(!memcmp(d.train, e.train, 100 * sizeof(int)), "same seed, same split");
	trn_data_split(&e, 6, pct);
	tap_ok(memcmp(d.train, e.train, 100 * sizeof(int)), "another seed, another split");
	trn_data_free(&d);
	trn_data_free(&e);

	write_stream(tmp_path("s3.npy"), 3, lens, 256, SH_U8);
	trn_data_add_file(&d, tmp_path("s3.npy"));
	tap_ok(trn_data_split(&d, 1, pct) == 0 && d.ntrain == 1 && d.nvalid == 1 && d.ntest == 1,
	       "three records: one each");
	trn_data_free(&d);
	write_stream(tmp_path("s1.npy"), 1, lens, 256, SH_U8);
	trn_data_add_file(&d, tmp_path("s1.npy"));
	tap_ok(trn_data_split(&d, 1, pct) == 0 && d.ntrain == 1 && d.nvalid == 0, "one record: all of it for training");
	trn_data_free(&d);
}

static void test_feed(void)
{
	/* records of 1, 2 and 3 windows of 8 codes (with a tail that is dropped), history 4 */
	int lens[5] = {8, 19, 24, 16, 9};
	write_stream(tmp_path("f.npy"), 5, lens, 50, SH_U8);
	trn_data d = {0};
	trn_data_add_file(&d, tmp_path("f.npy"));
	double pct[3] = {100, 0, 0};
	trn_data_split(&d, 3, pct);
	tap_ok(d.ntrain == 5 && trn_data_windows(&d, 1, 8) == 2 && trn_data_windows(&d, 4, 8) == 1, "window counts");
	enum { B = 2, H = 4, S = 8, Q = 64 };
	trn_feed f;
	tap_ok(trn_feed_init(&f, &d, B, H, S, Q, 9) == 0, "feed created");
	uint16_t codes[B * (H + S)], want[H + S];
	unsigned char reset[B];
	int expect_rec[B] = {-1, -1}, expect_win[B] = {0, 0}, rows_ok = 1, resets_ok = 1, pad_ok = 1;
	int dealt[5] = {0}, windows_total = 0;
	long epoch_seen = 0;
	/* an epoch deals 5 records of 1+2+3+2+1 = 9 windows to 2 lanes */
	for (int step = 0; step < 40; step++) {
		trn_feed_next(&f, &d, codes, reset);
		for (int b = 0; b < B; b++) {
			int starts = expect_rec[b] < 0 || expect_win[b] >= trn_data_windows(&d, expect_rec[b], S);
			resets_ok &= reset[b] == starts;
			if (starts) {
				expect_rec[b] = f.lane_rec[b];
				expect_win[b] = 0;
				if (f.epoch == 0)
					dealt[f.lane_rec[b]]++;
			}
			rows_ok &= f.lane_rec[b] == expect_rec[b];
			trn_window_row(&d, expect_rec[b], expect_win[b], H, S, Q, want);
			rows_ok &= !memcmp(codes + b * (H + S), want, sizeof want);
			if (expect_win[b] == 0)
				for (int j = 0; j < H; j++)
					pad_ok &= codes[b * (H + S) + j] == Q / 2;
			else
				pad_ok &= codes[b * (H + S)] == d.codes[d.start[expect_rec[b]] + expect_win[b] * S - H];
			pad_ok &= codes[b * (H + S) + H] == d.codes[d.start[expect_rec[b]] + expect_win[b] * S];
			expect_win[b]++;
			windows_total++;
		}
		epoch_seen = f.epoch;
	}
	tap_ok(rows_ok, "every row is its lane's next window");
	tap_ok(resets_ok, "a row is reset exactly when its lane starts a record");
	tap_ok(pad_ok, "first windows are preceded by Q/2, later ones by the record's codes");
	int once = 1;
	for (int r = 0; r < 5; r++)
		once &= dealt[r] == 1;
	tap_ok(once, "the first epoch deals every training record once");
	tap_ok(epoch_seen >= 7 && epoch_seen <= 9, "epochs advance (%ld after 80 windows of 9 per epoch)", epoch_seen);
	double e = trn_feed_epoch(&f);
	tap_ok(e >= epoch_seen && e < epoch_seen + 1, "fractional epoch %.3f", e);

	/* a copy of the feed's position continues identically */
	trn_feed g;
	trn_feed_init(&g, &d, B, H, S, Q, 1234);
	memcpy(g.lane_rec, f.lane_rec, sizeof(int) * B);
	memcpy(g.lane_win, f.lane_win, sizeof(int) * B);
	memcpy(g.order, f.order, sizeof(int) * f.norder);
	g.cursor = f.cursor, g.epoch = f.epoch, g.rng = f.rng;
	uint16_t c2[B * (H + S)];
	int same = 1;
	for (int step = 0; step < 30; step++) {
		trn_feed_next(&f, &d, codes, reset);
		trn_feed_next(&g, &d, c2, reset);
		same &= !memcmp(codes, c2, sizeof codes);
	}
	tap_ok(same, "a feed restored from its position gives the same windows");
	trn_feed_free(&f);
	trn_feed_free(&g);
	trn_data_free(&d);
}

/* trn_update in one process: the clipping asked for, then nn.h's Adam step, the same bits as
 * calling them in turn; a gradient or loss that is not finite changes nothing. */
static void test_update(void)
{
	enum { N = 3 * 8 * 4096 + 1234 }; /* groups of eight norm blocks, and a short last block */
	static float p[N], g[N], m[N], v[N], p2[N], g2[N], m2[N], v2[N];
	static double parts[N / 4096 + 1];
	const int modes[] = {TRN_CLIP_NONE, TRN_CLIP_ELEMENTWISE, TRN_CLIP_NORM};
	const char *names[] = {"no clipping", "elementwise clipping", "norm clipping"};
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < N; i++) {
			p[i] = p2[i] = sinf(i * 0.37f);
			g[i] = g2[i] = 3 * cosf(i * 1.3f) * (i % 7 == 0 ? 4 : 1);
			m[i] = m2[i] = 0.01f * sinf(i * 0.11f), v[i] = v2[i] = 0.02f + 0.01f * cosf(i * 0.7f);
		}
		const trn_update_opts o = {modes[k], modes[k] == TRN_CLIP_NORM ? 5 : 1, 1e-3, 0.9, 0.999, 1e-8};
		double seconds = 0, loss = trn_update(p, g, m, v, N, parts, 2.5, 4, 4, &o, 3, &seconds);
		if (modes[k] == TRN_CLIP_NORM)
			clip_global_norm(g2, N, 5);
		else if (modes[k] == TRN_CLIP_ELEMENTWISE)
			clip_elementwise(g2, N, 1);
		adam_step(p2, g2, m2, v2, N, 1e-3, 0.9, 0.999, 1e-8, 3);
		tap_ok(loss == 2.5 && !memcmp(p, p2, sizeof p) && !memcmp(m, m2, sizeof m) && !memcmp(v, v2, sizeof v),
		       "trn_update, %s: the bits of clipping and adam_step called in turn", names[k]);
	}
	memcpy(p2, p, sizeof p), memcpy(m2, m, sizeof m), memcpy(v2, v, sizeof v);
	g[N - 1] = NAN;
	const trn_update_opts o = {TRN_CLIP_ELEMENTWISE, 1, 1e-3, 0.9, 0.999, 1e-8};
	double seconds = 0;
	tap_ok(!isfinite(trn_update(p, g, m, v, N, parts, 2.5, 4, 4, &o, 4, &seconds)) && !memcmp(p, p2, sizeof p) &&
		       !memcmp(m, m2, sizeof m) && !memcmp(v, v2, sizeof v),
	       "a NaN gradient: reported, and the parameters and moments are left as they were");
	g[N - 1] = 0;
	tap_ok(!isfinite(trn_update(p, g, m, v, N, parts, INFINITY, 4, 4, &o, 4, &seconds)) && !memcmp(p, p2, sizeof p),
	       "an infinite loss: reported, nothing changed");
}

/* trn_log_parse over the text of a log: the number of rows read, or -1 (the error in
 * sh_errmsg()). */
static int parse_text(const char *text, trn_log *l)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	if (!f)
		return -2;
	memset(l, 0, sizeof *l);
	int rc = trn_log_parse(l, f, 1000000);
	fclose(f);
	return rc < 0 ? -1 : l->n;
}

/* The one reader of log.tsv (qtrain's resume and albumpage's summary both use it). */
static void test_log_parse(void)
{
	static const char head[] = "step\tepoch\ttrain_bits\tvalid_bits\tsamples_per_s\tlr\tseconds\tfad\n";
	static const char row1[] = "10\t0.5000\t8.000000\tnan\t1000.0\t0.001\t2.0\tnan\n";
	static const char row2[] = "20\t1.0000\t4.000000\t4.500000\t1000.0\t0.001\t4.0\t12.500000\n";
	char text[1024];
	trn_log l;

	snprintf(text, sizeof text, "%s%s%s", head, row1, row2);
	tap_ok(parse_text(text, &l) == 2 && l.rows[1].step == 20 && tap_close(l.rows[1].valid_bits, 4.5, 1e-9) &&
		       isnan(l.rows[0].valid_bits) && tap_close(l.rows[1].fad, 12.5, 1e-9) &&
		       tap_close(l.rows[1].seconds, 4, 0),
	       "log.tsv: a good file, every figure read");
	trn_log_free(&l);
	snprintf(text, sizeof text, "%s%s", row1, row2);
	tap_ok(parse_text(text, &l) == 2, "log.tsv: the header is optional");
	trn_log_free(&l);
	tap_ok(parse_text(head, &l) == 0, "log.tsv: a header alone is no rows");
	trn_log_free(&l);

	/* cut short: the last row without its end of line, even where what is left parses */
	snprintf(text, sizeof text, "%s%s%.*s", head, row1, (int)strlen(row2) - 12, row2);
	tap_ok(parse_text(text, &l) == -1 && strstr(sh_errmsg(), "line 3: cut short"),
	       "log.tsv: a truncated last row is refused, naming its line (%s)", sh_errmsg());
	trn_log_free(&l);
	snprintf(text, sizeof text, "%s%s%.*s", head, row1, (int)strlen(row2) - 1, row2);
	tap_ok(parse_text(text, &l) == -1 && strstr(sh_errmsg(), "line 3: cut short"),
	       "log.tsv: a last row missing only its end of line is refused too");
	trn_log_free(&l);

	static const char *const bad[] = {
		"10\t0.5\t8\n",                                  /* too few columns */
		"10\t0.5\tabc\tnan\t1000\t0.001\t2\tnan\n",      /* a word for a figure */
		"10\t0.5\t8\tnan\t1000\t0.001\t2\tnan\textra\n", /* a ninth column */
		"10\t0.5\t8\tnan\t1000\t0.001\t2x\n",            /* junk after a figure */
		"10\t0.5\t8\tnan\t1000\t0.001\t2\t\n",           /* an empty eighth column */
		"\n",                                            /* an empty line */
	};
	int refused = 0;
	for (size_t i = 0; i < SH_ARRAY_LEN(bad); i++) {
		snprintf(text, sizeof text, "%s%s%s%s", head, row1, bad[i], row2);
		int ok = parse_text(text, &l) == -1 && strstr(sh_errmsg(), "line 3: not a row of qtrain's log");
		if (!ok)
			tap_diag("bad row %zu read (%s)", i, sh_errmsg());
		refused += ok;
		trn_log_free(&l);
	}
	tap_ok(refused == (int)SH_ARRAY_LEN(bad), "log.tsv: bad rows are refused, naming their line (%d of %zu)",
	       refused, SH_ARRAY_LEN(bad));

	/* trn_log_read names the file */
	const char *p = tmp_path("cut.tsv");
	FILE *f = fopen(p, "w");
	if (f) {
		fputs("10\t0.5", f);
		fclose(f);
	}
	memset(&l, 0, sizeof l);
	tap_ok(trn_log_read(&l, p, 100) < 0 && strstr(sh_errmsg(), "cut.tsv: line 1: cut short"),
	       "trn_log_read's errors name the file");
	trn_log_free(&l);
}

static void test_log_plot(void)
{
	trn_log l = {0};
	for (int i = 1; i <= 5; i++) {
		trn_log_row r = {i * 10, i * 0.5, 8.0 / i, i == 1 ? NAN : 9.0 / i,
				 1000,   1e-3,    i * 2.0, i == 2 ? 12.5 : NAN};
		trn_log_append(&l, &r);
	}
	const char *p = tmp_path("log.tsv");
	tap_ok(trn_log_write(&l, p) == 0, "log written");
	trn_log m = {0};
	tap_ok(trn_log_read(&m, p, 30) == 0 && m.n == 3 && m.rows[2].step == 30 &&
		       tap_close(m.rows[1].train_bits, 4, 1e-6) && isnan(m.rows[0].valid_bits),
	       "log read back up to a step, nan kept");
	trn_log_free(&m);
	tap_ok(trn_log_read(&m, p, 30) == 0 && tap_close(m.rows[1].fad, 12.5, 1e-6) && isnan(m.rows[0].fad),
	       "the clips' distance (fad) read back, nan where there was none");
	trn_log_free(&m);
	FILE *old = fopen(tmp_path("old.tsv"), "w");
	if (old) {
		fputs("step\tepoch\ttrain_bits\tvalid_bits\tsamples_per_s\tlr\tseconds\n10\t0.5\t8\t9\t1000\t0."
		      "001\t2\n",
		      old);
		fclose(old);
	}
	tap_ok(trn_log_read(&m, tmp_path("old.tsv"), 100) == 0 && m.n == 1 && isnan(m.rows[0].fad),
	       "a log of seven columns (before fad) is read, without a distance");
	trn_log_free(&m);
	tap_ok(trn_log_read(&m, tmp_path("nolog.tsv"), 100) == 0 && m.n == 0, "a missing log is empty");
	const char *png = tmp_path("loss.png");
	tap_ok(trn_log_plot(&l, png) == 0, "plot drawn");
	unsigned char magic[8] = {0};
	FILE *f = fopen(png, "rb");
	if (f) {
		if (fread(magic, 1, 8, f) != 8)
			magic[0] = 0;
		fclose(f);
	}
	tap_ok(!memcmp(magic, "\x89PNG\r\n\x1a\n", 8), "the plot is a PNG");
	trn_log_free(&l);
	trn_log empty = {0};
	tap_ok(trn_log_plot(&empty, png) == 0, "an empty log still gives a plot");
	tap_ok(plot_tick_step(0, 10, 5) == 2 && plot_tick_step(0, 1000, 6) == 200 &&
		       tap_close(plot_tick_step(2.1, 2.4, 6), 0.05, 1e-9),
	       "round tick steps");
	tap_ok(plot_lines_png("/nonexistent/dir/x.png", 100, 100, NULL, NULL, NULL, NULL, 0) < 0,
	       "an unwritable path is an error: %s", sh_errmsg());
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_load();
	test_split();
	test_feed();
	test_update();
	test_log_parse();
	test_log_plot();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		tap_diag("could not remove %s", dir);
	/* cairo's font caches and fontconfig's configuration, released for the leak checker
	 * (FcFini through dlsym: fontconfig is cairo's dependency, not on our link line) */
	cairo_debug_reset_static_data();
	void (*fc_fini)(void);
	*(void **)&fc_fini = dlsym(RTLD_DEFAULT, "FcFini");
	if (fc_fini)
		fc_fini();
	return tap_done();
}
