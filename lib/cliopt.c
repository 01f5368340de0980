/* cliopt.c: a program's option table made into getopt_long's table, parsed values, --help
 * and a JSON record (see cliopt.h). */
#include "cliopt.h"
#include "cli.h"
#include "util.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* help text starts at most at HELP_COLUMN_MAX (a longer option gets a line of its own); a
 * default that would take a line past HELP_WIDTH gets its own */
enum { HELP_COLUMN_MAX = 28, HELP_WIDTH = 100 };

/* whether an entry is in the mode in force, and an option there */
static int in_force(const cli_opts *p, const cli_opt *o) { return !o->group || !p->groups || (o->group & p->groups); }
static int is_option_of(const cli_opts *p, const cli_opt *o) { return o->kind != CLI_HEADING && in_force(p, o); }

static int count(const cli_opts *p)
{
	int n = 0;
	while (p->opts[n].kind != CLI_END)
		n++;
	return n;
}

const cli_opt *cli_opts_given_outside(const cli_opts *p, unsigned allowed)
{
	for (const cli_opt *o = p->opts; o->kind != CLI_END; o++)
		if (is_option_of(p, o) && o->given && o->group && !(o->group & allowed))
			return o;
	return NULL;
}

const char *cli_opts_names(const cli_opts *p, unsigned only, char *buf, size_t cap)
{
	size_t n = 0;
	char label[64];
	buf[0] = 0;
	for (const cli_opt *o = p->opts; o->kind != CLI_END && n < cap; o++)
		if (is_option_of(p, o) && o->group && !(o->group & ~only))
			n += snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", cli_opt_label(o, label, sizeof label));
	return buf;
}

const char *cli_opt_label(const cli_opt *o, char *buf, size_t cap)
{
	if (o->letter)
		snprintf(buf, cap, "-%c", o->letter);
	else
		snprintf(buf, cap, "--%s", o->name);
	return buf;
}

cli_opt *cli_opts_find(cli_opts *p, const char *name)
{
	for (cli_opt *o = p->opts; o->kind != CLI_END; o++)
		if (is_option_of(p, o) && o->name && !strcmp(o->name, name))
			return o;
	return NULL;
}

int cli_opts_given(const cli_opts *p, const void *dest)
{
	for (const cli_opt *o = p->opts; o->kind != CLI_END; o++)
		if (is_option_of(p, o) && o->dest == dest && o->given)
			return 1;
	return 0;
}

/* "  -x, --name ARG" */
static void left_column(const cli_opt *o, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "  ");
	if (o->letter)
		n += snprintf(buf + n, cap - n, "-%c%s", o->letter, o->name ? ", " : "");
	if (o->name)
		n += snprintf(buf + n, cap - n, "--%s", o->name);
	if (o->arg)
		snprintf(buf + n, cap - n, " %s", o->arg);
}

/* An option's lines: the left column, then the help from column col; later lines of the help
 * start at col too; the default closes the last line. */
static void help_lines(sh_buf *b, const char *left, const char *help, const char *def, int col)
{
	int n = (int)strlen(left);
	if (n + 1 > col)
		sh_buf_printf(b, "%s\n%*s", left, col, "");
	else
		sh_buf_printf(b, "%-*s", col, left);
	size_t last = 0; /* length of the last line */
	for (const char *h = help; *h;) {
		last = strcspn(h, "\n");
		sh_buf_printf(b, "%.*s", (int)last, h);
		h += last;
		if (*h == '\n') {
			h++;
			sh_buf_printf(b, "\n%*s", col, "");
		}
	}
	if (def && (size_t)col + last + strlen(def) + 11 > HELP_WIDTH)
		sh_buf_printf(b, "\n%*s(default %s)", col, "", def);
	else if (def)
		sh_buf_printf(b, "%s(default %s)", last ? " " : "", def);
	sh_buf_printf(b, "\n");
}

/* The destination's value as text (CLI_SHOW_VALUE) */
static const char *value_text(const cli_opt *o, char *buf, size_t cap)
{
	switch (o->kind) {
	case CLI_INT: snprintf(buf, cap, "%d", *(const int *)o->dest); break;
	case CLI_LONG: snprintf(buf, cap, "%ld", *(const long *)o->dest); break;
	case CLI_DOUBLE: snprintf(buf, cap, "%g", *(const double *)o->dest); break;
	case CLI_STRING: snprintf(buf, cap, "%s", *(const char *const *)o->dest); break;
	case CLI_CHOICE:
		snprintf(buf, cap, "?");
		for (const cli_choice *c = o->choices; c->name; c++)
			if (c->value == *(const int *)o->dest)
				snprintf(buf, cap, "%s", c->name);
		break;
	default: return o->def;
	}
	return buf;
}

const char *cli_opts_usage(cli_opts *p)
{
	if (p->usage && p->usage_groups == p->groups)
		return p->usage;
	cli_opts_free(p);
	static const cli_opt quiet = {.name = "quiet", .letter = 'q'}, help = {.name = "help", .letter = 'h'};
	char left[128];
	int col = 0;
	for (const cli_opt *o = p->opts; o->kind != CLI_END; o++)
		if (is_option_of(p, o)) {
			left_column(o, left, sizeof left);
			col = SH_MAX(col, (int)strlen(left) + 2);
		}
	left_column(&quiet, left, sizeof left);
	col = SH_MIN(SH_MAX(col, (int)strlen(left) + 2), HELP_COLUMN_MAX);
	sh_buf b = {0};
	sh_buf_printf(&b, "%s", p->head);
	for (const cli_opt *o = p->opts; o->kind != CLI_END; o++) {
		if (!in_force(p, o))
			continue;
		if (o->kind == CLI_HEADING) {
			sh_buf_printf(&b, "%s\n", o->help);
			continue;
		}
		left_column(o, left, sizeof left);
		char value[64];
		help_lines(&b, left, o->help ? o->help : "",
			   o->flags & CLI_SHOW_VALUE ? value_text(o, value, sizeof value) : o->def, col);
	}
	left_column(&quiet, left, sizeof left);
	help_lines(&b, left, p->quiet ? p->quiet : "no progress and no summary line", NULL, col);
	left_column(&help, left, sizeof left);
	help_lines(&b, left, "this text; --version: the version and the libraries used", NULL, col);
	if (p->foot)
		sh_buf_printf(&b, "%s", p->foot);
	if (!b.s)
		cli_die(NULL, "out of memory");
	p->usage = b.s;
	p->usage_groups = p->groups;
	return p->usage;
}

void cli_opts_free(cli_opts *p)
{
	free(p->usage);
	p->usage = NULL;
}

static long long_bound(double x)
{
	if (x >= (double)LONG_MAX)
		return LONG_MAX;
	if (x <= (double)LONG_MIN)
		return LONG_MIN;
	return (long)x;
}

/* "a, b or c" */
static void choice_list(const cli_choice *c, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = 0;
	for (int i = 0; c[i].name && n < cap; i++)
		n += snprintf(buf + n, cap - n, "%s%s", i == 0 ? "" : c[i + 1].name ? ", " : " or ", c[i].name);
}

static void set_value(cli_opts *p, cli_opt *o, const char *arg)
{
	const char *usage = cli_opts_usage(p);
	char label[64];
	cli_opt_label(o, label, sizeof label);
	o->given = 1;
	o->value = arg;
	switch (o->kind) {
	case CLI_FLAG: *(int *)o->dest = 1; break;
	case CLI_INT: *(int *)o->dest = (int)cli_long(usage, label, arg, long_bound(o->lo), long_bound(o->hi)); break;
	case CLI_LONG: *(long *)o->dest = cli_long(usage, label, arg, long_bound(o->lo), long_bound(o->hi)); break;
	case CLI_DOUBLE: *(double *)o->dest = cli_double(usage, label, arg, o->lo, o->hi); break;
	case CLI_STRING: *(const char **)o->dest = arg; break;
	case CLI_CHOICE:
		for (const cli_choice *c = o->choices; c->name; c++)
			if (!strcmp(c->name, arg)) {
				*(int *)o->dest = c->value;
				return;
			}
		char list[256];
		choice_list(o->choices, list, sizeof list);
		cli_usage_error(usage, "%s: expected %s, got '%s'", label, list, arg);
	case CLI_CALL:
		if (o->parse(arg, o->dest) < 0)
			cli_usage_error(usage, "%s: %s", label, sh_errmsg());
		break;
	case CLI_END:
	case CLI_HEADING: break;
	}
}

int cli_opts_parse(cli_opts *p, int argc, char **argv)
{
	enum { LONG_ONLY = 256 }; /* getopt's value of table entry i without a letter: LONG_ONLY + i */
	const char *usage = cli_opts_usage(p);
	int n = count(p);
	struct option *lo = calloc((size_t)n + 4, sizeof *lo);
	char *shorts = malloc(2 * (size_t)n + 4);
	if (!lo || !shorts)
		cli_die(NULL, "out of memory");
	for (int i = 0; i < n; i++)
		p->opts[i].given = 0, p->opts[i].value = NULL;
	int nl = 0, ns = 0;
	shorts[ns++] = ':'; /* a missing argument told from an unknown option */
	for (int i = 0; i < n; i++) {
		const cli_opt *o = &p->opts[i];
		if (!is_option_of(p, o))
			continue;
		if (o->name)
			lo[nl++] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL,
						   o->letter ? o->letter : LONG_ONLY + i};
		if (o->letter) {
			shorts[ns++] = o->letter;
			if (o->arg)
				shorts[ns++] = ':';
		}
	}
	shorts[ns++] = 'h';
	shorts[ns++] = 'q';
	shorts[ns] = 0;
	lo[nl++] = (struct option){"help", no_argument, NULL, 'h'};
	lo[nl++] = (struct option){"version", no_argument, NULL, CLI_OPT_VERSION};
	lo[nl++] = (struct option){"quiet", no_argument, NULL, 'q'};
	int c;
	while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		cli_opt *o = NULL;
		if (c >= LONG_ONLY && c < LONG_ONLY + n)
			o = &p->opts[c - LONG_ONLY];
		for (int i = 0; i < n && !o && c != 'h' && c != 'q'; i++)
			if (is_option_of(p, &p->opts[i]) && p->opts[i].letter == c)
				o = &p->opts[i];
		if (o)
			set_value(p, o, optarg);
		else
			cli_std_option(usage, c, argv);
	}
	free(lo);
	free(shorts);
	return optind;
}

void cli_opts_json(const cli_opts *p, json_writer *w, const char *key, int given_only)
{
	jw_obj(w, key);
	for (const cli_opt *o = p->opts; o->kind != CLI_END; o++) {
		if (!is_option_of(p, o) || !o->name || (o->flags & CLI_NO_RECORD))
			continue;
		char k[64];
		snprintf(k, sizeof k, "%s", o->name);
		for (char *s = k; *s; s++)
			*s = *s == '-' ? '_' : *s;
		int known = o->given || (!given_only && (o->def || (o->flags & CLI_SHOW_VALUE)));
		switch (o->kind) {
		case CLI_FLAG: jw_bool(w, k, *(const int *)o->dest > 0); break; /* -1: not given, as 0 */
		case CLI_INT: known ? jw_int(w, k, *(const int *)o->dest) : jw_null(w, k); break;
		case CLI_LONG: known ? jw_int(w, k, *(const long *)o->dest) : jw_null(w, k); break;
		case CLI_DOUBLE: known ? jw_num(w, k, *(const double *)o->dest) : jw_null(w, k); break;
		case CLI_STRING: {
			const char *s = o->given || !given_only ? *(const char *const *)o->dest : NULL;
			s ? jw_str(w, k, s) : jw_null(w, k);
			break;
		}
		case CLI_CHOICE: {
			const char *name = NULL;
			for (const cli_choice *c = o->choices; known && c->name && !name; c++)
				if (c->value == *(const int *)o->dest)
					name = c->name;
			name ? jw_str(w, k, name) : jw_null(w, k);
			break;
		}
		case CLI_CALL: {
			const char *s = o->given ? o->value : given_only ? NULL : o->def;
			s ? jw_str(w, k, s) : jw_null(w, k);
			break;
		}
		case CLI_END:
		case CLI_HEADING: break;
		}
	}
	jw_end(w);
}
