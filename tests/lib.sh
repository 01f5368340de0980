# tests/lib.sh: TAP helpers for the program tests (tests/*.t), sourced by each.
# BIN is the folder of the built programs (default bin/); T is a scratch folder removed at exit.
set -u
BIN=${BIN:-$PWD/bin}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
ROOT=$PWD
T=$(mktemp -d "${TMPDIR:-/tmp}/sharks-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
_n=0
_fail=0
ok() { # ok COND-EXIT-STATUS DESCRIPTION
	_n=$((_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $_n - $2"; else echo "not ok $_n - $2"; _fail=$((_fail + 1)); fi
}
check() { # check DESCRIPTION COMMAND...: ok when the command succeeds
	d=$1; shift
	if "$@" >"$T/.out" 2>"$T/.err"; then ok 0 "$d"; else ok 1 "$d"; sed 's/^/# /' "$T/.err" "$T/.out" | head -20; fi
}
# fails_with DESCRIPTION CODE PATTERN COMMAND...: exits with CODE and stderr matches PATTERN
fails_with() {
	d=$1 code=$2 pat=$3; shift 3
	"$@" >"$T/.out" 2>"$T/.err"
	rc=$?
	if [ "$rc" -eq "$code" ] && grep -Eq -- "$pat" "$T/.err"; then ok 0 "$d"
	else ok 1 "$d"; echo "# exit $rc (want $code), stderr:"; sed 's/^/#   /' "$T/.err" | head -5; fi
}
skip() { _n=$((_n + 1)); echo "ok $_n # skip $1"; }
# set_meta SRC DST KEY [VALUE]: DST is the safetensors file SRC with metadata KEY set to VALUE
# (removed without VALUE), the tensors untouched: for checkpoints that lie about themselves
set_meta() {
	$PY -c '
import json, struct, sys
src = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", src[:8])[0]; h = json.loads(src[8:8 + n])
if len(sys.argv) > 4: h.setdefault("__metadata__", {})[sys.argv[3]] = sys.argv[4]
else: del h["__metadata__"][sys.argv[3]]
b = json.dumps(h).encode()
open(sys.argv[2], "wb").write(struct.pack("<Q", len(b)) + b + src[8 + n:])
' "$@"
}
# std_options PROG [SUBCOMMAND] OPTION: the options every program answers (lib/cli.h): -h and
# --help print the usage on stdout and exit 0, --version names the program and its libraries,
# OPTION given without its argument and an unknown option are usage errors (exit 2) that name
# the option and the program by its short name (not bin/...)
std_options() {
	_p=$1; shift
	_sub=; [ $# -gt 1 ] && { _sub=$1; shift; }
	for _h in -h --help; do
		"$BIN/$_p" $_sub $_h >"$T/.out" 2>"$T/.err"
		rc=$?
		[ $rc -eq 0 ] && head -1 "$T/.out" | grep -q '^usage: ' && [ ! -s "$T/.err" ]
		ok $? "$_p $_sub $_h: the usage on stdout, exit 0"
	done
	"$BIN/$_p" --version >"$T/.out" 2>"$T/.err"
	[ $? -eq 0 ] && head -1 "$T/.out" | grep -Eq "^$_p \(1000 sharks\) [0-9]" &&
		grep -q '^  sndfile libsndfile' "$T/.out" && grep -q '^  compiler ' "$T/.out"
	ok $? "$_p --version: the version and the libraries, exit 0"
	fails_with "$_p $_sub $1 without its argument: usage error naming it" 2 "^$_p: $1 needs an argument\$" \
		"$BIN/$_p" $_sub "$1"
	grep -q 'unknown option\|bin/' "$T/.err"
	ok $((! $?)) "... not called an unknown option, the program not named by its path"
	fails_with "$_p $_sub --frobnicate: usage error naming it" 2 "^$_p: --frobnicate: unknown option\$" \
		"$BIN/$_p" $_sub --frobnicate
}
# dup_meta SRC DST: DST is SRC with a second "__metadata__" object in its header (a repeated
# JSON key, which once overflowed the reader's heap)
dup_meta() {
	$PY -c '
import struct, sys
src = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", src[:8])[0]
b = b"{\"__metadata__\": {\"a\": \"1\", \"b\": \"2\", \"c\": \"3\", \"d\": \"4\"}, " + src[9:8 + n]
open(sys.argv[2], "wb").write(struct.pack("<Q", len(b)) + b + src[8 + n:])
' "$@"
}
# nan_tensor SRC DST: DST is SRC with the first value of its first float32 model tensor (by name,
# not the optimiser's or the training state) NaN; prints that tensor's name
nan_tensor() {
	$PY -c '
import json, struct, sys
src = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", src[:8])[0]; h = json.loads(src[8:8 + n])
name = sorted(k for k, v in h.items() if k != "__metadata__" and not k.startswith(("adam.", "train.")) and v["dtype"] == "F32" and v["data_offsets"][1] > v["data_offsets"][0])[0]
o = 8 + n + h[name]["data_offsets"][0]
src[o:o + 4] = struct.pack("<f", float("nan"))
open(sys.argv[2], "wb").write(src)
print(name)
' "$@"
}
# wait_for_file FILE [SECONDS]: until FILE is there and not empty (default at most 120 s: a
# loaded machine can take long to start a program); status 1 if it never came
wait_for_file() {
	_w=0
	while ! test -s "$1" && [ $_w -lt $((${2:-120} * 20)) ]; do sleep 0.05; _w=$((_w + 1)); done
	test -s "$1"
}
# random_codes FILE SEED RECORDS LENGTH: a tensor stream of RECORDS records of LENGTH random 8-bit
# codes, from numpy's default_rng(SEED): data for a tiny model
random_codes() {
	$PY -c '
import numpy as np, sys
r = np.random.default_rng(int(sys.argv[2]))
with open(sys.argv[1], "wb") as f:
    for i in range(int(sys.argv[3])):
        np.save(f, r.integers(0, 256, int(sys.argv[4])).astype(np.uint8))
' "$@"
}
# sine_codes FILE: 24 records of 600-899 mu-law codes, each a sine of its own frequency and
# phase (seeded: the same bytes every run), the data the qtrain and mpi tests train on
sine_codes() {
	$PY -c '
import numpy as np, sys
rng = np.random.default_rng(1)
with open(sys.argv[1], "wb") as f:
    for r in range(24):
        n = 600 + int(rng.integers(0, 300))
        t = np.arange(n)
        x = 0.7 * np.sin(2 * np.pi * t * (0.01 + 0.03 * rng.random()) + 6 * rng.random())
        y = np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255)
        np.save(f, np.floor((y + 1) / 2 * 255 + 0.5).astype(np.uint8))
' "$1"
}
# tone_wav FILE: one second of a quiet tone, 16-bit mono at 16 kHz
tone_wav() {
	$PY -c '
import numpy as np, sys, wave
w = wave.open(sys.argv[1], "wb"); w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
w.writeframes((3000 * np.sin(np.arange(16000) * 0.1)).astype("<i2").tobytes())
' "$1"
}
done_testing() { echo "1..$_n"; [ "$_fail" -eq 0 ]; }
