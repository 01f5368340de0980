/* audio.c: decoding through libsndfile with downmix and streaming libsamplerate resampling,
 * and encoding by extension (see audio.h). */
#include "audio.h"
#include "util.h"

#include <dlfcn.h>
#include <errno.h>
#include <mpg123.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 4096 /* frames decoded per libsndfile call */

struct audio_reader {
	SNDFILE *sf;
	SF_INFO info;
	int out_rate;
	SRC_STATE *src; /* NULL when no resampling is needed */
	double ratio;
	float *interleaved; /* BLOCK × channels */
	float *mono;        /* BLOCK */
	int64_t decoded;    /* frames decoded so far, at the file's rate */
	int64_t declared;   /* frames the header promises, -1 when it promises nothing */
	int failed;         /* a decode error happened inside the resampler's callback */
	char errbuf[512];
};

/* libsndfile 1.2 decodes MP3 with a libmpg123 handle made without MPG123_QUIET, so libmpg123
 * prints its notes and errors ("Note: Illegal Audio-MPEG-Header ...", "[layer3.c:...] error:
 * ...") straight on our stderr, between and instead of our messages. libsndfile's call to
 * mpg123_new finds this definition first (a program's own symbols come before its libraries')
 * and gets the real handle, quietened; what went wrong reaches us through libsndfile's error. */
mpg123_handle *mpg123_new(const char *decoder, int *error)
{
	mpg123_handle *(*real)(const char *, int *) =
		(mpg123_handle * (*)(const char *, int *)) dlsym(RTLD_NEXT, "mpg123_new");
	if (!real) {
		if (error)
			*error = MPG123_ERR;
		return NULL;
	}
	mpg123_handle *h = real(decoder, error);
	if (h)
		mpg123_param(h, MPG123_ADD_FLAGS, MPG123_QUIET, 0);
	return h;
}

int audio_quality_from_name(const char *name)
{
	static const char *names[] = {"best", "medium", "fastest", "zoh", "linear"};
	for (int i = 0; i < 5; i++)
		if (!strcasecmp(name, names[i]))
			return i;
	return -1;
}

int audio_check_finite(const float *x, size_t n, int channels, int64_t first, int rate)
{
	size_t i = 0;
	while (i < n && isfinite(x[i]))
		i++;
	if (i == n)
		return 0;
	const char *what = isnan(x[i]) ? "NaN" : "infinite";
	long long k = (long long)first + (long long)(i / (size_t)(channels > 0 ? channels : 1));
	char at[64] = "", ch[48] = "";
	if (rate > 0)
		snprintf(at, sizeof at, " (at %.3f s)", (double)k / rate);
	if (channels > 1)
		snprintf(ch, sizeof ch, " of channel %d", (int)(i % (size_t)channels) + 1);
	return sh_error("sample %lld%s%s is %s: non-finite audio is refused", k, at, ch, what);
}

/* libsndfile's message for its current error. sf_strerror prints "Not a valid error number"
 * on stdout (into our output stream) for numbers outside its table, which some decoders
 * leave behind: look the number up only when the table has it. The table ends where
 * sf_error_number returns its first entry again. */
static const char *sf_why(SNDFILE *sf)
{
	static _Atomic int table_end;
	int e = sf_error(sf), end = table_end;
	if (!end) {
		const char *none = sf_error_number(0);
		for (end = 1; end < 100000 && sf_error_number(end) != none; end++)
			;
		table_end = end;
	}
	if (e >= 0 && e < end)
		return sf_strerror(sf);
	static _Thread_local char buf[48];
	snprintf(buf, sizeof buf, "libsndfile error %d", e);
	return buf;
}

static int cut_short(int64_t declared, int64_t held, int rate)
{
	return sh_error("cut short: the header declares %.3f s (%lld frames), the file holds %.3f s (%lld)",
			(double)declared / rate, (long long)declared, (double)held / rate, (long long)held);
}

/* Decodes up to want frames, downmixed, into mono; returns the count (0 at the end), or -1
 * with an error: a decode error (libsndfile reports one as a short read with its error set,
 * and the next read returns 0 without it), a non-finite sample, or an end before the frames
 * the header declares. */
static long read_frames(audio_reader *r, float *mono, long want)
{
	int ch = r->info.channels;
	float *dst = ch == 1 ? mono : r->interleaved;
	sf_count_t got = sf_readf_float(r->sf, dst, want);
	if (got < 0 || (got < want && sf_error(r->sf) != SF_ERR_NO_ERROR))
		return sh_error("decode error after %.3f s: %s", (double)r->decoded / r->info.samplerate,
				sf_why(r->sf));
	if (audio_check_finite(dst, (size_t)got * ch, ch, r->decoded, r->info.samplerate))
		return -1;
	r->decoded += got;
	if (got == 0 && r->declared >= 0 && r->decoded < r->declared)
		return cut_short(r->declared, r->decoded, r->info.samplerate);
	if (ch > 1) {
		float inv = 1.0f / ch;
		for (sf_count_t i = 0; i < got; i++) {
			float s = 0;
			for (int c = 0; c < ch; c++)
				s += r->interleaved[i * ch + c];
			mono[i] = s * inv;
		}
	}
	return (long)got;
}

/* Decodes up to BLOCK frames into r->mono for the resampler; the error goes to r->errbuf
 * (the resampler's callback cannot return one). */
static long decode_block(audio_reader *r)
{
	long got = read_frames(r, r->mono, BLOCK);
	if (got < 0) {
		snprintf(r->errbuf, sizeof r->errbuf, "%s", sh_errmsg());
		r->failed = 1;
	}
	return got;
}

/* The data bytes a RIFF/WAVE file's header declares and its block size, read from the file
 * itself; 0 when the header declares no length: a regular file that is not RIFF/WAVE, or the
 * placeholders (0, 0xffffffff, >= 0x7ffff000) that writers to a pipe leave. */
static uint64_t wav_declared_bytes(const char *path, unsigned *block)
{
	FILE *f = fopen(path, "rb");
	unsigned char h[16];
	uint64_t bytes = 0;
	*block = 0;
	if (!f)
		return 0;
	if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4))
		goto out;
	while (fread(h, 1, 8, f) == 8) {
		uint32_t size = h[4] | h[5] << 8 | h[6] << 16 | (uint32_t)h[7] << 24;
		if (!memcmp(h, "fmt ", 4) && size >= 16) {
			if (fread(h + 8, 1, 8, f) != 8 || fread(h, 1, 8, f) != 8)
				break;
			*block = h[4] | h[5] << 8; /* nBlockAlign */
			size -= 16;
		} else if (!memcmp(h, "data", 4)) {
			if (*block && size && size < 0x7ffff000u)
				bytes = size;
			break;
		}
		if (fseeko(f, (off_t)size + (size & 1), SEEK_CUR))
			break;
	}
out:
	fclose(f);
	return bytes;
}

/* What the header promises, for the check at the end (read_frames); refuses now a WAV whose
 * data chunk claims more than the file holds (libsndfile trims such a claim silently to what is
 * there, so a cut recording would read as a shorter whole one). An MP3's length is an estimate
 * (from the file size, or a Xing tag) and a stream from a pipe has no file to hold it to: they
 * promise nothing. */
static int header_check(audio_reader *r, const char *path)
{
	int container = r->info.format & SF_FORMAT_TYPEMASK, rate = r->info.samplerate;
	sf_count_t frames = r->info.frames;
	struct stat st;
	r->declared = -1;
	if (!strcmp(path, "-") || stat(path, &st) || !S_ISREG(st.st_mode) || container == SF_FORMAT_MPEG ||
	    frames <= 0 || frames >= SF_COUNT_MAX / 2)
		return 0;
	r->declared = frames;
	if (container == SF_FORMAT_WAV || container == SF_FORMAT_WAVEX) {
		unsigned block;
		uint64_t bytes = wav_declared_bytes(path, &block);
		if (block && bytes / block > (uint64_t)frames)
			return cut_short((int64_t)(bytes / block), frames, rate);
	}
	return 0;
}

static long src_input(void *cb_data, float **data)
{
	audio_reader *r = cb_data;
	long n = decode_block(r);
	*data = r->mono;
	return n < 0 ? 0 : n;
}

audio_reader *audio_open(const char *path, int out_rate, int quality)
{
	audio_reader *r = sh_alloc(sizeof *r);
	if (!r)
		return NULL;
	if (!strcmp(path, "-"))
		r->sf = sf_open_fd(0, SFM_READ, &r->info, 0);
	else
		r->sf = sf_open(path, SFM_READ, &r->info);
	if (!r->sf) {
		/* libsndfile's open errors are worded for files it recognised; say plainly otherwise */
		const char *why = sf_why(NULL);
		if (access(path, R_OK) && strcmp(path, "-"))
			sh_error("%s", strerror(errno));
		else
			sh_error("cannot decode audio: %s", why);
		free(r);
		return NULL;
	}
	if (r->info.channels < 1 || r->info.samplerate < 1) {
		sh_error("cannot decode audio: %d channels at %d Hz", r->info.channels, r->info.samplerate);
		sf_close(r->sf);
		free(r);
		return NULL;
	}
	if (header_check(r, path) < 0) {
		sf_close(r->sf);
		free(r);
		return NULL;
	}
	/* Float reads of integer formats are normalised to [-1, 1) (libsndfile's default). */
	sf_command(r->sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
	r->out_rate = out_rate > 0 ? out_rate : r->info.samplerate;
	r->interleaved = malloc((size_t)BLOCK * r->info.channels * sizeof(float));
	r->mono = malloc(BLOCK * sizeof(float));
	if (!r->interleaved || !r->mono) {
		sh_error("out of memory");
		audio_close(r);
		return NULL;
	}
	if (r->out_rate != r->info.samplerate) {
		int err = 0;
		if (quality < SRC_SINC_BEST_QUALITY || quality > SRC_LINEAR)
			quality = AUDIO_QUALITY_DEFAULT;
		r->ratio = (double)r->out_rate / r->info.samplerate;
		if (!src_is_valid_ratio(r->ratio)) {
			sh_error("cannot resample from %d Hz to %d Hz (ratio out of range)", r->info.samplerate,
				 r->out_rate);
			audio_close(r);
			return NULL;
		}
		r->src = src_callback_new(src_input, quality, 1, &err, r);
		if (!r->src) {
			sh_error("libsamplerate: %s", src_strerror(err));
			audio_close(r);
			return NULL;
		}
	}
	return r;
}

int audio_file_rate(const audio_reader *r) { return r->info.samplerate; }
int audio_file_channels(const audio_reader *r) { return r->info.channels; }

int64_t audio_file_frames(const audio_reader *r)
{
	/* libsndfile reports SF_COUNT_MAX for streams it cannot measure */
	return r->info.frames >= 0 && r->info.frames < SF_COUNT_MAX / 2 ? (int64_t)r->info.frames : -1;
}

long audio_read(audio_reader *r, float *out, long n)
{
	long done = 0;
	if (!r->src) {
		while (done < n) {
			long got = read_frames(r, out + done, (long)SH_MIN((long)BLOCK, n - done));
			if (got < 0)
				return -1;
			if (got == 0)
				break;
			done += got;
		}
		return done;
	}
	while (done < n) {
		long got = src_callback_read(r->src, r->ratio, n - done, out + done);
		if (r->failed)
			return sh_error("%s", r->errbuf);
		if (got < 0)
			return sh_error("libsamplerate: %s", src_strerror(src_error(r->src)));
		if (got == 0)
			break;
		done += got;
	}
	return done;
}

void audio_close(audio_reader *r)
{
	if (!r)
		return;
	if (r->src)
		src_delete(r->src);
	if (r->sf)
		sf_close(r->sf);
	free(r->interleaved);
	free(r->mono);
	free(r);
}

int audio_read_all(const char *path, int rate, int quality, float **out, size_t *n)
{
	audio_reader *r = audio_open(path, rate, quality);
	if (!r)
		return -1;
	int64_t frames = audio_file_frames(r);
	size_t cap = frames > 0 ? (size_t)((double)frames * r->out_rate / r->info.samplerate) + 1024 : 1 << 16;
	float *buf = malloc(cap * sizeof *buf);
	size_t len = 0;
	for (;;) {
		if (!buf) {
			audio_close(r);
			return sh_error("out of memory");
		}
		if (len == cap) {
			float *b = realloc(buf, (cap *= 2) * sizeof *buf);
			if (!b)
				free(buf);
			buf = b;
			continue;
		}
		long got = audio_read(r, buf + len, (long)SH_MIN(cap - len, (size_t)1 << 20));
		if (got < 0) {
			free(buf);
			audio_close(r);
			return -1;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	audio_close(r);
	*out = buf;
	*n = len;
	return 0;
}

/* --- writing --- */

struct audio_writer {
	SNDFILE *sf;
	audio_format fmt;
	char *path, *tmp;
};

/* libsndfile gives every Ogg stream a serial number from the clock, so two encodings of the
 * same audio differ. Reproducible outputs need a fixed serial: rewrite it in every page and
 * recompute the page checksums (CRC-32, polynomial 0x04c11db7, no reflection, initial 0). */
#define OGG_SERIAL 0x4b524853u /* "SHRK" */

static uint32_t ogg_crc(const unsigned char *p, size_t n)
{
	static uint32_t table[256];
	if (!table[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t r = i << 24;
			for (int k = 0; k < 8; k++)
				r = r & 0x80000000u ? r << 1 ^ 0x04c11db7u : r << 1;
			table[i] = r;
		}
	uint32_t crc = 0;
	for (size_t i = 0; i < n; i++)
		crc = crc << 8 ^ table[(crc >> 24) ^ p[i]];
	return crc;
}

static int ogg_fix_serial(const char *path)
{
	FILE *f = fopen(path, "r+b");
	if (!f)
		return sh_error("cannot reopen: %s", strerror(errno));
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	rewind(f);
	unsigned char *b = malloc(size > 0 ? (size_t)size : 1);
	int rc = 0;
	if (!b || fread(b, 1, (size_t)size, f) != (size_t)size) {
		rc = sh_error("cannot reread the Ogg stream");
		goto out;
	}
	for (long pos = 0; pos < size;) {
		if (size - pos < 27 || memcmp(b + pos, "OggS", 4)) {
			rc = sh_error("malformed Ogg page at byte %ld", pos);
			goto out;
		}
		int nseg = b[pos + 26];
		long len = 27 + nseg;
		for (int i = 0; i < nseg && pos + 27 + i < size; i++)
			len += b[pos + 27 + i];
		if (pos + len > size) {
			rc = sh_error("malformed Ogg page at byte %ld", pos);
			goto out;
		}
		for (int i = 0; i < 4; i++) {
			b[pos + 14 + i] = (unsigned char)(OGG_SERIAL >> (8 * i));
			b[pos + 22 + i] = 0;
		}
		uint32_t crc = ogg_crc(b + pos, (size_t)len);
		for (int i = 0; i < 4; i++)
			b[pos + 22 + i] = (unsigned char)(crc >> (8 * i));
		pos += len;
	}
	rewind(f);
	if (fwrite(b, 1, (size_t)size, f) != (size_t)size || fflush(f))
		rc = sh_error("write error: %s", strerror(errno));
out:
	free(b);
	if (fclose(f) && rc == 0)
		rc = sh_error("write error: %s", strerror(errno));
	return rc;
}

int audio_format_for_path(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (!dot)
		return -1;
	if (!strcasecmp(dot, ".wav"))
		return AUDIO_WAV16;
	if (!strcasecmp(dot, ".flac"))
		return AUDIO_FLAC;
	if (!strcasecmp(dot, ".ogg") || !strcasecmp(dot, ".oga"))
		return AUDIO_OGG;
	return -1;
}

audio_writer *audio_create(const char *path, int rate, audio_format fmt)
{
	if (fmt == AUDIO_AUTO) {
		int f = audio_format_for_path(path);
		if (f < 0) {
			sh_error("cannot tell the audio format from the name (use .wav, .flac or .ogg)");
			return NULL;
		}
		fmt = f;
	}
	SF_INFO info = {.samplerate = rate, .channels = 1};
	switch (fmt) {
	case AUDIO_WAV16: info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16; break;
	case AUDIO_WAV_FLOAT: info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT; break;
	case AUDIO_FLAC: info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16; break;
	case AUDIO_OGG: info.format = SF_FORMAT_OGG | SF_FORMAT_VORBIS; break;
	default: sh_error("unknown audio format"); return NULL;
	}
	if (!sf_format_check(&info)) {
		sh_error("libsndfile cannot write this format at %d Hz", rate);
		return NULL;
	}
	audio_writer *w = sh_alloc(sizeof *w);
	if (!w)
		return NULL;
	size_t n = strlen(path) + 32;
	w->path = strdup(path);
	w->tmp = malloc(n);
	if (!w->path || !w->tmp) {
		sh_error("out of memory");
		goto fail;
	}
	sh_tmp_name(w->tmp, n, path);
	w->sf = sf_open(w->tmp, SFM_WRITE, &info);
	if (!w->sf) {
		sh_error("cannot create: %s", sf_why(NULL));
		goto fail;
	}
	sh_tmp_track(w->tmp, 1);
	w->fmt = fmt;
	sf_command(w->sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
	return w;
fail:
	free(w->path);
	free(w->tmp);
	free(w);
	return NULL;
}

int audio_write(audio_writer *w, const float *x, long n)
{
	if (sf_writef_float(w->sf, x, n) != n)
		return sh_error("write error: %s", sf_why(w->sf));
	return 0;
}

static void writer_free(audio_writer *w)
{
	sh_tmp_track(w->tmp, 0);
	free(w->path);
	free(w->tmp);
	free(w);
}

int audio_finish(audio_writer *w)
{
	int rc = 0;
	sf_write_sync(w->sf);
	if (sf_error(w->sf) != SF_ERR_NO_ERROR)
		rc = sh_error("write error: %s", sf_why(w->sf));
	if (sf_close(w->sf) && rc == 0)
		rc = sh_error("write error while closing");
	if (rc == 0 && w->fmt == AUDIO_OGG)
		rc = ogg_fix_serial(w->tmp);
	rc = sh_tmp_finish(w->tmp, w->path, rc);
	writer_free(w);
	return rc;
}

void audio_abort(audio_writer *w)
{
	if (!w)
		return;
	sf_close(w->sf);
	unlink(w->tmp);
	writer_free(w);
}

int audio_write_file(const char *path, int rate, audio_format fmt, const float *x, size_t n)
{
	audio_writer *w = audio_create(path, rate, fmt);
	if (!w)
		return -1;
	for (size_t i = 0; i < n; i += 1 << 16)
		if (audio_write(w, x + i, (long)SH_MIN(n - i, (size_t)1 << 16)) < 0) {
			audio_abort(w);
			return -1;
		}
	return audio_finish(w);
}
