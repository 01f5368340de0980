#!/bin/sh
# DDSP training speed, ours (qtrain --model ddsp) beside the PyTorch reference of the same model
# (tests/reference/ddsp_model.py bench: the same preset, batch, example length, loss, Adam and
# clipping, float32) in the same run, both on one thread; then timbre transfer of 60 s on one
# core. Training samples/s leave out the first step (warm-up) on both sides. Figures only,
# never pass/fail. PRESETS (default "tiny small"), STEPS (C, default 8), PY_STEPS (default 3).
set -e
BIN=${BIN:-bin}
PY=${PY:-/usr/bin/python3}
REF=tests/reference/ddsp_model.py
PRESETS=${PRESETS:-tiny small}
STEPS=${STEPS:-8}
PY_STEPS=${PY_STEPS:-3}
T=$(mktemp -d "${TMPDIR:-/tmp}/ddsp-train-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
PIN=
command -v taskset > /dev/null && PIN="taskset -c 0"

# 40 s of a melody of a bright tone, cut as DDSP's recipe (4 s examples, 1 s hop)
notes="220 247 262 294 330 349 392 440 392 349 330 294 262 247 220 196"
args=
for f in $notes; do args="$args synth 2.5 sawtooth $f :"; done
sox -n -r 16000 -c 1 "$T/mel.wav" ${args%:} vol 0.5 2>/dev/null
"$BIN/wavchunk" -l 4 -p 3 -o "$T/mel.f4" "$T/mel.wav" 2>/dev/null

for p in $PRESETS; do
	rm -rf "$T/run"
	OMP_NUM_THREADS=1 $PIN "$BIN/qtrain" --model ddsp --preset "$p" --threads 1 --steps "$STEPS" \
		--checkpoint-every 100000 --sample-count 0 --split 100,0,0 -o "$T/run" "$T/mel.f4" 2> "$T/err"
	ours=$(sed -n 's/.* \([0-9]*\) samples\/s.*/\1/p' "$T/err")
	OMP_NUM_THREADS=1 $PIN $PY $REF bench --preset "$p" --steps "$PY_STEPS" --threads 1 > "$T/py"
	theirs=$(sed -n 's/.* \([0-9]*\) samples\/s.*/\1/p' "$T/py")
	printf 'train %-6s one thread: ours %8d samples/s, PyTorch %8d samples/s, ratio %.2f\n' \
		"$p" "$ours" "$theirs" "$(awk -v a="$ours" -v b="$theirs" 'BEGIN { print a / b }')"
	# transfer of 60 s with the model just trained
	sox "$T/mel.wav" "$T/mel60.wav" trim 0 60 repeat 1 2>/dev/null
	OMP_NUM_THREADS=1 $PIN "$BIN/ddsp-harmonic" transfer --model "$T/run/last.safetensors" -o "$T/out.wav" \
		"$T/mel60.wav" 2> "$T/err"
	printf 'transfer %-6s 60 s, one core: %s\n' "$p" "$(sed -n 's/.* in \(.*\)/\1/p' "$T/err")"
done
