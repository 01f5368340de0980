#!/bin/sh
# qtrain --model ddsp and ddsp-harmonic transfer: a tiny run on a synthesized melody (sox), its
# run directory, exact resume, the checkpoint's names against the PyTorch reference
# (tests/reference/ddsp_model.py), timbre transfer, and bad inputs (message, exit 1, nothing
# written).
. tests/lib.sh
Q="$BIN/qtrain"
D="$BIN/ddsp-harmonic"
W="$BIN/wavchunk"
REF="$ROOT/tests/reference/ddsp_model.py"

# an 8 s melody of a bright tone, and 4 s examples with a 1 s hop, as DDSP's recipe
sox -n -r 16000 -c 1 "$T/mel.wav" synth 1.5 sawtooth 220 : synth 1.5 sawtooth 330 : synth 1.5 sawtooth 294 \
	: synth 1.5 sawtooth 262 : synth 2 sawtooth 247 vol 0.5 2>/dev/null
"$W" -l 4 -p 3 -o "$T/mel.f4" "$T/mel.wav" 2>/dev/null
TR="--model ddsp --preset tiny --threads 1 --checkpoint-every 2"

check "--model ddsp --help prints its usage" sh -c "'$Q' --model ddsp --help | grep -q 'qtrain --model ddsp'"
check "tiny run of 4 steps" "$Q" $TR --steps 4 -o "$T/run" "$T/mel.f4"
for f in last.safetensors best.safetensors features.safetensors log.tsv loss.png run.json; do
	check "run directory holds $f" test -s "$T/run/$f"
done
check "log.tsv: spectral loss columns, a row per checkpoint" \
	sh -c "head -1 '$T/run/log.tsv' | grep -q 'train_loss	valid_loss' && test \$(wc -l < '$T/run/log.tsv') -eq 3"
check "run.json names the model" grep -q '"type": "ddsp"' "$T/run/run.json"
check "clips: resynthesis of held-out examples beside the real ones" \
	sh -c "test -s '$T/run/samples/step0000004_0.wav' && test -s '$T/run/samples/real_0.wav'"
check "checkpoint loads into the PyTorch reference (strict names and shapes)" \
	$PY "$REF" check "$T/run/last.safetensors" "$T/run/features.safetensors"

"$Q" $TR --steps 2 -o "$T/half" "$T/mel.f4" 2>/dev/null
check "resume continues" "$Q" --resume "$T/half" --steps 4 --checkpoint-every 2 -o "$T/half" "$T/mel.f4"
check "resumed run = straight run, byte for byte" cmp "$T/run/last.safetensors" "$T/half/last.safetensors"
fails_with "an existing run is not overwritten" 1 "already holds a run" "$Q" $TR --steps 1 -o "$T/run" "$T/mel.f4"
fails_with "resume with another preset: refused" 1 "another architecture" \
	"$Q" --resume "$T/run" --preset small --steps 5 -o "$T/run" "$T/mel.f4"

# a few more steps learn something: the loss goes down
"$Q" --model ddsp --preset tiny --threads 1 --checkpoint-every 10 --steps 40 --lr 3e-3 -o "$T/learn" "$T/mel.f4" 2>/dev/null
check "40 steps lower the training loss" awk 'NR == 2 { a = $3 } END { exit !($3 < a) }' "$T/learn/log.tsv"

# --- transfer ---
check "transfer runs" "$D" transfer --model "$T/learn/last.safetensors" -o "$T/out.wav" "$T/mel.wav"
check "transfer keeps the input's length" sh -c "test \$(soxi -s '$T/out.wav') -eq \$(soxi -s '$T/mel.wav')"
"$D" transfer --model "$T/learn/last.safetensors" -o "$T/out2.wav" "$T/mel.wav" 2>/dev/null
check "same input and seed: same bytes" cmp "$T/out.wav" "$T/out2.wav"
check "--pitch, --loudness-db and --auto" "$D" transfer --model "$T/learn/last.safetensors" --pitch -12 \
	--loudness-db 6 --auto -o "$T/out3.npy" "$T/mel.wav"
check "transfer is closer to its own training melody than silence is" sh -c "
	a=\$('$D' compare '$T/out.wav' '$T/mel.wav'); sox -n -r 16000 '$T/sil.wav' trim 0 8
	b=\$('$D' compare '$T/sil.wav' '$T/mel.wav'); awk -v a=\$a -v b=\$b 'BEGIN { exit !(a < b) }'"

# --- pipelines/ddsp.mk ---
mkdir -p "$T/inst" && cp "$T/mel.wav" "$T/inst/a.wav"
timbre() { make --no-print-directory -C "$ROOT" timbre INSTRUMENT="$T/inst" MELODY="$T/mel.wav" DDSP_WORK="$T/work" \
	DDSP_PRESET=tiny DDSP_MINUTES=0.03 DDSP_TRAIN_FLAGS=--threads=1 "$@" > "$T/make.out" 2>&1; }
check "make timbre: trains and plays the melody" timbre
check "the melody played, with its length" sh -c "test \$(soxi -s '$T/work/mel-played.wav') -eq \$(soxi -s '$T/mel.wav')"
timbre
check "make timbre again: nothing redone" sh -c "! grep -q 'qtrain\\|transfer --model' '$T/make.out'"
timbre DDSP_TRANSFER_FLAGS=--pitch=12
check "another transfer setting: played again, not trained again" \
	sh -c "grep -q 'transfer --model' '$T/make.out' && ! grep -q qtrain '$T/make.out'"
rm "$T/work/run/.done"
timbre DDSP_TRANSFER_FLAGS=--pitch=12
check "an unfinished run is continued (--resume)" grep -q -- "--resume" "$T/make.out"

# --- bad input: a message, exit 1, nothing written ---
"$W" -l 1 -p 0 -o "$T/short.f4" "$T/mel.wav" 2>/dev/null
fails_with "records shorter than one example" 1 "too short for one example" \
	"$Q" --model ddsp --preset small --steps 1 -o "$T/bad1" "$T/short.f4"
$PY -c "
import numpy as np, sys
with open(sys.argv[1], 'wb') as f:
    for i in range(3): np.save(f, np.zeros(64000, np.float32))
" "$T/silence.f4"
fails_with "silence only" 1 "silence only" "$Q" $TR --steps 1 -o "$T/bad2" "$T/silence.f4"
sox -n -r 16000 "$T/noise.wav" synth 5 whitenoise vol 0.5 2>/dev/null
"$W" -l 4 -p 3 -o "$T/noise.f4" "$T/noise.wav" 2>/dev/null
fails_with "no voiced frames" 1 "no voiced frames" "$Q" $TR --steps 1 -o "$T/bad3" "$T/noise.f4"
check "nothing written for them" sh -c "! ls -d '$T'/bad1 '$T'/bad2 '$T'/bad3 2>/dev/null"
fails_with "transfer: a checkpoint of another model" 1 "not a DDSP checkpoint" \
	"$D" transfer --model "$ROOT/tests/fixtures/wavenet_peer.safetensors" -o "$T/bad.wav" "$T/mel.wav"
fails_with "transfer: no voiced frames" 1 "no voiced frames" \
	"$D" transfer --model "$T/run/last.safetensors" -o "$T/bad.wav" "$T/noise.wav"
fails_with "transfer: a file that is not a checkpoint" 1 "ddsp-harmonic: .*mel.wav" \
	"$D" transfer --model "$T/mel.wav" -o "$T/bad.wav" "$T/mel.wav"
check "no output for them" test ! -e "$T/bad.wav"
fails_with "transfer without --model: usage error" 2 "needs --model" "$D" transfer -o "$T/bad.wav" "$T/mel.wav"
# the program conventions hold on the DDSP path too: -q says nothing, a run directory in use
# by another qtrain is refused (flock(1) holds the lock qtrain takes)
"$Q" $TR --steps 2 -q -o "$T/quiet" "$T/mel.f4" 2>"$T/quiet.err"
ok $? "-q: trains"
check "... and says nothing" test ! -s "$T/quiet.err"
mkdir -p "$T/held"
flock "$T/held/.lock" sleep 30 &
hold=$!
i=0   # until flock(1) holds it
while flock -n "$T/held/.lock" true 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
fails_with "a run directory in use by another qtrain: exit 1" 1 "in use by another qtrain" \
	"$Q" $TR --steps 2 -o "$T/held" "$T/mel.f4"
kill $hold 2>/dev/null
done_testing
