/* cli.h: the conventions every program in filters/ follows (docs/design.md, "Conventions"):
 * messages as `prog: file: what`, exit 2 for usage errors and 1 for failures, `-` for the
 * standard streams, no binary data to a terminal, output files written under a temporary
 * name and renamed when complete (removed on any failure), progress on stderr. */
#ifndef SHARKS_CLI_H
#define SHARKS_CLI_H

#include <stdio.h>

extern const char *prog_name;

/* The seed of every program's --seed when none is given. */
#define CLI_DEFAULT_SEED 1

/* -q, --quiet: no progress bar and no summary line; messages about failures still appear.
 * Set by cli_std_option, obeyed by cli_progress_* (and by a program's own summary lines). */
extern int cli_quiet;

/* The options every program answers, handled by cli_std_option: -h and --help (the usage on
 * stdout, exit 0), --version, -q and --quiet. cli_opts_parse (cliopt.h) puts them in every
 * program's getopt_long table, with an optstring that starts with ':' (so that a missing
 * argument is told from an unknown option). */
#define CLI_OPT_VERSION 0x7ff0
/* The `default:` case of a getopt_long loop: answers -h, --version and -q (returns after -q);
 * a missing argument or an unknown option is a usage error that names the option. */
void cli_std_option(const char *usage, int c, char *const argv[]);
/* "PROG (1000 sharks) VERSION" and one "  library version" line per library the program runs
 * on (version.h), on stdout; exits 0. */
_Noreturn void cli_version(void);

/* Sets prog_name and installs handlers that remove unfinished outputs on SIGINT/SIGTERM. */
void cli_init(const char *name);

/* "prog: file: message" (file may be NULL) to stderr. */
void cli_warn(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, then removes unfinished outputs and exits 1. */
_Noreturn void cli_die(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cli_die with the library's last error message. */
_Noreturn void cli_die_lib(const char *file);
/* Usage error: "prog: message", the usage text, exit 2. */
_Noreturn void cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses numbers from option arguments or dies with a usage error naming the option. */
double cli_double(const char *usage, const char *opt, const char *arg, double lo, double hi);
long cli_long(const char *usage, const char *opt, const char *arg, long lo, long hi);

/* "-" or NULL is stdin; otherwise opens the file or dies naming it. */
FILE *cli_open_in(const char *path);
/* Display name of an input or output path ("-"/NULL → "stdin"/"stdout"). */
const char *cli_in_name(const char *path);
const char *cli_out_name(const char *path);

/* An output file written atomically. path "-" or NULL is stdout (refused for binary data when
 * stdout is a terminal). */
typedef struct {
	FILE *f;
	char *path; /* final name, NULL for stdout */
	char *tmp;  /* temporary name while open (NULL: written in place, e.g. a device) */
} cli_out;
void cli_out_open(cli_out *o, const char *path, int binary);
/* Flushes, closes and renames into place; dies on a write error (e.g. disk full). */
void cli_out_close(cli_out *o);
/* Registers / unregisters a temporary path to remove if the program dies. */
void cli_cleanup_add(const char *path);
void cli_cleanup_remove(const char *path);
/* Sets (NULL: clears) one staging directory of plain files that a fatal signal or cli_die
 * removes with everything in it. */
void cli_cleanup_dir(const char *dir);

/* An output directory written whole (curate's OUTDIR, albumpage's album): the program builds it
 * in a staging directory beside its place and puts it there at the end, so that OUTDIR never
 * holds a half result. An existing OUTDIR is replaced only when it is an empty directory or an
 * earlier output of the same program: a directory of plain files holding MARKER, a file that
 * only this program writes there (curate's curation.json, albumpage's album.json). WHAT names
 * such an output in messages ("an earlier album").
 *
 * cli_stage_dir creates the staging directory STAGE (and any missing parent; a leftover of a
 * killed run is removed first) and makes it the cleanup directory (cli_cleanup_dir), removed by
 * a fatal signal, cli_die or exit until it is committed. */
void cli_stage_dir(const char *stage);
/* Dies ("exists and is not WHAT ...; not replacing it") unless OUT is absent or replaceable. */
void cli_check_replaceable(const char *out, const char *marker, const char *what);
/* Puts STAGE in OUT's place: checks OUT again (it may have changed while the program worked),
 * moves it aside to OUT.oldPID, renames STAGE to OUT, then removes the earlier output. Any
 * failure restores the earlier output (a fatal signal between the two renames too) and dies. */
void cli_commit_dir(const char *stage, const char *out, const char *marker, const char *what);

/* Whether a path names an audio file by its extension (.wav .flac .ogg .mp3 ...). */
int cli_is_audio_path(const char *path);
/* Whether a path names a directory: ends with '/' or is an existing directory. */
int cli_is_dir_path(const char *path);
/* snprintf into a path buffer; dies when the path does not fit (never a truncated name). */
void cli_pathf(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* rm -r: removes a directory and everything in it (quietly, as far as it can). */
void cli_remove_tree(const char *dir);
/* mkdir -p; dies naming the path on failure. */
void cli_mkdirs(const char *path);

/* Progress: a bar with rate and ETA when stderr is a terminal, nothing until the summary
 * line otherwise; neither under -q. total <= 0 means unknown. */
typedef struct {
	const char *what, *unit;
	double total, start, last_draw;
	int tty;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *what, double total, const char *unit);
void cli_progress_update(cli_progress *p, double done, const char *extra);
/* Clears the bar and prints "prog: summary" as one line (nothing under -q). */
void cli_progress_end(cli_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clears the bar only, e.g. before a failure's message. */
void cli_progress_clear(cli_progress *p);

#endif
