/* dist_none.c: dist.h without MPI (built where OpenMPI is not installed): one process, rank 0
 * of 1. A launch as one of several ranks under mpirun is refused rather than run N times as
 * N separate trainings writing the same files. */
#include "dist.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

int dist_init(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS"};
	for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
		const char *s = getenv(vars[i]);
		if (s && atoi(s) > 1)
			return sh_error("launched as one of %d ranks (%s), but built without MPI support "
					"(install libopenmpi-dev and rebuild)",
					atoi(s), vars[i]);
	}
	return 0;
}

int dist_active(void) { return 0; }
int dist_rank(void) { return 0; }
int dist_size(void) { return 1; }
int dist_local_size(void) { return 1; }
const char *dist_library(void) { return "none"; }
int dist_allreduce_sum_f32(float *x, size_t n, float scale)
{
	(void)x, (void)n, (void)scale;
	return 0;
}
int dist_reduce_scatter_sum_f32(float *x, size_t n, float scale)
{
	(void)x, (void)n, (void)scale;
	return 0;
}
int dist_allgather_slices(void *x, size_t n, size_t per, size_t elem_bytes)
{
	(void)x, (void)n, (void)per, (void)elem_bytes;
	return 0;
}
int dist_allreduce_sum_f64(double *x, int n)
{
	(void)x, (void)n;
	return 0;
}
int dist_allgather(const void *mine, void *all, size_t bytes)
{
	memmove(all, mine, bytes);
	return 0;
}
int dist_bcast(void *buf, size_t bytes, int root)
{
	(void)buf, (void)bytes, (void)root;
	return 0;
}
int dist_max_int(int v) { return v; }
void dist_barrier(void) {}
void dist_finalize(void) {}
void dist_abort(int status) { exit(status); }
