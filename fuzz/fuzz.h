/* fuzz.h: what the libFuzzer harnesses share (`make fuzz`, fuzz/README.md): the input bytes
 * as a FILE (for stream readers) or as a path (for readers that open files by name). */
#ifndef SHARKS_FUZZ_H
#define SHARKS_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* The bytes behind a FILE; fmemopen refuses size 0, so an empty input is /dev/null. */
static inline FILE *fuzz_file(const uint8_t *data, size_t size)
{
	FILE *f = size ? fmemopen((void *)data, size, "rb") : fopen("/dev/null", "rb");
	if (!f)
		abort();
	return f;
}

/* The bytes in an anonymous file, named /proc/self/fd/N in path (no extension: readers that
 * choose by extension take their default). Returns the descriptor to close(). */
static inline int fuzz_path(const uint8_t *data, size_t size, char *path, size_t cap)
{
	int fd = memfd_create("fuzz", 0);
	if (fd < 0)
		abort();
	for (size_t done = 0; done < size;) {
		ssize_t w = write(fd, data + done, size - done);
		if (w <= 0)
			abort();
		done += (size_t)w;
	}
	snprintf(path, cap, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
