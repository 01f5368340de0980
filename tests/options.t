#!/bin/sh
# tests/options.t: the docs and the option tables cannot drift apart. For every program, each
# option that its --help lists (every mode's: qtrain --model ddsp, albumpage's subcommands) is
# named in docs/PROG.md, and each long option docs/PROG.md names is one of PROG's or of another
# program that the page names (wavchunk.md shows `mulaw --dadabots`). -h/--help, --version and
# -q/--quiet are every program's (docs/design.md, "Conventions").
. tests/lib.sh
PROGS="wavchunk mulaw qtrain qsample ddsp-harmonic curate albumart albumpage"
for p in $PROGS; do
	{
		"$BIN/$p" --help
		case $p in
		qtrain) "$BIN/$p" --model ddsp --help ;;
		albumpage) "$BIN/$p" titles --help && "$BIN/$p" build --help ;;
		esac
	} >"$T/$p.help" 2>"$T/$p.err"
	ok $? "$p: --help of every mode"
done
# the checks of the docs, numbered after the ones above; their count and failures come back
$PY - "$T" "$ROOT/docs" "$_n" $PROGS >"$T/checks" <<'PYEOF'
import re, sys
tmp, docs, n, progs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
standard = {"help", "version", "quiet"}
# an option line of --help: "  -x, --name ARG  text" or "  --name ARG  text" or "  -x ARG  text"
line = re.compile(r"^  (?:-([A-Za-z0-9]))?(?:, )?(?:--([a-z0-9][a-z0-9-]*))?(?= |$)")
opts = {}
for p in progs:
    longs, shorts = set(), set()
    for l in open(f"{tmp}/{p}.help"):
        m = line.match(l)
        if m and (m.group(1) or m.group(2)):
            if m.group(2):
                longs.add(m.group(2))
            elif m.group(1):
                shorts.add(m.group(1))
    opts[p] = (longs - standard, shorts - {"h", "q"})
failed = 0
def ok(cond, what):
    global n, failed
    n += 1
    failed += not cond
    print(("ok" if cond else "not ok") + f" {n} - {what}")
for p in progs:
    text = open(f"{docs}/{p}.md").read()
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets (anchors such as #training-qtrain---model-ddsp)
    named = set(re.findall(r"(?<![\w-])--([a-z0-9][a-z0-9-]*)", text))
    longs, shorts = opts[p]
    missing = sorted(o for o in longs if o not in named)
    ok(not missing, f"{p}: every long option of --help is in docs/{p}.md" +
       (f" (missing: {', '.join('--' + o for o in missing)})" if missing else ""))
    missing = sorted(s for s in shorts if not re.search(rf"(?<![\w-])-{s}(?![\w-])", text))
    ok(not missing, f"{p}: every short option of --help is in docs/{p}.md" +
       (f" (missing: {', '.join('-' + s for s in missing)})" if missing else ""))
    others = set()
    for q in progs:
        if q != p and re.search(rf"(?<![\w-]){re.escape(q)}(?![\w-])", text):
            others |= opts[q][0]
    stray = sorted(o for o in named - standard if o not in longs and o not in others)
    ok(not stray, f"{p}: every long option docs/{p}.md names is {p}'s or a program's it names" +
       (f" (not an option: {', '.join('--' + o for o in stray)})" if stray else ""))
print(f"# {n} {failed}")
PYEOF
grep -v '^# ' "$T/checks"
set -- $(sed -n 's/^# \([0-9]*\) \([0-9]*\)$/\1 \2/p' "$T/checks")
[ $# -eq 2 ] || { ok 1 "the checks of the docs ran"; set -- "$_n" 0; }
_n=$1 _fail=$((_fail + $2))
done_testing
