/* cli.c: program conventions shared by every filter (see cli.h). */
#include "cli.h"
#include "util.h"
#include "version.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *prog_name = "sharks";
int cli_quiet;

/* Paths to remove on a fatal signal or cli_die: a list that grows (qsample writes hundreds of
 * clips at once). The handler reads it while the program is stopped between two
 * instructions, so a new array is published before the old one is freed. */
static char **volatile cleanup_paths;
static volatile int cleanup_cap;
static char *cleanup_dir;
/* While cli_commit_dir swaps two directories: the earlier output moved aside, and its place,
 * so that a fatal signal between the two renames puts it back. */
static char swap_aside[4200], swap_out[4200];
static volatile sig_atomic_t swapping;

/* Removes the files in dir, then dir, from a signal handler: only system calls (getdents64
 * through syscall(), unlinkat, rmdir), no opendir/readdir, which may allocate. The listing is
 * restarted after each batch, as removing entries moves the ones not yet listed. */
static void remove_flat_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return;
	_Alignas(8) char buf[4096];
	for (int removed = 1; removed;) {
		removed = 0;
		lseek(fd, 0, SEEK_SET);
		long n;
		while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
			for (long off = 0; off < n;) {
				struct {
					uint64_t ino;
					int64_t next;
					unsigned short reclen;
					unsigned char type;
					char name[];
				} *d = (void *)(buf + off);
				if (strcmp(d->name, ".") && strcmp(d->name, "..") && unlinkat(fd, d->name, 0) == 0)
					removed = 1;
				off += d->reclen;
			}
	}
	close(fd);
	rmdir(dir);
}

/* unlink() is async-signal-safe; the paths are only written outside handlers */
static void remove_unfinished(void)
{
	char **paths = cleanup_paths;
	for (int i = 0, n = cleanup_cap; i < n; i++)
		if (paths[i])
			unlink(paths[i]);
	if (cleanup_dir)
		remove_flat_dir(cleanup_dir);
	if (swapping)
		rename(swap_aside, swap_out); /* fails, as it should, once the new output is in place */
}

static void on_signal(int sig)
{
	remove_unfinished();
	signal(sig, SIG_DFL);
	raise(sig);
}

void cli_cleanup_dir(const char *dir)
{
	char *old = cleanup_dir;
	cleanup_dir = dir ? strdup(dir) : NULL;
	free(old);
}

static void remove_stage_at_exit(void)
{
	if (cleanup_dir)
		cli_remove_tree(cleanup_dir);
}

void cli_stage_dir(const char *stage)
{
	static int registered;
	char parent[4096];
	const char *slash = strrchr(stage, '/');
	if (slash && slash > stage) {
		cli_pathf(parent, sizeof parent, "%.*s", (int)(slash - stage), stage);
		cli_mkdirs(parent);
	}
	cli_remove_tree(stage);
	if (mkdir(stage, 0777))
		cli_die(stage, "cannot create directory: %s", strerror(errno));
	cli_cleanup_dir(stage);
	if (!registered && !atexit(remove_stage_at_exit))
		registered = 1;
}

void cli_check_replaceable(const char *out, const char *marker, const char *what)
{
	struct stat st;
	if (lstat(out, &st))
		return;
	if (!S_ISDIR(st.st_mode))
		cli_die(out, "exists and is not a directory; not replacing it");
	DIR *d = opendir(out);
	if (!d)
		cli_die(out, "%s", strerror(errno));
	struct dirent *e;
	char p[8192], other[256] = "";
	int empty = 1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = 0;
			snprintf(p, sizeof p, "%s/%s", out, e->d_name);
			if (!*other && (lstat(p, &st) || !S_ISREG(st.st_mode)))
				snprintf(other, sizeof other, "%s", e->d_name);
		}
	closedir(d);
	cli_pathf(p, sizeof p, "%s/%s", out, marker);
	if (!empty && (lstat(p, &st) || !S_ISREG(st.st_mode)))
		cli_die(out, "exists and is not %s (no %s); not replacing it", what, marker);
	if (*other)
		cli_die(out, "exists and is not %s (%s is not a plain file); not replacing it", what, other);
}

void cli_commit_dir(const char *stage, const char *out, const char *marker, const char *what)
{
	cli_check_replaceable(out, marker, what);
	cli_pathf(swap_out, sizeof swap_out, "%s", out);
	cli_pathf(swap_aside, sizeof swap_aside, "%s.old%ld", out, (long)getpid());
	int had = rename(out, swap_aside) == 0;
	if (!had && errno != ENOENT)
		cli_die(out, "cannot move the earlier output aside: %s", strerror(errno));
	swapping = had;
	if (rename(stage, out)) {
		int e = errno;
		swapping = 0;
		if (had && rename(swap_aside, out))
			cli_die(out, "cannot rename %s into place (%s), nor put the earlier output back from %s: %s",
				stage, strerror(e), swap_aside, strerror(errno));
		cli_die(out, "cannot rename %s into place: %s", stage, strerror(e));
	}
	swapping = 0;
	if (cleanup_dir && !strcmp(cleanup_dir, stage))
		cli_cleanup_dir(NULL);
	if (had) {
		cli_remove_tree(swap_aside);
		if (access(swap_aside, F_OK) == 0)
			cli_warn(swap_aside, "earlier output left here");
	}
}

static void tmp_hook(const char *path, int add)
{
	if (add)
		cli_cleanup_add(path);
	else
		cli_cleanup_remove(path);
}

void cli_init(const char *name)
{
	prog_name = name;
	sh_tmp_hook = tmp_hook;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_DFL);
}

void cli_cleanup_add(const char *path)
{
	char *p = strdup(path);
	if (!p)
		cli_die(path, "out of memory");
	for (int i = 0; i < cleanup_cap; i++)
		if (!cleanup_paths[i]) {
			cleanup_paths[i] = p;
			return;
		}
	int cap = cleanup_cap ? 2 * cleanup_cap : 64;
	char **grown = calloc((size_t)cap, sizeof *grown), **old = cleanup_paths;
	if (!grown)
		cli_die(path, "out of memory");
	if (cleanup_cap)
		memcpy(grown, old, (size_t)cleanup_cap * sizeof *grown);
	grown[cleanup_cap] = p;
	cleanup_paths = grown; /* the new list, whole, then its length */
	cleanup_cap = cap;
	free(old);
}

void cli_cleanup_remove(const char *path)
{
	for (int i = 0; i < cleanup_cap; i++)
		if (cleanup_paths[i] && !strcmp(cleanup_paths[i], path)) {
			char *p = cleanup_paths[i];
			cleanup_paths[i] = NULL;
			free(p);
		}
}

static void vwarn(const char *file, const char *fmt, va_list ap)
{
	fflush(stdout);
	if (file)
		fprintf(stderr, "%s: %s: ", prog_name, file);
	else
		fprintf(stderr, "%s: ", prog_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_warn(const char *file, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(file, fmt, ap);
	va_end(ap);
}

void cli_die(const char *file, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(file, fmt, ap);
	va_end(ap);
	remove_unfinished();
	exit(1);
}

void cli_die_lib(const char *file) { cli_die(file, "%s", sh_errmsg()); }

void cli_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(NULL, fmt, ap);
	va_end(ap);
	fputs(usage, stderr);
	remove_unfinished();
	exit(2);
}

void cli_version(void)
{
	const sh_lib_version *v;
	int n = sh_lib_versions(&v);
	printf("%s (1000 sharks) %s\n", prog_name, SHARKS_VERSION);
	for (int i = 0; i < n; i++)
		printf("  %s %s\n", v[i].name, v[i].version);
	exit(fflush(stdout) || ferror(stdout) ? 1 : 0);
}

void cli_std_option(const char *usage, int c, char *const argv[])
{
	if (c == 'h') {
		fputs(usage, stdout);
		exit(fflush(stdout) ? 1 : 0);
	}
	if (c == CLI_OPT_VERSION)
		cli_version();
	if (c == 'q') {
		cli_quiet = 1;
		return;
	}
	/* the option as written: a short one by its letter (it may sit in a cluster like -vx), a
	 * long one from the argument getopt stopped at, without its "=value" */
	char name[64];
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	if (optopt > 0 && optopt < 128 && !(arg[0] == '-' && arg[1] == '-'))
		snprintf(name, sizeof name, "-%c", optopt);
	else
		snprintf(name, sizeof name, "%.*s", (int)strcspn(arg, "="), arg);
	if (c == ':')
		cli_usage_error(usage, "%s needs an argument", name);
	cli_usage_error(usage, "%s: unknown option", name);
}

double cli_double(const char *usage, const char *opt, const char *arg, double lo, double hi)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= lo && v <= hi))
		cli_usage_error(usage, "%s: expected a number in [%g, %g], got '%s'", opt, lo, hi, arg);
	return v;
}

long cli_long(const char *usage, const char *opt, const char *arg, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < lo || v > hi)
		cli_usage_error(usage, "%s: expected an integer in [%ld, %ld], got '%s'", opt, lo, hi, arg);
	return v;
}

const char *cli_in_name(const char *path) { return !path || !strcmp(path, "-") ? "stdin" : path; }
const char *cli_out_name(const char *path) { return !path || !strcmp(path, "-") ? "stdout" : path; }

FILE *cli_open_in(const char *path)
{
	if (!path || !strcmp(path, "-"))
		return stdin;
	FILE *f = fopen(path, "rb");
	if (!f)
		cli_die(path, "%s", strerror(errno));
	/* fopen opens a directory; its first read would fail as a cut stream */
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode))
		cli_die(path, "is a directory, not a file");
	return f;
}

void cli_out_open(cli_out *o, const char *path, int binary)
{
	memset(o, 0, sizeof *o);
	if (!path || !strcmp(path, "-")) {
		if (binary && isatty(STDOUT_FILENO))
			cli_die("stdout", "refusing to write binary data to a terminal (use -o FILE or a pipe)");
		o->f = stdout;
		return;
	}
	/* a device or a fifo (-o /dev/null) is written in place: renaming over it would replace it */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		o->f = fopen(path, "wb");
		o->path = strdup(path);
		if (!o->f)
			cli_die(path, "cannot open: %s", strerror(errno));
		return;
	}
	size_t n = strlen(path) + 32;
	o->path = strdup(path);
	o->tmp = malloc(n);
	if (!o->path || !o->tmp)
		cli_die(path, "out of memory");
	sh_tmp_name(o->tmp, n, path);
	cli_cleanup_add(o->tmp);
	o->f = fopen(o->tmp, "wb");
	if (!o->f)
		cli_die(path, "cannot create: %s", strerror(errno));
}

void cli_out_close(cli_out *o)
{
	const char *name = cli_out_name(o->path);
	if (fflush(o->f) || ferror(o->f))
		cli_die(name, "write error: %s", strerror(errno));
	if (o->path && !o->tmp) {
		if (fclose(o->f))
			cli_die(name, "write error: %s", strerror(errno));
		free(o->path);
	} else if (o->path) {
		if (fsync(fileno(o->f)) && errno != EINVAL)
			cli_die(name, "write error: %s", strerror(errno));
		if (fclose(o->f))
			cli_die(name, "write error: %s", strerror(errno));
		if (sh_tmp_finish(o->tmp, o->path, 0))
			cli_die(name, "%s", sh_errmsg());
		cli_cleanup_remove(o->tmp); /* added by cli_out_open itself, whatever sh_tmp_hook is */
		free(o->tmp);
		free(o->path);
	}
	memset(o, 0, sizeof *o);
}

int cli_is_audio_path(const char *path)
{
	static const char *ext[] = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".au", ".opus"};
	if (!path)
		return 0;
	const char *dot = strrchr(path, '.');
	if (!dot || strchr(dot, '/'))
		return 0;
	for (size_t i = 0; i < SH_ARRAY_LEN(ext); i++)
		if (!strcasecmp(dot, ext[i]))
			return 1;
	return 0;
}

int cli_is_dir_path(const char *path)
{
	struct stat st;
	if (!path || !*path)
		return 0;
	if (path[strlen(path) - 1] == '/')
		return 1;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void cli_pathf(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap)
		cli_die(dst, "path too long");
}

void cli_remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char p[4096];
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			if (unlink(p))
				cli_remove_tree(p);
		}
	closedir(d);
	rmdir(dir);
}

void cli_mkdirs(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = 0;
			if (mkdir(buf, 0777) && errno != EEXIST)
				cli_die(path, "cannot create directory: %s", strerror(errno));
			*p = c;
			if (!c)
				break;
		}
	}
}

void cli_progress_start(cli_progress *p, const char *what, double total, const char *unit)
{
	p->what = what;
	p->unit = unit;
	p->total = total;
	p->start = p->last_draw = sh_now();
	p->tty = !cli_quiet && isatty(STDERR_FILENO);
}

void cli_progress_clear(cli_progress *p)
{
	if (p->tty)
		fputs("\r\033[K", stderr);
	p->tty = 0;
}

void cli_progress_update(cli_progress *p, double done, const char *extra)
{
	if (!p->tty)
		return;
	double now = sh_now();
	if (now - p->last_draw < 0.1 && !(p->total > 0 && done >= p->total))
		return;
	p->last_draw = now;
	double el = now - p->start, rate = el > 0 ? done / el : 0;
	char bar[32] = "";
	if (p->total > 0) {
		int w = 24, k = (int)(w * SH_MIN(done / p->total, 1.0));
		for (int i = 0; i < w; i++)
			bar[i] = i < k ? '#' : '.';
		bar[w] = 0;
		double eta = rate > 0 ? (p->total - done) / rate : 0;
		fprintf(stderr, "\r%s: %s [%s] %.0f/%.0f %s, %.1f %s/s, ETA %.0fs %s\033[K", prog_name, p->what, bar,
			done, p->total, p->unit, rate, p->unit, eta, extra ? extra : "");
	} else {
		fprintf(stderr, "\r%s: %s %.0f %s, %.1f %s/s %s\033[K", prog_name, p->what, done, p->unit, rate,
			p->unit, extra ? extra : "");
	}
}

void cli_progress_end(cli_progress *p, const char *fmt, ...)
{
	cli_progress_clear(p);
	if (cli_quiet)
		return;
	fprintf(stderr, "%s: ", prog_name);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
