/* util.h: what every part of lib/ shares: error reporting without printing, checked
 * allocation, and small numeric helpers.
 *
 * Library functions never print or exit: on failure they record a message with sh_error()
 * (which returns -1 so that `return sh_error(...)` reads naturally) and the program that called
 * them prints it with the file it concerns. */
#ifndef SHARKS_UTIL_H
#define SHARKS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define SH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SH_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SH_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Records the message of the current thread's last failure; returns -1. */
int sh_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prepends "<formatted>: " to the last recorded message; returns -1. */
int sh_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last recorded message ("" when none). */
const char *sh_errmsg(void);

/* calloc that records "out of memory (N bytes)" and returns NULL on failure. */
void *sh_alloc(size_t n);
/* One allocation carved into many arrays, in two passes by the same layout code: first over
 * {NULL, 0} to size it (every take returns NULL), then over the allocation of that size. Every
 * array starts on a 64-byte line. (The models' activations: one arena per model.) */
typedef struct {
	unsigned char *base;
	size_t used;
} sh_arena;
void *sh_arena_take(sh_arena *a, size_t bytes);

/* Overflow-checked n*size; returns 0 and records an error on overflow. */
int sh_mul_size(size_t n, size_t size, size_t *out);

/* Reads exactly n bytes; returns n, 0 at a clean end of input before any byte, or records
 * an error ("cut short after K of N bytes" / the I/O error) and returns -1. */
long sh_read_full(void *f, void *buf, size_t n);

/* 64-bit FNV-1a, for data fingerprints; chain calls by passing the previous value. */
uint64_t sh_fnv1a(uint64_t h, const void *data, size_t n);
#define SH_FNV_INIT 0xcbf29ce484222325ULL

/* Temporary output files: the library writes outputs under sh_tmp_name(path) and renames
 * them when complete. A program may install a hook (cli_init does) that is told of every
 * temporary file created (add=1) and finished or removed (add=0), to remove it on a fatal
 * signal or error. */
void sh_tmp_name(char *dst, size_t cap, const char *path);
extern void (*sh_tmp_hook)(const char *tmp_path, int add);
void sh_tmp_track(const char *tmp_path, int add);
/* The end of every temporary output (closed by the caller): when rc is 0, tmp is renamed to
 * path; otherwise, or when the rename fails, tmp is removed. tmp is untracked either way. Returns
 * rc, or -1 with "cannot rename into place: ..." when the rename failed. */
int sh_tmp_finish(const char *tmp, const char *path, int rc);

/* A growing text buffer (s is NUL-terminated, n bytes long); free(b.s) when done. Out of
 * memory cuts the text short and sets failed (JSON goes through json.h's writer, which writes
 * into one of these). */
typedef struct {
	char *s;
	size_t n, cap;
	int failed;
} sh_buf;
void sh_buf_printf(sh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends n bytes of s. */
void sh_buf_add(sh_buf *b, const char *s, size_t n);
/* The byte offset of the first place s is not valid UTF-8 (overlong forms, surrogates and code
 * points past U+10FFFF are invalid), or -1 when all of it is. */
long sh_utf8_invalid(const char *s);
/* Writes n bytes to path atomically: a temporary name (tracked, see above), then rename. */
int sh_write_file(const char *path, const void *data, size_t n);

/* Monotonic seconds. */
double sh_now(void);

/* A hot loop also built for x86-64-v3 (AVX2, FMA) beside the baseline, the one for the machine
 * chosen when the program loads. Not under AddressSanitizer, whose run-time is not ready when
 * the choosers run. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define SH_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SH_HOT
#endif

#endif
