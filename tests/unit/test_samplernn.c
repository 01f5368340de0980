/* test_samplernn.c: the SampleRNN model against the PyTorch peer (loss and every gradient with
 * a carried state, ten Adam steps), whole-model finite differences in double (2- and 3-tier,
 * LSTM and GRU, learned h0, weight-normed RNN matrices), the folded sample tier against plain
 * loops, float against double, windows with carried state against one long window, and the
 * refusals. Fixture: tests/fixtures/samplernn_peer.safetensors from make_samplernn_fixture.py. */
#include "nn.h"
#include "samplernn.h"
#include "safetensors.h"
#include "util.h"
#include "tap.h"
#include "fixture.h"

#include <stdlib.h>
#include <string.h>

#define FIXTURE "tests/fixtures/samplernn_peer.safetensors"

static const nn_param *info(const void *m, int i) { return srnn_param_info(m, i); }
static const nn_param *info64(const void *m, int i) { return srnn_param_info_f64(m, i); }

/* codes[b][w·seq + i] for i < hist + seq, as one window's rows */
static void window(uint16_t *dst, const uint8_t *chunk, int B, int chunkw, int w, int seq, int hist)
{
	for (int b = 0; b < B; b++)
		for (int i = 0; i < hist + seq; i++)
			dst[b * (hist + seq) + i] = chunk[b * chunkw + w * seq + i];
}

/* ---- against the PyTorch peer ---- */

static void test_peer(void)
{
	st_file sf;
	if (st_load(FIXTURE, &sf)) {
		tap_ok(0, "load %s: %s", FIXTURE, sh_errmsg());
		return;
	}
	srnn_config c = {0};
	c.nframe_tiers = 1;
	c.frame_size[0] = atoi(st_meta(&sf, "frame_size"));
	c.dim = atoi(st_meta(&sf, "dim"));
	c.layers = atoi(st_meta(&sf, "layers"));
	c.embed = atoi(st_meta(&sf, "embed"));
	c.levels = atoi(st_meta(&sf, "levels"));
	c.seq = atoi(st_meta(&sf, "seq"));
	c.batch = atoi(st_meta(&sf, "batch"));
	c.rnn = SRNN_LSTM;
	const int B = c.batch, FS = c.frame_size[0], seq = c.seq, chunkw = 2 * seq + FS;
	srnn *m = srnn_create(&c, B);
	tap_ok(m != NULL, "model of the fixture's configuration");
	if (!m)
		return;
	const size_t np = srnn_num_params(m);
	float *p = srnn_params(m), *g = srnn_grads(m);
	tap_ok(load_peer(&sf, "param.", p, info, m) == 0,
	       "every parameter maps onto the peer's state_dict by name and shape (%zu values)", np);
	float *p0 = malloc(sizeof(float) * np);
	memcpy(p0, p, sizeof(float) * np);

	const st_tensor *ct = st_find(&sf, "codes");
	const uint8_t *chunk = st_data(&sf, ct);
	uint16_t *codes = malloc(sizeof(uint16_t) * B * (seq + FS));
	size_t ns = srnn_state_floats(m, B);
	float *state = malloc(sizeof(float) * ns);
	float want[10];
	for (int b = 0; b < B; b++)
		srnn_state_reset(m, state, B, b);
	window(codes, chunk, B, chunkw, 0, seq, FS);
	double l1 = srnn_forward(m, codes, B, state);
	st_read_f32(&sf, "loss1", want, 1);
	tap_ok(fabs(l1 - want[0]) < 1e-5 * want[0], "window 1 loss %.7f = peer %.7f", l1, want[0]);

	memset(g, 0, sizeof(float) * np);
	window(codes, chunk, B, chunkw, 1, seq, FS);
	double l2 = srnn_forward_backward(m, codes, B, state);
	st_read_f32(&sf, "loss2", want, 1);
	tap_ok(fabs(l2 - want[0]) < 1e-5 * want[0], "window 2 (carried state) loss %.7f = peer %.7f", l2, want[0]);
	/* every gradient: max |ours - peer| relative to the tensor's largest peer value */
	float *pg = malloc(sizeof(float) * np);
	load_peer(&sf, "grad2.", pg, info, m);
	const char *wname;
	double worst = grad_worst(g, pg, info, m, &wname);
	tap_ok(worst < 1e-4, "all %d gradients of window 2 equal the peer's (worst %.2e, %s)", srnn_param_count(m),
	       worst, wname);

	/* the folded sample tier equals the plain loops */
	float *g2 = malloc(sizeof(float) * np);
	memcpy(g2, g, sizeof(float) * np);
	memset(g, 0, sizeof(float) * np);
	for (int b = 0; b < B; b++)
		srnn_state_reset(m, state, B, b);
	window(codes, chunk, B, chunkw, 0, seq, FS);
	srnn_forward(m, codes, B, state);
	srnn_use_reference(m, 1);
	window(codes, chunk, B, chunkw, 1, seq, FS);
	double l2r = srnn_forward_backward(m, codes, B, state);
	srnn_use_reference(m, 0);
	double rd = 0;
	for (size_t j = 0; j < np; j++)
		rd = fmax(rd, fabs(g[j] - g2[j]));
	tap_ok(fabs(l2r - l2) < 1e-6 && rd < 1e-6,
	       "reference kernels give the same loss and "
	       "gradients (%.1e, %.1e)",
	       fabs(l2r - l2), rd);

	/* ten Adam steps with ±1 clipping, windows 1, 2, 1, 2, ... as the peer's loop */
	memcpy(p, p0, sizeof(float) * np);
	float *am = calloc(np, sizeof(float)), *av = calloc(np, sizeof(float));
	st_read_f32(&sf, "adam_losses", want, 10);
	double aw = 0;
	for (int step = 0; step < 10; step++) {
		int w = step % 2;
		if (w == 0)
			for (int b = 0; b < B; b++)
				srnn_state_reset(m, state, B, b);
		window(codes, chunk, B, chunkw, w, seq, FS);
		memset(g, 0, sizeof(float) * np);
		double l = srnn_forward_backward(m, codes, B, state);
		clip_elementwise(g, np, 1);
		adam_step(p, g, am, av, np, 1e-3, 0.9, 0.999, 1e-8, step + 1);
		aw = fmax(aw, fabs(l - want[step]) / want[step]);
		if (step == 9)
			tap_diag("Adam step 10: loss %.7f, peer %.7f", l, want[step]);
	}
	tap_ok(aw < 1e-5, "ten Adam steps give the peer's losses (max rel diff %.1e)", aw);
	free(am), free(av), free(p0), free(pg), free(g2), free(codes), free(state);
	srnn_free(m);

	/* the same model with torch nn.GRU layers, one window from a random initial state */
	srnn_config gc = {0};
	gc.nframe_tiers = 1, gc.frame_size[0] = 4, gc.dim = 8, gc.layers = 2, gc.rnn = SRNN_GRU;
	gc.embed = 2, gc.levels = 256, gc.seq = 16, gc.batch = B;
	srnn *gm = srnn_create(&gc, B);
	size_t gnp = srnn_num_params(gm), gns = srnn_state_floats(gm, B);
	float *gstate = calloc(gns, sizeof(float)), *gpg = malloc(sizeof(float) * gnp);
	tap_ok(load_peer(&sf, "gru.param.", srnn_params(gm), info, gm) == 0 &&
		       load_peer(&sf, "gru.grad.", gpg, info, gm) == 0 &&
		       st_read_f32(&sf, "gru.h0", gstate, (size_t)gc.layers * B * gc.dim) == 0,
	       "GRU model maps onto torch's nn.GRU names");
	const uint8_t *gchunk = st_data(&sf, st_find(&sf, "gru.codes"));
	uint16_t gcodes[2 * 20];
	for (int i = 0; i < B * (gc.seq + 4); i++)
		gcodes[i] = gchunk[i];
	float *gg = srnn_grads(gm);
	memset(gg, 0, sizeof(float) * gnp);
	double gl = srnn_forward_backward(gm, gcodes, B, gstate);
	st_read_f32(&sf, "gru.loss", want, 1);
	double gw = grad_worst(gg, gpg, info, gm, NULL);
	tap_ok(fabs(gl - want[0]) < 1e-5 * want[0] && gw < 1e-4,
	       "GRU model: loss %.7f = torch "
	       "%.7f, every gradient agrees (worst %.2e)",
	       gl, want[0], gw);
	free(gstate), free(gpg);
	srnn_free(gm);
	st_free(&sf);
}

/* ---- whole-model finite differences in double ---- */

static srnn_f64 *fm;
static const uint16_t *fcodes;
static double *fstate0, *fstate;
static int fB;
static double fd_loss(void *ctx)
{
	(void)ctx;
	memcpy(fstate, fstate0, sizeof(double) * srnn_state_floats_f64(fm, fB));
	srnn_state_reset_f64(fm, fstate, fB, 0); /* row 0 starts afresh (learned h0), row 1 carries */
	return srnn_forward_f64(fm, fcodes, fB, fstate);
}

static void test_fd(const char *what, const srnn_config *c)
{
	const int B = 2;
	srnn_f64 *m = srnn_create_f64(c, B);
	if (!tap_ok(m != NULL, "%s: model created%s%s", what, m ? "" : ": ", m ? "" : sh_errmsg()))
		return;
	srnn_init_params_f64(m, 7);
	size_t np = srnn_num_params_f64(m), ns = srnn_state_floats_f64(m, B);
	double *p = srnn_params_f64(m), *g = srnn_grads_f64(m);
	/* move biases and learned h0 away from their zero initialisation */
	for (size_t i = 0; i < np; i++)
		p[i] += 0.05 * (urand() - 0.5);
	const int hist = srnn_history(c), row = hist + c->seq;
	uint16_t *codes = walk_codes(B, row, c->levels, 3);
	fstate0 = malloc(sizeof(double) * ns), fstate = malloc(sizeof(double) * ns);
	for (size_t i = 0; i < ns; i++)
		fstate0[i] = 0.8 * (urand() - 0.5);
	fstate0[ns - B] = fstate0[ns - B + 1] = 0;
	fm = m, fcodes = codes, fB = B;
	memcpy(fstate, fstate0, sizeof(double) * ns);
	srnn_state_reset_f64(m, fstate, B, 0);
	memset(g, 0, sizeof(double) * np);
	srnn_forward_backward_f64(m, codes, B, fstate);
	double *ga = malloc(sizeof(double) * np);
	memcpy(ga, g, sizeof(double) * np);
	size_t wi;
	double wnum, gmax;
	double worst = fd_worst_rel(p, ga, np, 1e-5, fd_loss, NULL, &wi, &wnum, &gmax);
	tap_diag("%s: worst element: analytic %.9e, numeric %.9e, largest gradient %.3e", what, ga[wi], wnum, gmax);
	tap_ok(worst < 1e-6, "%s: finite differences over all %zu parameters, max rel err %.2e (%s)", what, np, worst,
	       param_name_at(info64, m, wi));
	free(ga), free(codes), free(fstate0), free(fstate);
	srnn_free_f64(m);
}

/* ---- float against double, windows against one long window ---- */

static void test_float_double_and_windows(const char *what, srnn_config c)
{
	const int B = 3, hist = srnn_history(&c), seq = c.seq;
	srnn *m = srnn_create(&c, B);
	srnn_f64 *md = srnn_create_f64(&c, B);
	srnn_config c2 = c;
	c2.seq = 2 * seq;
	srnn *ml = srnn_create(&c2, B);
	if (!tap_ok(m && md && ml, "%s: models", what))
		return;
	srnn_init_params(m, 11);
	size_t np = srnn_num_params(m), ns = srnn_state_floats(m, B);
	float *p = srnn_params(m);
	double *pd = srnn_params_f64(md);
	for (size_t i = 0; i < np; i++)
		pd[i] = p[i];
	memcpy(srnn_params(ml), p, sizeof(float) * np);
	uint16_t *chunk = walk_codes(B, hist + 2 * seq, c.levels, 3);
	uint16_t *codes = malloc(sizeof(uint16_t) * B * (hist + seq));
	float *st = malloc(sizeof(float) * ns), *stl = malloc(sizeof(float) * ns);
	double *std_ = malloc(sizeof(double) * ns);
	for (int b = 0; b < B; b++) {
		srnn_state_reset(m, st, B, b);
		srnn_state_reset(ml, stl, B, b);
		srnn_state_reset_f64(md, std_, B, b);
	}
	/* float against double on the first window, with gradients */
	for (int b = 0; b < B; b++)
		memcpy(codes + b * (hist + seq), chunk + b * (hist + 2 * seq), sizeof(uint16_t) * (hist + seq));
	memset(srnn_grads(m), 0, sizeof(float) * np);
	memset(srnn_grads_f64(md), 0, sizeof(double) * np);
	double lf = srnn_forward_backward(m, codes, B, st);
	double ld = srnn_forward_backward_f64(md, codes, B, std_);
	double gs = 0, gd = 0;
	for (size_t i = 0; i < np; i++) {
		gs = fmax(gs, fabs(srnn_grads_f64(md)[i]));
		gd = fmax(gd, fabs(srnn_grads(m)[i] - srnn_grads_f64(md)[i]));
	}
	tap_ok(fabs(lf - ld) < 1e-5 * ld && gd < 1e-4 * gs,
	       "%s: float agrees with double (loss %.1e, gradients %.1e of the largest)", what, fabs(lf - ld) / ld,
	       gd / gs);
	/* second window from the carried state; then one window over both */
	float *probs = malloc(sizeof(float) * (size_t)B * seq * c.levels);
	memcpy(probs, srnn_last_logits(m), sizeof(float) * (size_t)B * seq * c.levels);
	for (int b = 0; b < B; b++)
		memcpy(codes + b * (hist + seq), chunk + b * (hist + 2 * seq) + seq, sizeof(uint16_t) * (hist + seq));
	double l2 = srnn_forward(m, codes, B, st);
	double ll = srnn_forward(ml, chunk, B, stl);
	double sd = 0, pdiff = 0;
	for (size_t i = 0; i < ns; i++)
		sd = fmax(sd, fabs(st[i] - stl[i]));
	const float *pl = srnn_last_logits(ml), *p2 = srnn_last_logits(m);
	for (int b = 0; b < B; b++)
		for (int s = 0; s < 2 * seq; s++)
			for (int q = 0; q < c.levels; q++) {
				float a = s < seq ? probs[((size_t)b * seq + s) * c.levels + q]
						  : p2[((size_t)b * seq + s - seq) * c.levels + q];
				pdiff = fmax(pdiff, fabs(a - pl[((size_t)b * 2 * seq + s) * c.levels + q]));
			}
	tap_ok(fabs((lf + l2) / 2 - ll) < 1e-5 && sd < 1e-5 && pdiff < 1e-5,
	       "%s: two windows with carried state equal one long window (loss %.1e, state %.1e, "
	       "probabilities %.1e)",
	       what, fabs((lf + l2) / 2 - ll), sd, pdiff);
	free(chunk), free(codes), free(st), free(stl), free(std_), free(probs);
	srnn_free(m), srnn_free(ml), srnn_free_f64(md);
}

static srnn_config tiny_config(int tiers, int rnn, int learn_h0, int rnn_wn)
{
	srnn_config c = {0};
	c.nframe_tiers = tiers;
	if (tiers == 1)
		c.frame_size[0] = 4;
	else
		c.frame_size[0] = 8, c.frame_size[1] = 4;
	c.dim = 5, c.layers = 2, c.rnn = rnn, c.embed = 3, c.levels = 7;
	c.learn_h0 = learn_h0, c.rnn_weight_norm = rnn_wn;
	c.seq = 16, c.batch = 2;
	return c;
}

/* same inputs → same bytes (on a fixed thread count), and gradients accumulate */
static void test_determinism(void)
{
	srnn_config c;
	srnn_preset("tiny", &c);
	c.batch = 4, c.seq = 128;
	srnn *m = srnn_create(&c, c.batch);
	srnn_init_params(m, 3);
	size_t np = srnn_num_params(m), ns = srnn_state_floats(m, c.batch);
	uint16_t *codes = walk_codes(c.batch, srnn_history(&c) + c.seq, c.levels, 3);
	float *st = malloc(sizeof(float) * ns), *g1 = malloc(sizeof(float) * np);
	double l[3];
	for (int r = 0; r < 3; r++) {
		for (int b = 0; b < c.batch; b++)
			srnn_state_reset(m, st, c.batch, b);
		if (r < 2)
			memset(srnn_grads(m), 0, sizeof(float) * np);
		l[r] = srnn_forward_backward(m, codes, c.batch, st);
		if (r == 0)
			memcpy(g1, srnn_grads(m), sizeof(float) * np);
		if (r == 1)
			tap_ok(l[1] == l[0] && !memcmp(g1, srnn_grads(m), sizeof(float) * np),
			       "the same window twice gives the same bytes");
	}
	double e = 0;
	for (size_t i = 0; i < np; i++)
		e = fmax(e, fabs(srnn_grads(m)[i] - 2 * g1[i]));
	tap_ok(e < 1e-6, "gradients accumulate over calls (%.1e)", e);

	/* a model made for more rows runs fewer as a model made for exactly those */
	srnn *m2 = srnn_create(&c, 2);
	memcpy(srnn_params(m2), srnn_params(m), sizeof(float) * np);
	size_t ns2 = srnn_state_floats(m2, 2);
	float *st2 = malloc(sizeof(float) * ns2);
	for (int b = 0; b < 2; b++)
		srnn_state_reset(m, st, 2, b), srnn_state_reset(m2, st2, 2, b);
	memset(srnn_grads(m), 0, sizeof(float) * np);
	memset(srnn_grads(m2), 0, sizeof(float) * np);
	double la = srnn_forward_backward(m, codes, 2, st);
	double lb = srnn_forward_backward(m2, codes, 2, st2);
	tap_ok(la == lb && !memcmp(srnn_grads(m), srnn_grads(m2), sizeof(float) * np) &&
		       !memcmp(st, st2, sizeof(float) * ns2),
	       "2 rows on a model for 4 = a model for 2");
	free(st2);
	srnn_free(m2);
	free(codes), free(st), free(g1);
	srnn_free(m);
}

static void test_refusals(void)
{
	srnn_config c = tiny_config(1, SRNN_LSTM, 0, 0);
	srnn *m = srnn_create(&c, 2);
	uint16_t codes[2 * 20] = {0};
	size_t ns = srnn_state_floats(m, 2);
	float *st = calloc(ns, sizeof(float));
	codes[23] = 7;
	double l = srnn_forward(m, codes, 2, st);
	tap_ok(isnan(l) && strstr(sh_errmsg(), "code 7 at row 1, position 3"),
	       "a code beyond the "
	       "levels is refused: %s",
	       sh_errmsg());
	codes[23] = 0;
	tap_ok(isnan(srnn_forward(m, codes, 3, st)), "a batch beyond the model's is refused: %s", sh_errmsg());
	srnn_free(m);
	free(st);
	srnn_config bad = c;
	bad.seq = 18;
	tap_ok(!srnn_create(&bad, 2) && strstr(sh_errmsg(), "window 18"),
	       "window not a multiple of "
	       "the frame: %s",
	       sh_errmsg());
	bad = tiny_config(2, SRNN_LSTM, 0, 0);
	bad.frame_size[1] = 3;
	tap_ok(srnn_config_check(&bad) == -1, "frame sizes that do not divide: %s", sh_errmsg());
	srnn_config pc;
	tap_ok(srnn_preset("small", &pc) == 0 && pc.frame_size[0] == 16 && pc.dim == 512 && pc.layers == 3 &&
		       pc.embed == 128 && pc.batch == 16 && pc.seq == 1024 && srnn_preset("dadabots", &pc) == 0 &&
		       pc.dim == 1024 && pc.layers == 5 && pc.batch == 32,
	       "presets as the peer's table");
	srnn_preset("small", &pc);
	double fl = srnn_train_flops(&pc, pc.batch);
	tap_ok(fl > 1.2e11 && fl < 1.5e11, "small preset: %.1f GFLOP per training window", fl / 1e9);
	tap_ok(srnn_preset("huge", &pc) == -1, "unknown preset: %s", sh_errmsg());
}

/* Data-parallel training (train.c under mpirun) runs a rank's rows of the batch with the
 * rows of the carried state copied out of the whole batch's state and back: the copies are
 * exact, and two halves run apart give the state and loss of the whole batch. */
static void test_state_rows(const char *what, srnn_config c)
{
	const int B = 4, H = 2, row = srnn_history(&c) + c.seq;
	c.batch = B;
	srnn *m = srnn_create(&c, B), *mh = srnn_create(&c, H);
	srnn_init_params(m, 5);
	memcpy(srnn_params(mh), srnn_params(m), sizeof(float) * srnn_num_params(m));
	size_t ns = srnn_state_floats(m, B), nh = srnn_state_floats(mh, H);
	float *st = malloc(sizeof(float) * ns), *back = malloc(sizeof(float) * ns), *half = malloc(sizeof(float) * nh);
	for (size_t i = 0; i < ns; i++)
		st[i] = (float)i; /* every float its own value: a misplaced copy shows */
	for (int r = 0; r < B; r += H) {
		srnn_state_copy_rows(m, half, H, 0, st, B, r, H);
		srnn_state_copy_rows(m, back, B, r, half, H, 0, H);
	}
	tap_ok(!memcmp(st, back, sizeof(float) * ns), "%s: a state's rows out and back are the same bytes", what);
	uint16_t *codes = walk_codes(B, row, c.levels, 4);
	for (int b = 0; b < B; b++)
		srnn_state_reset(m, st, B, b);
	/* row 1 starts mid-record: its state is not the initial one */
	for (size_t i = 0; i < ns; i++)
		st[i] += (i % 7) * 0.01f;
	memcpy(back, st, sizeof(float) * ns);
	double whole = srnn_forward(m, codes, B, st), halves = 0;
	for (int r = 0; r < B; r += H) {
		srnn_state_copy_rows(m, half, H, 0, back, B, r, H);
		halves += srnn_forward(mh, codes + (size_t)r * row, H, half) * H / B;
		srnn_state_copy_rows(m, back, B, r, half, H, 0, H);
	}
	double sd = 0;
	for (size_t i = 0; i < ns; i++)
		sd = fmax(sd, fabs(st[i] - back[i]));
	tap_ok(sd < 1e-5 && fabs(whole - halves) < 1e-6,
	       "%s: two halves of the batch run apart give the "
	       "whole batch's state (%.1e) and loss (%.1e)",
	       what, sd, fabs(whole - halves));
	free(st), free(back), free(half), free(codes);
	srnn_free(m), srnn_free(mh);
}

int main(void)
{
	test_peer();
	srnn_config c;
	c = tiny_config(1, SRNN_LSTM, 0, 0);
	test_fd("2-tier LSTM", &c);
	c = tiny_config(1, SRNN_LSTM, 1, 1);
	test_fd("2-tier LSTM, learned h0, weight-normed RNN", &c);
	c = tiny_config(1, SRNN_GRU, 1, 0);
	test_fd("2-tier GRU, learned h0", &c);
	c = tiny_config(2, SRNN_LSTM, 0, 1);
	test_fd("3-tier LSTM, weight-normed RNN", &c);
	c = tiny_config(2, SRNN_GRU, 1, 0);
	test_fd("3-tier GRU, learned h0", &c);
	c = tiny_config(1, SRNN_LSTM, 0, 0);
	c.frame_size[0] = 8, c.dim = 16, c.embed = 4, c.levels = 256, c.seq = 32;
	test_float_double_and_windows("2-tier LSTM", c);
	c = tiny_config(2, SRNN_GRU, 1, 1);
	c.frame_size[0] = 16, c.frame_size[1] = 4, c.dim = 12, c.levels = 64, c.seq = 32;
	test_float_double_and_windows("3-tier GRU", c);
	test_determinism();
	test_state_rows("2-tier LSTM, learned h0", tiny_config(1, SRNN_LSTM, 1, 0));
	test_state_rows("3-tier GRU", tiny_config(2, SRNN_GRU, 0, 0));
	test_refusals();
	return tap_done();
}
