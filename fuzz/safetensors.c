/* fuzz/safetensors.c: checkpoints and control files (lib/safetensors.c): a whole file read
 * and checked, then every tensor converted and every metadata value read as a number. */
#include "fuzz.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_file(data, size);
	st_file sf;
	int rc = st_load_fp(f, &sf);
	fclose(f);
	if (rc < 0)
		return 0;
	for (int i = 0; i < sf.ntensors; i++) {
		const st_tensor *t = &sf.tensors[i];
		if (st_find(&sf, t->name) != t)
			abort(); /* names are unique and found */
		float *x = malloc((t->count ? t->count : 1) * sizeof *x);
		if (x)
			st_read_f32(&sf, t->name, x, t->count);
		free(x);
	}
	for (int i = 0; i < sf.nmeta; i++) {
		long v;
		st_meta_long(&sf, sf.meta_key[i], 0, 1L << 30, &v);
		if (!st_meta(&sf, sf.meta_key[i]))
			abort();
	}
	st_free(&sf);
	return 0;
}
