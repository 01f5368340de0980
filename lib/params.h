/* params.h: the table of a model's parameters. Every parameter tensor is a named slice of one
 * array of values (gradients and Adam moments are laid out the same), named with the PyTorch
 * state_dict key of the peer. SampleRNN and WaveNet (in float and in double) keep theirs in a
 * param_table; the table itself holds no values, so one build serves both precisions. */
#ifndef SHARKS_PARAMS_H
#define SHARKS_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define PARAM_NAME_MAX 96

typedef struct {
	const char *name; /* state_dict key */
	int ndim;
	int64_t shape[4];     /* ndim sizes, the rest 0 */
	size_t offset, count; /* slice of the parameter array */
} nn_param;

typedef struct {
	nn_param *info; /* [cap] */
	char *names;    /* [cap × PARAM_NAME_MAX] */
	int n, cap;
	size_t total; /* values in all slices: the parameter array's length */
} param_table;

/* Room for cap slices (the caller counts them beforehand); -1 with an error. */
int param_table_init(param_table *t, int cap);
void param_table_free(param_table *t);
/* Appends a slice of ndim (1 to 3) sizes d0, d1, d2 (those beyond ndim are ignored) after the
 * previous ones and returns its offset. */
size_t param_table_add(param_table *t, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2);
/* A zeroed array of `total` values of elem bytes (the parameters, the gradients); NULL with an
 * error. */
void *param_table_values(const param_table *t, size_t elem);
/* Slice i, or NULL when out of range. */
const nn_param *param_table_info(const param_table *t, int i);
/* torch's fan_in of slice i, for its default init (uniform in ±1/√fan_in): of a weight (2 or
 * more dimensions) the product of all its sizes but the first; of a bias (1 dimension) the
 * fan_in of the nearest weight before it; 0 when there is none. */
double param_fan_in(const param_table *t, int i);
/* The slice named `name`, or NULL with an error. */
const nn_param *param_table_find(const param_table *t, const char *name);

#endif
