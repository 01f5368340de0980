/* blas.h: what must be settled before OpenBLAS and OpenMP start (lib/blas.c): OpenBLAS's
 * kernels for this CPU, and how idle threads wait. Both libraries read their environment when
 * they load, before main, so a program that needs another setting runs itself again with it. */
#ifndef SHARKS_BLAS_H
#define SHARKS_BLAS_H

/* CPU features that decide the kernels. */
typedef struct {
	int avx, avx2, fma, avx512f, avx512bw, avx512vl, avx512dq;
} blas_cpu;

/* This CPU's features (cpuid, through the compiler's builtins). */
blas_cpu blas_cpu_detect(void);

/* Whether OpenBLAS's kernel NAME is one of its fallbacks: kernels for CPUs without AVX
 * (Prescott, Core2, Nehalem ..., or an unknown name), chosen when OpenBLAS does not know a
 * newer CPU. */
int blas_core_is_fallback(const char *name);

/* The OpenBLAS core type for a CPU with these features when OpenBLAS picked `picked`: NULL
 * when the pick is good (not a fallback, or the CPU has nothing better); else the kernel of
 * the CPU's widest vectors: SkylakeX (AVX-512 F/BW/VL/DQ), Haswell (AVX2 and FMA), Sandybridge
 * (AVX). */
const char *blas_better_core(const char *picked, const blas_cpu *cpu);

/* The kernel OpenBLAS runs with (openblas_get_corename). */
const char *blas_core_name(void);

/* Called first in main. When OpenBLAS chose a fallback kernel on a CPU with AVX2 or AVX-512
 * and OPENBLAS_CORETYPE is not set, or when neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set
 * (idle threads would spin for a long time, and under load spinning threads take the time the
 * working ones need), sets them and execs the program again (once: SHARKS_RUNTIME_SET marks
 * the second start). Returns only when nothing is to be changed or the exec failed.
 * SHARKS_BLAS_PRETEND=NAME makes it act as if OpenBLAS had picked NAME (for the tests). */
void blas_runtime_init(char **argv);

#endif
