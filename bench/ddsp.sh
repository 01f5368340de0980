#!/bin/sh
# ddsp-harmonic speed on one core (OMP_NUM_THREADS=1, pinned to CPU 0 when taskset exists):
# synthesis of 60 s at 16 kHz from 15000 frames of 60 harmonics and 65 noise bands, and analysis
# (YIN f0, loudness, 60 harmonic amplitudes, 65 noise bands) of 60 s of a gliding vibrato tone
# in noise. The real-time factor is the audio's duration over the time of the DSP itself, as the
# program reports it (file reading and writing excluded), by the wall clock and by the process's
# CPU time (fairer on a shared machine); whole-command wall time beside it.
# Figures only, never pass/fail.
set -e
BIN=${BIN:-bin}
PY=${PY:-/usr/bin/python3}
REF=tests/fixtures/ddsp_reference.py
T=$(mktemp -d "${TMPDIR:-/tmp}/ddsp-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1
PIN=
command -v taskset > /dev/null && PIN="taskset -c 0"

$PY $REF controls "$T/c.safetensors" 1 --frames 15000 --harmonics 60 --bands 65
$PY $REF tone "$T/tone.wav" 110 660 0.02 0.03 60

best() { # LABEL COMMAND...: best of 3 runs; prints the program's summary figures
	label=$1; shift
	bestx=0
	for i in 1 2 3; do
		t0=$(date +%s.%N)
		"$@" 2> "$T/err"
		t1=$(date +%s.%N)
		x=$(sed -n 's/.*, \([0-9.]*\)x real time.*/\1/p' "$T/err")
		xc=$(sed -n 's/.*(CPU [0-9.]* s, \([0-9.]*\)x).*/\1/p' "$T/err")
		wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
		if awk -v x="$x" -v b="$bestx" 'BEGIN { exit !(x > b) }'; then bestx=$x; bestcpu=$xc; bestwall=$wall; fi
	done
	printf '%-44s %5.0fx real time (DSP wall), %5.0fx (DSP CPU time), whole command %.2f s\n' \
		"$label" "$bestx" "$bestcpu" "$bestwall"
}
best "synth 60 s, 16 kHz, 60 harmonics, 65 bands:" $PIN "$BIN/ddsp-harmonic" synth -o "$T/out.npy" "$T/c.safetensors"
best "analyze 60 s, 16 kHz, -k 60 -b 65:" $PIN "$BIN/ddsp-harmonic" analyze -k 60 -b 65 -o "$T/a.safetensors" "$T/tone.wav"
