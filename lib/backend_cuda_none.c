/* backend_cuda_none.c: backend.h's CUDA entry points in a build without nvcc (or with CUDA=0;
 * see the Makefile): there is no CUDA backend, and opening one says so. lib/backend_cuda.cu is
 * the real one. */
#include "backend.h"
#include "util.h"

backend *backend_cuda_open(void)
{
	sh_error("built without CUDA support (rebuild where nvcc is found: docs/cuda.md)");
	return NULL;
}

int backend_cuda_built(void) { return 0; }

int backend_cuda_load_blas(void) { return sh_error("built without CUDA support"); }
