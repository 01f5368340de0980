/* curate_gen: synthetic clips for bench/curate.sh, written as a tensor stream of <f4 records
 * to stdout. usage: curate_gen N SECONDS SEED [RATE [TRUTH]]; TRUTH gets one line per clip:
 * music, silence, noise or loop.
 *
 * Most clips are "music": notes of a pentatonic scale with harmonics and decaying envelopes,
 * drawn from one of N/8 songs (a song fixes key, tempo and timbre, so that clips of one song
 * resemble each other and the ordering has something to find); about one clip in twelve is
 * silence, one in twelve white noise and one in twelve a stuck loop (a 0.3–0.8 s pattern
 * repeated). Sine lookups go through a table and a phase accumulator so that 1000 clips of
 * 20 s are made in a few seconds. Deterministic from SEED. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE 4096
static float sine[TABLE];
static uint64_t rng;

static uint32_t next(void) /* xorshift64* */
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ULL) >> 32);
}
static double uniform(void) { return next() / 4294967296.0; }

static void add_note(float *x, long n, long at, long len, double hz, int rate, double amp, const double *harm,
		     double decay)
{
	for (int h = 0; h < 4; h++) {
		double f = hz * (h + 1);
		if (f > rate / 2.2 || harm[h] == 0)
			continue;
		uint32_t phase = 0, inc = (uint32_t)(f / rate * 4294967296.0);
		double env = amp * harm[h], k = exp(-decay * (h + 1) / rate);
		for (long i = 0; i < len && at + i < n; i++) {
			double attack = i < 160 ? i / 160.0 : 1;
			x[at + i] += (float)(env * attack * sine[phase >> 20]);
			phase += inc;
			env *= k;
		}
	}
}

static void music(float *x, long n, int rate, int song)
{
	static const int penta[5] = {0, 2, 4, 7, 9};
	uint64_t keep = rng;
	rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(song + 1); /* song character */
	double root = 110 * pow(2, (next() % 12) / 12.0), beat = 0.25 + 0.25 * uniform();
	double harm[4] = {1, 0.2 + 0.5 * uniform(), 0.1 + 0.3 * uniform(), 0.2 * uniform()};
	double decay = 2 + 6 * uniform();
	rng = keep; /* the notes themselves differ from clip to clip */
	long step = (long)(beat * rate);
	for (long at = 0; at < n; at += step) {
		int voices = 1 + (int)(next() % 3);
		for (int v = 0; v < voices; v++) {
			int deg = (int)(next() % 10);
			double hz = root * pow(2, (penta[deg % 5] + 12 * (deg / 5)) / 12.0);
			add_note(x, n, at, step * (1 + (long)(next() % 3)), hz, rate, 0.15, harm, decay);
		}
	}
}

static void write_record(const float *x, long n)
{
	char hdr[128];
	int len = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%ld,), }", n);
	int total = 10 + len + 1;
	int pad = (64 - total % 64) % 64;
	memset(hdr + len, ' ', (size_t)pad);
	hdr[len + pad] = '\n';
	unsigned short hl = (unsigned short)(len + pad + 1);
	fwrite("\x93NUMPY\x01\x00", 1, 8, stdout);
	fputc(hl & 255, stdout);
	fputc(hl >> 8, stdout);
	fwrite(hdr, 1, hl, stdout);
	fwrite(x, sizeof *x, (size_t)n, stdout); /* little-endian hosts only, as the bench is */
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: curate_gen N SECONDS SEED [RATE [TRUTH]]\n");
		return 2;
	}
	int count = atoi(argv[1]), rate = argc > 4 ? atoi(argv[4]) : 16000;
	FILE *truth = argc > 5 ? fopen(argv[5], "w") : NULL;
	static const char *kinds[4] = {"silence", "noise", "loop", "music"};
	long n = (long)(atof(argv[2]) * rate);
	rng = 0x2545F4914F6CDD1DULL ^ (uint64_t)atoll(argv[3]);
	for (int i = 0; i < TABLE; i++)
		sine[i] = (float)sin(2 * M_PI * i / TABLE);
	float *x = malloc((size_t)n * sizeof *x);
	if (!x)
		return 1;
	int songs = count / 8 > 1 ? count / 8 : 1;
	for (int c = 0; c < count; c++) {
		memset(x, 0, (size_t)n * sizeof *x);
		int kind = (int)(next() % 12);
		if (kind == 0) {
			/* silence: leave zeros */
		} else if (kind == 1) {
			for (long i = 0; i < n; i++)
				x[i] = (float)(0.2 * (uniform() + uniform() + uniform() - 1.5));
		} else if (kind == 2) {
			long period = (long)((0.3 + 0.5 * uniform()) * rate);
			music(x, period, rate, (int)(next() % songs));
			for (long i = period; i < n; i++)
				x[i] = x[i - period];
		} else {
			music(x, n, rate, (int)(next() % songs));
		}
		write_record(x, n);
		if (truth)
			fprintf(truth, "%s\n", kinds[kind < 3 ? kind : 3]);
	}
	free(x);
	if (truth)
		fclose(truth);
	return fflush(stdout) ? 1 : 0;
}
