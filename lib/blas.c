/* blas.c: settles what OpenBLAS and OpenMP read from the environment when they load (see
 * blas.h): OpenBLAS's kernels for this CPU when its own detection falls back to SSE3 ones (a
 * CPU newer than the library), and passive waits for OpenMP's idle threads. */
#include "blas.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Not declared by every cblas.h */
char *openblas_get_corename(void);

/* GOMP_SPINCOUNT when the user sets no wait policy: libgomp's default spins 300000 times
 * (about a millisecond) at every barrier before sleeping, so a thread that lost its core to
 * another process keeps the others spinning for it; a short spin keeps the quick handovers
 * of an idle machine and gives the core back under load (bench/qtrain.sh measures both). */
#define SPINCOUNT "10000"

blas_cpu blas_cpu_detect(void)
{
	blas_cpu c = {0};
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	c.avx = __builtin_cpu_supports("avx");
	c.avx2 = __builtin_cpu_supports("avx2");
	c.fma = __builtin_cpu_supports("fma");
	c.avx512f = __builtin_cpu_supports("avx512f");
	c.avx512bw = __builtin_cpu_supports("avx512bw");
	c.avx512vl = __builtin_cpu_supports("avx512vl");
	c.avx512dq = __builtin_cpu_supports("avx512dq");
#endif
	return c;
}

int blas_core_is_fallback(const char *name)
{
	/* OpenBLAS's x86 kernels for CPUs without AVX (its DYNAMIC_ARCH list, gotoblas_corename) */
	static const char *const old[] = {"Unknown", "Katmai",  "Coppermine",   "Northwood", "Prescott",
					  "Banias",  "Atom",    "Core2",        "Penryn",    "Dunnington",
					  "Nehalem", "Opteron", "Opteron_SSE3", "Barcelona", "Nano",
					  "Bobcat",  NULL};
	if (!name || !*name)
		return 1;
	for (int i = 0; old[i]; i++)
		if (!strcasecmp(name, old[i]))
			return 1;
	return 0;
}

const char *blas_better_core(const char *picked, const blas_cpu *cpu)
{
	if (!blas_core_is_fallback(picked))
		return NULL;
	if (cpu->avx512f && cpu->avx512bw && cpu->avx512vl && cpu->avx512dq)
		return "SkylakeX";
	if (cpu->avx2 && cpu->fma)
		return "Haswell";
	if (cpu->avx)
		return "Sandybridge";
	return NULL;
}

const char *blas_core_name(void)
{
	const char *pretend = getenv("SHARKS_BLAS_PRETEND");
	if (pretend && *pretend)
		return pretend;
	const char *n = openblas_get_corename();
	return n ? n : "Unknown";
}

void blas_runtime_init(char **argv)
{
	if (getenv("SHARKS_RUNTIME_SET")) {
		/* the second start: what the first one set is in place; programs started from here
		 * decide for themselves */
		unsetenv("SHARKS_RUNTIME_SET");
		unsetenv("SHARKS_BLAS_PRETEND");
		return;
	}
	int change = 0;
	const char *coretype = getenv("OPENBLAS_CORETYPE");
	if (!coretype || !*coretype) {
		blas_cpu cpu = blas_cpu_detect();
		const char *better = blas_better_core(blas_core_name(), &cpu);
		if (better) {
			setenv("OPENBLAS_CORETYPE", better, 1);
			change = 1;
		}
	}
	if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) {
		setenv("GOMP_SPINCOUNT", SPINCOUNT, 1);
		change = 1;
	}
	if (!change || !argv || !argv[0])
		return;
	setenv("SHARKS_RUNTIME_SET", "1", 1);
	execv("/proc/self/exe", argv);
	/* no exec (no /proc): run as we are, with the library's own choices */
	unsetenv("SHARKS_RUNTIME_SET");
}
