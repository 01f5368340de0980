/* dist.c: dist.h with MPI (built where OpenMPI is installed; dist_none.c elsewhere). MPI is
 * started only when a launcher started the process, so a plain run never touches it. The
 * float reduction is a reduce-scatter and an allgather written with MPI_Alltoallv and
 * MPI_Allgatherv, so that the order of the sums is ours (rank order), not the library's. */
#include "dist.h"
#include "util.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int active, rank, size = 1, local_size = 1;
static char library[MPI_MAX_LIBRARY_VERSION_STRING] = "none";
/* reduction scratch: the slice of every rank (size × slice floats), counts and offsets */
static float *scratch;
static size_t scratch_cap;
static int *counts, *offsets, *rcounts, *roffsets;
static const float **from; /* the rank-order terms of the sum: scratch slices, and x's own */

int dist_init(int *argc, char ***argv)
{
	if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_SIZE"))
		return 0;
	int provided;
	if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
		return sh_error("MPI_Init failed");
	active = 1;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	MPI_Comm node;
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
	MPI_Comm_size(node, &local_size);
	MPI_Comm_free(&node);
	int len = 0;
	MPI_Get_library_version(library, &len);
	char *nl = strchr(library, '\n'); /* the first line: name and version */
	if (nl)
		*nl = 0;
	counts = malloc(4 * size * sizeof *counts);
	from = malloc(size * sizeof *from);
	if (!counts || !from)
		return sh_error("out of memory");
	offsets = counts + size, rcounts = counts + 2 * size, roffsets = counts + 3 * size;
	return 0;
}

int dist_active(void) { return active; }
int dist_rank(void) { return rank; }
int dist_size(void) { return size; }
int dist_local_size(void) { return local_size; }
const char *dist_library(void) { return library; }

/* counts[r], offsets[r] = rank r's slice of n values (dist_slice_lo), for MPI's v-calls; -1
 * when they do not fit its int counts */
static int slice_counts(size_t n, size_t per)
{
	if (n > INT_MAX) /* MPI counts and offsets are ints */
		return sh_error("a vector of %zu values: too many for one message", n);
	for (int r = 0; r < size; r++) {
		size_t a = dist_slice_lo(n, r, size), b = dist_slice_lo(n, r + 1, size);
		a = (a + per - 1) / per, b = (b + per - 1) / per;
		counts[r] = (int)(b - a), offsets[r] = (int)a;
	}
	return 0;
}

int dist_reduce_scatter_sum_f32(float *x, size_t n, float scale)
{
	if (size == 1)
		return 0;
	if (slice_counts(n, 1) < 0)
		return -1;
	size_t slice = 0; /* the longest slice: every rank's scratch slot holds one */
	for (int r = 0; r < size; r++)
		slice = SH_MAX(slice, (size_t)counts[r]);
	if (slice * size > scratch_cap) { /* (my own slot stays unused) */
		float *s = realloc(scratch, slice * size * sizeof *s);
		if (!s)
			return sh_error("out of memory");
		scratch = s, scratch_cap = slice * size;
	}
	/* receive my slice from every other rank, rank r's at scratch[r·slice]; my own stays in x
	 * (no copy to myself: counts of 0) */
	const int mine_n = counts[rank];
	for (int r = 0; r < size; r++)
		rcounts[r] = r == rank ? 0 : mine_n, roffsets[r] = (int)(r * slice);
	counts[rank] = 0;
	MPI_Alltoallv(x, counts, offsets, MPI_FLOAT, scratch, rcounts, roffsets, MPI_FLOAT, MPI_COMM_WORLD);
	/* the scale in the same pass as the sum: scale·x is the same float whichever rank
	 * multiplies, so this is the sum of the scaled vectors, without a pass of its own */
	float *mine = x + offsets[rank];
	for (int r = 0; r < size; r++)
		from[r] = r == rank ? mine : scratch + (size_t)r * slice;
	for (int i = 0; i < mine_n; i++) { /* in rank order */
		float s = scale * from[0][i];
		for (int r = 1; r < size; r++)
			s += scale * from[r][i];
		mine[i] = s;
	}
	return 0;
}

int dist_allgather_slices(void *x, size_t n, size_t per, size_t elem_bytes)
{
	if (size == 1)
		return 0;
	if (slice_counts(n, per) < 0)
		return -1;
	MPI_Datatype elem;
	MPI_Type_contiguous((int)elem_bytes, MPI_BYTE, &elem);
	MPI_Type_commit(&elem);
	MPI_Allgatherv(MPI_IN_PLACE, 0, elem, x, counts, offsets, elem, MPI_COMM_WORLD);
	MPI_Type_free(&elem);
	return 0;
}

int dist_allreduce_sum_f32(float *x, size_t n, float scale)
{
	if (dist_reduce_scatter_sum_f32(x, n, scale) < 0)
		return -1;
	return dist_allgather_slices(x, n, 1, sizeof *x);
}

int dist_allreduce_sum_f64(double *x, int n)
{
	if (size == 1)
		return 0;
	double *all = malloc((size_t)n * size * sizeof *all);
	if (!all)
		return sh_error("out of memory");
	MPI_Allgather(x, n, MPI_DOUBLE, all, n, MPI_DOUBLE, MPI_COMM_WORLD);
	for (int i = 0; i < n; i++) {
		double s = all[i];
		for (int r = 1; r < size; r++)
			s += all[(size_t)r * n + i];
		x[i] = s;
	}
	free(all);
	return 0;
}

int dist_allgather(const void *mine, void *all, size_t bytes)
{
	if (size == 1) {
		memmove(all, mine, bytes);
		return 0;
	}
	if (bytes > INT_MAX)
		return sh_error("allgather of %zu bytes: too many for one message", bytes);
	MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
	return 0;
}

int dist_bcast(void *buf, size_t bytes, int root)
{
	if (size == 1)
		return 0;
	if (bytes > INT_MAX)
		return sh_error("broadcast of %zu bytes: too many for one message", bytes);
	MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD);
	return 0;
}

int dist_max_int(int v)
{
	if (size == 1)
		return v;
	int m = v;
	MPI_Allreduce(&v, &m, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	return m;
}

void dist_barrier(void)
{
	if (size == 1)
		return;
	/* MPI_Barrier spins on a core while it waits; a rank that waits for a slower one (a step
	 * of imbalance, another process on the core) sleeps instead, after a short spin, so that
	 * the core goes to the rank it waits for. Sleeps grow from 20 µs to 1 ms: a wait of t costs
	 * at most about t/8 + 1 ms more */
	MPI_Request req;
	MPI_Ibarrier(MPI_COMM_WORLD, &req);
	int done = 0;
	double t0 = MPI_Wtime(), waited = 0;
	while (MPI_Test(&req, &done, MPI_STATUS_IGNORE), !done) {
		waited = MPI_Wtime() - t0;
		if (waited < 50e-6)
			continue;
		double nap = SH_MIN(SH_MAX(waited / 8, 20e-6), 1e-3);
		struct timespec ts = {0, (long)(nap * 1e9)};
		nanosleep(&ts, NULL);
	}
}

void dist_finalize(void)
{
	if (!active)
		return;
	active = 0;
	MPI_Finalize();
	free(scratch), free(counts), free(from);
	scratch = NULL, counts = NULL, from = NULL, scratch_cap = 0;
}

void dist_abort(int status)
{
	if (active)
		MPI_Abort(MPI_COMM_WORLD, status);
	exit(status);
}
