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

void sh_tmp_name(char *dst, size_t cap, const char *path)
{
	snprintf(dst, cap, "%s.tmp%ld", path, (long)getpid());
}

void sh_tmp_track(const char *tmp_path, int add)
{
	if (sh_tmp_hook)
		sh_tmp_hook(tmp_path, add);
}

double sh_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}
