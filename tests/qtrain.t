#!/bin/sh
# qtrain: trains a tiny SampleRNN on generated codes (loss falls, run directory complete and
# well-formed), same seed → same bytes, resume → same bytes as straight, SIGINT writes a last
# checkpoint, NaN stops with the last good checkpoint kept, every bad input refused with its
# message, exit code and no checkpoint; the same for a tiny WaveNet (--model wavenet: loss falls,
# resume exact, other architectures refused, clips, SIGINT, divergence; its embedded and scalar
# input layers: metadata, run.json, exact resume, refusals); and, when wavchunk/mulaw
# and the asc-music tracks are there, a minute on real music.
. tests/lib.sh
Q=$BIN/qtrain
# small and quick: tiny preset with short windows (history 16 + 64 targets), 4 rows
TINY="--preset tiny --seq 64 --batch 4 --threads 1"

# 24 records of mu-law coded tones, 600-900 codes each: learnable, so the loss must fall
sine_codes "$T/codes.npy"
# helpers: metadata of a checkpoint, number of log rows
meta() { $PY -c '
import json, struct, sys
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]
print(json.loads(f.read(n))["__metadata__"][sys.argv[2]])' "$1" "$2"; }

check "--help prints usage on stdout" sh -c "$Q --help | grep -q 'usage: qtrain'"

# --- a short run: everything in RUNDIR, well-formed, the loss falls
check "trains 60 steps" $Q $TINY --steps 60 --checkpoint-every 20 -o "$T/run" "$T/codes.npy"
for f in last.safetensors best.safetensors log.tsv loss.png run.json; do
	check "RUNDIR has $f" test -s "$T/run/$f"
done
check "log.tsv: header and three rows of 7 numeric fields and fad (nan: no clips)" $PY -c '
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
assert rows[0] == "step epoch train_bits valid_bits samples_per_s lr seconds fad".split(), rows[0]
assert [r[0] for r in rows[1:]] == ["20", "40", "60"], rows
for r in rows[1:]:
    assert len(r) == 8 and all(float(x) == float(x) for x in r[:7]) and r[7] == "nan", r' "$T/run/log.tsv"
# OpenBLAS's kernels (lib/blas.c): never a fallback on a CPU with AVX2 or AVX-512, and when
# OpenBLAS picks one (pretended here: this CPU may be one it knows) qtrain runs itself again
# with the right core type; the waits of OpenMP's threads are short unless the user says
fallbacks='"(Unknown|Katmai|Coppermine|Northwood|Prescott|Banias|Atom|Core2|Penryn|Dunnington|Nehalem|Opteron|Opteron_SSE3|Barcelona|Nano|Bobcat)"'
if grep -qw -e avx2 -e avx512f /proc/cpuinfo; then
	check "run.json: OpenBLAS's kernel is not a fallback on this CPU with AVX2/AVX-512" sh -c "
		grep -q '\"openblas_core\": \"' $T/run/run.json && ! grep -Eq '\"openblas_core\": $fallbacks' $T/run/run.json"
	SHARKS_BLAS_PRETEND=Prescott $Q $TINY --steps 1 -o "$T/run_pretend" "$T/codes.npy" 2>/dev/null
	check "a Prescott pick is replaced (Haswell or SkylakeX), recorded in run.json" \
		grep -Eq '"openblas_core": "(Haswell|SkylakeX)"' $T/run_pretend/run.json
else
	skip "this CPU has neither AVX2 nor AVX-512"
	skip "this CPU has neither AVX2 nor AVX-512"
fi
OPENBLAS_CORETYPE=Prescott OMP_WAIT_POLICY=active $Q $TINY --steps 1 -o "$T/run_user" "$T/codes.npy" 2>/dev/null
check "the user's OPENBLAS_CORETYPE and OMP_WAIT_POLICY are kept" sh -c "
	grep -q '\"openblas_core\": \"Prescott\"' $T/run_user/run.json && grep -q '\"omp_wait\": \"active\"' $T/run_user/run.json"
check "by default OpenMP's threads spin briefly (GOMP_SPINCOUNT recorded)" grep -q '"gomp_spincount": "10000"' $T/run/run.json
check "training loss falls by more than half a bit" $PY -c '
import sys
rows = [l.split("\t") for l in open(sys.argv[1])][1:]
first, last = float(rows[0][2]), float(rows[-1][2])
print(first, last); assert last < first - 0.5, (first, last)' "$T/run/log.tsv"
check "validation bits are below 8 at the end" $PY -c '
import sys
rows = [l.split("\t") for l in open(sys.argv[1])][1:]
assert float(rows[-1][3]) < 7.9, rows[-1]' "$T/run/log.tsv"
check "loss.png is a PNG" $PY -c '
import sys; assert open(sys.argv[1], "rb").read(8) == b"\x89PNG\r\n\x1a\n"' "$T/run/loss.png"
check "run.json: command, seed, threads, fingerprint, libraries" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["command"][0].endswith("qtrain") and "--steps" in d["command"], d["command"]
assert d["seed"] == 1 and d["threads"] == 1 and len(d["data"]["fingerprint"]) == 16
assert d["data"]["records"] == 24 and sum(d["data"]["split_records"]) == 24
assert "openblas" in d["libraries"] and "sndfile" in d["libraries"]
assert d["ended"] == "steps" and d["final_step"] == 60 and d["model"]["dim"] == 64' "$T/run/run.json"
check "checkpoint metadata: architecture, step, seed, RNG, data position, rate" $PY -c '
import json, struct, sys
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]; h = json.loads(f.read(n))
m = h["__metadata__"]
assert m["format"] == "sharks" and m["model"] == "samplernn" and m["frame_sizes"] == "16"
assert m["dim"] == "64" and m["seq"] == "64" and m["batch"] == "4" and m["levels"] == "256"
assert m["step"] == "60" and m["seed"] == "1" and len(m["rng"]) == 64
assert m["sample_rate"] == "16000" and m["quantization"] == "mulaw"
assert len(m["data_lanes"].split(",")) == 4 and m["data_order"]
names = [k for k in h if k != "__metadata__"]
assert "train.state" in names and any(k.startswith("adam.m.") for k in names)
for k in names:
    if k.startswith("adam."):
        assert k.split(".", 2)[2] in names, k' "$T/run/last.safetensors"

# --- same seed and threads: same bytes; another seed: other bytes
check "a second identical run" $Q $TINY --steps 60 --checkpoint-every 20 -o "$T/run2" "$T/codes.npy"
check "same seed, same threads: identical checkpoints" cmp "$T/run/last.safetensors" "$T/run2/last.safetensors"
check "... and identical best checkpoints" cmp "$T/run/best.safetensors" "$T/run2/best.safetensors"
T2="--preset tiny --seq 64 --batch 4 --threads 2"
$Q $T2 --steps 20 --checkpoint-every 20 -o "$T/thr2a" "$T/codes.npy" 2>/dev/null
$Q $T2 --steps 20 --checkpoint-every 20 -o "$T/thr2b" "$T/codes.npy" 2>/dev/null
check "same seed, 2 threads: identical checkpoints" cmp "$T/thr2a/last.safetensors" "$T/thr2b/last.safetensors"
$Q $TINY --steps 20 --checkpoint-every 20 --seed 7 -o "$T/run7" "$T/codes.npy" 2>/dev/null
$Q $TINY --steps 20 --checkpoint-every 20 -o "$T/run20" "$T/codes.npy" 2>/dev/null
! cmp -s "$T/run7/last.safetensors" "$T/run20/last.safetensors"
ok $? "another seed gives another checkpoint"

# --- clips while training: written with qsample's generator, training untouched
check "--sample-every 10" $Q $TINY --steps 20 --checkpoint-every 20 --sample-every 10 --sample-seconds 0.5 \
	-o "$T/smp" "$T/codes.npy"
check "... three clips at steps 10 and 20" test "$(ls "$T/smp/samples" | tr '\n' ' ')" = \
	"step0000010_0.wav step0000010_1.wav step0000010_2.wav step0000020_0.wav step0000020_1.wav step0000020_2.wav "
check "... 16-bit wav of 0.5 s at 16 kHz" $PY -c '
import sys, wave
w = wave.open(sys.argv[1]); assert (w.getframerate(), w.getsampwidth(), w.getnframes()) == (16000, 2, 8000)' \
	"$T/smp/samples/step0000020_1.wav"
check "... the training is the same as without clips" cmp "$T/run20/last.safetensors" "$T/smp/last.safetensors"
if [ -x "$BIN/qsample" ]; then
	check "... and the clips are what qsample makes of the checkpoint" sh -c "
		$BIN/qsample -n 3 -s 0.5 --seed 1 -t 0.95 --threads 1 -o '$T/qs/' '$T/smp/last.safetensors' &&
		cmp '$T/qs/gen_000.wav' '$T/smp/samples/step0000020_0.wav' &&
		cmp '$T/qs/gen_002.wav' '$T/smp/samples/step0000020_2.wav'"
else
	skip "clips against qsample: bin/qsample not built"
fi

# --- data from stdin: the same run as from the file (the fingerprint ignores file names)
$Q $TINY --steps 3 -o "$T/fromfile" "$T/codes.npy" 2>/dev/null
check "reads the data from stdin" sh -c "$Q $TINY --steps 3 -o '$T/fromstdin' < '$T/codes.npy'"
check "... and trains the same" cmp "$T/fromfile/last.safetensors" "$T/fromstdin/last.safetensors"

# --- resume: 40 + 20 steps give the bytes of 60 straight
check "40 steps" $Q $TINY --steps 40 --checkpoint-every 20 -o "$T/res" "$T/codes.npy"
check "resumed to step 60" $Q --threads 1 --steps 60 --checkpoint-every 20 --resume "$T/res" -o "$T/res" "$T/codes.npy"
check "resume is exact: last.safetensors identical to the straight run's" cmp "$T/run/last.safetensors" "$T/res/last.safetensors"
check "... best.safetensors too" cmp "$T/run/best.safetensors" "$T/res/best.safetensors"
cut -f1-4 "$T/run/log.tsv" > "$T/log.straight"; cut -f1-4 "$T/res/log.tsv" > "$T/log.resumed"
check "... and the log has the same steps and losses" cmp "$T/log.straight" "$T/log.resumed"
# resuming mid-interval (steps not a multiple of --checkpoint-every) is exact as well
check "25 steps" $Q $TINY --steps 25 --checkpoint-every 20 -o "$T/mid" "$T/codes.npy"
check "resumed from step 25 to 60" $Q --threads 1 --steps 60 --checkpoint-every 20 --resume "$T/mid/last.safetensors" -o "$T/mid" "$T/codes.npy"
check "resume from a step between checkpoints: same parameters as straight" $PY -c '
import json, struct, sys
def load(p):
    f = open(p, "rb"); n = struct.unpack("<Q", f.read(8))[0]; h = json.loads(f.read(n)); d = f.read()
    return h, d
(h1, d1), (h2, d2) = load(sys.argv[1]), load(sys.argv[2])
for k, v in h1.items():
    if k == "__metadata__": continue
    a, b = v["data_offsets"], h2[k]["data_offsets"]
    assert d1[a[0]:a[1]] == d2[b[0]:b[1]], k
for k in ("step", "rng", "data_lanes", "data_order", "log_nats"):
    assert h1["__metadata__"][k] == h2["__metadata__"][k], k' "$T/run/last.safetensors" "$T/mid/last.safetensors"

# --- refused resumes and runs: message, exit 1, checkpoint untouched
cp "$T/res/last.safetensors" "$T/res.before"
fails_with "resume with another architecture is refused" 1 "another architecture: dim 64 in the checkpoint, 32 asked" \
	$Q --dim 32 --steps 70 --resume "$T/res" -o "$T/res" "$T/codes.npy"
fails_with "resume with another preset is refused" 1 "another architecture" \
	$Q --preset small --steps 70 --resume "$T/res" -o "$T/res" "$T/codes.npy"
fails_with "resume with another seed is refused" 1 "checkpoint has seed 1, --seed says 5" \
	$Q --seed 5 --steps 70 --resume "$T/res" -o "$T/res" "$T/codes.npy"
fails_with "resume at another sample rate is refused" 1 "trained at 16000 Hz, -r says 44100" \
	$Q -r 44100 --steps 70 --resume "$T/res" -o "$T/res" "$T/codes.npy"
check "... and the checkpoint is left as it was" cmp "$T/res.before" "$T/res/last.safetensors"
# the rate the data carry (docs/formats.md): the run's rate without -r; -r or a checkpoint at
# another rate is refused
$PY - "$T/codes.npy" "$T/codes22.npy" <<'EOF'
import sys
src = open(sys.argv[1], "rb").read(); out = open(sys.argv[2], "wb"); i = 0
while i < len(src):
    hl = int.from_bytes(src[i + 8:i + 10], "little"); h = src[i + 10:i + 10 + hl].decode()
    d = h[:h.rindex("}") + 1] + " # rate=22050"
    n = eval(d)["shape"][0]
    out.write(src[i:i + 8] + hl.to_bytes(2, "little") + (d.ljust(hl - 1) + "\n").encode() + src[i + 10 + hl:i + 10 + hl + n])
    i += 10 + hl + n
EOF
check "qtrain without -r on 22050 Hz codes" $Q $TINY --steps 1 -o "$T/r22" "$T/codes22.npy"
ok "$([ "$(meta "$T/r22/last.safetensors" sample_rate)" = 22050 ]; echo $?)" "... records the stream's rate in the checkpoint ($(meta "$T/r22/last.safetensors" sample_rate))"
fails_with "-r that disagrees with the data is refused" 1 "codes22.npy: the data are at 22050 Hz, -r says 16000" \
	$Q $TINY --steps 1 -r 16000 -o "$T/r16" "$T/codes22.npy"
fails_with "resuming a 16000 Hz run on 22050 Hz data is refused" 1 "checkpoint was trained at 16000 Hz, the data are at 22050 Hz" \
	$Q --steps 70 --resume "$T/res" -o "$T/res" "$T/codes22.npy"
ok "$([ ! -e "$T/r16" ]; echo $?)" "... and no run directory is made"

# metadata held to the command line's bounds, refused (never replaced by a default)
set_meta "$T/res/last.safetensors" "$T/lrnan.safetensors" lr nan
fails_with "resume with lr=nan in the metadata is refused" 1 "lrnan.safetensors: bad metadata: learning rate nan" \
	$Q --steps 70 --resume "$T/lrnan.safetensors" -o "$T/res" "$T/codes.npy"
set_meta "$T/res/last.safetensors" "$T/qweird.safetensors" quantization weird
fails_with "resume with quantization=weird in the metadata is refused" 1 "qweird.safetensors: bad metadata: unknown quantisation 'weird'" \
	$Q --steps 70 --resume "$T/qweird.safetensors" -o "$T/res" "$T/codes.npy"
set_meta "$T/res/last.safetensors" "$T/rhuge.safetensors" sample_rate 1073741824
fails_with "resume with a sample rate of 2^30 in the metadata is refused" 1 "rhuge.safetensors: bad metadata: sample rate 1073741824 Hz" \
	$Q --steps 70 --resume "$T/rhuge.safetensors" -o "$T/res" "$T/codes.npy"
set_meta "$T/res/last.safetensors" "$T/lognan.safetensors" log_nats nan
fails_with "resume with log_nats=nan in the metadata is refused" 1 "lognan.safetensors: bad 'log_nats' in the metadata: nan" \
	$Q --steps 70 --resume "$T/lognan.safetensors" -o "$T/res" "$T/codes.npy"
set_meta "$T/res/last.safetensors" "$T/bestnan.safetensors" best_valid_bits nan
fails_with "resume with best_valid_bits=nan in the metadata is refused" 1 "bestnan.safetensors: bad 'best_valid_bits' in the metadata: nan" \
	$Q --steps 70 --resume "$T/bestnan.safetensors" -o "$T/res" "$T/codes.npy"
nt=$(nan_tensor "$T/res/last.safetensors" "$T/wnan.safetensors")
fails_with "resume from NaN weights is refused, naming the tensor" 1 "wnan.safetensors: tensor '$nt' holds NaN at index 0" \
	$Q --steps 70 --resume "$T/wnan.safetensors" -o "$T/res" "$T/codes.npy"
dup_meta "$T/res/last.safetensors" "$T/dup.safetensors"
fails_with "resume from a header with two __metadata__ is refused" 1 "dup.safetensors: .*\"__metadata__\" appears twice" \
	$Q --steps 70 --resume "$T/dup.safetensors" -o "$T/res" "$T/codes.npy"
check "... and the checkpoint is still left as it was" cmp "$T/res.before" "$T/res/last.safetensors"
fails_with "--quantization must be one that exists" 2 "unknown quantisation 'weird'" \
	$Q $TINY --steps 1 --quantization weird -o "$T/qw" "$T/codes.npy"
head -c 1000 "$T/codes.npy" > "$T/other.npy"
$PY -c 'import numpy as np, sys; np.save(sys.argv[1], np.full(5000, 3, np.uint8))' "$T/one.npy"
fails_with "resume on other data is refused" 1 "other data" \
	$Q --steps 70 --resume "$T/res" -o "$T/res" "$T/one.npy"
head -c 3000 "$T/res/last.safetensors" > "$T/cut.safetensors"
fails_with "resume from a truncated checkpoint" 1 "cut.safetensors: " \
	$Q --steps 70 --resume "$T/cut.safetensors" -o "$T/res" "$T/codes.npy"
fails_with "resume from a file that is not a checkpoint" 1 "codes.npy" \
	$Q --steps 70 --resume "$T/codes.npy" -o "$T/res" "$T/codes.npy"
fails_with "a run directory that holds a run needs --resume" 1 "already holds a run" \
	$Q $TINY --steps 1 -o "$T/run" "$T/codes.npy"

# --- a checkpoint resumes only its own run (issue 13): the run id in checkpoints and run.json
id=$(meta "$T/res/last.safetensors" run_id)
check "checkpoints and run.json record one run id ($id)" sh -c "
	[ ${#id} = 16 ] && grep -q '\"run_id\": \"$id\"' '$T/res/run.json'"
check "two runs with one seed, model and data have one run id (no clock in it)" \
	test "$(meta "$T/run/last.safetensors" run_id)" = "$(meta "$T/run2/last.safetensors" run_id)"
cp -r "$T/res" "$T/res.saved"
fails_with "--resume with another run's checkpoint (another seed) into a run directory: refused" 1 \
	"run7/last.safetensors: checkpoint of another run \(run [0-9a-f]{16}\) than $T/res holds \(run [0-9a-f]{16}\)" \
	$Q --steps 70 --resume "$T/run7/last.safetensors" -o "$T/res" "$T/codes.npy"
fails_with "--resume with another model's checkpoint (a WaveNet's): refused" 1 "checkpoint of another run" \
	sh -c "$Q --model wavenet --dilations 1,2 --residual-channels 4 --dilation-channels 4 --skip-channels 4 \
		--n-out 64 --batch 2 --steps 2 --threads 1 -o '$T/wnother' '$T/codes.npy' 2>/dev/null &&
		exec $Q --steps 70 --resume '$T/wnother/last.safetensors' -o '$T/res' '$T/codes.npy'"
check "... the run directory is left as it was (checkpoints, log)" sh -c "
	for f in last.safetensors best.safetensors log.tsv; do cmp '$T/res/'\$f '$T/res.saved/'\$f || exit 1; done"
check "--resume into a new directory forks the run" $Q --threads 1 --steps 45 --resume "$T/run7/last.safetensors" -o "$T/fork" "$T/codes.npy"
check "... which records where it came from, and the same run id" sh -c "
	grep -q '\"resumed_from\": \"$T/run7/last.safetensors\"' '$T/fork/run.json' &&
	test '$(meta "$T/fork/last.safetensors" run_id)' = '$(meta "$T/run7/last.safetensors" run_id)'"
check "a resumed fork continues in its own directory" $Q --threads 1 --steps 47 --resume "$T/fork" -o "$T/fork" "$T/codes.npy"
# a run from before run ids (no run_id anywhere): its identity comes from the checkpoint's metadata
cp -r "$T/res.saved" "$T/old" && set_meta "$T/res.saved/last.safetensors" "$T/old/last.safetensors" run_id &&
	grep -v '"run_id"' "$T/res.saved/run.json" >"$T/old/run.json"
check "a run from before run ids still resumes" $Q --threads 1 --steps 61 --resume "$T/old" -o "$T/old" "$T/codes.npy"
fails_with "... but not another run's checkpoint" 1 "checkpoint of another run" \
	$Q --steps 70 --resume "$T/run7/last.safetensors" -o "$T/old" "$T/codes.npy"
set_meta "$T/res.saved/last.safetensors" "$T/lying.safetensors" run_id 0123456789abcdef
fails_with "a checkpoint whose run_id is not the run its metadata describes: refused" 1 \
	"lying.safetensors: 'run_id' 0123456789abcdef in the metadata is not the run" \
	$Q --steps 70 --resume "$T/lying.safetensors" -o "$T/res" "$T/codes.npy"

# --- one qtrain per run directory: a second one on the same (new) RUNDIR exits 1 at once
$Q $TINY --checkpoint-every 100000 -o "$T/locked" "$T/codes.npy" 2>/dev/null &
pid=$!
wait_for_file "$T/locked/run.json"
fails_with "a second qtrain on a run directory in use: exit 1, naming the first's pid" 1 \
	"qtrain: $T/locked: in use by another qtrain \(pid $pid\)" $Q $TINY --steps 5 -o "$T/locked" "$T/codes.npy"
fails_with "... --resume too" 1 "in use by another qtrain" $Q --steps 5 --resume "$T/res" -o "$T/locked" "$T/codes.npy"
kill -INT $pid
wait $pid
ok $(( $? == 130 ? 0 : 1 )) "... the first runs on undisturbed (exit 130 on SIGINT)"
check "... and its checkpoint is its own" test "$(meta "$T/locked/last.safetensors" step)" -gt 0
check "... and the interrupted run's log ends with the last checkpoint's row (no validation: nan)" sh -c "
	tail -n 1 '$T/locked/log.tsv' | awk -F '\t' -v s='$(meta "$T/locked/last.safetensors" step)' '\$1 == s && \$4 == \"nan\" { ok = 1 } END { exit !ok }'"

# --- temporary files that a kill -9 left are removed by the next run on the directory
cp -r "$T/res.saved" "$T/killed"
: >"$T/killed/loss.png.tmp99999"; : >"$T/killed/last.safetensors.tmp12345"; : >"$T/killed/notes.tmp1"
mkdir -p "$T/killed/samples" && : >"$T/killed/samples/step0000010_0.wav.tmp4242"
check "resuming a killed run" $Q --threads 1 --steps 61 --resume "$T/killed" -o "$T/killed" "$T/codes.npy"
check "... removes what it left (loss.png.tmpPID, last.safetensors.tmpPID, clips), keeps other files" sh -c "
	! ls -A '$T/killed' '$T/killed/samples' | grep -E '(png|safetensors|wav)\.tmp' && test -e '$T/killed/notes.tmp1'"

# --- SIGINT: finish the step, write last.safetensors, exit 130; the run resumes from it
$Q $TINY --checkpoint-every 100000 -o "$T/int" "$T/codes.npy" 2>"$T/int.err" &
pid=$!
wait_for_file "$T/int/run.json" # the signals are caught from here on
sleep 2
kill -INT $pid
wait $pid
rc=$?
ok $([ $rc -eq 130 ] && echo 0 || echo 1) "SIGINT: exit 130 (got $rc)"
check "SIGINT: last.safetensors written" test -s "$T/int/last.safetensors"
check "SIGINT: the summary says so" grep -q "interrupted; checkpoint written" "$T/int.err"
step=$(meta "$T/int/last.safetensors" step 2>/dev/null || echo 0)
ok $([ "${step:-0}" -gt 0 ] && echo 0 || echo 1) "SIGINT checkpoint is at step $step"
check "the interrupted run resumes" $Q --threads 1 --steps $((step + 3)) --resume "$T/int" -o "$T/int" "$T/codes.npy"
check "... to step $((step + 3))" test "$(meta "$T/int/last.safetensors" step)" = $((step + 3))
check "no temporary files left" sh -c "! ls '$T/int' | grep -q tmp"

# SIGTERM likewise, exit 143
$Q $TINY --checkpoint-every 100000 -o "$T/term" "$T/codes.npy" 2>/dev/null &
pid=$!
wait_for_file "$T/term/run.json"
sleep 1
kill -TERM $pid
wait $pid
rc=$?
ok $([ $rc -eq 143 ] && echo 0 || echo 1) "SIGTERM: exit 143 (got $rc)"
check "SIGTERM: last.safetensors written" test -s "$T/term/last.safetensors"

# One stop delivered twice at once (Ctrl-C signals the terminal's process group, and mpirun
# passes the signal on to its ranks again) is one stop: a checkpoint, not "give up at once".
# run.json appears once the signals are caught.
$Q $TINY --checkpoint-every 100000 -o "$T/term2" "$T/codes.npy" 2>/dev/null &
pid=$!
wait_for_file "$T/term2/run.json"
kill -INT $pid; kill -TERM $pid
wait $pid
rc=$?
ok $([ $rc -eq 130 ] || [ $rc -eq 143 ] && echo 0 || echo 1) "SIGINT and SIGTERM at once: one stop, exit 130 or 143 (got $rc)"
check "... last.safetensors written" test -s "$T/term2/last.safetensors"

# --- the other stopping rules
check "--epochs 1" $Q $TINY --epochs 1 --checkpoint-every 1000 -o "$T/ep" "$T/codes.npy"
check "... stops when the first epoch is done" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ended"] == "epochs" and 1 <= d["epoch"] < 1.5, (d["ended"], d["epoch"])' "$T/ep/run.json"
check "--minutes 0.03" $Q $TINY --minutes 0.03 --checkpoint-every 100000 -o "$T/min" "$T/codes.npy"
check "... stops after about two seconds" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ended"] == "minutes" and d["final_step"] > 0 and d["seconds"] < 30, d' "$T/min/run.json"

# --- a loss that blows up: message, exit 1, last good checkpoint kept
check "10 good steps" $Q $TINY --steps 10 --checkpoint-every 10 -o "$T/nan" "$T/codes.npy"
cp "$T/nan/last.safetensors" "$T/nan.good"
fails_with "resumed with an absurd learning rate: stops on a non-finite loss" 1 \
	"step 1[12]: the (training|validation) loss.*(nan|infinite|not finite); stopping \(last.safetensors keeps step 10" \
	$Q --lr 1e30 --clip none --steps 200 --checkpoint-every 1 --resume "$T/nan" -o "$T/nan" "$T/codes.npy"
check "... the last good checkpoint is kept as it was" cmp "$T/nan.good" "$T/nan/last.safetensors"
check "... and the log has no row after it" test "$(tail -n 1 "$T/nan/log.tsv" | cut -f1)" = 10
fails_with "diverging before any checkpoint: no checkpoint" 1 "no checkpoint was written" \
	$Q $TINY --lr 1e30 --clip none --steps 200 --checkpoint-every 5 -o "$T/nan2" "$T/codes.npy"
check "... none there" sh -c "! test -e '$T/nan2/last.safetensors'"

# --- other architectures run
check "3-tier (--frame-sizes 64,16) trains" $Q $TINY --frame-sizes 64,16 --seq 128 --steps 3 -o "$T/t3" "$T/codes.npy"
check "... and records its frame sizes" test "$(meta "$T/t3/last.safetensors" frame_sizes)" = "64,16"
check "GRU trains" $Q $TINY --rnn gru --steps 3 -o "$T/gru" "$T/codes.npy"
check "learned h0 and recurrent weight norm train" $Q $TINY --learn-h0 --rnn-weight-norm --clip norm --steps 3 -o "$T/h0" "$T/codes.npy"

# --- bad input: message, exit code, no run directory
nothing() { ! test -e "$T/$1"; }
fails_with "missing data file" 1 "nosuch.npy: No such file" $Q $TINY -o "$T/bad1" "$T/nosuch.npy"
check "... no run directory" nothing bad1
printf 'not numpy at all\n' > "$T/text.npy"
fails_with "non-npy data" 1 "text.npy: record 0: bad magic" $Q $TINY -o "$T/bad2" "$T/text.npy"
check "... no run directory" nothing bad2
$PY -c 'import numpy as np, sys; np.save(sys.argv[1], np.zeros(5000, np.float32))' "$T/f32.npy"
fails_with "float audio instead of codes" 1 "f32.npy: record 0: dtype <f4 is not a code record" $Q $TINY -o "$T/bad3" "$T/f32.npy"
fails_with "codes beyond --levels" 1 "codes.npy: record [0-9]+: code [0-9]+ at sample [0-9]+ is out of range for 64 levels" \
	$Q $TINY --levels 64 -o "$T/bad4" "$T/codes.npy"
check "... no run directory" nothing bad4
fails_with "records shorter than one window" 1 "codes.npy: record 0: [0-9]+ codes, shorter than one window of 4096" \
	$Q $TINY --seq 4096 -o "$T/bad5" "$T/codes.npy"
check "... no run directory" nothing bad5
: > "$T/empty.npy"
fails_with "no records at all" 1 "no records" $Q $TINY -o "$T/bad6" "$T/empty.npy"
fails_with "no -o: usage error" 2 "-o RUNDIR is required" $Q $TINY "$T/codes.npy"
fails_with "unknown option: usage error" 2 "usage: qtrain" $Q --frobnicate -o "$T/bad7" "$T/codes.npy"
fails_with "unknown preset: usage error" 2 "unknown preset 'huge'" $Q --preset huge -o "$T/bad7" "$T/codes.npy"
fails_with "bad --rnn: usage error" 2 "expected lstm or gru" $Q --rnn rnn -o "$T/bad7" "$T/codes.npy"
fails_with "bad --split: usage error" 2 "add up to 100" $Q $TINY --split 50,40,40 -o "$T/bad7" "$T/codes.npy"
fails_with "bad --frame-sizes: usage error" 2 "frame sizes" $Q $TINY --frame-sizes 16,x -o "$T/bad7" "$T/codes.npy"
fails_with "bad --steps: usage error" 2 "steps" $Q $TINY --steps -3 -o "$T/bad7" "$T/codes.npy"
fails_with "bad --clip: usage error" 2 "elementwise, norm or none" $Q $TINY --clip max -o "$T/bad7" "$T/codes.npy"
fails_with "a seq that is no multiple of the frame size: usage error" 2 "seq" $Q $TINY --seq 70 -o "$T/bad7" "$T/codes.npy"
check "... no run directory after usage errors" nothing bad7

# --- WaveNet: a tiny custom net (receptive field 17, rows of 17 + 256 codes), same machinery
WN="--model wavenet --dilations 1,2,4,8 --residual-channels 8 --dilation-channels 8 --skip-channels 16 --n-out 256 --batch 4 --threads 1"
check "wavenet: trains 200 steps" $Q $WN --steps 200 --checkpoint-every 50 -o "$T/wn" "$T/codes.npy"
for f in last.safetensors best.safetensors log.tsv loss.png run.json; do
	check "wavenet: RUNDIR has $f" test -s "$T/wn/$f"
done
check "wavenet: training and validation loss fall by more than a bit" $PY -c '
import sys
rows = [l.split("\t") for l in open(sys.argv[1])][1:]
assert [r[0] for r in rows] == ["50", "100", "150", "200"], rows
print(rows[0][2], rows[-1][2], rows[0][3], rows[-1][3])
assert float(rows[-1][2]) < float(rows[0][2]) - 1, rows
assert float(rows[-1][3]) < float(rows[0][3]) - 1, rows' "$T/wn/log.tsv"
check "wavenet: checkpoint metadata (architecture, defaults eps 1e-4 and no clipping), no carried state" $PY -c '
import json, struct, sys
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]; h = json.loads(f.read(n))
m = h["__metadata__"]
assert m["format"] == "sharks" and m["model"] == "wavenet" and m["dilations"] == "1,2,4,8", m
assert m["residual_channels"] == "8" and m["dilation_channels"] == "8" and m["skip_channels"] == "16"
assert m["n_out"] == "256" and m["batch"] == "4" and m["receptive_field"] == "17" and m["history"] == "17"
assert float(m["adam_eps"]) == 1e-4 and m["clip"] == "none" and float(m["lr"]) == 1e-3
assert m["step"] == "200" and len(m["rng"]) == 64 and len(m["data_lanes"].split(",")) == 4
names = [k for k in h if k != "__metadata__"]
assert "train.state" not in names and "causal.weight" in names and "post2.bias" in names, names
assert "adam.m.filt.3.weight" in names and "adam.v.skip.0.weight" in names, names' "$T/wn/last.safetensors"
check "wavenet: run.json describes the model" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["model"]["type"] == "wavenet" and d["model"]["dilations"] == [1, 2, 4, 8], d["model"]
assert d["model"]["receptive_field"] == 17 and d["parameters"] > 0 and d["ended"] == "steps"' "$T/wn/run.json"
check "wavenet: 120 steps straight" $Q $WN --steps 120 --checkpoint-every 40 -o "$T/wn120" "$T/codes.npy"
check "wavenet: 80 steps" $Q $WN --steps 80 --checkpoint-every 40 -o "$T/wnres" "$T/codes.npy"
check "wavenet: resumed to 120 (model options from the checkpoint)" \
	$Q --threads 1 --steps 120 --checkpoint-every 40 --resume "$T/wnres" -o "$T/wnres" "$T/codes.npy"
check "wavenet: resume is exact: last.safetensors identical to the straight run's" \
	cmp "$T/wn120/last.safetensors" "$T/wnres/last.safetensors"
check "wavenet: the same run again" $Q $WN --steps 120 --checkpoint-every 40 -o "$T/wn120b" "$T/codes.npy"
check "... gives the same bytes" cmp "$T/wn120/last.safetensors" "$T/wn120b/last.safetensors"
check "wavenet: resume between checkpoints (50 → 120) is exact too" sh -c "
	$Q $WN --steps 50 --checkpoint-every 40 -o '$T/wnmid' '$T/codes.npy' 2>/dev/null &&
	$Q --threads 1 --steps 120 --checkpoint-every 40 --resume '$T/wnmid' -o '$T/wnmid' '$T/codes.npy' 2>/dev/null &&
	cmp '$T/wn120/last.safetensors' '$T/wnmid/last.safetensors'"
cp "$T/wnres/last.safetensors" "$T/wnres.before"
fails_with "wavenet: resume with other dilations is refused" 1 \
	"another architecture: dilations 1,2,4,8 in the checkpoint, 1,2,4 asked" \
	$Q --dilations 1,2,4 --steps 130 --resume "$T/wnres" -o "$T/wnres" "$T/codes.npy"
fails_with "wavenet: resume with other skip channels is refused" 1 \
	"another architecture: skip channels 16 in the checkpoint, 32 asked" \
	$Q --skip-channels 32 --steps 130 --resume "$T/wnres" -o "$T/wnres" "$T/codes.npy"
fails_with "wavenet: resume as SampleRNN is refused" 1 \
	"another architecture: model wavenet in the checkpoint, samplernn asked" \
	$Q --model samplernn --steps 130 --resume "$T/wnres" -o "$T/wnres" "$T/codes.npy"
fails_with "SampleRNN checkpoint resumed as WaveNet is refused" 1 \
	"another architecture: model samplernn in the checkpoint, wavenet asked" \
	$Q --model wavenet --steps 70 --resume "$T/res" -o "$T/res" "$T/codes.npy"
check "... and the checkpoints are left as they were" cmp "$T/wnres.before" "$T/wnres/last.safetensors"
fails_with "wavenet: a SampleRNN option is a usage error" 2 "--dim is a SampleRNN option" \
	$Q $WN --dim 32 -o "$T/wnbad" "$T/codes.npy"
fails_with "... naming WaveNet's own options, from the option table" 2 \
	"\(WaveNet's own: --dilations, --residual-channels, --dilation-channels, --skip-channels, --n-out, --input, --initial-width\)" \
	$Q $WN --rnn gru -o "$T/wnbad" "$T/codes.npy"
fails_with "samplernn: a WaveNet option is a usage error" 2 "--dilations is a WaveNet option" \
	$Q $TINY --dilations 1,2 -o "$T/wnbad" "$T/codes.npy"
fails_with "wavenet: unknown preset" 2 "unknown WaveNet preset 'small'" \
	$Q --model wavenet --preset small -o "$T/wnbad" "$T/codes.npy"
fails_with "wavenet: bad --dilations" 2 "dilations '1,x'" $Q $WN --dilations 1,x -o "$T/wnbad" "$T/codes.npy"
fails_with "wavenet: bad --model" 2 "expected samplernn or wavenet" $Q --model lstm -o "$T/wnbad" "$T/codes.npy"
fails_with "wavenet: records shorter than one window of n_out" 1 "shorter than one window of 2048" \
	$Q $WN --n-out 2048 -o "$T/wnbad" "$T/codes.npy"
check "... no run directory" nothing wnbad
check "wavenet: --sample-every writes clips" $Q $WN --steps 20 --checkpoint-every 20 --sample-every 20 \
	--sample-count 2 --sample-seconds 0.25 -o "$T/wnsmp" "$T/codes.npy"
check "... the training is the same as without clips" sh -c "
	$Q $WN --steps 20 --checkpoint-every 20 -o '$T/wn20' '$T/codes.npy' 2>/dev/null &&
	cmp '$T/wn20/last.safetensors' '$T/wnsmp/last.safetensors'"
if [ -x "$BIN/qsample" ]; then
	check "... and the clips are what qsample makes of the checkpoint" sh -c "
		$BIN/qsample -n 2 -s 0.25 --seed 1 -t 0.95 --threads 1 -o '$T/wnqs/' '$T/wnsmp/last.safetensors' &&
		cmp '$T/wnqs/gen_000.wav' '$T/wnsmp/samples/step0000020_0.wav' &&
		cmp '$T/wnqs/gen_001.wav' '$T/wnsmp/samples/step0000020_1.wav'"
else
	skip "wavenet clips against qsample: bin/qsample not built"
fi
check "wavenet: --preset tiny (with --n-out 256 for these short records) trains" \
	$Q --model wavenet --preset tiny --n-out 256 --batch 2 --threads 1 --steps 2 -o "$T/wntiny" "$T/codes.npy"
check "... with the peer's tiny dilations" test "$(meta "$T/wntiny/last.safetensors" dilations)" = "1,2,4,8,16,32,64"
$Q $WN --checkpoint-every 100000 -o "$T/wnint" "$T/codes.npy" 2>/dev/null &
pid=$!
wait_for_file "$T/wnint/run.json"
sleep 1
kill -INT $pid
wait $pid
rc=$?
ok $([ $rc -eq 130 ] && [ -s "$T/wnint/last.safetensors" ] && echo 0 || echo 1) "wavenet: SIGINT writes last.safetensors and exits 130 (got $rc)"
step=$(meta "$T/wnint/last.safetensors" step 2>/dev/null || echo 0)
check "wavenet: the interrupted run resumes" $Q --threads 1 --steps $((step + 2)) --resume "$T/wnint" -o "$T/wnint" "$T/codes.npy"
$Q $WN --steps 200 --checkpoint-every 1 --lr 1e30 -o "$T/wnnan" "$T/codes.npy" 2>"$T/wnnan.err"
ok $([ $? -eq 1 ] && grep -q "stopping" "$T/wnnan.err" && echo 0 || echo 1) "wavenet: a diverging run stops with exit 1"

# --- WaveNet's input layers (--input embed, --input scalar): trained, described in the metadata
# and run.json, resumed exactly, refused when the options do not fit
for mode in embed scalar; do
	case $mode in embed) size="--embed 6" key=embed val=6 rf=17 shape="256,6" cshape="8,6,2" ;;
	              scalar) size="--initial-width 5" key=initial_width val=5 rf=20 shape="" cshape="8,1,5" ;; esac
	check "wavenet --input $mode: 3 steps" $Q $WN --input $mode $size --steps 3 --checkpoint-every 3 \
		-o "$T/in_$mode" "$T/codes.npy"
	check "wavenet --input $mode: metadata (input, $key $val, receptive field $rf) and tensors" $PY -c '
import json, struct, sys
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]; h = json.loads(f.read(n))
m = h["__metadata__"]
mode, key, val, rf, shape, cshape = sys.argv[2:8]
assert m["input"] == mode and m[key] == val and m["receptive_field"] == rf and m["history"] == rf, m
assert ("embed" in m) == (mode == "embed") and ("initial_width" in m) == (mode == "scalar"), m
assert h["causal.weight"]["shape"] == [int(x) for x in cshape.split(",")], h["causal.weight"]
assert ("embed.weight" in h) == (mode == "embed")
if shape:
    assert h["embed.weight"]["shape"] == [int(x) for x in shape.split(",")], h["embed.weight"]
    assert "adam.m.embed.weight" in h and "adam.v.embed.weight" in h
' "$T/in_$mode/last.safetensors" $mode $key $val $rf "$shape" $cshape
	check "wavenet --input $mode: run.json describes the input layer" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))["model"]
mode, key, val, rf = sys.argv[2:6]
other = "initial_width" if key == "embed" else "embed"
assert d["input"] == mode and d[key] == int(val) and d[other] is None and d["receptive_field"] == int(rf), d
' "$T/in_$mode/run.json" $mode $key $val $rf
	check "wavenet --input $mode: 6 steps straight" $Q $WN --input $mode $size --steps 6 --checkpoint-every 3 \
		-o "$T/in6_$mode" "$T/codes.npy"
	check "wavenet --input $mode: resumed from 3 to 6 (the input layer from the checkpoint) is exact" sh -c "
		$Q --threads 1 --steps 6 --checkpoint-every 3 --resume '$T/in_$mode' -o '$T/in_$mode' '$T/codes.npy' 2>/dev/null &&
		cmp '$T/in6_$mode/last.safetensors' '$T/in_$mode/last.safetensors'"
done
check "wavenet --input embed: embedding size R by default" $Q $WN --input embed --steps 1 -o "$T/in_e0" "$T/codes.npy"
check "... (embed 8 = residual channels)" test "$(meta "$T/in_e0/last.safetensors" embed)" = 8
check "wavenet --input scalar: initial width 32 by default (tensorflow-wavenet's)" \
	$Q $WN --input scalar --steps 1 -o "$T/in_s0" "$T/codes.npy"
check "... (receptive field 15 + 32)" test "$(meta "$T/in_s0/last.safetensors" receptive_field)" = 47
check "wavenet: one-hot checkpoints name no input size (their metadata as before)" $PY -c '
import json, struct, sys
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]; m = json.loads(f.read(n))["__metadata__"]
assert m["input"] == "onehot" and "embed" not in m and "initial_width" not in m, m
' "$T/wn/last.safetensors"
fails_with "wavenet: bad --input" 2 "--input: expected onehot, embed or scalar, got 'sparse'" \
	$Q $WN --input sparse -o "$T/inbad" "$T/codes.npy"
fails_with "wavenet: bad --embed" 2 "--embed: expected" $Q $WN --input embed --embed 0 -o "$T/inbad" "$T/codes.npy"
fails_with "wavenet: --embed too large" 2 "--embed: expected 1 to 8192" \
	$Q $WN --input embed --embed 9000 -o "$T/inbad" "$T/codes.npy"
fails_with "wavenet: --embed without --input embed" 2 "--embed: .*for --input embed \(the input is onehot\)" \
	$Q $WN --embed 4 -o "$T/inbad" "$T/codes.npy"
fails_with "wavenet: bad --initial-width" 2 "--initial-width: expected an integer" \
	$Q $WN --input scalar --initial-width 0 -o "$T/inbad" "$T/codes.npy"
fails_with "wavenet: --initial-width without --input scalar" 2 "--initial-width: for --input scalar \(the input is embed\)" \
	$Q $WN --input embed --initial-width 8 -o "$T/inbad" "$T/codes.npy"
fails_with "samplernn: --input is a WaveNet option" 2 "--input is a WaveNet option" \
	$Q $TINY --input scalar -o "$T/inbad" "$T/codes.npy"
fails_with "samplernn: --initial-width is a WaveNet option" 2 "--initial-width is a WaveNet option" \
	$Q $TINY --initial-width 4 -o "$T/inbad" "$T/codes.npy"
check "... no run directory" nothing inbad
cp "$T/in_embed/last.safetensors" "$T/in_embed.before"
fails_with "wavenet: resuming an embedded-input run with --input scalar is refused" 1 \
	"another architecture: input embed in the checkpoint, scalar asked" \
	$Q --input scalar --steps 9 --resume "$T/in_embed" -o "$T/in_embed" "$T/codes.npy"
fails_with "wavenet: resuming it with another --embed is refused" 1 \
	"another architecture: embedding size 6 in the checkpoint, 7 asked" \
	$Q --embed 7 --steps 9 --resume "$T/in_embed" -o "$T/in_embed" "$T/codes.npy"
fails_with "wavenet: resuming a scalar-input run with another --initial-width is refused" 1 \
	"another architecture: initial width 5 in the checkpoint, 6 asked" \
	$Q --initial-width 6 --steps 9 --resume "$T/in_scalar" -o "$T/in_scalar" "$T/codes.npy"
check "... and the checkpoint is left as it was" cmp "$T/in_embed.before" "$T/in_embed/last.safetensors"
set_meta "$T/in_embed/last.safetensors" "$T/inmixed.safetensors" input mixed
fails_with "wavenet: a checkpoint of an unknown input layer is refused, naming the file" 1 \
	"inmixed.safetensors: input 'mixed' in the metadata is not supported \(onehot, embed, scalar\)" \
	$Q --steps 9 --resume "$T/inmixed.safetensors" -o "$T/inmixedrun" "$T/codes.npy"

# --- a minute on real music (asc-music), when wavchunk and mulaw are built and the data is there
if [ -x "$BIN/wavchunk" ] && [ -x "$BIN/mulaw" ] && ls "$ROOT"/data/asc-music/*.mp3 >/dev/null 2>&1; then
	# 60 chunks of 4 s spread over the three tracks: 56 train, 4 valid (fast to validate)
	"$BIN/wavchunk" --parts 60 -l 4 "$ROOT"/data/asc-music/*.mp3 2>"$T/music.err" |
		"$BIN/mulaw" -o "$T/music.npy" 2>>"$T/music.err"
	check "real music: chunked and coded" test -s "$T/music.npy"
	check "real music: one minute of tiny training" $Q --preset tiny --threads 1 --minutes 1 \
		--checkpoint-every 200 -o "$T/music" "$T/music.npy"
	check "real music: validation well below 8 bits" $PY -c '
import sys
rows = [l.rstrip().split("\t") for l in open(sys.argv[1])][1:]
print("# valid bits:", " ".join("%s:%s" % (r[0], r[3]) for r in rows))
assert float(rows[-1][3]) < 6.5, rows[-1]' "$T/music/log.tsv"
	sed -n 's/^# valid/# real music valid/p' "$T/.out"
else
	skip "real music: needs bin/wavchunk, bin/mulaw and data/asc-music (make data)"
fi
# --- the options every program answers; --quantization checked at the start
std_options qtrain --seed
fails_with "--quantization banana: usage error at the start, no run directory" 2 \
	"^qtrain: --quantization: unknown quantisation 'banana' \\(mulaw, dadabots, linear\\)" \
	$Q --quantization banana -o "$T/banana" "$T/codes.npy"
check "... and nothing written" test ! -e "$T/banana"
done_testing
