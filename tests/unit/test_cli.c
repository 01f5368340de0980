/* test_cli: the conventions of lib/cli.c that can be tested without a program: directories
 * written whole (cli_stage_dir, cli_check_replaceable, cli_commit_dir). Those that fail die, so
 * each case runs in a child process and the parent looks at its exit status, its message and
 * what is left on disk. */
#include "cli.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[256];

static void put(const char *dir, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* The text of DIR/NAME ("" when absent). */
static const char *get(const char *dir, const char *name)
{
	static char text[256];
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	text[0] = 0;
	FILE *f = fopen(p, "r");
	if (f) {
		size_t n = fread(text, 1, sizeof text - 1, f);
		text[n] = 0;
		fclose(f);
	}
	return text;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* The number of entries of root whose name starts with PREFIX. */
static int count_beside(const char *prefix)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c '^%s'", root, prefix);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

typedef enum { COMMIT, COMMIT_NO_STAGE, STAGE_THEN_EXIT, STAGE_THEN_DIE } action;

/* Runs in a child: stages out's replacement (unless COMMIT_NO_STAGE, where the stage is never
 * made, so the rename fails) holding the marker and new.txt, then commits it. Returns the exit
 * status; the child's stderr goes to ERR. */
static int run(action a, const char *out, const char *err)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (!freopen(err, "w", stderr))
			_exit(99);
		cli_init("test_cli");
		char stage[512];
		snprintf(stage, sizeof stage, "%s.tmp%ld", out, (long)getpid());
		if (a != COMMIT_NO_STAGE) {
			cli_stage_dir(stage);
			put(stage, "mark.json", "new");
			put(stage, "new.txt", "new");
		}
		if (a == STAGE_THEN_EXIT)
			exit(1);
		if (a == STAGE_THEN_DIE)
			cli_die(out, "failed while building");
		cli_commit_dir(stage, out, "mark.json", "an earlier test output");
		exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int message_has(const char *err, const char *what)
{
	FILE *f = fopen(err, "r");
	char text[2048] = "";
	if (f) {
		text[fread(text, 1, sizeof text - 1, f)] = 0;
		fclose(f);
	}
	if (!strstr(text, what)) {
		tap_diag("message: %s", text);
		return 0;
	}
	return 1;
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/test_cli.%ld", (long)getpid());
	if (mkdir(root, 0777)) {
		tap_ok(0, "cannot create %s", root);
		return tap_done();
	}
	char out[512], err[512], p[512];
	snprintf(out, sizeof out, "%s/out", root);
	snprintf(err, sizeof err, "%s.err", root);

	/* a new output, where there was none; the parent folder is made */
	snprintf(p, sizeof p, "%s/sub/out", root);
	tap_ok(run(COMMIT, p, err) == 0, "commit into a new place: exit 0");
	tap_ok(!strcmp(get(p, "new.txt"), "new"), "the staged files are in place");
	tap_ok(count_beside("sub") == 1, "nothing beside the parent");

	/* an earlier output is replaced whole */
	mkdir(out, 0777);
	put(out, "mark.json", "old");
	put(out, "stale.txt", "old");
	tap_ok(run(COMMIT, out, err) == 0, "an earlier output (with the marker) is replaced: exit 0");
	tap_ok(!strcmp(get(out, "mark.json"), "new") && !exists(strcat(strcpy(p, out), "/stale.txt")),
	       "and holds only the new files");
	tap_ok(count_beside("out") == 1, "no staging or set-aside folder left beside it");

	/* an empty directory is replaced */
	snprintf(p, sizeof p, "%s/empty", root);
	mkdir(p, 0777);
	tap_ok(run(COMMIT, p, err) == 0 && !strcmp(get(p, "new.txt"), "new"), "an empty directory is replaced");

	/* a folder that is not ours: refused, left as it was, the stage removed */
	snprintf(p, sizeof p, "%s/mine", root);
	mkdir(p, 0777);
	put(p, "notes.txt", "mine");
	tap_ok(run(COMMIT, p, err) == 1, "a folder without the marker: exit 1");
	tap_ok(message_has(err, "mine: exists and is not an earlier test output (no mark.json); not replacing it"),
	       "with a message naming it and the marker");
	tap_ok(!strcmp(get(p, "notes.txt"), "mine") && !exists(strcat(p, "/mark.json")), "and it is left as it was");
	tap_ok(count_beside("mine") == 1, "no staging folder left beside it");

	/* the marker, but a subfolder: not an output of ours either */
	snprintf(p, sizeof p, "%s/deep", root);
	mkdir(p, 0777);
	put(p, "mark.json", "old");
	strcat(p, "/photos");
	mkdir(p, 0777);
	put(p, "a.jpg", "mine");
	snprintf(p, sizeof p, "%s/deep", root);
	tap_ok(run(COMMIT, p, err) == 1 && message_has(err, "(photos is not a plain file)"),
	       "a marked folder holding a subfolder is refused");
	tap_ok(!strcmp(get(p, "photos/a.jpg"), "mine") && !strcmp(get(p, "mark.json"), "old"), "and left as it was");

	/* a file in the way */
	snprintf(p, sizeof p, "%s/afile", root);
	put(root, "afile", "mine");
	tap_ok(run(COMMIT, p, err) == 1 && message_has(err, "afile: exists and is not a directory; not replacing it"),
	       "a file in the place is refused");
	tap_ok(!strcmp(get(root, "afile"), "mine"), "and left as it was");

	/* the rename of the stage fails: the earlier output is put back */
	tap_ok(run(COMMIT_NO_STAGE, out, err) == 1 && message_has(err, "into place"),
	       "a stage that cannot be renamed: exit 1");
	tap_ok(!strcmp(get(out, "mark.json"), "new") && !strcmp(get(out, "new.txt"), "new"),
	       "the earlier output is back in place");
	tap_ok(count_beside("out") == 1, "nothing left beside it");

	/* a program that fails while building: the stage is removed, the earlier output kept */
	tap_ok(run(STAGE_THEN_DIE, out, err) == 1 && count_beside("out") == 1 && !strcmp(get(out, "new.txt"), "new"),
	       "cli_die while staging removes the stage and keeps the earlier output");
	tap_ok(run(STAGE_THEN_EXIT, out, err) == 1 && count_beside("out") == 1 && !strcmp(get(out, "new.txt"), "new"),
	       "exit(1) while staging removes the stage and keeps the earlier output");

	char cmd[1200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", root, err);
	if (system(cmd))
		tap_diag("could not remove %s", root);
	return tap_done();
}
