/* cliopt.h: one table per program describes each of its options once (name, letter, argument,
 * kind and destination, range or choices, default, help). From it come getopt_long's table, the
 * parsing with its usage errors, the option lines of --help and the record of the options in a
 * JSON file (docs/design.md, "Conventions"). */
#ifndef SHARKS_CLIOPT_H
#define SHARKS_CLIOPT_H

#include "json.h"

typedef enum {
	CLI_END,     /* the entry that ends a table */
	CLI_HEADING, /* a line of help between options (help), no option */
	CLI_FLAG,    /* int *dest = 1; no argument */
	CLI_INT,     /* int *dest, an integer in [lo, hi] */
	CLI_LONG,    /* long *dest, an integer in [lo, hi] */
	CLI_DOUBLE,  /* double *dest, a number in [lo, hi] */
	CLI_STRING,  /* const char **dest, the argument as given */
	CLI_CHOICE,  /* int *dest, the value of the choice named */
	CLI_CALL,    /* parse(arg, dest): 0, or -1 with an error (sh_error) that says what it wanted */
} cli_opt_kind;

/* One name of a CLI_CHOICE and the value it stands for; a list ends with a NULL name. */
typedef struct {
	const char *name;
	int value;
} cli_choice;

/* Flags. CLI_NO_RECORD: an option left out of the JSON record (an action such as --explain).
 * CLI_SHOW_VALUE: the default --help shows is the destination's value before parsing (a
 * default set in one place, such as curate_default_opts), not def. */
#define CLI_NO_RECORD 1
#define CLI_SHOW_VALUE 2

typedef struct {
	const char *name; /* long name without "--", NULL: only the letter */
	char letter;      /* short letter, 0: none */
	const char *arg;  /* the argument's name in --help; NULL: a flag */
	cli_opt_kind kind;
	void *dest;
	double lo, hi;                             /* CLI_INT, CLI_LONG, CLI_DOUBLE */
	const cli_choice *choices;                 /* CLI_CHOICE */
	int (*parse)(const char *arg, void *dest); /* CLI_CALL */
	const char *def;                           /* the default as --help shows it, NULL: none said */
	const char *help;                          /* lines after the first start with '\n' */
	int flags;                                 /* CLI_NO_RECORD, CLI_SHOW_VALUE */
	unsigned group; /* 0: an option in every mode; else the mode(s) it belongs to (cli_opts) */
	/* set while parsing */
	int given;
	const char *value; /* the last argument given */
} cli_opt;

/* A program's options: the text before and after the option lines, and the table, which ends
 * with a CLI_END entry. -h/--help, --version and -q/--quiet are every program's (cli.h) and are
 * not in the table; quiet is -q's help (NULL: "no progress and no summary line"). */
typedef struct {
	const char *head, *foot, *quiet;
	cli_opt *opts;
	char *usage; /* the whole --help text, made by cli_opts_usage */
	/* A program whose options differ by mode (a subcommand, a model) gives the entries of a mode
	 * a group bit and sets groups to the modes in force: an entry of no group in force is no
	 * option at all (not parsed, not in --help, not recorded). 0: every entry. Two entries of
	 * one name may so serve two modes with other ranges or defaults. */
	unsigned groups;
	unsigned usage_groups; /* the groups usage was made for */
} cli_opts;

/* The --help text: head, one line (or more) per option, the standard ones, foot (of the groups
 * in force; kept until they change or cli_opts_free). Dies when memory runs out. */
const char *cli_opts_usage(cli_opts *p);
void cli_opts_free(cli_opts *p);
/* Parses argv with getopt_long (operands may come between options); returns the index of the
 * first operand. A bad value is a usage error naming the option ("-r: expected an integer in
 * [1000, 384000], got 'x'"), as are a missing argument and an unknown option (cli_std_option). */
int cli_opts_parse(cli_opts *p, int argc, char **argv);
/* The option a table entry is called by in messages: "-x" where it has a letter, else "--name". */
const char *cli_opt_label(const cli_opt *o, char *buf, size_t cap);
/* The entry for a long name (without "--"), or NULL. */
cli_opt *cli_opts_find(cli_opts *p, const char *name);
/* Whether the option whose destination is dest was given. */
int cli_opts_given(const cli_opts *p, const void *dest);
/* The first option given whose group lies outside allowed (an option of another mode), or NULL. */
const cli_opt *cli_opts_given_outside(const cli_opts *p, unsigned allowed);
/* "--a, --b, ..." (letters as "-x"): the options in force that belong to the groups of only and to
 * no other (a mode's own options), in table order; cut to cap. */
const char *cli_opts_names(const cli_opts *p, unsigned only, char *buf, size_t cap);
/* Writes the object key: {"long_name": value, ...} with the value of every option (given or
 * default), in table order; names with '_' for '-'. An option neither given nor with a default
 * is null, and with given_only every option not given (its value comes from elsewhere, such as
 * a checkpoint resumed); CLI_CALL options record their argument as given (or their default as
 * shown); a flag not given is false. */
void cli_opts_json(const cli_opts *p, json_writer *w, const char *key, int given_only);

#endif
