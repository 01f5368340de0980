/* fuzz/audio.c: audio decoding. The bytes go through libsndfile's virtual I/O (sf_open_virtual,
 * every frame read), then through lib/audio.c's reader as a file (audio_open/audio_read, at the
 * file's rate or resampled to 16 kHz by the input's parity), to the end or the first error. */
#include "audio.h"
#include "fuzz.h"

#include <sndfile.h>
#include <string.h>

typedef struct {
	const uint8_t *data;
	sf_count_t size, pos;
} mem;

static sf_count_t vlen(void *u) { return ((mem *)u)->size; }
static sf_count_t vtell(void *u) { return ((mem *)u)->pos; }
static sf_count_t vseek(sf_count_t off, int whence, void *u)
{
	mem *m = u;
	sf_count_t p = whence == SEEK_SET ? off : whence == SEEK_CUR ? m->pos + off : m->size + off;
	if (p < 0 || p > m->size)
		return -1;
	return m->pos = p;
}
static sf_count_t vread(void *dst, sf_count_t n, void *u)
{
	mem *m = u;
	if (n > m->size - m->pos)
		n = m->size - m->pos;
	memcpy(dst, m->data + m->pos, (size_t)n);
	m->pos += n;
	return n;
}
static sf_count_t vwrite(const void *src, sf_count_t n, void *u)
{
	(void)src, (void)n, (void)u;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static float buf[4096 * 8];
	SF_VIRTUAL_IO io = {vlen, vseek, vread, vwrite, vtell};
	mem m = {data, (sf_count_t)size, 0};
	SF_INFO info = {0};
	SNDFILE *sf = sf_open_virtual(&io, SFM_READ, &info, &m);
	if (sf) {
		sf_count_t per = info.channels > 0 && info.channels <= 8 ? 4096 : 0;
		for (long total = 0; per && total < (1L << 22);) {
			sf_count_t got = sf_readf_float(sf, buf, per);
			if (got <= 0)
				break;
			total += got;
		}
		sf_close(sf);
	}
	char path[64];
	int fd = fuzz_path(data, size, path, sizeof path);
	audio_reader *r = audio_open(path, size & 1 ? 16000 : 0, AUDIO_QUALITY_DEFAULT);
	if (r) {
		for (long total = 0; total < (1L << 22);) {
			long got = audio_read(r, buf, 4096);
			if (got <= 0)
				break;
			total += got;
		}
		audio_close(r);
	}
	close(fd);
	return 0;
}
