/* dist.h: the processes of one data-parallel job (qtrain, qsample under `mpirun -np N`), and
 * the few collective operations training needs. lib/dist.c implements them with MPI (built
 * where OpenMPI is installed); lib/dist_none.c is the one-process fallback built elsewhere,
 * which refuses a launch under mpirun. A GPU backend would implement the same calls with
 * NCCL (allreduce of device buffers) under the same launcher.
 *
 * Every reduction has a fixed order: sums are taken rank 0 first, then rank 1, ..., whatever
 * order the messages arrive in, so the same ranks give the same bits run after run. Without a
 * launcher (no OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE in the environment) the process is
 * rank 0 of 1, MPI is never started, and every collective is a no-op. */
#ifndef SHARKS_DIST_H
#define SHARKS_DIST_H

#include <stddef.h>
#include <stdint.h>

/* Joins the job when launched by mpirun. -1 with an error when launched as one of several
 * ranks by a build without MPI support. */
int dist_init(int *argc, char ***argv);
/* Whether MPI was started (then dist_finalize or dist_abort must end the process). */
int dist_active(void);
int dist_rank(void);
int dist_size(void);
/* Ranks on this machine (to share its cores between them). */
int dist_local_size(void);
/* "Open MPI v4.1.4 ..." or "none". */
const char *dist_library(void);

/* A vector of n values is cut into one slice per rank, in rank order: rank r's is
 * [dist_slice_lo(n, r, N), dist_slice_lo(n, r + 1, N)), its ends on multiples of
 * DIST_SLICE_ALIGN values (the blocks in which clipping sums squares, nn_kernels.h), so that
 * a rank's slice is whole blocks; a slice may be empty when n is small. */
#define DIST_SLICE_ALIGN 4096
static inline size_t dist_slice_lo(size_t n, int r, int nranks)
{
	if (r >= nranks)
		return n;
	size_t lo = n * (size_t)r / (size_t)nranks / DIST_SLICE_ALIGN * DIST_SLICE_ALIGN;
	return lo < n ? lo : n;
}

/* x[0..n) = the sum over ranks of scale·(every rank's x), summed in rank order: the
 * reduce-scatter below, then dist_allgather_slices. The same bits as scaling x on every rank
 * first, without that pass; one rank: x is left as it is (scale not applied). */
int dist_allreduce_sum_f32(float *x, size_t n, float scale);
/* The first half of that: only this rank's slice of x becomes the sum (each rank gathers its
 * slice from every other rank and sums them); the rest of x is left as it was. */
int dist_reduce_scatter_sum_f32(float *x, size_t n, float scale);
/* Every rank's slice of x[0..n) (dist_slice_lo) to every rank, values of elem_bytes each; or,
 * with per > 1 (a divisor of DIST_SLICE_ALIGN), x holds one value for each `per` values of a
 * vector of n (⌈n/per⌉ of them: a block's sum, say), and rank r's are those of its slice. */
int dist_allgather_slices(void *x, size_t n, size_t per, size_t elem_bytes);
/* The same for a few doubles (gathered whole, summed in rank order on every rank). */
int dist_allreduce_sum_f64(double *x, int n);
/* all[r·bytes ..] = rank r's mine, on every rank. */
int dist_allgather(const void *mine, void *all, size_t bytes);
/* Rank root's buf to every rank. */
int dist_bcast(void *buf, size_t bytes, int root);
/* The largest of every rank's v (agreeing on a flag: stop, failed). */
int dist_max_int(int v);
/* Returns when every rank has called it; a rank that waits sleeps rather than spins (a core it
 * would spin on may be the one the rank it waits for needs). */
void dist_barrier(void);

/* Leaves the job normally (every rank must call it). */
void dist_finalize(void);
/* Ends every rank of the job now with this exit status (MPI_Abort); a plain exit without MPI. */
_Noreturn void dist_abort(int status);

#endif
