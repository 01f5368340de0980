/* test_cliopt.c: an option table (lib/cliopt.h) parses every kind of option, refuses values out
 * of range with the option named, tells a missing argument from an unknown option, calls a
 * parser of its own, lists every option in --help and records them in JSON. Usage errors exit,
 * so they run in a child process whose stderr is read back. */
#include "cli.h"
#include "cliopt.h"
#include "json.h"
#include "tap.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int flag, n_int, choice;
static long n_long;
static double x;
static const char *name, *out;
static int pair[2];

static const cli_choice shapes[] = {{"round", 1}, {"square", 2}, {"flat", 3}, {NULL, 0}};

/* "A,B": two integers */
static int parse_pair(const char *arg, void *dest)
{
	int *p = dest;
	char end;
	if (sscanf(arg, "%d,%d%c", &p[0], &p[1], &end) != 2)
		return sh_error("expected two integers like 3,4, got '%s'", arg);
	return 0;
}

static cli_opt table[] = {
	{"flag", 'f', NULL, CLI_FLAG, &flag, .help = "a flag"},
	{NULL, 0, NULL, CLI_HEADING, .help = "numbers:"},
	{"count", 'n', "N", CLI_INT, &n_int, 1, 100, .def = "5", .help = "an int"},
	{"steps", 0, "S", CLI_LONG, &n_long, 0, 1e300, .help = "a long\nover two lines"},
	{"scale", 0, "X", CLI_DOUBLE, &x, -1, 1, .help = "a double", .flags = CLI_SHOW_VALUE},
	{"name", 0, "NAME", CLI_STRING, &name, .help = "a string"},
	{"shape", 0, "S", CLI_CHOICE, &choice, .choices = shapes, .def = "round", .help = "a choice"},
	{"pair", 0, "A,B", CLI_CALL, pair, .parse = parse_pair, .help = "a callback"},
	{NULL, 'o', "OUT", CLI_STRING, &out, .flags = CLI_NO_RECORD, .help = "output"},
	{.kind = CLI_END},
};

static cli_opts opts = {.head = "usage: t [options] FILE...\n", .foot = "the end\n", .opts = table};

static void reset(void)
{
	flag = 0, n_int = 5, choice = 1, n_long = 0, x = 0.5, name = NULL, out = NULL;
	pair[0] = pair[1] = 0;
	for (cli_opt *o = table; o->kind != CLI_END; o++)
		o->given = 0, o->value = NULL;
	optind = 0; /* glibc: start a new scan */
}

static int argc_of(char **argv)
{
	int n = 0;
	while (argv[n])
		n++;
	return n;
}

/* Parses argv in a child; returns its exit status and its stderr's first line in err. */
static int parse_in_child(char **argv, char *err, size_t cap)
{
	FILE *tmp = tmpfile();
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fileno(tmp), 2);
		if (!freopen("/dev/null", "w", stdout))
			_exit(99);
		reset();
		cli_opts_parse(&opts, argc_of(argv), argv);
		exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	rewind(tmp);
	if (!fgets(err, (int)cap, tmp))
		err[0] = 0;
	err[strcspn(err, "\n")] = 0;
	fclose(tmp);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void refused(const char *want, char **argv)
{
	char err[512];
	int rc = parse_in_child(argv, err, sizeof err);
	tap_ok(rc == 2 && !strcmp(err, want), "%s %s: exit 2, '%s' (got %d, '%s')", argv[1], argv[2] ? argv[2] : "",
	       want, rc, err);
}

int main(void)
{
	cli_init("t");

	reset();
	char *a1[] = {"t",   "-f",      "in1",  "--count=7", "--steps", "123456789012", "--scale", "-0.25", "--name",
		      "x y", "--shape", "flat", "--pair",    "3,4",     "-o",           "o.txt",   "in2",   NULL};
	int first = cli_opts_parse(&opts, argc_of(a1), a1);
	tap_ok(flag == 1 && n_int == 7 && n_long == 123456789012L && x == -0.25 && !strcmp(name, "x y") &&
		       choice == 3 && pair[0] == 3 && pair[1] == 4 && !strcmp(out, "o.txt"),
	       "every kind parsed into its destination");
	tap_ok(first == argc_of(a1) - 2 && !strcmp(a1[first], "in1") && !strcmp(a1[first + 1], "in2"),
	       "operands between options come after them, in order");
	tap_ok(table[2].given && !strcmp(table[2].value, "7") && !table[1].given, "given and value kept");
	tap_ok(cli_opts_given(&opts, &n_int) && cli_opts_find(&opts, "count") == &table[2] &&
		       !cli_opts_find(&opts, "numbers:"),
	       "found by destination and by name");

	reset();
	char *a2[] = {"t", "-n", "9", "in", NULL};
	cli_opts_parse(&opts, argc_of(a2), a2);
	tap_ok(!cli_opts_given(&opts, &x) && n_int == 9 && flag == 0 && choice == 1 && x == 0.5,
	       "a letter; what is not given keeps its default");

	refused("t: -n: expected an integer in [1, 100], got '101'", (char *[]){"t", "--count", "101", NULL});
	refused("t: -n: expected an integer in [1, 100], got '3x'", (char *[]){"t", "-n", "3x", NULL});
	refused("t: --scale: expected a number in [-1, 1], got '2'", (char *[]){"t", "--scale", "2", NULL});
	refused("t: --scale: expected a number in [-1, 1], got 'nan'", (char *[]){"t", "--scale", "nan", NULL});
	refused("t: --steps: expected an integer in [0, 9223372036854775807], got '-1'",
		(char *[]){"t", "--steps", "-1", NULL});
	refused("t: --shape: expected round, square or flat, got 'oval'", (char *[]){"t", "--shape", "oval", NULL});
	refused("t: --pair: expected two integers like 3,4, got '3'", (char *[]){"t", "--pair", "3", NULL});
	refused("t: --count needs an argument", (char *[]){"t", "--count", NULL});
	refused("t: -n needs an argument", (char *[]){"t", "-n", NULL});
	refused("t: --frob: unknown option", (char *[]){"t", "--frob=1", NULL});
	refused("t: -z: unknown option", (char *[]){"t", "-z", NULL});
	refused("t: --flag: unknown option", (char *[]){"t", "--flag=1", NULL}); /* a flag takes no value */

	char err[512];
	tap_ok(parse_in_child((char *[]){"t", "--help", NULL}, err, sizeof err) == 0 && !*err, "--help exits 0");

	const char *help = cli_opts_usage(&opts);
	int all = !strncmp(help, "usage: t [options] FILE...\n", 27) && strstr(help, "the end\n");
	for (const cli_opt *o = table; o->kind != CLI_END; o++) {
		char want[64];
		if (o->kind == CLI_HEADING)
			snprintf(want, sizeof want, "\n%s\n", o->help);
		else if (o->name)
			snprintf(want, sizeof want, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(want, sizeof want, "-%c %s", o->letter, o->arg);
		all &= strstr(help, want) != NULL;
	}
	tap_ok(all && strstr(help, "-q, --quiet") && strstr(help, "-h, --help"),
	       "--help: the head, every option with its argument, the headings, the standard ones, the foot");
	tap_ok(strstr(help, "  -n, --count N  an int (default 5)\n") &&
		       strstr(help, "  --steps S      a long\n                 over two lines\n"),
	       "--help: the help in one column, the default at its end");
	tap_ok(strstr(help, "  --scale X      a double (default 0.5)\n") != NULL,
	       "--help: a default shown from the destination");

	reset();
	char *a3[] = {"t", "--count", "8", "--pair", "1,2", NULL};
	cli_opts_parse(&opts, argc_of(a3), a3);
	json_writer w;
	jw_init(&w, 0);
	jw_obj(&w, NULL);
	cli_opts_json(&opts, &w, "options", 0);
	jw_end(&w);
	const char *text = jw_text(&w);
	const char *want = "{\"options\":{\"flag\":false,\"count\":8,\"steps\":null,\"scale\":0.5,\"name\":null,"
			   "\"shape\":\"round\",\"pair\":\"1,2\"}}";
	json_value *v = text ? json_parse(text, strlen(text)) : NULL;
	tap_ok(v != NULL, "the record is JSON");
	json_free(v);
	tap_ok(text && !strcmp(text, want),
	       "the record: every option's value, null where neither given nor defaulted, "
	       "no heading, no unrecorded option (%s)",
	       text ? text : "NULL");
	jw_free(&w);
	jw_init(&w, 0);
	cli_opts_json(&opts, &w, NULL, 1);
	text = jw_text(&w);
	want = "{\"flag\":false,\"count\":8,\"steps\":null,\"scale\":null,\"name\":null,\"shape\":null,\"pair\":\"1,"
	       "2\"}";
	tap_ok(text && !strcmp(text, want), "given only: null for every option not given (%s)", text ? text : "NULL");
	jw_free(&w);

	/* modes: two entries of one name, for two modes with other ranges; an option of one mode */
	enum { A = 1, B = 2 };
	int level = 0, only_b = 0;
	cli_opt modal[] = {
		{NULL, 0, NULL, CLI_HEADING, .help = "mode A:", .group = A},
		{"level", 0, "L", CLI_INT, &level, 1, 10, .def = "1", .help = "level of A", .group = A},
		{"level", 0, "L", CLI_INT, &level, 1, 99, .def = "5", .help = "level of B", .group = B},
		{"only-b", 0, NULL, CLI_FLAG, &only_b, .help = "B's own", .group = B},
		{"both", 0, NULL, CLI_FLAG, &flag, .help = "A's and B's", .group = A | B},
		{.kind = CLI_END},
	};
	cli_opts ma = {.head = "usage: m\n", .opts = modal, .groups = A},
		 mb = {.head = "usage: m\n", .opts = modal, .groups = B}, mab = {.head = "usage: m\n", .opts = modal};
	const char *ha = cli_opts_usage(&ma), *hb = cli_opts_usage(&mb);
	tap_ok(strstr(ha, "mode A:\n  --level L") && strstr(ha, "level of A (default 1)") &&
		       !strstr(ha, "level of B") && !strstr(ha, "--only-b") && strstr(ha, "--both") &&
		       !strstr(hb, "mode A:") && strstr(hb, "level of B (default 5)") && strstr(hb, "--only-b"),
	       "--help of a mode: its entries alone, with its defaults");
	optind = 0;
	char *m1[] = {"m", "--level", "50", "--both", NULL};
	cli_opts_parse(&mb, argc_of(m1), m1);
	tap_ok(level == 50 && flag == 1 && !cli_opts_given_outside(&mb, B), "an option parsed with its mode's range");
	optind = 0;
	char *m2[] = {"m", "--only-b", "--level", "2", NULL};
	cli_opts_parse(&mab, argc_of(m2), m2);
	const cli_opt *bad = cli_opts_given_outside(&mab, A);
	tap_ok(bad && !strcmp(bad->name, "only-b") && !cli_opts_given_outside(&mab, A | B),
	       "all modes in force: an option of another mode is found");
	char names[64], cut[9];
	cli_opts_names(&mab, B, names, sizeof names);
	cli_opts_names(&mab, B, cut, sizeof cut);
	tap_ok(!strcmp(names, "--level, --only-b") && !strcmp(cut, "--level,"),
	       "a mode's own options, in table order: %s", names);
	char err2[256];
	cli_opts_free(&opts);
	opts = ma; /* parse_in_child parses the table of opts */
	opts.usage = NULL;
	int rc = parse_in_child((char *[]){"m", "--level", "50", NULL}, err2, sizeof err2);
	tap_ok(rc == 2 && strstr(err2, "--level: expected an integer in [1, 10], got '50'"), "mode A's range: %s",
	       err2);
	rc = parse_in_child((char *[]){"m", "--only-b", NULL}, err2, sizeof err2);
	tap_ok(rc == 2 && strstr(err2, "--only-b: unknown option"), "another mode's option is unknown: %s", err2);
	mab.groups = B;
	tap_ok(strstr(cli_opts_usage(&mab), "level of B") && !strstr(cli_opts_usage(&mab), "level of A"),
	       "--help follows a change of the modes in force");
	cli_opts_free(&ma);
	cli_opts_free(&mb);
	cli_opts_free(&mab);
	return tap_done();
}
