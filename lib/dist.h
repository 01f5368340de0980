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

/* x[0..n) = the sum over ranks of scale·(every rank's x), summed in rank order (each rank
 * reduces 1/N of the vector: gathers that slice from every rank, sums it, and all slices are
 * then gathered back). The same bits as scaling x on every rank first, without that pass; one
 * rank: x is left as it is (scale not applied). */
int dist_allreduce_sum_f32(float *x, size_t n, float scale);
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
