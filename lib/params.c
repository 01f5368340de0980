/* params.c: the parameter table of params.h (names, shapes and offsets of a model's slices). */
#include "params.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int param_table_init(param_table *t, int cap)
{
	t->n = 0, t->cap = cap, t->total = 0;
	t->info = sh_alloc(sizeof(nn_param) * cap);
	t->names = sh_alloc((size_t)PARAM_NAME_MAX * cap);
	return t->info && t->names ? 0 : -1;
}

void param_table_free(param_table *t)
{
	free(t->info);
	free(t->names);
	t->info = NULL, t->names = NULL;
}

size_t param_table_add(param_table *t, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2)
{
	nn_param *p = &t->info[t->n];
	char *nm = t->names + (size_t)t->n * PARAM_NAME_MAX;
	t->n++;
	snprintf(nm, PARAM_NAME_MAX, "%s", name);
	p->name = nm;
	p->ndim = ndim;
	p->shape[0] = d0, p->shape[1] = ndim > 1 ? d1 : 0, p->shape[2] = ndim > 2 ? d2 : 0;
	p->shape[3] = 0;
	p->count = (size_t)d0 * (ndim > 1 ? (size_t)d1 : 1) * (ndim > 2 ? (size_t)d2 : 1);
	p->offset = t->total;
	t->total += p->count;
	return p->offset;
}

void *param_table_values(const param_table *t, size_t elem)
{
	size_t bytes;
	if (!sh_mul_size(t->total, elem, &bytes))
		return NULL;
	return sh_alloc(bytes);
}

const nn_param *param_table_info(const param_table *t, int i) { return i >= 0 && i < t->n ? &t->info[i] : NULL; }

double param_fan_in(const param_table *t, int i)
{
	while (i >= 0 && t->info[i].ndim < 2)
		i--;
	if (i < 0)
		return 0;
	double fan_in = 1;
	for (int d = 1; d < t->info[i].ndim; d++)
		fan_in *= (double)t->info[i].shape[d];
	return fan_in;
}

const nn_param *param_table_find(const param_table *t, const char *name)
{
	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->info[i].name, name))
			return &t->info[i];
	sh_error("no parameter '%s'", name);
	return NULL;
}
