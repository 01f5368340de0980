/* fuzz/controls.c: ddsp-harmonic's controls files (ddsp_controls_read in lib/ddsp.c, over the
 * safetensors reader): tensors, shapes, rate and hop from the metadata, the value checks. */
#include "ddsp.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_file(data, size);
	st_file sf;
	int rc = st_load_fp(f, &sf);
	fclose(f);
	if (rc < 0)
		return 0;
	ddsp_controls c;
	int rate = 0, hop = 0;
	if (ddsp_controls_read(&sf, &c, &rate, &hop) == 0) {
		if (rate < DDSP_RATE_MIN || rate > DDSP_RATE_MAX || hop < 1 || hop > DDSP_HOP_MAX)
			abort();
		ddsp_controls_check(&c, size & 1);
		ddsp_controls_free(&c);
	}
	st_free(&sf);
	return 0;
}
