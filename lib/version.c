/* version.c: the versions of the libraries the program runs on (see version.h). Each library
 * is asked through a symbol looked up in the running process (dlsym), not linked by name, so
 * that asking about cairo does not make every program link cairo. */
#include "version.h"

#include <dlfcn.h>
#include <stdio.h>

#define MAX_LIBS 12

static sh_lib_version table[MAX_LIBS];
static int count = -1;

static void *lookup(const char *symbol) { return dlsym(RTLD_DEFAULT, symbol); }

static void add(const char *name, const char *version)
{
	if (version && *version && count < MAX_LIBS)
		table[count++] = (sh_lib_version){name, version};
}

/* a library's version from a function of no argument returning a string */
static void add_call(const char *name, const char *symbol)
{
	const char *(*f)(void) = (const char *(*)(void))lookup(symbol);
	if (f)
		add(name, f());
}

int sh_lib_versions(const sh_lib_version **out)
{
	if (count < 0) {
		count = 0;
		static char sndfile[128];
		/* sf_command(NULL, SFC_GET_LIB_VERSION = 0x1000, buf, size) */
		int (*sf_command)(void *, int, void *, int) = (int (*)(void *, int, void *, int))lookup("sf_command");
		if (sf_command && sf_command(NULL, 0x1000, sndfile, sizeof sndfile) > 0)
			add("sndfile", sndfile);
		add_call("samplerate", "src_get_version");
		add_call("soxr", "soxr_version");
		add("fftw3f", lookup("fftwf_version")); /* a const char[] */
		add("fftw3", lookup("fftw_version"));
		add_call("openblas", "openblas_get_config");
		add_call("chromaprint", "chromaprint_get_version");
		add_call("cairo", "cairo_version_string");
		/* png_get_libpng_ver ignores its png_struct argument */
		const char *(*png)(const void *) = (const char *(*)(const void *))lookup("png_get_libpng_ver");
		if (png)
			add("libpng", png(NULL));
		add("compiler", __VERSION__);
#ifdef _OPENMP
		static char omp[16];
		snprintf(omp, sizeof omp, "%d", _OPENMP);
		add("openmp", omp);
#endif
	}
	*out = table;
	return count;
}
