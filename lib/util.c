/* util.c: error recording, checked allocation, exact reads, hashing, time. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char last_error[512];

int sh_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
	return -1;
}

int sh_error_prefix(const char *fmt, ...)
{
	char prefix[256], old[sizeof last_error];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, last_error, sizeof old);
	size_t n = strlen(prefix), m = strlen(old);
	if (n + 2 + m >= sizeof last_error)
		m = sizeof last_error - 1 - SH_MIN(n + 2, sizeof last_error - 1);
	memcpy(last_error, prefix, n);
	memcpy(last_error + n, ": ", 2);
	memcpy(last_error + n + 2, old, m);
	last_error[n + 2 + m] = 0;
	return -1;
}

const char *sh_errmsg(void) { return last_error; }

void *sh_alloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);
	if (!p)
		sh_error("out of memory (%zu bytes)", n);
	return p;
}

int sh_mul_size(size_t n, size_t size, size_t *out)
{
	if (size && n > SIZE_MAX / size)
		return sh_error("size overflow (%zu x %zu)", n, size), 0;
	*out = n * size;
	return 1;
}

long sh_read_full(void *fp, void *buf, size_t n)
{
	FILE *f = fp;
	size_t got = fread(buf, 1, n, f);
	if (got == n)
		return (long)n;
	if (ferror(f))
		return sh_error("read error: %s", strerror(errno));
	if (got == 0)
		return 0;
	return sh_error("cut short after %zu of %zu bytes", got, n);
}

uint64_t sh_fnv1a(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

void (*sh_tmp_hook)(const char *tmp_path, int add);

void sh_tmp_name(char *dst, size_t cap, const char *path) { snprintf(dst, cap, "%s.tmp%ld", path, (long)getpid()); }

void sh_tmp_track(const char *tmp_path, int add)
{
	if (sh_tmp_hook)
		sh_tmp_hook(tmp_path, add);
}

void *sh_arena_take(sh_arena *a, size_t bytes)
{
	size_t at = (a->used + 63) & ~(size_t)63;
	a->used = at + bytes;
	return a->base ? a->base + at : NULL;
}

int sh_tmp_finish(const char *tmp, const char *path, int rc)
{
	if (rc == 0 && rename(tmp, path))
		rc = sh_error("cannot rename into place: %s", strerror(errno));
	if (rc)
		unlink(tmp);
	sh_tmp_track(tmp, 0);
	return rc;
}

double sh_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- growing text and whole-file writes ---- */

/* ---- small string helpers ---- */

/* Room for n more bytes and the NUL; sets failed when there is none. */
static int buf_reserve(sh_buf *b, size_t n)
{
	if (b->failed)
		return -1;
	if (b->s && b->n + n < b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->n + n + 1)
		cap *= 2;
	char *s = realloc(b->s, cap);
	if (!s) {
		b->failed = 1; /* the text is cut here */
		return -1;
	}
	b->s = s;
	b->cap = cap;
	return 0;
}

void sh_buf_printf(sh_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = b->s && !b->failed ? vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap) : 0;
	va_end(ap);
	if (k < 0 || !b->s || (size_t)k >= b->cap - b->n) {
		va_start(ap, fmt);
		k = vsnprintf(NULL, 0, fmt, ap);
		va_end(ap);
		if (k < 0 || buf_reserve(b, (size_t)k))
			return;
		va_start(ap, fmt);
		vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
	}
	b->n += (size_t)k;
}

void sh_buf_add(sh_buf *b, const char *s, size_t n)
{
	if (buf_reserve(b, n))
		return;
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
}

long sh_utf8_invalid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; p[i];) {
		unsigned c = p[i];
		int k = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
		if (k < 0)
			return (long)i;
		unsigned cp = k ? c & (0x3f >> k) : c;
		for (int j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return (long)i;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		static const unsigned least[4] = {0, 0x80, 0x800, 0x10000};
		if (cp < least[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (long)i;
		i += (size_t)k + 1;
	}
	return -1;
}

int sh_write_file(const char *path, const void *data, size_t n)
{
	char tmp[4096];
	sh_tmp_name(tmp, sizeof tmp, path);
	sh_tmp_track(tmp, 1);
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		sh_tmp_track(tmp, 0);
		return sh_error("%s: cannot create: %s", path, strerror(errno));
	}
	int bad = n && fwrite(data, 1, n, f) != n;
	bad |= fflush(f) != 0;
	bad |= fclose(f) != 0;
	if (bad) {
		int e = errno;
		sh_tmp_finish(tmp, path, -1);
		return sh_error("%s: write error: %s", path, strerror(e));
	}
	return sh_tmp_finish(tmp, path, 0) ? sh_error_prefix("%s", path) : 0;
}
