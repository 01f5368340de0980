/* version.h: the project's version and the versions of the libraries a program runs on, for
 * every program's --version (cli_version) and the run records (run.json's "libraries"). */
#ifndef SHARKS_VERSION_H
#define SHARKS_VERSION_H

/* Raised by hand at a release. */
#define SHARKS_VERSION "0.1.0"

typedef struct {
	const char *name;    /* "sndfile", "samplerate", "fftw3f", "openblas", ..., "compiler" */
	const char *version; /* as the library reports it about itself, at run time */
} sh_lib_version;

/* The libraries this process has loaded, each with the version it reports (looked up by
 * symbol, so a program lists only what it links: qsample no cairo), then the compiler and
 * OpenMP. Sets *out to a static table filled on the first call (call it once from one thread
 * before any other) and returns its length. */
int sh_lib_versions(const sh_lib_version **out);

#endif
