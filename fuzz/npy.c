/* fuzz/npy.c: tensor streams (lib/npy.c): every record of arbitrary bytes read to the end or
 * the first error, with the rate check across records. */
#include "fuzz.h"
#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_file(data, size);
	npy_record r = {0};
	int rate = 0;
	float tmp[64];
	while (npy_read_record(f, &r) > 0) {
		npy_check_rate(&r.h, &rate, 0);
		size_t n = r.h.count < 64 ? r.h.count : 64;
		npy_to_f32(tmp, r.data, r.h.dtype, n);
	}
	npy_record_free(&r);
	fclose(f);
	return 0;
}
