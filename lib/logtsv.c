/* logtsv.c: log.tsv's rows (see logtsv.h). */
#include "logtsv.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int trn_log_append(trn_log *l, const trn_log_row *row)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 64;
		trn_log_row *r = realloc(l->rows, cap * sizeof *r);
		if (!r)
			return sh_error("out of memory");
		l->rows = r;
		l->cap = cap;
	}
	l->rows[l->n++] = *row;
	return 0;
}

int trn_log_parse(trn_log *l, FILE *f, long max_step)
{
	char line[1024];
	int lineno = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		size_t len = strlen(line);
		if (lineno == 1 && !strncmp(line, "step\t", 5))
			continue;
		if (!len || line[len - 1] != '\n')
			return sh_error(len == sizeof line - 1 ? "line %d: too long for a row of qtrain's log"
							       : "line %d: cut short (no end of line)",
					lineno);
		trn_log_row r;
		char tb[64], vb[64];
		int end = 0;
		if (sscanf(line, "%ld\t%lf\t%63[^\t]\t%63[^\t]\t%lf\t%lf\t%lf%n", &r.step, &r.epoch, tb, vb,
			   &r.samples_per_s, &r.lr, &r.seconds, &end) != 7 ||
		    (line[end] != '\t' && line[end] != '\n'))
			return sh_error("line %d: not a row of qtrain's log", lineno);
		char *e1, *e2;
		r.train_bits = strtod(tb, &e1); /* "nan" where there was none */
		r.valid_bits = strtod(vb, &e2);
		/* the eighth column, fad, is absent from logs written before it */
		char *e3 = line + end;
		r.fad = line[end] == '\t' ? strtod(line + end + 1, &e3) : NAN;
		if (*e1 || *e2 || e3 == line + end + 1 || *e3 != '\n')
			return sh_error("line %d: not a row of qtrain's log", lineno);
		if (r.step <= max_step && trn_log_append(l, &r) < 0)
			return -1;
	}
	if (ferror(f))
		return sh_error("%s", strerror(errno));
	return 0;
}

int trn_log_read(trn_log *l, const char *path, long max_step)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : sh_error("%s: %s", path, strerror(errno));
	int rc = trn_log_parse(l, f, max_step);
	fclose(f);
	return rc < 0 ? sh_error_prefix("%s", path) : 0;
}

int trn_log_write(const trn_log *l, const char *path)
{
	sh_buf b = {0};
	const char *m = l->metric ? l->metric : "bits";
	sh_buf_printf(&b, "step\tepoch\ttrain_%s\tvalid_%s\tsamples_per_s\tlr\tseconds\tfad\n", m, m);
	for (int i = 0; i < l->n; i++) {
		const trn_log_row *r = &l->rows[i];
		/* NAN as "nan" whatever its sign bit, so that readers see one spelling */
		sh_buf_printf(&b, "%ld\t%.4f\t", r->step, r->epoch);
		sh_buf_printf(&b, isnan(r->train_bits) ? "nan\t" : "%.6f\t", r->train_bits);
		sh_buf_printf(&b, isnan(r->valid_bits) ? "nan\t" : "%.6f\t", r->valid_bits);
		sh_buf_printf(&b, "%.1f\t%g\t%.1f\t", r->samples_per_s, r->lr, r->seconds);
		sh_buf_printf(&b, isnan(r->fad) ? "nan\n" : "%.6f\n", r->fad);
	}
	int rc = sh_write_file(path, b.s, b.n);
	free(b.s);
	return rc;
}

void trn_log_free(trn_log *l)
{
	free(l->rows);
	memset(l, 0, sizeof *l);
}
