/* sha256.h: SHA-256 (FIPS 180-4), for the album's SHA256SUMS and data fingerprints. */
#ifndef SHARKS_SHA256_H
#define SHARKS_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t nbuf;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
void sha256_final(sha256_ctx *c, unsigned char out[32]);
/* Lowercase hex digest of a file into hex[65]; -1 with an error if it cannot be read. */
int sha256_file(const char *path, char hex[65]);

#endif
