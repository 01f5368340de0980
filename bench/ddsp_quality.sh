#!/bin/sh
# The issue's quality judgement of trained DDSP, on instruments rendered from Debian's General
# MIDI soundfont (fluidsynth + fluid-soundfont-gm or timgm6mb-soundfont): 10 min of random
# clarinet melodies train --preset small for DDSP_QUALITY_MINUTES; then a held-out clarinet
# melody is resynthesised from its own f0 and loudness, and a violin and an alto sax playing the
# same melody are transferred (plain and --auto); each against the real clarinet by the
# multi-scale spectral distance, beside the best fixed timbre (resynth --harmonics with the
# training audio's average profile). Figures only. Runs only when DDSP_QUALITY_MINUTES is set
# (it trains for that long on every core).
set -e
BIN=${BIN:-bin}
PY=${PY:-/usr/bin/python3}
MIN=${DDSP_QUALITY_MINUTES:-}
SF=
for f in /usr/share/sounds/sf2/FluidR3_GM.sf2 /usr/share/sounds/sf2/TimGM6mb.sf2; do
	[ -f "$f" ] && { SF=$f; break; }
done
if [ -z "$MIN" ] || ! command -v fluidsynth > /dev/null || [ -z "$SF" ]; then
	echo "ddsp quality: skipped (set DDSP_QUALITY_MINUTES=15; needs fluidsynth and fluid-soundfont-gm)"
	exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/ddsp-quality.XXXXXX")
trap 'rm -rf "$T"' EXIT
MID=tests/reference/melody_midi.py
render() { # PROGRAM SEED SECONDS NAME
	$PY $MID "$1" "$2" "$3" 50 82 "$T/$4.mid"
	fluidsynth -ni -q -g 0.6 -r 16000 -F "$T/$4.wav" "$SF" "$T/$4.mid" > /dev/null 2>&1
}
for i in 1 2 3 4 5; do render 71 $i 120 train$i; done
render 71 999 30 clarinet
render 40 999 30 violin
render 65 999 30 sax
sox "$T"/train?.wav "$T/train_all.wav"
"$BIN/wavchunk" -l 4 -p 3 -o "$T/train.f4" "$T"/train?.wav 2>/dev/null
"$BIN/qtrain" --model ddsp --preset small --minutes "$MIN" --checkpoint-every 100 -o "$T/run" "$T/train.f4"
D="$BIN/ddsp-harmonic"
dist() { "$D" compare "$1" "$T/clarinet.wav" 2>/dev/null; }
for x in clarinet violin sax; do
	"$D" resynth --harmonics "$T/train_all.wav" -o "$T/fixed_$x.wav" "$T/$x.wav" 2>/dev/null
	"$D" transfer --model "$T/run/best.safetensors" -o "$T/ddsp_$x.wav" "$T/$x.wav" 2>/dev/null
	"$D" transfer --model "$T/run/best.safetensors" --auto -o "$T/auto_$x.wav" "$T/$x.wav" 2>/dev/null
	printf '%-9s -> clarinet: fixed timbre %.3f, ddsp %.3f, ddsp --auto %.3f (the %s itself %.3f)\n' "$x" \
		"$(dist "$T/fixed_$x.wav")" "$(dist "$T/ddsp_$x.wav")" "$(dist "$T/auto_$x.wav")" "$x" "$(dist "$T/$x.wav")"
done
tail -1 "$T/run/log.tsv" | awk '{ printf "after %d steps, %.0f s: train loss %.3f, valid %.3f\n", $1, $7, $3, $4 }'
