/* bounds.c: checks a run's options against the command line's bounds (see bounds.h). */
#include "bounds.h"
#include "util.h"

#include <math.h>

static int in(double x, double lo, double hi) { return x >= lo && x <= hi; } /* false for NaN */

int trn_options_check(const trn_options *o)
{
	if (model_config_check(&o->model) < 0)
		return -1;
	if (!in(o->lr, TRN_LR_MIN, TRN_LR_MAX))
		return sh_error("learning rate %g: want %g to %g", o->lr, TRN_LR_MIN, TRN_LR_MAX);
	if (!in(o->beta1, 0, 1) || o->beta1 == 1 || !in(o->beta2, 0, 1) || o->beta2 == 1)
		return sh_error("Adam betas %g, %g: want each in [0, 1)", o->beta1, o->beta2);
	if (!in(o->eps, TRN_EPS_MIN, TRN_EPS_MAX))
		return sh_error("Adam epsilon %g: want %g to %g", o->eps, TRN_EPS_MIN, TRN_EPS_MAX);
	if (o->clip != TRN_CLIP_NONE && o->clip != TRN_CLIP_ELEMENTWISE && o->clip != TRN_CLIP_NORM)
		return sh_error("clip mode %d: want elementwise, norm or none", o->clip);
	if (!in(o->clip_value, TRN_CLIP_VALUE_MIN, TRN_CLIP_VALUE_MAX))
		return sh_error("clip value %g: want %g to %g", o->clip_value, TRN_CLIP_VALUE_MIN, TRN_CLIP_VALUE_MAX);
	if (!in(o->split[0], 0, 100) || !in(o->split[1], 0, 100) || !in(o->split[2], 0, 100) ||
	    fabs(o->split[0] + o->split[1] + o->split[2] - 100) > 1e-9 || o->split[0] <= 0)
		return sh_error("split %g,%g,%g: want three percentages adding up to 100, train > 0", o->split[0],
				o->split[1], o->split[2]);
	if (o->sample_rate < SH_RATE_MIN || o->sample_rate > SH_RATE_MAX)
		return sh_error("sample rate %d Hz: want %d to %d", o->sample_rate, SH_RATE_MIN, SH_RATE_MAX);
	if (trn_quant_mode(o->quantization) < 0)
		return -1;
	return 0;
}
