/* test_audio.c: audio writer and reader round trips in every output format, streaming
 * resampling (length, frequency, SNR of a sine), and the messages for unreadable files,
 * non-finite samples, cut files and lying headers. */
#include "audio.h"
#include "tap.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PI 3.14159265358979323846

/* Amplitude and SNR of a sine of known frequency by least squares on sin/cos. */
static double sine_snr_db(const float *x, size_t n, double f, double rate)
{
	double ss = 0, sc = 0, cc = 0, xs = 0, xc = 0, xx = 0;
	for (size_t i = 0; i < n; i++) {
		double s = sin(2 * PI * f * i / rate), c = cos(2 * PI * f * i / rate);
		ss += s * s;
		cc += c * c;
		sc += s * c;
		xs += x[i] * s;
		xc += x[i] * c;
		xx += (double)x[i] * x[i];
	}
	double det = ss * cc - sc * sc, a = (xs * cc - xc * sc) / det, b = (xc * ss - xs * sc) / det;
	double sig = 0, err = 0;
	for (size_t i = 0; i < n; i++) {
		double y = a * sin(2 * PI * f * i / rate) + b * cos(2 * PI * f * i / rate);
		sig += y * y;
		err += (x[i] - y) * (x[i] - y);
	}
	return 10 * log10(sig / (err + 1e-30));
}

int main(void)
{
	char dir[] = "/tmp/sharks-audio.XXXXXX", path[256];
	if (!mkdtemp(dir))
		return 1;
	const int rate = 44100;
	size_t n = rate * 2;
	float *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = 0.5f * (float)sin(2 * PI * 1000 * i / rate);

	static const struct {
		const char *ext;
		double min_snr;
	} fmts[] = {{"wav", 80}, {"flac", 80}, {"ogg", 25}};
	for (size_t k = 0; k < SH_ARRAY_LEN(fmts); k++) {
		snprintf(path, sizeof path, "%s/sine.%s", dir, fmts[k].ext);
		tap_ok(audio_write_file(path, rate, AUDIO_AUTO, x, n) == 0, "write %s", fmts[k].ext);
		float *y;
		size_t m;
		int rc = audio_read_all(path, 0, AUDIO_QUALITY_DEFAULT, &y, &m);
		tap_ok(rc == 0 && m == n, "read %s back at its own rate: %zu samples", fmts[k].ext, rc ? 0 : m);
		if (rc == 0) {
			double snr = sine_snr_db(y + 2048, m - 4096, 1000, rate);
			tap_ok(snr > fmts[k].min_snr, "%s keeps the sine (SNR %.1f dB)", fmts[k].ext, snr);
			free(y);
		}
	}
	/* same audio, same bytes: also for Ogg, whose serial number libsndfile draws from the clock */
	int same = 1;
	for (size_t k = 0; k < SH_ARRAY_LEN(fmts); k++) {
		char a[300], b[300], cmd[700];
		snprintf(a, sizeof a, "%s/a.%s", dir, fmts[k].ext);
		snprintf(b, sizeof b, "%s/b.%s", dir, fmts[k].ext);
		audio_write_file(a, rate, AUDIO_AUTO, x, n);
		usleep(20000);
		audio_write_file(b, rate, AUDIO_AUTO, x, n);
		snprintf(cmd, sizeof cmd, "cmp -s %s %s", a, b);
		same &= system(cmd) == 0;
	}
	tap_ok(same, "writing the same audio twice gives identical bytes in every format");

	snprintf(path, sizeof path, "%s/sine.wav", dir);
	float *y;
	size_t m;
	tap_ok(audio_read_all(path, 16000, AUDIO_QUALITY_DEFAULT, &y, &m) == 0, "resample 44.1 kHz -> 16 kHz");
	tap_ok(labs((long)m - 32000) <= 2, "resampled length %zu is 2 s at 16 kHz", m);
	double snr = sine_snr_db(y + 1000, m - 2000, 1000, 16000);
	tap_ok(snr >= 60, "resampled 1 kHz sine keeps its frequency with SNR %.1f dB >= 60", snr);
	free(y);

	/* streaming reads in odd block sizes give the same samples as one big read */
	audio_reader *r = audio_open(path, 16000, AUDIO_QUALITY_DEFAULT);
	float *z = malloc(40000 * sizeof *z);
	size_t got = 0;
	long k;
	while ((k = audio_read(r, z + got, 777)) > 0)
		got += (size_t)k;
	audio_close(r);
	audio_read_all(path, 16000, AUDIO_QUALITY_DEFAULT, &y, &m);
	tap_ok(got == m && !memcmp(y, z, m * sizeof *y), "block-wise streaming equals one read");
	free(y);
	free(z);

	tap_ok(audio_open("/nonexistent/x.wav", 0, 1) == NULL && strstr(sh_errmsg(), "No such file"),
	       "missing file: %s", sh_errmsg());
	snprintf(path, sizeof path, "%s/junk.wav", dir);
	FILE *f = fopen(path, "w");
	fputs("this is not audio at all, just text that pretends to be a wav file\n", f);
	fclose(f);
	tap_ok(audio_open(path, 0, 1) == NULL && strstr(sh_errmsg(), "cannot decode"), "junk file: %s", sh_errmsg());
	snprintf(path, sizeof path, "%s/x.mp4", dir);
	tap_ok(audio_create(path, 16000, AUDIO_AUTO) == NULL && strstr(sh_errmsg(), "format"),
	       "unknown output extension refused");
	snprintf(path, sizeof path, "%s/aborted.wav", dir);
	audio_writer *w = audio_create(path, 16000, AUDIO_AUTO);
	audio_write(w, x, 100);
	audio_abort(w);
	tap_ok(access(path, F_OK) != 0, "aborted write leaves no file");

	/* issue 13: non-finite samples, cut files and lying headers are decode errors */
	float y5[6] = {0, 0.5f, 1, 0, 0, 0};
	tap_ok(audio_check_finite(y5, 6, 1, 0, 16000) == 0, "finite samples pass");
	y5[3] = NAN;
	tap_ok(audio_check_finite(y5, 6, 1, 100, 16000) < 0 && strstr(sh_errmsg(), "sample 103 (at 0.006 s) is NaN"),
	       "NaN named by its sample and time: %s", sh_errmsg());
	y5[3] = 0;
	y5[5] = -INFINITY;
	tap_ok(audio_check_finite(y5, 6, 2, 0, 0) < 0 &&
		       !strcmp(sh_errmsg(), "sample 2 of channel 2 is infinite: non-finite audio is refused"),
	       "-inf in interleaved stereo named by frame and channel: %s", sh_errmsg());
	snprintf(path, sizeof path, "%s/nan.wav", dir);
	x[rate + 7] = NAN;
	audio_write_file(path, rate, AUDIO_WAV_FLOAT, x, n);
	x[rate + 7] = 0;
	for (int out_rate = 0; out_rate <= 16000; out_rate += 16000)
		tap_ok(audio_read_all(path, out_rate, AUDIO_QUALITY_DEFAULT, &y, &m) < 0 &&
			       strstr(sh_errmsg(), "sample 44107 (at 1.000 s) is NaN"),
		       "a float WAV with a NaN sample is refused (out rate %d): %s", out_rate, sh_errmsg());
	snprintf(path, sizeof path, "%s/sine.wav", dir);
	if (truncate(path, 44 + 2 * rate)) {
	} /* 16-bit: half of its 2 s */
	tap_ok(audio_open(path, 0, 1) == NULL && strstr(sh_errmsg(), "cut short: the header declares 2.000 s"),
	       "a WAV holding less than its header declares is refused: %s", sh_errmsg());
	snprintf(path, sizeof path, "%s/sine.flac", dir);
	struct stat st;
	if (stat(path, &st) || truncate(path, st.st_size / 2)) {
	}
	tap_ok(audio_read_all(path, 0, 1, &y, &m) < 0 &&
		       (strstr(sh_errmsg(), "decode error after") || strstr(sh_errmsg(), "cut short")),
	       "a FLAC cut in half is refused: %s", sh_errmsg());
	free(x);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd)) {
	}
	return tap_done();
}
